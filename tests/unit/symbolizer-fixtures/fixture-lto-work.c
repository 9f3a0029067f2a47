/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-lto-work.c — the other compilation unit of the LTO fixture (see
 * fixture-lto-main.c): lto_helper, inlining lto_mix, both inlined into
 * lto_hot at link time.
 */
unsigned lto_helper(unsigned x);

static inline unsigned lto_mix(unsigned v, int i)
{
	return v * 31u + (v >> 3) + (unsigned)i;
}

unsigned lto_helper(unsigned x)
{
	unsigned acc = x;

	for (int i = 0; i < 100; i++)
		acc = lto_mix(acc, i) ^ (acc << (i & 7));
	return acc;
}
