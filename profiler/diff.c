/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff.c — `ember diff BASE HEAD`: did this change make anything slower, and
 * where. Reads both profiles through the storage API, compares every
 * function's share of samples (compare.c), prints a report for a terminal,
 * a pull request (Markdown) or a machine (JSON), and exits 0 when nothing
 * regressed, 1 when something did, 2 on a usage or input error, so a CI job
 * can act on it. This file holds the order of work and the exit status;
 * diff_args.c the flags, diff_load.c each side, diff_report.c the report.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "diff_args.h"
#include "diff_load.h"
#include "diff_report.h"

#define EXIT_REGRESSION 1

int cmd_diff(int argc, char **argv)
{
	struct diff_args a = {0};
	struct diff_side base = {0}, head = {0};
	struct cmp_report *r = NULL;
	FILE *out = stdout;
	int err, status = EXIT_USAGE;

	if (diff_args__parse(argc, argv, &a)) {
		cli_usage_hint("diff");
		return EXIT_USAGE;
	}
	/* Outputs that cannot be written fail before the work. */
	if ((a.output && cli_file_check(a.output, CLI_FILE_OUTPUT, &a.files)) ||
	    (a.html && cli_file_check(a.html, CLI_FILE_OUTPUT, &a.files)))
		goto out;
	if (diff_side__load("base", a.base, a.base_from ? a.base_from : a.from,
		      a.base_to ? a.base_to : a.to, a.base_filter ? a.base_filter : a.filter,
		      a.base_from || a.base_to || a.base_filter ? "base-" : "", &base) ||
	    diff_side__load("head", a.head, a.from, a.to, a.filter, "", &head))
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
		diff_report__json(out, &a, r);
	else if (a.format == DIFF_MARKDOWN)
		diff_report__markdown(out, &a, r);
	else
		diff_report__text(out, &a, r);
	if (fflush(out) != 0 || ferror(out)) {
		cli_error("cannot write the report: %s", strerror(errno));
		goto out;
	}
	if (a.html) {
		err = diff_report__html(&a, &base, &head, r);
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
	diff_side__free(&base);
	diff_side__free(&head);
	return status;
}
