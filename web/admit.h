/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admit.h — private to web/: what the HTTP server admits, apart from
 * libmicrohttpd. Connections (struct web_guard): each one's state and
 * since when, a request's line and headers due within a deadline, an
 * answer within another, and past the connection limit the oldest one
 * that waits for a request (else the oldest sending) is shut, so a new
 * connection always gets a place. Memory (struct web_budget): what
 * queries in flight reserve and what answers not yet sent hold, against
 * one budget. Bodies (struct web_body): an answer written to memory up
 * to a bound.
 *
 * Thread safety: web_guard and web_budget functions are thread-safe;
 * a web_body belongs to one thread.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- connections ---- */

enum web_conn_state {
	WEB_CONN_WAITING, /* for a request's line and headers */
	WEB_CONN_BUSY,    /* a request being answered: never shut */
	WEB_CONN_SENDING, /* an answer being sent */
};

struct web_conn {
	int fd;
	enum web_conn_state state;
	uint64_t since_ns;       /* in this state since (CLOCK_MONOTONIC) */
	bool shut;               /* shut down by the guard; closing */
	char path_error[120];    /* the current request's path is refused */
	struct web_conn *prev, *next; /* oldest first */
};

struct web_guard_options {
	unsigned max_connections;  /* past it, the oldest idle one is shut */
	unsigned header_timeout_s; /* waiting longer: shut */
	unsigned send_timeout_s;   /* sending longer: shut */
};

struct web_guard_stats {
	uint64_t open;            /* connections now */
	uint64_t header_timeouts; /* shut for a request not sent in time */
	uint64_t send_timeouts;   /* shut for an answer not read in time */
	uint64_t limit_drops;     /* shut to make room for a new one */
};

struct web_guard;

/* Start the guard and its thread (it checks the deadlines four times a
 * second). Returns 0 and *ret_guard, or -ENOMEM, -EAGAIN. */
int web_guard__new(const struct web_guard_options *o, struct web_guard **ret_guard);

/* Stop the thread and free; every connection must be closed. NULL ok. */
void web_guard__free(struct web_guard *g);

/* A new connection on socket fd (owned by libmicrohttpd: the guard only
 * ever shuts it down, which libmicrohttpd then sees and closes). Past
 * the limit, the oldest connection that is waiting (else sending) is
 * shut. Returns its record, or NULL without memory (then unguarded). */
struct web_conn *web_guard__open(struct web_guard *g, int fd);

/* The connection is closed (before its socket is): forget it. */
void web_guard__close(struct web_guard *g, struct web_conn *c);

void web_guard__set_state(struct web_guard *g, struct web_conn *c, enum web_conn_state s);

void web_guard__stats(struct web_guard *g, struct web_guard_stats *ret);

/* ---- memory ---- */

struct web_budget {
	pthread_mutex_t lock;
	pthread_cond_t room;
	size_t budget;
	size_t reserved; /* by queries running */
	size_t held;     /* by answers not yet sent */
};

void web_budget__init(struct web_budget *b, size_t budget);
void web_budget__destroy(struct web_budget *b);

/* Reserve n bytes, waiting up to wait_ms for answers being sent to free
 * room. Returns 0, or -EBUSY when there was no room. */
int web_budget__reserve(struct web_budget *b, size_t n, unsigned wait_ms);
void web_budget__release(struct web_budget *b, size_t n);

/* An answer of n bytes waits to be sent; it was (unhold). */
void web_budget__hold(struct web_budget *b, size_t n);
void web_budget__unhold(struct web_budget *b, size_t n);

/* reserved + held */
size_t web_budget__used(struct web_budget *b);

/* ---- bodies ---- */

struct web_body {
	char *buf;  /* malloc'd; the caller's after fclose */
	size_t len, cap, max;
	bool over;  /* a write would have passed max: refused */
};

/* A stream writing into b, failing once more than max bytes are written
 * (b->over). NULL without memory. */
FILE *web_body__open(struct web_body *b, size_t max);
