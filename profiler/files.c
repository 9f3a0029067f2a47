/* SPDX-License-Identifier: Apache-2.0 */
/*
 * files.c — the one way ember creates or replaces a file: databases
 * (record -o, agent --db, import -o) and outputs (report -o, diff -o and
 * --html). Ember often runs as root, in directories other users may write
 * to, and what it writes holds other users' stacks, so every such file
 * goes through cli_file_open:
 *
 *   - never through a symbolic link (lstat, then open with O_NOFOLLOW and
 *     check that the opened file is the one looked at): a link is refused
 *     and named with its target, so the user can give the real path;
 *   - only a regular file: a directory, FIFO, device or socket is refused
 *     before anything opens it (no "/dev/null-journal", no hang on a FIFO);
 *   - a database never replaces what is not an Ember database, empty or
 *     not, unless --force says so; an output never replaces a database;
 *   - created 0600, or 0640 with the group of --group; an existing file
 *     that is continued or replaced is given the same mode, and so are
 *     the -wal and -shm SQLite keeps beside a database (SQLite gives those
 *     it creates the database's mode, owner and group).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "storage.h"

/* "SQLite format 3\0"; PRAGMA application_id is at offset 68. */
static const char sqlite_magic[16] = "SQLite format 3";

int cli_parse_group(const char *arg, struct cli_file_opts *o)
{
	char buf[4096], *end;
	struct group gr, *res = NULL;
	unsigned long v;

	if (!arg || !*arg) {
		cli_error("--group expects a group name or number");
		return -EINVAL;
	}
	if (getgrnam_r(arg, &gr, buf, sizeof(buf), &res) == 0 && res) {
		o->gid = res->gr_gid;
	} else {
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || v >= (gid_t)-1) {
			cli_error("--group %s: no such group (see getent group)", arg);
			return -EINVAL;
		}
		o->gid = (gid_t)v;
	}
	o->shared = true;
	return 0;
}

int cli_flag_group(const char *value, const struct cli_flag *f)
{
	return cli_parse_group(value, f->to);
}

mode_t cli_file_mode(const struct cli_file_opts *o)
{
	return o && o->shared ? 0640 : 0600;
}

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Refuse what is not a regular file, naming it; a link with its target. */
static int refuse_type(const char *path, const struct stat *st)
{
	char target[4096];
	ssize_t n;

	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		cli_error("cannot write %s: it is a symbolic link%s%s%s; ember does not write "
			  "through symbolic links: give the file's own path", path,
			  n > 0 ? " (to " : "", n > 0 ? target : "", n > 0 ? ")" : "");
		return -ELOOP;
	}
	if (S_ISDIR(st->st_mode)) {
		cli_error("cannot write %s: it is a directory; give a file name", path);
		return -EISDIR;
	}
	cli_error("cannot write %s: it is %s, not a regular file; give the path of a file "
		  "to create", path, type_name(st->st_mode));
	return -EINVAL;
}

static int refuse_access(const char *path)
{
	cli_error("cannot write %s: permission denied; choose another path", path);
	return -EACCES;
}

/* Whether a new file may be created at path (its directory exists and is
 * writable). Prints what is wrong. */
static int dir_writable(const char *path)
{
	char *copy = strdup(path), *slash;
	const char *dir = ".";
	struct stat st;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash) {
		slash[slash == copy] = '\0';
		dir = copy;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cli_error("cannot write %s: directory %s does not exist", path, dir);
		err = -ENOENT;
	} else if (access(dir, W_OK) < 0) {
		err = refuse_access(path);
	}
	free(copy);
	return err;
}

/* The first bytes of fd: an Ember database, another SQLite file, or
 * something else. */
enum content { CONTENT_EMPTY, CONTENT_EMBER, CONTENT_SQLITE, CONTENT_OTHER };

static enum content read_content(int fd, const struct stat *st)
{
	unsigned char hdr[100];
	uint32_t app;

	if (st->st_size == 0)
		return CONTENT_EMPTY;
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, sqlite_magic, sizeof(sqlite_magic)) != 0)
		return CONTENT_OTHER;
	app = (uint32_t)hdr[68] << 24 | (uint32_t)hdr[69] << 16 | (uint32_t)hdr[70] << 8 | hdr[71];
	return app == STORE_APPLICATION_ID ? CONTENT_EMBER : CONTENT_SQLITE;
}

static bool companion_exists(const char *path, const char *suffix)
{
	char buf[4096];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s%s", path, suffix);
	return lstat(buf, &st) == 0;
}

/* Give fd the mode (and group) of o. For a file we did not create, a
 * mode that cannot be changed (not ours) is a warning, not a failure. */
static int set_mode(int fd, const char *path, const struct cli_file_opts *o, bool created)
{
	mode_t mode = cli_file_mode(o);
	struct stat st;

	if (o && o->shared && fchown(fd, (uid_t)-1, o->gid) < 0) {
		cli_error("cannot give %s to group %u: %s", path, (unsigned)o->gid,
			  strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == mode)
		return 0;
	if (fchmod(fd, mode) < 0) {
		int err = -errno;

		if (created) {
			cli_error("cannot set the mode of %s: %s", path, strerror(-err));
			return err;
		}
		cli_warn("cannot make %s mode %04o (it stays %04o): %s", path, mode,
			 st.st_mode & 07777, strerror(-err));
	}
	return 0;
}

/* The checks and, unless dry, the open (see cli.h). */
static int file_open(const char *path, enum cli_file_kind kind, const struct cli_file_opts *o,
		     bool dry, bool *ret_created)
{
	bool created = false, force = o && o->force;
	struct stat lst, st;
	int fd = -1, err, tries = 0;
	enum content c;

	if (!path || !*path) {
		cli_error("give a file name to write");
		return -EINVAL;
	}
again:
	if (lstat(path, &lst) < 0) {
		if (errno != ENOENT) {
			cli_error("cannot write %s: %s", path, strerror(errno));
			return -errno;
		}
		if (dry)
			return dir_writable(path);
		/* New: created here, exclusively, never through a link
		 * that appeared meanwhile. */
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  cli_file_mode(o));
		if (fd < 0 && errno == EEXIST && tries++ < 3)
			goto again;
		if (fd < 0) {
			err = -errno;
			if (err == -ENOENT)
				cli_error("cannot write %s: its directory does not exist", path);
			else if (err == -EACCES || err == -EPERM || err == -EROFS)
				cli_error("cannot write %s: %s; choose another path", path,
					  strerror(-err));
			else
				cli_error("cannot write %s: %s", path, strerror(-err));
			return err;
		}
		created = true;
	} else {
		if (!S_ISREG(lst.st_mode))
			return refuse_type(path, &lst);
		/* O_NONBLOCK: should a FIFO take its place after the lstat,
		 * the open neither waits for a writer nor hangs. */
		fd = open(path, (dry ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -ELOOP)
				cli_error("cannot write %s: it became a symbolic link", path);
			else
				cli_error("cannot write %s: %s%s", path, strerror(-err),
					  err == -EACCES ? "; choose another path" : "");
			return err;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != lst.st_dev ||
		    st.st_ino != lst.st_ino) {
			cli_error("cannot write %s: it was replaced while being opened", path);
			close(fd);
			return -EAGAIN;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		c = read_content(fd, &st);
		if (kind == CLI_FILE_DATABASE) {
			/* An Ember file whose data is all in its WAL (never
			 * checkpointed) has an empty main file: the store
			 * checks what the WAL holds. */
			bool ember = c == CONTENT_EMBER ||
				     (c == CONTENT_EMPTY && companion_exists(path, "-wal"));

			if (dry && (ember || force)) {
				close(fd);
				return access(path, W_OK) == 0 ? 0 : refuse_access(path);
			}
			if (!ember && !force) {
				cli_error("%s exists and is %s, not an Ember database; ember does "
					  "not turn other files into databases: choose another "
					  "path, or give --force to replace it", path,
					  c == CONTENT_EMPTY ? "empty" :
					  c == CONTENT_SQLITE ? "another application's SQLite database" :
					  "some other file");
				close(fd);
				return -EEXIST;
			}
			if (!ember) {
				/* --force: the old file and what SQLite kept
				 * beside it go; what follows is a new file. */
				if (ftruncate(fd, 0) < 0) {
					err = -errno;
					cli_error("cannot replace %s: %s", path, strerror(-err));
					close(fd);
					return err;
				}
				cli_remove_companions(path);
				created = true;
			}
		} else {
			if (c == CONTENT_EMBER || c == CONTENT_SQLITE) {
				cli_error("%s is a database; ember does not overwrite it with a "
					  "report: choose another output file", path);
				close(fd);
				return -EEXIST;
			}
			if (dry) {
				close(fd);
				return access(path, W_OK) == 0 ? 0 : refuse_access(path);
			}
			if (ftruncate(fd, 0) < 0) {
				err = -errno;
				cli_error("cannot write %s: %s", path, strerror(-err));
				close(fd);
				return err;
			}
		}
	}
	err = set_mode(fd, path, o, created);
	if (err < 0) {
		close(fd);
		if (created && !lstat(path, &lst))
			unlink(path);
		return err;
	}
	if (ret_created)
		*ret_created = created;
	return fd;
}

int cli_file_open(const char *path, enum cli_file_kind kind, const struct cli_file_opts *o,
		  bool *ret_created)
{
	return file_open(path, kind, o, false, ret_created);
}

int cli_file_check(const char *path, enum cli_file_kind kind, const struct cli_file_opts *o)
{
	return file_open(path, kind, o, true, NULL);
}

FILE *cli_output_open(const char *path, const struct cli_file_opts *o)
{
	int fd = cli_file_open(path, CLI_FILE_OUTPUT, o, NULL);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

int cli_db_companions(const char *path, const struct cli_file_opts *o)
{
	static const char *const sides[] = { "-wal", "-shm", "-journal" };
	char buf[4096];
	struct stat st;

	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		int fd;

		snprintf(buf, sizeof(buf), "%s%s", path, sides[i]);
		if (lstat(buf, &st) < 0)
			continue;
		if (!S_ISREG(st.st_mode)) {
			/* SQLite would refuse a link (it opens these with
			 * O_NOFOLLOW); say what is in the way. */
			refuse_type(buf, &st);
			cli_error("%s belongs beside the database %s: remove it", buf, path);
			return -EEXIST;
		}
		fd = open(buf, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		set_mode(fd, buf, o, false);
		close(fd);
	}
	return 0;
}

int cli_db_open(const char *path, unsigned flags, const struct cli_file_opts *o,
		struct store_db **ret_db, bool *ret_created)
{
	struct stat a, b;
	bool created = false;
	int fd, err;

	fd = cli_file_open(path, CLI_FILE_DATABASE, o, &created);
	if (fd < 0)
		return fd;
	err = cli_db_companions(path, o);
	if (err == 0) {
		err = store_db__open(path, flags, ret_db);
		if (err)
			cli_error("cannot %s database %s: %s", created ? "create" : "open", path,
				  store_strerror(err));
	}
	/* SQLite opened the path again: it must be the file checked. */
	if (err == 0 && (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_dev != b.st_dev ||
			 a.st_ino != b.st_ino)) {
		cli_error("cannot open database %s: it was replaced while being opened", path);
		store_db__close(*ret_db);
		*ret_db = NULL;
		err = -EAGAIN;
	}
	close(fd);
	if (err) {
		if (created)
			cli_remove_db(path);
		return err < 0 ? err : -EIO;
	}
	if (ret_created)
		*ret_created = created;
	return 0;
}
