/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolizer.c — the sym_session: per-process snapshots of the executable
 * mappings, a cache of loaded binaries shared by all processes of the session
 * (keyed by GNU build-id, else by device, inode, mtime and size), kallsyms for
 * kernel addresses, and the rules that turn an address into a sym_frame. The
 * profiler's session loop calls it at every flush, between draining the
 * sampler and writing to storage.
 */
#include "symbolizer.h"
#include "sym-internal.h"

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

/* A missing mapping re-reads /proc/PID/maps at most this often per pid. */
#define REFRESH_INTERVAL_NS 1000000000ULL
/* ... and a watched (young) one's, through its kept fd, this often: ld.so
 * maps the libraries in the process's first milliseconds, and the DWARF
 * samples taken then are unwound as they are drained, which can be before
 * the next scheduled re-read. Without it, one to five stacks of every
 * `ember record -- CMD` ended at libc's __libc_start_call_main. */
#define REFRESH_WATCHED_NS 1000000ULL
/* The vdso is a few pages; refuse to copy anything much larger. */
#define MAX_VDSO_SIZE (1u << 20)
/* A perf map is read up to its last 64 MiB (or a quarter of the memory
 * bound): a long-running JIT's map grows without end. */
#define SYM_PERFMAP_MAX_BYTES (64ULL << 20)

static const char unknown[] = "[unknown]";

/* One address' frames, as handed out (session-interned strings). */
struct cached_frame {
	const char *name;
	const char *file;
	uint32_t line;
	uint8_t kind;   /* enum sym_frame_kind */
	uint8_t miss;   /* enum sym_miss */
	uint8_t debug;  /* enum sym_debug_issue */
};

struct cache_slot {
	uint64_t vaddr;  /* 0 with n == 0: empty */
	uint32_t first;  /* index into cache_frames */
	uint32_t n;
};

/* DWARF and ELF strings -> the session's copies, by pointer: every address
 * of a function hands out the same name and file, and hashing and
 * comparing them again cost more than the DWARF lookup. Open addressing;
 * emptied with the address cache, since the keys die with the binary's
 * DWARF and symbols. */
struct memo_slot {
	const char *from;  /* NULL: empty */
	const char *to;
};

struct str_memo {
	struct memo_slot *slots;
	size_t cap, used;
};

struct sym_binary {
	struct sym_elf *elf;   /* NULL when loading failed, or evicted */
	enum sym_miss fail;    /* why elf is NULL (not evicted) */
	bool evicted;          /* unloaded for the memory bound: reload from fd */
	int fd;                /* the binary, kept to reload it, or -1 */
	int debug_fd;          /* its separate debug file, or -1 */
	struct sym_dwarf_files dfiles; /* what its DWARF refers to */
	/* debug issues counted in sym_stats: the most any load of its DWARF
	 * found (a reload finds the same again), and what its frames lose
	 * when the DWARF could not be opened at all */
	uint32_t issues[SYM_DEBUG__COUNT];
	uint8_t dwarf_issue;
	size_t mem;            /* bytes accounted in sym_session.bin_memory */
	uint64_t last_use;     /* sym_session.tick when last used */
	uint32_t refs, live_refs;  /* mappings of (live) processes, counted
	                              by an eviction pass */
	const char *build_id;  /* interned, or NULL */
	struct sym_dwarf *dwarf;
	bool dwarf_tried;
	/* Address cache: vaddr -> frames, open addressing; emptied when full. */
	struct cache_slot *cache;
	size_t cache_cap, cache_used;
	struct cached_frame *cache_frames;
	size_t n_cache_frames, cap_cache_frames;
	struct str_memo names, files;  /* emptied with the cache */
	/* The ELF virtual addresses its PT_LOAD segments' file contents
	 * span, kept across eviction (sym_session__locate_image()). */
	uint64_t image_lo, image_hi;
	bool has_sig;  /* it has signal trampolines (sym_cfi.sig) */
	/* Blocks of the file read for the unwinder (image_read()); NULL
	 * until the first such read, dropped with the ELF object. */
	struct image_block *blocks;
	unsigned next_block;
};

/*
 * A block of a binary's file as the unwinder asked for it: beyond the
 * stack copy and the CFI copies, libunwind reads the personality routine's
 * address indirectly from the binary's data (every C++ function with a
 * destructor or a catch), and code bytes where the CFI ends (PLT stubs,
 * signal trampolines). A few words per binary, read again at every flush
 * and every change of process (libunwind's cache is per process): a
 * handful of blocks, not the whole data segment.
 */
#define IMAGE_BLOCK_SIZE 512
#define IMAGE_BLOCKS 4

struct image_block {
	uint64_t offset;  /* file offset of data[0] */
	size_t len;       /* bytes read; 0: empty */
	uint8_t data[IMAGE_BLOCK_SIZE];
};

/* The identity of a file as fstat() sees it: an alias to a loaded binary. */
struct file_key {
	uint64_t dev, ino, mtime_ns, size;
	struct sym_binary *bin;
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
	unsigned dev_major, dev_minor;
	uint64_t ino;
	const char *path;
	uint64_t checked_ns;
	struct sym_binary *bin;
};

#define SEEN_TRUST_NS 1000000000ULL

struct sym_mapping {
	uint64_t start;  /* first: sym_sorted__count_le() searches it */
	uint64_t end, offset;
	enum sym_map_kind kind;
	const char *module;      /* interned path, "[vdso]", "[anon]", ... */
	const char *base;        /* interned basename of module */
	struct sym_binary *bin;  /* file and vdso mappings, NULL on failure */
	enum sym_miss fail;      /* when bin is NULL */
	bool has_bias;           /* bias is known (set on first need) */
	uint64_t bias;           /* process address - ELF virtual address */
};

struct sym_process {
	pid_t pid;
	struct sym_mapping *maps;
	size_t n_maps;
	struct sym_perfmap *perfmap;  /* JIT symbols, read on first JIT address */
	uint64_t perfmap_ns;          /* when it was last read (or tried) */
	uid_t uid;                    /* its user when its maps were last opened */
	bool uid_known;
	bool jit;                     /* has anonymous executable memory */
	bool host_root;               /* its root is ROOT (checked while it
	                                 lived, for JIT processes: its perf map
	                                 is read after it exits) */
	/* Signal trampolines in the process (sym_session__signal_ranges()),
	 * found on first need after each change of maps. */
	struct sym_cfi_range *sig;
	size_t n_sig;
	bool sig_known;
	bool snapshotted;  /* maps were read at least once */
	bool gone;         /* the last read found the process gone */
	uint64_t read_ns;  /* when maps were last read (or tried) */
	int maps_fd;       /* kept open while watched (re-reads); -1 none */
};

struct sym_session {
	char *root;       /* "" for "/" */
	char *debug_dir;  /* NULL: no debug file lookup */
	char *cache_dir;  /* NULL: no on-disk cache */
	uint64_t cache_max_bytes;
	bool no_kernel;
	bool no_demangle;
	struct sym_htab demangled;  /* mangled -> struct demangled */
	struct sym_strings strings;
	struct sym_htab procs;     /* pid -> sym_process */
	size_t watched;            /* processes with a maps fd kept open */
	struct sym_htab keys;      /* file_key -> (owns) file_key */
	struct sym_htab ids;       /* build-id -> sym_binary */
	struct sym_htab seen;      /* struct seen_file, by maps' view of a file */
	struct sym_binary **bins;  /* owns every binary */
	size_t n_bins, cap_bins;
	unsigned char *vdso_image; /* last vdso image loaded, and its binary */
	size_t vdso_size;
	bool vdso_high;            /* it was mapped above 4 GiB (a 64-bit process) */
	struct sym_binary *vdso_bin;
	char *maps_text;           /* sym_maps__read's buffer, kept */
	size_t maps_cap;
	struct sym_kernel *kernel;
	bool kernel_tried;
	/* The root of the process being snapshotted (opened on its first
	 * file, closed at the end of the snapshot): its files are resolved
	 * in it. */
	pid_t root_pid;
	struct sym_fs root_fs;
	int root_err;  /* opening it failed: -errno */
	struct sym_own_root own_root;
	struct sym_stats stats;
	uint64_t max_memory;  /* bound on bin_memory */
	uint64_t bin_memory;  /* sum of every binary's mem */
	uint64_t proc_memory; /* process snapshots: structs and mappings */
	uint64_t tick;        /* binary uses, for least-recently-used order */
	struct sym_py *py;    /* Python processes and code objects (python.c) */
};

const char *sym_miss_name(enum sym_miss miss)
{
	static const char *const names[SYM_MISS__COUNT] = {
		[SYM_MISS_NONE] = "none",
		[SYM_MISS_NO_MAPPING] = "no-mapping",
		[SYM_MISS_NO_PROCESS] = "no-process",
		[SYM_MISS_NO_FILE] = "no-file",
		[SYM_MISS_BAD_ELF] = "bad-elf",
		[SYM_MISS_NO_SYMBOL] = "no-symbol",
	};

	if ((unsigned)miss >= SYM_MISS__COUNT)
		return "invalid";
	return names[miss];
}

const char *sym_debug_issue_name(enum sym_debug_issue issue)
{
	static const char *const names[SYM_DEBUG__COUNT] = {
		[SYM_DEBUG_OK] = "none",
		[SYM_DEBUG_ALT_MISSING] = "alt-missing",
		[SYM_DEBUG_ALT_MISMATCH] = "alt-build-id-mismatch",
		[SYM_DEBUG_DWO_MISSING] = "dwo-missing",
		[SYM_DEBUG_DWO_MISMATCH] = "dwo-id-mismatch",
		[SYM_DEBUG_UNKNOWN_FORM] = "unknown-form",
		[SYM_DEBUG_COMPRESSION] = "unsupported-compression",
		[SYM_DEBUG_CORRUPT] = "corrupt",
		[SYM_DEBUG_NAME_UNRESOLVED] = "name-unresolved",
	};

	if ((unsigned)issue >= SYM_DEBUG__COUNT)
		return "invalid";
	return names[issue];
}

/* ---- processes ---------------------------------------------------------- */

static uint64_t pid_hash(pid_t pid)
{
	return common_hash(COMMON_HASH_SEED, &pid, sizeof(pid));
}

static bool proc_eq(const void *value, const void *key)
{
	return ((const struct sym_process *)value)->pid == *(const pid_t *)key;
}

static void process_free(void *p)
{
	struct sym_process *proc = p;

	if (!proc)
		return;
	if (proc->maps_fd >= 0)
		close(proc->maps_fd);
	free(proc->maps);
	free(proc->sig);
	sym_perfmap__free(proc->perfmap);
	free(proc);
}

static struct sym_process *process_find(const struct sym_session *s, pid_t pid)
{
	return sym_htab__find(&s->procs, pid_hash(pid), proc_eq, &pid);
}

/* ---- binaries ----------------------------------------------------------- */

static uint64_t key_hash(const struct file_key *k)
{
	return common_hash(COMMON_HASH_SEED, k, offsetof(struct file_key, bin));
}

static bool key_eq(const void *value, const void *key)
{
	const struct file_key *a = value, *b = key;

	return a->dev == b->dev && a->ino == b->ino &&
	       a->mtime_ns == b->mtime_ns && a->size == b->size;
}

static uint64_t seen_hash(unsigned major, unsigned minor, uint64_t ino,
			  const char *path)
{
	uint64_t k[4] = { major, minor, ino, (uintptr_t)path };

	return common_hash(COMMON_HASH_SEED, k, sizeof(k));
}

static bool seen_eq(const void *value, const void *key)
{
	const struct seen_file *a = value, *b = key;

	return a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	       a->ino == b->ino && a->path == b->path;
}

static bool id_eq(const void *value, const void *key)
{
	const struct sym_binary *bin = value;

	return bin->build_id && strcmp(bin->build_id, key) == 0;
}

static size_t cache_memory(const struct sym_binary *bin);
static void cache_clear(struct sym_binary *bin);

/* Re-count what bin holds (after a load, a CU, an address cached). */
static void binary_account(struct sym_session *s, struct sym_binary *bin)
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
	s->bin_memory -= bin->mem;
	bin->mem = sizeof(*bin) + sym_elf__memory(bin->elf) +
		   sym_dwarf__memory(bin->dwarf) + cache_memory(bin) +
		   (bin->blocks ? IMAGE_BLOCKS * sizeof(*bin->blocks) : 0);
	s->bin_memory += bin->mem;
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

/* Drop everything loaded for bin; binary_elf() loads it again. */
static void binary_unload(struct sym_session *s, struct sym_binary *bin)
{
	sym_dwarf__free(bin->dwarf);
	bin->dwarf = NULL;
	bin->dwarf_tried = false;
	cache_clear(bin);
	free(bin->blocks);
	bin->blocks = NULL;
	if (bin->elf) {
		sym_elf__free(bin->elf);
		bin->elf = NULL;
		bin->evicted = bin->fd >= 0;
		if (!bin->evicted)
			bin->fail = SYM_MISS_NO_FILE;
	}
	binary_account(s, bin);
}

/*
 * The ELF object of bin, loaded again from the kept fd when it was
 * evicted; NULL when the binary is unusable. Marks bin as used.
 */
static struct sym_elf *binary_elf(struct sym_session *s, struct sym_binary *bin)
{
	struct sym_elf_where where = {
		.fs = { .root_fd = -1, .refused = s->stats.refused },
		.max_bytes = s->max_memory,
		.have_debug_fd = true,
		.debug_fd = bin->debug_fd,
	};

	bin->last_use = ++s->tick;
	if (!bin->evicted)
		return bin->elf;
	bin->evicted = false;
	if (sym_elf__load_fd(bin->fd, &where, &bin->elf) < 0) {
		bin->elf = NULL;
		bin->fail = SYM_MISS_BAD_ELF;
		return NULL;
	}
	binary_take_debug_fd(bin);
	s->stats.reloads++;
	binary_account(s, bin);
	return bin->elf;
}

static void binary_free(struct sym_binary *bin)
{
	sym_dwarf__free(bin->dwarf);
	cache_clear(bin);
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
	if (s->n_bins == s->cap_bins) {
		size_t cap = s->cap_bins ? s->cap_bins * 2 : 64;
		struct sym_binary **p = reallocarray(s->bins, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->bins = p;
		s->cap_bins = cap;
	}
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
static int binary_from_fd(struct sym_session *s, int fd, const struct file_key *key,
			  const struct sym_elf_where *where, struct sym_binary **ret_bin)
{
	struct sym_binary *bin = NULL, *known;
	struct file_key *alias = NULL;
	struct sym_elf *elf = NULL;
	enum sym_miss fail;
	int r;

	if (key) {
		struct file_key *k = sym_htab__find(&s->keys, key_hash(key), key_eq, key);

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
	known = elf && elf->build_id ?
		sym_htab__find(&s->ids, common_hash(COMMON_HASH_SEED, elf->build_id,
						    strlen(elf->build_id)),
			       id_eq, elf->build_id) : NULL;
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
			if (!bin->build_id ||
			    sym_htab__insert(&s->ids, common_hash(COMMON_HASH_SEED,
								  bin->build_id,
								  strlen(bin->build_id)),
					     bin) < 0)
				goto nomem;
		}
		if (binary_add(s, bin) < 0) {
			/* not owned yet: undo the id entry before freeing */
			if (bin->build_id)
				sym_htab__remove(&s->ids, common_hash(COMMON_HASH_SEED,
								      bin->build_id,
								      strlen(bin->build_id)),
						 id_eq, bin->build_id);
			goto nomem;
		}
		if (bin->elf)
			s->stats.binaries++;
		bin->last_use = ++s->tick;
		binary_account(s, bin);
	}
	if (key) {
		alias = malloc(sizeof(*alias));
		if (!alias || (*alias = *key, alias->bin = bin,
			       sym_htab__insert(&s->keys, key_hash(alias), alias) < 0)) {
			free(alias);
			return -ENOMEM;  /* bin is owned by the session already */
		}
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
 * The root of pid, for the files of its snapshot: opened once per
 * snapshot (see note_process()). Returns 0 and the borrowed *ret_fs, or
 * -errno (the process is gone).
 */
static int process_root(struct sym_session *s, pid_t pid, const struct sym_fs **ret_fs)
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

static void process_root_close(struct sym_session *s)
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

	if (!m->deleted && process_root(s, pid, &fs) == 0) {
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

static int mapping_file_binary(struct sym_session *s, pid_t pid,
			       const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	struct sym_elf_where where = {
		.debug_dir = s->debug_dir,
		.fs = { .root_fd = -1, .refused = s->stats.refused },
		.max_bytes = s->max_memory,
		.path = m->path,
	};
	const struct sym_fs *fs;
	struct seen_file want = {
		.dev_major = m->dev_major, .dev_minor = m->dev_minor,
		.ino = m->inode, .path = ret->module,
	}, *seen = NULL;
	uint64_t hash = seen_hash(want.dev_major, want.dev_minor, want.ino, want.path);
	uint64_t now = common_now_ns();
	struct stat st = {0};
	struct file_key key;
	int fd, r;

	if (!m->deleted) {
		seen = sym_htab__find(&s->seen, hash, seen_eq, &want);
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
	if (process_root(s, pid, &fs) == 0)
		where.fs = *fs;
	key = (struct file_key){
		.dev = st.st_dev,
		.ino = st.st_ino,
		.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
			    (uint64_t)st.st_mtim.tv_nsec,
		.size = (uint64_t)st.st_size,
	};
	r = binary_from_fd(s, fd, &key, &where, &ret->bin);
	close(fd);
	if (r < 0 || m->deleted)
		return r;
	/* Remember the check (failing to is only slower). */
	if (!seen) {
		seen = malloc(sizeof(*seen));
		if (seen && sym_htab__insert(&s->seen, hash, seen) < 0) {
			free(seen);
			seen = NULL;
		}
	}
	if (seen) {
		*seen = want;
		seen->checked_ns = now;
		seen->bin = ret->bin;
	}
	return 0;
}

/* Size of an in-memory ELF image from its headers (for our own vdso). */
static size_t elf_image_size(const ElfW(Ehdr) *eh)
{
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;

	for (unsigned i = 0; i < eh->e_phnum; i++)
		size = MAX(size, (size_t)(ph[i].p_offset + ph[i].p_filesz));
	return size;
}

/*
 * Reads the vdso image of pid from ROOT/proc/PID/mem. Where that is not
 * allowed, our own vdso is the same kernel image when its size matches (a
 * 32-bit process has another vdso of another size).
 */
static int vdso_read(struct sym_session *s, pid_t pid,
		     const struct sym_maps_entry *m, unsigned char *buf)
{
	size_t size = m->end - m->start;
	const ElfW(Ehdr) *own;
	char path[4096];
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%d/mem", s->root, (int)pid);
	fd = sym_file_open(&(struct sym_fs){ .root_fd = -1, .refused = s->stats.refused },
			   path, NULL, NULL);
	if (fd >= 0) {
		ssize_t got = pread(fd, buf, size, (off_t)m->start);

		close(fd);
		if (got == (ssize_t)size)
			return 0;
	}
	own = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!own || page <= 0 || memcmp(own->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOENT;
	if ((elf_image_size(own) + (size_t)page - 1) / (size_t)page * (size_t)page != size)
		return -ENOENT;
	memcpy(buf, own, size);
	return 0;
}

static int mapping_vdso_binary(struct sym_session *s, pid_t pid,
			       const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	size_t size = m->end - m->start;
	unsigned char *buf = NULL;
	int fd = -1, r = 0;

	ret->fail = SYM_MISS_NO_FILE;
	if (size > MAX_VDSO_SIZE)
		return 0;
	/* Every 64-bit process of a kernel has the same vdso (mapped above
	 * 4 GiB; a 32-bit or x32 process's is below): once one is loaded,
	 * reading each new process's memory for it again is not needed. */
	if (s->vdso_bin && s->vdso_high && m->start >= 1ULL << 32 &&
	    s->vdso_size == size) {
		ret->bin = s->vdso_bin;
		return 0;
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (vdso_read(s, pid, m, buf) < 0)
		goto out;
	/* Every process of a kernel has the same vdso: skip the parse. */
	if (s->vdso_bin && s->vdso_size == size && memcmp(s->vdso_image, buf, size) == 0) {
		ret->bin = s->vdso_bin;
		goto out;
	}
	fd = memfd_create("ember-vdso", MFD_CLOEXEC);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		goto out;
	r = binary_from_fd(s, fd, NULL, NULL, &ret->bin);
	if (r < 0)
		goto out;
	free(s->vdso_image);
	s->vdso_image = buf;
	s->vdso_size = size;
	s->vdso_high = m->start >= 1ULL << 32;
	s->vdso_bin = ret->bin;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static const char *path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

static int mapping_make(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *e, struct sym_mapping *ret)
{
	struct sym_mapping m = {
		.start = e->start,
		.end = e->end,
		.offset = e->offset,
		.kind = e->kind,
	};
	int r = 0;

	m.module = sym_strings__intern(&s->strings,
				       e->kind == SYM_MAP_ANON ? "[anon]" : e->path,
				       strlen(e->kind == SYM_MAP_ANON ? "[anon]" : e->path));
	if (!m.module)
		return -ENOMEM;
	m.base = sym_strings__intern(&s->strings, path_base(m.module),
				     strlen(path_base(m.module)));
	if (!m.base)
		return -ENOMEM;
	if (e->kind == SYM_MAP_FILE)
		r = mapping_file_binary(s, pid, e, &m);
	else if (e->kind == SYM_MAP_VDSO)
		r = mapping_vdso_binary(s, pid, e, &m);
	if (r < 0)
		return r;
	if (m.bin)
		m.fail = m.bin->fail;
	*ret = m;
	return 0;
}

static void unwatch(struct sym_session *s, struct sym_process *proc)
{
	if (proc->maps_fd < 0)
		return;
	close(proc->maps_fd);
	proc->maps_fd = -1;
	s->watched--;
}

/*
 * The executable mappings of proc: through its kept maps fd when reuse
 * allows (a re-read of a watched process: no path walk, no open), else
 * from a new open, kept when watch asks (and fewer than MAX_WATCHED are).
 * A kept fd that reads -ESRCH may be bound to the address space of
 * before an exec: a new open decides.
 */
#define MAX_WATCHED 128

static int read_maps(struct sym_session *s, struct sym_process *proc,
		     bool reuse, bool watch, struct sym_maps_entry **ret_entries,
		     size_t *ret_n)
{
	int fd, r;

	if (reuse && proc->maps_fd >= 0) {
		r = sym_maps__read_fd(proc->maps_fd, &s->maps_text, &s->maps_cap,
				      ret_entries, ret_n);
		/* Empty: the text path's answer for a gone address space. */
		if (r == 0 && *ret_n == 0)
			sym_maps__free(*ret_entries, 0);
		else if (r != -ESRCH)
			return r;
	}
	unwatch(s, proc);
	r = sym_maps__open(s->root, proc->pid, &fd);
	if (r < 0)
		return r;
	r = sym_maps__read_fd(fd, &s->maps_text, &s->maps_cap, ret_entries, ret_n);
	if (r == 0 && watch && s->watched < MAX_WATCHED) {
		proc->maps_fd = fd;
		s->watched++;
	} else {
		close(fd);
	}
	return r;
}

/* Whether pid's root is ROOT: its perf map is then ROOT/tmp/perf-PID.map
 * also after it exits. */
static bool same_root(struct sym_session *s, pid_t pid)
{
	struct sym_fs fs = { .root_fd = -1 };

	if (s->root[0] || sym_fs__open_root(&fs, s->root, pid, &s->own_root) < 0)
		return false;
	if (fs.root_fd < 0)
		return true;
	close(fs.root_fd);
	return false;
}

static int note_process(struct sym_session *s, pid_t pid, bool reuse,
			bool watch)
{
	struct sym_maps_entry *entries = NULL;
	struct sym_mapping *maps = NULL;
	struct sym_process *proc;
	size_t n = 0;
	int r;

	proc = process_find(s, pid);
	if (!proc) {
		proc = calloc(1, sizeof(*proc));
		if (!proc)
			return -ENOMEM;
		proc->pid = pid;
		proc->maps_fd = -1;
		if (sym_htab__insert(&s->procs, pid_hash(pid), proc) < 0) {
			free(proc);
			return -ENOMEM;
		}
		s->proc_memory += sizeof(*proc);
	}
	proc->read_ns = common_now_ns();
	r = read_maps(s, proc, reuse, watch, &entries, &n);
	/* A zombie has an empty maps file; keep what was seen before. */
	if (r == 0 && n == 0 && proc->snapshotted)
		r = -ESRCH;
	if (r < 0) {
		/* The earlier snapshot, if any, stays: it is what the samples
		 * of the exited process need. */
		proc->gone = r == -ESRCH;
		goto out;
	}
	/* Re-read while young and unchanged (the common case): keep the
	 * snapshot rather than look every file up again. */
	if (proc->snapshotted && n == proc->n_maps) {
		bool same = true;

		for (size_t i = 0; i < n && same; i++)
			same = entries[i].start == proc->maps[i].start &&
			       entries[i].end == proc->maps[i].end &&
			       entries[i].offset == proc->maps[i].offset &&
			       entries[i].kind == proc->maps[i].kind;
		if (same) {
			proc->gone = false;
			goto out;
		}
	}
	maps = calloc(n ? n : 1, sizeof(*maps));
	if (!maps) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = mapping_make(s, pid, &entries[i], &maps[i]);
		if (r < 0)
			goto out;
		if (entries[i].kind == SYM_MAP_ANON && !proc->jit) {
			/* a JIT: its perf map may be read after it exits,
			 * as its user's file in its root */
			char path[4096];
			struct stat st;

			proc->jit = true;
			proc->host_root = same_root(s, pid);
			snprintf(path, sizeof(path), "%s/proc/%d", s->root, (int)pid);
			if (stat(path, &st) == 0) {
				proc->uid = st.st_uid;
				proc->uid_known = true;
			}
		}
	}
	free(proc->maps);
	s->proc_memory += (n - proc->n_maps) * sizeof(*maps);
	proc->maps = maps;
	proc->n_maps = n;
	maps = NULL;
	s->proc_memory -= proc->n_sig * sizeof(*proc->sig);
	free(proc->sig);
	proc->sig = NULL;
	proc->n_sig = 0;
	proc->sig_known = false;
	if (!proc->snapshotted)
		s->stats.processes++;
	proc->snapshotted = true;
	proc->gone = false;
out:
	process_root_close(s);
	free(maps);
	sym_maps__free(entries, n);
	return r;
}

/* ---- the memory bound -------------------------------------------------- */

static void count_refs(struct sym_session *s)
{
	struct sym_process *proc;
	size_t pos = 0;

	for (size_t i = 0; i < s->n_bins; i++)
		s->bins[i]->refs = s->bins[i]->live_refs = 0;
	while ((proc = sym_htab__next(&s->procs, &pos))) {
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

static bool key_of_bin(const void *value, const void *bin)
{
	return ((const struct file_key *)value)->bin == bin;
}

static void key_free(void *k)
{
	free(k);
}

static bool seen_of_bin(const void *value, const void *bin)
{
	return ((const struct seen_file *)value)->bin == bin;
}

/* Free bin, which no process maps, and every way to find it. */
static void binary_forget(struct sym_session *s, size_t i)
{
	struct sym_binary *bin = s->bins[i];

	sym_htab__remove_if(&s->keys, key_of_bin, bin, key_free);
	sym_htab__remove_if(&s->seen, seen_of_bin, bin, key_free);
	if (bin->build_id)
		sym_htab__remove(&s->ids, common_hash(COMMON_HASH_SEED, bin->build_id,
						      strlen(bin->build_id)),
				 id_eq, bin->build_id);
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
 * Over the bound: unload least recently used binaries until a quarter of
 * the bound is free again (so a full cache does not evict on every call).
 * Binaries no live process maps go first: gone processes keep theirs as a
 * file to reload from, and one that nothing maps is forgotten. Then those
 * of live processes, except the binary used last.
 */
static void evict_to(struct sym_session *s, uint64_t target)
{
	struct sym_binary **order;
	size_t n = 0;

	count_refs(s);
	order = malloc(s->n_bins * sizeof(*order) + 1);
	if (!order)
		return;
	for (size_t i = 0; i < s->n_bins; i++)
		if (s->bins[i]->elf && s->bins[i]->last_use != s->tick)
			order[n++] = s->bins[i];
	qsort(order, n, sizeof(*order), evict_cmp);
	for (size_t i = 0; i < n && s->bin_memory > target; i++) {
		s->stats.evictions++;
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

static void evict(struct sym_session *s)
{
	if (s->bin_memory > s->max_memory)
		evict_to(s, s->max_memory - s->max_memory / 4);
}

void sym_session__trim(struct sym_session *s, uint64_t max_bytes)
{
	if (s && s->bin_memory > max_bytes)
		evict_to(s, max_bytes);
}

int sym_session__note_process(struct sym_session *s, pid_t pid)
{
	int r = note_process(s, pid, false, false);

	evict(s);
	return r;
}

int sym_session__watch_process(struct sym_session *s, pid_t pid)
{
	int r = note_process(s, pid, false, true);

	evict(s);
	return r;
}

int sym_session__refresh_process(struct sym_session *s, pid_t pid)
{
	int r = note_process(s, pid, true, true);

	evict(s);
	return r;
}

void sym_session__unwatch_process(struct sym_session *s, pid_t pid)
{
	struct sym_process *proc = s ? process_find(s, pid) : NULL;

	if (proc)
		unwatch(s, proc);
}

void sym_session__forget_process(struct sym_session *s, pid_t pid)
{
	struct sym_process *proc;

	if (!s)
		return;
	sym_unwind__forget(s, pid);
	sym_py__forget(s->py, pid);
	proc = sym_htab__remove(&s->procs, pid_hash(pid), proc_eq, &pid);
	if (proc) {
		s->proc_memory -= sizeof(*proc) + proc->n_maps * sizeof(*proc->maps) +
				  sym_perfmap__memory(proc->perfmap);
		unwatch(s, proc);
	}
	process_free(proc);
}

/* ---- frames ------------------------------------------------------------- */

static const struct sym_mapping *mapping_find(const struct sym_process *proc,
					      uint64_t addr)
{
	size_t lo = sym_sorted__count_le(proc->maps, proc->n_maps, sizeof(*proc->maps),
					 addr);

	if (lo == 0 || addr >= proc->maps[lo - 1].end)
		return NULL;
	return &proc->maps[lo - 1];
}

static void frame_count(struct sym_session *s, const struct sym_frame *f)
{
	s->stats.frames++;
	if (f->miss == SYM_MISS_NONE)
		s->stats.resolved++;
	else
		s->stats.misses[f->miss]++;
}

static const char *vsyscall_name(uint64_t offset)
{
	/* The legacy vsyscall page has three fixed entry points. */
	switch (offset >> 10) {
	case 0: return "gettimeofday";
	case 1: return "time";
	case 2: return "getcpu";
	default: return NULL;
	}
}

/* ---- the per-binary address cache ------------------------------------ */

/* Entries per binary before the cache is emptied and refilled. */
#define CACHE_MAX_ENTRIES (1u << 18)

static uint64_t vaddr_hash(uint64_t vaddr)
{
	return (vaddr * 0x9e3779b97f4a7c15ULL) >> 24;
}

static const struct cache_slot *cache_find(const struct sym_binary *bin, uint64_t vaddr)
{
	size_t mask = bin->cache_cap - 1;

	if (!bin->cache_cap)
		return NULL;
	for (size_t i = vaddr_hash(vaddr) & mask;; i = (i + 1) & mask) {
		const struct cache_slot *slot = &bin->cache[i];

		if (slot->n == 0)
			return NULL;
		if (slot->vaddr == vaddr)
			return slot;
	}
}

static void memo_clear(struct str_memo *m)
{
	free(m->slots);
	*m = (struct str_memo){ 0 };
}

static void cache_clear(struct sym_binary *bin)
{
	memo_clear(&bin->names);
	memo_clear(&bin->files);
	free(bin->cache);
	free(bin->cache_frames);
	bin->cache = NULL;
	bin->cache_frames = NULL;
	bin->cache_cap = bin->cache_used = 0;
	bin->n_cache_frames = bin->cap_cache_frames = 0;
}

static size_t cache_memory(const struct sym_binary *bin)
{
	return bin->cache_cap * sizeof(*bin->cache) +
	       bin->cap_cache_frames * sizeof(*bin->cache_frames) +
	       (bin->names.cap + bin->files.cap) * sizeof(struct memo_slot);
}

/* Remember frames[0..n) for vaddr. Failure to allocate is not an error:
 * the address is just resolved again next time. */
static void cache_put(struct sym_binary *bin, uint64_t vaddr,
		      const struct sym_frame *frames, size_t n)
{
	size_t mask, i;

	if (n == 0 || n > UINT32_MAX)
		return;
	if (bin->cache_used >= CACHE_MAX_ENTRIES || bin->n_cache_frames + n > UINT32_MAX)
		cache_clear(bin);
	if (2 * (bin->cache_used + 1) > bin->cache_cap) {
		size_t ncap = bin->cache_cap ? bin->cache_cap * 2 : 1024;
		struct cache_slot *slots = calloc(ncap, sizeof(*slots));

		if (!slots)
			return;
		for (size_t j = 0; j < bin->cache_cap; j++) {
			if (!bin->cache[j].n)
				continue;
			for (i = vaddr_hash(bin->cache[j].vaddr) & (ncap - 1); slots[i].n;
			     i = (i + 1) & (ncap - 1))
				;
			slots[i] = bin->cache[j];
		}
		free(bin->cache);
		bin->cache = slots;
		bin->cache_cap = ncap;
	}
	if (bin->n_cache_frames + n > bin->cap_cache_frames) {
		size_t ncap = MAX(bin->cap_cache_frames * 2, bin->n_cache_frames + n + 1024);
		struct cached_frame *p = reallocarray(bin->cache_frames, ncap, sizeof(*p));

		if (!p)
			return;
		bin->cache_frames = p;
		bin->cap_cache_frames = ncap;
	}
	mask = bin->cache_cap - 1;
	for (i = vaddr_hash(vaddr) & mask; bin->cache[i].n; i = (i + 1) & mask)
		;
	bin->cache[i] = (struct cache_slot){
		.vaddr = vaddr, .first = (uint32_t)bin->n_cache_frames, .n = (uint32_t)n,
	};
	bin->cache_used++;
	for (size_t j = 0; j < n; j++)
		bin->cache_frames[bin->n_cache_frames++] = (struct cached_frame){
			.name = frames[j].name,
			.file = frames[j].file,
			.line = frames[j].line,
			.kind = (uint8_t)frames[j].kind,
			.miss = (uint8_t)frames[j].miss,
			.debug = (uint8_t)frames[j].debug,
		};
}

/* ---- frames ------------------------------------------------------------- */

/* Frames of one address, innermost first; more are cut (see lookup). */
#define MAX_INLINE 64

/* The session's count of debug issues follows the binary's most. */
static void binary_issues(struct sym_session *s, struct sym_binary *bin, const uint32_t *now)
{
	for (int i = 1; i < SYM_DEBUG__COUNT; i++)
		if (now[i] > bin->issues[i]) {
			s->stats.debug_issues[i] += now[i] - bin->issues[i];
			bin->issues[i] = now[i];
		}
}

/*
 * The DWARF of bin, opened on its first address. What it will hold (its
 * debug sections, compressed ones at the size they claim inflated) is
 * charged to the memory bound before anything is read or inflated: over
 * the bound it is refused (over-budget; the binary keeps its ELF
 * symbols), and never written to the on-disk cache; within it, other
 * binaries are unloaded first to make room.
 */
static struct sym_dwarf *binary_dwarf(struct sym_session *s, struct sym_binary *bin)
{
	uint32_t issues[SYM_DEBUG__COUNT] = { 0 };
	uint64_t cost = 0;
	int fd, copy = -1, r;

	if (!bin->dwarf_tried) {
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
			s->stats.refused[SYM_REFUSED_BUDGET]++;
			return NULL;
		} else if (r != -ENOENT && r != -EFBIG) {
			s->stats.cache_errors++;
		}
		if (s->bin_memory + cost > s->max_memory)
			evict_to(s, s->max_memory > cost ? s->max_memory - cost : 0);
		r = sym_dwarf__open_bounded(fd, &bin->dfiles, s->max_memory, &bin->dwarf, issues);
		if (r < 0)
			bin->dwarf = NULL;
		if (r == -EFBIG)
			s->stats.refused[SYM_REFUSED_BUDGET]++;
		if (copy >= 0)
			close(copy);
		binary_issues(s, bin, issues);
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

static const char *intern(struct sym_session *s, const char *str)
{
	return str ? sym_strings__intern(&s->strings, str, strlen(str)) : NULL;
}

static size_t memo_index(const struct str_memo *m, const char *from)
{
	size_t mask = m->cap - 1;

	for (size_t i = (size_t)(((uintptr_t)from * 0x9e3779b97f4a7c15ULL) >> 20) & mask;;
	     i = (i + 1) & mask)
		if (m->slots[i].from == from || !m->slots[i].from)
			return i;
}

/* Remembers from -> to; a failed allocation only forgets. */
static void memo_put(struct str_memo *m, const char *from, const char *to)
{
	struct memo_slot *slot;

	if (2 * (m->used + 1) > m->cap) {
		struct str_memo bigger = { .cap = m->cap ? m->cap * 2 : 256 };

		bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
		if (!bigger.slots)
			return;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].from)
				bigger.slots[memo_index(&bigger, m->slots[i].from)] = m->slots[i];
		bigger.used = m->used;
		free(m->slots);
		*m = bigger;
	}
	slot = &m->slots[memo_index(m, from)];
	if (!slot->from)
		m->used++;
	*slot = (struct memo_slot){ .from = from, .to = to };
}

static const char *intern_name(struct sym_session *s, const char *str);

/* intern_name() (names) or intern() (files) of a binary's string, through
 * the binary's memo. */
static const char *memo_intern(struct sym_session *s, struct str_memo *m, const char *str,
			       bool name)
{
	const char *to;

	if (!str)
		return NULL;
	if (m->cap) {
		const struct memo_slot *slot = &m->slots[memo_index(m, str)];

		if (slot->from)
			return slot->to;
	}
	to = name ? intern_name(s, str) : intern(s, str);
	if (to)
		memo_put(m, str, to);
	return to;
}

struct demangled {
	const char *mangled;  /* interned */
	const char *name;     /* interned */
};

static bool demangled_eq(const void *value, const void *key)
{
	return strcmp(((const struct demangled *)value)->mangled, key) == 0;
}

static void demangled_free(void *d)
{
	free(d);
}

/* A function name as frames show it: interned, demangled unless the
 * session says not to (each mangled name is demangled once). NULL on
 * ENOMEM; str NULL gives NULL. */
static const char *intern_name(struct sym_session *s, const char *str)
{
	struct demangled *d;
	uint64_t h;
	char *dem;

	if (!str || s->no_demangle || str[0] != '_' || (str[1] != 'Z' && str[1] != 'R'))
		return intern(s, str);
	h = common_hash(COMMON_HASH_SEED, str, strlen(str));
	d = sym_htab__find(&s->demangled, h, demangled_eq, str);
	if (d)
		return d->name;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	dem = sym_demangle(str);
	d->mangled = intern(s, str);
	d->name = dem ? intern(s, dem) : d->mangled;
	free(dem);
	if (!d->mangled || !d->name || sym_htab__insert(&s->demangled, h, d) < 0) {
		free(d);
		return NULL;
	}
	return d->name;
}

/*
 * The frames of a file-backed address: DWARF names, lines and inline chain,
 * the ELF symbol for the name where DWARF has none. ret_frames[0..*ret_n)
 * get name, file, line, kind and miss; the caller fills the rest. Returns
 * 0 or -ENOMEM.
 */
static int binary_frames(struct sym_session *s, struct sym_binary *bin,
			 const struct sym_mapping *m, uint64_t offset,
			 struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	struct sym_dwarf_frame df[MAX_INLINE];
	const struct cache_slot *slot;
	struct sym_dwarf *dwarf;
	const char *elf_name = NULL;
	uint64_t vaddr;
	size_t n = 0;
	int nd = 0;

	if (sym_elf__offset_to_vaddr(bin->elf, offset, &vaddr) < 0)
		goto unnamed;
	slot = cache_find(bin, vaddr);
	if (slot) {
		n = MIN(slot->n, max);
		for (size_t i = 0; i < n; i++) {
			/* keep the outermost frame when cut */
			const struct cached_frame *c =
				&bin->cache_frames[slot->first + (i == n - 1 ? slot->n - 1 : i)];

			ret_frames[i].name = c->name;
			ret_frames[i].file = c->file;
			ret_frames[i].line = c->line;
			ret_frames[i].kind = c->kind;
			ret_frames[i].miss = c->miss;
			ret_frames[i].debug = c->debug;
		}
		*ret_n = n;
		return 0;
	}
	dwarf = binary_dwarf(s, bin);
	if (dwarf) {
		nd = sym_dwarf__lookup(dwarf, vaddr, df, MIN(max, MAX_INLINE));
		if (nd < 0)
			return nd;
		binary_issues(s, bin, sym_dwarf__issues(dwarf));
	}
	if (nd == 0 || !df[nd - 1].name)
		elf_name = sym_elf__lookup(bin->elf, vaddr);
	for (int i = 0; i < nd; i++) {
		bool outer = i == nd - 1;
		const char *name = df[i].name ? df[i].name : outer ? elf_name : "[inlined]";

		ret_frames[n] = (struct sym_frame){
			.name = memo_intern(s, &bin->names, name, true),
			.file = memo_intern(s, &bin->files, df[i].file, false),
			.line = df[i].file ? df[i].line : 0,
			.kind = outer ? SYM_FRAME_USER : SYM_FRAME_INLINED,
			.miss = name ? SYM_MISS_NONE : SYM_MISS_NO_SYMBOL,
			.debug = df[i].issue,
		};
		if ((name && !ret_frames[n].name) || (df[i].file && !ret_frames[n].file))
			return -ENOMEM;
		n++;
	}
	if (n == 0) {
		ret_frames[0] = (struct sym_frame){
			.name = memo_intern(s, &bin->names, elf_name, true),
			.kind = SYM_FRAME_USER,
			.miss = elf_name ? SYM_MISS_NONE : SYM_MISS_NO_SYMBOL,
			.debug = bin->dwarf_issue,
		};
		if (elf_name && !ret_frames[0].name)
			return -ENOMEM;
		n = 1;
	}
	/* No name: module+0xoffset, so that it can be symbolized later; the
	 * offset of the function's start where an FDE bounds it, so that a
	 * stripped function is one function, not one per instruction. */
	if (!ret_frames[n - 1].name) {
		uint64_t lo;

		ret_frames[n - 1].name = sym_strings__printf(
			&s->strings, "%s+0x%" PRIx64, m->base,
			sym_cfi__function(&bin->elf->cfi, vaddr, &lo) == 0 ? offset - (vaddr - lo)
									   : offset);
		if (!ret_frames[n - 1].name)
			return -ENOMEM;
	}
	cache_put(bin, vaddr, ret_frames, n);
	*ret_n = n;
	return 0;
unnamed:
	ret_frames[0] = (struct sym_frame){
		.name = sym_strings__printf(&s->strings, "%s+0x%" PRIx64, m->base, offset),
		.kind = SYM_FRAME_USER,
		.miss = SYM_MISS_NO_SYMBOL,
	};
	*ret_n = 1;
	return ret_frames[0].name ? 0 : -ENOMEM;
}

/* The pid of pid in its own pid namespace (the NStgid line of its status),
 * or pid itself. */
static pid_t ns_pid(const struct sym_session *s, pid_t pid)
{
	char path[4096], line[256];
	pid_t ns = pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/%d/status", s->root, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NStgid:", 7) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		last = strrchr(line, '\t');
		if (last && atoi(last + 1) > 0)
			ns = atoi(last + 1);
		break;
	}
	fclose(f);
	return ns;
}

/*
 * Open the perf map of proc, as perf does and more strictly: the file the
 * process itself calls /tmp/perf-NSPID.map (in its root and pid
 * namespace; for an exited process, ROOT/tmp/perf-PID.map when its root
 * was ROOT), a regular file, not a symlink, owned by root or by the
 * process's user (a map written by anyone else could name a root
 * process's frames). Returns an fd or -errno.
 */
static int perfmap_open(struct sym_session *s, struct sym_process *proc)
{
	struct sym_fs fs = { .root_fd = -1, .refused = s->stats.refused };
	struct sym_file_rules rules = { .flags = SYM_FILE_NOFOLLOW | SYM_FILE_OWNER };
	char path[4096];
	struct stat st;
	int fd;

	/* its user now (a server may have dropped root since it started) */
	snprintf(path, sizeof(path), "%s/proc/%d", s->root, (int)proc->pid);
	if (stat(path, &st) == 0) {
		rules.owner = st.st_uid;
		if (sym_fs__open_root(&fs, s->root, proc->pid, &s->own_root) < 0)
			return -ESRCH;
		snprintf(path, sizeof(path), "/tmp/perf-%d.map",
			 (int)(fs.root_fd >= 0 ? ns_pid(s, proc->pid) : proc->pid));
	} else if (proc->host_root && proc->uid_known) {
		rules.owner = proc->uid;
		snprintf(path, sizeof(path), "%s/tmp/perf-%d.map", s->root, (int)proc->pid);
	} else {
		return -ESRCH;
	}
	fd = sym_file_open(&fs, path, &rules, NULL);
	if (fs.root_fd >= 0)
		close(fs.root_fd);
	return fd;
}

/*
 * The JIT symbol at addr from the process's perf map (perfmap_open()):
 * read on the first JIT address of the process, and again on a miss at
 * most once a second while the process lives (the JIT keeps appending).
 * The file usually outlives the process, so an exited process still gets
 * a first read. What the map holds counts as the process's memory.
 */
static const char *perfmap_lookup(struct sym_session *s, struct sym_process *proc,
				  uint64_t addr)
{
	const char *name = proc->perfmap ? sym_perfmap__lookup(proc->perfmap, addr) : NULL;
	uint64_t now = common_now_ns();
	struct sym_fs fs = { .root_fd = -1, .refused = s->stats.refused };
	struct sym_perfmap *fresh;
	int fd, r;

	if (name || (proc->perfmap_ns &&
		     (proc->gone || now - proc->perfmap_ns < REFRESH_INTERVAL_NS)))
		return name;
	proc->perfmap_ns = now;
	fd = perfmap_open(s, proc);
	if (fd < 0)
		return NULL;
	r = sym_perfmap__read_fd(fd, MIN(SYM_PERFMAP_MAX_BYTES, s->max_memory / 4), &fs, &fresh);
	close(fd);
	if (r < 0)
		return NULL;
	s->proc_memory -= sym_perfmap__memory(proc->perfmap);
	sym_perfmap__free(proc->perfmap);
	proc->perfmap = fresh;
	s->proc_memory += sym_perfmap__memory(fresh);
	return sym_perfmap__lookup(fresh, addr);
}

/* Fills frames[0..*ret_n) from mapping m; returns 0 or -ENOMEM. Every
 * frame gets the common fields of proto. */
static int frames_from_mapping(struct sym_session *s, struct sym_process *proc,
			       const struct sym_mapping *m,
			       uint64_t addr, const struct sym_frame *proto,
			       struct sym_frame *frames, size_t max, size_t *ret_n)
{
	struct sym_frame f = *proto;
	const char *name = NULL;
	size_t n = 1;
	int r = 0;

	f.module = m->module;
	f.offset = addr - m->start + m->offset;
	f.miss = SYM_MISS_NO_SYMBOL;
	switch (m->kind) {
	case SYM_MAP_FILE:
	case SYM_MAP_VDSO:
		if (!m->bin || !binary_elf(s, m->bin)) {
			f.miss = m->bin && m->bin->fail ? m->bin->fail :
				 m->fail ? m->fail : SYM_MISS_NO_FILE;
			break;
		}
		f.build_id = m->bin->build_id;
		r = binary_frames(s, m->bin, m, f.offset, frames, max, &n);
		binary_account(s, m->bin);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			frames[i].module = f.module;
			frames[i].build_id = f.build_id;
			frames[i].addr = f.addr;
			frames[i].offset = f.offset;
		}
		*ret_n = n;
		return 0;
	case SYM_MAP_VSYSCALL:
		name = vsyscall_name(addr - m->start);
		break;
	case SYM_MAP_ANON:
		f.kind = SYM_FRAME_JIT;
		f.offset = addr - m->start;
		name = perfmap_lookup(s, proc, addr);
		break;
	case SYM_MAP_SPECIAL:
		f.offset = addr - m->start;
		break;
	}
	if (name) {
		f.miss = SYM_MISS_NONE;
		f.name = intern_name(s, name);
	} else {
		f.name = sym_strings__printf(&s->strings, "%s+0x%" PRIx64, m->base,
					     f.offset);
	}
	frames[0] = f;
	*ret_n = 1;
	return f.name ? 0 : -ENOMEM;
}

/*
 * The mapping of pid that holds addr, snapshotting the process if it was
 * never noted and re-reading it once for code mapped later (dlopen). NULL
 * with *ret_miss set when there is none. Returns 0 or -ENOMEM.
 */
/* The process, noted now if it never was, or was unreadable last time
 * (not gone; at most once a second). *ret_proc may be NULL, or not
 * snapshotted. Returns 0 or -ENOMEM. */
static int process_get(struct sym_session *s, pid_t pid, struct sym_process **ret_proc)
{
	struct sym_process *proc = process_find(s, pid);
	int r = 0;

	if (!proc || (!proc->snapshotted && !proc->gone &&
		      common_now_ns() - proc->read_ns >= REFRESH_INTERVAL_NS)) {
		r = note_process(s, pid, true, false);
		proc = process_find(s, pid);
	}
	*ret_proc = proc;
	return r == -ENOMEM ? r : 0;
}

static int find_mapping(struct sym_session *s, pid_t pid, uint64_t addr,
			struct sym_process **ret_proc, const struct sym_mapping **ret_m,
			enum sym_miss *ret_miss)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	int r;

	*ret_miss = SYM_MISS_NO_PROCESS;
	r = process_get(s, pid, &proc);
	if (proc && proc->snapshotted) {
		m = mapping_find(proc, addr);
		/* Code mapped after the snapshot (dlopen): re-read once, and
		 * not more than once a second per process (a millisecond
		 * while it is watched). */
		if (!m && !proc->gone &&
		    common_now_ns() - proc->read_ns >= (proc->maps_fd >= 0 ? REFRESH_WATCHED_NS
									  : REFRESH_INTERVAL_NS)) {
			r = note_process(s, pid, true, false);
			m = mapping_find(proc, addr);
		}
		*ret_miss = SYM_MISS_NO_MAPPING;
	}
	*ret_proc = proc;
	*ret_m = m;
	return r == -ENOMEM ? r : 0;
}

/* sym_session__user_frames() without counting. */
static int user_frames(struct sym_session *s, pid_t pid, uint64_t addr,
		       struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	struct sym_frame f = {
		.name = unknown,
		.module = unknown,
		.addr = addr,
		.kind = SYM_FRAME_USER,
	};
	const struct sym_mapping *m = NULL;
	struct sym_process *proc = NULL;
	int r;

	r = find_mapping(s, pid, addr, &proc, &m, &f.miss);
	if (r == -ENOMEM)
		goto fail;
	if (m) {
		r = frames_from_mapping(s, proc, m, addr, &f, ret_frames, max, ret_n);
		if (r < 0)
			goto fail;
		return 0;
	}
	ret_frames[0] = f;
	*ret_n = 1;
	return 0;
fail:
	f.name = unknown;
	f.module = unknown;
	ret_frames[0] = f;
	*ret_n = 1;
	return -ENOMEM;
}

int sym_session__exe(struct sym_session *s, pid_t pid, bool *ret_wants_dwarf)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;

	proc = process_find(s, pid);
	if (!proc || !proc->snapshotted) {
		if (note_process(s, pid, true, false) == -ENOMEM)
			return -ENOMEM;
		proc = process_find(s, pid);
	}
	if (!proc || !proc->snapshotted)
		return -ESRCH;
	/* The executable is mapped below its libraries (PIE at 0x55..., fixed
	 * at 0x400000; libraries near the top of the address space). */
	for (size_t i = 0; i < proc->n_maps && !m; i++)
		if (proc->maps[i].kind == SYM_MAP_FILE)
			m = &proc->maps[i];
	if (!m || !m->bin || !binary_elf(s, m->bin))
		return -ENOENT;
	*ret_wants_dwarf = m->bin->elf->cfi.eh_frame &&
			   !sym_cfi__has_frame_pointers(&m->bin->elf->cfi);
	return 0;
}

int sym_session__exe_id(struct sym_session *s, pid_t pid, struct sym_file_id *ret_id)
{
	char path[4096];
	struct stat st;

	/* The link the kernel keeps to the file exec'd: what an exec of the
	 * same file is recognised by. */
	snprintf(path, sizeof(path), "%s/proc/%d/exe", s->root, (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	*ret_id = (struct sym_file_id){ .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

int sym_session__locate(struct sym_session *s, pid_t pid, uint64_t addr,
			const struct sym_elf **ret_elf, struct sym_binary **ret_bin,
			uint64_t *ret_bias, uint64_t *ret_start, uint64_t *ret_end)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	enum sym_miss miss;
	uint64_t vaddr;

	if (find_mapping(s, pid, addr, &proc, &m, &miss) < 0 || !m || !m->bin ||
	    !binary_elf(s, m->bin))
		return -ENOENT;
	if (!m->has_bias) {
		if (sym_elf__offset_to_vaddr(m->bin->elf, m->offset, &vaddr) < 0)
			return -ENOENT;
		/* (The snapshot's own entry: only the cached bias changes.) */
		((struct sym_mapping *)m)->bias = m->start - vaddr;
		((struct sym_mapping *)m)->has_bias = true;
	}
	*ret_elf = m->bin->elf;
	if (ret_bin)
		*ret_bin = m->bin;
	*ret_bias = m->bias;
	*ret_start = m->start;
	*ret_end = m->end;
	return 0;
}

/* len bytes (at most a word) at file offset off of bin's file, through
 * its blocks. Returns 0, -EIO (not in the file) or -ENOMEM. */
static int image_read(struct sym_session *s, struct sym_binary *bin, uint64_t off,
		      size_t len, uint8_t *ret)
{
	uint64_t start = off & ~(uint64_t)(IMAGE_BLOCK_SIZE - 1);
	struct image_block *b;
	ssize_t got;

	if (bin->fd < 0)
		return -EIO;
	for (unsigned i = 0; bin->blocks && i < IMAGE_BLOCKS; i++) {
		b = &bin->blocks[i];
		if (b->len && off >= b->offset && off - b->offset + len <= b->len) {
			memcpy(ret, b->data + (off - b->offset), len);
			return 0;
		}
	}
	/* A word across two blocks (never an aligned one): read as is. */
	if (off + len > start + IMAGE_BLOCK_SIZE) {
		s->stats.unwind_file_reads++;
		got = pread(bin->fd, ret, len, (off_t)off);
		return got == (ssize_t)len ? 0 : -EIO;
	}
	if (!bin->blocks) {
		bin->blocks = calloc(IMAGE_BLOCKS, sizeof(*bin->blocks));
		if (!bin->blocks)
			return -ENOMEM;
		binary_account(s, bin);
	}
	b = &bin->blocks[bin->next_block];
	bin->next_block = (bin->next_block + 1) % IMAGE_BLOCKS;
	s->stats.unwind_file_reads++;
	got = pread(bin->fd, b->data, IMAGE_BLOCK_SIZE, (off_t)start);
	b->offset = start;
	b->len = got > 0 ? (size_t)got : 0;
	if (off - start + len > b->len)
		return -EIO;  /* the file shrank under us */
	memcpy(ret, b->data + (off - start), len);
	return 0;
}

int sym_binary__read(struct sym_session *s, struct sym_binary *bin, uint64_t vaddr,
		     uint64_t *ret_word)
{
	const struct sym_elf *e = binary_elf(s, bin);
	uint8_t buf[sizeof(*ret_word)] = {0};

	if (!e)
		return -ENOENT;
	if (sym_cfi__read(&e->cfi, vaddr, ret_word) == 0)
		return 0;
	for (size_t i = 0; i < e->n_loads; i++) {
		const struct sym_elf_load *l = &e->loads[i];
		uint64_t in;
		int r;

		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		in = vaddr - l->vaddr;
		/* A word that runs past the file's part of the segment
		 * gets zeros there (.bss as the loader leaves it): libunwind
		 * reads whole aligned words for the bytes it wants, and the
		 * bytes it wants are in the file. */
		r = image_read(s, bin, l->offset + in, MIN(sizeof(buf), l->filesz - in), buf);
		if (r < 0)
			return r;
		memcpy(ret_word, buf, sizeof(buf));
		return 0;
	}
	return -ENOENT;
}

int sym_session__locate_image(struct sym_session *s, pid_t pid, uint64_t addr,
			      struct sym_binary **ret_bin, uint64_t *ret_bias)
{
	struct sym_process *proc = process_find(s, pid);

	if (!proc || !proc->snapshotted)
		return -ENOENT;
	for (size_t i = 0; i < proc->n_maps; i++) {
		struct sym_mapping *m = &proc->maps[i];
		uint64_t vaddr;

		if (!m->bin || !m->bin->image_hi)
			continue;
		/* The bias is learnt while the binary is loaded (reloading
		 * every evicted binary of the process to test one address
		 * would cost more than the read is worth). */
		if (!m->has_bias) {
			if (!m->bin->elf ||
			    sym_elf__offset_to_vaddr(m->bin->elf, m->offset, &vaddr) < 0)
				continue;
			m->bias = m->start - vaddr;
			m->has_bias = true;
		}
		if (addr - m->bias >= m->bin->image_lo && addr - m->bias < m->bin->image_hi) {
			*ret_bin = m->bin;
			*ret_bias = m->bias;
			return 0;
		}
	}
	return -ENOENT;
}

int sym_session__signal_ranges(struct sym_session *s, pid_t pid,
			       const struct sym_cfi_range **ret_ranges, size_t *ret_n)
{
	struct sym_process *proc;

	if (process_get(s, pid, &proc) < 0)
		return -ENOMEM;
	if (!proc || !proc->snapshotted)
		return -ENOENT;
	for (size_t i = 0; i < proc->n_maps && !proc->sig_known; i++) {
		struct sym_mapping *m = &proc->maps[i];
		const struct sym_elf *e;
		uint64_t vaddr;

		if (!m->bin || !m->bin->has_sig || !(e = binary_elf(s, m->bin)))
			continue;
		if (!m->has_bias) {
			if (sym_elf__offset_to_vaddr(e, m->offset, &vaddr) < 0)
				continue;
			m->bias = m->start - vaddr;
			m->has_bias = true;
		}
		for (size_t k = 0; k < e->cfi.n_sig; k++) {
			struct sym_cfi_range r = { e->cfi.sig[k].lo + m->bias,
						   e->cfi.sig[k].hi + m->bias }, *p;
			bool dup = false;

			/* (a binary with several executable mappings) */
			for (size_t j = 0; j < proc->n_sig && !dup; j++)
				dup = proc->sig[j].lo == r.lo && proc->sig[j].hi == r.hi;
			if (dup)
				continue;
			p = reallocarray(proc->sig, proc->n_sig + 1, sizeof(*p));
			if (!p)
				return -ENOMEM;
			proc->sig = p;
			proc->sig[proc->n_sig++] = r;
			s->proc_memory += sizeof(*p);
		}
	}
	proc->sig_known = true;
	*ret_ranges = proc->sig;
	*ret_n = proc->n_sig;
	return 0;
}

bool sym_session__signal_trampoline(struct sym_session *s, pid_t pid, uint64_t addr)
{
	const struct sym_cfi_range *r;
	size_t n;

	return sym_session__signal_ranges(s, pid, &r, &n) == 0 &&
	       sym_cfi__in_ranges(r, n, addr);
}

void sym_session__count_unserved(struct sym_session *s, uint64_t reads)
{
	s->stats.unwind_unserved += reads;
}

static void frame_count_line(struct sym_session *s, const struct sym_frame *f)
{
	frame_count(s, f);
	if (f->file)
		s->stats.with_line++;
}

int sym_session__user_frames(struct sym_session *s, pid_t pid, uint64_t addr,
			     struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	size_t n = 0;
	int r;

	if (max == 0)
		return -EINVAL;
	r = user_frames(s, pid, addr, ret_frames, max, &n);
	for (size_t i = 0; i < n; i++)
		frame_count_line(s, &ret_frames[i]);
	evict(s);
	*ret_n = n;
	return r;
}

int sym_session__user(struct sym_session *s, pid_t pid, uint64_t addr,
		      struct sym_frame *ret_frame)
{
	struct sym_frame frames[MAX_INLINE];
	size_t n = 0;
	int r;

	r = user_frames(s, pid, addr, frames, MAX_INLINE, &n);
	/* the real function: the outermost frame */
	*ret_frame = frames[n - 1];
	ret_frame->kind = ret_frame->kind == SYM_FRAME_INLINED ? SYM_FRAME_USER : ret_frame->kind;
	frame_count_line(s, ret_frame);
	evict(s);
	return r;
}

int sym_session__kernel(struct sym_session *s, uint64_t addr,
			struct sym_frame *ret_frame)
{
	/* No kernel address leaves here but in f.addr: with KASLR one
	 * address gives away the kernel's random offset to whoever reads a
	 * profile. A frame keeps its offset in its function (as perf shows
	 * "name+0x1a"); one that kallsyms does not name is "[unknown]". */
	struct sym_frame f = {
		.module = "[kernel.kallsyms]",
		.addr = addr,
		.kind = SYM_FRAME_KERNEL,
		.miss = SYM_MISS_NO_SYMBOL,
	};
	const char *name, *module;
	uint64_t offset;
	int r = 0;

	if (!s->kernel_tried && !s->no_kernel) {
		int cache = 0;

		s->kernel_tried = true;
		/* Without kallsyms kernel frames are "[unknown]". */
		r = sym_kernel__load(s->root, s->cache_dir, &s->kernel, &cache);
		if (r != -ENOMEM)
			r = 0;
		s->stats.cache_hits += cache == 1;
		s->stats.cache_writes += cache == 2;
		s->stats.cache_errors += cache < 0;
	}
	if (r == 0 && s->kernel &&
	    sym_kernel__lookup(s->kernel, addr, &name, &module, &offset) == 0) {
		f.offset = offset;
		if (module) {
			/* "name [module]", as perf shows module frames */
			f.name = sym_strings__printf(&s->strings, "%s [%s]", name, module);
			f.module = sym_strings__intern(&s->strings, module, strlen(module));
		} else {
			f.name = sym_strings__intern(&s->strings, name, strlen(name));
		}
		f.miss = SYM_MISS_NONE;
	} else {
		f.name = unknown;
	}
	if (!f.name || !f.module) {
		r = -ENOMEM;
		f.name = unknown;
		f.module = "[kernel.kallsyms]";
		f.miss = SYM_MISS_NO_SYMBOL;
	}
	frame_count(s, &f);
	*ret_frame = f;
	return r;
}

/* ---- session ------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	char *p;

	return asprintf(&p, "%s%s", a, b) < 0 ? NULL : p;
}

int sym_session__new(const struct sym_options *opts, struct sym_session **ret_session)
{
	struct sym_session *s;
	const char *root = opts && opts->root ? opts->root : "";
	size_t len = strlen(root);

	/* "/" and "/x/" become "" and "/x" so paths join with "/proc". */
	while (len > 0 && root[len - 1] == '/')
		len--;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root = strndup(root, len);
	if (!s->root)
		goto nomem;
	if (!opts || !opts->debug_dir)
		s->debug_dir = path_join(s->root, "/usr/lib/debug");
	else if (opts->debug_dir[0])
		s->debug_dir = strdup(opts->debug_dir);
	if ((!opts || !opts->debug_dir || opts->debug_dir[0]) && !s->debug_dir)
		goto nomem;
	s->root_fs.root_fd = -1;
	s->no_kernel = opts && opts->no_kernel;
	s->no_demangle = opts && opts->no_demangle;
	s->max_memory = opts && opts->max_memory ? opts->max_memory : SYM_DEFAULT_MAX_MEMORY;
	if (opts && opts->cache_dir && opts->cache_dir[0]) {
		s->cache_dir = strdup(opts->cache_dir);
		if (!s->cache_dir)
			goto nomem;
	}
	s->cache_max_bytes = opts && opts->cache_max_bytes ? opts->cache_max_bytes
							   : SYM_DEFAULT_CACHE_MAX_BYTES;
	*ret_session = s;
	return 0;
nomem:
	sym_session__free(s);
	return -ENOMEM;
}

void sym_session__free(struct sym_session *s)
{
	if (!s)
		return;
	process_root_close(s);
	sym_htab__fini(&s->procs, process_free);
	sym_htab__fini(&s->keys, key_free);
	sym_htab__fini(&s->ids, NULL);
	sym_htab__fini(&s->seen, key_free);
	sym_htab__fini(&s->demangled, demangled_free);
	for (size_t i = 0; i < s->n_bins; i++)
		binary_free(s->bins[i]);
	free(s->bins);
	free(s->vdso_image);
	free(s->maps_text);
	sym_kernel__free(s->kernel);
	sym_py__free(s->py);
	sym_strings__fini(&s->strings);
	free(s->debug_dir);
	free(s->cache_dir);
	free(s->root);
	free(s);
}

void sym_session__stats(const struct sym_session *s, struct sym_stats *ret_stats)
{
	*ret_stats = s->stats;
	ret_stats->binary_memory = s->bin_memory;
	ret_stats->string_memory = s->strings.bytes;
	ret_stats->process_memory = s->proc_memory;
	ret_stats->kernel_memory = sym_kernel__memory(s->kernel);
	ret_stats->memory = s->bin_memory + s->strings.bytes + s->proc_memory +
			    ret_stats->kernel_memory;
}

/* ---- for python.c ------------------------------------------------------- */

int sym_session__mapping(struct sym_session *s, pid_t pid, size_t i,
			 const char **ret_module, int *ret_fd, uint64_t *ret_start)
{
	struct sym_process *proc;

	if (process_get(s, pid, &proc) < 0)
		return -ENOMEM;
	if (!proc || !proc->snapshotted)
		return -ESRCH;
	for (size_t k = 0; k < proc->n_maps; k++) {
		const struct sym_mapping *m = &proc->maps[k];

		if (m->kind != SYM_MAP_FILE || i-- > 0)
			continue;
		*ret_module = m->module;
		*ret_fd = m->bin ? m->bin->fd : -1;
		*ret_start = m->start;
		return 0;
	}
	return -ENOENT;
}

struct sym_dwarf *sym_session__dwarf_at(struct sym_session *s, pid_t pid, uint64_t addr)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	enum sym_miss miss;

	if (find_mapping(s, pid, addr, &proc, &m, &miss) < 0 || !m || !m->bin ||
	    !binary_elf(s, m->bin))
		return NULL;
	m->bin->last_use = ++s->tick;
	return binary_dwarf(s, m->bin);
}

const char *sym_session__intern(struct sym_session *s, const char *str, size_t len)
{
	return sym_strings__intern(&s->strings, str, len);
}

struct sym_py **sym_session__py(struct sym_session *s)
{
	return &s->py;
}
