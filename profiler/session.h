/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.h — the sampling session shared by `ember record` and
 * `ember agent`: it owns the sampler, the symbolizer session and the store
 * writer, waits for ring buffer records between flushes, and at every flush
 * drains the kernel maps, symbolizes the stacks and writes them in one
 * transaction.
 *
 * Thread safety: one thread drives a session.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampler.h"
#include "storage.h"
#include "symbolizer.h"
#include "python.h"

struct session_options {
	unsigned freq_hz;
	enum sampler_filter filter;
	bool include_idle;
	unsigned flush_seconds;
	unsigned stack_map_entries;  /* 0 = sampler default */
	unsigned counts_map_entries; /* 0 = sampler default */
	enum sampler_unwind unwind;  /* fp, dwarf or auto */
	bool no_python;              /* do not walk CPython's frames */
	unsigned snapshot_bytes;     /* DWARF stack copy; 0 = default */
	bool bpf_path_stats;         /* time the per-sample program's parts
	                                (session_totals.path_ns) */
	const char *extra_labels;    /* "k=v,k=v" or NULL */
	const char *host;            /* the host label; NULL = gethostname() */
	struct sym_options sym;      /* symbolizer options (zero: defaults) */
	const struct store_policy *policy; /* retention; NULL = defaults */
	unsigned maintain_seconds;   /* run retention this often; 0 = 600 */
	uint64_t memory_budget;      /* resident bytes: above it, checked
	                                every 250 ms also inside a flush, the
	                                symbolizer's least recently used
	                                binaries are unloaded; 0 = none */
	uint64_t max_pending_bytes;  /* stacks buffered between flushes
	                                (slow-path, DWARF) past this are
	                                written in an early flush; 0 = no
	                                bound */
};

/* Totals for record's summary line and the agent's /metrics. */
struct session_totals {
	uint64_t samples_seen;       /* samples delivered to user space */
	uint64_t samples_user_task;  /* ... of them from user processes */
	uint64_t samples_with_ustack;/* ... of those with a user stack */
	uint64_t processes;          /* distinct tgids with samples */
	uint64_t frames;             /* frames written, weighted by samples */
	uint64_t frames_resolved;    /* ... of them given a function name */
	uint64_t frames_debug[SYM_DEBUG__COUNT]; /* ... whose debug info was
	                                there but not read, per reason */
	uint64_t ustack_complete;    /* samples whose user stack reaches a root */
	uint64_t leaf_repairs;       /* FP samples given their leaf's caller */
	uint64_t auto_fp;            /* AUTO: processes of executables with
	                                frame pointers walked with them after
	                                their probation */
	uint64_t auto_fp_kept_dwarf; /* ... unwound with DWARF instead: their
	                                stacks pass through code without frame
	                                pointers */
	uint64_t dwarf_samples;      /* samples unwound with DWARF CFI */
	uint64_t unwind_ns;          /* time spent unwinding them */
	uint64_t unwind_bytes;       /* stack bytes copied for them */
	uint64_t unwind_end[SYM_UNWIND__COUNT]; /* how DWARF unwinds ended */
	uint64_t flushes;
	uint64_t flush_errors;
	uint64_t early_flushes;      /* ... of them for the pending bound */
	uint64_t flushes_late;       /* started 1 s or more after due */
	uint64_t last_flush_late_ns; /* how late the latest one started */
	uint64_t last_flush_ns, flush_ns;         /* wall time: latest, all */
	uint64_t last_flush_cpu_ns, flush_cpu_ns; /* CPU time: latest, all */
	uint64_t pending_memory;     /* bytes of stacks buffered for the
	                                next flush */
	uint64_t session_memory;     /* the session's own tables (processes
	                                seen, per-binary counts) */
	uint64_t frame_memo_memory;  /* the store writer's memo of frames */
	uint64_t frame_memo_resets;  /* ... emptied for its bound */
	uint64_t memory_trims;       /* times the budget was passed and
	                                binaries were unloaded */
	uint64_t samples_lost_store; /* samples of flushes that failed to write */
	uint64_t write_failing;      /* flushes failed since the last one
	                                that wrote (0: writing works) */
	uint64_t write_resumes;      /* times writing worked again after
	                                failed flushes */
	uint64_t maintain_runs;      /* retention runs, and those that failed */
	uint64_t maintain_errors;
	uint64_t sampler[SAMPLER_STAT__COUNT];
	/* with bpf_path_stats: ns in each part of the per-sample program,
	 * and the samples that ran it (zero without) */
	uint64_t path_ns[SAMPLER_PATH__COUNT], path_runs[SAMPLER_PATH__COUNT];
	enum sampler_btf btf_source;    /* where the kernel types came from */
	int btf_refused;                /* 0, or why the BTF cache was not
	                                   used (-errno, sampler__btf_source) */
	struct sym_stats sym;
	struct session_python_totals python;
};

struct session;

/*
 * Create a session: loads and attaches the sampler, which starts counting at
 * once. Returns 0 and *ret_session or the error of sampler__open()
 * (sampler_last_error() describes it), or -ENOMEM.
 */
int session__new(const struct session_options *opts,
		 struct session **ret_session);

/*
 * Print one clear line for an error of session__new() (not root, no BTF,
 * the verifier refusing a program, a bad frequency...). cmd names the
 * sub-command in the advice; hint (or NULL) is added to the not-root case.
 */
void session_explain_error(int err, const char *cmd, const char *hint);

/* Set the store the flushes write to (borrowed; must outlive the session).
 * Must be called before the first session__run_once()/session__flush(). */
void session__set_store(struct session *s, struct store_db *db);

/* Label the samples of later flushes with labels ("k=v,k=v" or NULL;
 * borrowed, must outlive the session) instead of opts->extra_labels. To
 * give each part of a recording its labels, flush before the change. */
void session__set_extra_labels(struct session *s, const char *labels);

/* The host label the session's samples carry (--host, else the host's
 * name); borrowed from s. */
const char *session__host(const struct session *s);

/* Detach everything. Does not flush. NULL is fine. */
void session__free(struct session *s);

/* Track a process (filters PIDS and TREE). Returns 0 or -errno. */
int session__track(struct session *s, pid_t pid);

/*
 * Wait for events up to timeout_ms, flushing when a flush is due (flushes
 * are due on a fixed grid, one every flush_seconds from the start,
 * however long each takes) or early when the buffered stacks pass
 * max_pending_bytes.
 * Returns 0, -EINTR when interrupted by a signal, or -errno of a failed
 * flush (the session goes on; the caller decides).
 */
int session__run_once(struct session *s, int timeout_ms);

/* Stop sampling before the final flush, so it holds every sample. */
void session__stop(struct session *s);

/* Drain and write now (the final flush, or a run's end): every sample
 * queued is written in it (unlike the loop's flushes, it does not read
 * the ring buffer into the next flush while it writes). Returns 0 or
 * -errno. */
int session__flush(struct session *s);

/* Samples lost, all reasons: in the kernel and when writing. */
uint64_t session_dropped(const struct session_totals *t);

/*
 * Drop the symbolizer's caches (binaries, symbols, DWARF, process maps) by
 * starting a fresh symbolizer session, to bound memory: call it right after
 * a flush. Processes still running are read again from /proc on their next
 * sample; one that exited since the last flush loses its names. Forgets the
 * per-binary unwind quality gathered so far (session__write_accounting).
 * Returns 0, -EBUSY (inside a flush) or -ENOMEM (the old caches are kept).
 */
int session__reset_symbolizer(struct session *s);

/*
 * Write the accounting a reader can check into db's metadata: samples
 * counted in the kernel, written and dropped (every counted sample is one
 * of the two), DWARF samples, leaf repairs, user stacks and how many reached
 * their root, flushes, and the unwind quality per binary.
 */
void session__write_accounting(struct session *s, struct store_db *db);

/* Flushes done so far (cheap: no kernel counters are read). */
uint64_t session__flushes(const struct session *s);
/* Current totals. */
void session__totals(struct session *s, struct session_totals *ret_totals);

/* The last flush error's description, or NULL. Borrowed. */
const char *session__flush_error(const struct session *s);
