"""ElastiCache for Valkey and Redis OSS: node-hours of replication groups and clusters, and daily
snapshot storage (one snapshot per cluster is free; every further one is a full copy of the data).
"""

from __future__ import annotations

from cost.rules.base import Charge, Context, H, Res, as_list, dig, fmt, free, number, unknown

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CLUSTER = "aws:elasticache/cluster:Cluster"

NODE_KEY = "elasticache:node:{node}:{engine}"
"""Key of a node-type row (``engine``: ``valkey`` or ``redis``)."""

ENGINES = {"valkey": "Valkey", "redis": "Redis OSS"}
"""Engine key → name; the table has a row for each node type and engine."""

PRICE_KEYS = ("elasticache:backup",)


def _engine(r: Res) -> tuple[str | None, str]:
    engine = (r.text("engine") or "redis").lower()
    return (engine, ENGINES[engine]) if engine in ENGINES else (None, engine)


def _nodes(ctx: Context, r: Res, nodes: float, layout: str) -> Charge:
    node_type = r.text("nodeType")
    engine_key, engine_name = _engine(r)
    if node_type is None:
        return unknown("nodes", "nodeType not set in inputs")
    if engine_key is None:
        return ctx.missing("nodes", f"{node_type} {engine_name} (the table has Valkey and Redis OSS)",
                           "ElastiCache", r.region)
    return ctx.per_unit(
        "nodes",
        NODE_KEY.format(node=node_type, engine=engine_key),
        r.region,
        H * nodes,
        f"{node_type} {engine_name} {{price}} × {H} h × {fmt(nodes)} nodes ({layout})",
        what=f"{node_type} {engine_name} node",
        service="ElastiCache",
    )


def _snapshots(ctx: Context, r: Res, clusters: float) -> list[Charge]:
    kept = r.num("snapshotRetentionLimit") or 0.0
    if kept <= 0:
        return []
    data = ctx.usage.grown(ctx.usage.redis_data_gb)
    billed_copies = max(0.0, kept - clusters)
    return [
        ctx.per_unit(
            "snapshot storage",
            "elasticache:backup",
            r.region,
            data * billed_copies,
            f"{fmt(kept)} daily snapshots of {fmt(data)} GB ({ctx.usage.cite_data('redis_data_gb')}), "
            f"one per cluster free: {fmt(billed_copies)} × {fmt(data)} GB = {{qty}} GB × {{price}}",
            what="ElastiCache snapshot storage",
            service="ElastiCache",
        )
    ]


def replication_group(r: Res, ctx: Context) -> list[Charge]:
    """Shards × (1 + replicas) nodes (cluster mode), else numCacheClusters; plus snapshots."""
    shards = r.num("numNodeGroups")
    replicas = r.num("replicasPerNodeGroup")
    groups = as_list(r.get("nodeGroupConfigurations"))
    if shards is not None:
        per = replicas or 0.0
        nodes = shards * (1 + per)
        layout = f"{fmt(shards)} shards × (1 primary + {fmt(per)} replica{'' if per == 1 else 's'})"
    elif groups:
        nodes = sum(1 + (number(dig(g, "replicaCount")) or 0.0) for g in groups)
        layout = f"{len(groups)} shards from nodeGroupConfigurations"
    else:
        clusters = r.num("numCacheClusters")
        nodes = clusters if clusters is not None else 1.0
        layout = f"numCacheClusters {fmt(nodes)}" if clusters is not None else "numCacheClusters not set: 1 node"
    return [_nodes(ctx, r, nodes, layout), *_snapshots(ctx, r, 1.0)]


def cluster(r: Res, ctx: Context) -> list[Charge]:
    """A cache cluster: free when it is a member of a replication group (priced there)."""
    if r.text("replicationGroupId"):
        return [free("member of a replication group; its node is priced on the group")]
    count = r.num("numCacheNodes") or 1.0
    return [_nodes(ctx, r, count, f"numCacheNodes {fmt(count)}"), *_snapshots(ctx, r, 1.0)]


RULES = {REPLICATION_GROUP: replication_group, CLUSTER: cluster}
