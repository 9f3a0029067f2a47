/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-inline.c — a child process for the DWARF tests, built -O2 -g: a
 * hot helper forced inline twice into hot_outer, which is what a profile of
 * optimized code looks like. It prints the run-time address of hot_outer,
 * then waits until its stdin is closed. The tests compare every address of
 * hot_outer with what addr2line -f -i says.
 */
#include <stdio.h>
#include <unistd.h>

unsigned hot_outer(unsigned x);

static inline __attribute__((always_inline)) unsigned hot_mix(unsigned v, int i)
{
	return v * 31u + (v >> 3) + (unsigned)i;
}

static inline __attribute__((always_inline)) unsigned hot_helper(unsigned x)
{
	unsigned acc = x;

	for (int i = 0; i < 100; i++)
		acc = hot_mix(acc, i) ^ (acc << (i & 7));
	return acc;
}

__attribute__((noinline)) unsigned hot_outer(unsigned x)
{
	unsigned a = hot_helper(x);
	unsigned b = hot_helper(a ^ 0x55u);

	return a + b;
}

int main(void)
{
	char c;

	printf("%p\n", (void *)hot_outer);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return (int)(hot_outer((unsigned)getpid()) & 0);
}
