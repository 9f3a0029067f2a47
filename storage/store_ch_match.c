/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_match.c — the fleet store's filters (storage/DESIGN.md,
 * Fleet, Reading): a query's range and filter made into the WHERE of its
 * samples queries, and the label sets, names and values of a range.
 *
 * A filter's text never reaches SQL as SQL. The label sets of the range
 * are read (one GROUP BY, with the 64-bit hash each row carries; whole
 * hours from the label sets per hour, store_ch__put_sets_source), matched
 * in C with store_filter__match (the same matcher, the same regexes, as
 * the SQLite backend), and the query then names the matching sets by
 * their hashes (and their hosts, the primary key's prefix). Every text
 * that does go into SQL (a host="NAME" term's value, which narrows the
 * read to that host; a host name read back) is a quoted literal with its
 * quotes and backslashes escaped (store_ch__put_literal); numbers are
 * printed as numbers. ClickHouse 18.16 has no query parameters.
 *
 * Invariant: a condition names only label sets read back from the range
 * it is for, at most CH_MAX_SETS of them, and every samples query it
 * serves carries the same range.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch_reader.h"

/* Ids in one explicit IN list at most; more: the query is refused. */
#define CH_MAX_SETS 200000

/* The label columns of a label set (one per labelset: its hash, the
 * server's, store_ch_schema.c), with the free labels as "k=v,k=v" (as
 * storage.h's struct store_labels has them), and the hash that names a
 * label set. */
#define LABEL_SELECT \
	"any(host), any(process), any(pid), any(thread), any(tid), any(cgroup), " \
	"any(arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), label_keys, " \
	"label_values), ','))"
#define LABEL_HASH "labelset"

void store_ch_cond__free(struct store_ch_cond *c)
{
	free(c->text);
	free(c->plain);
	c->text = c->plain = NULL;
	c->hosts = NULL;
}


/* "time >= .. AND time < .." for q's range (the primary key's second
 * column), or "1". */
void store_ch__put_time_range(FILE *f, int64_t from_s, int64_t to_s)
{
	bool any = false;

	/* (with the bounds on the stored hour and on the key's time block,
	 * STORE_CH_BLOCK_EXPR, implied by those on time, its ALIAS: what lets
	 * 18.16 skip the other days' parts and the other blocks' granules,
	 * which it does not from a bound on time alone) */
	if (from_s != INT64_MIN) {
		long long from = from_s < 0 ? 0 : from_s > UINT32_MAX ? UINT32_MAX : from_s;

		fprintf(f, "time >= toDateTime(%lld) AND hour >= toDateTime(%lld) AND "
			STORE_CH_BLOCK_EXPR " >= %lld", from, from - from % 3600,
			from / STORE_CH_BLOCK_S);
		any = true;
	}
	if (to_s != INT64_MAX) {
		long long to = to_s < 0 ? 0 : to_s > UINT32_MAX + 1LL ? UINT32_MAX + 1LL : to_s;

		fprintf(f, "%stoUInt32(time) < %lld", any ? " AND " : "", to);
		if (to > 0)
			fprintf(f, " AND hour <= toDateTime(%lld) AND " STORE_CH_BLOCK_EXPR " <= %lld",
				(to - 1) - (to - 1) % 3600, (to - 1) / STORE_CH_BLOCK_S);
		any = true;
	}
	if (!any)
		fputc('1', f);
}

void store_ch__put_range(FILE *f, const struct store_query *q)
{
	store_ch__put_time_range(f, q ? q->from_s : INT64_MIN, q ? q->to_s : INT64_MAX);
}

void store_ch__put_plain_range(FILE *f, const struct store_query *q)
{
	int64_t from = q ? q->from_s : INT64_MIN, to = q ? q->to_s : INT64_MAX;

	if (from != INT64_MIN)
		fprintf(f, "time >= toDateTime(%lld) AND ", from < 0 ? 0LL : from > UINT32_MAX ?
			(long long)UINT32_MAX : (long long)from);
	if (to != INT64_MAX)
		fprintf(f, "toUInt32(time) < %lld AND ", to < 0 ? 0LL : to > UINT32_MAX + 1LL ?
			UINT32_MAX + 1LL : (long long)to);
	fputc('1', f);
}

/* " AND host = '...'" when q's filter requires one host (host="web-1",
 * the UI's host selector): the primary key's prefix, so only that
 * host's rows are read. */
void store_ch__put_required_host(FILE *f, const struct store_query *q)
{
	const char *host = q ? store_filter__required(q->filter, "host") : NULL;

	if (host) {
		fputs(" AND host = ", f);
		store_ch__put_literal(f, host);
	}
}

struct store_ch_label_set {
	struct store_labels l;
	uint64_t hash, samples;
};

/*
 * "SELECT <columns> FROM (...)" over the label sets of q's range, its
 * rows' columns those of the samples (host, process, pid, thread, tid,
 * cgroup, label_keys, label_values, labelset) and c, their count; hosts
 * is a condition on the hosts (" AND host ...", ""), or NULL for q's
 * required host (store_ch__put_required_host). The range's whole
 * hours (an hour H with from <= H and H + 3600 <= to) come from the label
 * sets per hour, and the other hours in range from the samples, the
 * exact complement (their hour before from or past to - 3600, each with
 * the bound on the key's three-hour block it implies, so only the edges'
 * blocks are read), in any time zone. An unbounded range is the sets' alone.
 */
static void put_hosts(FILE *f, const struct store_query *q, const char *hosts)
{
	if (hosts)
		fputs(hosts, f);
	else
		store_ch__put_required_host(f, q);
}

void store_ch__put_sets_source(FILE *f, const struct store_query *q, const char *columns,
			       const char *hosts)
{
	int64_t from = q ? q->from_s : INT64_MIN, to = q ? q->to_s : INT64_MAX;
	long long lo = from < 0 ? 0 : from > UINT32_MAX ? UINT32_MAX : from;
	long long last = to == INT64_MAX ? -1 : to > UINT32_MAX ? UINT32_MAX - 3600LL :
		to - 3600; /* the last whole hour's start; -1: unbounded */

	fprintf(f, "SELECT %s FROM (SELECT host, process, pid, thread, tid, cgroup, label_keys, "
		"label_values, labelset, count AS c FROM " STORE_CH_SETS_TABLE " WHERE hour >= "
		"toDateTime(%lld)", columns, lo);
	if (last >= 0 || to != INT64_MAX)
		fprintf(f, " AND hour <= toDateTime(%lld)", last < 0 ? 0 : last);
	if (last < 0 && to != INT64_MAX)
		fputs(" AND 0", f); /* (no whole hour before 1970-01-01 01:00) */
	put_hosts(f, q, hosts);
	if (from != INT64_MIN || to != INT64_MAX) {
		fputs(" UNION ALL SELECT host, process, pid, thread, tid, cgroup, label_keys, "
		      "label_values, labelset, toInt64(count) AS c FROM samples WHERE ", f);
		store_ch__put_range(f, q);
		put_hosts(f, q, hosts);
		/* (each side with the bound on the key's block it implies: an
		 * hour starting before lo ends before lo + 3600, one starting
		 * after last starts after it; 18.16 takes no bound on the key
		 * from toStartOfHour. And each with the constant that says
		 * whether it can hold a row, the hour of its range's first or
		 * last second (hours only grow with time): a range bound at an
		 * hour's start has nothing on that side, and 18.16 reads no
		 * granule for a side whose constant is false, where it read
		 * the whole block: 47.6 M rows for 100 hosts' hour, 0 with it) */
		fprintf(f, " AND ((toStartOfHour(toDateTime(%1$lld)) < toDateTime(%1$lld) AND "
			"toStartOfHour(time) < toDateTime(%1$lld) AND " STORE_CH_BLOCK_EXPR " <= %2$lld)",
			lo, (lo + 3599) / STORE_CH_BLOCK_S);
		if (to != INT64_MAX && last >= 0)
			fprintf(f, " OR (toStartOfHour(toDateTime(%1$lld)) > toDateTime(%2$lld) AND "
				"toStartOfHour(time) > toDateTime(%2$lld) AND " STORE_CH_BLOCK_EXPR
				" >= %3$lld)", last + 3599, last, last / STORE_CH_BLOCK_S);
		else if (to != INT64_MAX)
			fputs(" OR 1", f);
		fputc(')', f);
	}
	fputc(')', f);
}

/* The label sets of q's range (its filter not applied): rows of
 * LABEL_SELECT, hash, samples, kept in *ret_text (caller frees) and
 * parsed into *ret_sets. */
static int read_sets(struct store_chdb *db, const struct store_query *q, char **ret_text,
		     struct store_ch_label_set **ret_sets, size_t *ret_n)
{
	struct store_ch_label_set *v = NULL;
	size_t n = 0, cap = 0;
	char *text = NULL, *p, *f[10];
	struct store_ch_sql s;
	int err;

	if (store_ch_sql__open(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	store_ch__put_sets_source(s.f, q, LABEL_SELECT ", " LABEL_HASH ", sum(c)", NULL);
	/* (a label set's rows in range may sum to 0 while retention's
	 * downsampled rows and their negated sources are being merged) */
	fputs(" GROUP BY labelset HAVING sum(c) != 0", s.f);
	if (store_ch_sql__close(&s))
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	err = store_chdb__ask(db, s.buf, "reading the label sets", &text);
	free(s.buf);
	if (err)
		return err;
	for (p = text; store_ch__next_row(&p, f, 9) == 9;) {
		if (COMMON_GROW(v, cap, n + 1)) {
			free(v);
			free(text);
			return store_chdb__fail(db, -ENOMEM, "out of memory");
		}
		v[n++] = (struct store_ch_label_set){
			.l = { .host = f[0], .process = f[1], .pid = (uint32_t)store_ch__num(f[2]),
			       .thread = f[3], .tid = (uint32_t)store_ch__num(f[4]), .cgroup_id = store_ch__num(f[5]),
			       .extra = *f[6] ? f[6] : NULL },
			.hash = store_ch__num(f[7]),
			.samples = store_ch__num(f[8]),
		};
	}
	*ret_text = text;
	*ret_sets = v;
	*ret_n = n;
	return 0;
}

static int compare_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The WHERE of q: its range, and with a filter the label sets that pass
 * it by hash, and their hosts. */
int store_chdb__cond(struct store_chdb *db, const struct store_query *q, struct store_ch_cond *ret)
{
	struct store_ch_label_set *sets = NULL;
	const char **hosts = NULL;
	size_t n = 0, n_pass = 0, n_hosts = 0, hosts_at;
	char *text = NULL;
	struct store_ch_sql s;
	int err;

	memset(ret, 0, sizeof(*ret));
	if (q && q->from_s > q->to_s)
		return store_chdb__fail(db, -EINVAL, "time range ends before it starts");
	/* A filter of one term host="NAME" (the UI's host selector) is
	 * that host's rows: no label set to match one by one. */
	if (q && q->filter && !(store_filter__terms(q->filter) == 1 &&
				store_filter__required(q->filter, "host"))) {
		err = read_sets(db, q, &text, &sets, &n);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++)
			if (store_filter__match(q->filter, &sets[i].l)) {
				/* (a swap: the sets that fail stay after) */
				struct store_ch_label_set t = sets[n_pass];

				sets[n_pass++] = sets[i];
				sets[i] = t;
			}
		if (n_pass == 0)
			ret->none = true;
		if (n_pass > CH_MAX_SETS) {
			free(sets);
			free(text);
			return store_chdb__fail(db, -E2BIG, "the filter passes too many label sets: choose "
				    "a narrower filter or a shorter range");
		}
	}
	if (store_ch_sql__open(&s)) {
		err = -ENOMEM;
		goto out;
	}
	store_ch__put_range(s.f, q);
	/* (where the hosts' part begins: the roll-up, store_ch_query.c,
	 * takes it with its own range) */
	fflush(s.f);
	hosts_at = s.len;
	store_ch__put_required_host(s.f, q);
	if (n_pass && n_pass < n) {
		bool whole = true;

		hosts = malloc(n * sizeof(*hosts));
		if (!hosts) {
			fclose(s.f);
			free(s.buf);
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n_pass; i++)
			hosts[i] = sets[i].l.host;
		qsort(hosts, n_pass, sizeof(*hosts), compare_str);
		/* Whether the filter passes whole hosts (host="web-1", the
		 * UI's host selector): then the hosts alone say it, the
		 * primary key's prefix, with no hash per row. */
		for (size_t i = n_pass; i < n && whole; i++)
			whole = !bsearch(&sets[i].l.host, hosts, n_pass, sizeof(*hosts),
					 compare_str);
		fputs(" AND host IN (", s.f);
		for (size_t i = 0; i < n_pass; i++)
			if (i == 0 || strcmp(hosts[i], hosts[i - 1])) {
				if (n_hosts++)
					fputc(',', s.f);
				store_ch__put_literal(s.f, hosts[i]);
			}
		fputc(')', s.f);
		if (!whole) {
			ret->by_labelset = true;
			fputs(" AND " LABEL_HASH " IN (", s.f);
			for (size_t i = 0; i < n_pass; i++)
				fprintf(s.f, "%s%llu", i ? "," : "", (unsigned long long)sets[i].hash);
			fputc(')', s.f);
		}
	}
	err = store_ch_sql__close(&s);
	if (!err) {
		ret->text = s.buf;
		ret->hosts = s.buf + hosts_at;
		/* (the same for the tables with a time column only) */
		if (store_ch_sql__open(&s)) {
			err = -ENOMEM;
			goto out;
		}
		store_ch__put_plain_range(s.f, q);
		fputs(ret->hosts, s.f);
		err = store_ch_sql__close(&s);
		if (!err)
			ret->plain = s.buf;
	}
out:
	free(hosts);
	free(sets);
	free(text);
	return err == -ENOMEM ? store_chdb__fail(db, err, "out of memory") : err;
}

/* ---- label sets ---- */

int store_chdb__label_sets(struct store_db *handle, const struct store_query *q,
			 struct store_label_sets **ret_sets)
{
	struct store_chdb *db = store_chdb__of(handle);
	struct store_label_sets *sets;
	struct store_ch_label_set *v = NULL;
	char *text = NULL;
	size_t n = 0;
	int err;

	if (!db || !ret_sets)
		return -EINVAL;
	if (q && q->from_s > q->to_s)
		return store_chdb__fail(db, -EINVAL, "time range ends before it starts");
	sets = store_label_sets__new();
	if (!sets)
		return -ENOMEM;
	err = read_sets(db, q, &text, &v, &n);
	for (size_t i = 0; !err && i < n; i++)
		if (!q || store_filter__match(q->filter, &v[i].l))
			err = store_label_sets__add(sets, &v[i].l, v[i].samples);
	free(v);
	free(text);
	if (err) {
		store_label_sets__free(sets);
		return err;
	}
	*ret_sets = sets;
	return 0;
}

int store_chdb__label_names(struct store_db *db, const struct store_query *q, char ***ret_names,
			  size_t *ret_n)
{
	struct store_label_sets *sets = NULL;
	int err = store_chdb__label_sets(db, q, &sets);

	if (!err)
		err = store_label_sets__names(sets, ret_names, ret_n);
	store_label_sets__free(sets);
	return err;
}

int store_chdb__label_values(struct store_db *db, const struct store_query *q, const char *name,
			   struct store_label_value **ret_values, size_t *ret_n)
{
	struct store_label_sets *sets = NULL;
	int err = store_chdb__label_sets(db, q, &sets);

	if (!err)
		err = store_label_sets__values(sets, name, ret_values, ret_n);
	store_label_sets__free(sets);
	return err;
}
