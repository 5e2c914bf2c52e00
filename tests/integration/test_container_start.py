"""The local stack's containers started the way Docker and the images start them
(tests/integration/containers.py), on the host's real binaries.

PostgreSQL: each Patroni member runs the component's own command, environment and uploaded files
(``components/docker/postgres.py``, rendered for a :class:`PatroniLayout` under a temporary root):
uploads root-owned 0644, volumes copied up from the image's postgres-owned directories, the
process running as the image's ``USER postgres`` behind its entrypoint (which execs any command
but ``postgres`` as is); each must turn healthy by the container's own healthcheck command. The
etcd members are the host's etcd from the same rendered files (``patroni_servers.start_etcd``).
One test per defect of issue 15 that this path exposes, now on the Patroni start path.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis

try:
    from tests.integration import containers, patroni_servers, servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import containers  # type: ignore[no-redef]
    import patroni_servers  # type: ignore[no-redef]
    import servers  # type: ignore[no-redef]

from components.docker.monitoring import PROMETHEUS_IMAGE_CMD, prometheus_files, token_file
from components.docker.postgres import (
    APP_USER,
    MIGRATION_USER,
    MONITOR_USER,
    READONLY_USER,
    ROLES,
    PatroniLayout,
    bootstrap_sql,
    exporter_dsn,
    patroni_command,
    patroni_haproxy_cfg,
    patroni_healthcheck,
    patroni_member_files,
    pgbouncer_userlist,
    role_verifiers,
)
from components.docker.redis import cluster_create_script, node_conf, node_healthcheck
from components.render.haproxy import PgServer
from components.render.patroni import PatroniMember, patroni_password_env
from components.render.pgbouncer import render_pgbouncer_ini
from components.render.redis import render_users_acl
from infra.settings import PostgresSettings, RedisSettings

pytestmark = pytest.mark.integration

HOST_CIDR = "127.0.0.0/8"  # the "network" every member and client connects from here
BOOT_TIMEOUT = 120
#: The Patroni image: ``USER postgres``; its entrypoint execs a command other than ``postgres``.
IMAGE_USER = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _require() -> None:
    try:
        servers.require("postgres", "initdb", "pg_basebackup", "pg_rewind", "psql", "pgbouncer", "haproxy",
                        "patroni", "etcd")
        containers.require_root()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)


def layout(root: Path, member: str) -> PatroniLayout:
    """The container's paths, each under the member's own root; the WAL archive volume is shared."""
    m = root / member
    return PatroniLayout(conf_dir=str(m / "etc/patroni"), data_mount=str(m / "home/postgres/pgdata"),
                         data_dir=str(m / "home/postgres/pgdata/data"), archive_mount=str(root / "wal-archive"),
                         archive_dir=str(root / "wal-archive/archive"), bin_dir=str(servers.pg_bindir()),
                         pgpass=str(m / "tmp/pgpass.patroni"))


@dataclass
class Cluster:
    root: Path
    database: str
    superuser_password: str
    passwords: dict[str, str]
    verifiers: dict[str, str]
    etcd_hosts: list[str] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    api_ports: dict[str, int] = field(default_factory=dict)
    members: dict[str, containers.FakeContainer] = field(default_factory=dict)
    layouts: dict[str, PatroniLayout] = field(default_factory=dict)

    def connect(self, member: str, *, user: str = "postgres", dbname: str | None = None) -> psycopg.Connection:  # type: ignore[type-arg]
        password = self.superuser_password if user == "postgres" else self.passwords[user]
        return servers.connect(self.ports[member], user, password, dbname or self.database)

    def query(self, member: str, q: str, *params: object) -> list[tuple[object, ...]]:
        with self.connect(member) as c:
            cur = c.execute(q, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []


def boot_member(stack: contextlib.ExitStack, c: Cluster, member: str, *, nosync: bool = False
                ) -> containers.FakeContainer:
    """One Patroni member container: its uploads, volumes, environment, command and healthcheck."""
    lay = layout(c.root, member)
    c.ports[member], c.api_ports[member] = servers.free_port(), servers.free_port()
    pm = PatroniMember(member, servers.HOST, c.ports[member], c.api_ports[member], listen_host=servers.HOST,
                       nosync=nosync)
    files = patroni_member_files(PostgresSettings(), lay, member=pm, etcd_hosts=c.etcd_hosts,
                                 client_cidrs=[HOST_CIDR], bootstrap=bootstrap_sql(c.verifiers, database=c.database))
    # Volumes over image directories owned by postgres (0750): copied up with that owner and mode.
    containers.image_dir(Path(lay.data_mount), owner="postgres", mode=0o750)
    containers.image_dir(Path(lay.archive_mount), owner="postgres", mode=0o750)
    containers.image_dir(Path(lay.pgpass).parent, owner="root", mode=0o1777)  # the image's /tmp
    env = {"PATH": f"{servers.pg_bindir()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "HOME": "/home/postgres", **patroni_password_env(
               superuser=c.superuser_password, replication=c.passwords["replicator"], rewind=c.passwords["rewind"],
               restapi=c.passwords["restapi"])}
    fc = containers.FakeContainer(member, c.root, entrypoint=IMAGE_USER, command=patroni_command(lay), env=env,
                                  files=files, healthcheck=list(patroni_healthcheck(c.api_ports[member])),
                                  stop_signal=signal.SIGTERM, pgdata=lay.data_dir)
    stack.callback(fc.stop)
    c.members[member], c.layouts[member] = fc, lay
    fc.start()
    fc.wait_healthy(BOOT_TIMEOUT)
    return fc


def new_cluster(root: Path) -> Cluster:
    passwords = {r: secrets.token_urlsafe(18) for r in (*ROLES, "replicator", "rewind", "restapi")}
    return Cluster(root=root, database="app", superuser_password=secrets.token_urlsafe(18), passwords=passwords,
                   verifiers=role_verifiers({r: passwords[r] for r in ROLES}, seed=secrets.token_bytes(16)))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """etcd (three members), then the primary member (Patroni bootstraps the cluster: initdb, the
    post_bootstrap SQL), then the standby member (Patroni clones it), each through its container's
    start path."""
    _require()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-ctr-"))
        root.chmod(0o755)
        c = new_cluster(root)
        c.etcd_hosts = [f"{servers.HOST}:{m.client_port}" for m in patroni_servers.start_etcd(stack, root)]
        boot_member(stack, c, "primary")
        boot_member(stack, c, "standby")
        servers.wait_until(lambda: c.query("primary", "SELECT application_name, sync_state FROM pg_stat_replication")
                           == [("standby", "sync")], timeout=60, what="standby to be synchronous")
        yield c


# ---------------------------------------------------------------- the image's start contract


def test_members_start_as_the_image_user_from_root_owned_uploads_and_turn_healthy(cluster: Cluster) -> None:
    """Uploads are root-owned 0644 and the process is the image's postgres user: Patroni reads its
    files, initdb/clones into the copied-up volume, and the healthcheck (Patroni's /health) passes."""
    c = cluster
    postgres = pwd.getpwnam("postgres").pw_uid
    for member in ("primary", "standby"):
        conf = Path(c.layouts[member].conf_dir) / "patroni.yml"
        assert (conf.stat().st_uid, conf.stat().st_mode & 0o777) == (0, 0o644)
        assert Path(c.layouts[member].data_dir, "PG_VERSION").stat().st_uid == postgres
        assert c.members[member].health()
    roles = {m: json.loads(urllib.request.urlopen(f"http://{servers.HOST}:{c.api_ports[m]}/patroni",
                                                  timeout=5).read())["role"] for m in ("primary", "standby")}
    assert roles == {"primary": "master", "standby": "replica"} or roles == {"primary": "primary",
                                                                              "standby": "replica"}


# ---------------------------------------------------------------- item 7: WAL archive ownership


def test_wal_archive_volume_is_writable_and_segments_are_archived(cluster: Cluster) -> None:
    """Issue 15 item 7: the archive volume is shared by the members; the start script creates the
    archive directory as the server user and the leader's archive_command succeeds."""
    c = cluster
    archive = Path(c.layouts["primary"].archive_dir)
    assert archive.stat().st_uid == os.stat(c.layouts["primary"].data_dir).st_uid  # postgres
    segment = c.query("primary", "SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    assert isinstance(segment, str)
    servers.wait_until(lambda: (archive / segment).exists(), timeout=30, what=f"WAL {segment} in the archive")
    assert c.query("primary", "SELECT failed_count FROM pg_stat_archiver") == [(0,)]


# ---------------------------------------------------------------- issue 17: roles as code at first boot


def test_first_boot_applies_the_roles_migration_creates_and_app_writes(cluster: Cluster) -> None:
    """Issue 17 (supersedes issue 15 item 8, where the app login owned the database): Patroni's
    post_bootstrap runs the roles bootstrap once; migration creates tables in the app schema, the
    app login writes them and cannot create, readonly reads, on the standby too."""
    c = cluster
    with c.connect("primary", user=MIGRATION_USER) as conn:
        conn.execute("CREATE TABLE app_owned (id int PRIMARY KEY)")
    with c.connect("primary", user=APP_USER) as conn:
        conn.execute("INSERT INTO app_owned VALUES (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE app_made (id int)")
    with c.connect("standby", user=READONLY_USER) as conn:
        # synchronous_commit=on waits for the standby's flush, not its replay: wait for the replay.
        servers.wait_until(lambda: conn.execute("SELECT id FROM app_owned").fetchall() == [(1,)], timeout=20,
                           what="the standby to replay the committed row")
    assert c.query("primary", "SELECT tableowner FROM pg_tables WHERE tablename = 'app_owned'") == [("migration_role",)]
    assert c.query("primary", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                   c.database) == [("postgres",)]


# ---------------------------------------------------------------- item 4: PgBouncer logs in


def test_pgbouncer_logs_in_with_the_verifier_the_role_stores(cluster: Cluster) -> None:
    """Issue 15 item 4: the role's stored SCRAM secret and PgBouncer's userlist are one string, so
    PgBouncer can log in to the server with the client's keys."""
    c = cluster
    stored = c.query("primary", "SELECT rolpassword FROM pg_authid WHERE rolname = %s", APP_USER)[0][0]
    userlist = pgbouncer_userlist(c.verifiers)
    with contextlib.ExitStack() as stack:
        d = servers.make_dir(c.root / "pgbouncer")
        auth = servers.write_file(d / "userlist.txt", userlist)
        port = servers.free_port()
        ini = servers.write_file(d / "pgbouncer.ini", render_pgbouncer_ini(
            PostgresSettings().pooling, databases=[c.database], write_host=servers.HOST, write_port=c.ports["primary"],
            auth_file=str(auth), listen_addr=servers.HOST, listen_port=port))
        proc = servers.Proc("pgbouncer", [servers.binary("pgbouncer"), str(ini)], d / "pgbouncer.log")
        stack.callback(proc.stop, signal.SIGINT)
        servers.wait_until(lambda: (proc.check_alive(), containers.tcp_open(port))[1], timeout=15,
                           what="pgbouncer's healthcheck (nc -z 127.0.0.1 <port>)")
        with servers.connect(port, APP_USER, c.passwords[APP_USER], c.database, prepare_threshold=None) as conn:
            assert conn.execute("SELECT current_user, inet_server_port()").fetchone() == (APP_USER, c.ports["primary"])
    assert f'"{APP_USER}" "{stored}"' in userlist  # one string, stored by the server as given


# ---------------------------------------------------------------- item 9: the exporter's own login, every member


def test_postgres_exporter_logs_in_to_every_member_as_the_monitoring_role(cluster: Cluster) -> None:
    """Issue 15 item 9 (PostgreSQL): the bootstrap creates a pg_monitor login; the real
    prometheus-postgres-exporter, with the component's DSN, scrapes the leader and the replica."""
    c = cluster
    try:
        exporter = servers.binary("prometheus-postgres-exporter")
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    assert c.query("primary", "SELECT pg_has_role(%s, 'pg_monitor', 'member')", MONITOR_USER) == [(True,)]
    with contextlib.ExitStack() as stack:
        for member in ("primary", "standby"):
            listen = f"{servers.HOST}:{servers.free_port()}"
            dsn = exporter_dsn(servers.HOST, c.ports[member], c.passwords[MONITOR_USER])
            proc = servers.Proc(f"postgres-exporter[{member}]", [exporter, f"--web.listen-address={listen}"],
                                c.root / f"exporter-{member}.log", env={"DATA_SOURCE_NAME": dsn})
            stack.callback(proc.stop)

            def metrics(listen: str = listen, proc: servers.Proc = proc) -> list[str]:
                proc.check_alive()
                with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
                    return r.read().decode().splitlines()

            servers.wait_until(lambda m=metrics: "pg_up 1" in m(), timeout=20,  # type: ignore[misc]
                               what=f"pg_up 1 from the {member} exporter")


# ---------------------------------------------------------------- a restarted member keeps the cluster's roles


def test_a_restarted_replica_container_rejoins_as_a_replica(cluster: Cluster) -> None:
    """Issue 15 item 11, now Patroni's job: ``docker restart`` of a member runs the same command on
    the same volume; the member rejoins under the leader, with no standby.signal of ours."""
    c = cluster
    member = c.members["standby"]
    member.restart()
    member.wait_healthy(BOOT_TIMEOUT)
    servers.wait_until(lambda: c.query("primary", "SELECT application_name, sync_state FROM pg_stat_replication")
                       == [("standby", "sync")], timeout=60, what="restarted standby to be synchronous again")
    assert c.query("standby", "SELECT pg_is_in_recovery()") == [(True,)]


# ---------------------------------------------------------------- item 10: HAProxy resolves at run time


def test_haproxy_starts_and_serves_while_members_do_not_resolve() -> None:
    """Issue 15 item 10: the rendered haproxy.cfg names members that do not resolve (yet); HAProxy
    must start, stay up and pass its container healthcheck (``nc -z 127.0.0.1 5000``)."""
    _require()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-hap-"))
        wp, rp = servers.free_port(), servers.free_port()
        suffix = secrets.token_hex(4)  # names no resolver knows
        cfg = servers.write_file(root / "haproxy.cfg", patroni_haproxy_cfg(
            [PgServer(m, f"pg-{m}-{suffix}.invalid", 5432, 8008) for m in ("primary", "standby")],
            bind_address=servers.HOST, write_port=wp, read_port=rp))
        proc = servers.Proc("haproxy", [servers.binary("haproxy"), "-db", "-f", str(cfg)], root / "haproxy.log")
        stack.callback(proc.stop, signal.SIGTERM)
        servers.wait_until(lambda: (proc.check_alive(), containers.tcp_open(wp) and containers.tcp_open(rp))[1],
                           timeout=15, what="haproxy to listen with unresolvable members")
        time.sleep(2)
        proc.check_alive()


# ---------------------------------------------------------------- Valkey: nodes + the cluster-create job


def test_valkey_nodes_turn_healthy_and_the_cluster_job_joins_them_once() -> None:
    """The redis component's node files (redis.conf + users.acl, host paths), each node's own
    healthcheck command, then its one-shot job script as the job container runs it (``/bin/sh
    <script>``): exit 0, cluster_state ok; run again (a re-created job) it exits 0 untouched. The
    host's redis-server/redis-cli stand in for valkey-server/valkey-cli (same protocol and flags)."""
    try:
        bins = servers.require("redis-server", "redis-cli")
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    settings = RedisSettings()
    count = settings.shards * (1 + settings.replicas_per_shard)
    pw = {u: secrets.token_urlsafe(18) for u in ("app", "ro", "admin", "repl", "mon")}
    acl = render_users_acl(app_password=pw["app"], readonly_password=pw["ro"], admin_password=pw["admin"],
                           replication_password=pw["repl"], monitor_password=pw["mon"], monitor_user="monitor_user")
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-valkey-"))
        shim = containers._root_dir(root / "bin")
        (shim / "valkey-cli").symlink_to(bins["redis-cli"])
        env = {"PATH": f"{shim}:/usr/bin:/bin", "HOME": "/tmp"}
        ports = [servers.free_port(with_bus=True) for _ in range(count)]
        for i, port in enumerate(ports, 1):
            conf_dir = servers.make_dir(root / f"node-{i}" / "etc")
            data_dir = servers.make_dir(root / f"node-{i}" / "data")
            servers.write_file(conf_dir / "users.acl", acl)
            conf = servers.write_file(conf_dir / "redis.conf", node_conf(
                settings, pw["repl"], port=port, maxmemory_bytes=64 * 2**20, conf_dir=str(conf_dir),
                data_dir=str(data_dir)))
            proc = servers.Proc(f"node-{i}", [bins["redis-server"], str(conf)], root / f"node-{i}.log")
            stack.callback(proc.stop)

            def healthy(port: int = port, proc: servers.Proc = proc) -> bool:
                proc.check_alive()
                return subprocess.run(["sh", "-c", node_healthcheck("valkey-cli", port)], env=env,
                                      check=False).returncode == 0

            servers.wait_until(healthy, timeout=20, what=f"node {i} healthcheck")
        script = root / "cluster-create.sh"
        script.write_text(cluster_create_script([f"{servers.HOST}:{p}" for p in ports], pw["admin"], cli="valkey-cli",
                                                replicas=settings.replicas_per_shard))
        for attempt in ("create", "again"):
            res = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=120,
                                 check=False)
            assert res.returncode == 0, f"{attempt}: {res.stdout}\n{res.stderr}"
            if attempt == "create":
                assert "[OK] All 16384 slots covered" in res.stdout
            else:
                assert res.stdout == ""  # the "already formed" exit, nothing re-created
            admin = redis.Redis(host=servers.HOST, port=ports[0], username="cluster_admin", password=pw["admin"],
                                decode_responses=True)
            servers.wait_until(lambda a=admin: servers.cluster_info(a).get("cluster_state") == "ok", timeout=30,
                               what="cluster_state:ok")


# ---------------------------------------------------------------- Prometheus: the component's files, the image's CMD


def test_prometheus_starts_from_the_component_files_and_passes_its_healthcheck() -> None:
    """The monitoring component's prometheus.yml + rules.yml (+ a bearer-token file for Qdrant), run
    with the prom/prometheus image's own CMD (paths under a temporary root), turn healthy by the
    container's healthcheck (``wget -q -O /dev/null http://127.0.0.1:9090/-/ready``) with every
    catalogue rule loaded, although no scrape target resolves here."""
    try:
        prometheus = servers.binary("prometheus")
        wget = servers.binary("wget")
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-prom-ctr-"))
        conf_dir = servers.make_dir(root / "etc/prometheus", 0o755)
        servers.make_dir(conf_dir / "secrets", 0o755)
        targets = {"qdrant": ["vector-peer-1:6333"], "postgres": ["monitoring-postgres-exporter-primary:9187"],
                   "redis": ["monitoring-redis-exporter:9121"]}
        files = prometheus_files(targets, stores=["postgres", "redis", "vector"], alertmanagers=["monitoring-am:9093"],
                                 evaluation_interval_seconds=30, metrics_paths={}, token_jobs=["qdrant"],
                                 conf_dir=str(conf_dir))
        files[token_file("qdrant", str(conf_dir))] = secrets.token_urlsafe(30)
        for path, text in files.items():
            servers.write_file(Path(path), text, 0o644)
        port = servers.free_port()
        tsdb = servers.make_dir(root / "tsdb")
        argv = [a.replace("/etc/prometheus", str(conf_dir)).replace("=/prometheus", f"={tsdb}")
                for a in PROMETHEUS_IMAGE_CMD]
        proc = servers.Proc("prometheus", [prometheus, *argv, f"--web.listen-address={servers.HOST}:{port}"],
                            root / "prometheus.log")
        stack.callback(proc.stop)
        health = [wget, "-q", "-O", "/dev/null", f"http://{servers.HOST}:{port}/-/ready"]  # the container's, re-ported
        servers.wait_until(lambda: (proc.check_alive(), subprocess.run(health, check=False).returncode == 0)[1],
                           timeout=30, what="prometheus healthcheck")
        with urllib.request.urlopen(f"http://{servers.HOST}:{port}/api/v1/rules", timeout=5) as r:
            groups = json.load(r)["data"]["groups"]
        assert sum(len(g["rules"]) for g in groups) > 0
        with urllib.request.urlopen(f"http://{servers.HOST}:{port}/api/v1/status/config", timeout=5) as r:
            assert "credentials_file: " + token_file("qdrant", str(conf_dir)) in json.load(r)["data"]["yaml"]
