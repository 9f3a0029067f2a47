/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-cxx.h — what dwarf-cxx.c (C++ names built from DIEs) and
 * dwarf-cxx-text.c (the text those names are made of) share: the growing
 * name buffer and the text helpers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Bounds on a built name: nesting of types and prefixes, and length. */
#define MAX_BUILD_DEPTH 64
#define MAX_BUILT_NAME (64u << 10)

/* A growing name; err is sticky: -ENOMEM, or -EINVAL when the builder
 * gives up (too long, a DIE it cannot read or name). */
struct nbuf {
	char *p;
	size_t len, cap;
	int err;
};

void nb_add(struct nbuf *b, const char *s, size_t n);
void nb_str(struct nbuf *b, const char *s);
char nb_last(const struct nbuf *b);
void nb_take(struct nbuf *b, struct nbuf *other);
void nb_fail(struct nbuf *b, int r);
const char *base_name(const char *name);
size_t name_base_len(const char *name);
const char *list_end(const char *s);
int count_args(const char *lt, const char *gt);
void gcc_args(const char *s, size_t n, struct nbuf *b, int depth);
