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
	const char **set_process;
	uint32_t *set_pid;
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

/* Free db's read cache (the public close, before the connection). */
void store_cache__close(struct store_sqlite *db);
