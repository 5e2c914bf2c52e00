"""Render PostgreSQL server files: ``postgresql.conf``, ``pg_hba.conf``, recovery files, ``.pgpass``.

Pure functions: typed settings in, file text out; no I/O, no clock, no randomness (the SCRAM salt
is an argument). The same text is mounted into the local Docker containers and booted by the
integration tier (``tests/integration``), so every line here has been run by a real server.

Works on PostgreSQL 15, 16 and 17: every parameter rendered exists since PostgreSQL 13
(``wal_keep_size``) or 12 (``restore_command`` as a GUC, ``standby.signal``). Debian 12 ships 15;
the seeds ask for 16.

Layout of a data directory built from these files::

    postgresql.conf      render_postgresql_conf(...); ends with include_if_exists 'replication.conf'
    pg_hba.conf          render_pg_hba_conf(...)
    replication.conf     standby_files(...) / pitr_files(...)  (never named recovery.conf: PostgreSQL
                         >= 12 refuses to start when a file of that name exists)
    standby.signal       standby_files(...)   -> streaming replica (hot standby)
    recovery.signal      pitr_files(...)      -> archive recovery to a point in time, then promote
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

#: File the rendered postgresql.conf includes last, so replica/recovery settings override it.
REPLICATION_INCLUDE = "replication.conf"
#: SCRAM iteration count PostgreSQL itself uses (``scram_iterations`` default).
SCRAM_ITERATIONS = 4096

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ConfValue = str | int | bool


class PostgresParams(Protocol):
    """What :func:`render_postgresql_conf` reads from the stack's PostgreSQL settings.

    Read-only properties, so any object with these attributes satisfies it structurally (the
    frozen ``infra.settings.PostgresSettings`` does); components never import ``infra``.
    """

    @property
    def port(self) -> int:
        """Listener port."""
        ...

    @property
    def max_connections(self) -> int:
        """Server ``max_connections``."""
        ...


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate files, as paths readable by the server process."""

    cert_file: str
    """PEM certificate (chain) presented to clients."""
    key_file: str
    """PEM private key (mode 0600, owned by the server user)."""
    ca_file: str | None = None
    """CA bundle used to verify client certificates. Default: none (no client certificates)."""


# --------------------------------------------------------------------------------------------
# Value formatting
# --------------------------------------------------------------------------------------------


def conf_quote(value: str) -> str:
    """Quote a string for postgresql.conf: single quotes, embedded quotes doubled."""
    _no_newline(value)
    return "'" + value.replace("'", "''") + "'"


def _conf_value(value: ConfValue) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return conf_quote(value)


def _conf_lines(params: Mapping[str, ConfValue]) -> list[str]:
    return [f"{key} = {_conf_value(value)}" for key, value in params.items()]


def conninfo_quote(value: str) -> str:
    """Quote a libpq connection-string value: single quotes, backslash-escaped ``'`` and ``\\``."""
    _no_newline(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _no_newline(value: str) -> None:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"line breaks are not allowed in a config value: {value!r}")


def _role_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"name {name!r}: lower-case letters, digits and _, starting with a letter")
    return name


# --------------------------------------------------------------------------------------------
# postgresql.conf
# --------------------------------------------------------------------------------------------


def postgresql_parameters(
    settings: PostgresParams,
    *,
    listen_addresses: str = "*",
    port: int | None = None,
    archive_dir: str | None,
    synchronous_standby: str | None = None,
    cluster_name: str = "data-platform",
    unix_socket_directory: str = "/var/run/postgresql",
    tls: TlsFiles | None = None,
    pg_stat_statements: bool = True,
    wal_keep_size_mb: int = 1024,
    max_wal_senders: int = 10,
    max_replication_slots: int = 10,
    archive_timeout_seconds: int = 60,
    log_min_duration_ms: int = 500,
) -> dict[str, ConfValue]:
    """The parameters of ``postgresql.conf`` for any member, in file order: ``{name: value}``.

    :func:`render_postgresql_conf` writes them as the file; the Patroni renderer
    (``components/render/patroni.py``) hands the same values to Patroni as ``parameters``.

    Members differ only by ``synchronous_standby`` (primary) and by the ``replication.conf`` their
    data directory carries (:func:`standby_files`, :func:`pitr_files`), so a promoted standby
    keeps a valid configuration.

    :param settings: ``port`` and ``max_connections`` come from here.
    :param listen_addresses: interfaces to listen on. Default ``*`` (containers); the local stack
        and the tests pass ``127.0.0.1``.
    :param port: listener port. Default: ``settings.port``.
    :param archive_dir: directory WAL segments are copied to (``archive_mode on``; the base of
        PITR). ``None`` turns archiving off, which leaves the member without PITR; pass it
        explicitly.
    :param synchronous_standby: ``application_name`` of the synchronous standby (Multi-AZ);
        renders ``synchronous_standby_names = 'FIRST 1 ("name")'``. Set it on the primary only:
        a standby promoted with its own name here would wait forever for itself.
    :param cluster_name: shown in process titles and in the log prefix.
    :param unix_socket_directory: where the Unix socket goes. Default: the Debian location.
    :param tls: certificate files; turns ``ssl`` on (TLS 1.2 minimum). Default: off.
    :param pg_stat_statements: preload ``pg_stat_statements``. The server refuses to start when
        the library is missing, so turn it off where the contrib module is not installed.
    :param wal_keep_size_mb: WAL kept for standbys that have no slot. Default: 1 GiB.
    :param max_wal_senders: concurrent WAL senders (replicas + base backups). Default: 10.
    :param max_replication_slots: physical slots. Default: 10.
    :param archive_timeout_seconds: force a segment switch at least this often, so the RPO of
        PITR from the archive is bounded even when the primary is idle. Default: 60.
    :param log_min_duration_ms: log statements slower than this. Default: 500 ms.
    """
    port = settings.port if port is None else port
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not a TCP port")
    params: dict[str, ConfValue] = {
        "listen_addresses": listen_addresses,
        "port": port,
        "max_connections": settings.max_connections,
        "unix_socket_directories": unix_socket_directory,
        "cluster_name": cluster_name,
        # authentication
        "password_encryption": "scram-sha-256",
        "ssl": tls is not None,
    }
    if tls is not None:
        params.update({"ssl_cert_file": tls.cert_file, "ssl_key_file": tls.key_file,
                       "ssl_min_protocol_version": "TLSv1.2"})
        if tls.ca_file:
            params["ssl_ca_file"] = tls.ca_file
    params.update({
        # replication
        "wal_level": "replica",
        "max_wal_senders": max_wal_senders,
        "max_replication_slots": max_replication_slots,
        "wal_keep_size": f"{wal_keep_size_mb}MB",
        "hot_standby": True,
        "hot_standby_feedback": True,
        "synchronous_commit": "on",
        "synchronous_standby_names": f'FIRST 1 ("{synchronous_standby}")' if synchronous_standby else "",
        "wal_log_hints": True,  # lets pg_rewind turn a failed primary into a standby
        # archiving (PITR)
        "archive_mode": archive_dir is not None,
    })
    if synchronous_standby is not None and not re.match(r"^[A-Za-z0-9_.-]{1,63}$", synchronous_standby):
        raise ValueError(f"synchronous_standby {synchronous_standby!r}: letters, digits, _ . - only")
    if archive_dir is not None:
        params["archive_command"] = archive_command(archive_dir)
        params["archive_timeout"] = archive_timeout_seconds
    if pg_stat_statements:
        params["shared_preload_libraries"] = "pg_stat_statements"
        params["pg_stat_statements.track"] = "top"
    params.update({
        # logging: stderr, collected by the container runtime / the test harness
        "log_destination": "stderr",
        "logging_collector": False,
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "log_min_duration_statement": log_min_duration_ms,
        "log_connections": True,
        "log_disconnections": True,
        "log_checkpoints": True,
        "log_lock_waits": True,
        "log_temp_files": 0,
        "log_replication_commands": True,
        "log_autovacuum_min_duration": 10000,
        "track_io_timing": True,
    })
    return params


def render_postgresql_conf(
    settings: PostgresParams,
    *,
    archive_dir: str | None,
    synchronous_standby: str | None = None,
    cluster_name: str = "data-platform",
    **kw: Any,
) -> str:
    """Render ``postgresql.conf`` for any member (primary, standby, replica, DR replica).

    Members differ only by ``synchronous_standby`` (primary) and by the ``replication.conf`` their
    data directory carries (:func:`standby_files`, :func:`pitr_files`), so a promoted standby
    keeps a valid configuration. The parameters and their keywords are
    :func:`postgresql_parameters`'s.
    """
    params = postgresql_parameters(settings, archive_dir=archive_dir, synchronous_standby=synchronous_standby,
                                   cluster_name=cluster_name, **kw)
    header = [
        "# postgresql.conf rendered by components/render/postgres.py. Do not edit: re-render.",
        f"# cluster {cluster_name}; synchronous standby: {synchronous_standby or 'none'}",
    ]
    footer = ["", "# standby / point-in-time recovery settings of this member (standby_files, pitr_files)",
              f"include_if_exists = {conf_quote(REPLICATION_INCLUDE)}"]
    return "\n".join([*header, *_conf_lines(params), *footer]) + "\n"


def archive_command(archive_dir: str) -> str:
    """``archive_command`` copying a segment into ``archive_dir``, never overwriting one.

    Refusing to overwrite matters: a second primary (e.g. a restored copy) archiving into the same
    directory must fail loudly instead of corrupting the archive.
    """
    d = shlex.quote(archive_dir.rstrip("/") or "/")
    return f"test ! -f {d}/%f && cp %p {d}/%f"


def restore_command(archive_dir: str) -> str:
    """``restore_command`` reading segments back from ``archive_dir``."""
    d = shlex.quote(archive_dir.rstrip("/") or "/")
    return f"cp {d}/%f %p"


# --------------------------------------------------------------------------------------------
# pg_hba.conf
# --------------------------------------------------------------------------------------------


def render_pg_hba_conf(
    *,
    client_cidrs: Sequence[str],
    replication_user: str,
    replication_cidrs: Sequence[str],
    tls: bool = False,
    databases: Sequence[str] = ("all",),
) -> str:
    """Render ``pg_hba.conf``: SCRAM-SHA-256 for every connection, no ``trust`` anywhere.

    Bootstrapping needs no ``trust`` line either: ``initdb --pwfile ... --auth=scram-sha-256``
    gives the superuser a SCRAM password before the server first starts, and the harness (and
    the container entrypoint) connect with it.

    :param client_cidrs: networks clients (PgBouncer, HAProxy, applications) connect from.
    :param replication_user: role allowed to stream WAL and take base backups.
    :param replication_cidrs: networks standbys connect from (the primary, the standby and the DR
        replica all carry the entries, so any member can be promoted or cascaded from).
    :param tls: ``hostssl`` instead of ``host``, and an explicit ``reject`` for plaintext TCP.
    :param databases: databases clients may connect to. Default: all.
    """
    _role_name(replication_user)
    for db in databases:
        if db != "all":
            _role_name(db)
    host = "hostssl" if tls else "host"
    rows: list[tuple[str, str, str, str, str]] = [
        ("local", "all", "all", "", "scram-sha-256"),
        ("local", "replication", replication_user, "", "scram-sha-256"),
    ]
    for cidr in _cidrs(replication_cidrs):
        rows.append((host, "replication", replication_user, cidr, "scram-sha-256"))
    for cidr in _cidrs(client_cidrs):
        rows.append((host, ",".join(databases), "all", cidr, "scram-sha-256"))
    if tls:
        rows.append(("hostnossl", "all", "all", "0.0.0.0/0", "reject"))
        rows.append(("hostnossl", "all", "all", "::/0", "reject"))
    lines = ["# pg_hba.conf rendered by components/render/postgres.py. First match wins; no trust.",
             _hba_row(("# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"))]
    lines += [_hba_row(r) for r in rows]
    return "\n".join(lines) + "\n"


def _hba_row(row: tuple[str, str, str, str, str]) -> str:
    return f"{row[0]:<10} {row[1]:<12} {row[2]:<16} {row[3]:<20} {row[4]}".rstrip()


def _cidrs(cidrs: Sequence[str]) -> list[str]:
    out = []
    for c in cidrs:
        try:
            out.append(str(ipaddress.ip_network(c, strict=True)))
        except ValueError:
            raise ValueError(f"{c!r} is not a network such as 10.40.0.0/16 or 127.0.0.1/32") from None
    return out


# --------------------------------------------------------------------------------------------
# Standby and point-in-time recovery
# --------------------------------------------------------------------------------------------


def primary_conninfo(*, host: str, port: int, user: str, application_name: str,
                     passfile: str | None = None, sslmode: str = "prefer") -> str:
    """libpq connection string a standby streams from. The password comes from ``passfile``."""
    parts = {"host": host, "port": str(port), "user": user, "application_name": application_name,
             "sslmode": sslmode, "connect_timeout": "5"}
    if passfile:
        parts["passfile"] = passfile
    return " ".join(f"{k}={conninfo_quote(v)}" for k, v in parts.items())


def standby_files(
    *,
    upstream_host: str,
    upstream_port: int,
    replication_user: str,
    application_name: str,
    passfile: str | None = None,
    slot_name: str | None = None,
    archive_dir: str | None = None,
    sslmode: str = "prefer",
) -> dict[str, str]:
    """Files that turn a base backup into a streaming hot standby: ``{file name: text}``.

    :param upstream_host: the member to stream from: the primary, or a standby for a cascading
        replica (the DR replica streams from the standby, so only one copy of the WAL crosses
        regions and it survives the promotion of that standby).
    :param application_name: the name ``synchronous_standby_names`` and ``pg_stat_replication``
        know this member by.
    :param passfile: ``.pgpass`` holding the replication password (never in the conninfo).
    :param slot_name: physical replication slot on the upstream (keeps WAL until consumed).
    :param archive_dir: WAL archive to fall back to when the upstream no longer has a segment.
    """
    params: dict[str, ConfValue] = {
        "primary_conninfo": primary_conninfo(host=upstream_host, port=upstream_port, user=replication_user,
                                             application_name=application_name, passfile=passfile,
                                             sslmode=sslmode),
        "recovery_target_timeline": "latest",
    }
    if slot_name:
        params["primary_slot_name"] = _role_name(slot_name)
    if archive_dir:
        params["restore_command"] = restore_command(archive_dir)
    text = "\n".join([f"# standby of {upstream_host}:{upstream_port} as {application_name}",
                      *_conf_lines(params)]) + "\n"
    return {"standby.signal": "", REPLICATION_INCLUDE: text}


def pitr_files(*, archive_dir: str, target_time: datetime,
               action: Literal["promote", "pause", "shutdown"] = "promote") -> dict[str, str]:
    """Files that restore a base backup to ``target_time`` from the WAL archive: ``{name: text}``.

    Recovery replays every transaction committed at or before ``target_time`` and stops before
    the first commit after it, then ``action`` (default: promote to a new timeline).

    :param target_time: timezone-aware instant (a naive datetime would be read in the server's
        zone, which is how restores silently land on the wrong hour).
    """
    if target_time.tzinfo is None or target_time.utcoffset() is None:
        raise ValueError("target_time must be timezone-aware")
    params: dict[str, ConfValue] = {
        "restore_command": restore_command(archive_dir),
        "recovery_target_time": target_time.isoformat(sep=" "),
        "recovery_target_inclusive": True,
        "recovery_target_action": action,
    }
    text = "\n".join([f"# point-in-time recovery to {target_time.isoformat()}", *_conf_lines(params)]) + "\n"
    return {"recovery.signal": "", REPLICATION_INCLUDE: text}


def render_pgpass(entries: Sequence[tuple[str, int | str, str, str, str]]) -> str:
    """Render a ``.pgpass`` file from ``(host, port, database, user, password)`` rows.

    The file must be mode 0600; libpq ignores it otherwise. ``*`` is a wildcard field.
    """
    def esc(v: str) -> str:
        _no_newline(v)
        return v if v == "*" else v.replace("\\", "\\\\").replace(":", "\\:")

    return "".join(":".join(esc(str(f)) for f in row) + "\n" for row in entries)


# --------------------------------------------------------------------------------------------
# SCRAM-SHA-256 verifiers (RFC 5802 / 7677), as stored in pg_authid and PgBouncer's auth_file
# --------------------------------------------------------------------------------------------


def scram_sha256_verifier(password: str, *, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 secret PostgreSQL stores for ``password``.

    ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64). The same string is
    given to ``CREATE/ALTER ROLE ... PASSWORD`` (PostgreSQL stores a pre-hashed secret as is) and
    written to PgBouncer's ``auth_file``: identical secrets are what let PgBouncer log in to the
    server with the client's SCRAM keys, so no plaintext password exists in any file.

    :param salt: random bytes (16 recommended), chosen by the caller so this stays pure.
    :param iterations: PBKDF2 rounds. Default: 4096, PostgreSQL's own.

    PostgreSQL applies SASLprep to non-ASCII passwords; this function does not, so pass ASCII.
    """
    if not password.isascii():
        raise ValueError("use an ASCII password (SASLprep is not applied)")
    if len(salt) < 8 or iterations < 4096:
        raise ValueError("salt of >= 8 bytes and >= 4096 iterations")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


SCRAM_VERIFIER = re.compile(r"^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$")
