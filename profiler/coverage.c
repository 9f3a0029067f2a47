/* SPDX-License-Identifier: Apache-2.0 */
/*
 * coverage.c — per-binary symbolization coverage of each flush and unwind
 * quality of the session (see coverage.h): a common_map on the module
 * pointer for the flush's rows, and a list in order of first sight for the
 * stacks.
 */
#include "coverage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Symbolization coverage of one binary in the open flush. */
struct coverage_row {
	const char *module;    /* the key; borrowed from the symbolizer session */
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
	struct common_map rows;  /* struct coverage_row by module pointer */
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
	common_map__fini(&c->rows);
	free(c->quality);
	free(c);
}

static const struct common_map_type rows_type = {
	.entry_size = sizeof(struct coverage_row),
	.key_size = sizeof(const char *),
};

void coverage__frame(struct coverage *c, const struct sym_frame *f, uint64_t count)
{
	struct coverage_row *r;

	if (!f->module || common_map__insert(&c->rows, &rows_type, &f->module, (void **)&r) < 0)
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
	const struct coverage_row *r;
	size_t pos = 0;
	int err = 0;

	while (!err && (r = common_map__next(&c->rows, &rows_type, &pos))) {
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
	common_map__clear(&c->rows);
}

void coverage__stack(struct coverage *c, const char *module, bool complete, uint64_t count)
{
	size_t i;

	for (i = 0; i < c->n_quality; i++)
		if (c->quality[i].module == module)
			break;
	if (i == c->n_quality) {
		if (COMMON_GROW(c->quality, c->cap_quality, c->n_quality + 1))
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

		if (COMMON_GROW(buf, cap, need)) {
			free(buf);
			return;
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
	return common_map__bytes(&c->rows, &rows_type) + c->cap_quality * sizeof(*c->quality);
}
