/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-cxx.c — C++ names built from DWARF. Where GCC leaves
 * DW_AT_linkage_name out (functions with internal linkage: in anonymous
 * namespaces, static, templates instantiated with a local type such as a
 * lambda, lambdas' operator()), the name is built from the DIEs as
 * libiberty's demangler (nm -C, addr2line -C, perf) would print the linkage
 * name: enclosing namespaces ("(anonymous namespace)") and classes from the
 * unit's parent index, template arguments from the template parameter DIEs
 * (types printed the demangler's way: "long", "char const*", "int
 * (*)(int)", "std::vector<int, std::allocator<int> >",
 * "main::{lambda(int)#1}"), the parameter list, "const" methods, and the
 * return type of template functions. What DWARF does not say cannot be
 * matched: a return or parameter type the mangled name writes as
 * a dependent type (std::enable_if<...>::type) comes out resolved, and a
 * lambda's number is its place among the lambdas of its function, as GCC
 * numbers them. Anything the builder does not know (an unknown tag, a type
 * unit, a reference it cannot follow) gives up: the DIE's own name is used.
 * Its resolution of a DIE's type through typedefs (dw_type__resolve())
 * also serves dwarf-layout.c.
 *
 * One subsystem in one file: its functions call each other recursively (a
 * type names its scope, whose template arguments are types, whose scope
 * may be a function). Its bounds: the recursion is at most
 * MAX_BUILD_DEPTH deep (checked where it passes: put_scope(),
 * put_type_at(), cxx_build()), a name at most MAX_BUILT_NAME bytes
 * (nb_add()); a scope, or a type without a declarator around it, is built
 * once per DIE (what it gave, or that it failed, is kept in the names
 * table); only -ENOMEM leaves the builder, any other failure leaves the
 * DIE's own name.
 */
#include "sym-dwarf.h"
#include "dwarf-cxx-text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cxx_build(struct sym_dwarf *d, uint64_t off, bool ret, struct nbuf *out,
		     int depth);

/* Appends the name of the type or scope DIE at off when it was built
 * before (the names table holds them beside the functions' names, by DIE
 * offset; NULL: it could not be built). Returns whether it was. */
static bool cache_put(struct sym_dwarf *d, uint64_t off, struct nbuf *b)
{
	const struct dw_name_slot *slot = dw_names__find(d, off);

	if (!slot)
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
	r = !q->err && !name ? -ENOMEM : dw_names__put(d, off, name);
	free(q->p);
	*q = (struct nbuf){ 0 };
	if (r < 0 || !name)
		nb_fail(b, r < 0 ? r : -EINVAL);
	else
		nb_str(b, name);
}

static void put_type(struct sym_dwarf *d, bool has, const struct dw_val *type,
		     const char *inner, struct nbuf *b, int depth);
static void put_scope(struct sym_dwarf *d, const struct dw_ndie *t, struct nbuf *b,
		      int depth);
static void put_prefix(struct sym_dwarf *d, uint64_t off, struct nbuf *b, int depth);

int dw_type__resolve(struct sym_dwarf *d, const struct dw_more *m, bool cv,
		     struct dw_ndie *nd)
{
	bool has = m->has_type;
	struct dw_val v = m->type;

	for (int i = 0; i < MAX_BUILD_DEPTH; i++) {
		int r;

		if (!has)
			return 0;
		r = dw_ndie__ref(d, &v, nd);
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

	for (int i = 0; i < 4 && dw_type__resolve(d, &m, false, &q) > 0; i++) {
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
		r = dw_ndie__at(d, stack[level], &ch);
		if (r <= 0) {
			if (r < 0)
				nb_fail(b, r);
			level--;
			continue;
		}
		stack[level] = dw_ndie__next(d, &ch);
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
			if (n == 0 && dw_type__resolve(d, &ch.m, true, &t) > 0 &&
			    t.tag == DW_TAG_pointer_type)
				*ret_cv = this_cv(d, &t.m);
			continue;
		}
		if (n++)
			nb_str(b, ", ");
		/* top-level cv qualifiers are not part of the signature */
		r = dw_type__resolve(d, &ch.m, true, &t);
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
	r = dw_type__resolve(d, &p->m, true, &t);
	if (r <= 0 || (t.tag != DW_TAG_base_type && t.tag != DW_TAG_enumeration_type)) {
		nb_fail(b, r < 0 ? r : -EINVAL);
		return;
	}
	if (t.tag == DW_TAG_enumeration_type) {
		struct dw_ndie under;

		sign = dw_type__resolve(d, &t.m, true, &under) <= 0 ||
		       under.m.encoding == DW_ATE_signed || under.m.encoding == DW_ATE_signed_char;
		name = NULL;
	} else {
		name = dw_cxx__base_type(t.name ? t.name : "");
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
		int r = dw_ndie__at(d, at, &ch);

		if (r <= 0) {
			if (r < 0)
				nb_fail(&args, r);
			break;
		}
		at = dw_ndie__next(d, &ch);
		if (ch.tag == DW_TAG_GNU_template_parameter_pack) {
			is_template = true;
			for (uint64_t e = ch.child; e && !args.err; e = dw_ndie__next(d, &el)) {
				r = dw_ndie__at(d, e, &el);
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
		int r = dw_ndie__at(d, at, &ch);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		at = dw_ndie__next(d, &ch);
		if (ch.tag != DW_TAG_subprogram || !ch.name)
			continue;
		if (!strcmp(ch.name, "<lambda>") || !strcmp(ch.name, "~<lambda>"))
			lambda = true;
		if (!found && dw_cxx__base_len(ch.name) == 10 &&
		    !strncmp(ch.name, "operator()", 10)) {
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

	r = dw_ndie__at(d, fn, &f);
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
		r = dw_ndie__at(d, stack[level], &ch);
		if (r <= 0) {
			if (r < 0)
				return r;
			level--;
			continue;
		}
		stack[level] = dw_ndie__next(d, &ch);
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

		r = dw_die__parent(d, fn, &fn);
		if (r <= 0 || (r = dw_ndie__at(d, fn, &p)) <= 0) {
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
		size_t len = dw_cxx__base_len(t->name);
		const char *lt = t->name[len] == '<' ? t->name + len : NULL;
		const char *gt = lt ? dw_cxx__list_end(lt) : NULL;
		size_t mark;

		nb_add(&q, t->name, len);
		mark = q.len;
		/* The arguments from the parameter DIEs; GCC's spelling of
		 * them where there are none (a declaration) or where GCC
		 * left some out (an empty parameter pack for
		 * std::tuple<int, long>, a defaulted value). */
		r = put_targs(d, t, &q, depth + 1);
		if (gt && r != dw_cxx__count_args(lt, gt) && !q.err) {
			q.len = mark;
			dw_cxx__gcc_args(lt + 1, (size_t)(gt - lt - 1), &q, depth + 1);
		}
	} else if ((r = closure_call(d, t, &op)) > 0) {
		put_closure(d, t, &op, &q, depth + 1);
	} else {
		nb_fail(&q, r < 0 ? r : -EINVAL);  /* {unnamed type#N}: not built */
	}
	dw_cxx__std_abbrev(&q);
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
		r = dw_ndie__at(d, off, &f);
		if (r <= 0)
			break;
		if (f.linkage && dw_name__mangled(f.linkage)) {
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
		r = dw_die__parent(d, at, &at);
		if (r <= 0 || (r = dw_ndie__at(d, at, &p)) <= 0) {
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

	return dw_type__resolve(d, m, false, &t) > 0 &&
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
	r = dw_ndie__ref(d, type, &t);
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
			nb_str(b, t.tag == DW_TAG_base_type ? dw_cxx__base_type(t.name) : t.name);
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

			r = dw_ndie__at(d, at, &s);
			if (r <= 0) {
				if (r < 0)
					nb_fail(b, r);
				break;
			}
			at = dw_ndie__next(d, &s);
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

	r = depth > MAX_BUILD_DEPTH ? -EINVAL : dw_ndie__at(d, off, &x);
	if (r <= 0 || !x.name) {
		nb_fail(out, r);
		return out->err;
	}
	r = dw_die__parent(d, off, &parent);
	if (r == 1)
		r = dw_ndie__at(d, parent, &cls);
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
	base_len = dw_cxx__base_len(x.name);
	conversion = !strncmp(x.name, "operator ", 9) && strncmp(x.name + 9, "new", 3) &&
		     strncmp(x.name + 9, "delete", 6) && strncmp(x.name + 9, "co_await", 8) &&
		     strncmp(x.name + 9, "\"\"", 2);
	if (member && cls.name) {
		size_t cls_len = dw_cxx__base_len(cls.name);
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
int dw_cxx__name(struct sym_dwarf *d, uint64_t off, const char **ret_name)
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
