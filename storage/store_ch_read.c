/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_read.c — the fleet store as a backend of storage.h
 * (store_backend.h): a read-only handle on a ClickHouse database that
 * agents ship to, for `ember serve --store`, `ember report` and `ember
 * diff` on a clickhouse:// source. Every query is aggregated in
 * ClickHouse (sums per process and stack, per step, per label set over
 * the range); only those sums and the definitions of the stacks, frames
 * and functions they name come back, and the tree, the label names and
 * values are then made in C exactly as the SQLite backend makes them.
 * A tree reads the samples once; the definitions are kept on the handle
 * (bounded), since their ids are content hashes, and only those it has
 * not seen are asked for.
 *
 * Filters: a filter's text never reaches SQL as SQL. The label sets of
 * the range are read (one GROUP BY, with a 64-bit hash of each), matched
 * in C with store_filter__match (the same matcher, the same regexes, as
 * the SQLite backend), and the query then names the matching sets by
 * their hashes (and their hosts, the primary key's prefix). Every text
 * that does go into SQL (a host="NAME" term's value, which narrows the
 * read to that host; a host name read back; a free label's name for a
 * timeline split) is a quoted literal with its quotes and backslashes
 * escaped; numbers are printed as numbers; the database name is checked
 * when the URL is parsed. ClickHouse 18.16 has no query parameters.
 *
 * Bounds: each request within the handle's deadline (store_db__set_deadline:
 * curl's time-out and ClickHouse's max_execution_time), answers within
 * the client's 16 MiB (-E2BIG), trees within q->max_tree_nodes.
 *
 * What the fleet store does not keep answers -ENOSYS: writing, meta,
 * retention (the server side's: store_ch_maintain.c), the integrity
 * check, coverage (agents ship samples, drops and events).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_backend.h"
#include "store_ch.h"
#include "store_formats.h"
#include "store_tree.h"

/* Ids in one explicit IN list at most; more: the query is refused. */
#define CH_MAX_SETS 200000

/*
 * The definitions met so far, kept on the handle: stacks, frames and
 * functions have content hashes for ids (store_ch_ship.c), so a
 * definition never changes, and a tree query asks ClickHouse only for
 * the ids it has not seen yet. Bounded: past CH_CACHE_BYTES (counted as
 * its entries and texts take) it is dropped before the next tree query
 * (trees keep their texts: they hold a reference to the arena).
 *
 * A frame is kept as its identity (name, module, file, line, kind:
 * what the tree merges frames by, as the SQLite backend), its offset
 * and build-id (pprof's sites); a stack as the identities of its frames,
 * root first; a tree's children are then found by (parent, identity),
 * an 8-byte key.
 */
#define CH_CACHE_BYTES (256u << 20)
/* Ids named in one request (its answer stays well inside the client's
 * 16 MiB: a stack's row takes about 200 bytes). */
#define CH_IDS_PER_REQUEST 32768

struct ch_function {
	const char *name, *module, *file;
};

struct ch_frame {
	uint32_t ident;
	const char *build_id; /* NULL: none */
	uint64_t offset;
};

struct ch_stack {
	size_t first; /* in idents_of */
	uint32_t n;
};

struct ch_cache {
	struct store_map texts;     /* interned texts -> 0 */
	struct store_map functions; /* id -> index in function */
	struct store_map frames;    /* id -> index in frame */
	struct store_map stacks;    /* id -> index in stack */
	struct store_map idents;    /* frame identity -> index in ident */
	struct ch_function *function;
	struct ch_frame *frame;
	struct ch_stack *stack;
	struct store_tree_node *ident; /* name, module, file, line, kind */
	uint32_t *idents_of;        /* the stacks' frames, as identities */
	size_t n_function, cap_function, n_frame, cap_frame, n_stack, cap_stack;
	size_t n_ident, cap_ident, n_idents_of, cap_idents_of;
	size_t bytes;               /* what it holds, roughly */
};

static void cache_free(struct ch_cache *c);

struct store_chdb {
	struct store_db base; /* first: a store_db is a store_chdb */
	struct store_ch *ch;
	uint64_t deadline_ns;
	unsigned timeout_ms;  /* the client's own */
	bool opened;          /* the database exists: queries run in it */
	struct ch_cache cache;
};

static const struct store_backend ch_backend;

static struct store_chdb *chdb_of(struct store_db *db)
{
	return db && db->ops == &ch_backend ? (struct store_chdb *)db : NULL;
}

/* Keep the client's message as the handle's. */
static int fail_ch(struct store_chdb *db, int err)
{
	return store_db__fail_msg(&db->base, err, store_ch__errmsg(db->ch));
}

static int fail(struct store_chdb *db, int err, const char *msg)
{
	return store_db__fail_msg(&db->base, err, msg);
}

/* ---- SQL text ---- */

struct sql {
	char *buf;
	size_t len;
	FILE *f;
};

static int sql_open(struct sql *s)
{
	memset(s, 0, sizeof(*s));
	s->f = open_memstream(&s->buf, &s->len);
	return s->f ? 0 : -ENOMEM;
}

/* Close the stream: 0 and s->buf, or -ENOMEM. */
static int sql_close(struct sql *s)
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
static void put_literal(FILE *f, const char *text)
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

/* The label columns of a label set (one per labelset: its hash, the
 * server's, store_ch_schema.c), with the free labels as "k=v,k=v" (as
 * storage.h's struct store_labels has them), and the hash that names a
 * label set. */
#define LABEL_SELECT \
	"any(host), any(process), any(pid), any(thread), any(tid), any(cgroup), " \
	"any(arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), label_keys, " \
	"label_values), ','))"
#define LABEL_HASH "labelset"

/* The condition of a query: its time range, and which label sets pass
 * its filter. */
struct cond {
	char *text;   /* SQL; "1" for everything */
	bool none;    /* no label set passes: nothing to ask */
};

static void cond_free(struct cond *c)
{
	free(c->text);
	c->text = NULL;
}

/* ---- requests and answers ---- */

/* Run sql (a SELECT; TabSeparated is added) within the deadline: 0 and
 * *ret_text, or -errno with the handle's message. */
static int ask(struct store_chdb *db, const char *sql, const char *what, char **ret_text)
{
	char exec_s[32], *full = NULL;
	struct store_ch_setting settings[] = {
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
		.settings = settings,
		.n_settings = ARRAY_SIZE(settings),
		.what = what,
	};
	unsigned timeout = db->timeout_ms;
	int n, err;

	if (db->deadline_ns) {
		uint64_t now = common_now_ns();

		if (now >= db->deadline_ns)
			return fail(db, -ETIMEDOUT, "the query's time ran out");
		if ((db->deadline_ns - now) / 1000000 < timeout)
			timeout = (unsigned)((db->deadline_ns - now) / 1000000) + 1;
	}
	snprintf(exec_s, sizeof(exec_s), "%u", (timeout + 999) / 1000);
	n = asprintf(&full, "%s FORMAT TabSeparated", sql);
	if (n < 0)
		return fail(db, -ENOMEM, "out of memory");
	rq.body = full;
	rq.body_len = (size_t)n;
	db->ch->timeout_ms = timeout;
	err = store_ch__request(db->ch, &rq, ret_text);
	db->ch->timeout_ms = db->timeout_ms;
	free(full);
	if (err == -EIO && strstr(store_ch__errmsg(db->ch), "Timeout exceeded"))
		err = -ETIMEDOUT; /* max_execution_time, server side */
	return err ? fail_ch(db, err) : 0;
}

/* TabSeparated fields: the next line of *text split at tabs into at most
 * max fields, unescaped in place. Returns the number of fields, 0 at the
 * end. */
static size_t next_row(char **text, char **fields, size_t max)
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

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* ---- conditions ---- */

/* "time >= .. AND time < .." for q's range (the primary key's second
 * column), or "1". */
static void put_range(FILE *f, const struct store_query *q)
{
	bool any = false;

	if (q && q->from_s != INT64_MIN) {
		fprintf(f, "time >= toDateTime(%lld)", (long long)(q->from_s < 0 ? 0 :
				q->from_s > UINT32_MAX ? UINT32_MAX : q->from_s));
		any = true;
	}
	if (q && q->to_s != INT64_MAX) {
		fprintf(f, "%stoUInt32(time) < %lld", any ? " AND " : "",
			(long long)(q->to_s < 0 ? 0 : q->to_s > UINT32_MAX + 1LL ? UINT32_MAX + 1LL
			: q->to_s));
		any = true;
	}
	if (!any)
		fputc('1', f);
}

/* " AND host = '...'" when q's filter requires one host (host="web-1",
 * the UI's host selector): the primary key's prefix, so only that
 * host's rows are read. */
static void put_required_host(FILE *f, const struct store_query *q)
{
	const char *host = q ? store_filter__required(q->filter, "host") : NULL;

	if (host) {
		fputs(" AND host = ", f);
		put_literal(f, host);
	}
}

struct label_set {
	struct store_labels l;
	uint64_t hash, samples;
};

/* The label sets of q's range (its filter not applied): rows of
 * LABEL_SELECT, hash, samples, kept in *ret_text (caller frees) and
 * parsed into *ret_sets. */
static int read_sets(struct store_chdb *db, const struct store_query *q, char **ret_text,
		     struct label_set **ret_sets, size_t *ret_n)
{
	struct label_set *v = NULL;
	size_t n = 0, cap = 0;
	char *text = NULL, *p, *f[10];
	struct sql s;
	int err;

	if (sql_open(&s))
		return fail(db, -ENOMEM, "out of memory");
	fputs("SELECT " LABEL_SELECT ", " LABEL_HASH ", sum(count) FROM samples WHERE ", s.f);
	put_range(s.f, q);
	put_required_host(s.f, q);
	/* (a label set's rows in range may sum to 0 while retention's
	 * downsampled rows and their negated sources are being merged) */
	fputs(" GROUP BY labelset HAVING sum(count) != 0", s.f);
	if (sql_close(&s))
		return fail(db, -ENOMEM, "out of memory");
	err = ask(db, s.buf, "reading the label sets", &text);
	free(s.buf);
	if (err)
		return err;
	for (p = text; next_row(&p, f, 9) == 9;) {
		if (COMMON_GROW(v, cap, n + 1)) {
			free(v);
			free(text);
			return fail(db, -ENOMEM, "out of memory");
		}
		v[n++] = (struct label_set){
			.l = { .host = f[0], .process = f[1], .pid = (uint32_t)num(f[2]),
			       .thread = f[3], .tid = (uint32_t)num(f[4]), .cgroup_id = num(f[5]),
			       .extra = *f[6] ? f[6] : NULL },
			.hash = num(f[7]),
			.samples = num(f[8]),
		};
	}
	*ret_text = text;
	*ret_sets = v;
	*ret_n = n;
	return 0;
}

static int compare_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The WHERE of q: its range, and with a filter the label sets that pass
 * it by hash, and their hosts. */
static int make_cond(struct store_chdb *db, const struct store_query *q, struct cond *ret)
{
	struct label_set *sets = NULL;
	const char **hosts = NULL;
	size_t n = 0, n_pass = 0, n_hosts = 0;
	char *text = NULL;
	struct sql s;
	int err;

	memset(ret, 0, sizeof(*ret));
	if (q && q->from_s > q->to_s)
		return fail(db, -EINVAL, "time range ends before it starts");
	/* A filter of one term host="NAME" (the UI's host selector) is
	 * that host's rows: no label set to match one by one. */
	if (q && q->filter && !(store_filter__terms(q->filter) == 1 &&
				store_filter__required(q->filter, "host"))) {
		err = read_sets(db, q, &text, &sets, &n);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++)
			if (store_filter__match(q->filter, &sets[i].l)) {
				/* (a swap: the sets that fail stay after) */
				struct label_set t = sets[n_pass];

				sets[n_pass++] = sets[i];
				sets[i] = t;
			}
		if (n_pass == 0)
			ret->none = true;
		if (n_pass > CH_MAX_SETS) {
			free(sets);
			free(text);
			return fail(db, -E2BIG, "the filter passes too many label sets: choose "
				    "a narrower filter or a shorter range");
		}
	}
	if (sql_open(&s)) {
		err = -ENOMEM;
		goto out;
	}
	put_range(s.f, q);
	put_required_host(s.f, q);
	if (n_pass && n_pass < n) {
		bool whole = true;

		hosts = malloc(n * sizeof(*hosts));
		if (!hosts) {
			fclose(s.f);
			free(s.buf);
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n_pass; i++)
			hosts[i] = sets[i].l.host;
		qsort(hosts, n_pass, sizeof(*hosts), compare_str);
		/* Whether the filter passes whole hosts (host="web-1", the
		 * UI's host selector): then the hosts alone say it, the
		 * primary key's prefix, with no hash per row. */
		for (size_t i = n_pass; i < n && whole; i++)
			whole = !bsearch(&sets[i].l.host, hosts, n_pass, sizeof(*hosts),
					 compare_str);
		fputs(" AND host IN (", s.f);
		for (size_t i = 0; i < n_pass; i++)
			if (i == 0 || strcmp(hosts[i], hosts[i - 1])) {
				if (n_hosts++)
					fputc(',', s.f);
				put_literal(s.f, hosts[i]);
			}
		fputc(')', s.f);
		if (!whole) {
			fputs(" AND " LABEL_HASH " IN (", s.f);
			for (size_t i = 0; i < n_pass; i++)
				fprintf(s.f, "%s%llu", i ? "," : "", (unsigned long long)sets[i].hash);
			fputc(')', s.f);
		}
	}
	err = sql_close(&s);
	if (!err)
		ret->text = s.buf;
out:
	free(hosts);
	free(sets);
	free(text);
	return err == -ENOMEM ? fail(db, err, "out of memory") : err;
}

/* ---- operations ---- */

static int ch_nosys(struct store_chdb *db, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the fleet store (ClickHouse) has no %s", what);
	return fail(db, -ENOSYS, msg);
}

static void ch_close(struct store_db *handle)
{
	struct store_chdb *db = chdb_of(handle);

	if (!db)
		return;
	store_ch__free(db->ch);
	cache_free(&db->cache);
	free(db);
}

static int ch_seal(struct store_db *db)
{
	return ch_nosys(chdb_of(db), "file to seal: it is read-only");
}

static int ch_begin(struct store_db *db, int64_t t, uint32_t d)
{
	return ch_nosys(chdb_of(db), "writer here: agents ship to it (ember agent --remote)");
}

static int ch_add_stack(struct store_db *db, const struct store_labels *l,
			const struct store_frame *f, size_t n, uint64_t c)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_drops(struct store_db *db, const char *r, uint64_t c)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_coverage(struct store_db *db, const char *m, const char *b, uint64_t s,
			   uint64_t f, uint64_t l)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_coverage_issue(struct store_db *db, const char *m, const char *b,
				 const char *r, uint64_t f)
{
	return ch_begin(db, 0, 0);
}

static int ch_add_python_coverage(struct store_db *db, const char *p, uint32_t pid,
				  const char *i, uint64_t s, uint64_t w, uint64_t f, uint64_t n)
{
	return ch_begin(db, 0, 0);
}

static int ch_commit(struct store_db *db)
{
	return ch_begin(db, 0, 0);
}

static void ch_rollback(struct store_db *db)
{
}

static int ch_set_meta(struct store_db *db, const char *k, const char *v)
{
	return ch_begin(db, 0, 0);
}

static int ch_get_meta(struct store_db *db, const char *key, char **ret)
{
	/* no recording of its own: the hosts each have theirs (frequency,
	 * command...), so no key is there */
	return -ENOENT;
}

/* The drops and events of q's range (only a host="NAME" term of its
 * filter applies: they carry no other label), into sum. */
static int read_drops(struct store_chdb *db, const struct store_query *q,
		      struct store_summary *sum)
{
	char *text = NULL, *p, *f[3];
	struct sql s;
	int err;

	if (sql_open(&s))
		return fail(db, -ENOMEM, "out of memory");
	fputs("SELECT kind, reason, sum(count) FROM drops WHERE ", s.f);
	put_range(s.f, q);
	put_required_host(s.f, q);
	fputs(" GROUP BY kind, reason ORDER BY kind, reason", s.f);
	if (sql_close(&s))
		return fail(db, -ENOMEM, "out of memory");
	err = ask(db, s.buf, "summing the drops", &text);
	free(s.buf);
	for (p = text; !err && next_row(&p, f, 3) == 3;) {
		bool event = num(f[0]) != 0;
		struct store_drop **v = event ? &sum->events : &sum->drops;
		size_t *n = event ? &sum->n_events : &sum->n_drops;
		struct store_drop *g = realloc(*v, (*n + 1) * sizeof(**v));
		char *reason = strdup(f[1]);

		if (g)
			*v = g;
		if (!g || !reason) {
			free(reason);
			err = fail(db, -ENOMEM, "out of memory");
			break;
		}
		g[(*n)++] = (struct store_drop){ .reason = reason, .count = num(f[2]) };
	}
	free(text);
	return err;
}

static int ch_summary(struct store_db *handle, const struct store_query *q,
		      struct store_summary **ret)
{
	struct store_chdb *db = chdb_of(handle);
	struct store_summary *sum;
	struct cond c;
	char *text = NULL, *p, *f[6];
	int err;

	if (!db || !ret)
		return -EINVAL;
	sum = calloc(1, sizeof(*sum));
	if (!sum)
		return -ENOMEM;
	err = make_cond(db, q, &c);
	if (!err && !c.none) {
		struct sql s;

		if (sql_open(&s)) {
			err = -ENOMEM;
		} else {
			fprintf(s.f, "SELECT sum(count), uniqExact(host, pid), uniqExact(stack), "
				"toUInt32(min(time)), toUInt32(max(time)), count() FROM samples "
				"WHERE %s", c.text);
			err = sql_close(&s);
		}
		if (!err) {
			err = ask(db, s.buf, "summing the samples", &text);
			free(s.buf);
		}
		p = text;
		if (!err && next_row(&p, f, 6) == 6 && num(f[5])) {
			sum->samples = num(f[0]);
			sum->processes = num(f[1]);
			sum->stacks = num(f[2]);
			sum->first_s = (int64_t)num(f[3]);
			sum->last_s = (int64_t)num(f[4]);
		}
	}
	if (!err)
		err = read_drops(db, q, sum);
	cond_free(&c);
	free(text);
	if (err) {
		store_summary__free(sum);
		return err;
	}
	*ret = sum;
	return 0;
}

/* ---- the tree ---- */

static void cache_free(struct ch_cache *c)
{
	store_map__free(&c->texts);
	store_map__free(&c->functions);
	store_map__free(&c->frames);
	store_map__free(&c->stacks);
	store_map__free(&c->idents);
	free(c->function);
	free(c->frame);
	free(c->stack);
	free(c->ident);
	free(c->idents_of);
	memset(c, 0, sizeof(*c));
}

/* text interned in the cache (NULL and "" stay NULL when empty_null). */
static int cache_text(struct ch_cache *c, const char *text, bool empty_null, const char **ret)
{
	size_t len, n;
	const void *key;
	int r;

	if (!text || (empty_null && !*text)) {
		*ret = NULL;
		return 0;
	}
	len = strlen(text);
	n = store_map__size(&c->texts);
	r = store_map__put(&c->texts, text, len, 0, &key);
	if (r < 0)
		return r;
	if (store_map__size(&c->texts) > n) /* (counted once: when new) */
		c->bytes += len + 1 + 16;
	*ret = key;
	return 0;
}

/* The identity of a frame (texts interned): its index in c->ident. */
static int cache_ident(struct ch_cache *c, const struct store_tree_node *nd, uint32_t *ret)
{
	struct {
		uint64_t name, module, file;
		uint32_t line, kind;
	} key = {
		(uintptr_t)nd->name, (uintptr_t)nd->module, (uintptr_t)nd->file,
		nd->line, (uint32_t)nd->kind,
	};
	int64_t found;
	int r;

	if (store_map__get(&c->idents, &key, sizeof(key), &found)) {
		*ret = (uint32_t)found;
		return 0;
	}
	if (c->n_ident >= UINT32_MAX || COMMON_GROW(c->ident, c->cap_ident, c->n_ident + 1))
		return -ENOMEM;
	r = store_map__put(&c->idents, &key, sizeof(key), (int64_t)c->n_ident, NULL);
	if (r < 0)
		return r;
	c->ident[c->n_ident] = *nd;
	c->bytes += sizeof(key) + 16 + sizeof(*nd);
	*ret = (uint32_t)c->n_ident++;
	return 0;
}

/* Definitions a query asked for, kept until all three tables answered:
 * a stack goes into the cache once its frames are there, a frame once
 * its function is. */
struct pending {
	struct ch_cache *c;  /* functions go into it as they come */
	uint64_t *stack_id;  /* n_stack */
	size_t *stack_first; /* n_stack + 1: into frame_ids */
	uint64_t *frame_ids; /* the stacks' frames, root first */
	struct { uint64_t id, function, offset; uint32_t line, kind; const char *build_id; } *frame;
	size_t n_stack, cap_stack, cap_first, n_frame_ids, cap_frame_ids, n_frame, cap_frame;
	char **texts;        /* answers the build-ids point into */
	size_t n_texts, cap_texts;
};

static void pending_free(struct pending *p)
{
	free(p->stack_id);
	free(p->stack_first);
	free(p->frame_ids);
	free(p->frame);
	for (size_t i = 0; i < p->n_texts; i++)
		free(p->texts[i]);
	free(p->texts);
}

/* Ask for the rows of table whose id is in ids[0..n) (distinct), in
 * requests of CH_IDS_PER_REQUEST ids; each answer is handed to row(). */
typedef int (*row_fn)(struct store_chdb *db, char **f, size_t n_fields, struct pending *p);

static int ask_ids(struct store_chdb *db, const char *select, const char *id, const char *what,
		   const uint64_t *ids, size_t n, size_t width, row_fn row, struct pending *p)
{
	int err = 0;

	for (size_t at = 0; at < n && !err; at += CH_IDS_PER_REQUEST) {
		size_t end = MIN(n, at + CH_IDS_PER_REQUEST);
		char *text = NULL, *cur, *f[6];
		size_t got;
		struct sql s;

		if (sql_open(&s))
			return fail(db, -ENOMEM, "out of memory");
		/* (an array literal, which ClickHouse parses as one literal:
		 * 8192 ids as a list "IN (1,2,...)" took 150 ms to parse;
		 * toUInt64, as an array of small ids is typed UInt16, which
		 * 18.16's IN refuses against a UInt64 column) */
		fprintf(s.f, "%s WHERE %s IN (SELECT toUInt64(arrayJoin([", select, id);
		for (size_t i = at; i < end; i++)
			fprintf(s.f, "%s%llu", i > at ? "," : "", (unsigned long long)ids[i]);
		fprintf(s.f, "]))) GROUP BY %s", id);
		if (sql_close(&s))
			return fail(db, -ENOMEM, "out of memory");
		err = ask(db, s.buf, what, &text);
		free(s.buf);
		for (cur = text; !err && (got = next_row(&cur, f, width)) > 0;)
			if (got == width)
				err = row(db, f, width, p);
		if (!err && COMMON_GROW(p->texts, p->cap_texts, p->n_texts + 1))
			err = fail(db, -ENOMEM, "out of memory");
		if (err)
			free(text);
		else
			p->texts[p->n_texts++] = text; /* (rows point into it) */
	}
	return err;
}

/* "[1,2,3]" into p->frame_ids. Returns the count, or -EINVAL. */
static int parse_ids(struct pending *p, const char *text)
{
	size_t n = 0;

	if (*text++ != '[')
		return -EINVAL;
	while (*text && *text != ']') {
		char *end;
		uint64_t v = strtoull(text, &end, 10);

		if (end == text)
			return -EINVAL;
		if (COMMON_GROW(p->frame_ids, p->cap_frame_ids, p->n_frame_ids + 1))
			return -ENOMEM;
		p->frame_ids[p->n_frame_ids++] = v;
		n++;
		text = end + (*end == ',');
	}
	return n > UINT32_MAX / 2 ? -EINVAL : (int)n;
}

static int stack_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	int n;

	if (COMMON_GROW(p->stack_id, p->cap_stack, p->n_stack + 1) ||
	    COMMON_GROW(p->stack_first, p->cap_first, p->n_stack + 2))
		return fail(db, -ENOMEM, "out of memory");
	p->stack_first[p->n_stack] = p->n_frame_ids;
	n = parse_ids(p, f[1]);
	if (n < 0)
		return n == -ENOMEM ? fail(db, n, "out of memory") :
			fail(db, -EIO, "ClickHouse gave a stack Ember cannot read");
	p->stack_id[p->n_stack++] = num(f[0]);
	p->stack_first[p->n_stack] = p->n_frame_ids;
	return 0;
}

static int frame_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	if (COMMON_GROW(p->frame, p->cap_frame, p->n_frame + 1))
		return fail(db, -ENOMEM, "out of memory");
	p->frame[p->n_frame].id = num(f[0]);
	p->frame[p->n_frame].function = num(f[1]);
	p->frame[p->n_frame].line = (uint32_t)num(f[2]);
	p->frame[p->n_frame].kind = (uint32_t)num(f[3]);
	p->frame[p->n_frame].build_id = *f[4] ? f[4] : NULL;
	p->frame[p->n_frame].offset = num(f[5]);
	p->n_frame++;
	return 0;
}

static int function_row(struct store_chdb *db, char **f, size_t n_fields, struct pending *p)
{
	struct ch_cache *c = p->c;
	struct ch_function fn;
	uint64_t id = num(f[0]);
	int r;

	if ((r = cache_text(c, f[1], false, &fn.name)) < 0 ||
	    (r = cache_text(c, f[2], true, &fn.module)) < 0 ||
	    (r = cache_text(c, f[3], true, &fn.file)) < 0 ||
	    (r = COMMON_GROW(c->function, c->cap_function, c->n_function + 1)) < 0 ||
	    (r = store_map__put(&c->functions, &id, sizeof(id), (int64_t)c->n_function, NULL)) < 0)
		return fail(db, -ENOMEM, "out of memory");
	c->function[c->n_function++] = fn;
	c->bytes += sizeof(fn) + sizeof(id) + 16;
	return 0;
}

/* The ids of v[0..n) that are not keys of have, each once, into *ret. */
static int missing(const struct store_map *have, const uint64_t *v, size_t n, uint64_t **ret,
		   size_t *ret_n)
{
	struct store_map seen = { 0 };
	uint64_t *out = NULL;
	size_t k = 0, cap = 0;
	int64_t x;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		if (store_map__get(have, &v[i], sizeof(v[i]), &x) ||
		    store_map__get(&seen, &v[i], sizeof(v[i]), &x))
			continue;
		err = store_map__put(&seen, &v[i], sizeof(v[i]), 0, NULL);
		if (!err && COMMON_GROW(out, cap, k + 1))
			err = -ENOMEM;
		if (!err)
			out[k++] = v[i];
	}
	store_map__free(&seen);
	if (err) {
		free(out);
		return err;
	}
	*ret = out;
	*ret_n = k;
	return 0;
}

/*
 * Bring the definitions of stacks[0..n) into the cache: at most three
 * requests (the stacks not cached, the frames of those not cached, the
 * functions of those not cached), each reading by the tables' ids (their
 * ORDER BY key), none reading the samples again.
 */
static int cache_fill(struct store_chdb *db, const uint64_t *stacks, size_t n)
{
	struct ch_cache *c = &db->cache;
	struct pending p = { .c = c };
	uint64_t *ids = NULL, *fn_ids = NULL;
	size_t n_ids = 0, n_fn = 0;
	int err;

	err = missing(&c->stacks, stacks, n, &ids, &n_ids);
	if (!err && n_ids)
		err = ask_ids(db, "SELECT stack, any(frames) FROM stacks", "stack",
			      "reading the stacks", ids, n_ids, 2, stack_row, &p);
	free(ids);
	ids = NULL;
	if (!err)
		err = missing(&c->frames, p.frame_ids, p.n_frame_ids, &ids, &n_ids);
	if (!err && n_ids)
		err = ask_ids(db, "SELECT frame, any(function), any(line), any(kind), any(build_id), "
			      "any(file_offset) FROM frames", "frame", "reading the frames", ids,
			      n_ids, 6, frame_row, &p);
	if (!err) {
		free(ids);
		ids = malloc((p.n_frame + 1) * sizeof(*ids));
		if (!ids)
			err = -ENOMEM;
		for (size_t i = 0; !err && i < p.n_frame; i++)
			ids[i] = p.frame[i].function;
		if (!err)
			err = missing(&c->functions, ids, p.n_frame, &fn_ids, &n_fn);
	}
	if (!err && n_fn)
		err = ask_ids(db, "SELECT function, any(name), any(module), any(file) FROM functions",
			      "function", "reading the functions", fn_ids, n_fn, 4, function_row, &p);
	/* frames, now that their functions are there */
	for (size_t i = 0; !err && i < p.n_frame; i++) {
		struct store_tree_node nd = { 0 };
		struct ch_frame fr = { .offset = p.frame[i].offset };
		int64_t fi;

		if (store_map__get(&c->frames, &p.frame[i].id, sizeof(p.frame[i].id), &fi))
			continue; /* (twice in the answer: not merged yet) */
		if (!store_map__get(&c->functions, &p.frame[i].function,
				    sizeof(p.frame[i].function), &fi)) {
			err = fail(db, -EIO, "the fleet store names a function it does not define "
				   "(shipped out of order?)");
			break;
		}
		nd.name = c->function[fi].name;
		nd.module = c->function[fi].module;
		nd.file = c->function[fi].file;
		nd.line = p.frame[i].line;
		nd.kind = (enum store_frame_kind)p.frame[i].kind;
		if ((err = cache_ident(c, &nd, &fr.ident)) < 0 ||
		    (err = cache_text(c, p.frame[i].build_id, true, &fr.build_id)) < 0 ||
		    (err = COMMON_GROW(c->frame, c->cap_frame, c->n_frame + 1)) < 0 ||
		    (err = store_map__put(&c->frames, &p.frame[i].id, sizeof(p.frame[i].id),
					  (int64_t)c->n_frame, NULL)) < 0)
			break;
		c->frame[c->n_frame++] = fr;
		c->bytes += sizeof(fr) + 24;
	}
	/* stacks, now that their frames are there */
	for (size_t i = 0; !err && i < p.n_stack; i++) {
		size_t first = p.stack_first[i], len = p.stack_first[i + 1] - first;
		struct ch_stack st = { .first = c->n_idents_of, .n = (uint32_t)len };
		int64_t si;

		if (store_map__get(&c->stacks, &p.stack_id[i], sizeof(p.stack_id[i]), &si))
			continue;
		if (COMMON_GROW(c->idents_of, c->cap_idents_of, c->n_idents_of + len)) {
			err = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < len; k++) {
			int64_t fi;

			if (!store_map__get(&c->frames, &p.frame_ids[first + k],
					    sizeof(p.frame_ids[first + k]), &fi)) {
				err = fail(db, -EIO, "the fleet store names a frame it does not "
					   "define (shipped out of order?)");
				break;
			}
			c->idents_of[st.first + k] = c->frame[fi].ident;
		}
		if (err || (err = COMMON_GROW(c->stack, c->cap_stack, c->n_stack + 1)) < 0 ||
		    (err = store_map__put(&c->stacks, &p.stack_id[i], sizeof(p.stack_id[i]),
					  (int64_t)c->n_stack, NULL)) < 0)
			break;
		c->n_idents_of += len;
		c->stack[c->n_stack++] = st;
		c->bytes += sizeof(st) + 4 * len + 24;
	}
	free(ids);
	free(fn_ids);
	pending_free(&p);
	return err == -ENOMEM ? fail(db, err, "out of memory") : err;
}

/* The child of parent with frame identity ident, added when new. */
static int child(struct store_tree *t, struct store_map *paths, const struct ch_cache *c,
		 uint32_t parent, uint32_t ident, uint32_t *ret)
{
	uint32_t key[2] = { parent, ident };
	struct store_tree_node nd;
	int64_t found;
	int r;

	if (store_map__get(paths, key, sizeof(key), &found)) {
		*ret = (uint32_t)found;
		return 0;
	}
	nd = c->ident[ident];
	nd.parent = parent;
	nd.self = nd.total = 0;
	if ((r = store_tree__add(t, &nd, ret)) < 0)
		return r;
	return store_map__put(paths, key, sizeof(key), *ret, NULL);
}

/* One row of the sums: count samples of a process's stack. */
struct sum {
	const char *process;
	uint64_t stack, count;
};

static int ch_query_tree(struct store_db *handle, const struct store_query *q,
			 struct store_tree **ret_tree)
{
	struct store_chdb *db = chdb_of(handle);
	struct store_tree_node root = { .name = "all" };
	struct store_map paths = { 0 }; /* (parent, identity) -> node */
	struct store_tree *t;
	struct cond c = { 0 };
	struct sum *sums = NULL;
	uint64_t *stacks = NULL;
	size_t n = 0, cap = 0;
	char *text = NULL, *sql = NULL, *p, *f[3];
	uint32_t index;
	int err;

	if (!db || !ret_tree)
		return -EINVAL;
	if (db->cache.bytes > CH_CACHE_BYTES)
		cache_free(&db->cache);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->max = q ? q->max_tree_nodes : 0;
	err = cache_text(&db->cache, root.name, false, &root.name);
	if (!err)
		err = store_tree__add(t, &root, &index);
	if (!err)
		err = make_cond(db, q, &c);
	if (err || c.none)
		goto done;
	/* the only read of the samples: their sums per process and stack */
	if (asprintf(&sql, "SELECT process, stack, sum(count) FROM samples WHERE %s "
		     "GROUP BY process, stack HAVING sum(count) != 0", c.text) < 0) {
		err = -ENOMEM;
		goto done;
	}
	err = ask(db, sql, "summing the samples per stack", &text);
	for (p = text; !err && next_row(&p, f, 3) == 3;) {
		if (COMMON_GROW(sums, cap, n + 1)) {
			err = -ENOMEM;
			break;
		}
		sums[n++] = (struct sum){ f[0], num(f[1]), num(f[2]) };
	}
	if (!err && !(stacks = malloc((n + 1) * sizeof(*stacks))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < n; i++)
		stacks[i] = sums[i].stack;
	if (!err)
		err = cache_fill(db, stacks, n);
	for (size_t i = 0; !err && i < n; i++) {
		const struct ch_cache *cc = &db->cache;
		struct store_tree_node pn = { .kind = STORE_FRAME_PROCESS };
		const struct ch_stack *st;
		uint32_t at, ident;
		int64_t si;

		if (!store_map__get(&cc->stacks, &sums[i].stack, sizeof(sums[i].stack), &si)) {
			err = fail(db, -EIO, "the fleet store has samples of a stack it does not "
				   "define (shipped out of order?)");
			break;
		}
		st = &cc->stack[si];
		if ((err = cache_text(&db->cache, sums[i].process, false, &pn.name)) < 0 ||
		    (err = cache_ident(&db->cache, &pn, &ident)) < 0 ||
		    (err = child(t, &paths, cc, 0, ident, &at)) < 0)
			break;
		for (uint32_t k = 0; k < st->n && !err; k++)
			err = child(t, &paths, cc, at, cc->idents_of[st->first + k], &at);
		if (!err)
			t->nodes[at].self += sums[i].count;
	}
done:
	if (err == -E2BIG) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the tree has more than %zu nodes", t->max);
		err = fail(db, -E2BIG, msg);
	} else if (err == -ENOMEM) {
		err = fail(db, -ENOMEM, "out of memory");
	}
	free(sql);
	free(text);
	free(sums);
	free(stacks);
	cond_free(&c);
	store_map__free(&paths);
	if (!err) {
		/* parents precede children: one backward pass sums subtrees */
		for (size_t i = t->n - 1; i > 0; i--) {
			struct store_tree_node *nd = &t->nodes[i];

			nd->total += nd->self;
			t->nodes[nd->parent].total += nd->total;
		}
		t->nodes[0].total += t->nodes[0].self;
		t->texts = store_map__arena(&db->cache.texts);
		*ret_tree = t;
		return 0;
	}
	store_tree__free(t);
	return err;
}

static int ch_query_coverage(struct store_db *db, const struct store_query *q,
			     struct store_coverage **ret, size_t *ret_n)
{
	return ch_nosys(chdb_of(db), "symbolization coverage (each agent keeps it in its file)");
}

static int ch_query_python_coverage(struct store_db *db, const struct store_query *q,
				    struct store_python_coverage **ret, size_t *ret_n)
{
	return ch_nosys(chdb_of(db), "Python coverage (each agent keeps it in its file)");
}

/* ---- span, timeline ---- */

/* First bucket start, last bucket end, the latest bucket's duration and
 * whether any is in q's range (its filter not applied, as SQLite's, but
 * for a host="NAME" term: that host's flushes are its recording's). */
static int data_span(struct store_chdb *db, const struct store_query *q, int64_t *ret_first,
		     int64_t *ret_end, uint32_t *ret_step, bool *ret_empty)
{
	char *text = NULL, *p, *f[4];
	struct sql s;
	int err;

	if (q && q->from_s > q->to_s)
		return fail(db, -EINVAL, "time range ends before it starts");
	if (sql_open(&s))
		return fail(db, -ENOMEM, "out of memory");
	fputs("SELECT toUInt32(min(time)), max(toUInt32(time) + duration), "
	      "argMax(duration, time), count() FROM samples WHERE ", s.f);
	put_range(s.f, q);
	/* (a host="NAME" filter: that host's flushes, as its own file's) */
	put_required_host(s.f, q);
	if (sql_close(&s))
		return fail(db, -ENOMEM, "out of memory");
	err = ask(db, s.buf, "reading the time span", &text);
	free(s.buf);
	if (err)
		return err;
	p = text;
	*ret_first = *ret_end = 0;
	*ret_step = 10;
	*ret_empty = true;
	if (next_row(&p, f, 4) == 4 && num(f[3])) {
		*ret_first = (int64_t)num(f[0]);
		*ret_end = (int64_t)num(f[1]);
		*ret_step = (uint32_t)num(f[2]);
		*ret_empty = false;
	}
	free(text);
	return 0;
}

static int ch_span(struct store_db *handle, const struct store_query *q, int64_t *ret_first,
		   int64_t *ret_end, uint32_t *ret_step)
{
	struct store_chdb *db = chdb_of(handle);
	uint32_t step;
	bool empty;
	int err;

	if (!db || !ret_first || !ret_end)
		return -EINVAL;
	err = data_span(db, q, ret_first, ret_end, &step, &empty);
	if (!err && ret_step)
		*ret_step = step;
	return err;
}

static int ch_flush_span(struct store_db *handle, const struct store_query *q,
			 int64_t *ret_first, int64_t *ret_end)
{
	return ch_span(handle, q, ret_first, ret_end, NULL);
}

/* The SQL of a label's value as store_labels__value gives it. */
static void put_label_expr(FILE *f, const char *name)
{
	if (!strcmp(name, "host") || !strcmp(name, "process") || !strcmp(name, "thread")) {
		fputs(name, f);
	} else if (!strcmp(name, "pid") || !strcmp(name, "tid")) {
		fprintf(f, "toString(%s)", name);
	} else if (!strcmp(name, "cgroup")) {
		fputs("toString(cgroup)", f);
	} else {
		/* (index 0, absent, gives '') */
		fputs("label_values[indexOf(label_keys, ", f);
		put_literal(f, name);
		fputs(")]", f);
	}
}

static int compare_series(const void *pa, const void *pb)
{
	const struct store_timeline_series *a = pa, *b = pb;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

static int fill_timeline(struct store_chdb *db, const struct store_query *q,
			 const char *split, struct store_timeline *t)
{
	struct store_map by_value = { 0 };
	struct cond c;
	char *text = NULL, *p, *f[3];
	struct sql s;
	int err;

	err = make_cond(db, q, &c);
	if (err || c.none)
		goto out;
	if (sql_open(&s)) {
		err = -ENOMEM;
		goto out;
	}
	fprintf(s.f, "SELECT intDiv(toInt64(toUInt32(time)) - %lld, %lld) AS k, ",
		(long long)t->from_s, (long long)t->step_s);
	if (split)
		put_label_expr(s.f, split);
	else
		fputs("''", s.f);
	fprintf(s.f, " AS v, sum(count) FROM samples WHERE %s AND toInt64(toUInt32(time)) >= %lld "
		"AND toInt64(toUInt32(time)) < %lld GROUP BY k, v HAVING sum(count) != 0", c.text,
		(long long)t->from_s,
		(long long)(t->from_s + (int64_t)t->n_steps * t->step_s));
	err = sql_close(&s);
	if (err)
		goto out;
	err = ask(db, s.buf, "summing the timeline", &text);
	free(s.buf);
	for (p = text; !err && next_row(&p, f, 3) == 3;) {
		const char *value = split ? f[1] : NULL;
		int64_t k = strtoll(f[0], NULL, 10), si;
		uint64_t n = num(f[2]);

		if (k < 0 || (size_t)k >= t->n_steps)
			continue;
		if (!store_map__get(&by_value, f[1], strlen(f[1]), &si)) {
			struct store_timeline_series *g = realloc(t->series,
								  (t->n_series + 1) * sizeof(*g));

			if (!g) {
				err = -ENOMEM;
				break;
			}
			t->series = g;
			g = &t->series[t->n_series];
			memset(g, 0, sizeof(*g));
			g->counts = calloc(t->n_steps, sizeof(uint64_t));
			g->value = value ? strdup(value) : NULL;
			if (!g->counts || (value && !g->value)) {
				free(g->counts);
				free((char *)g->value);
				err = -ENOMEM;
				break;
			}
			si = (int64_t)t->n_series++;
			if (store_map__put(&by_value, f[1], strlen(f[1]), si, NULL) < 0) {
				err = -ENOMEM;
				break;
			}
		}
		t->series[si].counts[k] += n;
		t->series[si].total += n;
	}
	if (!err && t->n_series > 1)
		qsort(t->series, t->n_series, sizeof(*t->series), compare_series);
out:
	store_map__free(&by_value);
	cond_free(&c);
	free(text);
	return err == -ENOMEM ? fail(db, err, "out of memory") : err;
}

static int ch_query_timeline(struct store_db *handle, const struct store_query *q,
			     int64_t step_s, const char *split_label,
			     struct store_timeline **ret_timeline)
{
	struct store_chdb *db = chdb_of(handle);
	struct store_query range = { .from_s = INT64_MIN, .to_s = INT64_MAX };
	struct store_timeline *t;
	int64_t first = 0, end = 0, from, to;
	uint32_t bucket;
	bool empty = true;
	int err;

	if (!db || !ret_timeline)
		return -EINVAL;
	if (q)
		range = *q;
	if (range.from_s > range.to_s)
		return fail(db, -EINVAL, "time range ends before it starts");
	if (step_s < 0)
		return fail(db, -EINVAL, "negative step");
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = data_span(db, &range, &first, &end, &bucket, &empty);
	if (err)
		goto out;
	from = range.from_s != INT64_MIN ? range.from_s : first;
	to = range.to_s != INT64_MAX ? range.to_s : end;
	if (range.from_s == INT64_MIN && range.to_s == INT64_MAX && empty)
		goto done;
	if (to <= from) {
		t->from_s = from;
		t->step_s = step_s;
		goto done;
	}
	if (step_s == 0)
		step_s = store_time__auto_step(to - from);
	if (range.from_s == INT64_MIN)
		from = store_time__floor(from, step_s);
	if ((to - from) / step_s >= STORE_TIMELINE_MAX_STEPS) {
		err = fail(db, -EINVAL, "too many steps: choose a longer step or a shorter range");
		goto out;
	}
	t->from_s = from;
	t->step_s = step_s;
	t->n_steps = (size_t)((to - from + step_s - 1) / step_s);
	err = fill_timeline(db, &range, split_label, t);
	if (err)
		goto out;
done:
	if (t->n_steps && !t->n_series) {
		/* one series of zeros, as when the range is empty */
		t->series = calloc(1, sizeof(*t->series));
		if (!t->series || !(t->series[0].counts = calloc(t->n_steps, sizeof(uint64_t)))) {
			err = -ENOMEM;
			goto out;
		}
		t->n_series = 1;
	}
	*ret_timeline = t;
	return 0;
out:
	store_timeline__free(t);
	return err;
}

/* ---- label sets ---- */

static int ch_label_sets(struct store_db *handle, const struct store_query *q,
			 struct store_label_sets **ret_sets)
{
	struct store_chdb *db = chdb_of(handle);
	struct store_label_sets *sets;
	struct label_set *v = NULL;
	char *text = NULL;
	size_t n = 0;
	int err;

	if (!db || !ret_sets)
		return -EINVAL;
	if (q && q->from_s > q->to_s)
		return fail(db, -EINVAL, "time range ends before it starts");
	sets = store_label_sets__new();
	if (!sets)
		return -ENOMEM;
	err = read_sets(db, q, &text, &v, &n);
	for (size_t i = 0; !err && i < n; i++)
		if (!q || store_filter__match(q->filter, &v[i].l))
			err = store_label_sets__add(sets, &v[i].l, v[i].samples);
	free(v);
	free(text);
	if (err) {
		store_label_sets__free(sets);
		return err;
	}
	*ret_sets = sets;
	return 0;
}

static int ch_label_names(struct store_db *db, const struct store_query *q, char ***ret_names,
			  size_t *ret_n)
{
	struct store_label_sets *sets = NULL;
	int err = ch_label_sets(db, q, &sets);

	if (!err)
		err = store_label_sets__names(sets, ret_names, ret_n);
	store_label_sets__free(sets);
	return err;
}

static int ch_label_values(struct store_db *db, const struct store_query *q, const char *name,
			   struct store_label_value **ret_values, size_t *ret_n)
{
	struct store_label_sets *sets = NULL;
	int err = ch_label_sets(db, q, &sets);

	if (!err)
		err = store_label_sets__values(sets, name, ret_values, ret_n);
	store_label_sets__free(sets);
	return err;
}

static int ch_maintain(struct store_db *db, int64_t now, const struct store_policy *p,
		       struct store_maintain_stats *ret)
{
	return ch_nosys(chdb_of(db), "retention run by a client (it is the server's)");
}

static int ch_check(struct store_db *db, char **ret_msg)
{
	return ch_nosys(chdb_of(db), "integrity check (ClickHouse's CHECK TABLE is its own)");
}

static int ch_drops_timeline(struct store_db *handle, int64_t from, int64_t step, size_t n,
			     uint64_t *counts)
{
	struct store_chdb *db = chdb_of(handle);
	char *sql = NULL, *text = NULL, *p, *f[2];
	int err;

	if (!db || !counts || step <= 0)
		return -EINVAL;
	if (!n)
		return 0;
	if (asprintf(&sql, "SELECT intDiv(toInt64(toUInt32(time)) - %lld, %lld) AS k, sum(count) "
		     "FROM drops WHERE kind = 0 AND toInt64(toUInt32(time)) >= %lld AND "
		     "toInt64(toUInt32(time)) < %lld GROUP BY k", (long long)from, (long long)step,
		     (long long)from, (long long)(from + (int64_t)n * step)) < 0)
		return fail(db, -ENOMEM, "out of memory");
	err = ask(db, sql, "summing the drops per step", &text);
	free(sql);
	for (p = text; !err && next_row(&p, f, 2) == 2;) {
		long long k = strtoll(f[0], NULL, 10);

		if (k >= 0 && (size_t)k < n)
			counts[k] += num(f[1]);
	}
	free(text);
	return err;
}

static void ch_set_deadline(struct store_db *handle, uint64_t deadline_ns)
{
	struct store_chdb *db = chdb_of(handle);

	if (db)
		db->deadline_ns = deadline_ns;
}

static int ch_can_write(struct store_db *db)
{
	return -EROFS;
}

/* pprof's addresses: the build-id and offset of every frame the handle
 * has read (the definitions' cache), which holds every frame of the
 * tree it made last (an export makes its tree first). */
static int ch_frame_sites(struct store_db *handle, struct store_frame_sites *sites)
{
	struct store_chdb *db = chdb_of(handle);
	const struct ch_cache *c;
	int r = 0;

	if (!db || !sites)
		return -EINVAL;
	c = &db->cache;
	for (size_t i = 0; r == 0 && i < c->n_frame; i++)
		r = store_frame_sites__add(sites, &c->ident[c->frame[i].ident], c->frame[i].offset,
					   c->frame[i].build_id);
	return r < 0 ? fail(db, r, "out of memory") : 0;
}

static void ch_memory(struct store_db *handle, struct store_memory *ret)
{
	ret->writer = 0;
	ret->reader = chdb_of(handle)->cache.bytes;
}

static const struct store_backend ch_backend = {
	.name = "clickhouse",
	.close = ch_close,
	.seal = ch_seal,
	.begin = ch_begin,
	.add_stack = ch_add_stack,
	.add_drops = ch_add_drops,
	.add_events = ch_add_drops,
	.add_coverage = ch_add_coverage,
	.add_coverage_issue = ch_add_coverage_issue,
	.add_python_coverage = ch_add_python_coverage,
	.commit = ch_commit,
	.rollback = ch_rollback,
	.set_meta = ch_set_meta,
	.get_meta = ch_get_meta,
	.summary = ch_summary,
	.query_tree = ch_query_tree,
	.query_coverage = ch_query_coverage,
	.query_python_coverage = ch_query_python_coverage,
	.query_timeline = ch_query_timeline,
	.label_sets = ch_label_sets,
	.label_names = ch_label_names,
	.label_values = ch_label_values,
	.maintain = ch_maintain,
	.check = ch_check,
	.span = ch_span,
	.drops_timeline = ch_drops_timeline,
	.set_deadline = ch_set_deadline,
	.memory = ch_memory,
	.can_write = ch_can_write,
	.flush_span = ch_flush_span,
	.frame_sites = ch_frame_sites,
};

/* ---- open ---- */

/* Check the schema without creating anything: the version, and the
 * tables a reader needs. */
static int check_schema(struct store_chdb *db, char **ret_error)
{
	char sql[640], *text = NULL, *p, *f[3];
	bool versioned = false;
	int err;

	snprintf(sql, sizeof(sql), "SELECT (SELECT count() FROM system.databases WHERE name = "
		 "'%s'), (SELECT count() FROM system.tables WHERE database = '%s' AND name IN "
		 "('ember_schema', 'samples', 'drops', 'stacks', 'frames', 'functions')), "
		 "(SELECT count() FROM system.tables WHERE database = '%s' AND name = "
		 "'ember_schema')", store_ch__database(db->ch), store_ch__database(db->ch),
		 store_ch__database(db->ch));
	/* (the name was checked by the URL's parser: letters, digits, _) */
	err = ask(db, sql, "checking the database", &text);
	if (err)
		goto msg;
	p = text;
	if (next_row(&p, f, 3) != 3) {
		err = fail(db, -EIO, "ClickHouse gave an answer Ember cannot read");
	} else if (!num(f[0])) {
		char m[STORE_ERRMSG_SIZE];

		snprintf(m, sizeof(m), "ClickHouse at %s has no database '%s'",
			 store_ch__url(db->ch), store_ch__database(db->ch));
		err = fail(db, -ENOENT, m);
	} else if (num(f[1]) != 6 && !(versioned = num(f[2]) != 0)) {
		char m[STORE_ERRMSG_SIZE];

		snprintf(m, sizeof(m), "the database '%s' at %s holds no fleet store (Ember's "
			 "tables are missing): ship to it with ember agent --remote, or create "
			 "it with ember fleet-init", store_ch__database(db->ch), store_ch__url(db->ch));
		err = fail(db, -ENOENT, m);
	}
	free(text);
	text = NULL;
	if (!err) {
		/* (with ember_schema the version is told first: an older
		 * schema lacks tables of this one) */
		db->opened = true;
		snprintf(sql, sizeof(sql), "SELECT max(version) FROM ember_schema");
		err = ask(db, sql, "checking the schema version", &text);
		p = text;
		if (!err && next_row(&p, f, 1) >= 1) {
			uint64_t v = num(f[0]);
			char m[STORE_ERRMSG_SIZE];

			if (v != STORE_CH_SCHEMA_VERSION) {
				snprintf(m, sizeof(m), "the database '%s' at %s has Ember's schema "
					 "version %llu, this Ember reads %d%s", store_ch__database(db->ch),
					 store_ch__url(db->ch), (unsigned long long)v,
					 STORE_CH_SCHEMA_VERSION, v < STORE_CH_SCHEMA_VERSION ?
					 " (an older Ember's: its data is not converted; read it "
					 "with that Ember, ship to a new database)" : "");
				err = fail(db, v > STORE_CH_SCHEMA_VERSION ? -ENOTSUP : -EPROTO, m);
			} else if (versioned) {
				snprintf(m, sizeof(m), "the database '%s' at %s lacks some of Ember's "
					 "tables: create them with ember fleet-init",
					 store_ch__database(db->ch), store_ch__url(db->ch));
				err = fail(db, -ENOENT, m);
			}
		}
		free(text);
	}
msg:
	if (err && ret_error)
		*ret_error = strdup(db->base.errmsg);
	return err;
}

int store_db__open_clickhouse(const struct store_ch_config *c, struct store_db **ret_db,
			      char **ret_error)
{
	struct store_chdb *db;
	struct store_ch *ch = NULL;
	int err;

	if (ret_error)
		*ret_error = NULL;
	if (!c || !ret_db)
		return -EINVAL;
	err = store_ch__new(c, &ch, ret_error);
	if (err)
		return err;
	db = calloc(1, sizeof(*db));
	if (!db) {
		store_ch__free(ch);
		return -ENOMEM;
	}
	db->base.ops = &ch_backend;
	db->ch = ch;
	db->timeout_ms = ch->timeout_ms;
	err = check_schema(db, ret_error);
	if (err) {
		ch_close(&db->base);
		return err;
	}
	*ret_db = &db->base;
	return 0;
}

const char *store_db__backend(const struct store_db *db)
{
	return db ? db->ops->name : "none";
}
