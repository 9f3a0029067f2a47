/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-split.c — split DWARF: the split unit of a skeleton unit, from the
 * .dwp package (through its unit index) or from the unit's .dwo file,
 * checked against the skeleton's dwo id and read with the skeleton's
 * bases.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A view of [off, off + size) of s, or an absent section when it does
 * not fit. */
static struct dw_sect sect_view(const struct dw_sect *s, uint64_t off, uint64_t size)
{
	if (!s->present || off > s->size || size > s->size - off)
		return (struct dw_sect){ .fd = -1 };
	return (struct dw_sect){
		.p = s->p ? s->p + off : NULL, .size = size, .file_off = s->file_off + off,
		.fd = s->fd, .present = true,
	};
}

/* Our section for a DW_SECT_* column of a .dwp index: version 2 (GNU's,
 * for DWARF 4) and 5 share the numbers used here but for 8. */
static int dwp_column(uint32_t version, uint64_t id)
{
	switch (id) {
	case 1: return SEC_INFO;
	case 3: return SEC_ABBREV;
	case 4: return SEC_LINE;
	case 6: return SEC_STR_OFFSETS;
	case 8: return version == 5 ? SEC_RNGLISTS : -1;
	default: return -1;
	}
}

/* The unit of dwo id id in the .dwp: the views of its contributions in
 * d->split_sec. Returns true when found. */
static bool dwp_find(struct sym_dwarf *d, uint64_t id)
{
	const struct dw_sect *ix = &d->dwp.sec[SEC_CU_INDEX];
	struct dw_cur c = sect_cur(ix, 0, ix->size), h, t;
	uint64_t version, cols, units, slots, mask, slot, step, row = 0;

	version = cur_u(&c, 4);  /* 5: two bytes and two of padding */
	cols = cur_u(&c, 4);
	units = cur_u(&c, 4);
	slots = cur_u(&c, 4);
	if (c.bad || (version != 2 && version != 5) || cols == 0 || cols > 16 ||
	    slots == 0 || (slots & (slots - 1)) || slots > (1u << 24) || units > (1u << 24) ||
	    (uint64_t)(c.end - c.p) < slots * 12 + cols * 4 + units * cols * 8)
		return false;
	mask = slots - 1;
	step = ((id >> 32) & mask) | 1;
	slot = id & mask;
	for (uint64_t k = 0; k < slots; k++, slot = (slot + step) & mask) {
		uint64_t sig, r;

		h = (struct dw_cur){ .p = c.p + slot * 8, .end = c.end };
		sig = cur_u(&h, 8);
		h = (struct dw_cur){ .p = c.p + slots * 8 + slot * 4, .end = c.end };
		r = cur_u(&h, 4);
		if (r && sig == id) {
			row = r;
			break;
		}
		if (!r && !sig)
			break;
	}
	if (row == 0 || row > units)
		return false;
	/* columns' section ids, then the offsets and sizes of each row */
	for (uint64_t col = 0; col < cols; col++) {
		const uint8_t *ids = c.p + slots * 12;
		const uint8_t *offs = ids + cols * 4, *sizes = offs + units * cols * 4;
		uint64_t sid, off, size;
		int sec;

		t = (struct dw_cur){ .p = ids + col * 4, .end = c.end };
		sid = cur_u(&t, 4);
		t = (struct dw_cur){ .p = offs + ((row - 1) * cols + col) * 4, .end = c.end };
		off = cur_u(&t, 4);
		t = (struct dw_cur){ .p = sizes + ((row - 1) * cols + col) * 4, .end = c.end };
		size = cur_u(&t, 4);
		sec = dwp_column((uint32_t)version, sid);
		if (!t.bad && sec >= 0)
			d->split_sec[sec] = sect_view(&d->dwp.sec[sec], off, size);
	}
	d->split_sec[SEC_STR] = sect_view(&d->dwp.sec[SEC_STR], 0, d->dwp.sec[SEC_STR].size);
	return d->split_sec[SEC_INFO].present && d->split_sec[SEC_ABBREV].present;
}

/* The .dwo of skeleton sk: DW_AT_dwo_name, under DW_AT_comp_dir unless
 * absolute, in the process's root. Returns 0 (its sections in
 * d->split_sec), -ENOENT, or -ENOMEM. */
static int dwo_open(struct sym_dwarf *d, const struct dw_cu *sk)
{
	uint64_t cost = 0;
	char *path = NULL;
	int fd, r;

	if (!sk->dwo_name)
		return -ENOENT;
	if (sk->dwo_name[0] == '/' || !sk->comp_dir)
		path = strdup(sk->dwo_name);
	else if (asprintf(&path, "%s/%s", sk->comp_dir, sk->dwo_name) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	fd = sym_debug_open(&(struct sym_fs){ .root_fd = d->root_fd, .refused = d->refused },
			    path);
	free(path);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -ENOENT;
	/* the .dwo is another user's file too: charged before it is read */
	if (dw_file__cost(fd, true, &cost) < 0 || cost > d->max_bytes) {
		if (cost > d->max_bytes && d->refused)
			d->refused[SYM_REFUSED_BUDGET]++;
		close(fd);
		return -ENOENT;
	}
	r = dw_file__load(d, &d->dwo, fd, true);
	if (r < 0)
		return r;
	if (!d->dwo.sec[SEC_INFO].present || !d->dwo.sec[SEC_ABBREV].present)
		return -ENODATA;
	for (int i = SEC_INFO; i <= SEC_RNGLISTS; i++)
		d->split_sec[i] = sect_view(&d->dwo.sec[i], 0, d->dwo.sec[i].size);
	return 0;
}

/* Forgets the split unit read last (and closes its .dwo). */
void dw_split__end(struct sym_dwarf *d)
{
	dw_file__free(&d->dwo);
	memset(d->split_sec, 0, sizeof(d->split_sec));
	d->split = (struct dw_cu){ 0 };
	/* the views are gone: so are abbreviations parsed from them */
	if (d->ab_cur.sec == &d->split_sec[SEC_ABBREV])
		d->ab_cur.valid = false;
	if (d->ab_other.sec == &d->split_sec[SEC_ABBREV])
		d->ab_other.valid = false;
}

/*
 * The split unit of skeleton sk (the index-th unit) into d->split: from
 * the .dwp when it has the dwo id, else from the .dwo, checked against
 * the dwo id. Returns 1 when found, 0 when not (sk->issue says why), or
 * -ENOMEM.
 */
int dw_split__begin(struct sym_dwarf *d, struct dw_cu *sk, size_t index)
{
	const struct dw_sect *info;
	uint64_t off = 0, next;
	bool found = false, other = false;
	int r;

	dw_split__end(d);
	if (!(d->dwp.sec[SEC_CU_INDEX].present && sk->has_dwo_id && dwp_find(d, sk->dwo_id))) {
		memset(d->split_sec, 0, sizeof(d->split_sec));
		r = dwo_open(d, sk);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			dw_split__end(d);
			sk->issue = r == -ENOENT ? SYM_DEBUG_DWO_MISSING : SYM_DEBUG_CORRUPT;
			return 0;
		}
	}
	/* addresses and DWARF 4 ranges stay in the binary */
	d->split_sec[SEC_ADDR] = d->main.sec[SEC_ADDR];
	d->split_sec[SEC_RANGES] = d->main.sec[SEC_RANGES];
	d->split_sec[SEC_ADDR].owned = d->split_sec[SEC_RANGES].owned = false;
	info = &d->split_sec[SEC_INFO];
	while (!found && off < info->size) {
		struct dw_cu cu;
		struct dw_die die;

		r = dw_cu__read_header(d, info, off, &cu, &next);
		if (r < 0)
			break;
		off = next;
		if (r == 0 || (cu.version >= 5 && cu.unit_type != DW_UT_split_compile))
			continue;
		cu.sec = d->split_sec;
		cu.space = SPACE_SPLIT + (uint32_t)index;
		cu.addr_base = sk->addr_base;
		r = dw_cu__read_unit_die(d, &cu, &die);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (die.dwo_id.kind == V_U) {
			cu.dwo_id = die.dwo_id.u;
			cu.has_dwo_id = true;
		}
		if (sk->has_dwo_id && (!cu.has_dwo_id || cu.dwo_id != sk->dwo_id)) {
			other = true;
			continue;
		}
		dw_cu__set_bases(&cu, &die);
		/* what the skeleton says for the whole unit */
		cu.addr_base = sk->addr_base;
		if (!dw_val__addr(&cu, &die.low, &cu.base))
			cu.base = sk->base;
		cu.ranges_base = sk->dwo_ranges_base;
		cu.comp_dir = sk->comp_dir;
		cu.code = true;
		d->split = cu;
		found = true;
	}
	if (!found) {
		dw_split__end(d);
		sk->issue = other ? SYM_DEBUG_DWO_MISMATCH : SYM_DEBUG_CORRUPT;
		return 0;
	}
	return 1;
}
