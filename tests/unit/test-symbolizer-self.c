/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-self.c — symbolizes the test process itself (a PIE): its
 * own global and static functions, libc's qsort (.dynsym), an internal libc
 * function that only the build-id debug file names (msort_with_tmp), the same
 * address with the debug file lookup disabled (must be "libc.so.6+0xOFF",
 * never the nearest exported symbol), the vdso, anonymous executable memory,
 * and executable mappings of corrupt and truncated ELF files.
 *
 * Usage: test-symbolizer-self FIXTURE_LIB
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <time.h>

#include "symbolizer-test.h"

int test_global_function(int x);

__attribute__((noinline)) int test_global_function(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 16; i++)
		acc += i * acc;
	return acc;
}

__attribute__((noinline)) static int test_static_function(int x)
{
	volatile int acc = x;

	for (int i = 0; i < 16; i++)
		acc ^= i + acc;
	return acc;
}

static struct sym_frame resolve(struct sym_session *s, const void *addr, const char *what)
{
	struct sym_frame f;

	CHECK(sym_session__user(s, getpid(), (uint64_t)(uintptr_t)addr, &f) == 0);
	test_print_frame(what, &f);
	return f;
}

static void test_own_functions(struct sym_session *s)
{
	struct sym_frame f;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(n > 0);
	exe[n > 0 ? n : 0] = '\0';
	f = resolve(s, (const char *)test_global_function + 2, "own global");
	CHECK_STR(f.name, "test_global_function");
	CHECK_STR(f.module, exe);
	CHECK(f.miss == SYM_MISS_NONE);
	f = resolve(s, (const char *)test_static_function + 2, "own static");
	CHECK_STR(f.name, "test_static_function");
}

static void test_libc(struct sym_session *s, struct sym_session *nodebug)
{
	/* libc's own qsort, not a sanitizer's interceptor of the same name */
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *qsort_addr = libc ? dlsym(libc, "qsort") : NULL;
	char buf[512], want[256];
	struct sym_frame f;
	Dl_info info;
	uint64_t value;

	CHECK(qsort_addr && dladdr(qsort_addr, &info));
	f = resolve(s, (const char *)qsort_addr + 5, "qsort");
	CHECK_STR(f.name, "qsort");
	CHECK(f.module && strcmp(strrchr(f.module, '/'), "/libc.so.6") == 0);
	test_run(buf, sizeof(buf), "readelf -n '%s' | sed -n 's/.*Build ID: //p'", f.module);
	CHECK_STR(f.build_id, buf);
	if (!f.build_id) {
		dlclose(libc);
		return;
	}

	/* An internal function known only to the debug file's .symtab. */
	test_run(buf, sizeof(buf),
		 "nm /usr/lib/debug/.build-id/%.2s/%s.debug 2>/dev/null | "
		 "awk '$3 ~ /^msort_with_tmp/ { print $1; exit }'",
		 f.build_id, f.build_id + 2);
	if (!buf[0]) {
		fprintf(stderr, "no libc debug file: internal libc check skipped\n");
		dlclose(libc);
		return;
	}
	value = strtoull(buf, NULL, 16) + 4;
	f = resolve(s, (const char *)info.dli_fbase + value, "msort_with_tmp");
	CHECK(f.name && strncmp(f.name, "msort_with_tmp", 14) == 0);
	CHECK(f.miss == SYM_MISS_NONE);

	/* Without the debug file only .dynsym is left; the nearest exported
	 * symbol below is not the function, so the frame must stay unnamed,
	 * named by the start of the function its FDE bounds: msort_with_tmp's
	 * own (4 bytes below). libc's text has file offset == vaddr, so the
	 * name is predictable; the frame keeps the address's own offset. */
	f = resolve(nodebug, (const char *)info.dli_fbase + value, "msort without debug");
	snprintf(want, sizeof(want), "libc.so.6+0x%" PRIx64, value - 4);
	CHECK_STR(f.name, want);
	CHECK(f.offset == value);
	CHECK(f.miss == SYM_MISS_NO_SYMBOL);
	CHECK(f.build_id != NULL);
	dlclose(libc);
}

static void test_vdso(struct sym_session *s)
{
	void *h = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
	void *fn = h ? dlsym(h, "__vdso_clock_gettime") : NULL;
	struct sym_frame f;

	if (!fn) {
		fprintf(stderr, "no vdso clock_gettime: vdso check skipped\n");
		return;
	}
	f = resolve(s, (const char *)fn + 1, "vdso");
	CHECK(f.name && strstr(f.name, "clock_gettime"));
	CHECK_STR(f.module, "[vdso]");
	CHECK(f.miss == SYM_MISS_NONE);
	dlclose(h);
}

/* Maps path executable and returns the mapping, or NULL. */
static void *map_exec(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n);
	if (fd >= 0)
		close(fd);
}

static void test_bad_files(struct sym_session *s, const char *lib)
{
	char dir[] = "/tmp/ember-sym-bad-XXXXXX", path[PATH_MAX], want[PATH_MAX];
	unsigned char junk[8192], libbytes[8192];
	struct sym_frame f;
	struct sym_stats st;
	void *junk_map, *trunc_map, *anon;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	/* Starts like an ELF header, the rest is noise. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	memcpy(junk, "\177ELF\2\1\1", 7);
	snprintf(path, sizeof(path), "%s/junk.so", dir);
	write_file(path, junk, sizeof(junk));
	junk_map = map_exec(path, sizeof(junk));

	/* The first 8 KiB of a real library: headers, no sections. */
	fd = open(lib, O_RDONLY);
	CHECK(fd >= 0 && read(fd, libbytes, sizeof(libbytes)) == (ssize_t)sizeof(libbytes));
	close(fd);
	snprintf(path, sizeof(path), "%s/trunc.so", dir);
	write_file(path, libbytes, sizeof(libbytes));
	trunc_map = map_exec(path, sizeof(libbytes));

	anon = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(junk_map && trunc_map && anon != MAP_FAILED);
	CHECK(sym_session__note_process(s, getpid()) == 0);

	f = resolve(s, (char *)junk_map + 0x1234, "junk elf");
	CHECK_STR(f.name, "junk.so+0x1234");
	CHECK(f.miss == SYM_MISS_BAD_ELF);
	f = resolve(s, (char *)trunc_map + 0x1010, "truncated elf");
	CHECK_STR(f.name, "trunc.so+0x1010");
	CHECK(f.miss == SYM_MISS_BAD_ELF || f.miss == SYM_MISS_NO_SYMBOL);
	if (anon != MAP_FAILED) {
		f = resolve(s, (char *)anon + 0x10, "anon");
		CHECK_STR(f.name, "[anon]+0x10");
		CHECK_STR(f.module, "[anon]");
		CHECK(f.kind == SYM_FRAME_JIT);
		CHECK(f.miss == SYM_MISS_NO_SYMBOL);
		munmap(anon, 4096);
	}
	sym_session__stats(s, &st);
	CHECK(st.misses[SYM_MISS_BAD_ELF] >= 1);
	CHECK(st.misses[SYM_MISS_NO_SYMBOL] >= 1);

	if (junk_map)
		munmap(junk_map, sizeof(junk));
	if (trunc_map)
		munmap(trunc_map, sizeof(libbytes));
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	CHECK(system(want) == 0);
}

int main(int argc, char **argv)
{
	struct sym_session *s = NULL, *nodebug = NULL;
	struct sym_stats st;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_LIB\n", argv[0]);
		return 2;
	}
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true, .debug_dir = "" },
			       &nodebug) == 0);
	if (!s || !nodebug)
		return 1;
	test_own_functions(s);
	test_libc(s, nodebug);
	test_vdso(s);
	test_bad_files(s, argv[1]);
	sym_session__stats(s, &st);
	CHECK(st.frames == st.resolved + st.misses[SYM_MISS_BAD_ELF] +
			   st.misses[SYM_MISS_NO_SYMBOL] + st.misses[SYM_MISS_NO_FILE] +
			   st.misses[SYM_MISS_NO_MAPPING] + st.misses[SYM_MISS_NO_PROCESS]);
	CHECK(st.binaries >= 3);
	sym_session__free(nodebug);
	sym_session__free(s);
	return test_exit();
}
