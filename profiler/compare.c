/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compare.c — two-proportion tests with Holm's correction over every
 * function of two profiles (see compare.h for the method and why).
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

static void fill_row(struct cmp_row *r, uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2)
{
	double p1 = (double)x1 / n1, p2 = (double)x2 / n2;
	double pool = (double)(x1 + x2) / (double)(n1 + n2);
	double se0 = sqrt(pool * (1 - pool) * (1.0 / n1 + 1.0 / n2));

	r->base_count = x1;
	r->head_count = x2;
	r->base_share = p1;
	r->head_share = p2;
	r->delta_pp = 100.0 * (p2 - p1);
	r->p_value = se0 > 0 ? erfc(fabs(p2 - p1) / se0 / M_SQRT2) : 1.0;
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

	zc = cmp_z_upper(o->alpha / (2.0 * (m ? m : 1)));
	for (size_t i = 0; i < r->n_rows; i++) {
		struct cmp_row *row = &r->rows[i];
		double p1 = row->base_share, p2 = row->head_share;
		double se = sqrt(p1 * (1 - p1) / r->base_samples + p2 * (1 - p2) / r->head_samples);
		bool sig = row->tested && row->p_adjusted < o->alpha;

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

static void add_rows(struct cmp_report *r, const struct cmp_input *b, const struct cmp_input *h,
		     const struct cmp_options *o)
{
	const struct cmp_input *any = b ? b : h;

	for (int metric = CMP_SELF; metric <= CMP_TOTAL; metric++) {
		struct cmp_row *row = &r->rows[r->n_rows];
		uint64_t x1 = b ? (metric == CMP_SELF ? b->self : b->total) : 0;
		uint64_t x2 = h ? (metric == CMP_SELF ? h->self : h->total) : 0;

		if (x1 == 0 && x2 == 0)
			continue; /* e.g. no self samples on either side */
		memset(row, 0, sizeof(*row));
		row->name = any->name;
		row->module = any->module;
		row->kind = any->kind;
		row->presence = b && h ? CMP_BOTH : b ? CMP_BASE_ONLY : CMP_HEAD_ONLY;
		row->metric = metric;
		fill_row(row, x1, r->base_samples, x2, r->head_samples);
		row->tested = x1 + x2 >= o->min_samples;
		r->n_rows++;
	}
}

int cmp_compare(const struct cmp_input *base, size_t n_base, uint64_t base_samples,
		const struct cmp_input *head, size_t n_head, uint64_t head_samples,
		const struct cmp_options *opts, struct cmp_report **ret_report)
{
	struct keyed *kb = NULL, *kh = NULL;
	struct cmp_report *r = NULL;
	size_t i = 0, j = 0;
	int err = -ENOMEM;

	if (!base_samples || !head_samples || !opts || opts->alpha <= 0 || opts->alpha >= 1)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	kb = sorted_keys(base, n_base);
	kh = sorted_keys(head, n_head);
	if (!r || !kb || !kh)
		goto fail;
	r->rows = calloc(2 * (n_base + n_head) + 1, sizeof(*r->rows));
	if (!r->rows)
		goto fail;
	r->base_samples = base_samples;
	r->head_samples = head_samples;

	while (i < n_base || j < n_head) {
		int c = i == n_base ? 1 : j == n_head ? -1 : cmp_keyed(&kb[i], &kh[j]);

		if (c == 0)
			add_rows(r, kb[i++].in, kh[j++].in, opts);
		else if (c < 0)
			add_rows(r, kb[i++].in, NULL, opts);
		else
			add_rows(r, NULL, kh[j++].in, opts);
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

void cmp_report_free(struct cmp_report *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r);
}
