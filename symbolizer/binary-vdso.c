/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binary-vdso.c — the binary of a process's [vdso]: its image read from
 * ROOT/proc/PID/mem (or, where that is refused, our own vdso when the
 * size matches: the same kernel image) into a memfd and loaded as a file
 * by binary.c. Loaded once per session: every later 64-bit process
 * (vdso above 4 GiB) of the same size shares it without a read, and any
 * other process whose image is byte for byte the same shares it without
 * a parse. The image kept (s->vdso_image) is the one s->vdso_bin was
 * loaded from.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <link.h>

#include "common.h"

/* The vdso is a few pages; refuse to copy anything much larger. */
#define MAX_VDSO_SIZE (1u << 20)

/* Size of an in-memory ELF image from its headers (for our own vdso). */
static size_t elf_image_size(const ElfW(Ehdr) *eh)
{
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;

	for (unsigned i = 0; i < eh->e_phnum; i++)
		size = MAX(size, (size_t)(ph[i].p_offset + ph[i].p_filesz));
	return size;
}

/*
 * Reads the vdso image of pid from ROOT/proc/PID/mem. Where that is not
 * allowed, our own vdso is the same kernel image when its size matches (a
 * 32-bit process has another vdso of another size).
 */
static int vdso_read(struct sym_session *s, pid_t pid,
		     const struct sym_maps_entry *m, unsigned char *buf)
{
	size_t size = m->end - m->start;
	const ElfW(Ehdr) *own;
	char path[4096];
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%d/mem", s->root, (int)pid);
	fd = sym_file_open(&(struct sym_fs){ .root_fd = -1, .refused = s->stats.refused },
			   path, NULL, NULL);
	if (fd >= 0) {
		ssize_t got = pread(fd, buf, size, (off_t)m->start);

		close(fd);
		if (got == (ssize_t)size)
			return 0;
	}
	own = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!own || page <= 0 || memcmp(own->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOENT;
	if ((elf_image_size(own) + (size_t)page - 1) / (size_t)page * (size_t)page != size)
		return -ENOENT;
	memcpy(buf, own, size);
	return 0;
}

int sym_binary__of_vdso(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	size_t size = m->end - m->start;
	unsigned char *buf = NULL;
	int fd = -1, r = 0;

	ret->fail = SYM_MISS_NO_FILE;
	if (size > MAX_VDSO_SIZE)
		return 0;
	/* Every 64-bit process of a kernel has the same vdso (mapped above
	 * 4 GiB; a 32-bit or x32 process's is below): once one is loaded,
	 * reading each new process's memory for it again is not needed. */
	if (s->vdso_bin && s->vdso_high && m->start >= 1ULL << 32 &&
	    s->vdso_size == size) {
		ret->bin = s->vdso_bin;
		return 0;
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (vdso_read(s, pid, m, buf) < 0)
		goto out;
	/* Every process of a kernel has the same vdso: skip the parse. */
	if (s->vdso_bin && s->vdso_size == size && memcmp(s->vdso_image, buf, size) == 0) {
		ret->bin = s->vdso_bin;
		goto out;
	}
	fd = memfd_create("ember-vdso", MFD_CLOEXEC);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		goto out;
	r = sym_binary__from_fd(s, fd, NULL, NULL, &ret->bin);
	if (r < 0)
		goto out;
	free(s->vdso_image);
	s->vdso_image = buf;
	s->vdso_size = size;
	s->vdso_high = m->start >= 1ULL << 32;
	s->vdso_bin = ret->bin;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}
