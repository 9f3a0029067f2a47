/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-layout.c — structure layouts from DWARF, for python.c: where the
 * definition of a structure, union or typedef of a given name is (the
 * top-level DIEs of every unit, until each name is found), a type's byte
 * size, and a member's offset in a structure (a path of member names,
 * nested structures added up). Reads DIEs through dwarf-dies.c and
 * typedefs through dwarf-cxx.c's dw_type__resolve(); a path has at most
 * MAX_PATH members.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH 64  /* members in a path */

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
		r = dw_ndie__at(d, REF(cu->space, cu->die_off), &unit);
		if (r < 0) {
			r = r == -ENOMEM ? r : 0;  /* a bad unit: the next */
			continue;
		}
		for (off = unit.child; off && left; off = dw_ndie__next(d, &nd)) {
			r = dw_ndie__at(d, off, &nd);
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
					if (dw_type__resolve(d, &nd.m, true, &t) <= 0 ||
					    !is_layout(&t))
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
	int r = dw_ndie__at(d, type, &nd);

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

	r = dw_ndie__at(d, type, &s);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	/* One member name at a time: a.b is b in the type of a. */
	for (int depth = 0; depth < MAX_PATH; depth++) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		uint64_t off;
		bool hit = false;

		if (!is_layout(&s))
			return -ENOENT;
		for (off = s.child; off; off = dw_ndie__next(d, &m)) {
			r = dw_ndie__at(d, off, &m);
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
		r = dw_type__resolve(d, &m.m, true, &s);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
	}
	return -EINVAL;
}
