/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-names.c — the name of a subprogram DIE: its mangled linkage name
 * (the session demangles it), else in C++ one built from the DIEs
 * (dwarf-cxx.c), else its own name, following abstract_origin and
 * specification across units and files (a reference carries its file),
 * cached by DIE reference in the names table; and the DIE tree as the
 * name builder walks it: DIEs by reference, and a unit's parent index,
 * built on first need and dropped with the CU's scratch.
 */
#include "dwarf-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t off_hash(uint64_t off)
{
	return off * 0x9e3779b97f4a7c15ULL;
}

struct dw_name_slot *dw_names__slot(struct sym_dwarf *d, uint64_t off)
{
	size_t mask = d->names_cap - 1;

	for (size_t i = (size_t)(off_hash(off) >> 20) & mask;; i = (i + 1) & mask)
		if (d->names[i].off == off || d->names[i].off == 0)
			return &d->names[i];
}

int dw_names__put(struct sym_dwarf *d, uint64_t off, const char *name)
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
				*dw_names__slot(d, old[i].off) = old[i];
		free(old);
		d->bytes += (ncap - old_cap) * sizeof(*d->names);
	}
	slot = dw_names__slot(d, off);
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

	ab = dw_abbrevs__holds(&d->ab_cur, cu) ? &d->ab_cur : &d->ab_other;
	r = dw_abbrevs__load(d, ab, cu);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	if (cu == d->loading) {
		base = d->unit_base;
	} else {
		base = d->other == cu ? d->win_other.buf :
		       dw_sect__read(&cu->sec[SEC_INFO], cu->off, cu->end - cu->off, &d->win_other);
		d->other = base ? cu : NULL;
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
	if (a && !c.bad && dw_die__attrs_more(cu, ab, a, &c, &die, &more) > 0 &&
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

bool dw_name__mangled(const char *s)
{
	return s[0] == '_' && (s[1] == 'Z' || s[1] == 'R');
}

static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name);

/* The name cache's mark for a DIE whose name is in a supplementary file
 * we do not have. */
static const char lost_name[] = "";

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
int dw_die__name(struct sym_dwarf *d, const struct dw_cu *cu,
		 const struct dw_die *die, uint64_t off, int hops,
		 const char **ret_name)
{
	const char *s = dw_val__str(d, cu, &die->linkage);
	int r;

	/* A plain linkage name is a C asm label (glibc's __GI_qsort for
	 * qsort), which says less than the name, or in Rust the exported
	 * symbol (rust_begin_unwind for begin_panic_handler), which is what
	 * nm and perf show. */
	if (s && !dw_name__mangled(s) && name_lang(d, cu) != DW_LANG_Rust)
		s = NULL;
	if (s) {
		*ret_name = sym_strings__intern(&d->strings, s, strlen(s));
		return *ret_name ? 0 : -ENOMEM;
	}
	s = dw_val__str(d, cu, &die->name);
	if (s) {
		/* interned first: building may read another unit into the
		 * window s points into */
		const char *plain = sym_strings__intern(&d->strings, s, strlen(s));

		if (!plain)
			return -ENOMEM;
		if (lang_is_cxx(name_lang(d, cu))) {
			r = dw_cxx__name(d, off, ret_name);
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
	*ret_name = NULL;
	return 0;
}

/* dw_die__name() of the DIE at a global offset, cached by offset. */
static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name)
{
	const struct dw_cu *cu;
	const uint8_t *base;
	struct dw_abbrevs *ab;
	struct dw_die die;
	struct dw_cur c;
	bool lost;
	int r;

	if (d->names_cap) {
		struct dw_name_slot *slot = dw_names__slot(d, off);

		if (slot->off == off) {
			*ret_name = slot->name == lost_name ? NULL : slot->name;
			d->name_lost |= slot->name == lost_name;
			return 0;
		}
	}
	*ret_name = NULL;
	cu = dw_cu__at(d, off);
	if (!cu && REF_SPACE(off) == SPACE_ALT && d->alt_issue) {
		/* the name is in the dwz file we could not have */
		d->name_lost = true;
		return 0;
	}
	if (!cu || REF_OFF(off) < cu->die_off)
		return 0;
	r = unit_view(d, cu, &ab, &base);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	c = (struct dw_cur){ .p = base + (REF_OFF(off) - cu->off),
			     .end = base + (cu->end - cu->off) };
	if (dw_die__read(cu, ab, &c, &die) <= 0)
		return dw_names__put(d, off, NULL);
	lost = d->name_lost;
	d->name_lost = false;
	r = dw_die__name(d, cu, &die, off, hops, ret_name);
	if (r < 0)
		return r;
	r = dw_names__put(d, off, *ret_name ? *ret_name : d->name_lost ? lost_name : NULL);
	d->name_lost |= lost;
	return r;
}

/* A string of a DIE read from a unit other than the one being loaded may
 * sit in a window the next read replaces: interned then. */
static const char *ndie_str(struct sym_dwarf *d, const struct dw_cu *cu,
			    const struct dw_val *v, int *err)
{
	const char *s = dw_val__str(d, cu, v);

	if (s && cu != d->loading && v->kind == V_STR && v->s) {
		s = sym_strings__intern(&d->strings, s, strlen(s));
		if (!s)
			*err = -ENOMEM;
	}
	return s;
}

/* Reads the DIE at global offset off. Returns 1, 0 for a null entry,
 * -ENOMEM, or -EINVAL (unreadable, corrupt). */
int dw_ndie__at(struct sym_dwarf *d, uint64_t off, struct dw_ndie *nd)
{
	const struct dw_cu *cu = dw_cu__at(d, off);
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
	if (!a || dw_die__attrs_more(cu, ab, a, &c, &die, &nd->m) < 0)
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
		 * from the parent index when it is needed (dw_ndie__next()) */
		nd->next = sib->kind == V_REF && REF_SPACE(sib->u) == cu->space &&
			   REF_OFF(sib->u) > REF_OFF(nd->child) && REF_OFF(sib->u) < cu->end ?
			   sib->u : 0;
		nd->next_unknown = !nd->next;
	}
	return 1;
}

/* Reads the DIE a reference attribute names (V_REF), as dw_ndie__at(). */
int dw_ndie__ref(struct sym_dwarf *d, const struct dw_val *v, struct dw_ndie *nd)
{
	return v->kind == V_REF ? dw_ndie__at(d, v->u, nd) : -EINVAL;
}

void dw_pidx__fini(struct sym_dwarf *d)
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
		dw_die__skip_attrs(cu, ab, a, &c);
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
int dw_die__parent(struct sym_dwarf *d, uint64_t off, uint64_t *ret_parent)
{
	const struct dw_cu *cu = dw_cu__at(d, off);
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
uint64_t dw_ndie__next(struct sym_dwarf *d, const struct dw_ndie *nd)
{
	const struct dw_cu *cu;
	const struct dw_pidx *px;
	size_t i;
	int err = 0;

	if (!nd->next_unknown)
		return nd->next;
	cu = dw_cu__at(d, nd->off);
	px = cu ? pidx_get(d, cu, &err) : NULL;
	if (!px)
		return 0;
	i = sym_sorted__count_le(px->v, px->n, sizeof(*px->v), REF_OFF(nd->off));
	return i > 0 && px->v[i - 1].start == REF_OFF(nd->off) ?
	       REF(cu->space, px->v[i - 1].end) : 0;
}
