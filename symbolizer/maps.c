/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maps.c — reads ROOT/proc/PID/maps and keeps the executable mappings: start,
 * end, file offset, device, inode and path, classified as a file, [vdso],
 * [vsyscall], anonymous executable memory (JIT) or another special mapping.
 * The session turns these entries into its per-process snapshot.
 */
#include "sym-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define DELETED_SUFFIX " (deleted)"

/* A hexadecimal field at *p, up to end; moves *p past it. */
static bool parse_hex(const char **p, const char *end, uint64_t *ret)
{
	const char *q = *p;
	uint64_t v = 0;

	for (; q < end && q - *p <= 16; q++) {
		unsigned d;

		if (*q >= '0' && *q <= '9')
			d = (unsigned)(*q - '0');
		else if (*q >= 'a' && *q <= 'f')
			d = (unsigned)(*q - 'a' + 10);
		else if (*q >= 'A' && *q <= 'F')
			d = (unsigned)(*q - 'A' + 10);
		else
			break;
		v = v << 4 | d;
	}
	if (q == *p || q - *p > 16)
		return false;
	*p = q;
	*ret = v;
	return true;
}

static bool parse_dec(const char **p, const char *end, uint64_t *ret)
{
	const char *q = *p;
	uint64_t v = 0;

	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (q == *p)
		return false;
	*p = q;
	*ret = v;
	return true;
}

static bool skip_char(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* "start-end perms offset major:minor inode   path", by hand: sscanf was a
 * tenth of the agent's CPU under process churn. */
int sym_maps__parse_line(const char *line, size_t len,
			 struct sym_maps_entry *ret_entry)
{
	struct sym_maps_entry m = { 0 };
	const char *p = line, *end = line + len, *perms, *path;
	uint64_t major, minor;
	size_t dl = strlen(DELETED_SUFFIX);

	if (!parse_hex(&p, end, &m.start) || !skip_char(&p, end, '-') ||
	    !parse_hex(&p, end, &m.end) || !skip_char(&p, end, ' ') ||
	    m.end <= m.start)
		return -EINVAL;
	perms = p;
	while (p < end && *p != ' ')
		p++;
	if (p - perms < 4)
		return -EINVAL;
	if (perms[2] != 'x')
		return 0;
	if (!skip_char(&p, end, ' ') || !parse_hex(&p, end, &m.offset) ||
	    !skip_char(&p, end, ' ') || !parse_hex(&p, end, &major) ||
	    !skip_char(&p, end, ':') || !parse_hex(&p, end, &minor) ||
	    !skip_char(&p, end, ' ') || !parse_dec(&p, end, &m.inode) ||
	    major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	if (p < end && *p != ' ' && *p != '\t')
		return -EINVAL;
	m.dev_major = (unsigned)major;
	m.dev_minor = (unsigned)minor;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	path = p;
	len = (size_t)(end - path);
	if (len >= dl && memcmp(path + len - dl, DELETED_SUFFIX, dl) == 0) {
		m.deleted = true;
		len -= dl;
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

/* The whole of the file at path, read with read(2) into *buf (grown as
 * needed, kept for the next call). Returns its length or -errno. */
static ssize_t read_whole(const char *path, char **buf, size_t *cap)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (*cap - n < 4096) {
			size_t ncap = *cap ? *cap * 2 : 65536;
			char *p = realloc(*buf, ncap);

			if (!p) {
				close(fd);
				return -ENOMEM;
			}
			*buf = p;
			*cap = ncap;
		}
		got = read(fd, *buf + n, *cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	return (ssize_t)n;
}

int sym_maps__read(const char *root, pid_t pid, char **buf, size_t *buf_cap,
		   struct sym_maps_entry **ret_entries, size_t *ret_n)
{
	struct sym_maps_entry *v = NULL;
	size_t n = 0, cap = 0;
	char path[4096];
	const char *line, *end;
	ssize_t len;
	int r = 0;

	snprintf(path, sizeof(path), "%s/proc/%d/maps", root, (int)pid);
	len = read_whole(path, buf, buf_cap);
	if (len < 0)
		/* A process that exits while we read gives ESRCH. */
		return len == -ENOMEM ? -ENOMEM :
		       len == -EACCES || len == -EPERM ? -EACCES : -ESRCH;
	for (line = *buf, end = *buf + len; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t line_len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		struct sym_maps_entry m;

		r = sym_maps__parse_line(line, line_len, &m);
		line += line_len + 1;
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
