/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_db.c — the public handle of the storage module, on top of its
 * layers (storage/DESIGN.md): store_db__open opens the file (layer 1,
 * store_sql.c) and brings a writable one to the current schema
 * (store_migrate.c); store_db__close closes the layers top down, each
 * freeing the state it keeps on the handle (the writer's flush and id
 * caches, the query's work arrays, the read cache) before the
 * connection; store_db__seal finishes a file; store_strerror says what
 * an error of the module means.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_ops.h"

/* Whether the directory that holds path exists. */
static bool dir_exists(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;

	if (!slash)
		return true;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_db__open(const char *path, unsigned flags, struct store_db **ret_db)
{
	struct store_db *db;
	int r;

	if (!path || !ret_db)
		return -EINVAL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	r = store_sql__open(db, path, flags);
	if (r == 0 && db->writable) {
		r = store_migrate__run(db);
		/* What a previous run left in the WAL (a full disk, a
		 * crash) goes into the file now and the WAL is cut to
		 * nothing, so its space is free before the first flush.
		 * Best effort: a reader in the way or a disk still full
		 * leave it for the checkpoints after commits. */
		if (r == 0)
			store_sql__checkpoint(db, true);
	}
	/* The file or its directory refused a new file (-wal, -shm, the
	 * database itself): a permission problem as far as the caller can
	 * act on it. */
	if (db->writable && ((r == -ENOENT && dir_exists(path)) || r == -EROFS))
		r = -EACCES;
	if (r < 0) {
		store_db__close(db);
		return r;
	}
	*ret_db = db;
	return 0;
}

int store_db__seal(struct store_db *db)
{
	if (!db || !db->sql)
		return -EINVAL;
	if (!db->writable)
		return -EROFS;
	if (store_write__in_flush(db))
		return -EBUSY;
	return store_sql__seal(db);
}

void store_db__close(struct store_db *db)
{
	if (!db)
		return;
	store_write__close(db);
	store_query__close(db);
	store_cache__close(db);
	store_sql__close(db);
	free(db);
}

const char *store_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "database file not found";
	case -EACCES:
		return "permission denied: the database file or its directory "
		       "is not writable";
	case -EROFS:
		return "database is open read-only";
	case -ENOTSUP:
		return "database was written by a newer Ember";
	case -EPROTO:
		return "database uses an older schema; open it for writing "
		       "once to upgrade it";
	case -EINVAL:
		return "not an Ember database, corrupt, or invalid argument";
	case -EBUSY:
		return "database is busy (another writer, or a flush is "
		       "already open)";
	case -ENOSPC:
		return "disk full";
	case -ENOMEM:
		return "out of memory";
	case -EIO:
		return "database I/O error";
	case -EBADMSG:
		return "not a valid pprof profile";
	case -E2BIG:
		return "profile is too large";
	case -ERANGE:
		return "a sample count is out of range";
	case -ETIMEDOUT:
		return "query timed out";
	case -EUCLEAN:
		return "the database is damaged";
	default:
		return "unknown storage error";
	}
}
