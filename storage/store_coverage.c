/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_coverage.c — how well each binary was symbolized: per flush and per
 * binary (module path and build-id), the frames seen, the frames given a
 * function name and the frames given a file and line. The writer adds them
 * inside a flush (profiler/ counts them while it symbolizes); readers sum
 * them over a time range for `ember report --coverage`. Beside it, per
 * binary and reason, the frames whose debug information was there but
 * could not be read (a dwz file or .dwo missing, a form or compression
 * the reader does not know). A binary (path and build-id) is a row of
 * coverage_modules, made the first time a flush names it; the rows per
 * flush carry its id (schema 8; see store_migrate.c).
 */
#include "store_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The id of module (path, build-id or NULL) in coverage_modules, made
 * when it is not there yet: from the writer's cache (a flush names the
 * same 30-odd binaries as the one before), else two statements. Returns
 * 0 and *ret_id, or -errno. */
static int module_id(struct store_sqlite *db, const char *module, const char *build_id,
		     int64_t *ret_id)
{
	static const char *const sql[] = {
		"INSERT INTO coverage_modules (module, build_id) VALUES (?1, ?2)"
		" ON CONFLICT DO NOTHING",
		"SELECT id FROM coverage_modules WHERE module = ?1 AND build_id = ?2",
	};
	static const enum store_stmt ids[] = { STMT_MODULE_ADD, STMT_MODULE_GET };
	struct store_map *cache = store_write__modules(db);
	size_t lm = strlen(module), lb = build_id ? strlen(build_id) : 0;
	char *key = malloc(lm + lb + 2);
	sqlite3_stmt *st;
	int rc = SQLITE_OK, r = 0;

	if (!key)
		return -ENOMEM;
	memcpy(key, module, lm + 1);
	memcpy(key + lm + 1, build_id ? build_id : "", lb + 1);
	if (cache && store_map__get(cache, key, lm + lb + 1, ret_id))
		goto out;
	for (int i = 0; i < 2 && r == 0; i++) {
		r = store_sql__stmt(db, ids[i], sql[i], &st);
		if (r < 0)
			break;
		sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, build_id ? build_id : "", -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*ret_id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != (i ? SQLITE_ROW : SQLITE_DONE))
			r = store_sql__fail(db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
	}
	if (r == 0 && cache)
		r = store_map__put(cache, key, lm + lb + 1, *ret_id, NULL);
out:
	free(key);
	return r;
}

/* The key of a coverage row of the open flush: its time and the
 * binary's id. Returns 0 or -errno. */
static int coverage_key(struct store_sqlite *db, const char *module, const char *build_id,
			int64_t *ret_time_s, int64_t *ret_id)
{
	int r = store_write__flush_time(db, ret_time_s);

	return r < 0 ? r : module_id(db, module, build_id, ret_id);
}

int store_sqlite__add_coverage_issue(struct store_db *handle, const char *module,
				 const char *build_id, const char *reason,
				 uint64_t frames)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	int64_t time_s, id;
	int r;

	if (!db || !module || !reason)
		return -EINVAL;
	r = coverage_key(db, module, build_id, &time_s, &id);
	if (r < 0)
		return r;
	return STORE_SQL_PUT(db, STMT_COVERAGE_ISSUE_ADD,
		"INSERT INTO coverage_issue (time_s, module, reason, frames)"
		" VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (time_s, module, reason) DO UPDATE SET"
		" frames = frames + ?4",
		STORE_SQL_INT(time_s), STORE_SQL_INT(id), STORE_SQL_TEXT(reason),
		STORE_SQL_INT(frames));
}

int store_sqlite__add_coverage(struct store_db *handle, const char *module,
			   const char *build_id, uint64_t seen,
			   uint64_t with_function, uint64_t with_line)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	int64_t time_s, id;
	int r;

	if (!db || !module)
		return -EINVAL;
	r = coverage_key(db, module, build_id, &time_s, &id);
	if (r < 0)
		return r;
	return STORE_SQL_PUT(db, STMT_COVERAGE_ADD,
		"INSERT INTO coverage (time_s, module, seen, with_function, with_line)"
		" VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (time_s, module) DO UPDATE SET"
		" seen = seen + ?3, with_function = with_function + ?4,"
		" with_line = with_line + ?5",
		STORE_SQL_INT(time_s), STORE_SQL_INT(id), STORE_SQL_INT(seen),
		STORE_SQL_INT(with_function), STORE_SQL_INT(with_line));
}

void store_coverage__free(struct store_coverage *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].module);
		free(c[i].build_id);
		for (size_t k = 0; k < c[i].n_issues; k++)
			free(c[i].issues[k].reason);
		free(c[i].issues);
	}
	free(c);
}

/* What the row callbacks of the queries below fill. */
struct coverage_rows {
	struct store_coverage *v;
	size_t n, cap;
};

/* One coverage_issue row: its reason and frames to its binary's entry. */
static int issue_row(sqlite3_stmt *st, void *ctx)
{
	struct coverage_rows *c = ctx;
	const char *module = (const char *)sqlite3_column_text(st, 0);
	const char *id = (const char *)sqlite3_column_text(st, 1);
	const char *reason = (const char *)sqlite3_column_text(st, 2);

	for (size_t i = 0; i < c->n && module && reason; i++) {
		struct store_coverage *e = &c->v[i];
		struct store_coverage_issue *p;

		if (strcmp(e->module, module) != 0 ||
		    strcmp(e->build_id ? e->build_id : "", id ? id : "") != 0)
			continue;
		p = reallocarray(e->issues, e->n_issues + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		e->issues = p;
		p[e->n_issues].reason = strdup(reason);
		p[e->n_issues].frames = (uint64_t)sqlite3_column_int64(st, 3);
		if (!p[e->n_issues].reason)
			return -ENOMEM;
		e->n_issues++;
		break;
	}
	return 0;
}

/* One binary's coverage row. */
static int coverage_row(sqlite3_stmt *st, void *ctx)
{
	struct coverage_rows *c = ctx;
	const char *module = (const char *)sqlite3_column_text(st, 0);
	const char *id = (const char *)sqlite3_column_text(st, 1);
	int r = COMMON_GROW(c->v, c->cap, c->n + 1);

	if (r < 0)
		return r;
	c->v[c->n++] = (struct store_coverage){
		.module = strdup(module ? module : ""),
		.build_id = id && id[0] ? strdup(id) : NULL,
		.seen = (uint64_t)sqlite3_column_int64(st, 2),
		.with_function = (uint64_t)sqlite3_column_int64(st, 3),
		.with_line = (uint64_t)sqlite3_column_int64(st, 4),
	};
	if (!c->v[c->n - 1].module || (id && id[0] && !c->v[c->n - 1].build_id))
		return -ENOMEM;
	return 0;
}

int store_sqlite__query_coverage(struct store_db *handle, const struct store_query *q,
			     struct store_coverage **ret_entries, size_t *ret_n)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct coverage_rows c = { 0 };
	int r;

	if (!db)
		return -EINVAL;
	/* (a file written before coverage was recorded: nothing to show) */
	r = store_sql__range_rows(db,
		"SELECT m.module, m.build_id, sum(c.seen), sum(c.with_function),"
		" sum(c.with_line) FROM coverage c JOIN coverage_modules m ON m.id = c.module"
		" WHERE c.time_s >= ?1 AND c.time_s < ?2"
		" GROUP BY c.module ORDER BY sum(c.seen) DESC, m.module",
		q, coverage_row, &c);
	if (r == 0)
		r = store_sql__range_rows(db,
			"SELECT m.module, m.build_id, c.reason, sum(c.frames) FROM coverage_issue c"
			" JOIN coverage_modules m ON m.id = c.module"
			" WHERE c.time_s >= ?1 AND c.time_s < ?2"
			" GROUP BY c.module, c.reason ORDER BY sum(c.frames) DESC, c.reason",
			q, issue_row, &c);
	if (r < 0) {
		store_coverage__free(c.v, c.n);
		return r;
	}
	*ret_entries = c.v;
	*ret_n = c.n;
	return 0;
}
