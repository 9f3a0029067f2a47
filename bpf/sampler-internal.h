/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler-internal.h — what the three files of the sampler's user-space
 * half share: the `struct sampler` handle and the calls between them.
 * sampler.c loads the skeleton, sizes its maps, attaches the programs and
 * owns the handle (open, free, the maps user space writes, the counters);
 * sampler-ring.c reads the ring buffer (poll, consume, the records'
 * decoding); sampler-drain.c drains the double-buffered maps at a flush;
 * sampler-btf.c makes and caches the small BTF the CO-RE relocations use.
 * Only sampler*.c include it: the rest of Ember sees sampler.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "profile.h"
#include "sampler.h"

/* The Python frames of a sample, between their record and the sample's
 * (records of other CPUs may come in between): one slot per CPU. */
struct py_pending {
	uint32_t seq;  /* 0: empty */
	uint32_t n;
	uint32_t status;
	struct ember_py_frame frames[EMBER_PY_MAX_FRAMES];
};

struct sampler {
	struct profile_bpf *skel;
	struct sampler_rb *rb;
	int *perf_fds;
	struct bpf_link **links;
	unsigned n_cpus_sampled;
	unsigned n_events;
	int n_possible_cpus;
	unsigned ring_bytes;         /* the ring buffer's size (ring_bytes()) */

	/* Callbacks in effect during a poll or drain. */
	const struct sampler_callbacks *cb;
	void *cb_ctx;
	int cb_err;
	bool in_ring;  /* inside sampler_rb__poll/consume: no nesting */
	uint64_t dwarf_unhandled;
	/* Counted here, not in the kernel (a cold cache line less per
	 * snapshot there): every snapshot record read, and those whose
	 * stack is shorter than the snapshot size. */
	uint64_t dwarf_samples;
	uint64_t snapshot_short;
	struct py_pending *py_pending;  /* n_possible_cpus slots, on first use */
	uint64_t py_unmatched;          /* samples whose Python record was
	                                   not there */

	/* tgids whose exit was reported; untracked after the next drain. */
	uint32_t *exited;
	size_t n_exited, cap_exited;

	/* Per-drain scratch. */
	struct ember_count_key *keys;
	struct ember_count_val *vals;
	size_t cap_keys, cap_vals;
	uint32_t *stack_ids;
	size_t cap_stack_ids;

	/* Where the CO-RE relocations found the kernel's types. */
	enum sampler_btf btf_source;
	int btf_refused;               /* a cache entry refused: -errno */
};

/* A kernel comm (not always NUL-terminated) as a C string. */
static inline void copy_comm(char dst[EMBER_COMM_LEN + 1], const char src[EMBER_COMM_LEN])
{
	memcpy(dst, src, EMBER_COMM_LEN);
	dst[EMBER_COMM_LEN] = '\0';
}

/* A sample's names, copied out of the kernel's record. */
struct sampler_names {
	char comm[EMBER_COMM_LEN + 1], pcomm[EMBER_COMM_LEN + 1];
};

/* The part every sample shares but its Python frames (the ring's records
 * name theirs; drained stacks have none): h borrows names and kips. */
static inline void sampler_head__fill(struct sampler_sample_head *h, struct sampler_names *names,
				      uint32_t tgid, uint32_t tid, uint64_t cgroup_id,
				      const char comm[EMBER_COMM_LEN],
				      const char pcomm[EMBER_COMM_LEN],
				      const uint64_t *kips, size_t n_kips)
{
	copy_comm(names->comm, comm);
	copy_comm(names->pcomm, pcomm);
	h->tgid = tgid;
	h->tid = tid;
	h->cgroup_id = cgroup_id;
	h->comm = names->comm;
	h->pcomm = names->pcomm;
	h->kips = kips;
	h->n_kips = n_kips;
}

/* sampler-ring.c: the ring buffer's callback (ctx is the sampler), and
 * the callbacks a poll, consume or drain delivers to. */
int sampler__ring_record(void *ctx, void *data, size_t size);

/* sampler-rb.c: the ring buffer's consumer (the map's data mapped once).
 * fn gets each record's data (8-byte aligned) and its size; a negative
 * return stops the read and is returned. */
typedef int (*sampler_rb_fn)(void *ctx, void *data, size_t size);
struct sampler_rb;
/* Maps the ring buffer map_fd of size bytes (a power of two). Returns 0,
 * or -errno (-EINVAL for a size that is not a power of two); *ret_rb is
 * the caller's, freed by sampler_rb__free. */
int sampler_rb__new(int map_fd, size_t size, sampler_rb_fn fn, void *ctx,
		    struct sampler_rb **ret_rb);
/* Hands every committed record to fn; returns how many, or fn's error,
 * -EFAULT for a header no kernel writes, -ENOMEM when a record that wraps
 * could not be copied (it stays in the ring). */
int sampler_rb__consume(struct sampler_rb *rb);
/* Waits up to timeout_ms (-1: no limit) for the kernel's wake-up, then
 * consumes; returns as sampler_rb__consume, 0 on a timeout, -errno
 * (-EINTR) from the wait. */
int sampler_rb__poll(struct sampler_rb *rb, int timeout_ms);
void sampler_rb__free(struct sampler_rb *rb);
void sampler__begin_callbacks(struct sampler *s, const struct sampler_callbacks *cb,
			      void *ctx);

/* sampler-btf.c: the small BTF of the kernel types the object's CO-RE
 * relocations need, kept per kernel in a cache directory. */
struct btf;
struct sampler_btf_key {
	char kernel[129];  /* the kernel's build-id, hex */
	char name[200];    /* the entry's name: build-id, BTF size, object hash */
};

/* The key of the running kernel (/sys/kernel/notes' build-id, the size of
 * /sys/kernel/btf/vmlinux) and of the BPF object obj. -ENOENT without a
 * build-id, or -errno. */
int sampler_btf__key(const void *obj, size_t obj_len, struct sampler_btf_key *ret_key);

/* The kernel's definitions of the types local names, as deep as CO-RE
 * relocations look, ending with a type naming key; raw BTF in *ret_data
 * (malloc'd, the caller frees). 0 or -errno. */
int sampler_btf__make(const struct btf *local, const struct btf *kern, const char *key,
		      void **ret_data, size_t *ret_len);

/* An fd of the checked entry for key in CACHE_DIR/btf: -ENOENT when
 * missing, -EPERM when not to be trusted (owner, mode), -EINVAL when not
 * this key's BTF, or -errno. */
int sampler_btf__cached(const char *cache_dir, const struct sampler_btf_key *key);

/* Writes data as key's entry (atomically), removes other kernels'
 * entries, and returns an fd of the entry, or -errno. */
int sampler_btf__store(const char *cache_dir, const struct sampler_btf_key *key,
		       const void *data, size_t len);

/* data in an anonymous file (memfd): its fd, or -errno. */
int sampler_btf__memfd(const void *data, size_t len);

/* Removes key's entry (one that failed to load). 0 or -errno. */
int sampler_btf__remove(const char *cache_dir, const struct sampler_btf_key *key);
