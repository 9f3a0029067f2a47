/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-reader.c — the decoder under every other DWARF file:
 * abbreviation tables, attribute values of every form, DIEs read or
 * skipped, unit headers and unit DIEs, and the address ranges of a DIE
 * (.debug_ranges and .debug_rnglists).
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

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

bool dw_abbrevs__holds(const struct dw_abbrevs *ab, const struct dw_cu *cu)
{
	return ab->valid && ab->sec == &cu->sec[SEC_ABBREV] && ab->off == cu->abbrev_off &&
	       ab->version == cu->version && ab->addr_size == cu->addr_size &&
	       ab->off_size == cu->off_size;
}

/* Parses the table of cu into ab unless it already holds it. Returns 0,
 * -ENOMEM, or -EINVAL when the table is corrupt. */
int dw_abbrevs__load(struct sym_dwarf *d, struct dw_abbrevs *ab,
		     const struct dw_cu *cu)
{
	const struct dw_sect *s = &cu->sec[SEC_ABBREV];
	struct dw_cur c;

	if (dw_abbrevs__holds(ab, cu))
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
			if (COMMON_GROW(ab->specs, ab->cap_specs, ab->n_specs + 1) < 0)
				return -ENOMEM;
			ab->specs[ab->n_specs++] = sp;
			a.n_spec++;
			if (sp.at == DW_AT_sibling)
				a.sibling = true;
			size = form_size(sp.form, cu->version, cu->addr_size, cu->off_size);
			a.fixed = size < 0 || a.fixed < 0 ? -1 : a.fixed + size;
		}
		if (COMMON_GROW(ab->v, ab->cap, ab->n + 1) < 0)
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

/* ---- attribute values ------------------------------------------------------------ */

/* Reads one attribute value of form; unknown forms make c bad (their size
 * is unknown, so nothing after them can be read). */
void dw_val__read(const struct dw_cu *cu, struct dw_cur *c, uint16_t form,
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
		/* resolved by dw_val__str(): the offset and which section */
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
			dw_val__read(cu, c, (uint16_t)f, 0, v);
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
 * end in a NUL, see dw_file__load()), or NULL. */
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

const char *dw_val__str(const struct sym_dwarf *d, const struct dw_cu *cu,
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

bool dw_val__addr(const struct dw_cu *cu, const struct dw_val *v, uint64_t *ret)
{
	if (v->kind == V_ADDR) {
		*ret = v->u;
		return true;
	}
	return v->kind == V_ADDRX &&
	       table_entry(&cu->sec[SEC_ADDR], cu->addr_base, v->u, cu->addr_size, ret);
}

/* ---- DIEs ------------------------------------------------------------------------ */

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
int dw_die__attrs_more(const struct dw_cu *cu, const struct dw_abbrevs *ab,
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

		dw_val__read(cu, c, sp->form, sp->implicit, &v);
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

int dw_die__attrs(const struct dw_cu *cu, const struct dw_abbrevs *ab,
		  const struct dw_abbrev *a, struct dw_cur *c, struct dw_die *die)
{
	return dw_die__attrs_more(cu, ab, a, c, die, NULL);
}

/* Reads the DIE at c (its abbrev code and attributes). Returns 1 for a
 * DIE, 0 for a null entry (end of siblings), -EINVAL when corrupt. */
int dw_die__read(const struct dw_cu *cu, const struct dw_abbrevs *ab,
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
	return dw_die__attrs(cu, ab, a, c, die);
}

/* Skips the attributes of a DIE with abbrev a. */
void dw_die__skip_attrs(const struct dw_cu *cu, const struct dw_abbrevs *ab,
			const struct dw_abbrev *a, struct dw_cur *c)
{
	struct dw_val v;

	if (a->fixed >= 0) {
		cur_skip(c, (uint64_t)a->fixed);
		return;
	}
	for (uint32_t i = 0; i < a->n_spec && !c->bad; i++)
		dw_val__read(cu, c, ab->specs[a->spec + i].form, 0, &v);
}

/* Moves c past the children of the DIE just read (whose sibling, if any,
 * is given): one jump when the sibling is sane, else DIE by DIE. */
void dw_die__skip_children(const struct dw_cu *cu, const struct dw_abbrevs *ab,
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
		dw_die__skip_attrs(cu, ab, a, c);
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
const struct dw_cu *dw_cu__at(const struct sym_dwarf *d, uint64_t ref)
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

/* ---- unit headers and unit DIEs ---------------------------------------- */

/*
 * The header of the unit at off of the .debug_info (or .debug_info.dwo)
 * info: fills cu's offsets, version, sizes, type and (DWARF 5 skeleton and
 * split units) dwo id. Returns 1 and *ret_next, 0 when the unit is not one
 * to read (another version, address size), or -EINVAL when the header is
 * corrupt (the list ends there).
 */
int dw_cu__read_header(struct sym_dwarf *d, const struct dw_sect *info, uint64_t off,
		       struct dw_cu *cu, uint64_t *ret_next)
{
	/* the longest unit header: 64-bit DWARF 5 type unit */
	uint64_t want = MIN(40, info->size - off);
	const uint8_t *p = dw_sect__read(info, off, want, &d->win_unit);
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
int dw_cu__read_unit_die(struct sym_dwarf *d, struct dw_cu *cu, struct dw_die *die)
{
	int r = dw_abbrevs__load(d, &d->ab_cur, cu);

	if (r < 0) {
		cu->issue = SYM_DEBUG_CORRUPT;
		return r == -ENOMEM ? r : 0;
	}
	/* The unit DIE is near the start: read a little of the unit, all of
	 * it only when the DIE does not fit (a huge inline producer string). */
	for (uint64_t want = MIN(UNIT_DIE_READ, cu->end - cu->die_off);; want = cu->end - cu->die_off) {
		const uint8_t *p = dw_sect__read(&cu->sec[SEC_INFO], cu->die_off, want,
						 &d->win_unit);
		struct dw_cur c;

		if (!p)
			return 0;
		c = (struct dw_cur){ .p = p, .end = p + want };
		r = dw_die__read(cu, &d->ab_cur, &c, die);
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
void dw_cu__set_bases(struct dw_cu *cu, const struct dw_die *die)
{
	bool wide = cu->off_size == 8;

	cu->str_offsets_base = die->str_offsets_base.kind == V_U ? die->str_offsets_base.u :
			       cu->version < 5 ? 0 : wide ? 16 : 8;
	cu->addr_base = die->addr_base.kind == V_U ? die->addr_base.u : wide ? 16 : 8;
	cu->rnglists_base = die->rnglists_base.kind == V_U ? die->rnglists_base.u :
			    wide ? 20 : 12;
	if (!dw_val__addr(cu, &die->low, &cu->base))
		cu->base = 0;
}

/* ---- address ranges of a DIE ------------------------------------------- */

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
			if (!dw_val__addr(cu, &x, &base))
				return 0;
			continue;
		case DW_RLE_startx_endx:
			x.u = cur_uleb(&c);
			if (!dw_val__addr(cu, &x, &lo))
				return 0;
			x.u = cur_uleb(&c);
			if (!dw_val__addr(cu, &x, &hi))
				return 0;
			break;
		case DW_RLE_startx_length:
			x.u = cur_uleb(&c);
			if (!dw_val__addr(cu, &x, &lo))
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
int dw_die__ranges(struct sym_dwarf *d, const struct dw_cu *cu,
		   const struct dw_die *die, range_fn fn, void *arg)
{
	uint64_t lo, hi;
	int r;

	if (dw_val__addr(cu, &die->low, &lo) && die->high.kind != V_NONE) {
		if (die->high.kind == V_U)
			hi = lo + die->high.u;
		else if (!dw_val__addr(cu, &die->high, &hi))
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

void dw_abbrevs__fini(struct dw_abbrevs *ab)
{
	free(ab->v);
	free(ab->specs);
}
