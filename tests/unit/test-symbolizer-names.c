/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-names.c — how frames are named beyond plain C symbols:
 * a C++ class template method in nested namespaces is demangled as
 * `addr2line -f -C` demangles it (and stays mangled, as `addr2line -f`
 * prints it, with no_demangle), and code in anonymous executable memory is
 * named from /tmp/perf-PID.map (a JIT's map file), as a JIT frame, with the
 * file re-read when the JIT appends to it.
 *
 * Usage: test-symbolizer-names CXX_FIXTURE
 */
#include <sys/mman.h>

#include "symbolizer-test.h"

static void test_cxx(const char *bin)
{
	struct sym_session *s = NULL, *raw = NULL;
	struct test_child c = { 0 };
	struct sym_frame f;
	char want[512], vaddr[64];
	uint64_t off;

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true,
						       .no_demangle = true }, &raw) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	CHECK(sym_session__note_process(raw, c.pid) == 0);
	CHECK(sym_session__user(s, c.pid, c.addrs[0] + 4, &f) == 0);
	test_print_frame("c++", &f);
	CHECK_STR(f.name, "ember_fx::inner::Box<int>::get(int) const");
	CHECK(f.miss == SYM_MISS_NONE && f.file && f.line > 0);
	/* PIE: addr2line wants the link-time address, here the file offset
	 * plus the text segment's vaddr - offset (0 for a default PIE link) */
	off = f.offset;
	snprintf(vaddr, sizeof(vaddr), "0x%" PRIx64, off);
	test_run(want, sizeof(want), "addr2line -f -C -e '%s' %s", bin, vaddr);
	CHECK_STR(f.name, want);
	CHECK(sym_session__user(raw, c.pid, c.addrs[0] + 4, &f) == 0);
	test_run(want, sizeof(want), "addr2line -f -e '%s' %s", bin, vaddr);
	CHECK_STR(f.name, want);
	CHECK(strncmp(f.name, "_ZNK8ember_fx5inner3BoxIiE3getEi", 32) == 0);
	test_child_stop(&c);
	sym_session__free(raw);
	sym_session__free(s);
}

static void test_perf_map(void)
{
	struct sym_session *s = NULL;
	struct sym_frame f;
	char path[64];
	uint64_t base;
	size_t n = 0;
	FILE *m;
	void *code;

	code = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(code != MAP_FAILED);
	base = (uint64_t)(uintptr_t)code;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	m = fopen(path, "w");
	CHECK(m != NULL);
	fprintf(m, "%" PRIx64 " 100 LazyCompile:*fib /app/fib.js:3\n", base);
	fprintf(m, "%" PRIx64 " 40 Stub:old\n", base + 0x200);
	fprintf(m, "%" PRIx64 " 40 Stub:new\n", base + 0x200);  /* regenerated */
	fprintf(m, "garbage line\n");
	fclose(m);

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__user_frames(s, getpid(), base + 0x10, &f, 1, &n) == 0);
	test_print_frame("jit", &f);
	CHECK(n == 1);
	CHECK_STR(f.name, "LazyCompile:*fib /app/fib.js:3");
	CHECK(f.kind == SYM_FRAME_JIT && f.miss == SYM_MISS_NONE);
	CHECK(sym_session__user(s, getpid(), base + 0x210, &f) == 0);
	CHECK_STR(f.name, "Stub:new");
	/* between entries: [anon]+0xOFF, still a JIT frame */
	CHECK(sym_session__user(s, getpid(), base + 0x150, &f) == 0);
	CHECK_STR(f.name, "[anon]+0x150");
	CHECK(f.kind == SYM_FRAME_JIT && f.miss == SYM_MISS_NO_SYMBOL);

	/* The JIT appends; a miss re-reads the file, at most once a second. */
	m = fopen(path, "a");
	CHECK(m != NULL);
	fprintf(m, "%" PRIx64 " 10 LazyCompile:later\n", base + 0x400);
	fclose(m);
	sleep(1);
	usleep(100000);
	CHECK(sym_session__user(s, getpid(), base + 0x404, &f) == 0);
	CHECK_STR(f.name, "LazyCompile:later");
	unlink(path);
	sym_session__free(s);
	munmap(code, 8192);
}

int main(int argc, char **argv)
{
	char *cxx;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CXX_FIXTURE\n", argv[0]);
		return 2;
	}
	cxx = test_abs(argv[1]);
	test_cxx(cxx);
	test_perf_map();
	free(cxx);
	return test_exit();
}
