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
 * With -R RECORDING, the churn day instead (storage_churn.c). This file
 * owns the generated day, the query timings, -S (shipping to ClickHouse)
 * and the command line.
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
#include "storage_bench.h"

#define N_PROCS 300
#define N_STACKS 50000
#define N_FUNCS 20000
#define N_MODULES 200
#define N_BASES 600
#define MAX_DEPTH 64
#define N_KPATHS 60

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
