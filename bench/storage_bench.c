/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_bench.c — the storage benchmark's driver (run by bench/storage):
 * generates a realistic day of a busy host — N CPUs at HZ, 300 processes
 * with 1-4 threads, 50,000 distinct stacks (shared prefixes, 20% with
 * kernel frames) drawn with a long-tailed (Zipf) popularity, 10 s flushes —
 * and writes it through the real writer (store_db__begin / add_stack /
 * commit, as profiler/session.c does). Then it prints the ingest rate, the
 * file size per day and per million samples, flame-graph query times for
 * the last 5 min / 1 h / 24 h with and without a process filter, timeline
 * query times, and the size after downsampling. Figures only; never
 * pass/fail.
 *
 * With -R RECORDING, the churn day instead: the flushes of a real agent's
 * recording (bench/storage --churn makes one) written again and again
 * through the same writer until HOURS are filled, each round with new
 * pids and tids for the processes that did not live through the whole
 * recording (so new label sets, as new processes of the same binaries
 * would give), the recording's coverage rows with them, the retention
 * run every 10 minutes as the agent does; it prints the bytes per
 * sample and the WAL's peak beside the database.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_rng.h"
#include "common.h"
#include "storage.h"
#include "store_cache.h"

#define N_PROCS 300
#define N_STACKS 50000
#define N_FUNCS 20000
#define N_MODULES 200
#define N_BASES 600
#define MAX_DEPTH 64
#define N_KPATHS 60
#define FLUSH_S 10

struct stack {
	int proc;
	int depth;
	int frames[MAX_DEPTH]; /* function index; >= N_FUNCS: kernel */
};

struct proc {
	char name[32];
	char thread_names[4][32];
	int n_threads;
	uint32_t pid;
};

static struct stack *stacks;
static struct proc procs[N_PROCS];
static char *func_names[N_FUNCS + 400];
static char *module_names[N_MODULES];
static double *cdf;
static int rng_below(int n)
{
	return (int)(bench_rng() % (uint64_t)n);
}

static void generate(void)
{
	static const char *const names[] = {
		"postgres", "nginx", "java", "python3", "node", "redis-server",
		"envoy", "containerd", "kubelet", "systemd-journal", "sshd",
		"cron", "dockerd", "mysqld", "php-fpm", "ruby", "gunicorn",
		"celery", "prometheus", "grafana",
	};
	int bases[N_BASES][16], base_depth[N_BASES];
	int kpaths[N_KPATHS][8], kpath_depth[N_KPATHS];
	double sum = 0;

	for (int i = 0; i < N_FUNCS + 400; i++) {
		char buf[96];

		if (i < N_FUNCS)
			snprintf(buf, sizeof(buf), "ns%d::Class%d::method_%d",
				 i % 97, i % 1009, i);
		else
			snprintf(buf, sizeof(buf), "kfunc_%d", i - N_FUNCS);
		func_names[i] = strdup(buf);
	}
	for (int m = 0; m < N_MODULES; m++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "/usr/lib/x86_64-linux-gnu/libm%d.so.1", m);
		module_names[m] = strdup(buf);
	}
	for (int p = 0; p < N_PROCS; p++) {
		snprintf(procs[p].name, sizeof(procs[p].name), "%s",
			 names[p % 20]);
		procs[p].pid = 1000 + (uint32_t)p * 7;
		procs[p].n_threads = 1 + rng_below(4);
		for (int t = 0; t < procs[p].n_threads; t++)
			snprintf(procs[p].thread_names[t], 32, "%s-%d",
				 t ? "worker" : names[p % 20], t);
	}
	for (int b = 0; b < N_BASES; b++) {
		base_depth[b] = 4 + rng_below(12);
		for (int d = 0; d < base_depth[b]; d++)
			bases[b][d] = rng_below(N_FUNCS);
	}
	for (int k = 0; k < N_KPATHS; k++) {
		kpath_depth[k] = 3 + rng_below(6);
		for (int d = 0; d < kpath_depth[k]; d++)
			kpaths[k][d] = N_FUNCS + rng_below(400);
	}
	stacks = calloc(N_STACKS, sizeof(*stacks));
	cdf = calloc(N_STACKS, sizeof(*cdf));
	for (int i = 0; i < N_STACKS; i++) {
		struct stack *s = &stacks[i];

		if (i < N_BASES) {
			/* A program's main paths. */
			s->proc = (i * 31) % N_PROCS;
			memcpy(s->frames, bases[i], base_depth[i] * sizeof(int));
			s->depth = base_depth[i];
		} else {
			/* Like real call trees: a new stack is an earlier
			 * one cut at some depth plus a few new calls. */
			const struct stack *from = &stacks[rng_below(i)];
			int keep = 3 + rng_below(from->depth > 3 ? from->depth - 2 : 1);
			int add = 1 + rng_below(3);

			s->proc = from->proc;
			if (keep > from->depth)
				keep = from->depth;
			/* Drop a kernel suffix before extending. */
			while (keep > 0 && from->frames[keep - 1] >= N_FUNCS)
				keep--;
			memcpy(s->frames, from->frames, keep * sizeof(int));
			s->depth = keep;
			for (int d = 0; d < add && s->depth < MAX_DEPTH - 10; d++)
				s->frames[s->depth++] = rng_below(N_FUNCS);
		}
		if (rng_below(5) == 0) {
			int k = rng_below(N_KPATHS);

			for (int d = 0; d < kpath_depth[k]; d++)
				s->frames[s->depth++] = kpaths[k][d];
		}
		/* Zipf, s = 1.1: a few stacks take most samples. */
		sum += 1.0 / pow(i + 1, 1.1);
		cdf[i] = sum;
	}
	for (int i = 0; i < N_STACKS; i++)
		cdf[i] /= sum;
}

static int pick_stack(void)
{
	return (int)bench_pick(cdf, N_STACKS, bench_rng_unit());
}

static double now_ms(void)
{
	return common_now_ns() / 1e6;
}

/* CPU time of this process: what a loaded, shared VM moves far less than
 * wall-clock time. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * -S URL: ship FILE's outbox (written with -s) to ClickHouse at URL as an
 * agent's shipping thread does, and time it.
 */
static int ship(const char *path, const char *url)
{
	struct store_ch_config c = { .url = url, .timeout_ms = 60000 };
	struct store_ship_backlog b;
	struct store_ship_result r;
	struct store_ch *ch = NULL;
	struct store_db *db = NULL;
	uint64_t flushes = 0, samples = 0, bytes = 0;
	double w0, c0, wall, cpu;
	int err;

	if (store_ch__new(&c, &ch, NULL) < 0 || store_db__open(path, STORE_OPEN_WRITE, &db) < 0) {
		fprintf(stderr, "cannot open %s or the URL\n", path);
		return -1;
	}
	if (store_db__ship_backlog(db, &b) < 0 || (err = store_ch__prepare(ch)) < 0) {
		fprintf(stderr, "%s\n", store_ch__errmsg(ch));
		return -1;
	}
	w0 = now_ms();
	c0 = cpu_ms();
	while ((err = store_db__ship_next(db, ch, &r)) == 1) {
		flushes++;
		samples += r.samples;
		bytes += r.bytes;
	}
	wall = now_ms() - w0;
	cpu = cpu_ms() - c0;
	if (err < 0) {
		fprintf(stderr, "shipping failed: %s\n", store_ch__errmsg(ch));
		return -1;
	}
	printf("shipped %llu flushes, %llu samples, %.2f MB (gzip; %.2f MB queued in the "
	       "file) in %.1f s: %.0f flushes/s, %.0f samples/s; the shipper's CPU %.2f ms "
	       "per flush\n", (unsigned long long)flushes, (unsigned long long)samples,
	       bytes / 1e6, b.bytes / 1e6, wall / 1e3, flushes / (wall / 1e3),
	       samples / (wall / 1e3), cpu / (flushes ? flushes : 1));
	store_db__close(db);
	store_ch__free(ch);
	return 0;
}

static int add(struct store_db *db, int stack, int thread, uint64_t count)
{
	const struct stack *s = &stacks[stack];
	const struct proc *p = &procs[s->proc];
	struct store_frame frames[MAX_DEPTH];
	struct store_labels l = {
		.host = "bench-host",
		.process = p->name,
		.pid = p->pid,
		.thread = p->thread_names[thread],
		.tid = p->pid + (uint32_t)thread,
		.cgroup_id = 4000 + (uint64_t)s->proc % 40,
	};

	for (int d = 0; d < s->depth; d++) {
		int f = s->frames[d];
		bool kernel = f >= N_FUNCS;

		frames[d] = (struct store_frame){
			.name = func_names[f],
			.module = kernel ? "[kernel.kallsyms]" : module_names[f % N_MODULES],
			.offset = (uint64_t)f * 64 + 16,
			.kind = kernel ? STORE_FRAME_KERNEL : STORE_FRAME_USER,
		};
	}
	return store_db__add_stack(db, &l, frames, (size_t)s->depth, count);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Copy a closed database file (no -wal left) for a later look. */
static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[1 << 16];
	size_t n;
	int r = in && out ? 0 : -1;

	while (r == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			r = -1;
	if (in && ferror(in))
		r = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		r = -1;
	return r;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Median wall time of three runs of a tree query, in ms, and the least
 * CPU time in *ret_cpu; *ret_total samples. */
static double time_tree(struct store_db *db, int64_t from, int64_t to,
			const char *filter, uint64_t *ret_total, size_t *ret_nodes,
			double *ret_cpu)
{
	struct store_filter *f = NULL;
	double t[3], cpu = 1e9;

	if (filter && store_filter__parse(filter, &f, NULL) < 0)
		exit(1);
	for (int i = 0; i < 3; i++) {
		struct store_query q = { .from_s = from, .to_s = to, .filter = f };
		struct store_tree *tree;
		double t0 = now_ms(), c0 = cpu_ms();

		if (store_db__query_tree(db, &q, &tree) < 0) {
			fprintf(stderr, "query: %s\n", store_db__errmsg(db));
			exit(1);
		}
		t[i] = now_ms() - t0;
		cpu = MIN(cpu, cpu_ms() - c0);
		*ret_total = store_tree__node(tree, 0)->total;
		*ret_nodes = store_tree__size(tree);
		store_tree__free(tree);
	}
	store_filter__free(f);
	*ret_cpu = cpu;
	if (t[0] > t[1]) { double x = t[0]; t[0] = t[1]; t[1] = x; }
	if (t[1] > t[2]) { double x = t[1]; t[1] = t[2]; t[2] = x; }
	if (t[0] > t[1]) { double x = t[0]; t[0] = t[1]; t[1] = x; }
	return t[1];
}

/* Least CPU time of three timeline queries, in ms. */
static double time_timeline(struct store_db *db, int64_t from, int64_t to,
			    const char *split, size_t *ret_series)
{
	struct store_query q = { .from_s = from, .to_s = to };
	double best = 1e9;

	for (int i = 0; i < 3; i++) {
		struct store_timeline *t;
		double t0 = cpu_ms(), ms;

		if (store_db__query_timeline(db, &q, 0, split, &t) < 0) {
			fprintf(stderr, "timeline: %s\n", store_db__errmsg(db));
			exit(1);
		}
		ms = cpu_ms() - t0;
		best = ms < best ? ms : best;
		*ret_series = t->n_series;
		store_timeline__free(t);
	}
	return best;
}

/* The flame-graph and timeline query figures over the file at path, whose
 * data ends at end. Returns 0 or -1. */
static int queries(const char *path, int64_t end)
{
	struct store_db *db;
	uint64_t n;
	size_t nodes, series;
	struct { const char *name; int64_t span; } r[] = {
		{ "last 5 min", 300 }, { "last 1 h", 3600 },
		{ "last 24 h", 86400 },
	};
	/* A new read handle loads its caches (stack nodes, frames,
	 * label sets) at its first query. */
	{
		double w0 = now_ms(), c0 = cpu_ms();
		struct store_tree *tree;
		struct store_query q = { .from_s = end - 86400, .to_s = end };

		if (store_db__open(path, STORE_OPEN_READ, &db) < 0 ||
		    store_db__query_tree(db, &q, &tree) < 0)
			return 1;
		store_tree__free(tree);
		printf("  first 24 h query (cold)   %8.1f ms wall, %6.1f ms CPU "
		       "(new handle, loads its caches)\n", now_ms() - w0,
		       cpu_ms() - c0);
	}
	/* procs[0]'s name is shared by 15 pids: a typical filter. */
	for (size_t i = 0; i < 3; i++) {
		double cpu, fcpu;
		double ms = time_tree(db, end - r[i].span, end, NULL, &n, &nodes,
				      &cpu);
		double fms;
		uint64_t fn;
		size_t fnodes;

		fms = time_tree(db, end - r[i].span, end, "process=postgres",
				&fn, &fnodes, &fcpu);
		printf("  flame graph %-13s %8.1f ms wall, %6.1f ms CPU (%llu samples, "
		       "%zu nodes); process=postgres %6.1f ms wall, %6.1f ms CPU "
		       "(%llu samples)\n", r[i].name, ms, cpu,
		       (unsigned long long)n, nodes, fms, fcpu,
		       (unsigned long long)fn);
	}
	for (size_t i = 1; i < 3; i++) {
		double ms = time_timeline(db, end - r[i].span, end, NULL, &series);
		double sms = time_timeline(db, end - r[i].span, end, "process", &series);

		printf("  timeline %-16s %8.1f ms CPU; split by process %7.1f ms CPU "
		       "(%zu series)\n", r[i].name, ms, sms, series);
	}
	store_db__close(db);
	return 0;
}

/* ---- the churn day (-R) ---------------------------------------------- */

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
static int churn_day(const char *rec_path, const char *path, double hours)
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

int main(int argc, char **argv)
{
	const char *path = "storage-bench.db", *keep = NULL;
	unsigned hz = 19, cpus = 2;
	bool downsample = true, query_only = false, queue = false;
	const char *ship_url = NULL, *recording = NULL;
	double hours = 24;
	int64_t t0 = 1700000000 - 1700000000 % 3600, end;
	uint64_t total = 0, rows = 0;
	struct store_db *db;
	double ingest_ms = 0;
	uint32_t *keys;
	int c;

	while ((c = getopt(argc, argv, "F:c:H:o:nk:qsS:R:T:")) != -1) {
		switch (c) {
		case 'F':
			hz = (unsigned)atoi(optarg);
			break;
		case 'c':
			cpus = (unsigned)atoi(optarg);
			break;
		case 'H':
			hours = atof(optarg);
			break;
		case 'o':
			path = optarg;
			break;
		case 'n':
			downsample = false;
			break;
		case 'k':
			keep = optarg;
			break;
		case 'q':
			query_only = true;
			break;
		case 's':
			queue = true;
			break;
		case 'S':
			ship_url = optarg;
			break;
		case 'R':
			recording = optarg;
			break;
		case 'T':
			t0 = strtoll(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: storage_bench [-F HZ] [-c CPUS] "
				"[-H HOURS] [-o FILE] [-n] [-k COPY] [-q] [-s] [-S URL] [-R RECORDING]\n"
				"       [-T START]\n"
				"  -n: do not downsample at the end\n"
				"  -q: only the queries, over an existing FILE written "
				"with the same -H\n"
				"  -k: copy the day's file to COPY before downsampling\n"
				"  -s: queue every flush for ClickHouse while writing (the outbox)\n"
				"  -S URL: ship FILE's outbox to ClickHouse at URL, timed\n"
				"  -R RECORDING: the churn day, made of an agent's recording\n"
				"  -T START: the first flush's time (Unix seconds; default "
				"1699999200)\n");
			return 2;
		}
	}
	if (ship_url)
		return ship(path, ship_url) < 0;
	if (recording)
		return churn_day(recording, path, hours);
	if (query_only)
		return queries(path, t0 + (int64_t)(hours * 3600 / FLUSH_S) * FLUSH_S) < 0;
	generate();
	unlink(path);
	if (store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db) < 0) {
		fprintf(stderr, "cannot create %s\n", path);
		return 1;
	}
	if (queue && store_db__ship_enable(db, "bench-host", 0) < 0)
		goto fail;
	{
		unsigned per_flush = cpus * hz * FLUSH_S;
		long flushes = (long)(hours * 3600 / FLUSH_S);

		keys = malloc(per_flush * sizeof(*keys));
		for (long k = 0; k < flushes; k++) {
			double t1 = now_ms();

			/* Draw the flush's samples, then count equal
			 * (stack, thread) keys: what the kernel map does. */
			for (unsigned i = 0; i < per_flush; i++) {
				int s = pick_stack();
				int th = rng_below(procs[stacks[s].proc].n_threads);

				keys[i] = (uint32_t)s * 4 + (uint32_t)th;
			}
			qsort(keys, per_flush, sizeof(*keys), cmp_u32);
			t1 = now_ms();
			if (store_db__begin(db, t0 + k * FLUSH_S, FLUSH_S) < 0)
				goto fail;
			for (unsigned i = 0; i < per_flush;) {
				unsigned j = i;

				while (j < per_flush && keys[j] == keys[i])
					j++;
				if (add(db, (int)(keys[i] / 4), (int)(keys[i] % 4), j - i) < 0)
					goto fail;
				rows++;
				i = j;
			}
			if (store_db__commit(db) < 0)
				goto fail;
			ingest_ms += now_ms() - t1;
			total += per_flush;
		}
		end = t0 + flushes * FLUSH_S;
	}
	store_db__close(db);
	free(keys);

	{
		long size = file_size(path);
		double days = hours / 24;
		struct store_maintain_stats st;

		printf("storage benchmark: %u CPUs at %u Hz, %.1f h, %d processes, "
		       "%d distinct stacks (Zipf 1.1), %d s flushes\n",
		       cpus, hz, hours, N_PROCS, N_STACKS, FLUSH_S);
		printf("  samples written           %llu in %llu rows (%.1f rows per flush)\n",
		       (unsigned long long)total, (unsigned long long)rows,
		       rows / (hours * 3600 / FLUSH_S));
		printf("  ingest                    %.0f samples/s, %.2f ms per flush "
		       "(writer only)\n", total / (ingest_ms / 1000),
		       ingest_ms / (hours * 3600 / FLUSH_S));
		printf("  file size                 %.2f MB (%.2f MB per day, %.2f MB per "
		       "day per CPU, %.2f MB per million samples)\n",
		       size / 1e6, size / 1e6 / days, size / 1e6 / days / cpus,
		       size / 1e6 / (total / 1e6));
		if (queue) {
			struct store_ship_backlog b;

			if (store_db__open(path, STORE_OPEN_READ, &db) < 0 ||
			    store_db__ship_backlog(db, &b) < 0)
				goto fail;
			printf("  queued for ClickHouse     %llu flushes, %.2f MB (in the file size)\n",
			       (unsigned long long)b.flushes, b.bytes / 1e6);
			store_db__close(db);
		}

		if (keep && copy_file(path, keep) < 0) {
			fprintf(stderr, "cannot copy %s to %s\n", path, keep);
			return 1;
		}
		if (queries(path, end) < 0)
			return 1;

		/* A writer that takes over the file (an agent restarting)
		 * loads what it deduplicates against at its first begin. */
		{
			double w0 = now_ms(), c0 = cpu_ms();

			if (store_db__open(path, STORE_OPEN_WRITE, &db) < 0 ||
			    store_db__begin(db, end, FLUSH_S) < 0)
				goto fail;
			printf("  first begin of a writer   %8.1f ms wall, %6.1f ms CPU "
			       "(open + first store_db__begin)\n", now_ms() - w0,
			       cpu_ms() - c0);
			store_db__rollback(db);
			store_db__close(db);
		}

		/* As the agent would a day later, then a week later. */
		if (!downsample)
			return 0;
		if (store_db__open(path, STORE_OPEN_WRITE, &db) < 0)
			return 1;
		double m0 = now_ms();
		if (store_db__maintain(db, end + 86400 + 3600, NULL, &st) < 0)
			goto fail;
		printf("  downsampled to 1 min      %.2f MB (maintain took %.0f ms, %llu rows merged)\n",
		       st.bytes_after / 1e6, now_ms() - m0, (unsigned long long)st.rows_merged);
		m0 = now_ms();
		if (store_db__maintain(db, end + 7 * 86400 + 3600, NULL, &st) < 0)
			goto fail;
		printf("  downsampled to 1 h        %.2f MB (maintain took %.0f ms)\n",
		       st.bytes_after / 1e6, now_ms() - m0);
		store_db__close(db);
	}
	return 0;
fail:
	fprintf(stderr, "write failed: %s\n", store_db__errmsg(db));
	store_db__close(db);
	return 1;
}
