/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_block.c — the packed sample storage (schema 4 on) and the read
 * caches built on it. One row of sample_blocks holds a whole time bucket:
 * every (label set, stack, count) of it, sorted, delta- and varint-coded
 * in columns and deflated when that is smaller, so a day of 10 s flushes is
 * 8640 rows of ~700 bytes instead of millions of rows. The writer collects
 * a flush in memory (store_sums) and writes one block at commit; readers
 * scan blocks in a range and resolve stacks through per-handle caches of
 * stack nodes, frames and label sets, loaded incrementally (ids only grow)
 * and dropped when retention has collected rows.
 *
 * Block format: one byte of encoding, then
 *   STORE_BLOCK_PLAIN:   body
 *   STORE_BLOCK_DEFLATE: varint body length, raw deflate (RFC 1951) of body
 * body: varint n, varint length of the node column, varint length of the
 * set column, then three columns of n varints each, entries sorted by
 * (node, label set): node - previous node; zigzag(label set - previous
 * label set); count. Sorting by node puts a stack's threads together and
 * keeps node deltas small; columns keep alike bytes together for deflate
 * (together -39% against schema 3's per-label-set rows in the benchmark).
 *
 * Schema 3 blocks (store_block__decode_v3, read by the migration only) were
 * per label set in ascending id: varint label-set delta, varint byte
 * length, then (varint node delta, varint count) pairs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "store_pack.h"

/* ---- (a, b) -> sum maps ----
 *
 * Not a common_map: on one, lookups took 1.5x the instructions and the
 * timeline split by process 1.12x the CPU (DESIGN.md, Hash tables). */

static uint64_t pair_hash(int64_t a, int64_t b)
{
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ULL ^
		     ((uint64_t)b + 0x632be59bd9b4e019ULL) * 0xc2b2ae3d27d4eb4fULL;

	return h ^ (h >> 29);
}

static int sums_grow(struct store_sums *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256;
	uint32_t *slots = malloc(cap * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, cap * sizeof(*slots));
	for (size_t i = 0; i < m->n; i++) {
		size_t j = pair_hash(m->v[i].a, m->v[i].b) & (cap - 1);

		while (slots[j] != UINT32_MAX)
			j = (j + 1) & (cap - 1);
		slots[j] = (uint32_t)i;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int store_sums__add(struct store_sums *m, int64_t a, int64_t b, uint64_t count)
{
	size_t j;
	int r;

	if (m->cap && m->n * 2 < m->cap) {
		for (j = pair_hash(a, b) & (m->cap - 1); m->slots[j] != UINT32_MAX;
		     j = (j + 1) & (m->cap - 1)) {
			struct store_sum *e = &m->v[m->slots[j]];

			if (e->a == a && e->b == b) {
				e->count += count;
				return 0;
			}
		}
	} else {
		/* Grow first, then find the slot in the new table. */
		if (m->n >= UINT32_MAX - 1)
			return -ENOMEM;
		r = sums_grow(m);
		if (r < 0)
			return r;
		return store_sums__add(m, a, b, count);
	}
	r = COMMON_GROW(m->v, m->vcap, m->n + 1);
	if (r < 0)
		return r;
	m->v[m->n] = (struct store_sum){ a, b, count };
	m->slots[j] = (uint32_t)m->n++;
	return 0;
}

struct store_sum *store_sums__find(const struct store_sums *m, int64_t a,
				   int64_t b)
{
	if (!m->cap)
		return NULL;
	for (size_t j = pair_hash(a, b) & (m->cap - 1); m->slots[j] != UINT32_MAX;
	     j = (j + 1) & (m->cap - 1)) {
		struct store_sum *e = &m->v[m->slots[j]];

		if (e->a == a && e->b == b)
			return e;
	}
	return NULL;
}

void store_sums__clear(struct store_sums *m)
{
	if (m->slots)
		memset(m->slots, 0xff, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void store_sums__free(struct store_sums *m)
{
	free(m->slots);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

size_t store_sums__bytes(const struct store_sums *m)
{
	return m->vcap * sizeof(*m->v) + m->cap * sizeof(*m->slots);
}

int store_fit(void **arr, size_t *cap, size_t elem, int64_t id)
{
	if (id < 0 || (uint64_t)id >= SIZE_MAX)
		return -EINVAL;
	return common_grow(arr, cap, (size_t)id + 1, elem, true);
}

/* ---- varints and blocks ---- */

/* libdeflate's level for blocks and chunks: 9 and 12 made the benchmark's
 * day 0.2 % and 0.6 % smaller and its downsampling 1.3 and 2.2 times
 * slower. */
#define STORE_DEFLATE_LEVEL 6

/* Entries by (node, label set): popular stacks of several threads sit
 * together and the node column is ascending. */
static int compare_sums(const void *pa, const void *pb)
{
	const struct store_sum *x = pa, *y = pb;

	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return 0;
}

/*
 * Deflate in into out (raw deflate, no zlib header). Returns the
 * compressed length, or 0 when it does not fit in cap bytes (then the
 * block is stored plain).
 */
static size_t deflate_into(const unsigned char *in, size_t len,
			   unsigned char *out, size_t cap)
{
	struct libdeflate_compressor *z =
		libdeflate_alloc_compressor(STORE_DEFLATE_LEVEL);
	size_t n;

	if (!z)
		return 0;
	n = libdeflate_deflate_compress(z, in, len, out, cap);
	libdeflate_free_compressor(z);
	return n;
}

int store_block__encode(struct store_sums *m, unsigned char **ret_data,
			size_t *ret_len, uint64_t *ret_total)
{
	/* Three columns of at most 10-byte varints and a header. */
	size_t cap = m->n * 30 + 64, body_len;
	unsigned char *body = malloc(cap);
	unsigned char *nodes, *sets, *counts, *p;
	int64_t prev_node = 0, prev_set = 0;
	uint64_t total = 0;
	int r;

	if (!body)
		return -ENOMEM;
	qsort(m->v, m->n, sizeof(*m->v), compare_sums);
	/* The order changed: the slot index is stale; callers clear m after
	 * encoding. Columns are built apart, then joined after a header
	 * that gives their lengths. */
	nodes = body + 32;
	sets = nodes + m->n * 10;
	counts = sets + m->n * 10;
	{
		unsigned char *pn = nodes, *ps = sets, *pc = counts;

		for (size_t i = 0; i < m->n; i++) {
			pn += store_varint__put(pn, (uint64_t)(m->v[i].b - prev_node));
			ps += store_varint__put(ps, store_zigzag(m->v[i].a - prev_set));
			pc += store_varint__put(pc, m->v[i].count);
			prev_node = m->v[i].b;
			prev_set = m->v[i].a;
			total += m->v[i].count;
		}
		p = body;
		p += store_varint__put(p, m->n);
		p += store_varint__put(p, (uint64_t)(pn - nodes));
		p += store_varint__put(p, (uint64_t)(ps - sets));
		memmove(p, nodes, (size_t)(pn - nodes));
		p += pn - nodes;
		memmove(p, sets, (size_t)(ps - sets));
		p += ps - sets;
		memmove(p, counts, (size_t)(pc - counts));
		p += pc - counts;
		body_len = (size_t)(p - body);
	}
	r = store_pack__seal(body, body_len, ret_data, ret_len);
	free(body);
	if (r < 0)
		return r;
	*ret_total = total;
	return 0;
}

int store_pack__seal(const unsigned char *body, size_t body_len,
		     unsigned char **ret_data, size_t *ret_len)
{
	unsigned char *out = malloc(body_len + 16), *p;
	size_t zlen;

	if (!out)
		return -ENOMEM;
	/* Compressed when that is smaller (small bodies often are not). */
	p = out;
	*p++ = STORE_BLOCK_DEFLATE;
	p += store_varint__put(p, body_len);
	zlen = deflate_into(body, body_len, p, body_len > (size_t)(p - out) + 1 ?
			    body_len - (size_t)(p - out) - 1 : 0);
	if (zlen) {
		p += zlen;
	} else {
		p = out;
		*p++ = STORE_BLOCK_PLAIN;
		memcpy(p, body, body_len);
		p += body_len;
	}
	*ret_data = out;
	*ret_len = (size_t)(p - out);
	return 0;
}

void store_block_reader__free(struct store_block_reader *rd)
{
	if (rd->inflater)
		libdeflate_free_decompressor(rd->inflater);
	free(rd->buf);
	memset(rd, 0, sizeof(*rd));
}

/* Inflate a block body of exactly len bytes into rd->buf. Returns 0,
 * -EINVAL (corrupt) or -ENOMEM. */
static int inflate_body(struct store_block_reader *rd, const unsigned char *in,
			size_t in_len, size_t len)
{
	size_t used, made;

	if (len > rd->cap) {
		size_t cap = rd->cap ? rd->cap : 4096;
		unsigned char *buf;

		while (cap < len)
			cap *= 2;
		buf = realloc(rd->buf, cap);
		if (!buf)
			return -ENOMEM;
		rd->buf = buf;
		rd->cap = cap;
	}
	/* One decompressor for every block a scan reads. libdeflate
	 * inflates a whole buffer of known size: 2-3 times zlib's speed. */
	if (!rd->inflater) {
		rd->inflater = libdeflate_alloc_decompressor();
		if (!rd->inflater)
			return -ENOMEM;
	}
	if (libdeflate_deflate_decompress_ex(rd->inflater, in, in_len, rd->buf,
					     len, &used, &made) !=
		    LIBDEFLATE_SUCCESS ||
	    used != in_len || made != len)
		return -EINVAL;
	return 0;
}

static int decode_body(const unsigned char *p, const unsigned char *end,
		       const struct store_lsset *allow, int64_t time_s,
		       store_block_fn fn, void *ctx)
{
	const unsigned char *pn, *ps, *pc, *nodes_end, *sets_end;
	uint64_t n, nodes_len, sets_len, v;
	int64_t node = 0, set = 0;
	int r;

	if (!store_varint__get(&p, end, &n) || !store_varint__get(&p, end, &nodes_len) ||
	    !store_varint__get(&p, end, &sets_len) ||
	    nodes_len > (uint64_t)(end - p) ||
	    sets_len > (uint64_t)(end - p) - nodes_len ||
	    n > (uint64_t)(end - p))
		return -EINVAL;
	pn = p;
	nodes_end = ps = p + nodes_len;
	sets_end = pc = ps + sets_len;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t delta, zset, count;

		if (!store_varint__get(&pn, nodes_end, &delta) ||
		    !store_varint__get(&ps, sets_end, &zset) ||
		    !store_varint__get(&pc, end, &count))
			return -EINVAL;
		if (delta > (uint64_t)INT64_MAX - (uint64_t)node)
			return -EINVAL;
		node += (int64_t)delta;
		v = (uint64_t)set + (uint64_t)store_unzigzag(zset);
		set = (int64_t)v;
		if (set < 0)
			return -EINVAL;
		if (allow && ((uint64_t)set >= allow->n ||
			      !(allow->bits[set / 8] & (1u << (set % 8)))))
			continue;
		r = fn(ctx, time_s, set, node, count);
		if (r < 0)
			return r;
	}
	/* Every column read to its end, nothing left over. */
	if (pn != nodes_end || ps != sets_end || pc != end)
		return -EINVAL;
	return 0;
}

int store_pack__open(struct store_block_reader *rd, const void *data,
		     size_t len, const unsigned char **ret_body,
		     size_t *ret_len)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t body_len;
	int r;

	if (len == 0)
		return -EINVAL;
	switch (*p++) {
	case STORE_BLOCK_PLAIN:
		*ret_body = p;
		*ret_len = (size_t)(end - p);
		return 0;
	case STORE_BLOCK_DEFLATE:
		/* Deflate expands at most ~1032:1; anything claiming more
		 * is corrupt, and the bound keeps the allocation sane. */
		if (!store_varint__get(&p, end, &body_len) || body_len == 0 ||
		    body_len > (uint64_t)(end - p) * 1032 ||
		    body_len > STORE_BLOCK_MAX)
			return -EINVAL;
		r = inflate_body(rd, p, (size_t)(end - p), (size_t)body_len);
		if (r < 0)
			return r;
		*ret_body = rd->buf;
		*ret_len = (size_t)body_len;
		return 0;
	default:
		return -EINVAL;
	}
}

int store_block__decode(struct store_block_reader *rd, const void *data,
			size_t len, const struct store_lsset *allow,
			int64_t time_s, store_block_fn fn, void *ctx)
{
	struct store_block_reader one = { 0 };
	const unsigned char *body;
	size_t body_len;
	int r;

	r = store_pack__open(rd ? rd : &one, data, len, &body, &body_len);
	if (r == 0)
		r = decode_body(body, body + body_len, allow, time_s, fn, ctx);
	store_block_reader__free(&one);
	return r;
}

int store_block__decode_v3(const void *data, size_t len,
			   store_block_fn fn, void *ctx)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t set = 0, v;
	int r;

	while (p < end) {
		const unsigned char *set_end;
		uint64_t node = 0, delta, n;

		if (!store_varint__get(&p, end, &v))
			return -EINVAL;
		set += v;
		if (!store_varint__get(&p, end, &n) || n > (uint64_t)(end - p))
			return -EINVAL;
		set_end = p + n;
		while (p < set_end) {
			if (!store_varint__get(&p, set_end, &delta) ||
			    !store_varint__get(&p, set_end, &v))
				return -EINVAL;
			node += delta;
			r = fn(ctx, 0, (int64_t)set, (int64_t)node, v);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- writing a block ---- */

static int add_to_sums(void *ctx, int64_t time_s, int64_t set, int64_t node,
		       uint64_t count)
{
	return store_sums__add(ctx, set, node, count);
}

int store_block__put(struct store_sqlite *db, int64_t time_s,
		     int64_t duration_s, struct store_sums *m)
{
	unsigned char *data = NULL;
	uint64_t total;
	sqlite3_stmt *st;
	size_t len;
	int r, rc;

	/* A bucket written before (a restart in the same second, a merge
	 * target): add its entries. */
	r = store_sql__stmt(db, STMT_BLOCK_GET, "SELECT duration_s, data FROM "
			    "sample_blocks WHERE time_s = ?1", &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, time_s);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t old = sqlite3_column_int64(st, 0);

		if (old > duration_s)
			duration_s = old;
		r = store_block__decode(NULL, sqlite3_column_blob(st, 1),
					(size_t)sqlite3_column_bytes(st, 1), NULL,
					time_s, add_to_sums, m);
		if (r == -EINVAL)
			r = store_sql__fail_msg(db, -EINVAL, "corrupt sample block");
	} else if (rc != SQLITE_DONE) {
		r = store_sql__fail(db, rc);
	}
	sqlite3_reset(st);
	if (r < 0)
		return r;
	r = store_block__encode(m, &data, &len, &total);
	if (r < 0)
		return r;
	r = store_sql__put_blob(db, STMT_BLOCK_PUT, "INSERT OR REPLACE INTO "
				"sample_blocks (time_s, duration_s, total, data) "
				"VALUES (?1, ?2, ?3, ?4)", time_s, duration_s,
				(int64_t)total, data, len);
	free(data);
	return r;
}

/* ---- scanning ---- */

void store_lsset__free(struct store_lsset *s)
{
	free(s->bits);
	memset(s, 0, sizeof(*s));
}

/* A time as "2024-05-01T12:00:10Z" (UTC), for messages. */
static void utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == INT64_MAX || t == INT64_MIN || !gmtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%s", t == INT64_MAX ? "the end" : "the start");
}

/* Whether the first block at or after t (and its data) can be read. */
static bool block_readable(struct store_sqlite *db, int64_t t, int64_t *ret_next)
{
	sqlite3_stmt *st = NULL;
	bool ok;
	int rc;

	if (sqlite3_prepare_v2(db->sql, "SELECT time_s, data FROM sample_blocks "
			       "WHERE time_s >= ?1 ORDER BY time_s LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, t);
	rc = sqlite3_step(st);
	ok = rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_blob(st, 1) &&
				   sqlite3_errcode(db->sql) != SQLITE_IOERR_DATA);
	*ret_next = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
	sqlite3_finalize(st);
	return ok;
}

/*
 * A read of the blocks after after (the last one read) failed its page
 * checksum: find where readable blocks start again (the seeks that land on
 * the damaged page fail, those past it do not), and name the range.
 */
static int damaged_range(struct store_sqlite *db, int64_t after, int64_t to)
{
	int64_t lo = after == INT64_MIN ? INT64_MIN : after + 1, hi = to, next = INT64_MAX;
	char a[32], b[32], msg[160];

	/* Smallest t in (lo, hi] from which the blocks read again. */
	if (!block_readable(db, hi, &next)) {
		hi = INT64_MAX;
	} else {
		while (hi - lo > 1) {
			int64_t mid = lo + (int64_t)(((uint64_t)hi - (uint64_t)lo) / 2);

			if (block_readable(db, mid, &next))
				hi = mid;
			else
				lo = mid;
		}
	}
	utc(after == INT64_MIN ? INT64_MIN : after, a, sizeof(a));
	utc(hi, b, sizeof(b));
	snprintf(msg, sizeof(msg), "damaged sample blocks between %s and %s: a page "
		 "of the file fails its checksum", a, b);
	return store_sql__fail_msg(db, -EUCLEAN, msg);
}

/* A block that does not decode, named by its time. */
static int corrupt_block(struct store_sqlite *db, int64_t time_s)
{
	char a[32], msg[96];

	utc(time_s, a, sizeof(a));
	snprintf(msg, sizeof(msg), "corrupt sample block at %s", a);
	return store_sql__fail_msg(db, -EINVAL, msg);
}

int store_block__scan(struct store_sqlite *db, const struct store_query *q,
		      const struct store_lsset *allow, store_block_fn fn, void *ctx)
{
	int64_t last_read = INT64_MIN;
	struct store_block_reader rd = { 0 };
	int64_t from = q ? q->from_s : INT64_MIN, to = q ? q->to_s : INT64_MAX;
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	if (from > to)
		return store_sql__fail_msg(db, -EINVAL,
					  "time range ends before it starts");
	rc = sqlite3_prepare_v2(db->sql,
				"SELECT time_s, data FROM sample_blocks "
				"WHERE time_s >= ?1 AND time_s < ?2", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(st, 1);
		int64_t t = sqlite3_column_int64(st, 0);

		/* The data's pages are read here: a checksum failure of an
		 * overflow page shows as the row's error. */
		if (sqlite3_errcode(db->sql) == SQLITE_IOERR_DATA) {
			rc = SQLITE_IOERR_DATA;
			break;
		}
		r = store_block__decode(&rd, data, (size_t)sqlite3_column_bytes(st, 1),
					allow, t, fn, ctx);
		if (r == -EINVAL)
			r = corrupt_block(db, t);
		if (r < 0)
			goto out;
		last_read = t;
	}
	if (rc == SQLITE_IOERR_DATA)
		r = damaged_range(db, last_read, to);
	else if (rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
out:
	sqlite3_finalize(st);
	store_block_reader__free(&rd);
	return r;
}
