/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-timeline.c — the queries behind a time chart and the filter
 * pickers: samples per step (whole, split by a built-in or free-form label,
 * with a filter, auto step, bounded and unbounded ranges, bad steps), and
 * the label names and values present in a range.
 */
#include <errno.h>
#include <string.h>

#include "storage-test.h"

static const struct store_labels a1 = {
	.host = "h", .process = "api", .pid = 1, .tid = 1, .extra = "env=prod",
};
static const struct store_labels a2 = {
	.host = "h", .process = "api", .pid = 2, .tid = 2, .extra = "env=dev,zone=b",
};
static const struct store_labels w3 = {
	.host = "h", .process = "worker", .pid = 3, .tid = 3,
};

/* Buckets every 10 s from 1000 to 1590: api pid 1 adds 1, pid 2 adds 2,
 * worker adds 3 only in the first half. */
static void write_data(struct store_db *db)
{
	for (int k = 0; k < 60; k++) {
		CHECK_RC(store_db__begin(db, 1000 + 10 * k, 10), 0);
		CHECK_RC(add_folded(db, &a1, "main;a", STORE_FRAME_USER, 0, 1), 0);
		CHECK_RC(add_folded(db, &a2, "main;b", STORE_FRAME_USER, 0, 2), 0);
		if (k < 30)
			CHECK_RC(add_folded(db, &w3, "main;w", STORE_FRAME_USER, 0, 3), 0);
		CHECK_RC(store_db__commit(db), 0);
	}
}

static void check_timeline(struct store_db *db)
{
	struct store_query q = { .from_s = 1000, .to_s = 1600 };
	struct store_filter *f;
	struct store_timeline *t;

	/* One series, 60 s steps: 6 buckets each. */
	CHECK_RC(store_db__query_timeline(db, &q, 60, NULL, &t), 0);
	CHECK_U64(t->n_steps, 10);
	CHECK_U64(t->n_series, 1);
	CHECK(t->series[0].value == NULL);
	CHECK_U64(t->series[0].counts[0], 6 * 6);
	CHECK_U64(t->series[0].counts[9], 6 * 3);
	CHECK_U64(t->series[0].total, 60 * 3 + 30 * 3);
	store_timeline__free(t);

	/* Split by process, largest first. */
	CHECK_RC(store_db__query_timeline(db, &q, 300, "process", &t), 0);
	CHECK_U64(t->n_steps, 2);
	CHECK_U64(t->n_series, 2);
	CHECK(strcmp(t->series[0].value, "api") == 0);
	CHECK_U64(t->series[0].counts[0], 30 * 3);
	CHECK_U64(t->series[0].counts[1], 30 * 3);
	CHECK(strcmp(t->series[1].value, "worker") == 0);
	CHECK_U64(t->series[1].counts[0], 30 * 3);
	CHECK_U64(t->series[1].counts[1], 0);
	store_timeline__free(t);

	/* Split by a free-form label; missing reads as "". */
	CHECK_RC(store_db__query_timeline(db, &q, 600, "env", &t), 0);
	CHECK_U64(t->n_series, 3);
	CHECK(strcmp(t->series[0].value, "dev") == 0);
	CHECK_U64(t->series[0].total, 120);
	CHECK(strcmp(t->series[1].value, "") == 0);
	CHECK_U64(t->series[1].total, 90);
	CHECK(strcmp(t->series[2].value, "prod") == 0);
	store_timeline__free(t);

	/* With a filter; an unaligned start; a step longer than the range. */
	CHECK_RC(store_filter__parse("pid!=2", &f, NULL), 0);
	q.filter = f;
	q.from_s = 1005;
	CHECK_RC(store_db__query_timeline(db, &q, 1000, "pid", &t), 0);
	CHECK_U64(t->n_steps, 1);
	CHECK_U64(t->from_s, 1005);
	CHECK_U64(t->n_series, 2);
	CHECK(strcmp(t->series[0].value, "3") == 0);
	CHECK_U64(t->series[0].total, 29 * 3);
	CHECK_U64(t->series[1].total, 59);
	store_timeline__free(t);
	store_filter__free(f);

	/* Unbounded: the data's span, auto step (10 s for 600 s). */
	CHECK_RC(store_db__query_timeline(db, NULL, 0, NULL, &t), 0);
	CHECK_U64(t->from_s, 1000);
	CHECK_U64(t->step_s, 10);
	CHECK_U64(t->n_steps, 60);
	CHECK_U64(t->series[0].counts[59], 3);
	store_timeline__free(t);

	/* Empty range: no steps. Nothing in range: zero counts. */
	q = (struct store_query){ .from_s = 5000, .to_s = 5000 };
	CHECK_RC(store_db__query_timeline(db, &q, 10, NULL, &t), 0);
	CHECK_U64(t->n_steps, 0);
	store_timeline__free(t);
	q.to_s = 5100;
	CHECK_RC(store_db__query_timeline(db, &q, 10, NULL, &t), 0);
	CHECK_U64(t->n_steps, 10);
	CHECK_U64(t->series[0].total, 0);
	store_timeline__free(t);

	/* Bad requests. */
	q = (struct store_query){ .from_s = 2000, .to_s = 1000 };
	CHECK_RC(store_db__query_timeline(db, &q, 10, NULL, &t), -EINVAL);
	CHECK_RC(store_db__query_timeline(db, NULL, -1, NULL, &t), -EINVAL);
	q = (struct store_query){ .from_s = 0, .to_s = 100000000 };
	CHECK_RC(store_db__query_timeline(db, &q, 1, NULL, &t), -EINVAL);
	CHECK(strstr(store_db__errmsg(db), "too many steps") != NULL);
}

static void check_labels(struct store_db *db)
{
	struct store_query q = { .from_s = 1300, .to_s = 1600 };
	struct store_label_value *v;
	char **names;
	size_t n;

	CHECK_RC(store_db__label_names(db, NULL, &names, &n), 0);
	CHECK_U64(n, 8);
	CHECK(strcmp(names[0], "host") == 0 && strcmp(names[5], "cgroup") == 0);
	CHECK(strcmp(names[6], "env") == 0 && strcmp(names[7], "zone") == 0);
	CHECK(names[8] == NULL);
	store_strv_free(names);

	CHECK_RC(store_db__label_values(db, NULL, "process", &v, &n), 0);
	CHECK_U64(n, 2);
	CHECK(strcmp(v[0].value, "api") == 0 && v[0].samples == 180);
	CHECK(strcmp(v[1].value, "worker") == 0 && v[1].samples == 90);
	store_label_values_free(v, n);

	/* The second half has no worker. */
	CHECK_RC(store_db__label_values(db, &q, "process", &v, &n), 0);
	CHECK_U64(n, 1);
	store_label_values_free(v, n);
	CHECK_RC(store_db__label_values(db, &q, "zone", &v, &n), 0);
	CHECK_U64(n, 2);
	CHECK(strcmp(v[0].value, "b") == 0 && v[0].samples == 60);
	CHECK(strcmp(v[1].value, "") == 0 && v[1].samples == 30);
	store_label_values_free(v, n);

	q = (struct store_query){ .from_s = 0, .to_s = 10 };
	CHECK_RC(store_db__label_names(db, &q, &names, &n), 0);
	CHECK_U64(n, 0);
	CHECK(names[0] == NULL);
	store_strv_free(names);
	CHECK_RC(store_db__label_values(db, &q, "pid", &v, &n), 0);
	CHECK_U64(n, 0);
	store_label_values_free(v, n);
}

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "timeline.db");
	struct store_db *db;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	write_data(db);
	store_db__close(db);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	check_timeline(db);
	check_labels(db);
	store_db__close(db);
	free(path);
	cleanup_tempdir(dir);
	return 0;
}
