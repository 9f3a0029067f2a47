/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recurse.c — deep recursion: main -> descend(DEPTH) -> descend(DEPTH-1) ->
 * ... -> descend(1) -> deep_leaf, where nearly all the time is spent. With
 * the default depth of 100 the chain is longer than 64 frames, beyond what
 * some unwinders and small stack copies reach. Each frame keeps a small
 * buffer so the stack is a few KB deep.
 *
 * Usage: recurse [--seconds S] [--depth D]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "burn.h"

__attribute__((noinline)) void deep_leaf(uint64_t deadline_ns);
__attribute__((noinline)) void descend(unsigned depth, uint64_t deadline_ns);

__attribute__((noinline)) void deep_leaf(uint64_t deadline_ns)
{
	do
		burn(0x5eed7, BURN_UNIT_ITERS);
	while (burn_now_ns() < deadline_ns);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void descend(unsigned depth, uint64_t deadline_ns)
{
	volatile char pad[32];

	pad[0] = (char)depth;
	if (depth <= 1)
		deep_leaf(deadline_ns);
	else
		descend(depth - 1, deadline_ns);
	/* Not a tail call: every level keeps its frame on the stack. */
	__asm__ volatile("" ::: "memory");
	pad[1] = pad[0];
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3, depth = 100;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
		} else if (!strcmp(argv[i], "--depth") && i + 1 < argc) {
			if (args_uint(argv[++i], 10000, &depth) < 0 || !depth)
				goto bad;
		} else {
			goto bad;
		}
	}
	descend(depth, burn_now_ns() + seconds * 1000000000ULL);
	return 0;
bad:
	fprintf(stderr, "usage: recurse [--seconds S] [--depth D]\n");
	return 2;
}
