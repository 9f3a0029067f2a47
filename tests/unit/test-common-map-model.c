/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-common-map-model.c — the hash map against a reference model on
 * pseudo-random operation sequences: common/fuzz-map.c's entry point (which
 * checks every answer of the map against a plain array and aborts on a
 * difference) fed sequences from many seeds, over each key kind and key
 * count, short and long (long ones churn inserts and removals through many
 * rebuilds). A failing seed is printed; rerun it alone with `SEED`.
 *
 * Usage: test-common-map-model [SEED]
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t current_seed;

/* The entry point aborts on a difference: name the seed that found it. */
static void on_abort(int sig)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "failing seed: %llu\n",
			 (unsigned long long)current_seed);

	if (n > 0)
		(void)!write(2, buf, (size_t)n);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* splitmix64: a different, reproducible sequence for every seed. */
static uint64_t next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void run_seed(uint64_t seed)
{
	uint64_t st = seed;
	/* Mostly a few hundred operations, one in eight 20,000. */
	size_t ops = next(&st) % 8 == 0 ? 20000 : 50 + next(&st) % 1500;
	size_t size = 1 + 3 * ops;
	uint8_t *data = malloc(size);
	/* How often each seed inserts (of 16 operation codes): phases of
	 * growth and of shrinking. */
	unsigned insert_bias = (unsigned)(next(&st) % 4);

	if (!data)
		abort();
	data[0] = (uint8_t)seed;  /* kind and key count cycle with the seed */
	for (size_t i = 0; i < ops; i++) {
		uint64_t r = next(&st);
		uint8_t op = (uint8_t)(r & 0xff);

		/* Bias toward inserts or removals in long phases. */
		if (insert_bias && (r >> 8) % 4 < insert_bias)
			op = ((i / 500) % 2 == 0) ? (uint8_t)((r >> 16) % 5) : (uint8_t)(8 + (r >> 16) % 4);
		/* Clearing and fini rarely: they empty everything. */
		if (op % 16 == 15 && (r >> 24) % 8 != 0)
			op = 13;
		data[1 + 3 * i] = op;
		data[2 + 3 * i] = (uint8_t)(r >> 32);
		data[3 + 3 * i] = (uint8_t)(r >> 40);
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
}

int main(int argc, char **argv)
{
	uint64_t seeds = 600;

	if (argc > 1) {
		uint64_t seed = strtoull(argv[1], NULL, 0);

		fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
		run_seed(seed);
		return 0;
	}
	signal(SIGABRT, on_abort);
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		current_seed = seed;
		run_seed(seed);
	}
	printf("%llu seeds: the map agreed with the model\n",
		(unsigned long long)seeds);
	return 0;
}
