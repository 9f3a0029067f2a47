/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c — the sampling session: sampler -> symbolizer -> store.
 * Between flushes it waits on the sampler's ring buffer: announced
 * processes are snapshotted (young.c) and given an unwinding mode
 * (unwind_auto.c), slow-path and DWARF samples are buffered (aggregate.c).
 * At each flush it replays the buffer and drains the kernel maps, turns
 * each stack into frames (root first, user frames then kernel frames; a
 * user address inside inlined code becomes its function and then the
 * inlined callees), counts them (coverage.c, and the totals) and
 * writes them with their labels in one transaction, together with the
 * counters' increments since the previous flush. The memory budget
 * (budget.c) is checked from the loop and while a flush writes.
 *
 * This file creates and frees the session and runs the loop and the
 * flush; session_events.c holds the sampler's callbacks, session_stack.c
 * the writing of one stack, session_accounting.c the totals and the
 * accounting (session-internal.h, the state they share).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "session-internal.h"

/* ---- the session ------------------------------------------------------- */

/* EMBER_DEBUG_UNWIND=1: one line per word the DWARF unwinder asked for and
 * did not get, with what the process's snapshot held there. */
static void print_unwind_miss(void *arg, const struct sym_unwind_miss *m)
{
	(void)arg;
	fprintf(stderr, "ember: unwind: pid %d: word at 0x%llx %s (step from frame %zu at "
		"0x%llx; copy 0x%llx + %zu bytes); ",
		(int)m->pid, (unsigned long long)m->addr,
		m->below_stack ? "below the stack copy" : "not served",
		m->depth, (unsigned long long)m->frame_ip, (unsigned long long)m->sp,
		m->stack_len);
	if (m->maps_age_ns == UINT64_MAX)
		fprintf(stderr, "no snapshot of the process\n");
	else if (m->module)
		fprintf(stderr, "mapped 0x%llx-0x%llx %s (maps read %.1f ms ago)\n",
			(unsigned long long)m->map_start, (unsigned long long)m->map_end,
			m->module, m->maps_age_ns / 1e6);
	else
		fprintf(stderr, "in none of its %zu mappings (maps read %.1f ms ago)\n",
			m->n_maps, m->maps_age_ns / 1e6);
}

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

	/* The on-disk cache, unless the caller chose: a recording in CI or
	 * a restarted agent should not inflate libc's debug file, parse
	 * kallsyms or the kernel's BTF again. */
	if (!s->opts.sym.cache_dir) {
		const char *env = getenv("EMBER_CACHE_DIR");

		s->opts.sym.cache_dir = env ? (strcmp(env, "none") == 0 ? "" : env)
					    : SYM_DEFAULT_CACHE_DIR;
	}
	so.cache_dir = s->opts.sym.cache_dir;
	if (!s->opts.sym.unwind_trace && getenv("EMBER_DEBUG_UNWIND") &&
	    strcmp(getenv("EMBER_DEBUG_UNWIND"), "0") != 0)
		s->opts.sym.unwind_trace = print_unwind_miss;
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
	/* the binaries this flush uses are pinned in it: a flush reads each
	 * binary at most twice, however its samples interleave */
	sym_session__next_pass(s->sym);
	s->consumed_ns = common_now_ns();
	s->consume_in_flush = consume;
	{
		/* What arrives while this one is written goes to the other. */
		struct aggregate *writing = s->agg;

		s->agg = s->agg_spare;
		s->agg_spare = writing;
		aggregate__drain(writing, session_write_buffered, s);
	}
	derr = sampler__drain(s->sampler, &session_flush_callbacks, s);
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
	err = sampler__poll(s->sampler, timeout_ms, &session_wait_callbacks, s);
	young__refresh(s->young, s->sym, session_on_young_reread, s);
	budget__check(s->budget, s->sym);
	return err < 0 ? err : 0;
}
