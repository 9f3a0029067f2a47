/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ops.h — private to storage/, layer 4 (storage/DESIGN.md): the
 * operations of storage.h built on the layers below (store_cache.h and
 * down): the writer (store_write.c, store_coverage.c), the queries
 * (store_query.c, store_timeline.c, store_coverage.c), the migrations
 * (store_migrate.c) and retention (store_maintain.c). Their public
 * functions are in storage.h; this header holds what the layer above
 * (the public handle, store_db.c; export and import) needs besides: the
 * migrations, the writer's state, and the closes of what these files
 * keep on a handle.
 */
#pragma once

#include "store_cache.h"

/* Bring a writable file to STORE_SCHEMA_VERSION (store_migrate.c), its
 * auto-vacuum and page checksums included. Returns 0 or -errno. */
int store_migrate__run(struct store_db *db);

/* The writer (store_write.c): whether a flush is open; the open flush's
 * time (-EINVAL, "no open flush", when none); roll back an open flush
 * and free the writer's state. */
bool store_write__in_flush(const struct store_db *db);
int store_write__flush_time(struct store_db *db, int64_t *ret_time_s);
void store_write__close(struct store_db *db);

/* Free what the tree queries keep on db (store_query.c). */
void store_query__close(struct store_db *db);
