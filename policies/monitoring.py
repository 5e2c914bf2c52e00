"""Logging and monitoring (advisory): database and cache logs shipped to CloudWatch, enhanced
monitoring, flow logs per VPC, EKS control-plane logs, alarms that notify, log retention.

(Named ``monitoring`` rather than ``logging`` so the pack directory never shadows the stdlib module.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    EKS_CLUSTER,
    FLOW_LOG,
    LOG_GROUP,
    MANDATORY,
    METRIC_ALARM,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    REDIS_GROUP,
    UNKNOWN,
    VPC,
    Resource,
    Stack,
    as_dict,
    as_list,
    dig,
    falsy_explicit,
    number,
    resource_policy,
    stack_policy,
    str_list,
    truthy,
)

CONCERN = "monitoring"
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


@resource_policy(
    name="rds-log-exports", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.9", "RDS.36", "CKV_AWS_129"),
    description="RDS PostgreSQL instances export the postgresql (and upgrade) logs to CloudWatch Logs.",
    remediation="Set enabled_cloudwatch_logs_exports=['postgresql', 'upgrade'].",
)
def rds_log_exports(r: Resource) -> Iterator[str]:
    exports = r.get("enabledCloudwatchLogsExports")
    if exports is UNKNOWN or "postgres" not in str(r.get("engine") or "postgres"):
        return
    if "postgresql" not in str_list(exports):
        yield (f"enabledCloudwatchLogsExports is {str_list(exports)} on {r.label}: it must include 'postgresql'. "
               "Set enabled_cloudwatch_logs_exports=['postgresql', 'upgrade'].")


@resource_policy(
    name="rds-enhanced-monitoring", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.6", "CKV_AWS_118"),
    description="RDS instances have enhanced monitoring (OS metrics every 1-60 s) with a monitoring role.",
    remediation="Set monitoring_interval to 1, 5, 10, 15, 30 or 60 and monitoring_role_arn.",
)
def rds_enhanced_monitoring(r: Resource) -> Iterator[str]:
    raw = r.get("monitoringInterval")
    if raw is UNKNOWN:
        return
    interval = number(raw)
    if interval is None or interval <= 0:
        yield (f"monitoringInterval is {raw!r} on {r.label}: no OS-level metrics. Set monitoring_interval=60 "
               "(or lower) and monitoring_role_arn.")
    elif interval not in (1, 5, 10, 15, 30, 60):
        yield f"monitoringInterval is {raw!r} on {r.label}; use one of 1, 5, 10, 15, 30, 60."
    elif not r.get("monitoringRoleArn"):
        yield f"monitoringRoleArn is not set on {r.label}; enhanced monitoring needs a role for RDS to publish."


@resource_policy(
    name="rds-performance-insights", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("CKV_AWS_353",),
    description="RDS instances have Performance Insights on (query-level load).",
    remediation="Set performance_insights_enabled=True with performance_insights_kms_key_id.",
    severity="low",
)
def rds_performance_insights(r: Resource) -> Iterator[str]:
    value = r.get("performanceInsightsEnabled")
    if value is not UNKNOWN and not truthy(value):
        yield f"performanceInsightsEnabled is {value!r} on {r.label}; set performance_insights_enabled=True."


@resource_policy(
    name="elasticache-log-delivery", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(REDIS_GROUP,),
    requirements=("gap:elasticache-logs",),
    description="ElastiCache replication groups deliver slow-log and engine-log to CloudWatch Logs or Firehose.",
    remediation="Set log_delivery_configurations with log_type 'slow-log' and 'engine-log' to a log group.",
)
def elasticache_log_delivery(r: Resource) -> Iterator[str]:
    configs = r.get("logDeliveryConfigurations")
    if configs is UNKNOWN:
        return
    types = {as_dict(c).get("logType") for c in as_list(configs)}
    missing = [t for t in ("slow-log", "engine-log") if t not in types]
    if missing:
        yield (f"logDeliveryConfigurations has no {' or '.join(missing)} on {r.label}; add log_delivery_configurations "
               "entries for them (destination_type 'cloudwatch-logs').")


@stack_policy(
    name="vpc-flow-logs", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(VPC, FLOW_LOG),
    requirements=("EC2.6", "CKV2_AWS_11"),
    description="Every VPC has a flow log.",
    remediation="Create an aws.ec2.FlowLog(vpc_id=<vpc id>, traffic_type='ALL') to CloudWatch Logs or S3.",
)
def vpc_flow_logs(s: Stack) -> Iterator[tuple[str, str | None]]:
    vpcs = s.of_type(VPC)
    covered: set[str] = set()
    for fl in s.of_type(FLOW_LOG):
        vpc_id = fl.get("vpcId")
        if vpc_id is None:
            continue
        covered |= {v.urn for v in s.referenced(fl, "vpcId", vpc_id, vpcs)}
    for v in vpcs:
        if v.urn not in covered:
            yield (f"VPC {v.label} has no FlowLog: connections to the databases cannot be audited. Create an "
                   "aws.ec2.FlowLog for it.", v.urn)


@resource_policy(
    name="eks-control-plane-logging", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(EKS_CLUSTER,),
    requirements=("EKS.8", "CKV_AWS_37"),
    description="EKS clusters send all five control-plane log types (api, audit, authenticator, controllerManager, "
                "scheduler) to CloudWatch.",
    remediation="Set enabled_cluster_log_types to all five types.",
)
def eks_control_plane_logging(r: Resource) -> Iterator[str]:
    types = r.get("enabledClusterLogTypes")
    if types is UNKNOWN:
        return
    missing = [t for t in EKS_LOG_TYPES if t not in str_list(types)]
    if missing:
        yield f"enabledClusterLogTypes lacks {', '.join(missing)} on {r.label}; enable all five log types."


@resource_policy(
    name="alarm-has-actions", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(METRIC_ALARM,),
    requirements=("CKV_AWS_319", "CloudWatch.15 (non-FSBP)", "CloudWatch.17 (non-FSBP)"),
    description="CloudWatch alarms notify someone: alarmActions set and actions enabled.",
    remediation="Set alarm_actions=[<SNS topic ARN>] (and ok_actions) and leave actions_enabled=True.",
)
def alarm_has_actions(r: Resource) -> Iterator[str]:
    if falsy_explicit(r.get("actionsEnabled")):
        yield f"actionsEnabled is false on {r.label}; the alarm changes state silently. Set actions_enabled=True."
    actions = r.get("alarmActions")
    if actions is not UNKNOWN and not as_list(actions):
        yield f"alarmActions is empty on {r.label}; set alarm_actions to the alarm SNS topic ARN."


@resource_policy(
    name="log-group-retention", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(LOG_GROUP,),
    requirements=("CKV_AWS_66", "CKV_AWS_338", "CloudWatch.16 (non-FSBP)"),
    description="CloudWatch log groups set a retention of at least minRetentionDays (default 365) days.",
    remediation="Set retention_in_days to the configured minimum or more (0 keeps logs forever).",
    config={"minRetentionDays": {"type": "integer", "default": 365, "minimum": 1,
                                 "description": "Minimum retentionInDays (0 = never expire also passes)."}},
)
def log_group_retention(r: Resource) -> Iterator[str]:
    minimum = number(r.ctx.get("minRetentionDays", 365)) or 365
    raw = r.get("retentionInDays")
    if raw is UNKNOWN:
        return
    days = number(raw)
    if days is None:
        yield f"retentionInDays is not set on {r.label}; set retention_in_days={int(minimum)} or more."
    elif days != 0 and days < minimum:
        yield f"retentionInDays is {int(days)} on {r.label}; set retention_in_days={int(minimum)} or more."


@stack_policy(
    name="s3-bucket-access-logging", concern=CONCERN, level=MANDATORY,
    types=("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketLogging:BucketLogging",
           "aws:s3/bucketLoggingV2:BucketLoggingV2"),
    requirements=("S3.9", "CKV_AWS_18"),
    description="Every S3 bucket (except the access-log buckets themselves) has server access logging to a "
                "log bucket.",
    remediation="Create an aws.s3.BucketLogging(bucket=<bucket id>, target_bucket=<access-log bucket>, "
                "target_prefix='<store>/').",
    severity="medium",
)
def s3_bucket_access_logging(s: Stack) -> Iterator[tuple[str, str | None]]:
    from policies.buckets import bucket_index

    for b in bucket_index(s).values():
        if b.is_log_target:
            continue  # a log bucket logging into itself would log its own log deliveries forever
        if not b.sides("logging") and not b.bucket.get("loggings"):
            yield (f"bucket {b.bucket.label} has no BucketLogging: reads and deletes of backups leave no trace. "
                   "Create a BucketLogging to the access-log bucket.", b.bucket.urn)


def _version(value: object) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(value).split(".")[:2])
    except ValueError:
        return None


@resource_policy(
    name="eks-supported-version", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=("aws:eks/cluster:Cluster",),
    requirements=("EKS.2", "CKV_AWS_339"),
    description="EKS clusters run a Kubernetes version in standard support (at least minVersion, default 1.30).",
    remediation="Set version to a supported release and upgrade one minor version at a time.",
    config={"minVersion": {"type": "string", "default": "1.30",
                           "description": "Oldest Kubernetes minor version still in EKS standard support."}},
)
def eks_supported_version(r: Resource) -> Iterator[str]:
    version = r.get("version")
    minimum = _version(r.ctx.get("minVersion", "1.30"))
    if version is UNKNOWN or minimum is None:
        return
    if version is None:
        yield f"version is not set on {r.label}: the cluster version drifts with AWS defaults. Pin a supported version."
        return
    parsed = _version(version)
    if parsed is not None and parsed < minimum:
        yield (f"version is {version!r} on {r.label}, older than {'.'.join(map(str, minimum))}; upgrade to a "
               "supported version.")


#: The alarms production is reviewed against: alert (the alarm's ``alert`` tag) → (comparison, loosest
#: threshold, longest window in seconds = period × evaluationPeriods, the resource type that must carry it or
#: None when it exists only for some members, e.g. replicas). A code change in components/alerts.py or
#: components/aws/alarms.py that raises a threshold, lengthens a window or drops an alarm fails the review;
#: loosening an alarm on purpose is a change of this baseline (or of the policy's pack config), in review.
ALARM_BASELINE: dict[str, dict[str, object]] = {
    "PostgresCPUHigh": {"comparison": "GreaterThanThreshold", "threshold": 80, "window": 900, "on": RDS_INSTANCE},
    # 80 % of the instance's max_connections (its parameter group's value): a fixed count would call the
    # alarm of a stack with max_connections 1000 (threshold 800) looser, and miss one with 200 (never fires).
    "PostgresConnectionsHigh": {"comparison": "GreaterThanThreshold", "threshold": 80, "percentOf": "max_connections",
                                "window": 300, "on": RDS_INSTANCE},
    "PostgresFreeStorageLow": {"comparison": "LessThanThreshold", "threshold": 10, "window": 300, "on": RDS_INSTANCE},
    "PostgresReplicaLagHigh": {"comparison": "GreaterThanThreshold", "threshold": 300, "window": 300, "on": None},
    "PostgresReplicaNotStreaming": {"comparison": "LessThanThreshold", "threshold": 0, "window": 300, "on": None},
    "PostgresReplicationLagHigh": {"comparison": "GreaterThanThreshold", "threshold": 104857600, "window": 300,
                                   "on": None},
    "RedisCPUHigh": {"comparison": "GreaterThanThreshold", "threshold": 80, "window": 900, "on": REDIS_GROUP},
    "RedisEvictions": {"comparison": "GreaterThanThreshold", "threshold": 0, "window": 300, "on": REDIS_GROUP},
    "RedisHitRateLow": {"comparison": "LessThanThreshold", "threshold": 95, "window": 900, "on": REDIS_GROUP},
    "RedisMemoryHigh": {"comparison": "GreaterThanThreshold", "threshold": 90, "window": 300, "on": REDIS_GROUP},
    "RedisReplicationLagHigh": {"comparison": "GreaterThanThreshold", "threshold": 10, "window": 300, "on": None},
}


def _rds_parameter(s: Stack, alarm: Resource, parameter: str) -> Any:
    """``parameter`` of the RDS instance named in ``alarm``'s ``DBInstanceIdentifier`` dimension, from the
    parameter group the stack gives it: a number, None (not set or not found) or UNKNOWN (preview)."""
    ident = dig(alarm.get("dimensions"), "DBInstanceIdentifier")
    if ident is UNKNOWN:
        return UNKNOWN
    instance = next((r for r in s.of_type(RDS_INSTANCE) if r.get("identifier") == ident), None)
    group_name = instance.get("parameterGroupName") if instance is not None else None
    if group_name is UNKNOWN:
        return UNKNOWN
    group = next((g for g in s.of_type(RDS_PARAMETER_GROUP) if g.get("name") == group_name), None)
    for p in as_list(group.get("parameters")) if group is not None else ():
        if as_dict(p).get("name") == parameter:
            value = as_dict(p).get("value")
            return UNKNOWN if value is UNKNOWN else number(value)
    return None


def _window(r: Resource) -> float | None:
    periods = number(r.get("evaluationPeriods"))
    period = number(r.get("period"))
    if period is None:  # metric math: the period of the metric queries
        period = max((number(dig(q, "metric", "period")) or 0 for q in as_list(r.get("metricQueries"))), default=0) \
            or None
    return None if periods is None or period is None else periods * period


@stack_policy(
    name="alarm-baseline", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(METRIC_ALARM, RDS_INSTANCE, RDS_PARAMETER_GROUP, REDIS_GROUP),
    requirements=("gap:declared-intent", "seed:alarms"),
    description="CloudWatch alarms are at least as tight as the pack's baseline (alarm-baseline config, default "
                "the production catalogue): the same comparison, a threshold no looser, a window no longer, "
                "datapointsToAlarm no higher than evaluationPeriods, and (in production) every baseline alarm of a "
                "store that exists. Mandatory in production.",
    remediation="Restore the alarm in components/alerts.py (threshold, period, evaluation periods); to loosen an "
                "alarm on purpose change the baseline in the pack config in the same review.",
    config={"baseline": {"type": "object", "default": ALARM_BASELINE,
                         "description": "alert name → {comparison, threshold, percentOf (a parameter of the "
                                        "alarm's RDS instance the threshold is a percentage of, optional), window "
                                        "(s), on (type that must carry it, or null)}."}},
)
def alarm_baseline(s: Stack) -> Iterator[tuple[str, str | None]]:
    baseline = as_dict(s.ctx.get("baseline", ALARM_BASELINE))
    seen: set[str] = set()
    for a in s.of_type(METRIC_ALARM):
        alert = as_dict(a.get("tags")).get("alert")
        want = as_dict(baseline.get(alert)) if isinstance(alert, str) else {}
        if not want:
            continue
        seen.add(str(alert))
        comparison, threshold = a.get("comparisonOperator"), number(a.get("threshold"))
        if comparison is UNKNOWN or a.get("threshold") is UNKNOWN:
            continue
        if comparison != want.get("comparison"):
            yield (f"comparisonOperator is {comparison!r} on {a.label} (alert {alert}); the baseline says "
                   f"{want.get('comparison')!r}. Set it back in components/alerts.py.", a.urn)
            continue
        limit = number(want.get("threshold"))
        percent_of = want.get("percentOf")
        if isinstance(percent_of, str) and limit is not None:
            base = _rds_parameter(s, a, percent_of)
            if base is UNKNOWN:
                continue
            if base is None:
                yield (f"{a.label} (alert {alert}) must fire at {limit:g} % of {percent_of}, and no parameter group "
                       f"of the instance in its dimensions sets {percent_of}: the threshold cannot be checked. Set "
                       f"{percent_of} in the instance's parameter group.", a.urn)
                continue
            limit = limit * float(base) / 100
        looser = threshold is None or (limit is not None and (
            threshold > limit if comparison.startswith("Greater") else threshold < limit))
        if looser:
            shown = "not set" if threshold is None else f"{threshold:g}"
            yield (f"threshold is {shown} on {a.label} (alert {alert}, {comparison}), looser than the "
                   f"baseline {limit:g}: the alarm fires later or never. Set the threshold back in "
                   "components/alerts.py.", a.urn)
        window, max_window = _window(a), number(want.get("window"))
        if window is not None and max_window is not None and window > max_window:
            yield (f"period × evaluationPeriods is {window:g}s on {a.label} (alert {alert}), longer than the "
                   f"baseline {max_window:g}s. Set period / evaluation_periods back in components/alerts.py.", a.urn)
        points, periods = number(a.get("datapointsToAlarm")), number(a.get("evaluationPeriods"))
        if points is not None and periods is not None and points > periods:
            yield (f"datapointsToAlarm {points:g} exceeds evaluationPeriods {periods:g} on {a.label}: the alarm can "
                   "never fire. Set datapoints_to_alarm <= evaluation_periods.", a.urn)
    if not s.ctx.is_production():
        return  # a missing alarm fails production only (dev and fixtures need not carry the whole catalogue)
    for alert, spec in baseline.items():
        on = as_dict(spec).get("on")
        if alert not in seen and isinstance(on, str) and s.of_type(on):
            yield (f"no CloudWatch alarm carries the tag alert={alert} although the stack has {on} resources: the "
                   "alarm was dropped. Add it back to components/alerts.py (or remove it from the baseline).", None)
