/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c — the HTTP server's machinery over one store opened
 * read-only: libmicrohttpd's daemon and its callbacks, the door every
 * request passes (Host, method, the raw path, the parameters checked by
 * request.c), the query threads and their queue, the answer handed to
 * libmicrohttpd with its bytes held against the memory budget, start and
 * stop. What each endpoint answers (the UI at /, the JSON API of
 * web/API.md, exports, /metrics, /healthz) is endpoints.c's.
 *
 * Threads: libmicrohttpd's one thread polls every connection (poll(2):
 * its epoll mode, edge-triggered, missed the end of connections closed
 * after part of a request, which then sat in CLOSE-WAIT until the idle
 * timeout) and answers at once what needs no database
 * (web_api__inline) and every refusal. A request that queries the
 * database is suspended and queued for the query threads (a bounded
 * queue: full, a 503 with Retry-After); a query thread reserves the
 * request's share of the memory budget (waiting a little for answers
 * being sent to free it, else a 503), answers (web_api__query), and
 * resumes the connection. So slow queries never hold up the
 * connections, and what is in flight stays within the budget. admit.c
 * guards the connections themselves (deadlines, the oldest idle one
 * shut at the limit).
 *
 * Every parameter is checked before any query runs: unknown, repeated,
 * malformed or out-of-range parameters are 400s naming the parameter,
 * and so is a request over the limits of what one request may cost
 * (regexes, tree nodes, answer bytes). Nothing here writes to the
 * database: the handles are opened with STORE_OPEN_READ, which never
 * modifies the file.
 *
 * DNS rebinding: a web page on another site can make a browser resolve its
 * own name to 127.0.0.1 and read the API with the page's name in Host. A
 * server on a loopback address therefore answers only requests whose Host
 * is a loopback name or address (or a name given with --allow-host), and
 * refuses the others with 421 before any handler runs.
 *
 *
 * libmicrohttpd is loaded when the first server starts (common_dl_load,
 * the path the build found: EMBER_LIBMICROHTTPD_PATH), not linked: its
 * TLS stack's mapping and constructors would cost every other command
 * (record, report) their memory and start-up. Every call goes through
 * the table `mhd`.
 * Invariants (asserted where they change):
 * - the queue: qhead is NULL exactly when qtail is and queued is 0;
 *   queued never exceeds QUEUE_MAX; a job is in the queue at most once
 *   (its next is NULL when it goes in).
 * - a job is answered once: done is set by the one query thread that
 *   took it, after which only libmicrohttpd touches the job (resumed
 *   connection, send_reply, on_completed frees it).
 * - the budget: a query reserves query_bytes before it runs and
 *   releases exactly that; an answer holds its length until it is sent
 *   (admit.c keeps used <= budget); a reply that is an error holds
 *   nothing.
 * - handles: endpoints.c's (one per query thread, see there).
 */
#include "server.h"

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
#include "admit.h"
#include "request.h"

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

/* A request line or headers larger than this are refused by libmicrohttpd
 * itself (414/431) before any handler runs. */
#define CONNECTION_MEMORY 65536

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

/* One request's query parameters (decoded by libmicrohttpd, with their
 * decoded lengths). */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
				     size_t key_size, const char *value, size_t value_size)
{
	web_params_add(cls, key, key_size, value, value_size);
	return MHD_YES;
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
	web_api__query(srv, &job->q, &job->r);
	if (job->r.body && !job->r.error) {
		job->held = job->r.len;
		web_budget__hold(&srv->budget, job->held);
	}
	web_budget__release(&srv->budget, srv->query_bytes);
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
	if (!shed_due(srv))
		return;
	shed_seen = __atomic_load_n(&srv->shed_gen, __ATOMIC_RELAXED);
	web_db__drop(srv);
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
			web_db__drop(srv);
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
		web_request_free(&job->q);
		job->done = true;
		/* the last touch: the connection (and job) are libmicrohttpd's
		 * again from here */
		mhd.MHD_resume_connection(job->conn);
		/* once the answer is on its way: what the handle caches now,
		 * and a shedding asked for meanwhile */
		web_db__account(srv);
		shed(srv);
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
	    web_api__inline(srv, &q, &r)) {
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
	/* (a query of a closed connection may end: the fleet store kills
	 * its ClickHouse query) */
	job->q.client_fd = wc ? wc->fd : -1;
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
	err = web_db__open(opts->db_path, opts->remote, &probe);
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
	/* what a request may cost, from the budget (request.h) */
	srv->n_workers = opts->threads ? opts->threads : WEB_DEFAULT_THREADS;
	web_budget__init(&srv->budget, opts->memory_budget ? opts->memory_budget
							   : WEB_DEFAULT_BUDGET);
	srv->budget_made = true;
	srv->query_bytes = srv->budget.budget / (srv->n_workers + 1);
	srv->max_body = srv->query_bytes / 2;
	web_limits__init(&srv->limits, srv->query_bytes);
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
	if (pthread_key_create(&srv->db_key, web_db__close)) {
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
