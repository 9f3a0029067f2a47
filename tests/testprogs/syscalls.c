/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syscalls.c — a syscall-heavy test program, for kernel stacks. It spends
 * its time entering the kernel from one user function:
 *
 *   user:   main -> do_syscalls
 *   kernel: entry_SYSCALL_64 -> do_syscall_64 -> ... (write: ksys_write ->
 *           vfs_write -> write_null; getppid: __x64_sys_getppid)
 *
 * The syscall instruction is issued by inline assembly inside do_syscalls,
 * not through libc's wrapper: libc's write() is a leaf without a frame
 * pointer, and a frame-pointer unwinder starting in it would skip its
 * caller. With the instruction in do_syscalls, every sample's user stack is
 * exactly do_syscalls <- main.
 *
 * Usage: syscalls [--seconds S] [--mode write|getppid] [--report]
 *   write:   1-byte write() to /dev/null (default)
 *   getppid: getppid()
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "args.h"
#include "burn.h"

__attribute__((noinline)) uint64_t do_syscalls(long nr, int fd,
					       uint64_t deadline_ns);

static inline __attribute__((always_inline)) long
raw_syscall3(long nr, long a1, long a2, long a3)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Issue syscall nr in a tight loop until the deadline; returns the count. */
__attribute__((noinline)) uint64_t do_syscalls(long nr, int fd,
					       uint64_t deadline_ns)
{
	static const char byte = 'x';
	uint64_t n = 0;

	do {
		for (int i = 0; i < 1000; i++) {
			long r = raw_syscall3(nr, fd, (long)&byte, 1);

			if (r < 0)
				return 0;
		}
		n += 1000;
	} while (burn_now_ns() < deadline_ns);
	__asm__ volatile("" ::: "memory");
	return n;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: syscalls [--seconds S] [--mode write|getppid] [--report]\n"
		   "  Issues 1-byte writes to /dev/null (or getppid) from\n"
		   "  do_syscalls for S seconds (default 3).\n");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 3;
	bool report = false, use_write = true;
	uint64_t n;
	long nr;
	int fd = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--report")) {
			report = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (args_uint(argv[++i], 86400, &seconds) < 0 || !seconds)
				goto bad;
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "write"))
				use_write = true;
			else if (!strcmp(argv[i], "getppid"))
				use_write = false;
			else
				goto bad;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			goto bad;
		}
	}

	if (use_write) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			perror("syscalls: open /dev/null");
			return 1;
		}
		nr = SYS_write;
	} else {
		nr = SYS_getppid;
	}
	n = do_syscalls(nr, fd, burn_now_ns() + seconds * 1000000000ULL);
	if (fd >= 0)
		close(fd);
	if (n == 0) {
		fprintf(stderr, "syscalls: the syscall failed\n");
		return 1;
	}
	if (report)
		printf("syscalls=%llu\n", (unsigned long long)n);
	return 0;
bad:
	usage(stderr);
	return 2;
}
