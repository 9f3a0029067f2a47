/* SPDX-License-Identifier: Apache-2.0 */
/*
 * array.h — room in a growing array, for the session's lists (processes
 * that exited, per-binary unwind quality, executable files judged by the
 * `--unwind auto` policy).
 */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Make room for need elements of elem bytes in *arr, which has room for
 * *cap: when need > *cap, reallocate to at least need, doubling (at least
 * 64). Returns 0, -EOVERFLOW (the size does not fit in a size_t) or
 * -ENOMEM; *arr and *cap change only on success.
 */
static inline int array_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -EOVERFLOW;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -EOVERFLOW;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
