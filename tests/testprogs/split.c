/* SPDX-License-Identifier: Apache-2.0 */
/*
 * split.c — a CPU-bound test program whose profile is known by construction.
 * Three chains share the CPU 6:3:1 (60 %, 30 %, 10 %):
 *
 *   main -> run_a -> leaf_a    6 units a round
 *   main -> run_b -> leaf_b    3 units a round
 *   main -> run_c -> leaf_c    1 unit a round
 *
 * A unit is BURN_UNIT_ITERS iterations of the same loop body (~100 µs), and
 * the chains take turns every round (~1 ms), so the shares hold over any
 * window longer than a few milliseconds. With --threads N the work runs in N
 * threads instead of main, each through worker_main -> run_X -> leaf_X.
 * More than 99 % of the time is spent in the leaves.
 *
 * Used by the privileged tests (expected split, expected chains) and by
 * bench/sampler-overhead (--report prints the units done: the throughput).
 *
 * --cpu makes S seconds of each working thread's CPU time instead of wall
 * time: as many samples on a busy machine as on an idle one.
 *
 * Usage: split [--seconds S] [--cpu] [--threads N] [--weights A:B:C] [--report]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "burn.h"

/* Units per round; --weights A:B:C changes them (ember diff's tests run
 * 6:3:1 as the base and 6:3:2 as a head where leaf_c does twice the work). */
static unsigned long units_a = 6, units_b = 3, units_c = 1;

/*
 * Each round is scaled by 1..4, drawn per round: the split within a round
 * stays exact, but the rounds stop being strictly periodic. A periodic
 * workload sampled by a periodic timer aliases: samples keep landing at the
 * same phase of the round, and a 3 s profile can read 55:34:11 or 67:25:8
 * where the work is 60:30:10.
 */
static __thread unsigned long round_scale = 1;
static __thread uint64_t round_rng;

static void next_round_scale(void)
{
	round_rng = round_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	round_scale = 1 + (round_rng >> 62);
}

static uint64_t deadline_ns;
/* With --cpu: each working thread's CPU time to run (0: wall time). */
static uint64_t cpu_ns;

__attribute__((noinline)) void leaf_a(uint64_t units);
__attribute__((noinline)) void leaf_b(uint64_t units);
__attribute__((noinline)) void leaf_c(uint64_t units);
__attribute__((noinline)) void run_a(void);
__attribute__((noinline)) void run_b(void);
__attribute__((noinline)) void run_c(void);
__attribute__((noinline)) void *worker_main(void *arg);

__attribute__((noinline)) void leaf_a(uint64_t units)
{
	burn(0x5eed1, units * BURN_UNIT_ITERS);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void leaf_b(uint64_t units)
{
	burn(0x5eed2, units * BURN_UNIT_ITERS);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void leaf_c(uint64_t units)
{
	burn(0x5eed3, units * BURN_UNIT_ITERS);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void run_a(void)
{
	leaf_a(units_a * round_scale);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void run_b(void)
{
	leaf_b(units_b * round_scale);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void run_c(void)
{
	leaf_c(units_c * round_scale);
	__asm__ volatile("" ::: "memory");
}

/*
 * Rounds until the deadline; returns the units done. Always inlined, so the
 * caller (main or worker_main) is the direct parent of run_X in the stack.
 */
static inline __attribute__((always_inline)) uint64_t split_rounds(void)
{
	uint64_t units = 0, end = cpu_ns ? burn_thread_cpu_ns() + cpu_ns : deadline_ns;

	do {
		run_a();
		run_b();
		run_c();
		units += (units_a + units_b + units_c) * round_scale;
		next_round_scale();
	} while ((cpu_ns ? burn_thread_cpu_ns() : burn_now_ns()) < end);
	return units;
}

__attribute__((noinline)) void *worker_main(void *arg)
{
	uint64_t *ret_units = arg;

	*ret_units = split_rounds();
	return NULL;
}

static int parse_weights(const char *s)
{
	char buf[64], *b, *c;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	b = strchr(buf, ':');
	c = b ? strchr(b + 1, ':') : NULL;
	if (!b || !c)
		return -EINVAL;
	*b++ = '\0';
	*c++ = '\0';
	if (args_uint(buf, 1000, &units_a) < 0 || args_uint(b, 1000, &units_b) < 0 ||
	    args_uint(c, 1000, &units_c) < 0 || !units_a || !units_b || !units_c)
		return -EINVAL;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: split [--seconds S] [--cpu] [--threads N] [--weights A:B:C] [--report]\n"
		   "  Burns CPU in leaf_a/leaf_b/leaf_c in the ratio 6:3:1.\n"
		   "  --weights A:B:C  units per round instead (each 1..1000)\n"
		   "  --seconds S  run for S seconds of wall time (default 3)\n"
		   "  --cpu        S seconds of each thread's CPU time instead\n"
		   "  --threads N  run the split in N threads (worker_main)\n"
		   "               instead of in main (default 0: main)\n"
		   "  --report     print the work done: units=U seconds=S\n");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3, threads = 0;
	uint64_t start, total = 0, *units = NULL;
	pthread_t *tids = NULL;
	bool report = false, cpu = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--report")) {
			report = true;
		} else if (!strcmp(argv[i], "--cpu")) {
			cpu = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (args_uint(argv[++i], 1024, &threads) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
			if (parse_weights(argv[++i]) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}

	start = burn_now_ns();
	deadline_ns = start + seconds * 1000000000ULL;
	if (cpu)
		cpu_ns = seconds * 1000000000ULL;
	if (threads == 0) {
		total = split_rounds();
	} else {
		tids = calloc(threads, sizeof(*tids));
		units = calloc(threads, sizeof(*units));
		if (!tids || !units) {
			fprintf(stderr, "split: out of memory\n");
			return 1;
		}
		for (unsigned long t = 0; t < threads; t++) {
			r = pthread_create(&tids[t], NULL, worker_main, &units[t]);
			if (r) {
				fprintf(stderr, "split: creating thread %lu: %s\n",
					t, strerror(r));
				return 1;
			}
		}
		for (unsigned long t = 0; t < threads; t++) {
			pthread_join(tids[t], NULL);
			total += units[t];
		}
	}
	if (report)
		printf("units=%llu seconds=%.3f\n", (unsigned long long)total,
		       (double)(burn_now_ns() - start) / 1e9);
	free(tids);
	free(units);
	return 0;
bad:
	usage(stderr);
	return 2;
}
