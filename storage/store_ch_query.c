/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_query.c — the fleet store's queries over the samples
 * (storage/DESIGN.md, Fleet, Reading): the summary, the tree (and so the
 * top table, the sandwich and the exports made of it), the span and the
 * timelines, and the drops' timeline. Each is one aggregate in ClickHouse
 * over the condition store_chdb__cond makes of the query (its range and
 * filter): never raw rows. A tree reads the samples once, its sums per
 * (process, stack), and its definitions from the handle's cache
 * (store_ch_defs.c), then is made in C: the sums sorted by process and
 * the frames' identities (name, module, file, line, kind: what the
 * SQLite backend merges frames by), so each row shares the nodes of its
 * common prefix with the row before and adds the rest, with no lookup
 * per frame (place_rows).
 *
 * A tree whose filter is the range and hosts alone takes the whole days
 * of its range that the daily roll-ups hold fresh from them (all hosts:
 * the fleet's roll-up; some: the hosts'), the rest from the samples: the
 * same sums (sums_sql). Spans, and timelines that need no label but the
 * host, are read from the totals per host and bucket, which ClickHouse
 * keeps equal to the samples' sums (store_ch.h).
 *
 * Invariant: a tree's nodes come parents first (store_tree__add), so one
 * backward pass sums the subtrees; every stack a sum names is in the
 * cache once store_chdb__cache_fill returned 0, or the query fails with
 * -EIO (the store names a stack it does not define).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch_reader.h"
#include "store_formats.h"

/* The drops and events of q's range (only a host="NAME" term of its
 * filter applies: they carry no other label), into sum. */
static int read_drops(struct store_chdb *db, const struct store_query *q,
		      struct store_summary *sum)
{
	char *text = NULL, *p, *f[3];
	struct store_ch_sql s;
	int err;

	if (store_ch_sql__open(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	fputs("SELECT kind, reason, sum(count) FROM drops WHERE ", s.f);
	store_ch__put_plain_range(s.f, q);
	store_ch__put_required_host(s.f, q);
	fputs(" GROUP BY kind, reason ORDER BY kind, reason", s.f);
	if (store_ch_sql__close(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	err = store_chdb__ask(db, s.buf, "summing the drops", &text);
	free(s.buf);
	for (p = text; !err && store_ch__next_row(&p, f, 3) == 3;) {
		bool event = store_ch__num(f[0]) != 0;
		struct store_drop **v = event ? &sum->events : &sum->drops;
		size_t *n = event ? &sum->n_events : &sum->n_drops;
		struct store_drop *g = realloc(*v, (*n + 1) * sizeof(**v));
		char *reason = strdup(f[1]);

		if (g)
			*v = g;
		if (!g || !reason) {
			free(reason);
			err = store_chdb__fail(db, -ENOMEM, "out of memory");
			break;
		}
		g[(*n)++] = (struct store_drop){ .reason = reason, .count = store_ch__num(f[2]) };
	}
	free(text);
	return err;
}

static int summary_sql(struct store_chdb *db, const struct store_query *q,
		       const struct store_ch_cond *c, char **ret);

/* The summary's row (samples, processes, stacks, first, last, rows) of
 * the samples that c matches: *ret (caller frees), or -ENOMEM. */
static int samples_summary_sql(const struct store_ch_cond *c, char **ret)
{
	struct store_ch_sql s;
	int err;

	if (store_ch_sql__open(&s))
		return -ENOMEM;
	fprintf(s.f, "SELECT sum(count), uniqExact(host, pid), uniqExact(stack), "
		"toUInt32(min(time)), toUInt32(max(time)), count() FROM samples WHERE %s", c->text);
	err = store_ch_sql__close(&s);
	if (!err)
		*ret = s.buf;
	return err;
}

int store_chdb__summary(struct store_db *handle, const struct store_query *q,
		      struct store_summary **ret)
{
	struct store_chdb *db = store_chdb__of(handle);
	struct store_summary *sum;
	struct store_ch_cond c;
	char *text = NULL, *sql = NULL, *p, *f[6];
	int err;

	if (!db || !ret)
		return -EINVAL;
	sum = calloc(1, sizeof(*sum));
	if (!sum)
		return -ENOMEM;
	err = store_chdb__cond(db, q, &c);
	if (!err && !c.none) {
		/* (range and hosts only: the totals, the label sets and the
		 * trees' sums, none reading a day of samples; a label set's
		 * filter: the samples) */
		err = c.by_labelset ? samples_summary_sql(&c, &sql) : summary_sql(db, q, &c, &sql);
		if (!err) {
			err = store_chdb__ask(db, sql, "summing the samples", &text);
			free(sql);
		}
		p = text;
		if (!err && store_ch__next_row(&p, f, 6) == 6 && store_ch__num(f[5])) {
			sum->samples = store_ch__num(f[0]);
			sum->processes = store_ch__num(f[1]);
			sum->stacks = store_ch__num(f[2]);
			sum->first_s = (int64_t)store_ch__num(f[3]);
			sum->last_s = (int64_t)store_ch__num(f[4]);
		}
	}
	if (!err)
		err = read_drops(db, q, sum);
	store_ch_cond__free(&c);
	free(text);
	if (err) {
		store_summary__free(sum);
		return err;
	}
	*ret = sum;
	return 0;
}

/* ---- the tree ---- */

/*
 * A row of the tree's sums, ready to be placed: its process's identity,
 * its stack (an index in the cache) and its count. The rows are sorted
 * by (process, the stack's identities, root first), so the stacks that
 * share a path from the root are next to each other: a row shares with
 * the row before it the nodes of their common prefix, and every node
 * past that prefix is new (a stack with that longer prefix would sort
 * between them). The tree is made in one pass with no lookup per frame.
 */
struct placed {
	uint32_t proc, stack;
	uint64_t count;
};

static int compare_placed(const void *pa, const void *pb, void *arg)
{
	const struct placed *a = pa, *b = pb;
	const struct store_ch_cache *c = arg;
	const struct store_ch_stack *sa = &c->stack[a->stack], *sb = &c->stack[b->stack];
	const uint32_t *ia = c->idents_of + sa->first, *ib = c->idents_of + sb->first;
	uint32_t n = MIN(sa->n, sb->n);

	if (a->proc != b->proc)
		return a->proc < b->proc ? -1 : 1;
	for (uint32_t k = 0; k < n; k++)
		if (ia[k] != ib[k])
			return ia[k] < ib[k] ? -1 : 1;
	return sa->n < sb->n ? -1 : sa->n > sb->n;
}

/* Place rows[0..n) (sorted) into t below its root: path[d] is the node at
 * depth d (0: the process) of the row before. */
static int place_rows(struct store_tree *t, const struct store_ch_cache *c,
		      const struct placed *rows, size_t n)
{
	uint32_t *path = NULL;
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct store_ch_stack *st = &c->stack[rows[i].stack];
		const uint32_t *ids = c->idents_of + st->first;
		size_t depth = (size_t)st->n + 1, same = 0;

		if (COMMON_GROW(path, cap, depth)) {
			err = -ENOMEM;
			break;
		}
		if (i && rows[i - 1].proc == rows[i].proc) {
			const struct store_ch_stack *pst = &c->stack[rows[i - 1].stack];
			const uint32_t *pids = c->idents_of + pst->first;
			uint32_t m = MIN(pst->n, st->n);

			same = 1;
			while (same - 1 < m && pids[same - 1] == ids[same - 1])
				same++;
		}
		for (size_t d = same; d < depth && !err; d++) {
			struct store_tree_node nd = c->ident[d ? ids[d - 1] : rows[i].proc];

			nd.parent = d ? path[d - 1] : 0;
			nd.self = nd.total = 0;
			err = store_tree__add(t, &nd, &path[d]);
		}
		if (!err)
			t->nodes[path[depth - 1]].self += rows[i].count;
	}
	free(path);
	return err;
}

/* ---- the daily roll-up ---- */

/* A range's bound as a DateTime's seconds (the column's range). */
static long long clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : (long long)t;
}

/* The shortest a day can be (a day of the server's time zone that
 * loses an hour). */
#define MIN_DAY_S (23 * 3600)
/* Whole days at most (a list in the query). */
#define MAX_DAYS 3660

/*
 * The whole days of q's range whose roll-up is fresh (storage/DESIGN.md,
 * Fleet, Roll-ups): the server's days (toDate, as the partitions),
 * each wholly inside [from, to), with roll-up rows for the condition's
 * hosts, and not listed stale. Into days[0..*ret_n) as (start, end)
 * seconds, ascending.
 */
static int rollup_days(struct store_chdb *db, const struct store_query *q,
		       const struct store_ch_cond *c, int64_t (*days)[2], size_t *ret_n)
{
	long long from = clamp_time(q ? q->from_s : INT64_MIN);
	long long to = q && q->to_s != INT64_MAX ? clamp_time(q->to_s) : UINT32_MAX;
	char *sql = NULL, *text = NULL, *p, *f[2];
	size_t n = 0;
	int err, r;

	*ret_n = 0;
	if (to - from < MIN_DAY_S)
		return 0;
	/* The candidate days: every day of a bounded range (no table read: a
	 * day the view does not list has a roll-up equal to its samples,
	 * also when both are empty), or the days the roll-up has rows for. */
	if ((to - from) / MIN_DAY_S + 2 <= MAX_DAYS)
		r = asprintf(&sql, "SELECT toUInt32(toDateTime(d)), toUInt32(toDateTime(d + 1)) "
			     "FROM (SELECT toDate(toDateTime(%lld)) + arrayJoin(range(%lld)) AS d) "
			     "WHERE toUInt32(toDateTime(d)) >= %lld AND toUInt32(toDateTime(d + 1)) "
			     "<= %lld AND d NOT IN (SELECT day FROM " STORE_CH_STALE_VIEW ") ORDER "
			     "BY d", from, (to - from) / MIN_DAY_S + 2, from, to);
	else
		r = asprintf(&sql, "SELECT toUInt32(toDateTime(d)), toUInt32(toDateTime(d + 1)) "
			     "FROM (SELECT DISTINCT toDate(time) AS d FROM %s WHERE time >= "
			     "toDateTime(%lld) AND time < toDateTime(%lld)%s) WHERE "
			     "toUInt32(toDateTime(d + 1)) <= %lld AND d NOT IN (SELECT day FROM "
			     STORE_CH_STALE_VIEW ") ORDER BY d LIMIT %d", *c->hosts ?
			     STORE_CH_ROLLUP_TABLE : STORE_CH_FLEET_ROLLUP_TABLE, from, to, c->hosts,
			     to, MAX_DAYS);
	if (r < 0)
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	err = store_chdb__ask(db, sql, "finding the days rolled up", &text);
	free(sql);
	for (p = text; !err && store_ch__next_row(&p, f, 2) == 2 && n < MAX_DAYS;) {
		days[n][0] = (int64_t)store_ch__num(f[0]);
		days[n][1] = (int64_t)store_ch__num(f[1]);
		/* (ascending, inside the range: as asked) */
		if (days[n][0] < from || days[n][1] > to || days[n][1] <= days[n][0] ||
		    (n && days[n][0] < days[n - 1][1])) {
			err = store_chdb__fail(db, -EIO, "ClickHouse gave days Ember cannot use");
			break;
		}
		n++;
	}
	free(text);
	if (!err)
		*ret_n = n;
	return err;
}

/* The whole UTC hours [*h0, *h1) of the gap [at, end) of an all-host
 * tree (fleet), if it has any. */
static bool gap_hours(bool fleet, int64_t at, int64_t end, int64_t *h0, int64_t *h1)
{
	if (!fleet || at < 0 || end > UINT32_MAX)
		return false;
	*h0 = (at + 3599) / 3600 * 3600;
	*h1 = end / 3600 * 3600;
	return *h1 > *h0;
}

/*
 * The SQL of a tree's sums per (process, stack) over condition c of q.
 * A condition of a range and hosts only (no label set by hash) takes the
 * whole days of the range that the daily roll-up holds fresh from it,
 * and the rest of the range (its edges, stale days) from the samples:
 * the same sums as the samples alone give (the roll-up of a day is its
 * samples' sums, and a day is used only while no block was added to its
 * samples since). Over all hosts, the whole hours (UTC) of the rest come
 * from the fleet's sums per hour, which ClickHouse keeps with every
 * insert. Anything else reads the samples.
 */
static int sums_sql(struct store_chdb *db, const struct store_query *q,
		    const struct store_ch_cond *c, char **ret)
{
	int64_t (*days)[2] = NULL;
	size_t n = 0;
	struct store_ch_sql s;
	/* all hosts (no host, no label set named): whole hours of the gaps
	 * from the fleet's sums per hour, kept by ClickHouse as fresh as
	 * the samples */
	bool fleet = !c->by_labelset && !*c->hosts, raw = false, hourly = false;
	int64_t at;
	int err = 0;

	if (!c->by_labelset) {
		days = malloc(MAX_DAYS * sizeof(*days));
		err = days ? rollup_days(db, q, c, days, &n) :
			store_chdb__fail(db, -ENOMEM, "out of memory");
	}
	if (err || store_ch_sql__open(&s)) {
		free(days);
		return err ? err : store_chdb__fail(db, -ENOMEM, "out of memory");
	}
	fputs("SELECT process, stack, sum(c) FROM (", s.f);
	/* the samples outside the days and whole hours: the gaps' edges */
	at = q ? q->from_s : INT64_MIN;
	for (size_t i = 0; i <= n; i++) {
		int64_t end = i < n ? days[i][0] : (q ? q->to_s : INT64_MAX);
		int64_t h0, h1;

		if (!gap_hours(fleet, at, end, &h0, &h1))
			h0 = h1 = end;
		/* [at, h0) and [h1, end) from the samples, [h0, h1) hourly */
		for (int side = 0; side < 2; side++) {
			int64_t a = side ? h1 : at, b = side ? end : h0;

			if (b > a) {
				fputs(raw ? ") OR (" : "SELECT process, stack, toInt64(count) AS c "
				      "FROM samples WHERE ((", s.f);
				store_ch__put_time_range(s.f, a, b);
				raw = true;
			}
		}
		if (i < n)
			at = days[i][1];
	}
	if (raw)
		fprintf(s.f, ")) AND %s", c->text);
	at = q ? q->from_s : INT64_MIN;
	for (size_t i = 0; fleet && i <= n; i++) {
		int64_t end = i < n ? days[i][0] : (q ? q->to_s : INT64_MAX), h0, h1;

		if (gap_hours(fleet, at, end, &h0, &h1)) {
			fprintf(s.f, "%s%s(hour >= toDateTime(%lld) AND hour < toDateTime(%lld))",
				hourly ? " OR " : raw ? " UNION ALL " : "", hourly ? "" :
				"SELECT process, stack, count AS c FROM " STORE_CH_HOURLY_TABLE " WHERE (",
				(long long)h0, (long long)h1);
			hourly = true;
		}
		if (i < n)
			at = days[i][1];
	}
	if (hourly)
		fputc(')', s.f);
	if (n) {
		/* (all hosts: the fleet's roll-up, the hosts' sums already) */
		fprintf(s.f, "%sSELECT process, stack, count AS c FROM %s WHERE (",
			raw || hourly ? " UNION ALL " : "", *c->hosts ?
			STORE_CH_ROLLUP_TABLE : STORE_CH_FLEET_ROLLUP_TABLE);
		for (size_t i = 0; i < n; i++)
			fprintf(s.f, "%stime = toDateTime(%lld)", i ? " OR " : "",
				(long long)days[i][0]);
		fprintf(s.f, ")%s", c->hosts);
	}
	if (!raw && !hourly && !n)
		fprintf(s.f, "SELECT process, stack, toInt64(count) AS c FROM samples WHERE %s",
			c->text); /* (an empty range: the samples' answer) */
	fputs(") GROUP BY process, stack HAVING sum(c) != 0", s.f);
	free(days);
	if (store_ch_sql__close(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	*ret = s.buf;
	return 0;
}

/*
 * The SQL of a summary whose condition c is a range and hosts (not by
 * label set): the samples, first and last bucket from the totals per
 * host and bucket; the processes, distinct (host, pid), from the label
 * sets (store_ch__put_sets_source); the stacks, distinct stacks of the
 * tree's sums (sums_sql: a stack whose samples sum to 0 in the range is
 * not counted). One request, its fields as the samples' summary has
 * them: samples, processes, stacks, first, last, rows.
 */
static int summary_sql(struct store_chdb *db, const struct store_query *q,
		       const struct store_ch_cond *c, char **ret)
{
	struct store_ch_sql s;
	char *sums = NULL;
	int err = sums_sql(db, q, c, &sums);

	if (err)
		return err;
	if (store_ch_sql__open(&s)) {
		free(sums);
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	}
	fputs("SELECT n, (", s.f);
	store_ch__put_sets_source(s.f, q, "uniqExact(host, pid)", c->hosts);
	fprintf(s.f, "), (SELECT uniqExact(stack) FROM (%s)), f, l, r FROM (SELECT sum(count) AS n, "
		"toUInt32(min(time)) AS f, toUInt32(max(time)) AS l, count() AS r FROM "
		STORE_CH_TOTALS_TABLE " WHERE %s)", sums, c->plain);
	free(sums);
	if (store_ch_sql__close(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	*ret = s.buf;
	return 0;
}

/* One row of the sums: count samples of a process's stack. */
struct sum {
	const char *process;
	uint64_t stack, count;
};

int store_chdb__query_tree(struct store_db *handle, const struct store_query *q,
			 struct store_tree **ret_tree)
{
	struct store_chdb *db = store_chdb__of(handle);
	struct store_tree_node root = { .name = "all" };
	struct store_ch_cache *cache;
	bool locked = false;
	struct store_tree *t;
	struct store_ch_cond c = { 0 };
	struct sum *sums = NULL;
	struct placed *rows = NULL;
	uint64_t *stacks = NULL;
	size_t n = 0, cap = 0;
	char *text = NULL, *sql = NULL, *p, *f[3];
	uint32_t index;
	int err;

	if (!db || !ret_tree)
		return -EINVAL;
	cache = db->cache;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->max = q ? q->max_tree_nodes : 0;
	/* (its name is interned below, with the cache's lock) */
	err = store_tree__add(t, &root, &index);
	if (!err)
		err = store_chdb__cond(db, q, &c);
	/* the only read of the samples: their sums per process and stack */
	if (!err && !c.none)
		err = sums_sql(db, q, &c, &sql);
	if (!err && !c.none)
		err = store_chdb__ask(db, sql, "summing the samples per stack", &text);
	for (p = text; !err && store_ch__next_row(&p, f, 3) == 3;) {
		if (COMMON_GROW(sums, cap, n + 1)) {
			err = -ENOMEM;
			break;
		}
		sums[n++] = (struct sum){ f[0], store_ch__num(f[1]), store_ch__num(f[2]) };
	}
	if (!err && (!(stacks = malloc((n + 1) * sizeof(*stacks))) ||
		     !(rows = malloc((n + 1) * sizeof(*rows)))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < n; i++)
		stacks[i] = sums[i].stack;
	/* from here to the unlock: the cache as the fill left it, with its
	 * lock held (other threads' fills wait) */
	if (!err)
		err = store_chdb__cache_fill(db, stacks, n);
	if (!err) {
		locked = true;
		err = store_ch_cache__text(cache, "all", false, &t->nodes[0].name);
	}
	for (size_t i = 0; !err && i < n; i++) {
		struct store_tree_node pn = { .kind = STORE_FRAME_PROCESS };
		int64_t si;

		if (!store_map__get(&cache->stacks, &sums[i].stack, sizeof(sums[i].stack), &si)) {
			err = store_chdb__fail(db, -EIO, "the fleet store has samples of a stack it does not "
				   "define (shipped out of order?)");
			break;
		}
		rows[i].stack = (uint32_t)si;
		rows[i].count = sums[i].count;
		if ((err = store_ch_cache__text(cache, sums[i].process, false, &pn.name)) < 0 ||
		    (err = store_ch_cache__ident(cache, &pn, &rows[i].proc)) < 0)
			break;
	}
	if (!err) {
		qsort_r(rows, n, sizeof(*rows), compare_placed, cache);
		err = place_rows(t, cache, rows, n);
	}
	if (!err)
		t->texts = store_map__arena(&cache->texts);
	if (locked)
		pthread_mutex_unlock(&cache->lock);

	if (err == -E2BIG) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the tree has more than %zu nodes", t->max);
		err = store_chdb__fail(db, -E2BIG, msg);
	} else if (err == -ENOMEM) {
		err = store_chdb__fail(db, -ENOMEM, "out of memory");
	}
	free(sql);
	free(text);
	free(sums);
	free(rows);
	free(stacks);
	store_ch_cond__free(&c);
	if (!err) {
		/* parents precede children: one backward pass sums subtrees */
		for (size_t i = t->n - 1; i > 0; i--) {
			struct store_tree_node *nd = &t->nodes[i];

			nd->total += nd->self;
			t->nodes[nd->parent].total += nd->total;
		}
		t->nodes[0].total += t->nodes[0].self;
		*ret_tree = t;
		return 0;
	}
	store_tree__free(t);
	return err;
}

/* ---- span, timeline ---- */

/* First bucket start, last bucket end, the latest bucket's duration and
 * whether any is in q's range (its filter not applied, as SQLite's, but
 * for a host="NAME" term: that host's flushes are its recording's). */
static int data_span(struct store_chdb *db, const struct store_query *q, int64_t *ret_first,
		     int64_t *ret_end, uint32_t *ret_step, bool *ret_empty)
{
	char *text = NULL, *p, *f[4];
	struct store_ch_sql s;
	int err;

	if (q && q->from_s > q->to_s)
		return store_chdb__fail(db, -EINVAL, "time range ends before it starts");
	if (store_ch_sql__open(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	/* (the totals: a row per host and bucket, as fresh as the samples) */
	fputs("SELECT toUInt32(min(time)), max(toUInt32(time) + duration), "
	      "argMax(duration, time), count() FROM " STORE_CH_TOTALS_TABLE " WHERE ", s.f);
	store_ch__put_plain_range(s.f, q);
	/* (a host="NAME" filter: that host's flushes, as its own file's) */
	store_ch__put_required_host(s.f, q);
	if (store_ch_sql__close(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	err = store_chdb__ask(db, s.buf, "reading the time span", &text);
	free(s.buf);
	if (err)
		return err;
	p = text;
	*ret_first = *ret_end = 0;
	*ret_step = 10;
	*ret_empty = true;
	if (store_ch__next_row(&p, f, 4) == 4 && store_ch__num(f[3])) {
		*ret_first = (int64_t)store_ch__num(f[0]);
		*ret_end = (int64_t)store_ch__num(f[1]);
		*ret_step = (uint32_t)store_ch__num(f[2]);
		*ret_empty = false;
	}
	free(text);
	return 0;
}

int store_chdb__span(struct store_db *handle, const struct store_query *q, int64_t *ret_first,
		   int64_t *ret_end, uint32_t *ret_step)
{
	struct store_chdb *db = store_chdb__of(handle);
	uint32_t step;
	bool empty;
	int err;

	if (!db || !ret_first || !ret_end)
		return -EINVAL;
	err = data_span(db, q, ret_first, ret_end, &step, &empty);
	if (!err && ret_step)
		*ret_step = step;
	return err;
}

int store_chdb__flush_span(struct store_db *handle, const struct store_query *q,
			 int64_t *ret_first, int64_t *ret_end)
{
	return store_chdb__span(handle, q, ret_first, ret_end, NULL);
}

/* The SQL of a label's value as store_labels__value gives it. */
static void put_label_expr(FILE *f, const char *name)
{
	if (!strcmp(name, "host") || !strcmp(name, "process") || !strcmp(name, "thread")) {
		fputs(name, f);
	} else if (!strcmp(name, "pid") || !strcmp(name, "tid")) {
		fprintf(f, "toString(%s)", name);
	} else if (!strcmp(name, "cgroup")) {
		fputs("toString(cgroup)", f);
	} else {
		/* (index 0, absent, gives '') */
		fputs("label_values[indexOf(label_keys, ", f);
		store_ch__put_literal(f, name);
		fputs(")]", f);
	}
}

static int compare_series(const void *pa, const void *pb)
{
	const struct store_timeline_series *a = pa, *b = pb;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

static int fill_timeline(struct store_chdb *db, const struct store_query *q,
			 const char *split, struct store_timeline *t)
{
	struct store_map by_value = { 0 };
	struct store_ch_cond c;
	char *text = NULL, *p, *f[3];
	struct store_ch_sql s;
	bool totals;
	int err;

	err = store_chdb__cond(db, q, &c);
	if (err || c.none)
		goto out;
	if (store_ch_sql__open(&s)) {
		err = -ENOMEM;
		goto out;
	}
	fprintf(s.f, "SELECT intDiv(toInt64(toUInt32(time)) - %lld, %lld) AS k, ",
		(long long)t->from_s, (long long)t->step_s);
	if (split)
		put_label_expr(s.f, split);
	else
		fputs("''", s.f);
	/* (no label but the host asked: the totals per host and bucket) */
	totals = !c.by_labelset && (!split || !strcmp(split, "host"));
	fprintf(s.f, " AS v, sum(count) FROM %s WHERE %s AND toInt64(toUInt32(time)) >= %lld "
		"AND toInt64(toUInt32(time)) < %lld GROUP BY k, v HAVING sum(count) != 0",
		totals ? STORE_CH_TOTALS_TABLE : "samples", totals ? c.plain : c.text,
		(long long)t->from_s,
		(long long)(t->from_s + (int64_t)t->n_steps * t->step_s));
	err = store_ch_sql__close(&s);
	if (err)
		goto out;
	err = store_chdb__ask(db, s.buf, "summing the timeline", &text);
	free(s.buf);
	for (p = text; !err && store_ch__next_row(&p, f, 3) == 3;) {
		const char *value = split ? f[1] : NULL;
		int64_t k = strtoll(f[0], NULL, 10), si;
		uint64_t n = store_ch__num(f[2]);

		if (k < 0 || (size_t)k >= t->n_steps)
			continue;
		if (!store_map__get(&by_value, f[1], strlen(f[1]), &si)) {
			struct store_timeline_series *g = realloc(t->series,
								  (t->n_series + 1) * sizeof(*g));

			if (!g) {
				err = -ENOMEM;
				break;
			}
			t->series = g;
			g = &t->series[t->n_series];
			memset(g, 0, sizeof(*g));
			g->counts = calloc(t->n_steps, sizeof(uint64_t));
			g->value = value ? strdup(value) : NULL;
			if (!g->counts || (value && !g->value)) {
				free(g->counts);
				free((char *)g->value);
				err = -ENOMEM;
				break;
			}
			si = (int64_t)t->n_series++;
			if (store_map__put(&by_value, f[1], strlen(f[1]), si, NULL) < 0) {
				err = -ENOMEM;
				break;
			}
		}
		t->series[si].counts[k] += n;
		t->series[si].total += n;
	}
	if (!err && t->n_series > 1)
		qsort(t->series, t->n_series, sizeof(*t->series), compare_series);
out:
	store_map__free(&by_value);
	store_ch_cond__free(&c);
	free(text);
	return err == -ENOMEM ? store_chdb__fail(db, err, "out of memory") : err;
}

int store_chdb__query_timeline(struct store_db *handle, const struct store_query *q,
			     int64_t step_s, const char *split_label,
			     struct store_timeline **ret_timeline)
{
	struct store_chdb *db = store_chdb__of(handle);
	struct store_query range = { .from_s = INT64_MIN, .to_s = INT64_MAX };
	struct store_timeline *t;
	int64_t first = 0, end = 0, from, to;
	uint32_t bucket;
	bool empty = true;
	int err;

	if (!db || !ret_timeline)
		return -EINVAL;
	if (q)
		range = *q;
	if (range.from_s > range.to_s)
		return store_chdb__fail(db, -EINVAL, "time range ends before it starts");
	if (step_s < 0)
		return store_chdb__fail(db, -EINVAL, "negative step");
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = data_span(db, &range, &first, &end, &bucket, &empty);
	if (err)
		goto out;
	from = range.from_s != INT64_MIN ? range.from_s : first;
	to = range.to_s != INT64_MAX ? range.to_s : end;
	if (range.from_s == INT64_MIN && range.to_s == INT64_MAX && empty)
		goto done;
	if (to <= from) {
		t->from_s = from;
		t->step_s = step_s;
		goto done;
	}
	if (step_s == 0)
		step_s = store_time__auto_step(to - from);
	if (range.from_s == INT64_MIN)
		from = store_time__floor(from, step_s);
	if ((to - from) / step_s >= STORE_TIMELINE_MAX_STEPS) {
		err = store_chdb__fail(db, -EINVAL, "too many steps: choose a longer step or a shorter range");
		goto out;
	}
	t->from_s = from;
	t->step_s = step_s;
	t->n_steps = (size_t)((to - from + step_s - 1) / step_s);
	err = fill_timeline(db, &range, split_label, t);
	if (err)
		goto out;
done:
	if (t->n_steps && !t->n_series) {
		/* one series of zeros, as when the range is empty */
		t->series = calloc(1, sizeof(*t->series));
		if (!t->series || !(t->series[0].counts = calloc(t->n_steps, sizeof(uint64_t)))) {
			err = -ENOMEM;
			goto out;
		}
		t->n_series = 1;
	}
	*ret_timeline = t;
	return 0;
out:
	store_timeline__free(t);
	return err;
}

int store_chdb__drops_timeline(struct store_db *handle, int64_t from, int64_t step, size_t n,
			     uint64_t *counts)
{
	struct store_chdb *db = store_chdb__of(handle);
	char *sql = NULL, *text = NULL, *p, *f[2];
	int err;

	if (!db || !counts || step <= 0)
		return -EINVAL;
	if (!n)
		return 0;
	if (asprintf(&sql, "SELECT intDiv(toInt64(toUInt32(time)) - %lld, %lld) AS k, sum(count) "
		     "FROM drops WHERE kind = 0 AND toInt64(toUInt32(time)) >= %lld AND "
		     "toInt64(toUInt32(time)) < %lld GROUP BY k", (long long)from, (long long)step,
		     (long long)from, (long long)(from + (int64_t)n * step)) < 0)
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	err = store_chdb__ask(db, sql, "summing the drops per step", &text);
	free(sql);
	for (p = text; !err && store_ch__next_row(&p, f, 2) == 2;) {
		long long k = strtoll(f[0], NULL, 10);

		if (k >= 0 && (size_t)k < n)
			counts[k] += store_ch__num(f[1]);
	}
	free(text);
	return err;
}
