/* SPDX-License-Identifier: Apache-2.0 */
/*
 * data_json.c — the JSON of /api/v1/meta, /timeline and /labels (web/API.md)
 * written from a store handle, for the server's answers and for static
 * reports (`ember report --format html`), so a report's page reads the
 * same objects the live UI fetches.
 */
#include "web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ember_config.h"

/* Timeline points when the step is not given, and at most. */
#define TIMELINE_POINTS 1000

static void write_counts(FILE *f, const char *key, const char *name_key,
			 const struct store_drop *c, size_t n)
{
	fprintf(f, "\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{\"%s\":", i ? "," : "", name_key);
		common_json_string(f, c[i].reason);
		fprintf(f, ",\"count\":%llu}", (unsigned long long)c[i].count);
	}
	fputc(']', f);
}

int web_write_meta_json(FILE *f, struct store_db *db)
{
	static const char *const keys[][2] = {
		{ "command", "command" }, { "frequency_hz", "frequency" },
		{ "target", "target" }, { "status", "status" },
		{ "start_time", "start_time" }, { "end_time", "end_time" },
		{ "ember_version", "ember_version" }, { "agent_labels", "labels" },
		{ "sample_type", "sample_type" }, { "count_unit", "count_unit" },
		{ "imported_from", "imported_from" },
	};
	struct store_summary *sum = NULL;
	int64_t first, end;
	uint32_t step = 10;
	int err;

	err = store_db__summary(db, NULL, &sum);
	if (!err)
		err = store_db__span(db, NULL, &first, &end, &step);
	if (err) {
		store_summary__free(sum);
		return err;
	}
	fprintf(f, "{\"version\":\"%s\",\"store\":\"%s\",\"first\":%lld,\"last\":%lld,"
		"\"step\":%u,\"samples\":%llu,\"processes\":%llu,",
		EMBER_VERSION, store_db__backend(db), (long long)sum->first_s,
		(long long)sum->last_s, step, (unsigned long long)sum->samples,
		(unsigned long long)sum->processes);
	write_counts(f, "drops", "reason", sum->drops, sum->n_drops);
	fputc(',', f);
	write_counts(f, "events", "name", sum->events, sum->n_events);
	fputs(",\"meta\":{", f);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(keys); i++) {
		char *v = NULL;

		if (store_db__get_meta(db, keys[i][0], &v) < 0)
			continue;
		fprintf(f, "%s\"%s\":", n++ ? "," : "", keys[i][1]);
		common_json_string(f, v);
		free(v);
	}
	fputs("}}", f);
	store_summary__free(sum);
	return ferror(f) ? -EIO : 0;
}

int web_write_timeline_json(FILE *f, struct store_db *db, const struct store_query *q,
			    int64_t from, int64_t to, uint64_t step)
{
	struct store_timeline *t = NULL;
	uint64_t *drops = NULL;
	uint32_t bucket = 10;
	int err = 0;

	if (step == 0) {
		uint64_t span = (uint64_t)(to - from), k;

		err = store_db__span(db, NULL, &(int64_t){0}, &(int64_t){0}, &bucket);
		if (err)
			return err;
		k = (span + (uint64_t)bucket * TIMELINE_POINTS - 1) /
		    ((uint64_t)bucket * TIMELINE_POINTS);
		step = (uint64_t)bucket * (k ? k : 1);
	}
	err = store_db__query_timeline(db, q, (int64_t)step, NULL, &t);
	if (err)
		return err;
	drops = calloc(t->n_steps ? t->n_steps : 1, sizeof(*drops));
	if (!drops) {
		err = -ENOMEM;
		goto out;
	}
	/* a database without a flush yet has no steps (and no step) */
	if (t->n_steps)
		err = store_db__drops_timeline(db, t->from_s, t->step_s, t->n_steps, drops);
	/* a store that keeps no drops: "drops": null */
	bool no_drops = err == -ENOSYS;

	if (no_drops)
		err = 0;
	if (err)
		goto out;
	fprintf(f, "{\"from\":%lld,\"to\":%lld,\"step\":%lld,\"samples\":[",
		(long long)t->from_s, (long long)(t->from_s + (int64_t)t->n_steps * t->step_s),
		(long long)(t->step_s ? t->step_s : (int64_t)step));
	for (size_t i = 0; i < t->n_steps; i++)
		fprintf(f, i ? ",%llu" : "%llu",
			(unsigned long long)(t->n_series ? t->series[0].counts[i] : 0));
	if (no_drops) {
		fputs("],\"drops\":null}", f);
	} else {
		fputs("],\"drops\":[", f);
		for (size_t i = 0; i < t->n_steps; i++)
			fprintf(f, i ? ",%llu" : "%llu", (unsigned long long)drops[i]);
		fputs("]}", f);
	}
	err = ferror(f) ? -EIO : 0;
out:
	free(drops);
	store_timeline__free(t);
	return err;
}

static const char *const builtin_labels[] = { "host", "process", "pid", "thread", "tid", "cgroup" };

int web_write_labels_json(FILE *f, struct store_db *db, const struct store_query *q,
			  uint64_t limit)
{
	struct store_label_sets *sets = NULL;
	char **names = NULL;
	size_t n_names = 0;
	int err;

	/* One pass over the range for every label's values. */
	err = store_db__label_sets(db, q, &sets);
	if (!err)
		err = store_label_sets__names(sets, &names, &n_names);
	if (err)
		goto out;
	fputs("{\"labels\":[", f);
	for (size_t i = 0; i < ARRAY_SIZE(builtin_labels) + n_names; i++) {
		const char *name = i < ARRAY_SIZE(builtin_labels) ? builtin_labels[i]
				 : names[i - ARRAY_SIZE(builtin_labels)];
		struct store_label_value *v = NULL;
		size_t nv = 0;
		bool dup = false;

		for (size_t b = 0; b < ARRAY_SIZE(builtin_labels) && i >= ARRAY_SIZE(builtin_labels); b++)
			dup |= !strcmp(builtin_labels[b], name);
		if (dup)
			continue;
		err = store_label_sets__values(sets, name, &v, &nv);
		if (err)
			goto out;
		fprintf(f, "%s{\"name\":", i ? "," : "");
		common_json_string(f, name);
		fputs(",\"values\":[", f);
		for (size_t k = 0; k < nv && k < limit; k++) {
			fputs(k ? ",{\"value\":" : "{\"value\":", f);
			common_json_string(f, v[k].value);
			fprintf(f, ",\"samples\":%llu}", (unsigned long long)v[k].samples);
		}
		fprintf(f, "],\"truncated\":%zu}", nv > limit ? nv - (size_t)limit : 0);
		store_label_values_free(v, nv);
	}
	fputs("]}", f);
	err = ferror(f) ? -EIO : 0;
out:
	store_label_sets__free(sets);
	store_strv_free(names);
	return err;
}
