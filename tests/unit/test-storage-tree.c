/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-tree.c — what storage computes over trees, the same for
 * every view and every store (storage/store_tree.c), on trees built by
 * hand whose answers are known by construction: the function table
 * (recursion counted once in total; an inlined leaf's samples the self of
 * the inlined function and of the real function it sits in; none for
 * inlined code with no real function above it) and the merge of two
 * trees by path (both sides' counts, head's order, texts of two stores
 * merged by content, the result independent of both).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage-test.h"
#include "store_tree.h"

struct spec {
	uint32_t parent;
	const char *name;
	enum store_frame_kind kind;
	uint64_t self;
};

/* A tree of the nodes in spec (texts as given: equal texts must be equal
 * pointers, as a store's are), totals summed from the selfs. */
static struct store_tree *build(const struct spec *spec, size_t n)
{
	struct store_tree *t = calloc(1, sizeof(*t));

	CHECK(t);
	for (size_t i = 0; i < n; i++) {
		struct store_tree_node nd = {
			.parent = spec[i].parent, .name = spec[i].name,
			.kind = spec[i].kind, .self = spec[i].self,
		};
		uint32_t at;

		CHECK_RC(store_tree__add(t, &nd, &at), 0);
		CHECK(at == i);
	}
	for (size_t i = n; i-- > 0;) {
		t->nodes[i].total += t->nodes[i].self;
		if (i)
			t->nodes[t->nodes[i].parent].total += t->nodes[i].total;
	}
	return t;
}

static const char *ALL = "all", *P = "p", *MAIN = "main", *F = "f", *G = "g",
		  *K = "k";

/* Head: main -> f -> g[i] (10); f -> f -> g[i] (5); f -> f[i] -> g[i]
 * (4), f[i] (2); main (1); k[i] right under the process (3). */
static const struct spec head_spec[] = {
	{ 0, NULL, STORE_FRAME_USER, 0 },           /* 0 root */
	{ 0, NULL, STORE_FRAME_PROCESS, 0 },        /* 1 process */
	{ 1, NULL, STORE_FRAME_USER, 1 },           /* 2 main */
	{ 2, NULL, STORE_FRAME_USER, 0 },           /* 3 f */
	{ 3, NULL, STORE_FRAME_INLINED, 10 },       /* 4 g[i] */
	{ 3, NULL, STORE_FRAME_USER, 0 },           /* 5 f (recursion) */
	{ 5, NULL, STORE_FRAME_INLINED, 5 },        /* 6 g[i] */
	{ 1, NULL, STORE_FRAME_INLINED, 3 },        /* 7 k[i] */
	{ 3, NULL, STORE_FRAME_INLINED, 2 },        /* 8 f[i] */
	{ 8, NULL, STORE_FRAME_INLINED, 4 },        /* 9 g[i] */
};

static struct store_tree *head_tree(void)
{
	const char *names[] = { ALL, P, MAIN, F, G, F, G, K, F, G };
	struct spec s[10];

	memcpy(s, head_spec, sizeof(s));
	for (size_t i = 0; i < 10; i++)
		s[i].name = names[i];
	return build(s, 10);
}

static void check_top(const struct store_tree *t)
{
	/* By self, then total: f's own machine code holds every inlined
	 * leaf below it (10 + 5 + 4 + 2), its total counts the recursion
	 * once (21, not 26); k[i] has no real function above it. */
	static const struct {
		const char *name;
		enum store_frame_kind kind;
		uint64_t self, total;
	} want[] = {
		{ "f", STORE_FRAME_USER, 21, 21 },
		{ "g", STORE_FRAME_INLINED, 19, 19 },
		{ "k", STORE_FRAME_INLINED, 3, 3 },
		{ "f", STORE_FRAME_INLINED, 2, 6 },
		{ "main", STORE_FRAME_USER, 1, 22 },
	};
	struct store_top_entry *e = NULL;
	size_t n = 0;

	CHECK_RC(store_tree__top(t, &e, &n), 0);
	CHECK_U64(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		CHECK(!strcmp(e[i].name, want[i].name));
		CHECK_RC(e[i].kind, want[i].kind);
		CHECK_U64(e[i].self, want[i].self);
		CHECK_U64(e[i].total, want[i].total);
	}
	free(e);
}

static void test_top(void)
{
	struct store_tree *t = head_tree();
	struct store_top_entry *e = NULL;
	size_t n = 0;

	check_top(t);
	CHECK_RC(store_tree__top(NULL, &e, &n), -EINVAL);
	CHECK(store_tree__base(t, 0) == NULL); /* not a merged tree */
	store_tree__free(t);
}

static void test_merge(void)
{
	/* Base: main (2) -> f -> g[i] (7), main -> q (1): its texts are
	 * other pointers, as another file's are. */
	char *names[] = { strdup("all"), strdup("p"), strdup("main"), strdup("f"),
			  strdup("g"), strdup("q") };
	struct spec base_spec[] = {
		{ 0, names[0], STORE_FRAME_USER, 0 },
		{ 0, names[1], STORE_FRAME_PROCESS, 0 },
		{ 1, names[2], STORE_FRAME_USER, 2 },
		{ 2, names[3], STORE_FRAME_USER, 0 },
		{ 3, names[4], STORE_FRAME_INLINED, 7 },
		{ 2, names[5], STORE_FRAME_USER, 1 },
	};
	static const uint64_t head_self[] = { 0, 0, 1, 0, 10, 0, 5, 3, 2, 4 };
	static const uint64_t head_total[] = { 25, 25, 22, 21, 10, 5, 5, 3, 6, 4 };
	static const uint64_t base_self[] = { 0, 0, 2, 0, 7, 0, 0, 0, 0, 0, 1 };
	static const uint64_t base_total[] = { 10, 10, 10, 7, 7, 0, 0, 0, 0, 0, 1 };
	struct store_tree *head = head_tree(), *base, *m = NULL;

	for (size_t i = 0; i < 6; i++)
		CHECK(names[i]);
	base = build(base_spec, 6);
	CHECK_RC(store_tree__merge(base, NULL, &m), -EINVAL);
	CHECK_RC(store_tree__merge(base, head, &m), 0);
	/* Independent of both trees and their texts. */
	store_tree__free(head);
	store_tree__free(base);
	for (size_t i = 0; i < 6; i++) {
		memset(names[i], 'x', strlen(names[i]));
		free(names[i]);
	}
	/* Head's nodes in head's order, then what only base has. */
	CHECK_U64(store_tree__size(m), 11);
	for (size_t i = 0; i < 11; i++) {
		const struct store_tree_node *nd = store_tree__node(m, i);
		const struct store_base_counts *b = store_tree__base(m, i);

		CHECK(nd && b);
		CHECK_U64(nd->self, i < 10 ? head_self[i] : 0);
		CHECK_U64(nd->total, i < 10 ? head_total[i] : 0);
		CHECK_U64(b->self, base_self[i]);
		CHECK_U64(b->total, base_total[i]);
		CHECK(i == 0 || nd->parent < i);
	}
	CHECK(!strcmp(store_tree__node(m, 10)->name, "q"));
	CHECK_U64(store_tree__node(m, 10)->parent, 2);
	/* Interned anew: equal texts are equal pointers. */
	CHECK(store_tree__node(m, 3)->name == store_tree__node(m, 5)->name);
	CHECK(store_tree__node(m, 4)->name == store_tree__node(m, 9)->name);
	CHECK(store_tree__base(m, 11) == NULL);
	/* A merged tree's function table is its head's. */
	check_top(m);
	store_tree__free(m);
}

int main(void)
{
	test_top();
	test_merge();
	return 0;
}
