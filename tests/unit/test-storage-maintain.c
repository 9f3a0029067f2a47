/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-maintain.c — retention and downsampling as the agent runs
 * them: three hours of 10 s buckets, then store_db__maintain with a policy
 * scaled down to minutes. Merged buckets must keep every total exactly
 * (per range, per process, per stack, drops, events and the coverage
 * tables too); data past the maximum
 * age must be gone and nothing else; stacks only the removed data used
 * must be collected; a second run changes nothing; a size limit removes
 * the oldest data first and the file shrinks; bad calls are refused.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "storage-test.h"

#define T0 1000800          /* a multiple of 600 */
#define BUCKETS (3 * 360)   /* three hours of 10 s buckets */
#define NOW (T0 + BUCKETS * 10)

static const struct store_labels procs[3] = {
	{ .host = "h", .process = "api", .pid = 1, .tid = 1 },
	{ .host = "h", .process = "db", .pid = 2, .tid = 2, .extra = "env=prod" },
	{ .host = "h", .process = "cron", .pid = 3, .tid = 3 },
};

/* Counts are a function of the bucket, so totals can be recomputed. */
static uint64_t count_of(int k, int p)
{
	return 1 + (uint64_t)((k * 7 + p * 3) % 5);
}

static uint64_t expected(int64_t from, int64_t to, int only_p)
{
	uint64_t n = 0;

	for (int k = 0; k < BUCKETS; k++) {
		int64_t t = T0 + 10 * k;

		if (t < from || t >= to)
			continue;
		for (int p = 0; p < 3; p++)
			if (only_p < 0 || only_p == p)
				n += count_of(k, p) * 2;
	}
	return n;
}

static void write_data(struct store_db *db)
{
	char stack[64];

	for (int k = 0; k < BUCKETS; k++) {
		CHECK_RC(store_db__begin(db, T0 + 10 * k, 10), 0);
		for (int p = 0; p < 3; p++) {
			CHECK_RC(add_folded(db, &procs[p], "main;loop;work",
					    STORE_FRAME_USER, 0, count_of(k, p)), 0);
			/* A stack of its own per 10 minutes: old ones must be
			 * collected once their data is gone. */
			snprintf(stack, sizeof(stack), "main;phase_%d;leaf", k / 60);
			CHECK_RC(add_folded(db, &procs[p], stack, STORE_FRAME_USER,
					    0, count_of(k, p)), 0);
		}
		CHECK_RC(store_db__add_drops(db, "map-full", 1), 0);
		CHECK_RC(store_db__add_events(db, "dwarf-samples", 2), 0);
		CHECK_RC(store_db__add_coverage(db, "/bin/a", "ab12", count_of(k, 0),
						count_of(k, 1), 1), 0);
		CHECK_RC(store_db__add_coverage(db, "/bin/b", NULL, 3, 2, 1), 0);
		CHECK_RC(store_db__add_coverage_issue(db, "/bin/a", "ab12", "dwo-missing", 1), 0);
		CHECK_RC(store_db__add_python_coverage(db, "py", 7, "3.11.2", 4, 3, 9, 8), 0);
		CHECK_RC(store_db__commit(db), 0);
	}
}

static uint64_t process_total(struct store_db *db, const char *name)
{
	struct store_tree *t;
	uint64_t n;
	long i;

	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	tree_check_invariants(t);
	i = tree_find(t, name);
	n = i < 0 ? 0 : store_tree__node(t, i)->total;
	store_tree__free(t);
	return n;
}

/* Drops (events = false) or events in [from, to). */
static uint64_t counts_in(struct store_db *db, int64_t from, int64_t to, bool events)
{
	struct store_query q = { .from_s = from, .to_s = to };
	struct store_summary *s;
	uint64_t n = 0;

	CHECK_RC(store_db__summary(db, &q, &s), 0);
	for (size_t i = 0; i < (events ? s->n_events : s->n_drops); i++)
		n += (events ? s->events : s->drops)[i].count;
	store_summary__free(s);
	return n;
}

static uint64_t drops_in(struct store_db *db, int64_t from, int64_t to)
{
	return counts_in(db, from, to, false);
}

/* In [from, to): frames seen in coverage (what 0), frames with an issue
 * (1), Python samples (2). */
static uint64_t coverage_in(struct store_db *db, int64_t from, int64_t to, int what)
{
	struct store_query q = { .from_s = from, .to_s = to };
	struct store_python_coverage *py;
	struct store_coverage *c;
	uint64_t n = 0;
	size_t m;

	if (what == 2) {
		CHECK_RC(store_db__query_python_coverage(db, &q, &py, &m), 0);
		for (size_t i = 0; i < m; i++)
			n += py[i].samples;
		store_python_coverage__free(py, m);
		return n;
	}
	CHECK_RC(store_db__query_coverage(db, &q, &c, &m), 0);
	for (size_t i = 0; i < m; i++) {
		if (what == 0)
			n += c[i].seen;
		for (size_t j = 0; what == 1 && j < c[i].n_issues; j++)
			n += c[i].issues[j].frames;
	}
	store_coverage__free(c, m);
	return n;
}

static uint64_t coverage_expected(int64_t from, int64_t to, int what)
{
	uint64_t n = 0;

	for (int k = 0; k < BUCKETS; k++) {
		int64_t t = T0 + 10 * k;

		if (t >= from && t < to)
			n += what == 0 ? count_of(k, 0) + 3 : what == 1 ? 1 : 4;
	}
	return n;
}

/* Every coverage table: totals kept per range, and in [t0, t0 + step)
 * all of them on t0 when the range was merged (step > 10). */
static void check_coverage_range(struct store_db *db, int64_t t0, int64_t step)
{
	for (int what = 0; what < 3; what++) {
		if (step > 10) {
			CHECK_U64(coverage_in(db, t0, t0 + 1, what),
				  coverage_expected(t0, t0 + step, what));
			CHECK_U64(coverage_in(db, t0 + 1, t0 + step, what), 0);
		} else {
			CHECK_U64(coverage_in(db, t0, t0 + step, what),
				  coverage_expected(t0, t0 + step, what));
		}
	}
}

static void check_policy_run(struct store_db *db, const struct store_policy *p)
{
	const int64_t age_cut = NOW - 7200, cut1 = NOW - 600, cut2 = NOW - 3600;
	struct store_maintain_stats st;
	struct store_tree *t;
	char *msg;

	CHECK_RC(store_db__maintain(db, NOW, p, &st), 0);
	fprintf(stderr, "merged %llu removed %llu (%llu samples) collected %llu, "
		"%llu -> %llu bytes\n", (unsigned long long)st.rows_merged,
		(unsigned long long)st.rows_removed,
		(unsigned long long)st.samples_removed,
		(unsigned long long)st.rows_collected,
		(unsigned long long)st.bytes_before,
		(unsigned long long)st.bytes_after);
	CHECK(st.rows_merged > 0 && st.rows_removed > 0 && st.rows_collected > 0);
	CHECK_U64(st.samples_removed, expected(0, age_cut, -1));

	/* Retention: nothing before the age cut, everything after it. */
	CHECK_U64(samples_in(db, INT64_MIN, age_cut), 0);
	CHECK_U64(drops_in(db, INT64_MIN, age_cut), 0);
	CHECK_U64(samples_in(db, age_cut, INT64_MAX), expected(age_cut, NOW, -1));
	for (int i = 0; i < 3; i++)
		CHECK_U64(process_total(db, procs[i].process),
			  expected(age_cut, NOW, i));
	CHECK_U64(drops_in(db, age_cut, INT64_MAX), (NOW - age_cut) / 10);
	/* Events follow the buckets as drops do, and stay events. */
	CHECK_U64(counts_in(db, INT64_MIN, age_cut, true), 0);
	CHECK_U64(counts_in(db, age_cut, INT64_MAX, true), 2 * (NOW - age_cut) / 10);

	/* The coverage tables follow the buckets too: before, they were
	 * never merged nor removed. */
	for (int what = 0; what < 3; what++) {
		CHECK_U64(coverage_in(db, INT64_MIN, age_cut, what), 0);
		CHECK_U64(coverage_in(db, age_cut, INT64_MAX, what),
			  coverage_expected(age_cut, NOW, what));
	}

	/* Older than an hour: 600 s buckets, all counts on the start. */
	for (int64_t t0 = age_cut; t0 < cut2; t0 += 600) {
		CHECK_U64(samples_in(db, t0, t0 + 1), expected(t0, t0 + 600, -1));
		CHECK_U64(samples_in(db, t0 + 1, t0 + 600), 0);
		check_coverage_range(db, t0, 600);
	}
	/* Between an hour and 10 minutes: 60 s buckets. */
	for (int64_t t0 = cut2; t0 < cut1; t0 += 60) {
		CHECK_U64(samples_in(db, t0, t0 + 1), expected(t0, t0 + 60, -1));
		CHECK_U64(samples_in(db, t0 + 1, t0 + 60), 0);
		check_coverage_range(db, t0, 60);
	}
	/* The last 10 minutes untouched. */
	for (int64_t t0 = cut1; t0 < NOW; t0 += 10) {
		CHECK_U64(samples_in(db, t0, t0 + 10), expected(t0, t0 + 10, -1));
		check_coverage_range(db, t0, 10);
	}

	/* Stacks used only by removed data are gone, the rest stay. */
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	CHECK(tree_find(t, "api;main;phase_0") < 0);
	CHECK(tree_find(t, "api;main;phase_17;leaf") >= 0);
	CHECK(tree_find(t, "api;main;phase_6;leaf") >= 0);
	store_tree__free(t);

	/* A second run has nothing to do. */
	CHECK_RC(store_db__maintain(db, NOW, p, &st), 0);
	CHECK_U64(st.rows_merged, 0);
	CHECK_U64(st.rows_removed, 0);

	CHECK_RC(store_db__check(db, &msg), 0);
	free(msg);

	/* The writer goes on after collection (its caches were dropped). */
	CHECK_RC(store_db__begin(db, NOW, 10), 0);
	CHECK_RC(add_folded(db, &procs[0], "main;phase_0;leaf", STORE_FRAME_USER,
			    0, 5), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
	CHECK_U64(store_tree__node(t, tree_find(t, "api;main;phase_0;leaf"))->self, 5);
	store_tree__free(t);
}

static void check_size_limit(struct store_db *db, const char *path)
{
	/* New files use 16 KiB pages and each table and index takes at
	 * least one: this test's data fits in the few pages over that
	 * floor, so the limit is set under what the file takes and must
	 * remove the oldest data, keep the newest, and never grow it. */
	struct store_policy none = { 0 }, p = { 0 };
	struct store_maintain_stats st;
	struct stat sb;
	uint64_t before = samples_in(db, INT64_MIN, INT64_MAX);
	char *msg;

	CHECK_RC(store_db__maintain(db, NOW, &none, &st), 0);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), before);
	CHECK(st.bytes_after > 4 * 16384);
	p.max_bytes = st.bytes_after - 16384;
	CHECK_RC(store_db__maintain(db, NOW, &p, &st), 0);
	fprintf(stderr, "size limit: %llu -> %llu bytes, removed %llu samples\n",
		(unsigned long long)st.bytes_before,
		(unsigned long long)st.bytes_after,
		(unsigned long long)st.samples_removed);
	CHECK(st.bytes_after <= st.bytes_before);
	CHECK(st.samples_removed > 0);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), before - st.samples_removed);
	/* The newest data is what stays. */
	CHECK_U64(samples_in(db, NOW - 10, NOW + 10), expected(NOW - 10, NOW, -1) + 5);
	CHECK_RC(store_db__check(db, &msg), 0);
	free(msg);
	CHECK(stat(path, &sb) == 0);
	fprintf(stderr, "file %lld bytes\n", (long long)sb.st_size);
}

static void check_bad_calls(const char *path)
{
	struct store_policy p;
	struct store_db *db;

	store_policy_init(&p);
	CHECK_U64(p.tiers[0].step_s, 60);
	CHECK_U64(p.max_age_s, 30 * 86400);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	CHECK_RC(store_db__maintain(db, NOW, NULL, NULL), -EROFS);
	store_db__close(db);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__begin(db, NOW + 100, 10), 0);
	CHECK_RC(store_db__maintain(db, NOW, NULL, NULL), -EBUSY);
	store_db__rollback(db);
	p.tiers[1].step_s = 30; /* coarser tier with a finer step */
	CHECK_RC(store_db__maintain(db, NOW, &p, NULL), -EINVAL);
	p.tiers[1].step_s = 0;
	CHECK_RC(store_db__maintain(db, NOW, &p, NULL), -EINVAL);
	/* The defaults on this data: nothing is a day old. */
	CHECK_RC(store_db__maintain(db, NOW, NULL, NULL), 0);
	store_db__close(db);
}

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "maintain.db");
	struct store_policy p = {
		.tiers = { { 600, 60 }, { 3600, 600 } },
		.max_age_s = 7200,
	};
	struct store_db *db;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	write_data(db);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), expected(0, NOW, -1));
	check_policy_run(db, &p);
	check_size_limit(db, path);
	store_db__close(db);
	check_bad_calls(path);
	free(path);
	cleanup_tempdir(dir);
	return 0;
}
