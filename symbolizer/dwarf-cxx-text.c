/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-cxx-text.c — the text of C++ names built from DWARF, without
 * DWARF: base type names as the demangler spells them, the extent of
 * template argument lists, and GCC's spelling of template arguments (in
 * DW_AT_name) rewritten the demangler's way, std's short names.
 */
#include "sym-dwarf.h"
#include "dwarf-cxx-text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Base type names as the demangler writes them. */
const char *dw_cxx__base_type(const char *name)
{
	static const char *const map[][2] = {
		{ "long int", "long" }, { "long unsigned int", "unsigned long" },
		{ "short int", "short" }, { "short unsigned int", "unsigned short" },
		{ "long long int", "long long" },
		{ "long long unsigned int", "unsigned long long" },
		{ "__int128 unsigned", "unsigned __int128" }, { "_Bool", "bool" },
		{ "complex float", "float _Complex" },
		{ "complex double", "double _Complex" },
		{ "complex long double", "long double _Complex" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i][0]))
			return map[i][1];
	return name;
}

/* The length of name without the template arguments GCC appends to it
 * ("sort<...>", "operator()<...>", "operator<< <...>"). */
size_t dw_cxx__base_len(const char *name)
{
	const char *p = name;

	if (!strncmp(p, "operator", 8) && strchr("<>=!+-*/%^&|~,()[]", p[8])) {
		p += 8;
		if (!strncmp(p, "()", 2) || !strncmp(p, "[]", 2))
			p += 2;
		else
			while (*p && strchr("<>=!+-*/%^&|~,", *p))
				p++;
		while (*p == ' ')
			p++;
		if (*p != '<')
			return strlen(name);
		while (p > name && p[-1] == ' ')
			p--;
		return (size_t)(p - name);
	}
	p = strchr(name, '<');
	return p ? (size_t)(p - name) : strlen(name);
}

/* Where the closing bracket of the list opened at s[0] is, or NULL. */
const char *dw_cxx__list_end(const char *s)
{
	int depth = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '<' || *p == '(' || *p == '[')
			depth++;
		else if ((*p == '>' || *p == ')' || *p == ']') && --depth == 0)
			return p;
	}
	return NULL;
}

/* How many arguments the list between lt and gt (its brackets) has. */
int dw_cxx__count_args(const char *lt, const char *gt)
{
	int level = 0, n = gt > lt + 1;

	for (const char *p = lt + 1; p < gt; p++) {
		if (*p == '<' || *p == '(' || *p == '[')
			level++;
		else if (*p == '>' || *p == ')' || *p == ']')
			level--;
		else if (*p == ',' && level == 0)
			n++;
	}
	return n;
}

/*
 * One template argument as GCC spells it in DW_AT_name ("const
 * std::pair<const int, long int>*", "7"), the demangler's way ("std::pair<
 * int const, long> const*"). What it cannot rewrite surely (lambdas,
 * function types) gives up.
 */
static void gcc_arg(const char *s, size_t n, struct nbuf *b, int depth)
{
	size_t lead = 0, end = n;
	bool is_const = false, is_volatile = false;
	const char *name, *base;

	while (n && s[0] == ' ')
		s++, n--;
	while (n && s[n - 1] == ' ')
		n--;
	for (;;) {
		if (n - lead > 6 && !strncmp(s + lead, "const ", 6)) {
			is_const = true;
			lead += 6;
		} else if (n - lead > 9 && !strncmp(s + lead, "volatile ", 9)) {
			is_volatile = true;
			lead += 9;
		} else {
			break;
		}
	}
	/* the declarator after the type: pointers, references, their cv */
	for (end = n; end > lead;) {
		if (strchr("*& ", s[end - 1]))
			end--;
		else if (end - lead > 6 && !strncmp(s + end - 6, " const", 6))
			end -= 6;
		else if (end - lead > 9 && !strncmp(s + end - 9, " volatile", 9))
			end -= 9;
		else
			break;
	}
	for (const char *p = s + lead; p < s + end; p++) {
		if (*p == '(' && (size_t)(s + end - p) >= 21 &&
		    !strncmp(p, "(anonymous namespace)", 21))
			p += 20;
		else if (*p == '(' || *p == '{')
			depth = MAX_BUILD_DEPTH + 1;
	}
	if (end == lead || depth > MAX_BUILD_DEPTH) {
		nb_fail(b, -EINVAL);
		return;
	}
	/* a builtin type of several words, or a name with its arguments */
	base = strndup(s + lead, end - lead);
	if (!base) {
		nb_fail(b, -ENOMEM);
		return;
	}
	name = dw_cxx__base_type(base);
	if (name != base) {
		nb_str(b, name);
	} else {
		for (const char *p = base; *p && !b->err;) {
			const char *lt = strchr(p, '<'), *gt;

			if (!lt) {
				nb_str(b, p);
				break;
			}
			gt = dw_cxx__list_end(lt);
			if (!gt) {
				nb_fail(b, -EINVAL);
				break;
			}
			nb_add(b, p, (size_t)(lt - p));
			dw_cxx__gcc_args(lt + 1, (size_t)(gt - lt - 1), b, depth + 1);
			p = gt + 1;
		}
	}
	free((char *)base);
	if (is_const)
		nb_str(b, " const");
	if (is_volatile)
		nb_str(b, " volatile");
	for (size_t i = end; i < n; i++)
		if (s[i] != ' ' || (i + 1 < n && s[i + 1] != '*' && s[i + 1] != '&'))
			nb_add(b, s + i, 1);
}

/* "<args>" from GCC's spelling of the list (s, n: what is between the
 * brackets), with the demangler's spaces. */
void dw_cxx__gcc_args(const char *s, size_t n, struct nbuf *b, int depth)
{
	size_t start = 0;
	int level = 0, k = 0;

	if (nb_last(b) == '<')
		nb_str(b, " ");
	nb_str(b, "<");
	for (size_t i = 0; i <= n && !b->err; i++) {
		if (i < n && (s[i] == '<' || s[i] == '(' || s[i] == '['))
			level++;
		else if (i < n && (s[i] == '>' || s[i] == ')' || s[i] == ']'))
			level--;
		if (i < n && (s[i] != ',' || level))
			continue;
		if (i > start || k) {
			if (k++)
				nb_str(b, ", ");
			gcc_arg(s + start, i - start, b, depth);
		}
		start = i + 1;
	}
	if (nb_last(b) == '>')
		nb_str(b, " ");
	nb_str(b, ">");
}

/*
 * The demangler's short names of std's character streams and (old ABI)
 * string: a name that spells one out in full is written the short way.
 */
void dw_cxx__std_abbrev(struct nbuf *b)
{
	static const char *const map[][2] = {
		{ "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
		  "std::string" },
		{ "std::basic_istream<char, std::char_traits<char> >", "std::istream" },
		{ "std::basic_ostream<char, std::char_traits<char> >", "std::ostream" },
		{ "std::basic_iostream<char, std::char_traits<char> >", "std::iostream" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]) && !b->err; i++)
		if (b->len && !strcmp(b->p, map[i][0])) {
			b->len = 0;
			nb_str(b, map[i][1]);
		}
}
