/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ship.c — the agent's shipping thread: the session queues each committed
 * flush in the database's outbox (storage, store_db__ship_enable); this
 * thread, with its own handle on the file, checks the ClickHouse schema
 * once, then sends the queue oldest first (store_db__ship_next) whenever a
 * flush was committed or a second passed. ClickHouse down, slow, refusing
 * the password or missing a table costs only the shipping: sampling and
 * the local file go on, the backlog stays in the file (and in /metrics),
 * and is sent in order once ClickHouse answers. Each kind of failure is
 * told once on stderr, and its end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common.h"
#include "ship.h"

#define SHIP_POLL_MS 1000
#define SHIP_BACKOFF_MIN_MS 500
#define SHIP_BACKOFF_MAX_MS 10000

struct shipper {
	char *db_path;
	struct store_ch *ch;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool woken, stopping;
	uint64_t drain_deadline_ns; /* while stopping */
	bool counted, told_full;    /* the thread's own */
	struct shipper_stats stats;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr in one write (the main thread prints too). */
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ember: %s\n", line);
	fflush(stderr);
}

static const char *advice(int err)
{
	switch (err) {
	case -EACCES:
		return "check the user and password (in the --remote URL, "
		       "EMBER_CLICKHOUSE_USER and EMBER_CLICKHOUSE_PASSWORD, or "
		       "--remote-password-file)";
	case -EPERM:
		return "the user needs INSERT and SELECT on the database (and CREATE "
		       "to make its tables)";
	case -ENOENT:
		return "the tables are created again when the database is Ember's "
		       "single-server layout; for a cluster run 'ember fleet-init'";
	case -ENOTSUP:
	case -EPROTO:
		return "point --remote at a database of this Ember's schema";
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
		return "retrying until ClickHouse answers";
	case -EKEYREJECTED:
		return "check the server's certificate (--remote-ca FILE)";
	case -ELIBACC:
		return "install libcurl (Debian: libcurl4), then restart the agent";
	default:
		return "retrying";
	}
}

/* Wait until woken, stopped or ms passed. Returns whether stopping. */
static bool wait_ms(struct shipper *sh, unsigned ms)
{
	struct timespec ts;
	bool stopping;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sh->lock);
	while (!sh->woken && !sh->stopping)
		if (pthread_cond_timedwait(&sh->cond, &sh->lock, &ts) == ETIMEDOUT)
			break;
	sh->woken = false;
	stopping = sh->stopping;
	pthread_mutex_unlock(&sh->lock);
	return stopping;
}

static void update_backlog(struct shipper *sh, struct store_db *db)
{
	struct store_ship_backlog b;
	uint64_t refused;

	if (store_db__ship_backlog(db, &b) == 0) {
		pthread_mutex_lock(&sh->lock);
		refused = sh->stats.backlog.refused_samples;
		sh->stats.backlog = b;
		pthread_mutex_unlock(&sh->lock);
		/* (the first count is what earlier runs refused) */
		if (sh->counted && b.refused_samples > refused && !sh->told_full)
			say("warning: the queue for ClickHouse in %s is full (--remote-backlog): "
			    "new flushes stay in the file but are not shipped (%llu samples so far, "
			    "ember_ship_refused_samples_total)", sh->db_path,
			    (unsigned long long)b.refused_samples);
		sh->told_full = sh->told_full || (sh->counted && b.refused_samples > refused);
		if (b.flushes == 0)
			sh->told_full = false; /* drained: told again if it fills again */
		sh->counted = true;
	}
}

static void *run(void *arg)
{
	struct shipper *sh = arg;
	struct store_db *db = NULL;
	unsigned backoff = SHIP_BACKOFF_MIN_MS;
	bool prepared = false, stopping = false;
	int last_err = 0, err;

	for (;;) {
		struct store_ship_result res;

		pthread_mutex_lock(&sh->lock);
		stopping = sh->stopping;
		pthread_mutex_unlock(&sh->lock);
		if (stopping && (last_err || common_now_ns() >= sh->drain_deadline_ns))
			break;
		if (!db) {
			err = store_db__open(sh->db_path, STORE_OPEN_WRITE, &db);
			if (err) {
				db = NULL;
				if (err != last_err)
					say("warning: shipping cannot open %s: %s; %s", sh->db_path,
					    store_strerror(err), advice(err));
				goto failed;
			}
		}
		if (!prepared) {
			err = store_ch__prepare(sh->ch);
			if (err)
				goto remote_failed;
			prepared = true;
		}
		err = store_db__ship_next(db, sh->ch, &res);
		if (err < 0)
			goto remote_failed;
		if (last_err) {
			struct store_ship_backlog b = {0};

			store_db__ship_backlog(db, &b);
			say("shipping to %s resumed after %llu failed attempts; %llu flushes "
			    "(%llu samples) still queued", store_ch__url(sh->ch),
			    (unsigned long long)sh->stats.failing,
			    (unsigned long long)b.flushes + (err == 1),
			    (unsigned long long)b.samples + (err == 1 ? res.samples : 0));
			last_err = 0;
		}
		backoff = SHIP_BACKOFF_MIN_MS;
		pthread_mutex_lock(&sh->lock);
		sh->stats.failing = 0;
		if (err == 1) {
			sh->stats.flushes++;
			sh->stats.samples += res.samples;
			sh->stats.bytes += res.bytes;
			sh->stats.found += res.found;
		}
		pthread_mutex_unlock(&sh->lock);
		update_backlog(sh, db);
		if (err == 1)
			continue;
		if (stopping)
			break; /* drained: nothing queued */
		wait_ms(sh, SHIP_POLL_MS);
		continue;
remote_failed:
		if (err == -ENOENT)
			prepared = false; /* a table went: check (or create) again */
		if (err != last_err)
			say("warning: shipping to ClickHouse failed: %s; sampling goes on and the "
			    "backlog is kept in %s: %s", store_ch__errmsg(sh->ch), sh->db_path,
			    advice(err));
failed:
		last_err = err;
		pthread_mutex_lock(&sh->lock);
		sh->stats.errors++;
		sh->stats.failing++;
		pthread_mutex_unlock(&sh->lock);
		if (db)
			update_backlog(sh, db);
		if (wait_ms(sh, backoff) && last_err)
			break;
		backoff = backoff * 2 > SHIP_BACKOFF_MAX_MS ? SHIP_BACKOFF_MAX_MS : backoff * 2;
	}
	store_db__close(db);
	return NULL;
}

int shipper__start(const char *db_path, struct store_ch *ch, struct shipper **ret)
{
	struct shipper *sh = calloc(1, sizeof(*sh));
	int err;

	if (!sh || !(sh->db_path = strdup(db_path))) {
		free(sh);
		store_ch__free(ch);
		return -ENOMEM;
	}
	sh->ch = ch;
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->cond, NULL);
	err = pthread_create(&sh->thread, NULL, run, sh);
	if (err) {
		pthread_mutex_destroy(&sh->lock);
		pthread_cond_destroy(&sh->cond);
		store_ch__free(ch);
		free(sh->db_path);
		free(sh);
		return -err;
	}
	*ret = sh;
	return 0;
}

void shipper__wake(struct shipper *sh)
{
	if (!sh)
		return;
	pthread_mutex_lock(&sh->lock);
	sh->woken = true;
	pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
}

void shipper__stats(struct shipper *sh, struct shipper_stats *ret)
{
	pthread_mutex_lock(&sh->lock);
	*ret = sh->stats;
	pthread_mutex_unlock(&sh->lock);
}

void shipper__stop(struct shipper *sh, unsigned drain_ms)
{
	if (!sh)
		return;
	pthread_mutex_lock(&sh->lock);
	sh->stopping = true;
	sh->drain_deadline_ns = common_now_ns() + (uint64_t)drain_ms * 1000000ULL;
	pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	pthread_join(sh->thread, NULL);
	pthread_mutex_destroy(&sh->lock);
	pthread_cond_destroy(&sh->cond);
	store_ch__free(sh->ch);
	free(sh->db_path);
	free(sh);
}
