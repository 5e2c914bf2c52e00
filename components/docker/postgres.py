"""Local PostgreSQL: primary + streaming standby + cascading DR replica, PgBouncer and HAProxy.

Every config file comes from ``components/render/postgres.py``, ``pgbouncer.py`` and ``haproxy.py``
(the same functions the integration tier boots on real servers). The DR replica streams from the
standby (cascading), so on AWS and locally the DR copy survives the standby's promotion.
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
    render_patroni_yml,
    render_post_bootstrap,
)
from components.render.pgbouncer import PoolingParams, render_pgbouncer_ini, render_userlist
from components.render.postgres import (
    REPLICATION_INCLUDE,
    SCRAM_VERIFIER,
    PostgresParams,
    render_enable_synchronous_sql,
    render_pg_hba_conf,
    render_pgpass,
    render_postgresql_conf,
    scram_sha256_verifier,
    standby_files,
)
from components.render.postgres_roles import LOGINS, RoleModel, psql_set_lines, render_roles_sql

REPLICATION_USER = "replicator"
#: The application's login: member of app_role (DML on the app schema, no DDL); see postgres_roles.
APP_USER = "app_user"
MIGRATION_USER = "migration_user"
READONLY_USER = "readonly_user"
CHECK_USER = "haproxy_check"
#: The metrics exporter's login: member of pg_monitor (statistics and settings, no table data).
MONITOR_USER = "postgres_exporter"
#: Roles created by the primary's init script; each gets a SCRAM verifier, never a plaintext password.
ROLES = (REPLICATION_USER, APP_USER, CHECK_USER, MONITOR_USER, MIGRATION_USER, READONLY_USER)
assert set(LOGINS) <= set(ROLES)


@dataclass(frozen=True)
class PgLayout:
    """Where a PostgreSQL container keeps its files.

    The defaults are the paths of the official ``postgres`` image (``PGDATA`` under the image's
    ``VOLUME /var/lib/postgresql/data``, init scripts in ``/docker-entrypoint-initdb.d``, the
    socket in ``/var/run/postgresql``). The integration tier renders the same scripts with every
    path under a temporary root and runs them on the host's PostgreSQL binaries.
    """

    conf_dir: str = "/etc/postgresql"
    """Uploaded postgresql.conf, pg_hba.conf, replication.conf, scripts."""
    data_mount: str = "/var/lib/postgresql/data"
    """Mount point of the member's data volume."""
    pgdata: str = "/var/lib/postgresql/data/pgdata"
    """Data directory (a subdirectory of the volume, as the image's docs advise)."""
    archive_dir: str = "/var/lib/postgresql/archive"
    """Mount point of the shared WAL archive volume."""
    initdb_dir: str = "/docker-entrypoint-initdb.d"
    """Init scripts the image's entrypoint runs once, on an empty data directory."""
    socket_dir: str = "/var/run/postgresql"
    """Unix socket directory (the image's, and libpq's default)."""
    passfile: str = "/tmp/.pgpass"
    """Private copy of the replication .pgpass (0600, owned by postgres)."""
    user: str = "postgres"
    """The image's server user."""


CONTAINER = PgLayout()


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
    """Run the streaming standby (Multi-AZ on AWS). Default: true."""
    read_replicas: int = 0
    """Read replicas streaming from the primary. Default: 0."""
    dr_replica: bool = True
    """Run the cascading DR replica. Default: true."""
    port_offset: int = 0
    """Added to published ports. Default: 0 (5432, 6432, 5000, 5001)."""


class LocalPostgres(pulumi.ComponentResource):
    """The local PostgreSQL cluster. Outputs: write/read/pgbouncer ports, member container names."""

    def __init__(self, name: str, args: LocalPostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalPostgres", name, None, opts)
        s, off, lay = args.settings, args.port_offset, CONTAINER
        passwords = {
            user: random.RandomPassword(f"{name}-{user}-password", length=32, special=False,
                                        opts=pulumi.ResourceOptions(parent=self))
            for user in ("postgres", *ROLES)
        }
        # SCRAM verifiers are computed here with a salt that is random once, then stable: the same
        # string goes to CREATE ROLE ... PASSWORD and to PgBouncer's userlist (PgBouncer can log in
        # to the server only when both hold the same verifier).
        salt = random.RandomId(f"{name}-scram-salt", byte_length=16, opts=pulumi.ResourceOptions(parent=self))
        verifiers: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            salt.hex, *(passwords[r].result for r in ROLES)).apply(
            lambda a: role_verifiers(dict(zip(ROLES, a[1:], strict=True)), seed=bytes.fromhex(a[0])))
        archive = volume(f"{name}-wal-archive", parent=self)
        hba = render_pg_hba_conf(client_cidrs=[args.network_cidr], replication_user=REPLICATION_USER,
                                 replication_cidrs=[args.network_cidr])
        # Synchronous replication is switched on by the primary's last init script, after first boot
        # (a quorum of the standby and the read replicas streaming from the primary).
        sync_names = (["standby", *(f"replica_{i}" for i in range(1, args.read_replicas + 1))]
                      if args.standby else [])
        pg_health = Healthcheck(PG_HEALTHCHECK)
        self.members: dict[str, str] = {}

        primary_out = verifiers.apply(lambda v: primary_files(
            s, lay, hba=hba, verifiers=v, database=s.database_name, synchronous=sync_names))
        primary = local_container(LocalContainerSpec(
            name=f"{name}-primary",
            image=IMAGES["postgres"],
            healthcheck=pg_health,
            ports={s.port: s.port + off},
            command=primary_command(lay),
            envs=primary_envs(lay, database=s.database_name, superuser_password=passwords["postgres"].result),
            files=_items(primary_out, primary_files(s, lay, hba=hba, verifiers=_PLACEHOLDER_VERIFIERS,
                                                    database=s.database_name, synchronous=sync_names)),
            volumes={f"{name}-primary-data": lay.data_mount, f"{name}-wal-archive": lay.archive_dir},
            memory_mb=PG_MEMORY_MB, shm_size_mb=PG_SHM_MB,
        ), args.network, parent=self, depends_on=[archive, volume(f"{name}-primary-data", parent=self)])
        self.members["postgres/primary"] = f"{name}-primary"

        def replica(member: str, role_name: str, upstream: str, upstream_container: docker.Container) \
                -> docker.Container:
            cname = f"{name}-{role_name}"
            app_name = role_name.replace("-", "_")
            out = passwords[REPLICATION_USER].result.apply(lambda pw: replica_files(
                s, lay, hba=hba, application_name=app_name, upstream_host=upstream, upstream_port=s.port,
                replication_password=pw))
            container = local_container(LocalContainerSpec(
                name=cname,
                image=IMAGES["postgres"],
                healthcheck=pg_health,
                command=replica_command(lay),
                envs=replica_envs(lay),
                files=_items(out, replica_files(s, lay, hba=hba, application_name=app_name, upstream_host=upstream,
                                                upstream_port=s.port, replication_password="x")),
                volumes={f"{cname}-data": lay.data_mount, f"{name}-wal-archive": lay.archive_dir},
                memory_mb=PG_MEMORY_MB, shm_size_mb=PG_SHM_MB,
            ), args.network, parent=self, depends_on=[upstream_container, volume(f"{cname}-data", parent=self)])
            self.members[member] = cname
            return container

        readers: list[str] = []
        standby = None
        if args.standby:
            standby = replica("postgres/standby", "standby", f"{name}-primary", primary)
            readers.append(f"{name}-standby")
        for i in range(1, args.read_replicas + 1):
            replica(f"postgres/replica-{i}", f"replica-{i}", f"{name}-primary", primary)
            readers.append(f"{name}-replica-{i}")
        if args.dr_replica:
            # Cascading: the DR replica streams from the standby when there is one.
            upstream, container = (f"{name}-standby", standby) if standby is not None else (f"{name}-primary", primary)
            replica("postgres/dr-replica", "dr-replica", upstream, container)

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
        # The stock haproxy image has no psql, so the role check falls back to liveness + static roles
        # (render_haproxy_cfg health_check="pgsql"); after a promotion, re-run `pulumi up`.
        haproxy = local_container(LocalContainerSpec(
            name=f"{name}-haproxy",
            image=IMAGES["haproxy"],
            healthcheck=Healthcheck(("CMD-SHELL", "nc -z 127.0.0.1 5000")),
            ports={5000: 5000 + off, 5001: 5001 + off},
            files={"/usr/local/etc/haproxy/haproxy.cfg": haproxy_cfg(
                primary=f"{name}-primary", readers=readers, port=s.port)},
            memory_mb=128,
        ), args.network, parent=self, depends_on=[primary])
        self.write_port = 5000 + off
        self.read_port = 5001 + off
        self.pgbouncer_port = 6432 + off
        self.app_password: pulumi.Output[str] = pulumi.Output.secret(passwords[APP_USER].result)
        self.monitor_password: pulumi.Output[str] = pulumi.Output.secret(passwords[MONITOR_USER].result)
        self.register_outputs({"writePort": self.write_port, "readPort": self.read_port,
                               "pgbouncerPort": self.pgbouncer_port, "members": self.members,
                               "haproxy": haproxy.name, "pgbouncer": pgbouncer.name})


def _items(files: pulumi.Output[dict[str, str]], shape: dict[str, str]) -> dict[str, pulumi.Input[str]]:
    """``{path: content}`` with each content taken from ``files`` (an output; ``shape`` gives the paths)."""
    def pick(path: str) -> pulumi.Output[str]:
        return files.apply(lambda d: d[path])

    return {path: pick(path) for path in shape}


# --------------------------------------------------------------------------------------------
# What each container runs: pure functions of plain values, so the integration tier renders and
# runs exactly these scripts and files (under a temporary PgLayout) on the host's binaries.
# --------------------------------------------------------------------------------------------

#: The members' Docker healthcheck (``pg_isready`` over TCP on the container's loopback).
PG_HEALTHCHECK = ("CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1")
#: Memory limit of a member (shared_buffers is PostgreSQL's default 128 MB) and its /dev/shm
#: (Docker's default 64 MiB is too small for parallel query workers' dynamic shared memory).
PG_MEMORY_MB = 1024
PG_SHM_MB = 256
#: Docker's embedded DNS server, which resolves container names on user-defined networks.
DOCKER_DNS = "127.0.0.11:53"


def role_salt(seed: bytes, role: str) -> bytes:
    """16-byte SCRAM salt of ``role``, derived from one random ``seed`` (distinct per role)."""
    return hashlib.sha256(seed + b"/" + role.encode()).digest()[:16]


def role_verifiers(passwords: Mapping[str, str], *, seed: bytes) -> dict[str, str]:
    """SCRAM-SHA-256 verifier of every role: what the server stores and PgBouncer's userlist holds."""
    return {role: scram_sha256_verifier(pw, salt=role_salt(seed, role)) for role, pw in passwords.items()}


_PLACEHOLDER_VERIFIERS = {r: scram_sha256_verifier("placeholder", salt=b"\0" * 16) for r in ROLES}


def exporter_dsn(host: str, port: int, password: str) -> str:
    """DSN of the PostgreSQL exporter for one member, as the monitoring role."""
    return (f"postgresql://{MONITOR_USER}:{urllib.parse.quote(password, safe='')}@{host}:{port}/postgres"
            "?sslmode=disable")


def server_args(layout: PgLayout) -> list[str]:
    """The server command line every member runs (the image's first-boot temporary server too)."""
    return ["postgres", "-c", f"config_file={layout.conf_dir}/postgresql.conf",
            "-c", f"hba_file={layout.conf_dir}/pg_hba.conf"]


def primary_command(layout: PgLayout) -> list[str]:
    """Container command of the primary (the image's ENTRYPOINT, docker-entrypoint.sh, runs it)."""
    return ["/bin/sh", f"{layout.conf_dir}/start-primary.sh"]


def replica_command(layout: PgLayout) -> list[str]:
    return ["/bin/sh", f"{layout.conf_dir}/bootstrap-standby.sh"]


def _own_archive(layout: PgLayout) -> list[str]:
    # A named volume mounted where the image has no directory is created root-owned: the server
    # (the image's postgres user) could not archive into it. Only PGDATA is chowned by the image.
    a, u = shlex.quote(layout.archive_dir), shlex.quote(layout.user)
    return [f"mkdir -p {a}", f"chown {u}:{u} {a}", f"chmod 0700 {a}"]


def primary_envs(layout: PgLayout, *, database: str,
                 superuser_password: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Environment of the primary: the image's first-boot inputs and the data directory."""
    return {"POSTGRES_PASSWORD": superuser_password, "POSTGRES_DB": database, "PGDATA": layout.pgdata}


def replica_envs(layout: PgLayout) -> dict[str, pulumi.Input[str]]:
    return {"PGDATA": layout.pgdata}


def primary_start_script(layout: PgLayout) -> str:
    """Runs as root: give the WAL archive to postgres, then hand over to the image's entrypoint,
    which runs initdb and the init scripts on an empty data directory and then the server."""
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/postgres.py: own the WAL archive, then the image's first-boot path.",
        "set -eu",
        *_own_archive(layout),
        "exec docker-entrypoint.sh " + " ".join(shlex.quote(a) for a in server_args(layout)),
    ]) + "\n"


def init_roles_sql(verifiers: Mapping[str, str], *, database: str) -> str:
    """First init script of the primary: the service logins (replication, HAProxy check, exporter)
    with SCRAM verifiers (never a plaintext password) and pg_stat_statements. The application
    logins come from :func:`db_roles_sql`; no login owns the database (the image's superuser does)."""
    for role in ROLES:
        if not SCRAM_VERIFIER.match(verifiers[role]):
            raise ValueError(f"{role}: not a SCRAM-SHA-256 verifier")

    def lit(v: str) -> str:
        return "'" + v.replace("'", "''") + "'"

    return "\n".join([
        "-- Rendered by components/docker/postgres.py; run once by the image's entrypoint on first boot.",
        f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD {lit(verifiers[REPLICATION_USER])};",
        f"CREATE ROLE {CHECK_USER} WITH LOGIN PASSWORD {lit(verifiers[CHECK_USER])};",
        f"CREATE ROLE {MONITOR_USER} WITH LOGIN PASSWORD {lit(verifiers[MONITOR_USER])} IN ROLE pg_monitor;",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
    ]) + "\n"


def db_roles_sql(verifiers: Mapping[str, str], *, database: str) -> str:
    """Second init script: the roles-as-code bootstrap (components/render/postgres_roles.py, the
    very SQL RDS gets), its password variables set to the logins' SCRAM verifiers."""
    return (psql_set_lines({login: verifiers[login] for login in LOGINS})
            + render_roles_sql(RoleModel(database=database)))


def member_conf(settings: PostgresParams, layout: PgLayout, *, listen_addresses: str = "*") -> str:
    """postgresql.conf of every member. None names a synchronous standby: the primary's init turns
    synchronous replication on (postgresql.auto.conf), and a promoted replica must not wait."""
    return render_postgresql_conf(settings, listen_addresses=listen_addresses, archive_dir=layout.archive_dir,
                                  synchronous_standby=None, unix_socket_directory=layout.socket_dir)


def primary_files(settings: PostgresParams, layout: PgLayout, *, hba: str, verifiers: Mapping[str, str],
                  database: str, synchronous: Sequence[str], listen_addresses: str = "*") -> dict[str, str]:
    """``{path in container: content}`` uploaded into the primary."""
    files = {
        f"{layout.conf_dir}/postgresql.conf": member_conf(settings, layout, listen_addresses=listen_addresses),
        f"{layout.conf_dir}/pg_hba.conf": hba,
        f"{layout.conf_dir}/start-primary.sh": primary_start_script(layout),
        f"{layout.initdb_dir}/10-roles.sql": init_roles_sql(verifiers, database=database),
        f"{layout.initdb_dir}/20-db-roles.sql": db_roles_sql(verifiers, database=database),
    }
    if synchronous:
        # Last init script: the value applies from the real start on, never to the init itself.
        files[f"{layout.initdb_dir}/90-synchronous.sql"] = render_enable_synchronous_sql(synchronous)
    return files


def bootstrap_standby_script(layout: PgLayout, *, upstream: str, port: int) -> str:
    """Command of a replica container (runs as root): on an empty volume only, clone ``upstream``
    into a new directory, drop the primary's synchronous setting, mark it a standby, move it in
    place; then (every start) run the server. A promoted member has no standby.signal and stays
    primary across restarts."""
    q = shlex.quote
    pgdata, new = q(layout.pgdata), q(layout.pgdata + ".new")
    gosu = f"gosu {q(layout.user)}"
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/postgres.py: clone the upstream once, then start the server.",
        "set -eu",
        *_own_archive(layout),
        f"install -m 0600 -o {q(layout.user)} {q(layout.conf_dir + '/.pgpass')} {q(layout.passfile)}",
        f'if [ ! -s {pgdata}/PG_VERSION ]; then',
        f"  chown {q(layout.user)} {q(layout.data_mount)}",
        f"  rm -rf {new}",
        f"  until {gosu} env PGPASSFILE={q(layout.passfile)} pg_basebackup -h {q(upstream)} -p {int(port)} "
        f"-U {REPLICATION_USER} -D {new} -X stream -w; do rm -rf {new}; sleep 2; done",
        "  # postgresql.auto.conf came with the base backup: a standby names no synchronous standby.",
        f"  {gosu} sed -i '/^synchronous_standby_names/d' {new}/postgresql.auto.conf",
        "  # First bootstrap only: promotion removes standby.signal, and a restart must not demote.",
        f"  {gosu} touch {new}/standby.signal",
        f"  if [ -d {pgdata} ]; then rmdir {pgdata}; fi",
        f"  mv {new} {pgdata}",
        "fi",
        "exec " + gosu + " " + " ".join(q(a) for a in server_args(layout)),
    ]) + "\n"


def replica_files(settings: PostgresParams, layout: PgLayout, *, hba: str, application_name: str,
                  upstream_host: str, upstream_port: int, replication_password: str,
                  listen_addresses: str = "*") -> dict[str, str]:
    """``{path in container: content}`` uploaded into a standby / read replica / DR replica."""
    files = standby_files(upstream_host=upstream_host, upstream_port=upstream_port, replication_user=REPLICATION_USER,
                          application_name=application_name, passfile=layout.passfile,
                          archive_dir=layout.archive_dir)
    return {
        f"{layout.conf_dir}/postgresql.conf": member_conf(settings, layout, listen_addresses=listen_addresses),
        f"{layout.conf_dir}/pg_hba.conf": hba,
        f"{layout.conf_dir}/{REPLICATION_INCLUDE}": files[REPLICATION_INCLUDE],
        f"{layout.conf_dir}/.pgpass": render_pgpass([("*", "*", "replication", REPLICATION_USER,
                                                      replication_password)]),
        f"{layout.conf_dir}/bootstrap-standby.sh": bootstrap_standby_script(
            layout, upstream=upstream_host, port=upstream_port),
    }


def pgbouncer_userlist(verifiers: Mapping[str, str]) -> str:
    """PgBouncer's auth_file: the application role's verifier, the very string the server stores."""
    return render_userlist({APP_USER: verifiers[APP_USER]})


def haproxy_cfg(*, primary: str, readers: Sequence[str], port: int, bind_address: str = "0.0.0.0",
                write_port: int = 5000, read_port: int = 5001, nameservers: Sequence[str] = (DOCKER_DNS,)) -> str:
    """haproxy.cfg of the local stack: liveness checks (the image has no psql), member names
    resolved at run time through Docker's DNS, so HAProxy starts before the replicas exist and
    survives one that is gone."""
    return render_haproxy_cfg(
        primary=PgServer("primary", primary, port),
        replicas=[PgServer(r.split("-", 1)[1] if "-" in r else r, r, port) for r in readers],
        bind_address=bind_address, write_port=write_port, read_port=read_port, health_check="pgsql",
        check_user=CHECK_USER, nameservers=nameservers)


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
PATRONI_AUTH = PatroniAuth(superuser="postgres", replication=REPLICATION_USER, rewind=REWIND_USER)
#: The members' Docker healthcheck: Patroni's GET /health answers 200 while PostgreSQL runs.
PATRONI_HEALTHCHECK = ("CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{PATRONI_API_PORT}/health")
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
    socket_dir: str = "/var/run/postgresql"
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
