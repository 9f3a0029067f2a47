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
#include <sys/types.h>
#include <libdeflate.h>

#include "storage.h"
#include "store_map.h"

/* PRAGMA application_id of every Ember database: "EMBR". */
#define STORE_APPLICATION_ID 0x454d4252

/* The WAL: checkpointed after about this many bytes (wal_autocheckpoint,
 * in pages of the file's size), and cut back to at most STORE_WAL_LIMIT_BYTES
 * when it starts over (journal_size_limit). */
#define STORE_WAL_CHECKPOINT_BYTES (1u << 20)
#define STORE_WAL_LIMIT_BYTES (2u << 20)

/* Page checksums (store_vfs.c): the VFS every handle opens its file
 * with, the reserved bytes per page that hold a checksum, and the file
 * control with which the store says how a file's pages are checked (int:
 * 1 write and check, 2 write only, 0 neither). */
#define STORE_VFS_NAME "ember-checksum"
#define STORE_PAGE_RESERVE 8
#define STORE_FCNTL_CHECKSUMS 0x45424d01

/* Register the checksum VFS (once per process). Returns 0 or -ENOSYS. */
int store_vfs__register(void);

/* Prepared statements kept for the life of the handle. */
enum store_stmt {
	STMT_STRING_ADD,
	STMT_NODES_LOAD,
	STMT_NODES_LAST,
	STMT_NODES_PUT,
	STMT_FRAMES_LOAD,
	STMT_FRAMES_LAST,
	STMT_FRAMES_PUT,
	STMT_FUNCTIONS_LOAD,
	STMT_FUNCTIONS_LAST,
	STMT_FUNCTIONS_PUT,
	STMT_LABELS_GET,
	STMT_LABELS_ADD,
	STMT_BLOCK_GET,
	STMT_BLOCK_PUT,
	STMT_DROP_ADD,
	STMT_EVENT_ADD,
	STMT_FLUSH_ADD,
	STMT_META_SET,
	STMT_META_GET,
	STMT_COUNT,
};

/* (a, b) -> summed count, in insertion order (v[0..n)); hashed. */
struct store_sum {
	int64_t a, b;
	uint64_t count;
};

struct store_sums {
	struct store_sum *v;
	size_t n, vcap;
	uint32_t *slots; /* indices into v, UINT32_MAX = empty */
	size_t cap;
};

/* Add count to (a, b). Returns 0 or -ENOMEM. */
int store_sums__add(struct store_sums *m, int64_t a, int64_t b, uint64_t count);
/* The entry of (a, b), or NULL. Valid until the next add. */
struct store_sum *store_sums__find(const struct store_sums *m, int64_t a,
				   int64_t b);
void store_sums__clear(struct store_sums *m);
void store_sums__free(struct store_sums *m);

/* Make room for index id in *arr, an array of elem-sized entries with
 * *cap of them: grown by doubling, the new entries zeroed. Returns 0,
 * -EINVAL for a negative id or -ENOMEM. */
int store_fit(void **arr, size_t *cap, size_t elem, int64_t id);

/* Rows per chunk of a packed table (store_packed.c): a chunk is rewritten
 * whole when a flush appends to it, so it stays small (~3 KiB packed),
 * and several share a 16 KiB page. */
#define STORE_PACKED_CHUNK 1024
#define STORE_PACKED_COLS 5

/* The packed tables: stack trie (parent, frame), frames (function, line,
 * build_id, offset, kind), functions (name, module, file). */
enum store_packed_table {
	STORE_PACKED_NODES,
	STORE_PACKED_FRAMES,
	STORE_PACKED_FUNCTIONS,
	STORE_PACKED_COUNT,
};

/* A row of a packed table: its id and its columns (unused ones 0). */
struct store_row {
	int64_t id;
	int64_t v[STORE_PACKED_COLS];
};

/* A growable array of rows, by ascending id. */
struct store_rows {
	struct store_row *v;
	size_t n, cap;
};

int store_rows__push(struct store_rows *a, const struct store_row *row);
void store_rows__free(struct store_rows *a);
/* The index of the row with id in a (ascending ids), or -1. */
ssize_t store_rows__find(const struct store_rows *a, int64_t id);

/* A set of label-set ids (a filter's matches). */
struct store_lsset {
	uint8_t *bits;
	size_t n; /* ids < n may be set */
};

void store_lsset__free(struct store_lsset *s);

struct store_cached_function {
	const char *name, *module, *file; /* interned; NULL = none */
	bool known; /* a stored function */
};

/*
 * Per-handle caches of what trees need, indexed by id: stack nodes,
 * frames (texts interned in strings), label sets' process names and pids.
 * Filled incrementally (ids only grow) and dropped when the file's
 * gc_generation changes (retention deleted rows; ids may be reused).
 */
/* A stack node of the read cache; frame 0 marks one that cannot be used
 * (a file whose ids do not fit: corrupt). */
struct store_cached_node {
	uint32_t parent, frame;
};

struct store_read_cache {
	int64_t generation;
	struct store_cached_node *nodes; /* by stack node id */
	size_t node_cap;
	int64_t max_node;
	const char **string_text; /* by strings.id; NULL = none */
	size_t string_cap;
	int64_t max_string;
	struct store_cached_function *functions;
	size_t function_cap;
	int64_t max_function;
	struct store_tree_node *frames; /* name, module, file, line, kind */
	int64_t *frame_ident; /* the first frame id with the same identity */
	uint64_t *frame_offset;
	const char **frame_build_id;
	size_t frame_cap;
	struct store_map idents; /* (name, module, file, line, kind) -> id */
	int64_t max_frame;
	const char **set_process;
	uint32_t *set_pid;
	size_t set_cap;
	int64_t max_set;
	struct store_map strings;
};

/* The state the layers above the connection keep on a handle: each is
 * created and freed by its own layer (store_db__close closes them top
 * down, before the connection). Opaque here. */
struct store_writer;       /* store_write.c: the open flush, the id caches */
struct store_tree_scratch; /* store_query.c: a tree query's work arrays */

/* Messages of store_db__errmsg() are cut at this size. */
#define STORE_ERRMSG_SIZE 256

struct store_db {
	/* Layer 1 (store_sql.c): the connection. */
	sqlite3 *sql;
	bool writable;
	bool read_savepoint;  /* the read in progress is a savepoint */
	sqlite3_stmt *stmts[STMT_COUNT];
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = no deadline */
	char *tidy_path;      /* STORE_OPEN_TIDY: -wal and -shm to remove */
	char errmsg[STORE_ERRMSG_SIZE];
	/* The layers above. */
	struct store_writer *writer;
	struct store_read_cache cache;
	struct store_tree_scratch *tree_scratch;
};

/* Called for every entry of a block. Returns 0 or -errno to stop. */
typedef int (*store_block_fn)(void *ctx, int64_t time_s, int64_t label_set,
			      int64_t node, uint64_t count);

/* The first byte of a block: how the body is stored (store_block.c). */
enum store_block_encoding {
	STORE_BLOCK_PLAIN = 1,
	STORE_BLOCK_DEFLATE = 2,
};

/* Largest body a block may claim (a corrupt length is refused before any
 * allocation): 64 MiB, some 6 million entries. */
#define STORE_BLOCK_MAX (64u << 20)

/* LEB128 varints: put returns the bytes written (at most 10); get reads
 * from [*p, end) and is false when truncated or too long. Inline: they
 * are the inner loop of every block and chunk decoded. */
static inline size_t store_varint__put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static inline bool store_varint__get(const unsigned char **p,
				     const unsigned char *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

static inline uint64_t store_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t store_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * Encode the entries of m (sorted in place; clear m afterwards) as a block.
 * Returns 0 and *ret_data (caller frees), *ret_len, *ret_total, or -ENOMEM.
 */
int store_block__encode(struct store_sums *m, unsigned char **ret_data,
			size_t *ret_len, uint64_t *ret_total);

/* What decoding keeps from one block to the next (a libdeflate
 * decompressor and a buffer); a zeroed struct is ready. */
struct store_block_reader {
	struct libdeflate_decompressor *inflater;
	unsigned char *buf;
	size_t cap;
};

void store_block_reader__free(struct store_block_reader *rd);

/*
 * A packed body as stored (sample blocks, trie chunks): one encoding byte,
 * then the body plain or, when smaller, its varint length and its raw
 * deflate. seal returns 0 and *ret_data (caller frees), *ret_len, or
 * -ENOMEM. open returns 0 and the body (borrowed from data or rd->buf,
 * valid until rd's next use), or -EINVAL (corrupt), -ENOMEM.
 */
int store_pack__seal(const unsigned char *body, size_t len,
		     unsigned char **ret_data, size_t *ret_len);
int store_pack__open(struct store_block_reader *rd, const void *data,
		     size_t len, const unsigned char **ret_body,
		     size_t *ret_len);

/*
 * Call fn for each entry of a block whose label set is in allow (NULL: all),
 * by (node, label set). rd (NULL: a one-off) is reused across calls.
 * Returns 0, fn's error, -EINVAL for a malformed or undecompressable
 * block, -ENOMEM.
 */
int store_block__decode(struct store_block_reader *rd, const void *data,
			size_t len, const struct store_lsset *allow,
			int64_t time_s, store_block_fn fn, void *ctx);

/*
 * Call fn for each entry of a schema-3 block (the 3 -> 4 migration), with
 * time_s 0. Returns 0, fn's error, or -EINVAL for a malformed block.
 */
int store_block__decode_v3(const void *data, size_t len,
			   store_block_fn fn, void *ctx);

/*
 * Write the entries of m as the block of bucket time_s, added to what the
 * bucket holds already. m is sorted and must be cleared afterwards.
 * Returns 0 or -errno.
 */
int store_block__put(struct store_db *db, int64_t time_s,
		     int64_t duration_s, struct store_sums *m);

/* The label sets that pass f. Returns 0 and *ret (free with
 * store_lsset__free), or -errno. */
int store_block__filter_sets(struct store_db *db, const struct store_filter *f,
			     struct store_lsset *ret);

/*
 * Call fn for every entry of every block in q's range that passes q's
 * filter. Returns 0, -EINVAL (inverted range, corrupt block), or -errno.
 */
int store_block__scan(struct store_db *db, const struct store_query *q,
		      store_block_fn fn, void *ctx);

/* Bring db->cache up to date; inside the caller's read transaction.
 * Returns 0 or -errno. */
int store_db__refresh_cache(struct store_db *db);
void store_cache__free(struct store_read_cache *c);

/*
 * Convert a SQLite result code to -errno and remember sqlite3_errmsg() (or
 * what, when SQLite has nothing to say) for store_db__errmsg().
 */
int store_sql__fail(struct store_db *db, int rc);

/* Remember a message of our own for store_db__errmsg(); returns err. */
int store_sql__fail_msg(struct store_db *db, int err, const char *msg);

/* Prepared statement id, prepared from sql (the SQL of the layer that
 * owns the slot) on first use, reset and with its bindings cleared.
 * Returns 0 and *ret_stmt (borrowed), or -errno. */
int store_sql__stmt(struct store_db *db, enum store_stmt id, const char *sql,
		    sqlite3_stmt **ret_stmt);

/* Run statement id (an INSERT of three integers and a blob: a sample
 * block, a packed chunk) with those values. Returns 0 or -errno. */
int store_sql__put_blob(struct store_db *db, enum store_stmt id, const char *sql,
			int64_t a, int64_t b, int64_t c, const void *data, size_t len);

/* Run SQL without results. Returns 0 or -errno. */
int store_sql__exec(struct store_db *db, const char *sql);

/* Open the file at path for store_db__open (flags as there): validated,
 * in WAL mode with its bounds when writable, not yet migrated. Returns 0
 * or -errno; on failure too, store_sql__close releases what it took. */
int store_sql__open(struct store_db *db, const char *path, unsigned flags);
void store_sql__close(struct store_db *db);

/* store_db__seal's work, on a writable handle with no flush open. */
int store_sql__seal(struct store_db *db);

/* Whether a transaction is open on the connection (a flush, a
 * maintenance run, a read). */
bool store_sql__in_transaction(const struct store_db *db);

/*
 * A read of one snapshot: BEGIN, or, inside a transaction already open
 * (the writer's flush), SAVEPOINT name. Reads do not nest. Returns 0 or
 * -errno; on 0, end it with store_sql__read_end(db, name).
 */
int store_sql__read_begin(struct store_db *db, const char *name);
void store_sql__read_end(struct store_db *db, const char *name);

/* Run a query returning one integer into *ret. Returns 0 or -errno. */
int store_sql__query_int(struct store_db *db, const char *sql, int64_t *ret);

/*
 * The file's schema version (0 for an empty file that may become an
 * Ember database), or -EINVAL (another application's file, not SQLite,
 * corrupt), -ENOTSUP (a newer Ember's), -errno.
 */
int store_sql__version(struct store_db *db);

/* The reserved bytes per page the file has (or, on a new file, will
 * have), -1 when unknown; with want >= 0, ask for want (taking effect
 * on a new file, or at the next VACUUM). */
int store_sql__reserve_bytes(struct store_db *db, int want);

/* How the checksum VFS treats the file's pages (STORE_FCNTL_CHECKSUMS). */
void store_sql__set_checksums(struct store_db *db, int mode);

/* A file of the current schema has a checksum in every page: check them
 * all from now on. Returns 0, or -EUCLEAN when its header says it has
 * none (damaged). */
int store_sql__check_checksums(struct store_db *db);

/* Bring a writable file to STORE_SCHEMA_VERSION (store_migrate.c), its
 * auto-vacuum and page checksums included. Returns 0 or -errno. */
int store_migrate__run(struct store_db *db);

/*
 * Start a read of one snapshot (BEGIN, or a savepoint inside the writer's
 * open flush) and bring the read caches up to date. Returns 0 or -errno;
 * on 0, end it with store_db__read_end.
 */
int store_db__read_begin(struct store_db *db);
void store_db__read_end(struct store_db *db);

/*
 * The value of label name (built-in or free-form) in l, as a filter sees
 * it: numbers in decimal, "" when absent. May use buf. Never NULL.
 */
const char *store_labels__value(const struct store_labels *l,
				const char *name, char *buf, size_t size);

/* SQL selecting the label texts of label_sets l: host, process, pid,
 * thread, tid, cgroup_id, extra. */
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

/* ---- the layers above, for the public handle (store_db.c) ---- */

/* The writer (store_write.c): whether a flush is open; the open flush's
 * time (-EINVAL "no open flush" when none); roll back and free the
 * writer's state. */
bool store_write__in_flush(const struct store_db *db);
int store_write__flush_time(struct store_db *db, int64_t *ret_time_s);
void store_write__close(struct store_db *db);

/* Free what the tree queries keep on db (store_query.c). */
void store_query__close(struct store_db *db);

/* ---- packed tables (store_packed.c, schema 5) ---- */

/*
 * Call fn for every stored row of table t with an id above after, by
 * ascending id (inside the caller's transaction). Returns 0, fn's error,
 * -EINVAL ("corrupt stack trie" and the like: a chunk that does not
 * decode, ids out of order, a parent not below its child), or -errno.
 */
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);
int store_packed__load(struct store_db *db, enum store_packed_table t,
		       int64_t after, store_row_fn fn, void *ctx);
/* Every row of table t into *ret (appended). Returns as above. */
int store_packed__load_all(struct store_db *db, enum store_packed_table t,
			   struct store_rows *ret);

/*
 * Append rows (ascending ids above every stored id) to table t in the
 * writer's transaction: the last chunk is filled up and rewritten, new
 * chunks follow. Returns 0, -EINVAL (ids out of order, corrupt last
 * chunk), or -errno.
 */
int store_packed__append(struct store_db *db, enum store_packed_table t,
			 const struct store_row *v, size_t n);

/* Replace all of table t with rows v (ascending ids), packed anew.
 * Returns 0 or -errno. */
int store_packed__replace(struct store_db *db, enum store_packed_table t,
			  const struct store_row *v, size_t n);
