/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_args.c — `ember diff`'s command line: --help's text and the
 * parsing of its flags into struct diff_args (diff_args.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "diff_args.h"

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

int diff_args__parse(int argc, char **argv, struct diff_args *a)
{
	const struct cli_flag flags[] = {
		CLI_DOUBLE("threshold", 't', &a->cmp.threshold_pp, 0, 100, false),
		CLI_DOUBLE("alpha", 'a', &a->cmp.alpha, 0, 0.5, true),
		CLI_U64("min-samples", 'm', &a->cmp.min_samples, 1, UINT32_MAX),
		CLI_DOUBLE("dispersion", 'd', &a->cmp.one_run_dispersion, 1, 1e6, false),
		CLI_CHOICE("format", 'f', &a->format, "format", "text", "markdown", "json"),
		CLI_OUTPUT(&a->output),
		CLI_LIMIT(&a->limit),
		CLI_TEXT("html", 0, &a->html),
		CLI_RANGE(&a->from, &a->to, &a->filter),
		CLI_TEXT("base-from", 0, &a->base_from),
		CLI_TEXT("base-to", 0, &a->base_to),
		CLI_TEXT("base-filter", 0, &a->base_filter),
		CLI_GROUP(&a->files),
	};
	int first;

	a->cmp.threshold_pp = 1.0;
	a->cmp.alpha = 0.05;
	a->cmp.min_samples = 10;
	a->cmp.one_run_wander = CMP_ONE_RUN_WANDER;
	a->limit = 20;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), 0, diff_usage);
	if (first < 0)
		return -EINVAL;
	if (argc - first != 2) {
		cli_error("give two profiles: ember diff BASE HEAD");
		return -EINVAL;
	}
	a->base = argv[first];
	a->head = argv[first + 1];
	return 0;
}
