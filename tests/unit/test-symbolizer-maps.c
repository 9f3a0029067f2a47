/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-maps.c — the /proc/PID/maps line parser
 * (symbolizer/maps.c) on lines of every kind the kernel prints: a file, a
 * deleted file, a path with spaces, [vdso], [vsyscall], other special
 * mappings, anonymous executable memory; lines that are not executable are
 * skipped; malformed lines (cut short, bad numbers, an end before the
 * start, 17 hex digits) are -EINVAL and never read past their length. Then
 * this process's own maps file, read whole, against what /proc says.
 */
#include <unistd.h>

#include "symbolizer-test.h"
#include "sym-internal.h"

/* Parse line (copied into a buffer of exactly its length, so reading past
 * it is caught under AddressSanitizer). */
static int parse(const char *line, struct sym_maps_entry *ret)
{
	size_t len = strlen(line);
	char *copy = malloc(len ? len : 1);
	int r;

	CHECK(copy != NULL);
	memcpy(copy, line, len);
	r = sym_maps__parse_line(copy, len, ret);
	free(copy);
	return r;
}

static void check_good(void)
{
	struct sym_maps_entry m;

	CHECK(parse("7f1c2a428000-7f1c2a5bd000 r-xp 00028000 fe:01 1835023    "
		    "              /usr/lib/x86_64-linux-gnu/libc.so.6", &m) == 1);
	CHECK(m.start == 0x7f1c2a428000ULL && m.end == 0x7f1c2a5bd000ULL);
	CHECK(m.offset == 0x28000 && m.dev_major == 0xfe && m.dev_minor == 1);
	CHECK(m.inode == 1835023 && m.kind == SYM_MAP_FILE && !m.deleted);
	CHECK_STR(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	free(m.path);

	CHECK(parse("55d0c4a00000-55d0c4a01000 r-xp 00001000 103:02 42 /tmp/a b "
		    "(deleted)", &m) == 1);
	CHECK(m.deleted && m.kind == SYM_MAP_FILE && m.dev_major == 0x103 &&
	      m.dev_minor == 2);
	CHECK_STR(m.path, "/tmp/a b");
	free(m.path);

	CHECK(parse("7ffd5a1f0000-7ffd5a1f2000 r-xp 00000000 00:00 0          "
		    "        [vdso]", &m) == 1);
	CHECK(m.kind == SYM_MAP_VDSO);
	free(m.path);
	CHECK(parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 "
		    "[vsyscall]", &m) == 1);
	CHECK(m.kind == SYM_MAP_VSYSCALL && m.start == 0xffffffffff600000ULL);
	free(m.path);
	CHECK(parse("7f0000000000-7f0000001000 r-xp 00000000 00:00 0 [uprobes]",
		    &m) == 1);
	CHECK(m.kind == SYM_MAP_SPECIAL);
	free(m.path);
	CHECK(parse("7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ", &m) == 1);
	CHECK(m.kind == SYM_MAP_ANON);
	CHECK_STR(m.path, "");
	free(m.path);
	CHECK(parse("7f0000000000-7f0000001000 rwxp 00000000 00:00 0", &m) == 1);
	CHECK(m.kind == SYM_MAP_ANON);
	free(m.path);
	CHECK(parse("7f0000000000-7f0000001000 r-xs 00000000 00:0f 7 "
		    "anon_inode:[perf_event]", &m) == 1);
	CHECK(m.kind == SYM_MAP_SPECIAL);
	free(m.path);

	/* Not executable: skipped without looking further. */
	CHECK(parse("7f1c2a400000-7f1c2a428000 r--p 00000000 fe:01 1835023 "
		    "/usr/lib/x86_64-linux-gnu/libc.so.6", &m) == 0);
	CHECK(parse("7f1c2a400000-7f1c2a428000 rw-p", &m) == 0);
}

static void check_bad(void)
{
	const char *bad[] = {
		"",
		"-",
		"7f00-",
		"7f00-7f10",
		"7f00-7f10 ",
		"7f00-7f10 r-x",
		"7f00-7f10 r-xp",
		"7f00-7f10 r-xp ",
		"7f00-7f10 r-xp 0",
		"7f00-7f10 r-xp 0 fe",
		"7f00-7f10 r-xp 0 fe:",
		"7f00-7f10 r-xp 0 fe:01",
		"7f00-7f10 r-xp 0 fe:01 ",
		"7f00-7f10 r-xp 0 fe:01 x /bin/x",
		"7f00-7f10 r-xp 0 fe:01 12x /bin/x",
		"7f10-7f00 r-xp 0 fe:01 1 /bin/x",       /* end before start */
		"7f00-7f00 r-xp 0 fe:01 1 /bin/x",       /* empty */
		"g7f00-7f10 r-xp 0 fe:01 1 /bin/x",
		"7f00 7f10 r-xp 0 fe:01 1 /bin/x",
		"10000000000000000-20000000000000000 r-xp 0 fe:01 1 /bin/x",
		"7f00-7f10 r-xp 0 100000000:01 1 /bin/x", /* major over 32 bits */
		"7f00-7f10 r-xp 0 fe:01 99999999999999999999999 /bin/x",
	};
	struct sym_maps_entry m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &m);

		if (r != -EINVAL) {
			fprintf(stderr, "'%s': %d, want -EINVAL\n", bad[i], r);
			test_failures++;
			if (r == 1)
				free(m.path);
		}
	}
}

/* Our own maps: the mapping of this function is found, named as
 * /proc/self/exe says, with no line left out. */
static void check_self(void)
{
	struct sym_maps_entry *v = NULL;
	char *buf = NULL, exe[4096];
	size_t n = 0, cap = 0, found = 0;
	uint64_t here = (uint64_t)(uintptr_t)&check_self;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(len > 0);
	exe[len > 0 ? len : 0] = '\0';
	/* Twice: the second read reuses the buffer. */
	for (int k = 0; k < 2; k++) {
		CHECK(sym_maps__read("", getpid(), &buf, &cap, &v, &n) == 0);
		CHECK(n >= 3);
		found = 0;
		for (size_t i = 0; i < n; i++) {
			CHECK(i == 0 || v[i - 1].start < v[i].start);
			if (v[i].start <= here && here < v[i].end) {
				CHECK_STR(v[i].path, exe);
				found++;
			}
		}
		CHECK(found == 1);
		sym_maps__free(v, n);
	}
	CHECK(sym_maps__read("", 0x7ffffff0, &buf, &cap, &v, &n) == -ESRCH);
	free(buf);
}

/* Where the kernel has PROCMAP_QUERY, it and the maps file's text give the
 * same mappings (but [vsyscall], which is not a mapping of the process's
 * own and only the text shows). */
static void check_query_vs_text(void)
{
	struct sym_maps_entry *q = NULL, *t = NULL;
	size_t nq = 0, nt = 0, k = 0, cap = 0;
	char *buf = NULL;

	CHECK(sym_maps__read("", getpid(), &buf, &cap, &q, &nq) == 0);
	sym_maps_no_query = true;
	CHECK(sym_maps__read("", getpid(), &buf, &cap, &t, &nt) == 0);
	sym_maps_no_query = false;
	for (size_t i = 0; i < nt; i++) {
		if (t[i].kind == SYM_MAP_VSYSCALL)
			continue;
		CHECK(k < nq);
		if (k >= nq)
			break;
		CHECK(q[k].start == t[i].start && q[k].end == t[i].end);
		CHECK(q[k].offset == t[i].offset && q[k].inode == t[i].inode);
		CHECK(q[k].dev_major == t[i].dev_major && q[k].dev_minor == t[i].dev_minor);
		CHECK(q[k].kind == t[i].kind && q[k].deleted == t[i].deleted);
		CHECK_STR(q[k].path, t[i].path);
		k++;
	}
	CHECK(k == nq);
	sym_maps__free(q, nq);
	sym_maps__free(t, nt);
	free(buf);
}

int main(void)
{
	check_good();
	check_bad();
	check_self();
	check_query_vs_text();
	sym_maps_no_query = true;
	check_self();
	return test_exit();
}
