/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-stripped.c — code no symbol names is grouped by function:
 * in Debian's stripped liblzma (mapped in this process: the symbolizer
 * links it), every address the CFI covers and no symbol names comes out as
 * one frame per function, "liblzma.so.N+0xSTART", START being the file
 * offset where the function's FDE begins. Checked against the FDE table
 * that `readelf --debug-dump=frames` prints: the first, middle and last
 * byte of each FDE give the same name, that of the FDE's start (but for
 * the .plt's FDE, whose stubs are named function@plt); such
 * frames still count as unnamed (SYM_MISS_NO_SYMBOL), as --coverage
 * reports them. Separate debug files are not looked for, so the test sees
 * the library as a user without debug packages does.
 * A snapshot reads no symbol table: each binary's is read on its first
 * name lookup (sym_stats.symbol_loads), and counted in binary_memory.
 */
#include <dlfcn.h>
#include <link.h>
#include <lzma.h>

#include "symbolizer-test.h"

struct phdr_find {
	uintptr_t base;
	uint64_t vaddr, offset, memsz; /* the executable PT_LOAD */
	bool found;
};

static int find_exec_load(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct phdr_find *p = arg;

	(void)size;
	if (info->dlpi_addr != p->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			p->vaddr = ph->p_vaddr;
			p->offset = ph->p_offset;
			p->memsz = ph->p_memsz;
			p->found = true;
			return 1;
		}
	}
	return 0;
}

int main(void)
{
	struct sym_session *s = NULL;
	struct sym_stats before, after;
	struct phdr_find ph = {0};
	char real[4096], cmd[4200], line[512];
	const char *file;
	size_t fdes = 0, unnamed = 0, named = 0;
	Dl_info info;
	FILE *p;

	/* A function of liblzma: the library is mapped, and where. */
	CHECK(dladdr((const void *)(uintptr_t)lzma_code, &info) != 0);
	CHECK(info.dli_fname && realpath(info.dli_fname, real) != NULL);
	if (test_failures)
		return test_exit();
	file = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	ph.base = (uintptr_t)info.dli_fbase;
	dl_iterate_phdr(find_exec_load, &ph);
	CHECK(ph.found);

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true, .debug_dir = "" },
			       &s) == 0);
	if (!s)
		return 1;
	CHECK(sym_session__note_process(s, getpid()) == 0);
	sym_session__stats(s, &before);
	CHECK(before.binaries >= 2);
	CHECK(before.symbol_loads == 0);

	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames '%s'", real);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while (p && fgets(line, sizeof(line), p)) {
		unsigned long long lo, hi;
		const char *pc = strstr(line, " FDE ");
		char first[256] = "";
		bool all_same = true, was_unnamed = false, named_plt = true;

		if (!pc || !(pc = strstr(pc, "pc=")) || sscanf(pc, "pc=%llx..%llx", &lo, &hi) != 2 ||
		    hi <= lo)
			continue;
		fdes++;
		CHECK(lo >= ph.vaddr && hi <= ph.vaddr + ph.memsz);
		for (int k = 0; k < 3; k++) {
			uint64_t at = k == 0 ? lo : k == 1 ? lo + (hi - lo) / 2 : hi - 1;
			struct sym_frame f;
			char want[4200];

			if (sym_session__user(s, getpid(), ph.base + at, &f) != 0) {
				CHECK(!"sym_session__user failed");
				all_same = false;
				break;
			}
			if (k == 0)
				snprintf(first, sizeof(first), "%s", f.name ? f.name : "");
			else if (!f.name || strcmp(first, f.name) != 0)
				all_same = false;
			if (f.miss != SYM_MISS_NO_SYMBOL) {
				size_t len = f.name ? strlen(f.name) : 0;

				named_plt &= len > 4 && !strcmp(f.name + len - 4, "@plt");
				continue;
			}
			/* Unnamed: named by the FDE's start, as a file offset. */
			was_unnamed = true;
			snprintf(want, sizeof(want), "%s+0x%llx", file,
				 (unsigned long long)(lo - ph.vaddr + ph.offset));
			CHECK_STR(f.name, want);
		}
		/* An unnamed function is one name throughout; only the .plt's
		 * FDE mixes it (its first entry, unnamed) with stubs named
		 * function@plt. */
		if (was_unnamed) {
			unnamed++;
			if (!all_same && !named_plt)
				fprintf(stderr, "FDE 0x%llx..0x%llx: not one name\n", lo, hi);
			CHECK(all_same || named_plt);
		} else {
			named++;
		}
	}
	if (p)
		CHECK(pclose(p) == 0);
	fprintf(stderr, "%s: %zu FDEs, %zu functions without a symbol, %zu named\n", real,
		fdes, unnamed, named);
	/* liblzma 5.4 exports about 80 functions and has about 350 FDEs: a
	 * stripped library where most functions have no symbol. */
	CHECK(fdes >= 100);
	CHECK(unnamed >= fdes / 4);
	/* liblzma's table was read for those lookups, and only then. */
	sym_session__stats(s, &after);
	CHECK(after.symbol_loads >= 1 && after.symbol_loads < before.binaries);
	CHECK(after.binary_memory > before.binary_memory);
	sym_session__free(s);
	return test_exit();
}
