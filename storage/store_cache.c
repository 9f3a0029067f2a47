/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_cache.c — layer 3 (storage/DESIGN.md): a handle's read cache,
 * what turns the ids of sample blocks into trees. Arrays by id of stack
 * nodes (parent, frame), of frames (their texts interned, each frame's
 * identity: the first frame id with the same name, module, file, line and
 * kind; its offset and build-id for pprof) and of label sets' process
 * names and pids, filled from the packed tables (store_packed.c) and the
 * strings and label_sets rows at the start of every read. Ids only grow
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
	f->name = string_of(c, row->v[0]);
	f->module = string_of(c, row->v[1]);
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

static int load_sets(struct store_sqlite *db, struct store_read_cache *c)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT l.id, s.text, l.pid FROM label_sets l "
				"LEFT JOIN strings s ON s.id = l.process "
				"WHERE l.id > ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, c->max_set);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		size_t cap = c->set_cap;

		if ((r = store_fit((void **)&c->set_pid, &cap, sizeof(*c->set_pid), id)) < 0 ||
		    (r = store_fit((void **)&c->set_process, &c->set_cap,
				   sizeof(*c->set_process), id)) < 0)
			break;
		r = intern(c, (const char *)sqlite3_column_text(st, 1),
			   &c->set_process[id]);
		if (r < 0)
			break;
		if (!c->set_process[id])
			c->set_process[id] = "[unknown]";
		c->set_pid[id] = (uint32_t)sqlite3_column_int64(st, 2);
		if (id > c->max_set)
			c->max_set = id;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return r;
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

void store_cache__close(struct store_sqlite *db)
{
	if (!db->cache)
		return;
	cache_clear(db->cache);
	free(db->cache);
	db->cache = NULL;
}
