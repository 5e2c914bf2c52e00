"""The target-neutral topology: everything the compositions build, as frozen data.

:func:`build_topology` turns the validated :class:`~infra.settings.Settings` into a :class:`Topology`:
per store its members and roles, replication links, backup plan, placement and engine settings
(:class:`PostgresStore`, :class:`RedisStore`, :class:`GraphStore`, :class:`VectorStore`), plus the
stack-wide facts (:class:`Stack`, :class:`NetworkIntent`, :class:`BackupsIntent`, :class:`AlertsIntent`,
:class:`DeployIntent`, :class:`EksIntent`, :class:`LocalIntent`). The topology is the *only* input of
both compositions (``infra/aws.py`` and ``infra/docker.py`` import no settings model), so one stack-file
key reads settings → topology → component in three files, e.g.::

    data-platform:redis.shards       infra/settings.py   RedisSettings.shards
                                     infra/topology.py   _redis(): one shard-primary member per shard
                                     infra/aws.py        RedisArgs(shards=topo.redis.shards)

Member counts are intent held once, as members: ``PostgresStore.read_replicas``,
``RedisStore.shards`` and friends are counted from them. Each composition reports which members its
components *built* (:class:`Realization`, filled from the components' ``realized``), so a test can
assert that both realize this topology.

Member ids are stable strings such as ``postgres/primary``, ``redis/shard-2/replica-1``,
``graph/secondary-1`` and ``vector/peer-3``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import SecretStr

from infra.settings import PROJECT, Settings

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


# ------------------------------------------------------------------------------------ placement


@dataclass(frozen=True)
class Managed:
    """An AWS managed service runs the members (RDS, ElastiCache)."""

    kind: ClassVar[str] = "managed"


@dataclass(frozen=True)
class Docker:
    """Containers on the local Docker host run the members (the ``local`` stack)."""

    kind: ClassVar[str] = "docker"


@dataclass(frozen=True)
class _OnCompute:
    """A store whose members run on machines the stack sizes (EKS nodes or EC2 instances)."""

    instance_type: str
    """Node or instance type of primaries (or of every member)."""
    secondary_instance_type: str | None = None
    """Type of secondaries as the stack file states it (None: the same as ``instance_type``)."""

    @property
    def smaller_secondaries(self) -> bool:
        """Secondaries run on another (smaller) type: their own node group, or their own instances."""
        return self.secondary_instance_type is not None and self.secondary_instance_type != self.instance_type


@dataclass(frozen=True)
class Eks(_OnCompute):
    """Members run as pods of a StatefulSet on the stack's EKS cluster, one node group per role."""

    kind: ClassVar[Literal["eks"]] = "eks"


@dataclass(frozen=True)
class Ec2(_OnCompute):
    """Each member runs on its own EC2 instance."""

    kind: ClassVar[Literal["ec2"]] = "ec2"


Placement = Managed | Docker | Eks | Ec2
"""Where a store's members run."""


# ------------------------------------------------------------------------------------ stores


@dataclass(frozen=True, kw_only=True)
class Store:
    """What every store has: members, links, backups, where it runs."""

    name: StoreName
    engine: str
    version: str
    ports: dict[str, int]
    """Named ports of a member (``postgres``, ``cluster-bus``, ``bolt``...)."""
    members: tuple[Member, ...]
    links: tuple[ReplicationLink, ...]
    backup: BackupPlan
    where: Placement
    """Where the members run: :class:`Managed`, :class:`Docker`, :class:`Eks` or :class:`Ec2`."""

    @property
    def placement(self) -> str:
        """``managed``, ``docker``, ``eks`` or ``ec2`` (the review's word for :attr:`where`)."""
        return self.where.kind

    def by_role(self, role: Role) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role == role)


@dataclass(frozen=True)
class Pooling:
    """PgBouncer (local stack; guidance on AWS)."""

    pool_mode: str
    default_pool_size: int
    max_client_connections: int


@dataclass(frozen=True)
class DrSite:
    """The DR region the cross-region members (and replicated backups) live in."""

    region: str
    azs: tuple[str, ...]
    """AZ names of the DR network."""
    cidr: str
    """VPC CIDR of the DR network."""


@dataclass(frozen=True, kw_only=True)
class PostgresStore(Store):
    """PostgreSQL: a primary, the Multi-AZ standby, read replicas and the DR replica (members)."""

    instance_class: str
    """The primary's class (and its Multi-AZ standby's)."""
    replica_instance_class: str | None
    """In-region replicas' class (None: ``instance_class``)."""
    dr_instance_class: str | None
    """DR replica's class (None: ``instance_class``)."""
    storage_gb: int
    """Allocated gp3 storage, GiB (the free-storage alarm is a share of it)."""
    max_storage_gb: int
    """Storage autoscaling ceiling, GiB."""
    iops: int | None
    """Provisioned gp3 IOPS, or None for the baseline."""
    backup_window: str
    """Daily backup window, UTC (retention is ``backup.retention_days``)."""
    maintenance_window: str
    """Weekly maintenance window, UTC."""
    deletion_protection: bool
    storage_encrypted: bool
    monitoring_interval_seconds: int
    """Enhanced monitoring interval (0: off)."""
    performance_insights_retention_days: int
    database_name: str
    """The initial database (PgBouncer serves it locally)."""
    master_username: str
    max_connections: int
    """Server ``max_connections``; the connections alarm fires at 80 % of it."""
    pooling: Pooling
    replica_lag_alarm_seconds: int
    """Threshold of the replicas' ReplicaLag alarm."""
    dr: DrSite | None
    """The AWS DR site of ``postgres/dr-replica``; None without one, and on Docker (a local container)."""

    @property
    def port(self) -> int:
        """Listener port of every member (``ports["postgres"]``)."""
        return self.ports["postgres"]

    @property
    def multi_az(self) -> bool:
        return bool(self.by_role("standby"))

    @property
    def read_replicas(self) -> int:
        return len(self.by_role("replica"))

    @property
    def backup_retention_days(self) -> int:
        return self.backup.retention_days


@dataclass(frozen=True, kw_only=True)
class RedisStore(Store):
    """Valkey/Redis OSS in cluster mode: shards of one primary and its replicas (members)."""

    node_type: str
    """ElastiCache node type of every member."""
    multi_az: bool
    """Replicas in other AZs, automatic failover to them."""
    transit_encryption: bool
    at_rest_encryption: bool
    snapshot_window: str
    """Daily snapshot window, UTC (retention is ``backup.retention_days``)."""
    maintenance_window: str
    maxmemory_policy: str
    """Eviction policy (one of :data:`components.limits.MAXMEMORY_POLICIES`)."""
    cluster_node_timeout_ms: int
    """``cluster-node-timeout`` where the stack runs the cluster itself (local; ElastiCache keeps its own)."""
    appendonly: bool
    """AOF persistence (``appendfsync everysec``) where the stack runs the servers."""
    acl_users: tuple[str, ...]
    """The usable RBAC/ACL users every target creates."""

    @property
    def port(self) -> int:
        """Client port of every node (``ports["redis"]``; the cluster bus is ``ports["cluster-bus"]``)."""
        return self.ports["redis"]

    @property
    def shards(self) -> int:
        return len(self.by_role("shard-primary"))

    @property
    def replicas_per_shard(self) -> int:
        return len(self.by_role("shard-replica")) // max(self.shards, 1)

    @property
    def snapshot_retention_days(self) -> int:
        return self.backup.retention_days


@dataclass(frozen=True, kw_only=True)
class GraphStore(Store):
    """Neo4j: Raft primaries and secondaries (members); one Community server without the licence."""

    license_agreement: Literal["no", "yes", "eval"]
    """``no`` (Community), ``yes`` or ``eval`` (Enterprise)."""
    volume_gb: int
    """Data volume per member, GiB."""

    @property
    def enterprise(self) -> bool:
        return self.license_agreement in ("yes", "eval")

    @property
    def primaries(self) -> int:
        return len(self.by_role("graph-primary"))

    @property
    def secondaries(self) -> int:
        return len(self.by_role("graph-secondary"))


@dataclass(frozen=True, kw_only=True)
class VectorStore(Store):
    """Qdrant: peers of one cluster (members)."""

    replication_factor: int
    write_consistency_factor: int
    distance: str
    """Vector distance of new collections."""
    hnsw: dict[str, int]
    """HNSW index parameters of new collections."""
    volume_gb: int
    """Storage per peer, GiB."""
    snapshot_interval_hours: int
    """Hours between snapshots (the backup plan's schedule)."""

    @property
    def peers(self) -> int:
        return len(self.members)


# ------------------------------------------------------------------------------------ stack-wide facts


@dataclass(frozen=True)
class Stack:
    """Who and where: names, environment, regions, tags."""

    stack: str
    """Stack name."""
    name: str
    """Prefix of AWS names: ``data-platform-<stack>``."""
    environment: str
    production: bool
    target: Literal["aws", "docker"]
    region: str
    azs: tuple[str, ...]
    """AZ names of the primary network (AWS)."""
    dr_region: str | None
    """The DR region when something lives there (DR replica or replicated backups), else None."""
    tags: dict[str, str]
    """Tags on every resource (kebab-case keys)."""

    @property
    def protect(self) -> bool:
        """Stateful resources are protected and retained on delete in production."""
        return self.production


@dataclass(frozen=True)
class NetworkIntent:
    """The primary region's VPC (its AZs are :attr:`Stack.azs`; the DR network is :class:`DrSite`)."""

    cidr: str
    nat_gateways: Literal["none", "single", "perAz"]
    """NAT gateways for the private subnets' egress: none, one, or one per AZ."""
    flow_log_retention_days: int


@dataclass(frozen=True)
class BackupsIntent:
    """The S3 backup buckets: one per store, lifecycle tiers, replication, object lock."""

    stores: tuple[str, ...]
    daily_days: int
    weekly_days: int
    monthly_days: int
    replica_region: str | None
    """Replicate the buckets to this region (the DR region), or None."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None
    """GOVERNANCE or COMPLIANCE, or None without object lock."""
    object_lock_days: int


@dataclass(frozen=True)
class AlertsIntent:
    """Where alerts go and how often Prometheus evaluates its rules."""

    email: str | None
    """Subscribed to the alarm topics (AWS)."""
    slack_webhook_url: SecretStr | None
    """Kept a ``SecretStr``: the compositions hand it to Pulumi as a secret."""
    evaluation_interval_seconds: int


@dataclass(frozen=True)
class DeployIntent:
    """Where deploys run (the in-VPC runner) and who may use the Kubernetes API."""

    runner: bool
    """A CodeBuild-hosted runner in the VPC (only with a store on EKS)."""
    repository: str | None
    github_connection_arn: str | None
    deploy_role_arn: str | None
    preview_role_arn: str | None
    break_glass_role_arns: tuple[str, ...]


@dataclass(frozen=True)
class EksIntent:
    """The EKS cluster, present when a store runs on EKS."""

    version: str
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]
    system_instance_type: str
    system_nodes: int
    storage_reclaim_policy: Literal["Retain", "Delete"]


@dataclass(frozen=True)
class LocalIntent:
    """The local Docker stack: published ports and its private network."""

    port_offset: int
    """Added to every published port."""
    subnet: str
    """Subnet of the stack's Docker network."""


@dataclass(frozen=True)
class Topology:
    """The whole intent of a stack; the compositions read nothing else."""

    stack: Stack
    network: NetworkIntent
    postgres: PostgresStore
    redis: RedisStore
    graph: GraphStore | None
    vector: VectorStore | None
    backups: BackupsIntent
    alerts: AlertsIntent
    deploy: DeployIntent
    eks: EksIntent | None
    """None when no store runs on EKS."""
    local: LocalIntent
    app_namespace: str
    """Namespace of the applications allowed to reach the stores (EKS)."""
    notes: tuple[str, ...] = ()
    """Human-readable notes the review prints (e.g. Neo4j running as a single Community server)."""

    @property
    def stores(self) -> tuple[Store, ...]:
        return tuple(s for s in (self.postgres, self.redis, self.graph, self.vector) if s is not None)

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
    aws = s.target == "aws"
    zones = s.network.availability_zones if aws else 3
    graph = _graph(s, zones) if s.graph.enabled else None
    vector = _vector(s, zones) if s.vector.enabled else None
    notes: list[str] = []
    if not s.environment_stated:
        notes.append(f"environment: {s.stack_file} does not state data-platform:environment, so the stack is held "
                     f"to {s.environment} rules (the strictest); state it (dev, staging, production or local).")
    if graph is not None and not graph.enterprise:
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
    dr_region = s.dr_region if aws and (s.postgres.dr_replica or s.backups.cross_region) else None
    b = s.backups
    e, d, a = s.eks, s.deploy, s.alerts
    return Topology(
        stack=Stack(stack=s.stack, name=f"{PROJECT}-{s.stack}", environment=s.environment,
                    production=s.production, target=s.target, region=s.region, azs=s.azs if aws else (),
                    dr_region=dr_region, tags=s.resource_tags()),
        network=NetworkIntent(cidr=s.network.cidr, nat_gateways=s.network.nat_gateways,
                              flow_log_retention_days=s.network.flow_log_retention_days),
        postgres=_postgres(s, zones, dr_region),
        redis=_redis(s, zones),
        graph=graph,
        vector=vector,
        backups=BackupsIntent(
            stores=tuple(st for st, on in (("postgres", True), ("redis", True), ("graph", s.graph.enabled),
                                           ("vector", s.vector.enabled)) if on),
            daily_days=b.daily_days, weekly_days=b.weekly_days, monthly_days=b.monthly_days,
            replica_region=dr_region if b.cross_region else None,
            object_lock_mode=b.object_lock.mode if b.object_lock.enabled else None,
            object_lock_days=b.object_lock.days),
        alerts=AlertsIntent(email=a.email, slack_webhook_url=a.slack_webhook_url,
                            evaluation_interval_seconds=a.evaluation_interval_seconds),
        deploy=DeployIntent(runner=d.runner, repository=d.repository, github_connection_arn=d.github_connection_arn,
                            deploy_role_arn=d.deploy_role_arn, preview_role_arn=d.preview_role_arn,
                            break_glass_role_arns=d.break_glass_role_arns),
        eks=EksIntent(version=e.version, endpoint_public_access=e.endpoint_public_access,
                      public_access_cidrs=e.public_access_cidrs, system_instance_type=e.system_instance_type,
                      system_nodes=e.system_nodes,
                      storage_reclaim_policy="Retain" if s.production else "Delete") if s.uses_eks else None,
        local=LocalIntent(port_offset=s.local.port_offset, subnet=s.local.subnet),
        app_namespace=e.app_namespace,
        notes=tuple(notes),
    )


def _postgres(s: Settings, zones: int, dr_region: str | None) -> PostgresStore:
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
    dr = DrSite(region=dr_region, azs=s.dr_azs, cidr=s.network.dr_cidr) \
        if p.dr_replica and dr_region is not None else None
    return PostgresStore(
        name="postgres",
        engine="postgres",
        version=p.engine_version,
        ports={"postgres": p.port, "pgbouncer": 6432, "haproxy-write": 5000, "haproxy-read": 5001},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan("continuous", p.backup_retention_days, "rds-automated", rpo_hours=0.1),
        where=Managed() if s.target == "aws" else Docker(),
        instance_class=p.instance_class, replica_instance_class=p.replica_instance_class,
        dr_instance_class=p.dr_instance_class, storage_gb=p.storage_gb, max_storage_gb=p.max_storage_gb,
        iops=p.iops, backup_window=p.backup_window, maintenance_window=p.maintenance_window,
        deletion_protection=p.deletion_protection, storage_encrypted=p.storage_encrypted,
        monitoring_interval_seconds=p.monitoring_interval_seconds,
        performance_insights_retention_days=p.performance_insights_retention_days,
        database_name=p.database_name, master_username=p.master_username,
        max_connections=p.max_connections,
        pooling=Pooling(pool_mode=p.pooling.pool_mode, default_pool_size=p.pooling.default_pool_size,
                        max_client_connections=p.pooling.max_client_connections),
        replica_lag_alarm_seconds=p.replica_lag_alarm_seconds,
        dr=dr,
    )


def _redis(s: Settings, zones: int) -> RedisStore:
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
    return RedisStore(
        name="redis",
        engine=r.engine,
        version=r.engine_version,
        ports={"redis": r.port, "cluster-bus": r.port + 10000},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan("daily " + r.snapshot_window, r.snapshot_retention_days, "elasticache-snapshots",
                          rpo_hours=24),
        where=Managed() if s.target == "aws" else Docker(),
        node_type=r.node_type, multi_az=r.multi_az, transit_encryption=r.transit_encryption,
        at_rest_encryption=r.at_rest_encryption, snapshot_window=r.snapshot_window,
        maintenance_window=r.maintenance_window, maxmemory_policy=r.maxmemory_policy,
        cluster_node_timeout_ms=REDIS_CLUSTER_NODE_TIMEOUT_MS, appendonly=True,
        acl_users=("app_user", "readonly_user"),
    )


def _where(s: Settings, placement: str, instance_type: str, secondary: str | None = None) -> Placement:
    if s.target != "aws":
        return Docker()
    return Eks(instance_type, secondary) if placement == "eks" else Ec2(instance_type, secondary)


def _graph(s: Settings, zones: int) -> GraphStore:
    g = s.graph
    primaries, secondaries = (g.primaries, g.secondaries) if s.graph_enterprise else (1, 0)
    members = [Member(f"graph/primary-{i}", "graph", "graph-primary", (i - 1) % zones)
               for i in range(1, primaries + 1)]
    members += [Member(f"graph/secondary-{i}", "graph", "graph-secondary", (i - 1) % zones)
                for i in range(1, secondaries + 1)]
    links = [ReplicationLink("graph/primary-1", m.id, "cluster") for m in members[1:]]
    return GraphStore(
        name="graph",
        engine="neo4j-enterprise" if s.graph_enterprise else "neo4j-community",
        version=g.version,
        ports={"bolt": 7687, "http": 7474, "discovery": 5000, "raft": 7000, "cluster": 6000, "backup": 6362},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan(g.backup_schedule, s.backups.monthly_days, "s3", rpo_hours=g.rpo_hours),
        where=_where(s, g.placement, g.instance_type, g.secondary_instance_type),
        license_agreement=g.license_agreement,
        volume_gb=g.volume_gb,
    )


def _vector(s: Settings, zones: int) -> VectorStore:
    v = s.vector
    members = [Member(f"vector/peer-{i}", "vector", "peer", (i - 1) % zones) for i in range(1, v.peers + 1)]
    links = [ReplicationLink("vector/peer-1", m.id, "cluster") for m in members[1:]]
    return VectorStore(
        name="vector",
        engine="qdrant",
        version=v.version,
        ports={"http": 6333, "grpc": 6334, "p2p": 6335},
        members=tuple(members),
        links=tuple(links),
        backup=BackupPlan(f"0 */{v.snapshot_interval_hours} * * *", s.backups.monthly_days, "s3",
                          rpo_hours=v.rpo_hours),
        where=_where(s, v.placement, v.instance_type),
        replication_factor=v.replication_factor,
        write_consistency_factor=v.write_consistency_factor,
        distance="Cosine", hnsw={"m": 16, "ef_construct": 100},
        volume_gb=v.volume_gb,
        snapshot_interval_hours=v.snapshot_interval_hours,
    )
