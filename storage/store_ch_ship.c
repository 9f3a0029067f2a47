/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_ch_ship.c — the shipment of one flush for ClickHouse: while the
 * writer's flush is open, every stack it adds is also turned into the
 * rows of the fleet schema (store_ch_schema.c): functions, frames and
 * stacks named by 64-bit hashes of their symbolized contents, so the same
 * binary on 500 hosts gives the same ids and its stacks are stored once,
 * and one samples row per (labels, stack) with the summed count, the
 * shipment's batch id on the first (the others 0: a column of zeros takes
 * no room, and one row is enough to find the shipment by); the flush's
 * drops and events, each row with the batch. A definition goes into a
 * shipment only the first time this writer meets it (definitions of
 * earlier shipments are shipped first, in order); ClickHouse's
 * ReplacingMergeTree folds the copies that restarts and other hosts send.
 * At commit the rows are encoded per table as TabSeparated text, each
 * gzip-compressed (sent as they are, Content-Encoding: gzip), and the
 * outbox keeps them (store_outbox.c).
 */
#include <errno.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "store_ch.h"
#include "store_map.h"

/* Known definitions are forgotten past this many (then sent again once:
 * harmless, ClickHouse folds them), so a long-running writer's memory
 * stays bounded (some 10 MB per set at the bound). */
#define SHIP_KNOWN_MAX (1u << 17)
#define SHIP_GZIP_LEVEL 6
#define SHIP_HEADER (4 * STORE_CH_TABLES)
/* schema 1's blobs: functions, frames, stacks, samples */
#define SHIP_HEADER_V1 16

struct ship_row {
	const unsigned char *key; /* labels text, then the 8-byte stack id */
	size_t len;
	uint64_t count;
};

struct ship_drop {
	char *reason;
	uint64_t count;
	bool event;
};

struct store_ship {
	/* ids already queued by this writer: functions, frames, stacks */
	struct store_map known[3];
	/* this flush's definitions (functions, frames, stacks) */
	char *text[3];
	size_t text_len[3];
	FILE *out[3];
	/* this flush's samples: (labels, stack) -> row */
	struct store_map rows_index;
	struct ship_row *rows;
	size_t n_rows, rows_cap;
	char *host;      /* the first sample's host */
	char *agent_host;       /* the drops' host (store_db__ship_enable) */
	/* this flush's drops and events */
	struct ship_drop *drops;
	size_t n_drops, drops_cap;
	uint64_t max_bytes;     /* the queue's bound; 0: none */
	int64_t queued_bytes;   /* the queue's bytes when last counted, plus
	                           what this writer queued since; -1: unknown */
	bool refused;           /* this flush is committed without shipment */
	char *labels;    /* scratch: the labels' columns */
	size_t labels_cap;
};

/* A 64-bit id: FNV-1a over the canonical bytes, then a finalizer that
 * spreads FNV's weak high bits (splitmix64's). */
static uint64_t finish(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* with its NUL, so ("ab", "") and ("a", "b") differ */
	return s ? common_hash(h, s, strlen(s) + 1) : common_hash(h, "", 1);
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return common_hash(h, b, 8);
}

#define FNV_BASIS 0xcbf29ce484222325ULL

static int open_streams(struct store_ship *s)
{
	for (int i = 0; i < 3; i++) {
		if (s->out[i])
			continue;
		s->out[i] = open_memstream(&s->text[i], &s->text_len[i]);
		if (!s->out[i])
			return -ENOMEM;
	}
	return 0;
}

int store_ship__new(struct store_ship **ret)
{
	struct store_ship *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->queued_bytes = -1;
	if (open_streams(s)) {
		store_ship__free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

static void clear_flush(struct store_ship *s)
{
	for (int i = 0; i < 3; i++) {
		if (s->out[i])
			fclose(s->out[i]);
		s->out[i] = NULL;
		free(s->text[i]);
		s->text[i] = NULL;
		s->text_len[i] = 0;
	}
	store_map__clear(&s->rows_index);
	s->n_rows = 0;
	free(s->host);
	s->host = NULL;
	for (size_t i = 0; i < s->n_drops; i++)
		free(s->drops[i].reason);
	s->n_drops = 0;
}

void store_ship__free(struct store_ship *s)
{
	if (!s)
		return;
	clear_flush(s);
	for (int i = 0; i < 3; i++)
		store_map__free(&s->known[i]);
	store_map__free(&s->rows_index);
	free(s->rows);
	free(s->drops);
	free(s->agent_host);
	free(s->labels);
	free(s);
}

/* TabSeparated escaping of one field. */
static void put_tsv(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\'': fputs("\\'", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Whether id is new to this writer; records it. 1 new, 0 known, -ENOMEM. */
static int first_time(struct store_ship *s, int table, uint64_t id)
{
	int64_t v;

	if (store_map__get(&s->known[table], &id, sizeof(id), &v))
		return 0;
	return store_map__put(&s->known[table], &id, sizeof(id), 1, NULL) < 0 ? -ENOMEM : 1;
}

static int add_frame(struct store_ship *s, const struct store_frame *f, uint64_t *ret_id)
{
	uint64_t fn, fr;
	int r;

	fn = FNV_BASIS;
	fn = hash_str(fn, f->name);
	fn = hash_str(fn, f->module);
	fn = hash_str(fn, f->file);
	fn = finish(fn);
	r = first_time(s, 0, fn);
	if (r < 0)
		return r;
	if (r) {
		fprintf(s->out[0], "%llu\t", (unsigned long long)fn);
		put_tsv(s->out[0], f->name);
		fputc('\t', s->out[0]);
		put_tsv(s->out[0], f->module);
		fputc('\t', s->out[0]);
		put_tsv(s->out[0], f->file);
		fputc('\n', s->out[0]);
	}
	fr = hash_u64(FNV_BASIS, fn);
	fr = hash_u64(fr, f->line);
	fr = hash_u64(fr, (uint64_t)f->kind);
	fr = hash_str(fr, f->build_id);
	fr = hash_u64(fr, f->offset);
	fr = finish(fr);
	r = first_time(s, 1, fr);
	if (r < 0)
		return r;
	if (r) {
		fprintf(s->out[1], "%llu\t%llu\t%u\t%u\t", (unsigned long long)fr,
			(unsigned long long)fn, f->line, (unsigned)f->kind);
		put_tsv(s->out[1], f->build_id);
		fprintf(s->out[1], "\t%llu\n", (unsigned long long)f->offset);
	}
	*ret_id = fr;
	return 0;
}

/* The labels' columns of a samples row: host, process, pid, thread, tid,
 * cgroup, label_keys, label_values (free labels "k=v,k=v" split). */
static int labels_text(struct store_ship *s, const struct store_labels *l, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *p;

	if (!f)
		return -ENOMEM;
	put_tsv(f, l->host);
	fputc('\t', f);
	put_tsv(f, l->process);
	fprintf(f, "\t%u\t", l->pid);
	put_tsv(f, l->thread);
	fprintf(f, "\t%u\t%llu\t", l->tid, (unsigned long long)l->cgroup_id);
	for (int pass = 0; pass < 2; pass++) {
		bool first = true;

		fputc('[', f);
		for (p = l->extra; p && *p;) {
			size_t n = strcspn(p, ",");
			const char *eq = memchr(p, '=', n);

			if (eq) {
				char *part = strndup(pass ? eq + 1 : p,
						     pass ? (size_t)(p + n - eq - 1) : (size_t)(eq - p));

				if (!part) {
					fclose(f);
					free(buf);
					return -ENOMEM;
				}
				fprintf(f, "%s'", first ? "" : ",");
				put_tsv(f, part);
				fputc('\'', f);
				free(part);
				first = false;
			}
			p += n + (p[n] == ',');
		}
		fputs(pass ? "]" : "]\t", f);
	}
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	free(s->labels);
	s->labels = buf;
	*ret_len = len;
	return 0;
}

int store_ship__add(struct store_ship *s, const struct store_labels *labels,
		    const struct store_frame *frames, size_t n_frames, uint64_t count)
{
	uint64_t stack = FNV_BASIS, frame;
	size_t len;
	int64_t idx;
	int r;

	if (open_streams(s))
		return -ENOMEM;
	for (size_t i = 0; i < n_frames; i++) {
		r = add_frame(s, &frames[i], &frame);
		if (r < 0)
			return r;
		stack = hash_u64(stack, frame);
	}
	stack = finish(stack);
	r = first_time(s, 2, stack);
	if (r < 0)
		return r;
	if (r) {
		uint64_t id;

		fprintf(s->out[2], "%llu\t[", (unsigned long long)stack);
		/* (the frames' ids again: cheaper than keeping them) */
		for (size_t i = 0; i < n_frames; i++) {
			r = add_frame(s, &frames[i], &id);
			if (r < 0)
				return r;
			fprintf(s->out[2], "%s%llu", i ? "," : "", (unsigned long long)id);
		}
		fputs("]\n", s->out[2]);
	}

	if (!s->host && !(s->host = strdup(labels->host ? labels->host : "")))
		return -ENOMEM;
	r = labels_text(s, labels, &len);
	if (r < 0)
		return r;
	/* key: the labels' text, then the stack id */
	{
		unsigned char *key = malloc(len + 8);
		const void *stored;

		if (!key)
			return -ENOMEM;
		memcpy(key, s->labels, len);
		memcpy(key + len, &stack, 8);
		if (store_map__get(&s->rows_index, key, len + 8, &idx)) {
			s->rows[idx].count += count;
			free(key);
			return 0;
		}
		if (COMMON_GROW(s->rows, s->rows_cap, s->n_rows + 1)) {
			free(key);
			return -ENOMEM;
		}
		r = store_map__put(&s->rows_index, key, len + 8, (int64_t)s->n_rows, &stored);
		free(key);
		if (r < 0)
			return -ENOMEM;
		s->rows[s->n_rows++] = (struct ship_row){ .key = stored, .len = len + 8,
							  .count = count };
	}
	return 0;
}

int store_ship__add_drop(struct store_ship *s, bool event, const char *reason,
			 uint64_t count)
{
	char *r = strdup(reason ? reason : "");

	if (!r || COMMON_GROW(s->drops, s->drops_cap, s->n_drops + 1)) {
		free(r);
		return -ENOMEM;
	}
	s->drops[s->n_drops++] = (struct ship_drop){ .reason = r, .count = count,
						     .event = event };
	return 0;
}

static int gzip(const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	struct libdeflate_compressor *z;
	size_t cap, n;
	unsigned char *out;

	*ret = NULL;
	*ret_len = 0;
	if (!len)
		return 0;
	z = libdeflate_alloc_compressor(SHIP_GZIP_LEVEL);
	if (!z)
		return -ENOMEM;
	cap = libdeflate_gzip_compress_bound(z, len);
	out = malloc(cap);
	if (!out) {
		libdeflate_free_compressor(z);
		return -ENOMEM;
	}
	n = libdeflate_gzip_compress(z, in, len, out, cap);
	libdeflate_free_compressor(z);
	if (!n) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

int store_ship__encode(struct store_ship *s, int64_t time_s, uint32_t duration_s,
		       uint64_t batch, const char *host, void **ret_blob, size_t *ret_len,
		       uint64_t *ret_samples, const char **ret_host)
{
	unsigned char *gz[STORE_CH_TABLES] = {0};
	size_t gz_len[STORE_CH_TABLES] = {0}, total = SHIP_HEADER;
	char *samples = NULL, *drops = NULL;
	size_t samples_len = 0, drops_len = 0;
	uint64_t n = 0;
	unsigned char *blob, *p;
	FILE *f;
	int r = -ENOMEM;

	*ret_samples = 0;
	*ret_blob = NULL;
	*ret_len = 0;
	if (!s->n_rows && !s->n_drops)
		return 0;
	if (s->n_rows)
		host = s->host;
	if (open_streams(s))
		return -ENOMEM;
	for (int i = 0; i < 3; i++)
		if (fflush(s->out[i]))
			return -ENOMEM;
	f = open_memstream(&samples, &samples_len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct ship_row *row = &s->rows[i];
		uint64_t stack;

		memcpy(&stack, row->key + row->len - 8, 8);
		/* (count is an Int32 in ClickHouse: a flush's count of one
		 * label set and stack is far below 2^31) */
		fprintf(f, "%lld\t%u\t%.*s\t%llu\t%llu\t%llu\n", (long long)time_s, duration_s,
			(int)(row->len - 8), (const char *)row->key, (unsigned long long)stack,
			(unsigned long long)row->count, (unsigned long long)(i ? 0 : batch));
		n += row->count;
	}
	if (fclose(f) || !samples)
		goto out;
	f = open_memstream(&drops, &drops_len);
	if (!f)
		goto out;
	for (size_t i = 0; i < s->n_drops; i++) {
		fprintf(f, "%lld\t%u\t", (long long)time_s, duration_s);
		put_tsv(f, host);
		fprintf(f, "\t%d\t", s->drops[i].event);
		put_tsv(f, s->drops[i].reason);
		fprintf(f, "\t%llu\t%llu\n", (unsigned long long)s->drops[i].count,
			(unsigned long long)batch);
	}
	if (fclose(f) || !drops)
		goto out;
	_Static_assert(STORE_CH_FUNCTIONS == 0 && STORE_CH_FRAMES == 1 && STORE_CH_STACKS == 2,
		       "definitions are sections 0..2");
	for (int i = 0; i < 3; i++)
		if (gzip(s->text[i], s->text_len[i], &gz[i], &gz_len[i]))
			goto out;
	if (gzip(samples, samples_len, &gz[STORE_CH_SAMPLES], &gz_len[STORE_CH_SAMPLES]) ||
	    gzip(drops, drops_len, &gz[STORE_CH_DROPS], &gz_len[STORE_CH_DROPS]))
		goto out;
	for (int i = 0; i < STORE_CH_TABLES; i++)
		total += gz_len[i];
	blob = malloc(total);
	if (!blob)
		goto out;
	p = blob;
	for (int i = 0; i < STORE_CH_TABLES; i++)
		for (int k = 0; k < 4; k++)
			*p++ = (unsigned char)(gz_len[i] >> (8 * k));
	for (int i = 0; i < STORE_CH_TABLES; i++) {
		if (gz_len[i])
			memcpy(p, gz[i], gz_len[i]);
		p += gz_len[i];
	}
	*ret_blob = blob;
	*ret_len = total;
	*ret_samples = n;
	*ret_host = host ? host : "";
	r = 0;
out:
	free(samples);
	free(drops);
	for (int i = 0; i < STORE_CH_TABLES; i++)
		free(gz[i]);
	return r;
}

void store_ship__set_bound(struct store_ship *s, uint64_t max_bytes)
{
	s->max_bytes = max_bytes;
}

int store_ship__set_host(struct store_ship *s, const char *host)
{
	char *h = strdup(host ? host : "");

	if (!h)
		return -ENOMEM;
	free(s->agent_host);
	s->agent_host = h;
	return 0;
}

const char *store_ship__host(const struct store_ship *s)
{
	return s->agent_host;
}

uint64_t store_ship__bound(const struct store_ship *s)
{
	return s->max_bytes;
}

int64_t *store_ship__queued_bytes(struct store_ship *s)
{
	return &s->queued_bytes;
}

void store_ship__refused(struct store_ship *s)
{
	s->refused = true;
}

void store_ship__committed(struct store_ship *s)
{
	if (s->refused) {
		/* later shipments must not name this one's definitions */
		s->refused = false;
		store_ship__abort(s);
		return;
	}
	clear_flush(s);
	for (int i = 0; i < 3; i++)
		if (store_map__size(&s->known[i]) > SHIP_KNOWN_MAX)
			store_map__clear(&s->known[i]);
}

void store_ship__abort(struct store_ship *s)
{
	s->refused = false;
	clear_flush(s);
	/* the abandoned flush's definitions were never queued */
	for (int i = 0; i < 3; i++)
		store_map__clear(&s->known[i]);
}

int store_ship_blob__section(const void *blob, size_t len, enum store_ch_table t,
			     const void **ret_data, size_t *ret_len)
{
	const unsigned char *b = blob;
	size_t off, n[STORE_CH_TABLES], sum = 0;
	int sections = STORE_CH_TABLES, at = (int)t;

	if (len < SHIP_HEADER_V1 || (unsigned)t >= STORE_CH_TABLES)
		return -EINVAL;
	for (int i = 0; i < STORE_CH_TABLES; i++) {
		n[i] = 0;
		for (int k = 0; k < 4; k++)
			n[i] |= i < 4 || len >= SHIP_HEADER ? (size_t)b[4 * i + k] << (8 * k) : 0;
	}
	for (int i = 0; i < 4; i++)
		sum += n[i] < len ? n[i] : len;
	if (sum + SHIP_HEADER_V1 == len) {
		/* schema 1's: no drops, the samples fourth */
		sections = 4;
		if (t == STORE_CH_DROPS) {
			*ret_data = b;
			*ret_len = 0;
			return 0;
		}
		if (t == STORE_CH_SAMPLES)
			at = 3;
	} else if (len < SHIP_HEADER) {
		return -EINVAL;
	}
	off = (size_t)sections * 4;
	for (int i = 0; i < at; i++) {
		if (n[i] > len - off)
			return -EINVAL;
		off += n[i];
	}
	if (n[at] > len - off)
		return -EINVAL;
	*ret_data = b + off;
	*ret_len = n[at];
	return 0;
}
