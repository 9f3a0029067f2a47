/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite.c — the SQLite backend behind storage.h, on top of its
 * layers (storage/DESIGN.md): its operations table (store_backend.h);
 * store_sqlite__open opens the file (layer 1, store_sql.c) and brings a
 * writable one to the current schema (store_migrate.c); the close closes
 * the layers top down, each freeing the state it keeps on the handle (the
 * writer's flush and id caches, the query's work arrays, the read cache)
 * before the connection; seal finishes a file. Also what the layer above
 * the backends asks of it besides storage.h's operations: whether a flush
 * may begin, the span of the flushes, where frames are in their binaries.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_cache.h"
#include "store_ch.h"
#include "store_ops.h"

static void sqlite_close(struct store_db *handle);
static const struct store_backend sqlite_backend;

/* Whether the directory that holds path exists. */
static bool dir_exists(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;

	if (!slash)
		return true;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_sqlite__open(const char *path, unsigned flags, struct store_db **ret_db)
{
	struct store_sqlite *db;
	int r;

	if (!path || !ret_db)
		return -EINVAL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->base.ops = &sqlite_backend;
	r = store_sql__open(db, path, flags);
	if (r == 0 && db->writable) {
		r = store_migrate__run(db);
		/* What a previous run left in the WAL (a full disk, a
		 * crash) goes into the file now and the WAL is cut to
		 * nothing, so its space is free before the first flush.
		 * Best effort: a reader in the way or a disk still full
		 * leave it for the checkpoints after commits. */
		if (r == 0)
			store_sql__checkpoint(db, STORE_CHECKPOINT_TRUNCATE);
	}
	/* The file or its directory refused a new file (-wal, -shm, the
	 * database itself): a permission problem as far as the caller can
	 * act on it. */
	if (db->writable && ((r == -ENOENT && dir_exists(path)) || r == -EROFS))
		r = -EACCES;
	if (r < 0) {
		sqlite_close(&db->base);
		return r;
	}
	*ret_db = &db->base;
	return 0;
}

static int sqlite_seal(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);

	if (!db->sql)
		return -EINVAL;
	if (!db->writable)
		return -EROFS;
	if (store_write__in_flush(db))
		return -EBUSY;
	return store_sql__seal(db);
}

static void sqlite_close(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);

	store_write__close(db);
	store_outbox__close(db);
	store_query__close(db);
	store_cache__close(db);
	store_sql__close(db);
	free(db);
}


static int sqlite_can_write(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);

	if (!db->writable)
		return -EROFS;
	return store_write__in_flush(db) ? -EBUSY : 0;
}

static int sqlite_flush_span(struct store_db *handle, const struct store_query *q,
			     int64_t *ret_first, int64_t *ret_end)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	int64_t from = q ? q->from_s : INT64_MIN, to = q ? q->to_s : INT64_MAX;
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT min(time_s), max(time_s + duration_s) "
				"FROM flushes WHERE time_s >= ?1 AND time_s < ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_sql__fail(db, rc);
	} else if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*ret_first = sqlite3_column_int64(st, 0);
		*ret_end = sqlite3_column_int64(st, 1);
	} else {
		*ret_first = *ret_end = 0;
	}
	sqlite3_finalize(st);
	return r;
}

/* Build-ids and offsets of every stored frame, per frame identity (the
 * smallest offset, with its build-id), from the handle's read cache. */
static int sqlite_frame_sites(struct store_db *handle, struct store_frame_sites *sites)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_read_cache *c;
	int r;

	r = store_cache__read_begin(db, &c);
	if (r < 0)
		return r;
	for (int64_t id = 1; r == 0 && id <= c->max_frame; id++)
		if (c->frames[id].name) /* else no such frame */
			r = store_frame_sites__add(sites, &c->frames[id],
						   c->frame_offset[id],
						   c->frame_build_id[id]);
	store_cache__read_end(db);
	return r;
}

/* ---- shipping (store_clickhouse.h): the outbox is in the file ---- */

/* handle as a writable SQLite handle outside a flush. */
static int shipping_handle(struct store_db *handle, struct store_sqlite **ret_db)
{
	struct store_sqlite *db;

	if (!handle)
		return -EINVAL;
	if (handle->ops != &sqlite_backend) {
		snprintf(handle->errmsg, sizeof(handle->errmsg), "only an SQLite file has an outbox");
		return -ENOSYS;
	}
	db = store_sqlite__of(handle);
	if (!db->writable)
		return store_sql__fail_msg(db, -EROFS, "read-only handle");
	if (store_write__in_flush(db))
		return store_sql__fail_msg(db, -EBUSY, "a flush is open");
	*ret_db = db;
	return 0;
}

int store_db__ship_enable(struct store_db *handle, const char *host, uint64_t max_bytes)
{
	struct store_sqlite *db = NULL;
	int r = shipping_handle(handle, &db);

	return r < 0 ? r : store_outbox__enable(db, host, max_bytes);
}

int store_db__ship_next(struct store_db *handle, struct store_ch *ch,
			struct store_ship_result *ret)
{
	struct store_sqlite *db = NULL;
	int r;

	if (!ch)
		return -EINVAL;
	r = shipping_handle(handle, &db);
	if (r < 0)
		return store_ch__fail(ch, r, "the outbox of the local file: %s",
				      handle ? handle->errmsg : "no handle");
	return store_outbox__next(db, ch, ret);
}

int store_db__ship_backlog(struct store_db *handle, struct store_ship_backlog *ret)
{
	if (!handle || !ret)
		return -EINVAL;
	if (handle->ops != &sqlite_backend) {
		*ret = (struct store_ship_backlog){0};
		return 0; /* no outbox */
	}
	return store_outbox__backlog(store_sqlite__of(handle), ret);
}

static void sqlite_memory(struct store_db *handle, struct store_memory *ret)
{
	const struct store_sqlite *db = store_sqlite__of(handle);

	ret->writer = store_write__bytes(db);
	ret->reader = store_cache__bytes(db) + store_query__bytes(db);
}

uint64_t store_sqlite_memory(void)
{
	sqlite3_int64 n = sqlite3_memory_used();

	return n > 0 ? (uint64_t)n : 0;
}

static const struct store_backend sqlite_backend = {
	.name = "sqlite",
	.close = sqlite_close,
	.seal = sqlite_seal,
	.begin = store_sqlite__begin,
	.add_stack = store_sqlite__add_stack,
	.forget_interned = store_sqlite__forget_interned,
	.frame_memo_stats = store_sqlite__frame_memo_stats,
	.add_drops = store_sqlite__add_drops,
	.add_events = store_sqlite__add_events,
	.add_coverage = store_sqlite__add_coverage,
	.add_coverage_issue = store_sqlite__add_coverage_issue,
	.add_python_coverage = store_sqlite__add_python_coverage,
	.commit = store_sqlite__commit,
	.rollback = store_sqlite__rollback,
	.set_meta = store_sqlite__set_meta,
	.get_meta = store_sqlite__get_meta,
	.summary = store_sqlite__summary,
	.query_tree = store_sqlite__query_tree,
	.query_coverage = store_sqlite__query_coverage,
	.query_python_coverage = store_sqlite__query_python_coverage,
	.query_timeline = store_sqlite__query_timeline,
	.label_sets = store_sqlite__label_sets,
	.label_names = store_sqlite__label_names,
	.label_values = store_sqlite__label_values,
	.maintain = store_sqlite__maintain,
	.check = store_sqlite__check,
	.span = store_sqlite__span,
	.drops_timeline = store_sqlite__drops_timeline,
	.set_deadline = store_sqlite__set_deadline,
	.memory = sqlite_memory,
	.can_write = sqlite_can_write,
	.flush_span = sqlite_flush_span,
	.frame_sites = sqlite_frame_sites,
};
