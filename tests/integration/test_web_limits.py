# SPDX-License-Identifier: Apache-2.0
"""The HTTP server bounds what every request and every client may cost
(web/API.md, Limits), against the real `ember serve` (run as user nobody:
it needs no root) and the real `ember agent` (root), over real HTTP:

- the regex filters an attacker sends (4 KB of "=~.{9999}" took 265 MB a
  request, serve went to 1.19 GB, the agent past its unit's MemoryMax),
  repeated and concurrent: each is a 400 that says which limit, and the
  server's peak resident size stays under its --memory; regexes glibc
  could not bound ("a{0,9999}", and "[ab]*a[ab]{30}" over 30,000 distinct
  40-character thread names) are answered within it;
- 200 slow connections (a header line every 2 s): /healthz and /metrics
  keep answering, and the server shuts every slow one (header deadline,
  or the oldest idle at the connection limit);
- a burst of 500 connections, held and then closed: /healthz answers while
  they are held and right after, and no socket stays in CLOSE-WAIT;
- NUL and control bytes in the path or in a parameter (of any path,
  /healthz too): a 400 naming the parameter;
- a request too big by itself for the budget (a 30,000-node tree under
  --memory 16): a 400 saying the limit, while a narrower filter is served.

Outcomes only: answered or not within generous timeouts, status codes,
resident sizes against the budget; never latencies."""
import atexit
import concurrent.futures
import json
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

from embertest import EMBER, check, fail, require_root, run, tmpdir
import webtest as w

require_root()
started = []


def start(args, **kw):
    """w.start, and the process killed at exit if a check failed first."""
    proc, url, lines = w.start(args, **kw)
    started.append(proc)
    return proc, url, lines


atexit.register(lambda: [x.kill() for x in started if x.poll() is None])
d = tmpdir()
os.chmod(d, 0o755)

# A profile of 30,000 distinct stacks (a 30,303-node tree), each sample
# with a thread name of its own: 40 random a/b characters.
random.seed(14)
stacks = [(["main", f"mid{i // 100}", f"leaf{i}"], 1 + i % 3,
           {"process": "big", "thread": "".join(random.choice("ab") for _ in range(40))})
          for i in range(30000)]
total = sum(c for _, c, _ in stacks)
pb = os.path.join(d, "big.pb")
db = os.path.join(d, "big.db")
w.write_pprof(pb, stacks)
r = run([EMBER, "import", pb, "-o", db])
check(r.returncode == 0, f"a 30,000-stack profile imported ({r.stderr.strip()})")
os.chmod(db, 0o644)


def drop_root():
    os.setgid(65534)
    os.setuid(65534)


def q(s):
    return urllib.parse.quote(s, safe="")


def status_json(base, path, timeout=60):
    st, h, body = w.request(base, path, timeout=timeout)
    try:
        j = json.loads(body)
    except ValueError:
        j = None
    return st, h, j


def vm_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def raw_request(port, target, timeout=10):
    """Send a request line as bytes (what http.client would refuse), read
    the answer: (status, JSON body or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), json.loads(body)
    except (IndexError, ValueError):
        return None, None


def open_slow(port, n, path):
    """n connections that send a request line and a Host header, no more
    (yet)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            pass  # shut already for a newer one: fine
        socks.append(s)
    return socks


# ---- serve --memory 64, as nobody
BUDGET_MB = 64
p, base, _ = start(["serve", "--db", db, "--listen", "127.0.0.1:0", "--memory", str(BUDGET_MB)],
                     preexec_fn=drop_root)
port = int(base.rsplit(":", 1)[1])
t = w.get_json(base, "/api/v1/tree")
check(t["samples"] == total and len(t["nodes"]["parent"]) == 30303,
      f"the whole tree is served within --memory {BUDGET_MB} ({len(t['nodes']['parent'])} nodes)")

# The attack and its variants: too costly by themselves, each a 400 that
# names the limit; and patterns glibc could not bound, answered.
attack = ",".join("process=~.{9999}" for _ in range(240))[:4000].rsplit(",", 1)[0]
COSTLY = [
    (f"/api/v1/tree?filter={q(attack)}", "filter", "1024 KiB"),
    (f"/api/v1/top?filter={q(','.join('thread=~.{9999}' for _ in range(4)))}", "filter", "1024 KiB"),
    (f"/api/v1/tree?filter={q(','.join(f'l{i}=~a{i}' for i in range(17)))}", "filter", "more than 16"),
    (f"/api/v1/diff?filter={q(','.join(f'a{i}=~x' for i in range(9)))}"
     f"&base_filter={q(','.join(f'b{i}=~y' for i in range(9)))}", "base_filter", "more than 16"),
    (f"/api/v1/export/folded?filter={q('process=~((a{1000}){1000}){1000}')}", "filter", "too complex"),
]
BOUNDED = [
    ("/api/v1/tree?filter=" + q('process=~"a{0,9999}"'), 0),
    (f"/api/v1/tree?filter={q('thread=~[ab]*a[ab]{30}')}", None),
    (f"/api/v1/timeline?filter={q('thread!~(a|b)*bab(a|b){9}')}", None),
]
errors = []
exact = True  # serve: the samples are known; the agent's profile is its own


def attack_round(i):
    for path, param, says in COSTLY:
        st, h, j = status_json(base, path)
        if st == 503 and h.get("retry-after"):
            continue
        if not (st == 400 and j and j.get("parameter") == param and says in j.get("error", "")):
            errors.append(f"{path[:60]}: {st} {j}")
    path, samples = BOUNDED[i % len(BOUNDED)]
    st, h, j = status_json(base, path)
    if st == 503 and h.get("retry-after"):
        return
    if st != 200 or (exact and samples is not None and j.get("samples") != samples):
        errors.append(f"{path[:60]}: {st} {str(j)[:100]}")


with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
    list(ex.map(attack_round, range(36)))
check(not errors, "36 rounds of costly regex filters from 6 clients at once: each a 400 naming the "
      "filter and the limit; regexes glibc could not bound answered" + ("; " + "; ".join(errors[:5]) if errors else ""))
st, _, j = status_json(base, f"/api/v1/tree?filter={q('thread=~[ab]*a[ab]{30}')}")
expect = sum(c for _, c, lb in stacks if re.fullmatch(r"[ab]*a[ab]{30}", lb["thread"]))
check(st == 200 and j["samples"] == expect,
      f"'[ab]*a[ab]{{30}}' over 30,000 distinct thread names matches what Python's re says ({j['samples']} of {expect})")
peak = vm_kb(p.pid, "VmHWM")
check(0 < peak < BUDGET_MB * 1024,
      f"serve's peak resident size stays under its --memory {BUDGET_MB} MB ({peak // 1024} MB; "
      f"265 MB a request before)")

# ---- 200 slow connections: a header line every 2 s
slow = open_slow(port, 200, b"/api/v1/meta")
probes, stop_probes = [], threading.Event()


def prober():
    while not stop_probes.is_set():
        for path in ("/healthz", "/metrics"):
            try:
                st = w.request(base, path, timeout=10)[0]
            except OSError as e:
                st = type(e).__name__
            probes.append((path, st))
        time.sleep(0.5)


th = threading.Thread(target=prober)
th.start()
t0 = time.time()
k = 0
while time.time() - t0 < 16:
    for s in slow:
        try:
            s.sendall(b"X-Slow-%d: %d\r\n" % (k, k))
        except OSError:
            pass
    k += 1
    time.sleep(2)
stop_probes.set()
th.join()
bad = [x for x in probes if x[1] != 200]
check(len(probes) >= 10 and not bad,
      f"/healthz and /metrics answered all {len(probes)} probes within 10 s while 200 slow "
      f"connections sent a header line every 2 s ({bad[:5]})")


def closed_by_server(s):
    try:
        s.settimeout(5)
        s.sendall(b"X-More: 1\r\n")
        return s.recv(4096) == b""
    except OSError:
        return True


shut = sum(closed_by_server(s) for s in slow)
for s in slow:
    s.close()
check(shut == 200, f"the server shut all 200 slow connections ({shut}): none is served for ever")
st, _, body = w.request(base, "/metrics")
text = body.decode()


def metric(name, label=None):
    key = name + (f'{{reason="{label}"}}' if label else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    fail(f"/metrics has no {key}")


drops = metric("ember_http_connections_dropped_total", "header-timeout") + \
    metric("ember_http_connections_dropped_total", "connection-limit")
check(drops >= 200 and metric("ember_http_requests_refused_total", "too-costly") >= 36 * len(COSTLY) // 2,
      f"/metrics counts the connections shut ({drops:.0f}) and the costly requests refused "
      f"({metric('ember_http_requests_refused_total', 'too-costly'):.0f})")
check(metric("ember_http_memory_budget_bytes") == BUDGET_MB / 2 * 2**20,
      "/metrics shows the HTTP budget: half of serve's --memory")

# ---- a burst of 500 connections, held, then closed


def close_wait(port):
    """Sockets of the server's port in CLOSE-WAIT (state 08)."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "08":
                        n += 1
        except FileNotFoundError:
            pass
    return n


burst = []
for i in range(500):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    burst.append(s)
time.sleep(1)
for i, s in enumerate(burst):
    try:
        s.send(b"GET /api/v1/tree HTTP/1.1\r\nHost: 127.0.0.1\r\n" if i % 2 else b"GET /")
    except OSError:
        pass
try:
    st = w.request(base, "/healthz", timeout=10)[0]
except OSError as e:
    st = type(e).__name__
check(st == 200, f"/healthz answers within 10 s while 500 connections of a burst are held ({st})")
for s in burst:
    s.close()
try:
    st = w.request(base, "/healthz", timeout=10)[0]
except OSError as e:
    st = type(e).__name__
check(st == 200, f"... and right after they are closed ({st})")
deadline = time.time() + 20
while close_wait(port) and time.time() < deadline:
    time.sleep(0.5)
check(close_wait(port) == 0, f"no socket stays in CLOSE-WAIT ({close_wait(port)} after 20 s; "
      "64 stayed 60 s before)")

# ---- NUL and control bytes: a 400 naming the parameter
CONTROL = [
    (b"/api/v1/tree?filter=process%3D%22a%00b%22", "filter"),
    (b"/api/v1/tree?from=1%0D%0AX-Injected:%201", "from"),
    (b"/api/v1/timeline?step=1%09", "step"),
    (b"/api/v1/labels?limit=5%7F", "limit"),
    (b"/healthz?probe=%00", "probe"),
    (b"/api/v1/tree?fil%00ter=1", "fil"),
    (b"/api/v1/tree%00.json", None),
    (b"/api/v1/%0Atree", None),
    (b"/index.html%01", None),
]
bad = []
for target, param in CONTROL:
    st, j = raw_request(port, target)
    if not (st == 400 and j and "control character" in j.get("error", "") and j.get("parameter") == param):
        bad.append(f"{target!r}: {st} {j}")
check(not bad, f"{len(CONTROL)} requests with NUL or control bytes in the path or a parameter are 400s "
      "naming the parameter" + ("; " + "; ".join(bad) if bad else ""))

rc, err = w.stop(p)
check(rc == 0 and p.poll() == 0, f"serve exits 0 on SIGTERM ({err.strip()[-200:]})")

# ---- too big by itself: --memory 16 (8 MB for requests, 10,922 nodes a tree)
p, base, _ = start(["serve", "--db", db, "--listen", "127.0.0.1:0", "--memory", "16"],
                     preexec_fn=drop_root)
for path in ("/api/v1/tree", "/api/v1/top", "/api/v1/export/folded"):
    st, h, j = status_json(base, path)
    check(st == 400 and "more than 10922 nodes" in j["error"] and "--memory" in j["error"],
          f"{path} of a 30,303-node tree under --memory 16: 400 saying the limit ({j['error'][:80]})")
st, h, j = status_json(base, f"/api/v1/tree?filter={q('thread=~aa.*')}")
expect = sum(c for _, c, lb in stacks if lb["thread"].startswith("aa"))
check(st == 200 and j["samples"] == expect, f"a narrower filter is served ({j.get('samples')} of {expect})")
w.stop(p)

# ---- the agent (root): the same regex filters, and slow connections
p, base, _ = start(["agent", "--db", os.path.join(d, "agent.db"), "--listen", "127.0.0.1:0",
                      "--flush", "2", "-F", "19"])
port = int(base.rsplit(":", 1)[1])
w.request(base, "/healthz")
rss, errors, exact = [], [], False
stop_rss = threading.Event()


def sample_rss():
    while not stop_rss.is_set():
        rss.append(w.rss_kb(p.pid))
        time.sleep(0.1)


th = threading.Thread(target=sample_rss)
th.start()
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    list(ex.map(attack_round, range(16)))
stop_rss.set()
th.join()
check(not errors, "the agent refuses the costly regex filters from 4 clients at once with 400s naming "
      "the limit" + ("; " + "; ".join(errors[:5]) if errors else ""))
check(rss and max(rss) < 256 * 1024,
      f"the agent's resident size stays under its --memory 256 MB during the attack (peak {max(rss) // 1024} MB; "
      "817 MB before, over the unit's MemoryMax=512M)")
slow = open_slow(port, 200, b"/healthz")
answered = []
for _ in range(6):
    for path in ("/healthz", "/metrics"):
        try:
            answered.append(w.request(base, path, timeout=10)[0])
        except OSError as e:
            answered.append(type(e).__name__)
    for s in slow:
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass
    time.sleep(1)
for s in slow:
    s.close()
check(answered.count(200) == len(answered),
      f"the agent's /healthz and /metrics answer while 200 slow connections are open ({answered})")
rc, err = w.stop(p)
check(rc == 0, f"the agent exits 0 on SIGTERM ({err.strip().splitlines()[-1] if err.strip() else ''})")
shutil.rmtree(d, ignore_errors=True)
print("test_web_limits: all checks passed")
