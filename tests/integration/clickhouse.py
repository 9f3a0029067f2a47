# SPDX-License-Identifier: Apache-2.0
"""ClickHouse servers for the fleet tests: each test starts its own
Debian clickhouse-server (18.16) processes on free loopback ports with
temporary data folders, never the system service, and shares them across
its cases (a start takes well under a second here, but every case
creating its own servers would add up).

  single()    one server: agents create their tables at the first
              connection; with tls=True it also answers HTTPS with a
              self-signed certificate (openssl) for 127.0.0.1, ca_file
  cluster(2)  two servers, both shards of the cluster "ember" (TCP
              between them on loopback); `ember fleet-init` creates the
              shards' tables and the Distributed ones

Every server has the users "default" (no password) and "ember" (password
PASSWORD), both from loopback only. Servers are killed and their folders
removed when the test exits (a folder given to single() is kept, its
server stopped: bench/fleet --keep). With query_log=True every query is
logged in system.query_log (rows read, duration).

Queries go over the HTTP interface with the standard library only.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SERVER = "/usr/sbin/clickhouse-server"
PASSWORD = "s3cret-pw"
# The rows a block of the "slow" user (single(slow_reads=True)) reads.
SLOW_BLOCK_ROWS = 16
CLUSTER = "ember"
_servers = []


def available():
    return os.path.exists(SERVER)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ClickHouseError(Exception):
    def __init__(self, status, text):
        super().__init__(f"HTTP {status}: {text.strip()}")
        self.status = status
        self.text = text


class Server:
    def __init__(self, name, tls=False, folder=None, query_log=False, slow_reads=False):
        self.name = name
        self.slow_reads = slow_reads
        self.keep = folder is not None  # a folder of the caller's: kept
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.dir = folder or tempfile.mkdtemp(prefix=f"ember-ch-{name}-")
        self.query_log = query_log
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.https_port = free_port() if tls else None
        self.ca_file = os.path.join(self.dir, "server.crt") if tls else None
        self.proc = None
        self.shards = []  # (host, tcp_port) of the cluster, set by cluster()

    # -- configuration --
    def _write_config(self):
        d = self.dir
        remote = ""
        if self.shards:
            shards = "".join(
                f"<shard><replica><host>127.0.0.1</host><port>{p}</port></replica></shard>"
                for p in self.shards)
            remote = f"<remote_servers><{CLUSTER}>{shards}</{CLUSTER}></remote_servers>"
        tls = ""
        if self.https_port:
            tls = f"""<https_port>{self.https_port}</https_port>
  <openSSL><server><certificateFile>{d}/server.crt</certificateFile>
    <privateKeyFile>{d}/server.key</privateKeyFile><verificationMode>none</verificationMode>
    <loadDefaultCAFile>false</loadDefaultCAFile><cacheSessions>true</cacheSessions>
    <disableProtocols>sslv2,sslv3</disableProtocols></server></openSSL>"""
        query_log = ""
        if self.query_log:
            query_log = ("<query_log><database>system</database><table>query_log</table>"
                         "<flush_interval_milliseconds>1000</flush_interval_milliseconds>"
                         "</query_log>")
        with open(os.path.join(d, "config.xml"), "w") as f:
            f.write(f"""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log>
    <errorlog>{d}/log/error.log</errorlog><console>0</console></logger>
  <http_port>{self.http_port}</http_port>
  <tcp_port>{self.tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  {tls}
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <keep_alive_timeout>1</keep_alive_timeout>
  <compression><case><min_part_size>0</min_part_size><min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case></compression>
  <timezone>UTC</timezone>
  {query_log}
  {remote}
</yandex>
""")
        with open(os.path.join(d, "users.xml"), "w") as f:
            f.write(f"""<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage>
    <log_queries>{1 if self.query_log else 0}</log_queries></default>
    <slow><max_memory_usage>2000000000</max_memory_usage>
    <log_queries>{1 if self.query_log else 0}</log_queries>
    <max_threads>1</max_threads><max_block_size>{SLOW_BLOCK_ROWS}</max_block_size></slow></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota></default>
    <ember><password>{PASSWORD}</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota></ember>
    {"<slow><password></password><networks><ip>127.0.0.1</ip></networks>"
     "<profile>slow</profile><quota>default</quota></slow>" if self.slow_reads else ""}
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
""")
        os.makedirs(os.path.join(d, "log"), exist_ok=True)
        if self.https_port and not os.path.exists(self.ca_file):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", os.path.join(d, "server.key"), "-out", self.ca_file,
                            "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)

    # -- life --
    def start(self, timeout=60):
        self._write_config()
        self.proc = subprocess.Popen(
            [SERVER, f"--config-file={self.dir}/config.xml"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "log", "stderr.log"), "ab"),
            start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clickhouse-server {self.name} exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/ping", timeout=2) as r:
                    if r.read().strip() == b"Ok.":
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"clickhouse-server {self.name} did not answer within {timeout} s: "
                           f"{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Stop the server (its data stays for a restart). ClickHouse
        18.16 waits up to 15 s for a client that keeps its connection
        busy (an agent shipping every second) before it exits: after
        timeout seconds it is killed, as a service manager would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pause(self):
        """SIGSTOP: the server holds its connections and answers nothing
        (for timeouts)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def restart(self):
        self.stop()
        return self.start()

    def remove(self):
        if self.keep:
            self.stop()
            return
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=20):
        out = []
        for f in ("error.log", "stderr.log"):
            try:
                with open(os.path.join(self.dir, "log", f), errors="replace") as fh:
                    out += fh.read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)

    # -- queries --
    def url(self, database="ember", user=None, password=None, tls=False):
        cred = ""
        if user:
            cred = urllib.parse.quote(user, safe="")
            if password is not None:
                cred += ":" + urllib.parse.quote(password, safe="")
            cred += "@"
        if tls:
            return f"https://{cred}127.0.0.1:{self.https_port}/{database}"
        return f"clickhouse://{cred}127.0.0.1:{self.http_port}/{database}"

    def query(self, sql, data=None, user="default", password="", timeout=60, **settings):
        """Run sql (with data as the body's rest for an INSERT); returns the
        answer's text, raises ClickHouseError on an error answer."""
        params = dict(settings)
        body = sql.encode()
        if data is not None:
            params["query"] = sql
            body = data if isinstance(data, bytes) else data.encode()
        url = f"http://127.0.0.1:{self.http_port}/?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("X-ClickHouse-User", user)
        req.add_header("X-ClickHouse-Key", password)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise ClickHouseError(e.code, e.read().decode(errors="replace")) from None

    def rows(self, sql, **kw):
        """The rows of a SELECT as lists of strings (TabSeparated)."""
        out = self.query(sql + " FORMAT TabSeparated", **kw)
        return [line.split("\t") for line in out.splitlines()]


def _cleanup():
    for s in _servers:
        s.remove()


atexit.register(_cleanup)


def single(name="single", tls=False, folder=None, query_log=False, slow_reads=False):
    """One server; in folder (kept when the test exits, and used again by a
    later call) or a temporary one; with query_log, every query is logged
    in system.query_log (read rows and bytes, duration); with slow_reads,
    a user "slow" (no password) whose queries read SLOW_BLOCK_ROWS rows a
    block on one thread, so that a query of a few million rows takes
    seconds however fast the machine is."""
    s = Server(name, tls, folder, query_log, slow_reads)
    _servers.append(s)
    # (a kept folder may hold a large fleet, whose parts take a while to load)
    return s.start(timeout=600 if folder else 60)


def cluster(n=2):
    """n servers, each a shard of cluster CLUSTER; returns them (the first is
    where the agents and readers connect)."""
    servers = [Server(f"shard{i + 1}") for i in range(n)]
    for s in servers:
        s.shards = [x.tcp_port for x in servers]
        _servers.append(s)
    for s in servers:
        s.start()
    return servers
