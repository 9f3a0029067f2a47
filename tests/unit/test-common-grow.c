/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-common-grow.c — common_grow(), the one array-growing helper: room
 * for what is asked, geometric growth (few reallocations for many
 * appends), zeroing, and its refusals: a size that does not fit in a
 * size_t is -EOVERFLOW and a failed allocation -ENOMEM, each leaving the
 * array as it was (the test runs with allocator_may_return_null, so ASan
 * lets the huge allocations fail rather than abort).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "unit-check.h"

/* Appending a million elements: every one kept, O(log n) reallocations. */
static void test_appends(void)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0, changes = 0, last_cap = 0;

	for (uint64_t i = 0; i < 1000000; i++) {
		CHECK(COMMON_GROW(v, cap, n + 1) == 0);
		CHECK(cap >= n + 1);
		if (cap != last_cap) {
			CHECK(last_cap == 0 || cap >= 2 * last_cap);
			changes++;
			last_cap = cap;
		}
		v[n++] = i * 7;
	}
	for (uint64_t i = 0; i < n; i++)
		CHECK(v[i] == i * 7);
	CHECK(changes <= 18);   /* 16 << 16 > 1e6 */
	free(v);
}

static void test_room_and_jumps(void)
{
	char *v = NULL;
	size_t cap = 0;
	char *before;

	/* The first allocation: at least 16. */
	CHECK(COMMON_GROW(v, cap, 1) == 0);
	CHECK(v && cap == 16);
	/* Enough room: nothing moves. */
	before = v;
	CHECK(COMMON_GROW(v, cap, 16) == 0);
	CHECK(v == before && cap == 16);
	CHECK(COMMON_GROW(v, cap, 0) == 0);
	CHECK(v == before && cap == 16);
	/* More than double asked: exactly that. */
	CHECK(COMMON_GROW(v, cap, 1000) == 0);
	CHECK(cap == 1000);
	/* Just over: double. */
	CHECK(COMMON_GROW(v, cap, 1001) == 0);
	CHECK(cap == 2000);
	free(v);
}

struct item {
	uint32_t a;
	uint64_t b;
};

static void test_zero(void)
{
	struct item *v = NULL;
	size_t cap = 0;

	CHECK(COMMON_GROW0(v, cap, 3) == 0);
	for (size_t i = 0; i < cap; i++)
		CHECK(v[i].a == 0 && v[i].b == 0);
	for (size_t i = 0; i < cap; i++)
		v[i] = (struct item){ (uint32_t)i + 1, i + 2 };
	CHECK(COMMON_GROW0(v, cap, 100) == 0);
	CHECK(cap >= 100);
	/* The old part kept, the new part zeroed. */
	for (size_t i = 0; i < 16; i++)
		CHECK(v[i].a == i + 1 && v[i].b == i + 2);
	for (size_t i = 16; i < cap; i++)
		CHECK(v[i].a == 0 && v[i].b == 0);
	free(v);
}

static void test_refusals(void)
{
	uint64_t *v = NULL, *before;
	size_t cap = 0;
	void *p;

	CHECK(COMMON_GROW(v, cap, 10) == 0);
	before = v;
	v[3] = 42;
	/* need * 8 does not fit in a size_t: the multiplication the old
	 * helpers did unchecked would have wrapped to a small buffer. */
	CHECK(COMMON_GROW(v, cap, SIZE_MAX / 4) == -EOVERFLOW);
	CHECK(v == before && cap == 16 && v[3] == 42);
	CHECK(COMMON_GROW(v, cap, (SIZE_MAX >> 3) + 2) == -EOVERFLOW);
	CHECK(v == before && cap == 16);
	/* Representable but impossible: -ENOMEM, the array as it was. */
	CHECK(COMMON_GROW(v, cap, SIZE_MAX / 16) == -ENOMEM);
	CHECK(v == before && cap == 16 && v[3] == 42);
	free(v);

	/* Doubling past what a size_t can count stops at the most it can:
	 * 4 elements of SIZE_MAX / 4 bytes, which cannot be had. */
	p = NULL;
	cap = 0;
	CHECK(common_grow(&p, &cap, 2, SIZE_MAX / 4, false) == -ENOMEM);
	CHECK(p == NULL && cap == 0);
	CHECK(common_grow(&p, &cap, 5, SIZE_MAX / 4, false) == -EOVERFLOW);
	CHECK(common_grow(&p, &cap, 1, 0, false) == -EINVAL);
	CHECK(p == NULL && cap == 0);
}

int main(void)
{
	test_appends();
	test_room_and_jumps();
	test_zero();
	test_refusals();
	printf("common_grow: ok\n");
	return 0;
}
