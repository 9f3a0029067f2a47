/* SPDX-License-Identifier: Apache-2.0 */
/*
 * perfmap.c — JIT symbols from /tmp/perf-PID.map, the file that Node
 * (--perf-basic-prof), the JVM with perf-map-agent, LuaJIT, .NET and others
 * write: one "START SIZE NAME" line (hex addresses) per generated function.
 * The session reads it for addresses in anonymous executable memory; later
 * lines win over earlier ones for the same start (code was regenerated).
 */
#include "sym-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	size_t n;
	struct sym_strings strings;
};

static int perf_cmp(const void *pa, const void *pb)
{
	const struct perf_sym *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->order < b->order ? 1 : a->order > b->order ? -1 : 0; /* newest first */
}

int sym_perfmap__load(const char *path, struct sym_perfmap **ret_map)
{
	struct sym_perfmap *m;
	size_t cap = 0, len = 0, n = 0;
	char *line = NULL;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	m = calloc(1, sizeof(*m));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (getline(&line, &len, f) > 0 && m->n < MAX_ENTRIES) {
		uint64_t start, size;
		int name_at = 0;
		char *name;

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %n", &start, &size, &name_at) != 2 ||
		    !name_at || size == 0 || start + size < start)
			continue;
		name = line + name_at;
		name[strcspn(name, "\r\n")] = '\0';
		if (!name[0])
			continue;
		if (m->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct perf_sym *p = reallocarray(m->syms, ncap, sizeof(*p));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			m->syms = p;
			cap = ncap;
		}
		m->syms[m->n] = (struct perf_sym){
			.start = start, .end = start + size, .order = (uint32_t)m->n,
			.name = sym_strings__intern(&m->strings, name, strlen(name)),
		};
		if (!m->syms[m->n].name) {
			r = -ENOMEM;
			break;
		}
		m->n++;
	}
	free(line);
	fclose(f);
	if (r < 0) {
		sym_perfmap__free(m);
		return r;
	}
	if (m->n)
		qsort(m->syms, m->n, sizeof(*m->syms), perf_cmp);
	/* keep the newest entry per start */
	for (size_t i = 0; i < m->n; i++)
		if (n == 0 || m->syms[n - 1].start != m->syms[i].start)
			m->syms[n++] = m->syms[i];
	m->n = n;
	*ret_map = m;
	return 0;
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
