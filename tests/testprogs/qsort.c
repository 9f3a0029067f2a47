/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qsort.c — a program that spends most of its time in a comparator called
 * by libc's qsort, the case frame pointers cannot handle on Debian: libc is
 * built without them, so a frame-pointer walk from cmp_values stops or goes
 * wrong inside qsort's merge sort. The chain a correct unwinder must give:
 *
 *   main -> sort_loop -> qsort (libc: qsort_r, msort_with_tmp...) -> cmp_values
 *
 * The comparator does extra work per call so that it, not libc's merging,
 * is the hot function.
 *
 * --warmup W first spends W seconds of CPU time in warm_up (main ->
 * warm_up), code with frame pointers only, so a profiler that judges a
 * process by its first samples sees no libc on its stacks. CPU time, not
 * wall time: the warm-up gives the same number of samples on a busy
 * machine. The sort runs S seconds of wall time, or with --cpu S seconds
 * of CPU time (as many samples however busy the machine is).
 *
 * Usage: qsort [--seconds S] [--cpu] [--warmup W]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "burn.h"

#define N_VALUES 4096

__attribute__((noinline)) int cmp_values(const void *a, const void *b);
__attribute__((noinline)) uint64_t sort_loop(uint64_t deadline_ns, bool cpu);
__attribute__((noinline)) uint64_t warm_up(uint64_t cpu_deadline_ns);

/* Runs until the thread's CPU time reaches cpu_deadline_ns, read every
 * 40 rounds (about 1 ms: the clock is a system call in libc, which this
 * phase is meant to keep nearly out of its samples). */
__attribute__((noinline)) uint64_t warm_up(uint64_t cpu_deadline_ns)
{
	uint64_t rounds = 0;

	do {
		burn(rounds, 20000);
		rounds++;
	} while (rounds % 40 || burn_thread_cpu_ns() < cpu_deadline_ns);
	__asm__ volatile("" ::: "memory");
	return rounds;
}

__attribute__((noinline)) int cmp_values(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	burn(x ^ y, 200);
	__asm__ volatile("" ::: "memory");
	return (x > y) - (x < y);
}

/* Runs until CLOCK_MONOTONIC, or with cpu the thread's CPU time, reaches
 * deadline_ns. */
__attribute__((noinline)) uint64_t sort_loop(uint64_t deadline_ns, bool cpu)
{
	static uint32_t values[N_VALUES];
	uint64_t rounds = 0, seed = 12345;

	do {
		for (size_t i = 0; i < N_VALUES; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			values[i] = seed >> 33;
		}
		qsort(values, N_VALUES, sizeof(values[0]), cmp_values);
		rounds++;
	} while ((cpu ? burn_thread_cpu_ns() : burn_now_ns()) < deadline_ns);
	__asm__ volatile("" ::: "memory");
	return rounds;
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3, warmup = 0;
	bool cpu = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
		} else if (!strcmp(argv[i], "--cpu")) {
			cpu = true;
		} else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &warmup) < 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (warmup && warm_up(burn_thread_cpu_ns() + warmup * 1000000000ULL) == 0)
		return 1;
	if (sort_loop((cpu ? burn_thread_cpu_ns() : burn_now_ns()) + seconds * 1000000000ULL,
		      cpu) == 0)
		return 1;
	return 0;
bad:
	fprintf(stderr, "usage: qsort [--seconds S] [--cpu] [--warmup W]\n");
	return 2;
}
