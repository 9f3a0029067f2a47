/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-churn.c — what a host that starts processes all the time
 * writes (schema 9): label sets packed and deduplicated by the writer in
 * memory (also across a writer's restart, and a label set in use across
 * its generations of 65,536), collected by retention with the strings
 * only they named; names of code without a symbol ("BASE+0xHEX") stored
 * as numbers and read back as the same text, other names as they are;
 * coverage rows after a rollback and after a collection of the binaries
 * they name (the writer's cache of their ids is dropped then).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-test.h"
#include "store_sql.h"

/* Samples of the whole file that pass filter. */
static uint64_t filtered(struct store_db *db, const char *filter)
{
	struct store_filter *f;
	struct store_query q;
	struct store_tree *t;
	uint64_t n;

	CHECK_RC(store_filter__parse(filter, &f, NULL), 0);
	store_query_init(&q);
	q.filter = f;
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	n = store_tree__node(t, 0)->total;
	store_tree__free(t);
	store_filter__free(f);
	return n;
}

static struct store_labels proc(uint32_t pid, const char *thread)
{
	return (struct store_labels){ .host = "h", .process = "cc1", .pid = pid,
				      .thread = thread, .tid = pid, .cgroup_id = 77 };
}

static void label_sets(const char *dir)
{
	char *path = path_in(dir, "labels.db");
	struct store_labels keep = proc(7, "make");
	struct store_label_value *v;
	struct store_db *db;
	size_t n;

	/* A writer's restart finds the label sets it wrote. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db), 0);
	CHECK_RC(store_db__begin(db, 1000, 10), 0);
	CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(add_folded(db, &(struct store_labels){ 0 }, "main", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	store_db__close(db);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__begin(db, 1010, 10), 0);
	CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(add_folded(db, &(struct store_labels){ 0 }, "main", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2);

	/* 140,000 short-lived processes over 14 flushes (more than the
	 * writer's two generations of 65,536 label sets hold), and one
	 * that lives through them: its label set is used in every flush
	 * and stays one row. */
	for (uint32_t k = 0; k < 14; k++) {
		CHECK_RC(store_db__begin(db, 1020 + 10 * k, 10), 0);
		CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 1), 0);
		for (uint32_t i = 0; i < 10000; i++) {
			struct store_labels l = proc(100000 + 10000 * k + i, "as");

			CHECK_RC(add_folded(db, &l, "main;b", STORE_FRAME_USER, 0, 2), 0);
		}
		CHECK_RC(store_db__commit(db), 0);
	}
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2 + 140000);
	CHECK_U64(filtered(db, "pid=7,thread=make,cgroup=77,host=h"), 16);
	CHECK_U64(filtered(db, "pid=239999,tid=239999"), 2);
	CHECK_U64(filtered(db, "process=cc1,thread=as"), 280000);
	CHECK_U64(filtered(db, "process!=cc1"), 2); /* the empty label set */
	/* A label set forgotten by the writer (two generations ago) is
	 * written again under a new id: readers see one set of labels. */
	CHECK_RC(store_db__begin(db, 1200, 10), 0);
	{
		struct store_labels l = proc(100000, "as");

		CHECK_RC(add_folded(db, &l, "main;b", STORE_FRAME_USER, 0, 5), 0);
	}
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2 + 140000 + 1);
	CHECK_U64(filtered(db, "pid=100000"), 7);
	CHECK_RC(store_db__label_values(db, NULL, "thread", &v, &n), 0);
	CHECK_U64(n, 3); /* make, as, "" */
	store_label_values_free(v, n);
	CHECK_RC(store_db__label_values(db, NULL, "pid", &v, &n), 0);
	CHECK_U64(n, 140002);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].value, "100000"))
			CHECK_U64(v[i].samples, 7);
	store_label_values_free(v, n);
	/* A writer's restart loads the newest two generations' worth of
	 * label sets: one of the last processes is found, the first label
	 * set (the oldest id, though in use) is written again. */
	store_db__close(db);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__begin(db, 1210, 10), 0);
	{
		struct store_labels l = proc(239999, "as");

		CHECK_RC(add_folded(db, &l, "main;b", STORE_FRAME_USER, 0, 1), 0);
	}
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2 + 140000 + 1);
	CHECK_RC(store_db__begin(db, 1220, 10), 0);
	CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2 + 140000 + 2);
	CHECK_U64(filtered(db, "pid=7,thread=make"), 17);
	CHECK_U64(filtered(db, "pid=239999"), 3);

	/* Retention collects the label sets no block uses and the strings
	 * only they named; the others read as before. */
	CHECK_RC(store_db__begin(db, 200000, 10), 0);
	CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 3), 0);
	CHECK_RC(store_db__commit(db), 0);
	{
		struct store_policy p;
		struct store_maintain_stats st;

		store_policy_init(&p);
		p.max_age_s = 100000;
		CHECK_RC(store_db__maintain(db, 200010, &p, &st), 0);
		CHECK(st.rows_collected >= 140002);
	}
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 1);
	CHECK_U64(query_int(db, "SELECT count(*) FROM strings WHERE text = 'as'"), 0);
	CHECK_U64(query_int(db, "SELECT count(*) FROM strings WHERE text = 'cc1'"), 1);
	CHECK_U64(filtered(db, "pid=7,thread=make"), 3);
	CHECK_U64(filtered(db, "thread=as"), 0);
	/* The writer loads what is left, and adds to it. */
	CHECK_RC(store_db__begin(db, 200010, 10), 0);
	CHECK_RC(add_folded(db, &keep, "main;a", STORE_FRAME_USER, 0, 1), 0);
	{
		struct store_labels l = proc(100000, "as");

		CHECK_RC(add_folded(db, &l, "main;b", STORE_FRAME_USER, 0, 1), 0);
	}
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(query_int(db, "SELECT sum(n) FROM label_chunks"), 2);
	CHECK_U64(filtered(db, "pid=100000,thread=as"), 1);
	store_db__close(db);
	free(path);
}

/* A stack of one frame (name, module) under "main". */
static void add_named(struct store_db *db, const char *name, const char *module,
		      uint64_t offset, uint64_t count)
{
	struct store_frame f[2] = {
		{ .name = "main", .module = "/usr/bin/app", .offset = 16 },
		{ .name = name, .module = module, .offset = offset },
	};
	struct store_labels l = { .process = "app", .pid = 1, .tid = 1 };

	CHECK_RC(store_db__add_stack(db, &l, f, 2, count), 0);
}

static void derived_names(const char *dir)
{
	static const struct {
		const char *name, *module;
		bool derived; /* no string of its own */
	} names[] = {
		{ "libz.so.1+0x1a2b", "/usr/lib/x86_64-linux-gnu/libz.so.1", true },
		{ "libz.so.1+0x0", "/usr/lib/x86_64-linux-gnu/libz.so.1", true },
		{ "app+0xfffffffffffff", "app", true },
		/* not what the symbolizer prints, or not of this module: as
		 * they are */
		{ "libz.so.1+0x01a", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "libz.so.1+0x1A", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "libz.so.1+0x", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "libz.so.1+0x1g", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "libc.so.6+0x10", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "libz.so.1+0x10", NULL, false },
		{ "app+0x1000000000000000", "app", false },
		{ "libz.so.1+0x20 ", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
		{ "z.so.1+0x30", "/usr/lib/x86_64-linux-gnu/libz.so.1", false },
	};
	char *path = path_in(dir, "names.db");
	struct store_db *db;
	struct store_tree *t;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db), 0);
	CHECK_RC(store_db__begin(db, 1000, 10), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add_named(db, names[i].name, names[i].module, 0x100 + i, i + 1);
	CHECK_RC(store_db__commit(db), 0);
	/* Two frames (offsets) of one derived function: one function. */
	CHECK_RC(store_db__begin(db, 1010, 10), 0);
	add_named(db, names[0].name, names[0].module, 0x1a2f, 100);
	CHECK_RC(store_db__commit(db), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sqlite3_stmt *st;

		CHECK(sqlite3_prepare_v2(store_sqlite__of(db)->sql,
					 "SELECT count(*) FROM strings WHERE text = ?1",
					 -1, &st, NULL) == SQLITE_OK);
		sqlite3_bind_text(st, 1, names[i].name, -1, SQLITE_STATIC);
		CHECK(sqlite3_step(st) == SQLITE_ROW);
		CHECK_U64(sqlite3_column_int64(st, 0), names[i].derived ? 0 : 1);
		sqlite3_finalize(st);
	}
	CHECK_U64(query_int(db, "SELECT sum(n) FROM function_chunks"),
		  1 + sizeof(names) / sizeof(names[0]));
	/* A new reader and the writer's own read give every name back. */
	for (int pass = 0; pass < 2; pass++) {
		struct store_db *rd = db;

		if (pass == 1)
			CHECK_RC(store_db__open(path, STORE_OPEN_READ, &rd), 0);
		CHECK_RC(store_db__query_tree(rd, NULL, &t), 0);
		tree_check_invariants(t);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char p[128];
			long at;

			snprintf(p, sizeof(p), "app;main;%s", names[i].name);
			at = tree_find(t, p);
			CHECK(at > 0);
			CHECK_U64(store_tree__node(t, (size_t)at)->self, i + 1 + (i ? 0 : 100));
			CHECK((names[i].module == NULL) ==
			      (store_tree__node(t, (size_t)at)->module == NULL));
		}
		store_tree__free(t);
		if (pass == 1)
			store_db__close(rd);
	}
	store_db__close(db);
	free(path);
}

static uint64_t coverage_seen(struct store_db *db, const char *module)
{
	struct store_coverage *c;
	uint64_t seen = 0;
	size_t n;

	CHECK_RC(store_db__query_coverage(db, NULL, &c, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].module, module))
			seen += c[i].seen;
	store_coverage__free(c, n);
	return seen;
}

static void coverage(const char *dir)
{
	char *path = path_in(dir, "coverage.db");
	struct store_maintain_stats st;
	struct store_policy p;
	struct store_db *db;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db), 0);
	/* The binary's row of a rolled-back flush is gone: the next flush
	 * makes it again. */
	CHECK_RC(store_db__begin(db, 1000, 10), 0);
	CHECK_RC(store_db__add_coverage(db, "/bin/a", "b1", 10, 5, 1), 0);
	store_db__rollback(db);
	CHECK_RC(store_db__begin(db, 1000, 10), 0);
	CHECK_RC(add_folded(db, NULL, "main", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__add_coverage(db, "/bin/a", "b1", 10, 5, 1), 0);
	CHECK_RC(store_db__add_coverage_issue(db, "/bin/a", "b1", "dwo-missing", 3), 0);
	CHECK_RC(store_db__add_coverage(db, "/bin/a", NULL, 1, 1, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(coverage_seen(db, "/bin/a"), 11);
	CHECK_RC(store_db__begin(db, 1010, 10), 0);
	CHECK_RC(add_folded(db, NULL, "main", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__add_coverage(db, "/bin/a", "b1", 10, 5, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(coverage_seen(db, "/bin/a"), 21);
	CHECK_U64(query_int(db, "SELECT count(*) FROM coverage_modules"), 2);
	/* Retention removes both flushes and collects the binaries; a
	 * later flush names the binary anew. */
	store_policy_init(&p);
	p.max_age_s = 1000;
	CHECK_RC(store_db__maintain(db, 5000, &p, &st), 0);
	CHECK_U64(query_int(db, "SELECT count(*) FROM coverage_modules"), 0);
	CHECK_RC(store_db__begin(db, 5000, 10), 0);
	CHECK_RC(store_db__add_coverage(db, "/bin/a", "b1", 4, 4, 4), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(coverage_seen(db, "/bin/a"), 4);
	store_db__close(db);
	free(path);
}

int main(void)
{
	char *dir = make_tempdir();

	label_sets(dir);
	derived_names(dir);
	coverage(dir);
	cleanup_tempdir(dir);
	return 0;
}
