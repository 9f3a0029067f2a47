/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-compare-stats.c — the statistics of `ember diff` on synthetic
 * profiles whose truth is known: pairs drawn from the same distribution must
 * raise false alarms at most at rate alpha (the whole family of tests, with
 * Holm's correction), a doubled function must be found with the right sign
 * and size, different run lengths with the same split must not alarm, and
 * the quantile and sample-size helpers must match textbook values. Those
 * pairs are pure sampling noise, tested as such (dispersion 1). Then runs
 * whose split itself wanders from run to run, as real programs' do: merged
 * into one draw, the binomial test cries wolf on them; kept apart, the
 * dispersion estimated from the runs keeps false alarms at or below alpha
 * and still finds a doubled function.
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
	struct cmp_options o = { .threshold_pp = 0.0, .alpha = 0.05, .min_samples = 10,
				  .one_run_dispersion = 1 };
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
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10,
				  .one_run_dispersion = 1 };
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
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10,
				  .one_run_dispersion = 1 };
	struct cmp_input a[] = { { .name = "main", .module = "/a/app", .total = 1000 },
				 { .name = "old", .module = "/a/app", .self = 1000, .total = 1000 } };
	struct cmp_input b[] = { { .name = "main", .module = "/b/app", .total = 1000 },
				 { .name = "new", .module = "/b/app", .self = 1000, .total = 1000 } };
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
	struct cmp_options o = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10,
				  .one_run_dispersion = 1 };
	struct cmp_report *r = NULL;

	CHECK(fabs(cmp_z_upper(0.025) - 1.959964) < 1e-5, "z(0.025) = %f", cmp_z_upper(0.025));
	CHECK(fabs(cmp_z_upper(0.2) - 0.841621) < 1e-5, "z(0.2)");
	/* (1.96 + 0.8416)^2 * (0.1*0.9 + 0.11*0.89) / 0.01^2 = 14,749 */
	CHECK(llabs((long long)cmp_samples_needed(0.10, 1.0, 0.05, 0.8) - 14749) <= 2,
	      "samples needed %llu", (unsigned long long)cmp_samples_needed(0.10, 1.0, 0.05, 0.8));
	CHECK(cmp_samples_needed(0.10, 0, 0.05, 0.8) == 0, "degenerate delta");
	CHECK(cmp_compare(NULL, 0, 0, NULL, 0, 10, &o, &r) < 0, "empty base refused");
	/* Student's t: t(0.025, 10) = 2.228139, t(0.005, 4) = 4.604095 */
	CHECK(fabs(cmp_t_upper(0.025, 10) - 2.228139) < 1e-5, "t(0.025, 10) = %f",
	      cmp_t_upper(0.025, 10));
	CHECK(fabs(cmp_t_upper(0.005, 4) - 4.604095) < 1e-5, "t(0.005, 4) = %f",
	      cmp_t_upper(0.005, 4));
	CHECK(fabs(cmp_t_two_sided(2.228139, 10) - 0.05) < 1e-6, "P(|T10| > 2.228)");
	CHECK(fabs(cmp_t_two_sided(1.959964, INFINITY) - 0.05) < 1e-6, "normal limit");
	/* One run per side, wander 0.02 over 1,000 and 4,000 samples:
	 * 1 + 2 x 0.02 / (1/1000 + 1/4000) = 33 */
	{
		struct cmp_input in[] = { { .name = "f", .self = 100, .total = 100 } };
		struct cmp_options w = { .alpha = 0.05, .min_samples = 10, .one_run_wander = 0.02 };

		CHECK(cmp_compare(in, 1, 1000, in, 1, 4000, &w, &r) == 0 && r &&
		      r->dispersion_assumed && fabs(r->assumed_dispersion - 33) < 1e-9 &&
		      fabs(r->rows[0].dispersion - 33) < 1e-9, "assumed dispersion");
		cmp_report_free(r);
	}
}

#define RUNS 5
#define RUN_SAMPLES 4000

/* Normal deviate (Box-Muller) for the run-to-run wander. */
static double gauss(void)
{
	double u = uniform(), v = uniform();

	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

struct run_side {
	struct cmp_input in[N_LEAVES + N_PARENTS];
	uint64_t run_self[N_LEAVES + N_PARENTS][RUNS], run_total[N_LEAVES + N_PARENTS][RUNS];
	uint64_t run_samples[RUNS], samples;
	struct cmp_side side;
};

/* RUNS runs of RUN_SAMPLES samples; each run's weights wander by a
 * factor exp(N(0, wander)) per leaf, as layout and cache state do. */
static void draw_runs(const double *w, double wander, struct run_side *rs)
{
	struct cmp_input one[N_LEAVES + N_PARENTS];

	memset(rs, 0, sizeof(*rs));
	for (int k = 0; k < RUNS; k++) {
		double wk[N_LEAVES];

		for (int i = 0; i < N_LEAVES; i++)
			wk[i] = w[i] * exp(wander * gauss());
		draw(wk, RUN_SAMPLES, one);
		for (int f = 0; f < N_LEAVES + N_PARENTS; f++) {
			rs->run_self[f][k] = one[f].self;
			rs->run_total[f][k] = one[f].total;
			if (k == 0) {
				rs->in[f] = one[f];
				rs->in[f].self = rs->in[f].total = 0;
			}
			rs->in[f].self += one[f].self;
			rs->in[f].total += one[f].total;
		}
		rs->run_samples[k] = RUN_SAMPLES;
		rs->samples += RUN_SAMPLES;
	}
	for (int f = 0; f < N_LEAVES + N_PARENTS; f++) {
		rs->in[f].run_self = rs->run_self[f];
		rs->in[f].run_total = rs->run_total[f];
	}
	rs->side = (struct cmp_side){ .in = rs->in, .n = N_LEAVES + N_PARENTS,
				      .samples = rs->samples, .n_runs = RUNS,
				      .run_samples = rs->run_samples };
}

static void test_runs(void)
{
	struct cmp_options o = { .threshold_pp = 0.0, .alpha = 0.05, .min_samples = 10,
				 .one_run_dispersion = 1 };
	static struct run_side a, b;
	double w[N_LEAVES], w2[N_LEAVES];
	int trials = 400, alarms = 0, merged_alarms = 0, found = 0;
	double max_disp = 0;

	zipf(w);
	for (int t = 0; t < trials; t++) {
		struct cmp_report *r = NULL;

		draw_runs(w, 0.15, &a);
		draw_runs(w, 0.15, &b);
		if (cmp_compare_sides(&a.side, &b.side, &o, &r)) {
			CHECK(0, "cmp_compare_sides failed");
			return;
		}
		alarms += r->n_regressions + r->n_improvements > 0;
		for (size_t i = 0; i < r->n_rows; i++)
			max_disp = fmax(max_disp, r->rows[i].dispersion);
		CHECK(r->base_runs == RUNS && r->head_runs == RUNS && !r->dispersion_assumed,
		      "runs counted");
		cmp_report_free(r);
		/* The same samples as one draw per side: binomial noise only. */
		CHECK(cmp_compare(a.in, N_LEAVES + N_PARENTS, a.samples, b.in,
				  N_LEAVES + N_PARENTS, b.samples, &o, &r) == 0, "merged");
		if (r)
			merged_alarms += r->n_regressions + r->n_improvements > 0;
		cmp_report_free(r);
	}
	printf("runs that wander 15 %%: false alarms %d of %d pairs with the runs kept apart, "
	       "%d merged into one draw; largest dispersion %.1f\n", alarms, trials,
	       merged_alarms, max_disp);
	CHECK((double)alarms / trials <= 0.05, "false-alarm rate %.3f above alpha with runs",
	      (double)alarms / trials);
	CHECK(merged_alarms > trials / 2, "merged runs should cry wolf (%d of %d): the "
	      "wander is not noticed", merged_alarms, trials);

	/* A doubled function is still found over the same wander. */
	o.threshold_pp = 1.0;
	memcpy(w2, w, sizeof(w));
	w2[5] *= 2;
	for (int t = 0; t < 20; t++) {
		struct cmp_report *r = NULL;
		bool l5 = false;

		draw_runs(w, 0.15, &a);
		draw_runs(w2, 0.15, &b);
		CHECK(cmp_compare_sides(&a.side, &b.side, &o, &r) == 0, "compare runs");
		if (!r)
			return;
		for (size_t i = 0; i < r->n_rows; i++) {
			const struct cmp_row *row = &r->rows[i];

			if (row->regression && row->metric == CMP_SELF) {
				CHECK(!strcmp(row->name, "l5"), "self regression in %s", row->name);
				l5 |= !strcmp(row->name, "l5");
				CHECK(row->noise_pp > 0 && row->run_sd_pp > 0 && row->df == 2 * RUNS - 2,
				      "noise shown");
			}
		}
		found += l5;
		cmp_report_free(r);
	}
	printf("doubled function over the wander: found in %d of 20 pairs\n", found);
	CHECK(found >= 18, "doubled l5 found in only %d of 20 pairs", found);
}

int main(void)
{
	test_helpers();
	test_one_side_only();
	test_detects_doubling();
	test_false_alarms();
	test_runs();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all compare checks passed\n");
	return 0;
}
