/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-migrate.c — a file written by the first schema (built here
 * from storage-v1.sql, the v1 format kept as it was) must stay readable: a
 * read-only open asks for an upgrade and leaves it untouched; a writable
 * open migrates it to STORE_SCHEMA_VERSION with every row intact, switches
 * it to incremental auto-vacuum, and then takes new flushes, filters and
 * retention like a new file.
 *
 * The one storage test that uses sqlite3.h itself: it has to write the old
 * format without the module.
 */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "storage-test.h"

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	CHECK(f != NULL && buf != NULL);
	n = fread(buf, 1, (1 << 16) - 1, f);
	CHECK(n > 0 && !ferror(f));
	fclose(f);
	return buf;
}

static void make_v1(const char *path, const char *script)
{
	sqlite3 *sql;
	char *err = NULL;

	CHECK(sqlite3_open(path, &sql) == SQLITE_OK);
	if (sqlite3_exec(sql, script, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "v1 script: %s\n", err);
		exit(1);
	}
	sqlite3_close(sql);
}

/* Coverage as files before schema 8 kept it: tables a flush made, the
 * binary's path and build-id as text in every row. */
static const char old_coverage[] =
	"CREATE TABLE coverage (time_s INTEGER NOT NULL, module TEXT NOT NULL,"
	" build_id TEXT NOT NULL DEFAULT '', seen INTEGER NOT NULL,"
	" with_function INTEGER NOT NULL, with_line INTEGER NOT NULL,"
	" PRIMARY KEY (time_s, module, build_id)) WITHOUT ROWID;"
	"CREATE TABLE coverage_issue (time_s INTEGER NOT NULL, module TEXT NOT NULL,"
	" build_id TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL, frames INTEGER NOT NULL,"
	" PRIMARY KEY (time_s, module, build_id, reason)) WITHOUT ROWID;"
	"INSERT INTO coverage VALUES (1000, '/bin/a', 'ab12', 10, 8, 5),"
	" (1010, '/bin/a', 'ab12', 6, 6, 6), (1010, '/bin/a', '', 1, 0, 0),"
	" (1010, '/lib/b.so', '', 4, 4, 0);"
	"INSERT INTO coverage_issue VALUES (1000, '/bin/a', 'ab12', 'dwo-missing', 3),"
	" (1010, '/bin/a', 'ab12', 'dwo-missing', 2), (1010, '/lib/b.so', '', 'zstd', 1);";

/* The coverage rows above, read through the schema 8 tables. */
static void check_old_coverage(struct store_db *db)
{
	struct store_coverage *c;
	size_t n;

	CHECK_RC(store_db__query_coverage(db, NULL, &c, &n), 0);
	CHECK_U64(n, 3);
	CHECK(!strcmp(c[0].module, "/bin/a") && c[0].build_id && !strcmp(c[0].build_id, "ab12"));
	CHECK_U64(c[0].seen, 16);
	CHECK_U64(c[0].with_function, 14);
	CHECK_U64(c[0].with_line, 11);
	CHECK_U64(c[0].n_issues, 1);
	CHECK(!strcmp(c[0].issues[0].reason, "dwo-missing"));
	CHECK_U64(c[0].issues[0].frames, 5);
	CHECK(!strcmp(c[1].module, "/lib/b.so") && !c[1].build_id);
	CHECK_U64(c[1].seen, 4);
	CHECK_U64(c[1].n_issues, 1);
	CHECK_U64(c[1].issues[0].frames, 1);
	CHECK(!strcmp(c[2].module, "/bin/a") && !c[2].build_id);
	CHECK_U64(c[2].seen, 1);
	CHECK_U64(c[2].n_issues, 0);
	store_coverage__free(c, n);
}

/* The integer the query q answers on the file at path. */
static int64_t query_int_file(const char *path, const char *q)
{
	sqlite3_stmt *st;
	sqlite3 *sql;
	int64_t v;

	CHECK(sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(sql, q, -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(sql);
	return v;
}

static int64_t pragma(const char *path, const char *name)
{
	char q[64];

	snprintf(q, sizeof(q), "PRAGMA %s", name);
	return query_int_file(path, q);
}

static void check_v1_data(struct store_db *db)
{
	struct store_query q;
	struct store_filter *f;
	struct store_summary *s;
	struct store_tree *t;
	char *v;

	CHECK_RC(store_db__summary(db, NULL, &s), 0);
	CHECK_U64(s->samples, 14);
	CHECK_U64(s->processes, 2);
	CHECK_U64(s->first_s, 1000);
	CHECK_U64(s->last_s, 1010);
	CHECK_U64(s->n_drops, 1);
	CHECK_U64(s->drops[0].count, 3);
	store_summary__free(s);
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	tree_check_invariants(t);
	CHECK_U64(store_tree__node(t, tree_find(t, "app;main;work"))->self, 12);
	CHECK_U64(store_tree__node(t, tree_find(t, "app;main"))->self, 2);
	CHECK(strcmp(store_tree__node(t, tree_find(t, "app;main"))->module,
		     "/usr/bin/app") == 0);
	store_tree__free(t);
	/* Old label sets answer new filters, on every column (schema 9
	 * packed them). */
	{
		static const struct { const char *filter; uint64_t total; } filters[] = {
			{ "env=prod", 7 }, { "pid=43", 7 }, { "tid=44", 7 },
			{ "host=h1,thread=app", 14 }, { "process!=app", 0 },
			{ "pid=42,tid=42,cgroup=0", 7 },
		};

		for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
			CHECK_RC(store_filter__parse(filters[i].filter, &f, NULL), 0);
			store_query_init(&q);
			q.filter = f;
			CHECK_RC(store_db__query_tree(db, &q, &t), 0);
			CHECK_U64(store_tree__node(t, 0)->total, filters[i].total);
			store_tree__free(t);
			store_filter__free(f);
		}
	}
	CHECK_RC(store_db__get_meta(db, "command", &v), 0);
	CHECK(strcmp(v, "app") == 0);
	free(v);
}

#define CHAIN 3000
#define CHAIN_ROWS(what)                                                  \
	"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n " \
	"WHERE i < 3000) INSERT INTO " what " FROM n;"

/*
 * Schema 4 -> 5 with more rows than a packed chunk holds: the v1 file
 * plus a stack CHAIN frames deep (that many strings, functions, frames
 * and nodes), taken through every step; the stack comes back whole.
 */
static void check_large(const char *dir, const char *script)
{
	char *path = path_in(dir, "large.db");
	const struct store_tree_node *nd;
	struct store_db *db;
	struct store_tree *t;
	long leaf = -1;
	char name[16];
	size_t at;

	make_v1(path, script);
	make_v1(path,
		CHAIN_ROWS("strings (id, text) SELECT 100 + i, 'fn' || i")
		CHAIN_ROWS("functions (id, name, module, file) "
			   "SELECT 100 + i, 100 + i, 7, 0")
		CHAIN_ROWS("frames (id, function, line, build_id, offset, kind) "
			   "SELECT 100 + i, 100 + i, i, 0, 16 * i, 0")
		CHAIN_ROWS("stack_nodes (id, parent, frame) SELECT 100 + i, "
			   "CASE i WHEN 1 THEN 0 ELSE 99 + i END, 100 + i")
		CHAIN_ROWS("label_sets (id, host, process, pid, thread, tid, "
			   "cgroup_id, extra) SELECT 100 + i, 1, 2, 1000 + i, 2, "
			   "1000 + i, i * 1000003, 0")
		"INSERT INTO samples VALUES (1020, 10, 100 + 3000, 100 + 3000, 9);"
		"INSERT INTO flushes VALUES (1020, 10, 1);");
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	tree_check_invariants(t);
	CHECK_U64(store_tree__node(t, 0)->total, 14 + 9);
	for (size_t i = 1; i < store_tree__size(t); i++)
		if (!strcmp(store_tree__node(t, i)->name, "fn3000"))
			leaf = (long)i;
	CHECK(leaf > 0);
	CHECK_U64(store_tree__node(t, (size_t)leaf)->self, 9);
	at = (size_t)leaf;
	for (int k = CHAIN; k >= 1; k--) {
		nd = store_tree__node(t, at);
		snprintf(name, sizeof(name), "fn%d", k);
		CHECK(strcmp(nd->name, name) == 0 && nd->line == (uint32_t)k &&
		      strcmp(nd->module, "/usr/bin/app") == 0);
		at = nd->parent;
	}
	CHECK(strcmp(store_tree__node(t, at)->name, "app") == 0);
	store_tree__free(t);
	/* The last of CHAIN label sets (three packed chunks) by its pid
	 * and its cgroup. */
	{
		struct store_filter *f;
		struct store_query q;

		CHECK_RC(store_filter__parse("pid=4000,cgroup=3000009000", &f, NULL), 0);
		store_query_init(&q);
		q.filter = f;
		CHECK_RC(store_db__query_tree(db, &q, &t), 0);
		CHECK_U64(store_tree__node(t, 0)->total, 9);
		store_tree__free(t);
		store_filter__free(f);
	}
	store_db__close(db);
	CHECK_U64(query_int_file(path, "SELECT sum(n) FROM label_chunks"), 2 + CHAIN);
	CHECK_U64(query_int_file(path, "SELECT count(*) FROM label_chunks"), 3);
	free(path);
}

int main(int argc, char **argv)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "v1.db");
	char *script, *msg;
	struct store_maintain_stats st;
	struct store_db *db;
	uint64_t sum;

	CHECK(argc == 2);
	script = read_text(argv[1]);
	make_v1(path, script);
	make_v1(path, old_coverage);
	CHECK_U64(pragma(path, "user_version"), 1);
	CHECK_U64(pragma(path, "auto_vacuum"), 0);

	/* A reader may not migrate: a clear error, the file unchanged. */
	sum = file_checksum(path);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), -EPROTO);
	CHECK_U64(file_checksum(path), sum);

	/* A writer migrates. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	check_v1_data(db);
	check_old_coverage(db);
	CHECK_RC(store_db__check(db, &msg), 0);
	free(msg);
	/* New data goes on top and reuses the old rows. */
	CHECK_RC(store_db__begin(db, 1020, 10), 0);
	CHECK_RC(add_folded(db, &(struct store_labels){ .host = "h1",
			    .process = "app", .pid = 42, .thread = "app",
			    .tid = 42, .extra = "env=prod" },
			    "main;new", STORE_FRAME_USER, 0, 4), 0);
	CHECK_RC(store_db__commit(db), 0);
	store_db__close(db);
	CHECK_U64(pragma(path, "user_version"), STORE_SCHEMA_VERSION);
	/* The label sets are packed, and the new flush's is the old one's. */
	CHECK_U64(query_int_file(path, "SELECT count(*) FROM sqlite_schema "
			    "WHERE name GLOB 'label_sets*'"), 0);
	CHECK_U64(query_int_file(path, "SELECT sum(n) FROM label_chunks"), 2);
	CHECK_U64(pragma(path, "auto_vacuum"), 2);

	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), 18);
	store_db__close(db);

	/* Opening again changes nothing; retention works on it. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_U64(samples_in(db, INT64_MIN, 1020), 14);
	CHECK_RC(store_db__maintain(db, 1000000000, NULL, &st), 0);
	CHECK_U64(st.samples_removed, 18);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), 0);
	CHECK_RC(store_db__check(db, &msg), 0);
	free(msg);
	store_db__close(db);

	/* A block whose bytes are garbage (valid SQLite, bad payload): a
	 * clean error from every query that decodes it, no crash. */
	{
		static const char *const garbage[] = {
			"UPDATE sample_blocks SET data = x'ffffffffffffffffffffff'",
			"UPDATE sample_blocks SET data = x'0105'",
			"UPDATE sample_blocks SET data = x'7f020101'", /* a label set that does not exist */
		};
		struct store_summary *s;
		struct store_tree *t;
		struct store_timeline *tl;
		sqlite3 *sql;

		CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
		CHECK_RC(store_db__begin(db, 5000, 10), 0);
		CHECK_RC(add_folded(db, NULL, "main;x", STORE_FRAME_USER, 0, 3), 0);
		CHECK_RC(store_db__commit(db), 0);
		store_db__close(db);
		for (size_t i = 0; i < 3; i++) {
			/* Through the checksum VFS, as the writer would:
			 * what is tested is the block decoder. */
			CHECK(sqlite3_open_v2(path, &sql, SQLITE_OPEN_READWRITE,
					      "ember-checksum") == SQLITE_OK);
			CHECK(sqlite3_exec(sql, garbage[i], NULL, NULL, NULL) == SQLITE_OK);
			sqlite3_close(sql);
			CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
			CHECK_RC(store_db__query_tree(db, NULL, &t), -EINVAL);
			CHECK(strstr(store_db__errmsg(db), "corrupt") != NULL);
			CHECK_RC(store_db__summary(db, NULL, &s), -EINVAL);
			CHECK_RC(store_db__query_timeline(db, NULL, 0, "pid", &tl), -EINVAL);
			store_db__close(db);
		}
	}

	/* Schema 3 -> 4: the same rows as schema 3 wrote them (one block
	 * per bucket, per label set: varint set delta, varint length,
	 * (node delta, count) pairs); every count survives the re-encoding. */
	{
		char *path3 = path_in(dir, "v3.db");

		make_v1(path3, script);
		make_v1(path3,
			"CREATE TABLE sample_blocks (time_s INTEGER PRIMARY KEY,"
			" duration_s INTEGER NOT NULL, total INTEGER NOT NULL,"
			" data BLOB NOT NULL);"
			"INSERT INTO sample_blocks VALUES"
			" (1000, 10, 7, x'010401020105'), (1010, 10, 7, x'02020207');"
			"DROP TABLE samples; PRAGMA user_version = 3");
		CHECK_RC(store_db__open(path3, STORE_OPEN_READ, &db), -EPROTO);
		CHECK_RC(store_db__open(path3, STORE_OPEN_WRITE, &db), 0);
		check_v1_data(db);
		CHECK_U64(samples_in(db, 1000, 1010), 7);
		CHECK_U64(samples_in(db, 1010, 1020), 7);
		CHECK_RC(store_db__check(db, &msg), 0);
		free(msg);
		store_db__close(db);
		CHECK_U64(pragma(path3, "user_version"), STORE_SCHEMA_VERSION);
		/* Readable as a current file, and stays so for a writer. */
		CHECK_RC(store_db__open(path3, STORE_OPEN_READ, &db), 0);
		check_v1_data(db);
		store_db__close(db);
		free(path3);
	}

	/* A schema-3 block that does not decode stops the migration with a
	 * clear error and leaves the file at schema 3. */
	{
		char *path3 = path_in(dir, "v3-bad.db");

		make_v1(path3, script);
		make_v1(path3,
			"CREATE TABLE sample_blocks (time_s INTEGER PRIMARY KEY,"
			" duration_s INTEGER NOT NULL, total INTEGER NOT NULL,"
			" data BLOB NOT NULL);"
			"INSERT INTO sample_blocks VALUES (1000, 10, 7, x'0109');"
			"DROP TABLE samples; PRAGMA user_version = 3");
		CHECK_RC(store_db__open(path3, STORE_OPEN_WRITE, &db), -EINVAL);
		CHECK_U64(pragma(path3, "user_version"), 3);
		free(path3);
	}

	/* Schema 5 -> 6: counters of kept samples that earlier files wrote
	 * as drops become events; real drops stay drops. */
	{
		char *path5 = path_in(dir, "v5-events.db");
		struct store_summary *s;

		make_v1(path5, script);
		make_v1(path5,
			"INSERT INTO strings (id, text) VALUES (8, 'dwarf-samples'),"
			" (9, 'stack-collision-user'), (10, 'ring-buffer-full');"
			"INSERT INTO drops (time_s, reason, count) VALUES"
			" (1000, 8, 40), (1010, 8, 2), (1010, 9, 5), (1010, 10, 1)");
		CHECK_RC(store_db__open(path5, STORE_OPEN_WRITE, &db), 0);
		CHECK_RC(store_db__summary(db, NULL, &s), 0);
		CHECK_U64(s->n_drops, 2);
		CHECK(strcmp(s->drops[0].reason, "map-full") == 0);
		CHECK_U64(s->drops[0].count, 3);
		CHECK(strcmp(s->drops[1].reason, "ring-buffer-full") == 0);
		CHECK_U64(s->drops[1].count, 1);
		CHECK_U64(s->n_events, 2);
		CHECK(strcmp(s->events[0].reason, "dwarf-samples") == 0);
		CHECK_U64(s->events[0].count, 42);
		CHECK(strcmp(s->events[1].reason, "stack-collision-user") == 0);
		CHECK_U64(s->events[1].count, 5);
		store_summary__free(s);
		/* The timeline of drops counts only what was lost. */
		{
			uint64_t counts[2] = { 0, 0 };

			CHECK_RC(store_db__drops_timeline(db, 1000, 10, 2, counts), 0);
			CHECK_U64(counts[0], 3);
			CHECK_U64(counts[1], 1);
		}
		store_db__close(db);
		free(path5);
	}

	check_large(dir, script);
	free(script);
	free(path);
	cleanup_tempdir(dir);
	return 0;
}
