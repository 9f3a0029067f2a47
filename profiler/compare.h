/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compare.h — the statistics behind `ember diff`: compare each function's
 * share of samples (self and total) between a base and a head profile, with
 * a test suited to sampled counts, and decide which changes are regressions.
 *
 * Each function's share on each side is a proportion of that side's samples,
 * so a longer run is not a regression by itself. Two runs of one real
 * program differ by more than sampling noise (memory layout, allocator and
 * cache state), so samples are not one binomial draw: a function's count
 * is taken as overdispersed binomial (quasi-binomial), its variance
 * dispersion x n p (1 - p). When a side holds several runs (record
 * --repeat), the dispersion of each function and metric is estimated from
 * the spread of its per-run shares around the side's share (Pearson's
 * chi-square over the runs of both sides, divided by its degrees of
 * freedom, runs - 1 per side; never below 1), and the change is tested
 * with Student's t on those degrees of freedom, as a quasi-binomial GLM
 * does. With one run on each side nothing shows the run-to-run noise: the
 * dispersion is assumed (cmp_options) and the test is a z test. The test is the two-proportion test (pooled variance) scaled by
 * the dispersion, its interval the Wald interval of the difference scaled
 * the same way, and the p-values of all tests are corrected for their
 * number with Holm's step-down method, which keeps the family-wise
 * false-alarm rate at or below alpha. A regression is an increase that is
 * both significant and larger than the threshold.
 *
 * Pure functions over arrays: no I/O, thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One function of one side, as store_tree__top() gives it. */
struct cmp_input {
	const char *name;
	const char *module; /* compared by file name only: base and head builds
	                       usually live in different directories */
	int kind;
	uint64_t self;
	uint64_t total;
	/* Per run of the side (struct cmp_side.n_runs entries), or NULL when
	 * the side is one run. */
	const uint64_t *run_self;
	const uint64_t *run_total;
};

/* One side: its functions and, when it holds several runs, their sizes. */
struct cmp_side {
	const struct cmp_input *in;
	size_t n;
	uint64_t samples;            /* > 0 */
	size_t n_runs;               /* 0 or 1: one run */
	const uint64_t *run_samples; /* [n_runs]: samples of each run */
};

/*
 * With one run per side, `ember diff` takes each function's share to wander
 * from run to run with variance CMP_ONE_RUN_WANDER x p (1 - p), on top of
 * sampling noise: a run of n samples has dispersion 1 + wander x n. The
 * largest bench/diff-calibration measured (python3's page-fault kernel
 * functions, runs of 2,500 samples) was 0.016.
 */
#define CMP_ONE_RUN_WANDER 0.02

struct cmp_options {
	double threshold_pp; /* practical size, in percentage points of share */
	double alpha;        /* family-wise significance level */
	uint64_t min_samples;/* combined samples a function needs to be tested */
	/* One run per side: the dispersion assumed is one_run_dispersion
	 * when >= 1, else 1 + 2 w / (1/n_base + 1/n_head) for the wander w =
	 * one_run_wander (both 0: pure binomial noise). */
	double one_run_dispersion;
	double one_run_wander;
};

enum cmp_metric { CMP_SELF = 0, CMP_TOTAL = 1 };
enum cmp_presence { CMP_BOTH = 0, CMP_BASE_ONLY, CMP_HEAD_ONLY };

struct cmp_row {
	const char *name;      /* borrowed from the inputs */
	const char *module;
	int kind;
	enum cmp_presence presence;
	enum cmp_metric metric;
	uint64_t base_count, head_count;
	double base_share, head_share; /* fractions 0..1 */
	double delta_pp;       /* head - base, percentage points */
	double ci_low_pp, ci_high_pp; /* interval of delta at the corrected level */
	double p_value;        /* two-sided, uncorrected */
	double p_adjusted;     /* Holm-corrected; 1 when not tested */
	double dispersion;     /* variance over binomial's, >= 1 */
	double df;             /* degrees of freedom of the t test; INFINITY
	                          when the dispersion was assumed (z test) */
	double noise_pp;       /* standard error of delta, run-to-run noise
	                          included, percentage points */
	double run_sd_pp;      /* spread (sd) of the function's share between
	                          runs of one side, pooled over both sides,
	                          points; NAN with one run per side */
	bool tested;           /* had min_samples */
	bool regression;       /* significant increase above threshold */
	bool improvement;      /* significant decrease above threshold */
	bool echoes_self;      /* total row whose function's self row has the
	                          same verdict: it adds nothing to the report */
};

struct cmp_report {
	uint64_t base_samples, head_samples;
	size_t n_tests;        /* tests corrected for */
	size_t n_rows;
	struct cmp_row *rows;  /* every function x metric, sorted: regressions
	                          first, then by |delta| descending */
	size_t n_regressions, n_improvements; /* functions, not rows */
	size_t base_runs, head_runs; /* >= 1 */
	bool dispersion_assumed; /* one run per side */
	double assumed_dispersion; /* what it assumed then */
};

/*
 * Compare two sides. Their function arrays may be empty; samples must be
 * > 0, and a side with n_runs > 1 needs run_samples and each input's
 * run_self/run_total (-EINVAL otherwise). Returns 0 and *ret_report (free
 * with cmp_report_free; rows borrow the inputs' strings), -EINVAL, -ENOMEM.
 */
int cmp_compare_sides(const struct cmp_side *base, const struct cmp_side *head,
		      const struct cmp_options *opts, struct cmp_report **ret_report);

/* cmp_compare_sides() with one run per side. */
int cmp_compare(const struct cmp_input *base, size_t n_base, uint64_t base_samples,
		const struct cmp_input *head, size_t n_head, uint64_t head_samples,
		const struct cmp_options *opts, struct cmp_report **ret_report);

void cmp_report_free(struct cmp_report *r);

/* Standard normal upper-tail quantile: z with P(Z > z) = p, 0 < p < 1. */
double cmp_z_upper(double p);

/* Student's t with df degrees of freedom (df > 0; INFINITY: normal):
 * the two-sided tail P(|T| > t), and the t with P(T > t) = p. */
double cmp_t_two_sided(double t, double df);
double cmp_t_upper(double p, double df);

/*
 * Samples per side needed to detect a change of delta_pp percentage points
 * in a function whose share is share (0..1), at two-sided level alpha with
 * the given power (e.g. 0.8). Returns 0 for degenerate inputs.
 */
uint64_t cmp_samples_needed(double share, double delta_pp, double alpha, double power);
