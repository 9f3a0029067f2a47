/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python.c — the session's Python part. When a process appears (exec, or
 * its first sample) or is re-read while young, the symbolizer looks for a
 * CPython in it; one of a known version is handed to the sampler, whose
 * BPF walk then reads the Python frames of its threads at every sample
 * (bpf/python.bpf.h). Those frames arrive with the sample; their code
 * objects are named at once (sym_session__python_frame reads them from the
 * process while they exist), and at the flush each sample's Python frames
 * are merged into its native stack: the Python frames one
 * _PyEval_EvalFrameDefault ran take that native frame's place, so native
 * code below the interpreter, C extensions and the kernel above it stay
 * where they ran. Per process and flush, how many samples got Python
 * frames is written for `report --coverage`.
 */
#include "python.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The native function that runs Python frames (CPython 3.11). */
#define EVAL_FRAME "_PyEval_EvalFrameDefault"

/* The mark at the root of a Python chain whose walk was cut short. */
#define CUT_DEPTH "[python: deeper frames cut]"
#define CUT_FAULT "[python: frames unreadable]"

enum py_state {
	PY_NONE = 0,     /* looked at: no CPython */
	PY_KNOWN,        /* a CPython Ember walks */
	PY_UNSUPPORTED,  /* a CPython of a version Ember does not know */
};

struct py_process {
	uint32_t tgid;         /* the key */
	enum py_state state;
	bool counted_known, counted_unsupported;  /* in the totals once */
	bool from_debug_info;  /* walked with its debug information's offsets */
	bool debug_tried;      /* ... or they were looked for */
	char interpreter[32];  /* "3.11.2", "3.13 unsupported" */
	char name[17];         /* the process's name, from its samples */
	/* this flush */
	uint64_t samples, with_python, frames, named;
};

struct session_python {
	struct common_map procs;   /* struct py_process by tgid */
	struct session_python_totals totals;
	/* scratch for one merge */
	struct store_frame out[512];
	struct sym_frame named[SAMPLER_PY_MAX_FRAMES];
	size_t evals[SAMPLER_PY_MAX_FRAMES];
};

int session_python__new(struct session_python **ret)
{
	struct session_python *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

void session_python__free(struct session_python *p)
{
	if (!p)
		return;
	common_map__fini(&p->procs);
	free(p);
}

static const struct common_map_type procs_type = {
	.entry_size = sizeof(struct py_process),
	.key_size = sizeof(uint32_t),
};

static struct py_process *find(const struct session_python *p, uint32_t tgid)
{
	return common_map__find(&p->procs, &procs_type, &tgid);
}

/* The entry of tgid, added when missing; NULL on ENOMEM. */
static struct py_process *add(struct session_python *p, uint32_t tgid)
{
	struct py_process *e;

	return common_map__insert(&p->procs, &procs_type, &tgid, (void **)&e) < 0 ? NULL : e;
}

/* "3.11.2 debug-info" (offsets from the interpreter's debug information),
 * "3.11.2 table" (from Ember's table), "3.13 unsupported". */
static void version_text(char *buf, size_t len, const struct sym_python *info)
{
	uint32_t v = info->version;
	unsigned major = v >> 24, minor = (v >> 16) & 0xff, micro = (v >> 8) & 0xff;

	if (!v)
		snprintf(buf, len, "unknown unsupported");
	else if (info->supported)
		snprintf(buf, len, "%u.%u.%u %s", major, minor, micro,
			 info->from_debug_info ? "debug-info" : "table");
	else
		snprintf(buf, len, "%u.%u unsupported", major, minor);
}

static void detect(struct session_python *p, struct sym_session *sym,
		   struct sampler *sampler, uint32_t tgid, struct py_process *e, bool quick)
{
	struct sym_python info;
	int r;

	/* (A process that cannot be read now keeps what was found.) */
	r = sym_session__python(sym, tgid, quick ? SYM_PYTHON_QUICK : 0, &info);
	if (r < 0)
		return;
	e->debug_tried = !quick || info.from_debug_info;
	e->from_debug_info = info.from_debug_info;
	version_text(e->interpreter, sizeof(e->interpreter), &info);
	if (info.supported &&
	    sampler__set_python(sampler, tgid, info.runtime, info.code_type, &info.off) == 0) {
		p->totals.processes += !e->counted_known;
		e->counted_known = true;
		e->state = PY_KNOWN;
		return;
	}
	p->totals.unsupported += !e->counted_unsupported;
	e->counted_unsupported = true;
	e->state = PY_UNSUPPORTED;
}

/* A new image: the kernel forgot the old one's interpreter. */
static void new_image(struct sampler *sampler, uint32_t tgid, struct py_process *e)
{
	if (e->state != PY_NONE) {
		e->state = PY_NONE;
		e->debug_tried = false;
		sampler__forget_python(sampler, tgid);
	}
}

void session_python__exec(struct session_python *p, struct sampler *sampler, uint32_t tgid)
{
	struct py_process *e = find(p, tgid);

	if (e)
		new_image(sampler, tgid, e);
}

void session_python__note(struct session_python *p, struct sym_session *sym,
			  struct sampler *sampler, uint32_t tgid, bool exec, bool young)
{
	struct py_process *e = add(p, tgid);

	if (!e)
		return;
	if (exec)
		new_image(sampler, tgid, e);
	/* Known already: a re-read changes nothing (libraries come and go
	 * with dlopen, not the interpreter), but for the debug information
	 * of one found in a hurry. */
	if (e->state == PY_KNOWN) {
		if (!e->debug_tried)
			detect(p, sym, sampler, tgid, e, false);
		return;
	}
	detect(p, sym, sampler, tgid, e, young);
}

void session_python__rescan(struct session_python *p, struct sym_session *sym,
			    struct sampler *sampler)
{
	struct py_process *e;
	size_t pos = 0;

	while ((e = common_map__next(&p->procs, &procs_type, &pos)))
		if (e->state == PY_KNOWN)
			detect(p, sym, sampler, e->tgid, e, false);
}

int session_python__arrived(struct session_python *p, struct sym_session *sym,
			    uint32_t tgid, const struct sampler_py_frame *py, size_t n_py)
{
	struct sym_frame f;

	(void)p;
	for (size_t i = 0; i < n_py; i++)
		if (sym_session__python_frame(sym, tgid, py[i].code, py[i].ident, py[i].lasti,
					      &f) < 0)
			return -ENOMEM;
	return 0;
}

static struct store_frame python_frame(const struct sym_frame *f)
{
	return (struct store_frame){
		.name = f->name,
		.module = f->module,
		.offset = f->offset,
		.file = f->file,
		.line = f->line,
		.kind = STORE_FRAME_PYTHON,
	};
}

int session_python__merge(struct session_python *p, struct sym_session *sym,
			  const struct sampler_sample *smp, struct store_frame *frames,
			  size_t *n, size_t max)
{
	struct py_process *e = find(p, smp->tgid);
	size_t n_py = MIN(smp->n_py, (size_t)SAMPLER_PY_MAX_FRAMES), groups = 0, evals = 0;
	size_t group_end[SAMPLER_PY_MAX_FRAMES + 1], o = 0, matched, g;
	const char *cut = NULL;

	if (!e || e->state == PY_NONE)
		return 0;
	e->samples += smp->count;
	if (e->state == PY_KNOWN)
		p->totals.samples += smp->count;
	if (!e->name[0])
		snprintf(e->name, sizeof(e->name), "%s", smp->pcomm);
	if (n_py == 0)
		return 0;
	e->with_python += smp->count;
	p->totals.with_python += smp->count;

	/* Name the frames, and split them (leaf first) into the groups one
	 * native eval frame each ran: a group ends at an entry frame. */
	for (size_t i = 0; i < n_py; i++) {
		if (sym_session__python_frame(sym, smp->tgid, smp->py[i].code, smp->py[i].ident,
					      smp->py[i].lasti, &p->named[i]) < 0)
			return -ENOMEM;
		e->frames += smp->count;
		p->totals.frames += smp->count;
		if (p->named[i].miss == SYM_MISS_NONE) {
			e->named += smp->count;
			p->totals.named += smp->count;
		}
		if (smp->py[i].flags & SAMPLER_PY_ENTRY)
			group_end[groups++] = i;
	}
	/* Frames after the last entry frame: the walk ended before it. */
	if (groups == 0 || group_end[groups - 1] != n_py - 1)
		group_end[groups++] = n_py - 1;
	if (smp->py_end == SAMPLER_PY_DEPTH)
		cut = CUT_DEPTH;
	else if (smp->py_end != SAMPLER_PY_ROOT)
		cut = CUT_FAULT;

	/* The native eval frames, root first. */
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(frames[i].name, EVAL_FRAME) && evals < SAMPLER_PY_MAX_FRAMES)
			p->evals[evals++] = i;
	matched = MIN(evals, groups);

	/* Emit group g (0 is the leaf's), root first, the cut mark before
	 * the outermost group. */
#define EMIT(frame)                                          \
	do {                                                 \
		if (o < ARRAY_SIZE(p->out))                  \
			p->out[o++] = (frame);               \
	} while (0)
#define EMIT_GROUP(g)                                                                  \
	do {                                                                           \
		size_t lo_ = (g) == 0 ? 0 : group_end[(g) - 1] + 1;                    \
		if ((g) == groups - 1 && cut)                                          \
			EMIT(((struct store_frame){ .name = cut,                       \
						    .kind = STORE_FRAME_PYTHON }));    \
		for (size_t k_ = group_end[g] + 1; k_-- > lo_;)                        \
			EMIT(python_frame(&p->named[k_]));                             \
	} while (0)

	/* Groups whose eval frame is below what the native walk reached. */
	for (g = groups; g-- > matched;)
		EMIT_GROUP(g);
	for (size_t i = 0, next = evals - matched; i < *n; i++) {
		if (next < evals && i == p->evals[next]) {
			/* The k-th eval frame from the leaf runs group k. */
			g = evals - 1 - next;
			EMIT_GROUP(g);
			next++;
			continue;
		}
		EMIT(frames[i]);
	}
#undef EMIT_GROUP
#undef EMIT
	o = MIN(o, max);
	memcpy(frames, p->out, o * sizeof(*frames));
	*n = o;
	return 0;
}

int session_python__write(struct session_python *p, struct store_db *db)
{
	struct py_process *e;
	size_t pos = 0;
	int err = 0;

	while ((e = common_map__next(&p->procs, &procs_type, &pos))) {
		if (!err && e->samples)
			err = store_db__add_python_coverage(db, e->name, e->tgid, e->interpreter,
							    e->samples, e->with_python, e->frames,
							    e->named);
		e->samples = e->with_python = e->frames = e->named = 0;
	}
	return err;
}

void session_python__forget(struct session_python *p, uint32_t tgid)
{
	common_map__remove(&p->procs, &procs_type, &tgid, NULL);
}

void session_python__totals(const struct session_python *p, struct sym_session *sym,
			    struct session_python_totals *ret)
{
	struct sym_py_stats st;

	*ret = p->totals;
	sym_session__python_stats(sym, &st);
	ret->stale = st.stale;
}
