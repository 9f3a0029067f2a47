/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * profile.bpf.c — Ember's sampler, the kernel half. A perf_event program runs
 * on every cpu-clock tick of every CPU, filters the task, takes kernel and
 * user stack ids from a stack-trace map and counts {tgid, tid, cgroup,
 * kstack, ustack} in a hash. User space drains the maps every flush.
 *
 * Double buffering: there are two map sets (stacks0/counts0 and
 * stacks1/counts1). The program writes to the set named by active_set. To
 * drain, user space flips active_set, then updates the one-slot map-in-map
 * "barrier", which makes the kernel wait for an RCU grace period
 * (maybe_wait_bpf_programs) so that every program run that could still see
 * the old value has finished. The old set is then read and cleared while
 * nothing writes to it: no sample is counted twice or lost between drains,
 * and no stack id is read after it could have been reused.
 *
 * Nothing is dropped silently: a stack id collision, a full stack map or a
 * full counts map sends the whole sample through the ring buffer instead
 * (the slow path), and every such event, and every real loss, increments a
 * counter in the per-CPU "stats" array.
 *
 * raw_tp programs follow fork/exec/exit, so that "a command and all its
 * descendants" is tracked from the kernel side, and tell user space about new
 * processes so it can snapshot their mappings before they exit. Raw
 * tracepoints, not tp_btf: libbpf finds a tp_btf program's attach point in
 * the kernel's whole BTF, which it then reads and parses at every load
 * (bpf/DESIGN.md, "Start-up"). Their task pointers are plain numbers to
 * the verifier, read with BPF_CORE_READ (bpf_probe_read_kernel); the
 * task each tracepoint fires for is the current one (the parent at fork,
 * the task itself at exec and exit), whose tgid
 * bpf_get_current_pid_tgid() gives without a read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profile.h"

#define PF_KTHREAD 0x00200000
#define EEXIST 17
#define ENOMEM 12
#define EFAULT 14

const volatile __u32 filter_mode = EMBER_FILTER_ALL;
const volatile __u32 include_idle = 0;
const volatile __u32 unwind_mode = EMBER_UNWIND_FP;
/* Bytes of user stack copied per DWARF sample; <= EMBER_MAX_SNAPSHOT. */
const volatile __u32 snapshot_size = EMBER_DEFAULT_SNAPSHOT;
/* Time the parts of on_sample (enum ember_path); off: no cost at all (the
 * verifier drops the code). */
const volatile __u32 path_stats = 0;
/* Samples waiting in the ring buffer beyond this many bytes wake user
 * space at once: a quarter of the ring (user space sizes it). */
const volatile __u64 wakeup_bytes = EMBER_DEFAULT_RING_BYTES / 4;

/* Written by user space through the mmapped .bss. */
__u32 active_set = 0;

/* Bumped at the exec of a process a sample may have cached (one in
 * `announced`), and by user space after it changes proc_unwind or
 * py_procs: the per-CPU caches of what a process's samples need
 * (ember_cpu_state) are then looked up again. An exit or a fork does not
 * bump it: a thread's slot names the task (tid and start time), which a
 * reused tid does not match. */
__u64 proc_gen = 0;

typedef __u64 stack_trace_t[EMBER_MAX_STACK_DEPTH];

struct stack_map {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(stack_trace_t));
	__uint(max_entries, EMBER_DEFAULT_STACK_ENTRIES);
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct ember_count_key);
	__type(value, struct ember_count_val);
	__uint(max_entries, EMBER_DEFAULT_COUNTS_ENTRIES);
};

struct stack_map stacks0 SEC(".maps");
struct stack_map stacks1 SEC(".maps");
struct counts_map counts0 SEC(".maps");
struct counts_map counts1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ember_cpu_state);
	__uint(max_entries, 1);
} cpu_state SEC(".maps");

/* tgids to profile (filter modes PIDS and TREE). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 65536);
} tracked SEC(".maps");

/* AUTO mode: how to unwind each process (EMBER_UNWIND_FP or _DWARF),
 * decided by user space (profiler/unwind_auto.c). Absent: DWARF
 * (choose_unwind). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 65536);
} proc_unwind SEC(".maps");

/* AUTO mode: the choice made for an executable file, so a process that
 * execs a known binary is unwound the right way from its first sample. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct ember_file_key);
	__type(value, __u8);
	__uint(max_entries, 16384);
} exe_unwind SEC(".maps");

/* tgids already announced to user space. LRU: a forgotten tgid is simply
 * announced again, which only costs a redundant snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 32768);
} announced SEC(".maps");

/* Sized by user space for the sampling rate (ring_bytes() in sampler.c). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EMBER_DEFAULT_RING_BYTES);
} events SEC(".maps");

/* Updating this map from user space waits for an RCU grace period. */
struct barrier_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} barrier_inner SEC(".maps");

/* Left empty at load: a map-in-map update from user space waits for an RCU
 * grace period (~13 ms here), which start-up should not pay; the first
 * drain fills the slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct barrier_inner);
} barrier SEC(".maps");

static __always_inline struct ember_cpu_state *get_cpu_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

/* Per-CPU slot: no other writer. Programs on one CPU do not nest here:
 * perf_event programs run with bpf_prog_active held, tracepoints on this
 * path use the same per-CPU recursion guard. */
/*
 * Samples in the ring buffer do not wake user space one by one: a wakeup
 * per sample would preempt the profiled program for each of them. User
 * space polls at least every 50 ms; a ring buffer a quarter full
 * (wakeup_bytes) wakes it at once.
 */
static __always_inline __u64 sample_wakeup_flags(void)
{
	/* Forced: the default (adaptive) wakeup only fires when the consumer
	 * has caught up, which it has not while it sleeps. */
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									    : BPF_RB_NO_WAKEUP;
}

static __always_inline void stat_inc(struct ember_cpu_state *st, __u32 idx)
{
	if (st && idx < EMBER_STAT__COUNT)
		st->stats[idx] += 1;
}

/* With path_stats: the time since t0 goes to part path; returns now. */
static __always_inline __u64 path_mark(struct ember_cpu_state *st, __u32 path, __u64 t0)
{
	__u64 now;

	if (!path_stats || path >= EMBER_PATH__COUNT)
		return 0;
	now = bpf_ktime_get_ns();
	st->path_ns[path] += now - t0;
	st->path_runs[path] += 1;
	return now;
}

static __always_inline bool is_tracked(__u32 tgid)
{
	return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

/*
 * Tell user space about a process so it snapshots the mappings while the
 * process exists. A first sample is announced at once (the process may
 * live a few milliseconds more). An exec is announced without waking user
 * space: it reads the event at its next wake-up (at most 50 ms later, or a
 * first sample's announcement), so a process that exits before it is
 * sampled costs user space no more than reading two events; and its
 * "announced" mark is dropped, so that the first sample after exec
 * announces it again, by which time the dynamic loader has usually mapped
 * the libraries.
 */
static __noinline bool announce(__u32 tgid, __u32 parent, __u32 flags)
{
	struct ember_ev_process *e;
	__u32 exec = flags & EMBER_PROC_EXEC;
	__u8 one = 1;

	if (!exec && bpf_map_lookup_elem(&announced, &tgid))
		return true;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(get_cpu_state(), EMBER_STAT_EVENT_LOST);
		return false; /* not marked announced: the next sample tries again */
	}
	e->h.type = EMBER_EV_PROCESS;
	e->h.tgid = tgid;
	e->parent_tgid = parent;
	e->flags = flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* A first sample's is forced: the process may live a few milliseconds.
	 * The adaptive wake-up fires only for a record at the consumer's
	 * position, and records before this one may be waiting without one
	 * (exits, DWARF samples): announcements then waited for the
	 * consumer's poll timeout, and a third of a churn's short processes
	 * were gone before their snapshot. An exec's waits (see above): a
	 * wake-up per exec was most of the agent's wake-ups under churn. */
	bpf_ringbuf_submit(e, exec ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP);
	/* An exec's mark is dropped by on_exec. */
	if (!exec)
		bpf_map_update_elem(&announced, &tgid, &one, BPF_ANY);
	return true;
}

#include "python.bpf.h"

/* The sample interrupted user code: there is no kernel stack to walk
 * (asking for it costs a helper call and the kernel's callchain setup,
 * to learn -EFAULT), and the interrupted registers are the user ones. */
static __always_inline bool in_user_mode(struct bpf_perf_event_data *ctx)
{
	/* A whole-word load: the context allows no narrower one here. */
	return *(volatile __u64 *)&ctx->regs.cs & 3;
}

/* The thread's name and its group leader's. A process's first thread is
 * its own leader (most processes have one thread): its name is copied,
 * without the read through group_leader (a helper call and another
 * task's cache line). */
static __always_inline void fill_names(struct task_struct *task,
				       const struct ember_count_key *key,
				       char *comm, char *pcomm)
{
	bpf_get_current_comm(comm, EMBER_COMM_LEN);
	if (key->tid == key->tgid)
		__builtin_memcpy(pcomm, comm, EMBER_COMM_LEN);
	else
		BPF_CORE_READ_STR_INTO((char(*)[EMBER_COMM_LEN])pcomm, task, group_leader, comm);
}

/* The slow path: the whole sample goes to user space through the ring.
 * Not inlined, as the other paths only some samples take (send_dwarf,
 * announce, py_walk): the code every sample runs stays short and in one
 * piece, which counts at 99 Hz, where each sample finds the caches cold. */
static __noinline void send_raw(struct bpf_perf_event_data *ctx,
				struct ember_cpu_state *st,
				const struct ember_count_key *key,
				bool want_user, __u32 py_seq)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct ember_ev_raw_sample *e;
	long n;

	if (!st)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(st, EMBER_STAT_DROP_RINGBUF_FULL);
		return;
	}
	e->h.type = EMBER_EV_RAW_SAMPLE;
	e->h.tgid = key->tgid;
	e->tid = key->tid;
	e->py_seq = py_seq;
	e->cgroup_id = key->cgroup_id;
	e->top_ra[0] = key->top_ra[0];
	e->top_ra[1] = key->top_ra[1];
	fill_names(task, key, e->comm, e->pcomm);

	n = in_user_mode(ctx) ? -1 : bpf_get_stack(ctx, e->ips, sizeof(stack_trace_t), 0);
	e->kstack_len = n > 0 ? n / sizeof(__u64) : -1;
	e->ustack_len = -1;
	if (want_user) {
		n = bpf_get_stack(ctx, &e->ips[EMBER_MAX_STACK_DEPTH],
				  sizeof(stack_trace_t), BPF_F_USER_STACK);
		e->ustack_len = n > 0 ? n / sizeof(__u64) : -1;
	}
	if (e->kstack_len < 0 && e->ustack_len < 0) {
		stat_inc(st, EMBER_STAT_DROP_RAW_STACK);
		bpf_ringbuf_discard(e, 0);
		return;
	}
	bpf_ringbuf_submit(e, sample_wakeup_flags());
}

/* True when the 8 bytes before w end with a call instruction: w is then
 * likely a return address (direct call rel32, or an indirect call
 * through a register or memory operand). */
static __always_inline bool looks_like_ra(__u64 w)
{
	__u8 b[8];

	if (w < 4096 || bpf_probe_read_user(b, sizeof(b), (void *)(w - 8)))
		return false;
	return b[3] == 0xe8 ||                              /* call rel32 */
	       (b[6] == 0xff && (b[7] & 0x38) == 0x10) ||   /* call *%reg */
	       (b[5] == 0xff && (b[6] & 0x38) == 0x10) ||   /* call *(%reg) + sib/disp8 */
	       (b[2] == 0xff && (b[3] & 0x38) == 0x10) ||   /* call *disp32(%reg) */
	       (b[1] == 0xff && (b[2] & 0x38) == 0x10);     /* call *disp32(%reg,sib) */
}

/*
 * looks_like_ra(w), remembered for the last four words judged on this CPU
 * for this process: a program's hot leaves return to the same few places,
 * so most samples find their word here and skip reading the code before it
 * (a user-memory read, the leaf repair's dearest part). The words are
 * forgotten when the CPU samples another process, or after an exec or
 * exit (proc_gen: another image may be mapped at the same addresses).
 */
static __always_inline bool ra_check(struct ember_cpu_state *st, __u64 w)
{
	__u32 i;
	bool yes;

	for (i = 0; i < 4; i++)
		if (st->ra_word[i] == w)
			return st->ra_yes & (1u << i);
	yes = looks_like_ra(w);
	i = st->ra_next++ & 3;
	st->ra_word[i] = w;
	if (yes)
		st->ra_yes |= 1u << i;
	else
		st->ra_yes &= ~(1u << i);
	return yes;
}

/* Leaf repair words: see ember_count_key.top_ra. */
static __always_inline void read_top_ra(struct ember_cpu_state *st,
					struct task_struct *task, __u32 tgid,
					__u32 gen, __u64 ra[2])
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 w[2] = {};

	if (st->ra_tgid != tgid || st->ra_gen != gen) {
		/* 0 is never a return address. */
		for (int i = 0; i < 4; i++)
			st->ra_word[i] = 0;
		st->ra_yes = 0;
		st->ra_tgid = tgid;
		st->ra_gen = gen;
	}
	if (!regs || bpf_probe_read_user(w, sizeof(w), (void *)regs->sp))
		return;
	/* A frameless leaf has its return address right at the top; the
	 * second word matters only when the first is not one (a leaf caught
	 * after pushing a register). One check instead of two, usually. */
	if (ra_check(st, w[0]))
		ra[0] = w[0];
	else if (ra_check(st, w[1]))
		ra[1] = w[1];
}

/*
 * How many bytes of user stack from sp can be read, up to size, without
 * touching memory past the stack's end: a copy that faults costs a page
 * fault and a cleared buffer, and most threads' stacks end within a few
 * KB of their deepest frame (a thread's first frames are near the top of
 * its mapping). sp's own page is readable, and so is every page from it
 * up to the thread's outermost frame; beyond, one byte a page is probed.
 * What was found is kept in the thread's slot: its next samples read
 * exactly up to a known end without probing, and probe only past what
 * was found readable before (a deep stack with 8 KB above sp probes
 * nothing after its first sample).
 */
static __always_inline __u64 readable_stack(struct ember_thread_slot *t, __u64 sp, __u64 size)
{
	__u64 end = t->stack_end;

	if (sp < end && end - sp < (1 << 20)) {
		if (t->flags & EMBER_THREAD_END_KNOWN || end - sp >= size)
			return end - sp < size ? end - sp : size;
	} else {
		end = (sp | 4095) + 1;
	}
	for (int i = 0; i < EMBER_MAX_SNAPSHOT / 4096; i++) {
		__u8 b;

		if (end >= sp + size)
			break;
		if (bpf_probe_read_user(&b, 1, (void *)end)) {
			t->flags |= EMBER_THREAD_END_KNOWN;
			break;
		}
		end += 4096;
	}
	t->stack_end = end;
	return end - sp < size ? end - sp : size;
}

/* The DWARF path: user registers, the top of the user stack and the
 * kernel stack go to user space, which unwinds them with the CFI. Written
 * straight into a ring buffer record with room for snapshot_size bytes of
 * stack (a copy into a scratch buffer, then into the ring, cost a second
 * copy per sample); a stack that ends sooner leaves the rest of the
 * record unused (stack_len says how much holds stack). */
#define DWARF_HDR offsetof(struct ember_ev_dwarf_sample, stack)

static __noinline void send_dwarf(struct bpf_perf_event_data *ctx,
				  struct ember_cpu_state *st,
				  struct ember_thread_slot *t,
				  const struct ember_count_key *key, __u32 py_seq)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct ember_ev_dwarf_sample *e;
	__u64 sp, len;
	long n;

	if (!regs || !st || !t)
		return;
	sp = regs->sp;
	len = readable_stack(t, sp, snapshot_size);
	if (len > snapshot_size)
		len = snapshot_size;
	/* Room for the stack there is, in one of three sizes (a reservation
	 * takes a size the verifier knows: snapshot_size is read-only data,
	 * at most EMBER_MAX_SNAPSHOT): a short stack does not take a whole
	 * snapshot's room in the ring, which a busy host's short-lived
	 * programs filled three times as fast. */
	if (len <= 2048)
		e = bpf_ringbuf_reserve(&events, DWARF_HDR + 2048, 0);
	else if (len <= 4096)
		e = bpf_ringbuf_reserve(&events, DWARF_HDR + 4096, 0);
	else
		e = bpf_ringbuf_reserve(&events, DWARF_HDR + snapshot_size, 0);
	if (!e) {
		stat_inc(st, EMBER_STAT_DROP_DWARF_RINGBUF);
		return;
	}
	e->h.type = EMBER_EV_DWARF_SAMPLE;
	e->h.tgid = key->tgid;
	e->tid = key->tid;
	e->cgroup_id = key->cgroup_id;
	e->py_seq = py_seq;
	fill_names(task, key, e->comm, e->pcomm);
	e->regs[0] = regs->ax;
	e->regs[1] = regs->dx;
	e->regs[2] = regs->cx;
	e->regs[3] = regs->bx;
	e->regs[4] = regs->si;
	e->regs[5] = regs->di;
	e->regs[6] = regs->bp;
	e->regs[7] = regs->sp;
	e->regs[8] = regs->r8;
	e->regs[9] = regs->r9;
	e->regs[10] = regs->r10;
	e->regs[11] = regs->r11;
	e->regs[12] = regs->r12;
	e->regs[13] = regs->r13;
	e->regs[14] = regs->r14;
	e->regs[15] = regs->r15;
	e->regs[16] = regs->ip;
	n = in_user_mode(ctx) ? -1 : bpf_get_stack(ctx, e->kips, sizeof(e->kips), 0);
	e->kstack_len = n > 0 ? n / sizeof(__u64) : -1;

	if (bpf_probe_read_user(e->stack, len, (void *)sp)) {
		/* Unmapped since (or a stale end): none of it. */
		t->stack_end = 0;
		t->flags &= ~EMBER_THREAD_END_KNOWN;
		len = 0;
	}
	/* EMBER_STAT_DWARF_SAMPLES and _SNAPSHOT_SHORT are counted by user
	 * space as it reads the record (sampler-ring.c). */
	e->stack_len = len;
	bpf_ringbuf_submit(e, sample_wakeup_flags());
}

/* How to unwind this sample's user stack. */
static __always_inline __u32 choose_unwind(__u32 tgid)
{
	__u8 *m;

	if (unwind_mode != EMBER_UNWIND_AUTO)
		return unwind_mode;
	m = bpf_map_lookup_elem(&proc_unwind, &tgid);
	/* Not decided yet (user space decides when the process is announced,
	 * within milliseconds): DWARF, which is right for every binary; the
	 * frame-pointer walk would cut these first stacks short in most of
	 * Debian's programs. */
	return m ? *m : EMBER_UNWIND_DWARF;
}

/* Map a stack id result to a key value; true when the slow path is needed. */
static __always_inline bool check_stackid(struct ember_cpu_state *st, long id, bool user,
					  __s32 *out)
{
	if (id >= 0) {
		*out = id;
		return false;
	}
	*out = EMBER_NO_STACK;
	if (id == -EEXIST) {
		stat_inc(st, user ? EMBER_STAT_USTACK_COLLISION : EMBER_STAT_KSTACK_COLLISION);
		return true;
	}
	if (id == -ENOMEM) {
		stat_inc(st, EMBER_STAT_STACK_MAP_FULL);
		return true;
	}
	/* -EFAULT on the kernel side just means "sampled in user mode". */
	if (id == -EFAULT) {
		if (user)
			stat_inc(st, EMBER_STAT_USTACK_FAULT);
		return false;
	}
	stat_inc(st, EMBER_STAT_STACK_OTHER_ERROR);
	return false;
}

/*
 * The cgroup id of the sampled task. A css_set (task->cgroups) belongs to
 * one cgroup of the default hierarchy for its whole life, so the id is
 * read again only when the CPU samples a task of another css_set: three
 * dependent loads (css_set, cgroup, kernfs node), each a cache miss when
 * samples are far apart, saved for most samples.
 */
static __always_inline __u64 cgroup_of(struct ember_cpu_state *st, struct task_struct *task)
{
	__u64 css = (__u64)task->cgroups;

	if (css != st->last_css || !css) {
		st->last_cgroup = bpf_get_current_cgroup_id();
		st->last_css = css;
	}
	return st->last_cgroup;
}

/*
 * What the samples of thread tid of process tgid need (ember_thread_slot),
 * from its slot in the CPU's state when the slot holds this thread at the
 * current generation; otherwise looked up (the announced, proc_unwind and
 * py_procs maps) into the slot. proc_gen is read before the maps, and
 * user space bumps it after writing them, so a change is never missed. A
 * failed announcement (ring buffer full) leaves the slot empty: the next
 * sample tries again.
 */
static __always_inline struct ember_thread_slot *
thread_facts(struct ember_cpu_state *st, struct task_struct *task, __u32 tgid, __u32 tid,
	     __u32 gen)
{
	struct ember_thread_slot *t = &st->threads[tid & (EMBER_THREAD_SLOTS - 1)];
	__u64 start = task->start_time;

	if (t->tid == tid && t->start_time == start && t->tgid == tgid && t->gen == gen)
		return t;
	t->tid = 0;
	t->tgid = tgid;
	t->gen = gen;
	t->start_time = start;
	t->unwind = choose_unwind(tgid);
	t->flags = bpf_map_lookup_elem(&py_procs, &tgid) ? EMBER_THREAD_PYTHON : 0;
	t->stack_end = 0;
	if (announce(tgid, 0, 0))
		t->tid = tid;
	return t;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	struct ember_count_key key = {};
	struct ember_count_val *val, init = {};
	struct ember_cpu_state *st;
	struct ember_thread_slot *th = NULL;
	__u64 t = path_stats ? bpf_ktime_get_ns() : 0;
	__u32 gen;
	bool user, slow;
	__u32 py_seq = 0;
	void *stacks, *counts;
	long sid;
	int err;

	key.tgid = id >> 32;
	key.tid = (__u32)id;
	if (key.tid == 0 && !include_idle)
		return 0;
	if (filter_mode != EMBER_FILTER_ALL && !is_tracked(key.tgid))
		return 0;

	st = get_cpu_state();
	if (!st)
		return 0;
	st->stats[EMBER_STAT_SAMPLES] += 1;
	key.cgroup_id = cgroup_of(st, task);
	/* A sample in user mode is a user task's: its flags' cache line
	 * (cold at 99 Hz) is read only for a sample in kernel mode. */
	user = key.tid != 0 && (in_user_mode(ctx) || !(task->flags & PF_KTHREAD));
	gen = *(volatile __u64 *)&proc_gen;
	if (user)
		th = thread_facts(st, task, key.tgid, key.tid, gen);

	/* A Python thread's frames go first, in their own record. */
	if (th && (th->flags & EMBER_THREAD_PYTHON))
		py_seq = py_walk(st, key.tgid, key.tid);
	if (th && th->unwind == EMBER_UNWIND_DWARF) {
		t = path_mark(st, EMBER_PATH_COMMON, t);
		send_dwarf(ctx, st, th, &key, py_seq);
		path_mark(st, EMBER_PATH_SNAPSHOT, t);
		return 0;
	}
	t = path_mark(st, EMBER_PATH_COMMON, t);
	if (user) {
		read_top_ra(st, task, key.tgid, gen, key.top_ra);
		t = path_mark(st, EMBER_PATH_LEAF, t);
	}
	/* Its frames cannot be counted in the kernel's maps: the whole
	 * sample follows them through the ring buffer. */
	if (py_seq) {
		send_raw(ctx, st, &key, user, py_seq);
		path_mark(st, EMBER_PATH_RAW, t);
		return 0;
	}

	if (active_set) {
		stacks = &stacks1;
		counts = &counts1;
	} else {
		stacks = &stacks0;
		counts = &counts0;
	}

	key.kstack_id = EMBER_NO_STACK;
	slow = false;
	if (!in_user_mode(ctx)) {
		sid = bpf_get_stackid(ctx, stacks, 0);
		slow = check_stackid(st, sid, false, &key.kstack_id);
	}
	key.ustack_id = EMBER_NO_STACK;
	if (user) {
		sid = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		slow |= check_stackid(st, sid, true, &key.ustack_id);
	}
	t = path_mark(st, EMBER_PATH_WALK, t);
	if (slow) {
		send_raw(ctx, st, &key, user, 0);
		path_mark(st, EMBER_PATH_RAW, t);
		return 0;
	}

	val = bpf_map_lookup_elem(counts, &key);
	if (val) {
		__sync_fetch_and_add(&val->count, 1);
		path_mark(st, EMBER_PATH_COUNT, t);
		return 0;
	}
	init.count = 1;
	fill_names(task, &key, init.comm, init.pcomm);
	err = bpf_map_update_elem(counts, &key, &init, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU inserted the same key first. */
		val = bpf_map_lookup_elem(counts, &key);
		if (val) {
			__sync_fetch_and_add(&val->count, 1);
			path_mark(st, EMBER_PATH_INSERT, t);
			return 0;
		}
	}
	if (err) {
		stat_inc(st, EMBER_STAT_COUNTS_MAP_FULL);
		send_raw(ctx, st, &key, user, 0);
		path_mark(st, EMBER_PATH_RAW, t);
		return 0;
	}
	path_mark(st, EMBER_PATH_INSERT, t);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	/* parent is the current task */
	__u32 ptgid = bpf_get_current_pid_tgid() >> 32, ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (ptgid == ctgid)
		return 0;
	py_fork(ptgid, ctgid);
	if (filter_mode != EMBER_FILTER_TREE)
		return 0;
	if (!is_tracked(ptgid))
		return 0;
	if (bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY))
		stat_inc(get_cpu_state(), EMBER_STAT_TRACKED_FULL);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	/* p is the current task */
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, flags = EMBER_PROC_EXEC;
	bool cached;

	if (filter_mode != EMBER_FILTER_ALL && !is_tracked(tgid))
		return 0;
	py_forget(tgid);
	/* A new image: the old one's unwinding choice no longer applies; a
	 * binary seen before brings its own, and user space has nothing to
	 * decide for it. */
	if (unwind_mode == EMBER_UNWIND_AUTO) {
		struct ember_file_key fk = {
			.dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev),
			.ino = BPF_CORE_READ(bprm, file, f_inode, i_ino),
		};
		__u8 *m = bpf_map_lookup_elem(&exe_unwind, &fk);

		if (m && !bpf_map_update_elem(&proc_unwind, &tgid, m, BPF_ANY))
			flags |= EMBER_PROC_KNOWN;
		else
			bpf_map_delete_elem(&proc_unwind, &tgid);
	}
	announce(tgid, BPF_CORE_READ(p, real_parent, tgid), flags);
	/* Its first sample after the exec announces it again, by which time
	 * the dynamic loader has usually mapped the libraries. A process no
	 * sample has announced is in no thread slot (a slot is filled after
	 * the announcement): most execs (a fork's child) change nothing a
	 * sample cached. */
	cached = !bpf_map_delete_elem(&announced, &tgid);
	/* Last, after every map a sample reads was changed: a sample taken
	 * in between (a tracing program can be interrupted by the sampling
	 * one) must not cache the old image's facts under the new
	 * generation; such a sample announced the process, so the mark is
	 * looked at again. */
	if (cached || bpf_map_lookup_elem(&announced, &tgid))
		__sync_fetch_and_add(&proc_gen, 1);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	struct ember_ev_exit *e;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;  /* p is the current task */

	/* Only the last thread of the group ends the process. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (filter_mode != EMBER_FILTER_ALL && !is_tracked(tgid))
		return 0;
	bpf_map_delete_elem(&announced, &tgid);
	py_forget(tgid);
	/* No proc_gen bump: a process reusing the tgid is another task,
	 * whose start time no thread slot holds. A bump at every exit made
	 * every CPU look its threads' facts up again after each (tens a
	 * second on a busy host). */
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(get_cpu_state(), EMBER_STAT_EVENT_LOST);
		return 0;
	}
	e->h.type = EMBER_EV_EXIT;
	e->h.tgid = tgid;
	/* Not urgent: read at the consumer's next wake-up (an announcement
	 * forces one, or its poll times out). Waking it for every exit was a
	 * third of its wake-ups under process churn. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	/* tracked is cleaned by user space after the drain that follows, so
	 * samples taken while the group was exiting still pass the filter. */
	return 0;
}

/*
 * The kernel lets only a GPL-compatible program call bpf_get_stackid() and
 * bpf_get_stack() (with an "Apache-2.0" string the verifier refuses
 * on_sample: "cannot call GPL-restricted function from non-GPL compatible
 * program"). This file is GPL-2.0-only OR Apache-2.0, as its SPDX line
 * says; the kernel's license strings have no Apache pair, and "GPL" (the
 * GNU GPL v2) names the side it checks. ("Dual BSD/GPL" would claim a BSD
 * license the file does not grant.)
 */
char LICENSE[] SEC("license") = "GPL";
