/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.c — the one way the symbolizer opens a file on behalf of a profiled
 * process: its binaries (through /proc/PID/root or /proc/PID/map_files),
 * their separate debug files (build-id, .gnu_debuglink), its perf map and
 * its memory (the vdso). Ember runs as root and these files belong to
 * other users, so every open here is of a regular file, never blocks (a
 * FIFO, or a lease its owner holds, would stop the profiler's loop), is
 * resolved inside the process's root the way the process itself sees it
 * (openat2 with RESOLVE_IN_ROOT: absolute symlinks and ".." stay inside,
 * /proc magic links are not followed), and is bounded in size; where the
 * caller asks, it must be the mapped file (device and inode), must not be
 * a symlink and must belong to the process's user. Whatever is refused is
 * counted per reason in the session's sym_stats.refused, which the
 * profiler shows in `ember record`'s summary and in /metrics.
 *
 * Reads of such files go through sym_file_read_at(), bounded in time.
 */
#include "sym-internal.h"
#include "symbolizer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"

const char *sym_refusal_name(enum sym_refusal reason)
{
	static const char *const names[SYM_REFUSED__COUNT] = {
		[SYM_REFUSED_NOT_REGULAR] = "not-regular",
		[SYM_REFUSED_SYMLINK] = "symlink",
		[SYM_REFUSED_OWNER] = "wrong-owner",
		[SYM_REFUSED_OUTSIDE_ROOT] = "outside-root",
		[SYM_REFUSED_TOO_BIG] = "too-big",
		[SYM_REFUSED_NOT_MAPPED] = "not-mapped-file",
		[SYM_REFUSED_BUDGET] = "over-budget",
		[SYM_REFUSED_SLOW] = "too-slow",
	};

	if ((unsigned)reason >= SYM_REFUSED__COUNT)
		return "invalid";
	return names[reason];
}

void sym_fs__refuse(const struct sym_fs *fs, enum sym_refusal reason)
{
	if (fs && fs->refused && (unsigned)reason < SYM_REFUSED__COUNT)
		fs->refused[reason]++;
}

static int refuse(const struct sym_fs *fs, enum sym_refusal reason)
{
	sym_fs__refuse(fs, reason);
	return -EPERM;
}

static int do_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .resolve = resolve };
	int fd;

	/* -EAGAIN: a rename raced the resolution inside the root; the
	 * kernel asks to try again. A few times, not forever. */
	for (int i = 0; i < 4; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : fd;
}

/*
 * Resolve path in fs->root_fd: first strictly beneath it (no absolute
 * symlink, no ".." above it), which is what a canonical path from
 * /proc/PID/maps needs; a path that only resolves by leaving the root is
 * then resolved inside it as chroot would (RESOLVE_IN_ROOT), and counted
 * as outside-root when nothing is there either. Returns an fd or -errno.
 */
static int open_in_root(const struct sym_fs *fs, const char *path, uint64_t flags)
{
	const uint64_t strict = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	int fd;

	while (*path == '/')
		path++;
	if (!*path)
		return -ENOENT;
	fd = do_openat2(fs->root_fd, path, flags, strict);
	if (fd != -EXDEV)
		return fd;
	fd = do_openat2(fs->root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	if (fd == -ENOENT || fd == -EXDEV)
		return refuse(fs, SYM_REFUSED_OUTSIDE_ROOT);
	return fd;
}

int sym_file_open(const struct sym_fs *fs, const char *path,
		  const struct sym_file_rules *rules, struct stat *ret_st)
{
	static const struct sym_file_rules none = { 0 };
	uint64_t flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	uint64_t max = SYM_FILE_MAX_SIZE;
	struct stat st;
	int fd;

	if (!rules)
		rules = &none;
	if (rules->max_size)
		max = rules->max_size;
	if (rules->flags & SYM_FILE_NOFOLLOW)
		flags |= O_NOFOLLOW;
	if (rules->flags & SYM_FILE_PROC_LINK)
		/* /proc/PID/map_files/A-B: the kernel's own link to the
		 * mapped file, the one magic link worth following */
		fd = do_openat2(AT_FDCWD, path, flags, 0);
	else if (fs && fs->root_fd >= 0)
		fd = open_in_root(fs, path, flags);
	else
		fd = do_openat2(AT_FDCWD, path, flags, RESOLVE_NO_MAGICLINKS);
	if (fd == -EPERM)
		return fd;  /* refused and counted above */
	if (fd == -ELOOP)
		/* with O_NOFOLLOW: the file is a symlink; else a magic link
		 * (or a loop) the root may not be left through */
		return refuse(fs, rules->flags & SYM_FILE_NOFOLLOW ? SYM_REFUSED_SYMLINK
								  : SYM_REFUSED_OUTSIDE_ROOT);
	if (fd == -EWOULDBLOCK)
		/* a lease its owner holds: the open would wait for it */
		return refuse(fs, SYM_REFUSED_SLOW);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(fs, SYM_REFUSED_NOT_REGULAR);
	}
	if ((rules->flags & SYM_FILE_OWNER) && st.st_uid != 0 && st.st_uid != rules->owner) {
		close(fd);
		return refuse(fs, SYM_REFUSED_OWNER);
	}
	if ((rules->flags & SYM_FILE_MATCH) &&
	    (st.st_dev != rules->dev || st.st_ino != rules->ino)) {
		close(fd);
		return refuse(fs, SYM_REFUSED_NOT_MAPPED);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return refuse(fs, SYM_REFUSED_TOO_BIG);
	}
	if (ret_st)
		*ret_st = st;
	return fd;
}

int sym_debug_open(const struct sym_fs *fs, const char *path)
{
	struct stat st;
	int fd = sym_file_open(fs, path, NULL, &st);

	/* what sym_file_open() promises, on the fd and on the fstat it
	 * checked (not a second one: the file may change meanwhile) */
	assert(fd < 0 || ((fcntl(fd, F_GETFL) & O_NONBLOCK) && S_ISREG(st.st_mode) &&
			  (uint64_t)st.st_size <= SYM_FILE_MAX_SIZE));
	return fd;
}

int sym_fs__open_root(struct sym_fs *fs, const char *root, pid_t pid,
		      struct sym_own_root *own)
{
	char path[4096];
	struct stat st, ns;
	int fd;

	/* the profiler's own root and mount namespace do not change: asked
	 * once per session, not once per process */
	if (!own->known) {
		struct stat r, n;

		if (stat("/", &r) < 0)
			return -errno;
		own->dev = r.st_dev;
		own->ino = r.st_ino;
		own->has_ns = stat("/proc/self/ns/mnt", &n) == 0;
		own->ns_dev = n.st_dev;
		own->ns_ino = n.st_ino;
		own->known = true;
	}
	snprintf(path, sizeof(path), "%s/proc/%d/root", root, (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A process in the profiler's own root and mount namespace (most
	 * of them) sees paths as the profiler does: no root of its own to
	 * stay in. The same root directory under other mounts (a container
	 * with a /tmp of its own) is another root. */
	snprintf(path, sizeof(path), "%s/proc/%d/ns/mnt", root, (int)pid);
	if (fstat(fd, &st) == 0 && st.st_dev == own->dev && st.st_ino == own->ino &&
	    (!own->has_ns || stat(path, &ns) < 0 ||
	     (ns.st_dev == own->ns_dev && ns.st_ino == own->ns_ino))) {
		close(fd);
		fd = -1;
	}
	fs->root_fd = fd;
	return 0;
}

int sym_file_read_at(const struct sym_fs *fs, int fd, void *buf, size_t len, uint64_t off,
		     uint64_t deadline_ns)
{
	/* Chunks, so a slow file (a network file system, a disk under
	 * load) is given up between two of them. */
	const size_t chunk = 1u << 20;

	for (size_t done = 0; done < len;) {
		ssize_t n;

		if (deadline_ns && common_now_ns() > deadline_ns)
			return refuse(fs, SYM_REFUSED_SLOW);
		n = pread(fd, (char *)buf + done, MIN(len - done, chunk), (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;  /* shorter than it said: it shrank */
		done += (size_t)n;
	}
	return 0;
}
