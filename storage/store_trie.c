/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_trie.c — the stack trie of schema 5, packed: the nodes (id, parent,
 * frame) are stored in chunks of up to STORE_TRIE_CHUNK consecutive ids,
 * one row of stack_chunks each, varint-coded in columns and deflated when
 * that is smaller (store_pack__seal). A stack is still the id of its leaf;
 * ids only grow between collections and parents have smaller ids.
 *
 * The writer (store_write.c) appends the nodes of a flush at commit, inside
 * the flush's transaction: the last chunk is decoded, filled up to
 * STORE_TRIE_CHUNK nodes and rewritten, further nodes start new chunks.
 * Readers (the read caches of store_block.c, the writer's index) load the
 * chunks whose last id is above what they hold. Retention (store_maintain.c)
 * repacks the trie with the nodes still in use.
 *
 * Why: as rows without index the trie took 2.3 MB of the benchmark's 10.5
 * MB day (155,000 nodes at ~15 bytes of B-tree each); packed it takes
 * about a fifth of that, since consecutive nodes are mostly one stack's
 * path (parent = id - 1) and a chunk holds its frames' ids close together.
 *
 * Chunk format (stack_chunks.data, after the encoding byte): varint n,
 * varint length of the id column, varint length of the parent column,
 * then three columns of n varints: id - previous id - 1 (the previous id
 * of the first node is the row's id - 1, so the first is 0); id - parent;
 * zigzag(frame - previous frame), the previous frame of the first node 0.
 * The row's id is its first node's id, last its last node's, n the count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int store_trie_nodes__push(struct store_trie_nodes *a, int64_t id,
			   int64_t parent, int64_t frame)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		struct store_trie_node *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct store_trie_node){ id, parent, frame };
	return 0;
}

void store_trie_nodes__free(struct store_trie_nodes *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* Whether a node may be stored: a frame, a parent below it (0 = root). */
static bool node_valid(const struct store_trie_node *n)
{
	return n->id > 0 && n->parent >= 0 && n->parent < n->id && n->frame > 0;
}

/* Pack v[0..n) (ascending ids, all valid) as one chunk. */
static int chunk_encode(const struct store_trie_node *v, size_t n,
			unsigned char **ret_data, size_t *ret_len)
{
	unsigned char *body = malloc(n * 30 + 32), *ids, *ups, *frames, *p;
	unsigned char *pi, *pu, *pf;
	int64_t prev = v[0].id - 1, prev_frame = 0;
	int r;

	if (!body)
		return -ENOMEM;
	/* Columns apart first, then joined after a header with their
	 * lengths. */
	ids = pi = body + 32;
	ups = pu = ids + n * 10;
	frames = pf = ups + n * 10;
	for (size_t i = 0; i < n; i++) {
		pi += store_varint__put(pi, (uint64_t)(v[i].id - prev - 1));
		pu += store_varint__put(pu, (uint64_t)(v[i].id - v[i].parent));
		pf += store_varint__put(pf, store_zigzag(v[i].frame - prev_frame));
		prev = v[i].id;
		prev_frame = v[i].frame;
	}
	p = body;
	p += store_varint__put(p, n);
	p += store_varint__put(p, (uint64_t)(pi - ids));
	p += store_varint__put(p, (uint64_t)(pu - ups));
	memmove(p, ids, (size_t)(pi - ids));
	p += pi - ids;
	memmove(p, ups, (size_t)(pu - ups));
	p += pu - ups;
	memmove(p, frames, (size_t)(pf - frames));
	p += pf - frames;
	r = store_pack__seal(body, (size_t)(p - body), ret_data, ret_len);
	free(body);
	return r;
}

/*
 * Decode the chunk of row (first, last, n, data) and call fn for its nodes
 * with ids above after. Returns 0, fn's error, -EINVAL, -ENOMEM.
 */
static int chunk_decode(struct store_block_reader *rd, int64_t first,
			int64_t last, int64_t n, const void *data, size_t len,
			int64_t after, store_trie_fn fn, void *ctx)
{
	const unsigned char *p, *end, *pi, *pu, *pf, *ids_end, *ups_end;
	uint64_t count, ids_len, ups_len, gap, up, zf;
	struct store_trie_node node = { .id = first - 1 };
	size_t body_len;
	int r;

	r = store_pack__open(rd, data, len, &p, &body_len);
	if (r < 0)
		return r;
	end = p + body_len;
	if (!store_varint__get(&p, end, &count) ||
	    !store_varint__get(&p, end, &ids_len) ||
	    !store_varint__get(&p, end, &ups_len) ||
	    ids_len > (uint64_t)(end - p) ||
	    ups_len > (uint64_t)(end - p) - ids_len ||
	    count == 0 || count > (uint64_t)(end - p) ||
	    n < 0 || count != (uint64_t)n || first <= 0)
		return -EINVAL;
	pi = p;
	ids_end = pu = p + ids_len;
	ups_end = pf = pu + ups_len;
	for (uint64_t i = 0; i < count; i++) {
		if (!store_varint__get(&pi, ids_end, &gap) ||
		    !store_varint__get(&pu, ups_end, &up) ||
		    !store_varint__get(&pf, end, &zf))
			return -EINVAL;
		if ((i == 0 && gap != 0) || gap >= (uint64_t)(last - node.id) ||
		    up > (uint64_t)INT64_MAX)
			return -EINVAL;
		node.id += (int64_t)gap + 1;
		node.parent = node.id - (int64_t)up;
		node.frame = (int64_t)((uint64_t)node.frame +
				       (uint64_t)store_unzigzag(zf));
		if (!node_valid(&node))
			return -EINVAL;
		if (node.id > after) {
			r = fn(ctx, &node);
			if (r < 0)
				return r;
		}
	}
	/* The row's last id is the last node's; every column read to its
	 * end. */
	if (node.id != last || pi != ids_end || pu != ups_end || pf != end)
		return -EINVAL;
	return 0;
}

static int corrupt(struct store_db *db, int r)
{
	return r == -EINVAL ? store_db__fail_msg(db, r, "corrupt stack trie") : r;
}

int store_trie__load(struct store_db *db, int64_t after, store_trie_fn fn,
		     void *ctx)
{
	struct store_block_reader rd = { 0 };
	sqlite3_stmt *st;
	int64_t prev_last = 0;
	int r, rc;

	r = store_db__stmt(db, STMT_CHUNK_LOAD, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t first = sqlite3_column_int64(st, 0);

		/* Chunks do not overlap: ids stay ascending across them. */
		if (first <= prev_last) {
			r = -EINVAL;
			break;
		}
		prev_last = sqlite3_column_int64(st, 1);
		r = chunk_decode(&rd, first, prev_last,
				 sqlite3_column_int64(st, 2),
				 sqlite3_column_blob(st, 3),
				 (size_t)sqlite3_column_bytes(st, 3), after, fn, ctx);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db__fail(db, rc);
	sqlite3_reset(st);
	store_block_reader__free(&rd);
	return corrupt(db, r);
}

/* Write v[0..n) as the chunk that starts at v[0].id (replacing it). */
static int chunk_put(struct store_db *db, const struct store_trie_node *v,
		     size_t n)
{
	unsigned char *data;
	sqlite3_stmt *st;
	size_t len;
	int r, rc;

	r = chunk_encode(v, n, &data, &len);
	if (r < 0)
		return r;
	r = store_db__stmt(db, STMT_CHUNK_PUT, &st);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, v[0].id);
		sqlite3_bind_int64(st, 2, v[n - 1].id);
		sqlite3_bind_int64(st, 3, (int64_t)n);
		sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			r = store_db__fail(db, rc);
	}
	free(data);
	return r;
}

/* Write v[0..n) (checked: valid, ascending above after) in chunks of
 * STORE_TRIE_CHUNK, after the nodes already in tail (which it fills up). */
static int put_after(struct store_db *db, struct store_trie_nodes *tail,
		     int64_t after, const struct store_trie_node *v, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!node_valid(&v[i]) || v[i].id <= after)
			return store_db__fail_msg(db, -EINVAL, "stack nodes "
						  "out of order");
		after = v[i].id;
	}
	for (size_t i = 0; i < n;) {
		while (tail->n < STORE_TRIE_CHUNK && i < n) {
			r = store_trie_nodes__push(tail, v[i].id, v[i].parent,
						   v[i].frame);
			if (r < 0)
				return r;
			i++;
		}
		r = chunk_put(db, tail->v, tail->n);
		if (r < 0)
			return r;
		tail->n = 0;
	}
	return 0;
}

static int push_node(void *ctx, const struct store_trie_node *n)
{
	return store_trie_nodes__push(ctx, n->id, n->parent, n->frame);
}

int store_trie__append(struct store_db *db, const struct store_trie_node *v,
		       size_t n)
{
	struct store_trie_nodes tail = { 0 };
	struct store_block_reader rd = { 0 };
	int64_t last = 0;
	sqlite3_stmt *st;
	int r, rc;

	if (n == 0)
		return 0;
	r = store_db__stmt(db, STMT_CHUNK_LAST, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 1);
		/* Not full: its nodes go first into the rewritten chunk. */
		if (sqlite3_column_int64(st, 2) < STORE_TRIE_CHUNK)
			r = chunk_decode(&rd, sqlite3_column_int64(st, 0), last,
					 sqlite3_column_int64(st, 2),
					 sqlite3_column_blob(st, 3),
					 (size_t)sqlite3_column_bytes(st, 3), 0,
					 push_node, &tail);
	} else if (rc != SQLITE_DONE) {
		r = store_db__fail(db, rc);
	}
	sqlite3_reset(st);
	store_block_reader__free(&rd);
	r = corrupt(db, r);
	if (r == 0)
		r = put_after(db, &tail, last, v, n);
	store_trie_nodes__free(&tail);
	return r;
}

int store_trie__replace(struct store_db *db, const struct store_trie_node *v,
			size_t n)
{
	struct store_trie_nodes tail = { 0 };
	int r;

	r = store_db__exec(db, "DELETE FROM stack_chunks");
	if (r == 0)
		r = put_after(db, &tail, 0, v, n);
	store_trie_nodes__free(&tail);
	return r;
}
