/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-kernel.h — the kernel's symbol table (kernel.c) and its on-disk
 * cache entry (kernel-cache.c), for those two files only: the table's
 * layout and the few functions each calls in the other.
 */
#ifndef EMBER_SYM_KERNEL_H
#define EMBER_SYM_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAST_SYMBOL_SPAN 4096

struct sym_ksym {
	uint64_t addr;    /* first: sym_sorted__count_le() searches it */
	uint32_t name;    /* offset in names */
	uint32_t module;  /* offset in names, or UINT32_MAX for the core */
};

/* A module's text in a cache entry: from its first symbol to a page past
 * its last (sorted by lo, which sym_sorted__count_le() searches). */
struct kmod {
	uint64_t lo, hi;
	uint32_t name;  /* offset in names */
	uint32_t pad;
};

/* The symbols a cache entry is read by (pread), at most, per lookup; and
 * how many lookups a session remembers (addresses repeat from sample to
 * sample, each a pread of a block and a name else). */
#define KCACHE_BLOCK 64
#define KCACHE_SLOTS 256
/* The kernel's KSYM_NAME_LEN: no symbol's name is longer. */
#define KSYM_NAME_MAX 512

struct kslot {
	uint64_t addr, sym_addr;
	char *name;  /* malloc'd; NULL: the slot is empty */
	const char *module;
};

struct sym_kernel {
	struct sym_ksym *syms;
	size_t n;
	char *names;
	size_t len, names_cap;
	/* Loaded from the cache: the core kernel [core_lo, core_hi) and the
	 * modules in mods only. An address outside them (a BPF program, a
	 * trampoline, a module loaded since) is looked up in rest, the other
	 * symbols of kallsyms, read once (rest_tried). */
	bool core_only;
	uint64_t core_lo, core_hi;
	const struct kmod *mods;
	size_t n_mods;
	struct sym_kernel *rest;
	bool rest_tried;
	char *path;
	bool full_tried;
	/* Loaded from the cache: the entry stays open (fd) and is read
	 * with pread(), a block of KCACHE_BLOCK symbols and a name per
	 * lookup; syms and names stay NULL. Not mapped: Linux maps a
	 * file's large folios whole on a fault (up to 2 MiB), so a mapped
	 * 5 MB entry became resident in a few lookups. */
	int fd;
	uint64_t syms_off, names_off;
	uint64_t *index;     /* the address of every KCACHE_BLOCK-th symbol */
	size_t n_index;
	char **mod_names;    /* mods[i]'s name, read once */
	struct kslot *slots; /* the last lookups, KCACHE_SLOTS, by address */
	size_t slot_bytes;
	char *name_buf;      /* KSYM_NAME_MAX + 1 bytes: a name read */
};

/* The module whose text holds addr in k's cache entry, or NULL. */
const struct kmod *sym_kernel__module_at(const struct sym_kernel *k, uint64_t addr);

/* sym holds addr: it ends at next (the next symbol) when that is of its
 * module, and covers at most LAST_SYMBOL_SPAN bytes otherwise. */
bool sym_ksym__holds(const struct sym_ksym *sym, const struct sym_ksym *next, uint64_t addr);

/* The modules' key of ROOT/proc/modules ("NAME SIZE STATE ADDRESS\n" per
 * module; empty without modules): 0 and a malloc'd *ret_key, or -errno. */
int sym_kcache__modules_key(const char *root, char **ret_key, size_t *ret_len);

/* This boot's id into id[40]: 0, -errno, or -EINVAL (not a UUID). */
int sym_kcache__boot_id(const char *root, char id[40]);

/* The cache entry at path entry, checked whole (sorted, named inside its
 * table, each symbol inside the core's or its module's range) and kept
 * open for lookups: 0 and *ret_kernel; -ENOENT (none), -ESTALE (another
 * version of the format, or written for other modules: key), -EINVAL
 * (damaged, or of another boot), -ENOMEM or -errno. */
int sym_kcache__read(const char *entry, const char id[40], const char *key, size_t key_len,
		     struct sym_kernel **ret_kernel);

/* Writes k's (a full parse) core and modules' symbols as entry, and
 * removes other boots' entries from dir. 0 or -errno. */
int sym_kcache__write(const char *dir, const char *entry, const char id[40], const char *key,
		      size_t key_len, const struct sym_kernel *k);

/* addr in k's cache entry (k from sym_kcache__read()): 0 and the name,
 * module (NULL for the core) and offset, valid until the next lookup;
 * -ENOENT, or -EBADMSG when the entry cannot be read there. */
int sym_kcache__lookup(struct sym_kernel *k, uint64_t addr, const char **ret_name,
		       const char **ret_module, uint64_t *ret_offset);

#endif
