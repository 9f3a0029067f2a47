/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coverage.h — how well the profile came out, per binary, for
 * `ember report --coverage`: the frames of each binary in a flush, how many
 * got a function name and a file:line, and those whose debug information
 * was there but could not be read (written with the flush as coverage
 * rows); and over the session, the user stacks whose leaf is in each
 * binary and how many reached their root frame (written once, as the
 * metadata `unwind_quality`). Everything is weighted by samples: a frame
 * of a stack seen 1000 times counts 1000 times, as a reader of the
 * profile sees it.
 *
 * Binaries are told apart by their module string, which the symbolizer
 * session interns: the tables borrow those strings, so they must be
 * emptied (coverage__reset) before the symbolizer session is replaced.
 *
 * One thread (the session loop).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"
#include "symbolizer.h"

struct coverage;

/* Returns 0 and *ret_coverage, or -ENOMEM. */
int coverage__new(struct coverage **ret_coverage);

/* NULL is fine. */
void coverage__free(struct coverage *c);

/* Count frame f, seen count times, in the open flush's row of its binary
 * (frames without a module are not counted). */
void coverage__frame(struct coverage *c, const struct sym_frame *f, uint64_t count);

/* Count a user stack whose leaf is in module, seen count times, and
 * whether it reached its root frame. */
void coverage__stack(struct coverage *c, const char *module, bool complete, uint64_t count);

/* Add the open flush's rows to db's open transaction. Returns 0 or the
 * -errno of the store. */
int coverage__write_flush(const struct coverage *c, struct store_db *db);

/* Start counting the next flush's rows (after every flush, written or
 * rolled back). */
void coverage__clear_flush(struct coverage *c);

/* Write the per-binary stack counts into db's metadata `unwind_quality`,
 * one "module<TAB>samples<TAB>complete" line per binary. */
void coverage__write_quality(const struct coverage *c, struct store_db *db);

/* Forget everything: the module strings are about to go with their
 * symbolizer session. */
void coverage__reset(struct coverage *c);

/* Bytes of the tables. */
uint64_t coverage__memory(const struct coverage *c);
