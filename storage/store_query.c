/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_query.c — layer 4 of the storage module (storage/DESIGN.md): the
 * summary of a range and its merged call tree, for `ember report`,
 * `ember diff` and the web server. What is computed over a tree once it
 * is built (functions, merging) is store_tree.c's.
 *
 * A tree is built in three steps: the sample blocks in the range are
 * summed per (process name, stack node); the sums are grouped by process;
 * each stack is walked from its leaf up to the first node already placed
 * for its process (an array by stack node, stamped per process), and the
 * nodes below are placed, identical frames under one parent merging.
 * Texts are the read cache's interned ones (equal texts are equal
 * pointers), kept alive by the tree's reference to them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ops.h"
#include "store_tree.h"

void store_query_init(struct store_query *q)
{
	q->from_s = INT64_MIN;
	q->to_s = INT64_MAX;
	q->filter = NULL;
	q->max_tree_nodes = 0;
}

static const struct store_query everything = { .from_s = INT64_MIN, .to_s = INT64_MAX };

/* Prepare sql and bind ?1, ?2 to the range of q. */
static int prepare_range(struct store_sqlite *db, const char *sql,
			 const struct store_query *q, sqlite3_stmt **ret_st)
{
	sqlite3_stmt *st;
	int rc;

	if (!q)
		q = &everything;
	if (q->from_s > q->to_s)
		return store_sql__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, q->from_s);
	sqlite3_bind_int64(st, 2, q->to_s);
	*ret_st = st;
	return 0;
}

void store_summary__free(struct store_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_drops; i++)
		free((char *)s->drops[i].reason);
	free(s->drops);
	for (size_t i = 0; i < s->n_events; i++)
		free((char *)s->events[i].reason);
	free(s->events);
	free(s);
}

/* Counts by name over the range from sql (?1, ?2: the range), into
 * *list (drops or events). */
static int summary_counts(struct store_sqlite *db, const struct store_query *q,
			  const char *sql, struct store_drop **list, size_t *n)
{
	sqlite3_stmt *st;
	struct store_drop *grown;
	char *reason;
	int r, rc;

	r = prepare_range(db, sql, q, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		grown = realloc(*list, (*n + 1) * sizeof(*grown));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		*list = grown;
		reason = strdup((const char *)sqlite3_column_text(st, 0));
		if (!reason) {
			r = -ENOMEM;
			goto out;
		}
		grown[*n].reason = reason;
		grown[*n].count = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
out:
	sqlite3_finalize(st);
	return r;
}

struct summary_acc {
	const struct store_read_cache *c;
	uint64_t samples;
	struct store_sums pids, nodes;
};

static int summary_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
			 uint64_t count)
{
	struct summary_acc *a = ctx;
	const struct store_read_cache *c = a->c;
	int r;

	if (set < 0 || set > c->max_set)
		return -EINVAL;
	a->samples += count;
	r = store_sums__add(&a->pids, c->set_pid[set], 0, count);
	if (r == 0)
		r = store_sums__add(&a->nodes, node, 0, count);
	return r;
}

int store_sqlite__summary(struct store_db *handle, const struct store_query *q,
		      struct store_summary **ret_summary)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct summary_acc acc = { 0 };
	struct store_read_cache *cache;
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
	r = store_cache__read_begin(db, &cache);
	if (r < 0)
		goto out;
	reading = true;
	acc.c = cache;
	r = store_cache__scan(db, cache, q, summary_entry, &acc);
	if (r == -EINVAL && !strstr(db->base.errmsg, "range"))
		r = store_sql__fail_msg(db, -EINVAL, "corrupt sample block");
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	/* NULL (empty range) reads as 0, as documented. */
	s->samples = acc.samples;
	s->processes = acc.pids.n;
	s->stacks = acc.nodes.n;
	s->first_s = sqlite3_column_int64(st, 0);
	s->last_s = sqlite3_column_int64(st, 1);
	r = summary_counts(db, q, "SELECT s.text, sum(d.count) FROM drops d "
			   "JOIN strings s ON s.id = d.reason "
			   "WHERE d.time_s >= ?1 AND d.time_s < ?2 "
			   "GROUP BY d.reason ORDER BY s.text", &s->drops, &s->n_drops);
	if (r < 0)
		goto out;
	r = summary_counts(db, q, "SELECT s.text, sum(e.count) FROM events e "
			   "JOIN strings s ON s.id = e.name "
			   "WHERE e.time_s >= ?1 AND e.time_s < ?2 "
			   "GROUP BY e.name ORDER BY s.text", &s->events, &s->n_events);
	if (r < 0)
		goto out;
	*ret_summary = s;
	s = NULL;
out:
	if (reading)
		store_cache__read_end(db);
	sqlite3_finalize(st);
	store_sums__free(&acc.pids);
	store_sums__free(&acc.nodes);
	store_summary__free(s);
	return r;
}

/*
 * What a tree query leaves on its handle for the next one: an array by
 * stack node, sized to the read cache, the children table and the work
 * lists. Allocated afresh at every query, their megabytes of zeroed pages
 * cost a third of a last-hour query in page faults; kept, they are put
 * back at rest when a query ends: counts zero (the touched nodes are
 * reset), the children table empty, placements marked with stamps that
 * no later query repeats.
 */
struct store_tree_scratch {
	struct at_node {
		const char *process; /* first process counted here; NULL none */
		uint64_t count;
		uint32_t stamp, at;  /* tree node placed at, for process stamp */
	} *nodes;
	size_t node_cap;
	uint32_t stamp;        /* the last used */
	uint32_t *touched;     /* nodes counted, in the order first seen */
	size_t touched_cap, n_touched;
	struct store_sums others;   /* (process name, stack node) -> count */
	/* (parent, frame identity) -> tree node, open addressing with the
	 * keys in the slots: one cache line a lookup, where the placement
	 * spends its time. Identity 0 marks an empty slot. Not a common_map:
	 * on one, tree queries took 1.5-1.9x the CPU (DESIGN.md, Hash
	 * tables). */
	struct child_slot {
		uint32_t parent, ident, index;
	} *children;
	size_t children_cap, n_children; /* cap: 0 or a power of two */
	int64_t *path;              /* stack nodes, leaf first */
	size_t path_cap;
	/* By count: its process's number; by process: its tree node and the
	 * end of its run in grouped, the counts grouped by process. */
	uint32_t *proc_of, *procs, *first;
	struct leaf {
		int64_t node;
		uint64_t count;
	} *grouped;
	size_t proc_of_cap, procs_cap, first_cap, grouped_cap;
};

/* What a handle keeps between tree queries at most: the last hour of a
 * busy day's file (150,000 stack nodes, 60,000 tree nodes) takes 7.8 MB
 * and is kept; the whole day's (12 MB) is freed after its query (where
 * page faults are a twentieth of the time), so each of the web server's
 * handles (one a thread) holds at most this much. */
#define SCRATCH_KEEP (8u << 20)

static void scratch_free(struct store_tree_scratch *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s->touched);
	store_sums__free(&s->others);
	free(s->children);
	free(s->path);
	free(s->proc_of);
	free(s->procs);
	free(s->first);
	free(s->grouped);
	free(s);
}

static size_t scratch_bytes(const struct store_tree_scratch *s)
{
	return s->node_cap * sizeof(*s->nodes) +
	       s->touched_cap * sizeof(*s->touched) +
	       store_sums__bytes(&s->others) +
	       s->children_cap * sizeof(*s->children) +
	       s->path_cap * sizeof(*s->path) +
	       s->proc_of_cap * sizeof(*s->proc_of) +
	       s->procs_cap * sizeof(*s->procs) +
	       s->first_cap * sizeof(*s->first) +
	       s->grouped_cap * sizeof(*s->grouped);
}

/* The handle's scratch, with an entry for every cached stack node: grown
 * to the cache and an eighth more (not doubled: it is kept). */
static int scratch_for(struct store_sqlite *db, const struct store_read_cache *c,
		       struct store_tree_scratch **ret)
{
	struct store_tree_scratch *s = db->tree_scratch;
	size_t need = (size_t)c->max_node + 1;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		db->tree_scratch = s;
	}
	if (need > s->node_cap) {
		size_t cap = need + need / 8;
		struct at_node *p = realloc(s->nodes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + s->node_cap, 0, (cap - s->node_cap) * sizeof(*p));
		s->nodes = p;
		s->node_cap = cap;
	}
	*ret = s;
	return 0;
}

/* Put the handle's scratch back at rest (also after a failed query), or
 * free it when it is over SCRATCH_KEEP. */
static void scratch_rest(struct store_sqlite *db)
{
	struct store_tree_scratch *s = db->tree_scratch;

	if (scratch_bytes(s) > SCRATCH_KEEP) {
		scratch_free(s);
		db->tree_scratch = NULL;
		return;
	}
	for (size_t i = 0; i < s->n_touched; i++) {
		s->nodes[s->touched[i]].process = NULL;
		s->nodes[s->touched[i]].count = 0;
	}
	s->n_touched = 0;
	if (s->n_children > 0)
		memset(s->children, 0, s->children_cap * sizeof(*s->children));
	s->n_children = 0;
	store_sums__clear(&s->others);
}

/* The slot of (parent, ident) in the children table: where it is, or the
 * empty slot where it would go. */
static struct child_slot *child_slot(const struct store_tree_scratch *s,
				     uint32_t parent, uint32_t ident)
{
	uint64_t key = (uint64_t)parent << 32 | ident;
	size_t mask = s->children_cap - 1;
	size_t j = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;

	while (s->children[j].ident != 0 &&
	       (s->children[j].ident != ident || s->children[j].parent != parent))
		j = (j + 1) & mask;
	return &s->children[j];
}

/* Room for one more child: the table at most half full. */
static int children_reserve(struct store_tree_scratch *s)
{
	struct child_slot *old = s->children;
	size_t old_cap = s->children_cap, cap;

	if (s->n_children + 1 <= s->children_cap / 2)
		return 0;
	cap = old_cap ? old_cap * 2 : 4096;
	s->children = calloc(cap, sizeof(*s->children));
	if (!s->children) {
		s->children = old;
		return -ENOMEM;
	}
	s->children_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].ident != 0)
			*child_slot(s, old[i].parent, old[i].ident) = old[i];
	free(old);
	return 0;
}

struct tree_build {
	struct store_sqlite *db;
	const struct store_read_cache *c;
	struct store_tree *t;
	struct store_tree_scratch *s;
};

/* Sum the range's counts by (process name, stack node): by stack node
 * for the first process seen with it, in others for further ones. */
static int count_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
		       uint64_t count)
{
	struct tree_build *b = ctx;
	const struct store_read_cache *c = b->c;
	struct store_tree_scratch *s = b->s;
	struct at_node *at;
	const char *process;

	if (set < 0 || set > c->max_set || node < 0 || node > c->max_node)
		return -EINVAL;
	/* Process names are interned: the pointer identifies the name. */
	process = c->set_process[set] ? c->set_process[set] : "[unknown]";
	at = &s->nodes[node];
	if (at->process == process) {
		at->count += count;
		return 0;
	}
	if (!at->process) {
		/* Listed first, so the rest after a failure resets it. */
		if (s->n_touched == s->touched_cap) {
			int r = store_fit((void **)&s->touched, &s->touched_cap,
					  sizeof(*s->touched),
					  (int64_t)s->n_touched);

			if (r < 0)
				return r;
		}
		s->touched[s->n_touched++] = (uint32_t)node;
		at->process = process;
		at->count = count;
		return 0;
	}
	return store_sums__add(&s->others, (int64_t)(uintptr_t)process, node,
			       count);
}

/* The child of parent for cached frame id, added when missing. */
static int child_of(struct tree_build *b, uint32_t parent, int64_t frame,
		    uint32_t *ret_index)
{
	const struct store_read_cache *c = b->c;
	struct store_tree_scratch *s = b->s;
	int64_t ident = c->frame_ident[frame];
	struct child_slot *slot;
	struct store_tree_node node;
	int r;

	/* Identity 0: a frame whose function is gone. */
	if (ident <= 0 || ident > UINT32_MAX)
		return store_sql__fail_msg(b->db, -EINVAL, "corrupt stack trie");
	if ((r = children_reserve(s)) < 0)
		return r;
	slot = child_slot(s, parent, (uint32_t)ident);
	if (slot->ident != 0) {
		*ret_index = slot->index;
		return 0;
	}
	node = c->frames[frame];
	node.parent = parent;
	node.self = node.total = 0;
	r = store_tree__add(b->t, &node, ret_index);
	if (r < 0)
		return r;
	*slot = (struct child_slot){ parent, (uint32_t)ident, *ret_index };
	s->n_children++;
	return 0;
}

/* The tree node of stack node `node` under process node proc, whose
 * placements carry stamp. */
static int place_stack(struct tree_build *b, uint32_t proc, uint32_t stamp,
		       int64_t node, uint32_t *ret_index)
{
	const struct store_read_cache *c = b->c;
	struct store_tree_scratch *s = b->s;
	size_t depth = 0;
	uint32_t at = proc;
	int r;

	/* Walk up to the root or the first node placed already. */
	while (node != 0) {
		const struct store_cached_node *cn;

		/* More steps than nodes means a cycle: a corrupt file. */
		if (node < 0 || node > c->max_node || depth > (size_t)c->max_node)
			return store_sql__fail_msg(b->db, -EINVAL,
						  "corrupt stack trie");
		if (s->nodes[node].stamp == stamp) {
			at = s->nodes[node].at;
			break;
		}
		cn = &c->nodes[node];
		if (cn->frame == 0 || cn->frame > c->max_frame)
			return store_sql__fail_msg(b->db, -EINVAL,
						  "corrupt stack trie");
		if ((r = store_fit((void **)&s->path, &s->path_cap,
				   sizeof(*s->path), (int64_t)depth)) < 0)
			return r;
		s->path[depth++] = node;
		node = cn->parent;
	}
	while (depth > 0) {
		int64_t id = s->path[--depth];

		r = child_of(b, at, c->nodes[id].frame, &at);
		if (r < 0)
			return r;
		s->nodes[id].stamp = stamp;
		s->nodes[id].at = at;
	}
	*ret_index = at;
	return 0;
}

/* The i-th count of the range: (process name, stack node, count). */
static void count_at(const struct store_tree_scratch *s, size_t i,
		     const char **ret_process, int64_t *ret_node,
		     uint64_t *ret_count)
{
	if (i < s->n_touched) {
		const struct at_node *at = &s->nodes[s->touched[i]];

		*ret_process = at->process;
		*ret_node = s->touched[i];
		*ret_count = at->count;
	} else {
		const struct store_sum *e = &s->others.v[i - s->n_touched];

		*ret_process = (const char *)(uintptr_t)e->a;
		*ret_node = e->b;
		*ret_count = e->count;
	}
}

/* Place every counted stack, one process at a time (in the order the
 * processes were first seen), and add the counts to the leaves' selves. */
static int place_counts(struct tree_build *b)
{
	struct store_tree_scratch *s = b->s;
	size_t n = s->n_touched + s->others.n, n_procs = 0;
	struct store_sums known = { 0 }; /* (name, 0) -> its number */
	const char *last = NULL, *name;
	int64_t node;
	uint64_t count;
	uint32_t at = 0;
	int r;

	if ((r = store_fit((void **)&s->proc_of, &s->proc_of_cap,
			   sizeof(*s->proc_of), (int64_t)n)) < 0 ||
	    (r = store_fit((void **)&s->procs, &s->procs_cap,
			   sizeof(*s->procs), (int64_t)n)) < 0 ||
	    (r = store_fit((void **)&s->first, &s->first_cap,
			   sizeof(*s->first), (int64_t)n + 1)) < 0 ||
	    (r = store_fit((void **)&s->grouped, &s->grouped_cap,
			   sizeof(*s->grouped), (int64_t)n)) < 0)
		return r;
	/* The process node of each count, numbered by first appearance. */
	for (size_t i = 0; i < n; i++) {
		struct store_sum *e;
		size_t k;

		count_at(s, i, &name, &node, &count);
		if (i > 0 && name == last) {
			s->proc_of[i] = s->proc_of[i - 1];
			continue;
		}
		e = store_sums__find(&known, (int64_t)(uintptr_t)name, 0);
		if (e) {
			k = (size_t)e->count;
		} else {
			struct store_tree_node f = { .name = name,
						     .kind = STORE_FRAME_PROCESS };

			k = n_procs++;
			if ((r = store_tree__add(b->t, &f, &s->procs[k])) < 0 ||
			    (r = store_sums__add(&known, (int64_t)(uintptr_t)name, 0,
						 k)) < 0)
				goto out;
		}
		s->proc_of[i] = (uint32_t)k;
		last = name;
	}
	/* Group by process, keeping the order within (a counting sort). */
	memset(s->first, 0, (n_procs + 1) * sizeof(*s->first));
	for (size_t i = 0; i < n; i++)
		s->first[s->proc_of[i] + 1]++;
	for (size_t k = 0; k < n_procs; k++)
		s->first[k + 1] += s->first[k];
	for (size_t i = 0; i < n; i++) {
		count_at(s, i, &name, &node, &count);
		s->grouped[s->first[s->proc_of[i]]++] = (struct leaf){ node, count };
	}
	/* Each process places with a stamp of its own; when the stamps run
	 * out, every old placement is forgotten. */
	if (s->stamp > UINT32_MAX - n_procs - 1) {
		for (size_t i = 0; i < s->node_cap; i++)
			s->nodes[i].stamp = 0;
		s->stamp = 0;
	}
	/* first[k] is now where process k's run ends. */
	for (size_t k = 0, i = 0; k < n_procs; k++) {
		uint32_t stamp = ++s->stamp;

		for (; i < s->first[k]; i++) {
			r = place_stack(b, s->procs[k], stamp, s->grouped[i].node,
					&at);
			if (r < 0)
				goto out;
			b->t->nodes[at].self += s->grouped[i].count;
		}
	}
	r = 0;
out:
	store_sums__free(&known);
	return r;
}

int store_sqlite__query_tree(struct store_db *handle, const struct store_query *q,
			 struct store_tree **ret_tree)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_tree_node root = { .name = "all" };
	struct tree_build b = { .db = db };
	struct store_read_cache *cache;
	uint32_t index;
	int r;

	if (!db || !ret_tree)
		return -EINVAL;
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return -ENOMEM;
	b.t->max = q ? q->max_tree_nodes : 0;
	r = store_tree__add(b.t, &root, &index);
	if (r < 0)
		goto out;
	/* One read transaction: the caches and the blocks are one
	 * snapshot, so every node a block names is loaded. */
	r = store_cache__read_begin(db, &cache);
	if (r < 0)
		goto out;
	b.c = cache;
	b.t->texts = store_map__arena(&cache->strings);
	r = scratch_for(db, cache, &b.s);
	if (r == 0)
		r = store_cache__scan(db, cache, q, count_entry, &b);
	if (r == -EINVAL && !strstr(db->base.errmsg, "range"))
		r = store_sql__fail_msg(db, -EINVAL, "corrupt sample block");
	if (r == 0)
		r = place_counts(&b);
	if (r == -E2BIG) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the tree has more than %zu nodes", b.t->max);
		r = store_sql__fail_msg(db, -E2BIG, msg);
	}
	if (b.s)
		scratch_rest(db);
	store_cache__read_end(db);
	if (r < 0)
		goto out;
	/* Parents precede children, so one backward pass sums subtrees:
	 * a node's children have added to its total when it is reached. */
	for (size_t i = b.t->n - 1; i > 0; i--) {
		struct store_tree_node *n = &b.t->nodes[i];

		n->total += n->self;
		b.t->nodes[n->parent].total += n->total;
	}
	b.t->nodes[0].total += b.t->nodes[0].self;
	*ret_tree = b.t;
	b.t = NULL;
out:
	store_tree__free(b.t);
	return r;
}

size_t store_query__bytes(const struct store_sqlite *db)
{
	return db->tree_scratch ? sizeof(*db->tree_scratch) + scratch_bytes(db->tree_scratch) : 0;
}

void store_query__close(struct store_sqlite *db)
{
	scratch_free(db->tree_scratch);
	db->tree_scratch = NULL;
}
