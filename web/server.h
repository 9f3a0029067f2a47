/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h — private to web/: what server.c (the connections, the query
 * threads and their queue, start and stop) and endpoints.c (what each
 * request is answered with, on a query thread or, for what needs no
 * database, on libmicrohttpd's thread) share: the server's state, and
 * the calls server.c makes into endpoints.c.
 *
 * Who writes what: web_server__start (server.c) sets the configuration
 * (the store, the time-out, the Host check, the limits, the budget's
 * size, the thread key) before the first query thread starts, and
 * nothing changes it after; the daemon, listening socket and port are
 * set after the threads start and only server.c reads them. The rest
 * changes under its own guard: the queue (qlock: qhead, qtail, queued,
 * stopping; server.c only), the agent's metrics (lock: metrics,
 * have_metrics; web_server__set_metrics writes, endpoints.c reads a
 * copy), the counters (atomics: server.c counts requests, errors and
 * refusals, endpoints.c only reads them for /metrics), the budget and
 * the guard (thread-safe on their own, admit.c). cache_bytes (atomic)
 * is added to by each query thread after every request (endpoints.c,
 * web_db__account), shed_gen (atomic) bumped under qlock by
 * web_server__shed_caches. endpoints.c never touches the queue, the
 * daemon or a connection.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "request.h"
#include "web.h"

struct MHD_Daemon;
struct job;

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
	uint64_t shed_gen;    /* atomic: web_server__shed_caches calls */

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

/*
 * endpoints.c: answer q into r. web_api__inline answers, on
 * libmicrohttpd's thread, what needs no database (the page, /healthz,
 * the agent's /metrics) and returns true, else returns false and leaves
 * r alone. web_api__query answers a database request on a query thread:
 * r gets a body (the thread's store handle's answer, within max_body) or
 * an error (web_fail), never both.
 */
bool web_api__inline(struct web_server *srv, const struct request *q, struct reply *r);
void web_api__query(struct web_server *srv, const struct request *q, struct reply *r);

/*
 * The read-only store a server answers from: path, or the fleet store
 * when remote is given. Returns 0 and *ret, or -errno (the fleet store's
 * reason kept for this thread's next error answer). web_db__close is the
 * thread key's destructor: each query thread's handle closes with it.
 */
int web_db__open(const char *path, const struct store_ch_config *remote, struct store_db **ret);
void web_db__close(void *db);

/*
 * On a query thread: web_db__account brings srv->cache_bytes up to date
 * with what this thread's handle caches now (store_db__memory; 0 without
 * one); web_db__drop closes the handle (the next request opens one
 * again) and accounts for it.
 */
void web_db__account(struct web_server *srv);
void web_db__drop(struct web_server *srv);
