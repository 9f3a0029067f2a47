/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rng.h — the benchmarks' random numbers: xorshift64*, so a
 * generated workload is the same on every run and machine, and a draw
 * from a cumulative distribution (the long-tailed popularity of stacks).
 * Each benchmark including it has its own generator state.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

static uint64_t bench_rng_state = 0x9e3779b97f4a7c15ULL;

static inline uint64_t bench_rng(void)
{
	bench_rng_state ^= bench_rng_state >> 12;
	bench_rng_state ^= bench_rng_state << 25;
	bench_rng_state ^= bench_rng_state >> 27;
	return bench_rng_state * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1), 53 bits. */
static inline double bench_rng_unit(void)
{
	return (double)(bench_rng() >> 11) / (double)(1ULL << 53);
}

/* The first i with cdf[i] >= u, cdf non-decreasing over n > 0 entries
 * (the last when none). */
static inline size_t bench_pick(const double *cdf, size_t n, double u)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
