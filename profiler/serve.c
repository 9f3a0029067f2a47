/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve.c — `ember serve`: the web UI over an existing file, read-only,
 * without root; or over the fleet store in ClickHouse (--store URL), with
 * its retention run here when --maintain asks. Runs until SIGINT or
 * SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "serving.h"
#include "storage.h"
#include "web.h"

#define SERVE_DEFAULT_MEMORY_MB 256
#define SERVE_DEFAULT_QUERY_TIMEOUT_S 30

static void serve_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember serve --db FILE [--listen ADDRESS:PORT] [--memory MB]\n"
		"                   [--allow-host NAME]...\n"
		"       ember serve --store clickhouse://[USER@]HOST:PORT/DATABASE\n"
		"                   [--remote-password-file FILE] [--remote-ca FILE]\n"
		"                   [--maintain [--shard URL]... [--retention-days N]] ...\n"
		"\n"
		"Serve the web UI and its JSON API (web/API.md), /metrics and /healthz\n"
		"over an existing Ember database, read-only: nothing is ever written to\n"
		"FILE. Needs no root. Runs until Ctrl-C or SIGTERM.\n"
		"With --store, serve the fleet store instead: every host's samples that\n"
		"agents ship to ClickHouse (ember agent --remote), summed in ClickHouse;\n"
		"the UI's host selector picks a host or all. The user and password come\n"
		"from the URL, EMBER_CLICKHOUSE_USER and EMBER_CLICKHOUSE_PASSWORD, or\n"
		"--remote-password-file (https://... for TLS).\n"
		"\n"
		"Options:\n"
		"      --db FILE         the database (from ember record or ember agent)\n"
		"      --store URL       the fleet store in ClickHouse instead of a file\n"
		"      --remote-password-file FILE  the ClickHouse password: FILE's first line\n"
		"      --remote-ca FILE  https: the CA bundle to verify the server with\n"
		"      --maintain        also apply the retention policy to the fleet store\n"
		"                        now and every 10 minutes (ember fleet-maintain):\n"
		"                        run it in one server of the fleet only\n"
		"      --shard URL       with --maintain, a cluster's shard (repeat for each)\n"
		CLI_RETENTION_DAYS_HELP
		"  -L, --listen ADDR:PORT  address to listen on (default %s:%d; give\n"
		"                        0.0.0.0 or [::] only on a trusted network: the\n"
		"                        API has no authentication)\n"
		"  -m, --memory MB       memory budget (default %d): requests in flight\n"
		"                        take at most half; one too big for its share\n"
		"                        is a 400, too many at once a 503 (web/API.md)\n"
		"      --query-timeout S  a request's time (default %d s, 1 to 3600): a\n"
		"                        request still running then is a 503, and its\n"
		"                        ClickHouse query is killed (--store)\n"
		"%s"
		"  -h, --help            show this help\n",
		WEB_DEFAULT_ADDRESS, WEB_DEFAULT_PORT, SERVE_DEFAULT_MEMORY_MB,
		SERVE_DEFAULT_QUERY_TIMEOUT_S, ALLOW_HOST_HELP);
}

struct serve_args {
	const char *db, *store, *password_file, *ca_file;
	struct cli_shards shards;
	bool maintain;
	uint64_t retention_days; /* UINT64_MAX: not given */
	struct cli_listen listen;
	uint64_t memory_mb;
	uint32_t query_timeout_s;
	struct cli_allow_hosts hosts;
};

/* Returns 0, or -EINVAL after one message (a->listen.addr is the
 * caller's to free either way). */
static int parse_serve_args(int argc, char **argv, struct serve_args *a)
{
	const struct cli_flag flags[] = {
		CLI_DB(&a->db),
		CLI_TEXT("store", 0, &a->store),
		CLI_REMOTE_FILES(&a->password_file, &a->ca_file),
		CLI_SET("maintain", 0, &a->maintain),
		CLI_SHARD(&a->shards),
		CLI_RETENTION_DAYS(&a->retention_days),
		CLI_LISTEN(&a->listen),
		CLI_MEMORY(&a->memory_mb),
		CLI_U32("query-timeout", 0, &a->query_timeout_s, 1, 3600),
		CLI_ALLOW_HOST(&a->hosts),
	};
	int first;

	a->memory_mb = SERVE_DEFAULT_MEMORY_MB;
	a->retention_days = UINT64_MAX;
	a->query_timeout_s = SERVE_DEFAULT_QUERY_TIMEOUT_S;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), CLI_FLAGS_IN_ORDER,
				 serve_usage);
	if (first < 0)
		return -EINVAL;
	if ((a->db && a->store) || ((a->password_file || a->ca_file || a->maintain) && !a->store) ||
	    ((a->shards.n || a->retention_days != UINT64_MAX) && !a->maintain)) {
		cli_error(a->db && a->store ? "give --db FILE or --store URL, not both"
			  : a->shards.n && !a->maintain ? "--shard goes with --maintain"
			  : a->retention_days != UINT64_MAX && !a->maintain ?
			  "--retention-days goes with --maintain (the retention serve runs)"
			  : "--remote-password-file, --remote-ca and --maintain go with --store URL");
		return -EINVAL;
	}
	if (a->store && !cli_is_remote(a->store)) {
		cli_error("--store takes a fleet store's URL, clickhouse://[USER@]HOST:PORT/DATABASE "
			  "or https://...; for a file give --db %s", a->store);
		return -EINVAL;
	}
	if ((!a->db && !a->store) || first < argc) {
		cli_error(a->db || a->store ? "unexpected argument '%s'"
			  : "give the database with --db FILE (or the fleet store with --store URL)",
			  first < argc ? argv[first] : "");
		return -EINVAL;
	}
	return cli_listen__default(&a->listen);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a = {0};
	struct cli_maintainer *maintainer = NULL;
	struct store_ch_config remote;
	char *password = NULL;
	struct web_options wo = {0};
	struct web_server *srv = NULL;
	const char *db, *store, *password_file, *ca_file;
	char *addr;
	uint16_t port;
	int err;

	if (parse_serve_args(argc, argv, &a)) {
		cli_usage_hint("serve");
		free(a.listen.addr);
		return EXIT_USAGE;
	}
	db = a.db;
	store = a.store;
	password_file = a.password_file;
	ca_file = a.ca_file;
	addr = a.listen.addr;
	port = a.listen.port;
	if (store) {
		struct store_db *probe = NULL;

		/* told once, clearly, before the server starts: a bad URL,
		 * nothing listening, a wrong password, no such database */
		if (cli_remote_store_open(store, password_file, ca_file, 0, &probe)) {
			free(addr);
			return EXIT_RUNTIME;
		}
		store_db__close(probe);
		if (cli_remote_config(store, password_file, ca_file, 0, &remote, &password)) {
			free(addr);
			return EXIT_RUNTIME;
		}
		/* one definitions' cache for the query threads, within the
		 * half of the budget that requests in flight leave: a quarter */
		if (store_ch_cache__new((size_t)(a.memory_mb << 20) / 4, &remote.cache)) {
			cli_error("out of memory");
			cli_forget_password(password);
			free(addr);
			return EXIT_RUNTIME;
		}
		wo.remote = &remote;
		db = store;
	}
	cli_install_stop_signals();
	wo.db_path = db;
	wo.address = addr;
	wo.port = port;
	/* the rest: each query thread's read handle and its caches */
	wo.memory_budget = (size_t)(a.memory_mb << 20) / 2;
	wo.query_timeout_ms = a.query_timeout_s * 1000;
	cli_set_allow_hosts(&wo, &a.hosts);
	err = web_server__start(&wo, &srv);
	if (err) {
		cli_explain_server_error(err, db, addr, port);
		cli_forget_password(password);
		store_ch_cache__unref(store ? remote.cache : NULL);
		free(addr);
		return EXIT_RUNTIME;
	}
	fprintf(stderr, "ember: serving %s (read-only)\n", store ? "the fleet store" : db);
	cli_print_url(addr, web_server__port(srv));
	if (a.maintain) {
		struct store_policy policy;

		cli_fleet_policy(a.retention_days, &policy);
		err = cli_maintainer_start(store, password_file, ca_file, a.shards.urls, a.shards.n,
					   600, &policy, &maintainer);
	}
	if (err) {
		web_server__stop(srv);
		cli_forget_password(password);
		store_ch_cache__unref(store ? remote.cache : NULL);
		free(addr);
		return EXIT_RUNTIME;
	}
	{
		sigset_t block, old;

		/* Block the stop signals, then wait with them unblocked: no
		 * signal is lost between the check and the wait. */
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &old);
		while (!cli_stop_signal)
			sigsuspend(&old);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	cli_maintainer_stop(maintainer);
	web_server__stop(srv);
	cli_forget_password(password);
	store_ch_cache__unref(store ? remote.cache : NULL);
	free(addr);
	return 0;
}
