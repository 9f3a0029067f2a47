/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-names-sizeless.c — code that no sized symbol covers:
 *  - ld.so's entry points, assembly labels without a size, are named as
 *    addr2line names them;
 *  - code in anonymous executable memory is named from /tmp/perf-PID.map
 *    (a JIT's map file), as a JIT frame, with the file re-read when the
 *    JIT appends to it.
 *
 * Usage: test-symbolizer-names-sizeless
 */
#include <sys/mman.h>

#include "symbolizer-test.h"

/* The dynamic loader's entry points are assembly labels without a size,
 * in the .symtab of its debug file: named as addr2line names them. */
static void test_ldso(void)
{
	char line[4096], want[256], ldso[4096] = "";
	uint64_t base = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	struct sym_session *s = NULL;
	const char *labels[] = { "_start", "_dl_start_user" };

	CHECK(m != NULL);
	while (m && fgets(line, sizeof(line), m)) {
		unsigned long long lo, off;
		char *p = strchr(line, '/');

		line[strcspn(line, "\n")] = '\0';
		if (p && strstr(p, "/ld-linux") &&
		    sscanf(line, "%llx-%*x %*s %llx", &lo, &off) == 2 && off == 0) {
			base = lo;
			snprintf(ldso, sizeof(ldso), "%s", p);
			break;
		}
	}
	if (m)
		fclose(m);
	CHECK(base != 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		char out[128];
		struct sym_frame f;
		uint64_t at;

		/* the label's address from the debug file's .symtab, which
		 * addr2line finds by .gnu_debuglink as Ember does by build-id */
		test_run(out, sizeof(out), "id=$(readelf -n '%s' | awk '/Build ID/ { print $3 }'); "
			 "readelf -sW /usr/lib/debug/.build-id/${id%%${id#??}}/${id#??}.debug | "
			 "awk '$8 == \"%s\" && $4 == \"NOTYPE\" { print $2; exit }'", ldso, labels[i]);
		CHECK(out[0] != '\0');
		if (!out[0])
			continue;
		at = strtoull(out, NULL, 16) + 2;
		CHECK(sym_session__user(s, getpid(), base + at, &f) == 0);
		test_print_frame("ld.so", &f);
		test_run(want, sizeof(want), "addr2line -f -e '%s' 0x%" PRIx64, ldso, at);
		CHECK_STR(want, labels[i]);
		CHECK_STR(f.name, want);
		CHECK(f.miss == SYM_MISS_NONE);
	}
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

int main(void)
{
	test_ldso();
	test_perf_map();
	return test_exit();
}
