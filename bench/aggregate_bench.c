/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aggregate_bench.c — the profiler's buffer of stacks between flushes
 * (profiler/aggregate.c, compiled in as it is) on a busy host's stream:
 * 5,000 distinct stacks (300 processes, 4-40 user frames, a third with
 * 1-12 kernel frames) drawn with a long-tailed (Zipf 1.1) popularity,
 * 20,000 samples added between drains, 50 drains. Prints ns per add and
 * per drained stack, best of --rounds. Run it on two builds (or under
 * `valgrind --tool=callgrind` for instruction counts) to compare two
 * versions of the table. Figures only; never pass/fail.
 *
 * Usage: aggregate_bench [-r ROUNDS]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "bench_rng.h"
#include "common.h"

#define N_STACKS 5000
#define N_PROCS 300
#define PER_DRAIN 20000
#define N_DRAINS 50

struct stack {
	struct sampler_sample smp;
	uint64_t ips[52];
	char comm[16];
};

static struct stack stacks[N_STACKS];
static double cdf[N_STACKS];
static uint32_t *order;
static volatile uint64_t sink;

static void generate(void)
{
	double sum = 0;

	for (size_t i = 0; i < N_STACKS; i++) {
		struct stack *s = &stacks[i];
		uint32_t proc = (uint32_t)(bench_rng() % N_PROCS);
		size_t nu = 4 + bench_rng() % 37, nk = bench_rng() % 3 == 0 ? 1 + bench_rng() % 12 : 0;

		snprintf(s->comm, sizeof(s->comm), "proc-%u", proc);
		for (size_t k = 0; k < nk; k++)
			s->ips[k] = 0xffffffff81000000ULL + bench_rng() % 0x1000000;
		for (size_t u = 0; u < nu; u++)
			s->ips[nk + u] = 0x400000 + (uint64_t)proc * 0x100000 + bench_rng() % 0x100000;
		s->smp = (struct sampler_sample){
			.tgid = 1000 + proc, .tid = 1000 + proc + (uint32_t)(bench_rng() % 4),
			.cgroup_id = 1, .comm = s->comm, .pcomm = s->comm,
			.kips = s->ips, .n_kips = nk, .uips = s->ips + nk, .n_uips = nu,
			.user_task = true, .count = 1,
		};
		sum += 1.0 / pow((double)(i + 1), 1.1);
		cdf[i] = sum;
	}
	order = malloc(PER_DRAIN * N_DRAINS * sizeof(*order));
	if (!order)
		exit(1);
	for (size_t i = 0; i < PER_DRAIN * N_DRAINS; i++) {
		order[i] = (uint32_t)bench_pick(cdf, N_STACKS, bench_rng_unit() * sum);
	}
}

static void drained(void *ctx, const struct sampler_sample *smp, int tag)
{
	size_t *n = ctx;

	sink += smp->count + (uint64_t)tag;
	(*n)++;
}

int main(int argc, char **argv)
{
	double best_add = 1e30, best_drain = 1e30;
	int rounds = 5, c;

	while ((c = getopt(argc, argv, "r:")) != -1) {
		if (c != 'r') {
			fprintf(stderr, "usage: aggregate_bench [-r ROUNDS]\n");
			return 2;
		}
		rounds = atoi(optarg);
	}
	generate();
	for (int r = 0; r < rounds; r++) {
		struct aggregate *a;
		uint64_t add_ns = 0, drain_ns = 0;
		size_t drained_n = 0;

		if (aggregate__new(&a) < 0)
			return 1;
		for (size_t d = 0; d < N_DRAINS; d++) {
			uint64_t t0 = common_now_ns(), t1;

			for (size_t i = 0; i < PER_DRAIN; i++)
				if (aggregate__add(a, &stacks[order[d * PER_DRAIN + i]].smp,
						   (int)(i & 1)) < 0)
					return 1;
			t1 = common_now_ns();
			aggregate__drain(a, drained, &drained_n);
			add_ns += t1 - t0;
			drain_ns += common_now_ns() - t1;
		}
		aggregate__free(a);
		best_add = MIN(best_add, (double)add_ns / (PER_DRAIN * N_DRAINS));
		best_drain = MIN(best_drain, (double)drain_ns / (double)drained_n);
	}
	printf("aggregate: %d distinct stacks, %d adds per drain, %d drains\n",
	       N_STACKS, PER_DRAIN, N_DRAINS);
	printf("  add      %7.1f ns per sample (best of %d)\n", best_add, rounds);
	printf("  drain    %7.1f ns per stack\n", best_drain);
	return 0;
}
