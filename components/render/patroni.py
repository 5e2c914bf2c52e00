"""Render ``patroni.yml``: one Patroni member of a PostgreSQL cluster kept by an etcd (v3 API) DCS.

Pure function; the YAML is ``yaml.safe_dump`` of plain data, never a string template. The same
file is uploaded into the local stack's containers and booted by the integration tier on the
host's Debian ``patroni`` (``tests/integration/patroni_servers.py``), so it must be valid for
Patroni 3.0 (Debian 12) and 4.x (the container image): it uses no key either of them rejects
(no ``bootstrap.users``, removed in 4.0; roles come from the ``post_bootstrap`` script).

What each member's file says:

* ``bootstrap.dcs``: the cluster-wide settings the first member writes to etcd: the failover
  timing (:class:`PatroniTiming`), ``synchronous_mode`` (a commit returns only once the
  synchronous standby has it, and only that standby may be promoted, so an acknowledged write
  survives a failover), ``use_pg_rewind`` (a failed leader rejoins as a replica by rewinding
  instead of being re-cloned) and the project's ``postgresql.conf`` settings as ``parameters``
  (:func:`components.render.postgres.postgresql_parameters`, the very values the plain servers
  get), minus the few Patroni owns (``listen_addresses``, ``port``, ``synchronous_standby_names``).
* ``postgresql.pg_hba``: :func:`components.render.postgres.render_pg_hba_conf`'s rows, SCRAM
  only, no ``trust``.
* ``postgresql.authentication``: the superuser, replication and rewind *user names*; their
  passwords come from the environment (``PATRONI_SUPERUSER_PASSWORD``, ...; see
  :func:`patroni_password_env`) so that no file holds a plaintext password.
* ``restapi.authentication``: the REST API's user name (password from the environment too): the
  endpoints that change the cluster (switchover, failover, restart, reinitialize, config) need it;
  the health endpoints HAProxy reads (``GET /primary``, ``/replica``, ``/health``) stay open.
* ``tags.nosync``: a read replica is never chosen as the synchronous standby, so the roles stay
  "primary, one synchronous standby, asynchronous replicas" as on AWS.

A DR member renders with ``standby_cluster``: it is the leader of its *own* Patroni cluster
(another ``scope``), a "standby leader" that streams from the primary cluster's write endpoint
(HAProxy), so it follows that cluster across failovers, as a cross-region replica follows RDS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from components.render.postgres import (
    ConfValue,
    PostgresParams,
    postgresql_parameters,
    render_pg_hba_conf,
    restore_command,
)

#: Parameters Patroni sets itself (from ``postgresql.listen`` and ``synchronous_mode``); a value
#: in ``parameters`` would be ignored or fight Patroni.
PATRONI_OWNED = ("listen_addresses", "port", "synchronous_standby_names")
#: Parameters that differ per member (paths): local ``postgresql.parameters``, not the DCS.
LOCAL_PARAMETERS = ("unix_socket_directories",)

_MEMBER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SCOPE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class PatroniTiming:
    """How fast a dead leader is replaced, and what that costs. Written to ``bootstrap.dcs``.

    * ``ttl``: seconds the leader lock lives without a refresh. A leader whose Patroni is killed
      keeps the lock until it expires, so ``ttl`` is the floor of an unplanned failover's time.
      Shorter means faster failover but a leader that stalls (GC pause, I/O stall, a slow etcd)
      for ``ttl`` seconds loses the lock and is demoted: more spurious failovers. Patroni >= 3.2
      raises any ``ttl`` below 20 to 20, so 20 is the shortest a current Patroni honours.
    * ``loop_wait``: seconds between two runs of the HA loop; the lock is refreshed once per run,
      so it expires ``ttl - loop_wait`` to ``ttl`` seconds after the leader died. 1 s costs one
      small etcd write per member per second and detects a crashed postmaster within a second.
    * ``retry_timeout``: seconds a member retries etcd and PostgreSQL before giving up; the
      leader demotes itself when etcd stays unreachable that long. Patroni requires
      ``loop_wait + 2 * retry_timeout <= ttl``; a longer timeout rides out a longer etcd
      election (one lost etcd member costs ~1 s of election) without demoting the leader.
    """

    ttl: int = 20
    loop_wait: int = 1
    retry_timeout: int = 9
    maximum_lag_on_failover: int = 1024 * 1024
    """Bytes a replica may lag and still be promoted (the synchronous standby lags 0)."""
    ttl_floor: int = 20
    """The smallest ``ttl`` accepted: 20, what Patroni >= 3.2 enforces. Only a measurement on an
    older Patroni (Debian 12's 3.0) may lower it, to show what a shorter lock would buy."""

    def __post_init__(self) -> None:
        if self.ttl < self.ttl_floor:
            raise ValueError("ttl below 20 s is raised to 20 by Patroni >= 3.2: give 20 or more")
        if self.loop_wait < 1 or self.retry_timeout < 3:
            raise ValueError("loop_wait >= 1 and retry_timeout >= 3 (Patroni's minimums)")
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError("Patroni requires loop_wait + 2 * retry_timeout <= ttl")


@dataclass(frozen=True)
class PatroniAuth:
    """Role names Patroni uses. Passwords are never rendered: see :func:`patroni_password_env`."""

    superuser: str = "postgres"
    replication: str = "replicator"
    rewind: str = "rewind_user"
    restapi: str = "patroni"
    """Basic-auth user of the REST API's unsafe endpoints (patronictl switchover, ...)."""


@dataclass(frozen=True)
class StandbyCluster:
    """Where a standby cluster's leader streams from (the primary cluster's write endpoint)."""

    host: str
    port: int
    archive_dir: str | None = None
    """WAL archive to restore from when the upstream no longer has a segment. Default: none."""


@dataclass(frozen=True)
class PatroniMember:
    """One member: its name in the DCS and the addresses it listens on and is reached at."""

    name: str
    """Member name (lower-case letters, digits, ``_``): also its ``application_name``."""
    connect_host: str
    """Host other members, HAProxy and etcd-registered clients reach it at."""
    pg_port: int
    api_port: int
    listen_host: str = "0.0.0.0"
    """Address PostgreSQL and the REST API bind. Default: every interface (containers)."""
    nosync: bool = False
    """Never the synchronous standby (a read replica). Default: false."""


@dataclass(frozen=True)
class PatroniPaths:
    """Where the member keeps its files."""

    data_dir: str
    bin_dir: str
    pgpass: str
    """File Patroni writes the replication/rewind passwords to (its own, 0600)."""
    socket_dir: str
    archive_dir: str | None
    """WAL archive directory (``archive_command``); ``None``: no archiving."""
    post_bootstrap: str | None = None
    """Script run once after the cluster's initdb (creates the application roles)."""


#: Environment variables Patroni reads the passwords of its three roles from.
PASSWORD_ENV = {"superuser": "PATRONI_SUPERUSER_PASSWORD", "replication": "PATRONI_REPLICATION_PASSWORD",
                "rewind": "PATRONI_REWIND_PASSWORD", "restapi": "PATRONI_RESTAPI_PASSWORD"}


_Value = TypeVar("_Value")


def patroni_password_env(*, superuser: _Value, replication: _Value, rewind: _Value,
                         restapi: _Value) -> dict[str, _Value]:
    """The environment that gives Patroni (and patronictl) its passwords (names from ``PatroniAuth``
    in the file); the values are strings, or a program's outputs."""
    return {PASSWORD_ENV["superuser"]: superuser, PASSWORD_ENV["replication"]: replication,
            PASSWORD_ENV["rewind"]: rewind, PASSWORD_ENV["restapi"]: restapi}


def dcs_parameters(settings: PostgresParams, *, archive_dir: str | None,
                   pg_stat_statements: bool = True) -> dict[str, str | int]:
    """The project's postgresql.conf settings as Patroni ``parameters`` (booleans as on/off)."""
    params = postgresql_parameters(settings, archive_dir=archive_dir, pg_stat_statements=pg_stat_statements)
    return {k: _patroni_value(v) for k, v in params.items() if k not in (*PATRONI_OWNED, *LOCAL_PARAMETERS)}


def _patroni_value(v: ConfValue) -> str | int:
    if isinstance(v, bool):
        return "on" if v else "off"
    return v


def render_patroni_yml(
    settings: PostgresParams,
    *,
    scope: str,
    member: PatroniMember,
    etcd_hosts: Sequence[str],
    paths: PatroniPaths,
    client_cidrs: Sequence[str],
    auth: PatroniAuth = PatroniAuth(),
    timing: PatroniTiming = PatroniTiming(),
    standby_cluster: StandbyCluster | None = None,
    pg_stat_statements: bool = True,
    namespace: str = "/data-platform/",
) -> str:
    """Render one member's ``patroni.yml``.

    :param settings: ``max_connections`` (and the port default) come from here.
    :param scope: cluster name in the DCS; every member of one cluster shares it. A standby
        cluster has its own.
    :param member: name and addresses of this member.
    :param etcd_hosts: ``host:port`` of every etcd member (client URLs).
    :param paths: data directory, binaries, pgpass, socket, archive, post-bootstrap script.
    :param client_cidrs: networks clients, the other members and HAProxy connect from (pg_hba).
    :param auth: role names of the superuser, replication and rewind users and the REST API's user.
    :param timing: ``ttl``/``loop_wait``/``retry_timeout`` (see :class:`PatroniTiming`).
    :param standby_cluster: makes this a standby cluster following that endpoint (the DR member).
    :param pg_stat_statements: preload pg_stat_statements (off where the module is missing).
    :param namespace: DCS key prefix. Default: ``/data-platform/``.
    """
    if not _MEMBER.match(member.name):
        raise ValueError(f"member name {member.name!r}: lower-case letters, digits and _")
    if not _SCOPE.match(scope):
        raise ValueError(f"scope {scope!r}: lower-case letters, digits and -")
    if not etcd_hosts:
        raise ValueError("at least one etcd host")
    for h in etcd_hosts:
        if not re.match(r"^[A-Za-z0-9.-]+:\d{1,5}$", h):
            raise ValueError(f"etcd host {h!r} is not host:port")
    for port in (member.pg_port, member.api_port):
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is not a TCP port")
    hba_text = render_pg_hba_conf(client_cidrs=client_cidrs, replication_user=auth.replication,
                                  replication_cidrs=client_cidrs)
    pg_hba = [line for line in hba_text.splitlines() if line and not line.startswith("#")]
    dcs: dict[str, Any] = {
        "ttl": timing.ttl,
        "loop_wait": timing.loop_wait,
        "retry_timeout": timing.retry_timeout,
        "maximum_lag_on_failover": timing.maximum_lag_on_failover,
        "synchronous_mode": standby_cluster is None,
        # Not strict: with no synchronous standby left (the others down or tagged nosync), the
        # leader keeps taking writes unconfirmed rather than stopping them, as RDS Multi-AZ does
        # while its standby is rebuilt; Patroni then promotes no one that was not synchronous.
        "synchronous_mode_strict": False,
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": dcs_parameters(settings, archive_dir=paths.archive_dir,
                                         pg_stat_statements=pg_stat_statements),
        },
    }
    if standby_cluster is not None:
        sc: dict[str, Any] = {"host": standby_cluster.host, "port": standby_cluster.port,
                              "create_replica_methods": ["basebackup"]}
        if standby_cluster.archive_dir:
            sc["restore_command"] = restore_command(standby_cluster.archive_dir)
        dcs["standby_cluster"] = sc
    bootstrap: dict[str, Any] = {"dcs": dcs, "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"]}
    if paths.post_bootstrap:
        bootstrap["post_bootstrap"] = paths.post_bootstrap
    local_params: dict[str, str | int] = {"unix_socket_directories": paths.socket_dir}
    doc: dict[str, Any] = {
        "scope": scope,
        "namespace": namespace,
        "name": member.name,
        "restapi": {"listen": f"{member.listen_host}:{member.api_port}",
                    "connect_address": f"{member.connect_host}:{member.api_port}",
                    "authentication": {"username": auth.restapi}},
        "etcd3": {"hosts": list(etcd_hosts)},
        "bootstrap": bootstrap,
        "postgresql": {
            "listen": f"{member.listen_host}:{member.pg_port}",
            "connect_address": f"{member.connect_host}:{member.pg_port}",
            "data_dir": paths.data_dir,
            "bin_dir": paths.bin_dir,
            "pgpass": paths.pgpass,
            "use_unix_socket": True,
            "authentication": {"superuser": {"username": auth.superuser},
                               "replication": {"username": auth.replication},
                               "rewind": {"username": auth.rewind}},
            "parameters": local_params,
            "pg_hba": pg_hba,
            "create_replica_methods": ["basebackup"],
            "basebackup": [{"checkpoint": "fast"}],
        },
        "tags": {"nofailover": False, "noloadbalance": False,
                 "clonefrom": False, "nosync": member.nosync},
    }
    header = (f"# patroni.yml of {member.name} (cluster {scope}), rendered by components/render/patroni.py."
              " Do not edit: re-render.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def render_post_bootstrap(*, psql: str, sql_file: str) -> str:
    """The ``post_bootstrap`` script: apply ``sql_file`` once, on the new cluster's primary.

    Patroni runs it with the superuser's connection string as ``$1`` (and ``PGPASSFILE`` set).
    """
    for p in (psql, sql_file):
        if any(c.isspace() for c in p) or "'" in p or '"' in p:
            raise ValueError(f"path {p!r}: no whitespace or quotes")
    return "\n".join([
        "#!/bin/sh",
        "# post_bootstrap of components/render/patroni.py: the roles, once, after initdb.",
        "set -eu",
        f'exec {psql} -X -q -v ON_ERROR_STOP=1 -d "$1" -f {sql_file}',
    ]) + "\n"
