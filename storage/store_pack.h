/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pack.h — private to storage/, layer 2 (storage/DESIGN.md): what
 * the file's packed data is made of, on the connection of layer 1
 * (store_sql.h). Sample blocks: a time bucket's (label set, stack,
 * count) entries in columns, written, decoded and scanned with a label
 * filter (store_block.c); the packed tables: the stack trie, frames and
 * functions in chunks of consecutive ids (store_packed.c); and the
 * containers both are built with (sums by pair, growable arrays, rows,
 * varints). Nothing here knows the writer, the queries or their caches.
 */
#pragma once

#include <libdeflate.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store_sql.h"

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
/* Bytes m holds (entries and slots). */
size_t store_sums__bytes(const struct store_sums *m);

/* Make room for index id (an SQLite row id) in *arr, an array of
 * elem-sized entries with *cap of them: common_grow(), the new entries
 * zeroed. Returns 0, -EINVAL for a negative id, -EOVERFLOW or -ENOMEM. */
int store_fit(void **arr, size_t *cap, size_t elem, int64_t id);

/* Rows per chunk of a packed table (store_packed.c): a chunk is rewritten
 * whole when a flush appends to it, so it stays small (~3 KiB packed),
 * and several share a 16 KiB page. */
#define STORE_PACKED_CHUNK 1024
#define STORE_PACKED_COLS 7

/* The packed tables: stack trie (parent, frame), frames (function, line,
 * build_id, offset, kind), functions (name, module, file; a name below 0
 * is derived: store_name__derived), label sets (host, process, pid,
 * thread, tid, cgroup_id, extra; schema 9). */
enum store_packed_table {
	STORE_PACKED_NODES,
	STORE_PACKED_FRAMES,
	STORE_PACKED_FUNCTIONS,
	STORE_PACKED_LABELS,
	STORE_PACKED_COUNT,
};

/*
 * A function's name column below 0 (schema 9): the name is not a string
 * but derived, "BASE+0xHEX" with BASE the module's basename and HEX the
 * offset -1 - name (the name the symbolizer gives code without a symbol,
 * one per function start of a stripped binary: as strings they took a
 * row each). store_name__derived gives the column's value for a name,
 * or 0 when the name is not of that form for module.
 */
int64_t store_name__derived(const char *name, const char *module);
/* The text of a derived name into buf (size >= 32 + the basename).
 * Returns buf, or NULL when it does not fit. */
char *store_name__text(int64_t derived, const char *module, char *buf, size_t size);

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
/* Bytes a holds. */
size_t store_rows__bytes(const struct store_rows *a);
/* The index of the row with id in a (ascending ids), or -1. */
ssize_t store_rows__find(const struct store_rows *a, int64_t id);

/* A set of label-set ids (a filter's matches). */
struct store_lsset {
	uint8_t *bits;
	size_t n; /* ids < n may be set */
};

void store_lsset__free(struct store_lsset *s);

/* Called for every entry of a block. Returns 0 or -errno to stop. */
typedef int (*store_block_fn)(void *ctx, int64_t time_s, int64_t label_set,
			      int64_t node, uint64_t count);

/* The first byte of a block or chunk: how the body is stored. */
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
int store_block__put(struct store_sqlite *db, int64_t time_s,
		     int64_t duration_s, struct store_sums *m);

/*
 * Call fn for every entry of every block in q's range (NULL: all) whose
 * label set is in allow (NULL: every one; q's filter is not looked at:
 * the read cache turns it into allow, store_cache__scan). Returns 0,
 * -EINVAL (inverted range, corrupt block), or -errno.
 */
int store_block__scan(struct store_sqlite *db, const struct store_query *q,
		      const struct store_lsset *allow, store_block_fn fn, void *ctx);

/* ---- packed tables (store_packed.c, schema 5) ---- */

/*
 * Call fn for every stored row of table t with an id above after, by
 * ascending id (inside the caller's transaction). Returns 0, fn's error,
 * -EINVAL ("corrupt stack trie" and the like: a chunk that does not
 * decode, ids out of order, a parent not below its child), or -errno.
 */
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);
int store_packed__load(struct store_sqlite *db, enum store_packed_table t,
		       int64_t after, store_row_fn fn, void *ctx);
/* Every row of table t into *ret (appended). Returns as above. */
int store_packed__load_all(struct store_sqlite *db, enum store_packed_table t,
			   struct store_rows *ret);

/*
 * Append rows (ascending ids above every stored id) to table t in the
 * writer's transaction: the last chunk is filled up and rewritten, new
 * chunks follow. Returns 0, -EINVAL (ids out of order, corrupt last
 * chunk), or -errno.
 */
int store_packed__append(struct store_sqlite *db, enum store_packed_table t,
			 const struct store_row *v, size_t n);

/* Replace all of table t with rows v (ascending ids), packed anew.
 * Returns 0 or -errno. */
int store_packed__replace(struct store_sqlite *db, enum store_packed_table t,
			  const struct store_row *v, size_t n);

/*
 * Call fn for every row of strings with an id above after (the texts
 * frames, functions and label sets point at; rows, not packed yet),
 * text NULL for a NULL row. Returns 0, fn's error, or
 * -errno.
 */
typedef int (*store_string_fn)(void *ctx, int64_t id, const char *text,
			       size_t len);
int store_packed__load_strings(struct store_sqlite *db, int64_t after,
			       store_string_fn fn, void *ctx);
