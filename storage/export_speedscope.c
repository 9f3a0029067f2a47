/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export_speedscope.c — the merged tree as a speedscope file (the JSON
 * format behind https://www.speedscope.app/file-format-schema.json): the
 * frames shared by all profiles, then one "sampled" profile per process
 * whose samples are the tree's stacks with samples of their own (root
 * first) and whose weights are their counts. Used by `ember report
 * --format speedscope` and the web server's /api/v1/export.
 *
 * Names come from binaries and the kernel, so they may hold any byte: the
 * JSON writer escapes quotes, backslashes and control characters and turns
 * bytes that are not valid UTF-8 into U+FFFD, so the file always parses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_formats.h"
#include "store_map.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0 when it is not one. */
static size_t utf8_valid(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = s[0] == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = s[0] == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Write s as a JSON string (with the quotes). A NUL ends a sequence
 * check early, since every continuation byte test fails on it. */
static void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', out);
	while (*p) {
		size_t n;

		if (*p == '"' || *p == '\\') {
			fputc('\\', out);
			fputc(*p++, out);
		} else if (*p == '\n') {
			fputs("\\n", out);
			p++;
		} else if (*p == '\t') {
			fputs("\\t", out);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p++);
		} else if ((n = utf8_valid(p)) > 0) {
			fwrite(p, 1, n, out);
			p += n;
		} else {
			fputs("\\ufffd", out);
			p++;
		}
	}
	fputc('"', out);
}

/* Speedscope frame index of every tree node (SIZE_MAX for node 0 and the
 * process nodes), writing each distinct frame once. */
static int write_frames(const struct store_tree *t, FILE *out, size_t *frame)
{
	struct store_map seen = { 0 };
	int64_t n = 0, found;
	int r = 0;

	fputs("\"shared\":{\"frames\":[", out);
	for (size_t i = 0; i < store_tree__size(t); i++) {
		const struct store_tree_node *nd = store_tree__node(t, i);
		/* Tree strings are interned: equal texts, equal pointers. */
		uint64_t key[5] = { (uintptr_t)nd->name, (uintptr_t)nd->module,
				    (uintptr_t)nd->file, nd->line, nd->kind };
		const char *file = nd->file ? nd->file : nd->module;

		frame[i] = SIZE_MAX;
		if (i == 0 || nd->kind == STORE_FRAME_PROCESS)
			continue;
		if (store_map__get(&seen, key, sizeof(key), &found)) {
			frame[i] = (size_t)found;
			continue;
		}
		r = store_map__put(&seen, key, sizeof(key), n, NULL);
		if (r < 0)
			goto out;
		frame[i] = (size_t)n;
		fputs(n++ ? ",{\"name\":" : "{\"name\":", out);
		/* The folded suffix keeps kernel and user frames of the same
		 * name apart, as in `ember report`. */
		if (*store_kind_suffix(nd->kind)) {
			char *name;

			if (asprintf(&name, "%s%s", nd->name,
				     store_kind_suffix(nd->kind)) < 0) {
				r = -ENOMEM;
				goto out;
			}
			json_string(out, name);
			free(name);
		} else {
			json_string(out, nd->name);
		}
		if (file) {
			fputs(",\"file\":", out);
			json_string(out, file);
		}
		if (nd->line)
			fprintf(out, ",\"line\":%u", nd->line);
		fputc('}', out);
	}
	fputs("]}", out);
out:
	store_map__free(&seen);
	return r;
}

/* The stack of node i, root first, in path (frames only). */
static size_t stack_of(const struct store_tree *t, size_t i,
		       const size_t *frame, size_t *path)
{
	size_t depth = 0;

	for (size_t j = i; j != 0; j = store_tree__node(t, j)->parent)
		if (frame[j] != SIZE_MAX)
			path[depth++] = frame[j];
	/* Collected leaf first; reverse. */
	for (size_t a = 0, b = depth; a + 1 < b; a++, b--) {
		size_t tmp = path[a];

		path[a] = path[b - 1];
		path[b - 1] = tmp;
	}
	return depth;
}

/* Stacks of process node proc: nodes leaves[0..n) in tree order. */
static void write_profile(const struct store_tree *t, size_t proc,
			  const size_t *frame, size_t *path,
			  const size_t *leaves, size_t n, FILE *out)
{
	fputs("{\"type\":\"sampled\",\"name\":", out);
	json_string(out, store_tree__node(t, proc)->name);
	fprintf(out, ",\"unit\":\"none\",\"startValue\":0,\"endValue\":%llu,"
		     "\"samples\":[",
		(unsigned long long)store_tree__node(t, proc)->total);
	for (size_t k = 0; k < n; k++) {
		size_t depth = stack_of(t, leaves[k], frame, path);

		fputs(k ? ",[" : "[", out);
		for (size_t d = 0; d < depth; d++)
			fprintf(out, d ? ",%zu" : "%zu", path[d]);
		fputc(']', out);
	}
	fputs("],\"weights\":[", out);
	for (size_t k = 0; k < n; k++)
		fprintf(out, k ? ",%llu" : "%llu",
			(unsigned long long)store_tree__node(t, leaves[k])->self);
	fputs("]}", out);
}

int store_export_speedscope(const struct store_tree *t,
			    const struct store_export_info *info, FILE *out)
{
	size_t n = store_tree__size(t), n_profiles = 0;
	size_t *frame = calloc(n + 1, sizeof(*frame));
	size_t *path = calloc(n + 1, sizeof(*path));
	size_t *owner = calloc(n + 1, sizeof(*owner));
	size_t *start = calloc(n + 2, sizeof(*start));
	size_t *leaves = calloc(n + 1, sizeof(*leaves));
	int r = -ENOMEM;

	if (!frame || !path || !owner || !start || !leaves)
		goto out;
	/* Parents precede children: one pass finds every node's process,
	 * then a counting sort groups the stacks by process, in tree order. */
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *nd = store_tree__node(t, i);

		owner[i] = nd->parent == 0 ? i : owner[nd->parent];
		if (nd->self)
			start[owner[i] + 1]++;
	}
	for (size_t i = 1; i <= n; i++)
		start[i] += start[i - 1];
	for (size_t i = 1; i < n; i++)
		if (store_tree__node(t, i)->self)
			leaves[start[owner[i]]++] = i;
	/* Now start[p] is where p's group ends, and the next process's
	 * group begins there: the walk below carries begin along. */
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	      "\"exporter\":\"ember\",\"name\":", out);
	json_string(out, info->name ? info->name : "ember profile");
	fputs(",\"activeProfileIndex\":0,", out);
	r = write_frames(t, out, frame);
	if (r < 0)
		goto out;
	fputs(",\"profiles\":[", out);
	for (size_t i = 1, begin = 0; i < n; i++) {
		size_t end;

		if (store_tree__node(t, i)->parent != 0)
			continue;
		end = start[i];
		if (n_profiles++)
			fputc(',', out);
		write_profile(t, i, frame, path, leaves + begin, end - begin,
			      out);
		begin = end;
	}
	/* No samples (a filter that matched nothing): one empty profile, so
	 * activeProfileIndex points at one and speedscope opens the file. */
	if (!n_profiles)
		fputs("{\"type\":\"sampled\",\"name\":\"no samples\",\"unit\":\"none\","
		      "\"startValue\":0,\"endValue\":0,\"samples\":[],\"weights\":[]}", out);
	fputs("]}\n", out);
	r = ferror(out) ? -EIO : 0;
out:
	free(frame);
	free(path);
	free(owner);
	free(start);
	free(leaves);
	return r;
}
