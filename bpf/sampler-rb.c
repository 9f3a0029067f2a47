/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler-rb.c — the BPF ring buffer's consumer, mapped once. libbpf's
 * ring_buffer maps the data area twice in a row, so that a record that
 * wraps around its end reads as one piece; the kernel inserts every page
 * of both views at mmap time, so the reader's RSS holds twice the ring
 * (4 MiB of `ember record`'s 15 MiB peak at 99 Hz on 2 CPUs). This reader
 * maps the producer page and the data once (and the consumer page, the
 * only one it writes), and copies the rare record that wraps into a
 * buffer of its own. The protocol is the kernel's (kernel/bpf/ringbuf.c):
 * a record is an 8-byte header (length, with the busy and discard bits)
 * and its data, 8-byte aligned; the producer position is read with
 * acquire, the consumer position published with release after the
 * record was handed on, as libbpf does.
 */
#include "sampler-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/bpf.h>

struct sampler_rb {
	int map_fd, epoll_fd;
	size_t page, size;   /* page size; the data area's size (a power of two) */
	unsigned long *consumer;   /* the consumer page (read-write) */
	void *producer;            /* the producer page, then the data (read-only) */
	const uint8_t *data;
	uint8_t *wrap;             /* a record that wraps, made whole */
	size_t wrap_cap;
	sampler_rb_fn fn;
	void *ctx;
};

int sampler_rb__new(int map_fd, size_t size, sampler_rb_fn fn, void *ctx,
		    struct sampler_rb **ret_rb)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sampler_rb *rb;
	int err;

	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	rb->map_fd = map_fd;
	rb->size = size;
	rb->fn = fn;
	rb->ctx = ctx;
	rb->page = (size_t)sysconf(_SC_PAGESIZE);
	rb->consumer = MAP_FAILED;
	rb->producer = MAP_FAILED;
	rb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (rb->epoll_fd < 0)
		goto fail_errno;
	rb->consumer = mmap(NULL, rb->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (rb->consumer == MAP_FAILED)
		goto fail_errno;
	/* The producer page and the data, once: the kernel refuses a
	 * writable mapping of them. */
	rb->producer = mmap(NULL, rb->page + size, PROT_READ, MAP_SHARED, map_fd,
			    (off_t)rb->page);
	if (rb->producer == MAP_FAILED)
		goto fail_errno;
	rb->data = (const uint8_t *)rb->producer + rb->page;
	if (epoll_ctl(rb->epoll_fd, EPOLL_CTL_ADD, map_fd, &ev) < 0)
		goto fail_errno;
	*ret_rb = rb;
	return 0;
fail_errno:
	err = -errno;
	sampler_rb__free(rb);
	return err;
}

void sampler_rb__free(struct sampler_rb *rb)
{
	if (!rb)
		return;
	if (rb->producer != MAP_FAILED)
		munmap(rb->producer, rb->page + rb->size);
	if (rb->consumer != MAP_FAILED)
		munmap(rb->consumer, rb->page);
	if (rb->epoll_fd >= 0)
		close(rb->epoll_fd);
	free(rb->wrap);
	free(rb);
}

/* A record's data as one piece: in place, or copied out when it wraps. */
static const void *record_data(struct sampler_rb *rb, size_t off, size_t len)
{
	size_t first;

	if (off + len <= rb->size)
		return rb->data + off;
	if (len > rb->wrap_cap) {
		uint8_t *p = realloc(rb->wrap, len);

		if (!p)
			return NULL;
		rb->wrap = p;
		rb->wrap_cap = len;
	}
	first = rb->size - off;
	memcpy(rb->wrap, rb->data + off, first);
	memcpy(rb->wrap + first, rb->data, len - first);
	return rb->wrap;
}

int sampler_rb__consume(struct sampler_rb *rb)
{
	unsigned long cons, prod, mask = rb->size - 1;
	const unsigned long *producer_pos = rb->producer;
	bool got_new;
	int n = 0;

	cons = __atomic_load_n(rb->consumer, __ATOMIC_ACQUIRE);
	do {
		got_new = false;
		prod = __atomic_load_n(producer_pos, __ATOMIC_ACQUIRE);
		while (cons < prod) {
			const uint32_t *hdr = (const uint32_t *)(rb->data + (cons & mask));
			uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
			size_t data_len = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

			if (len & BPF_RINGBUF_BUSY_BIT)
				goto done;  /* still being written */
			got_new = true;
			if (data_len > rb->size - BPF_RINGBUF_HDR_SZ)
				return -EFAULT;  /* not a record: the kernel bounds them */
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				size_t off = ((cons & mask) + BPF_RINGBUF_HDR_SZ) & mask;
				const void *p = record_data(rb, off, data_len);
				int r;

				if (!p)
					return -ENOMEM;  /* consumer left before it: read again */
				r = rb->fn(rb->ctx, (void *)p, data_len);
				n++;
				if (r < 0) {
					cons += (data_len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
					__atomic_store_n(rb->consumer, cons, __ATOMIC_RELEASE);
					return r;
				}
			}
			cons += (data_len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
			__atomic_store_n(rb->consumer, cons, __ATOMIC_RELEASE);
		}
	} while (got_new);
done:
	return n;
}

int sampler_rb__poll(struct sampler_rb *rb, int timeout_ms)
{
	struct epoll_event ev;
	int r;

	r = epoll_wait(rb->epoll_fd, &ev, 1, timeout_ms);
	if (r < 0)
		return -errno;
	return r > 0 ? sampler_rb__consume(rb) : 0;
}
