/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_schema.c — the fleet store's tables in ClickHouse, created and
 * checked. SQL that Debian 12's ClickHouse 18.16 and current releases
 * both accept: MergeTree with PARTITION BY / ORDER BY clauses,
 * SummingMergeTree, ReplacingMergeTree, DEFAULT columns,
 * materialized views TO a table, Distributed, TinyLog; no LowCardinality
 * (18.16 wants an experimental setting for it), no codecs (18.16 has
 * none: the server's <compression> setting picks ZSTD, README, Fleet),
 * no TTL (old day partitions are dropped instead, store_ch_maintain.c),
 * no ON CLUSTER
 * (18.16 needs ZooKeeper for it: a cluster's tables are made on each
 * shard, store_ch__init_cluster).
 *
 *   samples_in the intake (Null engine): shipments and downsampling
 *              insert rows here with their time (the form agents have
 *              always queued); its views write each block into the
 *              samples and the derived tables, and it keeps nothing
 *   samples    one row per (bucket, label set, stack): hour (the bucket
 *              start's UTC hour) and sec (the second in it; time is
 *              their ALIAS), duration, host, process, pid, thread, tid,
 *              cgroup, free labels as two arrays, labelset (a hash of
 *              those label columns, computed by the server at the
 *              intake: a DEFAULT), stack id, count (signed: retention's
 *              downsampling adds negated rows), batch (the shipment's
 *              id on its first row, 0 on the others: exactly-once). A
 *              SummingMergeTree partitioned by day and ordered by (host,
 *              3-hour block, labelset, stack, hour, sec, duration,
 *              batch) (schema 5; STORE_CH_BLOCK_EXPR): a host's hour
 *              reads its block alone, and within it a label set's rows
 *              are one run, so its label columns compress to almost
 *              nothing, and a stack's rows of a label set follow each
 *              other over three hours, so the 64-bit ids repeat for the
 *              compressor, and the second takes 2 bytes that repeat
 *              every hour (storage/DESIGN.md, Fleet, Schema);
 *              rows with the same key (a bucket written twice, a
 *              downsampled bucket and its negated sources) are summed at
 *              ClickHouse's merges, and a row whose count sums to 0 goes.
 *              A day is dropped as a partition.
 *   drops      samples lost and events of kept samples (kind 0 / 1) per
 *              flush and reason, with the shipment's batch on every row
 *   stacks     stack id -> frame ids, root first
 *   frames     frame id -> function id, line, kind, build-id, file offset
 *   functions  function id -> name, module, file
 *   samples_1d, ember_rolled, rollup_stale, samples_1d_fleet  the daily
 *              roll-up per host and over the hosts, kept by the server
 *              side (below, rollup_tables)
 *   samples_ts, samples_sets, samples_1h_fleet  the totals per host and
 *              bucket, the label sets per host and hour, the fleet's
 *              sums per hour, process and stack, kept by ClickHouse from
 *              every insert into the intake (materialized views, below)
 *   ember_schema  the version and layout ("single", "cluster:NAME")
 *
 * Ids are 64-bit hashes of the symbolized contents (store_ch_ship.c), so
 * stacks, frames and functions are ReplacingMergeTree tables ordered by
 * their id: the copies other hosts send fold into one at merges; readers
 * take any one row per id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch.h"

struct ch_table {
	const char *name;
	const char *columns;     /* in the order shipments write them */
	const char *definition;  /* column types */
	const char *engine;      /* for the data (single server, shard) */
	const char *shard_key;   /* Distributed sharding expression */
};

static const struct ch_table tables[STORE_CH_TABLES] = {
	[STORE_CH_FUNCTIONS] = {
		"functions", "function, name, module, file",
		"function UInt64, name String, module String, file String",
		"ReplacingMergeTree ORDER BY function", "function",
	},
	[STORE_CH_FRAMES] = {
		"frames", "frame, function, line, kind, build_id, file_offset",
		"frame UInt64, function UInt64, line UInt32, kind UInt8, build_id String, "
		"file_offset UInt64",
		"ReplacingMergeTree ORDER BY frame", "frame",
	},
	[STORE_CH_STACKS] = {
		"stacks", "stack, frames",
		"stack UInt64, frames Array(UInt64)",
		"ReplacingMergeTree ORDER BY stack", "stack",
	},
	[STORE_CH_DROPS] = {
		"drops", "time, duration, host, kind, reason, count, batch",
		"time DateTime, duration UInt32, host String, kind UInt8, reason String, "
		"count UInt64, batch UInt64",
		"MergeTree PARTITION BY toDate(time) ORDER BY (host, time, kind, reason)",
		"cityHash64(host)",
	},
	[STORE_CH_SAMPLES] = {
		/* the intake: what is inserted is written into the samples
		 * (samples_table) by its view, and into the derived tables
		 * by theirs; it keeps nothing */
		STORE_CH_INTAKE,
		"time, duration, host, process, pid, thread, tid, cgroup, label_keys, "
		"label_values, stack, count, batch",
		"time DateTime, duration UInt32, host String, process String, pid UInt32, "
		"thread String, tid UInt32, cgroup UInt64, label_keys Array(String), "
		"label_values Array(String), labelset UInt64 DEFAULT "
		"cityHash64(host, process, pid, thread, tid, cgroup, label_keys, label_values), "
		"stack UInt64, count Int32, batch UInt64",
		"Null",
		/* a host's samples on one shard: a shipment is one insert
		 * there (all or nothing), and a host's queries read one shard */
		"cityHash64(host)",
	},
};

/* The samples (schema 5): time stored as the hour and the second in it
 * (STORE_CH_HOUR_EXPR, _SEC_EXPR), `time` their ALIAS; partitioned by
 * the time's day as before; ordered by (host, 3-hour block, labelset,
 * stack, hour, sec, duration, batch). Written by the intake's view
 * (and by an upgrade's copy), never inserted into by an agent. */
static const struct ch_table samples_table = {
	STORE_CH_SAMPLES_TABLE, STORE_CH_STORED_COLUMNS,
	"hour DateTime, sec UInt16, time DateTime ALIAS hour + sec, duration UInt32, "
	"host String, process String, pid UInt32, thread String, tid UInt32, cgroup UInt64, "
	"label_keys Array(String), label_values Array(String), labelset UInt64, "
	"stack UInt64, count Int32, batch UInt64",
	"SummingMergeTree(count) PARTITION BY toDate(hour + sec) "
	"ORDER BY (host, " STORE_CH_BLOCK_EXPR ", labelset, stack, hour, sec, duration, batch)",
	"cityHash64(host)",
};

/*
 * The tables no agent writes, kept by the server side (store_ch_maintain.c)
 * and read by the readers (store_ch_query.c): the daily roll-up, the
 * record of the days rolled up, and the view that tells which days' roll-ups
 * are stale. On a cluster the roll-up is `_local` on each shard with a
 * Distributed table on the entry; the record and the view are per shard
 * (the view compares a shard's record with the same shard's parts), with
 * a Distributed table over the views. "%1$s" is the database, "%2$s" the
 * suffix ("" or "_local").
 */
static const struct ch_table rollup_tables[] = {
	{
		STORE_CH_ROLLUP_TABLE, NULL,
		"time DateTime, host String, process String, stack UInt64, count Int64",
		"SummingMergeTree(count) PARTITION BY toDate(time) "
		"ORDER BY (host, time, process, stack)",
		"cityHash64(host)",
	},
	{
		STORE_CH_ROLLED_TABLE, NULL,
		"day Date, max_block Int64, done DateTime",
		"MergeTree PARTITION BY tuple() ORDER BY day",
		NULL, /* (per shard only: the view reads it where it is) */
	},
	{
		/* the daily roll-up summed over the server's hosts: a day's
		 * rows are one run of the key, read whole */
		STORE_CH_FLEET_ROLLUP_TABLE, NULL,
		"time DateTime, process String, stack UInt64, count Int64",
		"SummingMergeTree(count) PARTITION BY toDate(time) ORDER BY (time, process, stack)",
		"stack", /* (the maintainer writes each shard's own: never
			  * inserted through the Distributed table) */
	},
	{
		/* the totals per host and bucket, filled by the view below */
		STORE_CH_TOTALS_TABLE, NULL,
		"time DateTime, duration UInt32, host String, count Int64",
		"SummingMergeTree(count) PARTITION BY toDate(time) ORDER BY (host, time, duration)",
		"cityHash64(host)",
	},
	{
		/* the label sets per host and hour, filled by the view below
		 * (the label columns are the same on every row of a set: its
		 * hash is theirs) */
		STORE_CH_SETS_TABLE, NULL,
		"hour DateTime, host String, process String, pid UInt32, thread String, tid UInt32, "
		"cgroup UInt64, label_keys Array(String), label_values Array(String), "
		"labelset UInt64, count Int64",
		"SummingMergeTree(count) PARTITION BY toDate(hour) ORDER BY (host, hour, labelset)",
		"cityHash64(host)",
	},
	{
		/* the fleet's sums per hour, filled by the view below (an
		 * hour's rows are one run of the key, read whole) */
		STORE_CH_HOURLY_TABLE, NULL,
		"hour DateTime, process String, stack UInt64, count Int64",
		"SummingMergeTree(count) PARTITION BY toDate(hour) ORDER BY (hour, process, stack)",
		"stack", /* (each shard's view writes its own) */
	},
};

/* The views on the intake: the one that writes each block inserted into
 * the samples in their form, and those that add it to the totals, to the
 * label sets per hour and to the fleet's sums per hour (made after the
 * tables, before anything is shipped: a store's samples are all in
 * them); their columns in the tables' order. "%1$s" the database, "%2$s"
 * the suffix. */
#define TOTALS_SELECT(from, where) \
	"SELECT time, duration, host, toInt64(sum(count)) AS count FROM " from where \
	" GROUP BY time, duration, host"
#define SETS_SELECT(from, where) \
	"SELECT toStartOfHour(time) AS hour, host, any(process) AS process, any(pid) AS pid, " \
	"any(thread) AS thread, any(tid) AS tid, any(cgroup) AS cgroup, any(label_keys) AS " \
	"label_keys, any(label_values) AS label_values, labelset, toInt64(sum(count)) AS count " \
	"FROM " from where " GROUP BY hour, host, labelset"
#define HOURLY_SELECT(from, where) \
	"SELECT " STORE_CH_HOUR_EXPR " AS hour, process, stack, toInt64(sum(count)) AS count " \
	"FROM " from where " GROUP BY hour, process, stack"
#define INTAKE "`%1$s`.`" STORE_CH_INTAKE "%2$s`"
#define VIEW_SQL(view, table, select) \
	"CREATE MATERIALIZED VIEW IF NOT EXISTS `%1$s`.`" view "%2$s` TO `%1$s`.`" table \
	"%2$s` AS " select
static const char *const view_sql[] = {
	VIEW_SQL(STORE_CH_INTAKE_VIEW, STORE_CH_SAMPLES_TABLE,
		 "SELECT " STORE_CH_STORED_SELECT " FROM " INTAKE),
	VIEW_SQL(STORE_CH_TOTALS_VIEW, STORE_CH_TOTALS_TABLE, TOTALS_SELECT(INTAKE, "")),
	VIEW_SQL(STORE_CH_SETS_VIEW, STORE_CH_SETS_TABLE, SETS_SELECT(INTAKE, "")),
	VIEW_SQL(STORE_CH_HOURLY_VIEW, STORE_CH_HOURLY_TABLE, HOURLY_SELECT(INTAKE, "")),
};

/*
 * The view of the days whose roll-up is stale on a server: every day
 * partition of samples whose newest block (system.parts' max_block_number:
 * an insert makes a new block number, a merge keeps the largest of its
 * parts', a dropped day has no parts) is newer than the one the roll-up
 * recorded, or that has none recorded; every day the roll-up has
 * whose samples are gone (retention drops the samples' day first); and
 * every day the roll-up has that the fleet's roll-up has not (a day
 * rolled up before the fleet's roll-up existed, or one whose run stopped
 * between the two). A day with none of these is not listed: its roll-ups
 * equal its samples' sums, or all are empty.
 */
#define STALE_VIEW STORE_CH_STALE_VIEW
#define STALE_SELECT \
	"SELECT day FROM (SELECT toDate(partition) AS day, max(max_block_number) AS cur " \
	"FROM system.parts WHERE database = '%1$s' AND table = 'samples%2$s' AND active " \
	"GROUP BY day) ANY LEFT JOIN (SELECT day, max(max_block) AS done FROM " \
	"`%1$s`.`" STORE_CH_ROLLED_TABLE "%2$s` GROUP BY day) USING day WHERE done < cur " \
	"UNION ALL SELECT DISTINCT toDate(partition) AS day FROM system.parts WHERE " \
	"database = '%1$s' AND table = '" STORE_CH_ROLLUP_TABLE "%2$s' AND active AND " \
	"partition NOT IN (SELECT partition FROM system.parts WHERE database = '%1$s' AND " \
	"table = 'samples%2$s' AND active) " \
	"UNION ALL SELECT DISTINCT toDate(partition) AS day FROM system.parts WHERE " \
	"database = '%1$s' AND table = '" STORE_CH_ROLLUP_TABLE "%2$s' AND active AND " \
	"partition NOT IN (SELECT partition FROM system.parts WHERE database = '%1$s' AND " \
	"table = '" STORE_CH_FLEET_ROLLUP_TABLE "%2$s' AND active)"

#define SCHEMA_TABLE "ember_schema"
#define SCHEMA_DEFINITION "version UInt32, layout String, created DateTime"

const char *store_ch_table_name(enum store_ch_table t)
{
	return tables[t].name;
}

const char *store_ch_table_columns(enum store_ch_table t)
{
	return tables[t].columns;
}

static int create_table(struct store_ch *ch, const struct ch_table *t, const char *suffix)
{
	return store_ch__exec(ch, "creating a table", "CREATE TABLE IF NOT EXISTS `%s`.`%s%s` (%s) "
			      "ENGINE = %s", ch->database, t->name, suffix, t->definition,
			      t->engine);
}

/* The data tables (suffix "" on a single server, "_local" on shards);
 * the intake last, with its views (store_ch__create_views). */
static int create_data_tables(struct store_ch *ch, const char *suffix)
{
	int err;

	err = store_ch__exec(ch, "creating the database", "CREATE DATABASE IF NOT EXISTS `%s`",
		   ch->database);
	for (int t = 0; !err && t < STORE_CH_TABLES; t++)
		if (t != STORE_CH_SAMPLES)
			err = create_table(ch, &tables[t], suffix);
	if (!err)
		err = create_table(ch, &samples_table, suffix);
	for (size_t t = 0; !err && t < ARRAY_SIZE(rollup_tables); t++)
		err = create_table(ch, &rollup_tables[t], suffix);
	if (!err)
		err = store_ch__exec(ch, "creating a view", "CREATE VIEW IF NOT EXISTS `%1$s`.`"
				     STALE_VIEW "%2$s` AS " STALE_SELECT, ch->database, suffix);
	if (!err)
		err = store_ch__create_views(ch, suffix);
	return err;
}

int store_ch__create_views(struct store_ch *ch, const char *suffix)
{
	int err = create_table(ch, &tables[STORE_CH_SAMPLES], suffix);

	for (size_t i = 0; !err && i < ARRAY_SIZE(view_sql); i++)
		err = store_ch__exec(ch, "creating a view", view_sql[i], ch->database, suffix);
	return err;
}

int store_ch__create_derived(struct store_ch *ch, const char *suffix)
{
	int err = 0;

	/* (the last three of rollup_tables; their views are made with the
	 * intake, store_ch__create_views) */
	for (size_t t = ARRAY_SIZE(rollup_tables) - 3; !err && t < ARRAY_SIZE(rollup_tables); t++)
		err = create_table(ch, &rollup_tables[t], suffix);
	return err;
}

int store_ch__derive_day(struct store_ch *ch, const char *suffix, const char *from,
			 const char *day)
{
	/* each table's columns, key, and the SELECT of a day of from
	 * ("%1$s" the database, "%3$s" from, "%4$s" the day) */
	static const struct {
		const char *table, *columns, *key, *select;
	} derived[] = {
		{ STORE_CH_TOTALS_TABLE, "time, duration, host, count", "time, duration, host",
		  TOTALS_SELECT("`%1$s`.`%3$s`", " WHERE " STORE_CH_DAY_COND("%4$s")) },
		{ STORE_CH_SETS_TABLE, "hour, host, process, pid, thread, tid, cgroup, label_keys, "
		  "label_values, labelset, count", "hour, host, labelset",
		  SETS_SELECT("`%1$s`.`%3$s`", " WHERE " STORE_CH_DAY_COND("%4$s")) },
	};
	int err = 0;

	for (size_t i = 0; !err && i < ARRAY_SIZE(derived); i++) {
		const char *time = i ? "hour" : "time";
		char table[80], *select = NULL, *t = NULL;

		snprintf(table, sizeof(table), "%s%s", derived[i].table, suffix);
		if (asprintf(&select, derived[i].select, ch->database, "", from, day) < 0)
			return store_ch__fail(ch, -ENOMEM, "out of memory");
		/* the table's day as the samples make it? compared as sums
		 * that merges keep (the sum of counts, and of each count
		 * times a hash of its key, wrapping) */
		err = store_ch__ask(ch, &t, "checking a day's totals", "SELECT (SELECT sum(count), "
				    "sum(toUInt64(count) * cityHash64(%5$s)) FROM `%1$s`.`%2$s` WHERE "
				    "toDate(%6$s) = '%3$s') = (SELECT sum(count), sum(toUInt64(count) * "
				    "cityHash64(%5$s)) FROM (%4$s))", ch->database, table, day, select,
				    derived[i].key, time);
		if (!err && strtoull(t, NULL, 10) != 1) {
			err = store_ch__exec(ch, "dropping a day's totals", "ALTER TABLE `%s`.`%s` DROP "
					     "PARTITION '%s'", ch->database, table, day);
			if (!err)
				err = store_ch__exec(ch, "making a day's totals", "INSERT INTO `%s`.`%s` "
						     "(%s) %s", ch->database, table, derived[i].columns,
						     select);
		}
		free(t);
		free(select);
	}
	return err;
}

int store_ch__create_samples(struct store_ch *ch, const char *name)
{
	const struct ch_table *t = &samples_table;

	return store_ch__exec(ch, "creating a table", "CREATE TABLE `%s`.`%s` (%s) ENGINE = %s",
			      ch->database, name, t->definition, t->engine);
}

int store_ch__derive_hours(struct store_ch *ch, const char *suffix, const char *from)
{
	char *text = NULL;
	int err;

	/* (the hours of a day of the time zone may belong to the partition
	 * of the day before: emptied, then filled day by day, so each
	 * sample is added once wherever its hour is) */
	err = store_ch__exec(ch, "emptying the sums per hour", "TRUNCATE TABLE `%s`.`"
			     STORE_CH_HOURLY_TABLE "%s`", ch->database, suffix);
	if (!err)
		err = store_ch__ask(ch, &text, "listing the days", "SELECT DISTINCT partition FROM "
				    "system.parts WHERE database = '%s' AND table = '%s' AND active "
				    "ORDER BY partition", ch->database, from);
	for (char *line = text; !err && line && *line;) {
		size_t n = strcspn(line, "\n");
		const char *day = line;

		line[n] = 0;
		err = store_ch__exec(ch, "making the sums per hour", "INSERT INTO `%1$s`.`"
				     STORE_CH_HOURLY_TABLE "%2$s` (hour, process, stack, count) "
				     HOURLY_SELECT("`%1$s`.`%3$s`", " WHERE " STORE_CH_DAY_COND("%4$s")),
				     ch->database, suffix, from, day);
		line += n + 1;
	}
	free(text);
	return err;
}

int store_ch__write_version(struct store_ch *ch, const char *layout)
{
	int err = store_ch__exec(ch, "creating a table", "CREATE TABLE IF NOT EXISTS `%s`.`" SCHEMA_TABLE
		       "` (" SCHEMA_DEFINITION ") ENGINE = TinyLog", ch->database);

	if (!err)
		err = store_ch__exec(ch, "writing the schema version", "INSERT INTO `%s`.`" SCHEMA_TABLE
			   "` (version, layout, created) SELECT %d, '%s', now()", ch->database,
			   STORE_CH_SCHEMA_VERSION, layout);
	return err;
}

/* The newest version row: 0 and *ret_version and *ret_layout (caller frees),
 * -ENOENT when there is no schema table (or database), or an error. */
int store_ch__read_schema(struct store_ch *ch, int *ret_version, char **ret_layout)
{
	char *text = NULL, *tab;
	int err, version;

	err = store_ch__ask(ch, &text, "checking the schema version", "SELECT version, layout "
			    "FROM `%s`.`" SCHEMA_TABLE "` ORDER BY version DESC LIMIT 1",
			    ch->database);
	if (err)
		return err;
	tab = strchr(text, '\t');
	if (!tab || sscanf(text, "%d", &version) != 1) {
		free(text);
		/* a table without a row: a creation that did not finish */
		return -ENOENT;
	}
	tab[1 + strcspn(tab + 1, "\n")] = 0;
	*ret_layout = strdup(tab + 1);
	free(text);
	if (!*ret_layout)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	*ret_version = version;
	return 0;
}

int store_ch__read_existing_schema(struct store_ch *ch, int *ret_version, char **ret_layout)
{
	int err = store_ch__read_schema(ch, ret_version, ret_layout);

	if (err == -ENOENT)
		return store_ch__fail(ch, -ENOENT, "the database %s at %s holds no fleet store",
				      ch->database, ch->display);
	return err;
}

/* The tables a server's database has, in the order of missing_tables'
 * bits: the shipped ones, the roll-up, the stale view, the fleet's
 * roll-up, the totals and the label sets (the record of the days rolled
 * up is per shard, and made again with the roll-up; the materialized
 * views are where the samples are: on a cluster's shards, not on its
 * entry). */
static const char *const server_side[] = {
	STORE_CH_ROLLUP_TABLE, STALE_VIEW, STORE_CH_FLEET_ROLLUP_TABLE, STORE_CH_TOTALS_TABLE,
	STORE_CH_SETS_TABLE, STORE_CH_SAMPLES_TABLE, STORE_CH_HOURLY_TABLE,
};
/* (bits of missing_tables: the samples, and the tables derived from them) */
#define SAMPLES_BIT (STORE_CH_TABLES + 5)
#define DERIVED_BITS ((3u << (STORE_CH_TABLES + 3)) | (1u << (STORE_CH_TABLES + 6)))

static const char *table_of_bit(int bit)
{
	return bit < STORE_CH_TABLES ? tables[bit].name : server_side[bit - STORE_CH_TABLES];
}

#define N_CHECKED (STORE_CH_TABLES + (int)ARRAY_SIZE(server_side))

/* Which of the tables are missing: a bit per table (table_of_bit), and
 * bit N_CHECKED when an upgrade's samples table is there (one runs). */
static int missing_tables(struct store_ch *ch, unsigned *ret_missing)
{
	char *text = NULL;
	unsigned missing = 0;
	int err;

	err = store_ch__ask(ch, &text, "listing the tables",
			    "SELECT name FROM system.tables WHERE database = '%s'", ch->database);
	if (err)
		return err;
	for (int t = 0; t <= N_CHECKED; t++) {
		/* (the last bit: an upgrade's table, found) */
		const char *name = t < N_CHECKED ? table_of_bit(t) : "samples" STORE_CH_UPGRADING;
		bool found = false;

		for (char *line = text; line && *line;) {
			size_t n = strcspn(line, "\n");

			if (n == strlen(name) && !strncmp(line, name, n))
				found = true;
			line += n + (line[n] == '\n');
		}
		if (found == (t == N_CHECKED))
			missing |= 1u << t;
	}
	free(text);
	*ret_missing = missing;
	return 0;
}

int store_ch__prepare(struct store_ch *ch)
{
	char *layout = NULL;
	unsigned missing = 0;
	int version = 0, err;

	err = store_ch__read_schema(ch, &version, &layout);
	if (err == -ENOENT) {
		/* a new database: a single server's tables */
		err = create_data_tables(ch, "");
		if (!err)
			err = store_ch__write_version(ch, "single");
		return err;
	}
	if (err)
		return err;
	if (version > STORE_CH_SCHEMA_VERSION) {
		err = store_ch__fail(ch, -ENOTSUP, "the ClickHouse database %s at %s has Ember's "
				     "schema version %d, newer than this Ember's %d: upgrade Ember",
				     ch->database, ch->display, version, STORE_CH_SCHEMA_VERSION);
		goto out;
	}
	if (version < STORE_CH_SCHEMA_VERSION) {
		err = store_ch__fail(ch, -EPROTO, "the ClickHouse database %s at %s has schema "
				     "version %d, older than this Ember's %d: %s", ch->database,
				     ch->display, version, STORE_CH_SCHEMA_VERSION,
				     version >= STORE_CH_UPGRADE_FROM ? "upgrade it with 'ember "
				     "fleet-maintain --upgrade URL' (README, Fleet)" : "its tables "
				     "are not converted; ship to a new database (another DATABASE "
				     "in the URL; the old one stays readable by the Ember that wrote "
				     "it)");
		goto out;
	}
	err = missing_tables(ch, &missing);
	if (err || !missing)
		goto out;
	if (missing & (1u << N_CHECKED)) {
		/* (creating the samples table now would take the upgrade's
		 * place: wait for it) */
		err = store_ch__fail(ch, -EAGAIN, "the ClickHouse database %s at %s is being "
				     "upgraded (ember fleet-maintain --upgrade): try again when it "
				     "ends", ch->database, ch->display);
		goto out;
	}
	/* Samples without the intake: an upgrade that wrote the version and
	 * has not moved the older samples aside yet, or one that stopped
	 * (the intake made now would feed the older table) */
	if ((missing & (1u << STORE_CH_SAMPLES)) && !(missing & (1u << SAMPLES_BIT))) {
		err = store_ch__fail(ch, -EAGAIN, "the ClickHouse database %s at %s has samples "
				     "but no table %s: it is being upgraded, or an upgrade stopped "
				     "(run 'ember fleet-maintain --upgrade URL' again); try again "
				     "when it ends", ch->database, ch->display, STORE_CH_INTAKE);
		goto out;
	}
	/* Totals made now would lack the samples shipped before: refused
	 * where there are samples (a store of this version whose derived
	 * tables were dropped); the upgrade makes them from the samples. */
	if ((missing & DERIVED_BITS) && !(missing & (1u << SAMPLES_BIT))) {
		err = store_ch__fail(ch, -EPROTO, "the ClickHouse database %s at %s has samples but "
				     "not all of the tables %s, %s and %s: upgrade it with 'ember "
				     "fleet-maintain --upgrade URL' (README, Fleet)", ch->database,
				     ch->display, STORE_CH_TOTALS_TABLE, STORE_CH_SETS_TABLE,
				     STORE_CH_HOURLY_TABLE);
		goto out;
	}
	if (!strcmp(layout, "single")) {
		err = create_data_tables(ch, "");
		goto out;
	}
	for (int t = 0; t < N_CHECKED; t++)
		if (missing & (1u << t)) {
			err = store_ch__fail(ch, -ENOENT, "the table %s.%s is missing at %s (layout "
					     "%s): create it again with 'ember fleet-init'",
					     ch->database, table_of_bit(t), ch->display, layout);
			break;
		}
out:
	free(layout);
	return err;
}

int store_ch__init_cluster(struct store_ch *entry, const char *cluster,
			   struct store_ch *const *shards, size_t n)
{
	char layout[160];
	int err = 0;

	for (const char *p = cluster; *p; p++)
		if (!(*p == '_' || *p == '-' || *p == '.' || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) || p - cluster > 100)
			return store_ch__fail(entry, -EINVAL, "the cluster name '%s' is not valid "
					      "(letters, digits, '_', '-', '.')", cluster);
	for (size_t i = 0; i < n; i++) {
		err = create_data_tables(shards[i], "_local");
		if (err)
			return store_ch__fail(entry, err, "shard %s: %s", store_ch__url(shards[i]),
					      store_ch__errmsg(shards[i]));
	}
	err = store_ch__exec(entry, "creating the database", "CREATE DATABASE IF NOT EXISTS `%s`",
		   entry->database);
	for (int t = 0; !err && t <= STORE_CH_TABLES; t++) {
		const struct ch_table *d = t < STORE_CH_TABLES ? &tables[t] : &samples_table;

		err = store_ch__exec(entry, "creating a Distributed table", "CREATE TABLE IF NOT EXISTS "
			   "`%s`.`%s` (%s) ENGINE = Distributed('%s', '%s', '%s_local', %s)",
			   entry->database, d->name, d->definition, cluster,
			   entry->database, d->name, d->shard_key);
	}
	/* (the roll-ups: those with a sharding key) */
	for (size_t t = 0; !err && t < ARRAY_SIZE(rollup_tables); t++)
		if (rollup_tables[t].shard_key)
			err = store_ch__exec(entry, "creating a Distributed table", "CREATE TABLE IF "
				   "NOT EXISTS `%s`.`%s` (%s) ENGINE = Distributed('%s', '%s', "
				   "'%s_local', %s)", entry->database, rollup_tables[t].name,
				   rollup_tables[t].definition, cluster, entry->database,
				   rollup_tables[t].name, rollup_tables[t].shard_key);
	/* (the shards' stale days, each shard's view answering for its own) */
	if (!err)
		err = store_ch__exec(entry, "creating a Distributed table", "CREATE TABLE IF NOT EXISTS "
			   "`%s`.`" STALE_VIEW "` (day Date) ENGINE = Distributed('%s', '%s', '"
			   STALE_VIEW "_local')", entry->database, cluster, entry->database);
	if (!err) {
		char *l = NULL;
		int v;

		snprintf(layout, sizeof(layout), "cluster:%s", cluster);
		err = store_ch__read_schema(entry, &v, &l);
		if (err == -ENOENT)
			err = store_ch__write_version(entry, layout);
		else if (!err && strcmp(l, layout))
			err = store_ch__fail(entry, -EEXIST, "the database %s at %s is already laid "
					     "out as '%s', not '%s'", entry->database,
					     entry->display, l, layout);
		free(l);
	}
	return err;
}
