/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web.h — public API of the web module: the HTTP server (libmicrohttpd) that
 * serves the embedded UI, the JSON API of web/API.md, exports, /metrics and
 * /healthz over one database, read-only; the JSON writer of /api/v1/tree and
 * /api/v1/diff; and the self-contained HTML reports built from the embedded
 * UI (`ember diff --html` writes the diff JSON into a static page with
 * web_write_static_report()).
 *
 * Data flow: `ember agent` and `ember serve` start a server over the file the
 * session writes (or an existing file); handlers open their own read-only
 * store_db handle, one per server thread, and query it through storage.h.
 *
 * Thread safety: every function here is thread-safe; trees passed in are
 * only read. web_server__set_metrics() may be called from any thread while
 * the server runs; web_server__stop() once, from the thread that started it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "storage.h"

/* The time ranges a tree JSON reports (Unix seconds). */
struct web_tree_range {
	int64_t from, to;           /* head */
	int64_t base_from, base_to; /* base, diff only */
};

/*
 * Write one tree (base NULL: the /api/v1/tree shape) or the union of two
 * (the /api/v1/diff shape: the trees merged by store_tree__merge, by their
 * path of names, modules, files, lines and kinds from the root, with
 * base_self/base_total), as one JSON object. Returns 0, -ENOMEM, or -EIO
 * when writing failed.
 */
int web_write_tree_json(FILE *out, const struct store_tree *head,
			const struct store_tree *base, const struct web_tree_range *r);

/*
 * The same, keeping at most max_nodes nodes (0: all): the heaviest (head
 * plus base total) stay, every smaller subtree is merged into its parent's
 * self (totals stay exact) and "truncated" says how many nodes went.
 * Returns 0, -ENOMEM or -EIO.
 */
int web_write_tree_json_max(FILE *out, const struct store_tree *head,
			    const struct store_tree *base,
			    const struct web_tree_range *r, size_t max_nodes);

/*
 * The JSON objects of GET /api/v1/meta, /timeline and /labels (API.md)
 * from db: meta of the whole file; the timeline of q's samples from from
 * to to (Unix seconds) per step seconds (0: at most 1,000 points); the
 * label values of q's range, at most limit per label. For the server and
 * static reports. Return 0, -EIO when writing failed, or a query's -errno.
 */
int web_write_meta_json(FILE *f, struct store_db *db);
int web_write_timeline_json(FILE *f, struct store_db *db, const struct store_query *q,
			    int64_t from, int64_t to, uint64_t step);
int web_write_labels_json(FILE *f, struct store_db *db, const struct store_query *q,
			  uint64_t limit);

/*
 * Write the embedded UI as one standalone HTML file whose data is inline:
 * data_json is the text of a JavaScript object ({"diff": ..., "tree": ...,
 * "meta": ..., "timeline": ..., "labels": ...}) the page reads as
 * window.EMBER_DATA; initial_hash (or NULL) is the view state to open with
 * (e.g. "diff=1"); intro_html (or NULL) is shown above the UI. The file
 * needs no network and no server. Returns 0 or -EIO.
 */
int web_write_static_report(FILE *out, const char *title, const char *data_json,
			    const char *initial_hash, const char *intro_html);

/*
 * The same for one profile (`ember report --format html`): the tree of q
 * (already queried from db), with the file's meta and q's timeline and
 * label values inline, so the page shows what the live UI would (its
 * range and filter controls show the data but fetch nothing). Returns 0,
 * -ENOMEM, -EIO, or a query's -errno.
 */
int web_write_profile_html(FILE *out, struct store_db *db, const struct store_query *q,
			   const struct store_tree *tree, const char *title);

/* Write s with HTML special characters escaped. */
void web_html_escape(FILE *out, const char *s);

/* ---- the HTTP server ---- */

/* Default listen address: loopback only. Port 7478 is registered to no
 * common service and clashes with no usual development port. */
#define WEB_DEFAULT_ADDRESS "127.0.0.1"
#define WEB_DEFAULT_PORT 7478

/* At most this many drop reasons (and events), and caches, in struct
 * web_metrics. */
#define WEB_METRICS_MAX_DROPS 16
#define WEB_METRICS_MAX_CACHES 12
#define WEB_METRICS_MAX_REFUSALS 12
#define WEB_METRICS_MAX_DEBUG_ISSUES 16

/*
 * The counters a running agent publishes for /metrics (the server has no
 * sampler of its own). Strings must stay valid while the server runs
 * (string literals, or names from sampler_stat_name()).
 */
struct web_metrics {
	uint64_t samples;            /* samples delivered to user space */
	uint64_t samples_written;    /* ... of them written to the database */
	/* Samples lost, per reason; events of samples that were kept (a
	 * slow path taken, a stack cut short), per name. */
	struct store_drop drops[WEB_METRICS_MAX_DROPS];
	size_t n_drops;
	struct store_drop events[WEB_METRICS_MAX_DROPS];
	size_t n_events;
	uint64_t flushes, flush_errors;
	uint64_t write_failing;      /* flushes failed in a row (0: writing works) */
	uint64_t write_resumes;      /* times writing worked again after failures */
	double flush_interval_seconds; /* the --flush interval */
	double last_flush_seconds;   /* duration of the latest flush */
	double flush_seconds_sum;    /* of all flushes */
	double last_flush_cpu_seconds, flush_cpu_seconds_sum; /* CPU time */
	double last_flush_late_seconds; /* the latest flush started this late */
	uint64_t flushes_late;       /* flushes started 1 s or more late */
	uint64_t early_flushes;      /* flushes for the pending-stacks bound */
	uint64_t frames, frames_symbolized;
	uint64_t user_stacks, user_stacks_complete;
	uint64_t unwind_unserved;    /* DWARF unwinder reads not served */
	uint64_t unwind_fast;        /* DWARF stacks walked without libunwind */
	uint64_t processes;
	/* Python processes (walked: a CPython Ember knows; unsupported:
	 * another version, native stacks only), samples of the walked ones,
	 * those with Python frames, Python frames and those named */
	uint64_t python_processes, python_unsupported;
	uint64_t python_samples, python_samples_with_frames;
	uint64_t python_frames, python_frames_named;
	uint64_t symbolizer_memory_bytes;
	uint64_t symbolizer_reloads; /* evicted binaries read again */
	uint64_t memory_budget_bytes; /* 0: no budget */
	struct {
		const char *name;        /* "symbolizer-binaries", ... */
		uint64_t bytes;          /* held now */
		uint64_t evictions;      /* entries dropped to stay in budget */
	} caches[WEB_METRICS_MAX_CACHES];
	size_t n_caches;
	uint64_t memory_trims;       /* times the budget was passed between
	                                flushes and caches were shed */
	uint64_t cache_resets;       /* symbolizer caches dropped for the budget */
	/* files of profiled processes not read, per reason ("not-regular",
	 * ...: sym_refusal_name) */
	struct store_drop refused[WEB_METRICS_MAX_REFUSALS];
	size_t n_refused;
	/* debug files, units and sections not read or not understood, per
	 * reason (sym_debug_issue_name) */
	struct store_drop debug_issues[WEB_METRICS_MAX_DEBUG_ISSUES];
	size_t n_debug_issues;
	uint64_t rss_bytes;          /* resident memory when published */
	/* Shipping to ClickHouse (agent --remote). */
	bool shipping;
	uint64_t ship_backlog_flushes;  /* queued in the file, not acknowledged */
	uint64_t ship_backlog_samples;
	uint64_t ship_backlog_bytes;
	double ship_backlog_age_seconds; /* since the oldest queued bucket; 0 */
	uint64_t shipped_flushes, shipped_samples, shipped_bytes;
	uint64_t ship_found;            /* found in ClickHouse already (an
	                                   earlier attempt's answer was lost) */
	uint64_t ship_refused_flushes;  /* stored, never queued: the queue was
	                                   over --remote-backlog */
	uint64_t ship_refused_samples;
	uint64_t ship_errors;           /* attempts that failed */
	uint64_t ship_failing;          /* ... in a row (0: shipping works) */
};

struct web_options {
	const char *db_path;        /* database to serve, opened read-only */
	/* The fleet store to serve instead (store_db__open_clickhouse; each
	 * query thread opens its own client); db_path then only names it in
	 * messages. Borrowed until web_server__stop(). */
	const struct store_ch_config *remote;
	const char *address;        /* IPv4 or IPv6 literal; NULL = loopback */
	uint16_t port;              /* 0 = any free port (web_server__port) */
	unsigned threads;           /* query threads; 0 = 2 */
	/* Memory for requests at once (queries running, answers not yet
	 * sent); what one request may cost follows from it (web/API.md,
	 * Limits). 0 = 64 MiB. */
	size_t memory_budget;
	unsigned max_connections;   /* past it the oldest idle one is shut; 0 = 64 */
	unsigned connection_timeout_s; /* no traffic for this long: closed; 0 = 30 */
	unsigned header_timeout_s;  /* a request's line and headers not in by
	                               then (from the connection or the previous
	                               answer): closed; 0 = 10 */
	unsigned query_timeout_ms;  /* a query taking longer is a 503; 0 = 30000 */
	/* Host header check (DNS rebinding): when the server listens on a
	 * loopback address, or when allowed_hosts are given, a request whose
	 * Host is not a loopback name (localhost, *.localhost, 127.x.y.z,
	 * [::1], any port) nor one of these names (any port; "*": any host)
	 * is a 421. Borrowed until web_server__stop(). */
	const char *const *allowed_hosts;
	size_t n_allowed_hosts;
};

struct web_server;

/*
 * Parse "ADDR:PORT", "[V6ADDR]:PORT", ":PORT", "PORT" or "ADDR" into
 * *ret_address (caller frees; WEB_DEFAULT_ADDRESS when absent) and
 * *ret_port (WEB_DEFAULT_PORT when absent; 0 asks for any free port). Returns 0,
 * -EINVAL (not an address, port out of range) or -ENOMEM.
 */
int web_parse_listen(const char *text, char **ret_address, uint16_t *ret_port);

/*
 * Whether the Host header value host is allowed (see web_options):
 * a loopback name or address with an optional port, or one of allowed
 * (compared without the port, case-insensitively; "*" allows any). A
 * missing Host (NULL: HTTP/1.0) is allowed, malformed ones are not.
 * Pure; exposed for the fuzz entry point and tests.
 */
bool web_host_allowed(const char *host, const char *const *allowed, size_t n_allowed);

/* Whether address (an IPv4 or IPv6 literal) is a loopback address. */
bool web_address_is_loopback(const char *address);

/*
 * Check that opts->db_path opens read-only, then listen and serve:
 * libmicrohttpd's thread for the connections, opts->threads for the
 * queries. Returns 0 and *ret_server, or -EINVAL (bad address or options,
 * a memory budget too small for a tree of 1,000 nodes), -EADDRINUSE,
 * -EACCES (a privileged port), an
 * error of store_db__open() for the database (see storage.h), -ENOMEM,
 * -ELIBACC (libmicrohttpd, loaded at the first start, could not be:
 * web_library_error() says why) or -EIO (the server did not start). The
 * database is only ever read.
 */
int web_server__start(const struct web_options *opts,
		      struct web_server **ret_server);

/* Bytes the caches of the query threads' database handles hold (the read
 * caches, their interned texts and the tree queries' scratch;
 * store_db__memory), as of each thread's last request. Thread-safe. */
uint64_t web_server__cache_bytes(const struct web_server *srv);

/* Have the query threads close their database handles, and so drop
 * their caches (web_server__cache_bytes), now if idle, else after the
 * request they answer: for a memory budget that was passed. The next
 * request opens a handle again. Thread-safe. */
void web_server__shed_caches(struct web_server *srv);

/* Why libmicrohttpd could not be loaded (one sentence naming the file), or
 * NULL when it was or was not tried yet. */
const char *web_library_error(void);

/* The port the server listens on (the one chosen when opts->port was 0). */
uint16_t web_server__port(const struct web_server *srv);

/* Publish the agent's counters for /metrics (copied). */
void web_server__set_metrics(struct web_server *srv, const struct web_metrics *m);

/* Stop listening, finish the requests in flight, close every handle. NULL
 * is fine. */
void web_server__stop(struct web_server *srv);
