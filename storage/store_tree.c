/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tree.c — layer 0 of the storage module (storage/DESIGN.md): what
 * is computed over a merged call tree once a query has built it, the
 * same for every view: the tree's nodes and the top-function table.
 * Pure: no SQLite, no handle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_tree.h"

size_t store_tree__size(const struct store_tree *t)
{
	return t ? t->n : 0;
}

const struct store_tree_node *store_tree__node(const struct store_tree *t,
					       size_t i)
{
	if (!t || i >= t->n)
		return NULL;
	return &t->nodes[i];
}

void store_tree__free(struct store_tree *t)
{
	if (!t)
		return;
	free(t->nodes);
	store_arena__unref(t->texts);
	free(t);
}

int store_tree__add(struct store_tree *t, const struct store_tree_node *node,
		   uint32_t *ret_index)
{
	struct store_tree_node *grown;

	if (t->n == UINT32_MAX)
		return -ENOMEM;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		grown = realloc(t->nodes, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->nodes = grown;
		t->cap = cap;
	}
	t->nodes[t->n] = *node;
	*ret_index = (uint32_t)t->n++;
	return 0;
}

static int compare_top(const void *pa, const void *pb)
{
	const struct store_top_entry *a = pa, *b = pb;
	int c;

	if (a->self != b->self)
		return a->self < b->self ? 1 : -1;
	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	c = strcmp(a->name, b->name);
	if (c)
		return c;
	return strcmp(a->module ? a->module : "", b->module ? b->module : "");
}

int store_tree__top(const struct store_tree *t,
		    struct store_top_entry **ret_entries, size_t *ret_n)
{
	struct store_map functions = { 0 };
	struct store_top_entry *entries = NULL;
	size_t *first = NULL, *next = NULL, *stack = NULL, *func = NULL;
	uint32_t *active = NULL;
	size_t n = 0, depth = 0;
	int r = -ENOMEM;

	if (!t || !ret_entries || !ret_n)
		return -EINVAL;
	/* Node 0 and process nodes are not functions; func[i] == SIZE_MAX. */
	entries = calloc(t->n + 1, sizeof(*entries));
	func = malloc((t->n + 1) * sizeof(*func));
	first = malloc((t->n + 1) * sizeof(*first));
	next = malloc((t->n + 1) * sizeof(*next));
	stack = malloc((t->n + 1) * sizeof(*stack));
	active = calloc(t->n + 1, sizeof(*active));
	if (!entries || !func || !first || !next || !stack || !active)
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		const struct store_tree_node *nd = &t->nodes[i];
		uint64_t key[3] = { (uintptr_t)nd->name, (uintptr_t)nd->module,
				    (uint64_t)nd->kind };
		int64_t found;

		first[i] = SIZE_MAX;
		func[i] = SIZE_MAX;
		if (i == 0 || nd->kind == STORE_FRAME_PROCESS)
			continue;
		if (!store_map__get(&functions, key, sizeof(key), &found)) {
			found = (int64_t)n;
			entries[n].name = nd->name;
			entries[n].module = nd->module;
			entries[n].kind = nd->kind;
			n++;
			if (store_map__put(&functions, key, sizeof(key), found,
					   NULL) < 0)
				goto out;
		}
		func[i] = (size_t)found;
		entries[found].self += nd->self;
	}
	/* Children lists, then a depth-first walk that knows which functions
	 * are on the path: a node adds its subtree's samples to its
	 * function's total only when it is the outermost occurrence. */
	for (size_t i = t->n; i-- > 1;) {
		next[i] = first[t->nodes[i].parent];
		first[t->nodes[i].parent] = i;
	}
	stack[depth++] = 0;
	while (depth > 0) {
		size_t i = stack[depth - 1], f;

		if (i >= t->n) {
			/* Leaving node i - t->n. */
			f = func[i - t->n];
			if (f != SIZE_MAX)
				active[f]--;
			depth--;
			continue;
		}
		f = func[i];
		if (f != SIZE_MAX) {
			if (active[f]++ == 0)
				entries[f].total += t->nodes[i].total;
		}
		stack[depth - 1] = i + t->n;
		for (size_t c = first[i]; c != SIZE_MAX; c = next[c])
			stack[depth++] = c;
	}
	qsort(entries, n, sizeof(*entries), compare_top);
	*ret_entries = entries;
	*ret_n = n;
	entries = NULL;
	r = 0;
out:
	free(entries);
	free(func);
	free(first);
	free(next);
	free(stack);
	free(active);
	store_map__free(&functions);
	return r;
}
