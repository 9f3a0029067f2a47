/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ops.h — private to storage/, layer 4 (storage/DESIGN.md): the
 * operations of storage.h built on the layers below (store_cache.h and
 * down): the writer (store_write.c, store_coverage.c, store_python.c),
 * the queries (store_query.c, store_timeline.c, store_coverage.c,
 * store_python.c), the migrations (store_migrate.c) and retention
 * (store_maintain.c): the SQLite backend's operations (store_sqlite__NAME
 * does storage.h's store_db__NAME), and what the backend's top
 * (store_sqlite.c, layer 5) needs besides: the migrations, the writer's
 * state, and the closes of what these files keep on a handle.
 */
#pragma once

#include "store_cache.h"

/* Bring a writable file to STORE_SCHEMA_VERSION (store_migrate.c), its
 * auto-vacuum and page checksums included. Returns 0 or -errno. */
int store_migrate__run(struct store_sqlite *db);

/* The writer (store_write.c): whether a flush is open; the open flush's
 * time (-EINVAL, "no open flush", when none); roll back an open flush
 * and free the writer's state. */
bool store_write__in_flush(const struct store_sqlite *db);
int store_write__flush_time(struct store_sqlite *db, int64_t *ret_time_s);
/* The writer's cache of coverage_modules ids ((module, build-id) ->
 * id) while a flush is open, else NULL: dropped with the other id caches
 * (a rollback, a collection). */
struct store_map *store_write__modules(struct store_sqlite *db);
void store_write__close(struct store_sqlite *db);
/* Bytes the writer's state holds: its id caches, the stack trie's index,
 * the open flush's sums and new rows. */
size_t store_write__bytes(const struct store_sqlite *db);

/* Free what the tree queries keep on db (store_query.c), and its bytes. */
void store_query__close(struct store_sqlite *db);
size_t store_query__bytes(const struct store_sqlite *db);

/* The SQLite backend's operations of this layer (store_backend.h), each
 * as storage.h documents store_db__ of the same name. */
typeof(store_db__begin) store_sqlite__begin;
typeof(store_db__add_stack) store_sqlite__add_stack;
typeof(store_db__forget_interned) store_sqlite__forget_interned;
typeof(store_db__frame_memo_stats) store_sqlite__frame_memo_stats;
typeof(store_db__add_drops) store_sqlite__add_drops;
typeof(store_db__add_events) store_sqlite__add_events;
typeof(store_db__add_coverage) store_sqlite__add_coverage;
typeof(store_db__add_coverage_issue) store_sqlite__add_coverage_issue;
typeof(store_db__add_python_coverage) store_sqlite__add_python_coverage;
typeof(store_db__commit) store_sqlite__commit;
typeof(store_db__rollback) store_sqlite__rollback;
typeof(store_db__summary) store_sqlite__summary;
typeof(store_db__query_tree) store_sqlite__query_tree;
typeof(store_db__query_coverage) store_sqlite__query_coverage;
typeof(store_db__query_python_coverage) store_sqlite__query_python_coverage;
typeof(store_db__query_timeline) store_sqlite__query_timeline;
typeof(store_db__label_sets) store_sqlite__label_sets;
typeof(store_db__label_names) store_sqlite__label_names;
typeof(store_db__label_values) store_sqlite__label_values;
typeof(store_db__maintain) store_sqlite__maintain;
typeof(store_db__span) store_sqlite__span;
typeof(store_db__drops_timeline) store_sqlite__drops_timeline;
