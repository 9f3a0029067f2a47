/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frame_pointers.c — what the binaries' CFI says about frame pointers,
 * asked per stack: where a kernel frame-pointer walk of a user stack goes
 * wrong. A binary keeps frame pointers when most of its FDEs save rbp
 * (sym_cfi__has_frame_pointers); the kernel's walk through a frame of code
 * that does not (libc calling the program's qsort comparator, libc calling
 * itself) skips callers or follows garbage. The profiler's `--unwind auto`
 * policy asks this of the DWARF stacks of a process on probation and of
 * the frame-pointer stacks cut short, once per stack.
 *
 * Called from the session loop's thread only (as the rest of sym_session).
 */
#include "symbolizer.h"
#include "sym-internal.h"

#include <errno.h>

/* What one mapping's binary says, kept while the stack stays in it. */
enum fp_answer {
	FP_UNKNOWN = 0,  /* no mapping, no usable ELF, or no CFI */
	FP_KEPT,
	FP_OMITTED,
};

static enum fp_answer binary_answer(const struct sym_elf *e)
{
	if (!e->cfi.eh_frame)
		return FP_UNKNOWN;
	return sym_cfi__has_frame_pointers(&e->cfi) ? FP_KEPT : FP_OMITTED;
}

int sym_session__stack_without_fp(struct sym_session *s, pid_t pid, const uint64_t *ips,
				  size_t n, size_t *ret_index)
{
	/* The executable mapping of the last frame looked up, and its
	 * answer: consecutive frames mostly lie in one binary, and a frame
	 * inside it needs no lookup of the process or the mapping. A lookup
	 * that misses may re-read the process's maps (code mapped later), so
	 * every lookup replaces what is kept. */
	uint64_t lo = 0, hi = 0;
	enum fp_answer answer = FP_UNKNOWN;

	for (size_t i = 1; i < n; i++) {
		uint64_t addr = ips[i] - 1;  /* a return address */

		if (addr < lo || addr >= hi) {
			const struct sym_elf *e;
			uint64_t bias;

			if (sym_session__locate(s, pid, addr, &e, NULL, &bias, &lo, &hi) < 0) {
				lo = hi = 0;
				continue;
			}
			answer = binary_answer(e);
		}
		if (answer == FP_OMITTED) {
			*ret_index = i;
			return 0;
		}
	}
	return -ENOENT;
}
