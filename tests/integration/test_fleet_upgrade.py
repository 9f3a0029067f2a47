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
"""
import subprocess
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
OLD_KEY = {3: "(host, toStartOfHour(time), labelset, stack, time, duration, batch)",
           2: "(host, labelset, stack, time, duration, batch)"}
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


def insert(server, text, **settings):
    server.query(f"INSERT INTO ember.samples ({SAMPLE_COLS}) FORMAT TabSeparated", text, **settings)


def ember(*args):
    return subprocess.run([EMBER, *args], capture_output=True, text=True, timeout=600)


DERIVED = ("samples_ts_mv", "samples_sets_mv", "samples_ts", "samples_sets")


def drop_derived(servers, suffix="", entry=None):
    """the totals and label sets and their views gone, as before them"""
    for s in servers:
        for t in DERIVED:
            s.query(f"DROP TABLE IF EXISTS ember.{t}{suffix}")
    if entry:
        for t in DERIVED[2:]:
            entry.query(f"DROP TABLE IF EXISTS ember.{t}")


def make_old(servers, version, suffix="", entry=None, views=True):
    """this Ember's store made older: samples with the older key, version
    (with the totals' views bound to the name samples, as the schema 3 of
    the Ember that made them; without them, as the one before)"""
    if not views:
        drop_derived(servers, suffix, entry)
    for s in servers:
        s.query(f"DROP TABLE ember.samples{suffix}")
        s.query(f"CREATE TABLE ember.samples{suffix} ({OLD_DEF}) ENGINE = SummingMergeTree(count) "
                f"PARTITION BY toDate(time) ORDER BY {OLD_KEY[version]}")
        if version == 2:
            for t in ("rollup_stale", "samples_1d", "ember_rolled"):
                s.query(f"DROP TABLE IF EXISTS ember.{t}{suffix}")
    e = entry or servers[0]
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


def derived_ok(server):
    """the totals and the label sets hold what the samples make"""
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
    return got[0] and got == want


def key_of(server, table="samples"):
    return server.rows(f"SHOW CREATE TABLE ember.{table}")[0][0]


def tables(server):
    return sorted(r[0] for r in server.rows("SELECT name FROM system.tables WHERE database = 'ember'"))


NEW_KEY = "intDiv(toUInt32(time), 21600)"
DAY2 = (NOW - 2 * DAY) // HOUR * HOUR
DAY5 = (NOW - 5 * DAY) // HOUR * HOUR

# ---- 1. schema 3 on one server ----
single = chs.single()
print(f"# ClickHouse {single.rows('SELECT version()')[0][0]}")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
tables_v4 = tables(single)
make_old([single], 3)
define(single)
for start in (DAY5, DAY2, NOW // HOUR * HOUR - HOUR):
    insert(single, rows_for(["web-1", "web-2"], start, 60))
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
check(r.returncode == 0 and "from schema version 3 to 4" in r.stdout,
      f"fleet-maintain --upgrade: {r.stdout.strip()} {r.stderr.strip()}")
check(NEW_KEY in key_of(single) and content(single) == before and tables(single) == tables_v4,
      f"... schema 4's key, the same {len(before)} sample keys and sums, no upgrade table left")
check(single.rows("SELECT max(version) FROM ember.ember_schema")[0][0] == "4",
      "... ember_schema says 4")
check(derived_ok(single), "... the totals and label sets (the views' since the samples "
      "landed) equal the samples'")
insert(single, rows_for(["web-3"], NOW // HOUR * HOUR - 2 * HOUR, 5))
check(derived_ok(single), "... a shipment after the upgrade feeds them (the views, bound to "
      "the name samples, feed from the copy renamed in)")
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

# ---- 2. an upgrade that stopped midway ----
single.query("DROP DATABASE ember")
r = ember("fleet-init", single.url())
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")
make_old([single], 3)
define(single)
insert(single, rows_for(["db-1"], DAY2, 90))
insert(single, rows_for(["db-2"], DAY5, 90))
before = content(single)
# (what a run does before its copy ends: the version, the samples aside,
# part of the copy)
single.query("INSERT INTO ember.ember_schema VALUES (4, 'single', now())")
single.query("RENAME TABLE ember.samples TO ember.samples_upgrading")
single.query(f"CREATE TABLE ember.samples_new ({OLD_DEF}) ENGINE = SummingMergeTree(count) "
             f"PARTITION BY toDate(time) ORDER BY (host, {NEW_KEY}, labelset, stack, time, "
             "duration, batch)")
# (db-2's day whole, db-1's in part)
single.query("INSERT INTO ember.samples_new SELECT * FROM ember.samples_upgrading WHERE "
             "host = 'db-2'")
single.query("INSERT INTO ember.samples_new SELECT * FROM ember.samples_upgrading WHERE "
             "host = 'db-1' AND stack = 301")
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
insert(single, rows_for(["app-1", "app-2", "app-3"], DAY2, 90))
before = content(single)
check("samples_1d" not in tables(single) and "samples_ts" not in tables(single),
      "a schema 2 store: no roll-up, no totals")
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "from schema version 2 to 4" in r.stdout and content(single) == before
      and tables(single) == tables_v4,
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

# ---- 3b. schema 4 made before the totals ----
drop_derived([single])
r = ember("fleet-init", single.url())
check(r.returncode != 0 and "samples_ts" in r.stderr and "--upgrade" in r.stderr,
      f"a schema 4 store without the totals refused: {r.stderr.strip()}")
before = content(single)
r = ember("fleet-maintain", "--upgrade", single.url())
check(r.returncode == 0 and "totals made" in r.stdout and content(single) == before and
      derived_ok(single) and set(tables_v4) <= set(tables(single)),
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
insert(entry, rows_for(chosts, DAY2, 60), insert_distributed_sync=1)
before = content(entry)
per_shard = [len(content(s, "samples_local")) for s in shards]
check(all(per_shard), f"a cluster at schema 3: sample keys on each shard {per_shard}")
r = ember("fleet-maintain", "--upgrade", entry.url())
check(r.returncode != 0 and "--shard" in r.stderr, f"--upgrade without --shard: {r.stderr.strip()}")
r = ember("fleet-maintain", "--upgrade", entry.url(), *shard_args)
check(r.returncode == 0 and "from schema version 3 to 4" in r.stdout and content(entry) == before
      and all(NEW_KEY in key_of(s, "samples_local") for s in shards),
      f"cluster: --upgrade with the shards: {r.stdout.strip()} {r.stderr.strip()}; exact")
check(derived_ok(entry), "cluster: the totals and label sets made on the shards")
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
print("test_fleet_upgrade: all checks passed")
