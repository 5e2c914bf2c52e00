"""Container images the stacks run, pinned by tag, in one module that imports no provider SDK: the AWS
stack (in-cluster Prometheus, Alertmanager, Grafana) takes its images from here without loading
``pulumi_docker``, and the local stack's containers take theirs from the same table.

The ``__all__`` re-export from ``components.docker.container`` keeps that module's public name.
"""

from __future__ import annotations

#: Images of the local stack, pinned by tag (Docker Hub names; no registry host).
IMAGES: dict[str, str] = {
    "postgres": "postgres:16.4-bookworm",
    # PostgreSQL 16 + Patroni (Timescale's HA image: PGDG packages of both; runs as postgres).
    "patroni": "timescale/timescaledb-ha:pg16.6-ts2.17.2",
    # Bitnami's etcd moved to the bitnamilegacy namespace (2025); the image is etcd's release binary.
    "etcd": "bitnamilegacy/etcd:3.6.4-debian-12-r4",
    "pgbouncer": "edoburu/pgbouncer:v1.23.1-p2",
    "haproxy": "haproxy:2.8.10-alpine",
    "valkey": "valkey/valkey:8.0.1-bookworm",
    "redis": "redis:7.2.5-bookworm",
    "neo4j-enterprise": "neo4j:5.26.12-enterprise",
    "neo4j-community": "neo4j:5.26.12-community",
    "qdrant": "qdrant/qdrant:v1.15.4",
    "minio": "minio/minio:RELEASE.2024-10-13T13-34-11Z",
    "minio-client": "minio/mc:RELEASE.2024-10-08T09-37-26Z",
    "prometheus": "prom/prometheus:v2.54.1",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana-oss:11.6.0",
    "postgres-exporter": "prometheuscommunity/postgres-exporter:v0.15.0",
    "redis-exporter": "oliver006/redis_exporter:v1.62.0",
}

__all__ = ["IMAGES"]
