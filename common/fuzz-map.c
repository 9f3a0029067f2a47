/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-map.c — libFuzzer entry point for the hash map (map.c): the input
 * is a sequence of operations (insert, find, remove, delete while
 * iterating, clear, reserve, fini) run on a map and on a reference model
 * (a plain array by key number), and every answer of the map is checked
 * against the model; any difference aborts. The first byte picks one of
 * the key kinds the project's tables use, and how many keys there are:
 *
 *   u64      an integer key, the value inline (the symbolizer's caches)
 *   bytes    a byte string copied by the map, from empty to larger than a
 *            block of copies (the storage and symbolizer string tables)
 *   weak     a borrowed C string with a caller hash that collides on
 *            purpose (every probe passes other keys with the same tag)
 *   pair     two uint32s in a 12-byte entry with an index into the
 *            caller's array as its value (the tree query's children)
 *   wide     a 16-byte key of two int64s (the storage writer's sums)
 *
 * Built with clang -fsanitize=fuzzer for fuzzing (scripts/fuzz.sh); its
 * corpus (common/fuzz-map-corpus, written by fuzz-map-seeds.py) runs as a
 * unit test through tests/unit/fuzz-driver.c, and
 * tests/unit/test-common-map-model.c feeds it pseudo-random sequences from
 * many seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz-map.c:%d: check failed: %s\n", \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

#define MAX_KEYS 1024
#define BIG_KEY 5000  /* longer than the first block of key copies */

enum kind { K_U64, K_BYTES, K_WEAK, K_PAIR, K_WIDE, K__COUNT };

struct e_u64 {
	uint64_t key;
	uint64_t value;
};

struct e_bytes {
	struct common_bytes key;
	uint64_t value;
};

struct e_weak {
	const char *key;
	uint32_t value;
};

struct e_pair {
	uint32_t parent, ident;
	uint32_t index;  /* into the caller's array: values[index] */
};

struct e_wide {
	int64_t a, b;
	uint64_t value;
};

static char weak_names[MAX_KEYS][8];

static uint64_t weak_hash(const void *key)
{
	const char *s = *(const char *const *)key;

	/* Three values for 1024 keys: long runs of equal tags. */
	return strlen(s) % 3;
}

static bool weak_equal(const void *entry_key, const void *key)
{
	return strcmp(*(const char *const *)entry_key, *(const char *const *)key) == 0;
}

static const struct common_map_type types[K__COUNT] = {
	[K_U64] = { .entry_size = sizeof(struct e_u64), .key_size = sizeof(uint64_t) },
	[K_BYTES] = { .entry_size = sizeof(struct e_bytes),
		      .key_size = sizeof(struct common_bytes), .copy_bytes = true },
	[K_WEAK] = { .entry_size = sizeof(struct e_weak), .key_size = sizeof(const char *),
		     .hash = weak_hash, .equal = weak_equal },
	[K_PAIR] = { .entry_size = sizeof(struct e_pair), .key_size = 2 * sizeof(uint32_t) },
	[K_WIDE] = { .entry_size = sizeof(struct e_wide), .key_size = 2 * sizeof(int64_t) },
};

struct model {
	enum kind kind;
	const struct common_map_type *type;
	unsigned nkeys;
	bool present[MAX_KEYS];
	uint64_t value[MAX_KEYS];
	const void *copy[MAX_KEYS];   /* bytes: where the map copied the key */
	size_t n;
	uint64_t next_value;
	/* pair: the caller's array the entries index */
	uint64_t values[4 * MAX_KEYS];
	uint32_t n_values;
	unsigned char buf[BIG_KEY];   /* bytes: the key being looked up */
};

/* Key number k as the kind's key, written to *key (and m->buf). */
static void make_key(struct model *m, unsigned k, void *key)
{
	switch (m->kind) {
	case K_U64: {
		/* 0 is a key like any other; keys differ in high bits too. */
		uint64_t v = (uint64_t)k | (uint64_t)k << 40;

		memcpy(key, &v, sizeof(v));
		break;
	}
	case K_BYTES: {
		struct common_bytes b = { m->buf, 0 };

		if (k == 1) {
			b.len = 0;
		} else if (k == 2) {
			b.len = 1;
			m->buf[0] = 'x';
		} else {
			/* First two bytes: k, so keys are distinct; NULs inside. */
			b.len = k % 97 == 0 ? BIG_KEY : 2 + (k * 7) % 40;
			m->buf[0] = (unsigned char)k;
			m->buf[1] = (unsigned char)(k >> 8);
			for (size_t i = 2; i < b.len; i++)
				m->buf[i] = (unsigned char)((k + i) * 31 % 7);
		}
		memcpy(key, &b, sizeof(b));
		break;
	}
	case K_WEAK: {
		const char *s = weak_names[k];

		memcpy(key, &s, sizeof(s));
		break;
	}
	case K_PAIR: {
		uint32_t v[2] = { k % 7, k };

		memcpy(key, v, sizeof(v));
		break;
	}
	case K_WIDE: {
		int64_t v[2] = { -(int64_t)k, (int64_t)k << 33 };

		memcpy(key, v, sizeof(v));
		break;
	}
	default:
		abort();
	}
}

/* The key number of an entry. */
static unsigned key_of(const struct model *m, const void *entry)
{
	switch (m->kind) {
	case K_U64:
		return (unsigned)(((const struct e_u64 *)entry)->key & 0xffff);
	case K_BYTES: {
		const struct e_bytes *e = entry;
		const unsigned char *p = e->key.p;

		if (e->key.len == 0)
			return 1;
		if (e->key.len == 1)
			return 2;
		return p[0] | (unsigned)p[1] << 8;
	}
	case K_WEAK:
		return (unsigned)atoi(((const struct e_weak *)entry)->key + 1);
	case K_PAIR:
		return ((const struct e_pair *)entry)->ident;
	case K_WIDE:
		return (unsigned)(-((const struct e_wide *)entry)->a);
	default:
		abort();
	}
}

static uint64_t value_of(const struct model *m, const void *entry)
{
	switch (m->kind) {
	case K_U64:
		return ((const struct e_u64 *)entry)->value;
	case K_BYTES:
		return ((const struct e_bytes *)entry)->value;
	case K_WEAK:
		return ((const struct e_weak *)entry)->value;
	case K_PAIR:
		return m->values[((const struct e_pair *)entry)->index];
	case K_WIDE:
		return ((const struct e_wide *)entry)->value;
	default:
		abort();
	}
}

static void set_value(struct model *m, void *entry, uint64_t v)
{
	switch (m->kind) {
	case K_U64:
		((struct e_u64 *)entry)->value = v;
		break;
	case K_BYTES:
		((struct e_bytes *)entry)->value = v;
		break;
	case K_WEAK:
		((struct e_weak *)entry)->value = (uint32_t)v;
		break;
	case K_PAIR:
		/* A new index each time: the array only grows. */
		FUZZ_CHECK(m->n_values < sizeof(m->values) / sizeof(m->values[0]));
		m->values[m->n_values] = v;
		((struct e_pair *)entry)->index = m->n_values++;
		break;
	case K_WIDE:
		((struct e_wide *)entry)->value = v;
		break;
	default:
		abort();
	}
}

/* The entry's key is key number k, intact (a copied key where it was
 * copied, NUL after it). */
static void check_entry(struct model *m, const void *entry, unsigned k)
{
	unsigned char key[32];

	FUZZ_CHECK(key_of(m, entry) == k);
	FUZZ_CHECK(value_of(m, entry) == m->value[k]);
	make_key(m, k, key);
	if (m->kind == K_BYTES) {
		const struct e_bytes *e = entry;
		const struct common_bytes *b = (const void *)key;

		FUZZ_CHECK(e->key.len == b->len);
		FUZZ_CHECK(e->key.p == m->copy[k]);
		FUZZ_CHECK(e->key.p != b->p);
		FUZZ_CHECK(memcmp(e->key.p, b->p, b->len) == 0);
		FUZZ_CHECK(((const char *)e->key.p)[b->len] == '\0');
	} else {
		FUZZ_CHECK(memcmp(entry, key, m->type->key_size) == 0);
	}
}

/* Every entry once, each one the model has, and nothing else. */
static void check_all(struct model *m, const struct common_map *map)
{
	static bool seen[MAX_KEYS];
	size_t pos = 0, n = 0;
	void *e;

	memset(seen, 0, sizeof(seen));
	while ((e = common_map__next(map, m->type, &pos))) {
		unsigned k = key_of(m, e);

		FUZZ_CHECK(k < m->nkeys && m->present[k] && !seen[k]);
		seen[k] = true;
		check_entry(m, e, k);
		n++;
	}
	FUZZ_CHECK(n == m->n);
	FUZZ_CHECK(common_map__size(map) == m->n);
	FUZZ_CHECK(common_map__bytes(map, m->type) >= m->n * (m->type->entry_size + 1));
}

static void insert(struct model *m, struct common_map *map, unsigned k)
{
	unsigned char key[32];
	void *e = NULL;
	int r;

	make_key(m, k, key);
	r = common_map__insert(map, m->type, key, &e);
	FUZZ_CHECK(r == (m->present[k] ? 0 : 1));
	FUZZ_CHECK(e != NULL);
	if (r == 1) {
		/* A new entry: zeroes after the key. */
		FUZZ_CHECK(m->kind == K_PAIR ? ((struct e_pair *)e)->index == 0 : value_of(m, e) == 0);
		m->present[k] = true;
		m->n++;
		if (m->kind == K_BYTES)
			m->copy[k] = ((struct e_bytes *)e)->key.p;
	}
	m->value[k] = ++m->next_value;
	set_value(m, e, m->value[k]);
	check_entry(m, e, k);
}

static void find(struct model *m, struct common_map *map, unsigned k)
{
	unsigned char key[32];
	void *e;

	make_key(m, k, key);
	e = common_map__find(map, m->type, key);
	FUZZ_CHECK((e != NULL) == m->present[k]);
	if (e)
		check_entry(m, e, k);
}

static void forget(struct model *m, unsigned k)
{
	m->present[k] = false;
	m->copy[k] = NULL;
	m->n--;
}

static void remove_key(struct model *m, struct common_map *map, unsigned k, bool by_entry)
{
	unsigned char key[32], out[32];
	void *e;
	int r;

	make_key(m, k, key);
	if (by_entry) {
		e = common_map__find(map, m->type, key);
		FUZZ_CHECK((e != NULL) == m->present[k]);
		if (e)
			common_map__delete(map, m->type, e);
		r = e != NULL;
	} else {
		memset(out, 0xa5, sizeof(out));
		r = common_map__remove(map, m->type, key, out);
		FUZZ_CHECK(r == (m->present[k] ? 1 : 0));
		if (r)
			check_entry(m, out, k);
	}
	if (r)
		forget(m, k);
	FUZZ_CHECK(common_map__find(map, m->type, key) == NULL);
}

/* Iterate, deleting the entries whose value is v modulo 3: every entry is
 * still visited exactly once. */
static void delete_some(struct model *m, struct common_map *map, unsigned v)
{
	static bool seen[MAX_KEYS];
	size_t pos = 0, n = 0, before = m->n;
	void *e;

	memset(seen, 0, sizeof(seen));
	while ((e = common_map__next(map, m->type, &pos))) {
		unsigned k = key_of(m, e);

		FUZZ_CHECK(k < m->nkeys && m->present[k] && !seen[k]);
		seen[k] = true;
		n++;
		if (m->value[k] % 3 == v % 3) {
			common_map__delete(map, m->type, e);
			forget(m, k);
		}
	}
	FUZZ_CHECK(n == before);
}

/* reserve() room for extra more, then insert that many new keys: no
 * failure, and no entry moves. */
static void reserve_then_insert(struct model *m, struct common_map *map, unsigned extra,
				unsigned k0)
{
	unsigned char key[32];
	void *pinned = NULL, *e;
	unsigned pinned_k = 0, added = 0;

	FUZZ_CHECK(common_map__reserve(map, m->type, m->n + extra) == 0);
	for (unsigned k = 0; k < m->nkeys; k++)
		if (m->present[k]) {
			make_key(m, k, key);
			pinned = common_map__find(map, m->type, key);
			pinned_k = k;
			break;
		}
	for (unsigned i = 0; i < m->nkeys && added < extra; i++) {
		unsigned k = (k0 + i) % m->nkeys;

		if (m->present[k])
			continue;
		insert(m, map, k);
		added++;
	}
	if (pinned) {
		make_key(m, pinned_k, key);
		e = common_map__find(map, m->type, key);
		FUZZ_CHECK(e == pinned);
		check_entry(m, e, pinned_k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned nkeys[4] = { 8, 64, 300, MAX_KEYS };
	struct model *m;
	struct common_map map;
	size_t clears = 0;

	if (size < 1)
		return 0;
	if (!weak_names[0][0])
		for (unsigned k = 0; k < MAX_KEYS; k++)
			snprintf(weak_names[k], sizeof(weak_names[k]), "s%u", k);
	m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->kind = (enum kind)(data[0] % K__COUNT);
	m->nkeys = nkeys[(data[0] / K__COUNT) % 4];
	m->type = &types[m->kind];
	map = (struct common_map){ 0 };
	for (size_t at = 1; at + 3 <= size; at += 3) {
		unsigned op = data[at] % 16, arg = data[at + 1] | (unsigned)data[at + 2] << 8;
		unsigned k = arg % m->nkeys;

		switch (op) {
		case 0: case 1: case 2: case 3: case 4:
			if (m->kind == K_PAIR && m->n_values == 4 * MAX_KEYS)
				break;
			insert(m, &map, k);
			break;
		case 5: case 6: case 7:
			find(m, &map, k);
			break;
		case 8: case 9:
			remove_key(m, &map, k, false);
			break;
		case 10: case 11:
			remove_key(m, &map, k, true);
			break;
		case 12:
			delete_some(m, &map, arg);
			break;
		case 13:
			check_all(m, &map);
			break;
		case 14:
			if (m->kind != K_PAIR || m->n_values + 64 <= 4 * MAX_KEYS)
				reserve_then_insert(m, &map, arg % 64, arg >> 6);
			break;
		case 15: {
			/* Clear (keeps memory, every key gone) or fini. */
			size_t cap_bytes = common_map__bytes(&map, m->type);

			if (arg % 2 == 0 || clears++ > 8) {
				common_map__fini(&map);
				FUZZ_CHECK(common_map__bytes(&map, m->type) == 0);
			} else {
				common_map__clear(&map);
				FUZZ_CHECK(common_map__bytes(&map, m->type) <= cap_bytes);
			}
			for (unsigned j = 0; j < m->nkeys; j++)
				if (m->present[j])
					forget(m, j);
			check_all(m, &map);
			break;
		}
		default:
			abort();
		}
		FUZZ_CHECK(common_map__size(&map) == m->n);
	}
	check_all(m, &map);
	for (unsigned k = 0; k < m->nkeys; k++)
		find(m, &map, k);
	common_map__fini(&map);
	free(m);
	return 0;
}
