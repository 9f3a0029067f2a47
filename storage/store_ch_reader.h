/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_reader.h — private to storage/: the pieces the files of the
 * fleet store's reader share (storage/DESIGN.md, Fleet, Reading): the
 * handle (store_ch_read.c: the backend's operations table, requests and
 * answers, open), the label-set matching that turns a query's range and
 * filter into SQL (store_ch_match.c), the definitions' cache
 * (store_ch_defs.c) and the queries over the samples (store_ch_query.c).
 * Public functions are in store_clickhouse.h (through storage.h).
 *
 * Every function taking a store_chdb sets the handle's message
 * (store_db__errmsg) when it fails, and returns 0 or -errno as the
 * storage.h operation it serves documents.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "store_ch.h"
#include "store_map.h"
#include "store_tree.h"

/*
 * The definitions met so far (store_clickhouse.h: store_ch_cache), kept
 * by the handle or shared by several: stacks, frames and functions have
 * content hashes for ids (store_ch_ship.c), so a definition never
 * changes, and a tree query asks ClickHouse only for the ids it has not
 * seen yet. Bounded: past max_bytes (counted as its entries and texts
 * take) it is dropped before the next tree query (trees keep their
 * texts: they hold a reference to the arena).
 *
 * A frame is kept as its identity (name, module, file, line, kind:
 * what the tree merges frames by, as the SQLite backend), its offset
 * and build-id (pprof's sites); a stack as the identities of its frames,
 * root first; a tree's children are then found by (parent, identity),
 * an 8-byte key.
 *
 * Threads: lock guards everything below it. Requests to ClickHouse are
 * made without it; what they bring is added under it, and a tree is
 * made from the cache under it (store_chdb__cache_fill returns holding
 * it). generation counts the drops: a fill that finds it changed between
 * its requests starts again.
 */
#define STORE_CH_CACHE_BYTES (256u << 20)

struct store_ch_function {
	const char *name, *module, *file;
};

struct store_ch_frame {
	uint32_t ident;
	const char *build_id; /* NULL: none */
	uint64_t offset;
};

struct store_ch_stack {
	size_t first; /* in idents_of */
	uint32_t n;
};

struct store_ch_cache {
	pthread_mutex_t lock;
	unsigned refs;              /* under lock */
	size_t max_bytes;
	uint64_t generation;        /* drops for the bound */
	struct store_map texts;     /* interned texts -> 0 */
	struct store_map functions; /* id -> index in function */
	struct store_map frames;    /* id -> index in frame */
	struct store_map stacks;    /* id -> index in stack */
	struct store_map idents;    /* frame identity -> index in ident */
	struct store_ch_function *function;
	struct store_ch_frame *frame;
	struct store_ch_stack *stack;
	struct store_tree_node *ident; /* name, module, file, line, kind */
	uint32_t *idents_of;        /* the stacks' frames, as identities */
	size_t n_function, cap_function, n_frame, cap_frame, n_stack, cap_stack;
	size_t n_ident, cap_ident, n_idents_of, cap_idents_of;
	size_t bytes;               /* what it holds, roughly */
};

struct store_chdb {
	struct store_db base; /* first: a store_db is a store_chdb */
	struct store_ch *ch;
	uint64_t deadline_ns;
	bool (*cancelled)(void *ctx); /* store_db__set_cancel's */
	void *cancel_ctx;
	uint64_t n_asked;     /* requests so far: each one's query id */
	uint64_t id_base;     /* random: the handle's part of its query ids */
	unsigned timeout_ms;  /* the client's own */
	bool opened;          /* the database exists: queries run in it */
	struct store_ch_cache *cache; /* a reference */
	bool own_cache;       /* made for this handle alone (counted as its memory) */
};

/* ---- the handle (store_ch_read.c); requests and answers (store_ch_answer.c) ---- */

/* The backend's name (store_backend.name, store_db__backend). */
#define STORE_CH_BACKEND "clickhouse"

/* handle as a fleet store's handle, or NULL when it is another's. */
static inline struct store_chdb *store_chdb__of(struct store_db *handle)
{
	return handle && strcmp(handle->ops->name, STORE_CH_BACKEND) == 0 ?
	       (struct store_chdb *)handle : NULL;
}

/* Set the handle's message to msg; returns err. */
int store_chdb__fail(struct store_chdb *db, int err, const char *msg);

/* Run sql (a SELECT; TabSeparated is added) within the deadline: 0 and
 * *ret_text (caller frees), or -errno with the handle's message. Each
 * request carries ClickHouse's max_execution_time (the deadline's
 * seconds, rounded up) and a query id of its own; one given up
 * (-ETIMEDOUT: the deadline; -ECANCELED: the handle's cancel test) is
 * killed by that id (KILL QUERY ... SYNC, within STORE_CH_KILL_MS), so
 * nothing of it runs on when this returns. */
int store_chdb__ask(struct store_chdb *db, const char *sql, const char *what, char **ret_text);

/* How long a KILL QUERY of a given-up request may take. */
#define STORE_CH_KILL_MS 3000

/* TabSeparated fields: the next line of *text split at tabs into at most
 * max fields, unescaped in place. Returns the number of fields, 0 at the
 * end. */
size_t store_ch__next_row(char **text, char **fields, size_t max);

static inline uint64_t store_ch__num(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* SQL text written to a memory stream. */
struct store_ch_sql {
	char *buf;
	size_t len;
	FILE *f;
};

/* Open s's stream: 0 or -ENOMEM. */
int store_ch_sql__open(struct store_ch_sql *s);
/* Close the stream: 0 and s->buf (caller frees), or -ENOMEM. */
int store_ch_sql__close(struct store_ch_sql *s);

/* text as a quoted string literal: only ' and \ are special in
 * ClickHouse's quoted strings; control bytes are written as escapes. */
void store_ch__put_literal(FILE *f, const char *text);

/* ---- label-set matching (store_ch_match.c) ---- */

/* The condition of a query: its time range, and which label sets pass
 * its filter. */
struct store_ch_cond {
	char *text;   /* SQL; "1" for everything */
	/* the end of text that names hosts ("", " AND host = 'a'",
	 * " AND host IN (...)"), and, unless by_labelset, all the rest:
	 * text is the range, then hosts */
	const char *hosts;
	bool by_labelset; /* text names label sets by hash too */
	/* text for the tables with a time column only (the totals): the
	 * range on time alone, then hosts and what follows them */
	char *plain;
	bool none;    /* no label set passes: nothing to ask */
};

void store_ch_cond__free(struct store_ch_cond *c);

/* "time >= .. AND time < .." for [from_s, to_s) (INT64_MIN, INT64_MAX:
 * unbounded), with the bounds it implies on the samples' stored hour and
 * hour block, or "1": for the samples. */
void store_ch__put_time_range(FILE *f, int64_t from_s, int64_t to_s);
/* The same for q's range (NULL: all). */
void store_ch__put_range(FILE *f, const struct store_query *q);
/* q's range on time alone, "... AND 1": for the tables with a time
 * column only (drops, totals). */
void store_ch__put_plain_range(FILE *f, const struct store_query *q);
/* " AND host = '...'" when q's filter requires one host (host="web-1",
 * the UI's host selector): the primary key's prefix. */
void store_ch__put_required_host(FILE *f, const struct store_query *q);

/* "SELECT columns FROM (...)" over the label sets of q's range: rows of
 * host, process, pid, thread, tid, cgroup, label_keys, label_values,
 * labelset and c (their count), from the label sets per hour for the
 * range's whole hours and from the samples for the rest; hosts: a
 * condition on the hosts (" AND host ...", ""), or NULL for q's required
 * host. */
void store_ch__put_sets_source(FILE *f, const struct store_query *q, const char *columns,
			       const char *hosts);

/* The WHERE of q: its range, and with a filter the label sets that pass
 * it by hash, and their hosts (-EINVAL: a range that ends before it
 * starts; -E2BIG: too many sets pass). */
int store_chdb__cond(struct store_chdb *db, const struct store_query *q,
		     struct store_ch_cond *ret);

/* storage.h's label_sets, label_names, label_values. */
int store_chdb__label_sets(struct store_db *handle, const struct store_query *q,
			   struct store_label_sets **ret_sets);
int store_chdb__label_names(struct store_db *db, const struct store_query *q,
			    char ***ret_names, size_t *ret_n);
int store_chdb__label_values(struct store_db *db, const struct store_query *q,
			     const char *name, struct store_label_value **ret_values,
			     size_t *ret_n);

/* ---- the definitions' cache (store_ch_defs.c) ---- */

/* A new reference to c (its holders: store_ch_cache__unref). */
void store_ch_cache__ref(struct store_ch_cache *c);
/* text interned in the cache (NULL, and "" when empty_null, stay NULL);
 * with c->lock held. Returns 0 or -ENOMEM. */
int store_ch_cache__text(struct store_ch_cache *c, const char *text, bool empty_null,
			 const char **ret);
/* The identity of a frame (texts interned): its index in c->ident; with
 * c->lock held. Returns 0 or -ENOMEM. */
int store_ch_cache__ident(struct store_ch_cache *c, const struct store_tree_node *nd,
			  uint32_t *ret);
/* Bring the definitions of stacks[0..n) into the handle's cache (dropped
 * first when past its bound): 0 with db->cache->lock held, every one of
 * them in the cache until the caller unlocks; or -errno, not held. */
int store_chdb__cache_fill(struct store_chdb *db, const uint64_t *stacks, size_t n);
/* storage.h's frame_sites. */
int store_chdb__frame_sites(struct store_db *handle, struct store_frame_sites *sites);

/* ---- queries over the samples (store_ch_query.c): storage.h's
 * operations of the same names ---- */

int store_chdb__summary(struct store_db *handle, const struct store_query *q,
			struct store_summary **ret);
int store_chdb__query_tree(struct store_db *handle, const struct store_query *q,
			   struct store_tree **ret_tree);
int store_chdb__span(struct store_db *handle, const struct store_query *q,
		     int64_t *ret_first, int64_t *ret_end, uint32_t *ret_step);
int store_chdb__flush_span(struct store_db *handle, const struct store_query *q,
			   int64_t *ret_first, int64_t *ret_end);
int store_chdb__query_timeline(struct store_db *handle, const struct store_query *q,
			       int64_t step_s, const char *split_label,
			       struct store_timeline **ret_timeline);
int store_chdb__drops_timeline(struct store_db *handle, int64_t from, int64_t step,
			       size_t n, uint64_t *counts);
