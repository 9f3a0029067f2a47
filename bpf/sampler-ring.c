/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler-ring.c — the ring buffer reader: sampler__poll and
 * sampler__consume deliver the records the programs wrote (process
 * announcements and exits, DWARF snapshots, slow-path samples with their
 * whole stacks, the Python frames that precede a sample's record) to the
 * session's callbacks. A record is checked against its size before any
 * field is read; a Python record waits in its CPU's slot for the sample
 * record that names it by sequence number.
 */
#include "sampler-internal.h"

#include <errno.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "common.h"
#include "profile.skel.h"

/* Frames in a record's stack: its length, or 0 when there is none. */
static size_t frames_of(__s32 len)
{
	return len > 0 ? MIN((size_t)len, EMBER_MAX_STACK_DEPTH) : 0;
}

/* Keep a Python record for the sample record that follows it. */
static int python_record(struct sampler *s, const struct ember_ev_python *e, size_t size)
{
	size_t hdr = offsetof(struct ember_ev_python, frames);
	struct py_pending *p;

	if (size < hdr || e->n == 0 || e->n > EMBER_PY_MAX_FRAMES ||
	    size < hdr + e->n * sizeof(e->frames[0]))
		return 0;
	if (!s->py_pending) {
		s->py_pending = calloc(s->n_possible_cpus, sizeof(*s->py_pending));
		if (!s->py_pending)
			return -ENOMEM;
	}
	p = &s->py_pending[(e->seq & 0xfff) % s->n_possible_cpus];
	p->seq = e->seq;
	p->n = e->n;
	p->status = e->status;
	memcpy(p->frames, e->frames, e->n * sizeof(e->frames[0]));
	return 0;
}

/* The Python frames a sample record names, taken from their slot. */
static void python_frames(struct sampler *s, uint32_t seq, const struct sampler_py_frame **ret,
			  size_t *ret_n, enum sampler_py_end *ret_end)
{
	struct py_pending *p;

	*ret = NULL;
	*ret_n = 0;
	*ret_end = SAMPLER_PY_ROOT;
	if (!seq)
		return;
	p = s->py_pending ? &s->py_pending[(seq & 0xfff) % s->n_possible_cpus] : NULL;
	if (!p || p->seq != seq) {
		s->py_unmatched++;
		return;
	}
	*ret = (const struct sampler_py_frame *)p->frames;
	*ret_n = p->n;
	*ret_end = (enum sampler_py_end)p->status;
	/* Used once: the slot's next sample brings its own record. */
	p->seq = 0;
}

/* The part a DWARF record and a raw one share (their fields are named
 * alike): whose, the names (copied into names), the kernel stack, and the
 * Python frames the record names. */
static void ring_head(struct sampler *s, struct sampler_sample_head *head,
		      struct sampler_names *names, uint32_t tgid, uint32_t tid, uint64_t cgroup_id,
		      const char *comm, const char *pcomm, const __u64 *kips, __s32 kstack_len,
		      uint32_t py_seq)
{
	sampler_head__fill(head, names, tgid, tid, cgroup_id, comm, pcomm,
			   (const uint64_t *)kips, frames_of(kstack_len));
	python_frames(s, py_seq, &head->py, &head->n_py, &head->py_end);
}

int sampler__ring_record(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	const struct ember_ev_header *h = data;

	if (size < sizeof(*h) || !s->cb)
		return 0;
	switch (h->type) {
	case EMBER_EV_PROCESS: {
		const struct ember_ev_process *e = data;

		if (size >= sizeof(*e) && s->cb->on_process)
			s->cb->on_process(s->cb_ctx, h->tgid, e->flags & EMBER_PROC_EXEC,
					  e->flags & EMBER_PROC_KNOWN);
		break;
	}
	case EMBER_EV_EXIT: {
		int err = COMMON_GROW(s->exited, s->cap_exited, s->n_exited + 1);

		if (err)
			return err;
		s->exited[s->n_exited++] = h->tgid;
		if (s->cb->on_exit)
			s->cb->on_exit(s->cb_ctx, h->tgid);
		break;
	}
	case EMBER_EV_PYTHON:
		return python_record(s, data, size);
	case EMBER_EV_DWARF_SAMPLE: {
		const struct ember_ev_dwarf_sample *e = data;
		size_t hdr = offsetof(struct ember_ev_dwarf_sample, stack);
		struct sampler_dwarf_sample smp = {0};
		struct sampler_names names;
		int err;

		if (size < hdr || e->stack_len > size - hdr || e->stack_len > EMBER_MAX_SNAPSHOT)
			break;
		s->dwarf_samples++;
		if (e->stack_len < s->skel->rodata->snapshot_size)
			s->snapshot_short++;
		if (!s->cb->on_dwarf_sample) {
			s->dwarf_unhandled++;
			break;
		}
		ring_head(s, &smp.head, &names, h->tgid, e->tid, e->cgroup_id, e->comm, e->pcomm,
			  e->kips, e->kstack_len, e->py_seq);
		smp.regs = (const uint64_t *)e->regs;
		smp.stack = e->stack;
		smp.stack_len = e->stack_len;
		err = s->cb->on_dwarf_sample(s->cb_ctx, &smp);
		if (err < 0 && !s->cb_err)
			s->cb_err = err;
		break;
	}
	case EMBER_EV_RAW_SAMPLE: {
		const struct ember_ev_raw_sample *e = data;
		struct sampler_sample smp = {0};
		struct sampler_names names;
		int err;

		if (size < sizeof(*e) || !s->cb->on_sample)
			break;
		ring_head(s, &smp.head, &names, h->tgid, e->tid, e->cgroup_id, e->comm, e->pcomm,
			  e->ips, e->kstack_len, e->py_seq);
		smp.uips = (const uint64_t *)&e->ips[EMBER_MAX_STACK_DEPTH];
		smp.n_uips = frames_of(e->ustack_len);
		smp.user_task = e->ustack_len >= 0;
		smp.count = 1;
		smp.top_ra[0] = e->top_ra[0];
		smp.top_ra[1] = e->top_ra[1];
		err = s->cb->on_sample(s->cb_ctx, &smp);
		if (err < 0 && !s->cb_err)
			s->cb_err = err;
		break;
	}
	default:
		break;
	}
	return 0;
}

void sampler__begin_callbacks(struct sampler *s, const struct sampler_callbacks *cb,
			      void *ctx)
{
	s->cb = cb;
	s->cb_ctx = ctx;
	s->cb_err = 0;
}

int sampler__poll(struct sampler *s, int timeout_ms,
		  const struct sampler_callbacks *cb, void *ctx)
{
	int n;

	sampler__begin_callbacks(s, cb, ctx);
	s->in_ring = true;
	n = sampler_rb__poll(s->rb, timeout_ms);
	/* Samples do not wake us one by one (see profile.bpf.c): take what
	 * arrived quietly, also when the wait timed out. */
	if (n >= 0) {
		int m = sampler_rb__consume(s->rb);

		n = m < 0 ? m : n + m;
	}
	s->in_ring = false;
	s->cb = NULL;
	if (s->cb_err)
		return s->cb_err;
	return n;
}

int sampler__consume(struct sampler *s, const struct sampler_callbacks *cb, void *ctx)
{
	const struct sampler_callbacks *cb0 = s->cb;
	void *ctx0 = s->cb_ctx;
	int err0 = s->cb_err, n, err;

	if (s->in_ring)
		return 0;
	sampler__begin_callbacks(s, cb, ctx);
	s->in_ring = true;
	n = sampler_rb__consume(s->rb);
	s->in_ring = false;
	err = s->cb_err;
	/* Back to the drain (or poll) this was called from. */
	s->cb = cb0;
	s->cb_ctx = ctx0;
	s->cb_err = err0;
	return err ? err : n;
}
