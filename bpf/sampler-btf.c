/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler-btf.c — the kernel types the sampler's CO-RE relocations need,
 * without libbpf reading the kernel's whole BTF at every start.
 *
 * libbpf 1.1 relocates a CO-RE access against /sys/kernel/btf/vmlinux
 * (5.2 MB, read into one buffer and copied into a second, then scanned
 * once per structure): about 19 ms and 10.4 MiB of every start-up. Given
 * another BTF file (bpf_object_open_opts.btf_custom_path), it relocates
 * against that one instead. This file makes such a file once per kernel
 * and BPF object, from the kernel's BTF: the kernel's own definition of
 * every structure, union and enum the object's BTF names (the types its
 * relocations can reach), each member with its offset and bit-field size
 * as the kernel has it; a member's type is kept as deep as a relocation
 * can look at it (integers and enums whole, arrays by their element,
 * anonymous structures and unions whole, a named structure the object does
 * not name as an empty one of its size, every pointer as void *: libbpf
 * checks only that a pointer is one). About 110 structures, tens of KB.
 *
 * Kept in CACHE_DIR/btf (0700, owned by the user running Ember), named by
 * the running kernel's build-id (/sys/kernel/notes), the size of its BTF
 * and a hash of the BPF object; the file ends with an empty structure
 * named after that key, so an entry is used only for the kernel and object
 * it was made for. An entry is used only when it is a regular file owned
 * by this user that nobody else may write, in a directory nobody else may
 * write, and its BTF parses and names the key; anything else is refused
 * (and counted, sampler__btf_source), and the file is made again. Made
 * without a cache (no directory, a kernel without a build-id), the
 * kernel's BTF is left to libbpf as before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "sampler-internal.h"

/* An entry larger than this is not ours (they are tens of KB). */
#define ENTRY_MAX_BYTES (4u << 20)
#define KEY_PREFIX "ember_btf_key_"
#define NT_GNU_BUILD_ID 3

/* The running kernel's build-id, as hex, from /sys/kernel/notes (a list of
 * ELF notes: 12-byte header, name, descriptor, each padded to 4 bytes). */
static int kernel_build_id(char *hex, size_t cap)
{
	unsigned char buf[8192];
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	while (off + 12 <= (size_t)n) {
		uint32_t namesz, descsz, type;
		size_t name_off = off + 12, desc_off;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		desc_off = name_off + ((namesz + 3) & ~3u);
		if (namesz > (size_t)n || descsz > (size_t)n || desc_off + descsz > (size_t)n)
			break;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(buf + name_off, "GNU", 4) == 0 &&
		    descsz >= 8 && descsz <= 64 && descsz * 2 < cap) {
			common_hex(buf + desc_off, descsz, hex);
			return 0;
		}
		off = desc_off + ((descsz + 3) & ~3u);
	}
	return -ENOENT;
}

int sampler_btf__key(const void *obj, size_t obj_len, struct sampler_btf_key *ret_key)
{
	struct sampler_btf_key k = {};
	struct stat st;
	int r;

	r = kernel_build_id(k.kernel, sizeof(k.kernel));
	if (r < 0)
		return r;
	if (stat("/sys/kernel/btf/vmlinux", &st) < 0)
		return -errno;
	snprintf(k.name, sizeof(k.name), "%s_%llx_%016llx", k.kernel,
		 (unsigned long long)st.st_size,
		 (unsigned long long)common_hash(0, obj, obj_len));
	*ret_key = k;
	return 0;
}

/* ---- making the minimal BTF --------------------------------------------- */

struct btf_make {
	const struct btf *kern;
	struct btf *dst;
	uint32_t *map;         /* kernel type id -> dst id + 1; 0: not copied */
	bool *root;            /* kernel type ids copied whole */
	int void_ptr;          /* dst id of void *, 0 until made */
};

static int copy_type(struct btf_make *m, uint32_t id);

/* A structure or union: whole (a root, or anonymous: part of its parent's
 * layout), or a named one no relocation looks into, empty at its size. */
static int copy_composite(struct btf_make *m, uint32_t id, const struct btf_type *t)
{
	const char *name = btf__name_by_offset(m->kern, t->name_off);
	bool is_struct = btf_is_struct(t);
	uint16_t vlen = btf_vlen(t);
	int *types = NULL, r;

	if (name && *name && !m->root[id])
		return is_struct ? btf__add_struct(m->dst, name, t->size)
				 : btf__add_union(m->dst, name, t->size);
	if (vlen) {
		types = calloc(vlen, sizeof(*types));
		if (!types)
			return -ENOMEM;
	}
	for (uint16_t i = 0; i < vlen; i++) {
		r = copy_type(m, btf_members(t)[i].type);
		if (r < 0)
			goto out;
		types[i] = r;
	}
	r = is_struct ? btf__add_struct(m->dst, name && *name ? name : NULL, t->size)
		      : btf__add_union(m->dst, name && *name ? name : NULL, t->size);
	for (uint16_t i = 0; r >= 0 && i < vlen; i++) {
		const struct btf_member *mb = &btf_members(t)[i];
		int e = btf__add_field(m->dst, btf__name_by_offset(m->kern, mb->name_off),
				       types[i], btf_member_bit_offset(t, i),
				       btf_member_bitfield_size(t, i));

		if (e < 0)
			r = e;
	}
out:
	free(types);
	return r;
}

/* The dst id standing for kernel type id, copied as deep as a CO-RE
 * relocation can look (see the top of the file). */
static int copy_type(struct btf_make *m, uint32_t id)
{
	const struct btf_type *t;
	int r;

	if (id == 0)
		return 0;
	if (m->map[id])
		return m->map[id] - 1;
	t = btf__type_by_id(m->kern, id);
	if (!t)
		return -EINVAL;
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		/* no type they refer to */
		r = btf__add_type(m->dst, m->kern, t);
		break;
	case BTF_KIND_PTR:
		if (!m->void_ptr)
			m->void_ptr = btf__add_ptr(m->dst, 0);
		r = m->void_ptr;
		break;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		/* libbpf looks through them (skip_mods_and_typedefs) */
		r = copy_type(m, t->type);
		break;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		int elem = copy_type(m, a->type), index;

		if (elem < 0)
			return elem;
		index = copy_type(m, a->index_type);
		if (index < 0)
			return index;
		r = btf__add_array(m->dst, index, elem, a->nelems);
		break;
	}
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		r = copy_composite(m, id, t);
		break;
	default:
		/* functions, variables: no member has such a type */
		return -EINVAL;
	}
	if (r < 0)
		return r;
	m->map[id] = r + 1;
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A local type's name without a "___flavor" suffix (libbpf's essential
 * name), into buf; NULL when the type is not one a relocation starts at. */
static const char *essential_name(const struct btf *btf, const struct btf_type *t,
				  char *buf, size_t cap)
{
	const char *name, *cut;
	size_t len;

	if (!btf_is_composite(t) && !btf_is_any_enum(t))
		return NULL;
	name = btf__name_by_offset(btf, t->name_off);
	if (!name || !*name)
		return NULL;
	cut = strstr(name, "___");
	len = cut ? (size_t)(cut - name) : strlen(name);
	if (len == 0 || len >= cap)
		return NULL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return buf;
}

int sampler_btf__make(const struct btf *local, const struct btf *kern, const char *key,
		      void **ret_data, size_t *ret_len)
{
	struct btf_make m = { .kern = kern };
	uint32_t n_local = btf__type_cnt(local), n_kern = btf__type_cnt(kern), size;
	char **names = NULL, buf[256], marker[160];
	size_t n_names = 0;
	const void *raw;
	void *data;
	int r = -ENOMEM;

	m.dst = btf__new_empty();
	m.map = calloc(n_kern, sizeof(*m.map));
	m.root = calloc(n_kern, sizeof(*m.root));
	names = calloc(n_local, sizeof(*names));
	if (!m.dst || !m.map || !m.root || !names)
		goto out;
	/* The named structures, unions and enums of the object: a CO-RE
	 * relocation starts at one of them, and every type it passes
	 * through on the way to its field is one of them or anonymous. */
	for (uint32_t i = 1; i < n_local; i++) {
		const char *name = essential_name(local, btf__type_by_id(local, i), buf, sizeof(buf));

		if (name && !(names[n_names] = strdup(name)))
			goto out;
		if (name)
			n_names++;
	}
	qsort(names, n_names, sizeof(*names), cmp_str);
	for (uint32_t i = 1; i < n_kern; i++) {
		const struct btf_type *t = btf__type_by_id(kern, i);
		const char *name = essential_name(kern, t, buf, sizeof(buf));

		if (name && bsearch(&name, names, n_names, sizeof(*names), cmp_str))
			m.root[i] = true;
	}
	/* Every kernel candidate of a name, as libbpf would see them all. */
	for (uint32_t i = 1; i < n_kern; i++) {
		if (!m.root[i])
			continue;
		r = copy_type(&m, i);
		if (r < 0)
			goto out;
	}
	snprintf(marker, sizeof(marker), KEY_PREFIX "%s", key);
	r = btf__add_struct(m.dst, marker, 0);
	if (r < 0)
		goto out;
	raw = btf__raw_data(m.dst, &size);
	r = -ENOMEM;
	if (!raw || !(data = malloc(size)))
		goto out;
	memcpy(data, raw, size);
	*ret_data = data;
	*ret_len = size;
	r = 0;
out:
	for (size_t i = 0; names && i < n_names; i++)
		free(names[i]);
	free(names);
	free(m.map);
	free(m.root);
	btf__free(m.dst);
	return r;
}

/* ---- the cache ---------------------------------------------------------- */

/* CACHE_DIR/btf, made 0700 if missing; refused (-EPERM) unless owned by
 * this user and writable by nobody else. */
static int cache_open_dir(const char *cache_dir)
{
	char path[4096];
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/btf", cache_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(cache_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The entry for key in dfd, checked: an fd at its start, -ENOENT when
 * there is none, -EPERM when it is not trusted, -EINVAL when it is not
 * this key's BTF. */
static int cache_read(int dfd, const char *key)
{
	char marker[160];
	struct stat st;
	struct btf *btf = NULL;
	void *data = NULL;
	int fd, r = -EINVAL;

	fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		r = -EPERM;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > ENTRY_MAX_BYTES)
		goto out;
	data = malloc(st.st_size);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, data, st.st_size, 0) != st.st_size)
		goto out;
	btf = btf__new(data, st.st_size);
	if (!btf)
		goto out;
	snprintf(marker, sizeof(marker), KEY_PREFIX "%s", key);
	{
		uint32_t last = btf__type_cnt(btf) - 1;
		const struct btf_type *t = btf__type_by_id(btf, last);
		const char *name = t ? btf__name_by_offset(btf, t->name_off) : NULL;

		if (last >= 1 && btf_is_struct(t) && name && strcmp(name, marker) == 0)
			r = 0;
	}
out:
	btf__free(btf);
	free(data);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int sampler_btf__cached(const char *cache_dir, const struct sampler_btf_key *key)
{
	int dfd, fd;

	dfd = cache_open_dir(cache_dir);
	if (dfd < 0)
		return dfd;
	fd = cache_read(dfd, key->name);
	close(dfd);
	return fd;
}

/* Removes the entries of other kernels (a kernel upgrade leaves them),
 * and of this kernel all but the ENTRIES_KEPT last written (other
 * builds of Ember: each object has its own). */
#define ENTRIES_KEPT 8
static void cache_prune(int dfd, const struct sampler_btf_key *key)
{
	size_t len = strlen(key->kernel);
	int d2 = dup(dfd);
	DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
	struct dirent *e;
	struct {
		char name[256];
		time_t mtime;
	} kept[ENTRIES_KEPT + 1];
	int n = 0;

	if (!d) {
		if (d2 >= 0)
			close(d2);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;
		int oldest = 0;

		if (e->d_name[0] == '.' || strcmp(e->d_name, key->name) == 0)
			continue;
		if (strncmp(e->d_name, key->kernel, len) != 0 || e->d_name[len] != '_' ||
		    strlen(e->d_name) >= sizeof(kept[0].name) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			unlinkat(dfd, e->d_name, 0);
			continue;
		}
		/* the newest ENTRIES_KEPT - 1 besides key's own */
		snprintf(kept[n].name, sizeof(kept[n].name), "%s", e->d_name);
		kept[n].mtime = st.st_mtime;
		if (++n < ENTRIES_KEPT)
			continue;
		for (int i = 1; i < n; i++)
			if (kept[i].mtime < kept[oldest].mtime)
				oldest = i;
		unlinkat(dfd, kept[oldest].name, 0);
		kept[oldest] = kept[--n];
	}
	closedir(d);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int sampler_btf__store(const char *cache_dir, const struct sampler_btf_key *key,
		       const void *data, size_t len)
{
	char tmp[64];
	int dfd, fd, r;

	dfd = cache_open_dir(cache_dir);
	if (dfd < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), ".tmp-%d", (int)getpid());
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	/* Durable before it is visible: after a crash the name shows either
	 * nothing or the whole entry. */
	r = write_all(fd, data, len);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, key->name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	else
		cache_prune(dfd, key);
	if (r == 0) {
		r = cache_read(dfd, key->name);
		if (r == -ENOENT)
			r = -EIO;
	}
	close(dfd);
	return r;
}

int sampler_btf__memfd(const void *data, size_t len)
{
	int fd = memfd_create("ember-btf", MFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int sampler_btf__remove(const char *cache_dir, const struct sampler_btf_key *key)
{
	int dfd = cache_open_dir(cache_dir), r = 0;

	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, key->name, 0) < 0 && errno != ENOENT)
		r = -errno;
	close(dfd);
	return r;
}
