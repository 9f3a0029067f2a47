/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binary.c — the binaries of a session: one sym_binary per distinct file,
 * shared by every process that maps it, found by file identity (device,
 * inode, mtime, ctime, size) and deduplicated by GNU build-id; opened (file.c's
 * hardened open) inside the process's root, opened once per snapshot, or
 * through its map_files; loaded, unloaded for the memory bound (least
 * recently used first) and loaded again from the kept fd; its DWARF
 * charged to the bound and opened on first need. The vdso's image is
 * binary-vdso.c's, the words of a file the unwinder reads
 * binary-image.c's; both hand their binaries to this file.
 *
 * Invariants: s->bins owns every binary, and the keys, ids and seen
 * tables only point into it (a binary is forgotten from all four at once,
 * binary_forget()); s->bin_memory is the sum of the binaries' mem,
 * re-counted by sym_binary__account() after anything a binary holds
 * changes; an evicted binary keeps its fds, so a frame of an exited
 * process can still be resolved; what the bound refuses (ELF tables,
 * DWARF) is never read, inflated or cached.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <link.h>

#include "common.h"

/* The identity of a file as fstat() sees it: an alias to a loaded binary
 * (s->keys' entries, keyed by the five numbers). The ctime is the one a
 * file's owner cannot set back: a file rewritten in place, its mtime and
 * size restored, is another file. */
struct sym_file_key {
	uint64_t dev, ino, mtime_ns, ctime_ns, size;
	struct sym_binary *bin;
};

static const struct common_map_type keys_type = {
	.entry_size = sizeof(struct sym_file_key),
	.key_size = offsetof(struct sym_file_key, bin),
};

/*
 * A mapped file as /proc/PID/maps names it (device, inode and interned
 * path), and the binary it was opened as at checked_ns. Within
 * SEEN_TRUST_NS of that check a new process's mapping of it takes the
 * binary without opening the file again: under process churn, opening
 * every mapped file of every new process (a path walk each) was a tenth of
 * the agent's CPU. A file rewritten in place within that second is the
 * price: its new processes keep the old symbols until the next check.
 */
struct seen_file {
	unsigned dev_major, dev_minor;  /* the key: these four */
	uint64_t ino;
	const char *path;               /* interned: compared as a pointer */
	uint64_t checked_ns;
	struct sym_binary *bin;
};

static const struct common_map_type seen_type = {
	.entry_size = sizeof(struct seen_file),
	.key_size = offsetof(struct seen_file, checked_ns),
};

/* s->ids' entries: a binary by its build-id (interned hex). */
struct id_slot {
	const char *id;
	struct sym_binary *bin;
};

static uint64_t id_hash(const void *key)
{
	const char *id = *(const char *const *)key;

	return common_hash_mem(id, strlen(id));
}

static bool id_equal(const void *entry_key, const void *key)
{
	return !strcmp(*(const char *const *)entry_key, *(const char *const *)key);
}

static const struct common_map_type ids_type = {
	.entry_size = sizeof(struct id_slot),
	.key_size = sizeof(const char *),
	.hash = id_hash,
	.equal = id_equal,
};

#define SEEN_TRUST_NS 1000000000ULL

_Static_assert(offsetof(struct sym_file_key, bin) == 5 * sizeof(uint64_t),
	       "file_key's key has no padding");
_Static_assert(offsetof(struct seen_file, checked_ns) ==
		       2 * sizeof(unsigned) + sizeof(uint64_t) + sizeof(const char *),
	       "seen_file's key has no padding");

/* The binary of build-id id, or NULL. */
static struct sym_binary *binary_of_id(const struct sym_session *s, const char *id)
{
	const struct id_slot *e = common_map__find(&s->ids, &ids_type, &id);

	return e ? e->bin : NULL;
}

/* Re-count what bin holds (after a load, a CU, an address cached). */
void sym_binary__account(struct sym_session *s, struct sym_binary *bin)
{
	if (bin->elf && bin->elf->cfi.n_sig)
		bin->has_sig = true;
	if (bin->elf && bin->image_hi == 0) {
		bin->image_lo = UINT64_MAX;
		for (size_t i = 0; i < bin->elf->n_loads; i++) {
			const struct sym_elf_load *l = &bin->elf->loads[i];

			bin->image_lo = MIN(bin->image_lo, l->vaddr);
			bin->image_hi = MAX(bin->image_hi, l->vaddr + l->filesz);
		}
	}
	assert(s->bin_memory >= bin->mem);
	s->bin_memory -= bin->mem;
	bin->mem = sizeof(*bin) + sym_elf__memory(bin->elf) +
		   sym_dwarf__memory(bin->dwarf) + sym_addr_cache__memory(bin) +
		   (bin->blocks ? IMAGE_BLOCKS * sizeof(*bin->blocks) : 0);
	s->bin_memory += bin->mem;
	s->stats.binary_memory_peak = MAX(s->stats.binary_memory_peak, s->bin_memory);
}

/* Keep the debug file, and the files its DWARF refers to, in the binary,
 * not in its (evictable) sym_elf: a reload does not look for them. */
static void binary_take_debug_fd(struct sym_binary *bin)
{
	struct sym_dwarf_files *f = &bin->elf->files;

	if (bin->elf->debug_fd >= 0) {
		if (bin->debug_fd < 0)
			bin->debug_fd = bin->elf->debug_fd;
		else
			close(bin->elf->debug_fd);
		bin->elf->debug_fd = -1;
	}
	if (f->alt_fd >= 0 || f->alt_issue || f->dwp_fd >= 0 || f->root_fd >= 0) {
		sym_dwarf_files__close(&bin->dfiles);
		bin->dfiles = *f;
		*f = (struct sym_dwarf_files){ .alt_fd = -1, .dwp_fd = -1, .root_fd = -1 };
	}
}

/* Drop everything loaded for bin; sym_binary__elf() loads it again. */
static void binary_unload(struct sym_session *s, struct sym_binary *bin)
{
	sym_dwarf__free(bin->dwarf);
	bin->dwarf = NULL;
	bin->dwarf_tried = false;
	sym_addr_cache__clear(bin);
	free(bin->blocks);
	bin->blocks = NULL;
	if (bin->elf) {
		bin->last_mem = sizeof(*bin) + sym_elf__memory(bin->elf);
		sym_elf__free(bin->elf);
		bin->elf = NULL;
		bin->evicted = bin->fd >= 0;
		if (!bin->evicted)
			bin->fail = SYM_MISS_NO_FILE;
	}
	sym_binary__account(s, bin);
}

/* How far evict_to() may go: binaries not used in this pass only; then
 * the DWARF and address caches of those used in it too; then their ELF
 * objects too. */
enum evict_depth {
	EVICT_UNPINNED,
	EVICT_PINNED_DWARF,
	EVICT_PINNED,
};

static void evict_to(struct sym_session *s, uint64_t target, enum evict_depth depth);

/* Drop bin's DWARF and address cache, keeping its ELF object. bin is
 * pinned: its DWARF is opened again on its next address (when it fits),
 * but dropped a second time in this pass it is held (not opened again in
 * it: the addresses it resolves meanwhile are named from its ELF symbols,
 * and looked up again with DWARF in the next pass, sym_binary__elf()), so
 * a pass opens a binary's DWARF twice at most. */
static void binary_shed_dwarf(struct sym_session *s, struct sym_binary *bin)
{
	/* Only what was loaded: a binary without DWARF (none, or refused)
	 * gives up its address cache, and is not tried (and refused,
	 * counted) again for it. */
	if (bin->dwarf) {
		if (bin->dwarf_shed_pass == s->pass)
			bin->dwarf_held_pass = s->pass;
		sym_dwarf__free(bin->dwarf);
		bin->dwarf = NULL;
		bin->dwarf_tried = false;
	}
	bin->dwarf_shed_pass = s->pass;
	sym_addr_cache__clear(bin);
	sym_binary__account(s, bin);
}

/* What the binaries pinned in this pass hold, but (loaded) except. */
static uint64_t pinned_memory(const struct sym_session *s, const struct sym_binary *except)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < s->n_bins; i++)
		if (s->bins[i] != except && s->bins[i]->elf && s->bins[i]->pin_pass == s->pass)
			sum += s->bins[i]->mem;
	return sum;
}

/* bin is not read in this pass: counted as over-budget, once a pass. */
static void binary_refuse_pass(struct sym_session *s, struct sym_binary *bin)
{
	if (bin->refused_pass != s->pass) {
		bin->refused_pass = s->pass;
		s->stats.refused[SYM_REFUSED_BUDGET]++;
	}
}

/*
 * Makes room for need more bytes of bin by unloading binaries not used in
 * this pass; for depth EVICT_PINNED_DWARF (bin's ELF object, without
 * which its frames would have no names at all) then by dropping the DWARF
 * and address caches of those used in it too. Returns false when the
 * pinned ones leave no room: bin is not read in this pass (counted as
 * over-budget, once a pass). One that would not fit even alone is read
 * anyway (over the bound, as before).
 */
static bool binary_make_room(struct sym_session *s, struct sym_binary *bin, uint64_t need,
			     enum evict_depth depth)
{
	uint64_t pinned;

	if (s->bin_memory + need <= s->max_memory)
		return true;
	evict_to(s, s->max_memory > need ? s->max_memory - need : 0, depth);
	if (s->bin_memory + need <= s->max_memory)
		return true;
	pinned = pinned_memory(s, bin);
	if (pinned == 0 || need > s->max_memory || pinned + bin->mem + need <= s->max_memory)
		return true;
	binary_refuse_pass(s, bin);
	return false;
}

/*
 * Room for need more bytes about to be read (DWARF opened, a unit of it
 * loaded), made by unloading binaries not used in this pass, so that the
 * read does not take binary memory past the bound before the call's
 * eviction; what was read is counted after it (sym_binary__account()).
 * Refuses nothing: need is an estimate (binary_make_room() charges what
 * is known, and refuses).
 */
static void binary_reserve(struct sym_session *s, uint64_t need)
{
	if (s->bin_memory + need > s->max_memory)
		evict_to(s, s->max_memory > need ? s->max_memory - need : 0, EVICT_UNPINNED);
}

void sym_binary__reserve_cu(struct sym_session *s, struct sym_binary *bin, uint64_t vaddr)
{
	uint64_t need = bin->dwarf ? sym_dwarf__cu_cost(bin->dwarf, vaddr) : 0;

	if (need)
		binary_reserve(s, need);
}

/*
 * The ELF object of bin, loaded again from the kept fd when it was
 * evicted; NULL when the binary is unusable, or is not to be read again
 * in this pass (see sym_session__next_pass()). Marks bin as used.
 */
struct sym_elf *sym_binary__elf(struct sym_session *s, struct sym_binary *bin)
{
	struct sym_elf_where where = {
		.fs = { .root_fd = -1, .refused = s->stats.refused },
		.max_bytes = s->max_memory,
		.have_debug_fd = true,
		.debug_fd = bin->debug_fd,
		.symbols_later = true,
	};

	bin->last_use = ++s->tick;
	bin->pin_pass = s->pass;
	if (bin->dwarf_held_pass && bin->dwarf_held_pass != s->pass) {
		/* its DWARF did not fit in an earlier pass: the addresses
		 * cached without it are looked up again with it */
		bin->dwarf_held_pass = 0;
		bin->dwarf_tried = false;
		sym_addr_cache__clear(bin);
	}
	if (!bin->evicted)
		return bin->elf;
	if (bin->held_pass == s->pass) {
		binary_refuse_pass(s, bin);
		return NULL;
	}
	if (!binary_make_room(s, bin, bin->last_mem, EVICT_PINNED_DWARF)) {
		bin->held_pass = s->pass;
		return NULL;
	}
	bin->evicted = false;
	bin->reload_pass = s->pass;
	if (sym_elf__load_fd(bin->fd, &where, &bin->elf) < 0) {
		bin->elf = NULL;
		bin->fail = SYM_MISS_BAD_ELF;
		return NULL;
	}
	binary_take_debug_fd(bin);
	s->stats.reloads++;
	sym_binary__account(s, bin);
	return bin->elf;
}

int sym_binary__symbols(struct sym_session *s, struct sym_binary *bin)
{
	struct sym_elf_where where = {
		.fs = { .root_fd = -1, .refused = s->stats.refused },
		.max_bytes = s->max_memory,
	};
	int r;

	if (!bin->elf || !bin->elf->syms_later)
		return 0;
	r = sym_elf__load_symbols(bin->elf, bin->fd, bin->debug_fd, &where);
	s->stats.symbol_loads++;
	sym_binary__account(s, bin);
	return r;
}

static void binary_free(struct sym_binary *bin)
{
	sym_dwarf__free(bin->dwarf);
	sym_addr_cache__clear(bin);
	free(bin->blocks);
	sym_elf__free(bin->elf);
	if (bin->fd >= 0)
		close(bin->fd);
	if (bin->debug_fd >= 0)
		close(bin->debug_fd);
	sym_dwarf_files__close(&bin->dfiles);
	free(bin);
}

static int binary_add(struct sym_session *s, struct sym_binary *bin)
{
	if (COMMON_GROW(s->bins, s->cap_bins, s->n_bins + 1) < 0)
		return -ENOMEM;
	s->bins[s->n_bins++] = bin;
	return 0;
}

/*
 * Returns the binary for the ELF file open at fd: from the file-identity
 * cache when key is given and known, else loaded and deduplicated by
 * build-id. A file that fails to load still gets a binary (elf NULL, fail
 * set) so that it is not parsed again for every process. Returns 0 or
 * -ENOMEM.
 */
int sym_binary__from_fd(struct sym_session *s, int fd, const struct sym_file_key *key,
			const struct sym_elf_where *where, struct sym_binary **ret_bin)
{
	struct sym_binary *bin = NULL, *known;
	struct sym_file_key *alias = NULL;
	struct sym_elf *elf = NULL;
	enum sym_miss fail;
	int r;

	if (key) {
		const struct sym_file_key *k = common_map__find(&s->keys, &keys_type, key);

		if (k) {
			*ret_bin = k->bin;
			return 0;
		}
	}
	r = sym_elf__load_fd(fd, where, &elf);
	if (r == -ENOMEM)
		return r;
	/* Over the memory bound (counted as such): not read, as a file
	 * that could not be. */
	fail = r == -EFBIG ? SYM_MISS_NO_FILE : SYM_MISS_BAD_ELF;
	known = elf && elf->build_id ? binary_of_id(s, elf->build_id) : NULL;
	if (known) {
		sym_elf__free(elf);
		elf = NULL;
		bin = known;
	} else {
		bin = calloc(1, sizeof(*bin));
		if (!bin)
			goto nomem;
		bin->fd = bin->debug_fd = -1;
		bin->dfiles = (struct sym_dwarf_files){ .alt_fd = -1, .dwp_fd = -1, .root_fd = -1 };
		bin->elf = elf;
		bin->fail = elf ? SYM_MISS_NONE : fail;
		elf = NULL;
		if (bin->elf) {
			binary_take_debug_fd(bin);
			bin->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		}
		if (bin->elf && bin->elf->build_id) {
			bin->build_id = sym_strings__intern(&s->strings, bin->elf->build_id,
							    strlen(bin->elf->build_id));
			struct id_slot *e;

			if (!bin->build_id ||
			    common_map__insert(&s->ids, &ids_type, &bin->build_id, (void **)&e) < 0)
				goto nomem;
			e->bin = bin;
		}
		if (binary_add(s, bin) < 0) {
			/* not owned yet: undo the id entry before freeing */
			if (bin->build_id)
				common_map__remove(&s->ids, &ids_type, &bin->build_id, NULL);
			goto nomem;
		}
		if (bin->elf)
			s->stats.binaries++;
		bin->last_use = ++s->tick;
		bin->pin_pass = s->pass;
		sym_binary__account(s, bin);
	}
	if (key) {
		if (common_map__insert(&s->keys, &keys_type, key, (void **)&alias) < 0)
			return -ENOMEM;  /* bin is owned by the session already */
		alias->bin = bin;
	}
	*ret_bin = bin;
	return 0;
nomem:
	if (bin && bin != known)
		binary_free(bin);
	sym_elf__free(elf);
	return -ENOMEM;
}

/*
 * The root of pid, for the files of its snapshot: opened on the
 * snapshot's first file, closed by sym_binary__close_root() at its end.
 * Returns 0 and the borrowed *ret_fs, or -errno (the process is gone).
 */
static int snapshot_root(struct sym_session *s, pid_t pid, const struct sym_fs **ret_fs)
{
	if (s->root_pid != pid) {
		if (s->root_fs.root_fd >= 0)
			close(s->root_fs.root_fd);
		s->root_fs = (struct sym_fs){ .root_fd = -1, .refused = s->stats.refused };
		s->root_pid = pid;
		s->root_err = sym_fs__open_root(&s->root_fs, s->root, pid, &s->own_root);
	}
	*ret_fs = &s->root_fs;
	return s->root_err;
}

void sym_binary__close_root(struct sym_session *s)
{
	if (s->root_fs.root_fd >= 0)
		close(s->root_fs.root_fd);
	s->root_fs.root_fd = -1;
	s->root_pid = 0;
}

/*
 * Opens the file behind a mapping (see file.c for the rules): its path
 * resolved inside the process's root, when that is still the mapped file
 * (the device and inode the maps line gives), else
 * ROOT/proc/PID/map_files/START-END, the kernel's own link to it, which
 * works for deleted and replaced files (needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE). A path that led to another file is counted as
 * not-mapped-file, unless map_files shows it was the same file after all:
 * on btrfs (a subvolume's files have a device of their own, the maps line
 * gives the file system's) and overlayfs before Linux 6.8 (the maps line
 * gives the layer's file) the two views of a device differ.
 */
static int mapping_open(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct stat *ret_st)
{
	const struct sym_fs *fs;
	struct sym_file_rules rules = { .flags = SYM_FILE_PROC_LINK };
	struct stat st = { 0 }, st_link;
	bool other = false;
	char path[8192];
	int fd = -ENOENT, link_fd;

	if (!m->deleted && snapshot_root(s, pid, &fs) == 0) {
		fd = sym_file_open(fs, m->path, NULL, &st);
		if (fd >= 0 && st.st_dev == makedev(m->dev_major, m->dev_minor) &&
		    st.st_ino == m->inode) {
			*ret_st = st;
			return fd;
		}
		if (fd >= 0) {
			close(fd);
			other = true;
		}
	}
	snprintf(path, sizeof(path), "%s/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 s->root, (int)pid, m->start, m->end);
	link_fd = sym_file_open(&(struct sym_fs){ .root_fd = -1, .refused = s->stats.refused },
				path, &rules, &st_link);
	if (other && (link_fd < 0 || st_link.st_dev != st.st_dev || st_link.st_ino != st.st_ino))
		s->stats.refused[SYM_REFUSED_NOT_MAPPED]++;
	if (link_fd < 0)
		return other ? -ENOENT : link_fd == -ENOENT ? fd : link_fd;
	*ret_st = st_link;
	return link_fd;
}

/* The identity of the file st describes. */
static struct sym_file_key file_key(const struct stat *st)
{
	return (struct sym_file_key){
		.dev = st->st_dev,
		.ino = st->st_ino,
		.mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ULL +
			    (uint64_t)st->st_mtim.tv_nsec,
		.ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ULL +
			    (uint64_t)st->st_ctim.tv_nsec,
		.size = (uint64_t)st->st_size,
	};
}

struct sym_binary *sym_binary__of_identity(const struct sym_session *s, const struct stat *st)
{
	struct sym_file_key key = file_key(st);
	const struct sym_file_key *k = common_map__find(&s->keys, &keys_type, &key);

	return k ? k->bin : NULL;
}

int sym_binary__of_file(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	struct sym_elf_where where = {
		.debug_dir = s->debug_dir,
		.fs = { .root_fd = -1, .refused = s->stats.refused },
		.max_bytes = s->max_memory,
		.path = m->path,
		.symbols_later = true,
	};
	const struct sym_fs *fs;
	struct seen_file want = {
		.dev_major = m->dev_major, .dev_minor = m->dev_minor,
		.ino = m->inode, .path = ret->module,
	}, *seen;
	uint64_t now = common_now_ns();
	struct stat st = {0};
	struct sym_file_key key;
	int fd, r;

	if (!m->deleted) {
		seen = common_map__find(&s->seen, &seen_type, &want);
		if (seen && now - seen->checked_ns < SEEN_TRUST_NS) {
			ret->bin = seen->bin;
			return 0;
		}
	}
	fd = mapping_open(s, pid, m, &st);
	if (fd < 0) {
		ret->fail = SYM_MISS_NO_FILE;
		return 0;
	}
	/* debug files next to it are resolved in the process's root too */
	if (snapshot_root(s, pid, &fs) == 0)
		where.fs = *fs;
	key = file_key(&st);
	r = sym_binary__from_fd(s, fd, &key, &where, &ret->bin);
	close(fd);
	if (r < 0 || m->deleted)
		return r;
	/* Remember the check (failing to is only slower). */
	if (common_map__insert(&s->seen, &seen_type, &want, (void **)&seen) >= 0) {
		seen->checked_ns = now;
		seen->bin = ret->bin;
	}
	return 0;
}

static void count_refs(struct sym_session *s)
{
	const struct sym_pid_slot *e;
	size_t pos = 0;

	for (size_t i = 0; i < s->n_bins; i++)
		s->bins[i]->refs = s->bins[i]->live_refs = 0;
	while ((e = common_map__next(&s->procs, &sym_pid_type, &pos))) {
		const struct sym_process *proc = e->obj;

		for (size_t i = 0; i < proc->n_maps; i++) {
			struct sym_binary *bin = proc->maps[i].bin;

			if (!bin)
				continue;
			bin->refs++;
			if (!proc->gone)
				bin->live_refs++;
		}
	}
}

/* Free bin, which no process maps, and every way to find it. */
static void binary_forget(struct sym_session *s, size_t i)
{
	struct sym_binary *bin = s->bins[i];
	struct seen_file *seen;
	struct sym_file_key *k;
	size_t pos = 0;

	while ((k = common_map__next(&s->keys, &keys_type, &pos)))
		if (k->bin == bin)
			common_map__delete(&s->keys, &keys_type, k);
	pos = 0;
	while ((seen = common_map__next(&s->seen, &seen_type, &pos)))
		if (seen->bin == bin)
			common_map__delete(&s->seen, &seen_type, seen);
	if (bin->build_id)
		common_map__remove(&s->ids, &ids_type, &bin->build_id, NULL);
	assert(s->bin_memory >= bin->mem);
	s->bin_memory -= bin->mem;
	binary_free(bin);
	s->bins[i] = s->bins[--s->n_bins];
}

static int evict_cmp(const void *pa, const void *pb)
{
	const struct sym_binary *a = *(struct sym_binary *const *)pa;
	const struct sym_binary *b = *(struct sym_binary *const *)pb;

	/* binaries of live processes last, then least recently used first */
	if ((a->live_refs > 0) != (b->live_refs > 0))
		return a->live_refs > 0 ? 1 : -1;
	return a->last_use < b->last_use ? -1 : a->last_use > b->last_use;
}

/*
 * Unload least recently used binaries until bin_memory is at most target.
 * Binaries not used in this pass go first; then (depth) those used in it,
 * where a pinned binary whose unloading would cost names (see the loop)
 * gives up only its DWARF and address cache, so that its frames lose
 * their lines, not their names. Within each,
 * those no live process maps first (gone processes keep theirs as a file
 * to reload from, and one that nothing maps is forgotten), then those of
 * live processes; never the binary used last. A pinned binary unloaded
 * after it was loaded again in this pass is not loaded again in it
 * (held): a pass reads a binary twice at most.
 */
static void evict_to(struct sym_session *s, uint64_t target, enum evict_depth depth)
{
	struct sym_binary **order;
	size_t n = 0, n_unpinned = 0;

	count_refs(s);
	order = malloc(s->n_bins * sizeof(*order) + 1);
	if (!order)
		return;
	for (int pinned = 0; pinned <= (depth != EVICT_UNPINNED); pinned++) {
		size_t first = n;

		for (size_t i = 0; i < s->n_bins; i++)
			if (s->bins[i]->elf && s->bins[i]->last_use != s->tick &&
			    (s->bins[i]->pin_pass == s->pass) == pinned)
				order[n++] = s->bins[i];
		qsort(order + first, n - first, sizeof(*order), evict_cmp);
		if (!pinned)
			n_unpinned = n;
	}
	for (size_t i = 0; i < n_unpinned && s->bin_memory > target; i++) {
		s->stats.evictions++;
		binary_unload(s, order[i]);
	}
	/* Pinned binaries give up their DWARF and address caches first
	 * (counted as evictions too), where losing their ELF object would
	 * cost names: for another's ELF object (EVICT_PINNED_DWARF), and for
	 * the bound one loaded again in this pass, which unloaded would be
	 * held. The others are unloaded least recently used first, as are
	 * these when that was not enough. */
	for (size_t i = n_unpinned; i < n && s->bin_memory > target; i++) {
		struct sym_binary *bin = order[i];
		bool sheddable = bin->dwarf ||
				 (bin->n_cache_frames && bin->dwarf_shed_pass != s->pass);

		if (sheddable && (depth == EVICT_PINNED_DWARF || bin->reload_pass == s->pass)) {
			s->stats.evictions++;
			binary_shed_dwarf(s, bin);
		} else if (depth == EVICT_PINNED && bin->reload_pass != s->pass) {
			s->stats.evictions++;
			binary_unload(s, bin);
		}
	}
	for (size_t i = n_unpinned; i < n && depth == EVICT_PINNED && s->bin_memory > target;
	     i++) {
		if (!order[i]->elf)
			continue;
		s->stats.evictions++;
		if (order[i]->reload_pass == s->pass)
			order[i]->held_pass = s->pass;
		binary_unload(s, order[i]);
	}
	free(order);
	/* Nothing maps these: forget them (a process that maps one later
	 * finds it again). The vdso binary is kept for the next process. */
	for (size_t i = 0; i < s->n_bins;) {
		struct sym_binary *bin = s->bins[i];

		if (bin->refs == 0 && bin != s->vdso_bin && (!bin->elf || bin->evicted))
			binary_forget(s, i);
		else
			i++;
	}
}

/* Down to three quarters of the bound with binaries not used in this
 * pass, then down to the bound with pinned ones too (their DWARF first). */
void sym_session__evict(struct sym_session *s)
{
	if (s->bin_memory > s->max_memory)
		evict_to(s, s->max_memory - s->max_memory / 4, EVICT_UNPINNED);
	if (s->bin_memory > s->max_memory)
		evict_to(s, s->max_memory, EVICT_PINNED);
}

void sym_session__next_pass(struct sym_session *s)
{
	if (s)
		s->pass++;
}

void sym_binaries__fini(struct sym_session *s)
{
	common_map__fini(&s->keys);
	common_map__fini(&s->ids);
	common_map__fini(&s->seen);
	for (size_t i = 0; i < s->n_bins; i++)
		binary_free(s->bins[i]);
	free(s->bins);
	free(s->vdso_image);
}

void sym_session__trim(struct sym_session *s, uint64_t max_bytes)
{
	if (s && s->bin_memory > max_bytes)
		evict_to(s, max_bytes, EVICT_PINNED);
}

/* The session's count of debug issues follows the binary's most. */
void sym_binary__count_issues(struct sym_session *s, struct sym_binary *bin,
			      const uint32_t *now)
{
	for (int i = 1; i < SYM_DEBUG__COUNT; i++)
		if (now[i] > bin->issues[i]) {
			s->stats.debug_issues[i] += now[i] - bin->issues[i];
			bin->issues[i] = now[i];
		}
}

/* bin's DWARF alone would pass the bound: refused (counted) once, for
 * good; its ELF object unloaded and loaded again does not try it again. */
static void binary_refuse_dwarf(struct sym_session *s, struct sym_binary *bin)
{
	bin->dwarf_too_big = true;
	s->stats.refused[SYM_REFUSED_BUDGET]++;
}

/*
 * The DWARF of bin, opened on its first address. What it will hold (its
 * debug sections, compressed ones at the size they claim inflated) is
 * charged to the memory bound before anything is read or inflated: over
 * the bound it is refused (over-budget; the binary keeps its ELF
 * symbols), and never written to the on-disk cache; within it, other
 * binaries are unloaded first to make room.
 */
struct sym_dwarf *sym_binary__dwarf(struct sym_session *s, struct sym_binary *bin)
{
	uint32_t issues[SYM_DEBUG__COUNT] = { 0 };
	uint64_t cost = 0;
	int fd, copy = -1, r;

	if (!bin->dwarf_tried && !bin->dwarf_too_big && bin->dwarf_held_pass != s->pass) {
		bin->dwarf_tried = true;
		fd = bin->elf->dwarf_fd;
		if (fd < 0)
			return NULL;
		if (sym_dwarf__cost(fd, &cost) < 0)
			return NULL;
		/* Compressed DWARF (Debian's debug packages) is inflated once
		 * into the cache rather than on every run; what the bound
		 * refuses is not written there. */
		r = cost > s->max_memory ? -EFBIG :
		    sym_cache__debug_copy(s->cache_dir, s->cache_max_bytes,
					  bin->elf->build_id, fd, s->max_memory, &copy);
		if (r >= 0) {
			fd = copy;
			s->stats.cache_hits += r == 0;
			s->stats.cache_writes += r == 1;
			if (sym_dwarf__cost(fd, &cost) < 0)
				cost = 0;
		} else if (r == -EFBIG && cost > s->max_memory) {
			binary_refuse_dwarf(s, bin);
			return NULL;
		} else if (r != -ENOENT && r != -EFBIG) {
			s->stats.cache_errors++;
		}
		binary_reserve(s, cost + SYM_DWARF_OPEN_BYTES);
		if (!binary_make_room(s, bin, cost, EVICT_UNPINNED)) {
			/* not beside the binaries of this pass: tried again in
			 * the next (the address cache is emptied then) */
			bin->dwarf_tried = false;
			bin->dwarf_held_pass = s->pass;
			if (copy >= 0)
				close(copy);
			return NULL;
		}
		r = sym_dwarf__open_bounded(fd, &bin->dfiles, s->max_memory, &bin->dwarf, issues);
		if (r < 0)
			bin->dwarf = NULL;
		/* what the open holds (its unit list too), before a unit is
		 * read and charged */
		sym_binary__account(s, bin);
		if (r == -EFBIG)
			binary_refuse_dwarf(s, bin);
		if (copy >= 0)
			close(copy);
		sym_binary__count_issues(s, bin, issues);
		/* DWARF that could not be opened for one of these costs every
		 * frame its lines */
		bin->dwarf_issue = SYM_DEBUG_OK;
		if (!bin->dwarf)
			for (int i = 1; i < SYM_DEBUG__COUNT && !bin->dwarf_issue; i++)
				if (issues[i])
					bin->dwarf_issue = (uint8_t)i;
	}
	return bin->dwarf;
}
