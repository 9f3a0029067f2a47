/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf.c — DWARF line tables and inlined subroutines of one binary (or of
 * its separate debug file), read by our own DWARF 2-5 decoder. Opening
 * reads the debug sections and lists the compile units and their address
 * ranges only; a CU's line table and scope tree (subprograms and inlined
 * subroutines, nested) are read on the first lookup that falls into it and
 * kept as sorted arrays:
 *
 *   lines   address -> (file, line), last row at an address wins (as BFD)
 *   ivals   disjoint address intervals -> innermost scope
 *   scopes  name, call site (file, line) and parent of each scope
 *
 * so a lookup is three binary searches and a walk up the parents. Sits
 * below elf.c's symbol table: the session asks here first for names, lines
 * and inline chains, and falls back to ELF symbols for names. Names are
 * linkage names (the session demangles them), or in C++, where GCC writes
 * none, built from the DIEs as the demangler would write them (see "C++
 * names built from DWARF").
 *
 * Why not libdwarf: reading a CU's scope tree through one libdwarf call
 * per attribute, with a malloc'd object per DIE, attribute and line row,
 * made a cold lookup slower than addr2line. Here a CU is one pass over its
 * bytes: DIEs whose tags cannot hold code are skipped by their abbrev's
 * fixed size (or their DW_AT_sibling), and only the attributes a scope
 * needs are decoded. Every read is bounds-checked against the unit or the
 * section; corrupt input ends the unit being read, never the process.
 */
#include "sym-internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "common.h"
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
	DW_AT_GNU_template_name = 0x2110,
	DW_AT_data_member_location = 0x38,
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

/* ---- sections and a bounds-checked reader --------------------------------- */

/* Sections of a file; a .dwo or .dwp has the first six as NAME.dwo and
 * an index of its units. */
enum {
	SEC_INFO, SEC_ABBREV, SEC_LINE, SEC_STR, SEC_STR_OFFSETS, SEC_RNGLISTS,
	SEC_LINE_STR, SEC_ADDR, SEC_RANGES, SEC_CU_INDEX, SEC_N,
};

static const char *const sec_names[SEC_N] = {
	"info", "abbrev", "line", "str", "str_offsets", "rnglists", "line_str",
	"addr", "ranges", "cu_index",
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

static uint64_t cur_u(struct dw_cur *c, unsigned n)
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

static uint64_t cur_uleb(struct dw_cur *c)
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

static int64_t cur_sleb(struct dw_cur *c)
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

static void cur_skip(struct dw_cur *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
	} else {
		c->p += n;
	}
}

/* An inline string: NULL (and bad) when it runs off the end. */
static const char *cur_str(struct dw_cur *c)
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
static struct dw_cur sect_cur(const struct dw_sect *s, uint64_t off, uint64_t len)
{
	if (!s->p || off > s->size || len > s->size - off)
		return (struct dw_cur){ .p = NULL, .end = NULL, .bad = true };
	return (struct dw_cur){ .p = s->p + off, .end = s->p + off + len };
}

/* ---- the object ------------------------------------------------------------ */

static const uint8_t *sect_read(const struct dw_sect *s, uint64_t off, uint64_t len,
				struct dw_win *w);

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

struct dw_name_slot {
	uint64_t off;       /* 0: empty (offset 0 is a unit header, never a DIE) */
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
 * needs its enclosing namespaces and classes; see pidx_get()). */
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
	struct dw_name_slot *names;  /* DIE offset -> name, open addressing */
	size_t names_cap, names_used;
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

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = reallocarray(*arr, ncap, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Gives back an array's unused tail (a failure keeps the larger array). */
static void shrink(void **arr, size_t n, size_t elem)
{
	void *p;

	if (!*arr || n == 0)
		return;
	p = reallocarray(*arr, n, elem);
	if (p)
		*arr = p;
}

/* ---- abbreviations ------------------------------------------------------------ */

/* Bytes a form takes in a unit of this shape, or -1 when it varies. */
static int form_size(uint16_t form, uint16_t version, uint8_t addr_size,
		     uint8_t off_size)
{
	switch (form) {
	case DW_FORM_addr:
		return addr_size;
	case DW_FORM_flag_present:
	case DW_FORM_implicit_const:
		return 0;
	case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag:
	case DW_FORM_strx1: case DW_FORM_addrx1:
		return 1;
	case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2:
	case DW_FORM_addrx2:
		return 2;
	case DW_FORM_strx3: case DW_FORM_addrx3:
		return 3;
	case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4:
	case DW_FORM_addrx4: case DW_FORM_ref_sup4:
		return 4;
	case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8:
	case DW_FORM_ref_sup8:
		return 8;
	case DW_FORM_data16:
		return 16;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset:
	case DW_FORM_strp_sup: case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
		return off_size;
	case DW_FORM_ref_addr:
		return version <= 2 ? addr_size : off_size;
	default:
		return -1;
	}
}

static int abbrev_cmp(const void *pa, const void *pb)
{
	const struct dw_abbrev *a = pa, *b = pb;

	return a->code < b->code ? -1 : a->code > b->code;
}

static bool abbrevs_hold(const struct dw_abbrevs *ab, const struct dw_cu *cu)
{
	return ab->valid && ab->sec == &cu->sec[SEC_ABBREV] && ab->off == cu->abbrev_off &&
	       ab->version == cu->version && ab->addr_size == cu->addr_size &&
	       ab->off_size == cu->off_size;
}

/* Parses the table of cu into ab unless it already holds it. Returns 0,
 * -ENOMEM, or -EINVAL when the table is corrupt. */
static int abbrevs_load(struct sym_dwarf *d, struct dw_abbrevs *ab,
			const struct dw_cu *cu)
{
	const struct dw_sect *s = &cu->sec[SEC_ABBREV];
	struct dw_cur c;

	if (abbrevs_hold(ab, cu))
		return 0;
	ab->valid = false;
	ab->n = ab->n_specs = 0;
	if (cu->abbrev_off >= s->size)
		return -EINVAL;
	c = sect_cur(s, cu->abbrev_off, s->size - cu->abbrev_off);
	for (;;) {
		struct dw_abbrev a = { .fixed = 0 };
		uint64_t code = cur_uleb(&c), tag;

		if (c.bad)
			return -EINVAL;
		if (code == 0)
			break;
		tag = cur_uleb(&c);
		a.code = code;
		a.tag = tag > UINT16_MAX ? 0 : (uint16_t)tag;
		a.children = cur_u(&c, 1) != 0;
		a.spec = (uint32_t)ab->n_specs;
		for (;;) {
			uint64_t at = cur_uleb(&c), form = cur_uleb(&c);
			struct dw_spec sp;
			int size;

			if (c.bad)
				return -EINVAL;
			if (at == 0 && form == 0)
				break;
			sp = (struct dw_spec){
				.at = at > UINT16_MAX ? 0 : (uint16_t)at,
				.form = form > UINT16_MAX ? 0 : (uint16_t)form,
			};
			if (form == DW_FORM_implicit_const)
				sp.implicit = cur_sleb(&c);
			if (grow((void **)&ab->specs, &ab->cap_specs, ab->n_specs + 1,
				 sizeof(*ab->specs)) < 0)
				return -ENOMEM;
			ab->specs[ab->n_specs++] = sp;
			a.n_spec++;
			if (sp.at == DW_AT_sibling)
				a.sibling = true;
			size = form_size(sp.form, cu->version, cu->addr_size, cu->off_size);
			a.fixed = size < 0 || a.fixed < 0 ? -1 : a.fixed + size;
		}
		if (grow((void **)&ab->v, &ab->cap, ab->n + 1, sizeof(*ab->v)) < 0)
			return -ENOMEM;
		ab->v[ab->n++] = a;
	}
	ab->dense = true;
	for (size_t i = 0; i < ab->n && ab->dense; i++)
		ab->dense = ab->v[i].code == i + 1;
	if (!ab->dense)
		qsort(ab->v, ab->n, sizeof(*ab->v), abbrev_cmp);
	ab->sec = &cu->sec[SEC_ABBREV];
	ab->off = cu->abbrev_off;
	ab->version = cu->version;
	ab->addr_size = cu->addr_size;
	ab->off_size = cu->off_size;
	ab->valid = true;
	return 0;
}

static const struct dw_abbrev *abbrev_find(const struct dw_abbrevs *ab, uint64_t code)
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

/* ---- attribute values ------------------------------------------------------------ */

enum { V_NONE, V_U, V_STR, V_STRX, V_ADDR, V_ADDRX, V_REF, V_IDX };

struct dw_val {
	uint64_t u;
	const char *s;
	uint8_t kind;
};

/* Reads one attribute value of form; unknown forms make c bad (their size
 * is unknown, so nothing after them can be read). */
static void form_read(const struct dw_cu *cu, struct dw_cur *c, uint16_t form,
		      int64_t implicit, struct dw_val *v)
{
	v->kind = V_U;
	switch (form) {
	case DW_FORM_addr:
		v->kind = V_ADDR;
		v->u = cur_u(c, cu->addr_size);
		return;
	case DW_FORM_data1: case DW_FORM_flag:
		v->u = cur_u(c, 1);
		return;
	case DW_FORM_data2:
		v->u = cur_u(c, 2);
		return;
	case DW_FORM_data4:
		v->u = cur_u(c, 4);
		return;
	case DW_FORM_data8:
		v->u = cur_u(c, 8);
		return;
	case DW_FORM_sdata:
		v->u = (uint64_t)cur_sleb(c);
		return;
	case DW_FORM_udata:
		v->u = cur_uleb(c);
		return;
	case DW_FORM_implicit_const:
		v->u = (uint64_t)implicit;
		return;
	case DW_FORM_flag_present:
		v->u = 1;
		return;
	case DW_FORM_sec_offset:
		v->u = cur_u(c, cu->off_size);
		return;
	case DW_FORM_string:
		v->kind = V_STR;
		v->s = cur_str(c);
		if (!v->s)
			v->kind = V_NONE;
		return;
	case DW_FORM_strp: case DW_FORM_line_strp:
	case DW_FORM_strp_sup: case DW_FORM_GNU_strp_alt:
		/* resolved by val_str(): the offset and which section */
		v->kind = V_STR;
		v->s = NULL;
		v->u = cur_u(c, cu->off_size) << 2 |
		       (form == DW_FORM_line_strp ? STR_LINE :
			form == DW_FORM_strp ? STR_MAIN : STR_ALT);
		return;
	case DW_FORM_strx: case DW_FORM_GNU_str_index:
		v->kind = V_STRX;
		v->u = cur_uleb(c);
		return;
	case DW_FORM_strx1: case DW_FORM_strx2: case DW_FORM_strx3: case DW_FORM_strx4:
		v->kind = V_STRX;
		v->u = cur_u(c, form - DW_FORM_strx1 + 1);
		return;
	case DW_FORM_addrx: case DW_FORM_GNU_addr_index:
		v->kind = V_ADDRX;
		v->u = cur_uleb(c);
		return;
	case DW_FORM_addrx1: case DW_FORM_addrx2: case DW_FORM_addrx3: case DW_FORM_addrx4:
		v->kind = V_ADDRX;
		v->u = cur_u(c, form - DW_FORM_addrx1 + 1);
		return;
	case DW_FORM_ref1: case DW_FORM_ref2: case DW_FORM_ref4: case DW_FORM_ref8:
		v->kind = V_REF;
		v->u = REF(cu->space, cu->off + cur_u(c, form == DW_FORM_ref1 ? 1 :
						      form == DW_FORM_ref2 ? 2 :
						      form == DW_FORM_ref4 ? 4 : 8));
		return;
	case DW_FORM_ref_udata:
		v->kind = V_REF;
		v->u = REF(cu->space, cu->off + cur_uleb(c));
		return;
	case DW_FORM_ref_addr:
		v->kind = V_REF;
		v->u = REF(cu->space, cur_u(c, cu->version <= 2 ? cu->addr_size : cu->off_size));
		return;
	/* into the supplementary file: dwz's GNU forms, DWARF 5's */
	case DW_FORM_GNU_ref_alt:
		v->kind = V_REF;
		v->u = REF(SPACE_ALT, cur_u(c, cu->off_size));
		return;
	case DW_FORM_ref_sup4: case DW_FORM_ref_sup8:
		v->kind = V_REF;
		v->u = REF(SPACE_ALT, cur_u(c, form == DW_FORM_ref_sup4 ? 4 : 8));
		return;
	case DW_FORM_rnglistx: case DW_FORM_loclistx:
		v->kind = V_IDX;
		v->u = cur_uleb(c);
		return;
	case DW_FORM_block1:
		cur_skip(c, cur_u(c, 1));
		break;
	case DW_FORM_block2:
		cur_skip(c, cur_u(c, 2));
		break;
	case DW_FORM_block4:
		cur_skip(c, cur_u(c, 4));
		break;
	case DW_FORM_block: case DW_FORM_exprloc:
		cur_skip(c, cur_uleb(c));
		break;
	case DW_FORM_data16:
		cur_skip(c, 16);
		break;
	case DW_FORM_ref_sig8:
		/* type units' contents are not read */
		cur_skip(c, 8);
		break;
	case DW_FORM_indirect: {
		uint64_t f = cur_uleb(c);

		if (f == DW_FORM_indirect || f > UINT16_MAX || f == DW_FORM_implicit_const)
			c->bad = true;
		else
			form_read(cu, c, (uint16_t)f, 0, v);
		return;
	}
	default:
		c->bad = true;
		c->unknown = true;
		break;
	}
	v->kind = V_NONE;
}

/* A string in .debug_str / .debug_line_str (in-memory string sections
 * end in a NUL, see sect_load()), or NULL. */
static const char *sect_str(const struct dw_sect *s, uint64_t off)
{
	return s->p && off < s->size ? (const char *)s->p + off : NULL;
}

/* An offset-size entry of a table at base + index * off_size, or false. */
static bool table_entry(const struct dw_sect *s, uint64_t base, uint64_t index,
			uint8_t size, uint64_t *ret)
{
	struct dw_cur c;

	if (index > UINT32_MAX)
		return false;
	c = sect_cur(s, base + index * size, size);
	*ret = cur_u(&c, size);
	return !c.bad;
}

static const char *val_str(const struct sym_dwarf *d, const struct dw_cu *cu,
			   const struct dw_val *v)
{
	uint64_t off;

	if (v->kind == V_STR) {
		if (v->s)
			return v->s;
		switch (v->u & 3) {
		case STR_MAIN: return sect_str(&cu->sec[SEC_STR], v->u >> 2);
		case STR_LINE: return sect_str(&cu->sec[SEC_LINE_STR], v->u >> 2);
		default: return sect_str(&d->alt.sec[SEC_STR], v->u >> 2);
		}
	}
	if (v->kind == V_STRX &&
	    table_entry(&cu->sec[SEC_STR_OFFSETS], cu->str_offsets_base, v->u, cu->off_size, &off))
		return sect_str(&cu->sec[SEC_STR], off);
	return NULL;
}

static bool val_addr(const struct dw_cu *cu, const struct dw_val *v, uint64_t *ret)
{
	if (v->kind == V_ADDR) {
		*ret = v->u;
		return true;
	}
	return v->kind == V_ADDRX &&
	       table_entry(&cu->sec[SEC_ADDR], cu->addr_base, v->u, cu->addr_size, ret);
}

/* ---- DIEs ------------------------------------------------------------------------ */

/* The attributes of a DIE this file uses; kind V_NONE when absent. */
struct dw_die {
	uint16_t tag;
	bool children;
	struct dw_val name, linkage, low, high, ranges, origin, spec, call_file,
		call_line, sibling, stmt_list, comp_dir, str_offsets_base, addr_base,
		rnglists_base, dwo_name, dwo_id, ranges_base;
};

/* What only names built from DWARF read of a DIE (types, flags, values;
 * see cxx_name()); zeroed, every value V_NONE, when absent. */
struct dw_more {
	struct dw_val type, const_value, upper_bound, count, containing, template_name;
	uint64_t encoding, byte_size, language;
	uint64_t member_location;  /* a structure member's offset (constant forms) */
	bool has_type, external, declaration, artificial, reference, rvalue_reference;
	bool has_byte_size, has_member_location;
};

static void more_attr(struct dw_more *m, uint16_t at, const struct dw_val *v)
{
	bool flag = v->kind == V_U && v->u != 0;

	switch (at) {
	case DW_AT_type: m->type = *v; m->has_type = true; break;
	case DW_AT_const_value: m->const_value = *v; break;
	case DW_AT_upper_bound: m->upper_bound = *v; break;
	case DW_AT_count: m->count = *v; break;
	case DW_AT_containing_type: m->containing = *v; break;
	case DW_AT_GNU_template_name: m->template_name = *v; break;
	case DW_AT_encoding: m->encoding = v->kind == V_U ? v->u : 0; break;
	case DW_AT_byte_size:
		m->byte_size = v->kind == V_U ? v->u : 0;
		m->has_byte_size = v->kind == V_U;
		break;
	case DW_AT_data_member_location:
		/* DWARF 4 and 5 give a constant; older location expressions
		 * are not read (the member then has no offset) */
		m->member_location = v->kind == V_U ? v->u : 0;
		m->has_member_location = v->kind == V_U;
		break;
	case DW_AT_language: m->language = v->kind == V_U ? v->u : 0; break;
	case DW_AT_external: m->external = flag; break;
	case DW_AT_declaration: m->declaration = flag; break;
	case DW_AT_artificial: m->artificial = flag; break;
	case DW_AT_reference: m->reference = flag; break;
	case DW_AT_rvalue_reference: m->rvalue_reference = flag; break;
	default: break;
	}
}

/* Reads the attributes of a DIE with abbrev a, the ones struct dw_more
 * holds into more when it is not NULL. Returns 1, or -EINVAL when
 * corrupt. */
static int die_attrs_more(const struct dw_cu *cu, const struct dw_abbrevs *ab,
			  const struct dw_abbrev *a, struct dw_cur *c, struct dw_die *die,
			  struct dw_more *more)
{
	die->tag = a->tag;
	die->children = a->children;
	die->name.kind = die->linkage.kind = die->low.kind = die->high.kind =
		die->ranges.kind = die->origin.kind = die->spec.kind =
		die->call_file.kind = die->call_line.kind = die->sibling.kind =
		die->stmt_list.kind = die->comp_dir.kind = die->str_offsets_base.kind =
		die->addr_base.kind = die->rnglists_base.kind = die->dwo_name.kind =
		die->dwo_id.kind = die->ranges_base.kind = V_NONE;
	for (uint32_t i = 0; i < a->n_spec && !c->bad; i++) {
		const struct dw_spec *sp = &ab->specs[a->spec + i];
		struct dw_val v, *dst;

		form_read(cu, c, sp->form, sp->implicit, &v);
		switch (sp->at) {
		case DW_AT_name: dst = &die->name; break;
		case DW_AT_linkage_name: dst = &die->linkage; break;
		case DW_AT_MIPS_linkage_name:
			/* DW_AT_linkage_name wins, whichever comes first */
			if (die->linkage.kind != V_NONE)
				continue;
			dst = &die->linkage;
			break;
		case DW_AT_low_pc: dst = &die->low; break;
		case DW_AT_high_pc: dst = &die->high; break;
		case DW_AT_ranges: dst = &die->ranges; break;
		case DW_AT_abstract_origin: dst = &die->origin; break;
		case DW_AT_specification: dst = &die->spec; break;
		case DW_AT_call_file: dst = &die->call_file; break;
		case DW_AT_call_line: dst = &die->call_line; break;
		case DW_AT_sibling: dst = &die->sibling; break;
		case DW_AT_stmt_list: dst = &die->stmt_list; break;
		case DW_AT_comp_dir: dst = &die->comp_dir; break;
		case DW_AT_str_offsets_base: dst = &die->str_offsets_base; break;
		case DW_AT_addr_base: case DW_AT_GNU_addr_base: dst = &die->addr_base; break;
		case DW_AT_rnglists_base: dst = &die->rnglists_base; break;
		case DW_AT_dwo_name: case DW_AT_GNU_dwo_name: dst = &die->dwo_name; break;
		case DW_AT_GNU_dwo_id: dst = &die->dwo_id; break;
		case DW_AT_GNU_ranges_base: dst = &die->ranges_base; break;
		default:
			if (more)
				more_attr(more, sp->at, &v);
			continue;
		}
		*dst = v;
	}
	return c->bad ? -EINVAL : 1;
}

static int die_attrs(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		     const struct dw_abbrev *a, struct dw_cur *c, struct dw_die *die)
{
	return die_attrs_more(cu, ab, a, c, die, NULL);
}

/* Reads the DIE at c (its abbrev code and attributes). Returns 1 for a
 * DIE, 0 for a null entry (end of siblings), -EINVAL when corrupt. */
static int die_read(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		    struct dw_cur *c, struct dw_die *die)
{
	uint64_t code = cur_uleb(c);
	const struct dw_abbrev *a;

	if (c->bad)
		return -EINVAL;
	if (code == 0)
		return 0;
	a = abbrev_find(ab, code);
	if (!a)
		return -EINVAL;
	return die_attrs(cu, ab, a, c, die);
}

/* Skips the attributes of a DIE with abbrev a. */
static void attrs_skip(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		       const struct dw_abbrev *a, struct dw_cur *c)
{
	struct dw_val v;

	if (a->fixed >= 0) {
		cur_skip(c, (uint64_t)a->fixed);
		return;
	}
	for (uint32_t i = 0; i < a->n_spec && !c->bad; i++)
		form_read(cu, c, ab->specs[a->spec + i].form, 0, &v);
}

/* Moves c past the children of the DIE just read (whose sibling, if any,
 * is given): one jump when the sibling is sane, else DIE by DIE. */
static void children_skip(const struct dw_cu *cu, const struct dw_abbrevs *ab,
			  const struct dw_val *sibling, const uint8_t *base,
			  struct dw_cur *c)
{
	size_t level = 1;

	/* base: the unit's bytes, at .debug_info offset cu->off */
	if (sibling->kind == V_REF && REF_SPACE(sibling->u) == cu->space &&
	    REF_OFF(sibling->u) >= cu->off && REF_OFF(sibling->u) < cu->end &&
	    base + (REF_OFF(sibling->u) - cu->off) > c->p) {
		c->p = base + (REF_OFF(sibling->u) - cu->off);
		return;
	}
	while (level && !c->bad) {
		uint64_t code = cur_uleb(c);
		const struct dw_abbrev *a;

		if (code == 0) {
			level--;
			continue;
		}
		a = abbrev_find(ab, code);
		if (!a) {
			c->bad = true;
			break;
		}
		attrs_skip(cu, ab, a, c);
		if (a->children)
			level++;
	}
}

/* The unit of file f holding its .debug_info offset off, or NULL. */
static const struct dw_cu *file_cu_at(const struct dw_file *f, uint64_t off)
{
	size_t lo = 0, hi = f->n_cus;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (off < f->cus[mid].off)
			hi = mid;
		else if (off >= f->cus[mid].end)
			lo = mid + 1;
		else
			return &f->cus[mid];
	}
	return NULL;
}

/* The unit a reference points into, or NULL (a split unit's only while it
 * is read; the supplementary file's only when we have it). */
static const struct dw_cu *cu_at(const struct sym_dwarf *d, uint64_t ref)
{
	uint32_t space = REF_SPACE(ref);
	uint64_t off = REF_OFF(ref);

	if (space == SPACE_MAIN)
		return file_cu_at(&d->main, off);
	if (space == SPACE_ALT)
		return file_cu_at(&d->alt, off);
	if (d->split.sec && d->split.space == space && off >= d->split.off && off < d->split.end)
		return &d->split;
	return NULL;
}

/* ---- address ranges of a DIE ------------------------------------------- */

typedef int (*range_fn)(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg);

static int ranges_v5(struct sym_dwarf *d, const struct dw_cu *cu,
		     const struct dw_val *v, range_fn fn, void *arg)
{
	const struct dw_sect *s = &cu->sec[SEC_RNGLISTS];
	uint64_t off = v->u, base = cu->base;
	struct dw_cur c;
	int r = 0;

	if (v->kind == V_IDX) {
		if (!table_entry(s, cu->rnglists_base, v->u, cu->off_size, &off))
			return 0;
		off += cu->rnglists_base;
	} else if (v->kind != V_U) {
		return 0;
	}
	if (off >= s->size)
		return 0;
	c = sect_cur(s, off, s->size - off);
	while (r == 0 && !c.bad) {
		uint8_t code = (uint8_t)cur_u(&c, 1);
		struct dw_val x = { .kind = V_ADDRX };
		uint64_t lo = 0, hi = 0;

		switch (code) {
		case DW_RLE_end_of_list:
			return 0;
		case DW_RLE_base_addressx:
			x.u = cur_uleb(&c);
			if (!val_addr(cu, &x, &base))
				return 0;
			continue;
		case DW_RLE_startx_endx:
			x.u = cur_uleb(&c);
			if (!val_addr(cu, &x, &lo))
				return 0;
			x.u = cur_uleb(&c);
			if (!val_addr(cu, &x, &hi))
				return 0;
			break;
		case DW_RLE_startx_length:
			x.u = cur_uleb(&c);
			if (!val_addr(cu, &x, &lo))
				return 0;
			hi = lo + cur_uleb(&c);
			break;
		case DW_RLE_offset_pair:
			lo = base + cur_uleb(&c);
			hi = base + cur_uleb(&c);
			break;
		case DW_RLE_base_address:
			base = cur_u(&c, cu->addr_size);
			continue;
		case DW_RLE_start_end:
			lo = cur_u(&c, cu->addr_size);
			hi = cur_u(&c, cu->addr_size);
			break;
		case DW_RLE_start_length:
			lo = cur_u(&c, cu->addr_size);
			hi = lo + cur_uleb(&c);
			break;
		default:
			return 0;
		}
		if (!c.bad && lo < hi && lo != 0)
			r = fn(d, lo, hi, arg);
	}
	return r;
}

static int ranges_v4(struct sym_dwarf *d, const struct dw_cu *cu,
		     const struct dw_val *v, range_fn fn, void *arg)
{
	const struct dw_sect *s = &cu->sec[SEC_RANGES];
	uint64_t base = cu->base, all = cu->addr_size == 8 ? UINT64_MAX : UINT32_MAX;
	uint64_t off = v->u + cu->ranges_base;
	struct dw_cur c;
	int r = 0;

	if (v->kind != V_U || off < v->u || off >= s->size ||
	    (cu->addr_size != 4 && cu->addr_size != 8))
		return 0;
	c = sect_cur(s, off, s->size - off);
	while (r == 0) {
		uint64_t a = cur_u(&c, cu->addr_size), b = cur_u(&c, cu->addr_size);

		if (c.bad || (a == 0 && b == 0))
			break;
		if (a == all) {
			base = b;
			continue;
		}
		if (a < b && base + a != 0)
			r = fn(d, base + a, base + b, arg);
	}
	return r;
}

/*
 * Calls fn for each address range of die (low_pc/high_pc or DW_AT_ranges).
 * Returns 1 when the DIE has ranges, 0 when none, or fn's -errno.
 */
static int die_ranges(struct sym_dwarf *d, const struct dw_cu *cu,
		      const struct dw_die *die, range_fn fn, void *arg)
{
	uint64_t lo, hi;
	int r;

	if (val_addr(cu, &die->low, &lo) && die->high.kind != V_NONE) {
		if (die->high.kind == V_U)
			hi = lo + die->high.u;
		else if (!val_addr(cu, &die->high, &hi))
			return 0;
		if (lo >= hi || lo == 0)
			return 0;
		r = fn(d, lo, hi, arg);
		return r < 0 ? r : 1;
	}
	if (die->ranges.kind == V_NONE)
		return 0;
	if (die->ranges.kind == V_IDX || cu->version >= 5)
		r = ranges_v5(d, cu, &die->ranges, fn, arg);
	else
		r = ranges_v4(d, cu, &die->ranges, fn, arg);
	return r < 0 ? r : 1;
}

/* ---- names --------------------------------------------------------------- */

static uint64_t off_hash(uint64_t off)
{
	return off * 0x9e3779b97f4a7c15ULL;
}

static struct dw_name_slot *name_slot(struct sym_dwarf *d, uint64_t off)
{
	size_t mask = d->names_cap - 1;

	for (size_t i = (size_t)(off_hash(off) >> 20) & mask;; i = (i + 1) & mask)
		if (d->names[i].off == off || d->names[i].off == 0)
			return &d->names[i];
}

static int name_put(struct sym_dwarf *d, uint64_t off, const char *name)
{
	struct dw_name_slot *slot;

	if (2 * (d->names_used + 1) > d->names_cap) {
		size_t ncap = d->names_cap ? d->names_cap * 2 : 1024;
		struct dw_name_slot *old = d->names;
		size_t old_cap = d->names_cap;

		d->names = calloc(ncap, sizeof(*d->names));
		if (!d->names) {
			d->names = old;
			return -ENOMEM;
		}
		d->names_cap = ncap;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].off)
				*name_slot(d, old[i].off) = old[i];
		free(old);
		d->bytes += (ncap - old_cap) * sizeof(*d->names);
	}
	slot = name_slot(d, off);
	if (!slot->off)
		d->names_used++;
	slot->off = off;
	slot->name = name;
	return 0;
}

/* The bytes and abbreviations of unit cu: the unit being read keeps its
 * own, another unit shares a second window and table (reading one there
 * invalidates what was read of the unit before). Returns 0, -ENOMEM, or
 * -EINVAL when the unit cannot be read. */
static int unit_view(struct sym_dwarf *d, const struct dw_cu *cu,
		     struct dw_abbrevs **ret_ab, const uint8_t **ret_base)
{
	struct dw_abbrevs *ab;
	const uint8_t *base;
	int r;

	ab = abbrevs_hold(&d->ab_cur, cu) ? &d->ab_cur : &d->ab_other;
	r = abbrevs_load(d, ab, cu);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (cu == d->loading) {
		base = d->unit_base;
	} else {
		/* (A section in memory is not read into the window: the
		 * unit's bytes are where sect_read() said.) */
		if (d->other != cu) {
			d->other_base = sect_read(&cu->sec[SEC_INFO], cu->off, cu->end - cu->off,
						  &d->win_other);
			d->other = d->other_base ? cu : NULL;
		}
		base = d->other_base;
	}
	if (!base)
		return -EINVAL;
	*ret_ab = ab;
	*ret_base = base;
	return 0;
}

/* The unit's DW_AT_language, read from its unit DIE once (0: none). */
static uint16_t cu_lang(struct sym_dwarf *d, const struct dw_cu *ccu)
{
	/* units live in writable arrays; only this cache is written */
	struct dw_cu *cu = (struct dw_cu *)ccu;
	struct dw_abbrevs *ab;
	const uint8_t *base;
	const struct dw_abbrev *a;
	struct dw_more more = { .language = 0 };
	struct dw_die die;
	struct dw_cur c;

	if (cu->lang_read)
		return cu->lang;
	if (unit_view(d, cu, &ab, &base) < 0)
		return 0;  /* tried again next time: ENOMEM passes */
	cu->lang_read = true;
	c = (struct dw_cur){ .p = base + (cu->die_off - cu->off),
			     .end = base + (cu->end - cu->off) };
	a = abbrev_find(ab, cur_uleb(&c));
	if (a && !c.bad && die_attrs_more(cu, ab, a, &c, &die, &more) > 0 &&
	    more.language <= UINT16_MAX)
		cu->lang = (uint16_t)more.language;
	return cu->lang;
}

/* The language names are built for: the compile unit being read (a dwz
 * partial unit holding a DIE it refers to need not say). */
static uint16_t name_lang(struct sym_dwarf *d, const struct dw_cu *cu)
{
	return cu_lang(d, d->loading ? d->loading : cu);
}

static bool lang_is_cxx(uint16_t lang)
{
	switch (lang) {
	case DW_LANG_C_plus_plus: case DW_LANG_ObjC_plus_plus:
	case DW_LANG_C_plus_plus_03: case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14: case DW_LANG_C_plus_plus_17:
	case DW_LANG_C_plus_plus_20:
		return true;
	default:
		return false;
	}
}

static bool mangled(const char *s)
{
	return s[0] == '_' && (s[1] == 'Z' || s[1] == 'R');
}

static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name);
static int cxx_name(struct sym_dwarf *d, uint64_t off, const char **ret_name);
struct nbuf;
static int cxx_build(struct sym_dwarf *d, uint64_t off, bool ret, struct nbuf *out,
		     int depth);

/* The name cache's marks for a DIE whose name is in a supplementary file
 * we do not have, and for one whose name chain ends without a name. */
static const char lost_name[] = "";
static const char unresolved_name[] = "";

static bool str_in_alt(const struct dw_val *v)
{
	return v->kind == V_STR && !v->s && (v->u & 3) == STR_ALT;
}

/*
 * The name of a subprogram-like DIE at off: its mangled linkage name (so
 * C++ and Rust names come out fully qualified once demangled), else, in
 * C++, the qualified name built from the DIEs around it as the demangler
 * would write it (GCC leaves the linkage name out of internal-linkage
 * functions, templates and lambdas), else its name, else the name of its
 * abstract origin or specification. Returns 0 and *ret_name (interned, or
 * NULL when there is none), or -ENOMEM.
 */
static int die_name(struct sym_dwarf *d, const struct dw_cu *cu,
		    const struct dw_die *die, uint64_t off, int hops,
		    const char **ret_name)
{
	const char *s = val_str(d, cu, &die->linkage);
	int r;

	/* A plain linkage name is a C asm label (glibc's __GI_qsort for
	 * qsort), which says less than the name, or in Rust the exported
	 * symbol (rust_begin_unwind for begin_panic_handler), which is what
	 * nm and perf show. */
	if (s && !mangled(s) && name_lang(d, cu) != DW_LANG_Rust)
		s = NULL;
	if (s) {
		*ret_name = sym_strings__intern(&d->strings, s, strlen(s));
		return *ret_name ? 0 : -ENOMEM;
	}
	s = val_str(d, cu, &die->name);
	if (s) {
		/* interned first: building may read another unit into the
		 * window s points into */
		const char *plain = sym_strings__intern(&d->strings, s, strlen(s));

		if (!plain)
			return -ENOMEM;
		if (lang_is_cxx(name_lang(d, cu))) {
			r = cxx_name(d, off, ret_name);
			if (r < 0 || *ret_name)
				return r;
		}
		*ret_name = plain;
		return 0;
	}
	/* dwz moves names to its file's .debug_str too */
	if (d->alt_issue && (str_in_alt(&die->linkage) || str_in_alt(&die->name)))
		d->name_lost = true;
	if (hops < MAX_NAME_HOPS) {
		if (die->origin.kind == V_REF && die->origin.u)
			return die_name_at(d, die->origin.u, hops + 1, ret_name);
		if (die->spec.kind == V_REF && die->spec.u)
			return die_name_at(d, die->spec.u, hops + 1, ret_name);
	}
	/* nothing more to follow, or a chain past MAX_NAME_HOPS (a cycle
	 * comes here too: the hops bound it) */
	d->name_unresolved |= !d->name_lost;
	*ret_name = NULL;
	return 0;
}

/*
 * die_name() of the DIE at a global offset (in any unit of the binary's
 * DWARF or of its supplementary file: DW_FORM_ref_addr, GNU_ref_alt,
 * ref_sup), cached by offset, so a DIE named once is never read again;
 * the unit holding it is found by a binary search of the unit list. A
 * reference to no DIE leaves the name unresolved.
 */
static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name)
{
	const struct dw_cu *cu;
	const uint8_t *base;
	struct dw_abbrevs *ab;
	struct dw_die die;
	struct dw_cur c;
	bool lost, unresolved;
	int r;

	if (d->names_cap) {
		struct dw_name_slot *slot = name_slot(d, off);

		if (slot->off == off) {
			*ret_name = slot->name == lost_name || slot->name == unresolved_name
					    ? NULL : slot->name;
			d->name_lost |= slot->name == lost_name;
			d->name_unresolved |= slot->name == unresolved_name;
			return 0;
		}
	}
	*ret_name = NULL;
	cu = cu_at(d, off);
	if (!cu && REF_SPACE(off) == SPACE_ALT && d->alt_issue) {
		/* the name is in the dwz file we could not have */
		d->name_lost = true;
		return 0;
	}
	/* (a split unit's reference into another unit of its .dwo or .dwp
	 * finds none: only the unit being read is open) */
	d->name_unresolved = true;
	if (!cu || REF_OFF(off) < cu->die_off)
		return 0;
	r = unit_view(d, cu, &ab, &base);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	c = (struct dw_cur){ .p = base + (REF_OFF(off) - cu->off),
			     .end = base + (cu->end - cu->off) };
	if (die_read(cu, ab, &c, &die) <= 0)
		return name_put(d, off, unresolved_name);
	lost = d->name_lost;
	d->name_lost = d->name_unresolved = false;
	r = die_name(d, cu, &die, off, hops, ret_name);
	if (r < 0)
		return r;
	/* no name: in the missing dwz file, or the chain ended nowhere */
	unresolved = !*ret_name && !d->name_lost;
	r = name_put(d, off, *ret_name ? *ret_name : d->name_lost ? lost_name : unresolved_name);
	d->name_lost |= lost;
	d->name_unresolved = unresolved;
	return r;
}

/* ---- C++ names built from DWARF --------------------------------------------- */

/*
 * Where GCC leaves DW_AT_linkage_name out (functions with internal
 * linkage: in anonymous namespaces, static, templates instantiated with a
 * local type such as a lambda, lambdas' operator()), the name is built
 * from the DIEs as libiberty's demangler (nm -C, addr2line -C, perf)
 * would print the linkage name: enclosing namespaces ("(anonymous
 * namespace)") and classes from the unit's parent index, template
 * arguments from the template parameter DIEs (types printed the
 * demangler's way: "long", "char const*", "int (*)(int)",
 * "std::vector<int, std::allocator<int> >", "main::{lambda(int)#1}"), the
 * parameter list, "const" methods, and the return type of template
 * functions. Types are named once per DIE (the names table caches them
 * beside the functions). What DWARF does not say cannot be matched: a
 * return or parameter type the mangled name writes as a dependent type
 * (std::enable_if<...>::type) comes out resolved, and a lambda's number
 * is its place among the lambdas of its function, as GCC numbers them.
 * Anything the builder does not know (an unknown tag, a type unit, a
 * reference it cannot follow) gives up: the DIE's own name is used.
 */

/* Bounds on a built name: nesting of types and prefixes, and length. */
#define MAX_BUILD_DEPTH 64
#define MAX_BUILT_NAME (64u << 10)

/* A DIE as the name builder reads it. */
struct dw_ndie {
	uint64_t off;        /* global .debug_info offset */
	uint64_t child;      /* its first child, 0 without children */
	uint64_t next;       /* its next sibling (see ndie_next()) */
	bool next_unknown;   /* children but no DW_AT_sibling */
	uint16_t tag;        /* 0: a null entry (the end of a list of children) */
	const char *name, *linkage, *template_name;
	uint64_t origin, spec;  /* DIE offsets, 0 for none */
	struct dw_more m;
};

/* A string of a DIE read from a unit other than the one being loaded may
 * sit in a window the next read replaces: interned then. */
static const char *ndie_str(struct sym_dwarf *d, const struct dw_cu *cu,
			    const struct dw_val *v, int *err)
{
	const char *s = val_str(d, cu, v);

	if (s && cu != d->loading && v->kind == V_STR && v->s) {
		s = sym_strings__intern(&d->strings, s, strlen(s));
		if (!s)
			*err = -ENOMEM;
	}
	return s;
}

/* Reads the DIE at global offset off. Returns 1, 0 for a null entry,
 * -ENOMEM, or -EINVAL (unreadable, corrupt). */
static int ndie_at(struct sym_dwarf *d, uint64_t off, struct dw_ndie *nd)
{
	const struct dw_cu *cu = cu_at(d, off);
	const struct dw_abbrev *a;
	struct dw_abbrevs *ab;
	const uint8_t *base;
	struct dw_die die;
	struct dw_cur c;
	uint64_t code;
	int r, err = 0;

	if (!cu || REF_OFF(off) < cu->die_off)
		return -EINVAL;
	r = unit_view(d, cu, &ab, &base);
	if (r < 0)
		return r;
	memset(nd, 0, sizeof(*nd));
	nd->off = off;
	c = (struct dw_cur){ .p = base + (REF_OFF(off) - cu->off),
			     .end = base + (cu->end - cu->off) };
	code = cur_uleb(&c);
	if (c.bad)
		return -EINVAL;
	if (code == 0)
		return 0;
	a = abbrev_find(ab, code);
	if (!a || die_attrs_more(cu, ab, a, &c, &die, &nd->m) < 0)
		return -EINVAL;
	nd->tag = die.tag;
	nd->name = ndie_str(d, cu, &die.name, &err);
	nd->linkage = ndie_str(d, cu, &die.linkage, &err);
	nd->template_name = ndie_str(d, cu, &nd->m.template_name, &err);
	nd->origin = die.origin.kind == V_REF ? die.origin.u : 0;
	nd->spec = die.spec.kind == V_REF ? die.spec.u : 0;
	if (err)
		return err;
	nd->next = REF(cu->space, cu->off + (uint64_t)(c.p - base));
	if (die.children) {
		const struct dw_val *sib = &die.sibling;

		nd->child = nd->next;
		/* where the children end is known from DW_AT_sibling, else
		 * from the parent index when it is needed (ndie_next()) */
		nd->next = sib->kind == V_REF && REF_SPACE(sib->u) == cu->space &&
			   REF_OFF(sib->u) > REF_OFF(nd->child) && REF_OFF(sib->u) < cu->end ?
			   sib->u : 0;
		nd->next_unknown = !nd->next;
	}
	return 1;
}

/* Reads the DIE a reference attribute names (V_REF), as ndie_at(). */
static int ndie_ref(struct sym_dwarf *d, const struct dw_val *v, struct dw_ndie *nd)
{
	return v->kind == V_REF ? ndie_at(d, v->u, nd) : -EINVAL;
}

static void pidx_free(struct sym_dwarf *d)
{
	for (size_t i = 0; i < 2; i++) {
		free(d->pidx[i].v);
		d->pidx[i] = (struct dw_pidx){ 0 };
	}
}

/* Every DIE with children of cu, in DIE order, with its extent (offsets in
 * its file) and the entry that encloses it: one pass over the unit,
 * attributes skipped. */
static int pidx_build(struct sym_dwarf *d, const struct dw_cu *cu, struct dw_pidx *px)
{
	int32_t stack[MAX_DIE_DEPTH + 1];
	struct dw_abbrevs *ab;
	const uint8_t *base;
	struct dw_cur c;
	int top = -1, r;

	px->cu = cu;
	px->n = 0;
	px->failed = true;
	r = unit_view(d, cu, &ab, &base);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	c = (struct dw_cur){ .p = base + (cu->die_off - cu->off),
			     .end = base + (cu->end - cu->off) };
	while (!c.bad && c.p < c.end) {
		uint64_t off = cu->off + (uint64_t)(c.p - base);
		uint64_t code = cur_uleb(&c);
		const struct dw_abbrev *a;

		if (code == 0) {
			if (top < 0)
				break;
			px->v[stack[top--]].end = cu->off + (uint64_t)(c.p - base);
			if (top < 0)
				break;
			continue;
		}
		a = abbrev_find(ab, code);
		if (!a)
			return 0;
		attrs_skip(cu, ab, a, &c);
		if (!a->children) {
			if (top < 0)
				break;  /* a unit DIE without children */
			continue;
		}
		if (top >= MAX_DIE_DEPTH || px->n >= INT32_MAX)
			return 0;
		if (grow((void **)&px->v, &px->cap, px->n + 1, sizeof(*px->v)) < 0)
			return -ENOMEM;
		px->v[px->n] = (struct dw_pentry){
			.start = off, .end = cu->end, .up = top >= 0 ? stack[top] : -1,
		};
		stack[++top] = (int32_t)px->n++;
	}
	px->failed = c.bad;
	return 0;
}

/* The parent index of the unit holding off (the unit being loaded keeps
 * slot 0), or NULL when it cannot be built; *err gets -ENOMEM. */
static const struct dw_pidx *pidx_get(struct sym_dwarf *d, const struct dw_cu *cu, int *err)
{
	struct dw_pidx *px = &d->pidx[cu == d->loading ? 0 : 1];
	int r;

	if (px->cu != cu) {
		r = pidx_build(d, cu, px);
		if (r < 0) {
			px->cu = NULL;
			*err = r;
			return NULL;
		}
	}
	return px->failed ? NULL : px;
}

/* The offset of the DIE whose child the DIE at off is. Returns 1, 0 when
 * it has none (a unit DIE), -ENOMEM or -EINVAL. */
static int die_parent(struct sym_dwarf *d, uint64_t off, uint64_t *ret_parent)
{
	const struct dw_cu *cu = cu_at(d, off);
	const struct dw_pidx *px;
	uint64_t at = REF_OFF(off);
	int64_t k;
	int err = 0;

	if (!cu || at == 0)
		return -EINVAL;
	px = pidx_get(d, cu, &err);
	if (!px)
		return err ? err : -EINVAL;
	/* the last DIE with children before off, then up to one around it */
	k = (int64_t)sym_sorted__count_le(px->v, px->n, sizeof(*px->v), at - 1) - 1;
	for (; k >= 0 && px->v[k].end <= at; k = px->v[k].up)
		;
	if (k < 0)
		return 0;
	*ret_parent = REF(cu->space, px->v[k].start);
	return 1;
}

/* The offset of the sibling after nd, 0 when it cannot be known. */
static uint64_t ndie_next(struct sym_dwarf *d, const struct dw_ndie *nd)
{
	const struct dw_cu *cu;
	const struct dw_pidx *px;
	size_t i;
	int err = 0;

	if (!nd->next_unknown)
		return nd->next;
	cu = cu_at(d, nd->off);
	px = cu ? pidx_get(d, cu, &err) : NULL;
	if (!px)
		return 0;
	i = sym_sorted__count_le(px->v, px->n, sizeof(*px->v), REF_OFF(nd->off));
	return i > 0 && px->v[i - 1].start == REF_OFF(nd->off) ?
	       REF(cu->space, px->v[i - 1].end) : 0;
}

/* A growing name; err is sticky: -ENOMEM, or -EINVAL when the builder
 * gives up (too long, a DIE it cannot read or name). */
struct nbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void nb_add(struct nbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > MAX_BUILT_NAME) {
		b->err = -EINVAL;
		return;
	}
	if (grow((void **)&b->p, &b->cap, b->len + n + 1, 1) < 0) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void nb_str(struct nbuf *b, const char *s)
{
	nb_add(b, s, strlen(s));
}

static char nb_last(const struct nbuf *b)
{
	return b->len ? b->p[b->len - 1] : '\0';
}

/* Appends other (and frees it), passing its error on. */
static void nb_take(struct nbuf *b, struct nbuf *other)
{
	if (other->err && !b->err)
		b->err = other->err;
	if (other->len)
		nb_add(b, other->p, other->len);
	free(other->p);
	*other = (struct nbuf){ 0 };
}

static void nb_fail(struct nbuf *b, int r)
{
	if (!b->err)
		b->err = r == -ENOMEM ? r : -EINVAL;
}

/* Appends the name of the type or scope DIE at off when it was built
 * before (the names table holds them beside the functions' names, by DIE
 * offset; NULL: it could not be built). Returns whether it was. */
static bool cache_put(struct sym_dwarf *d, uint64_t off, struct nbuf *b)
{
	struct dw_name_slot *slot;

	if (!d->names_cap)
		return false;
	slot = name_slot(d, off);
	if (slot->off != off)
		return false;
	if (slot->name)
		nb_str(b, slot->name);
	else
		nb_fail(b, -EINVAL);
	return true;
}

/* Keeps what q built for the DIE at off (or that it failed) and appends
 * it to b; frees q. */
static void cache_take(struct sym_dwarf *d, uint64_t off, struct nbuf *q, struct nbuf *b)
{
	const char *name;
	int r;

	if (q->err == -ENOMEM) {
		nb_take(b, q);
		return;
	}
	name = q->err ? NULL : sym_strings__intern(&d->strings, q->p, q->len);
	r = !q->err && !name ? -ENOMEM : name_put(d, off, name);
	free(q->p);
	*q = (struct nbuf){ 0 };
	if (r < 0 || !name)
		nb_fail(b, r < 0 ? r : -EINVAL);
	else
		nb_str(b, name);
}

/* Base type names as the demangler writes them. */
static const char *base_name(const char *name)
{
	static const char *const map[][2] = {
		{ "long int", "long" }, { "long unsigned int", "unsigned long" },
		{ "short int", "short" }, { "short unsigned int", "unsigned short" },
		{ "long long int", "long long" },
		{ "long long unsigned int", "unsigned long long" },
		{ "__int128 unsigned", "unsigned __int128" }, { "_Bool", "bool" },
		{ "complex float", "float _Complex" },
		{ "complex double", "double _Complex" },
		{ "complex long double", "long double _Complex" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i][0]))
			return map[i][1];
	return name;
}

/* The length of name without the template arguments GCC appends to it
 * ("sort<...>", "operator()<...>", "operator<< <...>"). */
static size_t name_base_len(const char *name)
{
	const char *p = name;

	if (!strncmp(p, "operator", 8) && strchr("<>=!+-*/%^&|~,()[]", p[8])) {
		p += 8;
		if (!strncmp(p, "()", 2) || !strncmp(p, "[]", 2))
			p += 2;
		else
			while (*p && strchr("<>=!+-*/%^&|~,", *p))
				p++;
		while (*p == ' ')
			p++;
		if (*p != '<')
			return strlen(name);
		while (p > name && p[-1] == ' ')
			p--;
		return (size_t)(p - name);
	}
	p = strchr(name, '<');
	return p ? (size_t)(p - name) : strlen(name);
}

/* Where the closing bracket of the list opened at s[0] is, or NULL. */
static const char *list_end(const char *s)
{
	int depth = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '<' || *p == '(' || *p == '[')
			depth++;
		else if ((*p == '>' || *p == ')' || *p == ']') && --depth == 0)
			return p;
	}
	return NULL;
}

static void gcc_args(const char *s, size_t n, struct nbuf *b, int depth);

/* How many arguments the list between lt and gt (its brackets) has. */
static int count_args(const char *lt, const char *gt)
{
	int level = 0, n = gt > lt + 1;

	for (const char *p = lt + 1; p < gt; p++) {
		if (*p == '<' || *p == '(' || *p == '[')
			level++;
		else if (*p == '>' || *p == ')' || *p == ']')
			level--;
		else if (*p == ',' && level == 0)
			n++;
	}
	return n;
}

/*
 * One template argument as GCC spells it in DW_AT_name ("const
 * std::pair<const int, long int>*", "7"), the demangler's way ("std::pair<
 * int const, long> const*"). What it cannot rewrite surely (lambdas,
 * function types) gives up.
 */
static void gcc_arg(const char *s, size_t n, struct nbuf *b, int depth)
{
	size_t lead = 0, end = n;
	bool is_const = false, is_volatile = false;
	const char *name, *base;

	while (n && s[0] == ' ')
		s++, n--;
	while (n && s[n - 1] == ' ')
		n--;
	for (;;) {
		if (n - lead > 6 && !strncmp(s + lead, "const ", 6)) {
			is_const = true;
			lead += 6;
		} else if (n - lead > 9 && !strncmp(s + lead, "volatile ", 9)) {
			is_volatile = true;
			lead += 9;
		} else {
			break;
		}
	}
	/* the declarator after the type: pointers, references, their cv */
	for (end = n; end > lead;) {
		if (strchr("*& ", s[end - 1]))
			end--;
		else if (end - lead > 6 && !strncmp(s + end - 6, " const", 6))
			end -= 6;
		else if (end - lead > 9 && !strncmp(s + end - 9, " volatile", 9))
			end -= 9;
		else
			break;
	}
	for (const char *p = s + lead; p < s + end; p++) {
		if (*p == '(' && (size_t)(s + end - p) >= 21 &&
		    !strncmp(p, "(anonymous namespace)", 21))
			p += 20;
		else if (*p == '(' || *p == '{')
			depth = MAX_BUILD_DEPTH + 1;
	}
	if (end == lead || depth > MAX_BUILD_DEPTH) {
		nb_fail(b, -EINVAL);
		return;
	}
	/* a builtin type of several words, or a name with its arguments */
	base = strndup(s + lead, end - lead);
	if (!base) {
		nb_fail(b, -ENOMEM);
		return;
	}
	name = base_name(base);
	if (name != base) {
		nb_str(b, name);
	} else {
		for (const char *p = base; *p && !b->err;) {
			const char *lt = strchr(p, '<'), *gt;

			if (!lt) {
				nb_str(b, p);
				break;
			}
			gt = list_end(lt);
			if (!gt) {
				nb_fail(b, -EINVAL);
				break;
			}
			nb_add(b, p, (size_t)(lt - p));
			gcc_args(lt + 1, (size_t)(gt - lt - 1), b, depth + 1);
			p = gt + 1;
		}
	}
	free((char *)base);
	if (is_const)
		nb_str(b, " const");
	if (is_volatile)
		nb_str(b, " volatile");
	for (size_t i = end; i < n; i++)
		if (s[i] != ' ' || (i + 1 < n && s[i + 1] != '*' && s[i + 1] != '&'))
			nb_add(b, s + i, 1);
}

/* "<args>" from GCC's spelling of the list (s, n: what is between the
 * brackets), with the demangler's spaces. */
static void gcc_args(const char *s, size_t n, struct nbuf *b, int depth)
{
	size_t start = 0;
	int level = 0, k = 0;

	if (nb_last(b) == '<')
		nb_str(b, " ");
	nb_str(b, "<");
	for (size_t i = 0; i <= n && !b->err; i++) {
		if (i < n && (s[i] == '<' || s[i] == '(' || s[i] == '['))
			level++;
		else if (i < n && (s[i] == '>' || s[i] == ')' || s[i] == ']'))
			level--;
		if (i < n && (s[i] != ',' || level))
			continue;
		if (i > start || k) {
			if (k++)
				nb_str(b, ", ");
			gcc_arg(s + start, i - start, b, depth);
		}
		start = i + 1;
	}
	if (nb_last(b) == '>')
		nb_str(b, " ");
	nb_str(b, ">");
}

static void put_type(struct sym_dwarf *d, bool has, const struct dw_val *type,
		     const char *inner, struct nbuf *b, int depth);
static void put_scope(struct sym_dwarf *d, const struct dw_ndie *t, struct nbuf *b,
		      int depth);
static void put_prefix(struct sym_dwarf *d, uint64_t off, struct nbuf *b, int depth);

/* The type a DIE refers to, through typedefs (and cv qualifiers when
 * cv), read into *nd. Returns 1, 0 for void, or < 0. */
static int type_resolve(struct sym_dwarf *d, const struct dw_more *m, bool cv,
			struct dw_ndie *nd)
{
	bool has = m->has_type;
	struct dw_val v = m->type;

	for (int i = 0; i < MAX_BUILD_DEPTH; i++) {
		int r;

		if (!has)
			return 0;
		r = ndie_ref(d, &v, nd);
		if (r <= 0)
			return r < 0 ? r : -EINVAL;
		if (nd->tag != DW_TAG_typedef && nd->tag != DW_TAG_template_alias &&
		    !(cv && (nd->tag == DW_TAG_const_type || nd->tag == DW_TAG_volatile_type)))
			return 1;
		has = nd->m.has_type;
		v = nd->m.type;
	}
	return -EINVAL;
}

/* How the class a this pointer points to is qualified: " const",
 * " volatile", " const volatile", or "". */
static const char *this_cv(struct sym_dwarf *d, const struct dw_more *pointer)
{
	struct dw_ndie q;
	struct dw_more m = *pointer;
	bool c = false, v = false;

	for (int i = 0; i < 4 && type_resolve(d, &m, false, &q) > 0; i++) {
		if (q.tag == DW_TAG_const_type)
			c = true;
		else if (q.tag == DW_TAG_volatile_type)
			v = true;
		else
			break;
		m = q.m;
	}
	return c && v ? " const volatile" : c ? " const" : v ? " volatile" : "";
}

/* A function type's parameter list "(int, char const*)" from the
 * children of fn (formal parameters, "..."), without the artificial
 * this; *ret_cv gets what qualifies this ("const", "volatile"), or "". */
static void put_params(struct sym_dwarf *d, const struct dw_ndie *fn, struct nbuf *b,
		       const char **ret_cv, int depth)
{
	uint64_t stack[2] = { fn->child, 0 };
	int level = 0, n = 0;

	*ret_cv = "";
	nb_str(b, "(");
	while (level >= 0 && !b->err) {
		struct dw_ndie ch, t;
		int r;

		if (!stack[level]) {
			level--;
			continue;
		}
		r = ndie_at(d, stack[level], &ch);
		if (r <= 0) {
			if (r < 0)
				nb_fail(b, r);
			level--;
			continue;
		}
		stack[level] = ndie_next(d, &ch);
		if (ch.tag == DW_TAG_GNU_formal_parameter_pack && level == 0 && ch.child) {
			stack[++level] = ch.child;
			continue;
		}
		if (ch.tag == DW_TAG_unspecified_parameters) {
			nb_str(b, n++ ? ", ..." : "...");
			continue;
		}
		if (ch.tag != DW_TAG_formal_parameter)
			continue;
		if (ch.m.artificial) {
			/* this: a pointer to the (cv-qualified) class */
			if (n == 0 && type_resolve(d, &ch.m, true, &t) > 0 &&
			    t.tag == DW_TAG_pointer_type)
				*ret_cv = this_cv(d, &t.m);
			continue;
		}
		if (n++)
			nb_str(b, ", ");
		/* top-level cv qualifiers are not part of the signature */
		r = type_resolve(d, &ch.m, true, &t);
		if (r < 0) {
			nb_fail(b, r);
			break;
		}
		if (r == 0) {
			nb_str(b, "void");
			continue;
		}
		put_type(d, true, &(struct dw_val){ .kind = V_REF, .u = t.off }, "", b,
			 depth + 1);
	}
	nb_str(b, ")");
}

/* A template value argument as the demangler prints a literal: "8",
 * "8u", "8l", "8ul", "true", "(char)97", "(E)1". */
static void put_literal(struct sym_dwarf *d, const struct dw_ndie *p, struct nbuf *b,
			int depth)
{
	struct dw_ndie t;
	const char *name, *suffix = NULL;
	char num[32];
	uint64_t u = p->m.const_value.u;
	bool sign;
	int r;

	if (p->m.const_value.kind != V_U) {
		nb_fail(b, -EINVAL);
		return;
	}
	r = type_resolve(d, &p->m, true, &t);
	if (r <= 0 || (t.tag != DW_TAG_base_type && t.tag != DW_TAG_enumeration_type)) {
		nb_fail(b, r < 0 ? r : -EINVAL);
		return;
	}
	if (t.tag == DW_TAG_enumeration_type) {
		struct dw_ndie under;

		sign = type_resolve(d, &t.m, true, &under) <= 0 ||
		       under.m.encoding == DW_ATE_signed || under.m.encoding == DW_ATE_signed_char;
		name = NULL;
	} else {
		name = base_name(t.name ? t.name : "");
		sign = t.m.encoding == DW_ATE_signed || t.m.encoding == DW_ATE_signed_char;
		if (t.m.encoding == DW_ATE_boolean) {
			nb_str(b, u ? "true" : "false");
			return;
		}
	}
	if (sign && t.m.byte_size > 0 && t.m.byte_size < 8 &&
	    (u >> (8 * t.m.byte_size - 1)) & 1)
		u |= ~(uint64_t)0 << (8 * t.m.byte_size);
	if (sign)
		snprintf(num, sizeof(num), "%" PRId64, (int64_t)u);
	else
		snprintf(num, sizeof(num), "%" PRIu64, u);
	if (name) {
		if (!strcmp(name, "int"))
			suffix = "";
		else if (!strcmp(name, "unsigned int"))
			suffix = "u";
		else if (!strcmp(name, "long"))
			suffix = "l";
		else if (!strcmp(name, "unsigned long"))
			suffix = "ul";
		else if (!strcmp(name, "long long"))
			suffix = "ll";
		else if (!strcmp(name, "unsigned long long"))
			suffix = "ull";
	}
	if (suffix) {
		nb_str(b, num);
		nb_str(b, suffix);
		return;
	}
	nb_str(b, "(");
	if (name)
		nb_str(b, name);
	else
		put_scope(d, &t, b, depth + 1);
	nb_str(b, ")");
	nb_str(b, num);
}

/* One template argument: a type, a value, or a template's name. */
static void put_targ(struct sym_dwarf *d, const struct dw_ndie *p, struct nbuf *b,
		     int *n, int depth)
{
	if (p->tag != DW_TAG_template_type_param && p->tag != DW_TAG_template_value_param &&
	    p->tag != DW_TAG_GNU_template_template_param)
		return;
	if ((*n)++)
		nb_str(b, ", ");
	if (p->tag == DW_TAG_template_type_param)
		put_type(d, p->m.has_type, &p->m.type, "", b, depth + 1);
	else if (p->tag == DW_TAG_template_value_param)
		put_literal(d, p, b, depth + 1);
	else if (p->template_name)
		nb_str(b, p->template_name);
	else
		nb_fail(b, -EINVAL);
}

/* "<args>" of a template instance from the children of x, with the
 * demangler's spaces ("operator< <int>", "A<B<int> >"). Returns how many
 * arguments it has (0 for an empty parameter pack: "std::tuple<>"), or -1
 * when x is no template. */
static int put_targs(struct sym_dwarf *d, const struct dw_ndie *x, struct nbuf *b,
		     int depth)
{
	struct nbuf args = { 0 };
	bool is_template = false;
	int n = 0;

	for (uint64_t at = x->child; at && !args.err;) {
		struct dw_ndie ch, el;
		int r = ndie_at(d, at, &ch);

		if (r <= 0) {
			if (r < 0)
				nb_fail(&args, r);
			break;
		}
		at = ndie_next(d, &ch);
		if (ch.tag == DW_TAG_GNU_template_parameter_pack) {
			is_template = true;
			for (uint64_t e = ch.child; e && !args.err; e = ndie_next(d, &el)) {
				r = ndie_at(d, e, &el);
				if (r <= 0) {
					if (r < 0)
						nb_fail(&args, r);
					break;
				}
				put_targ(d, &el, &args, &n, depth);
			}
			continue;
		}
		if (ch.tag == DW_TAG_template_type_param ||
		    ch.tag == DW_TAG_template_value_param ||
		    ch.tag == DW_TAG_GNU_template_template_param) {
			is_template = true;
			put_targ(d, &ch, &args, &n, depth);
		}
	}
	if (!is_template) {
		nb_take(b, &args);
		return -1;
	}
	if (nb_last(b) == '<')
		nb_str(b, " ");
	nb_str(b, "<");
	nb_take(b, &args);
	if (nb_last(b) == '>')
		nb_str(b, " ");
	nb_str(b, ">");
	return n;
}

/* The child subprogram of class t named "operator()" (with or without
 * template arguments), or 0 when t is no lambda's closure type. */
static int closure_call(struct sym_dwarf *d, const struct dw_ndie *t, struct dw_ndie *ret_op)
{
	bool lambda = false, found = false;

	if (t->name || (t->tag != DW_TAG_class_type && t->tag != DW_TAG_structure_type))
		return 0;
	for (uint64_t at = t->child; at;) {
		struct dw_ndie ch;
		int r = ndie_at(d, at, &ch);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		at = ndie_next(d, &ch);
		if (ch.tag != DW_TAG_subprogram || !ch.name)
			continue;
		if (!strcmp(ch.name, "<lambda>") || !strcmp(ch.name, "~<lambda>"))
			lambda = true;
		if (!found && name_base_len(ch.name) == 10 && !strncmp(ch.name, "operator()", 10)) {
			*ret_op = ch;
			found = true;
		}
	}
	return lambda && found;
}

/* Which lambda of its function t is, counting from 1 in DIE order as GCC
 * numbers them (the function's own closure types, also in its lexical
 * blocks). Returns the number, or < 0. */
static int closure_number(struct sym_dwarf *d, const struct dw_ndie *t, uint64_t fn)
{
	uint64_t stack[MAX_BUILD_DEPTH];
	struct dw_ndie f;
	int level = 0, n = 0, r;

	r = ndie_at(d, fn, &f);
	if (r <= 0)
		return r < 0 ? r : -EINVAL;
	stack[0] = f.child;
	while (level >= 0) {
		struct dw_ndie ch, op;

		if (!stack[level]) {
			level--;
			continue;
		}
		if (stack[level] == t->off)
			return n + 1;
		r = ndie_at(d, stack[level], &ch);
		if (r <= 0) {
			if (r < 0)
				return r;
			level--;
			continue;
		}
		stack[level] = ndie_next(d, &ch);
		if (ch.tag == DW_TAG_lexical_block && ch.child && level + 1 < MAX_BUILD_DEPTH) {
			stack[++level] = ch.child;
			continue;
		}
		r = closure_call(d, &ch, &op);
		if (r < 0)
			return r;
		n += r;
	}
	return -EINVAL;
}

/* "{lambda(int)#1}", a lambda's closure type, op its operator(). */
static void put_closure(struct sym_dwarf *d, const struct dw_ndie *t,
			const struct dw_ndie *op, struct nbuf *b, int depth)
{
	uint64_t fn = t->off;
	const char *cv;
	char num[24];
	int r;

	/* its function: the nearest enclosing DIE that is no block */
	do {
		struct dw_ndie p;

		r = die_parent(d, fn, &fn);
		if (r <= 0 || (r = ndie_at(d, fn, &p)) <= 0) {
			nb_fail(b, r < 0 ? r : -EINVAL);
			return;
		}
		if (p.tag != DW_TAG_lexical_block)
			break;
	} while (1);
	r = closure_number(d, t, fn);
	if (r < 0) {
		nb_fail(b, r);
		return;
	}
	nb_str(b, "{lambda");
	put_params(d, op, b, &cv, depth + 1);
	snprintf(num, sizeof(num), "#%d}", r);
	nb_str(b, num);
}

/*
 * The demangler's short names of std's character streams and (old ABI)
 * string: a name that spells one out in full is written the short way.
 */
static void std_abbrev(struct nbuf *b)
{
	static const char *const map[][2] = {
		{ "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
		  "std::string" },
		{ "std::basic_istream<char, std::char_traits<char> >", "std::istream" },
		{ "std::basic_ostream<char, std::char_traits<char> >", "std::ostream" },
		{ "std::basic_iostream<char, std::char_traits<char> >", "std::iostream" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]) && !b->err; i++)
		if (b->len && !strcmp(b->p, map[i][0])) {
			b->len = 0;
			nb_str(b, map[i][1]);
		}
}

/* The qualified name of a namespace, class, struct, union or enum (also
 * a lambda's closure type): "geo::Vec<double, 8>", cached by offset. */
static void put_scope(struct sym_dwarf *d, const struct dw_ndie *t, struct nbuf *b,
		      int depth)
{
	struct nbuf q = { 0 };
	struct dw_ndie op;
	int r;

	if (cache_put(d, t->off, b))
		return;
	if (depth > MAX_BUILD_DEPTH) {
		nb_fail(b, -EINVAL);
		return;
	}
	put_prefix(d, t->off, &q, depth + 1);
	if (t->tag == DW_TAG_namespace) {
		nb_str(&q, t->name ? t->name : "(anonymous namespace)");
	} else if (t->name) {
		size_t len = name_base_len(t->name);
		const char *lt = t->name[len] == '<' ? t->name + len : NULL;
		const char *gt = lt ? list_end(lt) : NULL;
		size_t mark;

		nb_add(&q, t->name, len);
		mark = q.len;
		/* The arguments from the parameter DIEs; GCC's spelling of
		 * them where there are none (a declaration) or where GCC
		 * left some out (an empty parameter pack for
		 * std::tuple<int, long>, a defaulted value). */
		r = put_targs(d, t, &q, depth + 1);
		if (gt && r != count_args(lt, gt) && !q.err) {
			q.len = mark;
			gcc_args(lt + 1, (size_t)(gt - lt - 1), &q, depth + 1);
		}
	} else if ((r = closure_call(d, t, &op)) > 0) {
		put_closure(d, t, &op, &q, depth + 1);
	} else {
		nb_fail(&q, r < 0 ? r : -EINVAL);  /* {unnamed type#N}: not built */
	}
	std_abbrev(&q);
	cache_take(d, t->off, &q, b);
}

/* A function as the scope of what is declared in it ("main",
 * "f(int)", "A::g() const", "h<int>(int)": without the return type):
 * demangled from its linkage name, else built. */
static void put_function_scope(struct sym_dwarf *d, uint64_t off, struct nbuf *b,
			       int depth)
{
	struct dw_ndie f;
	char *dem;
	int r;

	for (int hops = 0; hops <= MAX_NAME_HOPS; hops++) {
		r = ndie_at(d, off, &f);
		if (r <= 0)
			break;
		if (f.linkage && mangled(f.linkage)) {
			dem = sym_demangle_scope(f.linkage);
			if (dem)
				nb_str(b, dem);
			else
				nb_fail(b, -EINVAL);
			free(dem);
			return;
		}
		if (f.name) {
			if (cxx_build(d, off, false, b, depth + 1) == 0)
				nb_str(b, f.name);
			return;
		}
		off = f.origin ? f.origin : f.spec;
		if (!off)
			break;
	}
	nb_fail(b, r < 0 ? r : -EINVAL);
}

/* "ns::Class<int>::", what encloses the DIE at off ("" at unit level);
 * lexical blocks are not part of names. */
static void put_prefix(struct sym_dwarf *d, uint64_t off, struct nbuf *b, int depth)
{
	struct dw_ndie p;
	uint64_t at = off;
	int r;

	for (;;) {
		r = die_parent(d, at, &at);
		if (r <= 0 || (r = ndie_at(d, at, &p)) <= 0) {
			if (r < 0)
				nb_fail(b, r);
			return;
		}
		if (p.tag != DW_TAG_lexical_block)
			break;
	}
	switch (p.tag) {
	case DW_TAG_compile_unit: case DW_TAG_partial_unit: case DW_TAG_type_unit:
	case DW_TAG_skeleton_unit:
		return;
	case DW_TAG_namespace: case DW_TAG_class_type: case DW_TAG_structure_type:
	case DW_TAG_union_type: case DW_TAG_enumeration_type:
		put_scope(d, &p, b, depth + 1);
		break;
	case DW_TAG_subprogram:
		put_function_scope(d, p.off, b, depth + 1);
		break;
	default:
		nb_fail(b, -EINVAL);
		return;
	}
	nb_str(b, "::");
}

/* Whether the type a DIE refers to is a function or an array (which a
 * pointer to must parenthesize: "int (*)(int)"). */
static bool type_needs_parens(struct sym_dwarf *d, const struct dw_more *m)
{
	struct dw_ndie t;

	return type_resolve(d, m, false, &t) > 0 &&
	       (t.tag == DW_TAG_subroutine_type || t.tag == DW_TAG_array_type);
}

static void put_type_at(struct sym_dwarf *d, bool has, const struct dw_val *type,
			const char *inner, struct nbuf *b, int depth);

/* A type as the demangler prints it, around the declarator inner ("" at
 * the top): "char const*", "int (*)(int)", "int (&) [3]". A type without
 * a declarator around it is named once, cached by its DIE's offset. */
static void put_type(struct sym_dwarf *d, bool has, const struct dw_val *type,
		     const char *inner, struct nbuf *b, int depth)
{
	struct nbuf t = { 0 };

	if (!has || inner[0] || type->kind != V_REF || b->err) {
		put_type_at(d, has, type, inner, b, depth);
		return;
	}
	if (cache_put(d, type->u, b))
		return;
	put_type_at(d, has, type, "", &t, depth);
	cache_take(d, type->u, &t, b);
}

static void put_type_at(struct sym_dwarf *d, bool has, const struct dw_val *type,
			const char *inner, struct nbuf *b, int depth)
{
	struct dw_ndie t;
	const char *op = NULL, *cv;
	char *in = NULL;
	int r;

	if (b->err)
		return;
	if (!has) {
		nb_str(b, "void");
		nb_str(b, inner);
		return;
	}
	if (depth > MAX_BUILD_DEPTH) {
		nb_fail(b, -EINVAL);
		return;
	}
	r = ndie_ref(d, type, &t);
	if (r <= 0) {
		nb_fail(b, r < 0 ? r : -EINVAL);
		return;
	}
	switch (t.tag) {
	case DW_TAG_base_type:
	case DW_TAG_unspecified_type:
		if (!t.name)
			nb_fail(b, -EINVAL);
		else
			nb_str(b, t.tag == DW_TAG_base_type ? base_name(t.name) : t.name);
		nb_str(b, inner);
		return;
	case DW_TAG_class_type: case DW_TAG_structure_type: case DW_TAG_union_type:
	case DW_TAG_enumeration_type:
		put_scope(d, &t, b, depth + 1);
		nb_str(b, inner);
		return;
	case DW_TAG_typedef: case DW_TAG_template_alias:
		put_type(d, t.m.has_type, &t.m.type, inner, b, depth + 1);
		return;
	case DW_TAG_const_type: op = " const"; break;
	case DW_TAG_volatile_type: op = " volatile"; break;
	case DW_TAG_restrict_type: op = " restrict"; break;
	case DW_TAG_pointer_type: op = "*"; break;
	case DW_TAG_reference_type: op = "&"; break;
	case DW_TAG_rvalue_reference_type: op = "&&"; break;
	case DW_TAG_ptr_to_member_type: {
		struct nbuf cls = { 0 };

		put_type(d, true, &t.m.containing, "", &cls, depth + 1);
		if (!cls.err)
			r = type_needs_parens(d, &t.m) ?
			    asprintf(&in, "(%s::*%s)", cls.p, inner) :
			    asprintf(&in, " %s::*%s", cls.p, inner);
		if (cls.err || r < 0)
			nb_fail(b, cls.err ? cls.err : -ENOMEM);
		else
			put_type(d, t.m.has_type, &t.m.type, in, b, depth + 1);
		free(cls.p);
		free(in);
		return;
	}
	case DW_TAG_subroutine_type: {
		struct nbuf params = { 0 };

		put_params(d, &t, &params, &cv, depth + 1);
		put_type(d, t.m.has_type, &t.m.type, "", b, depth + 1);
		nb_str(b, " ");
		nb_str(b, inner);
		nb_take(b, &params);
		nb_str(b, cv);
		return;
	}
	case DW_TAG_array_type: {
		put_type(d, t.m.has_type, &t.m.type, "", b, depth + 1);
		nb_str(b, " ");
		if (inner[0]) {
			nb_str(b, inner);
			nb_str(b, " ");
		}
		for (uint64_t at = t.child; at && !b->err;) {
			struct dw_ndie s;
			char dim[32] = "[]";

			r = ndie_at(d, at, &s);
			if (r <= 0) {
				if (r < 0)
					nb_fail(b, r);
				break;
			}
			at = ndie_next(d, &s);
			if (s.tag != DW_TAG_subrange_type)
				continue;
			if (s.m.count.kind == V_U)
				snprintf(dim, sizeof(dim), "[%" PRIu64 "]", s.m.count.u);
			else if (s.m.upper_bound.kind == V_U && s.m.upper_bound.u < UINT64_MAX)
				snprintf(dim, sizeof(dim), "[%" PRIu64 "]", s.m.upper_bound.u + 1);
			nb_str(b, dim);
		}
		return;
	}
	default:
		nb_fail(b, -EINVAL);
		return;
	}
	/* qualifiers and pointers wrap the declarator; a pointer to a
	 * function or an array parenthesizes it */
	if (op[0] != ' ' && type_needs_parens(d, &t.m))
		r = asprintf(&in, "(%s%s)", op, inner);
	else
		r = asprintf(&in, "%s%s", op, inner);
	if (r < 0) {
		nb_fail(b, -ENOMEM);
		return;
	}
	put_type(d, t.m.has_type, &t.m.type, in, b, depth + 1);
	free(in);
}

/*
 * The qualified name of the subprogram at off (the DIE holding its name,
 * at the end of its specification / abstract origin chain) as the
 * demangler writes it, into out; with ret, the return type a template
 * function's name starts with. Returns 1 when built, 0 when the name is
 * not mangled (extern "C", made by the compiler: used as it is), or
 * out->err.
 */
static int cxx_build(struct sym_dwarf *d, uint64_t off, bool ret, struct nbuf *out,
		     int depth)
{
	struct nbuf pre = { 0 }, targs = { 0 }, params = { 0 };
	struct dw_ndie x, cls;
	uint64_t parent;
	const char *cv = "";
	size_t base_len;
	bool member, is_template, conversion, ctor = false;
	int r;

	r = depth > MAX_BUILD_DEPTH ? -EINVAL : ndie_at(d, off, &x);
	if (r <= 0 || !x.name) {
		nb_fail(out, r);
		return out->err;
	}
	r = die_parent(d, off, &parent);
	if (r == 1)
		r = ndie_at(d, parent, &cls);
	if (r < 0) {
		nb_fail(out, r);
		return out->err;
	}
	member = r == 1 && (cls.tag == DW_TAG_class_type || cls.tag == DW_TAG_structure_type ||
			    cls.tag == DW_TAG_union_type);
	/* extern "C" (main among them): no mangled name */
	if (x.m.external && !member)
		return 0;
	/* made by the compiler, not mangled (_GLOBAL__sub_I_x, clang's
	 * __cxx_global_var_init), but for GCC's static initializer; GCC
	 * calls a lambda's operator() artificial too */
	if (x.m.artificial && !member &&
	    strncmp(x.name, "__static_initialization_and_destruction_", 40))
		return 0;
	base_len = name_base_len(x.name);
	conversion = !strncmp(x.name, "operator ", 9) && strncmp(x.name + 9, "new", 3) &&
		     strncmp(x.name + 9, "delete", 6) && strncmp(x.name + 9, "co_await", 8) &&
		     strncmp(x.name + 9, "\"\"", 2);
	if (member && cls.name) {
		size_t cls_len = name_base_len(cls.name);
		const char *n = x.name[0] == '~' ? x.name + 1 : x.name;

		ctor = base_len - (size_t)(n != x.name) == cls_len &&
		       !strncmp(n, cls.name, cls_len);
	}
	put_prefix(d, off, &pre, depth + 1);
	is_template = put_targs(d, &x, &targs, depth + 1) >= 0;
	put_params(d, &x, &params, &cv, depth + 1);
	/* a template function's mangled name holds its return type */
	if (ret && is_template && !ctor && !conversion) {
		put_type(d, x.m.has_type, &x.m.type, "", out, depth + 1);
		nb_str(out, " ");
	}
	nb_take(out, &pre);
	if (conversion) {
		nb_str(out, "operator ");
		put_type(d, x.m.has_type, &x.m.type, "", out, depth + 1);
	} else {
		nb_add(out, x.name, base_len);
	}
	nb_take(out, &targs);
	nb_take(out, &params);
	nb_str(out, cv);
	if (x.m.reference)
		nb_str(out, " &");
	else if (x.m.rvalue_reference)
		nb_str(out, " &&");
	return out->err ? out->err : 1;
}

/* cxx_build() with the return type, interned. Returns 0 and *ret_name
 * (NULL when it cannot be built), or -ENOMEM. */
static int cxx_name(struct sym_dwarf *d, uint64_t off, const char **ret_name)
{
	struct nbuf out = { 0 };
	int r = cxx_build(d, off, true, &out, 0);

	*ret_name = NULL;
	if (r == 1) {
		*ret_name = sym_strings__intern(&d->strings, out.p, out.len);
		if (!*ret_name)
			r = -ENOMEM;
	}
	free(out.p);
	return r == -ENOMEM ? r : 0;
}

/* ---- one compile unit: scopes ---------------------------------------------- */

static int raw_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	const struct dw_raw_range *proto = arg;

	if ((d->n_raw + 1) * sizeof(*d->raw) > d->max_bytes)
		return -EFBIG;
	if (grow((void **)&d->raw, &d->cap_raw, d->n_raw + 1, sizeof(*d->raw)) < 0)
		return -ENOMEM;
	d->raw[d->n_raw++] = (struct dw_raw_range){
		.lo = lo, .hi = hi, .depth = proto->depth, .scope = proto->scope,
	};
	return 0;
}

static uint32_t val_u32(const struct dw_val *v)
{
	return v->kind == V_U && v->u <= UINT32_MAX ? (uint32_t)v->u : 0;
}

/* A scope of the DIE just read from unit ucu (at reference off), kept in
 * cu (the same unit, or the skeleton of the split unit ucu). */
static int scope_add(struct sym_dwarf *d, const struct dw_cu *ucu, struct dw_cu *cu,
		     const struct dw_die *die, uint64_t off, int32_t parent,
		     uint32_t depth, int32_t *ret_scope)
{
	struct dw_raw_range proto = { .depth = depth, .scope = (uint32_t)cu->n_scopes };
	struct dw_scope sc = {
		.parent = parent, .inlined = die->tag == DW_TAG_inlined_subroutine,
	};
	size_t n_raw = d->n_raw;
	int r;

	r = die_ranges(d, ucu, die, raw_add, &proto);
	if (r <= 0) {
		*ret_scope = -1;
		return r;
	}
	d->name_lost = d->name_unresolved = false;
	r = die_name(d, ucu, die, off, 0, &sc.name);
	if (r < 0)
		return r;
	sc.lost = !sc.name && d->name_lost;
	/* An inlined scope with no name is shown as "[inlined]": say why
	 * (an out-of-line one is named from the symbol table instead). */
	sc.unresolved = sc.inlined && !sc.name && !sc.lost && d->name_unresolved;
	if (sc.unresolved)
		d->issues[SYM_DEBUG_NAME_UNRESOLVED]++;
	if (sc.inlined) {
		uint32_t file = val_u32(&die->call_file);
		uint32_t line = val_u32(&die->call_line);
		const char **files = cu->call_files ? cu->call_files : cu->files;
		size_t n_files = cu->call_files ? cu->n_call_files : cu->n_files;

		sc.call_line = line < 1u << 29 ? line : 0;
		/* call_file is an index into the unit's line table file list
		 * (a split unit's: its .dwo's) */
		sc.call_file = file < n_files ? files[file] : NULL;
	}
	if ((cu->n_scopes + 1) * sizeof(*cu->scopes) > d->max_bytes) {
		d->n_raw = n_raw;
		return -EFBIG;
	}
	if (grow((void **)&cu->scopes, &cu->cap_scopes, cu->n_scopes + 1,
		 sizeof(*cu->scopes)) < 0) {
		d->n_raw = n_raw;
		return -ENOMEM;
	}
	cu->scopes[cu->n_scopes++] = sc;
	*ret_scope = (int32_t)proto.scope;
	return 0;
}

/* Tags whose children may hold code but that are no scope themselves. */
static bool tag_container(uint16_t tag)
{
	switch (tag) {
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_module:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
		return true;
	default:
		return false;
	}
}

static bool tag_scope(uint16_t tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/*
 * One pass over the DIEs below the unit DIE (c is just past it): scopes
 * with code become dw_scopes and raw ranges; the children of everything
 * else (types, variables, declarations, abstract instances) are skipped,
 * most without decoding an attribute. A corrupt DIE ends the walk,
 * keeping what was read. Returns 0 or -ENOMEM.
 */
static int walk(struct sym_dwarf *d, const struct dw_cu *ucu, struct dw_cu *cu,
		struct dw_cur *c)
{
	static const struct dw_val no_sibling = { .kind = V_NONE };
	const uint8_t *info = d->unit_base;
	const struct dw_abbrevs *ab = &d->ab_cur;
	int32_t parents[MAX_DIE_DEPTH + 1];
	size_t depth = 0;

	parents[0] = -1;
	while (!c->bad && c->p < c->end) {
		uint64_t off = REF(ucu->space, ucu->off + (uint64_t)(c->p - info));
		uint64_t code = cur_uleb(c);
		const struct dw_abbrev *a;
		struct dw_die die;
		int32_t parent = parents[depth];
		bool descend;

		if (code == 0) {
			if (depth == 0)
				break;
			depth--;
			continue;
		}
		a = abbrev_find(ab, code);
		if (!a) {
			c->bad = true;
			break;
		}
		if (!tag_scope(a->tag) && !tag_container(a->tag) && !a->sibling) {
			attrs_skip(ucu, ab, a, c);
			if (a->children)
				children_skip(ucu, ab, &no_sibling, info, c);
			continue;
		}
		if (die_attrs(ucu, ab, a, c, &die) < 0)
			break;
		if (tag_scope(a->tag)) {
			int32_t scope;
			int r = scope_add(d, ucu, cu, &die, off, parent, (uint32_t)depth,
					  &scope);

			if (r < 0)
				return r;
			/* No range: a declaration or an abstract instance,
			 * whose children have no code either. */
			descend = scope >= 0;
			parent = scope;
		} else {
			descend = tag_container(a->tag);
		}
		if (!die.children)
			continue;
		if (descend && depth < MAX_DIE_DEPTH)
			parents[++depth] = parent;
		else
			children_skip(ucu, ab, &die.sibling, info, c);
	}
	return 0;
}

/* ---- one compile unit: lines ------------------------------------------------ */

static int line_cmp(const void *pa, const void *pb)
{
	const struct dw_row *a = pa, *b = pb;

	if (a->l.addr != b->l.addr)
		return a->l.addr < b->l.addr ? -1 : 1;
	/* An end of sequence before a row that starts another one there. */
	if (a->end != b->end)
		return a->end ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int seq_cmp(const void *pa, const void *pb, void *arg)
{
	const struct dw_seq *a = pa, *b = pb;
	const struct dw_row *rows = arg;

	return line_cmp(&rows[a->first], &rows[b->first]);
}

/*
 * The path of a line table file as addr2line prints it: an absolute name
 * as is, else under its directory, a relative directory under the CU's
 * comp_dir. Returns the interned path; NULL with *ret_err on ENOMEM.
 */
static const char *file_path(struct sym_dwarf *d, const char *comp_dir,
			     const char *dir, const char *name, int *ret_err)
{
	const char *top = NULL, *sub = NULL, *s;
	char *buf;
	size_t len;

	if (!name)
		return NULL;
	if (name[0] != '/') {
		sub = dir;
		if (!sub || sub[0] != '/')
			top = comp_dir;
		if (!top) {
			top = sub;
			sub = NULL;
		}
	}
	if (!top) {
		s = sym_strings__intern(&d->strings, name, strlen(name));
		goto out;
	}
	len = strlen(top) + strlen(name) + (sub ? strlen(sub) + 1 : 0) + 2;
	buf = malloc(len);
	if (!buf) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	if (sub)
		snprintf(buf, len, "%s/%s/%s", top, sub, name);
	else
		snprintf(buf, len, "%s/%s", top, name);
	s = sym_strings__intern(&d->strings, buf, strlen(buf));
	free(buf);
out:
	if (!s)
		*ret_err = -ENOMEM;
	return s;
}

/* A directory or file entry list of a DWARF 5 line table header: each
 * entry's path and directory index by the given (content, form) pairs. */
struct lnct_entry {
	const char *path;
	uint64_t dir;
};

static int lnct_read(struct sym_dwarf *d, const struct dw_cu *lcu, struct dw_cur *c,
		     struct lnct_entry **ret, size_t *ret_n)
{
	uint64_t fmt[2 * 16], count;
	uint8_t n_fmt = (uint8_t)cur_u(c, 1);
	struct lnct_entry *v;

	if (n_fmt > 16)
		return -EINVAL;
	for (unsigned i = 0; i < n_fmt; i++) {
		fmt[2 * i] = cur_uleb(c);
		fmt[2 * i + 1] = cur_uleb(c);
	}
	count = cur_uleb(c);
	/* every entry takes at least a byte, unless no format: then none */
	if (c->bad || (n_fmt && count > (uint64_t)(c->end - c->p)) || (!n_fmt && count))
		return -EINVAL;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint64_t k = 0; k < count && !c->bad; k++) {
		for (unsigned i = 0; i < n_fmt; i++) {
			struct dw_val val;

			if (fmt[2 * i + 1] > UINT16_MAX || fmt[2 * i + 1] == DW_FORM_implicit_const) {
				c->bad = true;
				break;
			}
			form_read(lcu, c, (uint16_t)fmt[2 * i + 1], 0, &val);
			if (fmt[2 * i] == DW_LNCT_path)
				v[k].path = val_str(d, lcu, &val);
			else if (fmt[2 * i] == DW_LNCT_directory_index && val.kind == V_U)
				v[k].dir = val.u;
		}
	}
	if (c->bad) {
		free(v);
		return -EINVAL;
	}
	*ret = v;
	*ret_n = (size_t)count;
	return 0;
}

/* DWARF 2-4: a list of strings, or of files (name, dir, mtime, length),
 * up to an empty name. */
static int v4_entries(struct dw_cur *c, bool files, struct lnct_entry **ret,
		      size_t *ret_n)
{
	struct lnct_entry *v = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		const char *s = cur_str(c);

		if (!s) {
			free(v);
			return -EINVAL;
		}
		if (!*s)
			break;
		if (grow((void **)&v, &cap, n + 1, sizeof(*v)) < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n] = (struct lnct_entry){ .path = s };
		if (files) {
			v[n].dir = cur_uleb(c);
			cur_uleb(c);
			cur_uleb(c);
		}
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The file table (*ret, *ret_n) from the header's lists: DWARF 5 numbers
 * files and dirs from 0, earlier versions from 1 (0 is no file, and dir 0
 * the comp_dir). */
static int files_make(struct sym_dwarf *d, const struct dw_cu *cu, bool v5,
		      const struct lnct_entry *dirs, size_t n_dirs,
		      const struct lnct_entry *files, size_t n_files,
		      const char ***ret, size_t *ret_n)
{
	size_t first = v5 ? 0 : 1;
	const char **v;
	int err = 0;

	v = calloc(n_files + first + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n_files && !err; i++) {
		uint64_t dir = v5 ? files[i].dir : files[i].dir - 1;  /* 0 -> none */

		v[first + i] = file_path(d, cu->comp_dir, dir < n_dirs ? dirs[dir].path : NULL,
					 files[i].path, &err);
	}
	*ret = v;
	*ret_n = n_files + first;
	return err;
}

struct line_hdr {
	uint8_t min_inst, line_range, opcode_base;
	int8_t line_base;
	uint8_t std_len[256];
};

/* Appends a row (or an end of sequence) to the CU's scratch rows. */
static inline __attribute__((always_inline)) int
row_add(struct sym_dwarf *d, size_t *n, uint64_t addr, int64_t line, uint64_t file,
	bool end, size_t n_files)
{
	if (__builtin_expect(*n == d->cap_rows, 0)) {
		if ((*n + 1) * sizeof(*d->rows) > d->max_bytes)
			return -EFBIG;
		if (grow((void **)&d->rows, &d->cap_rows, *n + 1, sizeof(*d->rows)) < 0)
			return -ENOMEM;
	}
	d->rows[*n] = (struct dw_row){
		.l = {
			.addr = addr,
			.line = end || line < 0 || line > UINT32_MAX ? 0 : (uint32_t)line,
			.file = !end && file < n_files ? (uint32_t)file : NO_FILE,
		},
		.order = (uint32_t)*n,
		.end = end,
	};
	(*n)++;
	return 0;
}

static int seq_add(struct sym_dwarf *d, size_t *n_seqs, size_t first, size_t n_rows)
{
	if (n_rows == first)
		return 0;
	if (grow((void **)&d->seqs, &d->cap_seqs, *n_seqs + 1, sizeof(*d->seqs)) < 0)
		return -ENOMEM;
	d->seqs[(*n_seqs)++] = (struct dw_seq){ .first = first, .n = n_rows - first };
	return 0;
}

/*
 * Runs the line program (c: just past the header) into d->rows, one
 * sequence after another (d->seqs). Returns 0 or -ENOMEM; a corrupt
 * program ends early with the rows read so far.
 */
static int line_program(struct sym_dwarf *d, struct dw_cu *cu, const struct line_hdr *h,
			struct dw_cur *c, size_t *ret_rows, size_t *ret_seqs)
{
	uint64_t addr = 0, file = 1;
	int64_t line = 1;
	size_t n = 0, n_seqs = 0, seq = 0;
	int r = 0;

	while (r == 0 && c->p < c->end && !c->bad) {
		uint8_t op = (uint8_t)cur_u(c, 1);

		if (op >= h->opcode_base) {
			unsigned adj = op - h->opcode_base;

			addr += (uint64_t)(adj / h->line_range) * h->min_inst;
			line += h->line_base + (int)(adj % h->line_range);
			r = row_add(d, &n, addr, line, file, false, cu->n_files);
			continue;
		}
		switch (op) {
		case 0: {
			uint64_t len = cur_uleb(c);
			const uint8_t *next;
			uint8_t sub;

			if (c->bad || len > (uint64_t)(c->end - c->p)) {
				c->bad = true;
				break;
			}
			next = c->p + len;
			if (len == 0)
				break;
			sub = (uint8_t)cur_u(c, 1);
			if (sub == DW_LNE_end_sequence) {
				r = row_add(d, &n, addr, line, file, true, cu->n_files);
				r = r ? r : seq_add(d, &n_seqs, seq, n);
				seq = n;
				addr = 0;
				file = 1;
				line = 1;
			} else if (sub == DW_LNE_set_address && (len == 5 || len == 9)) {
				addr = cur_u(c, (unsigned)len - 1);
			}
			/* DW_LNE_define_file (DWARF 2-4, unused by compilers
			 * for decades) and others are skipped. */
			c->p = next;
			break;
		}
		case DW_LNS_copy:
			r = row_add(d, &n, addr, line, file, false, cu->n_files);
			break;
		case DW_LNS_advance_pc:
			addr += cur_uleb(c) * h->min_inst;
			break;
		case DW_LNS_advance_line:
			line += cur_sleb(c);
			break;
		case DW_LNS_set_file:
			file = cur_uleb(c);
			break;
		case DW_LNS_set_column:
			cur_uleb(c);
			break;
		case DW_LNS_negate_stmt:
		case DW_LNS_set_basic_block:
			break;
		case DW_LNS_const_add_pc:
			addr += (uint64_t)((255 - h->opcode_base) / h->line_range) * h->min_inst;
			break;
		case DW_LNS_fixed_advance_pc:
			addr += cur_u(c, 2);
			break;
		default:
			for (unsigned i = 0; i < h->std_len[op]; i++)
				cur_uleb(c);
			break;
		}
	}
	/* A last sequence without its end row still gives its rows. */
	r = r ? r : seq_add(d, &n_seqs, seq, n);
	*ret_rows = n;
	*ret_seqs = n_seqs;
	return r;
}

/* Appends a row to cu->lines unless it changes nothing for a lookup: only
 * the last row at an address counts, and a row that says what the row
 * before it says is not needed (a lookup takes the last row at or below
 * an address). gcc emits a row for every view, column and is_stmt
 * change: this keeps about one row in N. */
static inline __attribute__((always_inline)) void
line_keep(struct dw_cu *cu, size_t *k, const struct dw_line *l)
{
	if (*k && cu->lines[*k - 1].addr == l->addr)
		(*k)--;
	if (*k && cu->lines[*k - 1].line == l->line && cu->lines[*k - 1].file == l->file)
		return;
	cu->lines[(*k)++] = *l;
}

/*
 * Sorted rows into cu->lines: sequences ordered by their first address
 * and laid end to end are sorted already in the usual case (no two
 * sequences overlap), which is checked; otherwise all rows are sorted.
 */
static int lines_finish(struct sym_dwarf *d, struct dw_cu *cu, size_t n, size_t n_seqs)
{
	const struct dw_row *prev = NULL;
	bool sorted = true;
	size_t k = 0;

	if (n == 0)
		return 0;
	cu->lines = malloc(n * sizeof(*cu->lines));
	if (!cu->lines)
		return -ENOMEM;
	qsort_r(d->seqs, n_seqs, sizeof(*d->seqs), seq_cmp, d->rows);
	for (size_t s = 0; s < n_seqs && sorted; s++) {
		for (size_t i = 0; i < d->seqs[s].n && sorted; i++) {
			const struct dw_row *row = &d->rows[d->seqs[s].first + i];

			sorted = !prev || line_cmp(prev, row) <= 0;
			if (sorted)
				line_keep(cu, &k, &row->l);
			prev = row;
		}
	}
	if (!sorted) {
		qsort(d->rows, n, sizeof(*d->rows), line_cmp);
		k = 0;
		for (size_t i = 0; i < n; i++)
			line_keep(cu, &k, &d->rows[i].l);
	}
	shrink((void **)&cu->lines, k, sizeof(*cu->lines));
	cu->n_lines = k;
	return 0;
}

/*
 * The line table of cu at offset off of its .debug_line: files and sorted
 * rows. With ucu (a split unit, whose sections name the .dwo's table and
 * strings), only the file table, into cu->call_files. Returns 0 (also when
 * it is missing or corrupt: then cu->issue says so) or -ENOMEM.
 */
static int read_lines(struct sym_dwarf *d, struct dw_cu *cu, const struct dw_cu *ucu,
		      uint64_t off)
{
	const struct dw_sect *s = ucu ? &ucu->sec[SEC_LINE] : &cu->sec[SEC_LINE];
	const uint8_t *p;
	struct lnct_entry *dirs = NULL, *files = NULL;
	size_t n_dirs = 0, n_files = 0, n_rows = 0, n_seqs = 0;
	struct dw_cu lcu = ucu ? *ucu : *cu;
	struct line_hdr h = { 0 };
	struct dw_cur c, prog;
	uint64_t len, hdr_len;
	uint16_t version;
	int r;

	if (!s->present || off >= s->size)
		return 0;
	lcu.comp_dir = cu->comp_dir;
	/* the unit length first, then the whole unit */
	p = sect_read(s, off, MIN(12, s->size - off), &d->win_line);
	if (!p)
		goto corrupt;
	c = (struct dw_cur){ .p = p, .end = p + MIN(12, s->size - off) };
	len = cur_u(&c, 4);
	lcu.off_size = 4;
	if (len == 0xffffffff) {
		len = cur_u(&c, 8);
		lcu.off_size = 8;
	} else if (len >= 0xfffffff0) {
		goto corrupt;
	}
	hdr_len = (uint64_t)(c.p - p);
	if (c.bad || len > s->size - off - hdr_len)
		goto corrupt;
	p = sect_read(s, off, hdr_len + len, &d->win_line);
	if (!p)
		goto corrupt;
	c = (struct dw_cur){ .p = p + hdr_len, .end = p + hdr_len + len };
	version = (uint16_t)cur_u(&c, 2);
	if (version < 2 || version > 5)
		goto corrupt;
	if (version >= 5) {
		lcu.addr_size = (uint8_t)cur_u(&c, 1);
		cur_u(&c, 1);  /* segment selector size */
		/* read as the unit's (DW_FORM_addr in the entry formats) */
		if (lcu.addr_size != 4 && lcu.addr_size != 8)
			return 0;
	}
	hdr_len = cur_u(&c, lcu.off_size);
	if (c.bad || hdr_len > (uint64_t)(c.end - c.p))
		goto corrupt;
	prog = (struct dw_cur){ .p = c.p + hdr_len, .end = c.end };
	c.end = prog.p;
	h.min_inst = (uint8_t)cur_u(&c, 1);
	if (version >= 4)
		cur_u(&c, 1);  /* maximum_operations_per_instruction: no VLIW */
	cur_u(&c, 1);          /* default_is_stmt: every row counts */
	h.line_base = (int8_t)cur_u(&c, 1);
	h.line_range = (uint8_t)cur_u(&c, 1);
	h.opcode_base = (uint8_t)cur_u(&c, 1);
	if (c.bad || h.line_range == 0 || h.opcode_base == 0)
		goto corrupt;
	for (unsigned i = 1; i < h.opcode_base; i++)
		h.std_len[i] = (uint8_t)cur_u(&c, 1);
	if (version >= 5) {
		r = lnct_read(d, &lcu, &c, &dirs, &n_dirs);
		r = r ? r : lnct_read(d, &lcu, &c, &files, &n_files);
	} else {
		r = v4_entries(&c, false, &dirs, &n_dirs);
		r = r ? r : v4_entries(&c, true, &files, &n_files);
	}
	if (r == 0 && ucu)
		r = files_make(d, &lcu, version >= 5, dirs, n_dirs, files, n_files,
			       &cu->call_files, &cu->n_call_files);
	else if (r == 0)
		r = files_make(d, &lcu, version >= 5, dirs, n_dirs, files, n_files,
			       &cu->files, &cu->n_files);
	free(dirs);
	free(files);
	if (r == -EINVAL) {
		cu->issue = c.unknown ? SYM_DEBUG_UNKNOWN_FORM : SYM_DEBUG_CORRUPT;
		return 0;
	}
	if (r == 0 && !ucu)
		r = line_program(d, cu, &h, &prog, &n_rows, &n_seqs);
	if (r == 0 && !ucu)
		r = lines_finish(d, cu, n_rows, n_seqs);
	return r;
corrupt:
	cu->issue = SYM_DEBUG_CORRUPT;
	return 0;
}
static int raw_cmp(const void *pa, const void *pb)
{
	const struct dw_raw_range *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi > b->hi ? -1 : 1;   /* outer first */
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	return a->scope < b->scope ? -1 : a->scope > b->scope;
}

/* Appends [lo, hi) -> scope, merged with the interval before when they
 * touch. Code ranges longer than 4 GiB exist only in corrupt DWARF: they
 * are cut to their first 4 GiB. */
static int ival_emit(struct dw_cu *cu, size_t *cap, uint64_t lo, uint64_t hi,
		     uint32_t scope)
{
	struct dw_ival *last = cu->n_ivals ? &cu->ivals[cu->n_ivals - 1] : NULL;
	uint32_t len;

	if (lo >= hi)
		return 0;
	len = (uint32_t)MIN(hi - lo, (uint64_t)UINT32_MAX);
	if (last && last->scope == scope && last->lo + last->len == lo &&
	    len <= UINT32_MAX - last->len) {
		last->len += len;
		return 0;
	}
	if (grow((void **)&cu->ivals, cap, cu->n_ivals + 1, sizeof(*cu->ivals)) < 0)
		return -ENOMEM;
	cu->ivals[cu->n_ivals++] = (struct dw_ival){ .lo = lo, .len = len, .scope = scope };
	return 0;
}

/*
 * Nested scope ranges -> disjoint intervals, each naming its innermost
 * scope: a sweep in start order with a stack of the open ranges.
 */
/*
 * Sorts v by raw_cmp() with tmp (n elements) as scratch: a bottom-up
 * merge sort whose comparisons are inlined, which skips merging two runs
 * already in order. Scope ranges come in DIE order, mostly sorted
 * already, and qsort's indirect calls cost more than the merging.
 */
static void raw_sort(struct dw_raw_range *v, struct dw_raw_range *tmp, size_t n)
{
	struct dw_raw_range *src = v, *dst = tmp, *t;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t i = 0; i < n; i += 2 * w) {
			size_t mid = MIN(i + w, n), end = MIN(i + 2 * w, n);
			size_t a = i, b = mid, k = i;

			if (mid == end || raw_cmp(&src[mid - 1], &src[mid]) <= 0) {
				memcpy(dst + i, src + i, (end - i) * sizeof(*src));
				continue;
			}
			while (a < mid && b < end)
				dst[k++] = raw_cmp(&src[b], &src[a]) < 0 ? src[b++] : src[a++];
			memcpy(dst + k, src + a, (mid - a) * sizeof(*src));
			k += mid - a;
			memcpy(dst + k, src + b, (end - b) * sizeof(*src));
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

static int build_ivals(struct sym_dwarf *d, struct dw_cu *cu)
{
	struct dw_raw_range *stack;
	size_t top = 0, cap = 0;
	uint64_t cur = 0;
	int r = 0;

	if (!d->n_raw)
		return 0;
	stack = calloc(d->n_raw, sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	raw_sort(d->raw, stack, d->n_raw);
	for (size_t i = 0; i < d->n_raw && r == 0; i++) {
		struct dw_raw_range rr = d->raw[i];

		while (top && stack[top - 1].hi <= rr.lo && r == 0) {
			r = ival_emit(cu, &cap, cur, stack[top - 1].hi, stack[top - 1].scope);
			cur = MAX(cur, stack[top - 1].hi);
			top--;
		}
		if (top) {
			r = r ? r : ival_emit(cu, &cap, cur, rr.lo, stack[top - 1].scope);
			/* A range that is not nested is cut to its parent. */
			rr.hi = MIN(rr.hi, stack[top - 1].hi);
		}
		cur = MAX(cur, rr.lo);
		if (rr.lo < rr.hi)
			stack[top++] = rr;
	}
	while (top && r == 0) {
		r = ival_emit(cu, &cap, cur, stack[top - 1].hi, stack[top - 1].scope);
		cur = MAX(cur, stack[top - 1].hi);
		top--;
	}
	free(stack);
	return r;
}

static void cu_drop(struct dw_cu *cu)
{
	free(cu->lines);
	free(cu->files);
	free(cu->call_files);
	free(cu->scopes);
	free(cu->ivals);
	cu->lines = NULL;
	cu->files = NULL;
	cu->call_files = NULL;
	cu->scopes = NULL;
	cu->ivals = NULL;
	cu->n_lines = cu->n_files = cu->n_call_files = cu->n_scopes = cu->cap_scopes =
		cu->n_ivals = 0;
}

/* The scratch of reading units from the file, between CUs. */
static void windows_free(struct sym_dwarf *d)
{
	struct dw_win *w[] = { &d->win_unit, &d->win_other, &d->win_line };

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		free(w[i]->buf);
		*w[i] = (struct dw_win){ .max = w[i]->max };
	}
	d->other = NULL;
	pidx_free(d);
}

static void file_free(struct dw_file *f)
{
	for (size_t i = 0; i < f->n_cus; i++)
		cu_drop(&f->cus[i]);
	for (int i = 0; i < SEC_N; i++)
		if (f->sec[i].owned)
			free(f->sec[i].p);
	free(f->cus);
	if (f->fd >= 0)
		close(f->fd);
	*f = (struct dw_file){ .fd = -1 };
}

/* ---- units ------------------------------------------------------------------ */

static int curange_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	size_t *cap = arg;

	if (grow((void **)&d->ranges, cap, d->n_ranges + 1, sizeof(*d->ranges)) < 0)
		return -ENOMEM;
	d->ranges[d->n_ranges++] = (struct dw_curange){
		.lo = lo, .hi = hi, .cu = (uint32_t)(d->main.n_cus - 1),
	};
	return 0;
}

static int curange_cmp(const void *pa, const void *pb)
{
	const struct dw_curange *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->cu < b->cu ? -1 : a->cu > b->cu;
}

/*
 * The header of the unit at off of the .debug_info (or .debug_info.dwo)
 * info: fills cu's offsets, version, sizes, type and (DWARF 5 skeleton and
 * split units) dwo id. Returns 1 and *ret_next, 0 when the unit is not one
 * to read (another version, address size), or -EINVAL when the header is
 * corrupt (the list ends there).
 */
static int unit_header(struct sym_dwarf *d, const struct dw_sect *info, uint64_t off,
		       struct dw_cu *cu, uint64_t *ret_next)
{
	/* the longest unit header: 64-bit DWARF 5 type unit */
	uint64_t want = MIN(40, info->size - off);
	const uint8_t *p = sect_read(info, off, want, &d->win_unit);
	struct dw_cur c = { .p = p, .end = p ? p + want : NULL, .bad = !p };
	uint64_t len = cur_u(&c, 4), abbrev_off, end;
	uint8_t off_size = 4, addr_size, type = DW_UT_compile;
	uint64_t dwo_id = 0;
	uint16_t version;

	if (len == 0xffffffff) {
		len = cur_u(&c, 8);
		off_size = 8;
	} else if (len >= 0xfffffff0) {
		return -EINVAL;
	}
	if (c.bad || len > info->size - off - (uint64_t)(c.p - p))
		return -EINVAL;
	end = off + (uint64_t)(c.p - p) + len;
	version = (uint16_t)cur_u(&c, 2);
	if (version >= 5) {
		type = (uint8_t)cur_u(&c, 1);
		addr_size = (uint8_t)cur_u(&c, 1);
		abbrev_off = cur_u(&c, off_size);
		if (type == DW_UT_skeleton || type == DW_UT_split_compile)
			dwo_id = cur_u(&c, 8);
		else if (type == DW_UT_type || type == DW_UT_split_type)
			cur_skip(&c, 8 + off_size);
	} else {
		abbrev_off = cur_u(&c, off_size);
		addr_size = (uint8_t)cur_u(&c, 1);
	}
	*ret_next = end;
	if (c.bad || version < 2 || version > 5 || (addr_size != 4 && addr_size != 8) ||
	    off + (uint64_t)(c.p - p) > end)
		return 0;
	*cu = (struct dw_cu){
		.off = off, .end = end, .die_off = off + (uint64_t)(c.p - p),
		.abbrev_off = abbrev_off, .version = version, .addr_size = addr_size,
		.off_size = off_size, .unit_type = type, .dwo_id = dwo_id,
		.has_dwo_id = type == DW_UT_skeleton || type == DW_UT_split_compile,
	};
	return 1;
}

/* Reads the unit DIE of cu (abbrevs into d->ab_cur). Returns 1 and *die,
 * 0 when it cannot be read (cu->issue says why), or -ENOMEM. */
static int unit_die_read(struct sym_dwarf *d, struct dw_cu *cu, struct dw_die *die)
{
	int r = abbrevs_load(d, &d->ab_cur, cu);

	if (r < 0) {
		cu->issue = SYM_DEBUG_CORRUPT;
		return r == -ENOMEM ? r : 0;
	}
	/* The unit DIE is near the start: read a little of the unit, all of
	 * it only when the DIE does not fit (a huge inline producer string). */
	for (uint64_t want = MIN(UNIT_DIE_READ, cu->end - cu->die_off);; want = cu->end - cu->die_off) {
		const uint8_t *p = sect_read(&cu->sec[SEC_INFO], cu->die_off, want, &d->win_unit);
		struct dw_cur c;

		if (!p)
			return 0;
		c = (struct dw_cur){ .p = p, .end = p + want };
		r = die_read(cu, &d->ab_cur, &c, die);
		if (r > 0)
			return 1;
		if (r == 0 || want == cu->end - cu->die_off) {
			cu->issue = c.unknown ? SYM_DEBUG_UNKNOWN_FORM : SYM_DEBUG_CORRUPT;
			return 0;
		}
	}
}

/* The bases of cu from its unit DIE: DWARF 5's default to just past the
 * first table header; a DWARF 4 split unit's string offsets have none. */
static void unit_bases(struct dw_cu *cu, const struct dw_die *die)
{
	bool wide = cu->off_size == 8;

	cu->str_offsets_base = die->str_offsets_base.kind == V_U ? die->str_offsets_base.u :
			       cu->version < 5 ? 0 : wide ? 16 : 8;
	cu->addr_base = die->addr_base.kind == V_U ? die->addr_base.u : wide ? 16 : 8;
	cu->rnglists_base = die->rnglists_base.kind == V_U ? die->rnglists_base.u :
			    wide ? 20 : 12;
	if (!val_addr(cu, &die->low, &cu->base))
		cu->base = 0;
}

/* The unit DIE of cu: its bases, comp_dir, line table, whether its DIEs
 * are in a .dwo, and (for a compile or skeleton unit of the binary) its
 * address ranges. Returns 0 or -ENOMEM. */
static int unit_die(struct sym_dwarf *d, struct dw_cu *cu, size_t *cap_ranges)
{
	struct dw_die die;
	const char *s;
	int r;

	r = unit_die_read(d, cu, &die);
	if (r <= 0) {
		if (r == 0 && cu->issue)
			d->issues[cu->issue]++;
		return r;
	}
	unit_bases(cu, &die);
	s = val_str(d, cu, &die.comp_dir);
	if (s) {
		cu->comp_dir = sym_strings__intern(&d->strings, s, strlen(s));
		if (!cu->comp_dir)
			return -ENOMEM;
	}
	cu->has_lines = die.stmt_list.kind == V_U;
	cu->stmt_list = die.stmt_list.u;
	cu->code = die.tag == DW_TAG_compile_unit || die.tag == DW_TAG_skeleton_unit;
	if (!cu->code || !cap_ranges)
		return 0;
	/* A skeleton (DWARF 5), or GCC's DWARF 4 split unit: the DIEs are in
	 * DW_AT_dwo_name; lines and ranges are here. */
	if (cu->unit_type == DW_UT_skeleton || die.dwo_name.kind != V_NONE) {
		cu->split = true;
		s = val_str(d, cu, &die.dwo_name);
		if (s) {
			cu->dwo_name = sym_strings__intern(&d->strings, s, strlen(s));
			if (!cu->dwo_name)
				return -ENOMEM;
		}
		if (die.dwo_id.kind == V_U) {
			cu->dwo_id = die.dwo_id.u;
			cu->has_dwo_id = true;
		}
		if (die.ranges_base.kind == V_U)
			cu->dwo_ranges_base = die.ranges_base.u;
	}
	r = die_ranges(d, cu, &die, curange_add, cap_ranges);
	return r < 0 ? r : 0;
}

/* Lists the units of f's .debug_info (space: where references into it
 * point), with the compile units' ranges when ranges. Returns 0 or
 * -ENOMEM; a corrupt unit header ends the list. */
static int list_cus(struct sym_dwarf *d, struct dw_file *f, uint32_t space, bool ranges)
{
	const struct dw_sect *info = &f->sec[SEC_INFO];
	size_t cap_cus = 0, cap_ranges = 0;
	uint64_t off = 0, next;
	int r = 0;

	while (off < info->size) {
		struct dw_cu cu;

		r = unit_header(d, info, off, &cu, &next);
		if (r < 0) {
			d->issues[SYM_DEBUG_CORRUPT]++;
			break;
		}
		off = next;
		if (r == 0)
			continue;
		if (grow((void **)&f->cus, &cap_cus, f->n_cus + 1, sizeof(*f->cus)) < 0)
			return -ENOMEM;
		cu.sec = f->sec;
		cu.space = space;
		f->cus[f->n_cus++] = cu;
		r = unit_die(d, &f->cus[f->n_cus - 1], ranges ? &cap_ranges : NULL);
		if (r < 0)
			return r;
	}
	windows_free(d);
	if (d->n_ranges)
		qsort(d->ranges, d->n_ranges, sizeof(*d->ranges), curange_cmp);
	d->bytes += cap_cus * sizeof(*f->cus) + cap_ranges * sizeof(*d->ranges);
	return 0;
}

/* ---- split units: .dwo files and .dwp packages ------------------------------ */

/* A view of [off, off + size) of s, or an absent section when it does
 * not fit. */
static struct dw_sect sect_view(const struct dw_sect *s, uint64_t off, uint64_t size)
{
	if (!s->present || off > s->size || size > s->size - off)
		return (struct dw_sect){ .fd = -1 };
	return (struct dw_sect){
		.p = s->p ? s->p + off : NULL, .size = size, .file_off = s->file_off + off,
		.fd = s->fd, .present = true,
	};
}

/* Our section for a DW_SECT_* column of a .dwp index: version 2 (GNU's,
 * for DWARF 4) and 5 share the numbers used here but for 8. */
static int dwp_column(uint32_t version, uint64_t id)
{
	switch (id) {
	case 1: return SEC_INFO;
	case 3: return SEC_ABBREV;
	case 4: return SEC_LINE;
	case 6: return SEC_STR_OFFSETS;
	case 8: return version == 5 ? SEC_RNGLISTS : -1;
	default: return -1;
	}
}

/* The unit of dwo id id in the .dwp: the views of its contributions in
 * d->split_sec. Returns true when found. */
static bool dwp_find(struct sym_dwarf *d, uint64_t id)
{
	const struct dw_sect *ix = &d->dwp.sec[SEC_CU_INDEX];
	struct dw_cur c = sect_cur(ix, 0, ix->size), h, t;
	uint64_t version, cols, units, slots, mask, slot, step, row = 0;

	version = cur_u(&c, 4);  /* 5: two bytes and two of padding */
	cols = cur_u(&c, 4);
	units = cur_u(&c, 4);
	slots = cur_u(&c, 4);
	if (c.bad || (version != 2 && version != 5) || cols == 0 || cols > 16 ||
	    slots == 0 || (slots & (slots - 1)) || slots > (1u << 24) || units > (1u << 24) ||
	    (uint64_t)(c.end - c.p) < slots * 12 + cols * 4 + units * cols * 8)
		return false;
	mask = slots - 1;
	step = ((id >> 32) & mask) | 1;
	slot = id & mask;
	for (uint64_t k = 0; k < slots; k++, slot = (slot + step) & mask) {
		uint64_t sig, r;

		h = (struct dw_cur){ .p = c.p + slot * 8, .end = c.end };
		sig = cur_u(&h, 8);
		h = (struct dw_cur){ .p = c.p + slots * 8 + slot * 4, .end = c.end };
		r = cur_u(&h, 4);
		if (r && sig == id) {
			row = r;
			break;
		}
		if (!r && !sig)
			break;
	}
	if (row == 0 || row > units)
		return false;
	/* columns' section ids, then the offsets and sizes of each row */
	for (uint64_t col = 0; col < cols; col++) {
		const uint8_t *ids = c.p + slots * 12;
		const uint8_t *offs = ids + cols * 4, *sizes = offs + units * cols * 4;
		uint64_t sid, off, size;
		int sec;

		t = (struct dw_cur){ .p = ids + col * 4, .end = c.end };
		sid = cur_u(&t, 4);
		t = (struct dw_cur){ .p = offs + ((row - 1) * cols + col) * 4, .end = c.end };
		off = cur_u(&t, 4);
		t = (struct dw_cur){ .p = sizes + ((row - 1) * cols + col) * 4, .end = c.end };
		size = cur_u(&t, 4);
		sec = dwp_column((uint32_t)version, sid);
		if (!t.bad && sec >= 0)
			d->split_sec[sec] = sect_view(&d->dwp.sec[sec], off, size);
	}
	d->split_sec[SEC_STR] = sect_view(&d->dwp.sec[SEC_STR], 0, d->dwp.sec[SEC_STR].size);
	return d->split_sec[SEC_INFO].present && d->split_sec[SEC_ABBREV].present;
}

static int file_load(struct sym_dwarf *d, struct dw_file *f, int fd, bool dwo);
static int file_cost(int fd, bool dwo, uint64_t *ret_cost);

/* The .dwo of skeleton sk: DW_AT_dwo_name, under DW_AT_comp_dir unless
 * absolute, in the process's root. Returns 0 (its sections in
 * d->split_sec), -ENOENT, or -ENOMEM. */
static int dwo_open(struct sym_dwarf *d, const struct dw_cu *sk)
{
	uint64_t cost = 0;
	char *path = NULL;
	int fd, r;

	if (!sk->dwo_name)
		return -ENOENT;
	if (sk->dwo_name[0] == '/' || !sk->comp_dir)
		path = strdup(sk->dwo_name);
	else if (asprintf(&path, "%s/%s", sk->comp_dir, sk->dwo_name) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	fd = sym_debug_open(&(struct sym_fs){ .root_fd = d->root_fd, .refused = d->refused },
			    path);
	free(path);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -ENOENT;
	/* the .dwo is another user's file too: charged before it is read */
	if (file_cost(fd, true, &cost) < 0 || cost > d->max_bytes) {
		if (cost > d->max_bytes && d->refused)
			d->refused[SYM_REFUSED_BUDGET]++;
		close(fd);
		return -ENOENT;
	}
	r = file_load(d, &d->dwo, fd, true);
	if (r < 0)
		return r;
	if (!d->dwo.sec[SEC_INFO].present || !d->dwo.sec[SEC_ABBREV].present)
		return -ENODATA;
	for (int i = SEC_INFO; i <= SEC_RNGLISTS; i++)
		d->split_sec[i] = sect_view(&d->dwo.sec[i], 0, d->dwo.sec[i].size);
	return 0;
}

/* Forgets the split unit read last (and closes its .dwo). */
static void split_end(struct sym_dwarf *d)
{
	file_free(&d->dwo);
	memset(d->split_sec, 0, sizeof(d->split_sec));
	d->split = (struct dw_cu){ 0 };
	/* the views are gone: so are abbreviations parsed from them */
	if (d->ab_cur.sec == &d->split_sec[SEC_ABBREV])
		d->ab_cur.valid = false;
	if (d->ab_other.sec == &d->split_sec[SEC_ABBREV])
		d->ab_other.valid = false;
}

/*
 * The split unit of skeleton sk (the index-th unit) into d->split: from
 * the .dwp when it has the dwo id, else from the .dwo, checked against
 * the dwo id. Returns 1 when found, 0 when not (sk->issue says why), or
 * -ENOMEM.
 */
static int split_begin(struct sym_dwarf *d, struct dw_cu *sk, size_t index)
{
	const struct dw_sect *info;
	uint64_t off = 0, next;
	bool found = false, other = false;
	int r;

	split_end(d);
	if (!(d->dwp.sec[SEC_CU_INDEX].present && sk->has_dwo_id && dwp_find(d, sk->dwo_id))) {
		memset(d->split_sec, 0, sizeof(d->split_sec));
		r = dwo_open(d, sk);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			split_end(d);
			sk->issue = r == -ENOENT ? SYM_DEBUG_DWO_MISSING : SYM_DEBUG_CORRUPT;
			return 0;
		}
	}
	/* addresses and DWARF 4 ranges stay in the binary */
	d->split_sec[SEC_ADDR] = d->main.sec[SEC_ADDR];
	d->split_sec[SEC_RANGES] = d->main.sec[SEC_RANGES];
	d->split_sec[SEC_ADDR].owned = d->split_sec[SEC_RANGES].owned = false;
	info = &d->split_sec[SEC_INFO];
	while (!found && off < info->size) {
		struct dw_cu cu;
		struct dw_die die;

		r = unit_header(d, info, off, &cu, &next);
		if (r < 0)
			break;
		off = next;
		if (r == 0 || (cu.version >= 5 && cu.unit_type != DW_UT_split_compile))
			continue;
		cu.sec = d->split_sec;
		cu.space = SPACE_SPLIT + (uint32_t)index;
		cu.addr_base = sk->addr_base;
		r = unit_die_read(d, &cu, &die);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (die.dwo_id.kind == V_U) {
			cu.dwo_id = die.dwo_id.u;
			cu.has_dwo_id = true;
		}
		if (sk->has_dwo_id && (!cu.has_dwo_id || cu.dwo_id != sk->dwo_id)) {
			other = true;
			continue;
		}
		unit_bases(&cu, &die);
		/* what the skeleton says for the whole unit */
		cu.addr_base = sk->addr_base;
		if (!val_addr(&cu, &die.low, &cu.base))
			cu.base = sk->base;
		cu.ranges_base = sk->dwo_ranges_base;
		cu.comp_dir = sk->comp_dir;
		cu.code = true;
		d->split = cu;
		found = true;
	}
	if (!found) {
		split_end(d);
		sk->issue = other ? SYM_DEBUG_DWO_MISMATCH : SYM_DEBUG_CORRUPT;
		return 0;
	}
	return 1;
}

/* ---- one compile unit ------------------------------------------------------- */

static int cu_load(struct sym_dwarf *d, struct dw_cu *cu)
{
	const struct dw_cu *ucu = cu;  /* the unit whose DIEs are read */
	struct dw_die die;
	struct dw_cur c = { .bad = false };
	int r = 0;

	cu->loaded = true;
	cu->issue = SYM_DEBUG_OK;
	if (!cu->code) {
		cu->failed = true;
		return 0;
	}
	d->n_raw = 0;
	if (cu->has_lines)
		r = read_lines(d, cu, NULL, cu->stmt_list);
	if (r == 0 && cu->split) {
		r = split_begin(d, cu, (size_t)(cu - d->main.cus));
		ucu = r > 0 ? &d->split : NULL;
		/* the .dwo's file table numbers DW_AT_call_file */
		if (ucu && d->split_sec[SEC_LINE].present)
			r = read_lines(d, cu, ucu, 0);
		r = r < 0 ? r : 0;
	}
	if (r == 0 && ucu) {
		r = abbrevs_load(d, &d->ab_cur, ucu);
		if (r == -EINVAL) {
			cu->issue = cu->issue ? cu->issue : SYM_DEBUG_CORRUPT;
			r = 0;
			ucu = NULL;
		}
	}
	if (r == 0 && ucu) {
		d->unit_base = sect_read(&ucu->sec[SEC_INFO], ucu->off, ucu->end - ucu->off,
					 &d->win_unit);
		if (!d->unit_base)
			cu->failed = true;  /* the file shrank under us */
	}
	if (r == 0 && ucu && d->unit_base) {
		d->loading = ucu;
		c = (struct dw_cur){ .p = d->unit_base + (ucu->die_off - ucu->off),
				     .end = d->unit_base + (ucu->end - ucu->off) };
		r = die_read(ucu, &d->ab_cur, &c, &die);
		if (r > 0 && die.children)
			r = walk(d, ucu, cu, &c);
		r = r < 0 && r != -EINVAL ? r : 0;
		if (c.bad && !cu->issue)
			cu->issue = c.unknown ? SYM_DEBUG_UNKNOWN_FORM : SYM_DEBUG_CORRUPT;
	}
	if (r == 0)
		r = build_ivals(d, cu);
	d->loading = NULL;
	d->unit_base = NULL;
	windows_free(d);
	split_end(d);
	if (r == -EFBIG) {
		/* Its tables would pass the memory bound (a corrupt or
		 * hostile unit): given up for good, as a corrupt one. */
		cu_drop(cu);
		cu->failed = true;
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	if (r < 0) {
		/* Out of memory: forget the half-read CU, try again later. */
		cu_drop(cu);
		cu->loaded = false;
		cu->failed = false;
		return r;
	}
	if (cu->issue)
		d->issues[cu->issue]++;
	/* held for the binary's life: no slack */
	shrink((void **)&cu->scopes, cu->n_scopes, sizeof(*cu->scopes));
	cu->cap_scopes = cu->n_scopes;
	shrink((void **)&cu->ivals, cu->n_ivals, sizeof(*cu->ivals));
	d->bytes += cu->n_lines * sizeof(*cu->lines) + cu->n_files * sizeof(*cu->files) +
		    cu->n_call_files * sizeof(*cu->call_files) +
		    cu->cap_scopes * sizeof(*cu->scopes) + cu->n_ivals * sizeof(*cu->ivals);
	return 0;
}

/* ---- opening ------------------------------------------------------------- */

/* Which of our sections a section name is: ".debug_X" (or ".zdebug_X",
 * compressed the GNU way); in a .dwo or .dwp ".debug_X.dwo" and the unit
 * index. -1 for others. */
static int sect_id(const char *name, bool dwo)
{
	const char *rest;
	size_t len;

	if (!strncmp(name, ".debug_", 7))
		rest = name + 7;
	else if (!strncmp(name, ".zdebug_", 8))
		rest = name + 8;
	else
		return -1;
	len = strlen(rest);
	if (dwo && !strcmp(rest, sec_names[SEC_CU_INDEX]))
		return SEC_CU_INDEX;
	if (dwo) {
		if (len < 4 || strcmp(rest + len - 4, ".dwo") != 0)
			return -1;
		len -= 4;
	}
	for (int i = 0; i < (dwo ? SEC_RNGLISTS + 1 : SEC_CU_INDEX); i++)
		if (strlen(sec_names[i]) == len && !strncmp(rest, sec_names[i], len))
			return i;
	return -1;
}

/*
 * What a section costs held in memory, from its header: a compressed one
 * at the size it claims inflated (and its own while that is made),
 * .debug_info and .debug_line (also a
 * .dwo's) nothing (read a unit at a time), others their size. 0 for one that
 * is left out (corrupt, or compressed beyond what zlib and zstd do).
 */
static uint64_t sect_cost(int fd, uint64_t file_size, Elf *elf, Elf_Scn *scn,
			  const GElf_Shdr *shdr, const char *name, int id)
{
	struct sym_compressed z;
	uint8_t hdr[12];
	int r;

	if (shdr->sh_type == SHT_NOBITS || shdr->sh_size == 0 ||
	    shdr->sh_offset > file_size || shdr->sh_size > file_size - shdr->sh_offset)
		return 0;
	r = sym_section_compression(elf, scn, shdr, name, &z);
	if (r < 0)
		return 0;
	if (r > 0 && z.gnu) {
		/* "ZLIB" and the size, big-endian */
		if (shdr->sh_size < sizeof(hdr) ||
		    pread(fd, hdr, sizeof(hdr), (off_t)shdr->sh_offset) != (ssize_t)sizeof(hdr) ||
		    memcmp(hdr, "ZLIB", 4) != 0)
			return 0;
		for (int i = 4; i < 12; i++)
			z.size = z.size << 8 | hdr[i];
	}
	/* held inflated, and the compressed bytes while it is inflated */
	if (r > 0)
		return z.size / 1100 > z.data_len ? 0 : z.size + z.data_len;
	return id == SEC_INFO || id == SEC_LINE ? 0 : shdr->sh_size;
}

/* What loading the debug sections of the ELF file at fd would hold
 * (sect_cost(), the first section of each kind), or UINT64_MAX when one
 * section would pass SYM_DWARF_MAX_SECTION. Returns 0 or -ENODATA. */
static int file_cost(int fd, bool dwo, uint64_t *ret_cost)
{
	bool seen[SEC_N] = { false };
	Elf_Scn *scn = NULL;
	uint64_t cost = 0, largest = 0;
	struct stat st;
	size_t shstrndx;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) < 0)
		return -ENODATA;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENODATA;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0) {
		elf_end(elf);
		return -ENODATA;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;
		uint64_t c;
		int id;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		id = name ? sect_id(name, dwo) : -1;
		if (id < 0 || seen[id])
			continue;
		c = sect_cost(fd, (uint64_t)st.st_size, elf, scn, &shdr, name, id);
		seen[id] = c > 0;
		cost += c;
		largest = MAX(largest, c);
	}
	elf_end(elf);
	*ret_cost = largest > SYM_DWARF_MAX_SECTION ? UINT64_MAX : cost;
	return 0;
}

int sym_dwarf__cost(int fd, uint64_t *ret_bytes)
{
	return file_cost(fd, false, ret_bytes);
}

/* Reads a section into a buffer of our own: uncompressed ones straight
 * from the file, compressed ones inflated (zlib or zstd). A section that
 * does not fit in the file, claims to inflate beyond reason, or is
 * compressed in a way we cannot inflate is left out and counted. String
 * sections are cut after their last NUL so every offset inside names a
 * whole string. */
static int sect_load(struct sym_dwarf *d, int fd, uint64_t file_size, Elf *elf,
		     Elf_Scn *scn, const GElf_Shdr *shdr, const char *name, int id,
		     struct dw_sect *out)
{
	struct sym_compressed z;
	uint8_t *buf;
	size_t size;
	int r;

	if (shdr->sh_type == SHT_NOBITS || out->present || shdr->sh_size == 0)
		return 0;
	if (shdr->sh_offset > file_size || shdr->sh_size > file_size - shdr->sh_offset) {
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	r = sym_section_compression(elf, scn, shdr, name, &z);
	if (r < 0) {
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	if (r > 0) {
		r = sym_section_inflate(fd, file_size, shdr, &z, &buf);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			d->issues[r == -EPROTONOSUPPORT ? SYM_DEBUG_COMPRESSION : SYM_DEBUG_CORRUPT]++;
			return 0;
		}
		size = (size_t)z.size;
	} else if (id == SEC_INFO || id == SEC_LINE) {
		/* read a unit at a time through a window (sect_read()) */
		*out = (struct dw_sect){ .size = shdr->sh_size, .file_off = shdr->sh_offset,
					 .fd = fd, .present = true };
		return 0;
	} else {
		size = shdr->sh_size;
		if (size > SIZE_MAX / 2)
			return 0;
		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		for (size_t done = 0; done < size;) {
			ssize_t n = pread(fd, buf + done, size - done,
					  (off_t)(shdr->sh_offset + done));

			if (n <= 0) {
				free(buf);
				return 0;  /* past the end of the file: no section */
			}
			done += (size_t)n;
		}
	}
	if (id == SEC_STR || id == SEC_LINE_STR)
		while (size && buf[size - 1] != '\0')
			size--;
	*out = (struct dw_sect){ .p = buf, .size = size, .fd = fd, .present = true,
				 .owned = true };
	return 0;
}

static const uint8_t *sect_read(const struct dw_sect *s, uint64_t off, uint64_t len,
				struct dw_win *w)
{
	if (!s->present || off > s->size || len > s->size - off)
		return NULL;
	if (s->p)
		return s->p + off;
	if (w->max && len > w->max)
		return NULL;  /* a unit bigger than the memory bound */
	if (len > w->cap) {
		uint8_t *p = realloc(w->buf, len);

		if (!p)
			return NULL;
		w->buf = p;
		w->cap = len;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(s->fd, w->buf + done, len - done,
				  (off_t)(s->file_off + off + done));

		if (n <= 0)
			return NULL;  /* the file shrank: treated as corrupt */
		done += (size_t)n;
	}
	return w->buf;
}

/* The debug sections of the ELF file at fd into f, which takes fd (a
 * .dwo or .dwp's when dwo). Returns 0 (sections that cannot be read are
 * left out and counted), -ENODATA when it is no little-endian ELF file,
 * or -ENOMEM. */
static int file_load(struct sym_dwarf *d, struct dw_file *f, int fd, bool dwo)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	struct stat st;
	size_t shstrndx;
	int r = 0;

	f->fd = fd;
	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) < 0)
		return -ENODATA;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENODATA;
	/* The decoder reads little-endian values. */
	if (elf_kind(elf) != ELF_K_ELF || elf_getident(elf, NULL)[EI_DATA] != ELFDATA2LSB ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0) {
		elf_end(elf);
		return -ENODATA;
	}
	while (r == 0 && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;
		int id;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		id = name ? sect_id(name, dwo) : -1;
		if (id >= 0)
			r = sect_load(d, fd, (uint64_t)st.st_size, elf, scn, &shdr, name, id,
				      &f->sec[id]);
	}
	elf_end(elf);
	/* a .dwo is read and closed within one unit's load: scratch */
	for (int i = 0; i < SEC_N && f != &d->dwo; i++)
		if (f->sec[i].owned)
			d->section_bytes += f->sec[i].size;
	return r;
}

/* The supplementary file: its units, so that references into it find
 * their DIEs. A file without them is one we do not have. */
static int alt_load(struct sym_dwarf *d, int alt_fd)
{
	int fd = fcntl(alt_fd, F_DUPFD_CLOEXEC, 3), r;

	if (fd < 0)
		return -errno;
	r = file_load(d, &d->alt, fd, false);
	if (r == 0 && d->alt.sec[SEC_INFO].present && d->alt.sec[SEC_ABBREV].present)
		r = list_cus(d, &d->alt, SPACE_ALT, false);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || d->alt.n_cus == 0) {
		file_free(&d->alt);
		d->alt_issue = SYM_DEBUG_CORRUPT;
		d->issues[SYM_DEBUG_CORRUPT]++;
	}
	return 0;
}

int sym_dwarf__open_bounded(int fd, const struct sym_dwarf_files *files, uint64_t max_bytes,
			    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues)
{
	uint64_t cost = 0, more;
	struct sym_dwarf *d;
	int dfd, r;

	if (max_bytes == 0)
		max_bytes = SYM_DEFAULT_MAX_MEMORY;
	/* Charged before anything is read or inflated: a section claiming
	 * hundreds of MB from a few hundred KB is refused, not inflated (the
	 * supplementary file and the .dwp are held too). */
	r = file_cost(fd, false, &cost);
	if (r < 0)
		return r;
	if (r == 0 && files && files->alt_fd >= 0 && file_cost(files->alt_fd, false, &more) == 0)
		cost = more > UINT64_MAX - cost ? UINT64_MAX : cost + more;
	if (r == 0 && files && files->dwp_fd >= 0 && file_cost(files->dwp_fd, true, &more) == 0)
		cost = more > UINT64_MAX - cost ? UINT64_MAX : cost + more;
	if (cost > max_bytes)
		return -EFBIG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max_bytes = max_bytes;
	d->win_unit.max = d->win_other.max = d->win_line.max = max_bytes;
	d->refused = files ? files->refused : NULL;
	d->main.fd = d->alt.fd = d->dwp.fd = d->dwo.fd = d->root_fd = -1;
	/* kept: units are read from the file when first looked up */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		r = -errno;
		free(d);
		return r;
	}
	r = file_load(d, &d->main, dfd, false);
	if (r == 0 && files && files->alt_fd >= 0)
		r = alt_load(d, files->alt_fd);
	else if (r == 0 && files && files->alt_issue) {
		d->alt_issue = files->alt_issue;
		d->issues[files->alt_issue]++;
	}
	if (r == 0 && files && files->dwp_fd >= 0) {
		dfd = fcntl(files->dwp_fd, F_DUPFD_CLOEXEC, 3);
		r = dfd < 0 ? -errno : file_load(d, &d->dwp, dfd, true);
		if (r == -ENODATA) {
			file_free(&d->dwp);
			d->issues[SYM_DEBUG_CORRUPT]++;
			r = 0;
		}
	}
	if (r == 0 && files && files->root_fd >= 0) {
		d->root_fd = fcntl(files->root_fd, F_DUPFD_CLOEXEC, 3);
		if (d->root_fd < 0)
			r = -errno;
	}
	if (r == 0 && (!d->main.sec[SEC_INFO].present || !d->main.sec[SEC_ABBREV].present))
		r = -ENODATA;
	if (r == 0)
		r = list_cus(d, &d->main, SPACE_MAIN, true);
	if (r == 0 && d->n_ranges == 0)
		r = -ENODATA;
	if (ret_issues)
		memcpy(ret_issues, d->issues, sizeof(d->issues));
	if (r < 0) {
		sym_dwarf__free(d);
		return r;
	}
	*ret_dwarf = d;
	return 0;
}

int sym_dwarf__open(int fd, const struct sym_dwarf_files *files,
		    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues)
{
	return sym_dwarf__open_bounded(fd, files, 0, ret_dwarf, ret_issues);
}

static void abbrevs_fini(struct dw_abbrevs *ab)
{
	free(ab->v);
	free(ab->specs);
}

void sym_dwarf__free(struct sym_dwarf *d)
{
	if (!d)
		return;
	split_end(d);
	file_free(&d->main);
	file_free(&d->alt);
	file_free(&d->dwp);
	free(d->ranges);
	free(d->names);
	free(d->raw);
	free(d->rows);
	free(d->seqs);
	abbrevs_fini(&d->ab_cur);
	abbrevs_fini(&d->ab_other);
	windows_free(d);
	sym_strings__fini(&d->strings);
	if (d->root_fd >= 0)
		close(d->root_fd);
	free(d);
}

const uint32_t *sym_dwarf__issues(const struct sym_dwarf *d)
{
	return d->issues;
}

int sym_dwarf__range(const struct sym_dwarf *d, size_t i, uint64_t *ret_lo,
		     uint64_t *ret_hi)
{
	if (i >= d->n_ranges)
		return -ENOENT;
	*ret_lo = d->ranges[i].lo;
	*ret_hi = d->ranges[i].hi;
	return 0;
}

size_t sym_dwarf__memory(const struct sym_dwarf *d)
{
	const struct dw_abbrevs *ab[2];
	size_t n;

	if (!d)
		return 0;
	ab[0] = &d->ab_cur;
	ab[1] = &d->ab_other;
	n = sizeof(*d) + d->bytes + d->section_bytes + d->strings.bytes +
	    d->cap_raw * sizeof(*d->raw) + d->cap_rows * sizeof(*d->rows) +
	    d->cap_seqs * sizeof(*d->seqs);
	for (size_t i = 0; i < 2; i++)
		n += ab[i]->cap * sizeof(*ab[i]->v) + ab[i]->cap_specs * sizeof(*ab[i]->specs);
	return n;
}

/* ---- lookups --------------------------------------------------------------- */

static struct dw_cu *cu_find(struct sym_dwarf *d, uint64_t vaddr)
{
	size_t lo = sym_sorted__count_le(d->ranges, d->n_ranges, sizeof(*d->ranges), vaddr);

	for (size_t i = lo, k = 0; i > 0 && k < CU_LOOKBACK; i--, k++)
		if (vaddr < d->ranges[i - 1].hi)
			return &d->main.cus[d->ranges[i - 1].cu];
	return NULL;
}

int sym_dwarf__lookup(struct sym_dwarf *d, uint64_t vaddr,
		      struct sym_dwarf_frame *ret_frames, size_t max)
{
	struct dw_cu *cu = cu_find(d, vaddr);
	const char *file = NULL;
	uint32_t line = 0;
	size_t i, n = 0;
	int64_t s = -1;
	int r;

	if (!cu || max == 0)
		return 0;
	if (!cu->loaded) {
		r = cu_load(d, cu);
		if (r < 0)
			return r;
	}
	if (cu->failed)
		return 0;
	i = sym_sorted__count_le(cu->lines, cu->n_lines, sizeof(*cu->lines), vaddr);
	/* an end-of-sequence row has line 0 and no file */
	if (i > 0 && cu->lines[i - 1].line && cu->lines[i - 1].file != NO_FILE) {
		file = cu->files[cu->lines[i - 1].file];
		line = cu->lines[i - 1].line;
	}
	i = sym_sorted__count_le(cu->ivals, cu->n_ivals, sizeof(*cu->ivals), vaddr);
	if (i > 0 && vaddr - cu->ivals[i - 1].lo < cu->ivals[i - 1].len)
		s = cu->ivals[i - 1].scope;
	ret_frames[n++] = (struct sym_dwarf_frame){
		.name = s >= 0 ? cu->scopes[s].name : NULL,
		.file = file,
		.line = file ? line : 0,
		/* a unit that lost its DIEs (a .dwo missing, a form we do
		 * not know) costs the innermost frame its inline chain */
		.issue = s >= 0 && cu->scopes[s].lost ? d->alt_issue :
			 s >= 0 && cu->scopes[s].unresolved ? SYM_DEBUG_NAME_UNRESOLVED : cu->issue,
	};
	/* Up the inline chain: each caller is at the call site of its callee.
	 * When max is short, the outermost (real) function replaces the last
	 * inlined one kept. */
	while (s >= 0 && cu->scopes[s].inlined && cu->scopes[s].parent >= 0) {
		const struct dw_scope *sc = &cu->scopes[s];
		const struct dw_scope *up = &cu->scopes[sc->parent];
		struct sym_dwarf_frame f = {
			.name = up->name,
			.file = sc->call_file,
			.line = sc->call_file ? sc->call_line : 0,
			.issue = up->lost ? d->alt_issue :
				 up->unresolved ? SYM_DEBUG_NAME_UNRESOLVED : SYM_DEBUG_OK,
		};

		if (n < max)
			ret_frames[n++] = f;
		else
			ret_frames[max - 1] = f;
		s = sc->parent;
	}
	return (int)n;
}

/* ---- structure layouts ------------------------------------------------- */

/* A definition (not a declaration) of a structure or union with members. */
static bool is_layout(const struct dw_ndie *nd)
{
	return (nd->tag == DW_TAG_structure_type || nd->tag == DW_TAG_union_type) &&
	       !nd->m.declaration && nd->child;
}

int sym_dwarf__find_types(struct sym_dwarf *d, const char *const *names, size_t n,
			  uint64_t *ret_offs)
{
	size_t left = n;
	uint64_t *found = calloc(n ? n : 1, sizeof(*found));
	int r = 0;

	if (!found)
		return -ENOMEM;
	/* Types are defined at a unit's top level in C: walk those DIEs of
	 * every unit until each name has a definition. */
	for (size_t u = 0; u < d->main.n_cus && left && r >= 0; u++) {
		const struct dw_cu *cu = &d->main.cus[u];
		struct dw_ndie unit, nd;
		uint64_t off;

		if (!cu->code || cu->split)
			continue;
		r = ndie_at(d, REF(cu->space, cu->die_off), &unit);
		if (r < 0) {
			r = r == -ENOMEM ? r : 0;  /* a bad unit: the next */
			continue;
		}
		for (off = unit.child; off && left; off = ndie_next(d, &nd)) {
			r = ndie_at(d, off, &nd);
			if (r <= 0) {
				r = r == -ENOMEM ? r : 0;
				break;
			}
			if (!nd.name || (nd.tag != DW_TAG_typedef && !is_layout(&nd)))
				continue;
			for (size_t i = 0; i < n; i++) {
				struct dw_ndie t;

				if (found[i] || strcmp(nd.name, names[i]) != 0)
					continue;
				if (nd.tag == DW_TAG_typedef) {
					/* what it names, when defined here */
					if (type_resolve(d, &nd.m, true, &t) <= 0 || !is_layout(&t))
						continue;
					found[i] = t.off;
				} else {
					found[i] = nd.off;
				}
				left--;
			}
		}
	}
	if (r >= 0)
		memcpy(ret_offs, found, n * sizeof(*found));
	free(found);
	return r < 0 ? r : 0;
}

int sym_dwarf__type_size(struct sym_dwarf *d, uint64_t type, uint64_t *ret_size)
{
	struct dw_ndie nd;
	int r = ndie_at(d, type, &nd);

	if (r < 0)
		return r;
	if (r == 0 || !nd.m.has_byte_size)
		return -ENOENT;
	*ret_size = nd.m.byte_size;
	return 0;
}

int sym_dwarf__member_offset(struct sym_dwarf *d, uint64_t type, const char *path,
			     uint64_t *ret_off)
{
	uint64_t total = 0;
	struct dw_ndie s, m;
	int r;

	r = ndie_at(d, type, &s);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	/* One member name at a time: a.b is b in the type of a. */
	for (int depth = 0; depth < MAX_BUILD_DEPTH; depth++) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		uint64_t off;
		bool hit = false;

		if (!is_layout(&s))
			return -ENOENT;
		for (off = s.child; off; off = ndie_next(d, &m)) {
			r = ndie_at(d, off, &m);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			if (m.tag == DW_TAG_member && m.name && strlen(m.name) == len &&
			    !strncmp(m.name, path, len)) {
				hit = true;
				break;
			}
		}
		if (!hit || (s.tag == DW_TAG_structure_type && !m.m.has_member_location))
			return -ENOENT;
		total += m.m.has_member_location ? m.m.member_location : 0;
		if (!dot) {
			*ret_off = total;
			return 0;
		}
		path = dot + 1;
		r = type_resolve(d, &m.m, true, &s);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
	}
	return -EINVAL;
}
