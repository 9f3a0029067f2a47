/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_flags.c — how every sub-command reads its command line: the error
 * lines (cli_error, cli_warn), strict numbers, and cli_flags__parse, which
 * builds getopt_long's tables from a command's table of flags
 * (cli_flags.h), checks each value and names the flag of anything wrong
 * in one message. The flags several commands share are checked here too
 * (--label, --sample-type/--sample-index).
 */
#include "cli_flags.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h" /* struct store_pprof_options (the type only) */

/* One line on stderr: prefix, the message, a newline. */
static void say(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("ember: ", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("ember: warning: ", fmt, ap);
	va_end(ap);
}

int cli_parse_uint(const char *flag, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!arg || !*arg || *arg == '-' || *arg == '+')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno || *end)
		goto bad;
	if (v < min || v > max) {
		cli_error("%s %s is out of range: use a number from %llu to %llu",
			  flag, arg, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
bad:
	cli_error("%s expects a whole number, not '%s'", flag, arg ? arg : "");
	return -EINVAL;
}

/*
 * After getopt_long() returned c == ':' (a value missing: optstrings start
 * with ':', after '+' where there is one) or '?' (an unknown option): print
 * which option and what was wrong. Returns -EINVAL.
 */
static int cli_option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];
	char opt[64];

	/* A long option is named as written (up to any '='); a short one by
	 * its letter, which also works inside a bundle like -aF. optopt is the
	 * long option's internal value for a long one, so it cannot name it. */
	if (!strncmp(arg, "--", 2))
		snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
	else if (optopt)
		snprintf(opt, sizeof(opt), "-%c", optopt);
	else
		snprintf(opt, sizeof(opt), "%s", arg);
	if (c == ':')
		cli_error("option '%s' needs a value", opt);
	else
		cli_error("unknown option '%s'", opt);
	return -EINVAL;
}

void cli_usage_hint(const char *cmd)
{
	if (cmd)
		fprintf(stderr, "Try 'ember %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try 'ember --help'.\n");
}

/*
 * Parse a number in [lo, hi] (or (lo, hi] with lo_open) for flag. Returns 0
 * and *ret, or -EINVAL after printing an error naming the flag.
 */
static int cli_parse_double(const char *flag, const char *arg, double lo, double hi,
			    bool lo_open, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(v)) {
		cli_error("%s expects a number, not '%s'", flag, arg);
		return -EINVAL;
	}
	if (v > hi || v < lo || (lo_open && v == lo)) {
		cli_error("%s %s is out of range: use a number %s %g and at most %g",
			  flag, arg, lo_open ? "above" : "from", lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/*
 * Check one --label K=V (K: letters, digits, '_', not a built-in label; V:
 * no ',') and append it to the "k=v,k=v" list in labels (size bytes).
 * Returns 0, or -EINVAL after printing an error naming the flag.
 */
static int cli_add_label(const char *arg, char *labels, size_t size)
{
	static const char *const builtin[] = {
		"host", "process", "pid", "thread", "tid", "cgroup",
	};
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : 0, n = strlen(labels);

	if (!eq || klen == 0) {
		cli_error("--label expects KEY=VALUE, like --label env=prod, not '%s'", arg);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		char c = arg[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i > 0 && c >= '0' && c <= '9'))) {
			cli_error("--label %s: the key may hold letters, digits and '_' "
				  "and must not start with a digit", arg);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (strlen(builtin[i]) == klen && !strncmp(arg, builtin[i], klen)) {
			cli_error("--label %s: '%s' is set by ember itself; choose another key",
				  arg, builtin[i]);
			return -EINVAL;
		}
	}
	if (strchr(eq + 1, ',')) {
		cli_error("--label %s: the value must not contain ','", arg);
		return -EINVAL;
	}
	for (const char *p = labels; *p;) {
		if (!strncmp(p, arg, klen) && p[klen] == '=') {
			cli_error("--label %.*s given twice", (int)klen, arg);
			return -EINVAL;
		}
		p = strchr(p, ',');
		p = p ? p + 1 : "";
	}
	if (n + strlen(arg) + 2 > size) {
		cli_error("--label: too many labels");
		return -EINVAL;
	}
	snprintf(labels + n, size - n, "%s%s", n ? "," : "", arg);
	return 0;
}

int cli_flag_label(const char *value, const struct cli_flag *f)
{
	return cli_add_label(value, f->to, f->size);
}

int cli_flag_sample_type(const char *value, const struct cli_flag *f)
{
	struct store_pprof_options *pick = f->to;

	if (pick->sample_index >= 0) {
		cli_error("give --sample-type or --sample-index, not both");
		return -EINVAL;
	}
	pick->sample_type = value;
	return 0;
}

int cli_flag_sample_index(const char *value, const struct cli_flag *f)
{
	struct store_pprof_options *pick = f->to;
	uint64_t index;

	if (pick->sample_type) {
		cli_error("give --sample-type or --sample-index, not both");
		return -EINVAL;
	}
	if (cli_parse_uint("--sample-index", value, 0, 1000000, &index))
		return -EINVAL;
	pick->sample_index = (int64_t)index;
	return 0;
}

#define CLI_MAX_FLAGS 64
/* getopt_long's value of a flag without a letter: past every char. */
#define CLI_KEY_BASE 256

/* Check value as f says and store it. Returns 0 or -EINVAL (printed). */
static int flag_store(const struct cli_flag *f, const char *value)
{
	char flag[80];
	uint64_t v;

	snprintf(flag, sizeof(flag), "--%s", f->name);
	switch (f->kind) {
	case CLI_FLAG_SET:
		*(bool *)f->to = true;
		return 0;
	case CLI_FLAG_NAME:
		if (!*value) {
			cli_error("%s expects %s", flag, f->what);
			return -EINVAL;
		}
		/* fall through */
	case CLI_FLAG_TEXT:
		*(const char **)f->to = value;
		return 0;
	case CLI_FLAG_U32:
		if (cli_parse_uint(flag, value, f->min, f->max, &v))
			return -EINVAL;
		*(unsigned *)f->to = (unsigned)v;
		return 0;
	case CLI_FLAG_U64:
		return cli_parse_uint(flag, value, f->min, f->max, f->to);
	case CLI_FLAG_DOUBLE:
		return cli_parse_double(flag, value, f->lo, f->hi, f->lo_open, f->to);
	case CLI_FLAG_CHOICE: {
		char list[256] = "";
		size_t i, len = 0;

		for (i = 0; f->choices[i]; i++) {
			if (!strcmp(value, f->choices[i])) {
				*(int *)f->to = (int)i;
				return 0;
			}
		}
		for (size_t k = 0; k < i && len < sizeof(list); k++)
			len += snprintf(list + len, sizeof(list) - len, "%s%s",
					k == 0 ? "" : k + 1 == i ? " or " : ", ", f->choices[k]);
		cli_error("unknown %s '%s': use %s", f->what, value, list);
		return -EINVAL;
	}
	case CLI_FLAG_CALL:
		return f->call(value, f) ? -EINVAL : 0;
	}
	return -EINVAL;
}

int cli_flags__parse(int argc, char **argv, const struct cli_flag *flags, size_t n,
		     unsigned opts, void (*usage)(FILE *out))
{
	struct option longopts[CLI_MAX_FLAGS + 2];
	char optstring[3 * CLI_MAX_FLAGS + 8];
	size_t len = 0;
	int c;

	if (n > CLI_MAX_FLAGS)
		return -E2BIG;
	/* '+': stop at the first operand; ':': report a missing value as ':'. */
	if (opts & CLI_FLAGS_IN_ORDER)
		optstring[len++] = '+';
	optstring[len++] = ':';
	for (size_t i = 0; i < n; i++) {
		bool value = flags[i].kind != CLI_FLAG_SET;

		/* CHOICE writes an int; an enum of another size would be
		 * written wrong, so it is refused (a programming error). */
		if (flags[i].kind == CLI_FLAG_CHOICE && flags[i].size != sizeof(int))
			return -EINVAL;
		longopts[i] = (struct option){
			.name = flags[i].name,
			.has_arg = value ? required_argument : no_argument,
			.val = flags[i].letter ? flags[i].letter : CLI_KEY_BASE + (int)i,
		};
		if (flags[i].letter) {
			optstring[len++] = flags[i].letter;
			if (value)
				optstring[len++] = ':';
		}
	}
	optstring[len++] = 'h';
	optstring[len] = '\0';
	longopts[n] = (struct option){ .name = "help", .has_arg = no_argument, .val = 'h' };
	longopts[n + 1] = (struct option){ 0 };

	/* 0, not 1: glibc then reads the optstring afresh ('+' or not). */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		const struct cli_flag *f = NULL;

		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c >= CLI_KEY_BASE && (size_t)(c - CLI_KEY_BASE) < n) {
			f = &flags[c - CLI_KEY_BASE];
		} else {
			for (size_t i = 0; i < n && !f; i++)
				if (flags[i].letter && flags[i].letter == c)
					f = &flags[i];
		}
		if (!f)
			return cli_option_error(c, argv);
		if (flag_store(f, optarg))
			return -EINVAL;
	}
	return optind;
}

const char *cli_one_operand(int argc, char **argv, int first, const char *missing)
{
	if (first >= argc) {
		cli_error("%s", missing);
		return NULL;
	}
	if (first + 1 < argc) {
		cli_error("unexpected argument '%s': give one FILE", argv[first + 1]);
		return NULL;
	}
	return argv[first];
}
