/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h — the few helpers every module needs (sizes, clocks, hex, JSON
 * strings, hashing) and, through grow.h and map.h, the
 * project's containers (an overflow-checked array grow, a hash map), kept
 * here so no two modules grow their own copy. Leaf modules may include this header and nothing else of another
 * module.
 *
 * Thread safety: every function here is thread-safe in that it touches
 * only what it is given; a map or an array given to two threads at once
 * needs the callers' lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common-macros.h"
#include "grow.h"
#include "map.h"

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t common_now_ns(void);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t common_wall_ns(void);

/* This process's resident memory in bytes (from /proc/self/statm), 0 when
 * unknown. */
uint64_t common_rss_bytes(void);

/*
 * Load the shared library at path and resolve the n symbols names[i] into
 * syms[i] (written only on success). For the libraries only some commands
 * use (libcurl, libmicrohttpd): the others then neither map them nor run
 * their TLS stacks' constructors (5.7 MiB of RSS and 5-8 ms of start-up).
 * path is the absolute file the build found (never a name the dynamic
 * linker searches for); when the process runs as root the file must be
 * owned by root and writable by no one else. The library stays loaded for
 * the life of the process; a second call returns the same symbols.
 * Thread-safe. Returns 0, or -EINVAL (path not absolute), -ENOENT (no such
 * file), -EPERM (a file another user could have written), -ELIBACC (the
 * dynamic linker refused it or a symbol is missing), with one sentence in
 * err (errlen bytes) naming the file and the reason.
 */
int common_dl_load(const char *path, const char *const names[], size_t n, void *syms[],
		   char *err, size_t errlen);

/*
 * Write n bytes of data as lowercase hex into out, which must hold 2n + 1
 * bytes; always NUL-terminates.
 */
void common_hex(const void *data, size_t n, char *out);

/*
 * Write s to f as a JSON string literal, quotes included: escapes quotes,
 * backslashes and control characters; bytes that are not valid UTF-8 become
 * U+FFFD so the output is always valid JSON. NULL is written as null.
 */
void common_json_string(FILE *f, const char *s);

/* FNV-1a 64-bit hash of n bytes, continuing from h (start with
 * COMMON_HASH_SEED). */
#define COMMON_HASH_SEED 0xcbf29ce484222325ULL
uint64_t common_hash(uint64_t h, const void *data, size_t n);
