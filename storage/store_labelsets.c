/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_labelsets.c — layer 0 (storage/DESIGN.md): the label sets of a
 * range with their samples (struct store_label_sets), as any backend
 * collects them (store_label_sets__add), and the label names and values
 * answered from them in memory: pure, so the SQLite and the ClickHouse
 * backends give the same answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_formats.h"

void store_strv_free(char **strv)
{
	if (!strv)
		return;
	for (char **p = strv; *p; p++)
		free(*p);
	free(strv);
}

void store_label_values_free(struct store_label_value *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].value);
	free(v);
}

struct value_acc {
	const char *name;
	struct store_map index; /* value -> entry */
	struct store_label_value *v;
	size_t n, cap;
};

static int add_value(struct value_acc *a, const char *value, uint64_t samples)
{
	int64_t found;
	int r;

	if (store_map__get(&a->index, value, strlen(value), &found)) {
		a->v[found].samples += samples;
		return 0;
	}
	if (COMMON_GROW(a->v, a->cap, a->n + 1))
		return -ENOMEM;
	a->v[a->n].value = strdup(value);
	if (!a->v[a->n].value)
		return -ENOMEM;
	a->v[a->n].samples = samples;
	r = store_map__put(&a->index, value, strlen(value), (int64_t)a->n,
			   NULL);
	if (r < 0) {
		free(a->v[a->n].value);
		return r;
	}
	a->n++;
	return 0;
}

static int value_of_set(void *ctx, const struct store_labels *l,
			uint64_t samples)
{
	struct value_acc *a = ctx;
	char buf[1024];

	return add_value(a, store_labels__value(l, a->name, buf, sizeof(buf)),
			 samples);
}

/* Every free-form key of a label set, as a value with no samples. */
static int names_of_set(void *ctx, const struct store_labels *l,
			uint64_t samples)
{
	struct value_acc *a = ctx;
	char key[256];

	for (const char *p = l->extra; p && *p;) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int r;

		if (eq && (size_t)(eq - p) < n) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			r = add_value(a, key, samples);
			if (r < 0)
				return r;
		}
		p = end ? end + 1 : p + n;
	}
	return 0;
}

static int compare_values(const void *pa, const void *pb)
{
	const struct store_label_value *a = pa, *b = pb;

	if (a->samples != b->samples)
		return a->samples < b->samples ? 1 : -1;
	return strcmp(a->value, b->value);
}

static int compare_names(const void *pa, const void *pb)
{
	const struct store_label_value *a = pa, *b = pb;

	return strcmp(a->value, b->value);
}

struct store_label_sets {
	struct labeled {
		struct store_labels l; /* texts owned */
		uint64_t samples;
	} *v;
	size_t n, cap;
};

void store_label_sets__free(struct store_label_sets *sets)
{
	if (!sets)
		return;
	for (size_t i = 0; i < sets->n; i++) {
		free((char *)sets->v[i].l.host);
		free((char *)sets->v[i].l.process);
		free((char *)sets->v[i].l.thread);
		free((char *)sets->v[i].l.extra);
	}
	free(sets->v);
	free(sets);
}

static int copy_text(const char *text, const char **ret)
{
	*ret = NULL;
	if (!text)
		return 0;
	*ret = strdup(text);
	return *ret ? 0 : -ENOMEM;
}

struct store_label_sets *store_label_sets__new(void)
{
	return calloc(1, sizeof(struct store_label_sets));
}

int store_label_sets__add(struct store_label_sets *sets, const struct store_labels *l,
			  uint64_t samples)
{
	struct labeled *e;

	if (COMMON_GROW(sets->v, sets->cap, sets->n + 1))
		return -ENOMEM;
	e = &sets->v[sets->n++];
	memset(e, 0, sizeof(*e));
	e->l.pid = l->pid;
	e->l.tid = l->tid;
	e->l.cgroup_id = l->cgroup_id;
	e->samples = samples;
	if (copy_text(l->host, &e->l.host) < 0 ||
	    copy_text(l->process, &e->l.process) < 0 ||
	    copy_text(l->thread, &e->l.thread) < 0 ||
	    copy_text(l->extra, &e->l.extra) < 0)
		return -ENOMEM; /* freed with the rest */
	return 0;
}

int store_label_sets__values(const struct store_label_sets *sets,
			     const char *name,
			     struct store_label_value **ret_values,
			     size_t *ret_n)
{
	struct value_acc a = { .name = name };
	int r = 0;

	if (!sets || !name || !ret_values || !ret_n)
		return -EINVAL;
	for (size_t i = 0; i < sets->n && r == 0; i++)
		r = value_of_set(&a, &sets->v[i].l, sets->v[i].samples);
	store_map__free(&a.index);
	if (r < 0) {
		store_label_values_free(a.v, a.n);
		return r;
	}
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), compare_values);
	*ret_values = a.v;
	*ret_n = a.n;
	return 0;
}

int store_label_sets__names(const struct store_label_sets *sets,
			    char ***ret_names, size_t *ret_n)
{
	static const char *const builtin[] = {
		"host", "process", "pid", "thread", "tid", "cgroup",
	};
	struct value_acc a = { 0 };
	char **names = NULL;
	uint64_t samples = 0;
	size_t n = 0;
	int r = 0;

	if (!sets || !ret_names || !ret_n)
		return -EINVAL;
	for (size_t i = 0; i < sets->n && r == 0; i++) {
		samples += sets->v[i].samples;
		r = names_of_set(&a, &sets->v[i].l, sets->v[i].samples);
	}
	if (r < 0)
		goto out;
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), compare_names);
	names = calloc(ARRAY_SIZE(builtin) + a.n + 1, sizeof(*names));
	if (!names) {
		r = -ENOMEM;
		goto out;
	}
	if (samples) {
		for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
			names[n] = strdup(builtin[i]);
			if (!names[n++]) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	for (size_t i = 0; i < a.n; i++) {
		names[n++] = a.v[i].value;
		a.v[i].value = NULL;
	}
	*ret_names = names;
	*ret_n = n;
	names = NULL;
out:
	store_strv_free(names);
	store_label_values_free(a.v, a.n);
	store_map__free(&a.index);
	return r;
}

