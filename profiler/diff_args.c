/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_args.c — `ember diff`'s command line: --help's text and the
 * parsing of its flags into struct diff_args (diff_args.h).
 */
#include <errno.h>
#include <getopt.h>
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
