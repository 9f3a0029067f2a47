/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-regex.c — the regexes of label filters (storage/
 * store_regex.c) against glibc's regcomp/regexec as ground truth: random
 * patterns of POSIX extended syntax (brackets, classes, collating
 * elements, groups, alternatives, every repetition form, GNU escapes) are
 * compiled by both, which must agree on which compile, and every one that
 * compiles must match the same random texts. Anchors and word boundaries
 * are checked on their own cases (glibc gets them wrong inside repeated
 * groups: "-($.){0,2}" matches "-." there, "-($.)?" does not). Then what
 * glibc could not bound: "a{0,9999}" (1.6 GB in regcomp) compiles to a
 * program of known size, and matching 100,000 distinct texts (glibc's
 * DFA cache grew past 776 MB on a 34-byte pattern) leaves it unchanged;
 * and what is refused is refused with its reason.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "storage-test.h"
#include "store_regex.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void append(char *out, size_t cap, const char *s)
{
	if (strlen(out) + strlen(s) + 1 < cap)
		strcat(out, s);
}

/* A random pattern without anchors or word boundaries. */
static void gen(char *out, size_t cap, int depth)
{
	static const char *const atoms[] = {
		"a", "b", "c", ".", "_", "-", " ", "0", "9", "[ab]", "[^a]", "[a-c]",
		"[[:alpha:]]", "[[:digit:]_]", "[[:space:][:punct:]]", "[]a]", "[^]a]", "[a-]",
		"[--/]", "[a\\]", "[[.a.]]", "[[=b=]]", "[[.-.]a]", "\\w", "\\W", "\\s", "\\S",
		"\\.", "\\a", "\\{", "}", "]", "()", "\xc3",
	};
	static const char *const reps[] = {
		"*", "+", "?", "{2}", "{0,2}", "{1,}", "{,2}", "{2,3}", "**", "+?", "{0}",
		"{1}{2}", "{,}", "{", "{x}", "{3,1}",
	};
	int n = 1 + (int)rnd(4);

	for (int i = 0; i < n; i++) {
		char a[1024] = "";

		if (depth < 3 && rnd(5) == 0) {
			int k = 1 + (int)rnd(3);

			append(a, sizeof(a), "(");
			for (int j = 0; j < k; j++) {
				char in[1024] = "";

				gen(in, 200, depth + 1);
				append(a, sizeof(a), in);
				if (j < k - 1)
					append(a, sizeof(a), "|");
			}
			append(a, sizeof(a), ")");
		} else {
			append(a, sizeof(a), atoms[rnd(ARRAY_SIZE(atoms))]);
		}
		if (rnd(10) < 4)
			append(a, sizeof(a), reps[rnd(ARRAY_SIZE(reps))]);
		append(out, cap, a);
	}
}

/* glibc and store_regex on the same random patterns and texts. */
static void against_glibc(int patterns)
{
	static const char alphabet[] = "abc_- .0";
	int both = 0, neither = 0;

	for (int it = 0; it < patterns; it++) {
		char pattern[512] = "", anchored[600], text[16];
		struct store_regex *re = NULL;
		char *err = NULL;
		regex_t g;
		int grc, orc;

		gen(pattern, 200, 0);
		snprintf(anchored, sizeof(anchored), "^(%s)$", pattern);
		grc = regcomp(&g, anchored, REG_EXTENDED | REG_NOSUB);
		orc = store_regex__compile(pattern, 1 << 20, &re, &err);
		if ((grc == 0) != (orc == 0)) {
			fprintf(stderr, "'%s': glibc %s, store_regex %s (%s)\n", pattern,
				grc ? "refuses" : "compiles", orc ? "refuses" : "compiles",
				err ? err : "");
			exit(1);
		}
		if (orc) {
			CHECK(orc == -EINVAL && err && *err);
			free(err);
			neither++;
			continue;
		}
		both++;
		for (int k = 0; k < 40; k++) {
			size_t len = k ? rnd(7) : 0;

			for (size_t i = 0; i < len; i++)
				text[i] = alphabet[rnd(sizeof(alphabet) - 1)];
			text[len] = '\0';
			if ((regexec(&g, text, 0, NULL, 0) == 0) != store_regex__match(re, text)) {
				fprintf(stderr, "'%s' on \"%s\": glibc %d, store_regex %d\n",
					pattern, text, regexec(&g, text, 0, NULL, 0) == 0,
					store_regex__match(re, text));
				exit(1);
			}
		}
		regfree(&g);
		store_regex__free(re);
	}
	/* the grammar exercises both sides */
	CHECK(both > patterns / 4 && neither > patterns / 20);
}

static bool matches(const char *pattern, const char *text)
{
	struct store_regex *re;
	bool m;

	CHECK_RC(store_regex__compile(pattern, 1 << 20, &re, NULL), 0);
	m = store_regex__match(re, text);
	store_regex__free(re);
	return m;
}

static void refused(const char *pattern, int want, const char *why)
{
	struct store_regex *re = (struct store_regex *)&re;
	char *err = NULL;

	CHECK_RC(store_regex__compile(pattern, 1 << 20, &re, &err), want);
	CHECK(re == (struct store_regex *)&re);
	if (!err || !strstr(err, why)) {
		fprintf(stderr, "'%s': error '%s' lacks '%s'\n", pattern, err ? err : "(none)",
			why);
		exit(1);
	}
	free(err);
}

static void anchors_and_words(void)
{
	/* whole text only */
	CHECK(matches("post.*", "postgres") && !matches("post.*", "xpostgres"));
	CHECK(matches("a|b", "b") && !matches("a|b", "ab"));
	/* anchors at the ends of the text only, newlines are characters */
	CHECK(matches("^ab$", "ab") && matches("(^a|b)c", "ac") && !matches("x(^a|b)c", "xac"));
	CHECK(matches("x(^a|b)c", "xbc") && !matches("a$b", "ab") && !matches("a\n^b", "a\nb"));
	CHECK(matches("-($.)?", "-") && !matches("-($.){0,2}", "-."));
	CHECK(matches("\\`ab\\'", "ab") && matches("a\\'|b", "a"));
	/* word boundaries: letters, digits and '_' are word characters */
	CHECK(matches("\\bfoo\\b", "foo") && matches("a \\bb", "a b") && !matches("a\\bb", "ab"));
	CHECK(matches("a\\Bb", "ab") && !matches("a\\B b", "a b") && matches("\\B", ""));
	CHECK(matches("\\<a.*c\\>", "a-b_c") && !matches("x\\<a", "xa") && matches("_\\>-", "_-"));
	CHECK(!matches("([-a]{0,2}\\b[^a]){2}", "cb")); /* glibc: yes */
	/* classes, brackets, escapes, counts */
	CHECK(matches("[[:upper:]][[:lower:]]+[[:xdigit:]]{2}", "Worker0f"));
	CHECK(matches("[^[:alnum:]]", "-") && !matches("[^[:alnum:]]", "x"));
	CHECK(matches("\\d", "d") && matches("a\\.b", "a.b") && !matches("a\\.b", "axb"));
	CHECK(matches("(nginx|apache2?|post[a-z]+)-[0-9]{1,4}", "apache-8080"));
	CHECK(matches("x{,2}", "") && matches("x{,}", "xxx") && !matches("x{2}", "xxx"));
	CHECK(matches("(a?)*", "aaa") && matches("(a*)*b", "aaab") && matches("()", ""));
	CHECK(matches("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9") && matches(".{2}", "\xc3\xa9"));
}

static void refusals(void)
{
	refused("(a", -EINVAL, "'(' without its ')'");
	refused("a)", -EINVAL, "')' at position 2 without its '('");
	refused("[a", -EINVAL, "'[' at position 1 without its ']'");
	refused("[z-a]", -EINVAL, "invalid range end");
	refused("[[:word:]]", -EINVAL, "unknown character class");
	refused("[[.ab.]]", -EINVAL, "only single characters");
	refused("*a", -EINVAL, "nothing to repeat before '*' at position 1");
	refused("a|+", -EINVAL, "nothing to repeat");
	refused("^*", -EINVAL, "an anchor matches no character");
	refused("a{1", -EINVAL, "invalid repetition count");
	refused("a{40000}", -EINVAL, "over 32767");
	refused("a{3,2}", -EINVAL, "minimum is over the maximum");
	refused("(a)\\1", -EINVAL, "back-references");
	refused("a\\", -EINVAL, "nothing to escape");
	refused("((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
		"a)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
		-EINVAL, "nested deeper");
	/* expanded past the budget: refused before anything is expanded */
	refused("((a{1000}){1000}){1000}", -E2BIG, "more than 1024 KiB");
	refused("(x{32767}){32767}", -E2BIG, "more than 1024 KiB");
}

/* What glibc could not bound is bounded, and matching allocates nothing. */
static void bounded(void)
{
	struct store_regex *re;
	char text[32];
	size_t size;
	int hits = 0;

	CHECK_RC(store_regex__compile("a{0,9999}", 1 << 20, &re, NULL), 0);
	size = store_regex__size(re);
	/* 9,999 SPLITs and SETs and a MATCH, 28 bytes each, one set */
	CHECK(size >= 20000 * 28 && size < 20000 * 28 + 1024);
	memset(text, 'a', 20);
	text[20] = '\0';
	CHECK(store_regex__match(re, text) && store_regex__match(re, ""));
	store_regex__free(re);
	CHECK_RC(store_regex__compile("a{0,9999}", 100000, &re, NULL), -E2BIG);

	CHECK_RC(store_regex__compile("[ab]*a[ab]{30}", 1 << 20, &re, NULL), 0);
	size = store_regex__size(re);
	for (int i = 0; i < 100000; i++) {
		for (int k = 0; k < 31; k++)
			text[k] = "ab"[rnd(2)];
		text[31] = '\0';
		hits += store_regex__match(re, text);
	}
	CHECK(store_regex__size(re) == size);
	CHECK(hits > 40000 && hits < 60000); /* text[0] == 'a' */
	store_regex__free(re);
}

int main(void)
{
	against_glibc(5000);
	anchors_and_words();
	refusals();
	bounded();
	return 0;
}
