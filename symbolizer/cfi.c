/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cfi.c — what DWARF unwinding needs of one binary: copies of its
 * .eh_frame_hdr (the sorted FDE search table) and .eh_frame (the call frame
 * information), with their virtual addresses, kept with the binary's symbols
 * so a process can be unwound after it exits; and a look at the CFI that
 * tells whether the binary was built with frame pointers (most functions
 * move the CFA to %rbp), which decides AUTO mode's choice for a process.
 */
#include "sym-internal.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

/* Copies keep this much zeroed slack: libunwind reads whole words. */
#define SLACK 16

static int copy_section(Elf *elf, const char *want, uint8_t **ret_data,
			uint64_t *ret_vaddr, size_t *ret_size)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		uint8_t *copy;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, want))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size == 0 || d->d_size > (64u << 20))
			return -ENOENT;
		copy = calloc(1, d->d_size + SLACK);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, d->d_buf, d->d_size);
		*ret_data = copy;
		*ret_vaddr = sh.sh_addr;
		*ret_size = d->d_size;
		return 0;
	}
	return -ENOENT;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Count the FDEs of functions that move the CFA at all (any instruction
 * but DW_CFA_nop: frameless leaves have none and say nothing about the
 * build), and those that make %rbp the CFA register (DW_CFA_def_cfa_register
 * 6, or DW_CFA_def_cfa 6 n): functions with a frame pointer. A byte scan of
 * the instructions is enough for a vote.
 */
static void vote_frame_pointers(struct sym_cfi *c)
{
	const uint8_t *p = c->eh_frame, *end = c->eh_frame + c->eh_size;
	size_t fdes = 0, with_fp = 0;

	while (p + 8 <= end) {
		uint32_t len = rd32(p), id;
		const uint8_t *body = p + 4, *next;

		if (len == 0 || len == 0xffffffffu)
			break;
		if (len > (size_t)(end - body))
			break;
		next = body + len;
		id = rd32(body);
		if (id != 0 && len > 12) {
			/* FDE: pc_begin and pc_range (4 bytes each in the
			 * encodings x86_64 toolchains use), then instructions. */
			const uint8_t *ins = body + 12, *q;

			/* Skip the augmentation data (its length, a ULEB128
			 * that is a single byte in practice). */
			if (ins < next && *ins < 0x80)
				ins += 1 + *ins;
			for (q = ins; q < next && *q == 0; q++)
				;
			if (q == next)
				goto skip; /* no CFA change: a frameless leaf */
			fdes++;
			for (; ins + 1 < next; ins++) {
				if ((ins[0] == 0x0d && ins[1] == 0x06) ||
				    (ins[0] == 0x0c && ins[1] == 0x06)) {
					with_fp++;
					break;
				}
			}
		}
skip:
		p = next;
	}
	c->fdes = fdes;
	c->fdes_with_fp = with_fp;
}

int sym_cfi__load(Elf *elf, struct sym_cfi *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = copy_section(elf, ".eh_frame_hdr", &c->hdr, &c->hdr_vaddr, &c->hdr_size);
	if (r == -ENOMEM)
		return r;
	r = copy_section(elf, ".eh_frame", &c->eh_frame, &c->eh_vaddr, &c->eh_size);
	if (r == -ENOMEM) {
		sym_cfi__fini(c);
		return r;
	}
	if (c->eh_frame)
		vote_frame_pointers(c);
	/* A binary without CFI is not an error: it cannot be DWARF-unwound. */
	return 0;
}

void sym_cfi__fini(struct sym_cfi *c)
{
	free(c->hdr);
	free(c->eh_frame);
	memset(c, 0, sizeof(*c));
}

bool sym_cfi__has_frame_pointers(const struct sym_cfi *c)
{
	return c->fdes && 2 * c->fdes_with_fp >= c->fdes;
}

int sym_cfi__read(const struct sym_cfi *c, uint64_t vaddr, uint64_t *ret_word)
{
	if (c->hdr && vaddr >= c->hdr_vaddr && vaddr - c->hdr_vaddr < c->hdr_size) {
		memcpy(ret_word, c->hdr + (vaddr - c->hdr_vaddr), sizeof(*ret_word));
		return 0;
	}
	if (c->eh_frame && vaddr >= c->eh_vaddr && vaddr - c->eh_vaddr < c->eh_size) {
		memcpy(ret_word, c->eh_frame + (vaddr - c->eh_vaddr), sizeof(*ret_word));
		return 0;
	}
	return -ENOENT;
}
