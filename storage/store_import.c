/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_import.c — store_db__import_pprof(): a pprof profile, decoded and
 * validated whole by import_pprof.c, written into a store as one flush
 * through the writer (store_db__begin / __add_stack / __commit) with
 * what it says about itself in meta (sample type, exact span,
 * frequency). On storage.h's writer, so any backend that writes imports
 * alike (layer 7, storage/DESIGN.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_backend.h"

struct import_ctx {
	struct store_db *db;
	bool begun;
};

static int import_start(void *ctx, const struct store_pprof_header *h)
{
	struct import_ctx *ic = ctx;
	const struct store_pprof_choice *c = &h->value;
	int64_t time_s = h->time_nanos > 0 ? h->time_nanos / 1000000000 :
					     (int64_t)(common_wall_ns() / 1000000000);
	int64_t duration = h->duration_nanos > 0 ?
				   (h->duration_nanos + 999999999) / 1000000000 : 1;
	char hz[32];
	char *value = NULL;
	int r;

	if (duration > UINT32_MAX)
		duration = UINT32_MAX;
	r = store_db__begin(ic->db, time_s, (uint32_t)duration);
	if (r < 0)
		return r;
	ic->begun = true;
	/* What a count is, and the exact span (buckets are whole seconds). */
	if ((r = store_db__set_metaf(ic->db, "sample_type", "%s/%s", c->type, c->unit)) < 0 ||
	    (r = store_db__set_meta(ic->db, "count_unit", c->per_period ||
				    !strcmp(c->unit, "count") ? "samples" : c->unit)) < 0)
		return r;
	if (h->time_nanos > 0 &&
	    (r = store_db__set_metaf(ic->db, "profile_time_ns", "%lld",
				     (long long)h->time_nanos)) < 0)
		return r;
	if (h->duration_nanos > 0 &&
	    (r = store_db__set_metaf(ic->db, "profile_duration_ns", "%lld",
				     (long long)h->duration_nanos)) < 0)
		return r;
	if (!h->frequency_hz)
		return 0;
	/* Keep a frequency the file already has (a recording's). */
	r = store_db__get_meta(ic->db, "frequency_hz", &value);
	free(value);
	if (r != -ENOENT)
		return r;
	snprintf(hz, sizeof(hz), "%llu", (unsigned long long)h->frequency_hz);
	return store_db__set_meta(ic->db, "frequency_hz", hz);
}

static int import_sample(void *ctx, const struct store_pprof_sample *s)
{
	struct import_ctx *ic = ctx;

	return store_db__add_stack(ic->db, s->labels, s->frames, s->n_frames,
				   s->count);
}

int store_db__import_pprof(struct store_db *db, const void *data, size_t size,
			   const struct store_pprof_options *opts,
			   uint64_t *ret_samples, struct store_pprof_choice *ret_choice)
{
	struct import_ctx ic = { .db = db };
	struct store_pprof_sink sink = { import_start, import_sample, &ic };
	struct store_pprof_header h;
	char msg[STORE_ERRMSG_SIZE];
	int r;

	if (!db || (!data && size))
		return -EINVAL;
	r = db->ops->can_write(db);
	if (r < 0)
		return r;
	msg[0] = '\0';
	r = store_pprof_read(data, size, opts, &sink, &h, msg, sizeof(msg));
	if (r == 0)
		r = store_db__commit(db);
	if (r < 0) {
		if (ic.begun)
			store_db__rollback(db);
		if (msg[0])
			store_db__fail_msg(db, r, msg);
		return r;
	}
	if (ret_samples)
		*ret_samples = h.samples;
	if (ret_choice)
		*ret_choice = h.value;
	return 0;
}
