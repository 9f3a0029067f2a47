/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-dies.c — the DIE tree as names are built from it: a unit's bytes
 * and abbreviations for a DIE found by reference (the unit being read, or
 * one other unit at a time), DIEs by reference with the attributes a name
 * needs, a unit's parent index (which DIE encloses which: built on first
 * need, dropped with the CU's scratch), and the names table (DIE
 * reference -> name, for functions and for built type and scope names).
 * Below dwarf-cxx.c, dwarf-names.c and dwarf-layout.c, which walk it.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct common_map_type names_type = {
	.entry_size = sizeof(struct dw_name_slot),
	.key_size = sizeof(uint64_t),
};

const struct dw_name_slot *dw_names__find(const struct sym_dwarf *d, uint64_t off)
{
	return common_map__find(&d->names, &names_type, &off);
}

int dw_names__put(struct sym_dwarf *d, uint64_t off, const char *name)
{
	size_t before = common_map__bytes(&d->names, &names_type);
	struct dw_name_slot *slot;
	int r = common_map__insert(&d->names, &names_type, &off, (void **)&slot);

	if (r < 0)
		return r;
	slot->name = name;
	d->bytes += common_map__bytes(&d->names, &names_type) - before;
	return 0;
}

/* The bytes and abbreviations of unit cu: the unit being read keeps its
 * own, another unit shares a second window and table (reading one there
 * invalidates what was read of the unit before). Returns 0, -ENOMEM, or
 * -EINVAL when the unit cannot be read. */
int dw_cu__view(struct sym_dwarf *d, const struct dw_cu *cu,
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
		/* (A section in memory is not read into the window: the
		 * unit's bytes are where dw_sect__read() said.) */
		if (d->other != cu) {
			d->other_base = dw_sect__read(&cu->sec[SEC_INFO], cu->off,
						      cu->end - cu->off, &d->win_other);
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

bool dw_name__mangled(const char *s)
{
	return s[0] == '_' && (s[1] == 'Z' || s[1] == 'R');
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
	r = dw_cu__view(d, cu, &ab, &base);
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
	r = dw_cu__view(d, cu, &ab, &base);
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
		if (COMMON_GROW(px->v, px->cap, px->n + 1) < 0)
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
