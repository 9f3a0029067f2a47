/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_export.h — private to storage/: what the export writers
 * (export_folded.c, export_pprof.c, export_speedscope.c) share with the
 * dispatcher in store_export.c, and the pprof reader behind the import and
 * its fuzz target (import_pprof.c, fuzz-pprof.c).
 */
#pragma once

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "storage.h"

/* What an export needs besides the tree, read once from the file. */
struct store_export_info {
	uint64_t frequency_hz; /* meta frequency_hz; 0 = unknown */
	int64_t start_ns;      /* first flush in the range; 0 when empty */
	int64_t duration_ns;   /* to the end of the last flush in the range */
	char *name;            /* meta "command", or NULL */
	/* An imported profile's values when they are not samples (meta
	 * sample_type "alloc_space/bytes" and count_unit "bytes"), else
	 * NULL. */
	char *value_type, *value_unit;
};

/* Each writer returns 0, -ENOMEM, -EIO (out failed) or a query's -errno. */
int store_export_folded(const struct store_tree *t, bool with_lines, FILE *out);
int store_export_speedscope(const struct store_tree *t,
			    const struct store_export_info *info, FILE *out);
int store_export_pprof(struct store_db *db, const struct store_tree *t,
		       const struct store_export_info *info, FILE *out);

/* One sample of a decoded pprof profile: frames root first. */
struct store_pprof_sample {
	const struct store_labels *labels;
	const struct store_frame *frames;
	size_t n_frames;
	uint64_t count;
};

/* What a decoded profile says about itself. */
struct store_pprof_header {
	int64_t time_nanos;
	int64_t duration_nanos;
	uint64_t frequency_hz; /* from a cpu/nanoseconds period; 0 = unknown */
	uint64_t samples;      /* sum of all counts */
	struct store_pprof_choice value; /* the sample type taken */
};

/* Called by store_pprof_read: start() once after the whole profile was
 * validated, then sample() once per sample with a nonzero count (frames and
 * labels are valid during the call only). A nonzero return stops the read
 * and is returned. */
struct store_pprof_sink {
	int (*start)(void *ctx, const struct store_pprof_header *h);
	int (*sample)(void *ctx, const struct store_pprof_sample *s);
	void *ctx;
};

/* Inputs past these are refused with -E2BIG. */
#define STORE_PPROF_MAX_BYTES (256u << 20)   /* compressed or raw input */
#define STORE_PPROF_MAX_DEPTH 65536u         /* frames in one sample */
#define STORE_PPROF_MAX_FRAMES (1u << 27)    /* frames over all samples */

/*
 * Decode a pprof profile (gzipped or not), validate all of it, then feed
 * it to sink, with the sample value opts picks (NULL: as pprof, see
 * store_db__import_pprof). Returns 0 and *ret_header (may be NULL),
 * -EBADMSG or -E2BIG with the reason in errmsg (size errlen), -ENOENT
 * (opts names a sample type the profile does not have; errmsg lists
 * them), -ENOMEM, or a sink's error.
 */
int store_pprof_read(const void *data, size_t size,
		     const struct store_pprof_options *opts,
		     const struct store_pprof_sink *sink,
		     struct store_pprof_header *ret_header,
		     char *errmsg, size_t errlen);
