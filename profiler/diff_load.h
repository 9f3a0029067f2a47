/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_load.h — one side of `ember diff`, loaded (diff_load.c). Private to
 * profiler/.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "compare.h"
#include "storage.h"

/* One side, loaded: the tree keeps the strings the inputs borrow. With
 * several runs (values of the label "run"), each function's count per run
 * (run_counts: self then total, n_runs each) and each run's samples. */
struct diff_side {
	struct store_tree *tree;
	struct cmp_input *in;
	size_t n;
	uint64_t samples;
	size_t n_runs;
	uint64_t *run_samples;
	uint64_t *run_counts;
};

/* Load one side (what: "base" or "head", for messages) from path, an
 * Ember database or a pprof file, narrowed by from, to and filter (prefix
 * names the flags in messages: "" or "base-"). Prints one clear line on
 * failure. Returns 0 or -errno; *s (zeroed by the caller) is freed with
 * diff_side__free() either way. */
int diff_side__load(const char *what, const char *path, const char *from, const char *to,
		    const char *filter, const char *prefix, struct diff_side *s);
/* Free what s holds (s itself is the caller's). */
void diff_side__free(struct diff_side *s);
