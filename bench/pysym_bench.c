/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pysym_bench.c — what naming a frame costs, Python against native (run by
 * bench/python): starts a CPython (default Debian's /usr/bin/python3.11)
 * that compiles N functions of a generated file and prints, for each, its
 * code object's address and identity (the fields ember_py_ident() mixes,
 * as the sampler's walk reads them) and up to K instruction indexes spread
 * over its body, then waits on its stdin. In one sym_session each, it then
 * names:
 *
 *   python  N*K frames, sym_session__python_frame() (code object read from
 *           the process's memory once, line from its decoded table);
 *   native  N*K addresses spread over the interpreter's own code, with
 *           sym_session__user_frames() (function, file:line, inlined
 *           frames: python3.11-dbg's DWARF).
 *
 * For each: setup (sym_session__python() finding the interpreter and its
 * offsets; the first native address, which loads the binary's symbols and
 * DWARF), cold (every frame named the first time, after setup), warm (the
 * same frames again, best of --passes). CPU time of this process
 * (process_vm_readv's time in the kernel included), and wall time. Every
 * Python frame must come back with its function's name and a line of it,
 * or the run fails; native addresses without a name (PLT stubs, padding)
 * are counted.
 *
 * Usage: pysym_bench [--python PATH] [--functions N] [--per K] [--passes P]
 *                    [--no-debug]
 * Prints "key=value" lines (bench/python reads them).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* The child: N functions of 12-30 lines in one generated file. */
static const char script[] =
	"import sys\n"
	"n, per = int(sys.argv[1]), int(sys.argv[2])\n"
	"src = []\n"
	"for i in range(n):\n"
	"    src.append(f'def f_{i}(a, b):')\n"
	"    for k in range(12 + i % 19):\n"
	"        src.append(f'    a = a * {k + 1} + b if a < {1000 + k} else a - b')\n"
	"    src.append('    return a')\n"
	"ns = {}\n"
	"exec(compile('\\n'.join(src) + '\\n', '/bench/generated_functions.py', 'exec'), ns)\n"
	"out = []\n"
	"for i in range(n):\n"
	"    co = ns[f'f_{i}'].__code__\n"
	"    at = sorted({s // 2 for s, e, ln in co.co_lines() if ln is not None})\n"
	"    pick = [at[j * len(at) // per] for j in range(min(per, len(at)))]\n"
	"    out.append(f'{id(co)} {id(co.co_filename)} {id(co.co_qualname)} '\n"
	"               f'{id(co.co_linetable)} {co.co_firstlineno} ' + ' '.join(map(str, pick)))\n"
	"print('\\n'.join(out))\n"
	"print('END', flush=True)\n"
	"sys.stdin.readline()\n";

struct pyframe {
	uint64_t code, ident;
	int32_t lasti;
	unsigned fn;
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct clock2 {
	uint64_t cpu, wall;
};

static struct clock2 now2(void)
{
	return (struct clock2){ cpu_ns(), wall_ns() };
}

static struct clock2 since(struct clock2 a)
{
	struct clock2 b = now2();

	return (struct clock2){ b.cpu - a.cpu, b.wall - a.wall };
}

/* The executable mapping of the interpreter in pid: [lo, hi). */
static int text_of(pid_t pid, uint64_t *lo, uint64_t *hi)
{
	char path[64], exe[4096], line[4096 + 128];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		char perms[8];
		int at = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &a, &b, perms, &at) >= 3 && at &&
		    !strcmp(perms, "r-xp") && !strcmp(line + at, exe)) {
			*lo = a;
			*hi = b;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

static void usage(void)
{
	fprintf(stderr, "usage: pysym_bench [--python PATH] [--functions N] [--per K] "
			"[--passes P] [--no-debug]\n");
}

int main(int argc, char **argv)
{
	const char *python = "/usr/bin/python3.11";
	unsigned n_fn = 2000, per = 4, passes = 5;
	bool no_debug = false;
	struct sym_options opts = { .no_kernel = true };
	struct sym_session *sp = NULL, *sn = NULL;
	struct pyframe *pf = NULL;
	uint64_t *addrs = NULL, lo = 0, hi = 0;
	size_t n_pf = 0, cap = 0, n_native_frames = 0, native_unnamed = 0;
	struct clock2 t, py_setup, py_cold, py_warm = { UINT64_MAX, UINT64_MAX };
	struct clock2 nat_setup, nat_cold, nat_warm = { UINT64_MAX, UINT64_MAX };
	struct sym_python info;
	struct sym_frame f, nf[MAX_FRAMES];
	char nbuf[16], pbuf[16], line[4096];
	int to[2], from[2], bad = 0;
	unsigned fn_i = 0;
	pid_t pid;
	FILE *out;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--python") && i + 1 < argc) {
			python = argv[++i];
		} else if (!strcmp(argv[i], "--functions") && i + 1 < argc) {
			n_fn = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--per") && i + 1 < argc) {
			per = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
			passes = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--no-debug")) {
			no_debug = true;
		} else {
			usage();
			return 2;
		}
	}
	if (!n_fn || !per || !passes || n_fn > 1000000 || per > 64) {
		usage();
		return 2;
	}
	if (no_debug)
		opts.debug_dir = "";

	snprintf(nbuf, sizeof(nbuf), "%u", n_fn);
	snprintf(pbuf, sizeof(pbuf), "%u", per);
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		return perror("pipe"), 1;
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execl(python, python, "-c", script, nbuf, pbuf, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	out = fdopen(from[0], "r");
	while (out && fgets(line, sizeof(line), out) && strncmp(line, "END", 3)) {
		unsigned long long a, fn, qn, lt;
		unsigned first;
		int used = 0;
		char *p = line;

		if (sscanf(p, "%llu %llu %llu %llu %u%n", &a, &fn, &qn, &lt, &first, &used) != 5)
			break;
		p += used;
		for (;;) {
			long v = strtol(p, &p, 10);

			if (*p != ' ' && *p != '\n' && *p != '\0')
				break;
			if (n_pf == cap) {
				struct pyframe *np = reallocarray(pf, cap = cap ? 2 * cap : 4096,
								  sizeof(*pf));

				if (!np)
					return perror("malloc"), 1;
				pf = np;
			}
			pf[n_pf++] = (struct pyframe){ a, ember_py_ident(fn, qn, lt, first),
						       (int32_t)v, fn_i };
			while (*p == ' ')
				p++;
			if (*p == '\n' || *p == '\0')
				break;
		}
		fn_i++;
	}
	if (n_pf == 0) {
		fprintf(stderr, "%s gave no code objects\n", python);
		kill(pid, SIGKILL);
		return 1;
	}
	if (text_of(pid, &lo, &hi) < 0) {
		fprintf(stderr, "no executable mapping of %s in %d\n", python, (int)pid);
		kill(pid, SIGKILL);
		return 1;
	}
	/* Native addresses: as many, spread over the interpreter's code. */
	addrs = calloc(n_pf, sizeof(*addrs));
	if (!addrs)
		return perror("malloc"), 1;
	for (size_t i = 0; i < n_pf; i++)
		addrs[i] = lo + (uint64_t)((double)(hi - lo) * ((double)i + 0.37) / (double)n_pf);

	/* Python. */
	if (sym_session__new(&opts, &sp) < 0 || sym_session__new(&opts, &sn) < 0)
		return fprintf(stderr, "sym_session__new failed\n"), 1;
	t = now2();
	if (sym_session__python(sp, pid, 0, &info) < 0 || !info.supported) {
		fprintf(stderr, "%s: not a CPython Ember walks\n", python);
		kill(pid, SIGKILL);
		return 1;
	}
	py_setup = since(t);
	for (unsigned pass = 0; pass <= passes; pass++) {
		t = now2();
		for (size_t i = 0; i < n_pf; i++)
			if (sym_session__python_frame(sp, pid, pf[i].code, pf[i].ident, pf[i].lasti,
						      &f) < 0)
				return fprintf(stderr, "out of memory\n"), 1;
		if (pass == 0) {
			py_cold = since(t);
		} else {
			struct clock2 w = since(t);

			py_warm.cpu = MIN(py_warm.cpu, w.cpu);
			py_warm.wall = MIN(py_warm.wall, w.wall);
		}
	}
	/* Checked outside the timing: every frame named as its function. */
	for (size_t i = 0; i < n_pf; i++) {
		char want[32];

		sym_session__python_frame(sp, pid, pf[i].code, pf[i].ident, pf[i].lasti, &f);
		snprintf(want, sizeof(want), "f_%u", pf[i].fn);
		if (f.miss != SYM_MISS_NONE || strcmp(f.name, want) || !f.line) {
			if (bad++ < 5)
				fprintf(stderr, "python frame %zu: %s line %u, want %s\n", i, f.name,
					f.line, want);
		}
	}

	/* Native. */
	t = now2();
	if (sym_session__user_frames(sn, pid, addrs[0], nf, MAX_FRAMES, &n_native_frames) < 0)
		return fprintf(stderr, "out of memory\n"), 1;
	nat_setup = since(t);
	for (unsigned pass = 0; pass <= passes; pass++) {
		size_t frames = 0;

		t = now2();
		for (size_t i = 0; i < n_pf; i++) {
			size_t k = 0;

			if (sym_session__user_frames(sn, pid, addrs[i], nf, MAX_FRAMES, &k) < 0)
				return fprintf(stderr, "out of memory\n"), 1;
			frames += k;
			/* (PLT stubs and padding have no name) */
			if (pass == 0 && nf[k - 1].miss != SYM_MISS_NONE)
				native_unnamed++;
		}
		if (pass == 0) {
			nat_cold = since(t);
			n_native_frames = frames;
		} else {
			struct clock2 w = since(t);

			nat_warm.cpu = MIN(nat_warm.cpu, w.cpu);
			nat_warm.wall = MIN(nat_warm.wall, w.wall);
		}
	}

	printf("python=%s\nfrom_debug_info=%d\nfunctions=%u\nframes=%zu\nnative_frames=%zu\n",
	       python, info.from_debug_info, n_fn, n_pf, n_native_frames);
	printf("py_setup_cpu_ns=%" PRIu64 "\npy_setup_wall_ns=%" PRIu64 "\n", py_setup.cpu,
	       py_setup.wall);
	printf("py_cold_cpu_ns=%" PRIu64 "\npy_cold_wall_ns=%" PRIu64 "\n", py_cold.cpu,
	       py_cold.wall);
	printf("py_warm_cpu_ns=%" PRIu64 "\npy_warm_wall_ns=%" PRIu64 "\n", py_warm.cpu,
	       py_warm.wall);
	printf("native_setup_cpu_ns=%" PRIu64 "\nnative_setup_wall_ns=%" PRIu64 "\n",
	       nat_setup.cpu, nat_setup.wall);
	printf("native_cold_cpu_ns=%" PRIu64 "\nnative_cold_wall_ns=%" PRIu64 "\n", nat_cold.cpu,
	       nat_cold.wall);
	printf("native_warm_cpu_ns=%" PRIu64 "\nnative_warm_wall_ns=%" PRIu64 "\n", nat_warm.cpu,
	       nat_warm.wall);
	printf("native_unnamed=%zu\nbad=%d\n", native_unnamed, bad);

	if (write(to[1], "\n", 1) != 1)
		kill(pid, SIGKILL);
	close(to[1]);
	fclose(out);
	waitpid(pid, NULL, 0);
	sym_session__free(sp);
	sym_session__free(sn);
	free(pf);
	free(addrs);
	return bad ? 1 : 0;
}
