/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex_bench.c — the label filters' regexes (storage/store_regex.c)
 * side by side with glibc's regcomp/regexec, which filters used before:
 * for each pattern, the memory compiling takes (the bytes allocated and
 * still held, through bench/counting_malloc.c, single-threaded, so exact) and
 * the time to match it against a set of distinct label texts, with the
 * memory matching adds (glibc caches DFA states in the regex; Ember's
 * matcher allocates nothing). Patterns: what users write (a name prefix,
 * an alternation of names with a count), and what an attacker sends
 * ("a{0,9999}", "[ab]*a[ab]{30}" over 100,000 distinct 40-character
 * texts). Figures only; never pass/fail.
 *
 * Usage: regex_bench [--texts N]
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counting_malloc.h"
#include "store_regex.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct result {
	size_t compile_held, compile_peak, match_growth;
	double match_s;
	long matched;
	bool ok;
};

/* An engine under test: compile (true when the pattern is accepted),
 * match a text, free what compile made. */
struct engine {
	bool (*compile)(const char *pattern, void **ret);
	bool (*match)(void *re, const char *text);
	void (*free)(void *re);
};

/* glibc's: the whole text must match, as the filters' do. One compiled
 * regex at a time, in static storage, so compile's memory is glibc's. */
static regex_t glibc_re;

static bool glibc_compile(const char *pattern, void **ret)
{
	char anchored[512];

	snprintf(anchored, sizeof(anchored), "^(%s)$", pattern);
	*ret = &glibc_re;
	return regcomp(&glibc_re, anchored, REG_EXTENDED | REG_NOSUB) == 0;
}

static bool glibc_match(void *re, const char *text)
{
	return regexec(re, text, 0, NULL, 0) == 0;
}

static void glibc_free(void *re)
{
	regfree(re);
}

static bool ember_compile(const char *pattern, void **ret)
{
	struct store_regex *re;

	if (store_regex__compile(pattern, 1 << 20, &re, NULL) != 0)
		return false;
	*ret = re;
	return true;
}

static bool ember_match(void *re, const char *text)
{
	return store_regex__match(re, text);
}

static void ember_free(void *re)
{
	store_regex__free(re);
}

static const struct engine glibc = { glibc_compile, glibc_match, glibc_free };
static const struct engine ember = { ember_compile, ember_match, ember_free };

/* Compile pattern with e (its memory), then match the n texts (time and
 * the memory matching adds). */
static void run(const struct engine *e, const char *pattern, char **texts, int n,
		struct result *r)
{
	void *re = NULL;
	size_t before;
	double t0;

	counting_malloc__reset();
	r->ok = e->compile(pattern, &re);
	r->compile_held = counting_malloc__held();
	r->compile_peak = counting_malloc__peak();
	if (!r->ok)
		return;
	before = counting_malloc__held();
	t0 = now_s();
	r->matched = 0;
	for (int i = 0; i < n; i++)
		r->matched += e->match(re, texts[i]);
	r->match_s = now_s() - t0;
	r->match_growth = counting_malloc__held() - before;
	e->free(re);
}

static void row(const char *who, const char *pattern, const struct result *r, int n)
{
	if (!r->ok) {
		printf("| `%s` | %s | refused | | | |\n", pattern, who);
		return;
	}
	printf("| `%s` | %s | %.1f / %.1f | %.0f | %.1f | %ld of %d |\n", pattern, who,
	       r->compile_held / 1024.0, r->compile_peak / 1024.0, r->match_s / n * 1e9,
	       r->match_growth / 1048576.0, r->matched, n);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *pattern;
		int kind;    /* 0: process names, 1: 40 a/b characters */
		int divide;  /* of the texts: glibc takes minutes on all */
	} cases[] = {
		{ "post.*", 0, 1 },
		{ "(nginx|apache2?|post[a-z]+)-[0-9]{1,4}", 0, 1 },
		{ "worker-[[:digit:]]+|kworker/.*", 0, 1 },
		{ "a{0,9999}", 1, 1 },
		{ "[ab]*a[ab]{30}", 1, 10 },
	};
	static const char *const names[] = { "postgres", "nginx", "apache2", "worker", "kworker/0:1",
					     "postmaster", "python3", "ember" };
	int n = 100000;
	char **texts[2];

	if (argc == 3 && !strcmp(argv[1], "--texts"))
		n = atoi(argv[2]);
	if (n <= 0) {
		fprintf(stderr, "usage: regex_bench [--texts N]\n");
		return 2;
	}
	for (int k = 0; k < 2; k++) {
		texts[k] = counting_malloc__uncounted_calloc((size_t)n, sizeof(char *));
		for (int i = 0; i < n; i++) {
			char *t = counting_malloc__uncounted(64);

			if (k == 0)
				snprintf(t, 64, "%s-%u", names[rnd(8)], rnd(20000));
			else {
				for (int j = 0; j < 40; j++)
					t[j] = "ab"[rnd(2)];
				t[40] = '\0';
			}
			texts[k][i] = t;
		}
	}
	printf("%d distinct texts: process-like names (\"postgres-1234\") for the first three "
	       "patterns, 40 random a/b characters for the last two (a tenth of them for the "
	       "last).\n\n", n);
	printf("| pattern | engine | compiled KiB held / peak | ns a match | MiB added by "
	       "matching | matched |\n| --- | --- | ---: | ---: | ---: | ---: |\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct result g, e;

		int m = n / cases[c].divide;

		run(&glibc, cases[c].pattern, texts[cases[c].kind], m, &g);
		run(&ember, cases[c].pattern, texts[cases[c].kind], m, &e);
		row("glibc", cases[c].pattern, &g, m);
		row("ember", cases[c].pattern, &e, m);
		fflush(stdout);
		if (g.ok && e.ok && g.matched != e.matched)
			printf("(the two disagree on %s: %ld and %ld)\n", cases[c].pattern, g.matched,
			       e.matched);
	}
	return 0;
}
