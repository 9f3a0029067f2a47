/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-dwarf.c — libFuzzer entry point for the DWARF reader: the input
 * bytes are an ELF file with debug sections, written to a memfd and opened
 * the way a binary's DWARF is (sym_dwarf__open), then looked up at the
 * start, middle and end of every compile unit range and at addresses taken
 * from the input, so every CU's line table and scope tree gets built. Every
 * frame's strings must be readable; the structure layouts python.c reads
 * are looked up too. The files the DWARF refers to come
 * inside the input: a section .fuzz_alt is handed over as its dwz /
 * supplementary file and .fuzz_dwp as its .dwp (each through a memfd, as
 * elf.c hands over the files it finds), so mutations reach them too. Its
 * seed corpus (fuzz-dwarf-corpus/, made by fuzz-dwarf-seeds.py from small
 * -O2 -g binaries, plain, dwz'ed, split and zstd-compressed: debug
 * sections truncated, zeroed, with huge lengths and overwritten bytes)
 * runs as a unit test through tests/unit/fuzz-driver.c with any compiler.
 */
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym-internal.h"
#include "symbolizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The structure layouts python.c reads (types, members, sizes), over
 * whatever structures the input defines. */
static void layouts(struct sym_dwarf *d)
{
	static const char *const names[] = {
		"PyThreadState", "_PyInterpreterFrame", "PyCodeObject", "stat", "timespec",
		"__pthread_internal_list", "_IO_FILE", "tm",
	};
	static const char *const members[] = {
		"next", "cframe.current_frame", "st_size", "tv_nsec", "__next", "_flags",
		"interpreters.head", "a.b.c.d",
	};
	uint64_t at[sizeof(names) / sizeof(names[0])], v;

	if (sym_dwarf__find_types(d, names, sizeof(names) / sizeof(names[0]), at) < 0)
		return;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		if (!at[i])
			continue;
		sym_dwarf__type_size(d, at[i], &v);
		for (size_t k = 0; k < sizeof(members) / sizeof(members[0]); k++)
			sym_dwarf__member_offset(d, at[i], members[k], &v);
	}
}

#define MAX_FRAMES 16

static volatile size_t sink;

static void lookup(struct sym_dwarf *d, uint64_t vaddr)
{
	struct sym_dwarf_frame f[MAX_FRAMES];
	int n = sym_dwarf__lookup(d, vaddr, f, MAX_FRAMES);

	if (n > MAX_FRAMES)
		__builtin_trap();
	/* strings handed out must be whole C strings (ASan checks reads) */
	for (int i = 0; i < n; i++) {
		if (f[i].name)
			sink += strlen(f[i].name);
		if (f[i].file)
			sink += strlen(f[i].file);
		if (!f[i].file && f[i].line)
			__builtin_trap();
	}
}

/* A memfd holding the bytes of section want of the ELF image in fd (of
 * size bytes), or -1. */
static int embedded(int fd, size_t size, const char *want)
{
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int out = -1;

	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0)
		goto done;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		void *buf;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, want) != 0 || sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)
			continue;
		buf = malloc(sh.sh_size ? sh.sh_size : 1);
		out = buf ? memfd_create(want, MFD_CLOEXEC) : -1;
		if (out >= 0 && (pread(fd, buf, sh.sh_size, (off_t)sh.sh_offset) != (ssize_t)sh.sh_size ||
				 write(out, buf, sh.sh_size) != (ssize_t)sh.sh_size)) {
			close(out);
			out = -1;
		}
		free(buf);
		break;
	}
done:
	elf_end(elf);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_dwarf_files files = { .alt_fd = -1, .dwp_fd = -1, .root_fd = -1 };
	uint32_t issues[SYM_DEBUG__COUNT];
	struct sym_dwarf *d = NULL;
	uint64_t lo, hi;
	int fd;

	fd = memfd_create("fuzz-dwarf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	if (elf_version(EV_CURRENT) != EV_NONE) {
		files.alt_fd = embedded(fd, size, ".fuzz_alt");
		files.dwp_fd = embedded(fd, size, ".fuzz_dwp");
		/* a named alt file that is not in the input is missing */
		files.alt_issue = files.alt_fd < 0 ? SYM_DEBUG_ALT_MISSING : SYM_DEBUG_OK;
	}
	if (sym_dwarf__open(fd, &files, &d, issues) == 0) {
		/* a corrupt range list can make many ranges: look at some */
		for (size_t i = 0; i < 4096 && sym_dwarf__range(d, i, &lo, &hi) == 0; i++) {
			lookup(d, lo);
			lookup(d, lo + (hi - lo) / 2);
			lookup(d, hi - 1);
			lookup(d, hi);
		}
		for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
			uint64_t v;

			memcpy(&v, data + i, sizeof(v));
			lookup(d, v);
		}
		layouts(d);
		if (sym_dwarf__memory(d) == 0)
			__builtin_trap();
		sym_dwarf__free(d);
	}
	sym_dwarf_files__close(&files);
	close(fd);
	return 0;
}
