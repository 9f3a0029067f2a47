/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counting_malloc.h — the counters of bench/counting_malloc.c, which
 * replaces malloc and friends in the benchmark it is linked into.
 */
#ifndef EMBER_BENCH_COUNTING_MALLOC_H
#define EMBER_BENCH_COUNTING_MALLOC_H

#include <stddef.h>

/* Start counting from zero: held and peak both 0. */
void counting_malloc__reset(void);
/* Bytes allocated since the last reset and not freed (usable sizes). */
size_t counting_malloc__held(void);
/* The most counting_malloc__held() has been since the last reset. */
size_t counting_malloc__peak(void);
/* Allocations the counters do not see (a benchmark's own inputs); free
 * them with free() only after the last reading, or never. */
void *counting_malloc__uncounted(size_t n);
void *counting_malloc__uncounted_calloc(size_t n, size_t m);

#endif
