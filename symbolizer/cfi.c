/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cfi.c — what DWARF unwinding needs of one binary: copies of its
 * .eh_frame_hdr (the sorted FDE search table) and .eh_frame (the call frame
 * information), with their virtual addresses, kept with the binary's symbols
 * so a process can be unwound after it exits; and a look at the CFI that
 * tells whether the binary was built with frame pointers (most functions
 * move the CFA to %rbp), which decides AUTO mode's choice for a process,
 * and where its signal trampolines are (FDEs of a CIE with augmentation
 * "S": glibc's __restore_rt), whose frames are not calls. And, for code no
 * symbol names, the function an address lies in: the FDE that covers it,
 * found in .eh_frame_hdr's sorted table (sym_cfi__function).
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

static uint64_t uleb(const uint8_t **pp, const uint8_t *end)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*pp < end) {
		uint8_t b = *(*pp)++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return v;
}

/* Bytes of a pointer in encoding enc (its low nibble), or 0 if unknown. */
static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return 8;                  /* absptr */
	case 0x02: case 0x0a: return 2;       /* udata2, sdata2 */
	case 0x03: case 0x0b: return 4;       /* udata4, sdata4 */
	case 0x04: case 0x0c: return 8;       /* udata8, sdata8 */
	default: return 0;
	}
}

/*
 * A CIE's augmentation: whether it marks signal frames ("S"), and the
 * encoding of its FDEs' addresses ("R"). body is the CIE after its length
 * field, next its end. Returns false when it cannot be read.
 */
static bool parse_cie(const uint8_t *body, const uint8_t *next, bool *ret_signal,
		      uint8_t *ret_fde_enc)
{
	const uint8_t *p = body + 4, *aug;
	uint8_t version, fde_enc = 0;  /* absptr */
	bool signal = false;

	if (p >= next || (*p != 1 && *p != 3))
		return false;
	version = *p++;
	aug = p;
	while (p < next && *p)
		p++;
	if (p >= next)
		return false;
	p++;
	if (*aug == 'z') {
		uleb(&p, next);              /* code alignment */
		uleb(&p, next);              /* data alignment (an SLEB128) */
		if (version == 1)
			p++;                 /* return address column */
		else
			uleb(&p, next);
		uleb(&p, next);              /* augmentation data length */
		for (const uint8_t *a = aug + 1; *a; a++) {
			size_t n;

			if (p >= next)
				return false;
			if (*a == 'P') {
				if (!(n = enc_size(*p)))
					return false;
				p += 1 + n;
			} else if (*a == 'L') {
				p++;
			} else if (*a == 'R') {
				fde_enc = *p++;
			} else if (*a == 'S') {
				signal = true;
			}
			/* 'B', 'G': no data */
		}
	}
	*ret_signal = signal;
	*ret_fde_enc = fde_enc;
	return true;
}

/* The address at p (virtual address vaddr) in encoding enc: absolute or
 * pc-relative, the only ones x86_64 toolchains write for FDEs. */
static bool read_pc(const uint8_t *p, const uint8_t *end, uint64_t vaddr, uint8_t enc,
		    uint64_t *ret)
{
	size_t n = enc_size(enc);
	int64_t v;

	if (!n || p > end || (size_t)(end - p) < n ||
	    ((enc & 0x70) != 0 && (enc & 0x70) != 0x10))
		return false;
	if (n == 2) {
		int16_t x;

		memcpy(&x, p, 2);
		v = (enc & 0x08) ? (int64_t)x : (int64_t)(uint16_t)x;
	} else if (n == 4) {
		int32_t x;

		memcpy(&x, p, 4);
		v = (enc & 0x08) ? (int64_t)x : (int64_t)(uint32_t)x;
	} else {
		memcpy(&v, p, 8);
	}
	*ret = (uint64_t)v + ((enc & 0x70) == 0x10 ? vaddr : 0);
	return true;
}

/* A signal trampoline's code, from the FDE at fde (up to next) of a CIE
 * that says "S". Returns 0 or -ENOMEM. */
static int add_signal_range(struct sym_cfi *c, const uint8_t *fde, const uint8_t *next,
			    uint8_t enc)
{
	const uint8_t *pc = fde + 8;
	uint64_t vaddr = c->eh_vaddr + (uint64_t)(pc - c->eh_frame), lo, len;
	struct sym_cfi_range *r;
	size_t n = enc_size(enc);

	/* pc_range has pc_begin's size, and is never pc-relative */
	if (!n || !read_pc(pc, next, vaddr, enc, &lo) || !read_pc(pc + n, next, 0, enc & 0x0f, &len))
		return 0;
	if (c->n_sig == 8)
		return 0;  /* glibc has one */
	r = realloc(c->sig, (c->n_sig + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	c->sig = r;
	c->sig[c->n_sig++] = (struct sym_cfi_range){ lo, lo + len };
	return 0;
}

/*
 * One pass over the FDEs. Count those of functions that move the CFA at
 * all (any instruction but DW_CFA_nop: frameless leaves have none and say
 * nothing about the build), and those that make %rbp the CFA register
 * (DW_CFA_def_cfa_register 6, or DW_CFA_def_cfa 6 n): functions with a
 * frame pointer. A byte scan of the instructions is enough for a vote.
 * And note the code of signal trampolines (CIE augmentation "S"), whose
 * frames are not calls. Returns 0 or -ENOMEM.
 */
static int scan_fdes(struct sym_cfi *c)
{
	const uint8_t *p = c->eh_frame, *end = c->eh_frame + c->eh_size;
	const uint8_t *last_cie = NULL;
	bool cie_signal = false;
	uint8_t cie_enc = 0;
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
		/* An FDE's id is the distance back to its CIE. */
		if (id != 0 && id <= (size_t)(body - c->eh_frame)) {
			const uint8_t *cie = body - id;

			if (cie != last_cie) {
				uint32_t cie_len = (size_t)(end - cie) >= 8 ? rd32(cie) : 0;

				last_cie = cie;
				if (cie_len < 5 || cie_len > (size_t)(end - cie - 4) ||
				    rd32(cie + 4) != 0 ||
				    !parse_cie(cie + 4, cie + 4 + cie_len, &cie_signal, &cie_enc))
					cie_signal = false;
			}
			if (cie_signal && add_signal_range(c, p, next, cie_enc) < 0)
				return -ENOMEM;
		}
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
	return 0;
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
	if (c->eh_frame && scan_fdes(c) < 0) {
		sym_cfi__fini(c);
		return -ENOMEM;
	}
	/* A binary without CFI is not an error: it cannot be DWARF-unwound. */
	return 0;
}

void sym_cfi__fini(struct sym_cfi *c)
{
	free(c->hdr);
	free(c->eh_frame);
	free(c->sig);
	memset(c, 0, sizeof(*c));
}

bool sym_cfi__has_frame_pointers(const struct sym_cfi *c)
{
	return c->fdes && 2 * c->fdes_with_fp >= c->fdes;
}

bool sym_cfi__in_ranges(const struct sym_cfi_range *r, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= r[i].lo && addr < r[i].hi)
			return true;
	return false;
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

/*
 * .eh_frame_hdr: version 1, then the encodings of eh_frame_ptr, fde_count
 * and the table, eh_frame_ptr (4 bytes), fde_count (udata4), then
 * fde_count pairs {initial location, FDE address}, both sdata4 relative to
 * the header (datarel), sorted by initial location. Other encodings are
 * not written by x86_64 linkers and are not read.
 */
int sym_cfi__function(const struct sym_cfi *c, uint64_t vaddr, uint64_t *ret_lo)
{
	const uint8_t *h = c->hdr, *tab, *fde, *body, *next, *cie, *pc, *end;
	uint64_t lo, len, fde_vaddr, off;
	uint32_t count, flen, id, cie_len;
	size_t lo_i, hi_i, n;
	bool signal;
	uint8_t enc;

	if (!h || c->hdr_size < 12 || !c->eh_frame || h[0] != 1 || h[2] != 0x03 ||
	    h[3] != 0x3b)
		return -ENOENT;
	count = rd32(h + 8);
	if (count == 0 || (uint64_t)count * 8 > c->hdr_size - 12)
		return -ENOENT;
	tab = h + 12;
	/* The last entry whose initial location is at or below vaddr. */
	lo_i = 0;
	hi_i = count;
	while (hi_i - lo_i > 1) {
		size_t mid = lo_i + (hi_i - lo_i) / 2;

		if (c->hdr_vaddr + (int64_t)(int32_t)rd32(tab + 8 * mid) <= vaddr)
			lo_i = mid;
		else
			hi_i = mid;
	}
	if (c->hdr_vaddr + (int64_t)(int32_t)rd32(tab + 8 * lo_i) > vaddr)
		return -ENOENT;
	/* The FDE itself gives the range (the table has only the start). */
	fde_vaddr = c->hdr_vaddr + (int64_t)(int32_t)rd32(tab + 8 * lo_i + 4);
	off = fde_vaddr - c->eh_vaddr;
	if (fde_vaddr < c->eh_vaddr || off >= c->eh_size || c->eh_size - off < 8)
		return -ENOENT;
	fde = c->eh_frame + off;
	end = c->eh_frame + c->eh_size;
	flen = rd32(fde);
	body = fde + 4;
	if (flen < 4 || flen == 0xffffffffu || flen > (size_t)(end - body))
		return -ENOENT;
	next = body + flen;
	id = rd32(body);
	if (id == 0 || id > (size_t)(body - c->eh_frame))
		return -ENOENT;
	cie = body - id;
	cie_len = (size_t)(end - cie) >= 8 ? rd32(cie) : 0;
	if (cie_len < 5 || cie_len > (size_t)(end - cie - 4) || rd32(cie + 4) != 0 ||
	    !parse_cie(cie + 4, cie + 4 + cie_len, &signal, &enc))
		return -ENOENT;
	pc = fde + 8;
	n = enc_size(enc);
	if (!n || !read_pc(pc, next, c->eh_vaddr + (uint64_t)(pc - c->eh_frame), enc, &lo) ||
	    !read_pc(pc + n, next, 0, enc & 0x0f, &len))
		return -ENOENT;
	if (vaddr < lo || vaddr - lo >= len)
		return -ENOENT;  /* a gap between functions the CFI does not cover */
	*ret_lo = lo;
	return 0;
}
