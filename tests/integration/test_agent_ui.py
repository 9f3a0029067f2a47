# SPDX-License-Identifier: Apache-2.0
"""The browser test of what a new user of the agent sees: `ember agent`
samples the host while split-nofp runs (no frame pointers: its samples
take the DWARF path, which the sampler counts as events, samples kept),
and tests/web/test-ui-agent.mjs opens the agent's own UI in Chromium: the
header shows as dropped only what /api/v1/meta lists as drops, never the
events; the root and the widest frame are in the first screen at
1400x900; the console is clean. When the agent stops, what it printed as
dropped is what the page showed, and its database is one file.
Screenshot: build/tests/web/artifacts/agent-ui.png."""
import json
import os
import re
import subprocess
import time

from embertest import check, fail, prog, require_root, tmpdir
import webtest as w

require_root()
NODE = os.environ.get("NODE", "")
ARTIFACTS = os.environ.get("ARTIFACTS", "")
if not NODE or not os.path.exists(NODE):
    fail("node was not found when meson configured this build: install nodejs (scripts/test.sh does)")
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web", "test-ui-agent.mjs")
d = tmpdir()
db = os.path.join(d, "agent.db")
work = subprocess.Popen([prog("split-nofp"), "--seconds", "60"], stdout=subprocess.DEVNULL)
p, base, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "-F", "49", "--flush", "1"])
try:
    # Until a flush holds the workload's DWARF samples (the first flush
    # symbolizes the whole host: it may take a while on a busy machine).
    meta, deadline = {}, time.time() + 120
    while time.time() < deadline:
        time.sleep(1)
        meta = w.get_json(base, "/api/v1/meta")
        if any(e["name"] == "dwarf-samples" for e in meta.get("events", [])):
            break
    check(any(e["name"] == "dwarf-samples" for e in meta.get("events", [])),
          f"the agent's database holds dwarf-samples events ({meta.get('events')})")
    if ARTIFACTS:
        os.makedirs(ARTIFACTS, exist_ok=True)
    res = subprocess.run([NODE, script, base, os.path.join(ARTIFACTS, "agent-ui.png") if ARTIFACTS else ""],
                         capture_output=True, text=True, timeout=240)
    print(res.stdout)
    print(res.stderr)
    shown = next((json.loads(line[7:]) for line in res.stdout.splitlines() if line.startswith("RESULT ")), None)
    st, _, body = w.request(base, "/metrics")
    text = body.decode()
    ev = re.search(r'^ember_sample_events_total\{event="dwarf-samples"\} (\d+)$', text, re.M)
    check(st == 200 and ev is not None and int(ev.group(1)) > 0 and
          'ember_dropped_samples_total{reason="dwarf-samples"}' not in text,
          f"/metrics: dwarf-samples is an event ({ev and ev.group(1)}), not a drop reason")
finally:
    rc, err = w.stop(p)
    work.kill()
    work.wait()
check(res.returncode == 0, "the browser test over the agent's UI passed")
m = re.search(r"agent stopped: \d+ samples in \d+ flushes, (\d+) dropped", err)
check(m is not None, f"the agent printed its summary ({err.strip().splitlines()[-1:] if err.strip() else ''})")
check(rc == 0, "the agent exited 0")
# The page saw the drops up to then; the agent's total can only be larger.
check(shown is not None and int(m.group(1)) >= shown["drops"] and (int(m.group(1)) > 0 or shown["drops"] == 0),
      f"the agent printed {m.group(1)} dropped; the page showed {shown and shown['drops']}")
check(sorted(os.listdir(d)) == ["agent.db"], f"the stopped agent's database is one file ({os.listdir(d)})")
print("test_agent_ui: all checks passed")
