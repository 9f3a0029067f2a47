/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ustack.h — where a user stack begins, by its functions' names: what the
 * session's writer asks to know whether a stack is whole, and what the
 * `--unwind auto` policy asks to know where a frame-pointer walk ends.
 * Pure functions; thread-safe.
 */
#pragma once

#include <stdbool.h>

/* Whether name is a function at which a user stack is whole: the first
 * frame of a process (_start, __libc_start_main...) or of a thread
 * (start_thread, clone, clone3...). */
bool ustack_is_root(const char *name);

/* Whether name is where the kernel's frame-pointer walk of a glibc
 * process ends (__libc_start_call_main, start_thread): glibc's start-up
 * code below them keeps no frame pointer, while a DWARF unwind goes on to
 * _start or clone3. */
bool ustack_is_fp_root(const char *name);
