/* SPDX-License-Identifier: Apache-2.0 */
/*
 * young.c — snapshots of announced processes and re-reads of the young
 * ones (see young.h).
 */
#include "young.h"

#include <errno.h>
#include <stdlib.h>

#include "common.h"

/* How long a process counts as young once sampled ... */
#define YOUNG_NS (300ULL * 1000000ULL)
/* ... and how long one that has not been sampled is (re-read at 5 and 10
 * ms: ld.so has mapped the libraries of most programs by then). */
#define YOUNG_EXEC_NS (15ULL * 1000000ULL)
/* The first re-read, and the shortest interval between two. */
#define YOUNG_REFRESH_NS (5ULL * 1000000ULL)
/* The loop wakes this long after the first re-read is due, to do those
 * due by then together: processes started together (a pipeline, a
 * parallel build) share one wake-up. */
#define YOUNG_SLACK_NS (2ULL * 1000000ULL)
#define MAX_YOUNG 256

struct young_process {
	uint32_t tgid;
	uint64_t first_ns, last_ns;
	bool sampled; /* announced by a sample, not only by its exec */
};

struct young {
	struct young_process list[MAX_YOUNG];
	size_t n;
	uint64_t due_ns; /* the next re-read; UINT64_MAX: none */
};

int young__new(struct young **ret_young)
{
	struct young *y = calloc(1, sizeof(*y));

	if (!y)
		return -ENOMEM;
	y->due_ns = UINT64_MAX;
	*ret_young = y;
	return 0;
}

void young__free(struct young *y)
{
	free(y);
}

void young__reset(struct young *y)
{
	y->n = 0;
	y->due_ns = UINT64_MAX;
}

bool young__seen(struct young *y, struct sym_session *sym, uint32_t tgid, bool exec)
{
	uint64_t now = common_now_ns();
	bool listed;
	size_t i;

	for (i = 0; i < y->n && y->list[i].tgid != tgid; i++)
		;
	/* Listed already, or room to list it. */
	listed = i < y->n || y->n < MAX_YOUNG;
	/* Snapshot a sampled process now: it may be gone by the next flush.
	 * Failure (already exited) shows up later as unresolved frames. A
	 * young process is watched: its maps file stays open for the
	 * re-reads (after an exec, a new one). An exec waits for its first
	 * re-read. */
	if (!listed)
		sym_session__note_process(sym, tgid);
	else if (!exec)
		sym_session__refresh_process(sym, tgid);
	/* ... and again while it is young, unless that snapshot holds what
	 * the earlier processes of its executable mapped: later libraries
	 * (dlopen) are read when an address misses, as for an old process. */
	if (listed && !exec && sym_session__settled_process(sym, tgid, false)) {
		sym_session__unwatch_process(sym, tgid);
		if (i < y->n)
			y->list[i] = y->list[--y->n];
		return false;
	}
	if (!listed)
		return false;
	y->due_ns = MIN(y->due_ns, now + YOUNG_REFRESH_NS);
	if (i == y->n)
		y->list[y->n++] = (struct young_process){ tgid, now, now, !exec };
	else if (exec)
		y->list[i] = (struct young_process){ tgid, now, now, false };
	else
		y->list[i].sampled = true;
	return true;
}

void young__exit(struct young *y, struct sym_session *sym, uint32_t tgid)
{
	for (size_t i = 0; i < y->n; i++)
		if (y->list[i].tgid == tgid) {
			sym_session__unwatch_process(sym, tgid);
			y->list[i] = y->list[--y->n];
			return;
		}
}

/* When young process p is next due for a re-read. */
static uint64_t next_due(const struct young_process *p)
{
	/* Every 5 ms at first, then as often as the process is old (5, 10,
	 * 20, 40... ms): ld.so maps the libraries in the first milliseconds;
	 * a re-read every 5 ms for 300 ms of each of 40 new processes a
	 * second was most of the agent's CPU. */
	return p->last_ns + MAX(YOUNG_REFRESH_NS, p->last_ns - p->first_ns);
}

/*
 * Without the early re-reads a short process sampled before its
 * announcement was handled kept a snapshot without its libraries (a third
 * of the churn's user stacks lost their leaf); re-reading every process of
 * the churn for 300 ms was most of the agent's CPU there. A process stays
 * listed until it is old (a sample may still make it young for longer),
 * but its maps file is closed once no re-read is due before then.
 */
void young__refresh(struct young *y, struct sym_session *sym,
		    void (*reread)(void *ctx, uint32_t tgid), void *ctx)
{
	uint64_t now = common_now_ns(), next = UINT64_MAX;
	size_t n = 0;

	for (size_t i = 0; i < y->n; i++) {
		struct young_process p = y->list[i];
		uint64_t old_at = p.first_ns + (p.sampled ? YOUNG_NS : YOUNG_EXEC_NS);

		if (now > old_at) {
			sym_session__unwatch_process(sym, p.tgid);
			continue;
		}
		if (now >= next_due(&p)) {
			bool last, settled;

			/* Announced by its exec, of an executable whose earlier
			 * processes settled: not read before its first sample
			 * (a stat of its executable, no snapshot). */
			if (!p.sampled && p.last_ns == p.first_ns &&
			    sym_session__exec_settled(sym, p.tgid))
				continue;
			p.last_ns = now;
			if (sym_session__refresh_process(sym, p.tgid) == -ESRCH)
				continue;
			if (reread)
				reread(ctx, p.tgid);
			last = next_due(&p) > old_at;
			/* One only announced by its exec, of an executable
			 * seen before, is read once when it maps what the
			 * earlier ones did (a sample makes it young again):
			 * then it leaves the list. */
			settled = !p.sampled && sym_session__settled_process(sym, p.tgid, last);
			if (last || settled)
				sym_session__unwatch_process(sym, p.tgid);
			if (settled && !last)
				continue;
		}
		if (next_due(&p) <= old_at)
			next = MIN(next, next_due(&p));
		y->list[n++] = p;
	}
	y->n = n;
	y->due_ns = next;
}

int young__timeout_ms(const struct young *y, uint64_t now_ns, int timeout_ms)
{
	uint64_t due, wait;
	int ms;

	/* Only when a re-read is due: under churn, a 5 ms poll whenever any
	 * process is young wakes the loop 76 times a second, against 60. */
	if (y->due_ns == UINT64_MAX)
		return timeout_ms;
	due = y->due_ns + YOUNG_SLACK_NS;
	wait = due > now_ns ? due - now_ns : 0;
	ms = (int)((wait + 999999) / 1000000);
	return MIN(timeout_ms, ms);
}
