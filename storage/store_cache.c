/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_cache.c — layer 3 (storage/DESIGN.md): a handle's read cache,
 * what turns the ids of sample blocks into trees. Arrays by id of stack
 * nodes (parent, frame), of frames (their texts interned, each frame's
 * identity: the first frame id with the same name, module, file, line and
 * kind; its offset and build-id for pprof) and of label sets (process
 * names and pids apart, for trees; the filters are matched here, per
 * label set), filled from the packed tables (store_packed.c) and the
 * strings rows at the start of every read. Ids only grow
 * between collections, so a read loads only the rows above what it
 * holds; a collection (gc_generation moved) empties it. Texts are
 * interned in one map whose arena trees keep a reference to, so a tree
 * outlives the cache it was built from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_cache.h"

/* Empty c (its texts live on in the trees that hold their arena). */
static void cache_clear(struct store_read_cache *c)
{
	free(c->nodes);
	free(c->string_text);
	free(c->functions);
	free(c->frames);
	free(c->frame_ident);
	free(c->frame_offset);
	free(c->frame_build_id);
	store_map__free(&c->idents);
	free(c->set_process);
	free(c->set_pid);
	free(c->sets);
	store_map__free(&c->strings);
	memset(c, 0, sizeof(*c));
}

static int intern(struct store_read_cache *c, const char *text,
		  const char **ret)
{
	const void *key;
	int r;

	if (!text) {
		*ret = NULL;
		return 0;
	}
	r = store_map__put(&c->strings, text, strlen(text), 0, &key);
	if (r < 0)
		return r;
	*ret = key;
	return 0;
}

static int cache_node(void *ctx, const struct store_row *n)
{
	struct store_read_cache *c = ctx;
	struct store_cached_node *cn;
	int r;

	if (n->id >= UINT32_MAX)
		return -EINVAL;
	r = store_fit((void **)&c->nodes, &c->node_cap, sizeof(*c->nodes), n->id);
	if (r < 0)
		return r;
	cn = &c->nodes[n->id];
	if (n->v[0] >= 0 && n->v[0] < UINT32_MAX && n->v[1] > 0 &&
	    n->v[1] < UINT32_MAX) {
		cn->parent = (uint32_t)n->v[0];
		cn->frame = (uint32_t)n->v[1];
	} else {
		cn->parent = cn->frame = 0;
	}
	c->max_node = n->id;
	return 0;
}

static int load_nodes(struct store_sqlite *db, struct store_read_cache *c)
{
	return store_packed__load(db, STORE_PACKED_NODES, c->max_node,
				  cache_node, c);
}

static int cache_string(void *ctx, int64_t id, const char *text, size_t len)
{
	struct store_read_cache *c = ctx;
	int r;

	(void)len;
	if ((r = store_fit((void **)&c->string_text, &c->string_cap,
			   sizeof(*c->string_text), id)) < 0 ||
	    (r = intern(c, text, &c->string_text[id])) < 0)
		return r;
	if (id > c->max_string)
		c->max_string = id;
	return 0;
}

static int load_strings(struct store_sqlite *db, struct store_read_cache *c)
{
	return store_packed__load_strings(db, c->max_string, cache_string, c);
}

/* The text of string id; NULL for 0 ("none") and unknown ids (a file
 * that lost a string reads as a missing value, as a LEFT JOIN would). */
static const char *string_of(const struct store_read_cache *c, int64_t id)
{
	return id > 0 && id <= c->max_string ? c->string_text[id] : NULL;
}

static int cache_function(void *ctx, const struct store_row *row)
{
	struct store_read_cache *c = ctx;
	struct store_cached_function *f;
	int r;

	r = store_fit((void **)&c->functions, &c->function_cap,
		      sizeof(*c->functions), row->id);
	if (r < 0)
		return r;
	f = &c->functions[row->id];
	f->module = string_of(c, row->v[1]);
	if (row->v[0] < 0) {
		/* "BASE+0xHEX" of code without a symbol, made from the
		 * module (a derived name without one stays unnamed) */
		char buf[4096];

		r = intern(c, store_name__text(row->v[0], f->module, buf, sizeof(buf)),
			   &f->name);
		if (r < 0)
			return r;
	} else {
		f->name = string_of(c, row->v[0]);
	}
	f->file = string_of(c, row->v[2]);
	f->known = true;
	c->max_function = row->id;
	return 0;
}

static int cache_frame(void *ctx, const struct store_row *row)
{
	struct store_read_cache *c = ctx;
	const struct store_cached_function *fn;
	struct store_tree_node *f;
	size_t cap = c->frame_cap;
	uint64_t key[5];
	int64_t ident;
	int r;

	if ((r = store_fit((void **)&c->frame_ident, &cap, sizeof(int64_t), row->id)) < 0 ||
	    (cap = c->frame_cap,
	     r = store_fit((void **)&c->frame_offset, &cap, sizeof(uint64_t), row->id)) < 0 ||
	    (cap = c->frame_cap,
	     r = store_fit((void **)&c->frame_build_id, &cap, sizeof(char *), row->id)) < 0 ||
	    (r = store_fit((void **)&c->frames, &c->frame_cap, sizeof(*c->frames), row->id)) < 0)
		return r;
	c->max_frame = row->id;
	if (row->v[0] > c->max_function || !c->functions[row->v[0]].known)
		/* A frame of a function that is gone: it stays unnamed, and a
		 * tree that needs it reports a corrupt file. */
		return 0;
	fn = &c->functions[row->v[0]];
	f = &c->frames[row->id];
	f->name = fn->name ? fn->name : "[unknown]";
	f->module = fn->module;
	f->file = fn->file;
	f->line = (uint32_t)row->v[1];
	f->kind = (enum store_frame_kind)row->v[4];
	c->frame_build_id[row->id] = string_of(c, row->v[2]);
	c->frame_offset[row->id] = (uint64_t)row->v[3];
	/* Frames that differ only in offset or build-id are one frame in a
	 * tree: give them one identity. */
	key[0] = (uintptr_t)f->name;
	key[1] = (uintptr_t)f->module;
	key[2] = (uintptr_t)f->file;
	key[3] = f->line;
	key[4] = (uint64_t)f->kind;
	if (!store_map__get(&c->idents, key, sizeof(key), &ident)) {
		ident = row->id;
		r = store_map__put(&c->idents, key, sizeof(key), row->id, NULL);
		if (r < 0)
			return r;
	}
	c->frame_ident[row->id] = ident;
	return 0;
}

/* Strings first: functions name them; functions before the frames that
 * name them. Within one snapshot every reference is loaded. */
static int load_frames(struct store_sqlite *db, struct store_read_cache *c)
{
	int r;

	if ((r = load_strings(db, c)) < 0 ||
	    (r = store_packed__load(db, STORE_PACKED_FUNCTIONS, c->max_function,
				    cache_function, c)) < 0)
		return r;
	return store_packed__load(db, STORE_PACKED_FRAMES, c->max_frame,
				  cache_frame, c);
}

/* A string id as a cache's 32-bit one: an id past that reads as none
 * (a file that lost a string). */
static uint32_t string_id32(int64_t id)
{
	return id > 0 && id < UINT32_MAX ? (uint32_t)id : 0;
}

static int cache_set(void *ctx, const struct store_row *row)
{
	struct store_read_cache *c = ctx;
	int64_t id = row->id;
	size_t cap = c->set_cap;
	int r;

	if ((r = store_fit((void **)&c->set_pid, &cap, sizeof(*c->set_pid), id)) < 0 ||
	    (cap = c->set_cap,
	     r = store_fit((void **)&c->sets, &cap, sizeof(*c->sets), id)) < 0 ||
	    (r = store_fit((void **)&c->set_process, &c->set_cap,
			   sizeof(*c->set_process), id)) < 0)
		return r;
	c->set_process[id] = string_of(c, row->v[1]);
	if (!c->set_process[id])
		c->set_process[id] = "[unknown]";
	c->set_pid[id] = (uint32_t)row->v[2];
	c->sets[id] = (struct store_cached_set){
		.host = string_id32(row->v[0]),
		.process = string_id32(row->v[1]),
		.thread = string_id32(row->v[3]),
		.tid = (uint32_t)row->v[4],
		.cgroup_id = (uint64_t)row->v[5],
		.extra = string_id32(row->v[6]),
	};
	c->max_set = id;
	return 0;
}

/* After the strings they name. */
static int load_sets(struct store_sqlite *db, struct store_read_cache *c)
{
	return store_packed__load(db, STORE_PACKED_LABELS, c->max_set, cache_set, c);
}

bool store_cache__labels(const struct store_read_cache *c, int64_t id,
			 struct store_labels *ret)
{
	const struct store_cached_set *s;

	if (id <= 0 || id > c->max_set || !c->set_process[id])
		return false;
	s = &c->sets[id];
	*ret = (struct store_labels){
		.host = string_of(c, s->host),
		.process = string_of(c, s->process),
		.pid = c->set_pid[id],
		.thread = string_of(c, s->thread),
		.tid = s->tid,
		.cgroup_id = s->cgroup_id,
		.extra = string_of(c, s->extra),
	};
	return true;
}

int store_cache__filter(const struct store_read_cache *c, const struct store_filter *f,
			struct store_lsset *ret)
{
	struct store_lsset s = { .n = (size_t)c->max_set + 1 };

	s.bits = calloc(s.n / 8 + 1, 1);
	if (!s.bits)
		return -ENOMEM;
	for (int64_t id = 1; id <= c->max_set; id++) {
		struct store_labels l;

		if (store_cache__labels(c, id, &l) && store_filter__match(f, &l))
			s.bits[id / 8] |= (uint8_t)(1u << (id % 8));
	}
	*ret = s;
	return 0;
}

/* Bring c up to date: rows with ids above what it holds (ids only grow),
 * or all of them after a collection. */
static int refresh(struct store_sqlite *db, struct store_read_cache *c)
{
	char *gen = NULL;
	int r;

	/* Retention collected rows since the cache was filled: ids may
	 * have been reused; start over. */
	r = store_sqlite__get_meta(&db->base, "gc_generation", &gen);
	if (r < 0 && r != -ENOENT)
		return r;
	if ((gen ? atoll(gen) : 0) != c->generation) {
		cache_clear(c);
		c->generation = gen ? atoll(gen) : 0;
	}
	free(gen);
	if ((r = load_nodes(db, c)) < 0 || (r = load_frames(db, c)) < 0 ||
	    (r = load_sets(db, c)) < 0)
		return r;
	return 0;
}

int store_cache__read_begin(struct store_sqlite *db, struct store_read_cache **ret_cache)
{
	int r;

	if (!db->cache && !(db->cache = calloc(1, sizeof(*db->cache))))
		return -ENOMEM;
	r = store_sql__read_begin(db, "rd");
	if (r < 0)
		return r;
	r = refresh(db, db->cache);
	if (r == -EUCLEAN)
		r = store_sql__fail_msg(db, r, "damaged stack, frame, string or label tables "
				       "(used by every time range): a page of the file "
				       "fails its checksum");
	if (r < 0) {
		store_cache__read_end(db);
		return r;
	}
	*ret_cache = db->cache;
	return 0;
}

void store_cache__read_end(struct store_sqlite *db)
{
	store_sql__read_end(db, "rd");
}

size_t store_cache__bytes(const struct store_sqlite *db)
{
	const struct store_read_cache *c = db->cache;

	if (!c)
		return 0;
	return sizeof(*c) + c->node_cap * sizeof(*c->nodes) +
	       c->string_cap * sizeof(*c->string_text) +
	       c->function_cap * sizeof(*c->functions) +
	       c->frame_cap * (sizeof(*c->frames) + sizeof(*c->frame_ident) +
			       sizeof(*c->frame_offset) + sizeof(*c->frame_build_id)) +
	       c->set_cap * (sizeof(*c->set_process) + sizeof(*c->set_pid) + sizeof(*c->sets)) +
	       store_map__bytes(&c->idents) + store_map__bytes(&c->strings);
}

void store_cache__close(struct store_sqlite *db)
{
	if (!db->cache)
		return;
	cache_clear(db->cache);
	free(db->cache);
	db->cache = NULL;
}

int store_cache__scan(struct store_sqlite *db, const struct store_read_cache *c,
		      const struct store_query *q, store_block_fn fn, void *ctx)
{
	struct store_lsset allow = { 0 };
	int r;

	if (q && q->filter) {
		r = store_cache__filter(c, q->filter, &allow);
		if (r < 0)
			return store_sql__fail_msg(db, r, "out of memory");
	}
	r = store_block__scan(db, q, allow.bits ? &allow : NULL, fn, ctx);
	store_lsset__free(&allow);
	return r;
}
