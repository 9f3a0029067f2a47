/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timer_cost.c — loader for timer_cost.bpf.c, the benchmark's per-sample
 * kernel cost meter. It finds perf_swevent_hrtimer in /proc/kallsyms, loads
 * and attaches the two tp_btf programs, and reports the time spent in each
 * perf sampling hrtimer callback: count, mean, p50, p90, p99 and max in
 * nanoseconds, summed over CPUs, plus when the first one fired.
 *
 * Two ways to run it:
 *   timer_cost [--duration S]   measure for S seconds (or until Ctrl-C) and
 *                               print a summary for people
 *   timer_cost --control        for bench/sampler-overhead: print "ready"
 *                               once attached, then answer commands read
 *                               from stdin, one a line:
 *                                 reset  zero the counters; answers "ok"
 *                                 owner PID  measure only the perf events
 *                                        that process opens (0 = all;
 *                                        the others count as "foreign");
 *                                        answers "ok"
 *                                 read   one JSON line with the figures
 *                                 quit   exit (so does end of input)
 *
 * Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns), the clock
 * Python's time.monotonic_ns() reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "timer_cost.h"
#include "timer_cost.skel.h"

struct timer_cost_summary {
	uint64_t count, sum_ns, max_ns, first_ns, last_ns, unmatched, foreign;
	uint64_t p50_ns, p90_ns, p99_ns;
	uint64_t hist[TC_BUCKETS];
	unsigned ncpus;
	uint64_t *cpu_count;    /* ncpus entries */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/*
 * Find the address of symbol name in /proc/kallsyms. Returns 0 and
 * *ret_addr, -ENOENT when absent, -EPERM when addresses are hidden
 * (kptr_restrict; run as root), or -errno from opening the file.
 */
static int kallsyms_lookup(const char *name, uint64_t *ret_addr)
{
	char line[512], sym[256], type;
	unsigned long long addr;
	FILE *f;
	int r = -ENOENT;

	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (strcmp(sym, name))
			continue;
		if (addr == 0) {
			r = -EPERM;
			break;
		}
		*ret_addr = addr;
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

/* Midpoint of histogram bucket b, in ns (see timer_cost.h). */
static uint64_t bucket_mid(unsigned b)
{
	unsigned shift;

	if (b < TC_SUB)
		return b;
	shift = b / TC_SUB - 1;
	return ((uint64_t)(TC_SUB + b % TC_SUB) << shift) +
	       ((1ULL << shift) >> 1);
}

static uint64_t percentile(const struct timer_cost_summary *s, double p)
{
	uint64_t want = (uint64_t)(p * (double)s->count + 0.999999), seen = 0;

	if (!s->count)
		return 0;
	if (!want)
		want = 1;
	for (unsigned b = 0; b < TC_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= want)
			return bucket_mid(b);
	}
	return s->max_ns;
}

/* Read every CPU's record into *s (whose cpu_count is allocated). */
static int summary_read(struct timer_cost_bpf *skel, struct timer_cost_summary *s)
{
	uint64_t *cpu_count = s->cpu_count;
	unsigned ncpus = s->ncpus;
	struct timer_cost_stats *all;
	uint32_t key = 0;
	int r;

	all = calloc(ncpus, sizeof(*all));
	if (!all)
		return -ENOMEM;
	r = bpf_map__lookup_elem(skel->maps.stats, &key, sizeof(key), all,
				 ncpus * sizeof(*all), 0);
	if (r < 0)
		goto out;
	memset(s, 0, sizeof(*s));
	s->ncpus = ncpus;
	s->cpu_count = cpu_count;
	for (unsigned c = 0; c < ncpus; c++) {
		const struct timer_cost_stats *t = &all[c];

		s->count += t->count;
		s->sum_ns += t->sum_ns;
		s->unmatched += t->unmatched;
		s->foreign += t->foreign;
		if (t->max_ns > s->max_ns)
			s->max_ns = t->max_ns;
		if (t->first_ns && (!s->first_ns || t->first_ns < s->first_ns))
			s->first_ns = t->first_ns;
		if (t->last_ns > s->last_ns)
			s->last_ns = t->last_ns;
		for (unsigned b = 0; b < TC_BUCKETS; b++)
			s->hist[b] += t->hist[b];
		cpu_count[c] = t->count;
	}
	s->p50_ns = percentile(s, 0.50);
	s->p90_ns = percentile(s, 0.90);
	s->p99_ns = percentile(s, 0.99);
	r = 0;
out:
	free(all);
	return r;
}

static int summary_reset(struct timer_cost_bpf *skel, unsigned ncpus)
{
	struct timer_cost_stats *zero;
	uint32_t key = 0;
	int r;

	zero = calloc(ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	r = bpf_map__update_elem(skel->maps.stats, &key, sizeof(key), zero,
				 ncpus * sizeof(*zero), BPF_ANY);
	free(zero);
	return r;
}

static double mean_ns(const struct timer_cost_summary *s)
{
	return s->count ? (double)s->sum_ns / (double)s->count : 0.0;
}

static void summary_print_json(const struct timer_cost_summary *s)
{
	printf("{\"count\":%" PRIu64 ",\"sum_ns\":%" PRIu64
	       ",\"mean_ns\":%.1f,\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64
	       ",\"p99_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64
	       ",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64
	       ",\"unmatched\":%" PRIu64 ",\"foreign\":%" PRIu64
	       ",\"cpu_count\":[",
	       s->count, s->sum_ns, mean_ns(s), s->p50_ns, s->p90_ns,
	       s->p99_ns, s->max_ns, s->first_ns, s->last_ns, s->unmatched,
	       s->foreign);
	for (unsigned c = 0; c < s->ncpus; c++)
		printf("%s%" PRIu64, c ? "," : "", s->cpu_count[c]);
	printf("]}\n");
	fflush(stdout);
}

static void summary_print_human(const struct timer_cost_summary *s)
{
	printf("perf sampling hrtimer expiries: %" PRIu64 "\n", s->count);
	if (!s->count) {
		printf("(none: is a profiler sampling with cpu-clock?)\n");
		return;
	}
	printf("kernel cost per sample: mean %.0f ns, p50 %" PRIu64
	       " ns, p90 %" PRIu64 " ns, p99 %" PRIu64 " ns, max %" PRIu64
	       " ns\n", mean_ns(s), s->p50_ns, s->p90_ns, s->p99_ns,
	       s->max_ns);
	for (unsigned c = 0; c < s->ncpus; c++)
		if (s->cpu_count[c])
			printf("  cpu %u: %" PRIu64 " samples\n", c,
			       s->cpu_count[c]);
}

/* Answer commands on stdin until "quit" or end of input. */
static int run_control(struct timer_cost_bpf *skel, struct timer_cost_summary *s)
{
	char line[64];
	int r;

	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, "reset")) {
			r = summary_reset(skel, s->ncpus);
			if (r < 0)
				return r;
			printf("ok\n");
			fflush(stdout);
		} else if (!strcmp(line, "read")) {
			r = summary_read(skel, s);
			if (r < 0)
				return r;
			summary_print_json(s);
		} else if (!strncmp(line, "owner ", 6)) {
			char *end;
			unsigned long pid = strtoul(line + 6, &end, 10);

			if (*end || end == line + 6 || pid > UINT32_MAX) {
				printf("error bad pid\n");
			} else {
				/* The programs read it on their next run. */
				skel->bss->owner_tgid = pid;
				printf("ok\n");
			}
			fflush(stdout);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			printf("error unknown command\n");
			fflush(stdout);
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: timer_cost [--duration S] [--fn-addr HEX] [--control]\n"
		   "  Measures the kernel time of each perf sampling hrtimer\n"
		   "  callback (the cost of one profiler sample). Needs root.\n");
}

int main(int argc, char **argv)
{
	struct timer_cost_bpf *skel = NULL;
	struct timer_cost_summary *s = NULL;
	unsigned long duration = 0;
	uint64_t fn_addr = 0;
	bool control = false;
	int r, ncpus;
	char *end;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--control")) {
			control = true;
		} else if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
			duration = strtoul(argv[++i], &end, 10);
			if (*end || !duration)
				goto bad;
		} else if (!strcmp(argv[i], "--fn-addr") && i + 1 < argc) {
			fn_addr = strtoull(argv[++i], &end, 16);
			if (*end || !fn_addr)
				goto bad;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}

	if (!fn_addr) {
		r = kallsyms_lookup("perf_swevent_hrtimer", &fn_addr);
		if (r < 0) {
			fprintf(stderr, "timer_cost: finding perf_swevent_hrtimer in /proc/kallsyms: %s%s\n",
				strerror(-r), r == -EPERM ? " (addresses hidden: run as root)" : "");
			return 1;
		}
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		fprintf(stderr, "timer_cost: counting CPUs: %s\n", strerror(-ncpus));
		return 1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->cpu_count = calloc(ncpus, sizeof(uint64_t)))) {
		fprintf(stderr, "timer_cost: out of memory\n");
		r = -ENOMEM;
		goto out;
	}
	s->ncpus = ncpus;

	skel = timer_cost_bpf__open();
	if (!skel) {
		r = -errno;
		fprintf(stderr, "timer_cost: opening the BPF object: %s\n", strerror(-r));
		goto out;
	}
	skel->rodata->perf_hrtimer_fn = fn_addr;
	r = timer_cost_bpf__load(skel);
	if (r < 0) {
		fprintf(stderr, "timer_cost: loading the BPF programs: %s (root? kernel BTF?)\n",
			strerror(-r));
		goto out;
	}
	r = timer_cost_bpf__attach(skel);
	if (r < 0) {
		fprintf(stderr, "timer_cost: attaching to tp_btf/hrtimer_expire_*: %s\n",
			strerror(-r));
		goto out;
	}

	if (control) {
		signal(SIGINT, SIG_IGN); /* the bench ends us with "quit" */
		r = run_control(skel, s);
		if (r < 0)
			fprintf(stderr, "timer_cost: reading the BPF map: %s\n", strerror(-r));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "timer_cost: measuring %s\n",
		duration ? "for the given duration" : "until Ctrl-C");
	for (unsigned long t = 0; !stop && (!duration || t < duration); t++)
		sleep(1);
	r = summary_read(skel, s);
	if (r < 0) {
		fprintf(stderr, "timer_cost: reading the BPF map: %s\n", strerror(-r));
		goto out;
	}
	summary_print_human(s);
out:
	timer_cost_bpf__destroy(skel);
	if (s)
		free(s->cpu_count);
	free(s);
	return r < 0 ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
