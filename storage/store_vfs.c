/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_vfs.c — a checksum on every page of an Ember database (schema 6 on),
 * so that a damaged file is reported as damaged instead of read as other
 * stacks. A thin SQLite VFS over the default one: every page SQLite writes
 * to the database file gets a CRC32 of its content in the last 8
 * bytes (the page's "reserved" bytes, which SQLite leaves to extensions:
 * the file is created with 8 reserved bytes per page, older files get them
 * with one VACUUM at their migration), and every whole page read back is
 * checked; a mismatch fails the read with SQLITE_IOERR_DATA, which the
 * store reports as -EUCLEAN naming what could not be read.
 *
 * Why pages and not rows: a flipped bit in a B-tree page can drop or move a
 * row (a sample block, a string, a label set) without any row-level check
 * noticing; a page checksum catches a flip anywhere in the file: blocks,
 * packed tables, strings, label sets, indexes and SQLite's own structure.
 *
 * Reserved bytes: CRC32 (little-endian) of the page's first size - 8 bytes,
 * then "EMBc". Which files are checked: a database whose header says 8
 * reserved bytes per page (byte 20), seen whenever SQLite reads or writes
 * the header, or one the store marks so (STORE_FCNTL_CHECKSUMS: a new file
 * whose pages are all still in its WAL, a file being converted).
 *
 * Pages in the WAL are left alone: SQLite checksums a WAL frame, page
 * included, before it writes it, so a page changed on its way to the WAL
 * would fail SQLite's own check when the WAL is recovered after a crash
 * (and the flushes after it would be lost). A page gets its checksum when
 * a checkpoint copies it into the database file; until then the frame's
 * own checksum covers it (checked by SQLite when it recovers a WAL). The
 * WAL is small (store_sql.c bounds it) and a finished recording has none.
 * Journals and temporary files are not checked. mmap is not offered (I/O
 * methods version 2), so every read of the file passes here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libdeflate.h>
#include <sqlite3.h>

#include "store_vfs.h"

struct cfile {
	sqlite3_file base;
	bool checked;      /* a database file: pages carry checksums */
	bool compute;      /* (database) write checksums */
	bool verify;       /* (database) check them on read */
	bool forced;       /* (database) set by the store: the header no
	                      longer decides */
	sqlite3_file *real; /* the default VFS's file, right after this */
};

static sqlite3_vfs *base_vfs;
static sqlite3_vfs checksum_vfs;
static sqlite3_io_methods cfile_methods;

static const unsigned char mark[4] = { 'E', 'M', 'B', 'c' };

static bool is_page(int n)
{
	return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

static void page_seal(unsigned char *p, int n)
{
	uint32_t crc = libdeflate_crc32(0, p, (size_t)n - STORE_PAGE_RESERVE);

	p[n - 8] = (unsigned char)crc;
	p[n - 7] = (unsigned char)(crc >> 8);
	p[n - 6] = (unsigned char)(crc >> 16);
	p[n - 5] = (unsigned char)(crc >> 24);
	memcpy(p + n - 4, mark, sizeof(mark));
}

static bool page_ok(const unsigned char *p, int n)
{
	uint32_t crc = libdeflate_crc32(0, p, (size_t)n - STORE_PAGE_RESERVE);

	return p[n - 8] == (unsigned char)crc && p[n - 7] == (unsigned char)(crc >> 8) &&
	       p[n - 6] == (unsigned char)(crc >> 16) && p[n - 5] == (unsigned char)(crc >> 24) &&
	       memcmp(p + n - 4, mark, sizeof(mark)) == 0;
}

/* The database header passing by: 8 reserved bytes per page mean
 * checksums. */
static void note_header(struct cfile *f, const unsigned char *h, int n, sqlite3_int64 off)
{
	if (f->forced || off != 0 || n < 100 ||
	    memcmp(h, "SQLite format 3", 16) != 0)
		return;
	f->compute = f->verify = h[20] == STORE_PAGE_RESERVE;
}

static int c_close(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
}

static int c_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off)
{
	struct cfile *f = (struct cfile *)file;
	int rc = f->real->pMethods->xRead(f->real, buf, n, off);

	if (rc != SQLITE_OK || !f->checked)
		return rc;
	note_header(f, buf, n, off);
	if (f->verify && is_page(n) && !page_ok(buf, n))
		return SQLITE_IOERR_DATA;
	return SQLITE_OK;
}

static int c_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
	struct cfile *f = (struct cfile *)file;

	if (f->checked) {
		note_header(f, buf, n, off);
		/* The reserved bytes are ours: SQLite's page buffer takes the
		 * checksum (as the checksum VFS SQLite documents does). */
		if (f->compute && is_page(n))
			page_seal((unsigned char *)buf, n);
	}
	return f->real->pMethods->xWrite(f->real, buf, n, off);
}

static int c_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xTruncate(f->real, size);
}

static int c_sync(sqlite3_file *file, int flags)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xSync(f->real, flags);
}

static int c_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xFileSize(f->real, size);
}

static int c_lock(sqlite3_file *file, int lock)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int c_unlock(sqlite3_file *file, int lock)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int c_check_lock(sqlite3_file *file, int *out)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int c_control(sqlite3_file *file, int op, void *arg)
{
	struct cfile *f = (struct cfile *)file;

	if (op == STORE_FCNTL_CHECKSUMS) {
		int *v = arg;

		if (!f->checked)
			return SQLITE_NOTFOUND;
		/* 1: write and check; 2: write only (converting a file whose
		 * pages have none yet); 0: neither. */
		f->compute = *v != 0;
		f->verify = *v == 1;
		f->forced = true;
		return SQLITE_OK;
	}
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int c_sector(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int c_device(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int c_shm_map(sqlite3_file *file, int pg, int size, int extend, void volatile **p)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xShmMap(f->real, pg, size, extend, p);
}

static int c_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void c_shm_barrier(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;

	f->real->pMethods->xShmBarrier(f->real);
}

static int c_shm_unmap(sqlite3_file *file, int del)
{
	struct cfile *f = (struct cfile *)file;

	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		  int *out_flags)
{
	struct cfile *f = (struct cfile *)file;
	int rc;

	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;
	f->checked = (flags & SQLITE_OPEN_MAIN_DB) != 0;
	file->pMethods = &cfile_methods;
	return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	return base_vfs->xDelete(base_vfs, name, sync);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	return base_vfs->xDlOpen(base_vfs, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	base_vfs->xDlError(base_vfs, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
	base_vfs->xDlClose(base_vfs, h);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
	return base_vfs->xRandomness(base_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	return base_vfs->xSleep(base_vfs, us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
	return base_vfs->xCurrentTime(base_vfs, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static int register_result = SQLITE_ERROR;

static void register_once(void)
{
	base_vfs = sqlite3_vfs_find(NULL);
	if (!base_vfs || base_vfs->iVersion < 2)
		return;
	cfile_methods = (sqlite3_io_methods){
		.iVersion = 2, /* no xFetch: no mmap, every read passes here */
		.xClose = c_close, .xRead = c_read, .xWrite = c_write,
		.xTruncate = c_truncate, .xSync = c_sync, .xFileSize = c_size,
		.xLock = c_lock, .xUnlock = c_unlock,
		.xCheckReservedLock = c_check_lock, .xFileControl = c_control,
		.xSectorSize = c_sector, .xDeviceCharacteristics = c_device,
		.xShmMap = c_shm_map, .xShmLock = c_shm_lock,
		.xShmBarrier = c_shm_barrier, .xShmUnmap = c_shm_unmap,
	};
	checksum_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct cfile) + base_vfs->szOsFile,
		.mxPathname = base_vfs->mxPathname,
		.zName = STORE_VFS_NAME,
		.xOpen = c_open, .xDelete = v_delete, .xAccess = v_access,
		.xFullPathname = v_full, .xDlOpen = v_dlopen, .xDlError = v_dlerror,
		.xDlSym = v_dlsym, .xDlClose = v_dlclose, .xRandomness = v_random,
		.xSleep = v_sleep, .xCurrentTime = v_time, .xGetLastError = v_last_error,
		.xCurrentTimeInt64 = v_time64,
	};
	register_result = sqlite3_vfs_register(&checksum_vfs, 0);
}

int store_vfs__register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_once);
	return register_result == SQLITE_OK ? 0 : -ENOSYS;
}
