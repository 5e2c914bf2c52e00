"""RDS for PostgreSQL: a Multi-AZ primary, in-region read replicas and a cross-region DR replica.

``Postgres`` (type ``data-platform:aws:Postgres``) creates, parented to itself:

* a PostgreSQL parameter group (``rds.force_ssl``, connection/lock/slow-statement logging,
  ``pg_stat_statements``, ``max_connections``) in the primary region, and a copy in the DR region for
  the DR replica: a cross-region replica cannot use a parameter group of another region, and without
  one RDS gives it the engine's *default* group;
* a DB subnet group and a security group (no ingress until :meth:`Postgres.allow_from`), and, for the
  DR replica, both again in ``dr_region``: passed explicitly, because a cross-region replica's subnet
  group otherwise defaults to the DR region's ``default`` group (the default VPC);
* the master password: a ``random.RandomPassword`` kept in a Secrets Manager secret (customer KMS
  key, 30-day recovery window) as ``{username, password, host, port, dbname, engine}`` and passed
  to RDS write-only (``password_wo`` + ``password_wo_version``). The RDS-managed password
  (``manage_master_user_password``, which conflicts with ``password``/``password_wo``) is not used:
  RDS refuses to create a read replica of a source whose master password Secrets Manager manages
  (every engine but SQL Server; AWS RDS User Guide, "Limitations for Secrets Manager integration";
  terraform-aws-rds #512/#532 hit it), and this component keeps in-region and cross-region
  replicas. The master password rotates by bumping ``master_password_generation`` (a new
  ``RandomPassword`` via its keepers, the same number as ``password_wo_version``, so RDS receives
  it; replicas follow through physical replication); the secret carries the ``rotation-exempt``
  tag with that reason;
* the database roles (``roles=True``): a :class:`components.aws.db_roles.PostgresRoles` child
  with ``migration_user``/``app_user``/``readonly_user`` and their secrets; :meth:`Postgres.apply_roles_from`
  (the in-VPC deploy runner's security group) opens the path and applies the roles bootstrap
  (components/render/postgres_roles.py) on ``up``;
* the enhanced-monitoring role (IAM is global: the DR replica uses the same role);
* CloudWatch log groups ``/aws/rds/instance/<id>/{postgresql,upgrade}`` for every instance, KMS
  encrypted, 365-day retention, created *before* the instances (otherwise RDS creates them
  unencrypted with infinite retention);
* the primary (gp3 with an autoscaling ceiling, encrypted with the caller's RDS key, Multi-AZ,
  Performance Insights with the same key, enhanced monitoring, log exports, IAM auth, deletion
  protection, final snapshot, ``copy_tags_to_snapshot``, extended-support opt-out, TLS CA pinned);
* ``read_replicas`` in-region replicas, the DR replica in ``dr_region`` (source = the primary's
  ARN, the DR-region key) and cross-region automated-backups replication (PITR in the DR region).

Decisions worth knowing:

* In-region replicas keep ``backup_retention_period=0`` and ``skip_final_snapshot=True``: they hold
  no data the primary does not, RDS rejects a final snapshot identifier when deleting a replica,
  and PITR comes from the primary. The DR replica keeps ``backup_retention_days`` of automated
  backups (so, once promoted, it has PITR at once and can be a replication source) and
  ``delete_automated_backups=False``; it also skips the final snapshot while it is a replica
  (RDS refuses one); after a promotion, set a final snapshot on it before any deletion.
* ``engine_lifecycle_support`` is set on the primary only; replicas inherit the source's setting.
* The final snapshot identifier is fixed (``<name>-pg-final``): deleting, recreating and deleting
  again needs the old snapshot renamed or removed first.
* The security groups declare no inline rules: ingress comes from ``aws.vpc.SecurityGroupIngressRule``
  children (inline rules would remove them), and the AWS default allow-all egress rule is removed
  by the provider at creation; RDS needs no egress.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.alarms import RdsTarget
from components.aws.db_roles import ROTATION_EXEMPT_TAG, PostgresRoles, PostgresRolesArgs
from components.base import DAY_WINDOW_RE, NAME_RE, WINDOW_RE, ArgsError, Problems, child_opts, merge_tags, slug
from components.limits import RDS_BACKUP_RETENTION_DAYS, in_range, range_text

TYPE_TOKEN = "data-platform:aws:Postgres"
NAME_MAX = 40
"""Longest ``PostgresArgs.name``: ``<name>-pg-dr-final``-style identifiers and ``<name>-rds-monitoring``
stay within RDS's 63 and IAM's 64 characters. Use :func:`components.base.fit_name` to derive a name
that fits."""
ENGINE_FAMILIES = {"16": "postgres16", "17": "postgres17"}
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
GP3_IOPS_MIN_STORAGE_GB = 400
"""Below this allocated size RDS for PostgreSQL gp3 has a fixed 3,000 IOPS baseline and rejects ``iops``."""
GP3_IOPS_RANGE = (12000, 64000)
CA_CERT = "rds-ca-rsa2048-g1"
LOG_EXPORTS = ("postgresql", "upgrade")
PASSWORD_SPECIALS = "!*()-_=+[]{}<>"
"""RDS refuses '/', '@', '"' and space in a master password; '#', '%', ':', '?', '&' would need escaping
in libpq connection URIs, so they are left out too."""
MASTER_ROTATION_REASON = ("RDS-managed master password is refused for sources of read replicas - rotate by "
                          "bumping masterPasswordGeneration")
MONITORING_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"

_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_USER = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


@dataclass(frozen=True)
class PostgresArgs:
    """Inputs of :class:`Postgres`. Network and key ids come from the network and keys components."""

    vpc_id: pulumi.Input[str]
    """VPC of the primary and the in-region replicas (the security group lives there)."""
    data_subnet_ids: Sequence[pulumi.Input[str]]
    """Private data subnets (at least two AZs for Multi-AZ) for the DB subnet group."""
    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (purpose ``rds``) for storage and Performance Insights, in the primary
    region."""
    secrets_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (purpose ``secrets``) for the master-credentials secret."""
    logs_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (purpose ``logs``) for the RDS CloudWatch log groups; its policy must
    allow ``logs.<region>.amazonaws.com``."""
    name: str = "data-platform"
    """Prefix of every AWS name (instance identifiers ``<name>-pg``, ``<name>-pg-replica-1``,
    ``<name>-pg-dr``; groups, secret, role). Lowercase letters, digits and single hyphens, at most
    40 characters. Default: data-platform."""
    engine_version: str = "16"
    """PostgreSQL major version ("16" or "17"); minor versions upgrade automatically in the maintenance
    window. Default: 16."""
    instance_class: str = "db.r6g.xlarge"
    """Primary instance class. Default: db.r6g.xlarge."""
    replica_instance_class: str | None = None
    """In-region read replica class. Default: same as ``instance_class``."""
    dr_instance_class: str | None = None
    """DR replica class. Default: same as ``instance_class`` (it carries the load after promotion)."""
    storage_gb: int = 500
    """Allocated gp3 storage in GiB (20..65536). At 400 GiB and above gp3 has a 12,000 IOPS /
    500 MiBps baseline. Default: 500."""
    max_storage_gb: int = 1000
    """Storage autoscaling ceiling in GiB (>= ``storage_gb``). Default: 1000."""
    iops: int | None = None
    """Provisioned gp3 IOPS above the baseline (12000..64000); only allowed when ``storage_gb`` >= 400.
    Default: None (the baseline)."""
    multi_az: bool = True
    """Synchronous standby in a second AZ. Default: True."""
    read_replicas: int = 1
    """In-region read replicas (0..5). Default: 1."""
    dr_replica: bool = False
    """Create a cross-region replica and replicate automated backups to ``dr_region``; needs every
    ``dr_*`` field. Default: False."""
    dr_region: str | None = None
    """DR region, e.g. us-west-2. Default: None (required when ``dr_replica``)."""
    dr_vpc_id: pulumi.Input[str] | None = None
    """VPC in ``dr_region`` for the DR security group. Default: None (required when ``dr_replica``)."""
    dr_data_subnet_ids: Sequence[pulumi.Input[str]] | None = None
    """Private subnets in ``dr_region`` for the DR subnet group. Default: None (required when
    ``dr_replica``)."""
    dr_kms_key_arn: pulumi.Input[str] | None = None
    """RDS KMS key in ``dr_region`` (KMS keys are regional) for the DR replica, its Performance
    Insights and the replicated backups. Default: None (required when ``dr_replica``)."""
    dr_logs_kms_key_arn: pulumi.Input[str] | None = None
    """Logs KMS key in ``dr_region`` for the DR replica's log groups. Default: None (required when
    ``dr_replica``)."""
    backup_retention_days: int = 35
    """Automated backup (PITR) retention, 1..35 days; also the retention of the replicated backups and
    of the DR replica's own backups. Default: 35."""
    backup_window: str = "03:00-04:00"
    """Daily backup window, UTC ``hh:mm-hh:mm``. Default: 03:00-04:00."""
    maintenance_window: str = "sun:04:30-sun:05:30"
    """Weekly maintenance window, UTC ``ddd:hh:mm-ddd:hh:mm``. Default: sun:04:30-sun:05:30."""
    deletion_protection: bool = True
    """RDS deletion protection on every instance. Default: True."""
    storage_encrypted: bool = True
    """Encrypt storage with ``kms_key_arn`` (the DR replica with ``dr_kms_key_arn``). Default: True."""
    monitoring_interval: int = 60
    """Enhanced monitoring interval in seconds (0 = off, 1, 5, 10, 15, 30, 60). Default: 60."""
    performance_insights_retention_days: int = 7
    """Performance Insights retention: 7, 731 or a multiple of 31 (up to 731). Default: 7."""
    database_name: str = "app"
    """Initial database. Default: app."""
    master_username: str = "dp_admin"
    """Master user name (not ``postgres``). Default: dp_admin."""
    port: int = 5432
    """Listener port (1150..65535). Default: 5432."""
    max_connections: int = 500
    """Server ``max_connections`` (static: applied at the next reboot). Default: 500."""
    log_min_duration_ms: int = 500
    """``log_min_duration_statement`` in ms (-1 = off). Default: 500."""
    log_retention_days: int = 365
    """Retention of the RDS CloudWatch log groups. Default: 365."""
    master_password_generation: int = 1
    """Bump to rotate the master password (new random password, ``password_wo_version``). Default: 1."""
    roles: bool = True
    """Create the roles-as-code logins and their secrets; :meth:`Postgres.apply_roles_from` applies the
    bootstrap from an in-VPC deploy host. Default: True."""
    roles_schema: str = "app"
    """Application schema ``migration_role`` owns. Default: app."""
    roles_rotation_generation: int = 1
    """Bump to rotate the three login passwords. Default: 1."""
    protect: bool = False
    """Protect and retain on delete the instances, the secret and the backups replication (production).
    Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child (merged with ``component=postgres`` and a ``role``). Default: {}."""


def _allowed_pi_retention(days: int) -> bool:
    return days in (7, 731) or (0 < days <= 731 and days % 31 == 0)


def validate_postgres_args(args: PostgresArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("PostgresArgs")
    if not (NAME_RE.match(args.name) and len(args.name) <= NAME_MAX):
        problems.add("name", args.name, "lowercase letters, digits and single '-', at most 40 characters")
    if args.engine_version not in ENGINE_FAMILIES:
        problems.add("engine_version", args.engine_version, " or ".join(ENGINE_FAMILIES))
    for fname in ("instance_class", "replica_instance_class", "dr_instance_class"):
        value = getattr(args, fname)
        if value is not None and not _CLASS.match(value):
            problems.add(fname, value, "an RDS instance class like db.r6g.xlarge")
    if not 20 <= args.storage_gb <= 65536:
        problems.add("storage_gb", args.storage_gb, "20..65536")
    if not args.storage_gb <= args.max_storage_gb <= 65536:
        problems.add("max_storage_gb", args.max_storage_gb, f"{args.storage_gb}..65536 (>= storage_gb)")
    if args.iops is not None:
        if args.storage_gb < GP3_IOPS_MIN_STORAGE_GB:
            problems.add("iops", args.iops,
                         f"gp3 iops needs storage_gb >= {GP3_IOPS_MIN_STORAGE_GB}, storage_gb is {args.storage_gb}")
        lo, hi = GP3_IOPS_RANGE
        if not lo <= args.iops <= hi:
            problems.add("iops", args.iops, f"{lo}..{hi}")
    if not 0 <= args.read_replicas <= 5:
        problems.add("read_replicas", args.read_replicas, "0..5")
    if not in_range(args.backup_retention_days, RDS_BACKUP_RETENTION_DAYS):
        problems.add("backup_retention_days", args.backup_retention_days, range_text(RDS_BACKUP_RETENTION_DAYS))
    if not WINDOW_RE.match(args.backup_window):
        problems.add("backup_window", args.backup_window, "hh:mm-hh:mm, UTC")
    if not DAY_WINDOW_RE.match(args.maintenance_window):
        problems.add("maintenance_window", args.maintenance_window, "ddd:hh:mm-ddd:hh:mm, UTC")
    if args.monitoring_interval not in MONITORING_INTERVALS:
        problems.add("monitoring_interval", args.monitoring_interval,
                     ", ".join(map(str, MONITORING_INTERVALS)))
    if not _allowed_pi_retention(args.performance_insights_retention_days):
        problems.add("performance_insights_retention_days", args.performance_insights_retention_days,
                     "7, 731 or a multiple of 31")
    if not _IDENT.match(args.database_name):
        problems.add("database_name", args.database_name, "[a-z][a-z0-9_]{0,62}")
    if not _USER.match(args.master_username) or args.master_username in ("postgres", "rdsadmin"):
        problems.add("master_username", args.master_username,
                     "[a-z][a-z0-9_]{0,15}, not postgres or rdsadmin")
    if not 1150 <= args.port <= 65535:
        problems.add("port", args.port, "1150..65535")
    if not 50 <= args.max_connections <= 5000:
        problems.add("max_connections", args.max_connections, "50..5000")
    if args.log_min_duration_ms < -1:
        problems.add("log_min_duration_ms", args.log_min_duration_ms, "-1 (off) or >= 0")
    if args.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                                       1096, 1827, 2192, 2557, 2922, 3288, 3653):
        problems.add("log_retention_days", args.log_retention_days, "a CloudWatch Logs retention, e.g. 365")
    if args.master_password_generation < 1:
        problems.add("master_password_generation", args.master_password_generation, ">= 1")
    if args.roles_rotation_generation < 1:
        problems.add("roles_rotation_generation", args.roles_rotation_generation, ">= 1")
    if not _IDENT.match(args.roles_schema) or args.roles_schema.startswith("pg_"):
        problems.add("roles_schema", args.roles_schema, "[a-z][a-z0-9_]{0,62}, not pg_*")
    if args.dr_replica:
        for fname in ("dr_region", "dr_vpc_id", "dr_data_subnet_ids", "dr_kms_key_arn", "dr_logs_kms_key_arn"):
            if not getattr(args, fname):
                problems.add(fname, getattr(args, fname), "required when dr_replica is True")
        if args.dr_region and not _REGION.match(str(args.dr_region)):
            problems.add("dr_region", args.dr_region, "an AWS region like us-west-2")
    problems.raise_any()


def _parameters(args: PostgresArgs) -> list[aws.rds.ParameterGroupParameterArgs]:
    dynamic = {
        "rds.force_ssl": "1",
        "log_min_duration_statement": str(args.log_min_duration_ms),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "pg_stat_statements.track": "all",
    }
    static = {
        "shared_preload_libraries": "pg_stat_statements",
        "max_connections": str(args.max_connections),
    }
    params = [aws.rds.ParameterGroupParameterArgs(name=k, value=v, apply_method="immediate")
              for k, v in dynamic.items()]
    params += [aws.rds.ParameterGroupParameterArgs(name=k, value=v, apply_method="pending-reboot")
               for k, v in static.items()]
    return sorted(params, key=lambda p: str(p.name))


class Postgres(pulumi.ComponentResource):
    """RDS for PostgreSQL with replicas and a DR replica; see the module docstring."""

    endpoint: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    primary_identifier: pulumi.Output[str]
    primary_arn: pulumi.Output[str]
    replica_identifiers: pulumi.Output[list[str]]
    replica_endpoints: pulumi.Output[list[str]]
    dr_replica_identifier: pulumi.Output[str] | None
    dr_replica_arn: pulumi.Output[str] | None
    dr_region: str | None
    security_group_id: pulumi.Output[str]
    dr_security_group_id: pulumi.Output[str] | None
    secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Input[str]
    dr_kms_key_arn: pulumi.Input[str] | None
    backup_retention_days: int
    realized: dict[str, str]
    """``{topology member id: resource name}`` of every instance this component created: the primary
    (``postgres/primary``), its Multi-AZ standby when the primary was created with ``multi_az``
    (``postgres/standby``), each read replica (``postgres/replica-1``...) and the DR replica
    (``postgres/dr-replica``)."""
    realized_links: set[tuple[str, str, str]]
    """``(source, target, mode)`` of the replication this component set up: the Multi-AZ standby (sync),
    each read replica and the DR replica (async, ``replicate_source_db`` = the primary)."""
    alarm_primary: RdsTarget
    """The primary as an alarm target (``pg-primary``)."""
    alarm_replicas: tuple[RdsTarget, ...]
    """Each read replica created, as an alarm target (``pg-replica-1``...)."""
    alarm_dr_replica: RdsTarget | None
    """The DR replica as an alarm target (``pg-dr``), or None."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_postgres_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._args = args
        self._rule_keys: set[str] = set()
        a = args
        p = a.name

        def tags(role: str) -> dict[str, str]:
            return merge_tags(a.tags, component="postgres", role=role)

        def opts_(stateful: bool = False, depends_on: Sequence[pulumi.Resource] | None = None,
                  **kw: object) -> pulumi.ResourceOptions:
            return child_opts(self, stateful=stateful, protect=a.protect, depends_on=depends_on, **kw)

        family = ENGINE_FAMILIES[a.engine_version]
        params = _parameters(a)
        pg = aws.rds.ParameterGroup(
            f"{name}-params", name=f"{p}-{family}", family=family, parameters=params,
            description=f"{p} PostgreSQL {a.engine_version}: TLS only, logging, pg_stat_statements",
            tags=tags("primary"), opts=opts_())
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", name=f"{p}-pg", subnet_ids=list(a.data_subnet_ids),
            description=f"{p} PostgreSQL private data subnets", tags=tags("primary"), opts=opts_())
        self._sg = aws.ec2.SecurityGroup(
            f"{name}-sg", name=f"{p}-pg", vpc_id=a.vpc_id, revoke_rules_on_delete=True,
            description=f"{p} PostgreSQL; ingress only from allow_from() on port {a.port}",
            tags=tags("primary"), opts=opts_())

        password = random.RandomPassword(
            f"{name}-master-password", length=32, special=True, override_special=PASSWORD_SPECIALS,
            min_lower=1, min_upper=1, min_numeric=1, min_special=1,
            keepers={"generation": str(a.master_password_generation)}, opts=opts_())
        secret = aws.secretsmanager.Secret(
            # name_prefix, not name: a deleted secret keeps its name for the 30-day recovery window, so a
            # fixed name would block destroy-and-recreate of the stack (ResourceExistsException).
            f"{name}-master-secret", name_prefix=f"{p}/postgres/master-", kms_key_id=a.secrets_kms_key_arn,
            recovery_window_in_days=30, description=f"{p} PostgreSQL master credentials",
            tags={**tags("primary"), ROTATION_EXEMPT_TAG: MASTER_ROTATION_REASON}, opts=opts_(stateful=True))

        role: aws.iam.Role | None = None
        role_deps: list[pulumi.Resource] = []
        if a.monitoring_interval:
            role = aws.iam.Role(
                f"{name}-monitoring-role", name=f"{p}-rds-monitoring",
                description=f"{p} RDS enhanced monitoring",
                assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "monitoring.rds.amazonaws.com"}}]}),
                tags=tags("monitoring"), opts=opts_())
            role_deps.append(aws.iam.RolePolicyAttachment(
                f"{name}-monitoring-policy", role=role.name, policy_arn=MONITORING_POLICY_ARN, opts=opts_()))

        def log_groups(ident: str, key: pulumi.Input[str], region: str | None) -> list[pulumi.Resource]:
            return [aws.cloudwatch.LogGroup(
                f"{name}-{ident.removeprefix(p + '-')}-{log}-logs", name=f"/aws/rds/instance/{ident}/{log}",
                kms_key_id=key, retention_in_days=a.log_retention_days, region=region,
                tags=tags("logs"), opts=opts_()) for log in LOG_EXPORTS]

        def monitoring() -> dict[str, Any]:
            if role is None:
                return {"monitoring_interval": 0}
            return {"monitoring_interval": a.monitoring_interval, "monitoring_role_arn": role.arn}

        common: dict[str, Any] = dict(
            storage_type="gp3", max_allocated_storage=a.max_storage_gb, port=a.port,
            performance_insights_enabled=True,
            performance_insights_retention_period=a.performance_insights_retention_days,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS), iam_database_authentication_enabled=True,
            deletion_protection=a.deletion_protection, copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True, publicly_accessible=False, ca_cert_identifier=CA_CERT,
            apply_immediately=False, maintenance_window=a.maintenance_window, **monitoring(),
        )

        primary_id = f"{p}-pg"
        primary = aws.rds.Instance(
            f"{name}-primary", identifier=primary_id, engine="postgres", engine_version=a.engine_version,
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            instance_class=a.instance_class, allocated_storage=a.storage_gb, iops=a.iops,
            storage_encrypted=a.storage_encrypted, kms_key_id=a.kms_key_arn if a.storage_encrypted else None,
            performance_insights_kms_key_id=a.kms_key_arn, multi_az=a.multi_az,
            db_name=a.database_name, username=a.master_username,
            password_wo=password.result, password_wo_version=a.master_password_generation,
            db_subnet_group_name=subnets.name, vpc_security_group_ids=[self._sg.id],
            parameter_group_name=pg.name, backup_retention_period=a.backup_retention_days,
            backup_window=a.backup_window, delete_automated_backups=False,
            skip_final_snapshot=False, final_snapshot_identifier=f"{primary_id}-final",
            tags=tags("primary"), **common,
            opts=opts_(stateful=True, depends_on=[*log_groups(primary_id, a.logs_kms_key_arn, None), *role_deps]))

        self.realized = {"postgres/primary": f"{name}-primary"}
        self.realized_links = set()
        if a.multi_az:  # the primary's multi_az input: RDS keeps the synchronous standby in another AZ
            self.realized["postgres/standby"] = f"{name}-primary (Multi-AZ standby)"
            self.realized_links.add(("postgres/primary", "postgres/standby", "sync"))
        replicas: list[aws.rds.Instance] = []
        for i in range(1, a.read_replicas + 1):
            rid = f"{p}-pg-replica-{i}"
            replicas.append(aws.rds.Instance(
                f"{name}-replica-{i}", identifier=rid, replicate_source_db=primary.identifier,
                instance_class=a.replica_instance_class or a.instance_class, multi_az=False,
                storage_encrypted=a.storage_encrypted,
                kms_key_id=a.kms_key_arn if a.storage_encrypted else None,
                performance_insights_kms_key_id=a.kms_key_arn,
                vpc_security_group_ids=[self._sg.id], parameter_group_name=pg.name,
                backup_retention_period=0, skip_final_snapshot=True,
                tags=tags("replica"), **common,
                opts=opts_(stateful=True, depends_on=[*log_groups(rid, a.logs_kms_key_arn, None), *role_deps])))
            self.realized[f"postgres/replica-{i}"] = f"{name}-replica-{i}"
            self.realized_links.add(("postgres/primary", f"postgres/replica-{i}", "async"))

        self.dr_region = a.dr_region if a.dr_replica else None
        self.dr_kms_key_arn = a.dr_kms_key_arn if a.dr_replica else None
        self._dr_sg: aws.ec2.SecurityGroup | None = None
        dr: aws.rds.Instance | None = None
        if a.dr_replica:
            region = a.dr_region
            dr_pg = aws.rds.ParameterGroup(
                f"{name}-dr-params", name=f"{p}-{family}-dr", family=family, parameters=params, region=region,
                description=f"{p} PostgreSQL {a.engine_version} DR replica (same settings as the primary)",
                tags=tags("dr-replica"), opts=opts_())
            dr_subnets = aws.rds.SubnetGroup(
                f"{name}-dr-subnets", name=f"{p}-pg-dr", subnet_ids=list(a.dr_data_subnet_ids or []), region=region,
                description=f"{p} PostgreSQL DR private data subnets", tags=tags("dr-replica"), opts=opts_())
            self._dr_sg = aws.ec2.SecurityGroup(
                f"{name}-dr-sg", name=f"{p}-pg-dr", vpc_id=a.dr_vpc_id, region=region, revoke_rules_on_delete=True,
                description=f"{p} PostgreSQL DR; ingress only from allow_from(dr=True) on port {a.port}",
                tags=tags("dr-replica"), opts=opts_())
            dr_id = f"{p}-pg-dr"
            dr = aws.rds.Instance(
                f"{name}-dr-replica", identifier=dr_id, region=region, replicate_source_db=primary.arn,
                instance_class=a.dr_instance_class or a.instance_class, multi_az=False,
                # storage_encrypted is replace-forcing and not computed: left unset, the provider reads
                # back true and the next `up` plans a replacement of this protected instance
                # (terraform-provider-aws #3470, terraform-aws-rds #432). Set on every replica.
                storage_encrypted=a.storage_encrypted,
                kms_key_id=a.dr_kms_key_arn if a.storage_encrypted else None,
                performance_insights_kms_key_id=a.dr_kms_key_arn,
                db_subnet_group_name=dr_subnets.name, vpc_security_group_ids=[self._dr_sg.id],
                parameter_group_name=dr_pg.name, backup_retention_period=a.backup_retention_days,
                backup_window=a.backup_window, delete_automated_backups=False, skip_final_snapshot=True,
                tags=tags("dr-replica"), **common,
                opts=opts_(stateful=True, depends_on=[
                    *log_groups(dr_id, a.dr_logs_kms_key_arn or "", region), *role_deps]))
            self.realized["postgres/dr-replica"] = f"{name}-dr-replica"
            self.realized_links.add(("postgres/primary", "postgres/dr-replica", "async"))
            aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backups-replication", region=region, source_db_instance_arn=primary.arn,
                kms_key_id=a.dr_kms_key_arn, retention_period=a.backup_retention_days,
                opts=opts_(stateful=True))

        aws.secretsmanager.SecretVersion(
            f"{name}-master-secret-value", secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps({  # a secret: password.result is one
                "username": a.master_username, "password": password.result, "host": primary.address,
                "port": a.port, "dbname": a.database_name, "engine": "postgres"}),
            opts=opts_(stateful=True))

        self.login_secret_arns: dict[str, pulumi.Output[str]] = {}
        self._roles: PostgresRoles | None = None
        if a.roles:
            roles = self._roles = PostgresRoles(f"{name}-roles", PostgresRolesArgs(
                address=primary.address, master_password=password.result, secrets_kms_key_arn=a.secrets_kms_key_arn,
                port=a.port, database=a.database_name, schema=a.roles_schema, master_username=a.master_username,
                name=p, rotation_generation=a.roles_rotation_generation, protect=a.protect, tags=a.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[primary]))
            self.login_secret_arns = roles.secret_arns

        self.endpoint = primary.endpoint
        self.address = primary.address
        self.port = primary.port
        self.primary_identifier = primary.identifier
        self.primary_arn = primary.arn
        self.replica_identifiers = pulumi.Output.all(*[r.identifier for r in replicas])
        self.replica_endpoints = pulumi.Output.all(*[r.endpoint for r in replicas])
        self.dr_replica_identifier = dr.identifier if dr else None
        self.dr_replica_arn = dr.arn if dr else None
        self.security_group_id = self._sg.id
        self.dr_security_group_id = self._dr_sg.id if self._dr_sg else None
        self.secret_arn = secret.arn
        self.kms_key_arn = a.kms_key_arn
        self.backup_retention_days = a.backup_retention_days
        # Every instance uses this component's parameter groups: the same max_connections.
        self.alarm_primary = RdsTarget("pg-primary", primary.identifier, a.storage_gb, a.max_connections)
        self.alarm_replicas = tuple(RdsTarget(f"pg-replica-{i}", r.identifier, a.storage_gb, a.max_connections)
                                    for i, r in enumerate(replicas, start=1))
        self.alarm_dr_replica = RdsTarget("pg-dr", dr.identifier, a.storage_gb, a.max_connections) if dr else None
        self.register_outputs({
            "endpoint": self.endpoint, "address": self.address, "port": self.port,
            "primaryIdentifier": self.primary_identifier, "primaryArn": self.primary_arn,
            "replicaIdentifiers": self.replica_identifiers, "replicaEndpoints": self.replica_endpoints,
            "drReplicaIdentifier": self.dr_replica_identifier, "drReplicaArn": self.dr_replica_arn,
            "drRegion": self.dr_region, "securityGroupId": self.security_group_id,
            "drSecurityGroupId": self.dr_security_group_id, "secretArn": self.secret_arn,
            "kmsKeyArn": self.kms_key_arn, "drKmsKeyArn": self.dr_kms_key_arn,
            "backupRetentionDays": self.backup_retention_days, "loginSecretArns": self.login_secret_arns,
        })

    def apply_roles_from(self, security_group_id: pulumi.Input[str]) -> None:
        """Apply the roles bootstrap from the deploy host in ``security_group_id`` (the in-VPC deploy
        runner): admit it on the PostgreSQL port, add the matching egress rule to its group (the
        runner's group allows only 443 out), then run the bootstrap after both exist."""
        if self._roles is None:
            raise ArgsError("Postgres.apply_roles_from", "roles", False, "roles=True")
        ingress = self.allow_from(security_group_id, "deploy runner applies the database roles")
        egress = aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-deploy-runner-egress", security_group_id=security_group_id,
            referenced_security_group_id=self._sg.id, ip_protocol="tcp", from_port=self._args.port,
            to_port=self._args.port, description="the PostgreSQL primary: roles bootstrap (psql)",
            tags=merge_tags(self._args.tags, component="postgres"), opts=pulumi.ResourceOptions(parent=self))
        self._roles.apply(depends_on=[ingress, egress])

    def allow_from(self, security_group_id: pulumi.Input[str], description: str, *,
                   dr: bool = False) -> aws.vpc.SecurityGroupIngressRule:
        """Allow TCP on the PostgreSQL port from ``security_group_id`` (a pod, node or PgBouncer group).

        ``dr=True`` adds the rule to the DR security group (the group must be in ``dr_region``).
        The resource name comes from ``description`` (so it is stable): descriptions must be unique per
        group.
        """
        if dr and self._dr_sg is None:
            raise ArgsError("Postgres.allow_from", "dr", dr, "False: this Postgres has no DR replica")
        key = f"{'dr-' if dr else ''}{slug(description) or 'rule'}"
        if key in self._rule_keys:
            raise ArgsError("Postgres.allow_from", "description", description, "unique per security group")
        self._rule_keys.add(key)
        sg = self._dr_sg if dr else self._sg
        assert sg is not None
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-allow-{key}", security_group_id=sg.id, referenced_security_group_id=security_group_id,
            ip_protocol="tcp", from_port=self._args.port, to_port=self._args.port, description=description,
            region=self._args.dr_region if dr else None,
            tags=merge_tags(self._args.tags, component="postgres"), opts=pulumi.ResourceOptions(parent=self))
