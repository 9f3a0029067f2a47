/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_args.h — `ember diff`'s options as parsed (diff_args.c), read by
 * the sides' loading and the report. Private to profiler/.
 */
#pragma once

#include <stdint.h>

#include "cli.h"
#include "compare.h"

enum diff_format { DIFF_TEXT, DIFF_MARKDOWN, DIFF_JSON };

struct diff_args {
	const char *base, *head;
	struct cmp_options cmp;
	enum diff_format format;
	const char *output;
	const char *html;
	uint64_t limit;
	/* Ranges and filters: head's, and base's (defaulting to head's). */
	const char *from, *to, *filter;
	const char *base_from, *base_to, *base_filter;
	struct cli_file_opts files; /* --group */
};

/*
 * Parse diff's command line into *a (zeroed by the caller). Returns 0 or
 * -EINVAL after one message that names the bad flag; --help prints the
 * usage on stdout and exits 0.
 */
int diff_args__parse(int argc, char **argv, struct diff_args *a);
