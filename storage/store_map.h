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

struct store_map_entry {
	uint64_t hash;
	int64_t value;
	size_t len;
	unsigned char *key; /* NULL = empty slot */
};

struct store_map {
	struct store_map_entry *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

/* Find key: returns 1 and *ret_value, or 0 when absent. */
int store_map__get(const struct store_map *m, const void *key, size_t len,
		   int64_t *ret_value);

/*
 * Insert key or replace its value. The key bytes are copied; *ret_key (may be
 * NULL) receives the stored copy, stable until the map is cleared or freed.
 * Returns 0 or -ENOMEM.
 */
int store_map__put(struct store_map *m, const void *key, size_t len,
		   int64_t value, const void **ret_key);

/* Drop every entry (keeps the slot array). */
void store_map__clear(struct store_map *m);

/* Release everything; the map is empty and reusable afterwards. */
void store_map__free(struct store_map *m);
