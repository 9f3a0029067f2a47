/* SPDX-License-Identifier: Apache-2.0 */
/*
 * addr-cache.c — a binary's address cache: vaddr -> the frames handed out
 * for it (session-interned strings), a common_map emptied when it
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

static const struct common_map_type cache_type = {
	.entry_size = sizeof(struct cache_slot),
	.key_size = sizeof(uint64_t),
};

static const struct common_map_type memo_type = {
	.entry_size = sizeof(struct memo_slot),
	.key_size = sizeof(const char *),
};

const struct cache_slot *sym_addr_cache__find(const struct sym_binary *bin, uint64_t vaddr)
{
	return common_map__find(&bin->cache, &cache_type, &vaddr);
}

void sym_addr_cache__clear(struct sym_binary *bin)
{
	common_map__fini(&bin->names.map);
	common_map__fini(&bin->files.map);
	common_map__fini(&bin->cache);
	free(bin->cache_frames);
	bin->cache_frames = NULL;
	bin->n_cache_frames = bin->cap_cache_frames = 0;
}

size_t sym_addr_cache__memory(const struct sym_binary *bin)
{
	return common_map__bytes(&bin->cache, &cache_type) +
	       bin->cap_cache_frames * sizeof(*bin->cache_frames) +
	       common_map__bytes(&bin->names.map, &memo_type) +
	       common_map__bytes(&bin->files.map, &memo_type);
}

void sym_addr_cache__put(struct sym_binary *bin, uint64_t vaddr,
			 const struct sym_frame *frames, size_t n)
{
	struct cache_slot *slot;

	if (n == 0 || n > UINT32_MAX)
		return;
	if (common_map__size(&bin->cache) >= CACHE_MAX_ENTRIES ||
	    bin->n_cache_frames + n > UINT32_MAX)
		sym_addr_cache__clear(bin);
	if (COMMON_GROW(bin->cache_frames, bin->cap_cache_frames, bin->n_cache_frames + n) < 0 ||
	    common_map__insert(&bin->cache, &cache_type, &vaddr, (void **)&slot) < 0)
		return;
	/* (an address already there keeps its frames: they are the same) */
	if (slot->n)
		return;
	slot->first = (uint32_t)bin->n_cache_frames;
	slot->n = (uint32_t)n;
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

const char *sym_memo__find(const struct str_memo *m, const char *from)
{
	const struct memo_slot *slot = common_map__find(&m->map, &memo_type, &from);

	return slot ? slot->to : NULL;
}

void sym_memo__put(struct str_memo *m, const char *from, const char *to)
{
	struct memo_slot *slot;

	if (common_map__insert(&m->map, &memo_type, &from, (void **)&slot) >= 0)
		slot->to = to;
}
