"""Render an etcd member's configuration file (``etcd --config-file``) for a static cluster.

Pure function; the YAML is ``yaml.safe_dump`` of plain data. Keys are etcd's command-line flag
names, which etcd 3.4 (Debian 12's ``etcd-server``) and 3.5/3.6 (the container image) read from a
config file alike. Patroni keeps its leader lock here (v3 API, the ``etcd3`` DCS): with three
members, one can be lost without the DCS (and so the PostgreSQL leader) noticing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class EtcdPeer:
    """One member of the etcd cluster."""

    name: str
    host: str
    """Host the other members and the clients reach it at."""
    client_port: int = 2379
    peer_port: int = 2380

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"


def render_etcd_conf(
    *,
    member: str,
    peers: Sequence[EtcdPeer],
    data_dir: str,
    listen_host: str = "0.0.0.0",
    cluster_token: str = "data-platform-etcd",
    heartbeat_ms: int = 100,
    election_timeout_ms: int = 1000,
    quota_backend_bytes: int = 256 * 1024 * 1024,
) -> str:
    """Render the config file of ``member``, one of ``peers`` (a new static cluster).

    :param member: name of this member (one of ``peers``).
    :param peers: every member; the cluster is bootstrapped from this list (``initial-cluster``).
    :param data_dir: the member's data directory.
    :param listen_host: address the client and peer listeners bind. Default: every interface.
    :param cluster_token: distinguishes this cluster from another built from the same peer list.
    :param heartbeat_ms: leader heartbeat. Default: 100 ms (etcd's).
    :param election_timeout_ms: a follower that hears no heartbeat this long starts an election;
        losing the etcd leader costs about this long. Default: 1000 ms (etcd's).
    :param quota_backend_bytes: database size cap (Patroni's keys are a few KiB). Default: 256 MiB.
    """
    names = [p.name for p in peers]
    if len(peers) % 2 == 0 or len(set(names)) != len(names):
        raise ValueError(f"an odd number of uniquely named members (a majority must survive a loss): {names}")
    if member not in names:
        raise ValueError(f"{member!r} is not one of {names}")
    for p in peers:
        if not _NAME.match(p.name):
            raise ValueError(f"member name {p.name!r}: lower-case letters, digits, -")
        for port in (p.client_port, p.peer_port):
            if not 1 <= port <= 65535:
                raise ValueError(f"{p.name}: port {port} is not a TCP port")
    if election_timeout_ms < 5 * heartbeat_ms:
        raise ValueError("election timeout should be at least 5 heartbeats (etcd's tuning guide)")
    me = next(p for p in peers if p.name == member)
    doc: dict[str, Any] = {
        "name": me.name,
        "data-dir": data_dir,
        "listen-client-urls": f"http://{listen_host}:{me.client_port}",
        "advertise-client-urls": me.client_url,
        "listen-peer-urls": f"http://{listen_host}:{me.peer_port}",
        "initial-advertise-peer-urls": me.peer_url,
        "initial-cluster": ",".join(f"{p.name}={p.peer_url}" for p in peers),
        "initial-cluster-state": "new",
        "initial-cluster-token": cluster_token,
        "heartbeat-interval": heartbeat_ms,
        "election-timeout": election_timeout_ms,
        # Patroni's etcd3 DCS speaks etcd's v3 API over HTTP/JSON: the gRPC gateway. Defaults on for
        # the command line, but off when etcd 3.4 reads a config file, so say it.
        "enable-grpc-gateway": True,
        "quota-backend-bytes": quota_backend_bytes,
        "auto-compaction-mode": "periodic",
        "auto-compaction-retention": "1h",
    }
    header = f"# etcd member {me.name}, rendered by components/render/etcd.py. Do not edit: re-render.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
