/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_html.c — standalone HTML reports: the embedded UI page (the same
 * renderer the server serves) with its data inline as window.EMBER_DATA, an
 * optional block of HTML above it, and a title. The result opens from a CI
 * artifact with no server and no network: `ember diff --html` and
 * `ember report --format html` (web_write_profile_html: one profile with
 * the tree, meta, timeline and labels the live UI would fetch).
 */
#include "web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ui_assets.h"

void web_html_escape(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* Inside <script>, "</" could close the element: write it as "<\/". */
static void write_script_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (s[0] == '<' && s[1] == '/') {
			fputs("<\\/", out);
			s++;
			continue;
		}
		fputc(*s, out);
	}
}

static const char *find(const char *hay, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = hay; p + n <= end; p++)
		if (!memcmp(p, needle, n))
			return p;
	return NULL;
}

int web_write_static_report(FILE *out, const char *title, const char *data_json,
			    const char *initial_hash, const char *intro_html)
{
	const char *page = (const char *)web_ui_index_html;
	const char *end = page + web_ui_index_html_len;
	const char *t0 = find(page, end, "<title>");
	const char *t1 = t0 ? find(t0, end, "</title>") : NULL;
	const char *body = t1 ? find(t1, end, "<body") : NULL;
	const char *body_end = body ? memchr(body, '>', end - body) : NULL;
	const char *script = body_end ? find(body_end, end, "<script") : NULL;

	if (!script)
		return -EINVAL; /* the embedded page is not what this expects */
	fwrite(page, 1, t0 - page, out);
	fputs("<title>", out);
	web_html_escape(out, title);
	fwrite(t1, 1, body_end + 1 - t1, out);
	if (intro_html)
		fputs(intro_html, out);
	fwrite(body_end + 1, 1, script - (body_end + 1), out);
	fputs("<script>window.EMBER_DATA = ", out);
	write_script_text(out, data_json);
	fputs(";\n", out);
	if (initial_hash) {
		fputs("if (!location.hash) location.hash = ", out);
		common_json_string(out, initial_hash);
		fputs(";\n", out);
	}
	fputs("</script>\n", out);
	fwrite(script, 1, end - script, out);
	return ferror(out) ? -EIO : 0;
}

int web_write_profile_html(FILE *out, struct store_db *db, const struct store_query *q,
			   const struct store_tree *tree, const char *title)
{
	struct web_tree_range range = { 0 };
	struct store_query all;
	char *data = NULL;
	size_t len = 0;
	int64_t first = 0, end = 0;
	FILE *d;
	int err;

	store_query_init(&all);
	if (q) {
		all.from_s = q->from_s;
		all.to_s = q->to_s;
	}
	err = store_db__span(db, &all, &first, &end, NULL);
	if (err)
		return err;
	range.from = first;
	range.to = end;
	d = open_memstream(&data, &len);
	if (!d)
		return -ENOMEM;
	fputs("{\"tree\":", d);
	err = web_write_tree_json(d, tree, NULL, &range);
	if (!err) {
		fputs(",\"meta\":", d);
		err = web_write_meta_json(d, db);
	}
	if (!err) {
		fputs(",\"timeline\":", d);
		err = web_write_timeline_json(d, db, q, first, end, 0);
	}
	if (!err) {
		fputs(",\"labels\":", d);
		err = web_write_labels_json(d, db, q, 1000);
	}
	fputc('}', d);
	if (fclose(d) != 0 && !err)
		err = -ENOMEM;
	if (!err)
		err = web_write_static_report(out, title, data, NULL, NULL);
	free(data);
	return err;
}
