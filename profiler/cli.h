/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h — what every sub-command shares: the error lines and the table of
 * flags (cli_flags.h), and the files ember reads and writes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli_flags.h" /* error lines, numbers, the table of flags */

/* Remove a database file and its SQLite companions (-wal, -shm, -journal). */
void cli_remove_db(const char *path);
/* Remove only the companions. */
void cli_remove_companions(const char *path);

/* ---- the files ember writes (files.c) ---- */

/* How a file is written: private (0600) by default; shared = 0640 with
 * group gid (--group); force: a database may replace a file that is not
 * an Ember database (--force). */
struct cli_file_opts {
	bool shared;
	gid_t gid;
	bool force;
};

enum cli_file_kind {
	CLI_FILE_DATABASE, /* an Ember database: created, continued or replaced */
	CLI_FILE_OUTPUT,   /* a report, export or HTML page: created or truncated */
};

/* The help text of --group and --force, for the commands that write a
 * database. */
#define GROUP_OPTION_HELP \
	"      --group NAME      share what is written with group NAME (mode\n" \
	"                        0640; by default it is private to its owner, 0600)\n"
#define FILE_OPTIONS_HELP GROUP_OPTION_HELP \
	"      --force           replace FILE even if it is not an Ember database\n" \
	"                        (a regular file; links and devices are refused)\n"

/* Parse --group NAME (a group name or number) into o. Prints and returns
 * -EINVAL for a group that does not exist. */
int cli_parse_group(const char *arg, struct cli_file_opts *o);
int cli_flag_group(const char *value, const struct cli_flag *f);

/* The flags of the files a command writes (struct cli_file_opts *o):
 * --group NAME, and for a database --force. */
#define CLI_GROUP(o) CLI_CALL("group", 0, cli_flag_group, CLI_TYPED(struct cli_file_opts, o))
#define CLI_FILE_FLAGS(o) CLI_GROUP(o), CLI_SET("force", 0, &(o)->force)

/* The mode of the files ember writes with o (NULL: defaults). */
mode_t cli_file_mode(const struct cli_file_opts *o);

/*
 * The one way ember opens a file to write it. Refuses (with one message
 * naming the file, and what to do) a symbolic link (names its target), a
 * directory, FIFO, device or socket; for CLI_FILE_DATABASE an existing file
 * that is not an Ember database, empty or not, unless o->force (then it is
 * emptied and its -wal/-shm/-journal removed); for CLI_FILE_OUTPUT an
 * existing SQLite database (an output file is truncated). Creates a new
 * file exclusively and never through a link; gives the file the mode of o
 * (0600, or 0640 and the group). Returns the fd (O_RDWR, close-on-exec)
 * and *ret_created (may be NULL: the file is new or was replaced with
 * --force), or -errno after printing.
 */
int cli_file_open(const char *path, enum cli_file_kind kind, const struct cli_file_opts *o,
		  bool *ret_created);

/* cli_file_open's checks only, changing nothing: for a failure before
 * the slow part of a command. Returns 0 or -errno after printing. */
int cli_file_check(const char *path, enum cli_file_kind kind, const struct cli_file_opts *o);

/* cli_file_open for an output, as a stdio stream ("w"). NULL after
 * printing the reason. */
FILE *cli_output_open(const char *path, const struct cli_file_opts *o);

/* Give the -wal, -shm and -journal beside the database path the mode of o;
 * refuses (prints, -EEXIST) one that is a link or not a regular file. */
int cli_db_companions(const char *path, const struct cli_file_opts *o);

struct store_db;
/*
 * Open the database at path to write it (store_db__open with flags,
 * which include STORE_OPEN_WRITE) after cli_file_open's checks, and check
 * that SQLite opened the file that was checked. Prints the reason of a
 * failure and returns -errno; a file created here is removed again.
 */
int cli_db_open(const char *path, unsigned flags, const struct cli_file_opts *o,
		struct store_db **ret_db, bool *ret_created);

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

/* Sub-commands. Each returns the process exit status. */
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_fleet_init(int argc, char **argv);
int cmd_fleet_maintain(int argc, char **argv);

struct store_ch;
struct store_policy;
/* The fleet store's retention once (store_ch__maintain as of now, with
 * policy p; NULL: the defaults), its figures on stdout or the error on
 * stderr. Returns 0 or -errno. */
int cli_fleet_maintain(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		       const struct store_policy *p);

/* --shard URL (repeatable): a cluster's shards (fleet-init,
 * fleet-maintain, serve --maintain). */
#define CLI_MAX_SHARDS 64
struct cli_shards {
	const char *urls[CLI_MAX_SHARDS]; /* borrowed from argv */
	size_t n;
};
int cli_flag_shard(const char *value, const struct cli_flag *f);
#define CLI_SHARD(s) CLI_CALL("shard", 0, cli_flag_shard, CLI_TYPED(struct cli_shards, s))

/* --retention-days N (fleet-maintain, serve --maintain): the fleet store's
 * days kept, into a uint64_t left as it was when not given (UINT64_MAX:
 * the policy's default); a century at most (surely a typo past it). */
#define CLI_RETENTION_DAYS(p) CLI_U64("retention-days", 0, p, 0, 36500)
#define CLI_RETENTION_DAYS_HELP \
	"      --retention-days N  drop the days that ended more than N days ago\n" \
	"                        (default 30; 0 keeps every day)\n"
/* The fleet store's retention policy: the defaults (store_policy_init),
 * with max_age from days unless it is UINT64_MAX. */
void cli_fleet_policy(uint64_t days, struct store_policy *ret);

/*
 * ember serve --store URL --maintain: a thread that runs
 * cli_fleet_maintain on url (and its cluster's shard_urls[0..n)) now and
 * every interval_s seconds until cli_maintainer_stop, with policy
 * (copied). The credentials as
 * cli_remote_config's. Prints one clear line on failure. Returns 0 and
 * *ret, or -errno.
 */
struct cli_maintainer;
int cli_maintainer_start(const char *url, const char *password_file, const char *ca_file,
			 const char *const *shard_urls, size_t n, unsigned interval_s,
			 const struct store_policy *policy, struct cli_maintainer **ret);
/* Stop the thread (a run in progress finishes first) and free m. */
void cli_maintainer_stop(struct cli_maintainer *m);

/*
 * A ClickHouse client for --remote URL (fleet.c): the user and password
 * from the URL, replaced by EMBER_CLICKHOUSE_USER / EMBER_CLICKHOUSE_PASSWORD
 * when set, the password by password_file's first line when given.
 * Prints one clear line on failure. Returns 0 and *ret_ch, or -errno.
 */
int cli_remote_open(const char *url, const char *password_file, const char *ca_file,
		    unsigned timeout_s, struct store_ch **ret_ch);

struct store_ch_config;
struct store_db;
/*
 * The same credentials as a client configuration (strings borrowed from
 * url, the environment and *ret_password, which the caller frees with
 * cli_forget_password once done with *ret). Prints one clear line on
 * failure. Returns 0 or -errno.
 */
int cli_remote_config(const char *url, const char *password_file, const char *ca_file,
		      unsigned timeout_s, struct store_ch_config *ret, char **ret_password);
/* Wipe and free a password (NULL is fine). */
void cli_forget_password(char *password);
/* Whether source names the fleet store (clickhouse://, https://), not a file. */
bool cli_is_remote(const char *source);
/*
 * Open the fleet store at url for reading (store_db__open_clickhouse) with
 * the credentials of cli_remote_config. Prints one clear line on failure
 * (what ClickHouse or the network said). Returns 0 and *ret_db, or -errno.
 */
int cli_remote_store_open(const char *url, const char *password_file, const char *ca_file,
			  unsigned timeout_s, struct store_db **ret_db);
