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
#include <sys/ioctl.h>
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

/* Fill in m's kind, deleted flag and path from the name of a mapping as
 * the maps file prints it, then hand m over. Returns 1 or -ENOMEM. */
static int maps_name(const char *path, size_t len, struct sym_maps_entry *m,
		     struct sym_maps_entry *ret_entry)
{
	size_t dl = strlen(DELETED_SUFFIX);

	if (len >= dl && memcmp(path + len - dl, DELETED_SUFFIX, dl) == 0) {
		m->deleted = true;
		len -= dl;
	}
	if (len == 0)
		m->kind = SYM_MAP_ANON;
	else if (len == 6 && memcmp(path, "[vdso]", 6) == 0)
		m->kind = SYM_MAP_VDSO;
	else if (len == 10 && memcmp(path, "[vsyscall]", 10) == 0)
		m->kind = SYM_MAP_VSYSCALL;
	else if (path[0] == '[')
		m->kind = SYM_MAP_SPECIAL;
	else if (path[0] == '/')
		m->kind = SYM_MAP_FILE;
	else
		/* "/memfd:x (deleted)" starts with '/'; anything else without a
		 * slash (e.g. "anon_inode:...") has no file to open. */
		m->kind = SYM_MAP_SPECIAL;
	m->path = strndup(path, len);
	if (!m->path)
		return -ENOMEM;
	*ret_entry = *m;
	return 1;
}

/* "start-end perms offset major:minor inode   path", by hand: sscanf was a
 * tenth of the agent's CPU under process churn. */
int sym_maps__parse_line(const char *line, size_t len,
			 struct sym_maps_entry *ret_entry)
{
	struct sym_maps_entry m = { 0 };
	const char *p = line, *end = line + len, *perms;
	uint64_t major, minor;

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
	return maps_name(p, (size_t)(end - p), &m, ret_entry);
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

/* The rest of fd, read with read(2) into *buf (grown as needed, kept for
 * the next call). Returns its length or -errno. */
static ssize_t read_whole(int fd, char **buf, size_t *cap)
{
	size_t n = 0;

	for (;;) {
		ssize_t got;

		/* 64 KiB at first: most maps files fit in one read. */
		if (COMMON_GROW(*buf, *cap, MAX(n + 4096, (size_t)65536)))
			return -ENOMEM;
		got = read(fd, *buf + n, *cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	return (ssize_t)n;
}

struct entries {
	struct sym_maps_entry *v;
	size_t n, cap;
};

static int entries_push(struct entries *e, const struct sym_maps_entry *m)
{
	if (COMMON_GROW(e->v, e->cap, e->n + 1))
		return -ENOMEM;
	e->v[e->n++] = *m;
	return 0;
}

/* The text of the maps file: every line, executable ones kept. */
static int maps_text(int fd, char **buf, size_t *buf_cap, struct entries *e)
{
	const char *line, *end;
	ssize_t len = read_whole(fd, buf, buf_cap);
	int r = 0;

	if (len < 0)
		return (int)len;
	for (line = *buf, end = *buf + len; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t line_len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		struct sym_maps_entry m;

		r = sym_maps__parse_line(line, line_len, &m);
		line += line_len + 1;
		if (r == -ENOMEM)
			return r;
		if (r <= 0)
			continue;  /* malformed or not executable */
		if (entries_push(e, &m) < 0) {
			free(m.path);
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * PROCMAP_QUERY (Linux 6.11): the kernel hands over the executable
 * mappings one ioctl each, as numbers, where the maps file formats every
 * mapping as text (half of the agent's CPU under process churn was the
 * kernel printing maps). The layout is the kernel's ABI (linux/fs.h);
 * Debian 12's headers predate it.
 */
struct procmap_query_abi {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};

#define PROCMAP_QUERY_ABI _IOWR('f', 17, struct procmap_query_abi)
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10

bool sym_maps_no_query; /* tests: the text path even where the ioctl works */

/* Returns 1 (done), 0 (the kernel has no PROCMAP_QUERY: read the text),
 * or -errno. */
static int maps_query(int fd, struct entries *e)
{
	char name[4096];
	uint64_t addr = 0;

	if (sym_maps_no_query)
		return 0;
	for (;;) {
		struct procmap_query_abi q = {
			.size = sizeof(q),
			.query_flags = PROCMAP_QUERY_VMA_EXECUTABLE |
				       PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
			.query_addr = addr,
			.vma_name_size = sizeof(name),
			.vma_name_addr = (uint64_t)(uintptr_t)name,
		};
		struct sym_maps_entry m = { 0 };
		int r;

		if (ioctl(fd, PROCMAP_QUERY_ABI, &q) < 0) {
			if (errno == ENOENT)
				return 1;  /* no executable mapping above addr */
			if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP)
				return e->n ? -EINVAL : 0;
			return -errno;
		}
		if (q.vma_end <= q.vma_start || q.vma_start < addr ||
		    q.vma_name_size > sizeof(name))
			return -EINVAL;
		m.start = q.vma_start;
		m.end = q.vma_end;
		m.offset = q.vma_offset;
		m.inode = q.inode;
		m.dev_major = q.dev_major;
		m.dev_minor = q.dev_minor;
		/* The name's size counts its NUL; 0 for anonymous memory. */
		r = maps_name(name, q.vma_name_size ? strnlen(name, q.vma_name_size) : 0,
			      &m, &m);
		if (r < 0)
			return r;
		if (entries_push(e, &m) < 0) {
			free(m.path);
			return -ENOMEM;
		}
		addr = q.vma_end;
	}
}

int sym_maps__open(const char *root, pid_t pid, int *ret_fd)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%d/maps", root, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ESRCH :
		       errno == ENOMEM ? -ENOMEM : -EACCES;
	*ret_fd = fd;
	return 0;
}

int sym_maps__read_fd(int fd, char **buf, size_t *buf_cap,
		      struct sym_maps_entry **ret_entries, size_t *ret_n)
{
	struct entries e = { 0 };
	int r;

	r = maps_query(fd, &e);
	/* The text from its start: the fd may have been read before. */
	if (r == 0)
		r = lseek(fd, 0, SEEK_SET) < 0 ? -errno :
		    maps_text(fd, buf, buf_cap, &e);
	if (r < 0) {
		sym_maps__free(e.v, e.n);
		/* A process that exits while we read gives ESRCH. */
		return r == -ENOMEM ? -ENOMEM :
		       r == -EACCES || r == -EPERM ? -EACCES : -ESRCH;
	}
	if (e.n)
		qsort(e.v, e.n, sizeof(*e.v), entry_cmp);
	*ret_entries = e.v;
	*ret_n = e.n;
	return 0;
}

int sym_maps__read(const char *root, pid_t pid, char **buf, size_t *buf_cap,
		   struct sym_maps_entry **ret_entries, size_t *ret_n)
{
	int fd, r;

	r = sym_maps__open(root, pid, &fd);
	if (r < 0)
		return r;
	r = sym_maps__read_fd(fd, buf, buf_cap, ret_entries, ret_n);
	close(fd);
	return r;
}
