/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-dwarf.h — what the files of the DWARF reader share: the DWARF
 * constants used, a file's sections and the bounds-checked cursor over
 * them, the sym_dwarf object with its units and their tables, and the
 * functions one file calls in another, grouped by the file that defines
 * them, from the bottom up: each file calls only files declared above
 * its own group (DESIGN.md says which file owns what). Every read goes through the cursor, bounds-checked against its
 * unit or section: corrupt input ends the unit being read, never the
 * process. Private to the DWARF files; the rest of symbolizer/ sees
 * sym_dwarf through sym-internal.h.
 */
#pragma once

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sym-internal.h"
#include "symbolizer.h"

/* Nested DIEs deeper than this are corrupt or not worth following. */
#define MAX_DIE_DEPTH 64
/* abstract_origin / specification hops followed for a name: a longer
 * chain (or a cycle) leaves the DIE unnamed, counted as name-unresolved */
#define MAX_NAME_HOPS 6
/* Overlapping CU ranges are rare; look back this far from the nearest. */
#define CU_LOOKBACK 8
#define NO_FILE UINT32_MAX
/* Bytes read first for a unit DIE when listing units. */
#define UNIT_DIE_READ 4096

/* The DWARF 5 constants used here (DWARF 5 standard, section 7). */
enum {
	DW_TAG_class_type = 0x02, DW_TAG_entry_point = 0x03,
	DW_TAG_lexical_block = 0x0b, DW_TAG_compile_unit = 0x11,
	DW_TAG_structure_type = 0x13, DW_TAG_union_type = 0x17,
	DW_TAG_inlined_subroutine = 0x1d, DW_TAG_module = 0x1e,
	DW_TAG_catch_block = 0x25, DW_TAG_subprogram = 0x2e,
	DW_TAG_try_block = 0x32, DW_TAG_namespace = 0x39,
	DW_TAG_partial_unit = 0x3c, DW_TAG_skeleton_unit = 0x4a,
};

/* Tags of types and template parameters, for names built from DWARF. */
enum {
	DW_TAG_array_type = 0x01, DW_TAG_enumeration_type = 0x04,
	DW_TAG_formal_parameter = 0x05, DW_TAG_pointer_type = 0x0f,
	DW_TAG_reference_type = 0x10, DW_TAG_subroutine_type = 0x15,
	DW_TAG_typedef = 0x16, DW_TAG_unspecified_parameters = 0x18,
	DW_TAG_ptr_to_member_type = 0x1f, DW_TAG_subrange_type = 0x21,
	DW_TAG_base_type = 0x24, DW_TAG_const_type = 0x26,
	DW_TAG_template_type_param = 0x2f, DW_TAG_template_value_param = 0x30,
	DW_TAG_volatile_type = 0x35, DW_TAG_restrict_type = 0x37,
	DW_TAG_unspecified_type = 0x3b, DW_TAG_type_unit = 0x41,
	DW_TAG_rvalue_reference_type = 0x42, DW_TAG_template_alias = 0x43,
	DW_TAG_GNU_template_template_param = 0x4106,
	DW_TAG_GNU_template_parameter_pack = 0x4107,
	DW_TAG_GNU_formal_parameter_pack = 0x4108,
	DW_TAG_member = 0x0d,
};

enum {
	DW_AT_sibling = 0x01, DW_AT_name = 0x03, DW_AT_stmt_list = 0x10,
	DW_AT_low_pc = 0x11, DW_AT_high_pc = 0x12, DW_AT_comp_dir = 0x1b,
	DW_AT_abstract_origin = 0x31, DW_AT_specification = 0x47,
	DW_AT_ranges = 0x55, DW_AT_call_file = 0x58, DW_AT_call_line = 0x59,
	DW_AT_linkage_name = 0x6e, DW_AT_str_offsets_base = 0x72,
	DW_AT_addr_base = 0x73, DW_AT_rnglists_base = 0x74,
	DW_AT_dwo_name = 0x76, DW_AT_MIPS_linkage_name = 0x2007,
	DW_AT_GNU_dwo_name = 0x2130, DW_AT_GNU_dwo_id = 0x2131,
	DW_AT_GNU_ranges_base = 0x2132, DW_AT_GNU_addr_base = 0x2133,
};

/* Attributes of types, parameters and units, for names built from DWARF. */
enum {
	DW_AT_byte_size = 0x0b, DW_AT_language = 0x13, DW_AT_const_value = 0x1c,
	DW_AT_containing_type = 0x1d, DW_AT_upper_bound = 0x2f,
	DW_AT_artificial = 0x34, DW_AT_count = 0x37, DW_AT_declaration = 0x3c,
	DW_AT_encoding = 0x3e, DW_AT_external = 0x3f, DW_AT_type = 0x49,
	DW_AT_reference = 0x77, DW_AT_rvalue_reference = 0x78,
	DW_AT_GNU_template_name = 0x2110, DW_AT_data_member_location = 0x38,
};

enum {
	DW_ATE_boolean = 0x02, DW_ATE_signed = 0x05, DW_ATE_signed_char = 0x06,
	DW_LANG_C89 = 0x01, DW_LANG_C = 0x02, DW_LANG_C_plus_plus = 0x04,
	DW_LANG_C99 = 0x0c, DW_LANG_ObjC_plus_plus = 0x11,
	DW_LANG_C_plus_plus_03 = 0x19, DW_LANG_C_plus_plus_11 = 0x1a,
	DW_LANG_Rust = 0x1c, DW_LANG_C11 = 0x1d, DW_LANG_C_plus_plus_14 = 0x21,
	DW_LANG_C_plus_plus_17 = 0x2a, DW_LANG_C_plus_plus_20 = 0x2b,
	DW_LANG_C17 = 0x2c,
};

enum {
	DW_FORM_addr = 0x01, DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04,
	DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07,
	DW_FORM_string = 0x08, DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a,
	DW_FORM_data1 = 0x0b, DW_FORM_flag = 0x0c, DW_FORM_sdata = 0x0d,
	DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f, DW_FORM_ref_addr = 0x10,
	DW_FORM_ref1 = 0x11, DW_FORM_ref2 = 0x12, DW_FORM_ref4 = 0x13,
	DW_FORM_ref8 = 0x14, DW_FORM_ref_udata = 0x15, DW_FORM_indirect = 0x16,
	DW_FORM_sec_offset = 0x17, DW_FORM_exprloc = 0x18,
	DW_FORM_flag_present = 0x19, DW_FORM_strx = 0x1a, DW_FORM_addrx = 0x1b,
	DW_FORM_ref_sup4 = 0x1c, DW_FORM_strp_sup = 0x1d, DW_FORM_data16 = 0x1e,
	DW_FORM_line_strp = 0x1f, DW_FORM_ref_sig8 = 0x20,
	DW_FORM_implicit_const = 0x21, DW_FORM_loclistx = 0x22,
	DW_FORM_rnglistx = 0x23, DW_FORM_ref_sup8 = 0x24, DW_FORM_strx1 = 0x25,
	DW_FORM_strx2 = 0x26, DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28,
	DW_FORM_addrx1 = 0x29, DW_FORM_addrx2 = 0x2a, DW_FORM_addrx3 = 0x2b,
	DW_FORM_addrx4 = 0x2c, DW_FORM_GNU_addr_index = 0x1f01,
	DW_FORM_GNU_str_index = 0x1f02, DW_FORM_GNU_ref_alt = 0x1f20,
	DW_FORM_GNU_strp_alt = 0x1f21,
};

enum {
	DW_UT_compile = 1, DW_UT_type = 2, DW_UT_skeleton = 4,
	DW_UT_split_compile = 5, DW_UT_split_type = 6,
};

enum {
	DW_LNS_copy = 1, DW_LNS_advance_pc, DW_LNS_advance_line, DW_LNS_set_file,
	DW_LNS_set_column, DW_LNS_negate_stmt, DW_LNS_set_basic_block,
	DW_LNS_const_add_pc, DW_LNS_fixed_advance_pc,
	DW_LNE_end_sequence = 1, DW_LNE_set_address, DW_LNE_define_file,
	DW_LNCT_path = 1, DW_LNCT_directory_index = 2,
};

enum {
	DW_RLE_end_of_list, DW_RLE_base_addressx, DW_RLE_startx_endx,
	DW_RLE_startx_length, DW_RLE_offset_pair, DW_RLE_base_address,
	DW_RLE_start_end, DW_RLE_start_length,
};

/* Sections of a file; a .dwo or .dwp has the first six as NAME.dwo and
 * an index of its units. */
enum {
	SEC_INFO, SEC_ABBREV, SEC_LINE, SEC_STR, SEC_STR_OFFSETS, SEC_RNGLISTS,
	SEC_LINE_STR, SEC_ADDR, SEC_RANGES, SEC_CU_INDEX, SEC_N,
};

struct dw_sect {
	uint8_t *p;          /* in memory, or NULL: read through windows */
	size_t size;
	uint64_t file_off;   /* where an uncompressed section is in the file */
	int fd;              /* the file, for windows (borrowed) */
	bool present;
	bool owned;          /* p is ours to free (not a view into another) */
};

/* Bytes of a section read from the file on demand (struct dw_sect.p NULL):
 * .debug_info and .debug_line are read one unit at a time, so a binary
 * holds its DWARF tables but not the sections they came from. */
struct dw_win {
	uint8_t *buf;
	size_t cap;
	uint64_t max;  /* the memory bound: a longer unit is not read */
};

/* A read position; reading past end sets bad and yields zeros. A form
 * the reader does not know sets unknown too. */
struct dw_cur {
	const uint8_t *p, *end;
	bool bad, unknown;
};

static inline uint64_t cur_u(struct dw_cur *c, unsigned n)
{
	uint64_t v = 0;
	uint32_t v32;
	uint16_t v16;

	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	switch (n) {
	case 1:
		v = c->p[0];
		break;
	case 2:
		memcpy(&v16, c->p, 2);
		v = le16toh(v16);
		break;
	case 4:
		memcpy(&v32, c->p, 4);
		v = le32toh(v32);
		break;
	case 8:
		memcpy(&v, c->p, 8);
		v = le64toh(v);
		break;
	default:
		/* no value is wider than 8 bytes: a wider field (an address
		 * size a corrupt header claims) is an error, not a shift */
		if (n > 8) {
			c->bad = true;
			c->p = c->end;
			return 0;
		}
		for (unsigned i = 0; i < n; i++)
			v |= (uint64_t)c->p[i] << (8 * i);
	}
	c->p += n;
	return v;
}

static inline uint64_t cur_uleb(struct dw_cur *c)
{
	uint64_t v = 0;

	for (unsigned shift = 0; c->p < c->end; shift += 7) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static inline int64_t cur_sleb(struct dw_cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	c->bad = true;
	return 0;
}

static inline void cur_skip(struct dw_cur *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
	} else {
		c->p += n;
	}
}

/* An inline string: NULL (and bad) when it runs off the end. */
static inline const char *cur_str(struct dw_cur *c)
{
	const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));
	const char *s = (const char *)c->p;

	if (!nul) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	c->p = nul + 1;
	return s;
}

/* A cursor on [off, off + len) of a section, bad when it does not fit. */
static inline struct dw_cur sect_cur(const struct dw_sect *s, uint64_t off, uint64_t len)
{
	if (!s->p || off > s->size || len > s->size - off)
		return (struct dw_cur){ .p = NULL, .end = NULL, .bad = true };
	return (struct dw_cur){ .p = s->p + off, .end = s->p + off + len };
}

/*
 * A DIE reference names the file it points into: the binary's DWARF, the
 * supplementary (dwz) file, or one split unit (a .dwo, or its part of a
 * .dwp), whose offsets are its own. The space is in the top 16 bits.
 */
#define SPACE_MAIN 0u
#define SPACE_ALT 1u
#define SPACE_SPLIT 2u  /* + the skeleton unit's index */
#define REF_BITS 48
#define REF_MASK ((1ULL << REF_BITS) - 1)
#define REF(space, off) ((uint64_t)(space) << REF_BITS | ((off) & REF_MASK))
#define REF_SPACE(r) ((uint32_t)((r) >> REF_BITS))
#define REF_OFF(r) ((r) & REF_MASK)

/* Which string section a V_STR offset is in. */
enum { STR_MAIN, STR_LINE, STR_ALT };

struct dw_line {
	uint64_t addr;   /* first: sym_sorted__count_le() searches it */
	uint32_t line;   /* 0 for an end-of-sequence row */
	uint32_t file;   /* index into dw_cu.files, or NO_FILE */
};

/* A line row while a CU's table is built (sorted, then copied compact). */
struct dw_row {
	struct dw_line l;
	uint32_t order;  /* row order, to keep the last row at an address */
	bool end;
};

struct dw_seq {
	size_t first, n;
};

struct dw_scope {
	const char *name;       /* interned in sym_dwarf.strings, or NULL */
	const char *call_file;  /* call site of an inlined scope, or NULL */
	int32_t parent;         /* index of the enclosing scope, or -1 */
	uint32_t call_line : 29;
	uint32_t inlined : 1;
	uint32_t lost : 1;      /* its name is in a supplementary file we lack */
	uint32_t unresolved : 1; /* an inlined scope whose name chain ends
	                            nowhere (SYM_DEBUG_NAME_UNRESOLVED) */
};

struct dw_ival {
	uint64_t lo;   /* first: sym_sorted__count_le() searches it */
	uint32_t len;  /* [lo, lo + len); longer ranges take several */
	uint32_t scope;
};

/* One unit of .debug_info (compile, partial, skeleton or type unit), or
 * of a .dwo's .debug_info.dwo (a split unit). */
struct dw_cu {
	const struct dw_sect *sec;  /* its file's sections, or a split unit's
	                               views of its .dwo's and of ours */
	uint64_t off, end;        /* the unit's bytes in .debug_info */
	uint64_t die_off;         /* its unit DIE */
	uint64_t abbrev_off;
	uint64_t base;            /* unit DIE's low_pc: base of range lists */
	uint64_t str_offsets_base, addr_base, rnglists_base;
	uint64_t ranges_base;     /* DWARF 4 split units: DW_AT_GNU_ranges_base */
	uint64_t dwo_ranges_base; /* a DWARF 4 skeleton's, for its split unit */
	uint64_t stmt_list;
	uint64_t dwo_id;          /* a skeleton's (or split unit's) dwo id */
	const char *comp_dir;     /* interned, or NULL */
	const char *dwo_name;     /* a skeleton's .dwo, interned, or NULL */
	uint32_t space;           /* SPACE_*: where its references point */
	uint16_t version;
	uint8_t addr_size, off_size, unit_type;
	uint8_t issue;            /* enum sym_debug_issue: what it lost */
	bool code;                /* a compile unit: has scopes to read */
	bool split;               /* a skeleton: its DIEs are in a .dwo */
	bool has_dwo_id;
	bool has_lines, loaded, failed;
	bool lang_read;           /* lang holds the unit's DW_AT_language */
	uint16_t lang;
	struct dw_line *lines;
	size_t n_lines;
	const char **files;       /* by DWARF file number; NULL entries */
	size_t n_files;
	const char **call_files;  /* a skeleton's: its .dwo's file table,
	                             which DW_AT_call_file numbers; else NULL */
	size_t n_call_files;
	struct dw_scope *scopes;
	size_t n_scopes, cap_scopes;
	struct dw_ival *ivals;
	size_t n_ivals;
};

struct dw_curange {
	uint64_t lo;  /* first */
	uint64_t hi;
	uint32_t cu;
};

/* A scope range while a CU is read: nested ranges become disjoint ivals. */
struct dw_raw_range {
	uint64_t lo, hi;
	uint32_t depth, scope;
};

/* The names table's entries (a common_map keyed by off). */
struct dw_name_slot {
	uint64_t off;       /* a DIE reference */
	const char *name;   /* NULL: the DIE has no name */
};

/* One DIE with children in a unit's parent index: [start, end) holds it
 * and its children; up is the enclosing entry, or -1. */
struct dw_pentry {
	uint64_t start;     /* first: sym_sorted__count_le() searches it */
	uint64_t end;
	int32_t up;
};

/* Which DIE encloses which, for one unit, in DIE order (built when a name
 * needs its enclosing namespaces and classes, dwarf-names.c). */
struct dw_pidx {
	const struct dw_cu *cu;  /* NULL: empty */
	struct dw_pentry *v;
	size_t n, cap;
	bool failed;
};

struct dw_spec {
	uint16_t at, form;
	int64_t implicit;   /* DW_FORM_implicit_const's value */
};

struct dw_abbrev {
	uint64_t code;
	uint32_t spec, n_spec;  /* specs[spec .. spec + n_spec) */
	int32_t fixed;          /* attribute bytes when every form has a fixed
				 * size in this unit, else -1 */
	uint16_t tag;
	bool children, sibling;
};

/* The abbreviation table of one unit (its offset and sizes decide the
 * fixed sizes, so a table is parsed per unit shape). */
struct dw_abbrevs {
	bool valid, dense;      /* dense: v[i].code == i + 1 */
	const struct dw_sect *sec;  /* the .debug_abbrev it is in */
	uint64_t off;
	uint16_t version;
	uint8_t addr_size, off_size;
	struct dw_abbrev *v;
	size_t n, cap;
	struct dw_spec *specs;
	size_t n_specs, cap_specs;
};

/* One file of DWARF: the binary's (or its debug file), the supplementary
 * (dwz) file, a .dwp, or the .dwo being read. */
struct dw_file {
	int fd;                      /* for the sections read on demand */
	struct dw_sect sec[SEC_N];
	struct dw_cu *cus;           /* every unit, in section order */
	size_t n_cus;
};

struct sym_dwarf {
	uint64_t max_bytes;          /* the memory bound: sections held, a
	                                unit's window, a CU's tables */
	uint64_t *refused;           /* the session's refusal counters */
	struct dw_file main;         /* the units looked up by address */
	struct dw_file alt;          /* the dwz / supplementary file, if any */
	struct dw_file dwp;          /* NAME.dwp, if any */
	struct dw_file dwo;          /* the .dwo of the unit being read */
	int root_fd;                 /* where .dwo paths resolve, or -1 */
	uint8_t alt_issue;           /* SYM_DEBUG_ALT_*: a named alt file is
	                                not there */
	bool name_lost;              /* a name was in the missing alt file */
	bool name_unresolved;        /* a name chain ended without a name:
	                                at no DIE, in a cycle, past
	                                MAX_NAME_HOPS, or at a DIE with none */
	/* the split unit being read, and its views of the sections */
	struct dw_cu split;
	struct dw_sect split_sec[SEC_N];
	uint32_t issues[SYM_DEBUG__COUNT];
	struct dw_curange *ranges;
	size_t n_ranges;
	struct sym_strings strings;
	struct common_map names;     /* DIE offset -> name (dw_name_slot) */
	size_t bytes;                /* arrays held, for the memory bound */
	size_t section_bytes;        /* debug sections held */
	/* abbrevs of the unit being read, and of another unit a reference
	 * points into */
	struct dw_abbrevs ab_cur, ab_other;
	/* scratch while reading one CU: its bytes (unit_base is .debug_info
	 * offset loading->off), another unit a reference points into, and
	 * the CU's line program */
	const struct dw_cu *loading;
	const uint8_t *unit_base;
	struct dw_win win_unit, win_other, win_line;
	const struct dw_cu *other;   /* the unit win_other holds, or NULL */
	const uint8_t *other_base;   /* its bytes (in win_other, or in the
	                                section when that is in memory) */
	/* parent indexes of the unit being read and of another one */
	struct dw_pidx pidx[2];
	struct dw_raw_range *raw;
	size_t n_raw, cap_raw;
	struct dw_row *rows;
	size_t cap_rows;
	struct dw_seq *seqs;
	size_t cap_seqs;
};

/* Gives back an array's unused tail (a failure keeps the larger array). */
static inline void shrink(void **arr, size_t n, size_t elem)
{
	void *p;

	if (!*arr || n == 0)
		return;
	p = reallocarray(*arr, n, elem);
	if (p)
		*arr = p;
}

static inline const struct dw_abbrev *abbrev_find(const struct dw_abbrevs *ab, uint64_t code)
{
	size_t lo = 0, hi = ab->n;

	if (ab->dense)
		return code - 1 < ab->n ? &ab->v[code - 1] : NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ab->v[mid].code == code)
			return &ab->v[mid];
		if (ab->v[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

enum { V_NONE, V_U, V_STR, V_STRX, V_ADDR, V_ADDRX, V_REF, V_IDX };

struct dw_val {
	uint64_t u;
	const char *s;
	uint8_t kind;
};

/* The attributes of a DIE the reader keeps; kind V_NONE when absent. */
struct dw_die {
	uint16_t tag;
	bool children;
	struct dw_val name, linkage, low, high, ranges, origin, spec, call_file,
		call_line, sibling, stmt_list, comp_dir, str_offsets_base, addr_base,
		rnglists_base, dwo_name, dwo_id, ranges_base;
};

/* What only names built from DWARF read of a DIE (types, flags, values;
 * see dw_cxx__name()); zeroed, every value V_NONE, when absent. */
struct dw_more {
	struct dw_val type, const_value, upper_bound, count, containing, template_name;
	uint64_t encoding, byte_size, language;
	uint64_t member_location;  /* a structure member's offset (constant forms) */
	bool has_type, external, declaration, artificial, reference, rvalue_reference;
	bool has_byte_size, has_member_location;
};

typedef int (*range_fn)(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg);

/* A DIE as the name builder reads it. */
struct dw_ndie {
	uint64_t off;        /* global .debug_info offset */
	uint64_t child;      /* its first child, 0 without children */
	uint64_t next;       /* its next sibling (see dw_ndie__next()) */
	bool next_unknown;   /* children but no DW_AT_sibling */
	uint16_t tag;        /* 0: a null entry (the end of a list of children) */
	const char *name, *linkage, *template_name;
	uint64_t origin, spec;  /* DIE offsets, 0 for none */
	struct dw_more m;
};

/*
 * The functions one file calls in another, by file. Each reads only
 * through the cursor (bounds-checked against its unit or section) and
 * says corrupt input by its return, never by reading past an end.
 */

/* ---- dwarf-sections.c: a file's sections -------------------------------- */

/* The debug sections of the ELF file at fd into f, which takes fd (with
 * dwo, a .dwo or .dwp's ".debug_X.dwo" and unit index). Returns 0
 * (sections that cannot be read are left out and counted in d->issues),
 * -ENODATA (no little-endian ELF file) or -ENOMEM. */
int dw_file__load(struct sym_dwarf *d, struct dw_file *f, int fd, bool dwo);
/* What dw_file__load() would hold for the ELF file at fd, from its section
 * headers alone: a compressed section at the size it claims inflated plus
 * its compressed bytes (held while it is inflated), .debug_info and
 * .debug_line nothing (read a unit at a time), others their size; the
 * first section of each kind. UINT64_MAX when one section would pass
 * SYM_DWARF_MAX_SECTION. Returns 0 or -ENODATA. */
int dw_file__cost(int fd, bool dwo, uint64_t *ret_cost);
/* Frees f's units, their tables and its sections, closes its fd. */
void dw_file__free(struct dw_file *f);
/* [off, off + len) of s: in memory, or read from the file into w (valid
 * until w's next read). NULL when it does not fit, cannot be read, or
 * is longer than w's bound (w->max, when set). */
const uint8_t *dw_sect__read(const struct dw_sect *s, uint64_t off, uint64_t len,
			     struct dw_win *w);
/* Frees what cu's load built (lines, files, scopes, intervals). */
void dw_cu__drop(struct dw_cu *cu);

/* ---- dwarf-reader.c: abbreviations, forms, DIEs, units, ranges --------- */

/* Whether ab holds cu's abbreviation table (same table, same unit shape). */
bool dw_abbrevs__holds(const struct dw_abbrevs *ab, const struct dw_cu *cu);
/* Parses cu's table into ab unless it holds it. Returns 0, -ENOMEM or
 * -EINVAL (corrupt). */
int dw_abbrevs__load(struct sym_dwarf *d, struct dw_abbrevs *ab,
		     const struct dw_cu *cu);
void dw_abbrevs__fini(struct dw_abbrevs *ab);

/* Reads one value of form at c into v (kind V_NONE for forms that hold
 * nothing used here); an unknown form makes c bad and unknown. */
void dw_val__read(const struct dw_cu *cu, struct dw_cur *c, uint16_t form,
		  int64_t implicit, struct dw_val *v);
/* The string v names (inline, in a string section, by index), or NULL. */
const char *dw_val__str(const struct sym_dwarf *d, const struct dw_cu *cu,
			const struct dw_val *v);
/* The address v names (DW_FORM_addr or by index). Returns false when it
 * names none. */
bool dw_val__addr(const struct dw_cu *cu, const struct dw_val *v, uint64_t *ret);

/* Reads the DIE at c: its abbrev code and attributes (die_attrs: of a DIE
 * whose abbrev a is known; _more: also those struct dw_more holds, when
 * more is not NULL). Return 1 for a DIE, 0 for a null entry (the end of
 * a list of children), -EINVAL when corrupt. */
int dw_die__read(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		 struct dw_cur *c, struct dw_die *die);
int dw_die__attrs(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		  const struct dw_abbrev *a, struct dw_cur *c, struct dw_die *die);
int dw_die__attrs_more(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		       const struct dw_abbrev *a, struct dw_cur *c, struct dw_die *die,
		       struct dw_more *more);
/* Moves c past the attributes of a DIE with abbrev a, or past the
 * children of the DIE just read (one jump to a sane sibling, else DIE by
 * DIE; base: the unit's bytes, at .debug_info offset cu->off). */
void dw_die__skip_attrs(const struct dw_cu *cu, const struct dw_abbrevs *ab,
			const struct dw_abbrev *a, struct dw_cur *c);
void dw_die__skip_children(const struct dw_cu *cu, const struct dw_abbrevs *ab,
			   const struct dw_val *sibling, const uint8_t *base,
			   struct dw_cur *c);
/* Calls fn for each address range of die (low_pc/high_pc or DW_AT_ranges).
 * Returns 1 when the DIE has ranges, 0 when none, or fn's -errno. */
int dw_die__ranges(struct sym_dwarf *d, const struct dw_cu *cu,
		   const struct dw_die *die, range_fn fn, void *arg);
/* The unit a reference points into, or NULL (a split unit's only while it
 * is read; the supplementary file's only when we have it). */
const struct dw_cu *dw_cu__at(const struct sym_dwarf *d, uint64_t ref);
/* The header of the unit at off of info into cu. Returns 1 and
 * *ret_next, 0 for a unit not to read (*ret_next set), -EINVAL when
 * corrupt (the list ends there). */
int dw_cu__read_header(struct sym_dwarf *d, const struct dw_sect *info, uint64_t off,
		       struct dw_cu *cu, uint64_t *ret_next);
/* Reads the unit DIE of cu (abbrevs into d->ab_cur). Returns 1 and *die,
 * 0 when it cannot be read (cu->issue says why), or -ENOMEM. */
int dw_cu__read_unit_die(struct sym_dwarf *d, struct dw_cu *cu, struct dw_die *die);
/* cu's string offsets, address and range list bases from its unit DIE. */
void dw_cu__set_bases(struct dw_cu *cu, const struct dw_die *die);

/* ---- dwarf-split.c: split units ----------------------------------------- */

/* The split unit of skeleton sk (the index-th unit) into d->split and
 * d->split_sec. Returns 1 when found, 0 when not (sk->issue says why), or
 * -ENOMEM. dw_split__end() forgets it (and closes its .dwo). */
int dw_split__begin(struct sym_dwarf *d, struct dw_cu *sk, size_t index);
void dw_split__end(struct sym_dwarf *d);

/* ---- dwarf-dies.c: the DIE tree and the names table --------------------- */

/* The bytes (at .debug_info offset cu->off) and abbreviations of unit cu:
 * the unit being read keeps its own, another unit shares a second window
 * and table (reading one there invalidates what was read of the unit
 * before). Returns 0, -ENOMEM, or -EINVAL when it cannot be read. */
int dw_cu__view(struct sym_dwarf *d, const struct dw_cu *cu,
		struct dw_abbrevs **ret_ab, const uint8_t **ret_base);
/* Whether a linkage name is mangled (C++, Rust). */
bool dw_name__mangled(const char *s);
/* The names table, by DIE reference (functions' names and built type and
 * scope names): the entry of off (NULL: not there), and keeping name
 * (NULL: it has none) for off. Put returns 0 or -ENOMEM. */
const struct dw_name_slot *dw_names__find(const struct sym_dwarf *d, uint64_t off);
int dw_names__put(struct sym_dwarf *d, uint64_t off, const char *name);

/* The DIE at reference off as the name builder reads it. Returns 1, 0 for
 * a null entry, -ENOMEM, or -EINVAL (unreadable, corrupt); _ref: the DIE
 * a V_REF value names. */
int dw_ndie__at(struct sym_dwarf *d, uint64_t off, struct dw_ndie *nd);
int dw_ndie__ref(struct sym_dwarf *d, const struct dw_val *v, struct dw_ndie *nd);
/* The reference of the sibling after nd, 0 when it cannot be known. */
uint64_t dw_ndie__next(struct sym_dwarf *d, const struct dw_ndie *nd);
/* The reference of the DIE whose child the DIE at off is. Returns 1, 0
 * when it has none (a unit DIE), -ENOMEM or -EINVAL. */
int dw_die__parent(struct sym_dwarf *d, uint64_t off, uint64_t *ret_parent);
/* Drops the parent indexes (with a CU's scratch). */
void dw_pidx__fini(struct sym_dwarf *d);

/* ---- dwarf-lines.c: line tables ----------------------------------------- */

/* cu's line table at offset off of its .debug_line: cu->files and
 * cu->lines; with ucu (its split unit), only the .dwo's file table, into
 * cu->call_files. Returns 0 (also when missing or corrupt: cu->issue
 * says so) or -ENOMEM. */
int dw_lines__read(struct sym_dwarf *d, struct dw_cu *cu, const struct dw_cu *ucu,
		   uint64_t off);

/* ---- dwarf-scopes.c: scopes --------------------------------------------- */

/* One pass over the DIEs of unit ucu below its unit DIE (c just past it,
 * d->unit_base its bytes, d->ab_cur its abbrevs): cu's scopes, and their
 * ranges in d->raw. Returns 0 or -ENOMEM (a corrupt DIE ends the walk,
 * keeping what was read, and leaves c bad). */
int dw_scopes__walk(struct sym_dwarf *d, const struct dw_cu *ucu, struct dw_cu *cu,
		    struct dw_cur *c);
/* d->raw into cu->ivals: disjoint intervals naming the innermost scope.
 * Returns 0 or -ENOMEM. */
int dw_scopes__build_ivals(struct sym_dwarf *d, struct dw_cu *cu);

/* ---- dwarf-names.c: names ----------------------------------------------- */

/* The name of the subprogram-like DIE die of cu at reference off (see
 * dwarf-names.c), following at most MAX_NAME_HOPS - hops origins and
 * specifications. Returns 0 and *ret_name (interned in d->strings, or
 * NULL: none; d->name_lost when it was in the missing dwz file), or
 * -ENOMEM. */
int dw_die__name(struct sym_dwarf *d, const struct dw_cu *cu,
		 const struct dw_die *die, uint64_t off, int hops,
		 const char **ret_name);
/* ---- dwarf-cxx.c: C++ names built from DIEs ----------------------------- */

/* The qualified name of the subprogram at off as the demangler writes its
 * mangled name, with the return type a template function's begins with.
 * Returns 0 and *ret_name (interned; NULL when it is not mangled or
 * cannot be built), or -ENOMEM. */
int dw_cxx__name(struct sym_dwarf *d, uint64_t off, const char **ret_name);
/* The type m refers to, through typedefs (and cv qualifiers when cv),
 * read into *nd. Returns 1, 0 for void, or < 0. */
int dw_type__resolve(struct sym_dwarf *d, const struct dw_more *m, bool cv,
		     struct dw_ndie *nd);
