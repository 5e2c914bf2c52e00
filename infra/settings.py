"""Stack configuration, validated before any resource is registered.

Every key lives under the project namespace ``data-platform:`` as structured YAML with camelCase
keys, the way Pulumi users write them::

    config:
      aws:region: us-east-1
      data-platform:postgres: {instanceClass: db.r6g.xlarge, readReplicas: 1}

Each section has a safe default, so a two-line stack file works. ``load_settings`` turns the raw
config into one frozen :class:`Settings` object or raises :class:`ConfigError`, whose message is
exactly one line naming the stack file, the key path, the bad value and what is allowed::

    Pulumi.production.yaml: data-platform:redis.shards: 0 is not allowed (1..500)
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic.alias_generators import to_camel

from components.base import DAY_WINDOW_RE, WINDOW_RE
from components.limits import (
    RDS_BACKUP_RETENTION_DAYS,
    REDIS_MULTI_AZ_REPLICAS_PER_SHARD,
    REDIS_REPLICAS_PER_SHARD,
    REDIS_SHARDS,
    MaxmemoryPolicy,
    backup_tiers_in_order,
    in_range,
    range_text,
)
from cost import classes
from cost.usage import ASSUMPTIONS, USAGE_MINIMUM

PROJECT = "data-platform"

#: Regions the program knows the availability-zone letters of (used to name AZs without an
#: API call, so the program is deterministic offline). Others: list the AZs in
#: ``network.availabilityZoneNames``.
KNOWN_AZ_LETTERS: dict[str, str] = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "ab",
    "us-west-2": "abcd",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-central-1": "abc",
    "ap-southeast-1": "abc",
    "ap-northeast-1": "acd",
}



#: IAM role ARNs (paths allowed, as EKS access entries take them), CodeConnections connection ARNs
#: (``codestar-connections`` is the service's older prefix) and GitHub ``owner/name``; the components
#: (``components.aws.eks``, ``components.aws.deploy_runner``) check the same shapes.
ROLE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
CONNECTION_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


class ConfigError(pulumi.RunError):
    """A stack file that cannot be deployed. ``str(err)`` is the one line shown to the user.

    A ``pulumi.RunError``: the Pulumi CLI prints its message without a traceback."""

    def __init__(self, stack_file: str, key: str, value: Any, allowed: str) -> None:
        self.stack_file, self.key, self.value, self.allowed = stack_file, key, value, allowed
        shown = _show(value)
        # Keys of another namespace (aws:region) are shown as the user wrote them.
        full = key if key.startswith("aws:") else f"{PROJECT}:{key}"
        super().__init__(f"{stack_file}: {full}: {shown} is not allowed ({allowed})")


def _unknown_key(key: str, known: Iterable[str]) -> str:
    """``unknown key; did you mean multiAz? known keys: …`` (the suggestion when one is close)."""
    known = sorted(known)
    by_lower = {k.lower(): k for k in known}
    match = by_lower.get(key.lower()) or next(iter(
        difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.7)), None)
    suggestion = by_lower.get(match, match) if match else None
    hint = f"did you mean {suggestion}? " if suggestion else ""
    return f"unknown key; {hint}known keys: " + ", ".join(known)


def _show(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "[secret]"
    if isinstance(value, str):
        return repr(value) if value == "" or " " in value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# --------------------------------------------------------------------------------------------
# Reusable constrained types. The error text of each validator is the "allowed" part.
# --------------------------------------------------------------------------------------------


def _window(v: str) -> str:
    if not WINDOW_RE.match(v):
        raise ValueError("hh24:mi-hh24:mi, UTC")
    return v


def _day_window(v: str) -> str:
    if not DAY_WINDOW_RE.match(v):
        raise ValueError("ddd:hh24:mi-ddd:hh24:mi, UTC")
    return v


def _cidr(v: str) -> str:
    try:
        net = ipaddress.IPv4Network(v, strict=True)
    except ValueError:
        raise ValueError("an IPv4 network such as 10.40.0.0/16") from None
    if not (16 <= net.prefixlen <= 22) or not net.is_private:
        raise ValueError("a private IPv4 network from /16 to /22") from None
    return str(net)


def _region(v: str) -> str:
    if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", v):
        raise ValueError("an AWS region name such as us-east-1")
    return v


def _email(v: str) -> str:
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v):
        raise ValueError("an e-mail address")
    return v


def _role_arn(v: str) -> str:
    if not ROLE_ARN_RE.match(v):
        raise ValueError("an IAM role ARN, arn:aws:iam::<account>:role/[<path>/]<name>")
    return v


def _connection_arn(v: str) -> str:
    if not CONNECTION_ARN_RE.match(v):
        raise ValueError("an AWS CodeConnections connection ARN such as "
                         "arn:aws:codeconnections:us-east-1:123456789012:connection/<uuid>")
    return v


def _repository(v: str) -> str:
    if not REPOSITORY_RE.match(v):
        raise ValueError("owner/name of a GitHub repository")
    return v


def _tag_value(v: str) -> str:
    if not v or len(v) > 256:
        raise ValueError("1..256 characters")
    return v


RoleArn = Annotated[str, AfterValidator(_role_arn)]
ConnectionArn = Annotated[str, AfterValidator(_connection_arn)]
Repository = Annotated[str, AfterValidator(_repository)]
Window = Annotated[str, AfterValidator(_window)]
DayWindow = Annotated[str, AfterValidator(_day_window)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Region = Annotated[str, AfterValidator(_region)]
Email = Annotated[str, AfterValidator(_email)]

Environment = Literal["dev", "staging", "production", "local"]
Placement = Literal["eks", "ec2"]


class _Section(BaseModel):
    """Base of every config section: camelCase keys, unknown keys rejected, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class NetworkSettings(_Section):
    cidr: Cidr = "10.40.0.0/16"
    """VPC CIDR of the primary region. Default: 10.40.0.0/16 (a private /16..../22)."""
    availability_zones: int = Field(3, ge=2, le=6)
    """Number of AZs the data subnets span. Default: 3 (2..6)."""
    availability_zone_names: tuple[str, ...] = ()
    """Explicit AZ names. Default: the first N AZs of the region (a, b, c, ...)."""
    nat_gateways: Literal["none", "single", "perAz"] = "perAz"
    """NAT gateways for egress of private subnets. Default: perAz; dev uses single."""
    dr_cidr: Cidr = "10.41.0.0/16"
    """VPC CIDR of the DR region's smaller network. Default: 10.41.0.0/16."""
    dr_availability_zones: int = Field(2, ge=2, le=6)
    """AZs of the DR network (a DB subnet group needs two). Default: 2."""
    flow_log_retention_days: Literal[30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653] = 365
    """Retention of VPC flow logs in CloudWatch Logs. Default: 365 (CIS/Checkov CKV_AWS_338)."""


class PoolingSettings(_Section):
    pool_mode: Literal["transaction", "session", "statement"] = "transaction"
    """PgBouncer pool mode. Default: transaction (the seeds' choice)."""
    default_pool_size: int = Field(25, ge=1, le=1000)
    """Server connections per user/database pair. Default: 25."""
    max_client_connections: int = Field(2000, ge=10, le=100000)
    """Client connections PgBouncer accepts. Default: 2000."""


class PostgresSettings(_Section):
    engine_version: Literal["16", "17"] = "16"
    """PostgreSQL major version (minor upgrades are automatic). Default: 16 (the seeds' version)."""
    instance_class: str = Field("db.r6g.xlarge", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """Primary instance class. Default: db.r6g.xlarge (4 vCPU/32 GiB Graviton2, the seeds' r6i.xlarge on arm)."""
    replica_instance_class: str | None = Field(None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """In-region read replica class. Default: same as instanceClass."""
    dr_instance_class: str | None = Field(None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """DR replica class. Default: same as instanceClass (it must carry the load after promotion)."""
    storage_gb: int = Field(500, ge=20, le=65536)
    """Allocated gp3 storage in GiB. Default: 500 (>= 400 GiB gives gp3 12,000 IOPS/500 MiBps baseline)."""
    max_storage_gb: int = Field(1000, ge=20, le=65536)
    """Storage autoscaling ceiling in GiB (>= storageGb). Default: 1000."""
    iops: int | None = Field(None, ge=3000, le=64000)
    """Provisioned gp3 IOPS above the baseline. Default: none (baseline 3,000 or 12,000 IOPS)."""
    multi_az: bool = True
    """Synchronous standby in a second AZ. Default: true; production may not turn it off."""
    read_replicas: int = Field(1, ge=0, le=5)
    """In-region read replicas. Default: 1 (0..5)."""
    dr_replica: bool = True
    """Cross-region read replica in drRegion. Default: true; production may not turn it off."""
    backup_retention_days: int = Field(35, ge=RDS_BACKUP_RETENTION_DAYS[0], le=RDS_BACKUP_RETENTION_DAYS[1])
    """Automated backup (PITR) retention in days. Default: 35 (1..35, the RDS maximum)."""
    backup_window: Window = "03:00-04:00"
    """Daily backup window, UTC. Default: 03:00-04:00."""
    maintenance_window: DayWindow = "sun:04:30-sun:05:30"
    """Weekly maintenance window, UTC. Default: sun:04:30-sun:05:30."""
    deletion_protection: bool = True
    """Refuse DeleteDBInstance. Default: true; production may not turn it off."""
    storage_encrypted: bool = True
    """Encrypt storage with the customer-managed RDS key. Default: true; production may not turn it off."""
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = 60
    """Enhanced monitoring granularity (0 = off). Default: 60."""
    performance_insights_retention_days: int = Field(7, ge=7, le=731)
    """Performance Insights retention (7, 731 or a multiple of 31). Default: 7 (free tier)."""
    database_name: str = Field("app", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    """Initial database. Default: app."""
    master_username: str = Field("dp_admin", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    """Master user (not the engine default 'postgres', FSBP RDS.25). Default: dp_admin."""
    port: int = Field(5432, ge=1150, le=65535)
    """Listener port. Default: 5432."""
    max_connections: int = Field(500, ge=50, le=5000)
    """Server max_connections; the PostgresConnectionsHigh alarm of every instance fires above 80 % of it
    (400 of the default: the seeds' threshold). Default: 500."""
    replica_lag_alarm_seconds: int = Field(300, ge=30, le=3600)
    """ReplicaLag alarm threshold; an idle source shows up to 300 s of lag on RDS. Default: 300."""
    pooling: PoolingSettings = PoolingSettings()
    """PgBouncer settings (local stack; guidance on AWS)."""

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, v: int) -> int:
        if v not in (7, 731) and v % 31:
            raise ValueError("7, 731 or a multiple of 31")
        return v


class RedisSettings(_Section):
    engine: Literal["valkey", "redis"] = "valkey"
    """Engine. Default: valkey (20 % cheaper per node, same protocol, AWS's supported path)."""
    engine_version: Literal["7.0", "7.1", "7.2", "8.0", "8.1"] = "8.0"
    """Engine version. Default: 8.0. Valkey: 7.2, 8.0, 8.1; Redis OSS on ElastiCache stops at 7.1."""
    node_type: str = Field("cache.r6g.large", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    """Node type. Default: cache.r6g.large (13 GiB; 3 shards = 39 GiB of data)."""
    shards: int = Field(3, ge=REDIS_SHARDS[0], le=REDIS_SHARDS[1])
    """Node groups (shards). Default: 3 (1..500)."""
    replicas_per_shard: int = Field(1, ge=REDIS_REPLICAS_PER_SHARD[0], le=REDIS_REPLICAS_PER_SHARD[1])
    """Replicas per shard. Default: 1 (0..5); 3 x (1 + 1) = the seeds' 6 nodes."""
    multi_az: bool = True
    """Place replicas in other AZs and fail over automatically. Default: true."""
    transit_encryption: bool = True
    """TLS required. Default: true; production may not turn it off."""
    at_rest_encryption: bool = True
    """At-rest encryption with the customer-managed key. Default: true; production may not turn it off."""
    snapshot_retention_days: int = Field(7, ge=1, le=35)
    """Daily snapshot retention. Default: 7 (1..35)."""
    snapshot_window: Window = "05:00-06:00"
    """Snapshot window, UTC. Default: 05:00-06:00."""
    maintenance_window: DayWindow = "sun:06:30-sun:07:30"
    """Maintenance window, UTC. Default: sun:06:30-sun:07:30."""
    port: int = Field(6379, ge=1024, le=65535)
    """Port. Default: 6379."""
    maxmemory_policy: MaxmemoryPolicy = "allkeys-lru"
    """Eviction policy. Default: allkeys-lru (the seeds')."""


class GraphSettings(_Section):
    enabled: bool = True
    """Deploy Neo4j. Default: true."""
    placement: Placement = "eks"
    """Where members run: eks or ec2. Default: eks."""
    license_agreement: Literal["no", "yes", "eval"] = "no"
    """Neo4j Enterprise licence acceptance (NEO4J_ACCEPT_LICENSE_AGREEMENT). Default: no, which runs a
    single Community server; Enterprise clustering needs yes (or eval outside production)."""
    primaries: int = Field(3, ge=1, le=11)
    """Primary servers (Raft members). Default: 3."""
    secondaries: int = Field(2, ge=0, le=20)
    """Secondary servers (read replicas). Default: 2."""
    version: str = Field("5.26.12", pattern=r"^5\.\d+\.\d+$")
    """Neo4j 5 version (image tag). Default: 5.26.12 (LTS)."""
    instance_type: str = Field("r7g.xlarge", pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    """Instance/node type of primaries. Default: r7g.xlarge (32 GiB: 16 GiB page cache + 8 GiB heap)."""
    secondary_instance_type: str | None = Field(None, pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    """Instance/node type of secondaries. Default: same as instanceType."""
    volume_gb: int = Field(200, ge=10, le=16384)
    """Data volume per member, encrypted gp3. Default: 200."""
    backup_schedule: str = "0 2 * * *"
    """Cron schedule of the online backup. Default: daily 02:00 UTC."""
    rpo_hours: int = Field(24, ge=1, le=168)
    """Recovery point objective checked by `ops backups`. Default: 24."""


class VectorSettings(_Section):
    enabled: bool = True
    """Deploy Qdrant. Default: true."""
    placement: Placement = "eks"
    """Where peers run: eks or ec2. Default: eks."""
    peers: int = Field(3, ge=1, le=50)
    """Qdrant peers. Default: 3."""
    replication_factor: int = Field(2, ge=1, le=10)
    """Default replication factor of new collections (<= peers). Default: 2."""
    write_consistency_factor: int = Field(1, ge=1, le=10)
    """Replicas that must acknowledge a write (<= replicationFactor). Default: 1."""
    version: str = Field("1.15.4", pattern=r"^1\.\d+\.\d+$")
    """Qdrant version (image tag). Default: 1.15.4."""
    instance_type: str = Field("r7g.large", pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    """Instance/node type. Default: r7g.large (16 GiB for HNSW graphs in RAM)."""
    volume_gb: int = Field(100, ge=10, le=16384)
    """Storage per peer, encrypted gp3. Default: 100."""
    snapshot_interval_hours: int = Field(6, ge=1, le=24)
    """Snapshot interval. Default: 6 (the seeds')."""
    rpo_hours: int = Field(6, ge=1, le=168)
    """Recovery point objective checked by `ops backups`. Default: 6."""


class EksSettings(_Section):
    version: str = Field("1.33", pattern=r"^1\.(2[9]|3[0-5])$")
    """Kubernetes version. Default: 1.33 (1.29..1.35 supported)."""
    endpoint_public_access: bool = False
    """Expose the API endpoint publicly. Default: false; production may not turn it on."""
    public_access_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to the public endpoint (never 0.0.0.0/0). Default: none."""
    system_instance_type: str = Field("m7g.large", pattern=r"^[a-z0-9]+\.[a-z0-9]+$")
    """Node type of the untainted system group (CoreDNS, CSI controller, Prometheus). Default: m7g.large."""
    system_nodes: int = Field(2, ge=1, le=10)
    """System nodes. Default: 2 (CoreDNS stays up through a node loss)."""
    app_namespace: str = Field("app", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Namespace of the application allowed to reach the stores. Default: app."""


class DeploySettings(_Section):
    """Where deploys and previews run and who may use the Kubernetes API (README "Production deploy path")."""

    runner: bool = False
    """Create a CodeBuild-hosted GitHub Actions runner in the compute subnets, admitted on 443 to the
    private EKS API; the deploy and preview jobs of this stack run there. Only for stacks with a
    store on EKS. Default: false; production requires it while a store runs on EKS."""
    repository: Repository | None = None
    """owner/name of the GitHub repository whose jobs the runner takes. Required with runner."""
    github_connection_arn: ConnectionArn | None = None
    """AWS CodeConnections connection to GitHub (GitHub App installed on the repository), created and
    authorized once in the console. Required with runner."""
    deploy_role_arn: RoleArn | None = None
    """The role the deploy job assumes (vars.AWS_DEPLOY_ROLE_ARN), given cluster-admin by an access
    entry. Leave it unset when that role created the cluster: EKS made its admin entry then, and a
    second entry for the same principal fails. Default: none."""
    preview_role_arn: RoleArn | None = None
    """The read-only role of pull-request previews (vars.AWS_PREVIEW_ROLE_ARN), given AmazonEKSViewPolicy
    (cluster scope; it cannot read Secrets). Default: none; production requires it with EKS."""
    break_glass_role_arns: tuple[RoleArn, ...] = ()
    """Roles given AmazonEKSClusterAdminPolicy for incidents, assumed by people (with MFA) when CI
    cannot deploy. Default: none; production requires at least one with EKS."""


class ObjectLockSettings(_Section):
    enabled: bool = False
    """S3 Object Lock on backup buckets (set at creation only). Default: false."""
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """Retention mode. Default: GOVERNANCE."""
    days: int = Field(7, ge=1, le=3650)
    """Default retention in days. Default: 7."""


class BackupSettings(_Section):
    daily_days: int = Field(7, ge=1, le=3650)
    """Days a backup stays in S3 Standard before Glacier Instant Retrieval; it moves on to Deep Archive at
    dailyDays + 90 when it then stays the 180-day minimum before expiry. Default: 7."""
    weekly_days: int = Field(30, ge=1, le=3650)
    """Days an overwritten or deleted backup (a noncurrent version) is kept before it expires, between
    dailyDays and monthlyDays. Default: 30."""
    monthly_days: int = Field(365, ge=1, le=3650)
    """Days until a backup expires (it then stays weeklyDays more as a noncurrent version). Default: 365."""
    cross_region: bool = True
    """Replicate backup buckets to drRegion. Default: true; production may not turn it off."""
    object_lock: ObjectLockSettings = ObjectLockSettings()
    """Object lock (compliance retention)."""


class AlertSettings(_Section):
    email: Email | None = None
    """E-mail subscribed to the alarm topic. Default: none (topic only)."""
    slack_webhook_url: SecretStr | None = None
    """Slack incoming-webhook URL Alertmanager posts critical alerts to; set it with
    `pulumi config set --secret --path data-platform:alerts.slackWebhookUrl`. Default: none."""
    evaluation_interval_seconds: int = Field(30, ge=5, le=600)
    """Prometheus rule evaluation interval. Default: 30."""


class BudgetSettings(_Section):
    monthly_usd: float | None = Field(None, gt=0)
    """Monthly budget; the review fails when the priced total exceeds it. Default: none."""


def _usage_settings() -> type[_Section]:
    """The ``usage`` section, built from ``cost.usage.ASSUMPTIONS`` (the one home of each assumption:
    key, default, unit and meaning) and its bound ``cost.usage.USAGE_MINIMUM``."""
    fields: dict[str, Any] = {
        a.attr: (float, Field(int(a.default) if a.default.is_integer() else a.default, ge=USAGE_MINIMUM,
                              alias=a.key,
                              description=f"{a.doc} Unit: {a.unit}. Default: {a.default:g}."))
        for a in ASSUMPTIONS
    }
    model = create_model("UsageSettings", __base__=_Section, **fields)
    model.__doc__ = "Usage assumptions the cost model prices (data size, growth, writes, transfer); not resources."
    return model


UsageSettings = _usage_settings()


class LocalSettings(_Section):
    bind_address: Literal["127.0.0.1"] = "127.0.0.1"
    """Host address published ports bind to. Always 127.0.0.1."""
    port_offset: int = Field(0, ge=0, le=20000)
    """Added to every published port, to run two local stacks. Default: 0."""
    subnet: str = Field("10.240.40.0/24", pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/\d{1,2}$")
    """Docker network subnet, outside Docker's default pools; one per local stack. Default: 10.240.40.0/24."""


class Settings(_Section):
    """The whole stack config, validated."""

    stack: str
    """Stack name."""
    stack_file: str
    """Stack file name, for messages."""
    environment: Environment
    """dev | staging | production | local: the rules the stack is held to. State it in every stack file.
    Default: production (the strictest) on AWS whatever the stack's name, local for the docker target."""
    environment_stated: bool = True
    """Whether the stack file states ``environment`` (the topology notes say when it does not)."""
    target: Literal["aws", "docker"] = "aws"
    """aws or docker. Default: aws."""
    region: Region = "us-east-1"
    """Primary region (aws:region). Default: us-east-1."""
    dr_region: Region | None = "us-west-2"
    """DR region (DR replica, replicated buckets). Default: us-west-2."""
    network: NetworkSettings = NetworkSettings()
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    graph: GraphSettings = GraphSettings()
    vector: VectorSettings = VectorSettings()
    eks: EksSettings = EksSettings()
    deploy: DeploySettings = DeploySettings()
    backups: BackupSettings = BackupSettings()
    alerts: AlertSettings = AlertSettings()
    budget: BudgetSettings = BudgetSettings()
    usage: UsageSettings = UsageSettings()  # type: ignore[valid-type]
    local: LocalSettings = LocalSettings()
    tags: dict[str, Annotated[str, AfterValidator(_tag_value)]] = {"team": "data", "costCenter": "platform"}
    """Tags on every resource (camelCase keys become kebab-case tag keys). Default: team, costCenter."""

    # ---- derived values --------------------------------------------------------------------

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def azs(self) -> tuple[str, ...]:
        return _az_names(self.region, self.network.availability_zones, self.network.availability_zone_names)

    @property
    def dr_azs(self) -> tuple[str, ...]:
        assert self.dr_region
        return _az_names(self.dr_region, self.network.dr_availability_zones, ())

    @property
    def protect(self) -> bool:
        """Stateful resources are protected and retained on delete in production."""
        return self.production

    def resource_tags(self) -> dict[str, str]:
        tags = {_kebab(k): v for k, v in self.tags.items()}
        tags.update({"environment": self.environment, "stack": self.stack, "managed-by": "pulumi",
                     "project": PROJECT})
        return tags

    @property
    def uses_eks(self) -> bool:
        return self.target == "aws" and (
            (self.graph.enabled and self.graph.placement == "eks")
            or (self.vector.enabled and self.vector.placement == "eks")
        )

    @property
    def graph_enterprise(self) -> bool:
        return self.graph.license_agreement in ("yes", "eval")


def _kebab(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


def _az_names(region: str, count: int, explicit: tuple[str, ...]) -> tuple[str, ...]:
    if explicit:
        return explicit[:count]
    letters = KNOWN_AZ_LETTERS.get(region, "abc")
    return tuple(f"{region}{letter}" for letter in letters[:count])


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

_SECTIONS = {
    "target", "drRegion", "environment", "network", "postgres", "redis", "graph", "vector", "eks",
    "deploy", "backups", "alerts", "budget", "usage", "local", "tags",
}


def default_environment(target: str) -> str:
    """The environment of a stack file that does not state ``data-platform:environment``: the strictest
    (production) on AWS, whatever the stack is called; local for the docker target. Production rules
    follow the environment a stack file states, never its name."""
    return "local" if target == "docker" else "production"


def load_settings(stack: str, config: Mapping[str, Any], stack_file: str | None = None) -> Settings:
    """Validate raw stack config (``{"data-platform:redis": {...}, "aws:region": "..."}``).

    Values may be already-parsed objects (from YAML) or JSON strings (as ``pulumi.Config`` holds
    structured values). Raises :class:`ConfigError` on the first problem, in key order.
    """
    stack_file = stack_file or f"Pulumi.{stack}.yaml"
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if ns == "aws" and key == "region":
            raw["region"] = value
            continue
        if ns != PROJECT:
            continue
        if key == "region":
            raise ConfigError(stack_file, key, value, "unknown key; did you mean aws:region? the region is a key "
                                                      "of the aws namespace")
        if key not in _SECTIONS:
            raise ConfigError(stack_file, key, value, _unknown_key(key, _SECTIONS))
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        raw[key] = value
    raw["stack"], raw["stackFile"] = stack, stack_file
    target = raw.get("target", "aws")
    raw["environmentStated"] = "environment" in raw
    raw.setdefault("environment", default_environment(target if isinstance(target, str) else "aws"))
    if raw.get("target") == "docker" and "drRegion" not in raw:
        raw["drRegion"] = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise _to_config_error(stack_file, err, raw) from None
    _cross_field(settings)
    return settings


def _to_config_error(stack_file: str, err: ValidationError, raw: Mapping[str, Any]) -> ConfigError:
    error = _config_error(stack_file, err)
    if error.key == "region":  # Settings.region is aws:region in the stack file: report the key written there
        return ConfigError(stack_file, "aws:region", error.value, error.allowed)
    return error


def _config_error(stack_file: str, err: ValidationError) -> ConfigError:
    e = err.errors(include_url=False)[0]
    loc = [str(p) for p in e["loc"]]
    value = e.get("input")
    etype = e["type"]
    ctx = e.get("ctx") or {}
    if etype == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = _unknown_key(loc[-1], (f.alias or n for n, f in model.model_fields.items()))
        return ConfigError(stack_file, ".".join(loc), value, allowed)
    if etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        field = _field_at(loc)
        allowed = _range_text(field) if field is not None else _ctx_text(etype, ctx)
    elif etype == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "")
    elif etype == "string_pattern_mismatch":
        field = _field_at(loc)
        allowed = _pattern_hint(loc[-1], field)
    elif etype == "value_error":
        allowed = str(ctx.get("error", e["msg"]))
    elif etype in ("int_parsing", "int_type", "int_from_float"):
        allowed = "a whole number" + (f", {_range_text(f)}" if (f := _field_at(loc)) else "")
    elif etype in ("bool_parsing", "bool_type"):
        allowed = "true or false"
    elif etype in ("float_parsing", "float_type"):
        allowed = "a number"
    elif etype in ("model_type", "dict_type", "model_attributes_type"):
        allowed = "a map of keys"
    elif etype in ("string_type",):
        allowed = "a string"
    elif etype in ("tuple_type", "list_type"):
        allowed = "a list"
    else:
        allowed = e["msg"]
    return ConfigError(stack_file, ".".join(loc), value, allowed)


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = Settings
    for part in loc:
        field = _lookup(model, part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            break
        model = field.annotation
    return model


def _lookup(model: type[BaseModel], key: str):
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _field_at(loc: list[str]):
    return _lookup(_model_at(loc[:-1]), loc[-1]) if loc else None


def _range_text(field) -> str:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
        if getattr(m, "gt", None) is not None:
            return f"> {m.gt}"
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def _ctx_text(etype: str, ctx: Mapping[str, Any]) -> str:
    sym = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[etype]
    bound = next(iter(ctx.values()), "")
    return f"{sym} {bound}"


def _pattern_hint(key: str, field) -> str:
    if key.endswith("instanceClass") or key in ("replicaInstanceClass", "drInstanceClass"):
        return "an RDS instance class such as db.r6g.xlarge"
    if key == "nodeType":
        return "an ElastiCache node type such as cache.r6g.large"
    if "nstanceType" in key:
        return "an EC2 instance type such as r7g.xlarge"
    if key == "version":
        return "a version such as " + str(field.default if field is not None else "")
    if key in ("databaseName", "masterUsername"):
        return "lower-case letters, digits and _, starting with a letter"
    if key == "appNamespace":
        return "a DNS-1123 label"
    return "see the config reference in README.md"


def _cross_field(s: Settings) -> None:
    """Rules that involve more than one key. Production may not weaken safety."""

    def fail(key: str, value: Any, allowed: str) -> None:
        raise ConfigError(s.stack_file, key, value, allowed)

    p, r, g, v, b = s.postgres, s.redis, s.graph, s.vector, s.backups
    if p.max_storage_gb < p.storage_gb:
        fail("postgres.maxStorageGb", p.max_storage_gb, f">= postgres.storageGb ({p.storage_gb})")
    if v.replication_factor > v.peers:
        fail("vector.replicationFactor", v.replication_factor, f"<= vector.peers ({v.peers})")
    if v.write_consistency_factor > v.replication_factor:
        fail("vector.writeConsistencyFactor", v.write_consistency_factor,
             f"<= vector.replicationFactor ({v.replication_factor})")
    if not backup_tiers_in_order(b.daily_days, b.weekly_days, b.monthly_days):
        fail("backups.weeklyDays", b.weekly_days,
             f"between backups.dailyDays ({b.daily_days}) and backups.monthlyDays ({b.monthly_days})")
    if r.multi_az and not in_range(r.replicas_per_shard, REDIS_MULTI_AZ_REPLICAS_PER_SHARD):
        fail("redis.replicasPerShard", r.replicas_per_shard,
             f"{range_text(REDIS_MULTI_AZ_REPLICAS_PER_SHARD)} when redis.multiAz is true")
    if r.engine == "redis" and r.engine_version not in ("7.0", "7.1"):
        fail("redis.engineVersion", r.engine_version, "7.0 or 7.1 for engine redis")
    if r.engine == "valkey" and r.engine_version not in ("7.2", "8.0", "8.1"):
        fail("redis.engineVersion", r.engine_version, "7.2, 8.0 or 8.1 for engine valkey")
    if g.enabled and g.license_agreement == "no" and s.environment not in ("dev", "local") \
            and (g.primaries > 1 or g.secondaries > 0):
        # dev and local fall back to one Community server (the review says so); elsewhere the
        # cluster the stack asks for needs the Enterprise licence accepted explicitly.
        fail("graph.licenseAgreement", g.license_agreement,
             f"yes or eval: {g.primaries} primaries + {g.secondaries} secondaries need Neo4j Enterprise")
    if g.enabled and s.graph_enterprise and g.primaries == 2:
        fail("graph.primaries", 2, "1 or 3..11: two primaries cannot keep a Raft majority through a loss")
    if s.target == "aws":
        if s.dr_region is not None and s.dr_region == s.region:
            fail("drRegion", s.dr_region, f"a region other than aws:region ({s.region})")
        if s.dr_region is None and (p.dr_replica or b.cross_region):
            fail("drRegion", None, "a region name while postgres.drReplica or backups.crossRegion is true")
        letters = KNOWN_AZ_LETTERS.get(s.region)
        if not s.network.availability_zone_names and letters is not None \
                and s.network.availability_zones > len(letters):
            fail("network.availabilityZones", s.network.availability_zones, f"1..{len(letters)} in {s.region}")
        if not s.network.availability_zone_names and s.region not in KNOWN_AZ_LETTERS:
            fail("network.availabilityZoneNames", [], f"the AZ names of {s.region} (region not built in)")
        for cidr in s.eks.public_access_cidrs:
            if cidr in ("0.0.0.0/0", "::/0"):
                fail("eks.publicAccessCidrs", cidr, "specific CIDRs, never the whole internet")
        _deploy_rules(s, fail)
        _priced_classes(s, fail)
    if s.environment == "production":
        _production_rules(s, fail)
    if s.environment != "dev" and s.target == "aws":
        if g.enabled and g.primaries == 1:
            fail("graph.primaries", 1, "3..11 outside dev: a single member has no failover")
        if v.enabled and v.peers == 1:
            fail("vector.peers", 1, "3..50 outside dev: a single peer has no failover")


def _deploy_rules(s: Settings, fail) -> None:
    """The deploy section: a runner only where there is a private Kubernetes API to reach, with what
    it needs; one access entry per principal."""
    d = s.deploy
    if d.runner and not s.uses_eks:
        fail("deploy.runner", True, "false when no store runs on EKS: there is no Kubernetes API to reach")
    if d.runner and d.repository is None:
        fail("deploy.repository", None, "owner/name of the GitHub repository when deploy.runner is true")
    if d.runner and d.github_connection_arn is None:
        fail("deploy.githubConnectionArn", None, "a CodeConnections connection ARN when deploy.runner is true")
    seen: dict[str, str] = {}
    for key, arn in ([("deploy.deployRoleArn", d.deploy_role_arn), ("deploy.previewRoleArn", d.preview_role_arn)]
                     + [("deploy.breakGlassRoleArns", a) for a in d.break_glass_role_arns]):
        if arn is None:
            continue
        if arn in seen:
            fail(key, arn, f"a role other than {seen[arn]}'s: EKS allows one access entry per principal")
        name = arn.rsplit("/", 1)[-1]
        if name in seen:
            fail(key, arn, f"a role name other than {seen[name]}'s: access entries are named after the role")
        seen[arn] = seen[name] = key


def _priced_classes(s: Settings, fail) -> None:
    """Every instance class and node type the stack uses has a price where it runs: the price table
    (``cost/prices.csv``) is the list of allowed classes, so the review never prices a stack as
    unknown because of a typo or a class nobody priced."""
    p, r, g, v = s.postgres, s.redis, s.graph, s.vector
    dr = (s.dr_region,) if s.dr_region and p.dr_replica else ()
    single, multi = "single-az", "multi-az" if p.multi_az else "single-az"
    checks: list[tuple[str, str | None, classes.Kind, tuple[str, ...], str | None]] = [
        ("postgres.instanceClass", p.instance_class, classes.RDS, (s.region,), multi),
        # the DR replica (Single-AZ) and the read replicas default to the primary's class
        ("postgres.instanceClass", p.instance_class if p.dr_instance_class is None else None, classes.RDS, dr,
         single),
        ("postgres.instanceClass", p.instance_class if p.read_replicas and p.replica_instance_class is None
         else None, classes.RDS, (s.region,), single),
        ("postgres.replicaInstanceClass", p.replica_instance_class if p.read_replicas else None, classes.RDS,
         (s.region,), single),
        ("postgres.drInstanceClass", p.dr_instance_class if dr else None, classes.RDS, dr, single),
        ("redis.nodeType", r.node_type, classes.ELASTICACHE, (s.region,), r.engine),
        ("graph.instanceType", g.instance_type if g.enabled else None, classes.EC2, (s.region,), None),
        ("graph.secondaryInstanceType", g.secondary_instance_type if g.enabled and g.secondaries else None,
         classes.EC2, (s.region,), None),
        ("vector.instanceType", v.instance_type if v.enabled else None, classes.EC2, (s.region,), None),
        ("eks.systemInstanceType", s.eks.system_instance_type if s.uses_eks else None, classes.EC2, (s.region,),
         None),
    ]
    for key, value, kind, regions, variant in checks:
        if value is not None and (allowed := classes.unpriced(kind, value, regions, variant)) is not None:
            fail(key, value, allowed)


def _production_rules(s: Settings, fail) -> None:
    must_be_true = [
        ("postgres.multiAz", s.postgres.multi_az),
        ("postgres.deletionProtection", s.postgres.deletion_protection),
        ("postgres.storageEncrypted", s.postgres.storage_encrypted),
        ("postgres.drReplica", s.postgres.dr_replica),
        ("redis.multiAz", s.redis.multi_az),
        ("redis.transitEncryption", s.redis.transit_encryption),
        ("redis.atRestEncryption", s.redis.at_rest_encryption),
        ("backups.crossRegion", s.backups.cross_region),
    ]
    for key, value in must_be_true:
        if not value:
            fail(key, False, "true in production")
    if s.eks.endpoint_public_access:
        fail("eks.endpointPublicAccess", True, "false in production")
    if s.postgres.backup_retention_days < 7:
        fail("postgres.backupRetentionDays", s.postgres.backup_retention_days, "7..35 in production")
    if s.network.nat_gateways == "single":
        fail("network.natGateways", "single", "perAz or none in production (one NAT is one AZ's outage)")
    if s.graph.enabled and s.graph.license_agreement != "yes":
        fail("graph.licenseAgreement", s.graph.license_agreement, "yes in production")
    if s.graph.enabled and s.graph.primaries < 3:
        fail("graph.primaries", s.graph.primaries, "3..11 in production")
    if s.vector.enabled and s.vector.replication_factor < 2:
        fail("vector.replicationFactor", s.vector.replication_factor, "2..peers in production")
    if s.uses_eks:
        # The API endpoint stays private (above), so deploys and previews must run inside the VPC.
        if not s.deploy.runner:
            fail("deploy.runner", False, "true in production while a store runs on EKS: the private API "
                                         "endpoint is reachable only from inside the VPC")
        if s.deploy.preview_role_arn is None:
            fail("deploy.previewRoleArn", None, "the read-only role of pull-request previews, in production "
                                                "with EKS (previews read the cluster)")
        if not s.deploy.break_glass_role_arns:
            fail("deploy.breakGlassRoleArns", [], "at least one role in production with EKS (cluster-admin "
                                                  "when CI cannot deploy)")
