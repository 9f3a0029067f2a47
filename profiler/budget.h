/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget.h — the agent's memory budget (`--memory`): keeps the resident
 * size under a limit by unloading the symbolizer's least recently used
 * binaries, also in the middle of a flush that symbolizes hundreds of new
 * binaries. The resident size is compared with the limit every 250 ms
 * (budget__check, from the loop) and every 64 stacks a flush writes
 * (budget__stack). Above it, binaries are unloaded until the excess and an
 * eighth of the limit are freed (so the next check does not trim again at
 * once), never below an eighth of the limit, and freed memory goes back to
 * the system (malloc_trim). While trims do not bring the resident size
 * under the limit (what is left is not the symbolizer's), checks back off
 * up to the flush interval: reloading the same binaries every quarter
 * second would cost the CPU and the cadence without freeing anything.
 * Safe at any time: snapshots and frame strings stay, and unloaded
 * binaries are read again from their kept files when needed.
 *
 * One thread (the session loop).
 */
#pragma once

#include <stdint.h>

#include "symbolizer.h"

struct budget;

/* A budget of limit resident bytes (0: none, every call does nothing),
 * backing off up to flush_seconds. Returns 0 and *ret_budget or -ENOMEM. */
int budget__new(uint64_t limit, unsigned flush_seconds, struct budget **ret_budget);

/* NULL is fine. */
void budget__free(struct budget *b);

/* Compare the resident size with the limit when a check is due, and trim
 * sym's binaries when it is above. */
void budget__check(struct budget *b, struct sym_session *sym);

/* A stack was written: budget__check() every 64 stacks. */
void budget__stack(struct budget *b, struct sym_session *sym);

/* Times the limit was passed and binaries were unloaded. */
uint64_t budget__trims(const struct budget *b);
