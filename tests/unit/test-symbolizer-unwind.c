/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-unwind.c — DWARF unwinding of the test process's own
 * stack, captured as the sampler captures one (registers and a copy of the
 * stack's top) and unwound by sym_session__unwind():
 *
 * - through C++ frames with exception-handling data (the fixture library,
 *   g++ -O2 -fomit-frame-pointer, CIE "zPLR"): libunwind reads their
 *   personality routine's pointer from the library's data, which the
 *   session must serve from the file (and from its cached block the
 *   second time);
 * - through a signal handler's frame (glibc's __restore_rt, CIE "zRS"),
 *   named as the trampoline, not as the byte before it;
 * - into anonymous executable memory (no CFI): libunwind's guesses read
 *   memory no file holds, which is refused and counted, never guessed;
 * - from a function's return after its epilogue popped %rbp, whose CFI
 *   still puts the caller's %rbp below %rsp, outside the copy: the live
 *   %rbp is the caller's there, and the caller's frame-pointer frame is
 *   walked (one instruction before the return, the same slot is not
 *   guessed: the walk ends as the snapshot's, not as unserved memory);
 * - and every stack also by libunwind alone (sym_unwind_fast_off): the
 *   fast rules' walk must give the same frames and end.
 *
 * And what `--unwind auto` asks of a stack and of an executable: where a
 * frame-pointer walk of a stack goes wrong (the same C++ library built
 * with frame pointers, below this test's frames, which have none), the
 * same as a lookup per address gives; whether an executable wants DWARF
 * (the fixture program built with and without frame pointers) and which
 * file it exec'd.
 *
 * Usage: test-symbolizer-unwind FIXTURE_UNWIND_LIB FIXTURE_UNWIND_LIB_FP
 *                               FIXTURE_FP FIXTURE_NOFP
 */
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>

#include "symbolizer-test.h"
#include "sym-internal.h"

#define STACK_COPY 8192
#define MAX_IPS 64

struct capture {
	uint64_t regs[SYM_UNWIND_REGS];
	uint8_t stack[STACK_COPY];
	size_t len;
};

static struct capture cap;

/* The end of the mapping holding addr (our stack), from /proc/self/maps. */
static uint64_t mapping_end(uint64_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	uint64_t end = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi)
			end = hi;
	fclose(f);
	return end;
}

/* Byte by byte and not instrumented: the stack holds ASan's redzones. */
__attribute__((no_sanitize_address, noinline))
static void copy_stack(uint8_t *to, const volatile uint8_t *from, size_t len)
{
	for (size_t i = 0; i < len; i++)
		to[i] = from[i];
}

/* The registers and the stack as they are here, in the order of
 * SYM_UNWIND_REGS (rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip). */
__attribute__((noinline)) void capture_here(void);
__attribute__((noinline)) void capture_here(void)
{
	static const int order[SYM_UNWIND_REGS] = {
		REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
		REG_RIP,
	};
	ucontext_t uc;
	uint64_t sp, end;

	memset(&uc, 0, sizeof(uc));
	CHECK(getcontext(&uc) == 0);
	for (int i = 0; i < SYM_UNWIND_REGS; i++)
		cap.regs[i] = (uint64_t)uc.uc_mcontext.gregs[order[i]];
	sp = cap.regs[7];
	end = mapping_end(sp);
	CHECK(end > sp);
	cap.len = end - sp < STACK_COPY ? end - sp : STACK_COPY;
	copy_stack(cap.stack, (const volatile uint8_t *)(uintptr_t)sp, cap.len);
	__asm__ volatile("" ::: "memory");
}

/* Unwinds cap, names the frames (innermost first) into names[]. */
static size_t unwind_names(struct sym_session *s, const char **names, uint64_t *ips,
			   enum sym_unwind_end *ret_end)
{
	uint64_t lib[MAX_IPS];
	enum sym_unwind_end lib_end;
	size_t n = 0, n_lib = 0;

	CHECK(sym_session__unwind(s, getpid(), cap.regs, cap.stack, cap.len, ips, MAX_IPS,
				  &n, ret_end) == 0);
	/* The fast rules' walk (where they walk the whole stack) is
	 * libunwind's, frame for frame, and ends the same way. */
	sym_unwind_fast_off = true;
	CHECK(sym_session__unwind(s, getpid(), cap.regs, cap.stack, cap.len, lib, MAX_IPS,
				  &n_lib, &lib_end) == 0);
	sym_unwind_fast_off = false;
	CHECK(n_lib == n && lib_end == *ret_end && !memcmp(lib, ips, n * sizeof(*ips)));
	for (size_t i = 0; i < n; i++) {
		struct sym_frame f;

		CHECK(sym_session__user(s, getpid(), i ? ips[i] - 1 : ips[i], &f) == 0);
		names[i] = f.name;
		fprintf(stderr, "  #%zu 0x%" PRIx64 " %s\n", i, ips[i], f.name);
	}
	fprintf(stderr, "  end: %s\n", sym_unwind_end_name(*ret_end));
	return n;
}

/* The index of name in names[from..n), or n. */
static size_t find(const char **names, size_t n, size_t from, const char *name)
{
	for (size_t i = from; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return n;
}

__attribute__((noinline)) void run_cxx(void (*fn)(void (*)(void)));
__attribute__((noinline)) void run_cxx(void (*fn)(void (*)(void)))
{
	fn(capture_here);
	__asm__ volatile("" ::: "memory");
}

static void test_cxx_frames(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW);
	void (*try_fn)(void (*)(void)) = h ? (void (*)(void (*)(void)))dlsym(h, "fixture_cxx_try") : NULL;
	const char *names[MAX_IPS];
	uint64_t ips[MAX_IPS];
	struct sym_options o = { .no_kernel = true };
	struct sym_session *s = NULL;
	enum sym_unwind_end end;
	struct sym_stats st1, st2;
	size_t n, i_raii, i_try, i_run, i_main;

	CHECK(try_fn != NULL);
	if (!try_fn)
		return;
	run_cxx(try_fn);
	CHECK(sym_session__new(&o, &s) == 0);
	fprintf(stderr, "C++ frames:\n");
	n = unwind_names(s, names, ips, &end);
	i_raii = find(names, n, 0, "fixture_cxx_raii");
	i_try = find(names, n, 0, "fixture_cxx_try");
	i_run = find(names, n, 0, "run_cxx");
	i_main = find(names, n, 0, "main");
	CHECK(n > 0 && !strcmp(names[0], "capture_here"));
	CHECK(i_raii == 1 && i_try == 2 && i_run == 3 && i_main > i_run && i_main < n);
	CHECK(end == SYM_UNWIND_ROOT);
	sym_session__stats(s, &st1);
	/* The fast rules walked it (the fixture's C++ CIEs are "zPLR": the
	 * personality is libunwind's business, not the walk's). */
	CHECK(st1.unwind_fast == 1);
	/* libunwind's walk, to compare: the personality pointers (the
	 * fixture's, libstdc++'s) came from the files, and nothing was
	 * refused. */
	CHECK(st1.unwind_file_reads > 0);
	CHECK(st1.unwind_unserved == 0);

	/* Again without libunwind's cache: the words come from the blocks
	 * kept with the binaries, not from the file again. */
	sym_unwind__forget(s, getpid());
	n = unwind_names(s, names, ips, &end);
	sym_session__stats(s, &st2);
	CHECK(end == SYM_UNWIND_ROOT && find(names, n, 0, "fixture_cxx_raii") == 1);
	CHECK(st2.unwind_file_reads == st1.unwind_file_reads);
	sym_session__free(s);
}

__attribute__((noinline)) static void on_usr1(int sig)
{
	(void)sig;
	capture_here();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void run_signal(void);
__attribute__((noinline)) void run_signal(void)
{
	raise(SIGUSR1);
	__asm__ volatile("" ::: "memory");
}

static void test_signal_frame(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct sym_options o = { .no_kernel = true };
	const char *names[MAX_IPS];
	uint64_t ips[MAX_IPS];
	struct sym_session *s = NULL;
	enum sym_unwind_end end;
	size_t n, i_tramp;

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	run_signal();
	CHECK(sym_session__new(&o, &s) == 0);
	fprintf(stderr, "signal frame:\n");
	n = unwind_names(s, names, ips, &end);
	i_tramp = find(names, n, 0, "__restore_rt");
	CHECK(n > 2 && !strcmp(names[0], "capture_here") && !strcmp(names[1], "on_usr1"));
	/* The handler returns to the trampoline's first byte: reported one
	 * past it, so that addr - 1 names the trampoline. */
	CHECK(i_tramp == 2);
	CHECK(find(names, n, i_tramp, "raise") < n);
	CHECK(find(names, n, i_tramp, "run_signal") < find(names, n, i_tramp, "main"));
	CHECK(find(names, n, i_tramp, "main") < n);
	CHECK(end == SYM_UNWIND_ROOT);
	CHECK(i_tramp < n && sym_session__signal_trampoline(s, getpid(), ips[i_tramp] - 1));
	CHECK(!sym_session__signal_trampoline(s, getpid(), ips[1] - 1));
	sym_session__free(s);
}

static void test_no_cfi(void)
{
	struct sym_options o = { .no_kernel = true };
	uint64_t ips[MAX_IPS];
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sym_session *s = NULL;
	enum sym_unwind_end end;
	struct sym_stats st;
	uint64_t *heap = malloc(64);
	size_t n = 0;

	CHECK(code != MAP_FAILED && heap);
	if (code == MAP_FAILED || !heap)
		return;
	memset(code, 0xc3, 4096);
	/* A "JIT" frame: no CFI anywhere; libunwind then looks at the code
	 * and follows %rbp, here into the heap. */
	memset(cap.regs, 0, sizeof(cap.regs));
	memset(cap.stack, 0, 64);
	cap.len = 64;
	cap.regs[16] = (uint64_t)(uintptr_t)code + 16;
	cap.regs[7] = 0x10000;  /* rsp: the copy's address, nobody's memory */
	cap.regs[6] = (uint64_t)(uintptr_t)heap;
	memset(heap, 0, 64);
	CHECK(sym_session__new(&o, &s) == 0);
	CHECK(sym_session__unwind(s, getpid(), cap.regs, cap.stack, cap.len, ips, MAX_IPS,
				  &n, &end) == 0);
	sym_session__stats(s, &st);
	fprintf(stderr, "no CFI: %zu frames, end %s, %" PRIu64 " reads not served\n", n,
		sym_unwind_end_name(end), st.unwind_unserved);
	CHECK(n >= 1 && ips[0] == cap.regs[16]);
	CHECK(end != SYM_UNWIND_ROOT);
	CHECK(st.unwind_unserved > 0);
	sym_session__free(s);
	munmap(code, 4096);
	free(heap);
}

/*
 * An epilogue, by hand (the compilers' own: clang's `pop %rbp; ret` keeps
 * "%rbp at CFA - 16" after the pop): epilogue_caller keeps a frame
 * pointer (its CFA is %rbp + 16) and calls epilogue_frame, which notes
 * its %rbp and calls the capture. A sample at epilogue_ret (or at
 * epilogue_nop, before it) is made of that capture: %rsp at the return
 * address into epilogue_caller, %rbp the caller's again.
 */
__attribute__((visibility("hidden"))) uint64_t epilogue_rbp;
void epilogue_caller(void (*fn)(void));
extern const char epilogue_ret[], epilogue_nop[];
__asm__(
	".text\n"
	".globl epilogue_caller\n"
	".hidden epilogue_caller\n"
	".type epilogue_caller, @function\n"
	"epilogue_caller:\n"
	".cfi_startproc\n"
	"	push %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"	mov %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"	call epilogue_frame\n"
	"	pop %rbp\n"
	".cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	".cfi_endproc\n"
	".size epilogue_caller, .-epilogue_caller\n"
	".type epilogue_frame, @function\n"
	"epilogue_frame:\n"
	".cfi_startproc\n"
	"	push %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"	mov %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"	mov %rbp, epilogue_rbp(%rip)\n"
	"	call *%rdi\n"
	"	pop %rbp\n"
	".cfi_def_cfa %rsp, 8\n"
	".globl epilogue_nop\n"
	".hidden epilogue_nop\n"
	"epilogue_nop:\n"
	"	nop\n"
	".globl epilogue_ret\n"
	".hidden epilogue_ret\n"
	"epilogue_ret:\n"
	"	ret\n"
	".cfi_endproc\n"
	".size epilogue_frame, .-epilogue_frame\n");

__attribute__((noinline)) void run_epilogue(void);
__attribute__((noinline)) void run_epilogue(void)
{
	epilogue_caller(capture_here);
	__asm__ volatile("" ::: "memory");
}

static void test_epilogue(void)
{
	struct sym_options o = { .no_kernel = true };
	const char *names[MAX_IPS];
	uint64_t ips[MAX_IPS], rsp, off;
	struct sym_session *s = NULL;
	enum sym_unwind_end end;
	struct sym_stats st;
	size_t n;

	run_epilogue();
	/* The sample at the return: %rsp at the return address, %rbp the
	 * word epilogue_frame pushed (now below %rsp, outside the copy). */
	rsp = epilogue_rbp + 8;
	off = rsp - cap.regs[7];
	CHECK(epilogue_rbp > cap.regs[7] && off < cap.len);
	if (epilogue_rbp <= cap.regs[7] || off >= cap.len)
		return;
	memcpy(&cap.regs[6], cap.stack + (epilogue_rbp - cap.regs[7]), sizeof(uint64_t));
	memmove(cap.stack, cap.stack + off, cap.len - off);
	cap.len -= off;
	cap.regs[7] = rsp;
	cap.regs[16] = (uint64_t)(uintptr_t)epilogue_ret;
	CHECK(sym_session__new(&o, &s) == 0);
	fprintf(stderr, "at a return after the epilogue:\n");
	n = unwind_names(s, names, ips, &end);
	sym_session__stats(s, &st);
	CHECK(n > 3 && !strcmp(names[0], "epilogue_frame") &&
	      !strcmp(names[1], "epilogue_caller") && !strcmp(names[2], "run_epilogue"));
	CHECK(find(names, n, 2, "main") < n);
	CHECK(end == SYM_UNWIND_ROOT);
	CHECK(st.unwind_unserved == 0);

	/* One instruction before: not a return, the slot is not guessed;
	 * it is stack the snapshot does not hold. */
	cap.regs[16] = (uint64_t)(uintptr_t)epilogue_nop;
	fprintf(stderr, "before the return:\n");
	n = unwind_names(s, names, ips, &end);
	sym_session__stats(s, &st);
	CHECK(n == 2 && !strcmp(names[1], "epilogue_caller"));
	CHECK(end == SYM_UNWIND_STACK_SHORT);
	CHECK(st.unwind_unserved == 0);
	sym_session__free(s);
}

/* The first caller frame in code without frame pointers, asked address by
 * address: what sym_session__stack_without_fp() must answer. */
static size_t nofp_reference(struct sym_session *s, const uint64_t *ips, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		const struct sym_elf *e;
		uint64_t bias, lo, hi;

		if (sym_session__locate(s, getpid(), ips[i] - 1, &e, NULL, &bias, &lo, &hi) == 0 &&
		    e->cfi.eh_frame && !sym_cfi__has_frame_pointers(&e->cfi))
			return i;
	}
	return n;
}

/* A return address inside fn (addr - 1 is its first byte). */
static uint64_t inside(void *h, const char *fn)
{
	void *p = h ? dlsym(h, fn) : NULL;

	return p ? (uint64_t)(uintptr_t)p + 1 : 0;
}

static void test_stack_without_fp(const char *lib_nofp, const char *lib_fp)
{
	void *h = dlopen(lib_fp, RTLD_NOW), *h_nofp = dlopen(lib_nofp, RTLD_NOW);
	void (*try_fn)(void (*)(void)) = h ? (void (*)(void (*)(void)))dlsym(h, "fixture_cxx_try") : NULL;
	struct sym_options o = { .no_kernel = true };
	const char *names[MAX_IPS];
	uint64_t ips[MAX_IPS], odd[5], fp, nofp;
	struct sym_session *s = NULL;
	enum sym_unwind_end end;
	size_t n, i;

	CHECK(try_fn != NULL && h_nofp != NULL);
	if (!try_fn || !h_nofp)
		return;
	run_cxx(try_fn);
	CHECK(sym_session__new(&o, &s) == 0);
	fprintf(stderr, "frame pointers in a stack:\n");
	n = unwind_names(s, names, ips, &end);
	CHECK(n > 4 && find(names, n, 0, "fixture_cxx_try") == 2 &&
	      find(names, n, 0, "run_cxx") == 3);
	/* capture_here's callers: the library's two functions keep frame
	 * pointers; below them, the answer is the per-address one (whether
	 * this test's own code keeps frame pointers depends on how it was
	 * built: a sanitizer's build does). */
	i = n;
	if (sym_session__stack_without_fp(s, getpid(), ips, n, &i) < 0)
		i = n;
	CHECK(i >= 3 && i == nofp_reference(s, ips, n));
	/* Only the library's frames. */
	CHECK(sym_session__stack_without_fp(s, getpid(), ips, 3, &i) == -ENOENT);
	/* By construction: the same functions from the library built with
	 * and without frame pointers. The leaf is not asked about; an
	 * address in no mapping does not count. */
	fp = inside(h, "fixture_cxx_raii");
	nofp = inside(h_nofp, "fixture_cxx_raii");
	CHECK(fp && nofp);
	odd[0] = nofp;
	odd[1] = 0x11;
	odd[2] = fp;
	CHECK(sym_session__stack_without_fp(s, getpid(), odd, 3, &i) == -ENOENT);
	odd[2] = nofp;
	CHECK(sym_session__stack_without_fp(s, getpid(), odd, 3, &i) == 0 && i == 2);
	/* The first of a run: two frames in one mapping, then another. */
	odd[1] = fp;
	odd[2] = inside(h, "fixture_cxx_try");
	odd[3] = inside(h_nofp, "fixture_cxx_try");
	odd[4] = nofp;
	CHECK(sym_session__stack_without_fp(s, getpid(), odd, 5, &i) == 0 && i == 3 &&
	      i == nofp_reference(s, odd, 5));
	sym_session__free(s);
}

/* prog's executable wants DWARF (or not), and is the file it exec'd. */
static void check_exe(const char *prog, bool wants_dwarf)
{
	struct sym_options o = { .no_kernel = true };
	struct sym_session *s = NULL;
	struct test_child child = { .pid = -1 };
	struct sym_file_id id = { 0, 0 };
	struct stat st;
	bool dwarf = !wants_dwarf;

	CHECK(sym_session__new(&o, &s) == 0);
	CHECK(stat(prog, &st) == 0);
	CHECK(test_child_start(prog, &child) == 0);
	if (child.pid < 0)
		goto out;
	CHECK(sym_session__exe(s, child.pid, &dwarf) == 0 && dwarf == wants_dwarf);
	CHECK(sym_session__exe_id(s, child.pid, &id) == 0);
	CHECK(id.dev == st.st_dev && id.ino == st.st_ino);
	test_child_stop(&child);
	/* Gone: its snapshot still answers, its file is not known. */
	dwarf = !wants_dwarf;
	CHECK(sym_session__exe(s, child.pid, &dwarf) == 0 && dwarf == wants_dwarf);
	CHECK(sym_session__exe_id(s, child.pid, &id) == -ENOENT);
out:
	sym_session__free(s);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s FIXTURE_UNWIND_LIB FIXTURE_UNWIND_LIB_FP FIXTURE_FP "
			"FIXTURE_NOFP\n", argv[0]);
		return 2;
	}
	test_cxx_frames(argv[1]);
	test_signal_frame();
	test_no_cfi();
	test_epilogue();
	test_stack_without_fp(argv[1], argv[2]);
	check_exe(argv[3], false);
	check_exe(argv[4], true);
	return test_exit();
}
