/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_write.c — the writer side of the storage module: one transaction per
 * flush, symbolized stacks turned into deduplicated strings, functions,
 * frames and stack-trie nodes, and counts summed per (bucket, label set,
 * stack). Called by profiler/ once per flush interval with the stacks it
 * drained from the sampler and symbolized.
 *
 * Ids are looked up through in-memory caches first, so a stack seen before
 * costs no SQL at all: counts are summed in memory per (label set, stack)
 * and written as one packed block per flush (store_block.c); new stack
 * nodes, frames and functions get the next ids and are appended to their
 * packed tables at commit (store_packed.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_ch.h"
#include "store_ops.h"

/*
 * Label sets the writer remembers, per generation: when the newer holds
 * this many, it becomes the older and a new one starts; a label set
 * found in the older moves to the newer. So the label sets in use stay
 * (every live process's), and memory is bounded however many processes
 * come and go: about 2 x 65,536 x 100 bytes.
 */
#define STORE_LABELS_GENERATION (1u << 16)

/*
 * The id caches of the writer, one per deduplicated table. Strings (rows
 * without UNIQUE index), functions and frames (packed tables, schema 5)
 * have complete caches: copies of the tables' keys, brought up to date at
 * each store_sqlite__begin under the write lock, and never trimmed; a miss
 * means a new row. Label sets (packed, schema 9) have the two bounded
 * generations above (labels): a label set used long ago and not since
 * may be written again under a new id, which every reader reads as the
 * same labels. Stack nodes have their own complete index (struct
 * store_writer's nodes).
 */
enum store_cache {
	CACHE_STRING,
	CACHE_FUNCTION,
	CACHE_FRAME,
	CACHE_COUNT,
};

/*
 * The memo of interned frames (store_frame.interned): the frame's fields
 * as the caller gave them, pointers and all, -> its frame id. A frame the
 * writer met before costs one lookup of these 48 bytes, where frame_id()
 * hashes and compares its four strings and looks up its function and its
 * frame (six lookups: a sixth of the agent's CPU at 608 Hz on a busy
 * host). Frames are one per instruction address, so a busy host's flush
 * meets tens of thousands: two generations of STORE_FRAME_MEMO_MAX / 2,
 * as the label sets have (when the newer is full it becomes the older,
 * which is emptied, counted; a frame found in the older moves to the
 * newer, so the frames in use stay). Emptied with the id caches, and
 * when the caller's strings go (store_sqlite__forget_interned).
 */
struct frame_memo_key {
	const char *name, *module, *build_id, *file;
	uint64_t offset;
	uint32_t line;
	uint32_t kind;
};

struct frame_memo_entry {
	struct frame_memo_key key;
	int64_t id;
};

static const struct common_map_type frame_memo_type = {
	.entry_size = sizeof(struct frame_memo_entry),
	.key_size = sizeof(struct frame_memo_key),
};

/* The writer's state on a handle (db->writer): created by the first
 * store_sqlite__begin, freed by store_write__close. */
struct store_writer {
	bool in_flush;
	int64_t flush_time_s;
	uint32_t flush_duration_s;
	struct store_map caches[CACHE_COUNT];
	int64_t cache_max_id[CACHE_COUNT]; /* largest id loaded from the file */
	int64_t mirror_generation;         /* gc_generation the copies match */
	bool mirror_valid;
	struct store_sums flush_sums; /* (label set, node) -> count */
	/* The index of the stack trie: (parent, frame) -> id for every
	 * stored node (in the count field), loaded with the caches;
	 * max_node is the largest id. */
	struct store_sums nodes;
	int64_t max_node;
	/* Label sets: (7 columns) -> id, newer and older generation;
	 * max_label is the largest id stored. */
	struct store_map labels[2];
	int64_t max_label;
	/* coverage_modules: (module, NUL, build-id) -> id (store_coverage.c) */
	struct store_map modules;
	/* Rows of the packed tables this flush adds (written at commit). */
	struct store_rows new_rows[STORE_PACKED_COUNT];
	/* of struct frame_memo_entry: newer, older generation */
	struct common_map frame_memo[2];
	uint64_t frame_memo_resets;
};

/* The statements of the tables the writer fills. */
static const char *const sql_of[STMT_COUNT] = {
	[STMT_STRING_ADD] = "INSERT INTO strings (text) VALUES (?1)",
	[STMT_DROP_ADD] = "INSERT INTO drops (time_s, reason, count) "
			  "VALUES (?1, ?2, ?3) ON CONFLICT (time_s, reason) "
			  "DO UPDATE SET count = count + excluded.count",
	[STMT_EVENT_ADD] = "INSERT INTO events (time_s, name, count) "
			   "VALUES (?1, ?2, ?3) ON CONFLICT (time_s, name) "
			   "DO UPDATE SET count = count + excluded.count",
	[STMT_FLUSH_ADD] = "INSERT INTO flushes (time_s, duration_s, n) "
			   "VALUES (?1, ?2, 1) ON CONFLICT (time_s) "
			   "DO UPDATE SET n = n + 1, "
			   "duration_s = max(duration_s, excluded.duration_s)",
};

static int stmt(struct store_sqlite *db, enum store_stmt id, sqlite3_stmt **ret)
{
	return store_sql__stmt(db, id, sql_of[id], ret);
}

/* Drop the id caches (after a rollback they may name rows that no
 * longer exist; after a collection ids may be reused). */
static void drop_caches(struct store_writer *w)
{
	for (size_t i = 0; i < CACHE_COUNT; i++) {
		store_map__clear(&w->caches[i]);
		w->cache_max_id[i] = 0;
	}
	store_sums__clear(&w->nodes);
	w->max_node = 0;
	store_map__clear(&w->labels[0]);
	store_map__clear(&w->labels[1]);
	w->max_label = 0;
	store_map__clear(&w->modules);
	for (size_t i = 0; i < STORE_PACKED_COUNT; i++)
		w->new_rows[i].n = 0;
	common_map__clear(&w->frame_memo[0]);
	common_map__clear(&w->frame_memo[1]);
	w->mirror_valid = false;
}

/*
 * The id of string text (len bytes): from the cache, a complete copy of
 * the table (store_sqlite__begin loads it), else a new row.
 */
static int string_get_or_add(struct store_sqlite *db, const char *text, size_t len,
			     int64_t *ret_id)
{
	struct store_writer *w = db->writer;
	struct store_map *map = &w->caches[CACHE_STRING];
	sqlite3_stmt *st;
	int64_t id;
	int r, rc;

	if (store_map__get(map, text, len, &id)) {
		*ret_id = id;
		return 0;
	}
	r = stmt(db, STMT_STRING_ADD, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_sql__fail(db, rc);
	id = sqlite3_last_insert_rowid(db->sql);
	r = store_map__put(map, text, len, id, NULL);
	if (r < 0)
		return r;
	if (id > w->cache_max_id[CACHE_STRING])
		w->cache_max_id[CACHE_STRING] = id;
	*ret_id = id;
	return 0;
}

static int cache_string(void *ctx, int64_t id, const char *text, size_t len)
{
	struct store_writer *w = ctx;
	int r;

	r = text ? store_map__put(&w->caches[CACHE_STRING], text, len, id, NULL) : 0;
	if (r == 0 && id > w->cache_max_id[CACHE_STRING])
		w->cache_max_id[CACHE_STRING] = id;
	return r;
}

/* Load the strings the cache does not hold yet (ids only grow between
 * collections). */
static int load_strings(struct store_sqlite *db)
{
	struct store_writer *w = db->writer;

	return store_packed__load_strings(db, w->cache_max_id[CACHE_STRING],
					  cache_string, w);
}

static int index_node(void *ctx, const struct store_row *n)
{
	struct store_writer *w = ctx;

	w->max_node = n->id;
	return store_sums__add(&w->nodes, n->v[0], n->v[1], (uint64_t)n->id);
}

/* Loading the cache of a packed table: its columns are the key. */
struct cache_load {
	struct store_writer *w;
	enum store_cache cache;
	int n_cols;
};

static int cache_row(void *ctx, const struct store_row *row)
{
	const struct cache_load *l = ctx;
	int r;

	r = store_map__put(&l->w->caches[l->cache], row->v,
			   (size_t)l->n_cols * sizeof(*row->v), row->id, NULL);
	if (r == 0)
		l->w->cache_max_id[l->cache] = row->id;
	return r;
}

static int load_packed(struct store_sqlite *db, enum store_cache cache,
		       enum store_packed_table t, int n_cols)
{
	struct store_writer *w = db->writer;
	struct cache_load l = { w, cache, n_cols };

	return store_packed__load(db, t, w->cache_max_id[cache], cache_row, &l);
}

/* Remember label set (columns k) as id in the newer generation; a full
 * one becomes the older. Returns 0 or -ENOMEM. */
static int remember_labels(struct store_writer *w, const int64_t *k, int64_t id)
{
	if (store_map__size(&w->labels[0]) >= STORE_LABELS_GENERATION) {
		struct store_map older = w->labels[1];

		w->labels[1] = w->labels[0];
		store_map__clear(&older);
		w->labels[0] = older;
	}
	return store_map__put(&w->labels[0], k, 7 * sizeof(*k), id, NULL);
}

static int cache_labels(void *ctx, const struct store_row *row)
{
	struct store_writer *w = ctx;

	w->max_label = row->id;
	return remember_labels(w, row->v, row->id);
}

/*
 * Bring the complete caches up to date, under the write lock: rows another
 * writer added since (ids above what we hold), or everything after a
 * collection (gc_generation moved: ids may have been reused).
 */
static int sync_caches(struct store_sqlite *db)
{
	struct store_writer *w = db->writer;
	int64_t g, labels_after;
	char *gen = NULL;
	int r;

	r = store_sqlite__get_meta(&db->base, "gc_generation", &gen);
	if (r < 0 && r != -ENOENT)
		return r;
	g = gen ? atoll(gen) : 0;
	free(gen);
	if (!w->mirror_valid || g != w->mirror_generation) {
		drop_caches(db->writer);
		w->mirror_generation = g;
	}
	/* Label sets: a first load reads the newest two generations' worth
	 * (what the generations would keep of all of them). */
	labels_after = w->max_label;
	if (!labels_after) {
		r = store_sql__query_int(db, "SELECT coalesce(max(last), 0) FROM label_chunks",
					 &labels_after);
		if (r < 0)
			return r;
		labels_after = MAX(labels_after - 2 * (int64_t)STORE_LABELS_GENERATION, 0);
	}
	if ((r = load_strings(db)) < 0 ||
	    (r = load_packed(db, CACHE_FUNCTION, STORE_PACKED_FUNCTIONS, 3)) < 0 ||
	    (r = load_packed(db, CACHE_FRAME, STORE_PACKED_FRAMES, 5)) < 0 ||
	    (r = store_packed__load(db, STORE_PACKED_NODES, w->max_node,
				    index_node, w)) < 0 ||
	    (r = store_packed__load(db, STORE_PACKED_LABELS, labels_after,
				    cache_labels, w)) < 0)
		return r;
	w->mirror_valid = true;
	return 0;
}

/* String id of text; 0 for NULL ("none"). */
static int string_id(struct store_sqlite *db, const char *text, int64_t *ret_id)
{
	if (!text) {
		*ret_id = 0;
		return 0;
	}
	return string_get_or_add(db, text, strlen(text), ret_id);
}

static int packed_add(struct store_sqlite *db, enum store_packed_table t,
		      int64_t id, const int64_t *vals, int n, int64_t *ret_id);

static int labels_id(struct store_sqlite *db, const struct store_labels *l,
		     int64_t *ret_id)
{
	static const struct store_labels none;
	struct store_writer *w = db->writer;
	int64_t k[7], id;
	int r;

	if (!l)
		l = &none;
	if ((r = string_id(db, l->host, &k[0])) < 0 ||
	    (r = string_id(db, l->process, &k[1])) < 0 ||
	    (r = string_id(db, l->thread, &k[3])) < 0 ||
	    (r = string_id(db, l->extra, &k[6])) < 0)
		return r;
	k[2] = l->pid;
	k[4] = l->tid;
	k[5] = (int64_t)l->cgroup_id;
	if (store_map__get(&w->labels[0], k, sizeof(k), &id)) {
		*ret_id = id;
		return 0;
	}
	if (store_map__get(&w->labels[1], k, sizeof(k), &id)) {
		r = remember_labels(w, k, id);
		if (r < 0)
			return store_sql__fail_msg(db, r, "out of memory");
		*ret_id = id;
		return 0;
	}
	id = w->max_label + 1;
	r = remember_labels(w, k, id);
	if (r < 0)
		return store_sql__fail_msg(db, r, "out of memory");
	w->max_label = id;
	return packed_add(db, STORE_PACKED_LABELS, id, k, 7, ret_id);
}

/* A new row of packed table t with columns vals and the next id, written
 * at commit. Returns 0 and *ret_id, or -ENOMEM. */
static int packed_add(struct store_sqlite *db, enum store_packed_table t,
		      int64_t id, const int64_t *vals, int n, int64_t *ret_id)
{
	struct store_writer *w = db->writer;
	struct store_row row = { .id = id };
	int r;

	memcpy(row.v, vals, (size_t)n * sizeof(*vals));
	r = store_rows__push(&w->new_rows[t], &row);
	if (r < 0)
		return store_sql__fail_msg(db, r, "out of memory");
	*ret_id = id;
	return 0;
}

/* The id of the frame or function with columns vals: from the cache (a
 * complete copy of the table's keys), else a new row. */
static int packed_id(struct store_sqlite *db, enum store_cache cache,
		     enum store_packed_table t, const int64_t *vals, int n,
		     int64_t *ret_id)
{
	struct store_writer *w = db->writer;
	struct store_map *map = &w->caches[cache];
	int64_t id;
	int r;

	if (store_map__get(map, vals, (size_t)n * sizeof(*vals), &id)) {
		*ret_id = id;
		return 0;
	}
	id = w->cache_max_id[cache] + 1;
	r = store_map__put(map, vals, (size_t)n * sizeof(*vals), id, NULL);
	if (r < 0)
		return store_sql__fail_msg(db, r, "out of memory");
	w->cache_max_id[cache] = id;
	return packed_add(db, t, id, vals, n, ret_id);
}

static int frame_id(struct store_sqlite *db, const struct store_frame *f,
		    int64_t *ret_id)
{
	int64_t fn[3], fr[5];
	int r;

	if (!f->name)
		return store_sql__fail_msg(db, -EINVAL, "frame without a name");
	/* The name of code without a symbol, "BASE+0xHEX", is kept as the
	 * number (below 0), not as a string of its own. */
	fn[0] = store_name__derived(f->name, f->module);
	if ((!fn[0] && (r = string_id(db, f->name, &fn[0])) < 0) ||
	    (r = string_id(db, f->module, &fn[1])) < 0 ||
	    (r = string_id(db, f->file, &fn[2])) < 0 ||
	    (r = string_id(db, f->build_id, &fr[2])) < 0)
		return r;
	r = packed_id(db, CACHE_FUNCTION, STORE_PACKED_FUNCTIONS, fn, 3, &fr[0]);
	if (r < 0)
		return r;
	fr[1] = f->line;
	fr[3] = (int64_t)f->offset;
	fr[4] = f->kind;
	return packed_id(db, CACHE_FRAME, STORE_PACKED_FRAMES, fr, 5, ret_id);
}

/* frame_id() of an interned frame, through the memo. */
static int interned_frame_id(struct store_sqlite *db, const struct store_frame *f,
			     int64_t *ret_id)
{
	struct store_writer *w = db->writer;
	struct frame_memo_key k = {
		.name = f->name,
		.module = f->module,
		.build_id = f->build_id,
		.file = f->file,
		.offset = f->offset,
		.line = f->line,
		.kind = (uint32_t)f->kind,
	};
	struct frame_memo_entry *e = common_map__find(&w->frame_memo[0], &frame_memo_type, &k);
	int64_t id;
	int r;

	if (e) {
		*ret_id = e->id;
		return 0;
	}
	e = common_map__find(&w->frame_memo[1], &frame_memo_type, &k);
	if (e) {
		id = e->id;
	} else {
		r = frame_id(db, f, &id);
		if (r < 0)
			return r;
	}
	if (common_map__size(&w->frame_memo[0]) >= STORE_FRAME_MEMO_MAX / 2) {
		struct common_map older = w->frame_memo[1];

		w->frame_memo[1] = w->frame_memo[0];
		common_map__clear(&older);
		w->frame_memo[0] = older;
		w->frame_memo_resets++;
	}
	/* Out of memory, the frame is only not remembered. */
	if (common_map__insert(&w->frame_memo[0], &frame_memo_type, &k, (void **)&e) >= 0)
		e->id = id;
	*ret_id = id;
	return 0;
}

void store_sqlite__forget_interned(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);

	if (db && db->writer) {
		common_map__clear(&db->writer->frame_memo[0]);
		common_map__clear(&db->writer->frame_memo[1]);
	}
}

void store_sqlite__frame_memo_stats(const struct store_db *handle, uint64_t *ret_bytes,
				    uint64_t *ret_resets)
{
	struct store_sqlite *db = store_sqlite__of((struct store_db *)handle);
	struct store_writer *w = db ? db->writer : NULL;

	*ret_bytes = w ? common_map__bytes(&w->frame_memo[0], &frame_memo_type) +
			 common_map__bytes(&w->frame_memo[1], &frame_memo_type) : 0;
	*ret_resets = w ? w->frame_memo_resets : 0;
}

static int step_done(struct store_sqlite *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}

/* The node under parent with frame: from the index, else the next id
 * (written to the trie at commit). */
static int node_id(struct store_sqlite *db, int64_t parent, int64_t frame,
		   int64_t *ret_id)
{
	struct store_writer *w = db->writer;
	struct store_sum *e = store_sums__find(&w->nodes, parent, frame);
	int64_t id, vals[2] = { parent, frame };
	int r;

	if (e) {
		*ret_id = (int64_t)e->count;
		return 0;
	}
	id = w->max_node + 1;
	r = store_sums__add(&w->nodes, parent, frame, (uint64_t)id);
	if (r < 0)
		return store_sql__fail_msg(db, r, "out of memory");
	w->max_node = id;
	return packed_add(db, STORE_PACKED_NODES, id, vals, 2, ret_id);
}

/* The writer of db with a flush open, or NULL (and the message said). */
static struct store_writer *flushing(struct store_sqlite *db)
{
	if (!db->writer || !db->writer->in_flush) {
		store_sql__fail_msg(db, -EINVAL, "no open flush");
		return NULL;
	}
	return db->writer;
}

int store_sqlite__begin(struct store_db *handle, int64_t time_s, uint32_t duration_s)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_writer *w;
	int r;

	if (!db)
		return -EINVAL;
	if (!db->writable)
		return store_sql__fail_msg(db, -EROFS, "read-only handle");
	if (!db->writer && !(db->writer = calloc(1, sizeof(*db->writer))))
		return store_sql__fail_msg(db, -ENOMEM, "out of memory");
	w = db->writer;
	if (w->in_flush)
		return store_sql__fail_msg(db, -EBUSY, "a flush is already open");
	r = store_sql__exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = sync_caches(db);
	if (r < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		drop_caches(w);
		return r;
	}
	w->in_flush = true;
	w->flush_time_s = time_s;
	w->flush_duration_s = duration_s;
	return 0;
}

int store_sqlite__add_stack(struct store_db *handle, const struct store_labels *labels,
			const struct store_frame *frames, size_t n_frames,
			uint64_t count)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_writer *w;
	int64_t labels_set = 0, node = 0, frame;
	int r;

	if (!db || (n_frames && !frames))
		return -EINVAL;
	if (!(w = flushing(db)))
		return -EINVAL;
	r = labels_id(db, labels, &labels_set);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_frames; i++) {
		r = frames[i].interned ? interned_frame_id(db, &frames[i], &frame) :
					 frame_id(db, &frames[i], &frame);
		if (r < 0)
			return r;
		r = node_id(db, node, frame, &node);
		if (r < 0)
			return r;
	}
	/* Counted in memory; the flush's block is written at commit. */
	r = store_sums__add(&w->flush_sums, labels_set, node, count);
	if (r >= 0 && db->ship)
		r = store_ship__add(db->ship, labels, frames, n_frames, count);
	return r < 0 ? store_sql__fail_msg(db, r, "out of memory") : 0;
}

/* A (time, name) -> count row of drops or events, summed. */
static int add_count(struct store_sqlite *db, enum store_stmt id, const char *name,
		     uint64_t count)
{
	struct store_writer *w;
	sqlite3_stmt *st;
	int64_t reason_id;
	int r;

	if (!db || !name)
		return -EINVAL;
	if (!(w = flushing(db)))
		return -EINVAL;
	r = string_id(db, name, &reason_id);
	if (r < 0)
		return r;
	r = stmt(db, id, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, w->flush_time_s);
	sqlite3_bind_int64(st, 2, reason_id);
	sqlite3_bind_int64(st, 3, (int64_t)count);
	r = step_done(db, st);
	if (r >= 0 && db->ship &&
	    store_ship__add_drop(db->ship, id == STMT_EVENT_ADD, name, count) < 0)
		r = store_sql__fail_msg(db, -ENOMEM, "out of memory");
	return r;
}

int store_sqlite__add_drops(struct store_db *handle, const char *reason, uint64_t count)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	return add_count(db, STMT_DROP_ADD, reason, count);
}

int store_sqlite__add_events(struct store_db *handle, const char *name, uint64_t count)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	return add_count(db, STMT_EVENT_ADD, name, count);
}

int store_sqlite__commit(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_writer *w;
	sqlite3_stmt *st;
	int r;

	if (!db)
		return -EINVAL;
	if (!(w = flushing(db)))
		return -EINVAL;
	for (int t = 0; t < STORE_PACKED_COUNT; t++) {
		r = store_packed__append(db, t, w->new_rows[t].v,
					 w->new_rows[t].n);
		w->new_rows[t].n = 0;
		if (r < 0)
			goto fail;
	}
	if (w->flush_sums.n) {
		r = store_block__put(db, w->flush_time_s, w->flush_duration_s,
				     &w->flush_sums);
		store_sums__clear(&w->flush_sums);
		if (r < 0)
			goto fail;
	}
	r = stmt(db, STMT_FLUSH_ADD, &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, w->flush_time_s);
	sqlite3_bind_int64(st, 2, w->flush_duration_s);
	r = step_done(db, st);
	if (r < 0)
		goto fail;
	if (db->ship) {
		/* in the flush's transaction: shipped if and only if stored */
		r = store_outbox__put(db, w->flush_time_s, w->flush_duration_s);
		if (r < 0)
			goto fail;
	}
	r = store_sql__exec(db, "COMMIT");
	if (r < 0)
		goto fail;
	w->in_flush = false;
	if (db->ship)
		store_ship__committed(db->ship);
	return 0;
fail:
	store_sqlite__rollback(&db->base);
	/* A full disk: what earlier flushes committed goes from the WAL
	 * into the file (when the file can grow), so the next flush writes
	 * the WAL from its start in the space it already has instead of
	 * growing it. Without this a WAL that needed to grow stayed as it
	 * was for good: the automatic checkpoint follows only a commit that
	 * succeeded. */
	store_sql__checkpoint(db, STORE_CHECKPOINT_PASSIVE);
	return r;
}

void store_sqlite__rollback(struct store_db *handle)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	struct store_writer *w = db ? db->writer : NULL;

	if (!w || !w->in_flush)
		return;
	/* Keep the error message of what made the caller give up. */
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	w->in_flush = false;
	store_sums__clear(&w->flush_sums);
	if (db->ship)
		store_ship__abort(db->ship);
	/* Ids cached during the flush may name rows that are now gone. */
	drop_caches(w);
}

bool store_write__in_flush(const struct store_sqlite *db)
{
	return db->writer && db->writer->in_flush;
}

int store_write__flush_time(struct store_sqlite *db, int64_t *ret_time_s)
{
	struct store_writer *w = flushing(db);

	if (!w)
		return -EINVAL;
	*ret_time_s = w->flush_time_s;
	return 0;
}

struct store_map *store_write__modules(struct store_sqlite *db)
{
	return db->writer && db->writer->in_flush ? &db->writer->modules : NULL;
}

size_t store_write__bytes(const struct store_sqlite *db)
{
	const struct store_writer *w = db->writer;
	size_t n;

	if (!w)
		return 0;
	n = sizeof(*w) + store_sums__bytes(&w->flush_sums) + store_sums__bytes(&w->nodes) +
	    store_map__bytes(&w->labels[0]) + store_map__bytes(&w->labels[1]) +
	    store_map__bytes(&w->modules);
	for (size_t i = 0; i < CACHE_COUNT; i++)
		n += store_map__bytes(&w->caches[i]);
	for (size_t i = 0; i < STORE_PACKED_COUNT; i++)
		n += store_rows__bytes(&w->new_rows[i]);
	return n;
}

void store_write__close(struct store_sqlite *db)
{
	struct store_writer *w = db->writer;

	if (!w)
		return;
	store_sqlite__rollback(&db->base);
	for (size_t i = 0; i < CACHE_COUNT; i++)
		store_map__free(&w->caches[i]);
	store_sums__free(&w->flush_sums);
	store_sums__free(&w->nodes);
	store_map__free(&w->labels[0]);
	store_map__free(&w->labels[1]);
	store_map__free(&w->modules);
	common_map__fini(&w->frame_memo[0]);
	common_map__fini(&w->frame_memo[1]);
	for (size_t i = 0; i < STORE_PACKED_COUNT; i++)
		store_rows__free(&w->new_rows[i]);
	free(w);
	db->writer = NULL;
}
