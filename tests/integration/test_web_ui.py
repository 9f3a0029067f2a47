# SPDX-License-Identifier: Apache-2.0
"""The browser test of the web UI against the real server: record `split`
for 8 s with a flush every second (so the timeline has points to select),
serve it with `ember serve`, and run tests/web/test-ui-real.mjs in Chromium
over it. Screenshots: build/tests/web/artifacts/real-*.png."""
import os
import subprocess

from embertest import check, fail, prog, record, require_root, tmpdir
import webtest as w

require_root()
NODE = os.environ.get("NODE", "")
ARTIFACTS = os.environ.get("ARTIFACTS", "")
if not NODE or not os.path.exists(NODE):
    fail("node was not found when meson configured this build: install nodejs (scripts/test.sh does)")
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web", "test-ui-real.mjs")
d = tmpdir()
db = os.path.join(d, "split.db")
r = record(db, [prog("split"), "--seconds", "8"], freq=199, extra=["--flush", "1"])
check(r.returncode == 0, "recorded split for 8 s")
digest = w.sha256(db)
p, base, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0"])
try:
    res = subprocess.run([NODE, script, base, ARTIFACTS], capture_output=True, text=True, timeout=240)
    print(res.stdout)
    print(res.stderr)
finally:
    rc, err = w.stop(p)
check(res.returncode == 0, "the browser test over the real server passed")
check(rc == 0 and w.sha256(db) == digest, "serve stopped cleanly and the database is unchanged")
