/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.c — what each request of web/API.md is answered with: the
 * query thread's own read-only store handle, a storage query, and the
 * JSON (tree_json.c, data_json.c), export or /metrics text (metrics.c)
 * written into a bounded body; a storage error turned into its status
 * (400 too costly, 501 not kept by this store, 502 the fleet store's
 * server, 503 busy, timed out or unreadable now, 500 otherwise). The
 * connections, the queue and the threads that call in here are
 * server.c's.
 *
 * Invariants:
 * - a store handle is used only by the query thread that opened it
 *   (thread_db: a thread-local key), never by libmicrohttpd's thread:
 *   web_api__inline answers only what needs no database;
 * - one body at a time per thread (body_tls): body_open is followed by
 *   exactly one body_close or body_discard, which leave it empty;
 * - a reply is a body or an error, never both: an error after the body
 *   was started discards the body (body_end);
 * - a handle that failed with an error that may have broken it is
 *   closed and forgotten (fail_store), so the next request opens anew.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common.h"
#include "metrics.h"
#include "ui_assets.h"

/* Limits of web/API.md (the parameters' own are in request.c). */
#define TIMELINE_MAX_POINTS 10000

/* ---- the per-thread database handle ---- */

void web_db__close(void *db)
{
	store_db__close(db);
}

/* What this thread's handle caches, as last added to its server's
 * cache_bytes. */
static __thread uint64_t cache_reported;

void web_db__account(struct web_server *srv)
{
	struct store_db *db = pthread_getspecific(srv->db_key);
	struct store_memory m;
	uint64_t now;

	store_db__memory(db, &m);
	now = m.reader + m.writer;
	if (now >= cache_reported)
		__atomic_add_fetch(&srv->cache_bytes, now - cache_reported, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&srv->cache_bytes, cache_reported - now, __ATOMIC_RELAXED);
	cache_reported = now;
}

void web_db__drop(struct web_server *srv)
{
	struct store_db *db = pthread_getspecific(srv->db_key);

	if (db) {
		pthread_setspecific(srv->db_key, NULL);
		store_db__close(db);
	}
	web_db__account(srv);
}

/* Why this thread's last open failed (the fleet store says why). */
static __thread char open_error[256];

int web_db__open(const char *path, const struct store_ch_config *remote, struct store_db **ret)
{
	char *error = NULL;
	int err;

	open_error[0] = 0;
	if (!remote)
		return store_db__open(path, STORE_OPEN_READ, ret);
	err = store_db__open_clickhouse(remote, ret, &error);
	if (err && error)
		snprintf(open_error, sizeof(open_error), "%s", error);
	free(error);
	return err;
}

/* The socket of the request this thread answers (-1: none). */
static __thread int client_fd = -1;

/* Whether the client of this thread's request went away: its socket
 * reads the end (or fails). Asked while a fleet store's query waits
 * (store_db__set_cancel); pipelined bytes waiting are not an end. */
static bool client_gone(void *ctx)
{
	int fd = *(const int *)ctx;
	char b;
	ssize_t n;

	if (fd < 0)
		return false;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			  errno != ENOTSOCK);
}

static int thread_db(struct web_server *srv, struct store_db **ret)
{
	struct store_db *db = pthread_getspecific(srv->db_key);
	int err;

	if (!db) {
		err = web_db__open(srv->db_path, srv->remote, &db);
		if (err)
			return err;
		if (pthread_setspecific(srv->db_key, db)) {
			store_db__close(db);
			return -ENOMEM;
		}
	}
	store_db__set_deadline(db, common_now_ns() +
			       (uint64_t)srv->query_timeout_ms * 1000000ULL);
	/* (client_fd is this thread's: its address stays valid) */
	store_db__set_cancel(db, client_gone, &client_fd);
	*ret = db;
	return 0;
}

/* A storage error as a reply; handles that may be broken are dropped. */
static void fail_store(struct web_server *srv, struct store_db *db, int err, struct reply *r)
{
	if (err == -ETIMEDOUT) {
		web_fail(r, 503, NULL, "query timed out");
	} else if (err == -ECANCELED) {
		/* (nobody reads it: the connection is closed) */
		web_fail(r, 503, NULL, "the client went away");
	} else if (err == -E2BIG) {
		/* store_query.max_tree_nodes */
		web_fail(r, 400, NULL, "%s, more than one request may build within this "
			 "server's memory budget (--memory): choose a shorter range or a "
			 "narrower filter", db ? store_db__errmsg(db) : "too big");
		r->too_costly = true;
	} else if (err == -EBUSY) {
		web_fail(r, 503, NULL, "database busy, try again");
	} else if (err == -ENOSYS) {
		/* what this kind of store does not keep (the fleet's) */
		web_fail(r, 501, NULL, "%s", db ? store_db__errmsg(db) : store_strerror(err));
	} else if (srv->remote && (err == -ECONNREFUSED || err == -EHOSTUNREACH ||
				   err == -EACCES || err == -EKEYREJECTED || err == -EPERM ||
				   err == -EAGAIN)) {
		/* the fleet store's server */
		web_fail(r, 502, NULL, "%s", db ? store_db__errmsg(db) : open_error[0] ? open_error
			 : store_strerror(err));
	} else if (err == -ENOENT || err == -EPROTO) {
		web_fail(r, 503, NULL, "database cannot be read now: %s", !db && open_error[0]
			 ? open_error : store_strerror(err));
	} else {
		web_fail(r, 500, NULL, "%s: %s", store_strerror(err),
		     db ? store_db__errmsg(db) : open_error[0] ? open_error : "opening the database");
	}
	if (db && err != -ETIMEDOUT && err != -ECANCELED && err != -EBUSY && err != -ENOMEM && err != -E2BIG) {
		pthread_setspecific(srv->db_key, NULL);
		store_db__close(db);
	}
}

/* This thread's handle, or NULL with r saying why it cannot be opened. */
static struct store_db *reply_db(struct web_server *srv, struct reply *r)
{
	struct store_db *db = NULL;
	int err = thread_db(srv, &db);

	if (err) {
		fail_store(srv, NULL, err, r);
		return NULL;
	}
	return db;
}

/* The body being written on this thread (one at a time: body_open to
 * body_close or body_discard), bounded by the server's max_body. */
static __thread struct web_body body_tls;

static FILE *body_open(struct web_server *srv, struct reply *r)
{
	FILE *f;

	assert(!body_tls.buf && !body_tls.len); /* one body at a time */
	f = web_body__open(&body_tls, srv->max_body);
	if (!f)
		web_fail(r, 500, NULL, "out of memory");
	return f;
}

static void body_discard(FILE *f)
{
	fclose(f);
	free(body_tls.buf);
	memset(&body_tls, 0, sizeof(body_tls));
}

static bool body_close(FILE *f, struct reply *r, int err)
{
	if (fclose(f) != 0 && !err)
		err = -ENOMEM;
	if (body_tls.over) {
		free(body_tls.buf);
		web_fail(r, 400, NULL, "the answer would be larger than %zu MiB, what one "
			 "request may take of this server's memory budget (--memory): choose a "
			 "shorter range or a narrower filter", body_tls.max >> 20);
		r->too_costly = true;
		memset(&body_tls, 0, sizeof(body_tls));
		return false;
	}
	/* held until sent: no more than its length (growth doubled it) */
	r->body = body_tls.len && body_tls.len < body_tls.cap ? realloc(body_tls.buf, body_tls.len)
							     : NULL;
	if (!r->body)
		r->body = body_tls.buf;
	r->len = body_tls.len;
	memset(&body_tls, 0, sizeof(body_tls));
	if (err) {
		free(r->body);
		r->body = NULL;
		web_fail(r, 500, NULL, "writing the answer: %s", strerror(-err));
		return false;
	}
	r->status = 200;
	if (!r->type)
		r->type = "application/json; charset=utf-8";
	return true;
}

/* The range a reply reports: the given ends, else the data's. */
static int resolve_range(struct store_db *db, const struct side *s, int64_t *ret_from,
			 int64_t *ret_to)
{
	int64_t first = 0, end = 0;
	int err = 0;

	if (!s->has_from || !s->has_to) {
		struct store_query all;

		store_query_init(&all);
		all.from_s = s->q.from_s;
		all.to_s = s->q.to_s;
		err = store_db__span(db, &all, &first, &end, NULL);
	}
	*ret_from = s->has_from ? s->q.from_s : first;
	*ret_to = s->has_to ? s->q.to_s : end;
	if (*ret_to < *ret_from)
		*ret_to = *ret_from;
	return err;
}

/* ---- endpoints ---- */

/* The end of a body written from the store: err 0 or -EIO (a write that
 * failed: a 500), the body is the answer; any other error is the
 * store's, and the body is dropped: no half answer. */
static void body_end(struct web_server *srv, struct store_db *db, FILE *f,
		     struct reply *r, int err)
{
	if (err == -EIO || !err) {
		body_close(f, r, err);
		return;
	}
	body_discard(f);
	r->type = NULL;
	fail_store(srv, db, err, r);
}

/* The tree of side s and the range it reports: true, else false with r
 * the store's error (the caller frees *ret_tree either way). */
static bool side_tree(struct web_server *srv, struct store_db *db, const struct side *s,
		      struct store_tree **ret_tree, int64_t *ret_from, int64_t *ret_to,
		      struct reply *r)
{
	int err = store_db__query_tree(db, &s->q, ret_tree);

	if (!err)
		err = resolve_range(db, s, ret_from, ret_to);
	if (err)
		fail_store(srv, db, err, r);
	return !err;
}

/* What the JSON writers make straight from the store: /meta, /labels. */
static void api_json(struct web_server *srv, const struct request *q, struct reply *r)
{
	struct store_db *db = reply_db(srv, r);
	FILE *f;

	if (!db || !(f = body_open(srv, r)))
		return;
	body_end(srv, db, f, r, q->ep == WEB_EP_META ? web_write_meta_json(f, db)
			: web_write_labels_json(f, db, &q->head.q, q->limit));
}

static void api_tree(struct web_server *srv, const struct request *q, struct reply *r)
{
	const struct side *head = &q->head, *base = &q->base;
	bool diff = q->ep == WEB_EP_DIFF;
	struct store_tree *ht = NULL, *bt = NULL;
	struct web_tree_range range = {0};
	struct store_db *db = reply_db(srv, r);
	FILE *f;

	if (!db || !side_tree(srv, db, head, &ht, &range.from, &range.to, r) ||
	    (diff && !side_tree(srv, db, base, &bt, &range.base_from, &range.base_to, r)))
		goto out;
	f = body_open(srv, r);
	if (f)
		body_close(f, r, web_write_tree_json_max(f, ht, bt, &range, q->max_nodes));
out:
	store_tree__free(ht);
	store_tree__free(bt);
}

static void api_timeline(struct web_server *srv, const struct request *q, struct reply *r)
{
	const struct side *s = &q->head;
	struct store_db *db = NULL;
	int64_t from, to;
	FILE *f;
	int err;

	db = reply_db(srv, r);
	if (!db)
		return;
	err = resolve_range(db, s, &from, &to);
	if (err) {
		fail_store(srv, db, err, r);
		return;
	}
	if (q->step && (uint64_t)(to - from) / q->step >= TIMELINE_MAX_POINTS) {
		web_fail(r, 400, "step", "more than %d points: choose a longer step or a shorter range",
			 TIMELINE_MAX_POINTS);
		return;
	}
	f = body_open(srv, r);
	if (!f)
		return;
	err = web_write_timeline_json(f, db, &s->q, from, to, q->step);
	body_end(srv, db, f, r, err);
}

static int by_total(const void *a, const void *b)
{
	const struct store_top_entry *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	return 0;
}

static void api_top(struct web_server *srv, const struct request *q, struct reply *r)
{
	struct store_top_entry *e = NULL;
	struct store_tree *t = NULL;
	struct store_db *db = NULL;
	uint64_t limit = q->limit;
	size_t n = 0;
	FILE *f;
	int err;

	db = reply_db(srv, r);
	if (!db)
		goto out;
	err = store_db__query_tree(db, &q->head.q, &t);
	if (!err)
		err = store_tree__top(t, &e, &n);
	if (err) {
		fail_store(srv, db, err, r);
		goto out;
	}
	if (q->sort_total)
		qsort(e, n, sizeof(*e), by_total);
	if (limit && n > limit)
		n = limit;
	f = body_open(srv, r);
	if (!f)
		goto out;
	fprintf(f, "{\"samples\":%llu,\"functions\":[",
		(unsigned long long)(store_tree__size(t) ? store_tree__node(t, 0)->total : 0));
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		common_json_string(f, e[i].name);
		fputs(",\"module\":", f);
		common_json_string(f, e[i].module ? e[i].module : "");
		fprintf(f, ",\"kind\":%d,\"self\":%llu,\"total\":%llu}", (int)e[i].kind,
			(unsigned long long)e[i].self, (unsigned long long)e[i].total);
	}
	fputs("]}", f);
	body_close(f, r, ferror(f) ? -EIO : 0);
out:
	free(e);
	store_tree__free(t);
}

static void api_export(struct web_server *srv, const struct request *q, struct reply *r)
{
	static const struct {
		const char *name, *ext, *type;
		enum store_export_format fmt;
	} formats[] = {
		{ "pprof", "pb.gz", "application/octet-stream", STORE_EXPORT_PPROF },
		{ "folded", "folded.txt", "text/plain; charset=utf-8", STORE_EXPORT_FOLDED },
		{ "speedscope", "speedscope.json", "application/json", STORE_EXPORT_SPEEDSCOPE },
	};
	const struct side *s = &q->head;
	size_t k = (size_t)q->export_format;
	struct store_db *db = reply_db(srv, r);
	struct store_tree *t = NULL;
	int64_t from, to;
	FILE *f;
	int err;

	if (!db || !side_tree(srv, db, s, &t, &from, &to, r))
		goto out;
	f = body_open(srv, r);
	if (!f)
		goto out;
	err = store_db__export_tree(db, &s->q, t, formats[k].fmt, f);
	r->type = formats[k].type;
	snprintf(r->disposition, sizeof(r->disposition),
		 "attachment; filename=\"ember-%lld-%lld.%s\"", (long long)from, (long long)to,
		 formats[k].ext);
	if (err && err != -EIO && err != -ENOMEM) {
		body_discard(f);
		fail_store(srv, db, err, r);
		goto out;
	}
	body_close(f, r, err);
out:
	store_tree__free(t);
}

/* ---- /metrics (the text: metrics.c) ---- */

/* The server's own limits at work: connections shut, requests refused,
 * the memory budget. */
static void http_metrics(struct web_server *srv, FILE *f)
{
	struct web_guard_stats g;

	web_guard__stats(srv->guard, &g);
	web_metric(f, "ember_http_connections", "gauge", "HTTP connections open.", (double)g.open);
	web_metric_head(f, "ember_http_connections_dropped_total", "counter",
			"Connections the server shut, per reason.");
	web_metric_line(f, "ember_http_connections_dropped_total", "reason", "header-timeout",
			g.header_timeouts);
	web_metric_line(f, "ember_http_connections_dropped_total", "reason", "send-timeout",
			g.send_timeouts);
	web_metric_line(f, "ember_http_connections_dropped_total", "reason", "connection-limit",
			g.limit_drops);
	web_metric_head(f, "ember_http_requests_refused_total", "counter",
			"Requests refused for the server's limits, per reason.");
	web_metric_line(f, "ember_http_requests_refused_total", "reason", "busy",
			__atomic_load_n(&srv->refused_busy, __ATOMIC_RELAXED));
	web_metric_line(f, "ember_http_requests_refused_total", "reason", "too-costly",
			__atomic_load_n(&srv->refused_costly, __ATOMIC_RELAXED));
	web_metric(f, "ember_http_memory_bytes", "gauge",
		   "Memory reserved by queries running and held by answers being sent.",
		   (double)web_budget__used(&srv->budget));
	web_metric(f, "ember_http_memory_budget_bytes", "gauge",
		   "The HTTP server's memory budget for requests.", (double)srv->budget.budget);
}

static void api_metrics(struct web_server *srv, struct reply *r)
{
	struct web_metrics m;
	uint64_t defs[2] = { 0, 0 };
	bool have;
	FILE *f;

	pthread_mutex_lock(&srv->lock);
	m = srv->metrics;
	have = srv->have_metrics;
	pthread_mutex_unlock(&srv->lock);
	f = body_open(srv, r);
	if (!f)
		return;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	if (have) {
		web_metrics__write_agent(f, &m);
	} else {
		struct store_summary *sum = NULL;
		struct store_coverage *cov = NULL;
		struct store_db *db = NULL;
		size_t n_cov = 0;
		int err = thread_db(srv, &db);

		if (!err)
			err = store_db__summary(db, NULL, &sum);
		if (!err)
			err = store_db__query_coverage(db, NULL, &cov, &n_cov);
		if (err == -ENOSYS)
			err = 0; /* the fleet store keeps no coverage */
		if (err) {
			body_discard(f);
			r->type = NULL;
			store_summary__free(sum);
			fail_store(srv, db, err, r);
			return;
		}
		web_metrics__write_file(f, sum, cov, n_cov);
		/* this thread's handle as it is now (the summary filled it) */
		web_db__account(srv);
		if (srv->remote && srv->remote->cache) {
			/* (the query threads' shared one: counted once) */
			store_ch_cache__stats(srv->remote->cache, &defs[0], &defs[1]);
		}
		web_metrics__write_caches(f, __atomic_load_n(&srv->cache_bytes, __ATOMIC_RELAXED),
					  store_sqlite_memory(),
					  srv->remote && srv->remote->cache ? defs : NULL);
		store_summary__free(sum);
		store_coverage__free(cov, n_cov);
	}
	web_metrics__write_process(f, srv->db_path,
				   __atomic_load_n(&srv->requests, __ATOMIC_RELAXED),
				   __atomic_load_n(&srv->errors, __ATOMIC_RELAXED));
	http_metrics(srv, f);
	body_close(f, r, ferror(f) ? -EIO : 0);
}

/* ---- dispatch ---- */

/* What needs no database, answered on libmicrohttpd's thread. */
bool web_api__inline(struct web_server *srv, const struct request *q, struct reply *r)
{
	bool have;

	switch (q->ep) {
	case WEB_EP_UI:
		r->status = 200;
		r->static_body = web_ui_index_html;
		r->len = web_ui_index_html_len;
		r->type = "text/html; charset=utf-8";
		return true;
	case WEB_EP_HEALTHZ:
		r->status = 200;
		r->static_body = "ok\n";
		r->len = 3;
		r->type = "text/plain; charset=utf-8";
		return true;
	case WEB_EP_METRICS:
		/* the agent's counters (serve's come from the database) */
		pthread_mutex_lock(&srv->lock);
		have = srv->have_metrics;
		pthread_mutex_unlock(&srv->lock);
		if (!have)
			return false;
		api_metrics(srv, r);
		assert(!(r->body && r->error) && !body_tls.buf);
		return true;
	default:
		return false;
	}
}

/* A database request, on a query thread. */
void web_api__query(struct web_server *srv, const struct request *q, struct reply *r)
{
	client_fd = q->client_fd;
	switch (q->ep) {
	case WEB_EP_METRICS:
		api_metrics(srv, r);
		break;
	case WEB_EP_META:
	case WEB_EP_LABELS:
		api_json(srv, q, r);
		break;
	case WEB_EP_TREE:
	case WEB_EP_DIFF:
		api_tree(srv, q, r);
		break;
	case WEB_EP_TIMELINE:
		api_timeline(srv, q, r);
		break;
	case WEB_EP_TOP:
		api_top(srv, q, r);
		break;
	case WEB_EP_EXPORT:
		api_export(srv, q, r);
		break;
	default:
		web_fail(r, 404, NULL, "not found");
		break;
	}
	client_fd = -1;
	/* an answer or an error, and the thread's body ended */
	assert(!(r->body && r->error) && !body_tls.buf);
}
