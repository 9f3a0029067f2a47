/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-lib.c — a shared library for the symbolizer tests. fixture_lib_far
 * lives in its own section that the link places at a virtual address far
 * from its file offset, which gives the library a second executable PT_LOAD
 * segment whose vaddr != offset: the case where "file offset == address"
 * shortcuts break. lib_hidden_static is only in .symtab.
 */
int fixture_lib_gamma(int x);
int fixture_lib_far(int x);
void *fixture_lib_static_addr(void);

__attribute__((noinline)) int fixture_lib_gamma(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 16; i++)
		acc = acc * 5 + i;
	return acc;
}

__attribute__((noinline, section("far_text"))) int fixture_lib_far(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 16; i++)
		acc = acc * 7 + i;
	return acc;
}

__attribute__((noinline)) static int lib_hidden_static(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 8; i++)
		acc ^= acc << 2;
	return acc;
}

void *fixture_lib_static_addr(void)
{
	return (void *)lib_hidden_static;
}
