/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ship.h — the agent's shipping thread (`ember agent --remote`): it sends
 * the flushes the session queued in the database's outbox to ClickHouse,
 * oldest first, through storage's fleet store (store_clickhouse.h), with
 * its own handle on the file, so a slow or absent ClickHouse never holds
 * up sampling. Failures are retried with a growing pause (up to 10 s) and
 * told once per kind on stderr, their end too; the counters go to
 * /metrics.
 *
 * Thread safety: shipper__wake and shipper__stats may be called from any
 * thread; start and stop from the agent's main thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

struct shipper_stats {
	struct store_ship_backlog backlog; /* queued, not acknowledged */
	uint64_t flushes, samples, bytes;  /* shipped by this process */
	uint64_t found;       /* ... of them found in ClickHouse already (an
	                         earlier attempt's answer was lost) */
	uint64_t errors;      /* attempts that failed */
	uint64_t failing;     /* attempts failed since the last success */
};

struct shipper;

/*
 * Start shipping db_path's outbox to ch (owned by the shipper from now
 * on, also on failure). Returns 0 and *ret, or -ENOMEM / -errno of
 * pthread_create. The thread's first act is checking (or creating) the
 * schema in ClickHouse; its failures are retried like any other.
 */
int shipper__start(const char *db_path, struct store_ch *ch, struct shipper **ret);

/* A flush was committed: ship now rather than at the next poll. */
void shipper__wake(struct shipper *sh);

void shipper__stats(struct shipper *sh, struct shipper_stats *ret);

/*
 * Ship what is queued for at most drain_ms more (stopping at the first
 * failure), then end the thread and free everything. What is left stays
 * in the outbox for the next start. NULL is fine.
 */
void shipper__stop(struct shipper *sh, unsigned drain_ms);
