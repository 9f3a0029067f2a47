/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-dwarf.c — DWARF names, lines and inlined frames of a -O2
 * -g child (fixture-inline.c: a helper inlined twice, itself inlining
 * another), non-PIE and PIE, then stripped with its debug file found by
 * build-id in a fake debug root, then stripped with a .gnu_debuglink. Every
 * byte of hot_outer is resolved and compared, frame by frame (name, file,
 * line, innermost first), with `addr2line -f -i` on the unstripped binary;
 * the inline chain hot_mix <- hot_helper <- hot_outer and its call-site
 * lines are asserted against the source. The same for the non-PIE binary
 * with its debug sections compressed (zlib, SHF_COMPRESSED, as Debian's
 * debug packages ship them; and GNU .zdebug_*), and for a DWARF 4 build.
 * INCLUDED (fixture-included.c) has its code in an included file, BODY:
 * every byte of it must name BODY, at a line of its function (addr2line
 * 2.40 names the including file there, so it is no reference).
 *
 * Usage: test-symbolizer-dwarf NON_PIE PIE SOURCE DWARF4 INCLUDED BODY
 */
#include <sys/stat.h>

#include "symbolizer-test.h"

#define MAX_CMP 4096

struct a2l_frame {
	char name[256];
	char file[1024];
	unsigned line;
};

static unsigned source_line(const char *src, const char *pattern)
{
	char buf[64];

	test_run(buf, sizeof(buf), "grep -n -F '%s' '%s' | head -1 | cut -d: -f1",
		 pattern, src);
	return (unsigned)atoi(buf);
}

/* Splits "file:line (discriminator n)" from addr2line. */
static void a2l_location(const char *s, struct a2l_frame *f)
{
	const char *colon = strrchr(s, ':');

	f->file[0] = '\0';
	f->line = 0;
	if (!colon || strncmp(s, "??", 2) == 0)
		return;
	snprintf(f->file, sizeof(f->file), "%.*s", (int)(colon - s), s);
	f->line = (unsigned)strtoul(colon + 1, NULL, 10);
	if (f->line == 0)
		f->file[0] = '\0';
}

/*
 * Resolves addrs[0..n) (run-time) of pid and compares with addr2line on
 * bin at vaddrs[0..n). Returns the number of addresses that differ.
 */
/* The reference: addr2line, or llvm-symbolizer where addr2line cannot
 * read the format (split DWARF); both print "0xADDR", then name and
 * file:line per frame, innermost first. */
static const char *reference = "addr2line -f -i -a -e";

static size_t compare(struct sym_session *s, pid_t pid, const char *bin,
		      const uint64_t *addrs, const uint64_t *vaddrs, size_t n,
		      const char *what, size_t *ret_inlined)
{
	char path[] = "/tmp/ember-a2l-XXXXXX", cmd[4096], line[2048];
	size_t bad = 0, inlined = 0, i = 0;
	struct a2l_frame *a2l = calloc(64, sizeof(*a2l));
	int fd = mkstemp(path), na = -1;
	FILE *f, *p;

	CHECK(fd >= 0 && a2l);
	f = fdopen(fd, "w");
	for (size_t k = 0; k < n; k++)
		fprintf(f, "0x%" PRIx64 "\n", vaddrs[k]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s '%s' < %s", reference, bin, path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	/* Blocks: "0xADDR", then name and file:line per frame. */
	for (bool more = true; more;) {
		more = p && fgets(line, sizeof(line), p);
		line[strcspn(line, "\n")] = '\0';
		if (!more || (line[0] == '0' && line[1] == 'x')) {
			if (na >= 0) {
				struct sym_frame fr[64];
				size_t nf = 0;
				bool same;

				CHECK(sym_session__user_frames(s, pid, addrs[i], fr, 64, &nf) == 0);
				same = (int)nf == na;
				for (size_t j = 0; same && j < nf; j++) {
					same = strcmp(fr[j].name, a2l[j].name) == 0 &&
					       fr[j].line == a2l[j].line &&
					       strcmp(fr[j].file ? fr[j].file : "", a2l[j].file) == 0 &&
					       fr[j].kind == (j + 1 < nf ? SYM_FRAME_INLINED
									 : SYM_FRAME_USER);
				}
				if (nf >= 3)
					inlined++;
				if (!same && bad++ < 5) {
					fprintf(stderr, "%s: 0x%" PRIx64 " differs:\n", what, vaddrs[i]);
					for (size_t j = 0; j < nf; j++)
						fprintf(stderr, "  ember    %s %s:%u kind %d\n", fr[j].name,
							fr[j].file ? fr[j].file : "??", fr[j].line,
							fr[j].kind);
					for (int j = 0; j < na; j++)
						fprintf(stderr, "  addr2line %s %s:%u\n", a2l[j].name,
							a2l[j].file, a2l[j].line);
				}
				i++;
			}
			na = 0;
			continue;
		}
		if (na < 0 || na >= 64)
			continue;
		if (!fgets(cmd, sizeof(cmd), p))
			break;
		cmd[strcspn(cmd, "\n")] = '\0';
		snprintf(a2l[na].name, sizeof(a2l[na].name), "%.255s", line);
		a2l_location(cmd, &a2l[na]);
		na++;
	}
	if (p)
		pclose(p);
	unlink(path);
	free(a2l);
	CHECK(i == n);
	fprintf(stderr, "%s: %zu addresses, %zu differ from addr2line, %zu in 2-deep inlines\n",
		what, n, bad, inlined);
	*ret_inlined = inlined;
	return bad;
}

/*
 * Runs run_bin, resolves every byte of its hot_outer with a session using
 * debug_dir, and compares with addr2line on ref_bin (same code, with
 * symbols and DWARF).
 */
/* The on-disk cache check_binary's sessions use (NULL: none), and the
 * counters of its last session. */
static const char *cache_dir;
static struct sym_stats last_stats;

static void check_binary(const char *run_bin, const char *ref_bin, const char *debug_dir,
			 const char *src, const char *what)
{
	struct sym_options opts = { .no_kernel = true, .debug_dir = debug_dir,
				    .cache_dir = cache_dir };
	static uint64_t addrs[MAX_CMP], vaddrs[MAX_CMP];
	struct sym_session *s = NULL;
	uint64_t vaddr = 0, size = 0;
	size_t n, inlined = 0;
	struct test_child c;
	struct sym_frame fr[64];
	size_t nf = 0;
	bool chain = false;
	unsigned mix_line = source_line(src, "return v * 31u"),
		 helper_line = source_line(src, "acc = hot_mix(acc, i)"),
		 outer_line = source_line(src, "unsigned a = hot_helper(x)");
	struct sym_stats st;

	CHECK(test_nm_symbol(ref_bin, "hot_outer", &vaddr, &size) == 0);
	CHECK(size > 0 && mix_line && helper_line && outer_line);
	CHECK(sym_session__new(&opts, &s) == 0);
	CHECK(test_child_start(run_bin, &c) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	/* after exit: the snapshot and the kept debug file descriptors */
	test_child_stop(&c);
	n = size < MAX_CMP ? size : MAX_CMP;
	for (size_t i = 0; i < n; i++) {
		addrs[i] = c.addrs[0] + i;
		vaddrs[i] = vaddr + i;
	}
	CHECK(compare(s, c.pid, ref_bin, addrs, vaddrs, n, what, &inlined) == 0);
	CHECK(inlined > 0);

	/* Some address is in hot_mix, inlined into hot_helper, inlined into
	 * hot_outer: each caller at the line of the inlined call. */
	for (size_t i = 0; i < n && !chain; i++) {
		CHECK(sym_session__user_frames(s, c.pid, addrs[i], fr, 64, &nf) == 0);
		chain = nf == 3 && !strcmp(fr[0].name, "hot_mix") && fr[0].line == mix_line &&
			!strcmp(fr[1].name, "hot_helper") && fr[1].line == helper_line &&
			!strcmp(fr[2].name, "hot_outer") && fr[2].kind == SYM_FRAME_USER &&
			fr[0].kind == SYM_FRAME_INLINED && fr[1].kind == SYM_FRAME_INLINED &&
			fr[0].file && strstr(fr[0].file, "fixture-inline.c");
		if (chain) {
			struct sym_frame one;

			/* the single-frame API gives the real function */
			CHECK(sym_session__user(s, c.pid, addrs[i], &one) == 0);
			CHECK_STR(one.name, "hot_outer");
			CHECK(one.kind == SYM_FRAME_USER);
			CHECK(one.offset == fr[0].offset && one.build_id == fr[0].build_id);
		}
	}
	CHECK(chain);
	/* ... and hot_outer's own frames sit at its two calls of hot_helper */
	CHECK(sym_session__user_frames(s, c.pid, c.addrs[0], fr, 64, &nf) == 0);
	CHECK(nf >= 1 && !strcmp(fr[nf - 1].name, "hot_outer"));
	/* a short max keeps the innermost and the real function */
	for (size_t i = 0; i < n; i++) {
		CHECK(sym_session__user_frames(s, c.pid, addrs[i], fr, 2, &nf) == 0);
		CHECK(nf >= 1 && nf <= 2 && !strcmp(fr[nf - 1].name, "hot_outer"));
	}
	CHECK(sym_session__user_frames(s, c.pid, addrs[0], fr, 0, &nf) == -EINVAL);
	sym_session__stats(s, &st);
	CHECK(st.with_line > 0 && st.with_line <= st.frames);
	/* everything was read: no debug issue on any frame or counter */
	for (size_t i = 0; i < n; i++) {
		CHECK(sym_session__user_frames(s, c.pid, addrs[i], fr, 64, &nf) == 0);
		for (size_t j = 0; j < nf; j++)
			CHECK(fr[j].debug == SYM_DEBUG_OK);
	}
	for (int i = 0; i < SYM_DEBUG__COUNT; i++)
		if (st.debug_issues[i])
			fprintf(stderr, "%s: debug issue %s %" PRIu64 "\n", what,
				sym_debug_issue_name(i), st.debug_issues[i]);
	for (int i = 0; i < SYM_DEBUG__COUNT; i++)
		CHECK(st.debug_issues[i] == 0);
	last_stats = st;
	sym_session__free(s);
}

/*
 * Debug information that is there but cannot be read: every address of
 * hot_outer in run_bin still resolves (its name from the symbol table,
 * its line where the binary has it), the frames say what they lost, and
 * the session counts it once under issue.
 */
static void check_issue(const char *run_bin, const char *ref_bin, const char *debug_dir,
			enum sym_debug_issue issue, bool lines, const char *what)
{
	struct sym_options opts = { .no_kernel = true, .debug_dir = debug_dir };
	struct sym_session *s = NULL;
	uint64_t vaddr = 0, size = 0;
	size_t marked = 0, named = 0, with_line = 0, nf = 0;
	char libc[64];
	struct test_child c;
	struct sym_frame fr[64];
	struct sym_stats st;

	CHECK(test_nm_symbol(ref_bin, "hot_outer", &vaddr, &size) == 0);
	CHECK(sym_session__new(&opts, &s) == 0);
	CHECK(test_child_start(run_bin, &c) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	/* an address in libc, to use another binary before a trim */
	test_run(libc, sizeof(libc), "grep 'r-xp.*libc' /proc/%d/maps | head -1 | cut -d- -f1",
		 (int)c.pid);
	CHECK(libc[0] != '\0');
	test_child_stop(&c);
	for (uint64_t i = 0; i < size; i++) {
		CHECK(sym_session__user_frames(s, c.pid, c.addrs[0] + i, fr, 64, &nf) == 0);
		CHECK(nf >= 1);
		named += !strcmp(fr[nf - 1].name, "hot_outer");
		with_line += fr[0].file != NULL;
		for (size_t j = 0; j < nf; j++)
			if (fr[j].debug == issue) {
				marked++;
				break;
			}
	}
	sym_session__stats(s, &st);
	fprintf(stderr, "%s: %" PRIu64 " addresses, %zu named hot_outer, %zu with a line, "
		"%zu marked %s; counted %" PRIu64 "\n", what, size, named, with_line, marked,
		sym_debug_issue_name(issue), st.debug_issues[issue]);
	CHECK(named == size);
	CHECK(marked > 0);
	CHECK(!lines || with_line == size);
	CHECK(st.debug_issues[issue] >= 1);
	/* counted once, however many lookups, also after a reload */
	CHECK(sym_session__user_frames(s, c.pid, strtoull(libc, NULL, 16), fr, 64, &nf) == 0);
	sym_session__trim(s, 0);
	for (uint64_t i = 0; i < size; i++)
		CHECK(sym_session__user_frames(s, c.pid, c.addrs[0] + i, fr, 64, &nf) == 0);
	{
		struct sym_stats again;

		sym_session__stats(s, &again);
		CHECK(again.reloads >= 1);
		CHECK(memcmp(again.debug_issues, st.debug_issues, sizeof(st.debug_issues)) == 0);
	}
	sym_session__free(s);
}

/* Every byte of included_fn names body, within the function's lines. */
static void check_included(const char *bin, const char *body)
{
	struct sym_session *s = NULL;
	unsigned lo = source_line(body, "unsigned included_fn(unsigned x)"),
		 hi = source_line(body, "return acc;") + 1;
	uint64_t vaddr = 0, size = 0;
	size_t good = 0, nf = 0;
	struct test_child c;
	struct sym_frame fr[8];

	CHECK(lo > 0 && hi > lo);
	CHECK(test_nm_symbol(bin, "included_fn", &vaddr, &size) == 0);
	CHECK(size > 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true, .debug_dir = "" },
			       &s) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	for (uint64_t i = 0; i < size; i++) {
		char *file;

		CHECK(sym_session__user_frames(s, c.pid, c.addrs[0] + i, fr, 8, &nf) == 0);
		/* the path as compiled: meson's is relative to the build dir */
		file = nf >= 1 && fr[0].file ? realpath(fr[0].file, NULL) : NULL;
		good += file && !strcmp(fr[nf - 1].name, "included_fn") && !strcmp(file, body) &&
			fr[0].line >= lo && fr[0].line <= hi;
		free(file);
		if (i == 0)
			test_print_frame("included_fn", &fr[0]);
	}
	fprintf(stderr, "included: %zu of %" PRIu64 " addresses name %s\n", good, size, body);
	CHECK(good == size);
	test_child_stop(&c);
	sym_session__free(s);
}

static char tmp_root[] = "/tmp/ember-sym-dwarf-XXXXXX";

static void sh(const char *fmt, const char *a, const char *b, const char *c2)
{
	char cmd[8192], out[512];

	snprintf(cmd, sizeof(cmd), fmt, a, b, c2);
	test_run(out, sizeof(out), "%s >/dev/null 2>&1 && echo ok", cmd);
	if (strcmp(out, "ok") != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		test_failures++;
	}
}

/* The build-id of bin, hex. */
static void build_id(const char *bin, char *out, size_t size)
{
	test_run(out, size, "readelf -n '%s' | sed -n 's/.*Build ID: //p'", bin);
}

/*
 * zstd (ELFCOMPRESS_ZSTD, as binutils 2.40 writes it and Debian 12's
 * libelf cannot inflate): in the binary, and in a build-id debug file
 * through the on-disk cache (written, then read).
 */
static void check_zstd(const char *nopie, const char *pie, const char *src)
{
	char bin[8192], dbg[8192], dir[8192], id[256], out[256], cdir[8192];

	snprintf(bin, sizeof(bin), "%s/zstd", tmp_root);
	sh("objcopy --compress-debug-sections=zstd '%s' '%s'%s", nopie, bin, "");
	/* ch_type 2 in every compressed section's header */
	test_run(out, sizeof(out), "python3 -c \"import struct,sys\n"
		 "d=open(sys.argv[1],'rb').read()\n"
		 "o,=struct.unpack_from('<Q',d,0x28);e,n,x=struct.unpack_from('<HHH',d,0x3a)\n"
		 "print(sum(1 for i in range(n) if struct.unpack_from('<Q',d,o+i*e+8)[0]&0x800 "
		 "and struct.unpack_from('<I',d,struct.unpack_from('<Q',d,o+i*e+24)[0])[0]==2))\" "
		 "'%s'", bin);
	CHECK(atoi(out) >= 3);
	check_binary(bin, nopie, "", src, "zstd-compressed debug sections");

	build_id(pie, id, sizeof(id));
	snprintf(dir, sizeof(dir), "%s/zdebug/.build-id/%.2s", tmp_root, id);
	snprintf(dbg, sizeof(dbg), "%.4000s/%s.debug", dir, id + 2);
	snprintf(bin, sizeof(bin), "%s/zstd-stripped", tmp_root);
	sh("mkdir -p '%s' && objcopy --only-keep-debug --compress-debug-sections=zstd '%s' '%s'",
	   dir, pie, dbg);
	sh("strip -s '%s' -o '%s'%s", pie, bin, "");
	snprintf(dir, sizeof(dir), "%s/zdebug", tmp_root);
	snprintf(cdir, sizeof(cdir), "%s/zcache", tmp_root);
	cache_dir = cdir;
	check_binary(bin, pie, dir, src, "zstd debug file, cache written");
	CHECK(last_stats.cache_writes == 1 && last_stats.cache_errors == 0);
	check_binary(bin, pie, dir, src, "zstd debug file, cache read");
	CHECK(last_stats.cache_hits == 1 && last_stats.cache_errors == 0);
	cache_dir = NULL;
	check_binary(bin, pie, dir, src, "zstd debug file, no cache");

	/* a compression nobody knows (ch_type 0x7f): counted, not read */
	snprintf(bin, sizeof(bin), "%s/zunknown", tmp_root);
	test_run(out, sizeof(out), "python3 -c \"import struct,sys\n"
		 "d=bytearray(open(sys.argv[1],'rb').read())\n"
		 "o,=struct.unpack_from('<Q',d,0x28);e,n,x=struct.unpack_from('<HHH',d,0x3a)\n"
		 "for i in range(n):\n"
		 " h=o+i*e\n"
		 " if struct.unpack_from('<Q',d,h+8)[0]&0x800: struct.pack_into('<I',d,struct.unpack_from('<Q',d,h+24)[0],0x7f)\n"
		 "open(sys.argv[2],'wb').write(d)\n"
		 "print('ok')\" '%s/zstd' '%s'", tmp_root, bin);
	CHECK(strcmp(out, "ok") == 0);
	sh("chmod +x '%s'%s%s", bin, "", "");
	check_issue(bin, nopie, "", SYM_DEBUG_COMPRESSION, false, "unknown compression");
}

/*
 * dwz: the non-PIE and PIE fixtures share a multifile (dwz -m), DWARF 4
 * style (.gnu_debugaltlink, DW_FORM_GNU_ref_alt / GNU_strp_alt) and
 * DWARF 5 (-5: .debug_sup, DW_FORM_ref_sup4 / strp_sup): the inlined
 * functions' abstract origins move there. Frames as for the plain build,
 * with the multifile named by its absolute path, by a relative one, and
 * found only in DEBUG_DIR/.dwz/; then missing, and with another build-id.
 */
static void check_dwz(const char *nopie, const char *pie, const char *src)
{
	char d[8192], out[512], a[8192], dbg[8192], what[256];
	const char *modes[] = { "", "-5" };

	for (int m = 0; m < 2; m++) {
		const char *tag = m ? "dwz -5" : "dwz";

		snprintf(d, sizeof(d), "%s/dwz%d", tmp_root, m);
		snprintf(a, sizeof(a), "%s/a", d);
		/* the multifile named by its absolute path */
		test_run(out, sizeof(out), "mkdir -p '%s' && cd '%s' && cp '%s' a && cp '%s' b && "
			 "dwz %s -m '%s/common.debug' -M '%s/common.debug' a b >/dev/null 2>&1 && "
			 "echo ok", d, d, nopie, pie, modes[m], d, d);
		CHECK(strcmp(out, "ok") == 0);
		test_run(out, sizeof(out), "readelf -S '%s' | grep -c '%s'", a,
			 m ? "debug_sup" : "gnu_debugaltlink");
		CHECK(strcmp(out, "1") == 0);
		/* references into the multifile */
		test_run(out, sizeof(out), "readelf --debug-dump=abbrev '%s' | grep -c -E '%s'", a,
			 m ? "DW_FORM_(ref_sup4|strp_sup)" : "DW_FORM_GNU_(ref|strp)_alt");
		CHECK(atoi(out) > 0);
		snprintf(what, sizeof(what), "%s, absolute link", tag);
		check_binary(a, nopie, "", src, what);
		snprintf(what, sizeof(what), "%s, absolute link (PIE)", tag);
		snprintf(dbg, sizeof(dbg), "%s/b", d);
		check_binary(dbg, pie, "", src, what);

		/* missing: the inlined frames lose their names, and say so */
		sh("mv '%s/common.debug' '%s/common.debug.away'%s", d, d, "");
		snprintf(what, sizeof(what), "%s, multifile missing", tag);
		check_issue(a, nopie, "", SYM_DEBUG_ALT_MISSING, true, what);
		/* another file in its place: not its build-id (checksum) */
		sh("cp '%s' '%s/common.debug'%s", nopie, d, "");
		snprintf(what, sizeof(what), "%s, multifile of another build", tag);
		check_issue(a, nopie, "", SYM_DEBUG_ALT_MISMATCH, true, what);

		/* Debian's layout: the link says /usr/lib/debug/.dwz/TRIPLET/
		 * NAME, found under our DEBUG_DIR */
		test_run(out, sizeof(out), "cd '%s' && mkdir -p debug/.dwz/x86_64-linux-gnu && "
			 "cp '%s' a2 && cp '%s' b2 && dwz %s -m debug/.dwz/x86_64-linux-gnu/t.debug "
			 "-M /usr/lib/debug/.dwz/x86_64-linux-gnu/t.debug a2 b2 >/dev/null 2>&1 && "
			 "echo ok", d, nopie, pie, modes[m]);
		CHECK(strcmp(out, "ok") == 0);
		snprintf(a, sizeof(a), "%s/a2", d);
		snprintf(dbg, sizeof(dbg), "%s/debug", d);
		snprintf(what, sizeof(what), "%s, in DEBUG_DIR/.dwz/", tag);
		check_binary(a, nopie, dbg, src, what);
	}

	/* a relative link, resolved beside the debug file */
	snprintf(d, sizeof(d), "%s/dwzrel", tmp_root);
	test_run(out, sizeof(out), "mkdir -p '%s/sub' && cd '%s' && cp '%s' a && cp '%s' b && "
		 "dwz -m sub/common.debug -M sub/common.debug a b >/dev/null 2>&1 && echo ok",
		 d, d, nopie, pie);
	CHECK(strcmp(out, "ok") == 0);
	snprintf(a, sizeof(a), "%s/a", d);
	check_binary(a, nopie, "", src, "dwz, relative link");
}

/*
 * Split DWARF: the fixture built with -gsplit-dwarf (DWARF 5 skeleton
 * units, and DWARF 4 with GNU's DW_AT_GNU_dwo_name), its .dwo beside the
 * object (DW_AT_comp_dir + DW_AT_dwo_name), then packed into NAME.dwp
 * (llvm-dwp for DWARF 5, version 5 index; binutils' dwp for DWARF 4,
 * version 2; binutils 2.40's dwp crashes on DWARF 5). Frames as for the
 * plain -g build of the same source and compared with llvm-symbolizer on
 * the split binary (addr2line cannot read .dwo). Then the .dwo missing,
 * and one of another build.
 */
static void check_split(const char *src)
{
	char d[8192], out[512], plain[8192], bin[8192], what[256];

	for (int v = 4; v <= 5; v++) {
		snprintf(d, sizeof(d), "%s/split%d", tmp_root, v);
		snprintf(plain, sizeof(plain), "%s/plain", d);
		snprintf(bin, sizeof(bin), "%s/split", d);
		test_run(out, sizeof(out), "mkdir -p '%s' && cd '%s' && "
			 "gcc -O2 -g -gdwarf-%d -fno-pie -no-pie '%s' -o plain && "
			 "gcc -O2 -g -gdwarf-%d -gsplit-dwarf -fno-pie -c '%s' -o split.o && "
			 "gcc -no-pie split.o -o split && test -f split.dwo && echo ok",
			 d, d, v, src, v, src);
		CHECK(strcmp(out, "ok") == 0);
		/* the same code as the plain build */
		test_run(out, sizeof(out), "cd '%s' && for f in plain split; do objdump -d "
			 "--no-addresses $f | sed -n '/<hot_outer>:/,/^$/p' > $f.s; done && "
			 "test -s plain.s && cmp -s plain.s split.s && echo same", d);
		CHECK(strcmp(out, "same") == 0);
		snprintf(what, sizeof(what), "split DWARF %d, .dwo", v);
		check_binary(bin, plain, "", src, what);
		reference = "llvm-symbolizer --output-style=GNU -f -i -a -e";
		snprintf(what, sizeof(what), "split DWARF %d, .dwo, against llvm-symbolizer", v);
		check_binary(bin, bin, "", src, what);
		reference = "addr2line -f -i -a -e";

		/* packed: NAME.dwp next to the binary, the .dwo gone */
		test_run(out, sizeof(out), "cd '%s' && %s -e split -o split.dwp && mv split.dwo "
			 "split.dwo.away && echo ok", d, v == 5 ? "llvm-dwp" : "dwp");
		CHECK(strcmp(out, "ok") == 0);
		snprintf(what, sizeof(what), "split DWARF %d, .dwp", v);
		check_binary(bin, plain, "", src, what);

		/* neither: the skeleton still gives lines, the frames say what
		 * they lost */
		sh("mv '%s/split.dwp' '%s/split.dwp.away'%s", d, d, "");
		snprintf(what, sizeof(what), "split DWARF %d, .dwo missing", v);
		check_issue(bin, plain, "", SYM_DEBUG_DWO_MISSING, true, what);
		/* the .dwo of another build (another dwo id) */
		test_run(out, sizeof(out), "cd '%s' && mkdir -p other && cd other && "
			 "gcc -O1 -g -gdwarf-%d -gsplit-dwarf -fno-pie -c '%s' -o split.o && "
			 "cp split.dwo ../split.dwo && echo ok", d, v, src);
		CHECK(strcmp(out, "ok") == 0);
		snprintf(what, sizeof(what), "split DWARF %d, .dwo of another build", v);
		check_issue(bin, plain, "", SYM_DEBUG_DWO_MISMATCH, true, what);
	}
}

int main(int argc, char **argv)
{
	char bin[8192], dbg[8192], id[256], dir[8192];
	char *nopie, *pie, *src, *dwarf4, *included, *body;

	if (argc != 7) {
		fprintf(stderr, "usage: %s NON_PIE PIE SOURCE DWARF4 INCLUDED BODY\n", argv[0]);
		return 2;
	}
	nopie = test_abs(argv[1]);
	pie = test_abs(argv[2]);
	src = test_abs(argv[3]);
	dwarf4 = test_abs(argv[4]);
	included = test_abs(argv[5]);
	body = test_abs(argv[6]);
	check_binary(nopie, nopie, "", src, "non-pie");
	check_binary(pie, pie, "", src, "pie");
	check_binary(dwarf4, dwarf4, "", src, "DWARF 4");
	check_included(included, body);

	CHECK(mkdtemp(tmp_root) != NULL);
	check_zstd(nopie, pie, src);
	check_dwz(nopie, pie, src);
	check_split(src);
	/* Compressed debug sections, both ways, compared with addr2line on
	 * the uncompressed binary. */
	snprintf(bin, sizeof(bin), "%s/compressed", tmp_root);
	sh("objcopy --compress-debug-sections=zlib '%s' '%s'%s", nopie, bin, "");
	test_run(id, sizeof(id), "readelf -SW '%s' | grep -c ' \\.debug_info .* C '", bin);
	CHECK(strcmp(id, "1") == 0);
	check_binary(bin, nopie, "", src, "compressed debug sections");
	snprintf(bin, sizeof(bin), "%s/compressed-gnu", tmp_root);
	sh("objcopy --compress-debug-sections=zlib-gnu '%s' '%s'%s", nopie, bin, "");
	test_run(id, sizeof(id), "readelf -SW '%s' | grep -c ' \\.zdebug_info '", bin);
	CHECK(strcmp(id, "1") == 0);
	check_binary(bin, nopie, "", src, "compressed debug sections (.zdebug)");

	/* Stripped, debug file in DEBUG_DIR/.build-id/xx/rest.debug. */
	test_run(id, sizeof(id), "readelf -n '%s' | sed -n 's/.*Build ID: //p'", pie);
	CHECK(strlen(id) > 4);
	snprintf(dir, sizeof(dir), "%s/debug/.build-id/%.2s", tmp_root, id);
	snprintf(dbg, sizeof(dbg), "%.4000s/%s.debug", dir, id + 2);
	snprintf(bin, sizeof(bin), "%s/stripped-build-id", tmp_root);
	sh("mkdir -p '%s'%s%s", dir, "", "");
	sh("objcopy --only-keep-debug '%s' '%s'%s", pie, dbg, "");
	sh("strip -s '%s' -o '%s'%s", pie, bin, "");
	snprintf(dir, sizeof(dir), "%s/debug", tmp_root);
	check_binary(bin, pie, dir, src, "stripped, build-id debug file");

	/* The same with its DWARF compressed (as Debian's debug packages
	 * ship it), with an on-disk cache: the first session writes an
	 * inflated copy, the next reads it, a corrupt copy is replaced; the
	 * frames are the same every time. */
	sh("objcopy --compress-debug-sections=zlib '%s' '%s.z'%s", dbg, dbg, "");
	sh("mv '%s.z' '%s'%s", dbg, dbg, "");
	{
		char cdir[4096], entry[8192 + 64], out[256];

		snprintf(cdir, sizeof(cdir), "%.4000s/cache", tmp_root);
		snprintf(entry, sizeof(entry), "%s/debug/%.2s/%s.debug", cdir, id, id + 2);
		test_run(out, sizeof(out), "readelf -SW '%s' | grep '[.]debug_' | grep -c ' C '", dbg);
		CHECK(atoi(out) > 0);
		cache_dir = cdir;
		check_binary(bin, pie, dir, src, "compressed debug file, cache written");
		CHECK(last_stats.cache_writes == 1 && last_stats.cache_hits == 0);
		test_run(out, sizeof(out), "readelf -SW '%s' | grep '[.]debug_' | grep -c ' C '", entry);
		CHECK(strcmp(out, "0") == 0);
		check_binary(bin, pie, dir, src, "compressed debug file, cache read");
		CHECK(last_stats.cache_hits == 1 && last_stats.cache_writes == 0);
		test_run(out, sizeof(out), "head -c 4096 /dev/urandom > '%s' && echo ok", entry);
		check_binary(bin, pie, dir, src, "compressed debug file, corrupt cache entry");
		CHECK(last_stats.cache_writes == 1 && last_stats.cache_errors == 0);
		/* an unwritable cache is no error: the debug file is read */
		snprintf(cdir, sizeof(cdir), "/proc/ember-no-such-dir");
		check_binary(bin, pie, dir, src, "compressed debug file, unusable cache");
		CHECK(last_stats.cache_writes == 0 && last_stats.cache_errors == 1);
		cache_dir = NULL;
	}

	/* Stripped, .gnu_debuglink to a file next to it (no build-id dir). */
	snprintf(bin, sizeof(bin), "%s/stripped-link", tmp_root);
	snprintf(dbg, sizeof(dbg), "%s/stripped-link.dbg", tmp_root);
	sh("objcopy --only-keep-debug '%s' '%s'%s", nopie, dbg, "");
	sh("strip -s '%s' -o '%s.tmp'%s", nopie, bin, "");
	sh("objcopy --add-gnu-debuglink='%s' '%s.tmp' '%s'", dbg, bin, bin);
	sh("chmod +x '%s'%s%s", bin, "", "");
	check_binary(bin, nopie, "", src, "stripped, debuglink");

	/* The same, debug file in .debug/ next to the binary. */
	snprintf(dir, sizeof(dir), "%s/.debug", tmp_root);
	sh("mkdir -p '%s' && mv '%s' '%s'", dir, dbg, dir);
	check_binary(bin, nopie, "", src, "stripped, debuglink in .debug/");

	/* Without any debug file, a stripped binary has no names and says so. */
	snprintf(dir, sizeof(dir), "%s/.debug/stripped-link.dbg", tmp_root);
	unlink(dir);
	{
		struct sym_session *s = NULL;
		struct test_child c;
		struct sym_frame f;

		CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true,
							       .debug_dir = "" }, &s) == 0);
		CHECK(test_child_start(bin, &c) == 0);
		CHECK(sym_session__user(s, c.pid, c.addrs[0] + 4, &f) == 0);
		test_print_frame("stripped, no debug file", &f);
		CHECK(f.miss == SYM_MISS_NO_SYMBOL && f.file == NULL && f.line == 0);
		CHECK(strstr(f.name, "stripped-link+0x") == f.name);
		test_child_stop(&c);
		sym_session__free(s);
	}
	test_run(bin, sizeof(bin), "rm -rf '%s' && echo ok", tmp_root);
	free(nopie);
	free(pie);
	free(src);
	free(dwarf4);
	free(included);
	free(body);
	return test_exit();
}
