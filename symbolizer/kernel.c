/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.c — parses a kallsyms file (ROOT/proc/kallsyms) into a sorted table
 * of text symbols, each with its kernel module (NULL for the core kernel),
 * and looks kernel addresses up by binary search. kallsyms has no sizes, so a
 * symbol ends where the next one starts; the last symbol of the kernel or of
 * a module covers at most one page, so an address past the end of all code
 * is not given a wrong name.
 *
 * The on-disk cache (CACHE_DIR/kallsyms/BOOT-ID, kernel-cache.c) holds the core kernel's
 * and the loaded modules' symbols, read with pread() (not mapped); its modules are valid
 * while ROOT/proc/modules lists the same ones (name, size, state, address)
 * as when it was written, else kallsyms is read and the entry written
 * again. An address outside both (a BPF program, an ftrace trampoline, a
 * module loaded since) makes the session read kallsyms once more, keeping
 * only the symbols outside them ("the rest"): the kernel's ~120,000 core
 * lines are skipped by their address, not copied or sorted.
 */
#include "sym-internal.h"
#include "sym-kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"



static int kernel_name(struct sym_kernel *k, const char *s, size_t n, uint32_t *ret_off)
{
	if (k->len + n + 1 > UINT32_MAX - 1)
		return -ENOMEM;
	if (COMMON_GROW(k->names, k->names_cap, k->len + n + 1))
		return -ENOMEM;
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
	if (COMMON_GROW(k->syms, *cap, k->n + 1))
		return -ENOMEM;
	k->syms[k->n++] = sym;
	return 0;
}

const struct kmod *sym_kernel__module_at(const struct sym_kernel *k, uint64_t addr)
{
	size_t i = sym_sorted__count_le(k->mods, k->n_mods, sizeof(*k->mods), addr);

	return i > 0 && addr < k->mods[i - 1].hi ? &k->mods[i - 1] : NULL;
}

/* addr is in what a cached table covers: the core kernel or one of its
 * modules. */
static bool kernel_covers(const struct sym_kernel *k, uint64_t addr)
{
	return (addr >= k->core_lo && addr < k->core_hi) || sym_kernel__module_at(k, addr);
}

/*
 * Parses kallsyms at path. With skip (a cached table), only the symbols
 * outside what skip covers are kept: a line is dropped on its address
 * alone, before anything of it is copied.
 */
static int kernel_parse(const char *path, const struct sym_kernel *skip,
			struct sym_kernel **ret_kernel)
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
	k->fd = -1;
	while (getline(&line, &linecap, f) > 0) {
		if (skip && kernel_covers(skip, strtoull(line, NULL, 16)))
			continue;
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

int sym_kernel__load(const char *root, const char *cache_dir, struct sym_kernel **ret_kernel,
		     int *ret_cache)
{
	char path[4096], id[40], *dir = NULL, *entry = NULL, *key = NULL;
	struct sym_kernel *k = NULL, *mapped = NULL;
	size_t key_len = 0;
	int r, cache = 0;

	snprintf(path, sizeof(path), "%s/proc/kallsyms", root);
	/* Kernel text does not move within a boot (KASLR is chosen at boot),
	 * so the core kernel's symbols are cached per boot id, with the
	 * modules' while the same ones are loaded; BPF programs come and go,
	 * and are read when asked for. */
	if (cache_dir && *cache_dir && sym_kcache__boot_id(root, id) == 0 &&
	    sym_kcache__modules_key(root, &key, &key_len) == 0 &&
	    asprintf(&dir, "%s/kallsyms", cache_dir) >= 0 &&
	    asprintf(&entry, "%s/%s", dir, id) >= 0) {
		r = sym_kcache__read(entry, id, key, key_len, &k);
		if (r == 0)
			goto done;
		cache = r == -ENOENT || r == -ESTALE ? 0 : -1;
	}
	r = kernel_parse(path, NULL, &k);
	if (r < 0)
		goto out;
	if (entry) {
		int w = sym_kcache__write(dir, entry, id, key, key_len, k);

		cache = w == 0 ? 2 : w == -ENODATA ? cache : -1;
		/* This session too reads the entry rather than keep the
		 * whole parse on the heap (5 MB, of which lookups read a few
		 * hundred KB). */
		if (w == 0 && sym_kcache__read(entry, id, key, key_len, &mapped) == 0) {
			sym_kernel__free(k);
			k = mapped;
		}
	}
done:
	if (k->fd >= 0 && !k->path) {
		k->path = strdup(path);
		if (!k->path) {
			sym_kernel__free(k);
			k = NULL;
			r = -ENOMEM;
			goto out;
		}
		cache = cache == 2 ? 2 : 1;
	}
	*ret_kernel = k;
	*ret_cache = cache;
	r = 0;
out:
	free(dir);
	free(entry);
	free(key);
	return r;
}

size_t sym_kernel__memory(const struct sym_kernel *k)
{
	size_t m;

	if (!k)
		return 0;
	m = sizeof(*k) + sym_kernel__memory(k->rest);
	/* A cached table holds its index, modules and last lookups only. */
	if (k->fd >= 0)
		return m + k->n_index * sizeof(*k->index) +
		       k->n_mods * (sizeof(*k->mods) + sizeof(*k->mod_names) + 64) +
		       KCACHE_SLOTS * sizeof(*k->slots) + k->slot_bytes + KSYM_NAME_MAX + 1;
	return m + k->n * sizeof(*k->syms) + k->names_cap;
}

/* The table's memory: the cache entry's file and what is read of it, or
 * the parse's arrays. */
static void kernel_release_table(struct sym_kernel *k)
{
	if (k->fd >= 0) {
		close(k->fd);
		k->fd = -1;
		for (size_t i = 0; k->mod_names && i < k->n_mods; i++)
			free(k->mod_names[i]);
		for (size_t i = 0; k->slots && i < KCACHE_SLOTS; i++)
			free(k->slots[i].name);
		free((void *)k->mods);
	}
	free(k->syms);
	free(k->names);
	free(k->index);
	free(k->mod_names);
	free(k->slots);
	free(k->name_buf);
	k->name_buf = NULL;
	k->syms = NULL;
	k->names = NULL;
	k->index = NULL;
	k->n_index = 0;
	k->mod_names = NULL;
	k->slots = NULL;
	k->slot_bytes = 0;
	k->mods = NULL;
	k->n_mods = 0;
}

void sym_kernel__free(struct sym_kernel *k)
{
	if (!k)
		return;
	free(k->path);
	sym_kernel__free(k->rest);
	kernel_release_table(k);
	free(k);
}

/* The full table (kallsyms read again) in place of a damaged cached one,
 * a superset; once per session. */
static int kernel_full(struct sym_kernel *k)
{
	struct sym_kernel *full = NULL;

	if (k->full_tried)
		return -ENOENT;
	k->full_tried = true;
	if (kernel_parse(k->path, NULL, &full) < 0)
		return -ENOENT;
	kernel_release_table(k);
	sym_kernel__free(k->rest);
	k->rest = NULL;
	k->syms = full->syms;
	k->n = full->n;
	k->names = full->names;
	k->len = full->len;
	k->names_cap = full->names_cap;
	k->core_only = false;
	full->syms = NULL;
	full->names = NULL;
	sym_kernel__free(full);
	return 0;
}

/* addr within sym (next: the symbol after it, or NULL): a symbol ends at
 * the next one of its module, and covers at most a page when the next is
 * another's (or there is none). */
bool sym_ksym__holds(const struct sym_ksym *sym, const struct sym_ksym *next, uint64_t addr)
{
	uint64_t end = sym->addr + LAST_SYMBOL_SPAN;

	if (next && next->module == sym->module)
		end = next->addr;
	else if (next)
		end = MIN(end, next->addr);
	return addr >= sym->addr && addr < end;
}

/* addr in k's table on the heap (a parse of kallsyms). */
static int ksym_lookup(const struct sym_kernel *k, uint64_t addr, const char **ret_name,
		       const char **ret_module, uint64_t *ret_offset)
{
	size_t lo = sym_sorted__count_le(k->syms, k->n, sizeof(*k->syms), addr);
	const struct sym_ksym *sym;

	if (lo == 0)
		return -ENOENT;
	sym = &k->syms[lo - 1];
	if (!sym_ksym__holds(sym, lo < k->n ? &k->syms[lo] : NULL, addr))
		return -ENOENT;
	*ret_name = k->names + sym->name;
	*ret_module = sym->module == UINT32_MAX ? NULL : k->names + sym->module;
	*ret_offset = addr - sym->addr;
	return 0;
}


int sym_kernel__lookup(struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module,
		       uint64_t *ret_offset)
{
	const struct kmod *region;
	int r;

	if (k->core_only) {
		region = sym_kernel__module_at(k, addr);
		if (!region && (addr < k->core_lo || addr >= k->core_hi)) {
			/* Not the core kernel, nor a module the entry holds:
			 * the rest of kallsyms, read once. */
			if (!k->rest_tried) {
				k->rest_tried = true;
				if (kernel_parse(k->path, k, &k->rest) < 0)
					k->rest = NULL;
			}
			if (!k->rest)
				return -ENOENT;
			return ksym_lookup(k->rest, addr, ret_name, ret_module, ret_offset);
		}
	}
	r = k->fd >= 0 ? sym_kcache__lookup(k, addr, ret_name, ret_module, ret_offset) :
			 ksym_lookup(k, addr, ret_name, ret_module, ret_offset);
	/* A damaged cache entry: kallsyms itself answers. */
	if (r == -EBADMSG)
		r = kernel_full(k) < 0 ? -ENOENT : ksym_lookup(k, addr, ret_name, ret_module, ret_offset);
	return r == -EBADMSG ? -ENOENT : r;
}
