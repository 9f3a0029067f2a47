/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage-test.c — implementation of the storage unit tests' shared helpers
 * (see storage-test.h). Linked into every test-storage-*.c executable.
 */
#include "storage-test.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "store_sql.h"

char *make_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (!base || !*base)
		base = "/tmp";
	dir = path_in(base, "ember-storage-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	/* Tests make some directories read-only; open them up first. */
	if (flag == FTW_DP)
		chmod(path, 0700);
	remove(path);
	return 0;
}

void cleanup_tempdir(char *dir)
{
	if (!dir)
		return;
	chmod(dir, 0700);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	CHECK(p != NULL);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int add_folded(struct store_db *db, const struct store_labels *labels,
	       const char *folded, enum store_frame_kind kind, uint64_t offset,
	       uint64_t count)
{
	struct store_frame frames[64];
	char *copy = strdup(folded), *save = NULL, *tok;
	size_t n = 0;
	int r;

	CHECK(copy != NULL);
	for (tok = strtok_r(copy, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		CHECK(n < ARRAY_SIZE(frames));
		frames[n] = (struct store_frame){
			.name = tok,
			.module = "app",
			.offset = offset + n,
			.kind = kind,
		};
		n++;
	}
	r = store_db__add_stack(db, labels, frames, n, count);
	free(copy);
	return r;
}

long tree_find(const struct store_tree *t, const char *path)
{
	char *copy = strdup(path), *save = NULL, *tok;
	long at = 0;

	CHECK(copy != NULL);
	for (tok = strtok_r(copy, ";", &save); tok && at >= 0;
	     tok = strtok_r(NULL, ";", &save)) {
		long found = -1;

		for (size_t i = 1; i < store_tree__size(t); i++) {
			const struct store_tree_node *nd = store_tree__node(t, i);

			if (nd->parent != (uint32_t)at || strcmp(nd->name, tok))
				continue;
			if (found >= 0) {
				fprintf(stderr, "tree: '%s' twice under %ld\n",
					tok, at);
				exit(1);
			}
			found = (long)i;
		}
		at = found;
	}
	free(copy);
	return at;
}

void tree_check_invariants(const struct store_tree *t)
{
	size_t n = store_tree__size(t);
	uint64_t *sum = calloc(n, sizeof(*sum));

	CHECK(n >= 1 && sum != NULL);
	CHECK(strcmp(store_tree__node(t, 0)->name, "all") == 0);
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *nd = store_tree__node(t, i);

		CHECK(nd->parent < i);
		sum[nd->parent] += nd->total;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_tree_node *nd = store_tree__node(t, i);

		CHECK_U64(nd->total, nd->self + sum[i]);
	}
	CHECK(store_tree__node(t, n) == NULL);
	free(sum);
}

uint64_t file_checksum(const char *path)
{
	unsigned char buf[65536];
	uint64_t h = COMMON_HASH_SEED;
	FILE *f = fopen(path, "rb");
	size_t n;

	CHECK(f != NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		h = common_hash(h, buf, n);
	CHECK(!ferror(f));
	fclose(f);
	return h;
}

uint64_t samples_in(struct store_db *db, int64_t from, int64_t to)
{
	struct store_query q = { .from_s = from, .to_s = to };
	struct store_summary *s;
	uint64_t n;

	CHECK_RC(store_db__summary(db, &q, &s), 0);
	n = s->samples;
	store_summary__free(s);
	return n;
}

void writer_loop(const char *path, int64_t first, long n, int report_fd)
{
	struct store_labels labels = { .host = "h", .process = "loop" };
	struct store_db *db;
	char stack[96];

	if (store_db__open(path, STORE_OPEN_WRITE, &db) < 0)
		_exit(1);
	for (long k = 0; n < 0 || k < n; k++) {
		int64_t t = first + k;

		if (store_db__begin(db, t, 1) < 0)
			_exit(1);
		for (int j = 0; j < 20; j++) {
			labels.pid = labels.tid = 100 + j % 3;
			snprintf(stack, sizeof(stack), "main;work_%d;leaf_%lld",
				 j, (long long)(t % 50));
			if (add_folded(db, &labels, stack, STORE_FRAME_USER, 0,
				       j + 1) < 0)
				_exit(1);
		}
		if (store_db__add_drops(db, "map-full", 1) < 0 ||
		    store_db__commit(db) < 0)
			_exit(1);
		if (report_fd >= 0 &&
		    write(report_fd, &t, sizeof(t)) != sizeof(t))
			_exit(1);
	}
	store_db__close(db);
	_exit(0);
}

int64_t query_int(struct store_db *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	CHECK(sqlite3_prepare_v2(store_sqlite__of(db)->sql, sql, -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
