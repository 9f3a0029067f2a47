/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * python.bpf.h — the Python frames of a sample, read at sample time. Part
 * of profile.bpf.c (included once, after its maps and helpers).
 *
 * For a process user space registered in py_procs (it found a CPython it
 * knows in the process: where _PyRuntime is and the structure offsets of
 * that version), the walk finds the sampled thread's PyThreadState, follows
 * its _PyCFrame to the frame running now and from there the chain of
 * _PyInterpreterFrame.previous, keeping of each frame its code object's
 * address, an identity of that code object (ember_py_ident) and the index
 * of the instruction running. The frames go to user space in one ring
 * buffer record (ember_ev_python) sent right before the sample's own
 * record, which names it by its seq; user space names the code objects (at
 * once, while they exist) and merges the frames into the native stack.
 *
 * The thread state: CPython 3.11 links every thread state of an
 * interpreter in a list, and each holds its thread's kernel tid
 * (native_thread_id). The walk looks a tid up once in that list and keeps
 * the answer in py_threads; each later sample checks the kept thread state
 * still holds its tid (a freed thread state reused for another thread is
 * found again), which is the same read that gives the current frame. A
 * thread without a thread state is looked for again after PY_RETRY_NS.
 *
 * Every read goes through bpf_probe_read_user of a window (the structure's
 * first bytes up to the last field used, sized by user space), so a frame
 * costs two reads: itself and its code object. Nothing read is trusted:
 * a code pointer must point at an object whose type is PyCode_Type, and a
 * bad read ends the walk with the frames read so far, counted.
 */
#ifndef EMBER_PYTHON_BPF_H
#define EMBER_PYTHON_BPF_H

/* Steps of a thread-state lookup (a thread state, or moving to the next
 * interpreter, each). */
#define PY_MAX_THREADS 512
/* A thread without a thread state is looked for again after this long. */
#define PY_RETRY_NS (200ULL * 1000000ULL)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);                /* tgid */
	__type(value, struct ember_py_proc);
	__uint(max_entries, 4096);
} py_procs SEC(".maps");

struct py_thread {
	__u64 tstate;      /* the thread's PyThreadState, 0: none found */
	__u64 checked_ns;  /* when none was found */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);                /* tid */
	__type(value, struct py_thread);
	__uint(max_entries, 16384);
} py_threads SEC(".maps");

/* The record being built and the windows read, per CPU. */
struct py_scratch {
	struct ember_ev_python ev;
	__u8 a[EMBER_PY_READ_MAX + 8];
	__u8 b[EMBER_PY_READ_MAX + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct py_scratch);
	__uint(max_entries, 1);
} py_scratch SEC(".maps");

/* Fields of a window, at offsets user space gave: masked so the verifier
 * sees them inside the buffer (user space keeps them below
 * EMBER_PY_READ_MAX and aligned). */
static __always_inline __u64 py_u64(const __u8 *w, __u16 off)
{
	return *(const __u64 *)(w + (off & (EMBER_PY_READ_MAX - 8)));
}

static __always_inline __u32 py_u32(const __u8 *w, __u16 off)
{
	return *(const __u32 *)(w + (off & (EMBER_PY_READ_MAX - 4)));
}

static __always_inline __u8 py_u8(const __u8 *w, __u16 off)
{
	return w[off & (EMBER_PY_READ_MAX - 1)];
}

/* Read the first size bytes of the structure at addr into w. */
static __always_inline int py_read(__u8 *w, __u16 size, __u64 addr)
{
	__u32 n = size & (EMBER_PY_READ_MAX - 1);

	if (!addr || n == 0)
		return -1;
	return bpf_probe_read_user(w, n, (const void *)addr);
}

static __always_inline int py_read_ptr(__u64 addr, __u64 *ret)
{
	if (!addr)
		return -1;
	return bpf_probe_read_user(ret, sizeof(*ret), (const void *)addr);
}

/* What the thread-state search carries from step to step (bpf_loop: the
 * verifier checks a step once, not every turn of the loop). */
struct py_find {
	const struct ember_py_proc *p;
	__u8 *w;
	__u64 interp, ts, found;
	__u32 tid;
};

static long py_find_step(__u32 i, void *arg)
{
	struct py_find *c = arg;
	const struct ember_py_proc *p = c->p;

	if (!c->ts) {
		/* The next interpreter's threads. */
		if (!c->interp || py_read_ptr(c->interp + p->off.interp_threads_head, &c->ts))
			return 1;
		if (py_read_ptr(c->interp + p->off.interp_next, &c->interp))
			c->interp = 0;
		return 0;
	}
	if (py_read(c->w, p->off.tstate_size, c->ts))
		return 1;
	if (py_u32(c->w, p->off.tstate_native_tid) == c->tid) {
		c->found = c->ts;
		return 1;
	}
	c->ts = py_u64(c->w, p->off.tstate_next);
	return 0;
}

/*
 * The thread state of tid, with its first tstate_size bytes in w; 0 when
 * it has none (or none was found lately).
 */
static __always_inline __u64 py_thread_state(const struct ember_py_proc *p, __u32 tid,
					     __u8 *w)
{
	struct py_thread *t = bpf_map_lookup_elem(&py_threads, &tid);
	struct py_find c = { .p = p, .w = w, .tid = tid };
	struct py_thread found = {};

	if (t) {
		if (t->tstate) {
			if (py_read(w, p->off.tstate_size, t->tstate) == 0 &&
			    py_u32(w, p->off.tstate_native_tid) == tid)
				return t->tstate;
		} else if (bpf_ktime_get_ns() - t->checked_ns < PY_RETRY_NS) {
			return 0;
		}
	}
	if (py_read_ptr(p->runtime + p->off.runtime_interp_head, &c.interp))
		c.interp = 0;
	bpf_loop(PY_MAX_THREADS, py_find_step, &c, 0);
	found.tstate = c.found;
	if (!found.tstate)
		found.checked_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&py_threads, &tid, &found, BPF_ANY);
	return found.tstate;
}

/* What the frame walk carries from step to step. */
struct py_walk {
	const struct ember_py_proc *p;
	struct py_scratch *sc;
	__u64 frame;
	__u32 n;
	__u32 status;
};

static long py_frame_step(__u32 i, void *arg)
{
	struct py_walk *c = arg;
	const struct ember_py_proc *p = c->p;
	struct py_scratch *sc = c->sc;
	struct ember_py_frame *f;
	__u64 code, prev_instr;

	if (i >= EMBER_PY_MAX_FRAMES)
		return 1;
	f = &sc->ev.frames[i];
	if (py_read(sc->a, p->off.frame_size, c->frame)) {
		c->status = EMBER_PY_WALK_FAULT;
		return 1;
	}
	code = py_u64(sc->a, p->off.frame_code);
	if (py_read(sc->b, p->off.code_size, code)) {
		c->status = EMBER_PY_WALK_FAULT;
		return 1;
	}
	/* ob_type, the second word of every object. */
	if (*(__u64 *)(sc->b + 8) != p->code_type) {
		c->status = EMBER_PY_WALK_NOT_CODE;
		return 1;
	}
	prev_instr = py_u64(sc->a, p->off.frame_prev_instr);
	f->code = code;
	f->ident = ember_py_ident(py_u64(sc->b, p->off.code_filename),
				  py_u64(sc->b, p->off.code_qualname),
				  py_u64(sc->b, p->off.code_linetable),
				  py_u32(sc->b, p->off.code_firstlineno));
	/* Code units of two bytes; prev_instr is one before the first
	 * instruction in a frame that has not started. */
	f->lasti = (__s32)((__s64)(prev_instr - (code + p->off.code_adaptive)) >> 1);
	f->flags = py_u8(sc->a, p->off.frame_is_entry) ? EMBER_PY_ENTRY : 0;
	c->n = i + 1;
	c->frame = py_u64(sc->a, p->off.frame_previous);
	return c->frame ? 0 : 1;
}

/*
 * Walk the Python frames of the sampled thread of process tgid and send
 * them (ember_ev_python). Returns the record's seq for the sample's own
 * record, or 0 when there are none (not a Python process, no thread state,
 * no frame running, the record lost: each counted but the first).
 */
static __noinline __u32 py_walk(struct ember_cpu_state *st, __u32 tgid, __u32 tid)
{
	struct ember_py_proc *p;
	struct py_walk c = {};
	struct py_scratch *sc;
	__u32 zero = 0, seq, n;
	__u64 ts, size;

	if (!st)
		return 0;
	p = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!p)
		return 0;
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!sc)
		return 0;
	ts = py_thread_state(p, tid, sc->a);
	if (!ts) {
		st->stats[EMBER_STAT_PY_NO_THREAD] += 1;
		return 0;
	}
	if (py_read_ptr(py_u64(sc->a, p->off.tstate_cframe) + p->off.cframe_current_frame,
			&c.frame) || !c.frame) {
		st->stats[EMBER_STAT_PY_NO_FRAME] += 1;
		return 0;
	}
	c.p = p;
	c.sc = sc;
	c.status = EMBER_PY_WALK_ROOT;
	bpf_loop(EMBER_PY_MAX_FRAMES, py_frame_step, &c, 0);
	n = c.n;
	if (n == EMBER_PY_MAX_FRAMES && c.frame && c.status == EMBER_PY_WALK_ROOT)
		c.status = EMBER_PY_WALK_DEPTH;
	if (c.status == EMBER_PY_WALK_FAULT)
		st->stats[EMBER_STAT_PY_READ_FAULT] += 1;
	else if (c.status == EMBER_PY_WALK_NOT_CODE)
		st->stats[EMBER_STAT_PY_NOT_CODE] += 1;
	else if (c.status == EMBER_PY_WALK_DEPTH)
		st->stats[EMBER_STAT_PY_DEPTH] += 1;
	if (n == 0 || n > EMBER_PY_MAX_FRAMES)
		return 0;

	st->py_seq += 1;
	seq = st->py_seq << 12 | (bpf_get_smp_processor_id() & 0xfff);
	if (seq == 0)
		seq = 1 << 12;
	sc->ev.h.type = EMBER_EV_PYTHON;
	sc->ev.h.tgid = tgid;
	sc->ev.tid = tid;
	sc->ev.seq = seq;
	sc->ev.n = n;
	sc->ev.status = c.status;
	size = offsetof(struct ember_ev_python, frames) + (__u64)n * sizeof(struct ember_py_frame);
	if (size > sizeof(sc->ev))
		size = sizeof(sc->ev);
	if (bpf_ringbuf_output(&events, &sc->ev, size, sample_wakeup_flags())) {
		st->stats[EMBER_STAT_PY_RINGBUF_FULL] += 1;
		return 0;
	}
	st->stats[EMBER_STAT_PY_SAMPLES] += 1;
	return seq;
}

/* A forked child is a copy of its parent: the same interpreter at the
 * same addresses. */
static __always_inline void py_fork(__u32 parent, __u32 child)
{
	struct ember_py_proc *p = bpf_map_lookup_elem(&py_procs, &parent);

	/* No proc_gen bump: the child's threads are new tasks, whose start
	 * times no thread slot holds (a slot keeps "not Python" for a reused
	 * tgid only while the task is the same). */
	if (p)
		bpf_map_update_elem(&py_procs, &child, p, BPF_ANY);
}

/* A new image (exec) or the end of the process. */
static __always_inline void py_forget(__u32 tgid)
{
	bpf_map_delete_elem(&py_procs, &tgid);
}

#endif
