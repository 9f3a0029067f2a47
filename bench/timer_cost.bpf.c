/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * timer_cost.bpf.c — measures what one profiler sample costs the kernel, the
 * same way for every profiler (bench/sampler-overhead). perf, bpftrace and
 * Ember all sample with cpu-clock perf events, which fire from an hrtimer
 * whose function is perf_swevent_hrtimer; everything a profiler does per
 * sample in the kernel (perf's ring-buffer write and callchain, a BPF
 * program's stack walks and map updates) runs inside that callback. So the
 * time from tp_btf/hrtimer_expire_entry to tp_btf/hrtimer_expire_exit for
 * those hrtimers is the kernel cost of a sample.
 *
 * Per CPU: count, sum, max, a log-linear histogram (timer_cost.h), and the
 * time of the first expiry (the bench uses it as "the profiler is sampling").
 * The loader reads and resets the per-CPU record between runs.
 *
 * owner_tgid, when set, keeps only the hrtimers of perf events owned by that
 * process (the hrtimer is embedded in its struct perf_event, whose owner is
 * the task that opened it; an inherited event counts as its parent's), so
 * another profiler running on the machine at the same time is counted apart
 * (foreign) instead of in the figures.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "timer_cost.h"

/* Address of perf_swevent_hrtimer, from /proc/kallsyms; set before load. */
const volatile __u64 perf_hrtimer_fn = 0;

/* Process whose perf events are measured; 0 = every one. Not a const
 * volatile tunable: the loader changes it between runs, through the
 * mmapped .bss. */
__u32 owner_tgid = 0;

struct timer_cost_start {
	__u64 timer;
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct timer_cost_start);
	__uint(max_entries, 1);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct timer_cost_stats);
	__uint(max_entries, 1);
} stats SEC(".maps");

/* Index of the highest set bit of v (v > 0), without loops. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* The tgid of the process that opened the perf event the hrtimer belongs to
 * (0 when the kernel owns it). An event the kernel cloned for a new thread
 * or child of a profiled task (attr.inherit, as `perf record -- CMD` uses)
 * has no owner of its own: it belongs to whoever opened its parent. */
static __always_inline __u32 event_owner_tgid(struct hrtimer *timer)
{
	struct perf_event *event, *parent;
	struct task_struct *owner;

	event = (void *)timer - (bpf_core_field_offset(struct perf_event, hw) +
				 bpf_core_field_offset(struct hw_perf_event, hrtimer));
	owner = BPF_CORE_READ(event, owner);
	if (!owner) {
		parent = BPF_CORE_READ(event, parent);
		if (parent)
			owner = BPF_CORE_READ(parent, owner);
	}
	if (!owner)
		return 0;
	return BPF_CORE_READ(owner, tgid);
}

/* Is this expiry one to measure? Counts the ones filtered out by owner. */
static __always_inline bool measured(struct hrtimer *timer,
				     struct timer_cost_stats *s, bool entry)
{
	__u32 want = owner_tgid;

	if ((__u64)timer->function != perf_hrtimer_fn)
		return false;
	if (want && event_owner_tgid(timer) != want) {
		if (entry)
			s->foreign++;
		return false;
	}
	return true;
}

static __always_inline __u32 bucket_of(__u64 ns)
{
	__u32 k;

	if (ns < TC_SUB)
		return ns;
	k = log2_u64(ns);
	return (k - TC_SUB_BITS + 1) * TC_SUB +
	       ((ns >> (k - TC_SUB_BITS)) & (TC_SUB - 1));
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(on_expire_entry, struct hrtimer *timer, ktime_t *now)
{
	struct timer_cost_start *st;
	struct timer_cost_stats *s;
	__u32 zero = 0;
	__u64 ts;

	if ((__u64)timer->function != perf_hrtimer_fn)
		return 0;
	st = bpf_map_lookup_elem(&starts, &zero);
	s = bpf_map_lookup_elem(&stats, &zero);
	if (!st || !s || !measured(timer, s, true))
		return 0;
	ts = bpf_ktime_get_ns();
	if (!s->first_ns)
		s->first_ns = ts;
	s->last_ns = ts;
	st->timer = (__u64)timer;
	/* Last, so the measured time starts as late as possible. */
	st->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(on_expire_exit, struct hrtimer *timer)
{
	__u64 ts = bpf_ktime_get_ns(), d;
	struct timer_cost_start *st;
	struct timer_cost_stats *s;
	__u32 zero = 0, b;

	if ((__u64)timer->function != perf_hrtimer_fn)
		return 0;
	st = bpf_map_lookup_elem(&starts, &zero);
	s = bpf_map_lookup_elem(&stats, &zero);
	if (!st || !s || !measured(timer, s, false))
		return 0;
	if (st->timer != (__u64)timer || !st->ts || ts < st->ts) {
		/* Attached between an entry and its exit, or a reset. */
		s->unmatched++;
		st->ts = 0;
		return 0;
	}
	d = ts - st->ts;
	st->ts = 0;
	s->count++;
	s->sum_ns += d;
	if (d > s->max_ns)
		s->max_ns = d;
	b = bucket_of(d);
	if (b < TC_BUCKETS)
		s->hist[b]++;
	return 0;
}

/* GPL-2.0-only OR Apache-2.0: the kernel checks the GPL side (see
 * bpf/profile.bpf.c). */
char LICENSE[] SEC("license") = "GPL";
