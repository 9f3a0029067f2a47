/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strings.c — the symbolizer's string interner: each distinct string
 * copied once into arena chunks, where it stays until the interner is
 * freed. Every string a sym_frame carries comes from the session's
 * interner, so frames stay valid however the caches behind them change;
 * a binary's DWARF and perf map have interners of their own. Also the
 * binary search shared by the symbolizer's sorted address tables.
 *
 * The interner keeps its own open-addressing table (string and hash per
 * slot, never a removal), not a common_map, because it measured faster
 * end to end: bench/symbolize's cold run (100,000 addresses, about as
 * many distinct "module+0xOFF" strings) took 275.9 M instructions with
 * the interner on common_map (copy_bytes: every new string inserted out
 * of line, probed three times, and every key hashed again at each
 * doubling) against 245.9 M with this table (callgrind, the rest of the
 * tree the same; 25.8 M against 55.8 M in the interner itself).
 *
 * Invariants: one copy per distinct string, NUL-terminated; the table is
 * never more than 3/4 full (asserted), so a probe ends; bytes counts each
 * copy's length and NUL once.
 */
#include "sym-internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

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

#define CHUNK_SIZE 65536

struct sym_chunk {
	struct sym_chunk *next;
	size_t size;
	size_t used;
	char data[];
};

/* Room for n bytes in the arena: the current chunk, else a new one (a
 * string over half a chunk gets its own, behind the current one, whose
 * free space stays in use). */
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

/* The slot of s[0..len) with hash h, or the empty slot where it goes. */
static struct sym_string_slot *slot_of(const struct sym_strings *st, uint64_t h,
				       const char *s, size_t len)
{
	size_t mask = st->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct sym_string_slot *slot = &st->slots[i];

		if (!slot->s || (slot->hash == h && !strncmp(slot->s, s, len) && !slot->s[len]))
			return slot;
	}
}

/* Doubles the table (16 slots at first); the strings keep their hashes. */
static int strings_grow(struct sym_strings *st)
{
	size_t cap = st->cap ? 2 * st->cap : 16;
	struct sym_string_slot *slots = calloc(cap, sizeof(*slots)), *old = st->slots;
	size_t old_cap = st->cap;

	if (!slots)
		return -ENOMEM;
	st->slots = slots;
	st->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j = old[i].hash & (cap - 1);

		if (!old[i].s)
			continue;
		while (slots[j].s)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

const char *sym_strings__intern(struct sym_strings *st, const char *s, size_t len)
{
	uint64_t h = common_hash(COMMON_HASH_SEED, s, len);
	struct sym_string_slot *slot = NULL;
	char *copy;

	if (st->cap) {
		slot = slot_of(st, h, s, len);
		if (slot->s)
			return slot->s;
	}
	if (4 * (st->n + 1) > 3 * st->cap) {
		if (strings_grow(st) < 0)
			return NULL;
		slot = slot_of(st, h, s, len);
	}
	copy = strings_alloc(st, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	*slot = (struct sym_string_slot){ h, copy };
	st->n++;
	st->bytes += len + 1;
	assert(st->n < st->cap);
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
	free(st->slots);
	*st = (struct sym_strings){ 0 };
}
