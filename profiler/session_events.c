/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session_events.c — the sampler's callbacks, two sets with one meaning
 * each. Between flushes (sampler__poll) a process announced is
 * snapshotted (young.c), judged by --unwind auto and looked at for
 * Python; slow-path samples are buffered (aggregate.c) and DWARF samples
 * unwound at once and buffered; exits are remembered. Inside a flush
 * (sampler__drain) the drained stacks and the ring buffer's queued
 * samples are written into it; and while it writes, the ring buffer is
 * read every 5 ms with the first set, into the next flush's aggregate.
 */
#include <errno.h>
#include <stdio.h>

#include "session-internal.h"

/* A flush reads the ring buffer this often while it writes. */
#define CONSUME_EVERY_NS (5ULL * 1000000ULL)

static void consume_during_flush(struct session *s);

/* Count and store one (aggregated) sample in the open flush. A failed
 * write is remembered; the flush's later samples are only counted, and
 * the flush is rolled back. */
static void write_sample(struct session *s, const struct sampler_sample *smp, int unwind_end)
{
	consume_during_flush(s);
	s->totals.samples_seen += smp->count;
	if (smp->user_task) {
		s->totals.samples_user_task += smp->count;
		if (smp->n_uips)
			s->totals.samples_with_ustack += smp->count;
	}
	session_note_tgid(s, smp->tgid);
	s->flush_samples += smp->count;
	budget__stack(s->budget, s->sym);
	if (s->has_flush_error) {
		s->lost_in_flush += smp->count;
		return;
	}
	if (session_write_stack(s, smp, unwind_end)) {
		s->lost_in_flush += smp->count;
		s->has_flush_error = true;
		snprintf(s->flush_error, sizeof(s->flush_error),
			 "writing samples: %s", store_db__errmsg(s->db));
	}
}

/* aggregate__drain()'s callback. */
void session_write_buffered(void *ctx, const struct sampler_sample *smp, int unwind_end)
{
	write_sample(ctx, smp, unwind_end);
}

/* ---- the sampler's callbacks ------------------------------------------- */

/*
 * A process announced: at its first sample (snapshotted at once), or at
 * its exec, which the loop reads at its next wake-up: first read when it
 * is 5 ms older, or never if it exits first. --unwind auto judges an
 * executable it has not seen by its snapshot (taken then), one seen
 * before by its file (a stat), and one whose choice the kernel gave the
 * process at exec not at all.
 */
static void on_process(void *ctx, uint32_t tgid, bool exec, bool known)
{
	struct session *s = ctx;
	bool young;

	if (s->autou && exec)
		unwind_auto__process(s->autou, s->sym, tgid, exec, known);
	young = young__seen(s->young, s->sym, tgid, exec);
	/* (A first sample: judged on the snapshot young__seen() took.) */
	if (s->autou && !exec)
		unwind_auto__process(s->autou, s->sym, tgid, exec, known);
	if (s->opts.no_python)
		return;
	/* An exec whose first read young.c put off: the interpreter is
	 * looked for at that read (session_on_young_reread), or never if the
	 * process exits first. Looking now read its maps at once, for
	 * every exec of the host. */
	if (exec && young)
		session_python__exec(s->python, s->sampler, tgid);
	else
		session_python__note(s->python, s->sym, s->sampler, tgid, exec, young);
}

/* A young process re-read (libpython is mapped by ld.so, after the exec). */
void session_on_young_reread(void *ctx, uint32_t tgid)
{
	struct session *s = ctx;

	if (!s->opts.no_python)
		session_python__note(s->python, s->sym, s->sampler, tgid, false, true);
}

/* Buffer a sample for the flush; its Python frames are named now, while
 * their code objects exist. */
static int buffer(struct session *s, const struct sampler_sample *smp, int tag)
{
	if (smp->n_py &&
	    session_python__arrived(s->python, s->sym, smp->tgid, smp->py, smp->n_py) < 0)
		return -ENOMEM;
	return aggregate__add(s->agg, smp, tag);
}

static void on_exit_ev(void *ctx, uint32_t tgid)
{
	struct session *s = ctx;

	young__exit(s->young, s->sym, tgid);
	if (s->autou)
		unwind_auto__exit(s->autou, tgid);
	/* During a flush, its last samples may have been read into the next
	 * flush (consume_during_flush): its snapshot must outlive that one. */
	if (s->flushing) {
		if (!COMMON_GROW(s->exited_later, s->cap_exited_later, s->n_exited_later + 1))
			s->exited_later[s->n_exited_later++] = tgid;
		return;
	}
	if (!COMMON_GROW(s->exited, s->cap_exited, s->n_exited + 1))
		s->exited[s->n_exited++] = tgid;
}

/* Slow-path samples between flushes: counted and stored when the flush
 * writes the aggregate. */
static int buffer_sample(void *ctx, const struct sampler_sample *smp)
{
	struct session *s = ctx;

	return buffer(s, smp, UNWIND_FP);
}

/* The stacks of the drain. */
static int write_drained_sample(void *ctx, const struct sampler_sample *smp)
{
	write_sample(ctx, smp, UNWIND_FP);
	return 0;
}

/* Unwind DWARF sample d into s->unwind_ips, described by *ret_smp and
 * *ret_end. Returns 0 or the -errno of the unwinder. */
static int unwind_sample(struct session *s, const struct sampler_dwarf_sample *d,
			 struct sampler_sample *ret_smp, enum sym_unwind_end *ret_end)
{
	struct sampler_sample smp = {
		.head = d->head,
		.uips = s->unwind_ips,
		.user_task = true,
		.count = 1,
	};
	enum sym_unwind_end end;
	uint64_t t0 = common_now_ns();
	int err;

	err = sym_session__unwind(s->sym, d->tgid, d->regs, d->stack, d->stack_len,
				  s->unwind_ips, SAMPLER_MAX_STACK_DEPTH, &smp.n_uips, &end);
	s->totals.unwind_ns += common_now_ns() - t0;
	s->totals.unwind_bytes += d->stack_len;
	if (err)
		return err;
	s->totals.dwarf_samples++;
	if (s->autou)
		smp.n_uips = unwind_auto__dwarf_stack(s->autou, s->sym, d->tgid, s->unwind_ips,
						      smp.n_uips, end);
	*ret_smp = smp;
	*ret_end = end;
	return 0;
}

static int buffer_dwarf_sample(void *ctx, const struct sampler_dwarf_sample *d)
{
	struct session *s = ctx;
	struct sampler_sample smp;
	enum sym_unwind_end end;
	int err = unwind_sample(s, d, &smp, &end);

	return err ? err : buffer(s, &smp, end);
}

static int write_dwarf_sample(void *ctx, const struct sampler_dwarf_sample *d)
{
	struct session *s = ctx;
	struct sampler_sample smp;
	enum sym_unwind_end end;
	int err = unwind_sample(s, d, &smp, &end);

	if (err)
		return err;
	write_sample(s, &smp, end);
	return 0;
}

/*
 * Two sets, one meaning each: between flushes (sampler__poll) the ring
 * buffer's samples are buffered in the aggregate; inside a flush
 * (sampler__drain) the drained stacks, and the ring buffer's samples
 * still queued, are written into the open flush.
 */
const struct sampler_callbacks session_wait_callbacks = {
	.on_process = on_process,
	.on_exit = on_exit_ev,
	.on_sample = buffer_sample,
	.on_dwarf_sample = buffer_dwarf_sample,
};

const struct sampler_callbacks session_flush_callbacks = {
	.on_process = on_process,
	.on_exit = on_exit_ev,
	.on_sample = write_drained_sample,
	.on_dwarf_sample = write_dwarf_sample,
};

/*
 * While a flush writes (symbolizing and writing thousands of stacks can
 * take a second on a busy host), the ring buffer goes on filling: 4 MB
 * hold about 512 DWARF samples, under half a second of 608 Hz on 2 CPUs.
 * So the flush reads it every CONSUME_EVERY_NS while it writes stacks,
 * with the wait set's callbacks: the samples go to the aggregate of the
 * next flush (the flush writes the other one), exits are remembered for
 * the one after.
 */
static void consume_during_flush(struct session *s)
{
	uint64_t now = common_now_ns();

	if (!s->consume_in_flush || now - s->consumed_ns < CONSUME_EVERY_NS)
		return;
	s->consumed_ns = now;
	/* (A callback's -ENOMEM: as after a poll, the sample is lost;
	 * the flush itself goes on.) */
	(void)sampler__consume(s->sampler, &session_wait_callbacks, s);
}
