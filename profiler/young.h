/* SPDX-License-Identifier: Apache-2.0 */
/*
 * young.h — snapshots of processes as the sampler announces them, and
 * re-reads of the young ones. A process announced at exec, or at a first
 * sample taken while ld.so was still at work, has a snapshot without its
 * libraries, and a ~30 ms process is gone before the next flush could
 * read it again. So a process announced by a sample is snapshotted at
 * once, one announced by its exec 5 ms after the loop reads the exec, and,
 * while it is young, re-read every few milliseconds (5, 10, 20, 40... ms): for
 * YOUNG_NS once sampled, YOUNG_EXEC_NS when it was only announced at its
 * exec (most processes of a busy host's churn are never sampled, and one
 * that exits first is never read: young__exit(); nor is one that runs an
 * executable whose earlier processes settled, until its first sample). A young
 * process's maps file stays open for its re-reads (the symbolizer's
 * watch), and is closed once no re-read is due before it is old. At most
 * MAX_YOUNG processes are young at a time; beyond, a process is only
 * snapshotted.
 *
 * One thread (the session loop), which must wake for the next re-read
 * even when the sampler is quiet: young__timeout_ms().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "symbolizer.h"

struct young;

/* Returns 0 and *ret_young, or -ENOMEM. */
int young__new(struct young **ret_young);

/* NULL is fine. */
void young__free(struct young *y);

/* tgid was announced (its first sample, or an exec: exec = true): list it
 * for re-reads while it is young, and snapshot it in sym now, unless it
 * was announced by its exec: its first read is then due 5 ms later (an
 * exec is read up to 50 ms late, and most processes of a churn exit
 * before they are sampled: young__exit() forgets them unread). A sampled
 * process whose snapshot is settled (sym_session__settled_process) is not
 * listed; an exec'd one whose executable's processes settled
 * (sym_session__exec_settled) is dropped at its first re-read, unread.
 * Returns whether it is listed (false: no room, or settled: only
 * snapshotted). */
bool young__seen(struct young *y, struct sym_session *sym, uint32_t tgid, bool exec);

/* tgid exited: no more re-reads. */
void young__exit(struct young *y, struct sym_session *sym, uint32_t tgid);

/* Re-read in sym the young processes that are due, calling reread(ctx,
 * tgid) after each (NULL: none); forget the old ones and those that are
 * gone. */
void young__refresh(struct young *y, struct sym_session *sym,
		    void (*reread)(void *ctx, uint32_t tgid), void *ctx);

/* timeout_ms, or less: how long the loop may wait from now_ns before the
 * next re-read is due (with a little slack, so processes started together
 * share one wake-up). */
int young__timeout_ms(const struct young *y, uint64_t now_ns, int timeout_ms);

/* Forget every young process (their symbolizer session is replaced). */
void young__reset(struct young *y);
