/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-lto-main.c — with fixture-lto-work.c, a child for
 * test-symbolizer-origin, built -O2 -g -flto: lto_hot here calls
 * lto_helper, defined in the other file, which the link-time optimizer
 * inlines (with lto_mix inside it). So the inlined frames' abstract
 * origins live in the other file's compilation unit and are reached by
 * DW_FORM_ref_addr, as in Debian's LTO-built libraries. It prints the
 * run-time address of lto_hot, then waits until its stdin is closed.
 */
#include <stdio.h>
#include <unistd.h>

unsigned lto_helper(unsigned x);
unsigned lto_hot(unsigned x);

__attribute__((noinline)) unsigned lto_hot(unsigned x)
{
	unsigned a = lto_helper(x);
	unsigned b = lto_helper(a ^ 0x55u);

	return a + b;
}

int main(void)
{
	char c;

	printf("%p\n", (void *)lto_hot);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return (int)(lto_hot((unsigned)getpid()) & 0);
}
