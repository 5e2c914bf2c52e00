"""A self-failing-over PostgreSQL cluster on real servers, booted from the local stack's files.

Three etcd members, three Patroni members (primary, synchronous standby, read replica), HAProxy
routed by Patroni's REST API, PgBouncer in front of HAProxy's write port, and the DR member as a
Patroni standby cluster following that write port: every file is what
``components/docker/postgres.py`` uploads into the containers (``patroni_member_files``,
``etcd_files``, ``patroni_haproxy_cfg``, ``pgbouncer_userlist``), rendered for a
:class:`~components.docker.postgres.PatroniLayout` under a temporary root, with 127.0.0.1 and
free ports where the containers have their own host names and standard ports.

Binaries come from Debian packages: ``patroni`` (patroni, patronictl), ``etcd-server`` (etcd),
``postgresql``, ``haproxy``, ``pgbouncer``. A missing one raises
:class:`servers.MissingBinary` naming the package.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

try:
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]

from components.docker.postgres import (
    APP_USER,
    MIGRATION_USER,
    PATRONI_AUTH,
    PatroniLayout,
    bootstrap_sql,
    etcd_files,
    patroni_haproxy_cfg,
    patroni_member_files,
    pgbouncer_userlist,
    role_verifiers,
)
from components.render.etcd import EtcdPeer
from components.render.haproxy import PgServer
from components.render.patroni import PatroniMember, PatroniTiming, StandbyCluster, patroni_password_env
from components.render.pgbouncer import render_pgbouncer_ini
from components.render.postgres_roles import LOGINS
from infra.settings import PostgresSettings

HOST = servers.HOST
BINARIES = ("patroni", "patronictl", "etcd", "postgres", "initdb", "pg_basebackup", "pg_rewind", "psql",
            "haproxy", "pgbouncer")


def require() -> None:
    """Every binary the cluster needs, or :class:`servers.MissingBinary` naming the packages."""
    servers.require(*BINARIES)
    servers.service_user()


def http_get(url: str, timeout: float = 2) -> tuple[int, Any]:
    """``(status, parsed JSON body or None)`` of a GET; connection errors raise."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as err:
        body, status = err.read(), err.code
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


@dataclass
class EtcdMember(servers.RunsOneProc):
    name: str
    client_port: int
    peer_port: int
    conf: Path
    proc: servers.Proc | None = None

    def start(self) -> None:
        self.proc = servers.Proc(self.name, [servers.binary("etcd"), "--config-file", str(self.conf)],
                                 self.conf.parent / "etcd.log")

    def healthy(self) -> bool:
        status, body = http_get(f"http://{HOST}:{self.client_port}/health")
        return status == 200 and bool(body) and body.get("health") == "true"


@dataclass
class PatroniNode:
    """One Patroni member: its rendered files, its ports and the running Patroni process."""

    name: str
    pg_port: int
    api_port: int
    layout: PatroniLayout
    env: dict[str, str]
    proc: servers.Proc | None = None

    @property
    def conf(self) -> str:
        return f"{self.layout.conf_dir}/patroni.yml"

    @property
    def log(self) -> Path:
        return Path(self.layout.conf_dir).parent / f"{self.name}.log"

    def start(self) -> None:
        self.proc = servers.Proc(f"patroni[{self.name}]", ["/bin/sh", f"{self.layout.conf_dir}/start-patroni.sh"],
                                 self.log, env=self.env)

    def api(self, path: str) -> tuple[int, Any]:
        return http_get(f"http://{HOST}:{self.api_port}{path}")

    def status(self, path: str) -> int:
        try:
            return self.api(path)[0]
        except OSError:
            return 0

    def postmaster_pid(self) -> int | None:
        try:
            return int((Path(self.layout.data_dir) / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def crash(self) -> None:
        """``kill -9`` this member's postmaster and its Patroni (a lost host, not a shutdown)."""
        pid = self.postmaster_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc:
            self.proc.kill()

    def stop(self) -> None:
        """Patroni's own shutdown (stops PostgreSQL too), then anything left of the member."""
        if self.proc and self.proc.alive():
            self.proc.stop(signal.SIGTERM, timeout=30)
        pid = self.postmaster_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGQUIT)


@dataclass(frozen=True)
class Passwords:
    superuser: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    replication: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    rewind: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    restapi: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    logins: dict[str, str] = field(default_factory=lambda: {r: secrets.token_urlsafe(18)
                                                            for r in (*LOGINS, "postgres_exporter")})


@dataclass
class PatroniCluster:
    root: Path
    settings: PostgresSettings
    passwords: Passwords
    verifiers: dict[str, str]
    """SCRAM verifiers of the logins: what the bootstrap SQL stores and PgBouncer's userlist holds."""
    etcd: list[EtcdMember]
    nodes: dict[str, PatroniNode]
    dr: PatroniNode | None = None
    write_port: int = 0
    read_port: int = 0
    pgbouncer_port: int = 0
    procs: dict[str, servers.Proc] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return self.settings.database_name

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the primary cluster (``GET /cluster`` from a live member)."""
        for node in self.nodes.values():
            if node.proc and node.proc.alive():
                with contextlib.suppress(OSError):
                    status, body = node.api("/cluster")
                    if status == 200 and body:
                        return list(body["members"])
        raise RuntimeError("no live Patroni member answers /cluster")

    def leader(self) -> str | None:
        return next((m["name"] for m in self.members() if m["role"] == "leader" and m["state"] == "running"), None)

    def role_of(self, name: str) -> str | None:
        return next((m["role"] for m in self.members() if m["name"] == name), None)

    def connect(self, port: int, user: str = APP_USER, **kw: Any) -> psycopg.Connection[Any]:
        """``user`` (a login) to ``port`` (HAProxy, PgBouncer or a member), the app database."""
        return servers.connect(port, user, self.passwords.logins[user], self.database, **kw)

    def app(self, **kw: Any) -> psycopg.Connection[Any]:
        """The application's connection: app_user through PgBouncer (transaction pooling)."""
        return self.connect(self.pgbouncer_port, prepare_threshold=None, **kw)

    def superuser(self, name: str, dbname: str | None = None) -> psycopg.Connection[Any]:
        """Superuser straight to a member."""
        return servers.connect(self.nodes[name].pg_port if name in self.nodes else self._dr_port(),
                               PATRONI_AUTH.superuser, self.passwords.superuser, dbname or self.database)

    def _dr_port(self) -> int:
        assert self.dr is not None
        return self.dr.pg_port

    def wait_roles(self, leader: str, *, timeout: float = 90) -> None:
        """Until ``leader`` leads and every other live member replicates (``running``, lag known)."""
        def settled() -> bool:
            ms = self.members()
            live = {n for n, node in self.nodes.items() if node.proc and node.proc.alive()}
            by_name = {m["name"]: m for m in ms}
            if set(by_name) != live or by_name[leader]["role"] != "leader":
                return False
            return all(m["state"] in ("running", "streaming") for m in ms)

        servers.wait_until(settled, timeout=timeout, what=f"{leader} to lead and the others to replicate",
                           interval=0.2)

    def wait_sync(self, *, timeout: float = 60) -> str:
        """Until a synchronous standby exists; its name."""
        def sync() -> str | None:
            return next((m["name"] for m in self.members() if m["role"] == "sync_standby"
                         and m["state"] in ("running", "streaming")), None)

        return servers.wait_until(sync, timeout=timeout, what="a synchronous standby", interval=0.2)

    def patronictl(self, *args: str, timeout: float = 60) -> str:
        """patronictl with a member's config file and environment (the REST API's password)."""
        node = next(n for n in self.nodes.values() if n.proc and n.proc.alive())
        return servers.run([servers.binary("patronictl"), "-c", node.conf, *args], timeout=timeout, env=node.env)


def _layout(root: Path, name: str) -> PatroniLayout:
    m = servers.make_dir(root / name, 0o755)
    return PatroniLayout(conf_dir=str(m / "etc"), data_mount=str(m / "pgdata"), data_dir=str(m / "pgdata" / "data"),
                         archive_mount=str(root), archive_dir=str(root / "archive"), socket_dir=str(root / "sock"),
                         bin_dir=str(servers.pg_bindir()), pgpass=str(m / "pgpass"),
                         patroni=servers.binary("patroni"))


def _write_files(files: dict[str, str]) -> None:
    for path, text in files.items():
        p = Path(path)
        servers.make_dir(p.parent, 0o755)
        servers.write_file(p, text, 0o600)


def start_etcd(stack: contextlib.ExitStack, root: Path, count: int = 3) -> list[EtcdMember]:
    """``count`` etcd members from the rendered config files; waits until all report healthy."""
    peers = [EtcdPeer(f"etcd-{i}", HOST, servers.free_port(), servers.free_port()) for i in range(1, count + 1)]
    members = []
    for p in peers:
        d = servers.make_dir(root / p.name)
        files = etcd_files(str(d), member=p.name, peers=peers, data_dir=str(d / "data"), listen_host=HOST)
        _write_files(files)
        m = EtcdMember(p.name, p.client_port, p.peer_port, Path(next(iter(files))))
        m.start()
        stack.callback(m.stop)
        members.append(m)
    for m in members:
        servers.wait_until(lambda m=m: (m.proc.check_alive() if m.proc else None, m.healthy())[1],  # type: ignore[misc]
                           timeout=30, what=f"etcd {m.name} healthy")
    return members


def start_patroni_cluster(stack: contextlib.ExitStack, root: Path, settings: PostgresSettings | None = None, *,
                          read_replicas: int = 1, dr: bool = True,
                          timing: PatroniTiming = PatroniTiming()) -> PatroniCluster:
    """The whole local PostgreSQL tier; everything stops when ``stack`` closes."""
    settings = settings or PostgresSettings()
    pw = Passwords()
    verifiers = role_verifiers(pw.logins, seed=secrets.token_bytes(16))
    etcd = start_etcd(stack, root)
    etcd_hosts = [f"{HOST}:{m.client_port}" for m in etcd]
    servers.make_dir(root / "sock", 0o755)
    env = {"PATRONI_LOG_LEVEL": "INFO", **patroni_password_env(
        superuser=pw.superuser, replication=pw.replication, rewind=pw.rewind, restapi=pw.restapi)}
    sql = bootstrap_sql(verifiers, database=settings.database_name)
    names = ["primary", "standby", *(f"replica_{i}" for i in range(1, read_replicas + 1))]
    nodes: dict[str, PatroniNode] = {}
    for name in names:
        lay = _layout(root, name)
        node = PatroniNode(name, servers.free_port(), servers.free_port(), lay, env)
        member = PatroniMember(name, HOST, node.pg_port, node.api_port, listen_host=HOST,
                               nosync=name.startswith("replica_"))
        _write_files(patroni_member_files(settings, lay, member=member, etcd_hosts=etcd_hosts,
                                          client_cidrs=[f"{HOST}/32"], bootstrap=sql, timing=timing,
                                          psql=servers.binary("psql")))
        servers.make_dir(Path(lay.data_mount), 0o750)
        nodes[name] = node
    stack.callback(stop_all, list(nodes.values()))
    cluster = PatroniCluster(root, settings, pw, verifiers, etcd, nodes)
    # The designated primary bootstraps the cluster (initdb + post_bootstrap); the others clone it.
    nodes["primary"].start()
    servers.wait_until(lambda: _alive(nodes["primary"]) and nodes["primary"].status("/primary") == 200,
                       timeout=90, what="primary to bootstrap and lead")
    for name in names[1:]:
        nodes[name].start()
    cluster.wait_roles("primary")
    assert cluster.wait_sync() == "standby", cluster.members()
    start_haproxy(stack, root, cluster)
    start_pgbouncer(stack, root, cluster)
    if dr:
        start_dr(stack, root, cluster, etcd_hosts, timing)
    return cluster


def stop_all(nodes: list[PatroniNode]) -> None:
    """Stop the members at once (each waits for its PostgreSQL's shutdown)."""
    threads = [threading.Thread(target=n.stop) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def _alive(node: PatroniNode) -> bool:
    assert node.proc is not None
    if not node.proc.alive():
        raise RuntimeError(f"{node.proc.name} exited:\n{node.proc.tail(40)}")
    return True


def start_haproxy(stack: contextlib.ExitStack, root: Path, cluster: PatroniCluster) -> None:
    d = servers.make_dir(root / "haproxy")
    wp, rp = servers.free_port(), servers.free_port()
    cfg = servers.write_file(d / "haproxy.cfg", patroni_haproxy_cfg(
        [PgServer(n.name, HOST, n.pg_port, n.api_port) for n in cluster.nodes.values()],
        bind_address=HOST, write_port=wp, read_port=rp, nameservers=(), stats_socket=str(d / "admin.sock")))
    servers.run([servers.binary("haproxy"), "-c", "-f", str(cfg)])
    proc = servers.Proc("haproxy", [servers.binary("haproxy"), "-db", "-f", str(cfg)], d / "haproxy.log")
    stack.callback(proc.stop, signal.SIGTERM)
    cluster.procs["haproxy"] = proc
    cluster.write_port, cluster.read_port = wp, rp

    def routes() -> bool:
        proc.check_alive()
        with cluster.connect(wp) as w, cluster.connect(rp) as r:
            return (w.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
                    and r.execute("SELECT pg_is_in_recovery()").fetchone() == (True,))

    servers.wait_until(routes, timeout=30, what="haproxy write port -> leader, read port -> replica")


def start_pgbouncer(stack: contextlib.ExitStack, root: Path, cluster: PatroniCluster) -> None:
    d = servers.make_dir(root / "pgbouncer")
    userlist = servers.write_file(d / "userlist.txt", pgbouncer_userlist(cluster.verifiers))
    port = servers.free_port()
    ini = servers.write_file(d / "pgbouncer.ini", render_pgbouncer_ini(
        cluster.settings.pooling, databases=[cluster.database], write_host=HOST, write_port=cluster.write_port,
        auth_file=str(userlist), listen_addr=HOST, listen_port=port))
    proc = servers.Proc("pgbouncer", [servers.binary("pgbouncer"), str(ini)], d / "pgbouncer.log")
    stack.callback(proc.stop, signal.SIGINT)
    cluster.procs["pgbouncer"] = proc
    cluster.pgbouncer_port = port

    def up() -> bool:
        proc.check_alive()
        with cluster.app() as c:
            return c.execute("SELECT 1").fetchone() == (1,)

    servers.wait_until(up, timeout=20, what="pgbouncer to serve queries")


def start_dr(stack: contextlib.ExitStack, root: Path, cluster: PatroniCluster, etcd_hosts: list[str],
             timing: PatroniTiming) -> None:
    """The DR member: a Patroni standby cluster (its own scope) following HAProxy's write port."""
    lay = _layout(root, "dr_replica")
    node = PatroniNode("dr_replica", servers.free_port(), servers.free_port(), lay,
                       next(iter(cluster.nodes.values())).env)
    member = PatroniMember("dr_replica", HOST, node.pg_port, node.api_port, listen_host=HOST)
    _write_files(patroni_member_files(
        cluster.settings, lay, member=member, etcd_hosts=etcd_hosts, client_cidrs=[f"{HOST}/32"], bootstrap=None,
        standby_cluster=StandbyCluster(HOST, cluster.write_port, lay.archive_dir), timing=timing))
    servers.make_dir(Path(lay.data_mount), 0o750)
    stack.callback(node.stop)
    node.start()
    cluster.dr = node
    servers.wait_until(lambda: _alive(node) and node.status("/standby-leader") == 200, timeout=90,
                       what="DR standby cluster to clone and follow the primary cluster")


# --------------------------------------------------------------------------------------------
# Writes through PgBouncer, timed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    start: float
    end: float
    ok: bool
    port: int | None
    """Port of the member that committed it (``inet_server_port()``): who was leader."""


@dataclass
class Writer:
    """Inserts tokens through PgBouncer as the application, one transaction each, as fast as the
    cluster acknowledges them; reconnects after an error. Records every acknowledged token and
    every attempt (start, end, outcome, the committing member's port)."""

    cluster: PatroniCluster
    table: str
    prefix: str
    """Token prefix: unique per writer, so the tokens of two writers never collide."""
    acked: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Writer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        servers.wait_until(lambda: len(self.acked) >= 20, timeout=20, what="the writer's first commits")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(60)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        i = 0
        while not self._stop.is_set():
            token = f"{self.prefix}-{i}"
            i += 1  # the outcome of a failed commit is unknown: never reuse its token
            start = time.monotonic()
            try:
                if conn is None:
                    conn = self.cluster.app()
                row = conn.execute(f"INSERT INTO {self.table} (token) VALUES (%s) RETURNING inet_server_port()",
                                   (token,)).fetchone()
                self.acked.append(token)
                self.attempts.append(Attempt(start, time.monotonic(), True, int(row[0]) if row else None))
            except psycopg.Error:
                self.attempts.append(Attempt(start, time.monotonic(), False, None))
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                time.sleep(0.02)
            else:
                time.sleep(0.005)
        if conn is not None:
            conn.close()

    def recovered_after(self, t0: float, old_port: int) -> float | None:
        """Seconds from ``t0`` until a write *begun* after ``t0`` was acknowledged by a member other
        than the old leader (PgBouncer may hold a write while no leader exists: what counts is
        when the address takes writes again, failed attempts or not)."""
        ends = [a.end for a in self.attempts if a.ok and a.start >= t0 and a.port != old_port]
        return min(ends) - t0 if ends else None

    def failures_after(self, t0: float) -> int:
        return sum(1 for a in self.attempts if a.start >= t0 and not a.ok)

    def wait_recovered(self, t0: float, old_port: int, timeout: float = 90) -> float:
        return servers.wait_until(lambda: self.recovered_after(t0, old_port), timeout=timeout,
                                  what="a write through PgBouncer to reach a new leader", interval=0.05)

    def wait_acked_after(self, t: float, timeout: float = 90) -> None:
        servers.wait_until(lambda: any(a.ok and a.start > t for a in self.attempts[-50:]), timeout=timeout,
                           what="a write through PgBouncer to succeed", interval=0.05)


def create_table(cluster: PatroniCluster, table: str) -> None:
    """A table in the app schema, created the way migrations create them (migration_user)."""
    with cluster.connect(cluster.write_port, user=MIGRATION_USER) as c:
        c.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, token text NOT NULL UNIQUE)")


def missing_tokens(cluster: PatroniCluster, table: str, tokens: list[str]) -> list[str]:
    """Acknowledged tokens the current leader does not have."""
    with cluster.connect(cluster.write_port) as c:
        have = {r[0] for r in c.execute(f"SELECT token FROM {table}").fetchall()}
    return [t for t in tokens if t not in have]


def crash_leader(cluster: PatroniCluster) -> tuple[str, float]:
    """``kill -9`` the leader's postmaster and Patroni; ``(its name, monotonic time of the kill)``.
    The postmaster goes first: its backends can no longer acknowledge a synchronous commit."""
    leader = cluster.leader()
    assert leader is not None, cluster.members()
    node = cluster.nodes[leader]
    assert node.postmaster_pid(), f"{leader} has no postmaster"
    t0 = time.monotonic()
    node.crash()
    return leader, t0


@contextlib.contextmanager
def cluster_in(prefix: str, **kw: Any) -> Iterator[PatroniCluster]:
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir(prefix))
        yield start_patroni_cluster(stack, root, **kw)
