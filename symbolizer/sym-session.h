/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-session.h — the structures of a sym_session, shared by the files
 * that make it up: symbolizer.c (the session and its public entry points),
 * process.c (process snapshots), binary.c (binaries, their cache and the
 * memory bound), frames.c (addresses to frames) and addr-cache.c (a
 * binary's address cache). Private to symbolizer/: unwind.c and python.c
 * reach a session through sym-internal.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolizer.h"
#include "sym-internal.h"

/* A missing mapping re-reads /proc/PID/maps at most this often per pid. */
#define REFRESH_INTERVAL_NS 1000000000ULL
/* ... and a watched (young) one's, through its kept fd, this often: ld.so
 * maps the libraries in the process's first milliseconds, and the DWARF
 * samples taken then are unwound as they are drained, which can be before
 * the next scheduled re-read. Without it, one to five stacks of every
 * `ember record -- CMD` ended at libc's __libc_start_call_main. */
#define REFRESH_WATCHED_NS 1000000ULL
/* One address' frames, as handed out (session-interned strings). */
struct cached_frame {
	const char *name;
	const char *file;
	uint32_t line;
	uint8_t kind;   /* enum sym_frame_kind */
	uint8_t miss;   /* enum sym_miss */
	uint8_t debug;  /* enum sym_debug_issue */
};

/* The address cache's entries (a common_map keyed by vaddr). */
struct cache_slot {
	uint64_t vaddr;
	uint32_t first;  /* index into cache_frames */
	uint32_t n;
};

/* DWARF and ELF strings -> the session's copies, by pointer: every address
 * of a function hands out the same name and file, and hashing and
 * comparing them again cost more than the DWARF lookup. A common_map of
 * struct memo_slot keyed by from; emptied with the address cache, since
 * the keys die with the binary's DWARF and symbols. */
struct memo_slot {
	const char *from;
	const char *to;
};

struct str_memo {
	struct common_map map;
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
	/* As an executable: the most executable mappings one of its
	 * processes had when its early re-reads ended
	 * (sym_session__settled_process), 0: none yet */
	uint32_t settled_maps;
	/* ... and whether such a process mapped a CPython (python.c's
	 * names): its processes are never settled (their re-read registers
	 * the interpreter's debug information) */
	bool python_maps;
	size_t mem;            /* bytes accounted in sym_session.bin_memory */
	uint64_t last_use;     /* sym_session.tick when last used */
	/* Passes (sym_session.pass, one per flush): the last it was used in
	 * (pinned: not evicted to make room for another binary then), the
	 * last it was loaded again in, the one it may not be loaded again in
	 * (evicted a second time in it, or it did not fit beside the pinned
	 * ones), the one its DWARF did not fit in (or was given up in a
	 * second time: evict_to()), the last its DWARF was given up in, and
	 * the last its refusal
	 * was counted in (once a pass). */
	uint64_t pin_pass, reload_pass, held_pass, dwarf_held_pass, dwarf_shed_pass,
		 refused_pass;
	size_t last_mem;       /* bytes of its ELF object when last unloaded */
	uint32_t refs, live_refs;  /* mappings of (live) processes, counted
	                              by an eviction pass */
	const char *build_id;  /* interned, or NULL */
	struct sym_dwarf *dwarf;
	bool dwarf_tried;
	/* its DWARF alone passes the bound: refused once, kept across
	 * unloads (the file and the bound do not change) */
	bool dwarf_too_big;
	/* Address cache: vaddr -> frames (struct cache_slot); emptied when
	 * full. */
	struct common_map cache;
	struct cached_frame *cache_frames;
	size_t n_cache_frames, cap_cache_frames;
	struct str_memo names, files;  /* emptied with the cache */
	/* The ELF virtual addresses its PT_LOAD segments' file contents
	 * span, kept across eviction (sym_session__locate_image()). */
	uint64_t image_lo, image_hi;
	bool has_sig;  /* it has signal trampolines (sym_cfi.sig) */
	/* Blocks of the file read for the unwinder (binary-image.c); NULL
	 * until the first such read, dropped with the ELF object. */
	struct image_block *blocks;
	unsigned next_block;
};

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
	uint64_t generation; /* the session's maps_generation when its maps
	                        last changed: other code may be at the
	                        addresses unwinding cached (unwind.c) */
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
	/* sym_options's unwind_trace, and its argument */
	void (*unwind_trace)(void *arg, const struct sym_unwind_miss *miss);
	void *unwind_trace_arg;
	struct common_map demangled; /* interned mangled -> name (frames.c) */
	struct sym_strings strings;
	struct common_map procs;   /* pid -> sym_process (sym_pid_type) */
	size_t watched;            /* processes with a maps fd kept open */
	struct common_map keys;    /* file identity -> sym_binary (binary.c) */
	struct common_map ids;     /* build-id -> sym_binary (binary.c) */
	struct common_map seen;    /* maps' view of a file -> its check (binary.c) */
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
	uint64_t maps_generation; /* counts changes of any process's maps */
	uint64_t tick;        /* binary uses, for least-recently-used order */
	uint64_t pass;        /* sym_session__next_pass() calls + 1 */
	struct sym_py *py;    /* Python processes and code objects (python.c) */
};

/* ---- addr-cache.c: a binary's address cache and string memos ---------- */

/* The frames cached for vaddr (bin->cache_frames[first..first + n)), or
 * NULL. */
const struct cache_slot *sym_addr_cache__find(const struct sym_binary *bin, uint64_t vaddr);
/* Remembers frames[0..n) for vaddr (emptying the cache first when it is
 * full). Failure to allocate is not an error: the address is just
 * resolved again next time. */
void sym_addr_cache__put(struct sym_binary *bin, uint64_t vaddr,
			 const struct sym_frame *frames, size_t n);
/* Empties bin's address cache and string memos; their bytes. */
void sym_addr_cache__clear(struct sym_binary *bin);
size_t sym_addr_cache__memory(const struct sym_binary *bin);
/* What m maps from to (by pointer), or NULL; remembers from -> to (a
 * failed allocation only forgets). */
const char *sym_memo__find(const struct str_memo *m, const char *from);
void sym_memo__put(struct str_memo *m, const char *from, const char *to);

/* Frames of one address, innermost first; more are cut (see lookup). */
#define MAX_INLINE 64

/* ---- process.c: process snapshots ------------------------------------- */

/*
 * Snapshot pid now (its executable mappings and their binaries): through
 * its kept maps fd when reuse allows, keeping the fd open when watch asks.
 * An earlier snapshot stays when the process is gone (or a zombie).
 * Returns 0, -ESRCH (gone), -EACCES or -ENOMEM.
 */
int sym_process__note(struct sym_session *s, pid_t pid, bool reuse, bool watch);

/*
 * The mapping of pid that holds addr, snapshotting the process if it was
 * never noted and re-reading it once for code mapped later (dlopen). When
 * there is none, *ret_m is NULL and *ret_miss says why; *ret_proc is the
 * process (or NULL). Returns 0 or -ENOMEM.
 */
int sym_process__mapping(struct sym_session *s, pid_t pid, uint64_t addr,
			 struct sym_process **ret_proc, const struct sym_mapping **ret_m,
			 enum sym_miss *ret_miss);

/*
 * The JIT symbol at addr of proc from its perf map (read on its first JIT
 * address, again on a miss at most once a second while it lives; its
 * bytes count as the process's memory), or NULL.
 */
const char *sym_process__jit_name(struct sym_session *s, struct sym_process *proc,
				  uint64_t addr);

/* Drops pid's snapshot (sym_session__forget_process(), which also drops
 * the unwinder's cache of it). */
void sym_process__forget(struct sym_session *s, pid_t pid);

/* Frees every snapshot (sym_session__free()). */
void sym_processes__fini(struct sym_session *s);

/* ---- binary.c: binaries, their cache and the memory bound -------------- */
/* (binary-vdso.c, binary-image.c: the vdso, the unwinder's file reads) */

/*
 * The binary of a file mapping (m), opened through the process's root or
 * map_files, or the process's vdso: an existing sym_binary when the file
 * (or vdso image) is known, else a new one. Sets ret->bin, or ret->fail
 * when there is none. Returns 0 or -ENOMEM.
 */
int sym_binary__of_file(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct sym_mapping *ret);
/*
 * The binary already loaded from the file st describes (its device,
 * inode, mtime, ctime and size, as sym_binary__of_file() keys what it
 * opened), or NULL. A file replaced or rewritten since (another inode or
 * ctime) is not found.
 */
struct stat;
struct sym_binary *sym_binary__of_identity(const struct sym_session *s, const struct stat *st);
/* binary-vdso.c */
int sym_binary__of_vdso(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct sym_mapping *ret);

/* Closes the root of the process whose files a snapshot opened (opened
 * on its first file, see sym_binary__of_file(), and shared by its
 * files): at the end of every snapshot, and in sym_session__free(). */
void sym_binary__close_root(struct sym_session *s);

/* The ELF object of bin, loaded again from its kept fd when it was
 * evicted; NULL when the binary is unusable. Marks bin as used. */
struct sym_elf *sym_binary__elf(struct sym_session *s, struct sym_binary *bin);

/* The DWARF of bin (whose ELF object is loaded), opened on the first call
 * (through the on-disk cache's inflated copy), or NULL: also when what it
 * would hold passes the memory bound (counted as an over-budget refusal,
 * never inflated, never cached). */
struct sym_dwarf *sym_binary__dwarf(struct sym_session *s, struct sym_binary *bin);
/* The symbol table of bin's loaded ELF object, read on this first need
 * (binaries are loaded without it); accounted. Returns 0 or -errno (the
 * table stays empty). */
int sym_binary__symbols(struct sym_session *s, struct sym_binary *bin);

/* Makes room for the DWARF unit of bin holding vaddr before it is read
 * (sym_dwarf__cu_cost(): binaries not used in this pass are unloaded). */
void sym_binary__reserve_cu(struct sym_session *s, struct sym_binary *bin, uint64_t vaddr);
/* Re-counts what bin holds in sym_session.bin_memory (after a load, a CU,
 * an address cached). */
void sym_binary__account(struct sym_session *s, struct sym_binary *bin);

/* The session's count of debug issues follows now, bin's issues so far,
 * where it found more than before. */
void sym_binary__count_issues(struct sym_session *s, struct sym_binary *bin,
			      const uint32_t *now);

/* Over the bound (sym_session.max_memory): evicts binaries until a quarter
 * of it is free. */
void sym_session__evict(struct sym_session *s);

/* Frees every binary and the tables that find them (sym_session__free()). */
void sym_binaries__fini(struct sym_session *s);

/*
 * The binary for the ELF file open at fd (binary-vdso.c's memfd, or a
 * mapping's file): from the file-identity table when key is given and
 * known, else loaded (with where: the file's root and debug lookup) and
 * deduplicated by build-id. A file that fails to load still gets a binary
 * (elf NULL, fail set), so it is not parsed again. Returns 0 or -ENOMEM.
 */
struct sym_file_key;
int sym_binary__from_fd(struct sym_session *s, int fd, const struct sym_file_key *key,
			const struct sym_elf_where *where, struct sym_binary **ret_bin);

/* ---- frames.c: addresses to frames ------------------------------------- */

/* sym_session__user_frames() without counting or evicting. */
int sym_frames__user(struct sym_session *s, pid_t pid, uint64_t addr,
		     struct sym_frame *ret_frames, size_t max, size_t *ret_n);

/* Counts a user frame handed out in sym_stats (resolved or its miss, and
 * whether it has a line). */
void sym_frames__count_user(struct sym_session *s, const struct sym_frame *f);

/* Frees the demangled names (sym_session__free()). */
void sym_frames__fini(struct sym_session *s);
