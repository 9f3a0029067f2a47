/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_answer.c — the fleet store reader's requests and answers
 * (store_ch_reader.h), the bottom of the reader: a SELECT asked within the
 * handle's deadline, its TabSeparated answer split into rows and
 * unescaped in place, SQL text written to a memory stream with its
 * string literals quoted, and a failure kept as the handle's message.
 * It calls only the HTTP client (store_ch_http.c) and storage's handle
 * helpers; the queries, the matching, the definitions' cache and the
 * handle's open (store_ch_read.c) call it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch_reader.h"
#include "store_formats.h"

/* Keep the client's message as the handle's. */
static int store_chdb__fail_ch(struct store_chdb *db, int err)
{
	return store_db__fail_msg(&db->base, err, store_ch__errmsg(db->ch));
}

int store_chdb__fail(struct store_chdb *db, int err, const char *msg)
{
	return store_db__fail_msg(&db->base, err, msg);
}

/* ---- SQL text ---- */

int store_ch_sql__open(struct store_ch_sql *s)
{
	memset(s, 0, sizeof(*s));
	s->f = open_memstream(&s->buf, &s->len);
	return s->f ? 0 : -ENOMEM;
}

/* Close the stream: 0 and s->buf, or -ENOMEM. */
int store_ch_sql__close(struct store_ch_sql *s)
{
	if (fclose(s->f) || !s->buf) {
		free(s->buf);
		s->buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A quoted string literal: only ' and \ are special in ClickHouse's
 * quoted strings; control bytes are written as escapes too. */
void store_ch__put_literal(FILE *f, const char *text)
{
	fputc('\'', f);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\'' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('\'', f);
}

/* ---- requests and answers ---- */

/* End the request of query id id on the server: a KILL that waits for
 * it to end (SYNC), within STORE_CH_KILL_MS (past that it is still told
 * to stop). Its own failure is not told: the handle keeps the message of
 * the request given up. */
static void kill_request(struct store_chdb *db, const char *id)
{
	char sql[128], saved[sizeof(db->ch->errmsg)];
	struct store_ch_request rq = { .body = sql, .what = "ending a query given up" };

	memcpy(saved, db->ch->errmsg, sizeof(saved));
	/* (ids are ours: letters, digits and '-') */
	rq.body_len = (size_t)snprintf(sql, sizeof(sql), "KILL QUERY WHERE query_id = '%s' SYNC",
				       id);
	db->ch->timeout_ms = STORE_CH_KILL_MS;
	store_ch__request(db->ch, &rq, NULL);
	db->ch->timeout_ms = db->timeout_ms;
	memcpy(db->ch->errmsg, saved, sizeof(saved));
}

/* Run sql (a SELECT; TabSeparated is added) within the deadline: 0 and
 * *ret_text, or -errno with the handle's message; a request given up is
 * killed on the server (store_ch_reader.h). */
int store_chdb__ask(struct store_chdb *db, const char *sql, const char *what, char **ret_text)
{
	char exec_s[32], id[64], *full = NULL;
	struct store_ch_setting settings[] = {
		/* ClickHouse's own end of the request: the deadline, in
		 * whole seconds (18.16 takes no fraction) */
		{ "max_execution_time", exec_s },
		/* a filter's list of label sets may be longer than the
		 * default 256 KiB of query text */
		{ "max_query_size", "33554432" },
		{ "readonly", "2" },
	};
	struct store_ch_request rq = {
		/* (until the database is known to exist: "default", so that a
		 * missing one is told as such) */
		.database = db->opened ? store_ch__database(db->ch) : NULL,
		.query_id = id,
		.settings = settings,
		.n_settings = ARRAY_SIZE(settings),
		.what = what,
		.cancelled = db->cancelled,
		.cancel_ctx = db->cancel_ctx,
	};
	unsigned timeout = db->timeout_ms;
	int n, err;

	if (db->deadline_ns) {
		uint64_t now = common_now_ns();

		if (now >= db->deadline_ns)
			return store_chdb__fail(db, -ETIMEDOUT, "the query's time ran out");
		if ((db->deadline_ns - now) / 1000000 < timeout)
			timeout = (unsigned)((db->deadline_ns - now) / 1000000) + 1;
	}
	if (db->cancelled && db->cancelled(db->cancel_ctx))
		return store_chdb__fail(db, -ECANCELED, "the client went away");
	snprintf(exec_s, sizeof(exec_s), "%u", (timeout + 999) / 1000);
	snprintf(id, sizeof(id), "ember-read-%016llx-%llu", (unsigned long long)db->id_base,
		 (unsigned long long)++db->n_asked);
	n = asprintf(&full, "%s FORMAT TabSeparated", sql);
	if (n < 0)
		return store_chdb__fail(db, -ENOMEM, "out of memory");
	rq.body = full;
	rq.body_len = (size_t)n;
	db->ch->timeout_ms = timeout;
	err = store_ch__request(db->ch, &rq, ret_text);
	db->ch->timeout_ms = db->timeout_ms;
	free(full);
	/* given up here (curl's time-out, the client gone): the server may
	 * still be at it */
	if (err == -ETIMEDOUT || err == -ECANCELED)
		kill_request(db, id);
	else if (err == -EIO && strstr(store_ch__errmsg(db->ch), "Timeout exceeded"))
		err = -ETIMEDOUT; /* max_execution_time, server side: ended there */
	return err ? store_chdb__fail_ch(db, err) : 0;
}

/* TabSeparated fields: the next line of *text split at tabs into at most
 * max fields, unescaped in place. Returns the number of fields, 0 at the
 * end. */
size_t store_ch__next_row(char **text, char **fields, size_t max)
{
	char *p = *text, *out;
	size_t n = 0;

	if (!p || !*p)
		return 0;
	fields[n++] = out = p;
	for (; *p && *p != '\n'; p++) {
		if (*p == '\t') {
			*out++ = 0;
			if (n < max)
				fields[n++] = out;
			continue;
		}
		if (*p == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 't': *out++ = '\t'; break;
			case 'n': *out++ = '\n'; break;
			case 'r': *out++ = '\r'; break;
			case 'b': *out++ = '\b'; break;
			case 'f': *out++ = '\f'; break;
			case '0': *out++ = '\0'; break; /* (cuts the text: no NUL in labels) */
			default: *out++ = *p; break;
			}
			continue;
		}
		*out++ = *p;
	}
	*text = *p ? p + 1 : p;
	*out = 0;
	return n;
}
