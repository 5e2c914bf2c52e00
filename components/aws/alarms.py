"""CloudWatch alarms for the managed stores (RDS PostgreSQL, ElastiCache Valkey/Redis), from the catalogue.

``Alarms`` creates, under one component (type ``data-platform:aws:Alarms``):

* an SNS topic encrypted with the caller's KMS key, a topic policy that lets CloudWatch alarms (and
  RDS event notifications) of *this account* publish, and denies publishing without TLS; an e-mail
  subscription when ``alert_email`` is set;
* one ``aws.cloudwatch.MetricAlarm`` per (catalogue alert with a CloudWatch rendering × target in its
  scope), with ``alarm_actions`` and ``ok_actions`` on the topic, the runbook in the description,
  and the threshold taken from ``components/alerts.py`` (only ``PostgresReplicaLagHigh`` can be
  overridden, via ``replica_lag_threshold_seconds``);
* an RDS event subscription for the catalogue's ``rds_events`` (failover, availability, failure,
  low storage);
* for the DR replica: the same in ``dr_region`` (pulumi-aws 7 per-resource ``region``), with a
  second topic encrypted with ``dr_kms_key_arn``, because an alarm action must target a topic in
  the alarm's own region.

``insufficient_data_actions`` stay empty on purpose: each alarm's ``treat_missing_data`` (chosen per
alert in the catalogue, and explained in the alarm description) decides what a gap means.

The KMS keys' policies must let ``cloudwatch.amazonaws.com`` and ``events.rds.amazonaws.com`` call
``kms:GenerateDataKey*`` and ``kms:Decrypt``, or SNS drops their messages (the keys component owns
those policies).

:func:`alarm_specs` computes every alarm as data without Pulumi, so tests can compare it with the
catalogue directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alerts import ALERTS, CLOUDWATCH_OPERATORS, Alert, format_number, rds_event_categories
from components.base import ArgsError
from components.limits import REDIS_REPLICAS_PER_SHARD, REDIS_SHARDS, in_range

TYPE_TOKEN = "data-platform:aws:Alarms"
GIB = 1024 ** 3
_KEY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RG_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class AlarmsError(ArgsError):
    """Invalid ``AlarmsArgs``: one line per problem, each naming the component, the field, the value and what
    is allowed (the components' one :class:`~components.base.ArgsError`)."""


#: Event categories FSBP RDS.20 expects on a db-instance subscription, and RDS.21 on a parameter group.
FSBP_INSTANCE_EVENT_CATEGORIES = ("configuration change", "failure", "maintenance")
FSBP_PARAMETER_GROUP_EVENT_CATEGORIES = ("configuration change",)
#: RDS ARN resource kinds of the event sources the subscriptions name: DB instances and parameter groups.
RDS_EVENT_SOURCE_KINDS = ("db", "pg")


@dataclass(frozen=True)
class RdsTarget:
    """One RDS instance to alarm on."""

    key: str
    """Logical name used in resource and alarm names, e.g. ``pg-primary`` (lowercase, digits, '-';
    at most 40 characters)."""
    identifier: pulumi.Input[str]
    """``DBInstanceIdentifier`` (the instance's ``identifier`` output)."""
    allocated_storage_gb: int
    """Initial allocated storage in GB (``allocated_storage``, not the autoscaling ceiling); the
    free-storage alarm is a percentage of it (see ``PostgresFreeStorageLow`` in components/alerts.py)."""
    max_connections: int = 500
    """The instance's ``max_connections``: the connections alarm fires at the catalogue's percentage of it
    (``PostgresConnectionsHigh``: 80 %). Default: 500 (the default of ``PostgresArgs.max_connections``)."""


@dataclass(frozen=True)
class RedisTargets:
    """The ElastiCache replication group (cluster mode enabled) to alarm on, one alarm per node."""

    replication_group_id: str
    """The replication group id (known at preview: the Redis component sets it)."""
    shards: int
    """Number of node groups (``num_node_groups``), 1..500."""
    replicas_per_shard: int
    """Replicas per node group (``replicas_per_node_group``), 0..5."""

    @property
    def cache_cluster_ids(self) -> tuple[str, ...]:
        """Member cluster ids, named by ElastiCache ``<group>-<shard:04>-<node:03>``."""
        return cluster_mode_member_ids(self.replication_group_id, self.shards, self.replicas_per_shard)


def cluster_mode_member_ids(replication_group_id: str, shards: int, replicas_per_shard: int) -> tuple[str, ...]:
    """The ``CacheClusterId`` of every node of a cluster-mode-enabled replication group."""
    return tuple(f"{replication_group_id}-{s:04d}-{n:03d}"
                 for s in range(1, shards + 1) for n in range(1, replicas_per_shard + 2))


@dataclass(frozen=True)
class AlarmsArgs:
    """Arguments of :class:`Alarms`."""

    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (stack region) that encrypts the alarm topic. Required: the topic is
    never created unencrypted."""
    postgres_primary: RdsTarget | None = None
    """The RDS primary. Default: None (no PostgreSQL alarms)."""
    postgres_replicas: tuple[RdsTarget, ...] = ()
    """In-region read replicas. Default: none."""
    postgres_dr_replica: RdsTarget | None = None
    """Cross-region DR replica; its alarms live in ``dr_region``. Default: None."""
    redis: RedisTargets | None = None
    """The ElastiCache replication group. Default: None (no ElastiCache alarms)."""
    alert_email: str | None = None
    """Address subscribed (e-mail protocol; it must confirm) to both topics. Default: None (topics only)."""
    region: str | None = None
    """The stack's region, used only to check that ``dr_region`` differs. Default: None (not checked)."""
    dr_region: str | None = None
    """Region of the DR replica; required with ``postgres_dr_replica``. Default: None."""
    dr_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key in ``dr_region`` for the DR topic; required with ``postgres_dr_replica``. Default: None."""
    replica_lag_threshold_seconds: float | None = None
    """Override for ``PostgresReplicaLagHigh`` (RDS ``ReplicaLag``), 1..86400 s.
    Default: None (the catalogue's 300 s)."""
    name_prefix: str = "data-platform"
    """Prefix of topic, alarm and event-subscription names (unique per account and region, so include
    the stack: ``data-platform-production``). Default: ``data-platform``."""
    subscribe_rds_events: bool = True
    """Subscribe the topics to the catalogue's RDS event categories (failover, availability, failure,
    low storage). Default: True."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child. Default: none."""
    alerts: tuple[Alert, ...] = ALERTS
    """The catalogue to render. Default: ``components.alerts.ALERTS``."""


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm, as data."""

    resource_name: str
    """Resource name suffix (``<alert>-<target key>``); the resource is ``<component>-<suffix>``."""
    alarm_name: str
    """CloudWatch alarm name (``<name_prefix>-<alert>-<target key>``)."""
    alert: Alert
    """The catalogue entry it renders."""
    target_key: str
    """``RdsTarget.key`` or the ElastiCache member cluster id."""
    dimensions: Mapping[str, pulumi.Input[str]]
    """Metric dimensions."""
    threshold: float
    """The catalogue threshold (or the replica-lag override)."""
    comparison_operator: str
    """CloudWatch comparison operator."""
    description: str
    """Summary, runbook and missing-data choice."""
    dr: bool
    """True when the alarm lives in ``dr_region``."""
    expression: str | None
    """Metric-math expression with placeholders filled, or None."""


def validate_alarms_args(args: AlarmsArgs) -> list[str]:
    """Every problem with ``args`` (empty when valid). Pure; no Pulumi engine needed."""
    p: list[str] = []
    if not _PREFIX.match(args.name_prefix):
        p.append(f"'name_prefix' must match {_PREFIX.pattern} (got {args.name_prefix!r})")
    targets = [t for t in (args.postgres_primary, *args.postgres_replicas, args.postgres_dr_replica) if t]
    seen: set[str] = set()
    for t in targets:
        if not _KEY.match(t.key):
            p.append(f"RdsTarget 'key' must match {_KEY.pattern} (got {t.key!r})")
        if t.key in seen:
            p.append(f"RdsTarget 'key' {t.key!r} is used twice; keys must be unique")
        seen.add(t.key)
        if not 20 <= t.allocated_storage_gb <= 65536:
            p.append(f"RdsTarget {t.key!r} 'allocated_storage_gb' must be between 20 and 65536 "
                     f"(got {t.allocated_storage_gb})")
        if t.max_connections < 1:
            p.append(f"RdsTarget {t.key!r} 'max_connections' must be >= 1 (got {t.max_connections})")
    if (args.postgres_replicas or args.postgres_dr_replica) and args.postgres_primary is None:
        p.append("'postgres_replicas'/'postgres_dr_replica' need 'postgres_primary'")
    if args.postgres_dr_replica is not None:
        if args.dr_region is None:
            p.append("'dr_region' is required when 'postgres_dr_replica' is set")
        if args.dr_kms_key_arn is None:
            p.append("'dr_kms_key_arn' is required when 'postgres_dr_replica' is set "
                     "(alarm actions need an encrypted topic in the DR region)")
    for name in ("region", "dr_region"):
        value = getattr(args, name)
        if value is not None and not _REGION.match(value):
            p.append(f"'{name}' must be an AWS region such as us-west-2 (got {value!r})")
    if args.region is not None and args.region == args.dr_region:
        p.append(f"'dr_region' must differ from 'region' (both {args.region!r})")
    if args.redis is not None:
        r = args.redis
        if not _RG_ID.match(r.replication_group_id):
            p.append(f"'redis.replication_group_id' must match {_RG_ID.pattern} (got {r.replication_group_id!r})")
        if not in_range(r.shards, REDIS_SHARDS):
            p.append(f"'redis.shards' must be between {REDIS_SHARDS[0]} and {REDIS_SHARDS[1]} (got {r.shards})")
        if not in_range(r.replicas_per_shard, REDIS_REPLICAS_PER_SHARD):
            lo, hi = REDIS_REPLICAS_PER_SHARD
            p.append(f"'redis.replicas_per_shard' must be between {lo} and {hi} (got {r.replicas_per_shard})")
    if args.alert_email is not None and not _EMAIL.match(args.alert_email):
        p.append(f"'alert_email' must be an e-mail address (got {args.alert_email!r})")
    lag = args.replica_lag_threshold_seconds
    if lag is not None and not 1 <= lag <= 86400:
        p.append(f"'replica_lag_threshold_seconds' must be between 1 and 86400 (got {lag})")
    names = [a.name for a in args.alerts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        p.append(f"'alerts' names must be unique (duplicated: {', '.join(dupes)})")
    return p


def alarm_specs(args: AlarmsArgs) -> list[AlarmSpec]:
    """Every alarm the component creates, in catalogue order, then target order."""
    specs: list[AlarmSpec] = []
    primary = [args.postgres_primary] if args.postgres_primary else []
    replicas: list[tuple[RdsTarget, bool]] = [(t, False) for t in args.postgres_replicas]
    if args.postgres_dr_replica is not None:
        replicas.append((args.postgres_dr_replica, True))
    rds_all = [(t, False) for t in primary] + replicas
    for alert in args.alerts:
        cw = alert.cloudwatch
        if cw is None:
            continue
        threshold = alert.threshold
        if alert.name == "PostgresReplicaLagHigh" and args.replica_lag_threshold_seconds is not None:
            threshold = args.replica_lag_threshold_seconds
        chosen: list[tuple[str, Mapping[str, pulumi.Input[str]], bool, RdsTarget | None]] = []
        if cw.scope == "rds-instance":
            chosen = [(t.key, {"DBInstanceIdentifier": t.identifier}, dr, t) for t, dr in rds_all]
        elif cw.scope == "rds-primary":
            chosen = [(t.key, {"DBInstanceIdentifier": t.identifier}, False, t) for t in primary]
        elif cw.scope == "rds-replica":
            chosen = [(t.key, {"DBInstanceIdentifier": t.identifier}, dr, t) for t, dr in replicas]
        elif cw.scope == "cache-node" and args.redis is not None:
            chosen = [(cid, {"CacheClusterId": cid}, False, None) for cid in args.redis.cache_cluster_ids]
        for key, dims, dr, rds in chosen:
            value, unit, share = threshold, "" if alert.unit == "count" else f" {alert.unit}", ""
            if cw.threshold_percent_of == "max_connections" and rds is not None:
                # the metric counts connections: the alarm compares it with that share of max_connections
                value = _whole(alert.threshold / 100 * rds.max_connections)
                unit, share = "", f" ({format_number(alert.threshold)} % of max_connections {rds.max_connections})"
            expression = None
            if cw.expression is not None:
                fill = {"allocated_storage_bytes": (rds.allocated_storage_gb if rds else 0) * GIB}
                expression = cw.expression.format(**fill)
            window = cw.period * cw.evaluation_periods
            description = (f"{alert.summary} [{alert.severity}] — {cw.metric_name} {cw.statistic} "
                           f"{alert.comparison} {format_number(value)}{unit}{share} for {window}s. "
                           f"Runbook: {alert.runbook} Missing data: {cw.treat_missing_data} "
                           f"({cw.missing_data_reason}).")
            specs.append(AlarmSpec(
                resource_name=f"{alert.name}-{key}",
                alarm_name=f"{args.name_prefix}-{alert.name}-{key}",
                alert=alert, target_key=key, dimensions=dims, threshold=value,
                comparison_operator=CLOUDWATCH_OPERATORS[alert.comparison],
                description=description[:1024], dr=dr, expression=expression,
            ))
    return specs


def _whole(value: float) -> float:
    """``value``, as an int when it is whole (CloudWatch and the review show 400, not 400.0)."""
    return int(value) if float(value).is_integer() else value


def topic_policy_document(topic_arn: str, *, alarm_name_prefix: str, rds_events: bool) -> str:
    """SNS topic policy: this account's CloudWatch alarms (named ``<prefix>-*``) and RDS events of its
    DB instances and parameter groups (named ``<prefix>-*``) may publish; publishing without TLS is
    denied. The account, region and partition come from the topic ARN
    (``arn:<partition>:sns:<region>:<account>:<name>``).

    RDS sends the ARN of the event's *source* as ``aws:SourceArn`` (``…:db:<instance>``,
    ``…:pg:<parameter group>``; AWS RDS User Guide, "Granting permissions to publish notifications to
    an Amazon SNS topic"), never the subscription's ``…:es:…`` ARN: a condition on ``es`` matches no
    event and every notification is denied."""
    partition, region, account = _arn_parts(topic_arn)
    statements: list[dict[str, Any]] = [{
        "Sid": "AllowCloudWatchAlarms",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm_name_prefix}-*"},
        },
    }]
    if rds_events:
        statements.append({
            "Sid": "AllowRdsEventNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "events.rds.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": [f"arn:{partition}:rds:{region}:{account}:{kind}:{alarm_name_prefix}-*"
                                              for kind in RDS_EVENT_SOURCE_KINDS]},
            },
        })
    statements.append({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def _arn_parts(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns":
        raise ValueError(f"not an SNS topic ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


class Alarms(pulumi.ComponentResource):
    """SNS topic(s), metric alarms and RDS event subscriptions for the managed data stores."""

    topic_arn: pulumi.Output[str]
    """ARN of the alarm topic in the stack's region (also the ``alarmTopicArn`` stack output)."""
    dr_topic_arn: pulumi.Output[str] | None
    """ARN of the DR-region topic, or None without a DR replica."""
    alarm_names: pulumi.Output[list[str]]
    """Names of every CloudWatch alarm created."""
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    """Alarm resources by resource name (``<alert>-<target key>``)."""

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Validate before registering anything: a half-registered component leaves the engine waiting.
        problems = validate_alarms_args(args)
        if problems:
            raise AlarmsError.of([f"Alarms {name!r}: {problem}" for problem in problems])
        super().__init__(TYPE_TOKEN, name, None, opts)
        specs = alarm_specs(args)
        tags = dict(args.tags)
        rds_events = args.subscribe_rds_events and bool(rds_event_categories(args.alerts))

        topic, policy = self._topic(f"{name}-topic", args, args.kms_key_arn, None, tags, rds_events)
        self.topic_arn = topic.arn
        self.dr_topic_arn = None
        dr_topic: aws.sns.Topic | None = None
        dr_policy: aws.sns.TopicPolicy | None = None
        if args.postgres_dr_replica is not None:
            assert args.dr_kms_key_arn is not None and args.dr_region is not None  # validated above
            dr_topic, dr_policy = self._topic(f"{name}-dr-topic", args, args.dr_kms_key_arn, args.dr_region,
                                              tags, rds_events)
            self.dr_topic_arn = dr_topic.arn

        self.alarms = {}
        for spec in specs:
            t, pol = (dr_topic, dr_policy) if spec.dr and dr_topic and dr_policy else (topic, policy)
            self.alarms[spec.resource_name] = self._alarm(name, spec, t, pol, args, tags)
        self.alarm_names = pulumi.Output.all(*[a.name for a in self.alarms.values()]).apply(list)

        if rds_events:
            # The catalogue's categories (failover, failure, low storage, availability) plus what
            # FSBP RDS.20 asks of every instance subscription (configuration change, maintenance).
            categories = sorted({*rds_event_categories(args.alerts), *FSBP_INSTANCE_EVENT_CATEGORIES})
            local_ids = [t.identifier for t in (args.postgres_primary, *args.postgres_replicas) if t]
            if local_ids:
                aws.rds.EventSubscription(
                    f"{name}-rds-events",
                    name=f"{args.name_prefix}-rds-events",
                    sns_topic=topic.arn, source_type="db-instance", source_ids=local_ids,
                    event_categories=categories, enabled=True, tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
                )
            if local_ids:
                # FSBP RDS.21: parameter-group changes reach the on-call topic too.
                aws.rds.EventSubscription(
                    f"{name}-rds-parameter-group-events",
                    name=f"{args.name_prefix}-rds-parameter-group-events",
                    sns_topic=topic.arn, source_type="db-parameter-group",
                    event_categories=list(FSBP_PARAMETER_GROUP_EVENT_CATEGORIES), enabled=True, tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
                )
            if args.postgres_dr_replica is not None and dr_topic is not None:
                aws.rds.EventSubscription(
                    f"{name}-dr-rds-events",
                    name=f"{args.name_prefix}-dr-rds-events",
                    sns_topic=dr_topic.arn, source_type="db-instance",
                    source_ids=[args.postgres_dr_replica.identifier],
                    event_categories=categories, enabled=True, tags=tags, region=args.dr_region,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[dr_policy] if dr_policy else []),
                )

        self.register_outputs({
            "topicArn": self.topic_arn,
            "drTopicArn": self.dr_topic_arn,
            "alarmNames": self.alarm_names,
        })

    def _topic(self, rname: str, args: AlarmsArgs, kms_key_arn: pulumi.Input[str], region: str | None,
               tags: dict[str, str], rds_events: bool) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        suffix = "-dr" if region else ""
        topic = aws.sns.Topic(
            rname,
            name=f"{args.name_prefix}-alarms{suffix}",
            kms_master_key_id=kms_key_arn,
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.sns.TopicPolicy(
            f"{rname}-policy",
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: topic_policy_document(
                arn, alarm_name_prefix=args.name_prefix, rds_events=rds_events)),
            region=region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.alert_email is not None:
            aws.sns.TopicSubscription(
                f"{rname}-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alert_email,
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return topic, policy

    def _alarm(self, name: str, spec: AlarmSpec, topic: aws.sns.Topic, policy: aws.sns.TopicPolicy, args: AlarmsArgs,
               tags: dict[str, str]) -> aws.cloudwatch.MetricAlarm:
        cw = spec.alert.cloudwatch
        assert cw is not None
        common: dict[str, Any] = {
            "name": spec.alarm_name,
            "alarm_description": spec.description,
            "comparison_operator": spec.comparison_operator,
            "threshold": spec.threshold,
            "evaluation_periods": cw.evaluation_periods,
            "datapoints_to_alarm": cw.evaluation_periods,
            "treat_missing_data": cw.treat_missing_data,
            "actions_enabled": True,
            "alarm_actions": [topic.arn],
            "ok_actions": [topic.arn],
            "region": args.dr_region if spec.dr else None,
            "tags": {**tags, "alert": spec.alert.name, "severity": spec.alert.severity, "store": spec.alert.store},
        }
        if spec.expression is None:
            metric: dict[str, Any] = {
                "namespace": cw.namespace, "metric_name": cw.metric_name, "statistic": cw.statistic,
                "period": cw.period, "dimensions": dict(spec.dimensions),
            }
        else:
            metric = {"metric_queries": [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="m1", return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=cw.namespace, metric_name=cw.metric_name, stat=cw.statistic,
                        period=cw.period, dimensions=dict(spec.dimensions),
                    ),
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression=spec.expression, label=spec.alert.summary, return_data=True,
                ),
            ]}
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.resource_name}", **common, **metric,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

