/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fakepython.c — built as "python9.9": a program that looks like a CPython
 * of a version Ember does not know (9.9): its file name says python, and it
 * exports _PyRuntime, Py_Version (0x09090000), PyCode_Type, PyUnicode_Type
 * and PyBytes_Type as CPython does. Ember must count it as a Python
 * process of an unsupported version and show its native stacks, never
 * Python frames read with a guessed layout. The CPU goes to
 * main -> fake_eval -> fake_leaf.
 *
 *   python9.9 [--seconds S]
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "burn.h"

/* What Ember looks for. */
const unsigned int Py_Version = 0x09090000;
char _PyRuntime[4096];
char PyCode_Type[512], PyUnicode_Type[512], PyBytes_Type[512];

__attribute__((noinline)) void fake_leaf(void)
{
	burn(0x9901, BURN_UNIT_ITERS);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void fake_eval(void)
{
	fake_leaf();
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 2;
	uint64_t end;

	if (argc == 3 && !strcmp(argv[1], "--seconds")) {
		if (args_uint(argv[2], 3600, &seconds) < 0) {
			fprintf(stderr, "python9.9: bad --seconds\n");
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: python9.9 [--seconds S]\n");
		return 2;
	}
	/* The exports must stay: touch them. */
	_PyRuntime[0] = (char)Py_Version;
	PyCode_Type[0] = PyUnicode_Type[0] = PyBytes_Type[0] = 1;
	end = burn_now_ns() + seconds * 1000000000ULL;
	while (burn_now_ns() < end)
		fake_eval();
	return 0;
}
