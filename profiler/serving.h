/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serving.h — what `ember serve` and `ember agent` share to run the web
 * server from the command line: --listen and --allow-host, one clear line
 * for a server that cannot start, the URL line, and SIGINT/SIGTERM ending
 * the command.
 */
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cli_flags.h"

struct web_options;

/* Set by SIGINT and SIGTERM (the signal's number) once
 * cli_install_stop_signals() ran; the command's loop ends on it. */
extern volatile sig_atomic_t cli_stop_signal;

/* Catch SIGINT and SIGTERM (cli_stop_signal), ignore SIGPIPE. */
void cli_install_stop_signals(void);

/* --listen ADDRESS:PORT into *ret_addr (the caller frees it) and
 * *ret_port. Prints one clear line on failure. Returns 0, -EINVAL or
 * -ENOMEM. */
int cli_parse_listen(const char *arg, char **ret_addr, uint16_t *ret_port);

/* Where the server listens: -L, --listen ADDR:PORT in a table of flags
 * (cli_flags.h; a later one replaces an earlier one), then
 * cli_listen__default for the default when none was given. The caller
 * frees addr. */
struct cli_listen {
	char *addr;
	uint16_t port;
};
int cli_flag_listen(const char *value, const struct cli_flag *f);
#define CLI_LISTEN(l) CLI_CALL("listen", 'L', cli_flag_listen, CLI_TYPED(struct cli_listen, l))
/* WEB_DEFAULT_ADDRESS:WEB_DEFAULT_PORT unless --listen gave one. Returns
 * 0 or -ENOMEM (printed). */
int cli_listen__default(struct cli_listen *l);

/* One clear line for web_server__start()'s err, serving db (a file or a
 * URL) on addr:port. */
void cli_explain_server_error(int err, const char *db, const char *addr, uint16_t port);

/* --allow-host names (borrowed from argv), for web_options. */
#define MAX_ALLOW_HOSTS 16

struct cli_allow_hosts {
	const char *names[MAX_ALLOW_HOSTS];
	size_t n;
};

/* Add one --allow-host name to h. Prints one clear line on failure.
 * Returns 0 or -EINVAL (not a host name, or too many). */
int cli_add_allow_host(const char *arg, struct cli_allow_hosts *h);
int cli_flag_allow_host(const char *value, const struct cli_flag *f);
/* --allow-host NAME (repeatable) in a table of flags. */
#define CLI_ALLOW_HOST(h) \
	CLI_CALL("allow-host", 0, cli_flag_allow_host, CLI_TYPED(struct cli_allow_hosts, h))
/* Give wo the names of h (borrowed: h must outlive the server). */
void cli_set_allow_hosts(struct web_options *wo, const struct cli_allow_hosts *h);

/* "ember: web UI at http://ADDR:PORT/" on stderr. */
void cli_print_url(const char *addr, uint16_t port);

#define ALLOW_HOST_HELP \
	"      --allow-host NAME also answer requests for Host NAME (repeatable;\n" \
	"                        '*' for any): on loopback the server refuses\n" \
	"                        other names with 421 (DNS rebinding); for use\n" \
	"                        behind a reverse proxy\n"
