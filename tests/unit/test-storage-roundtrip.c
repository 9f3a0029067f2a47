/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-roundtrip.c — writes several flushes with known stacks,
 * labels, counts and drops, and checks what a user of `ember report` would
 * see: summary totals, the merged tree (split per process, identical frames
 * merged, self/total per node), the top table with recursion counted once,
 * time-range filtering, metadata, rollback, and that all of it survives a
 * reopen read-only.
 */
#include <errno.h>
#include <string.h>

#include "storage-test.h"

static const struct store_labels app10 = {
	.host = "h1", .process = "app", .pid = 10, .thread = "app", .tid = 10,
};
static const struct store_labels app11 = {
	.host = "h1", .process = "app", .pid = 11, .thread = "worker",
	.tid = 12, .cgroup_id = 77, .extra = "env=prod",
};
static const struct store_labels db20 = {
	.host = "h1", .process = "db", .pid = 20, .tid = 20,
};
static const struct store_labels kernel0 = { .host = "h1" };

static void write_flushes(struct store_db *db)
{
	struct store_frame idle = {
		.name = "do_idle", .module = "[kernel]", .offset = 0xffff1000,
		.kind = STORE_FRAME_KERNEL,
	};

	CHECK_RC(store_db__begin(db, 100, 10), 0);
	CHECK_RC(store_db__begin(db, 100, 10), -EBUSY);
	CHECK_RC(add_folded(db, &app10, "main;a;b", STORE_FRAME_USER, 0, 3), 0);
	/* Same labels and stack in one flush: counts add up. */
	CHECK_RC(add_folded(db, &app10, "main;a;b", STORE_FRAME_USER, 0, 2), 0);
	CHECK_RC(add_folded(db, &app10, "main;a", STORE_FRAME_USER, 0, 4), 0);
	CHECK_RC(add_folded(db, &app10, "main;c", STORE_FRAME_USER, 0, 1), 0);
	/* Other pid, same process name, b at another address: one node. */
	CHECK_RC(add_folded(db, &app11, "main;a;b", STORE_FRAME_USER, 0x40, 1),
		 0);
	CHECK_RC(store_db__add_drops(db, "map-full", 2), 0);
	CHECK_RC(store_db__add_drops(db, "stack-collision", 1), 0);
	CHECK_RC(store_db__add_events(db, "dwarf-samples", 4), 0);
	CHECK_RC(store_db__commit(db), 0);

	CHECK_RC(store_db__begin(db, 110, 10), 0);
	/* Another process with the same function names stays apart. */
	CHECK_RC(add_folded(db, &db20, "main;a;b", STORE_FRAME_USER, 0, 7), 0);
	CHECK_RC(add_folded(db, &db20, "", STORE_FRAME_USER, 0, 2), 0);
	CHECK_RC(store_db__add_stack(db, &kernel0, &idle, 1, 5), 0);
	CHECK_RC(store_db__add_drops(db, "map-full", 3), 0);
	CHECK_RC(store_db__add_events(db, "dwarf-samples", 2), 0);
	CHECK_RC(store_db__add_events(db, "snapshot-reached-stack-end", 1), 0);
	CHECK_RC(store_db__commit(db), 0);

	CHECK_RC(store_db__begin(db, 120, 10), 0);
	CHECK_RC(add_folded(db, &app10, "main;f;f;f", STORE_FRAME_USER, 0, 6), 0);
	CHECK_RC(add_folded(db, &app10, "main;f;g;f", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
}

static void check_node(const struct store_tree *t, const char *path,
		       uint64_t self, uint64_t total)
{
	long i = tree_find(t, path);

	if (i < 0) {
		fprintf(stderr, "tree: no node %s\n", path);
		exit(1);
	}
	if (store_tree__node(t, i)->self != self ||
	    store_tree__node(t, i)->total != total) {
		fprintf(stderr, "tree: %s self %llu total %llu, want %llu %llu\n",
			path, (unsigned long long)store_tree__node(t, i)->self,
			(unsigned long long)store_tree__node(t, i)->total,
			(unsigned long long)self, (unsigned long long)total);
		exit(1);
	}
}

static void check_summary(struct store_db *db)
{
	struct store_summary *s;
	struct store_query q;

	store_query_init(&q);
	CHECK_RC(store_db__summary(db, &q, &s), 0);
	CHECK_U64(s->samples, 32);
	CHECK_U64(s->processes, 4); /* pids 10, 11, 20 and 0 */
	/* main;a;b at two addresses is two stacks (merged only in trees). */
	CHECK_U64(s->stacks, 8);
	CHECK_U64(s->first_s, 100);
	CHECK_U64(s->last_s, 120);
	CHECK_U64(s->n_drops, 2);
	CHECK(strcmp(s->drops[0].reason, "map-full") == 0);
	CHECK_U64(s->drops[0].count, 5);
	CHECK(strcmp(s->drops[1].reason, "stack-collision") == 0);
	CHECK_U64(s->drops[1].count, 1);
	/* Events are listed apart and never count as drops. */
	CHECK_U64(s->n_events, 2);
	CHECK(strcmp(s->events[0].reason, "dwarf-samples") == 0);
	CHECK_U64(s->events[0].count, 6);
	CHECK(strcmp(s->events[1].reason, "snapshot-reached-stack-end") == 0);
	CHECK_U64(s->events[1].count, 1);
	store_summary__free(s);

	q.from_s = 110;
	q.to_s = 120;
	CHECK_RC(store_db__summary(db, &q, &s), 0);
	CHECK_U64(s->samples, 14);
	CHECK_U64(s->processes, 2);
	CHECK_U64(s->first_s, 110);
	CHECK_U64(s->last_s, 110);
	CHECK_U64(s->n_drops, 1);
	CHECK_U64(s->drops[0].count, 3);
	CHECK_U64(s->n_events, 2);
	CHECK_U64(s->events[0].count, 2);
	store_summary__free(s);

	q.from_s = 0;
	q.to_s = 100;
	CHECK_RC(store_db__summary(db, &q, &s), 0);
	CHECK_U64(s->samples, 0);
	CHECK_U64(s->first_s, 0);
	CHECK_U64(s->n_drops, 0);
	store_summary__free(s);

	CHECK_U64(samples_in(db, 100, 110), 11);
	CHECK_U64(samples_in(db, 120, 121), 7);
	CHECK_U64(samples_in(db, 121, INT64_MAX), 0);
}

static void check_tree(struct store_db *db)
{
	struct store_tree *t;
	const struct store_tree_node *nd;

	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	tree_check_invariants(t);
	CHECK_U64(store_tree__node(t, 0)->total, 32);
	check_node(t, "app", 0, 18);
	check_node(t, "app;main", 0, 18);
	check_node(t, "app;main;a", 4, 10);
	check_node(t, "app;main;a;b", 6, 6);
	check_node(t, "app;main;c", 1, 1);
	check_node(t, "app;main;f", 0, 7);
	check_node(t, "app;main;f;f", 0, 6);
	check_node(t, "app;main;f;f;f", 6, 6);
	check_node(t, "app;main;f;g;f", 1, 1);
	check_node(t, "db", 2, 9);
	check_node(t, "db;main;a;b", 7, 7);
	check_node(t, "[unknown];do_idle", 5, 5);
	/* 0 all, 3 processes, app: main a b c f f f g f, db: main a b,
	 * [unknown]: do_idle. */
	CHECK_U64(store_tree__size(t), 1 + 3 + 9 + 3 + 1);

	nd = store_tree__node(t, tree_find(t, "app"));
	CHECK(nd->kind == STORE_FRAME_PROCESS);
	nd = store_tree__node(t, tree_find(t, "[unknown];do_idle"));
	CHECK(nd->kind == STORE_FRAME_KERNEL);
	CHECK(strcmp(nd->module, "[kernel]") == 0);
	CHECK(nd->file == NULL);
	nd = store_tree__node(t, tree_find(t, "app;main;a"));
	CHECK(strcmp(nd->module, "app") == 0);
	store_tree__free(t);
}

static void check_top(struct store_db *db)
{
	static const struct {
		const char *name;
		uint64_t self, total;
	} want[] = {
		{ "b", 13, 13 },      { "f", 7, 7 }, { "do_idle", 5, 5 },
		{ "a", 4, 17 },       { "c", 1, 1 }, { "main", 0, 25 },
		{ "g", 0, 1 },
	};
	struct store_top_entry *top;
	struct store_tree *t;
	size_t n;

	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	CHECK_RC(store_tree__top(t, &top, &n), 0);
	CHECK_U64(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(top[i].name, want[i].name) ||
		    top[i].self != want[i].self ||
		    top[i].total != want[i].total) {
			fprintf(stderr, "top[%zu] = %s %llu %llu, want %s %llu %llu\n",
				i, top[i].name, (unsigned long long)top[i].self,
				(unsigned long long)top[i].total, want[i].name,
				(unsigned long long)want[i].self,
				(unsigned long long)want[i].total);
			exit(1);
		}
	}
	free(top);
	store_tree__free(t);
}

static void check_range_tree(struct store_db *db)
{
	struct store_query q = { .from_s = 110, .to_s = 120 };
	struct store_tree *t;

	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	tree_check_invariants(t);
	CHECK_U64(store_tree__node(t, 0)->total, 14);
	CHECK(tree_find(t, "app") < 0);
	check_node(t, "db;main;a;b", 7, 7);
	store_tree__free(t);

	q.from_s = 200;
	q.to_s = 300;
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	CHECK_U64(store_tree__size(t), 1);
	CHECK_U64(store_tree__node(t, 0)->total, 0);
	store_tree__free(t);
}

static void check_meta(struct store_db *db)
{
	char *v = (char *)"untouched";

	CHECK_RC(store_db__get_meta(db, "command", &v), -ENOENT);
	CHECK(strcmp(v, "untouched") == 0);
	CHECK_RC(store_db__set_meta(db, "command", "./bench --fast"), 0);
	CHECK_RC(store_db__set_meta(db, "frequency", "99"), 0);
	CHECK_RC(store_db__set_meta(db, "frequency", "19"), 0);
	CHECK_RC(store_db__get_meta(db, "frequency", &v), 0);
	CHECK(strcmp(v, "19") == 0);
	free(v);
}

/* A rolled-back flush leaves nothing behind, and ids cached during it are
 * not reused for rows that no longer exist. */
static void check_rollback(struct store_db *db)
{
	struct store_tree *t;

	CHECK_RC(store_db__begin(db, 300, 10), 0);
	CHECK_RC(add_folded(db, &app10, "main;gone;leaf", STORE_FRAME_USER,
			    0, 9), 0);
	store_db__rollback(db);
	store_db__rollback(db);
	CHECK_U64(samples_in(db, 300, 301), 0);

	CHECK_RC(store_db__begin(db, 300, 10), 0);
	CHECK_RC(add_folded(db, &app10, "main;gone;leaf", STORE_FRAME_USER,
			    0, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_U64(samples_in(db, 300, 301), 1);
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	check_node(t, "app;main;gone;leaf", 1, 1);
	store_tree__free(t);
}

static void check_bad_calls(struct store_db *db)
{
	struct store_frame nameless = { .module = "app" };

	CHECK_RC(store_db__commit(db), -EINVAL);
	CHECK_RC(add_folded(db, &app10, "main", STORE_FRAME_USER, 0, 1),
		 -EINVAL);
	CHECK_RC(store_db__add_drops(db, "x", 1), -EINVAL);
	CHECK_RC(store_db__begin(db, 400, 1), 0);
	CHECK_RC(store_db__add_stack(db, &app10, &nameless, 1, 1), -EINVAL);
	CHECK(strlen(store_db__errmsg(db)) > 0);
	store_db__rollback(db);
	CHECK(store_db__errmsg(NULL) != NULL);
	CHECK(strlen(store_strerror(-ENOTSUP)) > 0);
	store_db__close(NULL);
	store_tree__free(NULL);
	store_summary__free(NULL);
}

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "profile.db");
	struct store_db *db;
	char *v;

	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), -ENOENT);
	v = path_in(dir, "missing/profile.db");
	CHECK_RC(store_db__open(v, STORE_OPEN_WRITE, &db), -ENOENT);
	free(v);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	write_flushes(db);
	check_summary(db);
	check_tree(db);
	check_top(db);
	check_range_tree(db);
	check_meta(db);
	check_bad_calls(db);
	store_db__close(db);

	/* Everything survives a reopen, read-only; a second query on the
	 * handle (which reuses the first one's work arrays) agrees. */
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	check_summary(db);
	check_tree(db);
	check_range_tree(db);
	check_tree(db);
	check_top(db);
	CHECK_RC(store_db__get_meta(db, "command", &v), 0);
	CHECK(strcmp(v, "./bench --fast") == 0);
	free(v);
	CHECK_RC(store_db__set_meta(db, "k", "v"), -EROFS);
	CHECK_RC(store_db__begin(db, 500, 1), -EROFS);
	/* A tree's texts outlive the handle that made it. */
	{
		struct store_tree *t;

		CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
		store_db__close(db);
		check_node(t, "app;main;a;b", 6, 6);
		CHECK(strcmp(store_tree__node(t, tree_find(t, "app;main;a"))->module,
			     "app") == 0);
		store_tree__free(t);
	}

	/* Reopened for writing, new flushes add to the old ones. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	check_rollback(db);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), 33);
	store_db__close(db);

	/* TRUNCATE starts over. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE,
				&db), 0);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), 0);
	CHECK_RC(store_db__get_meta(db, "command", &v), -ENOENT);
	write_flushes(db);
	check_summary(db);
	store_db__close(db);

	free(path);
	cleanup_tempdir(dir);
	return 0;
}
