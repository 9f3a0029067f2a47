/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_query.c — the read side of the storage module: summaries, merged
 * call trees and top-function tables over a time range, for `ember report`
 * now and the web server and `ember diff` later.
 *
 * A tree is built in three steps: the sample blocks in the range are
 * summed per (process name, stack node); the sums are grouped by process;
 * each stack is walked from its leaf up to the first node already placed
 * for its process (an array by stack node, stamped per process), and the
 * nodes below are placed, identical frames under one parent merging.
 * Strings are interned in the tree, so equal texts are equal pointers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_internal.h"

struct store_tree {
	struct store_tree_node *nodes;
	size_t n, cap;
	struct store_map strings; /* interned texts; nodes point into keys */
};

void store_query_init(struct store_query *q)
{
	q->from_s = INT64_MIN;
	q->to_s = INT64_MAX;
	q->filter = NULL;
}

static const struct store_query everything = { INT64_MIN, INT64_MAX, NULL };

/* Prepare sql and bind ?1, ?2 to the range of q. */
static int prepare_range(struct store_db *db, const char *sql,
			 const struct store_query *q, sqlite3_stmt **ret_st)
{
	sqlite3_stmt *st;
	int rc;

	if (!q)
		q = &everything;
	if (q->from_s > q->to_s)
		return store_db__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_db__fail(db, rc);
	sqlite3_bind_int64(st, 1, q->from_s);
	sqlite3_bind_int64(st, 2, q->to_s);
	*ret_st = st;
	return 0;
}

int store_db__read_begin(struct store_db *db)
{
	int r = store_db__exec(db, db->in_flush ? "SAVEPOINT rd" : "BEGIN");

	if (r < 0)
		return r;
	r = store_db__refresh_cache(db);
	if (r < 0)
		store_db__read_end(db);
	return r;
}

void store_db__read_end(struct store_db *db)
{
	sqlite3_exec(db->sql, db->in_flush ? "RELEASE rd" : "COMMIT", NULL,
		     NULL, NULL);
}

void store_summary__free(struct store_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_drops; i++)
		free((char *)s->drops[i].reason);
	free(s->drops);
	free(s);
}

static int summary_drops(struct store_db *db, const struct store_query *q,
			 struct store_summary *s)
{
	sqlite3_stmt *st;
	struct store_drop *grown;
	char *reason;
	int r, rc;

	r = prepare_range(db,
			  "SELECT s.text, sum(d.count) FROM drops d "
			  "JOIN strings s ON s.id = d.reason "
			  "WHERE d.time_s >= ?1 AND d.time_s < ?2 "
			  "GROUP BY d.reason ORDER BY s.text", q, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		grown = realloc(s->drops, (s->n_drops + 1) * sizeof(*grown));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		s->drops = grown;
		reason = strdup((const char *)sqlite3_column_text(st, 0));
		if (!reason) {
			r = -ENOMEM;
			goto out;
		}
		s->drops[s->n_drops].reason = reason;
		s->drops[s->n_drops].count = (uint64_t)sqlite3_column_int64(st, 1);
		s->n_drops++;
	}
	if (rc != SQLITE_DONE)
		r = store_db__fail(db, rc);
out:
	sqlite3_finalize(st);
	return r;
}

struct summary_acc {
	struct store_db *db;
	uint64_t samples;
	struct store_sums pids, nodes;
};

static int summary_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
			 uint64_t count)
{
	struct summary_acc *a = ctx;
	const struct store_read_cache *c = &a->db->cache;
	int r;

	if (set < 0 || set > c->max_set)
		return -EINVAL;
	a->samples += count;
	r = store_sums__add(&a->pids, c->set_pid[set], 0, count);
	if (r == 0)
		r = store_sums__add(&a->nodes, node, 0, count);
	return r;
}

int store_db__summary(struct store_db *db, const struct store_query *q,
		      struct store_summary **ret_summary)
{
	struct summary_acc acc = { .db = db };
	struct store_summary *s;
	sqlite3_stmt *st = NULL;
	bool reading = false;
	int r, rc;

	if (!db || !ret_summary)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = prepare_range(db,
			  "SELECT (SELECT min(time_s) FROM flushes "
			  "  WHERE time_s >= ?1 AND time_s < ?2),"
			  " (SELECT max(time_s) FROM flushes "
			  "  WHERE time_s >= ?1 AND time_s < ?2)", q, &st);
	if (r < 0)
		goto out;
	r = store_db__read_begin(db);
	if (r < 0)
		goto out;
	reading = true;
	r = store_db__scan(db, q, summary_entry, &acc);
	if (r == -EINVAL && !strstr(db->errmsg, "range"))
		r = store_db__fail_msg(db, -EINVAL, "corrupt sample block");
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_db__fail(db, rc);
		goto out;
	}
	/* NULL (empty range) reads as 0, as documented. */
	s->samples = acc.samples;
	s->processes = acc.pids.n;
	s->stacks = acc.nodes.n;
	s->first_s = sqlite3_column_int64(st, 0);
	s->last_s = sqlite3_column_int64(st, 1);
	r = summary_drops(db, q, s);
	if (r < 0)
		goto out;
	*ret_summary = s;
	s = NULL;
out:
	if (reading)
		store_db__read_end(db);
	sqlite3_finalize(st);
	store_sums__free(&acc.pids);
	store_sums__free(&acc.nodes);
	store_summary__free(s);
	return r;
}

/* ---- trees ---- */

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
	store_map__free(&t->strings);
	free(t);
}

/* The tree's copy of text (NULL stays NULL). */
static int tree_intern(struct store_tree *t, const char *text,
		       const char **ret)
{
	const void *key;
	int r;

	if (!text) {
		*ret = NULL;
		return 0;
	}
	r = store_map__put(&t->strings, text, strlen(text), 0, &key);
	if (r < 0)
		return r;
	*ret = key;
	return 0;
}

static int tree_add(struct store_tree *t, const struct store_tree_node *node,
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

struct tree_build {
	struct store_db *db;
	struct store_tree *t;
	/* The counts of the range by (process name, stack node): by stack
	 * node for the first process seen with it, in touched (in the order
	 * first seen), and in others for further processes. */
	struct node_count {
		const char *process;
		uint64_t count;
	} *by_node;
	uint32_t *touched;
	size_t n_touched;
	struct store_sums others;   /* (process name, stack node) -> count */
	struct store_sums children; /* (parent, frame identity) -> node */
	/* By stack node: the tree node it was placed at, valid when its
	 * stamp is the current process's (placement is per process). */
	struct placed {
		uint32_t stamp, at;
	} *placed;
	/* By frame identity: a tree node that already has its texts. */
	uint32_t *ident_node;
	int64_t *path;              /* scratch: stack nodes, leaf first */
	size_t path_cap;
};

static int count_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
		       uint64_t count)
{
	struct tree_build *b = ctx;
	const struct store_read_cache *c = &b->db->cache;
	struct node_count *nc;
	const char *process;

	if (set < 0 || set > c->max_set || node < 0 || node > c->max_node)
		return -EINVAL;
	/* Process names are interned: the pointer identifies the name. */
	process = c->set_process[set] ? c->set_process[set] : "[unknown]";
	nc = &b->by_node[node];
	if (nc->process == process) {
		nc->count += count;
		return 0;
	}
	if (!nc->process) {
		nc->process = process;
		nc->count = count;
		b->touched[b->n_touched++] = (uint32_t)node;
		return 0;
	}
	return store_sums__add(&b->others, (int64_t)(uintptr_t)process, node,
			       count);
}

/* The child of parent for cached frame id (texts owned by the read
 * cache), added with the tree's own copies of the texts when missing. */
static int child_of(struct tree_build *b, uint32_t parent, int64_t frame,
		    uint32_t *ret_index)
{
	const struct store_read_cache *c = &b->db->cache;
	const struct store_tree_node *f = &c->frames[frame];
	int64_t ident = c->frame_ident[frame];
	struct store_sum *found;
	struct store_tree_node node = *f;
	uint32_t index;
	int r;

	if (!f->name)
		return store_db__fail_msg(b->db, -EINVAL, "corrupt stack trie");
	found = store_sums__find(&b->children, parent, ident);
	if (found) {
		*ret_index = (uint32_t)found->count;
		return 0;
	}
	node.parent = parent;
	node.self = node.total = 0;
	if (b->ident_node[ident]) {
		/* The same texts are in the tree already. */
		const struct store_tree_node *same = &b->t->nodes[b->ident_node[ident]];

		node.name = same->name;
		node.module = same->module;
		node.file = same->file;
	} else if ((r = tree_intern(b->t, f->name, &node.name)) < 0 ||
		   (r = tree_intern(b->t, f->module, &node.module)) < 0 ||
		   (r = tree_intern(b->t, f->file, &node.file)) < 0) {
		return r;
	}
	r = tree_add(b->t, &node, &index);
	if (r < 0)
		return r;
	b->ident_node[ident] = index;
	r = store_sums__add(&b->children, parent, ident, index);
	if (r < 0)
		return r;
	*ret_index = index;
	return 0;
}

/* The tree node of stack node `node` under process node proc, whose
 * placements carry stamp. */
static int place_stack(struct tree_build *b, uint32_t proc, uint32_t stamp,
		       int64_t node, uint32_t *ret_index)
{
	const struct store_read_cache *c = &b->db->cache;
	size_t depth = 0;
	uint32_t at = proc;
	int r;

	/* Walk up to the root or the first node placed already. */
	while (node != 0) {
		const struct store_cached_node *cn;

		/* More steps than nodes means a cycle: a corrupt file. */
		if (node < 0 || node > c->max_node || depth > (size_t)c->max_node)
			return store_db__fail_msg(b->db, -EINVAL,
						  "corrupt stack trie");
		if (b->placed[node].stamp == stamp) {
			at = b->placed[node].at;
			break;
		}
		cn = &c->nodes[node];
		if (cn->frame == 0 || cn->frame > c->max_frame)
			return store_db__fail_msg(b->db, -EINVAL,
						  "corrupt stack trie");
		if (depth == b->path_cap) {
			size_t cap = b->path_cap ? b->path_cap * 2 : 64;
			int64_t *p = realloc(b->path, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			b->path = p;
			b->path_cap = cap;
		}
		b->path[depth++] = node;
		node = cn->parent;
	}
	while (depth > 0) {
		int64_t id = b->path[--depth];

		r = child_of(b, at, c->nodes[id].frame, &at);
		if (r < 0)
			return r;
		b->placed[id] = (struct placed){ stamp, at };
	}
	*ret_index = at;
	return 0;
}

/* The i-th count of the range: (process name, stack node, count). */
static void count_at(const struct tree_build *b, size_t i,
		     const char **ret_process, int64_t *ret_node,
		     uint64_t *ret_count)
{
	if (i < b->n_touched) {
		const struct node_count *nc = &b->by_node[b->touched[i]];

		*ret_process = nc->process;
		*ret_node = b->touched[i];
		*ret_count = nc->count;
	} else {
		const struct store_sum *e = &b->others.v[i - b->n_touched];

		*ret_process = (const char *)(uintptr_t)e->a;
		*ret_node = e->b;
		*ret_count = e->count;
	}
}

/* Place every counted stack, one process at a time (in the order the
 * processes were first seen), and add the counts to the leaves' selves. */
static int place_counts(struct tree_build *b)
{
	const struct store_read_cache *c = &b->db->cache;
	size_t n = b->n_touched + b->others.n, n_procs = 0;
	uint32_t *proc_of = NULL, *procs = NULL, *first = NULL;
	struct leaf {
		int64_t node;
		uint64_t count;
	} *grouped = NULL;
	struct store_sums known = { 0 }; /* (name, 0) -> its number */
	const char *last = NULL, *name;
	int64_t node;
	uint64_t count;
	uint32_t at = 0;
	int r = -ENOMEM;

	b->placed = calloc((size_t)c->max_node + 1, sizeof(*b->placed));
	b->ident_node = calloc((size_t)c->max_frame + 1, sizeof(uint32_t));
	proc_of = malloc((n + 1) * sizeof(*proc_of));
	procs = malloc((n + 1) * sizeof(*procs));
	first = calloc(n + 2, sizeof(*first));
	grouped = malloc((n + 1) * sizeof(*grouped));
	if (!b->placed || !b->ident_node || !proc_of || !procs || !first ||
	    !grouped)
		goto out;
	/* The process node of each count, numbered by first appearance. */
	for (size_t i = 0; i < n; i++) {
		struct store_sum *e;
		size_t k;

		count_at(b, i, &name, &node, &count);
		if (i > 0 && name == last) {
			proc_of[i] = proc_of[i - 1];
			continue;
		}
		e = store_sums__find(&known, (int64_t)(uintptr_t)name, 0);
		if (e) {
			k = (size_t)e->count;
		} else {
			struct store_tree_node f = { .kind = STORE_FRAME_PROCESS };

			k = n_procs++;
			if ((r = tree_intern(b->t, name, &f.name)) < 0 ||
			    (r = tree_add(b->t, &f, &procs[k])) < 0 ||
			    (r = store_sums__add(&known, (int64_t)(uintptr_t)name, 0,
						 k)) < 0)
				goto out;
		}
		proc_of[i] = (uint32_t)k;
		last = name;
	}
	/* Group by process, keeping the order within (a counting sort). */
	for (size_t i = 0; i < n; i++)
		first[proc_of[i] + 1]++;
	for (size_t k = 0; k < n_procs; k++)
		first[k + 1] += first[k];
	for (size_t i = 0; i < n; i++) {
		count_at(b, i, &name, &node, &count);
		grouped[first[proc_of[i]]++] = (struct leaf){ node, count };
	}
	/* first[k] is now where process k's run ends. */
	for (size_t k = 0, i = 0; k < n_procs; k++) {
		for (; i < first[k]; i++) {
			r = place_stack(b, procs[k], (uint32_t)k + 1,
					grouped[i].node, &at);
			if (r < 0)
				goto out;
			b->t->nodes[at].self += grouped[i].count;
		}
	}
	r = 0;
out:
	free(proc_of);
	free(procs);
	free(first);
	free(grouped);
	store_sums__free(&known);
	return r;
}

int store_db__query_tree(struct store_db *db, const struct store_query *q,
			 struct store_tree **ret_tree)
{
	struct store_tree_node root = { .name = "all" };
	struct tree_build b = { .db = db };
	uint32_t index;
	int r;

	if (!db || !ret_tree)
		return -EINVAL;
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return -ENOMEM;
	r = tree_add(b.t, &root, &index);
	if (r < 0)
		goto out;
	/* One read transaction: the caches and the blocks are one
	 * snapshot, so every node a block names is loaded. */
	r = store_db__read_begin(db);
	if (r < 0)
		goto out;
	b.by_node = calloc((size_t)db->cache.max_node + 1, sizeof(*b.by_node));
	b.touched = malloc(((size_t)db->cache.max_node + 1) * sizeof(*b.touched));
	if (!b.by_node || !b.touched)
		r = -ENOMEM;
	if (r == 0)
		r = store_db__scan(db, q, count_entry, &b);
	if (r == -EINVAL && !strstr(db->errmsg, "range"))
		r = store_db__fail_msg(db, -EINVAL, "corrupt sample block");
	if (r == 0)
		r = place_counts(&b);
	store_db__read_end(db);
	if (r < 0)
		goto out;
	/* Parents precede children, so one backward pass sums subtrees. */
	for (size_t i = 0; i < b.t->n; i++)
		b.t->nodes[i].total = b.t->nodes[i].self;
	for (size_t i = b.t->n - 1; i > 0; i--)
		b.t->nodes[b.t->nodes[i].parent].total += b.t->nodes[i].total;
	*ret_tree = b.t;
	b.t = NULL;
out:
	store_tree__free(b.t);
	free(b.path);
	free(b.placed);
	free(b.ident_node);
	free(b.by_node);
	free(b.touched);
	store_sums__free(&b.others);
	store_sums__free(&b.children);
	return r;
}

/* ---- top functions ---- */

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
