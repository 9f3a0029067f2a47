/* SPDX-License-Identifier: Apache-2.0 */
/*
 * burn.h — the CPU-burning loop body shared by the test programs in
 * tests/testprogs/. Every leaf function of every program runs exactly this
 * body, so that equal iteration counts cost equal CPU time and a profiler's
 * split between leaves can be predicted from the counts alone.
 *
 * The body is always inlined into the leaf that uses it. Its accumulator
 * lives on the caller's stack, so threads running the same leaf share no
 * cache line; each leaf passes its own seed, so no two leaves compile to
 * identical code and no compiler or linker can fold them into one symbol.
 */
#ifndef EMBER_TESTPROGS_BURN_H
#define EMBER_TESTPROGS_BURN_H

#include <stdint.h>
#include <time.h>

/*
 * Iterations of burn() in one work unit: about 100 µs on a current x86-64
 * core (the volatile store/load chain costs ~1.25 ns an iteration).
 */
#define BURN_UNIT_ITERS 80000UL

/* Run iters iterations of the shared arithmetic loop, starting from seed. */
static inline __attribute__((always_inline)) void
burn(uint64_t seed, uint64_t iters)
{
	uint64_t sink = seed;

	/* Registers only, so a leaf made of this loop needs no stack frame:
	 * GCC then leaves it frameless even with -fno-omit-frame-pointer, the
	 * case Ember's frame-pointer mode must repair. The empty asm keeps the
	 * loop a loop (no vectorising, no closed form) and the result alive. */
	for (uint64_t i = 0; i < iters; i++) {
		sink = sink * 6364136223846793005ULL + i;
		__asm__ volatile("" : "+r"(sink));
	}
	__asm__ volatile("" : : "r"(sink));
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t burn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread in nanoseconds. */
static inline uint64_t burn_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Burn units of the loop, starting from seed, until the calling thread has
 * used cpu_ns of CPU time. Always inlined, so the CPU lands in the caller.
 */
static inline __attribute__((always_inline)) void
burn_cpu(uint64_t seed, uint64_t cpu_ns)
{
	uint64_t end = burn_thread_cpu_ns() + cpu_ns;

	do
		burn(seed, BURN_UNIT_ITERS);
	while (burn_thread_cpu_ns() < end);
}

#endif
