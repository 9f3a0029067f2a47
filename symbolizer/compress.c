/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compress.c — the bytes of a compressed ELF section, inflated: SHF_COMPRESSED
 * sections (an Elf_Chdr, then zlib or zstd data) and GNU's .zdebug_*
 * ("ZLIB", a big-endian size, zlib data). dwarf-sections.c reads sections
 * through it and cache.c writes inflated copies of debug files with it.
 * Debian 12's libelf (elfutils 0.188) knows only zlib: its elf_compress()
 * answers "unknown compression type" for ELFCOMPRESS_ZSTD, which binutils
 * 2.40 (`objcopy`/`ld --compress-debug-sections=zstd`) writes, so both
 * kinds are inflated here, from the file with pread, never through
 * libelf's copy of the section.
 */
#include "sym-internal.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common.h"

#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD 2
#endif

/* Neither zlib (about 1032:1 at most) nor zstd on real debug sections
 * inflates further; a section claiming more is corrupt, and is not given
 * the memory it asks for. */
#define MAX_INFLATE 1100
/* The largest section inflated: bigger than any real debug section. */
#define MAX_INFLATED (4ULL << 30)

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL;  /* past the end of the file */
		done += (size_t)n;
	}
	return 0;
}

static int inflate_zlib(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
	size_t in_left = in_len, out_left = out_len;
	z_stream z = { 0 };
	int zr;

	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.next_out = out;
	/* zlib counts in uInt: feed and drain in pieces; inflate() says
	 * Z_BUF_ERROR when it can make no progress, so this ends. */
	do {
		if (z.avail_in == 0 && in_left) {
			z.avail_in = (uInt)MIN(in_left, (size_t)UINT32_MAX);
			in_left -= z.avail_in;
		}
		if (z.avail_out == 0 && out_left) {
			z.avail_out = (uInt)MIN(out_left, (size_t)UINT32_MAX);
			out_left -= z.avail_out;
		}
		zr = inflate(&z, Z_NO_FLUSH);
	} while (zr == Z_OK);
	inflateEnd(&z);
	if (zr != Z_STREAM_END || (size_t)(z.next_out - out) != out_len)
		return zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	return 0;
}

static int inflate_zstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
	size_t n = ZSTD_decompress(out, out_len, in, in_len);

	if (ZSTD_isError(n))
		return -EINVAL;
	return n == out_len ? 0 : -EINVAL;
}

int sym_section_compression(Elf *elf, Elf_Scn *scn, const Elf64_Shdr *shdr,
			    const char *name, struct sym_compressed *ret)
{
	GElf_Chdr chdr;

	memset(ret, 0, sizeof(*ret));
	if (!(shdr->sh_flags & SHF_COMPRESSED) && strncmp(name, ".zdebug", 7) != 0)
		return 0;
	if (shdr->sh_type == SHT_NOBITS)
		return 0;
	if (shdr->sh_flags & SHF_COMPRESSED) {
		size_t hdr = gelf_fsize(elf, ELF_T_CHDR, 1, EV_CURRENT);

		if (!gelf_getchdr(scn, &chdr) || hdr == 0 || shdr->sh_size < hdr)
			return -EINVAL;
		ret->type = chdr.ch_type;
		ret->size = chdr.ch_size;
		ret->align = chdr.ch_addralign;
		ret->data_off = shdr->sh_offset + hdr;
		ret->data_len = shdr->sh_size - hdr;
	} else {
		ret->gnu = true;
		ret->type = ELFCOMPRESS_ZLIB;
		ret->align = shdr->sh_addralign;
		ret->data_off = shdr->sh_offset + 12;
		ret->data_len = shdr->sh_size >= 12 ? shdr->sh_size - 12 : 0;
	}
	ret->compressed = true;
	return 1;
}

int sym_section_inflate(int fd, uint64_t file_size, const Elf64_Shdr *shdr,
			struct sym_compressed *c, uint8_t **ret_buf)
{
	uint8_t *in = NULL, *out = NULL;
	int r;

	if (shdr->sh_offset > file_size || shdr->sh_size > file_size - shdr->sh_offset)
		return -EINVAL;
	if (c->gnu) {
		uint8_t hdr[12];

		/* "ZLIB" and the size, big-endian */
		if (shdr->sh_size < sizeof(hdr) ||
		    read_exact(fd, hdr, sizeof(hdr), shdr->sh_offset) < 0 ||
		    memcmp(hdr, "ZLIB", 4) != 0)
			return -EINVAL;
		c->size = 0;
		for (int i = 4; i < 12; i++)
			c->size = c->size << 8 | hdr[i];
	}
	if (c->type != ELFCOMPRESS_ZLIB && c->type != ELFCOMPRESS_ZSTD)
		return -EPROTONOSUPPORT;
	if (c->size == 0 || c->data_len == 0 || c->size > MAX_INFLATED ||
	    c->size / MAX_INFLATE > c->data_len || c->size > SIZE_MAX - 1)
		return -EINVAL;
	in = malloc(c->data_len);
	/* one byte more: string sections get a terminating NUL in reach */
	out = malloc(c->size + 1);
	if (!in || !out) {
		r = -ENOMEM;
		goto fail;
	}
	r = read_exact(fd, in, c->data_len, c->data_off);
	if (r == 0)
		r = c->type == ELFCOMPRESS_ZLIB ? inflate_zlib(in, c->data_len, out, c->size)
						: inflate_zstd(in, c->data_len, out, c->size);
	if (r < 0)
		goto fail;
	free(in);
	out[c->size] = '\0';
	*ret_buf = out;
	return 0;
fail:
	free(in);
	free(out);
	return r;
}
