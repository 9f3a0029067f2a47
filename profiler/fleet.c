/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet.c — the command line of the fleet store: a ClickHouse client
 * from a --remote URL and its credentials (the URL, the environment, or
 * a file: cli_remote_open, used by `ember agent --remote`; cli_remote_store_open,
 * the fleet store as a source of `ember serve`, `report` and `diff`), and `ember
 * fleet-init`, which creates the tables on a single server or, for a
 * cluster, on each shard and the Distributed tables over them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "storage.h"

#define PASSWORD_FILE_MAX 4096

int cli_remote_config(const char *url, const char *password_file, const char *ca_file,
		      unsigned timeout_s, struct store_ch_config *ret, char **ret_password)
{
	struct store_ch_config c = {
		.url = url,
		.user = getenv("EMBER_CLICKHOUSE_USER"),
		.password = getenv("EMBER_CLICKHOUSE_PASSWORD"),
		.ca_file = ca_file,
		.timeout_ms = timeout_s * 1000,
	};
	char *password = NULL;
	void *data = NULL;
	size_t size = 0;
	int err;

	*ret_password = NULL;
	if (!timeout_s && getenv("EMBER_CLICKHOUSE_TIMEOUT")) {
		/* seconds a request may take (a day of a large fleet) */
		char *end;
		unsigned long v = strtoul(getenv("EMBER_CLICKHOUSE_TIMEOUT"), &end, 10);

		if (*end || v < 1 || v > 3600) {
			cli_error("EMBER_CLICKHOUSE_TIMEOUT=%s: give the seconds a request to ClickHouse "
				  "may take, 1 to 3600", getenv("EMBER_CLICKHOUSE_TIMEOUT"));
			return -EINVAL;
		}
		c.timeout_ms = (unsigned)v * 1000;
	}
	if (c.user && !*c.user)
		c.user = NULL;
	if (c.password && !*c.password)
		c.password = NULL;
	if (password_file) {
		err = cli_read_file(password_file, PASSWORD_FILE_MAX, &data, &size);
		if (err) {
			cli_error("cannot read the ClickHouse password from %s: %s%s", password_file,
				  strerror(-err), err == -EFBIG ? " (at most 4 KiB)" : "");
			return err;
		}
		password = strndup(data, size);
		free(data);
		if (!password)
			return -ENOMEM;
		password[strcspn(password, "\r\n")] = 0;
		c.password = password;
	}
	if (ca_file && access(ca_file, R_OK) != 0) {
		err = -errno;
		cli_error("--remote-ca %s: %s", ca_file, strerror(errno));
		cli_forget_password(password);
		return err;
	}
	*ret = c;
	*ret_password = password;
	return 0;
}

void cli_forget_password(char *password)
{
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
}

bool cli_is_remote(const char *source)
{
	return !strncmp(source, "clickhouse://", 13) || !strncmp(source, "https://", 8);
}

int cli_remote_store_open(const char *url, const char *password_file, const char *ca_file,
			  unsigned timeout_s, struct store_db **ret_db)
{
	struct store_ch_config c;
	char *password = NULL, *error = NULL;
	int err;

	err = cli_remote_config(url, password_file, ca_file, timeout_s, &c, &password);
	if (err)
		return err;
	err = store_db__open_clickhouse(&c, ret_db, &error);
	cli_forget_password(password);
	if (err == -EINVAL)
		cli_error("%s", error ? error : "bad ClickHouse URL");
	else if (err)
		cli_error("cannot read the fleet store: %s", error ? error : store_strerror(err));
	free(error);
	return err;
}

int cli_remote_open(const char *url, const char *password_file, const char *ca_file,
		    unsigned timeout_s, struct store_ch **ret_ch)
{
	struct store_ch_config c;
	char *error = NULL, *password = NULL;
	int err;

	err = cli_remote_config(url, password_file, ca_file, timeout_s, &c, &password);
	if (err)
		return err;
	err = store_ch__new(&c, ret_ch, &error);
	cli_forget_password(password);
	if (err == -EINVAL)
		cli_error("%s", error ? error : "bad ClickHouse URL");
	else if (err)
		cli_error("ClickHouse client: %s", strerror(-err));
	free(error);
	return err;
}

static void fleet_init_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember fleet-init URL [--cluster NAME --shard URL...]\n"
		"\n"
		"Create Ember's tables in ClickHouse (README, Fleet). URL is\n"
		"clickhouse://[USER[:PASSWORD]@]HOST:PORT/DATABASE (https://... for TLS);\n"
		"EMBER_CLICKHOUSE_USER, EMBER_CLICKHOUSE_PASSWORD and --remote-password-file\n"
		"give the credentials, as for ember agent --remote.\n"
		"\n"
		"Without --cluster: the tables of a single server at URL (the agent also\n"
		"creates them at its first connection). With --cluster: on every --shard\n"
		"the tables holding the data (<table>_local), then at URL, a server whose\n"
		"remote_servers configuration defines cluster NAME over those shards, the\n"
		"Distributed tables agents write to and readers query. Tables that exist\n"
		"are left as they are, so running it again is harmless.\n"
		"\n"
		"Options:\n"
		"      --cluster NAME    the cluster as URL's server names it\n"
		"      --shard URL       a shard's server (repeat for each; with --cluster)\n"
		"      --remote-password-file FILE  the password: FILE's first line\n"
		"      --remote-ca FILE  CA certificates for https\n"
		"  -h, --help            show this help\n");
}

#define MAX_SHARDS 64

int cmd_fleet_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cluster", required_argument, NULL, 'c' },
		{ "shard", required_argument, NULL, 's' },
		{ "remote-password-file", required_argument, NULL, 'P' },
		{ "remote-ca", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cluster = NULL, *pwfile = NULL, *ca = NULL, *shard_urls[MAX_SHARDS];
	struct store_ch *entry = NULL, *shards[MAX_SHARDS] = {0};
	size_t n_shards = 0;
	int c, err, status = EXIT_RUNTIME;

	opterr = 0;
	optind = 1;
	/* (options may follow the URL) */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cluster = optarg;
			break;
		case 's':
			if (n_shards == MAX_SHARDS) {
				cli_error("--shard: at most %d shards", MAX_SHARDS);
				return EXIT_USAGE;
			}
			shard_urls[n_shards++] = optarg;
			break;
		case 'P':
			pwfile = optarg;
			break;
		case 'C':
			ca = optarg;
			break;
		case 'h':
			fleet_init_usage(stdout);
			return 0;
		default:
			cli_option_error(c, argv);
			cli_usage_hint("fleet-init");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (!cluster != !n_shards)) {
		cli_error(optind >= argc ? "give the ClickHouse URL" :
			  optind < argc - 1 ? "one URL only: give the shards with --shard URL" :
			  "--cluster NAME and --shard URL go together");
		cli_usage_hint("fleet-init");
		return EXIT_USAGE;
	}
	if (cli_remote_open(argv[optind], pwfile, ca, 30, &entry))
		return EXIT_USAGE;
	for (size_t i = 0; i < n_shards; i++)
		if (cli_remote_open(shard_urls[i], pwfile, ca, 30, &shards[i])) {
			status = EXIT_USAGE;
			goto out;
		}
	if (cluster) {
		err = store_ch__init_cluster(entry, cluster, shards, n_shards);
		if (!err)
			err = store_ch__prepare(entry);
	} else {
		err = store_ch__prepare(entry);
	}
	if (err) {
		cli_error("%s", store_ch__errmsg(entry));
		goto out;
	}
	if (cluster)
		printf("ember: %s: Distributed tables over cluster '%s' (%zu shards), schema "
		       "version %d\n", store_ch__url(entry), cluster, n_shards,
		       STORE_CH_SCHEMA_VERSION);
	else
		printf("ember: %s: tables ready, schema version %d\n", store_ch__url(entry),
		       STORE_CH_SCHEMA_VERSION);
	status = 0;
out:
	store_ch__free(entry);
	for (size_t i = 0; i < n_shards; i++)
		store_ch__free(shards[i]);
	return status;
}
