/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-compare-stats.c — the statistics of `ember diff` on synthetic
 * profiles whose truth is known: pairs drawn from the same distribution must
 * raise false alarms at most at rate alpha (the whole family of tests, with
 * Holm's correction), a doubled function must be found with the right sign
 * and size, different run lengths with the same split must not alarm, and
 * the quantile and sample-size helpers must match textbook values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

#define N_LEAVES 20
#define N_PARENTS 4

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			failures++;                                       \
		}                                                         \
	} while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform(void)
{
	/* xorshift64*: deterministic, so the test never flakes */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static const char *leaf_names[N_LEAVES] = {
	"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9",
	"l10", "l11", "l12", "l13", "l14", "l15", "l16", "l17", "l18", "l19",
};
static const char *parent_names[N_PARENTS] = { "p0", "p1", "p2", "p3" };

/*
 * Draw n samples over N_LEAVES leaves with the given weights; each leaf i has
 * parent i % N_PARENTS, so parents have total but no self, as callers do.
 */
static void draw(const double *w, uint64_t n, struct cmp_input *out)
{
	double cum[N_LEAVES], sum = 0;
	uint64_t c[N_LEAVES] = {0};

	for (int i = 0; i < N_LEAVES; i++)
		cum[i] = (sum += w[i]);
	for (uint64_t k = 0; k < n; k++) {
		double u = uniform() * sum;
		int i = 0;

		while (i < N_LEAVES - 1 && u >= cum[i])
			i++;
		c[i]++;
	}
	memset(out, 0, sizeof(*out) * (N_LEAVES + N_PARENTS));
	for (int i = 0; i < N_LEAVES; i++) {
		out[i].name = leaf_names[i];
		out[i].module = i % 2 ? "/base/build/app" : "/head/build/app";
		out[i].self = out[i].total = c[i];
	}
	for (int p = 0; p < N_PARENTS; p++) {
		out[N_LEAVES + p].name = parent_names[p];
		out[N_LEAVES + p].module = "/x/app";
	}
	for (int i = 0; i < N_LEAVES; i++)
		out[N_LEAVES + i % N_PARENTS].total += c[i];
}

static void zipf(double *w)
{
	for (int i = 0; i < N_LEAVES; i++)
		w[i] = 1.0 / (i + 1);
}

static void test_false_alarms(void)
{
	struct cmp_options o = { .threshold_pp = 0.0, .alpha = 0.05, .min_samples = 10 };
	struct cmp_input a[N_LEAVES + N_PARENTS], b[N_LEAVES + N_PARENTS];
	double w[N_LEAVES];
	int trials = 2000, alarms = 0;

	zipf(w);
	for (int t = 0; t < trials; t++) {
		struct cmp_report *r = NULL;
		/* run lengths differ too: shares, not counts, are compared */
		uint64_t n1 = 1000 + t % 7 * 500, n2 = 3000 - t % 5 * 400;

		draw(w, n1, a);
		draw(w, n2, b);
		if (cmp_compare(a, N_LEAVES + N_PARENTS, n1, b, N_LEAVES + N_PARENTS, n2, &o, &r)) {
			CHECK(0, "cmp_compare failed");
			return;
		}
		alarms += r->n_regressions + r->n_improvements > 0;
		cmp_report_free(r);
	}
	printf("false alarms with threshold 0: %d of %d pairs (%.3f, alpha 0.05)\n",
	       alarms, trials, (double)alarms / trials);
	CHECK((double)alarms / trials <= 0.05, "false-alarm rate %.3f above alpha",
	      (double)alarms / trials);
}

static void test_detects_doubling(void)
{
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10 };
	struct cmp_input a[N_LEAVES + N_PARENTS], b[N_LEAVES + N_PARENTS];
	struct cmp_report *r = NULL;
	double w[N_LEAVES], w2[N_LEAVES];
	bool found_leaf = false, found_parent = false;

	zipf(w);
	memcpy(w2, w, sizeof(w));
	w2[5] *= 2; /* l5 does twice the work; its parent is p1 */
	draw(w, 3000, a);
	draw(w2, 3000, b);
	CHECK(cmp_compare(a, N_LEAVES + N_PARENTS, 3000, b, N_LEAVES + N_PARENTS, 3000, &o, &r) == 0,
	      "compare");
	if (!r)
		return;
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct cmp_row *row = &r->rows[i];

		if (!row->regression || row->echoes_self)
			continue;
		if (row->metric == CMP_SELF) {
			CHECK(!strcmp(row->name, "l5"), "unexpected self regression in %s", row->name);
			found_leaf |= !strcmp(row->name, "l5");
			/* l5's share is 1/6 / H20 = 4.7%; doubled it is ~9.0%. */
			CHECK(row->delta_pp > 2.5 && row->delta_pp < 6.5,
			      "l5 change %.2f points is implausible", row->delta_pp);
			CHECK(row->ci_low_pp > 0 && row->ci_low_pp < row->delta_pp &&
			      row->ci_high_pp > row->delta_pp, "interval around the change");
		} else {
			CHECK(!strcmp(row->name, "p1"), "unexpected total regression in %s", row->name);
			found_parent |= !strcmp(row->name, "p1");
		}
	}
	CHECK(found_leaf, "l5's self regression found");
	CHECK(found_parent, "its caller p1's total regression found");
	CHECK(r->n_regressions == 2, "2 functions regressed, not %zu", r->n_regressions);
	cmp_report_free(r);
}

static void test_one_side_only(void)
{
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10 };
	struct cmp_input a[] = { { "main", "/a/app", 0, 0, 1000 }, { "old", "/a/app", 0, 1000, 1000 } };
	struct cmp_input b[] = { { "main", "/b/app", 0, 0, 1000 }, { "new", "/b/app", 0, 1000, 1000 } };
	struct cmp_report *r = NULL;
	size_t head_only = 0, base_only = 0;

	CHECK(cmp_compare(a, 2, 1000, b, 2, 1000, &o, &r) == 0, "compare");
	if (!r)
		return;
	for (size_t i = 0; i < r->n_rows; i++) {
		head_only += r->rows[i].presence == CMP_HEAD_ONLY;
		base_only += r->rows[i].presence == CMP_BASE_ONLY;
		if (!strcmp(r->rows[i].name, "main"))
			CHECK(r->rows[i].presence == CMP_BOTH && !r->rows[i].regression,
			      "main matched across build directories, unchanged");
	}
	CHECK(head_only == 2 && base_only == 2, "one-side functions marked (%zu, %zu)",
	      head_only, base_only);
	CHECK(r->n_regressions == 1, "a new hot function is a regression");
	cmp_report_free(r);
}

static void test_helpers(void)
{
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10 };
	struct cmp_report *r = NULL;

	CHECK(fabs(cmp_z_upper(0.025) - 1.959964) < 1e-5, "z(0.025) = %f", cmp_z_upper(0.025));
	CHECK(fabs(cmp_z_upper(0.2) - 0.841621) < 1e-5, "z(0.2)");
	/* (1.96 + 0.8416)^2 * (0.1*0.9 + 0.11*0.89) / 0.01^2 = 14,749 */
	CHECK(llabs((long long)cmp_samples_needed(0.10, 1.0, 0.05, 0.8) - 14749) <= 2,
	      "samples needed %llu", (unsigned long long)cmp_samples_needed(0.10, 1.0, 0.05, 0.8));
	CHECK(cmp_samples_needed(0.10, 0, 0.05, 0.8) == 0, "degenerate delta");
	CHECK(cmp_compare(NULL, 0, 0, NULL, 0, 10, &o, &r) < 0, "empty base refused");
}

int main(void)
{
	test_helpers();
	test_one_side_only();
	test_detects_doubling();
	test_false_alarms();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all compare checks passed\n");
	return 0;
}
