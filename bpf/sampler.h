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
	unsigned stack_map_entries;    /* per map set; 0 = default (8192) */
	unsigned counts_map_entries;   /* per map set; 0 = default (16384) */
	enum sampler_unwind unwind;    /* how user stacks are walked */
	unsigned snapshot_bytes;       /* DWARF: user stack bytes copied per
	                                  sample; 0 = default (8192), at most
	                                  SAMPLER_MAX_SNAPSHOT */
};

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
	SAMPLER_STAT__COUNT,
};

/* Short kebab-case name of a counter ("stack-collision-user", ...). */
const char *sampler_stat_name(enum sampler_stat stat);

/* True when the counter counts samples that were lost (not recovered). */
bool sampler_stat_is_drop(enum sampler_stat stat);

/* One aggregated stack as drained from the kernel (or one raw sample). */
struct sampler_sample {
	uint32_t tgid;
	uint32_t tid;
	uint64_t cgroup_id;
	const char *comm;        /* thread name, NUL-terminated */
	const char *pcomm;       /* process (group leader) name */
	const uint64_t *kips;    /* kernel addresses, leaf first */
	size_t n_kips;           /* at most SAMPLER_MAX_STACK_DEPTH */
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
	uint32_t tgid;
	uint32_t tid;
	uint64_t cgroup_id;
	const char *comm;
	const char *pcomm;
	const uint64_t *kips;    /* kernel addresses, leaf first */
	size_t n_kips;
	const uint64_t *regs;    /* SAMPLER_NUM_REGS registers */
	const void *stack;       /* copy of the user stack from regs[sp] */
	size_t stack_len;
};

struct sampler_callbacks {
	/* A process was seen for the first time, or exec'd (exec = true). */
	void (*on_process)(void *ctx, uint32_t tgid, bool exec);
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
 * Add tgid to the tracked set (filters PIDS and TREE). Returns 0, -ENOSPC
 * when the tracked map is full, or -errno.
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

/* Cumulative counters since open, summed over CPUs. */
void sampler__stats(const struct sampler *s,
		    uint64_t ret_stats[SAMPLER_STAT__COUNT]);

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
