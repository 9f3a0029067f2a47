/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_defs.c — the fleet store's definitions' cache (storage/DESIGN.md,
 * Fleet, Reading; the structure in store_ch_reader.h): the stacks, frames
 * and functions the trees named, read from ClickHouse's small definition
 * tables (never the samples) and kept by the handle, or shared by the
 * handles of a server's threads (store_ch_cache__new), so a later tree
 * asks only for the ids nobody has read yet. At most three requests a
 * fill: the stacks not cached, the frames of those not cached, the
 * functions of those not cached; each names its ids as one array
 * literal, CH_IDS_PER_REQUEST at most.
 *
 * Threads: the requests run without the cache's lock (a slow ClickHouse
 * holds up no other thread's tree); their rows are kept aside and added
 * under the lock, each only if no other thread added it meanwhile. A
 * drop for the bound (under the lock) bumps the generation: a fill that
 * sees it changed between its steps starts again, as the frames and
 * functions it found cached may be gone.
 *
 * Invariants (asserted where the cache grows): a stack is cached only
 * once all its frames are, a frame only once its function is, so a
 * cached stack's identities are all valid indexes of c->ident; entries
 * are never changed once added (ids are content hashes). The cache is
 * dropped whole (cache_clear) past its max_bytes, never trimmed.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch_reader.h"

/* Ids named in one request (its answer stays well inside the client's
 * 16 MiB: a stack's row takes about 200 bytes). */
#define CH_IDS_PER_REQUEST 32768

/* Empty c (its lock, references and bound stay); a drop when bumped. */
static void cache_clear(struct store_ch_cache *c, bool bump)
{
	store_map__free(&c->texts);
	store_map__free(&c->functions);
	store_map__free(&c->frames);
	store_map__free(&c->stacks);
	store_map__free(&c->idents);
	free(c->function);
	free(c->frame);
	free(c->stack);
	free(c->ident);
	free(c->idents_of);
	memset(&c->texts, 0, sizeof(*c) - offsetof(struct store_ch_cache, texts));
	if (bump)
		c->generation++;
}

int store_ch_cache__new(size_t max_bytes, struct store_ch_cache **ret)
{
	struct store_ch_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return -ENOMEM;
	}
	c->refs = 1;
	c->max_bytes = max_bytes;
	*ret = c;
	return 0;
}

void store_ch_cache__ref(struct store_ch_cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
}

void store_ch_cache__unref(struct store_ch_cache *c)
{
	unsigned left;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left)
		return;
	cache_clear(c, false);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void store_ch_cache__stats(struct store_ch_cache *c, uint64_t *ret_bytes, uint64_t *ret_drops)
{
	pthread_mutex_lock(&c->lock);
	*ret_bytes = c->bytes;
	*ret_drops = c->generation;
	pthread_mutex_unlock(&c->lock);
}

/* text interned in the cache (NULL and "" stay NULL when empty_null). */
int store_ch_cache__text(struct store_ch_cache *c, const char *text, bool empty_null, const char **ret)
{
	size_t len, n;
	const void *key;
	int r;

	if (!text || (empty_null && !*text)) {
		*ret = NULL;
		return 0;
	}
	len = strlen(text);
	n = store_map__size(&c->texts);
	r = store_map__put(&c->texts, text, len, 0, &key);
	if (r < 0)
		return r;
	if (store_map__size(&c->texts) > n) /* (counted once: when new) */
		c->bytes += len + 1 + 16;
	*ret = key;
	return 0;
}

/* The identity of a frame (texts interned): its index in c->ident. */
int store_ch_cache__ident(struct store_ch_cache *c, const struct store_tree_node *nd, uint32_t *ret)
{
	struct {
		uint64_t name, module, file;
		uint32_t line, kind;
	} key = {
		(uintptr_t)nd->name, (uintptr_t)nd->module, (uintptr_t)nd->file,
		nd->line, (uint32_t)nd->kind,
	};
	int64_t found;
	int r;

	if (store_map__get(&c->idents, &key, sizeof(key), &found)) {
		*ret = (uint32_t)found;
		return 0;
	}
	if (c->n_ident >= UINT32_MAX || COMMON_GROW(c->ident, c->cap_ident, c->n_ident + 1))
		return -ENOMEM;
	r = store_map__put(&c->idents, &key, sizeof(key), (int64_t)c->n_ident, NULL);
	if (r < 0)
		return r;
	c->ident[c->n_ident] = *nd;
	c->bytes += sizeof(key) + 16 + sizeof(*nd);
	*ret = (uint32_t)c->n_ident++;
	return 0;
}

/* Definitions a query asked for, kept until all three tables answered:
 * a stack goes into the cache once its frames are there, a frame once
 * its function is. */
struct pending {
	uint64_t *stack_id;  /* n_stack */
	size_t *stack_first; /* n_stack + 1: into frame_ids */
	uint64_t *frame_ids; /* the stacks' frames, root first */
	struct { uint64_t id, function, offset; uint32_t line, kind; const char *build_id; } *frame;
	struct { uint64_t id; const char *name, *module, *file; } *function;
	size_t n_stack, cap_stack, cap_first, n_frame_ids, cap_frame_ids, n_frame, cap_frame;
	size_t n_function, cap_function;
	char **texts;        /* answers the build-ids and names point into */
	size_t n_texts, cap_texts;
};

static void pending_free(struct pending *p)
{
	free(p->stack_id);
	free(p->stack_first);
	free(p->frame_ids);
	free(p->frame);
	free(p->function);
	for (size_t i = 0; i < p->n_texts; i++)
		free(p->texts[i]);
	free(p->texts);
	memset(p, 0, sizeof(*p));
}

/* Ask for the rows of table whose id is in ids[0..n) (distinct), in
 * requests of CH_IDS_PER_REQUEST ids; each answer is handed to row(). */
typedef int (*row_fn)(struct store_chdb *db, char **f, size_t n_fields, struct pending *p);

static int ask_ids(struct store_chdb *db, const char *select, const char *id, const char *what,
		   const uint64_t *ids, size_t n, size_t width, row_fn row, struct pending *p)
{
	int err = 0;

	for (size_t at = 0; at < n && !err; at += CH_IDS_PER_REQUEST) {
		size_t end = MIN(n, at + CH_IDS_PER_REQUEST);
		char *text = NULL, *cur, *f[6];
		size_t got;
		struct store_ch_sql s;

		if (store_ch_sql__open(&s))
			return store_chdb__fail(db, -ENOMEM, "out of memory");
		/* (an array literal, which ClickHouse parses as one literal:
		 * 8192 ids as a list "IN (1,2,...)" took 150 ms to parse;
		 * toUInt64, as an array of small ids is typed UInt16, which
		 * 18.16's IN refuses against a UInt64 column) */
		fprintf(s.f, "%s WHERE %s IN (SELECT toUInt64(arrayJoin([", select, id);
		for (size_t i = at; i < end; i++)
			fprintf(s.f, "%s%llu", i > at ? "," : "", (unsigned long long)ids[i]);
		fprintf(s.f, "]))) GROUP BY %s", id);
		if (store_ch_sql__close(&s))
			return store_chdb__fail(db, -ENOMEM, "out of memory");
		err = store_chdb__ask(db, s.buf, what, &text);
		free(s.buf);
		for (cur = text; !err && (got = store_ch__next_row(&cur, f, width)) > 0;)
			if (got == width)
				err = row(db, f, width, p);
		if (!err && COMMON_GROW(p->texts, p->cap_texts, p->n_texts + 1))
			err = store_chdb__fail(db, -ENOMEM, "out of memory");
		if (err)
			free(text);
		else
			p->texts[p->n_texts++] = text; /* (rows point into it) */
	}
	return err;
}

/* "[1,2,3]" into p->frame_ids. Returns the count, or -EINVAL. */
static int parse_ids(struct pending *p, const char *text)
{
	size_t n = 0;

	if (*text++ != '[')
		return -EINVAL;
	while (*text && *text != ']') {
		char *end;
		uint64_t v = strtoull(text, &end, 10);

		if (end == text)
			return -EINVAL;
		if (COMMON_GROW(p->frame_ids, p->cap_frame_ids, p->n_frame_ids + 1))
			return -ENOMEM;
		p->frame_ids[p->n_frame_ids++] = v;
		n++;
		text = end + (*end == ',');
	}
	return n > UINT32_MAX / 2 ? -EINVAL : (int)n;
}

static int stack_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	int n;

	if (COMMON_GROW(p->stack_id, p->cap_stack, p->n_stack + 1) ||
	    COMMON_GROW(p->stack_first, p->cap_first, p->n_stack + 2))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	p->stack_first[p->n_stack] = p->n_frame_ids;
	n = parse_ids(p, f[1]);
	if (n < 0)
		return n == -ENOMEM ? store_chdb__fail(db, n, "out of memory") :
			store_chdb__fail(db, -EIO, "ClickHouse gave a stack Ember cannot read");
	p->stack_id[p->n_stack++] = store_ch__num(f[0]);
	p->stack_first[p->n_stack] = p->n_frame_ids;
	return 0;
}

static int frame_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	if (COMMON_GROW(p->frame, p->cap_frame, p->n_frame + 1))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	p->frame[p->n_frame].id = store_ch__num(f[0]);
	p->frame[p->n_frame].function = store_ch__num(f[1]);
	p->frame[p->n_frame].line = (uint32_t)store_ch__num(f[2]);
	p->frame[p->n_frame].kind = (uint32_t)store_ch__num(f[3]);
	p->frame[p->n_frame].build_id = *f[4] ? f[4] : NULL;
	p->frame[p->n_frame].offset = store_ch__num(f[5]);
	p->n_frame++;
	return 0;
}

static int function_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	if (COMMON_GROW(p->function, p->cap_function, p->n_function + 1))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	p->function[p->n_function].id = store_ch__num(f[0]);
	p->function[p->n_function].name = f[1];
	p->function[p->n_function].module = f[2];
	p->function[p->n_function].file = f[3];
	p->n_function++;
	return 0;
}

/* The ids of v[0..n) that are not keys of have, each once, into *ret. */
static int missing(const struct store_map *have, const uint64_t *v, size_t n, uint64_t **ret,
		   size_t *ret_n)
{
	struct store_map seen = { 0 };
	uint64_t *out = NULL;
	size_t k = 0, cap = 0;
	int64_t x;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		if (store_map__get(have, &v[i], sizeof(v[i]), &x) ||
		    store_map__get(&seen, &v[i], sizeof(v[i]), &x))
			continue;
		err = store_map__put(&seen, &v[i], sizeof(v[i]), 0, NULL);
		if (!err && COMMON_GROW(out, cap, k + 1))
			err = -ENOMEM;
		if (!err)
			out[k++] = v[i];
	}
	store_map__free(&seen);
	if (err) {
		free(out);
		return err;
	}
	*ret = out;
	*ret_n = k;
	return 0;
}

/* Add p's definitions to c (c->lock held): functions, then frames,
 * then stacks, each unless there already (another thread's fill, or
 * twice in an answer: copies not merged yet). */
static int add_pending(struct store_chdb *db, struct store_ch_cache *c, struct pending *p)
{
	int err = 0;

	for (size_t i = 0; !err && i < p->n_function; i++) {
		struct store_ch_function fn;
		uint64_t id = p->function[i].id;
		int64_t fi;

		if (store_map__get(&c->functions, &id, sizeof(id), &fi))
			continue;
		if ((err = store_ch_cache__text(c, p->function[i].name, false, &fn.name)) < 0 ||
		    (err = store_ch_cache__text(c, p->function[i].module, true, &fn.module)) < 0 ||
		    (err = store_ch_cache__text(c, p->function[i].file, true, &fn.file)) < 0 ||
		    (err = COMMON_GROW(c->function, c->cap_function, c->n_function + 1)) < 0 ||
		    (err = store_map__put(&c->functions, &id, sizeof(id), (int64_t)c->n_function,
					  NULL)) < 0)
			break;
		c->function[c->n_function++] = fn;
		c->bytes += sizeof(fn) + sizeof(id) + 16;
	}
	/* frames, now that their functions are there */
	for (size_t i = 0; !err && i < p->n_frame; i++) {
		struct store_tree_node nd = { 0 };
		struct store_ch_frame fr = { .offset = p->frame[i].offset };
		int64_t fi;

		if (store_map__get(&c->frames, &p->frame[i].id, sizeof(p->frame[i].id), &fi))
			continue;
		if (!store_map__get(&c->functions, &p->frame[i].function,
				    sizeof(p->frame[i].function), &fi))
			return store_chdb__fail(db, -EIO, "the fleet store names a function it does not "
						"define (shipped out of order?)");
		assert((size_t)fi < c->n_function);
		nd.name = c->function[fi].name;
		nd.module = c->function[fi].module;
		nd.file = c->function[fi].file;
		nd.line = p->frame[i].line;
		nd.kind = (enum store_frame_kind)p->frame[i].kind;
		if ((err = store_ch_cache__ident(c, &nd, &fr.ident)) < 0 ||
		    (err = store_ch_cache__text(c, p->frame[i].build_id, true, &fr.build_id)) < 0 ||
		    (err = COMMON_GROW(c->frame, c->cap_frame, c->n_frame + 1)) < 0 ||
		    (err = store_map__put(&c->frames, &p->frame[i].id, sizeof(p->frame[i].id),
					  (int64_t)c->n_frame, NULL)) < 0)
			break;
		c->frame[c->n_frame++] = fr;
		c->bytes += sizeof(fr) + 24;
	}
	/* stacks, now that their frames are there */
	for (size_t i = 0; !err && i < p->n_stack; i++) {
		size_t first = p->stack_first[i], len = p->stack_first[i + 1] - first;
		struct store_ch_stack st = { .first = c->n_idents_of, .n = (uint32_t)len };
		int64_t si;

		if (store_map__get(&c->stacks, &p->stack_id[i], sizeof(p->stack_id[i]), &si))
			continue;
		if (COMMON_GROW(c->idents_of, c->cap_idents_of, c->n_idents_of + len))
			return store_chdb__fail(db, -ENOMEM, "out of memory");
		for (size_t k = 0; k < len; k++) {
			int64_t fi;

			if (!store_map__get(&c->frames, &p->frame_ids[first + k],
					    sizeof(p->frame_ids[first + k]), &fi))
				return store_chdb__fail(db, -EIO, "the fleet store names a frame it does "
							"not define (shipped out of order?)");
			/* a cached frame's identity is a valid index */
			assert((size_t)fi < c->n_frame && c->frame[fi].ident < c->n_ident);
			c->idents_of[st.first + k] = c->frame[fi].ident;
		}
		if ((err = COMMON_GROW(c->stack, c->cap_stack, c->n_stack + 1)) < 0 ||
		    (err = store_map__put(&c->stacks, &p->stack_id[i], sizeof(p->stack_id[i]),
					  (int64_t)c->n_stack, NULL)) < 0)
			break;
		c->n_idents_of += len;
		c->stack[c->n_stack++] = st;
		c->bytes += sizeof(st) + 4 * len + 24;
	}
	return err ? store_chdb__fail(db, err, "out of memory") : 0;
}

/* A fill's tries before it gives up on a cache other threads keep
 * dropping (each drop needs a cache past its bound). */
#define FILL_TRIES 4

/*
 * Bring the definitions of stacks[0..n) into the cache: at most three
 * requests (the stacks not cached, the frames of those not cached, the
 * functions of those not cached), each reading by the tables' ids (their
 * ORDER BY key), none reading the samples again, all without the lock;
 * returns holding it.
 */
int store_chdb__cache_fill(struct store_chdb *db, const uint64_t *stacks, size_t n)
{
	struct store_ch_cache *c = db->cache;
	struct pending p = { 0 };
	uint64_t *ids = NULL, gen;
	size_t n_ids = 0;
	int err = 0;

	for (unsigned tries = 0;; tries++) {
		if (tries == FILL_TRIES)
			return store_chdb__fail(db, -EAGAIN, "the fleet store's definitions' cache "
						"was dropped for its bound again and again: try again");
		pthread_mutex_lock(&c->lock);
		if (c->bytes > c->max_bytes)
			cache_clear(c, true);
		gen = c->generation;
		err = missing(&c->stacks, stacks, n, &ids, &n_ids);
		pthread_mutex_unlock(&c->lock);
		if (!err && n_ids)
			err = ask_ids(db, "SELECT stack, any(frames) FROM stacks", "stack",
				      "reading the stacks", ids, n_ids, 2, stack_row, &p);
		free(ids);
		ids = NULL;
		if (!err && p.n_frame_ids) {
			pthread_mutex_lock(&c->lock);
			err = c->generation != gen ? -ESTALE :
			      missing(&c->frames, p.frame_ids, p.n_frame_ids, &ids, &n_ids);
			pthread_mutex_unlock(&c->lock);
			if (!err && n_ids)
				err = ask_ids(db, "SELECT frame, any(function), any(line), any(kind), "
					      "any(build_id), any(file_offset) FROM frames", "frame",
					      "reading the frames", ids, n_ids, 6, frame_row, &p);
			free(ids);
			ids = NULL;
		}
		if (!err && p.n_frame) {
			ids = malloc(p.n_frame * sizeof(*ids));
			if (!ids)
				err = store_chdb__fail(db, -ENOMEM, "out of memory");
			for (size_t i = 0; !err && i < p.n_frame; i++)
				ids[i] = p.frame[i].function;
			if (!err) {
				uint64_t *fn_ids = NULL;

				pthread_mutex_lock(&c->lock);
				err = c->generation != gen ? -ESTALE :
				      missing(&c->functions, ids, p.n_frame, &fn_ids, &n_ids);
				pthread_mutex_unlock(&c->lock);
				free(ids);
				ids = fn_ids;
			}
			if (!err && n_ids)
				err = ask_ids(db, "SELECT function, any(name), any(module), any(file) "
					      "FROM functions", "function", "reading the functions", ids,
					      n_ids, 4, function_row, &p);
			free(ids);
			ids = NULL;
		}
		if (!err) {
			pthread_mutex_lock(&c->lock);
			err = c->generation != gen ? -ESTALE : add_pending(db, c, &p);
			if (err)
				pthread_mutex_unlock(&c->lock);
		}
		pending_free(&p);
		if (err != -ESTALE)
			break;
	}
	/* (0: the lock is held) */
	return err == -ENOMEM ? store_chdb__fail(db, err, "out of memory") : err;
}


/* pprof's addresses: the build-id and offset of every frame the handle
 * has read (the definitions' cache), which holds every frame of the
 * tree it made last (an export makes its tree first). */
int store_chdb__frame_sites(struct store_db *handle, struct store_frame_sites *sites)
{
	struct store_chdb *db = store_chdb__of(handle);
	struct store_ch_cache *c;
	int r = 0;

	if (!db || !sites)
		return -EINVAL;
	c = db->cache;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; r == 0 && i < c->n_frame; i++)
		r = store_frame_sites__add(sites, &c->ident[c->frame[i].ident], c->frame[i].offset,
					   c->frame[i].build_id);
	pthread_mutex_unlock(&c->lock);
	return r < 0 ? store_chdb__fail(db, r, "out of memory") : 0;
}
