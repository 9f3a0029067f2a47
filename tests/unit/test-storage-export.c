/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-storage-export.c — the exports and the pprof import of the storage
 * module, on a store with known stacks: the folded text is exactly what a
 * user expects; pprof export -> import into a new store gives the same
 * folded text and tree totals (kernel and inlined frames, file:line and
 * time span included); a time range applies to the exports; bad pprof
 * input fails with a reason and leaves nothing in the store.
 *
 * With "--write DB" (or "--write-odd DB") it only writes the known store
 * (or one with awkward names) to DB, for tests/unit/test_exports.py, which
 * checks the same files with independent decoders.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "storage-test.h"

static const struct store_labels app = {
	.host = "h", .process = "app", .pid = 10, .thread = "app", .tid = 10,
};
static const struct store_labels worker = {
	.host = "h", .process = "app", .pid = 11, .thread = "worker", .tid = 12,
};
static const struct store_labels db = {
	.host = "h", .process = "db", .pid = 20, .tid = 20,
};

#define F(n, l) { .name = n, .module = "/usr/bin/app", .build_id = "abc123", \
		  .offset = 0x1000 + l, .file = "app.c", .line = l }
#define K(n) { .name = n, .module = "[kernel.kallsyms]", .offset = 0xffff0000, \
	       .kind = STORE_FRAME_KERNEL }

/* The folded export of the known store, what `ember report` prints. */
static const char expected_folded[] =
	"app;main;compute 30\n"
	"app;main;compute;inner_[i] 20\n"
	"app;main;compute;write_[k];vfs_write_[k] 5\n"
	"app;main;idle 4\n"
	"db 1\n"
	"db;main;query 10\n";

/* The same with --lines. */
static const char expected_folded_lines[] =
	"app;main (app.c:10);compute (app.c:20) 30\n"
	"app;main (app.c:10);compute (app.c:20);inner_[i] (app.c:30) 20\n"
	"app;main (app.c:10);compute (app.c:20);write_[k];vfs_write_[k] 5\n"
	"app;main (app.c:10);idle (app.c:40) 4\n"
	"db 1\n"
	"db;main (app.c:5);query (app.c:6) 10\n";

static void write_store(const char *path)
{
	struct store_frame a[] = { F("main", 10), F("compute", 20), F("inner", 30),
				   K("write"), K("vfs_write") };
	struct store_frame idle[] = { F("main", 10), F("idle", 40) };
	struct store_frame q[] = { F("main", 5), F("query", 6) };
	struct store_db *d;

	a[2].kind = STORE_FRAME_INLINED;
	q[0].module = q[1].module = "/usr/bin/db";
	q[0].build_id = q[1].build_id = NULL;
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &d), 0);
	CHECK_RC(store_db__set_meta(d, "frequency_hz", "99"), 0);
	CHECK_RC(store_db__begin(d, 1700000000, 10), 0);
	CHECK_RC(store_db__add_stack(d, &app, a, 2, 20), 0);
	CHECK_RC(store_db__add_stack(d, &worker, a, 2, 10), 0);
	CHECK_RC(store_db__add_stack(d, &app, a, 3, 20), 0);
	CHECK_RC(store_db__commit(d), 0);
	CHECK_RC(store_db__begin(d, 1700000010, 10), 0);
	/* kernel frames below compute, without the inlined frame */
	a[2] = a[3];
	a[3] = a[4];
	CHECK_RC(store_db__add_stack(d, &app, a, 4, 5), 0);
	CHECK_RC(store_db__add_stack(d, &app, idle, 2, 4), 0);
	CHECK_RC(store_db__add_stack(d, &db, q, 2, 10), 0);
	CHECK_RC(store_db__add_stack(d, &db, NULL, 0, 1), 0);
	CHECK_RC(store_db__commit(d), 0);
	store_db__close(d);
}

/* Names a JSON or folded writer must escape or replace. */
static void write_odd_store(const char *path)
{
	struct store_frame f[] = {
		{ .name = "quote\"back\\slash", .module = "m" },
		{ .name = "semi;colon\nnewline\ttab\x01" },
		{ .name = "bad\xff\xfe utf8 \xc3\xa9 \xe2\x82" },
		{ .name = "snow \xe2\x98\x83 \xf0\x9f\x94\xa5", .file = "f\"ile" },
	};
	struct store_labels l = { .process = "odd \"proc\"", .pid = 1 };
	struct store_db *d;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &d), 0);
	CHECK_RC(store_db__begin(d, 1700000000, 10), 0);
	CHECK_RC(store_db__add_stack(d, &l, f, 4, 7), 0);
	CHECK_RC(store_db__add_stack(d, &l, f, 2, 3), 0);
	CHECK_RC(store_db__commit(d), 0);
	store_db__close(d);
}

/* fmt of q on path, as a malloc'd buffer. */
static char *export_to_memory(struct store_db *d, const struct store_query *q,
			      enum store_export_format fmt, size_t *ret_size)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	CHECK(f != NULL);
	CHECK_RC(store_db__export(d, q, fmt, f), 0);
	CHECK(fclose(f) == 0);
	*ret_size = size;
	return buf;
}

static void check_same_tree(struct store_db *a, struct store_db *b)
{
	struct store_tree *ta, *tb;

	CHECK_RC(store_db__query_tree(a, NULL, &ta), 0);
	CHECK_RC(store_db__query_tree(b, NULL, &tb), 0);
	tree_check_invariants(tb);
	CHECK_U64(store_tree__size(tb), store_tree__size(ta));
	CHECK_U64(store_tree__node(tb, 0)->total, store_tree__node(ta, 0)->total);
	/* Same names, files and lines in the same places. */
	CHECK(tree_find(tb, "app;main;compute;inner") > 0);
	CHECK_U64(store_tree__node(tb, tree_find(tb, "app;main;compute;inner"))->kind,
		  STORE_FRAME_INLINED);
	CHECK_U64(store_tree__node(tb, tree_find(tb, "app;main;compute;write"))->kind,
		  STORE_FRAME_KERNEL);
	CHECK_U64(store_tree__node(tb, tree_find(tb, "app;main;compute"))->line, 20);
	CHECK(strcmp(store_tree__node(tb, tree_find(tb, "app;main;idle"))->file,
		     "app.c") == 0);
	CHECK(strcmp(store_tree__node(tb, tree_find(tb, "db;main;query"))->module,
		     "/usr/bin/db") == 0);
	store_tree__free(ta);
	store_tree__free(tb);
}

static void test_folded(struct store_db *d)
{
	struct store_query q;
	size_t size;
	char *text = export_to_memory(d, NULL, STORE_EXPORT_FOLDED, &size);

	CHECK(size == strlen(expected_folded));
	CHECK(strcmp(text, expected_folded) == 0);
	free(text);

	/* --lines: the kind marker stays on the function, the line follows. */
	text = export_to_memory(d, NULL, STORE_EXPORT_FOLDED_LINES, &size);
	CHECK(strcmp(text, expected_folded_lines) == 0);
	free(text);

	/* A range: only the second bucket. */
	store_query_init(&q);
	q.from_s = 1700000010;
	text = export_to_memory(d, &q, STORE_EXPORT_FOLDED, &size);
	CHECK(strcmp(text, "app;main;compute;write_[k];vfs_write_[k] 5\n"
			   "app;main;idle 4\n"
			   "db 1\n"
			   "db;main;query 10\n") == 0);
	free(text);
}

static void test_pprof_roundtrip(const char *dir, struct store_db *d)
{
	char *path = path_in(dir, "imported.db"), *pb, *folded;
	struct store_db *imp;
	struct store_summary *s;
	size_t size, fsize;
	uint64_t samples = 0;
	char *hz = NULL;

	pb = export_to_memory(d, NULL, STORE_EXPORT_PPROF, &size);
	CHECK(size > 20 && (uint8_t)pb[0] == 0x1f && (uint8_t)pb[1] == 0x8b);
	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &imp), 0);
	CHECK_RC(store_db__import_pprof(imp, pb, size, NULL, &samples, NULL), 0);
	CHECK_U64(samples, 70);
	check_same_tree(d, imp);
	folded = export_to_memory(imp, NULL, STORE_EXPORT_FOLDED, &fsize);
	CHECK(strcmp(folded, expected_folded) == 0);
	free(folded);
	/* One bucket at the profile's start, as long as the range. */
	CHECK_RC(store_db__summary(imp, NULL, &s), 0);
	CHECK_U64(s->samples, 70);
	CHECK_U64(s->first_s, 1700000000);
	store_summary__free(s);
	CHECK_RC(store_db__get_meta(imp, "frequency_hz", &hz), 0);
	CHECK(strcmp(hz, "99") == 0);
	free(hz);

	/* The uncompressed protobuf imports the same. */
	{
		uint8_t *raw = malloc(1 << 20);
		z_stream z = { 0 };

		CHECK(raw != NULL);
		CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
		z.next_in = (uint8_t *)pb;
		z.avail_in = (uInt)size;
		z.next_out = raw;
		z.avail_out = 1 << 20;
		CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
		CHECK_RC(store_db__import_pprof(imp, raw, z.total_out, NULL, &samples, NULL), 0);
		CHECK_U64(samples, 70);
		CHECK_U64(samples_in(imp, INT64_MIN, INT64_MAX), 140);
		inflateEnd(&z);
		free(raw);
	}
	free(pb);
	store_db__close(imp);
	free(path);
}

/* Frames whose kind the pprof mapping must carry: a kernel module's (a
 * BPF program's, at a kernel address, mapping "bpf"), the core kernel's,
 * and user frames of [vdso] and [vsyscall] (the latter at a kernel-half
 * address). */
static void test_pprof_kinds(const char *dir)
{
	struct store_frame f[] = {
		{ .name = "main", .module = "/usr/bin/app", .offset = 0x1000 },
		{ .name = "__vdso_time", .module = "[vdso]", .offset = 0x900 },
		{ .name = "vsyscall_time", .module = "[vsyscall]", .offset = 0xffffffffff600400 },
		{ .name = "entry", .module = "[kernel.kallsyms]", .offset = 0xffffffff81000100,
		  .kind = STORE_FRAME_KERNEL },
		{ .name = "bpf_prog_1234_on_exit [bpf]", .module = "bpf",
		  .offset = 0xffffffffc0001000, .kind = STORE_FRAME_KERNEL },
	};
	static const char want[] =
		"app;main;__vdso_time;vsyscall_time;entry_[k];bpf_prog_1234_on_exit [bpf]_[k] 3\n";
	char *src = path_in(dir, "kinds.db"), *dst = path_in(dir, "kinds-imported.db");
	struct store_db *d, *imp;
	char *pb, *text;
	size_t size;

	CHECK_RC(store_db__open(src, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &d), 0);
	CHECK_RC(store_db__begin(d, 1700000000, 10), 0);
	CHECK_RC(store_db__add_stack(d, &app, f, 5, 3), 0);
	CHECK_RC(store_db__commit(d), 0);
	text = export_to_memory(d, NULL, STORE_EXPORT_FOLDED, &size);
	CHECK(strcmp(text, want) == 0);
	free(text);
	pb = export_to_memory(d, NULL, STORE_EXPORT_PPROF, &size);
	CHECK_RC(store_db__open(dst, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &imp), 0);
	CHECK_RC(store_db__import_pprof(imp, pb, size, NULL, NULL, NULL), 0);
	text = export_to_memory(imp, NULL, STORE_EXPORT_FOLDED, &size);
	if (strcmp(text, want) != 0)
		fprintf(stderr, "imported: %s", text);
	CHECK(strcmp(text, want) == 0);
	free(text);
	free(pb);
	store_db__close(imp);
	store_db__close(d);
	free(src);
	free(dst);
}

static void test_bad_input(const char *dir, struct store_db *d)
{
	static const uint8_t garbage[] = "this is not a profile at all";
	static const uint8_t gzip_garbage[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3 };
	/* string_table = ["x"]: the first string must be "" */
	static const uint8_t bad_strings[] = { 0x32, 0x01, 'x' };
	/* a sample type naming string 5 of a one-string table */
	static const uint8_t bad_index[] = { 0x0a, 0x04, 0x08, 0x05, 0x10, 0x00,
					     0x32, 0x00 };
	char *path = path_in(dir, "bad.db"), *pb;
	struct store_db *imp;
	size_t size;

	CHECK_RC(store_db__open(path, STORE_OPEN_WRITE, &imp), 0);
	CHECK_RC(store_db__import_pprof(imp, "", 0, NULL, NULL, NULL), -EBADMSG);
	CHECK_RC(store_db__import_pprof(imp, garbage, sizeof(garbage), NULL, NULL, NULL), -EBADMSG);
	CHECK(strstr(store_db__errmsg(imp), "not a pprof profile") != NULL);
	CHECK_RC(store_db__import_pprof(imp, gzip_garbage, sizeof(gzip_garbage), NULL, NULL, NULL),
		 -EBADMSG);
	CHECK(strstr(store_db__errmsg(imp), "gzip") != NULL);
	CHECK_RC(store_db__import_pprof(imp, bad_strings, sizeof(bad_strings), NULL, NULL, NULL),
		 -EBADMSG);
	CHECK(strstr(store_db__errmsg(imp), "string table") != NULL);
	CHECK_RC(store_db__import_pprof(imp, bad_index, sizeof(bad_index), NULL, NULL, NULL),
		 -EBADMSG);
	CHECK(strstr(store_db__errmsg(imp), "does not exist") != NULL);
	/* Every truncation of a real export fails cleanly. */
	pb = export_to_memory(d, NULL, STORE_EXPORT_PPROF, &size);
	for (size_t n = 0; n < size; n++)
		CHECK_RC(store_db__import_pprof(imp, pb, n, NULL, NULL, NULL), -EBADMSG);
	free(pb);
	/* Nothing was written: no flush, no samples. */
	{
		struct store_summary *s;

		CHECK_RC(store_db__summary(imp, NULL, &s), 0);
		CHECK_U64(s->samples, 0);
		CHECK_U64(s->first_s, 0);
		store_summary__free(s);
	}
	store_db__close(imp);
	/* A reader cannot import. */
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &imp), 0);
	CHECK_RC(store_db__import_pprof(imp, garbage, sizeof(garbage), NULL, NULL, NULL), -EROFS);
	store_db__close(imp);
	free(path);
}

static void test_speedscope(struct store_db *d)
{
	size_t size;
	char *json = export_to_memory(d, NULL, STORE_EXPORT_SPEEDSCOPE, &size);

	/* Structure is checked by python's json in test_exports.py. */
	CHECK(strncmp(json, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\"",
		      62) == 0);
	CHECK(strstr(json, "\"name\":\"inner_[i]\",\"file\":\"app.c\",\"line\":30") != NULL);
	CHECK(strstr(json, "\"type\":\"sampled\",\"name\":\"db\"") != NULL);
	free(json);
}

int main(int argc, char **argv)
{
	char *dir, *path;
	struct store_db *d;

	if (argc == 3 && !strcmp(argv[1], "--write")) {
		write_store(argv[2]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--write-odd")) {
		write_odd_store(argv[2]);
		return 0;
	}
	dir = make_tempdir();
	path = path_in(dir, "known.db");
	write_store(path);
	CHECK_RC(store_db__open(path, STORE_OPEN_READ, &d), 0);
	test_folded(d);
	test_pprof_roundtrip(dir, d);
	test_pprof_kinds(dir);
	test_speedscope(d);
	test_bad_input(dir, d);
	CHECK_RC(store_db__export(d, NULL, (enum store_export_format)99, stdout), -EINVAL);
	store_db__close(d);
	free(path);
	cleanup_tempdir(dir);
	printf("ok\n");
	return 0;
}
