/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serving.c — the web server's flags and messages shared by `ember serve`
 * and `ember agent` (serving.h): --listen, --allow-host, the reasons a
 * server cannot start, the URL line, and the stop signals.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serving.h"
#include "storage.h"
#include "web.h"

volatile sig_atomic_t cli_stop_signal;

static void on_signal(int sig)
{
	cli_stop_signal = sig;
}

void cli_install_stop_signals(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cli_parse_listen(const char *arg, char **ret_addr, uint16_t *ret_port)
{
	int err = web_parse_listen(arg, ret_addr, ret_port);

	if (err == -EINVAL)
		cli_error("--listen expects ADDRESS:PORT (like 127.0.0.1:%d or [::1]:%d), not '%s'",
			  WEB_DEFAULT_PORT, WEB_DEFAULT_PORT, arg);
	else if (err)
		cli_error("--listen: %s", strerror(-err));
	return err;
}

int cli_flag_listen(const char *value, const struct cli_flag *f)
{
	struct cli_listen *l = f->to;

	free(l->addr);
	l->addr = NULL;
	return cli_parse_listen(value, &l->addr, &l->port);
}

int cli_listen__default(struct cli_listen *l)
{
	if (l->addr)
		return 0;
	l->addr = strdup(WEB_DEFAULT_ADDRESS);
	if (!l->addr) {
		cli_error("out of memory");
		return -ENOMEM;
	}
	l->port = WEB_DEFAULT_PORT;
	return 0;
}

int cli_flag_allow_host(const char *value, const struct cli_flag *f)
{
	return cli_add_allow_host(value, f->to);
}

void cli_explain_server_error(int err, const char *db, const char *addr, uint16_t port)
{
	switch (err) {
	case -EADDRINUSE:
		cli_error("cannot listen on %s:%u: the port is in use; choose another with "
			  "--listen ADDRESS:PORT", addr, port);
		break;
	case -EACCES:
		cli_error("cannot listen on %s:%u: permission denied (ports below 1024 need "
			  "root); choose another with --listen", addr, port);
		break;
	case -EADDRNOTAVAIL:
	case -EINVAL:
		cli_error("cannot listen on %s:%u: no such address on this host", addr, port);
		break;
	case -EIO:
		cli_error("cannot start the web server on %s:%u", addr, port);
		break;
	case -ELIBACC:
		cli_error("cannot start the web server: %s", web_library_error());
		break;
	default:
		cli_error("cannot serve %s: %s", db, store_strerror(err));
		break;
	}
}

int cli_add_allow_host(const char *arg, struct cli_allow_hosts *h)
{
	size_t len = strlen(arg);

	if (h->n == MAX_ALLOW_HOSTS) {
		cli_error("--allow-host: at most %d names", MAX_ALLOW_HOSTS);
		return -EINVAL;
	}
	bool bracketed = len > 2 && arg[0] == '[' && arg[len - 1] == ']';

	/* A name as browsers send it in Host, without the port: a colon only
	 * inside an IPv6 literal's brackets. */
	if (len == 0 || len > 253 || strpbrk(arg, " \t/@?#\\") ||
	    (strchr(arg, ':') && !bracketed)) {
		cli_error("--allow-host expects a host name without a port (like "
			  "ember.example.com or [fd00::1]), not '%s'", arg);
		return -EINVAL;
	}
	h->names[h->n++] = arg;
	return 0;
}

void cli_set_allow_hosts(struct web_options *wo, const struct cli_allow_hosts *h)
{
	wo->allowed_hosts = h->names;
	wo->n_allowed_hosts = h->n;
}

void cli_print_url(const char *addr, uint16_t port)
{
	bool v6 = strchr(addr, ':') != NULL;

	fprintf(stderr, "ember: web UI at http://%s%s%s:%u/\n", v6 ? "[" : "", addr,
		v6 ? "]" : "", port);
	fflush(stderr);
}

