/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_regex.c — the regular expressions of label filters: a parser for
 * POSIX extended syntax (as glibc reads it in the C locale) into a tree,
 * a compiler from the tree into a program whose repetitions are expanded
 * into copies, and a matcher that runs every thread of the program in
 * step over the text (Thompson's construction, as RE2 and Go's regexp
 * do), so a match never backtracks and never caches. Used by
 * store_filter.c for "=~" and "!~" terms; see store_regex.h for why not
 * glibc's regcomp.
 *
 * The program: SET (the byte is in a 256-bit set), ASSERT (a position
 * test: ^ $ \b \B \< \> \` \'), JMP, SPLIT (continue at both targets) and
 * MATCH. Memory: 12 bytes an instruction, 32 a distinct set, and 16 an
 * instruction for the match state, all allocated at compile time.
 *
 * One subsystem (about 900 lines: parser, compiler and matcher of one
 * program format, each meaningless without the others). Its invariants:
 * - the tree: every node index (first, next) is below n_nodes or NONE,
 *   every set index below n_sets; the parser recurses at most MAX_DEPTH
 *   groups deep, and counts are at most DUP_MAX;
 * - the size: node_size() is exactly what emit() writes, so the program
 *   has the size computed before anything was expanded (emit() checks it
 *   never writes past it, compile that it wrote all of it), and that size
 *   is within max_bytes and below NONE;
 * - the program: it ends with its one MATCH, every JMP and SPLIT target
 *   and every ASSERT's next instruction is inside it, every SET's set
 *   exists (program_valid(), asserted after compiling);
 * - matching: an instruction is pushed at most once a generation (mark),
 *   so the work stack and each thread list hold at most n entries.
 */
#include "store_regex.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Counts in {m,n}: glibc's RE_DUP_MAX. */
#define DUP_MAX 0x7fff
/* Groups nested deeper than this are refused (the parser recurses). */
#define MAX_DEPTH 64

enum op { I_SET, I_ASSERT, I_JMP, I_SPLIT, I_MATCH };

enum assert_kind {
	A_BOL,     /* ^ */
	A_EOL,     /* $ */
	A_BUFBEG,  /* \` */
	A_BUFEND,  /* \' */
	A_WORDB,   /* \b */
	A_NWORDB,  /* \B */
	A_WBEG,    /* \< */
	A_WEND,    /* \> */
};

struct insn {
	uint8_t op, arg; /* arg: the assertion */
	uint32_t x, y;   /* SET: the set; JMP, SPLIT: targets */
};

struct cset {
	uint64_t bits[4];
};

struct store_regex {
	struct insn *prog;
	size_t n;
	struct cset *sets;
	size_t n_sets;
	/* match state: two thread lists, the work stack, and per
	 * instruction the generation it was last added in */
	uint32_t *clist, *nlist, *stack, *mark;
	uint32_t gen;
};

/* ---- parsing ---- */

enum node_kind { N_SET, N_ASSERT, N_EMPTY, N_CAT, N_ALT, N_REP };

struct node {
	uint8_t kind, arg;
	uint32_t set;          /* N_SET */
	uint32_t first, next;  /* children (N_CAT, N_ALT, N_REP), sibling */
	int32_t min, max;      /* N_REP; max -1: no bound */
};

#define NONE UINT32_MAX

struct parser {
	const char *p;          /* the pattern */
	size_t pos;
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	struct cset *sets;
	size_t n_sets, cap_sets;
	uint32_t char_set[256]; /* the set of a single byte, or NONE */
	char *error;
	int err;
};

static void fail(struct parser *ps, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct parser *ps, int err, const char *fmt, ...)
{
	va_list ap;

	if (ps->err)
		return;
	ps->err = err;
	if (err == -ENOMEM)
		return;
	va_start(ap, fmt);
	if (vasprintf(&ps->error, fmt, ap) < 0) {
		ps->error = NULL;
		ps->err = -ENOMEM;
	}
	va_end(ap);
}

static uint32_t new_node(struct parser *ps, enum node_kind kind)
{
	if (COMMON_GROW(ps->nodes, ps->cap_nodes, ps->n_nodes + 1)) {
		fail(ps, -ENOMEM, "out of memory");
		return NONE;
	}
	ps->nodes[ps->n_nodes] = (struct node){ .kind = kind, .set = NONE,
						.first = NONE, .next = NONE };
	return (uint32_t)ps->n_nodes++;
}

static uint32_t new_set(struct parser *ps, const struct cset *s)
{
	if (COMMON_GROW(ps->sets, ps->cap_sets, ps->n_sets + 1)) {
		fail(ps, -ENOMEM, "out of memory");
		return NONE;
	}
	ps->sets[ps->n_sets] = *s;
	return (uint32_t)ps->n_sets++;
}

static void set_add(struct cset *s, unsigned c)
{
	s->bits[c >> 6] |= 1ull << (c & 63);
}

static bool set_has(const struct cset *s, unsigned c)
{
	return s->bits[c >> 6] >> (c & 63) & 1;
}

static void set_invert(struct cset *s)
{
	for (int i = 0; i < 4; i++)
		s->bits[i] = ~s->bits[i];
}

static bool is_word(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* The C locale's character classes. */
static bool class_has(const char *name, size_t len, unsigned c)
{
	bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	bool digit = c >= '0' && c <= '9';
	bool graph = c > ' ' && c < 0x7f;

#define IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
	if (IS("alpha"))
		return alpha;
	if (IS("digit"))
		return digit;
	if (IS("alnum"))
		return alpha || digit;
	if (IS("upper"))
		return c >= 'A' && c <= 'Z';
	if (IS("lower"))
		return c >= 'a' && c <= 'z';
	if (IS("xdigit"))
		return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	if (IS("space"))
		return c == ' ' || (c >= '\t' && c <= '\r');
	if (IS("blank"))
		return c == ' ' || c == '\t';
	if (IS("cntrl"))
		return c < ' ' || c == 0x7f;
	if (IS("print"))
		return c >= ' ' && c < 0x7f;
	if (IS("graph"))
		return graph;
	if (IS("punct"))
		return graph && !alpha && !digit;
#undef IS
	return false;
}

static bool class_known(const char *name, size_t len)
{
	static const char *const names[] = { "alpha", "digit", "alnum", "upper", "lower",
					     "xdigit", "space", "blank", "cntrl", "print",
					     "graph", "punct" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return true;
	return false;
}

static uint32_t set_node(struct parser *ps, const struct cset *s)
{
	uint32_t set = new_set(ps, s), n;

	if (set == NONE || (n = new_node(ps, N_SET)) == NONE)
		return NONE;
	ps->nodes[n].set = set;
	return n;
}

static uint32_t char_node(struct parser *ps, unsigned char c)
{
	uint32_t n;

	if (ps->char_set[c] == NONE) {
		struct cset s = { { 0 } };

		set_add(&s, c);
		ps->char_set[c] = new_set(ps, &s);
		if (ps->char_set[c] == NONE)
			return NONE;
	}
	if ((n = new_node(ps, N_SET)) == NONE)
		return NONE;
	ps->nodes[n].set = ps->char_set[c];
	return n;
}

static uint32_t assert_node(struct parser *ps, enum assert_kind k)
{
	uint32_t n = new_node(ps, N_ASSERT);

	if (n != NONE)
		ps->nodes[n].arg = (uint8_t)k;
	return n;
}

/*
 * One element of a bracket expression at ps->pos: a byte, [.c.] or
 * [=c=] (a byte in the C locale), or [:class:] (*ret_class, its name
 * at *ret_name). Returns false on error.
 */
static bool bracket_element(struct parser *ps, int *ret_c, const char **ret_class,
			    size_t *ret_class_len)
{
	const char *p = ps->p + ps->pos;

	*ret_class = NULL;
	if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
		char kind = p[1];
		const char *end = p + 2;

		while (*end && !(end[0] == kind && end[1] == ']'))
			end++;
		if (!*end) {
			fail(ps, -EINVAL, "'[%c' at position %zu without its '%c]'", kind,
			     ps->pos + 1, kind);
			return false;
		}
		if (kind == ':') {
			if (!class_known(p + 2, (size_t)(end - p - 2))) {
				fail(ps, -EINVAL, "unknown character class '[:%.*s:]' at position %zu",
				     (int)(end - p - 2), p + 2, ps->pos + 1);
				return false;
			}
			*ret_class = p + 2;
			*ret_class_len = (size_t)(end - p - 2);
		} else {
			if (end - p - 2 != 1) {
				fail(ps, -EINVAL, "'[%c%.*s%c]' at position %zu: only single "
				     "characters are collating elements here", kind,
				     (int)(end - p - 2), p + 2, kind, ps->pos + 1);
				return false;
			}
			*ret_c = (unsigned char)p[2];
		}
		ps->pos = (size_t)(end + 2 - ps->p);
		return true;
	}
	*ret_c = (unsigned char)p[0];
	ps->pos++;
	return true;
}

/* A bracket expression; ps->pos is after the '['. */
static uint32_t parse_bracket(struct parser *ps)
{
	size_t start = ps->pos - 1;
	struct cset s = { { 0 } };
	bool neg = false, first = true;

	if (ps->p[ps->pos] == '^') {
		neg = true;
		ps->pos++;
	}
	for (;;) {
		const char *cls;
		size_t cls_len = 0;
		int c = 0, hi;

		if (!ps->p[ps->pos]) {
			fail(ps, -EINVAL, "'[' at position %zu without its ']'", start + 1);
			return NONE;
		}
		if (ps->p[ps->pos] == ']' && !first) {
			ps->pos++;
			break;
		}
		first = false;
		if (!bracket_element(ps, &c, &cls, &cls_len))
			return NONE;
		if (cls) {
			for (unsigned b = 1; b < 256; b++)
				if (class_has(cls, cls_len, b))
					set_add(&s, b);
			if (ps->p[ps->pos] == '-' && ps->p[ps->pos + 1] != ']') {
				fail(ps, -EINVAL, "a character class cannot start a range "
				     "(position %zu)", ps->pos + 1);
				return NONE;
			}
			continue;
		}
		if (ps->p[ps->pos] == '-' && ps->p[ps->pos + 1] && ps->p[ps->pos + 1] != ']') {
			size_t at = ps->pos + 1;

			ps->pos++;
			if (!bracket_element(ps, &hi, &cls, &cls_len))
				return NONE;
			if (cls || hi < c) {
				fail(ps, -EINVAL, "invalid range end at position %zu", at + 1);
				return NONE;
			}
			if (ps->p[ps->pos] == '-' && ps->p[ps->pos + 1] != ']') {
				fail(ps, -EINVAL, "a range cannot start where one ends "
				     "(position %zu)", ps->pos + 1);
				return NONE;
			}
			for (int b = c; b <= hi; b++)
				set_add(&s, (unsigned)b);
			continue;
		}
		set_add(&s, (unsigned)c);
	}
	if (neg)
		set_invert(&s);
	s.bits[0] &= ~1ull; /* no text holds a NUL */
	return set_node(ps, &s);
}

static uint32_t parse_alt(struct parser *ps, int depth);

/* "{m}", "{m,}", "{,n}", "{m,n}" at ps->pos (the '{'). */
static bool parse_interval(struct parser *ps, int32_t *ret_min, int32_t *ret_max)
{
	size_t start = ps->pos;
	const char *p = ps->p + ps->pos + 1;
	long m = -1, n = -1;
	bool comma = false;

	if (*p >= '0' && *p <= '9') {
		m = 0;
		while (*p >= '0' && *p <= '9' && m <= DUP_MAX)
			m = m * 10 + (*p++ - '0');
	}
	if (*p == ',') {
		comma = true;
		p++;
		if (*p >= '0' && *p <= '9') {
			n = 0;
			while (*p >= '0' && *p <= '9' && n <= DUP_MAX)
				n = n * 10 + (*p++ - '0');
		}
	}
	if (*p != '}' || (m < 0 && !comma)) {
		fail(ps, -EINVAL, "invalid repetition count at position %zu: expected "
		     "{m}, {m,}, {,n} or {m,n}", start + 1);
		return false;
	}
	if (m > DUP_MAX || n > DUP_MAX) {
		fail(ps, -EINVAL, "repetition count over %d at position %zu", DUP_MAX,
		     start + 1);
		return false;
	}
	if (m < 0)
		m = 0;
	if (!comma)
		n = m;
	if (n >= 0 && n < m) {
		fail(ps, -EINVAL, "repetition {%ld,%ld} at position %zu: the minimum is "
		     "over the maximum", m, n, start + 1);
		return false;
	}
	*ret_min = (int32_t)m;
	*ret_max = (int32_t)n;
	ps->pos = (size_t)(p + 1 - ps->p);
	return true;
}

/* An atom and its repetitions. Returns NONE at the end of a branch (with
 * no error) or on error. */
static uint32_t parse_piece(struct parser *ps, int depth)
{
	unsigned char c = (unsigned char)ps->p[ps->pos];
	uint32_t atom;

	switch (c) {
	case '\0':
	case '|':
	case ')':
		return NONE;
	case '*':
	case '+':
	case '?':
	case '{':
		fail(ps, -EINVAL, "nothing to repeat before '%c' at position %zu", c,
		     ps->pos + 1);
		return NONE;
	case '(':
		if (depth >= MAX_DEPTH) {
			fail(ps, -EINVAL, "groups nested deeper than %d", MAX_DEPTH);
			return NONE;
		}
		ps->pos++;
		atom = parse_alt(ps, depth + 1);
		if (ps->err)
			return NONE;
		if (ps->p[ps->pos] != ')') {
			fail(ps, -EINVAL, "'(' without its ')'");
			return NONE;
		}
		ps->pos++;
		break;
	case '[':
		ps->pos++;
		atom = parse_bracket(ps);
		break;
	case '.': {
		struct cset s;

		memset(&s, 0xff, sizeof(s));
		s.bits[0] &= ~1ull;
		ps->pos++;
		atom = set_node(ps, &s);
		break;
	}
	case '^':
	case '$':
		ps->pos++;
		atom = assert_node(ps, c == '^' ? A_BOL : A_EOL);
		break;
	case '\\': {
		unsigned char e = (unsigned char)ps->p[ps->pos + 1];
		struct cset s = { { 0 } };

		if (!e) {
			fail(ps, -EINVAL, "'\\' at the end: nothing to escape");
			return NONE;
		}
		if (e >= '1' && e <= '9') {
			fail(ps, -EINVAL, "back-references (\\%c at position %zu) are not "
			     "supported", e, ps->pos + 1);
			return NONE;
		}
		ps->pos += 2;
		switch (e) {
		case 'w':
		case 'W':
			for (unsigned b = 1; b < 256; b++)
				if (is_word(b))
					set_add(&s, b);
			if (e == 'W')
				set_invert(&s);
			s.bits[0] &= ~1ull;
			atom = set_node(ps, &s);
			break;
		case 's':
		case 'S':
			for (unsigned b = 1; b < 256; b++)
				if (class_has("space", 5, b))
					set_add(&s, b);
			if (e == 'S')
				set_invert(&s);
			s.bits[0] &= ~1ull;
			atom = set_node(ps, &s);
			break;
		case 'b':
			atom = assert_node(ps, A_WORDB);
			break;
		case 'B':
			atom = assert_node(ps, A_NWORDB);
			break;
		case '<':
			atom = assert_node(ps, A_WBEG);
			break;
		case '>':
			atom = assert_node(ps, A_WEND);
			break;
		case '`':
			atom = assert_node(ps, A_BUFBEG);
			break;
		case '\'':
			atom = assert_node(ps, A_BUFEND);
			break;
		default:
			atom = char_node(ps, e);
			break;
		}
		break;
	}
	default:
		ps->pos++;
		atom = char_node(ps, c);
		break;
	}
	while (atom != NONE && !ps->err) {
		int32_t min, max;
		uint32_t rep;

		c = (unsigned char)ps->p[ps->pos];
		if (ps->nodes[atom].kind == N_ASSERT && (c == '*' || c == '+' || c == '?' || c == '{')) {
			/* as glibc: an anchor is not repeated */
			fail(ps, -EINVAL, "nothing to repeat before '%c' at position %zu: "
			     "an anchor matches no character", c, ps->pos + 1);
			return NONE;
		}
		if (c == '*' || c == '+' || c == '?') {
			min = c == '+';
			max = c == '?' ? 1 : -1;
			ps->pos++;
		} else if (c == '{') {
			if (!parse_interval(ps, &min, &max))
				return NONE;
		} else {
			break;
		}
		rep = new_node(ps, N_REP);
		if (rep == NONE)
			return NONE;
		ps->nodes[rep].first = atom;
		ps->nodes[rep].min = min;
		ps->nodes[rep].max = max;
		atom = rep;
	}
	return ps->err ? NONE : atom;
}

/* Pieces up to '|', ')' or the end. */
static uint32_t parse_cat(struct parser *ps, int depth)
{
	uint32_t cat, last = NONE, piece;

	cat = new_node(ps, N_CAT);
	while (cat != NONE && (piece = parse_piece(ps, depth)) != NONE) {
		if (last == NONE)
			ps->nodes[cat].first = piece;
		else
			ps->nodes[last].next = piece;
		last = piece;
	}
	if (ps->err)
		return NONE;
	if (last == NONE)
		ps->nodes[cat].kind = N_EMPTY;
	return cat;
}

static uint32_t parse_alt(struct parser *ps, int depth)
{
	uint32_t alt, last = NONE, branch;

	alt = new_node(ps, N_ALT);
	if (alt == NONE)
		return NONE;
	for (;;) {
		branch = parse_cat(ps, depth);
		if (branch == NONE)
			return NONE;
		if (last == NONE)
			ps->nodes[alt].first = branch;
		else
			ps->nodes[last].next = branch;
		last = branch;
		if (ps->p[ps->pos] != '|')
			break;
		ps->pos++;
	}
	return alt;
}

/* ---- compiling ---- */

/* Instructions node n compiles to, saturated at cap + 1. */
static uint64_t node_size(const struct parser *ps, uint32_t n, uint64_t cap)
{
	const struct node *nd = &ps->nodes[n];
	uint64_t s = 0, c;

	switch (nd->kind) {
	case N_SET:
	case N_ASSERT:
		return 1;
	case N_EMPTY:
		return 0;
	case N_CAT:
	case N_ALT:
		for (uint32_t k = nd->first; k != NONE; k = ps->nodes[k].next) {
			s += node_size(ps, k, cap);
			if (nd->kind == N_ALT && ps->nodes[k].next != NONE)
				s += 2; /* SPLIT, JMP */
			if (s > cap)
				return cap + 1;
		}
		return s;
	case N_REP:
		c = node_size(ps, nd->first, cap);
		/* c, min, max <= 32767 and cap + 1: no overflow */
		s = c * (uint64_t)nd->min;
		s += nd->max < 0 ? c + 2 : (uint64_t)(nd->max - nd->min) * (c + 1);
		return s > cap ? cap + 1 : s;
	}
	return cap + 1;
}

struct emitter {
	const struct parser *ps;
	struct insn *prog;
	uint32_t pc;
	uint32_t n; /* the program's size: pc never passes it */
};

static void emit(struct emitter *em, uint32_t n)
{
	const struct node *nd = &em->ps->nodes[n];
	uint32_t patch = NONE, at;

	/* room for this node's first instruction or for the MATCH */
	assert(em->pc < em->n);
	switch (nd->kind) {
	case N_SET:
		em->prog[em->pc++] = (struct insn){ .op = I_SET, .x = nd->set };
		break;
	case N_ASSERT:
		em->prog[em->pc++] = (struct insn){ .op = I_ASSERT, .arg = nd->arg };
		break;
	case N_EMPTY:
		break;
	case N_CAT:
		for (uint32_t k = nd->first; k != NONE; k = em->ps->nodes[k].next)
			emit(em, k);
		break;
	case N_ALT:
		/* SPLIT to this branch or the next; each branch but the last
		 * jumps to the end (the JMPs chained through x until then) */
		for (uint32_t k = nd->first; k != NONE; k = em->ps->nodes[k].next) {
			if (em->ps->nodes[k].next == NONE) {
				emit(em, k);
				break;
			}
			at = em->pc++;
			em->prog[at] = (struct insn){ .op = I_SPLIT, .x = at + 1 };
			emit(em, k);
			em->prog[em->pc] = (struct insn){ .op = I_JMP, .x = patch };
			patch = em->pc++;
			em->prog[at].y = em->pc;
		}
		while (patch != NONE) {
			at = em->prog[patch].x;
			em->prog[patch].x = em->pc;
			patch = at;
		}
		break;
	case N_REP:
		for (int32_t i = 0; i < nd->min; i++)
			emit(em, nd->first);
		if (nd->max < 0) {
			at = em->pc++;
			emit(em, nd->first);
			em->prog[em->pc++] = (struct insn){ .op = I_JMP, .x = at };
			em->prog[at] = (struct insn){ .op = I_SPLIT, .x = at + 1, .y = em->pc };
			break;
		}
		/* each optional copy may be skipped to the end */
		for (int32_t i = nd->min; i < nd->max; i++) {
			at = em->pc++;
			em->prog[at] = (struct insn){ .op = I_SPLIT, .x = at + 1, .y = patch };
			patch = at;
			emit(em, nd->first);
		}
		while (patch != NONE) {
			at = em->prog[patch].y;
			em->prog[patch].y = em->pc;
			patch = at;
		}
		break;
	}
	/* what node_size() said: the MATCH still fits */
	assert(em->pc < em->n);
}

/* The bytes a program of n instructions and n_sets sets holds. */
#define INSN_BYTES (sizeof(struct insn) + 4 * sizeof(uint32_t))

static uint64_t program_bytes(uint64_t n, uint64_t n_sets)
{
	return sizeof(struct store_regex) + n * INSN_BYTES + n_sets * sizeof(struct cset);
}

/* Whether re's program keeps to its invariants (see the top). */
static bool program_valid(const struct store_regex *re)
{
	for (size_t pc = 0; pc < re->n; pc++) {
		const struct insn *in = &re->prog[pc];

		switch (in->op) {
		case I_SET:
			if (in->x >= re->n_sets)
				return false;
			break;
		case I_ASSERT:
			if (pc + 1 >= re->n)
				return false;
			break;
		case I_JMP:
			if (in->x >= re->n)
				return false;
			break;
		case I_SPLIT:
			if (in->x >= re->n || in->y >= re->n)
				return false;
			break;
		case I_MATCH:
			if (pc + 1 != re->n)
				return false;
			break;
		default:
			return false;
		}
	}
	return re->n > 0 && re->prog[re->n - 1].op == I_MATCH;
}

int store_regex__compile(const char *pattern, size_t max_bytes,
			 struct store_regex **ret_regex, char **ret_error)
{
	struct parser ps = { .p = pattern };
	struct store_regex *re = NULL;
	struct emitter em;
	uint32_t root;
	uint64_t size, max_insns;
	int err;

	if (!pattern || !ret_regex)
		return -EINVAL;
	memset(ps.char_set, 0xff, sizeof(ps.char_set));
	root = parse_alt(&ps, 0);
	if (!ps.err && ps.p[ps.pos] == ')')
		fail(&ps, -EINVAL, "')' at position %zu without its '('", ps.pos + 1);
	if (ps.err)
		goto out;
	/* The most instructions max_bytes holds with these sets (and
	 * below NONE): the size is known before anything is expanded. */
	max_insns = program_bytes(0, ps.n_sets) >= max_bytes ? 0 :
		    (max_bytes - program_bytes(0, ps.n_sets)) / INSN_BYTES;
	if (max_insns > NONE - 1)
		max_insns = NONE - 1;
	size = node_size(&ps, root, max_insns) + 1; /* MATCH */
	if (size > max_insns) {
		fail(&ps, -E2BIG, "compiled, it would take more than %zu KiB",
		     max_bytes >> 10);
		goto out;
	}
	re = calloc(1, sizeof(*re));
	if (!re) {
		fail(&ps, -ENOMEM, "out of memory");
		goto out;
	}
	re->n = (size_t)size;
	re->prog = calloc(re->n, sizeof(*re->prog));
	re->clist = calloc(re->n, sizeof(uint32_t));
	re->nlist = calloc(re->n, sizeof(uint32_t));
	re->stack = calloc(re->n, sizeof(uint32_t));
	re->mark = calloc(re->n, sizeof(uint32_t));
	if (!re->prog || !re->clist || !re->nlist || !re->stack || !re->mark) {
		fail(&ps, -ENOMEM, "out of memory");
		goto out;
	}
	em = (struct emitter){ .ps = &ps, .prog = re->prog, .n = (uint32_t)re->n };
	emit(&em, root);
	re->prog[em.pc++] = (struct insn){ .op = I_MATCH };
	re->sets = ps.sets; /* owned from here */
	re->n_sets = ps.n_sets;
	ps.sets = NULL;
	assert(em.pc == re->n && program_valid(re));
out:
	err = ps.err;
	free(ps.nodes);
	free(ps.sets);
	if (err) {
		store_regex__free(re);
		if (ret_error)
			*ret_error = ps.error;
		else
			free(ps.error);
		return err;
	}
	*ret_regex = re;
	return 0;
}

/* ---- matching ---- */

/* Whether assertion k holds between text[pos - 1] and text[pos]. */
static bool assert_holds(unsigned k, const unsigned char *text, size_t pos)
{
	bool before = pos > 0 && is_word(text[pos - 1]);
	bool after = text[pos] && is_word(text[pos]);

	switch (k) {
	case A_BOL:
	case A_BUFBEG:
		return pos == 0;
	case A_EOL:
	case A_BUFEND:
		return !text[pos];
	case A_WORDB:
		return before != after;
	case A_NWORDB:
		return before == after;
	case A_WBEG:
		return !before && after;
	case A_WEND:
		return before && !after;
	}
	return false;
}

/* Add the thread at pc, and those its JMPs, SPLITs and true assertions
 * lead to, to list (its SET and MATCH instructions). Each instruction is
 * pushed once a generation, so the stack holds at most n. */
static size_t add_thread(struct store_regex *re, uint32_t *list, size_t n_list, uint32_t pc,
			 const unsigned char *text, size_t pos)
{
	size_t sp = 0;

#define PUSH(t)                                                                        \
	do {                                                                           \
		if (re->mark[(t)] != re->gen) {                                        \
			assert(sp < re->n);                                            \
			re->mark[(t)] = re->gen;                                       \
			re->stack[sp++] = (t);                                         \
		}                                                                      \
	} while (0)
	PUSH(pc);
	while (sp > 0) {
		const struct insn *in;

		pc = re->stack[--sp];
		in = &re->prog[pc];
		switch (in->op) {
		case I_JMP:
			PUSH(in->x);
			break;
		case I_SPLIT:
			PUSH(in->y);
			PUSH(in->x);
			break;
		case I_ASSERT:
			if (assert_holds(in->arg, text, pos))
				PUSH(pc + 1);
			break;
		default:
			assert(n_list < re->n);
			list[n_list++] = pc;
			break;
		}
	}
#undef PUSH
	return n_list;
}

static void next_generation(struct store_regex *re)
{
	if (++re->gen == 0) {
		memset(re->mark, 0, re->n * sizeof(*re->mark));
		re->gen = 1;
	}
}

bool store_regex__match(struct store_regex *re, const char *text)
{
	const unsigned char *t = (const unsigned char *)(text ? text : "");
	size_t nc, nn;
	uint32_t *tmp;

	if (!re)
		return false;
	next_generation(re);
	nc = add_thread(re, re->clist, 0, 0, t, 0);
	for (size_t pos = 0; t[pos]; pos++) {
		next_generation(re);
		nn = 0;
		for (size_t i = 0; i < nc; i++) {
			const struct insn *in = &re->prog[re->clist[i]];

			if (in->op == I_SET && set_has(&re->sets[in->x], t[pos]))
				nn = add_thread(re, re->nlist, nn, re->clist[i] + 1, t, pos + 1);
		}
		if (nn == 0)
			return false;
		tmp = re->clist;
		re->clist = re->nlist;
		re->nlist = tmp;
		nc = nn;
	}
	for (size_t i = 0; i < nc; i++)
		if (re->prog[re->clist[i]].op == I_MATCH)
			return true;
	return false;
}

size_t store_regex__size(const struct store_regex *re)
{
	return re ? (size_t)program_bytes(re->n, re->n_sets) : 0;
}

void store_regex__free(struct store_regex *re)
{
	if (!re)
		return;
	free(re->prog);
	free(re->sets);
	free(re->clist);
	free(re->nlist);
	free(re->stack);
	free(re->mark);
	free(re);
}
