/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler.h — public API of the bpf module: the user-space half of the
 * sampler. It loads profile.bpf.c, opens one cpu-clock perf event per online
 * CPU, attaches the program, and hands back what the kernel collected:
 * aggregated stacks (at each drain) and process events and slow-path samples
 * (as the ring buffer delivers them).
 *
 * Data flow: the session loop in profiler/ calls sampler__poll() while it
 * waits and sampler__drain() at every flush; the callbacks receive raw
 * addresses which profiler/ symbolizes and stores. Only this module sees
 * libbpf and the skeleton.
 *
 * Thread safety: a sampler is used by one thread at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python_layout.h"

enum sampler_filter {
	SAMPLER_FILTER_ALL = 0,  /* the whole system (idle excluded by default) */
	SAMPLER_FILTER_PIDS,     /* only the processes given to sampler__track */
	SAMPLER_FILTER_TREE,     /* those processes and all their descendants */
};

enum sampler_unwind {
	SAMPLER_UNWIND_FP = 0,   /* frame pointers, walked by the kernel */
	SAMPLER_UNWIND_DWARF,    /* stack snapshots, unwound in user space */
	SAMPLER_UNWIND_AUTO,     /* per process: sampler__set_unwind() */
};

/* The kernel side's limits, as the sampler delivers them (sampler.c
 * asserts them equal to profile.h's): the largest user stack copy in
 * bytes, the registers of a DWARF sample (DWARF x86_64 numbering: rax rdx
 * rcx rbx rsi rdi rbp rsp r8..r15 rip), and the most addresses of one
 * kernel or user stack. */
#define SAMPLER_MAX_SNAPSHOT 32768
#define SAMPLER_NUM_REGS 17
#define SAMPLER_MAX_STACK_DEPTH 127

struct sampler_options {
	unsigned freq_hz;              /* samples per second per CPU; > 0 */
	enum sampler_filter filter;
	bool include_idle;             /* count the idle task (pid 0) */
	unsigned stack_map_entries;    /* per map set; 0 = default (16
	                                  seconds of samples on every CPU,
	                                  a power of two, 8192-131072) */
	unsigned counts_map_entries;   /* per map set; 0 = default (16384) */
	enum sampler_unwind unwind;    /* how user stacks are walked */
	unsigned snapshot_bytes;       /* DWARF: user stack bytes copied per
	                                  sample; 0 = default (8192), at most
	                                  SAMPLER_MAX_SNAPSHOT */
	bool path_stats;               /* time the parts of the per-sample
	                                  program (sampler__path_stats); a
	                                  measuring mode: two clock reads per
	                                  part */
	const char *cache_dir;         /* keeps the small BTF of the kernel
	                                  types the programs use, per kernel,
	                                  in CACHE_DIR/btf; NULL or "": none
	                                  (libbpf reads the kernel's whole
	                                  BTF at every start) */
};

/* Where the programs' CO-RE relocations found the kernel's types
 * (sampler__btf_source). */
enum sampler_btf {
	SAMPLER_BTF_KERNEL = 0,  /* the kernel's whole BTF, read by libbpf */
	SAMPLER_BTF_CACHED,      /* the small BTF kept in the cache */
	SAMPLER_BTF_MADE,        /* the small BTF, made from the kernel's
	                            at this start */
};

/*
 * The parts of the per-sample program (sampler__path_stats). Every sample
 * pays COMMON (filter, per-CPU state, cgroup, announcement check,
 * unwinding choice); then either SNAPSHOT (DWARF: registers, kernel stack,
 * stack copy, ring buffer), or LEAF (the leaf repair words) and WALK (the
 * kernel's frame-pointer walks: two stack ids) and one of COUNT (an
 * existing key counted), INSERT (a new key) or RAW (the slow path; a
 * Python thread's sample goes there after LEAF, without WALK).
 */
enum sampler_path {
	SAMPLER_PATH_COMMON = 0,
	SAMPLER_PATH_SNAPSHOT,
	SAMPLER_PATH_LEAF,
	SAMPLER_PATH_WALK,
	SAMPLER_PATH_COUNT,
	SAMPLER_PATH_INSERT,
	SAMPLER_PATH_RAW,
	SAMPLER_PATH__COUNT,
};

/* "common", "snapshot", "leaf-repair", "walk", "count", "insert", "raw". */
const char *sampler_path_name(enum sampler_path path);

/* Counters reported by sampler__stats(); see profile.h for meanings
 * (sampler.c asserts each equal to its enum ember_stat). */
enum sampler_stat {
	SAMPLER_STAT_SAMPLES = 0,
	SAMPLER_STAT_KSTACK_COLLISION,
	SAMPLER_STAT_USTACK_COLLISION,
	SAMPLER_STAT_STACK_MAP_FULL,
	SAMPLER_STAT_COUNTS_MAP_FULL,
	SAMPLER_STAT_USTACK_FAULT,
	SAMPLER_STAT_STACK_OTHER_ERROR,
	SAMPLER_STAT_DROP_RINGBUF_FULL,
	SAMPLER_STAT_DROP_RAW_STACK,
	SAMPLER_STAT_EVENT_LOST,
	SAMPLER_STAT_TRACKED_FULL,
	SAMPLER_STAT_DWARF_SAMPLES,
	SAMPLER_STAT_DROP_DWARF_RINGBUF,
	SAMPLER_STAT_SNAPSHOT_SHORT,
	SAMPLER_STAT_PY_SAMPLES,
	SAMPLER_STAT_PY_NO_THREAD,
	SAMPLER_STAT_PY_NO_FRAME,
	SAMPLER_STAT_PY_READ_FAULT,
	SAMPLER_STAT_PY_NOT_CODE,
	SAMPLER_STAT_PY_DEPTH,
	SAMPLER_STAT_PY_RINGBUF_FULL,
	SAMPLER_STAT__COUNT,
};

/* Short kebab-case name of a counter ("stack-collision-user", ...). */
const char *sampler_stat_name(enum sampler_stat stat);

/* True when the counter counts samples that were lost (not recovered). */
bool sampler_stat_is_drop(enum sampler_stat stat);

/*
 * One Python frame as the walk read it (profile.h's ember_py_frame): the
 * code object's address and identity, and the instruction running (code
 * units from the first; -1 before it). The Python frames of a sample come
 * leaf first.
 */
struct sampler_py_frame {
	uint64_t code;
	uint64_t ident;
	int32_t lasti;
	uint32_t flags;          /* SAMPLER_PY_ENTRY */
};

/* The frame a C call into the interpreter started with: the frames up to
 * and including it ran in one native _PyEval_EvalFrameDefault frame. */
#define SAMPLER_PY_ENTRY 1
/* Python frames per sample at most; deeper stacks keep the innermost. */
#define SAMPLER_PY_MAX_FRAMES 128

/* How a sample's Python walk ended. */
enum sampler_py_end {
	SAMPLER_PY_ROOT = 0,     /* the outermost frame was reached */
	SAMPLER_PY_DEPTH,        /* more than SAMPLER_PY_MAX_FRAMES: cut */
	SAMPLER_PY_FAULT,        /* a read failed: the rest is missing */
	SAMPLER_PY_NOT_CODE,     /* a frame without a code object: the rest is
	                            missing */
};

/*
 * What every sample carries, drained, raw or DWARF: whose it is, its
 * kernel stack and its Python frames. Both sample structs begin with it,
 * reachable as a whole (->head, filled by one function in the sampler)
 * and field by field (smp->tgid), as Linux's struct_group() does.
 */
#define SAMPLER_SAMPLE_HEAD_FIELDS \
	uint32_t tgid; \
	uint32_t tid; \
	uint64_t cgroup_id; \
	const char *comm;        /* thread name, NUL-terminated */ \
	const char *pcomm;       /* process (group leader) name */ \
	const uint64_t *kips;    /* kernel addresses, leaf first */ \
	size_t n_kips;           /* at most SAMPLER_MAX_STACK_DEPTH */ \
	/* The Python frames of a Python thread (leaf first), n_py == 0 for \
	 * others, and how their walk ended. */ \
	const struct sampler_py_frame *py; \
	size_t n_py; \
	enum sampler_py_end py_end;

struct sampler_sample_head {
	SAMPLER_SAMPLE_HEAD_FIELDS
};

/* One aggregated stack as drained from the kernel (or one raw sample). */
struct sampler_sample {
	union {
		struct sampler_sample_head head;
		struct { SAMPLER_SAMPLE_HEAD_FIELDS };
	};
	const uint64_t *uips;    /* user addresses, leaf first */
	size_t n_uips;           /* at most SAMPLER_MAX_STACK_DEPTH */
	bool user_task;          /* false for kernel threads and idle */
	uint64_t count;
	/* Frame-pointer samples: the words at the top of the user stack that
	 * look like return addresses (0 if not), for repairing the caller of
	 * a frameless leaf. */
	uint64_t top_ra[2];
};

/* A user-mode sample to unwind with DWARF CFI (registers + stack copy). */
struct sampler_dwarf_sample {
	union {
		struct sampler_sample_head head;
		struct { SAMPLER_SAMPLE_HEAD_FIELDS };
	};
	const uint64_t *regs;    /* SAMPLER_NUM_REGS registers */
	const void *stack;       /* copy of the user stack from regs[sp] */
	size_t stack_len;
};

struct sampler_callbacks {
	/* A process was seen for the first time (its first sample: at once),
	 * or exec'd (exec = true: at the next wake-up, which an exec does not
	 * cause). known: at an exec under SAMPLER_UNWIND_AUTO, the kernel
	 * found the executable among those sampler__set_exe_unwind() was
	 * given, and the process already has that choice. */
	void (*on_process)(void *ctx, uint32_t tgid, bool exec, bool known);
	/* A thread group ended. Its samples may still come at the next drain. */
	void (*on_exit)(void *ctx, uint32_t tgid);
	/* A stack with its count. Return < 0 to stop (the error is returned by
	 * the sampler call; the drain still clears the kernel maps). */
	int (*on_sample)(void *ctx, const struct sampler_sample *sample);
	/* A DWARF-mode sample (delivered as the ring buffer brings it; the
	 * pointers are valid during the call only). NULL: such samples are
	 * counted as lost. */
	int (*on_dwarf_sample)(void *ctx, const struct sampler_dwarf_sample *sample);
};

struct sampler;

/*
 * Load, configure and attach the sampler on every online CPU.
 * Returns 0 and *ret_sampler, or:
 *   -EPERM    not allowed to load BPF or open perf events (not root)
 *   -ENOENT   kernel BTF missing (/sys/kernel/btf/vmlinux)
 *   -EINVAL   bad options (frequency 0 or above the kernel's maximum)
 *   -ENODEV   no CPU could be sampled
 *   other -errno from the kernel (sampler_last_error() says where).
 */
int sampler__open(const struct sampler_options *opts,
		  struct sampler **ret_sampler);

/* Detach and free everything. NULL is fine. */
void sampler__free(struct sampler *s);

/*
 * Where the CO-RE relocations found the kernel's types, and
 * *ret_refused: 0, or the reason (-errno) a cache entry was refused or
 * could not be used or written (-EPERM: not owned by this user or
 * writable by others; -EINVAL: damaged or another kernel's; the BTF is
 * then made again).
 */
enum sampler_btf sampler__btf_source(const struct sampler *s, int *ret_refused);

/*
 * Add tgid to the tracked set (filters PIDS and TREE; with
 * SAMPLER_FILTER_ALL the set has room for one, as nothing reads it).
 * Returns 0, -ENOSPC when the tracked map is full, or -errno.
 */
int sampler__track(struct sampler *s, pid_t tgid);

/*
 * Wait up to timeout_ms for ring buffer records and deliver them. Returns
 * the number of records handled (>= 0), or -errno (-EINTR when a signal
 * arrived, which callers treat as "check your flags").
 */
int sampler__poll(struct sampler *s, int timeout_ms,
		  const struct sampler_callbacks *cb, void *ctx);

/*
 * Deliver the ring buffer's queued records through cb now, without
 * waiting: for a caller busy with a long drain (writing a flush), so the
 * ring buffer does not fill meanwhile. May be called from a drain's or a
 * poll's callbacks (theirs are in effect again afterwards); from inside a
 * ring buffer record's callback it does nothing and returns 0. Returns
 * the number of records handled (>= 0), or the first -errno a callback
 * returned.
 */
int sampler__consume(struct sampler *s, const struct sampler_callbacks *cb, void *ctx);

/*
 * Flip the map sets, wait until no program writes to the old set, deliver
 * every aggregated stack of the old set through cb->on_sample, and clear it.
 * Ring buffer records already queued are delivered first. Processes whose
 * exit was reported before this drain are untracked afterwards.
 * Returns the number of stacks delivered, or -errno.
 */
int sampler__drain(struct sampler *s, const struct sampler_callbacks *cb,
		   void *ctx);

/*
 * AUTO mode: unwind process tgid with frame pointers (SAMPLER_UNWIND_FP) or
 * DWARF (SAMPLER_UNWIND_DWARF) from now on. Returns 0 or -errno.
 */
int sampler__set_unwind(struct sampler *s, pid_t tgid, enum sampler_unwind mode);

/*
 * AUTO mode: remember the choice for an executable file (dev and inode as
 * stat() gives them), so processes that exec it later start with it.
 */
int sampler__set_exe_unwind(struct sampler *s, uint64_t st_dev, uint64_t st_ino,
			    enum sampler_unwind mode);

/* Forget tgid's AUTO choice (after it exited). */
void sampler__forget_unwind(struct sampler *s, pid_t tgid);

/*
 * Walk the Python frames of process tgid's threads at every sample: its
 * interpreter's _PyRuntime and PyCode_Type are at these addresses, and its
 * structures have these offsets (each below EMBER_PY_READ_MAX - 8). Its
 * children inherit the choice at fork; an exec or its exit forgets it.
 * Returns 0, -EINVAL (an offset out of range), -ENOSPC (too many Python
 * processes) or -errno.
 */
int sampler__set_python(struct sampler *s, pid_t tgid, uint64_t runtime,
			uint64_t code_type, const struct ember_py_offsets *off);

/* Stop walking tgid's Python frames. */
void sampler__forget_python(struct sampler *s, pid_t tgid);

/* Cumulative counters since open, summed over CPUs. */
void sampler__stats(const struct sampler *s,
		    uint64_t ret_stats[SAMPLER_STAT__COUNT]);

/*
 * With options.path_stats: the nanoseconds spent in each part of the
 * per-sample program and how many samples ran it, since open, summed over
 * CPUs. Returns 0, -ENODATA when path_stats was off, or -errno from
 * reading the map.
 */
int sampler__path_stats(const struct sampler *s, uint64_t ret_ns[SAMPLER_PATH__COUNT],
			uint64_t ret_runs[SAMPLER_PATH__COUNT]);

/*
 * Stop sampling (the perf events are disabled; the maps and the ring
 * buffer keep what was collected). A drain after this delivers everything,
 * so the counters and the drained samples agree exactly.
 */
void sampler__stop(struct sampler *s);

/* Number of CPUs sampled. */
unsigned sampler__cpus(const struct sampler *s);

/* Describes the step that failed in the last sampler__open() of this
 * thread ("opening perf event on CPU 3", ...). Never NULL. */
const char *sampler_last_error(void);
