/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export_folded.c — the merged tree as folded stacks, the text format of
 * FlameGraph's stackcollapse scripts, inferno and bcc's `profile -f`: one
 * line per stack that has samples of its own, the process name first, then
 * the frames root first, ';'-separated, a space and the count. Lines are
 * sorted so two exports of the same data compare equal. Used by
 * `ember report --format folded` and the web server's export.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_formats.h"

const char *store_kind_suffix(enum store_frame_kind k)
{
	switch (k) {
	case STORE_FRAME_KERNEL:
		return "_[k]";
	case STORE_FRAME_INLINED:
		return "_[i]";
	case STORE_FRAME_JIT:
		return "_[j]";
	case STORE_FRAME_PYTHON:
		return "_[py]";
	default:
		return "";
	}
}

struct folded_line {
	char *text;
	uint64_t count;
};

static int compare_lines(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text,
		      ((const struct folded_line *)b)->text);
}

/* Append sep, then s; ';' and newlines inside a name would break the
 * format and become ':'. */
static int append_name(char **buf, size_t *len, size_t *cap, const char *sep,
		       const char *s)
{
	int r = COMMON_GROW(*buf, *cap, *len + strlen(sep) + strlen(s) + 1);

	if (r < 0)
		return r;
	for (; *sep; sep++)
		(*buf)[(*len)++] = *sep;
	for (; *s; s++)
		(*buf)[(*len)++] = (*s == ';' || *s == '\n' || *s == '\r') ?
					   ':' : *s;
	(*buf)[*len] = '\0';
	return 0;
}

/* One frame after sep: the name with its kind suffix ("inner_[i]"), then
 * " (file:line)" with lines where the line is known. The marker belongs
 * to the function: "inner_[i] (app.c:30)". */
static int append_frame(char **buf, size_t *len, size_t *cap, const char *sep,
			const struct store_tree_node *f, bool lines)
{
	char line[32];
	int r;

	r = append_name(buf, len, cap, sep, f->name);
	if (r == 0)
		r = append_name(buf, len, cap, store_kind_suffix(f->kind), "");
	if (r < 0 || !lines || !f->file || !f->line)
		return r;
	snprintf(line, sizeof(line), ":%u)", (unsigned)f->line);
	r = append_name(buf, len, cap, " (", f->file);
	return r < 0 ? r : append_name(buf, len, cap, line, "");
}

/* The folded text of the path from the root to node i (node 0 excluded). */
static int path_text(const struct store_tree *t, size_t i, bool lines, size_t *path,
		     char **ret_text)
{
	size_t depth = 0, len = 0, cap = 0;
	char *text = NULL;
	int r = 0;

	for (size_t j = i; j != 0; j = store_tree__node(t, j)->parent)
		path[depth++] = j;
	while (depth-- > 0) {
		r = append_frame(&text, &len, &cap, len ? ";" : "",
				 store_tree__node(t, path[depth]), lines);
		if (r < 0) {
			free(text);
			return r;
		}
	}
	*ret_text = text;
	return 0;
}

int store_export_folded(const struct store_tree *t, bool with_lines, FILE *out)
{
	size_t n = store_tree__size(t), n_lines = 0;
	struct folded_line *lines = calloc(n ? n : 1, sizeof(*lines));
	size_t *path = calloc(n ? n : 1, sizeof(*path));
	int r = 0;

	if (!lines || !path) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *node = store_tree__node(t, i);

		if (!node->self)
			continue;
		r = path_text(t, i, with_lines, path, &lines[n_lines].text);
		if (r < 0)
			goto out;
		lines[n_lines++].count = node->self;
	}
	qsort(lines, n_lines, sizeof(*lines), compare_lines);
	/* Frames that differ only by line print alike without lines: one
	 * output line per printed stack. */
	for (size_t i = 0; i < n_lines;) {
		uint64_t count = 0;
		size_t j = i;

		for (; j < n_lines && !strcmp(lines[j].text, lines[i].text); j++)
			count += lines[j].count;
		if (fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)count) < 0) {
			r = -EIO;
			goto out;
		}
		i = j;
	}
out:
	for (size_t i = 0; lines && i < n_lines; i++)
		free(lines[i].text);
	free(lines);
	free(path);
	return r;
}
