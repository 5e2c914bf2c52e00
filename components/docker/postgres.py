"""Local PostgreSQL that fails over by itself: Patroni + etcd, HAProxy routed by the leader's health.

Three etcd members keep the leader lock; three Patroni-managed members (primary, synchronous
standby, read replicas) form the primary cluster, and the DR member is a Patroni *standby cluster*
following the primary cluster's write endpoint. HAProxy asks each member's Patroni REST API who
leads (``/primary``, the write port) and who replicates (``/replica``, the read port); PgBouncer
stays in front of the write port. Every config file comes from ``components/render`` (``patroni.py``,
``etcd.py``, ``haproxy.py``, ``pgbouncer.py``, ``postgres.py`` for the server settings) through the
pure functions below, which the integration tier boots on the host's Debian patroni, etcd,
PostgreSQL, HAProxy and PgBouncer (``tests/integration/patroni_servers.py``).

The member named ``primary`` bootstraps the cluster; after a failover another member leads and
``pg-primary`` rejoins as a replica: clients use the write/read ports (or PgBouncer), never a
member's own port.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.etcd import EtcdPeer, render_etcd_conf
from components.render.haproxy import PgServer, render_haproxy_cfg
from components.render.patroni import (
    PatroniAuth,
    PatroniMember,
    PatroniPaths,
    PatroniTiming,
    StandbyCluster,
    patroni_password_env,
    render_patroni_yml,
    render_post_bootstrap,
)
from components.render.pgbouncer import PoolingParams, render_pgbouncer_ini, render_userlist
from components.render.postgres import SCRAM_VERIFIER, PostgresParams, scram_sha256_verifier
from components.render.postgres_roles import LOGINS, RoleModel, psql_set_lines, render_roles_sql

REPLICATION_USER = "replicator"
#: The application's login: member of app_role (DML on the app schema, no DDL); see postgres_roles.
APP_USER = "app_user"
MIGRATION_USER = "migration_user"
READONLY_USER = "readonly_user"
#: The metrics exporter's login: member of pg_monitor (statistics and settings, no table data).
MONITOR_USER = "postgres_exporter"
#: Roles the bootstrap SQL creates; each gets a SCRAM verifier, never a plaintext password. (The
#: superuser, replication and rewind roles are Patroni's; it sets their passwords from its env.)
ROLES = (MONITOR_USER, *LOGINS)
assert {APP_USER, MIGRATION_USER, READONLY_USER} == set(LOGINS)


class LocalPostgresParams(PostgresParams, Protocol):
    """What :class:`LocalPostgres` reads from the stack's PostgreSQL settings: the renderer's
    ``port`` and ``max_connections``, plus the database name and the PgBouncer settings.

    The frozen ``infra.settings.PostgresSettings`` satisfies it structurally.
    """

    @property
    def database_name(self) -> str:
        """Initial database; PgBouncer serves it."""
        ...

    @property
    def pooling(self) -> PoolingParams:
        """PgBouncer settings."""
        ...


@dataclass(frozen=True)
class LocalPostgresArgs:
    settings: LocalPostgresParams
    """PostgreSQL settings of the stack (port, max_connections, database name, pooling)."""
    network: docker.Network
    """The local stack's private network."""
    network_cidr: str
    """CIDR of that network; pg_hba admits clients and replication only from it."""
    standby: bool = True
    """Run the synchronous standby (Multi-AZ on AWS). Default: true."""
    read_replicas: int = 0
    """Asynchronous read replicas (Patroni members tagged nosync). Default: 0."""
    dr_replica: bool = True
    """Run the DR member (a Patroni standby cluster). Default: true."""
    port_offset: int = 0
    """Added to published ports. Default: 0 (5432, 6432, 5000, 5001)."""


class LocalPostgres(pulumi.ComponentResource):
    """The local PostgreSQL tier. Outputs: write/read/pgbouncer ports, member container names, the
    replication links it realizes and how they differ from RDS's."""

    def __init__(self, name: str, args: LocalPostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalPostgres", name, None, opts)
        s, off, lay = args.settings, args.port_offset, PATRONI_CONTAINER
        passwords = {
            user: random.RandomPassword(f"{name}-{user}-password", length=32, special=False,
                                        opts=pulumi.ResourceOptions(parent=self))
            for user in ("postgres", REPLICATION_USER, REWIND_USER, RESTAPI_USER, *ROLES)
        }
        # SCRAM verifiers are computed here with a salt that is random once, then stable: the same
        # string goes to CREATE ROLE ... PASSWORD and to PgBouncer's userlist (PgBouncer can log in
        # to the server only when both hold the same verifier).
        salt = random.RandomId(f"{name}-scram-salt", byte_length=16, opts=pulumi.ResourceOptions(parent=self))
        verifiers: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            salt.hex, *(passwords[r].result for r in ROLES)).apply(
            lambda a: role_verifiers(dict(zip(ROLES, a[1:], strict=True)), seed=bytes.fromhex(a[0])))
        # Patroni's passwords travel as secret environment variables; patroni.yml names only the roles.
        patroni_env: dict[str, pulumi.Input[str]] = dict(patroni_password_env(
            superuser=passwords["postgres"].result, replication=passwords[REPLICATION_USER].result,
            rewind=passwords[REWIND_USER].result, restapi=passwords[RESTAPI_USER].result))
        archive = volume(f"{name}-wal-archive", parent=self)
        self.members: dict[str, str] = {}

        # etcd: three members on the private network (no published port); Patroni's DCS.
        peers = etcd_peers(name)
        etcd = [local_container(LocalContainerSpec(
            name=p.name,
            image=IMAGES["etcd"],
            healthcheck=Healthcheck(ETCD_HEALTHCHECK),
            entrypoint=[ETCD_BIN],
            command=["--config-file", f"{ETCD_CONF_DIR}/etcd.yml"],
            files=etcd_files(ETCD_CONF_DIR, member=p.name, peers=peers, data_dir=ETCD_DATA_DIR),
            volumes={f"{p.name}-data": ETCD_DATA_MOUNT},
            memory_mb=256,
        ), args.network, parent=self, depends_on=[volume(f"{p.name}-data", parent=self)]) for p in peers]
        etcd_hosts = [f"{p.host}:{p.client_port}" for p in peers]

        names = member_names(standby=args.standby, read_replicas=args.read_replicas)
        sql = verifiers.apply(lambda v: bootstrap_sql(v, database=s.database_name))

        def member(member_id: str, cname: str, *, bootstrap: bool, standby_cluster: StandbyCluster | None,
                   ports: Mapping[int, int], depends_on: Sequence[pulumi.Resource]) -> docker.Container:
            pm = PatroniMember(names.get(member_id, "dr_replica"), cname, s.port, PATRONI_API_PORT,
                               nosync=member_id.startswith("postgres/replica-"))

            def files(boot_sql: str | None) -> dict[str, str]:
                return patroni_member_files(s, lay, member=pm, etcd_hosts=etcd_hosts, client_cidrs=[args.network_cidr],
                                            bootstrap=boot_sql, standby_cluster=standby_cluster)

            out = sql.apply(lambda q: files(q if bootstrap else None))
            container = local_container(LocalContainerSpec(
                name=cname,
                image=IMAGES["patroni"],
                healthcheck=Healthcheck(patroni_healthcheck(), start_period="30s"),
                ports=ports,
                command=patroni_command(lay),
                envs=patroni_env,
                files=_items(out, files("" if bootstrap else None)),
                volumes={f"{cname}-data": lay.data_mount, f"{name}-wal-archive": lay.archive_mount},
                wait_timeout=180,
                memory_mb=PG_MEMORY_MB, shm_size_mb=PG_SHM_MB,
            ), args.network, parent=self,
                depends_on=[*depends_on, archive, volume(f"{cname}-data", parent=self)])
            self.members[member_id] = cname
            return container

        # The designated primary bootstraps the cluster; the others clone it once it is healthy.
        primary = member("postgres/primary", f"{name}-primary", bootstrap=True, standby_cluster=None,
                         ports={s.port: s.port + off}, depends_on=etcd)
        servers = [PgServer("primary", f"{name}-primary", s.port, PATRONI_API_PORT)]
        for member_id, pname in names.items():
            if member_id == "postgres/primary":
                continue
            cname = f"{name}-{member_id.split('/', 1)[1]}"
            member(member_id, cname, bootstrap=True, standby_cluster=None, ports={}, depends_on=[primary])
            servers.append(PgServer(pname, cname, s.port, PATRONI_API_PORT))

        userlist = verifiers.apply(pgbouncer_userlist)
        pgbouncer = local_container(LocalContainerSpec(
            name=f"{name}-pgbouncer",
            image=IMAGES["pgbouncer"],
            healthcheck=Healthcheck(("CMD-SHELL", "nc -z 127.0.0.1 6432")),
            ports={6432: 6432 + off},
            command=["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"],
            files={"/etc/pgbouncer/pgbouncer.ini": render_pgbouncer_ini(
                       s.pooling, databases=[s.database_name], write_host=f"{name}-haproxy", write_port=5000,
                       auth_file="/etc/pgbouncer/userlist.txt", listen_addr="0.0.0.0", listen_port=6432),
                   "/etc/pgbouncer/userlist.txt": userlist},
            memory_mb=64,
        ), args.network, parent=self, depends_on=[primary])
        haproxy = local_container(LocalContainerSpec(
            name=f"{name}-haproxy",
            image=IMAGES["haproxy"],
            healthcheck=Healthcheck(("CMD-SHELL", "nc -z 127.0.0.1 5000")),
            ports={5000: 5000 + off, 5001: 5001 + off},
            files={"/usr/local/etc/haproxy/haproxy.cfg": patroni_haproxy_cfg(servers)},
            memory_mb=128,
        ), args.network, parent=self, depends_on=[primary])
        if args.dr_replica:
            # Its own Patroni cluster, following whoever leads the primary cluster (through HAProxy).
            member("postgres/dr-replica", f"{name}-dr-replica", bootstrap=False,
                   standby_cluster=StandbyCluster(f"{name}-haproxy", 5000, lay.archive_dir), ports={},
                   depends_on=[haproxy])
        self.links, self.declared_differences = realized_links(
            standby=args.standby, read_replicas=args.read_replicas, dr_replica=args.dr_replica)
        self.write_port = 5000 + off
        self.read_port = 5001 + off
        self.pgbouncer_port = 6432 + off
        self.app_password: pulumi.Output[str] = pulumi.Output.secret(passwords[APP_USER].result)
        self.monitor_password: pulumi.Output[str] = pulumi.Output.secret(passwords[MONITOR_USER].result)
        self.register_outputs({"writePort": self.write_port, "readPort": self.read_port,
                               "pgbouncerPort": self.pgbouncer_port, "members": self.members,
                               "etcd": [p.name for p in peers],
                               "haproxy": haproxy.name, "pgbouncer": pgbouncer.name})


def _items(files: pulumi.Output[dict[str, str]], shape: dict[str, str]) -> dict[str, pulumi.Input[str]]:
    """``{path: content}`` with each content taken from ``files`` (an output; ``shape`` gives the paths)."""
    def pick(path: str) -> pulumi.Output[str]:
        return files.apply(lambda d: d[path])

    return {path: pick(path) for path in shape}


def member_names(*, standby: bool, read_replicas: int) -> dict[str, str]:
    """``{topology member id: Patroni member name}`` of the primary cluster (names are also the
    members' ``application_name``; Patroni puts the synchronous one in synchronous_standby_names)."""
    names = {"postgres/primary": "primary"}
    if standby:
        names["postgres/standby"] = "standby"
    names.update({f"postgres/replica-{i}": f"replica_{i}" for i in range(1, read_replicas + 1)})
    return names


def realized_links(*, standby: bool, read_replicas: int, dr_replica: bool
                   ) -> tuple[set[tuple[str, str, str]], dict[str, str]]:
    """The replication links the local tier realizes (those of the topology: the primary streams
    to each member) and where it differs from RDS, by member."""
    links = set()
    diffs: dict[str, str] = {}
    if standby:
        links.add(("postgres/primary", "postgres/standby", "sync"))
        diffs["postgres/standby"] = (
            "local standby is the Patroni member synchronous_mode names synchronous (replicas are tagged nosync); "
            "on RDS it is the Multi-AZ standby")
    links |= {("postgres/primary", f"postgres/replica-{i}", "async") for i in range(1, read_replicas + 1)}
    if dr_replica:
        links.add(("postgres/primary", "postgres/dr-replica", "async"))
        diffs["postgres/dr-replica"] = (
            "local DR member is a Patroni standby cluster (its own leader lock) streaming from the primary "
            "cluster's write endpoint, so it follows every failover; RDS streams a cross-region replica from "
            "the primary")
    diffs["postgres/primary"] = (
        "locally Patroni moves the leader between members on failure (the member named primary may become a "
        "replica; clients use HAProxy/PgBouncer); RDS keeps one writer endpoint over the Multi-AZ pair")
    return links, diffs


# --------------------------------------------------------------------------------------------
# What each container runs: pure functions of plain values, so the integration tier renders and
# runs exactly these files (under a temporary PatroniLayout) on the host's binaries.
# --------------------------------------------------------------------------------------------

#: Memory limit of a member (shared_buffers is PostgreSQL's default 128 MB) and its /dev/shm
#: (Docker's default 64 MiB is too small for parallel query workers' dynamic shared memory).
PG_MEMORY_MB = 1024
PG_SHM_MB = 256
#: Docker's embedded DNS server, which resolves container names on user-defined networks.
DOCKER_DNS = "127.0.0.11:53"
#: The etcd image's binaries, and where its (uid 1001-owned) data volume is mounted.
ETCD_BIN = "/opt/bitnami/etcd/bin/etcd"
ETCD_CONF_DIR = "/etc/etcd"
ETCD_DATA_MOUNT = "/bitnami/etcd"
ETCD_DATA_DIR = "/bitnami/etcd/data"
ETCD_HEALTHCHECK = ("CMD", "/opt/bitnami/etcd/bin/etcdctl", "--endpoints=http://127.0.0.1:2379", "endpoint",
                    "health")


def role_salt(seed: bytes, role: str) -> bytes:
    """16-byte SCRAM salt of ``role``, derived from one random ``seed`` (distinct per role)."""
    return hashlib.sha256(seed + b"/" + role.encode()).digest()[:16]


def role_verifiers(passwords: Mapping[str, str], *, seed: bytes) -> dict[str, str]:
    """SCRAM-SHA-256 verifier of every role: what the server stores and PgBouncer's userlist holds."""
    return {role: scram_sha256_verifier(pw, salt=role_salt(seed, role)) for role, pw in passwords.items()}


def exporter_dsn(host: str, port: int, password: str) -> str:
    """DSN of the PostgreSQL exporter for one member, as the monitoring role."""
    return (f"postgresql://{MONITOR_USER}:{urllib.parse.quote(password, safe='')}@{host}:{port}/postgres"
            "?sslmode=disable")


def db_roles_sql(verifiers: Mapping[str, str], *, database: str) -> str:
    """The roles-as-code bootstrap (components/render/postgres_roles.py, the very SQL RDS gets),
    its password variables set to the logins' SCRAM verifiers."""
    return (psql_set_lines({login: verifiers[login] for login in LOGINS})
            + render_roles_sql(RoleModel(database=database)))


def pgbouncer_userlist(verifiers: Mapping[str, str]) -> str:
    """PgBouncer's auth_file: the application role's verifier, the very string the server stores."""
    return render_userlist({APP_USER: verifiers[APP_USER]})


# --------------------------------------------------------------------------------------------
# Patroni + etcd: what each member of the self-failing-over cluster runs. Pure functions of plain
# values, so the integration tier boots exactly these files (under a temporary PatroniLayout) on
# the host's Debian patroni, etcd and PostgreSQL.
# --------------------------------------------------------------------------------------------

#: Patroni's REST API port (HAProxy's health checks: GET /primary, GET /replica).
PATRONI_API_PORT = 8008
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
#: Members of the etcd cluster: three, so one can be lost (a majority of 2 remains).
ETCD_MEMBERS = 3
#: Patroni cluster names: the primary cluster and the DR standby cluster (its own leader lock).
PATRONI_SCOPE = "data-platform"
DR_SCOPE = "data-platform-dr"
#: Role names Patroni uses (the superuser is the image's; rewind runs pg_rewind's queries).
REWIND_USER = "rewind_user"
#: Basic-auth user of Patroni's REST API (switchover, failover, restart need it; health checks do not).
RESTAPI_USER = "patroni"
PATRONI_AUTH = PatroniAuth(superuser="postgres", replication=REPLICATION_USER, rewind=REWIND_USER,
                           restapi=RESTAPI_USER)


def patroni_healthcheck(api_port: int = PATRONI_API_PORT) -> tuple[str, ...]:
    """The members' Docker healthcheck: Patroni's GET /health answers 200 while PostgreSQL runs
    (``urlopen`` raises on 503, so the exit code is non-zero). Run by the image's python3, which
    Patroni itself needs, rather than a tool the image may not keep."""
    return ("CMD", "python3", "-c", "import urllib.request as u; "
            f"u.urlopen('http://127.0.0.1:{api_port}/health', timeout=3)")


#: HAProxy's check interval (ms) against the REST API; a leader change is seen within it.
HAPROXY_CHECK_MS = 1000


@dataclass(frozen=True)
class PatroniLayout:
    """Where a Patroni member container keeps its files.

    The defaults are the paths of the Patroni image (``IMAGES["patroni"]``, runs as ``postgres``):
    its PostgreSQL 16 binaries, the postgres-owned ``/home/postgres/pgdata`` (the data volume's
    mount, copied up with that owner) and ``/var/lib/postgresql`` (the WAL archive volume's).
    The integration tier renders the same files with every path under a temporary root.
    """

    conf_dir: str = "/etc/patroni"
    """Uploaded patroni.yml, start script, post-bootstrap script and SQL."""
    data_mount: str = "/home/postgres/pgdata"
    """Mount point of the member's data volume."""
    data_dir: str = "/home/postgres/pgdata/data"
    """PostgreSQL data directory (a subdirectory of the volume)."""
    archive_mount: str = "/var/lib/postgresql"
    """Mount point of the shared WAL archive volume."""
    archive_dir: str = "/var/lib/postgresql/archive"
    """WAL archive (a subdirectory the start script creates, owned by the server user)."""
    socket_dir: str = "/tmp"
    """Unix socket directory. Deliberately not libpq's default (/var/run/postgresql): Patroni 3.0
    writes its pgpass line for the socket under the directory's name, which libpq matches only for
    a directory other than its default (Patroni >= 3.1 adds a ``localhost`` line too); with the
    default, the post_bootstrap script finds no password and the bootstrap fails."""
    bin_dir: str = "/usr/lib/postgresql/16/bin"
    pgpass: str = "/tmp/pgpass.patroni"
    """Patroni writes the replication and rewind passwords here (0600) for pg_basebackup/pg_rewind."""
    patroni: str = "patroni"
    """The Patroni executable (found on PATH)."""


PATRONI_CONTAINER = PatroniLayout()


def etcd_peers(prefix: str, count: int = ETCD_MEMBERS) -> list[EtcdPeer]:
    """The etcd members of the stack: ``<prefix>-etcd-1..count`` on the standard ports."""
    return [EtcdPeer(f"{prefix}-etcd-{i}", f"{prefix}-etcd-{i}", ETCD_CLIENT_PORT, ETCD_PEER_PORT)
            for i in range(1, count + 1)]


def bootstrap_sql(verifiers: Mapping[str, str], *, database: str) -> str:
    """SQL the ``post_bootstrap`` script applies once, on the new cluster's first primary: the
    exporter's login (SCRAM verifier, never a password), the application database and the
    roles-as-code bootstrap (components/render/postgres_roles.py, the very SQL RDS gets).
    Patroni itself creates the replication and rewind roles from its ``authentication``."""
    for role in (MONITOR_USER, *LOGINS):
        if not SCRAM_VERIFIER.match(verifiers[role]):
            raise ValueError(f"{role}: not a SCRAM-SHA-256 verifier")
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", database):
        raise ValueError(f"database name {database!r}")
    return "\n".join([
        "-- Rendered by components/docker/postgres.py; run once by Patroni's post_bootstrap.",
        "\\set ON_ERROR_STOP on",
        f"CREATE ROLE {MONITOR_USER} WITH LOGIN PASSWORD '{verifiers[MONITOR_USER]}' IN ROLE pg_monitor;",
        f"CREATE DATABASE {database};",
        f"\\connect {database}",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
    ]) + "\n" + db_roles_sql(verifiers, database=database)


def patroni_start_script(layout: PatroniLayout) -> str:
    """Container command: create the WAL archive directory (the archive volume is shared by the
    members and owned by the server user), then run Patroni in the foreground."""
    q = shlex.quote
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/postgres.py: the archive directory, then Patroni.",
        "set -eu",
        f"mkdir -p {q(layout.archive_dir)}",
        f"chmod 0700 {q(layout.archive_dir)}",
        f"exec {q(layout.patroni)} {q(layout.conf_dir + '/patroni.yml')}",
    ]) + "\n"


def patroni_command(layout: PatroniLayout) -> list[str]:
    """Container command (the image's entrypoint execs anything but ``postgres`` as is)."""
    return ["/bin/sh", f"{layout.conf_dir}/start-patroni.sh"]


def patroni_member_files(settings: PostgresParams, layout: PatroniLayout, *, member: PatroniMember,
                         etcd_hosts: Sequence[str], client_cidrs: Sequence[str], bootstrap: str | None,
                         standby_cluster: StandbyCluster | None = None, psql: str | None = None,
                         timing: PatroniTiming = PatroniTiming(),
                         pg_stat_statements: bool = True) -> dict[str, str]:
    """``{path in container: content}`` of one Patroni member.

    :param bootstrap: :func:`bootstrap_sql` for members of the primary cluster (whichever
        bootstraps it applies it); ``None`` for the standby cluster (it clones, never initdb).
    :param standby_cluster: the DR member: a standby cluster following that endpoint.
    """
    c = layout.conf_dir
    post = None
    files: dict[str, str] = {}
    if bootstrap is not None:
        post = f"/bin/sh {c}/post-bootstrap.sh"
        files[f"{c}/post-bootstrap.sh"] = render_post_bootstrap(psql=psql or f"{layout.bin_dir}/psql",
                                                                sql_file=f"{c}/bootstrap.sql")
        files[f"{c}/bootstrap.sql"] = bootstrap
    files[f"{c}/patroni.yml"] = render_patroni_yml(
        settings, scope=DR_SCOPE if standby_cluster else PATRONI_SCOPE, member=member, etcd_hosts=etcd_hosts,
        paths=PatroniPaths(data_dir=layout.data_dir, bin_dir=layout.bin_dir, pgpass=layout.pgpass,
                           socket_dir=layout.socket_dir, archive_dir=layout.archive_dir, post_bootstrap=post),
        client_cidrs=client_cidrs, auth=PATRONI_AUTH, timing=timing, standby_cluster=standby_cluster,
        pg_stat_statements=pg_stat_statements)
    files[f"{c}/start-patroni.sh"] = patroni_start_script(layout)
    return files


def etcd_files(conf_dir: str, *, member: str, peers: Sequence[EtcdPeer], data_dir: str,
               listen_host: str = "0.0.0.0") -> dict[str, str]:
    """``{path: content}`` of one etcd member."""
    return {f"{conf_dir}/etcd.yml": render_etcd_conf(member=member, peers=peers, data_dir=data_dir,
                                                     listen_host=listen_host)}


def patroni_haproxy_cfg(members: Sequence[PgServer], *, bind_address: str = "0.0.0.0", write_port: int = 5000,
                        read_port: int = 5001, nameservers: Sequence[str] = (DOCKER_DNS,),
                        stats_socket: str | None = None) -> str:
    """haproxy.cfg of the local stack: Patroni's REST API says who leads (``/primary``) and who
    replicates (``/replica``); member names resolved at run time through Docker's DNS."""
    return render_haproxy_cfg(primary=members[0], replicas=members[1:], bind_address=bind_address,
                              write_port=write_port, read_port=read_port, health_check="patroni",
                              check_interval_ms=HAPROXY_CHECK_MS, nameservers=nameservers,
                              stats_socket=stats_socket)
