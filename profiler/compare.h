/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compare.h — the statistics behind `ember diff`: compare each function's
 * share of samples (self and total) between a base and a head profile, with
 * a test suited to sampled counts, and decide which changes are regressions.
 *
 * Each function's share on each side is a proportion of that side's samples,
 * so a longer run is not a regression by itself. A change is tested with the
 * two-proportion z-test (pooled variance), its confidence interval is the
 * Wald interval of the difference, and the p-values of all tests are
 * corrected for their number with Holm's step-down method, which keeps the
 * family-wise false-alarm rate at or below alpha. A regression is an
 * increase that is both significant and larger than the threshold.
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
};

struct cmp_options {
	double threshold_pp; /* practical size, in percentage points of share */
	double alpha;        /* family-wise significance level */
	uint64_t min_samples;/* combined samples a function needs to be tested */
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
};

/*
 * Compare. base/head arrays may be empty; base_samples/head_samples are the
 * sides' total sample counts (both must be > 0: -EINVAL otherwise).
 * Returns 0 and *ret_report (free with cmp_report_free), -EINVAL, -ENOMEM.
 */
int cmp_compare(const struct cmp_input *base, size_t n_base, uint64_t base_samples,
		const struct cmp_input *head, size_t n_head, uint64_t head_samples,
		const struct cmp_options *opts, struct cmp_report **ret_report);

void cmp_report_free(struct cmp_report *r);

/* Standard normal upper-tail quantile: z with P(Z > z) = p, 0 < p < 1. */
double cmp_z_upper(double p);

/*
 * Samples per side needed to detect a change of delta_pp percentage points
 * in a function whose share is share (0..1), at two-sided level alpha with
 * the given power (e.g. 0.8). Returns 0 for degenerate inputs.
 */
uint64_t cmp_samples_needed(double share, double delta_pp, double alpha, double power);
