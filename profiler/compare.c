/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compare.c — two-proportion tests, scaled by the run-to-run dispersion,
 * with Holm's correction over every function of two profiles (see
 * compare.h for the method and why).
 */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct keyed {
	const struct cmp_input *in;
	const char *base_name; /* module's file name */
};

static const char *file_name(const char *path)
{
	const char *s;

	if (!path)
		return "";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->in->name, y->in->name);

	if (c)
		return c;
	c = strcmp(x->base_name, y->base_name);
	if (c)
		return c;
	return (x->in->kind > y->in->kind) - (x->in->kind < y->in->kind);
}

static struct keyed *sorted_keys(const struct cmp_input *in, size_t n)
{
	struct keyed *k = calloc(n ? n : 1, sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		k[i].in = &in[i];
		k[i].base_name = file_name(in[i].module);
	}
	qsort(k, n, sizeof(*k), cmp_keyed);
	return k;
}

double cmp_z_upper(double p)
{
	double lo = -40, hi = 40;

	if (p <= 0)
		return INFINITY;
	if (p >= 1)
		return -INFINITY;
	for (int i = 0; i < 200; i++) {
		double mid = (lo + hi) / 2;

		if (0.5 * erfc(mid / M_SQRT2) > p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

uint64_t cmp_samples_needed(double share, double delta_pp, double alpha, double power)
{
	double p1 = share, p2 = share + delta_pp / 100.0, d = delta_pp / 100.0, z;

	if (d <= 0 || p1 < 0 || p2 > 1 || alpha <= 0 || alpha >= 1 || power <= 0 || power >= 1)
		return 0;
	z = cmp_z_upper(alpha / 2) + cmp_z_upper(1 - power);
	return (uint64_t)ceil(z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / (d * d));
}

/*
 * The regularized incomplete beta I_x(a, b), by its continued fraction
 * (modified Lentz), on the side where it converges fast.
 */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double c = 1, d = 1 - (a + b) * x / (a + 1), h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1 / d;
	h = d;
	for (int m = 1; m <= 300; m++) {
		double m2 = 2.0 * m, aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2)), del;

		d = 1 + aa * d;
		d = fabs(d) < tiny ? tiny : d;
		c = 1 + aa / c;
		c = fabs(c) < tiny ? tiny : c;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
		d = 1 + aa * d;
		d = fabs(d) < tiny ? tiny : d;
		c = 1 + aa / c;
		c = fabs(c) < tiny ? tiny : c;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-15)
			break;
	}
	return h;
}

static double beta_inc(double a, double b, double x)
{
	double front;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1) / (a + b + 2))
		return front * beta_cf(a, b, x) / a;
	return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double cmp_t_two_sided(double t, double df)
{
	t = fabs(t);
	if (isnan(t))
		return 1;
	if (!isfinite(df) || df > 1e7)
		return erfc(t / M_SQRT2);
	if (isinf(t))
		return 0;
	return beta_inc(df / 2, 0.5, df / (df + t * t));
}

double cmp_t_upper(double p, double df)
{
	double lo = 0, hi = 1;

	if (!isfinite(df) || df > 1e7)
		return cmp_z_upper(p);
	if (p <= 0)
		return INFINITY;
	if (p >= 0.5)
		return p == 0.5 ? 0 : -cmp_t_upper(1 - p, df);
	while (cmp_t_two_sided(hi, df) / 2 > p && hi < 1e12)
		hi *= 2;
	for (int i = 0; i < 200; i++) {
		double mid = (lo + hi) / 2;

		if (cmp_t_two_sided(mid, df) / 2 > p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* One side of one function and metric: its count, and over its runs the
 * Pearson chi-square around the side's share and the spread of the runs'
 * shares (sum of squares about their mean). */
struct side_stats {
	uint64_t x, n;
	size_t runs;
	double chi2, ss;
};

static struct side_stats side_stats(const struct cmp_side *side, const struct cmp_input *in,
				    enum cmp_metric metric)
{
	struct side_stats st = { .n = side->samples, .runs = 1 };
	const uint64_t *rx = NULL;
	double p, mean = 0;
	size_t k = 0;

	if (in) {
		st.x = metric == CMP_SELF ? in->self : in->total;
		rx = metric == CMP_SELF ? in->run_self : in->run_total;
	}
	if (side->n_runs < 2)
		return st;
	st.runs = side->n_runs;
	p = (double)st.x / (double)st.n;
	for (size_t i = 0; i < side->n_runs; i++) {
		double ni = (double)side->run_samples[i], xi = rx ? (double)rx[i] : 0;

		if (ni <= 0)
			continue;
		if (p > 0 && p < 1)
			st.chi2 += (xi - ni * p) * (xi - ni * p) / (ni * p * (1 - p));
		mean += xi / ni;
		k++;
	}
	mean = k ? mean / k : 0;
	for (size_t i = 0; i < side->n_runs; i++) {
		double ni = (double)side->run_samples[i], xi = rx ? (double)rx[i] : 0;

		if (ni > 0)
			st.ss += (xi / ni - mean) * (xi / ni - mean);
	}
	return st;
}

static void fill_row(struct cmp_row *r, const struct side_stats *b, const struct side_stats *h,
		     double assumed_dispersion)
{
	uint64_t x1 = b->x, n1 = b->n, x2 = h->x, n2 = h->n;
	double p1 = (double)x1 / n1, p2 = (double)x2 / n2;
	double pool = (double)(x1 + x2) / (double)(n1 + n2);
	double se0 = sqrt(pool * (1 - pool) * (1.0 / n1 + 1.0 / n2));
	double df = (double)(b->runs - 1) + (double)(h->runs - 1);

	r->base_count = x1;
	r->head_count = x2;
	r->base_share = p1;
	r->head_share = p2;
	r->delta_pp = 100.0 * (p2 - p1);
	if (df > 0) {
		/* Estimated from the runs; below binomial is sampling luck. */
		r->dispersion = fmax(1.0, (b->chi2 + h->chi2) / df);
		r->df = df;
		r->run_sd_pp = 100.0 * sqrt((b->ss + h->ss) / df);
	} else {
		r->dispersion = assumed_dispersion;
		r->df = INFINITY;
		r->run_sd_pp = NAN;
	}
	se0 *= sqrt(r->dispersion);
	r->p_value = se0 > 0 ? cmp_t_two_sided((p2 - p1) / se0, r->df) : 1.0;
	r->p_adjusted = 1.0;
}

static int by_p(const void *a, const void *b)
{
	const struct cmp_row *x = *(struct cmp_row *const *)a, *y = *(struct cmp_row *const *)b;

	return (x->p_value > y->p_value) - (x->p_value < y->p_value);
}

static int by_importance(const void *a, const void *b)
{
	const struct cmp_row *x = a, *y = b;
	double dx = fabs(x->delta_pp), dy = fabs(y->delta_pp);

	if (x->regression != y->regression)
		return y->regression - x->regression;
	if (dx != dy)
		return (dy > dx) - (dy < dx);
	if (x->metric != y->metric)
		return (int)x->metric - (int)y->metric;
	return strcmp(x->name, y->name);
}

/* Holm's step-down correction over the tested rows, then the decisions. */
static int decide(struct cmp_report *r, const struct cmp_options *o)
{
	struct cmp_row **t = calloc(r->n_rows ? r->n_rows : 1, sizeof(*t));
	size_t m = 0;
	double run = 0, zc;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rows; i++)
		if (r->rows[i].tested)
			t[m++] = &r->rows[i];
	qsort(t, m, sizeof(*t), by_p);
	for (size_t j = 0; j < m; j++) {
		double adj = (double)(m - j) * t[j]->p_value;

		if (adj > 1)
			adj = 1;
		if (adj > run)
			run = adj;
		t[j]->p_adjusted = run;
	}
	free(t);
	r->n_tests = m;

	/* Every row has the same degrees of freedom (the runs'). */
	zc = cmp_t_upper(o->alpha / (2.0 * (m ? m : 1)), r->n_rows ? r->rows[0].df : INFINITY);
	for (size_t i = 0; i < r->n_rows; i++) {
		struct cmp_row *row = &r->rows[i];
		double p1 = row->base_share, p2 = row->head_share;
		double se = sqrt(row->dispersion * (p1 * (1 - p1) / r->base_samples +
						    p2 * (1 - p2) / r->head_samples));
		bool sig = row->tested && row->p_adjusted < o->alpha;

		row->noise_pp = 100.0 * se;
		row->ci_low_pp = row->delta_pp - 100.0 * zc * se;
		row->ci_high_pp = row->delta_pp + 100.0 * zc * se;
		row->regression = sig && row->delta_pp > o->threshold_pp;
		row->improvement = sig && row->delta_pp < -o->threshold_pp;
	}
	/* add_rows() put a function's self and total rows next to each other. */
	for (size_t i = 0; i < r->n_rows; i++) {
		struct cmp_row *row = &r->rows[i], *prev = i ? &r->rows[i - 1] : NULL;

		if (row->metric == CMP_TOTAL && prev && prev->metric == CMP_SELF &&
		    prev->name == row->name && prev->module == row->module)
			row->echoes_self = (row->regression && prev->regression) ||
					   (row->improvement && prev->improvement);
		if (!row->echoes_self) {
			r->n_regressions += row->regression;
			r->n_improvements += row->improvement;
		}
	}
	qsort(r->rows, r->n_rows, sizeof(*r->rows), by_importance);
	return 0;
}

static void add_rows(struct cmp_report *r, const struct cmp_side *bs, const struct cmp_input *b,
		     const struct cmp_side *hs, const struct cmp_input *h,
		     const struct cmp_options *o)
{
	const struct cmp_input *any = b ? b : h;

	for (int metric = CMP_SELF; metric <= CMP_TOTAL; metric++) {
		struct cmp_row *row = &r->rows[r->n_rows];
		struct side_stats sb = side_stats(bs, b, metric), sh = side_stats(hs, h, metric);

		if (sb.x == 0 && sh.x == 0)
			continue; /* e.g. no self samples on either side */
		memset(row, 0, sizeof(*row));
		row->name = any->name;
		row->module = any->module;
		row->kind = any->kind;
		row->presence = b && h ? CMP_BOTH : b ? CMP_BASE_ONLY : CMP_HEAD_ONLY;
		row->metric = metric;
		fill_row(row, &sb, &sh, r->assumed_dispersion);
		row->tested = sb.x + sh.x >= o->min_samples;
		r->n_rows++;
	}
}

static bool side_ok(const struct cmp_side *s)
{
	if (!s || !s->samples || (s->n && !s->in))
		return false;
	if (s->n_runs < 2)
		return true;
	if (!s->run_samples)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (!s->in[i].run_self || !s->in[i].run_total)
			return false;
	return true;
}

int cmp_compare_sides(const struct cmp_side *bs, const struct cmp_side *hs,
		      const struct cmp_options *opts, struct cmp_report **ret_report)
{
	struct keyed *kb = NULL, *kh = NULL;
	struct cmp_report *r = NULL;
	size_t i = 0, j = 0, n_base, n_head;
	int err = -ENOMEM;

	if (!side_ok(bs) || !side_ok(hs) || !opts || opts->alpha <= 0 || opts->alpha >= 1)
		return -EINVAL;
	n_base = bs->n;
	n_head = hs->n;
	r = calloc(1, sizeof(*r));
	kb = sorted_keys(bs->in, n_base);
	kh = sorted_keys(hs->in, n_head);
	if (!r || !kb || !kh)
		goto fail;
	r->rows = calloc(2 * (n_base + n_head) + 1, sizeof(*r->rows));
	if (!r->rows)
		goto fail;
	r->base_samples = bs->samples;
	r->head_samples = hs->samples;
	r->base_runs = bs->n_runs > 1 ? bs->n_runs : 1;
	r->head_runs = hs->n_runs > 1 ? hs->n_runs : 1;
	r->dispersion_assumed = r->base_runs == 1 && r->head_runs == 1;
	/* Each side's run wanders by w p(1-p): the difference by twice that,
	 * against p(1-p)(1/n1 + 1/n2) of sampling noise. */
	r->assumed_dispersion = opts->one_run_dispersion >= 1 ? opts->one_run_dispersion
		: 1 + 2 * fmax(0, opts->one_run_wander) /
			  (1.0 / (double)bs->samples + 1.0 / (double)hs->samples);

	while (i < n_base || j < n_head) {
		int c = i == n_base ? 1 : j == n_head ? -1 : cmp_keyed(&kb[i], &kh[j]);

		if (c == 0)
			add_rows(r, bs, kb[i++].in, hs, kh[j++].in, opts);
		else if (c < 0)
			add_rows(r, bs, kb[i++].in, hs, NULL, opts);
		else
			add_rows(r, bs, NULL, hs, kh[j++].in, opts);
	}
	err = decide(r, opts);
	if (err)
		goto fail;
	free(kb);
	free(kh);
	*ret_report = r;
	return 0;
fail:
	free(kb);
	free(kh);
	cmp_report_free(r);
	return err;
}

int cmp_compare(const struct cmp_input *base, size_t n_base, uint64_t base_samples,
		const struct cmp_input *head, size_t n_head, uint64_t head_samples,
		const struct cmp_options *opts, struct cmp_report **ret_report)
{
	struct cmp_side b = { .in = base, .n = n_base, .samples = base_samples };
	struct cmp_side h = { .in = head, .n = n_head, .samples = head_samples };

	return cmp_compare_sides(&b, &h, opts, ret_report);
}

void cmp_report_free(struct cmp_report *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r);
}
