/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_regex.h — private to storage/: the regular expressions of label
 * filters (store_filter.c), compiled to a small program and matched by
 * simulating all its states at once (a Thompson NFA), whole string only.
 * Its memory is fixed when it is compiled, exactly known, and linear in
 * the pattern's size after repetitions are expanded; a match takes time
 * proportional to the text's length times the program's size, and
 * allocates nothing. glibc's regcomp/regexec, which filters used before,
 * allocate quadratically in a repetition's range ("a{0,9999}": 1.6 GB)
 * and grow a DFA cache with every distinct text matched (a 34-byte
 * pattern over 100,000 60-character thread names: past 776 MB).
 *
 * Syntax: POSIX extended regular expressions as glibc reads them in the C
 * locale: literals, '.', bracket expressions with ranges, [:class:],
 * [=c=] and [.c.], groups, '|', '*', '+', '?', {m}, {m,}, {,n}, {m,n}
 * (counts up to 32767), '^' and '$' anywhere, the GNU escapes \w \W \s \S
 * \b \B \< \> \` \', and '\' before any other character for that
 * character. Back-references (\1 to \9) are refused: no finite automaton
 * matches them.
 *
 * Thread safety: a compiled regex is used by one thread at a time (its
 * match state is part of it); different ones are independent.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct store_regex;

/*
 * Compile pattern into at most max_bytes (what store_regex__size() will
 * say; a pattern over it is refused before anything is expanded).
 * Returns 0 and *ret_regex (free with store_regex__free), -EINVAL with
 * *ret_error (caller frees; says what is wrong and where), -E2BIG with
 * *ret_error when the program would take more than max_bytes, or
 * -ENOMEM.
 */
int store_regex__compile(const char *pattern, size_t max_bytes,
			 struct store_regex **ret_regex, char **ret_error);

/* Whether the whole of text matches (as "^(pattern)$" would). */
bool store_regex__match(struct store_regex *re, const char *text);

/* The bytes re holds (program, character sets, match state). */
size_t store_regex__size(const struct store_regex *re);

void store_regex__free(struct store_regex *re);
