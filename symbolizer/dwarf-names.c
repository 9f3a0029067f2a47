/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-names.c — the name of a subprogram DIE: its mangled linkage name
 * (the session demangles it), else in C++ one built from the DIEs
 * (dwarf-cxx.c), else its own name, following abstract_origin and
 * specification across units and files (a reference carries its file),
 * cached by DIE reference in the names table (dwarf-dies.c, which also
 * reads the DIEs a reference names); a chain that ends without a name
 * (no DIE, a cycle, past MAX_NAME_HOPS) is marked unresolved, so that
 * dwarf-scopes.c counts the inlined frame as name-unresolved.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	if (dw_cu__view(d, cu, &ab, &base) < 0)
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

static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name);

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
	/* nothing more to follow, or a chain past MAX_NAME_HOPS (a cycle
	 * comes here too: the hops bound it) */
	d->name_unresolved |= !d->name_lost;
	*ret_name = NULL;
	return 0;
}

/*
 * dw_die__name() of the DIE at a global offset (in any unit of the
 * binary's DWARF or of its supplementary file: DW_FORM_ref_addr,
 * GNU_ref_alt, ref_sup), cached by offset, so a DIE named once is never
 * read again; the unit holding it is found by a binary search of the unit
 * list. A reference to no DIE leaves the name unresolved.
 */
static int die_name_at(struct sym_dwarf *d, uint64_t off, int hops,
		       const char **ret_name)
{
	const struct dw_name_slot *slot;
	const struct dw_cu *cu;
	const uint8_t *base;
	struct dw_abbrevs *ab;
	struct dw_die die;
	struct dw_cur c;
	bool lost, unresolved;
	int r;

	slot = dw_names__find(d, off);
	if (slot) {
		*ret_name = slot->name == lost_name || slot->name == unresolved_name
				    ? NULL : slot->name;
		d->name_lost |= slot->name == lost_name;
		d->name_unresolved |= slot->name == unresolved_name;
		return 0;
	}
	*ret_name = NULL;
	cu = dw_cu__at(d, off);
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
	r = dw_cu__view(d, cu, &ab, &base);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	c = (struct dw_cur){ .p = base + (REF_OFF(off) - cu->off),
			     .end = base + (cu->end - cu->off) };
	if (dw_die__read(cu, ab, &c, &die) <= 0)
		return dw_names__put(d, off, unresolved_name);
	lost = d->name_lost;
	d->name_lost = d->name_unresolved = false;
	r = dw_die__name(d, cu, &die, off, hops, ret_name);
	if (r < 0)
		return r;
	/* no name: in the missing dwz file, or the chain ended nowhere */
	unresolved = !*ret_name && !d->name_lost;
	r = dw_names__put(d, off, *ret_name ? *ret_name : d->name_lost ? lost_name : unresolved_name);
	d->name_lost |= lost;
	d->name_unresolved = unresolved;
	return r;
}
