/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.c — `ember agent`: always-on, system-wide profiling into one SQLite
 * file (continued across restarts) with the web UI served over it (the
 * flags it shares with `ember serve`, serve.c, are serving.c's).
 *
 * The agent's main thread drives the sampling session (sampler ->
 * symbolizer -> store, one flush every --flush seconds, retention every
 * ten minutes with the storage defaults); the web server answers on its own
 * threads with read-only handles, and reads the agent's counters through
 * web_server__set_metrics(), published at most once a second. SIGTERM and
 * SIGINT stop sampling, write the final flush and the accounting, then stop
 * the server.
 *
 * Memory (--memory MB, the budget B): what grows is bounded where it
 * grows, also between flushes and inside one. The symbolizer's binaries
 * (symbols, DWARF, address caches) are bounded at B/2 by its own LRU
 * eviction, at every lookup and process snapshot; stacks buffered between
 * flushes at B/8 by an early flush. Every quarter second (every 64 stacks
 * inside a flush) the session compares the resident size with B: above
 * it, least recently used binaries are unloaded until the excess (plus
 * B/8) is freed, and freed memory goes back to the system (malloc_trim;
 * big blocks are mmapped, see M_MMAP_THRESHOLD below). What eviction
 * cannot shrink, interned names and process snapshots, is dropped after a
 * flush by starting the symbolizer afresh when it holds more than B/4.
 * The web server's requests in flight (queries running, answers being
 * sent) are bounded at B/2 by the server itself (web.h memory_budget;
 * `ember serve` also gives it half of its own --memory). /metrics shows each
 * cache's bytes and evictions, and the server's.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "ember_config.h"
#include "session.h"
#include "serving.h"
#include "ship.h"
#include "web.h"

#define AGENT_DEFAULT_FREQ 19
#define AGENT_DEFAULT_DB "ember.db"
#define AGENT_DEFAULT_MEMORY_MB 256
/* A stopping agent ships what is queued for at most this long. */
#define AGENT_SHIP_DRAIN_MS 5000
/* The outbox's default bound: some 1.5 days of a busy host's flushes. */
#define AGENT_SHIP_BACKLOG_MB 256

struct agent_args {
	const char *db;
	struct cli_listen listen;
	unsigned freq;
	unsigned flush_s;
	uint64_t memory_mb;
	struct cli_allow_hosts hosts;
	char labels[4096];
	struct cli_file_opts files; /* --group, --force */
	const char *host;            /* --host */
	const char *remote;          /* --remote URL */
	const char *remote_password_file;
	const char *remote_ca;
	unsigned remote_timeout_s;
	uint64_t remote_backlog_mb;
};

static void agent_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember agent [--db FILE] [--listen ADDRESS:PORT] [-F HZ] [--flush SECS]\n"
		"                   [--label K=V]... [--memory MB] [--allow-host NAME]...\n"
		"                   [--host NAME] [--remote URL [--remote-password-file FILE]\n"
		"                   [--remote-ca FILE] [--remote-timeout SECS]\n"
		"                   [--remote-backlog MB]]\n"
		"\n"
		"Profile every CPU all the time into FILE (continued if it exists, so a\n"
		"restart loses nothing) and serve the web UI over it. Needs root (CAP_BPF\n"
		"and CAP_PERFMON). SIGTERM or Ctrl-C ends it with a final flush.\n"
		"Retention: 10 s buckets for a day, 1 min for a week, 1 h after that, up\n"
		"to 30 days and 1 GiB.\n"
		"\n"
		"Options:\n"
		"      --db FILE         database (default %s)\n"
		"  -L, --listen ADDR:PORT  web UI and API address (default %s:%d; the API\n"
		"                        has no authentication: keep it on loopback or a\n"
		"                        trusted network)\n"
		ALLOW_HOST_HELP
		"  -F, --freq HZ         samples per second on each CPU (default %d)\n"
		"      --flush SECS      write to the database every SECS seconds (default 10)\n"
		"  -l, --label K=V       add label K=V to every sample (repeatable)\n"
		"  -m, --memory MB       memory budget (default %d): caches evict to keep\n"
		"                        the resident size under it; /metrics shows the\n"
		"                        budget, each cache's bytes and evictions; HTTP\n"
		"                        requests in flight take at most half\n"
		"      --host NAME       the host label of every sample (default: the\n"
		"                        host name)\n"
		FILE_OPTIONS_HELP
		"  -h, --help            show this help\n"
		"\n"
		"Fleet (README, Fleet): also ship every committed flush to ClickHouse.\n"
		"The file keeps each flush until ClickHouse has acknowledged it, so\n"
		"nothing is lost or shipped twice across restarts, kill -9 and\n"
		"ClickHouse outages; sampling never waits for ClickHouse, and\n"
		"/metrics shows the backlog (ember_ship_backlog_*).\n"
		"      --remote URL      clickhouse://[USER[:PASSWORD]@]HOST:PORT/DATABASE,\n"
		"                        or https://... for TLS; the tables are created\n"
		"                        at the first connection (a cluster's with\n"
		"                        'ember fleet-init'). The user and password may\n"
		"                        also come from EMBER_CLICKHOUSE_USER and\n"
		"                        EMBER_CLICKHOUSE_PASSWORD (better than the URL,\n"
		"                        which other users see in ps); never printed\n"
		"      --remote-password-file FILE  the password: FILE's first line\n"
		"      --remote-ca FILE  CA certificates for https (default: the system's)\n"
		"      --remote-timeout SECS  each request to ClickHouse (default 10)\n"
		"      --remote-backlog MB  queue at most this much for ClickHouse (default\n"
		"                        %d); flushes past it stay in the file but are\n"
		"                        never shipped (counted: ember_ship_refused_*)\n",
		AGENT_DEFAULT_DB, WEB_DEFAULT_ADDRESS, WEB_DEFAULT_PORT, AGENT_DEFAULT_FREQ,
		AGENT_DEFAULT_MEMORY_MB, AGENT_SHIP_BACKLOG_MB);
}

/* --host NAME: a label value (no spaces, ',' or '='). */
static int parse_host(const char *arg, const struct cli_flag *f)
{
	if (!*arg || strlen(arg) > 253 || strpbrk(arg, " \t\n,=")) {
		cli_error("--host expects a host name (no spaces, ',' or '='), not '%s'", arg);
		return -EINVAL;
	}
	*(const char **)f->to = arg;
	return 0;
}

static int parse_agent_args(int argc, char **argv, struct agent_args *a)
{
	const struct cli_flag flags[] = {
		CLI_DB(&a->db),
		CLI_LISTEN(&a->listen),
		CLI_FREQ(&a->freq),
		CLI_FLUSH(&a->flush_s),
		CLI_LABEL(a->labels),
		CLI_MEMORY(&a->memory_mb),
		CLI_ALLOW_HOST(&a->hosts),
		CLI_FILE_FLAGS(&a->files),
		CLI_CALL("host", 0, parse_host, &a->host),
		CLI_TEXT("remote", 0, &a->remote),
		CLI_REMOTE_FILES(&a->remote_password_file, &a->remote_ca),
		CLI_U32("remote-timeout", 0, &a->remote_timeout_s, 1, 3600),
		CLI_U64("remote-backlog", 0, &a->remote_backlog_mb, 1, 1 << 20),
	};
	int first;

	a->db = AGENT_DEFAULT_DB;
	a->remote_timeout_s = 10;
	a->remote_backlog_mb = AGENT_SHIP_BACKLOG_MB;
	a->freq = AGENT_DEFAULT_FREQ;
	a->flush_s = 10;
	a->memory_mb = AGENT_DEFAULT_MEMORY_MB;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), CLI_FLAGS_IN_ORDER,
				 agent_usage);
	if (first < 0)
		return -EINVAL;
	if (first < argc) {
		cli_error("unexpected argument '%s': the agent profiles the whole system", argv[first]);
		return -EINVAL;
	}
	if (!a->remote && (a->remote_password_file || a->remote_ca)) {
		cli_error("--remote-password-file and --remote-ca go with --remote URL");
		return -EINVAL;
	}
	return cli_listen__default(&a->listen);
}

/* The budget's counters, for /metrics. */
struct agent_memory {
	uint64_t budget;
	uint64_t resets;       /* symbolizer started afresh after a flush */
};

static void add_cache(struct web_metrics *m, const char *name, uint64_t bytes,
		      uint64_t evictions)
{
	if (m->n_caches == WEB_METRICS_MAX_CACHES)
		return;
	m->caches[m->n_caches].name = name;
	m->caches[m->n_caches].bytes = bytes;
	m->caches[m->n_caches++].evictions = evictions;
}

/* What the agent tells /metrics, from the session's totals. */
static void publish(struct web_server *srv, const struct session_totals *t,
		    const struct agent_args *a, const struct agent_memory *mem,
		    struct shipper *sh, struct store_db *db)
{
	struct web_metrics m = {0};
	struct store_memory written;

	if (sh) {
		struct shipper_stats st;
		int64_t now_s = (int64_t)(common_wall_ns() / 1000000000ULL);

		shipper__stats(sh, &st);
		m.shipping = true;
		m.ship_backlog_flushes = st.backlog.flushes;
		m.ship_backlog_samples = st.backlog.samples;
		m.ship_backlog_bytes = st.backlog.bytes;
		m.ship_backlog_age_seconds = st.backlog.flushes && now_s > st.backlog.oldest_s
					     ? (double)(now_s - st.backlog.oldest_s) : 0;
		m.shipped_flushes = st.flushes;
		m.shipped_samples = st.samples;
		m.shipped_bytes = st.bytes;
		m.ship_found = st.found;
		m.ship_refused_flushes = st.backlog.refused_flushes;
		m.ship_refused_samples = st.backlog.refused_samples;
		m.ship_errors = st.errors;
		m.ship_failing = st.failing;
	}

	m.samples = t->samples_seen;
	m.samples_written = t->samples_seen - t->samples_lost_store;
	for (int i = 0; i < SAMPLER_STAT__COUNT; i++) {
		if (i == SAMPLER_STAT_SAMPLES)
			continue;
		if (sampler_stat_is_drop(i) && m.n_drops < WEB_METRICS_MAX_DROPS - 1) {
			m.drops[m.n_drops].reason = sampler_stat_name(i);
			m.drops[m.n_drops++].count = t->sampler[i];
		} else if (!sampler_stat_is_drop(i) && m.n_events < WEB_METRICS_MAX_DROPS) {
			m.events[m.n_events].reason = sampler_stat_name(i);
			m.events[m.n_events++].count = t->sampler[i];
		}
	}
	m.drops[m.n_drops].reason = "database-write-failed";
	m.drops[m.n_drops++].count = t->samples_lost_store;
	m.flushes = t->flushes;
	m.flush_errors = t->flush_errors;
	m.write_failing = t->write_failing;
	m.write_resumes = t->write_resumes;
	m.flush_interval_seconds = a->flush_s;
	m.last_flush_seconds = t->last_flush_ns / 1e9;
	m.flush_seconds_sum = t->flush_ns / 1e9;
	m.last_flush_cpu_seconds = t->last_flush_cpu_ns / 1e9;
	m.flush_cpu_seconds_sum = t->flush_cpu_ns / 1e9;
	m.last_flush_late_seconds = t->last_flush_late_ns / 1e9;
	m.flushes_late = t->flushes_late;
	m.early_flushes = t->early_flushes;
	m.frames = t->frames;
	m.frames_symbolized = t->frames_resolved;
	m.user_stacks = t->samples_with_ustack;
	m.user_stacks_complete = t->ustack_complete;
	m.unwind_unserved = t->sym.unwind_unserved;
	m.unwind_fast = t->sym.unwind_fast;
	m.processes = t->processes;
	m.python_processes = t->python.processes;
	m.python_unsupported = t->python.unsupported;
	m.python_samples = t->python.samples;
	m.python_samples_with_frames = t->python.with_python;
	m.python_frames = t->python.frames;
	m.python_frames_named = t->python.named;
	m.symbolizer_memory_bytes = t->sym.memory;
	m.symbolizer_reloads = t->sym.reloads;
	m.memory_budget_bytes = mem->budget;
	add_cache(&m, "symbolizer-binaries", t->sym.binary_memory, t->sym.evictions);
	add_cache(&m, "symbolizer-names", t->sym.string_memory, 0);
	add_cache(&m, "symbolizer-processes", t->sym.process_memory, 0);
	add_cache(&m, "kernel-symbols", t->sym.kernel_memory, 0);
	add_cache(&m, "unwinder", t->sym.unwind_memory, t->sym.unwind_memo_resets);
	add_cache(&m, "pending-stacks", t->pending_memory, t->early_flushes);
	add_cache(&m, "session", t->session_memory, 0);
	/* The file's: the writer's id caches (this thread's handle), the
	 * query threads' read caches, SQLite's page caches. */
	store_db__memory(db, &written);
	add_cache(&m, "store-writer", written.writer + written.reader, 0);
	add_cache(&m, "store-frame-memo", t->frame_memo_memory, t->frame_memo_resets);
	add_cache(&m, "store-reads", web_server__cache_bytes(srv), 0);
	add_cache(&m, "sqlite", store_sqlite_memory(), 0);
	m.memory_trims = t->memory_trims;
	m.cache_resets = mem->resets;
	_Static_assert(SYM_REFUSED__COUNT <= WEB_METRICS_MAX_REFUSALS,
		       "every refusal reason fits in web_metrics");
	for (int i = 0; i < SYM_REFUSED__COUNT; i++) {
		m.refused[m.n_refused].reason = sym_refusal_name(i);
		m.refused[m.n_refused++].count = t->sym.refused[i];
	}
	_Static_assert(SYM_DEBUG__COUNT <= WEB_METRICS_MAX_DEBUG_ISSUES,
		       "every debug issue fits in web_metrics");
	for (int i = SYM_DEBUG_OK + 1; i < SYM_DEBUG__COUNT; i++) {
		m.debug_issues[m.n_debug_issues].reason = sym_debug_issue_name(i);
		m.debug_issues[m.n_debug_issues++].count = t->sym.debug_issues[i];
	}
	m.rss_bytes = common_rss_bytes();
	web_server__set_metrics(srv, &m);
}

/*
 * After a flush: names and process snapshots, which eviction does not
 * shrink, are dropped with a fresh symbolizer when the budget is passed
 * and they hold more than a quarter of it. (Binaries are kept under the
 * budget by the session itself, also inside a flush.)
 */
static void reset_if_over(struct session *s, struct agent_memory *mem,
			  const struct session_totals *t)
{
	if (common_rss_bytes() > mem->budget &&
	    t->sym.string_memory + t->sym.process_memory > mem->budget / 4 &&
	    session__reset_symbolizer(s) == 0) {
		mem->resets++;
		malloc_trim(0);
	}
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args a = {0};
	struct session_options so = {0};
	struct session *s = NULL;
	struct store_db *db = NULL;
	struct web_server *srv = NULL;
	struct web_options wo = {0};
	struct session_totals t;
	struct agent_memory mem = {0};
	struct store_ch *ch = NULL;
	struct shipper *sh = NULL;
	char remote_url[600] = "";
	uint64_t flushes_seen = 0, last_publish = 0, shed_trims = 0;
	bool warned = false;
	int err, status = EXIT_RUNTIME;
	char *first = NULL;

	if (parse_agent_args(argc, argv, &a)) {
		cli_usage_hint("agent");
		free(a.listen.addr);
		return EXIT_USAGE;
	}
	mem.budget = a.memory_mb << 20;
	/* A bad URL or password file is a usage error, before any BPF. */
	if (a.remote && cli_remote_open(a.remote, a.remote_password_file, a.remote_ca,
					a.remote_timeout_s, &ch)) {
		free(a.listen.addr);
		return EXIT_USAGE;
	}
	cli_install_stop_signals();
	/* Blocks of 128 KiB and more (DWARF sections, symbol tables, hash
	 * arrays) are mmapped and go back to the system when freed; glibc's
	 * sliding threshold would move them onto the heap, where eviction
	 * frees them without returning the memory. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	so.freq_hz = a.freq;
	so.filter = SAMPLER_FILTER_ALL;
	so.flush_seconds = a.flush_s;
	so.unwind = SAMPLER_UNWIND_AUTO;
	so.extra_labels = a.labels[0] ? a.labels : NULL;
	so.host = a.host;
	so.sym.max_memory = mem.budget / 2;
	so.memory_budget = mem.budget;
	so.max_pending_bytes = mem.budget / 8;
	if (cli_file_check(a.db, CLI_FILE_DATABASE, &a.files))
		goto out;
	err = session__new(&so, &s);
	if (err) {
		session_explain_error(err, "agent", "or use 'ember serve' to only look at a database");
		goto out;
	}
	err = cli_db_open(a.db, STORE_OPEN_WRITE, &a.files, &db, NULL);
	if (err)
		goto out;
	session__set_store(s, db);
	if (ch) {
		err = store_db__ship_enable(db, session__host(s),
					    (uint64_t)a.remote_backlog_mb << 20);
		if (err) {
			cli_error("cannot prepare %s for shipping to ClickHouse: %s", a.db,
				  store_db__errmsg(db));
			goto out;
		}
		snprintf(remote_url, sizeof(remote_url), "%s", store_ch__url(ch));
		err = shipper__start(a.db, ch, &sh);
		ch = NULL; /* the shipper's */
		if (err) {
			cli_error("cannot start the shipping thread: %s", strerror(-err));
			goto out;
		}
	}
	store_db__set_meta(db, "status", "recording");
	store_db__set_meta(db, "ember_version", EMBER_VERSION);
	store_db__set_meta(db, "target", "system");
	store_db__set_meta(db, "command", "ember agent");
	store_db__set_metaf(db, "frequency_hz", "%u", a.freq);
	store_db__set_metaf(db, "agent_labels", "%s", a.labels);
	if (store_db__get_meta(db, "start_time", &first) < 0)
		store_db__set_metaf(db, "start_time", "%llu",
			     (unsigned long long)(common_wall_ns() / 1000000000ULL));
	free(first);
	store_db__set_metaf(db, "run_start_time", "%llu",
		     (unsigned long long)(common_wall_ns() / 1000000000ULL));

	wo.db_path = a.db;
	wo.address = a.listen.addr;
	wo.port = a.listen.port;
	/* Half, as serve: a quarter bounded a tree at 87,000 nodes, and a
	 * busy host's day (bench/storage: 155,000) was refused by default.
	 * The requests' memory is transient; the session's resident-size
	 * check trims the symbolizer when both peak together. */
	wo.memory_budget = (size_t)(mem.budget / 2);
	cli_set_allow_hosts(&wo, &a.hosts);
	err = web_server__start(&wo, &srv);
	if (err) {
		cli_explain_server_error(err, a.db, a.listen.addr, a.listen.port);
		goto out;
	}
	fprintf(stderr, "ember: agent sampling every CPU at %u Hz into %s, a flush every %u s, "
		"memory budget %llu MB\n", a.freq, a.db, a.flush_s,
		(unsigned long long)a.memory_mb);
	if (sh)
		fprintf(stderr, "ember: shipping every flush to %s as host %s\n", remote_url,
			a.host ? a.host : "(this host's name)");
	cli_print_url(a.listen.addr, web_server__port(srv));

	while (!cli_stop_signal) {
		err = session__run_once(s, 200);
		/* The kernel's counters only after a flush or once a second:
		 * reading them at every wake-up was 7 % of the agent's CPU. */
		if (session__flushes(s) != flushes_seen) {
			shipper__wake(sh);
			session__totals(s, &t);
			reset_if_over(s, &mem, &t);
			flushes_seen = t.flushes;
			if (t.write_failing && !warned) {
				cli_warn("%s; sampling goes on, and writing is tried again at each flush",
					 session__flush_error(s) ? session__flush_error(s)
								 : strerror(-err));
				warned = true;
			} else if (!t.write_failing && warned) {
				fprintf(stderr, "ember: writing to %s resumed; %llu samples of %llu "
					"failed flushes lost so far (counted as database-write-failed)\n",
					a.db, (unsigned long long)t.samples_lost_store,
					(unsigned long long)t.flush_errors);
				fflush(stderr);
				warned = false;
			}
			last_publish = 0;
		}
		if (common_now_ns() - last_publish >= 1000000000ULL) {
			session__totals(s, &t);
			/* The budget was passed and the symbolizer trimmed: the
			 * query threads' read caches go too (rebuilt by the
			 * next query). */
			if (t.memory_trims != shed_trims) {
				web_server__shed_caches(srv);
				shed_trims = t.memory_trims;
			}
			publish(srv, &t, &a, &mem, sh, db);
			last_publish = common_now_ns();
		}
	}

	session__stop(s);
	err = session__flush(s);
	if (err && err != -EINTR)
		cli_warn("final flush: %s",
			 session__flush_error(s) ? session__flush_error(s) : strerror(-err));
	session__totals(s, &t);
	session__write_accounting(s, db);
	store_db__set_meta(db, "status", t.flush_errors ? "incomplete" : "complete");
	if (sh) {
		struct shipper_stats st;

		/* the final flush too, when ClickHouse answers; what is left
		 * is shipped by the next start */
		shipper__wake(sh);
		shipper__stop(sh, AGENT_SHIP_DRAIN_MS);
		sh = NULL;
		store_db__ship_backlog(db, &st.backlog);
		if (st.backlog.flushes)
			fprintf(stderr, "ember: %llu flushes (%llu samples) not yet shipped stay queued "
				"in %s for the next start\n", (unsigned long long)st.backlog.flushes,
				(unsigned long long)st.backlog.samples, a.db);
	}
	/* Stopped, the file is no longer live: one file, once the server's
	 * own readers are closed. */
	web_server__stop(srv);
	srv = NULL;
	cli_seal_db(db, a.db);
	fprintf(stderr, "ember: agent stopped: %llu samples in %llu flushes, %llu dropped, "
		"written to %s\n", (unsigned long long)t.samples_seen,
		(unsigned long long)t.flushes, (unsigned long long)session_dropped(&t), a.db);
	status = t.flush_errors ? EXIT_RUNTIME : 0;
out:
	shipper__stop(sh, 0);
	store_ch__free(ch);
	web_server__stop(srv);
	session__free(s);
	store_db__close(db);
	free(a.listen.addr);
	return status;
}
