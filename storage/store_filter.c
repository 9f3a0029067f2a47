/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_filter.c — label filter expressions ("process=~post.*,pid!=1"):
 * the parser with its error messages and the matcher. Pure (layer 0,
 * storage/DESIGN.md): the read cache (store_cache.c) matches every
 * label set it holds once per query, the ClickHouse reader the label
 * sets of a range.
 *
 * Data flow: `ember report --filter` and the web API's filter and
 * base_filter parse a string here; the parsed filter rides in struct store_query to the queries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "storage.h"
#include "store_regex.h"

enum filter_op { OP_EQ, OP_NE, OP_RE, OP_NRE };

struct filter_term {
	char *label;
	char *value;
	enum filter_op op;
	struct store_regex *re;
};

struct store_filter {
	struct filter_term *terms;
	size_t n;
	size_t n_regexes, regex_bytes; /* compiled */
};

void store_filter__free(struct store_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->terms[i].label);
		free(f->terms[i].value);
		store_regex__free(f->terms[i].re);
	}
	free(f->terms);
	free(f);
}

static int set_error(char **ret_error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_error(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (ret_error)
		*ret_error = msg;
	else
		free(msg);
	return -EINVAL;
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-';
}

/* Read a value: quoted, or up to the next ',' (trailing spaces trimmed).
 * *pos is advanced past it. Returns 0, -EINVAL (with message), -ENOMEM. */
static int parse_value(const char *expr, size_t *pos, char **ret_value,
		       char **ret_error)
{
	size_t i = *pos, start, n = 0;
	char *v = malloc(strlen(expr + i) + 1);

	if (!v)
		return -ENOMEM;
	if (expr[i] == '"') {
		start = i++;
		for (;;) {
			if (!expr[i]) {
				free(v);
				return set_error(ret_error,
						 "unterminated quote that "
						 "starts at position %zu",
						 start + 1);
			}
			if (expr[i] == '"')
				break;
			if (expr[i] == '\\' &&
			    (expr[i + 1] == '"' || expr[i + 1] == '\\'))
				i++;
			v[n++] = expr[i++];
		}
		i++;
		while (expr[i] == ' ' || expr[i] == '\t')
			i++;
		if (expr[i] && expr[i] != ',') {
			free(v);
			return set_error(ret_error,
					 "expected ',' or the end after the "
					 "quoted value at position %zu",
					 i + 1);
		}
	} else {
		while (expr[i] && expr[i] != ',') {
			if (expr[i] == '"') {
				free(v);
				return set_error(ret_error,
						 "unexpected '\"' at position "
						 "%zu: quote the whole value",
						 i + 1);
			}
			v[n++] = expr[i++];
		}
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
	}
	v[n] = '\0';
	*pos = i;
	*ret_value = v;
	return 0;
}

/*
 * Regexes are compiled by store_regex.c, whose memory is linear in the
 * size of the pattern once its repetitions are expanded (glibc's regcomp,
 * used before, took more than a gigabyte for one 300-byte filter found by
 * web/fuzz-query.c, and its regexec grew without bound). Before anything
 * is compiled, the expanded size is bounded from above: an atom counts 1,
 * a group the sum of what it holds, '*', '+' and '?' double what they
 * follow, {m,n} multiplies it by n + 1 (m + 2 without n); and each regex
 * compiled takes at most REGEX_MAX_BYTES (store_regex.c: 28 bytes an
 * instruction, and 10,000 states expand to at most about 25,000).
 *
 * Parts that can match the empty string as alternatives ("(a|)",
 * "(a*|b?)") or repeated ("(a?)*") are refused with their plain
 * equivalents ("(a)?", "(a+|b)?", "a*"): POSIX leaves empty alternatives
 * undefined, and glibc's closures over chains of them took time growing
 * with the cube of their length (a filter written for ember is then
 * also read alike by tools built on glibc).
 */
#define REGEX_MAX_COST 10000
#define REGEX_MAX_DEPTH 32
#define REGEX_MAX_BYTES (1u << 20)

struct regex_walk {
	const char *p;
	const char *error; /* what was refused, or NULL */
};

static uint64_t cost_mul(uint64_t a, uint64_t b)
{
	/* both are at most about 10 * REGEX_MAX_COST: no overflow */
	return MIN(a * b, (uint64_t)REGEX_MAX_COST + 1);
}

/* The alternatives up to ')' or the end: their cost, and in *ret_nullable
 * whether they can match the empty string. */
static uint64_t regex_cost(struct regex_walk *w, int depth, bool *ret_nullable)
{
	uint64_t total = 0;
	bool branch_nullable = true, nullable = false;
	unsigned branches = 1;

	if (depth > REGEX_MAX_DEPTH)
		return REGEX_MAX_COST + 1;
	for (;;) {
		uint64_t atom = 1;
		bool atom_nullable = false;
		const char *c = w->p;

		if (!*c || *c == ')' || *c == '|') {
			/* the end of a branch */
			if (branch_nullable && !w->error)
				nullable = true;
			if (*c != '|')
				break;
			branches++;
			branch_nullable = true;
			w->p = c + 1;
			continue;
		}
		if (total > REGEX_MAX_COST || w->error)
			break;
		if (*c == '(') {
			w->p = c + 1;
			atom = 1 + regex_cost(w, depth + 1, &atom_nullable);
			if (*w->p == ')')
				w->p++;
		} else if (*c == '[') {
			/* a bracket expression is one atom: skip to its ']' */
			c++;
			c += *c == '^';
			c += *c == ']';
			while (*c && *c != ']') {
				if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
					const char *end = strchr(c + 2, c[1]);

					c = end && end[1] == ']' ? end + 2 : c + 1;
				} else {
					c++;
				}
			}
			w->p = *c ? c + 1 : c;
		} else if (*c == '\\' && c[1]) {
			w->p = c + 2;
		} else {
			/* anchors match the empty string */
			atom_nullable = *c == '^' || *c == '$';
			w->p = c + 1;
		}
		for (;;) {
			char q = *w->p;

			if (q == '*' || q == '+' || q == '?') {
				if (atom_nullable && q != '?' && !w->error)
					w->error = "repeats something that can match the empty "
						   "string (write \"(a?)*\" as \"a*\")";
				atom = cost_mul(atom, 2);
				atom_nullable |= q != '+';
				w->p++;
			} else if (q == '{') {
				unsigned long m = 0, n = 0;
				bool has_n = false;
				const char *d = w->p + 1;

				while (*d >= '0' && *d <= '9' && m <= REGEX_MAX_COST)
					m = m * 10 + (unsigned long)(*d++ - '0');
				if (*d == ',') {
					d++;
					while (*d >= '0' && *d <= '9' && n <= REGEX_MAX_COST) {
						n = n * 10 + (unsigned long)(*d++ - '0');
						has_n = true;
					}
				} else {
					n = m;
					has_n = true;
				}
				if (atom_nullable && (!has_n || n > 1) && !w->error)
					w->error = "repeats something that can match the empty "
						   "string (write \"(a?){2,5}\" as \"a{0,5}\")";
				atom = cost_mul(atom, (has_n ? n : m + 1) + 1);
				atom_nullable |= m == 0;
				w->p = *d == '}' ? d + 1 : d;
			} else {
				break;
			}
		}
		branch_nullable &= atom_nullable;
		total = MIN(total + atom, (uint64_t)REGEX_MAX_COST + 1);
	}
	if (nullable && branches > 1 && !w->error)
		w->error = "has an alternative that can match the empty string "
			   "(write \"(a|)\" as \"(a)?\", \"(a*|b)\" as \"(a+|b)?\")";
	*ret_nullable = nullable;
	return total;
}

/* Compile t's regex into at most max_bytes; over it: -E2BIG. */
static int compile_term(struct filter_term *t, size_t max_bytes, char **ret_error)
{
	struct regex_walk w = { .p = t->value };
	char *msg = NULL;
	uint64_t cost;
	bool nullable;
	int r;

	cost = regex_cost(&w, 0, &nullable);
	if (cost > REGEX_MAX_COST)
		return set_error(ret_error, "regular expression for label '%s' too complex: "
				 "its repetitions would expand to more than %d states",
				 t->label, REGEX_MAX_COST);
	/* Filters read alike elsewhere: in "^(...)$" (how glibc-based
	 * tools anchor a pattern), a stray ')' would close the anchoring
	 * group. */
	if (*w.p == ')')
		return set_error(ret_error, "bad regular expression '%s' for label '%s': "
				 "a ')' without its '('", t->value, t->label);
	if (w.error)
		return set_error(ret_error, "regular expression for label '%s' refused: it %s",
				 t->label, w.error);
	r = store_regex__compile(t->value, max_bytes, &t->re, &msg);
	if (r == -EINVAL)
		r = set_error(ret_error, "bad regular expression '%s' for label '%s': %s",
			      t->value, t->label, msg);
	else if (r == -E2BIG && set_error(ret_error, "regular expression for label '%s' "
					  "too big: %s", t->label, msg) == -ENOMEM)
		r = -ENOMEM;
	free(msg);
	return r;
}

int store_filter__parse(const char *expr, struct store_filter **ret_filter,
			char **ret_error)
{
	return store_filter__parse_limited(expr, NULL, ret_filter, ret_error);
}

int store_filter__parse_limited(const char *expr, const struct store_filter_limits *limits,
				struct store_filter **ret_filter, char **ret_error)
{
	size_t max_regexes = limits && limits->max_regexes ? limits->max_regexes : SIZE_MAX;
	size_t max_bytes = limits && limits->max_regex_bytes ? limits->max_regex_bytes : SIZE_MAX;
	struct store_filter *f;
	size_t i = 0;
	int r = 0;

	if (!ret_filter)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (!expr)
		expr = "";
	for (;;) {
		struct filter_term *t, *grown;
		size_t start;

		while (expr[i] == ' ' || expr[i] == '\t')
			i++;
		if (!expr[i] && f->n == 0)
			break; /* empty: everything */
		if (!is_name_start(expr[i])) {
			r = set_error(ret_error,
				      expr[i] ? "expected a label name at "
						"position %zu, found '%c'"
					      : "expected a label name at "
						"position %zu, found the end%c",
				      i + 1, expr[i] ? expr[i] : '.');
			goto fail;
		}
		grown = realloc(f->terms, (f->n + 1) * sizeof(*grown));
		if (!grown) {
			r = -ENOMEM;
			goto fail;
		}
		f->terms = grown;
		t = &f->terms[f->n++];
		memset(t, 0, sizeof(*t));
		start = i;
		while (is_name_char(expr[i]))
			i++;
		t->label = strndup(expr + start, i - start);
		if (!t->label) {
			r = -ENOMEM;
			goto fail;
		}
		while (expr[i] == ' ' || expr[i] == '\t')
			i++;
		if (expr[i] == '=' && expr[i + 1] == '~') {
			t->op = OP_RE;
			i += 2;
		} else if (expr[i] == '!' && expr[i + 1] == '~') {
			t->op = OP_NRE;
			i += 2;
		} else if (expr[i] == '!' && expr[i + 1] == '=') {
			t->op = OP_NE;
			i += 2;
		} else if (expr[i] == '=') {
			t->op = OP_EQ;
			i += 1;
		} else {
			r = set_error(ret_error,
				      "expected =, !=, =~ or !~ after label "
				      "'%s' at position %zu", t->label, i + 1);
			goto fail;
		}
		while (expr[i] == ' ' || expr[i] == '\t')
			i++;
		r = parse_value(expr, &i, &t->value, ret_error);
		if (r < 0)
			goto fail;
		if (t->op == OP_RE || t->op == OP_NRE) {
			size_t left = max_bytes - f->regex_bytes;

			if (f->n_regexes == max_regexes) {
				r = set_error(ret_error, "more than %zu regular expressions (=~ or "
					      "!~ terms)", max_regexes) == -ENOMEM ? -ENOMEM : -E2BIG;
				goto fail;
			}
			r = compile_term(t, MIN(left, (size_t)REGEX_MAX_BYTES), ret_error);
			if (r == -E2BIG && left < REGEX_MAX_BYTES) {
				/* the filter's budget, not the regex's own */
				if (ret_error) {
					free(*ret_error);
					*ret_error = NULL;
				}
				r = set_error(ret_error, "regular expressions too big: compiled, "
					      "together they would take more than %zu KiB",
					      max_bytes >> 10) == -ENOMEM ? -ENOMEM : -E2BIG;
			}
			if (r < 0)
				goto fail;
			f->n_regexes++;
			f->regex_bytes += store_regex__size(t->re);
		}
		if (!expr[i])
			break;
		i++; /* ',' */
	}
	*ret_filter = f;
	return 0;
fail:
	store_filter__free(f);
	return r;
}

/* The value of label name in a "k=v,k=v" list, copied into buf; "" when
 * absent. */
static const char *extra_value(const char *extra, const char *name,
			       char *buf, size_t size)
{
	size_t len = strlen(name);

	for (const char *p = extra; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > len && strncmp(p, name, len) == 0 && p[len] == '=') {
			snprintf(buf, size, "%.*s", (int)(n - len - 1),
				 p + len + 1);
			return buf;
		}
		p = end ? end + 1 : p + n;
	}
	return "";
}

const char *store_labels__value(const struct store_labels *l,
				const char *name, char *buf, size_t size)
{
	const char *v;

	if (!strcmp(name, "host")) {
		v = l->host;
	} else if (!strcmp(name, "process")) {
		v = l->process;
	} else if (!strcmp(name, "thread")) {
		v = l->thread;
	} else if (!strcmp(name, "pid")) {
		snprintf(buf, size, "%" PRIu32, l->pid);
		v = buf;
	} else if (!strcmp(name, "tid")) {
		snprintf(buf, size, "%" PRIu32, l->tid);
		v = buf;
	} else if (!strcmp(name, "cgroup")) {
		snprintf(buf, size, "%" PRIu64, l->cgroup_id);
		v = buf;
	} else {
		v = extra_value(l->extra, name, buf, size);
	}
	return v ? v : "";
}

static bool match_labels(const struct store_filter *f,
			 const struct store_labels *l)
{
	char buf[1024];

	for (size_t i = 0; f && i < f->n; i++) {
		const struct filter_term *t = &f->terms[i];
		const char *v = store_labels__value(l, t->label, buf, sizeof(buf));
		bool eq;

		if (t->re)
			eq = store_regex__match(t->re, v);
		else
			eq = strcmp(v, t->value) == 0;
		if (eq != (t->op == OP_EQ || t->op == OP_RE))
			return false;
	}
	return true;
}

const char *store_filter__required(const struct store_filter *f, const char *label)
{
	for (size_t i = 0; f && label && i < f->n; i++)
		if (f->terms[i].op == OP_EQ && !strcmp(f->terms[i].label, label))
			return f->terms[i].value;
	return NULL;
}

size_t store_filter__terms(const struct store_filter *f)
{
	return f ? f->n : 0;
}

size_t store_filter__regexes(const struct store_filter *f, size_t *ret_bytes)
{
	if (ret_bytes)
		*ret_bytes = f ? f->regex_bytes : 0;
	return f ? f->n_regexes : 0;
}

bool store_filter__match(const struct store_filter *f,
			 const struct store_labels *labels)
{
	static const struct store_labels none;

	return match_labels(f, labels ? labels : &none);
}
