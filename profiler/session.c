/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c — the sampling session: sampler -> symbolizer -> store. Between
 * flushes it waits on the sampler's ring buffer, snapshotting processes as
 * they appear (so short-lived ones can still be symbolized) and buffering the
 * rare slow-path samples; at each flush it drains the kernel maps, turns each
 * stack into frames (root first, user frames then kernel frames) and writes
 * them with their labels in one transaction, together with the counters'
 * increments since the previous flush.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define MAX_FRAMES 256

struct raw_sample {
	struct sampler_sample smp;
	char comm[17], pcomm[17];
	uint64_t ips[]; /* n_kips kernel, then n_uips user */
};

struct session {
	struct session_options opts;
	struct sampler *sampler;
	struct sym_session *sym;
	struct store_db *db;
	char host[256];

	uint64_t next_flush_ns;
	uint64_t next_maintain_ns;
	int64_t bucket_start_s;
	/* Samples of failed flushes not yet written as drops. */
	uint64_t lost_unrecorded;

	/* Slow-path samples waiting for the next flush. */
	struct raw_sample **raw;
	size_t n_raw, cap_raw;

	/* Processes that exited; forgotten after the next flush. */
	uint32_t *exited;
	size_t n_exited, cap_exited;

	/* Distinct tgids seen (open addressing, 0 = empty). */
	uint32_t *tgids;
	size_t cap_tgids, n_tgids;

	uint64_t prev_stats[SAMPLER_STAT__COUNT];
	struct session_totals totals;
	bool in_flush;         /* samples go to the store, not the buffer */
	uint64_t lost_in_flush;/* samples of a flush that failed to write */
	uint64_t flush_samples;/* samples in the flush being written */
	char flush_error[256];
	bool has_flush_error;

	struct store_frame frames[MAX_FRAMES];
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
static void count_frame(struct session *s, const struct sym_frame *f, uint64_t count)
{
	s->totals.frames += count;
	if (f->miss == SYM_MISS_NONE)
		s->totals.frames_resolved += count;
}

/* Symbolize one stack and add it to the open flush. */
static int store_sample(struct session *s, const struct sampler_sample *smp)
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
	struct sym_frame f;
	size_t n = 0;
	int err;

	/* Stacks come leaf first; the store wants root first. Every address
	 * but the leaf is a return address: look up addr - 1 so a call at the
	 * very end of a function is attributed to that function. */
	for (size_t i = smp->n_uips; i-- > 0 && n < MAX_FRAMES;) {
		uint64_t a = smp->uips[i];

		err = sym_session__user(s->sym, smp->tgid, i == 0 ? a : a - 1, &f);
		if (err)
			return err;
		count_frame(s, &f, smp->count);
		to_store_frame(&f, &s->frames[n++]);
	}
	for (size_t i = smp->n_kips; i-- > 0 && n < MAX_FRAMES;) {
		uint64_t a = smp->kips[i];

		err = sym_session__kernel(s->sym, i == 0 ? a : a - 1, &f);
		if (err)
			return err;
		count_frame(s, &f, smp->count);
		to_store_frame(&f, &s->frames[n++]);
	}
	return store_db__add_stack(s->db, &labels, s->frames, n, smp->count);
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

static int buffer_raw(struct session *s, const struct sampler_sample *smp)
{
	size_t n = smp->n_kips + smp->n_uips;
	struct raw_sample *r = malloc(sizeof(*r) + n * sizeof(uint64_t));

	if (!r)
		return -ENOMEM;
	r->smp = *smp;
	snprintf(r->comm, sizeof(r->comm), "%s", smp->comm);
	snprintf(r->pcomm, sizeof(r->pcomm), "%s", smp->pcomm);
	memcpy(r->ips, smp->kips, smp->n_kips * sizeof(uint64_t));
	memcpy(r->ips + smp->n_kips, smp->uips, smp->n_uips * sizeof(uint64_t));
	r->smp.comm = r->comm;
	r->smp.pcomm = r->pcomm;
	r->smp.kips = r->ips;
	r->smp.uips = r->ips + smp->n_kips;
	if (push((void **)&s->raw, &s->n_raw, &s->cap_raw, sizeof(r), &r)) {
		free(r);
		return -ENOMEM;
	}
	return 0;
}

static int on_sample(void *ctx, const struct sampler_sample *smp)
{
	struct session *s = ctx;
	int err;

	/* Slow-path samples arrive between flushes; they are counted and
	 * stored when the flush replays them. */
	if (!s->in_flush)
		return buffer_raw(s, smp);
	count_sample(s, smp);
	s->flush_samples += smp->count;
	if (s->has_flush_error) {
		s->lost_in_flush += smp->count;
		return 0;
	}
	err = store_sample(s, smp);
	if (err) {
		s->lost_in_flush += smp->count;
		s->has_flush_error = true;
		snprintf(s->flush_error, sizeof(s->flush_error),
			 "writing samples: %s", store_db__errmsg(s->db));
	}
	return 0;
}

static void on_process(void *ctx, uint32_t tgid, bool exec)
{
	struct session *s = ctx;

	/* Snapshot now: the process may be gone by the next flush. Failure
	 * (already exited) shows up later as unresolved frames. */
	sym_session__note_process(s->sym, tgid);
}

static void on_exit_ev(void *ctx, uint32_t tgid)
{
	struct session *s = ctx;

	push((void **)&s->exited, &s->n_exited, &s->cap_exited, sizeof(tgid), &tgid);
}

static const struct sampler_callbacks callbacks = {
	.on_process = on_process,
	.on_exit = on_exit_ev,
	.on_sample = on_sample,
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
	};
	struct session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	if (!s->opts.flush_seconds)
		s->opts.flush_seconds = 10;
	if (gethostname(s->host, sizeof(s->host) - 1) != 0)
		snprintf(s->host, sizeof(s->host), "localhost");

	err = sym_session__new(NULL, &s->sym);
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
	for (size_t i = 0; i < s->n_raw; i++)
		free(s->raw[i]);
	free(s->raw);
	free(s->exited);
	free(s->tgids);
	free(s);
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
		err = store_db__add_drops(s->db, sampler_stat_name(i), d);
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

int session__flush(struct session *s)
{
	int64_t now_s = common_wall_ns() / 1000000000ULL;
	int64_t dur = now_s - s->bucket_start_s;
	int err, derr;

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
	for (size_t i = 0; i < s->n_raw; i++) {
		on_sample(s, &s->raw[i]->smp);
		free(s->raw[i]);
	}
	s->n_raw = 0;
	derr = sampler__drain(s->sampler, &callbacks, s);
	s->in_flush = false;

	if (!s->has_flush_error) {
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
	} else {
		s->lost_unrecorded = 0;
		maybe_maintain(s, now_s);
	}
	s->totals.flushes++;

	for (size_t i = 0; i < s->n_exited; i++)
		sym_session__forget_process(s->sym, s->exited[i]);
	s->n_exited = 0;

	s->bucket_start_s = now_s;
	s->next_flush_ns = common_now_ns() + s->opts.flush_seconds * 1000000000ULL;
	if (derr < 0)
		return derr;
	return s->has_flush_error ? -EIO : 0;
}

int session__run_once(struct session *s, int timeout_ms)
{
	uint64_t now = common_now_ns();
	int err;

	if (now >= s->next_flush_ns)
		return session__flush(s);
	if ((uint64_t)timeout_ms * 1000000ULL > s->next_flush_ns - now)
		timeout_ms = (s->next_flush_ns - now) / 1000000ULL + 1;
	err = sampler__poll(s->sampler, timeout_ms, &callbacks, s);
	return err < 0 ? err : 0;
}

uint64_t session_dropped(const struct session_totals *t)
{
	uint64_t n = t->samples_lost_store;

	for (int i = 0; i < SAMPLER_STAT__COUNT; i++)
		if (sampler_stat_is_drop(i))
			n += t->sampler[i];
	return n;
}

void session__totals(struct session *s, struct session_totals *ret_totals)
{
	*ret_totals = s->totals;
	ret_totals->processes = s->n_tgids;
	sampler__stats(s->sampler, ret_totals->sampler);
	sym_session__stats(s->sym, &ret_totals->sym);
}

const char *session__flush_error(const struct session *s)
{
	return s->has_flush_error ? s->flush_error : NULL;
}
