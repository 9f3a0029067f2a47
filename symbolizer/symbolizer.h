/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolizer.h — public API of the symbolizer module: turns raw instruction
 * addresses from the sampler (user addresses of one process, or kernel
 * addresses) into frames with a function name, the module they belong to,
 * the module's build-id and the file offset of the address.
 *
 * Data flow: profiler/ hands every drained stack to a sym_session; the frames
 * it gets back are written to storage/. Processes are snapshotted (their
 * /proc/PID/maps and the binaries behind them) when first seen, so a process
 * that exits before the next drain can still be symbolized.
 *
 * Thread safety: a sym_session is used by one thread at a time (the session
 * loop). Different sessions share nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python_layout.h"

enum sym_frame_kind {
	SYM_FRAME_USER = 0,
	SYM_FRAME_KERNEL = 1,
	SYM_FRAME_INLINED = 2,
	SYM_FRAME_JIT = 3,
	SYM_FRAME_PYTHON = 4,  /* a CPython frame (sym_session__python_frame) */
};

/* Why a frame could not be given a function name. */
enum sym_miss {
	SYM_MISS_NONE = 0,        /* resolved */
	SYM_MISS_NO_MAPPING,      /* address in no known mapping of the process */
	SYM_MISS_NO_PROCESS,      /* /proc/PID unreadable (exited, forbidden) */
	SYM_MISS_NO_FILE,         /* binary not readable (deleted, no access) */
	SYM_MISS_BAD_ELF,         /* binary is not a valid ELF file */
	SYM_MISS_NO_SYMBOL,       /* no symbol covers the address */
	SYM_MISS__COUNT,
};

/*
 * Debug information found but not (wholly) read, per reason: counted per
 * file, unit or section in sym_stats.debug_issues, and given to the frames
 * whose name, line or inline chain it cost (sym_frame.debug).
 */
enum sym_debug_issue {
	SYM_DEBUG_OK = 0,
	SYM_DEBUG_ALT_MISSING,    /* the dwz / DWARF 5 supplementary file that
	                             .gnu_debugaltlink or .debug_sup names is
	                             not found */
	SYM_DEBUG_ALT_MISMATCH,   /* found, but its build-id is another */
	SYM_DEBUG_DWO_MISSING,    /* a split unit's .dwo (or its .dwp entry)
	                             is not found */
	SYM_DEBUG_DWO_MISMATCH,   /* a .dwo is found but holds another unit
	                             (its dwo id differs) */
	SYM_DEBUG_UNKNOWN_FORM,   /* a unit uses an attribute form the reader
	                             does not know: read up to it */
	SYM_DEBUG_COMPRESSION,    /* a section compressed in a way the reader
	                             cannot inflate */
	SYM_DEBUG_CORRUPT,        /* a section or unit that fails its checks */
	SYM_DEBUG_NAME_UNRESOLVED, /* an inlined function whose name chain
	                             (DW_AT_abstract_origin / specification,
	                             within a unit, across units or into the
	                             supplementary file) cannot be followed to
	                             a name: a reference to no DIE, a cycle, a
	                             chain over 6 hops, or a DIE without one;
	                             counted per DIE, the frame is "[inlined]" */
	SYM_DEBUG__COUNT,
};

/*
 * One resolved frame. All strings are borrowed from the session and stay
 * valid until sym_session__free(). name is never NULL: an unresolved frame
 * is named "module+0xoffset" (or "[unknown]" when not even the module is
 * known), and miss says why.
 */
struct sym_frame {
	const char *name;      /* function name (demangled), "name [module]"
	                          for kernel module code, or "module+0xoff" */
	const char *module;    /* path of the mapped file, "[kernel.kallsyms]", a
	                          module name for kernel modules, "[vdso]",
	                          "[unknown]" */
	const char *build_id;  /* lowercase hex GNU build-id, or NULL */
	uint64_t addr;         /* the raw address that was resolved */
	uint64_t offset;       /* file offset of addr in module (user frames),
	                          or addr's offset in its function (kernel
	                          frames: never the address, which with KASLR
	                          would give the kernel's offset away; 0 for
	                          "[unknown]") */
	const char *file;      /* source file from DWARF, or NULL */
	uint32_t line;         /* source line, or 0 when file is NULL; for
	                          the caller of an inlined frame, the line of
	                          the inlined call */
	enum sym_frame_kind kind;
	enum sym_miss miss;
	enum sym_debug_issue debug;  /* debug information that existed for
	                                this frame but could not be read */
};

/*
 * Why a file was not read on behalf of a profiled process (its binaries,
 * debug files, perf map): Ember runs as root and these files belong to
 * other users. Every refusal is counted in sym_stats.refused.
 */
enum sym_refusal {
	SYM_REFUSED_NOT_REGULAR = 0, /* a FIFO, device, socket or directory */
	SYM_REFUSED_SYMLINK,      /* a perf map that is a symlink */
	SYM_REFUSED_OWNER,        /* a perf map owned by neither root nor the
	                             process's user */
	SYM_REFUSED_OUTSIDE_ROOT, /* a path that leads out of the process's
	                             root (absolute symlink, "..", a /proc
	                             magic link) to nothing inside it */
	SYM_REFUSED_TOO_BIG,      /* larger than its bound (a file, a perf map
	                             or one of its lines) */
	SYM_REFUSED_NOT_MAPPED,   /* not the mapped file: device or inode
	                             differ (replaced, or a trick) */
	SYM_REFUSED_BUDGET,       /* debug sections (compressed ones at their
	                             inflated size) or tables that would pass
	                             the memory bound: refused before reading;
	                             or a binary that does not fit beside
	                             those pinned in this pass (once a pass) */
	SYM_REFUSED_SLOW,         /* a read past its time bound, or an open
	                             that would wait (a lease its owner holds) */
	SYM_REFUSED__COUNT,
};

/* A short kebab-case name of a refusal ("not-regular", ...). */
const char *sym_refusal_name(enum sym_refusal reason);

/* A word the DWARF unwinder asked for and did not get (sym_options's
 * unwind_trace). */
struct sym_unwind_miss {
	pid_t pid;
	uint64_t addr;        /* the word asked for */
	bool below_stack;     /* in the red zone below the sample's %rsp,
	                         which the copy does not hold */
	uint64_t sp;          /* the sample's %rsp: where the copy starts */
	size_t stack_len;     /* bytes in the copy */
	size_t depth;         /* frames found before the step that asked */
	uint64_t frame_ip;    /* the IP of the frame being stepped from */
	/* What the process's snapshot held at addr: the mapping, or none
	 * (module NULL) among n_maps read maps_age_ns ago (UINT64_MAX: the
	 * process was never snapshotted). */
	const char *module;
	uint64_t map_start, map_end;
	size_t n_maps;
	uint64_t maps_age_ns;
};

struct sym_options {
	/* Root directory prefix for reading /proc and kallsyms; NULL means "/".
	 * Unit tests leave it NULL. */
	const char *root;
	/* Do not read /proc/kallsyms (tests, or when the caller knows kernel
	 * frames will not be asked for). */
	bool no_kernel;
	/* Directory holding separate debug files by build-id
	 * (DEBUG_DIR/.build-id/xx/yyyy.debug). NULL means ROOT/usr/lib/debug;
	 * "" disables the lookup. Added by the symbolization issue. */
	const char *debug_dir;
	/* Keep C++ and Rust names mangled (as in the symbol table). */
	bool no_demangle;
	/* Bound, in bytes, on what the session holds for binaries (symbol
	 * tables, DWARF line tables and inline trees and the small debug
	 * sections behind them, address caches, CFI copies). 0 means
	 * SYM_DEFAULT_MAX_MEMORY. Over the bound, the least recently used
	 * binaries are unloaded (those no live process maps first) and
	 * reloaded from their kept file on their next address. A single
	 * binary bigger than the bound stays loaded while it is used; but
	 * one whose symbol tables, or whose DWARF's debug sections
	 * (compressed ones at their inflated size), alone would pass the
	 * bound is not read (counted in refused[SYM_REFUSED_BUDGET]). */
	uint64_t max_memory;
	/* Directory of the on-disk cache kept between runs (uncompressed
	 * copies of debug files whose DWARF is compressed, by build-id; the
	 * core kernel's symbols for this boot). NULL or "" means none; a
	 * directory that cannot be created or written is not an error, the
	 * session then works without it. */
	const char *cache_dir;
	/* Bound on the debug copies in cache_dir, in bytes; 0 means
	 * SYM_DEFAULT_CACHE_MAX_BYTES. */
	uint64_t cache_max_bytes;
	/* Called, when set, for every word the DWARF unwinder asked for and
	 * did not get (sym_stats.unwind_unserved, and the red zone below
	 * the stack copy): what it was, where the walk was, and what the
	 * process's snapshot held there (a debugging aid: `ember record`
	 * and the agent print these with EMBER_DEBUG_UNWIND=1). Called on
	 * the unwinding thread, inside the unwind: it must not call back
	 * into the session. */
	void (*unwind_trace)(void *arg, const struct sym_unwind_miss *miss);
	void *unwind_trace_arg;
};

/* The default bound on binaries' memory: 256 MiB. */
#define SYM_DEFAULT_MAX_MEMORY (256ULL << 20)
/* The default bound on the on-disk debug copies: 1 GiB. */
#define SYM_DEFAULT_CACHE_MAX_BYTES (1ULL << 30)
/* The cache directory the profiler uses unless told otherwise. */
#define SYM_DEFAULT_CACHE_DIR "/var/cache/ember"

/* Per-session counters, for `ember record`'s summary and /metrics. */
struct sym_stats {
	uint64_t frames;                   /* frames asked for */
	uint64_t resolved;                 /* frames given a function name */
	uint64_t with_line;                /* frames given a file and line */
	uint64_t misses[SYM_MISS__COUNT];  /* frames not resolved, per reason */
	uint64_t processes;                /* processes snapshotted */
	uint64_t binaries;                 /* distinct binaries loaded */
	uint64_t memory;                   /* bytes held: the five below */
	uint64_t binary_memory;            /* held for binaries (symbols, DWARF
	                                      tables, address caches): what
	                                      max_memory bounds */
	uint64_t string_memory;            /* interned frame strings */
	uint64_t process_memory;           /* process snapshots (mappings) */
	uint64_t kernel_memory;            /* the kallsyms table */
	uint64_t unwind_memory;            /* libunwind's address spaces (a
	                                      bounded number per unwinding
	                                      thread) */
	uint64_t binary_memory_peak;       /* the most binary_memory was, also
	                                      within a call (a DWARF unit
	                                      read before the call's
	                                      eviction) */
	uint64_t evictions;                /* binaries unloaded to stay under
	                                      max_memory */
	uint64_t reloads;                  /* unloaded binaries loaded again */
	uint64_t symbol_loads;             /* symbol tables read, each on its
	                                      binary's first name lookup */
	uint64_t cache_hits;               /* debug copies and kernel symbols
	                                      read from cache_dir */
	uint64_t cache_writes;             /* entries written to cache_dir */
	uint64_t cache_errors;             /* entries that could not be read
	                                      or written (the originals were
	                                      used) */
	uint64_t debug_issues[SYM_DEBUG__COUNT]; /* debug files, units and
	                                      sections that could not be read,
	                                      per reason (each binary's once,
	                                      however often it is reloaded) */
	uint64_t unwind_file_reads;        /* blocks of mapped files read for
	                                      the DWARF unwinder (personality
	                                      pointers, code bytes) */
	uint64_t unwind_unserved;          /* words the unwinder asked for
	                                      that were neither in the stack
	                                      copy nor in a mapped file (a
	                                      word just past the copy or in
	                                      the red zone below it is not
	                                      counted: the walk ends as
	                                      stack-snapshot-too-short) */
	uint64_t unwind_fast;              /* stacks walked by the common
	                                      CFI rules alone, without
	                                      libunwind (sym_session__unwind) */
	uint64_t unwind_memo_resets;       /* times the unwinder's memo of
	                                      rules was emptied (its bound) */
	uint64_t refused[SYM_REFUSED__COUNT]; /* files (and reads) refused,
	                                      per reason: see sym_refusal */
};

struct sym_session;

/*
 * Create a session. opts may be NULL for defaults.
 * Returns 0 and *ret_session, or -ENOMEM. Kernel symbols are loaded lazily
 * on the first kernel address; their absence is not an error (frames then
 * stay "[kernel]+0x...").
 */
int sym_session__new(const struct sym_options *opts,
		     struct sym_session **ret_session);

/* Free a session and every frame string it handed out. NULL is fine. */
void sym_session__free(struct sym_session *s);

/*
 * Snapshot process pid now: read /proc/PID/maps and open the executable
 * mappings' files (through /proc/PID/map_files where the path is gone), so
 * that later lookups work after the process has exited. Calling it again for
 * a pid already known refreshes the snapshot (after exec, dlopen).
 * Returns 0, -ESRCH if the process is gone, -EACCES, or -ENOMEM.
 */
int sym_session__note_process(struct sym_session *s, pid_t pid);

/*
 * For a process that will be re-read in the next moments (its dynamic
 * loader still mapping libraries): watch is note_process that keeps the
 * maps file open, refresh re-reads through it (no open, no path walk;
 * falls back to a new open, after an exec, say), unwatch closes it (so
 * does forget_process). At most 128 processes are watched at a time;
 * beyond, refresh opens anew. Same returns as note_process.
 */
int sym_session__watch_process(struct sym_session *s, pid_t pid);
int sym_session__refresh_process(struct sym_session *s, pid_t pid);

/*
 * Whether pid's snapshot looks complete, its dynamic loader done: it has
 * at least as many executable mappings as an earlier process of the same
 * executable (its lowest file mapping) had when that one's early re-reads
 * ended. With done, pid's re-reads end now: its count is remembered for
 * the next processes of its executable (the most any had). So a process
 * of a binary seen before is read once, not until it is old. false when
 * pid has no snapshot or its executable none remembered, and for a
 * process that maps a CPython (python.c's names: its interpreter's debug
 * information is registered at a re-read).
 */
bool sym_session__settled_process(struct sym_session *s, pid_t pid, bool done);

/*
 * Whether pid, which has just exec'd, needs no snapshot before its first
 * sample: the file it exec'd (ROOT/proc/PID/exe as stat() names it:
 * device, inode, mtime, ctime and size) is a binary of the session, loaded from
 * that same file, whose earlier processes settled (see above, with done)
 * and mapped no CPython. Reads nothing of the process or the file: one
 * stat. false when pid is gone or its executable is not such a binary.
 */
bool sym_session__exec_settled(struct sym_session *s, pid_t pid);
void sym_session__unwatch_process(struct sym_session *s, pid_t pid);

/* Drop what is known about pid (after exit, once its samples are drained). */
void sym_session__forget_process(struct sym_session *s, pid_t pid);

/*
 * Resolve one user-space address of process pid into *ret_frame.
 * If pid was never noted, it is noted first. Always fills *ret_frame (an
 * unresolved frame has miss != SYM_MISS_NONE) and returns 0, or -ENOMEM.
 * Where the address is inside inlined code, this is the real (outermost)
 * function, with the line of the inlined call; sym_session__user_frames()
 * gives the whole chain.
 */
int sym_session__user(struct sym_session *s, pid_t pid, uint64_t addr,
		      struct sym_frame *ret_frame);

/*
 * Resolve one user-space address of process pid into 1..max frames:
 * ret_frames[0] is the innermost inlined function (kind SYM_FRAME_INLINED,
 * file:line of the address), each next one its caller (file:line of the
 * inlined call), and ret_frames[*ret_n - 1] the real function (kind
 * SYM_FRAME_USER, or SYM_FRAME_JIT). Without inlining, or without DWARF,
 * one frame. When the chain is longer than max, the innermost max - 1 and
 * the real function are kept. All frames share addr, offset, module and
 * build_id. Always writes at least one frame and *ret_n; returns 0,
 * -EINVAL (max == 0), or -ENOMEM (frames still written, unresolved).
 */
int sym_session__user_frames(struct sym_session *s, pid_t pid, uint64_t addr,
			     struct sym_frame *ret_frames, size_t max,
			     size_t *ret_n);

/* Resolve one kernel address (from /proc/kallsyms). Same contract. */
int sym_session__kernel(struct sym_session *s, uint64_t addr,
			struct sym_frame *ret_frame);

/*
 * Copy the session's counters into *ret_stats. Binaries are evicted at the
 * end of sym_session__user(), sym_session__user_frames() and
 * sym_session__note_process(), so binary_memory is within the bound after
 * each of them (unless one binary alone is bigger).
 */
void sym_session__stats(const struct sym_session *s, struct sym_stats *ret_stats);

/*
 * Unload least recently used binaries until binary_memory is at most
 * max_bytes (binaries no live process maps first; never the one used last),
 * as the bound does, but now and to a lower mark: for a caller whose whole
 * memory budget is tight between lookups. Frames handed out stay valid;
 * unloaded binaries are loaded again on their next address. NULL is fine.
 */
void sym_session__trim(struct sym_session *s, uint64_t max_bytes);

/*
 * Starts a new pass (the profiler's flush): the binaries used in a pass
 * are pinned in it. A binary is not unloaded to make room for another
 * one while it is pinned; one that does not fit beside the pinned ones
 * (its ELF object again, or its DWARF) is not read in this pass (counted
 * as over-budget; its frames keep what the binary still has) and is tried
 * again in the next. The bound, and sym_session__trim(), may still unload
 * a pinned binary: it is loaded again once in the pass at most. So a pass
 * reads each binary's file at most twice, however its samples interleave.
 * NULL is fine.
 */
void sym_session__next_pass(struct sym_session *s);

/* A short human name for a miss reason ("no-mapping", ...). */
const char *sym_miss_name(enum sym_miss miss);

/* A short kebab-case name for a debug issue ("alt-missing", ...). */
const char *sym_debug_issue_name(enum sym_debug_issue issue);

/* ---- unwinding user stacks with DWARF CFI (unwind.c) ------------------- */

/* Registers of a sample, DWARF x86_64 numbering: rax rdx rcx rbx rsi rdi
 * rbp rsp r8..r15 rip. */
#define SYM_UNWIND_REGS 17

/* How an unwind ended. */
enum sym_unwind_end {
	SYM_UNWIND_ROOT = 0,      /* reached the outermost frame (the CFI says
	                             there is no caller: _start, clone, ...) */
	SYM_UNWIND_STACK_SHORT,   /* the stack copy ended first */
	SYM_UNWIND_NO_CFI,        /* an address without unwind information */
	SYM_UNWIND_BAD_FRAME,     /* the CFI led to an impossible frame */
	SYM_UNWIND_DEPTH,         /* more frames than asked for */
	SYM_UNWIND_NO_MEMORY,     /* the step needed memory that is neither
	                             in the stack copy nor in a mapped file */
	SYM_UNWIND__COUNT,
};

/* Short kebab-case name of an end ("root", "stack-snapshot-too-short"). */
const char *sym_unwind_end_name(enum sym_unwind_end end);

/*
 * Unwind the user stack of pid from its registers and a copy of stack_len
 * bytes of its stack starting at regs[rsp]. Writes up to max addresses,
 * leaf first, and says how the walk ended. The first is regs[rip]; the
 * others are return addresses, except that a frame that is not a call (a
 * signal trampoline such as glibc's __restore_rt, and the frame the
 * signal interrupted) is given as its address plus one: every address but
 * the first is to be looked up at addr - 1. Returns 0, -EINVAL (max 0),
 * -ENOMEM.
 */
int sym_session__unwind(struct sym_session *s, pid_t pid,
			const uint64_t regs[SYM_UNWIND_REGS], const void *stack,
			size_t stack_len, uint64_t *ret_ips, size_t max,
			size_t *ret_n, enum sym_unwind_end *ret_end);

/*
 * Whether addr is in a signal trampoline of pid (code whose CFI says
 * "S", glibc's __restore_rt): a frame-pointer walk gives the trampoline's
 * own address as a signal handler's return address, to be looked up as
 * is, not at addr - 1.
 */
bool sym_session__signal_trampoline(struct sym_session *s, pid_t pid, uint64_t addr);

/*
 * Frame-pointer stacks: when the leaf at leaf_ip has no frame of its own
 * (its CFI puts the return address at the top of the stack), the kernel's
 * walk skipped its caller. top holds the two words at the top of the stack.
 * Returns 0 and *ret_caller (the caller's return address) when a caller
 * must be inserted, or -ENOENT when the walk was right or cannot be judged.
 */
int sym_session__leaf_caller(struct sym_session *s, pid_t pid, uint64_t leaf_ip,
			     const uint64_t top[2], uint64_t *ret_caller);

/* ---- frame pointers, for the profiler's `--unwind auto` ---------------- */

/* A file as stat() names it. */
struct sym_file_id {
	uint64_t dev, ino;
};

/*
 * Whether the main executable of pid (its lowest file mapping) needs DWARF
 * unwinding: it has CFI and most of its functions keep no frame pointer.
 * Snapshots pid first when it never was. Returns 0 and *ret_wants_dwarf,
 * -ESRCH (no snapshot), -ENOENT (no executable mapping with a usable ELF)
 * or -ENOMEM.
 */
int sym_session__exe(struct sym_session *s, pid_t pid, bool *ret_wants_dwarf);

/*
 * Which file pid exec'd: ROOT/proc/PID/exe as stat() names it, the key
 * the sampler remembers an executable's unwinding by. Returns 0 and
 * *ret_id, or the -errno of stat() (-ENOENT: the process is gone).
 */
int sym_session__exe_id(struct sym_session *s, pid_t pid, struct sym_file_id *ret_id);

/*
 * Where a frame-pointer walk of one user stack of pid goes wrong: the
 * first caller frame (ips[1..n), leaf first; return addresses, looked up
 * at addr - 1) in a binary whose CFI says its code keeps no frame pointer
 * (by the vote sym_session__exe() uses). Frames without a mapped binary
 * with CFI (JIT code, an address in no mapping) do not count. One lookup
 * per run of frames in the same mapping. Returns 0 and *ret_index, or
 * -ENOENT when there is no such frame.
 */
int sym_session__stack_without_fp(struct sym_session *s, pid_t pid, const uint64_t *ips,
				  size_t n, size_t *ret_index);

/* ---- CPython (python.c) ------------------------------------------------- */

/* The CPython interpreter of a process (sym_session__python()). */
struct sym_python {
	uint32_t version;       /* PY_VERSION_HEX (0x030b02f0 is 3.11.2 final);
	                           before 3.11, from the binary's file name,
	                           without micro and release */
	bool supported;         /* Ember knows this version's layout: the
	                           fields below are valid */
	bool from_debug_info;   /* the offsets are read from the interpreter's
	                           debug information (else Ember's table) */
	uint64_t runtime;       /* _PyRuntime's address in the process */
	uint64_t code_type;     /* PyCode_Type's address in the process */
	struct ember_py_offsets off;  /* for the sampler's walk */
	const char *module;     /* the binary exporting _PyRuntime (the
	                           executable, or libpython) */
};

/* sym_session__python()'s flags. */
enum {
	/* Do not read debug information now: the layout already read from
	 * this binary's, else the table's (reading Debian's python3.11-dbg
	 * file means inflating 11 MB: about half a second, too long to keep
	 * a starting process unwalked). */
	SYM_PYTHON_QUICK = 1 << 0,
};

/*
 * Find the CPython interpreter of pid: the first executable mapping of a
 * binary whose file name contains "python" (python3.11, libpython3.11.so)
 * and that exports _PyRuntime. Its version is the Py_Version it exports;
 * for a version whose walk Ember knows (3.11), the offsets come from the
 * interpreter's debug information (its DWARF, or its debug file's: Debian's
 * python3.11-dbg) when it has all the structures, else from the table of
 * known versions (a version Ember does not know is never walked, whatever
 * its debug information says). The debug information is read once per
 * binary and session. flags: 0 or SYM_PYTHON_QUICK. Called again (a
 * re-read, an exec), it finds the interpreter anew and keeps the code
 * objects named so far (samples taken before an exec may still need
 * them; the new image's objects have other identities). Returns 0 and *ret (also
 * for a version Ember does not know: ret->supported is false then), or
 * -ENOENT (no such binary), -ESRCH (the process is gone) or -ENOMEM.
 */
int sym_session__python(struct sym_session *s, pid_t pid, unsigned flags,
			struct sym_python *ret);

/*
 * Name a Python frame the sampler's walk reported in pid (found with
 * sym_session__python() first): the code object at code, whose identity
 * at sample time was ident, running instruction lasti. The frame is the
 * code object's qualified name, its file as module and file, and the line
 * of lasti; kind SYM_FRAME_PYTHON. A code object that cannot be read now,
 * or whose identity changed (freed and its address reused), gives an
 * unnamed "[python]" frame with miss SYM_MISS_NO_SYMBOL (SYM_MISS_NO_PROCESS
 * for a process not known as Python or gone). Code objects are read once
 * per (pid, code, ident) and kept: call this as soon as a sample arrives,
 * while its objects exist, and again at any time later. Always fills
 * *ret_frame; returns 0 or -ENOMEM.
 */
int sym_session__python_frame(struct sym_session *s, pid_t pid, uint64_t code,
			      uint64_t ident, int32_t lasti, struct sym_frame *ret_frame);

/* Counters of the Python part of a session. */
struct sym_py_stats {
	uint64_t processes;     /* Python processes found, known versions */
	uint64_t unsupported;   /* ... of versions Ember does not know */
	uint64_t frames;        /* Python frames asked for */
	uint64_t resolved;      /* ... given a name */
	uint64_t stale;         /* code objects found freed and reused */
	uint64_t code_reads;    /* code objects read from processes */
	uint64_t memory;        /* bytes held for code objects */
};

void sym_session__python_stats(struct sym_session *s, struct sym_py_stats *ret_stats);
