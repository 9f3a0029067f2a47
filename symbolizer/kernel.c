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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* Loaded from the cache: the core kernel only. An address outside
	 * [core_lo, core_hi) (a module, a BPF program, a trampoline) makes a
	 * lookup read path in full, once, in its place. */
	bool core_only;
	uint64_t core_lo, core_hi;
	char *path;
	bool full_tried;
	/* Loaded from the cache: syms and names point into this read-only
	 * mapping of the entry, so only the pages lookups touch are resident
	 * (a recording touches a few hundred KB of the 5 MB table). */
	void *map;
	size_t map_len;
};

/* The cache entry: this header, n struct sym_ksym, then len bytes of names. */
struct kcache_header {
	char magic[8];
	char boot_id[40];
	uint64_t n;
	uint64_t len;
	uint64_t core_lo, core_hi;
};

#define KCACHE_MAGIC "EMBKSYM1"
/* More core text symbols than any kernel has; a corrupt entry cannot make
 * us allocate without bound. */
#define KCACHE_MAX_SYMS (8u << 20)

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

static int kernel_parse(const char *path, struct sym_kernel **ret_kernel)
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

static int ksym_lookup(const struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module,
		       uint64_t *ret_offset);

/* This boot's id (ROOT/proc/sys/kernel/random/boot_id) into id[40]. */
static int boot_id(const char *root, char id[40])
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/proc/sys/kernel/random/boot_id", root);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(id, 0, 40);
	n = fread(id, 1, 39, f);
	fclose(f);
	while (n > 0 && (id[n - 1] == '\n' || id[n - 1] == ' '))
		id[--n] = '\0';
	/* a UUID: it names the cache entry */
	return n == 36 && strspn(id, "0123456789abcdef-") == 36 ? 0 : -EINVAL;
}

static int kcache_read(const char *entry, const char id[40], struct sym_kernel **ret_kernel)
{
	struct kcache_header h;
	struct sym_kernel *k = NULL;
	struct stat st;
	int fd, r = -EINVAL;

	fd = open(entry, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, KCACHE_MAGIC, 8) != 0 || memcmp(h.boot_id, id, 40) != 0 ||
	    h.n == 0 || h.n > KCACHE_MAX_SYMS || h.len == 0 || h.len > UINT32_MAX ||
	    (uint64_t)st.st_size != sizeof(h) + h.n * sizeof(struct sym_ksym) + h.len)
		goto out;
	k = calloc(1, sizeof(*k));
	if (!k) {
		r = -ENOMEM;
		goto out;
	}
	k->map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (k->map == MAP_FAILED) {
		k->map = NULL;
		r = -errno;
		goto out;
	}
	k->map_len = st.st_size;
	k->syms = (struct sym_ksym *)((char *)k->map + sizeof(h));
	k->names = (char *)k->map + sizeof(h) + h.n * sizeof(*k->syms);
	if (k->names[h.len - 1] != '\0')
		goto out;
	/* The entries are not all checked here (that would make the whole
	 * table resident): ksym_lookup() checks the ones it uses (sorted
	 * around the address, a name inside the table, core only), and a
	 * damaged one makes the session read kallsyms instead. The entry is
	 * Ember's own, written by root, readable by root only. */
	k->n = h.n;
	k->len = k->names_cap = h.len;
	k->core_only = true;
	k->core_lo = h.core_lo;
	k->core_hi = h.core_hi;
	*ret_kernel = k;
	k = NULL;
	r = 0;
out:
	sym_kernel__free(k);
	close(fd);
	return r;
}

/* Writes the core kernel's symbols of k (a full parse) as the cache entry
 * dir/id, and removes the entries of other boots. */
static int kcache_write(const char *dir, const char *entry, const char id[40],
			const struct sym_kernel *k)
{
	struct kcache_header h = { .core_lo = UINT64_MAX };
	struct sym_ksym *core;
	char *tmp = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *e;
	int fd, r = 0;

	core = calloc(k->n, sizeof(*core));
	if (!core)
		return -ENOMEM;
	for (size_t i = 0; i < k->n; i++) {
		if (k->syms[i].module != UINT32_MAX)
			continue;
		core[n++] = k->syms[i];
		h.core_lo = MIN(h.core_lo, k->syms[i].addr);
		h.core_hi = MAX(h.core_hi, k->syms[i].addr + LAST_SYMBOL_SPAN);
	}
	if (n == 0) {
		free(core);
		return -ENODATA;
	}
	memcpy(h.magic, KCACHE_MAGIC, 8);
	memcpy(h.boot_id, id, 40);
	h.n = n;
	/* The names of modules are kept too: the table is small enough. */
	h.len = k->len;
	fd = sym_cache__create(dir, &tmp);
	if (fd < 0) {
		free(core);
		return fd;
	}
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, core, n * sizeof(*core)) != (ssize_t)(n * sizeof(*core)) ||
	    write(fd, k->names, k->len) != (ssize_t)k->len)
		r = errno ? -errno : -EIO;
	free(core);
	if (r < 0) {
		sym_cache__abandon(fd, tmp);
		return r;
	}
	/* Kernel addresses are for root only (kptr_restrict): so is the
	 * entry. */
	r = sym_cache__commit(fd, tmp, entry, 0600);
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.' && strcmp(e->d_name, id) != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	return r;
}

int sym_kernel__load(const char *root, const char *cache_dir, struct sym_kernel **ret_kernel,
		     int *ret_cache)
{
	char path[4096], id[40], *dir = NULL, *entry = NULL;
	struct sym_kernel *k = NULL;
	int r, cache = 0;

	snprintf(path, sizeof(path), "%s/proc/kallsyms", root);
	/* Kernel text does not move within a boot (KASLR is chosen at boot),
	 * so the core kernel's symbols are cached per boot id; only modules
	 * and BPF programs come and go, and they are read when asked for. */
	if (cache_dir && *cache_dir && boot_id(root, id) == 0 &&
	    asprintf(&dir, "%s/kallsyms", cache_dir) >= 0 &&
	    asprintf(&entry, "%s/%s", dir, id) >= 0) {
		r = kcache_read(entry, id, &k);
		if (r == 0) {
			k->path = strdup(path);
			if (!k->path) {
				sym_kernel__free(k);
				k = NULL;
				r = -ENOMEM;
				goto out;
			}
			cache = 1;
			goto done;
		}
		cache = r == -ENOENT ? 0 : -1;
	}
	r = kernel_parse(path, &k);
	if (r < 0)
		goto out;
	if (entry) {
		int w = kcache_write(dir, entry, id, k);

		cache = w == 0 ? 2 : w == -ENODATA ? cache : -1;
	}
done:
	*ret_kernel = k;
	*ret_cache = cache;
	r = 0;
out:
	free(dir);
	free(entry);
	return r;
}

size_t sym_kernel__memory(const struct sym_kernel *k)
{
	return k ? sizeof(*k) + k->n * sizeof(*k->syms) + k->names_cap : 0;
}

/* The table's memory: the cache entry's mapping, or the parse's arrays. */
static void kernel_release_table(struct sym_kernel *k)
{
	if (k->map) {
		munmap(k->map, k->map_len);
		k->map = NULL;
	} else {
		free(k->syms);
		free(k->names);
	}
	k->syms = NULL;
	k->names = NULL;
}

void sym_kernel__free(struct sym_kernel *k)
{
	if (!k)
		return;
	free(k->path);
	kernel_release_table(k);
	free(k);
}

/* The full table (kallsyms read again) in place of the cached core one, a
 * superset; once per session. */
static int kernel_full(struct sym_kernel *k)
{
	struct sym_kernel *full = NULL;

	if (k->full_tried)
		return -ENOENT;
	k->full_tried = true;
	if (kernel_parse(k->path, &full) < 0)
		return -ENOENT;
	kernel_release_table(k);
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

int sym_kernel__lookup(struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module,
		       uint64_t *ret_offset)
{
	int r;

	if (k->core_only && (addr < k->core_lo || addr >= k->core_hi) && kernel_full(k) < 0)
		return -ENOENT;
	r = ksym_lookup(k, addr, ret_name, ret_module, ret_offset);
	/* A damaged cache entry: kallsyms itself answers. */
	if (r == -EBADMSG)
		r = kernel_full(k) < 0 ? -ENOENT : ksym_lookup(k, addr, ret_name, ret_module, ret_offset);
	return r == -EBADMSG ? -ENOENT : r;
}

static int ksym_lookup(const struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module,
		       uint64_t *ret_offset)
{
	size_t lo = sym_sorted__count_le(k->syms, k->n, sizeof(*k->syms), addr);
	const struct sym_ksym *sym, *next;
	uint64_t end;

	if (lo == 0)
		return -ENOENT;
	sym = &k->syms[lo - 1];
	next = &k->syms[lo];
	/* A cached table's entries are checked as they are used (kcache_read):
	 * out of order, a name outside the table or not the core kernel's is
	 * a damaged entry (-EBADMSG). */
	if (k->map && (sym->addr > addr || (lo < k->n && next->addr < sym->addr) ||
		       sym->name >= k->len || sym->module != UINT32_MAX ||
		       sym->addr < k->core_lo || sym->addr >= k->core_hi))
		return -EBADMSG;
	end = sym->addr + LAST_SYMBOL_SPAN;
	if (lo < k->n && next->module == sym->module)
		end = next->addr;
	else if (lo < k->n)
		end = MIN(end, next->addr);
	if (addr >= end)
		return -ENOENT;
	*ret_name = k->names + sym->name;
	*ret_module = sym->module == UINT32_MAX ? NULL : k->names + sym->module;
	*ret_offset = addr - sym->addr;
	return 0;
}
