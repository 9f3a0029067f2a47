/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget.c — the memory budget's checks and trims (see budget.h).
 */
#include "budget.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "common.h"

/* How often the resident size is compared with the budget, and every how
 * many stacks a flush looks at the clock for it. */
#define BUDGET_CHECK_NS (250ULL * 1000000ULL)
#define BUDGET_CHECK_STACKS 64

struct budget {
	uint64_t limit;
	uint64_t max_check_ns;   /* the flush interval */
	uint64_t next_check_ns;
	uint64_t check_ns;       /* backs off while trims do not help */
	unsigned stacks_since_check;
	uint64_t trims;
};

int budget__new(uint64_t limit, unsigned flush_seconds, struct budget **ret_budget)
{
	struct budget *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->limit = limit;
	b->max_check_ns = flush_seconds * 1000000000ULL;
	*ret_budget = b;
	return 0;
}

void budget__free(struct budget *b)
{
	free(b);
}

void budget__check(struct budget *b, struct sym_session *sym)
{
	uint64_t rss, over, bins, floor;
	struct sym_stats st;

	if (!b->limit || common_now_ns() < b->next_check_ns)
		return;
	rss = common_rss_bytes();
	if (rss <= b->limit) {
		b->check_ns = BUDGET_CHECK_NS;
		b->next_check_ns = common_now_ns() + b->check_ns;
		return;
	}
	if (b->check_ns && b->trims)
		b->check_ns = MIN(2 * b->check_ns, MAX(b->max_check_ns, BUDGET_CHECK_NS));
	else
		b->check_ns = BUDGET_CHECK_NS;
	b->next_check_ns = common_now_ns() + b->check_ns;
	sym_session__stats(sym, &st);
	over = rss - b->limit + b->limit / 8;
	floor = b->limit / 8;
	bins = st.binary_memory;
	if (bins <= floor)
		return;
	sym_session__trim(sym, bins > over + floor ? bins - over : floor);
	malloc_trim(0);
	b->trims++;
}

void budget__stack(struct budget *b, struct sym_session *sym)
{
	if (++b->stacks_since_check < BUDGET_CHECK_STACKS)
		return;
	b->stacks_since_check = 0;
	budget__check(b, sym);
}

uint64_t budget__trims(const struct budget *b)
{
	return b->trims;
}
