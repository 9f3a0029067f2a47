/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h — public API of the storage module: the store of profiles,
 * the embedded SQLite file (one per recording or agent), or the fleet
 * store in ClickHouse (read-only here: agents ship to it). The writer (one per file: `ember record`, `ember agent`)
 * adds symbolized stacks with their labels and counts, one transaction per
 * flush, and runs retention (store_db__maintain) every few minutes;
 * readers (`ember report`, the web server and `ember diff`) query
 * merged trees, top-function tables, timelines and label values over a
 * time range with an optional label filter (struct store_query). This is
 * the one query API for all of them.
 *
 * Data flow: profiler/ drains the sampler, symbolizes with symbolizer/, and
 * calls store_db__begin / __add_stack / __commit here. Callers never see SQL
 * or sqlite3.h. A store_db is a handle of one backend (storage/DESIGN.md,
 * store_backend.h: SQLite, and the fleet's ClickHouse store,
 * store_clickhouse.h): every function below on a store_db keeps the contract it
 * documents whatever the backend, and what is computed over trees
 * (store_tree__top, store_tree__merge) and the exports are written once
 * above the backends, so `ember report`, `ember diff` and the web server
 * show the same numbers from any store. A backend that cannot do an
 * operation (retention on a server-side store, writing to a read-only
 * one) answers -ENOSYS.
 *
 * Thread safety: a store_db handle is used by one thread at a time. Several
 * handles (in one or several processes) may open the same file: one writer
 * and any number of readers (WAL mode). Trees and top tables are independent
 * objects once returned and may be used from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The schema version this build writes; older versions are migrated. */
#define STORE_SCHEMA_VERSION 9

/* PRAGMA application_id of every Ember database ("EMBR"), the 32-bit
 * big-endian word at offset 68 of the file: what tells an Ember database
 * from another SQLite file before anything opens it. */
#define STORE_APPLICATION_ID 0x454d4252

enum store_frame_kind {
	STORE_FRAME_USER = 0,
	STORE_FRAME_KERNEL = 1,
	STORE_FRAME_INLINED = 2,
	STORE_FRAME_JIT = 3,
	STORE_FRAME_PROCESS = 4, /* synthetic root frame: the process name */
	STORE_FRAME_PYTHON = 5,  /* a Python function (file is its .py file,
	                            line the line running) */
};

/* One frame of a stack as the writer receives it. Strings are copied. */
struct store_frame {
	const char *name;     /* function name or "module+0xoff"; not NULL */
	const char *module;   /* module path or name; NULL = unknown */
	const char *build_id; /* hex build-id or NULL */
	uint64_t offset;      /* file offset (user) or address (kernel) */
	const char *file;     /* source file or NULL */
	uint32_t line;        /* source line or 0 */
	enum store_frame_kind kind;
	/* The caller's promise that name, module, build_id and file are
	 * interned: a pointer holds the same text until the caller says
	 * otherwise (store_db__forget_interned). The writer then knows the
	 * frame again by its fields as given (pointers, not texts): one
	 * lookup instead of one per string, the function's and the
	 * frame's. */
	bool interned;
};

/* The labels of one sample. Strings are copied; NULL means "none". */
struct store_labels {
	const char *host;
	const char *process; /* group leader's comm */
	uint32_t pid;
	const char *thread;  /* thread's comm */
	uint32_t tid;
	uint64_t cgroup_id;
	const char *extra;   /* free-form "k=v,k=v" labels, or NULL */
};

enum store_open_flags {
	STORE_OPEN_READ = 0,        /* read-only; never modifies the file */
	STORE_OPEN_WRITE = 1 << 0,  /* read-write, create if missing */
	STORE_OPEN_TRUNCATE = 1 << 1, /* with WRITE: start from an empty file */
	/* Without WRITE: a WAL file's -wal and -shm that did not exist
	 * before this open are removed at close when no other connection
	 * has the file open (as SQLite's last writer does), so a one-shot
	 * reader leaves the directory as it found it. Only for a process
	 * whose other handles on the file are all closed by then (the
	 * check uses the file's POSIX locks, which are per process). */
	STORE_OPEN_TIDY = 1 << 2,
};

struct store_db;

/*
 * Open (or with STORE_OPEN_WRITE create) the database at path, a file
 * (the SQLite backend), or read the fleet store at a clickhouse:// or
 * https:// URL (store_db__open_clickhouse with the URL's credentials and
 * no message: -EROFS for a writable open, and the errors listed in
 * store_clickhouse.h). Another URL scheme is -EPROTONOSUPPORT.
 * Returns 0 and *ret_db, or:
 *   -ENOENT   file missing (read-only open), or its directory missing
 *   -EACCES   no permission / read-only file opened for writing
 *   -ENOTSUP  the file is an Ember database of a newer schema
 *   -EPROTO   (read-only open) an Ember database of an older schema, which
 *             only a writable open can migrate
 *   -EINVAL   the file is not an Ember database (or is corrupt); with
 *             STORE_OPEN_TRUNCATE too: another application's file is never
 *             overwritten
 *   -EIO      other SQLite failure (store_db__errmsg() is not available
 *             since there is no handle: use store_strerror()).
 *   -EPROTONOSUPPORT  path is a URL of a backend this build lacks
 *   -EROFS    a writable open of the fleet store
 *   -ENOMEM
 */
int store_db__open(const char *path, unsigned flags, struct store_db **ret_db);

/*
 * A read-only open never modifies the file: no schema creation, no WAL
 * checkpoint. When the file is in WAL mode and its directory is not
 * writable (no -shm can be shared with a writer, so none can exist), the
 * file is read as immutable.
 */

/*
 * Make a finished file one self-contained file: checkpoint the WAL into it
 * and leave WAL mode (journal_mode DELETE), which removes -wal and -shm,
 * so it can be copied, attached or mailed alone, and read-only opens
 * create nothing beside it. A writable open (the next --append, an agent
 * restart) switches it back to WAL. Call after the last flush, before
 * store_db__close. Returns 0, -EBUSY (a flush is open, or another
 * connection has the file open: it stays in WAL mode, whole and
 * consistent), -EROFS (read-only handle), -EIO.
 */
int store_db__seal(struct store_db *db);

/* Close the database. Rolls back an uncommitted flush. NULL is fine. */
void store_db__close(struct store_db *db);

/*
 * Last error text of this handle (SQLite's, or the store's own), for messages (borrowed; valid until
 * the next call on db). Never NULL.
 */
const char *store_db__errmsg(const struct store_db *db);

/*
 * Begin one flush: all stacks added until store_db__commit() belong to the
 * time bucket starting at time_s (Unix seconds) and lasting duration_s.
 * Returns 0, -EBUSY (a flush is already open), -EROFS (read-only handle),
 * -ENOSPC, -EIO.
 */
int store_db__begin(struct store_db *db, int64_t time_s, uint32_t duration_s);

/*
 * Add count samples of one stack. frames[0] is the root (outermost caller),
 * frames[n_frames - 1] the leaf. n_frames may be 0 (a sample with no stack).
 * Adding the same labels and stack twice in one flush adds the counts.
 * Returns 0, -EINVAL (no open flush, NULL name), -ENOSPC, -EIO, -ENOMEM.
 */
int store_db__add_stack(struct store_db *db, const struct store_labels *labels,
			const struct store_frame *frames, size_t n_frames,
			uint64_t count);

/*
 * The strings of the interned frames added so far (store_frame.interned)
 * are going away (the caller's interner is freed, and its addresses may
 * hold other texts next): the writer forgets the frames it knew by them.
 * Call it before freeing them. NULL is fine.
 */
void store_db__forget_interned(struct store_db *db);

/*
 * The writer's memo of interned frames: the bytes it holds, and how many
 * times a generation of it was emptied to stay within its bound
 * (STORE_FRAME_MEMO_MAX frames in all). Zeroes for a backend without one (ClickHouse) or a handle
 * that never wrote.
 */
#define STORE_FRAME_MEMO_MAX (1u << 16)
void store_db__frame_memo_stats(const struct store_db *db, uint64_t *ret_bytes,
				uint64_t *ret_resets);

/*
 * Within an open flush: add count samples that were lost, for reason (a
 * short kebab-case name like "ring-buffer-full"). Only samples that are
 * not in the file belong here: readers show them as dropped.
 * Returns 0 or -errno as above.
 */
int store_db__add_drops(struct store_db *db, const char *reason, uint64_t count);

/*
 * Within an open flush: count an event that happened count times to
 * samples that were kept (a kebab-case name like "dwarf-samples": a slow
 * path taken, a stack cut short). Readers list events apart from drops.
 * Returns 0 or -errno as above.
 */
int store_db__add_events(struct store_db *db, const char *name, uint64_t count);

/*
 * Within an open flush: add symbolization coverage for one binary (module
 * path, build-id or NULL): frames seen, frames given a function name, frames
 * given a file and line (each weighted as the caller counts them).
 * Returns 0 or -errno as above.
 */
int store_db__add_coverage(struct store_db *db, const char *module,
			   const char *build_id, uint64_t seen,
			   uint64_t with_function, uint64_t with_line);

/*
 * Within an open flush: add frames of one binary whose debug information
 * was there but could not be read, for reason (a short kebab-case name
 * like "dwo-missing"). Returns 0 or -errno as above.
 */
int store_db__add_coverage_issue(struct store_db *db, const char *module,
				 const char *build_id, const char *reason,
				 uint64_t frames);

/*
 * Within an open flush: samples of one Python process (its name, pid and
 * interpreter, e.g. "3.11.2" or "3.13 unsupported"): samples seen, those
 * that got Python frames, Python frames written and those named. Returns
 * 0 or -errno as above.
 */
int store_db__add_python_coverage(struct store_db *db, const char *process, uint32_t pid,
				  const char *interpreter, uint64_t samples,
				  uint64_t with_python, uint64_t frames, uint64_t named);

/* Commit the open flush. Returns 0, -EINVAL (none open), -ENOSPC, -EIO. */
int store_db__commit(struct store_db *db);

/* Abandon the open flush (no-op when none is open). */
void store_db__rollback(struct store_db *db);

/*
 * Set a free-form key/value in the file's metadata (the recording's command,
 * frequency, start time, ...). Outside or inside a flush. Returns 0 or -errno.
 */
int store_db__set_meta(struct store_db *db, const char *key, const char *value);

/* store_db__set_meta with a printf-style value (truncated at 4 KB). */
int store_db__set_metaf(struct store_db *db, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Read a metadata value. Returns 0 and *ret_value (caller frees), -ENOENT if
 * the key is absent, or -errno.
 */
int store_db__get_meta(struct store_db *db, const char *key, char **ret_value);

/*
 * Label filters. An expression is a comma-separated list of terms, all of
 * which must hold (AND):
 *
 *   label=value    label!=value    label=~regex    label!~regex
 *
 * Labels: host, process, pid, thread, tid, cgroup (the numeric cgroup id),
 * and any free-form label given to `ember record --label k=v` (stored in
 * store_labels.extra). A label a sample does not have reads as "". Values
 * may be double-quoted ("a,b"; \" and \\ escape inside quotes); spaces
 * around terms are ignored. Regexes are POSIX extended and anchored at both
 * ends, as in Prometheus: process=~"post.*" matches "postgres", not
 * "xpostgres". Back-references are refused; anchors (^ $ \` \') match
 * only at the ends of the text. A filter is used by one thread at a time
 * (its regexes keep their match state).
 */
struct store_filter;

/*
 * Parse expr. Returns 0 and *ret_filter (free with store_filter__free), or
 * -EINVAL and *ret_error (caller frees; a one-line message that names the
 * position and what was expected), -E2BIG and *ret_error for a regex
 * that would take more than 1 MiB compiled, or -ENOMEM. An empty
 * expression (NULL, "" or only spaces) is a filter that matches
 * everything.
 */
int store_filter__parse(const char *expr, struct store_filter **ret_filter,
			char **ret_error);

/* What a filter may cost (for expressions from the network). */
struct store_filter_limits {
	size_t max_regexes;     /* =~ and !~ terms; 0: any number */
	size_t max_regex_bytes; /* their compiled size together; 0: no bound
	                           but each regex's own (1 MiB) */
};

/*
 * store_filter__parse() within limits (NULL: none): an expression over
 * them is refused before what passes them is compiled, with -E2BIG and
 * *ret_error saying which limit and its value.
 */
int store_filter__parse_limited(const char *expr,
				const struct store_filter_limits *limits,
				struct store_filter **ret_filter,
				char **ret_error);

/*
 * The value that f's first term label=value (an equality, not a regex)
 * requires of label, or NULL when no such term: every sample that passes
 * f has it, so a store may read only those (the fleet store reads one
 * host's rows for host="web-1"). Borrowed from f.
 */
const char *store_filter__required(const struct store_filter *f, const char *label);

/* The number of terms in f (0: f matches everything). With
 * store_filter__required: a filter that is only host="web-1" needs no
 * label set matched one by one. */
size_t store_filter__terms(const struct store_filter *f);

/* The number of regexes in f, and in *ret_bytes (if not NULL) the bytes
 * they hold compiled. A filter matches in time proportional to those
 * bytes times the length of the labels. */
size_t store_filter__regexes(const struct store_filter *f, size_t *ret_bytes);
void store_filter__free(struct store_filter *f);

/*
 * Whether the labels of one sample pass f (NULL passes everything). One
 * thread at a time per filter (its regexes keep their match state).
 */
bool store_filter__match(const struct store_filter *f,
			 const struct store_labels *labels);

/*
 * The value of label name (built-in or free-form) in l, as a filter sees
 * it: numbers in decimal, "" when absent. May write to buf (size bytes)
 * and return it; never NULL. Thread-safe.
 */
const char *store_labels__value(const struct store_labels *l,
				const char *name, char *buf, size_t size);

/*
 * Parse a point in time for --from/--to and the web API, relative to now_s:
 *   "now", "now-1h", "-15m", "-1h30m", "-2d" (units s, m, h, d, w),
 *   Unix seconds ("1700000000"),
 *   RFC 3339 ("2024-05-01T12:00:00Z", "...+02:00"), and
 *   "YYYY-MM-DD HH:MM[:SS]" or "YYYY-MM-DD" in local time.
 * Returns 0 and *ret_s (Unix seconds), or -EINVAL and *ret_error (caller
 * frees) for text that is none of these or a time before 1970 or after
 * 9999, or -ENOMEM.
 */
int store_time_parse(const char *text, int64_t now_s, int64_t *ret_s,
		     char **ret_error);

/* A query: a time range and an optional label filter. */
struct store_query {
	int64_t from_s; /* inclusive; INT64_MIN for no bound */
	int64_t to_s;   /* exclusive; INT64_MAX for no bound */
	const struct store_filter *filter; /* borrowed; NULL = all samples */
	/* Tree queries (and what is built on them: top functions, exports):
	 * at most this many nodes, else -E2BIG with store_db__errmsg()
	 * saying so; 0 = no bound. A node holds about 100 bytes. */
	size_t max_tree_nodes;
};

/*
 * Initialize q to "everything". Queries also take q == NULL for that.
 * Queries return -EINVAL (with store_db__errmsg() saying so) when
 * from_s > to_s; from_s == to_s is an empty range.
 */
void store_query_init(struct store_query *q);

/* Totals over a range: samples stored, drops per reason, events. */
struct store_drop {
	const char *reason; /* drop reason or event name; borrowed from the
			       summary */
	uint64_t count;
};

struct store_summary {
	uint64_t samples;        /* samples stored in the range */
	uint64_t processes;      /* distinct pids */
	uint64_t stacks;         /* distinct stacks */
	int64_t first_s, last_s; /* first and last bucket, 0 when empty */
	size_t n_drops;          /* samples lost, by reason (by name) */
	struct store_drop *drops;
	size_t n_events;         /* events of kept samples (by name) */
	struct store_drop *events;
};

/*
 * Summarize the range. Returns 0 and *ret_summary (free with
 * store_summary__free), or -errno.
 */
int store_db__summary(struct store_db *db, const struct store_query *q,
		      struct store_summary **ret_summary);
void store_summary__free(struct store_summary *s);

/*
 * A merged call tree. Node 0 is the synthetic root (name "all", total = all
 * samples in range). Its children are STORE_FRAME_PROCESS nodes, one per
 * process name, and below them the stack frames, root first. Every node's
 * parent index is smaller than its own index.
 */
struct store_tree_node {
	uint32_t parent;        /* index of parent; node 0's parent is 0 */
	const char *name;       /* borrowed from the tree */
	const char *module;     /* borrowed; NULL when unknown */
	const char *file;       /* borrowed; NULL when unknown */
	uint32_t line;
	enum store_frame_kind kind;
	uint64_t self;          /* samples whose leaf is this node */
	uint64_t total;         /* samples in this node's subtree */
};

struct store_tree;

/* Query the merged tree for q. Returns 0 and *ret_tree, -E2BIG when it
 * would have more than q->max_tree_nodes nodes, or -errno. The
 * tree is the caller's (store_tree__free), its texts included: it may
 * outlive db. A handle keeps the work arrays of its last tree query for
 * the next, when they take 8 MiB or less. */
int store_db__query_tree(struct store_db *db, const struct store_query *q,
			 struct store_tree **ret_tree);
size_t store_tree__size(const struct store_tree *t);
const struct store_tree_node *store_tree__node(const struct store_tree *t,
					       size_t i);
void store_tree__free(struct store_tree *t);

/*
 * The function table of a tree, the one every view shows (`ember report`'s
 * top table, `ember diff`'s comparison, the web API's /top): a function
 * is (name, module, kind); process nodes and the root are not functions.
 *  - total: samples whose stack holds the function at least once
 *    (recursion counted once).
 *  - self: samples whose leaf is the function, and, for a leaf inlined
 *    into a function, that function too: inlined code is the machine code
 *    of the function it sits in (the first frame above the leaf that is
 *    not inlined), so a function slower in code the compiler inlined into
 *    it is named by its self; none when no real function is above it. So
 *    selfs may add up to more than the samples; totals always could.
 * Sorted by self, then total, descending, then name, module and kind.
 * Pure: any store's tree; of a merged tree, its head's functions.
 */
struct store_top_entry {
	const char *name;   /* borrowed from the tree */
	const char *module; /* borrowed from the tree */
	enum store_frame_kind kind;
	uint64_t self;
	uint64_t total;
};

/*
 * Compute the function table of t. Returns 0 and *ret_entries (caller
 * frees the array, not the strings; valid while t lives) with *ret_n
 * entries, or -EINVAL (t NULL), -ENOMEM.
 */
int store_tree__top(const struct store_tree *t,
		    struct store_top_entry **ret_entries, size_t *ret_n);

/*
 * Merge two trees by path for a comparison (the web API's /diff, `ember
 * diff --html`): a node of either tree maps to the merged node with the
 * same parent and the same frame (name, module, file, line, kind); both
 * roots are node 0. Node self and total are head's (0 for a path only
 * base has), store_tree__base gives base's. Nodes come in head's order,
 * then the paths only base has; parents precede children. The merged
 * tree owns its texts (interned anew: equal texts are equal pointers) and
 * is independent of both trees afterwards. Either tree may be from any
 * store. Returns 0 and *ret_tree (store_tree__free), or -EINVAL (a tree
 * NULL), -ENOMEM.
 */
int store_tree__merge(const struct store_tree *base,
		      const struct store_tree *head,
		      struct store_tree **ret_tree);

/* Base's counts of a node of a merged tree. */
struct store_base_counts {
	uint64_t self;
	uint64_t total;
};

/* Base's counts of node i of t: NULL when t is not a merged tree or i is
 * out of range. */
const struct store_base_counts *store_tree__base(const struct store_tree *t,
						 size_t i);

/* ---- exports and import ---- */

/* The suffix folded text gives a frame of kind k: "_[k]" kernel, "_[i]"
 * inlined, "_[j]" JIT, "_[py]" Python, "" otherwise. A static string.
 * Thread-safe. */
const char *store_kind_suffix(enum store_frame_kind k);

enum store_export_format {
	/* One line per stack with a self count: "process;root;...;leaf N",
	 * sorted; kernel frames end in "_[k]", inlined "_[i]", JIT "_[j]". */
	STORE_EXPORT_FOLDED,
	/* The same, each frame as "function (file:line)" where the line is
	 * known; stacks that print alike are merged. */
	STORE_EXPORT_FOLDED_LINES,
	/* pprof's profile.proto, gzipped: sample types samples/count and
	 * (when the file knows its frequency) cpu/nanoseconds, the process
	 * name as the string label "process". */
	STORE_EXPORT_PPROF,
	/* speedscope's JSON file format: one "sampled" profile per process,
	 * weights in samples (unit "none"). */
	STORE_EXPORT_SPEEDSCOPE,
};

/*
 * Write the merged tree of q in format fmt to out (not closed; errors of
 * out are reported). Whatever filters q holds apply, since every format is
 * written from the tree. db is also read for what the tree does not hold:
 * the recording frequency (meta "frequency_hz"), the time span of the
 * flushes in the range, build-ids and file offsets of frames.
 * Returns 0, -EINVAL (bad argument or format), -EIO (writing out failed;
 * errno-style detail is in errno), -ENOMEM, or a query's -errno.
 */
int store_db__export(struct store_db *db, const struct store_query *q,
		     enum store_export_format fmt, FILE *out);

/* The same for a tree already queried from db with q (as `ember report`
 * does to warn about an empty range first). */
int store_db__export_tree(struct store_db *db, const struct store_query *q,
			  const struct store_tree *t,
			  enum store_export_format fmt, FILE *out);

/* Which of a pprof profile's sample values to import (pprof's
 * -sample_index). */
struct store_pprof_options {
	const char *sample_type; /* by type name ("alloc_space"; as pprof, an
				    "inuse_" prefix may be left out); or NULL */
	int64_t sample_index;    /* by index (0-based) when >= 0 */
	/* neither: the profile's default_sample_type, else its last type,
	 * as pprof chooses */
};

/* The sample type an import took, and all the profile has. */
struct store_pprof_choice {
	size_t index, n_types;
	char type[64], unit[64];  /* "cpu", "nanoseconds" (cut at 63 bytes) */
	bool per_period;          /* nanoseconds divided by the cpu period:
				     the counts are samples */
	char types[512];          /* "samples/count, cpu/nanoseconds" */
};

/*
 * Import a pprof profile (profile.proto, gzipped or not; data/size are the
 * file's bytes) into db as one flush at the profile's time_nanos (the
 * current time when it has none), lasting its duration_nanos (at least 1 s;
 * the exact start and duration are kept in meta profile_time_ns and
 * profile_duration_ns for the export).
 * The counts are the sample value opts picks (NULL: as pprof does, the
 * default_sample_type, else the last type): a nanoseconds value with a
 * cpu/nanoseconds period is divided by the period (counts are samples),
 * any other is taken as it is (bytes, object counts, delay); meta
 * sample_type says which ("type/unit") and count_unit what a count is
 * ("samples", "bytes", ...). Locations become frames
 * root first (inlined lines as STORE_FRAME_INLINED, frames of a
 * "[kernel...]" mapping as STORE_FRAME_KERNEL); the sample labels
 * "process", "thread" (strings), "pid", "tid" (numbers) become labels, the
 * process defaulting to the main mapping's file name. Sets meta
 * "frequency_hz" from a cpu period. db must be writable with no flush open;
 * nothing is written unless the whole profile is valid.
 * Returns 0 and, when not NULL, the counts imported (their sum) and the
 * sample type taken; -EBADMSG for input that is not a valid profile (not
 * gzip or protobuf, truncated, references that point nowhere, absurd
 * sizes, a legacy pre-protobuf profile: the reason is in
 * store_db__errmsg()), -ENOENT when opts names a sample type or index the
 * profile does not have (the message lists its types), -E2BIG for a
 * profile over the size limits, -EBUSY, -EROFS, -ENOSPC, -EIO, -ENOMEM.
 */
int store_db__import_pprof(struct store_db *db, const void *data, size_t size,
			   const struct store_pprof_options *opts,
			   uint64_t *ret_samples, struct store_pprof_choice *ret_choice);
/* Symbolization coverage of one binary over a range (the caller owns the
 * strings through store_coverage__free). */
struct store_coverage_issue {
	char *reason;
	uint64_t frames;
};

struct store_coverage {
	char *module;
	char *build_id;  /* NULL when the binary has none */
	uint64_t seen;
	uint64_t with_function;
	uint64_t with_line;
	/* frames whose debug information could not be read, per reason,
	 * most first */
	struct store_coverage_issue *issues;
	size_t n_issues;
};

/*
 * Coverage per binary over q (NULL: everything), most frames first. A file
 * written before coverage was recorded gives 0 entries. Returns 0 and
 * *ret_entries / *ret_n (free with store_coverage__free), or -errno.
 */
int store_db__query_coverage(struct store_db *db, const struct store_query *q,
			     struct store_coverage **ret_entries, size_t *ret_n);
void store_coverage__free(struct store_coverage *c, size_t n);

/* Python coverage of one process over a range (strings owned through
 * store_python_coverage__free). */
struct store_python_coverage {
	char *process;
	uint32_t pid;
	char *interpreter;
	uint64_t samples, with_python, frames, named;
};

/*
 * Python coverage per process over q (NULL: everything), most samples
 * first; 0 entries for a file without any. Returns 0 and *ret_entries /
 * *ret_n (free with store_python_coverage__free), or -errno.
 */
int store_db__query_python_coverage(struct store_db *db, const struct store_query *q,
				    struct store_python_coverage **ret_entries, size_t *ret_n);
void store_python_coverage__free(struct store_python_coverage *c, size_t n);

/*
 * Timeline: samples per step over q's range, optionally one series per
 * value of a label. Step k covers [from_s + k * step_s, from_s + (k + 1) *
 * step_s); a bucket counts in the step where it starts (a downsampled
 * bucket longer than the step lands in one step).
 */
struct store_timeline_series {
	const char *value; /* label value (borrowed); NULL when not split */
	uint64_t total;    /* sum of counts */
	uint64_t *counts;  /* n_steps entries */
};

struct store_timeline {
	int64_t from_s;     /* start of step 0 */
	int64_t step_s;
	size_t n_steps;
	size_t n_series;    /* 1 when not split; 0 when the range is empty */
	struct store_timeline_series *series; /* by total, descending */
};

/* At most this many steps per timeline. */
#define STORE_TIMELINE_MAX_STEPS 100000

/*
 * Query the timeline of q. An unbounded end of q's range is taken from the
 * data. step_s 0 picks a step that gives at most 500 steps (a multiple of
 * the 10 s flush, minute, hour or day). split_label NULL: one series;
 * else one series per value of that label (any label a filter takes).
 * Returns 0 and *ret_timeline (free with store_timeline__free), -EINVAL
 * (inverted range, negative step, more than STORE_TIMELINE_MAX_STEPS
 * steps; store_db__errmsg() says which), -ENOMEM or -errno.
 */
int store_db__query_timeline(struct store_db *db, const struct store_query *q,
			     int64_t step_s, const char *split_label,
			     struct store_timeline **ret_timeline);
void store_timeline__free(struct store_timeline *t);

/* One value of a label and the samples that carry it. */
struct store_label_value {
	char *value;
	uint64_t samples;
};

/*
 * The label sets of q's range (with q's filter) and their samples, read in
 * one pass over the range; label names and values are then answered from
 * it in memory (the web UI asks for every label's values at once). Returns
 * 0 and *ret_sets (free with store_label_sets__free), or -errno.
 */
struct store_label_sets;
int store_db__label_sets(struct store_db *db, const struct store_query *q,
			 struct store_label_sets **ret_sets);
void store_label_sets__free(struct store_label_sets *sets);
/* As store_db__label_names and store_db__label_values, from sets. */
int store_label_sets__names(const struct store_label_sets *sets,
			    char ***ret_names, size_t *ret_n);
int store_label_sets__values(const struct store_label_sets *sets,
			     const char *name,
			     struct store_label_value **ret_values,
			     size_t *ret_n);

/*
 * Names of the labels present in q's range (with q's filter): the
 * built-in host, process, pid, thread, tid, cgroup, then free-form labels
 * sorted by name. Returns 0 and *ret_names (NULL-terminated; free with
 * store_strv_free) and *ret_n, or -errno. An empty range gives no names.
 */
int store_db__label_names(struct store_db *db, const struct store_query *q,
			  char ***ret_names, size_t *ret_n);
void store_strv_free(char **strv);

/*
 * Values of label name in q's range with their sample counts, by count
 * descending then value. Samples without the label count under "".
 * Returns 0 and *ret_values (free with store_label_values_free(v, n)) and
 * *ret_n, or -errno.
 */
int store_db__label_values(struct store_db *db, const struct store_query *q,
			   const char *name, struct store_label_value **ret_values,
			   size_t *ret_n);
void store_label_values_free(struct store_label_value *v, size_t n);

/*
 * Retention and downsampling, run by the writer (store_db__maintain).
 * Buckets that start more than tiers[i].after_s before now are merged into
 * buckets of tiers[i].step_s seconds (counts summed per label set and
 * stack: totals stay exact); buckets that start more than max_age_s before
 * now are removed; while the data takes more than max_bytes, the oldest
 * tenth of the time span is removed. Then label sets, stack nodes, frames,
 * functions and strings that nothing refers to any more are collected and
 * the free pages are given back to the file system.
 */
#define STORE_POLICY_TIERS 4

struct store_policy {
	struct {
		int64_t after_s; /* 0 = tier unused */
		int64_t step_s;  /* the coarser bucket, a multiple of 10 s */
	} tiers[STORE_POLICY_TIERS];
	int64_t max_age_s;   /* 0 = keep forever */
	uint64_t max_bytes;  /* 0 = no size limit */
};

/* The written defaults: 10 s buckets become 1 min buckets after 1 day and
 * 1 h buckets after 7 days; data older than 30 days goes; at most 1 GiB. */
#define STORE_POLICY_DOWNSAMPLE_1 86400
#define STORE_POLICY_STEP_1 60
#define STORE_POLICY_DOWNSAMPLE_2 (7 * 86400)
#define STORE_POLICY_STEP_2 3600
#define STORE_POLICY_MAX_AGE (30 * 86400)
#define STORE_POLICY_MAX_BYTES (1ULL << 30)

/* Fill p with the defaults above. */
void store_policy_init(struct store_policy *p);

struct store_maintain_stats {
	uint64_t rows_merged;     /* sample rows folded into coarser buckets */
	uint64_t rows_removed;    /* sample rows removed by age or size */
	uint64_t samples_removed; /* their counts */
	uint64_t rows_collected;  /* unreferenced rows of the other tables */
	uint64_t bytes_before;    /* database file size before and after */
	uint64_t bytes_after;
};

/*
 * Apply policy p (NULL: the defaults) as of now_s. Writable handles only,
 * outside a flush. Each run is one transaction, so a crash leaves the
 * file as before or as after; the space is given back afterwards with
 * incremental vacuum. Cost grows with the data it touches: call it every
 * few minutes, not every flush. Returns 0 and fills *ret_stats (may be
 * NULL), -EROFS, -EBUSY (a flush is open), -EINVAL (a bad policy: a step
 * not positive, tiers not in increasing order), -ENOSPC, -EIO.
 */
int store_db__maintain(struct store_db *db, int64_t now_s,
		       const struct store_policy *p,
		       struct store_maintain_stats *ret_stats);

/*
 * Run SQLite's integrity check over the whole file (slow on large files: the
 * storage tests run it after a simulated crash, a migration or retention). Returns 0 when the file is
 * intact, 1 when problems were found, or -errno when the check could not
 * run; on 0 and 1 *ret_msg (caller frees) holds the report ("ok" when
 * intact, else one problem per line).
 */
int store_db__check(struct store_db *db, char **ret_msg);

/*
 * The data's time span within q (NULL: everything): the start of the first
 * bucket and the end of the last one (both 0 when there is none), and the
 * flush interval the latest buckets were written with (ret_step may be
 * NULL). Cheap: reads the bucket index, not the samples. Returns 0, -EINVAL
 * (inverted range) or -errno.
 */
int store_db__span(struct store_db *db, const struct store_query *q,
		   int64_t *ret_first, int64_t *ret_end, uint32_t *ret_step);

/*
 * Dropped samples (all reasons) per step: adds to counts[k] the drops of
 * the flushes starting in [from_s + k * step_s, from_s + (k + 1) * step_s)
 * for k < n_steps (drops carry no labels, so no filter applies).
 * Returns 0, -EINVAL or -errno.
 */
int store_db__drops_timeline(struct store_db *db, int64_t from_s, int64_t step_s,
			     size_t n_steps, uint64_t *counts);

/*
 * Give the queries of db a deadline (CLOCK_MONOTONIC nanoseconds, as
 * common_now_ns(); 0 removes it): a query still running then stops and
 * returns -ETIMEDOUT. For servers that must answer within a bound.
 */
void store_db__set_deadline(struct store_db *db, uint64_t deadline_ns);

/*
 * Let the queries of db end early: cancelled(ctx) is asked while a query
 * waits for its server, and true ends the query with -ECANCELED, its
 * work on the server stopped too (the fleet store's backend asks several
 * times a second and kills the ClickHouse query; the file's backend never
 * asks). ctx is the caller's and must outlive the queries; NULL removes
 * it. For servers whose client may go away (web/: a closed connection).
 */
void store_db__set_cancel(struct store_db *db, bool (*cancelled)(void *ctx), void *ctx);

/* What the in-memory caches of a handle hold, in bytes (the agent's
 * /metrics; storage/DESIGN.md lists them). */
struct store_memory {
	uint64_t writer;  /* the writer's id caches (strings, functions,
	                     frames, label sets, coverage modules), the
	                     stack trie's index, the open flush's sums */
	uint64_t reader;  /* the read cache (stack nodes, frames, label sets
	                     by id, their interned texts: table and arena),
	                     the tree queries' kept scratch; the fleet
	                     store's definitions cache */
};

/* db's caches into *ret (zeros for NULL). Call it on the thread that
 * uses db, as any other call on it. */
void store_db__memory(struct store_db *db, struct store_memory *ret);

/* The memory SQLite holds for the whole process: every handle's page
 * cache, schema and statements (sqlite3_memory_used()). Thread-safe. */
uint64_t store_sqlite_memory(void);

/* Text for a negative errno returned by this module, e.g. for -ENOTSUP
 * "database was written by a newer Ember". Never NULL. */
const char *store_strerror(int err);

/* The fleet store: shipping to ClickHouse. */
#include "store_clickhouse.h"
