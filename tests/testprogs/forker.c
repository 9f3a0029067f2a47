/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forker.c — a test program for following process trees. The parent forks N
 * children (fork, no exec) and then burns CPU itself; each child burns S
 * seconds of CPU through its own chain, then exits:
 *
 *   parent: main -> parent_work -> parent_leaf
 *   child:  main -> child_main -> child_work -> child_leaf
 *
 * With --exec PATH the children exec PATH --seconds S instead (meant for
 * tests/testprogs/split, whose chains are main -> run_X -> leaf_X), which
 * tests that a profiler follows exec in a child it tracks from fork on.
 *
 * The parent burns S seconds of CPU too, then waits for every child; the
 * exit status is 0 only when every child exited 0.
 *
 * Usage: forker [--children N] [--seconds S] [--exec PATH]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "burn.h"

__attribute__((noinline)) void child_leaf(uint64_t cpu_ns);
__attribute__((noinline)) void child_work(uint64_t cpu_ns);
__attribute__((noinline)) void child_main(uint64_t cpu_ns);
__attribute__((noinline)) void parent_leaf(uint64_t cpu_ns);
__attribute__((noinline)) void parent_work(uint64_t cpu_ns);

__attribute__((noinline)) void child_leaf(uint64_t cpu_ns)
{
	burn_cpu(0x5eedb, cpu_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void child_work(uint64_t cpu_ns)
{
	child_leaf(cpu_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void child_main(uint64_t cpu_ns)
{
	child_work(cpu_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void parent_leaf(uint64_t cpu_ns)
{
	burn_cpu(0x5eedc, cpu_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void parent_work(uint64_t cpu_ns)
{
	parent_leaf(cpu_ns);
	__asm__ volatile("" ::: "memory");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: forker [--children N] [--seconds S] [--exec PATH]\n"
		   "  Forks N children (default 2) that each burn S seconds of\n"
		   "  CPU (default 2) in child_leaf, while the parent burns S\n"
		   "  seconds in parent_leaf. --exec PATH: children exec\n"
		   "  PATH --seconds S instead.\n");
}

int main(int argc, char **argv)
{
	unsigned long children = 2, seconds = 2;
	const char *exec_path = NULL;
	char seconds_arg[32];
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--children") && i + 1 < argc) {
			if (args_uint(argv[++i], 1024, &children) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--exec") && i + 1 < argc) {
			exec_path = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}
	snprintf(seconds_arg, sizeof(seconds_arg), "%lu", seconds);

	for (unsigned long c = 0; c < children; c++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("forker: fork");
			failed = 1;
			break;
		}
		if (pid == 0) {
			if (exec_path) {
				execl(exec_path, exec_path, "--seconds",
				      seconds_arg, (char *)NULL);
				fprintf(stderr, "forker: exec %s: %s\n",
					exec_path, strerror(errno));
				_exit(127);
			}
			child_main(seconds * 1000000000ULL);
			_exit(0);
		}
	}

	parent_work(seconds * 1000000000ULL);

	for (;;) {
		int status;
		pid_t pid = wait(&status);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: all reaped */
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "forker: child %d failed (status 0x%x)\n",
				(int)pid, status);
			failed = 1;
		}
	}
	return failed;
bad:
	usage(stderr);
	return 2;
}
