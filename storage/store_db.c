/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_db.c — opening, validating and migrating an Ember SQLite file, the
 * handle's prepared statements, metadata, integrity checks and error texts.
 * This is the storage module's boundary to SQLite: every result code is
 * turned into -errno here (store_db__fail) and the SQLite message is kept
 * for store_db__errmsg(). The writer (store_write.c) and the queries
 * (store_query.c) build on the handle opened here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "store_ch.h"
#include "store_internal.h"

/* How long a reader or writer waits for a lock held by another handle. */
#define STORE_BUSY_TIMEOUT_MS 5000

/*
 * Schema migrations: migrations[v] turns a version-v file into version v + 1.
 * All pending steps run in one transaction together with the user_version
 * update, so a file is always at exactly one version.
 *
 * String references use 0 for "none" rather than NULL so UNIQUE constraints
 * deduplicate rows with missing values (SQLite treats NULLs as distinct).
 */
static int migrate_blocks(struct store_db *db);
static int recode_blocks(struct store_db *db);
static int pack_tables(struct store_db *db);
static int scrub_kernel(struct store_db *db);
static int check_checksums(struct store_db *db);

static const struct {
	const char *sql;
	int (*convert)(struct store_db *db); /* after sql, or NULL */
} migrations[] = {
	/* 0 -> 1: the first schema. */ {
	"CREATE TABLE strings ("
	"  id INTEGER PRIMARY KEY,"
	"  text TEXT NOT NULL UNIQUE);"
	"CREATE TABLE functions ("
	"  id INTEGER PRIMARY KEY,"
	"  name INTEGER NOT NULL,"   /* strings.id */
	"  module INTEGER NOT NULL," /* strings.id or 0 */
	"  file INTEGER NOT NULL,"   /* strings.id or 0 */
	"  UNIQUE (name, module, file));"
	"CREATE TABLE frames ("
	"  id INTEGER PRIMARY KEY,"
	"  function INTEGER NOT NULL,"
	"  line INTEGER NOT NULL,"
	"  build_id INTEGER NOT NULL," /* strings.id or 0 */
	"  offset INTEGER NOT NULL,"   /* uint64 stored as int64 */
	"  kind INTEGER NOT NULL,"     /* enum store_frame_kind */
	"  UNIQUE (function, line, build_id, offset, kind));"
	/* A trie of stacks: a stack is the id of its leaf node; 0 is the
	 * root (the empty stack). Parents always have smaller ids. */
	"CREATE TABLE stack_nodes ("
	"  id INTEGER PRIMARY KEY,"
	"  parent INTEGER NOT NULL,"
	"  frame INTEGER NOT NULL,"
	"  UNIQUE (parent, frame));"
	"CREATE TABLE label_sets ("
	"  id INTEGER PRIMARY KEY,"
	"  host INTEGER NOT NULL,"
	"  process INTEGER NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  thread INTEGER NOT NULL,"
	"  tid INTEGER NOT NULL,"
	"  cgroup_id INTEGER NOT NULL,"
	"  extra INTEGER NOT NULL,"
	"  UNIQUE (host, process, pid, thread, tid, cgroup_id, extra));"
	"CREATE INDEX label_sets_process ON label_sets (process);"
	"CREATE INDEX label_sets_pid ON label_sets (pid);"
	/* Counts per time bucket; adding the same row again sums. */
	"CREATE TABLE samples ("
	"  time_s INTEGER NOT NULL,"
	"  duration_s INTEGER NOT NULL,"
	"  label_set INTEGER NOT NULL,"
	"  node INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (time_s, label_set, node)) WITHOUT ROWID;"
	"CREATE TABLE drops ("
	"  time_s INTEGER NOT NULL,"
	"  reason INTEGER NOT NULL," /* strings.id */
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (time_s, reason)) WITHOUT ROWID;"
	/* One row per committed bucket, even an empty one, so "the
	 * profiler ran and saw nothing" differs from "no data". */
	"CREATE TABLE flushes ("
	"  time_s INTEGER PRIMARY KEY,"
	"  duration_s INTEGER NOT NULL,"
	"  n INTEGER NOT NULL);"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL) WITHOUT ROWID;", NULL },
	/* 1 -> 2: no table changes; the file uses auto_vacuum =
	 * INCREMENTAL so retention can give space back. A new file gets
	 * it before its first table; an older file is converted by one
	 * VACUUM after the migration (convert_auto_vacuum). */
	{ "", NULL },
	/* 2 -> 3: samples packed per bucket. One row per time bucket holds
	 * every (label set, stack, count) of it varint-coded (store_block.c):
	 * a row per sample key cost 25 bytes and one B-tree probe each. */
	{ "CREATE TABLE sample_blocks ("
	  "  time_s INTEGER PRIMARY KEY,"
	  "  duration_s INTEGER NOT NULL,"
	  "  total INTEGER NOT NULL," /* sum of the counts in data */
	  "  data BLOB NOT NULL);", migrate_blocks },
	/* 3 -> 4: blocks in columns by (node, label set), deflated when
	 * that is smaller (store_block.c): 39% fewer bytes. The UNIQUE
	 * indexes of strings, functions, frames and stack_nodes go (35% of
	 * a day's file): the writer keeps a complete copy of those tables'
	 * keys in memory (store_write.c) and is the one that deduplicates. */
	{ "CREATE TABLE strings4 ("
	  "  id INTEGER PRIMARY KEY,"
	  "  text TEXT NOT NULL);"
	  "INSERT INTO strings4 SELECT id, text FROM strings;"
	  "DROP TABLE strings;"
	  "ALTER TABLE strings4 RENAME TO strings;"
	  "CREATE TABLE functions4 ("
	  "  id INTEGER PRIMARY KEY,"
	  "  name INTEGER NOT NULL,"
	  "  module INTEGER NOT NULL,"
	  "  file INTEGER NOT NULL);"
	  "INSERT INTO functions4 SELECT id, name, module, file FROM functions;"
	  "DROP TABLE functions;"
	  "ALTER TABLE functions4 RENAME TO functions;"
	  "CREATE TABLE frames4 ("
	  "  id INTEGER PRIMARY KEY,"
	  "  function INTEGER NOT NULL,"
	  "  line INTEGER NOT NULL,"
	  "  build_id INTEGER NOT NULL,"
	  "  offset INTEGER NOT NULL,"
	  "  kind INTEGER NOT NULL);"
	  "INSERT INTO frames4 SELECT id, function, line, build_id, offset, "
	  "kind FROM frames;"
	  "DROP TABLE frames;"
	  "ALTER TABLE frames4 RENAME TO frames;"
	  "CREATE TABLE stack_nodes4 ("
	  "  id INTEGER PRIMARY KEY,"
	  "  parent INTEGER NOT NULL,"
	  "  frame INTEGER NOT NULL);"
	  "INSERT INTO stack_nodes4 SELECT id, parent, frame FROM stack_nodes;"
	  "DROP TABLE stack_nodes;"
	  "ALTER TABLE stack_nodes4 RENAME TO stack_nodes;", recode_blocks },
	/* 4 -> 5: the stack trie, frames and functions packed in chunks of
	 * consecutive ids (store_packed.c): 3 MB of rows for the
	 * benchmark's day become ~0.6 MB. Each table: the chunk's first
	 * and last row id, its row count, the packed rows. */
	{ "CREATE TABLE stack_chunks (id INTEGER PRIMARY KEY,"
	  "  last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);"
	  "CREATE TABLE frame_chunks (id INTEGER PRIMARY KEY,"
	  "  last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);"
	  "CREATE TABLE function_chunks (id INTEGER PRIMARY KEY,"
	  "  last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);",
	  pack_tables },
	/* 5 -> 6: no kernel addresses (with KASLR one gives the kernel's
	 * offset away): kernel frames keep offset 0 (new ones their offset
	 * in the function), "[kernel]+0xADDR" names become "[unknown]". And
	 * a checksum in every page (store_vfs.c): the 8 reserved bytes per
	 * page come with a VACUUM after the migration (convert_checksums). */
	{ "UPDATE strings SET text = '[unknown]' WHERE text GLOB '[[]kernel]+0x*'",
	  scrub_kernel },
	/* 6 -> 7: events apart from drops. Until now the session wrote
	 * every sampler counter into drops, also those that count samples
	 * kept (a slow path taken, a stack cut short), and readers showed
	 * them as lost. Those names move to events; drops keeps what was
	 * lost. */
	{ "CREATE TABLE events ("
	  "  time_s INTEGER NOT NULL,"
	  "  name INTEGER NOT NULL," /* strings.id */
	  "  count INTEGER NOT NULL,"
	  "  PRIMARY KEY (time_s, name)) WITHOUT ROWID;"
	  "CREATE TEMP TABLE v7_events AS SELECT id FROM strings WHERE text IN ("
	  "  'stack-collision-kernel', 'stack-collision-user',"
	  "  'stack-map-full', 'counts-map-full', 'user-stack-unreadable',"
	  "  'stack-error-other', 'process-event-lost', 'tracked-map-full',"
	  "  'dwarf-samples', 'snapshot-reached-stack-end');"
	  "INSERT INTO events SELECT time_s, reason, count FROM drops"
	  "  WHERE reason IN (SELECT id FROM temp.v7_events);"
	  "DELETE FROM drops WHERE reason IN (SELECT id FROM temp.v7_events);"
	  "DROP TABLE temp.v7_events;", NULL },
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

/* The statements of a packed table (store_packed.c): its chunks above an
 * id, its last chunk, a chunk written. */
#define PACKED_STMTS(NAME, table)                                          \
	[STMT_##NAME##_LOAD] = "SELECT id, last, n, data FROM " table        \
			       " WHERE last > ?1 ORDER BY id",               \
	[STMT_##NAME##_LAST] = "SELECT id, last, n, data FROM " table        \
			       " ORDER BY id DESC LIMIT 1",                  \
	[STMT_##NAME##_PUT] = "INSERT OR REPLACE INTO " table                \
			      " (id, last, n, data) VALUES (?1, ?2, ?3, ?4)"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_STRING_ADD] = "INSERT INTO strings (text) VALUES (?1)",
	PACKED_STMTS(NODES, "stack_chunks"),
	PACKED_STMTS(FRAMES, "frame_chunks"),
	PACKED_STMTS(FUNCTIONS, "function_chunks"),
	[STMT_LABELS_GET] = "SELECT id FROM label_sets WHERE host = ?1 AND "
			    "process = ?2 AND pid = ?3 AND thread = ?4 AND "
			    "tid = ?5 AND cgroup_id = ?6 AND extra = ?7",
	[STMT_LABELS_ADD] = "INSERT INTO label_sets (host, process, pid, "
			    "thread, tid, cgroup_id, extra) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_BLOCK_GET] = "SELECT duration_s, data FROM sample_blocks "
			   "WHERE time_s = ?1",
	[STMT_BLOCK_PUT] = "INSERT OR REPLACE INTO sample_blocks (time_s, "
			   "duration_s, total, data) VALUES (?1, ?2, ?3, ?4)",
	[STMT_DROP_ADD] = "INSERT INTO drops (time_s, reason, count) "
			  "VALUES (?1, ?2, ?3) ON CONFLICT (time_s, reason) "
			  "DO UPDATE SET count = count + excluded.count",
	[STMT_EVENT_ADD] = "INSERT INTO events (time_s, name, count) "
			   "VALUES (?1, ?2, ?3) ON CONFLICT (time_s, name) "
			   "DO UPDATE SET count = count + excluded.count",
	[STMT_FLUSH_ADD] = "INSERT INTO flushes (time_s, duration_s, n) "
			   "VALUES (?1, ?2, 1) ON CONFLICT (time_s) "
			   "DO UPDATE SET n = n + 1, "
			   "duration_s = max(duration_s, excluded.duration_s)",
	[STMT_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
			  "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
};

static int err_from_sqlite(int rc)
{
	/* A page that fails its checksum (store_vfs.c). */
	if (rc == SQLITE_IOERR_DATA)
		return -EUCLEAN;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_INTERRUPT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* SQLite's progress handler: a non-zero return interrupts the statement,
 * which then fails with SQLITE_INTERRUPT (-ETIMEDOUT). */
static int deadline_check(void *ctx)
{
	const struct store_db *db = ctx;

	return db->deadline_ns && common_now_ns() > db->deadline_ns;
}

void store_db__set_deadline(struct store_db *db, uint64_t deadline_ns)
{
	if (!db)
		return;
	db->deadline_ns = deadline_ns;
	sqlite3_progress_handler(db->sql, deadline_ns ? 10000 : 0,
				 deadline_ns ? deadline_check : NULL, db);
}

int store_db__fail_msg(struct store_db *db, int err, const char *msg)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
	return err;
}

int store_db__fail(struct store_db *db, int rc)
{
	int err = err_from_sqlite(rc);

	/* A failure that SQLite reports as success would be a bug here;
	 * never let it turn into a 0 return. */
	if (err == 0)
		err = -EIO;
	if (err == -EUCLEAN)
		return store_db__fail_msg(db, err, "a page of the file fails its checksum: "
					  "the time range asked for cannot be read");
	return store_db__fail_msg(db, err, sqlite3_errmsg(db->sql));
}

int store_db__stmt(struct store_db *db, enum store_stmt id,
		   sqlite3_stmt **ret_stmt)
{
	sqlite3_stmt *st = db->stmts[id];
	int rc;

	if (!st) {
		rc = sqlite3_prepare_v3(db->sql, stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK)
			return store_db__fail(db, rc);
		db->stmts[id] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	*ret_stmt = st;
	return 0;
}

int store_db__put_blob(struct store_db *db, enum store_stmt id, int64_t a, int64_t b,
		       int64_t c, const void *data, size_t len)
{
	sqlite3_stmt *st;
	int r, rc;

	r = store_db__stmt(db, id, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_db__fail(db, rc);
}

int store_db__exec(struct store_db *db, const char *sql)
{
	int rc = sqlite3_exec(db->sql, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_db__fail(db, rc);
}

void store_db__drop_caches(struct store_db *db)
{
	for (size_t i = 0; i < CACHE_COUNT; i++) {
		store_map__clear(&db->caches[i]);
		db->cache_max_id[i] = 0;
	}
	store_sums__clear(&db->nodes);
	db->max_node = 0;
	for (size_t i = 0; i < STORE_PACKED_COUNT; i++)
		db->new_rows[i].n = 0;
	db->mirror_valid = false;
}

/* Run a query returning one integer. */
static int query_int(struct store_db *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
out:
	if (rc != SQLITE_OK)
		rc = store_db__fail(db, rc);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Read the file's identity. Returns the schema version (0 for an empty file
 * that may become an Ember database), or -EINVAL (another application's file,
 * not SQLite, corrupt), -ENOTSUP (newer Ember), -errno.
 */
static int read_version(struct store_db *db)
{
	int64_t app_id, version, n_objects;
	int r;

	r = query_int(db, "PRAGMA application_id", &app_id);
	if (r < 0)
		return r;
	r = query_int(db, "PRAGMA user_version", &version);
	if (r < 0)
		return r;
	r = query_int(db, "SELECT count(*) FROM sqlite_schema", &n_objects);
	if (r < 0)
		return r;
	if (app_id == 0 && version == 0 && n_objects == 0)
		return 0;
	if (app_id != STORE_APPLICATION_ID)
		return store_db__fail_msg(db, -EINVAL,
					  "not an Ember database");
	if (version > STORE_SCHEMA_VERSION)
		return store_db__fail_msg(db, -ENOTSUP,
					  "database written by a newer Ember");
	if (version < 0)
		return store_db__fail_msg(db, -EINVAL, "bad schema version");
	return (int)version;
}

/* Bring a writable file to STORE_SCHEMA_VERSION in one transaction. */
static int migrate(struct store_db *db)
{
	char sql[128];
	int version, r;

	r = store_db__exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* Read again under the write lock: another writer may have created
	 * or migrated the file since the first look. */
	version = read_version(db);
	if (version < 0) {
		r = version;
		goto rollback;
	}
	db->migrating_from = version;
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		r = store_db__exec(db, migrations[v].sql);
		if (r == 0 && migrations[v].convert)
			r = migrations[v].convert(db);
		if (r < 0)
			goto rollback;
	}
	if (version < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql),
			 "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
		r = store_db__exec(db, sql);
		if (r < 0)
			goto rollback;
	}
	return store_db__exec(db, "COMMIT");
rollback:
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Schema 2 -> 3: the rows of samples become one block per bucket. */
static int migrate_blocks(struct store_db *db)
{
	struct store_sums m = { 0 };
	sqlite3_stmt *st = NULL;
	int64_t time_s = 0, duration_s = 0;
	bool any = false;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT time_s, duration_s, label_set, "
				"node, count FROM samples ORDER BY time_s", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return store_db__fail(db, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);

		if (any && t != time_s) {
			r = store_db__put_block(db, time_s, duration_s, &m);
			store_sums__clear(&m);
			if (r < 0)
				goto out;
			duration_s = 0;
		}
		any = true;
		time_s = t;
		duration_s = MAX(duration_s, sqlite3_column_int64(st, 1));
		r = store_sums__add(&m, sqlite3_column_int64(st, 2),
				    sqlite3_column_int64(st, 3),
				    (uint64_t)sqlite3_column_int64(st, 4));
		if (r < 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store_db__fail(db, rc);
		goto out;
	}
	if (any)
		r = store_db__put_block(db, time_s, duration_s, &m);
	if (r == 0) {
		sqlite3_finalize(st);
		st = NULL;
		r = store_db__exec(db, "DROP TABLE samples");
	}
out:
	sqlite3_finalize(st);
	store_sums__free(&m);
	return r;
}

static int recode_one(void *ctx, int64_t time_s, int64_t set, int64_t node,
		      uint64_t count)
{
	return store_sums__add(ctx, set, node, count);
}

/* Schema 3 -> 4: every block re-encoded in the new format. Blocks that the
 * 2 -> 3 step just wrote (a file older than 3) are new already. */
static int recode_blocks(struct store_db *db)
{
	struct store_sums m = { 0 };
	sqlite3_stmt *st = NULL, *put = NULL;
	unsigned char *data = NULL;
	uint64_t total;
	size_t len;
	int r = 0, rc;

	if (db->migrating_from < 3)
		return 0;
	rc = sqlite3_prepare_v2(db->sql, "SELECT time_s, data FROM "
				"sample_blocks", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db->sql, "UPDATE sample_blocks SET "
					"data = ?2, total = ?3 WHERE time_s = ?1",
					-1, &put, NULL);
	if (rc != SQLITE_OK) {
		r = store_db__fail(db, rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_sums__clear(&m);
		r = store_block__decode_v3(sqlite3_column_blob(st, 1),
					   (size_t)sqlite3_column_bytes(st, 1),
					   recode_one, &m);
		if (r == -EINVAL)
			r = store_db__fail_msg(db, r, "corrupt sample block "
					       "(schema 3): cannot migrate");
		if (r == 0)
			r = store_block__encode(&m, &data, &len, &total);
		if (r < 0)
			goto out;
		sqlite3_reset(put);
		sqlite3_bind_int64(put, 1, sqlite3_column_int64(st, 0));
		sqlite3_bind_blob(put, 2, data, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(put, 3, (int64_t)total);
		rc = sqlite3_step(put);
		free(data);
		data = NULL;
		if (rc != SQLITE_DONE) {
			r = store_db__fail(db, rc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = store_db__fail(db, rc);
out:
	sqlite3_finalize(put);
	sqlite3_finalize(st);
	store_sums__free(&m);
	return r;
}

/* Pack the rows sql selects (id, then the columns, by id) into table t. */
static int pack_rows(struct store_db *db, const char *sql,
		     enum store_packed_table t)
{
	struct store_rows all = { 0 };
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db__fail(db, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_row row = { .id = sqlite3_column_int64(st, 0) };

		for (int c = 1; c < sqlite3_column_count(st); c++)
			row.v[c - 1] = sqlite3_column_int64(st, c);
		r = store_rows__push(&all, &row);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db__fail(db, rc);
	sqlite3_finalize(st);
	if (r == 0)
		r = store_packed__replace(db, t, all.v, all.n);
	store_rows__free(&all);
	return r;
}

/* Schema 4 -> 5: the rows of stack_nodes, frames and functions packed. */
static int pack_tables(struct store_db *db)
{
	int r;

	if ((r = pack_rows(db, "SELECT id, parent, frame FROM stack_nodes "
			   "ORDER BY id", STORE_PACKED_NODES)) < 0 ||
	    (r = pack_rows(db, "SELECT id, function, line, build_id, offset, "
			   "kind FROM frames ORDER BY id", STORE_PACKED_FRAMES)) < 0 ||
	    (r = pack_rows(db, "SELECT id, name, module, file FROM functions "
			   "ORDER BY id", STORE_PACKED_FUNCTIONS)) < 0) {
		if (r == -EINVAL)
			r = store_db__fail_msg(db, r, "a stack node without frame, "
					       "a frame without function or a "
					       "parent after its child (schema 4): "
					       "cannot migrate");
		return r;
	}
	return store_db__exec(db, "DROP TABLE stack_nodes; DROP TABLE frames;"
			      "DROP TABLE functions");
}

/* Schema 5 -> 6: kernel frames lose their address. */
static int scrub_kernel(struct store_db *db)
{
	struct store_rows all = { 0 };
	int r;

	r = store_packed__load_all(db, STORE_PACKED_FRAMES, &all);
	for (size_t i = 0; r == 0 && i < all.n; i++)
		if (all.v[i].v[4] == STORE_FRAME_KERNEL)
			all.v[i].v[3] = 0;
	if (r == 0)
		r = store_packed__replace(db, STORE_PACKED_FRAMES, all.v, all.n);
	store_rows__free(&all);
	return r;
}

/* The reserved bytes per page the file has (or, on a new file, will
 * have); with want >= 0, ask for want (taking effect on a new file, or
 * at the next VACUUM). */
static int reserve_bytes(struct store_db *db, int want)
{
	int n = want;

	if (sqlite3_file_control(db->sql, "main", SQLITE_FCNTL_RESERVE_BYTES, &n) != SQLITE_OK)
		return -1;
	return n;
}

/* How the checksum VFS treats this file's pages (STORE_FCNTL_CHECKSUMS). */
static void set_checksums(struct store_db *db, int mode)
{
	sqlite3_file_control(db->sql, "main", STORE_FCNTL_CHECKSUMS, &mode);
}

/*
 * Give a file of an older schema its page checksums: one VACUUM rewrites
 * every page with 8 reserved bytes, each page with its checksum (as
 * convert_auto_vacuum, it needs as much free space again; a crash leaves
 * the old file). Then every page read is checked.
 */
static int convert_checksums(struct store_db *db)
{
	int r;

	if (reserve_bytes(db, -1) == STORE_PAGE_RESERVE) {
		set_checksums(db, 1);
		return 0;
	}
	/* A file of this schema had them from the start: its header is
	 * damaged, and rewriting the file would hide it. */
	if (db->migrating_from >= 6)
		return check_checksums(db);
	set_checksums(db, 2);
	reserve_bytes(db, STORE_PAGE_RESERVE);
	r = store_db__exec(db, "VACUUM");
	if (r == 0 && reserve_bytes(db, -1) != STORE_PAGE_RESERVE)
		r = store_db__fail_msg(db, -EIO, "cannot give the file page checksums");
	set_checksums(db, r == 0 ? 1 : 0);
	return r;
}

/* A file of this schema has a checksum in every page: check them all. A
 * header that says otherwise was damaged. */
static int check_checksums(struct store_db *db)
{
	if (reserve_bytes(db, -1) != STORE_PAGE_RESERVE)
		return store_db__fail_msg(db, -EUCLEAN, "damaged database header "
					  "(its pages should carry checksums)");
	set_checksums(db, 1);
	return 0;
}

/*
 * Files of schema 1 were created without auto_vacuum: retention could free
 * pages but never shrink the file. Switching needs one VACUUM, which
 * rewrites the file (and needs as much free space again); a crash during
 * it leaves the old file, and the next writable open tries again.
 */
static int convert_auto_vacuum(struct store_db *db)
{
	int64_t mode;
	int r;

	r = query_int(db, "PRAGMA auto_vacuum", &mode);
	if (r < 0 || mode == 2)
		return r;
	return store_db__exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM");
}

/*
 * Keep the WAL small. SQLite's default checkpoints after 1000 pages, 16
 * MiB of WAL with our 16 KiB pages, and never shrinks the file: on a small
 * disk the WAL alone filled it, and since the automatic checkpoint runs
 * only after a commit that succeeded, a commit that needed the WAL to grow
 * never succeeded again (also after a restart). Checkpoint after about
 * STORE_WAL_CHECKPOINT_BYTES and cut the WAL back to STORE_WAL_LIMIT_BYTES
 * when it restarts; a failed commit checkpoints too (store_db__commit).
 */
static int bound_wal(struct store_db *db)
{
	char sql[128];
	int64_t page;
	int r;

	r = query_int(db, "PRAGMA page_size", &page);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %lld;"
		 "PRAGMA journal_size_limit = %lld",
		 (long long)(STORE_WAL_CHECKPOINT_BYTES / (page > 0 ? page : 4096)),
		 (long long)STORE_WAL_LIMIT_BYTES);
	return store_db__exec(db, sql);
}

int store_db__checkpoint(struct store_db *db, bool truncate)
{
	int busy = 0, log = 0, done = 0, rc;

	if (!db || !db->writable || db->in_flush)
		return -EINVAL;
	rc = sqlite3_wal_checkpoint_v2(db->sql, NULL, truncate ?
				       SQLITE_CHECKPOINT_TRUNCATE :
				       SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK)
		return err_from_sqlite(rc) ? err_from_sqlite(rc) : -EIO;
	busy = log != done;
	return busy ? -EBUSY : 0;
}

/* Empty an Ember file in place (STORE_OPEN_TRUNCATE). */
static int reset(struct store_db *db)
{
	int r;

	sqlite3_db_config(db->sql, SQLITE_DBCONFIG_RESET_DATABASE, 1, NULL);
	r = store_db__exec(db, "VACUUM");
	sqlite3_db_config(db->sql, SQLITE_DBCONFIG_RESET_DATABASE, 0, NULL);
	return r;
}

/*
 * A "file:" URI for path with every byte that is not plainly safe
 * percent-encoded, followed by query (e.g. "mode=ro").
 */
static char *path_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(path);
	char *uri = malloc(5 + 3 * len + 1 + strlen(query) + 1);
	char *p = uri;

	if (!uri)
		return NULL;
	p += sprintf(p, "file:");
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/-._~", *s)) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		}
	}
	sprintf(p, "?%s", query);
	return uri;
}

static int open_sqlite(struct store_db *db, const char *path,
		       const char *query, int flags)
{
	char *uri = path_uri(path, query);
	int rc;

	if (!uri)
		return -ENOMEM;
	if (store_vfs__register() < 0) {
		free(uri);
		return -ENOSYS;
	}
	rc = sqlite3_open_v2(uri, &db->sql, flags | SQLITE_OPEN_URI |
			     SQLITE_OPEN_NOMUTEX, STORE_VFS_NAME);
	free(uri);
	if (rc != SQLITE_OK) {
		if (!db->sql)
			return -ENOMEM;
		return store_db__fail(db, rc);
	}
	sqlite3_extended_result_codes(db->sql, 1);
	sqlite3_busy_timeout(db->sql, STORE_BUSY_TIMEOUT_MS);
	return store_filter__register(db->sql);
}

static void close_sqlite(struct store_db *db)
{
	for (size_t i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(db->stmts[i]);
		db->stmts[i] = NULL;
	}
	sqlite3_close_v2(db->sql);
	db->sql = NULL;
}

static bool side_file_exists(const char *path, const char *suffix)
{
	char side[PATH_MAX];

	snprintf(side, sizeof(side), "%s%s", path, suffix);
	return access(side, F_OK) == 0;
}

static int open_read(struct store_db *db, const char *path)
{
	int r;

	if (access(path, F_OK) < 0)
		return -errno;
	if (access(path, R_OK) < 0)
		return -EACCES;
	r = open_sqlite(db, path, "mode=ro", SQLITE_OPEN_READONLY);
	if (r == 0)
		r = read_version(db);
	/*
	 * A WAL file without -wal/-shm that we may not create (read-only
	 * file or directory) cannot be opened normally. No writer has it
	 * open (a writer keeps -wal while it runs), so read it as immutable:
	 * SQLite then takes no locks and never touches the files. A -wal
	 * that exists holds data immutable mode would miss: report instead.
	 */
	if ((r == -ENOENT || r == -EROFS || r == -EACCES) &&
	    !side_file_exists(path, "-wal")) {
		close_sqlite(db);
		r = open_sqlite(db, path, "mode=ro&immutable=1",
				SQLITE_OPEN_READONLY);
		if (r == 0)
			r = read_version(db);
	}
	if (r < 0)
		return r;
	if (r == 0)
		return store_db__fail_msg(db, -EINVAL,
					  "not an Ember database (empty)");
	if (r < STORE_SCHEMA_VERSION)
		return store_db__fail_msg(db, -EPROTO,
					  "database uses an older schema");
	return check_checksums(db);
}

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

static int open_write_checked(struct store_db *db, const char *path,
			      unsigned flags)
{
	int r;

	r = open_sqlite(db, path, "mode=rwc",
			SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (r < 0)
		return r;
	/* SQLite quietly falls back to read-only for a file it cannot
	 * write; a writer wants to know now, not at the first flush. */
	if (sqlite3_db_readonly(db->sql, "main") == 1)
		return store_db__fail_msg(db, -EACCES,
					  "database file is read-only");
	/* Validate before anything writes, so another application's file
	 * is left exactly as it was. */
	r = read_version(db);
	if (r < 0)
		return r;
	/* Only take effect before the first table is created (the page
	 * size also before WAL mode, and through the VACUUM of a reset):
	 * existing files keep theirs. 16 KiB pages hold ~23 sample blocks
	 * with little slack. */
	if (r == 0 || (flags & STORE_OPEN_TRUNCATE)) {
		int e = store_db__exec(db, "PRAGMA page_size = 16384");

		if (e < 0)
			return e;
		/* Page checksums from the first page on (store_vfs.c); a
		 * reset rewrites the old pages, which may have none. */
		reserve_bytes(db, STORE_PAGE_RESERVE);
		set_checksums(db, r == 0 ? 1 : 2);
	}
	if (flags & STORE_OPEN_TRUNCATE) {
		r = reset(db);
		if (r < 0)
			return r;
		r = 0;
	}
	if (r == 0) {
		r = store_db__exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
		if (r < 0)
			return r;
	}
	r = store_db__exec(db, "PRAGMA journal_mode = WAL;"
			   "PRAGMA synchronous = NORMAL");
	if (r < 0)
		return r;
	r = bound_wal(db);
	if (r < 0)
		return r;
	r = migrate(db);
	if (r < 0)
		return r;
	r = convert_auto_vacuum(db);
	if (r < 0)
		return r;
	r = convert_checksums(db);
	if (r < 0)
		return r;
	/* What a previous run left in the WAL (a full disk, a crash) goes
	 * into the file now and the WAL is cut to nothing, so its space is
	 * free before the first flush. Best effort: a reader in the way or
	 * a disk still full leave it for the checkpoints after commits. */
	store_db__checkpoint(db, true);
	return 0;
}

static int open_write(struct store_db *db, const char *path, unsigned flags)
{
	int r = open_write_checked(db, path, flags);

	/* The file or its directory refused a new file (-wal, -shm, the
	 * database itself): a permission problem as far as the caller can
	 * act on it. */
	if ((r == -ENOENT && dir_exists(path)) || r == -EROFS)
		r = -EACCES;
	return r;
}

int store_db__open(const char *path, unsigned flags, struct store_db **ret_db)
{
	struct store_db *db;
	int r;

	if (!path || !ret_db)
		return -EINVAL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->writable = flags & STORE_OPEN_WRITE;
	/* Side files this reader's open creates go again at close. */
	if (!db->writable && (flags & STORE_OPEN_TIDY) && !side_file_exists(path, "-wal") &&
	    !side_file_exists(path, "-shm") && !(db->tidy_path = strdup(path))) {
		free(db);
		return -ENOMEM;
	}
	if (db->writable)
		r = open_write(db, path, flags);
	else
		r = open_read(db, path);
	if (r < 0) {
		store_db__close(db);
		return r;
	}
	*ret_db = db;
	return 0;
}

/*
 * SQLite's lock bytes (the lock-byte page of its file format): every
 * connection to a WAL file holds a read lock on the SHARED range of the
 * database file while it is open, and the last one to close, seeing it
 * can take a write lock there, deletes -wal and -shm. A read-only
 * connection never does, so they stay behind a reader. This does the
 * same for a handle opened with STORE_OPEN_TIDY, under the same lock:
 * nobody else has the file open, and nobody opens it meanwhile.
 */
#define STORE_SQLITE_PENDING 0x40000000
#define STORE_SQLITE_SHARED_FIRST (STORE_SQLITE_PENDING + 2)
#define STORE_SQLITE_SHARED_SIZE 510

static void remove_side_files(const char *path)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = STORE_SQLITE_SHARED_FIRST,
			    .l_len = STORE_SQLITE_SHARED_SIZE };
	char wal[PATH_MAX], shm[PATH_MAX];
	struct stat st;
	int fd;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal) ||
	    snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm))
		return;
	/* A write lock needs a writable descriptor; nothing is written. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fcntl(fd, F_SETLK, &lk) == 0) {
		/* A -wal with frames holds another writer's data. */
		if (lstat(wal, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(wal);
		if (lstat(wal, &st) < 0 && lstat(shm, &st) == 0 && S_ISREG(st.st_mode))
			unlink(shm);
	}
	close(fd); /* and with it the lock */
}

int store_db__seal(struct store_db *db)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int r, rc;

	if (!db || !db->sql)
		return -EINVAL;
	if (!db->writable)
		return -EROFS;
	if (db->in_flush)
		return -EBUSY;
	/* Checkpoints the WAL into the file and deletes -wal and -shm; it
	 * needs the file to itself, and says "wal" when another
	 * connection has it open. */
	rc = sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode = DELETE", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_db__fail(db, rc);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	r = mode && !strcmp(mode, "delete") ? 0 :
		store_db__fail_msg(db, -EBUSY, "another connection has the file open");
out:
	sqlite3_finalize(st);
	return r;
}

void store_db__close(struct store_db *db)
{
	if (!db)
		return;
	store_db__rollback(db);
	close_sqlite(db);
	if (db->tidy_path) {
		remove_side_files(db->tidy_path);
		free(db->tidy_path);
	}
	for (size_t i = 0; i < CACHE_COUNT; i++)
		store_map__free(&db->caches[i]);
	store_sums__free(&db->flush_sums);
	store_sums__free(&db->nodes);
	for (size_t i = 0; i < STORE_PACKED_COUNT; i++)
		store_rows__free(&db->new_rows[i]);
	store_cache__free(&db->cache);
	store_tree_scratch__free(db->tree_scratch);
	store_ship__free(db->ship);
	free(db);
}

const char *store_db__errmsg(const struct store_db *db)
{
	if (!db)
		return "no database handle";
	return db->errmsg;
}

int store_db__set_metaf(struct store_db *db, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return store_db__set_meta(db, key, buf);
}

int store_db__set_meta(struct store_db *db, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int r, rc;

	if (!db || !key || !value)
		return -EINVAL;
	if (!db->writable)
		return store_db__fail_msg(db, -EROFS, "read-only handle");
	r = store_db__stmt(db, STMT_META_SET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_db__fail(db, rc);
}

int store_db__get_meta(struct store_db *db, const char *key, char **ret_value)
{
	sqlite3_stmt *st;
	char *value;
	int r, rc;

	if (!db || !key || !ret_value)
		return -EINVAL;
	r = store_db__stmt(db, STMT_META_GET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		r = store_db__fail(db, rc);
	} else {
		value = strdup((const char *)sqlite3_column_text(st, 0));
		if (!value) {
			r = -ENOMEM;
		} else {
			*ret_value = value;
			r = 0;
		}
	}
	sqlite3_reset(st);
	return r;
}

int store_db__check(struct store_db *db, char **ret_msg)
{
	sqlite3_stmt *st = NULL;
	char *msg = NULL, *grown;
	size_t len = 0;
	bool ok = false;
	int r = 0, rc;

	if (!db || !ret_msg)
		return -EINVAL;
	rc = sqlite3_prepare_v2(db->sql, "PRAGMA integrity_check", -1, &st,
				NULL);
	if (rc != SQLITE_OK) {
		r = store_db__fail(db, rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		size_t n = strlen(line ? line : "");

		grown = realloc(msg, len + n + 2);
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		msg = grown;
		if (len)
			msg[len++] = '\n';
		memcpy(msg + len, line ? line : "", n + 1);
		len += n;
	}
	if (rc != SQLITE_DONE) {
		r = store_db__fail(db, rc);
		goto out;
	}
	if (!msg) {
		r = -EIO;
		goto out;
	}
	ok = strcmp(msg, "ok") == 0;
	*ret_msg = msg;
	msg = NULL;
	r = ok ? 0 : 1;
out:
	sqlite3_finalize(st);
	free(msg);
	return r;
}

const char *store_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "database file not found";
	case -EACCES:
		return "permission denied: the database file or its directory "
		       "is not writable";
	case -EROFS:
		return "database is open read-only";
	case -ENOTSUP:
		return "database was written by a newer Ember";
	case -EPROTO:
		return "database uses an older schema; open it for writing "
		       "once to upgrade it";
	case -EINVAL:
		return "not an Ember database, corrupt, or invalid argument";
	case -EBUSY:
		return "database is busy (another writer, or a flush is "
		       "already open)";
	case -ENOSPC:
		return "disk full";
	case -ENOMEM:
		return "out of memory";
	case -EIO:
		return "database I/O error";
	case -EBADMSG:
		return "not a valid pprof profile";
	case -E2BIG:
		return "profile is too large";
	case -ERANGE:
		return "a sample count is out of range";
	case -ETIMEDOUT:
		return "query timed out";
	case -EUCLEAN:
		return "the database is damaged";
	default:
		return "unknown storage error";
	}
}
