/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admit.c — what the HTTP server admits (admit.h): the connection
 * guard with its deadline thread, the memory budget of queries and
 * unsent answers, and bounded answer bodies. server.c calls the guard
 * and the budget from libmicrohttpd's callbacks and its query threads;
 * endpoints.c writes the bodies.
 *
 * libmicrohttpd 0.9.75's own timeout is one of inactivity: a client that
 * sends a header line every few seconds keeps its connection, and with
 * the connection limit reached (64 such clients) nobody else is served.
 * The guard adds deadlines on the request as a whole and, at the limit,
 * makes room by shutting the connection that has waited longest. It
 * never closes a socket: shutdown(2) makes libmicrohttpd's next read
 * see the end, and libmicrohttpd closes it (and tells the guard first,
 * under the guard's lock, so a socket number is never used after its
 * connection is gone).
 */
#include "admit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common.h"

/* How often the guard looks at the deadlines. */
#define GUARD_TICK_MS 250

struct web_guard {
	struct web_guard_options o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;
	struct web_conn *head, *tail;
	struct web_guard_stats stats;
};

static void shut(struct web_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	c->shut = true;
}

/* The connection to shut for room: the one waiting longest for a
 * request, else the one sending longest; never a busy one. */
static struct web_conn *victim(struct web_guard *g)
{
	struct web_conn *best = NULL;

	for (struct web_conn *c = g->head; c; c = c->next) {
		if (c->shut || c->state == WEB_CONN_BUSY)
			continue;
		if (!best || (c->state == WEB_CONN_WAITING && best->state != WEB_CONN_WAITING) ||
		    (c->state == best->state && c->since_ns < best->since_ns))
			best = c;
	}
	return best;
}

static void check_deadlines(struct web_guard *g, uint64_t now)
{
	uint64_t header_ns = (uint64_t)g->o.header_timeout_s * 1000000000ULL;
	uint64_t send_ns = (uint64_t)g->o.send_timeout_s * 1000000000ULL;

	for (struct web_conn *c = g->head; c; c = c->next) {
		if (c->shut)
			continue;
		if (c->state == WEB_CONN_WAITING && now - c->since_ns > header_ns) {
			shut(c);
			g->stats.header_timeouts++;
		} else if (c->state == WEB_CONN_SENDING && now - c->since_ns > send_ns) {
			shut(c);
			g->stats.send_timeouts++;
		}
	}
}

static void *guard_main(void *arg)
{
	struct web_guard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		check_deadlines(g, common_now_ns());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += GUARD_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static int monotonic_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int err;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	err = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return -err;
}

int web_guard__new(const struct web_guard_options *o, struct web_guard **ret_guard)
{
	struct web_guard *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return -ENOMEM;
	g->o = *o;
	pthread_mutex_init(&g->lock, NULL);
	err = monotonic_cond_init(&g->wake);
	if (err) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return err;
	}
	err = -pthread_create(&g->thread, NULL, guard_main, g);
	if (err) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return err;
	}
	*ret_guard = g;
	return 0;
}

void web_guard__free(struct web_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	/* libmicrohttpd closed every connection before (web_guard__close) */
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

struct web_conn *web_guard__open(struct web_guard *g, int fd)
{
	struct web_conn *c = calloc(1, sizeof(*c)), *v;

	if (!c)
		return NULL;
	c->fd = fd;
	c->state = WEB_CONN_WAITING;
	c->since_ns = common_now_ns();
	pthread_mutex_lock(&g->lock);
	c->prev = g->tail;
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	if (++g->stats.open > g->o.max_connections) {
		/* The ones shut earlier still count until libmicrohttpd
		 * has closed them: shut one more only past those. */
		uint64_t closing = 0;

		for (struct web_conn *k = g->head; k; k = k->next)
			closing += k->shut;
		if (g->stats.open - closing > g->o.max_connections && (v = victim(g)) && v != c) {
			shut(v);
			g->stats.limit_drops++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return c;
}

void web_guard__close(struct web_guard *g, struct web_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	g->stats.open--;
	pthread_mutex_unlock(&g->lock);
	free(c);
}

void web_guard__set_state(struct web_guard *g, struct web_conn *c, enum web_conn_state s)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->state = s;
	c->since_ns = common_now_ns();
	pthread_mutex_unlock(&g->lock);
}

void web_guard__stats(struct web_guard *g, struct web_guard_stats *ret)
{
	pthread_mutex_lock(&g->lock);
	*ret = g->stats;
	pthread_mutex_unlock(&g->lock);
}

/* ---- memory ---- */

void web_budget__init(struct web_budget *b, size_t budget)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	monotonic_cond_init(&b->room);
	b->budget = budget;
}

void web_budget__destroy(struct web_budget *b)
{
	pthread_cond_destroy(&b->room);
	pthread_mutex_destroy(&b->lock);
}

int web_budget__reserve(struct web_budget *b, size_t n, unsigned wait_ms)
{
	struct timespec ts;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (b->reserved + b->held + n > b->budget && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&b->room, &b->lock, &ts);
	if (b->reserved + b->held + n > b->budget) {
		pthread_mutex_unlock(&b->lock);
		return -EBUSY;
	}
	b->reserved += n;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void web_budget__release(struct web_budget *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	b->reserved -= n;
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->lock);
}

void web_budget__hold(struct web_budget *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	b->held += n;
	pthread_mutex_unlock(&b->lock);
}

void web_budget__unhold(struct web_budget *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	b->held -= n;
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->lock);
}

size_t web_budget__used(struct web_budget *b)
{
	size_t used;

	pthread_mutex_lock(&b->lock);
	used = b->reserved + b->held;
	pthread_mutex_unlock(&b->lock);
	return used;
}

/* ---- bodies ---- */

static ssize_t body_write(void *cookie, const char *data, size_t size)
{
	struct web_body *b = cookie;

	if (size > b->max - b->len) {
		b->over = true;
		errno = EFBIG;
		return 0;
	}
	if (b->len + size > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + size)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		p = realloc(b->buf, cap);
		if (!p) {
			errno = ENOMEM;
			return 0;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, size);
	b->len += size;
	return (ssize_t)size;
}

FILE *web_body__open(struct web_body *b, size_t max)
{
	static const cookie_io_functions_t io = { .write = body_write };

	memset(b, 0, sizeof(*b));
	b->max = max;
	return fopencookie(b, "w", io);
}
