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

/*
 * A writer cache is dropped when it grows past this many entries, so a
 * long-running agent's memory stays bounded; ids are then looked up again.
 */
#define STORE_CACHE_MAX (1u << 20)

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

/*
 * The id caches of the writer, one per deduplicated table. Strings (rows
 * without UNIQUE index), functions and frames (packed tables, schema 5)
 * have complete caches: copies of the tables' keys, brought up to date at
 * each store_db__begin under the write lock, and never trimmed; a miss
 * means a new row. Label sets keep their index and a bounded cache. Stack
 * nodes have their own complete index (struct store_db's nodes).
 */
enum store_cache {
	CACHE_STRING,
	CACHE_FUNCTION,
	CACHE_FRAME,
	CACHE_LABELS,
	CACHE_COUNT,
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

struct store_db {
	sqlite3 *sql;
	int migrating_from; /* schema version a running migration started at */
	bool writable;
	bool in_flush;
	int64_t flush_time_s;
	uint32_t flush_duration_s;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct store_map caches[CACHE_COUNT];
	int64_t cache_max_id[CACHE_COUNT]; /* largest id loaded from the file */
	int64_t mirror_generation;         /* gc_generation the copies match */
	bool mirror_valid;
	struct store_sums flush_sums; /* (label set, node) -> count */
	/* The writer's index of the stack trie: (parent, frame) -> id for
	 * every stored node (in the count field), loaded with the caches;
	 * max_node is the largest id. */
	struct store_sums nodes;
	int64_t max_node;
	/* Rows of the packed tables this flush adds (written at commit). */
	struct store_rows new_rows[STORE_PACKED_COUNT];
	struct store_read_cache cache;
	/* What a tree query keeps for the next (store_query.c); NULL until
	 * the first. Arrays by cached node and frame: sized to the cache. */
	struct store_tree_scratch *tree_scratch;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = no deadline */
	char *tidy_path;      /* STORE_OPEN_TIDY: -wal and -shm to remove */
	char errmsg[256];
	/* Shipping (store_db__ship_enable): the open flush's shipment for
	 * ClickHouse (store_ch_ship.c); NULL when not shipping. */
	struct store_ship *ship;
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
int store_db__put_block(struct store_db *db, int64_t time_s,
			int64_t duration_s, struct store_sums *m);

/* The label sets that pass f. Returns 0 and *ret (free with
 * store_lsset__free), or -errno. */
int store_db__filter_sets(struct store_db *db, const struct store_filter *f,
			  struct store_lsset *ret);

/*
 * Call fn for every entry of every block in q's range that passes q's
 * filter. Returns 0, -EINVAL (inverted range, corrupt block), or -errno.
 */
int store_db__scan(struct store_db *db, const struct store_query *q,
		   store_block_fn fn, void *ctx);

/* Bring db->cache up to date; inside the caller's read transaction.
 * Returns 0 or -errno. */
int store_db__refresh_cache(struct store_db *db);
void store_cache__free(struct store_read_cache *c);
void store_tree_scratch__free(struct store_tree_scratch *s);

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

/* Run statement id (an INSERT of three integers and a blob: a sample
 * block, a packed chunk) with those values. Returns 0 or -errno. */
int store_db__put_blob(struct store_db *db, enum store_stmt id, int64_t a, int64_t b,
		       int64_t c, const void *data, size_t len);

/* Run SQL without results. Returns 0 or -errno. */
int store_db__exec(struct store_db *db, const char *sql);

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

/* Drop the writer's id caches (after a rollback they may name rows that no
 * longer exist). */
void store_db__drop_caches(struct store_db *db);

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
