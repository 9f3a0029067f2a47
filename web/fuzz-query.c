/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-query.c — libFuzzer entry point for what the HTTP server reads from
 * a request before any query runs (request.c): the route, the query
 * parameters with their times (store_time_parse) and label filters
 * (store_filter__parse), and the Host header. The input is a request as
 * text: "PATH?QUERY" on the first line, the Host header's value on the
 * second (no second line: no Host). The query is split on '&' and '=' and
 * %-decoded with libmicrohttpd's own MHD_http_unescape, as the server gets
 * it (the path is checked for control characters before it is decoded).
 * Every answer is checked the way a client relies on it: a parsed
 * request has a sane range and its filter, no control byte in any
 * parameter, regexes within the server's limits; an error has a status,
 * a message and names a parameter that was given. Built with clang
 * -fsanitize=fuzzer for fuzzing (scripts/fuzz.sh); its corpus
 * (web/fuzz-query-corpus) runs as a unit test through
 * tests/unit/fuzz-driver.c with any compiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common.h"
#include "request.h"
#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed clock: relative times ("now-1h") stay reproducible. */
#define FUZZ_NOW 1700000000

/* The server's limits at its default budget and threads (server.c takes
 * its own from web_limits__init too), set by the first input. */
static struct web_limits limits;

static void add_param(struct params *p, char *key, char *value)
{
	/* as libmicrohttpd gives them: decoded, with decoded lengths */
	size_t key_len = MHD_http_unescape(key);
	size_t value_len = value ? MHD_http_unescape(value) : 0;

	web_params_add(p, key, key_len, value, value_len);
}

static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static bool given(const struct params *p, const char *key)
{
	return web_param(p, key) != NULL;
}

static void check_error(const struct params *p, const struct reply *r)
{
	char *json = NULL;
	size_t len = 0;
	FILE *f;

	if (!r->error || !r->error[0] || (r->status != 400 && r->status != 404) ||
	    (r->too_costly && r->status != 400))
		__builtin_trap();
	/* the parameter at fault is one the request gave */
	if (r->parameter && !given(p, r->parameter))
		__builtin_trap();
	/* the JSON error body is valid text: no raw control character */
	f = open_memstream(&json, &len);
	if (!f)
		return;
	common_json_string(f, r->error);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)json[i] < 0x20)
			__builtin_trap();
	free(json);
}

static void check_request(const struct params *p, const struct request *q)
{
	size_t n = 0, bytes = 0, base_bytes = 0;

	if (q->ep == WEB_EP_NOT_FOUND)
		__builtin_trap();
	/* no parameter with a control byte (a NUL above all) gets through */
	for (size_t i = 0; i < p->n; i++)
		if (has_control(p->kv[i].key, p->kv[i].key_len) ||
		    has_control(p->kv[i].value, p->kv[i].value_len))
			__builtin_trap();
	/* what a request costs stays within the limits */
	n = store_filter__regexes(q->head.filter, &bytes) +
	    store_filter__regexes(q->base.filter, &base_bytes);
	if (n > limits.max_regexes || bytes + base_bytes > limits.max_regex_bytes)
		__builtin_trap();
	if (q->ep < WEB_EP_TREE)
		return;
	if (q->head.q.from_s > q->head.q.to_s || q->head.q.filter != q->head.filter)
		__builtin_trap();
	if (q->ep != WEB_EP_LABELS && given(p, "filter") != (q->head.filter != NULL))
		__builtin_trap();
	if (q->ep == WEB_EP_DIFF &&
	    (q->base.q.from_s > q->base.q.to_s ||
	     ((given(p, "base_filter") || given(p, "filter")) != (q->base.filter != NULL))))
		__builtin_trap();
	if ((q->ep == WEB_EP_TREE || q->ep == WEB_EP_DIFF) &&
	    (q->max_nodes < 1 || q->max_nodes > 5000000))
		__builtin_trap();
	if (q->head.q.max_tree_nodes != limits.max_tree_nodes)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = { "ember.example.com" };
	struct params p = {0};
	struct request q;
	struct reply r = {0};
	char *text, *nl, *host = NULL, *query, *save = NULL;
	bool ok, path_ok, loopback, with_name;

	if (!limits.max_regexes)
		web_limits__init(&limits, WEB_DEFAULT_BUDGET / (WEB_DEFAULT_THREADS + 1));
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = strchr(text, '\n');
	if (nl) {
		*nl = '\0';
		host = nl + 1;
		host[strcspn(host, "\r\n")] = '\0';
	}
	/* the path as sent, then decoded the way libmicrohttpd does */
	path_ok = web_uri_path_clean(text, &r);
	if (!path_ok)
		check_error(&p, &r);
	query = strchr(text, '?');
	if (query)
		*query++ = '\0';
	MHD_http_unescape(text);
	for (char *kv = query ? strtok_r(query, "&", &save) : NULL; kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		add_param(&p, kv, eq);
	}

	if (path_ok) {
		ok = web_request_parse(text, &p, FUZZ_NOW, &limits, &q, &r);
		if (ok)
			check_request(&p, &q);
		else
			check_error(&p, &r);
		web_request_free(&q);
	}

	/* A name allowed without a list is allowed with one; "*" allows all. */
	loopback = web_host_allowed(host, NULL, 0);
	with_name = web_host_allowed(host, allowed, ARRAY_SIZE(allowed));
	if ((loopback && !with_name) || !web_host_allowed(host, (const char *const[]){ "*" }, 1))
		__builtin_trap();
	free(text);
	return 0;
}
