"""Render ``haproxy.cfg`` (write/read endpoints in front of PostgreSQL) and its role-check script.

Pure functions. The seeds publish a write port (5000) that reaches the primary and a read port
(5001) that spreads over the replicas.

How a server's role is checked (``health_check``):

``"role"`` (default)
    An ``external-check`` script (:func:`render_pg_role_check`) runs ``psql -c 'SELECT
    pg_is_in_recovery()'`` as an unprivileged check role with a SCRAM password from a ``.pgpass``
    file. The write backend lists every member, the designated primary first and the others as
    ``backup``; a server is UP only while it is *not* in recovery, so after a standby is promoted
    the write port follows it without touching HAProxy. The read backend lists the standbys with
    the "standby" check; the primary is a ``backup`` that ``track``\\ s the write backend's view of
    it, so reads fall back to the primary only when no standby is up. This works against plain
    servers; its only requirement is ``psql`` next to HAProxy (the Debian package
    ``postgresql-client``; the stock haproxy Docker image lacks it).

    HAProxy's built-in ``option pgsql-check`` cannot do this: it sends a startup packet and counts
    any authentication request as healthy, so a standby looks like a primary. ``tcp-check``
    cannot answer a SCRAM exchange either, and an HTTP role endpoint (Patroni's) does not exist on
    plain servers.

``"pgsql"``
    ``option pgsql-check`` (liveness only) and static roles: the write backend holds only the
    designated primary. Use where ``psql`` is not available; a promotion then needs a re-render.

``"patroni"``
    HTTP checks against each member's Patroni REST API (``PgServer.api_port``): the write backend
    lists every member and passes the one whose ``GET /primary`` answers 200 (the leader, and
    only while it holds the leader lock); the read backend passes those whose ``GET /replica``
    answers 200 (running replicas), with every member as a ``backup`` that ``track``\\ s its
    write-backend server, so reads fall back to the leader only when no replica is up. Patroni,
    not HAProxy, decides who leads; HAProxy follows within ``check_interval_ms * rise``, and
    ``on-marked-down shutdown-sessions`` cuts the sessions of a member that stops leading, so no
    client keeps writing to a demoted (or fenced) primary.

Fencing the old primary is outside HAProxy's reach: ``on-marked-down shutdown-sessions`` cuts
sessions to a member that stops being primary, but a failover manager must stop a split brain.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

HealthCheck = Literal["role", "pgsql", "patroni"]


@dataclass(frozen=True)
class PgServer:
    """One PostgreSQL member as HAProxy sees it."""

    name: str
    """Server name in HAProxy (letters, digits, ``_ . -``)."""
    host: str
    port: int
    api_port: int | None = None
    """Patroni REST API port (``health_check="patroni"``). Default: none."""


def render_haproxy_cfg(
    *,
    primary: PgServer,
    replicas: Sequence[PgServer],
    bind_address: str = "127.0.0.1",
    write_port: int = 5000,
    read_port: int = 5001,
    health_check: HealthCheck = "role",
    primary_check_command: str | None = None,
    standby_check_command: str | None = None,
    check_user: str = "haproxy_check",
    check_interval_ms: int = 1000,
    fall: int = 2,
    rise: int = 1,
    maxconn: int = 2000,
    client_timeout: str = "30m",
    server_timeout: str = "30m",
    stats_socket: str | None = None,
    nameservers: Sequence[str] = (),
) -> str:
    """Render ``haproxy.cfg`` with a write frontend and a read frontend (TCP mode).

    :param primary: the designated primary.
    :param replicas: the standby and read/DR replicas (the read pool).
    :param bind_address: address both frontends bind. Default: 127.0.0.1.
    :param write_port: write endpoint. Default: 5000 (the seeds').
    :param read_port: read endpoint. Default: 5001 (the seeds').
    :param health_check: ``role`` (external psql check, follows promotions), ``pgsql``
        (liveness only) or ``patroni`` (Patroni's REST API decides); see the module docstring.
    :param primary_check_command: path of the script from ``render_pg_role_check("primary")``;
        required for ``role``.
    :param standby_check_command: path of the script from ``render_pg_role_check("standby")``;
        required for ``role``.
    :param check_user: role used by ``pgsql-check`` (``pgsql`` mode).
    :param check_interval_ms: interval between checks. Default: 1000.
    :param fall: failed checks before a server is DOWN. Default: 2.
    :param rise: passed checks before a server is UP. Default: 1.
    :param maxconn: global connection cap. Default: 2000 (PgBouncer's max_client_conn).
    :param client_timeout: idle client timeout. Default: 30m (long transactions, pool idling).
    :param server_timeout: idle server timeout. Default: 30m.
    :param stats_socket: path of an operator-level admin socket (``show stat``). Default: none.
    :param nameservers: ``address:port`` of DNS servers to resolve the server host names with at
        run time (Docker's embedded DNS is ``127.0.0.11:53``). With them, every server gets
        ``init-addr last,libc,none``: HAProxy starts even when a member's name does not resolve
        yet (it stays down until it does) and follows a member whose address changes, instead of
        refusing to start. Default: none (names resolved once, at start).
    """
    servers = [primary, *replicas]
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ValueError(f"server names must be unique: {names}")
    for s in servers:
        if not _SERVER_NAME.match(s.name) or not 1 <= s.port <= 65535:
            raise ValueError(f"bad server {s}")
    if write_port == read_port:
        raise ValueError("write_port and read_port must differ")
    if health_check == "role" and not (primary_check_command and standby_check_command):
        raise ValueError("health_check 'role' needs primary_check_command and standby_check_command")
    if not replicas:
        raise ValueError("at least one replica for the read pool")
    if health_check == "patroni" and any(s.api_port is None or not 1 <= s.api_port <= 65535 for s in servers):
        raise ValueError("health_check 'patroni' needs every server's api_port")

    for ns in nameservers:
        if not re.match(r"^[A-Za-z0-9.:\[\]-]+:\d{1,5}$", ns):
            raise ValueError(f"nameserver {ns!r} is not address:port")
    check = f"check inter {check_interval_ms} fall {fall} rise {rise}"
    g = ["global", f"    maxconn {maxconn}", "    log stderr format raw daemon notice"]
    if health_check == "role":
        g += ["    external-check", "    insecure-fork-wanted"]
    if stats_socket:
        g.append(f"    stats socket {_path(stats_socket)} mode 600 level operator")
    d = ["defaults", "    mode tcp", "    log global", "    option tcplog", "    option dontlognull",
         "    retries 2", "    timeout connect 5s", f"    timeout client {client_timeout}",
         f"    timeout server {server_timeout}", "    timeout check 5s",
         "    default-server on-marked-down shutdown-sessions"
         + (" resolvers dns init-addr last,libc,none resolve-prefer ipv4" if nameservers else "")]
    r = []
    if nameservers:
        r = ["resolvers dns", *(f"    nameserver ns{i} {ns}" for i, ns in enumerate(nameservers, 1)),
             "    resolve_retries 3", "    timeout resolve 1s", "    timeout retry 1s",
             "    hold valid 10s", "    hold nx 5s", "    hold other 5s", "    hold obsolete 10s", ""]
    out = [
        "# haproxy.cfg rendered by components/render/haproxy.py. Do not edit: re-render.",
        (f"# write :{write_port} -> the Patroni leader (GET /primary); read :{read_port} -> replicas"
         " (GET /replica), leader as backup" if health_check == "patroni" else
         f"# write :{write_port} -> the member that is not in recovery; read :{read_port} -> standbys,"
         " primary as backup"),
        *g, "", *r, *d, "",
        "frontend pg_write", f"    bind {bind_address}:{write_port}",
        "    default_backend pg_write_backend", "",
        "frontend pg_read", f"    bind {bind_address}:{read_port}",
        "    default_backend pg_read_backend", "",
    ]
    wb = ["backend pg_write_backend", "    balance first"]
    rb = ["backend pg_read_backend", "    balance leastconn"]
    if health_check == "role":
        assert primary_check_command and standby_check_command
        wb += ["    option external-check", f"    external-check command {_path(primary_check_command)}",
               '    external-check path "/usr/bin:/bin"']
        wb.append(f"    server {primary.name} {primary.host}:{primary.port} {check}")
        wb += [f"    server {r.name} {r.host}:{r.port} {check} backup" for r in replicas]
        rb += ["    option external-check", f"    external-check command {_path(standby_check_command)}",
               '    external-check path "/usr/bin:/bin"']
        rb += [f"    server {r.name} {r.host}:{r.port} {check}" for r in replicas]
        rb.append(f"    server {primary.name} {primary.host}:{primary.port} backup track "
                  f"pg_write_backend/{primary.name}")
    elif health_check == "patroni":
        def http(uri: str) -> list[str]:
            return ["    option httpchk", f"    http-check send meth GET uri {uri}", "    http-check expect status 200"]

        wb += http("/primary")
        wb += [f"    server {s.name} {s.host}:{s.port} {check} port {s.api_port}" for s in servers]
        rb += http("/replica")
        rb += [f"    server {s.name} {s.host}:{s.port} {check} port {s.api_port}" for s in servers]
        rb += [f"    server {s.name}-leader {s.host}:{s.port} backup track pg_write_backend/{s.name}"
               for s in servers]
    else:
        wb += [f"    option pgsql-check user {check_user}",
               f"    server {primary.name} {primary.host}:{primary.port} {check}"]
        rb += [f"    option pgsql-check user {check_user}"]
        rb += [f"    server {r.name} {r.host}:{r.port} {check}" for r in replicas]
        rb.append(f"    server {primary.name} {primary.host}:{primary.port} {check} backup")
    out += [*wb, "", *rb]
    return "\n".join(out) + "\n"


def render_pg_role_check(
    role: Literal["primary", "standby"],
    *,
    psql: str = "psql",
    user: str = "haproxy_check",
    dbname: str = "postgres",
    passfile: str,
    timeout_seconds: int = 2,
) -> str:
    """Render the ``external-check`` script: exit 0 when the server has ``role``.

    HAProxy runs it as ``<script> <proxy addr> <proxy port> <server addr> <server port>``.

    :param role: ``primary`` passes when ``pg_is_in_recovery()`` is false, ``standby`` when true.
    :param psql: psql binary (absolute path, or found on ``external-check path``).
    :param user: unprivileged login role (needs only CONNECT on ``dbname``).
    :param dbname: database to connect to. Default: postgres.
    :param passfile: ``.pgpass`` with the check role's password (mode 0600).
    :param timeout_seconds: connect timeout. Default: 2 (below HAProxy's ``timeout check``).
    """
    want = "f" if role == "primary" else "t"
    q = shlex.quote
    return "\n".join([
        "#!/bin/sh",
        f"# HAProxy external check rendered by components/render/haproxy.py: passes on a {role}.",
        "# args: <proxy addr> <proxy port> <server addr> <server port>",
        f"got=$(PGPASSFILE={q(passfile)} PGCONNECT_TIMEOUT={int(timeout_seconds)} {q(psql)} -X -A -t -w -q "
        f"-h \"$3\" -p \"$4\" -U {q(user)} -d {q(dbname)} -c 'SELECT pg_is_in_recovery()' 2>/dev/null)"
        " || exit 1",
        f'[ "$got" = "{want}" ]',
    ]) + "\n"


def _path(p: str) -> str:
    if any(c.isspace() for c in p) or '"' in p:
        raise ValueError(f"path {p!r}: no whitespace or quotes")
    return p
