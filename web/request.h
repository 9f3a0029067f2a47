/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.h — private to web/: one request's decoded query parameters, its
 * checked form (route, time ranges, filters, numbers) and the reply a
 * handler builds. request.c turns outside input into these without any
 * database; server.c admits them and endpoints.c answers them;
 * fuzz-query.c fuzzes request.c.
 *
 * Thread safety: the functions are pure; each request has its own structs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define MAX_PARAMS 16

/* One request's query parameters (decoded: libmicrohttpd, or the fuzzer),
 * with their decoded lengths: a NUL decoded from "%00" ends the C string
 * early, and the lengths tell. */
struct params {
	struct {
		const char *key, *value;
		size_t key_len, value_len;
	} kv[MAX_PARAMS];
	size_t n;
	size_t bytes;
	bool too_many;
};

/* Add key=value (value NULL: a key without '='), with their decoded
 * lengths, as libmicrohttpd's iterator and the fuzzer give them. */
void web_params_add(struct params *p, const char *key, size_t key_len, const char *value,
		    size_t value_len);

/* What one request may cost, set by the server from its memory budget. */
struct web_limits {
	size_t max_regexes;     /* =~, !~ terms of filter and base_filter */
	size_t max_regex_bytes; /* their compiled size together */
	size_t max_tree_nodes;  /* store_query.max_tree_nodes */
};

/*
 * What a request may cost, from the memory budget W (web_options:
 * WEB_DEFAULT_BUDGET when not given) and the query threads Q
 * (WEB_DEFAULT_THREADS). A query reserves W / (Q + 1) while it runs, so
 * Q of them leave a share for answers still being sent. In that
 * reservation: the tree, at WEB_TREE_NODE_BYTES a node (a busy day's
 * 155,000-node tree peaked at 32 MB in ember serve, 206 bytes a node:
 * the tree, the children table, the JSON writer's merge and string
 * tables, growth by doubling), and the answer, at most half of it.
 * Regexes: WEB_MAX_REGEXES terms and WEB_MAX_REGEX_BYTES compiled
 * (store_regex.c), or an eighth of the reservation, for filter and
 * base_filter. web_limits__init sets *ret for a reservation of
 * query_bytes; the server (server.c) and the fuzzer (fuzz-query.c) both
 * take their limits from it.
 */
#define WEB_DEFAULT_BUDGET (64u << 20)
#define WEB_DEFAULT_THREADS 2
#define WEB_TREE_NODE_BYTES 256
#define WEB_MAX_REGEXES 16
#define WEB_MAX_REGEX_BYTES (1u << 20)

void web_limits__init(struct web_limits *ret, size_t query_bytes);

/* What a handler answers: a status, a body and its type, or an error. */
struct reply {
	unsigned status;
	char *body;          /* malloc'd (or NULL with static_body) */
	size_t len;
	const void *static_body;
	const char *type;
	char disposition[160];
	const char *error;   /* status >= 400: message ... */
	char error_buf[512];
	const char *parameter; /* ... and the parameter at fault, or NULL */
	unsigned retry_after;  /* 503: seconds for Retry-After (0: none) */
	bool too_costly;       /* refused for a limit of web_limits */
};


/* A query side: time range (and whether each end was given) and filter. */
struct side {
	struct store_query q;
	struct store_filter *filter;
	bool has_from, has_to;
};

enum web_endpoint {
	WEB_EP_NOT_FOUND, WEB_EP_UI, WEB_EP_HEALTHZ, WEB_EP_METRICS, WEB_EP_META,
	/* from here on, endpoints with a time range and (but labels) a filter */
	WEB_EP_TREE, WEB_EP_DIFF, WEB_EP_TIMELINE, WEB_EP_LABELS, WEB_EP_TOP, WEB_EP_EXPORT,
};

/* A request after every check: what the handler needs and nothing else. */
struct request {
	enum web_endpoint ep;
	int export_format;       /* WEB_EP_EXPORT: pprof, folded, speedscope */
	struct side head, base;  /* base: WEB_EP_DIFF only */
	uint64_t max_nodes;      /* tree, diff */
	uint64_t step;           /* timeline; 0 = choose */
	uint64_t limit;          /* labels, top */
	bool sort_total;         /* top */
	int client_fd;           /* the client's socket, -1 when none: a query
	                            may end once it is closed (server.c sets it) */
};

/* Set r to an error: status, the parameter at fault (or NULL), message. */
void web_fail(struct reply *r, unsigned status, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The value of parameter key, or NULL. */
const char *web_param(const struct params *p, const char *key);

/*
 * Whether the request target raw_uri (as sent: before %-decoding) has a
 * path free of control characters, raw or %-encoded (NUL, 0x01-0x1f,
 * 0x7f). libmicrohttpd decodes the path into a C string, where a "%00"
 * would end it early. False: the 400 is in *r.
 */
bool web_uri_path_clean(const char *raw_uri, struct reply *r);

/*
 * Route url and check every parameter of p the way web/API.md says, with
 * now (Unix seconds) for relative times and limits for what it may cost.
 * Returns true and fills *q (free it with web_request_free(), also after
 * false), or false with the error (400 naming the parameter, 404) in *r.
 */
bool web_request_parse(const char *url, const struct params *p, int64_t now,
		       const struct web_limits *limits, struct request *q,
		       struct reply *r);
void web_request_free(struct request *q);
