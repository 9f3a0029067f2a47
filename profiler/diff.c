/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff.c — `ember diff BASE HEAD`: did this change make anything slower, and
 * where. Reads both profiles through the storage API, compares every
 * function's share of samples (compare.c), prints a report for a terminal,
 * a pull request (Markdown) or a machine (JSON), and exits 0 when nothing
 * regressed, 1 when something did, 2 on a usage or input error, so a CI job
 * can act on it.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "compare.h"
#include "query.h"
#include "ember_config.h"
#include "storage.h"
#include "web.h"

#define EXIT_REGRESSION 1

enum diff_format { DIFF_TEXT, DIFF_MARKDOWN, DIFF_JSON };

struct diff_args {
	const char *base, *head;
	struct cmp_options cmp;
	enum diff_format format;
	const char *output;
	const char *html;
	uint64_t limit;
	/* Ranges and filters: head's, and base's (defaulting to head's). */
	const char *from, *to, *filter;
	const char *base_from, *base_to, *base_filter;
	struct cli_file_opts files; /* --group */
};

/* One side, loaded: the tree keeps the strings the inputs borrow. With
 * several runs (values of the label "run"), each function's count per run
 * (run_counts: self then total, n_runs each) and each run's samples. */
struct side {
	struct store_tree *tree;
	struct cmp_input *in;
	size_t n;
	uint64_t samples;
	size_t n_runs;
	uint64_t *run_samples;
	uint64_t *run_counts;
};

static void diff_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember diff BASE HEAD [OPTIONS]\n"
		"\n"
		"Compare two profiles function by function. Each is a database from ember\n"
		"record, a pprof file (gzipped or not) or the fleet store\n"
		"(clickhouse://[USER@]HOST:PORT/DATABASE, as ember report):\n"
		"each function's share of samples, self and total, so run lengths do not\n"
		"matter. A change is a regression when it is statistically significant\n"
		"(two-proportion test, Holm-corrected over all functions) and larger than\n"
		"the threshold. The test allows for run-to-run noise: a profile recorded\n"
		"with record --repeat keeps its runs apart (label run), and the spread of\n"
		"each function's share between them sets its test (a t test over the\n"
		"runs); with one run per side, the assumed --dispersion does.\n"
		"\n"
		"Exit status: 0 no regression, 1 at least one regression, 2 usage or input\n"
		"error. Improvements are reported and never fail.\n"
		"\n"
		"Options:\n"
		"  -t, --threshold PCT   smallest change that matters, in percentage points\n"
		"                        of share (default 1.0)\n"
		"  -a, --alpha A         family-wise significance level (default 0.05)\n"
		"  -m, --min-samples N   test only functions with N samples on both sides\n"
		"                        together (default 10)\n"
		"  -d, --dispersion D    run-to-run noise assumed when neither profile has\n"
		"                        repeated runs, as variance over sampling noise's\n"
		"                        (1: sampling noise only); by default each share\n"
		"                        is taken to wander between runs by %g p(1-p),\n"
		"                        which is D = 1 + %g x samples per side\n"
		"  -f, --format FORMAT   text (default), markdown or json\n"
		"  -o, --output FILE     write the report to FILE\n"
		"      --html FILE       also write a self-contained HTML report: the\n"
		"                        differential flame graph (red grew, blue shrank)\n"
		"                        and the table of changes; opens without a server\n"
		"      --from T, --to T, --filter EXPR\n"
		"                        narrow both profiles (as in ember report)\n"
		"      --base-from T, --base-to T, --base-filter EXPR\n"
		"                        narrow the base differently (e.g. two time ranges\n"
		"                        of one agent database: ember diff DB DB ...)\n"
		"  -n, --limit N         text/markdown: list at most N rows per section\n"
		"                        (default 20, 0 = all)\n"
		GROUP_OPTION_HELP
		"  -h, --help            show this help\n", CMP_ONE_RUN_WANDER, CMP_ONE_RUN_WANDER);
}

static int parse_args(int argc, char **argv, struct diff_args *a)
{
	static const struct option longopts[] = {
		{ "threshold", required_argument, NULL, 't' },
		{ "alpha", required_argument, NULL, 'a' },
		{ "min-samples", required_argument, NULL, 'm' },
		{ "dispersion", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'n' },
		{ "html", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "filter", required_argument, NULL, 'L' },
		{ "base-from", required_argument, NULL, 'B' },
		{ "base-to", required_argument, NULL, 'E' },
		{ "base-filter", required_argument, NULL, 'R' },
		{ "group", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	a->cmp.threshold_pp = 1.0;
	a->cmp.alpha = 0.05;
	a->cmp.min_samples = 10;
	a->cmp.one_run_wander = CMP_ONE_RUN_WANDER;
	a->limit = 20;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":t:a:m:d:f:o:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_parse_double("--threshold", optarg, 0, 100, false, &a->cmp.threshold_pp))
				return -EINVAL;
			break;
		case 'a':
			if (cli_parse_double("--alpha", optarg, 0, 0.5, true, &a->cmp.alpha))
				return -EINVAL;
			break;
		case 'm':
			if (cli_parse_uint("--min-samples", optarg, 1, UINT32_MAX, &a->cmp.min_samples))
				return -EINVAL;
			break;
		case 'd':
			if (cli_parse_double("--dispersion", optarg, 1, 1e6, false,
					     &a->cmp.one_run_dispersion))
				return -EINVAL;
			break;
		case 'f':
			if (!strcmp(optarg, "text")) {
				a->format = DIFF_TEXT;
			} else if (!strcmp(optarg, "markdown")) {
				a->format = DIFF_MARKDOWN;
			} else if (!strcmp(optarg, "json")) {
				a->format = DIFF_JSON;
			} else {
				cli_error("unknown format '%s': use text, markdown or json", optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'n':
			if (cli_parse_uint("--limit", optarg, 0, UINT32_MAX, &a->limit))
				return -EINVAL;
			break;
		case 'H':
			a->html = optarg;
			break;
		case 'G':
			if (cli_parse_group(optarg, &a->files))
				return -EINVAL;
			break;
		case 'F':
			a->from = optarg;
			break;
		case 'T':
			a->to = optarg;
			break;
		case 'L':
			a->filter = optarg;
			break;
		case 'B':
			a->base_from = optarg;
			break;
		case 'E':
			a->base_to = optarg;
			break;
		case 'R':
			a->base_filter = optarg;
			break;
		case 'h':
			diff_usage(stdout);
			exit(0);
		default:
			return cli_option_error(c, argv);
		}
	}
	if (argc - optind != 2) {
		cli_error("give two profiles: ember diff BASE HEAD");
		return -EINVAL;
	}
	a->base = argv[optind];
	a->head = argv[optind + 1];
	return 0;
}

static void side_free(struct side *s)
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
		     struct store_query *q, const char *filter, struct side *s)
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

static int load_side(const char *what, const char *path, const char *from, const char *to,
		     const char *filter, const char *prefix, struct side *s)
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

static const char *kind_name(int kind)
{
	switch (kind) {
	case STORE_FRAME_KERNEL:
		return "kernel";
	case STORE_FRAME_INLINED:
		return "inlined";
	case STORE_FRAME_JIT:
		return "jit";
	case STORE_FRAME_PYTHON:
		return "python";
	default:
		return "user";
	}
}

static const char *module_file(const char *m)
{
	const char *s = m ? strrchr(m, '/') : NULL;

	return s ? s + 1 : m;
}

static void fmt_p(double p, char *buf, size_t n)
{
	if (p < 1e-16)
		snprintf(buf, n, "<1e-16");
	else if (p < 0.001)
		snprintf(buf, n, "%.1e", p);
	else
		snprintf(buf, n, "%.3f", p);
}

/* What the test knew of run-to-run noise, one sentence. */
static void runs_sentence(FILE *out, const struct diff_args *a, const struct cmp_report *r)
{
	if (r->dispersion_assumed && a->cmp.one_run_dispersion >= 1)
		fprintf(out, "One run per side: the run-to-run noise cannot be seen, so a dispersion "
			"of %g is assumed (--dispersion; record with --repeat to measure it).",
			r->assumed_dispersion);
	else if (r->dispersion_assumed)
		fprintf(out, "One run per side: the run-to-run noise cannot be seen, so a dispersion "
			"of %.1f is assumed (each share taken to wander between runs by %g p(1-p), "
			"as much as real programs do; record with --repeat to measure it).",
			r->assumed_dispersion, a->cmp.one_run_wander);
	else
		fprintf(out, "Runs: base %zu, head %zu; each function's run-to-run noise is "
			"measured from them (t test on %zu degrees of freedom).",
			r->base_runs, r->head_runs, r->base_runs + r->head_runs - 2);
}

/* The spread of a function's share between runs, or "-" with one run. */
static void fmt_run_sd(const struct cmp_row *row, char *buf, size_t n)
{
	if (isfinite(row->run_sd_pp))
		snprintf(buf, n, "%.2f", row->run_sd_pp);
	else
		snprintf(buf, n, "-");
}

enum section {
	SEC_REG_SELF, SEC_REG_TOTAL, SEC_IMP_SELF, SEC_IMP_TOTAL,
	SEC_HEAD_ONLY, SEC_BASE_ONLY, SEC__COUNT
};

static bool in_section(const struct cmp_row *r, enum section s, const struct cmp_options *o)
{
	switch (s) {
	case SEC_REG_SELF:
		return r->regression && r->metric == CMP_SELF;
	case SEC_REG_TOTAL:
		return r->regression && r->metric == CMP_TOTAL && !r->echoes_self;
	case SEC_IMP_SELF:
		return r->improvement && r->metric == CMP_SELF;
	case SEC_IMP_TOTAL:
		return r->improvement && r->metric == CMP_TOTAL && !r->echoes_self;
	case SEC_HEAD_ONLY:
		/* New functions worth a look, not already listed above. */
		return r->presence == CMP_HEAD_ONLY && r->metric == CMP_SELF &&
		       !r->regression && r->head_count >= o->min_samples;
	case SEC_BASE_ONLY:
		return r->presence == CMP_BASE_ONLY && r->metric == CMP_SELF &&
		       !r->improvement && r->base_count >= o->min_samples;
	default:
		return false;
	}
}

static const char *const section_title[SEC__COUNT] = {
	"Regressions: slower in their own code (self)",
	"Regressions: slower through their callees (total)",
	"Improvements: faster in their own code (self)",
	"Improvements: faster through their callees (total)",
	"Only in head", "Only in base",
};

static size_t section_size(const struct cmp_report *r, enum section s, const struct cmp_options *o)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_rows; i++)
		n += in_section(&r->rows[i], s, o);
	return n;
}

static void print_text(FILE *out, const struct diff_args *a, const struct cmp_report *r)
{
	fprintf(out, "base %s: %llu samples; head %s: %llu samples\n", a->base,
		(unsigned long long)r->base_samples, a->head, (unsigned long long)r->head_samples);
	fprintf(out, "threshold %.2f points of share, alpha %g, Holm-corrected over %zu tests\n",
		a->cmp.threshold_pp, a->cmp.alpha, r->n_tests);
	runs_sentence(out, a, r);
	fputc('\n', out);
	for (int s = 0; s < SEC__COUNT; s++) {
		size_t shown = 0, n = section_size(r, s, &a->cmp);

		if (!n)
			continue;
		fprintf(out, "\n%s (%zu)\n", section_title[s], n);
		fprintf(out, "  %-6s %8s %8s %8s %8s %7s  %-19s %8s  %s\n", "metric", "base", "head",
			"change", "noise", "run sd", "interval (points)", "p (adj)", "function");
		for (size_t i = 0; i < r->n_rows; i++) {
			const struct cmp_row *row = &r->rows[i];
			const char *mod = module_file(row->module);
			char p[32], ci[48], sd[32];

			if (!in_section(row, s, &a->cmp))
				continue;
			if (a->limit && shown++ >= a->limit) {
				fprintf(out, "  ... %zu more (--limit 0 shows all)\n", n - a->limit);
				break;
			}
			fmt_p(row->p_adjusted, p, sizeof(p));
			snprintf(ci, sizeof(ci), "[%+.2f, %+.2f]", row->ci_low_pp, row->ci_high_pp);
			fmt_run_sd(row, sd, sizeof(sd));
			fprintf(out, "  %-6s %7.2f%% %7.2f%% %+8.2f %8.2f %7s  %-19s %8s  %s%s%s%s\n",
				row->metric == CMP_SELF ? "self" : "total",
				100 * row->base_share, 100 * row->head_share, row->delta_pp,
				row->noise_pp, sd, ci, p,
				row->name, mod ? " [" : "", mod ? mod : "", mod ? "]" : "");
		}
	}
	fprintf(out, "\n%s: %zu regression%s, %zu improvement%s\n",
		r->n_regressions ? "FAIL" : "OK", r->n_regressions,
		r->n_regressions == 1 ? "" : "s", r->n_improvements,
		r->n_improvements == 1 ? "" : "s");
}

/* Markdown table cells must not contain '|' or newlines. */
static void md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputc(' ', out);
		else if (*s == '`')
			fputc('\'', out);
		else
			fputc(*s, out);
	}
}

static void print_markdown(FILE *out, const struct diff_args *a, const struct cmp_report *r)
{
	fprintf(out, "### Ember CPU profile diff: %s\n\n",
		r->n_regressions ? "regressions found" : "no regression");
	fprintf(out, "%zu regression%s, %zu improvement%s. Base: %llu samples, head: %llu samples. "
		"A regression is a rise in a function's share of samples larger than %.2f points "
		"and significant at alpha %g (Holm-corrected over %zu tests).\n",
		r->n_regressions, r->n_regressions == 1 ? "" : "s",
		r->n_improvements, r->n_improvements == 1 ? "" : "s",
		(unsigned long long)r->base_samples, (unsigned long long)r->head_samples,
		a->cmp.threshold_pp, a->cmp.alpha, r->n_tests);
	runs_sentence(out, a, r);
	fputs(" Noise: the standard deviation of the change that sampling and run-to-run "
	      "noise give; run sd: how much the function's share moves between runs.\n", out);
	for (int s = 0; s < SEC__COUNT; s++) {
		size_t shown = 0, n = section_size(r, s, &a->cmp);

		if (!n)
			continue;
		fprintf(out, "\n#### %s (%zu)\n\n", section_title[s], n);
		fprintf(out, "| function | module | metric | base | head | change (points) | noise | run sd | interval | p (adj) |\n");
		fprintf(out, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n");
		for (size_t i = 0; i < r->n_rows; i++) {
			const struct cmp_row *row = &r->rows[i];
			char p[32], sd[32];

			if (!in_section(row, s, &a->cmp))
				continue;
			if (a->limit && shown++ >= a->limit) {
				fprintf(out, "\n%zu more not shown.\n", n - a->limit);
				break;
			}
			fmt_p(row->p_adjusted, p, sizeof(p));
			fputs("| `", out);
			md_cell(out, row->name);
			fputs("` | ", out);
			md_cell(out, module_file(row->module));
			fmt_run_sd(row, sd, sizeof(sd));
			fprintf(out, " | %s | %.2f%% | %.2f%% | %+.2f | ±%.2f | %s | [%+.2f, %+.2f] | %s |\n",
				row->metric == CMP_SELF ? "self" : "total",
				100 * row->base_share, 100 * row->head_share, row->delta_pp,
				row->noise_pp, sd, row->ci_low_pp, row->ci_high_pp, p);
		}
	}
}

static void json_num(FILE *out, const char *key, double v, bool comma)
{
	if (isfinite(v))
		fprintf(out, "\"%s\":%.17g%s", key, v, comma ? "," : "");
	else
		fprintf(out, "\"%s\":null%s", key, comma ? "," : "");
}

static void print_json(FILE *out, const struct diff_args *a, const struct cmp_report *r)
{
	static const char *const presence[] = { "both", "base_only", "head_only" };

	fputs("{\"version\":1,\"base\":{\"path\":", out);
	common_json_string(out, a->base);
	fprintf(out, ",\"samples\":%llu,\"runs\":%zu},\"head\":{\"path\":",
		(unsigned long long)r->base_samples, r->base_runs);
	common_json_string(out, a->head);
	fprintf(out, ",\"samples\":%llu,\"runs\":%zu},\"dispersion_assumed\":%s,",
		(unsigned long long)r->head_samples, r->head_runs,
		r->dispersion_assumed ? "true" : "false");
	json_num(out, "assumed_dispersion", r->dispersion_assumed ? r->assumed_dispersion : NAN,
		 true);
	json_num(out, "threshold_pp", a->cmp.threshold_pp, true);
	json_num(out, "alpha", a->cmp.alpha, true);
	fprintf(out, "\"min_samples\":%llu,\"tests\":%zu,\"regressions\":%zu,\"improvements\":%zu,"
		"\"changes\":[", (unsigned long long)a->cmp.min_samples, r->n_tests,
		r->n_regressions, r->n_improvements);
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct cmp_row *row = &r->rows[i];

		fputs(i ? ",{\"function\":" : "{\"function\":", out);
		common_json_string(out, row->name);
		fputs(",\"module\":", out);
		common_json_string(out, row->module);
		fprintf(out, ",\"kind\":\"%s\",\"metric\":\"%s\",\"presence\":\"%s\","
			"\"base_count\":%llu,\"head_count\":%llu,",
			kind_name(row->kind), row->metric == CMP_SELF ? "self" : "total",
			presence[row->presence], (unsigned long long)row->base_count,
			(unsigned long long)row->head_count);
		json_num(out, "base_share", row->base_share, true);
		json_num(out, "head_share", row->head_share, true);
		json_num(out, "delta_pp", row->delta_pp, true);
		json_num(out, "ci_low_pp", row->ci_low_pp, true);
		json_num(out, "ci_high_pp", row->ci_high_pp, true);
		json_num(out, "p_value", row->p_value, true);
		json_num(out, "p_adjusted", row->p_adjusted, true);
		json_num(out, "dispersion", row->dispersion, true);
		json_num(out, "noise_pp", row->noise_pp, true);
		json_num(out, "run_sd_pp", row->run_sd_pp, true);
		fprintf(out, "\"tested\":%s,\"regression\":%s,\"improvement\":%s}",
			row->tested ? "true" : "false", row->regression ? "true" : "false",
			row->improvement ? "true" : "false");
	}
	fputs("]}\n", out);
}

/* The table of changes above the flame graph in the HTML report. */
static void html_intro(FILE *out, const struct diff_args *a, const struct cmp_report *r)
{
	fputs("<style>#diff-report td,#diff-report th{padding:2px 10px}"
	      "#diff-report tbody tr:nth-child(odd){background:rgba(0,0,0,.035)}</style>"
	      "<section id=\"diff-report\" style=\"font:13px system-ui,sans-serif;"
	      "padding:10px 16px;border-bottom:1px solid #ccc\">", out);
	fprintf(out, "<h2 style=\"margin:0 0 6px\">%s: %zu regression%s, %zu improvement%s</h2>",
		r->n_regressions ? "Regressions found" : "No regression", r->n_regressions,
		r->n_regressions == 1 ? "" : "s", r->n_improvements,
		r->n_improvements == 1 ? "" : "s");
	fputs("<p style=\"margin:0 0 6px\">Base <code>", out);
	web_html_escape(out, a->base);
	fprintf(out, "</code>: %llu samples; head <code>", (unsigned long long)r->base_samples);
	web_html_escape(out, a->head);
	fprintf(out, "</code>: %llu samples. Threshold %.2f points of share, alpha %g, "
		"Holm-corrected over %zu tests. In the flame graph below, red grew and "
		"blue shrank (share of samples, head vs base). ",
		(unsigned long long)r->head_samples, a->cmp.threshold_pp, a->cmp.alpha, r->n_tests);
	runs_sentence(out, a, r);
	fputs("</p>", out);
	fputs("<table id=\"diff-table\" style=\"border-collapse:collapse\"><thead><tr>"
	      "<th align=left>verdict</th><th align=left>function</th><th align=left>module</th>"
	      "<th>metric</th><th align=right>base</th><th align=right>head</th>"
	      "<th align=right>change (points)</th><th align=right>noise</th><th>interval</th>"
	      "<th align=right>p (adj)</th>"
	      "</tr></thead><tbody>", out);
	for (int sec = 0; sec < SEC__COUNT; sec++) {
		for (size_t i = 0; i < r->n_rows; i++) {
			const struct cmp_row *row = &r->rows[i];
			char p[32];

			if (!in_section(row, sec, &a->cmp))
				continue;
			fmt_p(row->p_adjusted, p, sizeof(p));
			fprintf(out, "<tr class=\"%s\" style=\"color:%s\"><td>%s</td><td><code>",
				row->regression ? "regression" : row->improvement ? "improvement" : "other",
				row->regression ? "#b00" : row->improvement ? "#036" : "#333",
				row->regression ? "regression" : row->improvement ? "improvement"
				: row->presence == CMP_HEAD_ONLY ? "only in head" : "only in base");
			web_html_escape(out, row->name);
			fputs("</code></td><td>", out);
			web_html_escape(out, module_file(row->module));
			fprintf(out, "</td><td>%s</td><td align=right>%.2f%%</td><td align=right>%.2f%%</td>"
				"<td align=right>%+.2f</td><td align=right>&plusmn;%.2f</td>"
				"<td>[%+.2f, %+.2f]</td><td align=right>%s</td></tr>",
				row->metric == CMP_SELF ? "self" : "total", 100 * row->base_share,
				100 * row->head_share, row->delta_pp, row->noise_pp, row->ci_low_pp,
				row->ci_high_pp, p);
		}
	}
	fputs("</tbody></table></section>", out);
}

static int write_html(const struct diff_args *a, const struct side *base,
		      const struct side *head, const struct cmp_report *r)
{
	struct web_tree_range range = {0};
	char *data = NULL, *intro = NULL;
	size_t data_len = 0, intro_len = 0;
	FILE *d, *in, *out;
	int err;

	d = open_memstream(&data, &data_len);
	in = open_memstream(&intro, &intro_len);
	if (!d || !in) {
		if (d)
			fclose(d);
		if (in)
			fclose(in);
		free(data);
		free(intro);
		return -ENOMEM;
	}
	fputs("{\"diff\":", d);
	err = web_write_tree_json(d, head->tree, base->tree, &range);
	if (!err) {
		fputs(",\"tree\":", d);
		err = web_write_tree_json(d, head->tree, NULL, &range);
	}
	fprintf(d, ",\"meta\":{\"version\":\"%s\",\"first\":0,\"last\":0,\"step\":10,"
		"\"samples\":%llu,\"processes\":0,\"drops\":[],\"meta\":{}},"
		"\"timeline\":{\"from\":0,\"to\":0,\"step\":10,\"samples\":[],\"drops\":[]},"
		"\"labels\":{\"labels\":[]}}", EMBER_VERSION, (unsigned long long)r->head_samples);
	html_intro(in, a, r);
	fclose(d);
	fclose(in);
	if (err)
		goto out;
	out = cli_output_open(a->html, &a->files);
	if (!out) {
		err = -ECANCELED; /* said why */
		goto out;
	}
	err = web_write_static_report(out, "Ember diff", data, "diff=1", intro);
	if (fclose(out) != 0 && !err)
		err = -errno;
out:
	free(data);
	free(intro);
	return err;
}

int cmd_diff(int argc, char **argv)
{
	struct diff_args a = {0};
	struct side base = {0}, head = {0};
	struct cmp_report *r = NULL;
	FILE *out = stdout;
	int err, status = EXIT_USAGE;

	if (parse_args(argc, argv, &a)) {
		cli_usage_hint("diff");
		return EXIT_USAGE;
	}
	/* Outputs that cannot be written fail before the work. */
	if ((a.output && cli_file_check(a.output, CLI_FILE_OUTPUT, &a.files)) ||
	    (a.html && cli_file_check(a.html, CLI_FILE_OUTPUT, &a.files)))
		goto out;
	if (load_side("base", a.base, a.base_from ? a.base_from : a.from,
		      a.base_to ? a.base_to : a.to, a.base_filter ? a.base_filter : a.filter,
		      a.base_from || a.base_to || a.base_filter ? "base-" : "", &base) ||
	    load_side("head", a.head, a.from, a.to, a.filter, "", &head))
		goto out;
	err = cmp_compare_sides(&(struct cmp_side){ base.in, base.n, base.samples, base.n_runs,
						    base.run_samples },
				&(struct cmp_side){ head.in, head.n, head.samples, head.n_runs,
						    head.run_samples },
				&a.cmp, &r);
	if (err) {
		cli_error("cannot compare the profiles: %s", strerror(-err));
		goto out;
	}
	if (a.output) {
		out = cli_output_open(a.output, &a.files);
		if (!out) {
			out = stdout;
			goto out;
		}
	}
	if (a.format == DIFF_JSON)
		print_json(out, &a, r);
	else if (a.format == DIFF_MARKDOWN)
		print_markdown(out, &a, r);
	else
		print_text(out, &a, r);
	if (fflush(out) != 0 || ferror(out)) {
		cli_error("cannot write the report: %s", strerror(errno));
		goto out;
	}
	if (a.html) {
		err = write_html(&a, &base, &head, r);
		if (err && err != -ECANCELED)
			cli_error("cannot write the HTML report %s: %s", a.html, strerror(-err));
		if (err) {
			goto out;
		}
	}
	status = r->n_regressions ? EXIT_REGRESSION : 0;
out:
	if (out != stdout && fclose(out) != 0 && status != EXIT_USAGE) {
		cli_error("cannot write %s: %s", a.output, strerror(errno));
		status = EXIT_USAGE;
	}
	cmp_report_free(r);
	side_free(&base);
	side_free(&head);
	return status;
}
