/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_churn.c — storage_bench -R RECORDING, the churn day: the
 * flushes of a real agent's recording (bench/storage --churn makes one)
 * written again and again through the real writer until HOURS are
 * filled, each round with new pids and tids for the processes that did
 * not live through the whole recording (so new label sets, as new
 * processes of the same binaries would give), the recording's coverage
 * rows with them, the retention run every 10 minutes as the agent does;
 * it prints the bytes per sample and the WAL's peak beside the database.
 * It owns reading the recording back (rec_load) and replaying it
 * (rec_flush); storage_bench.c owns the command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "storage.h"
#include "store_cache.h"
#include "storage_bench.h"

#define PID_MAX 4194304 /* the kernel's pid_max on 64-bit hosts */
#define PID_FIRST 300   /* where the kernel wraps pids to */

struct rec_set {
	struct store_labels l;
	bool used, long_lived;
};

struct rec_entry {
	int64_t set, node;
	uint64_t count;
};

/* A coverage row of a flush: binary coverage, an issue (reason set) or a
 * Python process's (process set). */
struct rec_cov {
	int64_t time_s;
	char *module, *build_id, *reason, *process, *interp;
	uint32_t pid;
	uint64_t v[4];
};

struct rec_flush {
	int64_t time_s;
	size_t first, n;       /* entries */
	size_t cov_first, cov_n;
};

struct recording {
	struct store_db *db;
	struct store_read_cache *cache;
	struct rec_set *sets;
	size_t n_sets;
	struct rec_entry *entries;
	size_t n_entries, entries_cap;
	struct rec_flush *flushes;
	size_t n_flushes, flushes_cap;
	struct rec_cov *cov;
	size_t n_cov, cov_cap;
	uint64_t samples;
	uint32_t pid_lo, pid_hi; /* of the processes given new pids */
};

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? strdup(t) : NULL;
}

static int rec_entry(void *ctx, int64_t time_s, int64_t set, int64_t node,
		     uint64_t count)
{
	struct recording *r = ctx;

	if (!r->n_flushes || r->flushes[r->n_flushes - 1].time_s != time_s) {
		if (COMMON_GROW(r->flushes, r->flushes_cap, r->n_flushes + 1) < 0)
			return -ENOMEM;
		r->flushes[r->n_flushes++] = (struct rec_flush){
			.time_s = time_s, .first = r->n_entries };
	}
	if (COMMON_GROW(r->entries, r->entries_cap, r->n_entries + 1) < 0)
		return -ENOMEM;
	r->entries[r->n_entries++] = (struct rec_entry){ set, node, count };
	r->flushes[r->n_flushes - 1].n++;
	r->samples += count;
	return 0;
}

/* The recording's label sets, by id, from the read cache (its texts
 * live as long as the recording's handle). */
static int rec_sets(struct recording *r)
{
	r->n_sets = (size_t)r->cache->max_set + 1;
	r->sets = calloc(r->n_sets, sizeof(*r->sets));
	if (!r->sets)
		return -ENOMEM;
	for (size_t id = 1; id < r->n_sets; id++)
		store_cache__labels(r->cache, (int64_t)id, &r->sets[id].l);
	return 0;
}

static int cmp_cov(const void *a, const void *b)
{
	const struct rec_cov *x = a, *y = b;

	return x->time_s < y->time_s ? -1 : x->time_s > y->time_s;
}

/* The recording's coverage rows (binaries, issues, Python processes). */
static int rec_coverage(struct recording *r, sqlite3 *sql)
{
	static const char *const q[] = {
		"SELECT c.time_s, m.module, m.build_id, NULL, NULL, NULL, 0, c.seen, "
		"c.with_function, c.with_line, 0 FROM coverage c "
		"JOIN coverage_modules m ON m.id = c.module",
		"SELECT c.time_s, m.module, m.build_id, c.reason, NULL, NULL, 0, c.frames, "
		"0, 0, 0 FROM coverage_issue c JOIN coverage_modules m ON m.id = c.module",
		"SELECT time_s, NULL, NULL, NULL, process, interpreter, pid, samples, "
		"with_python, frames, named FROM python_coverage",
	};

	for (size_t i = 0; i < ARRAY_SIZE(q); i++) {
		sqlite3_stmt *st;
		int rc;

		if (sqlite3_prepare_v2(sql, q[i], -1, &st, NULL) != SQLITE_OK)
			continue; /* a table this recording does not have */
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct rec_cov *c;

			if (COMMON_GROW(r->cov, r->cov_cap, r->n_cov + 1) < 0)
				break;
			c = &r->cov[r->n_cov++];
			*c = (struct rec_cov){
				.time_s = sqlite3_column_int64(st, 0),
				.module = dup_col(st, 1), .build_id = dup_col(st, 2),
				.reason = dup_col(st, 3), .process = dup_col(st, 4),
				.interp = dup_col(st, 5),
				.pid = (uint32_t)sqlite3_column_int64(st, 6),
			};
			for (int k = 0; k < 4; k++)
				c->v[k] = (uint64_t)sqlite3_column_int64(st, 7 + k);
			if (c->build_id && !c->build_id[0]) {
				free(c->build_id);
				c->build_id = NULL;
			}
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -EIO;
	}
	qsort(r->cov, r->n_cov, sizeof(*r->cov), cmp_cov);
	for (size_t f = 0, c = 0; f < r->n_flushes; f++) {
		while (c < r->n_cov && r->cov[c].time_s < r->flushes[f].time_s)
			c++;
		r->flushes[f].cov_first = c;
		while (c < r->n_cov && r->cov[c].time_s == r->flushes[f].time_s)
			c++;
		r->flushes[f].cov_n = c - r->flushes[f].cov_first;
	}
	return 0;
}

/* Processes sampled in the recording's first and last minute lived
 * through it: they keep their pid all day. The others are the churn. */
static void rec_lifetimes(struct recording *r)
{
	int64_t t_first = r->flushes[0].time_s;
	int64_t t_last = r->flushes[r->n_flushes - 1].time_s;
	struct store_map early = { 0 }, late = { 0 };

	for (size_t f = 0; f < r->n_flushes; f++) {
		bool is_early = r->flushes[f].time_s < t_first + 60;
		bool is_late = r->flushes[f].time_s > t_last - 60;

		for (size_t e = r->flushes[f].first;
		     e < r->flushes[f].first + r->flushes[f].n; e++) {
			struct rec_set *s = &r->sets[r->entries[e].set];

			s->used = true;
			if (is_early)
				store_map__put(&early, &s->l.pid, sizeof(s->l.pid), 1, NULL);
			if (is_late)
				store_map__put(&late, &s->l.pid, sizeof(s->l.pid), 1, NULL);
		}
	}
	r->pid_lo = UINT32_MAX;
	r->pid_hi = 0;
	for (size_t i = 0; i < r->n_sets; i++) {
		struct rec_set *s = &r->sets[i];
		int64_t v;

		if (!s->used)
			continue;
		s->long_lived = store_map__get(&early, &s->l.pid, sizeof(s->l.pid), &v) &&
				store_map__get(&late, &s->l.pid, sizeof(s->l.pid), &v);
		if (!s->long_lived) {
			r->pid_lo = MIN(r->pid_lo, s->l.pid);
			r->pid_hi = MAX(r->pid_hi, MAX(s->l.pid, s->l.tid));
		}
	}
	store_map__free(&early);
	store_map__free(&late);
}

static int rec_load(const char *path, struct recording *r)
{
	struct store_sqlite *s;
	char tmp[4096];
	int err;

	/* A copy, opened writable: an older recording is migrated, the
	 * original is left as it is. */
	snprintf(tmp, sizeof(tmp), "%s.replay-copy", path);
	if (copy_file(path, tmp) < 0) {
		fprintf(stderr, "cannot copy %s to %s\n", path, tmp);
		return -1;
	}
	err = store_db__open(tmp, STORE_OPEN_WRITE, &r->db);
	if (err < 0) {
		fprintf(stderr, "cannot open the recording %s: %s\n", tmp, store_strerror(err));
		return -1;
	}
	s = store_sqlite__of(r->db);
	if ((err = store_cache__read_begin(s, &r->cache)) < 0 ||
	    (err = store_block__scan(s, NULL, NULL, rec_entry, r)) < 0 ||
	    (err = rec_sets(r)) < 0 || (err = rec_coverage(r, s->sql)) < 0) {
		fprintf(stderr, "cannot read the recording %s: %s\n", path,
			store_db__errmsg(r->db));
		return -1;
	}
	store_cache__read_end(s);
	unlink(tmp);
	if (!r->n_flushes) {
		fprintf(stderr, "the recording %s holds no samples\n", path);
		return -1;
	}
	rec_lifetimes(r);
	return 0;
}

static uint32_t new_pid(const struct recording *r, uint32_t pid, long round)
{
	uint64_t span = (uint64_t)(r->pid_hi - r->pid_lo) + 1;

	if (pid < PID_FIRST)
		return pid;
	return PID_FIRST + (uint32_t)(((uint64_t)pid - PID_FIRST + (uint64_t)round * span) %
				      (PID_MAX - PID_FIRST));
}

/* The frames of node, root first, into frames (at most max). */
static size_t rec_stack(const struct recording *r, int64_t node,
			struct store_frame *frames, size_t max)
{
	const struct store_read_cache *c = r->cache;
	size_t n = 0;

	for (int64_t id = node; id > 0 && n < max; id = c->nodes[id].parent) {
		uint32_t f = c->nodes[id].frame;

		frames[n++] = (struct store_frame){
			.name = c->frames[f].name,
			.module = c->frames[f].module,
			.file = c->frames[f].file,
			.line = c->frames[f].line,
			.kind = c->frames[f].kind,
			.offset = c->frame_offset[f],
			.build_id = c->frame_build_id[f],
		};
	}
	for (size_t i = 0; i < n / 2; i++) {
		struct store_frame t = frames[i];

		frames[i] = frames[n - 1 - i];
		frames[n - 1 - i] = t;
	}
	return n;
}

static int rec_flush(struct store_db *db, const struct recording *r, size_t j, long round)
{
	const struct rec_flush *f = &r->flushes[j];
	struct store_frame frames[512];

	for (size_t e = f->first; e < f->first + f->n; e++) {
		const struct rec_set *s = &r->sets[r->entries[e].set];
		struct store_labels l = s->l;
		size_t n = rec_stack(r, r->entries[e].node, frames, ARRAY_SIZE(frames));
		int err;

		if (!s->long_lived) {
			l.pid = new_pid(r, l.pid, round);
			l.tid = new_pid(r, l.tid, round);
		}
		err = store_db__add_stack(db, &l, frames, n, r->entries[e].count);
		if (err < 0)
			return err;
	}
	for (size_t i = f->cov_first; i < f->cov_first + f->cov_n; i++) {
		const struct rec_cov *c = &r->cov[i];
		int err;

		if (c->process)
			err = store_db__add_python_coverage(db, c->process,
				new_pid(r, c->pid, round), c->interp ? c->interp : "",
				c->v[0], c->v[1], c->v[2], c->v[3]);
		else if (c->reason)
			err = store_db__add_coverage_issue(db, c->module, c->build_id,
							   c->reason, c->v[0]);
		else
			err = store_db__add_coverage(db, c->module, c->build_id,
						     c->v[0], c->v[1], c->v[2]);
		if (err < 0)
			return err;
	}
	return 0;
}

/* The churn day: the recording at rec_path replayed into path for hours. */
int churn_day(const char *rec_path, const char *path, double hours)
{
	struct recording r = { 0 };
	struct store_db *db = NULL;
	long flushes = (long)(hours * 3600 / FLUSH_S), over = 0, rounds;
	int64_t t0 = 1700000000 - 1700000000 % 3600;
	double ingest_ms = 0, maintain_ms = 0, wal_peak = 0, db_at_peak = 0;
	uint64_t total = 0, churned = 0, kept = 0;
	char wal[4096];
	int err;

	if (rec_load(rec_path, &r) < 0)
		return 1;
	rounds = (flushes + (long)r.n_flushes - 1) / (long)r.n_flushes;
	for (size_t i = 0; i < r.n_sets; i++)
		if (r.sets[i].used)
			r.sets[i].long_lived ? kept++ : churned++;
	unlink(path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db) < 0) {
		fprintf(stderr, "cannot create %s\n", path);
		return 1;
	}
	for (long k = 0; k < flushes; k++) {
		size_t j = (size_t)(k % (long)r.n_flushes);
		int64_t now = t0 + k * FLUSH_S;
		double t1 = now_ms();
		long wal_size, db_size;

		if ((err = store_db__begin(db, now, FLUSH_S)) < 0 ||
		    (err = rec_flush(db, &r, j, k / (long)r.n_flushes)) < 0 ||
		    (err = store_db__commit(db)) < 0)
			goto fail;
		ingest_ms += now_ms() - t1;
		for (size_t e = 0; e < r.flushes[j].n; e++)
			total += r.entries[r.flushes[j].first + e].count;
		/* The agent runs the retention every 10 minutes after a flush. */
		if (k % 60 == 59) {
			struct store_maintain_stats st;

			t1 = now_ms();
			if ((err = store_db__maintain(db, now + FLUSH_S, NULL, &st)) < 0)
				goto fail;
			maintain_ms += now_ms() - t1;
		}
		wal_size = file_size(wal);
		db_size = file_size(path);
		if (wal_size > wal_peak) {
			wal_peak = (double)wal_size;
			db_at_peak = (double)db_size;
		}
		if (wal_size > MAX(4 << 20, db_size / 4))
			over++;
	}
	store_db__close(db);
	{
		long size = file_size(path);

		printf("churn day: %zu flushes (%.1f min) of a real agent's recording, %llu samples, "
		       "%llu label sets (%llu of processes that lived through it, the other %llu "
		       "given new pids each round), replayed %ld times for %.1f h\n",
		       r.n_flushes, r.n_flushes * FLUSH_S / 60.0,
		       (unsigned long long)r.samples, (unsigned long long)(kept + churned),
		       (unsigned long long)kept, (unsigned long long)churned, rounds, hours);
		printf("  samples written           %llu (%.1f per flush), about %llu label sets\n",
		       (unsigned long long)total, (double)total / (double)flushes,
		       (unsigned long long)(kept + churned * (unsigned long long)rounds));
		printf("  ingest                    %.0f samples/s, %.2f ms per flush (writer only); "
		       "retention every 10 min %.1f ms a run\n",
		       total / (ingest_ms / 1000), ingest_ms / (double)flushes,
		       maintain_ms / (double)(flushes / 60 ? flushes / 60 : 1));
		printf("  file size                 %.2f MB (%.2f MB per day), %.1f bytes per sample\n",
		       size / 1e6, size / 1e6 / (hours / 24), (double)size / (double)total);
		printf("  WAL peak                  %.2f MB beside a database of %.2f MB; above "
		       "max(4 MB, a quarter of the database) after %ld of %ld flushes\n",
		       wal_peak / 1e6, db_at_peak / 1e6, over, flushes);
	}
	store_db__close(r.db);
	return 0;
fail:
	fprintf(stderr, "churn day: write failed: %s\n", store_db__errmsg(db));
	store_db__close(db);
	return 1;
}
