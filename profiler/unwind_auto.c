/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unwind_auto.c — the `--unwind auto` policy (see unwind_auto.h): the
 * processes on probation, the executable files already judged, and the
 * frame-pointer processes watched in the open flush. It reads what the
 * symbolizer says of a process's executable and of each stack, and writes
 * its choices into the sampler's per-process and per-file maps.
 */
#include "unwind_auto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ustack.h"

/* A probation's length in DWARF samples, and the share of them passing
 * through code without frame pointers above which the process stays on
 * DWARF. */
#define PROBATION_SAMPLES 64
#define PROBATION_NOFP_PCT 10
/* A process that exits after this many samples still decides for its file. */
#define PROBATION_MIN_SAMPLES 16
#define MAX_PROBATION 256
/* Frame-pointer processes watched per flush. */
#define MAX_FP_WATCH 1024
/* Executables whose frame pointers were judged, remembered. */
#define MAX_JUDGED 1024

struct probation {
	uint32_t tgid;
	uint32_t samples, through_nofp;
	struct sym_file_id file;
};

struct decided_file {
	struct sym_file_id file;
	enum sampler_unwind mode;
};

/* What an executable's CFI says (sym_session__exe): does it want DWARF?
 * And, for one with frame pointers, the probation samples of its
 * processes that exited too soon to decide for it, pooled. */
struct judged_file {
	struct sym_file_id file;
	bool dwarf;
	uint32_t samples, through_nofp;
};

/* A frame-pointer process's samples in the open flush, and those cut short
 * in code without frame pointers. */
struct fp_watch {
	uint32_t tgid;
	uint64_t samples, cut;
};

struct unwind_auto {
	struct sampler *sampler;
	struct probation probation[MAX_PROBATION];
	size_t n_probation;
	struct decided_file *decided;
	size_t n_decided, cap_decided;
	/* Ring of MAX_JUDGED, the oldest replaced. */
	struct judged_file *judged;
	size_t n_judged, next_judged;
	struct fp_watch fp_watch[MAX_FP_WATCH];
	size_t n_fp_watch;
	uint64_t fp, kept_dwarf;  /* unwind_auto__counts() */
};

int unwind_auto__new(struct sampler *sampler, struct unwind_auto **ret_policy)
{
	struct unwind_auto *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->sampler = sampler;
	*ret_policy = a;
	return 0;
}

void unwind_auto__free(struct unwind_auto *a)
{
	if (!a)
		return;
	free(a->decided);
	free(a->judged);
	free(a);
}

void unwind_auto__counts(const struct unwind_auto *a, uint64_t *ret_fp,
			 uint64_t *ret_kept_dwarf)
{
	*ret_fp = a->fp;
	*ret_kept_dwarf = a->kept_dwarf;
}

static bool same_file(const struct sym_file_id *x, const struct sym_file_id *y)
{
	return x->dev == y->dev && x->ino == y->ino;
}

static struct decided_file *decided_find(const struct unwind_auto *a,
					 const struct sym_file_id *file)
{
	for (size_t i = 0; i < a->n_decided; i++)
		if (same_file(&a->decided[i].file, file))
			return &a->decided[i];
	return NULL;
}

static struct judged_file *judged_find(const struct unwind_auto *a,
				       const struct sym_file_id *file)
{
	for (size_t i = 0; i < a->n_judged; i++)
		if (same_file(&a->judged[i].file, file))
			return &a->judged[i];
	return NULL;
}

/*
 * The choice for an executable file: later execs of it start with mode in
 * the kernel (exe_unwind), and unwind_auto__process() gives it to
 * processes of it seen from user space. Returns false when mode was
 * already its choice.
 */
static bool decide_file(struct unwind_auto *a, const struct sym_file_id *file,
			enum sampler_unwind mode)
{
	struct decided_file *old = decided_find(a, file);

	if (old && old->mode == mode)
		return false;
	sampler__set_exe_unwind(a->sampler, file->dev, file->ino, mode);
	if (old) {
		old->mode = mode;
	} else if (!COMMON_GROW(a->decided, a->cap_decided, a->n_decided + 1)) {
		a->decided[a->n_decided++] = (struct decided_file){ *file, mode };
	}
	return true;
}

/*
 * Whether tgid's executable wants DWARF (no frame pointers), and the file
 * it exec'd. A file judged before costs a stat of its /proc/PID/exe, not
 * a snapshot of the process: an executable with frame pointers whose
 * processes end before their probation does (a shell's commands) stays
 * undecided, and each of its execs took a snapshot at once. Returns 0,
 * or < 0 when the process is gone or unreadable; *ret_file is zeroed (no
 * inode) when the file could not be named (the choice is then the
 * process's only).
 */
static int judge(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
		 bool *ret_dwarf, struct sym_file_id *ret_file)
{
	struct sym_file_id file = {0};
	bool dwarf, named = sym_session__exe_id(sym, tgid, &file) == 0;
	const struct judged_file *j = named ? judged_find(a, &file) : NULL;

	if (j) {
		*ret_dwarf = j->dwarf;
		*ret_file = file;
		return 0;
	}
	if (sym_session__exe(sym, tgid, &dwarf) < 0)
		return -ESRCH;
	if (named) {
		size_t i = a->n_judged < MAX_JUDGED ? a->n_judged : a->next_judged;

		if (!a->judged)
			a->judged = calloc(MAX_JUDGED, sizeof(*a->judged));
		if (a->judged) {
			a->judged[i] = (struct judged_file){ .file = file, .dwarf = dwarf };
			a->n_judged += a->n_judged < MAX_JUDGED;
			a->next_judged = (i + 1) % MAX_JUDGED;
		}
	} else {
		file = (struct sym_file_id){0};
	}
	*ret_dwarf = dwarf;
	*ret_file = file;
	return 0;
}

static struct probation *probation_find(struct unwind_auto *a, uint32_t tgid)
{
	for (size_t i = 0; i < a->n_probation; i++)
		if (a->probation[i].tgid == tgid)
			return &a->probation[i];
	return NULL;
}

/*
 * Ends p's probation: the file's choice, and the process's when it lives.
 * A process that exits too soon to decide adds its samples to its file's
 * pool, which decides once it holds as many: a shell's or a build's short
 * commands each end with a sample or two, and every one of them went on
 * probation (a DWARF stack copy per sample, a stat and a map update per
 * exec) for as long as the file was seen.
 */
static void probation_end(struct unwind_auto *a, struct probation *p, bool alive)
{
	enum sampler_unwind mode = SAMPLER_UNWIND_FP;
	uint32_t samples = p->samples, through_nofp = p->through_nofp;
	struct judged_file *pool = NULL;

	if (!alive && samples < PROBATION_MIN_SAMPLES && p->file.ino &&
	    (pool = judged_find(a, &p->file))) {
		pool->samples += samples;
		pool->through_nofp += through_nofp;
		samples = pool->samples;
		through_nofp = pool->through_nofp;
	}
	if ((uint64_t)through_nofp * 100 > (uint64_t)samples * PROBATION_NOFP_PCT)
		mode = SAMPLER_UNWIND_DWARF;
	if (alive || samples >= PROBATION_MIN_SAMPLES) {
		if (alive)
			sampler__set_unwind(a->sampler, p->tgid, mode);
		decide_file(a, &p->file, mode);
		if (mode == SAMPLER_UNWIND_DWARF)
			a->kept_dwarf++;
		else
			a->fp++;
		if (pool)
			pool->samples = pool->through_nofp = 0;
	}
	*p = a->probation[--a->n_probation];
}

void unwind_auto__process(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
			  bool exec, bool known)
{
	struct probation *p = probation_find(a, tgid);
	const struct decided_file *d;
	struct sym_file_id file;
	bool dwarf;

	if (p && !exec)
		return;  /* seen again while on probation */
	if (p)
		*p = a->probation[--a->n_probation];  /* a new image */
	if (known)
		return;  /* the kernel gave it its file's choice at exec */
	if (judge(a, sym, tgid, &dwarf, &file) < 0)
		return;
	if (!file.ino) {
		sampler__set_unwind(a->sampler, tgid,
				    dwarf ? SAMPLER_UNWIND_DWARF : SAMPLER_UNWIND_FP);
		return;
	}
	/* No frame pointers: DWARF, and later execs of the file start so. */
	if (dwarf) {
		sampler__set_unwind(a->sampler, tgid, SAMPLER_UNWIND_DWARF);
		sampler__set_exe_unwind(a->sampler, file.dev, file.ino, SAMPLER_UNWIND_DWARF);
		return;
	}
	d = decided_find(a, &file);
	if (d) {
		sampler__set_unwind(a->sampler, tgid, d->mode);
		return;
	}
	if (a->n_probation == MAX_PROBATION) {
		sampler__set_unwind(a->sampler, tgid, SAMPLER_UNWIND_FP);
		return;
	}
	a->probation[a->n_probation++] = (struct probation){ .tgid = tgid, .file = file };
	sampler__set_unwind(a->sampler, tgid, SAMPLER_UNWIND_DWARF);
}

/* A DWARF sample of a process on probation: does its stack pass through
 * code without frame pointers (a caller frame; the leaf's caller is
 * repaired on the frame-pointer path)? */
static void probation_sample(struct unwind_auto *a, struct sym_session *sym,
			     struct probation *p, const uint64_t *ips, size_t n)
{
	size_t i;

	p->samples++;
	/* The outermost frame is not stepped out of, nor are the start-up
	 * functions at the root (libc's __libc_start_call_main,
	 * start_thread), where the frame-pointer walk ends anyway. */
	if (n >= 2 && sym_session__stack_without_fp(sym, p->tgid, ips, n - 1, &i) == 0) {
		struct sym_frame f;

		if (sym_session__user(sym, p->tgid, ips[i] - 1, &f) != 0 || !ustack_is_root(f.name))
			p->through_nofp++;
	}
	if (p->samples >= PROBATION_SAMPLES)
		probation_end(a, p, true);
}

/*
 * A process whose executable keeps frame pointers is unwound both ways
 * (DWARF on probation, or for good when its stacks pass through code
 * without frame pointers; the kernel's walk otherwise). The walk ends
 * where libc's start-up code begins (__libc_start_call_main,
 * start_thread), DWARF goes on to _start or clone3: without a common
 * shape one process would show two roots, and one function two nodes
 * under the same caller. So such a process's DWARF stacks end where the
 * walk ends too. Returns the new length of ips (leaf first).
 */
static size_t fp_shape(struct sym_session *sym, uint32_t tgid, const uint64_t *ips, size_t n)
{
	bool dwarf;

	if (n < 2 || sym_session__exe(sym, tgid, &dwarf) < 0 || dwarf)
		return n;
	for (size_t j = n - 1; j >= 1 && j + 4 >= n; j--) {
		struct sym_frame f;

		if (sym_session__user(sym, tgid, ips[j] - 1, &f) == 0 && ustack_is_fp_root(f.name))
			return j + 1;
	}
	return n;
}

size_t unwind_auto__dwarf_stack(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
				const uint64_t *ips, size_t n, enum sym_unwind_end end)
{
	struct probation *p = probation_find(a, tgid);

	if (p)
		probation_sample(a, sym, p, ips, n);
	return end == SYM_UNWIND_ROOT ? fp_shape(sym, tgid, ips, n) : n;
}

void unwind_auto__fp_stack(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
			   const uint64_t *uips, size_t n, bool complete, uint64_t count)
{
	struct fp_watch *w = NULL;
	size_t i;

	for (i = 0; i < a->n_fp_watch && !w; i++)
		if (a->fp_watch[i].tgid == tgid)
			w = &a->fp_watch[i];
	if (!w) {
		if (a->n_fp_watch == MAX_FP_WATCH)
			return;
		w = &a->fp_watch[a->n_fp_watch++];
		*w = (struct fp_watch){ .tgid = tgid };
	}
	w->samples += count;
	/* Cut short where the walk left code without frame pointers? (Not
	 * a recursion deeper than the walk, or JIT code.) */
	if (!complete && sym_session__stack_without_fp(sym, tgid, uips, n, &i) == 0)
		w->cut += count;
}

void unwind_auto__flush(struct unwind_auto *a, struct sym_session *sym)
{
	for (size_t i = 0; i < a->n_fp_watch; i++) {
		const struct fp_watch *w = &a->fp_watch[i];
		struct sym_file_id file;

		if (w->cut * 100 <= w->samples * PROBATION_NOFP_PCT || w->cut < 2)
			continue;
		/* (Samples the kernel walked before the switch arrive at the
		 * next flush too: a process is switched, and counted, once.) */
		sampler__set_unwind(a->sampler, w->tgid, SAMPLER_UNWIND_DWARF);
		if (sym_session__exe_id(sym, w->tgid, &file) == 0 &&
		    !decide_file(a, &file, SAMPLER_UNWIND_DWARF))
			continue;
		a->kept_dwarf++;
	}
	a->n_fp_watch = 0;
}

void unwind_auto__exit(struct unwind_auto *a, uint32_t tgid)
{
	struct probation *p = probation_find(a, tgid);

	if (p)
		probation_end(a, p, false);
}
