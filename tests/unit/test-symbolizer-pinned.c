/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-pinned.c — under the memory bound, a binary pinned in a
 * pass gives up its DWARF, not another binary its ELF symbols: two copies
 * of the -O2 -g inline fixture (one without a build-id, so they are two
 * binaries), each mapped by its own process in a fake root, under a bound
 * of one binary with its DWARF and a little more. B is resolved in pass 1;
 * in pass 2 A's DWARF evicts B (not used in it yet), then B is resolved
 * again: it must be reloaded and named (A's DWARF and address cache make
 * the room for its ELF symbols), never left as module+offset; in pass 3
 * it has its DWARF (the frames an unbounded session gives). Binary
 * memory stays within the bound, or within what the binary used last
 * holds beside the others' bare structs (it is never evicted, and the
 * fixture's parsed DWARF outgrows the section sizes it is charged by
 * up front).
 *
 * Then a copy whose DWARF alone passes the bound (its .debug_str padded):
 * refused once as over-budget, and not again when its ELF object is
 * unloaded and loaded again, nor when, loaded again in a pass, it gives up
 * its address cache for the bound (it has no DWARF to give up): each
 * refusal is counted once, and its frames keep their ELF names.
 *
 * Usage: test-symbolizer-pinned FIXTURE_INLINE_NOPIE
 */
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "symbolizer-test.h"

#define PID_A 6000
#define PID_B 6001
#define PID_C 6002
#define PID_D 6003
#define MAX_FRAMES 8
#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))

static char root[] = "/tmp/ember-sym-pin-XXXXXX";

/* proc/PID/maps mapping bin's text segment, and proc/PID/root -> / */
static void make_process(pid_t pid, const char *bin, uint64_t start, uint64_t end,
			 uint64_t off)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;

	CHECK(stat(bin, &st) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d", root, (int)pid);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/root", root, (int)pid);
	CHECK(symlink("/", path) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/maps", root, (int)pid);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " %02x:%02x %lu %s\n",
		start & ~(uint64_t)0xfff, (end + 0xfff) & ~(uint64_t)0xfff, off & ~(uint64_t)0xfff,
		major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino, bin);
	fclose(f);
}

/* The frames of addr in pid as "name file:line" each (copies: the names
 * live as long as the session), the outermost one's name in name. */
static size_t resolve(struct sym_session *s, pid_t pid, uint64_t addr, char *name, size_t size,
		      char text[MAX_FRAMES][512])
{
	struct sym_frame f[MAX_FRAMES];
	size_t n = 0;

	CHECK(sym_session__user_frames(s, pid, addr, f, MAX_FRAMES, &n) == 0);
	snprintf(name, size, "%s", n ? f[n - 1].name : "");
	for (size_t i = 0; i < n; i++) {
		snprintf(text[i], 512, "%s %s:%u %s", f[i].name, f[i].file ? f[i].file : "-",
			 f[i].line, sym_miss_name(f[i].miss));
		fprintf(stderr, "  %d 0x%" PRIx64 ": %s\n", (int)pid, addr, text[i]);
	}
	return n;
}

/* D's DWARF is refused for good: counted once however often it is
 * unloaded, loaded again and trimmed (C, without DWARF, is used last each
 * time, so D is the one that goes). */
static void test_refused_once(pid_t pid_d, uint64_t addr, const char *want,
			      uint64_t elf_one)
{
	struct sym_options o = { .root = root, .no_kernel = true, .debug_dir = "",
				 .max_memory = 4 * elf_one };
	char got[MAX_FRAMES][512], name[256];
	struct sym_session *s = NULL;
	struct sym_stats st;

	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return;
	resolve(s, pid_d, addr, name, sizeof(name), got);
	CHECK_STR(name, want);
	resolve(s, PID_C, addr, name, sizeof(name), got);
	sym_session__stats(s, &st);
	fprintf(stderr, "D refused: %" PRIu64 " over-budget\n", st.refused[SYM_REFUSED_BUDGET]);
	CHECK(st.refused[SYM_REFUSED_BUDGET] == 1);
	/* unloaded (pinned, not loaded again in this pass), then loaded
	 * again in the next pass */
	sym_session__trim(s, 0);
	sym_session__next_pass(s);
	resolve(s, pid_d, addr, name, sizeof(name), got);
	CHECK_STR(name, want);
	resolve(s, PID_C, addr, name, sizeof(name), got);
	sym_session__stats(s, &st);
	fprintf(stderr, "D loaded again: %" PRIu64 " reloads, %" PRIu64 " over-budget\n",
		st.reloads, st.refused[SYM_REFUSED_BUDGET]);
	CHECK(st.reloads >= 1);
	CHECK(st.refused[SYM_REFUSED_BUDGET] == 1);
	/* loaded again in this pass: a bound just under what is held takes
	 * its address cache, and nothing more */
	sym_session__trim(s, st.binary_memory - 1);
	resolve(s, pid_d, addr, name, sizeof(name), got);
	CHECK_STR(name, want);
	sym_session__stats(s, &st);
	fprintf(stderr, "D trimmed: %" PRIu64 " evictions, %" PRIu64 " over-budget\n",
		st.evictions, st.refused[SYM_REFUSED_BUDGET]);
	CHECK(st.evictions >= 2 && st.reloads == 1);
	CHECK(st.refused[SYM_REFUSED_BUDGET] == 1);
	sym_session__free(s);
}

int main(int argc, char **argv)
{
	struct sym_options o = { .root = root, .no_kernel = true, .debug_dir = "" };
	char want[MAX_FRAMES][512], got[MAX_FRAMES][512];
	char buf[1024], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX], want_name[256],
	     name[256];
	unsigned long long off = 0, va = 0, sz = 0;
	uint64_t size = 0;
	uint64_t addr = 0, one, elf_one;
	struct sym_session *s = NULL;
	struct sym_stats st;
	size_t n_want, n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_INLINE_NOPIE\n", argv[0]);
		return 2;
	}
	CHECK(mkdtemp(root) != NULL);
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/b", root);
	snprintf(c, sizeof(c), "%s/c", root);
	snprintf(d, sizeof(d), "%s/d", root);
	/* c: a without DWARF, to measure what the ELF part costs */
	test_run(buf, sizeof(buf), "mkdir '%s/proc' && cp '%s' '%s' && "
		 "objcopy --remove-section .note.gnu.build-id '%s' '%s' && "
		 "objcopy --strip-debug '%s' '%s' && echo ok",
		 root, argv[1], a, argv[1], b, argv[1], c);
	CHECK_STR(buf, "ok");
	/* d: a whose .debug_str carries 1 MB more (empty strings) */
	test_run(buf, sizeof(buf), "objcopy --dump-section .debug_str='%s.str' '%s' '%s.x' && "
		 "head -c 1048576 /dev/zero >> '%s.str' && "
		 "objcopy --remove-section .note.gnu.build-id --update-section "
		 ".debug_str='%s.str' '%s' '%s' && echo ok", d, argv[1], d, d, d, argv[1], d);
	CHECK_STR(buf, "ok");
	test_run(buf, sizeof(buf), "readelf -lW '%s' | awk '/LOAD.* R E /{print $2, $3, $5}'", a);
	CHECK(sscanf(buf, "0x%llx 0x%llx 0x%llx", &off, &va, &sz) == 3);
	/* a function with inlined calls: its DWARF gives more than its name */
	CHECK(test_nm_symbol(a, "main", &addr, &size) == 0);
	if (test_failures)
		return test_exit();
	make_process(PID_A, a, va, va + sz, off);
	make_process(PID_B, b, va, va + sz, off);
	make_process(PID_C, c, va, va + sz, off);
	make_process(PID_D, d, va, va + sz, off);
	addr += size / 2;

	/* What an unbounded session says, and what one binary with its
	 * DWARF and this address costs. */
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	n_want = resolve(s, PID_A, addr, want_name, sizeof(want_name), want);
	sym_session__stats(s, &st);
	one = st.binary_memory;
	/* named, with a line from its DWARF */
	CHECK(n_want > 0 && !strstr(want_name, "+0x") && !strstr(want[n_want - 1], " -:0 "));
	sym_session__free(s);
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	resolve(s, PID_C, addr, name, sizeof(name), got);
	CHECK_STR(name, want_name);
	sym_session__stats(s, &st);
	elf_one = st.binary_memory;
	sym_session__free(s);
	fprintf(stderr, "one binary: %" PRIu64 " bytes, %" PRIu64 " of them its ELF part\n",
		one, elf_one);
	/* its DWARF is the bigger part */
	CHECK(one > 2 * elf_one);

	/* Room for both binaries' ELF parts (and an address cached), not for
	 * one with its DWARF and the other's ELF part beside it: B's ELF
	 * symbols fit only when A gives up its DWARF. */
	o.max_memory = 2 * elf_one + (one - elf_one) / 2;
	CHECK(o.max_memory < one + elf_one);
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	n = resolve(s, PID_B, addr, name, sizeof(name), got);
	CHECK_STR(name, want_name);
	sym_session__next_pass(s);
	n = resolve(s, PID_A, addr, name, sizeof(name), got);
	CHECK(n == n_want);
	CHECK_STR(name, want_name);
	sym_session__stats(s, &st);
	fprintf(stderr, "pass 2, A: %" PRIu64 " evictions, %" PRIu64 " bytes of %" PRIu64 "\n",
		st.evictions, st.binary_memory, o.max_memory);
	CHECK(st.evictions >= 1);  /* B, for A's DWARF */
	/* B again, in the same pass: reloaded, named from its symbols */
	n = resolve(s, PID_B, addr, name, sizeof(name), got);
	CHECK_STR(name, want_name);
	CHECK(n > 0 && strstr(got[n - 1], " none"));
	sym_session__stats(s, &st);
	fprintf(stderr, "pass 2, B: %" PRIu64 " evictions, %" PRIu64 " reloads, %" PRIu64
		" bytes of %" PRIu64 "\n", st.evictions, st.reloads, st.binary_memory,
		o.max_memory);
	CHECK(st.reloads >= 1);
	CHECK(st.binary_memory <= MAX_OF(o.max_memory, one + elf_one));
	/* the next pass looks it up again with its DWARF */
	sym_session__next_pass(s);
	n = resolve(s, PID_B, addr, name, sizeof(name), got);
	CHECK(n == n_want);
	for (size_t i = 0; i < n && i < n_want; i++)
		CHECK_STR(got[i], want[i]);
	sym_session__stats(s, &st);
	CHECK(st.binary_memory <= MAX_OF(o.max_memory, one + elf_one));
	sym_session__free(s);

	test_refused_once(PID_D, addr, want_name, elf_one);

	snprintf(buf, sizeof(buf), "rm -rf '%s'", root);
	CHECK(system(buf) == 0);
	return test_exit();
}
