/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_vfs.h — private to storage/, the bottom of layer 1
 * (storage/DESIGN.md): the SQLite VFS that seals and checks every page of
 * an Ember database (store_vfs.c). It knows SQLite's file interface only;
 * the connection (store_sql.c) opens every file through it.
 */
#pragma once

/* Page checksums: the VFS every handle opens its file
 * with, the reserved bytes per page that hold a checksum, and the file
 * control with which the store says how a file's pages are checked (int:
 * 1 write and check, 2 write only, 0 neither). */
#define STORE_VFS_NAME "ember-checksum"
#define STORE_PAGE_RESERVE 8
#define STORE_FCNTL_CHECKSUMS 0x45424d01

/* Register the checksum VFS (once per process). Returns 0 or -ENOSYS. */
int store_vfs__register(void);
