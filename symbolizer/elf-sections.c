/* SPDX-License-Identifier: Apache-2.0 */
/*
 * elf-sections.c — one ELF file as libelf opens it, for the files above
 * (elf.c, debugfile.c, cache.c): opened for reading, its sections by
 * name, its GNU build-id note, and what loading its symbol tables and
 * CFI would cost before a byte of them is read. It opens nothing by
 * path and keeps nothing.
 *
 * Invariants: every ELF file the symbolizer loads symbols from is
 * opened by sym_elf_open() with ELF_C_READ, so libelf reads it with
 * pread, never mmap: a file another user truncates under us is an
 * error, not SIGBUS. sym_elf_cost() reads section headers only, so a
 * header that claims gigabytes is charged before anything is read. A
 * build-id is at most SYM_MAX_BUILD_ID bytes (asserted).
 */
#include "sym-internal.h"

#include <assert.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* Finds the NT_GNU_BUILD_ID note in data; returns its length or 0. */
static size_t note_build_id(Elf_Data *data, unsigned char *out)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nhdr;

	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
		    memcmp((char *)data->d_buf + name_off, "GNU", 4) == 0 &&
		    nhdr.n_descsz > 0 && nhdr.n_descsz <= SYM_MAX_BUILD_ID) {
			memcpy(out, (char *)data->d_buf + desc_off, nhdr.n_descsz);
			return nhdr.n_descsz;
		}
		off = next;
	}
	return 0;
}

int sym_elf_read_build_id(Elf *elf, char **ret_hex)
{
	unsigned char id[SYM_MAX_BUILD_ID];
	size_t len = 0, phnum;
	Elf_Scn *scn = NULL;
	char *hex;

	while (!len && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data)
			len = note_build_id(data, id);
	}
	/* Without section headers (sstrip'ed files) the notes are still
	 * reachable through PT_NOTE. */
	for (size_t i = 0; !len && elf_getphdrnum(elf, &phnum) == 0 && i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *data;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
					    ELF_T_NHDR);
		if (data)
			len = note_build_id(data, id);
	}
	assert(len <= SYM_MAX_BUILD_ID);
	if (!len) {
		*ret_hex = NULL;
		return 0;
	}
	hex = malloc(2 * len + 1);
	if (!hex)
		return -ENOMEM;
	common_hex(id, len, hex);
	*ret_hex = hex;
	return 0;
}

Elf *sym_elf_open(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr ehdr;

	if (!elf)
		return NULL;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		elf_end(elf);
		return NULL;
	}
	return elf;
}

Elf_Scn *sym_elf_section(Elf *elf, const char *want)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS ||
		    shdr.sh_size == 0)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/*
 * Bytes a load reads whole from elf and builds from what it reads: the
 * symbol tables (the table built from them takes about as much again),
 * their string tables, the CFI copies, MiniDebugInfo (at its bound). What
 * a section header claims is charged before libelf reads anything, so a
 * sparse file whose .symtab claims gigabytes is refused, not read.
 */
uint64_t sym_elf_cost(Elf *elf, bool symtab_only)
{
	Elf_Scn *scn = NULL;
	uint64_t cost = 0;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr, str;
		Elf_Scn *link;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (shdr.sh_type == SHT_SYMTAB || (!symtab_only && shdr.sh_type == SHT_DYNSYM)) {
			cost += 2 * shdr.sh_size;
			link = elf_getscn(elf, shdr.sh_link);
			if (link && gelf_getshdr(link, &str) && str.sh_type != SHT_NOBITS)
				cost += str.sh_size;
		} else if (!symtab_only && name &&
			   (!strcmp(name, ".eh_frame") || !strcmp(name, ".eh_frame_hdr") ||
			    !strcmp(name, ".gnu_debugdata"))) {
			cost += shdr.sh_size;
		}
	}
	return cost;
}

bool sym_elf_has_dwarf(Elf *elf)
{
	return sym_elf_section(elf, ".debug_info") || sym_elf_section(elf, ".zdebug_info");
}

const unsigned char *sym_elf_section_bytes(Elf *elf, const char *want, size_t *ret_size)
{
	Elf_Scn *scn = sym_elf_section(elf, want);
	Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;

	if (!data || !data->d_buf)
		return NULL;
	*ret_size = data->d_size;
	return data->d_buf;
}
