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
	static _Atomic uint64_t serials;
	int r;

	memset(c, 0, sizeof(*c));
	c->serial = ++serials;
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
/* The FDE that covers vaddr, and its CIE: what sym_cfi__function and
 * sym_cfi__rule read. */
struct fde_at {
	const uint8_t *cie, *cie_end; /* the CIE after its length field */
	const uint8_t *fde, *fde_end; /* the FDE after its length field */
	uint8_t enc;                  /* its addresses' encoding */
	bool signal;                  /* its CIE says "S" */
	uint64_t lo, len;             /* the code it covers */
};

static bool find_fde(const struct sym_cfi *c, uint64_t vaddr, struct fde_at *ret)
{
	const uint8_t *h = c->hdr, *tab, *fde, *body, *next, *cie, *pc, *end;
	uint64_t lo, len, fde_vaddr, off;
	uint32_t count, flen, id, cie_len;
	size_t lo_i, hi_i, n;
	bool signal;
	uint8_t enc;

	if (!h || c->hdr_size < 12 || !c->eh_frame || h[0] != 1 || h[2] != 0x03 ||
	    h[3] != 0x3b)
		return false;
	count = rd32(h + 8);
	if (count == 0 || (uint64_t)count * 8 > c->hdr_size - 12)
		return false;
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
		return false;
	/* The FDE itself gives the range (the table has only the start). */
	fde_vaddr = c->hdr_vaddr + (int64_t)(int32_t)rd32(tab + 8 * lo_i + 4);
	off = fde_vaddr - c->eh_vaddr;
	if (fde_vaddr < c->eh_vaddr || off >= c->eh_size || c->eh_size - off < 8)
		return false;
	fde = c->eh_frame + off;
	end = c->eh_frame + c->eh_size;
	flen = rd32(fde);
	body = fde + 4;
	if (flen < 4 || flen == 0xffffffffu || flen > (size_t)(end - body))
		return false;
	next = body + flen;
	id = rd32(body);
	if (id == 0 || id > (size_t)(body - c->eh_frame))
		return false;
	cie = body - id;
	cie_len = (size_t)(end - cie) >= 8 ? rd32(cie) : 0;
	if (cie_len < 5 || cie_len > (size_t)(end - cie - 4) || rd32(cie + 4) != 0 ||
	    !parse_cie(cie + 4, cie + 4 + cie_len, &signal, &enc))
		return false;
	pc = fde + 8;
	n = enc_size(enc);
	if (!n || !read_pc(pc, next, c->eh_vaddr + (uint64_t)(pc - c->eh_frame), enc, &lo) ||
	    !read_pc(pc + n, next, 0, enc & 0x0f, &len))
		return false;
	if (vaddr < lo || vaddr - lo >= len)
		return false;  /* a gap between functions the CFI does not cover */
	*ret = (struct fde_at){
		.cie = cie + 4, .cie_end = cie + 4 + cie_len,
		.fde = body, .fde_end = next,
		.enc = enc, .signal = signal, .lo = lo, .len = len,
	};
	return true;
}

int sym_cfi__function(const struct sym_cfi *c, uint64_t vaddr, uint64_t *ret_lo)
{
	struct fde_at f;

	if (!find_fde(c, vaddr, &f))
		return -ENOENT;
	*ret_lo = f.lo;
	return 0;
}

/* ---- the common unwinding rules (sym_cfi__rule) ------------------------- */

/* DWARF's x86-64 register numbers. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

static int64_t sleb(const uint8_t **pp, const uint8_t *end)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;

	while (*pp < end) {
		b = *(*pp)++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (shift < 64 && (b & 0x40))
		v |= ~0ULL << shift;
	return (int64_t)v;
}

/* The row being built: the CFA, and the rules of %rbp and the return
 * address (saved at CFA + offset, or, for %rbp, kept). */
struct row {
	int cfa_reg;
	int64_t cfa_off;
	bool rbp_saved, ra_saved, ra_undefined;
	int64_t rbp_off, ra_off;
};

/* A register rule of another register than these three is only skipped:
 * the fast walk follows %rsp, %rbp and the return address alone. */
static bool tracked(uint64_t reg)
{
	return reg == REG_RBP || reg == REG_RSP || reg == REG_RA;
}

/* Set reg saved at CFA + off. False when the walk cannot follow it. */
static bool set_offset(struct row *r, uint64_t reg, int64_t off)
{
	if (reg == REG_RBP) {
		r->rbp_saved = true;
		r->rbp_off = off;
	} else if (reg == REG_RA) {
		r->ra_saved = true;
		r->ra_undefined = false;
		r->ra_off = off;
	} else if (reg == REG_RSP) {
		return false;
	}
	return true;
}

/*
 * Run the CFA instructions [p, end) up to the row of pc (the code at loc
 * first): the row at the end of the CIE's initial instructions is init
 * (for DW_CFA_restore). Returns false on anything the fast walk does not
 * follow, and sets *ret_done when pc's row is complete (an advance past
 * pc).
 */
static bool run_cfa(const uint8_t *p, const uint8_t *end, uint64_t code_align,
		    int64_t data_align, uint64_t *loc, uint64_t pc, struct row *r,
		    const struct row *init, bool *ret_done)
{
	struct row stack[8];
	size_t depth = 0;

	while (p < end) {
		uint8_t op = *p++, low = op & 0x3f;
		uint64_t reg, delta = 0;
		int64_t off;

		switch (op >> 6) {
		case 1: /* DW_CFA_advance_loc */
			delta = low * code_align;
			goto advance;
		case 2: /* DW_CFA_offset */
			off = (int64_t)uleb(&p, end) * data_align;
			if (!set_offset(r, low, off))
				return false;
			continue;
		case 3: /* DW_CFA_restore */
			if (!init)
				return false;
			if (low == REG_RBP) {
				r->rbp_saved = init->rbp_saved;
				r->rbp_off = init->rbp_off;
			} else if (low == REG_RA) {
				r->ra_saved = init->ra_saved;
				r->ra_undefined = init->ra_undefined;
				r->ra_off = init->ra_off;
			}
			continue;
		}
		switch (op) {
		case 0x00: /* DW_CFA_nop */
			continue;
		case 0x02: /* DW_CFA_advance_loc1 */
			if (end - p < 1)
				return false;
			delta = p[0] * code_align;
			p += 1;
			goto advance;
		case 0x03: { /* DW_CFA_advance_loc2 */
			uint16_t d;

			if (end - p < 2)
				return false;
			memcpy(&d, p, 2);
			delta = d * code_align;
			p += 2;
			goto advance;
		}
		case 0x04: /* DW_CFA_advance_loc4 */
			if (end - p < 4)
				return false;
			delta = rd32(p) * code_align;
			p += 4;
			goto advance;
		case 0x05: /* DW_CFA_offset_extended */
			reg = uleb(&p, end);
			off = (int64_t)uleb(&p, end) * data_align;
			if (!set_offset(r, reg, off))
				return false;
			continue;
		case 0x11: /* DW_CFA_offset_extended_sf */
			reg = uleb(&p, end);
			off = sleb(&p, end) * data_align;
			if (!set_offset(r, reg, off))
				return false;
			continue;
		case 0x06: /* DW_CFA_restore_extended */
		case 0x07: /* DW_CFA_undefined */
		case 0x08: /* DW_CFA_same_value */
			reg = uleb(&p, end);
			if (op == 0x07 && reg == REG_RA) {
				r->ra_undefined = true;
				r->ra_saved = false;
			} else if (op == 0x08 && reg == REG_RBP) {
				r->rbp_saved = false;
			} else if (tracked(reg)) {
				return false;
			}
			continue;
		case 0x09: /* DW_CFA_register */
			reg = uleb(&p, end);
			(void)uleb(&p, end);
			if (tracked(reg))
				return false;
			continue;
		case 0x0a: /* DW_CFA_remember_state */
			if (depth == 8)
				return false;
			stack[depth++] = *r;
			continue;
		case 0x0b: /* DW_CFA_restore_state: the CFA too, as GCC's
			    * epilogues expect and libunwind does */
			if (depth == 0)
				return false;
			*r = stack[--depth];
			continue;
		case 0x0c: /* DW_CFA_def_cfa */
			r->cfa_reg = (int)uleb(&p, end);
			r->cfa_off = (int64_t)uleb(&p, end);
			continue;
		case 0x12: /* DW_CFA_def_cfa_sf */
			r->cfa_reg = (int)uleb(&p, end);
			r->cfa_off = sleb(&p, end) * data_align;
			continue;
		case 0x0d: /* DW_CFA_def_cfa_register */
			r->cfa_reg = (int)uleb(&p, end);
			continue;
		case 0x0e: /* DW_CFA_def_cfa_offset */
			r->cfa_off = (int64_t)uleb(&p, end);
			continue;
		case 0x13: /* DW_CFA_def_cfa_offset_sf */
			r->cfa_off = sleb(&p, end) * data_align;
			continue;
		case 0x10: /* DW_CFA_expression */
		case 0x16: { /* DW_CFA_val_expression */
			uint64_t n;

			reg = uleb(&p, end);
			n = uleb(&p, end);
			if (tracked(reg) || n > (uint64_t)(end - p))
				return false;
			p += n;
			continue;
		}
		case 0x14: /* DW_CFA_val_offset */
			reg = uleb(&p, end);
			(void)uleb(&p, end);
			if (tracked(reg))
				return false;
			continue;
		case 0x15: /* DW_CFA_val_offset_sf */
			reg = uleb(&p, end);
			(void)sleb(&p, end);
			if (tracked(reg))
				return false;
			continue;
		case 0x2e: /* DW_CFA_GNU_args_size */
			(void)uleb(&p, end);
			continue;
		default: /* DW_CFA_set_loc, def_cfa_expression, GNU's others */
			return false;
		}
advance:
		if (*loc + delta > pc) {
			*ret_done = true;
			return true;
		}
		*loc += delta;
	}
	return true;
}

int sym_cfi__rule(const struct sym_cfi *c, uint64_t vaddr, struct sym_cfi_rule *ret)
{
	const uint8_t *p, *aug, *ins;
	uint64_t code_align, loc, ra_col;
	int64_t data_align;
	struct row r = { .cfa_reg = -1 }, init;
	struct fde_at f;
	bool done = false;
	uint8_t version;

	if (!find_fde(c, vaddr, &f))
		return -ENOENT;
	if (f.signal)
		return -ENOTSUP;
	/* The CIE: version, augmentation, alignments, return column,
	 * augmentation data (parse_cie checked it reads). */
	p = f.cie + 4;
	version = *p++;
	aug = p;
	while (p < f.cie_end && *p)
		p++;
	p++;
	if (*aug != 'z' && *aug != '\0')
		return -ENOTSUP;
	code_align = uleb(&p, f.cie_end);
	data_align = sleb(&p, f.cie_end);
	ra_col = version == 1 ? (p < f.cie_end ? *p++ : 0) : uleb(&p, f.cie_end);
	if (ra_col != REG_RA)
		return -ENOTSUP;
	if (*aug == 'z') {
		uint64_t n = uleb(&p, f.cie_end);

		if (n > (uint64_t)(f.cie_end - p))
			return -ENOTSUP;
		p += n;
	}
	loc = f.lo;
	if (!run_cfa(p, f.cie_end, code_align, data_align, &loc, vaddr, &r, NULL, &done))
		return -ENOTSUP;
	init = r;
	/* The FDE's instructions, after its addresses and augmentation
	 * data. */
	ins = f.fde + 4 + 2 * enc_size(f.enc);
	if (*aug == 'z') {
		uint64_t n = uleb(&ins, f.fde_end);

		if (n > (uint64_t)(f.fde_end - ins))
			return -ENOTSUP;
		ins += n;
	}
	if (!done && !run_cfa(ins, f.fde_end, code_align, data_align, &loc, vaddr, &r, &init,
			      &done))
		return -ENOTSUP;
	if ((r.cfa_reg != REG_RSP && r.cfa_reg != REG_RBP) || r.cfa_off < 0 ||
	    r.cfa_off > INT32_MAX || (!r.ra_saved && !r.ra_undefined))
		return -ENOTSUP;
	*ret = (struct sym_cfi_rule){
		.cfa_rbp = r.cfa_reg == REG_RBP,
		.cfa_off = (int32_t)r.cfa_off,
		.ra_undefined = r.ra_undefined,
		.ra_off = (int32_t)r.ra_off,
		.rbp_saved = r.rbp_saved,
		.rbp_off = (int32_t)r.rbp_off,
	};
	return 0;
}
