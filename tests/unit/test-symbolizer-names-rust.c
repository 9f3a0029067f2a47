/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-symbolizer-names-rust.c — Rust frames named as `addr2line -f -C -i`
 * names them, with legacy and v0 mangling (fixture-names.rs): every
 * instruction of the fixture's functions, with its whole inline chain
 * (names-oracle.h's cross-check), and a list of names that must come out
 * exactly.
 *
 * Usage: test-symbolizer-names-rust RUST_LEGACY RUST_V0
 * ("-" for both when meson found no rustc, which fails the test)
 */
#include "names-oracle.h"

/* Rust with legacy and v0 mangling: std's code (built with legacy
 * mangling either way) inlined into the fixture's functions too. */
static void test_rust_names(const char *legacy, const char *v0)
{
	static const char *const must_legacy[] = {
		"fixture_names::sort_desc",
		"fixture_names::geo::Vec2<T>::dot",
	};
	static const char *const must_v0[] = {
		"fixture_names::sort_desc",
		"<fixture_names::geo::Vec2<f64>>::dot",
		"<fixture_names::geo::Sq as fixture_names::geo::Shape>::area",
	};

	if (!strcmp(legacy, "-") || !strcmp(v0, "-")) {
		fprintf(stderr, "rust: no fixtures: meson found no rustc (scripts/lib.sh "
			"installs Debian's rustc)\n");
		test_failures++;
		return;
	}
	crosscheck_exact("rust legacy", legacy, "fixture_names", must_legacy,
			 sizeof(must_legacy) / sizeof(must_legacy[0]));
	crosscheck_exact("rust v0", v0, "fixture_names", must_v0,
			 sizeof(must_v0) / sizeof(must_v0[0]));
}

int main(int argc, char **argv)
{
	char *legacy, *v0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s RUST_LEGACY RUST_V0\n", argv[0]);
		return 2;
	}
	/* "-": no Rust fixture */
	legacy = strcmp(argv[1], "-") ? test_abs(argv[1]) : strdup("-");
	v0 = strcmp(argv[2], "-") ? test_abs(argv[2]) : strdup("-");
	test_rust_names(legacy, v0);
	free(legacy);
	free(v0);
	return test_exit();
}
