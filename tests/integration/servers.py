"""Real server processes for the integration tier and the drill, built from the rendered files.

Everything binds 127.0.0.1 on free ports inside a temporary directory, and everything started is
registered on a :class:`contextlib.ExitStack`, so closing the stack stops every process (and
removes the directory) even when a test fails half-way.

Running as root (CI containers): PostgreSQL refuses to run as root and PgBouncer warns, so every
server process is started as an unprivileged user (``DP_SERVICE_USER``, default ``postgres``,
which the ``postgresql`` package creates) through ``subprocess.Popen(user=..., group=...)``: the
server *is* the child process, so its pid is the one we signal. Directories are chowned to it.
As a normal user, processes simply run as that user.

Binaries come from Debian packages: ``postgresql`` (server, initdb, pg_basebackup, psql; the
newest ``/usr/lib/postgresql/<major>/bin``, or ``DP_PG_BINDIR``), ``pgbouncer``, ``haproxy``,
``redis-server`` and ``redis-tools`` (redis-cli), ``patroni`` (patroni, patronictl) and
``etcd-server`` (etcd). A missing one raises :class:`MissingBinary`
naming the package; tests turn it into ``pytest.fail``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import redis
from psycopg import sql
from redis.cluster import ClusterNode, RedisCluster

from components.render.haproxy import PgServer, render_haproxy_cfg, render_pg_role_check
from components.render.pgbouncer import render_pgbouncer_ini, render_userlist
from components.render.postgres import (
    render_pg_hba_conf,
    render_pgpass,
    render_postgresql_conf,
    scram_sha256_verifier,
    standby_files,
)
from components.render.redis import render_redis_conf, render_users_acl
from infra.settings import PostgresSettings, RedisSettings

HOST = "127.0.0.1"
T = TypeVar("T")

#: Debian package that ships each binary.
PACKAGES: dict[str, str] = {
    "postgres": "postgresql", "initdb": "postgresql", "pg_basebackup": "postgresql", "pg_ctl": "postgresql",
    "psql": "postgresql-client", "pgbouncer": "pgbouncer", "haproxy": "haproxy",
    "redis-server": "redis-server", "redis-cli": "redis-tools", "openssl": "openssl",
    "pg_rewind": "postgresql", "patroni": "patroni", "patronictl": "patroni", "etcd": "etcd-server",
}
_PG_TOOLS = {"postgres", "initdb", "pg_basebackup", "pg_ctl", "psql", "pg_rewind"}


class MissingBinary(RuntimeError):
    """A server binary is not installed; the message names the Debian package."""


# --------------------------------------------------------------------------------------------
# Binaries, users, files, waiting
# --------------------------------------------------------------------------------------------


def pg_bindir() -> Path:
    """Directory of the PostgreSQL server binaries (the newest major under /usr/lib/postgresql)."""
    if env := os.environ.get("DP_PG_BINDIR"):
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise MissingBinary("PostgreSQL server not found under /usr/lib/postgresql: apt-get install postgresql")
    return found[-1].parent


def binary(name: str) -> str:
    """Absolute path of ``name``, or :class:`MissingBinary` naming its Debian package."""
    package = PACKAGES.get(name, name)
    if name in _PG_TOOLS:
        path = pg_bindir() / name
        if path.exists():
            return str(path)
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}")
                                        if os.access(p, os.X_OK)), None)
    if not found:
        raise MissingBinary(f"{name} not found: apt-get install {package}")
    return found


def require(*names: str) -> dict[str, str]:
    """Resolve every binary at once, so one message lists all missing packages."""
    paths, missing = {}, []
    for n in names:
        try:
            paths[n] = binary(n)
        except MissingBinary:
            missing.append(PACKAGES.get(n, n))
    if missing:
        raise MissingBinary("missing server binaries: apt-get install " + " ".join(sorted(set(missing))))
    return paths


def service_user() -> pwd.struct_passwd | None:
    """The user servers run as when we are root (``DP_SERVICE_USER``, default postgres); else None."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("DP_SERVICE_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise MissingBinary(f"user {name!r} does not exist: apt-get install postgresql creates 'postgres', "
                            "or set DP_SERVICE_USER") from None


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it if the harness dies without cleaning up
    (e.g. the runner is killed), so no server outlives the test run."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _as_service_user() -> dict[str, Any]:
    u = service_user()
    if u is None:
        return {}
    return {"user": u.pw_uid, "group": u.pw_gid, "extra_groups": []}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    u = service_user()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "HOME": u.pw_dir if u else os.environ.get("HOME", "/tmp")}
    env.update(extra or {})
    return env


def chown(path: Path) -> None:
    """Give ``path`` to the service user (no-op when not root)."""
    u = service_user()
    if u is not None:
        os.chown(path, u.pw_uid, u.pw_gid)


def make_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    chown(path)
    return path


def write_file(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write a rendered file, owned by the service user, with ``mode``."""
    path.write_text(text)
    path.chmod(mode)
    chown(path)
    return path


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory owned by the service user; removed on exit unless DP_KEEP_TMP is set."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    chown(root)
    try:
        yield root
    finally:
        if not os.environ.get("DP_KEEP_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def free_port(*, with_bus: bool = False) -> int:
    """A free TCP port on 127.0.0.1 (and port + 10000 free too with ``with_bus``, for Redis)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if with_bus and (port > 55535 or not _is_free(port + 10000)):
            continue
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found")


_handed_out: set[int] = set()


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # the thing polled is not up yet
            last = err
        time.sleep(interval)
    detail = f" (last error: {last})" if last else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


def run(argv: Sequence[str], *, timeout: float = 60, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> str:
    """Run a tool as the service user; raise with its output when it fails."""
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=_env(env),
                         cwd=cwd, stdin=subprocess.DEVNULL, **_as_service_user())
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


class Proc:
    """A long-running server process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name, self.argv, self.log_path = name, list(argv), log
        self._log = open(log, "ab")  # noqa: SIM115  (closed in stop())
        self.popen = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=_env(env), cwd=cwd,
                                      start_new_session=True, preexec_fn=_die_with_parent,
                                      **_as_service_user())

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the process, wait, then SIGKILL its whole group if it did not exit."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # stray children (postgres backends)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL the whole process group: a crashed host, not a shutdown."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")


class RunsOneProc:
    """A server handle whose one process is ``self.proc`` (None until started)."""

    proc: Proc | None

    def kill(self) -> None:
        if self.proc:
            self.proc.kill()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop(signal.SIGTERM)


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _password() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class PgCredentials:
    """Roles of the cluster and their passwords (generated per run, never written in plaintext
    except in the 0600 .pgpass files the replicas and the health check need)."""

    superuser: str
    superuser_password: str = field(default_factory=_password)
    replication_user: str = "replicator"
    replication_password: str = field(default_factory=_password)
    app_user: str = "app"
    app_password: str = field(default_factory=_password)
    check_user: str = "haproxy_check"
    check_password: str = field(default_factory=_password)
    database: str = "app"

    @functools.cached_property
    def verifiers(self) -> dict[str, str]:
        """SCRAM-SHA-256 secrets computed here (random salt, once per run): the same string goes to
        ``CREATE ROLE ... PASSWORD`` and to PgBouncer's userlist."""
        return {role: scram_sha256_verifier(pw, salt=secrets.token_bytes(16)) for role, pw in (
            (self.replication_user, self.replication_password), (self.app_user, self.app_password),
            (self.check_user, self.check_password))}


@dataclass
class PgNode:
    """One PostgreSQL member: its data directory, port and running postmaster."""

    name: str
    datadir: Path
    port: int
    socket_dir: Path
    creds: PgCredentials
    proc: Proc | None = None

    def start(self, timeout: float = 60) -> None:
        self.proc = Proc(f"postgres[{self.name}]", [binary("postgres"), "-D", str(self.datadir)],
                         self.datadir.parent / f"{self.name}.log")
        wait_until(self._ready, timeout=timeout, what=f"postgres {self.name} to accept connections")

    def _ready(self) -> bool:
        assert self.proc is not None
        self.proc.check_alive()
        with self.connect():
            return True

    def connect(self, *, user: str | None = None, password: str | None = None, dbname: str = "postgres",
                port: int | None = None) -> psycopg.Connection[Any]:
        """Autocommit connection over TCP (superuser unless ``user`` is given)."""
        if user is None:
            user, password = self.creds.superuser, self.creds.superuser_password
        return connect(port or self.port, user, password or "", dbname)

    def query(self, q: str, *params: Any, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with self.connect(dbname=dbname) as c:
            cur = c.execute(q, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        """Fast shutdown (SIGINT)."""
        if self.proc:
            self.proc.stop(signal.SIGINT)

    def kill(self) -> None:
        """Crash the member (SIGKILL to postmaster and backends)."""
        if self.proc:
            self.proc.kill()


def connect(port: int, user: str, password: str, dbname: str, *, host: str = HOST,
            prepare_threshold: int | None = 5, sslmode: str = "disable") -> psycopg.Connection[Any]:
    """psycopg connection, autocommit, short connect timeout. Pass ``prepare_threshold=None``
    through PgBouncer in transaction mode (1.18 has no prepared-statement support)."""
    conn = psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname,
                           connect_timeout=3, autocommit=True, sslmode=sslmode)
    conn.prepare_threshold = prepare_threshold
    return conn


@dataclass
class PgCluster:
    """A running primary (+ standby + cascading DR replica, HAProxy, PgBouncer)."""

    root: Path
    settings: PostgresSettings
    creds: PgCredentials
    archive: Path
    primary: PgNode
    standby: PgNode | None = None
    dr: PgNode | None = None
    haproxy_write_port: int = 0
    haproxy_read_port: int = 0
    pgbouncer_port: int = 0
    procs: dict[str, Proc] = field(default_factory=dict)

    def app(self, port: int, **kw: Any) -> psycopg.Connection[Any]:
        """Connect as the application role to ``port`` (a member, HAProxy or PgBouncer)."""
        return connect(port, self.creds.app_user, self.creds.app_password, self.creds.database, **kw)


def _pg_conf(settings: PostgresSettings, root: Path, port: int, name: str, archive: Path,
             synchronous_standby: str | None) -> str:
    return render_postgresql_conf(settings, listen_addresses=HOST, port=port, archive_dir=str(archive),
                                  synchronous_standby=synchronous_standby, cluster_name=name,
                                  unix_socket_directory=str(root / "sock"))


def _pg_hba(creds: PgCredentials) -> str:
    return render_pg_hba_conf(client_cidrs=["127.0.0.1/32"], replication_user=creds.replication_user,
                              replication_cidrs=["127.0.0.1/32"])


def init_primary(stack: contextlib.ExitStack, root: Path, settings: PostgresSettings, *,
                 name: str = "primary", creds: PgCredentials | None = None) -> tuple[PgNode, Path]:
    """initdb (SCRAM from the start: no trust line is ever needed), write the rendered
    postgresql.conf/pg_hba.conf, start, create the roles and the application database.

    The primary starts without a synchronous standby (commits would wait for a standby that does
    not exist yet); :func:`make_synchronous` re-renders and reloads once it streams.
    Returns the node and the WAL archive directory."""
    creds = creds or PgCredentials(superuser=settings.master_username, database=settings.database_name)
    make_dir(root / "sock", 0o755)
    archive = make_dir(root / "archive")
    datadir = root / name
    pwfile = write_file(root / f".{name}.pw", creds.superuser_password + "\n")
    run([binary("initdb"), "-D", str(datadir), "-U", creds.superuser, f"--pwfile={pwfile}",
         "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
         "--data-checksums", "--no-sync"], timeout=120)
    pwfile.unlink()
    port = free_port()
    write_file(datadir / "postgresql.conf", _pg_conf(settings, root, port, name, archive, None))
    write_file(datadir / "pg_hba.conf", _pg_hba(creds))
    node = PgNode(name, datadir, port, root / "sock", creds)
    stack.callback(node.stop)
    node.start()
    with node.connect() as c:
        for role, extra in ((creds.replication_user, "REPLICATION"), (creds.app_user, ""), (creds.check_user, "")):
            c.execute(sql.SQL("CREATE ROLE {} WITH LOGIN {} PASSWORD {}").format(
                sql.Identifier(role), sql.SQL(extra), sql.Literal(creds.verifiers[role])))
        c.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(creds.database), sql.Identifier(creds.app_user)))
    with node.connect(dbname=creds.database) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    write_file(root / ".pgpass-replication", render_pgpass(
        [("*", "*", "*", creds.replication_user, creds.replication_password)]))
    return node, archive


def add_standby(stack: contextlib.ExitStack, root: Path, settings: PostgresSettings, upstream: PgNode,
                archive: Path, *, name: str, slot: bool = True) -> PgNode:
    """pg_basebackup from ``upstream`` (the primary, or a standby for a cascading replica), write
    the rendered files (standby.signal + replication.conf), start, wait until it streams."""
    creds = upstream.creds
    passfile = root / ".pgpass-replication"
    if slot:
        upstream.query("SELECT pg_create_physical_replication_slot(%s)", name)
    datadir = root / name
    run([binary("pg_basebackup"), "-h", HOST, "-p", str(upstream.port), "-U", creds.replication_user,
         "-D", str(datadir), "-X", "stream", "-c", "fast", "--no-sync", "-w"],
        env={"PGPASSFILE": str(passfile)}, timeout=120)
    port = free_port()
    write_file(datadir / "postgresql.conf", _pg_conf(settings, root, port, name, archive, None))
    for fname, text in standby_files(upstream_host=HOST, upstream_port=upstream.port,
                                     replication_user=creds.replication_user, application_name=name,
                                     passfile=str(passfile), slot_name=name if slot else None,
                                     archive_dir=str(archive)).items():
        write_file(datadir / fname, text)
    node = PgNode(name, datadir, port, root / "sock", creds)
    stack.callback(node.stop)
    node.start()
    wait_until(lambda: upstream.query(
        "SELECT 1 FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'", name),
        timeout=30, what=f"{name} to stream from {upstream.name}")
    return node


def make_synchronous(primary: PgNode, settings: PostgresSettings, archive: Path, standby: str) -> None:
    """Re-render the primary's postgresql.conf with ``standby`` as synchronous standby, reload,
    and wait until pg_stat_replication reports it ``sync``."""
    root = primary.datadir.parent
    write_file(primary.datadir / "postgresql.conf",
               _pg_conf(settings, root, primary.port, primary.name, archive, standby))
    primary.query("SELECT pg_reload_conf()")
    wait_until(lambda: primary.query("SELECT 1 FROM pg_stat_replication WHERE application_name = %s"
                                     " AND sync_state = 'sync'", standby),
               timeout=20, what=f"{standby} to be synchronous")


def start_haproxy(stack: contextlib.ExitStack, root: Path, cluster: PgCluster) -> None:
    """HAProxy with the rendered cfg and role-check scripts; waits until both ports route."""
    d = make_dir(root / "haproxy")
    creds = cluster.creds
    passfile = write_file(d / ".pgpass", render_pgpass([("*", "*", "*", creds.check_user, creds.check_password)]))
    scripts = {}
    for role in ("primary", "standby"):
        scripts[role] = write_file(d / f"check-{role}.sh", render_pg_role_check(
            role, psql=binary("psql"), user=creds.check_user, passfile=str(passfile)), 0o755)  # type: ignore[arg-type]
    members = [m for m in (cluster.standby, cluster.dr) if m is not None]
    wp, rp = free_port(), free_port()
    cfg = write_file(d / "haproxy.cfg", render_haproxy_cfg(
        primary=PgServer(cluster.primary.name, HOST, cluster.primary.port),
        replicas=[PgServer(m.name, HOST, m.port) for m in members],
        bind_address=HOST, write_port=wp, read_port=rp,
        primary_check_command=str(scripts["primary"]), standby_check_command=str(scripts["standby"]),
        check_interval_ms=500, stats_socket=str(d / "admin.sock")))
    run([binary("haproxy"), "-c", "-f", str(cfg)])
    proc = Proc("haproxy", [binary("haproxy"), "-db", "-f", str(cfg)], d / "haproxy.log")
    stack.callback(proc.stop, signal.SIGTERM)
    cluster.procs["haproxy"] = proc
    cluster.haproxy_write_port, cluster.haproxy_read_port = wp, rp

    def routes() -> bool:
        proc.check_alive()
        with cluster.app(wp) as w, cluster.app(rp) as r:
            return (w.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
                    and r.execute("SELECT pg_is_in_recovery()").fetchone() == (True,))

    wait_until(routes, timeout=30, what="haproxy write port -> primary and read port -> standby")


def start_pgbouncer(stack: contextlib.ExitStack, root: Path, cluster: PgCluster) -> None:
    """PgBouncer with the rendered ini and SCRAM userlist, pointed at HAProxy's write port."""
    d = make_dir(root / "pgbouncer")
    creds = cluster.creds
    userlist = write_file(d / "userlist.txt", render_userlist({creds.app_user: creds.verifiers[creds.app_user]}))
    port = free_port()
    ini = write_file(d / "pgbouncer.ini", render_pgbouncer_ini(
        cluster.settings.pooling, databases=[creds.database], write_host=HOST,
        write_port=cluster.haproxy_write_port, auth_file=str(userlist), listen_addr=HOST, listen_port=port))
    proc = Proc("pgbouncer", [binary("pgbouncer"), str(ini)], d / "pgbouncer.log")
    stack.callback(proc.stop, signal.SIGINT)
    cluster.procs["pgbouncer"] = proc
    cluster.pgbouncer_port = port

    def up() -> bool:
        proc.check_alive()
        with cluster.app(port, prepare_threshold=None) as c:
            return c.execute("SELECT 1").fetchone() == (1,)

    wait_until(up, timeout=20, what="pgbouncer to serve queries")


def start_pg_cluster(stack: contextlib.ExitStack, root: Path, settings: PostgresSettings | None = None, *,
                     proxies: bool = True) -> PgCluster:
    """Primary + synchronous standby + DR replica cascading from the standby, then HAProxy and
    PgBouncer (``proxies``). Everything is stopped when ``stack`` closes."""
    settings = settings or PostgresSettings()
    primary, archive = init_primary(stack, root, settings)
    cluster = PgCluster(root, settings, primary.creds, archive, primary)
    primary.query("CHECKPOINT")
    cluster.standby = add_standby(stack, root, settings, primary, archive, name="standby")
    make_synchronous(primary, settings, archive, "standby")
    cluster.dr = add_standby(stack, root, settings, cluster.standby, archive, name="dr_replica")
    if proxies:
        start_haproxy(stack, root, cluster)
        start_pgbouncer(stack, root, cluster)
    return cluster


def lag_bytes(upstream: PgNode) -> dict[str, int]:
    """Replay lag in bytes of every replica streaming from ``upstream``, from pg_stat_replication.

    A cascading standby sends what it has received and flushed, not only what it has replayed, so its
    replica can replay past the standby's own replay position: the upstream's position is the later of
    the two (GREATEST skips the NULL of a standby that has received nothing by streaming)."""
    rows = upstream.query(
        "SELECT application_name, pg_wal_lsn_diff("
        " CASE WHEN pg_is_in_recovery()"
        " THEN GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_lsn() END,"
        " replay_lsn)::bigint FROM pg_stat_replication WHERE replay_lsn IS NOT NULL")
    return {name: int(lag) for name, lag in rows}


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisCredentials:
    app_user: str = "app_user"
    app_password: str = field(default_factory=_password)
    readonly_user: str = "readonly_user"
    readonly_password: str = field(default_factory=_password)
    admin_user: str = "cluster_admin"
    admin_password: str = field(default_factory=_password)
    replication_user: str = "replicator"
    replication_password: str = field(default_factory=_password)


@dataclass
class RedisNode(RunsOneProc):
    name: str
    port: int
    dir: Path
    creds: RedisCredentials
    proc: Proc | None = None

    def client(self, user: str | None = None, password: str | None = None) -> redis.Redis:
        """Plain (non-cluster) client to this node; cluster_admin unless ``user`` is given."""
        return redis.Redis(host=HOST, port=self.port, username=user or self.creds.admin_user,
                           password=password if user else self.creds.admin_password,
                           socket_timeout=5, socket_connect_timeout=2, decode_responses=True)


@dataclass
class RedisClusterHandle:
    settings: RedisSettings
    creds: RedisCredentials
    nodes: list[RedisNode]

    def cluster_client(self, user: str, password: str, **kw: Any) -> RedisCluster:
        """redis-py cluster client authenticating as ``user``."""
        return RedisCluster(startup_nodes=[ClusterNode(HOST, n.port) for n in self.nodes if n.proc and n.proc.alive()],
                            username=user, password=password, decode_responses=True,
                            socket_timeout=3, socket_connect_timeout=2, **kw)

    def node_by_port(self, port: int) -> RedisNode:
        return next(n for n in self.nodes if n.port == port)

    def primary_and_replica_of(self, key: str, user: str, password: str) -> tuple[RedisNode, RedisNode]:
        """The node serving ``key`` as primary (found through a cluster client as ``user``) and that
        shard's replica."""
        owner = self.cluster_client(user, password).get_node_from_key(key)
        shard = next(s for s in self.shards()
                     if any(n["port"] == owner.port and n["role"] == "master" for n in s["nodes"]))
        replica_port = next(n["port"] for n in shard["nodes"] if n["role"] == "replica")
        return self.node_by_port(owner.port), self.node_by_port(replica_port)

    def shards(self) -> list[dict[str, Any]]:
        """CLUSTER SHARDS from a live node, as ``[{"slots": [...], "nodes": [{"port", "role", "health"}]}]``."""
        node = next(n for n in self.nodes if n.proc and n.proc.alive())
        raw = node.client().execute_command("CLUSTER SHARDS")
        out = []
        for shard in raw:
            s = _pairs(shard)
            out.append({"slots": s["slots"], "nodes": [_pairs(n) for n in s["nodes"]]})
        return out


def wait_failed_over(handle: RedisClusterHandle, dead_port: int, timeout: float = 30) -> None:
    """Wait until every live node flags ``dead_port`` as failed, sees it own no slot, and reports
    ``cluster_state:ok`` (clients reading slot maps from any node then route to the new primary)."""
    def converged() -> bool:
        for n in handle.nodes:
            if n.port == dead_port or not (n.proc and n.proc.alive()):
                continue
            client = n.client()
            view = client.execute_command("CLUSTER NODES")
            dead = view.get(f"{HOST}:{dead_port}") if isinstance(view, dict) else None
            if dead is None or "fail" not in dead["flags"].split(",") or dead["slots"]:
                return False
            if cluster_info(client).get("cluster_state") != "ok":
                return False
        return True

    wait_until(converged, timeout=timeout, what=f"all nodes to agree that :{dead_port} failed over", interval=0.1)


def cluster_info(client: redis.Redis) -> dict[str, str]:
    """CLUSTER INFO as a dict of strings, whatever redis-py's response callback made of it."""
    raw = client.execute_command("CLUSTER INFO")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _pairs(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    return {v[i]: v[i + 1] for i in range(0, len(v), 2)}


def start_redis_cluster(stack: contextlib.ExitStack, root: Path, settings: RedisSettings | None = None, *,
                        maxmemory_bytes: int = 64 * 1024 * 1024) -> RedisClusterHandle:
    """Six nodes from the rendered redis.conf/users.acl, joined by ``redis-cli --cluster create``
    as cluster_admin into shards x (1 primary + replicas); waits for ``cluster_state:ok``."""
    settings = settings or RedisSettings()
    creds = RedisCredentials()
    server, cli = binary("redis-server"), binary("redis-cli")
    count = settings.shards * (1 + settings.replicas_per_shard)
    acl = write_file(root / "users.acl", render_users_acl(
        app_password=creds.app_password, readonly_password=creds.readonly_password,
        admin_password=creds.admin_password, replication_password=creds.replication_password))
    nodes: list[RedisNode] = []
    for i in range(1, count + 1):
        port = free_port(with_bus=True)
        d = make_dir(root / f"node-{i}")
        conf = write_file(d / "redis.conf", render_redis_conf(
            settings, data_dir=str(d), aclfile=str(acl), maxmemory_bytes=maxmemory_bytes,
            replication_password=creds.replication_password, bind=HOST, port=port))
        node = RedisNode(f"node-{i}", port, d, creds)
        node.proc = Proc(node.name, [server, str(conf)], d / "redis.log")
        stack.callback(node.stop)
        nodes.append(node)
    for n in nodes:
        wait_until(lambda n=n: (n.proc.check_alive() if n.proc else None, n.client().ping())[1],  # type: ignore[misc]
                   timeout=20, what=f"redis {n.name}")
    run([cli, "--user", creds.admin_user, "--cluster", "create",
         *[f"{HOST}:{n.port}" for n in nodes], "--cluster-replicas", str(settings.replicas_per_shard),
         "--cluster-yes"], env={"REDISCLI_AUTH": creds.admin_password}, timeout=60)
    handle = RedisClusterHandle(settings, creds, nodes)

    def ready() -> bool:
        for n in nodes:
            info = cluster_info(n.client())
            if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) != count:
                return False
        for n in nodes:
            repl = n.client().info("replication")
            if repl["role"] == "slave" and repl.get("master_link_status") != "up":
                return False
        return True

    wait_until(ready, timeout=30, what="redis cluster_state:ok with replicas in sync", interval=0.2)
    return handle
