/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counting_malloc.c — a malloc that counts, for the benchmarks that say
 * how much memory a piece of Ember holds: it replaces malloc, calloc,
 * realloc and free for the whole program it is linked into (glibc's own
 * __libc_* functions do the work) and keeps the bytes held now and the
 * most held since the last reset, by malloc_usable_size, so the figures
 * are exact for a single-threaded program. A sanitizer brings its own
 * malloc: link this only into unsanitized trees.
 */
#include <malloc.h>
#include <stddef.h>

#include "counting_malloc.h"

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static size_t held, peak;

static void count_add(void *p)
{
	if (p) {
		held += malloc_usable_size(p);
		if (held > peak)
			peak = held;
	}
}

static void count_sub(void *p)
{
	if (p)
		held -= malloc_usable_size(p);
}

void counting_malloc__reset(void)
{
	held = peak = 0;
}

size_t counting_malloc__held(void)
{
	return held;
}

size_t counting_malloc__peak(void)
{
	return peak;
}

void *counting_malloc__uncounted(size_t n)
{
	return __libc_malloc(n);
}

void *counting_malloc__uncounted_calloc(size_t n, size_t m)
{
	return __libc_calloc(n, m);
}

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);

	count_add(p);
	return p;
}

void *calloc(size_t n, size_t m)
{
	void *p = __libc_calloc(n, m);

	count_add(p);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	count_sub(old);
	p = __libc_realloc(old, n);
	count_add(p ? p : old);
	return p;
}

void free(void *p)
{
	count_sub(p);
	__libc_free(p);
}
