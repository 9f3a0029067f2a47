/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unwind_auto.h — the `--unwind auto` policy: for each process, whether
 * the kernel walks its user stacks by frame pointers or user space unwinds
 * a copy of its stack with DWARF CFI.
 *
 * What it decides, from what: a process whose executable keeps no frame
 * pointers (by its CFI, sym_session__exe) is unwound with DWARF. One whose
 * executable keeps them starts on probation, unwound with DWARF for
 * PROBATION_SAMPLES samples; it goes to frame pointers unless more than
 * PROBATION_NOFP_PCT % of those stacks pass through code without frame
 * pointers below their root (libc's qsort calling the program's
 * comparator), where the kernel's walk goes wrong. Later, a frame-pointer
 * process whose stacks start being cut short in such code (more than
 * PROBATION_NOFP_PCT % of a flush's samples, and at least two) goes to
 * DWARF at the end of that flush. A process that exits too soon to decide
 * adds its probation's samples to its file's pool, which decides by the
 * same rule once it holds PROBATION_MIN_SAMPLES. Each choice is kept for the executable
 * file (dev, inode), so a process of a file already judged gets its
 * file's choice at once, and the kernel gives it to later execs of the
 * file before their first sample.
 *
 * What it guarantees: every process it is told of gets a mode in the
 * sampler (sampler__set_unwind), unless the symbolizer cannot read its
 * executable: then the kernel's choice for a process without one, DWARF,
 * holds. A DWARF stack of a process whose executable keeps frame pointers
 * ends where the kernel's walk would (ustack_is_fp_root), so one process
 * never shows two roots. The counts: fp, probations ended on frame
 * pointers; kept_dwarf, probations ended on DWARF and processes switched
 * to DWARF after a flush whose file was not already so decided. Bounded:
 * at most MAX_PROBATION processes on probation at once (beyond, a process
 * goes straight to frame pointers), MAX_FP_WATCH frame-pointer processes
 * watched per flush, one entry per executable file judged.
 *
 * The session calls it from its one thread, only in `--unwind auto` mode.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"
#include "symbolizer.h"

struct unwind_auto;

/* A policy that sets modes in sampler (borrowed: must outlive it).
 * Returns 0 and *ret_policy, or -ENOMEM. */
int unwind_auto__new(struct sampler *sampler, struct unwind_auto **ret_policy);

/* NULL is fine. */
void unwind_auto__free(struct unwind_auto *a);

/* A process was announced (its first sample, or an exec: exec = true):
 * choose its mode. known: an exec whose executable was decided before,
 * and whose choice the kernel gave the process (nothing to choose). An
 * executable judged before is known by its file (a stat of
 * /proc/PID/exe); only one never judged is snapshotted in sym (now, when
 * it is not yet) for its CFI. */
void unwind_auto__process(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
			  bool exec, bool known);

/*
 * A DWARF-unwound user stack of tgid (ips leaf first, n addresses, ended
 * as end): counted for the process's probation, which it may end. Returns
 * how many addresses to keep: n, or fewer for a stack that reached its
 * root in a process whose executable keeps frame pointers (cut where the
 * kernel's walk ends).
 */
size_t unwind_auto__dwarf_stack(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
				const uint64_t *ips, size_t n, enum sym_unwind_end end);

/* A frame-pointer stack of tgid written in the open flush (uips leaf
 * first, its frameless leaf's caller repaired; complete: it reached a
 * root frame), seen count times. */
void unwind_auto__fp_stack(struct unwind_auto *a, struct sym_session *sym, uint32_t tgid,
			   const uint64_t *uips, size_t n, bool complete, uint64_t count);

/* The flush's stacks are all written: switch the frame-pointer processes
 * whose stacks were cut in code without frame pointers to DWARF. */
void unwind_auto__flush(struct unwind_auto *a, struct sym_session *sym);

/* tgid exited: a probation it was on decides for its file when it had
 * enough samples, or when its file's pool, with them, has. */
void unwind_auto__exit(struct unwind_auto *a, uint32_t tgid);

/* Processes of executables with frame pointers sent to frame pointers
 * after their probation, and those kept on (or sent back to) DWARF. */
void unwind_auto__counts(const struct unwind_auto *a, uint64_t *ret_fp,
			 uint64_t *ret_kept_dwarf);
