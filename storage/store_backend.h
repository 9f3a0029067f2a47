/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_backend.h — private to storage/: the interface between the public
 * handle of storage.h (store_db.c, layer 6) and a backend that keeps the
 * data (the SQLite backend: store_sqlite.c, layer 5, and the layers under
 * it; storage/DESIGN.md). A store_db is a backend's handle: the
 * backend's own struct begins with a struct store_db, whose ops table
 * holds the backend's operations. storage.h's functions check their
 * arguments' presence and hand on to the operation of the same name;
 * what is made of the operations (exports, the pprof import, the
 * function table and merging of trees) is written once above them.
 *
 * The backends: SQLite (store_sqlite.c and the layers under it), and
 * ClickHouse, the fleet store (store_ch_read.c and the files of
 * store_ch_reader.h), which provides the same operations with the
 * contracts storage.h documents for them; one it
 * cannot do (a read-only store's writer, retention run by the server
 * side, coverage it does not keep) answers -ENOSYS with a
 * message, which store_strerror names.
 */
#pragma once

#include <stdio.h>

#include "storage.h"
#include "store_formats.h"

/* Messages of store_db__errmsg() are cut at this size. */
#define STORE_ERRMSG_SIZE 256

struct store_backend;

/* The head of every backend's handle. */
struct store_db {
	const struct store_backend *ops;
	/* The last error's message, for store_db__errmsg(): written by
	 * the backend and by the layer above it. */
	char errmsg[STORE_ERRMSG_SIZE];
};

/* A backend's operations: each as storage.h documents the function of
 * the same name (store_db__NAME), on a handle of this backend. */
struct store_backend {
	const char *name; /* "sqlite", "clickhouse" (store_db__backend) */
	void (*close)(struct store_db *db);
	typeof(store_db__seal) *seal;
	typeof(store_db__begin) *begin;
	typeof(store_db__add_stack) *add_stack;
	/* NULL for a backend without a memo of interned frames. */
	typeof(store_db__forget_interned) *forget_interned;
	typeof(store_db__frame_memo_stats) *frame_memo_stats;
	typeof(store_db__add_drops) *add_drops;
	typeof(store_db__add_events) *add_events;
	typeof(store_db__add_coverage) *add_coverage;
	typeof(store_db__add_coverage_issue) *add_coverage_issue;
	typeof(store_db__add_python_coverage) *add_python_coverage;
	typeof(store_db__commit) *commit;
	typeof(store_db__rollback) *rollback;
	typeof(store_db__set_meta) *set_meta;
	typeof(store_db__get_meta) *get_meta;
	typeof(store_db__summary) *summary;
	typeof(store_db__query_tree) *query_tree;
	typeof(store_db__query_coverage) *query_coverage;
	typeof(store_db__query_python_coverage) *query_python_coverage;
	typeof(store_db__query_timeline) *query_timeline;
	typeof(store_db__label_sets) *label_sets;
	typeof(store_db__label_names) *label_names;
	typeof(store_db__label_values) *label_values;
	typeof(store_db__maintain) *maintain;
	typeof(store_db__check) *check;
	typeof(store_db__span) *span;
	typeof(store_db__drops_timeline) *drops_timeline;
	typeof(store_db__set_deadline) *set_deadline;
	typeof(store_db__set_cancel) *set_cancel; /* NULL: never asks */
	typeof(store_db__memory) *memory;
	/* Whether a flush may begin now: 0, -EROFS (read-only handle),
	 * -EBUSY (a flush is open). */
	int (*can_write)(struct store_db *db);
	/* The span of the flushes (buckets recorded, also empty ones) whose
	 * buckets start in q's range (NULL: all): Unix seconds, *ret_first
	 * 0 when there is none. Returns 0 or -errno. */
	int (*flush_span)(struct store_db *db, const struct store_query *q,
			  int64_t *ret_first, int64_t *ret_end);
	/* Add where every stored frame is in its binary to sites. Returns
	 * 0 or -errno. */
	int (*frame_sites)(struct store_db *db, struct store_frame_sites *sites);
};

/* Remember msg for store_db__errmsg(); returns err. Inline here, the
 * interface's side, so a backend never calls up into store_db.c. */
static inline int store_db__fail_msg(struct store_db *db, int err, const char *msg)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
	return err;
}

/* The SQLite backend (store_sqlite.c): open path (flags as
 * store_db__open). Returns 0 and *ret_db, or -errno. */
int store_sqlite__open(const char *path, unsigned flags,
		       struct store_db **ret_db);
