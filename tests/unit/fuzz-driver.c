/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-driver.c — runs a libFuzzer entry point (LLVMFuzzerTestOneInput)
 * without libFuzzer, so a fuzzer's corpus runs as a unit test with any
 * compiler: every file given (or found in a directory given) is fed once.
 * With "--mutate FILE", FILE is also fed truncated at many lengths and with
 * bytes overwritten by a fixed pseudo-random sequence, so real inputs
 * (a built binary) are mangled the same way on every run.
 *
 * Usage: fuzz-driver [--mutate FILE]... PATH...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long inputs;

static int read_all(const char *path, uint8_t **ret_data, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, got;

	if (!f)
		return -1;
	do {
		if (size == cap) {
			uint8_t *p = realloc(data, cap = cap ? cap * 2 : 65536);

			if (!p) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		got = fread(data + size, 1, cap - size, f);
		size += got;
	} while (got > 0);
	fclose(f);
	*ret_data = data;
	*ret_size = size;
	return 0;
}

static void feed(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any overread. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
	inputs++;
}

static int run_path(const char *path)
{
	struct stat st;
	uint8_t *data;
	size_t size;
	int r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: cannot stat\n", path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d)
			return -1;
		while ((e = readdir(d))) {
			char sub[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (run_path(sub) < 0)
				r = -1;
		}
		closedir(d);
		return r;
	}
	if (read_all(path, &data, &size) < 0) {
		fprintf(stderr, "%s: cannot read\n", path);
		return -1;
	}
	feed(data, size);
	free(data);
	return 0;
}

static int mutate(const char *path)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	uint8_t *data, *copy;
	size_t size;

	if (read_all(path, &data, &size) < 0 || size == 0)
		return -1;
	/* truncations: every length up to 256, then growing steps */
	for (size_t n = 0; n < size; n = n < 256 ? n + 1 : n + n / 16 + 1)
		feed(data, n);
	copy = malloc(size);
	if (!copy)
		abort();
	for (int round = 0; round < 400; round++) {
		memcpy(copy, data, size);
		for (int k = 0; k < 1 + round % 8; k++) {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			/* headers are where corruption bites: aim there often */
			size_t at = (state >> 8) % (k % 2 ? size : (size < 4096 ? size : 4096));

			copy[at] = (uint8_t)state;
		}
		feed(copy, size);
	}
	free(copy);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int r = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mutate") == 0 && i + 1 < argc) {
			if (mutate(argv[++i]) < 0) {
				fprintf(stderr, "%s: cannot read\n", argv[i]);
				r = 1;
			}
		} else if (run_path(argv[i]) < 0) {
			r = 1;
		}
	}
	fprintf(stderr, "%lu inputs run\n", inputs);
	return inputs == 0 ? 1 : r;
}
