/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.c — the small file helpers every sub-command shares: removing a
 * database and its companions, sealing a finished one, reading a whole
 * input file, temporary files. (Error lines and flags: cli_flags.c.)
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/stat.h>
#include <string.h>

#include "storage.h"

void cli_remove_companions(const char *path)
{
	static const char *const sides[] = { "-wal", "-shm", "-journal" };
	char buf[4096];

	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, sides[i]);
		unlink(buf);
	}
}

void cli_remove_db(const char *path)
{
	unlink(path);
	cli_remove_companions(path);
}

int cli_seal_db(struct store_db *db, const char *path)
{
	int err = store_db__seal(db);

	if (err == -EBUSY)
		cli_warn("%s is open in another program, so it stays in WAL mode: "
			 "keep %s-wal with it when you copy it", path, path);
	else if (err)
		cli_warn("%s stays in WAL mode (%s): keep %s-wal with it when you copy it",
			 path, store_db__errmsg(db), path);
	return err;
}

int cli_read_file(const char *path, size_t max, void **ret_data, size_t *ret_size)
{
	struct stat st;
	FILE *f = fopen(path, "rbe");
	void *data = NULL;
	size_t got;
	int err;

	if (!f) {
		err = -errno;
		cli_error("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		cli_error("cannot read %s: not a regular file", path);
		fclose(f);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		cli_error("cannot read %s: it is larger than %zu MiB", path, max >> 20);
		fclose(f);
		return -E2BIG;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data) {
		cli_error("cannot read %s: out of memory", path);
		fclose(f);
		return -ENOMEM;
	}
	got = fread(data, 1, (size_t)st.st_size, f);
	if (ferror(f) || got != (size_t)st.st_size) {
		cli_error("cannot read %s: %s", path,
			  ferror(f) ? strerror(errno) : "file changed while reading");
		free(data);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret_data = data;
	*ret_size = got;
	return 0;
}

const char *cli_tmp_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d && *d ? d : "/tmp";
}

int cli_temp_file(const char *prefix, char **ret_path)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s-XXXXXX", prefix) < 0)
		return -ENOMEM;
	fd = mkstemp(path);
	if (fd < 0) {
		fd = -errno;
		free(path);
		return fd;
	}
	*ret_path = path;
	return fd;
}
