/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_map.c — the byte-key hash map behind the storage module's id caches
 * and the query side's string interning and node merging (see store_map.h).
 * Linear probing, grown at 50% load. Keys are copied into an arena of
 * blocks, so pointers to them survive growth, a cleared map frees a few
 * blocks rather than every key, and a reader can keep the keys past the
 * map (a query's tree points at the read cache's interned texts).
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
		a->at = b->data;
		a->left = size;
		a->next_size = MIN(a->next_size * 2, ARENA_MAX);
	}
	p = a->at;
	a->at += n;
	a->left -= n;
	return p;
}

static uint64_t key_hash(const void *key, size_t len)
{
	uint64_t h = common_hash(COMMON_HASH_SEED, key, len);

	/* FNV's low bits are weak for short keys; mix before masking. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static struct store_map_entry *find_slot(struct store_map_entry *slots,
					 size_t cap, uint64_t hash,
					 const void *key, size_t len)
{
	size_t mask = cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct store_map_entry *e = &slots[i];

		if (!e->key)
			return e;
		if (e->hash == hash && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

int store_map__get(const struct store_map *m, const void *key, size_t len,
		   int64_t *ret_value)
{
	struct store_map_entry *e;

	if (m->n == 0)
		return 0;
	e = find_slot(m->slots, m->cap, key_hash(key, len), key, len);
	if (!e->key)
		return 0;
	*ret_value = e->value;
	return 1;
}

static int grow(struct store_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct store_map_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct store_map_entry *e = &m->slots[i];

		if (e->key)
			*find_slot(slots, cap, e->hash, e->key, e->len) = *e;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int store_map__put(struct store_map *m, const void *key, size_t len,
		   int64_t value, const void **ret_key)
{
	uint64_t hash = key_hash(key, len);
	struct store_map_entry *e;
	unsigned char *copy;
	int r;

	if ((m->n + 1) * 2 > m->cap) {
		r = grow(m);
		if (r < 0)
			return r;
	}
	e = find_slot(m->slots, m->cap, hash, key, len);
	if (!e->key) {
		/* +1 so a key that is text without its NUL can still be
		 * handed out as a C string. */
		copy = arena_alloc(m, len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, key, len);
		copy[len] = '\0';
		e->key = copy;
		e->hash = hash;
		e->len = len;
		m->n++;
	}
	e->value = value;
	if (ret_key)
		*ret_key = e->key;
	return 0;
}

void store_map__clear(struct store_map *m)
{
	if (m->n > 0)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
	store_arena__unref(m->arena);
	m->arena = NULL;
}

void store_map__free(struct store_map *m)
{
	if (!m)
		return;
	/* Not store_map__clear: its memset of the slots is wasted here. */
	store_arena__unref(m->arena);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
