/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_http.c — the ClickHouse client of the fleet store: the
 * server's URL and credentials, and requests over ClickHouse's HTTP
 * interface with libcurl (the only file of Ember that sees curl.h). A
 * statement goes in the POST body, or, for an INSERT, in the query
 * parameter with the rows as the body (gzip, Content-Encoding). Answers
 * are read into memory up to a bound; failures become -errno and one
 * sentence in errmsg, with ClickHouse's own text where it gave one. The
 * password is sent as HTTP basic authentication and never appears in a
 * message or in store_ch__url().
 *
 * libcurl is loaded at the first request (common_dl_load, the path the
 * build found: EMBER_LIBCURL_PATH), not linked: it brings two TLS stacks
 * whose mapping and constructors every other command would pay for.
 * Every call goes through the table `curl`; CURL_DISABLE_TYPECHECK keeps
 * curl.h's checking macros from standing in for those names.
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ember_config.h"
#include "store_ch.h"

#define CH_DEFAULT_TIMEOUT_MS 10000
#define CH_DEFAULT_CONNECT_MS 3000
#define CH_MAX_ANSWER (16u << 20)

/* The libcurl functions used, each a field of `curl` named as itself. */
#define CURL_FUNCTIONS(X) X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) \
	X(curl_easy_reset) X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo) \
	X(curl_easy_strerror) X(curl_easy_escape) X(curl_free) X(curl_slist_append) \
	X(curl_slist_free_all)
#define CURL_FIELD(f) __typeof__(f) *f;
#define CURL_NAME(f) #f,
#define CURL_SET(f) curl.f = (__typeof__(curl.f))syms[i++];

static struct {
	CURL_FUNCTIONS(CURL_FIELD)
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_load_err;             /* 0, or common_dl_load's */
static char curl_load_msg[256];
static CURLcode curl_init_rc;

static void curl_init(void)
{
	static const char *const names[] = {CURL_FUNCTIONS(CURL_NAME)};
	void *syms[ARRAY_SIZE(names)];
	size_t i = 0;

	curl_load_err = common_dl_load(EMBER_LIBCURL_PATH, names, ARRAY_SIZE(names),
				       syms, curl_load_msg, sizeof(curl_load_msg));
	if (curl_load_err)
		return;
	CURL_FUNCTIONS(CURL_SET)
	curl_init_rc = curl.curl_global_init(CURL_GLOBAL_DEFAULT);
}

int store_ch__fail(struct store_ch *ch, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ch->errmsg, sizeof(ch->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_ch__errmsg(const struct store_ch *ch)
{
	return ch && ch->errmsg[0] ? ch->errmsg : "no error";
}

const char *store_ch__url(const struct store_ch *ch)
{
	return ch->display;
}

const char *store_ch__database(const struct store_ch *ch)
{
	return ch->database;
}

/* Percent-decode s[0..n) into a new string; NULL on a bad escape, a NUL
 * byte or no memory. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		unsigned v;

		if (i + 2 >= n || sscanf(s + i + 1, "%2x", &v) != 1 || v == 0 ||
		    !strchr("0123456789abcdefABCDEF", s[i + 1]) ||
		    !strchr("0123456789abcdefABCDEF", s[i + 2])) {
			free(out);
			return NULL;
		}
		*o++ = (char)v;
		i += 2;
	}
	*o = 0;
	return out;
}

static int url_error(char **ret_error, const char *fmt, const char *arg)
{
	if (ret_error && asprintf(ret_error, fmt, arg) < 0)
		*ret_error = NULL;
	return -EINVAL;
}

#define URL_FORM "clickhouse://[USER[:PASSWORD]@]HOST:PORT/DATABASE (or https://... for TLS)"

int store_ch__new(const struct store_ch_config *c, struct store_ch **ret_ch,
		  char **ret_error)
{
	struct store_ch *ch;
	const char *url, *auth, *at, *host, *slash, *colon, *p;
	char *user = NULL, *pass = NULL, *hostname = NULL;
	bool tls;
	unsigned long port;
	int err = -ENOMEM;

	if (ret_error)
		*ret_error = NULL;
	if (!c || !c->url || !ret_ch)
		return -EINVAL;
	url = c->url;
	if (!strncmp(url, "clickhouse://", 13)) {
		tls = false;
		auth = url + 13;
	} else if (!strncmp(url, "http://", 7)) {
		tls = false;
		auth = url + 7;
	} else if (!strncmp(url, "https://", 8)) {
		tls = true;
		auth = url + 8;
	} else {
		return url_error(ret_error, "the ClickHouse URL must look like " URL_FORM
				 "%s", "");
	}
	slash = strchr(auth, '/');
	if (!slash)
		return url_error(ret_error, "the ClickHouse URL names no database: expected "
				 URL_FORM "%s", "");
	at = memrchr(auth, '@', slash - auth);
	host = at ? at + 1 : auth;
	if (at) {
		colon = memchr(auth, ':', at - auth);
		user = pct_decode(auth, (colon ? colon : at) - auth);
		if (colon)
			pass = pct_decode(colon + 1, at - colon - 1);
		if (!user || (colon && !pass)) {
			err = url_error(ret_error, "the ClickHouse URL's user or password has a bad "
					"%%-escape (write reserved characters as %%XX)%s", "");
			goto fail;
		}
	}
	/* HOST:PORT, HOST or [V6]:PORT */
	if (*host == '[') {
		const char *close = memchr(host, ']', slash - host);

		if (!close)
			goto bad_host;
		hostname = strndup(host, close + 1 - host);
		p = close + 1;
	} else {
		colon = memchr(host, ':', slash - host);
		p = colon ? colon : slash;
		hostname = strndup(host, p - host);
	}
	if (!hostname)
		goto fail;
	if (!hostname[0] || strpbrk(hostname, " \t\\?#%@"))
		goto bad_host;
	port = tls ? 8443 : 8123;
	if (*p == ':') {
		char *end;

		port = strtoul(p + 1, &end, 10);
		if (end != slash || port == 0 || port > 65535 || p[1] == '+' || p[1] == '-')
			goto bad_host;
	} else if (p != slash) {
		goto bad_host;
	}
	for (p = slash + 1; *p; p++)
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			break;
	if (*p || p == slash + 1 || p - slash > 64) {
		err = url_error(ret_error, "the ClickHouse database must be a name of letters, "
				"digits and '_' (1 to 64), not '%s'", slash + 1);
		goto fail;
	}

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		goto fail;
	ch->tls = tls;
	ch->port = (unsigned)port;
	ch->host = hostname;
	hostname = NULL;
	ch->database = strdup(slash + 1);
	ch->user = c->user ? strdup(c->user) : user ? user : strdup("default");
	if (!c->user)
		user = NULL;
	ch->password = c->password ? strdup(c->password) : pass ? pass : strdup("");
	if (!c->password)
		pass = NULL;
	ch->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
	ch->timeout_ms = c->timeout_ms ? c->timeout_ms : CH_DEFAULT_TIMEOUT_MS;
	ch->connect_ms = c->connect_timeout_ms ? c->connect_timeout_ms : CH_DEFAULT_CONNECT_MS;
	if (!ch->database || !ch->user || !ch->password || (c->ca_file && !ch->ca_file) ||
	    asprintf(&ch->base, "%s://%s:%u/", tls ? "https" : "http", ch->host, ch->port) < 0 ||
	    asprintf(&ch->display, "%s://%s@%s:%u/%s", tls ? "https" : "clickhouse", ch->user,
		     ch->host, ch->port, ch->database) < 0) {
		ch->base = ch->display = NULL;
		store_ch__free(ch);
		goto fail;
	}
	free(user);
	free(pass);
	*ret_ch = ch;
	return 0;
bad_host:
	err = url_error(ret_error, "the ClickHouse URL's HOST:PORT is not valid: expected "
			URL_FORM "%s", "");
fail:
	free(user);
	free(pass);
	free(hostname);
	return err;
}

void store_ch__free(struct store_ch *ch)
{
	if (!ch)
		return;
	if (ch->curl)
		curl.curl_easy_cleanup(ch->curl);
	free(ch->host);
	free(ch->database);
	free(ch->user);
	if (ch->password) {
		/* (not left in freed memory) */
		memset(ch->password, 0, strlen(ch->password));
		free(ch->password);
	}
	free(ch->ca_file);
	free(ch->base);
	free(ch->display);
	free(ch->answer.data);
	free(ch);
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct store_ch *ch = ctx;
	size_t len = size * n;

	if (ch->answer.len + len + 1 > CH_MAX_ANSWER) {
		ch->answer.too_big = true;
		return 0;
	}
	if (COMMON_GROW(ch->answer.data, ch->answer.cap, ch->answer.len + len + 1))
		return 0;
	memcpy(ch->answer.data + ch->answer.len, data, len);
	ch->answer.len += len;
	ch->answer.data[ch->answer.len] = 0;
	return len;
}

/* curl's progress callback: a request whose caller gave up ends. */
static int on_progress(void *ctx, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
		       curl_off_t ul_now)
{
	const struct store_ch_request *rq = ctx;

	return rq->cancelled(rq->cancel_ctx) ? 1 : 0;
}

/* ClickHouse's error text without its decoration: "Code: 60, e.displayText()
 * = DB::Exception: Table x doesn't exist., e.what() = DB::Exception" (18.16)
 * or "Code: 60. DB::Exception: Table x doesn't exist. (UNKNOWN_TABLE)
 * (version 23.8)" -> its code and "Table x doesn't exist." */
static int ch_error_text(const char *text, char *out, size_t size)
{
	const char *p = text, *end;
	int code = 0;

	if (sscanf(text, "Code: %d", &code) != 1)
		code = 0;
	if ((p = strstr(text, "DB::Exception: ")))
		p += 15;
	else
		p = text;
	end = strstr(p, ", e.what()");
	if (!end)
		end = strstr(p, " (version ");
	if (!end)
		end = p + strcspn(p, "\n");
	while (end > p && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(out, size, "%.*s", (int)(end - p > 300 ? 300 : end - p), p);
	return code;
}

/* ClickHouse error codes -> -errno. */
static int ch_code_errno(int code, long status)
{
	switch (code) {
	case 192: /* UNKNOWN_USER */
	case 193: /* WRONG_PASSWORD */
	case 194: /* REQUIRED_PASSWORD */
	case 195: /* IP_ADDRESS_NOT_ALLOWED */
	case 516: /* AUTHENTICATION_FAILED (newer releases) */
		return -EACCES;
	case 60:  /* UNKNOWN_TABLE */
	case 81:  /* UNKNOWN_DATABASE */
		return -ENOENT;
	case 164: /* READONLY */
	case 497: /* ACCESS_DENIED */
		return -EPERM;
	case 216: /* QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING */
		return -EAGAIN;
	}
	if (status == 401 || status == 403)
		return -EACCES;
	return -EIO;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EKEYREJECTED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Append "&name=<escaped value>" to buf. */
static int add_param(CURL *c, char *buf, size_t size, const char *name, const char *value)
{
	char *esc = curl.curl_easy_escape(c, value, 0);
	size_t len = strlen(buf);
	int n;

	if (!esc)
		return -ENOMEM;
	n = snprintf(buf + len, size - len, "%s%s=%s", len && buf[len - 1] != '?' ? "&" : "",
		     name, esc);
	curl.curl_free(esc);
	return n < 0 || (size_t)n >= size - len ? -E2BIG : 0;
}

int store_ch__request(struct store_ch *ch, const struct store_ch_request *rq,
		      char **ret_text)
{
	struct curl_slist *headers = NULL;
	char url[8192], curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	int err;

	pthread_once(&curl_once, curl_init);
	if (curl_load_err)
		return store_ch__fail(ch, -ELIBACC, "%s (libcurl, needed to reach ClickHouse)",
				      curl_load_msg);
	if (curl_init_rc != CURLE_OK)
		return store_ch__fail(ch, -EIO, "libcurl did not initialize: %s",
				      curl.curl_easy_strerror(curl_init_rc));
	if (!ch->curl && !(ch->curl = curl.curl_easy_init()))
		return store_ch__fail(ch, -ENOMEM, "libcurl: out of memory");
	CURL *c = ch->curl;

	snprintf(url, sizeof(url), "%s?", ch->base);
	err = add_param(c, url, sizeof(url), "database", rq->database ? rq->database : "default");
	if (!err && rq->query)
		err = add_param(c, url, sizeof(url), "query", rq->query);
	if (!err && rq->query_id)
		err = add_param(c, url, sizeof(url), "query_id", rq->query_id);
	for (size_t i = 0; !err && i < rq->n_settings; i++)
		err = add_param(c, url, sizeof(url), rq->settings[i].name, rq->settings[i].value);
	if (err)
		return store_ch__fail(ch, err, "a ClickHouse request too long for its URL");

	curl.curl_easy_reset(c);
	ch->answer.len = 0;
	ch->answer.too_big = false;
	if (ch->answer.data)
		ch->answer.data[0] = 0;
	curl.curl_easy_setopt(c, CURLOPT_URL, url);
	curl.curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl.curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl.curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
	curl.curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ch->connect_ms);
	curl.curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, ch->tls ? "https" : "http");
	curl.curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	curl.curl_easy_setopt(c, CURLOPT_USERNAME, ch->user);
	curl.curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
	if (ch->ca_file)
		curl.curl_easy_setopt(c, CURLOPT_CAINFO, ch->ca_file);
	curl.curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl.curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
	curl.curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	curl.curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl.curl_easy_setopt(c, CURLOPT_WRITEDATA, ch);
	curl.curl_easy_setopt(c, CURLOPT_USERAGENT, "ember");
	if (rq->cancelled) {
		curl.curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl.curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)rq);
		curl.curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	headers = curl.curl_slist_append(headers, "Content-Type: text/plain; charset=utf-8");
	if (rq->gzip && headers)
		headers = curl.curl_slist_append(headers, "Content-Encoding: gzip");
	/* (no "Expect: 100-continue" round trip before a large body) */
	if (headers)
		headers = curl.curl_slist_append(headers, "Expect:");
	if (!headers)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	curl.curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	rc = curl.curl_easy_perform(c);
	curl.curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl.curl_slist_free_all(headers);
	curl.curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl.curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

	if (rc == CURLE_WRITE_ERROR && ch->answer.too_big)
		return store_ch__fail(ch, -E2BIG, "ClickHouse at %s answered %s with more than %u MiB",
				      ch->display, rq->what, CH_MAX_ANSWER >> 20);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return store_ch__fail(ch, -ECANCELED, "gave up %s: the client went away",
				      rq->what);
	if (rc != CURLE_OK) {
		err = curl_errno(rc);
		if (err == -ETIMEDOUT)
			return store_ch__fail(ch, err, "ClickHouse at %s did not answer %s within "
					      "%.1f s", ch->display, rq->what, ch->timeout_ms / 1e3);
		if (err == -ECONNREFUSED)
			return store_ch__fail(ch, err, "nothing answers at %s:%u (connection refused "
					      "while %s): is ClickHouse running there?", ch->host,
					      ch->port, rq->what);
		return store_ch__fail(ch, err, "cannot reach ClickHouse at %s while %s: %s",
				      ch->display, rq->what,
				      curl_err[0] ? curl_err : curl.curl_easy_strerror(rc));
	}
	if (status != 200) {
		char text[320];
		int code = ch_error_text(ch->answer.data ? ch->answer.data : "", text, sizeof(text));

		err = ch_code_errno(code, status);
		if (err == -EACCES)
			return store_ch__fail(ch, err, "ClickHouse at %s refused user '%s' while %s: "
					      "wrong user or password (ClickHouse: %s)", ch->display,
					      ch->user, rq->what, text);
		return store_ch__fail(ch, err, "ClickHouse at %s answered %s with HTTP %ld%s%s",
				      ch->display, rq->what, status, text[0] ? ": " : "", text);
	}
	if (ret_text) {
		*ret_text = strdup(ch->answer.data ? ch->answer.data : "");
		if (!*ret_text)
			return store_ch__fail(ch, -ENOMEM, "out of memory");
	}
	return 0;
}

/* A request of the SQL fmt, ap make; its answer to *ret_text unless NULL. */
static int request_v(struct store_ch *ch, const char *what, char **ret_text, const char *fmt,
		     va_list ap)
{
	struct store_ch_request rq = { .database = NULL, .what = what };
	char *sql;
	int n, err;

	n = vasprintf(&sql, fmt, ap);
	if (n < 0)
		return store_ch__fail(ch, -ENOMEM, "out of memory");
	rq.body = sql;
	rq.body_len = (size_t)n;
	err = store_ch__request(ch, &rq, ret_text);
	free(sql);
	return err;
}

int store_ch__exec(struct store_ch *ch, const char *what, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = request_v(ch, what, NULL, fmt, ap);
	va_end(ap);
	return err;
}

int store_ch__ask(struct store_ch *ch, char **ret_text, const char *what, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = request_v(ch, what, ret_text, fmt, ap);
	va_end(ap);
	return err;
}
