/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-profiler-flags.c — profiler/cli_flags.c alone: a table of every
 * kind of flag parsed from argv (short and long names, --name=value, a
 * later value winning, options after operands or not), each bad value
 * refused with its one message naming the flag (stderr captured), the
 * shared --label and --sample-type/--sample-index, cli_one_operand, and
 * --help exiting 0 with the usage on stdout (in a child).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_flags.h"
#include "storage.h"
#include "unit-check.h"

enum color { RED, GREEN, BLUE };

struct opts {
	bool verbose;
	const char *name, *path;
	unsigned count;
	uint64_t big;
	double ratio;
	enum color color;
	char labels[64];
	struct store_pprof_options pick;
	int calls;
};

static int count_call(const char *value, const struct cli_flag *f)
{
	struct opts *o = f->to;

	if (!strcmp(value, "bad")) {
		cli_error("--call: bad");
		return -EINVAL;
	}
	o->calls++;
	return 0;
}

static void usage(FILE *out)
{
	fputs("Usage: test [OPTIONS]\n", out);
}

static char err_text[1024];

/* Parse argv (NULL-ended) with a fresh table over *o; stderr's text goes
 * to err_text. Returns cli_flags__parse's result. */
static int parse(struct opts *o, unsigned opts, char **argv)
{
	const struct cli_flag flags[] = {
		CLI_SET("verbose", 'v', &o->verbose),
		CLI_TEXT("name", 0, &o->name),
		CLI_NAME("path", 'p', &o->path, "a file name"),
		CLI_U32("count", 'c', &o->count, 1, 10),
		CLI_U64("big", 0, &o->big, 0, UINT64_MAX),
		CLI_DOUBLE("ratio", 'r', &o->ratio, 0, 1, true),
		CLI_CHOICE("color", 0, &o->color, "color", "red", "green", "blue"),
		CLI_LABEL(o->labels),
		CLI_PPROF_PICK(&o->pick),
		CLI_CALL("call", 0, count_call, o),
	};
	int argc = 0, saved = dup(STDERR_FILENO), ret;
	FILE *f = tmpfile();
	size_t n;

	CHECK(f && saved >= 0);
	while (argv[argc])
		argc++;
	memset(o, 0, sizeof(*o));
	o->pick.sample_index = -1;
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	ret = cli_flags__parse(argc, argv, flags, sizeof(flags) / sizeof(flags[0]), opts, usage);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(err_text, 1, sizeof(err_text) - 1, f);
	err_text[n] = '\0';
	fclose(f);
	return ret;
}

#define ARGV(...) ((char *[]){ "test", __VA_ARGS__, NULL })

/* A bad command line: -EINVAL and exactly the line want on stderr. */
static void refused(char **argv, const char *want)
{
	struct opts o;
	char line[512];

	CHECK(parse(&o, 0, argv) == -EINVAL);
	snprintf(line, sizeof(line), "ember: %s\n", want);
	if (strcmp(err_text, line)) {
		fprintf(stderr, "want %sgot  %s", line, err_text);
		CHECK(!"the message");
	}
}

int main(void)
{
	struct opts o;

	/* Every kind, long and short names, --name=value. */
	CHECK(parse(&o, 0, ARGV("-v", "--name", "n", "-p", "f", "--count=3", "--big",
				"18446744073709551615", "-r", "0.5", "--color", "blue",
				"-l", "a=1", "--label", "b=2", "--sample-type", "cpu",
				"--call", "x", "--call", "y")) == 23);
	CHECK(!*err_text);
	CHECK(o.verbose && !strcmp(o.name, "n") && !strcmp(o.path, "f") && o.count == 3);
	CHECK(o.big == UINT64_MAX && o.ratio == 0.5 && o.color == BLUE);
	CHECK(!strcmp(o.labels, "a=1,b=2"));
	CHECK(!strcmp(o.pick.sample_type, "cpu") && o.pick.sample_index == -1);
	CHECK(o.calls == 2);
	CHECK(parse(&o, 0, ARGV("-i", "3")) == 3 && o.pick.sample_index == 3);

	/* A later value wins; an empty TEXT is kept, an empty NAME is not. */
	CHECK(parse(&o, 0, ARGV("-c", "2", "-c", "9", "--name", "")) == 7 && o.count == 9);
	CHECK(!strcmp(o.name, ""));

	/* Operands: options may follow them, unless in order. */
	CHECK(parse(&o, 0, ARGV("op", "-v")) == 2 && o.verbose);
	CHECK(parse(&o, CLI_FLAGS_IN_ORDER, ARGV("op", "-v")) == 1 && !o.verbose);
	CHECK(parse(&o, CLI_FLAGS_IN_ORDER, ARGV("-v", "--", "cmd", "-v")) == 3 && o.verbose);
	CHECK(parse(&o, 0, ARGV("-v")) == 2);

	/* Each bad value: one line naming the flag. */
	refused(ARGV("--count", "0"), "--count 0 is out of range: use a number from 1 to 10");
	refused(ARGV("-c", "x"), "--count expects a whole number, not 'x'");
	refused(ARGV("-c", "-1"), "--count expects a whole number, not '-1'");
	refused(ARGV("--count", ""), "--count expects a whole number, not ''");
	refused(ARGV("--big", "18446744073709551616"),
		"--big expects a whole number, not '18446744073709551616'");
	refused(ARGV("-r", "0"), "--ratio 0 is out of range: use a number above 0 and at most 1");
	refused(ARGV("-r", "nan"), "--ratio expects a number, not 'nan'");
	refused(ARGV("--color", "pink"), "unknown color 'pink': use red, green or blue");
	refused(ARGV("--path", ""), "--path expects a file name");
	refused(ARGV("--label", "x"), "--label expects KEY=VALUE, like --label env=prod, not 'x'");
	refused(ARGV("-l", "a=1", "-l", "a=2"), "--label a given twice");
	refused(ARGV("-t", "a", "-i", "1"), "give --sample-type or --sample-index, not both");
	refused(ARGV("-i", "1", "-t", "a"), "give --sample-type or --sample-index, not both");
	refused(ARGV("--call", "bad"), "--call: bad");
	refused(ARGV("--bogus"), "unknown option '--bogus'");
	refused(ARGV("--count=1=2"), "--count expects a whole number, not '1=2'");
	refused(ARGV("-x"), "unknown option '-x'");
	refused(ARGV("-vx"), "unknown option '-x'");
	refused(ARGV("--count"), "option '--count' needs a value");
	refused(ARGV("-c"), "option '-c' needs a value");
	refused(ARGV("--verbose=1"), "unknown option '--verbose'");

	/* The one operand. */
	{
		int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		CHECK(!strcmp(cli_one_operand(2, ARGV("a"), 1, "which?"), "a"));
		CHECK(!cli_one_operand(1, ARGV("a"), 1, "which?"));
		CHECK(!cli_one_operand(3, ARGV("a", "b"), 1, "which?"));
		dup2(saved, STDERR_FILENO);
		close(null);
		close(saved);
	}

	/* --help: the usage on stdout, exit 0. */
	for (int i = 0; i < 2; i++) {
		int pipefd[2], status;
		char buf[64] = "";
		pid_t pid;

		CHECK(pipe(pipefd) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			dup2(pipefd[1], STDOUT_FILENO);
			parse(&o, 0, i ? ARGV("-v", "-h") : ARGV("--help"));
			_exit(3);
		}
		close(pipefd[1]);
		CHECK(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
		close(pipefd[0]);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(!strcmp(buf, "Usage: test [OPTIONS]\n"));
	}
	printf("profiler-flags: ok\n");
	return 0;
}
