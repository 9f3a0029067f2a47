/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-concurrent.c — one writer process commits flushes in a loop
 * while this process reads the same file, as the web server will while the
 * agent records. The reader must never get an error, must see totals that
 * only grow, and each tree it gets must be self-consistent (one snapshot).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage-test.h"

#define FLUSHES 300

int main(void)
{
	char *dir = make_tempdir();
	char *path = path_in(dir, "shared.db");
	uint64_t last_samples = 0, last_tree = 0;
	struct store_summary *s;
	struct store_tree *t;
	struct store_db *db;
	long reads = 0, grew = 0;
	int status = 0;
	pid_t pid, done = 0;

	/* Created first, so the reader can open it at once. */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	store_db__close(db);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		writer_loop(path, 1000, FLUSHES, -1);

	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	while (done == 0) {
		done = waitpid(pid, &status, WNOHANG);
		CHECK(done >= 0);

		CHECK_RC(store_db__summary(db, NULL, &s), 0);
		CHECK(s->samples >= last_samples);
		CHECK(s->samples % WRITER_FLUSH_SAMPLES == 0);
		grew += s->samples > last_samples;
		last_samples = s->samples;
		store_summary__free(s);

		CHECK_RC(store_db__query_tree(db, NULL, &t), 0);
		tree_check_invariants(t);
		CHECK(store_tree__node(t, 0)->total >= last_tree);
		CHECK(store_tree__node(t, 0)->total % WRITER_FLUSH_SAMPLES == 0);
		last_tree = store_tree__node(t, 0)->total;
		store_tree__free(t);
		reads++;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* After the writer is gone, everything it committed is visible. */
	CHECK_U64(samples_in(db, INT64_MIN, INT64_MAX),
		  (uint64_t)FLUSHES * WRITER_FLUSH_SAMPLES);
	store_db__close(db);
	fprintf(stderr, "%ld reads, %ld saw growth\n", reads, grew);
	CHECK(reads > 1);

	free(path);
	cleanup_tempdir(dir);
	return 0;
}
