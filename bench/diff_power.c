/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_power.c — the driver of bench/diff-power, the benchmark of
 * `ember diff`'s statistics. Two modes:
 *
 *   simulate  draws pairs of synthetic profiles (multinomial over the stacks
 *             of a real recording, as bench/diff-power extracts them), grows
 *             one function's self share by DELTA percentage points in head,
 *             and runs the real decision rule (cmp_compare, the code `ember
 *             diff` calls) on every pair. Prints one JSON line: how often
 *             the grown function was reported as a regression (the power;
 *             with DELTA 0, its false-alarm rate), how often anything was
 *             (what exit status 1 would say), and how often a raw-delta rule
 *             in the style of `pprof -diff_base` (any function's share up by
 *             more than X points, no statistics) would flag the pair.
 *   write-db  writes a large realistic profile (thousands of functions and
 *             distinct stacks, a long tail) through the storage writer, so
 *             the script can time `ember diff` end to end on it.
 *
 * Pairs are reproducible: trial t draws from seed + t, and base and head use
 * the same uniforms with the grown function's stacks first in the inverse
 * CDF, so a larger DELTA never gives that function fewer samples (common
 * random numbers: the power curve the script searches is monotone).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_rng.h"
#include "compare.h"
#include "storage.h"

#define MAX_RAW 8

static void rng_seed(uint64_t s)
{
	/* splitmix64 of the seed: neighbouring seeds give unrelated streams. */
	s += 0x9e3779b97f4a7c15ULL;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ULL;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebULL;
	bench_rng_state = (s ^ (s >> 31)) | 1;
}

/* ---- simulate ---------------------------------------------------------- */

struct dist_stack {
	double weight;
	size_t n_self, n_total;
	size_t *self, *total; /* function indexes */
	bool target;          /* credits the grown function's self */
};

struct dist {
	size_t n_funcs, n_stacks;
	char **names, **modules;
	int *kinds;
	struct dist_stack *stacks;
};

static int read_indexes(char **p, size_t n_funcs, size_t *ret_n, size_t **ret_idx)
{
	char *end;
	unsigned long n = strtoul(*p, &end, 10);
	size_t *idx;

	if (end == *p)
		return -EINVAL;
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (unsigned long i = 0; i < n; i++) {
		*p = end;
		idx[i] = strtoul(*p, &end, 10);
		if (end == *p || idx[i] >= n_funcs) {
			free(idx);
			return -EINVAL;
		}
	}
	*p = end;
	*ret_n = n;
	*ret_idx = idx;
	return 0;
}

/*
 * The distribution file bench/diff-power writes:
 *   functions K
 *   KIND<TAB>MODULE<TAB>NAME          K lines
 *   stacks M
 *   WEIGHT NSELF I... NTOTAL J...      M lines
 * A stack's self and total lists say which functions it credits, as
 * `ember diff` credits them (the script checks that against a real diff).
 */
static int dist_read(const char *path, struct dist *d)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned long n;
	int err = -EINVAL;

	if (!f)
		return -errno;
	if (getline(&line, &cap, f) < 0 || sscanf(line, "functions %lu", &n) != 1 || !n)
		goto out;
	d->n_funcs = n;
	d->names = calloc(n, sizeof(*d->names));
	d->modules = calloc(n, sizeof(*d->modules));
	d->kinds = calloc(n, sizeof(*d->kinds));
	if (!d->names || !d->modules || !d->kinds)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		char *t1, *t2;
		ssize_t len = getline(&line, &cap, f);

		if (len <= 0)
			goto out;
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		t1 = strchr(line, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			goto out;
		*t1 = *t2 = '\0';
		d->kinds[i] = atoi(line);
		d->modules[i] = strdup(t1 + 1);
		d->names[i] = strdup(t2 + 1);
		if (!d->modules[i] || !d->names[i])
			goto nomem;
	}
	if (getline(&line, &cap, f) < 0 || sscanf(line, "stacks %lu", &n) != 1 || !n)
		goto out;
	d->n_stacks = n;
	d->stacks = calloc(n, sizeof(*d->stacks));
	if (!d->stacks)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct dist_stack *s = &d->stacks[i];
		char *p, *end;

		if (getline(&line, &cap, f) < 0)
			goto out;
		s->weight = strtod(line, &end);
		if (end == line || s->weight < 0)
			goto out;
		p = end;
		err = read_indexes(&p, d->n_funcs, &s->n_self, &s->self);
		if (!err)
			err = read_indexes(&p, d->n_funcs, &s->n_total, &s->total);
		if (err)
			goto out;
		err = -EINVAL;
	}
	err = 0;
	goto out;
nomem:
	err = -ENOMEM;
out:
	free(line);
	fclose(f);
	return err;
}

struct sim_opts {
	uint64_t samples, trials, seed;
	const char *target;
	double delta_pp;
	struct cmp_options cmp;
	double raw[MAX_RAW];
	int n_raw;
};

/* Draw n samples from the inverse CDF into per-function self/total counts. */
static void draw(const struct dist *d, const size_t *order, const double *cdf,
		 uint64_t n, struct cmp_input *in)
{
	for (size_t i = 0; i < d->n_funcs; i++)
		in[i].self = in[i].total = 0;
	for (uint64_t k = 0; k < n; k++) {
		double u = bench_rng_unit();
		size_t lo = 0, hi = d->n_stacks - 1;
		const struct dist_stack *s;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cdf[mid] <= u)
				lo = mid + 1;
			else
				hi = mid;
		}
		s = &d->stacks[order[lo]];
		for (size_t i = 0; i < s->n_self; i++)
			in[s->self[i]].self++;
		for (size_t i = 0; i < s->n_total; i++)
			in[s->total[i]].total++;
	}
}

/* Functions without samples are not in a real profile's tree either. */
static size_t compact(const struct cmp_input *all, size_t n, struct cmp_input *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (all[i].self || all[i].total)
			out[m++] = all[i];
	return m;
}

static int simulate(const struct dist *d, const struct sim_opts *o)
{
	size_t *order = calloc(d->n_stacks, sizeof(*order)), n_order = 0;
	double *cdf_base = calloc(d->n_stacks, sizeof(double));
	double *cdf_head = calloc(d->n_stacks, sizeof(double));
	struct cmp_input *all = calloc(d->n_funcs, sizeof(*all));
	struct cmp_input *b = calloc(d->n_funcs, sizeof(*b));
	struct cmp_input *h = calloc(d->n_funcs, sizeof(*h));
	double sum = 0, tsum = 0, share, scale_t, scale_o, acc;
	uint64_t detected = 0, any_reg = 0, raw_alarm[MAX_RAW] = {0}, tests = 0;
	size_t target = d->n_funcs;
	int err = -ENOMEM;

	if (!order || !cdf_base || !cdf_head || !all || !b || !h)
		goto out;
	err = -EINVAL;
	for (size_t i = 0; i < d->n_funcs; i++) {
		all[i].name = d->names[i];
		all[i].module = d->modules[i];
		all[i].kind = d->kinds[i];
		if (!strcmp(d->names[i], o->target))
			target = i;
	}
	if (target == d->n_funcs) {
		fprintf(stderr, "diff_power: no function named '%s' in the distribution\n", o->target);
		goto out;
	}
	/* The grown function's stacks first, so growing them only ever moves
	 * draws into them (common random numbers across DELTA). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < d->n_stacks; i++) {
			struct dist_stack *s = &d->stacks[i];
			bool t = false;

			for (size_t j = 0; j < s->n_self; j++)
				t |= s->self[j] == target;
			s->target = t;
			if (t == (pass == 0))
				order[n_order++] = i;
		}
	for (size_t i = 0; i < d->n_stacks; i++) {
		sum += d->stacks[i].weight;
		tsum += d->stacks[i].target ? d->stacks[i].weight : 0;
	}
	share = tsum / sum;
	if (share + o->delta_pp / 100 >= 1 || share <= 0) {
		fprintf(stderr, "diff_power: %s has a self share of %.4f; cannot grow it by %g points\n",
			o->target, share, o->delta_pp);
		goto out;
	}
	scale_t = (share + o->delta_pp / 100) / share;
	scale_o = (1 - share - o->delta_pp / 100) / (1 - share);
	acc = 0;
	for (size_t k = 0; k < d->n_stacks; k++)
		cdf_base[k] = (acc += d->stacks[order[k]].weight / sum);
	acc = 0;
	for (size_t k = 0; k < d->n_stacks; k++) {
		const struct dist_stack *s = &d->stacks[order[k]];

		cdf_head[k] = (acc += s->weight / sum * (s->target ? scale_t : scale_o));
	}
	cdf_base[d->n_stacks - 1] = cdf_head[d->n_stacks - 1] = 1.0;

	for (uint64_t t = 0; t < o->trials; t++) {
		struct cmp_report *r = NULL;
		size_t nb, nh;
		bool hit = false, raw_hit[MAX_RAW] = {false};

		rng_seed(o->seed + t);
		draw(d, order, cdf_base, o->samples, all);
		nb = compact(all, d->n_funcs, b);
		draw(d, order, cdf_head, o->samples, all);
		nh = compact(all, d->n_funcs, h);
		err = cmp_compare(b, nb, o->samples, h, nh, o->samples, &o->cmp, &r);
		if (err) {
			fprintf(stderr, "diff_power: cmp_compare: %s\n", strerror(-err));
			goto out;
		}
		for (size_t i = 0; i < r->n_rows; i++) {
			const struct cmp_row *row = &r->rows[i];

			if (row->regression && row->metric == CMP_SELF && !strcmp(row->name, o->target))
				hit = true;
			for (int x = 0; x < o->n_raw; x++)
				raw_hit[x] |= row->delta_pp > o->raw[x];
		}
		detected += hit;
		any_reg += r->n_regressions > 0;
		tests += r->n_tests;
		for (int x = 0; x < o->n_raw; x++)
			raw_alarm[x] += raw_hit[x];
		cmp_report_free(r);
	}
	printf("{\"samples\":%llu,\"trials\":%llu,\"target\":\"%s\",\"target_share\":%.6f,"
	       "\"delta_pp\":%.6g,\"threshold_pp\":%.6g,\"alpha\":%.6g,"
	       "\"detected\":%.6f,\"exit1\":%.6f,\"mean_tests\":%.2f,\"raw\":{",
	       (unsigned long long)o->samples, (unsigned long long)o->trials, o->target, share,
	       o->delta_pp, o->cmp.threshold_pp, o->cmp.alpha,
	       (double)detected / o->trials, (double)any_reg / o->trials,
	       (double)tests / o->trials);
	for (int x = 0; x < o->n_raw; x++)
		printf("%s\"%g\":%.6f", x ? "," : "", o->raw[x], (double)raw_alarm[x] / o->trials);
	printf("}}\n");
	err = 0;
out:
	free(order);
	free(cdf_base);
	free(cdf_head);
	free(all);
	free(b);
	free(h);
	return err;
}

/* ---- write-db ---------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#define GEN_FUNCS 6000
#define GEN_KFUNCS 300
#define GEN_MODULES 60
#define GEN_STACKS 12000
#define GEN_ROOTS 400
#define GEN_PROCS 24
#define GEN_MAX_DEPTH 48
#define FLUSH_S 10

struct gen_stack {
	int proc, depth;
	int frames[GEN_MAX_DEPTH]; /* >= GEN_FUNCS: kernel */
};

/*
 * A profile like a busy service's: programs with a few hundred main paths,
 * each new stack an earlier one cut at some depth plus 1-3 calls, a fifth
 * with a kernel tail, drawn with Zipf(1.1) popularity. The layout comes
 * from a fixed seed, so base and head hold the same code; head differs by
 * its sampling seed and, with --grow K, the leaf function of the K-th most
 * popular stack does twice the work (every stack ending in it weighs double).
 */
static int write_db(const char *path, uint64_t samples, unsigned hz, unsigned cpus,
		    uint64_t seed, int grow)
{
	static char *names[GEN_FUNCS + GEN_KFUNCS], *modules[GEN_MODULES];
	static const char *const progs[] = { "api-server", "worker", "postgres", "nginx" };
	struct gen_stack *st = calloc(GEN_STACKS, sizeof(*st));
	double *cdf = calloc(GEN_STACKS, sizeof(*cdf)), sum = 0;
	unsigned per_flush = hz * cpus * FLUSH_S;
	uint32_t *keys = calloc(per_flush, sizeof(*keys));
	int64_t t0 = (int64_t)time(NULL) - (int64_t)(samples / (hz * cpus)) - 3600;
	struct store_db *db = NULL;
	uint64_t written = 0;
	int err = -ENOMEM;

	t0 -= t0 % FLUSH_S;
	if (!st || !cdf || !keys)
		goto out;
	rng_seed(42);
	for (int i = 0; i < GEN_FUNCS + GEN_KFUNCS; i++) {
		char buf[96];

		if (i < GEN_FUNCS)
			snprintf(buf, sizeof(buf), "app%d::Service%d::handle_%d", i % 37, i % 701, i);
		else
			snprintf(buf, sizeof(buf), "kfunc_%d", i - GEN_FUNCS);
		if (!(names[i] = strdup(buf)))
			goto out;
	}
	for (int m = 0; m < GEN_MODULES; m++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "/usr/lib/x86_64-linux-gnu/libsvc%d.so.2", m);
		if (!(modules[m] = strdup(buf)))
			goto out;
	}
	for (int i = 0; i < GEN_STACKS; i++) {
		struct gen_stack *s = &st[i];

		if (i < GEN_ROOTS) {
			s->proc = i % GEN_PROCS;
			s->depth = 4 + (int)(bench_rng() % 12);
			for (int k = 0; k < s->depth; k++)
				s->frames[k] = (int)(bench_rng() % GEN_FUNCS);
		} else {
			const struct gen_stack *from = &st[bench_rng() % (uint64_t)i];
			int keep = 3 + (int)(bench_rng() % (uint64_t)(from->depth > 3 ? from->depth - 2 : 1));
			int add = 1 + (int)(bench_rng() % 3);

			if (keep > from->depth)
				keep = from->depth;
			while (keep > 0 && from->frames[keep - 1] >= GEN_FUNCS)
				keep--;
			s->proc = from->proc;
			memcpy(s->frames, from->frames, (size_t)keep * sizeof(int));
			s->depth = keep;
			for (int k = 0; k < add && s->depth < GEN_MAX_DEPTH - 10; k++)
				s->frames[s->depth++] = (int)(bench_rng() % GEN_FUNCS);
		}
		if (bench_rng() % 5 == 0) {
			int n = 3 + (int)(bench_rng() % 6);

			for (int k = 0; k < n; k++)
				s->frames[s->depth++] = GEN_FUNCS + (int)(bench_rng() % GEN_KFUNCS);
		}
	}
	if (grow >= GEN_STACKS)
		grow = GEN_STACKS - 1;
	if (grow >= 0)
		grow = st[grow].frames[st[grow].depth - 1];
	for (int i = 0; i < GEN_STACKS; i++) {
		double w = 1.0 / pow(i + 1, 1.1);

		if (grow >= 0 && st[i].frames[st[i].depth - 1] == grow)
			w *= 2;
		cdf[i] = (sum += w);
	}
	for (int i = 0; i < GEN_STACKS; i++)
		cdf[i] /= sum;

	unlink(path);
	err = store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db);
	if (err) {
		fprintf(stderr, "diff_power: cannot create %s: %s\n", path, store_strerror(err));
		goto out;
	}
	rng_seed(seed);
	for (int64_t k = 0; written < samples; k++) {
		unsigned n = samples - written < per_flush ? (unsigned)(samples - written) : per_flush;

		for (unsigned i = 0; i < n; i++) {
			int lo = (int)bench_pick(cdf, GEN_STACKS, bench_rng_unit());
			keys[i] = (uint32_t)lo * 4 + (uint32_t)(bench_rng() % 4);
		}
		qsort(keys, n, sizeof(*keys), cmp_u32);
		err = store_db__begin(db, t0 + k * FLUSH_S, FLUSH_S);
		for (unsigned i = 0; i < n && !err;) {
			const struct gen_stack *s = &st[keys[i] / 4];
			struct store_frame fr[GEN_MAX_DEPTH];
			char tname[48];
			struct store_labels l = {
				.host = "bench-host",
				.process = progs[s->proc % 4],
				.pid = 2000 + (uint32_t)s->proc,
				.thread = tname,
				.tid = 2000 + (uint32_t)s->proc * 8 + keys[i] % 4,
			};
			unsigned j = i;

			/* Equal (stack, thread) keys in a flush are one row,
			 * counted, as the kernel map gives them. */
			while (j < n && keys[j] == keys[i])
				j++;
			snprintf(tname, sizeof(tname), "%s-%u", progs[s->proc % 4], keys[i] % 4);
			for (int d = 0; d < s->depth; d++) {
				int f = s->frames[d];
				bool kern = f >= GEN_FUNCS;

				fr[d] = (struct store_frame){
					.name = names[f],
					.module = kern ? "[kernel.kallsyms]" : modules[f % GEN_MODULES],
					.offset = (uint64_t)f * 64 + 16,
					.kind = kern ? STORE_FRAME_KERNEL : STORE_FRAME_USER,
				};
			}
			err = store_db__add_stack(db, &l, fr, (size_t)s->depth, j - i);
			i = j;
		}
		if (!err)
			err = store_db__commit(db);
		if (err) {
			fprintf(stderr, "diff_power: writing %s: %s\n", path, store_db__errmsg(db));
			goto out;
		}
		written += n;
	}
	err = store_db__set_meta(db, "command", "diff_power write-db");
out:
	store_db__close(db);
	free(st);
	free(cdf);
	free(keys);
	return err;
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: diff_power simulate --dist FILE --samples N --target NAME [--delta PP]\n"
		"                  [--trials T] [--seed S] [--threshold PP] [--alpha A]\n"
		"                  [--min-samples M] [--raw X[,X...]]\n"
		"       diff_power write-db --out FILE [--samples N] [--hz HZ] [--cpus C]\n"
		"                  [--seed S] [--grow K]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dist", required_argument, NULL, 'd' },
		{ "samples", required_argument, NULL, 'n' },
		{ "target", required_argument, NULL, 'T' },
		{ "delta", required_argument, NULL, 'D' },
		{ "trials", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "threshold", required_argument, NULL, 'x' },
		{ "alpha", required_argument, NULL, 'a' },
		{ "min-samples", required_argument, NULL, 'm' },
		{ "raw", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "hz", required_argument, NULL, 'F' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "grow", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sim_opts o = {
		.samples = 1980, .trials = 1000, .seed = 1,
		.cmp = { .threshold_pp = 1.0, .alpha = 0.05, .min_samples = 10 },
	};
	const char *dist_path = NULL, *out = NULL, *mode;
	unsigned hz = 99, cpus = 4;
	int grow = -1, c, err;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dist_path = optarg; break;
		case 'n': o.samples = strtoull(optarg, NULL, 10); break;
		case 'T': o.target = optarg; break;
		case 'D': o.delta_pp = atof(optarg); break;
		case 't': o.trials = strtoull(optarg, NULL, 10); break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		case 'x': o.cmp.threshold_pp = atof(optarg); break;
		case 'a': o.cmp.alpha = atof(optarg); break;
		case 'm': o.cmp.min_samples = strtoull(optarg, NULL, 10); break;
		case 'r':
			for (char *p = optarg; *p && o.n_raw < MAX_RAW; p += *p == ',') {
				char *end;

				o.raw[o.n_raw++] = strtod(p, &end);
				if (end == p)
					goto bad;
				p = end;
			}
			break;
		case 'o': out = optarg; break;
		case 'F': hz = (unsigned)atoi(optarg); break;
		case 'c': cpus = (unsigned)atoi(optarg); break;
		case 'g': grow = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (!strcmp(mode, "simulate")) {
		struct dist d = {0};

		if (!dist_path || !o.target || !o.samples || !o.trials)
			goto bad;
		err = dist_read(dist_path, &d);
		if (err) {
			fprintf(stderr, "diff_power: cannot read %s: %s\n", dist_path, strerror(-err));
			return 1;
		}
		return simulate(&d, &o) ? 1 : 0;
	}
	if (!strcmp(mode, "write-db")) {
		if (!out || !hz || !cpus || !o.samples)
			goto bad;
		return write_db(out, o.samples, hz, cpus, o.seed, grow) ? 1 : 0;
	}
bad:
	usage(stderr);
	return 2;
}
