/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_map.c — the byte-key hash map behind the storage module's id caches
 * and the query side's string interning and node merging (see store_map.h).
 * The table is a common_map (common.h); the keys are copied into an arena
 * of blocks, so pointers to them survive growth, a cleared map frees a few
 * blocks rather than every key, and a reader can keep the keys past the
 * map (a query's tree points at the read cache's interned texts): what
 * the map's own copy_bytes cannot do.
 */
#include "store_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct store_arena {
	unsigned long refs;
	struct arena_block {
		struct arena_block *next;
		unsigned char data[];
	} *blocks;
	unsigned char *at; /* free space of the newest block */
	size_t left, next_size;
	size_t bytes;      /* its blocks' sizes, for store_map__bytes */
};

#define ARENA_FIRST 4096
#define ARENA_MAX (1u << 20)

struct store_arena *store_map__arena(const struct store_map *m)
{
	if (m->arena)
		__atomic_add_fetch(&m->arena->refs, 1, __ATOMIC_RELAXED);
	return m->arena;
}

void store_arena__unref(struct store_arena *a)
{
	struct arena_block *b, *next;

	if (!a || __atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (b = a->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* n bytes from the map's arena, or NULL. */
static unsigned char *arena_alloc(struct store_map *m, size_t n)
{
	struct store_arena *a = m->arena;
	struct arena_block *b;
	unsigned char *p;
	size_t size;

	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return NULL;
		a->refs = 1;
		a->next_size = ARENA_FIRST;
		m->arena = a;
	}
	if (n > a->left) {
		size = MAX(a->next_size, n);
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = a->blocks;
		a->blocks = b;
		a->bytes += sizeof(*b) + size;
		a->at = b->data;
		a->left = size;
		a->next_size = MIN(a->next_size * 2, ARENA_MAX);
	}
	p = a->at;
	a->at += n;
	a->left -= n;
	return p;
}

/* The key as the map sees it: the bytes (the caller's for a lookup, the
 * arena's copy in an entry) and their hash, computed once: a rebuild of
 * the table does not hash the bytes again. */
struct map_key {
	const unsigned char *p;
	size_t len;
	uint64_t hash;
};

struct map_entry {
	struct map_key key;
	int64_t value;
};

static uint64_t map_key_hash(const void *key)
{
	return ((const struct map_key *)key)->hash;
}

static bool map_key_equal(const void *entry_key, const void *key)
{
	const struct map_key *a = entry_key, *b = key;

	return a->hash == b->hash && a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static const struct common_map_type map_type = {
	.entry_size = sizeof(struct map_entry),
	.key_size = sizeof(struct map_key),
	.hash = map_key_hash,
	.equal = map_key_equal,
};

size_t store_map__bytes(const struct store_map *m)
{
	return common_map__bytes(&m->map, &map_type) +
	       (m->arena ? sizeof(*m->arena) + m->arena->bytes : 0);
}

static struct map_key map_key(const void *key, size_t len)
{
	return (struct map_key){ key, len, common_hash_mem(key, len) };
}

int store_map__get(const struct store_map *m, const void *key, size_t len,
		   int64_t *ret_value)
{
	struct map_key k;
	const struct map_entry *e;

	if (common_map__size(&m->map) == 0)
		return 0;
	k = map_key(key, len);
	e = common_map__find(&m->map, &map_type, &k);
	if (!e)
		return 0;
	*ret_value = e->value;
	return 1;
}

int store_map__put(struct store_map *m, const void *key, size_t len,
		   int64_t value, const void **ret_key)
{
	struct map_key k = map_key(key, len);
	struct map_entry *e;
	unsigned char *copy;
	int r;

	r = common_map__insert(&m->map, &map_type, &k, (void **)&e);
	if (r < 0)
		return r;
	if (r == 1) {
		/* +1 so a key that is text without its NUL can still be
		 * handed out as a C string. */
		copy = arena_alloc(m, len + 1);
		if (!copy) {
			common_map__delete(&m->map, &map_type, e);
			return -ENOMEM;
		}
		memcpy(copy, key, len);
		copy[len] = '\0';
		e->key.p = copy;
	}
	e->value = value;
	if (ret_key)
		*ret_key = e->key.p;
	return 0;
}

void store_map__clear(struct store_map *m)
{
	common_map__clear(&m->map);
	store_arena__unref(m->arena);
	m->arena = NULL;
}

void store_map__free(struct store_map *m)
{
	if (!m)
		return;
	store_arena__unref(m->arena);
	common_map__fini(&m->map);
	memset(m, 0, sizeof(*m));
}
