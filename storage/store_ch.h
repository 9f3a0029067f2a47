/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch.h — private to storage/: the fleet store's pieces shared by its
 * files: the ClickHouse client (store_ch_http.c), the schema
 * (store_ch_schema.c), the shipment a writer builds during a flush
 * (store_ch_ship.c) and the SQLite outbox that keeps shipments until
 * ClickHouse has them (store_outbox.c). Public functions are in
 * store_clickhouse.h (through storage.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

struct store_ch {
	void *curl;          /* CURL *, made at the first request */
	bool tls;
	char *host;
	unsigned port;
	char *database;
	char *user, *password;
	char *ca_file;
	unsigned timeout_ms, connect_ms;
	char *base;          /* "http://host:port/" */
	char *display;       /* the URL without the password */
	struct {
		char *data;
		size_t len, cap;
		bool too_big;
	} answer;
	char errmsg[640];
};

/* The database the URL names (borrowed). */
const char *store_ch__database(const struct store_ch *ch);

/* Set ch's message (printf-style); returns err. */
int store_ch__fail(struct store_ch *ch, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct store_ch_setting {
	const char *name, *value;
};

struct store_ch_request {
	const char *database;  /* NULL: "default" */
	const char *query;     /* in the URL (an INSERT's statement), or NULL */
	const void *body;      /* the statement, or an INSERT's rows */
	size_t body_len;
	bool gzip;             /* body is gzip-compressed */
	const char *query_id;  /* NULL: the server picks one */
	const struct store_ch_setting *settings;
	size_t n_settings;
	const char *what;      /* for messages: "inserting samples" */
	/* asked while the request waits (curl's progress callback, several
	 * times a second): true ends it with -ECANCELED; NULL: never */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
};

/* One request. Returns 0 and *ret_text (may be NULL; caller frees) or an
 * error of store_clickhouse.h with errmsg set (-ECANCELED: rq->cancelled
 * said so). A request that failed or was given up may still run on the
 * server: its query_id names it for KILL QUERY. */
int store_ch__request(struct store_ch *ch, const struct store_ch_request *rq,
		      char **ret_text);

/* A statement without an answer (printf-style), or a SELECT whose answer
 * goes to *ret_text (caller frees), in the database "default" (statements
 * name their tables with the database). Return 0 or an error of
 * store_clickhouse.h with errmsg set. */
int store_ch__exec(struct store_ch *ch, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int store_ch__ask(struct store_ch *ch, char **ret_text, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The tables of the schema (store_ch_schema.c), in the order the shipper
 * inserts: definitions before the samples that name them, the drops
 * before the samples (a shipment found by its samples was sent whole). */
enum store_ch_table {
	STORE_CH_FUNCTIONS,
	STORE_CH_FRAMES,
	STORE_CH_STACKS,
	STORE_CH_DROPS,
	STORE_CH_SAMPLES,
	STORE_CH_TABLES,
};

/* The tables of the server side (store_ch_schema.c), never shipped to:
 * the daily roll-up of the samples (sums per host, day, process and
 * stack), the record of the days rolled up (day, the newest block of the
 * day's samples the roll-up holds), and the view of the days whose
 * roll-up is stale (storage/DESIGN.md, Fleet, Roll-ups). On a cluster
 * the first and the view are Distributed on the entry over `_local`
 * ones on the shards; the record is on each shard only. */
#define STORE_CH_ROLLUP_TABLE "samples_1d"
#define STORE_CH_ROLLED_TABLE "ember_rolled"
#define STORE_CH_STALE_VIEW "rollup_stale"
/* The fleet's daily roll-up: the daily roll-up's sums per day, process
 * and stack summed over a server's hosts (about as many rows for a day
 * as one host has), kept by the maintainer with the daily roll-up and
 * fresh when it is (the same view); an unfiltered range's whole days are
 * read from it. On a cluster each shard's sums its own hosts, and a
 * Distributed table on the entry adds the shards'. */
#define STORE_CH_FLEET_ROLLUP_TABLE "samples_1d_fleet"
/* The samples' totals per host and bucket (time, duration), kept by
 * ClickHouse itself: a materialized view (STORE_CH_TOTALS_VIEW) on the
 * samples adds every block inserted into them (a shipment, the
 * maintainer's downsampling) to it, so it is always as fresh as the
 * samples, and a day is dropped from both. Spans and the timelines that
 * need no label but the host are read from it (a host's day is 8,640
 * rows at most). On a cluster the view is on each shard's samples
 * (into its `_local` table), with a Distributed table on the entry. */
#define STORE_CH_TOTALS_TABLE "samples_ts"
#define STORE_CH_TOTALS_VIEW "samples_in_mv_ts"
/* The label sets per host and hour (hour, host, labelset, the label
 * columns, count), kept by ClickHouse the same way (STORE_CH_SETS_VIEW):
 * a range's label sets are read from it for its whole hours and from the
 * samples for the rest (store_ch_match.c). */
#define STORE_CH_SETS_TABLE "samples_sets"
#define STORE_CH_SETS_VIEW "samples_in_mv_sets"

/* The samples' time block (schema 5): the key's second column, 3 hours
 * of a host (UTC-aligned), written as the key writes it so that ranges
 * given as bounds on it let ClickHouse skip the other blocks' granules
 * (18.16 derives none from bounds on time alone). It is taken of the
 * stored hour (STORE_CH_HOUR_EXPR), which has the same block as the
 * time: a block is whole hours. Schema 4's block was 6 hours (a host's
 * hour read twice the rows), schema 3's an hour (a (label set, stack)
 * run repeated its 64-bit stack id more often: 1.1 bytes a row more;
 * storage/DESIGN.md, Fleet, Schema). */
#define STORE_CH_BLOCK_S 10800
#define STORE_CH_BLOCK_EXPR "intDiv(toUInt32(hour), 10800)"

/* The samples store a row's time as its hour (UTC-aligned, whatever the
 * server's time zone) and the second in it; `time` is an ALIAS of their
 * sum. Shipments (and downsampling) insert rows with their time into
 * the intake table STORE_CH_INTAKE (Null engine), whose view
 * STORE_CH_INTAKE_VIEW writes them into the samples in this form, so
 * what an agent ships (and what an older agent queued) has one form. */
#define STORE_CH_HOUR_EXPR "toDateTime(intDiv(toUInt32(time), 3600) * 3600)"
#define STORE_CH_SEC_EXPR "toUInt16(modulo(toUInt32(time), 3600))"
#define STORE_CH_SAMPLES_TABLE "samples"
#define STORE_CH_INTAKE "samples_in"
/* (the views on the intake: ClickHouse runs them in the order of their
 * names, the samples' first) */
#define STORE_CH_INTAKE_VIEW "samples_in_mv"

/* The fleet's sums per hour, process and stack (all hosts of a server;
 * on a cluster a Distributed table adds the shards'), kept by ClickHouse
 * from every insert (STORE_CH_HOURLY_VIEW): whole hours of a tree over
 * all hosts are read from it, a day's 24 hours instead of 100 hosts'
 * samples rows. */
/* A day (a format's argument: "%4$s", YYYY-MM-DD of the server's time
 * zone, the partition's) of the samples: the condition on the time, and
 * the bounds it implies on the stored hour, which prune the other days'
 * parts (18.16 takes none from toDate of the ALIAS). */
#define STORE_CH_DAY_COND(day) \
	"toDate(time) = '" day "' AND hour >= toDateTime(toDate('" day "')) - 3600 AND " \
	"hour < toDateTime(toDate('" day "') + 1)"

#define STORE_CH_HOURLY_TABLE "samples_1h_fleet"
#define STORE_CH_HOURLY_VIEW "samples_in_mv_1h"

/* The oldest schema store_ch__upgrade converts (schema 1 had no label
 * set column), and the suffix of the samples table an upgrade copies
 * from (samples_upgrading, samples_local_upgrading): while it exists,
 * store_ch__prepare creates no table (-EAGAIN). */
#define STORE_CH_UPGRADE_FROM 2
#define STORE_CH_UPGRADING "_upgrading"

/* Create the totals, the label sets and the fleet's sums per hour
 * (suffix "" or "_local") where missing (store_ch__create_derived); and
 * the intake with its views, which write into the samples and those
 * (store_ch__create_views). A view needs its source (18.16) and is bound
 * to its source's name; it writes into its target by name: while no
 * samples table is there, an insert into the intake fails, and ClickHouse
 * runs the samples' view first. */
int store_ch__create_derived(struct store_ch *ch, const char *suffix);
int store_ch__create_views(struct store_ch *ch, const char *suffix);

/* Make a day (YYYY-MM-DD) of the totals and of the label sets equal to
 * what the views make of the table from (an upgrade's copy): each table
 * whose day differs (compared as sums that merges keep) has the day
 * dropped and filled again from it. The caller keeps inserts from the
 * samples meanwhile (they are aside). Returns 0 or -errno (the request's
 * error, the message in store_ch__errmsg). */
int store_ch__derive_day(struct store_ch *ch, const char *suffix, const char *from,
			 const char *day);

/* Make the fleet's sums per hour (STORE_CH_HOURLY_TABLE, suffix "" or
 * "_local") what the view makes of the samples table from (an upgrade's
 * copy): emptied, then filled from each of from's days. The caller keeps
 * inserts away meanwhile. Returns 0 or -errno (message in
 * store_ch__errmsg). */
int store_ch__derive_hours(struct store_ch *ch, const char *suffix, const char *from);

/* Create the samples table of this schema as name (on a single server
 * "samples", on a shard "samples_local", or an upgrade's copy). */
int store_ch__create_samples(struct store_ch *ch, const char *name);

/* Record this schema's version with layout ("single", "cluster:NAME") in
 * ember_schema, created when missing. */
int store_ch__write_version(struct store_ch *ch, const char *layout);

/* The label columns of a samples INSERT ... SELECT (labelset too: rows
 * keep their sources' key). */
#define STORE_CH_SAMPLE_COLUMNS \
	"time, duration, host, process, pid, thread, tid, cgroup, label_keys, label_values, " \
	"labelset, stack, count, batch"
/* The samples table's stored columns, and a SELECT of them from a table
 * with a time column (an older schema's samples, or an ALIAS) */
#define STORE_CH_STORED_COLUMNS \
	"hour, sec, duration, host, process, pid, thread, tid, cgroup, label_keys, " \
	"label_values, labelset, stack, count, batch"
#define STORE_CH_STORED_SELECT \
	STORE_CH_HOUR_EXPR " AS hour, " STORE_CH_SEC_EXPR " AS sec, duration, host, process, " \
	"pid, thread, tid, cgroup, label_keys, label_values, labelset, stack, count, batch"

struct store_ch_maintain_stats;

/*
 * A walk over days, host by host, shared by downsampling, the roll-up and
 * the upgrade: the days a statement lists (one YYYY-MM-DD a line), and
 * for each day the hosts hosts_sql lists, one statement each (host)
 * (store_ch_maintain.c).
 */
struct store_ch_day_walk {
	const char *what;  /* "listing the days to downsample" */
	/* before the day's hosts (may be NULL): 0, 1 to skip the day, or an
	 * error */
	int (*day_start)(struct store_ch *ch, const char *day, void *arg);
	/* the SELECT of the day's hosts, one a line (caller frees; NULL:
	 * out of memory) */
	char *(*hosts_sql)(struct store_ch *ch, const char *day, void *arg);
	/* the host's statement: 0, or an error (-EAGAIN: another maintainer
	 * runs it, counted busy and left to it) */
	int (*host)(struct store_ch *ch, const char *day, const char *host_literal, void *arg);
	/* after the day's hosts (may be NULL); busy: some were left to
	 * another maintainer */
	int (*day_end)(struct store_ch *ch, const char *day, bool busy, void *arg);
};

/* w over the days days_sql lists, in its order; a host's statement
 * refused as another maintainer's (-EAGAIN) is counted in st->busy and
 * the day's end told so. Returns 0 or an error with ch's errmsg. */
int store_ch__walk_days(struct store_ch *ch, const char *days_sql,
			const struct store_ch_day_walk *w, void *arg,
			struct store_ch_maintain_stats *st);

/* A store_ch_day_walk's hosts_sql: the hosts of day in the table whose
 * name is arg's first member (a const char *). */
char *store_ch__table_hosts_sql(struct store_ch *ch, const char *day, void *arg);

/* The newest ember_schema row: 0 and *ret_version and *ret_layout
 * ("single", "cluster:NAME"; caller frees), -ENOENT when the database has
 * none, or an error. */
int store_ch__read_schema(struct store_ch *ch, int *ret_version, char **ret_layout);
/* The same for a store that must exist (maintenance, the upgrade): none
 * is -ENOENT with the message "holds no fleet store" in ch. */
int store_ch__read_existing_schema(struct store_ch *ch, int *ret_version, char **ret_layout);

/* The table's name, and its columns in the order rows are written
 * ("function, name, module, file"). */
const char *store_ch_table_name(enum store_ch_table t);
const char *store_ch_table_columns(enum store_ch_table t);

/* ---- the shipment of one flush (store_ch_ship.c) ---- */

struct store_ship;

int store_ship__new(struct store_ship **ret);
void store_ship__free(struct store_ship *s);

/* Add count samples of a stack (as store_db__add_stack). Returns 0 or
 * -ENOMEM. */
int store_ship__add(struct store_ship *s, const struct store_labels *labels,
		    const struct store_frame *frames, size_t n_frames, uint64_t count);

/* Add count samples lost for reason (event: false, store_db__add_drops)
 * or an event of kept samples (true, store_db__add_events). Returns 0 or
 * -ENOMEM. */
int store_ship__add_drop(struct store_ship *s, bool event, const char *reason,
			 uint64_t count);

/*
 * Encode what was added as one shipment of bucket time_s: per table the
 * TabSeparated rows, each gzip-compressed, behind a small header
 * (store_ship_blob__section reads it back). No blob (*ret_blob NULL)
 * when nothing was added; *ret_samples counts the samples, not the
 * drops. host is the agent's (the drops' host when the flush has no
 * samples). Returns 0 or -ENOMEM.
 */
int store_ship__encode(struct store_ship *s, int64_t time_s, uint32_t duration_s,
		       uint64_t batch, const char *host, void **ret_blob, size_t *ret_len,
		       uint64_t *ret_samples, const char **ret_host);

/* The flush committed: its definitions count as shipped from now on (a
 * later shipment names them without repeating them). Clears the rows. */
void store_ship__committed(struct store_ship *s);
/* The flush was abandoned, or committed without its shipment: forget its
 * rows, and every definition (some were never queued). */
void store_ship__abort(struct store_ship *s);

/* The queue's bound (store_db__ship_enable), and the bytes it held when
 * last counted (-1: not counted since this writer began). */
void store_ship__set_bound(struct store_ship *s, uint64_t max_bytes);
/* The host the drops of a flush without samples are shipped under
 * (store_db__ship_enable). Returns 0 or -ENOMEM. */
int store_ship__set_host(struct store_ship *s, const char *host);
const char *store_ship__host(const struct store_ship *s);
uint64_t store_ship__bound(const struct store_ship *s);
int64_t *store_ship__queued_bytes(struct store_ship *s);
/* store_ship__abort after the flush committed without its shipment. */
void store_ship__refused(struct store_ship *s);

/* Section t of a blob: 0 and its gzip bytes (possibly empty), or -EINVAL
 * for a blob that does not parse. Blobs queued by schema 1 (four
 * sections, no drops) are read too: their rows fit schema 2's tables. */
int store_ship_blob__section(const void *blob, size_t len, enum store_ch_table t,
			     const void **ret_data, size_t *ret_len);

/* ---- the outbox (store_outbox.c), called by the writer and the
 * SQLite backend ---- */

struct store_sqlite;

/* Inside the writer's open flush of bucket time_s lasting duration_s,
 * before COMMIT: queue the shipment of what the flush added. Returns 0 or
 * -errno. */
int store_outbox__put(struct store_sqlite *db, int64_t time_s, uint32_t duration_s);
/* Free what shipping keeps on db (the SQLite backend's close). */
void store_outbox__close(struct store_sqlite *db);

/* store_db__ship_enable, _next and _backlog on a writable SQLite handle
 * outside a flush (store_sqlite.c checks that and hands on), the
 * outbox's layer calling only the connection's (store_sql.h). */
int store_outbox__enable(struct store_sqlite *db, const char *host, uint64_t max_bytes);
int store_outbox__next(struct store_sqlite *db, struct store_ch *ch,
		       struct store_ship_result *ret);
int store_outbox__backlog(struct store_sqlite *db, struct store_ship_backlog *ret);
