/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-sections.c — the debug sections of one DWARF file (the binary's or
 * its debug file, the supplementary file, a .dwp, a .dwo): found by name,
 * read whole or inflated (compress.c), or left in the file and read a unit
 * at a time through a window; and what they would cost held, from their
 * headers alone, charged to the memory bound before any is read.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "common.h"

static const char *const sec_names[SEC_N] = {
	"info", "abbrev", "line", "str", "str_offsets", "rnglists", "line_str",
	"addr", "ranges", "cu_index",
};

void dw_file__free(struct dw_file *f)
{
	for (size_t i = 0; i < f->n_cus; i++)
		dw_cu__drop(&f->cus[i]);
	for (int i = 0; i < SEC_N; i++)
		if (f->sec[i].owned)
			free(f->sec[i].p);
	free(f->cus);
	if (f->fd >= 0)
		close(f->fd);
	*f = (struct dw_file){ .fd = -1 };
}

void dw_cu__drop(struct dw_cu *cu)
{
	free(cu->lines);
	free(cu->files);
	free(cu->call_files);
	free(cu->scopes);
	free(cu->ivals);
	cu->lines = NULL;
	cu->files = NULL;
	cu->call_files = NULL;
	cu->scopes = NULL;
	cu->ivals = NULL;
	cu->n_lines = cu->n_files = cu->n_call_files = cu->n_scopes = cu->cap_scopes =
		cu->n_ivals = 0;
}

/* Which of our sections a section name is: ".debug_X" (or ".zdebug_X",
 * compressed the GNU way); in a .dwo or .dwp ".debug_X.dwo" and the unit
 * index. -1 for others. */
static int sect_id(const char *name, bool dwo)
{
	const char *rest;
	size_t len;

	if (!strncmp(name, ".debug_", 7))
		rest = name + 7;
	else if (!strncmp(name, ".zdebug_", 8))
		rest = name + 8;
	else
		return -1;
	len = strlen(rest);
	if (dwo && !strcmp(rest, sec_names[SEC_CU_INDEX]))
		return SEC_CU_INDEX;
	if (dwo) {
		if (len < 4 || strcmp(rest + len - 4, ".dwo") != 0)
			return -1;
		len -= 4;
	}
	for (int i = 0; i < (dwo ? SEC_RNGLISTS + 1 : SEC_CU_INDEX); i++)
		if (strlen(sec_names[i]) == len && !strncmp(rest, sec_names[i], len))
			return i;
	return -1;
}

/*
 * What a section costs held in memory, from its header: a compressed one
 * at the size it claims inflated (and its own while that is made),
 * .debug_info and .debug_line (also a
 * .dwo's) nothing (read a unit at a time), others their size. 0 for one that
 * is left out (corrupt, or compressed beyond what zlib and zstd do).
 */
static uint64_t sect_cost(int fd, uint64_t file_size, Elf *elf, Elf_Scn *scn,
			  const GElf_Shdr *shdr, const char *name, int id)
{
	struct sym_compressed z;
	uint8_t hdr[12];
	int r;

	if (shdr->sh_type == SHT_NOBITS || shdr->sh_size == 0 ||
	    shdr->sh_offset > file_size || shdr->sh_size > file_size - shdr->sh_offset)
		return 0;
	r = sym_section_compression(elf, scn, shdr, name, &z);
	if (r < 0)
		return 0;
	if (r > 0 && z.gnu) {
		/* "ZLIB" and the size, big-endian */
		if (shdr->sh_size < sizeof(hdr) ||
		    pread(fd, hdr, sizeof(hdr), (off_t)shdr->sh_offset) != (ssize_t)sizeof(hdr) ||
		    memcmp(hdr, "ZLIB", 4) != 0)
			return 0;
		for (int i = 4; i < 12; i++)
			z.size = z.size << 8 | hdr[i];
	}
	/* held inflated, and the compressed bytes while it is inflated */
	if (r > 0)
		return z.size / 1100 > z.data_len ? 0 : z.size + z.data_len;
	return id == SEC_INFO || id == SEC_LINE ? 0 : shdr->sh_size;
}

int dw_file__cost(int fd, bool dwo, uint64_t *ret_cost)
{
	bool seen[SEC_N] = { false };
	Elf_Scn *scn = NULL;
	uint64_t cost = 0, largest = 0;
	struct stat st;
	size_t shstrndx;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) < 0)
		return -ENODATA;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENODATA;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0) {
		elf_end(elf);
		return -ENODATA;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;
		uint64_t c;
		int id;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		id = name ? sect_id(name, dwo) : -1;
		if (id < 0 || seen[id])
			continue;
		c = sect_cost(fd, (uint64_t)st.st_size, elf, scn, &shdr, name, id);
		seen[id] = c > 0;
		cost += c;
		largest = MAX(largest, c);
	}
	elf_end(elf);
	*ret_cost = largest > SYM_DWARF_MAX_SECTION ? UINT64_MAX : cost;
	return 0;
}

/* Reads a section into a buffer of our own: uncompressed ones straight
 * from the file, compressed ones inflated (zlib or zstd). A section that
 * does not fit in the file, claims to inflate beyond reason, or is
 * compressed in a way we cannot inflate is left out and counted. String
 * sections are cut after their last NUL so every offset inside names a
 * whole string. */
static int sect_load(struct sym_dwarf *d, int fd, uint64_t file_size, Elf *elf,
		     Elf_Scn *scn, const GElf_Shdr *shdr, const char *name, int id,
		     struct dw_sect *out)
{
	struct sym_compressed z;
	uint8_t *buf;
	size_t size;
	int r;

	if (shdr->sh_type == SHT_NOBITS || out->present || shdr->sh_size == 0)
		return 0;
	if (shdr->sh_offset > file_size || shdr->sh_size > file_size - shdr->sh_offset) {
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	r = sym_section_compression(elf, scn, shdr, name, &z);
	if (r < 0) {
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	if (r > 0) {
		r = sym_section_inflate(fd, file_size, shdr, &z, &buf);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			d->issues[r == -EPROTONOSUPPORT ? SYM_DEBUG_COMPRESSION : SYM_DEBUG_CORRUPT]++;
			return 0;
		}
		size = (size_t)z.size;
	} else if (id == SEC_INFO || id == SEC_LINE) {
		/* read a unit at a time through a window (dw_sect__read()) */
		*out = (struct dw_sect){ .size = shdr->sh_size, .file_off = shdr->sh_offset,
					 .fd = fd, .present = true };
		return 0;
	} else {
		size = shdr->sh_size;
		if (size > SIZE_MAX / 2)
			return 0;
		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		for (size_t done = 0; done < size;) {
			ssize_t n = pread(fd, buf + done, size - done,
					  (off_t)(shdr->sh_offset + done));

			if (n <= 0) {
				free(buf);
				return 0;  /* past the end of the file: no section */
			}
			done += (size_t)n;
		}
	}
	if (id == SEC_STR || id == SEC_LINE_STR)
		while (size && buf[size - 1] != '\0')
			size--;
	*out = (struct dw_sect){ .p = buf, .size = size, .fd = fd, .present = true,
				 .owned = true };
	return 0;
}

const uint8_t *dw_sect__read(const struct dw_sect *s, uint64_t off, uint64_t len,
			     struct dw_win *w)
{
	if (!s->present || off > s->size || len > s->size - off)
		return NULL;
	if (s->p)
		return s->p + off;
	if (w->max && len > w->max)
		return NULL;  /* a unit bigger than the memory bound */
	if (len > w->cap) {
		uint8_t *p = realloc(w->buf, len);

		if (!p)
			return NULL;
		w->buf = p;
		w->cap = len;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(s->fd, w->buf + done, len - done,
				  (off_t)(s->file_off + off + done));

		if (n <= 0)
			return NULL;  /* the file shrank: treated as corrupt */
		done += (size_t)n;
	}
	return w->buf;
}

/* The debug sections of the ELF file at fd into f, which takes fd (a
 * .dwo or .dwp's when dwo). Returns 0 (sections that cannot be read are
 * left out and counted), -ENODATA when it is no little-endian ELF file,
 * or -ENOMEM. */
int dw_file__load(struct sym_dwarf *d, struct dw_file *f, int fd, bool dwo)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	struct stat st;
	size_t shstrndx;
	int r = 0;

	f->fd = fd;
	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) < 0)
		return -ENODATA;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENODATA;
	/* The decoder reads little-endian values. */
	if (elf_kind(elf) != ELF_K_ELF || elf_getident(elf, NULL)[EI_DATA] != ELFDATA2LSB ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0) {
		elf_end(elf);
		return -ENODATA;
	}
	while (r == 0 && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;
		int id;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		id = name ? sect_id(name, dwo) : -1;
		if (id >= 0)
			r = sect_load(d, fd, (uint64_t)st.st_size, elf, scn, &shdr, name, id,
				      &f->sec[id]);
	}
	elf_end(elf);
	/* a .dwo is read and closed within one unit's load: scratch */
	for (int i = 0; i < SEC_N && f != &d->dwo; i++)
		if (f->sec[i].owned)
			d->section_bytes += f->sec[i].size;
	return r;
}
