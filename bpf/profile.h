/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile.h — the ABI shared by profile.bpf.c (kernel side) and sampler.c
 * (user side): map keys and values, ring buffer records, counter indexes.
 * Fixed-width types and explicit padding only; both sides must agree byte
 * for byte.
 */
#ifndef EMBER_PROFILE_H
#define EMBER_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "python_layout.h"

#define EMBER_MAX_STACK_DEPTH 127
#define EMBER_COMM_LEN 16

/* Sampler filter modes (const volatile filter_mode). */
#define EMBER_FILTER_ALL 0   /* every task but idle */
#define EMBER_FILTER_PIDS 1  /* only tgids present in the tracked map */
#define EMBER_FILTER_TREE 2  /* like PIDS, and children of tracked tgids are
                                tracked from fork on */

/* Unwinding modes (const volatile unwind_mode) and per-process choices
 * (values of the proc_unwind map, written by user space in AUTO mode). */
#define EMBER_UNWIND_FP 0     /* kernel frame-pointer walk (+ leaf repair) */
#define EMBER_UNWIND_DWARF 1  /* registers + stack snapshot, unwound in user
                                 space with the binaries' CFI */
#define EMBER_UNWIND_AUTO 2   /* per process, from what its binary contains */

/* Key of the exe_unwind map: an executable file, as the kernel names it
 * (s_dev in the kernel's encoding: major << 20 | minor). */
struct ember_file_key {
	__u64 dev;
	__u64 ino;
};

/* Largest user stack snapshot, bytes; a power of two. The default one. */
#define EMBER_MAX_SNAPSHOT 32768
#define EMBER_DEFAULT_SNAPSHOT 8192

/* Default entries of the stack-trace and counts maps, per map set (user
 * space may size them otherwise before load). The stack maps get room
 * for EMBER_STACK_SECONDS of samples at the sampling rate on every CPU,
 * a power of two from the default to the largest (stack_entries() in
 * sampler.c): a stack map's collisions grow with its load, and each one
 * walks the stacks again into the ring buffer. */
#define EMBER_DEFAULT_STACK_ENTRIES 8192
#define EMBER_MAX_STACK_ENTRIES 131072
#define EMBER_STACK_SECONDS 16
#define EMBER_DEFAULT_COUNTS_ENTRIES 16384

/* The ring buffer: at least a second of the samples that can go through
 * it at the sampling rate (stack snapshots, or slow-path samples in
 * frame-pointer mode), a power of two within these bounds. Its pages are
 * mapped into user space twice (the kernel's wrap-around view), all of
 * them at once: every byte of it counts twice in the profiler's RSS. */
#define EMBER_MIN_RING_BYTES (1u << 20)
#define EMBER_DEFAULT_RING_BYTES (4u << 20)   /* the largest */
#define EMBER_RING_SECONDS 1

/* User registers in DWARF x86_64 numbering: rax rdx rcx rbx rsi rdi rbp
 * rsp r8..r15 rip. */
#define EMBER_NUM_REGS 17
#define EMBER_REG_BP 6
#define EMBER_REG_SP 7
#define EMBER_REG_IP 16

/* A stack id that means "no stack of this kind" (kernel thread's user stack,
 * user-mode sample's kernel stack, unreadable stack). */
#define EMBER_NO_STACK (-1)

/* Key of the in-kernel counts map. */
struct ember_count_key {
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
	__s32 kstack_id;
	__s32 ustack_id;
	/* Frame-pointer mode: the two words at the top of the user stack
	 * when they look like return addresses (0 otherwise). A leaf without
	 * a frame (GCC leaves leaves frameless even with
	 * -fno-omit-frame-pointer) makes the kernel's walk skip its caller;
	 * user space checks the leaf's CFI and inserts the right word. */
	__u64 top_ra[2];
};

/* Value of the in-kernel counts map. Names are filled on first insert. */
struct ember_count_val {
	__u64 count;
	char comm[EMBER_COMM_LEN];  /* thread name */
	char pcomm[EMBER_COMM_LEN]; /* group leader's name */
};

/*
 * Counters, one slot each in the per-CPU "stats" array. Some are drops (the
 * sample is lost), some are recoveries (the sample took the slow path through
 * the ring buffer and is kept). User space reports all of them.
 */
enum ember_stat {
	EMBER_STAT_SAMPLES = 0,        /* samples that passed the filter */
	EMBER_STAT_KSTACK_COLLISION,   /* kernel stack id -EEXIST: sent raw */
	EMBER_STAT_USTACK_COLLISION,   /* user stack id -EEXIST: sent raw */
	EMBER_STAT_STACK_MAP_FULL,     /* stack id -ENOMEM: sent raw */
	EMBER_STAT_COUNTS_MAP_FULL,    /* counts insert failed: sent raw */
	EMBER_STAT_USTACK_FAULT,       /* user stack unreadable (-EFAULT): kept
	                                  without a user stack */
	EMBER_STAT_STACK_OTHER_ERROR,  /* any other stack id error: kept without
	                                  that stack */
	EMBER_STAT_DROP_RINGBUF_FULL,  /* slow-path sample lost: ring buffer full */
	EMBER_STAT_DROP_RAW_STACK,     /* slow-path sample lost: bpf_get_stack
	                                  failed */
	EMBER_STAT_EVENT_LOST,         /* process event lost: ring buffer full */
	EMBER_STAT_TRACKED_FULL,       /* a child could not be tracked: map full */
	EMBER_STAT_DWARF_SAMPLES,      /* samples sent with a stack snapshot
	                                  (counted by user space) */
	EMBER_STAT_DROP_DWARF_RINGBUF, /* snapshot sample lost: ring buffer full */
	EMBER_STAT_SNAPSHOT_SHORT,     /* snapshot cut short by an unreadable page
	                                  (counted by user space) */
	EMBER_STAT_PY_SAMPLES,         /* samples sent with Python frames */
	EMBER_STAT_PY_NO_THREAD,       /* Python process, but the thread has no
	                                  thread state (a native thread, or the
	                                  interpreter not started or finished) */
	EMBER_STAT_PY_NO_FRAME,        /* a thread state, but no Python frame
	                                  running (the thread is in C code that
	                                  released or never took the GIL) */
	EMBER_STAT_PY_READ_FAULT,      /* a read of the interpreter's memory
	                                  failed: the frames up to it are kept */
	EMBER_STAT_PY_NOT_CODE,        /* a frame's code pointer is not a code
	                                  object: the walk stopped there */
	EMBER_STAT_PY_DEPTH,           /* more Python frames than
	                                  EMBER_PY_MAX_FRAMES: the outermost cut */
	EMBER_STAT_PY_RINGBUF_FULL,    /* Python frames lost (ring buffer full):
	                                  the sample is kept without them */
	EMBER_STAT__COUNT,
};

/*
 * The parts of on_sample, timed apart when the path_stats switch is on (a
 * measuring mode: `ember record --bpf-path-stats`; two clock reads per
 * part). Every sample pays COMMON; then either SNAPSHOT, or LEAF and WALK
 * and one of COUNT, INSERT, RAW (a Python thread's sample: LEAF and RAW,
 * no WALK; its frame walk is in COMMON).
 */
enum ember_path {
	EMBER_PATH_COMMON = 0, /* filter, per-CPU state, cgroup, announcement
	                          check, unwinding choice */
	EMBER_PATH_SNAPSHOT,   /* DWARF: registers, kernel stack, stack copy,
	                          ring buffer */
	EMBER_PATH_LEAF,       /* frame pointers: the leaf repair words */
	EMBER_PATH_WALK,       /* frame pointers: kernel and user stack ids */
	EMBER_PATH_COUNT,      /* an existing key counted */
	EMBER_PATH_INSERT,     /* a new key: names read, inserted */
	EMBER_PATH_RAW,        /* the slow path: whole stacks to the ring */
	EMBER_PATH__COUNT,
};

/* ember_thread_slot.flags */
#define EMBER_THREAD_PYTHON 1     /* its process is in py_procs */
#define EMBER_THREAD_END_KNOWN 2  /* stack_end is the stack's end (the page
                                     there is unreadable), not only how far
                                     it was found readable */

/*
 * What the samples of one thread need to know, kept in its CPU's state
 * (ember_cpu_state.threads, slot tid % EMBER_THREAD_SLOTS) while proc_gen
 * (profile.bpf.c) has not moved: it moves at the exec of a process a
 * sample announced, and when user space changes proc_unwind or py_procs.
 * Its process was announced; how to unwind it; whether it runs Python;
 * how far its user stack can be read. A slot serves a sample whose tid,
 * task start time, tgid and generation it holds.
 */
struct ember_thread_slot {
	__u32 tid;        /* 0: empty */
	__u32 tgid;
	__u32 gen;        /* proc_gen (its low 32 bits) when filled */
	__u8 unwind;      /* EMBER_UNWIND_FP or _DWARF */
	__u8 flags;       /* EMBER_THREAD_* */
	__u16 pad;
	__u64 start_time; /* the task's (task_struct.start_time): a reused
	                     tid is another task */
	__u64 stack_end;  /* snapshots: the user stack is readable from any sp
	                     below this up to it (0: not probed yet) */
};

#define EMBER_THREAD_SLOTS 256
/* profile.bpf.c picks a slot with tid & (EMBER_THREAD_SLOTS - 1). */
_Static_assert((EMBER_THREAD_SLOTS & (EMBER_THREAD_SLOTS - 1)) == 0,
	       "EMBER_THREAD_SLOTS must be a power of two");

/*
 * Per-CPU state: the counters, the cgroup id of the last task's css_set,
 * the leaf repair's verdicts for the process last sampled, and a small
 * direct-mapped cache of the threads sampled lately on this CPU (a CPU
 * switches between a few threads: one slot would be refilled, and its
 * maps looked up again, at every switch). So a sample of a known thread
 * looks no map up but this one. The fields every sample touches come
 * first, in as few cache lines as they fit (at 99 Hz each sample finds
 * them cold).
 */
struct ember_cpu_state {
	__u64 last_css;   /* task->cgroups of the last sample (a pointer) */
	__u64 last_cgroup;/* its cgroup id */
	/* Frame-pointer samples: the last words judged by the leaf repair's
	 * return-address check (profile.bpf.c's ra_check), bit i of ra_yes
	 * set when ra_word[i] passed; for process ra_tgid at generation
	 * ra_gen only. */
	__u32 ra_tgid;
	__u32 ra_gen;
	__u8 ra_yes;
	__u8 ra_next;
	__u16 pad;
	__u32 py_seq;     /* Python records sent on this CPU (ember_ev_python) */
	__u64 ra_word[4];
	__u64 stats[EMBER_STAT__COUNT];
	struct ember_thread_slot threads[EMBER_THREAD_SLOTS];
	__u64 path_ns[EMBER_PATH__COUNT];   /* with path_stats only */
	__u64 path_runs[EMBER_PATH__COUNT];
};

/* Ring buffer record types. */
#define EMBER_EV_PROCESS 1  /* a tgid was seen for the first time / exec'd */
#define EMBER_EV_EXIT 2     /* a thread group ended */
#define EMBER_EV_RAW_SAMPLE 3
#define EMBER_EV_DWARF_SAMPLE 4
#define EMBER_EV_PYTHON 5       /* the Python frames of the sample that follows */

struct ember_ev_header {
	__u32 type;
	__u32 tgid;
};

/* ember_ev_process.flags */
#define EMBER_PROC_EXEC 1     /* emitted at exec (else at a first sample) */
#define EMBER_PROC_KNOWN 2    /* at exec: the executable was in exe_unwind,
                                 and proc_unwind holds its choice */

struct ember_ev_process {
	struct ember_ev_header h;
	__u32 parent_tgid;
	__u32 flags;                /* EMBER_PROC_* */
	char comm[EMBER_COMM_LEN];
};

struct ember_ev_exit {
	struct ember_ev_header h;
};

/* A sample that could not be aggregated in the kernel: whole stacks. */
struct ember_ev_raw_sample {
	struct ember_ev_header h;
	__u32 tid;
	__u32 py_seq;               /* 0, or the seq of its ember_ev_python */
	__u64 cgroup_id;
	__s32 kstack_len;           /* frames in ips[0..), or <0 for none */
	__s32 ustack_len;           /* frames in ips[EMBER_MAX_STACK_DEPTH..) */
	char comm[EMBER_COMM_LEN];
	char pcomm[EMBER_COMM_LEN];
	__u64 top_ra[2];            /* as in ember_count_key */
	__u64 ips[2 * EMBER_MAX_STACK_DEPTH];
};

/* A user-mode sample for DWARF unwinding: registers, the top of the user
 * stack and the kernel stack. Sent with only stack_len bytes of stack. */
struct ember_ev_dwarf_sample {
	struct ember_ev_header h;
	__u32 tid;
	__u32 stack_len;            /* bytes in stack[] */
	__u64 cgroup_id;
	__s32 kstack_len;           /* frames in kips[], or <0 for none */
	__u32 py_seq;               /* 0, or the seq of its ember_ev_python */
	char comm[EMBER_COMM_LEN];
	char pcomm[EMBER_COMM_LEN];
	__u64 regs[EMBER_NUM_REGS];
	__u64 kips[EMBER_MAX_STACK_DEPTH];
	__u8 stack[EMBER_MAX_SNAPSHOT];
};

/* ---- Python (python.bpf.h) -------------------------------------------- */

/* Value of the py_procs map: one Python process. */
struct ember_py_proc {
	__u64 runtime;         /* address of _PyRuntime in the process */
	__u64 code_type;       /* address of PyCode_Type: a frame's code must
	                          be of this type */
	struct ember_py_offsets off;  /* common/python_layout.h */
};

/* Python frames walked per sample, leaf first; a deeper stack keeps the
 * innermost ones (EMBER_STAT_PY_DEPTH). */
#define EMBER_PY_MAX_FRAMES 128

/* ember_py_frame.flags */
#define EMBER_PY_ENTRY 1      /* the first frame a C call into the
                                 interpreter ran (_PyInterpreterFrame.is_entry):
                                 the frames up to here belong to one native
                                 _PyEval_EvalFrameDefault frame */

/* One Python frame. ident hashes the code object's name, file, first line
 * and line table pointers (ember_py_ident()), so a code object freed and
 * another allocated at its address is told apart from the one sampled. */
struct ember_py_frame {
	__u64 code;            /* PyCodeObject address */
	__u64 ident;
	__s32 lasti;           /* instruction index (code units), -1 before the
	                          first */
	__u32 flags;
};

/* The Python frames of the sample sent right after it on the same CPU (a
 * raw or DWARF sample whose py_seq is this seq). Sent with n frames. */
struct ember_ev_python {
	struct ember_ev_header h;
	__u32 tid;
	__u32 seq;             /* per-CPU count << 12 | CPU: never 0 */
	__u32 n;               /* frames in frames[] */
	__u32 status;          /* EMBER_PY_WALK_* */
	struct ember_py_frame frames[EMBER_PY_MAX_FRAMES];
};

/* ember_ev_python.status: how the walk ended. */
#define EMBER_PY_WALK_ROOT 0      /* reached the outermost frame */
#define EMBER_PY_WALK_DEPTH 1     /* more than EMBER_PY_MAX_FRAMES */
#define EMBER_PY_WALK_FAULT 2     /* a read failed */
#define EMBER_PY_WALK_NOT_CODE 3  /* a frame without a code object */

#endif
