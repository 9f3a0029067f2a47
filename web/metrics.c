/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c — /metrics in Prometheus' text format (version 0.0.4): what
 * the agent publishes (web_server__set_metrics), what a database file
 * holds when no agent publishes (ember serve), and the process's own
 * figures. Formatting only: endpoints.c gathers the figures (under the
 * server's lock, from its handle) and owns the answer's body; nothing here blocks or
 * reads the database. Every line has its HELP and TYPE; label values are
 * escaped as the format asks (backslash, double quote, newline).
 */
#include "metrics.h"

#include <sys/stat.h>

#include "common.h"

void web_metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void web_metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
	web_metric_head(f, name, type, help);
	fprintf(f, "%s %.17g\n", name, v);
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

void web_metric_line(FILE *f, const char *name, const char *key, const char *label,
		     uint64_t v)
{
	fprintf(f, "%s{%s=\"", name, key);
	prom_label(f, label);
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

/* Drops and events, one labelled line each (the agent's and the file's). */
static void prom_counts(FILE *f, const char *name, const char *help, const char *label,
			const struct store_drop *c, size_t n)
{
	web_metric_head(f, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		web_metric_line(f, name, label, c[i].reason, c[i].count);
}

/* Frames (weighted by samples), those given a function name, and their
 * share (the agent's and the file's; help_frames says which frames). */
static void prom_frames(FILE *f, const char *help_frames, uint64_t frames, uint64_t symbolized)
{
	web_metric(f, "ember_frames_total", "counter", help_frames, frames);
	web_metric(f, "ember_frames_symbolized_total", "counter",
	           "Frames given a function name.", symbolized);
	web_metric(f, "ember_symbolization_ratio", "gauge",
		   "Share of frames given a function name.",
	           frames ? (double)symbolized / frames : 0);
}

#define HELP_CACHE_BYTES "Memory held per cache."
#define HELP_CACHE_EVICTIONS "Entries dropped per cache to stay within the budget."

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

void web_metrics__write_agent(FILE *f, const struct web_metrics *m)
{
	web_metric(f, "ember_samples_total", "counter", "Samples the sampler delivered.",
		   m->samples);
	web_metric(f, "ember_samples_written_total", "counter",
	           "Samples written to the database.", m->samples_written);
	prom_counts(f, "ember_dropped_samples_total", HELP_DROPS, "reason", m->drops,
		    MIN(m->n_drops, (size_t)WEB_METRICS_MAX_DROPS));
	prom_counts(f, "ember_sample_events_total", HELP_EVENTS, "event", m->events,
		    MIN(m->n_events, (size_t)WEB_METRICS_MAX_DROPS));
	web_metric(f, "ember_flushes_total", "counter", "Flushes to the database.", m->flushes);
	web_metric(f, "ember_flush_errors_total", "counter", "Flushes that failed to write.",
	           m->flush_errors);
	web_metric(f, "ember_database_write_failing", "gauge",
	           "Flushes failed in a row since the last one that wrote (0: writing works).",
	           m->write_failing);
	web_metric(f, "ember_database_write_resumes_total", "counter",
	           "Times writing worked again after failed flushes (a disk that was full).",
	           m->write_resumes);
	web_metric(f, "ember_flush_duration_seconds", "gauge", "Duration of the latest flush.",
	           m->last_flush_seconds);
	web_metric(f, "ember_flush_duration_seconds_total", "counter",
	           "Time spent in all flushes.", m->flush_seconds_sum);
	web_metric(f, "ember_flush_cpu_seconds", "gauge", "CPU time of the latest flush.",
	           m->last_flush_cpu_seconds);
	web_metric(f, "ember_flush_cpu_seconds_total", "counter", "CPU time of all flushes.",
	           m->flush_cpu_seconds_sum);
	web_metric(f, "ember_flush_interval_seconds", "gauge",
	           "The flush interval (--flush).", m->flush_interval_seconds);
	web_metric(f, "ember_flush_lateness_seconds", "gauge",
	           "How late the latest flush started.", m->last_flush_late_seconds);
	web_metric(f, "ember_flushes_late_total", "counter",
	           "Flushes that started a second or more after they were due.",
	           m->flushes_late);
	web_metric(f, "ember_early_flushes_total", "counter",
	           "Flushes made early to bound the stacks buffered between flushes.",
	           m->early_flushes);
	prom_frames(f, "Frames symbolized, weighted by samples.", m->frames, m->frames_symbolized);
	web_metric(f, "ember_user_stacks_total", "counter", "Samples with a user stack.",
	           m->user_stacks);
	web_metric(f, "ember_user_stacks_complete_total", "counter",
	           "Samples whose user stack reaches its root frame.", m->user_stacks_complete);
	web_metric(f, "ember_unwind_complete_ratio", "gauge",
	           "Share of user stacks that reach their root frame.",
	           m->user_stacks ? (double)m->user_stacks_complete / m->user_stacks : 0);
	web_metric(f, "ember_unwind_reads_unserved_total", "counter",
	           "Words the DWARF unwinder asked for that were neither in the stack "
	           "copy nor in a mapped file.", m->unwind_unserved);
	web_metric(f, "ember_unwind_fast_total", "counter",
	           "DWARF stacks walked by the common CFI rules alone, without libunwind.",
	           m->unwind_fast);
	web_metric(f, "ember_processes", "gauge", "Distinct processes sampled.", m->processes);
	web_metric(f, "ember_python_processes_total", "counter",
	           "Processes found running a CPython whose frames Ember walks.",
	           m->python_processes);
	web_metric(f, "ember_python_unsupported_processes_total", "counter",
	           "Processes running a CPython of a version Ember does not know "
	           "(native stacks only).", m->python_unsupported);
	web_metric(f, "ember_python_samples_total", "counter",
	           "Samples of the Python processes Ember walks.", m->python_samples);
	web_metric(f, "ember_python_samples_with_frames_total", "counter",
	           "... of them with Python frames.", m->python_samples_with_frames);
	web_metric(f, "ember_python_frames_total", "counter",
	           "Python frames written, weighted by samples.", m->python_frames);
	web_metric(f, "ember_python_frames_named_total", "counter",
	           "... of them named (the others: code objects gone before they were read).",
	           m->python_frames_named);
	web_metric(f, "ember_symbolizer_memory_bytes", "gauge",
	           "Memory held by the symbolizer's caches.", m->symbolizer_memory_bytes);
	web_metric(f, "ember_symbolizer_binary_reloads_total", "counter",
	           "Binaries read again after the memory bound unloaded them.",
	           m->symbolizer_reloads);
	web_metric(f, "ember_memory_budget_bytes", "gauge",
	           "The agent's memory budget (0: none).", m->memory_budget_bytes);
	if (m->shipping) {
		web_metric(f, "ember_ship_backlog_flushes", "gauge",
		       "Flushes queued for ClickHouse, not yet acknowledged.",
		       m->ship_backlog_flushes);
		web_metric(f, "ember_ship_backlog_samples", "gauge",
		       "Samples of the flushes queued for ClickHouse.", m->ship_backlog_samples);
		web_metric(f, "ember_ship_backlog_bytes", "gauge",
		       "Bytes the queued flushes take in the file.", m->ship_backlog_bytes);
		web_metric(f, "ember_ship_backlog_age_seconds", "gauge",
		       "Age of the oldest queued flush (0: none queued).",
		       m->ship_backlog_age_seconds);
		web_metric(f, "ember_shipped_flushes_total", "counter",
		       "Flushes ClickHouse acknowledged.", m->shipped_flushes);
		web_metric(f, "ember_shipped_samples_total", "counter",
		       "Samples ClickHouse acknowledged.", m->shipped_samples);
		web_metric(f, "ember_shipped_bytes_total", "counter",
		       "Bytes sent to ClickHouse (gzip).", m->shipped_bytes);
		web_metric(f, "ember_ship_found_total", "counter",
		       "Queued flushes found in ClickHouse already (an earlier attempt's "
		       "answer was lost): removed, not sent again.", m->ship_found);
		web_metric(f, "ember_ship_refused_flushes_total", "counter",
		       "Flushes kept in the file but never shipped: the queue was full.",
		       m->ship_refused_flushes);
		web_metric(f, "ember_ship_refused_samples_total", "counter",
		       "Samples of those flushes.", m->ship_refused_samples);
		web_metric(f, "ember_ship_errors_total", "counter",
		       "Shipping attempts that failed.", m->ship_errors);
		web_metric(f, "ember_ship_failing", "gauge",
		       "Shipping attempts failed in a row (0: shipping works).",
		       m->ship_failing);
	}
	web_metric_head(f, "ember_cache_memory_bytes", "gauge", HELP_CACHE_BYTES);
	for (size_t i = 0; i < m->n_caches && i < WEB_METRICS_MAX_CACHES; i++)
		web_metric_line(f, "ember_cache_memory_bytes", "cache", m->caches[i].name,
				m->caches[i].bytes);
	web_metric_head(f, "ember_cache_evictions_total", "counter", HELP_CACHE_EVICTIONS);
	for (size_t i = 0; i < m->n_caches && i < WEB_METRICS_MAX_CACHES; i++)
		web_metric_line(f, "ember_cache_evictions_total", "cache", m->caches[i].name,
				m->caches[i].evictions);
	web_metric(f, "ember_memory_trims_total", "counter",
	           "Times the budget was passed between flushes and caches were shed.",
	           m->memory_trims);
	web_metric(f, "ember_cache_resets_total", "counter",
	           "Symbolizer caches dropped to stay within the budget.", m->cache_resets);
	prom_counts(f, "ember_files_refused_total",
		    "Files of profiled processes not read (other users' files), per reason.",
		    "reason", m->refused, MIN(m->n_refused, (size_t)WEB_METRICS_MAX_REFUSALS));
	prom_counts(f, "ember_debug_issues_total",
		    "Debug files, units and sections not read or not understood, per reason.",
		    "reason", m->debug_issues,
		    MIN(m->n_debug_issues, (size_t)WEB_METRICS_MAX_DEBUG_ISSUES));
}

void web_metrics__write_file(FILE *f, const struct store_summary *sum,
			     const struct store_coverage *cov, size_t n_cov)
{
	uint64_t seen = 0, fn = 0;

	web_metric(f, "ember_samples_total", "counter", "Samples stored in the database.",
	           sum->samples);
	prom_counts(f, "ember_dropped_samples_total", HELP_DROPS, "reason", sum->drops,
		    sum->n_drops);
	prom_counts(f, "ember_sample_events_total", HELP_EVENTS, "event", sum->events,
		    sum->n_events);
	for (size_t i = 0; i < n_cov; i++) {
		seen += cov[i].seen;
		fn += cov[i].with_function;
	}
	prom_frames(f, "Frames stored, weighted by samples.", seen, fn);
	web_metric(f, "ember_processes", "gauge", "Distinct processes in the database.",
	           sum->processes);
}

void web_metrics__write_caches(FILE *f, uint64_t store_reads, uint64_t sqlite,
			       const uint64_t *fleet_defs)
{
	web_metric_head(f, "ember_cache_memory_bytes", "gauge", HELP_CACHE_BYTES);
	web_metric_line(f, "ember_cache_memory_bytes", "cache", "store-reads", store_reads);
	web_metric_line(f, "ember_cache_memory_bytes", "cache", "sqlite", sqlite);
	if (!fleet_defs)
		return;
	web_metric_line(f, "ember_cache_memory_bytes", "cache", "fleet-definitions", fleet_defs[0]);
	web_metric_head(f, "ember_cache_evictions_total", "counter", HELP_CACHE_EVICTIONS);
	web_metric_line(f, "ember_cache_evictions_total", "cache", "fleet-definitions",
			fleet_defs[1]);
}

void web_metrics__write_process(FILE *f, const char *db_path, uint64_t requests,
				uint64_t errors)
{
	web_metric(f, "ember_database_size_bytes", "gauge", "Database file size, with its WAL.",
	           (double)(file_size(db_path, "") + file_size(db_path, "-wal")));
	web_metric(f, "ember_database_wal_bytes", "gauge", "Size of the database's WAL file.",
	           (double)file_size(db_path, "-wal"));
	web_metric(f, "ember_resident_memory_bytes", "gauge", "Resident memory of this process.",
	           (double)common_rss_bytes());
	web_metric(f, "ember_http_requests_total", "counter", "HTTP requests answered.",
	           (double)requests);
	web_metric(f, "ember_http_errors_total", "counter", "HTTP requests answered with an error.",
	           (double)errors);
}
