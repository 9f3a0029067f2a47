/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolize_bench.c — the symbolizer benchmark's driver (run by
 * bench/symbolize): starts a non-PIE binary that waits on its stdin (so its
 * run-time addresses are its link-time ones), reads hex addresses, one per
 * line, and resolves each through a fresh sym_session with
 * sym_session__user_frames() (function, file:line and every inlined frame),
 * writing them as "addr2line -a -f -i" does (0xADDR, then function and
 * file:line per frame, innermost first). With --passes N > 1 the same
 * addresses are resolved again N - 1 times in the same session (warm:
 * caches populated) and the best warm pass is reported (wall and CPU
 * time). Prints one line of figures: cold and warm seconds, binaries and
 * their memory.
 *
 * Usage: symbolize_bench [--passes N] BINARY ADDRS OUT
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "symbolizer.h"

#define MAX_FRAMES 32

/* Every frame of every address, as text, into out (a growing buffer). */
struct out {
	char *buf;
	size_t len, cap;
};

/* Appending by hand: printf-style formatting would cost more than a
 * cached lookup, and the peers' output is written as plainly. */
static int out_room(struct out *o, size_t need)
{
	if (o->cap - o->len < need) {
		size_t cap = MAX(o->cap ? o->cap * 2 : (size_t)1 << 20, o->len + need);
		char *p = realloc(o->buf, cap);

		if (!p)
			return -ENOMEM;
		o->buf = p;
		o->cap = cap;
	}
	return 0;
}

static int out_str(struct out *o, const char *str, char end)
{
	size_t n = strlen(str);

	if (out_room(o, n + 1) < 0)
		return -ENOMEM;
	memcpy(o->buf + o->len, str, n);
	o->buf[o->len + n] = end;
	o->len += n + 1;
	return 0;
}

/* v as 16 hex digits, then end */
static int out_hex16(struct out *o, uint64_t v, char end)
{
	if (out_room(o, 17) < 0)
		return -ENOMEM;
	for (int i = 15; i >= 0; i--, v >>= 4)
		o->buf[o->len + (size_t)i] = "0123456789abcdef"[v & 15];
	o->buf[o->len + 16] = end;
	o->len += 17;
	return 0;
}

/* v in decimal, then end */
static int out_dec(struct out *o, uint64_t v, char end)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (out_room(o, n + 1) < 0)
		return -ENOMEM;
	while (n)
		o->buf[o->len++] = tmp[--n];
	o->buf[o->len++] = end;
	return 0;
}

static int pass(struct sym_session *s, pid_t pid, const uint64_t *addrs, size_t n,
		struct out *o)
{
	struct sym_frame f[MAX_FRAMES];

	o->len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nf = 0;

		if (sym_session__user_frames(s, pid, addrs[i], f, MAX_FRAMES, &nf) < 0 ||
		    out_str(o, "0x", '\0') < 0)
			return -ENOMEM;
		o->len--;
		if (out_hex16(o, addrs[i], '\n') < 0)
			return -ENOMEM;
		for (size_t k = 0; k < nf; k++)
			if (out_str(o, f[k].miss == SYM_MISS_NONE ? f[k].name : "??", '\n') < 0 ||
			    out_str(o, f[k].file ? f[k].file : "??", ':') < 0 ||
			    out_dec(o, f[k].file ? f[k].line : 0, '\n') < 0)
				return -ENOMEM;
	}
	return 0;
}

static int read_addrs(const char *path, uint64_t **ret, size_t *ret_n)
{
	FILE *f = fopen(path, "r");
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	char line[64];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (n == cap) {
			uint64_t *p = reallocarray(v, cap = cap ? cap * 2 : 4096, sizeof(*v));

			if (!p) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = p;
		}
		v[n++] = strtoull(line, NULL, 16);
	}
	fclose(f);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* CPU time of this process: warm passes are compared on it as well, since
 * other jobs on the machine stretch wall time. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* True when pid sits in read(2) (x86-64 syscall 0): the target blocks
 * there on its stdin once ld.so has mapped its libraries. Unreadable
 * (not root): assumed true, the mapping check alone decides. */
static bool target_reading(pid_t pid)
{
	char path[64], buf[32];
	FILE *f;
	bool reading;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	reading = !fgets(buf, sizeof(buf), f) || strncmp(buf, "0 ", 2) == 0;
	fclose(f);
	return reading;
}

/* Waits (up to about 10 s) until pid has an executable mapping of path
 * and waits on its stdin. */
static bool target_mapped(pid_t pid, const char *path)
{
	char maps[64], line[PATH_MAX + 128];
	size_t plen = strlen(path);

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	for (int i = 0; i < 10000; i++) {
		FILE *f = fopen(maps, "r");
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f)) {
			size_t len = strcspn(line, "\n");

			line[len] = '\0';
			found = strstr(line, " r-xp ") && len >= plen &&
				strcmp(line + len - plen, path) == 0;
		}
		if (f)
			fclose(f);
		if (found && target_reading(pid))
			return true;
		usleep(1000);
	}
	return false;
}

int main(int argc, char **argv)
{
	struct sym_session *s = NULL;
	struct out o = { 0 };
	struct sym_stats st;
	uint64_t *addrs = NULL, t0, cold_ns, warm_ns = UINT64_MAX, warm_cpu_ns = UINT64_MAX;
	size_t n = 0;
	unsigned passes = 1;
	int in[2], status, argi = 1;
	char want[PATH_MAX];
	pid_t child;
	FILE *f;

	if (argc > 2 && strcmp(argv[1], "--passes") == 0) {
		passes = (unsigned)atoi(argv[2]);
		argi = 3;
	}
	if (argc - argi != 3 || passes < 1) {
		fprintf(stderr, "usage: %s [--passes N] BINARY ADDRS OUT\n", argv[0]);
		return 2;
	}
	if (read_addrs(argv[argi + 1], &addrs, &n) < 0 || n == 0) {
		fprintf(stderr, "symbolize_bench: cannot read addresses from %s\n", argv[argi + 1]);
		return 1;
	}
	/* the target waits for its stdin to close before doing anything */
	if (pipe(in) < 0 || (child = fork()) < 0) {
		perror("symbolize_bench: fork");
		return 1;
	}
	if (child == 0) {
		dup2(in[0], 0);
		close(in[1]);
		execl(argv[argi], argv[argi], (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	/* Exec done once /proc/PID/maps shows the target's code and it waits
	 * on stdin: its exe link changes before the kernel maps its segments,
	 * and a loaded machine was seen to symbolize in between (every address
	 * unnamed); ld.so maps libc later still (the count of binaries, and
	 * so the memory per binary, varied from run to run). */
	if (!realpath(argv[argi], want) || !target_mapped(child, want)) {
		fprintf(stderr, "symbolize_bench: %s did not start\n", argv[argi]);
		kill(child, SIGKILL);
		return 1;
	}

	t0 = common_now_ns();
	if (sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) < 0 ||
	    pass(s, child, addrs, n, &o) < 0) {
		fprintf(stderr, "symbolize_bench: out of memory\n");
		return 1;
	}
	cold_ns = common_now_ns() - t0;
	for (unsigned p = 1; p < passes; p++) {
		uint64_t w0 = common_now_ns(), c0 = cpu_ns(), w, c;

		if (pass(s, child, addrs, n, &o) < 0)
			return 1;
		w = common_now_ns() - w0;
		c = cpu_ns() - c0;
		warm_ns = MIN(warm_ns, w);
		warm_cpu_ns = MIN(warm_cpu_ns, c);
	}
	sym_session__stats(s, &st);
	close(in[1]);
	waitpid(child, &status, 0);

	f = fopen(argv[argi + 2], "w");
	if (!f || fwrite(o.buf, 1, o.len, f) != o.len || fclose(f) != 0) {
		fprintf(stderr, "symbolize_bench: cannot write %s\n", argv[argi + 2]);
		return 1;
	}
	printf("addresses=%zu cold_s=%.6f warm_s=%.6f warm_cpu_s=%.6f binaries=%" PRIu64
	       " binary_memory=%" PRIu64 " frames=%" PRIu64 " with_line=%" PRIu64 "\n",
	       n, cold_ns / 1e9, passes > 1 ? warm_ns / 1e9 : 0.0,
	       passes > 1 ? warm_cpu_ns / 1e9 : 0.0, st.binaries,
	       st.binary_memory, st.frames, st.with_line);
	sym_session__free(s);
	free(o.buf);
	free(addrs);
	return 0;
}
