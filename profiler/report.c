/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c — `ember report FILE`: reads a database (never modifying it) or
 * a pprof file, and prints the merged profile as a top table of functions
 * by self and total, or exports it through the storage module: folded
 * stacks (the FlameGraph / inferno / `profile -f` convention), pprof
 * (gzipped profile.proto) or speedscope JSON; or writes the web UI with
 * the profile inline as one HTML file (web_write_profile_html).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "cli.h"
#include "common.h"
#include "query.h"
#include "storage.h"
#include "web.h"

enum report_format { FORMAT_FOLDED, FORMAT_TOP, FORMAT_PPROF, FORMAT_SPEEDSCOPE, FORMAT_HTML };

struct report_args {
	const char *path;
	const char *output;
	enum report_format format;
	uint64_t limit;
	bool lines;
	bool coverage;
	const char *from, *to, *filter;
	struct store_pprof_options pick; /* pprof input's sample type */
	struct cli_file_opts files; /* --group */
};

static void report_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember report FILE [--format folded|top|pprof|speedscope|html] [--lines]\n"
		"                    [--coverage] [-o OUT] [--limit N]\n"
		"                    [--from T] [--to T] [--filter EXPR]\n"
		"                    [--sample-type NAME | --sample-index N]\n"
		"\n"
		"Print the profile stored in FILE: a database from ember record or ember\n"
		"agent (only read, never modified), or a pprof profile (gzipped or not);\n"
		"or the fleet store, clickhouse://[USER@]HOST:PORT/DATABASE (https://...\n"
		"for TLS; password from EMBER_CLICKHOUSE_PASSWORD), every host's samples\n"
		"(--filter 'host=\"NAME\"' for one); a request may take 10 s, or\n"
		"EMBER_CLICKHOUSE_TIMEOUT seconds.\n"
		"\n"
		"Options:\n"
		"  -f, --format FORMAT   folded: one line per stack, root first, with its\n"
		"                        count (input for flamegraph.pl and inferno);\n"
		"                        kernel frames end in _[k], inlined ones in _[i],\n"
		"                        JIT ones in _[j] (default)\n"
		"                        top: functions by self and total samples\n"
		"                        pprof: gzipped profile.proto, for go tool pprof\n"
		"                        and other pprof viewers (needs -o or a pipe)\n"
		"                        speedscope: JSON for speedscope.app\n"
		"                        html: the web UI with this profile inline, one\n"
		"                        file that opens without a server (needs -o or\n"
		"                        a pipe)\n"
		"  -l, --lines           folded: each frame as 'function (file:line)'\n"
		"                        where the line is known, the marker on the\n"
		"                        function: 'inner_[i] (file:line)'\n"
		"  -c, --coverage        instead of the profile: per binary, the frames\n"
		"                        seen and the share given a function name and a\n"
		"                        file:line (sample-weighted), and the share of\n"
		"                        samples whose user stack reaches its root frame\n"
		"  -o, --output OUT      write to OUT instead of standard output\n"
		"  -n, --limit N         top: show N functions (default 30, 0 = all)\n"
		"      --from T          only samples at or after T, --to T: before T.\n"
		"                        T is Unix seconds, 2024-05-01T12:00:00Z (RFC 3339),\n"
		"                        'YYYY-MM-DD HH:MM:SS' (local time), now, or\n"
		"                        relative to now: -15m, -1h, -2d, now-1h30m\n"
		"      --filter EXPR     only samples whose labels match EXPR: terms\n"
		"                        joined by ',' (all must hold), each\n"
		"                        LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or\n"
		"                        LABEL!~REGEX; labels: host, process, pid,\n"
		"                        thread, tid, cgroup, and those given to\n"
		"                        'ember record --label'. Example:\n"
		"                        --filter 'process=~post.*,pid!=42'\n"
		"  -t, --sample-type NAME  pprof input: show this sample type (pprof's\n"
		"                        -sample_index; default: the profile's default\n"
		"                        type, else its last)\n"
		"  -i, --sample-index N  pprof input: show the N-th sample type (0-based)\n"
		GROUP_OPTION_HELP
		"  -h, --help            show this help\n");
}

static int parse_args(int argc, char **argv, struct report_args *a)
{
	const struct cli_flag flags[] = {
		CLI_CHOICE("format", 'f', &a->format, "format",
			   "folded", "top", "pprof", "speedscope", "html"),
		CLI_OUTPUT(&a->output),
		CLI_LIMIT(&a->limit),
		CLI_SET("lines", 'l', &a->lines),
		CLI_SET("coverage", 'c', &a->coverage),
		CLI_RANGE(&a->from, &a->to, &a->filter),
		CLI_PPROF_PICK(&a->pick),
		CLI_GROUP(&a->files),
	};
	int first;

	a->format = FORMAT_FOLDED;
	a->limit = 30;
	a->pick.sample_index = -1;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), 0, report_usage);
	if (first < 0)
		return -EINVAL;
	a->path = cli_one_operand(argc, argv, first,
				  "which database? give a FILE written by 'ember record'");
	if (!a->path)
		return -EINVAL;
	/* Binary output would garble the terminal and help nobody. */
	if (a->format == FORMAT_PPROF && !a->output && isatty(STDOUT_FILENO)) {
		cli_error("pprof output is binary: give -o FILE.pb.gz or redirect standard output");
		return -EINVAL;
	}
	if (a->format == FORMAT_HTML && !a->output && isatty(STDOUT_FILENO)) {
		cli_error("html output is a web page: give -o FILE.html or redirect standard output");
		return -EINVAL;
	}
	return 0;
}

static int print_top(const struct store_tree *t, FILE *out, uint64_t limit, const char *unit)
{
	struct store_top_entry *e = NULL;
	uint64_t all = store_tree__size(t) ? store_tree__node(t, 0)->total : 0;
	size_t n = 0;
	int err;

	err = store_tree__top(t, &e, &n);
	if (err)
		return err;
	fprintf(out, "%10s %7s %10s %7s  %s\n", "SELF", "SELF%", "TOTAL", "TOTAL%", "FUNCTION");
	for (size_t i = 0; i < n && (limit == 0 || i < limit); i++) {
		const char *mod = e[i].module ? strrchr(e[i].module, '/') : NULL;

		mod = mod ? mod + 1 : e[i].module;
		if (mod && !strcmp(mod, "[unknown]"))
			mod = NULL;
		/* "[kernel.kallsyms]" is bracketed already; file names are not. */
		fprintf(out, "%10llu %6.2f%% %10llu %6.2f%%  %s%s%s%s%s\n",
			(unsigned long long)e[i].self, all ? 100.0 * e[i].self / all : 0.0,
			(unsigned long long)e[i].total, all ? 100.0 * e[i].total / all : 0.0,
			e[i].name, store_kind_suffix(e[i].kind),
			!mod ? "" : mod[0] == '[' ? " " : " [", mod ? mod : "",
			!mod || mod[0] == '[' ? "" : "]");
	}
	/* What the percentages are of, and what the table left out. */
	fprintf(out, "%10llu %6.2f%% %10s %7s  total: %llu %s in %zu function%s",
		(unsigned long long)all, all ? 100.0 : 0.0, "", "",
		(unsigned long long)all, unit, n, n == 1 ? "" : "s");
	if (limit && n > limit)
		fprintf(out, " (%llu shown; --limit 0 shows all)", (unsigned long long)limit);
	fputc('\n', out);
	free(e);
	return 0;
}

/* Unwind quality per binary, as `ember record` stored it. */
static void print_unwind_quality(struct store_db *db, FILE *out)
{
	char *q = NULL, *save = NULL, *line;

	if (store_db__get_meta(db, "unwind_quality", &q) != 0 || !*q) {
		free(q);
		return;
	}
	fprintf(out, "\n%10s %9s  %s\n", "SAMPLES", "COMPLETE%", "BINARY (of the leaf; user stacks reaching their root)");
	for (line = strtok_r(q, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		unsigned long long n, ok;

		if (!t2)
			continue;
		*t1 = '\0';
		n = strtoull(t1 + 1, NULL, 10);
		ok = strtoull(t2 + 1, NULL, 10);
		fprintf(out, "%10llu %8.2f%%  %s\n", n, n ? 100.0 * ok / n : 0.0, line);
	}
	free(q);
}

/* Per Python process: samples, and the share that got Python frames. */
static int print_python_coverage(struct store_db *db, FILE *out)
{
	struct store_python_coverage *c = NULL;
	size_t n = 0;
	int err;

	err = store_db__query_python_coverage(db, NULL, &c, &n);
	if (err || n == 0)
		return err;
	fprintf(out, "\n%10s %9s %9s  %-20s %s\n", "SAMPLES", "PYTHON%", "NAMED%",
		"CPYTHON OFFSETS", "PROCESS (samples of Python processes with Python frames, "
		"and Python frames named)");
	for (size_t i = 0; i < n; i++) {
		bool unsupported = strstr(c[i].interpreter, "unsupported") != NULL;

		char named[16] = "        -";

		if (c[i].frames)
			snprintf(named, sizeof(named), "%8.2f%%", 100.0 * c[i].named / c[i].frames);
		fprintf(out, "%10llu %8.2f%% %9s  %-20s %s [%u]%s\n",
			(unsigned long long)c[i].samples,
			c[i].samples ? 100.0 * c[i].with_python / c[i].samples : 0.0, named,
			c[i].interpreter, c[i].process, c[i].pid,
			unsupported ? ": a version Ember does not know, native stacks only" : "");
	}
	store_python_coverage__free(c, n);
	return 0;
}

static int print_coverage(struct store_db *db, FILE *out)
{
	struct store_coverage *c = NULL;
	size_t n = 0;
	int err;

	err = store_db__query_coverage(db, NULL, &c, &n);
	if (err)
		return err;
	fprintf(out, "%10s %9s %9s  %-12s %s\n", "FRAMES", "FUNCTION%", "LINE%",
		"BUILD-ID", "BINARY");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%10llu %8.2f%% %8.2f%%  %-12.12s %s\n",
			(unsigned long long)c[i].seen,
			c[i].seen ? 100.0 * c[i].with_function / c[i].seen : 0.0,
			c[i].seen ? 100.0 * c[i].with_line / c[i].seen : 0.0,
			c[i].build_id ? c[i].build_id : "-", c[i].module);
		/* debug information that was there but not read, and what it
		 * cost: the share of this binary's frames */
		for (size_t k = 0; k < c[i].n_issues; k++)
			fprintf(out, "%10llu %8.2f%%  %-22s debug info not read: %s\n",
				(unsigned long long)c[i].issues[k].frames,
				c[i].seen ? 100.0 * c[i].issues[k].frames / c[i].seen : 0.0, "",
				c[i].issues[k].reason);
	}
	if (n == 0)
		fprintf(out, "(no symbolization coverage recorded in this file)\n");
	store_coverage__free(c, n);
	print_unwind_quality(db, out);
	return print_python_coverage(db, out);
}

/* Samples the recording lost are not in the report: say so. Cheap: the
 * drops table (all of it: one step from 1970 on), not the samples. */
static void note_drops(struct store_db *db, const char *path)
{
	uint64_t lost = 0;

	if (store_db__drops_timeline(db, 0, INT64_MAX, 1, &lost) < 0 || !lost)
		return;
	cli_warn("%llu samples were lost while %s was recorded and are not in this "
		 "report (per reason: ember serve --db %s, /api/v1/meta or /metrics)",
		 (unsigned long long)lost, path, path);
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = {0};
	struct store_db *db = NULL;
	struct store_tree *tree = NULL;
	struct store_query q;
	struct store_filter *filter = NULL;
	char *status = NULL, *tmp = NULL, *unit = NULL;
	struct store_pprof_choice choice;
	FILE *out = stdout;
	bool pprof = false;
	int err, ret = EXIT_RUNTIME;

	if (parse_args(argc, argv, &a)) {
		cli_usage_hint("report");
		return EXIT_USAGE;
	}
	if (a.output && cli_file_check(a.output, CLI_FILE_OUTPUT, &a.files))
		return EXIT_RUNTIME;
	err = query_open_profile("", a.path, &a.pick, &db, &tmp, &pprof, &choice);
	if (err)
		return err == -ENOENT && pprof ? EXIT_USAGE : EXIT_RUNTIME;
	if (!pprof && (a.pick.sample_type || a.pick.sample_index >= 0)) {
		cli_error("--sample-type and --sample-index choose among a pprof profile's "
			  "values; %s is an Ember database", a.path);
		ret = EXIT_USAGE;
		goto out;
	}
	if (pprof && choice.n_types > 1)
		fprintf(stderr, "ember: %s: sample type %s/%s%s (#%zu of %s; --sample-type "
			"picks another)\n", a.path, choice.type, choice.unit,
			choice.per_period ? " as samples" : "", choice.index, choice.types);
	note_drops(db, a.path);
	if (store_db__get_meta(db, "count_unit", &unit) < 0) {
		free(unit);
		unit = NULL;
	}
	if (store_db__get_meta(db, "status", &status) == 0 && strcmp(status, "complete") != 0)
		cli_warn("%s is %s (the recording did not finish cleanly); showing what was flushed",
			 a.path, !strcmp(status, "recording") ? "still being written or was interrupted" : status);
	free(status);

	err = query_from_flags(a.from, a.to, a.filter, "", &q, &filter);
	if (err) {
		/* text that does not parse is a usage error */
		ret = err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
		goto out;
	}
	err = store_db__query_tree(db, &q, &tree);
	if (err) {
		cli_error("cannot read the profile in %s: %s (%s)", a.path, store_strerror(err),
			  store_db__errmsg(db));
		goto out;
	}
	/* (a range that misses the recording is about this file) */
	if ((store_tree__size(tree) <= 1 || store_tree__node(tree, 0)->total == 0) &&
	    query_check_range(a.path, db, &q))
		goto out;
	if (store_tree__size(tree) <= 1 || store_tree__node(tree, 0)->total == 0)
		cli_warn("%s holds no samples%s", a.path,
			 a.filter || a.from || a.to ? " in the given range and filter" : "");

	if (a.output) {
		out = cli_output_open(a.output, &a.files);
		if (!out) {
			out = stdout;
			goto out;
		}
	}
	if (a.coverage) {
		err = print_coverage(db, out);
		if (err) {
			cli_error("cannot read the coverage in %s: %s%s%s", a.path, store_strerror(err),
				  err == -ENOSYS ? ": " : "", err == -ENOSYS ? store_db__errmsg(db) : "");
			goto out;
		}
		goto flush;
	}
	switch (a.format) {
	case FORMAT_TOP:
		err = print_top(tree, out, a.limit, unit ? unit : "samples");
		break;
	case FORMAT_HTML:
		err = web_write_profile_html(out, db, &q, tree, a.path);
		if (err == -EIO)
			errno = EIO;
		break;
	case FORMAT_PPROF:
		err = store_db__export_tree(db, &q, tree, STORE_EXPORT_PPROF, out);
		break;
	case FORMAT_SPEEDSCOPE:
		err = store_db__export_tree(db, &q, tree, STORE_EXPORT_SPEEDSCOPE, out);
		break;
	default:
		err = store_db__export_tree(db, &q, tree, a.lines ? STORE_EXPORT_FOLDED_LINES
								 : STORE_EXPORT_FOLDED, out);
		break;
	}
	if (err == -EIO) {
		cli_error("cannot write the report to %s: %s", a.output ? a.output : "standard output",
			  strerror(errno));
		goto out;
	} else if (err) {
		cli_error("cannot export the profile in %s: %s%s%s", a.path, store_strerror(err),
			  *store_db__errmsg(db) ? ": " : "", store_db__errmsg(db));
		goto out;
	}
flush:
	if (fflush(out) != 0 || ferror(out)) {
		cli_error("cannot write the report: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (out != stdout && fclose(out) != 0 && ret == 0) {
		cli_error("cannot write %s: %s", a.output, strerror(errno));
		ret = EXIT_RUNTIME;
	}
	free(unit);
	store_tree__free(tree);
	store_filter__free(filter);
	store_db__close(db);
	if (tmp) {
		cli_remove_db(tmp);
		free(tmp);
	}
	return ret;
}
