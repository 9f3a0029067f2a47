/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-dwarf.c — libFuzzer entry point for the DWARF reader: the input
 * bytes are an ELF file with debug sections, written to a memfd and opened
 * the way a binary's DWARF is (sym_dwarf__open), then looked up at the
 * start, middle and end of every compile unit range and at addresses taken
 * from the input, so every CU's line table and scope tree gets built. Every
 * frame's strings must be readable. Its seed corpus (fuzz-dwarf-corpus/,
 * made by fuzz-dwarf-seeds.py from a small -O2 -g binary: debug sections
 * truncated, zeroed, with huge lengths and overwritten bytes) runs as a
 * unit test through tests/unit/fuzz-driver.c with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 16

static volatile size_t sink;

static void lookup(struct sym_dwarf *d, uint64_t vaddr)
{
	struct sym_dwarf_frame f[MAX_FRAMES];
	int n = sym_dwarf__lookup(d, vaddr, f, MAX_FRAMES);

	if (n > MAX_FRAMES)
		__builtin_trap();
	/* strings handed out must be whole C strings (ASan checks reads) */
	for (int i = 0; i < n; i++) {
		if (f[i].name)
			sink += strlen(f[i].name);
		if (f[i].file)
			sink += strlen(f[i].file);
		if (!f[i].file && f[i].line)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_dwarf *d = NULL;
	uint64_t lo, hi;
	int fd;

	fd = memfd_create("fuzz-dwarf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && sym_dwarf__open(fd, &d) == 0) {
		/* a corrupt range list can make many ranges: look at some */
		for (size_t i = 0; i < 4096 && sym_dwarf__range(d, i, &lo, &hi) == 0; i++) {
			lookup(d, lo);
			lookup(d, lo + (hi - lo) / 2);
			lookup(d, hi - 1);
			lookup(d, hi);
		}
		for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
			uint64_t v;

			memcpy(&v, data + i, sizeof(v));
			lookup(d, v);
		}
		if (sym_dwarf__memory(d) == 0)
			__builtin_trap();
		sym_dwarf__free(d);
	}
	close(fd);
	return 0;
}
