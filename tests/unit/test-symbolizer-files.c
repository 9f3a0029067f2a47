/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-files.c — the rules for files other users control
 * (symbolizer/file.c) and what stands on them, hermetically: sym_file_open()
 * never blocks on a FIFO or a leased file and refuses what is not a
 * regular file, a symlink where none may be, another owner, another file
 * than the mapped one, a file over its bound, and a path that only leads
 * out of the process's root (absolute symlinks and ".." stay inside it);
 * each refusal is counted by its reason. The perf map reader bounds lines
 * and the bytes it reads; DWARF is refused from its section headers when
 * it would pass the memory bound (a compression bomb costs nothing); and
 * a session over a fake root whose process has a FIFO as its debuglink
 * file and a symlink as its perf map keeps naming its frames and counts
 * both; a mapping whose path leads to another file than the mapped one
 * counts too, one whose device only looks different (btrfs) does not.
 *
 * Usage: test-symbolizer-files FIXTURE_INLINE_NOPIE
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "sym-internal.h"
#include "symbolizer-test.h"

#define PID 4343

static char dir[] = "/tmp/ember-sym-files-XXXXXX";

static void path_of(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", dir, rel);
}

static void put(const char *rel, const char *text)
{
	test_put(dir, rel, text);
}

/* Opens rel under dir with rules; returns the fd or -errno, checking that
 * exactly the counter want (-1: none) went up. */
static int try_open(const struct sym_fs *fs, const char *path,
		    const struct sym_file_rules *rules, int want)
{
	uint64_t before[SYM_REFUSED__COUNT];
	int fd;

	memcpy(before, fs->refused, sizeof(before));
	fd = sym_file_open(fs, path, rules, NULL);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++) {
		uint64_t up = fs->refused[i] - before[i];

		if (up != (i == want)) {
			fprintf(stderr, "%s: %s went up by %" PRIu64 "\n", path,
				sym_refusal_name(i), up);
			CHECK(up == (i == want));
		}
	}
	if (want >= 0)
		CHECK(fd == -EPERM);
	if (fd >= 0)
		close(fd);
	return fd;
}

static void test_rules(void)
{
	uint64_t refused[SYM_REFUSED__COUNT] = { 0 };
	struct sym_fs fs = { .root_fd = -1, .refused = refused };
	struct sym_file_rules r = { 0 };
	char reg[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd;

	put("reg", "0123456789abcdef");
	path_of(reg, sizeof(reg), "reg");
	CHECK(stat(reg, &st) == 0);
	CHECK(try_open(&fs, reg, NULL, -1) >= 0);

	/* a FIFO nobody writes: refused at once, not waited on */
	path_of(path, sizeof(path), "fifo");
	CHECK(mkfifo(path, 0644) == 0);
	try_open(&fs, path, NULL, SYM_REFUSED_NOT_REGULAR);
	try_open(&fs, dir, NULL, SYM_REFUSED_NOT_REGULAR);
	try_open(&fs, "/dev/null", NULL, SYM_REFUSED_NOT_REGULAR);

	path_of(path, sizeof(path), "link");
	CHECK(symlink(reg, path) == 0);
	CHECK(try_open(&fs, path, NULL, -1) >= 0);
	r.flags = SYM_FILE_NOFOLLOW;
	try_open(&fs, path, &r, SYM_REFUSED_SYMLINK);
	CHECK(try_open(&fs, reg, &r, -1) >= 0);

	r = (struct sym_file_rules){ .max_size = 15 };
	try_open(&fs, reg, &r, SYM_REFUSED_TOO_BIG);
	r.max_size = 16;
	CHECK(try_open(&fs, reg, &r, -1) >= 0);

	/* the mapped file is a device and an inode: either may differ */
	r = (struct sym_file_rules){ .flags = SYM_FILE_MATCH, .dev = st.st_dev, .ino = st.st_ino };
	CHECK(try_open(&fs, reg, &r, -1) >= 0);
	r.ino++;
	try_open(&fs, reg, &r, SYM_REFUSED_NOT_MAPPED);
	r.ino--;
	r.dev = makedev(major(st.st_dev) + 1, minor(st.st_dev));
	try_open(&fs, reg, &r, SYM_REFUSED_NOT_MAPPED);

	/* owned by root or by the process's user */
	r = (struct sym_file_rules){ .flags = SYM_FILE_OWNER };
	if (geteuid() == 0) {
		CHECK(chown(reg, 65534, 65534) == 0);
		r.owner = 65534;
		CHECK(try_open(&fs, reg, &r, -1) >= 0);
		r.owner = 1000;
		try_open(&fs, reg, &r, SYM_REFUSED_OWNER);
		CHECK(chown(reg, 0, 0) == 0);
		CHECK(try_open(&fs, reg, &r, -1) >= 0);  /* root's */
	} else {
		r.owner = geteuid();
		CHECK(try_open(&fs, reg, &r, -1) >= 0);
		r.owner = geteuid() + 1;
		try_open(&fs, reg, &r, SYM_REFUSED_OWNER);
	}

	/* a write lease its owner holds: an open would wait for it */
	put("leased", "x");
	path_of(path, sizeof(path), "leased");
	signal(SIGIO, SIG_IGN);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && fcntl(fd, F_SETLEASE, F_WRLCK) == 0);
	try_open(&fs, path, NULL, SYM_REFUSED_SLOW);
	fcntl(fd, F_SETLEASE, F_UNLCK);
	close(fd);
	CHECK(try_open(&fs, path, NULL, -1) >= 0);
}

/* A process's root R: paths resolve inside it, as the process sees them. */
static void test_root(void)
{
	uint64_t refused[SYM_REFUSED__COUNT] = { 0 };
	struct sym_fs fs = { .refused = refused };
	char path[PATH_MAX], outside[PATH_MAX];

	path_of(path, sizeof(path), "root");
	CHECK(mkdir(path, 0755) == 0);
	path_of(path, sizeof(path), "root/sub");
	CHECK(mkdir(path, 0755) == 0);
	put("root/inside", "in");
	put("outside", "out");
	path_of(outside, sizeof(outside), "outside");
	path_of(path, sizeof(path), "root/abs-in");
	CHECK(symlink("/inside", path) == 0);
	path_of(path, sizeof(path), "root/abs-out");
	CHECK(symlink(outside, path) == 0);
	path_of(path, sizeof(path), "root/dotdot");
	CHECK(symlink("../outside", path) == 0);
	path_of(path, sizeof(path), "root/sub/rel");
	CHECK(symlink("../inside", path) == 0);
	path_of(path, sizeof(path), "root");
	fs.root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fs.root_fd >= 0);

	CHECK(try_open(&fs, "/inside", NULL, -1) >= 0);
	CHECK(try_open(&fs, "/sub/rel", NULL, -1) >= 0);
	/* absolute, but inside: followed inside */
	CHECK(try_open(&fs, "/abs-in", NULL, -1) >= 0);
	/* leads out, and there is nothing inside: the host's file is not it */
	try_open(&fs, "/abs-out", NULL, SYM_REFUSED_OUTSIDE_ROOT);
	try_open(&fs, "/dotdot", NULL, SYM_REFUSED_OUTSIDE_ROOT);
	try_open(&fs, outside, NULL, -1);  /* ENOENT inside: not a refusal */
	CHECK(try_open(&fs, "/../../inside", NULL, -1) >= 0);  /* ".." stops at the root */
	close(fs.root_fd);
}

static void test_perfmap(void)
{
	uint64_t refused[SYM_REFUSED__COUNT] = { 0 };
	struct sym_fs fs = { .root_fd = -1, .refused = refused };
	struct sym_perfmap *m = NULL;
	char path[PATH_MAX], *line;
	FILE *f;
	int fd;

	/* a line too long is skipped, the ones around it are read; the last
	 * line may lack its newline (being written) */
	line = malloc(SYM_PERFMAP_MAX_LINE + 100);
	CHECK(line != NULL);
	if (!line)
		return;
	memset(line, 'x', SYM_PERFMAP_MAX_LINE + 99);
	line[SYM_PERFMAP_MAX_LINE + 99] = '\0';
	path_of(path, sizeof(path), "map1");
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "1000 10 first\n5000 10 %s\n2000 10 second\n3000 10 third", line);
	fclose(f);
	free(line);
	fd = open(path, O_RDONLY);
	CHECK(sym_perfmap__read_fd(fd, 1 << 20, &fs, &m) == 0);
	close(fd);
	if (m) {
		CHECK_STR(sym_perfmap__lookup(m, 0x1005), "first");
		CHECK_STR(sym_perfmap__lookup(m, 0x2005), "second");
		CHECK_STR(sym_perfmap__lookup(m, 0x3005), "third");
		CHECK(sym_perfmap__lookup(m, 0x5005) == NULL);
		CHECK(sym_perfmap__memory(m) > 0);
	}
	CHECK(refused[SYM_REFUSED_TOO_BIG] == 1);
	sym_perfmap__free(m);
	m = NULL;

	/* longer than the bound: its last bytes, from a line start */
	path_of(path, sizeof(path), "map2");
	f = fopen(path, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 1000; i++)
		fprintf(f, "%x 10 fn%d\n", 0x100000 + 0x100 * i, i);
	fclose(f);
	fd = open(path, O_RDONLY);
	CHECK(sym_perfmap__read_fd(fd, 100, &fs, &m) == 0);
	close(fd);
	if (m) {
		CHECK_STR(sym_perfmap__lookup(m, 0x100000 + 0x100 * 999), "fn999");
		CHECK(sym_perfmap__lookup(m, 0x100000) == NULL);
	}
	CHECK(refused[SYM_REFUSED_TOO_BIG] == 2);
	sym_perfmap__free(m);
	m = NULL;

	/* a sparse terabyte of one line: the bound's worth read, nothing kept */
	path_of(path, sizeof(path), "map3");
	fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 1LL << 40) == 0);
	CHECK(sym_perfmap__read_fd(fd, 1 << 20, &fs, &m) == 0);
	close(fd);
	unlink(path);
	CHECK(m && sym_perfmap__lookup(m, 0) == NULL);
	CHECK(refused[SYM_REFUSED_TOO_BIG] == 3);
	sym_perfmap__free(m);
}

static uint64_t max_rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss : 0;
}

/* DWARF is charged from its section headers before anything is read. */
static void test_dwarf_bound(const char *fixture)
{
	char bomb[PATH_MAX], strs[PATH_MAX], out[256];
	struct sym_dwarf *d = NULL;
	uint64_t cost = 0, bomb_cost = 0, rss;
	int fd = open(fixture, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0 && sym_dwarf__cost(fd, &cost) == 0 && cost > 0);
	CHECK(sym_dwarf__open_bounded(fd, NULL, cost - 1, &d, NULL) == -EFBIG);
	CHECK(sym_dwarf__open_bounded(fd, NULL, cost, &d, NULL) == 0);
	sym_dwarf__free(d);
	d = NULL;
	close(fd);

	/* .debug_str grown by 64 MB of zeros, zlib-compressed: ~1000:1 */
	path_of(strs, sizeof(strs), "str.bin");
	path_of(bomb, sizeof(bomb), "bomb");
	test_run(out, sizeof(out),
		 "objcopy --dump-section .debug_str='%1$s' '%2$s' '%3$s.tmp' && truncate -s 64M '%1$s' && "
		 "objcopy --update-section .debug_str='%1$s' '%2$s' '%3$s.raw' && "
		 "objcopy --compress-debug-sections=zlib '%3$s.raw' '%3$s' && "
		 "rm -f '%1$s' '%3$s.raw' '%3$s.tmp' && stat -c %%s '%3$s'", strs, fixture, bomb);
	fprintf(stderr, "bomb: %s bytes on disk\n", out);
	CHECK(atol(out) > 0 && atol(out) < (1 << 20));
	fd = open(bomb, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && sym_dwarf__cost(fd, &bomb_cost) == 0);
	CHECK(bomb_cost >= (64ULL << 20));
	rss = max_rss_kb();
	CHECK(sym_dwarf__open_bounded(fd, NULL, 32ULL << 20, &d, NULL) == -EFBIG);
	CHECK(max_rss_kb() - rss < 8 * 1024);
	close(fd);
}

/* A session over a fake root whose process PID lives in a root of its
 * own, R: its binary's debuglink file is a FIFO, its perf map a symlink. */
static void test_session(const char *fixture)
{
	char root[PATH_MAX], r[PATH_MAX], bin[2 * PATH_MAX], path[3 * PATH_MAX], text[2 * PATH_MAX];
	char out[512];
	struct sym_options o = { .no_kernel = true, .debug_dir = "" };
	struct sym_session *s = NULL;
	struct sym_stats st;
	struct sym_frame f;
	unsigned long copy_ino;
	struct stat sb;
	uint64_t addr;

	path_of(root, sizeof(root), "fake");
	path_of(r, sizeof(r), "fake/r");
	CHECK_STR(test_run(out, sizeof(out), "mkdir -p '%1$s/proc/%2$d' '%3$s/app' '%3$s/tmp' && "
			   "ln -s '%3$s' '%1$s/proc/%2$d/root' && echo ok", root, PID, r), "ok");
	/* the binary, stripped of its DWARF, names prog.debug */
	snprintf(bin, sizeof(bin), "%s/app/prog", r);
	test_run(out, sizeof(out),
		 "cd '%1$s/app' && objcopy --only-keep-debug '%2$s' prog.debug && "
		 "objcopy --strip-debug --add-gnu-debuglink=prog.debug '%2$s' prog && "
		 "rm prog.debug && mkfifo prog.debug && echo ok", r, fixture);
	CHECK_STR(out, "ok");
	CHECK(stat(bin, &sb) == 0);
	test_run(out, sizeof(out), "nm '%s' | awk '$3 == \"hot_outer\" { print $1 }'", fixture);
	addr = strtoull(out, NULL, 16);
	CHECK(addr != 0);
	/* non-PIE: mapped at its link address; the path as the process sees
	 * it. Then the same file with the device shown otherwise (as on
	 * btrfs: map_files shows it is the same file), and a path that leads
	 * to another file than the mapped one (its copy, as map_files says) */
	test_run(out, sizeof(out), "cp '%1$s/app/prog' '%1$s/app/copy' && stat -c %%i '%1$s/app/copy'",
		 r);
	copy_ino = strtoul(out, NULL, 10);
	snprintf(text, sizeof(text),
		 "00400000-00800000 r-xp 00000000 %02x:%02x %lu /app/prog\n"
		 "10400000-10800000 r-xp 00000000 %02x:%02x %lu /app/prog\n"
		 "20400000-20800000 r-xp 00000000 %02x:%02x %lu /app/prog\n"
		 "7f4000000000-7f4000001000 r-xp 00000000 00:00 0 \n",
		 major(sb.st_dev), minor(sb.st_dev), (unsigned long)sb.st_ino,
		 major(sb.st_dev) + 1, minor(sb.st_dev), (unsigned long)sb.st_ino,
		 major(sb.st_dev), minor(sb.st_dev), copy_ino);
	CHECK_STR(test_run(out, sizeof(out), "mkdir '%1$s/proc/%2$d/map_files' && "
			   "ln -s '%3$s/app/prog' '%1$s/proc/%2$d/map_files/10400000-10800000' && "
			   "ln -s '%3$s/app/copy' '%1$s/proc/%2$d/map_files/20400000-20800000' && echo ok",
			   root, PID, r), "ok");
	snprintf(path, sizeof(path), "fake/proc/%d/maps", PID);
	put(path, text);
	snprintf(path, sizeof(path), "%s/tmp/perf-%d.map", r, PID);
	CHECK(symlink("/dev/zero", path) == 0);

	o.root = root;
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return;
	CHECK(sym_session__user(s, PID, addr, &f) == 0);
	test_print_frame("prog", &f);
	CHECK_STR(f.name, "hot_outer");  /* from its .symtab */
	CHECK(f.file == NULL);           /* its DWARF was the FIFO */
	CHECK(sym_session__user(s, PID, 0x7f4000000020, &f) == 0);
	CHECK_STR(f.name, "[anon]+0x20");
	CHECK(f.kind == SYM_FRAME_JIT && f.miss == SYM_MISS_NO_SYMBOL);
	for (int i = 1; i <= 2; i++) {
		CHECK(sym_session__user(s, PID, addr + 0x10000000ULL * i, &f) == 0);
		test_print_frame("prog again", &f);
		CHECK_STR(f.name, "hot_outer");
	}
	/* (the snapshot opened all three: prog, and the copy, a binary of
	 * its own whose debuglink is the same FIFO) */
	sym_session__stats(s, &st);
	CHECK(st.refused[SYM_REFUSED_NOT_REGULAR] == 2);
	CHECK(st.refused[SYM_REFUSED_SYMLINK] == 1);
	CHECK(st.refused[SYM_REFUSED_NOT_MAPPED] == 1);  /* the copy's mapping only */

	/* its own map, in its root: read (after the once-a-second wait) */
	unlink(path);
	put("fake/r/tmp/perf-4343.map", "7f4000000000 40 LazyCompile:fn\n");
	sleep(1);
	usleep(100000);
	CHECK(sym_session__user(s, PID, 0x7f4000000020, &f) == 0);
	CHECK_STR(f.name, "LazyCompile:fn");
	sym_session__free(s);
}

int main(int argc, char **argv)
{
	char cmd[PATH_MAX + 16], *fixture;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_INLINE_NOPIE\n", argv[0]);
		return 2;
	}
	fixture = test_abs(argv[1]);
	CHECK(mkdtemp(dir) != NULL);
	test_rules();
	test_root();
	test_perfmap();
	test_dwarf_bound(fixture);
	test_session(fixture);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(fixture);
	return test_exit();
}
