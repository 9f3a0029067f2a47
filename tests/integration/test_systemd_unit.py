# SPDX-License-Identifier: Apache-2.0
"""dist/ember-agent.service: `systemd-analyze verify` accepts it, `systemd-
analyze security` rates its exposure at most 4.0 (the unit before the
sandboxing rated 8.4), it has its cache directory, and the capability
bounding set it gives is enough: the agent, run with exactly that set
(setpriv, since systemd is not PID 1 on every test machine), symbolizes a
process of another user (its maps and binaries) and names kernel frames.
What this cannot check without systemd as PID 1: the system call filter
and the file system sandbox at run time."""
import os
import re
import shutil
import subprocess
import time

from embertest import EMBER, check, fail, prog, require_root, run, tmpdir

require_root()
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist",
                   "ember-agent.service")
unit = open(src).read()
check("CacheDirectory=ember" in unit and "StateDirectoryMode=0700" in unit,
      "the unit has its cache directory and a private state directory")
if not shutil.which("systemd-analyze"):
    fail("systemd-analyze is missing (package systemd)")
d = tmpdir()
path = os.path.join(d, "ember-agent.service")
with open(path, "w") as f:
    f.write(unit.replace("/usr/local/bin/ember", EMBER))
r = run(["systemd-analyze", "verify", path])
check(r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify: clean {r.stderr.strip()}")
r = run(["systemd-analyze", "security", "--offline=yes", "--threshold=40", path])
level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
check(r.returncode == 0 and level, f"systemd-analyze security: exposure "
      f"{level.group(1) if level else '?'} (at most 4.0)")

caps = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
db = os.path.join(d, "caps.db")
os.chmod(d, 0o755)
copy = os.path.join(d, "split-other")
shutil.copy(prog("split"), copy)
os.chmod(copy, 0o755)
rec = subprocess.Popen(["setpriv", "--bounding-set", bounding, "--", EMBER, "record", "-a",
                        "-F", "499", "-d", "9", "-o", db, "--cache-dir", "none"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(3)
subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", copy,
                "--seconds", "3"], stdout=subprocess.DEVNULL)
_, err = rec.communicate(timeout=60)
check(rec.returncode == 0, f"record -a with only {' '.join(caps)} runs ({err.strip()[-200:]})")
r = run([EMBER, "report", db, "--format", "folded"])
mine = [line for line in r.stdout.splitlines() if line.startswith("split-other;")]
named = sum(int(x.rsplit(" ", 1)[1]) for x in mine if "leaf_" in x)
total = sum(int(x.rsplit(" ", 1)[1]) for x in mine)
check(total > 0 and named >= 0.8 * total,
      f"another user's process is symbolized: {named} of its {total} samples end in its leaves")
kernel = [x for x in r.stdout.splitlines() if "_[k]" in x]
unknown = sum(int(x.rsplit(" ", 1)[1]) for x in kernel if "[unknown]_[k]" in x)
check(kernel and unknown * 10 < sum(int(x.rsplit(" ", 1)[1]) for x in kernel),
      "kernel frames are named (kallsyms readable)")
