/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-bpf-btf.c — sampler-btf.c without loading anything into the kernel:
 * the small BTF made from the running kernel's (/sys/kernel/btf/vmlinux,
 * readable by everyone) for the sampler's own BPF object holds every
 * structure the object names with the kernel's size and members (name,
 * offset, bit-field size), pointers as void *, and ends with its key;
 * the cache refuses what it must not trust (writable by others, a
 * symlink, a directory others may write), what is not the key's BTF
 * (junk, another key's entry), and prunes other kernels' entries. The
 * privileged test_btf_cache checks the programs load against it with
 * every relocation where the kernel's whole BTF puts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "profile.skel.h"
#include "sampler-internal.h"
#include "unit-check.h"


/* Every composite with members in small is the kernel's of that name,
 * member for member; returns how many were compared. */
static int compare_with_kernel(const struct btf *small, const struct btf *kern)
{
	int compared = 0;

	for (uint32_t i = 1; i < btf__type_cnt(small); i++) {
		const struct btf_type *t = btf__type_by_id(small, i), *k;
		const char *name = btf__name_by_offset(small, t->name_off);
		int kid;

		if (btf_is_ptr(t))
			CHECK(t->type == 0);
		if (!btf_is_composite(t) || !name || !*name || btf_vlen(t) == 0)
			continue;
		kid = btf__find_by_name_kind(kern, name, btf_kind(t));
		CHECK(kid > 0);
		k = btf__type_by_id(kern, kid);
		CHECK(k->size == t->size && btf_vlen(k) == btf_vlen(t));
		for (int m = 0; m < btf_vlen(t) && m < btf_vlen(k); m++) {
			const char *a = btf__name_by_offset(small, btf_members(t)[m].name_off);
			const char *b = btf__name_by_offset(kern, btf_members(k)[m].name_off);

			CHECK(strcmp(a, b) == 0);
			CHECK(btf_member_bit_offset(t, m) == btf_member_bit_offset(k, m));
			CHECK(btf_member_bitfield_size(t, m) == btf_member_bitfield_size(k, m));
		}
		compared++;
	}
	return compared;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

static void test_cache(const struct sampler_btf_key *key, const void *data, size_t len)
{
	char dir[] = "/tmp/test-bpf-btf-XXXXXX", btf_dir[256], entry[512], other[512];
	struct sampler_btf_key wrong = *key;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(btf_dir, sizeof(btf_dir), "%s/btf", dir);
	snprintf(entry, sizeof(entry), "%s/%s", btf_dir, key->name);

	CHECK(sampler_btf__cached(dir, key) == -ENOENT);
	fd = sampler_btf__store(dir, key, data, len);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	{
		struct stat st;

		CHECK(stat(btf_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
		CHECK(stat(entry, &st) == 0 && (st.st_mode & 0777) == 0600);
		CHECK(st.st_size == (off_t)len);
	}
	fd = sampler_btf__cached(dir, key);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	CHECK(chmod(entry, 0620) == 0 && sampler_btf__cached(dir, key) == -EPERM);
	CHECK(chmod(entry, 0600) == 0);

	/* the same bytes under another key's name */
	snprintf(wrong.name, sizeof(wrong.name), "%s_0_0", key->kernel);
	snprintf(other, sizeof(other), "%s/%s", btf_dir, wrong.name);
	write_file(other, data, len);
	CHECK(sampler_btf__cached(dir, &wrong) == -EINVAL);
	CHECK(unlink(other) == 0);

	write_file(entry, "\x9f\xeb\x01\x00 not BTF", 12);
	CHECK(sampler_btf__cached(dir, key) == -EINVAL);
	write_file(entry, data, len / 2);
	CHECK(sampler_btf__cached(dir, key) == -EINVAL);

	CHECK(unlink(entry) == 0 && symlink(other, entry) == 0);
	CHECK(sampler_btf__cached(dir, key) == -EPERM);

	/* another kernel's entry goes when this kernel's is stored */
	snprintf(other, sizeof(other), "%s/%s", btf_dir, "0000_1_2");
	write_file(other, data, len);
	fd = sampler_btf__store(dir, key, data, len);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(access(other, F_OK) != 0);
	/* of this kernel's entries for other objects, the 7 newest stay */
	for (int i = 0; i < 10; i++) {
		struct timespec ts[2] = { { .tv_sec = 1000000 + i }, { .tv_sec = 1000000 + i } };

		snprintf(other, sizeof(other), "%s/%s_1_%d", btf_dir, key->kernel, i);
		write_file(other, data, len);
		CHECK(utimensat(AT_FDCWD, other, ts, 0) == 0);
	}
	fd = sampler_btf__store(dir, key, data, len);
	CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < 10; i++) {
		snprintf(other, sizeof(other), "%s/%s_1_%d", btf_dir, key->kernel, i);
		CHECK((access(other, F_OK) == 0) == (i >= 3));
		unlink(other);
	}
	fd = sampler_btf__cached(dir, key);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	CHECK(chmod(btf_dir, 0777) == 0 && sampler_btf__cached(dir, key) == -EPERM);
	CHECK(sampler_btf__store(dir, key, data, len) == -EPERM);
	CHECK(chmod(btf_dir, 0700) == 0);

	CHECK(sampler_btf__remove(dir, key) == 0);
	CHECK(sampler_btf__cached(dir, key) == -ENOENT);
	rmdir(btf_dir);
	rmdir(dir);
}

int main(void)
{
	struct sampler_btf_key key;
	struct profile_bpf *skel;
	struct btf *kern, *small;
	const void *obj;
	size_t obj_len, len = 0;
	void *data = NULL;
	int r, n;

	obj = profile_bpf__elf_bytes(&obj_len);
	r = sampler_btf__key(obj, obj_len, &key);
	if (r == -ENOENT) {
		/* a kernel without a build-id: the sampler uses no cache */
		printf("no build-id in /sys/kernel/notes: key -ENOENT\n");
		return 0;
	}
	CHECK(r == 0 && strncmp(key.name, key.kernel, strlen(key.kernel)) == 0);

	skel = profile_bpf__open();
	kern = btf__load_vmlinux_btf();
	CHECK(skel && kern);
	r = sampler_btf__make(bpf_object__btf(skel->obj), kern, key.name, &data, &len);
	CHECK(r == 0 && len > 0);
	small = r == 0 ? btf__new(data, len) : NULL;
	CHECK(small != NULL);
	if (small) {
		char marker[256];
		uint32_t last = btf__type_cnt(small) - 1;
		int tid = btf__find_by_name_kind(small, "task_struct", BTF_KIND_STRUCT);

		n = compare_with_kernel(small, kern);
		CHECK(n >= 8);
		CHECK(tid > 0);
		snprintf(marker, sizeof(marker), "ember_btf_key_%s", key.name);
		/* it ends with its key */
		CHECK(strcmp(btf__name_by_offset(small, btf__type_by_id(small, last)->name_off),
			     marker) == 0);
		CHECK(len < btf__type_cnt(kern) * 4);
		printf("small BTF: %zu bytes, %u types, %d structures compared\n", len,
		       btf__type_cnt(small), n);
		btf__free(small);
	}
	test_cache(&key, data, len);
	r = sampler_btf__memfd(data, len);
	CHECK(r >= 0);
	if (r >= 0) {
		char *back = malloc(len);

		CHECK(back && pread(r, back, len, 0) == (ssize_t)len);
		CHECK(memcmp(back, data, len) == 0);
		free(back);
		close(r);
	}
	free(data);
	btf__free(kern);
	profile_bpf__destroy(skel);
	return 0;
}
