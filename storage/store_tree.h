/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tree.h — private to storage/, layer 0 (storage/DESIGN.md): the
 * merged call tree of storage.h as the code that builds one sees it
 * (store_tree.c holds what is computed over trees: pure, no SQLite, so
 * a tree from any store gets it). A tree's texts are interned (equal
 * texts are equal pointers) and kept alive by its reference to their
 * arena.
 */
#pragma once

#include <stdint.h>

#include "storage.h"
#include "store_map.h"

struct store_tree {
	struct store_tree_node *nodes;
	size_t n, cap;
	size_t max; /* at most this many nodes (-E2BIG); 0: no bound */
	/* The interned texts the nodes point into: kept alive by this
	 * reference after whatever interned them (a handle's read cache)
	 * has moved on or closed. */
	struct store_arena *texts;
	/* A merged tree's base side, by node (NULL: not a merged tree). */
	struct store_base_counts *base;
};

/* Append a copy of node; its index in *ret_index. Parents must come
 * before their children. Returns 0, -E2BIG (t->max nodes already) or
 * -ENOMEM. */
int store_tree__add(struct store_tree *t, const struct store_tree_node *node,
		    uint32_t *ret_index);
