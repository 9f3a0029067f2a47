/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler.c — the user-space half of the sampler, its handle: opens the
 * skeleton of profile.bpf.c, sizes its maps, opens one cpu-clock perf event
 * per online CPU and attaches the programs; writes the maps user space
 * owns (tracked tgids, unwinding choices, Python registrations) and reads
 * the per-CPU counters. The ring buffer reader is sampler-ring.c, the
 * flush's drain of the double-buffered maps sampler-drain.c (see
 * profile.bpf.c for why the flip plus map-in-map update is a safe
 * barrier); sampler-internal.h is what the three share.
 */
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "profile.h"
#include "profile.skel.h"
#include "sampler-internal.h"

/* sampler.h's constants are the kernel side's: one list of counters, the
 * same limits. */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " must equal " #b)
SAME(SAMPLER_STAT_SAMPLES, EMBER_STAT_SAMPLES);
SAME(SAMPLER_STAT_KSTACK_COLLISION, EMBER_STAT_KSTACK_COLLISION);
SAME(SAMPLER_STAT_USTACK_COLLISION, EMBER_STAT_USTACK_COLLISION);
SAME(SAMPLER_STAT_STACK_MAP_FULL, EMBER_STAT_STACK_MAP_FULL);
SAME(SAMPLER_STAT_COUNTS_MAP_FULL, EMBER_STAT_COUNTS_MAP_FULL);
SAME(SAMPLER_STAT_USTACK_FAULT, EMBER_STAT_USTACK_FAULT);
SAME(SAMPLER_STAT_STACK_OTHER_ERROR, EMBER_STAT_STACK_OTHER_ERROR);
SAME(SAMPLER_STAT_DROP_RINGBUF_FULL, EMBER_STAT_DROP_RINGBUF_FULL);
SAME(SAMPLER_STAT_DROP_RAW_STACK, EMBER_STAT_DROP_RAW_STACK);
SAME(SAMPLER_STAT_EVENT_LOST, EMBER_STAT_EVENT_LOST);
SAME(SAMPLER_STAT_TRACKED_FULL, EMBER_STAT_TRACKED_FULL);
SAME(SAMPLER_STAT_DWARF_SAMPLES, EMBER_STAT_DWARF_SAMPLES);
SAME(SAMPLER_STAT_DROP_DWARF_RINGBUF, EMBER_STAT_DROP_DWARF_RINGBUF);
SAME(SAMPLER_STAT_SNAPSHOT_SHORT, EMBER_STAT_SNAPSHOT_SHORT);
SAME(SAMPLER_STAT__COUNT, EMBER_STAT__COUNT);
SAME(SAMPLER_MAX_SNAPSHOT, EMBER_MAX_SNAPSHOT);
SAME(SAMPLER_NUM_REGS, EMBER_NUM_REGS);
SAME(SAMPLER_MAX_STACK_DEPTH, EMBER_MAX_STACK_DEPTH);
#undef SAME

_Static_assert(sizeof(struct sampler_py_frame) == sizeof(struct ember_py_frame) &&
	       offsetof(struct sampler_py_frame, ident) == offsetof(struct ember_py_frame, ident) &&
	       offsetof(struct sampler_py_frame, lasti) == offsetof(struct ember_py_frame, lasti) &&
	       offsetof(struct sampler_py_frame, flags) == offsetof(struct ember_py_frame, flags),
	       "sampler_py_frame and ember_py_frame must match");
_Static_assert(SAMPLER_PY_MAX_FRAMES == EMBER_PY_MAX_FRAMES &&
	       SAMPLER_PY_ENTRY == EMBER_PY_ENTRY &&
	       SAMPLER_PY_DEPTH == EMBER_PY_WALK_DEPTH && SAMPLER_PY_FAULT == EMBER_PY_WALK_FAULT &&
	       SAMPLER_PY_NOT_CODE == EMBER_PY_WALK_NOT_CODE,
	       "the Python constants of sampler.h and profile.h must match");

static __thread char last_error[256] = "";

const char *sampler_last_error(void)
{
	return last_error[0] ? last_error : "no error";
}

static void set_error(const char *fmt, const char *what, int err)
{
	snprintf(last_error, sizeof(last_error), fmt, what);
	if (err) {
		size_t n = strlen(last_error);

		snprintf(last_error + n, sizeof(last_error) - n, ": %s",
			 strerror(-err));
	}
}

static const char *const stat_names[SAMPLER_STAT__COUNT] = {
	[SAMPLER_STAT_SAMPLES] = "samples",
	[SAMPLER_STAT_KSTACK_COLLISION] = "stack-collision-kernel",
	[SAMPLER_STAT_USTACK_COLLISION] = "stack-collision-user",
	[SAMPLER_STAT_STACK_MAP_FULL] = "stack-map-full",
	[SAMPLER_STAT_COUNTS_MAP_FULL] = "counts-map-full",
	[SAMPLER_STAT_USTACK_FAULT] = "user-stack-unreadable",
	[SAMPLER_STAT_STACK_OTHER_ERROR] = "stack-error-other",
	[SAMPLER_STAT_DROP_RINGBUF_FULL] = "ring-buffer-full",
	[SAMPLER_STAT_DROP_RAW_STACK] = "raw-stack-failed",
	[SAMPLER_STAT_EVENT_LOST] = "process-event-lost",
	[SAMPLER_STAT_TRACKED_FULL] = "tracked-map-full",
	[SAMPLER_STAT_DWARF_SAMPLES] = "dwarf-samples",
	[SAMPLER_STAT_DROP_DWARF_RINGBUF] = "dwarf-ring-buffer-full",
	[SAMPLER_STAT_SNAPSHOT_SHORT] = "snapshot-reached-stack-end",
	[SAMPLER_STAT_PY_SAMPLES] = "python-samples",
	[SAMPLER_STAT_PY_NO_THREAD] = "python-no-thread-state",
	[SAMPLER_STAT_PY_NO_FRAME] = "python-no-frame-running",
	[SAMPLER_STAT_PY_READ_FAULT] = "python-read-fault",
	[SAMPLER_STAT_PY_NOT_CODE] = "python-not-a-code-object",
	[SAMPLER_STAT_PY_DEPTH] = "python-depth-cut",
	[SAMPLER_STAT_PY_RINGBUF_FULL] = "python-frames-lost",
};

const char *sampler_stat_name(enum sampler_stat stat)
{
	if (stat >= SAMPLER_STAT__COUNT)
		return "unknown";
	return stat_names[stat];
}

bool sampler_stat_is_drop(enum sampler_stat stat)
{
	return stat == SAMPLER_STAT_DROP_RINGBUF_FULL ||
	       stat == SAMPLER_STAT_DROP_RAW_STACK ||
	       stat == SAMPLER_STAT_DROP_DWARF_RINGBUF;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	/* Library modules do not print; libbpf's own chatter stays off unless
	 * asked for while debugging. */
	if (getenv("EMBER_DEBUG_LIBBPF"))
		return vfprintf(stderr, fmt, args);
	return 0;
}

/* Parse a CPU list like "0-3,5,7-8" into a bitmap of n bits. */
static int parse_cpu_list(const char *s, bool *cpus, int n)
{
	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s)
			return -EINVAL;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1)
				return -EINVAL;
			s = end;
		}
		for (long i = a; i <= b && i < n; i++)
			if (i >= 0)
				cpus[i] = true;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int read_online_cpus(bool *cpus, int n)
{
	char buf[1024];
	ssize_t len;
	int fd, err;

	fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	err = len < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[len] = '\0';
	return parse_cpu_list(buf, cpus, n);
}

static long read_max_sample_rate(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int open_cpu_clock(int cpu, unsigned freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = freq,
		.freq = 1,
	};
	int fd;

	fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Bytes of ring buffer for this rate, CPU count and unwinding mode (see
 * EMBER_RING_SECONDS). 4 MB at any rate cost 8 MB of RSS (the double
 * mapping), a third of `ember record`'s, where 99 Hz on 2 CPUs needs 2 MB. */
static unsigned ring_bytes(const struct sampler_options *opts, unsigned snapshot, int ncpus)
{
	uint64_t per_sample = opts->unwind == SAMPLER_UNWIND_FP
				      ? sizeof(struct ember_ev_raw_sample)
				      : offsetof(struct ember_ev_dwarf_sample, stack) + snapshot;
	uint64_t want = (uint64_t)opts->freq_hz * (uint64_t)ncpus * per_sample * EMBER_RING_SECONDS;
	unsigned bytes = EMBER_MIN_RING_BYTES;

	while (bytes < want && bytes < EMBER_DEFAULT_RING_BYTES)
		bytes *= 2;
	return bytes;
}

/* Stack map entries per set for this rate and CPU count (see
 * EMBER_STACK_SECONDS). 8,192 entries, the least, are 8.5 MB of kernel
 * memory a set; at 999 Hz on 2 CPUs a 4-second run filled a fifth of
 * them with collisions, each walked again into the ring buffer. */
static unsigned stack_entries(const struct sampler_options *opts, int ncpus)
{
	uint64_t want = (uint64_t)opts->freq_hz * (uint64_t)ncpus * EMBER_STACK_SECONDS;
	unsigned n = EMBER_DEFAULT_STACK_ENTRIES;

	if (opts->stack_map_entries)
		return opts->stack_map_entries;
	while (n < want && n < EMBER_MAX_STACK_ENTRIES)
		n *= 2;
	return n;
}

/* Opens the skeleton, against the kernel types in the file btf_fd (-1:
 * the kernel's whole BTF, which libbpf reads), sets its read-only data and
 * map sizes from opts, and loads it. */
static int skel_load(struct sampler *s, const struct sampler_options *opts, int ncpus,
		     int btf_fd)
{
	char path[64];
	LIBBPF_OPTS(bpf_object_open_opts, o);
	int err;

	if (btf_fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", btf_fd);
		o.btf_custom_path = path;
	}
	s->skel = profile_bpf__open_opts(&o);
	if (!s->skel) {
		err = -errno;
		set_error("opening the %s BPF object", "sampler", err);
		return err;
	}
	s->skel->rodata->filter_mode = opts->filter == SAMPLER_FILTER_ALL ? EMBER_FILTER_ALL
				     : opts->filter == SAMPLER_FILTER_PIDS ? EMBER_FILTER_PIDS
				     : EMBER_FILTER_TREE;
	s->skel->rodata->include_idle = opts->include_idle;
	s->skel->rodata->unwind_mode = opts->unwind == SAMPLER_UNWIND_DWARF ? EMBER_UNWIND_DWARF
				     : opts->unwind == SAMPLER_UNWIND_AUTO ? EMBER_UNWIND_AUTO
				     : EMBER_UNWIND_FP;
	s->skel->rodata->snapshot_size = opts->snapshot_bytes ? opts->snapshot_bytes : EMBER_DEFAULT_SNAPSHOT;
	s->skel->rodata->path_stats = opts->path_stats;
	{
		unsigned se = stack_entries(opts, ncpus);
		unsigned ce = opts->counts_map_entries ? opts->counts_map_entries : EMBER_DEFAULT_COUNTS_ENTRIES;

		bpf_map__set_max_entries(s->skel->maps.stacks0, se);
		bpf_map__set_max_entries(s->skel->maps.stacks1, se);
		bpf_map__set_max_entries(s->skel->maps.counts0, ce);
		bpf_map__set_max_entries(s->skel->maps.counts1, ce);
		s->ring_bytes = ring_bytes(opts, s->skel->rodata->snapshot_size, ncpus);
		bpf_map__set_max_entries(s->skel->maps.events, s->ring_bytes);
		s->skel->rodata->wakeup_bytes = s->ring_bytes / 4;
		/* The maps a mode never uses get one entry: the kernel
		 * preallocates a hash's entries when it creates it, 1.5 ms
		 * of start-up for each 65,536-entry one. */
		if (opts->filter == SAMPLER_FILTER_ALL)
			bpf_map__set_max_entries(s->skel->maps.tracked, 1);
		if (opts->unwind != SAMPLER_UNWIND_AUTO) {
			bpf_map__set_max_entries(s->skel->maps.proc_unwind, 1);
			bpf_map__set_max_entries(s->skel->maps.exe_unwind, 1);
		}
	}
	err = profile_bpf__load(s->skel);
	if (err)
		set_error("loading the %s BPF programs into the kernel", "sampler", err);
	return err;
}

/* The small BTF for this kernel and object (sampler-btf.c): an fd of the
 * cache's entry, or of one made now (from the kernel's whole BTF, once
 * per kernel), or -errno when libbpf is to read the kernel's BTF itself.
 * Sets s->btf_source and s->btf_refused. */
static int btf_prepare(struct sampler *s, const char *cache_dir, const struct sampler_btf_key *key)
{
	struct profile_bpf *local = NULL;
	struct btf *kern = NULL;
	void *data = NULL;
	size_t len = 0;
	int fd, err;

	fd = sampler_btf__cached(cache_dir, key);
	if (fd >= 0) {
		s->btf_source = SAMPLER_BTF_CACHED;
		return fd;
	}
	if (fd != -ENOENT)
		s->btf_refused = fd;
	/* Made from the object's own BTF (the names its relocations start
	 * at) and the kernel's. */
	local = profile_bpf__open();
	kern = btf__load_vmlinux_btf();
	err = !local ? -errno : !kern ? -errno : 0;
	if (!err)
		err = sampler_btf__make(bpf_object__btf(local->obj), kern, key->name, &data, &len);
	btf__free(kern);
	profile_bpf__destroy(local);
	if (err) {
		if (!s->btf_refused)
			s->btf_refused = err;
		return err;
	}
	fd = sampler_btf__store(cache_dir, key, data, len);
	if (fd < 0) {
		/* Not cached (a read-only or untrusted directory): used
		 * from memory this once. */
		if (!s->btf_refused)
			s->btf_refused = fd;
		fd = sampler_btf__memfd(data, len);
	}
	free(data);
	if (fd >= 0)
		s->btf_source = SAMPLER_BTF_MADE;
	return fd;
}

/* Loads the programs against the small BTF where there is one, else (no
 * cache, a kernel without a build-id, an entry that fails to load)
 * against the kernel's whole BTF. */
static int open_and_load(struct sampler *s, const struct sampler_options *opts, int ncpus)
{
	struct sampler_btf_key key;
	const void *obj;
	size_t obj_len;
	int fd = -1, err;

	obj = profile_bpf__elf_bytes(&obj_len);
	if (opts->cache_dir && *opts->cache_dir && sampler_btf__key(obj, obj_len, &key) == 0)
		fd = btf_prepare(s, opts->cache_dir, &key);
	err = skel_load(s, opts, ncpus, fd);
	if (err && err != -EPERM && fd >= 0) {
		/* Not the kernel's types after all (a damaged entry that
		 * still parsed): forgotten, and loaded as without a cache.
		 * (-EPERM: not allowed to load BPF at all.) */
		sampler_btf__remove(opts->cache_dir, &key);
		profile_bpf__destroy(s->skel);
		s->skel = NULL;
		s->btf_refused = -EINVAL;
		s->btf_source = SAMPLER_BTF_KERNEL;
		err = skel_load(s, opts, ncpus, -1);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

int sampler__open(const struct sampler_options *opts,
		  struct sampler **ret_sampler)
{
	struct sampler *s = NULL;
	bool *online = NULL;
	long max_rate;
	int err, ncpus;

	last_error[0] = '\0';
	if (!opts || opts->freq_hz == 0) {
		set_error("sampling frequency must be at least 1 Hz", "", 0);
		return -EINVAL;
	}
	max_rate = read_max_sample_rate();
	if (max_rate > 0 && opts->freq_hz > max_rate) {
		snprintf(last_error, sizeof(last_error),
			 "sampling frequency %u Hz is above the kernel's limit of %ld Hz "
			 "(/proc/sys/kernel/perf_event_max_sample_rate)",
			 opts->freq_hz, max_rate);
		return -EINVAL;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		set_error("kernel BTF %s is missing", "/sys/kernel/btf/vmlinux", 0);
		return -ENOENT;
	}

	libbpf_set_print(libbpf_quiet);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		err = ncpus < 0 ? ncpus : -ENODEV;
		set_error("counting %s", "possible CPUs", err);
		goto fail;
	}
	s->n_possible_cpus = ncpus;

	if (opts->snapshot_bytes > EMBER_MAX_SNAPSHOT) {
		set_error("the stack snapshot size is limited to %s bytes", "32768", 0);
		err = -EINVAL;
		goto fail;
	}
	err = open_and_load(s, opts, ncpus);
	if (err)
		goto fail;

	err = sampler_rb__new(bpf_map__fd(s->skel->maps.events), s->ring_bytes,
			      sampler__ring_record, s, &s->rb);
	if (err) {
		set_error("creating the %s ring buffer reader", "event", err);
		goto fail;
	}

	online = calloc(ncpus, sizeof(*online));
	s->perf_fds = calloc(ncpus, sizeof(*s->perf_fds));
	s->links = calloc(ncpus, sizeof(*s->links));
	if (!online || !s->perf_fds || !s->links) {
		err = -ENOMEM;
		goto fail;
	}
	err = read_online_cpus(online, ncpus);
	if (err) {
		/* Without the list, try them all; offline ones fail with ENODEV. */
		for (int i = 0; i < ncpus; i++)
			online[i] = true;
	}
	for (int cpu = 0; cpu < ncpus; cpu++) {
		int fd;

		s->perf_fds[cpu] = -1;
		if (!online[cpu])
			continue;
		fd = open_cpu_clock(cpu, opts->freq_hz);
		if (fd == -ENODEV || fd == -ENXIO)
			continue; /* went offline meanwhile */
		if (fd < 0) {
			err = fd;
			snprintf(last_error, sizeof(last_error),
				 "opening the cpu-clock perf event on CPU %d: %s", cpu,
				 strerror(-err));
			goto fail;
		}
		s->perf_fds[cpu] = fd;
		s->links[cpu] = bpf_program__attach_perf_event(s->skel->progs.on_sample, fd);
		if (!s->links[cpu]) {
			err = -errno;
			snprintf(last_error, sizeof(last_error),
				 "attaching the sampler to the perf event on CPU %d: %s",
				 cpu, strerror(-err));
			goto fail;
		}
		s->n_cpus_sampled++;
	}
	s->n_events = ncpus;
	if (s->n_cpus_sampled == 0) {
		err = -ENODEV;
		set_error("no %s CPU could be sampled", "online", 0);
		goto fail;
	}
	/* The raw_tp programs (fork/exec/exit following), after the perf
	 * events so sampling starts as early as it can; callers start the
	 * processes to follow only once this returns. */
	err = profile_bpf__attach(s->skel);
	if (err) {
		set_error("attaching the %s tracepoints (sched_process_fork/exec/exit)",
			  "process", err);
		goto fail;
	}
	free(online);
	*ret_sampler = s;
	return 0;

fail:
	free(online);
	if (s)
		s->n_events = ncpus > 0 ? ncpus : 0;
	sampler__free(s);
	return err;
}

enum sampler_btf sampler__btf_source(const struct sampler *s, int *ret_refused)
{
	if (ret_refused)
		*ret_refused = s->btf_refused;
	return s->btf_source;
}

void sampler__free(struct sampler *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->links && i < s->n_events; i++)
		bpf_link__destroy(s->links[i]);
	for (unsigned i = 0; s->perf_fds && i < s->n_events; i++)
		if (s->perf_fds[i] >= 0)
			close(s->perf_fds[i]);
	sampler_rb__free(s->rb);
	profile_bpf__destroy(s->skel);
	free(s->links);
	free(s->perf_fds);
	free(s->exited);
	free(s->keys);
	free(s->vals);
	free(s->stack_ids);
	free(s->py_pending);
	free(s);
}

int sampler__track(struct sampler *s, pid_t tgid)
{
	__u32 key = tgid;
	__u8 one = 1;
	int err;

	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.tracked), &key, &one, BPF_ANY);
	if (err)
		return err == -E2BIG ? -ENOSPC : err;
	return 0;
}

/* After a change to proc_unwind or py_procs: the programs' per-CPU caches
 * of them (ember_cpu_state) look them up again. After the map update, so
 * a program that read the old generation reads the maps again. Only for
 * a change the programs can see: each move makes every CPU look up every
 * thread's facts again, and most writes change nothing for them (a new
 * process set to DWARF, which no entry already meant; a Python process's
 * offsets refined). */
static void proc_changed(struct sampler *s)
{
	__atomic_fetch_add(&s->skel->bss->proc_gen, 1, __ATOMIC_SEQ_CST);
}

/* A process's unwinding as the programs see it: no entry is DWARF. */
static __u8 unwind_of(struct sampler *s, __u32 tgid)
{
	__u8 v;

	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.proc_unwind), &tgid, &v) != 0)
		return EMBER_UNWIND_DWARF;
	return v;
}

int sampler__set_unwind(struct sampler *s, pid_t tgid, enum sampler_unwind mode)
{
	__u32 key = tgid;
	__u8 v = mode == SAMPLER_UNWIND_DWARF ? EMBER_UNWIND_DWARF : EMBER_UNWIND_FP;
	__u8 old = unwind_of(s, key);
	int err;

	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.proc_unwind), &key, &v, BPF_ANY);
	if (old != v)
		proc_changed(s);
	return err;
}

int sampler__set_exe_unwind(struct sampler *s, uint64_t st_dev, uint64_t st_ino,
			    enum sampler_unwind mode)
{
	/* The kernel's dev_t is major << 20 | minor, not glibc's encoding. */
	struct ember_file_key k = {
		.dev = ((uint64_t)major(st_dev) << 20) | minor(st_dev),
		.ino = st_ino,
	};
	__u8 v = mode == SAMPLER_UNWIND_DWARF ? EMBER_UNWIND_DWARF : EMBER_UNWIND_FP;

	return bpf_map_update_elem(bpf_map__fd(s->skel->maps.exe_unwind), &k, &v, BPF_ANY);
}

void sampler__forget_unwind(struct sampler *s, pid_t tgid)
{
	__u32 key = tgid;
	__u8 old = unwind_of(s, key);

	bpf_map_delete_elem(bpf_map__fd(s->skel->maps.proc_unwind), &key);
	if (old != EMBER_UNWIND_DWARF)
		proc_changed(s);
}

int sampler__set_python(struct sampler *s, pid_t tgid, uint64_t runtime,
			uint64_t code_type, const struct ember_py_offsets *off)
{
	struct ember_py_proc v = { .runtime = runtime, .code_type = code_type, .off = *off };
	struct ember_py_proc prev;
	__u32 key = tgid;
	bool had;
	int err;

	/* Fields read at these offsets must stay inside the BPF program's
	 * windows, and the windows below its largest read. */
#define CHECK_FIELD(name, type, member)                                  \
	if (off->name > EMBER_PY_READ_MAX - 8)                           \
		return -EINVAL;
	EMBER_PY_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD
	if (!off->tstate_size || off->tstate_size >= EMBER_PY_READ_MAX ||
	    !off->frame_size || off->frame_size >= EMBER_PY_READ_MAX ||
	    !off->code_size || off->code_size >= EMBER_PY_READ_MAX || !runtime || !code_type)
		return -EINVAL;
	had = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.py_procs), &key, &prev) == 0;
	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.py_procs), &key, &v, BPF_ANY);
	if (!had)
		proc_changed(s);
	if (err)
		return err == -E2BIG ? -ENOSPC : err;
	return 0;
}

void sampler__forget_python(struct sampler *s, pid_t tgid)
{
	__u32 key = tgid;

	if (bpf_map_delete_elem(bpf_map__fd(s->skel->maps.py_procs), &key) == 0)
		proc_changed(s);
}

void sampler__stats(const struct sampler *s, uint64_t ret_stats[SAMPLER_STAT__COUNT])
{
	int fd = bpf_map__fd(s->skel->maps.cpu_state);
	struct ember_cpu_state *vals = calloc(s->n_possible_cpus, sizeof(*vals));
	__u32 zero = 0;

	memset(ret_stats, 0, SAMPLER_STAT__COUNT * sizeof(ret_stats[0]));
	if (!vals || bpf_map_lookup_elem(fd, &zero, vals) != 0) {
		free(vals);
		return;
	}
	for (int c = 0; c < s->n_possible_cpus; c++)
		for (int i = 0; i < SAMPLER_STAT__COUNT; i++)
			ret_stats[i] += vals[c].stats[i];
	/* Delivered but nobody could unwind them: lost. */
	ret_stats[SAMPLER_STAT_DROP_DWARF_RINGBUF] += s->dwarf_unhandled;
	/* Snapshots are counted as user space reads them (sampler-ring.c):
	 * those still in the ring buffer are not counted yet. */
	ret_stats[SAMPLER_STAT_DWARF_SAMPLES] += s->dwarf_samples;
	ret_stats[SAMPLER_STAT_SNAPSHOT_SHORT] += s->snapshot_short;
	/* A Python record not found for its sample: the sample is kept
	 * without its Python frames. */
	ret_stats[SAMPLER_STAT_PY_RINGBUF_FULL] += s->py_unmatched;
	free(vals);
}

const char *sampler_path_name(enum sampler_path path)
{
	static const char *const names[SAMPLER_PATH__COUNT] = {
		[SAMPLER_PATH_COMMON] = "common",
		[SAMPLER_PATH_SNAPSHOT] = "snapshot",
		[SAMPLER_PATH_LEAF] = "leaf-repair",
		[SAMPLER_PATH_WALK] = "walk",
		[SAMPLER_PATH_COUNT] = "count",
		[SAMPLER_PATH_INSERT] = "insert",
		[SAMPLER_PATH_RAW] = "raw",
	};

	return (unsigned)path < SAMPLER_PATH__COUNT ? names[path] : "?";
}

_Static_assert((int)SAMPLER_PATH__COUNT == (int)EMBER_PATH__COUNT,
	       "sampler_path and ember_path list the same parts");

int sampler__path_stats(const struct sampler *s, uint64_t ret_ns[SAMPLER_PATH__COUNT],
			uint64_t ret_runs[SAMPLER_PATH__COUNT])
{
	int fd = bpf_map__fd(s->skel->maps.cpu_state);
	struct ember_cpu_state *vals;
	uint64_t ns[SAMPLER_PATH__COUNT] = { 0 }, runs[SAMPLER_PATH__COUNT] = { 0 };
	__u32 zero = 0;

	if (!s->skel->rodata->path_stats)
		return -ENODATA;
	vals = calloc(s->n_possible_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, vals) != 0) {
		int err = -errno;

		free(vals);
		return err;
	}
	for (int c = 0; c < s->n_possible_cpus; c++)
		for (int i = 0; i < SAMPLER_PATH__COUNT; i++) {
			ns[i] += vals[c].path_ns[i];
			runs[i] += vals[c].path_runs[i];
		}
	free(vals);
	memcpy(ret_ns, ns, sizeof(ns));
	memcpy(ret_runs, runs, sizeof(runs));
	return 0;
}

void sampler__stop(struct sampler *s)
{
	for (unsigned i = 0; s->perf_fds && i < s->n_events; i++)
		if (s->perf_fds[i] >= 0)
			ioctl(s->perf_fds[i], PERF_EVENT_IOC_DISABLE, 0);
}

unsigned sampler__cpus(const struct sampler *s)
{
	return s->n_cpus_sampled;
}
