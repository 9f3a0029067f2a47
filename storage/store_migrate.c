/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_migrate.c — the schema's history: migrations[v] turns a version-v
 * file into version v + 1, and a writable open (store_sqlite.c) brings every
 * older file to STORE_SCHEMA_VERSION with store_migrate__run before
 * anything else touches it. Each step is SQL and optionally a C
 * conversion, written with the layers below (blocks and packed tables);
 * two conversions need a VACUUM and run after the migration's
 * transaction (auto-vacuum, page checksums).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "store_ops.h"

/*
 * Schema migrations: migrations[v] turns a version-v file into version v + 1.
 * All pending steps run in one transaction together with the user_version
 * update, so a file is always at exactly one version.
 *
 * String references use 0 for "none" rather than NULL so UNIQUE constraints
 * deduplicate rows with missing values (SQLite treats NULLs as distinct).
 */
static int migrate_blocks(struct store_sqlite *db, int from);
static int recode_blocks(struct store_sqlite *db, int from);
static int pack_tables(struct store_sqlite *db, int from);
static int scrub_kernel(struct store_sqlite *db, int from);
static int pack_labels(struct store_sqlite *db, int from);

static const struct {
	const char *sql;
	/* after sql, or NULL; from: the version the file had before
	 * the migration started */
	int (*convert)(struct store_sqlite *db, int from);
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
	/* 7 -> 8: coverage rows name their binary by id. A row per flush
	 * and binary carried the path and build-id as text (about 110
	 * bytes a row, 32 rows a flush on a build host: 27 MB a day); the
	 * pair is now a row of coverage_modules, made once. The two tables
	 * were made by the first flush that needed them: made here when
	 * missing, then converted. */
	{ "CREATE TABLE IF NOT EXISTS coverage (time_s INTEGER NOT NULL,"
	  "  module TEXT NOT NULL, build_id TEXT NOT NULL DEFAULT '',"
	  "  seen INTEGER NOT NULL, with_function INTEGER NOT NULL,"
	  "  with_line INTEGER NOT NULL,"
	  "  PRIMARY KEY (time_s, module, build_id)) WITHOUT ROWID;"
	  "CREATE TABLE IF NOT EXISTS coverage_issue (time_s INTEGER NOT NULL,"
	  "  module TEXT NOT NULL, build_id TEXT NOT NULL DEFAULT '',"
	  "  reason TEXT NOT NULL, frames INTEGER NOT NULL,"
	  "  PRIMARY KEY (time_s, module, build_id, reason)) WITHOUT ROWID;"
	  "CREATE TABLE coverage_modules ("
	  "  id INTEGER PRIMARY KEY,"
	  "  module TEXT NOT NULL,"
	  "  build_id TEXT NOT NULL," /* '' when the binary has none */
	  "  UNIQUE (module, build_id));"
	  "INSERT OR IGNORE INTO coverage_modules (module, build_id)"
	  "  SELECT module, build_id FROM coverage UNION"
	  "  SELECT module, build_id FROM coverage_issue;"
	  "CREATE TABLE coverage_v8 (time_s INTEGER NOT NULL,"
	  "  module INTEGER NOT NULL," /* coverage_modules.id */
	  "  seen INTEGER NOT NULL, with_function INTEGER NOT NULL,"
	  "  with_line INTEGER NOT NULL,"
	  "  PRIMARY KEY (time_s, module)) WITHOUT ROWID;"
	  "INSERT INTO coverage_v8 SELECT c.time_s, m.id, c.seen, c.with_function,"
	  "  c.with_line FROM coverage c JOIN coverage_modules m"
	  "  ON m.module = c.module AND m.build_id = c.build_id;"
	  "DROP TABLE coverage;"
	  "ALTER TABLE coverage_v8 RENAME TO coverage;"
	  "CREATE TABLE coverage_issue_v8 (time_s INTEGER NOT NULL,"
	  "  module INTEGER NOT NULL," /* coverage_modules.id */
	  "  reason TEXT NOT NULL, frames INTEGER NOT NULL,"
	  "  PRIMARY KEY (time_s, module, reason)) WITHOUT ROWID;"
	  "INSERT INTO coverage_issue_v8 SELECT c.time_s, m.id, c.reason, c.frames"
	  "  FROM coverage_issue c JOIN coverage_modules m"
	  "  ON m.module = c.module AND m.build_id = c.build_id;"
	  "DROP TABLE coverage_issue;"
	  "ALTER TABLE coverage_issue_v8 RENAME TO coverage_issue;", NULL },
	/* 8 -> 9: label sets packed like the stack trie. A row per label
	 * set with its UNIQUE index and the process and pid indexes took
	 * about 116 bytes, and a host that starts processes all the time
	 * makes one per process sampled (70 MB a day on a build host);
	 * readers hold them all in memory and filter there, and the
	 * writer deduplicates in memory, so no index is needed. */
	{ "CREATE TABLE label_chunks ("
	  "  id INTEGER PRIMARY KEY,"
	  "  last INTEGER NOT NULL,"
	  "  n INTEGER NOT NULL,"
	  "  data BLOB NOT NULL);", pack_labels },
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

/* Bring a writable file to STORE_SCHEMA_VERSION in one transaction. */
static int migrate(struct store_sqlite *db, int *ret_from)
{
	char sql[128];
	int version, r;

	r = store_sql__exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	/* Read again under the write lock: another writer may have created
	 * or migrated the file since the first look. */
	version = store_sql__version(db);
	if (version < 0) {
		r = version;
		goto rollback;
	}
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		r = store_sql__exec(db, migrations[v].sql);
		if (r == 0 && migrations[v].convert)
			r = migrations[v].convert(db, version);
		if (r < 0)
			goto rollback;
	}
	if (version < STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql),
			 "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
		r = store_sql__exec(db, sql);
		if (r < 0)
			goto rollback;
	}
	r = store_sql__exec(db, "COMMIT");
	if (r == 0)
		*ret_from = version;
	return r;
rollback:
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Schema 2 -> 3: the rows of samples become one block per bucket. */
static int migrate_blocks(struct store_sqlite *db, int from)
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
		return store_sql__fail(db, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);

		if (any && t != time_s) {
			r = store_block__put(db, time_s, duration_s, &m);
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
		r = store_sql__fail(db, rc);
		goto out;
	}
	if (any)
		r = store_block__put(db, time_s, duration_s, &m);
	if (r == 0) {
		sqlite3_finalize(st);
		st = NULL;
		r = store_sql__exec(db, "DROP TABLE samples");
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
static int recode_blocks(struct store_sqlite *db, int from)
{
	struct store_sums m = { 0 };
	sqlite3_stmt *st = NULL, *put = NULL;
	unsigned char *data = NULL;
	uint64_t total;
	size_t len;
	int r = 0, rc;

	if (from < 3)
		return 0;
	rc = sqlite3_prepare_v2(db->sql, "SELECT time_s, data FROM "
				"sample_blocks", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db->sql, "UPDATE sample_blocks SET "
					"data = ?2, total = ?3 WHERE time_s = ?1",
					-1, &put, NULL);
	if (rc != SQLITE_OK) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_sums__clear(&m);
		r = store_block__decode_v3(sqlite3_column_blob(st, 1),
					   (size_t)sqlite3_column_bytes(st, 1),
					   recode_one, &m);
		if (r == -EINVAL)
			r = store_sql__fail_msg(db, r, "corrupt sample block "
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
			r = store_sql__fail(db, rc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
out:
	sqlite3_finalize(put);
	sqlite3_finalize(st);
	store_sums__free(&m);
	return r;
}

/* Pack the rows sql selects (id, then the columns, by id) into table t. */
static int pack_rows(struct store_sqlite *db, const char *sql,
		     enum store_packed_table t)
{
	struct store_rows all = { 0 };
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_row row = { .id = sqlite3_column_int64(st, 0) };

		for (int c = 1; c < sqlite3_column_count(st); c++)
			row.v[c - 1] = sqlite3_column_int64(st, c);
		r = store_rows__push(&all, &row);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	if (r == 0)
		r = store_packed__replace(db, t, all.v, all.n);
	store_rows__free(&all);
	return r;
}

/* Schema 4 -> 5: the rows of stack_nodes, frames and functions packed. */
static int pack_tables(struct store_sqlite *db, int from)
{
	int r;

	if ((r = pack_rows(db, "SELECT id, parent, frame FROM stack_nodes "
			   "ORDER BY id", STORE_PACKED_NODES)) < 0 ||
	    (r = pack_rows(db, "SELECT id, function, line, build_id, offset, "
			   "kind FROM frames ORDER BY id", STORE_PACKED_FRAMES)) < 0 ||
	    (r = pack_rows(db, "SELECT id, name, module, file FROM functions "
			   "ORDER BY id", STORE_PACKED_FUNCTIONS)) < 0) {
		if (r == -EINVAL)
			r = store_sql__fail_msg(db, r, "a stack node without frame, "
					       "a frame without function or a "
					       "parent after its child (schema 4): "
					       "cannot migrate");
		return r;
	}
	return store_sql__exec(db, "DROP TABLE stack_nodes; DROP TABLE frames;"
			      "DROP TABLE functions");
}

/* Schema 8 -> 9: the rows of label_sets packed into label_chunks. */
static int pack_labels(struct store_sqlite *db, int from)
{
	int r;

	(void)from;
	r = pack_rows(db, "SELECT id, host, process, pid, thread, tid, cgroup_id, "
		      "extra FROM label_sets ORDER BY id", STORE_PACKED_LABELS);
	if (r == -EINVAL)
		r = store_sql__fail_msg(db, r, "a label set with id 0 (schema 8): "
				       "cannot migrate");
	return r < 0 ? r : store_sql__exec(db, "DROP TABLE label_sets");
}

/* Schema 5 -> 6: kernel frames lose their address. */
static int scrub_kernel(struct store_sqlite *db, int from)
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

/*
 * Give a file of an older schema its page checksums: one VACUUM rewrites
 * every page with 8 reserved bytes, each page with its checksum (as
 * convert_auto_vacuum, it needs as much free space again; a crash leaves
 * the old file). Then every page read is checked.
 */
static int convert_checksums(struct store_sqlite *db, int from)
{
	int r;

	if (store_sql__reserve_bytes(db, -1) == STORE_PAGE_RESERVE) {
		store_sql__set_checksums(db, 1);
		return 0;
	}
	/* A file of this schema had them from the start: its header is
	 * damaged, and rewriting the file would hide it. */
	if (from >= 6)
		return store_sql__check_checksums(db);
	store_sql__set_checksums(db, 2);
	store_sql__reserve_bytes(db, STORE_PAGE_RESERVE);
	r = store_sql__exec(db, "VACUUM");
	if (r == 0 && store_sql__reserve_bytes(db, -1) != STORE_PAGE_RESERVE)
		r = store_sql__fail_msg(db, -EIO, "cannot give the file page checksums");
	store_sql__set_checksums(db, r == 0 ? 1 : 0);
	return r;
}

/*
 * Files of schema 1 were created without auto_vacuum: retention could free
 * pages but never shrink the file. Switching needs one VACUUM, which
 * rewrites the file (and needs as much free space again); a crash during
 * it leaves the old file, and the next writable open tries again.
 */
static int convert_auto_vacuum(struct store_sqlite *db)
{
	int64_t mode;
	int r;

	r = store_sql__query_int(db, "PRAGMA auto_vacuum", &mode);
	if (r < 0 || mode == 2)
		return r;
	return store_sql__exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM");
}


int store_migrate__run(struct store_sqlite *db)
{
	int from = 0, r;

	r = migrate(db, &from);
	if (r == 0)
		r = convert_auto_vacuum(db);
	if (r == 0)
		r = convert_checksums(db, from);
	return r;
}
