/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_summary.h — the summary `ember record` prints at the end
 * (record_summary.c). Private to profiler/.
 */
#pragma once

#include "record_args.h"
#include "session.h"

/* The summary on stderr: what was recorded, dropped, symbolized, unwound,
 * refused; seconds is the recording's wall time. */
void record_summary__print(const struct record_args *a, const struct session_totals *t,
			   double seconds);
