/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_upgrade.c — the fleet store's schema upgrade, run by the
 * server side (`ember fleet-maintain --upgrade`, store_ch__upgrade):
 * schema 2, 3 and 4 store the samples' time whole under another key, so
 * the samples are copied into a table of this schema (the time as hour
 * and second, under the 3-hour block). The version is
 * written first (older Embers then refuse the database and create no
 * table), then per server (a single one, or each shard's `_local`
 * table) the samples are moved aside (no shipment lands meanwhile:
 * agents keep their backlogs; store_ch__prepare creates no table while
 * they are aside), copied day by day and host by host
 * (store_ch__walk_days), each day checked by sums that ClickHouse's
 * merges keep, the day's totals and label sets (samples_ts,
 * samples_sets) and the fleet's sums per hour made from the copy, and the
 * copy put in their place, then the intake (samples_in) and its views,
 * which feed the samples and those tables from then on (schema 4's views
 * on the samples are dropped with the move); the roll-up's record of
 * days, which names the old table's blocks, is emptied. A store of this
 * schema without a derived table is rebuilt the same way. A run that
 * stopped goes on where it was (storage/DESIGN.md, Fleet, Upgrade).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch.h"

/* One server's upgrade (the walk's arg): the tables copied from and to. */
struct upgrade_arg {
	const char *from; /* (first: table_hosts_sql) */
	const char *to, *suffix;
	uint64_t *rows;
};

/* A host's day copied (labelset as it is: the key's), its time as the
 * hour and the second in it. */
static int upgrade_host(struct store_ch *ch, const char *day, const char *host_literal, void *arg)
{
	struct upgrade_arg *u = arg;
	const char *db = store_ch__database(ch);

	return store_ch__exec(ch, "copying samples to the new schema", "INSERT INTO `%1$s`.`%2$s` ("
			      STORE_CH_STORED_COLUMNS ") SELECT " STORE_CH_STORED_SELECT " FROM `%1$s`.`%3$s` "
			      "WHERE host = %4$s AND toDate(time) = '%5$s'", db, u->to, u->from,
			      host_literal, day);
}

/* Whether the day's copy holds the same sums per key as the old table's
 * day (1, and *ret_rows the copy's rows), not (0), or an error. Compared
 * as what ClickHouse's merges keep: the sum of counts, and the sum of
 * each count times a hash of its key (wrapping, so the order of the
 * addition is not seen); not the rows, which merges fold. */
static int day_copied(struct store_ch *ch, const struct upgrade_arg *u, const char *day,
		      uint64_t *ret_rows)
{
	const char *db = store_ch__database(ch);
	char *t = NULL;
	int err;

#define DAY_SUMS "(sum(toInt64(count)), sum(toUInt64(toInt64(count)) * cityHash64(host, " \
	"labelset, stack, time, duration, batch)))"
	err = store_ch__ask(ch, &t, "checking a day's copy", "SELECT (SELECT " DAY_SUMS " FROM "
			    "`%1$s`.`%2$s` WHERE toDate(time) = '%4$s') = (SELECT " DAY_SUMS " FROM "
			    "`%1$s`.`%3$s` WHERE " STORE_CH_DAY_COND("%4$s") "), (SELECT count() FROM "
			    "`%1$s`.`%3$s` WHERE " STORE_CH_DAY_COND("%4$s") ")", db, u->from, u->to,
			    day);
#undef DAY_SUMS
	if (!err) {
		err = strtoull(t, NULL, 10) == 1;
		*ret_rows = strchr(t, '\t') ? strtoull(strchr(t, '\t') + 1, NULL, 10) : 0;
	}
	free(t);
	return err;
}

/* A day a stopped run copied whole is skipped (1), its totals and label
 * sets made whole; one it copied in part is dropped from the copy, and
 * copied again. */
static int upgrade_day_start(struct store_ch *ch, const char *day, void *arg)
{
	struct upgrade_arg *u = arg;
	uint64_t rows = 0;
	int copied = day_copied(ch, u, day, &rows);

	if (copied < 0)
		return copied;
	if (copied) {
		*u->rows += rows;
		copied = store_ch__derive_day(ch, u->suffix, u->to, day);
		return copied ? copied : 1;
	}
	return store_ch__exec(ch, "dropping a day copied in part", "ALTER TABLE `%s`.`%s` DROP "
			      "PARTITION '%s'", store_ch__database(ch), u->to, day);
}

/* The day's copy checked: the same sums per key (day_copied); then the
 * day's totals and label sets made from it (the views feed nothing while
 * the samples are aside). */
static int upgrade_day_end(struct store_ch *ch, const char *day, bool busy, void *arg)
{
	struct upgrade_arg *u = arg;
	uint64_t rows = 0;
	int copied = day_copied(ch, u, day, &rows);

	(void)busy;
	if (copied < 0)
		return copied;
	if (!copied)
		return store_ch__fail(ch, -EIO, "the copy of %s's samples of %s differs from them: "
				      "nothing was removed; run the upgrade again",
				      store_ch__database(ch), day);
	*u->rows += rows;
	return store_ch__derive_day(ch, u->suffix, u->to, day);
}

static const struct store_ch_day_walk upgrade_walk = {
	.what = "listing the days to upgrade",
	.day_start = upgrade_day_start,
	.hosts_sql = store_ch__table_hosts_sql,
	.host = upgrade_host,
	.day_end = upgrade_day_end,
};

/* Whether db has table (0 or 1), or an error. */
static int has_table(struct store_ch *ch, const char *table)
{
	char *t = NULL;
	int err = store_ch__ask(ch, &t, "listing the tables", "SELECT count() FROM system.tables "
				"WHERE database = '%s' AND name = '%s'", store_ch__database(ch),
				table);

	if (!err)
		err = strtoull(t, NULL, 10) ? 1 : 0;
	free(t);
	return err;
}

/* Schema 4's views on the samples (into the totals and the label sets),
 * which the intake's views replace. */
static int drop_old_views(struct store_ch *ch, const char *suffix)
{
	static const char *const views[] = { "samples_ts_mv", "samples_sets_mv" };
	int err = 0;

	for (size_t i = 0; !err && i < ARRAY_SIZE(views); i++)
		err = store_ch__exec(ch, "dropping an older view", "DROP TABLE IF EXISTS `%s`.`%s%s`",
				     store_ch__database(ch), views[i], suffix);
	return err;
}

/*
 * One server's samples (suffix "" or "_local") in this schema's table:
 * the table moved aside as samples<suffix>_upgrading (inserts and
 * lookups then fail and agents keep their backlog; prepare creates no
 * samples table while it is there), copied day by day and host by host
 * into samples<suffix>_new, each day checked, the copy renamed into
 * place, the roll-up's record of days emptied (it names the old table's
 * blocks), the old table dropped. A run that stopped goes on from the
 * moved table and its copy (the days copied whole are kept, a day copied
 * in part is dropped from the copy and copied again), or, when the copy
 * is already in place, only does what follows it. needed: the schema is
 * older (else only a stopped run is finished, or a store of this schema
 * without the totals and label sets copied to make them).
 */
static int upgrade_server(struct store_ch *ch, const char *suffix, bool needed,
			  uint64_t *ret_rows)
{
	const char *db = store_ch__database(ch);
	char cur[64], old[80], copy[80], *sql = NULL;
	struct upgrade_arg u = { old, copy, suffix, ret_rows };
	struct store_ch_maintain_stats st = { 0 };
	int has_old, has_cur, err;

	snprintf(cur, sizeof(cur), "samples%s", suffix);
	snprintf(old, sizeof(old), "samples%s" STORE_CH_UPGRADING, suffix);
	snprintf(copy, sizeof(copy), "samples%s_new", suffix);
	has_old = has_table(ch, old);
	has_cur = has_old < 0 ? has_old : has_table(ch, cur);
	if (has_cur < 0)
		return has_cur;
	if (!has_old && !needed && has_cur) {
		/* (a store of this schema made before the totals: copied
		 * the same way, the totals made from the copy) */
		snprintf(copy, sizeof(copy), STORE_CH_TOTALS_TABLE "%s", suffix);
		err = has_table(ch, copy);
		snprintf(copy, sizeof(copy), STORE_CH_SETS_TABLE "%s", suffix);
		if (err == 1)
			err = has_table(ch, copy);
		snprintf(copy, sizeof(copy), STORE_CH_HOURLY_TABLE "%s", suffix);
		if (err == 1)
			err = has_table(ch, copy);
		snprintf(copy, sizeof(copy), "samples%s_new", suffix);
		if (err < 0)
			return err;
		needed = !err;
	}
	if (!has_old && !needed)
		return 0;
	if (has_old && has_cur)
		goto drop_old; /* (the copy went in; the old table was left) */
	if (!has_old) {
		if (!has_cur)
			return store_ch__fail(ch, -ENOENT, "the table %s.%s is missing at %s",
					      db, cur, store_ch__url(ch));
		/* (the views of the derived tables come with the intake,
		 * after the copy: until then shipments fail, and what landed
		 * before the move is in the derived tables made again from
		 * the copy) */
		err = store_ch__exec(ch, "moving the old samples aside", "RENAME TABLE "
				     "`%1$s`.`%2$s` TO `%1$s`.`%3$s`", db, cur, old);
		if (!err)
			err = drop_old_views(ch, suffix);
		if (err)
			return err;
	}
	/* the derived tables the older schema lacked (also when a stopped
	 * run is finished) */
	err = store_ch__create_derived(ch, suffix);
	if (err)
		return err;
	/* (a stopped run's copy is kept: its whole days are not copied again) */
	err = has_table(ch, copy);
	if (!err)
		err = store_ch__create_samples(ch, copy);
	else if (err == 1)
		err = 0;
	if (!err && asprintf(&sql, "SELECT DISTINCT partition FROM system.parts WHERE database = "
			     "'%s' AND table = '%s' AND active ORDER BY partition", db, old) < 0)
		err = store_ch__fail(ch, -ENOMEM, "out of memory");
	if (!err)
		err = store_ch__walk_days(ch, sql, &upgrade_walk, &u, &st);
	free(sql);
	if (!err)
		err = store_ch__derive_hours(ch, suffix, copy);
	if (!err)
		err = store_ch__exec(ch, "moving the upgraded samples in", "RENAME TABLE "
				     "`%1$s`.`%2$s` TO `%1$s`.`%3$s`", db, copy, cur);
	if (err)
		return err;
drop_old:
	/* the intake and its views (the older schema's views on the samples
	 * gone); the stale days' view of one without the fleet's roll-up
	 * dropped: made again with the tables the older schema lacked, after
	 * this */
	err = drop_old_views(ch, suffix);
	if (!err)
		err = store_ch__create_views(ch, suffix);
	if (!err)
		err = store_ch__exec(ch, "dropping the stale days' view", "DROP TABLE IF EXISTS "
				     "`%s`.`" STORE_CH_STALE_VIEW "%s`", db, suffix);
	if (err)
		return err;
	/* the roll-up's record names the old table's blocks, which the copy
	 * does not keep (its block numbers start again): forgotten, every day
	 * is stale until the maintainer's next run rolls it up again (the
	 * same sums: it adds nothing) and records the new blocks */
	snprintf(cur, sizeof(cur), STORE_CH_ROLLED_TABLE "%s", suffix);
	has_cur = has_table(ch, cur);
	if (has_cur < 0)
		return has_cur;
	if (has_cur && (err = store_ch__exec(ch, "forgetting the days rolled up", "TRUNCATE "
					     "TABLE `%s`.`%s`", db, cur)))
		return err;
	return store_ch__exec(ch, "dropping the old samples", "DROP TABLE `%s`.`%s`", db, old);
}

int store_ch__upgrade(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		      int *ret_from, uint64_t *ret_rows)
{
	char *layout = NULL;
	uint64_t rows = 0;
	bool needed, single;
	int version, err;

	err = store_ch__read_existing_schema(entry, &version, &layout);
	if (err)
		return err;
	single = !strcmp(layout, "single");
	needed = version < STORE_CH_SCHEMA_VERSION;
	if (version > STORE_CH_SCHEMA_VERSION)
		err = store_ch__fail(entry, -ENOTSUP, "the database %s at %s has schema version %d, "
				     "newer than this Ember's %d: upgrade Ember",
				     store_ch__database(entry), store_ch__url(entry), version,
				     STORE_CH_SCHEMA_VERSION);
	else if (version < STORE_CH_UPGRADE_FROM)
		err = store_ch__fail(entry, -EPROTO, "the database %s at %s has schema version %d, "
				     "which is not converted (from %d on): ship to a new database",
				     store_ch__database(entry), store_ch__url(entry), version,
				     STORE_CH_UPGRADE_FROM);
	else if (single == !!n || (!single && strncmp(layout, "cluster:", 8)))
		err = store_ch__fail(entry, -EINVAL, "the database %s at %s is laid out as '%s': %s",
				     store_ch__database(entry), store_ch__url(entry), layout,
				     single ? "give no --shard" : "give each shard with --shard URL");
	/* the version first: older Embers then refuse the database and
	 * create no table in it; this one waits for the upgrade's end */
	if (!err && needed)
		err = store_ch__write_version(entry, layout);
	if (!err && single) {
		err = upgrade_server(entry, "", needed, &rows);
		/* (then the tables an older schema lacked) */
		if (!err)
			err = store_ch__prepare(entry);
	}
	for (size_t i = 0; !err && !single && i < n; i++) {
		err = upgrade_server(shards[i], "_local", needed, &rows);
		if (err)
			err = store_ch__fail(entry, err, "shard %s: %s", store_ch__url(shards[i]),
					     store_ch__errmsg(shards[i]));
	}
	/* (the entry's Distributed samples has the older schema's columns:
	 * made again, with the intake and the tables the older one lacked) */
	if (!err && !single && needed)
		err = store_ch__exec(entry, "dropping the older Distributed samples", "DROP TABLE IF "
				     "EXISTS `%s`.`" STORE_CH_SAMPLES_TABLE "`", store_ch__database(entry));
	if (!err && !single)
		err = store_ch__init_cluster(entry, layout + 8, shards, n);
	free(layout);
	if (!err) {
		if (ret_from)
			*ret_from = version;
		if (ret_rows)
			*ret_rows = rows;
	}
	return err;
}
