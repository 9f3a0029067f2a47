/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_packed.c — the packed tables of schema 5: the stack trie (id,
 * parent, frame), frames (id, function, line, build_id, offset, kind) and
 * functions (id, name, module, file), and since schema 9 label sets (id,
 * host, process, pid, thread, tid, cgroup_id, extra). Their rows are
 * stored in chunks of up to STORE_PACKED_CHUNK consecutive ids, one row of
 * stack_chunks, frame_chunks, function_chunks or label_chunks each, varint-coded in columns and
 * deflated when that is smaller (store_pack__seal). Ids only grow between
 * collections; a collection leaves gaps.
 *
 * The writer (store_write.c) appends a flush's new rows at commit, inside
 * the flush's transaction: the last chunk is decoded, filled up to
 * STORE_PACKED_CHUNK rows and rewritten, further rows start new chunks.
 * Readers (the read caches of store_block.c, the writer's caches, the
 * pprof export) load the chunks whose last id is above what they hold.
 * Retention (store_maintain.c) repacks a table with the rows still in use.
 *
 * Why: as rows without index the trie took 2.3 MB of the benchmark's
 * 10.5 MB day (155,000 nodes at ~15 bytes of B-tree each), frames and
 * functions 0.7 MB; packed, a fifth of that or less: consecutive nodes are
 * mostly one stack's path (parent = id - 1), consecutive frames and
 * functions were added together and have close values.
 *
 * Chunk format (the data column, after the encoding byte): varint n, the
 * varint byte lengths of the first 1 + cols - 1 columns, then 1 + cols
 * columns of n varints: id - previous id - 1 (the previous id of the first
 * row is the chunk's id - 1, so the first is 0); then per column either
 * id - value (a reference to a smaller id of the same table: the trie's
 * parent) or zigzag(value - previous row's value) (the previous row of the
 * first is all 0). The chunk row's id is its first row's id, last its last
 * row's, n the count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common.h"
#include "store_pack.h"

/* The statements of a packed table: its chunks above an id, its last
 * chunk, a chunk written, all of it deleted. */
#define CHUNK_SQL(table)                                                    \
	"SELECT id, last, n, data FROM " table " WHERE last > ?1 ORDER BY id", \
	"SELECT id, last, n, data FROM " table " ORDER BY id DESC LIMIT 1",    \
	"INSERT OR REPLACE INTO " table " (id, last, n, data) "               \
	"VALUES (?1, ?2, ?3, ?4)",                                             \
	"DELETE FROM " table

static const struct {
	const char *what; /* for "corrupt ..." messages */
	int cols;
	unsigned below_id; /* bit c: column c is id - value, 0 <= value < id */
	unsigned positive; /* bit c: column c is > 0 */
	unsigned nonzero;  /* bit c: column c is not 0 */
	enum store_stmt load, last, put;
	const char *load_sql, *last_sql, *put_sql, *clear_sql;
} tables[STORE_PACKED_COUNT] = {
	[STORE_PACKED_NODES] = { "stack trie", 2, 1u << 0, 1u << 1, 0,
		STMT_NODES_LOAD, STMT_NODES_LAST, STMT_NODES_PUT,
		CHUNK_SQL("stack_chunks") },
	[STORE_PACKED_FRAMES] = { "frame table", 5, 0, 1u << 0, 0,
		STMT_FRAMES_LOAD, STMT_FRAMES_LAST, STMT_FRAMES_PUT,
		CHUNK_SQL("frame_chunks") },
	/* a function's name is a string id, or below 0 a derived name */
	[STORE_PACKED_FUNCTIONS] = { "function table", 3, 0, 0, 1u << 0,
		STMT_FUNCTIONS_LOAD, STMT_FUNCTIONS_LAST, STMT_FUNCTIONS_PUT,
		CHUNK_SQL("function_chunks") },
	[STORE_PACKED_LABELS] = { "label set table", 7, 0, 0, 0,
		STMT_LABELS_LOAD, STMT_LABELS_LAST, STMT_LABELS_PUT,
		CHUNK_SQL("label_chunks") },
};

int store_rows__push(struct store_rows *a, const struct store_row *row)
{
	int r = COMMON_GROW(a->v, a->cap, a->n + 1);

	if (r < 0)
		return r;
	a->v[a->n++] = *row;
	return 0;
}

void store_rows__free(struct store_rows *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

size_t store_rows__bytes(const struct store_rows *a)
{
	return a->cap * sizeof(*a->v);
}

/* Whether a row may be stored in table t. */
static bool row_valid(enum store_packed_table t, const struct store_row *row)
{
	if (row->id <= 0)
		return false;
	for (int c = 0; c < tables[t].cols; c++) {
		if ((tables[t].below_id & (1u << c)) &&
		    (row->v[c] < 0 || row->v[c] >= row->id))
			return false;
		if ((tables[t].positive & (1u << c)) && row->v[c] <= 0)
			return false;
		if ((tables[t].nonzero & (1u << c)) && row->v[c] == 0)
			return false;
	}
	return true;
}

/* Pack v[0..n) (ascending ids, all valid) as one chunk of table t. */
static int chunk_encode(enum store_packed_table t, const struct store_row *v,
			size_t n, unsigned char **ret_data, size_t *ret_len)
{
	int cols = tables[t].cols;
	unsigned char *body = malloc(n * 10 * (size_t)(cols + 1) + 64), *p;
	unsigned char *start[STORE_PACKED_COLS + 1], *at[STORE_PACKED_COLS + 1];
	int64_t prev_id = v[0].id - 1, prev[STORE_PACKED_COLS] = { 0 };
	int r;

	if (!body)
		return -ENOMEM;
	/* Columns apart first, then joined after a header with their
	 * lengths. */
	for (int c = 0; c <= cols; c++)
		start[c] = at[c] = body + 64 + (size_t)c * n * 10;
	for (size_t i = 0; i < n; i++) {
		at[0] += store_varint__put(at[0], (uint64_t)(v[i].id - prev_id - 1));
		for (int c = 0; c < cols; c++) {
			uint64_t x = tables[t].below_id & (1u << c) ?
				(uint64_t)(v[i].id - v[i].v[c]) :
				store_zigzag((int64_t)((uint64_t)v[i].v[c] -
						       (uint64_t)prev[c]));

			at[c + 1] += store_varint__put(at[c + 1], x);
			prev[c] = v[i].v[c];
		}
		prev_id = v[i].id;
	}
	p = body;
	p += store_varint__put(p, n);
	for (int c = 0; c < cols; c++)
		p += store_varint__put(p, (uint64_t)(at[c] - start[c]));
	for (int c = 0; c <= cols; c++) {
		memmove(p, start[c], (size_t)(at[c] - start[c]));
		p += at[c] - start[c];
	}
	r = store_pack__seal(body, (size_t)(p - body), ret_data, ret_len);
	free(body);
	return r;
}

/*
 * Decode the chunk (first, last, n, data) of table t and call fn for its
 * rows with ids above after. Returns 0, fn's error, -EINVAL, -ENOMEM.
 */
static int chunk_decode(enum store_packed_table t,
			struct store_block_reader *rd, int64_t first,
			int64_t last, int64_t n, const void *data, size_t len,
			int64_t after, store_row_fn fn, void *ctx)
{
	int cols = tables[t].cols;
	const unsigned char *p, *end, *at[STORE_PACKED_COLS + 1];
	const unsigned char *col_end[STORE_PACKED_COLS + 1];
	struct store_row row = { .id = first - 1 };
	uint64_t count, x;
	size_t body_len;
	int r;

	r = store_pack__open(rd, data, len, &p, &body_len);
	if (r < 0)
		return r;
	end = p + body_len;
	if (!store_varint__get(&p, end, &count) || count == 0 ||
	    count > (uint64_t)(end - p) || n < 0 || count != (uint64_t)n ||
	    first <= 0)
		return -EINVAL;
	/* Column c runs from at[c] to col_end[c]; the last to the end. */
	{
		uint64_t lens[STORE_PACKED_COLS + 1];
		const unsigned char *q;

		for (int c = 0; c < cols; c++)
			if (!store_varint__get(&p, end, &lens[c]))
				return -EINVAL;
		q = p;
		for (int c = 0; c < cols; c++) {
			if (lens[c] > (uint64_t)(end - q))
				return -EINVAL;
			at[c] = q;
			q += lens[c];
			col_end[c] = q;
		}
		at[cols] = q;
		col_end[cols] = end;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (!store_varint__get(&at[0], col_end[0], &x) ||
		    (i == 0 && x != 0) || x >= (uint64_t)(last - row.id))
			return -EINVAL;
		row.id += (int64_t)x + 1;
		for (int c = 0; c < cols; c++) {
			if (!store_varint__get(&at[c + 1], col_end[c + 1], &x))
				return -EINVAL;
			if (tables[t].below_id & (1u << c)) {
				if (x > (uint64_t)row.id)
					return -EINVAL;
				row.v[c] = row.id - (int64_t)x;
			} else {
				row.v[c] = (int64_t)((uint64_t)row.v[c] +
						     (uint64_t)store_unzigzag(x));
			}
		}
		if (!row_valid(t, &row))
			return -EINVAL;
		if (row.id > after) {
			r = fn(ctx, &row);
			if (r < 0)
				return r;
		}
	}
	/* The chunk's last id is the last row's; every column read to its
	 * end. */
	if (row.id != last)
		return -EINVAL;
	for (int c = 0; c <= cols; c++)
		if (at[c] != col_end[c])
			return -EINVAL;
	return 0;
}

static int corrupt(struct store_sqlite *db, enum store_packed_table t, int r)
{
	char msg[64];

	if (r != -EINVAL)
		return r;
	snprintf(msg, sizeof(msg), "corrupt %s", tables[t].what);
	return store_sql__fail_msg(db, r, msg);
}

int store_packed__load(struct store_sqlite *db, enum store_packed_table t,
		       int64_t after, store_row_fn fn, void *ctx)
{
	struct store_block_reader rd = { 0 };
	sqlite3_stmt *st;
	int64_t prev_last = 0;
	int r, rc;

	r = store_sql__stmt(db, tables[t].load, tables[t].load_sql, &st);
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
		r = chunk_decode(t, &rd, first, prev_last,
				 sqlite3_column_int64(st, 2),
				 sqlite3_column_blob(st, 3),
				 (size_t)sqlite3_column_bytes(st, 3), after, fn, ctx);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_reset(st);
	store_block_reader__free(&rd);
	return corrupt(db, t, r);
}

/* Write v[0..n) as the chunk of table t that starts at v[0].id
 * (replacing it). */
static int chunk_put(struct store_sqlite *db, enum store_packed_table t,
		     const struct store_row *v, size_t n)
{
	unsigned char *data;
	size_t len;
	int r;

	r = chunk_encode(t, v, n, &data, &len);
	if (r < 0)
		return r;
	r = store_sql__put_blob(db, tables[t].put, tables[t].put_sql, v[0].id,
				v[n - 1].id, (int64_t)n, data, len);
	free(data);
	return r;
}

/* Write v[0..n) (checked: valid, ascending above after) in chunks of
 * STORE_PACKED_CHUNK, after the rows already in tail (which it fills). */
static int put_after(struct store_sqlite *db, enum store_packed_table t,
		     struct store_rows *tail, int64_t after,
		     const struct store_row *v, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!row_valid(t, &v[i]) || v[i].id <= after)
			return store_sql__fail_msg(db, -EINVAL, "packed rows "
						  "out of order");
		after = v[i].id;
	}
	for (size_t i = 0; i < n;) {
		while (tail->n < STORE_PACKED_CHUNK && i < n) {
			r = store_rows__push(tail, &v[i++]);
			if (r < 0)
				return r;
		}
		r = chunk_put(db, t, tail->v, tail->n);
		if (r < 0)
			return r;
		tail->n = 0;
	}
	return 0;
}

static int push_row(void *ctx, const struct store_row *row)
{
	return store_rows__push(ctx, row);
}

int store_packed__append(struct store_sqlite *db, enum store_packed_table t,
			 const struct store_row *v, size_t n)
{
	struct store_block_reader rd = { 0 };
	struct store_rows tail = { 0 };
	int64_t last = 0;
	sqlite3_stmt *st;
	int r, rc;

	if (n == 0)
		return 0;
	r = store_sql__stmt(db, tables[t].last, tables[t].last_sql, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 1);
		/* Not full: its rows go first into the rewritten chunk. */
		if (sqlite3_column_int64(st, 2) < STORE_PACKED_CHUNK)
			r = chunk_decode(t, &rd, sqlite3_column_int64(st, 0), last,
					 sqlite3_column_int64(st, 2),
					 sqlite3_column_blob(st, 3),
					 (size_t)sqlite3_column_bytes(st, 3), 0,
					 push_row, &tail);
	} else if (rc != SQLITE_DONE) {
		r = store_sql__fail(db, rc);
	}
	sqlite3_reset(st);
	store_block_reader__free(&rd);
	r = corrupt(db, t, r);
	if (r == 0)
		r = put_after(db, t, &tail, last, v, n);
	store_rows__free(&tail);
	return r;
}

int store_packed__replace(struct store_sqlite *db, enum store_packed_table t,
			  const struct store_row *v, size_t n)
{
	struct store_rows tail = { 0 };
	int r;

	r = store_sql__exec(db, tables[t].clear_sql);
	if (r == 0)
		r = put_after(db, t, &tail, 0, v, n);
	store_rows__free(&tail);
	return r;
}

int store_packed__load_all(struct store_sqlite *db, enum store_packed_table t,
			   struct store_rows *ret)
{
	return store_packed__load(db, t, 0, push_row, ret);
}

ssize_t store_rows__find(const struct store_rows *a, int64_t id)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->n && a->v[lo].id == id ? (ssize_t)lo : -1;
}

int store_packed__load_strings(struct store_sqlite *db, int64_t after,
			       store_string_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT id, text FROM strings "
				"WHERE id > ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* The text first, then its length (SQLite's order). */
		const char *text = (const char *)sqlite3_column_text(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		r = fn(ctx, sqlite3_column_int64(st, 0), text, len);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return r;
}

/* ---- derived names ---- */

static const char *basename_of(const char *module)
{
	const char *slash = strrchr(module, '/');

	return slash ? slash + 1 : module;
}

int64_t store_name__derived(const char *name, const char *module)
{
	const char *base, *hex;
	size_t n;
	uint64_t v = 0;

	if (!name || !module)
		return 0;
	base = basename_of(module);
	n = strlen(base);
	if (!n || strncmp(name, base, n) != 0 || strncmp(name + n, "+0x", 3) != 0)
		return 0;
	hex = name + n + 3;
	/* Exactly what "%" PRIx64 prints: lower-case digits, no leading
	 * zero but for 0 itself, at most 15 digits (the value and the
	 * sign must fit). */
	n = strlen(hex);
	if (n == 0 || n > 15 || (hex[0] == '0' && n > 1))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return 0;
	}
	return -1 - (int64_t)v;
}

char *store_name__text(int64_t derived, const char *module, char *buf, size_t size)
{
	int n;

	if (derived >= 0 || !module)
		return NULL;
	n = snprintf(buf, size, "%s+0x%" PRIx64, basename_of(module),
		     (uint64_t)(-1 - derived));
	return n >= 0 && (size_t)n < size ? buf : NULL;
}
