/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_maintain.c — retention and downsampling, run by the writer between
 * flushes (profiler/session.c calls store_sqlite__maintain every few minutes):
 * old buckets are merged into coarser ones with their counts summed, data
 * past the maximum age or beyond the maximum size is removed, rows nothing
 * refers to any more are collected, and free pages go back to the file
 * system (the file uses auto_vacuum = INCREMENTAL, see store_migrate.c).
 *
 * Everything but the vacuum is one transaction: a crash leaves the file as
 * before or as after a run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common.h"
#include "store_formats.h"
#include "store_ops.h"

void store_policy_init(struct store_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->tiers[0].after_s = STORE_POLICY_DOWNSAMPLE_1;
	p->tiers[0].step_s = STORE_POLICY_STEP_1;
	p->tiers[1].after_s = STORE_POLICY_DOWNSAMPLE_2;
	p->tiers[1].step_s = STORE_POLICY_STEP_2;
	p->max_age_s = STORE_POLICY_MAX_AGE;
	p->max_bytes = STORE_POLICY_MAX_BYTES;
}

/* Run sql with ?1.. bound to n int64 values; *ret_changes (may be NULL)
 * gets the rows it changed. */
static int exec_ints(struct store_sqlite *db, const char *sql, int64_t *ret_changes,
		     int n, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	va_end(ap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sql__fail(db, rc);
	if (ret_changes)
		*ret_changes = sqlite3_changes64(db->sql);
	return 0;
}

static int query_i64(struct store_sqlite *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_sql__fail(db, rc);
}

static int query_i64_bound(struct store_sqlite *db, const char *sql, int64_t v,
			   int64_t *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, v);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_sql__fail(db, rc);
}

/* Bytes the data takes: pages in use, free pages not counted. */
static int used_bytes(struct store_sqlite *db, uint64_t *ret)
{
	int64_t pages, free_pages, size;
	int r;

	if ((r = query_i64(db, "PRAGMA page_count", &pages)) < 0 ||
	    (r = query_i64(db, "PRAGMA freelist_count", &free_pages)) < 0 ||
	    (r = query_i64(db, "PRAGMA page_size", &size)) < 0)
		return r;
	*ret = (uint64_t)((pages - free_pages) * size);
	return 0;
}

static int file_bytes(struct store_sqlite *db, uint64_t *ret)
{
	int64_t pages, size;
	int r;

	if ((r = query_i64(db, "PRAGMA page_count", &pages)) < 0 ||
	    (r = query_i64(db, "PRAGMA page_size", &size)) < 0)
		return r;
	*ret = (uint64_t)(pages * size);
	return 0;
}

/* floor(time_s / step) * step in SQL, right for negative times too. */
#define FLOOR_STEP "(time_s - ((time_s % ?1) + ?1) % ?1)"

static int add_to_sums(void *ctx, int64_t time_s, int64_t set, int64_t node,
		       uint64_t count)
{
	return store_sums__add(ctx, set, node, count);
}

/* Merge the blocks finer than step in [start, start + step) into one. */
static int merge_bucket(struct store_sqlite *db, int64_t start, int64_t step,
			struct store_sums *m, struct store_block_reader *rd,
			struct store_maintain_stats *stats)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	int r = 0, rc;

	store_sums__clear(m);
	rc = sqlite3_prepare_v2(db->sql, "SELECT time_s, data FROM sample_blocks "
				"WHERE time_s >= ?1 AND time_s < ?1 + ?2 AND "
				"duration_s < ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, start);
	sqlite3_bind_int64(st, 2, step);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = store_block__decode(rd, sqlite3_column_blob(st, 1),
					(size_t)sqlite3_column_bytes(st, 1), NULL,
					sqlite3_column_int64(st, 0), add_to_sums, m);
		if (r == -EINVAL)
			r = store_sql__fail_msg(db, r, "corrupt sample block");
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	r = exec_ints(db, "DELETE FROM sample_blocks WHERE time_s >= ?1 AND "
		      "time_s < ?1 + ?2 AND duration_s < ?2", NULL, 2, start, step);
	if (r == 0 && m->n)
		r = store_block__put(db, start, step, m);
	store_sums__clear(m);
	stats->rows_merged += (uint64_t)(n > 0 ? n - 1 : 0);
	return r;
}

/*
 * The tables whose rows count something per flush: a row per flush and
 * key, its counts summed when buckets merge, removed with the buckets.
 * python_coverage is made by the first flush that writes to it, so a file
 * may not have it. Without these steps they were never downsampled
 * nor removed: an agent's coverage rows (a row per flush and binary, about
 * 110 bytes each) grew by ~27 MB a day on a 2-CPU host, past any retention.
 */
struct counted_table {
	const char *name;
	const char *keys;      /* the key after time_s, as SQL columns */
	const char *sums[5];   /* the counted columns, NULL after the last */
	bool optional;
};

static const struct counted_table counted_tables[] = {
	{ "drops", "reason", { "count" }, false },
	{ "events", "name", { "count" }, false },
	{ "coverage", "module", { "seen", "with_function", "with_line" }, false },
	{ "coverage_issue", "module, reason", { "frames" }, false },
	{ "python_coverage", "process, pid, interpreter",
	  { "samples", "with_python", "frames", "named" }, true },
};

static int table_exists(struct store_sqlite *db, const char *name, bool *ret_exists)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT 1 FROM sqlite_schema WHERE type = 'table' "
				"AND name = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql__fail(db, rc);
	*ret_exists = rc == SQLITE_ROW;
	return 0;
}

/* Whether t is in this file (the required ones always are). */
static int counted_present(struct store_sqlite *db, const struct counted_table *t,
			   bool *ret_present)
{
	if (!t->optional) {
		*ret_present = true;
		return 0;
	}
	return table_exists(db, t->name, ret_present);
}

/* The rows of t in the buckets before cut finer than step, summed into
 * step-sized buckets (through a temporary table: a merged row may have
 * the key of a row it replaces). */
static int downsample_counted(struct store_sqlite *db, const struct counted_table *t,
			      int64_t step, int64_t cut)
{
	char cols[128] = "", sums[256] = "", upd[256] = "", sql[1024];
	const char *fine = "time_s < ?2 AND time_s IN (SELECT time_s FROM flushes "
			   "WHERE time_s < ?2 AND duration_s < ?1)";
	size_t nc = 0, ns = 0, nu = 0;
	bool present;
	int r;

	r = counted_present(db, t, &present);
	if (r < 0 || !present)
		return r;
	for (int i = 0; i < 5 && t->sums[i]; i++) {
		nc += snprintf(cols + nc, sizeof(cols) - nc, ", %s", t->sums[i]);
		ns += snprintf(sums + ns, sizeof(sums) - ns, ", sum(%s)", t->sums[i]);
		nu += snprintf(upd + nu, sizeof(upd) - nu, "%s%s = %s + excluded.%s",
			       i ? ", " : "", t->sums[i], t->sums[i], t->sums[i]);
	}
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS temp.ds_counted;"
		 "CREATE TEMP TABLE ds_counted AS SELECT * FROM main.%s WHERE 0", t->name);
	r = store_sql__exec(db, sql);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "INSERT INTO temp.ds_counted (time_s, %s%s) SELECT "
		 "%s, %s%s FROM main.%s WHERE %s GROUP BY 1, %s",
		 t->keys, cols, FLOOR_STEP, t->keys, sums, t->name, fine, t->keys);
	r = exec_ints(db, sql, NULL, 2, step, cut);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "DELETE FROM main.%s WHERE %s", t->name, fine);
	r = exec_ints(db, sql, NULL, 2, step, cut);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "INSERT INTO main.%s (time_s, %s%s) SELECT time_s, %s%s "
		 "FROM temp.ds_counted WHERE 1 ON CONFLICT (time_s, %s) DO UPDATE SET %s",
		 t->name, t->keys, cols, t->keys, cols, t->keys, upd);
	r = exec_ints(db, sql, NULL, 0);
	if (r == 0)
		r = store_sql__exec(db, "DROP TABLE temp.ds_counted");
	return r;
}

/* Merge every bucket before cut that is finer than step into step-sized
 * buckets. cut is a multiple of step, so no coarse bucket is half done. */
static int downsample(struct store_sqlite *db, int64_t step, int64_t cut,
		      struct store_maintain_stats *stats)
{
	struct store_block_reader rd = { 0 };
	struct store_sums m = { 0 };
	int64_t *starts = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT DISTINCT " FLOOR_STEP
				" FROM sample_blocks WHERE time_s < ?2 AND "
				"duration_s < ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, step);
	sqlite3_bind_int64(st, 2, cut);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = COMMON_GROW(starts, cap, n + 1);
		if (r < 0)
			break;
		starts[n++] = sqlite3_column_int64(st, 0);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = merge_bucket(db, starts[i], step, &m, &rd, stats);
	free(starts);
	store_block_reader__free(&rd);
	store_sums__free(&m);
	if (r < 0)
		return r;
	/* Drops, events and flushes follow the buckets, through temp
	 * tables: a merged row may have the key of a row it replaces. The
	 * counts go first: which buckets were fine is read from flushes. */
	for (size_t i = 0; i < ARRAY_SIZE(counted_tables); i++)
		if ((r = downsample_counted(db, &counted_tables[i], step, cut)) < 0)
			return r;
	r = store_sql__exec(db,
			   "CREATE TEMP TABLE IF NOT EXISTS ds_flushes ("
			   " time_s, n);"
			   "DELETE FROM temp.ds_flushes");
	if (r < 0)
		return r;
	if ((r = exec_ints(db, "INSERT INTO temp.ds_flushes "
			   "SELECT " FLOOR_STEP ", sum(n) FROM flushes "
			   "WHERE time_s < ?2 AND duration_s < ?1 GROUP BY 1",
			   NULL, 2, step, cut)) < 0 ||
	    (r = exec_ints(db, "DELETE FROM flushes "
			   "WHERE time_s < ?2 AND duration_s < ?1", NULL, 2,
			   step, cut)) < 0 ||
	    (r = exec_ints(db, "INSERT INTO flushes (time_s, duration_s, n) "
			   "SELECT time_s, ?1, n FROM temp.ds_flushes WHERE 1 "
			   "ON CONFLICT (time_s) DO UPDATE SET n = n + excluded.n, "
			   "duration_s = max(duration_s, excluded.duration_s)",
			   NULL, 1, step)) < 0)
		return r;
	return 0;
}

/* Remove every bucket that starts before cut. */
static int remove_before(struct store_sqlite *db, int64_t cut,
			 struct store_maintain_stats *stats)
{
	int64_t n = 0, samples = 0;
	int r;

	r = query_i64_bound(db, "SELECT coalesce(sum(total), 0) FROM "
			    "sample_blocks WHERE time_s < ?1", cut, &samples);
	if (r < 0)
		return r;
	if ((r = exec_ints(db, "DELETE FROM sample_blocks WHERE time_s < ?1",
			   &n, 1, cut)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(counted_tables); i++) {
		char sql[128];
		bool present;

		if ((r = counted_present(db, &counted_tables[i], &present)) < 0)
			return r;
		if (!present)
			continue;
		snprintf(sql, sizeof(sql), "DELETE FROM main.%s WHERE time_s < ?1",
			 counted_tables[i].name);
		if ((r = exec_ints(db, sql, NULL, 1, cut)) < 0)
			return r;
	}
	if ((r = exec_ints(db, "DELETE FROM flushes WHERE time_s < ?1", NULL, 1,
			   cut)) < 0)
		return r;
	stats->rows_removed += (uint64_t)n;
	stats->samples_removed += (uint64_t)samples;
	return 0;
}

/* Fill temp table name (one integer column id) with ids[0..n);
 * duplicates are fine. */
static int temp_ids(struct store_sqlite *db, const char *name, const int64_t *ids,
		    size_t n)
{
	sqlite3_stmt *ins = NULL;
	char sql[128];
	int r, rc;

	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS temp.%s;"
		 "CREATE TEMP TABLE %s (id INTEGER PRIMARY KEY)", name, name);
	r = store_sql__exec(db, sql);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO temp.%s VALUES (?1)",
		 name);
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &ins, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, ids[i]);
		rc = sqlite3_step(ins);
		if (rc != SQLITE_DONE) {
			r = store_sql__fail(db, rc);
			break;
		}
	}
	sqlite3_finalize(ins);
	return r;
}

/* Mark in keep (indexed like all) the rows that column col of the rows
 * of from names. */
static void mark_refs(const struct store_rows *all, bool *keep,
		      const struct store_rows *from, int col)
{
	ssize_t k;

	for (size_t i = 0; i < from->n; i++)
		if ((k = store_rows__find(all, from->v[i].v[col])) >= 0)
			keep[k] = true;
}

/* Keep the rows of all (table t) that keep marks, and repack t when any
 * go. */
static int keep_rows(struct store_sqlite *db, enum store_packed_table t,
		     struct store_rows *all, const bool *keep,
		     struct store_maintain_stats *stats)
{
	size_t kept = 0;

	for (size_t i = 0; i < all->n; i++)
		if (keep[i])
			all->v[kept++] = all->v[i];
	if (kept == all->n)
		return 0;
	stats->rows_collected += all->n - kept;
	all->n = kept;
	return store_packed__replace(db, t, all->v, kept);
}

/*
 * Collect the packed tables: the stack nodes on the path of a stack some
 * block still uses (leaves from the blocks, then every ancestor: parents
 * have smaller ids, so one pass from the largest id down marks whole
 * paths), the frames those nodes name, the functions of those frames; the
 * label sets the blocks use. A table is repacked when any of its rows go
 * (ids stay). The strings the kept frames, functions and label sets name
 * go to temp.live_strings.
 */
static int collect_packed(struct store_sqlite *db, const struct store_sums *live,
			  struct store_maintain_stats *stats)
{
	struct store_rows nodes = { 0 }, frames = { 0 }, functions = { 0 }, sets = { 0 };
	int64_t *strings = NULL;
	bool *keep = NULL;
	size_t n = 0;
	ssize_t k;
	int r;

	if ((r = store_packed__load_all(db, STORE_PACKED_NODES, &nodes)) < 0 ||
	    (r = store_packed__load_all(db, STORE_PACKED_FRAMES, &frames)) < 0 ||
	    (r = store_packed__load_all(db, STORE_PACKED_FUNCTIONS, &functions)) < 0 ||
	    (r = store_packed__load_all(db, STORE_PACKED_LABELS, &sets)) < 0)
		goto out;
	keep = calloc(MAX(MAX(nodes.n, sets.n), MAX(frames.n, functions.n)) + 1,
		      sizeof(*keep));
	strings = calloc(3 * functions.n + frames.n + 4 * sets.n + 1, sizeof(*strings));
	if (!keep || !strings) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < live->n; i++)
		if ((k = store_rows__find(&sets, live->v[i].a)) >= 0)
			keep[k] = true;
	r = keep_rows(db, STORE_PACKED_LABELS, &sets, keep, stats);
	if (r < 0)
		goto out;
	memset(keep, 0, sets.n * sizeof(*keep));
	for (size_t i = 0; i < live->n; i++)
		if ((k = store_rows__find(&nodes, live->v[i].b)) >= 0)
			keep[k] = true;
	for (size_t i = nodes.n; i-- > 0;)
		if (keep[i] && nodes.v[i].v[0] &&
		    (k = store_rows__find(&nodes, nodes.v[i].v[0])) >= 0)
			keep[k] = true;
	r = keep_rows(db, STORE_PACKED_NODES, &nodes, keep, stats);
	if (r < 0)
		goto out;
	memset(keep, 0, frames.n * sizeof(*keep));
	mark_refs(&frames, keep, &nodes, 1);
	r = keep_rows(db, STORE_PACKED_FRAMES, &frames, keep, stats);
	if (r < 0)
		goto out;
	memset(keep, 0, functions.n * sizeof(*keep));
	mark_refs(&functions, keep, &frames, 0);
	r = keep_rows(db, STORE_PACKED_FUNCTIONS, &functions, keep, stats);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < functions.n; i++)
		for (int c = 0; c < 3; c++)
			strings[n++] = functions.v[i].v[c];
	for (size_t i = 0; i < frames.n; i++)
		strings[n++] = frames.v[i].v[2]; /* build-id */
	for (size_t i = 0; i < sets.n; i++) {
		strings[n++] = sets.v[i].v[0]; /* host */
		strings[n++] = sets.v[i].v[1]; /* process */
		strings[n++] = sets.v[i].v[3]; /* thread */
		strings[n++] = sets.v[i].v[6]; /* extra */
	}
	r = temp_ids(db, "live_strings", strings, n);
out:
	free(strings);
	free(keep);
	store_rows__free(&sets);
	store_rows__free(&functions);
	store_rows__free(&frames);
	store_rows__free(&nodes);
	return r;
}

/* Delete rows nothing refers to, leaves first: label sets, stack nodes
 * off every stored stack's path, then frames, functions and strings, and
 * the binaries no coverage row names. */
static int collect(struct store_sqlite *db, struct store_maintain_stats *stats)
{
	static const char *const steps[] = {
		"DELETE FROM strings WHERE id NOT IN ("
		" SELECT id FROM temp.live_strings UNION ALL"
		" SELECT reason FROM drops UNION ALL"
		" SELECT name FROM events)",
		"DELETE FROM coverage_modules WHERE id NOT IN ("
		" SELECT module FROM coverage UNION ALL"
		" SELECT module FROM coverage_issue)",
		"DROP TABLE temp.live_strings",
		/* Readers' caches of ids are stale now. */
		"INSERT INTO meta (key, value) VALUES ('gc_generation', 1) "
		"ON CONFLICT (key) DO UPDATE SET value = value + 1",
	};
	struct store_sums live = { 0 };
	int64_t n;
	int r;

	/* The label sets and leaf nodes the remaining blocks use. */
	r = store_block__scan(db, NULL, NULL, add_to_sums, &live);
	if (r == 0)
		r = collect_packed(db, &live, stats);
	store_sums__free(&live);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		n = 0;
		r = exec_ints(db, steps[i], &n, 0);
		if (r < 0)
			return r;
		if (!strncmp(steps[i], "DELETE", 6))
			stats->rows_collected += (uint64_t)n;
	}
	return 0;
}

static int check_policy(const struct store_policy *p)
{
	int64_t last_after = 0, last_step = 0;

	for (int i = 0; i < STORE_POLICY_TIERS; i++) {
		if (!p->tiers[i].after_s)
			continue;
		if (p->tiers[i].after_s < 0 || p->tiers[i].step_s <= 0 ||
		    p->tiers[i].after_s <= last_after ||
		    p->tiers[i].step_s <= last_step)
			return -EINVAL;
		last_after = p->tiers[i].after_s;
		last_step = p->tiers[i].step_s;
	}
	return p->max_age_s < 0 ? -EINVAL : 0;
}

static int maintain_locked(struct store_sqlite *db, int64_t now_s,
			   const struct store_policy *p,
			   struct store_maintain_stats *stats)
{
	bool removed = false;
	uint64_t used;
	int r;

	for (int i = 0; i < STORE_POLICY_TIERS; i++) {
		int64_t step = p->tiers[i].step_s, cut;

		if (!p->tiers[i].after_s)
			continue;
		cut = store_time__floor(now_s - p->tiers[i].after_s, step);
		r = downsample(db, step, cut, stats);
		if (r < 0)
			return r;
	}
	if (p->max_age_s) {
		uint64_t before = stats->rows_removed;

		/* A bucket is past the age once it has ended: the longest
		 * bucket is the coarsest step. */
		r = remove_before(db, now_s - p->max_age_s, stats);
		if (r < 0)
			return r;
		removed |= stats->rows_removed > before;
	}
	if (removed) {
		r = collect(db, stats);
		if (r < 0)
			return r;
	}
	/* Over the size limit: drop the oldest tenth of the span, collect,
	 * measure again. Bounded: each round removes data or stops. */
	for (int round = 0; p->max_bytes && round < 30; round++) {
		int64_t first, last;

		r = used_bytes(db, &used);
		if (r < 0)
			return r;
		if (used <= p->max_bytes)
			break;
		if ((r = query_i64(db, "SELECT coalesce(min(time_s), 0) "
				   "FROM flushes", &first)) < 0 ||
		    (r = query_i64(db, "SELECT coalesce(max(time_s), 0) "
				   "FROM flushes", &last)) < 0)
			return r;
		if (last <= first)
			break; /* one bucket left: keep the newest data */
		r = remove_before(db, first + (last - first) / 10 + 1, stats);
		if (r == 0)
			r = collect(db, stats);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_sqlite__maintain(struct store_db *handle, int64_t now_s,
		       const struct store_policy *p,
		       struct store_maintain_stats *ret_stats)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_maintain_stats stats = { 0 };
	struct store_policy defaults;
	int r;

	if (!db)
		return -EINVAL;
	if (!p) {
		store_policy_init(&defaults);
		p = &defaults;
	}
	if (check_policy(p) < 0)
		return store_sql__fail_msg(db, -EINVAL, "bad retention policy");
	if (!db->writable)
		return store_sql__fail_msg(db, -EROFS, "read-only handle");
	if (store_sql__in_transaction(db))
		return store_sql__fail_msg(db, -EBUSY, "a flush is open");
	r = file_bytes(db, &stats.bytes_before);
	if (r < 0)
		return r;
	r = store_sql__exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = maintain_locked(db, now_s, p, &stats);
	if (r == 0)
		r = store_sql__exec(db, "COMMIT");
	if (r < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	/* The writer's id caches (and every reader's) see that rows were
	 * collected by gc_generation, which collect() raised, and load
	 * anew at their next flush (or read). */
	/* Give the free pages back; harmless on a file without
	 * auto_vacuum (then it does nothing). */
	r = store_sql__exec(db, "PRAGMA incremental_vacuum");
	/* The agent's idle moment: what the WAL holds goes into the file
	 * and the WAL is cut to nothing, unless a reader is in the way
	 * (then as much as it allows; never waiting for one). */
	if (r == 0) {
		r = store_sql__checkpoint(db, STORE_CHECKPOINT_IDLE);
		if (r == -EBUSY)
			r = 0;
	}
	if (r == 0)
		r = file_bytes(db, &stats.bytes_after);
	if (r < 0)
		return r;
	if (ret_stats)
		*ret_stats = stats;
	return 0;
}
