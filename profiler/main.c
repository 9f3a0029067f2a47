/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c — `ember`: dispatches to the sub-commands (record, report, diff,
 * import, agent, serve) and answers --help and --version.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ember_config.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "record", cmd_record, "profile a command, processes or the whole system into a database" },
	{ "report", cmd_report, "print a profile as a top table, or export it (folded, pprof, speedscope)" },
	{ "diff", cmd_diff, "compare two profiles; exit 1 when a function got significantly slower" },
	{ "import", cmd_import, "turn a pprof profile made elsewhere into a database" },
	{ "agent", cmd_agent, "profile the whole system all the time and serve the web UI" },
	{ "serve", cmd_serve, "serve the web UI over an existing database (read-only)" },
	{ "fleet-init", cmd_fleet_init, "create the fleet tables in ClickHouse (a server or a cluster)" },
	{ "fleet-maintain", cmd_fleet_maintain, "the fleet store's retention and downsampling, once" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ember [--version] [--help] COMMAND [ARGS...]\n"
		"\n"
		"Ember is a continuous CPU profiler for Linux: eBPF sampling of kernel and\n"
		"user stacks on every CPU, stored in SQLite (and shipped to ClickHouse for\n"
		"a fleet: ember agent --remote).\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'ember COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ember %s\n", EMBER_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%s'", argv[1]);
	cli_usage_hint(NULL);
	return EXIT_USAGE;
}
