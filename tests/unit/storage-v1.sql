-- SPDX-License-Identifier: Apache-2.0
-- storage-v1.sql: an Ember database of schema version 1 exactly as the first
-- release created it (migrations[0] of storage/store_db.c at that time, no
-- auto_vacuum), with a few rows, for test-storage-migrate.c. Do not update
-- this file when the schema changes: it is the old format on purpose.
PRAGMA journal_mode = WAL;
CREATE TABLE strings (  id INTEGER PRIMARY KEY,  text TEXT NOT NULL UNIQUE);
CREATE TABLE functions (  id INTEGER PRIMARY KEY,  name INTEGER NOT NULL,  module INTEGER NOT NULL,  file INTEGER NOT NULL,  UNIQUE (name, module, file));
CREATE TABLE frames (  id INTEGER PRIMARY KEY,  function INTEGER NOT NULL,  line INTEGER NOT NULL,  build_id INTEGER NOT NULL,  offset INTEGER NOT NULL,  kind INTEGER NOT NULL,  UNIQUE (function, line, build_id, offset, kind));
CREATE TABLE stack_nodes (  id INTEGER PRIMARY KEY,  parent INTEGER NOT NULL,  frame INTEGER NOT NULL,  UNIQUE (parent, frame));
CREATE TABLE label_sets (  id INTEGER PRIMARY KEY,  host INTEGER NOT NULL,  process INTEGER NOT NULL,  pid INTEGER NOT NULL,  thread INTEGER NOT NULL,  tid INTEGER NOT NULL,  cgroup_id INTEGER NOT NULL,  extra INTEGER NOT NULL,  UNIQUE (host, process, pid, thread, tid, cgroup_id, extra));
CREATE INDEX label_sets_process ON label_sets (process);
CREATE INDEX label_sets_pid ON label_sets (pid);
CREATE TABLE samples (  time_s INTEGER NOT NULL,  duration_s INTEGER NOT NULL,  label_set INTEGER NOT NULL,  node INTEGER NOT NULL,  count INTEGER NOT NULL,  PRIMARY KEY (time_s, label_set, node)) WITHOUT ROWID;
CREATE TABLE drops (  time_s INTEGER NOT NULL,  reason INTEGER NOT NULL,  count INTEGER NOT NULL,  PRIMARY KEY (time_s, reason)) WITHOUT ROWID;
CREATE TABLE flushes (  time_s INTEGER PRIMARY KEY,  duration_s INTEGER NOT NULL,  n INTEGER NOT NULL);
CREATE TABLE meta (  key TEXT PRIMARY KEY,  value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO strings (id, text) VALUES (1, 'h1'), (2, 'app'), (3, 'main'),
  (4, 'work'), (5, 'map-full'), (6, 'env=prod'), (7, '/usr/bin/app');
INSERT INTO functions (id, name, module, file) VALUES (1, 3, 7, 0), (2, 4, 7, 0);
INSERT INTO frames (id, function, line, build_id, offset, kind)
  VALUES (1, 1, 0, 0, 4096, 0), (2, 2, 0, 0, 8192, 0);
INSERT INTO stack_nodes (id, parent, frame) VALUES (1, 0, 1), (2, 1, 2);
INSERT INTO label_sets (id, host, process, pid, thread, tid, cgroup_id, extra)
  VALUES (1, 1, 2, 42, 2, 42, 0, 6), (2, 1, 2, 43, 2, 44, 0, 0);
INSERT INTO samples (time_s, duration_s, label_set, node, count) VALUES
  (1000, 10, 1, 2, 5), (1000, 10, 1, 1, 2), (1010, 10, 2, 2, 7);
INSERT INTO drops (time_s, reason, count) VALUES (1000, 5, 3);
INSERT INTO flushes (time_s, duration_s, n) VALUES (1000, 10, 1), (1010, 10, 1);
INSERT INTO meta (key, value) VALUES ('status', 'complete'), ('command', 'app');
PRAGMA application_id = 1162691154;
PRAGMA user_version = 1;
