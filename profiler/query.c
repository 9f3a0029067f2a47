/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.c — the command line's time ranges and filters (--from, --to,
 * --filter, and diff's --base-* variants) turned into a storage query, with
 * one clear message for text that does not parse, an inverted range, or a
 * range that misses the recording; and opening what report and diff read:
 * an Ember database (never written; an older schema through a migrated
 * private copy) or a pprof file (through a temporary database).
 */
#include "query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"

static void format_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

int query_from_flags(const char *from, const char *to, const char *filter,
		     const char *prefix, struct store_query *q, struct store_filter **ret_filter)
{
	int64_t now = (int64_t)time(NULL);
	char *msg = NULL, b1[64], b2[64];
	int err;

	store_query_init(q);
	if (from && store_time_parse(from, now, &q->from_s, &msg) < 0)
		goto bad_time;
	if (to && store_time_parse(to, now, &q->to_s, &msg) < 0)
		goto bad_time;
	if (from && to && q->from_s >= q->to_s) {
		format_time(q->from_s, b1, sizeof(b1));
		format_time(q->to_s, b2, sizeof(b2));
		cli_error("--%sfrom %s (%s) is not before --%sto %s (%s): the range is %s",
			  prefix, from, b1, prefix, to, b2,
			  q->from_s == q->to_s ? "empty" : "inverted; swap them");
		return -EINVAL;
	}
	if (filter) {
		err = store_filter__parse(filter, ret_filter, &msg);
		if (err) {
			cli_error("--%sfilter '%s': %s", prefix, filter,
				  msg ? msg : strerror(-err));
			free(msg);
			return -EINVAL;
		}
		q->filter = *ret_filter;
	}
	return 0;
bad_time:
	cli_error("%s", msg ? msg : "cannot read the time");
	free(msg);
	return -EINVAL;
}

int query_check_range(const char *path, struct store_db *db, const struct store_query *q)
{
	char b1[64], b2[64], b3[64], b4[64];
	int64_t first = 0, end = 0;
	int err;

	if (q->from_s == INT64_MIN && q->to_s == INT64_MAX)
		return 0;
	err = store_db__span(db, NULL, &first, &end, NULL);
	if (err) {
		cli_error("cannot read %s: %s (%s)", path, store_strerror(err), store_db__errmsg(db));
		return err;
	}
	if (end > first && (q->to_s <= first || q->from_s >= end)) {
		format_time(q->from_s == INT64_MIN ? first : q->from_s, b1, sizeof(b1));
		format_time(q->to_s == INT64_MAX ? end : q->to_s, b2, sizeof(b2));
		format_time(first, b3, sizeof(b3));
		format_time(end, b4, sizeof(b4));
		cli_error("the range %s .. %s is outside the recording in %s, "
			  "which spans %s .. %s", b1, b2, path, b3, b4);
		return -ERANGE;
	}
	return 0;
}


static int copy_file(const char *from, int to_fd)
{
	char buf[1 << 16];
	ssize_t n;
	int fd = open(from, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to_fd, buf + off, n - off);

			if (w < 0) {
				err = -errno;
				goto out;
			}
			off += w;
		}
	}
	if (n < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

int query_open_db(const char *path, struct store_db **ret_db, char **ret_tmp)
{
	char prefix[4096], *tmp = NULL;
	int fd, err;

	*ret_tmp = NULL;
	/* report and diff hold one handle on a file at a time. */
	err = store_db__open(path, STORE_OPEN_READ | STORE_OPEN_TIDY, ret_db);
	if (err != -EPROTO)
		return err;
	/* An older schema: migrate a private copy, leave the file as it is. */
	snprintf(prefix, sizeof(prefix), "%s/ember-read", cli_tmp_dir());
	fd = cli_temp_file(prefix, &tmp);
	if (fd < 0)
		return fd;
	err = copy_file(path, fd);
	close(fd);
	/* Flushes of an interrupted recording may still be in its -wal. */
	if (!err) {
		char wal[4096 + 8], tmp_wal[4096 + 8];

		snprintf(wal, sizeof(wal), "%s-wal", path);
		snprintf(tmp_wal, sizeof(tmp_wal), "%s-wal", tmp);
		if (access(wal, F_OK) == 0) {
			fd = open(tmp_wal, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			err = fd < 0 ? -errno : copy_file(wal, fd);
			if (fd >= 0)
				close(fd);
		}
	}
	if (!err)
		err = store_db__open(tmp, STORE_OPEN_WRITE, ret_db);
	if (err) {
		cli_remove_db(tmp);
		free(tmp);
		return err;
	}
	*ret_tmp = tmp;
	return 0;
}

/* True when path starts like an SQLite file (an Ember database). */
static bool is_sqlite_file(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	FILE *f = fopen(path, "re");
	bool yes;

	if (!f)
		return true; /* let the database open say what is wrong */
	yes = fread(head, 1, sizeof(head), f) == sizeof(head) && !memcmp(head, magic, 16);
	fclose(f);
	return yes;
}

static int open_pprof(const char *what, const char *path,
		      const struct store_pprof_options *opts, struct store_db **ret_db,
		      char **ret_tmp, struct store_pprof_choice *ret_choice)
{
	char prefix[4096], *tmp = NULL;
	struct store_db *db = NULL;
	void *data = NULL;
	size_t size = 0;
	int fd, err;

	err = cli_read_file(path, QUERY_MAX_PPROF, &data, &size);
	if (err)
		return err;
	snprintf(prefix, sizeof(prefix), "%s/ember-pprof", cli_tmp_dir());
	fd = cli_temp_file(prefix, &tmp);
	if (fd < 0) {
		err = fd;
		cli_error("cannot create a temporary database in %s: %s", cli_tmp_dir(),
			  strerror(-err));
		goto out;
	}
	close(fd);
	err = store_db__open(tmp, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db);
	if (!err)
		err = store_db__import_pprof(db, data, size, opts, NULL, ret_choice);
	if (err) {
		if (err == -ENOENT && db)
			cli_error("%s: %s", path, store_db__errmsg(db));
		else
			cli_error("cannot open %s%s%s: it is neither an Ember database nor a "
				  "pprof profile (%s)", what, *what ? " profile " : "", path,
				  db && *store_db__errmsg(db) ? store_db__errmsg(db) : store_strerror(err));
		store_db__close(db);
		cli_remove_db(tmp);
		free(tmp);
		goto out;
	}
	*ret_db = db;
	*ret_tmp = tmp;
out:
	free(data);
	return err;
}

int query_open_profile(const char *what, const char *path,
		       const struct store_pprof_options *opts, struct store_db **ret_db,
		       char **ret_tmp, bool *ret_pprof, struct store_pprof_choice *ret_choice)
{
	bool sqlite;
	int err;

	if (ret_pprof)
		*ret_pprof = false;
	*ret_tmp = NULL;
	/* the fleet store: its credentials from the URL or the environment */
	if (cli_is_remote(path))
		return cli_remote_store_open(path, NULL, getenv("EMBER_CLICKHOUSE_CA"), 0, ret_db);
	sqlite = is_sqlite_file(path);
	if (ret_pprof)
		*ret_pprof = !sqlite;
	if (!sqlite)
		return open_pprof(what, path, opts, ret_db, ret_tmp, ret_choice);
	err = query_open_db(path, ret_db, ret_tmp);
	if (err == -ENOENT)
		cli_error("cannot open %s%s%s: no such file%s%s%s", what, *what ? " profile " : "",
			  path, *what ? "" : "; record one with 'ember record -o ",
			  *what ? "" : path, *what ? "" : " -- COMMAND'");
	else if (err)
		cli_error("cannot open %s%s%s: %s", what, *what ? " profile " : "", path,
			  store_strerror(err));
	return err;
}
