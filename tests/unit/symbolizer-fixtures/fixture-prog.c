/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-prog.c — a child process for the symbolizer tests, built as a PIE
 * and as a non-PIE executable. It prints the run-time addresses of two of its
 * functions (one global, one static, so only in .symtab), then waits until
 * its stdin is closed, so the test can snapshot it while it lives and
 * symbolize it again after it has exited.
 */
#include <stdio.h>
#include <unistd.h>

int fixture_alpha(int x);

__attribute__((noinline)) int fixture_alpha(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 16; i++)
		acc = acc * 3 + i;
	return acc;
}

__attribute__((noinline)) static int fixture_beta_static(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 8; i++)
		acc ^= acc << 1;
	return acc;
}

int main(void)
{
	char c;

	printf("%p %p\n", (void *)fixture_alpha, (void *)fixture_beta_static);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return (fixture_alpha(1) + fixture_beta_static(2)) & 0;
}
