/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c — the sampling session: sampler -> symbolizer -> store.
 * Between flushes it waits on the sampler's ring buffer: announced
 * processes are snapshotted (young.c) and given an unwinding mode
 * (unwind_auto.c), slow-path and DWARF samples are buffered (aggregate.c).
 * At each flush it replays the buffer and drains the kernel maps, turns
 * each stack into frames (root first, user frames then kernel frames; a
 * user address inside inlined code becomes its function and then the
 * inlined callees), counts them (coverage.c, and the totals here) and
 * writes them with their labels in one transaction, together with the
 * counters' increments since the previous flush. The memory budget
 * (budget.c) is checked from the loop and while a flush writes.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "budget.h"
#include "cli.h"
#include "common.h"
#include "coverage.h"
#include "python.h"
#include "unwind_auto.h"
#include "ustack.h"
#include "young.h"

/* Where the sampler and the symbolizer meet: the registers of a DWARF
 * sample are what the unwinder reads, and the top-of-stack words of a
 * frame-pointer sample what sym_session__leaf_caller() reads. */
_Static_assert(SAMPLER_NUM_REGS == SYM_UNWIND_REGS,
	       "the sampler and the unwinder must agree on the registers");
_Static_assert(sizeof(((struct sampler_sample *)0)->top_ra) == 2 * sizeof(uint64_t),
	       "sym_session__leaf_caller() reads two top-of-stack words");

/* A flush reads the ring buffer this often while it writes. */
#define CONSUME_EVERY_NS (5ULL * 1000000ULL)

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

static const struct common_map_type tgid_type = {
	.entry_size = sizeof(uint32_t),
	.key_size = sizeof(uint32_t),
};

/* Out of memory, the process goes uncounted: the count is a summary's. */
static void note_tgid(struct session *s, uint32_t tgid)
{
	if (tgid)
		(void)common_map__insert(&s->tgids, &tgid_type, &tgid, NULL);
}

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
static int store_sample(struct session *s, const struct sampler_sample *smp, int unwind_end)
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

/* Count and store one (aggregated) sample in the open flush. A failed
 * write is remembered; the flush's later samples are only counted, and
 * the flush is rolled back. */
static void consume_during_flush(struct session *s);

static void write_sample(struct session *s, const struct sampler_sample *smp, int unwind_end)
{
	consume_during_flush(s);
	s->totals.samples_seen += smp->count;
	if (smp->user_task) {
		s->totals.samples_user_task += smp->count;
		if (smp->n_uips)
			s->totals.samples_with_ustack += smp->count;
	}
	note_tgid(s, smp->tgid);
	s->flush_samples += smp->count;
	budget__stack(s->budget, s->sym);
	if (s->has_flush_error) {
		s->lost_in_flush += smp->count;
		return;
	}
	if (store_sample(s, smp, unwind_end)) {
		s->lost_in_flush += smp->count;
		s->has_flush_error = true;
		snprintf(s->flush_error, sizeof(s->flush_error),
			 "writing samples: %s", store_db__errmsg(s->db));
	}
}

/* aggregate__drain()'s callback. */
static void write_buffered(void *ctx, const struct sampler_sample *smp, int unwind_end)
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
	 * looked for at that read (on_young_reread), or never if the
	 * process exits first. Looking now read its maps at once, for
	 * every exec of the host. */
	if (exec && young)
		session_python__exec(s->python, s->sampler, tgid);
	else
		session_python__note(s->python, s->sym, s->sampler, tgid, exec, young);
}

/* A young process re-read (libpython is mapped by ld.so, after the exec). */
static void on_young_reread(void *ctx, uint32_t tgid)
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
		.tgid = d->tgid,
		.tid = d->tid,
		.cgroup_id = d->cgroup_id,
		.comm = d->comm,
		.pcomm = d->pcomm,
		.kips = d->kips,
		.n_kips = d->n_kips,
		.uips = s->unwind_ips,
		.user_task = true,
		.count = 1,
		.py = d->py,
		.n_py = d->n_py,
		.py_end = d->py_end,
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
static const struct sampler_callbacks wait_callbacks = {
	.on_process = on_process,
	.on_exit = on_exit_ev,
	.on_sample = buffer_sample,
	.on_dwarf_sample = buffer_dwarf_sample,
};

static const struct sampler_callbacks flush_callbacks = {
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
	(void)sampler__consume(s->sampler, &wait_callbacks, s);
}

/* ---- the session ------------------------------------------------------- */

int session__new(const struct session_options *opts,
		 struct session **ret_session)
{
	struct sampler_options so = {
		.freq_hz = opts->freq_hz,
		.filter = opts->filter,
		.include_idle = opts->include_idle,
		.stack_map_entries = opts->stack_map_entries,
		.counts_map_entries = opts->counts_map_entries,
		.unwind = opts->unwind,
		.snapshot_bytes = opts->snapshot_bytes,
		.path_stats = opts->bpf_path_stats,
	};
	struct session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	if (!s->opts.flush_seconds)
		s->opts.flush_seconds = 10;
	if (opts->host)
		snprintf(s->host, sizeof(s->host), "%s", opts->host);
	else if (gethostname(s->host, sizeof(s->host) - 1) != 0)
		snprintf(s->host, sizeof(s->host), "localhost");

	/* The symbolizer's on-disk cache, unless the caller chose: a
	 * recording in CI or a restarted agent should not inflate libc's
	 * debug file and parse kallsyms again. */
	if (!s->opts.sym.cache_dir) {
		const char *env = getenv("EMBER_CACHE_DIR");

		s->opts.sym.cache_dir = env ? (strcmp(env, "none") == 0 ? "" : env)
					    : SYM_DEFAULT_CACHE_DIR;
	}
	err = aggregate__new(&s->agg);
	if (!err)
		err = aggregate__new(&s->agg_spare);
	if (!err)
		err = coverage__new(&s->cov);
	if (!err)
		err = young__new(&s->young);
	if (!err)
		err = budget__new(s->opts.memory_budget, s->opts.flush_seconds, &s->budget);
	if (err)
		goto fail;
	err = sym_session__new(&s->opts.sym, &s->sym);
	if (err)
		goto fail;
	err = session_python__new(&s->python);
	if (err)
		goto fail;
	err = sampler__open(&so, &s->sampler);
	if (err)
		goto fail;
	if (s->opts.unwind == SAMPLER_UNWIND_AUTO) {
		err = unwind_auto__new(s->sampler, &s->autou);
		if (err)
			goto fail;
	}
	s->bucket_start_s = common_wall_ns() / 1000000000ULL;
	if (!s->opts.maintain_seconds)
		s->opts.maintain_seconds = 600;
	s->next_flush_ns = common_now_ns() + s->opts.flush_seconds * 1000000000ULL;
	s->next_maintain_ns = common_now_ns() + s->opts.maintain_seconds * 1000000000ULL;
	*ret_session = s;
	return 0;
fail:
	session__free(s);
	return err;
}

void session__stop(struct session *s)
{
	sampler__stop(s->sampler);
}

void session_explain_error(int err, const char *cmd, const char *hint)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		if (geteuid() != 0) {
			cli_error("not allowed to load BPF programs (%s); run ember %s as root "
				  "(it needs CAP_BPF and CAP_PERFMON)%s%s", sampler_last_error(),
				  cmd, hint ? ", " : "", hint ? hint : "");
			break;
		}
		/* As root, EACCES comes from the verifier refusing a program. */
		cli_error("the kernel refused the sampler (%s); this is a bug in Ember or an "
			  "unsupported kernel: please report it with the output of "
			  "EMBER_DEBUG_LIBBPF=1 ember %s ...", sampler_last_error(), cmd);
		break;
	case -ENOENT:
		cli_error("%s; Ember needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
			  sampler_last_error());
		break;
	case -EINVAL:
		cli_error("%s", sampler_last_error());
		break;
	default:
		cli_error("cannot start the sampler: %s", sampler_last_error());
		break;
	}
}

void session__set_store(struct session *s, struct store_db *db)
{
	s->db = db;
}

const char *session__host(const struct session *s)
{
	return s->host;
}

void session__set_extra_labels(struct session *s, const char *labels)
{
	s->opts.extra_labels = labels;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	unwind_auto__free(s->autou);
	sampler__free(s->sampler);
	sym_session__free(s->sym);
	session_python__free(s->python);
	aggregate__free(s->agg);
	aggregate__free(s->agg_spare);
	coverage__free(s->cov);
	young__free(s->young);
	budget__free(s->budget);
	free(s->exited);
	free(s->exited_later);
	common_map__fini(&s->tgids);
	free(s);
}

int session__reset_symbolizer(struct session *s)
{
	struct sym_session *fresh;
	struct sym_stats st;
	int err;

	if (s->flushing)
		return -EBUSY;
	err = sym_session__new(&s->opts.sym, &fresh);
	if (err)
		return err;
	sym_session__stats(s->sym, &st);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		s->refused_before[i] += st.refused[i];
	store_db__forget_interned(s->db);
	sym_session__free(s->sym);
	s->sym = fresh;
	session_python__rescan(s->python, s->sym, s->sampler);
	/* Their module names were borrowed from the old session. */
	coverage__reset(s->cov);
	young__reset(s->young);
	return 0;
}

int session__track(struct session *s, pid_t pid)
{
	return sampler__track(s->sampler, pid);
}

/* ---- flushes ----------------------------------------------------------- */

static int write_counters(struct session *s)
{
	uint64_t now[SAMPLER_STAT__COUNT];
	int err;

	sampler__stats(s->sampler, now);
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		uint64_t d = now[i] - s->prev_stats[i];

		if (i == SAMPLER_STAT_SAMPLES || d == 0)
			continue;
		/* Lost samples are drops; the rest happened to samples
		 * that are in the file (a slow path, a stack cut short). */
		if (sampler_stat_is_drop(i))
			err = store_db__add_drops(s->db, sampler_stat_name(i), d);
		else
			err = store_db__add_events(s->db, sampler_stat_name(i), d);
		if (err)
			return err;
	}
	/* What earlier flushes could not write (a full disk): in the file
	 * as soon as writing works again. */
	if (s->lost_unrecorded) {
		err = store_db__add_drops(s->db, "database-write-failed",
					  s->lost_unrecorded);
		if (err)
			return err;
	}
	memcpy(s->prev_stats, now, sizeof(now));
	return 0;
}

/* Retention every maintain_seconds, right after a flush so the store has
 * the whole interval to itself. A failure (a full disk) is counted; the
 * next run tries again. */
static void maybe_maintain(struct session *s, int64_t now_s)
{
	if (common_now_ns() < s->next_maintain_ns)
		return;
	s->totals.maintain_runs++;
	if (store_db__maintain(s->db, now_s, s->opts.policy, NULL) < 0)
		s->totals.maintain_errors++;
	s->next_maintain_ns = common_now_ns() + s->opts.maintain_seconds * 1000000000ULL;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The next flush is due one interval after the one just due, not after
 * this flush ended: the time a flush takes does not stretch the cadence.
 * A flush that overran whole intervals (a stalled disk) skips to the next
 * slot of the grid; its bucket then covers the longer span.
 */
static void schedule_next(struct session *s, bool early)
{
	uint64_t step = s->opts.flush_seconds * 1000000000ULL, now = common_now_ns();

	if (early)
		return;
	s->next_flush_ns += step;
	if (s->next_flush_ns <= now)
		s->next_flush_ns += ((now - s->next_flush_ns) / step + 1) * step;
}

static int flush(struct session *s, bool early, bool consume)
{
	uint64_t t0 = common_now_ns(), cpu0 = thread_cpu_ns();
	int64_t now_s = common_wall_ns() / 1000000000ULL;
	int64_t dur = now_s - s->bucket_start_s;
	int err, derr;

	if (!early) {
		s->totals.last_flush_late_ns = t0 > s->next_flush_ns ? t0 - s->next_flush_ns : 0;
		s->totals.flushes_late += s->totals.last_flush_late_ns >= 1000000000ULL;
	}

	s->has_flush_error = false;
	s->lost_in_flush = 0;
	s->flush_samples = 0;
	err = store_db__begin(s->db, s->bucket_start_s, dur > 0 ? dur : 1);
	if (err) {
		s->has_flush_error = true;
		snprintf(s->flush_error, sizeof(s->flush_error),
			 "starting a flush: %s", store_db__errmsg(s->db));
	}

	s->flushing = true;
	s->consumed_ns = common_now_ns();
	s->consume_in_flush = consume;
	{
		/* What arrives while this one is written goes to the other. */
		struct aggregate *writing = s->agg;

		s->agg = s->agg_spare;
		s->agg_spare = writing;
		aggregate__drain(writing, write_buffered, s);
	}
	derr = sampler__drain(s->sampler, &flush_callbacks, s);
	s->flushing = false;
	if (s->autou)
		unwind_auto__flush(s->autou, s->sym);

	if (!s->has_flush_error) {
		err = coverage__write_flush(s->cov, s->db);
		if (!err)
			err = session_python__write(s->python, s->db);
		if (!err)
			err = write_counters(s);
		if (!err && s->lost_in_flush == 0)
			err = store_db__commit(s->db);
		if (err) {
			s->has_flush_error = true;
			snprintf(s->flush_error, sizeof(s->flush_error),
				 "committing a flush: %s", store_db__errmsg(s->db));
		}
	}
	if (s->has_flush_error) {
		/* Rolled back whole (a full disk, an I/O error): sampling
		 * goes on and the next flush tries again. */
		store_db__rollback(s->db);
		s->totals.flush_errors++;
		s->totals.samples_lost_store += s->flush_samples;
		s->lost_unrecorded += s->flush_samples;
		s->totals.write_failing++;
	} else {
		s->lost_unrecorded = 0;
		s->totals.write_resumes += s->totals.write_failing > 0;
		s->totals.write_failing = 0;
		maybe_maintain(s, now_s);
	}
	s->totals.flushes++;
	coverage__clear_flush(s->cov);

	for (size_t i = 0; i < s->n_exited; i++) {
		sym_session__forget_process(s->sym, s->exited[i]);
		session_python__forget(s->python, s->exited[i]);
	}
	s->n_exited = 0;
	for (size_t i = 0; i < s->n_exited_later; i++)
		if (!COMMON_GROW(s->exited, s->cap_exited, s->n_exited + 1))
			s->exited[s->n_exited++] = s->exited_later[i];
	s->n_exited_later = 0;

	s->bucket_start_s = now_s;
	schedule_next(s, early);
	s->totals.early_flushes += early;
	s->totals.last_flush_ns = common_now_ns() - t0;
	s->totals.flush_ns += s->totals.last_flush_ns;
	s->totals.last_flush_cpu_ns = thread_cpu_ns() - cpu0;
	s->totals.flush_cpu_ns += s->totals.last_flush_cpu_ns;
	if (derr < 0)
		return derr;
	return s->has_flush_error ? -EIO : 0;
}

int session__flush(struct session *s)
{
	return flush(s, false, false);
}

int session__run_once(struct session *s, int timeout_ms)
{
	uint64_t now = common_now_ns();
	int err;

	if (now >= s->next_flush_ns)
		return flush(s, false, true);
	/* Stacks buffered between flushes (slow-path and DWARF samples) are
	 * bounded: past the limit they are written now, in an early flush
	 * that leaves the cadence alone. */
	if (s->opts.max_pending_bytes && aggregate__bytes(s->agg) > s->opts.max_pending_bytes)
		return flush(s, true, true);
	if ((uint64_t)timeout_ms * 1000000ULL > s->next_flush_ns - now)
		timeout_ms = (s->next_flush_ns - now) / 1000000ULL + 1;
	/* Young processes are re-read after a few milliseconds: wake up for
	 * the next one due even when the ring buffer is quiet. */
	timeout_ms = young__timeout_ms(s->young, now, timeout_ms);
	err = sampler__poll(s->sampler, timeout_ms, &wait_callbacks, s);
	young__refresh(s->young, s->sym, on_young_reread, s);
	budget__check(s->budget, s->sym);
	return err < 0 ? err : 0;
}

/* ---- accounting -------------------------------------------------------- */

void session__write_accounting(struct session *s, struct store_db *db)
{
	struct session_totals t;

	session__totals(s, &t);
	store_db__set_metaf(db, "end_time", "%llu",
			    (unsigned long long)(common_wall_ns() / 1000000000ULL));
	store_db__set_metaf(db, "samples_kernel", "%llu",
			    (unsigned long long)t.sampler[SAMPLER_STAT_SAMPLES]);
	store_db__set_metaf(db, "samples_written", "%llu",
			    (unsigned long long)(t.samples_seen - t.samples_lost_store));
	store_db__set_metaf(db, "samples_dropped", "%llu", (unsigned long long)session_dropped(&t));
	store_db__set_metaf(db, "samples_dwarf", "%llu", (unsigned long long)t.dwarf_samples);
	store_db__set_metaf(db, "leaf_repairs", "%llu", (unsigned long long)t.leaf_repairs);
	store_db__set_metaf(db, "ustack_samples", "%llu", (unsigned long long)t.samples_with_ustack);
	store_db__set_metaf(db, "ustack_complete", "%llu", (unsigned long long)t.ustack_complete);
	store_db__set_metaf(db, "flushes", "%llu", (unsigned long long)t.flushes);
	coverage__write_quality(s->cov, db);
}

uint64_t session_dropped(const struct session_totals *t)
{
	uint64_t n = t->samples_lost_store;

	for (int i = 0; i < SAMPLER_STAT__COUNT; i++)
		if (sampler_stat_is_drop(i))
			n += t->sampler[i];
	return n;
}

uint64_t session__flushes(const struct session *s)
{
	return s->totals.flushes;
}

void session__totals(struct session *s, struct session_totals *ret_totals)
{
	*ret_totals = s->totals;
	ret_totals->processes = common_map__size(&s->tgids);
	ret_totals->pending_memory = aggregate__bytes(s->agg) + aggregate__bytes(s->agg_spare);
	ret_totals->session_memory = common_map__bytes(&s->tgids, &tgid_type) +
				     coverage__memory(s->cov) +
				     s->cap_exited * sizeof(*s->exited) +
				     s->cap_exited_later * sizeof(*s->exited_later);
	ret_totals->memory_trims = budget__trims(s->budget);
	store_db__frame_memo_stats(s->db, &ret_totals->frame_memo_memory,
				   &ret_totals->frame_memo_resets);
	if (s->autou)
		unwind_auto__counts(s->autou, &ret_totals->auto_fp,
				    &ret_totals->auto_fp_kept_dwarf);
	sampler__stats(s->sampler, ret_totals->sampler);
	if (sampler__path_stats(s->sampler, ret_totals->path_ns, ret_totals->path_runs) < 0) {
		memset(ret_totals->path_ns, 0, sizeof(ret_totals->path_ns));
		memset(ret_totals->path_runs, 0, sizeof(ret_totals->path_runs));
	}
	sym_session__stats(s->sym, &ret_totals->sym);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		ret_totals->sym.refused[i] += s->refused_before[i];
	session_python__totals(s->python, s->sym, &ret_totals->python);
}

const char *session__flush_error(const struct session *s)
{
	return s->has_flush_error ? s->flush_error : NULL;
}
