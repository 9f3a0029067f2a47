/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web.h — public API of the web module: the JSON the API serves (web/API.md)
 * and the self-contained HTML reports built from the embedded UI. The
 * libmicrohttpd server (issue 6) answers /api/v1/tree and /api/v1/diff with
 * web_write_tree_json(); `ember diff --html` writes the same diff JSON into
 * a static page with web_write_static_report().
 *
 * Thread safety: every function here is thread-safe; trees passed in are
 * only read.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "storage.h"

/* The time ranges a tree JSON reports (Unix seconds). */
struct web_tree_range {
	int64_t from, to;           /* head */
	int64_t base_from, base_to; /* base, diff only */
};

/*
 * Write one tree (base NULL: the /api/v1/tree shape) or the union of two
 * (the /api/v1/diff shape: nodes merged by their path of names, modules,
 * files, lines and kinds from the root, with base_self/base_total), as one
 * JSON object. Returns 0, -ENOMEM, or -EIO when writing failed.
 */
int web_write_tree_json(FILE *out, const struct store_tree *head,
			const struct store_tree *base, const struct web_tree_range *r);

/*
 * Write the embedded UI as one standalone HTML file whose data is inline:
 * data_json is the text of a JavaScript object ({"diff": ..., "tree": ...,
 * "meta": ..., "timeline": ..., "labels": ...}) the page reads as
 * window.EMBER_DATA; initial_hash (or NULL) is the view state to open with
 * (e.g. "diff=1"); intro_html (or NULL) is shown above the UI. The file
 * needs no network and no server. Returns 0 or -EIO.
 */
int web_write_static_report(FILE *out, const char *title, const char *data_json,
			    const char *initial_hash, const char *intro_html);

/* Write s with HTML special characters escaped. */
void web_html_escape(FILE *out, const char *s);
