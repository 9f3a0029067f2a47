/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolizer.c — the sym_session: its options and counters, and the public
 * entry points that tie its parts together: a process is snapshotted
 * (process.c) or forgotten (with the unwinder's cache of it and its
 * Python state, python.c), an address becomes frames (frames.c), and
 * after each the binaries over the memory bound are evicted (binary.c).
 * The profiler's session loop calls it at every flush, between draining
 * the sampler and writing to storage.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sym_miss_name(enum sym_miss miss)
{
	static const char *const names[SYM_MISS__COUNT] = {
		[SYM_MISS_NONE] = "none",
		[SYM_MISS_NO_MAPPING] = "no-mapping",
		[SYM_MISS_NO_PROCESS] = "no-process",
		[SYM_MISS_NO_FILE] = "no-file",
		[SYM_MISS_BAD_ELF] = "bad-elf",
		[SYM_MISS_NO_SYMBOL] = "no-symbol",
	};

	if ((unsigned)miss >= SYM_MISS__COUNT)
		return "invalid";
	return names[miss];
}

const char *sym_debug_issue_name(enum sym_debug_issue issue)
{
	static const char *const names[SYM_DEBUG__COUNT] = {
		[SYM_DEBUG_OK] = "none",
		[SYM_DEBUG_ALT_MISSING] = "alt-missing",
		[SYM_DEBUG_ALT_MISMATCH] = "alt-build-id-mismatch",
		[SYM_DEBUG_DWO_MISSING] = "dwo-missing",
		[SYM_DEBUG_DWO_MISMATCH] = "dwo-id-mismatch",
		[SYM_DEBUG_UNKNOWN_FORM] = "unknown-form",
		[SYM_DEBUG_COMPRESSION] = "unsupported-compression",
		[SYM_DEBUG_CORRUPT] = "corrupt",
		[SYM_DEBUG_NAME_UNRESOLVED] = "name-unresolved",
	};

	if ((unsigned)issue >= SYM_DEBUG__COUNT)
		return "invalid";
	return names[issue];
}

int sym_session__note_process(struct sym_session *s, pid_t pid)
{
	int r = sym_process__note(s, pid, false, false);

	sym_session__evict(s);
	return r;
}

int sym_session__watch_process(struct sym_session *s, pid_t pid)
{
	int r = sym_process__note(s, pid, false, true);

	sym_session__evict(s);
	return r;
}

int sym_session__refresh_process(struct sym_session *s, pid_t pid)
{
	int r = sym_process__note(s, pid, true, true);

	sym_session__evict(s);
	return r;
}

void sym_session__forget_process(struct sym_session *s, pid_t pid)
{
	if (!s)
		return;
	sym_unwind__forget(s, pid);
	sym_py__forget(s->py, pid);
	sym_process__forget(s, pid);
}

int sym_session__user_frames(struct sym_session *s, pid_t pid, uint64_t addr,
			     struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	size_t n = 0;
	int r;

	if (max == 0)
		return -EINVAL;
	r = sym_frames__user(s, pid, addr, ret_frames, max, &n);
	for (size_t i = 0; i < n; i++)
		sym_frames__count_user(s, &ret_frames[i]);
	sym_session__evict(s);
	*ret_n = n;
	return r;
}

int sym_session__user(struct sym_session *s, pid_t pid, uint64_t addr,
		      struct sym_frame *ret_frame)
{
	struct sym_frame frames[MAX_INLINE];
	size_t n = 0;
	int r;

	r = sym_frames__user(s, pid, addr, frames, MAX_INLINE, &n);
	/* the real function: the outermost frame */
	*ret_frame = frames[n - 1];
	ret_frame->kind = ret_frame->kind == SYM_FRAME_INLINED ? SYM_FRAME_USER : ret_frame->kind;
	sym_frames__count_user(s, ret_frame);
	sym_session__evict(s);
	return r;
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	return asprintf(&p, "%s%s", a, b) < 0 ? NULL : p;
}

int sym_session__new(const struct sym_options *opts, struct sym_session **ret_session)
{
	struct sym_session *s;
	const char *root = opts && opts->root ? opts->root : "";
	size_t len = strlen(root);

	/* "/" and "/x/" become "" and "/x" so paths join with "/proc". */
	while (len > 0 && root[len - 1] == '/')
		len--;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root_fs.root_fd = -1;  /* before anything can fail: free closes it */
	s->root = strndup(root, len);
	if (!s->root)
		goto nomem;
	if (!opts || !opts->debug_dir)
		s->debug_dir = path_join(s->root, "/usr/lib/debug");
	else if (opts->debug_dir[0])
		s->debug_dir = strdup(opts->debug_dir);
	if ((!opts || !opts->debug_dir || opts->debug_dir[0]) && !s->debug_dir)
		goto nomem;
	s->no_kernel = opts && opts->no_kernel;
	s->no_demangle = opts && opts->no_demangle;
	if (opts) {
		s->unwind_trace = opts->unwind_trace;
		s->unwind_trace_arg = opts->unwind_trace_arg;
	}
	s->max_memory = opts && opts->max_memory ? opts->max_memory : SYM_DEFAULT_MAX_MEMORY;
	s->pass = 1;
	if (opts && opts->cache_dir && opts->cache_dir[0]) {
		s->cache_dir = strdup(opts->cache_dir);
		if (!s->cache_dir)
			goto nomem;
	}
	s->cache_max_bytes = opts && opts->cache_max_bytes ? opts->cache_max_bytes
							   : SYM_DEFAULT_CACHE_MAX_BYTES;
	*ret_session = s;
	return 0;
nomem:
	sym_session__free(s);
	return -ENOMEM;
}

void sym_session__free(struct sym_session *s)
{
	if (!s)
		return;
	sym_unwind__forget(s, 0);
	sym_binary__close_root(s);
	sym_processes__fini(s);
	sym_binaries__fini(s);
	sym_frames__fini(s);
	sym_kernel__free(s->kernel);
	sym_py__free(s->py);
	sym_strings__fini(&s->strings);
	free(s->debug_dir);
	free(s->cache_dir);
	free(s->root);
	free(s);
}

void sym_session__stats(const struct sym_session *s, struct sym_stats *ret_stats)
{
	*ret_stats = s->stats;
	ret_stats->binary_memory = s->bin_memory;
	ret_stats->string_memory = s->strings.bytes;
	ret_stats->process_memory = s->proc_memory;
	ret_stats->kernel_memory = sym_kernel__memory(s->kernel);
	ret_stats->unwind_memory = sym_unwind__memory(&ret_stats->unwind_memo_resets);
	ret_stats->memory = s->bin_memory + s->strings.bytes + s->proc_memory +
			    ret_stats->kernel_memory + ret_stats->unwind_memory;
}
