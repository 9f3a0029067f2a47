/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_files.c — storage_bench's clock and file helpers, used by both
 * days (storage_bench.c and storage_churn.c; storage_bench.h).
 */
#include <stdio.h>
#include <sys/stat.h>

#include "common.h"
#include "storage_bench.h"

double now_ms(void)
{
	return common_now_ns() / 1e6;
}

/* Copy a closed database file (no -wal left): for a later look (-k), or
 * a recording to replay (storage_churn.c). */
int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[1 << 16];
	size_t n;
	int r = in && out ? 0 : -1;

	while (r == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			r = -1;
	if (in && ferror(in))
		r = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		r = -1;
	return r;
}

long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}
