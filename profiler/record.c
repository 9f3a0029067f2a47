/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c — `ember record`: profile a command and its descendants, a set of
 * processes, or the whole system, into an SQLite database, then print one
 * summary on stderr. With a command, ember exits with the command's own
 * status so a CI job keeps its meaning.
 *
 * Order of work, chosen so that a failure leaves nothing behind that looks
 * like a recording: check the flags and pids, load the sampler (the step that
 * needs root), create the database, start the command held at a pipe, track
 * it, let it exec; flush every --flush seconds; on exit or signal, a final
 * flush and the metadata that marks the file complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "compare.h"
#include "ember_config.h"
#include "session.h"

#define DEFAULT_FREQ 99
#define DEFAULT_OUTPUT "ember.db"
#define MAX_PIDS 1024

struct record_args {
	unsigned freq;
	const char *output;
	pid_t pids[MAX_PIDS];
	size_t n_pids;
	bool all;
	bool idle;
	uint64_t duration_s;
	unsigned flush_s;
	unsigned stack_entries;
	unsigned counts_entries;
	unsigned repeat;
	double threshold_pp;
	enum sampler_unwind unwind;
	unsigned snapshot_bytes;
	bool bpf_path_stats;
	bool no_demangle;
	bool no_python;
	uint64_t symbolizer_mb;  /* 0: the symbolizer's default bound */
	const char *cache_dir;   /* NULL: the session's default */
	char **command;
	char labels[4096]; /* "k=v,k=v" from --label, "" when none */
	char run_labels[4200]; /* --repeat: labels and this run's run=N */
	bool append;
	struct cli_file_opts files; /* --group, --force */
};

static volatile sig_atomic_t got_stop_signal;
static volatile sig_atomic_t got_sigchld;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_sigchld = 1;
	else
		got_stop_signal = sig;
}

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
		DEFAULT_FREQ, DEFAULT_OUTPUT);
}

static int parse_pids(const char *arg, struct record_args *a)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (a->n_pids == MAX_PIDS) {
			cli_error("-p: at most %d processes", MAX_PIDS);
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

static int parse_args(int argc, char **argv, struct record_args *a)
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

	a->freq = DEFAULT_FREQ;
	a->output = DEFAULT_OUTPUT;
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

/*
 * --repeat: the labels of run number run (--label's, then run=N). Runs
 * continue the numbering of the runs a file --append'ed to holds.
 */
static void set_run_labels(struct record_args *a, struct session *s, unsigned run)
{
	snprintf(a->run_labels, sizeof(a->run_labels), "%s%srun=%u", a->labels,
		 a->labels[0] ? "," : "", run);
	session__set_extra_labels(s, a->run_labels);
}

static unsigned runs_in_file(struct store_db *db)
{
	struct store_label_value *v = NULL;
	struct store_query q;
	unsigned most = 0;
	size_t n = 0;

	store_query_init(&q);
	if (store_db__label_values(db, &q, "run", &v, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long r = strtoul(v[i].value, NULL, 10);

		if (r > most && r < 1000000)
			most = (unsigned)r;
	}
	store_label_values_free(v, n);
	return most;
}

/* A zombie has exited: it only waits for its parent to reap it. */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/*
 * Fork the command, held before exec until released. The child reports an
 * exec failure through err_fd (close-on-exec: EOF means exec succeeded).
 */
static int spawn_held(char **argv, pid_t *ret_pid, int *ret_go_fd, int *ret_err_fd)
{
	int go[2], errp[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (pid == 0) {
		char c;
		int e;

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		close(go[1]);
		close(errp[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* ember went away before releasing us */
		execvp(argv[0], argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(go[0]);
	close(errp[1]);
	*ret_pid = pid;
	*ret_go_fd = go[1];
	*ret_err_fd = errp[0];
	return 0;
}

static void join_command(char **argv, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; argv && argv[i] && n + 1 < size; i++)
		n += snprintf(buf + n, size - n, "%s%s", i ? " " : "", argv[i]);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Files of profiled processes the symbolizer would not read, per reason
 * (other users' files: see symbolizer/DESIGN.md), when there were any. */
static void print_refused(const struct session_totals *t)
{
	uint64_t total = 0;
	char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < SYM_REFUSED__COUNT; i++) {
		total += t->sym.refused[i];
		if (t->sym.refused[i])
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
				      sym_refusal_name(i), (unsigned long long)t->sym.refused[i]);
	}
	if (total)
		fprintf(stderr, "ember:   files refused: %llu (%s); their frames keep the "
			"module and offset\n", (unsigned long long)total, buf);
}

/* Debug information found but not read: the files, units and sections per
 * reason, and the frames that lost a name, a line or inlined calls. */
static void print_debug_issues(const struct session_totals *t)
{
	uint64_t frames = 0;
	bool any = false;

	for (int i = 1; i < SYM_DEBUG__COUNT; i++) {
		if (!t->sym.debug_issues[i] && !t->frames_debug[i])
			continue;
		fprintf(stderr, "%s%s %llu", any ? ", " : "ember:   debug info not read: ",
			sym_debug_issue_name(i), (unsigned long long)t->sym.debug_issues[i]);
		frames += t->frames_debug[i];
		any = true;
	}
	if (any)
		fprintf(stderr, " (files, units or sections); %.1f%% of frames (%llu) lost a name, "
			"line or inlined call to it; per binary: ember report --coverage\n",
			pct(frames, t->frames), (unsigned long long)frames);
}

/* The Python processes, when there were any. */
static void print_python(const struct session_python_totals *p)
{
	if (!p->processes && !p->unsupported)
		return;
	fputs("ember:   python: ", stderr);
	if (p->processes) {
		fprintf(stderr, "%llu process%s: %.1f%% of their samples with Python frames "
			"(%llu of %llu), %.1f%% of Python frames named",
			(unsigned long long)p->processes, p->processes == 1 ? "" : "es",
			pct(p->with_python, p->samples), (unsigned long long)p->with_python,
			(unsigned long long)p->samples, pct(p->named, p->frames));
		if (p->stale)
			fprintf(stderr, " (%llu code objects freed before they were read)",
				(unsigned long long)p->stale);
	}
	if (p->unsupported)
		fprintf(stderr, "%s%llu process%s of a Python version Ember does not know "
			"(native stacks only)", p->processes ? "; " : "",
			(unsigned long long)p->unsupported, p->unsupported == 1 ? "" : "es");
	fputs("; per process: ember report --coverage\n", stderr);
}

static void print_summary(const struct record_args *a, const struct session_totals *t,
			  double seconds)
{
	uint64_t dropped = session_dropped(t), recovered = 0;
	char buf[1024];
	size_t n;

	fprintf(stderr, "ember: recorded %.1f s at %u Hz: %llu samples from %llu processes, written to %s\n",
		seconds, a->freq, (unsigned long long)t->samples_seen,
		(unsigned long long)t->processes, a->output);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		if (!sampler_stat_is_drop(i))
			continue;
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
			      sampler_stat_name(i), (unsigned long long)t->sampler[i]);
	}
	n += snprintf(buf + n, sizeof(buf) - n, ", database-write-failed %llu",
		      (unsigned long long)t->samples_lost_store);
	fprintf(stderr, "ember:   dropped %llu samples (%s)\n", (unsigned long long)dropped, buf);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		if (i == SAMPLER_STAT_SAMPLES || sampler_stat_is_drop(i) || !t->sampler[i])
			continue;
		recovered += t->sampler[i];
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
			      sampler_stat_name(i), (unsigned long long)t->sampler[i]);
	}
	if (recovered)
		fprintf(stderr, "ember:   events (samples kept): %s\n", buf);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_PATH__COUNT && a->bpf_path_stats; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu x %.0f ns", n ? ", " : "",
			      sampler_path_name(i), (unsigned long long)t->path_runs[i],
			      t->path_runs[i] ? (double)t->path_ns[i] / t->path_runs[i] : 0.0);
	if (n)
		fprintf(stderr, "ember:   BPF per-sample parts (runs x mean): %s\n", buf);

	fprintf(stderr, "ember:   user stacks: %.1f%% of samples from user processes; "
		"frames symbolized: %.1f%% (%llu of %llu)",
		pct(t->samples_with_ustack, t->samples_user_task),
		pct(t->frames_resolved, t->frames),
		(unsigned long long)t->frames_resolved, (unsigned long long)t->frames);
	if (t->sym.cache_hits || t->sym.cache_writes || t->sym.cache_errors)
		fprintf(stderr, "; symbolizer cache: %llu read, %llu written, %llu failed",
			(unsigned long long)t->sym.cache_hits,
			(unsigned long long)t->sym.cache_writes,
			(unsigned long long)t->sym.cache_errors);
	fputc('\n', stderr);
	print_debug_issues(t);
	fprintf(stderr, "ember:   unwinding (%s): %.1f%% of user stacks reach their root frame",
		a->unwind == SAMPLER_UNWIND_FP ? "fp" : a->unwind == SAMPLER_UNWIND_DWARF ? "dwarf" : "auto",
		pct(t->ustack_complete, t->samples_with_ustack));
	if (t->dwarf_samples) {
		fprintf(stderr, "; %llu samples unwound with DWARF (%.1f us, %.0f stack bytes each)",
			(unsigned long long)t->dwarf_samples,
			t->unwind_ns / 1e3 / t->dwarf_samples,
			(double)t->unwind_bytes / t->dwarf_samples);
		for (int i = 1; i < SYM_UNWIND__COUNT; i++)
			if (t->unwind_end[i])
				fprintf(stderr, ", %s %llu", sym_unwind_end_name(i),
					(unsigned long long)t->unwind_end[i]);
	}
	if (t->sym.unwind_unserved)
		fprintf(stderr, "; %llu reads of the unwinder outside the stack copy and the "
			"mapped files not served", (unsigned long long)t->sym.unwind_unserved);
	if (t->leaf_repairs)
		fprintf(stderr, "; %llu frameless leaves given their caller",
			(unsigned long long)t->leaf_repairs);
	if (t->auto_fp_kept_dwarf)
		fprintf(stderr, "; %llu processes with frame pointers unwound with DWARF "
			"(their stacks pass through code without them)",
			(unsigned long long)t->auto_fp_kept_dwarf);
	fputc('\n', stderr);
	print_python(&t->python);
	if (a->command) {
		/* 95% power after a correction for ~10 tests (Holm's first
		 * step): bench/diff-power finds this close to what ember diff
		 * needs on real profiles. */
		uint64_t n50 = cmp_samples_needed(0.5 - a->threshold_pp / 200, a->threshold_pp, 0.005, 0.95);
		uint64_t n10 = cmp_samples_needed(0.1, a->threshold_pp, 0.005, 0.95);

		fprintf(stderr, "ember:   to detect a %.2g-point change with ember diff (95%% power): "
			"~%llu samples per side for a function near 10%% of the "
			"profile, ~%llu near 50%%; this recording has %llu%s\n",
			a->threshold_pp, (unsigned long long)n10, (unsigned long long)n50,
			(unsigned long long)t->samples_seen,
			t->samples_seen < n10 ? " (use --repeat or a longer run)" : "");
	}
	print_refused(t);
	if (t->flush_errors)
		fprintf(stderr, "ember:   %llu of %llu flushes failed to write (%llu samples lost); "
			"%s\n", (unsigned long long)t->flush_errors, (unsigned long long)t->flushes,
			(unsigned long long)t->samples_lost_store,
			t->write_failing ? "writing had not resumed at the end" :
			"writing resumed after them, the lost samples are counted in the file");
}

static uint64_t timeval_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static void add_usage(struct rusage *sum, const struct rusage *u)
{
	timeradd(&sum->ru_utime, &u->ru_utime, &sum->ru_utime);
	timeradd(&sum->ru_stime, &u->ru_stime, &sum->ru_stime);
}

/*
 * Start the command held at a pipe, track it, release it to exec. Returns 0
 * and *ret_child, EXIT_RUNTIME after an error message, or the shell's status
 * for a command that could not be executed (127 not found, 126 otherwise).
 */
static int start_command(const struct record_args *a, struct session *s, pid_t *ret_child)
{
	int go_fd = -1, err_fd = -1, exec_errno = 0, err, status = EXIT_RUNTIME;
	pid_t child = -1;
	ssize_t r;

	err = spawn_held(a->command, &child, &go_fd, &err_fd);
	if (err) {
		cli_error("cannot start '%s': %s", a->command[0], strerror(-err));
		return EXIT_RUNTIME;
	}
	if (!a->all) {
		err = session__track(s, child);
		if (err) {
			cli_error("cannot track the command (pid %d): %s", child, strerror(-err));
			goto kill_child;
		}
	}
	if (write(go_fd, "g", 1) != 1) {
		cli_error("cannot release the command: %s", strerror(errno));
		goto kill_child;
	}
	close(go_fd);
	do
		r = read(err_fd, &exec_errno, sizeof(exec_errno));
	while (r < 0 && errno == EINTR);
	close(err_fd);
	if (r == sizeof(exec_errno)) {
		waitpid(child, NULL, 0);
		cli_error("cannot run '%s': %s%s", a->command[0], strerror(exec_errno),
			  exec_errno == ENOENT ? " (check the command name and PATH)" : "");
		return exec_errno == ENOENT ? 127 : 126;
	}
	*ret_child = child;
	return 0;

kill_child:
	close(go_fd);
	close(err_fd);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return status;
}

static int exit_status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_RUNTIME;
}

int cmd_record(int argc, char **argv)
{
	struct record_args a = {0};
	struct session_options so = {0};
	struct session *s = NULL;
	struct store_db *db = NULL;
	struct session_totals totals;
	struct sigaction sa = {0};
	struct rusage child_usage = {0}, usage;
	unsigned runs = 0, first_run = 1;
	pid_t child = -1;
	int wstatus = 0, err, status = EXIT_RUNTIME;
	bool child_done = false, forwarded = false, flush_failed = false;
	uint64_t start_ns, deadline_ns = 0, failed_flushes = 0;
	char cmdline[4096];

	if (parse_args(argc, argv, &a)) {
		cli_usage_hint("record");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < a.n_pids; i++) {
		if (!pid_alive(a.pids[i])) {
			cli_error("no process with pid %d; check the pid with 'ps -p %d'",
				  a.pids[i], a.pids[i]);
			return EXIT_USAGE;
		}
	}
	/* Fail early, before anything is loaded or written. */
	if (cli_file_check(a.output, CLI_FILE_DATABASE, &a.files))
		return EXIT_RUNTIME;

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);

	so.freq_hz = a.freq;
	so.filter = a.all ? SAMPLER_FILTER_ALL
		  : a.command ? SAMPLER_FILTER_TREE : SAMPLER_FILTER_PIDS;
	so.include_idle = a.idle;
	so.flush_seconds = a.flush_s;
	so.stack_map_entries = a.stack_entries;
	so.counts_map_entries = a.counts_entries;
	so.unwind = a.unwind;
	so.no_python = a.no_python;
	so.snapshot_bytes = a.snapshot_bytes;
	so.bpf_path_stats = a.bpf_path_stats;
	so.sym.no_demangle = a.no_demangle;
	so.sym.max_memory = a.symbolizer_mb << 20;
	so.sym.cache_dir = a.cache_dir;
	so.extra_labels = a.labels[0] ? a.labels : NULL;
	err = session__new(&so, &s);
	if (err) {
		session_explain_error(err, "record", NULL);
		return EXIT_RUNTIME;
	}

	err = cli_db_open(a.output, STORE_OPEN_WRITE | (a.append ? 0 : STORE_OPEN_TRUNCATE),
			  &a.files, &db, NULL);
	if (err)
		goto out;
	session__set_store(s, db);
	if (a.repeat > 1) {
		if (a.append)
			first_run += runs_in_file(db);
		set_run_labels(&a, s, first_run);
	}

	join_command(a.command, cmdline, sizeof(cmdline));
	store_db__set_meta(db, "status", "recording");
	store_db__set_meta(db, "ember_version", EMBER_VERSION);
	store_db__set_metaf(db, "frequency_hz", "%u", a.freq);
	{
		char *first = NULL;

		/* --append keeps the first start; each run notes its own. */
		if (!a.append || store_db__get_meta(db, "start_time", &first) < 0)
			store_db__set_metaf(db, "start_time", "%llu",
				     (unsigned long long)(common_wall_ns() / 1000000000ULL));
		free(first);
		store_db__set_metaf(db, "run_start_time", "%llu",
			     (unsigned long long)(common_wall_ns() / 1000000000ULL));
	}
	store_db__set_metaf(db, "target", "%s", a.command ? "command" : a.all ? "system" : "pids");
	if (a.command)
		store_db__set_meta(db, "command", cmdline);

	for (size_t i = 0; i < a.n_pids; i++) {
		err = session__track(s, a.pids[i]);
		if (err) {
			cli_error("cannot track pid %d: %s", a.pids[i], strerror(-err));
			goto fail_remove;
		}
	}
	if (a.command) {
		status = start_command(&a, s, &child);
		if (status == EXIT_RUNTIME)
			goto fail_remove;
		if (status)
			goto remove;
		runs = 1;
	}

	start_ns = common_now_ns();
	if (a.duration_s)
		deadline_ns = start_ns + a.duration_s * 1000000000ULL;

	for (;;) {
		if (got_stop_signal) {
			if (child > 0 && !child_done && !forwarded) {
				/* Let the command end its own way; we stop when it does. */
				kill(child, got_stop_signal);
				forwarded = true;
				got_stop_signal = 0;
			} else {
				break;
			}
		}
		if (child > 0 && !child_done && wait4(child, &wstatus, WNOHANG, &usage) == child) {
			child_done = true;
			add_usage(&child_usage, &usage);
			/* --repeat: the next run, unless this one failed or we
			 * were asked to stop. */
			if (runs < a.repeat && exit_status_of(wstatus) == 0 && !forwarded &&
			    !got_stop_signal) {
				int st;

				/* Every sample of the run that ended is in the
				 * kernel's maps now: drained under its label,
				 * the next run gets its own. */
				err = session__flush(s);
				if (err && err != -EINTR)
					cli_warn("flush between runs: %s",
						 session__flush_error(s) ? session__flush_error(s)
									 : strerror(-err));
				set_run_labels(&a, s, first_run + runs);
				st = start_command(&a, s, &child);

				if (st) {
					wstatus = st << 8; /* as if the run exited st */
				} else {
					runs++;
					child_done = false;
				}
			}
		}
		if (child_done)
			break;
		if (deadline_ns && common_now_ns() >= deadline_ns)
			break;
		if (a.n_pids) {
			bool any = false;

			for (size_t i = 0; i < a.n_pids && !any; i++)
				any = pid_alive(a.pids[i]);
			if (!any)
				break;
		}
		err = session__run_once(s, 50);
		if (err && err != -EINTR && !flush_failed) {
			cli_warn("%s; sampling goes on, and writing is tried again at each flush",
				 session__flush_error(s) ? session__flush_error(s) : strerror(-err));
			flush_failed = true;
			session__totals(s, &totals);
			failed_flushes = totals.flushes;
		} else if (!err && flush_failed) {
			session__totals(s, &totals);
			if (totals.flushes > failed_flushes) {
				cli_warn("writing to %s resumed; %llu samples of %llu failed "
					 "flushes were lost (counted as database-write-failed)",
					 a.output, (unsigned long long)totals.samples_lost_store,
					 (unsigned long long)totals.flush_errors);
				flush_failed = false;
			}
		}
	}

	session__stop(s);
	err = session__flush(s);
	if (err && err != -EINTR)
		cli_warn("final flush: %s",
			 session__flush_error(s) ? session__flush_error(s) : strerror(-err));
	session__totals(s, &totals);
	store_db__set_metaf(db, "duration_ns", "%llu", (unsigned long long)(common_now_ns() - start_ns));
	if (child > 0 && child_done) {
		store_db__set_metaf(db, "exit_status", "%d", exit_status_of(wstatus));
		store_db__set_metaf(db, "runs", "%u", runs);
		/* CPU time of the command and its reaped descendants. */
		store_db__set_metaf(db, "command_cpu_ns", "%llu",
			     (unsigned long long)(timeval_ns(&child_usage.ru_utime) +
						  timeval_ns(&child_usage.ru_stime)));
	}
	session__write_accounting(s, db);
	store_db__set_meta(db, "status", totals.flush_errors ? "incomplete" : "complete");
	/* One file to hand on, not three. */
	cli_seal_db(db, a.output);
	print_summary(&a, &totals, (common_now_ns() - start_ns) / 1e9);

	if (child > 0) {
		if (!child_done) {
			/* Stopped by --duration or a second signal: the command
			 * still runs; its status is not ours to report. */
			kill(child, SIGTERM);
			waitpid(child, &wstatus, 0);
		}
		status = exit_status_of(wstatus);
	} else {
		status = totals.flush_errors ? EXIT_RUNTIME : 0;
	}
	goto out;

fail_remove:
	status = EXIT_RUNTIME;
remove:
	store_db__close(db);
	db = NULL;
	/* A file we continued in holds earlier recordings: keep it. */
	if (!a.append)
		cli_remove_db(a.output);
out:
	session__free(s);
	store_db__close(db);
	return status;
}
