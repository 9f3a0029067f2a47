/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shortlived.c — a test program for symbolizing processes that are gone by
 * flush time. The parent starts hundreds of short-lived processes (fork, then
 * exec of this same binary in child mode), a few at a time; each child burns
 * ~30 ms of CPU and exits:
 *
 *   child:  main -> short_work -> short_leaf
 *   parent: waits in wait(), costs almost nothing
 *
 * A profiler that reads /proc/PID/maps only at flush time finds none of the
 * children; one that snapshots mappings at exec or first sample names
 * short_leaf for nearly all of their samples.
 *
 * Usage: shortlived [--count N] [--parallel P] [--ms MS]
 *        shortlived --child MS   (what the parent execs)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "burn.h"

__attribute__((noinline)) void short_leaf(uint64_t cpu_ns);
__attribute__((noinline)) void short_work(uint64_t cpu_ns);

__attribute__((noinline)) void short_leaf(uint64_t cpu_ns)
{
	burn_cpu(0x5eee5, cpu_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void short_work(uint64_t cpu_ns)
{
	short_leaf(cpu_ns);
	__asm__ volatile("" ::: "memory");
}

/* Reap one child; returns 0 if it exited 0, 1 if it failed, -1 if none. */
static int reap_one(void)
{
	int status;
	pid_t pid;

	do
		pid = wait(&status);
	while (pid < 0 && errno == EINTR);
	if (pid < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shortlived: child %d failed (status 0x%x)\n",
			(int)pid, status);
		return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shortlived [--count N] [--parallel P] [--ms MS]\n"
		   "  Runs N (default 300) short processes, P at a time\n"
		   "  (default 2), each burning MS ms of CPU (default 30) in\n"
		   "  short_leaf.\n");
}

int main(int argc, char **argv)
{
	unsigned long count = 300, parallel = 2, ms = 30, running = 0;
	char ms_arg[32];
	int failed = 0, r;

	if (argc == 3 && !strcmp(argv[1], "--child")) {
		if (args_uint(argv[2], 3600000, &ms) < 0)
			return 2;
		short_work(ms * 1000000ULL);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (args_uint(argv[++i], 1000000, &count) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--parallel") && i + 1 < argc) {
			if (args_uint(argv[++i], 256, &parallel) < 0 || !parallel)
				goto bad;
		} else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
			if (args_uint(argv[++i], 3600000, &ms) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}
	snprintf(ms_arg, sizeof(ms_arg), "%lu", ms);

	for (unsigned long c = 0; c < count; c++) {
		pid_t pid;

		if (running == parallel) {
			r = reap_one();
			if (r < 0)
				break;
			failed |= r;
			running--;
		}
		pid = fork();
		if (pid < 0) {
			perror("shortlived: fork");
			failed = 1;
			break;
		}
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--child", ms_arg,
			      (char *)NULL);
			fprintf(stderr, "shortlived: exec /proc/self/exe: %s\n",
				strerror(errno));
			_exit(127);
		}
		running++;
	}
	while ((r = reap_one()) >= 0)
		failed |= r;
	return failed;
bad:
	usage(stderr);
	return 2;
}
