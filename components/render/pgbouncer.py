"""Render PgBouncer's ``pgbouncer.ini`` and ``userlist.txt`` (its ``auth_file``).

Pure functions. ``pgbouncer.ini`` is INI, written with :mod:`configparser` so that keys and values
are emitted by one writer, never by string concatenation.

Authentication end to end without a plaintext password in any file: the userlist carries SCRAM
secrets (:func:`components.render.postgres.scram_sha256_verifier`) identical to the ones in
``pg_authid``; PgBouncer (>= 1.14) verifies the client with it and reuses the client's SCRAM keys
to log in to the server.

Clients in ``transaction`` pool mode must not use named prepared statements on PgBouncer < 1.21
(Debian 12 ships 1.18): psycopg 3 needs ``prepare_threshold=None``.
"""

from __future__ import annotations

import configparser
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from components.render.postgres import SCRAM_VERIFIER, conninfo_quote

_MD5 = re.compile(r"^md5[0-9a-f]{32}$")
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PoolingParams(Protocol):
    """What :func:`render_pgbouncer_ini` reads from the stack's pooling settings.

    Read-only properties, so the frozen ``infra.settings.PoolingSettings`` satisfies it
    structurally; components never import ``infra``.
    """

    @property
    def pool_mode(self) -> str:
        """``pool_mode``: transaction, session or statement."""
        ...

    @property
    def default_pool_size(self) -> int:
        """``default_pool_size``: server connections per user/database pair."""
        ...

    @property
    def max_client_connections(self) -> int:
        """``max_client_conn``: client connections PgBouncer accepts."""
        ...


@dataclass(frozen=True)
class ClientTls:
    """TLS between clients and PgBouncer."""

    cert_file: str
    key_file: str
    sslmode: str = "require"
    """``client_tls_sslmode``: require (default) or verify-full with a CA."""


def render_pgbouncer_ini(
    pooling: PoolingParams,
    *,
    databases: Mapping[str, str] | Sequence[str],
    write_host: str,
    write_port: int,
    auth_file: str,
    listen_addr: str = "127.0.0.1",
    listen_port: int = 6432,
    admin_users: Sequence[str] = (),
    stats_users: Sequence[str] = (),
    reserve_pool_size: int = 5,
    max_db_connections: int | None = None,
    server_tls_sslmode: str = "prefer",
    client_tls: ClientTls | None = None,
    pidfile: str | None = None,
    logfile: str | None = None,
) -> str:
    """Render ``pgbouncer.ini``.

    :param pooling: ``pool_mode``, ``default_pool_size`` and ``max_client_conn`` come from here.
    :param databases: client-visible database names, each mapped to the same name on the server,
        or ``{client name: server dbname}``.
    :param write_host: the write endpoint (HAProxy's write port on the local stack, the RDS
        writer endpoint on AWS): PgBouncer follows a failover because the endpoint does.
    :param write_port: port of the write endpoint.
    :param auth_file: path of the userlist (:func:`render_userlist`).
    :param listen_addr: address to listen on. Default: 127.0.0.1.
    :param listen_port: port. Default: 6432 (the seeds').
    :param admin_users: users allowed on the ``pgbouncer`` admin console.
    :param stats_users: users allowed read-only SHOW commands.
    :param reserve_pool_size: extra server connections when a pool waits > 5 s. Default: 5.
    :param max_db_connections: cap of server connections per database (keep below the server's
        ``max_connections``). Default: no cap.
    :param server_tls_sslmode: TLS towards the server. Default: prefer (require on AWS).
    :param client_tls: TLS towards clients. Default: none.
    :param pidfile: pid file. Default: none (foreground under a supervisor).
    :param logfile: log file. Default: none (stderr).
    """
    mapping = dict(databases) if isinstance(databases, Mapping) else {d: d for d in databases}
    if not mapping:
        raise ValueError("at least one database")
    if not 1 <= write_port <= 65535 or not 1 <= listen_port <= 65535:
        raise ValueError("ports must be 1..65535")
    cp = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    cp["databases"] = {
        _db(name): " ".join(f"{k}={conninfo_quote(v)}" for k, v in
                            (("host", write_host), ("port", str(write_port)), ("dbname", _db(server_db))))
        for name, server_db in mapping.items()
    }
    section: dict[str, str] = {
        "listen_addr": listen_addr,
        "listen_port": str(listen_port),
        "unix_socket_dir": "",  # TCP only: no socket in a shared /tmp
        "auth_type": "scram-sha-256",
        "auth_file": auth_file,
        "pool_mode": pooling.pool_mode,
        "default_pool_size": str(pooling.default_pool_size),
        "reserve_pool_size": str(reserve_pool_size),
        "reserve_pool_timeout": "5",
        "max_client_conn": str(pooling.max_client_connections),
        "max_db_connections": str(max_db_connections or 0),
        "server_reset_query": "DISCARD ALL",
        "server_check_delay": "10",
        "server_lifetime": "3600",
        "server_idle_timeout": "600",
        "server_connect_timeout": "5",
        "server_login_retry": "1",
        "query_wait_timeout": "120",
        "ignore_startup_parameters": "extra_float_digits",
        "server_tls_sslmode": server_tls_sslmode,
        "log_connections": "1",
        "log_disconnections": "1",
        "log_pooler_errors": "1",
        "stats_period": "60",
    }
    if admin_users:
        section["admin_users"] = ",".join(admin_users)
    if stats_users:
        section["stats_users"] = ",".join(stats_users)
    if client_tls is not None:
        section.update({
            "client_tls_sslmode": client_tls.sslmode,
            "client_tls_cert_file": client_tls.cert_file,
            "client_tls_key_file": client_tls.key_file,
            "client_tls_protocols": "tlsv1.2,tlsv1.3",
        })
    if pidfile:
        section["pidfile"] = pidfile
    if logfile:
        section["logfile"] = logfile
    for key, value in section.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: line breaks are not allowed")
    cp["pgbouncer"] = section
    out = io.StringIO()
    out.write("; pgbouncer.ini rendered by components/render/pgbouncer.py. Do not edit: re-render.\n")
    cp.write(out)
    return out.getvalue().rstrip("\n") + "\n"


def render_userlist(users: Mapping[str, str]) -> str:
    """Render PgBouncer's ``auth_file`` from ``{user: secret}``.

    A secret is a SCRAM-SHA-256 verifier (preferred) or an ``md5...`` hash; a plaintext password
    is refused, so it cannot end up in the file by mistake. Lines are sorted by user.
    """
    lines = []
    for user, secret in sorted(users.items()):
        if not (SCRAM_VERIFIER.match(secret) or _MD5.match(secret)):
            raise ValueError(f"user {user!r}: give a SCRAM-SHA-256 verifier or md5 hash, not a password")
        if not user or any(c in user for c in '\n\r\0'):
            raise ValueError(f"bad user name {user!r}")
        lines.append(f'"{user.replace(chr(34), chr(34) * 2)}" "{secret}"')
    return "\n".join(lines) + "\n"


def _db(name: str) -> str:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r}: lower-case letters, digits and _")
    return name
