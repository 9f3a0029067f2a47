/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_cache.h — private to storage/, layer 3 (storage/DESIGN.md): the
 * read cache of a handle (store_cache.c), what the queries turn ids into
 * (stack nodes, frames and their interned texts, label sets' process
 * names and pids), loaded from the packed tables and strings of layer 2
 * and 1 at the start of each read. The queries and the exports' frame
 * sites use it; it knows neither.
 */
#pragma once

#include "store_map.h"
#include "store_pack.h"

struct store_cached_function {
	const char *name, *module, *file; /* interned; NULL = none */
	bool known; /* a stored function */
};

/*
 * Per-handle caches of what trees need, indexed by id: stack nodes,
 * frames (texts interned in strings), label sets' process names and pids.
 * Filled incrementally (ids only grow) and dropped when the file's
 * gc_generation changes (retention deleted rows; ids may be reused).
 */
/* A stack node of the read cache; frame 0 marks one that cannot be used
 * (a file whose ids do not fit: corrupt). */
struct store_cached_node {
	uint32_t parent, frame;
};

/* The columns of a label set besides its process name and pid. */
struct store_cached_set {
	uint32_t host, process, thread, extra; /* string ids, 0 = none */
	uint32_t tid;
	uint64_t cgroup_id;
};

struct store_read_cache {
	int64_t generation;
	struct store_cached_node *nodes; /* by stack node id */
	size_t node_cap;
	int64_t max_node;
	const char **string_text; /* by strings.id; NULL = none */
	size_t string_cap;
	int64_t max_string;
	struct store_cached_function *functions;
	size_t function_cap;
	int64_t max_function;
	struct store_tree_node *frames; /* name, module, file, line, kind */
	int64_t *frame_ident; /* the first frame id with the same identity */
	uint64_t *frame_offset;
	const char **frame_build_id;
	size_t frame_cap;
	struct store_map idents; /* (name, module, file, line, kind) -> id */
	int64_t max_frame;
	/* label sets by id: the process name and pid (what trees use), the
	 * rest as string ids */
	const char **set_process;
	uint32_t *set_pid;
	struct store_cached_set *sets;
	size_t set_cap;
	int64_t max_set;
	struct store_map strings;
};

/*
 * Start a read of one snapshot (store_sql__read_begin) and bring the
 * handle's read cache up to date within it: rows with ids above what it
 * holds, or all of them after a collection (gc_generation moved).
 * Returns 0 and *ret_cache (db's, valid until store_cache__close), or
 * -errno (-EUCLEAN with a message naming the tables a damaged page
 * belongs to); on 0, end the read with store_cache__read_end.
 */
int store_cache__read_begin(struct store_sqlite *db, struct store_read_cache **ret_cache);
void store_cache__read_end(struct store_sqlite *db);

/* The labels of label set id (texts c's, valid while it is); false for an
 * id c does not hold. */
bool store_cache__labels(const struct store_read_cache *c, int64_t id,
			 struct store_labels *ret);

/* store_block__scan over q's range, with q's filter (when it has one)
 * matched against c's label sets. Returns as store_block__scan. */
int store_cache__scan(struct store_sqlite *db, const struct store_read_cache *c,
		      const struct store_query *q, store_block_fn fn, void *ctx);

/* The label sets of c that pass f, as a set for store_block__scan.
 * Returns 0 and *ret (free with store_lsset__free), or -ENOMEM. */
int store_cache__filter(const struct store_read_cache *c, const struct store_filter *f,
			struct store_lsset *ret);

/* Free db's read cache (the public close, before the connection). */
void store_cache__close(struct store_sqlite *db);

/* Bytes db's read cache holds: its arrays by id and the interned texts'
 * table and arena (0 without one). */
size_t store_cache__bytes(const struct store_sqlite *db);
