/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_flags.h — the one way every sub-command reads its options: a table
 * of flags (struct cli_flag, one line each with the CLI_* macros below)
 * that cli_flags__parse() turns into getopt_long's tables, checks and
 * stores, with one message naming the flag for a bad value, a missing
 * value or an unknown option. The flags several commands take (--group,
 * --force, --from/--to/--filter, --label, --freq, --flush, --memory,
 * --limit, --sample-type/--sample-index, --remote-password-file,
 * --remote-ca) are macros here, so each command lists only its own.
 * Also the error lines every message goes through (cli_error). Depends
 * on libc only (the unit test links it alone). Private to profiler/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of ember's own failures (a recorded command's status is
 * passed through unchanged). */
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

/* Print "ember: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "ember: warning: <message>\n" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "Try 'ember CMD --help'." after a usage error (cmd NULL: 'ember --help'). */
void cli_usage_hint(const char *cmd);

/*
 * Parse a whole decimal number in [min, max] for flag (used in the message).
 * Returns 0 and *ret, or -EINVAL after printing an error naming the flag.
 */
int cli_parse_uint(const char *flag, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *ret);

/* ---- the table of flags ---- */

enum cli_flag_kind {
	CLI_FLAG_SET,    /* no value: *(bool *)to = true */
	CLI_FLAG_TEXT,   /* *(const char **)to = the value (borrowed from argv) */
	CLI_FLAG_NAME,   /* as TEXT, refused when empty ("--db expects a file name") */
	CLI_FLAG_U32,    /* a whole number in [min, max] into an unsigned */
	CLI_FLAG_U64,    /* the same into a uint64_t */
	CLI_FLAG_DOUBLE, /* a number in [lo, hi] ((lo, hi] with lo_open) into a double */
	CLI_FLAG_CHOICE, /* one of choices (NULL-ended): its index into an int-sized enum */
	CLI_FLAG_CALL,   /* call(value, flag): returns 0 or -errno after printing */
};

struct cli_flag {
	const char *name;     /* the long name, without "--" */
	char letter;          /* the short option, or 0 for none */
	enum cli_flag_kind kind;
	void *to;             /* where the value goes */
	size_t size;          /* CHOICE, CALL: sizeof(*to) */
	uint64_t min, max;    /* U32, U64 */
	double lo, hi;        /* DOUBLE */
	bool lo_open;         /* DOUBLE */
	const char *what;     /* NAME: what the value is ("a file name");
				 CHOICE: what is chosen ("format") */
	const char *const *choices; /* CHOICE */
	int (*call)(const char *value, const struct cli_flag *f); /* CALL */
};

/* p, with a warning unless it points to type; and as a void *. */
#define CLI_TYPED(type, p) (1 ? (p) : (type *)0)
#define CLI_PTR(type, p) ((void *)CLI_TYPED(type, p))

#define CLI_SET(n, l, p) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_SET, .to = CLI_PTR(bool, p) }
#define CLI_TEXT(n, l, p) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_TEXT, .to = CLI_PTR(const char *, p) }
#define CLI_NAME(n, l, p, w) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_NAME, .to = CLI_PTR(const char *, p), \
	  .what = (w) }
#define CLI_U32(n, l, p, lo_, hi_) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_U32, .to = CLI_PTR(unsigned, p), \
	  .min = (lo_), .max = (hi_) }
#define CLI_U64(n, l, p, lo_, hi_) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_U64, .to = CLI_PTR(uint64_t, p), \
	  .min = (lo_), .max = (hi_) }
#define CLI_DOUBLE(n, l, p, lo_, hi_, open) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_DOUBLE, .to = CLI_PTR(double, p), \
	  .lo = (lo_), .hi = (hi_), .lo_open = (open) }
/* The choices in the order of the enum's values, 0 first. */
#define CLI_CHOICE(n, l, p, w, ...) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_CHOICE, .to = (p), .size = sizeof(*(p)), \
	  .what = (w), .choices = (const char *const[]){ __VA_ARGS__, NULL } }
#define CLI_CALL(n, l, fn, p) \
	{ .name = (n), .letter = (l), .kind = CLI_FLAG_CALL, .to = (p), .size = sizeof(*(p)), \
	  .call = (fn) }

/* ---- the flags several commands take ---- */

/* The common defaults and bounds, for the help texts too. */
#define CLI_FREQ_MAX 100000
#define CLI_FLUSH_MAX 3600
#define CLI_MEMORY_MIN_MB 16

/* -F, --freq HZ: samples per second on each CPU (record, agent). */
#define CLI_FREQ(p) CLI_U32("freq", 'F', p, 1, CLI_FREQ_MAX)
/* --flush SECS: seconds between writes to the database (record, agent). */
#define CLI_FLUSH(p) CLI_U32("flush", 0, p, 1, CLI_FLUSH_MAX)
/* -m, --memory MB: a memory budget (agent, serve). */
#define CLI_MEMORY(p) CLI_U64("memory", 'm', p, CLI_MEMORY_MIN_MB, 1 << 20)
/* -n, --limit N: rows shown, 0 all (report, diff). */
#define CLI_LIMIT(p) CLI_U64("limit", 'n', p, 0, UINT32_MAX)
/* -o, --output FILE (report, diff, import; record refuses an empty one). */
#define CLI_OUTPUT(p) CLI_TEXT("output", 'o', p)
/* --db FILE (agent, serve). */
#define CLI_DB(p) CLI_NAME("db", 'd', p, "a file name")
/* --from T, --to T, --filter EXPR: narrow a profile (report, diff); the
 * texts are read by query_from_flags (query.h). */
#define CLI_RANGE(from, to, filter) \
	CLI_TEXT("from", 0, from), CLI_TEXT("to", 0, to), CLI_TEXT("filter", 0, filter)
/* -l, --label K=V (repeatable) into a "k=v,k=v" char array (record, agent). */
#define CLI_LABEL(labels) CLI_CALL("label", 'l', cli_flag_label, &(labels))
/* --remote-password-file FILE, --remote-ca FILE (agent, serve, fleet-*). */
#define CLI_REMOTE_FILES(pwfile, ca) \
	CLI_TEXT("remote-password-file", 0, pwfile), CLI_TEXT("remote-ca", 0, ca)
/* -t, --sample-type NAME | -i, --sample-index N: a pprof profile's value
 * (report, import) into a struct store_pprof_options whose sample_index
 * the caller set to -1; giving both is refused. */
#define CLI_PPROF_PICK(pick) \
	CLI_CALL("sample-type", 't', cli_flag_sample_type, \
		 CLI_TYPED(struct store_pprof_options, pick)), \
	CLI_CALL("sample-index", 'i', cli_flag_sample_index, \
		 CLI_TYPED(struct store_pprof_options, pick))

struct store_pprof_options;
int cli_flag_label(const char *value, const struct cli_flag *f);
int cli_flag_sample_type(const char *value, const struct cli_flag *f);
int cli_flag_sample_index(const char *value, const struct cli_flag *f);

/* How cli_flags__parse reads argv. */
enum {
	/* Options end at the first operand (record's COMMAND and its own
	 * options, and the commands that take no operand). Without it,
	 * options may follow operands. */
	CLI_FLAGS_IN_ORDER = 1 << 0,
};

/*
 * Parse argv's options by the table flags[0..n) (at most 64): each value
 * checked and stored as its entry says, in the order given (a later one
 * wins). -h and --help are implied: usage(stdout), then exit 0. A value
 * that is bad or missing, or an unknown option, is one message naming the
 * flag (cli_error). Returns the index in argv of the first operand (argc
 * when none), or -EINVAL after that message.
 */
int cli_flags__parse(int argc, char **argv, const struct cli_flag *flags, size_t n,
		     unsigned opts, void (*usage)(FILE *out));

/*
 * The one operand a command takes, argv[first] of argc: NULL after
 * printing missing when there is none, or "unexpected argument 'X': give
 * one FILE" when there are more.
 */
const char *cli_one_operand(int argc, char **argv, int first, const char *missing);
