/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-common-dl.c — common_dl_load(), how `ember` loads libcurl and
 * libmicrohttpd only when a command needs them: the build's libcurl
 * (EMBER_LIBCURL_PATH) loads and its functions work; and each refusal,
 * with its error and a message naming the file: a relative path (never a
 * search), a missing file, a missing symbol (nothing written), and, as
 * root, a copy of the library another user could have written.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ember_config.h"

#include "unit-check.h"

static const char *const names[] = {"curl_version", "curl_easy_escape", "curl_free"};

static void test_loads(void)
{
	void *syms[ARRAY_SIZE(names)] = {0};
	char err[256] = "";
	__typeof__(curl_version) *version;
	__typeof__(curl_easy_escape) *escape;
	__typeof__(curl_free) *release;
	char *esc;

	CHECK(common_dl_load(EMBER_LIBCURL_PATH, names, ARRAY_SIZE(names), syms, err,
			     sizeof(err)) == 0);
	version = (__typeof__(version))syms[0];
	escape = (__typeof__(escape))syms[1];
	release = (__typeof__(release))syms[2];
	CHECK(strncmp(version(), "libcurl/", 8) == 0);
	esc = escape(NULL, "a b&c", 0);
	CHECK(esc && strcmp(esc, "a%20b%26c") == 0);
	release(esc);
	/* A second load is the same library, the same functions. */
	void *again[ARRAY_SIZE(names)] = {0};

	CHECK(common_dl_load(EMBER_LIBCURL_PATH, names, ARRAY_SIZE(names), again, err,
			     sizeof(err)) == 0);
	CHECK(memcmp(again, syms, sizeof(syms)) == 0);
}

static void test_refusals(void)
{
	static const char *const missing[] = {"curl_version", "ember_no_such_function"};
	void *syms[2] = {(void *)1, (void *)1};
	char err[256];

	err[0] = 0;
	CHECK(common_dl_load("libcurl.so.4", names, 1, syms, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "libcurl.so.4") && strstr(err, "absolute"));
	err[0] = 0;
	CHECK(common_dl_load("/nonexistent/libember-test.so", names, 1, syms, err,
			     sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/libember-test.so"));
	err[0] = 0;
	CHECK(common_dl_load(EMBER_LIBCURL_PATH, missing, 2, syms, err, sizeof(err)) == -ELIBACC);
	CHECK(strstr(err, "ember_no_such_function") && strstr(err, EMBER_LIBCURL_PATH));
	CHECK(syms[0] == (void *)1 && syms[1] == (void *)1);
	/* Not a shared library at all. */
	char dir[] = "/tmp/ember-dl-XXXXXX", path[64];

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/libnot.so", dir);
	FILE *f = fopen(path, "w");

	CHECK(f && fputs("not an ELF file\n", f) >= 0 && fclose(f) == 0);
	err[0] = 0;
	CHECK(common_dl_load(path, names, 1, syms, err, sizeof(err)) == -ELIBACC);
	CHECK(strstr(err, path));
	unlink(path);

	if (geteuid() == 0) {
		/* As root, a library others could have written is refused
		 * before the dynamic linker runs its constructors. */
		char cmd[512];

		snprintf(path, sizeof(path), "%s/libcopy.so", dir);
		snprintf(cmd, sizeof(cmd), "cp %s %s", EMBER_LIBCURL_PATH, path);
		CHECK(system(cmd) == 0);
		CHECK(chmod(path, 0666) == 0);
		err[0] = 0;
		CHECK(common_dl_load(path, names, 1, syms, err, sizeof(err)) == -EPERM);
		CHECK(strstr(err, path) && strstr(err, "root"));
		CHECK(chmod(path, 0644) == 0 && chown(path, 65534, 65534) == 0);
		CHECK(common_dl_load(path, names, 1, syms, err, sizeof(err)) == -EPERM);
		CHECK(syms[0] == (void *)1);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	test_loads();
	test_refusals();
	printf("ok: common_dl_load\n");
	return 0;
}
