/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export_pprof.c — the merged tree as a pprof profile (profile.proto,
 * encoded by protobuf-c's generated code and gzipped with zlib), the format
 * of `go tool pprof`, Parca, Pyroscope and most profile viewers. Used by
 * `ember report --format pprof` and the web server's /api/v1/export.
 *
 * What goes where:
 *  - sample types samples/count and, when the file knows its frequency,
 *    cpu/nanoseconds (count x period); the period is 1e9 / frequency_hz
 *    nanoseconds of cpu;
 *  - one sample per tree node with samples of its own, its locations leaf
 *    first, the process name as the string label "process";
 *  - a function per (name, module, file), a mapping per module (file name,
 *    build-id from the store's frame sites), a location per distinct frame, with
 *    inlined frames folded into the location of the frame they were
 *    inlined into (pprof's multi-line locations). A location's address is
 *    the smallest file offset (kernel: offset in the function, never an
 *    address) stored for that frame, and
 *    its mapping starts at 0 with file offset 0, so address = file offset;
 *  - the first mapping is the program's (pprof names the profile after it):
 *    the executable of the heaviest process;
 *  - time_nanos and duration_nanos: the flushes in the queried range, or an
 *    imported profile's own when the whole file is exported;
 *  - an imported profile whose counts are not samples (bytes, delay) keeps
 *    its sample type (alloc_space/bytes) as the only one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "profile.pb-c.h"
#include "store_formats.h"
#include "store_map.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

#define KERNEL_MODULE "[kernel.kallsyms]"
/* The mapping of every Python frame (its file is the function's). */
#define PYTHON_MODULE "[python]"

struct pprof_build {
	const struct store_tree *t;
	struct store_map strings;   /* text -> string_table index */
	char **string_table;
	size_t n_strings, cap_strings;
	const struct store_frame_sites *sites; /* may be NULL */
	struct store_map functions; /* (name, module, file) -> index */
	Function *functions_v;
	size_t n_functions, cap_functions;
	struct store_map mappings;  /* module pointer -> index */
	Mapping *mappings_v;
	size_t n_mappings, cap_mappings;
	struct store_map locations; /* location identity -> index */
	Location *locations_v;
	size_t n_locations, cap_locations;
	uint32_t *memo_location;    /* per tree node: location id, 0 = none yet */
	uint32_t *memo_next;        /* per tree node: node after the location */
	Sample *samples_v;
	size_t n_samples;
	Label *process_labels;      /* per tree node, used for process nodes */
	Label **process_label_ptrs;
};

/* Index of text in the string table, added when new. NULL is "" (0). */
static int string_index(struct pprof_build *b, const char *text,
			int64_t *ret_index)
{
	int64_t found;
	char *copy;
	int r;

	if (!text)
		text = "";
	if (store_map__get(&b->strings, text, strlen(text), &found)) {
		*ret_index = found;
		return 0;
	}
	r = COMMON_GROW(b->string_table, b->cap_strings, b->n_strings + 1);
	if (r < 0)
		return r;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	r = store_map__put(&b->strings, text, strlen(text),
			   (int64_t)b->n_strings, NULL);
	if (r < 0) {
		free(copy);
		return r;
	}
	b->string_table[b->n_strings] = copy;
	*ret_index = (int64_t)b->n_strings++;
	return 0;
}

/* ---- frame sites ---- */

/* The key of a frame's texts in a sites index: name, module, file, line,
 * kind. */
static int site_key(const struct store_tree_node *f, char **ret_key,
		    size_t *ret_len)
{
	char *key = NULL;
	int n;

	n = asprintf(&key, "%s%c%s%c%s%c%u%c%d", f->name ? f->name : "", 0,
		     f->module ? f->module : "", 0, f->file ? f->file : "", 0,
		     f->line, 0, (int)f->kind);
	if (n < 0)
		return -ENOMEM;
	*ret_key = key;
	*ret_len = (size_t)n;
	return 0;
}

int store_frame_sites__add(struct store_frame_sites *s,
			   const struct store_tree_node *frame, uint64_t offset,
			   const char *build_id)
{
	struct store_frame_site *site;
	int64_t found;
	char *key;
	size_t len;
	int r;

	r = site_key(frame, &key, &len);
	if (r < 0)
		return r;
	if (store_map__get(&s->index, key, len, &found)) {
		site = &s->v[found];
		free(key);
		if (offset >= site->offset)
			return 0;
		free(site->build_id);
	} else {
		r = COMMON_GROW(s->v, s->cap, s->n + 1);
		if (r == 0)
			r = store_map__put(&s->index, key, len, (int64_t)s->n, NULL);
		free(key);
		if (r < 0)
			return r;
		site = &s->v[s->n++];
	}
	site->offset = offset;
	site->build_id = build_id && *build_id ? strdup(build_id) : NULL;
	return build_id && *build_id && !site->build_id ? -ENOMEM : 0;
}

const struct store_frame_site *store_frame_sites__find(const struct store_frame_sites *s,
						       const struct store_tree_node *frame)
{
	const struct store_frame_site *site = NULL;
	int64_t found;
	char *key;
	size_t len;

	if (!s || site_key(frame, &key, &len) < 0)
		return NULL;
	if (store_map__get(&s->index, key, len, &found))
		site = &s->v[found];
	free(key);
	return site;
}

void store_frame_sites__free(struct store_frame_sites *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].build_id);
	free(s->v);
	store_map__free(&s->index);
	memset(s, 0, sizeof(*s));
}

/* ---- the profile ---- */

/* Every kernel frame, a module's too, is in the one kernel mapping: its
 * location holds an offset in the function, not an address, so a
 * module's own mapping could not be told from a user binary's by a
 * reader (a module's frame keeps its module in its name, "f [bpf]"). */
static const char *module_of(const struct store_tree_node *nd)
{
	if (nd->kind == STORE_FRAME_KERNEL)
		return KERNEL_MODULE;
	if (nd->kind == STORE_FRAME_PYTHON)
		return PYTHON_MODULE;
	return nd->module;
}

/* Mapping id (1-based) of node nd's module; 0 when it has none. */
static int mapping_id(struct pprof_build *b, const struct store_tree_node *nd,
		      const struct store_frame_site *site, uint64_t *ret_id)
{
	const char *module = module_of(nd);
	uint64_t key = (uintptr_t)module;
	Mapping *m;
	int64_t found;
	int r;

	if (!module) {
		*ret_id = 0;
		return 0;
	}
	if (!store_map__get(&b->mappings, &key, sizeof(key), &found)) {
		Mapping init = PERFTOOLS__PROFILES__MAPPING__INIT;

		r = COMMON_GROW(b->mappings_v, b->cap_mappings, b->n_mappings + 1);
		if (r < 0)
			return r;
		found = (int64_t)b->n_mappings;
		init.id = (uint64_t)found + 1;
		init.has_functions = true;
		r = string_index(b, module, &init.filename);
		if (r < 0)
			return r;
		r = store_map__put(&b->mappings, &key, sizeof(key), found, NULL);
		if (r < 0)
			return r;
		b->mappings_v[b->n_mappings++] = init;
	}
	m = &b->mappings_v[found];
	if (site && site->build_id && !m->build_id) {
		r = string_index(b, site->build_id, &m->build_id);
		if (r < 0)
			return r;
	}
	if (site && site->offset >= m->memory_limit)
		m->memory_limit = site->offset == UINT64_MAX ? UINT64_MAX :
							       site->offset + 1;
	if (nd->file)
		m->has_filenames = true;
	if (nd->line)
		m->has_line_numbers = true;
	if (nd->kind == STORE_FRAME_INLINED)
		m->has_inline_frames = true;
	*ret_id = m->id;
	return 0;
}

static int function_id(struct pprof_build *b, const struct store_tree_node *nd,
		       uint64_t *ret_id)
{
	uint64_t key[3] = { (uintptr_t)nd->name, (uintptr_t)nd->module,
			    (uintptr_t)nd->file };
	Function f = PERFTOOLS__PROFILES__FUNCTION__INIT;
	int64_t found;
	int r;

	if (store_map__get(&b->functions, key, sizeof(key), &found)) {
		*ret_id = (uint64_t)found + 1;
		return 0;
	}
	r = COMMON_GROW(b->functions_v, b->cap_functions, b->n_functions + 1);
	if (r < 0)
		return r;
	found = (int64_t)b->n_functions;
	f.id = (uint64_t)found + 1;
	if ((r = string_index(b, nd->name, &f.name)) < 0 ||
	    (r = string_index(b, nd->file, &f.filename)) < 0)
		return r;
	f.system_name = f.name;
	r = store_map__put(&b->functions, key, sizeof(key), found, NULL);
	if (r < 0)
		return r;
	b->functions_v[b->n_functions++] = f;
	*ret_id = f.id;
	return 0;
}

/*
 * The location that starts at tree node i, walking towards the root: i and
 * the frames i was inlined into, up to the first frame that was not
 * inlined. Sets *ret_next to the node after it. Memoized per node.
 */
static int location_at(struct pprof_build *b, uint32_t i, uint64_t *ret_id,
		       uint32_t *ret_next)
{
	const struct store_tree_node *first = store_tree__node(b->t, i), *nd;
	const struct store_frame_site *site;
	uint64_t *key = NULL, map_id;
	size_t n_lines = 0, len;
	Location loc = PERFTOOLS__PROFILES__LOCATION__INIT;
	Line *lines = NULL;
	int64_t found;
	uint32_t k;
	int r;

	if (b->memo_location[i]) {
		*ret_id = b->memo_location[i];
		*ret_next = b->memo_next[i];
		return 0;
	}
	/* Count the lines: inlined frames, then the frame they sit in
	 * (native code the compiler inlined into the interpreter's loop sits
	 * on the Python frame that loop ran). */
	for (k = i;; k = store_tree__node(b->t, k)->parent) {
		nd = store_tree__node(b->t, k);
		n_lines++;
		if (nd->kind != STORE_FRAME_INLINED ||
		    store_tree__node(b->t, nd->parent)->kind ==
			    STORE_FRAME_PROCESS)
			break;
	}
	/* A Python frame's location is in the Python mapping, also with
	 * native lines inlined on it. */
	site = store_frame_sites__find(b->sites, first);
	r = mapping_id(b, nd->kind == STORE_FRAME_PYTHON ? nd : first, site, &map_id);
	if (r < 0)
		return r;
	len = (2 + 2 * n_lines) * sizeof(*key);
	key = malloc(len);
	lines = calloc(n_lines, sizeof(*lines));
	if (!key || !lines) {
		r = -ENOMEM;
		goto out;
	}
	key[0] = map_id;
	key[1] = site ? site->offset : 0;
	k = i;
	for (size_t j = 0; j < n_lines; j++) {
		Line init = PERFTOOLS__PROFILES__LINE__INIT;

		nd = store_tree__node(b->t, k);
		lines[j] = init;
		r = function_id(b, nd, &lines[j].function_id);
		if (r < 0)
			goto out;
		lines[j].line = nd->line;
		key[2 + 2 * j] = lines[j].function_id;
		key[3 + 2 * j] = nd->line;
		k = nd->parent;
	}
	if (!store_map__get(&b->locations, key, len, &found)) {
		r = COMMON_GROW(b->locations_v, b->cap_locations, b->n_locations + 1);
		if (r < 0)
			goto out;
		if (b->n_locations >= UINT32_MAX - 1) {
			r = -E2BIG;
			goto out;
		}
		found = (int64_t)b->n_locations;
		r = store_map__put(&b->locations, key, len, found, NULL);
		if (r < 0)
			goto out;
		loc.id = (uint64_t)found + 1;
		loc.mapping_id = map_id;
		loc.address = key[1];
		loc.n_line = n_lines;
		/* The pointer array is filled when packing; keep the lines. */
		loc.line = (Line **)lines;
		lines = NULL;
		b->locations_v[b->n_locations++] = loc;
	}
	b->memo_location[i] = (uint32_t)found + 1;
	b->memo_next[i] = k;
	*ret_id = (uint64_t)found + 1;
	*ret_next = k;
out:
	free(key);
	free(lines);
	return r;
}

/* One sample for tree node i (which has samples of its own). */
static int add_sample(struct pprof_build *b, uint32_t i, uint32_t proc,
		      uint64_t period_ns)
{
	Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
	uint64_t count = store_tree__node(b->t, i)->self, *ids = NULL;
	size_t n = 0, cap = 0;
	int64_t *values;
	int r;

	values = calloc(2, sizeof(*values));
	if (!values)
		return -ENOMEM;
	for (uint32_t k = i; k != proc;) {
		uint64_t id;

		r = COMMON_GROW(ids, cap, n + 1);
		if (r < 0)
			goto fail;
		r = location_at(b, k, &id, &k);
		if (r < 0)
			goto fail;
		ids[n++] = id;
	}
	if (count > INT64_MAX ||
	    (period_ns && count > (uint64_t)INT64_MAX / period_ns)) {
		r = -ERANGE;
		goto fail;
	}
	values[0] = (int64_t)count;
	values[1] = (int64_t)(count * period_ns);
	s.n_value = period_ns ? 2 : 1;
	s.value = values;
	s.n_location_id = n;
	s.location_id = ids;
	s.n_label = 1;
	s.label = &b->process_label_ptrs[proc];
	b->samples_v[b->n_samples++] = s;
	return 0;
fail:
	free(ids);
	free(values);
	return r;
}

static bool is_program_of(const char *module, const char *process)
{
	const char *base = strrchr(module, '/');

	base = base ? base + 1 : module;
	/* comm is the file name cut at 15 bytes: python3 runs python3.11 */
	return *process && !strncmp(base, process, strlen(process));
}

/*
 * pprof takes the first mapping for the program (the File: of its
 * header; importers name the process after it), so the executable of the
 * heaviest process goes first: the heaviest module named like the
 * process, else the heaviest module right under the process (the
 * outermost user frame, _start's). Not libpython3.11.so because python's
 * first sample happened to be in it.
 */
static int main_mapping_first(struct pprof_build *b)
{
	const struct store_tree *t = b->t;
	size_t n = store_tree__size(t), proc = 0, best = 0, outer = 0;
	uint32_t *owner;
	uint64_t id;

	for (size_t i = 1; i < n; i++)
		if (store_tree__node(t, i)->parent == 0 &&
		    (!proc || store_tree__node(t, i)->total > store_tree__node(t, proc)->total))
			proc = i;
	if (!proc)
		return 0;
	owner = calloc(n, sizeof(*owner));
	if (!owner)
		return -ENOMEM;
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *nd = store_tree__node(t, i);

		owner[i] = nd->parent == 0 ? (uint32_t)i : owner[nd->parent];
		if (owner[i] != proc || !nd->module ||
		    (nd->kind != STORE_FRAME_USER && nd->kind != STORE_FRAME_INLINED))
			continue;
		if (is_program_of(nd->module, store_tree__node(t, proc)->name) &&
		    (!best || nd->total > store_tree__node(t, best)->total))
			best = i;
		if (nd->parent == proc && (!outer || nd->total > store_tree__node(t, outer)->total))
			outer = i;
	}
	free(owner);
	if (!best)
		best = outer;
	if (!best)
		return 0;
	return mapping_id(b, store_tree__node(t, best),
			  store_frame_sites__find(b->sites, store_tree__node(t, best)), &id);
}

static int build_samples(struct pprof_build *b, uint64_t period_ns)
{
	size_t n = store_tree__size(b->t);
	uint32_t *owner = calloc(n + 1, sizeof(*owner));
	int64_t key_process;
	int r = 0;

	if (!owner)
		return -ENOMEM;
	r = string_index(b, "process", &key_process);
	if (r < 0)
		goto out;
	for (size_t i = 1; i < n; i++) {
		const struct store_tree_node *nd = store_tree__node(b->t, i);

		owner[i] = nd->parent == 0 ? (uint32_t)i : owner[nd->parent];
		if (nd->parent == 0) {
			Label l = PERFTOOLS__PROFILES__LABEL__INIT;

			l.key = key_process;
			r = string_index(b, nd->name, &l.str);
			if (r < 0)
				goto out;
			b->process_labels[i] = l;
			b->process_label_ptrs[i] = &b->process_labels[i];
		}
		if (!nd->self)
			continue;
		r = add_sample(b, (uint32_t)i, owner[i], period_ns);
		if (r < 0)
			goto out;
	}
out:
	free(owner);
	return r;
}

/* gzip data to out. */
static int write_gzip(const uint8_t *data, size_t size, FILE *out)
{
	unsigned char buf[65536];
	z_stream z = { 0 };
	int r = 0, zr;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)data;
	do {
		/* avail_in is 32-bit: feed large buffers in pieces. */
		if (z.avail_in == 0 && size > 0) {
			uInt piece = size > (1u << 30) ? (1u << 30) : (uInt)size;

			z.next_in = (Bytef *)data;
			z.avail_in = piece;
			data += piece;
			size -= piece;
		}
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = deflate(&z, size > 0 || z.avail_in > 0 ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			r = -EIO;
			break;
		}
		if (fwrite(buf, 1, sizeof(buf) - z.avail_out, out) !=
		    sizeof(buf) - z.avail_out) {
			r = -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return r;
}

static void build_free(struct pprof_build *b)
{
	for (size_t i = 0; i < b->n_strings; i++)
		free(b->string_table[i]);
	free(b->string_table);
	free(b->functions_v);
	free(b->mappings_v);
	for (size_t i = 0; i < b->n_locations; i++)
		free(b->locations_v[i].line); /* the Line array, see location_at */
	free(b->locations_v);
	for (size_t i = 0; i < b->n_samples; i++) {
		free(b->samples_v[i].location_id);
		free(b->samples_v[i].value);
	}
	free(b->samples_v);
	free(b->memo_location);
	free(b->memo_next);
	free(b->process_labels);
	free(b->process_label_ptrs);
	store_map__free(&b->strings);
	store_map__free(&b->functions);
	store_map__free(&b->mappings);
	store_map__free(&b->locations);
}

/* Point the profile's repeated fields at the built arrays and pack. */
static int pack(struct pprof_build *b, Profile *p, uint8_t **ret_buf,
		size_t *ret_size)
{
	Function **fp = calloc(b->n_functions + 1, sizeof(*fp));
	Mapping **mp = calloc(b->n_mappings + 1, sizeof(*mp));
	Location **lp = calloc(b->n_locations + 1, sizeof(*lp));
	Sample **sp = calloc(b->n_samples + 1, sizeof(*sp));
	Line ***line_ptrs = calloc(b->n_locations + 1, sizeof(*line_ptrs));
	Line **saved = calloc(b->n_locations + 1, sizeof(*saved));
	uint8_t *buf = NULL;
	int r = -ENOMEM;

	if (!fp || !mp || !lp || !sp || !line_ptrs || !saved)
		goto out;
	for (size_t i = 0; i < b->n_functions; i++)
		fp[i] = &b->functions_v[i];
	for (size_t i = 0; i < b->n_mappings; i++)
		mp[i] = &b->mappings_v[i];
	for (size_t i = 0; i < b->n_samples; i++)
		sp[i] = &b->samples_v[i];
	for (size_t i = 0; i < b->n_locations; i++) {
		Location *l = &b->locations_v[i];
		Line *lines = (Line *)l->line;

		saved[i] = lines;
		line_ptrs[i] = calloc(l->n_line, sizeof(**line_ptrs));
		if (!line_ptrs[i])
			goto restore;
		for (size_t j = 0; j < l->n_line; j++)
			line_ptrs[i][j] = &lines[j];
		l->line = line_ptrs[i];
		lp[i] = l;
	}
	p->n_function = b->n_functions;
	p->function = fp;
	p->n_mapping = b->n_mappings;
	p->mapping = mp;
	p->n_location = b->n_locations;
	p->location = lp;
	p->n_sample = b->n_samples;
	p->sample = sp;
	p->n_string_table = b->n_strings;
	p->string_table = b->string_table;
	*ret_size = perftools__profiles__profile__get_packed_size(p);
	buf = malloc(*ret_size ? *ret_size : 1);
	if (buf) {
		perftools__profiles__profile__pack(p, buf);
		*ret_buf = buf;
		r = 0;
	}
restore:
	/* Give the locations their Line arrays back for build_free. */
	for (size_t i = 0; i < b->n_locations; i++) {
		if (saved[i])
			b->locations_v[i].line = (Line **)saved[i];
		free(line_ptrs[i]);
	}
out:
	free(fp);
	free(mp);
	free(lp);
	free(sp);
	free(line_ptrs);
	free(saved);
	return r;
}

int store_export_pprof(const struct store_tree *t,
		       const struct store_export_info *info, FILE *out)
{
	struct pprof_build b = { .t = t, .sites = info->sites };
	Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	ValueType types[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
			       PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	ValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	ValueType *type_ptrs[2] = { &types[0], &types[1] };
	size_t n = store_tree__size(t), size = 0;
	uint64_t period_ns = 0;
	int64_t comment, empty;
	uint8_t *buf = NULL;
	int r;

	b.memo_location = calloc(n + 1, sizeof(*b.memo_location));
	b.memo_next = calloc(n + 1, sizeof(*b.memo_next));
	b.samples_v = calloc(n + 1, sizeof(*b.samples_v));
	b.process_labels = calloc(n + 1, sizeof(*b.process_labels));
	b.process_label_ptrs = calloc(n + 1, sizeof(*b.process_label_ptrs));
	if (!b.memo_location || !b.memo_next || !b.samples_v ||
	    !b.process_labels || !b.process_label_ptrs) {
		r = -ENOMEM;
		goto out;
	}
	/* The string table must start with "". */
	if ((r = string_index(&b, "", &empty)) < 0 ||
	    (r = string_index(&b, info->value_type ? info->value_type : "samples",
			      &types[0].type)) < 0 ||
	    (r = string_index(&b, info->value_unit ? info->value_unit : "count",
			      &types[0].unit)) < 0)
		goto out;
	/* Counts that are bytes or delay (an imported heap or contention
	 * profile) are no CPU samples: no cpu type for them. */
	if (info->frequency_hz && !info->value_unit) {
		period_ns = (1000000000 + info->frequency_hz / 2) /
			    info->frequency_hz;
		if ((r = string_index(&b, "cpu", &types[1].type)) < 0 ||
		    (r = string_index(&b, "nanoseconds", &types[1].unit)) < 0)
			goto out;
		period_type = types[1];
		p.period = (int64_t)period_ns;
		p.default_sample_type = types[1].type;
	} else {
		period_type = types[0];
		p.period = 1;
	}
	p.n_sample_type = period_ns ? 2 : 1;
	p.sample_type = type_ptrs;
	p.period_type = &period_type;
	p.time_nanos = info->start_ns;
	p.duration_nanos = info->duration_ns;
	if (info->name) {
		r = string_index(&b, info->name, &comment);
		if (r < 0)
			goto out;
		p.n_comment = 1;
		p.comment = &comment;
	}
	r = main_mapping_first(&b);
	if (r < 0)
		goto out;
	r = build_samples(&b, period_ns);
	if (r < 0)
		goto out;
	r = pack(&b, &p, &buf, &size);
	if (r < 0)
		goto out;
	r = write_gzip(buf, size, out);
out:
	free(buf);
	build_free(&b);
	return r;
}
