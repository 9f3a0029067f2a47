/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-common-map.c — the hash map, one case per way the project's tables
 * use it: integer and pointer keys with values inline, byte strings
 * borrowed and copied, composite keys with the caller's hash and equality
 * (and a key carrying its own hash), values that index the caller's array;
 * removal, deletion while iterating, churn that must not grow the table,
 * clear keeping its memory, reserve keeping entries in place, the memory
 * count, and the refusals (-EOVERFLOW, -ENOMEM with nothing changed). The
 * random sequences against a model are test-common-map-model.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "unit-check.h"

/* ---- integers: a set of tgids, a u64 -> (first, n) cache ---------------- */

struct tgid_entry {
	uint32_t tgid;
};

static const struct common_map_type tgid_type = {
	.entry_size = sizeof(struct tgid_entry), .key_size = sizeof(uint32_t),
};

static void test_u32_set(void)
{
	struct common_map m = { 0 };
	struct tgid_entry *e;
	size_t pos = 0, n = 0;
	uint64_t sum = 0;

	CHECK(common_map__find(&m, &tgid_type, &(uint32_t){ 1 }) == NULL);
	CHECK(common_map__bytes(&m, &tgid_type) == 0);
	for (uint32_t t = 0; t < 100000; t++) {
		void *p;

		CHECK(common_map__insert(&m, &tgid_type, &t, &p) == 1);
		CHECK(((struct tgid_entry *)p)->tgid == t);
	}
	for (uint32_t t = 0; t < 100000; t += 7)
		CHECK(common_map__insert(&m, &tgid_type, &t, NULL) == 0);
	CHECK(common_map__size(&m) == 100000);
	for (uint32_t t = 0; t < 200000; t++) {
		e = common_map__find(&m, &tgid_type, &t);
		CHECK((e != NULL) == (t < 100000));
		CHECK(!e || e->tgid == t);
	}
	while ((e = common_map__next(&m, &tgid_type, &pos))) {
		sum += e->tgid;
		n++;
	}
	CHECK(n == 100000 && sum == 99999ULL * 100000 / 2);
	/* At most 3/4 full, at least 3/8 after doubling. */
	CHECK(common_map__bytes(&m, &tgid_type) <= 100000 * 8 / 3 * (sizeof(*e) + 1));
	CHECK(common_map__bytes(&m, &tgid_type) >= 100000 * 4 / 3 * (sizeof(*e) + 1));
	common_map__fini(&m);
	CHECK(common_map__bytes(&m, &tgid_type) == 0 && common_map__size(&m) == 0);
	/* Usable again after fini. */
	CHECK(common_map__insert(&m, &tgid_type, &(uint32_t){ 5 }, NULL) == 1);
	common_map__fini(&m);
	common_map__fini(NULL);
}

struct addr_entry {
	uint64_t vaddr;
	uint32_t first, n;
};

static const struct common_map_type addr_type = {
	.entry_size = sizeof(struct addr_entry), .key_size = sizeof(uint64_t),
};

static void test_u64_inline(void)
{
	struct common_map m = { 0 };
	struct addr_entry *e;

	/* 0 is a key like any other: no value is reserved for empty. */
	for (uint64_t a = 0; a < 50000; a++) {
		uint64_t vaddr = a * 64;  /* aligned addresses: low bits all 0 */

		CHECK(common_map__insert(&m, &addr_type, &vaddr, (void **)&e) == 1);
		CHECK(e->first == 0 && e->n == 0);   /* zeroes after the key */
		e->first = (uint32_t)a;
		e->n = (uint32_t)(a % 5 + 1);
	}
	for (uint64_t a = 0; a < 50000; a++) {
		uint64_t vaddr = a * 64, off = vaddr + 1;

		e = common_map__find(&m, &addr_type, &vaddr);
		CHECK(e && e->vaddr == vaddr && e->first == a && e->n == a % 5 + 1);
		CHECK(common_map__find(&m, &addr_type, &off) == NULL);
	}
	common_map__fini(&m);
}

/* ---- pointers: a memo from one interned string to another --------------- */

struct memo_entry {
	const char *from;
	const char *to;
};

static const struct common_map_type memo_type = {
	.entry_size = sizeof(struct memo_entry), .key_size = sizeof(const char *),
};

static void test_pointers(void)
{
	static char a[] = "same", b[] = "same";
	struct common_map m = { 0 };
	struct memo_entry *e;
	const char *k;

	k = a;
	CHECK(common_map__insert(&m, &memo_type, &k, (void **)&e) == 1);
	e->to = "A";
	k = b;
	CHECK(common_map__insert(&m, &memo_type, &k, (void **)&e) == 1);  /* another pointer */
	e->to = "B";
	k = a;
	e = common_map__find(&m, &memo_type, &k);
	CHECK(e && !strcmp(e->to, "A"));
	k = b;
	e = common_map__find(&m, &memo_type, &k);
	CHECK(e && !strcmp(e->to, "B"));
	common_map__fini(&m);
}

/* ---- byte strings ------------------------------------------------------- */

struct str_entry {
	struct common_bytes key;
	int64_t id;
};

static const struct common_map_type borrowed_type = {
	.entry_size = sizeof(struct str_entry), .key_size = sizeof(struct common_bytes),
	.hash = common_bytes_hash, .equal = common_bytes_equal,
};

static const struct common_map_type copied_type = {
	.entry_size = sizeof(struct str_entry), .key_size = sizeof(struct common_bytes),
	.copy_bytes = true,
};

static void test_bytes_borrowed(void)
{
	const char *texts[] = { "", "a", "a\0", "ab", "main", "libc.so.6", "b" };
	struct common_map m = { 0 };
	struct str_entry *e;
	char buf[16];

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		/* "a\0" is two bytes: not the same key as "a". */
		struct common_bytes k = { texts[i], i == 2 ? 2 : strlen(texts[i]) };

		CHECK(common_map__insert(&m, &borrowed_type, &k, (void **)&e) == 1);
		e->id = (int64_t)i;
	}
	/* Found through another buffer with the same bytes; the entry keeps
	 * the caller's pointer (borrowed). */
	memcpy(buf, "main", 4);
	e = common_map__find(&m, &borrowed_type, &(struct common_bytes){ buf, 4 });
	CHECK(e && e->id == 4 && e->key.p == texts[4]);
	e = common_map__find(&m, &borrowed_type, &(struct common_bytes){ "a\0", 2 });
	CHECK(e && e->id == 2);
	e = common_map__find(&m, &borrowed_type, &(struct common_bytes){ "a", 1 });
	CHECK(e && e->id == 1);
	e = common_map__find(&m, &borrowed_type, &(struct common_bytes){ NULL, 0 });
	CHECK(e && e->id == 0);
	CHECK(common_map__find(&m, &borrowed_type, &(struct common_bytes){ "mai", 3 }) == NULL);
	common_map__fini(&m);
}

static void test_bytes_copied(void)
{
	struct common_map m = { 0 };
	struct str_entry *e;
	const void *copies[3000];
	size_t big = (2u << 20) + 3, bytes_full;
	char buf[64], *huge;

	for (int i = 0; i < 3000; i++) {
		int len = snprintf(buf, sizeof(buf), "function_%d", i);

		CHECK(common_map__insert(&m, &copied_type, &(struct common_bytes){ buf, (size_t)len },
					 (void **)&e) == 1);
		CHECK(e->key.p != buf && e->key.len == (size_t)len);
		e->id = i;
		copies[i] = e->key.p;
		memset(buf, 'X', sizeof(buf));   /* the caller's buffer is gone */
	}
	/* A key larger than the largest block: a block of its own. */
	huge = malloc(big);
	CHECK(huge);
	memset(huge, 'h', big);
	CHECK(common_map__insert(&m, &copied_type, &(struct common_bytes){ huge, big }, (void **)&e) == 1);
	e->id = -1;
	memset(huge, 0, big);
	for (int i = 0; i < 3000; i++) {
		int len = snprintf(buf, sizeof(buf), "function_%d", i);

		e = common_map__find(&m, &copied_type, &(struct common_bytes){ buf, (size_t)len });
		CHECK(e && e->id == i);
		/* Copies do not move when the table grows, and are C strings. */
		CHECK(e->key.p == copies[i]);
		CHECK(!strcmp(e->key.p, buf));
	}
	memset(huge, 'h', big);
	e = common_map__find(&m, &copied_type, &(struct common_bytes){ huge, big });
	CHECK(e && e->id == -1 && ((const char *)e->key.p)[big] == '\0');
	/* The copies are counted. */
	bytes_full = common_map__bytes(&m, &copied_type);
	CHECK(bytes_full >= big + 3000 * 12);
	/* Clear keeps the table and the newest block, drops the rest. */
	common_map__clear(&m);
	CHECK(common_map__size(&m) == 0);
	CHECK(common_map__bytes(&m, &copied_type) < bytes_full - big);
	CHECK(common_map__bytes(&m, &copied_type) > 4096 * (sizeof(*e) + 1));
	CHECK(common_map__find(&m, &copied_type, &(struct common_bytes){ "function_1", 10 }) == NULL);
	CHECK(common_map__insert(&m, &copied_type, &(struct common_bytes){ "function_1", 10 }, NULL) == 1);
	common_map__fini(&m);
	free(huge);
}

/* ---- composite keys: the caller's hash and equality --------------------- */

/* A frame under a parent, compared by text, with the hash computed once
 * by the caller and carried in the key (so a rebuild does not rehash the
 * texts). The value indexes the caller's array of nodes. */
struct frame_key {
	uint64_t hash;
	uint32_t parent;
	const char *name;
	const char *file;
	int line;
};

struct frame_entry {
	struct frame_key key;
	uint32_t index;
};

static uint64_t frame_key_hash(const void *key)
{
	return ((const struct frame_key *)key)->hash;
}

static bool frame_key_equal(const void *entry_key, const void *key)
{
	const struct frame_key *a = entry_key, *b = key;

	return a->parent == b->parent && a->line == b->line && !strcmp(a->name, b->name) &&
	       !strcmp(a->file, b->file);
}

static const struct common_map_type frame_type = {
	.entry_size = sizeof(struct frame_entry), .key_size = sizeof(struct frame_key),
	.hash = frame_key_hash, .equal = frame_key_equal,
};

static struct frame_key frame_key(uint32_t parent, const char *name, const char *file,
				  int line)
{
	struct frame_key k = { 0, parent, name, file, line };
	uint64_t h = common_hash(COMMON_HASH_SEED, &parent, sizeof(parent));

	h = common_hash(h, name, strlen(name));
	h = common_hash(h, file, strlen(file));
	k.hash = common_hash(h, &line, sizeof(line));
	return k;
}

static void test_composite(void)
{
	struct common_map m = { 0 };
	struct { uint32_t parent; uint64_t total; } nodes[4096];
	uint32_t n_nodes = 0;
	char names[64][16];
	struct frame_entry *e;

	for (int i = 0; i < 64; i++)
		snprintf(names[i], sizeof(names[i]), "fn%d", i);
	/* Merge 10,000 (parent, name) pairs into at most 64 * 64 nodes. */
	for (int i = 0; i < 10000; i++) {
		uint32_t parent = (uint32_t)(i * 7 % 64);
		char copy[16];
		struct frame_key k;

		/* Another buffer with the same text: equality is by text. */
		strcpy(copy, names[i % 64]);
		k = frame_key(parent, copy, "x.c", 1);
		int r = common_map__insert(&m, &frame_type, &k, (void **)&e);

		CHECK(r == 0 || r == 1);
		if (r == 1) {
			e->key.name = names[i % 64];   /* an equal key the caller owns */
			CHECK(n_nodes < ARRAY_SIZE(nodes));
			e->index = n_nodes;
			nodes[n_nodes++] = (typeof(nodes[0])){ parent, 0 };
		}
		nodes[e->index].total++;
	}
	CHECK(common_map__size(&m) == n_nodes);
	for (uint32_t p = 0; p < 64; p++)
		for (int i = 0; i < 64; i++) {
			struct frame_key k = frame_key(p, names[i], "x.c", 1);

			e = common_map__find(&m, &frame_type, &k);
			if (e)
				CHECK(nodes[e->index].parent == p && e->key.name == names[i]);
		}
	/* Same text, another line or file: another key. */
	{
		struct frame_key k = frame_key(0, names[0], "x.c", 2);

		CHECK(common_map__find(&m, &frame_type, &k) == NULL);
		k = frame_key(0, names[0], "y.c", 1);
		CHECK(common_map__find(&m, &frame_type, &k) == NULL);
	}
	common_map__fini(&m);
}

/* Every key hashes the same: every probe walks one long run, and the
 * answers are still right (only slower). */
static uint64_t constant_hash(const void *key)
{
	return 42;
}

static const struct common_map_type constant_type = {
	.entry_size = sizeof(struct addr_entry), .key_size = sizeof(uint64_t),
	.hash = constant_hash,
};

static void test_collisions(void)
{
	struct common_map m = { 0 };
	struct addr_entry *e;

	for (uint64_t a = 0; a < 2000; a++) {
		CHECK(common_map__insert(&m, &constant_type, &a, (void **)&e) == 1);
		e->first = (uint32_t)a;
	}
	for (uint64_t a = 0; a < 2000; a += 2)
		CHECK(common_map__remove(&m, &constant_type, &a, NULL) == 1);
	for (uint64_t a = 0; a < 3000; a++) {
		e = common_map__find(&m, &constant_type, &a);
		CHECK((e != NULL) == (a < 2000 && a % 2 == 1));
		CHECK(!e || e->first == a);
	}
	common_map__fini(&m);
}

/* ---- removal -------------------------------------------------------------- */

static void test_remove_and_iterate(void)
{
	struct common_map m = { 0 };
	struct addr_entry *e, out;
	size_t pos = 0, visited = 0;
	bool seen[10000] = { false };

	for (uint64_t a = 0; a < 10000; a++) {
		CHECK(common_map__insert(&m, &addr_type, &a, (void **)&e) == 1);
		e->n = (uint32_t)a + 1;
	}
	/* remove copies the entry out first. */
	CHECK(common_map__remove(&m, &addr_type, &(uint64_t){ 77 }, &out) == 1);
	CHECK(out.vaddr == 77 && out.n == 78);
	CHECK(common_map__remove(&m, &addr_type, &(uint64_t){ 77 }, &out) == 0);
	CHECK(common_map__find(&m, &addr_type, &(uint64_t){ 77 }) == NULL);
	/* Delete every odd key while iterating: each entry still seen once. */
	while ((e = common_map__next(&m, &addr_type, &pos))) {
		CHECK(e->vaddr < 10000 && !seen[e->vaddr]);
		seen[e->vaddr] = true;
		visited++;
		if (e->vaddr % 2)
			common_map__delete(&m, &addr_type, e);
	}
	CHECK(visited == 9999);
	CHECK(common_map__size(&m) == 5000);
	for (uint64_t a = 0; a < 10000; a++)
		CHECK((common_map__find(&m, &addr_type, &a) != NULL) == (a % 2 == 0));
	/* Reinsert into the freed slots. */
	for (uint64_t a = 1; a < 10000; a += 2)
		CHECK(common_map__insert(&m, &addr_type, &a, NULL) == 1);
	CHECK(common_map__size(&m) == 10000);
	/* Removing everything leaves no tombstone: each run of them ends at
	 * an empty slot once its last entry goes (white box: the count). */
	pos = 0;
	while ((e = common_map__next(&m, &addr_type, &pos)))
		if (e->vaddr % 3 == 0)
			common_map__delete(&m, &addr_type, e);
	for (uint64_t a = 0; a < 10000; a++)
		common_map__remove(&m, &addr_type, &a, NULL);
	CHECK(common_map__size(&m) == 0 && m.removed == 0);
	common_map__fini(&m);
}

/* A million inserts and removals with at most 100 keys alive: tombstones
 * are reused or dropped, the table does not grow. */
static void test_churn(void)
{
	struct common_map m = { 0 };
	size_t most = 0;

	for (uint32_t t = 1; t <= 1000000; t++) {
		CHECK(common_map__insert(&m, &tgid_type, &t, NULL) == 1);
		if (t > 100)
			CHECK(common_map__remove(&m, &tgid_type, &(uint32_t){ t - 100 }, NULL) == 1);
		CHECK(common_map__size(&m) == MIN(t, 100u));
		most = MAX(most, common_map__bytes(&m, &tgid_type));
	}
	CHECK(most <= 512 * (sizeof(struct tgid_entry) + 1));
	for (uint32_t t = 1; t <= 1000000; t++)
		CHECK((common_map__find(&m, &tgid_type, &t) != NULL) == (t > 1000000 - 100));
	common_map__fini(&m);
}

/* ---- memory ------------------------------------------------------------- */

static void test_clear_reserve(void)
{
	struct common_map m = { 0 };
	struct addr_entry *pinned, *e;
	size_t bytes;

	for (uint64_t a = 0; a < 1000; a++)
		CHECK(common_map__insert(&m, &addr_type, &a, NULL) == 1);
	bytes = common_map__bytes(&m, &addr_type);
	CHECK(bytes == 2048 * (sizeof(struct addr_entry) + 1));
	for (uint64_t a = 0; a < 1000; a += 2)
		CHECK(common_map__remove(&m, &addr_type, &a, NULL) == 1);
	/* Clear without free: the same table, empty, no tombstones. */
	common_map__clear(&m);
	CHECK(common_map__size(&m) == 0 && common_map__bytes(&m, &addr_type) == bytes);
	CHECK(m.removed == 0);
	for (uint64_t a = 0; a < 1000; a++)
		CHECK(common_map__find(&m, &addr_type, &a) == NULL);
	for (uint64_t a = 0; a < 1000; a++)
		CHECK(common_map__insert(&m, &addr_type, &a, NULL) == 1);
	CHECK(common_map__bytes(&m, &addr_type) == bytes);
	/* reserve: then inserts neither fail nor move entries. */
	CHECK(common_map__reserve(&m, &addr_type, 100000) == 0);
	pinned = common_map__find(&m, &addr_type, &(uint64_t){ 500 });
	CHECK(pinned);
	bytes = common_map__bytes(&m, &addr_type);
	for (uint64_t a = 1000; a < 100000; a++)
		CHECK(common_map__insert(&m, &addr_type, &a, NULL) == 1);
	CHECK(common_map__bytes(&m, &addr_type) == bytes);
	e = common_map__find(&m, &addr_type, &(uint64_t){ 500 });
	CHECK(e == pinned && e->vaddr == 500);
	common_map__fini(&m);
}

static void test_refusals(void)
{
	struct common_map m = { 0 };
	size_t bytes;

	for (uint64_t a = 0; a < 100; a++)
		CHECK(common_map__insert(&m, &addr_type, &a, NULL) == 1);
	bytes = common_map__bytes(&m, &addr_type);
	CHECK(common_map__reserve(&m, &addr_type, SIZE_MAX) == -EOVERFLOW);
	CHECK(common_map__reserve(&m, &addr_type, SIZE_MAX / 2) == -EOVERFLOW);
	/* Representable, but no such memory (allocator_may_return_null). */
	CHECK(common_map__reserve(&m, &addr_type, (size_t)1 << 50) == -ENOMEM);
	/* Nothing changed. */
	CHECK(common_map__size(&m) == 100 && common_map__bytes(&m, &addr_type) == bytes);
	for (uint64_t a = 0; a < 100; a++)
		CHECK(common_map__find(&m, &addr_type, &a) != NULL);
	common_map__fini(&m);
}

static void test_hash_mem(void)
{
	/* Distinct integers, distinct hashes (a bijection for 8 bytes). */
	struct common_map m = { 0 };

	for (uint64_t a = 0; a < 100000; a++) {
		uint64_t h = common_hash_mem(&a, sizeof(a));

		CHECK(common_map__insert(&m, &addr_type, &h, NULL) == 1);
	}
	common_map__fini(&m);
	/* Length is part of the hash. */
	CHECK(common_hash_mem("a\0\0", 3) != common_hash_mem("a\0", 2));
	CHECK(common_hash_mem("", 0) != common_hash_mem("\0", 1));
	CHECK(common_hash_mem("abcdefghijk", 11) == common_hash_mem("abcdefghijk", 11));
	CHECK(common_hash_mem("abcdefghijk", 11) != common_hash_mem("abcdefghijj", 11));
}

int main(void)
{
	test_u32_set();
	test_u64_inline();
	test_pointers();
	test_bytes_borrowed();
	test_bytes_copied();
	test_composite();
	test_collisions();
	test_remove_and_iterate();
	test_churn();
	test_clear_reserve();
	test_refusals();
	test_hash_mem();
	printf("common_map: ok\n");
	return 0;
}
