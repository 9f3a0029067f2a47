/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tree.c — layer 0 of the storage module (storage/DESIGN.md): what
 * is computed over a merged call tree once a query has built it, the
 * same for every view and every store: the tree's nodes, the function
 * table (report's top, diff's comparison, the web API's /top) and the
 * merge of two trees by path (the diff views). Pure: no SQLite, no
 * handle.
 */
#include <errno.h>
#include <stdbool.h>
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
	free(t->base);
	store_arena__unref(t->texts);
	free(t);
}

int store_tree__add(struct store_tree *t, const struct store_tree_node *node,
		   uint32_t *ret_index)
{
	struct store_tree_node *grown;

	if (t->n == UINT32_MAX)
		return -ENOMEM;
	if (t->max && t->n >= t->max)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		if (t->max && cap > t->max)
			cap = t->max;
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
	c = strcmp(a->module ? a->module : "", b->module ? b->module : "");
	if (c)
		return c;
	return (a->kind > b->kind) - (a->kind < b->kind);
}

/*
 * The function an inlined node i's own samples also count for: that of
 * the first frame above it that is not inlined; SIZE_MAX when a process
 * node or the root comes first. (It is never one of the inlined
 * functions on the way: a function is (name, module, kind).)
 */
static size_t inlined_into(const struct store_tree *t, const size_t *func,
			   size_t i)
{
	size_t j = t->nodes[i].parent;

	while (j != 0 && t->nodes[j].kind == STORE_FRAME_INLINED)
		j = t->nodes[j].parent;
	return j == 0 ? SIZE_MAX : func[j];
}

int store_tree__top(const struct store_tree *t,
		    struct store_top_entry **ret_entries, size_t *ret_n)
{
	struct store_map functions = { 0 };
	struct store_top_entry *entries = NULL;
	size_t *first = NULL, *next = NULL, *stack = NULL, *func = NULL;
	uint32_t *active = NULL;
	size_t n = 0, depth = 0, kept;
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
		/* Parents come first: their functions are known. */
		if (nd->self && nd->kind == STORE_FRAME_INLINED) {
			size_t into = inlined_into(t, func, i);

			if (into != SIZE_MAX)
				entries[into].self += nd->self;
		}
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
	/* A merged tree's paths only its base has are no function of its
	 * head (a tree from a query has no node without samples). */
	kept = 0;
	for (size_t i = 0; i < n; i++)
		if (entries[i].total)
			entries[kept++] = entries[i];
	n = kept;
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

/* ---- merging ---- */

/* The merged tree's copy of text (NULL stays NULL), interned in texts. */
static int intern(struct store_map *texts, const char *text, const char **ret)
{
	const void *key;
	int r;

	if (!text) {
		*ret = NULL;
		return 0;
	}
	r = store_map__put(texts, text, strlen(text), 0, &key);
	if (r == 0)
		*ret = key;
	return r;
}

struct merge {
	struct store_tree *t;
	struct store_map texts; /* text -> 0: the merged tree's texts */
	struct store_map paths; /* (parent, frame) -> merged node */
};

/* Map the nodes of tree from into the merge, adding the paths it lacks
 * (with no counts): to[i] is the merged node of from's node i. */
static int merge_map(struct merge *m, const struct store_tree *from,
		     uint32_t *to)
{
	for (size_t i = 0; i < from->n; i++) {
		struct store_tree_node nd = from->nodes[i];
		/* Interned texts: the pointers are the frame's identity. */
		struct {
			uint64_t name, module, file;
			uint32_t parent, line, kind;
		} key = { 0 };
		int64_t found;
		int r;

		if (i == 0 && m->t->n) { /* both roots are node 0 */
			to[0] = 0;
			continue;
		}
		nd.parent = i ? to[nd.parent] : 0;
		if ((r = intern(&m->texts, nd.name, &nd.name)) < 0 ||
		    (r = intern(&m->texts, nd.module, &nd.module)) < 0 ||
		    (r = intern(&m->texts, nd.file, &nd.file)) < 0)
			return r;
		key.name = (uintptr_t)nd.name;
		key.module = (uintptr_t)nd.module;
		key.file = (uintptr_t)nd.file;
		key.parent = nd.parent;
		key.line = nd.line;
		key.kind = (uint32_t)nd.kind;
		if (store_map__get(&m->paths, &key, sizeof(key), &found)) {
			to[i] = (uint32_t)found;
			continue;
		}
		nd.self = nd.total = 0;
		if ((r = store_tree__add(m->t, &nd, &to[i])) < 0 ||
		    (r = store_map__put(&m->paths, &key, sizeof(key), to[i],
					NULL)) < 0)
			return r;
	}
	return 0;
}

int store_tree__merge(const struct store_tree *base,
		      const struct store_tree *head,
		      struct store_tree **ret_tree)
{
	struct merge m = { 0 };
	uint32_t *head_to = NULL, *base_to = NULL;
	int r = -ENOMEM;

	if (!base || !head || !ret_tree)
		return -EINVAL;
	m.t = calloc(1, sizeof(*m.t));
	head_to = malloc((head->n ? head->n : 1) * sizeof(*head_to));
	base_to = malloc((base->n ? base->n : 1) * sizeof(*base_to));
	if (!m.t || !head_to || !base_to)
		goto out;
	if ((r = merge_map(&m, head, head_to)) < 0 ||
	    (r = merge_map(&m, base, base_to)) < 0)
		goto out;
	r = -ENOMEM;
	m.t->base = calloc(m.t->n ? m.t->n : 1, sizeof(*m.t->base));
	if (!m.t->base)
		goto out;
	for (size_t i = 0; i < head->n; i++) {
		m.t->nodes[head_to[i]].self += head->nodes[i].self;
		m.t->nodes[head_to[i]].total += head->nodes[i].total;
	}
	for (size_t i = 0; i < base->n; i++) {
		m.t->base[base_to[i]].self += base->nodes[i].self;
		m.t->base[base_to[i]].total += base->nodes[i].total;
	}
	m.t->texts = store_map__arena(&m.texts);
	*ret_tree = m.t;
	m.t = NULL;
	r = 0;
out:
	store_tree__free(m.t);
	store_map__free(&m.texts);
	store_map__free(&m.paths);
	free(head_to);
	free(base_to);
	return r;
}

const struct store_base_counts *store_tree__base(const struct store_tree *t,
						 size_t i)
{
	if (!t || !t->base || i >= t->n)
		return NULL;
	return &t->base[i];
}
