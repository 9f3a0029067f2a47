/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c — the sampling session: sampler -> symbolizer -> store. Between
 * flushes it waits on the sampler's ring buffer, snapshotting processes as
 * they appear (so short-lived ones can still be symbolized) and buffering the
 * rare slow-path samples; at each flush it drains the kernel maps, turns each
 * stack into frames (root first, user frames then kernel frames; a user
 * address inside inlined code becomes its function and then the inlined
 * callees) and writes
 * them with their labels in one transaction, together with the counters'
 * increments since the previous flush.
 */
#include "session.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"

#define MAX_FRAMES 320
/* User addresses kept per stack: the kernel's limit, also for DWARF. */
#define EMBER_STACK_MAX 127
/* Frames one user address may expand to (inlined calls). */
#define MAX_INLINE_FRAMES 32

/* How a user stack was obtained, for completeness and [truncated]. */
#define UNWIND_FP (-1) /* kernel frame-pointer walk; judged by its root */

/*
 * A stack aggregated in user space: slow-path samples and DWARF-unwound
 * samples arrive one by one between flushes; identical ones are counted
 * together before they are symbolized and stored.
 */
struct agg_entry {
	uint64_t hash;
	struct sampler_sample smp;
	int unwind_end;        /* UNWIND_FP or an enum sym_unwind_end */
	char comm[17], pcomm[17];
	uint64_t ips[];        /* n_kips kernel, then n_uips user */
};

/* A process announced a moment ago: its dynamic loader may still be
 * mapping libraries, so its snapshot is refreshed while it is young. */
struct young {
	uint32_t tgid;
	uint64_t first_ns, last_ns;
	bool sampled; /* announced by a sample, not only by its exec */
};

/* How long a process counts as young, and how often it is re-read then. */
#define YOUNG_NS (300ULL * 1000000ULL)
/* ... and how long one that has not been sampled is (re-read at 5 and 10
 * ms: ld.so has mapped the libraries of most programs by then). */
#define YOUNG_EXEC_NS (15ULL * 1000000ULL)
#define YOUNG_REFRESH_NS (5ULL * 1000000ULL)
/* The loop wakes this long after the first re-read is due, to do those
 * due by then together: processes started together (a pipeline, a
 * parallel build) share one wake-up. */
#define YOUNG_SLACK_NS (2ULL * 1000000ULL)
#define MAX_YOUNG 256

/* How often the resident size is compared with the memory budget, and
 * every how many stacks a flush looks at the clock for it. */
#define BUDGET_CHECK_NS (250ULL * 1000000ULL)
#define BUDGET_CHECK_STACKS 64

/* Symbolization coverage of one binary in the open flush. */
struct coverage {
	const char *module;    /* borrowed from the symbolizer session */
	const char *build_id;
	uint64_t seen, with_function, with_line;
	uint64_t debug[SYM_DEBUG__COUNT];  /* frames whose debug info was
	                                      there but not read, per reason */
};

/*
 * AUTO mode: an executable that keeps frame pointers is walked by the
 * kernel, unless its stacks pass through code that does not keep them
 * (libc's qsort calling the program's comparator; libc calling itself):
 * there the walk goes wrong. Which binaries a process's stacks pass through
 * is only known from its samples, so such a process is first unwound with
 * DWARF for PROBATION_SAMPLES samples, which tell; then it goes to frame
 * pointers unless more than PROBATION_NOFP_PCT % of them had a caller frame
 * in code without frame pointers. The choice is kept per executable file.
 */
#define PROBATION_SAMPLES 64
#define PROBATION_NOFP_PCT 10
/* A process that exits after this many samples still decides for its file. */
#define PROBATION_MIN_SAMPLES 16
#define MAX_PROBATION 256

struct probation {
	uint32_t tgid;
	uint32_t samples, through_nofp;
	uint64_t dev, ino;
};

struct decided_file {
	uint64_t dev, ino;
	enum sampler_unwind mode;
};

/* A frame-pointer process's samples in the open flush, and those cut short
 * in code without frame pointers: a process whose stacks start passing
 * through such code after its probation goes to DWARF at the flush. */
#define MAX_FP_WATCH 1024
struct fp_watch {
	uint32_t tgid;
	uint64_t samples, cut;
};

struct session {
	struct session_options opts;
	struct sampler *sampler;
	struct sym_session *sym;
	struct store_db *db;
	char host[256];

	uint64_t next_flush_ns;
	uint64_t next_maintain_ns;
	uint64_t next_budget_check_ns;
	uint64_t budget_check_ns;  /* backs off while trims do not help */
	unsigned stacks_since_check;
	int64_t bucket_start_s;
	/* Samples of failed flushes not yet written as drops. */
	uint64_t lost_unrecorded;

	/* Stacks waiting for the next flush (open addressing, NULL = free),
	 * and the bytes they hold with the slot array: past
	 * opts.max_pending_bytes the session flushes early. */
	struct agg_entry **agg;
	size_t cap_agg, n_agg;
	uint64_t agg_bytes;

	struct session_quality *quality;
	size_t n_quality, cap_quality;
	uint64_t unwind_ips[MAX_FRAMES];

	/* Processes that exited; forgotten after the next flush. */
	uint32_t *exited;
	size_t n_exited, cap_exited;

	/* Distinct tgids seen (open addressing, 0 = empty). */
	uint32_t *tgids;
	size_t cap_tgids, n_tgids;

	uint64_t prev_stats[SAMPLER_STAT__COUNT];
	struct session_totals totals;
	/* files refused by symbolizers replaced since (counters only grow) */
	uint64_t refused_before[SYM_REFUSED__COUNT];
	bool in_flush;         /* samples go to the store, not the buffer */
	uint64_t lost_in_flush;/* samples of a flush that failed to write */
	uint64_t flush_samples;/* samples in the flush being written */
	char flush_error[256];
	bool has_flush_error;

	struct store_frame frames[MAX_FRAMES];
	struct sym_frame inl[MAX_INLINE_FRAMES];

	struct young young[MAX_YOUNG];
	uint64_t young_due_ns; /* the next re-read; UINT64_MAX: none */
	size_t n_young;

	struct probation probation[MAX_PROBATION];
	size_t n_probation;
	struct decided_file *decided;
	size_t n_decided, cap_decided;
	struct fp_watch fp_watch[MAX_FP_WATCH];
	size_t n_fp_watch;

	/* Per-binary coverage of the open flush (open addressing on the
	 * module pointer: the symbolizer interns module strings). */
	struct coverage *cov;
	size_t cap_cov, n_cov;
};

static int push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		void *p = realloc(*arr, ncap * elem);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * elem, v, elem);
	(*n)++;
	return 0;
}

static void note_tgid(struct session *s, uint32_t tgid)
{
	size_t i;

	if (tgid == 0)
		return;
	if (2 * (s->n_tgids + 1) > s->cap_tgids) {
		size_t ncap = s->cap_tgids ? 2 * s->cap_tgids : 1024;
		uint32_t *n = calloc(ncap, sizeof(*n));

		if (!n)
			return;
		for (size_t j = 0; j < s->cap_tgids; j++) {
			uint32_t t = s->tgids[j];

			if (!t)
				continue;
			for (i = (t * 2654435761u) & (ncap - 1); n[i]; i = (i + 1) & (ncap - 1))
				;
			n[i] = t;
		}
		free(s->tgids);
		s->tgids = n;
		s->cap_tgids = ncap;
	}
	for (i = (tgid * 2654435761u) & (s->cap_tgids - 1); s->tgids[i];
	     i = (i + 1) & (s->cap_tgids - 1))
		if (s->tgids[i] == tgid)
			return;
	s->tgids[i] = tgid;
	s->n_tgids++;
}

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
}

/* Symbolization coverage weighted by samples: a frame in a stack seen 1000
 * times counts 1000 times, as a reader of the profile sees it. */
static uint64_t ptr_hash(const void *p)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> 20;
}

static struct coverage *coverage_slot(struct session *s, const char *module)
{
	size_t i;

	if (2 * (s->n_cov + 1) > s->cap_cov) {
		size_t ncap = s->cap_cov ? 2 * s->cap_cov : 64;
		struct coverage *n = calloc(ncap, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t j = 0; j < s->cap_cov; j++) {
			if (!s->cov[j].module)
				continue;
			for (i = ptr_hash(s->cov[j].module) & (ncap - 1); n[i].module;
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = s->cov[j];
		}
		free(s->cov);
		s->cov = n;
		s->cap_cov = ncap;
	}
	for (i = ptr_hash(module) & (s->cap_cov - 1); s->cov[i].module;
	     i = (i + 1) & (s->cap_cov - 1))
		if (s->cov[i].module == module)
			return &s->cov[i];
	s->cov[i].module = module;
	s->n_cov++;
	return &s->cov[i];
}

static void count_frame(struct session *s, const struct sym_frame *f, uint64_t count)
{
	struct coverage *c = f->module ? coverage_slot(s, f->module) : NULL;

	s->totals.frames += count;
	if (f->miss == SYM_MISS_NONE)
		s->totals.frames_resolved += count;
	if ((unsigned)f->debug < SYM_DEBUG__COUNT && f->debug != SYM_DEBUG_OK)
		s->totals.frames_debug[f->debug] += count;
	if (c) {
		c->build_id = c->build_id ? c->build_id : f->build_id;
		c->seen += count;
		c->with_function += f->miss == SYM_MISS_NONE ? count : 0;
		c->with_line += f->file ? count : 0;
		if ((unsigned)f->debug < SYM_DEBUG__COUNT && f->debug != SYM_DEBUG_OK)
			c->debug[f->debug] += count;
	}
}

/* Writes the flush's coverage rows and starts counting anew. */
static int write_coverage(struct session *s)
{
	int err = 0;

	for (size_t i = 0; i < s->cap_cov && !err; i++) {
		if (!s->cov[i].module)
			continue;
		err = store_db__add_coverage(s->db, s->cov[i].module, s->cov[i].build_id,
					     s->cov[i].seen, s->cov[i].with_function,
					     s->cov[i].with_line);
		for (int k = 1; k < SYM_DEBUG__COUNT && !err; k++)
			if (s->cov[i].debug[k])
				err = store_db__add_coverage_issue(s->db, s->cov[i].module,
								   s->cov[i].build_id,
								   sym_debug_issue_name(k),
								   s->cov[i].debug[k]);
	}
	return err;
}

static void reset_coverage(struct session *s)
{
	if (s->cov)
		memset(s->cov, 0, s->cap_cov * sizeof(*s->cov));
	s->n_cov = 0;
}

/* Functions at which a user stack is whole: the process's or a thread's
 * first frame. */
static bool is_root_frame(const char *name)
{
	static const char *const roots[] = {
		"_start", "__libc_start_main", "__libc_start_main_impl",
		"__libc_start_call_main", "start_thread", "clone", "clone3",
		"__clone", "__clone3", "__clone_internal", "thread_start",
	};

	for (size_t i = 0; i < ARRAY_SIZE(roots); i++)
		if (!strcmp(name, roots[i]))
			return true;
	return false;
}

static void note_quality(struct session *s, const char *module, bool complete,
			 uint64_t count)
{
	struct session_quality q = { module, 0, 0 };
	size_t i;

	for (i = 0; i < s->n_quality; i++)
		if (s->quality[i].module == module)
			break;
	if (i == s->n_quality &&
	    push((void **)&s->quality, &s->n_quality, &s->cap_quality, sizeof(q), &q))
		return;
	s->quality[i].samples += count;
	if (complete)
		s->quality[i].complete += count;
}

static struct decided_file *decided_find(const struct session *s, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < s->n_decided; i++)
		if (s->decided[i].dev == dev && s->decided[i].ino == ino)
			return &s->decided[i];
	return NULL;
}

/*
 * The choice for an executable file: later execs of it start with mode in
 * the kernel (exe_unwind), and choose_unwind() gives it to processes of
 * it seen from user space. Returns false when mode was already its choice.
 */
static bool decide_file(struct session *s, uint64_t dev, uint64_t ino,
			enum sampler_unwind mode)
{
	struct decided_file *old = decided_find(s, dev, ino);
	struct decided_file d = { dev, ino, mode };

	if (old && old->mode == mode)
		return false;
	sampler__set_exe_unwind(s->sampler, dev, ino, mode);
	if (old)
		old->mode = mode;
	else
		push((void **)&s->decided, &s->n_decided, &s->cap_decided, sizeof(d), &d);
	return true;
}

static void fp_watch_add(struct session *s, uint32_t tgid, const uint64_t *uips, size_t nu,
			 bool complete, uint64_t count)
{
	struct fp_watch *w = NULL;
	bool fp;

	for (size_t i = 0; i < s->n_fp_watch && !w; i++)
		if (s->fp_watch[i].tgid == tgid)
			w = &s->fp_watch[i];
	if (!w) {
		if (s->n_fp_watch == MAX_FP_WATCH)
			return;
		w = &s->fp_watch[s->n_fp_watch++];
		*w = (struct fp_watch){ .tgid = tgid };
	}
	w->samples += count;
	if (complete)
		return;
	/* Cut short where the walk left code without frame pointers? (Not
	 * a recursion deeper than the walk, or JIT code.) */
	for (size_t i = 1; i < nu; i++)
		if (sym_session__frame_pointers(s->sym, tgid, uips[i] - 1, &fp) == 0 && !fp) {
			w->cut += count;
			return;
		}
}

/* At the end of a flush: frame-pointer processes whose stacks were cut in
 * code without frame pointers (more than PROBATION_NOFP_PCT %) go to
 * DWARF, and so do later execs of their file. */
static void fp_watch_apply(struct session *s)
{
	for (size_t i = 0; i < s->n_fp_watch; i++) {
		const struct fp_watch *w = &s->fp_watch[i];
		char path[64];
		struct stat st;

		if (w->cut * 100 <= w->samples * PROBATION_NOFP_PCT || w->cut < 2)
			continue;
		/* (Samples the kernel walked before the switch arrive at the
		 * next flush too: a process is switched, and counted, once.) */
		sampler__set_unwind(s->sampler, w->tgid, SAMPLER_UNWIND_DWARF);
		snprintf(path, sizeof(path), "/proc/%u/exe", w->tgid);
		if (stat(path, &st) == 0 &&
		    !decide_file(s, st.st_dev, st.st_ino, SAMPLER_UNWIND_DWARF))
			continue;
		s->totals.auto_fp_kept_dwarf++;
	}
	s->n_fp_watch = 0;
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
	uint64_t uips[EMBER_STACK_MAX + 1], caller;
	size_t nu = MIN(smp->n_uips, (size_t)EMBER_STACK_MAX), n = 0, first;
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
	if (nu) {
		if (unwind_end == UNWIND_FP)
			/* The outermost frame, or the one below it when the
			 * walk ran one step into garbage. */
			complete = is_root_frame(s->frames[first].name) ||
				   (n >= 2 && is_root_frame(s->frames[first + 1].name));
		else
			complete = unwind_end == SYM_UNWIND_ROOT;
		if (unwind_end >= 0)
			s->totals.unwind_end[unwind_end] += smp->count;
		s->totals.ustack_complete += complete ? smp->count : 0;
		note_quality(s, leaf_module, complete, smp->count);
		if (unwind_end == UNWIND_FP && s->opts.unwind == SAMPLER_UNWIND_AUTO)
			fp_watch_add(s, smp->tgid, uips, nu, complete, smp->count);
		if (!complete) {
			s->frames[0] = (struct store_frame){ .name = "[truncated]",
							      .kind = STORE_FRAME_USER };
			first = 0;
			n++;
		}
	}
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

static void count_sample(struct session *s, const struct sampler_sample *smp)
{
	s->totals.samples_seen += smp->count;
	if (smp->user_task) {
		s->totals.samples_user_task += smp->count;
		if (smp->n_uips)
			s->totals.samples_with_ustack += smp->count;
	}
	note_tgid(s, smp->tgid);
}

static uint64_t agg_hash(const struct sampler_sample *smp, int unwind_end)
{
	uint64_t h = COMMON_HASH_SEED;

	h = common_hash(h, &smp->tgid, sizeof(smp->tgid));
	h = common_hash(h, &smp->tid, sizeof(smp->tid));
	h = common_hash(h, &smp->cgroup_id, sizeof(smp->cgroup_id));
	h = common_hash(h, &unwind_end, sizeof(unwind_end));
	h = common_hash(h, smp->comm, strlen(smp->comm));
	h = common_hash(h, smp->pcomm, strlen(smp->pcomm));
	h = common_hash(h, &smp->n_kips, sizeof(smp->n_kips));
	h = common_hash(h, smp->kips, smp->n_kips * sizeof(uint64_t));
	h = common_hash(h, &smp->n_uips, sizeof(smp->n_uips));
	h = common_hash(h, smp->uips, smp->n_uips * sizeof(uint64_t));
	h = common_hash(h, smp->top_ra, sizeof(smp->top_ra));
	return h;
}

static bool agg_equal(const struct agg_entry *e, uint64_t hash,
		      const struct sampler_sample *smp, int unwind_end)
{
	const struct sampler_sample *a = &e->smp;

	return e->hash == hash && e->unwind_end == unwind_end && a->tgid == smp->tgid &&
	       a->tid == smp->tid && a->cgroup_id == smp->cgroup_id &&
	       a->n_kips == smp->n_kips && a->n_uips == smp->n_uips &&
	       !strcmp(a->comm, smp->comm) && !strcmp(a->pcomm, smp->pcomm) &&
	       !memcmp(a->kips, smp->kips, smp->n_kips * sizeof(uint64_t)) &&
	       !memcmp(a->uips, smp->uips, smp->n_uips * sizeof(uint64_t)) &&
	       !memcmp(a->top_ra, smp->top_ra, sizeof(a->top_ra));
}

static int agg_grow(struct session *s)
{
	size_t ncap = s->cap_agg ? 2 * s->cap_agg : 256;
	struct agg_entry **n = calloc(ncap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap_agg; i++) {
		struct agg_entry *e = s->agg[i];
		size_t j;

		if (!e)
			continue;
		for (j = e->hash & (ncap - 1); n[j]; j = (j + 1) & (ncap - 1))
			;
		n[j] = e;
	}
	free(s->agg);
	s->agg_bytes += (ncap - s->cap_agg) * sizeof(*n);
	s->agg = n;
	s->cap_agg = ncap;
	return 0;
}

/* Count smp (copied) in the user-space aggregate. */
static int agg_add(struct session *s, const struct sampler_sample *smp, int unwind_end)
{
	uint64_t h = agg_hash(smp, unwind_end);
	struct agg_entry *e;
	size_t i, n;

	if (2 * (s->n_agg + 1) > s->cap_agg && agg_grow(s))
		return -ENOMEM;
	for (i = h & (s->cap_agg - 1); s->agg[i]; i = (i + 1) & (s->cap_agg - 1)) {
		if (agg_equal(s->agg[i], h, smp, unwind_end)) {
			s->agg[i]->smp.count += smp->count;
			return 0;
		}
	}
	n = smp->n_kips + smp->n_uips;
	e = malloc(sizeof(*e) + n * sizeof(uint64_t));
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->unwind_end = unwind_end;
	e->smp = *smp;
	snprintf(e->comm, sizeof(e->comm), "%s", smp->comm);
	snprintf(e->pcomm, sizeof(e->pcomm), "%s", smp->pcomm);
	memcpy(e->ips, smp->kips, smp->n_kips * sizeof(uint64_t));
	memcpy(e->ips + smp->n_kips, smp->uips, smp->n_uips * sizeof(uint64_t));
	e->smp.comm = e->comm;
	e->smp.pcomm = e->pcomm;
	e->smp.kips = e->ips;
	e->smp.uips = e->ips + smp->n_kips;
	s->agg[i] = e;
	s->n_agg++;
	s->agg_bytes += sizeof(*e) + n * sizeof(uint64_t);
	return 0;
}

/* Slot arrays up to this size are kept for the next interval; a burst's
 * bigger array goes back to the system. */
#define AGG_KEEP_SLOTS 4096

static void agg_clear(struct session *s)
{
	for (size_t i = 0; i < s->cap_agg; i++) {
		free(s->agg[i]);
		s->agg[i] = NULL;
	}
	s->n_agg = 0;
	if (s->cap_agg > AGG_KEEP_SLOTS) {
		free(s->agg);
		s->agg = NULL;
		s->cap_agg = 0;
	}
	s->agg_bytes = s->cap_agg * sizeof(*s->agg);
}

static int write_sample(struct session *s, const struct sampler_sample *smp, int unwind_end);

static int on_sample(void *ctx, const struct sampler_sample *smp)
{
	struct session *s = ctx;

	/* Slow-path samples arrive between flushes; they are counted and
	 * stored when the flush writes the aggregate. */
	if (!s->in_flush)
		return agg_add(s, smp, UNWIND_FP);
	return write_sample(s, smp, UNWIND_FP);
}

/*
 * Keep the resident size under opts.memory_budget, also in the middle of a
 * flush that symbolizes hundreds of new binaries: unload least recently
 * used binaries until the excess, and an eighth of the budget so the next
 * check does not trim again at once, is freed, and give freed memory back
 * (malloc_trim). Safe at any time: snapshots and frame strings stay, and
 * unloaded binaries are read again from their kept files when needed.
 *
 * Binaries keep at least an eighth of the budget, and while trims do not
 * bring the resident size under the budget (what is left is not the
 * symbolizer's) checks back off up to the flush interval: reloading the
 * same binaries every quarter second would cost the CPU and the cadence
 * without freeing anything.
 */
static void keep_budget(struct session *s)
{
	uint64_t rss, over, bins, floor, max_ns;
	struct sym_stats st;

	if (!s->opts.memory_budget || common_now_ns() < s->next_budget_check_ns)
		return;
	max_ns = s->opts.flush_seconds * 1000000000ULL;
	rss = common_rss_bytes();
	if (rss <= s->opts.memory_budget) {
		s->budget_check_ns = BUDGET_CHECK_NS;
		s->next_budget_check_ns = common_now_ns() + s->budget_check_ns;
		return;
	}
	if (s->budget_check_ns && s->totals.memory_trims)
		s->budget_check_ns = MIN(2 * s->budget_check_ns, MAX(max_ns, BUDGET_CHECK_NS));
	else
		s->budget_check_ns = BUDGET_CHECK_NS;
	s->next_budget_check_ns = common_now_ns() + s->budget_check_ns;
	sym_session__stats(s->sym, &st);
	over = rss - s->opts.memory_budget + s->opts.memory_budget / 8;
	floor = s->opts.memory_budget / 8;
	bins = st.binary_memory;
	if (bins <= floor)
		return;
	sym_session__trim(s->sym, bins > over + floor ? bins - over : floor);
	malloc_trim(0);
	s->totals.memory_trims++;
}

/* Count and store one (aggregated) sample in the open flush. */
static int write_sample(struct session *s, const struct sampler_sample *smp, int unwind_end)
{
	int err;

	count_sample(s, smp);
	s->flush_samples += smp->count;
	if (++s->stacks_since_check == BUDGET_CHECK_STACKS) {
		s->stacks_since_check = 0;
		keep_budget(s);
	}
	if (s->has_flush_error) {
		s->lost_in_flush += smp->count;
		return 0;
	}
	err = store_sample(s, smp, unwind_end);
	if (err) {
		s->lost_in_flush += smp->count;
		s->has_flush_error = true;
		snprintf(s->flush_error, sizeof(s->flush_error),
			 "writing samples: %s", store_db__errmsg(s->db));
	}
	return 0;
}

static struct probation *probation_find(struct session *s, uint32_t tgid)
{
	for (size_t i = 0; i < s->n_probation; i++)
		if (s->probation[i].tgid == tgid)
			return &s->probation[i];
	return NULL;
}

/* Ends p's probation: the file's choice, and the process's when it lives. */
static void probation_end(struct session *s, struct probation *p, bool alive)
{
	enum sampler_unwind mode = SAMPLER_UNWIND_FP;

	if ((uint64_t)p->through_nofp * 100 > (uint64_t)p->samples * PROBATION_NOFP_PCT)
		mode = SAMPLER_UNWIND_DWARF;
	if (alive || p->samples >= PROBATION_MIN_SAMPLES) {
		if (alive)
			sampler__set_unwind(s->sampler, p->tgid, mode);
		decide_file(s, p->dev, p->ino, mode);
		if (mode == SAMPLER_UNWIND_DWARF)
			s->totals.auto_fp_kept_dwarf++;
		else
			s->totals.auto_fp++;
	}
	*p = s->probation[--s->n_probation];
}

/* A DWARF sample of a process on probation: does its stack pass through
 * code without frame pointers (a caller frame; the leaf's caller is
 * repaired on the frame-pointer path)? */
static void probation_sample(struct session *s, uint32_t tgid, const uint64_t *ips, size_t n)
{
	struct probation *p = probation_find(s, tgid);
	bool fp;

	if (!p)
		return;
	p->samples++;
	/* The outermost frame is not stepped out of, nor are the start-up
	 * functions at the root (libc's __libc_start_call_main, start_thread),
	 * where the frame-pointer walk ends anyway. */
	for (size_t i = 1; i + 1 < n; i++) {
		struct sym_frame f;

		if (sym_session__frame_pointers(s->sym, tgid, ips[i] - 1, &fp) < 0 || fp)
			continue;
		if (sym_session__user(s->sym, tgid, ips[i] - 1, &f) == 0 && is_root_frame(f.name))
			break;
		p->through_nofp++;
		break;
	}
	if (p->samples >= PROBATION_SAMPLES)
		probation_end(s, p, true);
}

/* AUTO: how to unwind a process just seen (see struct probation). */
static void choose_unwind(struct session *s, uint32_t tgid, bool exec)
{
	struct probation *p = probation_find(s, tgid);
	const struct decided_file *d;
	uint64_t start, end;
	char path[64];
	struct stat st;
	bool dwarf;

	if (p && !exec)
		return;  /* seen again while on probation */
	if (p)
		*p = s->probation[--s->n_probation];  /* a new image */
	if (sym_session__exe(s->sym, tgid, &start, &end, &dwarf) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	if (stat(path, &st) < 0) {
		sampler__set_unwind(s->sampler, tgid,
				    dwarf ? SAMPLER_UNWIND_DWARF : SAMPLER_UNWIND_FP);
		return;
	}
	/* No frame pointers: DWARF, and later execs of the file start so. */
	if (dwarf) {
		sampler__set_unwind(s->sampler, tgid, SAMPLER_UNWIND_DWARF);
		sampler__set_exe_unwind(s->sampler, st.st_dev, st.st_ino, SAMPLER_UNWIND_DWARF);
		return;
	}
	d = decided_find(s, st.st_dev, st.st_ino);
	if (d) {
		sampler__set_unwind(s->sampler, tgid, d->mode);
		return;
	}
	if (s->n_probation == MAX_PROBATION) {
		sampler__set_unwind(s->sampler, tgid, SAMPLER_UNWIND_FP);
		return;
	}
	s->probation[s->n_probation++] = (struct probation){
		.tgid = tgid, .dev = st.st_dev, .ino = st.st_ino,
	};
	sampler__set_unwind(s->sampler, tgid, SAMPLER_UNWIND_DWARF);
}

static void on_process(void *ctx, uint32_t tgid, bool exec)
{
	struct session *s = ctx;
	uint64_t now = common_now_ns();
	bool young;
	size_t i;

	for (i = 0; i < s->n_young && s->young[i].tgid != tgid; i++)
		;
	/* Listed already, or room to list it (see refresh_young()). */
	young = i < s->n_young || s->n_young < MAX_YOUNG;
	/* Snapshot now: the process may be gone by the next flush. Failure
	 * (already exited) shows up later as unresolved frames. A young
	 * process is watched: its maps file stays open for the re-reads
	 * (after an exec, a new one). */
	if (!young)
		sym_session__note_process(s->sym, tgid);
	else if (exec)
		sym_session__watch_process(s->sym, tgid);
	else
		sym_session__refresh_process(s->sym, tgid);
	if (s->opts.unwind == SAMPLER_UNWIND_AUTO)
		choose_unwind(s, tgid, exec);
	/* ... and again while it is young. */
	if (!young)
		return;
	s->young_due_ns = MIN(s->young_due_ns, now + YOUNG_REFRESH_NS);
	if (i == s->n_young)
		s->young[s->n_young++] = (struct young){ tgid, now, now, !exec };
	else if (exec)
		s->young[i] = (struct young){ tgid, now, now, false };
	else
		s->young[i].sampled = true;
}

/* When young process y is next due for a re-read. */
static uint64_t young_due(const struct young *y)
{
	/* Every 5 ms at first, then as often as the process is old (5, 10,
	 * 20, 40... ms): ld.so maps the libraries in the first milliseconds;
	 * a re-read every 5 ms for 300 ms of each of 40 new processes a
	 * second was most of the agent's CPU. */
	return y->last_ns + MAX(YOUNG_REFRESH_NS, y->last_ns - y->first_ns);
}

/*
 * A process announced at exec, or at a first sample taken while ld.so was
 * still at work, has a snapshot without its libraries; a ~30 ms process is
 * gone before the flush could re-read it. Re-read young processes every few
 * milliseconds until they are gone or old: YOUNG_NS once sampled,
 * YOUNG_EXEC_NS before. Most processes of a busy host's churn are never
 * sampled; re-reading each of them for 300 ms was most of the agent's CPU
 * there, and without the early re-reads a short process sampled before its
 * announcement was handled kept a snapshot without its libraries (a third
 * of the churn's user stacks lost their leaf). A process stays listed until
 * it is old (a sample may still make it young for longer), but its maps
 * file is closed once no re-read is due before then.
 *
 * Re-reads the young processes that are due; returns the earliest time the
 * next one is, UINT64_MAX when none is.
 */
static uint64_t refresh_young(struct session *s)
{
	uint64_t now = common_now_ns(), next = UINT64_MAX;
	size_t n = 0;

	for (size_t i = 0; i < s->n_young; i++) {
		struct young y = s->young[i];
		uint64_t old_at = y.first_ns + (y.sampled ? YOUNG_NS : YOUNG_EXEC_NS);

		if (now > old_at) {
			sym_session__unwatch_process(s->sym, y.tgid);
			continue;
		}
		if (now >= young_due(&y)) {
			y.last_ns = now;
			if (sym_session__refresh_process(s->sym, y.tgid) == -ESRCH)
				continue;
			if (young_due(&y) > old_at)
				sym_session__unwatch_process(s->sym, y.tgid);
		}
		if (young_due(&y) <= old_at)
			next = MIN(next, young_due(&y));
		s->young[n++] = y;
	}
	s->n_young = n;
	return next;
}

/*
 * AUTO mode unwinds a process whose executable keeps frame pointers both
 * ways (DWARF on probation, or for good when its stacks pass through code
 * without frame pointers; the kernel's walk otherwise). The walk ends where
 * libc's start-up code begins (__libc_start_call_main, start_thread), DWARF
 * goes on to _start or clone3: without a common shape one process would
 * show two roots, and one function two nodes under the same caller. So such
 * a process's DWARF stacks end where the walk ends too. Returns the new
 * length of ips (leaf first).
 */
static size_t fp_shape(struct session *s, uint32_t tgid, const uint64_t *ips, size_t n)
{
	uint64_t start, end;
	bool dwarf;

	if (n < 2 || sym_session__exe(s->sym, tgid, &start, &end, &dwarf) < 0 || dwarf)
		return n;
	for (size_t j = n - 1; j >= 1 && j + 4 >= n; j--) {
		struct sym_frame f;

		if (sym_session__user(s->sym, tgid, ips[j] - 1, &f) == 0 &&
		    (!strcmp(f.name, "__libc_start_call_main") || !strcmp(f.name, "start_thread")))
			return j + 1;
	}
	return n;
}

static int on_dwarf_sample(void *ctx, const struct sampler_dwarf_sample *d)
{
	struct session *s = ctx;
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
	};
	enum sym_unwind_end end;
	uint64_t t0 = common_now_ns();
	int err;

	err = sym_session__unwind(s->sym, d->tgid, d->regs, d->stack, d->stack_len,
				  s->unwind_ips, EMBER_STACK_MAX, &smp.n_uips, &end);
	s->totals.unwind_ns += common_now_ns() - t0;
	s->totals.unwind_bytes += d->stack_len;
	if (err)
		return err;
	s->totals.dwarf_samples++;
	if (s->n_probation)
		probation_sample(s, d->tgid, s->unwind_ips, smp.n_uips);
	if (s->opts.unwind == SAMPLER_UNWIND_AUTO && end == SYM_UNWIND_ROOT)
		smp.n_uips = fp_shape(s, d->tgid, s->unwind_ips, smp.n_uips);
	if (s->in_flush)
		return write_sample(s, &smp, end);
	return agg_add(s, &smp, end);
}

static void on_exit_ev(void *ctx, uint32_t tgid)
{
	struct session *s = ctx;
	struct probation *p = probation_find(s, tgid);

	if (p)
		probation_end(s, p, false);
	push((void **)&s->exited, &s->n_exited, &s->cap_exited, sizeof(tgid), &tgid);
}

static const struct sampler_callbacks callbacks = {
	.on_process = on_process,
	.on_exit = on_exit_ev,
	.on_sample = on_sample,
	.on_dwarf_sample = on_dwarf_sample,
};

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
	};
	struct session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->young_due_ns = UINT64_MAX;
	s->opts = *opts;
	if (!s->opts.flush_seconds)
		s->opts.flush_seconds = 10;
	if (gethostname(s->host, sizeof(s->host) - 1) != 0)
		snprintf(s->host, sizeof(s->host), "localhost");

	/* The symbolizer's on-disk cache, unless the caller chose: a
	 * recording in CI or a restarted agent should not inflate libc's
	 * debug file and parse kallsyms again. */
	if (!s->opts.sym.cache_dir) {
		const char *env = getenv("EMBER_CACHE_DIR");

		s->opts.sym.cache_dir = env ? (strcmp(env, "none") == 0 ? "" : env)
					    : SYM_DEFAULT_CACHE_DIR;
	}
	err = sym_session__new(&s->opts.sym, &s->sym);
	if (err)
		goto fail;
	err = sampler__open(&so, &s->sampler);
	if (err)
		goto fail;
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

void session__free(struct session *s)
{
	if (!s)
		return;
	sampler__free(s->sampler);
	sym_session__free(s->sym);
	agg_clear(s);
	free(s->agg);
	free(s->quality);
	free(s->exited);
	free(s->decided);
	free(s->tgids);
	free(s->cov);
	free(s);
}

int session__reset_symbolizer(struct session *s)
{
	struct sym_session *fresh;
	struct sym_stats st;
	int err;

	if (s->in_flush)
		return -EBUSY;
	err = sym_session__new(&s->opts.sym, &fresh);
	if (err)
		return err;
	sym_session__stats(s->sym, &st);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		s->refused_before[i] += st.refused[i];
	sym_session__free(s->sym);
	s->sym = fresh;
	/* Their module names were borrowed from the old session. */
	s->n_quality = 0;
	reset_coverage(s);
	s->n_young = 0;
	s->young_due_ns = UINT64_MAX;
	return 0;
}

int session__track(struct session *s, pid_t pid)
{
	return sampler__track(s->sampler, pid);
}

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

static int flush(struct session *s, bool early)
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

	s->in_flush = true;
	for (size_t i = 0; i < s->cap_agg; i++)
		if (s->agg[i])
			write_sample(s, &s->agg[i]->smp, s->agg[i]->unwind_end);
	agg_clear(s);
	derr = sampler__drain(s->sampler, &callbacks, s);
	s->in_flush = false;
	fp_watch_apply(s);

	if (!s->has_flush_error) {
		err = write_coverage(s);
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
	reset_coverage(s);

	for (size_t i = 0; i < s->n_exited; i++)
		sym_session__forget_process(s->sym, s->exited[i]);
	s->n_exited = 0;

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
	return flush(s, false);
}

int session__run_once(struct session *s, int timeout_ms)
{
	uint64_t now = common_now_ns();
	int err;

	if (now >= s->next_flush_ns)
		return flush(s, false);
	/* Stacks buffered between flushes (slow-path and DWARF samples) are
	 * bounded: past the limit they are written now, in an early flush
	 * that leaves the cadence alone. */
	if (s->opts.max_pending_bytes && s->agg_bytes > s->opts.max_pending_bytes)
		return flush(s, true);
	if ((uint64_t)timeout_ms * 1000000ULL > s->next_flush_ns - now)
		timeout_ms = (s->next_flush_ns - now) / 1000000ULL + 1;
	/* Young processes are re-read after a few milliseconds: wake up for
	 * the next one due even when the ring buffer is quiet (and only
	 * then: a 5 ms poll whenever any process was young woke the loop all
	 * the time under churn, 76 wake-ups a second against 60 now). */
	if (s->young_due_ns != UINT64_MAX) {
		uint64_t due = s->young_due_ns + YOUNG_SLACK_NS;
		uint64_t wait = due > now ? due - now : 0;
		int ms = (int)((wait + 999999) / 1000000);

		if (timeout_ms > ms)
			timeout_ms = ms;
	}
	err = sampler__poll(s->sampler, timeout_ms, &callbacks, s);
	s->young_due_ns = refresh_young(s);
	keep_budget(s);
	return err < 0 ? err : 0;
}

/* Per binary: "module<TAB>samples<TAB>complete" lines, for report and diff. */
static void write_unwind_quality(struct store_db *db, struct session *s)
{
	const struct session_quality *q;
	size_t n = session__quality(s, &q), len = 0, cap = 0;
	char *buf = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t need = len + strlen(q[i].module ? q[i].module : "[unknown]") + 48;
		char *p;

		if (need > cap) {
			cap = need * 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return;
			}
			buf = p;
		}
		len += snprintf(buf + len, cap - len, "%s\t%llu\t%llu\n",
				q[i].module ? q[i].module : "[unknown]",
				(unsigned long long)q[i].samples, (unsigned long long)q[i].complete);
	}
	store_db__set_meta(db, "unwind_quality", buf ? buf : "");
	free(buf);
}

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
	write_unwind_quality(db, s);
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
	ret_totals->processes = s->n_tgids;
	ret_totals->pending_memory = s->agg_bytes;
	ret_totals->session_memory = s->cap_tgids * sizeof(*s->tgids) +
				     s->cap_quality * sizeof(*s->quality) +
				     s->cap_cov * sizeof(*s->cov) +
				     s->cap_exited * sizeof(*s->exited);
	sampler__stats(s->sampler, ret_totals->sampler);
	sym_session__stats(s->sym, &ret_totals->sym);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		ret_totals->sym.refused[i] += s->refused_before[i];
}

size_t session__quality(struct session *s, const struct session_quality **ret)
{
	*ret = s->quality;
	return s->n_quality;
}

const char *session__flush_error(const struct session *s)
{
	return s->has_flush_error ? s->flush_error : NULL;
}
