/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-cxx-text.h — the text C++ names are made of (dwarf-cxx-text.c),
 * for dwarf-cxx.c, which builds them from DIEs: the bounds on a built
 * name, the growing name buffer both write into, and the text helpers.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sym-dwarf.h"

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

static inline void nb_add(struct nbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > MAX_BUILT_NAME) {
		b->err = -EINVAL;
		return;
	}
	if (COMMON_GROW(b->p, b->cap, b->len + n + 1) < 0) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void nb_str(struct nbuf *b, const char *s)
{
	nb_add(b, s, strlen(s));
}

static inline char nb_last(const struct nbuf *b)
{
	return b->len ? b->p[b->len - 1] : '\0';
}

/* Appends other (and frees it), passing its error on. */
static inline void nb_take(struct nbuf *b, struct nbuf *other)
{
	if (other->err && !b->err)
		b->err = other->err;
	if (other->len)
		nb_add(b, other->p, other->len);
	free(other->p);
	*other = (struct nbuf){ 0 };
}

static inline void nb_fail(struct nbuf *b, int r)
{
	if (!b->err)
		b->err = r == -ENOMEM ? r : -EINVAL;
}

/* Base type names as the demangler writes them ("long" for DWARF's "long
 * int"); name itself when it has no other spelling. */
const char *dw_cxx__base_type(const char *name);

/* The length of name without the template arguments GCC appends to it
 * ("sort<...>", "operator()<...>", "operator<< <...>"). */
size_t dw_cxx__base_len(const char *name);

/* Where the closing bracket of the list opened at s[0] is, or NULL. */
const char *dw_cxx__list_end(const char *s);

/* How many arguments the list between lt and gt (its brackets) has. */
int dw_cxx__count_args(const char *lt, const char *gt);

/* "<args>" from GCC's spelling of the list (s, n: what is between the
 * brackets), with the demangler's spaces; b->err when it cannot be
 * rewritten surely. */
void dw_cxx__gcc_args(const char *s, size_t n, struct nbuf *b, int depth);

/* A name that spells out std's character streams or (old ABI) string in
 * full ("std::basic_ostream<char, std::char_traits<char> >") becomes the
 * demangler's short name ("std::ostream"). */
void dw_cxx__std_abbrev(struct nbuf *b);
