/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet-compare.c — a helper of tests/integration/test_fleet_serve.py
 * (not a test by itself: it needs a ClickHouse server, which that test
 * starts): one agent's SQLite file against the fleet store it shipped to,
 * through storage.h on both backends.
 *
 *   fleet-compare FILE URL HOST
 *
 * (the password in EMBER_CLICKHOUSE_PASSWORD). Checks, for the host's
 * rows of the fleet store (filter host="HOST") against the whole file:
 *  - the timeline over the file's span at its flush step, unsplit and
 *    split by each label (host, process, pid, thread, tid, cgroup and a
 *    free label no sample has): the same series, values and counts;
 *  - pprof's frame sites: every frame of the host's tree has the same
 *    smallest file offset and build-id in both (the addresses a pprof
 *    export writes), and at least one user frame has a non-zero offset.
 * Prints one "ok:" line per check; exits 1 at the first that fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-test.h"
#include "store_backend.h"
#include "store_formats.h"

static void fail_msg(const char *what, struct store_db *db, int err)
{
	fprintf(stderr, "FAIL: %s: %s (%s)\n", what, store_strerror(err),
		db ? store_db__errmsg(db) : "");
	exit(1);
}

/* The timelines of file and fleet over [from, to) at step, split by
 * label (NULL: not split), must be equal. */
static void same_timeline(struct store_db *file, struct store_db *fleet,
			  const struct store_query *qf, const struct store_query *qc,
			  int64_t step, const char *label)
{
	struct store_timeline *a = NULL, *b = NULL;
	int err;

	if ((err = store_db__query_timeline(file, qf, step, label, &a)) < 0)
		fail_msg("the file's timeline", file, err);
	if ((err = store_db__query_timeline(fleet, qc, step, label, &b)) < 0)
		fail_msg("the fleet's timeline", fleet, err);
	if (a->from_s != b->from_s || a->step_s != b->step_s || a->n_steps != b->n_steps ||
	    a->n_series != b->n_series) {
		fprintf(stderr, "FAIL: timeline split by %s: file from %" PRId64 " step %" PRId64
			" %zu steps %zu series; fleet from %" PRId64 " step %" PRId64
			" %zu steps %zu series\n", label ? label : "nothing", a->from_s, a->step_s,
			a->n_steps, a->n_series, b->from_s, b->step_s, b->n_steps, b->n_series);
		exit(1);
	}
	uint64_t total = 0;

	for (size_t i = 0; i < a->n_series; i++) {
		const struct store_timeline_series *x = &a->series[i], *y = &b->series[i];

		if (strcmp(x->value ? x->value : "(none)", y->value ? y->value : "(none)") ||
		    x->total != y->total ||
		    memcmp(x->counts, y->counts, a->n_steps * sizeof(*x->counts))) {
			fprintf(stderr, "FAIL: timeline split by %s: series %zu is %s (%" PRIu64
				" samples) in the file, %s (%" PRIu64 ") in the fleet store\n",
				label ? label : "nothing", i, x->value ? x->value : "(none)",
				x->total, y->value ? y->value : "(none)", y->total);
			exit(1);
		}
		total += x->total;
	}
	if (!total) {
		fprintf(stderr, "FAIL: timeline split by %s: no samples\n", label ? label : "nothing");
		exit(1);
	}
	printf("ok: the timeline split by %s: %zu series, %" PRIu64 " samples in %zu steps, "
	       "equal in the file and the fleet store\n", label ? label : "nothing", a->n_series,
	       total, a->n_steps);
	store_timeline__free(a);
	store_timeline__free(b);
}

static void same_sites(struct store_db *file, struct store_db *fleet,
		       const struct store_query *qc)
{
	struct store_frame_sites sa = { 0 }, sb = { 0 };
	struct store_tree *t = NULL;
	size_t frames = 0, placed = 0;
	int err;

	/* the tree first: the fleet store's sites are those of the frames
	 * its handle has read */
	if ((err = store_db__query_tree(fleet, qc, &t)) < 0)
		fail_msg("the fleet's tree", fleet, err);
	if ((err = file->ops->frame_sites(file, &sa)) < 0)
		fail_msg("the file's frame sites", file, err);
	if ((err = fleet->ops->frame_sites(fleet, &sb)) < 0)
		fail_msg("the fleet's frame sites", fleet, err);
	for (size_t i = 1; i < store_tree__size(t); i++) {
		const struct store_tree_node *n = store_tree__node(t, i);
		const struct store_frame_site *a, *b;

		if (n->kind == STORE_FRAME_PROCESS)
			continue;
		a = store_frame_sites__find(&sa, n);
		b = store_frame_sites__find(&sb, n);
		frames++;
		if (!a || !b || a->offset != b->offset ||
		    strcmp(a->build_id ? a->build_id : "", b->build_id ? b->build_id : "")) {
			fprintf(stderr, "FAIL: frame %s (%s): file site %s+0x%" PRIx64 ", fleet "
				"site %s+0x%" PRIx64 "\n", n->name, n->module ? n->module : "",
				a ? (a->build_id ? a->build_id : "-") : "(none)", a ? a->offset : 0,
				b ? (b->build_id ? b->build_id : "-") : "(none)", b ? b->offset : 0);
			exit(1);
		}
		if (n->kind == STORE_FRAME_USER && a->offset)
			placed++;
	}
	if (!frames || !placed) {
		fprintf(stderr, "FAIL: frame sites: %zu frames, %zu user frames with an offset\n",
			frames, placed);
		exit(1);
	}
	printf("ok: pprof's frame sites: the %zu frames of the host's tree have the same offset "
	       "and build-id in the file and the fleet store (%zu user frames at a non-zero "
	       "offset)\n", frames, placed);
	store_frame_sites__free(&sa);
	store_frame_sites__free(&sb);
	store_tree__free(t);
}

int main(int argc, char **argv)
{
	static const char *const labels[] = {
		"host", "process", "pid", "thread", "tid", "cgroup", "no-such-label",
	};
	struct store_ch_config c = { 0 };
	struct store_db *file = NULL, *fleet = NULL;
	struct store_query qf, qc;
	struct store_filter *host = NULL;
	char *error = NULL, *expr = NULL;
	int64_t first = 0, end = 0;
	uint32_t step = 0;
	int err;

	if (argc != 4) {
		fprintf(stderr, "usage: fleet-compare FILE URL HOST\n");
		return 2;
	}
	if ((err = store_db__open(argv[1], STORE_OPEN_READ, &file)) < 0)
		fail_msg(argv[1], NULL, err);
	c.url = argv[2];
	c.password = getenv("EMBER_CLICKHOUSE_PASSWORD");
	c.timeout_ms = 120000;
	if ((err = store_db__open_clickhouse(&c, &fleet, &error)) < 0) {
		fprintf(stderr, "FAIL: %s: %s\n", argv[2], error ? error : store_strerror(err));
		return 1;
	}
	CHECK(asprintf(&expr, "host=\"%s\"", argv[3]) > 0);
	CHECK_RC(store_filter__parse(expr, &host, &error), 0);
	if ((err = store_db__span(file, NULL, &first, &end, &step)) < 0)
		fail_msg("the file's span", file, err);
	store_query_init(&qf);
	qf.from_s = first;
	qf.to_s = end;
	qc = qf;
	qc.filter = host;
	same_timeline(file, fleet, &qf, &qc, step, NULL);
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		same_timeline(file, fleet, &qf, &qc, step, labels[i]);
	same_sites(file, fleet, &qc);
	store_filter__free(host);
	free(expr);
	store_db__close(fleet);
	store_db__close(file);
	return 0;
}
