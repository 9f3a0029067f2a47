/* SPDX-License-Identifier: Apache-2.0 */
/*
 * addr-cache.c — a binary's address cache: vaddr -> the frames handed out
 * for it (session-interned strings), open addressing, emptied when it
 * reaches CACHE_MAX_ENTRIES addresses; and the string memos emptied with
 * it (the binary's own name and file pointers -> the session's interned
 * copies). Below both binary.c (which empties it when it unloads a
 * binary, and counts its bytes) and frames.c (which fills it).
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <stdint.h>
#include <stdlib.h>

#include "common.h"

/* Entries per binary before the cache is emptied and refilled. */
#define CACHE_MAX_ENTRIES (1u << 18)

static uint64_t vaddr_hash(uint64_t vaddr)
{
	return (vaddr * 0x9e3779b97f4a7c15ULL) >> 24;
}

const struct cache_slot *sym_addr_cache__find(const struct sym_binary *bin, uint64_t vaddr)
{
	size_t mask = bin->cache_cap - 1;

	if (!bin->cache_cap)
		return NULL;
	for (size_t i = vaddr_hash(vaddr) & mask;; i = (i + 1) & mask) {
		const struct cache_slot *slot = &bin->cache[i];

		if (slot->n == 0)
			return NULL;
		if (slot->vaddr == vaddr)
			return slot;
	}
}

static void memo_clear(struct str_memo *m)
{
	free(m->slots);
	*m = (struct str_memo){ 0 };
}

void sym_addr_cache__clear(struct sym_binary *bin)
{
	memo_clear(&bin->names);
	memo_clear(&bin->files);
	free(bin->cache);
	free(bin->cache_frames);
	bin->cache = NULL;
	bin->cache_frames = NULL;
	bin->cache_cap = bin->cache_used = 0;
	bin->n_cache_frames = bin->cap_cache_frames = 0;
}

size_t sym_addr_cache__memory(const struct sym_binary *bin)
{
	return bin->cache_cap * sizeof(*bin->cache) +
	       bin->cap_cache_frames * sizeof(*bin->cache_frames) +
	       (bin->names.cap + bin->files.cap) * sizeof(struct memo_slot);
}

void sym_addr_cache__put(struct sym_binary *bin, uint64_t vaddr,
			 const struct sym_frame *frames, size_t n)
{
	size_t mask, i;

	if (n == 0 || n > UINT32_MAX)
		return;
	if (bin->cache_used >= CACHE_MAX_ENTRIES || bin->n_cache_frames + n > UINT32_MAX)
		sym_addr_cache__clear(bin);
	if (2 * (bin->cache_used + 1) > bin->cache_cap) {
		size_t ncap = bin->cache_cap ? bin->cache_cap * 2 : 1024;
		struct cache_slot *slots = calloc(ncap, sizeof(*slots));

		if (!slots)
			return;
		for (size_t j = 0; j < bin->cache_cap; j++) {
			if (!bin->cache[j].n)
				continue;
			for (i = vaddr_hash(bin->cache[j].vaddr) & (ncap - 1); slots[i].n;
			     i = (i + 1) & (ncap - 1))
				;
			slots[i] = bin->cache[j];
		}
		free(bin->cache);
		bin->cache = slots;
		bin->cache_cap = ncap;
	}
	if (bin->n_cache_frames + n > bin->cap_cache_frames) {
		size_t ncap = MAX(bin->cap_cache_frames * 2, bin->n_cache_frames + n + 1024);
		struct cached_frame *p = reallocarray(bin->cache_frames, ncap, sizeof(*p));

		if (!p)
			return;
		bin->cache_frames = p;
		bin->cap_cache_frames = ncap;
	}
	mask = bin->cache_cap - 1;
	for (i = vaddr_hash(vaddr) & mask; bin->cache[i].n; i = (i + 1) & mask)
		;
	bin->cache[i] = (struct cache_slot){
		.vaddr = vaddr, .first = (uint32_t)bin->n_cache_frames, .n = (uint32_t)n,
	};
	bin->cache_used++;
	for (size_t j = 0; j < n; j++)
		bin->cache_frames[bin->n_cache_frames++] = (struct cached_frame){
			.name = frames[j].name,
			.file = frames[j].file,
			.line = frames[j].line,
			.kind = (uint8_t)frames[j].kind,
			.miss = (uint8_t)frames[j].miss,
			.debug = (uint8_t)frames[j].debug,
		};
}

static size_t memo_index(const struct str_memo *m, const char *from)
{
	size_t mask = m->cap - 1;

	for (size_t i = (size_t)(((uintptr_t)from * 0x9e3779b97f4a7c15ULL) >> 20) & mask;;
	     i = (i + 1) & mask)
		if (m->slots[i].from == from || !m->slots[i].from)
			return i;
}

const char *sym_memo__find(const struct str_memo *m, const char *from)
{
	const struct memo_slot *slot;

	if (!m->cap)
		return NULL;
	slot = &m->slots[memo_index(m, from)];
	return slot->from ? slot->to : NULL;
}

void sym_memo__put(struct str_memo *m, const char *from, const char *to)
{
	struct memo_slot *slot;

	if (2 * (m->used + 1) > m->cap) {
		struct str_memo bigger = { .cap = m->cap ? m->cap * 2 : 256 };

		bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
		if (!bigger.slots)
			return;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].from)
				bigger.slots[memo_index(&bigger, m->slots[i].from)] = m->slots[i];
		bigger.used = m->used;
		free(m->slots);
		*m = bigger;
	}
	slot = &m->slots[memo_index(m, from)];
	if (!slot->from)
		m->used++;
	*slot = (struct memo_slot){ .from = from, .to = to };
}
