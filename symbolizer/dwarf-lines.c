/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf-lines.c — one compile unit's line table: the header's directory
 * and file lists (DWARF 2 to 5) and the line program, run into sorted rows
 * of which only those a lookup can return are kept.
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int line_cmp(const void *pa, const void *pb)
{
	const struct dw_row *a = pa, *b = pb;

	if (a->l.addr != b->l.addr)
		return a->l.addr < b->l.addr ? -1 : 1;
	/* An end of sequence before a row that starts another one there. */
	if (a->end != b->end)
		return a->end ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int seq_cmp(const void *pa, const void *pb, void *arg)
{
	const struct dw_seq *a = pa, *b = pb;
	const struct dw_row *rows = arg;

	return line_cmp(&rows[a->first], &rows[b->first]);
}

/*
 * The path of a line table file as addr2line prints it: an absolute name
 * as is, else under its directory, a relative directory under the CU's
 * comp_dir. Returns the interned path; NULL with *ret_err on ENOMEM.
 */
static const char *file_path(struct sym_dwarf *d, const char *comp_dir,
			     const char *dir, const char *name, int *ret_err)
{
	const char *top = NULL, *sub = NULL, *s;
	char *buf;
	size_t len;

	if (!name)
		return NULL;
	if (name[0] != '/') {
		sub = dir;
		if (!sub || sub[0] != '/')
			top = comp_dir;
		if (!top) {
			top = sub;
			sub = NULL;
		}
	}
	if (!top) {
		s = sym_strings__intern(&d->strings, name, strlen(name));
		goto out;
	}
	len = strlen(top) + strlen(name) + (sub ? strlen(sub) + 1 : 0) + 2;
	buf = malloc(len);
	if (!buf) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	if (sub)
		snprintf(buf, len, "%s/%s/%s", top, sub, name);
	else
		snprintf(buf, len, "%s/%s", top, name);
	s = sym_strings__intern(&d->strings, buf, strlen(buf));
	free(buf);
out:
	if (!s)
		*ret_err = -ENOMEM;
	return s;
}

/* A directory or file entry list of a DWARF 5 line table header: each
 * entry's path and directory index by the given (content, form) pairs. */
struct lnct_entry {
	const char *path;
	uint64_t dir;
};

static int lnct_read(struct sym_dwarf *d, const struct dw_cu *lcu, struct dw_cur *c,
		     struct lnct_entry **ret, size_t *ret_n)
{
	uint64_t fmt[2 * 16], count;
	uint8_t n_fmt = (uint8_t)cur_u(c, 1);
	struct lnct_entry *v;

	if (n_fmt > 16)
		return -EINVAL;
	for (unsigned i = 0; i < n_fmt; i++) {
		fmt[2 * i] = cur_uleb(c);
		fmt[2 * i + 1] = cur_uleb(c);
	}
	count = cur_uleb(c);
	/* every entry takes at least a byte, unless no format: then none */
	if (c->bad || (n_fmt && count > (uint64_t)(c->end - c->p)) || (!n_fmt && count))
		return -EINVAL;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint64_t k = 0; k < count && !c->bad; k++) {
		for (unsigned i = 0; i < n_fmt; i++) {
			struct dw_val val;

			if (fmt[2 * i + 1] > UINT16_MAX || fmt[2 * i + 1] == DW_FORM_implicit_const) {
				c->bad = true;
				break;
			}
			dw_val__read(lcu, c, (uint16_t)fmt[2 * i + 1], 0, &val);
			if (fmt[2 * i] == DW_LNCT_path)
				v[k].path = dw_val__str(d, lcu, &val);
			else if (fmt[2 * i] == DW_LNCT_directory_index && val.kind == V_U)
				v[k].dir = val.u;
		}
	}
	if (c->bad) {
		free(v);
		return -EINVAL;
	}
	*ret = v;
	*ret_n = (size_t)count;
	return 0;
}

/* DWARF 2-4: a list of strings, or of files (name, dir, mtime, length),
 * up to an empty name. */
static int v4_entries(struct dw_cur *c, bool files, struct lnct_entry **ret,
		      size_t *ret_n)
{
	struct lnct_entry *v = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		const char *s = cur_str(c);

		if (!s) {
			free(v);
			return -EINVAL;
		}
		if (!*s)
			break;
		if (COMMON_GROW(v, cap, n + 1) < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n] = (struct lnct_entry){ .path = s };
		if (files) {
			v[n].dir = cur_uleb(c);
			cur_uleb(c);
			cur_uleb(c);
		}
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The file table (*ret, *ret_n) from the header's lists: DWARF 5 numbers
 * files and dirs from 0, earlier versions from 1 (0 is no file, and dir 0
 * the comp_dir). */
static int files_make(struct sym_dwarf *d, const struct dw_cu *cu, bool v5,
		      const struct lnct_entry *dirs, size_t n_dirs,
		      const struct lnct_entry *files, size_t n_files,
		      const char ***ret, size_t *ret_n)
{
	size_t first = v5 ? 0 : 1;
	const char **v;
	int err = 0;

	v = calloc(n_files + first + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n_files && !err; i++) {
		uint64_t dir = v5 ? files[i].dir : files[i].dir - 1;  /* 0 -> none */

		v[first + i] = file_path(d, cu->comp_dir, dir < n_dirs ? dirs[dir].path : NULL,
					 files[i].path, &err);
	}
	*ret = v;
	*ret_n = n_files + first;
	return err;
}

struct line_hdr {
	uint8_t min_inst, line_range, opcode_base;
	int8_t line_base;
	uint8_t std_len[256];
};

/* Appends a row (or an end of sequence) to the CU's scratch rows. */
static inline __attribute__((always_inline)) int
row_add(struct sym_dwarf *d, size_t *n, uint64_t addr, int64_t line, uint64_t file,
	bool end, size_t n_files)
{
	if (__builtin_expect(*n == d->cap_rows, 0)) {
		if ((*n + 1) * sizeof(*d->rows) > d->max_bytes)
			return -EFBIG;
		if (COMMON_GROW(d->rows, d->cap_rows, *n + 1) < 0)
			return -ENOMEM;
	}
	d->rows[*n] = (struct dw_row){
		.l = {
			.addr = addr,
			.line = end || line < 0 || line > UINT32_MAX ? 0 : (uint32_t)line,
			.file = !end && file < n_files ? (uint32_t)file : NO_FILE,
		},
		.order = (uint32_t)*n,
		.end = end,
	};
	(*n)++;
	return 0;
}

static int seq_add(struct sym_dwarf *d, size_t *n_seqs, size_t first, size_t n_rows)
{
	if (n_rows == first)
		return 0;
	if (COMMON_GROW(d->seqs, d->cap_seqs, *n_seqs + 1) < 0)
		return -ENOMEM;
	d->seqs[(*n_seqs)++] = (struct dw_seq){ .first = first, .n = n_rows - first };
	return 0;
}

/*
 * Runs the line program (c: just past the header) into d->rows, one
 * sequence after another (d->seqs). Returns 0 or -ENOMEM; a corrupt
 * program ends early with the rows read so far.
 */
static int line_program(struct sym_dwarf *d, struct dw_cu *cu, const struct line_hdr *h,
			struct dw_cur *c, size_t *ret_rows, size_t *ret_seqs)
{
	uint64_t addr = 0, file = 1;
	int64_t line = 1;
	size_t n = 0, n_seqs = 0, seq = 0;
	int r = 0;

	while (r == 0 && c->p < c->end && !c->bad) {
		uint8_t op = (uint8_t)cur_u(c, 1);

		if (op >= h->opcode_base) {
			unsigned adj = op - h->opcode_base;

			addr += (uint64_t)(adj / h->line_range) * h->min_inst;
			line += h->line_base + (int)(adj % h->line_range);
			r = row_add(d, &n, addr, line, file, false, cu->n_files);
			continue;
		}
		switch (op) {
		case 0: {
			uint64_t len = cur_uleb(c);
			const uint8_t *next;
			uint8_t sub;

			if (c->bad || len > (uint64_t)(c->end - c->p)) {
				c->bad = true;
				break;
			}
			next = c->p + len;
			if (len == 0)
				break;
			sub = (uint8_t)cur_u(c, 1);
			if (sub == DW_LNE_end_sequence) {
				r = row_add(d, &n, addr, line, file, true, cu->n_files);
				r = r ? r : seq_add(d, &n_seqs, seq, n);
				seq = n;
				addr = 0;
				file = 1;
				line = 1;
			} else if (sub == DW_LNE_set_address && (len == 5 || len == 9)) {
				addr = cur_u(c, (unsigned)len - 1);
			}
			/* DW_LNE_define_file (DWARF 2-4, unused by compilers
			 * for decades) and others are skipped. */
			c->p = next;
			break;
		}
		case DW_LNS_copy:
			r = row_add(d, &n, addr, line, file, false, cu->n_files);
			break;
		case DW_LNS_advance_pc:
			addr += cur_uleb(c) * h->min_inst;
			break;
		case DW_LNS_advance_line:
			line += cur_sleb(c);
			break;
		case DW_LNS_set_file:
			file = cur_uleb(c);
			break;
		case DW_LNS_set_column:
			cur_uleb(c);
			break;
		case DW_LNS_negate_stmt:
		case DW_LNS_set_basic_block:
			break;
		case DW_LNS_const_add_pc:
			addr += (uint64_t)((255 - h->opcode_base) / h->line_range) * h->min_inst;
			break;
		case DW_LNS_fixed_advance_pc:
			addr += cur_u(c, 2);
			break;
		default:
			for (unsigned i = 0; i < h->std_len[op]; i++)
				cur_uleb(c);
			break;
		}
	}
	/* A last sequence without its end row still gives its rows. */
	r = r ? r : seq_add(d, &n_seqs, seq, n);
	*ret_rows = n;
	*ret_seqs = n_seqs;
	return r;
}

/* Appends a row to cu->lines unless it changes nothing for a lookup: only
 * the last row at an address counts, and a row that says what the row
 * before it says is not needed (a lookup takes the last row at or below
 * an address). gcc emits a row for every view, column and is_stmt
 * change: this keeps about one row in N. */
static inline __attribute__((always_inline)) void
line_keep(struct dw_cu *cu, size_t *k, const struct dw_line *l)
{
	if (*k && cu->lines[*k - 1].addr == l->addr)
		(*k)--;
	if (*k && cu->lines[*k - 1].line == l->line && cu->lines[*k - 1].file == l->file)
		return;
	cu->lines[(*k)++] = *l;
}

/*
 * Sorted rows into cu->lines: sequences ordered by their first address
 * and laid end to end are sorted already in the usual case (no two
 * sequences overlap), which is checked; otherwise all rows are sorted.
 * Within a sequence the program's own order stands (addresses never go
 * down): its end row often has the address of the row before it (gcc
 * ends a sequence without advancing), which line_cmp would put first,
 * and taking that pair for disorder sent half of the rows of the
 * binaries an agent met through the full sort (a tenth of its CPU under
 * churn). The end row last is what a lookup wants there: the sequence's
 * end is past its last instruction.
 */
static int lines_finish(struct sym_dwarf *d, struct dw_cu *cu, size_t n, size_t n_seqs)
{
	const struct dw_row *prev = NULL;
	bool sorted = true;
	size_t k = 0;

	if (n == 0)
		return 0;
	cu->lines = malloc(n * sizeof(*cu->lines));
	if (!cu->lines)
		return -ENOMEM;
	qsort_r(d->seqs, n_seqs, sizeof(*d->seqs), seq_cmp, d->rows);
	for (size_t s = 0; s < n_seqs && sorted; s++) {
		for (size_t i = 0; i < d->seqs[s].n && sorted; i++) {
			const struct dw_row *row = &d->rows[d->seqs[s].first + i];

			sorted = !prev ||
				 (i ? prev->l.addr <= row->l.addr : line_cmp(prev, row) <= 0);
			if (sorted)
				line_keep(cu, &k, &row->l);
			prev = row;
		}
	}
	if (!sorted) {
		qsort(d->rows, n, sizeof(*d->rows), line_cmp);
		k = 0;
		for (size_t i = 0; i < n; i++)
			line_keep(cu, &k, &d->rows[i].l);
	}
	shrink((void **)&cu->lines, k, sizeof(*cu->lines));
	cu->n_lines = k;
	return 0;
}

/*
 * The line table of cu at offset off of its .debug_line: files and sorted
 * rows. With ucu (a split unit, whose sections name the .dwo's table and
 * strings), only the file table, into cu->call_files. Returns 0 (also when
 * it is missing or corrupt: then cu->issue says so) or -ENOMEM.
 */
int dw_lines__read(struct sym_dwarf *d, struct dw_cu *cu, const struct dw_cu *ucu,
		   uint64_t off)
{
	const struct dw_sect *s = ucu ? &ucu->sec[SEC_LINE] : &cu->sec[SEC_LINE];
	const uint8_t *p;
	struct lnct_entry *dirs = NULL, *files = NULL;
	size_t n_dirs = 0, n_files = 0, n_rows = 0, n_seqs = 0;
	struct dw_cu lcu = ucu ? *ucu : *cu;
	struct line_hdr h = { 0 };
	struct dw_cur c, prog;
	uint64_t len, hdr_len;
	uint16_t version;
	int r;

	if (!s->present || off >= s->size)
		return 0;
	lcu.comp_dir = cu->comp_dir;
	/* the unit length first, then the whole unit */
	p = dw_sect__read(s, off, MIN(12, s->size - off), &d->win_line);
	if (!p)
		goto corrupt;
	c = (struct dw_cur){ .p = p, .end = p + MIN(12, s->size - off) };
	len = cur_u(&c, 4);
	lcu.off_size = 4;
	if (len == 0xffffffff) {
		len = cur_u(&c, 8);
		lcu.off_size = 8;
	} else if (len >= 0xfffffff0) {
		goto corrupt;
	}
	hdr_len = (uint64_t)(c.p - p);
	if (c.bad || len > s->size - off - hdr_len)
		goto corrupt;
	p = dw_sect__read(s, off, hdr_len + len, &d->win_line);
	if (!p)
		goto corrupt;
	c = (struct dw_cur){ .p = p + hdr_len, .end = p + hdr_len + len };
	version = (uint16_t)cur_u(&c, 2);
	if (version < 2 || version > 5)
		goto corrupt;
	if (version >= 5) {
		lcu.addr_size = (uint8_t)cur_u(&c, 1);
		cur_u(&c, 1);  /* segment selector size */
		/* read as the unit's (DW_FORM_addr in the entry formats) */
		if (lcu.addr_size != 4 && lcu.addr_size != 8)
			return 0;
	}
	hdr_len = cur_u(&c, lcu.off_size);
	if (c.bad || hdr_len > (uint64_t)(c.end - c.p))
		goto corrupt;
	prog = (struct dw_cur){ .p = c.p + hdr_len, .end = c.end };
	c.end = prog.p;
	h.min_inst = (uint8_t)cur_u(&c, 1);
	if (version >= 4)
		cur_u(&c, 1);  /* maximum_operations_per_instruction: no VLIW */
	cur_u(&c, 1);          /* default_is_stmt: every row counts */
	h.line_base = (int8_t)cur_u(&c, 1);
	h.line_range = (uint8_t)cur_u(&c, 1);
	h.opcode_base = (uint8_t)cur_u(&c, 1);
	if (c.bad || h.line_range == 0 || h.opcode_base == 0)
		goto corrupt;
	for (unsigned i = 1; i < h.opcode_base; i++)
		h.std_len[i] = (uint8_t)cur_u(&c, 1);
	if (version >= 5) {
		r = lnct_read(d, &lcu, &c, &dirs, &n_dirs);
		r = r ? r : lnct_read(d, &lcu, &c, &files, &n_files);
	} else {
		r = v4_entries(&c, false, &dirs, &n_dirs);
		r = r ? r : v4_entries(&c, true, &files, &n_files);
	}
	if (r == 0 && ucu)
		r = files_make(d, &lcu, version >= 5, dirs, n_dirs, files, n_files,
			       &cu->call_files, &cu->n_call_files);
	else if (r == 0)
		r = files_make(d, &lcu, version >= 5, dirs, n_dirs, files, n_files,
			       &cu->files, &cu->n_files);
	free(dirs);
	free(files);
	if (r == -EINVAL) {
		cu->issue = c.unknown ? SYM_DEBUG_UNKNOWN_FORM : SYM_DEBUG_CORRUPT;
		return 0;
	}
	if (r == 0 && !ucu)
		r = line_program(d, cu, &h, &prog, &n_rows, &n_seqs);
	if (r == 0 && !ucu)
		r = lines_finish(d, cu, n_rows, n_seqs);
	return r;
corrupt:
	cu->issue = SYM_DEBUG_CORRUPT;
	return 0;
}
