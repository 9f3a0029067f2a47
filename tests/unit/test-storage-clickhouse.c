/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-clickhouse.c — the fleet store without a server: --remote
 * URLs (what is accepted, what is refused and how it is told, the
 * password never in a message), and the outbox: every committed flush
 * queued in its own transaction and nothing of a rolled-back one, the
 * shipment's rows (TabSeparated, gzip) summing to the flush's samples,
 * a definition shipped once per writer, and a failed shipment (nothing
 * listening) leaving the queue as it was. tests/integration/test_fleet.py
 * ships to real ClickHouse servers.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "storage-test.h"
#include "store_ch.h"

static void url_ok(const char *url, const char *display, const char *db)
{
	struct store_ch_config c = { .url = url };
	struct store_ch *ch = NULL;
	char *error = NULL;

	CHECK_RC(store_ch__new(&c, &ch, &error), 0);
	if (strcmp(store_ch__url(ch), display) || strcmp(store_ch__database(ch), db)) {
		fprintf(stderr, "%s: %s %s\n", url, store_ch__url(ch), store_ch__database(ch));
		exit(1);
	}
	store_ch__free(ch);
}

static void url_bad(const char *url, const char *want)
{
	struct store_ch_config c = { .url = url };
	struct store_ch *ch = NULL;
	char *error = NULL;

	CHECK_RC(store_ch__new(&c, &ch, &error), -EINVAL);
	if (!error || !strstr(error, want) || strstr(error, "hunter2")) {
		fprintf(stderr, "%s: '%s', want '%s'\n", url, error ? error : "(none)", want);
		exit(1);
	}
	free(error);
}

/* A loopback port nothing listens on. */
static unsigned closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static char *gunzip(const void *data, size_t len)
{
	size_t cap = 1 << 20;
	char *out = calloc(1, cap);
	z_stream z = { .next_in = (void *)data, .avail_in = (uInt)len,
		       .next_out = (void *)out, .avail_out = (uInt)(cap - 1) };

	CHECK(out && inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	inflateEnd(&z);
	return out;
}

static size_t lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The outbox rows as (samples, data) through SQLite itself. */
#include <sqlite3.h>

struct entry {
	long long samples, attempts;
	void *data;
	size_t len;
};

static size_t read_outbox(const char *path, struct entry *e, size_t max)
{
	sqlite3 *sql;
	sqlite3_stmt *st;
	size_t n = 0;

	CHECK(sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(sql, "SELECT samples, attempts, data FROM ship_outbox ORDER BY seq",
				 -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		e[n].samples = sqlite3_column_int64(st, 0);
		e[n].attempts = sqlite3_column_int64(st, 1);
		e[n].len = (size_t)sqlite3_column_bytes(st, 2);
		e[n].data = malloc(e[n].len);
		memcpy(e[n].data, sqlite3_column_blob(st, 2), e[n].len);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(sql);
	return n;
}

static char *section(const struct entry *e, enum store_ch_table t)
{
	const void *data;
	size_t len;

	CHECK_RC(store_ship_blob__section(e->data, e->len, t, &data, &len), 0);
	return len ? gunzip(data, len) : calloc(1, 1);
}

int main(void)
{
	char *dir = make_tempdir(), *path = path_in(dir, "ship.db"), url[128];
	struct store_labels l1 = { .host = "web-1", .process = "app", .pid = 7, .thread = "app",
				   .tid = 7, .extra = "env=prod,tier=a\tb" };
	struct store_labels l2 = { .host = "web-1", .process = "db", .pid = 9, .thread = "w'1",
				   .tid = 10 };
	struct store_ship_backlog b;
	struct store_ch_config c = { 0 };
	struct store_ch *ch;
	struct store_db *db;
	struct entry e[8];
	char *text;

	url_ok("clickhouse://h:8123/ember", "clickhouse://default@h:8123/ember", "ember");
	url_ok("clickhouse://u:hunter2@10.0.0.1:9/db_1", "clickhouse://u@10.0.0.1:9/db_1", "db_1");
	url_ok("https://u%40x:p%3Aw@[::1]:8443/e", "https://u@x@[::1]:8443/e", "e");
	url_ok("https://h/e", "https://default@h:8443/e", "e");
	url_bad("mysql://h:1/db", "must look like clickhouse://");
	url_bad("clickhouse://u:hunter2@h:1", "names no database");
	url_bad("clickhouse://u:hunter2@h:0/db", "HOST:PORT is not valid");
	url_bad("clickhouse://u:hunter2@h:70000/db", "HOST:PORT is not valid");
	url_bad("clickhouse://u:hunter2@:80/db", "HOST:PORT is not valid");
	url_bad("clickhouse://u:hunter2@h:80/db;drop", "letters, digits and '_'");
	url_bad("clickhouse://u:hunt%zzer2@h:80/db", "%-escape");

	/* the outbox: two flushes committed, one rolled back */
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &db), 0);
	CHECK_RC(store_db__ship_backlog(db, &b), 0);
	CHECK(b.flushes == 0);
	CHECK_RC(store_db__ship_enable(db, "h", 0), 0);
	CHECK_RC(store_db__begin(db, 1000, 10), 0);
	CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 5), 0);
	CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 2), 0);
	CHECK_RC(add_folded(db, &l2, "main;a;c", STORE_FRAME_USER, 100, 3), 0);
	CHECK_RC(store_db__add_drops(db, "ring-full", 3), 0);
	CHECK_RC(store_db__add_events(db, "dwarf-samples", 2), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_RC(store_db__begin(db, 1010, 10), 0);
	CHECK_RC(add_folded(db, &l1, "main;x", STORE_FRAME_USER, 100, 50), 0);
	store_db__rollback(db);
	CHECK_RC(store_db__begin(db, 1010, 10), 0);
	CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 4), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_RC(store_db__begin(db, 1020, 10), 0); /* no samples: nothing queued */
	CHECK_RC(store_db__commit(db), 0);
	CHECK_RC(store_db__begin(db, 1030, 10), 0);
	CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 1), 0);
	CHECK_RC(store_db__commit(db), 0);
	CHECK_RC(store_db__ship_backlog(db, &b), 0);
	CHECK(b.flushes == 3 && b.samples == 15 && b.oldest_s == 1000 && b.bytes > 0);

	CHECK(read_outbox(path, e, 8) == 3);
	CHECK(e[0].samples == 10 && e[1].samples == 4 && e[2].samples == 1 && e[0].attempts == 0);
	/* flush 1: main, a, b, c -> 4 functions and frames, 2 stacks; the
	 * same (labels, stack) summed into one row */
	text = section(&e[0], STORE_CH_FUNCTIONS);
	CHECK(lines(text) == 4);
	free(text);
	text = section(&e[0], STORE_CH_STACKS);
	CHECK(lines(text) == 2);
	free(text);
	text = section(&e[0], STORE_CH_SAMPLES);
	CHECK(lines(text) == 2);
	CHECK(strstr(text, "1000\t10\tweb-1\tapp\t7\tapp\t7\t0\t['env','tier']\t['prod','a\\tb']\t"));
	CHECK(strstr(text, "\tdb\t9\tw\\'1\t10\t0\t[]\t[]\t"));
	CHECK(strstr(text, "\t7\t") && strstr(text, "\t3\t"));
	/* the batch on the first row only */
	CHECK(strncmp(strchr(text, '\n') - 2, "\t0", 2) && strstr(strchr(text, '\n'), "\t0\n"));
	free(text);
	/* the drops and events, each with the batch, under the samples' host */
	text = section(&e[0], STORE_CH_DROPS);
	CHECK(lines(text) == 2);
	CHECK(strstr(text, "1000\t10\tweb-1\t0\tring-full\t3\t"));
	CHECK(strstr(text, "1000\t10\tweb-1\t1\tdwarf-samples\t2\t") && !strstr(text, "\t0\n"));
	free(text);
	/* flush 2, after a rollback: the writer no longer trusts what it
	 * queued (the rolled-back flush's definitions were never queued) and
	 * defines its stack again; flush 3 names the stack flush 2 defined */
	text = section(&e[1], STORE_CH_STACKS);
	CHECK(lines(text) == 1);
	free(text);
	text = section(&e[1], STORE_CH_SAMPLES);
	CHECK(lines(text) == 1 && strstr(text, "\t4\t"));
	free(text);
	for (int t = STORE_CH_FUNCTIONS; t <= STORE_CH_STACKS; t++) {
		text = section(&e[2], t);
		CHECK(lines(text) == 0);
		free(text);
	}
	for (int i = 0; i < 3; i++)
		free(e[i].data);

	/* nothing listening: the entry stays, marked as attempted */
	snprintf(url, sizeof(url), "clickhouse://u:hunter2@127.0.0.1:%u/ember", closed_port());
	c.url = url;
	CHECK_RC(store_ch__new(&c, &ch, NULL), 0);
	CHECK_RC(store_db__ship_next(db, ch, NULL), -ECONNREFUSED);
	CHECK(strstr(store_ch__errmsg(ch), "connection refused") &&
	      !strstr(store_ch__errmsg(ch), "hunter2"));
	CHECK_RC(store_ch__prepare(ch), -ECONNREFUSED);
	CHECK_RC(store_db__ship_backlog(db, &b), 0);
	CHECK(b.flushes == 3 && b.samples == 15);
	CHECK(read_outbox(path, e, 8) == 3);
	CHECK(e[0].attempts == 1 && e[1].attempts == 0);
	for (int i = 0; i < 3; i++)
		free(e[i].data);
	store_ch__free(ch);
	store_db__close(db);

	/* a bounded queue: flushes past the bound are stored, counted as
	 * refused, and the next queued one defines its stacks again */
	{
		char *p2 = path_in(dir, "bound.db");
		struct entry e2[8];
		char *t2;

		CHECK_RC(store_db__open(p2, STORE_OPEN_WRITE, &db), 0);
		CHECK_RC(store_db__ship_enable(db, "h", 1), 0); /* 1 byte: nothing fits */
		CHECK_RC(store_db__begin(db, 2000, 10), 0);
		CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 6), 0);
		CHECK_RC(store_db__commit(db), 0);
		CHECK_RC(store_db__ship_backlog(db, &b), 0);
		CHECK(b.flushes == 0 && b.refused_flushes == 1 && b.refused_samples == 6);
		CHECK_RC(store_db__ship_enable(db, "h", 1 << 20), 0);
		CHECK_RC(store_db__begin(db, 2010, 10), 0);
		CHECK_RC(add_folded(db, &l1, "main;a;b", STORE_FRAME_USER, 100, 2), 0);
		CHECK_RC(store_db__commit(db), 0);
		CHECK_RC(store_db__ship_backlog(db, &b), 0);
		CHECK(b.flushes == 1 && b.samples == 2 && b.refused_samples == 6);
		CHECK(read_outbox(p2, e2, 8) == 1);
		t2 = section(&e2[0], STORE_CH_STACKS);
		CHECK(lines(t2) == 1);
		free(t2);
		free(e2[0].data);
		store_db__close(db);
		free(p2);
	}

	/* a flush with drops and no samples is shipped, under the writer's
	 * host; a blob queued by schema 1 (four sections) still reads */
	{
		char *p3 = path_in(dir, "drops.db");
		struct entry e3[8];
		char *t3;
		static const unsigned char v1[16 + 6] = { 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
							  3, 0, 0, 0, 'a', 'b', 'b', 's', 's', 's' };
		const void *data;
		size_t len;

		CHECK_RC(store_db__open(p3, STORE_OPEN_WRITE, &db), 0);
		CHECK_RC(store_db__ship_enable(db, "agent-7", 0), 0);
		CHECK_RC(store_db__begin(db, 3000, 10), 0);
		CHECK_RC(store_db__add_drops(db, "ring-full", 11), 0);
		CHECK_RC(store_db__commit(db), 0);
		CHECK_RC(store_db__ship_backlog(db, &b), 0);
		CHECK(b.flushes == 1 && b.samples == 0);
		CHECK(read_outbox(p3, e3, 8) == 1);
		t3 = section(&e3[0], STORE_CH_DROPS);
		CHECK(lines(t3) == 1 && strstr(t3, "3000\t10\tagent-7\t0\tring-full\t11\t"));
		free(t3);
		t3 = section(&e3[0], STORE_CH_SAMPLES);
		CHECK(lines(t3) == 0);
		free(t3);
		free(e3[0].data);
		store_db__close(db);
		free(p3);
		CHECK_RC(store_ship_blob__section(v1, sizeof(v1), STORE_CH_SAMPLES, &data, &len), 0);
		CHECK(len == 3 && !memcmp(data, "sss", 3));
		CHECK_RC(store_ship_blob__section(v1, sizeof(v1), STORE_CH_DROPS, &data, &len), 0);
		CHECK(len == 0);
		CHECK_RC(store_ship_blob__section(v1, sizeof(v1), STORE_CH_FRAMES, &data, &len), 0);
		CHECK(len == 2 && !memcmp(data, "bb", 2));
		CHECK_RC(store_ship_blob__section(v1, sizeof(v1) - 1, STORE_CH_SAMPLES, &data, &len),
			 -EINVAL);
	}

	/* the file reads as before: report's view is untouched */
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &db), 0);
	CHECK_RC(store_db__ship_backlog(db, &b), 0);
	CHECK(b.flushes == 3);
	store_db__close(db);
	cleanup_tempdir(dir);
	free(path);
	printf("test-storage-clickhouse: ok\n");
	return 0;
}
