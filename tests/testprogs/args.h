/* SPDX-License-Identifier: Apache-2.0 */
/*
 * args.h — the one option parser helper the test programs in tests/testprogs/
 * share: a strict unsigned integer parse for "--seconds 3" style options.
 */
#ifndef EMBER_TESTPROGS_ARGS_H
#define EMBER_TESTPROGS_ARGS_H

#include <errno.h>
#include <stdlib.h>

/* Parse s as a decimal integer in [0, max]. Returns 0 and *ret, or -EINVAL. */
static inline int args_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

#endif
