/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tree_json.c — store trees as the API's columnar JSON (web/API.md): string
 * tables for names, modules and files, then one array per node field, so a
 * browser loads hundreds of thousands of nodes into typed arrays. For a diff
 * the two trees are merged by path first (store_tree__merge: the storage
 * API's merge, the same for every store), and each node carries both
 * sides' counts.
 */
#include "web.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct mnode {
	uint32_t parent;
	const struct store_tree_node *frame; /* the tree's node */
	uint64_t self, total, base_self, base_total;
	uint32_t name, module, file;         /* string table indexes */
};

/* A text of a string table, keyed by its pointer. */
struct str_entry {
	const char *s;
	uint32_t index;
};

static const struct common_map_type str_type = {
	.entry_size = sizeof(struct str_entry), .key_size = sizeof(const char *),
};

struct strtab {
	struct common_map map;  /* struct str_entry */
	const char **strs;
	size_t n, cap;
};

/* A tree's nodes as they are written, and the string tables. A store
 * tree's texts are interned (equal texts are equal pointers): the
 * pointer is the key of a string table, no text is hashed. */
struct merge {
	struct mnode *nodes;
	size_t n, cap;
	struct strtab names, modules, files;
};

/* Index of s in the table, adding it. NULL and "" are index 0 for modules
 * and files (the table is created with "" first). */
static int strtab_index(struct strtab *t, const char *s, uint32_t *ret)
{
	struct str_entry *e;
	int r;

	if (!s || !*s)
		s = "";  /* one pointer for every empty text */
	r = common_map__insert(&t->map, &str_type, &s, (void **)&e);
	if (r < 0)
		return r;
	if (r == 0) {
		*ret = e->index;
		return 0;
	}
	r = COMMON_GROW(t->strs, t->cap, t->n + 1);
	if (r < 0) {
		common_map__delete(&t->map, &str_type, e);
		return r;
	}
	t->strs[t->n] = s;
	e->index = (uint32_t)t->n;
	*ret = (uint32_t)t->n++;
	return 0;
}

static void strtab_free(struct strtab *t)
{
	common_map__fini(&t->map);
	free(t->strs);
}

/* The nodes of a store tree as they are (unique per (parent, frame),
 * parents first), with base's counts when it is a merged tree. */
static int copy_tree(struct merge *m, const struct store_tree *t)
{
	size_t n = store_tree__size(t);

	m->nodes = calloc(n ? n : 1, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct store_tree_node *f = store_tree__node(t, i);
		const struct store_base_counts *b = store_tree__base(t, i);

		m->nodes[i].parent = i ? f->parent : 0;
		m->nodes[i].frame = f;
		m->nodes[i].self = f->self;
		m->nodes[i].total = f->total;
		if (b) {
			m->nodes[i].base_self = b->self;
			m->nodes[i].base_total = b->total;
		}
	}
	m->n = m->cap = n;
	return 0;
}

static int by_weight(const void *a, const void *b, void *ctx)
{
	const struct mnode *nodes = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	uint64_t wi = nodes[i].total + nodes[i].base_total;
	uint64_t wj = nodes[j].total + nodes[j].base_total;

	if (wi != wj)
		return wi > wj ? -1 : 1;
	return i < j ? -1 : i > j;
}

/*
 * Keep the max_nodes heaviest nodes (head + base total). A parent weighs at
 * least as much as its child and comes first among equals, so the kept set
 * holds every kept node's parent; each dropped subtree's counts go to its
 * parent's self, which keeps every total exact.
 */
static int truncate_merge(struct merge *m, size_t max_nodes, size_t *ret_dropped)
{
	uint32_t *order, *newidx;
	size_t n = m->n, k = 0;

	*ret_dropped = 0;
	if (!max_nodes || n <= max_nodes)
		return 0;
	order = malloc(n * sizeof(*order));
	newidx = malloc(n * sizeof(*newidx));
	if (!order || !newidx) {
		free(order);
		free(newidx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		newidx[i] = UINT32_MAX;
	}
	qsort_r(order, n, sizeof(*order), by_weight, m->nodes);
	for (size_t i = 0; i < max_nodes; i++)
		newidx[order[i]] = 0;
	newidx[0] = 0;
	for (size_t i = 1; i < n; i++)
		if (newidx[i] != UINT32_MAX && newidx[m->nodes[i].parent] == UINT32_MAX)
			newidx[i] = UINT32_MAX;
	for (size_t i = n; i-- > 1;) {
		struct mnode *p = &m->nodes[m->nodes[i].parent];

		if (newidx[i] == UINT32_MAX && newidx[m->nodes[i].parent] != UINT32_MAX) {
			p->self += m->nodes[i].total;
			p->base_self += m->nodes[i].base_total;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (newidx[i] == UINT32_MAX)
			continue;
		newidx[i] = k;
		m->nodes[k] = m->nodes[i];
		m->nodes[k].parent = i ? newidx[m->nodes[k].parent] : 0;
		k++;
	}
	*ret_dropped = n - k;
	m->n = k;
	free(order);
	free(newidx);
	return 0;
}

/* Output through a local buffer: one fprintf per number was half of the
 * time of a large tree's answer. */
struct out {
	FILE *f;
	size_t n;
	char buf[65536];
};

static void out_flush(struct out *o)
{
	if (o->n)
		fwrite(o->buf, 1, o->n, o->f);
	o->n = 0;
}

static void out_str(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (o->n + len > sizeof(o->buf))
		out_flush(o);
	if (len > sizeof(o->buf)) {
		fwrite(s, 1, len, o->f);
		return;
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

/* sep (when not 0), then v in decimal. */
static void out_u64(struct out *o, char sep, uint64_t v)
{
	char tmp[24];
	size_t k = sizeof(tmp);

	if (o->n + 22 > sizeof(o->buf))
		out_flush(o);
	do {
		tmp[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (sep)
		o->buf[o->n++] = sep;
	memcpy(o->buf + o->n, tmp + k, sizeof(tmp) - k);
	o->n += sizeof(tmp) - k;
}

static void write_strs(struct out *o, const char *key, const struct strtab *t)
{
	out_str(o, "\"");
	out_str(o, key);
	out_str(o, "\":[");
	out_flush(o);
	for (size_t i = 0; i < t->n; i++) {
		if (i)
			fputc(',', o->f);
		common_json_string(o->f, t->strs[i]);
	}
	fputc(']', o->f);
}

#define WRITE_COLUMN(o, m, key, expr)                                    \
	do {                                                             \
		out_str(o, ",\"" key "\":[");                              \
		for (size_t i_ = 0; i_ < (m)->n; i_++) {                 \
			const struct mnode *n_ = &(m)->nodes[i_];        \
			out_u64(o, i_ ? ',' : 0, (uint64_t)(expr));      \
		}                                                        \
		out_str(o, "]");                                         \
	} while (0)

int web_write_tree_json(FILE *out, const struct store_tree *head,
			const struct store_tree *base, const struct web_tree_range *r)
{
	return web_write_tree_json_max(out, head, base, r, 0);
}

int web_write_tree_json_max(FILE *out, const struct store_tree *head,
			    const struct store_tree *base,
			    const struct web_tree_range *r, size_t max_nodes)
{
	struct store_tree *merged = NULL;
	struct merge m = {0};
	uint64_t samples = 0, base_samples = 0;
	size_t dropped = 0;
	uint32_t unused;
	struct out *o = NULL;
	int err;

	/* Index 0 of modules and files means unknown. */
	err = strtab_index(&m.modules, "", &unused);
	if (!err)
		err = strtab_index(&m.files, "", &unused);
	if (!err && base)
		err = store_tree__merge(base, head, &merged);
	if (!err)
		err = copy_tree(&m, base ? merged : head);
	if (!err)
		err = truncate_merge(&m, max_nodes, &dropped);
	for (size_t i = 0; i < m.n && !err; i++) {
		const struct store_tree_node *f = m.nodes[i].frame;

		err = strtab_index(&m.names, f->name, &m.nodes[i].name);
		if (!err)
			err = strtab_index(&m.modules, f->module, &m.nodes[i].module);
		if (!err)
			err = strtab_index(&m.files, f->file, &m.nodes[i].file);
	}
	if (!err && !(o = malloc(sizeof(*o))))
		err = -ENOMEM;
	if (err)
		goto out;
	o->f = out;
	o->n = 0;
	if (m.n) {
		samples = m.nodes[0].total;
		base_samples = m.nodes[0].base_total;
	}

	fputc('{', out);
	if (base)
		fprintf(out, "\"base_from\":%lld,\"base_to\":%lld,\"base_samples\":%llu,",
			(long long)r->base_from, (long long)r->base_to,
			(unsigned long long)base_samples);
	fprintf(out, "\"from\":%lld,\"to\":%lld,\"samples\":%llu,", (long long)r->from,
		(long long)r->to, (unsigned long long)samples);
	write_strs(o, "names", &m.names);
	fputc(',', out);
	write_strs(o, "modules", &m.modules);
	fputc(',', out);
	write_strs(o, "files", &m.files);
	out_str(o, ",\"nodes\":{\"parent\":[");
	for (size_t i = 0; i < m.n; i++)
		out_u64(o, i ? ',' : 0, m.nodes[i].parent);
	out_str(o, "]");
	WRITE_COLUMN(o, &m, "name", n_->name);
	WRITE_COLUMN(o, &m, "module", n_->module);
	WRITE_COLUMN(o, &m, "file", n_->file);
	WRITE_COLUMN(o, &m, "line", n_->frame->line);
	/* The root is synthetic, like the process nodes (web/API.md). */
	WRITE_COLUMN(o, &m, "kind", i_ ? n_->frame->kind : STORE_FRAME_PROCESS);
	WRITE_COLUMN(o, &m, "self", n_->self);
	WRITE_COLUMN(o, &m, "total", n_->total);
	if (base) {
		WRITE_COLUMN(o, &m, "base_self", n_->base_self);
		WRITE_COLUMN(o, &m, "base_total", n_->base_total);
	}
	out_flush(o);
	fprintf(out, "},\"truncated\":%zu}", dropped);
	if (ferror(out))
		err = -EIO;
out:
	free(o);
	free(m.nodes);
	store_tree__free(merged);
	strtab_free(&m.names);
	strtab_free(&m.modules);
	strtab_free(&m.files);
	return err;
}
