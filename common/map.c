/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map.c — the project's hash map (common.h): open addressing with linear
 * probing over a power-of-two table, a control byte per slot and the
 * caller's entries inline.
 *
 * A control byte is EMPTY, REMOVED (a tombstone: probes go on past it), or
 * 0x80 | seven bits of the entry's hash; a probe compares those bits
 * before it calls equal, so a lookup touches the dense control bytes and,
 * nearly always, only the one entry it is after. The slot comes from the
 * top bits of hash * 2^64/phi (Fibonacci hashing), which spreads even a
 * weak caller hash; the seven bits are the ones just below. The table
 * grows by doubling when live entries and tombstones would pass 3/4 of it,
 * or is rebuilt at the same size when most of that is tombstones. A
 * removed slot followed by an empty one becomes empty at once (no probe
 * can pass through it), and so do the tombstones just before it.
 *
 * Keys of maps with copy_bytes are copied into blocks owned by the map,
 * 4 KiB doubling up to 1 MiB (a larger key gets a block of its own),
 * freed together at clear (but the newest block, kept for reuse) or fini.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 8
#define GOLDEN 0x9e3779b97f4a7c15ULL  /* 2^64 / phi */

#define BLOCK_FIRST 4096
#define BLOCK_MAX (1u << 20)

struct common_map_block {
	struct common_map_block *next;
	size_t size, used;
	unsigned char data[];
};

/* ---- hashing ------------------------------------------------------------ */

/* MurmurHash3's finalizer: a bijection, every input bit reaching every
 * output bit. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

uint64_t common_hash_mem(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h, w;
	uint32_t w32;

	/* Integer and pointer keys: one bijective mix, no collisions. */
	if (n == 8)
		return mix64(load64(b) ^ GOLDEN);
	if (n == 4) {
		memcpy(&w32, b, sizeof(w32));
		return mix64(w32 ^ GOLDEN);
	}
	h = GOLDEN ^ (n * 0xc2b2ae3d27d4eb4fULL);
	for (; n >= 8; b += 8, n -= 8)
		h = rotl64(h ^ load64(b) * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
	if (n > 0) {
		w = 0;
		memcpy(&w, b, n);
		h = rotl64(h ^ w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
	}
	return mix64(h);
}

uint64_t common_bytes_hash(const void *key)
{
	const struct common_bytes *k = key;

	return common_hash_mem(k->p, k->len);
}

bool common_bytes_equal(const void *entry_key, const void *key)
{
	const struct common_bytes *a = entry_key, *b = key;

	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* ---- the table ----------------------------------------------------------- */

static inline unsigned char *entry_at(const struct common_map *m,
				      const struct common_map_type *t, size_t i)
{
	return m->entries + i * t->entry_size;
}

/* Most slots in use (entries and removed slots) before a rebuild. */
static inline size_t max_used(size_t cap)
{
	return cap - cap / 4;
}

/* Rebuild the table with cap slots (a power of two, at least MIN_CAP, and
 * room for every entry), dropping removed slots. */
static int rehash(struct common_map *m, const struct common_map_type *t, size_t cap)
{
	size_t esize = t->entry_size, mask = cap - 1;
	struct common_map old = *m;
	unsigned char *mem;
	unsigned shift = 64;

	if (cap > ((size_t)1 << 57) || cap > SIZE_MAX / (esize + 1))
		return -EOVERFLOW;
	mem = malloc(cap * (esize + 1));
	if (!mem)
		return -ENOMEM;
	for (size_t c = cap; c > 1; c >>= 1)
		shift--;
	m->entries = mem;
	m->ctrl = mem + cap * esize;
	memset(m->ctrl, COMMON_MAP_EMPTY_, cap);
	m->cap = cap;
	m->shift = shift;
	m->removed = 0;
	for (size_t j = 0; j < old.cap; j++) {
		unsigned char tag;
		size_t i;

		if (!(old.ctrl[j] & COMMON_MAP_FULL_))
			continue;
		i = common_map_home_(m, common_map_hash_(t, entry_at(&old, t, j)), &tag);
		while (m->ctrl[i] != COMMON_MAP_EMPTY_)
			i = (i + 1) & mask;
		m->ctrl[i] = tag;
		memcpy(entry_at(m, t, i), entry_at(&old, t, j), esize);
	}
	free(old.entries);
	return 0;
}

/* Room for n entries: the table doubled until they fit, or rebuilt at
 * the same size when that frees at least half of it (removed slots). */
static int make_room(struct common_map *m, const struct common_map_type *t, size_t n)
{
	size_t cap = m->cap ? m->cap : MIN_CAP;

	if (m->cap && n + m->removed <= max_used(m->cap))
		return 0;
	while (n > max_used(cap) || (cap == m->cap && n > max_used(cap) / 2)) {
		if (cap > SIZE_MAX / 2)
			return -EOVERFLOW;
		cap *= 2;
	}
	return rehash(m, t, cap);
}

/* ---- key copies --------------------------------------------------------- */

/* Point key at a copy of its bytes and a NUL, in the map's blocks. */
int common_map__copy_key_(struct common_map *m, struct common_bytes *key)
{
	struct common_map_block *b = m->blocks;
	unsigned char *p;
	size_t need, size;

	if (key->len > SIZE_MAX - sizeof(*b) - 1)
		return -EOVERFLOW;
	need = key->len + 1;
	if (!b || b->size - b->used < need) {
		size = b ? MIN(b->size * 2, (size_t)BLOCK_MAX) : BLOCK_FIRST;
		size = MAX(size, need);
		b = malloc(sizeof(*b) + size);
		if (!b)
			return -ENOMEM;
		b->size = size;
		b->used = 0;
		/* A key larger than a block goes behind the newest block, whose
		 * free space stays in use. */
		if (m->blocks && need > BLOCK_MAX) {
			b->next = m->blocks->next;
			m->blocks->next = b;
		} else {
			b->next = m->blocks;
			m->blocks = b;
		}
		m->block_bytes += sizeof(*b) + size;
	}
	p = b->data + b->used;
	b->used += need;
	if (key->len)
		memcpy(p, key->p, key->len);
	p[key->len] = '\0';
	key->p = p;
	return 0;
}

static void free_blocks(struct common_map_block *b, size_t *bytes)
{
	while (b) {
		struct common_map_block *next = b->next;

		*bytes -= sizeof(*b) + b->size;
		free(b);
		b = next;
	}
}

/* ---- the map ------------------------------------------------------------ */

/* The insert the inline part leaves out of line: into an empty map, into
 * a table that must grow first, and every new key of a copy_bytes map. */
int common_map__insert_slow_(struct common_map *m, const struct common_map_type *t,
			     const void *key, uint64_t h, void **ret_entry)
{
	struct common_bytes copy;
	unsigned char tag = 0, *e;
	size_t i, free_at = 0;
	int r;

	if (m->cap) {
		i = common_map_probe_(m, t, key, h, &tag, &free_at);
		if (i != SIZE_MAX) {
			if (ret_entry)
				*ret_entry = entry_at(m, t, i);
			return 0;
		}
	}
	if (!m->cap || m->ctrl[free_at] == COMMON_MAP_EMPTY_) {
		if (m->n == SIZE_MAX)
			return -EOVERFLOW;
		r = make_room(m, t, m->n + 1);
		if (r < 0)
			return r;
		common_map_probe_(m, t, key, h, &tag, &free_at);
	}
	if (t->copy_bytes) {
		memcpy(&copy, key, sizeof(copy));
		r = common_map__copy_key_(m, &copy);
		if (r < 0)
			return r;
	}
	m->removed -= m->ctrl[free_at] == COMMON_MAP_REMOVED_;
	m->ctrl[free_at] = tag;
	m->n++;
	e = entry_at(m, t, free_at);
	memcpy(e, key, t->key_size);
	memset(e + t->key_size, 0, t->entry_size - t->key_size);
	if (t->copy_bytes)
		memcpy(e, &copy, sizeof(copy));
	if (ret_entry)
		*ret_entry = e;
	return 1;
}

void common_map__delete(struct common_map *m, const struct common_map_type *t, void *entry)
{
	size_t i = (size_t)((unsigned char *)entry - m->entries) / t->entry_size;
	size_t mask = m->cap - 1;

	m->n--;
	if (m->ctrl[(i + 1) & mask] != COMMON_MAP_EMPTY_) {
		m->ctrl[i] = COMMON_MAP_REMOVED_;
		m->removed++;
		return;
	}
	/* Nothing probes past an empty slot: this one, and the removed slots
	 * just before it, can be empty. */
	m->ctrl[i] = COMMON_MAP_EMPTY_;
	for (i = (i - 1) & mask; m->ctrl[i] == COMMON_MAP_REMOVED_; i = (i - 1) & mask) {
		m->ctrl[i] = COMMON_MAP_EMPTY_;
		m->removed--;
	}
}

int common_map__remove(struct common_map *m, const struct common_map_type *t,
		       const void *key, void *ret_entry)
{
	void *e = common_map__find(m, t, key);

	if (!e)
		return 0;
	if (ret_entry)
		memcpy(ret_entry, e, t->entry_size);
	common_map__delete(m, t, e);
	return 1;
}

void *common_map__next(const struct common_map *m, const struct common_map_type *t,
		       size_t *pos)
{
	for (; *pos < m->cap; (*pos)++)
		if (m->ctrl[*pos] & COMMON_MAP_FULL_)
			return entry_at(m, t, (*pos)++);
	return NULL;
}

int common_map__reserve(struct common_map *m, const struct common_map_type *t, size_t n)
{
	return make_room(m, t, MAX(n, m->n));
}

void common_map__clear(struct common_map *m)
{
	if (m->n || m->removed)
		memset(m->ctrl, COMMON_MAP_EMPTY_, m->cap);
	m->n = m->removed = 0;
	if (m->blocks) {
		free_blocks(m->blocks->next, &m->block_bytes);
		m->blocks->next = NULL;
		m->blocks->used = 0;
	}
}

void common_map__fini(struct common_map *m)
{
	if (!m)
		return;
	free(m->entries);
	free_blocks(m->blocks, &m->block_bytes);
	*m = (struct common_map){ 0 };
}

size_t common_map__bytes(const struct common_map *m, const struct common_map_type *t)
{
	return m->cap * (t->entry_size + 1) + m->block_bytes;
}
