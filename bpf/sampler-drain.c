/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler-drain.c — the flush: sampler__drain flips `active_set`, waits
 * until no program run can still write to the old map set (the map-in-map
 * update's RCU grace period: DESIGN.md "Double buffering"), delivers the
 * ring buffer's records written before the flip, then reads the old counts
 * and stack maps, delivers each count with its stacks and clears both, so
 * no sample is counted twice or lost and no stack id is read after it
 * could be reused. Exited processes stop being tracked here, after their
 * last samples.
 */
#include "sampler-internal.h"

#include <errno.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "profile.skel.h"

/* Wait until no program run can still be using the old map set. */
static int wait_for_programs(struct sampler *s)
{
	__u32 zero = 0;
	int inner = bpf_map__fd(s->skel->maps.barrier_inner);

	return bpf_map_update_elem(bpf_map__fd(s->skel->maps.barrier), &zero, &inner, BPF_ANY);
}

/* Read every entry of a counts map that nothing writes to any more. */
static int read_counts(struct sampler *s, int fd, size_t *ret_n)
{
	struct ember_count_key key, next;
	size_t n = 0;
	bool first = true;
	int err;

	for (;;) {
		err = bpf_map_get_next_key(fd, first ? NULL : &key, &next);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
		first = false;
		key = next;
		err = COMMON_GROW(s->keys, s->cap_keys, n + 1);
		if (!err)
			err = COMMON_GROW(s->vals, s->cap_vals, n + 1);
		if (err)
			return err;
		if (bpf_map_lookup_elem(fd, &key, &s->vals[n]) != 0)
			continue;
		s->keys[n++] = key;
	}
	*ret_n = n;
	return 0;
}

static int clear_counts(struct sampler *s, int fd, size_t n)
{
	/* The set is idle: delete what was read, then anything left over. */
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &s->keys[i]);
	for (;;) {
		struct ember_count_key key;

		if (bpf_map_get_next_key(fd, NULL, &key) != 0)
			break;
		if (bpf_map_delete_elem(fd, &key) != 0)
			break;
	}
	return 0;
}

static int clear_stacks(struct sampler *s, int fd)
{
	__u32 id, next;
	size_t n = 0;
	bool first = true;
	int err;

	/* Collect first: deleting while walking would restart the walk. */
	for (;;) {
		if (bpf_map_get_next_key(fd, first ? NULL : &id, &next) != 0)
			break;
		first = false;
		id = next;
		err = COMMON_GROW(s->stack_ids, s->cap_stack_ids, n + 1);
		if (err)
			return err;
		s->stack_ids[n++] = id;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &s->stack_ids[i]);
	return 0;
}

/* Look up a stack id in the (idle) stack map; returns the frame count. */
static size_t read_stack(int fd, __s32 id, __u64 *ips)
{
	size_t n = 0;

	if (id < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &id, ips) != 0)
		return 0;
	while (n < EMBER_MAX_STACK_DEPTH && ips[n])
		n++;
	return n;
}

int sampler__drain(struct sampler *s, const struct sampler_callbacks *cb,
		   void *ctx)
{
	__u64 kips[EMBER_MAX_STACK_DEPTH], uips[EMBER_MAX_STACK_DEPTH];
	struct sampler_names names;
	__u32 old = s->skel->bss->active_set;
	int counts_fd, stacks_fd, err;
	size_t n = 0;
	int delivered = 0;

	sampler__begin_callbacks(s, cb, ctx);
	__atomic_store_n(&s->skel->bss->active_set, !old, __ATOMIC_SEQ_CST);
	err = wait_for_programs(s);
	if (err)
		goto out;
	/* Every record a program wrote before the flip is in the ring buffer
	 * now: deliver them with this drain. */
	s->in_ring = true;
	sampler_rb__consume(s->rb);
	s->in_ring = false;

	counts_fd = bpf_map__fd(old ? s->skel->maps.counts1 : s->skel->maps.counts0);
	stacks_fd = bpf_map__fd(old ? s->skel->maps.stacks1 : s->skel->maps.stacks0);
	err = read_counts(s, counts_fd, &n);
	if (err)
		goto clear;

	for (size_t i = 0; i < n; i++) {
		const struct ember_count_key *k = &s->keys[i];
		struct sampler_sample smp = {0};

		sampler_head__fill(&smp.head, &names, k->tgid, k->tid, k->cgroup_id,
				   s->vals[i].comm, s->vals[i].pcomm, (const uint64_t *)kips,
				   read_stack(stacks_fd, k->kstack_id, kips));
		smp.uips = (const uint64_t *)uips;
		smp.n_uips = read_stack(stacks_fd, k->ustack_id, uips);
		smp.user_task = k->tid != 0 && k->ustack_id != EMBER_NO_STACK;
		smp.count = s->vals[i].count;
		smp.top_ra[0] = k->top_ra[0];
		smp.top_ra[1] = k->top_ra[1];
		if (cb && cb->on_sample) {
			err = cb->on_sample(ctx, &smp);
			if (err < 0 && !s->cb_err)
				s->cb_err = err;
		}
		delivered++;
	}

clear:
	clear_counts(s, counts_fd, n);
	clear_stacks(s, stacks_fd);
	/* Exited processes had their last samples in this drain. */
	for (size_t i = 0; i < s->n_exited; i++) {
		__u32 tgid = s->exited[i];

		bpf_map_delete_elem(bpf_map__fd(s->skel->maps.tracked), &tgid);
	}
	s->n_exited = 0;
out:
	s->cb = NULL;
	if (err)
		return err;
	if (s->cb_err)
		return s->cb_err;
	return delivered;
}
