# SPDX-License-Identifier: Apache-2.0
"""The files ember writes, as root, where other users may have put things:
`-o`/`--db` never writes through a symbolic link (a dangling one is not
created, a link to an empty file leaves it empty), never turns a file that
is not an Ember database into one (empty or not) unless --force, refuses
devices, FIFOs and directories with a message (no /dev/null-journal, no
hang); profiles are 0600 (0640 with --group, the -wal and -shm too); the
same rules hold for import, report -o and diff -o/--html, and a report is
never written over a database."""
import grp
import os
import stat
import subprocess
import time

from embertest import EMBER, check, prog, record, require_root, run, tmpdir
import webtest as w

require_root()
d = tmpdir()
os.chmod(d, 0o1777)   # like /tmp: anybody may leave a file here
split = prog("split")


def p(name):
    return os.path.join(d, name)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def refused(args, what, needle, timeout=20):
    r = run([EMBER, *args], timeout=timeout)
    check(r.returncode != 0 and needle in r.stderr,
          f"{what}: refused ({r.returncode}): {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}")
    return r


# Links: never written through, whoever made them.
os.symlink(p("target.db"), p("dangling.db"))
refused(["record", "-o", p("dangling.db"), "--", split], "record -o at a dangling link",
        "symbolic link")
check(not os.path.exists(p("target.db")), "the link's target was not created")
open(p("empty"), "w").close()
os.symlink(p("empty"), p("empty-link.db"))
refused(["record", "-o", p("empty-link.db"), "--", split], "record -o at a link to an empty file",
        "symbolic link")
check(os.path.getsize(p("empty")) == 0, "the empty file stays empty")
os.symlink("/etc/passwd", p("agent-link.db"))
refused(["agent", "--db", p("agent-link.db"), "--listen", "127.0.0.1:0"], "agent --db at a link",
        "/etc/passwd")

# Devices, FIFOs, directories: refused before anything opens them.
refused(["record", "-o", "/dev/null", "--", split], "record -o /dev/null", "device")
check(not os.path.exists("/dev/null-journal") and not os.path.exists("/dev/null-wal"),
      "no /dev/null-journal or -wal was left")
os.mkfifo(p("fifo"))
t0 = time.time()
refused(["record", "-o", p("fifo"), "--", split], "record -o at a FIFO", "FIFO")
check(time.time() - t0 < 15, "without waiting on the FIFO")
os.mkdir(p("dir"))
refused(["record", "-o", p("dir"), "--", split], "record -o at a directory", "directory")

# Other files: refused, empty or not, unless --force.
with open(p("notes.txt"), "w") as f:
    f.write("keep me\n")
refused(["record", "-o", p("notes.txt"), "--", split], "record -o at a text file",
        "not an Ember database")
check(open(p("notes.txt")).read() == "keep me\n", "the text file is unchanged")
refused(["agent", "--db", p("empty"), "--listen", "127.0.0.1:0"], "agent --db at an empty file",
        "--force")
import sqlite3
con = sqlite3.connect(p("other.sqlite"))
con.execute("create table t (x)")
con.commit()
con.close()
before = open(p("other.sqlite"), "rb").read()
refused(["record", "--append", "-o", p("other.sqlite"), "--", split],
        "record --append at another application's database", "another application")
check(open(p("other.sqlite"), "rb").read() == before, "that database is unchanged")

# A profile: private by default; --force replaces a file.
r = record(p("new.db"), [split, "--seconds", "1"], freq=199)
check(r.returncode == 0 and mode(p("new.db")) == 0o600, f"a new profile is 0600 ({mode(p('new.db')):o})")
r = record(p("notes.txt"), [split, "--seconds", "1"], freq=199, extra=["--force"])
check(r.returncode == 0 and mode(p("notes.txt")) == 0o600 and
      open(p("notes.txt"), "rb").read(16) == b"SQLite format 3\0",
      "--force replaces the text file with a profile (0600)")
os.chmod(p("new.db"), 0o644)
r = record(p("new.db"), [split, "--seconds", "1"], freq=199, extra=["--append"])
check(r.returncode == 0 and mode(p("new.db")) == 0o600,
      "a profile continued with --append is made 0600 again")
gname = next((g.gr_name for g in grp.getgrall() if g.gr_gid != 0), None)
r = record(p("group.db"), [split, "--seconds", "1"], freq=199, extra=["--group", gname])
st = os.stat(p("group.db"))
check(r.returncode == 0 and stat.S_IMODE(st.st_mode) == 0o640 and
      st.st_gid == grp.getgrnam(gname).gr_gid, f"--group {gname}: 0640 and the group")
refused(["record", "--group", "no-such-group-here", "-o", p("x.db"), "--", split],
        "--group of a group that does not exist", "no such group")

# The agent: its file and what SQLite keeps beside it.
pr, base, _ = w.start(["agent", "--db", p("agent.db"), "--listen", "127.0.0.1:0", "--flush", "1",
                       "--group", gname])
time.sleep(3)
modes = {s: mode(p("agent.db" + s)) for s in ("", "-wal", "-shm") if os.path.exists(p("agent.db" + s))}
gids = {os.stat(p("agent.db" + s)).st_gid for s in modes}
rc, _ = w.stop(pr)
check(len(modes) == 3 and set(modes.values()) == {0o640} and gids == {grp.getgrnam(gname).gr_gid},
      f"agent --group: the database, -wal and -shm are 0640 and the group's ({modes})")

# Outputs: the same rules; a report never replaces a database.
refused(["report", p("new.db"), "-o", p("new.db")], "report -o at the database it reads",
        "is a database")
check(open(p("new.db"), "rb").read(16) == b"SQLite format 3\0", "the database is intact")
refused(["report", p("new.db"), "-o", p("dangling.db")], "report -o at a dangling link",
        "symbolic link")
refused(["report", p("new.db"), "-o", "/dev/full"], "report -o at a device", "device")
refused(["diff", p("new.db"), p("new.db"), "--html", p("fifo")], "diff --html at a FIFO", "FIFO")
refused(["diff", p("new.db"), p("new.db"), "-o", p("empty-link.db")], "diff -o at a link",
        "symbolic link")
r = run([EMBER, "report", p("new.db"), "--format", "pprof", "-o", p("out.pb.gz")])
check(r.returncode == 0 and mode(p("out.pb.gz")) == 0o600, "an export is 0600")
r = run([EMBER, "diff", p("new.db"), p("new.db"), "-o", p("diff.md"), "--html", p("diff.html")])
check(r.returncode == 0 and mode(p("diff.md")) == 0o600 and mode(p("diff.html")) == 0o600,
      "diff's outputs are 0600")
r = run([EMBER, "report", p("new.db"), "--format", "pprof", "-o", p("imp.pb.gz")])
refused(["import", p("imp.pb.gz"), "-o", p("fifo")], "import -o at a FIFO", "FIFO")
with open(p("notes2.txt"), "w") as f:
    f.write("keep me\n")
refused(["import", p("imp.pb.gz"), "-o", p("notes2.txt")], "import -o at a text file",
        "not an Ember database")
r = run([EMBER, "import", p("imp.pb.gz"), "-o", "/dev/null"])
check(r.returncode != 0 and "device" in r.stderr, "import -o /dev/null is refused")
r = run([EMBER, "import", p("imp.pb.gz"), "-o", p("imported.db")])
check(r.returncode == 0 and mode(p("imported.db")) == 0o600, "an imported database is 0600")
