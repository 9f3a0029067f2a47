/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.c — parses a kallsyms file (ROOT/proc/kallsyms) into a sorted table
 * of text symbols, each with its kernel module (NULL for the core kernel),
 * and looks kernel addresses up by binary search. kallsyms has no sizes, so a
 * symbol ends where the next one starts; the last symbol of the kernel or of
 * a module covers at most one page, so an address past the end of all code
 * is not given a wrong name.
 */
#include "sym-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LAST_SYMBOL_SPAN 4096

struct sym_ksym {
	uint64_t addr;    /* first: sym_sorted__count_le() searches it */
	uint32_t name;    /* offset in names */
	uint32_t module;  /* offset in names, or UINT32_MAX for the core */
};

struct sym_kernel {
	struct sym_ksym *syms;
	size_t n;
	char *names;
	size_t len, names_cap;
};

static int kernel_name(struct sym_kernel *k, const char *s, size_t n, uint32_t *ret_off)
{
	if (k->len + n + 1 > UINT32_MAX - 1)
		return -ENOMEM;
	if (k->len + n + 1 > k->names_cap) {
		size_t cap = MAX(k->names_cap * 2, k->len + n + 1 + 65536);
		char *p = realloc(k->names, cap);

		if (!p)
			return -ENOMEM;
		k->names = p;
		k->names_cap = cap;
	}
	memcpy(k->names + k->len, s, n);
	k->names[k->len + n] = '\0';
	*ret_off = (uint32_t)k->len;
	k->len += n + 1;
	return 0;
}

static int ksym_cmp(const void *pa, const void *pb)
{
	const struct sym_ksym *a = pa, *b = pb;

	/* Aliases keep file order (names are appended in that order), so the
	 * last one listed wins, deterministically. */
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->name < b->name ? -1 : a->name > b->name;
}

/*
 * Parses one "ADDR TYPE NAME [MODULE]" line. Only text symbols (t, T, w, W)
 * are kept. prev_module carries the last module's name offset: modules come
 * in runs, so one copy per run is enough.
 */
static int kernel_line(struct sym_kernel *k, char *line, size_t *cap,
		       uint32_t *prev_module)
{
	char *end, *name, *mod;
	unsigned long long addr;
	size_t name_len;
	struct sym_ksym sym;
	int r;

	addr = strtoull(line, &end, 16);
	if (end == line || *end != ' ' || !end[1] || end[2] != ' ')
		return 0;
	if (!strchr("tTwW", end[1]) || addr == 0)
		return 0;
	name = end + 3;
	name_len = strcspn(name, "\t \n");
	if (name_len == 0)
		return 0;
	sym = (struct sym_ksym){ .addr = addr, .module = UINT32_MAX };
	mod = strchr(name + name_len, '[');
	if (mod) {
		size_t mod_len = strcspn(mod + 1, "]\n");

		if (*prev_module != UINT32_MAX &&
		    strlen(k->names + *prev_module) == mod_len &&
		    memcmp(k->names + *prev_module, mod + 1, mod_len) == 0) {
			sym.module = *prev_module;
		} else {
			r = kernel_name(k, mod + 1, mod_len, &sym.module);
			if (r < 0)
				return r;
			*prev_module = sym.module;
		}
	}
	r = kernel_name(k, name, name_len, &sym.name);
	if (r < 0)
		return r;
	if (k->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 65536;
		struct sym_ksym *p = reallocarray(k->syms, ncap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		k->syms = p;
		*cap = ncap;
	}
	k->syms[k->n++] = sym;
	return 0;
}

int sym_kernel__load(const char *path, struct sym_kernel **ret_kernel)
{
	struct sym_kernel *k = NULL;
	uint32_t prev_module = UINT32_MAX;
	size_t cap = 0, linecap = 0;
	char *line = NULL;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : errno == ENOMEM ? -ENOMEM : -EACCES;
	k = calloc(1, sizeof(*k));
	if (!k) {
		r = -ENOMEM;
		goto out;
	}
	while (getline(&line, &linecap, f) > 0) {
		r = kernel_line(k, line, &cap, &prev_module);
		if (r < 0)
			goto out;
	}
	if (k->n == 0) {
		/* kptr_restrict shows every address as 0. */
		r = -ENODATA;
		goto out;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), ksym_cmp);
	*ret_kernel = k;
	k = NULL;
out:
	sym_kernel__free(k);
	free(line);
	fclose(f);
	return r;
}

size_t sym_kernel__memory(const struct sym_kernel *k)
{
	return k ? sizeof(*k) + k->n * sizeof(*k->syms) + k->names_cap : 0;
}

void sym_kernel__free(struct sym_kernel *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

int sym_kernel__lookup(const struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module)
{
	size_t lo = sym_sorted__count_le(k->syms, k->n, sizeof(*k->syms), addr);
	const struct sym_ksym *sym, *next;
	uint64_t end;

	if (lo == 0)
		return -ENOENT;
	sym = &k->syms[lo - 1];
	next = &k->syms[lo];
	end = sym->addr + LAST_SYMBOL_SPAN;
	if (lo < k->n && next->module == sym->module)
		end = next->addr;
	else if (lo < k->n)
		end = MIN(end, next->addr);
	if (addr >= end)
		return -ENOENT;
	*ret_name = k->names + sym->name;
	*ret_module = sym->module == UINT32_MAX ? NULL : k->names + sym->module;
	return 0;
}
