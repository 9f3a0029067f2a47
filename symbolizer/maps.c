/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maps.c — reads ROOT/proc/PID/maps and keeps the executable mappings: start,
 * end, file offset, device, inode and path, classified as a file, [vdso],
 * [vsyscall], anonymous executable memory (JIT) or another special mapping.
 * The session turns these entries into its per-process snapshot.
 */
#include "sym-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DELETED_SUFFIX " (deleted)"

int sym_maps__parse_line(const char *line, struct sym_maps_entry *ret_entry)
{
	struct sym_maps_entry m = { 0 };
	char perms[8];
	unsigned long long start, end, offset, inode;
	unsigned major, minor;
	int pos = 0;
	const char *path;
	size_t len;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu%n", &start, &end, perms,
		   &offset, &major, &minor, &inode, &pos) != 7 || pos == 0)
		return -EINVAL;
	if (end <= start || strlen(perms) < 4)
		return -EINVAL;
	if (perms[2] != 'x')
		return 0;
	path = line + pos;
	path += strspn(path, " \t");
	len = strcspn(path, "\n");
	m.start = start;
	m.end = end;
	m.offset = offset;
	m.inode = inode;
	m.dev_major = major;
	m.dev_minor = minor;
	if (len >= strlen(DELETED_SUFFIX) &&
	    memcmp(path + len - strlen(DELETED_SUFFIX), DELETED_SUFFIX,
		   strlen(DELETED_SUFFIX)) == 0) {
		m.deleted = true;
		len -= strlen(DELETED_SUFFIX);
	}
	if (len == 0)
		m.kind = SYM_MAP_ANON;
	else if (len == 6 && memcmp(path, "[vdso]", 6) == 0)
		m.kind = SYM_MAP_VDSO;
	else if (len == 10 && memcmp(path, "[vsyscall]", 10) == 0)
		m.kind = SYM_MAP_VSYSCALL;
	else if (path[0] == '[')
		m.kind = SYM_MAP_SPECIAL;
	else if (path[0] == '/')
		m.kind = SYM_MAP_FILE;
	else
		/* "/memfd:x (deleted)" starts with '/'; anything else without a
		 * slash (e.g. "anon_inode:...") has no file to open. */
		m.kind = SYM_MAP_SPECIAL;
	m.path = strndup(path, len);
	if (!m.path)
		return -ENOMEM;
	*ret_entry = m;
	return 1;
}

void sym_maps__free(struct sym_maps_entry *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++)
		free(entries[i].path);
	free(entries);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct sym_maps_entry *a = pa, *b = pb;

	return a->start < b->start ? -1 : a->start > b->start;
}

int sym_maps__read(const char *root, pid_t pid,
		   struct sym_maps_entry **ret_entries, size_t *ret_n)
{
	struct sym_maps_entry *v = NULL;
	size_t n = 0, cap = 0, linecap = 0;
	char path[4096], *line = NULL;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/proc/%d/maps", root, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH ? -ESRCH :
		       errno == ENOMEM ? -ENOMEM : -EACCES;
	for (;;) {
		struct sym_maps_entry m;
		ssize_t got;

		errno = 0;
		got = getline(&line, &linecap, f);
		if (got < 0) {
			/* A process that exits while we read gives ESRCH. */
			if (errno == ENOMEM)
				r = -ENOMEM;
			else if (errno)
				r = -ESRCH;
			break;
		}
		r = sym_maps__parse_line(line, &m);
		if (r == -ENOMEM)
			break;
		if (r <= 0) {
			r = 0;  /* skip malformed and non-executable lines */
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct sym_maps_entry *p = reallocarray(v, ncap, sizeof(*p));

			if (!p) {
				free(m.path);
				r = -ENOMEM;
				break;
			}
			v = p;
			cap = ncap;
		}
		v[n++] = m;
	}
	free(line);
	fclose(f);
	if (r < 0) {
		sym_maps__free(v, n);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);
	*ret_entries = v;
	*ret_n = n;
	return 0;
}
