"""Local PostgreSQL: primary + streaming standby + cascading DR replica, PgBouncer and HAProxy.

Every config file comes from ``components/render/postgres.py``, ``pgbouncer.py`` and ``haproxy.py``
(the same functions the integration tier boots on real servers). The DR replica streams from the
standby (cascading), so on AWS and locally the DR copy survives the standby's promotion.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.haproxy import PgServer, render_haproxy_cfg
from components.render.pgbouncer import PoolingParams, render_pgbouncer_ini, render_userlist
from components.render.postgres import (
    REPLICATION_INCLUDE,
    PostgresParams,
    render_pg_hba_conf,
    render_pgpass,
    render_postgresql_conf,
    scram_sha256_verifier,
    standby_files,
)

CONF_DIR = "/etc/postgresql"
ARCHIVE_DIR = "/var/lib/postgresql/archive"
PGDATA = "/var/lib/postgresql/data/pgdata"
REPLICATION_USER = "replicator"
APP_USER = "app"


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
        s, off = args.settings, args.port_offset
        passwords = {
            user: random.RandomPassword(f"{name}-{user}-password", length=32, special=False,
                                        opts=pulumi.ResourceOptions(parent=self))
            for user in ("postgres", REPLICATION_USER, APP_USER, "haproxy_check")
        }
        archive = volume(f"{name}-wal-archive", parent=self)
        conf = render_postgresql_conf(s, archive_dir=ARCHIVE_DIR,
                                      synchronous_standby="standby" if args.standby else None,
                                      unix_socket_directory="/var/run/postgresql")
        # Replicas must not name a synchronous standby: once promoted they would wait for it forever.
        replica_conf = render_postgresql_conf(s, archive_dir=ARCHIVE_DIR, synchronous_standby=None,
                                              unix_socket_directory="/var/run/postgresql")
        hba = render_pg_hba_conf(client_cidrs=[args.network_cidr], replication_user=REPLICATION_USER,
                                 replication_cidrs=[args.network_cidr])
        roles_sql = pulumi.Output.all(*(passwords[u].result for u in (REPLICATION_USER, APP_USER, "haproxy_check"))) \
            .apply(lambda p: _roles_sql(*p))
        pg_health = Healthcheck(("CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1"))
        self.members: dict[str, str] = {}

        primary = local_container(LocalContainerSpec(
            name=f"{name}-primary",
            image=IMAGES["postgres"],
            healthcheck=pg_health,
            ports={s.port: s.port + off},
            command=["postgres", "-c", f"config_file={CONF_DIR}/postgresql.conf",
                     "-c", f"hba_file={CONF_DIR}/pg_hba.conf"],
            envs={"POSTGRES_PASSWORD": passwords["postgres"].result, "POSTGRES_DB": s.database_name,
                  "PGDATA": PGDATA},
            files={f"{CONF_DIR}/postgresql.conf": conf, f"{CONF_DIR}/pg_hba.conf": hba,
                   "/docker-entrypoint-initdb.d/10-roles.sql": roles_sql},
            volumes={f"{name}-primary-data": "/var/lib/postgresql/data", f"{name}-wal-archive": ARCHIVE_DIR},
        ), args.network, parent=self, depends_on=[archive, volume(f"{name}-primary-data", parent=self)])
        self.members["postgres/primary"] = f"{name}-primary"

        def replica(member: str, role_name: str, upstream: str, upstream_container: docker.Container) \
                -> docker.Container:
            cname = f"{name}-{role_name}"
            files = standby_files(upstream_host=upstream, upstream_port=s.port, replication_user=REPLICATION_USER,
                                  application_name=role_name.replace("-", "_"), passfile="/tmp/.pgpass",
                                  archive_dir=ARCHIVE_DIR)
            pgpass = passwords[REPLICATION_USER].result.apply(
                lambda pw: render_pgpass([("*", s.port, "replication", REPLICATION_USER, pw)]))
            container = local_container(LocalContainerSpec(
                name=cname,
                image=IMAGES["postgres"],
                healthcheck=pg_health,
                command=["/bin/sh", f"{CONF_DIR}/bootstrap-standby.sh"],
                envs={"PGDATA": PGDATA},
                files={f"{CONF_DIR}/postgresql.conf": replica_conf, f"{CONF_DIR}/pg_hba.conf": hba,
                       f"{CONF_DIR}/{REPLICATION_INCLUDE}": files[REPLICATION_INCLUDE],
                       f"{CONF_DIR}/.pgpass": pgpass,
                       f"{CONF_DIR}/bootstrap-standby.sh": _bootstrap_standby(upstream, s.port)},
                volumes={f"{cname}-data": "/var/lib/postgresql/data", f"{name}-wal-archive": ARCHIVE_DIR},
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

        # PgBouncer keeps SCRAM verifiers, never passwords; the salt is random once, then stable.
        salt = random.RandomId(f"{name}-scram-salt", byte_length=16, opts=pulumi.ResourceOptions(parent=self))
        userlist = pulumi.Output.all(passwords[APP_USER].result, salt.hex).apply(
            lambda a: render_userlist({APP_USER: scram_sha256_verifier(a[0], salt=bytes.fromhex(a[1]))}))
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
        ), args.network, parent=self, depends_on=[primary])
        # The stock haproxy image has no psql, so the role check falls back to liveness + static roles
        # (render_haproxy_cfg health_check="pgsql"); after a promotion, re-run `pulumi up`.
        haproxy = local_container(LocalContainerSpec(
            name=f"{name}-haproxy",
            image=IMAGES["haproxy"],
            healthcheck=Healthcheck(("CMD-SHELL", "nc -z 127.0.0.1 5000")),
            ports={5000: 5000 + off, 5001: 5001 + off},
            files={"/usr/local/etc/haproxy/haproxy.cfg": render_haproxy_cfg(
                primary=PgServer("primary", f"{name}-primary", s.port),
                replicas=[PgServer(r.removeprefix(f"{name}-"), r, s.port) for r in readers],
                bind_address="0.0.0.0", health_check="pgsql", check_user="haproxy_check")},
        ), args.network, parent=self, depends_on=[primary])
        self.write_port = 5000 + off
        self.read_port = 5001 + off
        self.pgbouncer_port = 6432 + off
        self.app_password: pulumi.Output[str] = pulumi.Output.secret(passwords[APP_USER].result)
        self.register_outputs({"writePort": self.write_port, "readPort": self.read_port,
                               "pgbouncerPort": self.pgbouncer_port, "members": self.members,
                               "haproxy": haproxy.name, "pgbouncer": pgbouncer.name})


def _roles_sql(replication_pw: str, app_pw: str, check_pw: str) -> str:
    def lit(v: str) -> str:
        return "'" + v.replace("'", "''") + "'"

    return "\n".join([
        f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD {lit(replication_pw)};",
        f"CREATE ROLE {APP_USER} WITH LOGIN PASSWORD {lit(app_pw)};",
        f"CREATE ROLE haproxy_check WITH LOGIN PASSWORD {lit(check_pw)};",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
    ]) + "\n"


def _bootstrap_standby(upstream: str, port: int) -> str:
    """Entrypoint of a replica container: base backup from ``upstream`` once, then run as a standby."""
    q = shlex.quote
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/postgres.py: clone the upstream once, then start as a hot standby.",
        "set -eu",
        f"install -m 0600 -o postgres {CONF_DIR}/.pgpass /tmp/.pgpass",
        f'if [ ! -s "{PGDATA}/PG_VERSION" ]; then',
        f"  mkdir -p {PGDATA} && chown postgres {PGDATA} && chmod 0700 {PGDATA}",
        f"  until gosu postgres env PGPASSFILE=/tmp/.pgpass pg_basebackup -h {q(upstream)} -p {port} "
        f"-U {REPLICATION_USER} -D {PGDATA} -X stream -w; do sleep 2; done",
        "fi",
        # replication.conf sits next to postgresql.conf, which ends with include_if_exists of it.
        f"touch {PGDATA}/standby.signal && chown postgres {PGDATA}/standby.signal",
        f"exec gosu postgres postgres -c config_file={CONF_DIR}/postgresql.conf -c hba_file={CONF_DIR}/pg_hba.conf",
    ]) + "\n"
