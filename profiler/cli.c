/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.c — error lines and flag parsing shared by the sub-commands.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/stat.h>
#include <string.h>

#include "storage.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ember: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("ember: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_uint(const char *flag, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!arg || !*arg || *arg == '-' || *arg == '+')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno || *end)
		goto bad;
	if (v < min || v > max) {
		cli_error("%s %s is out of range: use a number from %llu to %llu",
			  flag, arg, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
bad:
	cli_error("%s expects a whole number, not '%s'", flag, arg ? arg : "");
	return -EINVAL;
}

int cli_option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];
	char opt[64];

	/* A long option is named as written (up to any '='); a short one by
	 * its letter, which also works inside a bundle like -aF. optopt is the
	 * long option's internal value for a long one, so it cannot name it. */
	if (!strncmp(arg, "--", 2))
		snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
	else if (optopt)
		snprintf(opt, sizeof(opt), "-%c", optopt);
	else
		snprintf(opt, sizeof(opt), "%s", arg);
	if (c == ':')
		cli_error("option '%s' needs a value", opt);
	else
		cli_error("unknown option '%s'", opt);
	return -EINVAL;
}

void cli_usage_hint(const char *cmd)
{
	if (cmd)
		fprintf(stderr, "Try 'ember %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try 'ember --help'.\n");
}

int cli_parse_double(const char *flag, const char *arg, double lo, double hi,
		     bool lo_open, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(v)) {
		cli_error("%s expects a number, not '%s'", flag, arg);
		return -EINVAL;
	}
	if (v > hi || v < lo || (lo_open && v == lo)) {
		cli_error("%s %s is out of range: use a number %s %g and at most %g",
			  flag, arg, lo_open ? "above" : "from", lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int cli_add_label(const char *arg, char *labels, size_t size)
{
	static const char *const builtin[] = {
		"host", "process", "pid", "thread", "tid", "cgroup",
	};
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : 0, n = strlen(labels);

	if (!eq || klen == 0) {
		cli_error("--label expects KEY=VALUE, like --label env=prod, not '%s'", arg);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		char c = arg[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i > 0 && c >= '0' && c <= '9'))) {
			cli_error("--label %s: the key may hold letters, digits and '_' "
				  "and must not start with a digit", arg);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (strlen(builtin[i]) == klen && !strncmp(arg, builtin[i], klen)) {
			cli_error("--label %s: '%s' is set by ember itself; choose another key",
				  arg, builtin[i]);
			return -EINVAL;
		}
	}
	if (strchr(eq + 1, ',')) {
		cli_error("--label %s: the value must not contain ','", arg);
		return -EINVAL;
	}
	for (const char *p = labels; *p;) {
		if (!strncmp(p, arg, klen) && p[klen] == '=') {
			cli_error("--label %.*s given twice", (int)klen, arg);
			return -EINVAL;
		}
		p = strchr(p, ',');
		p = p ? p + 1 : "";
	}
	if (n + strlen(arg) + 2 > size) {
		cli_error("--label: too many labels");
		return -EINVAL;
	}
	snprintf(labels + n, size - n, "%s%s", n ? "," : "", arg);
	return 0;
}

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
