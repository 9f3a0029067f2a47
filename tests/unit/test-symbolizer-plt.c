/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-plt.c — PLT stubs are named as objdump and perf name
 * them: for every stub `objdump -d -C` labels in .plt, .plt.sec and
 * .plt.got of each binary given, the symbol tables Ember builds name its
 * first and its last byte "function@plt", demangled alike ("std::ostream::
 * flush()@plt"). objdump's `*ABS*+0x...@plt` (IRELATIVE slots, no symbol)
 * is left out; every other label must match, and each binary must have at
 * least one, so the test cannot pass on a binary without a PLT.
 *
 * Usage: test-symbolizer-plt BINARY...
 */
#include "symbolizer-test.h"

#include "sym-internal.h"

static unsigned check_binary(const char *path)
{
	struct sym_elf *e = NULL;
	char cmd[PATH_MAX + 128], line[4096];
	unsigned matched = 0;
	FILE *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(sym_elf__load_fd(fd, NULL, &e) == 0);
	snprintf(cmd, sizeof(cmd),
		 "objdump -d -C -j .plt -j .plt.sec -j .plt.got '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while (fgets(line, sizeof(line), p)) {
		char *lt = strchr(line, '<'), *gt = strrchr(line, '>');
		uint64_t addr;
		char *end, *got, *want;

		if (!lt || !gt || gt < lt || gt[1] != ':' || line[0] == ' ')
			continue;
		addr = strtoull(line, &end, 16);
		if (end == line || *end != ' ')
			continue;
		*gt = '\0';
		want = lt + 1;
		/* PLT0 is labelled "first@plt-0x10": not a stub of its own */
		if (!strncmp(want, "*ABS*", 5) || strlen(want) < 4 ||
		    strcmp(want + strlen(want) - 4, "@plt"))
			continue;
		for (int k = 0; k < 2; k++) {
			const char *raw = sym_elf__lookup(e, addr + (k ? 7 : 0));
			char *dem;

			if (!raw) {
				fprintf(stderr, "%s: 0x%" PRIx64 ": no name, objdump says %s\n",
					path, addr, want);
				exit(1);
			}
			dem = sym_demangle(raw);
			got = dem ? dem : (char *)raw;
			if (strcmp(got, want)) {
				fprintf(stderr, "%s: 0x%" PRIx64 ": %s, objdump says %s\n",
					path, addr, got, want);
				exit(1);
			}
			free(dem);
		}
		matched++;
	}
	CHECK(pclose(p) == 0);
	sym_elf__free(e);
	close(fd);
	printf("%s: %u PLT stubs named as objdump names them\n", path, matched);
	CHECK(matched > 0);
	return matched;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s BINARY...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		check_binary(argv[i]);
	return 0;
}
