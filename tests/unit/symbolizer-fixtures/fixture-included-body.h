/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-included-body.h — the code of fixture-included.c, which includes
 * it before anything else has a line: in gcc's DWARF 5 line table this
 * file is then entry 1, the line program's default file, and the primary
 * file entry 0 (glibc's wcstol.c including strtol.c looks the same).
 */
unsigned included_fn(unsigned x);

__attribute__((noinline)) unsigned included_fn(unsigned x)
{
	unsigned acc = x;

	for (int i = 0; i < 50; i++)
		acc = acc * 33u + (unsigned)i;
	return acc;
}
