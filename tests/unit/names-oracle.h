/* SPDX-License-Identifier: Apache-2.0 */
/*
 * names-oracle.h — the cross-check of test-symbolizer-names.c (C, C++)
 * and test-symbolizer-names-rust.c: every instruction of a fixture's
 * functions resolved by Ember in a child running it, each frame of each
 * inline chain compared with addr2line -f -C -i (or llvm-symbolizer) on
 * the same address (crosscheck), nm -C's names of the same source built
 * -O0 as the oracle where the tool has only a bare DW_AT_name; and the
 * helpers around it (a list of strings, a command's lines, a binary's
 * sized functions and load bias). Static inline, as symbolizer-test.h,
 * whose failure counter each test's CHECKs add to.
 */
#ifndef EMBER_TEST_NAMES_ORACLE_H
#define EMBER_TEST_NAMES_ORACLE_H

#include "symbolizer-test.h"

#define MAX_CHAIN 32
/* The reference tools, as "format, binary, address file": addr2line, and
 * for clang's DWARF 5 (whose inline chains addr2line 2.40 misses)
 * llvm-symbolizer, its linkage names demangled by libiberty as nm -C and
 * addr2line -C do (LLVM's demangler writes lambdas another way). */
#define A2L "addr2line -a -f -C -i -e '%s' < %s"
#define LLVM_SYMBOLIZER "llvm-symbolizer --output-style=GNU -a -f --no-demangle -i " \
	"-e '%s' < %s | c++filt -i"

/* A growing list of strings (lines of a tool's output, names). */
struct strv {
	char **v;
	size_t n, cap;
};

static inline void strv_add(struct strv *sv, const char *s, size_t len)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? 2 * sv->cap : 1024;
		sv->v = realloc(sv->v, sv->cap * sizeof(*sv->v));
		CHECK(sv->v != NULL);
		if (!sv->v)
			exit(1);
	}
	sv->v[sv->n] = strndup(s, len);
	CHECK(sv->v[sv->n] != NULL);
	sv->n++;
}

static inline void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct strv){ 0 };
}

static inline int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline bool strv_has(const struct strv *sorted, const char *s)
{
	return sorted->n && bsearch(&s, sorted->v, sorted->n, sizeof(char *), strv_cmp);
}

/* Every line a shell command prints, newlines cut. */
__attribute__((format(printf, 2, 3)))
static inline void run_lines(struct strv *out, const char *fmt, ...)
{
	char cmd[8192], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	while ((len = getline(&line, &cap, p)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		strv_add(out, line, (size_t)len);
	}
	free(line);
	CHECK(pclose(p) == 0);
}

/* GCC's clone suffix as the demangler shows it ("f(int) [clone
 * .constprop.0]") or as a C symbol has it ("main.cold"), and a symbol
 * version ("@@GLIBCXX_3.4"), cut. */
static inline size_t plain_len(const char *name)
{
	const char *clone = strstr(name, " [clone ");
	const char *at = strchr(name, '@');
	const char *dot = strchr(name, '.');
	size_t n = strlen(name);

	if (clone)
		n = (size_t)(clone - name);
	if (at && (size_t)(at - name) < n)
		n = (size_t)(at - name);
	if (dot && !strpbrk(name, "( ") && (size_t)(dot - name) < n)
		n = (size_t)(dot - name);
	return n;
}

static inline bool same_plain(const char *a, const char *b)
{
	size_t n = plain_len(a);

	return n == plain_len(b) && !strncmp(a, b, n);
}

/* Adds the demangled names of the text symbols of each file (nm -C; with
 * dynamic, of its dynamic symbol table) to names. */
static inline void oracle_add(struct strv *names, const char *file, bool dynamic)
{
	struct strv lines = { 0 };

	run_lines(&lines, "nm -C %s --defined-only '%s'", dynamic ? "-D" : "", file);
	for (size_t i = 0; i < lines.n; i++) {
		const char *l = lines.v[i], *name;

		/* "ADDR T NAME" */
		name = strchr(l, ' ');
		if (!name || !strchr("tTwWi", name[1]) || name[2] != ' ')
			continue;
		name += 3;
		strv_add(names, name, plain_len(name));
	}
	strv_free(&lines);
}

/* The function's name, qualified, without the return type a template's
 * demangled name starts with: whatever follows the last space outside
 * brackets before the name's own '(' ... is hard to find in general, so
 * every split at a space outside brackets is tried. */
static inline bool same_but_return_type(const char *e, const struct strv *oracle)
{
	int level = 0;

	for (const char *p = e; *p; p++) {
		if (*p == '<' || *p == '(')
			level++;
		else if (*p == '>' || *p == ')')
			level--;
		else if (*p == ' ' && level == 0 && strchr(p, '(')) {
			size_t tail = strlen(p);

			for (size_t i = 0; i < oracle->n; i++) {
				size_t n = strlen(oracle->v[i]);

				if (n > tail && !strcmp(oracle->v[i] + n - tail, p))
					return true;
			}
		}
	}
	return false;
}

/* The identifier of a name as DWARF's DW_AT_name spells it ("__sort" of
 * "__sort<...>", "operator()" of "operator()<...>"), in buf; never "". */
static inline const char *short_name(const char *a, char *buf, size_t size)
{
	size_t n;

	while (!strncmp(a, "(anonymous namespace)::", 23))
		a += 23;
	n = strcspn(a, "<(");
	if (!strncmp(a, "operator", 8))
		n = strncmp(a + 8, "()", 2) ? n : 10;
	snprintf(buf, size, "%.*s", (int)n, a);
	return buf[0] ? buf : "\x01";
}

/* Where the child's binary is loaded: the start of its mapping at offset
 * 0 minus the lowest PT_LOAD address. */
static inline uint64_t load_bias(pid_t pid, const char *bin)
{
	char path[64], line[4096], out[128];
	uint64_t start = 0, vaddr;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long lo, off;
		char *p = strchr(line, '/');

		line[strcspn(line, "\n")] = '\0';
		if (p && !strcmp(p, bin) &&
		    sscanf(line, "%llx-%*x %*s %llx", &lo, &off) == 2 && off == 0) {
			start = lo;
			break;
		}
	}
	if (f)
		fclose(f);
	CHECK(start != 0);
	test_run(out, sizeof(out), "readelf -lW '%s' | awk '$1 == \"LOAD\" { print $3; exit }'",
		 bin);
	vaddr = strtoull(out, NULL, 16);
	return start - vaddr;
}

struct xcheck {
	size_t addrs, frames, same, better, ret_type, line0;
};

/* The names of the sized text symbols of bin, demangled, sorted by
 * address: [lo, hi) and name. */
struct func {
	uint64_t lo, hi;
	char *name;
};

static inline int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static inline size_t funcs_read(const char *bin, const char *only, struct func **ret)
{
	struct strv lines = { 0 };
	struct func *v;
	size_t n = 0;

	run_lines(&lines, "nm -S --defined-only %s '%s'", only ? "" : "-C", bin);
	v = calloc(lines.n + 1, sizeof(*v));
	CHECK(v != NULL);
	for (size_t i = 0; v && i < lines.n; i++) {
		unsigned long long lo, size;
		char type;
		int at = 0;

		/* "ADDR SIZE T NAME" */
		if (sscanf(lines.v[i], "%llx %llx %c %n", &lo, &size, &type, &at) != 3 || !at ||
		    !strchr("tTwWi", type) || (only && !strstr(lines.v[i] + at, only)))
			continue;
		v[n++] = (struct func){ .lo = lo, .hi = lo + size, .name = strdup(lines.v[i] + at) };
	}
	strv_free(&lines);
	qsort(v, n, sizeof(*v), func_cmp);
	*ret = v;
	return n;
}

/* The function of funcs (n, sorted) holding a, or NULL. */
static inline const struct func *func_at(const struct func *funcs, size_t n, uint64_t a)
{
	for (size_t i = 0; i < n; i++)
		if (a >= funcs[i].lo && a < funcs[i].hi)
			return &funcs[i];
	return NULL;
}

/*
 * Resolves every instruction of the functions of bin (those whose name
 * contains only, when only is not NULL) in a child running it, and
 * compares each frame of each inline chain with addr2line -f -C -i on the
 * same address, innermost first: the same number of frames, and the same
 * name, or, where addr2line has no linkage name to show (GCC left
 * DW_AT_linkage_name out: addr2line prints the bare DW_AT_name, or for the
 * innermost frame the symbol of the enclosing function), a name that nm
 * -C prints for a symbol of bin or of the oracle files (the same source
 * built -O0 -fkeep-inline-functions: a symbol for every function -O2
 * only inlines) and that contains addr2line's identifier. Every name
 * Ember gives is added to seen.
 */
static inline void crosscheck(const char *what, const char *tool, const char *bin,
		       const char *const *oracle_files, const char *only, struct strv *seen,
		       struct xcheck *x)
{
	struct strv oracle = { 0 }, insns = { 0 }, a2l = { 0 };
	struct sym_session *s = NULL;
	struct test_child c = { 0 };
	char tmp[] = "/tmp/ember-names-XXXXXX";
	struct func *funcs, *named;
	size_t n_funcs, n_named, li = 0, failures = 0;
	uint64_t bias;
	FILE *f;
	int fd;

	*x = (struct xcheck){ 0 };
	oracle_add(&oracle, bin, false);
	for (size_t i = 0; oracle_files && oracle_files[i]; i++)
		oracle_add(&oracle, oracle_files[i], strstr(oracle_files[i], ".so") != NULL);
	qsort(oracle.v, oracle.n, sizeof(char *), strv_cmp);
	/* the functions to check (mangled names hold the crate's name), and
	 * the demangled names of all */
	n_funcs = funcs_read(bin, only, &funcs);
	n_named = funcs_read(bin, NULL, &named);
	/* their instructions */
	run_lines(&insns, "objdump -d --no-show-raw-insn '%s' | awk '/^ +[0-9a-f]+:/ "
		  "{ sub(\":\", \"\", $1); print $1 }'", bin);
	fd = mkstemp(tmp);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	for (size_t i = 0; f && i < insns.n; i++) {
		uint64_t a = strtoull(insns.v[i], NULL, 16);

		if (func_at(funcs, n_funcs, a)) {
			fprintf(f, "0x%" PRIx64 "\n", a);
			x->addrs++;
		}
	}
	if (f)
		fclose(f);
	run_lines(&a2l, tool, bin, tmp);
	unlink(tmp);

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	bias = load_bias(c.pid, bin);
	for (size_t i = 0; i < x->addrs && li < a2l.n; i++) {
		struct sym_frame fr[MAX_CHAIN];
		const char *an[MAX_CHAIN], *al = "";
		uint64_t addr = strtoull(a2l.v[li++], NULL, 16);
		const struct func *sym = func_at(named, n_named, addr);
		size_t nf = 0, na = 0;
		bool bad;

		while (li + 1 < a2l.n && strncmp(a2l.v[li], "0x", 2)) {
			if (na == 0)
				al = a2l.v[li + 1];
			if (na < MAX_CHAIN)
				an[na++] = a2l.v[li];
			li += 2;  /* name, file:line */
		}
		CHECK(sym_session__user_frames(s, c.pid, addr + bias, fr, MAX_CHAIN, &nf) == 0);
		/* On a line 0 row (clang's), the tools give no inline chain. */
		if (nf > na && strlen(al) >= 2 && (!strcmp(al + strlen(al) - 2, ":?") ||
						   !strcmp(al + strlen(al) - 2, ":0"))) {
			x->line0++;
			continue;
		}
		bad = nf != na;
		for (size_t k = 0; k < nf && k < na; k++) {
			const char *e = fr[k].name, *a = an[k];
			char id[512];
			bool ok;

			x->frames++;
			strv_add(seen, e, strlen(e));
			if (same_plain(e, a)) {
				x->same++;
				continue;
			}
			/* addr2line's name is DWARF's bare one, or the symbol
			 * of the function around the address */
			ok = strv_has(&oracle, e) &&
			     (strstr(e, short_name(a, id, sizeof(id))) ||
			      (sym && same_plain(a, sym->name)));
			if (!ok && same_but_return_type(e, &oracle) &&
			    strstr(e, short_name(a, id, sizeof(id)))) {
				x->ret_type++;
				ok = true;
			}
			x->better += ok;
			bad |= !ok;
		}
		if (bad && failures++ < 20) {
			fprintf(stderr, "%s: 0x%" PRIx64 ":\n", what, addr);
			for (size_t k = 0; k < nf || k < na; k++)
				fprintf(stderr, "  ember %s\n  %.5s %s\n", k < nf ? fr[k].name : "-",
					tool, k < na ? an[k] : "-");
		}
		CHECK(!bad);
	}
	fprintf(stderr, "%s: %zu addresses, %zu frames: %zu as %.*s, %zu qualified where it "
		"has a bare DWARF name (%zu with a resolved return type); %zu addresses on line "
		"0 not compared, %zu differ\n", what, x->addrs, x->frames, x->same,
		(int)strcspn(tool, " "), tool, x->better, x->ret_type, x->line0, failures);
	CHECK(x->addrs > 0 && x->frames >= x->addrs - x->line0 && x->line0 < x->addrs / 20);
	test_child_stop(&c);
	sym_session__free(s);
	for (size_t i = 0; i < n_funcs; i++)
		free(funcs[i].name);
	for (size_t i = 0; i < n_named; i++)
		free(named[i].name);
	free(funcs);
	free(named);
	strv_free(&oracle);
	strv_free(&insns);
	strv_free(&a2l);
}

/* Whether Ember named a frame want, exactly. */
static inline void check_seen(const char *what, struct strv *seen, const char *want)
{
	bool found = false;

	for (size_t i = 0; i < seen->n && !found; i++)
		found = !strcmp(seen->v[i], want);
	if (!found) {
		fprintf(stderr, "%s: no frame named \"%s\"\n", what, want);
		test_failures++;
	}
}

/* crosscheck() of bin on its own (no oracle files) where every frame
 * must be named as the tool names it, and each name of must (n) seen. */
static inline void crosscheck_exact(const char *what, const char *bin, const char *only,
				    const char *const *must, size_t n)
{
	struct strv seen = { 0 };
	struct xcheck x;

	crosscheck(what, A2L, bin, NULL, only, &seen, &x);
	CHECK(x.same == x.frames);
	for (size_t i = 0; i < n; i++)
		check_seen(what, &seen, must[i]);
	strv_free(&seen);
}

#endif
