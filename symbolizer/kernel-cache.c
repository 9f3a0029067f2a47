/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel-cache.c — the kernel's symbols on disk (CACHE_DIR/kallsyms/
 * BOOT-ID), for kernel.c: the entry written from a full parse of
 * kallsyms (the core kernel's and the loaded modules' text symbols, and
 * the modules' key from ROOT/proc/modules), checked whole when a session
 * opens it, then read with pread() a block of KCACHE_BLOCK symbols and a
 * name per lookup (never mapped: Linux maps a file's large folios whole
 * on a fault), the last KCACHE_SLOTS answers remembered.
 *
 * Invariants: the directory is root-only (kernel.c makes it 0700); an
 * entry is opened O_NOFOLLOW and refused unless every count is bounded
 * (KCACHE_MAX_*), its symbols sorted and inside their ranges and its
 * names inside the table; an entry for other modules is stale, a damaged
 * one is read again from kallsyms and written over.
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

/* The cache entry: this header, the modules' key (key_len bytes, padded to
 * 8), n_mods struct kmod, n struct sym_ksym, then len bytes of names. */
struct kcache_header {
	char magic[8];
	char boot_id[40];
	uint64_t n;
	uint64_t len;
	uint64_t core_lo, core_hi;
	uint64_t n_mods, key_len;
};

#define KCACHE_MAGIC "EMBKSYM2"
/* More core text symbols than any kernel has; a corrupt entry cannot make
 * us allocate without bound. */
#define KCACHE_MAX_SYMS (8u << 20)
/* More than any /proc/modules holds (a few hundred modules). */
#define KCACHE_MAX_KEY (1u << 20)
/* More modules than any kernel loads. */
#define KCACHE_MAX_MODS (1u << 16)
#define PAD8(n) (((n) + 7) & ~(uint64_t)7)

/*
 * The modules' key: "NAME SIZE STATE ADDRESS\n" of each line of
 * ROOT/proc/modules, in its order (a module loaded, unloaded or loaded
 * again elsewhere changes it). No such file (a kernel without modules):
 * the empty key. Returns 0 and a malloc'd *ret_key, or -errno.
 */
int sym_kcache__modules_key(const char *root, char **ret_key, size_t *ret_len)
{
	char path[4096], *line = NULL, *key = NULL;
	size_t linecap = 0, len = 0, cap = 0;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/proc/modules", root);
	f = fopen(path, "re");
	if (!f && errno != ENOENT)
		return -errno;
	while (f && getline(&line, &linecap, f) > 0) {
		char name[64], state[16];
		unsigned long long size, addr;
		int n;

		if (sscanf(line, "%63s %llu %*s %*s %15s %llx", name, &size, state, &addr) != 4)
			continue;
		if (COMMON_GROW(key, cap, len + 128) || len > KCACHE_MAX_KEY) {
			r = -ENOMEM;
			break;
		}
		n = snprintf(key + len, 128, "%s %llu %s %llx\n", name, size, state, addr);
		len += (size_t)n;
	}
	free(line);
	if (f)
		fclose(f);
	if (r == 0 && !key && !(key = strdup("")))
		r = -ENOMEM;
	if (r < 0) {
		free(key);
		return r;
	}
	*ret_key = key;
	*ret_len = len;
	return 0;
}

/* The module named name (len bytes) has a line in the modules' key. */
static bool key_has_module(const char *key, size_t key_len, const char *name, size_t len)
{
	for (const char *p = key; p < key + key_len;) {
		const char *nl = memchr(p, '\n', (size_t)(key + key_len - p));

		if (!nl)
			break;
		if ((size_t)(nl - p) > len && memcmp(p, name, len) == 0 && p[len] == ' ')
			return true;
		p = nl + 1;
	}
	return false;
}

/* This boot's id (ROOT/proc/sys/kernel/random/boot_id) into id[40]. */
int sym_kcache__boot_id(const char *root, char id[40])
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

/* pread() of exactly n bytes at off, or -EIO. */
static int kcache_pread(int fd, void *buf, size_t n, uint64_t off)
{
	return pread(fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -EIO;
}

/*
 * The name at offset off of the entry k's names (at most max - 1 bytes and
 * its NUL), read into k->name_buf. Returns it, or NULL when the entry
 * cannot be read there or holds no NUL in reach (damaged).
 */
static const char *kcache_name_at(struct sym_kernel *k, uint32_t off, size_t max)
{
	size_t n = MIN(max, MIN((size_t)KSYM_NAME_MAX + 1, k->len - off));
	ssize_t got;

	if (off >= k->len)
		return NULL;
	got = pread(k->fd, k->name_buf, n, (off_t)(k->names_off + off));
	if (got <= 0 || !memchr(k->name_buf, '\0', (size_t)got))
		return NULL;
	return k->name_buf;
}

/* A malloc'd copy of the name at off (kcache_name_at()): 0, -EINVAL or
 * -ENOMEM. */
static int kcache_name(struct sym_kernel *k, uint32_t off, size_t max, char **ret_name)
{
	const char *name = kcache_name_at(k, off, max);
	char *copy;

	if (!name)
		return -EINVAL;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	*ret_name = copy;
	return 0;
}

/*
 * Reads the symbols of the entry k (opened, its header checked) once in
 * blocks: they must be sorted, each named inside the table, the core's in
 * its range, a module's in the range of the module it names. Keeps the
 * address of every KCACHE_BLOCK-th in k->index, the only part of the
 * table that stays in memory. Returns 0, -EINVAL (damaged) or -ENOMEM.
 */
static int kcache_index(struct sym_kernel *k)
{
	enum { CHUNK = 64 * KCACHE_BLOCK };
	struct sym_ksym *buf;
	uint64_t prev = 0;
	int r = 0;

	k->n_index = (k->n + KCACHE_BLOCK - 1) / KCACHE_BLOCK;
	k->index = malloc(k->n_index * sizeof(*k->index));
	buf = malloc(CHUNK * sizeof(*buf));
	if (!k->index || !buf) {
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k->n && r == 0; i += CHUNK) {
		size_t cnt = MIN((size_t)CHUNK, k->n - i);

		if (kcache_pread(k->fd, buf, cnt * sizeof(*buf), k->syms_off + i * sizeof(*buf)) < 0) {
			r = -EINVAL;
			break;
		}
		for (size_t j = 0; j < cnt; j++) {
			const struct sym_ksym *sym = &buf[j];
			const struct kmod *m = sym_kernel__module_at(k, sym->addr);
			bool in_core = sym->addr >= k->core_lo && sym->addr < k->core_hi;

			if (sym->addr < prev || sym->name >= k->len ||
			    (sym->module == UINT32_MAX ? !in_core : !m || m->name != sym->module)) {
				r = -EINVAL;
				break;
			}
			prev = sym->addr;
			if ((i + j) % KCACHE_BLOCK == 0)
				k->index[(i + j) / KCACHE_BLOCK] = sym->addr;
		}
	}
	free(buf);
	return r;
}

int sym_kcache__read(const char *entry, const char id[40], const char *key, size_t key_len,
		     struct sym_kernel **ret_kernel)
{
	struct kcache_header h;
	struct sym_kernel *k = NULL;
	struct kmod *mods = NULL;
	char *stored_key = NULL, last;
	struct stat st;
	int fd, r = -EINVAL;

	fd = open(entry, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto out;
	/* An entry of another version of the format: written again. */
	if (memcmp(h.magic, KCACHE_MAGIC, 7) == 0 && h.magic[7] != KCACHE_MAGIC[7]) {
		r = -ESTALE;
		goto out;
	}
	if (memcmp(h.magic, KCACHE_MAGIC, 8) != 0 || memcmp(h.boot_id, id, 40) != 0 ||
	    h.n == 0 || h.n > KCACHE_MAX_SYMS || h.len == 0 || h.len > UINT32_MAX ||
	    h.key_len > KCACHE_MAX_KEY || h.n_mods > KCACHE_MAX_MODS ||
	    (uint64_t)st.st_size != sizeof(h) + PAD8(h.key_len) + h.n_mods * sizeof(struct kmod) +
					    h.n * sizeof(struct sym_ksym) + h.len)
		goto out;
	k = calloc(1, sizeof(*k));
	stored_key = malloc(h.key_len + 1);
	mods = calloc(h.n_mods + 1, sizeof(*mods));
	if (!k || !stored_key || !mods) {
		r = -ENOMEM;
		goto out;
	}
	k->fd = -1;
	/* Modules loaded or unloaded since it was written: written again. */
	if (kcache_pread(fd, stored_key, h.key_len, sizeof(h)) < 0)
		goto out;
	if (h.key_len != key_len || memcmp(stored_key, key, key_len) != 0) {
		r = -ESTALE;
		goto out;
	}
	k->syms_off = sizeof(h) + PAD8(h.key_len) + h.n_mods * sizeof(*mods);
	k->names_off = k->syms_off + h.n * sizeof(struct sym_ksym);
	if (kcache_pread(fd, mods, h.n_mods * sizeof(*mods), sizeof(h) + PAD8(h.key_len)) < 0 ||
	    kcache_pread(fd, &last, 1, k->names_off + h.len - 1) < 0 || last != '\0')
		goto out;
	/* The modules: sorted, apart, named inside the table. */
	for (size_t i = 0; i < h.n_mods; i++)
		if (mods[i].lo >= mods[i].hi || mods[i].name >= h.len ||
		    (i > 0 && mods[i].lo < mods[i - 1].hi))
			goto out;
	k->mods = mods;
	mods = NULL;
	k->n = h.n;
	k->n_mods = h.n_mods;
	k->len = h.len;
	k->core_only = true;
	k->core_lo = h.core_lo;
	k->core_hi = h.core_hi;
	k->fd = fd;
	fd = -1;
	/* Every symbol is checked here, read through a 64 KB buffer (the
	 * names when a lookup reads one); a damaged entry is refused and
	 * kallsyms read instead. The entry is Ember's own, written by root,
	 * readable by root only. */
	r = kcache_index(k);
	if (r < 0)
		goto out;
	k->mod_names = calloc(k->n_mods + 1, sizeof(*k->mod_names));
	k->slots = calloc(KCACHE_SLOTS, sizeof(*k->slots));
	k->name_buf = malloc(KSYM_NAME_MAX + 1);
	if (!k->mod_names || !k->slots || !k->name_buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < k->n_mods; i++) {
		r = kcache_name(k, k->mods[i].name, 64, &k->mod_names[i]);
		if (r < 0) {
			r = r == -ENOMEM ? r : -EINVAL;
			goto out;
		}
	}
	*ret_kernel = k;
	k = NULL;
	r = 0;
out:
	free(stored_key);
	free(mods);
	sym_kernel__free(k);
	if (fd >= 0)
		close(fd);
	return r;
}

/* The entry's symbols from k (a full parse): the core kernel's and those
 * of the modules in key (not BPF programs, trampolines: they come and go),
 * each module's named by one offset, and its ranges in ret_mods. */
static int kcache_symbols(const struct sym_kernel *k, const char *key, size_t key_len,
			  struct sym_ksym **ret_syms, size_t *ret_n, struct kmod **ret_mods,
			  size_t *ret_n_mods, struct kcache_header *h)
{
	struct sym_ksym *syms;
	struct kmod *mods = NULL, *m = NULL;
	size_t n = 0, n_mods = 0, cap_mods = 0;
	uint32_t prev = UINT32_MAX;
	bool keep = false;

	syms = calloc(k->n, sizeof(*syms));
	if (!syms)
		return -ENOMEM;
	h->core_lo = UINT64_MAX;
	for (size_t i = 0; i < k->n; i++) {
		struct sym_ksym sym = k->syms[i];

		if (sym.module == UINT32_MAX) {
			h->core_lo = MIN(h->core_lo, sym.addr);
			h->core_hi = MAX(h->core_hi, sym.addr + LAST_SYMBOL_SPAN);
			syms[n++] = sym;
			continue;
		}
		if (sym.module != prev) {
			const char *name = k->names + sym.module;

			prev = sym.module;
			keep = key_has_module(key, key_len, name, strlen(name));
			m = NULL;
			for (size_t j = 0; keep && j < n_mods && !m; j++)
				if (strcmp(k->names + mods[j].name, name) == 0)
					m = &mods[j];
			if (keep && !m) {
				if (COMMON_GROW(mods, cap_mods, n_mods + 1)) {
					free(syms);
					free(mods);
					return -ENOMEM;
				}
				m = &mods[n_mods++];
				*m = (struct kmod){ .lo = sym.addr, .name = sym.module };
			}
		}
		if (!keep)
			continue;
		sym.module = m->name;
		m->lo = MIN(m->lo, sym.addr);
		m->hi = MAX(m->hi, sym.addr + LAST_SYMBOL_SPAN);
		syms[n++] = sym;
	}
	if (n == 0 || h->core_lo == UINT64_MAX) {
		free(syms);
		free(mods);
		return -ENODATA;
	}
	/* A module's symbols come in one run of the sorted table, so their
	 * ranges are apart; if not (overlapping with the core or another
	 * module), the entry holds the core kernel only. */
	for (size_t i = 0; i < n_mods; i++)
		for (size_t j = 0; j < n_mods; j++)
			if ((j != i && mods[i].lo < mods[j].hi && mods[j].lo < mods[i].hi) ||
			    (mods[i].lo < h->core_hi && h->core_lo < mods[i].hi)) {
				size_t core = 0;

				for (size_t x = 0; x < n; x++)
					if (syms[x].module == UINT32_MAX)
						syms[core++] = syms[x];
				n = core;
				n_mods = 0;
			}
	for (size_t i = 1; i < n_mods; i++)
		for (size_t j = i; j > 0 && mods[j].lo < mods[j - 1].lo; j--) {
			struct kmod t = mods[j];

			mods[j] = mods[j - 1];
			mods[j - 1] = t;
		}
	*ret_syms = syms;
	*ret_n = n;
	*ret_mods = mods;
	*ret_n_mods = n_mods;
	return 0;
}

/* Writes the core kernel's and the modules' symbols of k (a full parse)
 * as the cache entry dir/id, and removes the entries of other boots. */
int sym_kcache__write(const char *dir, const char *entry, const char id[40], const char *key,
		      size_t key_len, const struct sym_kernel *k)
{
	static const char zeros[8];
	struct kcache_header h = { 0 };
	struct sym_ksym *syms = NULL;
	struct kmod *mods = NULL;
	size_t n = 0, n_mods = 0;
	char *tmp = NULL;
	DIR *d;
	struct dirent *e;
	int fd, r;

	r = kcache_symbols(k, key, key_len, &syms, &n, &mods, &n_mods, &h);
	if (r < 0)
		return r;
	memcpy(h.magic, KCACHE_MAGIC, 8);
	memcpy(h.boot_id, id, 40);
	h.n = n;
	h.n_mods = n_mods;
	h.key_len = key_len;
	/* The names of what is left out are kept too: the table is small
	 * enough. */
	h.len = k->len;
	fd = sym_cache__create(dir, &tmp);
	if (fd < 0) {
		free(syms);
		free(mods);
		return fd;
	}
	errno = 0;
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, key, key_len) != (ssize_t)key_len ||
	    write(fd, zeros, PAD8(key_len) - key_len) != (ssize_t)(PAD8(key_len) - key_len) ||
	    write(fd, mods, n_mods * sizeof(*mods)) != (ssize_t)(n_mods * sizeof(*mods)) ||
	    write(fd, syms, n * sizeof(*syms)) != (ssize_t)(n * sizeof(*syms)) ||
	    write(fd, k->names, k->len) != (ssize_t)k->len)
		r = errno ? -errno : -EIO;
	free(syms);
	free(mods);
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

/*
 * addr in k's cache entry: the block of KCACHE_BLOCK symbols (and the
 * next) its index names, and the symbol's name, read with pread(); the
 * answer is kept in a slot for the next lookup of addr. An entry that
 * cannot be read there, or a name with no end, is damaged (-EBADMSG).
 */
int sym_kcache__lookup(struct sym_kernel *k, uint64_t addr, const char **ret_name,
		       const char **ret_module, uint64_t *ret_offset)
{
	struct kslot *slot = &k->slots[(size_t)(((addr >> 2) * 0x9E3779B97F4A7C15ull) >> 56) %
				       KCACHE_SLOTS];
	struct sym_ksym blk[KCACHE_BLOCK + 1];
	const struct kmod *m;
	size_t b, first, cnt, i;
	char *name = NULL;

	if (slot->name && slot->addr == addr)
		goto hit;
	b = sym_sorted__count_le(k->index, k->n_index, sizeof(*k->index), addr);
	if (b == 0)
		return -ENOENT;
	first = (b - 1) * KCACHE_BLOCK;
	cnt = MIN((size_t)KCACHE_BLOCK + 1, k->n - first);
	if (kcache_pread(k->fd, blk, cnt * sizeof(*blk), k->syms_off + first * sizeof(*blk)) < 0)
		return -EBADMSG;
	i = sym_sorted__count_le(blk, cnt, sizeof(*blk), addr);
	if (i == 0)
		return -EBADMSG;
	if (!sym_ksym__holds(&blk[i - 1], i < cnt ? &blk[i] : NULL, addr))
		return -ENOENT;
	switch (kcache_name(k, blk[i - 1].name, KSYM_NAME_MAX + 1, &name)) {
	case 0:
		break;
	case -ENOMEM:
		return -ENOMEM;
	default:
		return -EBADMSG;
	}
	if (slot->name)
		k->slot_bytes -= strlen(slot->name) + 1;
	free(slot->name);
	k->slot_bytes += strlen(name) + 1;
	/* Checked when the entry was read: a module's symbol lies in the
	 * range of the module it names. */
	m = blk[i - 1].module == UINT32_MAX ? NULL : sym_kernel__module_at(k, blk[i - 1].addr);
	*slot = (struct kslot){ .addr = addr, .sym_addr = blk[i - 1].addr, .name = name,
				.module = m ? k->mod_names[m - k->mods] : NULL };
hit:
	*ret_name = slot->name;
	*ret_module = slot->module;
	*ret_offset = addr - slot->sym_addr;
	return 0;
}
