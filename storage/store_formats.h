/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_formats.h — private to storage/, layer 0 (storage/DESIGN.md):
 * the export writers (export_folded.c, export_pprof.c,
 * export_speedscope.c), pure functions of a tree and what the store says
 * about it (struct store_export_info, filled by store_export.c), and the
 * pprof reader behind the import (import_pprof.c, fed to a store by
 * store_import.c) and its fuzz target (fuzz-pprof.c); the label sets
 * a backend collects (store_labelsets.c); and the bucket arithmetic every
 * backend's timeline and retention share (store_time.c).
 */
#pragma once

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "storage.h"
#include "store_map.h"

/* floor(t / step) * step, right for negative t too (step > 0). */
int64_t store_time__floor(int64_t t, int64_t step);

/* The timeline's automatic step over span seconds: the smallest of 10 s,
 * 30 s, 1, 2, 5, 10, 30 min, 1, 3, 6, 12 h, 1 day that gives at most 500
 * steps, else a multiple of a day. */
int64_t store_time__auto_step(int64_t span);

/* The label sets of a range (storage.h), built by a backend: a new empty
 * one (NULL: no memory), and one label set with its samples added (texts
 * copied; 0 or -ENOMEM). store_labelsets.c. */
struct store_label_sets *store_label_sets__new(void);
int store_label_sets__add(struct store_label_sets *sets, const struct store_labels *l,
			  uint64_t samples);

/* Where a frame is in its binary: the smallest file offset stored for a
 * frame of its identity (kernel: the offset in the function) and that
 * frame's build-id (NULL: none). */
struct store_frame_site {
	char *build_id;
	uint64_t offset;
};

/* The sites of a store's frames by frame identity (name, module, file,
 * line, kind): what pprof's mappings and addresses are made of, which a
 * tree does not keep (it merges frames at different offsets). A zeroed
 * struct is empty. */
struct store_frame_sites {
	struct store_map index; /* frame texts -> v index */
	struct store_frame_site *v;
	size_t n, cap;
};

/* Add the site of one stored frame: kept when its offset is the
 * smallest yet for the frame's identity. Returns 0 or -ENOMEM. */
int store_frame_sites__add(struct store_frame_sites *s,
			   const struct store_tree_node *frame, uint64_t offset,
			   const char *build_id);
/* The site of a tree node's frame, or NULL (none known, or s NULL). */
const struct store_frame_site *store_frame_sites__find(const struct store_frame_sites *s,
						       const struct store_tree_node *frame);
void store_frame_sites__free(struct store_frame_sites *s);

/* What an export needs besides the tree, read once from the store. */
struct store_export_info {
	uint64_t frequency_hz; /* meta frequency_hz; 0 = unknown */
	int64_t start_ns;      /* first flush in the range; 0 when empty */
	int64_t duration_ns;   /* to the end of the last flush in the range */
	char *name;            /* meta "command", or NULL */
	/* An imported profile's values when they are not samples (meta
	 * sample_type "alloc_space/bytes" and count_unit "bytes"), else
	 * NULL. */
	char *value_type, *value_unit;
	/* Where the frames are in their binaries (pprof); NULL: unknown. */
	const struct store_frame_sites *sites;
};

/* Each writer returns 0, -ENOMEM, -EIO (out failed) or a query's -errno. */
int store_export_folded(const struct store_tree *t, bool with_lines, FILE *out);
int store_export_speedscope(const struct store_tree *t,
			    const struct store_export_info *info, FILE *out);
int store_export_pprof(const struct store_tree *t,
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
