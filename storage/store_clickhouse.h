/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_clickhouse.h — part of storage.h (included from it; include
 * storage.h): the fleet store. An agent keeps its SQLite file and also
 * ships each committed flush to ClickHouse over its HTTP interface
 * (libcurl, confined to storage/store_ch_http.c).
 *
 * Shipping is exactly once, in order: a writer handle with shipping
 * enabled (store_db__ship_enable) puts every flush it commits, encoded as
 * ClickHouse rows, into an outbox table of the same SQLite file in the
 * flush's own transaction; store_db__ship_next (any writable handle on the
 * file, typically a shipping thread's own) sends the oldest entry and
 * removes it once ClickHouse has acknowledged it. A shipment that may
 * have reached ClickHouse before (a kill -9, a time-out, a lost answer) is
 * first looked up there by its 64-bit batch id, under the same query id as
 * its insert, so the lookup cannot run while that insert still does
 * (storage/DESIGN.md, "Fleet").
 *
 * Thread safety: a store_ch is used by one thread at a time; so is each
 * store_db handle (as everywhere in storage.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct store_db;

/* The ClickHouse schema this build writes and reads (table ember_schema). */
#define STORE_CH_SCHEMA_VERSION 5

struct store_ch_config {
	/* clickhouse://[USER[:PASSWORD]@]HOST:PORT/DATABASE (plain HTTP) or
	 * https://[USER[:PASSWORD]@]HOST:PORT/DATABASE (TLS; the server's
	 * certificate is verified). USER and PASSWORD percent-encoded. */
	const char *url;
	const char *user;       /* replaces the URL's user when not NULL */
	const char *password;   /* replaces the URL's password when not NULL */
	const char *ca_file;    /* https: CA bundle; NULL = the system's */
	unsigned timeout_ms;    /* each request, start to end; 0 = 10 s */
	unsigned connect_timeout_ms; /* 0 = 3 s */
	/* the definitions' cache the reader handles opened with this
	 * config share (store_ch_cache__new; not owned: it must outlive
	 * them); NULL: each handle keeps its own of STORE_CH_CACHE_BYTES */
	struct store_ch_cache *cache;
};

struct store_ch;

/*
 * The fleet store reader's definitions' cache (storage/DESIGN.md, Fleet,
 * Reading): the stacks, frames and functions read from ClickHouse, which
 * never change. One cache may serve several handles on several threads
 * (ember serve's query threads): it is locked inside, so a definition
 * one thread read is not read again by another. Dropped whole, before a
 * tree query, once it holds more than max_bytes.
 *
 * store_ch_cache__new: 0 and *ret (free with store_ch_cache__unref), or
 * -ENOMEM. store_ch_cache__unref: the caller's reference ends; the cache
 * is freed when no handle holds it either (NULL: nothing).
 * store_ch_cache__stats: the bytes it holds now and how many times it was
 * dropped for its bound; any thread.
 */
struct store_ch_cache;
int store_ch_cache__new(size_t max_bytes, struct store_ch_cache **ret);
void store_ch_cache__unref(struct store_ch_cache *c);
void store_ch_cache__stats(struct store_ch_cache *c, uint64_t *ret_bytes, uint64_t *ret_drops);

/*
 * Parse c into a client (no network traffic yet). Returns 0 and *ret_ch
 * (free with store_ch__free), -EINVAL and *ret_error (caller frees: what
 * is wrong with the URL; never contains the password), or -ENOMEM.
 */
int store_ch__new(const struct store_ch_config *c, struct store_ch **ret_ch,
		  char **ret_error);
void store_ch__free(struct store_ch *ch);

/* The server as "clickhouse://user@host:port/database": never the
 * password. Borrowed from ch. */
const char *store_ch__url(const struct store_ch *ch);

/*
 * One sentence about the last failure of ch (borrowed; never NULL; never
 * the password): what was done and what ClickHouse or the network said.
 */
const char *store_ch__errmsg(const struct store_ch *ch);

/*
 * The errors of the functions below:
 *   -ECONNREFUSED  nothing listens at HOST:PORT
 *   -EHOSTUNREACH  HOST does not resolve or cannot be reached
 *   -ETIMEDOUT     no answer within the time-out
 *   -EKEYREJECTED  TLS failed (certificate, handshake)
 *   -ELIBACC       libcurl (loaded at the first request) could not be loaded
 *   -EACCES        wrong user or password
 *   -EPERM         the user may not do this (read-only, grants)
 *   -ENOENT        a table or the database is missing (errmsg names it)
 *   -ENOTSUP       the schema is of a newer Ember (ember_schema)
 *   -EPROTO        the schema is of an older Ember, or not Ember's
 *   -EAGAIN        a shipment's insert is still running on the server
 *   -ECANCELED     a reader's request given up (store_db__set_cancel)
 *   -EIO           any other error answer (errmsg has ClickHouse's text)
 *   -ENOMEM
 */

/*
 * Check the schema, creating what is missing when allowed: no
 * ember_schema table (a new database) creates the database and every
 * table for a single server; a single server's missing tables are
 * created again; a cluster's (made by store_ch__init_cluster) are only
 * checked, a missing one is -ENOENT. A schema version other than
 * STORE_CH_SCHEMA_VERSION is -ENOTSUP (newer) or -EPROTO (older).
 */
int store_ch__prepare(struct store_ch *ch);

/*
 * Create a cluster's tables (no distributed DDL: it needs ZooKeeper on
 * 18.16): on each of shards[0..n) the database and the tables holding
 * the data ("<table>_local"), then on entry the Distributed tables of the
 * same names as a single server's, over cluster (as entry's
 * remote_servers names it), and ember_schema. entry may be one of the
 * shards. Tables that exist are left as they are. Returns 0 or an error
 * above; ch's errmsg names the server that failed.
 */
int store_ch__init_cluster(struct store_ch *entry, const char *cluster,
			   struct store_ch *const *shards, size_t n);

/* ---- retention, run by the server side ---- */

struct store_ch_maintain_stats {
	uint64_t rows_merged;        /* sample rows folded into coarser buckets */
	uint64_t partitions_dropped; /* day partitions removed by age (samples, drops) */
	uint64_t samples_removed;    /* the samples they held */
	uint64_t busy;               /* a host's day another maintainer was merging
	                                or rolling up (left to it) */
	uint64_t days_rolled_up;     /* days whose roll-up was made (again) */
};

/*
 * Apply retention policy p (NULL: store_policy_init's defaults) as of
 * now_s to the fleet store at entry, as the SQLite file applies it: day
 * partitions of samples and drops whose day ended more than max_age ago
 * are dropped; older buckets are merged into each tier's coarser ones,
 * keeping every total (storage/DESIGN.md, Fleet). max_bytes does not
 * apply. On a single server (layout "single") n must be 0; a cluster's
 * layout needs its shards (shards[0..n), as for store_ch__init_cluster),
 * whose `_local` tables are maintained one by one. One maintainer per
 * server at a time does a host's day (a second is refused and counts it
 * busy). Returns 0 and *ret_stats (may be NULL), or an error above
 * (-EINVAL: shards given or missing) with entry's errmsg saying which
 * server failed.
 */
int store_ch__maintain(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		       int64_t now_s, const struct store_policy *p,
		       struct store_ch_maintain_stats *ret_stats);

/*
 * Upgrade the fleet store at entry from an older schema (2, 3 or 4) to
 * STORE_CH_SCHEMA_VERSION in place: the version is written first (older
 * Embers then refuse the database), then on a single server (n 0), or on
 * each of a cluster's shards[0..n) (their `_local` tables), the samples
 * are copied into a table of this schema day by day and host by host,
 * each day's sums checked, the derived tables made from it, the copy
 * put in the old table's place and the intake with its views made; then
 * the tables the older schema lacked are created. While a
 * server's copy runs its samples table is missing: agents keep their
 * backlogs and ship them after (store_ch__prepare says -EAGAIN),
 * readers fail. A run that stopped is finished by running it again; a
 * store of this schema is left as it is. Returns 0 with *ret_from (the
 * version found; may be NULL) and *ret_rows (sample rows copied; may be
 * NULL), or an error above (-EPROTO: schema 1; -EINVAL: shards given or
 * missing; -EIO: a day's copy differs, nothing removed) with entry's
 * errmsg.
 */
int store_ch__upgrade(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		      int *ret_from, uint64_t *ret_rows);

/* ---- reading: the fleet store as a storage.h backend ---- */

/*
 * Open the fleet store at c (read-only): a store_db whose queries
 * (summary with drops and events, trees, timelines, label sets, names
 * and values, span, the drops timeline) run aggregated in ClickHouse over
 * every host's samples (the label "host" tells them apart), with the same
 * contracts as the SQLite backend's. What the fleet store does not keep
 * answers -ENOSYS with store_db__errmsg saying what: writing, meta,
 * retention (store_ch__maintain's), the integrity check, coverage. Checks that the
 * database exists and holds Ember's tables of STORE_CH_SCHEMA_VERSION;
 * creates nothing. Returns 0 and *ret_db (store_db__close), or an error
 * of the list above (-EINVAL: a bad URL) with *ret_error (may be NULL;
 * caller frees) saying what went wrong, never the password.
 */
int store_db__open_clickhouse(const struct store_ch_config *c, struct store_db **ret_db,
			      char **ret_error);

/* The backend of db: "sqlite" or "clickhouse" (static). */
const char *store_db__backend(const struct store_db *db);

/* ---- shipping ---- */

/*
 * From the next store_db__begin on, every flush this writer handle
 * commits is also queued for ClickHouse in the file's outbox, in the
 * same transaction (created when missing): its samples, and its drops
 * and events (store_db__add_drops, _add_events) under host (the host
 * label of the writer's samples; NULL: ""; copied). While the queue holds
 * more than max_bytes (0: no bound), a flush is stored but not queued: its
 * samples are counted as refused (store_ship_backlog), never shipped.
 * Outside a flush. Returns 0, -EROFS, -EBUSY (a flush is open),
 * -ENOMEM, -EIO.
 */
int store_db__ship_enable(struct store_db *db, const char *host, uint64_t max_bytes);

struct store_ship_result {
	uint64_t seq;        /* the outbox entry (ascending) */
	int64_t time_s;      /* its flush's bucket */
	uint64_t samples;    /* its samples */
	uint64_t bytes;      /* bytes sent (compressed) */
	bool found;          /* ClickHouse had it already (shipped by an
	                        attempt whose answer was lost): not sent
	                        again, only removed */
};

/*
 * Ship the oldest queued flush of db's file to ch, then remove it from
 * the outbox. Returns 1 and *ret (may be NULL) when one was shipped, 0
 * when the outbox is empty, or -errno: an error of ch above, or
 * -EBUSY/-EIO/-ENOSPC of the SQLite file; store_ch__errmsg(ch) says which
 * in both cases. The entry then stays queued (one that may have reached
 * ClickHouse is looked up there before it is sent again). db is a writable handle outside a flush, not
 * necessarily the one that queued.
 */
int store_db__ship_next(struct store_db *db, struct store_ch *ch,
			struct store_ship_result *ret);

struct store_ship_backlog {
	uint64_t flushes;    /* queued, not yet acknowledged */
	uint64_t samples;
	uint64_t bytes;      /* their compressed size in the file */
	int64_t oldest_s;    /* bucket time of the oldest; 0 when none */
	uint64_t refused_flushes; /* stored but never queued: the queue was */
	uint64_t refused_samples; /* over its bound (all time, this file) */
};

/* What the outbox of db's file holds (all zero when it has none).
 * Returns 0 or -errno. */
int store_db__ship_backlog(struct store_db *db, struct store_ship_backlog *ret);
