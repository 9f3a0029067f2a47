/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-included.c — a child process for the DWARF tests, built -O2 -g:
 * its function included_fn comes from an included file, so every address
 * of it must name fixture-included-body.h (addr2line 2.40 names this file
 * instead: it reads the DWARF 5 default file as entry 0). It prints the
 * run-time address of included_fn, then waits until its stdin is closed.
 */
#include "fixture-included-body.h"

#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char c;

	printf("%p\n", (void *)included_fn);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return (int)(included_fn((unsigned)getpid()) & 0);
}
