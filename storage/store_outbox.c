/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_outbox.c — the SQLite side of shipping to ClickHouse: the table
 * ship_outbox in the agent's own file holds every committed flush's
 * shipment until ClickHouse has acknowledged it. The writer queues a
 * shipment in the flush's transaction (a flush is in the file and in the
 * outbox, or in neither); store_db__ship_next sends the oldest and removes
 * it after ClickHouse's answer. Before an entry's first send its attempts
 * counter is committed; an entry sent before (whose answer may have been
 * lost to a kill -9, a time-out, a restart of either side) is first looked
 * up in ClickHouse by its batch id, with the query id of its insert, which
 * ClickHouse refuses to run while that insert is still running. So a
 * shipment lands once: never lost, never twice (storage/DESIGN.md).
 *
 * The table is created by store_db__ship_enable; files without it are
 * read as before (no schema version change: nothing else reads it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"

#include "store_ch.h"
#include "store_sql.h"

#define OUTBOX_SQL                                                        \
	"CREATE TABLE IF NOT EXISTS ship_outbox ("                        \
	"seq INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER NOT NULL, " \
	"host TEXT NOT NULL, time_s INTEGER NOT NULL, "                   \
	"samples INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, " \
	"data BLOB NOT NULL)"

int store_outbox__enable(struct store_sqlite *db, const char *host, uint64_t max_bytes)
{
	int r = store_sql__exec(db, OUTBOX_SQL);

	if (r < 0)
		return r;
	if ((!db->ship && store_ship__new(&db->ship) < 0) ||
	    store_ship__set_host(db->ship, host) < 0)
		return store_sql__fail_msg(db, -ENOMEM, "out of memory");
	store_ship__set_bound(db->ship, max_bytes);
	return 0;
}

void store_outbox__close(struct store_sqlite *db)
{
	store_ship__free(db->ship);
	db->ship = NULL;
}

/* The bytes of the queued shipments, or -errno. */
static int64_t outbox_bytes(struct store_sqlite *db)
{
	sqlite3_stmt *st;
	int64_t n;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT coalesce(sum(length(data)), 0) FROM ship_outbox",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return n;
}

/* Add n to the meta counter key (inside the open flush). */
static int add_meta_count(struct store_sqlite *db, const char *key, uint64_t n)
{
	char *v = NULL, buf[32];
	unsigned long long old = 0;
	int r = store_sqlite__get_meta(&db->base, key, &v);

	if (r == 0) {
		old = strtoull(v, NULL, 10);
		free(v);
	} else if (r != -ENOENT) {
		return r;
	}
	snprintf(buf, sizeof(buf), "%llu", old + (unsigned long long)n);
	return store_sqlite__set_meta(&db->base, key, buf);
}

/*
 * Whether a shipment of len bytes fits under the queue's bound: the queue
 * is counted when the running figure (which ignores what the shipper
 * removed, so it only overestimates) says it does not. 1 fits, 0 not,
 * -errno.
 */
static int fits(struct store_sqlite *db, size_t len)
{
	uint64_t max = store_ship__bound(db->ship);
	int64_t *queued = store_ship__queued_bytes(db->ship);

	if (!max)
		return 1;
	if (*queued < 0 || (uint64_t)*queued + len > max) {
		int64_t n = outbox_bytes(db);

		if (n < 0)
			return (int)n;
		*queued = n;
	}
	return (uint64_t)*queued + len <= max;
}

static uint64_t new_batch(void)
{
	uint64_t b = 0;

	/* 64 random bits name the shipment in ClickHouse (and its insert's
	 * query id); a failed getrandom falls back on time and address */
	if (getrandom(&b, sizeof(b), 0) != sizeof(b))
		b = common_hash(common_wall_ns(), &b, sizeof(&b));
	return b ? b : 1;
}

int store_outbox__put(struct store_sqlite *db, int64_t time_s, uint32_t duration_s)
{
	sqlite3_stmt *st = NULL;
	void *blob = NULL;
	size_t len = 0;
	uint64_t samples = 0, batch = new_batch();
	const char *host = NULL;
	int r, rc;

	r = store_ship__encode(db->ship, time_s, duration_s, batch, store_ship__host(db->ship),
			       &blob, &len, &samples, &host);
	if (r < 0)
		return store_sql__fail_msg(db, r, "out of memory encoding a shipment");
	if (!blob)
		return 0;
	r = fits(db, len);
	if (r <= 0) {
		free(blob);
		if (r < 0)
			return r;
		/* stored, not shipped: counted, in the flush's transaction */
		store_ship__refused(db->ship);
		r = add_meta_count(db, "ship_refused_flushes", 1);
		return r < 0 ? r : add_meta_count(db, "ship_refused_samples", samples);
	}
	*store_ship__queued_bytes(db->ship) += (int64_t)len;
	rc = sqlite3_prepare_v2(db->sql, "INSERT INTO ship_outbox (batch, host, time_s, samples, "
				"data) VALUES (?, ?, ?, ?, ?)", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		free(blob);
		return store_sql__fail(db, rc);
	}
	sqlite3_bind_int64(st, 1, (int64_t)batch);
	sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, time_s);
	sqlite3_bind_int64(st, 4, (int64_t)samples);
	sqlite3_bind_blob(st, 5, blob, (int)len, free);
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return r;
}

/* Whether the file has an outbox. */
static int has_outbox(struct store_sqlite *db)
{
	sqlite3_stmt *st;
	int rc, found;

	rc = sqlite3_prepare_v2(db->sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
				"AND name = 'ship_outbox'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		found = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return found;
}

/* Run one statement with one integer parameter (autocommit). */
static int exec_seq(struct store_sqlite *db, const char *sql, int64_t seq)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}

struct outbox_entry {
	int64_t seq, time_s, attempts;
	uint64_t batch, samples;
	char *host;
	void *data;
	size_t len;
};

/* The oldest entry: 1 and *e (free e->host, e->data), 0 when none. */
static int oldest(struct store_sqlite *db, struct outbox_entry *e)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db->sql, "SELECT seq, batch, host, time_s, samples, attempts, "
				"data FROM ship_outbox ORDER BY seq LIMIT 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(st, 6);
		const char *host = (const char *)sqlite3_column_text(st, 2);

		e->seq = sqlite3_column_int64(st, 0);
		e->batch = (uint64_t)sqlite3_column_int64(st, 1);
		e->time_s = sqlite3_column_int64(st, 3);
		e->samples = (uint64_t)sqlite3_column_int64(st, 4);
		e->attempts = sqlite3_column_int64(st, 5);
		e->len = (size_t)sqlite3_column_bytes(st, 6);
		e->host = strdup(host ? host : "");
		e->data = malloc(e->len ? e->len : 1);
		if (!e->host || !e->data) {
			free(e->host);
			free(e->data);
			r = store_sql__fail_msg(db, -ENOMEM, "out of memory");
		} else {
			if (e->len)
				memcpy(e->data, data, e->len);
			r = 1;
		}
	} else if (rc != SQLITE_DONE) {
		r = store_sql__fail(db, rc);
	}
	sqlite3_finalize(st);
	return r;
}

/* host as a ClickHouse string literal's inside ('\'' and '\\' escaped). */
static char *quote(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o = 0;
	return out;
}

/* Whether ClickHouse has e's rows of table t (samples: the first row
 * carries the batch; drops: every row): 1 yes, 0 no, or -errno. */
static int shipped_before(struct store_ch *ch, const struct outbox_entry *e,
			  enum store_ch_table t, const char *query_id)
{
	struct store_ch_request rq = {
		.database = store_ch__database(ch),
		.query_id = query_id,
		.what = "looking up an earlier shipment",
	};
	char *sql = NULL, *host = quote(e->host), *text = NULL, hour[48] = "";
	long long n = -1;
	int err, len;

	if (!host)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	/* (the samples: read where the intake's view wrote them, by the
	 * stored hour too, which prunes) */
	if (t == STORE_CH_SAMPLES)
		snprintf(hour, sizeof(hour), " AND hour = toDateTime(%lld)",
			 (long long)(e->time_s - e->time_s % 3600));
	len = asprintf(&sql, "SELECT count() FROM `%s`.`%s` WHERE host = '%s' AND "
		       "time = toDateTime(%lld)%s AND batch = %llu", store_ch__database(ch),
		       t == STORE_CH_SAMPLES ? STORE_CH_SAMPLES_TABLE : store_ch_table_name(t),
		       host, (long long)e->time_s, hour, (unsigned long long)e->batch);
	free(host);
	if (len < 0)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	rq.body = sql;
	rq.body_len = (size_t)len;
	err = store_ch__request(ch, &rq, &text);
	free(sql);
	if (err == -EAGAIN)
		return store_ch__fail(ch, err, "an earlier insert of the shipment of %lld is "
				      "still running in ClickHouse at %s; waiting for it",
				      (long long)e->time_s, store_ch__url(ch));
	if (err)
		return err;
	if (sscanf(text, "%lld", &n) != 1 || n < 0)
		err = store_ch__fail(ch, -EIO, "ClickHouse at %s answered a count with '%.40s'",
				     store_ch__url(ch), text);
	free(text);
	return err ? err : n > 0;
}

/* The query id of the insert of e's rows of table t (samples, drops). */
static void insert_id(const struct outbox_entry *e, enum store_ch_table t, char *buf,
		      size_t size)
{
	snprintf(buf, size, "ember-ship-%016llx%s", (unsigned long long)e->batch,
		 t == STORE_CH_DROPS ? "-drops" : "");
}

/* Send e: its definitions, then its drops unless skip_drops (found in
 * ClickHouse already), then its samples. */
static int send_entry(struct store_ch *ch, const struct outbox_entry *e, bool skip_drops,
		      uint64_t *ret_bytes)
{
	static const struct store_ch_setting sync_insert[] = {
		/* a Distributed table inserts into its shard before it
		 * answers: the acknowledgement means the rows are stored */
		{ "insert_distributed_sync", "1" },
	};
	uint64_t bytes = 0;
	int err;

	for (int t = 0; t < STORE_CH_TABLES; t++) {
		struct store_ch_request rq = {
			.database = store_ch__database(ch),
			.gzip = true,
		};
		char sql[512];
		const void *data;
		size_t len;

		if (store_ship_blob__section(e->data, e->len, t, &data, &len))
			return store_ch__fail(ch, -EIO, "the queued shipment of %lld is damaged",
					      (long long)e->time_s);
		char query_id[64];

		if (!len || (t == STORE_CH_DROPS && skip_drops))
			continue;
		snprintf(sql, sizeof(sql), "INSERT INTO `%s`.`%s` (%s) FORMAT TabSeparated",
			 store_ch__database(ch), store_ch_table_name(t), store_ch_table_columns(t));
		rq.query = sql;
		rq.body = data;
		rq.body_len = len;
		rq.settings = sync_insert;
		rq.n_settings = 1;
		if (t == STORE_CH_SAMPLES || t == STORE_CH_DROPS) {
			/* the samples are the shipment: one insert, one part
			 * on one shard, all or nothing; so are its drops,
			 * sent before them */
			insert_id(e, t, query_id, sizeof(query_id));
			rq.query_id = query_id;
			rq.what = t == STORE_CH_SAMPLES ? "inserting samples" : "inserting drops";
		} else {
			rq.what = "inserting stack definitions";
		}
		err = store_ch__request(ch, &rq, NULL);
		if (err)
			return err;
		bytes += len;
	}
	*ret_bytes = bytes;
	return 0;
}

/* A failure of the local file, told through ch's message. */
static int local_fail(struct store_sqlite *db, struct store_ch *ch, int err)
{
	return store_ch__fail(ch, err, "the outbox of the local file: %s", db->base.errmsg);
}

int store_outbox__next(struct store_sqlite *db, struct store_ch *ch,
		       struct store_ship_result *ret)
{
	struct outbox_entry e = {0};
	char query_id[64];
	uint64_t bytes = 0;
	bool found = false, drops_found = false;
	const void *part;
	size_t n_samples = 0, n_drops = 0;
	int r;

	r = has_outbox(db);
	if (r > 0)
		r = oldest(db, &e);
	if (r <= 0)
		return r < 0 ? local_fail(db, ch, r) : 0;
	if (store_ship_blob__section(e.data, e.len, STORE_CH_SAMPLES, &part, &n_samples) ||
	    store_ship_blob__section(e.data, e.len, STORE_CH_DROPS, &part, &n_drops)) {
		r = store_ch__fail(ch, -EIO, "the queued shipment of %lld is damaged",
				   (long long)e.time_s);
		goto out;
	}
	if (e.attempts > 0) {
		/* The drops go before the samples: samples there mean the
		 * whole shipment is; else its drops may be */
		if (n_samples) {
			insert_id(&e, STORE_CH_SAMPLES, query_id, sizeof(query_id));
			r = shipped_before(ch, &e, STORE_CH_SAMPLES, query_id);
			if (r < 0)
				goto out;
			found = r == 1;
		}
		if (!found && n_drops) {
			insert_id(&e, STORE_CH_DROPS, query_id, sizeof(query_id));
			r = shipped_before(ch, &e, STORE_CH_DROPS, query_id);
			if (r < 0)
				goto out;
			drops_found = r == 1;
			found = drops_found && !n_samples;
		}
	}
	if (!found) {
		/* committed before the send: after a crash from here on, the
		 * entry is looked up before it is sent again */
		r = exec_seq(db, "UPDATE ship_outbox SET attempts = attempts + 1 WHERE seq = ?",
			     e.seq);
		if (r < 0) {
			r = local_fail(db, ch, r);
			goto out;
		}
		r = send_entry(ch, &e, drops_found, &bytes);
		if (r < 0)
			goto out;
	}
	r = exec_seq(db, "DELETE FROM ship_outbox WHERE seq = ?", e.seq);
	if (r < 0) {
		/* shipped, still queued: looked up (attempts > 0) next time */
		r = local_fail(db, ch, r);
		goto out;
	}
	if (ret)
		*ret = (struct store_ship_result){ .seq = (uint64_t)e.seq, .time_s = e.time_s,
						   .samples = e.samples, .bytes = bytes,
						   .found = found };
	r = 1;
out:
	free(e.host);
	free(e.data);
	return r;
}

int store_outbox__backlog(struct store_sqlite *db, struct store_ship_backlog *ret)
{
	sqlite3_stmt *st;
	int r, rc;

	*ret = (struct store_ship_backlog){0};
	for (int i = 0; i < 2; i++) {
		char *v = NULL;

		if (store_sqlite__get_meta(&db->base, i ? "ship_refused_samples" : "ship_refused_flushes",
				       &v) == 0) {
			*(i ? &ret->refused_samples : &ret->refused_flushes) = strtoull(v, NULL, 10);
			free(v);
		}
	}
	r = has_outbox(db);
	if (r <= 0)
		return r;
	rc = sqlite3_prepare_v2(db->sql, "SELECT count(*), coalesce(sum(samples), 0), "
				"coalesce(sum(length(data)), 0), coalesce(min(time_s), 0) "
				"FROM ship_outbox", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sql__fail(db, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ret->flushes = (uint64_t)sqlite3_column_int64(st, 0);
		ret->samples = (uint64_t)sqlite3_column_int64(st, 1);
		ret->bytes = (uint64_t)sqlite3_column_int64(st, 2);
		ret->oldest_s = sqlite3_column_int64(st, 3);
		r = 0;
	} else {
		r = store_sql__fail(db, rc);
	}
	sqlite3_finalize(st);
	return r;
}
