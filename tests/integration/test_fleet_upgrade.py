# SPDX-License-Identifier: Apache-2.0
"""The fleet store's schema upgrade and retention on the command line
(`ember fleet-maintain --upgrade`, `--retention-days N`), on Debian's
ClickHouse 18.16 (servers of the test's own, tests/integration/clickhouse.py).

Stores of older schemas are made as those Embers made them: this Ember's
tables, with `samples` (or a shard's `samples_local`) created again with
the older key, schema 2 without the roll-up's tables, and `ember_schema`
saying the older version; schema 3 with the views that feed the totals
and label sets (samples_ts, samples_sets) as the Ember that added them
made it, or without them, as the one before; rows as agents ship them (tests/integration/
test_fleet_maintain.py's shape: a batch id on each shipment's first row).

1. Schema 3 on one server: `ember report`, `fleet-maintain` and an agent's
   connection (`fleet-init`) refuse it naming the upgrade command;
   `fleet-maintain --upgrade` converts it: schema 4's key, every row and
   sum per (host, process, stack, bucket, batch) as before, the folded
   report the same, no table of the upgrade left; a second run changes
   nothing; retention then runs. The totals and label sets equal the
   samples', and a shipment after the upgrade feeds them.
1b. Schema 4 with its views on the samples: upgraded to schema 5 (time
   as hour + second, the 3-hour block, the intake and its views, the
   fleet's sums per hour made from the copy).
2. An upgrade that stopped after moving the old samples aside and copying
   a day whole and another in part: while so, an agent's connection is
   told to wait (and creates no table); the next run finishes it, exact,
   keeping the whole day's copy.
3. Schema 2 (no roll-up tables): upgraded, the roll-up's tables made, the
   maintainer's roll-up reads equal the samples; the totals and label sets
   made from the copy and fed after it.
3b. Schema 4 without the totals (made before them): an agent's
   connection refused naming --upgrade, which makes them.
4. A cluster of two shards at schema 3: without --shard a clear message;
   with them each shard's samples converted, totals per host exact, the
   totals and label sets made on the shards.
5. --retention-days N (fleet-maintain, and serve --maintain's at its
   start): the days that ended more than N days ago go, the
   others stay as they were; 0 keeps every day; bad values are refused.
6. An outbox queued by the writer while the store is at schema 4 (the
   rows in the form older agents queue), shipped after the upgrade: every
   sample once; the same entries shipped again as if their answers were
   lost (attempts 1): each found by its batch, none sent twice.
"""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

from embertest import EMBER, check, fail
import clickhouse as chs

if not chs.available():
    fail(f"{chs.SERVER} is missing: scripts/lib.sh installs clickhouse-server")

NOW = int(time.time())
HOUR = 3600
DAY = 86400
SAMPLE_COLS = ("time, duration, host, process, pid, thread, tid, cgroup, label_keys, "
               "label_values, stack, count, batch")
# the older schemas' samples (their store_ch_schema.c)
OLD_DEF = ("time DateTime, duration UInt32, host String, process String, pid UInt32, "
           "thread String, tid UInt32, cgroup UInt64, label_keys Array(String), "
           "label_values Array(String), labelset UInt64 DEFAULT cityHash64(host, process, pid, "
           "thread, tid, cgroup, label_keys, label_values), stack UInt64, count Int32, "
           "batch UInt64")
OLD_KEY = {4: "(host, intDiv(toUInt32(time), 21600), labelset, stack, time, duration, batch)",
           3: "(host, toStartOfHour(time), labelset, stack, time, duration, batch)",
           2: "(host, labelset, stack, time, duration, batch)"}
# schema 3's and 4's views on the samples (schema 5's are on the intake)
OLD_VIEWS = {"samples_ts_mv": ("samples_ts", "SELECT time, duration, host, toInt64(sum(count)) AS "
                               "count FROM ember.samples{0} GROUP BY time, duration, host"),
             "samples_sets_mv": ("samples_sets", "SELECT toStartOfHour(time) AS hour, host, "
                                 "any(process) AS process, any(pid) AS pid, any(thread) AS thread, "
                                 "any(tid) AS tid, any(cgroup) AS cgroup, any(label_keys) AS "
                                 "label_keys, any(label_values) AS label_values, labelset, "
                                 "toInt64(sum(count)) AS count FROM ember.samples{0} GROUP BY hour, "
                                 "host, labelset")}
# schema 5's: the intake, its views, the fleet's sums per hour
NEW_ONLY = ("samples_in_mv", "samples_in_mv_ts", "samples_in_mv_sets", "samples_in_mv_1h",
            "samples_in", "samples_1h_fleet")
LABELSETS = [("api", 10, "api", 11), ("api", 10, "worker", 12), ("db", 20, "db", 21)]
STACKS = [301, 302, 303]
FUNCS = [(101, "main"), (102, "work"), (103, "parse")]


def rows_for(hosts, start, buckets):
    out, k = [], 0
    for host in hosts:
        for b in range(buckets):
            t = start + 10 * b
            for i, (proc, pid, thread, tid) in enumerate(LABELSETS):
                for s in STACKS:
                    k += 1
                    if k % 4 == 0:
                        continue
                    batch = 1000 + k if i == 0 and s == STACKS[0] else 0
                    out.append(f"{t}\t10\t{host}\t{proc}\t{pid}\t{thread}\t{tid}\t0\t[]\t[]\t"
                               f"{s}\t{1 + k % 5}\t{batch}")
    return "\n".join(out) + "\n"


def define(server, **settings):
    server.query("INSERT INTO ember.functions (function, name, module, file) FORMAT TabSeparated",
                 "".join(f"{i}\t{n}\tapp\t\n" for i, n in FUNCS), **settings)
    server.query("INSERT INTO ember.frames (frame, function, line, kind, build_id, file_offset) "
                 "FORMAT TabSeparated", "".join(f"{200 + i % 100}\t{i}\t0\t0\t\t0\n"
                                                for i, _ in FUNCS), **settings)
    server.query("INSERT INTO ember.stacks (stack, frames) FORMAT TabSeparated",
                 "301\t[201]\n302\t[201,202]\n303\t[201,202,203]\n", **settings)


def insert(server, text, table="samples_in", **settings):
    """rows as a shipment sends them: into schema 5's intake, or into an
    older schema's samples (table="samples")"""
    server.query(f"INSERT INTO ember.{table} ({SAMPLE_COLS}) FORMAT TabSeparated", text, **settings)


def ember(*args):
    return subprocess.run([EMBER, *args], capture_output=True, text=True, timeout=600)


DERIVED = ("samples_in_mv_ts", "samples_in_mv_sets", "samples_in_mv_1h", "samples_ts_mv",
           "samples_sets_mv", "samples_ts", "samples_sets", "samples_1h_fleet")


def drop_derived(servers, suffix="", entry=None):
    """the totals and label sets and their views gone, as before them"""
    for s in servers:
        for t in DERIVED:
            s.query(f"DROP TABLE IF EXISTS ember.{t}{suffix}")
    if entry:
        for t in DERIVED[5:]:
            entry.query(f"DROP TABLE IF EXISTS ember.{t}")


def make_old(servers, version, suffix="", entry=None, views=True):
    """this Ember's store made older: samples with the older key, version
    (with the totals' views bound to the name samples, as the schema 3 of
    the Ember that made them; without them, as the one before)"""
    if not views:
        drop_derived(servers, suffix, entry)
    for s in servers:
        for t in NEW_ONLY:
            s.query(f"DROP TABLE IF EXISTS ember.{t}{suffix}")
        s.query(f"DROP TABLE ember.samples{suffix}")
        s.query(f"CREATE TABLE ember.samples{suffix} ({OLD_DEF}) ENGINE = SummingMergeTree(count) "
                f"PARTITION BY toDate(time) ORDER BY {OLD_KEY[version]}")
        if views:
            for v, (t, sql) in OLD_VIEWS.items():
                s.query(f"CREATE MATERIALIZED VIEW ember.{v}{suffix} TO ember.{t}{suffix} AS "
                        + sql.format(suffix))
        if version == 2:
            for t in ("rollup_stale", "samples_1d", "ember_rolled"):
                s.query(f"DROP TABLE IF EXISTS ember.{t}{suffix}")
    e = entry or servers[0]
    if entry:
        for t in NEW_ONLY[4:]:
            e.query(f"DROP TABLE IF EXISTS ember.{t}")
        e.query(f"DROP TABLE ember.samples")
        e.query(f"CREATE TABLE ember.samples ({OLD_DEF}) ENGINE = Distributed('{chs.CLUSTER}', "
                "'ember', 'samples_local', cityHash64(host))")
    if version == 2 and entry:
        for t in ("rollup_stale", "samples_1d"):
            e.query(f"DROP TABLE IF EXISTS ember.{t}")
    layout = e.rows("SELECT layout FROM ember.ember_schema")[0][0]
    e.query("DROP TABLE ember.ember_schema")
    e.query("CREATE TABLE ember.ember_schema (version UInt32, layout String, created DateTime) "
            "ENGINE = TinyLog")
    e.query(f"INSERT INTO ember.ember_schema VALUES ({version}, '{layout}', now())")


def content(server, table="samples"):
    """every row's key and count, as ClickHouse sums them"""
    return sorted(tuple(r) for r in server.rows(
        f"SELECT host, process, pid, thread, tid, labelset, stack, time, duration, batch, "
        f"sum(count) AS n FROM ember.{table} GROUP BY host, process, pid, thread, tid, labelset, "
        "stack, time, duration, batch HAVING n != 0"))


def folded(url):
    r = ember("report", url, "--format", "folded")
    if r.returncode != 0:
        fail(f"ember report {url}: {r.stderr.strip()}")
    return sorted(r.stdout.splitlines())


def derived_ok(server, hourly=True):
    """the totals, the label sets (and the fleet's sums per hour) hold what
    the samples make"""
    got = [sorted(tuple(r) for r in server.rows(q.format(t))) for q, t in (
        ("SELECT time, duration, host, sum(count) AS n FROM ember.{} GROUP BY time, duration, "
         "host HAVING n != 0", "samples_ts"),
        ("SELECT hour, host, labelset, any(process), any(pid), sum(count) AS n FROM ember.{} "
         "GROUP BY hour, host, labelset HAVING n != 0", "samples_sets"))]
    want = [sorted(tuple(r) for r in server.rows(q)) for q in (
        "SELECT time, duration, host, sum(count) AS n FROM ember.samples GROUP BY time, "
        "duration, host HAVING n != 0",
        "SELECT toStartOfHour(time) AS hour, host, labelset, any(process), any(pid), sum(count) "
        "AS n FROM ember.samples GROUP BY hour, host, labelset HAVING n != 0")]
    if not hourly:
        return got[0] and got == want
    # the fleet's sums per hour (UTC hours)
    got.append(sorted(tuple(r) for r in server.rows(
        "SELECT hour, process, stack, sum(count) AS n FROM ember.samples_1h_fleet GROUP BY hour, "
        "process, stack HAVING n != 0")))
    want.append(sorted(tuple(r) for r in server.rows(
        "SELECT toDateTime(intDiv(toUInt32(time), 3600) * 3600) AS h, process, stack, sum(count) "
        "AS n FROM ember.samples GROUP BY h, process, stack HAVING n != 0")))
    return got[0] and got[2] and got == want


def key_of(server, table="samples"):
    return server.rows(f"SHOW CREATE TABLE ember.{table}")[0][0]


def tables(server):
    return sorted(r[0] for r in server.rows("SELECT name FROM system.tables WHERE database = 'ember'"))


NEW_KEY = "intDiv(toUInt32(hour), 10800)"
DAY2 = (NOW - 2 * DAY) // HOUR * HOUR
DAY5 = (NOW - 5 * DAY) // HOUR * HOUR

# ---- 1. schema 3 on one server ----
single = chs.single()
print(f"# ClickHouse {single.rows('SELECT version()')[0][0]}")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
tables_v5 = tables(single)
make_old([single], 3)
define(single)
for start in (DAY5, DAY2, NOW // HOUR * HOUR - HOUR):
    insert(single, rows_for(["web-1", "web-2"], start, 60), "samples")
before = content(single)
check(before and "toStartOfHour" in key_of(single), f"a schema 3 store: {len(before)} sample keys")
# (a day rolled up by the older Ember, recorded with the old table's block
# numbers)
single.query("INSERT INTO ember.samples_1d (time, host, process, stack, count) SELECT "
             "toDateTime(toDate(time)), host, process, stack, sum(count) FROM ember.samples "
             f"WHERE toDate(time) = toDate(toDateTime({DAY5})) GROUP BY toDate(time), host, "
             "process, stack")
single.query(f"INSERT INTO ember.ember_rolled VALUES (toDate(toDateTime({DAY5})), 1000000, now())")
r = ember("report", single.url(), "--format", "folded")
check(r.returncode != 0 and "schema version 3" in r.stderr and "--upgrade" in r.stderr,
      f"report on schema 3: {r.stderr.strip()}")
r = ember("fleet-maintain", single.url())
check(r.returncode != 0 and "schema version 3" in r.stderr and "--upgrade" in r.stderr,
      f"fleet-maintain on schema 3: {r.stderr.strip()}")
r = ember("fleet-init", single.url())
check(r.returncode != 0 and "version 3" in r.stderr and "--upgrade" in r.stderr,
      f"an agent's connection (fleet-init) on schema 3: {r.stderr.strip()}")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "from schema version 3 to 5" in r.stdout,
      f"fleet-maintain --upgrade: {r.stdout.strip()} {r.stderr.strip()}")
check(NEW_KEY in key_of(single) and content(single) == before and tables(single) == tables_v5,
      f"... schema 4's key, the same {len(before)} sample keys and sums, no upgrade table left")
check(single.rows("SELECT max(version) FROM ember.ember_schema")[0][0] == "5",
      "... ember_schema says 5")
check(derived_ok(single), "... the totals and label sets (the views' since the samples "
      "landed) equal the samples'")
insert(single, rows_for(["web-3"], NOW // HOUR * HOUR - 2 * HOUR, 5))
check(derived_ok(single), "... a shipment after the upgrade (into the intake) feeds them and "
      "the samples")
before = content(single)
# a filter on a label reads the label sets: whole hours from samples_sets,
# the rest of the range from the samples (store_ch__put_sets_source)
h = NOW // HOUR * HOUR - HOUR
for lo, hi in ((h, h + HOUR), (h - HOUR, h + HOUR), (h + 120, h + 480), (h - 1800, h + 300)):
    r = ember("report", single.url(), "--format", "folded", "--from", str(lo), "--to", str(hi),
              "--filter", 'thread="worker"')
    got = sum(int(x.rpartition(" ")[2]) for x in r.stdout.splitlines())
    raw = int(single.rows(f"SELECT sum(count) FROM ember.samples WHERE time >= toDateTime({lo}) "
                          f"AND time < toDateTime({hi}) AND thread = 'worker'")[0][0])
    check(r.returncode == 0 and raw and got == raw,
          f"... thread=\"worker\" over [{lo - h}, {hi - h}) s of an hour: {got} samples, the "
          f"samples' {raw} {r.stderr.strip()}")
check(single.rows("SELECT count() FROM ember.ember_rolled")[0][0] == "0",
      "... the roll-up's record of the old table's blocks forgotten")
# the definitions and samples read the same as the rows say
want = folded(single.url())
check(sum(int(x.rpartition(" ")[2]) for x in want) == sum(int(k[-1]) for k in before),
      f"report on the upgraded store: {len(want)} stacks, every sample")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "nothing to upgrade" in r.stdout and content(single) == before,
      f"a second --upgrade: {r.stdout.strip()}")
r = ember("fleet-maintain", single.url())
check(r.returncode == 0 and "retention done" in r.stdout and folded(single.url()) == want,
      f"the retention after it: {r.stdout.strip()}; the report the same")
# a late shipment into a day rolled up after the upgrade: read exactly
insert(single, rows_for(["web-1"], DAY5 + 1800, 3))
raw = int(single.rows("SELECT sum(count) FROM ember.samples")[0][0])
got = sum(int(x.rpartition(" ")[2]) for x in folded(single.url()))
check(got == raw, f"a late sample into a rolled-up day after the upgrade: read exactly ({got} of {raw})")

# ---- 1b. schema 4 (the 6-hour block), with its views on the samples ----
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
make_old([single], 4)
define(single)
for start in (DAY5, NOW // HOUR * HOUR - 3 * HOUR):
    insert(single, rows_for(["app-1", "app-2"], start, 400), "samples")
before = content(single)
check(derived_ok(single, hourly=False), "a schema 4 store, its views on the samples")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "from schema version 4 to 5" in r.stdout and content(single) == before
      and NEW_KEY in key_of(single) and tables(single) == tables_v5,
      f"schema 4 upgraded: the same {len(before)} sample keys and sums, the 3-hour block, the "
      f"intake and the sums per hour made: {r.stdout.strip()} {r.stderr.strip()}")
check(derived_ok(single), "... the totals, label sets and sums per hour equal the samples'")
insert(single, rows_for(["app-3"], DAY5 + HOUR, 5))
check(derived_ok(single) and len(content(single)) > len(before),
      "... a shipment after it lands in the samples through the intake and feeds them")

# ---- 2. an upgrade that stopped midway ----
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
make_old([single], 3)
define(single)
insert(single, rows_for(["db-1"], DAY2, 90), "samples")
insert(single, rows_for(["db-2"], DAY5, 90), "samples")
before = content(single)
# (what a run does before its copy ends: the version, the samples aside,
# part of the copy)
single.query("INSERT INTO ember.ember_schema VALUES (5, 'single', now())")
r = ember("fleet-init", single.url())
check(r.returncode != 0 and "being upgraded" in r.stderr and "samples_in" not in tables(single),
      f"an agent's connection after the version, before the move: {r.stderr.strip()}; no intake "
      "made")
single.query("RENAME TABLE ember.samples TO ember.samples_upgrading")
single.query("DROP TABLE ember.samples_ts_mv")
single.query("DROP TABLE ember.samples_sets_mv")
ref = chs.single("ref")
ember("fleet-init", ref.url())
single.query(ref.rows("SHOW CREATE TABLE ember.samples")[0][0].replace("\\'", "'").replace(
    "ember.samples", "ember.samples_new"))
COPY = ("INSERT INTO ember.samples_new (hour, sec, duration, host, process, pid, thread, tid, "
        "cgroup, label_keys, label_values, labelset, stack, count, batch) SELECT "
        "toDateTime(intDiv(toUInt32(time), 3600) * 3600), toUInt16(toUInt32(time) % 3600), "
        "duration, host, process, pid, thread, tid, cgroup, label_keys, label_values, labelset, "
        "stack, count, batch FROM ember.samples_upgrading WHERE ")
# (db-2's day whole, db-1's in part)
single.query(COPY + "host = 'db-2'")
single.query(COPY + "host = 'db-1' AND stack = 301")
day5_parts = single.rows("SELECT name FROM system.parts WHERE database = 'ember' AND table = "
                         f"'samples_new' AND active AND partition = toString(toDate(toDateTime({DAY5})))")
r = ember("fleet-init", single.url())
check(r.returncode != 0 and "being upgraded" in r.stderr and "samples" not in tables(single),
      f"an agent's connection while an upgrade runs: {r.stderr.strip()}; no samples table made")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and content(single) == before and NEW_KEY in key_of(single) and
      "samples_upgrading" not in tables(single) and "samples_new" not in tables(single),
      f"the next run finishes it, exact: {r.stdout.strip()} {r.stderr.strip()}")
kept = single.rows("SELECT name FROM system.parts WHERE database = 'ember' AND table = 'samples' "
                   f"AND active AND partition = toString(toDate(toDateTime({DAY5})))")
check(day5_parts and kept == day5_parts,
      f"... the day the stopped run had copied whole was kept as it was ({kept}), the day copied "
      "in part copied again")
# stopped after the copy went in, before the old table was dropped
single.query("CREATE TABLE ember.samples_upgrading AS ember.samples")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and content(single) == before and "samples_upgrading" not in tables(single),
      f"... and one stopped before dropping the old samples: {r.stdout.strip()} {r.stderr.strip()}")
check(derived_ok(single), "... the totals and label sets equal the samples'")

# ---- 3. schema 2 ----
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
make_old([single], 2, views=False)
define(single)
insert(single, rows_for(["app-1", "app-2", "app-3"], DAY2, 90), "samples")
before = content(single)
check("samples_1d" not in tables(single) and "samples_ts" not in tables(single),
      "a schema 2 store: no roll-up, no totals")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "from schema version 2 to 5" in r.stdout and content(single) == before
      and tables(single) == tables_v5,
      f"schema 2 upgraded, the roll-up's tables made: {r.stdout.strip()} {r.stderr.strip()}")
check(derived_ok(single), "... the totals and label sets made from the copy")
insert(single, rows_for(["app-4"], DAY2, 5))
check(derived_ok(single), "... and fed by the views made before the samples were moved aside")
r = ember("fleet-maintain", single.url())
day2 = single.rows(f"SELECT toUInt32(toDateTime(toDate(toDateTime({DAY2}))))")[0][0]
rolled = single.rows("SELECT host, sum(count) FROM ember.samples_1d GROUP BY host ORDER BY host")
raw = single.rows(f"SELECT host, sum(count) FROM ember.samples WHERE time >= toDateTime({day2}) "
                  f"AND time < toDateTime({int(day2) + DAY}) GROUP BY host ORDER BY host")
check(r.returncode == 0 and rolled and rolled == raw,
      f"... the maintainer rolls its days up: {rolled} ({r.stdout.strip()})")

# ---- 3b. schema 5 without the derived tables ----
drop_derived([single])
r = ember("fleet-init", single.url())
check(r.returncode != 0 and "samples_ts" in r.stderr and "--upgrade" in r.stderr,
      f"a schema 5 store without the totals refused: {r.stderr.strip()}")
before = content(single)
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "totals made" in r.stdout and content(single) == before and
      derived_ok(single) and set(tables_v5) <= set(tables(single)),
      f"... --upgrade makes them: {r.stdout.strip()} {r.stderr.strip()}")

# ---- 4. a cluster of two shards ----
shards = chs.cluster(2)
entry = shards[0]
shard_args = [a for s in shards for a in ("--shard", s.url())]
r = ember("fleet-init", entry.url(), "--cluster", chs.CLUSTER, *shard_args)
check(r.returncode == 0, f"fleet-init --cluster: {r.stderr.strip()}")
make_old(shards, 3, suffix="_local", entry=entry, views=False)
define(entry, insert_distributed_sync=1)
cands = [f"node-{c}" for c in "abcdefgh"]
shard_of = dict(entry.rows("SELECT h, cityHash64(h) % 2 FROM (SELECT arrayJoin([" +
                           ",".join(f"'{c}'" for c in cands) + "]) AS h)"))
chosts = [next(c for c in cands if shard_of[c] == "0"), next(c for c in cands if shard_of[c] == "1")]
insert(entry, rows_for(chosts, DAY2, 60), "samples", insert_distributed_sync=1)
before = content(entry)
per_shard = [len(content(s, "samples_local")) for s in shards]
check(all(per_shard), f"a cluster at schema 3: sample keys on each shard {per_shard}")
r = ember("fleet-maintain", "--upgrade", entry.url())
check(r.returncode != 0 and "--shard" in r.stderr, f"--upgrade without --shard: {r.stderr.strip()}")
r = ember("fleet-maintain", "--upgrade", entry.url(), *shard_args)
check(r.returncode == 0 and "from schema version 3 to 5" in r.stdout and content(entry) == before
      and all(NEW_KEY in key_of(s, "samples_local") for s in shards),
      f"cluster: --upgrade with the shards: {r.stdout.strip()} {r.stderr.strip()}; exact")
check(derived_ok(entry), "cluster: the totals and label sets made on the shards")
insert(entry, rows_for(chosts, DAY2 + HOUR, 5), insert_distributed_sync=1)
check(derived_ok(entry) and len(content(entry)) > len(before),
      "cluster: a shipment into the intake after the upgrade lands in the samples and feeds them")
r = ember("fleet-maintain", entry.url(), *shard_args)
check(r.returncode == 0 and folded(entry.url()), f"cluster: the retention after it: {r.stdout.strip()}")

# ---- 5. --retention-days ----
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
define(single)
ages = {d: (NOW - d * DAY) // DAY * DAY + 2 * HOUR for d in (3, 8, 40)}
for d, start in ages.items():
    insert(single, rows_for(["ret-1"], start, 30))


def days_held():
    return sorted(int(r[0]) for r in single.rows(
        f"SELECT intDiv({NOW} - toUInt32(toDateTime(toDate(time))), {DAY}) FROM ember.samples "
        "GROUP BY toDate(time)"))


def sums_of(day_start):
    return single.rows(f"SELECT sum(count) FROM ember.samples WHERE toDate(time) = "
                       f"toDate(toDateTime({day_start}))")[0][0]


kept = {d: sums_of(ages[d]) for d in (3, 8)}
r = ember("fleet-maintain", single.url(), "--retention-days", "0")
check(r.returncode == 0 and days_held() == [3, 8, 40] and " 0 day partitions dropped" in r.stdout,
      f"--retention-days 0 keeps every day: {days_held()} ({r.stdout.strip()})")
# serve --maintain takes the same flag: its first run at its start
sp = subprocess.Popen([EMBER, "serve", "--store", single.url(), "--maintain", "--retention-days",
                       "10", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
line = sp.stdout.readline()
sp.terminate()
sp.communicate(timeout=60)
check(sp.returncode == 0 and " 1 day partitions dropped" in line and days_held() == [3, 8] and
      kept[8] == sums_of(ages[8]),
      f"serve --maintain --retention-days 10: the 40-day-old day goes, the 8-day-old stays "
      f"whole: {days_held()} ({line.strip()})")
r = ember("serve", "--store", single.url(), "--retention-days", "10")
check(r.returncode == 2 and "--retention-days goes with --maintain" in r.stderr,
      f"serve --retention-days without --maintain: {r.stderr.strip()}")
r = ember("fleet-maintain", single.url(), "--retention-days", "5")
check(r.returncode == 0 and days_held() == [3] and kept[3] == sums_of(ages[3]),
      f"--retention-days 5: the 8- and 40-day-old days go, the 3-day-old stays whole: "
      f"{days_held()} ({r.stdout.strip()})")
for bad in ("-1", "x", "36501", ""):
    r = ember("fleet-maintain", single.url(), "--retention-days", bad)
    check(r.returncode == 2 and "--retention-days" in r.stderr,
          f"--retention-days '{bad}': {r.stderr.strip()}")

# ---- 6. an outbox queued before the upgrade, shipped after it ----
# (the writer queues a flush's samples as rows with their time, the form
# older agents queued them in too: they go into schema 5's intake as they
# are; an entry whose samples landed but whose removal was lost is looked
# up in the samples, by host, time, hour and batch, and not sent again)
BENCH = os.path.join(os.path.dirname(os.path.dirname(EMBER)), "bench", "storage_bench")
if not os.path.exists(BENCH):
    fail(f"{BENCH} is missing: build the whole tree (ninja -C BUILD)")
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
make_old([single], 4)
tmp = tempfile.mkdtemp(prefix="ember-upgrade-outbox-")
queue = os.path.join(tmp, "q.db")
# (12 minutes of flushes across an hour's start)
r = subprocess.run([BENCH, "-F", "19", "-c", "2", "-H", "0.2", "-n", "-s", "-T",
                    str(NOW // HOUR * HOUR - 2 * HOUR - 360), "-o", queue], capture_output=True,
                   text=True, timeout=600)
check(r.returncode == 0, f"an outbox queued while the store is at schema 4: {r.stderr.strip()}")


def outbox(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(), coalesce(sum(samples), 0) FROM ship_outbox").fetchone()


queued = outbox(queue)
shutil.copy(queue, queue + ".again")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "from schema version 4 to 5" in r.stdout,
      f"the store upgraded with the outbox queued: {r.stdout.strip()} {r.stderr.strip()}")


def ship(path):
    r = subprocess.run([BENCH, "-S", single.url(), "-o", path], capture_output=True, text=True,
                       timeout=600)
    check(r.returncode == 0, f"shipping {os.path.basename(path)}: {r.stderr.strip()}")


def fleet_samples():
    return int(single.rows("SELECT sum(count) FROM ember.samples")[0][0] or 0)


ship(queue)
check(queued[0] > 60 and outbox(queue) == (0, 0) and fleet_samples() == queued[1],
      f"the {queued[0]} queued flushes shipped after the upgrade: {fleet_samples()} samples in "
      f"ClickHouse, {queued[1]} queued")
with sqlite3.connect(queue + ".again") as db:
    db.execute("UPDATE ship_outbox SET attempts = 1")
ship(queue + ".again")
check(outbox(queue + ".again") == (0, 0) and fleet_samples() == queued[1] and derived_ok(single),
      f"the same entries again as sent before (attempts 1): found, none sent twice "
      f"({fleet_samples()} samples); the derived tables equal the samples'")
shutil.rmtree(tmp, ignore_errors=True)
print("test_fleet_upgrade: all checks passed")
