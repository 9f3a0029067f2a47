/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_bench.c — the common hash map (common/map.c) against the open-coded
 * tables it is meant to replace, on the two hot paths the project has, with
 * the same keys and the same operations:
 *
 *   children  the tree query's children table (storage/store_query.c):
 *             (parent, ident) -> node index, find-or-add in tree order for
 *             every node of a generated call tree, the table cleared
 *             between rounds as between queries; the open-coded one is a
 *             copy of store_query.c's (12-byte slots, ident 0 = empty, half
 *             full at most, cleared with a memset).
 *   addresses the symbolizer's per-binary address cache
 *             (symbolizer/symbolizer.c): vaddr -> (first, n), filled once,
 *             then looked up in shuffled order, as a warm pass; the
 *             open-coded one is a copy of symbolizer.c's (16-byte slots,
 *             n == 0 = empty, half full at most).
 *   tgids     a set of process ids (profiler/session_accounting.c): mostly hits.
 *
 * Prints ns per operation (best of --rounds) and the bytes each table holds.
 * Figures only; never pass/fail.
 *
 * Usage: map_bench [-n NODES] [-a ADDRESSES] [-r ROUNDS]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rng.h"
#include "common.h"

static void shuffle(uint64_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = bench_rng() % i;
		uint64_t t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static volatile uint64_t sink;

/* ---- children ----------------------------------------------------------- */

/* As storage/store_query.c. */
struct child_slot {
	uint32_t parent, ident, index;
};

struct open_children {
	struct child_slot *children;
	size_t cap, n;
};

static struct child_slot *child_slot(const struct open_children *s, uint32_t parent,
				     uint32_t ident)
{
	uint64_t key = (uint64_t)parent << 32 | ident;
	size_t mask = s->cap - 1;
	size_t j = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;

	while (s->children[j].ident != 0 &&
	       (s->children[j].ident != ident || s->children[j].parent != parent))
		j = (j + 1) & mask;
	return &s->children[j];
}

static int children_reserve(struct open_children *s)
{
	struct child_slot *old = s->children;
	size_t old_cap = s->cap, cap;

	if (s->n + 1 <= s->cap / 2)
		return 0;
	cap = old_cap ? old_cap * 2 : 4096;
	s->children = calloc(cap, sizeof(*s->children));
	if (!s->children) {
		s->children = old;
		return -1;
	}
	s->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].ident != 0)
			*child_slot(s, old[i].parent, old[i].ident) = old[i];
	free(old);
	return 0;
}

static uint32_t open_child_of(struct open_children *s, uint32_t parent, uint32_t ident,
			      uint32_t *next_index)
{
	struct child_slot *slot;

	if (children_reserve(s) < 0)
		abort();
	slot = child_slot(s, parent, ident);
	if (slot->ident != 0)
		return slot->index;
	*slot = (struct child_slot){ parent, ident, (*next_index)++ };
	s->n++;
	return slot->index;
}

static const struct common_map_type child_type = {
	.entry_size = sizeof(struct child_slot), .key_size = 2 * sizeof(uint32_t),
};

static uint32_t map_child_of(struct common_map *m, uint32_t parent, uint32_t ident,
			     uint32_t *next_index)
{
	struct child_slot *e;
	int r = common_map__insert(m, &child_type, &(struct child_slot){ parent, ident, 0 }, (void **)&e);

	if (r < 0)
		abort();
	if (r == 1)
		e->index = (*next_index)++;
	return e->index;
}

/* A call tree of n nodes: each node's parent an earlier node (more often a
 * recent one: deep stacks), its ident one of 20,000 functions. The
 * operations: every node in order, 1 in 5 looked up again later. */
struct op {
	uint32_t parent, ident;
};

static struct op *children_ops(size_t n, size_t *ret_n)
{
	size_t n_ops = n + n / 5, k = 0;
	struct op *ops = malloc(n_ops * sizeof(*ops));
	uint32_t *parent = malloc(n * sizeof(*parent)), *ident = malloc(n * sizeof(*ident));

	if (!ops || !parent || !ident)
		abort();
	parent[0] = 0;
	ident[0] = 1;
	for (size_t i = 1; i < n; i++) {
		parent[i] = (uint32_t)(bench_rng() % 4 ? i - 1 - bench_rng() % MIN(i, (size_t)64) : bench_rng() % i);
		ident[i] = (uint32_t)(1 + bench_rng() % 20000);
	}
	for (size_t i = 0; i < n; i++) {
		ops[k++] = (struct op){ parent[i], ident[i] };
		if (i % 5 == 4) {
			size_t j = bench_rng() % (i + 1);

			ops[k++] = (struct op){ parent[j], ident[j] };
		}
	}
	free(parent);
	free(ident);
	*ret_n = k;
	return ops;
}

static void bench_children(size_t n, int rounds)
{
	size_t n_ops;
	struct op *ops = children_ops(n, &n_ops);
	struct open_children oc = { 0 };
	struct common_map m = { 0 };
	double best_open = 1e30, best_map = 1e30;
	uint64_t sum_open = 0, sum_map = 0;

	for (int r = 0; r < rounds; r++) {
		uint32_t next = 0;
		uint64_t t0, sum = 0;

		/* Alternated, each from an emptied table that kept its memory. */
		if (oc.n > 0)
			memset(oc.children, 0, oc.cap * sizeof(*oc.children));
		oc.n = 0;
		t0 = common_now_ns();
		for (size_t i = 0; i < n_ops; i++)
			sum += open_child_of(&oc, ops[i].parent, ops[i].ident, &next);
		best_open = MIN(best_open, (double)(common_now_ns() - t0) / n_ops);
		sum_open = sum;

		next = 0;
		sum = 0;
		common_map__clear(&m);
		t0 = common_now_ns();
		for (size_t i = 0; i < n_ops; i++)
			sum += map_child_of(&m, ops[i].parent, ops[i].ident, &next);
		best_map = MIN(best_map, (double)(common_now_ns() - t0) / n_ops);
		sum_map = sum;
	}
	if (sum_open != sum_map) {
		fprintf(stderr, "children: the tables disagree\n");
		exit(1);
	}
	printf("| children (%zu nodes, %zu find-or-add) | %.1f | %.1f | %.2fx | %.1f / %.1f MiB |\n",
	       n, n_ops, best_open, best_map, best_map / best_open,
	       oc.cap * sizeof(*oc.children) / 1048576.0, common_map__bytes(&m, &child_type) / 1048576.0);
	free(oc.children);
	common_map__fini(&m);
	free(ops);
}

/* ---- addresses ---------------------------------------------------------- */

/* As symbolizer/symbolizer.c. */
struct cache_slot {
	uint64_t vaddr;
	uint32_t first, n;
};

struct open_cache {
	struct cache_slot *cache;
	size_t cap, used;
};

static uint64_t vaddr_hash(uint64_t vaddr)
{
	return (vaddr * 0x9e3779b97f4a7c15ULL) >> 24;
}

static const struct cache_slot *open_find(const struct open_cache *c, uint64_t vaddr)
{
	size_t mask = c->cap - 1;

	if (!c->cap)
		return NULL;
	for (size_t i = vaddr_hash(vaddr) & mask;; i = (i + 1) & mask) {
		const struct cache_slot *slot = &c->cache[i];

		if (slot->n == 0)
			return NULL;
		if (slot->vaddr == vaddr)
			return slot;
	}
}

static void open_put(struct open_cache *c, uint64_t vaddr, uint32_t first, uint32_t n)
{
	size_t mask, i;

	if (2 * (c->used + 1) > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct cache_slot *slots = calloc(ncap, sizeof(*slots));

		if (!slots)
			abort();
		for (size_t j = 0; j < c->cap; j++) {
			if (!c->cache[j].n)
				continue;
			for (i = vaddr_hash(c->cache[j].vaddr) & (ncap - 1); slots[i].n;
			     i = (i + 1) & (ncap - 1))
				;
			slots[i] = c->cache[j];
		}
		free(c->cache);
		c->cache = slots;
		c->cap = ncap;
	}
	mask = c->cap - 1;
	for (i = vaddr_hash(vaddr) & mask; c->cache[i].n; i = (i + 1) & mask)
		;
	c->cache[i] = (struct cache_slot){ vaddr, first, n };
	c->used++;
}

static const struct common_map_type cache_type = {
	.entry_size = sizeof(struct cache_slot), .key_size = sizeof(uint64_t),
};

static void bench_addresses(size_t n, int rounds)
{
	uint64_t *addrs = malloc(n * sizeof(*addrs));
	struct open_cache oc = { 0 };
	struct common_map m = { 0 };
	double fill_open = 1e30, fill_map = 1e30, best_open = 1e30, best_map = 1e30;
	uint64_t t0, sum_open = 0, sum_map = 0;

	if (!addrs)
		abort();
	/* Distinct addresses in 2.7 MB of code from 0x401000 (the
	 * symbolize benchmark's program). */
	for (size_t i = 0; i < n; i++)
		addrs[i] = 0x401000 + i * (2700000 / n) + bench_rng() % (2700000 / n);
	shuffle(addrs, n);
	for (int r = 0; r < rounds; r++) {
		free(oc.cache);
		oc = (struct open_cache){ 0 };
		t0 = common_now_ns();
		for (size_t i = 0; i < n; i++)
			open_put(&oc, addrs[i], (uint32_t)i, 1 + (uint32_t)(i % 3));
		fill_open = MIN(fill_open, (double)(common_now_ns() - t0) / n);

		common_map__fini(&m);
		t0 = common_now_ns();
		for (size_t i = 0; i < n; i++) {
			struct cache_slot *e;

			if (common_map__insert(&m, &cache_type, &addrs[i], (void **)&e) < 0)
				abort();
			e->first = (uint32_t)i;
			e->n = 1 + (uint32_t)(i % 3);
		}
		fill_map = MIN(fill_map, (double)(common_now_ns() - t0) / n);
	}
	for (int r = 0; r < rounds; r++) {
		uint64_t sum = 0;

		shuffle(addrs, n);
		t0 = common_now_ns();
		for (size_t i = 0; i < n; i++)
			sum += open_find(&oc, addrs[i])->first;
		best_open = MIN(best_open, (double)(common_now_ns() - t0) / n);
		sum_open = sum;

		sum = 0;
		t0 = common_now_ns();
		for (size_t i = 0; i < n; i++)
			sum += ((const struct cache_slot *)common_map__find(&m, &cache_type, &addrs[i]))->first;
		best_map = MIN(best_map, (double)(common_now_ns() - t0) / n);
		sum_map = sum;
	}
	if (sum_open != sum_map) {
		fprintf(stderr, "addresses: the tables disagree\n");
		exit(1);
	}
	printf("| addresses (%zu): fill | %.1f | %.1f | %.2fx | |\n", n, fill_open, fill_map,
	       fill_map / fill_open);
	printf("| addresses (%zu): warm lookup | %.1f | %.1f | %.2fx | %.1f / %.1f MiB |\n", n,
	       best_open, best_map, best_map / best_open,
	       oc.cap * sizeof(*oc.cache) / 1048576.0, common_map__bytes(&m, &cache_type) / 1048576.0);
	free(oc.cache);
	common_map__fini(&m);
	free(addrs);
}

/* ---- tgids -------------------------------------------------------------- */

/* As profiler/session_accounting.c's session_note_tgid. */
struct open_tgids {
	uint32_t *tgids;
	size_t n, cap;
};

static void open_note(struct open_tgids *s, uint32_t tgid)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		uint32_t *n = calloc(ncap, sizeof(*n));

		if (!n)
			abort();
		for (size_t j = 0; j < s->cap; j++) {
			uint32_t t = s->tgids[j];

			if (!t)
				continue;
			for (i = (t * 2654435761u) & (ncap - 1); n[i]; i = (i + 1) & (ncap - 1))
				;
			n[i] = t;
		}
		free(s->tgids);
		s->tgids = n;
		s->cap = ncap;
	}
	for (i = (tgid * 2654435761u) & (s->cap - 1); s->tgids[i]; i = (i + 1) & (s->cap - 1))
		if (s->tgids[i] == tgid)
			return;
	s->tgids[i] = tgid;
	s->n++;
}

static const struct common_map_type tgid_type = {
	.entry_size = sizeof(uint32_t), .key_size = sizeof(uint32_t),
};

static void bench_tgids(size_t n_ops, int rounds)
{
	uint64_t *ops = malloc(n_ops * sizeof(*ops));
	double best_open = 1e30, best_map = 1e30;
	struct open_tgids ot = { 0 };
	struct common_map m = { 0 };

	if (!ops)
		abort();
	/* 3,000 processes, pids up to 4 million, a few hot. */
	for (size_t i = 0; i < n_ops; i++)
		ops[i] = 1 + (bench_rng() % 8 ? bench_rng() % 30 : bench_rng() % 3000) * 1331;
	for (int r = 0; r < rounds; r++) {
		uint64_t t0;

		free(ot.tgids);
		ot = (struct open_tgids){ 0 };
		t0 = common_now_ns();
		for (size_t i = 0; i < n_ops; i++)
			open_note(&ot, (uint32_t)ops[i]);
		best_open = MIN(best_open, (double)(common_now_ns() - t0) / n_ops);

		common_map__fini(&m);
		t0 = common_now_ns();
		for (size_t i = 0; i < n_ops; i++)
			if (common_map__insert(&m, &tgid_type, &(uint32_t){ (uint32_t)ops[i] }, NULL) < 0)
				abort();
		best_map = MIN(best_map, (double)(common_now_ns() - t0) / n_ops);
	}
	if (ot.n != common_map__size(&m)) {
		fprintf(stderr, "tgids: the tables disagree\n");
		exit(1);
	}
	printf("| tgids (%zu notes of %zu) | %.1f | %.1f | %.2fx | %.3f / %.3f MiB |\n", n_ops,
	       ot.n, best_open, best_map, best_map / best_open,
	       ot.cap * sizeof(*ot.tgids) / 1048576.0, common_map__bytes(&m, &tgid_type) / 1048576.0);
	free(ot.tgids);
	common_map__fini(&m);
	free(ops);
}

int main(int argc, char **argv)
{
	size_t nodes = 300000, addrs = 100000;
	int rounds = 5, c;

	while ((c = getopt(argc, argv, "n:a:r:h")) != -1) {
		switch (c) {
		case 'n':
			nodes = strtoull(optarg, NULL, 10);
			break;
		case 'a':
			addrs = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n NODES] [-a ADDRESSES] [-r ROUNDS]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (nodes < 2 || addrs < 1 || addrs > 2700000 || rounds < 1) {
		fprintf(stderr, "map_bench: -n at least 2, -a 1 to 2700000, -r at least 1\n");
		return 2;
	}
	printf("| workload | open-coded, ns/op | common map, ns/op | map / open | memory (open / map) |\n");
	printf("| --- | ---: | ---: | ---: | ---: |\n");
	bench_children(nodes, rounds);
	bench_addresses(addrs, rounds);
	bench_tgids(1000000, rounds);
	(void)sink;
	return 0;
}
