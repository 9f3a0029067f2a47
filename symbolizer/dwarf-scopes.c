/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-scopes.c — one compile unit's scopes: one pass over its DIEs keeps
 * the subprograms and inlined subroutines that have code, with their names
 * and call sites, and flattens their nested ranges into disjoint intervals
 * naming the innermost scope. DIEs whose tags cannot hold code are
 * skipped by their abbreviation's fixed size (or their DW_AT_sibling)
 * without decoding an attribute, and only the attributes a scope needs
 * are decoded: this pass is most of a cold lookup's time.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int raw_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	const struct dw_raw_range *proto = arg;

	if ((d->n_raw + 1) * sizeof(*d->raw) > d->max_bytes)
		return -EFBIG;
	if (COMMON_GROW(d->raw, d->cap_raw, d->n_raw + 1) < 0)
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

	r = dw_die__ranges(d, ucu, die, raw_add, &proto);
	if (r <= 0) {
		*ret_scope = -1;
		return r;
	}
	d->name_lost = d->name_unresolved = false;
	r = dw_die__name(d, ucu, die, off, 0, &sc.name);
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
	if (COMMON_GROW(cu->scopes, cu->cap_scopes, cu->n_scopes + 1) < 0) {
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
int dw_scopes__walk(struct sym_dwarf *d, const struct dw_cu *ucu, struct dw_cu *cu,
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
			dw_die__skip_attrs(ucu, ab, a, c);
			if (a->children)
				dw_die__skip_children(ucu, ab, &no_sibling, info, c);
			continue;
		}
		if (dw_die__attrs(ucu, ab, a, c, &die) < 0)
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
			dw_die__skip_children(ucu, ab, &die.sibling, info, c);
	}
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
	if (COMMON_GROW(cu->ivals, *cap, cu->n_ivals + 1) < 0)
		return -ENOMEM;
	cu->ivals[cu->n_ivals++] = (struct dw_ival){ .lo = lo, .len = len, .scope = scope };
	return 0;
}

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

/*
 * Nested scope ranges -> disjoint intervals, each naming its innermost
 * scope: a sweep in start order with a stack of the open ranges.
 */
int dw_scopes__build_ivals(struct sym_dwarf *d, struct dw_cu *cu)
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
