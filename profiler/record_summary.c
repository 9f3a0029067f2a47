/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_summary.c — the summary `ember record` prints on stderr when it
 * ends: samples and processes, every drop by reason, the events that kept
 * a sample, symbolization and unwinding quality, Python, the files
 * refused, the samples ember diff would need, and failed flushes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "record_summary.h"

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Files of profiled processes the symbolizer would not read, per reason
 * (other users' files: see symbolizer/DESIGN.md), when there were any. */
static void print_refused(const struct session_totals *t)
{
	uint64_t total = 0;
	char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < SYM_REFUSED__COUNT; i++) {
		total += t->sym.refused[i];
		if (t->sym.refused[i])
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
				      sym_refusal_name(i), (unsigned long long)t->sym.refused[i]);
	}
	if (total)
		fprintf(stderr, "ember:   files refused: %llu (%s); their frames keep the "
			"module and offset\n", (unsigned long long)total, buf);
}

/* Debug information found but not read: the files, units and sections per
 * reason, and the frames that lost a name, a line or inlined calls. */
static void print_debug_issues(const struct session_totals *t)
{
	uint64_t frames = 0;
	bool any = false;

	for (int i = 1; i < SYM_DEBUG__COUNT; i++) {
		if (!t->sym.debug_issues[i] && !t->frames_debug[i])
			continue;
		fprintf(stderr, "%s%s %llu", any ? ", " : "ember:   debug info not read: ",
			sym_debug_issue_name(i), (unsigned long long)t->sym.debug_issues[i]);
		frames += t->frames_debug[i];
		any = true;
	}
	if (any)
		fprintf(stderr, " (files, units or sections); %.1f%% of frames (%llu) lost a name, "
			"line or inlined call to it; per binary: ember report --coverage\n",
			pct(frames, t->frames), (unsigned long long)frames);
}

/* The Python processes, when there were any. */
static void print_python(const struct session_python_totals *p)
{
	if (!p->processes && !p->unsupported)
		return;
	fputs("ember:   python: ", stderr);
	if (p->processes) {
		fprintf(stderr, "%llu process%s: %.1f%% of their samples with Python frames "
			"(%llu of %llu), %.1f%% of Python frames named",
			(unsigned long long)p->processes, p->processes == 1 ? "" : "es",
			pct(p->with_python, p->samples), (unsigned long long)p->with_python,
			(unsigned long long)p->samples, pct(p->named, p->frames));
		if (p->stale)
			fprintf(stderr, " (%llu code objects freed before they were read)",
				(unsigned long long)p->stale);
	}
	if (p->unsupported)
		fprintf(stderr, "%s%llu process%s of a Python version Ember does not know "
			"(native stacks only)", p->processes ? "; " : "",
			(unsigned long long)p->unsupported, p->unsupported == 1 ? "" : "es");
	fputs("; per process: ember report --coverage\n", stderr);
}

/* Where the BPF programs found the kernel's types (bpf/DESIGN.md,
 * "Start-up"), and why the cache was not used when it was not. */
static void print_btf(const struct session_totals *t)
{
	static const char *const from[] = {
		[SAMPLER_BTF_KERNEL] = "the kernel's whole BTF",
		[SAMPLER_BTF_CACHED] = "the cached small BTF",
		[SAMPLER_BTF_MADE] = "a small BTF made from the kernel's",
	};
	const char *why = t->btf_refused == -EPERM
				  ? "refused: its directory or entry is another user's, or others may write it"
			: t->btf_refused == -EINVAL ? "refused: an entry damaged, or not this kernel's"
			: t->btf_refused ? strerror(-t->btf_refused) : NULL;

	fprintf(stderr, "ember:   kernel types: %s", from[t->btf_source]);
	if (why)
		fprintf(stderr, " (the BTF cache was not used: %s)", why);
	fputc('\n', stderr);
}

void record_summary__print(const struct record_args *a, const struct session_totals *t,
			   double seconds)
{
	uint64_t dropped = session_dropped(t), recovered = 0;
	char buf[1024];
	size_t n;

	fprintf(stderr, "ember: recorded %.1f s at %u Hz: %llu samples from %llu processes, written to %s\n",
		seconds, a->freq, (unsigned long long)t->samples_seen,
		(unsigned long long)t->processes, a->output);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		if (!sampler_stat_is_drop(i))
			continue;
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
			      sampler_stat_name(i), (unsigned long long)t->sampler[i]);
	}
	n += snprintf(buf + n, sizeof(buf) - n, ", database-write-failed %llu",
		      (unsigned long long)t->samples_lost_store);
	fprintf(stderr, "ember:   dropped %llu samples (%s)\n", (unsigned long long)dropped, buf);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		if (i == SAMPLER_STAT_SAMPLES || sampler_stat_is_drop(i) || !t->sampler[i])
			continue;
		recovered += t->sampler[i];
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu", n ? ", " : "",
			      sampler_stat_name(i), (unsigned long long)t->sampler[i]);
	}
	if (recovered)
		fprintf(stderr, "ember:   events (samples kept): %s\n", buf);
	print_btf(t);

	n = 0;
	buf[0] = '\0';
	for (int i = 0; i < SAMPLER_PATH__COUNT && a->bpf_path_stats; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %llu x %.0f ns", n ? ", " : "",
			      sampler_path_name(i), (unsigned long long)t->path_runs[i],
			      t->path_runs[i] ? (double)t->path_ns[i] / t->path_runs[i] : 0.0);
	if (n)
		fprintf(stderr, "ember:   BPF per-sample parts (runs x mean): %s\n", buf);

	fprintf(stderr, "ember:   user stacks: %.1f%% of samples from user processes; "
		"frames symbolized: %.1f%% (%llu of %llu)",
		pct(t->samples_with_ustack, t->samples_user_task),
		pct(t->frames_resolved, t->frames),
		(unsigned long long)t->frames_resolved, (unsigned long long)t->frames);
	if (t->sym.cache_hits || t->sym.cache_writes || t->sym.cache_errors)
		fprintf(stderr, "; symbolizer cache: %llu read, %llu written, %llu failed",
			(unsigned long long)t->sym.cache_hits,
			(unsigned long long)t->sym.cache_writes,
			(unsigned long long)t->sym.cache_errors);
	fputc('\n', stderr);
	print_debug_issues(t);
	fprintf(stderr, "ember:   unwinding (%s): %.1f%% of user stacks reach their root frame",
		a->unwind == SAMPLER_UNWIND_FP ? "fp" : a->unwind == SAMPLER_UNWIND_DWARF ? "dwarf" : "auto",
		pct(t->ustack_complete, t->samples_with_ustack));
	if (t->dwarf_samples) {
		fprintf(stderr, "; %llu samples unwound with DWARF (%.1f us, %.0f stack bytes each)",
			(unsigned long long)t->dwarf_samples,
			t->unwind_ns / 1e3 / t->dwarf_samples,
			(double)t->unwind_bytes / t->dwarf_samples);
		for (int i = 1; i < SYM_UNWIND__COUNT; i++)
			if (t->unwind_end[i])
				fprintf(stderr, ", %s %llu", sym_unwind_end_name(i),
					(unsigned long long)t->unwind_end[i]);
	}
	if (t->sym.unwind_unserved)
		fprintf(stderr, "; %llu reads of the unwinder outside the stack copy and the "
			"mapped files not served", (unsigned long long)t->sym.unwind_unserved);
	if (t->leaf_repairs)
		fprintf(stderr, "; %llu frameless leaves given their caller",
			(unsigned long long)t->leaf_repairs);
	if (t->auto_fp_kept_dwarf)
		fprintf(stderr, "; %llu processes with frame pointers unwound with DWARF "
			"(their stacks pass through code without them)",
			(unsigned long long)t->auto_fp_kept_dwarf);
	fputc('\n', stderr);
	print_python(&t->python);
	if (a->command) {
		/* 95% power after a correction for ~10 tests (Holm's first
		 * step): bench/diff-power finds this close to what ember diff
		 * needs on real profiles. */
		uint64_t n50 = cmp_samples_needed(0.5 - a->threshold_pp / 200, a->threshold_pp, 0.005, 0.95);
		uint64_t n10 = cmp_samples_needed(0.1, a->threshold_pp, 0.005, 0.95);

		fprintf(stderr, "ember:   to detect a %.2g-point change with ember diff (95%% power): "
			"~%llu samples per side for a function near 10%% of the "
			"profile, ~%llu near 50%%; this recording has %llu%s\n",
			a->threshold_pp, (unsigned long long)n10, (unsigned long long)n50,
			(unsigned long long)t->samples_seen,
			t->samples_seen < n10 ? " (use --repeat or a longer run)" : "");
	}
	print_refused(t);
	if (t->flush_errors)
		fprintf(stderr, "ember:   %llu of %llu flushes failed to write (%llu samples lost); "
			"%s\n", (unsigned long long)t->flush_errors, (unsigned long long)t->flushes,
			(unsigned long long)t->samples_lost_store,
			t->write_failing ? "writing had not resumed at the end" :
			"writing resumed after them, the lost samples are counted in the file");
}
