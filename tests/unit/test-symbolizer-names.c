/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-names.c — how frames are named, against the tools
 * people compare a profiler with:
 *  - a C++ class template method in nested namespaces is demangled as
 *    `addr2line -f -C` demangles it (and stays mangled, as `addr2line -f`
 *    prints it, with no_demangle);
 *  - every instruction of the fixtures' functions, with its whole inline
 *    chain, against `addr2line -f -C -i` (llvm-symbolizer, demangled by
 *    c++filt, for clang's DWARF 5): the same frames, and the same names,
 *    or, where the tool has only GCC's bare DW_AT_name (no linkage name),
 *    a name `nm -C` prints for the same source built -O0
 *    -fkeep-inline-functions (which keeps a symbol for every function -O2
 *    only inlines): C++ by g++ and clang++ (fixture-names.cc: templates,
 *    lambdas, anonymous namespaces, operators, cv- and ref-qualified
 *    methods, internal-linkage templates), Rust with legacy and v0
 *    mangling (fixture-names.rs), C (fixture-inline.c); and a list of
 *    names that must come out exactly;
 *  - the names are the same from a stripped copy's symbol table and from
 *    a copy whose DWARF dwz moved in part to a multifile;
 *  - ld.so's entry points, assembly labels without a size, are named as
 *    addr2line names them;
 *  - code in anonymous executable memory is named from /tmp/perf-PID.map
 *    (a JIT's map file), as a JIT frame, with the file re-read when the
 *    JIT appends to it.
 *
 * Usage: test-symbolizer-names CXX_FIXTURE NAMES_GXX NAMES_GXX_O0
 *        NAMES_CLANGXX NAMES_CLANGXX_O0 C_FIXTURE RUST_LEGACY RUST_V0
 * (RUST_*: "-" when meson found no rustc, which fails the test)
 */
#include <sys/mman.h>

#include "symbolizer-test.h"

static void test_cxx(const char *bin)
{
	struct sym_session *s = NULL, *raw = NULL;
	struct test_child c = { 0 };
	struct sym_frame f;
	char want[512], vaddr[64];
	uint64_t off;

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true,
						       .no_demangle = true }, &raw) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	CHECK(sym_session__note_process(raw, c.pid) == 0);
	CHECK(sym_session__user(s, c.pid, c.addrs[0] + 4, &f) == 0);
	test_print_frame("c++", &f);
	CHECK_STR(f.name, "ember_fx::inner::Box<int>::get(int) const");
	CHECK(f.miss == SYM_MISS_NONE && f.file && f.line > 0);
	/* PIE: addr2line wants the link-time address, here the file offset
	 * plus the text segment's vaddr - offset (0 for a default PIE link) */
	off = f.offset;
	snprintf(vaddr, sizeof(vaddr), "0x%" PRIx64, off);
	test_run(want, sizeof(want), "addr2line -f -C -e '%s' %s", bin, vaddr);
	CHECK_STR(f.name, want);
	CHECK(sym_session__user(raw, c.pid, c.addrs[0] + 4, &f) == 0);
	test_run(want, sizeof(want), "addr2line -f -e '%s' %s", bin, vaddr);
	CHECK_STR(f.name, want);
	CHECK(strncmp(f.name, "_ZNK8ember_fx5inner3BoxIiE3getEi", 32) == 0);
	test_child_stop(&c);
	sym_session__free(raw);
	sym_session__free(s);
}

/* ---- names against nm -C and addr2line -f -C -i ------------------------- */

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

static void strv_add(struct strv *sv, const char *s, size_t len)
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

static void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct strv){ 0 };
}

static int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool strv_has(const struct strv *sorted, const char *s)
{
	return sorted->n && bsearch(&s, sorted->v, sorted->n, sizeof(char *), strv_cmp);
}

/* Every line a shell command prints, newlines cut. */
__attribute__((format(printf, 2, 3)))
static void run_lines(struct strv *out, const char *fmt, ...)
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
static size_t plain_len(const char *name)
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

static bool same_plain(const char *a, const char *b)
{
	size_t n = plain_len(a);

	return n == plain_len(b) && !strncmp(a, b, n);
}

/* Adds the demangled names of the text symbols of each file (nm -C; with
 * dynamic, of its dynamic symbol table) to names. */
static void oracle_add(struct strv *names, const char *file, bool dynamic)
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
static bool same_but_return_type(const char *e, const struct strv *oracle)
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
static const char *short_name(const char *a, char *buf, size_t size)
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
static uint64_t load_bias(pid_t pid, const char *bin)
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

static int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t funcs_read(const char *bin, const char *only, struct func **ret)
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
static const struct func *func_at(const struct func *funcs, size_t n, uint64_t a)
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
static void crosscheck(const char *what, const char *tool, const char *bin,
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

/*
 * The name of a function is the same whether it comes from DWARF or from
 * the symbol table: the entry of every function of bin, resolved in bin
 * and in a copy without DWARF (objcopy --strip-debug), gives nm -C's name
 * without GCC's clone suffix ("f(int)" for "f(int) [clone .constprop.0]",
 * "main" for "main.cold") both ways; where several symbols share the
 * address (aliases, identical code folded), one of theirs.
 */
static void test_symtab_alike(const char *what, const char *bin)
{
	char stripped[] = "/tmp/ember-names-stripped-XXXXXX", out[64];
	struct test_child full = { 0 }, bare = { 0 };
	struct sym_session *s = NULL;
	struct func *funcs;
	size_t n, checked = 0;
	uint64_t bias_full, bias_bare;
	int fd = mkstemp(stripped);

	CHECK(fd >= 0);
	close(fd);
	test_run(out, sizeof(out), "objcopy --strip-debug '%s' '%s' && chmod +x '%s' && echo ok",
		 bin, stripped, stripped);
	CHECK_STR(out, "ok");
	n = funcs_read(bin, NULL, &funcs);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &full) == 0);
	CHECK(test_child_start(stripped, &bare) == 0);
	bias_full = load_bias(full.pid, bin);
	bias_bare = load_bias(bare.pid, stripped);
	for (size_t i = 0; i < n; i++) {
		struct sym_frame fr[MAX_CHAIN], st;
		size_t nf = 0, same = 0;
		bool dwarf_ok = false, sym_ok = false;

		if (i > 0 && funcs[i].lo == funcs[i - 1].lo)
			continue;  /* aliases: checked with the first */
		CHECK(sym_session__user_frames(s, full.pid, funcs[i].lo + bias_full, fr, MAX_CHAIN,
					       &nf) == 0);
		CHECK(sym_session__user(s, bare.pid, funcs[i].lo + bias_bare, &st) == 0);
		for (size_t k = i; k < n && funcs[k].lo == funcs[i].lo; k++, same++) {
			dwarf_ok |= same_plain(fr[nf - 1].name, funcs[k].name) &&
				    !strstr(fr[nf - 1].name, " [clone");
			sym_ok |= same_plain(st.name, funcs[k].name) && !strstr(st.name, " [clone") &&
				  !strchr(st.name, '.');
		}
		if (!dwarf_ok || !sym_ok || (same == 1 && strcmp(fr[nf - 1].name, st.name))) {
			fprintf(stderr, "%s: 0x%" PRIx64 " %s: from DWARF %s, from symbols %s\n", what,
				funcs[i].lo, funcs[i].name, fr[nf - 1].name, st.name);
			test_failures++;
		}
		checked++;
	}
	fprintf(stderr, "%s: %zu functions named alike from DWARF and from symbols\n", what, checked);
	CHECK(checked > 30);
	test_child_stop(&bare);
	test_child_stop(&full);
	sym_session__free(s);
	unlink(stripped);
	for (size_t i = 0; i < n; i++)
		free(funcs[i].name);
	free(funcs);
}

/*
 * The names built from DIEs do not depend on where the DIEs are: bin and
 * a copy whose DWARF dwz moved in part to a multifile (as Debian's debug
 * packages are made; abstract instances, types and namespaces then sit in
 * partial units of another file) give the same frames for every
 * instruction. addr2line 2.40 loses half of this program's inline chains
 * to such a file, so Ember on bin is the reference.
 */
static void test_dwz_alike(const char *what, const char *bin)
{
	char dir[] = "/tmp/ember-names-dwz-XXXXXX", a[4200], out[64];
	struct sym_session *s = NULL;
	struct test_child full = { 0 }, dwz = { 0 };
	struct strv insns = { 0 };
	struct func *funcs;
	size_t n, compared = 0, differ = 0;
	uint64_t bias_full, bias_dwz;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(a, sizeof(a), "%s/a", dir);
	test_run(out, sizeof(out), "cd '%s' && cp '%s' a && cp '%s' b && "
		 "dwz -m common.debug -M '%s/common.debug' a b && "
		 "readelf -S a | grep -q gnu_debugaltlink && echo ok", dir, bin, bin, dir);
	CHECK_STR(out, "ok");
	n = funcs_read(bin, NULL, &funcs);
	run_lines(&insns, "objdump -d --no-show-raw-insn '%s' | awk '/^ +[0-9a-f]+:/ "
		  "{ sub(\":\", \"\", $1); print $1 }'", bin);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &full) == 0);
	CHECK(test_child_start(a, &dwz) == 0);
	bias_full = load_bias(full.pid, bin);
	bias_dwz = load_bias(dwz.pid, a);
	for (size_t i = 0; i < insns.n; i++) {
		uint64_t addr = strtoull(insns.v[i], NULL, 16);
		struct sym_frame f1[MAX_CHAIN], f2[MAX_CHAIN];
		size_t n1 = 0, n2 = 0;
		bool same;

		if (!func_at(funcs, n, addr))
			continue;
		CHECK(sym_session__user_frames(s, full.pid, addr + bias_full, f1, MAX_CHAIN,
					       &n1) == 0);
		CHECK(sym_session__user_frames(s, dwz.pid, addr + bias_dwz, f2, MAX_CHAIN,
					       &n2) == 0);
		same = n1 == n2;
		for (size_t k = 0; same && k < n1; k++)
			same = !strcmp(f1[k].name, f2[k].name) && f1[k].line == f2[k].line;
		if (!same && differ++ < 5)
			fprintf(stderr, "%s, dwz: 0x%" PRIx64 ": %s (%zu frames), with dwz %s (%zu)\n",
				what, addr, f1[0].name, n1, f2[0].name, n2);
		compared++;
	}
	fprintf(stderr, "%s: %zu addresses, %zu named otherwise once dwz'ed\n", what, compared,
		differ);
	CHECK(compared > 100 && differ == 0);
	test_child_stop(&dwz);
	test_child_stop(&full);
	sym_session__free(s);
	test_run(out, sizeof(out), "rm -rf '%s' && echo ok", dir);
	strv_free(&insns);
	for (size_t i = 0; i < n; i++)
		free(funcs[i].name);
	free(funcs);
}

/* Whether Ember named a frame want, exactly. */
static void check_seen(const char *what, struct strv *seen, const char *want)
{
	bool found = false;

	for (size_t i = 0; i < seen->n && !found; i++)
		found = !strcmp(seen->v[i], want);
	if (!found) {
		fprintf(stderr, "%s: no frame named \"%s\"\n", what, want);
		test_failures++;
	}
}

/* The dynamic loader's entry points are assembly labels without a size,
 * in the .symtab of its debug file: named as addr2line names them. */
static void test_ldso(void)
{
	char line[4096], want[256], ldso[4096] = "";
	uint64_t base = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	struct sym_session *s = NULL;
	const char *labels[] = { "_start", "_dl_start_user" };

	CHECK(m != NULL);
	while (m && fgets(line, sizeof(line), m)) {
		unsigned long long lo, off;
		char *p = strchr(line, '/');

		line[strcspn(line, "\n")] = '\0';
		if (p && strstr(p, "/ld-linux") &&
		    sscanf(line, "%llx-%*x %*s %llx", &lo, &off) == 2 && off == 0) {
			base = lo;
			snprintf(ldso, sizeof(ldso), "%s", p);
			break;
		}
	}
	if (m)
		fclose(m);
	CHECK(base != 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		char out[128];
		struct sym_frame f;
		uint64_t at;

		/* the label's address from the debug file's .symtab, which
		 * addr2line finds by .gnu_debuglink as Ember does by build-id */
		test_run(out, sizeof(out), "id=$(readelf -n '%s' | awk '/Build ID/ { print $3 }'); "
			 "readelf -sW /usr/lib/debug/.build-id/${id%%${id#??}}/${id#??}.debug | "
			 "awk '$8 == \"%s\" && $4 == \"NOTYPE\" { print $2; exit }'", ldso, labels[i]);
		CHECK(out[0] != '\0');
		if (!out[0])
			continue;
		at = strtoull(out, NULL, 16) + 2;
		CHECK(sym_session__user(s, getpid(), base + at, &f) == 0);
		test_print_frame("ld.so", &f);
		test_run(want, sizeof(want), "addr2line -f -e '%s' 0x%" PRIx64, ldso, at);
		CHECK_STR(want, labels[i]);
		CHECK_STR(f.name, want);
		CHECK(f.miss == SYM_MISS_NONE);
	}
	sym_session__free(s);
}

static void test_perf_map(void)
{
	struct sym_session *s = NULL;
	struct sym_frame f;
	char path[64];
	uint64_t base;
	size_t n = 0;
	FILE *m;
	void *code;

	code = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(code != MAP_FAILED);
	base = (uint64_t)(uintptr_t)code;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	m = fopen(path, "w");
	CHECK(m != NULL);
	fprintf(m, "%" PRIx64 " 100 LazyCompile:*fib /app/fib.js:3\n", base);
	fprintf(m, "%" PRIx64 " 40 Stub:old\n", base + 0x200);
	fprintf(m, "%" PRIx64 " 40 Stub:new\n", base + 0x200);  /* regenerated */
	fprintf(m, "garbage line\n");
	fclose(m);

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__user_frames(s, getpid(), base + 0x10, &f, 1, &n) == 0);
	test_print_frame("jit", &f);
	CHECK(n == 1);
	CHECK_STR(f.name, "LazyCompile:*fib /app/fib.js:3");
	CHECK(f.kind == SYM_FRAME_JIT && f.miss == SYM_MISS_NONE);
	CHECK(sym_session__user(s, getpid(), base + 0x210, &f) == 0);
	CHECK_STR(f.name, "Stub:new");
	/* between entries: [anon]+0xOFF, still a JIT frame */
	CHECK(sym_session__user(s, getpid(), base + 0x150, &f) == 0);
	CHECK_STR(f.name, "[anon]+0x150");
	CHECK(f.kind == SYM_FRAME_JIT && f.miss == SYM_MISS_NO_SYMBOL);

	/* The JIT appends; a miss re-reads the file, at most once a second. */
	m = fopen(path, "a");
	CHECK(m != NULL);
	fprintf(m, "%" PRIx64 " 10 LazyCompile:later\n", base + 0x400);
	fclose(m);
	sleep(1);
	usleep(100000);
	CHECK(sym_session__user(s, getpid(), base + 0x404, &f) == 0);
	CHECK_STR(f.name, "LazyCompile:later");
	unlink(path);
	sym_session__free(s);
	munmap(code, 8192);
}

/* The C++ fixture built by g++ -O2 -g (oracle: built -O0
 * -fkeep-inline-functions, and libstdc++), then by clang++ -O2 -g (oracle:
 * built -O0, and libstdc++). */
static void test_cxx_names(const char *gxx, const char *gxx_o0, const char *clangxx,
			   const char *clangxx_o0)
{
	static const char *const must[] = {
		"geo::Vec<double, 8>::dot(geo::Vec<double, 8> const&) const",
		"geo::Vec<long, 3>::sum() const volatile",
		"geo::Vec<int, 4>::operator[](int) &",
		"geo::Vec<int, 1>::take() &&",
		"(anonymous namespace)::Local::get() &",
		"(anonymous namespace)::Local::get() &&",
		"(anonymous namespace)::Local::peek() const volatile",
		"geo::Sq::operator long() const",
		"geo::Sq::area() const",
		"long geo::tuned<(geo::Mode)2, (char)120, true, 7ul>(long)",
		"main::{lambda(int)#1}::operator()(int) const",
		"main::{lambda(int)#4}::operator()(int) const",
		"main::{lambda(int)#4}::operator()(int) const::{lambda(int)#1}::operator()(int) const",
		"with_lambda<int>(int)::{lambda(int)#1}::operator()(int) const",
		"static_lambda<int>(int)::{lambda(int)#1}::operator()(int) const",
		"int apply<main::{lambda(int)#1}>(main::{lambda(int)#1}, int)",
		"(anonymous namespace)::anon_fn(int)",
		"(anonymous namespace)::deeper::nested(int)",
		"(anonymous namespace)::deeper::helper(int)",
		"(anonymous namespace)::Acc<long>::add(long)",
		"(anonymous namespace)::Local::operator<((anonymous namespace)::Local const&) const",
		"long outer::(anonymous namespace)::ilt<long>(long)",
		"int outer::count_args<int, long, char>(int, long, char)",
		"outer::v2::versioned(int)",
		"with_ptr(int)",
		"by_fn(int (*)(int), int (&) [3], int geo::Pt::*, char const*)",
		"tupled(std::tuple<int, long, std::tuple<> >)",
		"void std::__introsort_loop<__gnu_cxx::__normal_iterator<int*, std::vector<int, "
		"std::allocator<int> > >, long, __gnu_cxx::__ops::_Iter_comp_iter<main::{lambda(int, "
		"int)#3}> >(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > "
		">, __gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, long, "
		"__gnu_cxx::__ops::_Iter_comp_iter<main::{lambda(int, int)#3}>)",
		"std::default_delete<std::vector<int, std::allocator<int> > >::operator()"
		"(std::vector<int, std::allocator<int> >*) const",
		"main",
	};
	const char *oracle[] = { gxx_o0, NULL, NULL };
	char libstdcxx[4096];
	struct strv seen = { 0 };
	struct xcheck x;

	test_run(libstdcxx, sizeof(libstdcxx), "ldd '%s' | awk '/libstdc\\+\\+/ { print $3 }'",
		 gxx);
	CHECK(libstdcxx[0] == '/');
	oracle[1] = libstdcxx;
	crosscheck("g++", A2L, gxx, oracle, NULL, &seen, &x);
	/* most frames are GCC's inlined internal-linkage templates */
	CHECK(x.better > 0 && x.ret_type <= x.better / 4);
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		check_seen("g++", &seen, must[i]);
	strv_free(&seen);
	test_symtab_alike("g++", gxx);
	test_dwz_alike("g++", gxx);

	/* clang writes the linkage names GCC leaves out; addr2line 2.40
	 * misses the inline chains of its DWARF 5 (llvm-symbolizer has them) */
	oracle[0] = clangxx_o0;
	crosscheck("clang++", LLVM_SYMBOLIZER, clangxx, oracle, NULL, &seen, &x);
	check_seen("clang++", &seen, "geo::Vec<double, 8>::dot(geo::Vec<double, 8> const&) const");
	check_seen("clang++", &seen, "(anonymous namespace)::deeper::nested(int)");
	strv_free(&seen);
}

static void test_c_names(const char *bin)
{
	struct strv seen = { 0 };
	struct xcheck x;

	crosscheck("c", A2L, bin, NULL, NULL, &seen, &x);
	CHECK(x.same == x.frames);
	check_seen("c", &seen, "hot_mix");
	check_seen("c", &seen, "hot_helper");
	check_seen("c", &seen, "hot_outer");
	strv_free(&seen);
}

/* Rust with legacy and v0 mangling: std's code (built with legacy
 * mangling either way) inlined into the fixture's functions too. */
static void test_rust_names(const char *legacy, const char *v0)
{
	struct strv seen = { 0 };
	struct xcheck x;

	if (!strcmp(legacy, "-") || !strcmp(v0, "-")) {
		fprintf(stderr, "rust: no fixtures: meson found no rustc (scripts/lib.sh "
			"installs Debian's rustc)\n");
		test_failures++;
		return;
	}
	crosscheck("rust legacy", A2L, legacy, NULL, "fixture_names", &seen, &x);
	CHECK(x.same == x.frames);
	check_seen("rust legacy", &seen, "fixture_names::sort_desc");
	check_seen("rust legacy", &seen, "fixture_names::geo::Vec2<T>::dot");
	strv_free(&seen);
	crosscheck("rust v0", A2L, v0, NULL, "fixture_names", &seen, &x);
	CHECK(x.same == x.frames);
	check_seen("rust v0", &seen, "fixture_names::sort_desc");
	check_seen("rust v0", &seen, "<fixture_names::geo::Vec2<f64>>::dot");
	check_seen("rust v0", &seen, "<fixture_names::geo::Sq as fixture_names::geo::Shape>::area");
	strv_free(&seen);
}

int main(int argc, char **argv)
{
	char *path[9] = { NULL };

	if (argc != 9) {
		fprintf(stderr, "usage: %s CXX_FIXTURE NAMES_GXX NAMES_GXX_O0 NAMES_CLANGXX "
			"NAMES_CLANGXX_O0 C_FIXTURE RUST_LEGACY RUST_V0\n", argv[0]);
		return 2;
	}
	/* "-": no Rust fixture */
	for (int i = 1; i < argc; i++)
		path[i] = strcmp(argv[i], "-") ? test_abs(argv[i]) : strdup("-");
	test_cxx(path[1]);
	test_cxx_names(path[2], path[3], path[4], path[5]);
	test_c_names(path[6]);
	test_rust_names(path[7], path[8]);
	test_ldso();
	test_perf_map();
	for (int i = 1; i < argc; i++)
		free(path[i]);
	return test_exit();
}
