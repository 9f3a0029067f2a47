/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import_pprof.c — reading pprof profiles made elsewhere (Go, pprof-format,
 * Parca, perf_to_profile, our own exports), for `ember import` and for
 * `ember report`/`ember diff` of a pprof file. store_pprof_read() is the
 * decoder: gunzip (zlib), unpack (protobuf-c's generated code), then a
 * complete validation of every index and reference before anything is
 * handed on, so a writer never sees half of a bad file. Pure (layer 0,
 * storage/DESIGN.md): store_import.c feeds the samples to a store, and
 * its fuzz target is fuzz-pprof.c.
 *
 * The input is outside data: every size is bounded (STORE_PPROF_MAX_*),
 * every string index and id is checked, arithmetic on counts is checked
 * for overflow.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "profile.pb-c.h"
#include "store_formats.h"

/* Kernel addresses on x86-64 and arm64: the upper half. */
#define KERNEL_HALF 0xffff800000000000ULL

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Function Function;

struct reader {
	const Profile *p;
	char *errmsg;
	size_t errlen;
	struct store_map functions; /* id -> index */
	struct store_map mappings;
	struct store_map locations;
	size_t value_index;         /* the sample value that holds counts */
	uint64_t divide_by;         /* 1, or the period for nanoseconds */
	size_t max_depth;           /* frames of the deepest sample */
	const char *default_process;
};

static int bad(struct reader *rd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct reader *rd, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rd->errmsg, rd->errlen, fmt, ap);
	va_end(ap);
	return err;
}

/* Uncompress gzip data (one or more members) into a new buffer. */
static int gunzip(struct reader *rd, const uint8_t *data, size_t size,
		  uint8_t **ret_buf, size_t *ret_size)
{
	z_stream z = { 0 };
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int r = 0, zr = Z_OK;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	/* size <= STORE_PPROF_MAX_BYTES, so it fits avail_in. */
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)size;
	for (;;) {
		if (len == cap) {
			if (cap >= STORE_PPROF_MAX_BYTES) {
				r = bad(rd, -E2BIG, "profile is larger than %u MiB "
					"uncompressed", STORE_PPROF_MAX_BYTES >> 20);
				goto out;
			}
			r = COMMON_GROW(buf, cap, MAX(len + 1, (size_t)1 << 16));
			if (r < 0)
				goto out;
		}
		z.next_out = buf + len;
		z.avail_out = (uInt)(cap - len);
		zr = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (zr == Z_STREAM_END) {
			/* Concatenated gzip members are one file (gzip(1)). */
			if (z.avail_in == 0)
				break;
			if (inflateReset(&z) != Z_OK) {
				r = -ENOMEM;
				goto out;
			}
			continue;
		}
		if (zr == Z_MEM_ERROR) {
			r = -ENOMEM;
			goto out;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			r = bad(rd, -EBADMSG, "gzip data is truncated");
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			r = bad(rd, -EBADMSG, "gzip data is damaged (%s)",
				z.msg ? z.msg : "inflate failed");
			goto out;
		}
	}
	*ret_buf = buf;
	*ret_size = len;
	buf = NULL;
out:
	inflateEnd(&z);
	free(buf);
	return r;
}

static bool str_ok(const struct reader *rd, int64_t i)
{
	return i >= 0 && (uint64_t)i < rd->p->n_string_table;
}

static const char *str(const struct reader *rd, int64_t i)
{
	return rd->p->string_table[i];
}

/* Index an id list: ids must be nonzero and unique. */
static int index_ids(struct reader *rd, struct store_map *m, const char *what,
		     size_t n, uint64_t (*id_of)(const Profile *, size_t))
{
	int64_t found;
	int r;

	for (size_t i = 0; i < n; i++) {
		uint64_t id = id_of(rd->p, i);

		if (id == 0)
			return bad(rd, -EBADMSG, "%s #%zu has id 0", what, i);
		if (store_map__get(m, &id, sizeof(id), &found))
			return bad(rd, -EBADMSG, "two %ss have id %llu", what,
				   (unsigned long long)id);
		r = store_map__put(m, &id, sizeof(id), (int64_t)i, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t function_id(const Profile *p, size_t i)
{
	return p->function[i]->id;
}

static uint64_t mapping_id(const Profile *p, size_t i)
{
	return p->mapping[i]->id;
}

static uint64_t location_id(const Profile *p, size_t i)
{
	return p->location[i]->id;
}

/* "type/unit, type/unit, ..." of every sample type, cut to fit. */
static void list_types(const struct reader *rd, char *buf, size_t size)
{
	const Profile *p = rd->p;
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_sample_type && n + 1 < size; i++) {
		int w = snprintf(buf + n, size - n, "%s%s/%s", i ? ", " : "",
				 str(rd, p->sample_type[i]->type),
				 str(rd, p->sample_type[i]->unit));

		n += w > 0 ? (size_t)w : 0;
	}
	if (n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/*
 * Which sample value holds the counts, as pprof's -sample_index chooses:
 * by index, by type name (an "inuse_" prefix may be left out), else the
 * profile's default_sample_type, else the last type.
 */
static int choose_index(struct reader *rd, const struct store_pprof_options *opts,
			struct store_pprof_choice *c, size_t *ret)
{
	const Profile *p = rd->p;
	const char *want = opts ? opts->sample_type : NULL;

	if (opts && !want && opts->sample_index >= 0) {
		if ((uint64_t)opts->sample_index >= p->n_sample_type)
			return bad(rd, -ENOENT, "sample index %lld is outside 0..%zu: "
				   "the profile has %s", (long long)opts->sample_index,
				   p->n_sample_type - 1, c->types);
		*ret = (size_t)opts->sample_index;
		return 0;
	}
	if (!want && p->default_sample_type > 0 && str_ok(rd, p->default_sample_type))
		want = str(rd, p->default_sample_type);
	if (!want) {
		*ret = p->n_sample_type - 1;
		return 0;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n_sample_type; i++) {
			const char *t = str(rd, p->sample_type[i]->type);

			if (!strcmp(t, want) || (pass && !strncmp(want, "inuse_", 6) &&
						 !strcmp(t, want + 6))) {
				*ret = i;
				return 0;
			}
		}
	if (opts && opts->sample_type)
		return bad(rd, -ENOENT, "the profile has no sample type '%s': it has %s",
			   opts->sample_type, c->types);
	/* A default_sample_type that names none: pprof's own fallback. */
	*ret = p->n_sample_type - 1;
	return 0;
}

/* Which sample value holds the counts, and how to turn it into one. */
static int pick_value(struct reader *rd, const struct store_pprof_options *opts,
		      struct store_pprof_header *h)
{
	const Profile *p = rd->p;
	const char *pt_type = NULL, *pt_unit = NULL, *unit;
	struct store_pprof_choice *c = &h->value;
	size_t i;
	int r;

	for (i = 0; i < p->n_sample_type; i++)
		if (!str_ok(rd, p->sample_type[i]->type) ||
		    !str_ok(rd, p->sample_type[i]->unit))
			return bad(rd, -EBADMSG, "sample type #%zu names a string "
				   "that does not exist", i);
	if (p->period_type) {
		if (!str_ok(rd, p->period_type->type) ||
		    !str_ok(rd, p->period_type->unit))
			return bad(rd, -EBADMSG, "the period type names a string "
				   "that does not exist");
		pt_type = str(rd, p->period_type->type);
		pt_unit = str(rd, p->period_type->unit);
	}
	if (pt_type && !strcmp(pt_type, "cpu") &&
	    !strcmp(pt_unit, "nanoseconds") && p->period > 0)
		h->frequency_hz = (uint64_t)(1000000000 + p->period / 2) /
				  (uint64_t)p->period;
	c->n_types = p->n_sample_type;
	list_types(rd, c->types, sizeof(c->types));
	r = choose_index(rd, opts, c, &i);
	if (r < 0)
		return r;
	unit = str(rd, p->sample_type[i]->unit);
	c->index = i;
	snprintf(c->type, sizeof(c->type), "%s", str(rd, p->sample_type[i]->type));
	snprintf(c->unit, sizeof(c->unit), "%s", unit);
	rd->value_index = i;
	rd->divide_by = 1;
	/* CPU time in a profile sampled every period: samples again. */
	if (!strcmp(unit, "nanoseconds") && pt_unit && !strcmp(pt_unit, "nanoseconds") &&
	    p->period > 0) {
		rd->divide_by = (uint64_t)p->period;
		c->per_period = true;
	}
	return 0;
}

static int check_tables(struct reader *rd)
{
	const Profile *p = rd->p;
	int64_t found;
	int r;

	for (size_t i = 0; i < p->n_function; i++) {
		const Function *f = p->function[i];

		if (!str_ok(rd, f->name) || !str_ok(rd, f->system_name) ||
		    !str_ok(rd, f->filename))
			return bad(rd, -EBADMSG, "function #%zu names a string "
				   "that does not exist", i);
	}
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Mapping *m = p->mapping[i];

		if (!str_ok(rd, m->filename) || !str_ok(rd, m->build_id))
			return bad(rd, -EBADMSG, "mapping #%zu names a string "
				   "that does not exist", i);
	}
	if ((r = index_ids(rd, &rd->functions, "function", p->n_function,
			   function_id)) < 0 ||
	    (r = index_ids(rd, &rd->mappings, "mapping", p->n_mapping,
			   mapping_id)) < 0 ||
	    (r = index_ids(rd, &rd->locations, "location", p->n_location,
			   location_id)) < 0)
		return r;
	for (size_t i = 0; i < p->n_location; i++) {
		const Location *l = p->location[i];

		if (l->mapping_id &&
		    !store_map__get(&rd->mappings, &l->mapping_id,
				    sizeof(l->mapping_id), &found))
			return bad(rd, -EBADMSG, "location %llu refers to mapping "
				   "%llu, which does not exist",
				   (unsigned long long)l->id,
				   (unsigned long long)l->mapping_id);
		if (l->n_line > STORE_PPROF_MAX_DEPTH)
			return bad(rd, -E2BIG, "location %llu has %zu lines",
				   (unsigned long long)l->id, l->n_line);
		for (size_t j = 0; j < l->n_line; j++)
			if (!store_map__get(&rd->functions,
					    &l->line[j]->function_id,
					    sizeof(uint64_t), &found))
				return bad(rd, -EBADMSG, "location %llu refers to "
					   "function %llu, which does not exist",
					   (unsigned long long)l->id,
					   (unsigned long long)l->line[j]->function_id);
	}
	return 0;
}

static int check_samples(struct reader *rd, struct store_pprof_header *h)
{
	const Profile *p = rd->p;
	uint64_t all_frames = 0;
	int64_t found;

	for (size_t i = 0; i < p->n_sample; i++) {
		const Sample *s = p->sample[i];
		uint64_t depth = 0, count;
		int64_t v;

		if (s->n_value != p->n_sample_type)
			return bad(rd, -EBADMSG, "sample #%zu has %zu values for "
				   "%zu sample types", i, s->n_value,
				   p->n_sample_type);
		v = s->value[rd->value_index];
		if (v < 0)
			return bad(rd, -EBADMSG, "sample #%zu has a negative value "
				   "(a difference of profiles cannot be imported)",
				   i);
		count = (uint64_t)v / rd->divide_by;
		/* Round to the nearest count, as a period is rarely exact. */
		if ((uint64_t)v % rd->divide_by >= (rd->divide_by + 1) / 2)
			count++;
		/* The store keeps counts as SQLite's signed 64-bit integers. */
		if (__builtin_add_overflow(h->samples, count, &h->samples) ||
		    h->samples > INT64_MAX)
			return bad(rd, -EBADMSG, "sample counts add up to more "
				   "than 2^63");
		for (size_t j = 0; j < s->n_label; j++)
			if (!str_ok(rd, s->label[j]->key) ||
			    !str_ok(rd, s->label[j]->str) ||
			    !str_ok(rd, s->label[j]->num_unit))
				return bad(rd, -EBADMSG, "a label of sample #%zu "
					   "names a string that does not exist", i);
		for (size_t j = 0; j < s->n_location_id; j++) {
			if (!store_map__get(&rd->locations, &s->location_id[j],
					    sizeof(uint64_t), &found))
				return bad(rd, -EBADMSG, "sample #%zu refers to "
					   "location %llu, which does not exist", i,
					   (unsigned long long)s->location_id[j]);
			/* A location without lines is still one frame. */
			depth += p->location[found]->n_line ?
					 p->location[found]->n_line : 1;
			if (depth > STORE_PPROF_MAX_DEPTH)
				return bad(rd, -E2BIG, "sample #%zu is more than "
					   "%u frames deep", i, STORE_PPROF_MAX_DEPTH);
		}
		all_frames += depth;
		if (all_frames > STORE_PPROF_MAX_FRAMES)
			return bad(rd, -E2BIG, "the samples hold more than %u "
				   "frames", STORE_PPROF_MAX_FRAMES);
		rd->max_depth = MAX(rd->max_depth, (size_t)depth);
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int validate(struct reader *rd, const struct store_pprof_options *opts,
		    struct store_pprof_header *h)
{
	const Profile *p = rd->p;
	int r;

	if (p->n_string_table == 0 || p->string_table[0][0] != '\0')
		return bad(rd, -EBADMSG, "the string table does not start with "
			   "the empty string");
	if (p->n_sample_type == 0)
		return bad(rd, -EBADMSG, "the profile has no sample types");
	if ((r = pick_value(rd, opts, h)) < 0 || (r = check_tables(rd)) < 0 ||
	    (r = check_samples(rd, h)) < 0)
		return r;
	for (size_t i = 0; i < p->n_comment; i++)
		if (!str_ok(rd, p->comment[i]))
			return bad(rd, -EBADMSG, "a comment names a string that "
				   "does not exist");
	/* pprof's convention: the first mapping is the main binary. */
	if (p->n_mapping > 0 && *str(rd, p->mapping[0]->filename))
		rd->default_process = basename_of(str(rd, p->mapping[0]->filename));
	h->time_nanos = p->time_nanos;
	h->duration_nanos = p->duration_nanos;
	return 0;
}

/* Fill labels from s's labels that mean the same as ours. */
static void sample_labels(const struct reader *rd, const Sample *s,
			  struct store_labels *labels)
{
	memset(labels, 0, sizeof(*labels));
	labels->process = rd->default_process;
	for (size_t j = 0; j < s->n_label; j++) {
		const char *key = str(rd, s->label[j]->key);
		const char *value = s->label[j]->str ? str(rd, s->label[j]->str) :
						       NULL;
		int64_t num = s->label[j]->num;

		if (!strcmp(key, "process") || !strcmp(key, "comm") ||
		    !strcmp(key, "process_name")) {
			if (value && *value)
				labels->process = value;
		} else if (!strcmp(key, "thread") || !strcmp(key, "thread_name")) {
			if (value && *value)
				labels->thread = value;
		} else if (!strcmp(key, "pid") || !strcmp(key, "process_id")) {
			if (!value && num > 0 && num <= UINT32_MAX)
				labels->pid = (uint32_t)num;
		} else if (!strcmp(key, "tid") || !strcmp(key, "thread_id")) {
			if (!value && num > 0 && num <= UINT32_MAX)
				labels->tid = (uint32_t)num;
		}
	}
}

/* Frames of sample s, root first, into frames (room for max_depth). */
static size_t sample_frames(const struct reader *rd, const Sample *s,
			    struct store_frame *frames, char (*names)[32])
{
	const Profile *p = rd->p;
	size_t n = 0;

	/* location_id[0] is the leaf; a location's last line is the
	 * function the others were inlined into. */
	for (size_t j = s->n_location_id; j-- > 0;) {
		int64_t li, mi;
		const Location *l;
		const Mapping *m = NULL;
		struct store_frame base = { .kind = STORE_FRAME_USER };

		store_map__get(&rd->locations, &s->location_id[j],
			       sizeof(uint64_t), &li);
		l = p->location[li];
		base.offset = l->address;
		if (l->mapping_id &&
		    store_map__get(&rd->mappings, &l->mapping_id,
				   sizeof(uint64_t), &mi)) {
			m = p->mapping[mi];
			if (*str(rd, m->filename))
				base.module = str(rd, m->filename);
			if (*str(rd, m->build_id))
				base.build_id = str(rd, m->build_id);
			/* The core kernel's mapping is [kernel.kallsyms]; a
			 * module's is its name (bpf, ext4), at a kernel address
			 * (the upper half; [vsyscall] is up there too, but user
			 * code). */
			if (base.module && (!strncmp(base.module, "[kernel", 7) ||
					    (l->address >= KERNEL_HALF && base.module[0] != '[')))
				base.kind = STORE_FRAME_KERNEL;
			/* Ember's Python frames: their module is their file. */
			else if (base.module && !strcmp(base.module, "[python]"))
				base.kind = STORE_FRAME_PYTHON;
			else if (l->address >= m->memory_start)
				base.offset = l->address - m->memory_start +
					      m->file_offset;
		}
		if (l->n_line == 0) {
			frames[n] = base;
			snprintf(names[n], sizeof(names[n]), "0x%llx",
				 (unsigned long long)l->address);
			frames[n].name = names[n];
			n++;
			continue;
		}
		for (size_t k = l->n_line; k-- > 0;) {
			const Function *f;
			int64_t fi;

			store_map__get(&rd->functions, &l->line[k]->function_id,
				       sizeof(uint64_t), &fi);
			f = p->function[fi];
			frames[n] = base;
			frames[n].name = *str(rd, f->name) ? str(rd, f->name) :
					 *str(rd, f->system_name) ?
					 str(rd, f->system_name) : "[unknown]";
			if (*str(rd, f->filename))
				frames[n].file = str(rd, f->filename);
			/* A Python frame's module is its file; native lines
			 * inlined on it are of no mapping the profile names. */
			if (base.kind == STORE_FRAME_PYTHON)
				frames[n].module = k + 1 == l->n_line ? frames[n].file : NULL;
			if (l->line[k]->line > 0 && l->line[k]->line <= UINT32_MAX)
				frames[n].line = (uint32_t)l->line[k]->line;
			if (k + 1 < l->n_line)
				frames[n].kind = STORE_FRAME_INLINED;
			n++;
		}
	}
	return n;
}

static int feed(struct reader *rd, const struct store_pprof_sink *sink,
		const struct store_pprof_header *h)
{
	const Profile *p = rd->p;
	struct store_frame *frames;
	char (*names)[32];
	int r = 0;

	frames = calloc(rd->max_depth + 1, sizeof(*frames));
	names = calloc(rd->max_depth + 1, sizeof(*names));
	if (!frames || !names) {
		r = -ENOMEM;
		goto out;
	}
	if (sink && sink->start)
		r = sink->start(sink->ctx, h);
	for (size_t i = 0; r == 0 && i < p->n_sample; i++) {
		const Sample *s = p->sample[i];
		uint64_t v = (uint64_t)s->value[rd->value_index];
		struct store_pprof_sample out;
		struct store_labels labels;

		out.count = v / rd->divide_by +
			    (v % rd->divide_by >= (rd->divide_by + 1) / 2);
		if (out.count == 0)
			continue;
		sample_labels(rd, s, &labels);
		out.labels = &labels;
		out.frames = frames;
		out.n_frames = sample_frames(rd, s, frames, names);
		if (sink && sink->sample)
			r = sink->sample(sink->ctx, &out);
	}
out:
	free(frames);
	free(names);
	return r;
}

/*
 * The formats pprof read before profile.proto, which Go's pprof still
 * converts: text profiles (heap, contention, thread, goroutine) and the
 * binary CPU profile of gperftools and old Go (words 0, 3, 0, period, 0).
 * What one is, or NULL.
 */
static const char *legacy_format(const uint8_t *b, size_t n)
{
	static const char *const text[] = {
		"heap profile:", "heap_v2/", "--- heap", "--- contention",
		"--- mutex", "--- threadz", "--- growthz", "--- fragmentationz",
		"goroutine profile:", "threadcreate profile:", "--- symbol",
	};
	static const uint8_t cpu64[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t cpu64be[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 };
	static const uint8_t cpu32[8] = { 0, 0, 0, 0, 3, 0, 0, 0 };
	static const uint8_t cpu32be[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };

	for (size_t i = 0; i < ARRAY_SIZE(text); i++)
		if (n >= strlen(text[i]) && !memcmp(b, text[i], strlen(text[i])))
			return "a text profile";
	if ((n >= 24 && (!memcmp(b, cpu64, 16) || !memcmp(b, cpu64be, 16))) ||
	    (n >= 12 && (!memcmp(b, cpu32, 8) || !memcmp(b, cpu32be, 8))))
		return "a binary CPU profile";
	return NULL;
}

int store_pprof_read(const void *data, size_t size,
		     const struct store_pprof_options *opts,
		     const struct store_pprof_sink *sink,
		     struct store_pprof_header *ret_header,
		     char *errmsg, size_t errlen)
{
	struct reader rd = { .errmsg = errmsg, .errlen = errlen };
	struct store_pprof_header h = { 0 };
	const uint8_t *bytes = data;
	uint8_t *plain = NULL;
	Profile *p = NULL;
	int r;

	if (size == 0)
		return bad(&rd, -EBADMSG, "the file is empty");
	if (size > STORE_PPROF_MAX_BYTES)
		return bad(&rd, -E2BIG, "the file is larger than %u MiB",
			   STORE_PPROF_MAX_BYTES >> 20);
	if (size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
		r = gunzip(&rd, bytes, size, &plain, &size);
		if (r < 0)
			return r;
		bytes = plain;
	}
	if (legacy_format(bytes, size)) {
		r = bad(&rd, -EBADMSG, "this is %s in pprof's legacy format (before "
			"profile.proto), which Ember does not read: convert it with "
			"'pprof -proto [BINARY] FILE > FILE.pb.gz' first",
			legacy_format(bytes, size));
		goto out;
	}
	p = perftools__profiles__profile__unpack(NULL, size, bytes);
	if (!p) {
		r = bad(&rd, -EBADMSG, "not a pprof profile: %s",
			plain ? "the gzip content is not a valid profile.proto "
				"message" :
				"the file is neither gzip-compressed nor a valid "
				"profile.proto message");
		goto out;
	}
	rd.p = p;
	r = validate(&rd, opts, &h);
	if (r == 0)
		r = feed(&rd, sink, &h);
	if (r == 0 && ret_header)
		*ret_header = h;
out:
	if (p)
		perftools__profiles__profile__free_unpacked(p, NULL);
	free(plain);
	store_map__free(&rd.functions);
	store_map__free(&rd.mappings);
	store_map__free(&rd.locations);
	return r;
}
