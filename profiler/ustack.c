/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ustack.c — the names at which user stacks begin (see ustack.h).
 */
#include "ustack.h"

#include <string.h>

#include "common.h"

bool ustack_is_root(const char *name)
{
	static const char *const roots[] = {
		"_start", "__libc_start_main", "__libc_start_main_impl",
		"__libc_start_call_main", "start_thread", "clone", "clone3",
		"__clone", "__clone3", "__clone_internal", "thread_start",
	};

	for (size_t i = 0; i < ARRAY_SIZE(roots); i++)
		if (!strcmp(name, roots[i]))
			return true;
	return false;
}

bool ustack_is_fp_root(const char *name)
{
	return !strcmp(name, "__libc_start_call_main") || !strcmp(name, "start_thread");
}
