/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-badfiles.c — files a user may point Ember at by mistake or
 * after trouble: not SQLite, another application's SQLite file, a file from
 * a newer Ember, a truncated or corrupted file, and a read-only file or
 * directory. Each must give a clear error (never a crash), foreign files
 * must stay untouched, and read-only files must stay readable and unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "storage-test.h"

/* Run sql on path as Ember's writer would: through the checksum VFS (the
 * storage module's "ember-checksum", registered by any store_db__open),
 * so the pages written keep valid checksums. */
static void ember_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "ember-checksum") == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

#define NOBODY 65534

static const struct store_labels labels = {
	.process = "app", .pid = 1, .tid = 1,
};

/* An Ember file with n_flushes flushes of 40 samples each. */
static void make_db(const char *path, int n_flushes)
{
	struct store_db *db;
	char stack[64];

	/* TRUNCATE would (rightly) refuse a foreign file left by a test. */
	CHECK(unlink(path) == 0 || errno == ENOENT);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	for (int i = 0; i < n_flushes; i++) {
		CHECK_RC(store_db__begin(db, i, 1), 0);
		for (int j = 0; j < 4; j++) {
			snprintf(stack, sizeof(stack), "main;fn_%d_%d;leaf", i, j);
			CHECK_RC(add_folded(db, &labels, stack, STORE_FRAME_USER,
					    0, 10), 0);
		}
		CHECK_RC(store_db__commit(db), 0);
	}
	store_db__close(db);
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	CHECK(write(fd, data, n) == (ssize_t)n);
	close(fd);
}

/* Write a big-endian 32-bit value at off (SQLite header fields). */
static void patch_be32(const char *path, off_t off, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
	int fd = open(path, O_WRONLY);

	CHECK(fd >= 0);
	CHECK(pwrite(fd, b, 4, off) == 4);
	close(fd);
}

/* Both open modes fail with want, and the file is left as it was. */
static void check_refused(const char *path, int want)
{
	uint64_t before = file_checksum(path);
	struct store_db *db = NULL;

	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), want);
	CHECK(db == NULL);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), want);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE,
				&db), want);
	CHECK(db == NULL);
	CHECK_U64(file_checksum(path), before);
}

/*
 * Some step of reading a damaged file must report it: the open, a query or
 * the integrity check. Returns without crashing either way; fails the test
 * if the damage went unnoticed.
 */
static void check_damage_noticed(const char *path)
{
	struct store_summary *s;
	struct store_tree *t;
	struct store_db *db;
	char *msg;
	int r, noticed = 0;

	r = store_db__open(path, STORE_OPEN_READ, &db);
	if (r < 0) {
		CHECK(r == -EINVAL || r == -EIO || r == -EUCLEAN);
		return;
	}
	r = store_db__summary(db, NULL, &s);
	if (r < 0)
		noticed = 1;
	else
		store_summary__free(s);
	r = store_db__query_tree(db, NULL, &t);
	if (r < 0)
		noticed = 1;
	else
		store_tree__free(t);
	r = store_db__check(db, &msg);
	if (r != 0)
		noticed = 1;
	if (r >= 0)
		free(msg);
	store_db__close(db);
	CHECK(noticed);
}

static void test_foreign_files(const char *dir)
{
	char *path = path_in(dir, "foreign.db");
	static const char text[] = "# not a database\nhello\n";
	char big[8192];

	write_file(path, text, sizeof(text) - 1);
	check_refused(path, -EINVAL);

	memset(big, 'x', sizeof(big));
	write_file(path, big, sizeof(big));
	check_refused(path, -EINVAL);

	/* An Ember file whose header claims another application. */
	make_db(path, 2);
	ember_exec(path, "PRAGMA application_id = 0");
	check_refused(path, -EINVAL);
	ember_exec(path, "PRAGMA application_id = 305419896");
	check_refused(path, -EINVAL);

	/* A newer Ember wrote it. */
	make_db(path, 2);
	ember_exec(path, "PRAGMA user_version = 1000");
	check_refused(path, -ENOTSUP);

	/* The same bytes changed in place, not by SQLite: the header page
	 * fails its checksum, which says "damaged", not "foreign". */
	make_db(path, 2);
	patch_be32(path, 68, 0);
	check_refused(path, -EUCLEAN);
	make_db(path, 2);
	patch_be32(path, 60, STORE_SCHEMA_VERSION + 1);
	check_refused(path, -EUCLEAN);

	/* A broken magic string. */
	make_db(path, 2);
	write_file(path, "SQLite format 2", 15);
	check_refused(path, -EINVAL);
	free(path);
}

static void test_empty_file(const char *dir)
{
	char *path = path_in(dir, "empty.db");
	struct store_db *db;

	write_file(path, "", 0);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), -EINVAL);
	/* An empty file is an empty database: a writer may take it. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	store_db__close(db);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), 0);
	store_db__close(db);
	free(path);
}

static void test_damaged_files(const char *dir)
{
	char *path = path_in(dir, "damaged.db");
	unsigned char junk[16384];
	struct stat st;

	make_db(path, 300);
	CHECK(stat(path, &st) == 0);
	CHECK(st.st_size > 64 * 1024);
	CHECK(truncate(path, st.st_size / 2) == 0);
	check_damage_noticed(path);

	make_db(path, 300);
	CHECK(stat(path, &st) == 0);
	CHECK(truncate(path, 3000) == 0);
	check_damage_noticed(path);

	make_db(path, 300);
	CHECK(stat(path, &st) == 0);
	memset(junk, 0xa5, sizeof(junk));
	{
		int fd = open(path, O_WRONLY);

		CHECK(fd >= 0);
		CHECK(pwrite(fd, junk, sizeof(junk), st.st_size / 3) ==
		      (ssize_t)sizeof(junk));
		close(fd);
	}
	check_damage_noticed(path);
	free(path);
}

/* In a child without privileges: read works, write is refused. */
static void read_only_child(char *const *paths, size_t n, uint64_t samples)
{
	struct store_tree *t;
	struct store_db *db;

	if (geteuid() == 0) {
		CHECK(setgroups(0, NULL) == 0);
		CHECK(setgid(NOBODY) == 0);
		CHECK(setuid(NOBODY) == 0);
	}
	CHECK(geteuid() != 0);
	for (size_t i = 0; i < n; i++) {
		CHECK_RC(store_db__open(paths[i], STORE_OPEN_READ, &db), 0);
		CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX), samples);
		CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
		CHECK_U64(store_tree__node(t, 0)->total, samples);
		store_tree__free(t);
		CHECK_RC(store_db__begin(db, 1000, 1), -EROFS);
		store_db__close(db);
		CHECK_RC(store_db__open(paths[i], STORE_OPEN_WRITE, &db),
			 -EACCES);
	}
	_exit(0);
}

static void test_read_only(const char *dir)
{
	char *rw_dir = path_in(dir, "rw"), *ro_dir = path_in(dir, "ro");
	char *paths[3] = {
		path_in(rw_dir, "ro-file.db"), /* read-only file */
		path_in(ro_dir, "ro-file.db"), /* ... in a read-only dir */
		path_in(ro_dir, "rw-file.db"), /* writable file, ro dir */
	};
	uint64_t sums[3];
	int status;
	pid_t pid;

	CHECK(chmod(dir, 0755) == 0);
	CHECK(mkdir(rw_dir, 0777) == 0 && chmod(rw_dir, 0777) == 0);
	CHECK(mkdir(ro_dir, 0755) == 0);
	for (size_t i = 0; i < 3; i++) {
		make_db(paths[i], 5);
		CHECK(chmod(paths[i], i == 2 ? 0666 : 0444) == 0);
		sums[i] = file_checksum(paths[i]);
	}
	CHECK(chmod(ro_dir, 0555) == 0);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		read_only_child(paths, 3, 5 * 40);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < 3; i++) {
		CHECK_U64(file_checksum(paths[i]), sums[i]);
		free(paths[i]);
	}
	free(rw_dir);
	free(ro_dir);
}

/* A URL names another backend's store: clickhouse:// the fleet store's
 * (read-only: a writable open is -EROFS; nothing listening on port 1 is
 * -ECONNREFUSED), any other scheme none; no file of that name is opened
 * or created, also by a writable open. */
static void test_other_backend(const char *dir)
{
	struct store_db *db = NULL;
	struct stat st;

	CHECK(chdir(dir) == 0);
	CHECK_RC(store_db__open("clickhouse://127.0.0.1:1/ember", STORE_OPEN_READ, &db),
		 -ECONNREFUSED);
	CHECK_RC(store_db__open("clickhouse://127.0.0.1:1/ember", STORE_OPEN_WRITE, &db),
		 -EROFS);
	CHECK_RC(store_db__open("clickhouse://127.0.0.1:1/no-such/name", STORE_OPEN_READ, &db),
		 -EINVAL);
	CHECK_RC(store_db__open("s3://bucket/ember", STORE_OPEN_READ, &db), -EPROTONOSUPPORT);
	CHECK_RC(store_db__open("s3://bucket/ember", STORE_OPEN_WRITE, &db), -EPROTONOSUPPORT);
	CHECK(db == NULL);
	CHECK(stat("clickhouse:", &st) != 0 && stat("s3:", &st) != 0);
	CHECK(strstr(store_strerror(-EPROTONOSUPPORT), "backend") != NULL);
	/* A file name with a colon is still a file. */
	CHECK_RC(store_db__open("./a:b.db", STORE_OPEN_WRITE, &db), 0);
	store_db__close(db);
}

int main(void)
{
	char *dir = make_tempdir();

	test_foreign_files(dir);
	test_empty_file(dir);
	test_damaged_files(dir);
	test_read_only(dir);
	test_other_backend(dir);
	cleanup_tempdir(dir);
	return 0;
}
