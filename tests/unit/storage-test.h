/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage-test.h — helpers shared by the storage unit tests
 * (test-storage-*.c): assertions that name the failing line, temp
 * directories, writing stacks given as folded strings, finding tree nodes
 * by path and checking a tree's invariants.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "storage.h"

#include "unit-check.h"

/* Check an int-returning call equals want, printing both on failure. */
#define CHECK_RC(call, want)                                                 \
	do {                                                                 \
		long long got_ = (long long)(call);                          \
		if (got_ != (long long)(want)) {                             \
			fprintf(stderr, "%s:%d: %s = %lld (%s), want %lld\n", \
				__FILE__, __LINE__, #call, got_,             \
				got_ < 0 ? store_strerror((int)got_) : "",   \
				(long long)(want));                          \
			exit(1);                                             \
		}                                                            \
	} while (0)

#define CHECK_U64(got, want) CHECK_RC(got, want)

/* A fresh directory under $TMPDIR or /tmp, removed by cleanup_tempdir().
 * Returns a malloc'd path. */
char *make_tempdir(void);
void cleanup_tempdir(char *dir);

/* dir + "/" + name, malloc'd. */
char *path_in(const char *dir, const char *name);

/*
 * Add count samples of the stack in folded form ("main;a;b", root first;
 * "" is the empty stack). Frames get module "app", kind kind and
 * offset offset + depth. Returns what store_db__add_stack returns.
 */
int add_folded(struct store_db *db, const struct store_labels *labels,
	       const char *folded, enum store_frame_kind kind, uint64_t offset,
	       uint64_t count);

/* The integer the one-row query sql answers on db's own connection (fails
 * the test if it does not prepare or gives no row). */
int64_t query_int(struct store_db *db, const char *sql);

/* Index of the node at path ("app;main;a", below node 0), or -1. Fails the
 * test if a step is ambiguous (merging broken). */
long tree_find(const struct store_tree *t, const char *path);

/* Fail the test unless parents precede children and every total is self
 * plus the children's totals. */
void tree_check_invariants(const struct store_tree *t);

/* FNV-1a over the file's bytes; fails the test if unreadable. */
uint64_t file_checksum(const char *path);

/* Summary of [from, to) (samples only). */
uint64_t samples_in(struct store_db *db, int64_t from, int64_t to);

/* Samples one writer_loop() flush adds: 20 stacks counting 1..20. */
#define WRITER_FLUSH_SAMPLES 210

/*
 * Child process body: open path for writing and commit n flushes (n < 0:
 * forever), flush k in bucket first + k, each adding WRITER_FLUSH_SAMPLES
 * samples over 20 stacks, some new each time. After each commit, writes
 * the bucket (int64_t) to report_fd when >= 0. Exits the process: 0 when
 * done, 1 on any error.
 */
void writer_loop(const char *path, int64_t first, long n, int report_fd)
	__attribute__((noreturn));
