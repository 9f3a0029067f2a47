/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unwind-fast.c — the unwinder's fast path (sym-unwind.h): the common CFI
 * rules applied frame by frame on the stack copy, the per-thread memo of
 * rules they come from, and the live %rbp of a sample stopped at a return
 * (which libunwind's walk in unwind.c asks for too).
 *
 * Called from the session loop's thread only (the memo is per thread).
 */
#include "sym-unwind.h"

#include <string.h>

#include <libunwind.h>

/*
 * The fast walk (sym_unwind__fast_walk): the common rules (sym_cfi__rule:
 * CFA = %rsp or %rbp + offset, the return address and %rbp saved at
 * offsets from it) applied here, frame by frame, reading the stack copy
 * only. Most of a busy
 * host's stacks are of binaries without frame pointers (Debian's, and
 * what compilers run), and libunwind parsed each new address's FDE and
 * CIE a byte at a time through access_mem, its cache per address space
 * cold for every new process: a third of the agent's CPU at 608 Hz.
 * Anything else (a signal frame, an expression, no FDE, a word outside
 * the copy) gives the whole stack to libunwind, from its first frame, so
 * a stack is either walked here or exactly as libunwind walks it.
 */
bool sym_unwind_fast_off; /* tests: libunwind alone */

/* The memos of rules, every thread's (below). */
static _Atomic uint64_t memo_bytes, memo_resets;

/*
 * The rules met, per thread: (the binary's CFI load, its address) -> the
 * rule, or why there is none. Finding an FDE is a binary search of a
 * table that is hundreds of KB in a compiler (a cache miss a step), and
 * the same return addresses come back sample after sample. Bounded at
 * MEMO_MAX entries (emptied when full, counted); a binary evicted and
 * loaded again has another serial, so nothing stale is ever found.
 */
#define MEMO_MAX (1u << 16)

struct memo_key {
	uint64_t serial, vaddr;
};

struct memo_entry {
	struct memo_key key;
	struct sym_cfi_rule rule;
	int32_t status; /* sym_cfi__rule's */
};

static const struct common_map_type memo_type = {
	.entry_size = sizeof(struct memo_entry),
	.key_size = sizeof(struct memo_key),
};

static __thread struct common_map memo;
static __thread uint64_t memo_bytes_mine;

int sym_unwind__memo_rule(const struct sym_cfi *cfi, uint64_t vaddr, struct sym_cfi_rule *ret)
{
	struct memo_key k = { cfi->serial, vaddr };
	struct memo_entry *e = common_map__find(&memo, &memo_type, &k);
	struct sym_cfi_rule rule = { 0 };
	int status;
	uint64_t bytes;

	if (!e) {
		status = sym_cfi__rule(cfi, vaddr, &rule);
		if (common_map__size(&memo) >= MEMO_MAX) {
			common_map__clear(&memo);
			memo_resets++;
		}
		/* Out of memory, the rule is only not remembered. */
		if (common_map__insert(&memo, &memo_type, &k, (void **)&e) < 0) {
			*ret = rule;
			return status;
		}
		e->rule = rule;
		e->status = status;
		bytes = common_map__bytes(&memo, &memo_type);
		if (bytes != memo_bytes_mine) {
			memo_bytes += bytes - memo_bytes_mine;
			memo_bytes_mine = bytes;
		}
	}
	*ret = e->rule;
	return e->status;
}

uint64_t sym_unwind__memo_memory(uint64_t *ret_resets)
{
	if (ret_resets)
		*ret_resets = memo_resets;
	return memo_bytes;
}

/* Whether the instruction in word (its first bytes) is a return: ret,
 * ret imm16, and with a rep or bnd prefix. */
static bool is_return(uint64_t word)
{
	uint8_t b0 = word & 0xff, b1 = (word >> 8) & 0xff;

	return b0 == 0xc3 || b0 == 0xc2 || ((b0 == 0xf3 || b0 == 0xf2) && (b1 == 0xc3 || b1 == 0xc2));
}

/*
 * The sample stopped in an epilogue, at the return after `pop %rbp`
 * (`leave`, ...): the first frame's CFI still says where its caller's
 * %rbp was saved, CFA - 16, which is now below %rsp, where the stack
 * copy (from %rsp up) has nothing. At a return every callee-saved
 * register holds its caller's value again (the ABI), so that slot's
 * word is the live %rbp. Returns true and *ret_slot when the first
 * frame's %rbp slot is below %rsp and the instruction at the sample's IP
 * is a return (read from the binary's file); false otherwise (a slot
 * below %rsp elsewhere, a leaf that saved %rbp in the red zone, is not
 * guessed). Asked at most once per unwind.
 */
bool sym_unwind__popped_rbp(struct unwind_ctx *c, uint64_t *ret_slot)
{
	uint64_t rip = c->regs[UNW_X86_64_RIP], rsp = c->regs[UNW_X86_64_RSP];
	uint64_t bias, start, end, slot, word;
	const struct sym_elf *e;
	struct sym_binary *bin;
	struct sym_cfi_rule rule;

	if (!c->popped_known) {
		c->popped_known = true;
		if (sym_session__locate(c->s, c->pid, rip, &e, &bin, &bias, &start, &end) < 0 ||
		    sym_unwind__memo_rule(&e->cfi, rip - bias, &rule) < 0 || !rule.rbp_saved)
			return false;
		slot = (rule.cfa_rbp ? c->regs[UNW_X86_64_RBP] : rsp) +
		       (uint64_t)(int64_t)rule.cfa_off + (uint64_t)(int64_t)rule.rbp_off;
		if (slot >= rsp || rsp - slot > 128 ||
		    sym_binary__read(c->s, bin, rip - bias, &word) < 0 || !is_return(word))
			return false;
		c->popped = true;
		c->popped_slot = slot;
	}
	*ret_slot = c->popped_slot;
	return c->popped;
}

/* Read the word at addr from the stack copy: 1, 0 when addr is just past
 * the copy (the stack was deeper: libunwind's step fails there too), -1
 * elsewhere (libunwind's to try). */
static int fast_read(const struct unwind_ctx *c, uint64_t addr, uint64_t *ret)
{
	if (addr >= c->sp && addr - c->sp + sizeof(*ret) <= c->stack_len) {
		memcpy(ret, c->stack + (addr - c->sp), sizeof(*ret));
		return 1;
	}
	if (addr >= c->sp && addr - c->sp < (1u << 20))
		return 0;
	return -1;
}

bool sym_unwind__fast_walk(struct unwind_ctx *c, const struct sym_cfi_range *sig, size_t n_sig,
			   uint64_t *ret_ips, size_t max, size_t *ret_n,
			   enum sym_unwind_end *ret_end)
{
	uint64_t rip = c->regs[UNW_X86_64_RIP], rsp = c->regs[UNW_X86_64_RSP];
	uint64_t rbp = c->regs[UNW_X86_64_RBP], rbp_at = 0; /* saved there, when set */
	size_t n = 1;

	if (sym_unwind_fast_off)
		return false;
	while (n < max) {
		/* A caller's frame is looked up at the call, before its
		 * return address. */
		uint64_t at = n == 1 ? rip : rip - 1, bias, start, end, cfa, ra, slot;
		const struct sym_elf *e;
		struct sym_cfi_rule rule;
		int r;

		if (sym_cfi__in_ranges(sig, n_sig, rip) ||
		    sym_session__locate(c->s, c->pid, at, &e, NULL, &bias, &start, &end) < 0 ||
		    sym_unwind__memo_rule(&e->cfi, at - bias, &rule) < 0)
			return false;
		if (rule.ra_undefined) {
			*ret_end = SYM_UNWIND_ROOT;
			goto done;
		}
		if (rule.cfa_rbp && rbp_at) {
			r = fast_read(c, rbp_at, &rbp);
			if (r <= 0)
				goto unread;
			rbp_at = 0;
		}
		cfa = (rule.cfa_rbp ? rbp : rsp) + (uint64_t)(int64_t)rule.cfa_off;
		r = fast_read(c, cfa + (uint64_t)(int64_t)rule.ra_off, &ra);
		if (r <= 0)
			goto unread;
		if (rule.rbp_saved)
			rbp_at = cfa + (uint64_t)(int64_t)rule.rbp_off;
		/* (the first frame at a return: %rbp is its caller's) */
		if (n == 1 && rbp_at && rbp_at < rsp && sym_unwind__popped_rbp(c, &slot) &&
		    slot == rbp_at)
			rbp_at = 0;
		if (cfa == rsp && ra == rip)
			return false; /* no progress: libunwind's to judge */
		rsp = cfa;
		rip = ra;
		if (rip == 0) {
			*ret_end = SYM_UNWIND_ROOT;
			goto done;
		}
		ret_ips[n++] = rip;
		continue;
unread:
		if (r < 0)
			return false;
		*ret_end = SYM_UNWIND_STACK_SHORT;
		goto done;
	}
	*ret_end = SYM_UNWIND_DEPTH;
done:
	*ret_n = n;
	return true;
}
