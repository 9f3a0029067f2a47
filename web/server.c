/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c — the HTTP server over one database opened read-only. It
 * serves the embedded UI at / and the JSON API of web/API.md (meta, tree,
 * diff, timeline, labels, top, exports), plus /metrics (Prometheus text)
 * and /healthz. The last step of the data flow: storage queries -> JSON
 * or export bytes -> the browser.
 *
 * Threads: libmicrohttpd's one thread polls every connection (poll(2):
 * its epoll mode, edge-triggered, missed the end of connections closed
 * after part of a request, which then sat in CLOSE-WAIT until the idle
 * timeout) and answers at once what needs no database: the page,
 * /healthz, the agent's /metrics, every refusal. A request that queries
 * the database is suspended and queued for the query threads (a bounded
 * queue: full, a 503 with Retry-After); a query thread reserves the
 * request's share of the memory budget (waiting a little for answers
 * being sent to free it, else a 503), answers, and resumes the
 * connection. So slow queries never hold up the connections, and what
 * is in flight stays within the budget. limits.c guards the
 * connections themselves (deadlines, the oldest idle one shut at the
 * limit).
 *
 * Each query thread opens its own read-only store_db handle on first use
 * (SQLite handles are never shared between threads) and keeps it until the
 * server stops; a handle that failed with an I/O or format error is dropped
 * and opened again by the next request. Every parameter is checked before
 * any query runs: unknown, repeated, malformed or out-of-range parameters
 * are 400s naming the parameter, and so is a request over the limits of
 * what one request may cost (regexes, tree nodes, answer bytes); queries
 * run under a deadline (503 when they exceed it). Nothing here writes to
 * the database: the handles are opened with STORE_OPEN_READ, which never
 * modifies the file.
 *
 * DNS rebinding: a web page on another site can make a browser resolve its
 * own name to 127.0.0.1 and read the API with the page's name in Host. A
 * server on a loopback address therefore answers only requests whose Host
 * is a loopback name or address (or a name given with --allow-host), and
 * refuses the others with 421 before any handler runs.
 *
 * libmicrohttpd is loaded when the first server starts (common_dl_load,
 * the path the build found: EMBER_LIBMICROHTTPD_PATH), not linked: its
 * TLS stack's mapping and constructors would cost every other command
 * (record, report) their memory and start-up. Every call goes through
 * the table `mhd`.
 *
 * Invariants (asserted where they change):
 * - the queue: qhead is NULL exactly when qtail is and queued is 0;
 *   queued never exceeds QUEUE_MAX; a job is in the queue at most once
 *   (its next is NULL when it goes in).
 * - a job is answered once: done is set by the one query thread that
 *   took it, after which only libmicrohttpd touches the job (resumed
 *   connection, send_reply, on_completed frees it).
 * - the budget: a query reserves query_bytes before it runs and
 *   releases exactly that; an answer holds its length until it is sent
 *   (limits.c keeps used <= budget).
 * - handles: a store_db is used only by the query thread that opened it
 *   (thread-local key), never by libmicrohttpd's thread.
 */
#include "web.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common.h"
#include "ember_config.h"
#include "limits.h"
#include "metrics.h"
#include "request.h"
#include "ui_assets.h"

/* The libmicrohttpd functions used, each a field of `mhd` named as itself. */
#define MHD_FUNCTIONS(X) X(MHD_add_response_header) X(MHD_create_response_from_buffer) \
	X(MHD_create_response_from_buffer_with_free_callback_cls) X(MHD_destroy_response) \
	X(MHD_get_connection_info) X(MHD_get_connection_values_n) \
	X(MHD_lookup_connection_value) X(MHD_queue_response) X(MHD_resume_connection) \
	X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_suspend_connection)
#define MHD_FIELD(f) __typeof__(f) *f;
#define MHD_NAME(f) #f,
#define MHD_SET(f) mhd.f = (__typeof__(mhd.f))syms[i++];

static struct {
	MHD_FUNCTIONS(MHD_FIELD)
} mhd;

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static int mhd_load_err;
static char mhd_load_msg[256];

static void mhd_load(void)
{
	static const char *const names[] = {MHD_FUNCTIONS(MHD_NAME)};
	void *syms[ARRAY_SIZE(names)];
	size_t i = 0;

	mhd_load_err = common_dl_load(EMBER_LIBMICROHTTPD_PATH, names, ARRAY_SIZE(names), syms,
				      mhd_load_msg, sizeof(mhd_load_msg));
	if (!mhd_load_err) {
		MHD_FUNCTIONS(MHD_SET)
	}
}

const char *web_library_error(void)
{
	return mhd_load_err ? mhd_load_msg : NULL;
}

/* Limits of web/API.md (the parameters' own are in request.c). */
#define TIMELINE_MAX_POINTS 10000
/* A request line or headers larger than this are refused by libmicrohttpd
 * itself (414/431) before any handler runs. */
#define CONNECTION_MEMORY 65536

/*
 * What a request may cost, from the memory budget W and the query
 * threads Q. A query reserves W / (Q + 1) while it runs, so Q of them
 * leave a share for answers still being sent. In that reservation: the
 * tree, at TREE_NODE_BYTES a node (a busy day's 155,000-node tree peaked
 * at 32 MB in ember serve, 206 bytes a node: the tree, the children
 * table, the JSON writer's merge and string tables, growth by doubling),
 * and the answer, at most half of it. Regexes: MAX_REGEXES terms and
 * MAX_REGEX_BYTES compiled (store_regex.c) for filter and base_filter.
 */
#define DEFAULT_BUDGET (64u << 20)
#define DEFAULT_THREADS 2
#define TREE_NODE_BYTES 256
#define MAX_REGEXES 16
#define MAX_REGEX_BYTES (1u << 20)
/* Queries waiting for a query thread; more at once: 503. */
#define QUEUE_MAX 16
/* How long a query waits for answers being sent to free the budget. */
#define BUDGET_WAIT_MS 2000
/* Connections past max_connections (which the guard brings back down by
 * shutting the oldest idle one) before libmicrohttpd stops accepting. */
#define CONNECTION_SLACK 16
#define DEFAULT_HEADER_TIMEOUT_S 10
#define SEND_TIMEOUT_S 120

/* A request that queries the database, from its arrival to its answer. */
struct job {
	struct MHD_Connection *conn;
	struct request q;
	struct reply r;
	struct job *next;   /* in the queue */
	size_t held;        /* r.body's bytes held against the budget */
	bool done;          /* r holds the answer; the connection resumed */
};

struct web_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	char *db_path;
	const struct store_ch_config *remote; /* the fleet store, or NULL */
	unsigned query_timeout_ms;
	pthread_key_t db_key;
	bool key_made;
	bool check_host;      /* refuse Host headers not allowed (421) */
	const char *const *allowed_hosts;
	size_t n_allowed_hosts;
	pthread_mutex_t lock; /* guards metrics */
	struct web_metrics metrics;
	bool have_metrics;
	uint64_t requests, errors, refused_busy, refused_costly; /* atomics */
	uint64_t cache_bytes; /* atomic: the query threads' handles' caches */
	uint64_t shed_gen;    /* atomic: bumped by web_server__shed_caches */

	/* what a request may cost (see DEFAULT_BUDGET) */
	struct web_limits limits;
	size_t query_bytes;   /* reserved by a running query */
	size_t max_body;      /* bytes of one answer */
	struct web_budget budget;
	bool budget_made;
	struct web_guard *guard;

	/* the query threads and their queue */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct job *qhead, *qtail;
	unsigned queued;
	bool stopping;
	pthread_t *workers;
	unsigned n_workers;
};

/* One request's query parameters (decoded by libmicrohttpd, with their
 * decoded lengths). */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
				     size_t key_size, const char *value, size_t value_size)
{
	web_params_add(cls, key, key_size, value, value_size);
	return MHD_YES;
}

/* ---- the per-thread database handle ---- */

static void close_db(void *db)
{
	store_db__close(db);
}

/* Why this thread's last open failed (the fleet store says why). */
static __thread char open_error[256];

static int open_store(const char *path, const struct store_ch_config *remote,
		      struct store_db **ret)
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

static int thread_db(struct web_server *srv, struct store_db **ret)
{
	struct store_db *db = pthread_getspecific(srv->db_key);
	int err;

	if (!db) {
		err = open_store(srv->db_path, srv->remote, &db);
		if (err)
			return err;
		if (pthread_setspecific(srv->db_key, db)) {
			store_db__close(db);
			return -ENOMEM;
		}
	}
	store_db__set_deadline(db, common_now_ns() +
			       (uint64_t)srv->query_timeout_ms * 1000000ULL);
	*ret = db;
	return 0;
}

/* What this thread's handle keeps (store_db__memory), as last added to
 * its server's cache_bytes. */
static __thread uint64_t cache_reported;

/* Bring srv->cache_bytes up to date with this thread's handle (none: 0). */
static void report_cache(struct web_server *srv)
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

uint64_t web_server__cache_bytes(const struct web_server *srv)
{
	return __atomic_load_n(&srv->cache_bytes, __ATOMIC_RELAXED);
}

/* The shedding this thread last did (srv->shed_gen). */
static __thread uint64_t shed_seen;

static bool shed_due(struct web_server *srv)
{
	return __atomic_load_n(&srv->shed_gen, __ATOMIC_RELAXED) != shed_seen;
}

/* Close this thread's handle if a shedding was asked since its last. */
static void shed(struct web_server *srv)
{
	struct store_db *db;

	if (!shed_due(srv))
		return;
	shed_seen = __atomic_load_n(&srv->shed_gen, __ATOMIC_RELAXED);
	db = pthread_getspecific(srv->db_key);
	if (db) {
		pthread_setspecific(srv->db_key, NULL);
		store_db__close(db);
	}
	report_cache(srv);
}

void web_server__shed_caches(struct web_server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->qlock);
	__atomic_add_fetch(&srv->shed_gen, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
}

/* A storage error as a reply; handles that may be broken are dropped. */
static void fail_store(struct web_server *srv, struct store_db *db, int err, struct reply *r)
{
	if (err == -ETIMEDOUT) {
		web_fail(r, 503, NULL, "query timed out");
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
	if (db && err != -ETIMEDOUT && err != -EBUSY && err != -ENOMEM && err != -E2BIG) {
		pthread_setspecific(srv->db_key, NULL);
		store_db__close(db);
	}
}

/* The body being written on this thread (one at a time: body_open to
 * body_close or body_discard), bounded by the server's max_body. */
static __thread struct web_body body_tls;

static FILE *body_open(struct web_server *srv, struct reply *r)
{
	FILE *f = web_body__open(&body_tls, srv->max_body);

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

/* A failure after the body was started: no half answer. */
static void body_fail(struct web_server *srv, struct store_db *db, FILE *f,
		      struct reply *r, int err)
{
	body_discard(f);
	r->type = NULL;
	fail_store(srv, db, err, r);
}

static void api_meta(struct web_server *srv, struct reply *r)
{
	struct store_db *db;
	FILE *f;
	int err;

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		return;
	}
	f = body_open(srv, r);
	if (!f)
		return;
	err = web_write_meta_json(f, db);
	if (err == -EIO || !err)
		body_close(f, r, err);
	else
		body_fail(srv, db, f, r, err);
}

static void api_tree(struct web_server *srv, const struct request *q, struct reply *r)
{
	const struct side *head = &q->head, *base = &q->base;
	bool diff = q->ep == WEB_EP_DIFF;
	struct store_tree *ht = NULL, *bt = NULL;
	struct web_tree_range range = {0};
	struct store_db *db = NULL;
	FILE *f;
	int err;

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		goto out;
	}
	err = store_db__query_tree(db, &head->q, &ht);
	if (!err && diff)
		err = store_db__query_tree(db, &base->q, &bt);
	if (!err)
		err = resolve_range(db, head, &range.from, &range.to);
	if (!err && diff)
		err = resolve_range(db, base, &range.base_from, &range.base_to);
	if (err) {
		fail_store(srv, db, err, r);
		goto out;
	}
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

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		return;
	}
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
	if (err == -EIO || !err)
		body_close(f, r, err);
	else
		body_fail(srv, db, f, r, err);
}

static void api_labels(struct web_server *srv, const struct request *q, struct reply *r)
{
	struct store_db *db = NULL;
	FILE *f;
	int err;

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		return;
	}
	f = body_open(srv, r);
	if (!f)
		return;
	err = web_write_labels_json(f, db, &q->head.q, q->limit);
	if (err == -EIO || !err)
		body_close(f, r, err);
	else
		body_fail(srv, db, f, r, err);
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

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		goto out;
	}
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
	struct store_tree *t = NULL;
	struct store_db *db = NULL;
	int64_t from, to;
	FILE *f;
	int err;

	err = thread_db(srv, &db);
	if (err) {
		fail_store(srv, NULL, err, r);
		goto out;
	}
	err = store_db__query_tree(db, &s->q, &t);
	if (!err)
		err = resolve_range(db, s, &from, &to);
	if (err) {
		fail_store(srv, db, err, r);
		goto out;
	}
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
	fputs("# HELP ember_http_connections_dropped_total Connections the server shut, "
	      "per reason.\n# TYPE ember_http_connections_dropped_total counter\n", f);
	fprintf(f, "ember_http_connections_dropped_total{reason=\"header-timeout\"} %llu\n"
		"ember_http_connections_dropped_total{reason=\"send-timeout\"} %llu\n"
		"ember_http_connections_dropped_total{reason=\"connection-limit\"} %llu\n",
		(unsigned long long)g.header_timeouts, (unsigned long long)g.send_timeouts,
		(unsigned long long)g.limit_drops);
	fputs("# HELP ember_http_requests_refused_total Requests refused for the server's "
	      "limits, per reason.\n# TYPE ember_http_requests_refused_total counter\n", f);
	fprintf(f, "ember_http_requests_refused_total{reason=\"busy\"} %llu\n"
		"ember_http_requests_refused_total{reason=\"too-costly\"} %llu\n",
		(unsigned long long)__atomic_load_n(&srv->refused_busy, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&srv->refused_costly, __ATOMIC_RELAXED));
	web_metric(f, "ember_http_memory_bytes", "gauge",
		   "Memory reserved by queries running and held by answers being sent.",
		   (double)web_budget__used(&srv->budget));
	web_metric(f, "ember_http_memory_budget_bytes", "gauge",
		   "The HTTP server's memory budget for requests.", (double)srv->budget.budget);
}

static void api_metrics(struct web_server *srv, struct reply *r)
{
	struct web_metrics m;
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
		store_summary__free(sum);
		store_coverage__free(cov, n_cov);
		/* This thread's handle as it is now (the summary filled it). */
		report_cache(srv);
		web_metrics__write_caches(f, web_server__cache_bytes(srv), store_sqlite_memory());
	}
	web_metrics__write_process(f, srv->db_path,
				   __atomic_load_n(&srv->requests, __ATOMIC_RELAXED),
				   __atomic_load_n(&srv->errors, __ATOMIC_RELAXED));
	http_metrics(srv, f);
	body_close(f, r, ferror(f) ? -EIO : 0);
}

/* ---- dispatch ---- */

/* What needs no database, answered on libmicrohttpd's thread. */
static bool answer_inline(struct web_server *srv, const struct request *q, struct reply *r)
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
		return true;
	default:
		return false;
	}
}

/* A database request, on a query thread. */
static void answer_query(struct web_server *srv, const struct request *q, struct reply *r)
{
	switch (q->ep) {
	case WEB_EP_METRICS:
		api_metrics(srv, r);
		break;
	case WEB_EP_META:
		api_meta(srv, r);
		break;
	case WEB_EP_TREE:
	case WEB_EP_DIFF:
		api_tree(srv, q, r);
		break;
	case WEB_EP_TIMELINE:
		api_timeline(srv, q, r);
		break;
	case WEB_EP_LABELS:
		api_labels(srv, q, r);
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
}

/* An answer's body on its way: what the budget holds until it is freed. */
struct held {
	struct web_server *srv;
	void *body;
	size_t len;
};

static void free_held(void *cls)
{
	struct held *h = cls;

	web_budget__unhold(&h->srv->budget, h->len);
	free(h->body);
	free(h);
}

/* Queue r's answer (an error as JSON). A body a query thread made is held
 * against the budget until libmicrohttpd frees it; r->body is then the
 * response's. */
static enum MHD_Result send_reply(struct web_server *srv, struct MHD_Connection *c,
				  struct reply *r, size_t held, bool method_not_allowed)
{
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;
	char retry[16];

	if (r->error) {
		FILE *f;

		if (held)
			web_budget__unhold(&srv->budget, held);
		held = 0;
		free(r->body);
		r->body = NULL;
		r->len = 0;
		f = open_memstream(&r->body, &r->len);
		if (f) {
			fputs("{\"error\":", f);
			common_json_string(f, r->error);
			if (r->parameter) {
				fputs(",\"parameter\":", f);
				common_json_string(f, r->parameter);
			}
			fputs("}", f);
			if (fclose(f) != 0) {
				free(r->body);
				r->body = NULL;
			}
		}
		if (!r->body)
			return MHD_NO;
		r->type = "application/json; charset=utf-8";
		r->static_body = NULL;
		__atomic_fetch_add(&srv->errors, 1, __ATOMIC_RELAXED);
		if (r->too_costly)
			__atomic_fetch_add(&srv->refused_costly, 1, __ATOMIC_RELAXED);
		if (r->retry_after)
			__atomic_fetch_add(&srv->refused_busy, 1, __ATOMIC_RELAXED);
	}
	if (r->body && held) {
		struct held *h = malloc(sizeof(*h));

		if (h) {
			*h = (struct held){ srv, r->body, held };
			resp = mhd.MHD_create_response_from_buffer_with_free_callback_cls(
				r->len, r->body, free_held, h);
			if (!resp)
				free(h);
		}
		if (!resp) {
			web_budget__unhold(&srv->budget, held);
			free(r->body);
		}
		r->body = NULL;
	} else if (r->body) {
		resp = mhd.MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(r->body);
		r->body = NULL;
	} else {
		resp = mhd.MHD_create_response_from_buffer(r->len, (void *)r->static_body,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	mhd.MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	mhd.MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->disposition[0])
		mhd.MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	if (method_not_allowed)
		mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (r->retry_after) {
		snprintf(retry, sizeof(retry), "%u", r->retry_after);
		mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	ret = mhd.MHD_queue_response(c, r->status, resp);
	mhd.MHD_destroy_response(resp);
	return ret;
}

/* The guard's record of connection c (NULL: unguarded). */
static struct web_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static enum MHD_Result answer(struct web_server *srv, struct MHD_Connection *c,
			      struct reply *r, bool method_not_allowed)
{
	web_guard__set_state(srv->guard, conn_of(c), WEB_CONN_SENDING);
	return send_reply(srv, c, r, 0, method_not_allowed);
}

static enum MHD_Result answer_job(struct web_server *srv, struct MHD_Connection *c,
				  struct job *job)
{
	size_t held = job->held;

	/* the held bytes go with the body to the response (or are let go) */
	job->held = 0;
	web_guard__set_state(srv->guard, conn_of(c), WEB_CONN_SENDING);
	return send_reply(srv, c, &job->r, held, false);
}

/* Hand job to the query threads: suspended until one has answered it.
 * Returns false when the queue is full. */
static bool enqueue(struct web_server *srv, struct MHD_Connection *c, struct job *job)
{
	pthread_mutex_lock(&srv->qlock);
	if (srv->stopping || srv->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&srv->qlock);
		return false;
	}
	/* suspended before any query thread can resume it */
	assert(!job->next && !job->done);
	assert((srv->qhead == NULL) == (srv->qtail == NULL) &&
	       (srv->qhead == NULL) == (srv->queued == 0));
	job->conn = c;
	mhd.MHD_suspend_connection(c);
	if (srv->qtail)
		srv->qtail->next = job;
	else
		srv->qhead = job;
	srv->qtail = job;
	srv->queued++;
	pthread_cond_signal(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	return true;
}

static void run_job(struct web_server *srv, struct job *job)
{
	if (web_budget__reserve(&srv->budget, srv->query_bytes, BUDGET_WAIT_MS) < 0) {
		web_fail(&job->r, 503, NULL, "busy: the answers being sent hold what this "
			 "server's memory budget (%zu MiB) leaves for another query; try again",
			 srv->budget.budget >> 20);
		job->r.retry_after = 2;
		return;
	}
	answer_query(srv, &job->q, &job->r);
	if (job->r.body && !job->r.error) {
		job->held = job->r.len;
		web_budget__hold(&srv->budget, job->held);
	}
	web_budget__release(&srv->budget, srv->query_bytes);
}

static void *query_main(void *arg)
{
	struct web_server *srv = arg;

	for (;;) {
		struct job *job;
		bool stopping;

		pthread_mutex_lock(&srv->qlock);
		while (!srv->qhead && !srv->stopping && !shed_due(srv))
			pthread_cond_wait(&srv->qcond, &srv->qlock);
		if (!srv->qhead && !srv->stopping) {
			pthread_mutex_unlock(&srv->qlock);
			shed(srv);
			continue;
		}
		job = srv->qhead;
		if (!job) {
			pthread_mutex_unlock(&srv->qlock);
			/* (the handle closes with the thread) */
			__atomic_sub_fetch(&srv->cache_bytes, cache_reported, __ATOMIC_RELAXED);
			cache_reported = 0;
			break;
		}
		assert(srv->queued > 0 && srv->queued <= QUEUE_MAX && !job->done);
		srv->qhead = job->next;
		if (!srv->qhead)
			srv->qtail = NULL;
		job->next = NULL;
		srv->queued--;
		assert((srv->qhead == NULL) == (srv->queued == 0));
		stopping = srv->stopping;
		pthread_mutex_unlock(&srv->qlock);

		if (stopping)
			web_fail(&job->r, 503, NULL, "the server is stopping");
		else
			run_job(srv, job);
		report_cache(srv);
		shed(srv);
		web_request_free(&job->q);
		job->done = true;
		/* the last touch: the connection (and job) are libmicrohttpd's
		 * again from here */
		mhd.MHD_resume_connection(job->conn);
	}
	return NULL;
}

/* The path of each request, as sent: control characters are refused
 * before libmicrohttpd decodes it into a C string. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct web_conn *wc = conn_of(c);
	struct reply r = {0};

	if (wc) {
		wc->path_error[0] = '\0';
		if (!web_uri_path_clean(uri, &r))
			snprintf(wc->path_error, sizeof(wc->path_error), "%s", r.error);
	}
	return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct web_server *srv = cls;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? web_guard__open(srv->guard, ci->connect_fd) : NULL;
	} else if (*socket_context) {
		web_guard__close(srv->guard, *socket_context);
		*socket_context = NULL;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct web_server *srv = cls;
	struct job *job = *con_cls;

	if (job) {
		/* an answer never handed to libmicrohttpd (closed meanwhile) */
		if (job->held)
			web_budget__unhold(&srv->budget, job->held);
		free(job->r.body);
		web_request_free(&job->q);
		free(job);
		*con_cls = NULL;
	}
	web_guard__set_state(srv->guard, conn_of(c), WEB_CONN_WAITING);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct web_server *srv = cls;
	struct web_conn *wc = conn_of(c);
	struct job *job = *con_cls;
	struct reply r = {0};
	struct params p = {0};
	struct request q;

	if (job) {
		/* A body after the headers is never read; a resumed job is
		 * answered. */
		if (*upload_data_size) {
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (!job->done)
			return MHD_YES;
		return answer_job(srv, c, job);
	}
	__atomic_fetch_add(&srv->requests, 1, __ATOMIC_RELAXED);
	web_guard__set_state(srv->guard, wc, WEB_CONN_BUSY);
	if (srv->check_host) {
		const char *host = mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_HOST);

		if (!web_host_allowed(host, srv->allowed_hosts, srv->n_allowed_hosts)) {
			/* Answered at once, like a wrong method: no handler,
			 * no database, for a page on another site. */
			web_fail(&r, 421, NULL, "Host '%.200s' is not allowed: this server answers "
			     "loopback names only (DNS rebinding protection); start it with "
			     "--allow-host NAME to accept another name", host);
			return answer(srv, c, &r, false);
		}
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		/* Answered at once: a body, if any, is never read. */
		web_fail(&r, 405, NULL, "method not allowed: use GET");
		return answer(srv, c, &r, true);
	}
	if (wc && wc->path_error[0]) {
		web_fail(&r, 400, NULL, "%s", wc->path_error);
		return answer(srv, c, &r, false);
	}
	mhd.MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_param, &p);
	if (!web_request_parse(url ? url : "", &p, (int64_t)(common_wall_ns() / 1000000000ULL),
			       &srv->limits, &q, &r) ||
	    answer_inline(srv, &q, &r)) {
		web_request_free(&q);
		return answer(srv, c, &r, false);
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		web_request_free(&q);
		web_fail(&r, 500, NULL, "out of memory");
		return answer(srv, c, &r, false);
	}
	job->q = q;
	if (!enqueue(srv, c, job)) {
		web_request_free(&job->q);
		free(job);
		web_fail(&r, 503, NULL, "busy: %d requests are waiting for a query thread; "
			 "try again", QUEUE_MAX);
		r.retry_after = 1;
		return answer(srv, c, &r, false);
	}
	*con_cls = job;
	return MHD_YES;
}

/* ---- start and stop ---- */

int web_parse_listen(const char *text, char **ret_address, uint16_t *ret_port)
{
	const char *host = text, *port = NULL, *colon;
	size_t host_len;
	char *addr;
	unsigned char buf[sizeof(struct in6_addr)];

	if (!text)
		return -EINVAL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		host = text + 1;
		host_len = (size_t)(close - host);
		port = close[1] ? close + 2 : NULL;
	} else if ((colon = strrchr(text, ':')) && strchr(text, ':') == colon) {
		host_len = (size_t)(colon - text);
		port = colon + 1;
	} else if (!strchr(text, '.') && !strchr(text, ':')) {
		host_len = 0;
		port = text; /* only a port */
	} else {
		host_len = strlen(text);
	}
	if (host_len == 0) {
		addr = strdup(WEB_DEFAULT_ADDRESS);
	} else {
		addr = strndup(host, host_len);
	}
	if (!addr)
		return -ENOMEM;
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1) {
		free(addr);
		return -EINVAL;
	}
	if (port) {
		unsigned long v = 0;

		if (!*port || strlen(port) > 5) {
			free(addr);
			return -EINVAL;
		}
		for (const char *c = port; *c; c++) {
			if (*c < '0' || *c > '9') {
				free(addr);
				return -EINVAL;
			}
			v = v * 10 + (unsigned long)(*c - '0');
		}
		if (v > 65535) {
			free(addr);
			return -EINVAL;
		}
		*ret_port = (uint16_t)v;
	} else {
		*ret_port = WEB_DEFAULT_PORT;
	}
	*ret_address = addr;
	return 0;
}

static int open_listener(const char *address, uint16_t port, int *ret_fd, uint16_t *ret_port,
			 bool *ret_v6)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1, err;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
		*ret_v6 = false;
	} else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
		*ret_v6 = true;
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*ret_port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
	*ret_fd = fd;
	return 0;
}

int web_server__start(const struct web_options *opts, struct web_server **ret_server)
{
	struct web_server *srv;
	struct store_db *probe = NULL;
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	struct web_guard_options go;
	unsigned max_conns;
	bool v6 = false;
	int err;

	if (!opts || !opts->db_path || !ret_server)
		return -EINVAL;
	pthread_once(&mhd_once, mhd_load);
	if (mhd_load_err)
		return -ELIBACC;
	/* Fail at start, with the storage module's reason, rather than
	 * answer 503 to every request. */
	err = open_store(opts->db_path, opts->remote, &probe);
	if (err)
		return err;
	store_db__close(probe);

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->listen_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->qlock, NULL);
	pthread_cond_init(&srv->qcond, NULL);
	srv->query_timeout_ms = opts->query_timeout_ms ? opts->query_timeout_ms : 30000;
	srv->allowed_hosts = opts->allowed_hosts;
	srv->n_allowed_hosts = opts->allowed_hosts ? opts->n_allowed_hosts : 0;
	srv->check_host = srv->n_allowed_hosts > 0 ||
			  web_address_is_loopback(opts->address ? opts->address
								: WEB_DEFAULT_ADDRESS);
	/* what a request may cost, from the budget (see DEFAULT_BUDGET) */
	srv->n_workers = opts->threads ? opts->threads : DEFAULT_THREADS;
	web_budget__init(&srv->budget, opts->memory_budget ? opts->memory_budget : DEFAULT_BUDGET);
	srv->budget_made = true;
	srv->query_bytes = srv->budget.budget / (srv->n_workers + 1);
	srv->max_body = srv->query_bytes / 2;
	srv->limits.max_tree_nodes = srv->query_bytes / TREE_NODE_BYTES;
	srv->limits.max_regexes = MAX_REGEXES;
	srv->limits.max_regex_bytes = MIN((size_t)MAX_REGEX_BYTES, srv->query_bytes / 8);
	if (srv->limits.max_tree_nodes < 1000) {
		err = -EINVAL; /* a budget too small to answer anything */
		goto fail;
	}
	srv->remote = opts->remote;
	srv->db_path = strdup(opts->db_path);
	if (!srv->db_path) {
		err = -ENOMEM;
		goto fail;
	}
	if (pthread_key_create(&srv->db_key, close_db)) {
		err = -ENOMEM;
		goto fail;
	}
	srv->key_made = true;
	max_conns = opts->max_connections ? opts->max_connections : 64;
	go = (struct web_guard_options){
		.max_connections = max_conns,
		.header_timeout_s = opts->header_timeout_s ? opts->header_timeout_s
							   : DEFAULT_HEADER_TIMEOUT_S,
		.send_timeout_s = SEND_TIMEOUT_S,
	};
	err = web_guard__new(&go, &srv->guard);
	if (err)
		goto fail;
	srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
	if (!srv->workers) {
		err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < srv->n_workers; i++) {
		err = -pthread_create(&srv->workers[i], NULL, query_main, srv);
		if (err) {
			srv->n_workers = i;
			goto fail;
		}
	}
	err = open_listener(opts->address ? opts->address : WEB_DEFAULT_ADDRESS, opts->port,
			    &srv->listen_fd, &srv->port, &v6);
	if (err)
		goto fail;
	if (v6)
		flags |= MHD_USE_IPv6;
	srv->daemon = mhd.MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, max_conns + CONNECTION_SLACK,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(opts->connection_timeout_s ? opts->connection_timeout_s : 30),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_END);
	if (!srv->daemon) {
		err = -EIO;
		goto fail;
	}
	*ret_server = srv;
	return 0;
fail:
	web_server__stop(srv);
	return err;
}

uint16_t web_server__port(const struct web_server *srv)
{
	return srv->port;
}

void web_server__set_metrics(struct web_server *srv, const struct web_metrics *m)
{
	if (!srv || !m)
		return;
	pthread_mutex_lock(&srv->lock);
	srv->metrics = *m;
	srv->have_metrics = true;
	pthread_mutex_unlock(&srv->lock);
}

void web_server__stop(struct web_server *srv)
{
	if (!srv)
		return;
	/* The query threads answer what is queued with a 503, finish what
	 * runs, resume every connection and end (their handles close with
	 * them: the key's destructor); then libmicrohttpd closes every
	 * connection, none suspended. */
	pthread_mutex_lock(&srv->qlock);
	srv->stopping = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		pthread_join(srv->workers[i], NULL);
	if (srv->daemon)
		mhd.MHD_stop_daemon(srv->daemon); /* closes the listening socket */
	else if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	web_guard__free(srv->guard);
	if (srv->key_made)
		pthread_key_delete(srv->db_key);
	if (srv->budget_made)
		web_budget__destroy(&srv->budget);
	pthread_cond_destroy(&srv->qcond);
	pthread_mutex_destroy(&srv->qlock);
	pthread_mutex_destroy(&srv->lock);
	free(srv->workers);
	free(srv->db_path);
	free(srv);
}
