/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_python.c — how many samples of each Python process got their
 * Python frames: per flush and per process (name, pid, the interpreter's
 * version, or that its version is not supported), the samples seen, those
 * with Python frames, and the Python frames written and named. The writer
 * adds them inside a flush (profiler/python.c counts them as it merges the
 * frames); `ember report --coverage` sums them over a range. Like the
 * symbolization coverage beside it (store_coverage.c), the table is made by
 * the first writer that needs it, so older files read as "none recorded"
 * and the schema version does not change.
 */
#include "store_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char create_sql[] =
	"CREATE TABLE IF NOT EXISTS python_coverage ("
	" time_s INTEGER NOT NULL,"
	" process TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" interpreter TEXT NOT NULL,"
	" samples INTEGER NOT NULL,"
	" with_python INTEGER NOT NULL,"
	" frames INTEGER NOT NULL,"
	" named INTEGER NOT NULL,"
	" PRIMARY KEY (time_s, process, pid, interpreter)) WITHOUT ROWID";

int store_sqlite__add_python_coverage(struct store_db *handle, const char *process,
				      uint32_t pid, const char *interpreter, uint64_t samples,
				      uint64_t with_python, uint64_t frames, uint64_t named)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	int64_t time_s;
	int r;

	if (!db || !process || !interpreter)
		return -EINVAL;
	r = store_write__flush_time(db, &time_s);
	if (r < 0)
		return r;
	r = store_sql__exec(db, create_sql);
	if (r < 0)
		return r;
	return STORE_SQL_PUT(db, STMT_PYTHON_COVERAGE_ADD,
		"INSERT INTO python_coverage (time_s, process, pid, interpreter, samples,"
		" with_python, frames, named) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT (time_s, process, pid, interpreter) DO UPDATE SET"
		" samples = samples + ?5, with_python = with_python + ?6,"
		" frames = frames + ?7, named = named + ?8",
		STORE_SQL_INT(time_s), STORE_SQL_TEXT(process), STORE_SQL_INT(pid),
		STORE_SQL_TEXT(interpreter), STORE_SQL_INT(samples), STORE_SQL_INT(with_python),
		STORE_SQL_INT(frames), STORE_SQL_INT(named));
}

void store_python_coverage__free(struct store_python_coverage *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].process);
		free(c[i].interpreter);
	}
	free(c);
}

/* What python_row fills. */
struct python_rows {
	struct store_python_coverage *v;
	size_t n, cap;
};

/* One process's row. */
static int python_row(sqlite3_stmt *st, void *ctx)
{
	struct python_rows *p = ctx;
	const char *process = (const char *)sqlite3_column_text(st, 0);
	const char *interp = (const char *)sqlite3_column_text(st, 2);
	int r = COMMON_GROW(p->v, p->cap, p->n + 1);

	if (r < 0)
		return r;
	p->v[p->n++] = (struct store_python_coverage){
		.process = strdup(process ? process : ""),
		.pid = (uint32_t)sqlite3_column_int64(st, 1),
		.interpreter = strdup(interp ? interp : ""),
		.samples = (uint64_t)sqlite3_column_int64(st, 3),
		.with_python = (uint64_t)sqlite3_column_int64(st, 4),
		.frames = (uint64_t)sqlite3_column_int64(st, 5),
		.named = (uint64_t)sqlite3_column_int64(st, 6),
	};
	if (!p->v[p->n - 1].process || !p->v[p->n - 1].interpreter)
		return -ENOMEM;
	return 0;
}

int store_sqlite__query_python_coverage(struct store_db *handle, const struct store_query *q,
					struct store_python_coverage **ret_entries, size_t *ret_n)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct python_rows p = { 0 };
	int r;

	if (!db)
		return -EINVAL;
	/* (a file written before Python coverage was recorded: nothing) */
	r = store_sql__range_rows(db,
		"SELECT process, pid, interpreter, sum(samples), sum(with_python), sum(frames),"
		" sum(named) FROM python_coverage WHERE time_s >= ?1 AND time_s < ?2"
		" GROUP BY process, pid, interpreter ORDER BY sum(samples) DESC, process, pid",
		q, python_row, &p);
	if (r < 0) {
		store_python_coverage__free(p.v, p.n);
		return r;
	}
	*ret_entries = p.v;
	*ret_n = p.n;
	return 0;
}
