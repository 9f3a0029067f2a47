/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c — `ember report FILE`: reads a database (never modifying it) and
 * prints the merged profile as folded stacks (the FlameGraph / inferno /
 * `profile -f` convention: root first, process name first, ';'-separated,
 * one count per line) or as a top table of functions by self and total.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "storage.h"

enum report_format { FORMAT_FOLDED, FORMAT_TOP };

struct report_args {
	const char *path;
	const char *output;
	enum report_format format;
	uint64_t limit;
	bool lines;
	bool coverage;
};

static void report_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember report FILE [--format folded|top] [--lines] [--coverage] [-o OUT] [--limit N]\n"
		"\n"
		"Print the profile stored in FILE (from ember record). The database is\n"
		"only read, never modified.\n"
		"\n"
		"Options:\n"
		"  -f, --format FORMAT   folded: one line per stack, root first, with its\n"
		"                        count (input for flamegraph.pl and inferno);\n"
		"                        kernel frames end in _[k], inlined ones in _[i],\n"
		"                        JIT ones in _[j] (default)\n"
		"  -l, --lines           folded: each frame as 'function (file:line)'\n"
		"                        where the line is known\n"
		"                        top: functions by self and total samples\n"
		"  -c, --coverage        instead of the profile: per binary, the frames\n"
		"                        seen and the share given a function name and a\n"
		"                        file:line (sample-weighted)\n"
		"  -o, --output OUT      write to OUT instead of standard output\n"
		"  -n, --limit N         top: show N functions (default 30, 0 = all)\n"
		"  -h, --help            show this help\n");
}

static int parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'n' },
		{ "lines", no_argument, NULL, 'l' },
		{ "coverage", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	a->format = FORMAT_FOLDED;
	a->limit = 30;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:n:lch", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "folded")) {
				a->format = FORMAT_FOLDED;
			} else if (!strcmp(optarg, "top")) {
				a->format = FORMAT_TOP;
			} else {
				cli_error("unknown format '%s': use folded or top", optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'n':
			if (cli_parse_uint("--limit", optarg, 0, 1000000000, &a->limit))
				return -EINVAL;
			break;
		case 'l':
			a->lines = true;
			break;
		case 'c':
			a->coverage = true;
			break;
		case 'h':
			report_usage(stdout);
			exit(0);
		case ':':
			cli_error("option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		cli_error("which database? give a FILE written by 'ember record'");
		return -EINVAL;
	}
	if (optind + 1 < argc) {
		cli_error("unexpected argument '%s': give one FILE", argv[optind + 1]);
		return -EINVAL;
	}
	a->path = argv[optind];
	return 0;
}

static const char *kind_suffix(enum store_frame_kind k)
{
	switch (k) {
	case STORE_FRAME_KERNEL:
		return "_[k]";
	case STORE_FRAME_INLINED:
		return "_[i]";
	case STORE_FRAME_JIT:
		return "_[j]";
	default:
		return "";
	}
}

struct line {
	char *text;
	uint64_t count;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

/* Append sep, then s with suffix, to the growing buffer; ';' and newlines
 * inside a name would break the folded format and become ':'. */
static int append_name(char **buf, size_t *len, size_t *cap, const char *sep,
		       const char *s, const char *suffix)
{
	size_t need = *len + strlen(sep) + strlen(s) + strlen(suffix) + 1;

	if (need > *cap) {
		size_t ncap = *cap ? *cap : 256;
		char *p;

		while (ncap < need)
			ncap *= 2;
		p = realloc(*buf, ncap);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = ncap;
	}
	for (; *sep; sep++)
		(*buf)[(*len)++] = *sep;
	for (; *s; s++)
		(*buf)[(*len)++] = (*s == ';' || *s == '\n') ? ':' : *s;
	for (; *suffix; suffix++)
		(*buf)[(*len)++] = *suffix;
	(*buf)[*len] = '\0';
	return 0;
}

/* "name (file:line)" for --lines, else the name alone; "_[i]" and other
 * kind suffixes stay last. Returns the text in buf (or f->name). */
static const char *frame_text(const struct store_tree_node *f, bool lines,
			      char *buf, size_t size)
{
	if (!lines || !f->file || !f->line)
		return f->name;
	snprintf(buf, size, "%s (%s:%u)", f->name, f->file, (unsigned)f->line);
	return buf;
}

static int print_folded(const struct store_tree *t, FILE *out, bool with_lines)
{
	size_t n = store_tree__size(t), n_lines = 0;
	struct line *lines = calloc(n ? n : 1, sizeof(*lines));
	size_t *path = calloc(n ? n : 1, sizeof(*path));
	int err = 0;

	if (!lines || !path) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *node = store_tree__node(t, i);
		size_t depth = 0, len = 0, cap = 0;
		char *text = NULL;

		if (!node->self)
			continue;
		for (size_t j = i; j != 0; j = store_tree__node(t, j)->parent)
			path[depth++] = j;
		while (depth-- > 0) {
			const struct store_tree_node *f = store_tree__node(t, path[depth]);
			char buf[8192];

			err = append_name(&text, &len, &cap, len ? ";" : "",
					  frame_text(f, with_lines, buf, sizeof(buf)),
					  kind_suffix(f->kind));
			if (err)
				break;
		}
		if (err) {
			free(text);
			goto out;
		}
		lines[n_lines].text = text;
		lines[n_lines++].count = node->self;
	}
	qsort(lines, n_lines, sizeof(*lines), cmp_line);
	/* Frames that differ only by line print alike without --lines: one
	 * line per printed stack. */
	for (size_t i = 0; i < n_lines;) {
		uint64_t count = 0;
		size_t j = i;

		for (; j < n_lines && !strcmp(lines[j].text, lines[i].text); j++)
			count += lines[j].count;
		fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)count);
		i = j;
	}
out:
	for (size_t i = 0; lines && i < n_lines; i++)
		free(lines[i].text);
	free(lines);
	free(path);
	return err;
}

static int print_top(const struct store_tree *t, FILE *out, uint64_t limit)
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
			e[i].name, kind_suffix(e[i].kind),
			!mod ? "" : mod[0] == '[' ? " " : " [", mod ? mod : "",
			!mod || mod[0] == '[' ? "" : "]");
	}
	free(e);
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
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%10llu %8.2f%% %8.2f%%  %-12.12s %s\n",
			(unsigned long long)c[i].seen,
			c[i].seen ? 100.0 * c[i].with_function / c[i].seen : 0.0,
			c[i].seen ? 100.0 * c[i].with_line / c[i].seen : 0.0,
			c[i].build_id ? c[i].build_id : "-", c[i].module);
	if (n == 0)
		fprintf(out, "(no coverage recorded in this file)\n");
	store_coverage__free(c, n);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = {0};
	struct store_db *db = NULL;
	struct store_tree *tree = NULL;
	struct store_query q;
	char *status = NULL;
	FILE *out = stdout;
	int err, ret = EXIT_RUNTIME;

	if (parse_args(argc, argv, &a)) {
		cli_usage_hint("report");
		return EXIT_USAGE;
	}
	err = store_db__open(a.path, STORE_OPEN_READ, &db);
	if (err) {
		if (err == -ENOENT)
			cli_error("cannot open %s: no such file; record one with 'ember record -o %s -- COMMAND'",
				  a.path, a.path);
		else
			cli_error("cannot open %s: %s", a.path, store_strerror(err));
		return EXIT_RUNTIME;
	}
	if (store_db__get_meta(db, "status", &status) == 0 && strcmp(status, "complete") != 0)
		cli_warn("%s is %s (the recording did not finish cleanly); showing what was flushed",
			 a.path, !strcmp(status, "recording") ? "still being written or was interrupted" : status);
	free(status);

	store_query_init(&q);
	err = store_db__query_tree(db, &q, &tree);
	if (err) {
		cli_error("cannot read the profile in %s: %s", a.path, store_strerror(err));
		goto out;
	}
	if (store_tree__size(tree) <= 1 || store_tree__node(tree, 0)->total == 0)
		cli_warn("%s holds no samples", a.path);

	if (a.output) {
		out = fopen(a.output, "we");
		if (!out) {
			cli_error("cannot write %s: %s", a.output, strerror(errno));
			out = stdout;
			goto out;
		}
	}
	err = a.coverage ? print_coverage(db, out) :
	      a.format == FORMAT_TOP ? print_top(tree, out, a.limit) :
	      print_folded(tree, out, a.lines);
	if (err) {
		cli_error("cannot print the report: %s", strerror(-err));
		goto out;
	}
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
	store_tree__free(tree);
	store_db__close(db);
	return ret;
}
