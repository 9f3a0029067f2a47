/* SPDX-License-Identifier: Apache-2.0 */
/*
 * perfmap.c — JIT symbols from /tmp/perf-PID.map, the file that Node
 * (--perf-basic-prof), the JVM with perf-map-agent, LuaJIT, .NET and others
 * write: one "START SIZE NAME" line (hex addresses) per generated function.
 * The session reads it for addresses in anonymous executable memory; later
 * lines win over earlier ones for the same start (code was regenerated).
 * The file is another user's (opened by the session under the rules of
 * file.c): it is read in chunks, its length, each line's length and the
 * time spent reading it bounded, never with getline() on a FILE.
 */
#include "sym-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

/* A runaway map file cannot make us use unbounded memory. */
#define MAX_ENTRIES (4u << 20)

struct perf_sym {
	uint64_t start;  /* first: sym_sorted__count_le() searches it */
	uint64_t end;
	uint32_t order;
	const char *name;
};

struct sym_perfmap {
	struct perf_sym *syms;
	size_t n, cap;
	struct sym_strings strings;
};

static int perf_cmp(const void *pa, const void *pb)
{
	const struct perf_sym *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->order < b->order ? 1 : a->order > b->order ? -1 : 0; /* newest first */
}

/* One "START SIZE NAME" line, line[0..len) without its newline. */
static int add_line(struct sym_perfmap *m, size_t *cap, char *line, size_t len)
{
	uint64_t start, size;
	int name_at = 0;
	char *name;

	line[len] = '\0';
	if (sscanf(line, "%" SCNx64 " %" SCNx64 " %n", &start, &size, &name_at) != 2 ||
	    !name_at || size == 0 || start + size < start)
		return 0;
	name = line + name_at;
	name[strcspn(name, "\r")] = '\0';
	if (!name[0])
		return 0;
	if (COMMON_GROW(m->syms, *cap, m->n + 1))
		return -ENOMEM;
	m->syms[m->n] = (struct perf_sym){
		.start = start, .end = start + size, .order = (uint32_t)m->n,
		.name = sym_strings__intern(&m->strings, name, strlen(name)),
	};
	if (!m->syms[m->n].name)
		return -ENOMEM;
	m->n++;
	return 0;
}

int sym_perfmap__read_fd(int fd, uint64_t max_bytes, const struct sym_fs *fs,
			 struct sym_perfmap **ret_map)
{
	uint64_t deadline = common_now_ns() + SYM_FILE_READ_NS, off, end;
	/* a line and the chunk after it: a line never needs more */
	size_t bufsz = SYM_PERFMAP_MAX_LINE + 65536, have = 0, cap = 0, n = 0;
	bool cut = false, skipping;
	struct sym_perfmap *m;
	struct stat st;
	char *buf;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	end = (uint64_t)st.st_size;
	/* The newest code is at the end: a map longer than the bound is
	 * read from where its last max_bytes begin, at a line start. */
	off = end > max_bytes ? end - max_bytes : 0;
	skipping = off > 0;
	cut = off > 0;
	m = calloc(1, sizeof(*m));
	buf = malloc(bufsz + 1);
	if (!m || !buf) {
		free(buf);
		free(m);
		return -ENOMEM;
	}
	while (off < end && m->n < MAX_ENTRIES) {
		size_t want = (size_t)MIN((uint64_t)(bufsz - have), end - off), at = 0;
		char *nl;

		r = sym_file_read_at(fs, fd, buf + have, want, off, deadline);
		if (r == -EIO) {
			r = 0;  /* truncated while read: keep what was read */
			break;
		}
		if (r < 0)
			break;
		off += want;
		have += want;
		while (r == 0 && (nl = memchr(buf + at, '\n', have - at))) {
			size_t len = (size_t)(nl - (buf + at));

			if (skipping)
				skipping = false;
			else if (len > SYM_PERFMAP_MAX_LINE)
				cut = true;
			else
				r = add_line(m, &cap, buf + at, len);
			at += len + 1;
		}
		/* The rest is an unfinished line: kept for the next chunk,
		 * unless it is already too long to be one (it is skipped up
		 * to its end). */
		memmove(buf, buf + at, have - at);
		have -= at;
		if (have > SYM_PERFMAP_MAX_LINE) {
			cut = true;
			skipping = true;
			have = 0;
		}
	}
	/* a last line without its newline (being written) */
	if (r == 0 && have && !skipping && have <= SYM_PERFMAP_MAX_LINE)
		r = add_line(m, &cap, buf, have);
	free(buf);
	if (r < 0) {
		sym_perfmap__free(m);
		return r;
	}
	if (cut)
		sym_fs__refuse(fs, SYM_REFUSED_TOO_BIG);
	if (m->n)
		qsort(m->syms, m->n, sizeof(*m->syms), perf_cmp);
	/* keep the newest entry per start */
	for (size_t i = 0; i < m->n; i++)
		if (n == 0 || m->syms[n - 1].start != m->syms[i].start)
			m->syms[n++] = m->syms[i];
	m->n = n;
	m->cap = cap;
	*ret_map = m;
	return 0;
}

size_t sym_perfmap__memory(const struct sym_perfmap *m)
{
	return m ? sizeof(*m) + m->cap * sizeof(*m->syms) + m->strings.bytes : 0;
}

void sym_perfmap__free(struct sym_perfmap *m)
{
	if (!m)
		return;
	free(m->syms);
	sym_strings__fini(&m->strings);
	free(m);
}

const char *sym_perfmap__lookup(const struct sym_perfmap *m, uint64_t addr)
{
	size_t i = sym_sorted__count_le(m->syms, m->n, sizeof(*m->syms), addr);

	/* entries may overlap when code was regenerated: look back a little */
	for (size_t k = 0; i > 0 && k < 4; i--, k++)
		if (addr < m->syms[i - 1].end)
			return m->syms[i - 1].name;
	return NULL;
}
