/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aggregate.c — stacks buffered between flushes, counted together when
 * identical (see aggregate.h): a common_map whose key points at the
 * sample (the caller's for a lookup, the entry's copy once added).
 */
#include "aggregate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Tables of up to this many slots are kept for the next interval; a
 * burst's bigger table goes back to the system. */
#define AGG_KEEP_SLOTS 4096

struct agg_entry {
	struct sampler_sample smp;
	int tag;
	char comm[17], pcomm[17];
	uint64_t ips[];        /* n_kips kernel, then n_uips user */
};

/* The map's key: the sample's hash, computed once, the sample and its
 * tag; in an entry, smp is the copy's. */
struct agg_key {
	uint64_t hash;
	const struct sampler_sample *smp;
	int tag;
};

struct agg_slot {
	struct agg_key key;
	struct agg_entry *e;
};

struct aggregate {
	struct common_map map;  /* struct agg_slot */
	uint64_t entry_bytes;   /* the copied samples */
};

int aggregate__new(struct aggregate **ret_aggregate)
{
	struct aggregate *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	*ret_aggregate = a;
	return 0;
}

/* Every field sample_equal compares: the fixed ones in one block, each
 * array and name by itself, word at a time (common_hash_mem; FNV-1a a
 * byte at a time was 70 % of an add). */
static uint64_t sample_hash(const struct sampler_sample *smp, int tag)
{
	struct {
		uint32_t tgid, tid;
		uint64_t cgroup_id, top_ra[2];
		int32_t tag, py_end;
	} head;
	uint64_t h;

	memset(&head, 0, sizeof(head));
	head.tgid = smp->tgid;
	head.tid = smp->tid;
	head.cgroup_id = smp->cgroup_id;
	memcpy(head.top_ra, smp->top_ra, sizeof(head.top_ra));
	head.tag = tag;
	head.py_end = (int32_t)smp->py_end;
	h = common_hash_mem(&head, sizeof(head));
	h = h * 0x9e3779b97f4a7c15ULL ^ common_hash_mem(smp->comm, strlen(smp->comm));
	h = h * 0x9e3779b97f4a7c15ULL ^ common_hash_mem(smp->pcomm, strlen(smp->pcomm));
	h = h * 0x9e3779b97f4a7c15ULL ^ common_hash_mem(smp->kips, smp->n_kips * sizeof(uint64_t));
	h = h * 0x9e3779b97f4a7c15ULL ^ common_hash_mem(smp->uips, smp->n_uips * sizeof(uint64_t));
	h = h * 0x9e3779b97f4a7c15ULL ^ common_hash_mem(smp->py, smp->n_py * sizeof(*smp->py));
	return h;
}

/* memcmp and memcpy for n bytes that may be 0 with a NULL pointer (a
 * sample without kernel or Python frames): the C library's may not. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
	return n == 0 || !memcmp(a, b, n);
}

static void copy_bytes(void *dst, const void *src, size_t n)
{
	if (n)
		memcpy(dst, src, n);
}

static bool sample_equal(const struct sampler_sample *a, const struct sampler_sample *smp)
{
	return a->tgid == smp->tgid &&
	       a->tid == smp->tid && a->cgroup_id == smp->cgroup_id &&
	       a->n_kips == smp->n_kips && a->n_uips == smp->n_uips &&
	       !strcmp(a->comm, smp->comm) && !strcmp(a->pcomm, smp->pcomm) &&
	       same_bytes(a->kips, smp->kips, smp->n_kips * sizeof(uint64_t)) &&
	       same_bytes(a->uips, smp->uips, smp->n_uips * sizeof(uint64_t)) &&
	       !memcmp(a->top_ra, smp->top_ra, sizeof(a->top_ra)) &&
	       a->n_py == smp->n_py && a->py_end == smp->py_end &&
	       same_bytes(a->py, smp->py, smp->n_py * sizeof(*smp->py));
}

static uint64_t agg_key_hash(const void *key)
{
	return ((const struct agg_key *)key)->hash;
}

static bool agg_key_equal(const void *entry_key, const void *key)
{
	const struct agg_key *a = entry_key, *b = key;

	return a->hash == b->hash && a->tag == b->tag && sample_equal(a->smp, b->smp);
}

static const struct common_map_type agg_type = {
	.entry_size = sizeof(struct agg_slot),
	.key_size = sizeof(struct agg_key),
	.hash = agg_key_hash,
	.equal = agg_key_equal,
};

int aggregate__add(struct aggregate *a, const struct sampler_sample *smp, int tag)
{
	struct agg_key key = { sample_hash(smp, tag), smp, tag };
	struct agg_slot *slot;
	struct agg_entry *e;
	size_t n;
	int r;

	r = common_map__insert(&a->map, &agg_type, &key, (void **)&slot);
	if (r < 0)
		return r;
	if (r == 0) {
		slot->e->smp.count += smp->count;
		return 0;
	}
	n = smp->n_kips + smp->n_uips;
	/* (the Python frames after the addresses) */
	e = malloc(sizeof(*e) + n * sizeof(uint64_t) + smp->n_py * sizeof(*smp->py));
	if (!e) {
		common_map__delete(&a->map, &agg_type, slot);
		return -ENOMEM;
	}
	e->tag = tag;
	e->smp = *smp;
	snprintf(e->comm, sizeof(e->comm), "%s", smp->comm);
	snprintf(e->pcomm, sizeof(e->pcomm), "%s", smp->pcomm);
	copy_bytes(e->ips, smp->kips, smp->n_kips * sizeof(uint64_t));
	copy_bytes(e->ips + smp->n_kips, smp->uips, smp->n_uips * sizeof(uint64_t));
	e->smp.comm = e->comm;
	e->smp.pcomm = e->pcomm;
	e->smp.kips = e->ips;
	e->smp.uips = e->ips + smp->n_kips;
	copy_bytes(e->ips + n, smp->py, smp->n_py * sizeof(*smp->py));
	e->smp.py = (const struct sampler_py_frame *)(e->ips + n);
	/* The key now points at the copy: an equal key. */
	slot->key.smp = &e->smp;
	slot->e = e;
	a->entry_bytes += sizeof(*e) + n * sizeof(uint64_t) + smp->n_py * sizeof(*smp->py);
	return 0;
}

static void clear(struct aggregate *a)
{
	struct agg_slot *slot;
	size_t pos = 0;

	while ((slot = common_map__next(&a->map, &agg_type, &pos)))
		free(slot->e);
	if (a->map.cap > AGG_KEEP_SLOTS)
		common_map__fini(&a->map);
	else
		common_map__clear(&a->map);
	a->entry_bytes = 0;
}

void aggregate__drain(struct aggregate *a,
		      void (*fn)(void *ctx, const struct sampler_sample *smp, int tag),
		      void *ctx)
{
	struct agg_slot *slot;
	size_t pos = 0;

	while ((slot = common_map__next(&a->map, &agg_type, &pos)))
		fn(ctx, &slot->e->smp, slot->e->tag);
	clear(a);
}

uint64_t aggregate__bytes(const struct aggregate *a)
{
	return a->entry_bytes + common_map__bytes(&a->map, &agg_type);
}

void aggregate__free(struct aggregate *a)
{
	if (!a)
		return;
	clear(a);
	common_map__fini(&a->map);
	free(a);
}
