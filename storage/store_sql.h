/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sql.h — private to storage/, layer 1 (storage/DESIGN.md): the
 * SQLite connection under a store_db handle (store_sql.c), the checksum
 * VFS it opens files with (store_vfs.c), the prepared statements the
 * layers above keep on it, and the conversion of SQLite's result codes to
 * -errno. The files of this layer include this header only; the layers
 * above include it through theirs. Only storage/ sees sqlite3.h.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store_backend.h"
#include "store_vfs.h"

/* The WAL: checkpointed after about this many bytes (wal_autocheckpoint,
 * in pages of the file's size), and cut back to at most STORE_WAL_LIMIT_BYTES
 * when it starts over (journal_size_limit). */
#define STORE_WAL_CHECKPOINT_BYTES (1u << 20)
#define STORE_WAL_LIMIT_BYTES (2u << 20)


/*
 * The slots of the prepared statements kept for the life of the handle.
 * Their SQL belongs to the layer that owns the table and is passed to
 * store_sql__stmt with the slot.
 */
enum store_stmt {
	STMT_META_SET,       /* store_sql.c */
	STMT_META_GET,
	STMT_BLOCK_GET,      /* store_block.c */
	STMT_BLOCK_PUT,
	STMT_NODES_LOAD,     /* store_packed.c */
	STMT_NODES_LAST,
	STMT_NODES_PUT,
	STMT_FRAMES_LOAD,
	STMT_FRAMES_LAST,
	STMT_FRAMES_PUT,
	STMT_FUNCTIONS_LOAD,
	STMT_FUNCTIONS_LAST,
	STMT_FUNCTIONS_PUT,
	STMT_LABELS_LOAD,
	STMT_LABELS_LAST,
	STMT_LABELS_PUT,
	STMT_STRING_ADD,     /* store_write.c */
	STMT_DROP_ADD,
	STMT_EVENT_ADD,
	STMT_FLUSH_ADD,
	STMT_MODULE_ADD,     /* store_coverage.c */
	STMT_MODULE_GET,
	STMT_COVERAGE_ADD,
	STMT_COVERAGE_ISSUE_ADD,
	STMT_PYTHON_COVERAGE_ADD, /* store_python.c */
	STMT_COUNT,
};

/* What the layers above keep on a handle. Each is created and freed by
 * its own layer (store_db__close closes them top down, before the
 * connection); this layer never looks inside. */
struct store_read_cache;   /* layer 3, store_cache.c: ids -> texts */
struct store_writer;       /* layer 4, store_write.c: the open flush, id caches */
struct store_ship;         /* the fleet store, store_ch_ship.c: a flush's shipment */
struct store_tree_scratch; /* layer 4, store_query.c: a tree query's work arrays */

/* The SQLite backend's handle: a store_db (store_backend.h) whose ops
 * are the SQLite backend's (store_sqlite.c), then each layer's state. */
struct store_sqlite {
	struct store_db base; /* first: a store_db is a store_sqlite */
	/* Layer 1: the connection. */
	sqlite3 *sql;
	bool writable;
	bool read_savepoint;  /* the read in progress is a savepoint */
	sqlite3_stmt *stmts[STMT_COUNT];
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = no deadline */
	char *tidy_path;      /* STORE_OPEN_TIDY: -wal and -shm to remove */
	/* The layers above. */
	struct store_read_cache *cache;
	struct store_writer *writer;
	struct store_tree_scratch *tree_scratch;
	/* Shipping to ClickHouse (store_outbox.c, store_db__ship_enable):
	 * the open flush's shipment; NULL when not shipping. */
	struct store_ship *ship;
};

/* The SQLite handle of db, a handle of this backend. */
static inline struct store_sqlite *store_sqlite__of(struct store_db *db)
{
	return (struct store_sqlite *)db;
}

static inline const struct store_sqlite *store_sqlite__cof(const struct store_db *db)
{
	return (const struct store_sqlite *)db;
}

/* The SQLite backend's operations of this layer (store_backend.h), each
 * as storage.h documents store_db__ of the same name. */
typeof(store_db__set_meta) store_sqlite__set_meta;
typeof(store_db__get_meta) store_sqlite__get_meta;
typeof(store_db__check) store_sqlite__check;
typeof(store_db__set_deadline) store_sqlite__set_deadline;

/* Open the file at path for store_db__open (flags as there): validated,
 * in WAL mode with its bounds when writable, not yet migrated. Returns 0
 * or -errno; on failure too, store_sql__close releases what it took. */
int store_sql__open(struct store_sqlite *db, const char *path, unsigned flags);
void store_sql__close(struct store_sqlite *db);

/*
 * Convert a SQLite result code to -errno and remember sqlite3_errmsg() (or
 * what, when SQLite has nothing to say) for store_db__errmsg().
 */
int store_sql__fail(struct store_sqlite *db, int rc);

/* Remember a message of our own for store_db__errmsg(); returns err. */
int store_sql__fail_msg(struct store_sqlite *db, int err, const char *msg);

/* Prepared statement id, prepared from sql (the SQL of the layer that
 * owns the slot) on first use, reset and with its bindings cleared.
 * Returns 0 and *ret_stmt (borrowed), or -errno. */
int store_sql__stmt(struct store_sqlite *db, enum store_stmt id, const char *sql,
		    sqlite3_stmt **ret_stmt);

/* Run statement id (an INSERT of three integers and a blob: a sample
 * block, a packed chunk) with those values. Returns 0 or -errno. */
int store_sql__put_blob(struct store_sqlite *db, enum store_stmt id, const char *sql,
			int64_t a, int64_t b, int64_t c, const void *data, size_t len);

/* Run SQL without results. Returns 0 or -errno. */
int store_sql__exec(struct store_sqlite *db, const char *sql);

/* One value bound to a statement's ?N: a text (borrowed for the run)
 * when text is not NULL, else the integer i. */
struct store_sql_value {
	const char *text;
	int64_t i;
};
#define STORE_SQL_INT(v) ((struct store_sql_value){ .i = (int64_t)(v) })
#define STORE_SQL_TEXT(v) ((struct store_sql_value){ .text = (v) })

/* Run statement id (prepared from sql on first use; one without results,
 * an INSERT or an UPDATE) with values[0..n) as ?1..?n. Returns 0 or
 * -errno. STORE_SQL_PUT(db, id, sql, STORE_SQL_INT(a), ...) counts them. */
int store_sql__put(struct store_sqlite *db, enum store_stmt id, const char *sql,
		   const struct store_sql_value *values, size_t n);
#define STORE_SQL_PUT(db, id, sql, ...) \
	store_sql__put(db, id, sql, (const struct store_sql_value[]){ __VA_ARGS__ }, \
		       sizeof((const struct store_sql_value[]){ __VA_ARGS__ }) / \
		       sizeof(struct store_sql_value))

/* Run a range query over a table its first writer creates (coverage,
 * Python coverage), with q's [from_s, to_s) (q NULL: all time) as ?1 and
 * ?2, calling row(st, ctx) for each row until one returns < 0. A file
 * without the table (written before it existed) has no rows. Returns 0,
 * row's -errno, or SQLite's failure as -errno. */
int store_sql__range_rows(struct store_sqlite *db, const char *sql, const struct store_query *q,
			  int (*row)(sqlite3_stmt *st, void *ctx), void *ctx);

/* Run a query returning one integer into *ret. Returns 0 or -errno. */
int store_sql__query_int(struct store_sqlite *db, const char *sql, int64_t *ret);

/* Whether a transaction is open on the connection (a flush, a
 * maintenance run, a read). */
bool store_sql__in_transaction(const struct store_sqlite *db);

/*
 * A read of one snapshot: BEGIN, or, inside a transaction already open
 * (the writer's flush), SAVEPOINT name. Reads do not nest. Returns 0 or
 * -errno; on 0, end it with store_sql__read_end(db, name), which keeps
 * the message of an error met during the read.
 */
int store_sql__read_begin(struct store_sqlite *db, const char *name);
void store_sql__read_end(struct store_sqlite *db, const char *name);

/*
 * The file's schema version (0 for an empty file that may become an
 * Ember database), or -EINVAL (another application's file, not SQLite,
 * corrupt), -ENOTSUP (a newer Ember's), -errno.
 */
int store_sql__version(struct store_sqlite *db);

/* The reserved bytes per page the file has (or, on a new file, will
 * have), -1 when unknown; with want >= 0, ask for want (taking effect
 * on a new file, or at the next VACUUM). */
int store_sql__reserve_bytes(struct store_sqlite *db, int want);

/* How the checksum VFS treats the file's pages (STORE_FCNTL_CHECKSUMS). */
void store_sql__set_checksums(struct store_sqlite *db, int mode);

/* A file of the current schema has a checksum in every page: check them
 * all from now on. Returns 0, or -EUCLEAN when its header says it has
 * none (damaged). */
int store_sql__check_checksums(struct store_sqlite *db);

/* How store_sql__checkpoint treats readers and the WAL file. */
enum store_checkpoint {
	/* what no reader needs is copied; the next flush writes the WAL
	 * from its start */
	STORE_CHECKPOINT_PASSIVE,
	/* all of it, then the WAL file cut to nothing, waiting for readers
	 * up to the busy timeout */
	STORE_CHECKPOINT_TRUNCATE,
	/* as TRUNCATE when no reader is in the way, else as PASSIVE at
	 * once: for a writer that must not wait (the agent's retention
	 * run, every 10 minutes right after a flush: the idle moment) */
	STORE_CHECKPOINT_IDLE,
};

/*
 * Copy what the WAL holds into the database file (a writable handle, no
 * transaction open), as mode says. Returns 0, -EBUSY (readers kept part
 * of the WAL), -ENOSPC, -EIO, -EINVAL.
 */
int store_sql__checkpoint(struct store_sqlite *db, enum store_checkpoint mode);

/* store_db__seal's work, on a writable handle with no flush open. */
int store_sql__seal(struct store_sqlite *db);

