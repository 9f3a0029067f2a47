/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-child.c — symbolizes other processes: a non-PIE and a PIE
 * fixture child while they run and after they have exited (snapshot taken
 * before the exit), a child whose binary was deleted while it runs, a pid
 * that does not exist, forget_process, and a watched process (maps file kept
 * open) that execs and exits between re-reads, when a process of an
 * executable seen before counts as settled, and when an exec needs no
 * snapshot before its first sample (not once the file is replaced). Names are checked against the
 * fixture's own function names and against addr2line / readelf.
 *
 * Usage: test-symbolizer-child NON_PIE_FIXTURE PIE_FIXTURE
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "symbolizer-test.h"
#include "sym-internal.h"

static const char *const expect[] = { "fixture_alpha", "fixture_beta_static" };

static void check_names(struct sym_session *s, const struct test_child *c,
			const char *bin, const char *when)
{
	char buf[512];

	for (int i = 0; i < 2; i++) {
		struct sym_frame f;

		CHECK(sym_session__user(s, c->pid, c->addrs[i] + 3, &f) == 0);
		test_print_frame(when, &f);
		CHECK_STR(f.name, expect[i]);
		CHECK_STR(f.module, bin);
		CHECK(f.miss == SYM_MISS_NONE);
		CHECK(f.kind == SYM_FRAME_USER);
		CHECK(f.addr == c->addrs[i] + 3);
		/* build-id as readelf prints it */
		test_run(buf, sizeof(buf),
			 "readelf -n '%s' | sed -n 's/.*Build ID: //p'", bin);
		CHECK(buf[0] != '\0');
		CHECK_STR(f.build_id, buf);
	}
}

static void test_non_pie(const char *bin)
{
	struct sym_session *s = NULL;
	struct test_child c;
	struct sym_stats st;
	struct sym_frame f;
	char buf[512];

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	CHECK(c.n_addrs == 2);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	check_names(s, &c, bin, "non-pie live");
	/* In an ET_EXEC, the run-time address is the link address. */
	test_run(buf, sizeof(buf), "addr2line -f -e '%s' 0x%" PRIx64, bin, c.addrs[0] + 3);
	CHECK_STR(buf, "fixture_alpha");

	test_child_stop(&c);
	check_names(s, &c, bin, "non-pie exited");
	sym_session__stats(s, &st);
	CHECK(st.processes == 1);
	CHECK(st.resolved == 4);

	/* Re-noting an exited pid keeps the snapshot. */
	CHECK(sym_session__note_process(s, c.pid) == -ESRCH);
	check_names(s, &c, bin, "non-pie after re-note");

	sym_session__forget_process(s, c.pid);
	CHECK(sym_session__user(s, c.pid, c.addrs[0], &f) == 0);
	CHECK(f.miss == SYM_MISS_NO_PROCESS);
	CHECK_STR(f.name, "[unknown]");
	sym_session__stats(s, &st);
	CHECK(st.misses[SYM_MISS_NO_PROCESS] == 1);
	sym_session__free(s);
}

static void test_pie(const char *bin)
{
	struct sym_session *s = NULL;
	struct test_child c, c2;
	struct sym_stats st;

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &c) == 0);
	CHECK(test_child_start(bin, &c2) == 0);
	/* Not noted: the first lookup notes it. */
	check_names(s, &c, bin, "pie live");
	check_names(s, &c2, bin, "pie second process");
	sym_session__stats(s, &st);
	CHECK(st.processes == 2);
	/* Both processes share one binary object for the executable. */
	test_child_stop(&c);
	test_child_stop(&c2);
	check_names(s, &c, bin, "pie exited");
	sym_session__free(s);
}

static void test_deleted(const char *bin)
{
	char copy[] = "/tmp/ember-sym-deleted-XXXXXX", cmd[PATH_MAX * 2];
	struct sym_session *s = NULL;
	struct test_child c;
	struct sym_frame f;
	int fd = mkstemp(copy);

	CHECK(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod +x '%s'", bin, copy, copy);
	CHECK(system(cmd) == 0);
	CHECK(test_child_start(copy, &c) == 0);
	CHECK(unlink(copy) == 0);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(sym_session__user(s, c.pid, c.addrs[0] + 3, &f) == 0);
	test_print_frame("deleted binary", &f);
	CHECK_STR(f.module, copy);
	if (geteuid() == 0) {
		/* root can open /proc/PID/map_files */
		CHECK_STR(f.name, "fixture_alpha");
		CHECK(f.miss == SYM_MISS_NONE);
	} else {
		char want[PATH_MAX];

		snprintf(want, sizeof(want), "%s+0x%" PRIx64, strrchr(copy, '/') + 1, f.offset);
		CHECK_STR(f.name, want);
		CHECK(f.miss == SYM_MISS_NO_FILE);
	}
	test_child_stop(&c);
	sym_session__free(s);
}

/* A watched process's maps fd is bound to the address space it was opened
 * on: a refresh after the process's exec must still see the new image
 * (through a new open), and one after its exit says so. */
static void test_watch_exec(const char *bin)
{
	struct sym_session *s = NULL;
	struct test_child c = { 0 };
	struct sym_frame f;
	int gate[2];
	FILE *out;

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(pipe2(gate, O_CLOEXEC) == 0);
	CHECK(test_child_spawn(bin, &c, gate[0], &out) == 0);
	/* Before its exec the child is a copy of this test. */
	CHECK(sym_session__watch_process(s, c.pid) == 0);
	CHECK(sym_session__refresh_process(s, c.pid) == 0);
	CHECK(sym_session__user(s, c.pid, (uint64_t)(uintptr_t)&test_watch_exec,
				&f) == 0);
	CHECK_STR(f.name, "test_watch_exec");
	CHECK(write(gate[1], "g", 1) == 1);
	CHECK(test_child_addrs(&c, out) == 0);
	CHECK(sym_session__refresh_process(s, c.pid) == 0);
	check_names(s, &c, bin, "watched, after exec");
	/* A second refresh reads through the new fd. */
	CHECK(sym_session__refresh_process(s, c.pid) == 0);
	check_names(s, &c, bin, "watched, re-read");
	test_child_stop(&c);
	CHECK(sym_session__refresh_process(s, c.pid) == -ESRCH);
	check_names(s, &c, bin, "watched, exited");
	sym_session__unwatch_process(s, c.pid);
	sym_session__unwatch_process(s, c.pid);
	sym_session__unwatch_process(NULL, c.pid);
	sym_session__forget_process(s, c.pid);
	close(gate[0]);
	close(gate[1]);
	sym_session__free(s);
}

static void test_no_such_pid(void)
{
	struct sym_session *s = NULL;
	struct sym_frame f;
	pid_t pid = INT_MAX - 7;

	CHECK(sym_session__new(NULL, &s) == 0);
	CHECK(sym_session__note_process(s, pid) == -ESRCH);
	CHECK(sym_session__user(s, pid, 0x401000, &f) == 0);
	CHECK(f.miss == SYM_MISS_NO_PROCESS);
	CHECK_STR(f.name, "[unknown]");
	CHECK_STR(f.module, "[unknown]");
	CHECK(f.build_id == NULL);
	sym_session__forget_process(s, pid);
	sym_session__forget_process(NULL, pid);
	sym_session__free(s);
	sym_session__free(NULL);
}

/*
 * sym_session__settled_process: a process of an executable no earlier one
 * was remembered for is not settled; once one is (done), the next
 * process of the same executable is as soon as it maps as much; a process
 * of another executable is not, nor a pid without a snapshot.
 */
static void test_settled(const char *bin, const char *other)
{
	struct sym_session *s = NULL;
	struct test_child a, b, c;

	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(bin, &a) == 0);
	CHECK(test_child_start(bin, &b) == 0);
	CHECK(test_child_start(other, &c) == 0);
	CHECK(!sym_session__settled_process(s, a.pid, false));  /* no snapshot */
	CHECK(sym_session__note_process(s, a.pid) == 0);
	CHECK(sym_session__note_process(s, b.pid) == 0);
	CHECK(sym_session__note_process(s, c.pid) == 0);
	CHECK(!sym_session__settled_process(s, a.pid, false));
	CHECK(!sym_session__settled_process(s, b.pid, false));
	CHECK(sym_session__settled_process(s, a.pid, true));
	CHECK(sym_session__settled_process(s, b.pid, false));
	CHECK(!sym_session__settled_process(s, c.pid, false));
	test_child_stop(&a);
	test_child_stop(&b);
	test_child_stop(&c);
	sym_session__free(s);
}

/* Copies file from to to (O_TRUNC: an existing to keeps its inode). */
static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n;

	CHECK(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	close(in);
	close(out);
}

/*
 * sym_session__exec_settled: a process of an executable whose earlier
 * process settled (done) needs no snapshot before its first sample; not
 * one of another executable, nor a gone pid; and not once the file at the
 * same path is another (a new inode), or the same inode rewritten in
 * place with its mtime set back (its ctime moved): the identity is of
 * the file loaded, not of its path.
 */
static void test_exec_settled(const char *bin, const char *other)
{
	char dir[] = "/tmp/ember-exec-settled-XXXXXX", path[PATH_MAX], tmp[PATH_MAX];
	struct sym_session *s = NULL;
	struct test_child a, b, c, d, e;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/fixture", dir);
	snprintf(tmp, sizeof(tmp), "%s/fixture.new", dir);
	copy_file(bin, path);
	CHECK(sym_session__new(&(struct sym_options){ .no_kernel = true }, &s) == 0);
	CHECK(test_child_start(path, &a) == 0);
	CHECK(!sym_session__exec_settled(s, a.pid));  /* never read */
	CHECK(sym_session__note_process(s, a.pid) == 0);
	CHECK(!sym_session__exec_settled(s, a.pid));  /* read, not settled */
	CHECK(sym_session__settled_process(s, a.pid, true));
	CHECK(test_child_start(path, &b) == 0);
	CHECK(test_child_start(other, &c) == 0);
	CHECK(sym_session__exec_settled(s, b.pid));
	CHECK(!sym_session__exec_settled(s, c.pid));
	test_child_stop(&a);
	test_child_stop(&b);
	test_child_stop(&c);
	CHECK(!sym_session__exec_settled(s, a.pid));  /* gone */

	/* The same inode rewritten, its mtime set back. */
	CHECK(stat(path, &st) == 0);
	copy_file(bin, path);
	CHECK(utimensat(AT_FDCWD, path, (struct timespec[2]){ st.st_atim, st.st_mtim }, 0) == 0);
	CHECK(test_child_start(path, &d) == 0);
	CHECK(!sym_session__exec_settled(s, d.pid));
	test_child_stop(&d);

	/* Another file renamed over the path. */
	copy_file(bin, tmp);
	CHECK(rename(tmp, path) == 0);
	CHECK(test_child_start(path, &e) == 0);
	CHECK(!sym_session__exec_settled(s, e.pid));
	test_child_stop(&e);

	sym_session__free(s);
	unlink(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	char *nopie, *pie;

	if (argc != 3) {
		fprintf(stderr, "usage: %s NON_PIE_FIXTURE PIE_FIXTURE\n", argv[0]);
		return 2;
	}
	nopie = test_abs(argv[1]);
	pie = test_abs(argv[2]);

	test_non_pie(nopie);
	test_pie(pie);
	test_deleted(pie);
	test_watch_exec(pie);
	/* The same through the maps file's text (kernels before 6.11). */
	sym_maps_no_query = true;
	test_watch_exec(pie);
	sym_maps_no_query = false;
	test_settled(pie, nopie);
	test_exec_settled(pie, nopie);
	free(nopie);
	free(pie);
	test_no_such_pid();
	return test_exit();
}
