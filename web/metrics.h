/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h — private to web/: /metrics' text (metrics.c), written into a
 * body that endpoints.c opened. Each function writes whole metric families
 * (HELP, TYPE and the lines); errors show in the stream (ferror), which
 * endpoints.c checks when it closes the body.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "web.h"

/* One unlabelled metric with its HELP and TYPE ("counter", "gauge"). */
void web_metric(FILE *f, const char *name, const char *type, const char *help, double v);

/* A labelled family: web_metric_head once (HELP and TYPE), then one
 * web_metric_line per value, name{key="label"} v (label escaped). */
void web_metric_head(FILE *f, const char *name, const char *type, const char *help);
void web_metric_line(FILE *f, const char *name, const char *key, const char *label,
		     uint64_t v);

/* What the agent published: samples, drops and events, flushes, frames,
 * unwinding, Python, the memory budget and each cache, shipping (when
 * m->shipping), refused files and debug issues. */
void web_metrics__write_agent(FILE *f, const struct web_metrics *m);

/* What a database file holds (no agent publishing): samples, drops and
 * events, frames symbolized (from cov, n_cov rows; none for the fleet
 * store), processes. */
void web_metrics__write_file(FILE *f, const struct store_summary *sum,
			     const struct store_coverage *cov, size_t n_cov);

/* A server without an agent: what its query threads' handles cache
 * (store_reads bytes) and SQLite's memory, as ember_cache_memory_bytes
 * (cache "store-reads", "sqlite"); with fleet_defs (the fleet store's
 * shared definitions' cache: its bytes and drops), also cache
 * "fleet-definitions" and its ember_cache_evictions_total. */
void web_metrics__write_caches(FILE *f, uint64_t store_reads, uint64_t sqlite,
			       const uint64_t *fleet_defs);

/* The process's own: the database's size and its WAL's (db_path), the
 * resident memory, HTTP requests answered and those with an error. */
void web_metrics__write_process(FILE *f, const char *db_path, uint64_t requests,
				uint64_t errors);
