/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_db.c — the public handle of storage.h, above the backends
 * (storage/DESIGN.md, layer 5): store_db__open picks the backend for a
 * source (a path: SQLite, store_sqlite.c), and each function of storage.h
 * that a backend does hands on to its operation (store_backend.h), so
 * profiler/ and web/ talk to one interface whatever keeps the data.
 * Also what every backend shares: the last error's message, meta with a
 * format, store_strerror.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store_backend.h"

/* Whether source names a store by URL (scheme://...), not a file. */
static bool is_url(const char *source)
{
	size_t n = strspn(source, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

	return n > 0 && source[0] >= 'a' && source[0] <= 'z' &&
	       !strncmp(source + n, "://", 3);
}

int store_db__open(const char *path, unsigned flags, struct store_db **ret_db)
{
	if (!path || !ret_db)
		return -EINVAL;
	/* The fleet store: a ClickHouse URL, the credentials in it (the
	 * open with a message and credentials of their own is
	 * store_db__open_clickhouse). */
	if (!strncmp(path, "clickhouse://", 13) || !strncmp(path, "https://", 8)) {
		struct store_ch_config c = { .url = path };

		if (flags & STORE_OPEN_WRITE)
			return -EROFS;
		return store_db__open_clickhouse(&c, ret_db, NULL);
	}
	if (is_url(path))
		return -EPROTONOSUPPORT;
	return store_sqlite__open(path, flags, ret_db);
}

void store_db__close(struct store_db *db)
{
	if (db)
		db->ops->close(db);
}

const char *store_db__errmsg(const struct store_db *db)
{
	if (!db)
		return "no database handle";
	return db->errmsg;
}

int store_db__set_metaf(struct store_db *db, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return store_db__set_meta(db, key, buf);
}

/* ---- the backend's operations ---- */

int store_db__seal(struct store_db *db)
{
	if (!db)
		return -EINVAL;
	return db->ops->seal(db);
}

int store_db__begin(struct store_db *db, int64_t time_s, uint32_t duration_s)
{
	if (!db)
		return -EINVAL;
	return db->ops->begin(db, time_s, duration_s);
}

int store_db__add_stack(struct store_db *db, const struct store_labels *labels,
			const struct store_frame *frames, size_t n_frames,
			uint64_t count)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_stack(db, labels, frames, n_frames, count);
}

void store_db__forget_interned(struct store_db *db)
{
	if (db && db->ops->forget_interned)
		db->ops->forget_interned(db);
}

void store_db__frame_memo_stats(const struct store_db *db, uint64_t *ret_bytes,
				uint64_t *ret_resets)
{
	*ret_bytes = 0;
	*ret_resets = 0;
	if (db && db->ops->frame_memo_stats)
		db->ops->frame_memo_stats(db, ret_bytes, ret_resets);
}

int store_db__add_drops(struct store_db *db, const char *reason, uint64_t count)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_drops(db, reason, count);
}

int store_db__add_events(struct store_db *db, const char *name, uint64_t count)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_events(db, name, count);
}

int store_db__add_coverage(struct store_db *db, const char *module,
			   const char *build_id, uint64_t seen,
			   uint64_t with_function, uint64_t with_line)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_coverage(db, module, build_id, seen, with_function, with_line);
}

int store_db__add_coverage_issue(struct store_db *db, const char *module,
				 const char *build_id, const char *reason,
				 uint64_t frames)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_coverage_issue(db, module, build_id, reason, frames);
}

int store_db__add_python_coverage(struct store_db *db, const char *process, uint32_t pid,
				  const char *interpreter, uint64_t samples,
				  uint64_t with_python, uint64_t frames, uint64_t named)
{
	if (!db)
		return -EINVAL;
	return db->ops->add_python_coverage(db, process, pid, interpreter, samples,
					    with_python, frames, named);
}

int store_db__commit(struct store_db *db)
{
	if (!db)
		return -EINVAL;
	return db->ops->commit(db);
}

void store_db__rollback(struct store_db *db)
{
	if (db)
		db->ops->rollback(db);
}

int store_db__set_meta(struct store_db *db, const char *key, const char *value)
{
	if (!db)
		return -EINVAL;
	return db->ops->set_meta(db, key, value);
}

int store_db__get_meta(struct store_db *db, const char *key, char **ret_value)
{
	if (!db)
		return -EINVAL;
	return db->ops->get_meta(db, key, ret_value);
}

int store_db__summary(struct store_db *db, const struct store_query *q,
		      struct store_summary **ret_summary)
{
	if (!db)
		return -EINVAL;
	return db->ops->summary(db, q, ret_summary);
}

int store_db__query_tree(struct store_db *db, const struct store_query *q,
			 struct store_tree **ret_tree)
{
	if (!db)
		return -EINVAL;
	return db->ops->query_tree(db, q, ret_tree);
}

int store_db__query_coverage(struct store_db *db, const struct store_query *q,
			     struct store_coverage **ret_entries, size_t *ret_n)
{
	if (!db)
		return -EINVAL;
	return db->ops->query_coverage(db, q, ret_entries, ret_n);
}

int store_db__query_python_coverage(struct store_db *db, const struct store_query *q,
				    struct store_python_coverage **ret_entries, size_t *ret_n)
{
	if (!db)
		return -EINVAL;
	return db->ops->query_python_coverage(db, q, ret_entries, ret_n);
}

int store_db__query_timeline(struct store_db *db, const struct store_query *q,
			     int64_t step_s, const char *split_label,
			     struct store_timeline **ret_timeline)
{
	if (!db)
		return -EINVAL;
	return db->ops->query_timeline(db, q, step_s, split_label, ret_timeline);
}

int store_db__label_sets(struct store_db *db, const struct store_query *q,
			 struct store_label_sets **ret_sets)
{
	if (!db)
		return -EINVAL;
	return db->ops->label_sets(db, q, ret_sets);
}

int store_db__label_names(struct store_db *db, const struct store_query *q,
			  char ***ret_names, size_t *ret_n)
{
	if (!db)
		return -EINVAL;
	return db->ops->label_names(db, q, ret_names, ret_n);
}

int store_db__label_values(struct store_db *db, const struct store_query *q,
			   const char *name, struct store_label_value **ret_values,
			   size_t *ret_n)
{
	if (!db)
		return -EINVAL;
	return db->ops->label_values(db, q, name, ret_values, ret_n);
}

int store_db__maintain(struct store_db *db, int64_t now_s,
		       const struct store_policy *p,
		       struct store_maintain_stats *ret_stats)
{
	if (!db)
		return -EINVAL;
	return db->ops->maintain(db, now_s, p, ret_stats);
}

int store_db__check(struct store_db *db, char **ret_msg)
{
	if (!db)
		return -EINVAL;
	return db->ops->check(db, ret_msg);
}

int store_db__span(struct store_db *db, const struct store_query *q,
		   int64_t *ret_first, int64_t *ret_end, uint32_t *ret_step)
{
	if (!db)
		return -EINVAL;
	return db->ops->span(db, q, ret_first, ret_end, ret_step);
}

int store_db__drops_timeline(struct store_db *db, int64_t from_s, int64_t step_s,
			     size_t n_steps, uint64_t *counts)
{
	if (!db)
		return -EINVAL;
	return db->ops->drops_timeline(db, from_s, step_s, n_steps, counts);
}

void store_db__set_deadline(struct store_db *db, uint64_t deadline_ns)
{
	if (db)
		db->ops->set_deadline(db, deadline_ns);
}

void store_db__set_cancel(struct store_db *db, bool (*cancelled)(void *ctx), void *ctx)
{
	if (db && db->ops->set_cancel)
		db->ops->set_cancel(db, cancelled, ctx);
}

void store_db__memory(struct store_db *db, struct store_memory *ret)
{
	*ret = (struct store_memory){0};
	if (db)
		db->ops->memory(db, ret);
}

const char *store_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "database not found";
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
	case -EPROTONOSUPPORT:
		return "no storage backend for this kind of source "
		       "(give the path of a database file or a clickhouse:// URL)";
	case -ENOSYS:
		return "this kind of store cannot do that";
	case -ECONNREFUSED:
		return "nothing answers at the store's address";
	case -EHOSTUNREACH:
		return "the store's host cannot be reached";
	case -EKEYREJECTED:
		return "TLS failed (the server's certificate)";
	case -ELIBACC:
		return "libcurl, needed to reach ClickHouse, could not be loaded";
	case -EPERM:
		return "the store refused the user this";
	case -EAGAIN:
		return "the store is busy, try again";
	default:
		return "unknown storage error";
	}
}
