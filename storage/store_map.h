/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_map.h — private to storage/: a small open-addressing hash map from a
 * byte key (copied) to an int64 value. The writer uses it to cache string,
 * function, frame, label-set and stack-node ids; the query side uses it to
 * intern strings and to merge tree nodes.
 *
 * A zeroed struct store_map is an empty map. Not thread-safe.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Where a map's keys live: blocks freed together when the last
 * reference goes (the map holds one; store_arena__ref gives more). */
struct store_arena;

/* The entries are a common_map's (common.h); the key bytes live in the
 * arena, not in the map, so that they can outlive it. */
struct store_map {
	struct common_map map;
	struct store_arena *arena; /* NULL until the first key */
};

/* A new reference to m's keys as they are now (NULL when it has none):
 * they stay valid, unchanged, until store_arena__unref, also after the
 * map is cleared or freed. Thread-safe on distinct references. */
struct store_arena *store_map__arena(const struct store_map *m);
void store_arena__unref(struct store_arena *a);

/* Find key: returns 1 and *ret_value, or 0 when absent. */
int store_map__get(const struct store_map *m, const void *key, size_t len,
		   int64_t *ret_value);

/*
 * Insert key or replace its value. The key bytes are copied (with a NUL
 * after them); *ret_key (may be NULL) receives the stored copy, stable
 * until the map is cleared or freed (or longer: store_map__arena).
 * Returns 0 or -ENOMEM.
 */
int store_map__put(struct store_map *m, const void *key, size_t len,
		   int64_t value, const void **ret_key);

/* The number of keys. */
static inline size_t store_map__size(const struct store_map *m)
{
	return common_map__size(&m->map);
}

/* Bytes the map holds: its table and the arena of its keys (which trees
 * holding a reference may keep after the map drops it). */
size_t store_map__bytes(const struct store_map *m);

/* Drop every entry (keeps the slot array). */
void store_map__clear(struct store_map *m);

/* Release everything; the map is empty and reusable afterwards. */
void store_map__free(struct store_map *m);
