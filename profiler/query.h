/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.h — what report and diff read: a profile opened without writing
 * to it (an Ember database, or a pprof file imported into a temporary
 * one), and a storage query built from the --from/--to/--filter flags.
 */
#pragma once

#include "storage.h"

/* The largest pprof file read (by import, report and diff), bytes;
 * larger ones are refused before reading (the decoder has its own limits
 * on the uncompressed size). */
#define QUERY_MAX_PPROF (256u << 20)

/*
 * Fill q from the flag texts (each may be NULL): from and to (any form
 * store_time_parse accepts), filter (store_filter__parse syntax). prefix
 * names the flags in messages ("" for --from, "base-" for --base-from).
 * *ret_filter receives the parsed filter (the caller frees it; q borrows
 * it). Reads no store. Prints the error and returns -EINVAL (does not
 * parse, range inverted) or -ENOMEM.
 */
int query_from_flags(const char *from, const char *to, const char *filter,
		     const char *prefix, struct store_query *q, struct store_filter **ret_filter);

/*
 * After a query of q found no samples in db (path names it): a range that
 * misses the recording entirely is a mistake worth naming (a wrong day, a
 * time zone), not an empty profile. Asked only then, since the whole
 * span of a fleet store reads every host's samples. Prints it and returns
 * -ERANGE, or 0 (the range overlaps the recording, or q has none), or
 * another -errno with its message printed.
 */
int query_check_range(const char *path, struct store_db *db, const struct store_query *q);

/*
 * Open a database to read it, without ever writing to it. A file of an
 * older schema (which only a writer can migrate) is copied to a temporary
 * file that is migrated and read instead; *ret_tmp then names it (unlink
 * and free it after closing), else it is NULL. Returns 0 or the -errno of
 * store_db__open (no message printed).
 */
int query_open_db(const char *path, struct store_db **ret_db, char **ret_tmp);

/*
 * Open a profile to read it: an Ember database (as query_open_db), or a
 * pprof file (gzipped or not, the sample value opts picks; NULL: as
 * pprof), which is imported into a temporary database first so both go
 * through the same queries. what names the profile in messages ("base",
 * "head", or "" ). *ret_tmp names a temporary database to remove after
 * closing (cli_remove_db, free) or is NULL; *ret_pprof, when not NULL, is
 * set to whether the file was pprof and ret_choice (may be NULL) to the
 * sample type taken. Prints what went wrong and returns -errno.
 */
int query_open_profile(const char *what, const char *path,
		       const struct store_pprof_options *opts, struct store_db **ret_db,
		       char **ret_tmp, bool *ret_pprof, struct store_pprof_choice *ret_choice);
