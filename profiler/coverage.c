/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coverage.c — per-binary symbolization coverage of each flush and unwind
 * quality of the session (see coverage.h): an open-addressing table on the
 * module pointer for the flush's rows, and a list in order of first sight
 * for the stacks.
 */
#include "coverage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

/* Symbolization coverage of one binary in the open flush. */
struct coverage_row {
	const char *module;    /* borrowed from the symbolizer session */
	const char *build_id;
	uint64_t seen, with_function, with_line;
	uint64_t debug[SYM_DEBUG__COUNT];  /* frames whose debug info was
	                                      there but not read, per reason */
};

/* User stacks whose leaf is in module, and how many reached a root. */
struct quality {
	const char *module;
	uint64_t samples, complete;
};

struct coverage {
	/* Open addressing on the module pointer, NULL = free; at most half
	 * full. */
	struct coverage_row *rows;
	size_t cap_rows, n_rows;
	struct quality *quality;
	size_t n_quality, cap_quality;
};

int coverage__new(struct coverage **ret_coverage)
{
	struct coverage *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	*ret_coverage = c;
	return 0;
}

void coverage__free(struct coverage *c)
{
	if (!c)
		return;
	free(c->rows);
	free(c->quality);
	free(c);
}

static uint64_t ptr_hash(const void *p)
{
	return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> 20;
}

static struct coverage_row *row_slot(struct coverage *c, const char *module)
{
	size_t i;

	if (2 * (c->n_rows + 1) > c->cap_rows) {
		size_t ncap = c->cap_rows ? 2 * c->cap_rows : 64;
		struct coverage_row *n = calloc(ncap, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t j = 0; j < c->cap_rows; j++) {
			if (!c->rows[j].module)
				continue;
			for (i = ptr_hash(c->rows[j].module) & (ncap - 1); n[i].module;
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = c->rows[j];
		}
		free(c->rows);
		c->rows = n;
		c->cap_rows = ncap;
	}
	for (i = ptr_hash(module) & (c->cap_rows - 1); c->rows[i].module;
	     i = (i + 1) & (c->cap_rows - 1))
		if (c->rows[i].module == module)
			return &c->rows[i];
	c->rows[i].module = module;
	c->n_rows++;
	return &c->rows[i];
}

void coverage__frame(struct coverage *c, const struct sym_frame *f, uint64_t count)
{
	struct coverage_row *r = f->module ? row_slot(c, f->module) : NULL;

	if (!r)
		return;
	r->build_id = r->build_id ? r->build_id : f->build_id;
	r->seen += count;
	r->with_function += f->miss == SYM_MISS_NONE ? count : 0;
	r->with_line += f->file ? count : 0;
	if ((unsigned)f->debug < SYM_DEBUG__COUNT && f->debug != SYM_DEBUG_OK)
		r->debug[f->debug] += count;
}

int coverage__write_flush(const struct coverage *c, struct store_db *db)
{
	int err = 0;

	for (size_t i = 0; i < c->cap_rows && !err; i++) {
		const struct coverage_row *r = &c->rows[i];

		if (!r->module)
			continue;
		err = store_db__add_coverage(db, r->module, r->build_id, r->seen,
					     r->with_function, r->with_line);
		for (int k = 1; k < SYM_DEBUG__COUNT && !err; k++)
			if (r->debug[k])
				err = store_db__add_coverage_issue(db, r->module, r->build_id,
								   sym_debug_issue_name(k),
								   r->debug[k]);
	}
	return err;
}

void coverage__clear_flush(struct coverage *c)
{
	if (c->rows)
		memset(c->rows, 0, c->cap_rows * sizeof(*c->rows));
	c->n_rows = 0;
}

void coverage__stack(struct coverage *c, const char *module, bool complete, uint64_t count)
{
	size_t i;

	for (i = 0; i < c->n_quality; i++)
		if (c->quality[i].module == module)
			break;
	if (i == c->n_quality) {
		if (array_grow((void **)&c->quality, &c->cap_quality, c->n_quality + 1,
			       sizeof(*c->quality)))
			return;
		c->quality[c->n_quality++] = (struct quality){ module, 0, 0 };
	}
	c->quality[i].samples += count;
	if (complete)
		c->quality[i].complete += count;
}

void coverage__write_quality(const struct coverage *c, struct store_db *db)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (size_t i = 0; i < c->n_quality; i++) {
		const struct quality *q = &c->quality[i];
		const char *module = q->module ? q->module : "[unknown]";
		size_t need = len + strlen(module) + 48;
		char *p;

		if (need > cap) {
			cap = need * 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return;
			}
			buf = p;
		}
		len += snprintf(buf + len, cap - len, "%s\t%llu\t%llu\n", module,
				(unsigned long long)q->samples, (unsigned long long)q->complete);
	}
	store_db__set_meta(db, "unwind_quality", buf ? buf : "");
	free(buf);
}

void coverage__reset(struct coverage *c)
{
	c->n_quality = 0;
	coverage__clear_flush(c);
}

uint64_t coverage__memory(const struct coverage *c)
{
	return c->cap_rows * sizeof(*c->rows) + c->cap_quality * sizeof(*c->quality);
}
