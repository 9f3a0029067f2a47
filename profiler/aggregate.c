/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aggregate.c — stacks buffered between flushes, counted together when
 * identical (see aggregate.h): an open-addressing table of copied stacks,
 * at most half full.
 */
#include "aggregate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Slot arrays up to this size are kept for the next interval; a burst's
 * bigger array goes back to the system. */
#define AGG_KEEP_SLOTS 4096

struct agg_entry {
	uint64_t hash;
	struct sampler_sample smp;
	int tag;
	char comm[17], pcomm[17];
	uint64_t ips[];        /* n_kips kernel, then n_uips user */
};

struct aggregate {
	struct agg_entry **slots;  /* NULL = free */
	size_t cap, n;
	uint64_t bytes;
};

int aggregate__new(struct aggregate **ret_aggregate)
{
	struct aggregate *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	*ret_aggregate = a;
	return 0;
}

static uint64_t sample_hash(const struct sampler_sample *smp, int tag)
{
	uint64_t h = COMMON_HASH_SEED;

	h = common_hash(h, &smp->tgid, sizeof(smp->tgid));
	h = common_hash(h, &smp->tid, sizeof(smp->tid));
	h = common_hash(h, &smp->cgroup_id, sizeof(smp->cgroup_id));
	h = common_hash(h, &tag, sizeof(tag));
	h = common_hash(h, smp->comm, strlen(smp->comm));
	h = common_hash(h, smp->pcomm, strlen(smp->pcomm));
	h = common_hash(h, &smp->n_kips, sizeof(smp->n_kips));
	h = common_hash(h, smp->kips, smp->n_kips * sizeof(uint64_t));
	h = common_hash(h, &smp->n_uips, sizeof(smp->n_uips));
	h = common_hash(h, smp->uips, smp->n_uips * sizeof(uint64_t));
	h = common_hash(h, smp->top_ra, sizeof(smp->top_ra));
	h = common_hash(h, &smp->n_py, sizeof(smp->n_py));
	h = common_hash(h, smp->py, smp->n_py * sizeof(*smp->py));
	return h;
}

static bool entry_equal(const struct agg_entry *e, uint64_t hash,
			const struct sampler_sample *smp, int tag)
{
	const struct sampler_sample *a = &e->smp;

	return e->hash == hash && e->tag == tag && a->tgid == smp->tgid &&
	       a->tid == smp->tid && a->cgroup_id == smp->cgroup_id &&
	       a->n_kips == smp->n_kips && a->n_uips == smp->n_uips &&
	       !strcmp(a->comm, smp->comm) && !strcmp(a->pcomm, smp->pcomm) &&
	       !memcmp(a->kips, smp->kips, smp->n_kips * sizeof(uint64_t)) &&
	       !memcmp(a->uips, smp->uips, smp->n_uips * sizeof(uint64_t)) &&
	       !memcmp(a->top_ra, smp->top_ra, sizeof(a->top_ra)) &&
	       a->n_py == smp->n_py && a->py_end == smp->py_end &&
	       !memcmp(a->py, smp->py, smp->n_py * sizeof(*smp->py));
}

static int grow(struct aggregate *a)
{
	size_t ncap = a->cap ? 2 * a->cap : 256;
	struct agg_entry **n = calloc(ncap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++) {
		struct agg_entry *e = a->slots[i];
		size_t j;

		if (!e)
			continue;
		for (j = e->hash & (ncap - 1); n[j]; j = (j + 1) & (ncap - 1))
			;
		n[j] = e;
	}
	free(a->slots);
	a->bytes += (ncap - a->cap) * sizeof(*n);
	a->slots = n;
	a->cap = ncap;
	return 0;
}

int aggregate__add(struct aggregate *a, const struct sampler_sample *smp, int tag)
{
	uint64_t h = sample_hash(smp, tag);
	struct agg_entry *e;
	size_t i, n;

	if (2 * (a->n + 1) > a->cap && grow(a))
		return -ENOMEM;
	for (i = h & (a->cap - 1); a->slots[i]; i = (i + 1) & (a->cap - 1)) {
		if (entry_equal(a->slots[i], h, smp, tag)) {
			a->slots[i]->smp.count += smp->count;
			return 0;
		}
	}
	n = smp->n_kips + smp->n_uips;
	/* (the Python frames after the addresses) */
	e = malloc(sizeof(*e) + n * sizeof(uint64_t) + smp->n_py * sizeof(*smp->py));
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->tag = tag;
	e->smp = *smp;
	snprintf(e->comm, sizeof(e->comm), "%s", smp->comm);
	snprintf(e->pcomm, sizeof(e->pcomm), "%s", smp->pcomm);
	memcpy(e->ips, smp->kips, smp->n_kips * sizeof(uint64_t));
	memcpy(e->ips + smp->n_kips, smp->uips, smp->n_uips * sizeof(uint64_t));
	e->smp.comm = e->comm;
	e->smp.pcomm = e->pcomm;
	e->smp.kips = e->ips;
	e->smp.uips = e->ips + smp->n_kips;
	memcpy(e->ips + n, smp->py, smp->n_py * sizeof(*smp->py));
	e->smp.py = (const struct sampler_py_frame *)(e->ips + n);
	a->slots[i] = e;
	a->n++;
	a->bytes += sizeof(*e) + n * sizeof(uint64_t) + smp->n_py * sizeof(*smp->py);
	return 0;
}

static void clear(struct aggregate *a)
{
	for (size_t i = 0; i < a->cap; i++) {
		free(a->slots[i]);
		a->slots[i] = NULL;
	}
	a->n = 0;
	if (a->cap > AGG_KEEP_SLOTS) {
		free(a->slots);
		a->slots = NULL;
		a->cap = 0;
	}
	a->bytes = a->cap * sizeof(*a->slots);
}

void aggregate__drain(struct aggregate *a,
		      void (*fn)(void *ctx, const struct sampler_sample *smp, int tag),
		      void *ctx)
{
	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i])
			fn(ctx, &a->slots[i]->smp, a->slots[i]->tag);
	clear(a);
}

uint64_t aggregate__bytes(const struct aggregate *a)
{
	return a->bytes;
}

void aggregate__free(struct aggregate *a)
{
	if (!a)
		return;
	clear(a);
	free(a->slots);
	free(a);
}
