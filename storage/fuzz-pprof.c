/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-pprof.c — libFuzzer entry point for the pprof decoder behind
 * `ember import` (store_pprof_read in import_pprof.c): the input bytes are
 * decoded as a pprof file, gzipped or not, and every sample handed on is
 * checked the way the store's writer would use it. Built with clang
 * -fsanitize=fuzzer for fuzzing; its corpus (storage/fuzz-pprof-corpus,
 * plus mangled copies of a real export) runs as a unit test through
 * tests/unit/fuzz-driver.c with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_start(void *ctx, const struct store_pprof_header *h)
{
	return 0;
}

static int check_sample(void *ctx, const struct store_pprof_sample *s)
{
	uint64_t *sum = ctx;
	size_t len = 0;

	if (s->count == 0 || s->n_frames > STORE_PPROF_MAX_DEPTH)
		__builtin_trap();
	for (size_t i = 0; i < s->n_frames; i++) {
		/* every text the writer copies must be a readable string */
		if (!s->frames[i].name)
			__builtin_trap();
		len += strlen(s->frames[i].name);
		if (s->frames[i].module)
			len += strlen(s->frames[i].module);
		if (s->frames[i].file)
			len += strlen(s->frames[i].file);
		if (s->frames[i].build_id)
			len += strlen(s->frames[i].build_id);
	}
	if (s->labels->process)
		len += strlen(s->labels->process);
	if (s->labels->thread)
		len += strlen(s->labels->thread);
	*sum += s->count + (len & 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sum = 0;
	struct store_pprof_sink sink = { check_start, check_sample, &sum };
	struct store_pprof_header h;
	char msg[256];

	if (store_pprof_read(data, size, NULL, &sink, &h, msg, sizeof(msg)) == 0 &&
	    sum < h.samples)
		__builtin_trap();
	return 0;
}
