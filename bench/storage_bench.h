/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_bench.h — what the two files of storage_bench share: the flush
 * period of both days, the clock and file helpers (storage_files.c)
 * and the churn day (storage_churn.c).
 */
#ifndef EMBER_BENCH_STORAGE_BENCH_H
#define EMBER_BENCH_STORAGE_BENCH_H

#define FLUSH_S 10 /* seconds a flush covers, in both days */

/* Monotonic wall time, ms. */
double now_ms(void);

/* Copy a closed database file (no -wal left) from from to to: 0, or -1
 * when either cannot be opened, read or written. */
int copy_file(const char *from, const char *to);

/* The size of the file at path in bytes, or -1 when it cannot be read. */
long file_size(const char *path);

/*
 * The churn day: the agent's recording at rec_path replayed through the
 * writer into path (truncated first) until hours are filled; prints its
 * figures. Returns the process's exit status: 0, or 1 after a message on
 * stderr.
 */
int churn_day(const char *rec_path, const char *path, double hours);

#endif
