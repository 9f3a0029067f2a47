/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-filter.c — label filters and time ranges as `ember report
 * --filter/--from/--to` uses them: the parser accepts every operator and
 * quoting and rejects malformed expressions with a message that says where;
 * filtered trees and summaries hold exactly the matching samples (built-in
 * and free-form labels, missing labels read as ""); times parse in every
 * documented form and bad ones are refused.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "storage-test.h"

static const struct store_labels pg1 = {
	.host = "db1", .process = "postgres", .pid = 100, .thread = "postgres",
	.tid = 100, .cgroup_id = 5, .extra = "env=prod,team=data",
};
static const struct store_labels pg2 = {
	.host = "db1", .process = "postgres", .pid = 101, .thread = "walwriter",
	.tid = 102, .cgroup_id = 5, .extra = "env=prod",
};
static const struct store_labels nginx = {
	.host = "web1", .process = "nginx", .pid = 200, .thread = "nginx",
	.tid = 200, .extra = "env=staging",
};
static const struct store_labels bare = { .process = "xpostgres", .pid = 7 };

static void write_data(struct store_db *db)
{
	for (int64_t t = 0; t < 6; t++) {
		CHECK_RC(store_db__begin(db, 1000 + 10 * t, 10), 0);
		CHECK_RC(add_folded(db, &pg1, "main;exec", STORE_FRAME_USER, 0, 1), 0);
		CHECK_RC(add_folded(db, &pg2, "main;wal", STORE_FRAME_USER, 0, 2), 0);
		CHECK_RC(add_folded(db, &nginx, "main;serve", STORE_FRAME_USER, 0, 4), 0);
		CHECK_RC(add_folded(db, &bare, "main", STORE_FRAME_USER, 0, 8), 0);
		CHECK_RC(store_db__commit(db), 0);
	}
}

/* Samples in the whole file that pass expr, by tree and by summary. */
static uint64_t filtered(struct store_db *db, const char *expr, int64_t from,
			 int64_t to)
{
	struct store_query q = { .from_s = from, .to_s = to };
	struct store_filter *f;
	struct store_summary *s;
	struct store_tree *t;
	char *err = NULL;
	uint64_t n;

	if (store_filter__parse(expr, &f, &err) != 0) {
		fprintf(stderr, "parse '%s': %s\n", expr, err);
		exit(1);
	}
	q.filter = f;
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	tree_check_invariants(t);
	n = store_tree__node(t, 0)->total;
	store_tree__free(t);
	CHECK_RC(store_db__summary(db, &q, &s), 0);
	CHECK_U64(s->samples, n);
	store_summary__free(s);
	store_filter__free(f);
	return n;
}

static void check_filtered(struct store_db *db)
{
	/* Per flush: pg1 1, pg2 2, nginx 4, bare 8; six flushes. */
	CHECK_U64(filtered(db, "", INT64_MIN, INT64_MAX), 6 * 15);
	CHECK_U64(filtered(db, "process=postgres", INT64_MIN, INT64_MAX), 6 * 3);
	CHECK_U64(filtered(db, "process!=postgres", INT64_MIN, INT64_MAX), 6 * 12);
	/* Anchored: xpostgres does not match post.* */
	CHECK_U64(filtered(db, "process=~post.*", INT64_MIN, INT64_MAX), 6 * 3);
	CHECK_U64(filtered(db, "process=~.*post.*", INT64_MIN, INT64_MAX), 6 * 11);
	CHECK_U64(filtered(db, "process!~post.*", INT64_MIN, INT64_MAX), 6 * 12);
	CHECK_U64(filtered(db, "pid=101", INT64_MIN, INT64_MAX), 6 * 2);
	CHECK_U64(filtered(db, "tid=~10[02]", INT64_MIN, INT64_MAX), 6 * 3);
	CHECK_U64(filtered(db, "thread=walwriter", INT64_MIN, INT64_MAX), 6 * 2);
	CHECK_U64(filtered(db, "host=db1, cgroup=5", INT64_MIN, INT64_MAX), 6 * 3);
	CHECK_U64(filtered(db, "cgroup=0", INT64_MIN, INT64_MAX), 6 * 12);
	/* Free-form labels; a missing one reads as "". */
	CHECK_U64(filtered(db, "env=prod", INT64_MIN, INT64_MAX), 6 * 3);
	CHECK_U64(filtered(db, "team=data", INT64_MIN, INT64_MAX), 6 * 1);
	CHECK_U64(filtered(db, "team=", INT64_MIN, INT64_MAX), 6 * 14);
	CHECK_U64(filtered(db, "env!=prod,env!=staging", INT64_MIN, INT64_MAX), 6 * 8);
	CHECK_U64(filtered(db, "host=\"\"", INT64_MIN, INT64_MAX), 6 * 8);
	/* AND of terms, quotes, spaces. */
	CHECK_U64(filtered(db, " process = \"postgres\" , pid != 100 ", INT64_MIN,
			   INT64_MAX), 6 * 2);
	CHECK_U64(filtered(db, "process=~\"nginx|postgres\"", INT64_MIN, INT64_MAX),
		  6 * 7);
	CHECK_U64(filtered(db, "process=nope", INT64_MIN, INT64_MAX), 0);
	/* Filter and time range together. */
	CHECK_U64(filtered(db, "process=nginx", 1010, 1030), 2 * 4);
	CHECK_U64(filtered(db, "", 1010, 1010), 0);
}

static void check_filtered_tree(struct store_db *db)
{
	struct store_query q;
	struct store_filter *f;
	struct store_tree *t;

	CHECK_RC(store_filter__parse("process=postgres", &f, NULL), 0);
	store_query_init(&q);
	q.filter = f;
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	CHECK(tree_find(t, "nginx") < 0);
	CHECK(tree_find(t, "xpostgres") < 0);
	CHECK_U64(store_tree__node(t, tree_find(t, "postgres;main;wal"))->self, 12);
	CHECK_U64(store_tree__node(t, tree_find(t, "postgres;main;exec"))->self, 6);
	store_tree__free(t);
	store_filter__free(f);

	/* A bound on the tree's nodes: past it, -E2BIG and no tree. */
	store_query_init(&q);
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	q.max_tree_nodes = store_tree__size(t);
	store_tree__free(t);
	CHECK_RC(store_db__query_tree(db, &q, &t), 0);
	CHECK(store_tree__size(t) == q.max_tree_nodes);
	store_tree__free(t);
	q.max_tree_nodes--;
	t = NULL;
	CHECK_RC(store_db__query_tree(db, &q, &t), -E2BIG);
	CHECK(t == NULL && strstr(store_db__errmsg(db), "more than") != NULL);
	q.max_tree_nodes = 0;

	/* An inverted range is an error, not an empty tree. */
	q.from_s = 2000;
	q.to_s = 1000;
	q.filter = NULL;
	CHECK_RC(store_db__query_tree(db, &q, &t), -EINVAL);
	CHECK(strstr(store_db__errmsg(db), "range") != NULL);
}

static void bad_filter(const char *expr, const char *want)
{
	struct store_filter *f = (struct store_filter *)&f;
	char *err = NULL;

	CHECK_RC(store_filter__parse(expr, &f, &err), -EINVAL);
	CHECK(f == (struct store_filter *)&f);
	CHECK(err != NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "filter '%s': error '%s' lacks '%s'\n", expr,
			err, want);
		exit(1);
	}
	free(err);
	/* Without an error pointer too. */
	CHECK_RC(store_filter__parse(expr, &f, NULL), -EINVAL);
}

static void check_bad_filters(void)
{
	struct store_filter *f;

	bad_filter("process", "expected =, !=, =~ or !~ after label 'process'");
	bad_filter("=postgres", "expected a label name at position 1");
	bad_filter("process=a,", "found the end");
	bad_filter("process=a,,pid=1", "position 11");
	bad_filter("process<a", "position 8");
	bad_filter("process=\"abc", "unterminated quote");
	bad_filter("process=\"a\" b", "expected ',' or the end");
	bad_filter("process=a\"b\"", "unexpected '\"'");
	bad_filter("process=~(", "bad regular expression '('");
	bad_filter("process!~[z-a]", "bad regular expression");
	bad_filter("1abc=x", "expected a label name");
	/* Repetitions glibc would expand into gigabytes (fuzz-query found a
	 * 300-byte one): refused before regcomp, in microseconds. */
	bad_filter("process=~\"F++++++++++++++++++++++++++++++++++++++++\"", "too complex");
	bad_filter("process=~\"((a{1000}){1000}){1000}\"", "too complex");
	bad_filter("process=~\"(x+)+(y+)+(z?)?(w+)+(v+)+(u{9})*(t{99}){99}\"", "too complex");
	bad_filter("thread!~\"[a-z]{20000}\"", "too complex");
	/* A ')' without its '(' would close the anchoring group: the rest
	 * repeated the whole pattern (fuzz-query: > 2 GB) or matched
	 * anywhere. Escaped or in brackets it is a plain character. */
	bad_filter("process=~\"F(a00000}){1000}){1000}\"", "')' without its '('");
	bad_filter("process=~\"a)|(b\"", "')' without its '('");
	CHECK_RC(store_filter__parse("process=~\"a\\\\)[)]\"", &f, NULL), 0);
	store_filter__free(f);
	/* Empty alternatives, nullable alternatives and repeated nullable
	 * parts: glibc's closures grow with the cube of a chain of them (100
	 * "(a|||||)" took 1.2 s, 200 minutes). Refused, with the rewrite. */
	bad_filter("process=~\"(a|||||)(a|||||)\"", "alternative that can match the empty");
	bad_filter("process=~\"(a|)\"", "write \"(a|)\" as \"(a)?\"");
	bad_filter("process=~\"|a\"", "alternative that can match the empty");
	bad_filter("process=~\"(a*|b?)x\"", "alternative that can match the empty");
	bad_filter("process=~\"x(^|y)\"", "alternative that can match the empty");
	bad_filter("process=~\"((a?)*)\"", "repeats something that can match the empty");
	bad_filter("process=~\"(x*)*\"", "repeats something that can match the empty");
	bad_filter("process=~\"(a?b?){2,}\"", "repeats something that can match the empty");
	/* What a user writes for the same stays fine. */
	CHECK_RC(store_filter__parse("process=~\"(a)?(a+|b)?a*(x?){1}((y|z)?)?(a?b)+\"", &f, NULL), 0);
	store_filter__free(f);
	/* ... while what a user writes still compiles. */
	CHECK_RC(store_filter__parse("process=~\"(nginx|apache2?|post[a-z]+)-[0-9]{1,4}\","
				     "thread!~\"worker-.*\",host=~\"web-[[:digit:]]+\\.example\"",
				     &f, NULL), 0);
	store_filter__free(f);
	CHECK_RC(store_filter__parse("process=~\"a{1000}\"", &f, NULL), 0);
	store_filter__free(f);

	CHECK_RC(store_filter__parse(NULL, &f, NULL), 0);
	CHECK(store_filter__match(f, &pg1));
	store_filter__free(f);
	CHECK_RC(store_filter__parse("process=postgres,env=prod", &f, NULL), 0);
	CHECK(store_filter__match(f, &pg1));
	CHECK(!store_filter__match(f, &nginx));
	CHECK(!store_filter__match(f, NULL));
	store_filter__free(f);
	CHECK_RC(store_filter__parse("a=\"x\\\"y\\\\\"", &f, NULL), 0);
	store_filter__free(f);
	store_filter__free(NULL);
}

static void good_time(const char *text, int64_t now, int64_t want)
{
	int64_t t = -1;
	char *err = NULL;

	if (store_time_parse(text, now, &t, &err) != 0 || t != want) {
		fprintf(stderr, "time '%s': got %lld (%s), want %lld\n", text,
			(long long)t, err ? err : "", (long long)want);
		exit(1);
	}
}

static void bad_time(const char *text, const char *want)
{
	int64_t t = 42;
	char *err = NULL;

	CHECK_RC(store_time_parse(text, 1700000000, &t, &err), -EINVAL);
	CHECK(t == 42);
	if (!err || !strstr(err, want)) {
		fprintf(stderr, "time '%s': error '%s' lacks '%s'\n", text,
			err ? err : "(none)", want);
		exit(1);
	}
	free(err);
}

static void check_times(void)
{
	const int64_t now = 1700000000;

	setenv("TZ", "UTC", 1);
	tzset();
	good_time("now", now, now);
	good_time("-1h", now, now - 3600);
	good_time("-15m", now, now - 900);
	good_time("-1h30m", now, now - 5400);
	good_time("now-2d", now, now - 2 * 86400);
	good_time("-1w", now, now - 7 * 86400);
	good_time("1699999999", now, 1699999999);
	good_time("0", now, 0);
	good_time("2023-11-14T22:13:20Z", now, 1700000000);
	good_time("2023-11-14T22:13:20.123Z", now, 1700000000);
	good_time("2023-11-15T00:13:20+02:00", now, 1700000000);
	good_time("2023-11-14T20:13:20-02:00", now, 1700000000);
	good_time("2023-11-14 22:13:20", now, 1700000000);
	good_time("2023-11-14 22:13", now, 1700000000 - 20);
	good_time("2023-11-14", now, 1700000000 - 80000);
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	good_time("2023-11-14 23:13:20", now, 1700000000);
	setenv("TZ", "UTC", 1);
	tzset();

	bad_time("", "empty");
	bad_time("yesterday", "use Unix seconds");
	bad_time("-1x", "expected a duration");
	bad_time("-", "expected a duration");
	bad_time("now+1h", "expected 'now' or 'now-DURATION'");
	bad_time("-999999999999h", "expected a duration");
	bad_time("99999999999999", "after the year 9999");
	bad_time("2023-13-01", "out of range");
	bad_time("2023-02-30", "no such date");
	bad_time("2023-11-14T25:00:00Z", "out of range");
	bad_time("2023-11-14T10:00:00+2", "zone");
	bad_time("2023-11-14T10:00:00Zjunk", "unexpected text");
	bad_time("1969-12-31T23:59:59Z", "before 1970");
	bad_time("-100000w", "before 1970");
}

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "filter.db");
	struct store_db *db;

	check_bad_filters();
	check_times();
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	write_data(db);
	check_filtered(db);
	store_db__close(db);
	/* The same through a read-only handle. */
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	check_filtered(db);
	check_filtered_tree(db);
	store_db__close(db);

	free(path);
	cleanup_tempdir(dir);
	return 0;
}
