/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sql.c — layer 1 of the storage module (storage/DESIGN.md): the
 * SQLite connection under a store_db handle. Opening and validating a
 * file (the header, WAL mode and its bounds, page checksums through
 * store_vfs.c), the prepared statements the layers above keep, reads of
 * one snapshot, metadata, checkpoints, the integrity check, and the
 * boundary to SQLite's result codes: every one is turned into -errno
 * here (store_sql__fail) and its message kept for store_db__errmsg()
 * (in the handle's head, struct store_db).
 * Nothing here knows the writer, the queries or the migrations: the
 * backend's open (store_sqlite.c) runs the migrations after this layer has
 * opened the file, and closes the layers above before this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "store_sql.h"

/* How long a reader or writer waits for a lock held by another handle. */
#define STORE_BUSY_TIMEOUT_MS 5000

static int err_from_sqlite(int rc)
{
	/* A page that fails its checksum (store_vfs.c). */
	if (rc == SQLITE_IOERR_DATA)
		return -EUCLEAN;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_INTERRUPT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* SQLite's progress handler: a non-zero return interrupts the statement,
 * which then fails with SQLITE_INTERRUPT (-ETIMEDOUT). */
static int deadline_check(void *ctx)
{
	const struct store_sqlite *db = ctx;

	return db->deadline_ns && common_now_ns() > db->deadline_ns;
}

void store_sqlite__set_deadline(struct store_db *handle, uint64_t deadline_ns)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	if (!db)
		return;
	db->deadline_ns = deadline_ns;
	sqlite3_progress_handler(db->sql, deadline_ns ? 10000 : 0,
				 deadline_ns ? deadline_check : NULL, db);
}

int store_sql__fail_msg(struct store_sqlite *db, int err, const char *msg)
{
	snprintf(db->base.errmsg, sizeof(db->base.errmsg), "%s", msg);
	return err;
}

int store_sql__fail(struct store_sqlite *db, int rc)
{
	int err = err_from_sqlite(rc);

	/* A failure that SQLite reports as success would be a bug here;
	 * never let it turn into a 0 return. */
	if (err == 0)
		err = -EIO;
	if (err == -EUCLEAN)
		return store_sql__fail_msg(db, err, "a page of the file fails its checksum: "
					  "the time range asked for cannot be read");
	return store_sql__fail_msg(db, err, sqlite3_errmsg(db->sql));
}

int store_sql__stmt(struct store_sqlite *db, enum store_stmt id, const char *sql,
		    sqlite3_stmt **ret_stmt)
{
	sqlite3_stmt *st = db->stmts[id];
	int rc;

	if (!st) {
		rc = sqlite3_prepare_v3(db->sql, sql, -1,
					SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK)
			return store_sql__fail(db, rc);
		db->stmts[id] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	*ret_stmt = st;
	return 0;
}

int store_sql__put_blob(struct store_sqlite *db, enum store_stmt id, const char *sql,
			int64_t a, int64_t b, int64_t c, const void *data, size_t len)
{
	sqlite3_stmt *st;
	int r, rc;

	r = store_sql__stmt(db, id, sql, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}

int store_sql__exec(struct store_sqlite *db, const char *sql)
{
	int rc = sqlite3_exec(db->sql, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sql__fail(db, rc);
}

int store_sql__put(struct store_sqlite *db, enum store_stmt id, const char *sql,
		   const struct store_sql_value *values, size_t n)
{
	sqlite3_stmt *st;
	int r, rc;

	r = store_sql__stmt(db, id, sql, &st);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (values[i].text)
			sqlite3_bind_text(st, (int)i + 1, values[i].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, (int)i + 1, values[i].i);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}

int store_sql__range_rows(struct store_sqlite *db, const char *sql, const struct store_query *q,
			  int (*row)(sqlite3_stmt *st, void *ctx), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int64_t from_s = q ? q->from_s : INT64_MIN, to_s = q ? q->to_s : INT64_MAX;
	int rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL), r = 0;

	if (rc != SQLITE_OK) {
		/* written before the table existed: nothing to read */
		if (strstr(sqlite3_errmsg(db->sql), "no such table"))
			return 0;
		return store_sql__fail(db, rc);
	}
	sqlite3_bind_int64(st, 1, from_s);
	sqlite3_bind_int64(st, 2, to_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = row(st, ctx);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

/* Run a query returning one integer. */
int store_sql__query_int(struct store_sqlite *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
out:
	if (rc != SQLITE_OK)
		rc = store_sql__fail(db, rc);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Read the file's identity. Returns the schema version (0 for an empty file
 * that may become an Ember database), or -EINVAL (another application's file,
 * not SQLite, corrupt), -ENOTSUP (newer Ember), -errno.
 */
int store_sql__version(struct store_sqlite *db)
{
	int64_t app_id, version, n_objects;
	int r;

	r = store_sql__query_int(db, "PRAGMA application_id", &app_id);
	if (r < 0)
		return r;
	r = store_sql__query_int(db, "PRAGMA user_version", &version);
	if (r < 0)
		return r;
	r = store_sql__query_int(db, "SELECT count(*) FROM sqlite_schema", &n_objects);
	if (r < 0)
		return r;
	if (app_id == 0 && version == 0 && n_objects == 0)
		return 0;
	if (app_id != STORE_APPLICATION_ID)
		return store_sql__fail_msg(db, -EINVAL,
					  "not an Ember database");
	if (version > STORE_SCHEMA_VERSION)
		return store_sql__fail_msg(db, -ENOTSUP,
					  "database written by a newer Ember");
	if (version < 0)
		return store_sql__fail_msg(db, -EINVAL, "bad schema version");
	return (int)version;
}

/* The reserved bytes per page the file has (or, on a new file, will
 * have); with want >= 0, ask for want (taking effect on a new file, or
 * at the next VACUUM). */
int store_sql__reserve_bytes(struct store_sqlite *db, int want)
{
	int n = want;

	if (sqlite3_file_control(db->sql, "main", SQLITE_FCNTL_RESERVE_BYTES, &n) != SQLITE_OK)
		return -1;
	return n;
}

/* How the checksum VFS treats this file's pages (STORE_FCNTL_CHECKSUMS). */
void store_sql__set_checksums(struct store_sqlite *db, int mode)
{
	sqlite3_file_control(db->sql, "main", STORE_FCNTL_CHECKSUMS, &mode);
}

/* A file of this schema has a checksum in every page: check them all. A
 * header that says otherwise was damaged. */
int store_sql__check_checksums(struct store_sqlite *db)
{
	if (store_sql__reserve_bytes(db, -1) != STORE_PAGE_RESERVE)
		return store_sql__fail_msg(db, -EUCLEAN, "damaged database header "
					  "(its pages should carry checksums)");
	store_sql__set_checksums(db, 1);
	return 0;
}

/*
 * Keep the WAL small. SQLite's default checkpoints after 1000 pages, 16
 * MiB of WAL with our 16 KiB pages, and never shrinks the file: on a small
 * disk the WAL alone filled it, and since the automatic checkpoint runs
 * only after a commit that succeeded, a commit that needed the WAL to grow
 * never succeeded again (also after a restart). Checkpoint after about
 * STORE_WAL_CHECKPOINT_BYTES and cut the WAL back to STORE_WAL_LIMIT_BYTES
 * when it restarts; a failed commit checkpoints too (store_sqlite__commit).
 */
static int bound_wal(struct store_sqlite *db)
{
	char sql[128];
	int64_t page;
	int r;

	r = store_sql__query_int(db, "PRAGMA page_size", &page);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %lld;"
		 "PRAGMA journal_size_limit = %lld",
		 (long long)(STORE_WAL_CHECKPOINT_BYTES / (page > 0 ? page : 4096)),
		 (long long)STORE_WAL_LIMIT_BYTES);
	return store_sql__exec(db, sql);
}

int store_sql__checkpoint(struct store_sqlite *db, enum store_checkpoint mode)
{
	int busy = 0, log = 0, done = 0, rc;

	if (!db || !db->writable || store_sql__in_transaction(db))
		return -EINVAL;
	/* Without a busy handler a reader in the way makes SQLite go on
	 * as a passive checkpoint would. */
	if (mode == STORE_CHECKPOINT_IDLE)
		sqlite3_busy_timeout(db->sql, 0);
	rc = sqlite3_wal_checkpoint_v2(db->sql, NULL, mode == STORE_CHECKPOINT_PASSIVE ?
				       SQLITE_CHECKPOINT_PASSIVE :
				       SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
	if (mode == STORE_CHECKPOINT_IDLE) {
		sqlite3_busy_timeout(db->sql, STORE_BUSY_TIMEOUT_MS);
		if (rc == SQLITE_BUSY)
			return -EBUSY;
	}
	if (rc != SQLITE_OK)
		return err_from_sqlite(rc) ? err_from_sqlite(rc) : -EIO;
	busy = log != done;
	return busy ? -EBUSY : 0;
}

/* Empty an Ember file in place (STORE_OPEN_TRUNCATE). */
static int reset(struct store_sqlite *db)
{
	int r;

	sqlite3_db_config(db->sql, SQLITE_DBCONFIG_RESET_DATABASE, 1, NULL);
	r = store_sql__exec(db, "VACUUM");
	sqlite3_db_config(db->sql, SQLITE_DBCONFIG_RESET_DATABASE, 0, NULL);
	return r;
}

/*
 * A "file:" URI for path with every byte that is not plainly safe
 * percent-encoded, followed by query (e.g. "mode=ro").
 */
static char *path_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(path);
	char *uri = malloc(5 + 3 * len + 1 + strlen(query) + 1);
	char *p = uri;

	if (!uri)
		return NULL;
	p += sprintf(p, "file:");
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/-._~", *s)) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		}
	}
	sprintf(p, "?%s", query);
	return uri;
}

static int open_sqlite(struct store_sqlite *db, const char *path,
		       const char *query, int flags)
{
	char *uri = path_uri(path, query);
	int rc;

	if (!uri)
		return -ENOMEM;
	if (store_vfs__register() < 0) {
		free(uri);
		return -ENOSYS;
	}
	rc = sqlite3_open_v2(uri, &db->sql, flags | SQLITE_OPEN_URI |
			     SQLITE_OPEN_NOMUTEX, STORE_VFS_NAME);
	free(uri);
	if (rc != SQLITE_OK) {
		if (!db->sql)
			return -ENOMEM;
		return store_sql__fail(db, rc);
	}
	sqlite3_extended_result_codes(db->sql, 1);
	sqlite3_busy_timeout(db->sql, STORE_BUSY_TIMEOUT_MS);
	return 0;
}

static void close_sqlite(struct store_sqlite *db)
{
	for (size_t i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(db->stmts[i]);
		db->stmts[i] = NULL;
	}
	sqlite3_close_v2(db->sql);
	db->sql = NULL;
}

static bool side_file_exists(const char *path, const char *suffix)
{
	char side[PATH_MAX];

	snprintf(side, sizeof(side), "%s%s", path, suffix);
	return access(side, F_OK) == 0;
}

static int open_read(struct store_sqlite *db, const char *path)
{
	int r;

	if (access(path, F_OK) < 0)
		return -errno;
	if (access(path, R_OK) < 0)
		return -EACCES;
	r = open_sqlite(db, path, "mode=ro", SQLITE_OPEN_READONLY);
	if (r == 0)
		r = store_sql__version(db);
	/*
	 * A WAL file without -wal/-shm that we may not create (read-only
	 * file or directory) cannot be opened normally. No writer has it
	 * open (a writer keeps -wal while it runs), so read it as immutable:
	 * SQLite then takes no locks and never touches the files. A -wal
	 * that exists holds data immutable mode would miss: report instead.
	 */
	if ((r == -ENOENT || r == -EROFS || r == -EACCES) &&
	    !side_file_exists(path, "-wal")) {
		close_sqlite(db);
		r = open_sqlite(db, path, "mode=ro&immutable=1",
				SQLITE_OPEN_READONLY);
		if (r == 0)
			r = store_sql__version(db);
	}
	if (r < 0)
		return r;
	if (r == 0)
		return store_sql__fail_msg(db, -EINVAL,
					  "not an Ember database (empty)");
	if (r < STORE_SCHEMA_VERSION)
		return store_sql__fail_msg(db, -EPROTO,
					  "database uses an older schema");
	return store_sql__check_checksums(db);
}

static int open_write(struct store_sqlite *db, const char *path, unsigned flags)
{
	int r;

	r = open_sqlite(db, path, "mode=rwc",
			SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (r < 0)
		return r;
	/* SQLite quietly falls back to read-only for a file it cannot
	 * write; a writer wants to know now, not at the first flush. */
	if (sqlite3_db_readonly(db->sql, "main") == 1)
		return store_sql__fail_msg(db, -EACCES,
					  "database file is read-only");
	/* Validate before anything writes, so another application's file
	 * is left exactly as it was. */
	r = store_sql__version(db);
	if (r < 0)
		return r;
	/* Only take effect before the first table is created (the page
	 * size also before WAL mode, and through the VACUUM of a reset):
	 * existing files keep theirs. 16 KiB pages hold ~23 sample blocks
	 * with little slack. */
	if (r == 0 || (flags & STORE_OPEN_TRUNCATE)) {
		int e = store_sql__exec(db, "PRAGMA page_size = 16384");

		if (e < 0)
			return e;
		/* Page checksums from the first page on (store_vfs.c); a
		 * reset rewrites the old pages, which may have none. */
		store_sql__reserve_bytes(db, STORE_PAGE_RESERVE);
		store_sql__set_checksums(db, r == 0 ? 1 : 2);
	}
	if (flags & STORE_OPEN_TRUNCATE) {
		r = reset(db);
		if (r < 0)
			return r;
		r = 0;
	}
	if (r == 0) {
		r = store_sql__exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
		if (r < 0)
			return r;
	}
	r = store_sql__exec(db, "PRAGMA journal_mode = WAL;"
			   "PRAGMA synchronous = NORMAL");
	if (r < 0)
		return r;
	return bound_wal(db);
}

/*
 * SQLite's lock bytes (the lock-byte page of its file format): every
 * connection to a WAL file holds a read lock on the SHARED range of the
 * database file while it is open, and the last one to close, seeing it
 * can take a write lock there, deletes -wal and -shm. A read-only
 * connection never does, so they stay behind a reader. This does the
 * same for a handle opened with STORE_OPEN_TIDY, under the same lock:
 * nobody else has the file open, and nobody opens it meanwhile.
 */
#define STORE_SQLITE_PENDING 0x40000000
#define STORE_SQLITE_SHARED_FIRST (STORE_SQLITE_PENDING + 2)
#define STORE_SQLITE_SHARED_SIZE 510

static void remove_side_files(const char *path)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = STORE_SQLITE_SHARED_FIRST,
			    .l_len = STORE_SQLITE_SHARED_SIZE };
	char wal[PATH_MAX], shm[PATH_MAX];
	struct stat st;
	int fd;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal) ||
	    snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm))
		return;
	/* A write lock needs a writable descriptor; nothing is written. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fcntl(fd, F_SETLK, &lk) == 0) {
		/* A -wal with frames holds another writer's data. */
		if (lstat(wal, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(wal);
		if (lstat(wal, &st) < 0 && lstat(shm, &st) == 0 && S_ISREG(st.st_mode))
			unlink(shm);
	}
	close(fd); /* and with it the lock */
}

int store_sql__seal(struct store_sqlite *db)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int r, rc;

	/* Checkpoints the WAL into the file and deletes -wal and -shm; it
	 * needs the file to itself, and says "wal" when another
	 * connection has it open. */
	rc = sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode = DELETE", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	r = mode && !strcmp(mode, "delete") ? 0 :
		store_sql__fail_msg(db, -EBUSY, "another connection has the file open");
out:
	sqlite3_finalize(st);
	return r;
}

int store_sql__open(struct store_sqlite *db, const char *path, unsigned flags)
{
	db->writable = flags & STORE_OPEN_WRITE;
	/* Side files this reader's open creates go again at close. */
	if (!db->writable && (flags & STORE_OPEN_TIDY) && !side_file_exists(path, "-wal") &&
	    !side_file_exists(path, "-shm") && !(db->tidy_path = strdup(path)))
		return -ENOMEM;
	return db->writable ? open_write(db, path, flags) : open_read(db, path);
}

void store_sql__close(struct store_sqlite *db)
{
	close_sqlite(db);
	if (db->tidy_path) {
		remove_side_files(db->tidy_path);
		free(db->tidy_path);
		db->tidy_path = NULL;
	}
}

bool store_sql__in_transaction(const struct store_sqlite *db)
{
	return db->sql && !sqlite3_get_autocommit(db->sql);
}

int store_sql__read_begin(struct store_sqlite *db, const char *name)
{
	char sql[64];

	db->read_savepoint = store_sql__in_transaction(db);
	if (!db->read_savepoint)
		return store_sql__exec(db, "BEGIN");
	snprintf(sql, sizeof(sql), "SAVEPOINT %s", name);
	return store_sql__exec(db, sql);
}

void store_sql__read_end(struct store_sqlite *db, const char *name)
{
	char sql[64];

	/* Not through store_sql__exec: ending a read keeps the message of
	 * what failed in it. */
	snprintf(sql, sizeof(sql), "RELEASE %s", name);
	sqlite3_exec(db->sql, db->read_savepoint ? sql : "COMMIT", NULL, NULL, NULL);
	db->read_savepoint = false;
}

static const char meta_set_sql[] =
	"INSERT INTO meta (key, value) VALUES (?1, ?2) "
	"ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char meta_get_sql[] = "SELECT value FROM meta WHERE key = ?1";

int store_sqlite__set_meta(struct store_db *handle, const char *key, const char *value)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	sqlite3_stmt *st;
	int r, rc;

	if (!db || !key || !value)
		return -EINVAL;
	if (!db->writable)
		return store_sql__fail_msg(db, -EROFS, "read-only handle");
	r = store_sql__stmt(db, STMT_META_SET, meta_set_sql, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_sql__fail(db, rc);
}

int store_sqlite__get_meta(struct store_db *handle, const char *key, char **ret_value)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	sqlite3_stmt *st;
	char *value;
	int r, rc;

	if (!db || !key || !ret_value)
		return -EINVAL;
	r = store_sql__stmt(db, STMT_META_GET, meta_get_sql, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		r = store_sql__fail(db, rc);
	} else {
		value = strdup((const char *)sqlite3_column_text(st, 0));
		if (!value) {
			r = -ENOMEM;
		} else {
			*ret_value = value;
			r = 0;
		}
	}
	sqlite3_reset(st);
	return r;
}

int store_sqlite__check(struct store_db *handle, char **ret_msg)
{
	struct store_sqlite *db = store_sqlite__of(handle);
	sqlite3_stmt *st = NULL;
	char *msg = NULL, *grown;
	size_t len = 0;
	bool ok = false;
	int r = 0, rc;

	if (!db || !ret_msg)
		return -EINVAL;
	rc = sqlite3_prepare_v2(db->sql, "PRAGMA integrity_check", -1, &st,
				NULL);
	if (rc != SQLITE_OK) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		size_t n = strlen(line ? line : "");

		grown = realloc(msg, len + n + 2);
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		msg = grown;
		if (len)
			msg[len++] = '\n';
		memcpy(msg + len, line ? line : "", n + 1);
		len += n;
	}
	if (rc != SQLITE_DONE) {
		r = store_sql__fail(db, rc);
		goto out;
	}
	if (!msg) {
		r = -EIO;
		goto out;
	}
	ok = strcmp(msg, "ok") == 0;
	*ret_msg = msg;
	msg = NULL;
	r = ok ? 0 : 1;
out:
	sqlite3_finalize(st);
	free(msg);
	return r;
}

