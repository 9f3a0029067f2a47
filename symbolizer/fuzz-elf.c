/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-elf.c — libFuzzer entry point for the ELF loader: the input bytes are
 * written to a memfd, loaded the way a mapped binary is (sym_elf__load_fd),
 * and the result is exercised with offset -> address conversions and symbol
 * lookups at addresses derived from the input. Its corpus
 * (fuzz-elf-corpus/) holds broken headers and three small shared libraries
 * of four functions (gcc -O2 -shared -fPIC -Wl,-z,noseparate-code): with
 * .symtab and .eh_frame, stripped with MiniDebugInfo (.gnu_debugdata),
 * and with a .gnu_debuglink. Built with clang
 * -fsanitize=fuzzer for fuzzing; its corpus runs as a unit test through
 * tests/unit/fuzz-driver.c with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct sym_elf *e, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < e->n_loads; i++) {
		const struct sym_elf_load *l = &e->loads[i];
		uint64_t probes[] = { l->offset, l->offset + l->filesz / 2,
				      l->offset + l->filesz - 1, l->offset + l->filesz };

		for (size_t j = 0; j < sizeof(probes) / sizeof(probes[0]); j++) {
			uint64_t vaddr;

			if (sym_elf__offset_to_vaddr(e, probes[j], &vaddr) == 0) {
				uint64_t lo;

				(void)sym_elf__lookup(e, vaddr);
				/* the FDE that bounds an unnamed function */
				if (sym_cfi__function(&e->cfi, vaddr, &lo) == 0 && lo > vaddr)
					__builtin_trap();
			}
		}
	}
	for (size_t i = 0; i < e->n_syms; i++) {
		const char *name = sym_elf__lookup(e, e->syms[i].addr);

		/* every name must be a string inside the names blob */
		if (name && (name < e->names || name >= e->names + e->names_len ||
			     !memchr(name, '\0', (size_t)(e->names + e->names_len - name))))
			__builtin_trap();
	}
	for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
		uint64_t v;

		memcpy(&v, data + i, sizeof(v));
		(void)sym_elf__lookup(e, v);
		(void)sym_cfi__function(&e->cfi, v, &v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_elf *e = NULL;
	int fd;

	fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    sym_elf__load_fd(fd, NULL, &e) == 0) {
		exercise(e, data, size);
		sym_elf__free(e);
	}
	close(fd);
	return 0;
}
