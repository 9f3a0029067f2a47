/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-crash.c — the agent may be killed at any moment (OOM killer,
 * kill -9, a crash). A child commits flushes in a tight loop and reports
 * each committed bucket on a pipe; it is SIGKILLed at random moments, then
 * a new writer takes over, several times. Afterwards the file must pass
 * PRAGMA integrity_check, every reported flush must be there in full, and
 * no flush may be there in part.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "storage-test.h"

#define ROUNDS 6
#define ROUND_SPAN 1000000 /* buckets of round r start at r * ROUND_SPAN */

/* Returns the highest bucket the child reported, or first - 1. */
static int64_t run_and_kill(const char *path, int64_t first,
			    unsigned delay_ms)
{
	int64_t t, last = first - 1;
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		writer_loop(path, first, -1, fds[1]);
	}
	close(fds[1]);
	usleep(delay_ms * 1000);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	/* Killed by us, not dead of an error of its own. */
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	while ((n = read(fds[0], &t, sizeof(t))) == sizeof(t)) {
		CHECK(t == last + 1);
		last = t;
	}
	CHECK(n == 0);
	close(fds[0]);
	return last;
}

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "crash.db");
	int64_t last[ROUNDS];
	unsigned seed = (unsigned)common_wall_ns();
	long reported = 0;
	struct store_db *db;
	char *msg;

	fprintf(stderr, "seed %u\n", seed);
	srand(seed);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	store_db__close(db);

	for (int r = 0; r < ROUNDS; r++) {
		/* Later rounds run longer so some commits surely land. */
		unsigned delay = 20 + (unsigned)(rand() % 80) + 50 * (r == 0);

		last[r] = run_and_kill(path, (int64_t)r * ROUND_SPAN, delay);
		reported += last[r] - (int64_t)r * ROUND_SPAN + 1;
	}
	fprintf(stderr, "%ld flushes reported committed\n", reported);
	CHECK(reported > 0);

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__check(db, &msg), 0);
	CHECK(strcmp(msg, "ok") == 0);
	free(msg);
	for (int r = 0; r < ROUNDS; r++) {
		int64_t first = (int64_t)r * ROUND_SPAN;

		/* Every reported flush is there in full. */
		for (int64_t t = first; t <= last[r]; t++)
			CHECK_U64(samples_in(db, t, t + 1),
				  WRITER_FLUSH_SAMPLES);
		/* The flush in flight at the kill is all there or absent;
		 * nothing exists beyond it. */
		CHECK(samples_in(db, last[r] + 1, last[r] + 2) % WRITER_FLUSH_SAMPLES == 0);
		CHECK_U64(samples_in(db, last[r] + 2, first + ROUND_SPAN), 0);
	}
	/* The file still takes new flushes. */
	CHECK_RC(store_db__begin(db, -1, 1), 0);
	CHECK_RC(store_db__add_drops(db, "after-crash", 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	store_db__close(db);

	free(path);
	cleanup_tempdir(dir);
	return 0;
}
