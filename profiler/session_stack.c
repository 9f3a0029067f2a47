/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session_stack.c — one stack into the open flush: the user addresses
 * (a frameless leaf given its caller, return addresses looked up at
 * addr - 1, each one expanded to its function and the calls inlined into
 * it) root first, a [truncated] marker when the user stack does not reach
 * its root, the Python frames merged in place of the interpreter's
 * (python.c), then the kernel frames; each frame counted (the totals,
 * coverage.c, and for a frame-pointer stack unwind_auto.c) and the stack
 * written with its labels.
 */
#include <string.h>

#include "session-internal.h"
#include "ustack.h"

/* ---- one stack into the open flush ------------------------------------- */

static enum store_frame_kind to_store_kind(enum sym_frame_kind k)
{
	switch (k) {
	case SYM_FRAME_KERNEL:
		return STORE_FRAME_KERNEL;
	case SYM_FRAME_INLINED:
		return STORE_FRAME_INLINED;
	case SYM_FRAME_JIT:
		return STORE_FRAME_JIT;
	default:
		return STORE_FRAME_USER;
	}
}

static void to_store_frame(const struct sym_frame *f, struct store_frame *out)
{
	out->name = f->name;
	out->module = f->module;
	out->build_id = f->build_id;
	out->offset = f->offset;
	out->file = f->file;
	out->line = f->line;
	out->kind = to_store_kind(f->kind);
	/* The symbolizer's strings live until it is freed or reset (which
	 * tells the store first). */
	out->interned = true;
}

/* Frames written, weighted by samples: in the totals and per binary. */
static void count_frame(struct session *s, const struct sym_frame *f, uint64_t count)
{
	s->totals.frames += count;
	if (f->miss == SYM_MISS_NONE)
		s->totals.frames_resolved += count;
	if ((unsigned)f->debug < SYM_DEBUG__COUNT && f->debug != SYM_DEBUG_OK)
		s->totals.frames_debug[f->debug] += count;
	coverage__frame(s->cov, f, count);
}

/*
 * Symbolize one stack and add it to the open flush. unwind_end says how
 * the user stack was walked: UNWIND_FP (the kernel's frame-pointer walk,
 * whose leaf may need its caller repaired) or how a DWARF unwind ended.
 */
int session_write_stack(struct session *s, const struct sampler_sample *smp, int unwind_end)
{
	struct store_labels labels = {
		.host = s->host,
		.process = smp->pcomm,
		.pid = smp->tgid,
		.thread = smp->comm,
		.tid = smp->tid,
		.cgroup_id = smp->cgroup_id,
		.extra = s->opts.extra_labels,
	};
	uint64_t uips[SAMPLER_MAX_STACK_DEPTH + 1], caller;
	size_t nu = MIN(smp->n_uips, (size_t)SAMPLER_MAX_STACK_DEPTH), n = 0, first, n_user, merged;
	const char *leaf_module = NULL;
	struct sym_frame f;
	bool complete;
	int err;

	memcpy(uips, smp->uips, nu * sizeof(uint64_t));
	/* A frameless leaf: the kernel's walk went from it straight to its
	 * caller's caller. The leaf's CFI says which top-of-stack word is the
	 * return address into the missing caller. */
	if (unwind_end == UNWIND_FP && nu >= 1 && (smp->top_ra[0] || smp->top_ra[1]) &&
	    sym_session__leaf_caller(s->sym, smp->tgid, uips[0], smp->top_ra, &caller) == 0 &&
	    (nu < 2 || uips[1] != caller)) {
		memmove(&uips[2], &uips[1], (nu - 1) * sizeof(uint64_t));
		uips[1] = caller;
		nu++;
		s->totals.leaf_repairs += smp->count;
	}

	/* Room for a [truncated] marker at the root. */
	first = 1;
	/* Stacks come leaf first; the store wants root first. Every address
	 * but the leaf is a return address: look up addr - 1 so a call at the
	 * very end of a function is attributed to that function. */
	for (size_t i = nu; i-- > 0 && first + n < MAX_FRAMES;) {
		uint64_t a = uips[i];
		size_t k = 0;

		/* (The kernel's walk gives a signal handler's return address,
		 * the trampoline's first byte, which is not after a call; the
		 * DWARF unwinder has added one to such frames already.) */
		if (i > 0 && !(unwind_end == UNWIND_FP &&
			       sym_session__signal_trampoline(s->sym, smp->tgid, a)))
			a--;
		/* One address is the real function plus the functions inlined
		 * into it, innermost first: store them outermost first. */
		err = sym_session__user_frames(s->sym, smp->tgid, a,
					       s->inl, MAX_INLINE_FRAMES, &k);
		if (err)
			return err;
		if (i == 0)
			leaf_module = s->inl[0].module;
		while (k-- > 0 && first + n < MAX_FRAMES) {
			count_frame(s, &s->inl[k], smp->count);
			to_store_frame(&s->inl[k], &s->frames[first + n++]);
		}
	}
	n_user = n;
	if (nu) {
		if (unwind_end == UNWIND_FP)
			/* The outermost frame, or the one below it when the
			 * walk ran one step into garbage. */
			complete = ustack_is_root(s->frames[first].name) ||
				   (n >= 2 && ustack_is_root(s->frames[first + 1].name));
		else
			complete = unwind_end == SYM_UNWIND_ROOT;
		if (unwind_end >= 0)
			s->totals.unwind_end[unwind_end] += smp->count;
		s->totals.ustack_complete += complete ? smp->count : 0;
		coverage__stack(s->cov, leaf_module, complete, smp->count);
		if (unwind_end == UNWIND_FP && s->autou)
			unwind_auto__fp_stack(s->autou, s->sym, smp->tgid, uips, nu, complete,
					      smp->count);
		if (!complete) {
			s->frames[0] = (struct store_frame){ .name = "[truncated]",
							      .kind = STORE_FRAME_USER };
			first = 0;
			n++;
		}
	}
	/* A Python thread's frames take the place of the interpreter's
	 * native frames that ran them (the user frames are at frames[1..]). */
	merged = n_user;
	err = session_python__merge(s->python, s->sym, smp, &s->frames[1], &merged,
				    MAX_FRAMES - 1 - MIN(smp->n_kips, (size_t)MAX_FRAMES - 1));
	if (err)
		return err;
	n = n - n_user + merged;
	for (size_t i = smp->n_kips; i-- > 0 && first + n < MAX_FRAMES;) {
		uint64_t a = smp->kips[i];

		err = sym_session__kernel(s->sym, i == 0 ? a : a - 1, &f);
		if (err)
			return err;
		count_frame(s, &f, smp->count);
		to_store_frame(&f, &s->frames[first + n++]);
	}
	return store_db__add_stack(s->db, &labels, &s->frames[first], n, smp->count);
}
