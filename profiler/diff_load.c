/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_load.c — one side of `ember diff`: the profile opened
 * (query_open_profile: an Ember database, or pprof imported), narrowed by
 * its range and filter, its tree and its function table from the storage
 * API (store_tree__top: the self and total report and the web server
 * show); with two or more runs (the label "run"), each run's tree and
 * every function's self and total in it, for the run-to-run dispersion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diff_load.h"
#include "query.h"

void diff_side__free(struct diff_side *s)
{
	free(s->run_samples);
	free(s->run_counts);
	free(s->in);
	store_tree__free(s->tree);
}

/* The function table of a side: the storage API's (store_tree__top),
 * the same self and total report and the web server show. */
static int function_table(const struct store_tree *t, struct cmp_input **ret_in, size_t *ret_n)
{
	struct store_top_entry *e = NULL;
	struct cmp_input *in;
	size_t n = 0;
	int err;

	err = store_tree__top(t, &e, &n);
	if (err)
		return err;
	in = calloc(n ? n : 1, sizeof(*in));
	if (!in) {
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		in[i] = (struct cmp_input){ .name = e[i].name, .module = e[i].module,
					    .kind = e[i].kind, .self = e[i].self,
					    .total = e[i].total };
	free(e);
	*ret_in = in;
	*ret_n = n;
	return 0;
}

static int str_cmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* A function's key: (name, module, kind). */
static int input_key_cmp(const struct cmp_input *a, const struct cmp_input *b)
{
	int c = strcmp(a->name, b->name);

	if (!c)
		c = str_cmp0(a->module, b->module);
	if (!c)
		c = (a->kind > b->kind) - (a->kind < b->kind);
	return c;
}

static int cmp_input_by_key(const void *x, const void *y)
{
	return input_key_cmp(x, y);
}

static int cmp_input_ptr_by_key(const void *x, const void *y)
{
	return input_key_cmp(*(const struct cmp_input *const *)x,
			     *(const struct cmp_input *const *)y);
}

/* "FILTER,run=VALUE" (VALUE quoted), the filter of one run. */
static char *run_filter(const char *filter, const char *value)
{
	size_t n = (filter ? strlen(filter) : 0) + 2 * strlen(value) + 16;
	char *f = malloc(n), *p;

	if (!f)
		return NULL;
	p = f + snprintf(f, n, "%s%srun=\"", filter ? filter : "", filter && *filter ? "," : "");
	for (const char *v = value; *v; v++) {
		if (*v == '"' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	strcpy(p, "\"");
	return f;
}

/*
 * The runs of a side: the values of the label "run" (record --repeat sets
 * run=1..N) in the side's range and filter. With two or more, each run's
 * tree gives every function's self and total in that run, matched to the
 * side's functions by key (both sorted by it, then merged). One run, or
 * none labelled: s->n_runs stays 0.
 */
static int load_runs(const char *what, const char *path, struct store_db *db,
		     struct store_query *q, const char *filter, struct diff_side *s)
{
	struct store_label_value *v = NULL;
	const struct cmp_input **by_key = NULL;
	size_t nv = 0;
	int err;

	err = store_db__label_values(db, q, "run", &v, &nv);
	if (err) {
		cli_error("cannot read the runs of the %s profile %s: %s (%s)", what, path,
			  store_strerror(err), store_db__errmsg(db));
		return err;
	}
	if (nv < 2)
		goto out;
	s->run_samples = calloc(nv, sizeof(*s->run_samples));
	s->run_counts = calloc(2 * (s->n ? s->n : 1) * nv, sizeof(*s->run_counts));
	by_key = calloc(s->n ? s->n : 1, sizeof(*by_key));
	if (!s->run_samples || !s->run_counts || !by_key) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->n; i++)
		by_key[i] = &s->in[i];
	qsort(by_key, s->n, sizeof(*by_key), cmp_input_ptr_by_key);
	for (size_t r = 0; r < nv; r++) {
		struct store_filter *flt = NULL;
		struct store_query rq = *q;
		struct store_tree *t = NULL;
		struct cmp_input *in = NULL;
		char *text = run_filter(filter, v[r].value), *msg = NULL;
		size_t n = 0, i = 0;

		err = text ? store_filter__parse(text, &flt, &msg) : -ENOMEM;
		if (err) {
			cli_error("cannot select run '%s' of the %s profile %s: %s", v[r].value, what,
				  path, msg ? msg : strerror(-err));
			free(msg);
			free(text);
			goto fail;
		}
		free(text);
		rq.filter = flt;
		err = store_db__query_tree(db, &rq, &t);
		store_filter__free(flt);
		if (err) {
			cli_error("cannot read run '%s' of the %s profile %s: %s (%s)", v[r].value,
				  what, path, store_strerror(err), store_db__errmsg(db));
			goto fail;
		}
		s->run_samples[r] = store_tree__size(t) ? store_tree__node(t, 0)->total : 0;
		err = function_table(t, &in, &n);
		if (err) {
			store_tree__free(t);
			cli_error("cannot compare the %s profile %s: %s", what, path, strerror(-err));
			goto fail;
		}
		qsort(in, n, sizeof(*in), cmp_input_by_key);
		for (size_t j = 0; j < n; j++) {
			int c = -1;

			while (i < s->n && (c = input_key_cmp(by_key[i], &in[j])) < 0)
				i++;
			if (i < s->n && c == 0) {
				size_t f = (size_t)(by_key[i] - s->in);

				s->run_counts[(2 * f) * nv + r] = in[j].self;
				s->run_counts[(2 * f + 1) * nv + r] = in[j].total;
			}
		}
		free(in);
		store_tree__free(t);
	}
	for (size_t i = 0; i < s->n; i++) {
		s->in[i].run_self = &s->run_counts[(2 * i) * nv];
		s->in[i].run_total = &s->run_counts[(2 * i + 1) * nv];
	}
	s->n_runs = nv;
out:
	free(by_key);
	store_label_values_free(v, nv);
	return 0;
fail:
	free(by_key);
	store_label_values_free(v, nv);
	return err;
}

int diff_side__load(const char *what, const char *path, const char *from, const char *to,
		    const char *filter, const char *prefix, struct diff_side *s)
{
	struct store_filter *flt = NULL;
	struct store_db *db = NULL;
	struct store_query q;
	char *tmp = NULL;
	int err;

	err = query_open_profile(what, path, NULL, &db, &tmp, NULL, NULL);
	if (err)
		return err;
	err = query_from_flags(from, to, filter, prefix, &q, &flt);
	if (!err) {
		err = store_db__query_tree(db, &q, &s->tree);
		if (err)
			cli_error("cannot read the %s profile %s: %s (%s)", what, path,
				  store_strerror(err), store_db__errmsg(db));
	}
	if (!err) {
		s->samples = store_tree__size(s->tree) ? store_tree__node(s->tree, 0)->total : 0;
		if (s->samples == 0 && (err = query_check_range(path, db, &q)) == 0) {
			cli_error("the %s profile %s holds no samples%s: record it again, longer",
				  what, path,
				  from || to || filter ? " in the given range and filter" : "");
			err = -ENODATA;
		}
	}
	if (!err) {
		err = function_table(s->tree, &s->in, &s->n);
		if (err)
			cli_error("cannot compare the %s profile %s: %s", what, path, strerror(-err));
	}
	if (!err)
		err = load_runs(what, path, db, &q, filter, s);
	store_filter__free(flt);
	store_db__close(db);
	if (tmp) {
		cli_remove_db(tmp);
		free(tmp);
	}
	return err;
}
