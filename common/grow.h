/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grow.h — the project's one array-growing helper (grow.c); common.h
 * includes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* ---- containers ---------------------------------------------------------
 *
 * The one hash map and the one array-growing helper of the project (as
 * systemd has hashmap.c and GREEDY_REALLOC, SQLite its hash.c). A module
 * keeps its own table only with the measurement that justifies it in a
 * comment. Neither is thread-safe: a map or an array belongs to whoever
 * holds it, and callers that share one hold one lock around it.
 */

/*
 * Make room for need elements of elem bytes each in the array *arr, which
 * has room for *cap: when need > *cap, reallocate it to at least need
 * elements, growing geometrically (at least double, at least 16), so n
 * appends cost O(n). With zero, the new elements are zeroed.
 *
 * Returns 0 (also when there was room already), -EOVERFLOW when need
 * elements of elem bytes do not fit in a size_t, -ENOMEM, or -EINVAL when
 * elem is 0. *arr and *cap change only on success; on failure the array is
 * as it was.
 */
int common_grow(void **arr, size_t *cap, size_t need, size_t elem, bool zero);

/* common_grow() with the check for room inline: appends that fit cost a
 * comparison, not a call. */
static inline int common_grow_inline_(void **arr, size_t *cap, size_t need, size_t elem,
				      bool zero)
{
	if (__builtin_expect(need <= *cap, 1))
		return 0;
	return common_grow(arr, cap, need, elem, zero);
}

/* common_grow() for an array pointer variable `arr` (any element type) and
 * its size_t capacity `cap`. */
#define COMMON_GROW(arr, cap, need) \
	common_grow_inline_((void **)&(arr), &(cap), (need), sizeof(*(arr)), false)
#define COMMON_GROW0(arr, cap, need) \
	common_grow_inline_((void **)&(arr), &(cap), (need), sizeof(*(arr)), true)
