/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grow.c — the one way the project grows an array (common.h): geometric,
 * with the size multiplication checked, so no module open-codes
 * `realloc(p, 2 * cap * elem)` and its overflow.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROW_MIN 16

int common_grow(void **arr, size_t *cap, size_t need, size_t elem, bool zero)
{
	size_t max, ncap;
	void *p;

	if (need <= *cap)
		return 0;
	if (elem == 0)
		return -EINVAL;
	max = SIZE_MAX / elem;
	if (need > max)
		return -EOVERFLOW;
	/* Double, or as much as a size_t allows when doubling would not fit;
	 * never less than asked. */
	ncap = *cap > max / 2 ? max : MAX(*cap * 2, (size_t)GROW_MIN);
	ncap = MIN(MAX(ncap, need), max);
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	if (zero)
		memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}
