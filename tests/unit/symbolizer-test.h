/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolizer-test.h — helpers shared by the symbolizer unit tests: checks
 * that report the failing expression and go on (the test fails at the end),
 * running a tool (addr2line, nm, readelf) and reading its first output
 * line (a symbol's value and size from nm), writing a small file, and
 * spawning a fixture child that prints addresses and then waits
 * for its stdin to close. Header-only so each test stays one executable.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolizer.h"

static int test_failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			test_failures++;                                     \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                     \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\" (%s vs %s)\n", \
				__FILE__, __LINE__, a_ ? a_ : "(null)",      \
				b_ ? b_ : "(null)", #a, #b);                 \
			test_failures++;                                     \
		}                                                            \
	} while (0)

static inline int test_exit(void)
{
	if (test_failures)
		fprintf(stderr, "%d check(s) failed\n", test_failures);
	return test_failures ? 1 : 0;
}

static inline void test_print_frame(const char *what, const struct sym_frame *f)
{
	fprintf(stderr, "%s: addr=0x%" PRIx64 " name=%s module=%s off=0x%" PRIx64
		" build_id=%s miss=%s\n", what, f->addr, f->name, f->module,
		f->offset, f->build_id ? f->build_id : "-", sym_miss_name(f->miss));
}

/*
 * Runs a shell command and returns the first line of its output (without
 * the newline) in buf, or "" if there is none.
 */
__attribute__((format(printf, 3, 4)))
static inline const char *test_run(char *buf, size_t size, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return buf;
	if (!fgets(buf, (int)size, p))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pclose(p);
	return buf;
}

/* Value and size of symbol name in bin, from nm -S: 0, or -1 when nm
 * prints no such symbol. */
static inline int test_nm_symbol(const char *bin, const char *name, uint64_t *ret_addr,
				 uint64_t *ret_size)
{
	char buf[256];

	test_run(buf, sizeof(buf), "nm -S '%s' | awk '$4 == \"%s\" { print $1, $2 }'",
		 bin, name);
	if (sscanf(buf, "%" SCNx64 " %" SCNx64, ret_addr, ret_size) != 2)
		return -1;
	return 0;
}

/* Writes text to the file rel under dir (created or truncated; CHECKed). */
static inline void test_put(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

/* argv paths from meson are relative to the build dir; maps shows them
 * absolute. Returns a static absolute copy (one per call site is enough). */
static inline char *test_abs(const char *path)
{
	char *p = realpath(path, NULL);

	if (!p) {
		fprintf(stderr, "%s: no such file\n", path);
		exit(1);
	}
	return p;
}

struct test_child {
	pid_t pid;
	int stdin_fd;
	uint64_t addrs[4];
	int n_addrs;
};

/* Forks a child that runs path (once a byte can be read from gate_fd, when
 * it is not -1); *ret_out reads its stdout. Returns 0 or -1. */
static inline int test_child_spawn(const char *path, struct test_child *c,
				   int gate_fd, FILE **ret_out)
{
	int in[2], out[2];

	/* close-on-exec, or a second child would hold the first one's stdin */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		char go;

		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (gate_fd >= 0 && read(gate_fd, &go, 1) != 1)
			_exit(126);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->stdin_fd = in[1];
	*ret_out = fdopen(out[0], "r");
	return *ret_out ? 0 : -1;
}

/* Reads the line of addresses the child prints, and closes f. */
static inline int test_child_addrs(struct test_child *c, FILE *f)
{
	char line[512], *p, *end;

	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	c->n_addrs = 0;
	for (p = line; c->n_addrs < 4; p = end) {
		uint64_t v = strtoull(p, &end, 16);

		if (end == p)
			break;
		c->addrs[c->n_addrs++] = v;
	}
	return c->n_addrs > 0 ? 0 : -1;
}

/* Starts path, reads the line of addresses it prints. Returns 0 or -1. */
static inline int test_child_start(const char *path, struct test_child *c)
{
	FILE *f;

	if (test_child_spawn(path, c, -1, &f) < 0)
		return -1;
	return test_child_addrs(c, f);
}

/* Closes the child's stdin and reaps it. */
static inline void test_child_stop(struct test_child *c)
{
	int status;

	close(c->stdin_fd);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
}
