/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h — the few helpers every module needs (sizes, clocks, hex, JSON
 * strings, hashing) and the project's containers (a hash map, an
 * overflow-checked array grow), kept here so no two modules grow their own
 * copy. Leaf modules may include this header and nothing else of another
 * module.
 *
 * Thread safety: every function here is thread-safe in that it touches
 * only what it is given; a map or an array given to two threads at once
 * needs the callers' lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t common_now_ns(void);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t common_wall_ns(void);

/* This process's resident memory in bytes (from /proc/self/statm), 0 when
 * unknown. */
uint64_t common_rss_bytes(void);

/*
 * Write n bytes of data as lowercase hex into out, which must hold 2n + 1
 * bytes; always NUL-terminates.
 */
void common_hex(const void *data, size_t n, char *out);

/*
 * Write s to f as a JSON string literal, quotes included: escapes quotes,
 * backslashes and control characters; bytes that are not valid UTF-8 become
 * U+FFFD so the output is always valid JSON. NULL is written as null.
 */
void common_json_string(FILE *f, const char *s);

/* FNV-1a 64-bit hash of n bytes, continuing from h (start with
 * COMMON_HASH_SEED). */
#define COMMON_HASH_SEED 0xcbf29ce484222325ULL
uint64_t common_hash(uint64_t h, const void *data, size_t n);

/* ---- containers ---------------------------------------------------------
 *
 * The one hash map and the one array-growing helper of the project (as
 * systemd has hashmap.c and GREEDY_REALLOC, SQLite its hash.c). A module
 * keeps its own table only with the measurement that justifies it in a
 * comment. Neither is thread-safe: a map or an array belongs to whoever
 * holds it, and callers that share one hold one lock around it.
 */

/*
 * Make room for need elements of elem bytes each in the array *arr, which
 * has room for *cap: when need > *cap, reallocate it to at least need
 * elements, growing geometrically (at least double, at least 16), so n
 * appends cost O(n). With zero, the new elements are zeroed.
 *
 * Returns 0 (also when there was room already), -EOVERFLOW when need
 * elements of elem bytes do not fit in a size_t, -ENOMEM, or -EINVAL when
 * elem is 0. *arr and *cap change only on success; on failure the array is
 * as it was.
 */
int common_grow(void **arr, size_t *cap, size_t need, size_t elem, bool zero);

/* common_grow() with the check for room inline: appends that fit cost a
 * comparison, not a call. */
static inline int common_grow_inline_(void **arr, size_t *cap, size_t need, size_t elem,
				      bool zero)
{
	if (__builtin_expect(need <= *cap, 1))
		return 0;
	return common_grow(arr, cap, need, elem, zero);
}

/* common_grow() for an array pointer variable `arr` (any element type) and
 * its size_t capacity `cap`. */
#define COMMON_GROW(arr, cap, need) \
	common_grow_inline_((void **)&(arr), &(cap), (need), sizeof(*(arr)), false)
#define COMMON_GROW0(arr, cap, need) \
	common_grow_inline_((void **)&(arr), &(cap), (need), sizeof(*(arr)), true)

/*
 * A byte-string key: len bytes at p, which need not be NUL-terminated.
 * Borrowed (the caller keeps the bytes alive as long as the entry) unless
 * the map's type has copy_bytes.
 */
struct common_bytes {
	const void *p;
	size_t len;
};

/*
 * What a map holds. Every entry is entry_size bytes (a caller's struct) and
 * starts with its key, key_size bytes; after the key, whatever the caller
 * keeps inline: values, or an index into the caller's own array. A lookup
 * key has the same form as an entry's key.
 *
 * hash and equal: NULL for plain keys (integers, pointers, structs without
 * padding), whose key_size bytes are compared with memcmp and hashed
 * (4 and 8 bytes as the integer itself, which the map spreads; other sizes
 * with common_hash_mem()). Otherwise hash(key) and equal(entry_key, key)
 * for keys that point elsewhere (strings, composite structs); equal keys
 * must hash equal. The map takes the hash's bits through a multiplication,
 * so a weak hash costs collisions, not clustering. A key can carry a hash
 * the caller computed once, for hash to return (a rebuild of the table
 * rehashes every entry).
 *
 * copy_bytes: the key is a struct common_bytes (hash and equal default to
 * common_bytes_hash and common_bytes_equal), and the map keeps a copy of
 * its bytes, followed by a NUL, until the map is cleared or freed.
 *
 * A type is a constant the map's functions are given at every call (as
 * the kernel's rhashtable takes its params): the lookups are inline, and
 * the compiler turns the hash and the key comparison into the code a
 * hand-written table for that key would have.
 */
struct common_map_type {
	size_t entry_size;
	size_t key_size;
	uint64_t (*hash)(const void *key);
	bool (*equal)(const void *entry_key, const void *key);
	bool copy_bytes;
};

struct common_map_block;

/*
 * An open-addressing hash map with linear probing over a power-of-two
 * table: a control byte per slot (empty, removed, or seven bits of the
 * entry's hash, so a probe rarely compares another key) and the entries
 * inline. It doubles when entries and removed slots would pass half of the
 * table. A zeroed struct is an empty map; the fields are private.
 *
 * Every call names the map's type, the same one for the map's whole life.
 * Entry pointers returned by find, insert and next stay valid until the
 * next insert or reserve (which may move every entry), clear or fini;
 * removing other entries does not move them.
 */
struct common_map {
	unsigned char *entries;     /* cap entries */
	unsigned char *ctrl;        /* cap control bytes, after the entries */
	size_t cap, n, removed;     /* slots, entries, removed slots */
	unsigned shift;             /* 64 - log2(cap) */
	struct common_map_block *blocks; /* copied key bytes, newest first */
	size_t block_bytes;
};

/* The entry whose key equals key, or NULL. */
static inline void *common_map__find(const struct common_map *m,
				     const struct common_map_type *type, const void *key);

/*
 * The entry for key, added when missing: a new entry gets a copy of the
 * key (and of its bytes, with copy_bytes) and zeroes after it, and the
 * caller fills in the values. The caller may rewrite a new entry's key to
 * an equal one (pointing at its own copy, say).
 *
 * Returns 1 when the entry was added, 0 when it was there, -ENOMEM or
 * -EOVERFLOW (nothing added, the map as it was); *ret_entry (when not
 * NULL) is set on success.
 */
static inline int common_map__insert(struct common_map *m, const struct common_map_type *type,
				     const void *key, void **ret_entry);

/* Remove entry, a pointer returned by find, insert or next. Safe during
 * iteration with next. */
void common_map__delete(struct common_map *m, const struct common_map_type *type, void *entry);

/*
 * Remove the entry whose key equals key, copying it to ret_entry first
 * (entry_size bytes, when not NULL). Returns 1 when removed, 0 when there
 * was none.
 */
int common_map__remove(struct common_map *m, const struct common_map_type *type,
		       const void *key, void *ret_entry);

/*
 * Iterate: start with *pos = 0; returns the next entry, or NULL at the end.
 * The order is the table's (unspecified). Entries may be deleted while
 * iterating; nothing may be inserted.
 */
void *common_map__next(const struct common_map *m, const struct common_map_type *type,
		       size_t *pos);

/* Room for n entries in all without growing: afterwards, inserting until
 * there are n entries cannot fail nor move entries. 0, -ENOMEM, -EOVERFLOW
 * (the map as it was). */
int common_map__reserve(struct common_map *m, const struct common_map_type *type, size_t n);

/* Remove every entry, keeping the memory for reuse (the slot table, and
 * the newest block of copied key bytes). */
void common_map__clear(struct common_map *m);

/* Free the map's memory; it is then empty and usable again. NULL is
 * allowed. */
void common_map__fini(struct common_map *m);

/* The number of entries. */
static inline size_t common_map__size(const struct common_map *m)
{
	return m->n;
}

/* Bytes of heap the map holds (its table and copied keys), for memory
 * budgets. */
size_t common_map__bytes(const struct common_map *m, const struct common_map_type *type);

/* The map's hash of n bytes: word at a time, every bit mixed; not keyed,
 * and not the same function as common_hash(). */
uint64_t common_hash_mem(const void *p, size_t n);

/* Hash and equality of a struct common_bytes key, by its bytes. */
uint64_t common_bytes_hash(const void *key);
bool common_bytes_equal(const void *entry_key, const void *key);

/* ---- the map's inline part: the probe, specialised by the compiler for
 * each constant type. Not for callers. ---- */

/* Inlined whatever the compiler's size heuristics say: the point is a
 * copy per constant type. */
#define COMMON_MAP_INLINE_ static inline __attribute__((always_inline))

#define COMMON_MAP_EMPTY_ 0x00
#define COMMON_MAP_REMOVED_ 0x01
#define COMMON_MAP_FULL_ 0x80

int common_map__insert_slow_(struct common_map *m, const struct common_map_type *type,
			     const void *key, uint64_t h, void **ret_entry);
int common_map__copy_key_(struct common_map *m, struct common_bytes *key);

COMMON_MAP_INLINE_ uint64_t common_map_hash_(const struct common_map_type *t, const void *key)
{
	if (t->hash)
		return t->hash(key);
	if (t->copy_bytes)
		return common_bytes_hash(key);
	if (t->key_size == 8) {
		uint64_t v;

		__builtin_memcpy(&v, key, 8);
		return v;
	}
	if (t->key_size == 4) {
		uint32_t v;

		__builtin_memcpy(&v, key, 4);
		return v;
	}
	return common_hash_mem(key, t->key_size);
}

COMMON_MAP_INLINE_ bool common_map_equal_(const struct common_map_type *t, const void *entry_key,
				     const void *key)
{
	if (t->equal)
		return t->equal(entry_key, key);
	if (t->copy_bytes)
		return common_bytes_equal(entry_key, key);
	return __builtin_memcmp(entry_key, key, t->key_size) == 0;
}

/* Fibonacci hashing: the slot from the top bits of h * 2^64/phi, the
 * control byte from the seven bits below them. */
COMMON_MAP_INLINE_ size_t common_map_home_(const struct common_map *m, uint64_t h,
				      unsigned char *ret_tag)
{
	uint64_t g = h * 0x9e3779b97f4a7c15ULL;

	*ret_tag = (unsigned char)(COMMON_MAP_FULL_ | ((g >> (m->shift - 7)) & 0x7f));
	return (size_t)(g >> m->shift);
}

/* The slot of key, or SIZE_MAX; *ret_free gets the slot a new entry
 * would take (the first removed slot on the way, or the empty slot that
 * ended the probe). */
COMMON_MAP_INLINE_ size_t common_map_probe_(const struct common_map *m,
				       const struct common_map_type *t, const void *key,
				       uint64_t h, unsigned char *ret_tag, size_t *ret_free)
{
	size_t mask = m->cap - 1, free_at = SIZE_MAX;
	size_t i = common_map_home_(m, h, ret_tag);

	for (;; i = (i + 1) & mask) {
		unsigned char c = m->ctrl[i];

		if (c == *ret_tag && common_map_equal_(t, m->entries + i * t->entry_size, key))
			return i;
		if (c == COMMON_MAP_EMPTY_)
			break;
		if (c == COMMON_MAP_REMOVED_ && free_at == SIZE_MAX)
			free_at = i;
	}
	*ret_free = free_at != SIZE_MAX ? free_at : i;
	return SIZE_MAX;
}

COMMON_MAP_INLINE_ void *common_map__find(const struct common_map *m,
				     const struct common_map_type *t, const void *key)
{
	size_t mask = m->cap - 1, i;
	unsigned char tag;

	if (m->n == 0)
		return NULL;
	for (i = common_map_home_(m, common_map_hash_(t, key), &tag);; i = (i + 1) & mask) {
		unsigned char c = m->ctrl[i];

		if (c == tag && common_map_equal_(t, m->entries + i * t->entry_size, key))
			return m->entries + i * t->entry_size;
		if (c == COMMON_MAP_EMPTY_)
			return NULL;
	}
}

COMMON_MAP_INLINE_ int common_map__insert(struct common_map *m, const struct common_map_type *t,
				     const void *key, void **ret_entry)
{
	uint64_t h = common_map_hash_(t, key);
	unsigned char tag, *e;
	size_t i, free_at = 0;

	if (m->cap == 0)
		return common_map__insert_slow_(m, t, key, h, ret_entry);
	i = common_map_probe_(m, t, key, h, &tag, &free_at);
	if (i != SIZE_MAX) {
		if (ret_entry)
			*ret_entry = m->entries + i * t->entry_size;
		return 0;
	}
	/* A new entry: a removed slot is taken as is; an empty one only in
	 * a table with room (else grown, copied keys: out of line). */
	if (t->copy_bytes ||
	    (m->ctrl[free_at] == COMMON_MAP_EMPTY_ && m->n + m->removed >= m->cap - m->cap / 4))
		return common_map__insert_slow_(m, t, key, h, ret_entry);
	m->removed -= m->ctrl[free_at] == COMMON_MAP_REMOVED_;
	m->ctrl[free_at] = tag;
	m->n++;
	e = m->entries + free_at * t->entry_size;
	__builtin_memcpy(e, key, t->key_size);
	__builtin_memset(e + t->key_size, 0, t->entry_size - t->key_size);
	if (ret_entry)
		*ret_entry = e;
	return 1;
}
