/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-origin.c — inlined frames whose abstract origin is in
 * another unit. The LTO fixture (fixture-lto-main.c and fixture-lto-work.c,
 * gcc -O2 -g -flto) inlines lto_mix <- lto_helper, defined in one file,
 * into lto_hot in the other: its inlined subroutines name their functions
 * by DW_FORM_ref_addr into the other file's unit. Every byte of lto_hot is
 * resolved and its inline chain (names, innermost first, and frame kinds)
 * compared with `addr2line -f -C -i` on the plain build: as built, with its
 * debug sections compressed (held in memory: the other unit's bytes are
 * not read into a window), after dwz -m (DW_FORM_GNU_ref_alt into the
 * multifile), dwz -5 (DW_FORM_ref_sup4) and dwz -m then compressed (as
 * Debian ships its -dbgsym files). Then a copy whose first cross-unit
 * abstract origin is rewritten to point at its own DIE (a cycle) and one
 * pointing at no DIE: lookups end, the frame is "[inlined]", marked and
 * counted as name-unresolved. Last, Debian's libbfd (LTO, dwz, compressed:
 * libbinutils-dbg), mapped into the fixture: every instruction of it,
 * and no inlined frame left without a name.
 *
 * Usage: test-symbolizer-origin LTO LTO_PIE
 */
#include <sys/stat.h>

#include "symbolizer-test.h"

#define MAX_BYTES 4096
#define MAX_DEPTH 16

static char tmp_root[] = "/tmp/ember-sym-origin-XXXXXX";

/* A shell command that must print "ok". */
static void must(const char *what, const char *cmd)
{
	char out[256];

	test_run(out, sizeof(out), "%s", cmd);
	if (strcmp(out, "ok") != 0) {
		fprintf(stderr, "%s failed: %s\n", what, cmd);
		test_failures++;
	}
}

/* The inline chains addr2line -f -C -i gives for bin at vaddr .. vaddr +
 * n: names[i][j], innermost first, depth[i] frames. */
static void a2l_chains(const char *bin, uint64_t vaddr, size_t n,
		       char (*names)[MAX_DEPTH][128], int *depth)
{
	char path[] = "/tmp/ember-origin-a2l-XXXXXX", cmd[8192], line[2048];
	int fd = mkstemp(path), i = -1;
	FILE *f, *p;

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	for (size_t k = 0; k < n; k++)
		fprintf(f, "0x%" PRIx64 "\n", vaddr + k);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "addr2line -f -C -i -a -e '%s' < %s", bin, path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	/* "0xADDR", then name and file:line per frame */
	while (p && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '0' && line[1] == 'x') {
			if (++i >= (int)n)
				break;
			depth[i] = 0;
			continue;
		}
		if (i >= 0 && depth[i] < MAX_DEPTH)
			snprintf(names[i][depth[i]++], sizeof(names[0][0]), "%.127s", line);
		if (!fgets(line, sizeof(line), p))  /* file:line */
			break;
	}
	if (p)
		pclose(p);
	unlink(path);
	CHECK(i + 1 == (int)n);
}

/*
 * Runs run_bin and resolves every byte of its lto_hot, comparing each
 * inline chain with addr2line's on ref_bin (same code). With unresolved,
 * the frames rewritten to point nowhere may be "[inlined]" instead of
 * addr2line's name, and must be marked name-unresolved; otherwise every
 * name must match and nothing be marked or counted.
 */
static void check_chains(const char *run_bin, const char *ref_bin, const char *debug_dir,
			 bool unresolved, const char *what)
{
	static char names[MAX_BYTES][MAX_DEPTH][128];
	static int depth[MAX_BYTES];
	struct sym_options opts = { .no_kernel = true, .debug_dir = debug_dir };
	struct sym_session *s = NULL;
	struct sym_frame fr[MAX_DEPTH];
	struct test_child c;
	struct sym_stats st;
	uint64_t vaddr = 0, size = 0;
	size_t bad = 0, deep = 0, unnamed = 0, nf;

	CHECK(test_nm_symbol(ref_bin, "lto_hot", &vaddr, &size) == 0);
	CHECK(size > 0 && size <= MAX_BYTES);
	if (size == 0 || size > MAX_BYTES)
		return;
	a2l_chains(ref_bin, vaddr, size, names, depth);
	CHECK(sym_session__new(&opts, &s) == 0);
	CHECK(test_child_start(run_bin, &c) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	for (uint64_t i = 0; i < size; i++) {
		bool same;

		nf = 0;
		CHECK(sym_session__user_frames(s, c.pid, c.addrs[0] + i, fr, MAX_DEPTH, &nf) == 0);
		same = (int)nf == depth[i];
		for (size_t j = 0; same && j < nf; j++) {
			bool lost = unresolved && !strcmp(fr[j].name, "[inlined]") &&
				    fr[j].debug == SYM_DEBUG_NAME_UNRESOLVED;

			unnamed += lost;
			same = (lost || !strcmp(fr[j].name, names[i][j])) &&
			       fr[j].kind == (j + 1 < nf ? SYM_FRAME_INLINED : SYM_FRAME_USER) &&
			       (lost || fr[j].debug == SYM_DEBUG_OK);
		}
		deep += nf == 3 && !strcmp(fr[0].name, "lto_mix") &&
			!strcmp(fr[1].name, "lto_helper") && !strcmp(fr[2].name, "lto_hot");
		if (!same && bad++ < 5) {
			fprintf(stderr, "%s: 0x%" PRIx64 " differs:\n", what, vaddr + i);
			for (size_t j = 0; j < nf; j++)
				fprintf(stderr, "  ember     %s (kind %d, debug %s)\n", fr[j].name,
					fr[j].kind, sym_debug_issue_name(fr[j].debug));
			for (int j = 0; j < depth[i]; j++)
				fprintf(stderr, "  addr2line %s\n", names[i][j]);
		}
	}
	test_child_stop(&c);
	sym_session__stats(s, &st);
	fprintf(stderr, "%s: %" PRIu64 " addresses, %zu differ from addr2line, %zu in "
		"lto_mix <- lto_helper <- lto_hot, %zu frames [inlined]; name-unresolved "
		"counted %" PRIu64 "\n", what, size, bad, deep, unnamed,
		st.debug_issues[SYM_DEBUG_NAME_UNRESOLVED]);
	CHECK(bad == 0);
	if (unresolved) {
		/* the rewritten DIE's frames, each once per DIE in the count */
		CHECK(unnamed > 0);
		CHECK(st.debug_issues[SYM_DEBUG_NAME_UNRESOLVED] >= 1);
	} else {
		CHECK(deep > 0);
		for (int i = 0; i < SYM_DEBUG__COUNT; i++)
			CHECK(st.debug_issues[i] == 0);
	}
	sym_session__free(s);
}

/* Rewrites, in a copy of bin, the first DW_AT_abstract_origin of an
 * inlined subroutine that points outside its unit (so its form is
 * DW_FORM_ref_addr, 4 bytes): to its own DIE (mode "cycle") or to no DIE
 * ("nowhere"). */
static const char patch_py[] =
	"import re, struct, subprocess, sys\n"
	"src, mode, dst = sys.argv[1:4]\n"
	"d = bytearray(open(src, 'rb').read())\n"
	"shoff, = struct.unpack_from('<Q', d, 0x28)\n"
	"shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3a)\n"
	"strtab, = struct.unpack_from('<Q', d, shoff + shstrndx * shentsize + 24)\n"
	"info = None\n"
	"for i in range(shnum):\n"
	"    h = shoff + i * shentsize\n"
	"    n, = struct.unpack_from('<I', d, h)\n"
	"    if d[strtab + n:d.index(0, strtab + n)] == b'.debug_info':\n"
	"        info, = struct.unpack_from('<Q', d, h + 24)\n"
	"text = subprocess.run(['readelf', '--debug-dump=info', src], capture_output=True,\n"
	"                      text=True).stdout\n"
	"lo = hi = die = 0\n"
	"tag = None\n"
	"for l in text.splitlines():\n"
	"    m = re.match(r'\\s*Compilation Unit @ offset (0x[0-9a-f]+):', l)\n"
	"    if m:\n"
	"        lo = int(m.group(1), 16)\n"
	"        continue\n"
	"    m = re.match(r'\\s*Length:\\s+(0x[0-9a-f]+)', l)\n"
	"    if m:\n"
	"        hi = lo + int(m.group(1), 16) + 4\n"
	"        continue\n"
	"    m = re.match(r'\\s*<\\d+><([0-9a-f]+)>: Abbrev Number: \\d+ \\((\\w+)\\)', l)\n"
	"    if m:\n"
	"        die, tag = int(m.group(1), 16), m.group(2)\n"
	"        continue\n"
	"    m = re.match(r'\\s*<([0-9a-f]+)>\\s+DW_AT_abstract_origin\\s*:\\s*<0x([0-9a-f]+)>', l)\n"
	"    if m and tag == 'DW_TAG_inlined_subroutine' and not lo <= int(m.group(2), 16) < hi:\n"
	"        at = info + int(m.group(1), 16)\n"
	"        if struct.unpack_from('<I', d, at)[0] != int(m.group(2), 16):\n"
	"            sys.exit('not a ref_addr')\n"
	"        struct.pack_into('<I', d, at, die if mode == 'cycle' else 0xfffffff0)\n"
	"        open(dst, 'wb').write(d)\n"
	"        print('ok')\n"
	"        break\n";

static void check_patched(const char *lto)
{
	char py[8192], dst[8192], cmd[20000];
	const char *modes[] = { "cycle", "nowhere" };
	FILE *f;

	snprintf(py, sizeof(py), "%s/patch.py", tmp_root);
	f = fopen(py, "w");
	CHECK(f && fputs(patch_py, f) >= 0);
	if (f)
		fclose(f);
	for (int m = 0; m < 2; m++) {
		char what[64];

		snprintf(dst, sizeof(dst), "%s/lto-%s", tmp_root, modes[m]);
		snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' %s '%s' && chmod +x '%s' && echo ok",
			 py, lto, modes[m], dst, dst);
		must("rewriting an abstract origin", cmd);
		snprintf(what, sizeof(what), "LTO, an abstract origin pointing %s",
			 m ? "at no DIE" : "at itself");
		check_chains(dst, lto, "", true, what);
	}
}

/* dwz: the two LTO builds share a multifile, GNU style and DWARF 5; then
 * the first one's sections compressed, as Debian's -dbgsym files are. */
static void check_dwz(const char *lto, const char *lto_pie)
{
	char d[4096], cmd[20000], a[8192];

	for (int m = 0; m < 2; m++) {
		const char *opt = m ? "-5" : "", *what = m ? "LTO, dwz -5" : "LTO, dwz -m";

		snprintf(d, sizeof(d), "%s/dwz%d", tmp_root, m);
		snprintf(a, sizeof(a), "%s/a", d);
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cd '%s' && cp '%s' a && cp '%s' b && "
			 "dwz %s -m '%s/common.debug' -M '%s/common.debug' a b >/dev/null 2>&1 && "
			 "readelf --debug-dump=abbrev a | grep -q -E "
			 "'DW_AT_abstract_origin +DW_FORM_(GNU_ref_alt|ref_sup4)' && echo ok",
			 d, d, lto, lto_pie, opt, d, d);
		must(what, cmd);
		check_chains(a, lto, "", false, what);
	}
	snprintf(cmd, sizeof(cmd), "cd '%s/dwz0' && objcopy --compress-debug-sections=zlib a az && "
		 "echo ok", tmp_root);
	must("compressing", cmd);
	snprintf(a, sizeof(a), "%s/dwz0/az", tmp_root);
	check_chains(a, lto, "", false, "LTO, dwz -m, compressed");
}

/*
 * Debian's libbfd (built with LTO, its debug file dwz'ed against
 * libbinutils.debug and compressed), mapped into the fixture by
 * LD_PRELOAD: every instruction of its code, with the debug file found
 * as Ember finds it. No inlined frame stays without a name, and nothing
 * is counted as unread. (addr2line 2.40 is no reference here: it drops
 * the inlined frames whose origin is in a partial unit.)
 */
static void check_libbfd(const char *lto)
{
	char lib[4096], cmd[8192], path[] = "/tmp/ember-origin-bfd-XXXXXX";
	struct sym_session *s = NULL;
	struct sym_frame fr[MAX_DEPTH];
	struct sym_stats st;
	struct test_child c;
	uint64_t lo = 0, off = 0, n = 0, count = 0, inlined = 0, unnamed = 0;
	FILE *f;
	int fd;

	test_run(lib, sizeof(lib), "readlink -f \"$(ldd \"$(command -v objdump)\" | "
		 "awk '/libbfd/ { print $3 }')\"");
	CHECK(lib[0] == '/');
	if (lib[0] != '/')
		return;
	/* instruction offsets: libbfd's code segment has vaddr == offset */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s' | awk '$1 == \"LOAD\" && $7 ~ /E/ && $2 != $3 "
		 "{ bad = 1 } END { if (!bad) print \"ok\" }'", lib);
	must("libbfd's code at its file offsets", cmd);
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s' | "
		 "awk '/^ +[0-9a-f]+:/ { sub(\":\", \"\", $1); print $1 }' > %s && echo ok", lib, path);
	must("objdump", cmd);
	CHECK(setenv("LD_PRELOAD", lib, 1) == 0);
	CHECK(test_child_start(lto, &c) == 0);
	unsetenv("LD_PRELOAD");
	snprintf(cmd, sizeof(cmd), "awk '$6 == \"%s\" && $2 ~ /x/ { split($1, r, \"-\"); "
		 "print r[1], $3 }' /proc/%d/maps", lib, (int)c.pid);
	test_run(lib, sizeof(lib), "%s", cmd);
	CHECK(sscanf(lib, "%" SCNx64 " %" SCNx64, &lo, &off) == 2);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && lo && fscanf(f, "%" SCNx64, &n) == 1) {
		size_t nf = 0;

		CHECK(sym_session__user_frames(s, c.pid, lo + n - off, fr, MAX_DEPTH, &nf) == 0);
		count++;
		for (size_t j = 0; j + 1 < nf; j++) {
			inlined++;
			unnamed += !strcmp(fr[j].name, "[inlined]");
		}
	}
	if (f)
		fclose(f);
	unlink(path);
	test_child_stop(&c);
	sym_session__stats(s, &st);
	fprintf(stderr, "libbfd: %" PRIu64 " instructions, %" PRIu64 " inlined frames, %" PRIu64
		" without a name\n", count, inlined, unnamed);
	CHECK(count > 10000 && inlined > 10000);
	CHECK(unnamed == 0);
	for (int i = 0; i < SYM_DEBUG__COUNT; i++)
		CHECK(st.debug_issues[i] == 0);
	sym_session__free(s);
}

int main(int argc, char **argv)
{
	char cmd[8192], z[8192];
	char *lto, *lto_pie;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LTO LTO_PIE\n", argv[0]);
		return 2;
	}
	lto = test_abs(argv[1]);
	lto_pie = test_abs(argv[2]);
	CHECK(mkdtemp(tmp_root) != NULL);
	/* the fixture is what it is meant to be: references across units */
	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=abbrev '%s' | "
		 "grep -q -E 'DW_AT_abstract_origin +DW_FORM_ref_addr' && echo ok", lto);
	must("DW_FORM_ref_addr in the LTO fixture", cmd);
	check_chains(lto, lto, "", false, "LTO");
	check_chains(lto_pie, lto_pie, "", false, "LTO, PIE");
	snprintf(z, sizeof(z), "%s/lto-z", tmp_root);
	snprintf(cmd, sizeof(cmd), "objcopy --compress-debug-sections=zlib '%s' '%s' && "
		 "readelf -SW '%s' | grep -q ' \\.debug_info .* C ' && echo ok", lto, z, z);
	must("compressing", cmd);
	check_chains(z, lto, "", false, "LTO, compressed");
	check_dwz(lto, lto_pie);
	check_patched(lto);
	check_libbfd(lto);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && echo ok", tmp_root);
	must("cleaning up", cmd);
	free(lto);
	free(lto_pie);
	return test_exit();
}
