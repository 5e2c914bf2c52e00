"""The target-neutral topology: stores, members, roles, ports, replication links, backups.

Built from :class:`~infra.settings.Settings` by :func:`build_topology`; both compositions
(``infra/aws.py`` and ``infra/docker.py``) read it, and each reports which members it realized
(:class:`Realization`) so a test can assert that both realize the same topology.

Member ids are stable strings such as ``postgres/primary``, ``redis/shard-2/replica-1``,
``graph/secondary-1`` and ``vector/peer-3``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from infra.settings import Settings

Role = Literal[
    "primary",  # PostgreSQL writer
    "standby",  # PostgreSQL synchronous standby (Multi-AZ)
    "replica",  # PostgreSQL in-region read replica
    "dr-replica",  # PostgreSQL cross-region replica
    "shard-primary",  # Redis shard primary
    "shard-replica",  # Redis shard replica
    "graph-primary",  # Neo4j primary (Raft member)
    "graph-secondary",  # Neo4j secondary (read replica)
    "peer",  # Qdrant peer
]
StoreName = Literal["postgres", "redis", "graph", "vector"]
LinkMode = Literal["sync", "async", "cluster"]


@dataclass(frozen=True)
class Member:
    id: str
    """Stable id, e.g. ``postgres/replica-1``."""
    store: StoreName
    role: Role
    zone: int
    """Index of the availability zone (0-based) in its region."""
    site: Literal["primary", "dr"] = "primary"
    """The primary region or the DR region."""
    shard: int | None = None
    """Redis shard number (1-based)."""


@dataclass(frozen=True)
class ReplicationLink:
    source: str
    target: str
    mode: LinkMode
    cross_region: bool = False


@dataclass(frozen=True)
class BackupPlan:
    schedule: str
    """Cron expression (UTC) or ``continuous`` for WAL/PITR."""
    retention_days: int
    destination: str
    """What keeps the backups: ``rds-automated``, ``elasticache-snapshots`` or ``s3``."""
    rpo_hours: float


@dataclass(frozen=True)
class Store:
    name: StoreName
    engine: str
    version: str
    ports: dict[str, int]
    members: tuple[Member, ...]
    links: tuple[ReplicationLink, ...]
    backup: BackupPlan
    placement: str
    """``managed`` (RDS/ElastiCache), ``eks``, ``ec2`` or ``docker``."""
    settings: dict[str, object] = field(default_factory=dict)
    """Engine-level settings every target must apply (e.g. Redis cluster-node-timeout)."""

    def by_role(self, role: Role) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role == role)


@dataclass(frozen=True)
class Topology:
    stores: tuple[Store, ...]
    notes: tuple[str, ...] = ()
    """Human-readable notes the review prints (e.g. Neo4j running as a single Community server)."""

    def store(self, name: StoreName) -> Store | None:
        return next((s for s in self.stores if s.name == name), None)

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.id for s in self.stores for m in s.members)


@dataclass
class Realization:
    """What a composition built for each member id: ``{member id: resource name}``."""

    target: str
    members: dict[str, str] = field(default_factory=dict)
    links: set[tuple[str, str, str]] = field(default_factory=set)
    declared_differences: dict[str, str] = field(default_factory=dict)
    """``{member or link: why this target realizes it differently}``."""

    def add(self, member_id: str, resource_name: str) -> None:
        self.members[member_id] = resource_name


REDIS_CLUSTER_NODE_TIMEOUT_MS = 5000  # the seeds' cluster-node-timeout


def build_topology(s: Settings) -> Topology:
    zones = s.network.availability_zones if s.target == "aws" else 3
    stores: list[Store] = [_postgres(s, zones), _redis(s, zones)]
    notes: list[str] = []
    if not s.environment_stated:
        notes.append(f"environment: {s.stack_file} does not state data-platform:environment, so the stack is held "
                     f"to {s.environment} rules (the strictest); state it (dev, staging, production or local).")
    if s.graph.enabled:
        stores.append(_graph(s, zones))
        if not s.graph_enterprise:
            notes.append(
                "graph: Neo4j runs as a single Community server because graph.licenseAgreement is 'no'; "
                "set it to 'yes' (or 'eval' outside production) for the Enterprise cluster of "
                f"{s.graph.primaries} primaries + {s.graph.secondaries} secondaries."
            )
            notes.append(
                "graph: Neo4j Community has no role-based access control, so no reader/editor/admin logins "
                "(readonly_user, app_user, admin_user) are created and every client logs in as 'neo4j' with "
                "full rights; accept the licence (Enterprise) for least-privilege logins."
            )
    if s.vector.enabled:
        stores.append(_vector(s, zones))
    return Topology(stores=tuple(stores), notes=tuple(notes))


def _postgres(s: Settings, zones: int) -> Store:
    p = s.postgres
    members = [Member("postgres/primary", "postgres", "primary", 0)]
    links: list[ReplicationLink] = []
    if p.multi_az:
        members.append(Member("postgres/standby", "postgres", "standby", 1 % zones))
        links.append(ReplicationLink("postgres/primary", "postgres/standby", "sync"))
    for i in range(1, p.read_replicas + 1):
        members.append(Member(f"postgres/replica-{i}", "postgres", "replica", (i + 1) % zones))
        links.append(ReplicationLink("postgres/primary", f"postgres/replica-{i}", "async"))
    if p.dr_replica:
        members.append(Member("postgres/dr-replica", "postgres", "dr-replica", 0, site="dr"))
        links.append(ReplicationLink("postgres/primary", "postgres/dr-replica", "async", cross_region=True))
    return Store(
        name="postgres",
        engine="postgres",
        version=p.engine_version,
        ports={"postgres": p.port, "pgbouncer": 6432, "haproxy-write": 5000, "haproxy-read": 5001},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan("continuous", p.backup_retention_days, "rds-automated", rpo_hours=0.1),
        placement="managed" if s.target == "aws" else "docker",
        settings={"max_connections": p.max_connections, "pool_mode": p.pooling.pool_mode},
    )


def _redis(s: Settings, zones: int) -> Store:
    r = s.redis
    members: list[Member] = []
    links: list[ReplicationLink] = []
    for shard in range(1, r.shards + 1):
        primary = f"redis/shard-{shard}/primary"
        members.append(Member(primary, "redis", "shard-primary", (shard - 1) % zones, shard=shard))
        for rep in range(1, r.replicas_per_shard + 1):
            rid = f"redis/shard-{shard}/replica-{rep}"
            members.append(Member(rid, "redis", "shard-replica", (shard - 1 + rep) % zones, shard=shard))
            links.append(ReplicationLink(primary, rid, "async"))
    return Store(
        name="redis",
        engine=r.engine,
        version=r.engine_version,
        ports={"redis": r.port, "cluster-bus": r.port + 10000},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan("daily " + r.snapshot_window, r.snapshot_retention_days, "elasticache-snapshots",
                          rpo_hours=24),
        placement="managed" if s.target == "aws" else "docker",
        settings={
            "cluster-node-timeout": REDIS_CLUSTER_NODE_TIMEOUT_MS,
            "maxmemory-policy": r.maxmemory_policy,
            "appendonly": "yes",
            "appendfsync": "everysec",
            "acl-users": ("app_user", "readonly_user"),
        },
    )


def _graph(s: Settings, zones: int) -> Store:
    g = s.graph
    primaries, secondaries = (g.primaries, g.secondaries) if s.graph_enterprise else (1, 0)
    members = [Member(f"graph/primary-{i}", "graph", "graph-primary", (i - 1) % zones)
               for i in range(1, primaries + 1)]
    members += [Member(f"graph/secondary-{i}", "graph", "graph-secondary", (i - 1) % zones)
                for i in range(1, secondaries + 1)]
    links = [ReplicationLink("graph/primary-1", m.id, "cluster") for m in members[1:]]
    return Store(
        name="graph",
        engine="neo4j-enterprise" if s.graph_enterprise else "neo4j-community",
        version=g.version,
        ports={"bolt": 7687, "http": 7474, "discovery": 5000, "raft": 7000, "cluster": 6000, "backup": 6362},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan(g.backup_schedule, s.backups.monthly_days, "s3", rpo_hours=g.rpo_hours),
        placement=g.placement if s.target == "aws" else "docker",
    )


def _vector(s: Settings, zones: int) -> Store:
    v = s.vector
    members = [Member(f"vector/peer-{i}", "vector", "peer", (i - 1) % zones) for i in range(1, v.peers + 1)]
    links = [ReplicationLink("vector/peer-1", m.id, "cluster") for m in members[1:]]
    return Store(
        name="vector",
        engine="qdrant",
        version=v.version,
        ports={"http": 6333, "grpc": 6334, "p2p": 6335},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan(f"0 */{v.snapshot_interval_hours} * * *", s.backups.monthly_days, "s3",
                          rpo_hours=v.rpo_hours),
        placement=v.placement if s.target == "aws" else "docker",
        settings={"replication_factor": v.replication_factor,
                  "write_consistency_factor": v.write_consistency_factor,
                  "distance": "Cosine", "hnsw": {"m": 16, "ef_construct": 100}},
    )
