/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.c — the symbolizer's containers: an open-addressing hash table of
 * pointers (processes by pid, binaries by file identity and by build-id), the
 * binary search shared by its sorted address tables, and a string interner whose strings live in arena chunks until the session is
 * freed. Every string a sym_frame carries comes from the interner, so frames
 * stay valid however the caches behind them change.
 */
#include "sym-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* A removed slot: keeps probe chains intact until the next rehash. */
static char tombstone;
#define TOMBSTONE ((void *)&tombstone)

void *sym_htab__find(const struct sym_htab *t, uint64_t hash,
		     sym_htab_eq_fn eq, const void *key)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = hash & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct sym_htab_slot *slot = &t->slots[i];

		if (!slot->value)
			return NULL;
		if (slot->value != TOMBSTONE && slot->hash == hash &&
		    eq(slot->value, key))
			return slot->value;
	}
}

static void htab_place(struct sym_htab_slot *slots, size_t cap, uint64_t hash,
		       void *value)
{
	size_t i = hash & (cap - 1);

	while (slots[i].value && slots[i].value != TOMBSTONE)
		i = (i + 1) & (cap - 1);
	slots[i].hash = hash;
	slots[i].value = value;
}

static int htab_grow(struct sym_htab *t)
{
	size_t cap = t->cap ? t->cap : 16;
	struct sym_htab_slot *slots;

	/* Grow only when live values fill half; else just drop tombstones. */
	if (t->count * 2 >= cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].value && t->slots[i].value != TOMBSTONE)
			htab_place(slots, cap, t->slots[i].hash, t->slots[i].value);
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	t->used = t->count;
	return 0;
}

int sym_htab__insert(struct sym_htab *t, uint64_t hash, void *value)
{
	size_t i;
	int r;

	if ((t->used + 1) * 4 > t->cap * 3) {
		r = htab_grow(t);
		if (r < 0)
			return r;
	}
	i = hash & (t->cap - 1);
	while (t->slots[i].value && t->slots[i].value != TOMBSTONE)
		i = (i + 1) & (t->cap - 1);
	if (!t->slots[i].value)
		t->used++;
	t->slots[i].hash = hash;
	t->slots[i].value = value;
	t->count++;
	return 0;
}

void *sym_htab__remove(struct sym_htab *t, uint64_t hash,
		       sym_htab_eq_fn eq, const void *key)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = hash & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct sym_htab_slot *slot = &t->slots[i];
		void *value = slot->value;

		if (!value)
			return NULL;
		if (value != TOMBSTONE && slot->hash == hash && eq(value, key)) {
			slot->value = TOMBSTONE;
			t->count--;
			return value;
		}
	}
}

void sym_htab__remove_if(struct sym_htab *t, bool (*pred)(const void *value, const void *arg),
			 const void *arg, void (*fn)(void *value))
{
	for (size_t i = 0; i < t->cap; i++) {
		void *value = t->slots[i].value;

		if (!value || value == TOMBSTONE || !pred(value, arg))
			continue;
		t->slots[i].value = TOMBSTONE;
		t->count--;
		if (fn)
			fn(value);
	}
}

void *sym_htab__next(const struct sym_htab *t, size_t *pos)
{
	for (; *pos < t->cap; (*pos)++) {
		void *value = t->slots[*pos].value;

		if (value && value != TOMBSTONE) {
			(*pos)++;
			return value;
		}
	}
	return NULL;
}

void sym_htab__fini(struct sym_htab *t, void (*fn)(void *value))
{
	for (size_t i = 0; fn && i < t->cap; i++)
		if (t->slots[i].value && t->slots[i].value != TOMBSTONE)
			fn(t->slots[i].value);
	free(t->slots);
	*t = (struct sym_htab){ 0 };
}

size_t sym_sorted__count_le(const void *base, size_t n, size_t elem_size,
			    uint64_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v;

		memcpy(&v, (const char *)base + mid * elem_size, sizeof(v));
		if (v <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- interner ---------------------------------------------------------- */

#define CHUNK_SIZE 65536

struct sym_chunk {
	struct sym_chunk *next;
	size_t size;
	size_t used;
	char data[];
};

struct str_key {
	const char *s;
	size_t len;
};

static bool str_eq(const void *value, const void *key)
{
	const struct str_key *k = key;

	return strncmp(value, k->s, k->len) == 0 && ((const char *)value)[k->len] == '\0';
}

static char *strings_alloc(struct sym_strings *st, size_t n)
{
	struct sym_chunk *c = st->chunks;
	char *p;

	if (!c || c->size - c->used < n) {
		size_t size = MAX((size_t)CHUNK_SIZE, n);

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		/* A huge string gets its own chunk behind the current one so
		 * the current chunk's free space is not wasted. */
		if (n > CHUNK_SIZE / 2 && st->chunks) {
			c->next = st->chunks->next;
			st->chunks->next = c;
		} else {
			c->next = st->chunks;
			st->chunks = c;
		}
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

const char *sym_strings__intern(struct sym_strings *st, const char *s, size_t len)
{
	struct str_key key = { s, len };
	uint64_t h = common_hash(COMMON_HASH_SEED, s, len);
	char *copy;

	copy = sym_htab__find(&st->tab, h, str_eq, &key);
	if (copy)
		return copy;
	copy = strings_alloc(st, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (sym_htab__insert(&st->tab, h, copy) < 0)
		return NULL;  /* the copy stays in the arena, freed at fini */
	st->bytes += len + 1;
	return copy;
}

const char *sym_strings__printf(struct sym_strings *st, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	/* Longer results are cut: these are display names built from paths
	 * and hex numbers, and a bounded length keeps memory bounded. */
	return sym_strings__intern(st, buf, MIN((size_t)n, sizeof(buf) - 1));
}

void sym_strings__fini(struct sym_strings *st)
{
	struct sym_chunk *c = st->chunks;

	while (c) {
		struct sym_chunk *next = c->next;

		free(c);
		c = next;
	}
	sym_htab__fini(&st->tab, NULL);
	*st = (struct sym_strings){ 0 };
}
