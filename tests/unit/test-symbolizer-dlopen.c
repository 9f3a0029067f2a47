/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-dlopen.c — a library dlopen'ed after the snapshot: the
 * first miss does not re-read maps within a second of the last read (bounded
 * cost), a later one does. Then the library's functions resolve, including
 * one in a second executable PT_LOAD segment whose virtual address differs
 * from its file offset, and a static function only .symtab knows; names and
 * file:line are compared with addr2line on the library.
 *
 * Usage: test-symbolizer-dlopen FIXTURE_LIB
 */
#include <dlfcn.h>
#include <time.h>

#include "symbolizer-test.h"

static void check_fn(struct sym_session *s, const void *fn, const char *name,
		     const char *lib)
{
	const char *addr = (const char *)fn + 3;
	struct sym_frame f;
	Dl_info info;
	char buf[512], real[4096];

	CHECK(dladdr(fn, &info) != 0);
	CHECK(sym_session__user(s, getpid(), (uint64_t)(uintptr_t)addr, &f) == 0);
	test_print_frame(name, &f);
	CHECK_STR(f.name, name);
	CHECK(f.miss == SYM_MISS_NONE);
	CHECK(realpath(lib, real) != NULL);
	CHECK_STR(f.module, real);
	/* the vaddr != offset segment: the frame's offset is the file's */
	if (strcmp(name, "fixture_lib_far") == 0)
		CHECK(f.offset < 0x100000 && addr - (const char *)info.dli_fbase >= 0x400000);
	/* addr2line takes the link-time address: run-time minus load base. */
	test_run(buf, sizeof(buf), "addr2line -f -e '%s' 0x%" PRIx64, lib,
		 (uint64_t)(addr - (const char *)info.dli_fbase));
	CHECK_STR(buf, name);
	/* The line: the outermost frame's, the last of addr2line -i (a
	 * frame's line is that of the call inlined there, if any). */
	test_run(buf, sizeof(buf), "addr2line -i -e '%s' 0x%" PRIx64 " | tail -n 1 | "
		 "sed 's/ (discriminator [0-9]*)//'", lib,
		 (uint64_t)(addr - (const char *)info.dli_fbase));
	CHECK(strstr(buf, "??") == NULL);  /* the fixture has DWARF lines */
	CHECK(f.file != NULL);
	if (f.file) {
		const char *base = strrchr(f.file, '/');
		char want[4096];

		snprintf(want, sizeof(want), "%s:%u", base ? base + 1 : f.file, f.line);
		base = strrchr(buf, '/');
		CHECK_STR(want, base ? base + 1 : buf);
	}
}

int main(int argc, char **argv)
{
	struct sym_session *s = NULL;
	struct sym_frame f;
	struct sym_stats st;
	void *h, *gamma, *far, *hidden;
	void *(*static_addr)(void);
	char buf[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_LIB\n", argv[0]);
		return 2;
	}
	/* The fixture must really have two executable segments, or the test
	 * below no longer covers vaddr != offset. */
	test_run(buf, sizeof(buf), "readelf -lW '%s' | grep -c 'LOAD.* R E '", argv[1]);
	CHECK(atoi(buf) >= 2);

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	if (!s)
		return 1;
	CHECK(sym_session__note_process(s, getpid()) == 0);
	h = dlopen(argv[1], RTLD_NOW);
	CHECK(h != NULL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return test_exit();
	}
	gamma = dlsym(h, "fixture_lib_gamma");
	far = dlsym(h, "fixture_lib_far");
	static_addr = (void *(*)(void))dlsym(h, "fixture_lib_static_addr");
	CHECK(gamma && far && static_addr);
	hidden = static_addr();

	/* Right after the snapshot: no re-read yet. */
	CHECK(sym_session__user(s, getpid(), (uint64_t)(uintptr_t)gamma, &f) == 0);
	CHECK(f.miss == SYM_MISS_NO_MAPPING);
	CHECK_STR(f.name, "[unknown]");

	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100000000 }, NULL);
	check_fn(s, gamma, "fixture_lib_gamma", argv[1]);
	check_fn(s, far, "fixture_lib_far", argv[1]);
	check_fn(s, hidden, "lib_hidden_static", argv[1]);

	sym_session__stats(s, &st);
	CHECK(st.misses[SYM_MISS_NO_MAPPING] == 1);
	CHECK(st.resolved == 3);
	dlclose(h);
	sym_session__free(s);
	return test_exit();
}
