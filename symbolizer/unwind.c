/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unwind.c — DWARF unwinding of user stacks with libunwind's remote API,
 * after the fast walk of unwind-fast.c has declined a stack (what the two
 * share is sym-unwind.h). The sampler hands over a sample's user registers
 * and a copy of the top of its user stack; libunwind walks the frames with
 * the CFI of the binaries mapped in the process (.eh_frame_hdr and
 * .eh_frame, copied when the binary was loaded, see cfi.c), reading stack
 * words from the copy and any other word it asks for (the personality
 * routine's address that C++ functions' CIEs point to in the binary's
 * data, code bytes) from the file mapped there (sym_binary__read), and
 * nothing else (but the caller's %rbp of a sample stopped at a return,
 * popped just below the copy: the live register, sym_unwind__popped_rbp).
 * Each word not got can be traced (sym_options.unwind_trace). The same
 * machinery, given only the two words at the top of the stack, repairs the
 * caller of a frameless leaf in frame-pointer mode, and the CFI's shape
 * decides AUTO mode's choice per process.
 *
 * Called from the session loop's thread only (as the rest of sym_session).
 */
#include "sym-unwind.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libunwind.h>

/* Not in libunwind's public headers, but exported: the lookup of one IP in
 * an .eh_frame_hdr search table, as used by perf and others. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* Where the fake stack lives for the leaf repair: any address no real
 * binary can be mapped at. */
#define FAKE_SP 0x1000ULL

/* A word read from a binary in this unwind, or false. */
static bool word_cached(const struct unwind_ctx *c, uint64_t addr, uint64_t *ret_word)
{
	for (size_t i = 0; i < c->n_words; i++)
		if (c->words[i].addr == addr) {
			*ret_word = c->words[i].word;
			return true;
		}
	return false;
}

static void word_remember(struct unwind_ctx *c, uint64_t addr, uint64_t word)
{
	size_t i = c->n_words < ARRAY_SIZE(c->words) ? c->n_words++ : c->next_word;

	c->words[i].addr = addr;
	c->words[i].word = word;
	c->next_word = (i + 1) % ARRAY_SIZE(c->words);
}

static void remember(struct unwind_ctx *c, struct sym_binary *bin, uint64_t bias)
{
	for (size_t i = 0; i < c->n_seen; i++)
		if (c->seen[i].bin == bin && c->seen[i].bias == bias)
			return;
	if (c->n_seen < ARRAY_SIZE(c->seen)) {
		c->seen[c->n_seen].bin = bin;
		c->seen[c->n_seen++].bias = bias;
		return;
	}
	c->seen[c->next_seen].bin = bin;
	c->seen[c->next_seen].bias = bias;
	c->next_seen = (c->next_seen + 1) % ARRAY_SIZE(c->seen);
}

/*
 * libunwind caches what it parsed of an address's CFI per address space,
 * by address; the same address means other code in another process, so
 * an address space serves one process at a time. One per process, for
 * the last ADDR_SPACES processes unwound (least recently used reused,
 * its cache flushed): samples of the busy processes of a host come
 * interleaved, and with one address space whose cache was flushed at
 * every change of process, each sample parsed its frames' FDEs and CIEs
 * again (half of the agent's CPU at 608 Hz on a busy host). Each holds
 * libunwind's cache of 128 register states: 26,960 bytes as Debian's
 * libunwind 1.6 allocates an address space (mallinfo2 around
 * unw_create_addr_space), created on first use, never freed: at most
 * 431 KB per unwinding thread, counted in sym_stats.unwind_memory (the
 * process's address spaces times that figure).
 */
#define ADDR_SPACES 16
#define ADDR_SPACE_BYTES 26960

/* Address spaces created by every thread, for sym_unwind__memory. */
static _Atomic uint64_t spaces_created;

struct addr_space {
	unw_addr_space_t as;
	const struct sym_session *s;
	pid_t pid;
	uint64_t generation; /* of pid's maps when the cache was filled */
	uint64_t used;
};

static __thread struct addr_space spaces[ADDR_SPACES];
static __thread uint64_t spaces_clock;

struct eh_frame_hdr {
	uint8_t version;
	uint8_t eh_frame_ptr_enc;
	uint8_t fde_count_enc;
	uint8_t table_enc;
};

#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

/* The index of the last entry of an .eh_frame_hdr search table (n pairs
 * of sdata4 {initial location, FDE}, relative to the header) whose
 * initial location is at or below rel, or -1: as libunwind's search. */
static int64_t table_entry(const uint8_t *tab, uint32_t n, int64_t rel)
{
	uint32_t lo = 0, hi = n;

	if (rel < INT32_MIN || rel > INT32_MAX)
		return -1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int32_t start;

		memcpy(&start, tab + (size_t)mid * 8, sizeof(start));
		if ((int32_t)rel < start)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (int64_t)hi - 1;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct unwind_ctx *c = arg;
	const struct sym_elf *e;
	struct sym_binary *bin;
	const struct eh_frame_hdr *h;
	uint64_t bias, start, end;
	uint32_t fde_count;
	unw_dyn_info_t di;
	int64_t entry;

	if (sym_session__locate(c->s, c->pid, ip, &e, &bin, &bias, &start, &end) < 0 ||
	    !e->cfi.hdr || e->cfi.hdr_size < 12 || !e->cfi.eh_frame) {
		c->no_cfi = true;
		return -UNW_ENOINFO;
	}
	h = (const struct eh_frame_hdr *)e->cfi.hdr;
	/* The encodings every x86_64 linker writes; anything else is skipped
	 * rather than misread. */
	if (h->version != 1 || h->fde_count_enc != DW_EH_PE_udata4 ||
	    h->table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) ||
	    (h->eh_frame_ptr_enc & 0x0f) != DW_EH_PE_sdata4) {
		c->no_cfi = true;
		return -UNW_ENOINFO;
	}
	remember(c, bin, bias);
	c->spans[0].data = e->cfi.eh_frame;
	c->spans[0].lo = bias + e->cfi.eh_vaddr;
	c->spans[0].len = e->cfi.eh_size;
	c->spans[1].data = e->cfi.hdr;
	c->spans[1].lo = bias + e->cfi.hdr_vaddr;
	c->spans[1].len = e->cfi.hdr_size;
	memcpy(&fde_count, e->cfi.hdr + 8, sizeof(fde_count));
	if ((uint64_t)fde_count * 8 > e->cfi.hdr_size - 12) {
		c->no_cfi = true;
		return -UNW_ENOINFO;
	}
	/* The search table is searched here, in the binary's copy, and
	 * libunwind is handed the one entry found: its own search reads the
	 * table a word at a time through access_mem (two reads per step, a
	 * dozen steps in libc), which was most of find_proc_info. */
	entry = table_entry(e->cfi.hdr + 12, fde_count, ip - bias - e->cfi.hdr_vaddr);
	if (entry < 0) {
		c->no_cfi = true;
		return -UNW_ENOINFO;
	}
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = start;
	di.end_ip = end;
	di.u.rti.segbase = bias + e->cfi.hdr_vaddr;
	di.u.rti.table_data = bias + e->cfi.hdr_vaddr + 12 + (uint64_t)entry * 8;
	di.u.rti.table_len = 8 / sizeof(unw_word_t);
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* libunwind frees what dwarf_search_unwind_table allocated itself. */
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	return -UNW_ENOINFO;
}

/* A word not got, told to the session's unwind_trace. */
static void trace_miss(struct unwind_ctx *c, uint64_t addr, bool below_stack)
{
	struct sym_unwind_miss m = {
		.pid = c->pid,
		.addr = addr,
		.below_stack = below_stack,
		.sp = c->sp,
		.stack_len = c->stack_len,
		.depth = c->depth,
		.frame_ip = c->frame_ip,
	};

	sym_session__trace_miss(c->s, &m);
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp,
		      int write, void *arg)
{
	struct unwind_ctx *c = arg;
	struct sym_binary *bin;
	uint64_t bias, word;

	if (write)
		return -UNW_EINVAL;
	if (addr >= c->sp && addr - c->sp + sizeof(word) <= c->stack_len) {
		memcpy(valp, c->stack + (addr - c->sp), sizeof(word));
		return 0;
	}
	/* Just past the copy: the stack was deeper than the snapshot. */
	if (addr >= c->sp && addr - c->sp < (1u << 20)) {
		c->stack_short = true;
		return -UNW_EINVAL;
	}
	/* Just below the sample's %rsp (the red zone, which the copy does
	 * not hold): the first frame's popped %rbp is the live one
	 * (sym_unwind__popped_rbp()); any other word there is stack the snapshot does
	 * not have, as one past its end. */
	if (addr < c->sp && c->sp - addr <= 128) {
		if (c->sp == c->regs[UNW_X86_64_RSP] && sym_unwind__popped_rbp(c, &word) && addr == word) {
			*valp = c->regs[UNW_X86_64_RBP];
			return 0;
		}
		c->stack_short = true;
		trace_miss(c, addr, true);
		return -UNW_EINVAL;
	}
	/* (The copies have zeroed slack after their last byte, for the
	 * word that holds it: cfi.c.) */
	for (size_t i = 0; i < ARRAY_SIZE(c->spans); i++)
		if (c->spans[i].data && addr - c->spans[i].lo < c->spans[i].len) {
			memcpy(valp, c->spans[i].data + (addr - c->spans[i].lo), sizeof(word));
			return 0;
		}
	if (word_cached(c, addr, valp))
		return 0;
	/* The images of the binaries met so far (their CFI copies, then
	 * their segments' file contents), at their addresses in the
	 * process: ld.so maps every segment of an object with one bias. */
	for (size_t i = 0; i < c->n_seen; i++) {
		if (sym_binary__read(c->s, c->seen[i].bin, addr - c->seen[i].bias, &word) == 0) {
			word_remember(c, addr, word);
			*valp = word;
			return 0;
		}
	}
	/* Else the binary whose image holds addr: code bytes (libunwind
	 * looks at the instructions of PLT stubs and signal trampolines), and
	 * the CFI of a binary whose FDE libunwind did not look up this time
	 * (its cache keeps the rules of an address, but the rules of a
	 * signal trampoline are DWARF expressions it reads from .eh_frame). */
	if (sym_session__locate_image(c->s, c->pid, addr, &bin, &bias) == 0 &&
	    sym_binary__read(c->s, bin, addr - bias, &word) == 0) {
		remember(c, bin, bias);
		word_remember(c, addr, word);
		*valp = word;
		return 0;
	}
	/* Heap, anonymous (JIT) memory, .bss, another thread's stack: never
	 * guessed. */
	c->unserved = true;
	c->n_unserved++;
	trace_miss(c, addr, false);
	return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp,
		      int write, void *arg)
{
	struct unwind_ctx *c = arg;

	if (write || reg < 0 || reg >= SYM_UNWIND_REGS)
		return -UNW_EBADREG;
	*valp = c->regs[reg];
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
			int write, void *arg)
{
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *bufp,
			 size_t buf_len, unw_word_t *offp, void *arg)
{
	return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

/*
 * libunwind guards its global cache with a lock that also blocks every
 * signal while held: two rt_sigprocmask system calls around each use,
 * several per frame. Measured on `ember record` of a program in libc's
 * qsort, they were 60% of the profiler's CPU while sampling. Debian's
 * libunwind is built without the per-thread cache that avoids them
 * (UNW_CACHE_PER_THREAD falls back to the global one). What the blocking
 * protects against is a signal handler on the unwinding thread entering
 * libunwind while the lock is held; Ember's handlers only set flags, and
 * the address space and its cache are this thread's alone (__thread). So
 * this definition, which the dynamic linker binds libunwind's calls to,
 * does nothing while this thread is inside libunwind for us (unwinding),
 * and is the real sigprocmask otherwise.
 */
static __thread bool in_libunwind;

int sigprocmask(int how, const sigset_t *set, sigset_t *oldset)
{
	int r;

	if (in_libunwind) {
		/* Never read: the matching restore is skipped too. */
		if (oldset)
			sigemptyset(oldset);
		return 0;
	}
	r = pthread_sigmask(how, set, oldset);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

static unw_addr_space_t get_addr_space(const struct sym_session *s, pid_t pid)
{
	struct addr_space *a = &spaces[0];
	uint64_t generation = sym_session__maps_generation(s, pid);

	for (size_t i = 0; i < ADDR_SPACES; i++) {
		if (spaces[i].as && spaces[i].s == s && spaces[i].pid == pid) {
			a = &spaces[i];
			if (a->generation != generation) {
				/* pid's maps changed (an exec): other code
				 * may be at the addresses cached */
				unw_flush_cache(a->as, 0, 0);
				a->generation = generation;
			}
			goto found;
		}
		if (spaces[i].used < a->used)
			a = &spaces[i];
	}
	/* The least recently used (or an unused one), for pid. */
	if (a->as) {
		unw_flush_cache(a->as, 0, 0);
	} else {
		a->as = unw_create_addr_space(&accessors, 0);
		if (!a->as)
			return NULL;
		spaces_created++;
		unw_set_caching_policy(a->as, UNW_CACHE_GLOBAL);
	}
	a->s = s;
	a->pid = pid;
	a->generation = generation;
found:
	a->used = ++spaces_clock;
	return a->as;
}

uint64_t sym_unwind__memory(uint64_t *ret_resets)
{
	return spaces_created * ADDR_SPACE_BYTES + sym_unwind__memo_memory(ret_resets);
}

void sym_unwind__forget(const struct sym_session *s, pid_t pid)
{
	/* The process exited or exec'd (its addresses now hold other code),
	 * or the session ends (another may get its address): its pid may
	 * come back with other code at the same addresses. */
	in_libunwind = true;
	for (size_t i = 0; i < ADDR_SPACES; i++)
		if (spaces[i].as && spaces[i].s == s && (pid == 0 || spaces[i].pid == pid)) {
			unw_flush_cache(spaces[i].as, 0, 0);
			spaces[i].s = NULL;
			spaces[i].pid = 0;
			spaces[i].used = 0;
		}
	in_libunwind = false;
}

const char *sym_unwind_end_name(enum sym_unwind_end end)
{
	static const char *const names[SYM_UNWIND__COUNT] = {
		[SYM_UNWIND_ROOT] = "root",
		[SYM_UNWIND_STACK_SHORT] = "stack-snapshot-too-short",
		[SYM_UNWIND_NO_CFI] = "no-unwind-info",
		[SYM_UNWIND_BAD_FRAME] = "bad-frame",
		[SYM_UNWIND_DEPTH] = "too-deep",
		[SYM_UNWIND_NO_MEMORY] = "memory-not-served",
	};

	if ((unsigned)end >= SYM_UNWIND__COUNT)
		return "invalid";
	return names[end];
}

static int unwind(struct sym_session *s, pid_t pid,
		  const uint64_t regs[SYM_UNWIND_REGS], const void *stack,
		  size_t stack_len, uint64_t *ret_ips, size_t max,
		  size_t *ret_n, enum sym_unwind_end *ret_end)
{
	struct unwind_ctx c = {
		.s = s,
		.pid = pid,
		.regs = regs,
		.stack = stack,
		.sp = regs[UNW_X86_64_RSP],
		.stack_len = stack_len,
	};
	unw_addr_space_t as = get_addr_space(s, pid);
	enum sym_unwind_end end = SYM_UNWIND_DEPTH;
	const struct sym_cfi_range *sig = NULL;
	size_t n = 0, n_sig = 0;
	unw_cursor_t cursor;
	bool after_sig;
	int r;

	if (!as)
		return -ENOMEM;
	if (max == 0)
		return -EINVAL;
	if (sym_session__signal_ranges(s, pid, &sig, &n_sig) == -ENOMEM)
		return -ENOMEM;
	ret_ips[n++] = regs[UNW_X86_64_RIP];
	if (sym_unwind__fast_walk(&c, sig, n_sig, ret_ips, max, &n, &end)) {
		sym_session__count_fast_unwind(s);
		goto out;
	}
	after_sig = sym_cfi__in_ranges(sig, n_sig, regs[UNW_X86_64_RIP]);
	c.frame_ip = regs[UNW_X86_64_RIP];
	if (unw_init_remote(&cursor, as, &c) < 0) {
		end = SYM_UNWIND_BAD_FRAME;
		goto out;
	}
	while (n < max) {
		unw_word_t ip;

		c.stack_short = c.no_cfi = c.unserved = false;
		c.depth = n;
		r = unw_step(&cursor);
		if (r == 0) {
			end = SYM_UNWIND_ROOT;
			break;
		}
		if (r < 0 || unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0) {
			end = c.stack_short ? SYM_UNWIND_STACK_SHORT
			    : c.no_cfi ? SYM_UNWIND_NO_CFI
			    : c.unserved ? SYM_UNWIND_NO_MEMORY : SYM_UNWIND_BAD_FRAME;
			break;
		}
		if (ip == 0) {
			end = SYM_UNWIND_ROOT;
			break;
		}
		/* A signal trampoline (the handler "returns" to its first
		 * byte) and the frame the signal interrupted (its exact
		 * instruction) are not calls: one past, so that the caller's
		 * addr - 1 finds them. */
		c.frame_ip = ip;
		if (sym_cfi__in_ranges(sig, n_sig, ip)) {
			ret_ips[n++] = ip + 1;
			after_sig = true;
		} else {
			ret_ips[n++] = after_sig ? ip + 1 : ip;
			after_sig = false;
		}
	}
out:
	if (c.n_unserved)
		sym_session__count_unserved(s, c.n_unserved);
	*ret_n = n;
	*ret_end = end;
	return 0;
}

int sym_session__unwind(struct sym_session *s, pid_t pid,
			const uint64_t regs[SYM_UNWIND_REGS], const void *stack,
			size_t stack_len, uint64_t *ret_ips, size_t max,
			size_t *ret_n, enum sym_unwind_end *ret_end)
{
	int r;

	in_libunwind = true;
	r = unwind(s, pid, regs, stack, stack_len, ret_ips, max, ret_n, ret_end);
	in_libunwind = false;
	return r;
}

static int leaf_caller(struct sym_session *s, pid_t pid, uint64_t leaf_ip,
		       const uint64_t top[2], uint64_t *ret_caller)
{
	uint64_t regs[SYM_UNWIND_REGS] = {0};
	struct unwind_ctx c = {
		.s = s,
		.pid = pid,
		.regs = regs,
		.stack = (const uint8_t *)top,
		.sp = FAKE_SP,
		.stack_len = 2 * sizeof(uint64_t),
		.frame_ip = leaf_ip,
	};
	unw_addr_space_t as = get_addr_space(s, pid);
	unw_cursor_t cursor;
	unw_word_t ip, sp;

	if (!as)
		return -ENOMEM;
	regs[UNW_X86_64_RIP] = leaf_ip;
	regs[UNW_X86_64_RSP] = FAKE_SP;
	/* %rbp points nowhere: a leaf whose CFA is %rbp-based has a frame,
	 * the kernel's walk was right, and the step fails here. */
	regs[UNW_X86_64_RBP] = 0;
	if (unw_init_remote(&cursor, as, &c) < 0 || unw_step(&cursor) <= 0 ||
	    unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 ||
	    unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0)
		return -ENOENT;
	/* The return address must have come from the two words we have. */
	if (sp > FAKE_SP + 2 * sizeof(uint64_t) || ip == 0 ||
	    (ip != top[0] && ip != top[1]))
		return -ENOENT;
	*ret_caller = ip;
	return 0;
}

int sym_session__leaf_caller(struct sym_session *s, pid_t pid, uint64_t leaf_ip,
			     const uint64_t top[2], uint64_t *ret_caller)
{
	int r;

	in_libunwind = true;
	r = leaf_caller(s, pid, leaf_ip, top, ret_caller);
	in_libunwind = false;
	return r;
}
