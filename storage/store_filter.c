/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_filter.c — label filter expressions ("process=~post.*,pid!=1"):
 * the parser with its error messages and the matcher. Pure (layer 0,
 * storage/DESIGN.md): the SQLite connection (store_sql.c) calls the
 * matcher from its SQL function ember_labels_match(), through which the
 * queries apply a filter to label_sets rows, once per label set.
 *
 * Data flow: `ember report --filter`, later the web API, parse a string
 * here; the parsed filter rides in struct store_query to the queries.
 */
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "storage.h"

enum filter_op { OP_EQ, OP_NE, OP_RE, OP_NRE };

struct filter_term {
	char *label;
	char *value;
	enum filter_op op;
	bool has_re;
	regex_t re;
};

struct store_filter {
	struct filter_term *terms;
	size_t n;
};

void store_filter__free(struct store_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->terms[i].label);
		free(f->terms[i].value);
		if (f->terms[i].has_re)
			regfree(&f->terms[i].re);
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
 * glibc's regcomp expands every repetition into copies of what it repeats:
 * "a+++..." doubles the tree at each '+', "(a{1000}){1000}" makes a
 * million nodes, and one 300-byte filter made it allocate more than a
 * gigabyte (found by web/fuzz-query.c). Before compiling, the size of the
 * expanded pattern is bounded from above: an atom counts 1, a group the
 * sum of what it holds, '*', '+' and '?' double what they follow, {m,n}
 * multiplies it by n + 1 (m + 2 without n).
 *
 * Its epsilon closures are the other cost: where parts that can match
 * the empty string are alternatives ("(a|)", "(a*|b?)") or are repeated
 * ("(a?)*"), a chain of such groups takes time growing with the cube of
 * its length (100 copies of "(a|||||)", 800 bytes: 1.2 s; 200: minutes;
 * the fuzzer found one). POSIX leaves empty alternatives undefined, and
 * each such construct has a plain equivalent ("(a)?", "(a+|b)?", "a*"),
 * so they are refused with that advice.
 */
#define REGEX_MAX_COST 10000
#define REGEX_MAX_DEPTH 32

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

static int compile_term(struct filter_term *t, char **ret_error)
{
	struct regex_walk w = { .p = t->value };
	char *anchored, msg[256];
	uint64_t cost;
	bool nullable;
	int rc;

	cost = regex_cost(&w, 0, &nullable);
	if (cost > REGEX_MAX_COST)
		return set_error(ret_error, "regular expression for label '%s' too complex: "
				 "its repetitions would expand to more than %d states",
				 t->label, REGEX_MAX_COST);
	/* A stray ')' would close the group the pattern is anchored in
	 * ("^(...)$" below): "a)|(b" would match anywhere, and what follows
	 * it would repeat the whole pattern (the fuzzer's "(a){1000}){1000}"
	 * took more than 2 GB in regcomp). */
	if (*w.p == ')')
		return set_error(ret_error, "bad regular expression '%s' for label '%s': "
				 "a ')' without its '('", t->value, t->label);
	if (w.error)
		return set_error(ret_error, "regular expression for label '%s' refused: it %s",
				 t->label, w.error);
	if (asprintf(&anchored, "^(%s)$", t->value) < 0)
		return -ENOMEM;
	rc = regcomp(&t->re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		regerror(rc, &t->re, msg, sizeof(msg));
		return set_error(ret_error, "bad regular expression '%s' for "
				 "label '%s': %s", t->value, t->label, msg);
	}
	t->has_re = true;
	return 0;
}

int store_filter__parse(const char *expr, struct store_filter **ret_filter,
			char **ret_error)
{
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
			r = compile_term(t, ret_error);
			if (r < 0)
				goto fail;
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

		if (t->has_re)
			eq = regexec(&t->re, v, 0, NULL, 0) == 0;
		else
			eq = strcmp(v, t->value) == 0;
		if (eq != (t->op == OP_EQ || t->op == OP_RE))
			return false;
	}
	return true;
}

bool store_filter__match(const struct store_filter *f,
			 const struct store_labels *labels)
{
	static const struct store_labels none;

	return match_labels(f, labels ? labels : &none);
}
