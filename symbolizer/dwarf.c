/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf.c — DWARF line tables and inlined subroutines of one binary (or of
 * its separate debug file), read with libdwarf. Opening lists the compile
 * units and their address ranges only; a CU's line table and scope tree
 * (subprograms and inlined subroutines, nested) are read on the first lookup
 * that falls into it and kept as sorted arrays:
 *
 *   lines   address -> (file, line), last row at an address wins (as BFD)
 *   ivals   disjoint address intervals -> innermost scope
 *   scopes  name, call site (file, line) and parent of each scope
 *
 * so a lookup is three binary searches and a walk up the parents. Sits
 * below elf.c's symbol table: the session asks here first for names, lines
 * and inline chains, and falls back to ELF symbols for names. libdwarf reads
 * the file lazily through the fd, which this object keeps open: a deleted
 * binary stays readable.
 */
#include "sym-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <gelf.h>
#include <libdwarf.h>
#include <libelf.h>

#include "common.h"

/* Nested DIEs deeper than this are corrupt or not worth following. */
#define MAX_DIE_DEPTH 64
/* abstract_origin / specification hops followed for a name */
#define MAX_NAME_HOPS 6
/* Overlapping CU ranges are rare; look back this far from the nearest. */
#define CU_LOOKBACK 8
#define NO_FILE UINT32_MAX

struct dw_line {
	uint64_t addr;   /* first: sym_sorted__count_le() searches it */
	uint32_t line;   /* 0 for an end-of-sequence row */
	uint32_t file;   /* index into dw_cu.files, or NO_FILE */
	uint32_t order;  /* row order, to keep the last row at an address */
	bool end;
};

struct dw_scope {
	const char *name;       /* interned in sym_dwarf.strings, or NULL */
	const char *call_file;  /* call site of an inlined scope, or NULL */
	uint32_t call_line;
	int32_t parent;         /* index of the enclosing scope, or -1 */
	bool inlined;
};

struct dw_ival {
	uint64_t lo;  /* first: sym_sorted__count_le() searches it */
	uint64_t hi;
	uint32_t scope;
};

struct dw_cu {
	uint64_t die_off;
	bool loaded, failed;
	uint16_t version;
	uint64_t base;           /* CU low_pc: base of DWARF 4 range lists */
	struct dw_line *lines;
	size_t n_lines;
	const char **files;
	size_t n_files;
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
	uint64_t off;       /* 0: empty (offset 0 is a CU header, never a DIE) */
	const char *name;   /* NULL: the DIE has no name */
};

struct sym_dwarf {
	int fd;
	Dwarf_Debug dbg;
	Dwarf_Error err;
	struct dw_cu *cus;
	size_t n_cus;
	struct dw_curange *ranges;
	size_t n_ranges;
	struct sym_strings strings;
	struct dw_name_slot *names;  /* DIE offset -> name, open addressing */
	size_t names_cap, names_used;
	size_t bytes;                /* arrays held, for the memory bound */
	size_t section_bytes;        /* debug sections libdwarf reads in */
	/* scratch while reading one CU */
	struct dw_raw_range *raw;
	size_t n_raw, cap_raw;
};

/* Every libdwarf call gets &d->err; release what a failure allocated. */
static int dw_res(struct sym_dwarf *d, int res)
{
	if (res == DW_DLV_ERROR && d->err) {
		dwarf_dealloc_error(d->dbg, d->err);
		d->err = NULL;
	}
	return res;
}

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

/* ---- address ranges of a DIE ------------------------------------------- */

typedef int (*range_fn)(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg);

static int ranges_v5(struct sym_dwarf *d, Dwarf_Attribute attr, Dwarf_Half form,
		     range_fn fn, void *arg)
{
	Dwarf_Rnglists_Head head = NULL;
	Dwarf_Unsigned value = 0, count = 0, global = 0;
	Dwarf_Off off = 0;
	int r = 0;

	if (form == DW_FORM_rnglistx) {
		if (dw_res(d, dwarf_formudata(attr, &value, &d->err)) != DW_DLV_OK)
			return 0;
	} else {
		if (dw_res(d, dwarf_global_formref(attr, &off, &d->err)) != DW_DLV_OK)
			return 0;
		value = off;
	}
	if (dw_res(d, dwarf_rnglists_get_rle_head(attr, form, value, &head, &count,
						   &global, &d->err)) != DW_DLV_OK)
		return 0;
	for (Dwarf_Unsigned i = 0; i < count && r == 0; i++) {
		unsigned len = 0, code = 0;
		Dwarf_Unsigned raw1, raw2, lo = 0, hi = 0;
		Dwarf_Bool unavailable = 0;

		if (dw_res(d, dwarf_get_rnglists_entry_fields_a(head, i, &len, &code,
				&raw1, &raw2, &unavailable, &lo, &hi, &d->err)) != DW_DLV_OK)
			break;
		if (code == DW_RLE_end_of_list)
			break;
		if (unavailable || code == DW_RLE_base_address ||
		    code == DW_RLE_base_addressx)
			continue;
		if (lo < hi && lo != 0)
			r = fn(d, lo, hi, arg);
	}
	dwarf_dealloc_rnglists_head(head);
	return r;
}

static int ranges_v4(struct sym_dwarf *d, Dwarf_Die die, Dwarf_Attribute attr,
		     uint64_t base, range_fn fn, void *arg)
{
	Dwarf_Ranges *rb = NULL;
	Dwarf_Signed n = 0;
	Dwarf_Unsigned bytes = 0;
	Dwarf_Off off = 0, real = 0;
	int r = 0;

	if (dw_res(d, dwarf_global_formref(attr, &off, &d->err)) != DW_DLV_OK) {
		Dwarf_Unsigned u = 0;

		if (dw_res(d, dwarf_formudata(attr, &u, &d->err)) != DW_DLV_OK)
			return 0;
		off = u;
	}
	if (dw_res(d, dwarf_get_ranges_b(d->dbg, off, die, &real, &rb, &n, &bytes,
					 &d->err)) != DW_DLV_OK)
		return 0;
	for (Dwarf_Signed i = 0; i < n && r == 0; i++) {
		if (rb[i].dwr_type == DW_RANGES_END)
			break;
		if (rb[i].dwr_type == DW_RANGES_ADDRESS_SELECTION) {
			base = rb[i].dwr_addr2;
			continue;
		}
		if (rb[i].dwr_addr1 < rb[i].dwr_addr2 && base + rb[i].dwr_addr1 != 0)
			r = fn(d, base + rb[i].dwr_addr1, base + rb[i].dwr_addr2, arg);
	}
	dwarf_ranges_dealloc(d->dbg, rb, n);
	return r;
}

/*
 * Calls fn for each address range of die (low_pc/high_pc or DW_AT_ranges).
 * Returns 1 when the DIE has ranges, 0 when none, or fn's -errno.
 */
static int die_ranges(struct sym_dwarf *d, Dwarf_Die die, uint16_t version,
		      uint64_t base, range_fn fn, void *arg)
{
	Dwarf_Addr lo = 0, hi = 0;
	Dwarf_Half form = 0;
	enum Dwarf_Form_Class cls = DW_FORM_CLASS_UNKNOWN;
	Dwarf_Attribute attr = NULL;
	int r;

	if (dw_res(d, dwarf_lowpc(die, &lo, &d->err)) == DW_DLV_OK &&
	    dw_res(d, dwarf_highpc_b(die, &hi, &form, &cls, &d->err)) == DW_DLV_OK) {
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		if (lo >= hi || lo == 0)
			return 0;
		r = fn(d, lo, hi, arg);
		return r < 0 ? r : 1;
	}
	if (dw_res(d, dwarf_attr(die, DW_AT_ranges, &attr, &d->err)) != DW_DLV_OK)
		return 0;
	if (dw_res(d, dwarf_whatform(attr, &form, &d->err)) != DW_DLV_OK) {
		dwarf_dealloc_attribute(attr);
		return 0;
	}
	if (form == DW_FORM_rnglistx || version >= 5)
		r = ranges_v5(d, attr, form, fn, arg);
	else
		r = ranges_v4(d, die, attr, base, fn, arg);
	dwarf_dealloc_attribute(attr);
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

static const char *attr_string(struct sym_dwarf *d, Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Attribute attr = NULL;
	char *s = NULL;

	if (dw_res(d, dwarf_attr(die, at, &attr, &d->err)) != DW_DLV_OK)
		return NULL;
	if (dw_res(d, dwarf_formstring(attr, &s, &d->err)) != DW_DLV_OK)
		s = NULL;
	dwarf_dealloc_attribute(attr);
	return s;
}

static bool attr_ref(struct sym_dwarf *d, Dwarf_Die die, Dwarf_Half at,
		     uint64_t *ret_off)
{
	Dwarf_Attribute attr = NULL;
	Dwarf_Off off = 0;
	int res;

	if (dw_res(d, dwarf_attr(die, at, &attr, &d->err)) != DW_DLV_OK)
		return false;
	res = dw_res(d, dwarf_global_formref(attr, &off, &d->err));
	dwarf_dealloc_attribute(attr);
	if (res != DW_DLV_OK || off == 0)
		return false;
	*ret_off = off;
	return true;
}

static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name);

/*
 * The name of a subprogram-like DIE: its mangled linkage name (so C++ and
 * Rust names come out fully qualified once demangled), else its name, else
 * the name of its abstract origin or specification. Returns 0 and
 * *ret_name (interned, or NULL when there is none), or -ENOMEM.
 */
static int die_name(struct sym_dwarf *d, Dwarf_Die die, int hops,
		    const char **ret_name)
{
	const char *s;
	uint64_t ref;

	s = attr_string(d, die, DW_AT_linkage_name);
	if (!s)
		s = attr_string(d, die, DW_AT_MIPS_linkage_name);
	/* Only a mangled (C++, Rust) linkage name says more than the name; a
	 * C asm label (glibc's __GI_qsort for qsort) says less. */
	if (s && strncmp(s, "_Z", 2) != 0 && strncmp(s, "_R", 2) != 0)
		s = NULL;
	if (!s)
		s = attr_string(d, die, DW_AT_name);
	if (s) {
		*ret_name = sym_strings__intern(&d->strings, s, strlen(s));
		return *ret_name ? 0 : -ENOMEM;
	}
	if (hops < MAX_NAME_HOPS &&
	    (attr_ref(d, die, DW_AT_abstract_origin, &ref) ||
	     attr_ref(d, die, DW_AT_specification, &ref)))
		return die_name_at(d, ref, hops + 1, ret_name);
	*ret_name = NULL;
	return 0;
}

/* die_name() of the DIE at a global offset, cached by offset. */
static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name)
{
	Dwarf_Die die = NULL;
	int r;

	if (d->names_cap) {
		struct dw_name_slot *slot = name_slot(d, off);

		if (slot->off == off) {
			*ret_name = slot->name;
			return 0;
		}
	}
	if (dw_res(d, dwarf_offdie_b(d->dbg, off, true, &die, &d->err)) != DW_DLV_OK) {
		*ret_name = NULL;
		return 0;
	}
	r = die_name(d, die, hops, ret_name);
	dwarf_dealloc_die(die);
	if (r < 0)
		return r;
	return name_put(d, off, *ret_name);
}

/* ---- one compile unit ---------------------------------------------------- */

static int raw_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	const struct dw_raw_range *proto = arg;

	if (grow((void **)&d->raw, &d->cap_raw, d->n_raw + 1, sizeof(*d->raw)) < 0)
		return -ENOMEM;
	d->raw[d->n_raw++] = (struct dw_raw_range){
		.lo = lo, .hi = hi, .depth = proto->depth, .scope = proto->scope,
	};
	return 0;
}

static uint32_t call_line(struct sym_dwarf *d, Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Attribute attr = NULL;
	Dwarf_Unsigned v = 0;

	if (dw_res(d, dwarf_attr(die, at, &attr, &d->err)) != DW_DLV_OK)
		return 0;
	if (dw_res(d, dwarf_formudata(attr, &v, &d->err)) != DW_DLV_OK)
		v = 0;
	dwarf_dealloc_attribute(attr);
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

static int scope_add(struct sym_dwarf *d, struct dw_cu *cu, Dwarf_Die die,
		     Dwarf_Half tag, int32_t parent, uint32_t depth,
		     int32_t *ret_scope)
{
	struct dw_raw_range proto = { .depth = depth, .scope = (uint32_t)cu->n_scopes };
	struct dw_scope sc = { .parent = parent, .inlined = tag == DW_TAG_inlined_subroutine };
	size_t n_raw = d->n_raw;
	int r;

	r = die_ranges(d, die, cu->version, cu->base, raw_add, &proto);
	if (r <= 0) {
		*ret_scope = -1;
		return r;
	}
	r = die_name(d, die, 0, &sc.name);
	if (r < 0)
		return r;
	if (sc.inlined) {
		uint32_t file = call_line(d, die, DW_AT_call_file);

		sc.call_line = call_line(d, die, DW_AT_call_line);
		/* call_file is an index into the CU's line table file list */
		sc.call_file = file < cu->n_files ? cu->files[file] : NULL;
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

static int walk(struct sym_dwarf *d, struct dw_cu *cu, Dwarf_Die parent_die,
		int32_t parent, uint32_t depth)
{
	Dwarf_Die die = NULL, next = NULL;
	int r = 0;

	if (depth > MAX_DIE_DEPTH)
		return 0;
	if (dw_res(d, dwarf_child(parent_die, &die, &d->err)) != DW_DLV_OK)
		return 0;
	while (die && r == 0) {
		Dwarf_Half tag = 0;
		int32_t scope;

		if (dw_res(d, dwarf_tag(die, &tag, &d->err)) != DW_DLV_OK)
			tag = 0;
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_entry_point:
			r = scope_add(d, cu, die, tag, parent, depth, &scope);
			/* No range: a declaration or an abstract instance,
			 * whose children have no code either. */
			if (r == 0 && scope >= 0)
				r = walk(d, cu, die, scope, depth + 1);
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
		case DW_TAG_module:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			r = walk(d, cu, die, parent, depth + 1);
			break;
		default:
			break;
		}
		next = NULL;
		if (dw_res(d, dwarf_siblingof_b(d->dbg, die, true, &next, &d->err)) != DW_DLV_OK)
			next = NULL;
		dwarf_dealloc_die(die);
		die = next;
	}
	if (die)
		dwarf_dealloc_die(die);
	return r;
}

static int line_cmp(const void *pa, const void *pb)
{
	const struct dw_line *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	/* An end of sequence before a row that starts another one there. */
	if (a->end != b->end)
		return a->end ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int read_lines(struct sym_dwarf *d, struct dw_cu *cu, Dwarf_Die cudie)
{
	Dwarf_Unsigned version = 0;
	Dwarf_Small table_count = 0;
	Dwarf_Line_Context ctx = NULL;
	Dwarf_Line *rows = NULL;
	Dwarf_Signed n_rows = 0, base = 1, count = 0, end = 0, n_src = 0;
	char **src = NULL;
	int r = 0;

	if (dw_res(d, dwarf_srclines_b(cudie, &version, &table_count, &ctx,
				       &d->err)) != DW_DLV_OK)
		return 0;
	if (dw_res(d, dwarf_srclines_from_linecontext(ctx, &rows, &n_rows,
						      &d->err)) != DW_DLV_OK)
		n_rows = 0;
	if (dw_res(d, dwarf_srclines_files_indexes(ctx, &base, &count, &end,
						   &d->err)) != DW_DLV_OK)
		base = version >= 5 ? 0 : 1;
	if (dw_res(d, dwarf_srcfiles(cudie, &src, &n_src, &d->err)) != DW_DLV_OK)
		n_src = 0;
	/* files[] is indexed by DWARF file number: DWARF 5 counts from 0,
	 * earlier versions from 1 (and srcfiles starts at file 1). */
	if (n_src > 0 && base >= 0 && base <= 1) {
		cu->files = calloc((size_t)(n_src + base), sizeof(*cu->files));
		if (!cu->files) {
			r = -ENOMEM;
			goto out;
		}
		cu->n_files = (size_t)(n_src + base);
		for (Dwarf_Signed i = 0; i < n_src; i++) {
			cu->files[i + base] = sym_strings__intern(&d->strings, src[i],
								  strlen(src[i]));
			if (!cu->files[i + base]) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	if (n_rows > 0) {
		cu->lines = calloc((size_t)n_rows, sizeof(*cu->lines));
		if (!cu->lines) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (Dwarf_Signed i = 0; i < n_rows; i++) {
		Dwarf_Addr addr = 0;
		Dwarf_Unsigned line = 0, file = 0;
		Dwarf_Bool is_end = 0;

		if (dw_res(d, dwarf_lineaddr(rows[i], &addr, &d->err)) != DW_DLV_OK)
			continue;
		if (dw_res(d, dwarf_lineendsequence(rows[i], &is_end, &d->err)) != DW_DLV_OK)
			is_end = 0;
		if (!is_end &&
		    (dw_res(d, dwarf_lineno(rows[i], &line, &d->err)) != DW_DLV_OK ||
		     dw_res(d, dwarf_line_srcfileno(rows[i], &file, &d->err)) != DW_DLV_OK))
			continue;
		cu->lines[cu->n_lines++] = (struct dw_line){
			.addr = addr,
			.line = is_end || line > UINT32_MAX ? 0 : (uint32_t)line,
			.file = !is_end && file < cu->n_files ? (uint32_t)file : NO_FILE,
			.order = (uint32_t)i,
			.end = is_end,
		};
	}
	qsort(cu->lines, cu->n_lines, sizeof(*cu->lines), line_cmp);
out:
	for (Dwarf_Signed i = 0; i < n_src; i++)
		dwarf_dealloc(d->dbg, src[i], DW_DLA_STRING);
	if (src)
		dwarf_dealloc(d->dbg, src, DW_DLA_LIST);
	dwarf_srclines_dealloc_b(ctx);
	return r;
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

static int ival_emit(struct dw_cu *cu, size_t *cap, uint64_t lo, uint64_t hi,
		     uint32_t scope)
{
	if (lo >= hi)
		return 0;
	if (cu->n_ivals && cu->ivals[cu->n_ivals - 1].hi == lo &&
	    cu->ivals[cu->n_ivals - 1].scope == scope) {
		cu->ivals[cu->n_ivals - 1].hi = hi;
		return 0;
	}
	if (grow((void **)&cu->ivals, cap, cu->n_ivals + 1, sizeof(*cu->ivals)) < 0)
		return -ENOMEM;
	cu->ivals[cu->n_ivals++] = (struct dw_ival){ .lo = lo, .hi = hi, .scope = scope };
	return 0;
}

/*
 * Nested scope ranges -> disjoint intervals, each naming its innermost
 * scope: a sweep in start order with a stack of the open ranges.
 */
static int build_ivals(struct sym_dwarf *d, struct dw_cu *cu)
{
	struct dw_raw_range *stack;
	size_t top = 0, cap = 0;
	uint64_t cur = 0;
	int r = 0;

	if (!d->n_raw)
		return 0;
	qsort(d->raw, d->n_raw, sizeof(*d->raw), raw_cmp);
	stack = calloc(d->n_raw, sizeof(*stack));
	if (!stack)
		return -ENOMEM;
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

static int cu_load(struct sym_dwarf *d, struct dw_cu *cu)
{
	Dwarf_Die cudie = NULL;
	int r;

	cu->loaded = true;
	if (dw_res(d, dwarf_offdie_b(d->dbg, cu->die_off, true, &cudie, &d->err)) != DW_DLV_OK) {
		cu->failed = true;
		return 0;
	}
	d->n_raw = 0;
	r = read_lines(d, cu, cudie);
	if (r == 0)
		r = walk(d, cu, cudie, -1, 0);
	if (r == 0)
		r = build_ivals(d, cu);
	dwarf_dealloc_die(cudie);
	if (r < 0) {
		/* Out of memory: forget the half-read CU, try again later. */
		free(cu->lines);
		free(cu->files);
		free(cu->scopes);
		free(cu->ivals);
		*cu = (struct dw_cu){ .die_off = cu->die_off, .version = cu->version,
				      .base = cu->base };
		return r;
	}
	d->bytes += cu->n_lines * sizeof(*cu->lines) + cu->n_files * sizeof(*cu->files) +
		    cu->cap_scopes * sizeof(*cu->scopes) + cu->n_ivals * sizeof(*cu->ivals);
	return 0;
}

/* ---- opening ------------------------------------------------------------- */

static int curange_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	static size_t dummy;
	size_t *cap = arg ? arg : &dummy;

	if (grow((void **)&d->ranges, cap, d->n_ranges + 1, sizeof(*d->ranges)) < 0)
		return -ENOMEM;
	d->ranges[d->n_ranges++] = (struct dw_curange){
		.lo = lo, .hi = hi, .cu = (uint32_t)(d->n_cus - 1),
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

static int list_cus(struct sym_dwarf *d)
{
	size_t cap_cus = 0, cap_ranges = 0;

	for (;;) {
		Dwarf_Unsigned len = 0, abbrev = 0, typeoff = 0, next = 0;
		Dwarf_Half version = 0, asize = 0, lsize = 0, esize = 0, type = 0;
		Dwarf_Sig8 sig;
		Dwarf_Off off = 0;
		Dwarf_Addr low = 0;
		Dwarf_Die cudie = NULL;
		Dwarf_Half tag = 0;
		struct dw_cu *cu;
		int res, r;

		res = dw_res(d, dwarf_next_cu_header_d(d->dbg, true, &len, &version,
				&abbrev, &asize, &lsize, &esize, &sig, &typeoff, &next,
				&type, &d->err));
		if (res != DW_DLV_OK)
			break;  /* the end, or corrupt: keep what was read */
		if (dw_res(d, dwarf_siblingof_b(d->dbg, NULL, true, &cudie, &d->err)) != DW_DLV_OK)
			break;
		if (dw_res(d, dwarf_tag(cudie, &tag, &d->err)) != DW_DLV_OK ||
		    tag != DW_TAG_compile_unit ||
		    dw_res(d, dwarf_dieoffset(cudie, &off, &d->err)) != DW_DLV_OK) {
			dwarf_dealloc_die(cudie);
			continue;
		}
		if (grow((void **)&d->cus, &cap_cus, d->n_cus + 1, sizeof(*d->cus)) < 0) {
			dwarf_dealloc_die(cudie);
			return -ENOMEM;
		}
		if (dw_res(d, dwarf_lowpc(cudie, &low, &d->err)) != DW_DLV_OK)
			low = 0;
		cu = &d->cus[d->n_cus++];
		*cu = (struct dw_cu){ .die_off = off, .version = version, .base = low };
		r = die_ranges(d, cudie, version, low, curange_add, &cap_ranges);
		dwarf_dealloc_die(cudie);
		if (r < 0)
			return r;
	}
	if (d->n_ranges)
		qsort(d->ranges, d->n_ranges, sizeof(*d->ranges), curange_cmp);
	d->bytes += cap_cus * sizeof(*d->cus) + cap_ranges * sizeof(*d->ranges);
	return 0;
}

/*
 * The unit headers of a DWARF 5 .debug_rnglists or .debug_loclists: each
 * unit fits in the section, has version 5, an address size of 4 or 8, no
 * segment selector, and an offset table inside the unit. libdwarf
 * 20210528 reads every such header when it first reads .debug_info, and
 * frees a buffer twice on a bad one (found by fuzz-dwarf.c): such a file
 * is refused before libdwarf sees it.
 */
static bool lists_sane(const unsigned char *p, size_t size)
{
	size_t off = 0;

	while (off < size) {
		uint64_t len;
		uint32_t len32, count;
		size_t hdr, offsize;
		uint16_t version;

		if (size - off < 4)
			return false;
		memcpy(&len32, p + off, 4);
		if (len32 == 0xffffffffu) {
			if (size - off < 12)
				return false;
			memcpy(&len, p + off + 4, 8);
			hdr = 12;
			offsize = 8;
		} else if (len32 >= 0xfffffff0u) {
			return false;
		} else {
			len = len32;
			hdr = 4;
			offsize = 4;
		}
		/* version(2) address_size(1) segment_selector_size(1) count(4) */
		if (len < 8 || len > size - off - hdr)
			return false;
		memcpy(&version, p + off + hdr, 2);
		memcpy(&count, p + off + hdr + 4, 4);
		if (version != 5 || (p[off + hdr + 2] != 4 && p[off + hdr + 2] != 8) ||
		    p[off + hdr + 3] != 0 || (uint64_t)count * offsize > len - 8)
			return false;
		off += hdr + (size_t)len;
	}
	return true;
}

/* False when the file's DWARF would trip libdwarf (see lists_sane()). */
static bool sections_sane(int fd)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool ok = true;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0) {
		elf_end(elf);
		return false;
	}
	while (ok && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name || (strcmp(name, ".debug_rnglists") != 0 &&
			      strcmp(name, ".debug_loclists") != 0))
			continue;
		if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0) {
			ok = false;
			break;
		}
		data = elf_getdata(scn, NULL);
		ok = data && data->d_buf ? lists_sane(data->d_buf, data->d_size)
					 : shdr.sh_size == 0;
	}
	elf_end(elf);
	return ok;
}

/* The sections a lookup makes libdwarf load. */
static const char *const dw_sections[] = {
	".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
	".debug_ranges", ".debug_rnglists", ".debug_line_str", ".debug_addr",
	".debug_str_offsets",
};

int sym_dwarf__open(int fd, struct sym_dwarf **ret_dwarf)
{
	struct sym_dwarf *d;
	int res, r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (d->fd < 0) {
		r = -errno;
		free(d);
		return r;
	}
	if (!sections_sane(d->fd)) {
		sym_dwarf__free(d);
		return -ENODATA;
	}
	res = dwarf_init_b(d->fd, DW_DLC_READ, DW_GROUPNUMBER_ANY, NULL, NULL,
			   &d->dbg, &d->err);
	if (res != DW_DLV_OK) {
		/* No DWARF (NO_ENTRY) or not readable: nothing to use. The
		 * error, if any, belongs to no dbg. */
		if (res == DW_DLV_ERROR && d->err)
			dwarf_dealloc(NULL, d->err, DW_DLA_ERROR);
		d->dbg = NULL;
		sym_dwarf__free(d);
		return -ENODATA;
	}
	/* libdwarf copies each section it reads into memory: count them. */
	for (size_t i = 0; i < sizeof(dw_sections) / sizeof(dw_sections[0]); i++) {
		Dwarf_Addr addr = 0;
		Dwarf_Unsigned size = 0;

		if (dw_res(d, dwarf_get_section_info_by_name(d->dbg, dw_sections[i], &addr,
							     &size, &d->err)) == DW_DLV_OK)
			d->section_bytes += size;
	}
	r = list_cus(d);
	if (r < 0) {
		sym_dwarf__free(d);
		return r;
	}
	if (d->n_ranges == 0) {
		sym_dwarf__free(d);
		return -ENODATA;
	}
	*ret_dwarf = d;
	return 0;
}

void sym_dwarf__free(struct sym_dwarf *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_cus; i++) {
		free(d->cus[i].lines);
		free(d->cus[i].files);
		free(d->cus[i].scopes);
		free(d->cus[i].ivals);
	}
	free(d->cus);
	free(d->ranges);
	free(d->names);
	free(d->raw);
	sym_strings__fini(&d->strings);
	if (d->dbg) {
		Dwarf_Error err = NULL;

		dwarf_finish(d->dbg, &err);
	}
	if (d->fd >= 0)
		close(d->fd);
	free(d);
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
	return d ? sizeof(*d) + d->bytes + d->section_bytes + d->strings.bytes +
		   d->cap_raw * sizeof(*d->raw) : 0;
}

/* ---- lookups --------------------------------------------------------------- */

static struct dw_cu *cu_find(struct sym_dwarf *d, uint64_t vaddr)
{
	size_t lo = sym_sorted__count_le(d->ranges, d->n_ranges, sizeof(*d->ranges), vaddr);

	for (size_t i = lo, k = 0; i > 0 && k < CU_LOOKBACK; i--, k++)
		if (vaddr < d->ranges[i - 1].hi)
			return &d->cus[d->ranges[i - 1].cu];
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
	if (i > 0 && !cu->lines[i - 1].end && cu->lines[i - 1].line &&
	    cu->lines[i - 1].file != NO_FILE) {
		file = cu->files[cu->lines[i - 1].file];
		line = cu->lines[i - 1].line;
	}
	i = sym_sorted__count_le(cu->ivals, cu->n_ivals, sizeof(*cu->ivals), vaddr);
	if (i > 0 && vaddr < cu->ivals[i - 1].hi)
		s = cu->ivals[i - 1].scope;
	ret_frames[n++] = (struct sym_dwarf_frame){
		.name = s >= 0 ? cu->scopes[s].name : NULL,
		.file = file,
		.line = file ? line : 0,
	};
	/* Up the inline chain: each caller is at the call site of its callee.
	 * When max is short, the outermost (real) function replaces the last
	 * inlined one kept. */
	while (s >= 0 && cu->scopes[s].inlined && cu->scopes[s].parent >= 0) {
		const struct dw_scope *sc = &cu->scopes[s];
		struct sym_dwarf_frame f = {
			.name = cu->scopes[sc->parent].name,
			.file = sc->call_file,
			.line = sc->call_file ? sc->call_line : 0,
		};

		if (n < max)
			ret_frames[n++] = f;
		else
			ret_frames[max - 1] = f;
		s = sc->parent;
	}
	return (int)n;
}
