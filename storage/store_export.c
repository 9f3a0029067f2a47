/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_export.c — store_db__export(): queries the merged tree for a query
 * (so every filter of the query applies to every format), reads what the
 * formats need besides the tree (frequency, time span, name, where the
 * frames are in their binaries) and hands both to the writer of the
 * format (export_folded.c, export_pprof.c, export_speedscope.c), which
 * know no store. On the interface of storage.h and the backend's
 * operations (store_backend.h), so every backend exports alike (layer 7,
 * storage/DESIGN.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_formats.h"
#include "store_backend.h"

static void info_free(struct store_export_info *info)
{
	if (info->sites) {
		store_frame_sites__free((struct store_frame_sites *)info->sites);
		free((struct store_frame_sites *)info->sites);
	}
	free(info->name);
	free(info->value_type);
	free(info->value_unit);
}

/* meta key as a positive int64 into *v; absent or unreadable: unchanged. */
static int meta_i64(struct store_db *db, const char *key, int64_t *v)
{
	char *value = NULL, *end;
	long long x;
	int r;

	r = store_db__get_meta(db, key, &value);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	errno = 0;
	x = strtoll(value, &end, 10);
	if (!errno && *end == '\0' && x > 0)
		*v = x;
	free(value);
	return 0;
}

/*
 * An imported profile knows its exact start and duration (the buckets
 * have whole seconds: a 2.0003 s profile's bucket lasts 3 s); a query of
 * the whole file exports those. And what its counts are when not samples.
 */
static int read_imported(struct store_db *db, const struct store_query *q,
			 struct store_export_info *info)
{
	char *type = NULL, *slash;
	int r;

	if (!q || (q->from_s == INT64_MIN && q->to_s == INT64_MAX)) {
		if ((r = meta_i64(db, "profile_time_ns", &info->start_ns)) < 0 ||
		    (r = meta_i64(db, "profile_duration_ns", &info->duration_ns)) < 0)
			return r;
	}
	r = store_db__get_meta(db, "count_unit", &info->value_unit);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!strcmp(info->value_unit, "samples") ||
	    store_db__get_meta(db, "sample_type", &type) < 0 || !(slash = strchr(type, '/'))) {
		free(type);
		free(info->value_unit);
		info->value_unit = NULL;
		return 0;
	}
	*slash = '\0';
	info->value_type = type;
	return 0;
}

/* The span of the flushes whose buckets start in q's range. */
static int read_span(struct store_db *db, const struct store_query *q,
		     struct store_export_info *info)
{
	int64_t first = 0, end = 0;
	int r = db->ops->flush_span(db, q, &first, &end);

	/* Seconds since 1970 fit nanoseconds until 2262. */
	if (r == 0 && first > 0 && end >= first && end < INT64_MAX / 1000000000) {
		info->start_ns = first * 1000000000;
		info->duration_ns = (end - first) * 1000000000;
	}
	return r;
}

/* Where each frame is in its binary (pprof's mappings and addresses). */
static int read_sites(struct store_db *db, struct store_export_info *info)
{
	struct store_frame_sites *sites = calloc(1, sizeof(*sites));

	if (!sites)
		return -ENOMEM;
	info->sites = sites;
	return db->ops->frame_sites(db, sites);
}

static int read_info(struct store_db *db, const struct store_query *q,
		     struct store_export_info *info)
{
	char *value = NULL, *end;
	int r;

	memset(info, 0, sizeof(*info));
	r = store_db__get_meta(db, "frequency_hz", &value);
	if (r == 0) {
		unsigned long long hz;

		errno = 0;
		hz = strtoull(value, &end, 10);
		/* A value we cannot read is treated as unknown, not an error:
		 * the counts are still right. */
		if (!errno && *end == '\0' && hz > 0 && hz <= 1000000000)
			info->frequency_hz = hz;
		free(value);
	} else if (r != -ENOENT) {
		return r;
	}
	r = store_db__get_meta(db, "command", &info->name);
	if (r < 0 && r != -ENOENT)
		return r;
	r = read_span(db, q, info);
	return r < 0 ? r : read_imported(db, q, info);
}

int store_db__export_tree(struct store_db *db, const struct store_query *q,
			  const struct store_tree *t,
			  enum store_export_format fmt, FILE *out)
{
	struct store_export_info info;
	int r;

	if (!db || !t || !out)
		return -EINVAL;
	/* (folded text is the tree alone: nothing more to read) */
	memset(&info, 0, sizeof(info));
	r = fmt == STORE_EXPORT_FOLDED || fmt == STORE_EXPORT_FOLDED_LINES ? 0 :
		read_info(db, q, &info);
	if (r < 0)
		goto out;
	switch (fmt) {
	case STORE_EXPORT_FOLDED:
	case STORE_EXPORT_FOLDED_LINES:
		r = store_export_folded(t, fmt == STORE_EXPORT_FOLDED_LINES, out);
		break;
	case STORE_EXPORT_PPROF:
		r = read_sites(db, &info);
		if (r == 0)
			r = store_export_pprof(t, &info, out);
		break;
	case STORE_EXPORT_SPEEDSCOPE:
		r = store_export_speedscope(t, &info, out);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r == 0 && (fflush(out) != 0 || ferror(out)))
		r = -EIO;
out:
	info_free(&info);
	return r;
}

int store_db__export(struct store_db *db, const struct store_query *q,
		     enum store_export_format fmt, FILE *out)
{
	struct store_tree *t = NULL;
	int r;

	if (!db || !out)
		return -EINVAL;
	r = store_db__query_tree(db, q, &t);
	if (r < 0)
		return r;
	r = store_db__export_tree(db, q, t, fmt, out);
	store_tree__free(t);
	return r;
}
