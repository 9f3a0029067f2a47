/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit-check.h — the unit tests' one assertion: CHECK(cond) prints the
 * file, line and condition that failed and exits 1 (kept under NDEBUG,
 * unlike assert()).
 */
#ifndef EMBER_UNIT_CHECK_H
#define EMBER_UNIT_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",         \
				__FILE__, __LINE__, #cond);                  \
			exit(1);                                             \
		}                                                            \
	} while (0)

#endif
