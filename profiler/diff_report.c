/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_report.c — `ember diff`'s report: the verdict's sections
 * (regressions and improvements, self then total; functions only in one
 * side), each row's shares, change, noise, interval and adjusted p, as
 * text for a terminal, Markdown for a pull request, JSON for a machine,
 * and the web UI's page with the diff tree inline (--html).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "diff_report.h"
#include "ember_config.h"
#include "web.h"

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

void diff_report__text(FILE *out, const struct diff_args *a, const struct cmp_report *r)
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

void diff_report__markdown(FILE *out, const struct diff_args *a, const struct cmp_report *r)
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

void diff_report__json(FILE *out, const struct diff_args *a, const struct cmp_report *r)
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

int diff_report__html(const struct diff_args *a, const struct diff_side *base,
		      const struct diff_side *head, const struct cmp_report *r)
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
