/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timer_cost.h — the ABI shared by timer_cost.bpf.c (kernel side) and
 * timer_cost.c (its loader): the per-CPU statistics record and the layout of
 * its latency histogram. Fixed-width types only.
 *
 * The histogram is log-linear: values below 16 ns have a bucket each; above,
 * every power of two is split into 16 equal buckets, so a bucket is at most
 * 1/16 (6.25 %) of its value wide.
 */
#ifndef EMBER_TIMER_COST_H
#define EMBER_TIMER_COST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TC_SUB_BITS 4
#define TC_SUB (1 << TC_SUB_BITS)
#define TC_BUCKETS (64 * TC_SUB)

/* One per CPU: the perf sampling hrtimer expiries seen on that CPU. */
struct timer_cost_stats {
	__u64 count;          /* expiries measured (entry and exit seen) */
	__u64 sum_ns;         /* sum of entry -> exit times */
	__u64 max_ns;
	__u64 first_ns;       /* CLOCK_MONOTONIC of the first entry; 0 = none */
	__u64 last_ns;        /* CLOCK_MONOTONIC of the last entry */
	__u64 unmatched;      /* exits without a matching entry */
	__u64 foreign;        /* expiries of events another process owns
	                         (only counted while owner_tgid is set) */
	__u64 hist[TC_BUCKETS];
};

#endif
