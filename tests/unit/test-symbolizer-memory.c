/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-memory.c — the memory bound (sym_options.max_memory):
 * many distinct binaries (copies of the -O2 -g inline fixture, half with a
 * build-id of their own, half without one so they are told apart by file
 * identity), each mapped by its own process in a fake root. Under a bound
 * of a few binaries, every address of every binary is resolved twice, with
 * processes exiting (their snapshots kept, binaries reloaded from the kept
 * file) and forgotten in between: binary memory stays under the bound after
 * every call, binaries are evicted and reloaded, and every frame (names,
 * files, lines, inline chains) equals what an unbounded session says.
 *
 * Usage: test-symbolizer-memory FIXTURE_INLINE_NOPIE
 */
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "symbolizer-test.h"

#define N_BINS 24
#define PID0 5000
#define MAX_FRAMES 8
#define MAX_ADDRS 4096

static char root[] = "/tmp/ember-sym-mem-XXXXXX";
static char bins[N_BINS][PATH_MAX];
static uint64_t text_start, text_end, text_off;

struct want {
	size_t n;
	char text[MAX_FRAMES][256];
};

static struct want wants[MAX_ADDRS];
static size_t n_addrs;

static uint64_t addr_at(size_t i)
{
	return text_start + i * 3;
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) <= 0) {
		if (f)
			fclose(f);
		return -1;
	}
	rewind(f);
	*ret = malloc((size_t)size);
	if (!*ret || fread(*ret, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*ret_size = (size_t)size;
	return 0;
}

/* Copy i of the fixture: build-id changed in its last byte (even i) or its
 * note type cleared, so there is no build-id (odd i). */
static void make_copy(const unsigned char *data, size_t size, const unsigned char *id,
		      size_t id_len, int i)
{
	unsigned char *copy = malloc(size), *at;
	FILE *f;

	CHECK(copy != NULL);
	if (!copy)
		return;
	memcpy(copy, data, size);
	at = memmem(copy, size, id, id_len);
	CHECK(at != NULL && at - copy >= 16);
	if (at && at - copy >= 16) {
		if (i % 2 == 0)
			at[id_len - 1] ^= (unsigned char)(i + 1);
		else
			memset(at - 8, 0, 4);  /* n_type: "GNU" note, type 0 */
	}
	snprintf(bins[i], sizeof(bins[i]), "%s/bin-%02d", root, i);
	f = fopen(bins[i], "wb");
	CHECK(f && fwrite(copy, 1, size, f) == size);
	if (f)
		fclose(f);
	chmod(bins[i], 0755);
	free(copy);
}

/* proc/PID/maps mapping binary i's text segment, and proc/PID/root -> / */
static void make_process(int i)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;

	CHECK(stat(bins[i], &st) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d", root, PID0 + i);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/root", root, PID0 + i);
	CHECK(symlink("/", path) == 0);
	snprintf(path, sizeof(path), "%s/proc/%d/maps", root, PID0 + i);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	/* the file's own device and inode: anything else is not the mapped
	 * file, and refused */
	fprintf(f, "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " %02x:%02x %lu %s\n",
		text_start & ~(uint64_t)0xfff, (text_end + 0xfff) & ~(uint64_t)0xfff,
		text_off & ~(uint64_t)0xfff, major(st.st_dev), minor(st.st_dev),
		(unsigned long)st.st_ino, bins[i]);
	fclose(f);
}

/* The process exits: its /proc entry goes away. */
static void end_process(int i)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/proc/%d'", root, PID0 + i);
	CHECK(system(cmd) == 0);
}

static void frames_text(struct sym_session *s, pid_t pid, uint64_t addr, struct want *ret)
{
	struct sym_frame f[MAX_FRAMES];

	CHECK(sym_session__user_frames(s, pid, addr, f, MAX_FRAMES, &ret->n) == 0);
	for (size_t k = 0; k < ret->n; k++) {
		char *copy;

		snprintf(ret->text[k], sizeof(ret->text[k]), "%s %s:%u %d %s", f[k].name,
			 f[k].file ? f[k].file : "-", f[k].line, (int)f[k].kind,
			 sym_miss_name(f[k].miss));
		/* an unnamed frame says which copy: bin-NN+0x... */
		copy = strstr(ret->text[k], "bin-");
		if (copy && copy[4] && copy[5])
			copy[4] = copy[5] = '0';
	}
}

static int mismatches;

static void resolve_all(struct sym_session *s, int i, uint64_t bound)
{
	struct sym_stats st;
	struct want got;

	for (size_t a = 0; a < n_addrs; a++) {
		frames_text(s, PID0 + i, addr_at(a), &got);
		if (got.n != wants[a].n) {
			if (mismatches++ < 10)
				fprintf(stderr, "bin %d 0x%" PRIx64 ": %zu frames, want %zu\n",
					i, addr_at(a), got.n, wants[a].n);
			continue;
		}
		for (size_t k = 0; k < got.n; k++)
			if (strcmp(got.text[k], wants[a].text[k]) != 0 && mismatches++ < 10)
				fprintf(stderr, "bin %d 0x%" PRIx64 " frame %zu: %s, want %s\n",
					i, addr_at(a), k, got.text[k], wants[a].text[k]);
		sym_session__stats(s, &st);
		if (st.binary_memory > bound && mismatches++ < 10)
			fprintf(stderr, "bin %d: binary memory %" PRIu64 " over the bound %" PRIu64 "\n",
				i, st.binary_memory, bound);
	}
}

int main(int argc, char **argv)
{
	struct sym_options o = { .root = root, .no_kernel = true, .debug_dir = "" };
	struct sym_session *s = NULL;
	unsigned char *data = NULL, id[64];
	char buf[512], path[PATH_MAX];
	struct sym_stats st;
	uint64_t one, bound;
	size_t size = 0, id_len = 0, named = 0, inlined = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_INLINE_NOPIE\n", argv[0]);
		return 2;
	}
	CHECK(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/proc", root);
	CHECK(mkdir(path, 0755) == 0);
	/* the executable segment, and the build-id bytes to find in the file */
	test_run(buf, sizeof(buf), "readelf -lW '%s' | awk '/LOAD.* R E /{print $2, $3, $5}'",
		 argv[1]);
	{
		unsigned long long off = 0, va = 0, sz = 0;

		CHECK(sscanf(buf, "0x%llx 0x%llx 0x%llx", &off, &va, &sz) == 3);
		text_off = off;
		text_start = va;
		text_end = va + sz;
	}
	test_run(buf, sizeof(buf), "readelf -n '%s' | awk '/Build ID/{print $3}'", argv[1]);
	for (size_t k = 0; buf[2 * k] && buf[2 * k + 1] && k < sizeof(id); k++) {
		unsigned v;

		sscanf(buf + 2 * k, "%2x", &v);
		id[id_len++] = (unsigned char)v;
	}
	CHECK(id_len >= 16);
	CHECK(read_file(argv[1], &data, &size) == 0);
	if (test_failures)
		return test_exit();
	for (int i = 0; i < N_BINS; i++) {
		make_copy(data, size, id, id_len, i);
		make_process(i);
	}
	free(data);
	n_addrs = (text_end - text_start) / 3;
	if (n_addrs > MAX_ADDRS)
		n_addrs = MAX_ADDRS;

	/* What an unbounded session says, and what one binary costs. */
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	for (size_t a = 0; a < n_addrs; a++) {
		frames_text(s, PID0, addr_at(a), &wants[a]);
		named += strstr(wants[a].text[wants[a].n - 1], "none") != NULL;
		inlined += wants[a].n > 1;
	}
	sym_session__stats(s, &st);
	one = st.binary_memory;
	sym_session__free(s);
	fprintf(stderr, "%zu addresses (%zu named, %zu with inlined frames), %" PRIu64
		" bytes per binary\n", n_addrs, named, inlined, one);
	/* the fixture's text must really be mostly named and have inlines */
	CHECK(named * 2 > n_addrs && inlined > 0 && one > 0);
	/* the wanted frames must name the copy's functions, not be empty */
	CHECK(strstr(wants[0].text[0], "+0x") == NULL);

	/* Room for three and a half binaries. */
	bound = one * 7 / 2;
	o.max_memory = bound;
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	for (int i = 0; i < N_BINS; i++) {
		resolve_all(s, i, bound);
		/* A third of the processes exit (their snapshots stay and
		 * keep the binary's file), a third are forgotten, the rest
		 * stay alive. */
		if (i % 3 == 0) {
			end_process(i);
			CHECK(sym_session__note_process(s, PID0 + i) == -ESRCH);
		} else if (i % 3 == 1) {
			sym_session__forget_process(s, PID0 + i);
		}
	}
	sym_session__stats(s, &st);
	fprintf(stderr, "first pass: %" PRIu64 " binaries, %" PRIu64 " evictions, %" PRIu64
		" reloads, %" PRIu64 " bytes of %" PRIu64 "\n", st.binaries, st.evictions,
		st.reloads, st.binary_memory, bound);
	CHECK(st.binaries == N_BINS);
	CHECK(st.evictions >= N_BINS - 4);
	CHECK(st.binary_memory <= bound);
	/* Again: exited processes' binaries come back from their kept files,
	 * forgotten ones' are found again through a new snapshot. */
	for (int i = 0; i < N_BINS; i++)
		resolve_all(s, i, bound);
	sym_session__stats(s, &st);
	fprintf(stderr, "second pass: %" PRIu64 " binaries, %" PRIu64 " evictions, %" PRIu64
		" reloads, %" PRIu64 " bytes, %" PRIu64 " total\n", st.binaries, st.evictions,
		st.reloads, st.binary_memory, st.memory);
	CHECK(st.reloads >= N_BINS / 3);
	CHECK(st.binary_memory <= bound);
	CHECK(st.memory >= st.binary_memory);
	CHECK(mismatches == 0);
	sym_session__free(s);

	/* One pass per binary, as the agent's flushes: the binaries of
	 * earlier passes make room for a unit's DWARF before it is read, so
	 * binary memory stays within the bound also inside the calls. */
	CHECK(sym_session__new(&o, &s) == 0);
	if (!s)
		return test_exit();
	for (int i = 0; i < N_BINS; i++) {
		if (i % 3 == 0)
			make_process(i);  /* ended above */
		sym_session__next_pass(s);
		resolve_all(s, i, bound);
	}
	sym_session__stats(s, &st);
	fprintf(stderr, "a pass each: %" PRIu64 " evictions, %" PRIu64 " bytes at most of %" PRIu64
		"\n", st.evictions, st.binary_memory_peak, bound);
	CHECK(st.evictions >= N_BINS - 4);
	CHECK(st.binary_memory_peak <= bound);
	CHECK(mismatches == 0);
	sym_session__free(s);

	snprintf(buf, sizeof(buf), "rm -rf '%s'", root);
	CHECK(system(buf) == 0);
	return test_exit();
}
