/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_args.c — `ember record`'s command line: --help's text and the
 * parsing of every option into struct record_args, each bad value named
 * in one message (cli_error) before anything is loaded or written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ember_config.h"
#include "record_args.h"
#include "symbolizer.h"

static void record_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember record [OPTIONS] -- COMMAND [ARGS...]\n"
		"       ember record [OPTIONS] -p PID[,PID...]\n"
		"       ember record [OPTIONS] -a\n"
		"\n"
		"Sample the CPU stacks (kernel and user) of a command and all its\n"
		"descendants, of running processes, or of the whole system, and write\n"
		"them to an SQLite database. Needs root (CAP_BPF and CAP_PERFMON).\n"
		"With a command, ember exits with the command's exit status.\n"
		"\n"
		"Options:\n"
		"  -F, --freq HZ         samples per second on each CPU (default %d)\n"
		"  -o, --output FILE     database to write (default %s; replaced unless\n"
		"                        --append)\n"
		"  -p, --pid PID[,PID]   profile these running processes\n"
		"  -a, --all             profile the whole system (with a command: until\n"
		"                        the command exits)\n"
		"  -d, --duration SECS   stop after this many seconds\n"
		"      --flush SECS      write to the database every SECS seconds\n"
		"                        (default 10); a killed recording keeps every\n"
		"                        completed flush\n"
		"      --idle            also count the idle task (pid 0)\n"
		"  -u, --unwind MODE     how user stacks are walked: fp (frame pointers,\n"
		"                        walked by the kernel), dwarf (a copy of the top\n"
		"                        of the stack, unwound with the binaries' CFI),\n"
		"                        or auto (default): fp for processes whose\n"
		"                        executable keeps frame pointers, dwarf otherwise\n"
		"      --stack-snapshot BYTES  stack copied per dwarf sample (default\n"
		"                        8192, as perf; at most 32768)\n"
		"  -r, --repeat N        run the command N times into the same database, so\n"
		"                        a short benchmark gathers enough samples for\n"
		"                        ember diff (stops at the first failing run);\n"
		"                        each run's samples carry the label run=1..N,\n"
		"                        so that ember diff sees how much runs differ\n"
		"  -t, --threshold PCT   the change, in points of share, the summary says\n"
		"                        how many samples ember diff needs to detect\n"
		"                        (default 1.0)\n"
		"      --stack-map-entries N   stacks per kernel map set (default 8192)\n"
		"      --counts-map-entries N  {process, thread, stacks} keys per kernel map\n"
		"                        set (default 16384); when either fills up, samples\n"
		"                        take a slower path and are still kept\n"
		"      --no-demangle     keep C++ and Rust function names mangled\n"
		"      --bpf-path-stats  measure: time each part of the per-sample BPF\n"
		"                        program and print what each costs (adds two\n"
		"                        clock reads per part; bench/README.md)\n"
		"      --no-python       do not walk CPython's frames: Python processes\n"
		"                        keep their native stacks (the interpreter's)\n"
		"      --symbolizer-memory MB  bound on what the symbolizer keeps of\n"
		"                        binaries (symbols, DWARF, caches; default 256);\n"
		"                        least recently used binaries are unloaded and\n"
		"                        read again when needed\n"
		"      --cache-dir DIR   keep what is costly to derive and the same every\n"
		"                        run (inflated copies of compressed debug files, the\n"
		"                        kernel's symbols for this boot) in DIR (default\n"
		"                        $EMBER_CACHE_DIR, else " SYM_DEFAULT_CACHE_DIR ");\n"
		"                        'none' for no cache\n"
		"  -l, --label K=V       add label K with value V to every sample (repeat\n"
		"                        for more); filter on it with 'ember report\n"
		"                        --filter K=V'. K: letters, digits, '_'; V: no ','\n"
		"  -A, --append          continue in FILE if it is an Ember database\n"
		"                        (after a restart or a crash) instead of\n"
		"                        replacing it\n"
		FILE_OPTIONS_HELP
		"  -h, --help            show this help\n",
		RECORD_DEFAULT_FREQ, RECORD_DEFAULT_OUTPUT);
}

static int parse_pids(const char *arg, struct record_args *a)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (a->n_pids == RECORD_MAX_PIDS) {
			cli_error("-p: at most %d processes", RECORD_MAX_PIDS);
			err = -EINVAL;
			break;
		}
		err = cli_parse_uint("-p", tok, 1, 4194304, &v);
		if (err)
			break;
		a->pids[a->n_pids++] = v;
	}
	if (!err && a->n_pids == 0) {
		cli_error("-p expects a list of process ids, like -p 123,456");
		err = -EINVAL;
	}
	free(copy);
	return err;
}

int record_args__parse(int argc, char **argv, struct record_args *a)
{
	static const struct option longopts[] = {
		{ "freq", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "flush", required_argument, NULL, 'f' },
		{ "idle", no_argument, NULL, 'i' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "unwind", required_argument, NULL, 'u' },
		{ "stack-snapshot", required_argument, NULL, 'B' },
		{ "threshold", required_argument, NULL, 't' },
		{ "stack-map-entries", required_argument, NULL, 'S' },
		{ "counts-map-entries", required_argument, NULL, 'C' },
		{ "no-demangle", no_argument, NULL, 'N' },
		{ "no-python", no_argument, NULL, 'P' },
		{ "bpf-path-stats", no_argument, NULL, 'T' },
		{ "symbolizer-memory", required_argument, NULL, 'Y' },
		{ "cache-dir", required_argument, NULL, 'K' },
		{ "label", required_argument, NULL, 'l' },
		{ "append", no_argument, NULL, 'A' },
		{ "group", required_argument, NULL, 'G' },
		{ "force", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c;

	a->freq = RECORD_DEFAULT_FREQ;
	a->output = RECORD_DEFAULT_OUTPUT;
	a->flush_s = 10;
	a->repeat = 1;
	a->threshold_pp = 1.0;
	a->unwind = SAMPLER_UNWIND_AUTO;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:F:o:p:ad:l:Ah", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (cli_parse_uint("--freq", optarg, 1, 100000, &v))
				return -EINVAL;
			a->freq = v;
			break;
		case 'o':
			if (!*optarg) {
				cli_error("--output expects a file name");
				return -EINVAL;
			}
			a->output = optarg;
			break;
		case 'N':
			a->no_demangle = true;
			break;
		case 'T':
			a->bpf_path_stats = true;
			break;
		case 'Y':
			if (cli_parse_uint("--symbolizer-memory", optarg, 1, 1 << 20, &v))
				return -EINVAL;
			a->symbolizer_mb = v;
			break;
		case 'K':
			if (!*optarg) {
				cli_error("--cache-dir expects a directory, or 'none'");
				return -EINVAL;
			}
			a->cache_dir = strcmp(optarg, "none") == 0 ? "" : optarg;
			break;
		case 'p':
			if (parse_pids(optarg, a))
				return -EINVAL;
			break;
		case 'a':
			a->all = true;
			break;
		case 'd':
			if (cli_parse_uint("--duration", optarg, 1, 365ULL * 86400, &v))
				return -EINVAL;
			a->duration_s = v;
			break;
		case 'f':
			if (cli_parse_uint("--flush", optarg, 1, 3600, &v))
				return -EINVAL;
			a->flush_s = v;
			break;
		case 'i':
			a->idle = true;
			break;
		case 'P':
			a->no_python = true;
			break;
		case 'u':
			if (!strcmp(optarg, "fp")) {
				a->unwind = SAMPLER_UNWIND_FP;
			} else if (!strcmp(optarg, "dwarf")) {
				a->unwind = SAMPLER_UNWIND_DWARF;
			} else if (!strcmp(optarg, "auto")) {
				a->unwind = SAMPLER_UNWIND_AUTO;
			} else {
				cli_error("unknown unwinding mode '%s': use fp, dwarf or auto", optarg);
				return -EINVAL;
			}
			break;
		case 'B':
			if (cli_parse_uint("--stack-snapshot", optarg, 512, SAMPLER_MAX_SNAPSHOT, &v))
				return -EINVAL;
			a->snapshot_bytes = v;
			break;
		case 'r':
			if (cli_parse_uint("--repeat", optarg, 1, 100000, &v))
				return -EINVAL;
			a->repeat = v;
			break;
		case 't':
			if (cli_parse_double("--threshold", optarg, 0, 100, true, &a->threshold_pp))
				return -EINVAL;
			break;
		case 'S':
			if (cli_parse_uint("--stack-map-entries", optarg, 1, 1 << 20, &v))
				return -EINVAL;
			a->stack_entries = v;
			break;
		case 'C':
			if (cli_parse_uint("--counts-map-entries", optarg, 1, 1 << 22, &v))
				return -EINVAL;
			a->counts_entries = v;
			break;
		case 'l':
			if (cli_add_label(optarg, a->labels, sizeof(a->labels)))
				return -EINVAL;
			break;
		case 'A':
			a->append = true;
			break;
		case 'G':
			if (cli_parse_group(optarg, &a->files))
				return -EINVAL;
			break;
		case 'O':
			a->files.force = true;
			break;
		case 'h':
			record_usage(stdout);
			exit(0);
		default:
			return cli_option_error(c, argv);
		}
	}
	if (optind < argc)
		a->command = &argv[optind];
	if (a->command && a->n_pids) {
		cli_error("give either a command or -p, not both");
		return -EINVAL;
	}
	if (a->all && a->n_pids) {
		cli_error("give either -a or -p, not both");
		return -EINVAL;
	}
	if (a->repeat > 1 && !a->command) {
		cli_error("--repeat needs a command to run again");
		return -EINVAL;
	}
	if (a->repeat > 1 && (!strncmp(a->labels, "run=", 4) || strstr(a->labels, ",run="))) {
		cli_error("--label run=...: with --repeat, ember labels each run run=1..N itself");
		return -EINVAL;
	}
	if (!a->command && !a->n_pids && !a->all) {
		cli_error("nothing to profile: give a command after '--', -p PID, or -a");
		return -EINVAL;
	}
	return 0;
}
