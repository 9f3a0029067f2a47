/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_args.c — `ember record`'s command line: --help's text and the
 * parsing of every option into struct record_args, each bad value named
 * in one message (cli_error) before anything is loaded or written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
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
		"      --stack-map-entries N   stacks per kernel map set (default: 16 s of\n"
		"                        samples on every CPU, 8192 to 131072)\n"
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
		"                        kernel's symbols for this boot, the kernel types\n"
		"                        the BPF programs need) in DIR (default\n"
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

static int parse_pids(const char *arg, const struct cli_flag *f)
{
	struct record_args *a = f->to;
	char *copy = strdup(arg), *save = NULL, *tok;
	int err = 0;

	if (!copy) {
		cli_error("out of memory");
		return -ENOMEM;
	}
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

/* --cache-dir DIR, or 'none' (stored as ""). */
static int parse_cache_dir(const char *arg, const struct cli_flag *f)
{
	if (!*arg) {
		cli_error("--cache-dir expects a directory, or 'none'");
		return -EINVAL;
	}
	*(const char **)f->to = strcmp(arg, "none") == 0 ? "" : arg;
	return 0;
}

int record_args__parse(int argc, char **argv, struct record_args *a)
{
	const struct cli_flag flags[] = {
		CLI_FREQ(&a->freq),
		CLI_NAME("output", 'o', &a->output, "a file name"),
		CLI_CALL("pid", 'p', parse_pids, a),
		CLI_SET("all", 'a', &a->all),
		CLI_U64("duration", 'd', &a->duration_s, 1, 365ULL * 86400),
		CLI_FLUSH(&a->flush_s),
		CLI_SET("idle", 0, &a->idle),
		CLI_U32("repeat", 'r', &a->repeat, 1, 100000),
		/* in the order of enum sampler_unwind */
		CLI_CHOICE("unwind", 'u', &a->unwind, "unwinding mode", "fp", "dwarf", "auto"),
		CLI_U32("stack-snapshot", 0, &a->snapshot_bytes, 512, SAMPLER_MAX_SNAPSHOT),
		CLI_DOUBLE("threshold", 't', &a->threshold_pp, 0, 100, true),
		CLI_U32("stack-map-entries", 0, &a->stack_entries, 1, 1 << 20),
		CLI_U32("counts-map-entries", 0, &a->counts_entries, 1, 1 << 22),
		CLI_SET("no-demangle", 0, &a->no_demangle),
		CLI_SET("no-python", 0, &a->no_python),
		CLI_SET("bpf-path-stats", 0, &a->bpf_path_stats),
		CLI_U64("symbolizer-memory", 0, &a->symbolizer_mb, 1, 1 << 20),
		CLI_CALL("cache-dir", 0, parse_cache_dir, &a->cache_dir),
		CLI_LABEL(a->labels),
		CLI_SET("append", 'A', &a->append),
		CLI_FILE_FLAGS(&a->files),
	};
	int first;

	_Static_assert(SAMPLER_UNWIND_FP == 0 && SAMPLER_UNWIND_DWARF == 1 &&
		       SAMPLER_UNWIND_AUTO == 2, "--unwind's choices are in the enum's order");
	a->freq = RECORD_DEFAULT_FREQ;
	a->output = RECORD_DEFAULT_OUTPUT;
	a->flush_s = 10;
	a->repeat = 1;
	a->threshold_pp = 1.0;
	a->unwind = SAMPLER_UNWIND_AUTO;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), CLI_FLAGS_IN_ORDER,
				 record_usage);
	if (first < 0)
		return -EINVAL;
	if (first < argc)
		a->command = &argv[first];
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
