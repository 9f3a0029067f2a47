/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c — the HTTP server: libmicrohttpd on its own thread pool, over
 * one database opened read-only. It serves the embedded UI at / and the
 * JSON API of web/API.md (meta, tree, diff, timeline, labels, top, exports),
 * plus /metrics (Prometheus text) and /healthz. The last step of the data
 * flow: storage queries -> JSON or export bytes -> the browser.
 *
 * Each pool thread opens its own read-only store_db handle on first use
 * (SQLite handles are never shared between threads) and keeps it until the
 * server stops; a handle that failed with an I/O or format error is dropped
 * and opened again by the next request. Every parameter is checked before
 * any query runs: unknown, repeated, malformed or out-of-range parameters
 * are 400s naming the parameter; queries run under a deadline (503 when
 * they exceed it). Nothing here writes to the database: the handles are
 * opened with STORE_OPEN_READ, which never modifies the file.
 *
 * DNS rebinding: a web page on another site can make a browser resolve its
 * own name to 127.0.0.1 and read the API with the page's name in Host. A
 * server on a loopback address therefore answers only requests whose Host
 * is a loopback name or address (or a name given with --allow-host), and
 * refuses the others with 421 before any handler runs.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common.h"
#include "ember_config.h"
#include "request.h"
#include "ui_assets.h"

/* Limits of web/API.md (the parameters' own are in request.c). */
#define TIMELINE_MAX_POINTS 10000
/* A request line or headers larger than this are refused by libmicrohttpd
 * itself (414/431) before any handler runs. */
#define CONNECTION_MEMORY 65536

struct web_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	char *db_path;
	unsigned query_timeout_ms;
	pthread_key_t db_key;
	bool key_made;
	bool check_host;      /* refuse Host headers not allowed (421) */
	const char *const *allowed_hosts;
	size_t n_allowed_hosts;
	pthread_mutex_t lock; /* guards metrics */
	struct web_metrics metrics;
	bool have_metrics;
	uint64_t requests, errors; /* atomics */
};

/* One request's query parameters (decoded by libmicrohttpd). */

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct params *p = cls;

	p->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
	if (p->n == MAX_PARAMS) {
		p->too_many = true;
		return MHD_YES;
	}
	p->kv[p->n].key = key;
	p->kv[p->n].value = value ? value : "";
	p->n++;
	return MHD_YES;
}

/* ---- the per-thread database handle ---- */

static void close_db(void *db)
{
	store_db__close(db);
}

static int thread_db(struct web_server *srv, struct store_db **ret)
{
	struct store_db *db = pthread_getspecific(srv->db_key);
	int err;

	if (!db) {
		err = store_db__open(srv->db_path, STORE_OPEN_READ, &db);
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

/* A storage error as a reply; handles that may be broken are dropped. */
static void fail_store(struct web_server *srv, struct store_db *db, int err, struct reply *r)
{
	if (err == -ETIMEDOUT) {
		web_fail(r, 503, NULL, "query timed out");
	} else if (err == -EBUSY) {
		web_fail(r, 503, NULL, "database busy, try again");
	} else if (err == -ENOENT || err == -EPROTO) {
		web_fail(r, 503, NULL, "database cannot be read now: %s", store_strerror(err));
	} else {
		web_fail(r, 500, NULL, "%s: %s", store_strerror(err),
		     db ? store_db__errmsg(db) : "opening the database");
	}
	if (db && err != -ETIMEDOUT && err != -EBUSY && err != -ENOMEM) {
		pthread_setspecific(srv->db_key, NULL);
		store_db__close(db);
	}
}

/* A memstream for a reply body. */
static FILE *body_open(struct reply *r)
{
	FILE *f = open_memstream(&r->body, &r->len);

	if (!f)
		web_fail(r, 500, NULL, "out of memory");
	return f;
}

static bool body_close(FILE *f, struct reply *r, int err)
{
	if (fclose(f) != 0 && !err)
		err = -ENOMEM;
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
	fclose(f);
	free(r->body);
	r->body = NULL;
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
	f = body_open(r);
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
	f = body_open(r);
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
	f = body_open(r);
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
	f = body_open(r);
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
	f = body_open(r);
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
	f = body_open(r);
	if (!f)
		goto out;
	err = store_db__export_tree(db, &s->q, t, formats[k].fmt, f);
	r->type = formats[k].type;
	snprintf(r->disposition, sizeof(r->disposition),
		 "attachment; filename=\"ember-%lld-%lld.%s\"", (long long)from, (long long)to,
		 formats[k].ext);
	if (err && err != -EIO && err != -ENOMEM) {
		fclose(f);
		free(r->body);
		r->body = NULL;
		fail_store(srv, db, err, r);
		goto out;
	}
	body_close(f, r, err);
out:
	store_tree__free(t);
}

/* ---- /metrics ---- */

static void metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static void prom_label(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Drops and events, one labelled line each (the agent's and the file's). */
static void prom_counts(FILE *f, const char *name, const char *help, const char *label,
			const struct store_drop *c, size_t n)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{%s=\"", name, label);
		prom_label(f, c[i].reason);
		fprintf(f, "\"} %llu\n", (unsigned long long)c[i].count);
	}
}

#define HELP_DROPS "Samples lost, per reason."
#define HELP_EVENTS "Events of samples that were kept (a slow path taken, " \
	"a stack cut short), per event; not losses."

static uint64_t file_size(const char *path, const char *suffix)
{
	char buf[4096];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s%s", path, suffix);
	return stat(buf, &st) == 0 ? (uint64_t)st.st_size : 0;
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
	f = body_open(r);
	if (!f)
		return;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	if (have) {
		metric(f, "ember_samples_total", "counter", "Samples the sampler delivered.", m.samples);
		metric(f, "ember_samples_written_total", "counter",
		       "Samples written to the database.", m.samples_written);
		prom_counts(f, "ember_dropped_samples_total", HELP_DROPS, "reason", m.drops,
			    MIN(m.n_drops, (size_t)WEB_METRICS_MAX_DROPS));
		prom_counts(f, "ember_sample_events_total", HELP_EVENTS, "event", m.events,
			    MIN(m.n_events, (size_t)WEB_METRICS_MAX_DROPS));
		metric(f, "ember_flushes_total", "counter", "Flushes to the database.", m.flushes);
		metric(f, "ember_flush_errors_total", "counter", "Flushes that failed to write.",
		       m.flush_errors);
		metric(f, "ember_database_write_failing", "gauge",
		       "Flushes failed in a row since the last one that wrote (0: writing works).",
		       m.write_failing);
		metric(f, "ember_database_write_resumes_total", "counter",
		       "Times writing worked again after failed flushes (a disk that was full).",
		       m.write_resumes);
		metric(f, "ember_flush_duration_seconds", "gauge", "Duration of the latest flush.",
		       m.last_flush_seconds);
		metric(f, "ember_flush_duration_seconds_total", "counter",
		       "Time spent in all flushes.", m.flush_seconds_sum);
		metric(f, "ember_flush_cpu_seconds", "gauge", "CPU time of the latest flush.",
		       m.last_flush_cpu_seconds);
		metric(f, "ember_flush_cpu_seconds_total", "counter", "CPU time of all flushes.",
		       m.flush_cpu_seconds_sum);
		metric(f, "ember_flush_interval_seconds", "gauge",
		       "The flush interval (--flush).", m.flush_interval_seconds);
		metric(f, "ember_flush_lateness_seconds", "gauge",
		       "How late the latest flush started.", m.last_flush_late_seconds);
		metric(f, "ember_flushes_late_total", "counter",
		       "Flushes that started a second or more after they were due.",
		       m.flushes_late);
		metric(f, "ember_early_flushes_total", "counter",
		       "Flushes made early to bound the stacks buffered between flushes.",
		       m.early_flushes);
		metric(f, "ember_frames_total", "counter", "Frames symbolized, weighted by samples.",
		       m.frames);
		metric(f, "ember_frames_symbolized_total", "counter",
		       "Frames given a function name.", m.frames_symbolized);
		metric(f, "ember_symbolization_ratio", "gauge", "Share of frames given a function name.",
		       m.frames ? (double)m.frames_symbolized / m.frames : 0);
		metric(f, "ember_user_stacks_total", "counter", "Samples with a user stack.",
		       m.user_stacks);
		metric(f, "ember_user_stacks_complete_total", "counter",
		       "Samples whose user stack reaches its root frame.", m.user_stacks_complete);
		metric(f, "ember_unwind_complete_ratio", "gauge",
		       "Share of user stacks that reach their root frame.",
		       m.user_stacks ? (double)m.user_stacks_complete / m.user_stacks : 0);
		metric(f, "ember_unwind_reads_unserved_total", "counter",
		       "Words the DWARF unwinder asked for that were neither in the stack "
		       "copy nor in a mapped file.", m.unwind_unserved);
		metric(f, "ember_processes", "gauge", "Distinct processes sampled.", m.processes);
		metric(f, "ember_symbolizer_memory_bytes", "gauge",
		       "Memory held by the symbolizer's caches.", m.symbolizer_memory_bytes);
		metric(f, "ember_memory_budget_bytes", "gauge",
		       "The agent's memory budget (0: none).", m.memory_budget_bytes);
		fputs("# HELP ember_cache_memory_bytes Memory held per cache.\n"
		      "# TYPE ember_cache_memory_bytes gauge\n", f);
		for (size_t i = 0; i < m.n_caches && i < WEB_METRICS_MAX_CACHES; i++) {
			fputs("ember_cache_memory_bytes{cache=\"", f);
			prom_label(f, m.caches[i].name);
			fprintf(f, "\"} %llu\n", (unsigned long long)m.caches[i].bytes);
		}
		fputs("# HELP ember_cache_evictions_total Entries dropped per cache to stay "
		      "within the budget.\n# TYPE ember_cache_evictions_total counter\n", f);
		for (size_t i = 0; i < m.n_caches && i < WEB_METRICS_MAX_CACHES; i++) {
			fputs("ember_cache_evictions_total{cache=\"", f);
			prom_label(f, m.caches[i].name);
			fprintf(f, "\"} %llu\n", (unsigned long long)m.caches[i].evictions);
		}
		metric(f, "ember_memory_trims_total", "counter",
		       "Times the budget was passed between flushes and caches were shed.",
		       m.memory_trims);
		metric(f, "ember_cache_resets_total", "counter",
		       "Symbolizer caches dropped to stay within the budget.", m.cache_resets);
		fputs("# HELP ember_files_refused_total Files of profiled processes not read "
		      "(other users' files), per reason.\n"
		      "# TYPE ember_files_refused_total counter\n", f);
		for (size_t i = 0; i < m.n_refused && i < WEB_METRICS_MAX_REFUSALS; i++) {
			fputs("ember_files_refused_total{reason=\"", f);
			prom_label(f, m.refused[i].reason);
			fprintf(f, "\"} %llu\n", (unsigned long long)m.refused[i].count);
		}
	} else {
		struct store_summary *sum = NULL;
		struct store_coverage *cov = NULL;
		struct store_db *db = NULL;
		size_t n_cov = 0;
		uint64_t seen = 0, fn = 0;
		int err = thread_db(srv, &db);

		if (!err)
			err = store_db__summary(db, NULL, &sum);
		if (!err)
			err = store_db__query_coverage(db, NULL, &cov, &n_cov);
		if (err) {
			fclose(f);
			free(r->body);
			r->body = NULL;
			r->type = NULL;
			store_summary__free(sum);
			fail_store(srv, db, err, r);
			return;
		}
		metric(f, "ember_samples_total", "counter", "Samples stored in the database.",
		       sum->samples);
		prom_counts(f, "ember_dropped_samples_total", HELP_DROPS, "reason", sum->drops,
			    sum->n_drops);
		prom_counts(f, "ember_sample_events_total", HELP_EVENTS, "event", sum->events,
			    sum->n_events);
		for (size_t i = 0; i < n_cov; i++) {
			seen += cov[i].seen;
			fn += cov[i].with_function;
		}
		metric(f, "ember_frames_total", "counter", "Frames stored, weighted by samples.", seen);
		metric(f, "ember_frames_symbolized_total", "counter",
		       "Frames given a function name.", fn);
		metric(f, "ember_symbolization_ratio", "gauge", "Share of frames given a function name.",
		       seen ? (double)fn / seen : 0);
		metric(f, "ember_processes", "gauge", "Distinct processes in the database.",
		       sum->processes);
		store_summary__free(sum);
		store_coverage__free(cov, n_cov);
	}
	metric(f, "ember_database_size_bytes", "gauge", "Database file size, with its WAL.",
	       (double)(file_size(srv->db_path, "") + file_size(srv->db_path, "-wal")));
	metric(f, "ember_database_wal_bytes", "gauge", "Size of the database's WAL file.",
	       (double)file_size(srv->db_path, "-wal"));
	metric(f, "ember_resident_memory_bytes", "gauge", "Resident memory of this process.",
	       (double)common_rss_bytes());
	metric(f, "ember_http_requests_total", "counter", "HTTP requests answered.",
	       (double)__atomic_load_n(&srv->requests, __ATOMIC_RELAXED));
	metric(f, "ember_http_errors_total", "counter", "HTTP requests answered with an error.",
	       (double)__atomic_load_n(&srv->errors, __ATOMIC_RELAXED));
	body_close(f, r, ferror(f) ? -EIO : 0);
}

/* ---- dispatch ---- */

static void route(struct web_server *srv, const char *url, const struct params *p,
		  struct reply *r)
{
	struct request q;

	if (!web_request_parse(url, p, (int64_t)(common_wall_ns() / 1000000000ULL), &q, r)) {
		web_request_free(&q);
		return;
	}
	switch (q.ep) {
	case WEB_EP_UI:
		r->status = 200;
		r->static_body = web_ui_index_html;
		r->len = web_ui_index_html_len;
		r->type = "text/html; charset=utf-8";
		break;
	case WEB_EP_HEALTHZ:
		r->status = 200;
		r->static_body = "ok\n";
		r->len = 3;
		r->type = "text/plain; charset=utf-8";
		break;
	case WEB_EP_METRICS:
		api_metrics(srv, r);
		break;
	case WEB_EP_META:
		api_meta(srv, r);
		break;
	case WEB_EP_TREE:
	case WEB_EP_DIFF:
		api_tree(srv, &q, r);
		break;
	case WEB_EP_TIMELINE:
		api_timeline(srv, &q, r);
		break;
	case WEB_EP_LABELS:
		api_labels(srv, &q, r);
		break;
	case WEB_EP_TOP:
		api_top(srv, &q, r);
		break;
	case WEB_EP_EXPORT:
		api_export(srv, &q, r);
		break;
	case WEB_EP_NOT_FOUND:
		web_fail(r, 404, NULL, "not found");
		break;
	}
	web_request_free(&q);
}

static enum MHD_Result send_reply(struct web_server *srv, struct MHD_Connection *c,
				  struct reply *r, bool method_not_allowed)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->error) {
		FILE *f;

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
	}
	if (r->body) {
		resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(r->body);
	} else {
		resp = MHD_create_response_from_buffer(r->len, (void *)r->static_body,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	if (method_not_allowed)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct web_server *srv = cls;
	struct reply r = {0};
	struct params p = {0};

	__atomic_fetch_add(&srv->requests, 1, __ATOMIC_RELAXED);
	if (srv->check_host) {
		const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_HOST);

		if (!web_host_allowed(host, srv->allowed_hosts, srv->n_allowed_hosts)) {
			/* Answered at once, like a wrong method: no handler,
			 * no database, for a page on another site. */
			web_fail(&r, 421, NULL, "Host '%.200s' is not allowed: this server answers "
			     "loopback names only (DNS rebinding protection); start it with "
			     "--allow-host NAME to accept another name", host);
			return send_reply(srv, c, &r, false);
		}
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		/* Answered at once: a body, if any, is never read. */
		web_fail(&r, 405, NULL, "method not allowed: use GET");
		return send_reply(srv, c, &r, true);
	}
	if (*upload_data_size) {
		/* A GET with a body: ignore the body. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_param, &p);
	route(srv, url ? url : "", &p, &r);
	return send_reply(srv, c, &r, false);
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
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	bool v6 = false;
	int err;

	if (!opts || !opts->db_path || !ret_server)
		return -EINVAL;
	/* Fail at start, with the storage module's reason, rather than
	 * answer 503 to every request. */
	err = store_db__open(opts->db_path, STORE_OPEN_READ, &probe);
	if (err)
		return err;
	store_db__close(probe);

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->listen_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	srv->query_timeout_ms = opts->query_timeout_ms ? opts->query_timeout_ms : 30000;
	srv->allowed_hosts = opts->allowed_hosts;
	srv->n_allowed_hosts = opts->allowed_hosts ? opts->n_allowed_hosts : 0;
	srv->check_host = srv->n_allowed_hosts > 0 ||
			  web_address_is_loopback(opts->address ? opts->address
								: WEB_DEFAULT_ADDRESS);
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
	err = open_listener(opts->address ? opts->address : WEB_DEFAULT_ADDRESS, opts->port,
			    &srv->listen_fd, &srv->port, &v6);
	if (err)
		goto fail;
	if (v6)
		flags |= MHD_USE_IPv6;
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opts->threads ? opts->threads : 4),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(opts->max_connections ? opts->max_connections : 64),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(opts->connection_timeout_s ? opts->connection_timeout_s : 30),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
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
	/* Joins the pool threads, whose handles close with them (the key's
	 * destructor). */
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon); /* closes the listening socket */
	else if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->key_made)
		pthread_key_delete(srv->db_key);
	pthread_mutex_destroy(&srv->lock);
	free(srv->db_path);
	free(srv);
}
