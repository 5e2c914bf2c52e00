"""Render Qdrant's ``config/production.yaml`` for a peer of a cluster (pure functions, no Pulumi).

The file holds cluster mode (P2P port 6335, consensus tick), storage paths, the defaults new
collections take (``storage.collection.replication_factor`` / ``write_consistency_factor``), HNSW
defaults and performance knobs. It never holds the API keys: on EKS Qdrant reads them from a second
config file mounted from a Secret (:func:`render_api_keys_config`, ``--config-path``, merged over this
one), on EC2 and in the local stack from the environment variables :data:`API_KEY_ENV` and
:data:`READ_ONLY_API_KEY_ENV` (a root-only environment file / the container's environment).

Two keys (issue 17): ``service.api_key`` (admin: every operation, held by the snapshot job and
operators) and ``service.read_only_api_key`` (reads only: search, retrieval, collection info,
``/metrics``; held by read-only clients and Prometheus). The key names are Qdrant's
(``config/config.yaml`` of qdrant/qdrant, section ``service``).

Distance (Cosine) is a per-collection parameter, not a server setting: collections are created by
the application with ``{"vectors": {"size": N, "distance": "Cosine"}}``; see
:data:`COLLECTION_BOOTSTRAP_NOTE`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

PORTS: dict[str, int] = {"http": 6333, "grpc": 6334, "p2p": 6335}
API_KEY_ENV = "QDRANT__SERVICE__API_KEY"
READ_ONLY_API_KEY_ENV = "QDRANT__SERVICE__READ_ONLY_API_KEY"
_KEY = re.compile(r"^[A-Za-z0-9]{16,}$")

COLLECTION_BOOTSTRAP_NOTE = (
    "Create collections with PUT /collections/<name> and body "
    '{"vectors": {"size": <dim>, "distance": "Cosine"}, "shard_number": <peers>, '
    '"replication_factor": <rf>, "write_consistency_factor": <wcf>}; '
    "omitted replication/consistency values take the server defaults rendered in storage.collection."
)


def render_qdrant_config(
    *,
    replication_factor: int = 2,
    write_consistency_factor: int = 1,
    peers: int = 3,
    p2p_port: int = PORTS["p2p"],
    http_port: int = PORTS["http"],
    grpc_port: int = PORTS["grpc"],
    consensus_tick_period_ms: int = 100,
    storage_path: str = "/qdrant/storage",
    snapshots_path: str = "/qdrant/snapshots",
    temp_path: str | None = None,
    hnsw_m: int = 16,
    hnsw_ef_construct: int = 100,
    on_disk_payload: bool = True,
    max_search_threads: int = 0,
    max_optimization_threads: int = 0,
    log_level: str = "INFO",
    enable_tls: bool = False,
) -> str:
    """Render the YAML config of one peer (all peers share it; identity comes from ``--uri``)."""
    if not 1 <= peers <= 50:
        raise ValueError(f"peers {peers} is not allowed (1..50)")
    if not 1 <= replication_factor <= peers:
        raise ValueError(f"replication_factor {replication_factor} is not allowed (1..{peers})")
    if not 1 <= write_consistency_factor <= replication_factor:
        raise ValueError(
            f"write_consistency_factor {write_consistency_factor} is not allowed (1..{replication_factor})")
    if not 4 <= hnsw_m <= 128 or not 4 <= hnsw_ef_construct <= 4096:
        raise ValueError("hnsw m must be 4..128 and ef_construct 4..4096")
    if log_level not in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"):
        raise ValueError(f"log_level {log_level!r} is not allowed")
    doc: dict[str, Any] = {
        "log_level": log_level,
        "storage": {
            "storage_path": storage_path,
            "snapshots_path": snapshots_path,
            "temp_path": temp_path,
            "on_disk_payload": on_disk_payload,
            "wal": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "performance": {
                "max_search_threads": max_search_threads,
                "max_optimization_threads": max_optimization_threads,
            },
            "optimizers": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                           "default_segment_number": 0, "flush_interval_sec": 5},
            "hnsw_index": {"m": hnsw_m, "ef_construct": hnsw_ef_construct, "full_scan_threshold_kb": 10000,
                           "max_indexing_threads": 0, "on_disk": False},
            "collection": {
                "replication_factor": replication_factor,
                "write_consistency_factor": write_consistency_factor,
                "vectors": {"on_disk": None},
            },
        },
        "service": {
            "host": "0.0.0.0",
            "http_port": http_port,
            "grpc_port": grpc_port,
            "enable_cors": False,
            "enable_tls": enable_tls,
            "max_request_size_mb": 32,
        },
        "cluster": {
            "enabled": peers > 1,
            "p2p": {"port": p2p_port, "enable_tls": False},
            "consensus": {"tick_period_ms": consensus_tick_period_ms},
        },
        "telemetry_disabled": True,
    }
    header = (
        "# Qdrant config rendered by data-platform. The API keys are NOT here: they come from a Secret (a\n"
        f"# second config file, or the environment variables {API_KEY_ENV} / {READ_ONLY_API_KEY_ENV}).\n"
        f"# {COLLECTION_BOOTSTRAP_NOTE}\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def peer_args(index: int, self_url: str, bootstrap_url: str | None) -> list[str]:
    """Command-line arguments of peer ``index`` (0-based): peer 0 starts the cluster with ``--uri``
    only; every other peer joins with ``--bootstrap <peer 0>`` and announces its own ``--uri``."""
    if index == 0 or bootstrap_url is None:
        return ["--uri", self_url]
    return ["--bootstrap", bootstrap_url, "--uri", self_url]


def render_api_keys_config(api_key: str, read_only_api_key: str) -> str:
    """The peers' second config file (a Secret, merged over ``production.yaml`` by ``--config-path``): the admin
    key ``service.api_key`` and the read-only key ``service.read_only_api_key``. Keys are letters and digits,
    at least 16, and differ (JSON strings are YAML scalars)."""
    for what, key in (("api_key", api_key), ("read_only_api_key", read_only_api_key)):
        if not _KEY.match(key):
            raise ValueError(f"{what}: letters and digits only, at least 16")
    if api_key == read_only_api_key:
        raise ValueError("read_only_api_key must differ from api_key")
    return f"service:\n  api_key: {json.dumps(api_key)}\n  read_only_api_key: {json.dumps(read_only_api_key)}\n"
