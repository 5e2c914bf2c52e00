"""Render ``redis.conf`` for a cluster node and the ``users.acl`` file it loads.

Pure functions; the output works on Redis 7.0+ and Valkey 7.2/8 (Debian 12 ships Redis 7.0.15).

ACL users (``default`` is off, so every connection authenticates):

``app_user``
    Read/write on the application's keys (``~app:*`` by default) and channels, plus exactly the
    cluster commands a cluster client needs (``CLUSTER SLOTS/SHARDS/NODES/INFO/MYID/KEYSLOT``,
    ``READONLY``, ``READWRITE``, ``ASKING``); everything ``@dangerous`` and ``@admin`` stays off.
``readonly_user``
    ``@read`` on the same keys plus the same cluster commands; no ``@write``.
``cluster_admin``
    Everything (``redis-cli --cluster create``, resharding, CONFIG); for operators only.
``replicator``
    ``PSYNC``/``REPLCONF``/``PING`` only: the user a replica logs in to its primary with
    (``masteruser``/``masterauth``). ``masterauth`` is the one plaintext secret ``redis.conf`` has to
    carry, so it belongs to a user that can do nothing but replicate. Write the file mode 0600.
``monitor_user`` (only when ``monitor_password`` is given)
    What redis_exporter (oliver006, 1.45 in Debian 12) runs on every scrape, nothing more:
    ``INFO``, ``CLUSTER INFO``, ``SLOWLOG LEN``, ``LATENCY LATEST`` (:data:`MONITOR_COMMANDS`) plus
    the ``@connection`` basics (``AUTH``/``HELLO``/``PING``/``CLIENT SETNAME``); no keys, no channels.
    ``readonly_user`` cannot serve the exporter: ``INFO`` is ``@dangerous`` in Redis 7, so every
    scrape fails with NOPERM and ``redis_up`` is 0. Withheld on purpose, although the exporter asks
    for them: ``CONFIG GET`` (``CONFIG GET masterauth`` returns the replicator's plaintext password,
    and the replicator can ``PSYNC`` the whole dataset; Redis 7.0 cannot allow ``CONFIG GET`` for
    single parameters) and ``SLOWLOG GET`` (entries carry command arguments, i.e. application
    data). Every metric the alert catalogue uses comes from ``INFO``; run the exporter with
    ``--config-command=-`` so it does not ask for ``CONFIG`` at all.

Passwords appear in ``users.acl`` only as ``#<sha256 hex>``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+=,-]+$")
_USER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_:.*{}\-]+$")

#: Cluster introspection and routing commands a cluster client (redis-py, Lettuce, ioredis) needs.
CLUSTER_CLIENT_COMMANDS: tuple[str, ...] = (
    "cluster|slots", "cluster|shards", "cluster|nodes", "cluster|info", "cluster|myid", "cluster|keyslot",
    "readonly", "readwrite", "asking",
)

#: Commands redis_exporter needs beyond ``@connection`` (see ``monitor_user`` above).
MONITOR_COMMANDS: tuple[str, ...] = ("info", "cluster|info", "slowlog|len", "latency|latest")

#: The seeds' RDB snapshot points: (seconds, changes).
DEFAULT_SAVE: tuple[tuple[int, int], ...] = ((3600, 1), (300, 100), (60, 10000))

#: The seeds' ``cluster-node-timeout``. ``infra.topology.REDIS_CLUSTER_NODE_TIMEOUT_MS`` carries the
#: same number for the topology; tests/unit/test_render_local.py asserts the two are equal.
DEFAULT_CLUSTER_NODE_TIMEOUT_MS = 5000


class RedisParams(Protocol):
    """What :func:`render_redis_conf` reads from the stack's Redis settings.

    Read-only properties, so the frozen ``infra.settings.RedisSettings`` satisfies it structurally;
    components never import ``infra``.
    """

    @property
    def port(self) -> int:
        """Client port (the cluster bus is port + 10000)."""
        ...

    @property
    def maxmemory_policy(self) -> str:
        """``maxmemory-policy``."""
        ...


@dataclass(frozen=True)
class RedisTls:
    """TLS files for client, replication and cluster-bus traffic."""

    cert_file: str
    key_file: str
    ca_file: str


def redis_quote(value: str) -> str:
    """Quote a value for redis.conf (``sdssplitargs`` rules): bare when safe, else double-quoted."""
    if any(c in value for c in "\n\r\0"):
        raise ValueError("line breaks are not allowed in a redis.conf value")
    if value and _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_redis_conf(
    settings: RedisParams,
    *,
    data_dir: str,
    aclfile: str,
    maxmemory_bytes: int,
    replication_user: str = "replicator",
    replication_password: str,
    bind: str = "127.0.0.1",
    port: int | None = None,
    cluster_node_timeout_ms: int = DEFAULT_CLUSTER_NODE_TIMEOUT_MS,
    cluster_config_file: str = "nodes.conf",
    save: Sequence[tuple[int, int]] = DEFAULT_SAVE,
    tls: RedisTls | None = None,
    announce_ip: str | None = None,
    logfile: str = "",
) -> str:
    """Render ``redis.conf`` for one cluster node (primary or replica: roles are assigned by the
    cluster, so every node gets the same file apart from its port).

    :param settings: ``port`` and ``maxmemory_policy`` come from here (the seeds: allkeys-lru).
    :param data_dir: ``dir``: where ``nodes.conf``, the RDB file and the AOF directory live.
    :param aclfile: path of the file rendered by :func:`render_users_acl`.
    :param maxmemory_bytes: memory cap. Keep ~25 % of the host's memory free for fork (RDB/AOF
        rewrite) copy-on-write and replication buffers.
    :param replication_user: ``masteruser``: the ACL user replicas authenticate with.
    :param replication_password: ``masterauth`` (plaintext: Redis offers no other way).
    :param bind: listen address. Default: 127.0.0.1; ``protected-mode`` stays on.
    :param port: port. Default: ``settings.port``; the cluster bus is port + 10000.
    :param cluster_node_timeout_ms: failure-detection timeout. Default: the seeds' 5000.
    :param cluster_config_file: cluster state file name, relative to ``data_dir``.
    :param save: RDB snapshot points ``(seconds, changes)``; empty disables RDB.
    :param tls: serve TLS only (``port 0``, ``tls-port``) for clients, replication and cluster bus.
    :param announce_ip: address announced to the cluster (containers behind NAT). Default: none.
    :param logfile: log file; empty = stdout.
    """
    port = settings.port if port is None else port
    if not 1 <= port <= 55535:
        raise ValueError(f"port {port}: 1..55535 (the cluster bus uses port + 10000)")
    if maxmemory_bytes < 1024 * 1024:
        raise ValueError("maxmemory_bytes: at least 1 MiB")
    if cluster_node_timeout_ms < 1000:
        raise ValueError("cluster_node_timeout_ms: at least 1000")
    lines: list[tuple[str, str]] = [
        ("bind", bind),
        ("protected-mode", "yes"),
    ]
    if tls is None:
        lines.append(("port", str(port)))
    else:
        lines += [("port", "0"), ("tls-port", str(port)), ("tls-cert-file", tls.cert_file),
                  ("tls-key-file", tls.key_file), ("tls-ca-cert-file", tls.ca_file),
                  ("tls-auth-clients", "optional"), ("tls-replication", "yes"), ("tls-cluster", "yes"),
                  ("tls-protocols", "TLSv1.2 TLSv1.3")]
    lines += [
        ("tcp-backlog", "511"),
        ("timeout", "0"),
        ("tcp-keepalive", "300"),
        ("daemonize", "no"),
        ("loglevel", "notice"),
        ("logfile", logfile),
        ("dir", data_dir),
        # cluster
        ("cluster-enabled", "yes"),
        ("cluster-config-file", cluster_config_file),
        ("cluster-node-timeout", str(cluster_node_timeout_ms)),
        ("cluster-require-full-coverage", "yes"),
        ("cluster-replica-validity-factor", "10"),
        ("cluster-migration-barrier", "1"),
        ("cluster-allow-reads-when-down", "no"),
    ]
    if announce_ip:
        lines.append(("cluster-announce-ip", announce_ip))
    lines += [
        # security
        ("aclfile", aclfile),
        ("masteruser", _user(replication_user)),
        ("masterauth", replication_password),
        # memory
        ("maxmemory", str(maxmemory_bytes)),
        ("maxmemory-policy", settings.maxmemory_policy),
        # persistence: RDB snapshots + AOF
        ("dbfilename", "dump.rdb"),
        ("rdbcompression", "yes"),
        ("rdbchecksum", "yes"),
        ("stop-writes-on-bgsave-error", "yes"),
    ]
    if save:
        lines += [("save", f"{seconds} {changes}") for seconds, changes in save]
    else:
        lines.append(("save", ""))
    lines += [
        ("appendonly", "yes"),
        ("appendfilename", "appendonly.aof"),
        ("appendfsync", "everysec"),
        ("no-appendfsync-on-rewrite", "no"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "64mb"),
        ("aof-use-rdb-preamble", "yes"),
        # replication
        ("replica-serve-stale-data", "yes"),
        ("replica-read-only", "yes"),
        ("repl-diskless-sync", "yes"),
        ("repl-backlog-size", "64mb"),
        # observability
        ("slowlog-log-slower-than", "10000"),
        ("slowlog-max-len", "128"),
        ("latency-monitor-threshold", "100"),
    ]
    header = ["# redis.conf rendered by components/render/redis.py. Do not edit: re-render.",
              "# Contains masterauth: keep it mode 0600."]
    body = [f"{k} {_save_value(v) if k == 'save' else redis_quote(v)}" for k, v in lines]
    return "\n".join([*header, *body]) + "\n"


def _save_value(v: str) -> str:
    """``save`` takes two bare numbers (``save 300 100``) or ``""`` to disable RDB."""
    return '""' if v == "" else v


def acl_password_hash(password: str) -> str:
    """``#<sha256 hex>``: how users.acl stores a password."""
    if not password:
        raise ValueError("empty password")
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def render_users_acl(
    *,
    app_password: str,
    readonly_password: str,
    admin_password: str,
    replication_password: str,
    app_user: str = "app_user",
    readonly_user: str = "readonly_user",
    admin_user: str = "cluster_admin",
    replication_user: str = "replicator",
    key_patterns: Sequence[str] = ("app:*",),
    monitor_password: str | None = None,
    monitor_user: str = "monitor_user",
) -> str:
    """Render ``users.acl`` (the ``aclfile``); ACL files take no comments, so this has none.

    :param app_password: password of ``app_user`` (stored as SHA-256).
    :param readonly_password: password of ``readonly_user``.
    :param admin_password: password of ``cluster_admin`` (cluster creation, operations).
    :param replication_password: password of ``replicator`` (the ``masterauth`` of redis.conf).
    :param key_patterns: glob patterns of the application's keys; channels get the same patterns.
        Default: ``app:*``. Use hash tags inside them (``app:{user42}:cart``) for multi-key commands.
    :param monitor_password: password of ``monitor_user``, the metrics exporter's login.
        Default: None (no monitoring user is rendered).
    :param monitor_user: name of the monitoring user. Default: ``monitor_user``.
    """
    names = [app_user, readonly_user, admin_user, replication_user]
    if monitor_password is not None:
        names.append(monitor_user)
    for name in names:
        _user(name)
    if len({*names, "default"}) != len(names) + 1:
        raise ValueError("user names must be distinct and not 'default'")
    if not key_patterns:
        raise ValueError("at least one key pattern")
    for p in key_patterns:
        if not _KEY_PATTERN.match(p):
            raise ValueError(f"key pattern {p!r}: letters, digits and _ : . * {{ }} -")
    keys = " ".join(f"~{p}" for p in key_patterns)
    channels = " ".join(f"&{p}" for p in key_patterns)
    cluster = " ".join(f"+{c}" for c in CLUSTER_CLIENT_COMMANDS)
    rows = [
        "user default off resetpass resetkeys resetchannels -@all",
        f"user {admin_user} on {acl_password_hash(admin_password)} ~* &* +@all",
        f"user {app_user} on {acl_password_hash(app_password)} resetkeys {keys} resetchannels {channels} "
        f"-@all +@read +@write +@transaction +@scripting +@pubsub +@connection -@dangerous -@admin {cluster}",
        f"user {readonly_user} on {acl_password_hash(readonly_password)} resetkeys {keys} resetchannels "
        f"-@all +@read +@connection -@dangerous -@admin {cluster}",
        f"user {replication_user} on {acl_password_hash(replication_password)} resetkeys resetchannels "
        "-@all +psync +replconf +ping",
    ]
    if monitor_password is not None:
        monitor = " ".join(f"+{c}" for c in MONITOR_COMMANDS)
        rows.append(f"user {monitor_user} on {acl_password_hash(monitor_password)} resetkeys resetchannels "
                    f"-@all +@connection -@dangerous -@admin {monitor}")
    return "\n".join(rows) + "\n"


def _user(name: str) -> str:
    if not _USER.match(name):
        raise ValueError(f"ACL user {name!r}: lower-case letters, digits and _")
    return name
