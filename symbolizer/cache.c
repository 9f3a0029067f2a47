/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache.c — the symbolizer's on-disk cache (sym_options.cache_dir, by
 * default /var/cache/ember for the profiler): what is expensive to derive
 * and the same every time, kept between runs, so that `ember record` in a
 * CI job and a restarted agent do not pay it again.
 *
 *   debug/XX/REST.debug  an uncompressed copy of a debug file whose DWARF
 *                        sections are compressed (SHF_COMPRESSED, as
 *                        Debian's -dbg and -dbgsym packages ship them):
 *                        inflating libc6-dbg's 3.7 MB of sections to 9.8 MB
 *                        took 80-90 ms of CPU on every run. Keyed by
 *                        build-id; checked against it when opened.
 *   kallsyms/BOOT-ID     the core kernel's text symbols (see kernel.c).
 *
 * Entries are written to a temporary file and renamed into place, so two
 * profilers writing at once or a crash mid-write never leave a partial
 * entry under its final name. Debug copies are bounded in bytes; the least
 * recently used go first. A cache that cannot be created or written (no
 * permission, full disk) is not an error: the caller reads the original.
 */
#include "sym-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "symbolizer.h"

/* Refresh an entry's mtime (its place in the LRU order) at most this often. */
#define TOUCH_AFTER_SECONDS (24 * 3600)

int sym_cache__mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int sym_cache__create(const char *dir, char **ret_tmp_path)
{
	char *tmp;
	int fd, r;

	r = sym_cache__mkdirs(dir);
	if (r < 0)
		return r;
	if (asprintf(&tmp, "%s/.tmp-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	*ret_tmp_path = tmp;
	return fd;
}

int sym_cache__commit(int fd, char *tmp_path, const char *path, mode_t mode)
{
	int r = 0;

	/* Durable before it is visible: after a crash the name shows either
	 * nothing or the whole entry. */
	if (fchmod(fd, mode) < 0 || fdatasync(fd) < 0 || rename(tmp_path, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp_path);
	close(fd);
	free(tmp_path);
	return r;
}

void sym_cache__abandon(int fd, char *tmp_path)
{
	if (fd >= 0)
		close(fd);
	if (tmp_path)
		unlink(tmp_path);
	free(tmp_path);
}

/* ---- debug copies -------------------------------------------------------- */

static bool is_compressed_debug(Elf *elf, size_t shstrndx, Elf_Scn *scn)
{
	GElf_Shdr shdr;
	const char *name;

	if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_COMPRESSED))
		return false;
	name = elf_strptr(elf, shstrndx, shdr.sh_name);
	return name && strncmp(name, ".debug_", 7) == 0;
}

/* Does fd's ELF have compressed DWARF sections (and how many bytes do
 * they claim inflated, when ret_inflated)? And is its build-id id? */
static bool elf_check(int fd, const char *id, bool *ret_compressed, uint64_t *ret_inflated)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	char *have = NULL;
	uint64_t inflated = 0;
	bool ok;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return false;
	ok = elf_kind(elf) == ELF_K_ELF && elf_getshdrstrndx(elf, &shstrndx) == 0 &&
	     sym_elf_read_build_id(elf, &have) == 0 && have && strcmp(have, id) == 0;
	*ret_compressed = false;
	while (ok && (scn = elf_nextscn(elf, scn))) {
		GElf_Chdr chdr;

		if (!is_compressed_debug(elf, shstrndx, scn))
			continue;
		*ret_compressed = true;
		if (gelf_getchdr(scn, &chdr))
			inflated += chdr.ch_size;
	}
	if (ret_inflated)
		*ret_inflated = inflated;
	free(have);
	elf_end(elf);
	return ok;
}

static int copy_file(int in, int out)
{
	char buf[1 << 16];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(in, buf, sizeof(buf), off)) > 0) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0)
				return -errno;
			done += w;
		}
		off += n;
	}
	return n < 0 ? -errno : 0;
}

/* Rewrites the ELF file open read-write at fd with its compressed DWARF
 * sections inflated (zlib or zstd: compress.c, since Debian 12's libelf
 * knows no zstd); libelf lays the file out again. */
static int inflate_in_place(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_RDWR, NULL);
	Elf_Scn *scn = NULL;
	uint8_t **bufs = NULL;
	size_t shstrndx, n_bufs = 0;
	struct stat st;
	int r = 0;

	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0 ||
	    fstat(fd, &st) < 0)
		r = -EINVAL;
	while (r == 0 && (scn = elf_nextscn(elf, scn))) {
		struct sym_compressed z;
		Elf_Data *data;
		GElf_Shdr shdr;
		uint8_t *buf, **p;

		if (!is_compressed_debug(elf, shstrndx, scn) || !gelf_getshdr(scn, &shdr))
			continue;
		if (sym_section_compression(elf, scn, &shdr, ".debug", &z) <= 0) {
			r = -EINVAL;
			break;
		}
		r = sym_section_inflate(fd, (uint64_t)st.st_size, &shdr, &z, &buf);
		if (r < 0)
			break;
		p = reallocarray(bufs, n_bufs + 1, sizeof(*bufs));
		if (!p) {
			free(buf);
			r = -ENOMEM;
			break;
		}
		bufs = p;
		bufs[n_bufs++] = buf;
		data = elf_getdata(scn, NULL);
		if (!data) {
			r = -EINVAL;
			break;
		}
		/* the section's one data block becomes the inflated bytes */
		data->d_buf = buf;
		data->d_size = (size_t)z.size;
		data->d_type = ELF_T_BYTE;
		data->d_off = 0;
		data->d_align = z.align ? z.align : 1;
		shdr.sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
		shdr.sh_size = z.size;
		shdr.sh_addralign = data->d_align;
		if (!gelf_update_shdr(scn, &shdr) || !elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY))
			r = -EINVAL;
	}
	if (r == 0 && elf_update(elf, ELF_C_WRITE) < 0)
		r = -EIO;
	elf_end(elf);
	for (size_t i = 0; i < n_bufs; i++)
		free(bufs[i]);
	free(bufs);
	return r;
}

struct entry {
	char *path;
	off_t size;
	time_t mtime;
};

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	return (a->mtime > b->mtime) - (a->mtime < b->mtime);
}

/* Keeps the debug copies under max bytes, oldest out first; best effort. */
static void prune(const char *debug_dir, uint64_t max)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	DIR *top = opendir(debug_dir);
	struct dirent *d;

	if (!top)
		return;
	while ((d = readdir(top))) {
		char sub[4096];
		DIR *dd;
		struct dirent *e;

		if (d->d_name[0] == '.' || strlen(d->d_name) != 2)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", debug_dir, d->d_name);
		dd = opendir(sub);
		if (!dd)
			continue;
		while ((e = readdir(dd))) {
			struct stat st;
			char *p;

			if (e->d_name[0] == '.' || asprintf(&p, "%s/%s", sub, e->d_name) < 0)
				continue;
			/* Out of memory, the file is left out (best effort) and
			 * the list kept as it was. */
			if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) ||
			    COMMON_GROW(v, cap, n + 1)) {
				free(p);
				continue;
			}
			v[n++] = (struct entry){ p, st.st_size, st.st_mtime };
			total += (uint64_t)st.st_size;
		}
		closedir(dd);
	}
	closedir(top);
	if (v)
		qsort(v, n, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < n; i++) {
		if (total > max && unlink(v[i].path) == 0)
			total -= (uint64_t)v[i].size;
		free(v[i].path);
	}
	free(v);
}

int sym_cache__debug_copy(const char *cache_dir, uint64_t max_bytes, const char *build_id,
			  int fd, uint64_t max_memory, int *ret_fd)
{
	char *dir = NULL, *path = NULL, *tmp = NULL;
	uint64_t inflated = 0;
	bool compressed;
	struct stat st;
	int cfd = -1, tfd = -1, r;

	if (!cache_dir || !*cache_dir || !build_id || strlen(build_id) < 4 ||
	    strspn(build_id, "0123456789abcdef") != strlen(build_id))
		return -ENOENT;
	if (asprintf(&dir, "%s/debug/%.2s", cache_dir, build_id) < 0)
		return -ENOMEM;
	if (asprintf(&path, "%s/%s.debug", dir, build_id + 2) < 0) {
		r = -ENOMEM;
		goto out;
	}
	cfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (cfd >= 0) {
		/* An entry that is not what its name says (tampered with, or
		 * from a libelf that wrote it wrongly) is replaced. */
		if (fstat(cfd, &st) == 0 && S_ISREG(st.st_mode) &&
		    elf_check(cfd, build_id, &compressed, NULL) && !compressed) {
			if (time(NULL) - st.st_mtime > TOUCH_AFTER_SECONDS)
				futimens(cfd, NULL);
			*ret_fd = cfd;
			cfd = -1;
			r = 0;
			goto out;
		}
		close(cfd);
		cfd = -1;
	}
	if (!elf_check(fd, build_id, &compressed, &inflated) || !compressed) {
		r = -ENOENT;
		goto out;
	}
	/* libelf inflates the whole file in memory: charged before, and a
	 * file the bound refuses is never written (a few hundred KB that
	 * claim hundreds of MB inflated) */
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size + inflated > max_memory) {
		r = -EFBIG;
		goto out;
	}
	tfd = sym_cache__create(dir, &tmp);
	if (tfd < 0) {
		/* -ENOENT means "nothing to cache" to the caller; a missing
		 * parent directory is a cache that does not work. */
		r = tfd == -ENOENT ? -ENOTDIR : tfd;
		goto out;
	}
	r = copy_file(fd, tfd);
	if (r == 0)
		r = inflate_in_place(tfd);
	if (r == 0 && !(elf_check(tfd, build_id, &compressed, NULL) && !compressed))
		r = -EIO;
	if (r < 0) {
		sym_cache__abandon(tfd, tmp);
		goto out;
	}
	r = sym_cache__commit(tfd, tmp, path, 0644);
	if (r < 0)
		goto out;
	cfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (cfd < 0) {
		r = -errno;
		goto out;
	}
	free(dir);
	dir = NULL;
	if (asprintf(&dir, "%s/debug", cache_dir) >= 0)
		prune(dir, max_bytes ? max_bytes : SYM_DEFAULT_CACHE_MAX_BYTES);
	*ret_fd = cfd;
	r = 1;
out:
	free(dir);
	free(path);
	return r;
}
