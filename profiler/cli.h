/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h — what every sub-command shares: the program name in messages, one
 * clear error line, and strict number parsing for flags.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of ember's own failures (a recorded command's status is
 * passed through unchanged). */
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

/* Print "ember: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "ember: warning: <message>\n" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a whole decimal number in [min, max] for flag (used in the message).
 * Returns 0 and *ret, or -EINVAL after printing an error naming the flag.
 */
int cli_parse_uint(const char *flag, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *ret);

/*
 * Parse a number in [lo, hi] (or (lo, hi] with lo_open) for flag. Returns 0
 * and *ret, or -EINVAL after printing an error naming the flag.
 */
int cli_parse_double(const char *flag, const char *arg, double lo, double hi,
		     bool lo_open, double *ret);

/*
 * After getopt_long() returned c == ':' (a value missing: optstrings start
 * with ':', after '+' where there is one) or '?' (an unknown option): print
 * which option and what was wrong. Returns -EINVAL.
 */
int cli_option_error(int c, char **argv);

/* Remove a database file and its SQLite companions (-wal, -shm, -journal). */
void cli_remove_db(const char *path);

struct store_db;

/*
 * A finished file becomes one self-contained file (store_db__seal); when
 * that cannot be done, warns that path-wal belongs with it. Returns the
 * store's result.
 */
int cli_seal_db(struct store_db *db, const char *path);

/*
 * Read the whole regular file at path (at most max bytes) into *ret_data
 * (caller frees) and *ret_size. Prints what went wrong and returns -errno.
 */
int cli_read_file(const char *path, size_t max, void **ret_data, size_t *ret_size);

/*
 * Create a new empty file named prefix + "-XXXXXX" (mkstemp). Returns its
 * fd and *ret_path (caller frees), or -errno. cli_tmp_dir() is $TMPDIR or
 * /tmp, for prefixes of private scratch files.
 */
int cli_temp_file(const char *prefix, char **ret_path);
const char *cli_tmp_dir(void);

/* "try 'ember CMD --help'" hint after a usage error. */
void cli_usage_hint(const char *cmd);

/*
 * Check one --label K=V (K: letters, digits, '_', not a built-in label; V:
 * no ',') and append it to the "k=v,k=v" list in labels (size bytes).
 * Returns 0, or -EINVAL after printing an error naming the flag.
 */
int cli_add_label(const char *arg, char *labels, size_t size);

/* Sub-commands. Each returns the process exit status. */
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_serve(int argc, char **argv);
