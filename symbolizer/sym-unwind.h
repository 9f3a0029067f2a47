/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-unwind.h — what the two files of the DWARF unwinder share: unwind.c
 * (libunwind's remote API: its accessors, address spaces, the walk and
 * the leaf repair) and unwind-fast.c (the fast walk of the common CFI
 * rules, their per-thread memo, and the live %rbp of a sample stopped at
 * a return). Private to them; the session sees the unwinder through
 * sym-internal.h.
 *
 * Invariants: a context's stack copy holds stack_len bytes from sp; the
 * words it serves are those and the mapped files' (sym_binary__read),
 * never guessed; seen, words and spans are caches of what was read in
 * this unwind only (a context lives for one stack).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"
#include "sym-internal.h"
#include "symbolizer.h"

/* One stack being unwound: the sample's registers and stack copy, what
 * went wrong in the current step, and what was read from binaries. */
struct unwind_ctx {
	struct sym_session *s;
	pid_t pid;
	const uint64_t *regs;
	const uint8_t *stack;
	uint64_t sp;
	size_t stack_len;
	/* What went wrong in the current step (reset before each). */
	bool stack_short;        /* a read fell beyond the copied stack */
	bool no_cfi;             /* an IP had no unwind information */
	bool unserved;           /* a read was in no mapped file either */
	uint64_t n_unserved;
	/* The first frame's %rbp slot when it lies below %rsp and the
	 * frame is at a return (popped_rbp()): known once asked. */
	bool popped_known, popped;
	uint64_t popped_slot;
	/* Where the walk is, for sym_options's unwind_trace. */
	size_t depth;
	uint64_t frame_ip;
	/* Binaries found by find_proc_info: the words the CFI points to
	 * (its tables, a CIE's personality pointer in .data.rel.ro or
	 * .got) lie in their non-executable segments, which the process
	 * snapshot does not list; access_mem looks for them here first. */
	struct {
		struct sym_binary *bin;
		uint64_t bias;
	} seen[8];
	size_t n_seen, next_seen;
	/* The last words read from binaries: libunwind reads bytes a word
	 * at a time, each as the aligned word that holds it, so one word
	 * is asked for up to 8 times running (an FDE and its CIE: tens of
	 * reads, each a search of the binaries' CFI copies and segments,
	 * were a quarter of the agent's CPU at 608 Hz on a busy host; the
	 * spans below now serve the CFI of the binary looked up last). */
	struct {
		uint64_t addr, word;
	} words[4];
	size_t n_words, next_word;
	/* The CFI copies (.eh_frame, .eh_frame_hdr) of the binary whose FDE
	 * was looked up last, at their addresses in the process: libunwind
	 * parses an FDE and its CIE a byte at a time, and each byte is one
	 * access_mem call, served from here with one comparison. */
	struct {
		const uint8_t *data;
		uint64_t lo, len;
	} spans[2];
};

/*
 * The first frame's saved-%rbp slot when it lies below %rsp and the
 * instruction at the sample's IP is a return (unwind-fast.c, see there):
 * true and *ret_slot, whose word is then the live %rbp. Asked at most
 * once per context.
 */
bool sym_unwind__popped_rbp(struct unwind_ctx *c, uint64_t *ret_slot);

/*
 * The rule of the CFI at vaddr (the binary's address), from this thread's
 * memo or sym_cfi__rule (whose status it returns: < 0 when the address
 * has no simple rule).
 */
int sym_unwind__memo_rule(const struct sym_cfi *cfi, uint64_t vaddr, struct sym_cfi_rule *ret);

/*
 * Walks c's stack by the common rules alone. Returns true when the walk
 * is done (*ret_n frames in ret_ips, *ret_end why it ended; ret_ips[0] is
 * the sample's IP, set by the caller); false when libunwind is to walk
 * the whole stack from its first frame (a signal frame, an expression, no
 * FDE, a word outside the copy, sym_unwind_fast_off).
 */
bool sym_unwind__fast_walk(struct unwind_ctx *c, const struct sym_cfi_range *sig, size_t n_sig,
			   uint64_t *ret_ips, size_t max, size_t *ret_n,
			   enum sym_unwind_end *ret_end);

/* Bytes of every thread's memo of rules; *ret_resets (when not NULL): the
 * times a memo was emptied for its bound. */
uint64_t sym_unwind__memo_memory(uint64_t *ret_resets);
