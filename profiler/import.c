/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.c — `ember import FILE -o DB`: turns a pprof profile made
 * elsewhere (gzipped or not) into an Ember database, which `ember report`,
 * `ember diff` and the web UI show and compare as any recording. The
 * storage module decodes and validates the profile and writes it as one
 * flush; this file reads the input, and builds the database under a
 * temporary name in the same directory that replaces DB only once it is
 * complete, so a bad input or a crash never leaves a half-written DB
 * behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "ember_config.h"
#include "query.h"
#include "storage.h"

struct import_args {
	const char *input;
	const char *output;
	struct cli_file_opts files; /* --group, --force */
	struct store_pprof_options pick;
};

static void import_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember import FILE -o DB [--sample-type NAME | --sample-index N]\n"
		"\n"
		"Import a pprof profile (profile.proto, gzipped or not, as written by\n"
		"Go's pprof, 'ember report --format pprof' and most profilers) into the\n"
		"Ember database DB, which is created or replaced. The counts are one of\n"
		"the profile's sample types, chosen as pprof does: the profile's default\n"
		"type, else its last (CPU time in a CPU profile, divided by the period\n"
		"into samples; in-use bytes in a heap profile; delay in a contention\n"
		"profile). The labels process, thread, pid and tid are kept.\n"
		"\n"
		"Options:\n"
		"  -o, --output DB       the database to write (required)\n"
		"  -t, --sample-type NAME  import this sample type (pprof's -sample_index\n"
		"                        NAME: alloc_space, inuse_objects, contentions...)\n"
		"  -i, --sample-index N  import the N-th sample type (0-based)\n"
		FILE_OPTIONS_HELP
		"  -h, --help            show this help\n");
}

static int parse_args(int argc, char **argv, struct import_args *a)
{
	const struct cli_flag flags[] = {
		CLI_OUTPUT(&a->output),
		CLI_PPROF_PICK(&a->pick),
		CLI_FILE_FLAGS(&a->files),
	};
	int first;

	a->pick.sample_index = -1;
	first = cli_flags__parse(argc, argv, flags, ARRAY_SIZE(flags), 0, import_usage);
	if (first < 0)
		return -EINVAL;
	a->input = cli_one_operand(argc, argv, first, "which profile? give a pprof FILE to import");
	if (!a->input)
		return -EINVAL;
	if (!a->output) {
		cli_error("where to? give the database to write with -o DB");
		return -EINVAL;
	}
	return 0;
}

/* What was imported, and from which of the profile's sample types. */
static void import_say(const struct import_args *a, uint64_t n,
		       const struct store_pprof_choice *c)
{
	fprintf(stderr, "ember: imported %llu %s from %s into %s: sample type %s/%s",
		(unsigned long long)n, c->per_period || !strcmp(c->unit, "count") ?
		"samples" : c->unit, a->input, a->output, c->type, c->unit);
	if (c->per_period)
		fputs(" divided by the period", stderr);
	if (c->n_types > 1)
		fprintf(stderr, " (#%zu of %s; --sample-type picks another)", c->index,
			c->types);
	fputc('\n', stderr);
}

int cmd_import(int argc, char **argv)
{
	struct import_args a = { 0 };
	struct store_db *db = NULL;
	struct store_pprof_choice choice;
	char *tmp = NULL, *prefix = NULL;
	uint64_t samples = 0;
	void *data = NULL;
	size_t size = 0;
	int fd, err, ret = EXIT_RUNTIME;

	if (parse_args(argc, argv, &a)) {
		cli_usage_hint("import");
		return EXIT_USAGE;
	}
	if (cli_read_file(a.input, QUERY_MAX_PPROF, &data, &size) < 0 ||
	    cli_file_check(a.output, CLI_FILE_DATABASE, &a.files) < 0)
		goto out;
	if (asprintf(&prefix, "%s.import", a.output) < 0) {
		cli_error("out of memory");
		goto out;
	}
	fd = cli_temp_file(prefix, &tmp);
	free(prefix);
	if (fd < 0) {
		cli_error("cannot write %s: %s", a.output, strerror(-fd));
		goto out;
	}
	/* mkstemp made it 0600; the group, when asked, now: the rename
	 * keeps it. */
	if (a.files.shared && (fchown(fd, (uid_t)-1, a.files.gid) < 0 ||
			       fchmod(fd, cli_file_mode(&a.files)) < 0)) {
		cli_error("cannot give %s to group %u: %s", tmp, (unsigned)a.files.gid,
			  strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	err = store_db__open(tmp, STORE_OPEN_WRITE | STORE_OPEN_TRUNCATE, &db);
	if (err) {
		cli_error("cannot create %s: %s", tmp, store_strerror(err));
		goto out;
	}
	err = store_db__import_pprof(db, data, size, &a.pick, &samples, &choice);
	if (err == -ENOENT) {
		cli_error("cannot import %s: %s; pick one with --sample-type NAME or "
			  "--sample-index N", a.input, store_db__errmsg(db));
		ret = EXIT_USAGE;
		goto out;
	} else if (err == -EBADMSG || err == -E2BIG) {
		cli_error("cannot import %s: %s", a.input, store_db__errmsg(db));
		goto out;
	} else if (err) {
		cli_error("cannot import %s into %s: %s", a.input, a.output, store_strerror(err));
		goto out;
	}
	if ((err = store_db__set_meta(db, "ember_version", EMBER_VERSION)) < 0 ||
	    (err = store_db__set_meta(db, "imported_from", a.input)) < 0 ||
	    (err = store_db__set_meta(db, "target", "import")) < 0 ||
	    (err = store_db__set_meta(db, "status", "complete")) < 0) {
		cli_error("cannot write %s: %s", a.output, store_strerror(err));
		goto out;
	}
	/* Nobody else has the new file open: it becomes one file. */
	err = store_db__seal(db);
	if (err) {
		cli_error("cannot write %s: %s", a.output, store_db__errmsg(db));
		goto out;
	}
	store_db__close(db);
	db = NULL;
	/* Checked again right before: the rename replaces whatever is at
	 * the path (a link itself, never its target). The old file's WAL
	 * must not be replayed into the new one. */
	if (cli_file_check(a.output, CLI_FILE_DATABASE, &a.files) < 0)
		goto out;
	cli_remove_db(a.output);
	if (rename(tmp, a.output) < 0) {
		cli_error("cannot write %s: %s", a.output, strerror(errno));
		goto out;
	}
	import_say(&a, samples, &choice);
	ret = 0;
out:
	store_db__close(db);
	if (tmp && ret != 0)
		cli_remove_db(tmp);
	free(tmp);
	free(data);
	return ret;
}
