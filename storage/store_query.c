/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_query.c — the read side of the storage module: summaries, merged
 * call trees and top-function tables over a time range, for `ember report`
 * now and the web server and `ember diff` later.
 *
 * A tree is built in three steps: SQL sums the counts per (process, stack
 * node) in the range; one recursive query loads every stack node those
 * stacks pass through with its frame's texts; C then walks each stack from
 * its leaf up to the first node already placed and merges identical frames
 * under the same parent. Strings are interned in the tree, so equal texts
 * are equal pointers.
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

/* The samples (alias s) whose label set passes the filter bound as ?3. */
#define LABEL_CLAUSE                                                        \
	"s.label_set IN (SELECT l.id FROM label_sets l "                    \
	"LEFT JOIN strings h ON h.id = l.host "                             \
	"LEFT JOIN strings p ON p.id = l.process "                          \
	"LEFT JOIN strings t ON t.id = l.thread "                           \
	"LEFT JOIN strings e ON e.id = l.extra "                            \
	"WHERE ember_labels_match(?3, h.text, p.text, l.pid, t.text, "      \
	"l.tid, l.cgroup_id, e.text))"

int store_query__prepare(struct store_db *db, const char *sql_fmt,
			 const struct store_query *q, sqlite3_stmt **ret_st)
{
	const char *clause;
	sqlite3_stmt *st;
	char *sql;
	int rc;

	if (!q)
		q = &everything;
	if (q->from_s > q->to_s)
		return store_db__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	clause = q->filter ? LABEL_CLAUSE : "1";
	/* Every %s in sql_fmt is the filter clause. */
	if (asprintf(&sql, sql_fmt, clause, clause, clause, clause) < 0)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return store_db__fail(db, rc);
	sqlite3_bind_int64(st, 1, q->from_s);
	sqlite3_bind_int64(st, 2, q->to_s);
	if (q->filter)
		sqlite3_bind_pointer(st, 3, (void *)q->filter,
				     STORE_FILTER_POINTER, NULL);
	*ret_st = st;
	return 0;
}

/* Prepare sql (no filter placeholders) and bind ?1, ?2 to the range. */
static int prepare_range(struct store_db *db, const char *sql,
			 const struct store_query *q, sqlite3_stmt **ret_st)
{
	return store_query__prepare(db, sql, q, ret_st);
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

int store_db__summary(struct store_db *db, const struct store_query *q,
		      struct store_summary **ret_summary)
{
	struct store_summary *s;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (!db || !ret_summary)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = prepare_range(db,
			  "SELECT (SELECT sum(count) FROM samples s "
			  "        WHERE time_s >= ?1 AND time_s < ?2 AND %s),"
			  " (SELECT count(DISTINCT l.pid) FROM samples s "
			  "  JOIN label_sets l ON l.id = s.label_set "
			  "  WHERE s.time_s >= ?1 AND s.time_s < ?2 AND %s),"
			  " (SELECT count(DISTINCT node) FROM samples s "
			  "  WHERE time_s >= ?1 AND time_s < ?2 AND %s),"
			  " (SELECT min(time_s) FROM flushes "
			  "  WHERE time_s >= ?1 AND time_s < ?2),"
			  " (SELECT max(time_s) FROM flushes "
			  "  WHERE time_s >= ?1 AND time_s < ?2)", q, &st);
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_db__fail(db, rc);
		goto out;
	}
	/* NULL (empty range) reads as 0, as documented. */
	s->samples = (uint64_t)sqlite3_column_int64(st, 0);
	s->processes = (uint64_t)sqlite3_column_int64(st, 1);
	s->stacks = (uint64_t)sqlite3_column_int64(st, 2);
	s->first_s = sqlite3_column_int64(st, 3);
	s->last_s = sqlite3_column_int64(st, 4);
	r = summary_drops(db, q, s);
	if (r < 0)
		goto out;
	*ret_summary = s;
	s = NULL;
out:
	sqlite3_finalize(st);
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

/* A stack node as loaded from the file, frame texts interned. */
struct raw_node {
	int64_t id, parent;
	struct store_tree_node frame; /* parent/self/total unused */
};

struct tree_build {
	struct store_db *db;
	struct store_tree *t;
	struct raw_node *raw;
	size_t n_raw;
	struct store_map raw_index;  /* stack node id -> raw index */
	struct store_map children;   /* (parent, frame identity) -> node */
	struct store_map placed;     /* (process node, stack node) -> node */
	struct store_map processes;  /* process string id -> node */
	size_t *path;                /* scratch: raw indices, leaf first */
};

static int load_raw_nodes(struct tree_build *b, const struct store_query *q)
{
	sqlite3_stmt *st;
	struct raw_node *grown, *rn;
	size_t cap = 0;
	int r, rc;

	r = prepare_range(b->db,
			  "WITH RECURSIVE need (id) AS ("
			  "  SELECT DISTINCT node FROM samples s "
			  "  WHERE time_s >= ?1 AND time_s < ?2 AND node != 0 "
			  "  AND %s"
			  "  UNION "
			  "  SELECT n.parent FROM stack_nodes n "
			  "  JOIN need ON n.id = need.id WHERE n.parent != 0) "
			  "SELECT n.id, n.parent, f.line, f.kind, "
			  "       sn.text, sm.text, sf.text "
			  "FROM need JOIN stack_nodes n ON n.id = need.id "
			  "JOIN frames f ON f.id = n.frame "
			  "JOIN functions fn ON fn.id = f.function "
			  "LEFT JOIN strings sn ON sn.id = fn.name "
			  "LEFT JOIN strings sm ON sm.id = fn.module "
			  "LEFT JOIN strings sf ON sf.id = fn.file", q, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (b->n_raw == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(b->raw, cap * sizeof(*grown));
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			b->raw = grown;
		}
		rn = &b->raw[b->n_raw];
		memset(rn, 0, sizeof(*rn));
		rn->id = sqlite3_column_int64(st, 0);
		rn->parent = sqlite3_column_int64(st, 1);
		rn->frame.line = (uint32_t)sqlite3_column_int64(st, 2);
		rn->frame.kind = (enum store_frame_kind)sqlite3_column_int(st, 3);
		if ((r = tree_intern(b->t, (const char *)sqlite3_column_text(st, 4),
				     &rn->frame.name)) < 0 ||
		    (r = tree_intern(b->t, (const char *)sqlite3_column_text(st, 5),
				     &rn->frame.module)) < 0 ||
		    (r = tree_intern(b->t, (const char *)sqlite3_column_text(st, 6),
				     &rn->frame.file)) < 0)
			goto out;
		if (!rn->frame.name)
			rn->frame.name = "[unknown]";
		r = store_map__put(&b->raw_index, &rn->id, sizeof(rn->id),
				   (int64_t)b->n_raw, NULL);
		if (r < 0)
			goto out;
		b->n_raw++;
	}
	if (rc != SQLITE_DONE)
		r = store_db__fail(b->db, rc);
	else
		b->path = malloc((b->n_raw + 1) * sizeof(*b->path));
	if (r == 0 && !b->path)
		r = -ENOMEM;
out:
	sqlite3_finalize(st);
	return r;
}

/* The child of parent for frame f, added when missing. */
static int child_of(struct tree_build *b, uint32_t parent,
		    const struct store_tree_node *f, uint32_t *ret_index)
{
	uint64_t key[6] = {
		parent, (uintptr_t)f->name, (uintptr_t)f->module,
		(uintptr_t)f->file, f->line, (uint64_t)f->kind,
	};
	struct store_tree_node node = *f;
	uint32_t index;
	int64_t found;
	int r;

	if (store_map__get(&b->children, key, sizeof(key), &found)) {
		*ret_index = (uint32_t)found;
		return 0;
	}
	node.parent = parent;
	node.self = node.total = 0;
	r = tree_add(b->t, &node, &index);
	if (r < 0)
		return r;
	r = store_map__put(&b->children, key, sizeof(key), index, NULL);
	if (r < 0)
		return r;
	*ret_index = index;
	return 0;
}

static int process_node(struct tree_build *b, int64_t process_id,
			const char *name, uint32_t *ret_index)
{
	struct store_tree_node f = { .kind = STORE_FRAME_PROCESS };
	int64_t found;
	uint32_t index;
	int r;

	if (store_map__get(&b->processes, &process_id, sizeof(process_id),
			   &found)) {
		*ret_index = (uint32_t)found;
		return 0;
	}
	r = tree_intern(b->t, name ? name : "[unknown]", &f.name);
	if (r < 0)
		return r;
	r = child_of(b, 0, &f, &index);
	if (r < 0)
		return r;
	r = store_map__put(&b->processes, &process_id, sizeof(process_id),
			   index, NULL);
	if (r < 0)
		return r;
	*ret_index = index;
	return 0;
}

/* The tree node of stack node `node` under process node proc. */
static int place_stack(struct tree_build *b, uint32_t proc, int64_t node,
		       uint32_t *ret_index)
{
	int64_t key[2] = { proc, node }, found, raw;
	size_t depth = 0;
	uint32_t at = proc;
	int r;

	/* Walk up to the root or the first node placed already. */
	while (node != 0) {
		key[1] = node;
		if (store_map__get(&b->placed, key, sizeof(key), &found)) {
			at = (uint32_t)found;
			break;
		}
		/* More steps than nodes means a cycle: a corrupt file. */
		if (!store_map__get(&b->raw_index, &node, sizeof(node), &raw) ||
		    depth > b->n_raw)
			return store_db__fail_msg(b->db, -EINVAL,
						  "corrupt stack trie");
		b->path[depth++] = (size_t)raw;
		node = b->raw[raw].parent;
	}
	while (depth > 0) {
		const struct raw_node *rn = &b->raw[b->path[--depth]];

		r = child_of(b, at, &rn->frame, &at);
		if (r < 0)
			return r;
		key[1] = rn->id;
		r = store_map__put(&b->placed, key, sizeof(key), at, NULL);
		if (r < 0)
			return r;
	}
	*ret_index = at;
	return 0;
}

static int merge_counts(struct tree_build *b, const struct store_query *q)
{
	sqlite3_stmt *st;
	uint32_t proc, at = 0;
	int r, rc;

	r = prepare_range(b->db,
			  "SELECT l.process, p.text, s.node, sum(s.count) "
			  "FROM samples s JOIN label_sets l ON l.id = s.label_set "
			  "LEFT JOIN strings p ON p.id = l.process "
			  "WHERE s.time_s >= ?1 AND s.time_s < ?2 AND %s "
			  "GROUP BY l.process, s.node "
			  "ORDER BY l.process, s.node", q, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = process_node(b, sqlite3_column_int64(st, 0),
				 (const char *)sqlite3_column_text(st, 1), &proc);
		if (r < 0)
			goto out;
		r = place_stack(b, proc, sqlite3_column_int64(st, 2), &at);
		if (r < 0)
			goto out;
		b->t->nodes[at].self += (uint64_t)sqlite3_column_int64(st, 3);
	}
	if (rc != SQLITE_DONE)
		r = store_db__fail(b->db, rc);
out:
	sqlite3_finalize(st);
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
	/* Both queries in one read transaction: a writer committing in
	 * between must not add counts for nodes that were not loaded. */
	r = store_db__exec(db, db->in_flush ? "SAVEPOINT tree" : "BEGIN");
	if (r < 0)
		goto out;
	r = load_raw_nodes(&b, q);
	if (r == 0)
		r = merge_counts(&b, q);
	sqlite3_exec(db->sql, db->in_flush ? "RELEASE tree" : "COMMIT",
		     NULL, NULL, NULL);
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
	free(b.raw);
	free(b.path);
	store_map__free(&b.raw_index);
	store_map__free(&b.children);
	store_map__free(&b.placed);
	store_map__free(&b.processes);
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
