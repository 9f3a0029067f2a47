/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-blocks.c — the sample block format of schema 4
 * (storage/store_block.c) on its own: what is encoded decodes to the same
 * entries with the same totals, small blocks stay plain and large ones are
 * deflated, a label-set filter passes exactly its sets, and every kind of
 * damage (a flipped byte in the deflated stream, truncation, an unknown
 * encoding, a body length that lies) is -EINVAL, never a crash or a
 * wrong count. Uses the module's private header.
 */
#include <errno.h>
#include <string.h>

#include "storage-test.h"
#include "store_pack.h"

struct collect {
	struct store_sums got;
	uint64_t total;
	int64_t last_node;
	bool ordered;
};

static int collect_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
			 uint64_t count)
{
	struct collect *c = ctx;

	CHECK(time_s == 77);
	if (node < c->last_node)
		c->ordered = false;
	c->last_node = node;
	c->total += count;
	return store_sums__add(&c->got, set, node, count);
}

/* Encode n pseudo-random entries, decode them, compare. Returns the
 * encoding byte. */
static int round_trip(size_t n, uint64_t seed, const struct store_lsset *allow)
{
	struct store_sums in = { 0 }, want = { 0 };
	struct collect c = { .ordered = true };
	struct store_block_reader rd = { 0 };
	unsigned char *data;
	uint64_t total, want_total = 0;
	size_t len;
	int enc;

	for (size_t i = 0; i < n; i++) {
		int64_t set, node;
		uint64_t count;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		set = (int64_t)(seed >> 60);         /* 16 label sets */
		node = (int64_t)((seed >> 20) % 200000);
		count = 1 + (seed >> 40) % 3 + (i % 97 == 0 ? 1000000 : 0);
		CHECK_RC(store_sums__add(&in, set, node, count), 0);
		if (!allow || (set < (int64_t)allow->n &&
			       (allow->bits[set / 8] & (1u << (set % 8))))) {
			CHECK_RC(store_sums__add(&want, set, node, count), 0);
			want_total += count;
		}
	}
	/* The largest node and set ids round-trip too. */
	CHECK_RC(store_sums__add(&in, 0, INT64_MAX / 2, 1), 0);
	if (!allow || (allow->bits[0] & 1)) {
		CHECK_RC(store_sums__add(&want, 0, INT64_MAX / 2, 1), 0);
		want_total++;
	}
	CHECK_RC(store_block__encode(&in, &data, &len, &total), 0);
	store_sums__clear(&in);
	enc = data[0];
	CHECK_RC(store_block__decode(&rd, data, len, allow, 77, collect_entry, &c), 0);
	CHECK(c.ordered);
	CHECK_U64(c.total, want_total);
	if (!allow)
		CHECK_U64(total, want_total);
	CHECK_U64(c.got.n, want.n);
	for (size_t i = 0; i < want.n; i++) {
		struct store_sum *e = store_sums__find(&c.got, want.v[i].a, want.v[i].b);

		CHECK(e != NULL);
		CHECK_U64(e->count, want.v[i].count);
	}
	/* A one-off decode (no reader) gives the same. */
	store_sums__clear(&c.got);
	c.total = 0;
	c.last_node = 0;
	CHECK_RC(store_block__decode(NULL, data, len, allow, 77, collect_entry, &c), 0);
	CHECK_U64(c.total, want_total);
	free(data);
	store_block_reader__free(&rd);
	store_sums__free(&c.got);
	store_sums__free(&in);
	store_sums__free(&want);
	return enc;
}

static int count_only(void *ctx, int64_t time_s, int64_t set, int64_t node,
		      uint64_t count)
{
	*(uint64_t *)ctx += count;
	return 0;
}

static int decode_rc(const unsigned char *data, size_t len)
{
	struct store_block_reader rd = { 0 };
	uint64_t sum = 0;
	int r = store_block__decode(&rd, data, len, NULL, 0, count_only, &sum);

	store_block_reader__free(&rd);
	return r;
}

static void check_corrupt(void)
{
	struct store_sums in = { 0 };
	unsigned char *data, *bad;
	uint64_t total;
	size_t len;
	int failed = 0;

	for (int64_t i = 0; i < 3000; i++)
		CHECK_RC(store_sums__add(&in, i % 7, i * 13, 1 + i % 4), 0);
	CHECK_RC(store_block__encode(&in, &data, &len, &total), 0);
	CHECK_U64(data[0], STORE_BLOCK_DEFLATE);
	CHECK_RC(decode_rc(data, len), 0);
	bad = malloc(len);
	CHECK(bad != NULL);
	/* Every truncation. */
	for (size_t n = 0; n < len; n++)
		CHECK_RC(decode_rc(data, n), -EINVAL);
	/* A flipped byte anywhere in the deflated stream is caught by
	 * inflate or by the exact-length and column checks; the test also
	 * makes sure this is not vacuous. */
	for (size_t at = 1; at < len; at++) {
		memcpy(bad, data, len);
		bad[at] ^= 0x5a;
		if (decode_rc(bad, len) == -EINVAL)
			failed++;
		else
			CHECK_RC(decode_rc(bad, len), 0);
	}
	CHECK(failed > (int)len / 2);
	/* An unknown encoding, an empty block. */
	memcpy(bad, data, len);
	bad[0] = 0x7f;
	CHECK_RC(decode_rc(bad, len), -EINVAL);
	CHECK_RC(decode_rc(data, 0), -EINVAL);
	/* A body length that lies: too large to allocate, or too short. */
	{
		static const unsigned char huge[] = { STORE_BLOCK_DEFLATE, 0xff,
			0xff, 0xff, 0xff, 0x0f, 0x03, 0x00 };
		static const unsigned char plain_lie[] = { STORE_BLOCK_PLAIN,
			0x05, 0x01, 0x01, 0x00, 0x00, 0x01 };

		CHECK_RC(decode_rc(huge, sizeof(huge)), -EINVAL);
		CHECK_RC(decode_rc(plain_lie, sizeof(plain_lie)), -EINVAL);
	}
	free(bad);
	free(data);
	store_sums__free(&in);
}

/* Without UNIQUE indexes the writers deduplicate: two writers taking turns
 * on one file, and a writer after retention collected rows, add each
 * string, function, frame and node once. */
static void check_writers_dedup(void)
{
	struct store_maintain_stats st;
	struct store_db *a, *b;
	char *dir = make_tempdir(), *path = path_in(dir, "dedup.db");

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &a), 0);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &b), 0);
	CHECK_RC(store_db__begin(a, 1000, 10), 0);
	CHECK_RC(add_folded(a, NULL, "main;a", STORE_FRAME_USER, 0, 1), 0);
	CHECK_RC(store_db__commit(a), 0);
	CHECK_RC(store_db__begin(b, 1010, 10), 0);
	CHECK_RC(add_folded(b, NULL, "main;a;b", STORE_FRAME_USER, 0, 2), 0);
	CHECK_RC(store_db__commit(b), 0);
	CHECK_RC(store_db__begin(a, 1020, 10), 0);
	CHECK_RC(add_folded(a, NULL, "main;a;b", STORE_FRAME_USER, 0, 3), 0);
	CHECK_RC(store_db__commit(a), 0);
	CHECK_U64(query_int(a, "SELECT sum(n) FROM stack_chunks"), 3);
	CHECK_U64(query_int(a, "SELECT sum(n) FROM frame_chunks"), 3);
	CHECK_U64(query_int(a, "SELECT count(DISTINCT text) - count(*) "
			     "FROM strings"), 0);
	/* b collects "main;a" (too old), then a writes it again. */
	CHECK_RC(store_db__maintain(b, 1005 + 86400, &(struct store_policy){
		.max_age_s = 86400 }, &st), 0);
	CHECK_U64(st.samples_removed, 1);
	CHECK_RC(store_db__begin(a, 1030, 10), 0);
	CHECK_RC(add_folded(a, NULL, "main;a", STORE_FRAME_USER, 0, 4), 0);
	CHECK_RC(add_folded(a, NULL, "main;a;b", STORE_FRAME_USER, 0, 4), 0);
	CHECK_RC(store_db__commit(a), 0);
	CHECK_U64(query_int(a, "SELECT sum(n) FROM stack_chunks"), 3);
	CHECK_U64(query_int(a, "SELECT sum(n) FROM frame_chunks"), 3);
	CHECK_U64(samples_in(a, INT64_MIN, INT64_MAX), 2 + 3 + 8);
	store_db__close(b);
	store_db__close(a);
	free(path);
	cleanup_tempdir(dir);
}

/* Samples of stack i in check_trie. */
#define TRIE_COUNT(i) ((uint64_t)(i) % 5 + 1)
#define TRIE_STACKS 3000

/* Chunks hold at most STORE_PACKED_CHUNK nodes, do not overlap, and hold
 * n nodes in all. */
static void check_chunks(struct store_db *db, int64_t n)
{
	CHECK_U64(query_int(db, "SELECT coalesce(sum(n), 0) FROM stack_chunks"), n);
	CHECK(query_int(db, "SELECT coalesce(max(n), 0) FROM stack_chunks") <=
	      STORE_PACKED_CHUNK);
	CHECK_U64(query_int(db, "SELECT count(*) FROM stack_chunks a JOIN "
			     "stack_chunks b ON b.id > a.id AND b.id <= a.last"), 0);
}

static void check_trie_stack(struct store_db *db, int i, bool present)
{
	struct store_tree *t;
	char path[64];
	long at;

	snprintf(path, sizeof(path), "p;root;f%d;g%d", i, i);
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	tree_check_invariants(t);
	at = tree_find(t, path);
	CHECK(present == (at >= 0));
	if (present)
		CHECK_U64(store_tree__node(t, (size_t)at)->self, TRIE_COUNT(i));
	store_tree__free(t);
}

/* The packed trie: nodes appended across flushes by two writers taking
 * turns fill chunks up to STORE_PACKED_CHUNK; a collection repacks them;
 * a chunk that does not decode is a clear error, never a wrong tree. */
static void check_trie(void)
{
	struct store_labels l = { .process = "p" };
	char *dir = make_tempdir(), *path = path_in(dir, "trie.db");
	struct store_db *w[2], *rd;
	struct store_maintain_stats st;
	uint64_t want = 0, later = 0;
	char stack[64];

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &w[0]), 0);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &w[1]), 0);
	/* Stack i is root;f<i>;g<i>: 2 new nodes each, 300 per flush. */
	for (int k = 0; k < TRIE_STACKS / 300; k++) {
		struct store_db *db = w[k % 2];

		CHECK_RC(store_db__begin(db, 1000 + 10 * k, 10), 0);
		for (int i = k * 300; i < (k + 1) * 300; i++) {
			snprintf(stack, sizeof(stack), "root;f%d;g%d", i, i);
			CHECK_RC(add_folded(db, &l, stack, STORE_FRAME_USER, 0,
					    TRIE_COUNT(i)), 0);
			want += TRIE_COUNT(i);
			later += i >= TRIE_STACKS / 2 ? TRIE_COUNT(i) : 0;
		}
		CHECK_RC(store_db__commit(db), 0);
	}
	check_chunks(w[0], 1 + 2 * TRIE_STACKS);
	CHECK(query_int(w[0], "SELECT count(*) FROM stack_chunks") >
	      2 * TRIE_STACKS / STORE_PACKED_CHUNK);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &rd), 0);
	CHECK_U64(samples_in(rd, INT64_MIN, INT64_MAX), want);
	check_trie_stack(rd, 17, true);
	check_trie_stack(rd, TRIE_STACKS - 1, true);

	/* The first half of the flushes goes: their stacks' nodes too. */
	CHECK_RC(store_db__maintain(w[1], 1000 + 10 * (TRIE_STACKS / 600) + 86400,
				    &(struct store_policy){ .max_age_s = 86400 },
				    &st), 0);
	CHECK(st.rows_collected >= TRIE_STACKS);
	check_chunks(w[0], 1 + TRIE_STACKS);
	/* Their frames, functions and names too: one each per node. */
	CHECK_U64(query_int(w[0], "SELECT sum(n) FROM frame_chunks"),
		  1 + TRIE_STACKS);
	CHECK_U64(query_int(w[0], "SELECT sum(n) FROM function_chunks"),
		  1 + TRIE_STACKS);
	CHECK_U64(query_int(w[0], "SELECT count(*) FROM strings WHERE "
			     "text IN ('f17', 'g17')"), 0);
	CHECK_U64(query_int(w[0], "SELECT count(*) FROM strings WHERE "
			     "text IN ('f2017', 'g2017', 'root', 'app', 'p')"), 5);
	CHECK_U64(samples_in(rd, INT64_MIN, INT64_MAX), later);
	check_trie_stack(rd, 17, false);
	check_trie_stack(rd, TRIE_STACKS - 1, true);
	/* The other writer learns of the collection and adds a stack again:
	 * new ids above the last stored one. */
	CHECK_RC(store_db__begin(w[0], 5000, 10), 0);
	CHECK_RC(add_folded(w[0], &l, "root;f17;g17", STORE_FRAME_USER, 0,
			    TRIE_COUNT(17)), 0);
	CHECK_RC(store_db__commit(w[0]), 0);
	check_chunks(w[0], 3 + TRIE_STACKS);
	CHECK_U64(query_int(w[0], "SELECT sum(n) FROM frame_chunks"),
		  3 + TRIE_STACKS);
	CHECK_U64(query_int(w[0], "SELECT max(last) FROM stack_chunks"),
		  1 + 2 * TRIE_STACKS + 2);
	check_trie_stack(rd, 17, true);
	store_db__close(rd);

	/* A chunk with another chunk's bytes: refused by readers and
	 * writers alike. */
	CHECK(sqlite3_exec(store_sqlite__of(w[0])->sql, "UPDATE stack_chunks SET data = (SELECT "
			   "data FROM stack_chunks ORDER BY id LIMIT 1) WHERE "
			   "id = (SELECT max(id) FROM stack_chunks)", NULL, NULL,
			   NULL) == SQLITE_OK);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &rd), 0);
	CHECK_RC(store_db__query_tree(rd, NULL, &(struct store_tree *){ NULL }),
		 -EINVAL);
	CHECK(strstr(store_db__errmsg(rd), "corrupt stack trie") != NULL);
	store_db__close(rd);
	store_db__close(w[1]);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &w[1]), 0);
	CHECK_RC(store_db__begin(w[1], 6000, 10), -EINVAL);
	CHECK(strstr(store_db__errmsg(w[1]), "corrupt stack trie") != NULL);
	store_db__close(w[1]);
	store_db__close(w[0]);
	free(path);
	cleanup_tempdir(dir);
}

int main(void)
{
	struct store_lsset allow = { .n = 16 };

	/* A handful of entries is not worth deflating. */
	CHECK_U64(round_trip(3, 1, NULL), STORE_BLOCK_PLAIN);
	CHECK_U64(round_trip(1, 2, NULL), STORE_BLOCK_PLAIN);
	CHECK_U64(round_trip(5000, 3, NULL), STORE_BLOCK_DEFLATE);
	CHECK_U64(round_trip(200000, 4, NULL), STORE_BLOCK_DEFLATE);
	/* A filter passes its label sets and nothing else. */
	allow.bits = calloc(2, 1);
	CHECK(allow.bits != NULL);
	allow.bits[0] = 0x25; /* sets 0, 2, 5 */
	allow.bits[1] = 0x80; /* set 15 */
	round_trip(5000, 5, &allow);
	round_trip(3, 6, &allow);
	free(allow.bits);
	check_corrupt();
	check_writers_dedup();
	check_trie();
	return 0;
}
