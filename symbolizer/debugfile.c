/* SPDX-License-Identifier: Apache-2.0 */
/*
 * debugfile.c — where a binary's debug information is, found while the
 * process that maps the binary, and so its root, exists: the separate
 * debug file (DEBUG_DIR/.build-id/xx/rest.debug with the binary's
 * build-id, else the .gnu_debuglink file with its CRC, next to the
 * binary, in .debug/ beside it or under DEBUG_DIR), the files that DWARF
 * refers to (the dwz / DWARF 5 supplementary file, PATH.dwp, the root
 * .dwo paths resolve in), and the MiniDebugInfo image (.gnu_debugdata,
 * xz). elf.c reads what it finds. Below elf.c, above elf-sections.c and
 * file.c.
 *
 * Invariants:
 * - Every file opened here is opened by sym_debug_open() (file.c; the
 *   .dwo files too, by dwarf-split.c), that is by sym_file_open()'s rules
 *   for files other users control: a regular file, O_NONBLOCK, resolved
 *   inside the process's root when the path is the process's (beside the
 *   binary, a link it names) and in ours when it is DEBUG_DIR's, at most
 *   SYM_FILE_MAX_SIZE bytes, each refusal counted. sym_debug_open()
 *   asserts the first, second and last on every fd it hands out; nothing
 *   here calls open() itself.
 * - A file is used only as what it claims to be: a build-id file's
 *   build-id is the binary's, a debuglink file's CRC is the one the link
 *   records, a supplementary file's build-id (or .debug_sup checksum) is
 *   the one its link names.
 * - Bounded: a debuglink CRC reads the file within SYM_FILE_READ_NS; a
 *   debug file whose symbol tables would pass the memory bound is passed
 *   over (over-budget); MiniDebugInfo is inflated to at most
 *   MAX_MINI_DEBUG and a quarter of the bound (asserted).
 * - Ownership: every fd and libelf handle handed out is the caller's;
 *   whatever was opened for a candidate not taken is closed before the
 *   next one is tried.
 */
#include "sym-internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"

/*
 * Every file a binary or its debug file names (a debug file by build-id or
 * .gnu_debuglink, a dwz / supplementary file, a .dwp) is opened here: a
 * path the process gave resolved inside its root when in_root, else a
 * path in the profiler's root (DEBUG_DIR). Returns an fd or -errno
 * (-EPERM: refused and counted).
 */
static int open_named(const struct sym_elf_where *where, bool in_root, const char *path)
{
	struct sym_fs fs = {
		.root_fd = in_root && where ? where->fs.root_fd : -1,
		.refused = where ? where->fs.refused : NULL,
	};

	return sym_debug_open(&fs, path);
}

void sym_dwarf_files__close(struct sym_dwarf_files *f)
{
	if (f->alt_fd >= 0)
		close(f->alt_fd);
	if (f->dwp_fd >= 0)
		close(f->dwp_fd);
	if (f->root_fd >= 0)
		close(f->root_fd);
	f->alt_fd = f->dwp_fd = f->root_fd = -1;
}

/* ---- the separate debug file ---------------------------------------------- */

void sym_debug_file__close(struct sym_debug_file *f)
{
	elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

/*
 * Takes the candidate open at fd with elf (found at path, in the
 * process's root when in_root; NULL when unknown) unless its symbol table
 * alone would pass the memory bound (over-budget: both closed). Returns 1
 * when taken into *ret, else 0.
 */
static int take(int fd, Elf *elf, const struct sym_elf_where *where, const char *path,
		bool in_root, struct sym_debug_file *ret)
{
	if (sym_elf_cost(elf, true) > sym_elf_where__max_bytes(where)) {
		sym_fs__refuse(where ? &where->fs : NULL, SYM_REFUSED_BUDGET);
		elf_end(elf);
		close(fd);
		return 0;
	}
	*ret = (struct sym_debug_file){ .fd = fd, .elf = elf, .in_root = in_root };
	snprintf(ret->path, sizeof(ret->path), "%s", path ? path : "");
	return 1;
}

/*
 * The debug file a previous load chose (where->debug_fd), without looking
 * again: the process whose root it was found through may be gone.
 */
static int known_file(int known, const struct sym_elf_where *where, struct sym_debug_file *ret)
{
	Elf *elf;
	int fd;

	if (known < 0)
		return 0;
	fd = fcntl(known, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	elf = sym_elf_open(fd);
	if (!elf) {
		close(fd);
		return 0;
	}
	return take(fd, elf, where, NULL, false, ret);
}

/* DEBUG_DIR/.build-id/xx/rest.debug, when it exists and its build-id is
 * build_id. */
static int build_id_file(const char *build_id, const struct sym_elf_where *where,
			 struct sym_debug_file *ret)
{
	char path[4096], *id = NULL;
	Elf *elf = NULL;
	int fd, r = 0;

	if (!where || !where->debug_dir || !build_id || strlen(build_id) < 4)
		return 0;
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", where->debug_dir,
		 build_id, build_id + 2);
	fd = open_named(where, false, path);
	if (fd < 0)
		return 0;
	elf = sym_elf_open(fd);
	if (elf)
		r = sym_elf_read_build_id(elf, &id);
	if (elf && r == 0 && id && !strcmp(id, build_id)) {
		free(id);
		return take(fd, elf, where, path, false, ret);
	}
	free(id);
	elf_end(elf);
	close(fd);
	return r;
}

/* CRC-32 of a whole file, as .gnu_debuglink records it: the file is
 * another user's, so the read is bounded in time (its size is bounded by
 * the open). */
static int file_crc(const struct sym_elf_where *where, int fd, uint32_t *ret_crc)
{
	static const size_t chunk = 1u << 16;
	uint64_t deadline = common_now_ns() + SYM_FILE_READ_NS;
	unsigned char *buf = malloc(chunk);
	uLong crc = crc32(0, Z_NULL, 0);
	struct stat st;
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	if (fstat(fd, &st) < 0)
		r = -errno;
	while (r == 0 && off < (uint64_t)st.st_size) {
		size_t n = (size_t)MIN((uint64_t)chunk, (uint64_t)st.st_size - off);

		r = sym_file_read_at(where ? &where->fs : NULL, fd, buf, n, off, deadline);
		if (r < 0)
			break;
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	free(buf);
	if (r < 0)
		return r;
	*ret_crc = (uint32_t)crc;
	return 0;
}

/*
 * The .gnu_debuglink file of self: next to the binary, in .debug/ next to
 * it, or under DEBUG_DIR with the binary's directory, with a matching CRC.
 */
static int debuglink_file(Elf *self, const struct sym_elf_where *where,
			  struct sym_debug_file *ret)
{
	size_t size = 0;
	const unsigned char *data = sym_elf_section_bytes(self, ".gnu_debuglink", &size);
	const char *link, *slash;
	char dir[4096], path[8192];
	uint32_t want, crc = 0;
	size_t len;

	if (!where || !where->path || !data || size < 8)
		return 0;
	link = (const char *)data;
	len = strnlen(link, size);
	if (len == 0 || len + 1 + 4 > size || strchr(link, '/'))
		return 0;
	/* the CRC is the 4-byte aligned word after the name */
	memcpy(&want, data + ((len + 4) & ~(size_t)3), 4);
	slash = strrchr(where->path, '/');
	if (!slash)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - where->path), where->path);
	for (int i = 0; i < 3; i++) {
		Elf *elf;
		int fd, r;

		/* next to the binary and in .debug/ are the process's files:
		 * resolved in its root */
		if (i == 0)
			snprintf(path, sizeof(path), "%s/%s", dir, link);
		else if (i == 1)
			snprintf(path, sizeof(path), "%s/.debug/%s", dir, link);
		else if (where->debug_dir)
			snprintf(path, sizeof(path), "%s%s/%s", where->debug_dir, dir, link);
		else
			break;
		fd = open_named(where, i < 2, path);
		if (fd < 0)
			continue;
		r = file_crc(where, fd, &crc);
		if (r == -ENOMEM) {
			close(fd);
			return r;
		}
		if (r < 0 || crc != want || !(elf = sym_elf_open(fd))) {
			close(fd);
			continue;
		}
		if (take(fd, elf, where, path, i < 2, ret))
			return 1;
	}
	return 0;
}

int sym_debug_file__find(Elf *self, const char *build_id, const struct sym_elf_where *where,
			 struct sym_debug_file *ret)
{
	int r;

	if (where && where->have_debug_fd)
		return known_file(where->debug_fd, where, ret);
	r = build_id_file(build_id, where, ret);
	if (r == 0)
		r = debuglink_file(self, where, ret);
	return r;
}

/* ---- the files the DWARF refers to ------------------------------------ */

/*
 * The .debug_sup section of elf (DWARF 5: version 5, is_supplementary, a
 * path, a ULEB128 checksum length and the checksum) when is_supplementary
 * is sup: 1 with the path (empty in a supplementary file) and the
 * checksum, else 0.
 */
static int debug_sup(Elf *elf, bool sup, char *path, size_t path_size, unsigned char *id,
		     size_t *ret_id_len)
{
	size_t n = 0, len, off, clen = 0;
	const unsigned char *p = sym_elf_section_bytes(elf, ".debug_sup", &n);

	if (!p || n < 5)
		return 0;
	if ((p[0] | p[1] << 8) != 5 || p[2] != sup)
		return 0;
	len = strnlen((const char *)p + 3, n - 3);
	if (3 + len >= n || len >= path_size)
		return 0;
	memcpy(path, p + 3, len + 1);
	off = 3 + len + 1;
	for (unsigned shift = 0; off < n && shift < 28; shift += 7) {
		clen |= (size_t)(p[off] & 0x7f) << shift;
		if (!(p[off++] & 0x80))
			break;
	}
	if (clen > n - off)
		return 0;
	*ret_id_len = MIN(clen, (size_t)SYM_MAX_BUILD_ID);
	memcpy(id, p + off, *ret_id_len);
	return 1;
}

/*
 * The supplementary file the DWARF file elf names: .gnu_debugaltlink (dwz:
 * the path, a NUL, the file's build-id) or .debug_sup (DWARF 5; the
 * checksum, which the supplementary file's own .debug_sup repeats).
 * Returns 1 with the path, the id (*ret_id_len 0: nothing to check) and
 * *ret_sup, or 0 when it names none.
 */
static int alt_link(Elf *elf, char *path, size_t path_size, unsigned char *id,
		    size_t *ret_id_len, bool *ret_sup)
{
	size_t n = 0, len;
	const unsigned char *p = sym_elf_section_bytes(elf, ".gnu_debugaltlink", &n);

	*ret_sup = false;
	if (p && n > 1) {
		len = strnlen((const char *)p, n);
		if (len == 0 || len >= n || len >= path_size)
			return 0;
		memcpy(path, p, len + 1);
		*ret_id_len = MIN(n - len - 1, (size_t)SYM_MAX_BUILD_ID);
		memcpy(id, p + len + 1, *ret_id_len);
		return 1;
	}
	*ret_sup = true;
	return debug_sup(elf, false, path, path_size, id, ret_id_len) && path[0];
}

/* The candidate path for a supplementary file whose identity is want
 * (lowercase hex, "" when there is nothing to check): its build-id, or
 * for a DWARF 5 one (sup) its .debug_sup checksum. Returns its fd, or -1;
 * *mismatch is set when it is an ELF file of another identity. */
static int alt_try(const struct sym_elf_where *where, bool in_root, const char *path,
		   const char *want, bool sup, bool *mismatch)
{
	int fd = open_named(where, in_root, path);
	unsigned char sum[SYM_MAX_BUILD_ID];
	char *id = NULL, name[8];
	size_t len = 0;
	Elf *elf;
	bool ok;

	if (fd < 0)
		return -1;
	elf = sym_elf_open(fd);
	if (elf && sup && debug_sup(elf, true, name, sizeof(name), sum, &len)) {
		id = malloc(2 * len + 1);
		if (id) {
			common_hex(sum, len, id);
			id[2 * len] = '\0';
		}
	} else if (elf && !sup && sym_elf_read_build_id(elf, &id) < 0) {
		id = NULL;
	}
	ok = elf && (!*want || (id && !strcmp(id, want)));
	if (elf && !ok)
		*mismatch = true;
	free(id);
	elf_end(elf);
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The supplementary file of the DWARF file elf (found at dwarf_path):
 * as its link says (an absolute path in the process's root and in ours,
 * a relative one beside the debug file, also through its real path),
 * then by its build-id in DEBUG_DIR/.build-id/, then in DEBUG_DIR/.dwz/
 * (Debian's /usr/lib/debug/.dwz/TRIPLET/PACKAGE.debug). The first whose
 * build-id matches is kept in files->alt_fd.
 */
static void find_alt(Elf *elf, const struct sym_elf_where *where, const char *dwarf_path,
		     bool dwarf_in_root, int dwarf_fd, struct sym_dwarf_files *files)
{
	char link[2048], want[2 * SYM_MAX_BUILD_ID + 1], path[8192], dir[4096];
	const char *debug_dir = where ? where->debug_dir : NULL, *base, *slash;
	unsigned char id[SYM_MAX_BUILD_ID];
	size_t id_len = 0;
	bool mismatch = false, sup, in_root;
	int fd = -1;
	ssize_t n;

	if (!alt_link(elf, link, sizeof(link), id, &id_len, &sup))
		return;
	common_hex(id, id_len, want);
	want[2 * id_len] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	for (int i = 0; i < 8 && fd < 0; i++) {
		path[0] = '\0';
		in_root = false;
		switch (i) {
		case 0:  /* absolute, in the process's root */
			if (link[0] == '/' && where && where->fs.root_fd >= 0) {
				snprintf(path, sizeof(path), "%s", link);
				in_root = true;
			}
			break;
		case 1:  /* absolute, in ours */
			if (link[0] == '/')
				snprintf(path, sizeof(path), "%s", link);
			break;
		case 2:  /* relative to the debug file */
			slash = strrchr(dwarf_path, '/');
			if (link[0] != '/' && slash)
				snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - dwarf_path),
					 dwarf_path, link);
			in_root = dwarf_in_root;
			break;
		case 3:  /* relative to where a build-id link points */
			snprintf(dir, sizeof(dir), "/proc/self/fd/%d", dwarf_fd);
			n = link[0] != '/' ? readlink(dir, path, sizeof(path) - 1) : -1;
			path[n > 0 ? n : 0] = '\0';
			slash = strrchr(path, '/');
			if (slash) {
				snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
				snprintf(path, sizeof(path), "%s/%s", dir, link);
			} else {
				path[0] = '\0';
			}
			break;
		case 4:  /* /usr/lib/debug/... under our DEBUG_DIR */
			if (debug_dir && !strncmp(link, "/usr/lib/debug/", 15))
				snprintf(path, sizeof(path), "%s/%s", debug_dir, link + 15);
			break;
		case 5:  /* by build-id */
			if (debug_dir && id_len >= 2 && !sup)
				snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", debug_dir,
					 want, want + 2);
			break;
		case 6:  /* DEBUG_DIR/.dwz/DIR/NAME, DEBUG_DIR/.dwz/NAME */
			slash = base > link + 1 ? memrchr(link, '/', (size_t)(base - link - 1)) : NULL;
			if (debug_dir && slash)
				snprintf(path, sizeof(path), "%s/.dwz/%s", debug_dir, slash + 1);
			break;
		case 7:
			if (debug_dir)
				snprintf(path, sizeof(path), "%s/.dwz/%s", debug_dir, base);
			break;
		}
		if (path[0])
			fd = alt_try(where, in_root, path, want, sup, &mismatch);
	}
	files->alt_fd = fd;
	if (fd < 0)
		files->alt_issue = mismatch ? SYM_DEBUG_ALT_MISMATCH : SYM_DEBUG_ALT_MISSING;
}

/* Does the DWARF of elf keep its DIEs in .dwo files: a DWARF 5 skeleton
 * unit first, or GCC's DWARF 4 split units (the only DWARF 4 with a
 * .debug_addr)? */
static bool dwarf_is_split(Elf *elf)
{
	Elf_Scn *scn = sym_elf_section(elf, ".debug_info");
	bool addr = sym_elf_section(elf, ".debug_addr") != NULL;
	const unsigned char *p;
	unsigned version, type;
	GElf_Shdr sh;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &sh) || (sh.sh_flags & SHF_COMPRESSED))
		return addr;
	data = elf_getdata_rawchunk(elf, (int64_t)sh.sh_offset, MIN(sh.sh_size, 16), ELF_T_BYTE);
	if (!data || data->d_size < 16)
		return false;
	p = data->d_buf;
	if ((p[0] & p[1] & p[2] & p[3]) == 0xff)
		p += 8;  /* 64-bit DWARF */
	version = p[4] | p[5] << 8;
	type = p[6];
	return version == 5 ? type == 4 /* DW_UT_skeleton */ : version < 5 && addr;
}

int sym_dwarf_files__find(int dwarf_fd, const char *dwarf_path, bool dwarf_in_root,
			 const struct sym_elf_where *where, struct sym_dwarf_files *files)
{
	char path[8192];
	int fd = fcntl(dwarf_fd, F_DUPFD_CLOEXEC, 3);
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf = sym_elf_open(fd);
	if (elf) {
		find_alt(elf, where, dwarf_path ? dwarf_path : "", dwarf_in_root, dwarf_fd, files);
		if (dwarf_is_split(elf) && where && where->path) {
			snprintf(path, sizeof(path), "%s.dwp", where->path);
			files->dwp_fd = open_named(where, true, path);
			if (files->dwp_fd < 0)
				files->dwp_fd = -1;
			/* .dwo paths resolve in the process's root, also
			 * once the process is gone (-1: ours) */
			if (where->fs.root_fd >= 0)
				files->root_fd = fcntl(where->fs.root_fd, F_DUPFD_CLOEXEC, 3);
		}
		files->refused = where ? where->fs.refused : NULL;
		elf_end(elf);
	}
	close(fd);
	return 0;
}

/* ---- MiniDebugInfo -------------------------------------------------------- */

/* The xz-compressed ELF image in .gnu_debugdata (MiniDebugInfo) holds a
 * .symtab of the functions .dynsym lacks; it is small (kilobytes). */
#define MAX_MINI_DEBUG (64u << 20)

int sym_mini_debug__open(Elf *self, const struct sym_elf_where *where, Elf **ret_elf,
			 void **ret_image)
{
	size_t in_size = 0;
	const unsigned char *in = sym_elf_section_bytes(self, ".gnu_debugdata", &in_size);
	size_t out_size = 0, in_pos = 0, out_pos = 0;
	/* the image and xz's own memory, charged to the bound */
	uint64_t max = MIN((uint64_t)MAX_MINI_DEBUG, sym_elf_where__max_bytes(where) / 4);
	uint64_t memlimit = max;
	unsigned char *out = NULL;
	Elf *elf = NULL;
	lzma_ret lr = LZMA_BUF_ERROR;

	if (!in || in_size == 0)
		return 0;
	for (out_size = MAX(in_size * 8, 65536); out_size <= max; out_size *= 4) {
		unsigned char *p = realloc(out, out_size);

		if (!p) {
			free(out);
			return -ENOMEM;
		}
		out = p;
		in_pos = out_pos = 0;
		memlimit = max;
		lr = lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &in_pos,
					       in_size, out, &out_pos, out_size);
		if (lr != LZMA_BUF_ERROR)
			break;
	}
	if (out_size > max || lr == LZMA_MEMLIMIT_ERROR) {
		sym_fs__refuse(where ? &where->fs : NULL, SYM_REFUSED_BUDGET);
		goto none;
	}
	assert(out_pos <= max);
	if (lr != LZMA_OK)
		goto none;
	elf = elf_memory((char *)out, out_pos);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto none;
	*ret_elf = elf;
	*ret_image = out;
	return 1;
none:
	elf_end(elf);
	free(out);
	return 0;
}
