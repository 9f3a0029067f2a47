/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_maintain.c — retention and downsampling of the fleet store,
 * run by the server side (`ember fleet-maintain`, `ember serve --store
 * --maintain`), never by the agents: the policy of storage.h's
 * store_policy, as the SQLite file applies it, on a single server's
 * tables or on each shard's `_local` tables.
 *
 * Age: a day partition of samples and drops whose whole day is older
 * than the policy's max_age goes with ALTER TABLE ... DROP PARTITION
 * (18.16 has no TTL; a partition is dropped on the server that holds it,
 * so a cluster's shards are each visited).
 *
 * Downsampling, without rewriting a partition: samples is a
 * SummingMergeTree keyed (host, 6-hour block, labelset, stack, time,
 * duration, batch).
 * For a host's day, the rows older than a tier's cut and finer than its
 * step are summed per key, and one INSERT adds, per key, the sum at the
 * coarser bucket (time floored to the step, duration the step) and the
 * same sum negated at the original key. Sums over any range that holds
 * whole coarse buckets are the same before, during and after; ClickHouse's
 * merges then add the coarse rows up and remove the pairs that sum to
 * zero. The INSERT is one block into one partition (the block-size
 * settings below), so one part: all of it lands or none. Rows that name a
 * shipment (batch != 0: one per shipment, the agents' exactly-once
 * lookups) are left as they are. Running it again finds no fine rows with
 * a sum left, so it adds nothing; a host's day is one statement with a
 * fixed query id, which ClickHouse refuses (-EAGAIN) while another
 * maintainer runs it on that server: two maintainers never negate the
 * same rows twice. Rows an agent ships into the range meanwhile are
 * merged by the next run.
 *
 * Days done (all of a day older than a tier's cut, merged) are recorded
 * in ember_retention, so later runs do not scan them again; an agent
 * that ships a backlog into such a day leaves its rows at their own
 * buckets (totals exact, only not merged).
 *
 * The daily roll-up, last (downsampling adds blocks to the days it
 * merges): every day that has ended and that the rollup_stale view lists
 * is made equal to its samples' sums, host by host (one part each, a
 * fixed query id), then the fleet's roll-up of the day made equal to
 * the hosts' sums (one part, a fixed query id), then the day recorded
 * with the newest block its samples had before the first host was read. Invariant: a day the view does not
 * list has a roll-up equal to its samples' sums (storage/DESIGN.md,
 * Fleet, Roll-ups).
 *
 * Downsampling and the roll-up, and the upgrade (store_ch_upgrade.c), walk
 * days, then hosts, the same way (store_ch__walk_days).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_ch.h"
#include "store_formats.h"

#define DONE_TABLE "ember_retention"

/* A statement's first field as a number (0 when empty). */
static uint64_t first_number(const char *text)
{
	return text ? strtoull(text, NULL, 10) : 0;
}


/* An INSERT ... SELECT as one block: one part, all or nothing. */
static const struct store_ch_setting one_block[] = {
	{ "max_insert_block_size", "1000000000" },
	{ "min_insert_block_size_rows", "1000000000" },
	{ "min_insert_block_size_bytes", "1000000000000" },
};

/* A statement's query id for what on table's day of host (its literal):
 * the same statement on the same server gets the same id, so a second
 * maintainer's is refused while the first runs (-EAGAIN). */
static void statement_id(char *buf, size_t size, const char *what, const char *db,
			 const char *table, const char *day, long long step,
			 const char *host_literal)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = host_literal; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(buf, size, "ember-%s-%s-%s-%s-%lld-%016llx", what, db, table, day, step,
		 (unsigned long long)h);
}

/*
 * Run sql (n bytes from asprintf; n < 0: it failed) as one block under
 * query_id, for what; frees sql. Returns 0 or -errno (the message in ch).
 */
static int insert_one_block(struct store_ch *ch, const char *what, const char *query_id,
			    char *sql, int n)
{
	struct store_ch_request rq = {
		.settings = one_block,
		.n_settings = sizeof(one_block) / sizeof(one_block[0]),
		.what = what,
		.query_id = query_id,
		.body = sql,
	};
	int err;

	if (n < 0)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	rq.body_len = (size_t)n;
	err = store_ch__request(ch, &rq, NULL);
	free(sql);
	return err;
}

/* One host's day (YYYY-MM-DD) of table (with its suffix): its rows with
 * time < cut, duration < step and no batch, merged into step buckets. */
static int merge_host_day(struct store_ch *ch, const char *table, const char *host_literal,
			  const char *day, int64_t cut, int64_t step, uint64_t *ret_rows)
{
	char *sql = NULL, *text = NULL, query_id[160], intake[64];
	const char *db = store_ch__database(ch);
	int n, err;

	/* (inserted through the intake, as a shipment: its views add the
	 * pairs to the derived tables; table is "samples" and a suffix) */
	snprintf(intake, sizeof(intake), STORE_CH_INTAKE "%s",
		 table + strlen(STORE_CH_SAMPLES_TABLE));
	/* (the count first: nothing to merge is the common case) */
	err = store_ch__ask(ch, &text, "counting the rows to downsample",
			    "SELECT count() FROM (SELECT sum(count) AS n FROM `%1$s`.`%2$s` WHERE "
			    "host = %3$s AND " STORE_CH_DAY_COND("%4$s") " AND time < "
			    "toDateTime(%5$lld) AND duration < %6$lld AND batch = 0 GROUP BY "
			    "labelset, stack, time, duration HAVING n != 0)", db, table, host_literal,
			    day, (long long)cut, (long long)step);
	if (err)
		return err;
	*ret_rows = first_number(text);
	free(text);
	if (!*ret_rows)
		return 0;
	n = asprintf(&sql,
		     "INSERT INTO `%1$s`.`%2$s` (" STORE_CH_SAMPLE_COLUMNS ") "
		     "SELECT toDateTime(if(sign > 0, greatest(intDiv(t, %3$lld) * %3$lld, "
		     "toUInt32(toDateTime(toDate('%4$s')))), t)), if(sign > 0, %3$lld, d), h, pr, pi, "
		     "th, ti, cg, lk, lv, ls, st, sign * n, 0 "
		     "FROM (SELECT toUInt32(time) AS t, duration AS d, any(host) AS h, "
		     "any(process) AS pr, any(pid) AS pi, any(thread) AS th, any(tid) AS ti, "
		     "any(cgroup) AS cg, any(label_keys) AS lk, any(label_values) AS lv, "
		     "labelset AS ls, stack AS st, sum(count) AS n FROM `%1$s`.`%5$s` "
		     "WHERE host = %6$s AND " STORE_CH_DAY_COND("%4$s") " AND time < "
		     "toDateTime(%7$lld) AND duration < %3$lld AND batch = 0 GROUP BY labelset, "
		     "stack, time, duration HAVING n != 0) ARRAY JOIN [1, -1] AS sign",
		     db, intake, (long long)step, day, table, host_literal, (long long)cut);
	statement_id(query_id, sizeof(query_id), "maintain", db, table, day, (long long)step,
		     host_literal);
	return insert_one_block(ch, "downsampling old samples", query_id, sql, n);
}

/* The lines of a text answer, split in place. */
static size_t split_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = text; p && *p && n < max;) {
		size_t len = strcspn(p, "\n");

		lines[n++] = p;
		if (!p[len])
			break;
		p[len] = 0;
		p += len + 1;
	}
	return n;
}

/* host as a quoted literal ('\'' and '\\' escaped; the answer's
 * TabSeparated escapes undone first). */
static char *host_literal(const char *tsv)
{
	char *out = malloc(2 * strlen(tsv) + 3), *o = out;

	if (!out)
		return NULL;
	*o++ = '\'';
	for (const char *p = tsv; *p; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			c = *++p;
			c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? 0 : c;
		}
		if (!c)
			continue;
		if (c == '\'' || c == '\\')
			*o++ = '\\';
		*o++ = c;
	}
	*o++ = '\'';
	*o = 0;
	return out;
}

#define MAX_DAYS 4096
#define MAX_HOSTS 100000

/* A day as a partition of toDate(time) names it: YYYY-MM-DD (what goes
 * into SQL as a literal is checked to be that). */
static bool is_day(const char *day)
{
	return strlen(day) == 10 && strspn(day, "0123456789-") == 10;
}


/* w's host statement for each host of day. */
static int walk_hosts(struct store_ch *ch, const char *day, const struct store_ch_day_walk *w, void *arg,
		      struct store_ch_maintain_stats *st, bool *ret_busy)
{
	char *sql = w->hosts_sql(ch, day, arg), *text = NULL, **hosts;
	size_t n;
	int err;

	if (!sql)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	err = store_ch__ask(ch, &text, "listing a day's hosts", "%s", sql);
	free(sql);
	if (err)
		return err;
	hosts = malloc(MAX_HOSTS * sizeof(*hosts));
	if (!hosts) {
		free(text);
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	}
	n = split_lines(text, hosts, MAX_HOSTS);
	for (size_t k = 0; !err && k < n; k++) {
		char *lit = host_literal(hosts[k]);

		if (!lit) {
			err = store_ch__fail(ch, -ENOMEM, "out of memory");
			break;
		}
		err = w->host(ch, day, lit, arg);
		free(lit);
		if (err == -EAGAIN) {
			/* another maintainer is on it */
			st->busy++;
			*ret_busy = true;
			err = 0;
		}
	}
	free(hosts);
	free(text);
	return err;
}

int store_ch__walk_days(struct store_ch *ch, const char *days_sql,
			const struct store_ch_day_walk *w, void *arg,
			struct store_ch_maintain_stats *st)
{
	char *days_text = NULL, *days[MAX_DAYS];
	size_t n_days;
	int err;

	err = store_ch__ask(ch, &days_text, w->what, "%s", days_sql);
	if (err)
		return err;
	n_days = split_lines(days_text, days, MAX_DAYS);
	for (size_t i = 0; !err && i < n_days; i++) {
		bool busy = false;

		if (!is_day(days[i]))
			continue;
		err = w->day_start ? w->day_start(ch, days[i], arg) : 0;
		if (err == 1) {
			err = 0;
			continue;
		}
		if (!err)
			err = walk_hosts(ch, days[i], w, arg, st, &busy);
		if (!err && w->day_end)
			err = w->day_end(ch, days[i], busy, arg);
	}
	free(days_text);
	return err;
}

/* ---- downsampling ---- */

char *store_ch__table_hosts_sql(struct store_ch *ch, const char *day, void *arg)
{
	const char *const *table = arg;
	char *sql = NULL;

	if (asprintf(&sql, "SELECT DISTINCT host FROM `%s`.`%s` WHERE toDate(time) = '%s'",
		     store_ch__database(ch), *table, day) < 0)
		return NULL;
	return sql;
}

/* The hosts of a day of the samples (arg: struct merge_arg, its table). */
static char *samples_hosts_sql(struct store_ch *ch, const char *day, void *arg)
{
	const char *const *table = arg;
	char *sql = NULL;

	if (asprintf(&sql, "SELECT DISTINCT host FROM `%1$s`.`%2$s` WHERE "
		     STORE_CH_DAY_COND("%3$s"), store_ch__database(ch), *table, day) < 0)
		return NULL;
	return sql;
}

/* One tier of one server's samples (the walk's arg). */
struct merge_arg {
	const char *table; /* (first: samples_hosts_sql) */
	int64_t cut, step;
	uint64_t *rows;
};

static int merge_host(struct store_ch *ch, const char *day, const char *host_literal, void *arg)
{
	struct merge_arg *m = arg;
	uint64_t rows = 0;
	int err = merge_host_day(ch, m->table, host_literal, day, m->cut, m->step, &rows);

	if (!err)
		*m->rows += rows;
	return err;
}

/* All of the day before the cut, every host merged: recorded done. */
static int merge_day_end(struct store_ch *ch, const char *day, bool busy, void *arg)
{
	struct merge_arg *m = arg;
	char *t = NULL;
	int err;

	if (busy)
		return 0;
	err = store_ch__ask(ch, &t, "checking a day's end",
			    "SELECT toUInt32(toDateTime(toDate('%s') + 1)) <= %lld", day,
			    (long long)m->cut);
	if (!err && first_number(t) == 1)
		err = store_ch__exec(ch, "recording a day downsampled", "INSERT INTO `%s`.`"
				     DONE_TABLE "` (day, step, done) SELECT toDate('%s'), "
				     "%lld, now()", store_ch__database(ch), day, (long long)m->step);
	free(t);
	return err;
}

static const struct store_ch_day_walk merge_walk = {
	.what = "listing the days to downsample",
	.hosts_sql = samples_hosts_sql,
	.host = merge_host,
	.day_end = merge_day_end,
};

/* One tier on one server's tables: every day with rows older than cut,
 * not done yet, host by host. */
static int downsample(struct store_ch *ch, const char *samples, int64_t cut, int64_t step,
		      struct store_ch_maintain_stats *st)
{
	const char *db = store_ch__database(ch);
	struct merge_arg m = { samples, cut, step, &st->rows_merged };
	char *sql = NULL;
	int err;

	if (asprintf(&sql, "SELECT DISTINCT partition FROM system.parts WHERE database = '%s' "
		     "AND table = '%s' AND active AND toDate(partition) <= "
		     "toDate(toDateTime(%lld)) AND toDate(partition) NOT IN (SELECT day FROM "
		     "`%s`.`" DONE_TABLE "` WHERE step = %lld) ORDER BY partition", db,
		     samples, (long long)cut, db, (long long)step) < 0)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	err = store_ch__walk_days(ch, sql, &merge_walk, &m, st);
	free(sql);
	return err;
}

/* ---- the daily roll-up ---- */

/*
 * One host's day (YYYY-MM-DD) of the daily roll-up made equal to its
 * samples: one INSERT of, per (process, stack), the samples' sum less
 * what the roll-up holds (0 the first time; the rows that came since,
 * when the day was stale), as one part; none when they are equal.
 */
static int rollup_host_day(struct store_ch *ch, const char *suffix, const char *host_literal,
			   const char *day)
{
	char *sql = NULL, query_id[160], table[64];
	const char *db = store_ch__database(ch);
	int n;

	snprintf(table, sizeof(table), STORE_CH_ROLLUP_TABLE "%s", suffix);
	n = asprintf(&sql,
		     "INSERT INTO `%1$s`.`%2$s` (time, host, process, stack, count) "
		     "SELECT toDateTime(toDate('%4$s')), %5$s, process, stack, sum(c) AS n FROM "
		     "(SELECT process, stack, toInt64(count) AS c FROM `%1$s`.`samples%3$s` WHERE "
		     "host = %5$s AND " STORE_CH_DAY_COND("%4$s") " UNION ALL SELECT process, stack, "
		     "-count AS c FROM `%1$s`.`%2$s` WHERE host = %5$s AND toDate(time) = '%4$s') "
		     "GROUP BY process, stack HAVING n != 0",
		     db, table, suffix, day, host_literal);
	statement_id(query_id, sizeof(query_id), "rollup", db, table, day, 86400, host_literal);
	return insert_one_block(ch, "rolling up a day", query_id, sql, n);
}

/*
 * A day (YYYY-MM-DD) of the fleet's roll-up made equal to the daily
 * roll-up's sums over the server's hosts: one INSERT of, per (process,
 * stack), those sums less what the fleet's roll-up holds, as one part;
 * none when they are equal. Run once every host of the day is rolled up.
 */
static int rollup_fleet_day(struct store_ch *ch, const char *suffix, const char *day)
{
	char *sql = NULL, query_id[160], table[64];
	const char *db = store_ch__database(ch);
	int n;

	snprintf(table, sizeof(table), STORE_CH_FLEET_ROLLUP_TABLE "%s", suffix);
	n = asprintf(&sql,
		     "INSERT INTO `%1$s`.`%2$s` (time, process, stack, count) "
		     "SELECT toDateTime(toDate('%4$s')), process, stack, sum(c) AS n FROM "
		     "(SELECT process, stack, count AS c FROM `%1$s`.`" STORE_CH_ROLLUP_TABLE "%3$s` "
		     "WHERE toDate(time) = '%4$s' UNION ALL SELECT process, stack, -count AS c FROM "
		     "`%1$s`.`%2$s` WHERE toDate(time) = '%4$s') GROUP BY process, stack HAVING n != 0",
		     db, table, suffix, day);
	statement_id(query_id, sizeof(query_id), "rollup", db, table, day, 86400, "");
	return insert_one_block(ch, "rolling up a day over the hosts", query_id, sql, n);
}

/* One server's roll-up (the walk's arg): the day's newest block, read at
 * its start. */
struct rollup_arg {
	const char *suffix;
	long long block;
	struct store_ch_maintain_stats *st;
};

/* The day's newest block; a day whose samples are gone loses its
 * roll-up and is skipped (1). */
static int rollup_day_start(struct store_ch *ch, const char *day, void *arg)
{
	struct rollup_arg *r = arg;
	const char *db = store_ch__database(ch);
	char *t = NULL;
	uint64_t parts;
	int err;

	err = store_ch__ask(ch, &t, "reading a day's newest block",
			    "SELECT max(max_block_number), count() FROM system.parts WHERE "
			    "database = '%s' AND table = 'samples%s' AND active AND "
			    "partition = '%s'", db, r->suffix, day);
	if (err)
		return err;
	/* (max, then the number of parts) */
	r->block = strtoll(t, NULL, 10);
	parts = strchr(t, '\t') ? strtoull(strchr(t, '\t') + 1, NULL, 10) : 0;
	free(t);
	if (parts)
		return 0;
	/* the samples are gone: so go the roll-ups */
	err = store_ch__exec(ch, "dropping a day's roll-up", "ALTER TABLE `%s`.`"
			     STORE_CH_ROLLUP_TABLE "%s` DROP PARTITION '%s'", db, r->suffix, day);
	if (!err)
		err = store_ch__exec(ch, "dropping a day's roll-up", "ALTER TABLE `%s`.`"
				     STORE_CH_FLEET_ROLLUP_TABLE "%s` DROP PARTITION '%s'", db,
				     r->suffix, day);
	return err ? err : 1;
}

static char *rollup_hosts_sql(struct store_ch *ch, const char *day, void *arg)
{
	struct rollup_arg *r = arg;
	char *sql = NULL;

	if (asprintf(&sql, "SELECT DISTINCT host FROM (SELECT host FROM `%1$s`.`samples%2$s` "
		     "WHERE " STORE_CH_DAY_COND("%3$s") " UNION ALL SELECT host FROM `%1$s`.`"
		     STORE_CH_ROLLUP_TABLE "%2$s` WHERE toDate(time) = '%3$s')",
		     store_ch__database(ch), r->suffix, day) < 0)
		return NULL;
	return sql;
}

static int rollup_host(struct store_ch *ch, const char *day, const char *host_literal, void *arg)
{
	struct rollup_arg *r = arg;

	return rollup_host_day(ch, r->suffix, host_literal, day);
}

/* Every host rolled up: the fleet's roll-up of the day made from the
 * hosts', then the day recorded with the block read before. */
static int rollup_day_end(struct store_ch *ch, const char *day, bool busy, void *arg)
{
	struct rollup_arg *r = arg;
	int err;

	if (busy)
		return 0;
	err = rollup_fleet_day(ch, r->suffix, day);
	if (err == -EAGAIN) {
		/* another maintainer is on it */
		r->st->busy++;
		return 0;
	}
	if (!err)
		err = store_ch__exec(ch, "recording a day rolled up", "INSERT INTO `%s`.`"
			     STORE_CH_ROLLED_TABLE "%s` (day, max_block, done) SELECT "
			     "toDate('%s'), %lld, now()", store_ch__database(ch), r->suffix, day,
			     r->block);
	if (!err)
		r->st->days_rolled_up++;
	return err;
}

static const struct store_ch_day_walk rollup_walk = {
	.what = "listing the days to roll up",
	.day_start = rollup_day_start,
	.hosts_sql = rollup_hosts_sql,
	.host = rollup_host,
	.day_end = rollup_day_end,
};

/*
 * The daily roll-up of one server's tables: every day that ended before
 * now_s and is stale (the view; storage/DESIGN.md, Fleet, Roll-ups),
 * host by host, then recorded as holding the day's samples up to the
 * newest block they had before the first host was read (a block that
 * lands meanwhile leaves the day stale: readers take its samples until
 * the next run). A day whose samples are gone loses its roll-up.
 */
static int rollup(struct store_ch *ch, const char *suffix, int64_t now_s,
		  struct store_ch_maintain_stats *st)
{
	struct rollup_arg r = { suffix, 0, st };
	char *sql = NULL;
	int err;

	if (asprintf(&sql, "SELECT DISTINCT toString(day) FROM `%s`.`" STORE_CH_STALE_VIEW "%s` "
		     "WHERE toUInt32(toDateTime(day + 1)) <= %lld ORDER BY day",
		     store_ch__database(ch), suffix, (long long)now_s) < 0)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	err = store_ch__walk_days(ch, sql, &rollup_walk, &r, st);
	free(sql);
	return err;
}

/* Drop table's day partitions whose day ended before cut. */
static int drop_days(struct store_ch *ch, const char *table, int64_t cut, bool samples,
		     struct store_ch_maintain_stats *st)
{
	const char *db = store_ch__database(ch);
	char *text = NULL, *ids[MAX_DAYS];
	size_t n;
	int err;

	err = store_ch__ask(ch, &text, "listing old days",
			    "SELECT partition_id FROM system.parts WHERE database = '%s' AND "
			    "table = '%s' AND active AND toUInt32(toDateTime(toDate(partition) + 1)) "
			    "<= %lld GROUP BY partition_id ORDER BY partition_id", db, table,
			    (long long)cut);
	if (err)
		return err;
	n = split_lines(text, ids, MAX_DAYS);
	for (size_t i = 0; !err && i < n; i++) {
		/* (partition ids of toDate(time): YYYYMMDD) */
		if (strspn(ids[i], "0123456789") != strlen(ids[i]) || !*ids[i])
			continue;
		if (samples) {
			char *t = NULL;

			err = store_ch__ask(ch, &t, "counting an old day's samples",
					    "SELECT sum(count) FROM `%s`.`%s` WHERE toYYYYMMDD(time) = %s",
					    db, table, ids[i]);
			st->samples_removed += first_number(t);
			free(t);
		}
		if (!err)
			err = store_ch__exec(ch, "dropping an old day", "ALTER TABLE `%s`.`%s` DROP "
					     "PARTITION ID '%s'", db, table, ids[i]);
		if (!err && st)
			st->partitions_dropped++;
	}
	free(text);
	return err;
}

/* The policy on one server's tables (suffix "" or "_local"). */
static int maintain_server(struct store_ch *ch, const char *suffix, int64_t now_s,
			   const struct store_policy *p, struct store_ch_maintain_stats *st)
{
	char samples[64], drops[64], rolled[64], fleet[64], totals[64], sets[64], hourly[64];
	int err;

	snprintf(samples, sizeof(samples), "samples%s", suffix);
	snprintf(drops, sizeof(drops), "drops%s", suffix);
	snprintf(rolled, sizeof(rolled), STORE_CH_ROLLUP_TABLE "%s", suffix);
	snprintf(fleet, sizeof(fleet), STORE_CH_FLEET_ROLLUP_TABLE "%s", suffix);
	snprintf(totals, sizeof(totals), STORE_CH_TOTALS_TABLE "%s", suffix);
	snprintf(sets, sizeof(sets), STORE_CH_SETS_TABLE "%s", suffix);
	snprintf(hourly, sizeof(hourly), STORE_CH_HOURLY_TABLE "%s", suffix);
	err = store_ch__exec(ch, "creating a table", "CREATE TABLE IF NOT EXISTS `%s`.`" DONE_TABLE
			     "` (day Date, step UInt32, done DateTime) ENGINE = MergeTree "
			     "PARTITION BY tuple() ORDER BY (step, day)", store_ch__database(ch));
	if (!err && p->max_age_s) {
		err = drop_days(ch, samples, now_s - p->max_age_s, true, st);
		if (!err)
			err = drop_days(ch, drops, now_s - p->max_age_s, false, st);
		/* (after the samples': a day whose roll-up outlives its
		 * samples is stale, read from the samples: none) */
		if (!err)
			err = drop_days(ch, rolled, now_s - p->max_age_s, false, NULL);
		if (!err)
			err = drop_days(ch, fleet, now_s - p->max_age_s, false, NULL);
		if (!err)
			err = drop_days(ch, totals, now_s - p->max_age_s, false, NULL);
		if (!err)
			err = drop_days(ch, sets, now_s - p->max_age_s, false, NULL);
		if (!err)
			err = drop_days(ch, hourly, now_s - p->max_age_s, false, NULL);
	}
	/* the coarsest tier first: fewer rows left for the finer ones */
	for (int i = STORE_POLICY_TIERS - 1; !err && i >= 0; i--) {
		int64_t step = p->tiers[i].step_s;

		if (!p->tiers[i].after_s || step <= 0)
			continue;
		err = downsample(ch, samples, store_time__floor(now_s - p->tiers[i].after_s, step),
				 step, st);
	}
	/* last: downsampling adds blocks to the days it merges */
	if (!err)
		err = rollup(ch, suffix, now_s, st);
	return err;
}

int store_ch__maintain(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		       int64_t now_s, const struct store_policy *policy,
		       struct store_ch_maintain_stats *ret_stats)
{
	struct store_ch_maintain_stats st = { 0 };
	struct store_policy defaults;
	char *layout = NULL;
	int version, err;

	if (!policy) {
		store_policy_init(&defaults);
		policy = &defaults;
	}
	err = store_ch__read_existing_schema(entry, &version, &layout);
	if (err)
		return err;
	if (version != STORE_CH_SCHEMA_VERSION) {
		err = store_ch__fail(entry, version > STORE_CH_SCHEMA_VERSION ? -ENOTSUP : -EPROTO,
				     "the database %s at %s has schema version %d; this Ember "
				     "maintains version %d%s", store_ch__database(entry),
				     store_ch__url(entry), version, STORE_CH_SCHEMA_VERSION,
				     version < STORE_CH_SCHEMA_VERSION && version >= STORE_CH_UPGRADE_FROM ?
				     ": upgrade it first with 'ember fleet-maintain --upgrade URL'" : "");
	} else if (!strcmp(layout, "single")) {
		err = n ? store_ch__fail(entry, -EINVAL, "the database %s at %s is a single "
					 "server's: give no --shard", store_ch__database(entry),
					 store_ch__url(entry))
			: maintain_server(entry, "", now_s, policy, &st);
	} else if (!n) {
		err = store_ch__fail(entry, -EINVAL, "the database %s at %s is laid out as '%s': "
				     "give each shard with --shard URL (the partitions are on "
				     "the shards)", store_ch__database(entry), store_ch__url(entry),
				     layout);
	} else {
		for (size_t i = 0; !err && i < n; i++) {
			err = maintain_server(shards[i], "_local", now_s, policy, &st);
			if (err)
				err = store_ch__fail(entry, err, "shard %s: %s", store_ch__url(shards[i]),
						     store_ch__errmsg(shards[i]));
		}
	}
	free(layout);
	if (ret_stats)
		*ret_stats = st;
	return err;
}
