# SPDX-License-Identifier: Apache-2.0
"""`ember serve --store`'s reader of the fleet store against a real
ClickHouse (storage/DESIGN.md, Fleet, Reading): the queries of the
requests it gives up end (every request carries its own query id and
ClickHouse's max_execution_time, and a request given up is killed by its
id, KILL QUERY ... SYNC, before serve answers), and its query threads
share one definitions' cache.

A single server of the test's own (tests/integration/clickhouse.py, with
system.query_log) holds a fleet store with one host's deliberately heavy
half hour: rows of 50,000 threads, all in the first hour of the range,
so the label sets of a range that starts mid-hour are summed from the
samples themselves (GROUP BY over every row: seconds on this machine).

1. The deadline: serve with --query-timeout 1 answers /api/v1/labels of
   that range with 503 "query timed out"; while it waited an ember-read-
   query was running in system.processes, and when the 503 arrived none
   is left. query_log says how each ended: killed (394) or ClickHouse's
   own time limit (159), never finished.
2. The client goes away: serve with the default 30 s; the client sends
   the same request and closes its connection once the query runs in
   system.processes; the query then leaves system.processes, ended by a
   kill (query_log: 394, QUERY_WAS_CANCELLED), not finished; serve
   still answers the next request.
3. --query-timeout outside 1..3600 is refused with a usage message.
4. The shared definitions' cache: a host with 20,000 stacks; one tree
   request, then 8 at once (the query threads take them: query ids name
   the handle, so the threads that answered are counted); ClickHouse's
   query_log shows the stacks, frames and functions read once each, by
   the first request, and the same tree from every thread. /metrics
   counts the cache (fleet-definitions) and its drops.
"""
import json
import socket
import subprocess
import threading
import time
import urllib.parse

from embertest import EMBER, check, fail, tmpdir
import clickhouse as chs
import webtest as w

if not chs.available():
    fail(f"{chs.SERVER} is missing: scripts/lib.sh installs clickhouse-server")

ROWS = 4_000_000
HOUR = 3600
d = tmpdir()
server = chs.single("deadline", query_log=True, slow_reads=True)
# serve as the user whose reads are slow on any machine (16 rows a block)
SLOW_URL = server.url(user="slow")
r = subprocess.run([EMBER, "fleet-init", server.url()], capture_output=True, text=True)
check(r.returncode == 0, f"fleet-init: {r.stderr.strip()}")

# the data: one stack, one host, 50,000 threads, in the half hour that
# starts at H + 1800 (H: an hour two hours ago)
H = (int(time.time()) - 2 * HOUR) // HOUR * HOUR
server.query("INSERT INTO ember.functions (function, name, module, file) FORMAT TabSeparated",
             "101\tmain\tapp\t\n")
server.query("INSERT INTO ember.frames (frame, function, line, kind, build_id, file_offset) "
             "FORMAT TabSeparated", "201\t101\t0\t0\t\t0\n")
server.query("INSERT INTO ember.stacks (stack, frames) FORMAT TabSeparated", "301\t[201]\n")
server.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, cgroup, "
             "label_keys, label_values, stack, count, batch) "
             f"SELECT toDateTime({H} + 1800 + intDiv(number, {ROWS // 1800 + 1})), 10, 'h1', 'app', "
             "1, 'worker', toUInt32(number % 50000), 0, ['k'], [toString(number % 7)], 301, 1, 0 "
             f"FROM numbers({ROWS})", timeout=600)
total = int(server.rows("SELECT sum(count) FROM ember.samples")[0][0])
check(total == ROWS, f"the store holds the {ROWS} samples ({total})")

# a range starting mid-hour: its first hour's label sets come from the samples
PATH = f"/api/v1/labels?from={H + 1}&to={H + 2 * HOUR + 1}"
RUNNING = ("SELECT query_id FROM system.processes WHERE query_id LIKE 'ember-read-%' "
           "AND query LIKE '%samples%'")


def running(min_elapsed=0.0):
    return [row[0] for row in server.rows(RUNNING + f" AND elapsed >= {min_elapsed}")]


class Watch:
    """Polls system.processes while a request runs: the ember-read- query
    ids seen running."""

    def __init__(self):
        self.seen = set()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.seen.update(running())
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._t.join()


def endings(ids):
    """query_log's ending of each query id: (type, exception code; 18.16
    has the code in the text only): ("2", "") finished, ("4", CODE) failed
    while it ran."""
    out = {}
    # (a query's ending is logged as its thread unwinds, which may be just
    # after it left system.processes: flushed again until each is there)
    deadline = time.time() + 60
    while time.time() < deadline:
        server.query("SYSTEM FLUSH LOGS")
        for qid in ids:
            rows = server.rows("SELECT toString(type), extract(exception, '^Code: ([0-9]+)') "
                               f"FROM system.query_log WHERE query_id = '{qid}' AND type != 1")
            out[qid] = tuple(rows[0]) if rows else None
        if all(out.values()):
            break
        time.sleep(0.2)
    return out


# 1. the deadline
sp, base, _ = w.start(["serve", "--store", SLOW_URL, "--listen", "127.0.0.1:0",
                       "--query-timeout", "1"], timeout=60)
watch = Watch()
st, _, body = w.request(base, PATH)
left = running()
watch.stop()
check(st == 503 and b"timed out" in body, f"--query-timeout 1: 503 query timed out ({st} {body[:200]!r})")
check(watch.seen, "a query of serve's ran in ClickHouse while it waited (enough rows to be slow)")
check(not left, f"when serve answered 503, none of its queries runs in ClickHouse ({left})")
ends = endings(watch.seen)
given_up = {q: e for q, e in ends.items() if e != ("2", "")}
check(given_up and all(e == ("4", "394") or e == ("4", "159") for e in given_up.values()),
      f"the query serve gave up was killed (394) or ended by its time limit (159), the others "
      f"finished (query_log types 2 finished, 4 failed): {ends}")
# (a query of the store could itself pass 1 s on a loaded machine)
st, _, _ = w.request(base, "/healthz")
check(st == 200, f"serve answers after a time-out ({st})")
code, _ = w.stop(sp)
check(code == 0, f"serve stops cleanly ({code})")

# 2. the client goes away
sp, base, _ = w.start(["serve", "--store", SLOW_URL, "--listen", "127.0.0.1:0"], timeout=60)
host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
c = socket.create_connection((host, int(port)))
c.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
seen = []
deadline = time.time() + 60
# a query that has run a while: the request's first reads are quick ones,
# which may end on their own between this look and the close
while not seen and time.time() < deadline:
    seen = running(0.3)
    time.sleep(0.02)
check(seen, "the request's slow query runs in ClickHouse")
c.close()
deadline = time.time() + 60
while running() and time.time() < deadline:
    time.sleep(0.05)
check(not running(), "the query leaves ClickHouse once its client has gone")
ends = endings(seen)
check(all(e == ("4", "394") for e in ends.values()),
      f"... killed by serve (query_log: 394, cancelled), not run to its end: {ends}")
st, _, _ = w.request(base, "/api/v1/meta")
check(st == 200, f"serve answers after a client went away ({st})")
code, _ = w.stop(sp)
check(code == 0, f"serve stops cleanly ({code})")

# 3. the flag's bounds
for bad in ("0", "3601", "x"):
    r = subprocess.run([EMBER, "serve", "--store", server.url(), "--query-timeout", bad],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "query-timeout" in r.stderr,
          f"--query-timeout {bad}: a usage error naming the flag ({r.returncode} {r.stderr.strip()})")

# 4. the shared definitions' cache: host h2, 20,000 stacks of 3 frames
NS = 20000
server.query("INSERT INTO ember.functions (function, name, module, file) FORMAT TabSeparated",
             "".join(f"{1000 + i}\tfn{i}\tapp\tapp.c\n" for i in range(NS + 101)))
server.query("INSERT INTO ember.frames (frame, function, line, kind, build_id, file_offset) "
             "FORMAT TabSeparated",
             "".join(f"{100000 + i}\t{1000 + i}\t{i}\t0\t\t{16 * i}\n" for i in range(NS + 101)))
server.query("INSERT INTO ember.stacks (stack, frames) FORMAT TabSeparated",
             "".join(f"{500000 + i}\t[100000,{100001 + i % 100},{100101 + i}]\n"
                     for i in range(NS)))
server.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, cgroup, "
             "label_keys, label_values, stack, count, batch) FORMAT TabSeparated",
             "".join(f"{H + 1800 + i % 1800}\t10\th2\tapp\t2\tw\t{i % 10}\t0\t[]\t[]\t"
                     f"{500000 + i}\t{1 + i % 3}\t0\n" for i in range(NS)))
TREE = (f"/api/v1/tree?from={H}&to={H + 2 * HOUR}&max_nodes=100000&filter=" +
        urllib.parse.quote('host="h2"'))
sp, base, _ = w.start(["serve", "--store", server.url(), "--listen", "127.0.0.1:0"], timeout=60)
first = w.get_json(base, TREE)
results = [None] * 8


def ask(i):
    results[i] = w.request(base, TREE)


threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(all(r and r[0] == 200 and json.loads(r[2]) == first for r in results),
      "8 requests at once give the first request's tree")
server.query("SYSTEM FLUSH LOGS")
log = server.rows("SELECT query_id, query FROM system.query_log WHERE type = 2 AND "
                  "query_id LIKE 'ember-read-%' AND event_time >= now() - 600")
handles = {qid.rsplit("-", 1)[0] for qid, sql in log if "GROUP BY process, stack" in sql}
reads = {t: sum(1 for _, sql in log if f" FROM {t} WHERE {t[:-1]} IN" in sql)
         for t in ("stacks", "frames", "functions")}
check(len(handles) >= 2, f"the trees were made by {len(handles)} query threads' handles")
check(reads == {"stacks": 1, "frames": 1, "functions": 1},
      f"the definitions were read from ClickHouse once, by the first tree ({reads})")
st, _, body = w.request(base, "/metrics")
text = body.decode()
m = w.metric(text.replace('{cache="fleet-definitions"}', "_defs"), "ember_cache_memory_bytes_defs")
check(st == 200 and m and m > NS * 40,
      f"/metrics counts the shared definitions' cache ({m} bytes)")
check('ember_cache_evictions_total{cache="fleet-definitions"} 0' in text,
      "... and its drops (none within the bound)")
code, _ = w.stop(sp)
check(code == 0, f"serve stops cleanly ({code})")
print("ok")
