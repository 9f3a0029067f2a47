/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_timeline.c — the read side's label-aware queries: timelines
 * (samples per step, optionally one series per value of a label) and the
 * label names and values present in a range, for the web UI's time chart
 * and filter pickers and for `ember report`. Counts are summed from the
 * decoded sample blocks per (bucket, label set), and label sets are
 * mapped to series.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_formats.h"
#include "store_ops.h"

void store_timeline__free(struct store_timeline *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_series; i++) {
		free((char *)t->series[i].value);
		free(t->series[i].counts);
	}
	free(t->series);
	free(t);
}

/* The first bucket start and last bucket end within q's range. */
static int data_span(struct store_sqlite *db, const struct store_query *q,
		     int64_t *ret_first, int64_t *ret_end, bool *ret_empty)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT min(time_s), max(time_s + duration_s), "
				"count(*) FROM sample_blocks "
				"WHERE time_s >= ?1 AND time_s < ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, q->from_s);
	sqlite3_bind_int64(st, 2, q->to_s);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_empty = sqlite3_column_int64(st, 2) == 0;
		*ret_first = sqlite3_column_int64(st, 0);
		*ret_end = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_sql__fail(db, rc);
}

static int add_series(struct store_timeline *t, const char *value,
		      size_t *ret_index)
{
	struct store_timeline_series *grown, *s;

	grown = realloc(t->series, (t->n_series + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	t->series = grown;
	s = &t->series[t->n_series];
	memset(s, 0, sizeof(*s));
	s->counts = calloc(t->n_steps ? t->n_steps : 1, sizeof(uint64_t));
	if (value)
		s->value = strdup(value);
	if (!s->counts || (value && !s->value)) {
		free(s->counts);
		free((char *)s->value);
		return -ENOMEM;
	}
	*ret_index = t->n_series++;
	return 0;
}

/* The labels of label set id from the read cache; -EINVAL when a block
 * names one the file does not have. */
static int set_labels(struct store_sqlite *db, const struct store_read_cache *c,
		      int64_t id, struct store_labels *ret)
{
	if (!store_cache__labels(c, id, ret))
		return store_sql__fail_msg(db, -EINVAL, "corrupt sample block: "
					  "unknown label set");
	return 0;
}

static int compare_series(const void *pa, const void *pb)
{
	const struct store_timeline_series *a = pa, *b = pb;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

struct timeline_fill {
	struct store_sqlite *db;
	struct store_timeline *t;
	const char *split;
	struct store_map by_value; /* label value -> series */
	struct store_sums by_set;  /* (label set, 0) -> series + 1 */
	const struct store_read_cache *c; /* label sets' texts */
};

/* The series of label set `set`, added when its value is new. */
static int series_of(struct timeline_fill *f, int64_t set, size_t *ret)
{
	struct store_sum *e = store_sums__find(&f->by_set, set, 0);
	struct store_labels l = { 0 };
	char buf[1024];
	const char *v;
	int64_t found;
	size_t index;
	int r;

	if (e) {
		*ret = (size_t)e->count - 1;
		return 0;
	}
	r = set_labels(f->db, f->c, set, &l);
	if (r < 0)
		return r;
	v = store_labels__value(&l, f->split, buf, sizeof(buf));
	if (store_map__get(&f->by_value, v, strlen(v), &found)) {
		index = (size_t)found;
	} else {
		r = add_series(f->t, v, &index);
		if (r == 0)
			r = store_map__put(&f->by_value, v, strlen(v),
					   (int64_t)index, NULL);
		if (r < 0)
			return r;
	}
	*ret = index;
	return store_sums__add(&f->by_set, set, 0, index + 1);
}

static int timeline_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
			  uint64_t count)
{
	struct timeline_fill *f = ctx;
	struct store_timeline *t = f->t;
	size_t step, index = 0;
	int r;

	if (time_s < t->from_s)
		return 0;
	step = (size_t)((time_s - t->from_s) / t->step_s);
	if (step >= t->n_steps)
		return 0;
	if (f->split) {
		r = series_of(f, set, &index);
		if (r < 0)
			return r;
	}
	t->series[index].counts[step] += count;
	t->series[index].total += count;
	return 0;
}

static int fill_timeline(struct store_sqlite *db, const struct store_read_cache *c,
			 const struct store_query *q, const char *split,
			 struct store_timeline *t)
{
	struct timeline_fill f = { .db = db, .t = t, .split = split, .c = c };
	size_t index;
	int r = 0;

	if (!split)
		r = add_series(t, NULL, &index);
	if (r == 0)
		r = store_cache__scan(db, c, q, timeline_entry, &f);
	store_map__free(&f.by_value);
	store_sums__free(&f.by_set);
	if (r == 0)
		qsort(t->series, t->n_series, sizeof(*t->series),
		      compare_series);
	return r;
}

int store_sqlite__query_timeline(struct store_db *handle, const struct store_query *q,
			     int64_t step_s, const char *split_label,
			     struct store_timeline **ret_timeline)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_query range = { .from_s = INT64_MIN, .to_s = INT64_MAX };
	struct store_timeline *t = NULL;
	struct store_read_cache *c;
	int64_t first = 0, end = 0, from, to;
	bool empty = true;
	int r;

	if (!db || !ret_timeline)
		return -EINVAL;
	if (q)
		range = *q;
	if (range.from_s > range.to_s)
		return store_sql__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	if (step_s < 0)
		return store_sql__fail_msg(db, -EINVAL, "negative step");
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = store_cache__read_begin(db, &c);
	if (r < 0)
		goto out;
	r = data_span(db, &range, &first, &end, &empty);
	if (r < 0)
		goto end;
	from = range.from_s != INT64_MIN ? range.from_s : first;
	to = range.to_s != INT64_MAX ? range.to_s : end;
	if (range.from_s == INT64_MIN && range.to_s == INT64_MAX && empty)
		goto end; /* nothing anywhere: no steps, no series */
	if (to <= from) {
		to = from; /* an empty range: no steps */
		goto end_ok;
	}
	if (step_s == 0)
		step_s = store_time__auto_step(to - from);
	if (range.from_s == INT64_MIN)
		from = store_time__floor(from, step_s);
	if ((to - from) / step_s >= STORE_TIMELINE_MAX_STEPS) {
		r = store_sql__fail_msg(db, -EINVAL,
				       "too many steps: choose a longer step "
				       "or a shorter range");
		goto end;
	}
	t->from_s = from;
	t->step_s = step_s;
	t->n_steps = (size_t)((to - from + step_s - 1) / step_s);
end_ok:
	t->from_s = from;
	t->step_s = step_s;
	if (t->n_steps)
		r = fill_timeline(db, c, &range, split_label, t);
end:
	store_cache__read_end(db);
	if (r < 0)
		goto out;
	*ret_timeline = t;
	t = NULL;
out:
	store_timeline__free(t);
	return r;
}

/* ---- label names and values ---- */


static int sum_set(void *ctx, int64_t time_s, int64_t set, int64_t node,
		   uint64_t count)
{
	return store_sums__add(ctx, set, 0, count);
}

/* Call fn for every label set in q's range with its samples. */
static int for_each_label_set(struct store_sqlite *db, const struct store_query *q,
			      int (*fn)(void *ctx, const struct store_labels *l,
					uint64_t samples),
			      void *ctx)
{
	struct store_sums sets = { 0 };
	struct store_read_cache *c;
	int r;

	r = store_cache__read_begin(db, &c);
	if (r < 0)
		return r;
	r = store_cache__scan(db, c, q, sum_set, &sets);
	for (size_t i = 0; i < sets.n && r == 0; i++) {
		struct store_labels l;

		r = set_labels(db, c, sets.v[i].a, &l);
		if (r == 0)
			r = fn(ctx, &l, sets.v[i].count);
	}
	store_cache__read_end(db);
	store_sums__free(&sets);
	return r;
}

static int keep_set(void *ctx, const struct store_labels *l, uint64_t samples)
{
	return store_label_sets__add(ctx, l, samples);
}

int store_sqlite__label_sets(struct store_db *handle, const struct store_query *q,
			 struct store_label_sets **ret_sets)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_label_sets *sets;
	int r;

	if (!db || !ret_sets)
		return -EINVAL;
	sets = store_label_sets__new();
	if (!sets)
		return -ENOMEM;
	r = for_each_label_set(db, q, keep_set, sets);
	if (r < 0) {
		store_label_sets__free(sets);
		return r;
	}
	*ret_sets = sets;
	return 0;
}

int store_sqlite__label_values(struct store_db *handle, const struct store_query *q,
			   const char *name, struct store_label_value **ret_values,
			   size_t *ret_n)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_label_sets *sets = NULL;
	int r;

	if (!db || !name || !ret_values || !ret_n)
		return -EINVAL;
	r = store_sqlite__label_sets(&db->base, q, &sets);
	if (r == 0)
		r = store_label_sets__values(sets, name, ret_values, ret_n);
	store_label_sets__free(sets);
	return r;
}

int store_sqlite__label_names(struct store_db *handle, const struct store_query *q,
			  char ***ret_names, size_t *ret_n)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_label_sets *sets = NULL;
	int r;

	if (!db || !ret_names || !ret_n)
		return -EINVAL;
	r = store_sqlite__label_sets(&db->base, q, &sets);
	if (r == 0)
		r = store_label_sets__names(sets, ret_names, ret_n);
	store_label_sets__free(sets);
	return r;
}

int store_sqlite__span(struct store_db *handle, const struct store_query *q,
		   int64_t *ret_first, int64_t *ret_end, uint32_t *ret_step)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_query range;
	sqlite3_stmt *st = NULL;
	int64_t first = 0, end = 0, step = 10;
	bool empty = true;
	int r, rc;

	store_query_init(&range);
	if (!db)
		return -EINVAL;
	if (q)
		range = *q;
	if (range.from_s > range.to_s)
		return store_sql__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	r = store_sql__read_begin(db, "span");
	if (r < 0)
		return r;
	r = data_span(db, &range, &first, &end, &empty);
	if (r < 0)
		goto out;
	/* The flush interval: the most common length among the last
	 * flushes (a final flush is shorter, a slow one a second longer). */
	rc = sqlite3_prepare_v2(db->sql,
				"SELECT duration_s FROM (SELECT duration_s FROM flushes "
				"ORDER BY time_s DESC LIMIT 16) GROUP BY duration_s "
				"ORDER BY count(*) DESC, duration_s LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		step = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	if (step < 1)
		step = 1;
	if (step > 86400)
		step = 86400;
	if (empty)
		first = end = 0;
	*ret_first = first;
	*ret_end = end;
	if (ret_step)
		*ret_step = (uint32_t)step;
out:
	sqlite3_finalize(st);
	store_sql__read_end(db, "span");
	return r;
}

int store_sqlite__drops_timeline(struct store_db *handle, int64_t from_s, int64_t step_s,
			     size_t n_steps, uint64_t *counts)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	sqlite3_stmt *st;
	int64_t to_s;
	int rc;

	if (!db || step_s <= 0 || (n_steps && !counts))
		return -EINVAL;
	if (n_steps == 0)
		return 0;
	if ((uint64_t)n_steps > (uint64_t)(INT64_MAX - from_s) / (uint64_t)step_s)
		return store_sql__fail_msg(db, -EINVAL, "too many steps");
	to_s = from_s + (int64_t)n_steps * step_s;
	rc = sqlite3_prepare_v2(db->sql,
				"SELECT time_s, sum(count) FROM drops "
				"WHERE time_s >= ?1 AND time_s < ?2 GROUP BY time_s",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, from_s);
	sqlite3_bind_int64(st, 2, to_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t k = (size_t)((sqlite3_column_int64(st, 0) - from_s) / step_s);

		if (k < n_steps)
			counts[k] += (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}
