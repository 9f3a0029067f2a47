/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session-internal.h — the sampling session's state, shared by the files
 * that make it up (private to profiler/; the callers see session.h):
 * session.c (creating and freeing it, the loop, the flush), session_events.c
 * (the sampler's callbacks), session_stack.c (one stack into the open flush)
 * and session_accounting.c (the processes seen, the totals and the
 * accounting).
 *
 * One thread drives a session; every field is that thread's.
 */
#pragma once

#include "session.h"

#include "aggregate.h"
#include "budget.h"
#include "common.h"
#include "coverage.h"
#include "python.h"
#include "unwind_auto.h"
#include "young.h"

/* Where the sampler and the symbolizer meet: the registers of a DWARF
 * sample are what the unwinder reads, and the top-of-stack words of a
 * frame-pointer sample what sym_session__leaf_caller() reads. */
_Static_assert(SAMPLER_NUM_REGS == SYM_UNWIND_REGS,
	       "the sampler and the unwinder must agree on the registers");
_Static_assert(sizeof(((struct sampler_sample *)0)->top_ra) == 2 * sizeof(uint64_t),
	       "sym_session__leaf_caller() reads two top-of-stack words");

/* Frames of one stored stack (user addresses expand to inlined calls). */
#define MAX_FRAMES 320
/* Frames one user address may expand to (inlined calls). */
#define MAX_INLINE_FRAMES 32

/* How a user stack was obtained, for completeness and [truncated]: this,
 * or the enum sym_unwind_end of a DWARF unwind. */
#define UNWIND_FP (-1) /* kernel frame-pointer walk; judged by its root */

struct session {
	struct session_options opts;
	struct sampler *sampler;
	struct sym_session *sym;
	struct session_python *python;
	struct store_db *db;
	char host[256];

	uint64_t next_flush_ns;
	uint64_t next_maintain_ns;
	int64_t bucket_start_s;
	/* Samples of failed flushes not yet written as drops. */
	uint64_t lost_unrecorded;

	struct aggregate *agg;      /* stacks waiting for the next flush */
	struct aggregate *agg_spare;/* the one a flush writes: emptied */
	struct coverage *cov;
	struct young *young;
	struct budget *budget;
	struct unwind_auto *autou;  /* --unwind auto only */

	/* Processes that exited; forgotten after the next flush. */
	uint32_t *exited;
	size_t n_exited, cap_exited;
	/* Those whose exit came while a flush was writing (their last
	 * samples may be in the next one): forgotten after that. */
	uint32_t *exited_later;
	size_t n_exited_later, cap_exited_later;
	/* When a flush last read the ring buffer (into the next flush), and
	 * whether this one does (not session__flush()'s: a run's or the
	 * session's end, whose samples all belong to it). */
	uint64_t consumed_ns;
	bool consume_in_flush;

	/* Distinct tgids seen: a set of uint32_t. */
	struct common_map tgids;

	uint64_t prev_stats[SAMPLER_STAT__COUNT];
	struct session_totals totals;
	/* Files refused by symbolizers replaced since (counters only grow). */
	uint64_t refused_before[SYM_REFUSED__COUNT];
	/* A flush is writing: its frames are borrowed from sym, which
	 * session__reset_symbolizer() must not replace then. */
	bool flushing;
	uint64_t lost_in_flush;/* samples of a flush that failed to write */
	uint64_t flush_samples;/* samples in the flush being written */
	char flush_error[256];
	bool has_flush_error;

	uint64_t unwind_ips[SAMPLER_MAX_STACK_DEPTH];
	struct store_frame frames[MAX_FRAMES];
	struct sym_frame inl[MAX_INLINE_FRAMES];
};

/* session_stack.c: symbolize one stack and add it to the open flush;
 * unwind_end is UNWIND_FP or how a DWARF unwind ended. Returns 0 or the
 * -errno of the symbolizer or the store. */
int session_write_stack(struct session *s, const struct sampler_sample *smp, int unwind_end);

/* session_events.c: the sampler's callbacks, one set between flushes
 * (buffering) and one inside a flush (writing). */
extern const struct sampler_callbacks session_wait_callbacks;
extern const struct sampler_callbacks session_flush_callbacks;
/* aggregate__drain()'s callback: write one buffered stack. */
void session_write_buffered(void *ctx, const struct sampler_sample *smp, int unwind_end);
/* young__refresh()'s callback: a young process re-read. */
void session_on_young_reread(void *ctx, uint32_t tgid);

/* session_accounting.c: count a process seen (the totals' processes). */
void session_note_tgid(struct session *s, uint32_t tgid);
