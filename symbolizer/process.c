/* SPDX-License-Identifier: Apache-2.0 */
/*
 * process.c — process snapshots: for each pid, the executable mappings of
 * ROOT/proc/PID/maps and the binary behind each one (binary.c), taken when
 * the process is noted and kept after it exits; the mapping holding an
 * address, re-read once for code mapped later (dlopen); and what the
 * unwinder asks of a process (the binary at an address and its bias, the
 * image covering an address, the signal trampolines; the reads it could
 * not get counted); and what python.c asks of the session (a process's
 * file-backed mappings, the DWARF of the binary at an address, interned
 * strings, its Python state). A process's files
 * are opened inside its root (binary.c, file.c); a JIT process's perf map
 * only as its own user's (or root's) regular file, read bounded, its
 * bytes counted as the process's memory.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void process_free(struct sym_process *proc)
{
	if (!proc)
		return;
	if (proc->maps_fd >= 0)
		close(proc->maps_fd);
	free(proc->maps);
	free(proc->sig);
	sym_perfmap__free(proc->perfmap);
	free(proc);
}

void *sym_pid_map__add(struct common_map *m, pid_t pid, size_t size, bool *ret_new)
{
	struct sym_pid_slot *e = common_map__find(m, &sym_pid_type, &pid);
	void *obj;

	*ret_new = !e;
	if (e)
		return e->obj;
	obj = calloc(1, size);
	if (!obj || common_map__insert(m, &sym_pid_type, &pid, (void **)&e) < 0) {
		free(obj);
		return NULL;
	}
	e->obj = obj;
	return obj;
}

void *sym_pid_map__remove(struct common_map *m, pid_t pid)
{
	struct sym_pid_slot e = { 0 };

	common_map__remove(m, &sym_pid_type, &pid, &e);
	return e.obj;
}

static struct sym_process *process_find(const struct sym_session *s, pid_t pid)
{
	return sym_pid_map__find(&s->procs, pid);
}

void sym_processes__fini(struct sym_session *s)
{
	struct sym_pid_slot *e;
	size_t pos = 0;

	while ((e = common_map__next(&s->procs, &sym_pid_type, &pos)))
		process_free(e->obj);
	common_map__fini(&s->procs);
	free(s->maps_text);
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
		r = sym_binary__of_file(s, pid, e, &m);
	else if (e->kind == SYM_MAP_VDSO)
		r = sym_binary__of_vdso(s, pid, e, &m);
	if (r < 0)
		return r;
	if (m.bin)
		m.fail = m.bin->fail;
	*ret = m;
	return 0;
}

static void unwatch(struct sym_session *s, struct sym_process *proc)
{
	if (proc->maps_fd < 0)
		return;
	close(proc->maps_fd);
	proc->maps_fd = -1;
	s->watched--;
}

/*
 * The executable mappings of proc: through its kept maps fd when reuse
 * allows (a re-read of a watched process: no path walk, no open), else
 * from a new open, kept when watch asks (and fewer than MAX_WATCHED are).
 * A kept fd that reads -ESRCH may be bound to the address space of
 * before an exec: a new open decides.
 */
#define MAX_WATCHED 128

static int read_maps(struct sym_session *s, struct sym_process *proc,
		     bool reuse, bool watch, struct sym_maps_entry **ret_entries,
		     size_t *ret_n)
{
	int fd, r;

	if (reuse && proc->maps_fd >= 0) {
		r = sym_maps__read_fd(proc->maps_fd, &s->maps_text, &s->maps_cap,
				      ret_entries, ret_n);
		/* Empty: the text path's answer for a gone address space. */
		if (r == 0 && *ret_n == 0)
			sym_maps__free(*ret_entries, 0);
		else if (r != -ESRCH)
			return r;
	}
	unwatch(s, proc);
	r = sym_maps__open(s->root, proc->pid, &fd);
	if (r < 0)
		return r;
	r = sym_maps__read_fd(fd, &s->maps_text, &s->maps_cap, ret_entries, ret_n);
	if (r == 0 && watch && s->watched < MAX_WATCHED) {
		proc->maps_fd = fd;
		s->watched++;
	} else {
		close(fd);
	}
	return r;
}

/* Whether pid's root is ROOT: its perf map is then ROOT/tmp/perf-PID.map
 * also after it exits. */
static bool same_root(struct sym_session *s, pid_t pid)
{
	struct sym_fs fs = { .root_fd = -1 };

	if (s->root[0] || sym_fs__open_root(&fs, s->root, pid, &s->own_root) < 0)
		return false;
	if (fs.root_fd < 0)
		return true;
	close(fs.root_fd);
	return false;
}

int sym_process__note(struct sym_session *s, pid_t pid, bool reuse, bool watch)
{
	struct sym_maps_entry *entries = NULL;
	struct sym_mapping *maps = NULL;
	struct sym_process *proc;
	size_t n = 0;
	bool fresh;
	int r;

	proc = sym_pid_map__add(&s->procs, pid, sizeof(*proc), &fresh);
	if (!proc)
		return -ENOMEM;
	if (fresh) {
		proc->pid = pid;
		proc->maps_fd = -1;
		s->proc_memory += sizeof(*proc);
	}
	proc->read_ns = common_now_ns();
	r = read_maps(s, proc, reuse, watch, &entries, &n);
	/* A zombie has an empty maps file; keep what was seen before. */
	if (r == 0 && n == 0 && proc->snapshotted)
		r = -ESRCH;
	if (r < 0) {
		/* The earlier snapshot, if any, stays: it is what the samples
		 * of the exited process need. */
		proc->gone = r == -ESRCH;
		goto out;
	}
	/* Re-read while young and unchanged (the common case): keep the
	 * snapshot rather than look every file up again. */
	if (proc->snapshotted && n == proc->n_maps) {
		bool same = true;

		for (size_t i = 0; i < n && same; i++)
			same = entries[i].start == proc->maps[i].start &&
			       entries[i].end == proc->maps[i].end &&
			       entries[i].offset == proc->maps[i].offset &&
			       entries[i].kind == proc->maps[i].kind;
		if (same) {
			proc->gone = false;
			goto out;
		}
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
		if (entries[i].kind == SYM_MAP_ANON && !proc->jit) {
			/* a JIT: its perf map may be read after it exits,
			 * as its user's file in its root */
			char path[4096];
			struct stat st;

			proc->jit = true;
			proc->host_root = same_root(s, pid);
			snprintf(path, sizeof(path), "%s/proc/%d", s->root, (int)pid);
			if (stat(path, &st) == 0) {
				proc->uid = st.st_uid;
				proc->uid_known = true;
			}
		}
	}
	/* Other code may be at the addresses libunwind cached (an exec):
	 * unwind.c compares the generation before it uses its cache. */
	proc->generation = ++s->maps_generation;
	free(proc->maps);
	s->proc_memory += (n - proc->n_maps) * sizeof(*maps);
	proc->maps = maps;
	proc->n_maps = n;
	maps = NULL;
	s->proc_memory -= proc->n_sig * sizeof(*proc->sig);
	free(proc->sig);
	proc->sig = NULL;
	proc->n_sig = 0;
	proc->sig_known = false;
	if (!proc->snapshotted)
		s->stats.processes++;
	proc->snapshotted = true;
	proc->gone = false;
out:
	sym_binary__close_root(s);
	free(maps);
	sym_maps__free(entries, n);
	return r;
}

void sym_session__unwatch_process(struct sym_session *s, pid_t pid)
{
	struct sym_process *proc = s ? process_find(s, pid) : NULL;

	if (proc)
		unwatch(s, proc);
}

void sym_process__forget(struct sym_session *s, pid_t pid)
{
	struct sym_process *proc = sym_pid_map__remove(&s->procs, pid);

	if (proc) {
		s->proc_memory -= sizeof(*proc) + proc->n_maps * sizeof(*proc->maps) +
				  sym_perfmap__memory(proc->perfmap);
		unwatch(s, proc);
	}
	process_free(proc);
}

static const struct sym_mapping *mapping_find(const struct sym_process *proc,
					      uint64_t addr)
{
	size_t lo = sym_sorted__count_le(proc->maps, proc->n_maps, sizeof(*proc->maps),
					 addr);

	if (lo == 0 || addr >= proc->maps[lo - 1].end)
		return NULL;
	return &proc->maps[lo - 1];
}

/* The process, noted now if it never was, or was unreadable last time
 * (not gone; at most once a second). *ret_proc may be NULL, or not
 * snapshotted. Returns 0 or -ENOMEM. */
static int process_get(struct sym_session *s, pid_t pid, struct sym_process **ret_proc)
{
	struct sym_process *proc = process_find(s, pid);
	int r = 0;

	if (!proc || (!proc->snapshotted && !proc->gone &&
		      common_now_ns() - proc->read_ns >= REFRESH_INTERVAL_NS)) {
		r = sym_process__note(s, pid, true, false);
		proc = process_find(s, pid);
	}
	*ret_proc = proc;
	return r == -ENOMEM ? r : 0;
}

int sym_process__mapping(struct sym_session *s, pid_t pid, uint64_t addr,
			 struct sym_process **ret_proc, const struct sym_mapping **ret_m,
			 enum sym_miss *ret_miss)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	int r;

	*ret_miss = SYM_MISS_NO_PROCESS;
	r = process_get(s, pid, &proc);
	if (proc && proc->snapshotted) {
		m = mapping_find(proc, addr);
		/* Code mapped after the snapshot (dlopen): re-read once, and
		 * not more than once a second per process (a millisecond
		 * while it is watched). */
		if (!m && !proc->gone &&
		    common_now_ns() - proc->read_ns >= (proc->maps_fd >= 0 ? REFRESH_WATCHED_NS
									  : REFRESH_INTERVAL_NS)) {
			r = sym_process__note(s, pid, true, false);
			m = mapping_find(proc, addr);
		}
		*ret_miss = SYM_MISS_NO_MAPPING;
	}
	*ret_proc = proc;
	*ret_m = m;
	return r == -ENOMEM ? r : 0;
}

/* ---- JIT code: the process's perf map ----------------------------------- */

/* A perf map is read up to its last 64 MiB (or a quarter of the memory
 * bound): a long-running JIT's map grows without end. */
#define SYM_PERFMAP_MAX_BYTES (64ULL << 20)

/* The pid of pid in its own pid namespace (the NStgid line of its status),
 * or pid itself. */
static pid_t ns_pid(const struct sym_session *s, pid_t pid)
{
	char path[4096], line[256];
	pid_t ns = pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/%d/status", s->root, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NStgid:", 7) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		last = strrchr(line, '\t');
		if (last && atoi(last + 1) > 0)
			ns = atoi(last + 1);
		break;
	}
	fclose(f);
	return ns;
}

/*
 * Open the perf map of proc, as perf does and more strictly: the file the
 * process itself calls /tmp/perf-NSPID.map (in its root and pid
 * namespace; for an exited process, ROOT/tmp/perf-PID.map when its root
 * was ROOT), a regular file, not a symlink, owned by root or by the
 * process's user (a map written by anyone else could name a root
 * process's frames). Returns an fd or -errno.
 */
static int perfmap_open(struct sym_session *s, struct sym_process *proc)
{
	struct sym_fs fs = { .root_fd = -1, .refused = s->stats.refused };
	struct sym_file_rules rules = { .flags = SYM_FILE_NOFOLLOW | SYM_FILE_OWNER };
	char path[4096];
	struct stat st;
	int fd;

	/* its user now (a server may have dropped root since it started) */
	snprintf(path, sizeof(path), "%s/proc/%d", s->root, (int)proc->pid);
	if (stat(path, &st) == 0) {
		rules.owner = st.st_uid;
		if (sym_fs__open_root(&fs, s->root, proc->pid, &s->own_root) < 0)
			return -ESRCH;
		snprintf(path, sizeof(path), "/tmp/perf-%d.map",
			 (int)(fs.root_fd >= 0 ? ns_pid(s, proc->pid) : proc->pid));
	} else if (proc->host_root && proc->uid_known) {
		rules.owner = proc->uid;
		snprintf(path, sizeof(path), "%s/tmp/perf-%d.map", s->root, (int)proc->pid);
	} else {
		return -ESRCH;
	}
	fd = sym_file_open(&fs, path, &rules, NULL);
	if (fs.root_fd >= 0)
		close(fs.root_fd);
	return fd;
}

/*
 * The JIT symbol at addr from the process's perf map (perfmap_open()):
 * read on the first JIT address of the process, and again on a miss at
 * most once a second while the process lives (the JIT keeps appending).
 * The file usually outlives the process, so an exited process still gets
 * a first read. What the map holds counts as the process's memory.
 */
const char *sym_process__jit_name(struct sym_session *s, struct sym_process *proc,
				  uint64_t addr)
{
	const char *name = proc->perfmap ? sym_perfmap__lookup(proc->perfmap, addr) : NULL;
	uint64_t now = common_now_ns();
	struct sym_fs fs = { .root_fd = -1, .refused = s->stats.refused };
	struct sym_perfmap *fresh;
	int fd, r;

	if (name || (proc->perfmap_ns &&
		     (proc->gone || now - proc->perfmap_ns < REFRESH_INTERVAL_NS)))
		return name;
	proc->perfmap_ns = now;
	fd = perfmap_open(s, proc);
	if (fd < 0)
		return NULL;
	r = sym_perfmap__read_fd(fd, MIN(SYM_PERFMAP_MAX_BYTES, s->max_memory / 4), &fs, &fresh);
	close(fd);
	if (r < 0)
		return NULL;
	s->proc_memory -= sym_perfmap__memory(proc->perfmap);
	sym_perfmap__free(proc->perfmap);
	proc->perfmap = fresh;
	s->proc_memory += sym_perfmap__memory(fresh);
	return sym_perfmap__lookup(fresh, addr);
}

/* ---- what the unwinder asks of a process --------------------------------- */

/* The mapping of proc's executable, or NULL: it is mapped below its
 * libraries (PIE at 0x55..., fixed at 0x400000; libraries near the top of
 * the address space), so the first file mapping. */
static const struct sym_mapping *exe_mapping(const struct sym_process *proc)
{
	for (size_t i = 0; i < proc->n_maps; i++)
		if (proc->maps[i].kind == SYM_MAP_FILE)
			return &proc->maps[i];
	return NULL;
}

int sym_session__exe(struct sym_session *s, pid_t pid, bool *ret_wants_dwarf)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;

	proc = process_find(s, pid);
	if (!proc || !proc->snapshotted) {
		if (sym_process__note(s, pid, true, false) == -ENOMEM)
			return -ENOMEM;
		proc = process_find(s, pid);
	}
	if (!proc || !proc->snapshotted)
		return -ESRCH;
	m = exe_mapping(proc);
	if (!m || !m->bin || !sym_binary__elf(s, m->bin))
		return -ENOENT;
	*ret_wants_dwarf = m->bin->elf->cfi.eh_frame &&
			   !sym_cfi__has_frame_pointers(&m->bin->elf->cfi);
	return 0;
}

/* Whether proc maps a file python.c would look at for a CPython. */
static bool maps_python(const struct sym_process *proc)
{
	for (size_t i = 0; i < proc->n_maps; i++)
		if (proc->maps[i].kind == SYM_MAP_FILE && strstr(proc->maps[i].base, "python"))
			return true;
	return false;
}

bool sym_session__settled_process(struct sym_session *s, pid_t pid, bool done)
{
	const struct sym_process *proc = process_find(s, pid);
	const struct sym_mapping *m;
	struct sym_binary *exe;
	bool python;

	if (!proc || !proc->snapshotted)
		return false;
	m = exe_mapping(proc);
	exe = m ? m->bin : NULL;
	if (!exe)
		return false;
	python = maps_python(proc);
	if (done) {
		if (proc->n_maps > exe->settled_maps)
			exe->settled_maps = (uint32_t)proc->n_maps;
		exe->python_maps |= python;
	}
	return !python && exe->settled_maps && proc->n_maps >= exe->settled_maps;
}

bool sym_session__exec_settled(struct sym_session *s, pid_t pid)
{
	const struct sym_binary *exe;
	char path[4096];
	struct stat st;

	/* A stat of the kernel's link to the file exec'd: nothing of the
	 * file is read, and a file replaced or rewritten since the binary
	 * was loaded (another inode or ctime) is not found. */
	snprintf(path, sizeof(path), "%s/proc/%d/exe", s->root, (int)pid);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	exe = sym_binary__of_identity(s, &st);
	return exe && exe->settled_maps && !exe->python_maps;
}

int sym_session__exe_id(struct sym_session *s, pid_t pid, struct sym_file_id *ret_id)
{
	char path[4096];
	struct stat st;

	/* The link the kernel keeps to the file exec'd: what an exec of the
	 * same file is recognised by. */
	snprintf(path, sizeof(path), "%s/proc/%d/exe", s->root, (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	*ret_id = (struct sym_file_id){ .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

int sym_session__locate(struct sym_session *s, pid_t pid, uint64_t addr,
			const struct sym_elf **ret_elf, struct sym_binary **ret_bin,
			uint64_t *ret_bias, uint64_t *ret_start, uint64_t *ret_end)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	enum sym_miss miss;
	uint64_t vaddr;

	if (sym_process__mapping(s, pid, addr, &proc, &m, &miss) < 0 || !m || !m->bin ||
	    !sym_binary__elf(s, m->bin))
		return -ENOENT;
	if (!m->has_bias) {
		if (sym_elf__offset_to_vaddr(m->bin->elf, m->offset, &vaddr) < 0)
			return -ENOENT;
		/* (The snapshot's own entry: only the cached bias changes.) */
		((struct sym_mapping *)m)->bias = m->start - vaddr;
		((struct sym_mapping *)m)->has_bias = true;
	}
	*ret_elf = m->bin->elf;
	if (ret_bin)
		*ret_bin = m->bin;
	*ret_bias = m->bias;
	*ret_start = m->start;
	*ret_end = m->end;
	return 0;
}

int sym_session__locate_image(struct sym_session *s, pid_t pid, uint64_t addr,
			      struct sym_binary **ret_bin, uint64_t *ret_bias)
{
	struct sym_process *proc = process_find(s, pid);

	if (!proc || !proc->snapshotted)
		return -ENOENT;
	for (size_t i = 0; i < proc->n_maps; i++) {
		struct sym_mapping *m = &proc->maps[i];
		uint64_t vaddr;

		if (!m->bin || !m->bin->image_hi)
			continue;
		/* The bias is learnt while the binary is loaded (reloading
		 * every evicted binary of the process to test one address
		 * would cost more than the read is worth). */
		if (!m->has_bias) {
			if (!m->bin->elf ||
			    sym_elf__offset_to_vaddr(m->bin->elf, m->offset, &vaddr) < 0)
				continue;
			m->bias = m->start - vaddr;
			m->has_bias = true;
		}
		if (addr - m->bias >= m->bin->image_lo && addr - m->bias < m->bin->image_hi) {
			*ret_bin = m->bin;
			*ret_bias = m->bias;
			return 0;
		}
	}
	return -ENOENT;
}

int sym_session__signal_ranges(struct sym_session *s, pid_t pid,
			       const struct sym_cfi_range **ret_ranges, size_t *ret_n)
{
	struct sym_process *proc;

	if (process_get(s, pid, &proc) < 0)
		return -ENOMEM;
	if (!proc || !proc->snapshotted)
		return -ENOENT;
	for (size_t i = 0; i < proc->n_maps && !proc->sig_known; i++) {
		struct sym_mapping *m = &proc->maps[i];
		const struct sym_elf *e;
		uint64_t vaddr;

		if (!m->bin || !m->bin->has_sig || !(e = sym_binary__elf(s, m->bin)))
			continue;
		if (!m->has_bias) {
			if (sym_elf__offset_to_vaddr(e, m->offset, &vaddr) < 0)
				continue;
			m->bias = m->start - vaddr;
			m->has_bias = true;
		}
		for (size_t k = 0; k < e->cfi.n_sig; k++) {
			struct sym_cfi_range r = { e->cfi.sig[k].lo + m->bias,
						   e->cfi.sig[k].hi + m->bias }, *p;
			bool dup = false;

			/* (a binary with several executable mappings) */
			for (size_t j = 0; j < proc->n_sig && !dup; j++)
				dup = proc->sig[j].lo == r.lo && proc->sig[j].hi == r.hi;
			if (dup)
				continue;
			p = reallocarray(proc->sig, proc->n_sig + 1, sizeof(*p));
			if (!p)
				return -ENOMEM;
			proc->sig = p;
			proc->sig[proc->n_sig++] = r;
			s->proc_memory += sizeof(*p);
		}
	}
	proc->sig_known = true;
	*ret_ranges = proc->sig;
	*ret_n = proc->n_sig;
	return 0;
}

uint64_t sym_session__maps_generation(const struct sym_session *s, pid_t pid)
{
	const struct sym_process *proc = process_find(s, pid);

	return proc ? proc->generation : 0;
}

void sym_session__count_unserved(struct sym_session *s, uint64_t reads)
{
	s->stats.unwind_unserved += reads;
}

void sym_session__trace_miss(struct sym_session *s, struct sym_unwind_miss *miss)
{
	const struct sym_process *proc;
	const struct sym_mapping *m;

	if (!s->unwind_trace)
		return;
	proc = process_find(s, miss->pid);
	miss->module = NULL;
	miss->map_start = miss->map_end = 0;
	miss->n_maps = 0;
	miss->maps_age_ns = UINT64_MAX;
	if (proc && proc->snapshotted) {
		m = mapping_find(proc, miss->addr);
		if (m) {
			miss->module = m->module;
			miss->map_start = m->start;
			miss->map_end = m->end;
		}
		miss->n_maps = proc->n_maps;
		miss->maps_age_ns = common_now_ns() - proc->read_ns;
	}
	s->unwind_trace(s->unwind_trace_arg, miss);
}

void sym_session__count_fast_unwind(struct sym_session *s)
{
	s->stats.unwind_fast++;
}

bool sym_session__signal_trampoline(struct sym_session *s, pid_t pid, uint64_t addr)
{
	const struct sym_cfi_range *r;
	size_t n;

	return sym_session__signal_ranges(s, pid, &r, &n) == 0 &&
	       sym_cfi__in_ranges(r, n, addr);
}

/* ---- for python.c ------------------------------------------------------- */

int sym_session__mapping(struct sym_session *s, pid_t pid, size_t i,
			 const char **ret_module, int *ret_fd, uint64_t *ret_start)
{
	struct sym_process *proc;

	if (process_get(s, pid, &proc) < 0)
		return -ENOMEM;
	if (!proc || !proc->snapshotted)
		return -ESRCH;
	for (size_t k = 0; k < proc->n_maps; k++) {
		const struct sym_mapping *m = &proc->maps[k];

		if (m->kind != SYM_MAP_FILE || i-- > 0)
			continue;
		*ret_module = m->module;
		*ret_fd = m->bin ? m->bin->fd : -1;
		*ret_start = m->start;
		return 0;
	}
	return -ENOENT;
}

struct sym_dwarf *sym_session__dwarf_at(struct sym_session *s, pid_t pid, uint64_t addr)
{
	const struct sym_mapping *m = NULL;
	struct sym_process *proc;
	enum sym_miss miss;

	if (sym_process__mapping(s, pid, addr, &proc, &m, &miss) < 0 || !m || !m->bin ||
	    !sym_binary__elf(s, m->bin))
		return NULL;
	m->bin->last_use = ++s->tick;
	return sym_binary__dwarf(s, m->bin);
}

const char *sym_session__intern(struct sym_session *s, const char *str, size_t len)
{
	return sym_strings__intern(&s->strings, str, len);
}

struct sym_py **sym_session__py(struct sym_session *s)
{
	return &s->py;
}
