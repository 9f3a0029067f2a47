/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_read.c — the fleet store as a backend of storage.h
 * (store_backend.h): a read-only handle on a ClickHouse database that
 * agents ship to, for `ember serve --store`, `ember report` and `ember
 * diff` on a clickhouse:// source. This file holds the handle: its
 * operations table, the open with its schema check, and the operations
 * the fleet store does not have. It is the reader's top: the queries
 * (store_ch_query.c), the filters' matching (store_ch_match.c) and the
 * definitions' cache (store_ch_defs.c) are below it, and the requests
 * and their answers (store_ch_answer.c) below them all
 * (store_ch_reader.h).
 *
 * Every query is aggregated in ClickHouse (sums per process and stack,
 * per step, per label set over the range); only those sums and the
 * definitions of the stacks, frames and functions they name come back,
 * and the tree, the label names and values are then made in C exactly
 * as the SQLite backend makes them.
 *
 * Bounds: each request within the handle's deadline (store_db__set_deadline:
 * curl's time-out and ClickHouse's max_execution_time), a request given
 * up (the deadline, store_db__set_cancel's test) killed on the server by
 * its query id, answers within
 * the client's 16 MiB (-E2BIG), trees within q->max_tree_nodes.
 *
 * What the fleet store does not keep answers -ENOSYS: writing, meta,
 * retention (the server side's: store_ch_maintain.c), the integrity
 * check, coverage (agents ship samples, drops and events).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"
#include "store_ch_reader.h"
#include "store_formats.h"

static const struct store_backend ch_backend;

/* ---- operations ---- */

static int ch_nosys(struct store_chdb *db, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the fleet store (ClickHouse) has no %s", what);
	return store_chdb__fail(db, -ENOSYS, msg);
}

static void ch_close(struct store_db *handle)
{
	struct store_chdb *db = store_chdb__of(handle);

	if (!db)
		return;
	store_ch__free(db->ch);
	store_ch_cache__unref(db->cache);
	free(db);
}

static int ch_seal(struct store_db *db)
{
	return ch_nosys(store_chdb__of(db), "file to seal: it is read-only");
}

static int ch_begin(struct store_db *db, int64_t t, uint32_t d)
{
	return ch_nosys(store_chdb__of(db), "writer here: agents ship to it (ember agent --remote)");
}

static int ch_add_stack(struct store_db *db, const struct store_labels *l,
			const struct store_frame *f, size_t n, uint64_t c)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_drops(struct store_db *db, const char *r, uint64_t c)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_coverage(struct store_db *db, const char *m, const char *b, uint64_t s,
			   uint64_t f, uint64_t l)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_coverage_issue(struct store_db *db, const char *m, const char *b,
				 const char *r, uint64_t f)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_python_coverage(struct store_db *db, const char *p, uint32_t pid,
				  const char *i, uint64_t s, uint64_t w, uint64_t f, uint64_t n)
{
	return ch_begin(db, 0, 0);
}

static int ch_commit(struct store_db *db)
{
	return ch_begin(db, 0, 0);
}

static void ch_rollback(struct store_db *db)
{
}

static int ch_set_meta(struct store_db *db, const char *k, const char *v)
{
	return ch_begin(db, 0, 0);
}

static int ch_get_meta(struct store_db *db, const char *key, char **ret)
{
	/* no recording of its own: the hosts each have theirs (frequency,
	 * command...), so no key is there */
	return -ENOENT;
}

static int ch_query_coverage(struct store_db *db, const struct store_query *q,
			     struct store_coverage **ret, size_t *ret_n)
{
	return ch_nosys(store_chdb__of(db), "symbolization coverage (each agent keeps it in its file)");
}

static int ch_query_python_coverage(struct store_db *db, const struct store_query *q,
				    struct store_python_coverage **ret, size_t *ret_n)
{
	return ch_nosys(store_chdb__of(db), "Python coverage (each agent keeps it in its file)");
}

static int ch_maintain(struct store_db *db, int64_t now, const struct store_policy *p,
		       struct store_maintain_stats *ret)
{
	return ch_nosys(store_chdb__of(db), "retention run by a client (it is the server's)");
}

static int ch_check(struct store_db *db, char **ret_msg)
{
	return ch_nosys(store_chdb__of(db), "integrity check (ClickHouse's CHECK TABLE is its own)");
}

static void ch_set_deadline(struct store_db *handle, uint64_t deadline_ns)
{
	struct store_chdb *db = store_chdb__of(handle);

	if (db)
		db->deadline_ns = deadline_ns;
}

static void ch_set_cancel(struct store_db *handle, bool (*cancelled)(void *ctx), void *ctx)
{
	struct store_chdb *db = store_chdb__of(handle);

	if (db) {
		db->cancelled = cancelled;
		db->cancel_ctx = ctx;
	}
}

static int ch_can_write(struct store_db *db)
{
	return -EROFS;
}

static void ch_memory(struct store_db *handle, struct store_memory *ret)
{
	struct store_chdb *db = store_chdb__of(handle);
	uint64_t bytes = 0, drops;

	/* (a shared cache is counted by whoever made it) */
	if (db->own_cache)
		store_ch_cache__stats(db->cache, &bytes, &drops);
	ret->writer = 0;
	ret->reader = bytes;
}

static const struct store_backend ch_backend = {
	.name = STORE_CH_BACKEND,
	.close = ch_close,
	.seal = ch_seal,
	.begin = ch_begin,
	.add_stack = ch_add_stack,
	.add_drops = ch_add_drops,
	.add_events = ch_add_drops,
	.add_coverage = ch_add_coverage,
	.add_coverage_issue = ch_add_coverage_issue,
	.add_python_coverage = ch_add_python_coverage,
	.commit = ch_commit,
	.rollback = ch_rollback,
	.set_meta = ch_set_meta,
	.get_meta = ch_get_meta,
	.summary = store_chdb__summary,
	.query_tree = store_chdb__query_tree,
	.query_coverage = ch_query_coverage,
	.query_python_coverage = ch_query_python_coverage,
	.query_timeline = store_chdb__query_timeline,
	.label_sets = store_chdb__label_sets,
	.label_names = store_chdb__label_names,
	.label_values = store_chdb__label_values,
	.maintain = ch_maintain,
	.check = ch_check,
	.span = store_chdb__span,
	.drops_timeline = store_chdb__drops_timeline,
	.set_deadline = ch_set_deadline,
	.set_cancel = ch_set_cancel,
	.memory = ch_memory,
	.can_write = ch_can_write,
	.flush_span = store_chdb__flush_span,
	.frame_sites = store_chdb__frame_sites,
};

/* ---- open ---- */

/* Check the schema without creating anything: the version, and the
 * tables a reader needs. */
static int check_schema(struct store_chdb *db, char **ret_error)
{
	char sql[900], *text = NULL, *p, *f[3];
	bool versioned = false;
	int err;

	snprintf(sql, sizeof(sql), "SELECT (SELECT count() FROM system.databases WHERE name = "
		 "'%s'), (SELECT count() FROM system.tables WHERE database = '%s' AND name IN "
		 "('ember_schema', 'samples', 'drops', 'stacks', 'frames', 'functions', '"
		 STORE_CH_ROLLUP_TABLE "', '" STORE_CH_STALE_VIEW "', '"
		 STORE_CH_FLEET_ROLLUP_TABLE "', '" STORE_CH_TOTALS_TABLE "', '" STORE_CH_SETS_TABLE
		 "', '" STORE_CH_HOURLY_TABLE "')), "
		 "(SELECT count() FROM system.tables WHERE database = '%s' AND name = "
		 "'ember_schema')", store_ch__database(db->ch), store_ch__database(db->ch),
		 store_ch__database(db->ch));
	/* (the name was checked by the URL's parser: letters, digits, _) */
	err = store_chdb__ask(db, sql, "checking the database", &text);
	if (err)
		goto msg;
	p = text;
	if (store_ch__next_row(&p, f, 3) != 3) {
		err = store_chdb__fail(db, -EIO, "ClickHouse gave an answer Ember cannot read");
	} else if (!store_ch__num(f[0])) {
		char m[STORE_ERRMSG_SIZE];

		snprintf(m, sizeof(m), "ClickHouse at %s has no database '%s'",
			 store_ch__url(db->ch), store_ch__database(db->ch));
		err = store_chdb__fail(db, -ENOENT, m);
	} else if (store_ch__num(f[1]) != 12 && !(versioned = store_ch__num(f[2]) != 0)) {
		char m[STORE_ERRMSG_SIZE];

		snprintf(m, sizeof(m), "the database '%s' at %s holds no fleet store (Ember's "
			 "tables are missing): ship to it with ember agent --remote, or create "
			 "it with ember fleet-init", store_ch__database(db->ch), store_ch__url(db->ch));
		err = store_chdb__fail(db, -ENOENT, m);
	}
	free(text);
	text = NULL;
	if (!err) {
		/* (with ember_schema the version is told first: an older
		 * schema lacks tables of this one) */
		db->opened = true;
		snprintf(sql, sizeof(sql), "SELECT max(version) FROM ember_schema");
		err = store_chdb__ask(db, sql, "checking the schema version", &text);
		p = text;
		if (!err && store_ch__next_row(&p, f, 1) >= 1) {
			uint64_t v = store_ch__num(f[0]);
			char m[STORE_ERRMSG_SIZE];

			if (v != STORE_CH_SCHEMA_VERSION) {
				snprintf(m, sizeof(m), "the database '%s' at %s has Ember's schema "
					 "version %llu, this Ember reads %d%s", store_ch__database(db->ch),
					 store_ch__url(db->ch), (unsigned long long)v,
					 STORE_CH_SCHEMA_VERSION, v >= STORE_CH_SCHEMA_VERSION ? "" :
					 v >= STORE_CH_UPGRADE_FROM ? " (an older Ember's: upgrade "
					 "it with 'ember fleet-maintain --upgrade URL')" :
					 " (an older Ember's: its data is not converted; read it "
					 "with that Ember, ship to a new database)");
				err = store_chdb__fail(db, v > STORE_CH_SCHEMA_VERSION ? -ENOTSUP : -EPROTO, m);
			} else if (versioned) {
				snprintf(m, sizeof(m), "the database '%s' at %s lacks some of Ember's "
					 "tables: create them with ember fleet-init",
					 store_ch__database(db->ch), store_ch__url(db->ch));
				err = store_chdb__fail(db, -ENOENT, m);
			}
		}
		free(text);
	}
msg:
	if (err && ret_error)
		*ret_error = strdup(db->base.errmsg);
	return err;
}

int store_db__open_clickhouse(const struct store_ch_config *c, struct store_db **ret_db,
			      char **ret_error)
{
	struct store_chdb *db;
	struct store_ch *ch = NULL;
	int err;

	if (ret_error)
		*ret_error = NULL;
	if (!c || !ret_db)
		return -EINVAL;
	err = store_ch__new(c, &ch, ret_error);
	if (err)
		return err;
	db = calloc(1, sizeof(*db));
	if (!db) {
		store_ch__free(ch);
		return -ENOMEM;
	}
	db->base.ops = &ch_backend;
	db->ch = ch;
	if (c->cache) {
		store_ch_cache__ref(c->cache);
		db->cache = c->cache;
	} else if (store_ch_cache__new(STORE_CH_CACHE_BYTES, &db->cache) == 0) {
		db->own_cache = true;
	} else {
		store_ch__free(ch);
		free(db);
		return -ENOMEM;
	}
	db->timeout_ms = ch->timeout_ms;
	/* (the query ids' handle part: a failed getrandom falls back on
	 * time and address, unique enough for ids of one server's) */
	if (getrandom(&db->id_base, sizeof(db->id_base), 0) != sizeof(db->id_base))
		db->id_base = common_now_ns() ^ (uintptr_t)db;
	err = check_schema(db, ret_error);
	if (err) {
		ch_close(&db->base);
		return err;
	}
	*ret_db = &db->base;
	return 0;
}

const char *store_db__backend(const struct store_db *db)
{
	return db ? db->ops->name : "none";
}
