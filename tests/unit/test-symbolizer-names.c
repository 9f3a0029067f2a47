/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-names.c — how C and C++ frames are named, against the
 * tools people compare a profiler with:
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
 *    methods, internal-linkage templates), C (fixture-inline.c); and a
 *    list of names that must come out exactly (the cross-check itself is
 *    names-oracle.h);
 *  - the names are the same from a stripped copy's symbol table and from
 *    a copy whose DWARF dwz moved in part to a multifile.
 * Rust's names: test-symbolizer-names-rust.c; code without a sized symbol
 * (ld.so's labels, a JIT's perf map): test-symbolizer-names-sizeless.c.
 *
 * Usage: test-symbolizer-names CXX_FIXTURE NAMES_GXX NAMES_GXX_O0
 *        NAMES_CLANGXX NAMES_CLANGXX_O0 C_FIXTURE
 */
#include "names-oracle.h"

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
	static const char *const must[] = { "hot_mix", "hot_helper", "hot_outer" };

	crosscheck_exact("c", bin, NULL, must, sizeof(must) / sizeof(must[0]));
}

int main(int argc, char **argv)
{
	char *path[7] = { NULL };

	if (argc != 7) {
		fprintf(stderr, "usage: %s CXX_FIXTURE NAMES_GXX NAMES_GXX_O0 NAMES_CLANGXX "
			"NAMES_CLANGXX_O0 C_FIXTURE\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		path[i] = test_abs(argv[i]);
	test_cxx(path[1]);
	test_cxx_names(path[2], path[3], path[4], path[5]);
	test_c_names(path[6]);
	for (int i = 1; i < argc; i++)
		free(path[i]);
	return test_exit();
}
