/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binary-image.c — the words of a binary's file the unwinder reads
 * (sym_binary__read): from the binary's CFI copies, else from the file
 * contents of the PT_LOAD segment that holds them, through a few blocks
 * of the file (struct image_block, sym-session.h: the personality
 * routine's address every C++ frame with a destructor or a catch leads
 * libunwind to, code bytes where the CFI ends), read with pread from the
 * binary's kept fd, replaced round robin, accounted in the binary's
 * memory (binary.c) and dropped with its ELF object.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* len bytes (at most a word) at file offset off of bin's file, through
 * its blocks. Returns 0, -EIO (not in the file) or -ENOMEM. */
static int image_read(struct sym_session *s, struct sym_binary *bin, uint64_t off,
		      size_t len, uint8_t *ret)
{
	uint64_t start = off & ~(uint64_t)(IMAGE_BLOCK_SIZE - 1);
	struct image_block *b;
	ssize_t got;

	assert(len <= sizeof(uint64_t) && bin->next_block < IMAGE_BLOCKS);
	if (bin->fd < 0)
		return -EIO;
	for (unsigned i = 0; bin->blocks && i < IMAGE_BLOCKS; i++) {
		b = &bin->blocks[i];
		if (b->len && off >= b->offset && off - b->offset + len <= b->len) {
			memcpy(ret, b->data + (off - b->offset), len);
			return 0;
		}
	}
	/* A word across two blocks (never an aligned one): read as is. */
	if (off + len > start + IMAGE_BLOCK_SIZE) {
		s->stats.unwind_file_reads++;
		got = pread(bin->fd, ret, len, (off_t)off);
		return got == (ssize_t)len ? 0 : -EIO;
	}
	if (!bin->blocks) {
		bin->blocks = calloc(IMAGE_BLOCKS, sizeof(*bin->blocks));
		if (!bin->blocks)
			return -ENOMEM;
		sym_binary__account(s, bin);
	}
	b = &bin->blocks[bin->next_block];
	bin->next_block = (bin->next_block + 1) % IMAGE_BLOCKS;
	s->stats.unwind_file_reads++;
	got = pread(bin->fd, b->data, IMAGE_BLOCK_SIZE, (off_t)start);
	b->offset = start;
	b->len = got > 0 ? (size_t)got : 0;
	if (off - start + len > b->len)
		return -EIO;  /* the file shrank under us */
	memcpy(ret, b->data + (off - start), len);
	return 0;
}

int sym_binary__read(struct sym_session *s, struct sym_binary *bin, uint64_t vaddr,
		     uint64_t *ret_word)
{
	const struct sym_elf *e = sym_binary__elf(s, bin);
	uint8_t buf[sizeof(*ret_word)] = {0};

	if (!e)
		return -ENOENT;
	if (sym_cfi__read(&e->cfi, vaddr, ret_word) == 0)
		return 0;
	for (size_t i = 0; i < e->n_loads; i++) {
		const struct sym_elf_load *l = &e->loads[i];
		uint64_t in;
		int r;

		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		in = vaddr - l->vaddr;
		/* A word that runs past the file's part of the segment
		 * gets zeros there (.bss as the loader leaves it): libunwind
		 * reads whole aligned words for the bytes it wants, and the
		 * bytes it wants are in the file. */
		r = image_read(s, bin, l->offset + in, MIN(sizeof(buf), l->filesz - in), buf);
		if (r < 0)
			return r;
		memcpy(ret_word, buf, sizeof(buf));
		return 0;
	}
	return -ENOENT;
}
