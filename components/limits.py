"""One home per range and allowed set that the stack settings (``infra/settings.py``) and the components
both check: the settings read them to reject a stack file with a one-line error, the components to reject
args (:class:`~components.base.ArgsError`). A limit changes here and nowhere else.

No provider SDK is imported: the settings load without ``pulumi_aws``.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

MaxmemoryPolicy = Literal["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                          "volatile-random", "volatile-ttl", "noeviction"]
"""``maxmemory-policy`` values a custom ElastiCache parameter group accepts for Valkey (families
``valkey7``/``valkey8``) and Redis OSS 7: all eight eviction policies of the engine (LFU exists since
Redis 4.0, and Valkey forked from 7.2), as the ElastiCache parameter reference and AWS's caching
whitepaper ("Evictions") list them. The settings used to allow four of them: nothing on ElastiCache or in
the local servers (the same engine) rejects the other four, so the component's eight are the rule."""
MAXMEMORY_POLICIES: Final[tuple[str, ...]] = get_args(MaxmemoryPolicy)

RDS_BACKUP_RETENTION_DAYS: Final = (1, 35)
"""RDS automated backup (PITR) retention in days: 0 turns backups off (never here), 35 is the RDS maximum."""

REDIS_SHARDS: Final = (1, 500)
"""ElastiCache cluster-mode node groups (``num_node_groups``)."""
REDIS_REPLICAS_PER_SHARD: Final = (0, 5)
"""Replicas per node group (``replicas_per_node_group``)."""
REDIS_MULTI_AZ_REPLICAS_PER_SHARD: Final = (1, REDIS_REPLICAS_PER_SHARD[1])
"""Replicas per node group with Multi-AZ: automatic failover needs a replica to fail over to."""
REDIS_MAX_NODES: Final = 500
"""Nodes of one cluster-mode replication group, shards x (1 + replicas)."""


def backup_tiers_in_order(daily_days: int, weekly_days: int, monthly_days: int) -> bool:
    """The backup buckets' tiers are distinct and ordered: ``daily < weekly < monthly`` (days). ``weekly``
    is both the noncurrent-version lifetime and the middle tier, so it must lie strictly between the other
    two (a tier of zero days is no tier)."""
    return daily_days < weekly_days < monthly_days


def in_range(value: int, bounds: tuple[int, int]) -> bool:
    """``lo <= value <= hi``."""
    lo, hi = bounds
    return lo <= value <= hi


def range_text(bounds: tuple[int, int]) -> str:
    """``lo..hi``, the "allowed" text of a range."""
    return f"{bounds[0]}..{bounds[1]}"
