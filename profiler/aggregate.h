/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aggregate.h — the stacks buffered between flushes: slow-path samples and
 * DWARF-unwound samples arrive one by one through the ring buffer, and
 * identical ones (same process, thread, cgroup, names, stacks, top-of-stack
 * words and tag) are counted together, so that a flush symbolizes and
 * writes each once. Each stack is copied in; its bytes and those of the
 * slot array are counted (aggregate__bytes), for the bound that makes the
 * session flush early.
 *
 * One thread (the session loop).
 */
#pragma once

#include <stdint.h>

#include "sampler.h"

struct aggregate;

/* Returns 0 and *ret_aggregate, or -ENOMEM. */
int aggregate__new(struct aggregate **ret_aggregate);

/* NULL is fine. */
void aggregate__free(struct aggregate *a);

/* Count smp (copied) with its tag (the caller's: how the user stack was
 * obtained). Returns 0 or -ENOMEM. */
int aggregate__add(struct aggregate *a, const struct sampler_sample *smp, int tag);

/* Hand every buffered stack to fn (in no particular order), then empty
 * the buffer. The samples are valid during the call only. */
void aggregate__drain(struct aggregate *a,
		      void (*fn)(void *ctx, const struct sampler_sample *smp, int tag),
		      void *ctx);

/* Bytes held: the buffered stacks and the slot array. */
uint64_t aggregate__bytes(const struct aggregate *a);
