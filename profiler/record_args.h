/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_args.h — `ember record`'s options as parsed (record_args.c), read
 * by the recording (record.c) and its summary (record_summary.c). Private
 * to profiler/.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "sampler.h"

#define RECORD_DEFAULT_FREQ 99
#define RECORD_DEFAULT_OUTPUT "ember.db"
#define RECORD_MAX_PIDS 1024

struct record_args {
	unsigned freq;
	const char *output;
	pid_t pids[RECORD_MAX_PIDS];
	size_t n_pids;
	bool all;
	bool idle;
	uint64_t duration_s;
	unsigned flush_s;
	unsigned stack_entries;
	unsigned counts_entries;
	unsigned repeat;
	double threshold_pp;
	enum sampler_unwind unwind;
	unsigned snapshot_bytes;
	bool bpf_path_stats;
	bool no_demangle;
	bool no_python;
	uint64_t symbolizer_mb;  /* 0: the symbolizer's default bound */
	const char *cache_dir;   /* NULL: the session's default */
	char **command;
	char labels[4096]; /* "k=v,k=v" from --label, "" when none */
	char run_labels[4200]; /* --repeat: labels and this run's run=N */
	bool append;
	struct cli_file_opts files; /* --group, --force */
};

/*
 * Parse record's command line into *a (zeroed by the caller). Returns 0 or
 * -EINVAL after one message that names the bad flag; --help prints the
 * usage on stdout and exits 0.
 */
int record_args__parse(int argc, char **argv, struct record_args *a);
