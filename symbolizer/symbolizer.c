/* SPDX-License-Identifier: Apache-2.0 */
/*
 * symbolizer.c — the sym_session: per-process snapshots of the executable
 * mappings, a cache of loaded binaries shared by all processes of the session
 * (keyed by GNU build-id, else by device, inode, mtime and size), kallsyms for
 * kernel addresses, and the rules that turn an address into a sym_frame. The
 * profiler's session loop calls it at every flush, between draining the
 * sampler and writing to storage.
 */
#include "symbolizer.h"
#include "sym-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <link.h>

#include "common.h"

/* A missing mapping re-reads /proc/PID/maps at most this often per pid. */
#define REFRESH_INTERVAL_NS 1000000000ULL
/* The vdso is a few pages; refuse to copy anything much larger. */
#define MAX_VDSO_SIZE (1u << 20)

static const char unknown[] = "[unknown]";

struct sym_binary {
	struct sym_elf *elf;   /* NULL when loading failed */
	enum sym_miss fail;    /* why elf is NULL */
	const char *build_id;  /* interned, or NULL */
};

/* The identity of a file as fstat() sees it: an alias to a loaded binary. */
struct file_key {
	uint64_t dev, ino, mtime_ns, size;
	struct sym_binary *bin;
};

struct sym_mapping {
	uint64_t start;  /* first: sym_sorted__count_le() searches it */
	uint64_t end, offset;
	enum sym_map_kind kind;
	const char *module;      /* interned path, "[vdso]", "[anon]", ... */
	const char *base;        /* interned basename of module */
	struct sym_binary *bin;  /* file and vdso mappings, NULL on failure */
	enum sym_miss fail;      /* when bin is NULL */
};

struct sym_process {
	pid_t pid;
	struct sym_mapping *maps;
	size_t n_maps;
	bool snapshotted;  /* maps were read at least once */
	bool gone;         /* the last read found the process gone */
	uint64_t read_ns;  /* when maps were last read (or tried) */
};

struct sym_session {
	char *root;       /* "" for "/" */
	char *debug_dir;  /* NULL: no debug file lookup */
	bool no_kernel;
	struct sym_strings strings;
	struct sym_htab procs;     /* pid -> sym_process */
	struct sym_htab keys;      /* file_key -> (owns) file_key */
	struct sym_htab ids;       /* build-id -> sym_binary */
	struct sym_binary **bins;  /* owns every binary */
	size_t n_bins, cap_bins;
	unsigned char *vdso_image; /* last vdso image loaded, and its binary */
	size_t vdso_size;
	struct sym_binary *vdso_bin;
	struct sym_kernel *kernel;
	bool kernel_tried;
	struct sym_stats stats;
};

const char *sym_miss_name(enum sym_miss miss)
{
	static const char *const names[SYM_MISS__COUNT] = {
		[SYM_MISS_NONE] = "none",
		[SYM_MISS_NO_MAPPING] = "no-mapping",
		[SYM_MISS_NO_PROCESS] = "no-process",
		[SYM_MISS_NO_FILE] = "no-file",
		[SYM_MISS_BAD_ELF] = "bad-elf",
		[SYM_MISS_NO_SYMBOL] = "no-symbol",
	};

	if ((unsigned)miss >= SYM_MISS__COUNT)
		return "invalid";
	return names[miss];
}

/* ---- processes ---------------------------------------------------------- */

static uint64_t pid_hash(pid_t pid)
{
	return common_hash(COMMON_HASH_SEED, &pid, sizeof(pid));
}

static bool proc_eq(const void *value, const void *key)
{
	return ((const struct sym_process *)value)->pid == *(const pid_t *)key;
}

static void process_free(void *p)
{
	struct sym_process *proc = p;

	if (!proc)
		return;
	free(proc->maps);
	free(proc);
}

static struct sym_process *process_find(const struct sym_session *s, pid_t pid)
{
	return sym_htab__find(&s->procs, pid_hash(pid), proc_eq, &pid);
}

/* ---- binaries ----------------------------------------------------------- */

static uint64_t key_hash(const struct file_key *k)
{
	return common_hash(COMMON_HASH_SEED, k, offsetof(struct file_key, bin));
}

static bool key_eq(const void *value, const void *key)
{
	const struct file_key *a = value, *b = key;

	return a->dev == b->dev && a->ino == b->ino &&
	       a->mtime_ns == b->mtime_ns && a->size == b->size;
}

static bool id_eq(const void *value, const void *key)
{
	const struct sym_binary *bin = value;

	return bin->build_id && strcmp(bin->build_id, key) == 0;
}

static int binary_add(struct sym_session *s, struct sym_binary *bin)
{
	if (s->n_bins == s->cap_bins) {
		size_t cap = s->cap_bins ? s->cap_bins * 2 : 64;
		struct sym_binary **p = reallocarray(s->bins, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->bins = p;
		s->cap_bins = cap;
	}
	s->bins[s->n_bins++] = bin;
	return 0;
}

/*
 * Returns the binary for the ELF file open at fd: from the file-identity
 * cache when key is given and known, else loaded and deduplicated by
 * build-id. A file that fails to load still gets a binary (elf NULL, fail
 * set) so that it is not parsed again for every process. Returns 0 or
 * -ENOMEM.
 */
static int binary_from_fd(struct sym_session *s, int fd, const struct file_key *key,
			  struct sym_binary **ret_bin)
{
	struct sym_binary *bin = NULL, *known;
	struct file_key *alias = NULL;
	struct sym_elf *elf = NULL;
	int r;

	if (key) {
		struct file_key *k = sym_htab__find(&s->keys, key_hash(key), key_eq, key);

		if (k) {
			*ret_bin = k->bin;
			return 0;
		}
	}
	r = sym_elf__load_fd(fd, s->debug_dir, &elf);
	if (r == -ENOMEM)
		return r;
	known = elf && elf->build_id ?
		sym_htab__find(&s->ids, common_hash(COMMON_HASH_SEED, elf->build_id,
						    strlen(elf->build_id)),
			       id_eq, elf->build_id) : NULL;
	if (known) {
		sym_elf__free(elf);
		elf = NULL;
		bin = known;
	} else {
		bin = calloc(1, sizeof(*bin));
		if (!bin)
			goto nomem;
		bin->elf = elf;
		bin->fail = elf ? SYM_MISS_NONE : SYM_MISS_BAD_ELF;
		elf = NULL;
		if (bin->elf && bin->elf->build_id) {
			bin->build_id = sym_strings__intern(&s->strings, bin->elf->build_id,
							    strlen(bin->elf->build_id));
			if (!bin->build_id ||
			    sym_htab__insert(&s->ids, common_hash(COMMON_HASH_SEED,
								  bin->build_id,
								  strlen(bin->build_id)),
					     bin) < 0)
				goto nomem;
		}
		if (binary_add(s, bin) < 0) {
			/* not owned yet: undo the id entry before freeing */
			if (bin->build_id)
				sym_htab__remove(&s->ids, common_hash(COMMON_HASH_SEED,
								      bin->build_id,
								      strlen(bin->build_id)),
						 id_eq, bin->build_id);
			goto nomem;
		}
		if (bin->elf)
			s->stats.binaries++;
	}
	if (key) {
		alias = malloc(sizeof(*alias));
		if (!alias || (*alias = *key, alias->bin = bin,
			       sym_htab__insert(&s->keys, key_hash(alias), alias) < 0)) {
			free(alias);
			return -ENOMEM;  /* bin is owned by the session already */
		}
	}
	*ret_bin = bin;
	return 0;
nomem:
	if (bin && bin != known) {
		sym_elf__free(bin->elf);
		free(bin);
	}
	sym_elf__free(elf);
	return -ENOMEM;
}

/*
 * Opens the file behind a mapping: through ROOT/proc/PID/root/PATH (the
 * process' own mount namespace) when that is still the mapped inode, else
 * through ROOT/proc/PID/map_files/START-END, which works for deleted and
 * replaced files (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
 */
static int mapping_open(const struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *m, struct stat *ret_st)
{
	char path[8192];
	struct stat st;
	int fd, err = -ENOENT;

	if (!m->deleted) {
		snprintf(path, sizeof(path), "%s/proc/%d/root%s", s->root, (int)pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == m->inode) {
				*ret_st = st;
				return fd;
			}
			close(fd);
		} else {
			err = -errno;
		}
	}
	snprintf(path, sizeof(path), "%s/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 s->root, (int)pid, m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err == -ENOENT ? -errno : err;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	*ret_st = st;
	return fd;
}

static int mapping_file_binary(struct sym_session *s, pid_t pid,
			       const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	struct stat st;
	struct file_key key;
	int fd, r;

	fd = mapping_open(s, pid, m, &st);
	if (fd < 0) {
		ret->fail = SYM_MISS_NO_FILE;
		return 0;
	}
	key = (struct file_key){
		.dev = st.st_dev,
		.ino = st.st_ino,
		.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
			    (uint64_t)st.st_mtim.tv_nsec,
		.size = (uint64_t)st.st_size,
	};
	r = binary_from_fd(s, fd, &key, &ret->bin);
	close(fd);
	return r;
}

/* Size of an in-memory ELF image from its headers (for our own vdso). */
static size_t elf_image_size(const ElfW(Ehdr) *eh)
{
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	size_t size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;

	for (unsigned i = 0; i < eh->e_phnum; i++)
		size = MAX(size, (size_t)(ph[i].p_offset + ph[i].p_filesz));
	return size;
}

/*
 * Reads the vdso image of pid from ROOT/proc/PID/mem. Where that is not
 * allowed, our own vdso is the same kernel image when its size matches (a
 * 32-bit process has another vdso of another size).
 */
static int vdso_read(const struct sym_session *s, pid_t pid,
		     const struct sym_maps_entry *m, unsigned char *buf)
{
	size_t size = m->end - m->start;
	const ElfW(Ehdr) *own;
	char path[4096];
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%d/mem", s->root, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t got = pread(fd, buf, size, (off_t)m->start);

		close(fd);
		if (got == (ssize_t)size)
			return 0;
	}
	own = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!own || page <= 0 || memcmp(own->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOENT;
	if ((elf_image_size(own) + (size_t)page - 1) / (size_t)page * (size_t)page != size)
		return -ENOENT;
	memcpy(buf, own, size);
	return 0;
}

static int mapping_vdso_binary(struct sym_session *s, pid_t pid,
			       const struct sym_maps_entry *m, struct sym_mapping *ret)
{
	size_t size = m->end - m->start;
	unsigned char *buf = NULL;
	int fd = -1, r = 0;

	ret->fail = SYM_MISS_NO_FILE;
	if (size > MAX_VDSO_SIZE)
		return 0;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	if (vdso_read(s, pid, m, buf) < 0)
		goto out;
	/* Every process of a kernel has the same vdso: skip the parse. */
	if (s->vdso_bin && s->vdso_size == size && memcmp(s->vdso_image, buf, size) == 0) {
		ret->bin = s->vdso_bin;
		goto out;
	}
	fd = memfd_create("ember-vdso", MFD_CLOEXEC);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		goto out;
	r = binary_from_fd(s, fd, NULL, &ret->bin);
	if (r < 0)
		goto out;
	free(s->vdso_image);
	s->vdso_image = buf;
	s->vdso_size = size;
	s->vdso_bin = ret->bin;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static const char *path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

static int mapping_make(struct sym_session *s, pid_t pid,
			const struct sym_maps_entry *e, struct sym_mapping *ret)
{
	struct sym_mapping m = {
		.start = e->start,
		.end = e->end,
		.offset = e->offset,
		.kind = e->kind,
	};
	int r = 0;

	m.module = sym_strings__intern(&s->strings,
				       e->kind == SYM_MAP_ANON ? "[anon]" : e->path,
				       strlen(e->kind == SYM_MAP_ANON ? "[anon]" : e->path));
	if (!m.module)
		return -ENOMEM;
	m.base = sym_strings__intern(&s->strings, path_base(m.module),
				     strlen(path_base(m.module)));
	if (!m.base)
		return -ENOMEM;
	if (e->kind == SYM_MAP_FILE)
		r = mapping_file_binary(s, pid, e, &m);
	else if (e->kind == SYM_MAP_VDSO)
		r = mapping_vdso_binary(s, pid, e, &m);
	if (r < 0)
		return r;
	if (m.bin)
		m.fail = m.bin->fail;
	*ret = m;
	return 0;
}

int sym_session__note_process(struct sym_session *s, pid_t pid)
{
	struct sym_maps_entry *entries = NULL;
	struct sym_mapping *maps = NULL;
	struct sym_process *proc;
	size_t n = 0;
	int r;

	/* New mappings (exec, dlopen): cached frames may be stale. */
	sym_unwind__forget(s, pid);
	proc = process_find(s, pid);
	if (!proc) {
		proc = calloc(1, sizeof(*proc));
		if (!proc)
			return -ENOMEM;
		proc->pid = pid;
		if (sym_htab__insert(&s->procs, pid_hash(pid), proc) < 0) {
			free(proc);
			return -ENOMEM;
		}
	}
	proc->read_ns = common_now_ns();
	r = sym_maps__read(s->root, pid, &entries, &n);
	/* A zombie has an empty maps file; keep what was seen before. */
	if (r == 0 && n == 0 && proc->snapshotted)
		r = -ESRCH;
	if (r < 0) {
		/* The earlier snapshot, if any, stays: it is what the samples
		 * of the exited process need. */
		proc->gone = r == -ESRCH;
		goto out;
	}
	maps = calloc(n ? n : 1, sizeof(*maps));
	if (!maps) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = mapping_make(s, pid, &entries[i], &maps[i]);
		if (r < 0)
			goto out;
	}
	free(proc->maps);
	proc->maps = maps;
	proc->n_maps = n;
	maps = NULL;
	if (!proc->snapshotted)
		s->stats.processes++;
	proc->snapshotted = true;
	proc->gone = false;
out:
	free(maps);
	sym_maps__free(entries, n);
	return r;
}

void sym_session__forget_process(struct sym_session *s, pid_t pid)
{
	if (!s)
		return;
	sym_unwind__forget(s, pid);
	process_free(sym_htab__remove(&s->procs, pid_hash(pid), proc_eq, &pid));
}

/* ---- frames ------------------------------------------------------------- */

static const struct sym_mapping *mapping_find(const struct sym_process *proc,
					      uint64_t addr)
{
	size_t lo = sym_sorted__count_le(proc->maps, proc->n_maps, sizeof(*proc->maps),
					 addr);

	if (lo == 0 || addr >= proc->maps[lo - 1].end)
		return NULL;
	return &proc->maps[lo - 1];
}

static void frame_count(struct sym_session *s, const struct sym_frame *f)
{
	s->stats.frames++;
	if (f->miss == SYM_MISS_NONE)
		s->stats.resolved++;
	else
		s->stats.misses[f->miss]++;
}

static const char *vsyscall_name(uint64_t offset)
{
	/* The legacy vsyscall page has three fixed entry points. */
	switch (offset >> 10) {
	case 0: return "gettimeofday";
	case 1: return "time";
	case 2: return "getcpu";
	default: return NULL;
	}
}

/* Fills f from mapping m; returns 0 or -ENOMEM. */
static int frame_from_mapping(struct sym_session *s, const struct sym_mapping *m,
			      uint64_t addr, struct sym_frame *f)
{
	const char *name = NULL;
	uint64_t vaddr;

	f->module = m->module;
	f->offset = addr - m->start + m->offset;
	f->miss = SYM_MISS_NO_SYMBOL;
	switch (m->kind) {
	case SYM_MAP_FILE:
	case SYM_MAP_VDSO:
		if (!m->bin || !m->bin->elf) {
			f->miss = m->fail ? m->fail : SYM_MISS_NO_FILE;
			break;
		}
		f->build_id = m->bin->build_id;
		if (sym_elf__offset_to_vaddr(m->bin->elf, f->offset, &vaddr) == 0)
			name = sym_elf__lookup(m->bin->elf, vaddr);
		break;
	case SYM_MAP_VSYSCALL:
		name = vsyscall_name(addr - m->start);
		break;
	case SYM_MAP_ANON:
		f->kind = SYM_FRAME_JIT;
		f->offset = addr - m->start;
		break;
	case SYM_MAP_SPECIAL:
		f->offset = addr - m->start;
		break;
	}
	if (name) {
		f->miss = SYM_MISS_NONE;
		f->name = sym_strings__intern(&s->strings, name, strlen(name));
	} else {
		f->name = sym_strings__printf(&s->strings, "%s+0x%" PRIx64, m->base,
					      f->offset);
	}
	return f->name ? 0 : -ENOMEM;
}

/*
 * The mapping of pid that holds addr, snapshotting the process if it was
 * never noted and re-reading it once for code mapped later (dlopen). NULL
 * with *ret_miss set when there is none. Returns 0 or -ENOMEM.
 */
static int find_mapping(struct sym_session *s, pid_t pid, uint64_t addr,
			const struct sym_mapping **ret_m, enum sym_miss *ret_miss)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	int r = 0;

	*ret_miss = SYM_MISS_NO_PROCESS;
	proc = process_find(s, pid);
	/* Never noted, or unreadable last time (not gone): try now. */
	if (!proc || (!proc->snapshotted && !proc->gone &&
		      common_now_ns() - proc->read_ns >= REFRESH_INTERVAL_NS)) {
		r = sym_session__note_process(s, pid);
		proc = process_find(s, pid);
	}
	if (proc && proc->snapshotted) {
		m = mapping_find(proc, addr);
		/* Code mapped after the snapshot (dlopen): re-read once, and
		 * not more than once a second per process. */
		if (!m && !proc->gone &&
		    common_now_ns() - proc->read_ns >= REFRESH_INTERVAL_NS) {
			r = sym_session__note_process(s, pid);
			m = mapping_find(proc, addr);
		}
		*ret_miss = SYM_MISS_NO_MAPPING;
	}
	*ret_m = m;
	return r == -ENOMEM ? r : 0;
}

int sym_session__user(struct sym_session *s, pid_t pid, uint64_t addr,
		      struct sym_frame *ret_frame)
{
	struct sym_frame f = {
		.name = unknown,
		.module = unknown,
		.addr = addr,
		.kind = SYM_FRAME_USER,
	};
	const struct sym_mapping *m = NULL;
	int r;

	r = find_mapping(s, pid, addr, &m, &f.miss);
	if (r == -ENOMEM)
		goto out;
	r = m ? frame_from_mapping(s, m, addr, &f) : 0;
	if (r < 0) {
		f.name = unknown;
		f.module = unknown;
	}
out:
	frame_count(s, &f);
	*ret_frame = f;
	return r == -ENOMEM ? r : 0;
}

int sym_session__exe(struct sym_session *s, pid_t pid, uint64_t *ret_start,
		     uint64_t *ret_end, bool *ret_wants_dwarf)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;

	proc = process_find(s, pid);
	if (!proc || !proc->snapshotted) {
		if (sym_session__note_process(s, pid) == -ENOMEM)
			return -ENOMEM;
		proc = process_find(s, pid);
	}
	if (!proc || !proc->snapshotted)
		return -ESRCH;
	/* The executable is mapped below its libraries (PIE at 0x55..., fixed
	 * at 0x400000; libraries near the top of the address space). */
	for (size_t i = 0; i < proc->n_maps && !m; i++)
		if (proc->maps[i].kind == SYM_MAP_FILE)
			m = &proc->maps[i];
	if (!m || !m->bin || !m->bin->elf)
		return -ENOENT;
	*ret_start = m->start;
	*ret_end = m->end;
	*ret_wants_dwarf = m->bin->elf->cfi.eh_frame &&
			   !sym_cfi__has_frame_pointers(&m->bin->elf->cfi);
	return 0;
}

int sym_session__locate(struct sym_session *s, pid_t pid, uint64_t addr,
			const struct sym_elf **ret_elf, uint64_t *ret_bias,
			uint64_t *ret_start, uint64_t *ret_end)
{
	const struct sym_mapping *m = NULL;
	enum sym_miss miss;
	uint64_t vaddr;

	if (find_mapping(s, pid, addr, &m, &miss) < 0 || !m || !m->bin || !m->bin->elf)
		return -ENOENT;
	if (sym_elf__offset_to_vaddr(m->bin->elf, m->offset, &vaddr) < 0)
		return -ENOENT;
	*ret_elf = m->bin->elf;
	*ret_bias = m->start - vaddr;
	*ret_start = m->start;
	*ret_end = m->end;
	return 0;
}

int sym_session__kernel(struct sym_session *s, uint64_t addr,
			struct sym_frame *ret_frame)
{
	struct sym_frame f = {
		.module = "[kernel.kallsyms]",
		.addr = addr,
		.offset = addr,
		.kind = SYM_FRAME_KERNEL,
		.miss = SYM_MISS_NO_SYMBOL,
	};
	const char *name, *module;
	int r = 0;

	if (!s->kernel_tried && !s->no_kernel) {
		char path[4096];

		s->kernel_tried = true;
		snprintf(path, sizeof(path), "%s/proc/kallsyms", s->root);
		/* Without kallsyms kernel frames keep their address. */
		r = sym_kernel__load(path, &s->kernel);
		if (r != -ENOMEM)
			r = 0;
	}
	if (r == 0 && s->kernel && sym_kernel__lookup(s->kernel, addr, &name, &module) == 0) {
		f.name = sym_strings__intern(&s->strings, name, strlen(name));
		if (module)
			f.module = sym_strings__intern(&s->strings, module, strlen(module));
		f.miss = SYM_MISS_NONE;
	} else {
		f.name = sym_strings__printf(&s->strings, "[kernel]+0x%" PRIx64, addr);
	}
	if (!f.name || !f.module) {
		r = -ENOMEM;
		f.name = unknown;
		f.module = "[kernel.kallsyms]";
		f.miss = SYM_MISS_NO_SYMBOL;
	}
	frame_count(s, &f);
	*ret_frame = f;
	return r;
}

/* ---- session ------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	char *p;

	return asprintf(&p, "%s%s", a, b) < 0 ? NULL : p;
}

int sym_session__new(const struct sym_options *opts, struct sym_session **ret_session)
{
	struct sym_session *s;
	const char *root = opts && opts->root ? opts->root : "";
	size_t len = strlen(root);

	/* "/" and "/x/" become "" and "/x" so paths join with "/proc". */
	while (len > 0 && root[len - 1] == '/')
		len--;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root = strndup(root, len);
	if (!s->root)
		goto nomem;
	if (!opts || !opts->debug_dir)
		s->debug_dir = path_join(s->root, "/usr/lib/debug");
	else if (opts->debug_dir[0])
		s->debug_dir = strdup(opts->debug_dir);
	if ((!opts || !opts->debug_dir || opts->debug_dir[0]) && !s->debug_dir)
		goto nomem;
	s->no_kernel = opts && opts->no_kernel;
	*ret_session = s;
	return 0;
nomem:
	sym_session__free(s);
	return -ENOMEM;
}

static void key_free(void *k)
{
	free(k);
}

void sym_session__free(struct sym_session *s)
{
	if (!s)
		return;
	sym_htab__fini(&s->procs, process_free);
	sym_htab__fini(&s->keys, key_free);
	sym_htab__fini(&s->ids, NULL);
	for (size_t i = 0; i < s->n_bins; i++) {
		sym_elf__free(s->bins[i]->elf);
		free(s->bins[i]);
	}
	free(s->bins);
	free(s->vdso_image);
	sym_kernel__free(s->kernel);
	sym_strings__fini(&s->strings);
	free(s->debug_dir);
	free(s->root);
	free(s);
}

void sym_session__stats(const struct sym_session *s, struct sym_stats *ret_stats)
{
	*ret_stats = s->stats;
}
