/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python.h — the sampling session's Python part (python.c), private to
 * profiler/: which processes run a CPython Ember knows (the sampler walks
 * their Python frames), naming those frames as samples arrive, merging them
 * into the native stacks, and per process how many samples got them.
 *
 * Thread safety: used by the session's one thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"
#include "storage.h"
#include "symbolizer.h"

struct session_python;

/* Totals since the session started, for record's summary and /metrics. */
struct session_python_totals {
	uint64_t processes;     /* processes found running a known CPython */
	uint64_t unsupported;   /* ... a CPython of a version Ember does not
	                           know (their stacks stay native) */
	uint64_t samples;       /* samples of Python processes of known
	                           versions */
	uint64_t with_python;   /* ... that got Python frames */
	uint64_t frames;        /* Python frames written */
	uint64_t named;         /* ... with a name */
	uint64_t stale;         /* code objects freed and reused before they
	                           were read: left unnamed */
};

/* Returns 0 and *ret, or -ENOMEM. */
int session_python__new(struct session_python **ret);
/* NULL is fine. */
void session_python__free(struct session_python *p);

/*
 * A process was announced (exec: it has a new image) or re-read: when it
 * runs a CPython, tell the sampler to walk its Python frames (or count it
 * as unsupported). Cheap for processes known already, and for those whose
 * mappings name no python binary. A young process (just started, re-read
 * again soon) is walked at once with the offsets at hand (the table's,
 * unless its interpreter's debug information was read before), and its
 * debug information is read at the next re-read; any other at once.
 */
void session_python__note(struct session_python *p, struct sym_session *sym,
			  struct sampler *sampler, uint32_t tgid, bool exec, bool young);

/*
 * Process tgid exec'd and is not read yet (its first read, a young
 * re-read, will call session_python__note(), or never happens when it
 * exits first): forget the old image's interpreter, read nothing.
 */
void session_python__exec(struct session_python *p, struct sampler *sampler, uint32_t tgid);

/* After the symbolizer was replaced: find the known Python processes'
 * interpreters again in it. */
void session_python__rescan(struct session_python *p, struct sym_session *sym,
			    struct sampler *sampler);

/* A sample with Python frames arrived: name its code objects now, while
 * they exist (the names are kept for the flush). Returns 0 or -ENOMEM. */
int session_python__arrived(struct session_python *p, struct sym_session *sym,
			    uint32_t tgid, const struct sampler_py_frame *py, size_t n_py);

/*
 * Merge a sample's Python frames into its native user frames (frames[0..*n),
 * root first; room for max): each group of Python frames that one
 * _PyEval_EvalFrameDefault ran replaces that native frame, matched from
 * the leaf; groups whose native frame is not in the stack (cut short) go
 * to its root. A walk cut short is marked at the root of the Python chain.
 * Counts the sample for its process. Returns 0 or -ENOMEM.
 */
int session_python__merge(struct session_python *p, struct sym_session *sym,
			  const struct sampler_sample *smp, struct store_frame *frames,
			  size_t *n, size_t max);

/* Within a flush: write the per-process rows of the flush and start
 * counting anew. Returns 0 or -errno of the store. */
int session_python__write(struct session_python *p, struct store_db *db);

/* tgid exited and its last samples were written. */
void session_python__forget(struct session_python *p, uint32_t tgid);

void session_python__totals(const struct session_python *p, struct sym_session *sym,
			    struct session_python_totals *ret);
