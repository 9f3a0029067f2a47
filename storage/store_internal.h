/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_internal.h — private to storage/: the store_db handle shared by the
 * files of the module (store_db.c opens and migrates, store_write.c writes
 * flushes, store_query.c answers queries), its prepared statements and id
 * caches, and the SQLite -> -errno conversion. Only storage/ includes this
 * header and sqlite3.h.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage.h"
#include "store_map.h"

/* PRAGMA application_id of every Ember database: "EMBR". */
#define STORE_APPLICATION_ID 0x454d4252

/*
 * A writer cache is dropped when it grows past this many entries, so a
 * long-running agent's memory stays bounded; ids are then looked up again.
 */
#define STORE_CACHE_MAX (1u << 20)

/* Prepared statements kept for the life of the handle. */
enum store_stmt {
	STMT_STRING_GET,
	STMT_STRING_ADD,
	STMT_FUNCTION_GET,
	STMT_FUNCTION_ADD,
	STMT_FRAME_GET,
	STMT_FRAME_ADD,
	STMT_NODE_GET,
	STMT_NODE_ADD,
	STMT_LABELS_GET,
	STMT_LABELS_ADD,
	STMT_SAMPLE_ADD,
	STMT_DROP_ADD,
	STMT_FLUSH_ADD,
	STMT_META_SET,
	STMT_META_GET,
	STMT_COUNT,
};

/* The id caches of the writer, one per deduplicated table. */
enum store_cache {
	CACHE_STRING,
	CACHE_FUNCTION,
	CACHE_FRAME,
	CACHE_NODE,
	CACHE_LABELS,
	CACHE_COUNT,
};

struct store_db {
	sqlite3 *sql;
	bool writable;
	bool in_flush;
	int64_t flush_time_s;
	uint32_t flush_duration_s;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct store_map caches[CACHE_COUNT];
	char errmsg[256];
};

/*
 * Convert a SQLite result code to -errno and remember sqlite3_errmsg() (or
 * what, when SQLite has nothing to say) for store_db__errmsg().
 */
int store_db__fail(struct store_db *db, int rc);

/* Remember a message of our own for store_db__errmsg(); returns err. */
int store_db__fail_msg(struct store_db *db, int err, const char *msg);

/* Get prepared statement id (prepared on first use), reset and with its
 * bindings cleared. Returns 0 and *ret_stmt (borrowed), or -errno. */
int store_db__stmt(struct store_db *db, enum store_stmt id,
		   sqlite3_stmt **ret_stmt);

/* Run SQL without results. Returns 0 or -errno. */
int store_db__exec(struct store_db *db, const char *sql);

/*
 * Prepare a query over samples (alias s): every "%s" in sql_fmt becomes the
 * label clause of q's filter (or "1"); ?1 and ?2 are bound to the range,
 * ?3 to the filter. Returns 0 and *ret_st (caller finalizes), -EINVAL for
 * an inverted range, or -errno.
 */
int store_query__prepare(struct store_db *db, const char *sql_fmt,
			 const struct store_query *q, sqlite3_stmt **ret_st);

/*
 * The value of label name (built-in or free-form) in l, as a filter sees
 * it: numbers in decimal, "" when absent. May use buf. Never NULL.
 */
const char *store_labels__value(const struct store_labels *l,
				const char *name, char *buf, size_t size);

/* SQL selecting the label texts of label_sets l, for store_labels__row:
 * host, process, pid, thread, tid, cgroup_id, extra. */
#define STORE_LABEL_COLUMNS                                                 \
	"(SELECT text FROM strings WHERE id = l.host), "                    \
	"(SELECT text FROM strings WHERE id = l.process), l.pid, "          \
	"(SELECT text FROM strings WHERE id = l.thread), l.tid, "           \
	"l.cgroup_id, (SELECT text FROM strings WHERE id = l.extra)"

/* Pointer type name under which queries bind a struct store_filter. */
#define STORE_FILTER_POINTER "ember_filter"

/*
 * Register ember_labels_match(filter, host, process, pid, thread, tid,
 * cgroup, extra) on a connection (store_filter.c). Returns 0 or -ENOMEM.
 */
int store_filter__register(sqlite3 *sql);

/* Drop the writer's id caches (after a rollback they may name rows that no
 * longer exist). */
void store_db__drop_caches(struct store_db *db);
