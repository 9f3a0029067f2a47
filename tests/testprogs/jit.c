/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jit.c — a stand-in for a JIT compiler: it writes two small functions of
 * machine code into anonymous executable memory (as V8, the JVM or LuaJIT
 * do), calls them in the ratio 3:1, and, like node --perf-basic-prof,
 * names them in /tmp/perf-PID.map. A profiler sees their samples in
 * anonymous memory ([anon]) and can name them only from that map.
 *
 *   main -> jit_hot    75 %   (code at BASE)
 *   main -> jit_cold   25 %   (code at BASE + 0x1000)
 *
 * Usage: jit [--seconds S] [--no-map] [--print]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "args.h"
#include "burn.h"

/*
 * The generated code (x86-64), one function of one argument:
 *   mov %rdi, %rax; 1: dec %rax; jnz 1b; ret
 * A countdown loop: rdi iterations, no frame, no memory access.
 */
static const unsigned char countdown[] = {
	0x48, 0x89, 0xf8,  /* mov %rdi,%rax */
	0x48, 0xff, 0xc8,  /* dec %rax */
	0x75, 0xfb,        /* jnz -5 */
	0xc3,              /* ret */
};

/* Iterations per call: about a millisecond. */
#define CALL_ITERS 1000000ULL

typedef void (*jit_fn)(uint64_t iters);

static void usage(FILE *f)
{
	fprintf(f, "usage: jit [--seconds S] [--no-map] [--print]\n"
		   "  Runs two generated functions in anonymous executable memory,\n"
		   "  jit_hot and jit_cold, 3:1, named in /tmp/perf-PID.map.\n"
		   "  --seconds S  run for S seconds of wall time (default 3)\n"
		   "  --no-map     do not write /tmp/perf-PID.map\n"
		   "  --print      print \"pid=P base=0xADDR\" once the code is in place\n");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3;
	bool map = true, print = false;
	uint64_t deadline;
	unsigned char *code;
	jit_fn hot, cold;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
		} else if (!strcmp(argv[i], "--no-map")) {
			map = false;
		} else if (!strcmp(argv[i], "--print")) {
			print = true;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}
	code = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("jit: mmap");
		return 1;
	}
	memcpy(code, countdown, sizeof(countdown));
	memcpy(code + 0x1000, countdown, sizeof(countdown));
	hot = (jit_fn)(uintptr_t)code;
	cold = (jit_fn)(uintptr_t)(code + 0x1000);
	if (map) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		f = fopen(path, "w");
		if (!f) {
			perror("jit: /tmp/perf-PID.map");
			return 1;
		}
		fprintf(f, "%lx %zx jit_hot\n%lx %zx jit_cold\n", (unsigned long)(uintptr_t)code,
			sizeof(countdown), (unsigned long)(uintptr_t)(code + 0x1000),
			sizeof(countdown));
		fclose(f);
	}
	if (print) {
		printf("pid=%d base=0x%lx\n", (int)getpid(), (unsigned long)(uintptr_t)code);
		fflush(stdout);
	}
	deadline = burn_now_ns() + seconds * 1000000000ULL;
	while (burn_now_ns() < deadline) {
		hot(3 * CALL_ITERS);
		cold(CALL_ITERS);
	}
	return 0;
bad:
	usage(stderr);
	return 2;
}
