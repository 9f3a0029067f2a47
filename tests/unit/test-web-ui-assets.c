/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-web-ui-assets.c — the UI page embedded in the binary (ui_assets.c,
 * generated at build time by web/ui/embed.py) is the whole bundled page:
 * one HTML document with its scripts and stylesheet inline and nothing
 * loaded from elsewhere, so the UI works with no network beyond the agent.
 */
#include <stdio.h>
#include <string.h>

#include "ui_assets.h"

static int failures;

#define CHECK(cond, what)                                              \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "FAIL: %s\n", what);           \
			failures++;                                    \
		}                                                      \
	} while (0)

int main(void)
{
	const char *page = (const char *)web_ui_index_html;

	CHECK(web_ui_index_html_len > 10000, "page is not empty");
	CHECK(page[web_ui_index_html_len] == '\0', "page is NUL-terminated after its length");
	CHECK(strlen(page) == web_ui_index_html_len, "page holds no NUL byte (servable as text)");
	CHECK(strncmp(page, "<!doctype html>", 15) == 0, "page starts with the HTML doctype");
	CHECK(strstr(page, "E.flame = { create") != NULL, "renderer is inline");
	CHECK(strstr(page, "window.emberApp") != NULL, "app is inline");
	CHECK(strstr(page, "<style>") != NULL, "stylesheet is inline");
	CHECK(strstr(page, "<script src=") == NULL, "no external script");
	CHECK(strstr(page, "<link rel=\"stylesheet\"") == NULL, "no external stylesheet");
	CHECK(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL,
	      "no absolute URL (works offline)");
	if (failures)
		return 1;
	printf("web-ui-assets: %zu bytes, self-contained\n", web_ui_index_html_len);
	return 0;
}
