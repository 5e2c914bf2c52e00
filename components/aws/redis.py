"""ElastiCache for Valkey/Redis OSS in cluster mode, with RBAC users, TLS, KMS and log delivery.

``Redis`` (type ``data-platform:aws:Redis``) creates, parented to itself:

* a cache subnet group and a security group (no ingress until :meth:`Redis.allow_from`);
* a parameter group of the engine's family (``valkey8``, ``valkey7`` or ``redis7``) with
  ``cluster-enabled yes`` and the ``maxmemory-policy``;
* RBAC: ``app_user`` (read/write on ``app:*`` keys, no dangerous commands), ``readonly_user`` (read
  commands on every key) and a *disabled* replacement for the ``default`` user (ElastiCache wants a
  user named ``default`` in every user group; the built-in one has full access and no password).
  Passwords are ``random.RandomPassword`` (32 letters and digits: no character that needs quoting
  in ``AUTH`` or a ``rediss://`` URL), given as ``authentication_mode.passwords``, and the two usable
  ones are kept in Secrets Manager (customer KMS key) as ``{username, password, host, port, tls}``;
* rotation without downtime (issue 17): each user has two password slots (odd and even
  ``password_generation``; a slot's ``keepers`` is its generation, so only the slot of a new
  generation gets a new password). Rotate in two deploys: bump ``password_generation`` with
  ``password_overlap=True`` (the user accepts the new *and* the previous password, the secret holds
  the new one), let clients re-read the secret, then ``password_overlap=False`` (the previous one is
  dropped). ElastiCache users take up to two passwords; ``passwords_wo`` in pulumi-aws 7.51 is one
  string and cannot carry the pair, so the passwords go in ``authentication_mode`` (kept in the state
  as secrets, where the ``RandomPassword`` results already are). The secrets carry the
  ``rotation-exempt`` tag naming this procedure (no Secrets Manager schedule: a rotation Lambda
  would have to update the ElastiCache user and run in the VPC);
* two CloudWatch log groups (``slow-log``, ``engine-log``; KMS, 365 days) that the replication group
  delivers JSON logs to;
* the replication group: cluster mode enabled, ``shards`` × (1 + ``replicas_per_shard``) nodes,
  automatic failover, Multi-AZ, TLS *required*, at-rest encryption with the caller's key, the user
  group, daily snapshots, a final snapshot, minor upgrades in the maintenance window.

``cluster-node-timeout`` is not set: ElastiCache runs failure detection and failover itself and keeps
the cluster-bus settings to itself. No AWS page read for this component lists it as a parameter a
custom group may change, and ElastiCache rejects an unmodifiable parameter with
``InvalidParameterValue`` (as it does for changing ``cluster-enabled``), which would fail the apply.
Before adding it, check ``aws elasticache describe-cache-parameters`` for the family
(``IsModifiable``). The local (Docker) stack runs its own cluster and renders
``cluster-node-timeout 5000`` (the seeds' value) in redis.conf.

RBAC needs in-transit encryption on ElastiCache, so ``transit_encryption=False`` is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.alarms import RedisTargets, cluster_mode_member_ids
from components.base import DAY_WINDOW_RE, NAME_RE, WINDOW_RE, ArgsError, Problems, child_opts, merge_tags, slug
from components.limits import (
    MAXMEMORY_POLICIES,
    REDIS_MAX_NODES,
    REDIS_MULTI_AZ_REPLICAS_PER_SHARD,
    REDIS_REPLICAS_PER_SHARD,
    REDIS_SHARDS,
    in_range,
    range_text,
)
from components.render.redis import CLUSTER_CLIENT_COMMANDS

TYPE_TOKEN = "data-platform:aws:Redis"
ENGINE_VERSIONS: dict[str, dict[str, str]] = {
    "valkey": {"7.2": "valkey7", "8.0": "valkey8", "8.1": "valkey8", "8.2": "valkey8"},
    "redis": {"7.0": "redis7", "7.1": "redis7"},
}
"""engine → engine_version → parameter group family. Redis OSS on ElastiCache stops at 7.1 (Valkey 7.2
is its successor)."""
APP_ACCESS = "on ~app:* &* +@all -@dangerous"
"""``app_user``: every non-dangerous command on ``app:*`` keys and all pub/sub channels."""
READONLY_ACCESS = "on ~* -@all +@read +@connection " + " ".join(f"+{c}" for c in CLUSTER_CLIENT_COMMANDS)
"""``readonly_user``: read commands on every key, connection commands (PING, HELLO, ...) and the cluster
commands a cluster-mode client needs to find the shards (``CLUSTER SLOTS``/``SHARDS``/``NODES`` are
``@slow``, not ``@read``: without them a cluster client cannot even connect). The same list as the local
stack's ``users.acl`` (:data:`components.render.redis.CLUSTER_CLIENT_COMMANDS`)."""
DEFAULT_ACCESS = "off -@all"
ROTATION_EXEMPT_TAG = "rotation-exempt"
ROTATION_REASON = ("rotated by pulumi up without downtime: bump passwordGeneration with passwordOverlap true - "
                   "both passwords valid during the switch - then passwordOverlap false")


def slot_generation(generation: int, parity: int) -> int:
    """Generation whose password slot ``parity`` (0 even, 1 odd) holds at ``generation``: the newest
    generation of that parity not above it (0 for the even slot before the first rotation)."""
    return generation if generation % 2 == parity else generation - 1
"""The replacement ``default`` user: disabled, no commands."""
LOG_TYPES = ("slow-log", "engine-log")

_NODE = re.compile(r"^cache\.[a-z0-9]+\.[a-z0-9]+$")


@dataclass(frozen=True)
class RedisArgs:
    """Inputs of :class:`Redis`. Network and key ids come from the network and keys components."""

    vpc_id: pulumi.Input[str]
    """VPC of the cache (the security group lives there)."""
    data_subnet_ids: Sequence[pulumi.Input[str]]
    """Private data subnets (one per AZ) for the cache subnet group."""
    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key for at-rest encryption (and snapshots)."""
    secrets_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key for the users' secrets."""
    logs_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key for the slow/engine log groups; its policy must allow
    ``logs.<region>.amazonaws.com``."""
    name: str = "data-platform"
    """Prefix of every AWS name; the replication group id is ``<name>-redis``. Lowercase letters, digits
    and single hyphens, at most 30 characters. Default: data-platform."""
    engine: str = "valkey"
    """``valkey`` or ``redis`` (Redis OSS). Default: valkey."""
    engine_version: str = "8.0"
    """valkey: 7.2, 8.0, 8.1, 8.2; redis: 7.0, 7.1. Default: 8.0."""
    node_type: str = "cache.r6g.large"
    """Node type. Default: cache.r6g.large."""
    shards: int = 3
    """Node groups (shards), 1..500. Default: 3."""
    replicas_per_shard: int = 1
    """Replicas per shard, 0..5 (at least 1 with ``multi_az``). Default: 1."""
    multi_az: bool = True
    """Place replicas in other AZs and fail over to them (automatic failover is always on in cluster
    mode). Default: True."""
    transit_encryption: bool = True
    """TLS, mode ``required``. Must stay True: ElastiCache RBAC needs it. Default: True."""
    at_rest_encryption: bool = True
    """Encrypt data at rest and snapshots with ``kms_key_arn``. Default: True."""
    snapshot_retention_days: int = 7
    """Daily snapshot retention, 0..35 (0 = no automatic snapshots). Default: 7."""
    snapshot_window: str = "05:00-06:00"
    """Daily snapshot window, UTC ``hh:mm-hh:mm``. Default: 05:00-06:00."""
    maintenance_window: str = "sun:06:30-sun:07:30"
    """Weekly maintenance window, UTC ``ddd:hh:mm-ddd:hh:mm``. Default: sun:06:30-sun:07:30."""
    port: int = 6379
    """Port (1024..65535). Default: 6379."""
    maxmemory_policy: str = "allkeys-lru"
    """Eviction policy. Default: allkeys-lru."""
    log_retention_days: int = 365
    """Retention of the slow/engine log groups. Default: 365."""
    password_generation: int = 1
    """Bump to rotate every user's password (see ``password_overlap``). Default: 1."""
    password_overlap: bool = False
    """Users accept the current and the previous generation's password (the switch of a rotation).
    Default: False."""
    protect: bool = False
    """Protect and retain on delete the replication group and the secrets (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child (merged with ``component=redis``). Default: {}."""


#: ``name`` limit: the replication group id ``<name>-redis`` and its parameter group name must stay within
#: ElastiCache's 40 characters. Use :func:`components.base.fit_name` to derive a name that fits.
NAME_MAX = 30


def validate_redis_args(args: RedisArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("RedisArgs")
    if not (NAME_RE.match(args.name) and len(args.name) <= NAME_MAX):
        problems.add("name", args.name, "lowercase letters, digits and single '-', at most 30 characters")
    if args.engine not in ENGINE_VERSIONS:
        problems.add("engine", args.engine, " or ".join(ENGINE_VERSIONS))
    versions = ENGINE_VERSIONS.get(args.engine)
    if versions is not None and args.engine_version not in versions:
        problems.add("engine_version", args.engine_version, f"{', '.join(versions)} for engine {args.engine}")
    if not _NODE.match(args.node_type):
        problems.add("node_type", args.node_type, "an ElastiCache node type like cache.r7g.large")
    if not in_range(args.shards, REDIS_SHARDS):
        problems.add("shards", args.shards, range_text(REDIS_SHARDS))
    if not in_range(args.replicas_per_shard, REDIS_REPLICAS_PER_SHARD):
        problems.add("replicas_per_shard", args.replicas_per_shard, range_text(REDIS_REPLICAS_PER_SHARD))
    elif args.multi_az and not in_range(args.replicas_per_shard, REDIS_MULTI_AZ_REPLICAS_PER_SHARD):
        problems.add("replicas_per_shard", args.replicas_per_shard,
                     f"{range_text(REDIS_MULTI_AZ_REPLICAS_PER_SHARD)} when multi_az is True")
    nodes = args.shards * (1 + args.replicas_per_shard)
    if nodes > REDIS_MAX_NODES:
        problems.add("shards", args.shards,
                     f"shards x (1 + replicas_per_shard) <= {REDIS_MAX_NODES} nodes, got {nodes}")
    if not args.transit_encryption:
        problems.add("transit_encryption", args.transit_encryption, "True: ElastiCache RBAC users need TLS")
    if not 0 <= args.snapshot_retention_days <= 35:
        problems.add("snapshot_retention_days", args.snapshot_retention_days, "0..35")
    if not WINDOW_RE.match(args.snapshot_window):
        problems.add("snapshot_window", args.snapshot_window, "hh:mm-hh:mm, UTC")
    if not DAY_WINDOW_RE.match(args.maintenance_window):
        problems.add("maintenance_window", args.maintenance_window, "ddd:hh:mm-ddd:hh:mm, UTC")
    if not 1024 <= args.port <= 65535:
        problems.add("port", args.port, "1024..65535")
    if args.maxmemory_policy not in MAXMEMORY_POLICIES:
        problems.add("maxmemory_policy", args.maxmemory_policy, ", ".join(MAXMEMORY_POLICIES))
    if args.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                                       1096, 1827, 2192, 2557, 2922, 3288, 3653):
        problems.add("log_retention_days", args.log_retention_days, "a CloudWatch Logs retention, e.g. 365")
    if args.password_generation < 1:
        problems.add("password_generation", args.password_generation, ">= 1")
    problems.raise_any()


def member_cluster_ids(replication_group_id: str, shards: int, replicas_per_shard: int) -> list[str]:
    """Cache cluster ids of a cluster-mode replication group (``<id>-<shard:04>-<node:03>``), as
    ElastiCache names them; known before deployment (alarms use them)."""
    return list(cluster_mode_member_ids(replication_group_id, shards, replicas_per_shard))


def realized_links(shards: int, replicas_per_shard: int) -> set[tuple[str, str, str]]:
    """``(source, target, mode)``: each replica of a node group replicates (async) from its primary."""
    return {(f"redis/shard-{s}/primary", f"redis/shard-{s}/replica-{r}", "async")
            for s in range(1, shards + 1) for r in range(1, replicas_per_shard + 1)}


def realized_members(replication_group_id: str, shards: int, replicas_per_shard: int) -> dict[str, str]:
    """``{topology member id: cache cluster id}`` of a cluster-mode replication group of ``shards`` node
    groups of one primary and ``replicas_per_shard`` replicas: node 001 of a node group starts as its
    primary (``redis/shard-2/primary``), the others as its replicas (``redis/shard-2/replica-1``)."""
    ids = cluster_mode_member_ids(replication_group_id, shards, replicas_per_shard)
    members = [f"redis/shard-{s}/primary" if n == 0 else f"redis/shard-{s}/replica-{n}"
               for s in range(1, shards + 1) for n in range(replicas_per_shard + 1)]
    return dict(zip(members, ids, strict=True))


class Redis(pulumi.ComponentResource):
    """ElastiCache Valkey/Redis OSS in cluster mode; see the module docstring."""

    configuration_endpoint: pulumi.Output[str]
    port: int
    replication_group_id: str
    """Known at preview (the component sets it), so alarms can use it as a plain string."""
    arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    user_group_id: pulumi.Output[str]
    app_user_secret_arn: pulumi.Output[str]
    readonly_user_secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Input[str] | None
    member_clusters: pulumi.Output[Sequence[str]]
    member_cluster_ids: list[str]
    snapshot_retention_days: int
    realized: dict[str, str]
    """``{topology member id: cache cluster id}`` of every node the replication group was created with
    (``num_node_groups`` x (1 + ``replicas_per_node_group``)), e.g. ``redis/shard-1/replica-1``."""
    realized_links: set[tuple[str, str, str]]
    """``(source, target, mode)`` of the replication inside each node group (replica from its primary)."""
    alarm_targets: RedisTargets
    """The replication group and the node counts it was created with: what :class:`~components.aws.alarms.Alarms`
    alarms on, one alarm per node."""

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_redis_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._args = args
        self._rule_keys: set[str] = set()
        a = args
        p = a.name
        rg_id = f"{p}-redis"
        tags = merge_tags(a.tags, component="redis")

        def opts_(stateful: bool = False, depends_on: Sequence[pulumi.Resource] | None = None
                  ) -> pulumi.ResourceOptions:
            return child_opts(self, stateful=stateful, protect=a.protect, depends_on=depends_on)

        family = ENGINE_VERSIONS[a.engine][a.engine_version]
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", name=rg_id, subnet_ids=list(a.data_subnet_ids),
            description=f"{p} {a.engine} private data subnets", tags=tags, opts=opts_())
        self._sg = aws.ec2.SecurityGroup(
            f"{name}-sg", name=rg_id, vpc_id=a.vpc_id, revoke_rules_on_delete=True,
            description=f"{p} {a.engine}; ingress only from allow_from() on port {a.port}",
            tags=tags, opts=opts_())
        params = aws.elasticache.ParameterGroup(
            f"{name}-params", name=f"{rg_id}-{family}", family=family,
            description=f"{p} {a.engine} {a.engine_version}: cluster mode, {a.maxmemory_policy}",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(name="cluster-enabled", value="yes"),
                aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value=a.maxmemory_policy),
            ],
            tags=tags, opts=opts_())

        gen = a.password_generation

        def user(key: str, user_name: str, access: str) -> tuple[aws.elasticache.User, pulumi.Output[str]]:
            slots: dict[int, random.RandomPassword] = {}
            for parity in (1, 0):
                slot_gen = slot_generation(gen, parity)
                slots[parity] = random.RandomPassword(
                    f"{name}-{key}-password" + ("" if parity else "-even"), length=32, special=False,
                    min_lower=1, min_upper=1, min_numeric=1,
                    # The odd slot had no keepers before rotation existed: none at generation 1 keeps it.
                    keepers={"generation": str(slot_gen)} if slot_gen > 1 or not parity else None,
                    opts=opts_())
            current, previous = slots[gen % 2].result, slots[(gen + 1) % 2].result
            passwords = [current, previous] if a.password_overlap and gen > 1 else [current]
            u = aws.elasticache.User(
                f"{name}-{key}", user_id=f"{p}-{key}", user_name=user_name, engine=a.engine, access_string=access,
                authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="password", passwords=passwords),
                tags=tags, opts=opts_())
            return u, current

        app, app_pw = user("app-user", "app_user", APP_ACCESS)
        ro, ro_pw = user("readonly-user", "readonly_user", READONLY_ACCESS)
        default, _ = user("default", "default", DEFAULT_ACCESS)
        group = aws.elasticache.UserGroup(
            f"{name}-users", user_group_id=f"{p}-users", engine=a.engine,
            user_ids=[default.user_id, app.user_id, ro.user_id], tags=tags, opts=opts_())

        logs = {lt: aws.cloudwatch.LogGroup(
            f"{name}-{lt}", name=f"/aws/elasticache/{rg_id}/{lt}", kms_key_id=a.logs_kms_key_arn,
            retention_in_days=a.log_retention_days, tags=tags, opts=opts_()) for lt in LOG_TYPES}

        # What the replication group is created with: its members and its alarms are counted from these.
        num_node_groups, replicas_per_node_group = a.shards, a.replicas_per_shard
        rg = aws.elasticache.ReplicationGroup(
            f"{name}-cluster", replication_group_id=rg_id,
            description=f"{p} {a.engine} {a.engine_version}, {num_node_groups} shards x "
                        f"{1 + replicas_per_node_group} nodes",
            engine=a.engine, engine_version=a.engine_version, node_type=a.node_type, port=a.port,
            cluster_mode="enabled", num_node_groups=num_node_groups, replicas_per_node_group=replicas_per_node_group,
            automatic_failover_enabled=True, multi_az_enabled=a.multi_az,
            transit_encryption_enabled=True, transit_encryption_mode="required",
            at_rest_encryption_enabled=a.at_rest_encryption,
            kms_key_id=a.kms_key_arn if a.at_rest_encryption else None,
            user_group_ids=[group.user_group_id], parameter_group_name=params.name,
            subnet_group_name=subnets.name, security_group_ids=[self._sg.id],
            snapshot_retention_limit=a.snapshot_retention_days, snapshot_window=a.snapshot_window,
            maintenance_window=a.maintenance_window, auto_minor_version_upgrade=True,
            final_snapshot_identifier=f"{rg_id}-final", apply_immediately=False,
            log_delivery_configurations=[aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                destination=logs[lt].name, destination_type="cloudwatch-logs", log_format="json", log_type=lt)
                for lt in LOG_TYPES],
            tags=tags, opts=opts_(stateful=True))

        def secret(key: str, user_name: str, pw: pulumi.Output[str]) -> aws.secretsmanager.Secret:
            s = aws.secretsmanager.Secret(
                f"{name}-{key}-secret", name_prefix=f"{p}/redis/{user_name}-", kms_key_id=a.secrets_kms_key_arn,
                recovery_window_in_days=30, description=f"{p} {a.engine} user {user_name}",
                tags={**tags, ROTATION_EXEMPT_TAG: ROTATION_REASON}, opts=opts_(stateful=True))
            aws.secretsmanager.SecretVersion(
                f"{name}-{key}-secret-value", secret_id=s.id,
                secret_string=pulumi.Output.json_dumps({  # a secret: the password is one
                    "username": user_name, "password": pw, "host": rg.configuration_endpoint_address,
                    "port": a.port, "tls": True}),
                opts=opts_(stateful=True))
            return s

        app_secret = secret("app-user", "app_user", app_pw)
        ro_secret = secret("readonly-user", "readonly_user", ro_pw)

        self.configuration_endpoint = rg.configuration_endpoint_address
        self.port = a.port
        self.replication_group_id = rg_id
        self.arn = rg.arn
        self.security_group_id = self._sg.id
        self.user_group_id = group.user_group_id
        self.app_user_secret_arn = app_secret.arn
        self.readonly_user_secret_arn = ro_secret.arn
        self.kms_key_arn = a.kms_key_arn if a.at_rest_encryption else None
        self.member_clusters = rg.member_clusters
        self.member_cluster_ids = member_cluster_ids(rg_id, num_node_groups, replicas_per_node_group)
        self.realized = realized_members(rg_id, num_node_groups, replicas_per_node_group)
        self.realized_links = realized_links(num_node_groups, replicas_per_node_group)
        self.alarm_targets = RedisTargets(rg_id, num_node_groups, replicas_per_node_group)
        self.snapshot_retention_days = a.snapshot_retention_days
        self.register_outputs({
            "configurationEndpoint": self.configuration_endpoint, "port": self.port,
            "replicationGroupId": rg.replication_group_id, "arn": self.arn,
            "securityGroupId": self.security_group_id, "userGroupId": self.user_group_id,
            "appUserSecretArn": self.app_user_secret_arn, "readonlyUserSecretArn": self.readonly_user_secret_arn,
            "kmsKeyArn": self.kms_key_arn, "memberClusters": self.member_clusters,
            "snapshotRetentionDays": self.snapshot_retention_days,
        })

    def allow_from(self, security_group_id: pulumi.Input[str], description: str) -> aws.vpc.SecurityGroupIngressRule:
        """Allow TCP on the cache port from ``security_group_id``. The resource name comes from
        ``description`` (stable across runs), so descriptions must be unique."""
        key = slug(description) or "rule"
        if key in self._rule_keys:
            raise ArgsError("Redis.allow_from", "description", description, "unique per component")
        self._rule_keys.add(key)
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-allow-{key}", security_group_id=self._sg.id,
            referenced_security_group_id=security_group_id, ip_protocol="tcp",
            from_port=self._args.port, to_port=self._args.port, description=description,
            tags=merge_tags(self._args.tags, component="redis"), opts=pulumi.ResourceOptions(parent=self))
