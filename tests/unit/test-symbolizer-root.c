/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-root.c — hermetic checks against a fake root
 * (sym_options.root = a temp dir with proc/kallsyms, proc/modules and
 * proc/4242/{maps,root, map_files}): kallsyms parsing (core and module
 * symbols, bounds, kptr_restrict zeros, no_kernel, the on-disk cache of the
 * core's and the modules' symbols, the rest read once), maps parsing (non-executable, malformed, paths with
 * spaces, "(deleted)" through map_files, a replaced file whose inode no longer
 * matches, anonymous, [vsyscall]) and the file offset -> vaddr arithmetic on a
 * library whose second executable segment has vaddr != offset.
 *
 * Usage: test-symbolizer-root FIXTURE_LIB
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "symbolizer-test.h"

#define PID 4242

static char root[] = "/tmp/ember-sym-root-XXXXXX";

static void put(const char *rel, const char *text)
{
	test_put(root, rel, text);
}

static struct sym_frame kernel(struct sym_session *s, uint64_t addr)
{
	struct sym_frame f;

	CHECK(sym_session__kernel(s, addr, &f) == 0);
	test_print_frame("kernel", &f);
	CHECK(f.kind == SYM_FRAME_KERNEL);
	/* Never the address (KASLR): the offset in the function. */
	CHECK(f.offset != addr && f.offset < 0x100000);
	return f;
}

static void check_kernel_miss(struct sym_session *s, uint64_t addr)
{
	struct sym_frame f = kernel(s, addr);


	CHECK_STR(f.name, "[unknown]");
	CHECK(f.offset == 0);
	CHECK(f.miss == SYM_MISS_NO_SYMBOL);
}

static void test_kallsyms(void)
{
	struct sym_options o = { .root = root };
	struct sym_session *s = NULL;
	struct sym_frame f;
	struct sym_stats st;

	put("proc/kallsyms",
	    "0000000000000000 A fixed_percpu_data\n"
	    "ffffffff81000400 T last_core\n"
	    "ffffffff81000000 T _stext\n"
	    "ffffffff81000100 T do_one\n"
	    "ffffffff81000200 t do_two\n"
	    "ffffffff81000300 D some_data\n"
	    "not a line\n"
	    "ffffffffc0000000 t ext4_fn\t[ext4]\n"
	    "ffffffffc0000100 T ext4_fn2\t[ext4]\n"
	    "ffffffffc0010000 t xfs_fn\t[xfs]\n");
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return;
	f = kernel(s, 0xffffffff81000150);
	CHECK_STR(f.name, "do_one");
	CHECK_STR(f.module, "[kernel.kallsyms]");
	CHECK(f.miss == SYM_MISS_NONE);
	CHECK(f.offset == 0x50);
	f = kernel(s, 0xffffffff81000100);
	CHECK_STR(f.name, "do_one");
	CHECK(f.offset == 0);
	f = kernel(s, 0xffffffff810000ff);
	CHECK_STR(f.name, "_stext");
	f = kernel(s, 0xffffffff81000410);
	CHECK_STR(f.name, "last_core");
	f = kernel(s, 0xffffffffc0000050);
	CHECK_STR(f.name, "ext4_fn [ext4]");
	CHECK(f.offset == 0x50);
	CHECK_STR(f.module, "ext4");
	f = kernel(s, 0xffffffffc0000150);
	CHECK_STR(f.name, "ext4_fn2 [ext4]");
	CHECK_STR(f.module, "ext4");
	f = kernel(s, 0xffffffffc0010010);
	CHECK_STR(f.name, "xfs_fn [xfs]");
	CHECK_STR(f.module, "xfs");
	/* below the first symbol, far past the last one of the kernel, of a
	 * module, and of everything */
	check_kernel_miss(s, 0xffffffff80000000);
	check_kernel_miss(s, 0xffffffff81100000);
	check_kernel_miss(s, 0xffffffffc0008000);
	check_kernel_miss(s, 0xffffffffc0100000);
	sym_session__stats(s, &st);
	CHECK(st.resolved == 7);
	CHECK(st.misses[SYM_MISS_NO_SYMBOL] == 4);
	sym_session__free(s);

	/* no_kernel never reads the file */
	o.no_kernel = true;
	CHECK(sym_session__new(&o, &s) == 0);
	check_kernel_miss(s, 0xffffffff81000150);
	sym_session__free(s);

	/* The on-disk cache: the core kernel's symbols are kept per boot id
	 * and read back by the next session, which still reads kallsyms
	 * for a module's address; another boot id reads kallsyms again. */
	{
		char cache[PATH_MAX], entry[PATH_MAX + 64], out[64];
		struct stat sb;

		snprintf(cache, sizeof(cache), "%s/cache", root);
		snprintf(entry, sizeof(entry), "%s/kallsyms/%s", cache,
			 "11111111-2222-3333-4444-555555555555");
		test_run(out, sizeof(out), "mkdir -p '%s/proc/sys/kernel/random' && echo ok", root);
		put("proc/sys/kernel/random/boot_id", "11111111-2222-3333-4444-555555555555\n");
		o.cache_dir = cache;
		o.no_kernel = false;
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "do_one");
		sym_session__stats(s, &st);
		CHECK(st.cache_writes == 1 && st.cache_hits == 0);
		sym_session__free(s);
		CHECK(stat(entry, &sb) == 0 && (sb.st_mode & 0777) == 0600);

		/* kallsyms now says otherwise: the core comes from the cache,
		 * the module from the file */
		put("proc/kallsyms",
		    "ffffffff81000000 T _stext\n"
		    "ffffffff81000100 T renamed_one\n"
		    "ffffffff81000400 T last_core\n"
		    "ffffffffc0000000 t ext4_new\t[ext4]\n");
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "do_one");
		CHECK_STR(kernel(s, 0xffffffff81000410).name, "last_core");
		CHECK_STR(kernel(s, 0xffffffffc0000050).name, "ext4_new [ext4]");
		check_kernel_miss(s, 0xffffffff80000000);
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 1 && st.cache_writes == 0);
		sym_session__free(s);

		/* An entry damaged inside (do_one's name offset, the second
		 * symbol's, past the names): every symbol is checked when the
		 * entry is read (through a small buffer, not mapped), so it
		 * is refused at once, kallsyms read instead of
		 * naming something else, and the entry written again. */
		test_run(out, sizeof(out),
			 "printf '\\377\\377\\377\\377' | dd of='%s' bs=1 seek=%zu conv=notrunc "
			 "2>/dev/null && echo ok", entry, (size_t)96 + 16 + 8);
		CHECK_STR(out, "ok");
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffff81000410).name, "last_core");
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "renamed_one");
		CHECK_STR(kernel(s, 0xffffffffc0000050).name, "ext4_new [ext4]");
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 0 && st.cache_writes == 1);
		sym_session__free(s);

		/* a corrupt entry is not used, and is written again */
		test_run(out, sizeof(out), "printf garbage > '%s' && echo ok", entry);
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "renamed_one");
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 0 && st.cache_writes == 1);
		sym_session__free(s);

		/* Modules: with proc/modules listing ext4, the entry holds
		 * its symbols too (not the BPF program's, which come and
		 * go) */
		put("proc/modules", "ext4 1015808 2 mbcache,jbd2, Live 0xffffffffc0000000\n");
		put("proc/kallsyms",
		    "ffffffff81000000 T _stext\n"
		    "ffffffff81000100 T renamed_one\n"
		    "ffffffff81000400 T last_core\n"
		    "ffffffffc0000000 t ext4_fn\t[ext4]\n"
		    "ffffffffc0000100 T ext4_fn2\t[ext4]\n"
		    "ffffffffc0020000 t bpf_prog_0123_old\t[bpf]\n");
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffffc0000150).name, "ext4_fn2 [ext4]");
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 0 && st.cache_writes == 1);
		sym_session__free(s);
		/* so a later session names ext4's addresses from the entry,
		 * with kallsyms unread (it now says otherwise); a BPF
		 * program's address reads kallsyms once, and keeps only the
		 * symbols the entry does not cover */
		put("proc/kallsyms",
		    "ffffffff81000000 T _stext\n"
		    "ffffffff81000100 T renamed_again\n"
		    "ffffffff81000400 T last_core\n"
		    "ffffffffc0000000 t ext4_renamed\t[ext4]\n"
		    "ffffffffc0000100 T ext4_fn2\t[ext4]\n"
		    "ffffffffc0020000 t bpf_prog_4567_new\t[bpf]\n"
		    "ffffffffc0020100 t bpf_prog_89ab_next\t[bpf]\n");
		CHECK(sym_session__new(&o, &s) == 0);
		f = kernel(s, 0xffffffffc0000050);
		CHECK_STR(f.name, "ext4_fn [ext4]");
		CHECK_STR(f.module, "ext4");
		CHECK(f.offset == 0x50);
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "renamed_one");
		{
			uint64_t before;

			sym_session__stats(s, &st);
			before = st.kernel_memory;
			f = kernel(s, 0xffffffffc0020010);
			CHECK_STR(f.name, "bpf_prog_4567_new [bpf]");
			CHECK(f.offset == 0x10);
			CHECK_STR(kernel(s, 0xffffffffc0020110).name, "bpf_prog_89ab_next [bpf]");
			sym_session__stats(s, &st);
			/* two symbols and their names, not the table again */
			fprintf(stderr, "kernel memory %" PRIu64 " -> %" PRIu64 "\n", before,
				st.kernel_memory);
			CHECK(st.kernel_memory > before && st.kernel_memory < before + 512);
		}
		check_kernel_miss(s, 0xffffffffc0030000);
		CHECK_STR(kernel(s, 0xffffffffc0000150).name, "ext4_fn2 [ext4]");
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 1 && st.cache_writes == 0);
		sym_session__free(s);
		/* ext4 loaded again elsewhere: the entry's modules are stale,
		 * kallsyms is read and the entry written again */
		put("proc/modules", "ext4 1015808 2 mbcache,jbd2, Live 0xffffffffc0100000\n");
		put("proc/kallsyms",
		    "ffffffff81000000 T _stext\n"
		    "ffffffff81000100 T renamed_again\n"
		    "ffffffff81000400 T last_core\n"
		    "ffffffffc0100000 t ext4_moved\t[ext4]\n");
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffffc0100010).name, "ext4_moved [ext4]");
		CHECK_STR(kernel(s, 0xffffffff81000150).name, "renamed_again");
		check_kernel_miss(s, 0xffffffffc0000050);
		sym_session__stats(s, &st);
		CHECK(st.cache_hits == 0 && st.cache_writes == 1);
		sym_session__free(s);
		test_run(out, sizeof(out), "rm '%s/proc/modules' && echo ok", root);

		/* after a reboot: the new kallsyms, and the old entry is gone */
		put("proc/kallsyms", "ffffffff82000000 T _stext\nffffffff82000100 T rebooted\n");
		put("proc/sys/kernel/random/boot_id", "66666666-2222-3333-4444-555555555555\n");
		CHECK(sym_session__new(&o, &s) == 0);
		CHECK_STR(kernel(s, 0xffffffff82000150).name, "rebooted");
		sym_session__free(s);
		CHECK(stat(entry, &sb) < 0);
		o.cache_dir = NULL;
	}

	/* kptr_restrict: every address is zero */
	put("proc/kallsyms", "0000000000000000 T _stext\n0000000000000000 T do_one\n");
	o.no_kernel = false;
	CHECK(sym_session__new(&o, &s) == 0);
	check_kernel_miss(s, 0xffffffff81000150);
	sym_session__free(s);
}

/* The file offset of vaddr in lib, from readelf's program headers. */
static uint64_t lib_offset(const char *lib, uint64_t vaddr)
{
	char cmd[PATH_MAX + 64], line[512];
	uint64_t ret = UINT64_MAX;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", lib);
	p = popen(cmd, "r");
	if (!p)
		return ret;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long off, va, pa, filesz;

		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &off, &va, &pa,
			   &filesz) == 4 && vaddr >= va && vaddr < va + filesz)
			ret = vaddr - va + off;
	}
	pclose(p);
	return ret;
}

static uint64_t lib_symbol(const char *lib, const char *name)
{
	char buf[256];

	test_run(buf, sizeof(buf), "nm '%s' | awk '$3 == \"%s\" { print $1 }'", lib, name);
	return buf[0] ? strtoull(buf, NULL, 16) : UINT64_MAX;
}

static const char *const fns[] = { "fixture_lib_gamma", "fixture_lib_far", "lib_hidden_static" };

static void check_lib_mapping(struct sym_session *s, uint64_t start, const char *lib,
			      const char *module)
{
	for (size_t i = 0; i < 3; i++) {
		uint64_t off = lib_offset(lib, lib_symbol(lib, fns[i]) + 2);
		struct sym_frame f;

		CHECK(off != UINT64_MAX);
		CHECK(sym_session__user(s, PID, start + off, &f) == 0);
		test_print_frame(fns[i], &f);
		CHECK_STR(f.name, fns[i]);
		CHECK_STR(f.module, module);
		CHECK(f.offset == off);
		CHECK(f.miss == SYM_MISS_NONE);
		CHECK(f.build_id != NULL);
	}
}

static void test_maps(const char *lib)
{
	struct sym_options o = { .root = root, .no_kernel = true, .debug_dir = "" };
	char text[16384], path[PATH_MAX], spaced[PATH_MAX], cmd[3 * PATH_MAX];
	char dev_lib[32], dev_spaced[32];
	struct sym_session *s = NULL;
	struct stat st_lib, st_spaced;
	struct sym_stats st;
	struct sym_frame f;
	uint64_t off;

	snprintf(path, sizeof(path), "%s/proc/%d", root, PID);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/map_files", root, PID);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/root", root, PID);
	CHECK(symlink("/", path) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/map_files/7f2000000000-7f2000500000", root, PID);
	CHECK(symlink(lib, path) == 0);
	snprintf(spaced, sizeof(spaced), "%s/dir with space/libfix copy.so", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/dir with space' && cp '%s' '%s'", root, lib,
		 spaced);
	CHECK(system(cmd) == 0);
	CHECK(stat(lib, &st_lib) == 0 && stat(spaced, &st_spaced) == 0);
	/* each file's own device: a mapping is opened only as its own file */
	snprintf(dev_lib, sizeof(dev_lib), "%02x:%02x", major(st_lib.st_dev),
		 minor(st_lib.st_dev));
	snprintf(dev_spaced, sizeof(dev_spaced), "%02x:%02x", major(st_spaced.st_dev),
		 minor(st_spaced.st_dev));

	snprintf(text, sizeof(text),
		 "7f0000000000-7f0000001000 r--p 00000000 %5$s %1$lu %2$s\n"
		 "7f0000001000-7f0000500000 r-xp 00000000 %5$s %1$lu %2$s\n"
		 "7f1000000000-7f1000500000 r-xp 00000000 %6$s %3$lu %4$s\n"
		 "7f2000000000-7f2000500000 r-xp 00000000 %5$s %1$lu /gone/libgone.so (deleted)\n"
		 "7f3000000000-7f3000500000 r-xp 00000000 %5$s 99999999 %2$s\n"
		 "7f4000000000-7f4000001000 r-xp 00000000 00:00 0 \n"
		 "7f5000000000-7f5000001000 r-xp 00000000 00:00 0    [uprobes]\n"
		 "this line is malformed\n"
		 "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]\n",
		 (unsigned long)st_lib.st_ino, lib, (unsigned long)st_spaced.st_ino, spaced,
		 dev_lib, dev_spaced);
	snprintf(path, sizeof(path), "proc/%d/maps", PID);
	put(path, text);

	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return;
	CHECK(sym_session__note_process(s, PID) == 0);
	/* The r--p mapping is not executable: the first r-xp one starts later. */
	CHECK(sym_session__user(s, PID, 0x7f0000000010, &f) == 0);
	CHECK(f.miss == SYM_MISS_NO_MAPPING);
	check_lib_mapping(s, 0x7f0000001000 - 0, lib, lib);
	check_lib_mapping(s, 0x7f1000000000, lib, spaced);
	check_lib_mapping(s, 0x7f2000000000, lib, "/gone/libgone.so");

	off = lib_offset(lib, lib_symbol(lib, "fixture_lib_gamma"));
	CHECK(sym_session__user(s, PID, 0x7f3000000000 + off, &f) == 0);
	test_print_frame("replaced file", &f);
	snprintf(cmd, sizeof(cmd), "%s+0x%" PRIx64, strrchr(lib, '/') + 1, off);
	CHECK_STR(f.name, cmd);
	CHECK(f.miss == SYM_MISS_NO_FILE);
	/* its path leads to another file than the mapped one: counted */
	sym_session__stats(s, &st);
	CHECK(st.refused[SYM_REFUSED_NOT_MAPPED] == 1);

	CHECK(sym_session__user(s, PID, 0x7f4000000020, &f) == 0);
	CHECK_STR(f.name, "[anon]+0x20");
	CHECK(f.kind == SYM_FRAME_JIT);
	CHECK(sym_session__user(s, PID, 0x7f5000000030, &f) == 0);
	CHECK_STR(f.name, "[uprobes]+0x30");
	CHECK_STR(f.module, "[uprobes]");
	CHECK(sym_session__user(s, PID, 0xffffffffff600404, &f) == 0);
	CHECK_STR(f.name, "time");
	CHECK_STR(f.module, "[vsyscall]");
	CHECK(f.miss == SYM_MISS_NONE);
	CHECK(sym_session__user(s, PID, 0x1000, &f) == 0);
	CHECK(f.miss == SYM_MISS_NO_MAPPING);
	CHECK_STR(f.name, "[unknown]");

	/* a pid that has no proc directory in this root */
	CHECK(sym_session__note_process(s, PID + 1) == -ESRCH);
	sym_session__stats(s, &st);
	CHECK(st.processes == 1);
	/* one binary (same build-id) behind three mappings of two files */
	CHECK(st.binaries == 1);
	sym_session__free(s);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], *lib;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_LIB\n", argv[0]);
		return 2;
	}
	CHECK(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/proc", root);
	CHECK(mkdir(path, 0755) == 0);
	test_kallsyms();
	lib = test_abs(argv[1]);
	test_maps(lib);
	free(lib);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	CHECK(system(path) == 0);
	return test_exit();
}
