/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c — everything the HTTP server reads from outside before it
 * touches the database: the route, the query parameters of web/API.md
 * (unknown, repeated, too many or too long ones; numbers; times through
 * store_time_parse; label filters through store_filter__parse) and the
 * Host header checked against DNS rebinding; control characters in the
 * path and the parameters; what a request may cost (the regexes of its
 * filters, the nodes of its tree: struct web_limits). Pure functions over
 * decoded strings: server.c calls them on what libmicrohttpd decoded,
 * and fuzz-query.c on fuzzer input.
 */
#include "request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common.h"
#include "web.h"

/* Limits of web/API.md. */
#define MAX_QUERY_BYTES 8192
#define MAX_FILTER_BYTES 4096
#define DEFAULT_MAX_NODES 1000000
#define MAX_MAX_NODES 5000000

void web_fail(struct reply *r, unsigned status, const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error_buf, sizeof(r->error_buf), fmt, ap);
	va_end(ap);
	r->status = status;
	r->error = r->error_buf;
	r->parameter = param;
}

void web_params_add(struct params *p, const char *key, size_t key_len, const char *value,
		    size_t value_len)
{
	p->bytes += key_len + value_len + 2;
	if (p->n == MAX_PARAMS) {
		p->too_many = true;
		return;
	}
	p->kv[p->n].key = key;
	p->kv[p->n].key_len = key_len;
	p->kv[p->n].value = value ? value : "";
	p->kv[p->n].value_len = value ? value_len : 0;
	p->n++;
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The first control byte of s[0..len), or -1. */
static int first_control(const char *s, size_t len, size_t *ret_at)
{
	for (size_t i = 0; i < len; i++) {
		if (is_control((unsigned char)s[i])) {
			*ret_at = i;
			return (unsigned char)s[i];
		}
	}
	return -1;
}

/*
 * Parameters are text: a NUL ("%00") would cut a value short where the
 * parser reads it as a C string, other control bytes have no use in any
 * parameter of API.md. Every parameter, of every path, is checked.
 */
static bool check_controls(const struct params *p, struct reply *r)
{
	for (size_t i = 0; i < p->n; i++) {
		size_t at;
		int c = first_control(p->kv[i].key, p->kv[i].key_len, &at);
		const char *where = "name";

		if (c < 0) {
			c = first_control(p->kv[i].value, p->kv[i].value_len, &at);
			where = "value";
		}
		if (c >= 0) {
			web_fail(r, 400, p->kv[i].key, "control character 0x%02x%s in the "
				 "parameter's %s at byte %zu: parameters are text", c,
				 c ? "" : " (NUL)", where, at + 1);
			return false;
		}
	}
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool web_uri_path_clean(const char *raw_uri, struct reply *r)
{
	for (size_t i = 0; raw_uri && raw_uri[i] && raw_uri[i] != '?'; i++) {
		unsigned c = (unsigned char)raw_uri[i];

		if (c == '%' && hex_digit(raw_uri[i + 1]) >= 0 && hex_digit(raw_uri[i + 2]) >= 0)
			c = (unsigned)(hex_digit(raw_uri[i + 1]) * 16 + hex_digit(raw_uri[i + 2]));
		if (is_control((unsigned char)c)) {
			web_fail(r, 400, NULL, "control character 0x%02x%s in the path at byte "
				 "%zu: paths are text", c, c ? "" : " (NUL)", i + 1);
			return false;
		}
	}
	return true;
}

/*
 * Check the parameters against allowed (NULL-terminated): unknown and
 * repeated ones are 400s. Returns true when they are fine.
 */
static bool check_params(const struct params *p, const char *const *allowed, struct reply *r)
{
	if (p->bytes > MAX_QUERY_BYTES) {
		web_fail(r, 400, NULL, "query string longer than %d bytes", MAX_QUERY_BYTES);
		return false;
	}
	if (p->too_many) {
		web_fail(r, 400, NULL, "more than %d parameters", MAX_PARAMS);
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		bool known = false;

		for (size_t a = 0; allowed[a] && !known; a++)
			known = !strcmp(allowed[a], p->kv[i].key);
		if (!known) {
			web_fail(r, 400, p->kv[i].key, "unknown parameter");
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(p->kv[j].key, p->kv[i].key)) {
				web_fail(r, 400, p->kv[i].key, "parameter given twice");
				return false;
			}
		}
	}
	return true;
}

const char *web_param(const struct params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->kv[i].key, key))
			return p->kv[i].value;
	return NULL;
}

/* A whole decimal number in [min, max]; absent: dflt. */
static bool get_uint(const struct params *p, const char *key, uint64_t min, uint64_t max,
		     uint64_t dflt, uint64_t *ret, struct reply *r)
{
	const char *v = web_param(p, key);
	uint64_t n = 0;

	if (!v) {
		*ret = dflt;
		return true;
	}
	if (!*v || strlen(v) > 19) {
		web_fail(r, 400, key, "expected a number from %llu to %llu",
		     (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9') {
			web_fail(r, 400, key, "expected a number from %llu to %llu",
			     (unsigned long long)min, (unsigned long long)max);
			return false;
		}
		n = n * 10 + (uint64_t)(*c - '0');
	}
	if (n < min || n > max) {
		web_fail(r, 400, key, "out of range: from %llu to %llu",
		     (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*ret = n;
	return true;
}



static bool get_time(const struct params *p, const char *key, int64_t now, int64_t *ret,
		     bool *ret_given, struct reply *r)
{
	const char *v = web_param(p, key);
	char *msg = NULL;

	*ret_given = v != NULL;
	if (!v)
		return true;
	if (store_time_parse(v, now, ret, &msg) < 0) {
		web_fail(r, 400, key, "%s", msg ? msg : "not a time");
		free(msg);
		return false;
	}
	return true;
}

/*
 * Parse prefix+from, prefix+to, prefix+filter. A base side (dflt non-NULL)
 * takes the head's value for what it does not give.
 */
static bool parse_side(const struct params *p, const char *prefix, const struct side *dflt,
		       const char *head_filter, int64_t now, const struct web_limits *limits,
		       struct side *s, struct reply *r)
{
	struct store_filter_limits fl = {
		.max_regexes = limits ? limits->max_regexes : 0,
		.max_regex_bytes = limits ? limits->max_regex_bytes : 0,
	};
	static const char *const names[2][3] = {
		{ "from", "to", "filter" },
		{ "base_from", "base_to", "base_filter" },
	};
	const char *const *k = names[prefix[0] ? 1 : 0];
	const char *expr;
	char *msg = NULL;

	store_query_init(&s->q);
	if (!get_time(p, k[0], now, &s->q.from_s, &s->has_from, r) ||
	    !get_time(p, k[1], now, &s->q.to_s, &s->has_to, r))
		return false;
	if (dflt) {
		if (!s->has_from) {
			s->q.from_s = dflt->q.from_s;
			s->has_from = dflt->has_from;
		}
		if (!s->has_to) {
			s->q.to_s = dflt->q.to_s;
			s->has_to = dflt->has_to;
		}
	}
	if (s->q.from_s > s->q.to_s) {
		web_fail(r, 400, k[0], "%s is after %s", k[0], k[1]);
		return false;
	}
	expr = web_param(p, k[2]);
	if (!expr && dflt)
		expr = head_filter;
	if (expr && strlen(expr) > MAX_FILTER_BYTES) {
		web_fail(r, 400, k[2], "filter longer than %d bytes", MAX_FILTER_BYTES);
		return false;
	}
	if (expr) {
		int err = store_filter__parse_limited(expr, &fl, &s->filter, &msg);

		if (err < 0) {
			web_fail(r, 400, k[2], "%s", msg ? msg : strerror(-err));
			r->too_costly = err == -E2BIG;
			free(msg);
			return false;
		}
	}
	s->q.filter = s->filter;
	s->q.max_tree_nodes = limits ? limits->max_tree_nodes : 0;
	return true;
}

/* The regexes of filter and base_filter together, within limits. */
static bool check_regexes(const struct request *q, const struct params *p,
			  const struct web_limits *limits, struct reply *r)
{
	size_t head_bytes, base_bytes, n;
	const char *param;

	if (!limits)
		return true;
	n = store_filter__regexes(q->head.filter, &head_bytes) +
	    store_filter__regexes(q->base.filter, &base_bytes);
	param = web_param(p, "base_filter") ? "base_filter" : "filter";
	if (limits->max_regexes && n > limits->max_regexes) {
		web_fail(r, 400, param, "more than %zu regular expressions (=~ or !~ terms) in "
			 "filter and base_filter together", limits->max_regexes);
		r->too_costly = true;
		return false;
	}
	if (limits->max_regex_bytes && head_bytes + base_bytes > limits->max_regex_bytes) {
		web_fail(r, 400, param, "regular expressions too big: compiled, filter and "
			 "base_filter together would take more than %zu KiB",
			 limits->max_regex_bytes >> 10);
		r->too_costly = true;
		return false;
	}
	return true;
}

void web_limits__init(struct web_limits *ret, size_t query_bytes)
{
	*ret = (struct web_limits){
		.max_tree_nodes = query_bytes / WEB_TREE_NODE_BYTES,
		.max_regexes = WEB_MAX_REGEXES,
		.max_regex_bytes = MIN((size_t)WEB_MAX_REGEX_BYTES, query_bytes / 8),
	};
}

/* ---- one request, checked whole ---- */

/* In the order of endpoints.c's export table (request.export_format). */
static const char *const builtin_formats[] = { "pprof", "folded", "speedscope" };

bool web_request_parse(const char *url, const struct params *p, int64_t now,
		       const struct web_limits *limits, struct request *q,
		       struct reply *r)
{
	static const char *const none[] = { NULL };
	static const char *const range[] = { "from", "to", "filter", NULL };
	static const char *const tree[] = { "from", "to", "filter", "max_nodes", NULL };
	static const char *const diff[] = { "from", "to", "filter", "base_from", "base_to",
					    "base_filter", "max_nodes", NULL };
	static const char *const timeline[] = { "from", "to", "filter", "step", NULL };
	static const char *const labels[] = { "from", "to", "limit", NULL };
	static const char *const top[] = { "from", "to", "filter", "limit", "sort", NULL };
	static const struct {
		const char *path;
		enum web_endpoint ep;
		const char *const *allowed;
	} routes[] = {
		{ "/", WEB_EP_UI, none }, { "/index.html", WEB_EP_UI, none },
		{ "/healthz", WEB_EP_HEALTHZ, NULL }, { "/metrics", WEB_EP_METRICS, none },
		{ "/api/v1/meta", WEB_EP_META, none }, { "/api/v1/tree", WEB_EP_TREE, tree },
		{ "/api/v1/diff", WEB_EP_DIFF, diff }, { "/api/v1/timeline", WEB_EP_TIMELINE, timeline },
		{ "/api/v1/labels", WEB_EP_LABELS, labels }, { "/api/v1/top", WEB_EP_TOP, top },
	};
	const char *export_prefix = "/api/v1/export/";
	const char *const *allowed = NULL;
	const char *sort;
	size_t i;

	memset(q, 0, sizeof(*q));
	q->ep = WEB_EP_NOT_FOUND;
	q->client_fd = -1;
	if (!check_controls(p, r))
		return false;
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!strcmp(url, routes[i].path)) {
			q->ep = routes[i].ep;
			allowed = routes[i].allowed;
			break;
		}
	}
	if (i == ARRAY_SIZE(routes) && !strncmp(url, export_prefix, strlen(export_prefix))) {
		for (size_t k = 0; k < ARRAY_SIZE(builtin_formats); k++) {
			if (!strcmp(url + strlen(export_prefix), builtin_formats[k])) {
				q->ep = WEB_EP_EXPORT;
				q->export_format = (int)k;
				allowed = range;
			}
		}
	}
	if (q->ep == WEB_EP_NOT_FOUND) {
		web_fail(r, 404, NULL, "not found");
		return false;
	}
	/* /healthz answers whatever its parameters: a probe never fails on them. */
	if (!allowed || !check_params(p, allowed, r))
		return allowed == NULL;
	switch (q->ep) {
	case WEB_EP_TREE:
	case WEB_EP_DIFF:
		if (!get_uint(p, "max_nodes", 1, MAX_MAX_NODES, DEFAULT_MAX_NODES,
			      &q->max_nodes, r))
			return false;
		break;
	case WEB_EP_TIMELINE:
		if (!get_uint(p, "step", 1, 100ULL * 365 * 86400, 0, &q->step, r))
			return false;
		break;
	case WEB_EP_LABELS:
		if (!get_uint(p, "limit", 1, 1000000, 1000, &q->limit, r))
			return false;
		break;
	case WEB_EP_TOP:
		if (!get_uint(p, "limit", 0, UINT32_MAX, 100, &q->limit, r))
			return false;
		sort = web_param(p, "sort");
		if (sort && strcmp(sort, "self") && strcmp(sort, "total")) {
			web_fail(r, 400, "sort", "expected self or total");
			return false;
		}
		q->sort_total = sort && !strcmp(sort, "total");
		break;
	default:
		break;
	}
	if (q->ep >= WEB_EP_TREE && !parse_side(p, "", NULL, NULL, now, limits, &q->head, r))
		return false;
	if (q->ep == WEB_EP_DIFF &&
	    !parse_side(p, "base_", &q->head, web_param(p, "filter"), now, limits, &q->base, r))
		return false;
	return check_regexes(q, p, limits, r);
}

void web_request_free(struct request *q)
{
	store_filter__free(q->head.filter);
	store_filter__free(q->base.filter);
	q->head.filter = q->base.filter = NULL;
}

/* ---- the Host header (DNS rebinding) ---- */

static bool v4_is_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool v6_is_loopback(const struct in6_addr *a)
{
	struct in_addr v4;

	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	if (!IN6_IS_ADDR_V4MAPPED(a))
		return false;
	memcpy(&v4, &a->s6_addr[12], sizeof(v4));
	return v4_is_loopback(&v4);
}

bool web_address_is_loopback(const char *address)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!address)
		return false;
	if (inet_pton(AF_INET, address, &a4) == 1)
		return v4_is_loopback(&a4);
	return inet_pton(AF_INET6, address, &a6) == 1 && v6_is_loopback(&a6);
}

/* Host header value -> the name (brackets of an IPv6 literal removed) and
 * whether it was bracketed; false when malformed (bad port, junk). */
static bool split_host(const char *host, const char **ret_name, size_t *ret_len,
		       bool *ret_v6)
{
	const char *port, *colon;
	unsigned long v = 0;

	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		if (!close)
			return false;
		*ret_name = host + 1;
		*ret_len = (size_t)(close - host - 1);
		*ret_v6 = true;
		port = close + 1;
		if (*port && *port != ':')
			return false;
	} else {
		colon = strchr(host, ':');
		*ret_name = host;
		*ret_len = colon ? (size_t)(colon - host) : strlen(host);
		*ret_v6 = false;
		port = colon ? colon : "";
	}
	if (*port == ':') {
		port++;
		if (!*port || strlen(port) > 5)
			return false;
		for (const char *c = port; *c; c++) {
			if (*c < '0' || *c > '9')
				return false;
			v = v * 10 + (unsigned long)(*c - '0');
		}
		if (v > 65535)
			return false;
	}
	return *ret_len > 0;
}

static bool name_is_loopback(const char *name, size_t len, bool v6)
{
	char buf[256];
	struct in_addr a4;
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (v6)
		return inet_pton(AF_INET6, buf, &a6) == 1 && v6_is_loopback(&a6);
	if (buf[len - 1] == '.')
		buf[--len] = '\0'; /* "localhost." is the same name */
	/* RFC 6761: localhost and every name under it resolve to loopback. */
	if (!strcasecmp(buf, "localhost") ||
	    (len > 10 && !strcasecmp(buf + len - 10, ".localhost")))
		return true;
	return inet_pton(AF_INET, buf, &a4) == 1 && v4_is_loopback(&a4);
}

bool web_host_allowed(const char *host, const char *const *allowed, size_t n_allowed)
{
	const char *name;
	size_t len;
	bool v6;

	if (!host)
		return true;
	for (size_t i = 0; i < n_allowed; i++)
		if (allowed[i] && !strcmp(allowed[i], "*"))
			return true;
	if (!split_host(host, &name, &len, &v6))
		return false;
	for (const char *c = name; c < name + len; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || *c == '@' || *c == '\\')
			return false;
	if (name_is_loopback(name, len, v6))
		return true;
	for (size_t i = 0; i < n_allowed; i++) {
		const char *a = allowed[i];
		size_t alen;

		if (!a)
			continue;
		alen = strlen(a);
		if (a[0] == '[' && alen >= 2 && a[alen - 1] == ']') {
			a++;
			alen -= 2;
		}
		if (alen == len && !strncasecmp(a, name, len))
			return true;
	}
	return false;
}
