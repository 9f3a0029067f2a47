/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet.c — the command line of the fleet store: a ClickHouse client
 * from a --remote URL and its credentials (the URL, the environment, or
 * a file: cli_remote_open, used by `ember agent --remote`; cli_remote_store_open,
 * the fleet store as a source of `ember serve`, `report` and `diff`), and `ember
 * fleet-init`, which creates the tables on a single server or, for a
 * cluster, on each shard and the Distributed tables over them, and `ember
 * fleet-maintain`, the fleet store's retention run once (cli_fleet_maintain,
 * also run by `ember serve --store --maintain`).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
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

static void fleet_maintain_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember fleet-maintain URL [--shard URL...] [--retention-days N]\n"
		"       ember fleet-maintain --upgrade URL [--shard URL...]\n"
		"\n"
		"Apply the retention policy to the fleet store at URL once (README,\n"
		"Fleet), as an agent applies it to its own file: day partitions older\n"
		"than 30 days are dropped; 10 s buckets older than 1 day become 1 min\n"
		"buckets, older than 7 days 1 h buckets, every total kept. Agents never\n"
		"do this for the fleet store: run it from one place (cron, a systemd\n"
		"timer), or let ember serve --store URL --maintain run it every 10\n"
		"minutes. Credentials as for ember fleet-init.\n"
		"\n"
		"With --upgrade, convert a store of an older Ember's schema (2, 3 or 4)\n"
		"to this Ember's in place instead: its samples are copied day by day\n"
		"(unavailable meanwhile: agents keep their backlogs and ship them\n"
		"after), each day checked; run it again if it stopped.\n"
		"\n"
		"Options:\n"
		CLI_RETENTION_DAYS_HELP
		"      --upgrade         upgrade an older schema, then stop\n"
		"      --shard URL       a shard's server (repeat for each): for a cluster\n"
		"                        made by ember fleet-init --cluster, whose\n"
		"                        partitions are on the shards\n"
		"      --remote-password-file FILE  the password: FILE's first line\n"
		"      --remote-ca FILE  CA certificates for https\n"
		"  -h, --help            show this help\n");
}

/* The command line of fleet-init and fleet-maintain: URL, --cluster
 * (fleet-init's), --shard, the credentials' files. */
struct fleet_args {
	const char *url, *cluster, *pwfile, *ca;
	struct cli_shards shards;
	bool upgrade;            /* fleet-maintain --upgrade */
	uint64_t retention_days; /* fleet-maintain --retention-days; UINT64_MAX: not given */
};

int cli_flag_shard(const char *value, const struct cli_flag *f)
{
	struct cli_shards *s = f->to;

	if (s->n == CLI_MAX_SHARDS) {
		cli_error("--shard: at most %d shards", CLI_MAX_SHARDS);
		return -EINVAL;
	}
	s->urls[s->n++] = value;
	return 0;
}

/* Returns 0, or EXIT_USAGE after saying why. */
static int fleet_parse(int argc, char **argv, const char *name, bool cluster_ok,
		       void (*usage)(FILE *), struct fleet_args *a)
{
	const struct cli_flag flags[] = {
		CLI_TEXT("cluster", 0, &a->cluster),
		CLI_SHARD(&a->shards),
		CLI_REMOTE_FILES(&a->pwfile, &a->ca),
		/* (fleet-maintain's: not fleet-init's, which has a cluster) */
		CLI_SET("upgrade", 0, &a->upgrade),
		CLI_RETENTION_DAYS(&a->retention_days),
	};
	int first;

	memset(a, 0, sizeof(*a));
	a->retention_days = UINT64_MAX;
	/* (options may follow the URL) */
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags) - (cluster_ok ? 2 : 0), 0,
				 usage);
	if (first >= 0 && a->cluster && !cluster_ok) {
		cli_error("%s takes no --cluster: the layout is in the database", name);
		first = -EINVAL;
	} else if (first >= 0 && a->upgrade && a->retention_days != UINT64_MAX) {
		cli_error("--upgrade and --retention-days go separately: upgrade first, then "
			  "apply the retention");
		first = -EINVAL;
	} else if (first >= 0 && (first != argc - 1 || (cluster_ok && !a->cluster != !a->shards.n))) {
		cli_error(first >= argc ? "give the ClickHouse URL" :
			  first < argc - 1 ? "one URL only: give the shards with --shard URL" :
			  "--cluster NAME and --shard URL go together");
		first = -EINVAL;
	}
	if (first < 0) {
		cli_usage_hint(name);
		return EXIT_USAGE;
	}
	a->url = argv[first];
	return 0;
}

/* The clients of a's URL and shards, each request within timeout_s: 0,
 * or EXIT_USAGE (told). */
static int fleet_open(const struct fleet_args *a, unsigned timeout_s, struct store_ch **entry,
		      struct store_ch **shards)
{
	if (cli_remote_open(a->url, a->pwfile, a->ca, timeout_s, entry))
		return EXIT_USAGE;
	for (size_t i = 0; i < a->shards.n; i++)
		if (cli_remote_open(a->shards.urls[i], a->pwfile, a->ca, timeout_s, &shards[i]))
			return EXIT_USAGE;
	return 0;
}

static void fleet_close(struct store_ch *entry, struct store_ch **shards, size_t n)
{
	store_ch__free(entry);
	for (size_t i = 0; i < n; i++)
		store_ch__free(shards[i]);
}

int cmd_fleet_init(int argc, char **argv)
{
	struct store_ch *entry = NULL, *shards[CLI_MAX_SHARDS] = {0};
	struct fleet_args a;
	int err, status;

	status = fleet_parse(argc, argv, "fleet-init", true, fleet_init_usage, &a);
	if (status)
		return status;
	status = fleet_open(&a, 30, &entry, shards);
	if (status)
		goto out;
	status = EXIT_RUNTIME;
	if (a.cluster) {
		err = store_ch__init_cluster(entry, a.cluster, shards, a.shards.n);
		if (!err)
			err = store_ch__prepare(entry);
	} else {
		err = store_ch__prepare(entry);
	}
	if (err) {
		cli_error("%s", store_ch__errmsg(entry));
		goto out;
	}
	if (a.cluster)
		printf("ember: %s: Distributed tables over cluster '%s' (%zu shards), schema "
		       "version %d\n", store_ch__url(entry), a.cluster, a.shards.n,
		       STORE_CH_SCHEMA_VERSION);
	else
		printf("ember: %s: tables ready, schema version %d\n", store_ch__url(entry),
		       STORE_CH_SCHEMA_VERSION);
	status = 0;
out:
	fleet_close(entry, shards, a.shards.n);
	return status;
}

int cli_fleet_maintain(struct store_ch *entry, struct store_ch *const *shards, size_t n,
		       const struct store_policy *p)
{
	struct store_ch_maintain_stats st;
	int err = store_ch__maintain(entry, shards, n, (int64_t)time(NULL), p, &st);

	if (err) {
		cli_error("retention of the fleet store: %s", store_ch__errmsg(entry));
		return err;
	}
	printf("ember: %s: retention done: %llu day partitions dropped (%llu samples), %llu "
	       "sample rows merged into coarser buckets, %llu days rolled up%s\n",
	       store_ch__url(entry), (unsigned long long)st.partitions_dropped,
	       (unsigned long long)st.samples_removed, (unsigned long long)st.rows_merged,
	       (unsigned long long)st.days_rolled_up,
	       st.busy ? " (some days were being merged by another maintainer)" : "");
	fflush(stdout);
	return 0;
}

/* fleet-maintain --upgrade: 0, or EXIT_RUNTIME (told). */
static int fleet_upgrade(struct store_ch *entry, struct store_ch *const *shards, size_t n)
{
	uint64_t rows = 0;
	int from = 0, err = store_ch__upgrade(entry, shards, n, &from, &rows);

	if (err) {
		cli_error("upgrading the fleet store: %s", store_ch__errmsg(entry));
		return EXIT_RUNTIME;
	}
	if (from == STORE_CH_SCHEMA_VERSION && !rows)
		printf("ember: %s: schema version %d already; nothing to upgrade\n",
		       store_ch__url(entry), from);
	else if (from == STORE_CH_SCHEMA_VERSION)
		printf("ember: %s: the samples copied into schema version %d's tables (%llu sample "
		       "rows; a stopped upgrade finished, or the totals made)\n",
		       store_ch__url(entry), from, (unsigned long long)rows);
	else
		printf("ember: %s: upgraded from schema version %d to %d (%llu sample rows "
		       "copied)\n", store_ch__url(entry), from, STORE_CH_SCHEMA_VERSION,
		       (unsigned long long)rows);
	return 0;
}

int cmd_fleet_maintain(int argc, char **argv)
{
	struct store_ch *entry = NULL, *shards[CLI_MAX_SHARDS] = {0};
	struct fleet_args a;
	int status;

	status = fleet_parse(argc, argv, "fleet-maintain", false, fleet_maintain_usage, &a);
	if (status)
		return status;
	/* (a host's day merged, rolled up or copied is one statement: as
	 * long as serve --maintain gives it) */
	status = fleet_open(&a, 600, &entry, shards);
	if (!status && a.upgrade)
		status = fleet_upgrade(entry, shards, a.shards.n);
	else if (!status) {
		struct store_policy p;

		cli_fleet_policy(a.retention_days, &p);
		status = cli_fleet_maintain(entry, shards, a.shards.n, &p) ? EXIT_RUNTIME : 0;
	}
	fleet_close(entry, shards, a.shards.n);
	return status;
}

void cli_fleet_policy(uint64_t days, struct store_policy *ret)
{
	store_policy_init(ret);
	if (days != UINT64_MAX)
		ret->max_age_s = (int64_t)days * 86400;
}

/* ---- ember serve --store --maintain: the retention every interval ---- */

struct cli_maintainer {
	struct store_ch *entry, *shards[CLI_MAX_SHARDS];
	size_t n_shards;
	unsigned interval_s;
	struct store_policy policy;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
};

static void *maintainer_run(void *arg)
{
	struct cli_maintainer *m = arg;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		struct timespec ts;

		pthread_mutex_unlock(&m->lock);
		/* (a failure is told and tried again next time) */
		cli_fleet_maintain(m->entry, m->shards, m->n_shards, &m->policy);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += m->interval_s;
		pthread_mutex_lock(&m->lock);
		while (!m->stopping)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int cli_maintainer_start(const char *url, const char *password_file, const char *ca_file,
			 const char *const *shard_urls, size_t n, unsigned interval_s,
			 const struct store_policy *policy, struct cli_maintainer **ret)
{
	struct cli_maintainer *m;
	int err;

	if (n > CLI_MAX_SHARDS) {
		cli_error("--shard: at most %d shards", CLI_MAX_SHARDS);
		return -E2BIG;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->interval_s = interval_s;
	if (policy)
		m->policy = *policy;
	else
		store_policy_init(&m->policy);
	err = cli_remote_open(url, password_file, ca_file, 600, &m->entry);
	for (size_t i = 0; !err && i < n; i++) {
		err = cli_remote_open(shard_urls[i], password_file, ca_file, 600, &m->shards[i]);
		m->n_shards += !err;
	}
	if (!err) {
		pthread_mutex_init(&m->lock, NULL);
		pthread_cond_init(&m->cond, NULL);
		err = -pthread_create(&m->thread, NULL, maintainer_run, m);
		if (err) {
			cli_error("cannot start the retention thread: %s", strerror(-err));
			pthread_mutex_destroy(&m->lock);
			pthread_cond_destroy(&m->cond);
		}
	}
	if (err) {
		fleet_close(m->entry, m->shards, m->n_shards);
		free(m);
		return err;
	}
	*ret = m;
	return 0;
}

void cli_maintainer_stop(struct cli_maintainer *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	fleet_close(m->entry, m->shards, m->n_shards);
	free(m);
}
