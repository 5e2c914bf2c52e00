"""The alert catalogue, its CloudWatch specs and the Prometheus/Alertmanager renderers (no servers, no engine)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from components.alerts import (
    ALERTS,
    MIB,
    Alert,
    CatalogueError,
    CloudWatchSpec,
    PromQLSpec,
    alerts_by_name,
    cloudwatch_alerts,
    prometheus_alerts,
    rds_event_categories,
)
from components.aws.alarms import (
    GIB,
    AlarmsArgs,
    AlarmSpec,
    RdsTarget,
    RedisTargets,
    alarm_specs,
    cluster_mode_member_ids,
    topic_policy_document,
    validate_alarms_args,
)
from components.render.alertmanager import (
    EmailReceiver,
    SlackReceiver,
    SnsReceiver,
    alertmanager_config,
    render_alertmanager_config,
)
from components.render.alertmanager import RenderError as AmRenderError
from components.render.prometheus import RenderError, render_prometheus_config, render_rules, rule_groups

BY_NAME = alerts_by_name()


# --- seed thresholds (architecture §1) --------------------------------------------------------

# name -> (threshold, unit, comparison)
SEEDS = {
    "PostgresReplicationLagHigh": (100 * 1024 * 1024, "bytes", ">"),
    "PostgresConnectionsHigh": (80, "percent", ">"),  # of max_connections: the seeds' 400 of the default 500
    "PostgresCacheHitLow": (99, "percent", "<"),
    "RedisMemoryHigh": (90, "percent", ">"),
    "RedisEvictions": (0, "count", ">"),
    "RedisHitRateLow": (95, "percent", "<"),
    "Neo4jQueryLatencyHigh": (500, "milliseconds", ">"),
    "Neo4jHeapHigh": (80, "percent", ">"),
    "QdrantSearchLatencyHigh": (500, "milliseconds", ">"),
    "PostgresCPUHigh": (80, "percent", ">"),
    "RedisCPUHigh": (80, "percent", ">"),
    "PostgresReplicaLagHigh": (300, "seconds", ">"),
    "InstanceDown": (0, "count", "=="),
}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_threshold(name: str) -> None:
    a = BY_NAME[name]
    assert (a.threshold, a.unit, a.comparison) == SEEDS[name], name


def test_replication_lag_is_exactly_100_mib() -> None:
    assert BY_NAME["PostgresReplicationLagHigh"].threshold == 104857600 == 100 * MIB


def test_rds_cpu_is_15_minutes() -> None:
    a = BY_NAME["PostgresCPUHigh"]
    assert a.for_seconds == 900
    assert a.cloudwatch is not None
    assert (a.cloudwatch.metric_name, a.cloudwatch.period * a.cloudwatch.evaluation_periods) == ("CPUUtilization", 900)


# Which side measures what, and with which metric (a rename here is a real behaviour change).
CLOUDWATCH_METRICS = {
    "PostgresReplicationLagHigh": ("AWS/RDS", "OldestReplicationSlotLag", "rds-primary"),
    "PostgresReplicaLagHigh": ("AWS/RDS", "ReplicaLag", "rds-replica"),
    "PostgresReplicaNotStreaming": ("AWS/RDS", "ReplicaLag", "rds-replica"),
    "PostgresConnectionsHigh": ("AWS/RDS", "DatabaseConnections", "rds-instance"),
    "PostgresCPUHigh": ("AWS/RDS", "CPUUtilization", "rds-instance"),
    "PostgresFreeStorageLow": ("AWS/RDS", "FreeStorageSpace", "rds-instance"),
    "RedisMemoryHigh": ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "cache-node"),
    "RedisEvictions": ("AWS/ElastiCache", "Evictions", "cache-node"),
    "RedisHitRateLow": ("AWS/ElastiCache", "CacheHitRate", "cache-node"),
    "RedisCPUHigh": ("AWS/ElastiCache", "EngineCPUUtilization", "cache-node"),
    "RedisReplicationLagHigh": ("AWS/ElastiCache", "ReplicationLag", "cache-node"),
}
PROMETHEUS_ONLY = {"PostgresCacheHitLow", "PostgresFailover", "RedisReplicationBroken", "Neo4jQueryLatencyHigh",
                   "Neo4jHeapHigh", "QdrantSearchLatencyHigh", "InstanceDown"}
CLOUDWATCH_ONLY = {"PostgresCPUHigh", "PostgresFreeStorageLow"}


def test_cloudwatch_renderings() -> None:
    got = {a.name: (a.cloudwatch.namespace, a.cloudwatch.metric_name, a.cloudwatch.scope)
           for a in cloudwatch_alerts() if a.cloudwatch is not None}
    assert got == CLOUDWATCH_METRICS


def test_one_sided_alerts_are_explicit() -> None:
    assert {a.name for a in ALERTS if a.cloudwatch is None} == PROMETHEUS_ONLY
    assert {a.name for a in ALERTS if a.promql is None} == CLOUDWATCH_ONLY
    for a in ALERTS:
        if a.cloudwatch is None or a.promql is None:
            assert a.gaps, a.name
    assert "BufferCacheHitRatio" in BY_NAME["PostgresCacheHitLow"].gaps


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_every_alert_has_a_rendering_and_a_runbook(alert: Alert) -> None:
    assert alert.cloudwatch is not None or alert.promql is not None
    assert len(alert.runbook) > 40 and alert.runbook.rstrip().endswith(".")
    assert alert.summary


@pytest.mark.parametrize("alert", prometheus_alerts(), ids=lambda a: a.name)
def test_promql_keeps_instance_label(alert: Alert) -> None:
    expr = alert.promql_expr()
    assert expr is not None
    assert expr.endswith(f"{alert.comparison} {int(alert.threshold)}")
    # aggregations must keep 'instance' (Alertmanager inhibits on alertname + instance)
    if " by (" in expr:
        assert all("instance" in part.split(")")[0] for part in expr.split(" by (")[1:]), expr


def test_neo4j_and_qdrant_metric_names() -> None:
    neo = BY_NAME["Neo4jQueryLatencyHigh"].promql_expr() or ""
    assert "_db_query_execution_latency_millis" in neo and 'quantile="0.99"' in neo
    heap = BY_NAME["Neo4jHeapHigh"].promql_expr() or ""
    assert "neo4j_dbms_vm_heap_used" in heap and "neo4j_dbms_vm_heap_max" in heap
    q = BY_NAME["QdrantSearchLatencyHigh"].promql_expr() or ""
    assert "rest_responses_duration_seconds_bucket" in q and "grpc_responses_duration_seconds_bucket" in q
    assert q.startswith("(1000 * histogram_quantile(0.99")  # seconds -> ms, same unit as the threshold


def test_rds_event_categories() -> None:
    assert rds_event_categories() == ("availability", "failover", "failure", "low storage")


# --- catalogue validation (each rule can fail) --------------------------------------------------

def _base(**kw: object) -> Alert:
    a = BY_NAME["PostgresConnectionsHigh"]
    return dataclasses.replace(a, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "message"), [
    ({"runbook": " "}, "'runbook' must not be empty"),
    ({"cloudwatch": None, "promql": None, "gaps": "x"}, "at least one of 'cloudwatch' or 'promql'"),
    ({"promql": None}, "'gaps' must say why"),
    ({"severity": "info"}, "'severity' must be one of critical, warning (got 'info')"),
    ({"store": "mysql"}, "'store' must be one of"),
    ({"name": "bad-name"}, "'name' must be CamelCase"),
    ({"for_seconds": 600}, "must equal 'for_seconds' 600 (got 300)"),
    ({"comparison": "=="}, "comparison '==' has no CloudWatch operator"),
])
def test_alert_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _base(**changes)


def test_cloudwatch_period_must_be_minutes() -> None:
    cw = BY_NAME["PostgresConnectionsHigh"].cloudwatch
    assert cw is not None
    with pytest.raises(CatalogueError, match="multiple of 60"):
        _base(cloudwatch=dataclasses.replace(cw, period=90, evaluation_periods=1), for_seconds=90)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(CatalogueError, match="used twice"):
        alerts_by_name((*ALERTS, ALERTS[0]))


# --- CloudWatch alarm specs equal the catalogue -------------------------------------------------

PRIMARY = RdsTarget("pg-primary", "db-primary", 500)
REPLICA = RdsTarget("pg-replica-1", "db-replica-1", 500)
DR = RdsTarget("pg-dr", "db-dr", 500)
REDIS = RedisTargets("redis-prod", shards=3, replicas_per_shard=1)
FULL = AlarmsArgs(kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k", postgres_primary=PRIMARY,
                  postgres_replicas=(REPLICA,), postgres_dr_replica=DR, redis=REDIS, region="us-east-1",
                  dr_region="us-west-2", dr_kms_key_arn="arn:aws:kms:us-west-2:111122223333:key/d",
                  name_prefix="data-platform-production")


def test_member_ids() -> None:
    assert cluster_mode_member_ids("redis-prod", 3, 1) == (
        "redis-prod-0001-001", "redis-prod-0001-002", "redis-prod-0002-001", "redis-prod-0002-002",
        "redis-prod-0003-001", "redis-prod-0003-002")


def test_alarm_count_per_scope() -> None:
    specs = alarm_specs(FULL)
    per_scope = {"rds-instance": 3, "rds-primary": 1, "rds-replica": 2, "cache-node": 6}
    expected = sum(per_scope[a.cloudwatch.scope] for a in cloudwatch_alerts() if a.cloudwatch)
    assert len(specs) == expected == 3 * 3 + 1 + 2 * 2 + 5 * 6  # 44
    assert len({s.alarm_name for s in specs}) == len(specs)


def _catalogue_threshold(s: AlarmSpec) -> float:
    """The catalogue's threshold, as a number of connections where it is a share of max_connections (the
    targets above keep the default 500)."""
    cw = s.alert.cloudwatch
    share = cw is not None and cw.threshold_percent_of == "max_connections"
    return s.alert.threshold * 500 / 100 if share else s.alert.threshold


def test_alarm_specs_equal_the_catalogue() -> None:
    for s in alarm_specs(FULL):
        a, cw = s.alert, s.alert.cloudwatch
        assert cw is not None and BY_NAME[a.name] is a
        assert s.threshold == _catalogue_threshold(s), s.alarm_name
        assert s.comparison_operator == {">": "GreaterThanThreshold", "<": "LessThanThreshold"}[a.comparison]
        assert a.runbook in s.description and cw.treat_missing_data in s.description
        assert s.alarm_name == f"data-platform-production-{a.name}-{s.target_key}"
        assert len(s.description) <= 1024


def test_alarm_targets_and_regions() -> None:
    specs = {s.resource_name: s for s in alarm_specs(FULL)}
    assert specs["PostgresReplicationLagHigh-pg-primary"].dimensions == {"DBInstanceIdentifier": "db-primary"}
    assert "PostgresReplicationLagHigh-pg-replica-1" not in specs
    assert "PostgresReplicaLagHigh-pg-primary" not in specs
    assert specs["PostgresReplicaLagHigh-pg-dr"].dr and not specs["PostgresReplicaLagHigh-pg-replica-1"].dr
    assert specs["PostgresCPUHigh-pg-dr"].dr and not specs["PostgresCPUHigh-pg-primary"].dr
    assert specs["RedisEvictions-redis-prod-0002-002"].dimensions == {"CacheClusterId": "redis-prod-0002-002"}
    assert specs["PostgresFreeStorageLow-pg-primary"].expression == f"100 * m1 / {500 * GIB}"


def test_replica_lag_override_only_touches_replica_lag() -> None:
    specs = alarm_specs(dataclasses.replace(FULL, replica_lag_threshold_seconds=60))
    lag = [s for s in specs if s.alert.name == "PostgresReplicaLagHigh"]
    assert lag and all(s.threshold == 60 for s in lag)
    assert all(s.threshold == _catalogue_threshold(s) for s in specs if s.alert.name != "PostgresReplicaLagHigh")


def test_no_targets_no_alarms() -> None:
    assert alarm_specs(AlarmsArgs(kms_key_arn="k")) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"dr_region": None}, "'dr_region' is required when 'postgres_dr_replica' is set"),
    ({"dr_kms_key_arn": None}, "'dr_kms_key_arn' is required"),
    ({"dr_region": "us-east-1"}, "'dr_region' must differ from 'region' (both 'us-east-1')"),
    ({"region": "mars"}, "'region' must be an AWS region such as us-west-2 (got 'mars')"),
    ({"alert_email": "nope"}, "'alert_email' must be an e-mail address (got 'nope')"),
    ({"replica_lag_threshold_seconds": 0}, "'replica_lag_threshold_seconds' must be between 1 and 86400 (got 0)"),
    ({"redis": RedisTargets("redis-prod", 0, 1)}, "'redis.shards' must be between 1 and 500 (got 0)"),
    ({"postgres_replicas": (PRIMARY,)}, "'pg-primary' is used twice"),
    ({"postgres_primary": None}, "need 'postgres_primary'"),
    ({"postgres_replicas": (RdsTarget("Bad Key", "x", 100),)}, "RdsTarget 'key' must match"),
])
def test_alarms_args_validation(changes: dict[str, object], message: str) -> None:
    problems = validate_alarms_args(dataclasses.replace(FULL, **changes))  # type: ignore[arg-type]
    assert any(message in p for p in problems), problems


def test_full_args_are_valid() -> None:
    assert validate_alarms_args(FULL) == []


def test_topic_policy_is_scoped_to_account_and_alarm_prefix() -> None:
    doc = json.loads(topic_policy_document("arn:aws:sns:us-west-2:111122223333:t", alarm_name_prefix="dp",
                                           rds_events=True))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    cw = by_sid["AllowCloudWatchAlarms"]
    assert cw["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and cw["Action"] == "sns:Publish"
    assert cw["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
    assert cw["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:cloudwatch:us-west-2:111122223333:alarm:dp-*"
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"
    assert "*" not in json.dumps([s["Principal"] for s in doc["Statement"] if s["Effect"] == "Allow"])
    no_rds = json.loads(topic_policy_document("arn:aws:sns:us-west-2:1:t", alarm_name_prefix="dp", rds_events=False))
    assert "AllowRdsEventNotifications" not in {s["Sid"] for s in no_rds["Statement"]}


# --- Prometheus renderer -----------------------------------------------------------------------

def test_rules_yaml_matches_catalogue() -> None:
    doc = yaml.safe_load(render_rules())
    rules = {r["alert"]: (g["name"], r) for g in doc["groups"] for r in g["rules"]}
    assert set(rules) == {a.name for a in prometheus_alerts()}
    for a in prometheus_alerts():
        group, r = rules[a.name]
        assert group == f"data-platform-{a.store}"
        assert r["expr"] == a.promql_expr()
        assert r["labels"] == {"severity": a.severity, "store": a.store}
        assert r["annotations"]["runbook"] == a.runbook and r["annotations"]["summary"] == a.summary
        assert r.get("for", "0s") == a.for_duration


def test_rules_filter_by_store_keeps_generic_alerts() -> None:
    names = [g["name"] for g in rule_groups(stores=["graph"])]
    assert names == ["data-platform-graph", "data-platform-any"]
    with pytest.raises(RenderError, match="'stores' must be among"):
        rule_groups(stores=["mysql"])  # type: ignore[list-item]


def test_rule_for_promql_none_is_refused() -> None:
    from components.render.prometheus import alert_rule
    with pytest.raises(RenderError, match="no 'promql' rendering"):
        alert_rule(BY_NAME["PostgresCPUHigh"])


def test_prometheus_config() -> None:
    doc = yaml.safe_load(render_prometheus_config(
        {"postgres": ["pg-exporter:9187"], "neo4j": ["127.0.0.1:2004"]}, evaluation_interval_seconds=15,
        alertmanager_targets=["127.0.0.1:9093"], rule_files=["rules.yml"], metrics_paths={"neo4j": "/metrics"}))
    assert doc["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}
    assert doc["rule_files"] == ["rules.yml"]
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    assert [j["job_name"] for j in doc["scrape_configs"]] == ["postgres", "neo4j"]
    assert all("authorization" not in j for j in doc["scrape_configs"])


def test_prometheus_config_bearer_token_file() -> None:
    """Qdrant's API key reaches Prometheus as a mounted file: only its path is in the rendered text."""
    doc = yaml.safe_load(render_prometheus_config(
        {"qdrant": ["vector-0.vector-headless.vector.svc.cluster.local:6333"], "neo4j": ["n:2004"]},
        bearer_token_files={"qdrant": "/etc/prometheus/secrets/qdrant-api-key"}))
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert jobs["qdrant"]["authorization"] == {"type": "Bearer",
                                               "credentials_file": "/etc/prometheus/secrets/qdrant-api-key"}
    assert "authorization" not in jobs["neo4j"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scrape_targets": {}}, "at least one job"),
    ({"scrape_targets": {"pg": ["nohost"]}}, "target 'nohost' must be host:port"),
    ({"scrape_targets": {"pg": ["h:99999"]}}, "target 'h:99999' must be host:port"),
    ({"scrape_targets": {"bad job": ["h:1"]}}, "job 'bad job' must match"),
    ({"scrape_targets": {"pg": "h:1"}}, "must be a non-empty list"),
    ({"scrape_targets": {"pg": ["h:1"]}, "evaluation_interval_seconds": 1}, "between 5 and 600 (got 1)"),
    ({"scrape_targets": {"pg": ["h:1"]}, "metrics_paths": {"qdrant": "/metrics"}}, "names no job"),
    ({"scrape_targets": {"pg": ["h:1"]}, "bearer_token_files": {"qdrant": "/s/key"}},
     "names no job in 'scrape_targets'"),
    ({"scrape_targets": {"pg": ["h:1"]}, "bearer_token_files": {"pg": "s/key"}}, "must be an absolute path"),
])
def test_prometheus_config_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RenderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_prometheus_config(**kwargs)  # type: ignore[arg-type]


# --- Alertmanager renderer ---------------------------------------------------------------------

EMAIL = EmailReceiver(to="oncall@example.com", smarthost="smtp.example.com:587", sender="am@example.com")


def test_alertmanager_routes_and_inhibition() -> None:
    cfg = alertmanager_config(email=EMAIL, slack=SlackReceiver(api_url_file="/run/secrets/slack"))
    routes = {tuple(r["matchers"]): r for r in cfg["route"]["routes"]}
    crit, warn = routes[('severity="critical"',)], routes[('severity="warning"',)]
    assert crit["receiver"] == "critical" and warn["receiver"] == "warning"
    assert crit["group_wait"] == "10s" and crit["repeat_interval"] == "1h" and warn["repeat_interval"] == "12h"
    assert cfg["inhibit_rules"][0] == {"source_matchers": ['severity="critical"'],
                                       "target_matchers": ['severity="warning"'], "equal": ["alertname", "instance"]}
    receivers = {r["name"]: r for r in cfg["receivers"]}
    assert cfg["route"]["receiver"] == "default" and receivers["default"] == {"name": "default"}
    assert receivers["critical"]["slack_configs"][0]["api_url_file"] == "/run/secrets/slack"
    assert "slack_configs" not in receivers["warning"]
    assert receivers["warning"]["email_configs"][0]["to"] == "oncall@example.com"


SNS = SnsReceiver(topic_arn="arn:aws:sns:us-east-1:123456789012:dp-alarms", region="us-east-1")


def test_alertmanager_sns_receives_critical_and_warning() -> None:
    cfg = alertmanager_config(sns=SNS, slack=SlackReceiver(api_url_file="/run/secrets/slack"))
    receivers = {r["name"]: r for r in cfg["receivers"]}
    for name in ("critical", "warning"):
        (sns,) = receivers[name]["sns_configs"]
        assert sns["topic_arn"] == SNS.topic_arn and sns["sigv4"] == {"region": "us-east-1"}
        assert "{{" in sns["subject"] and "{{ .Annotations.runbook }}" in sns["message"]
        assert sns["send_resolved"] is True
    assert "sns_configs" not in receivers["default"]
    assert "slack_configs" in receivers["critical"] and "slack_configs" not in receivers["warning"]
    text = render_alertmanager_config(sns=SNS)
    assert "&id" not in text and "*id" not in text  # every receiver spelled out, no YAML anchors
    assert text.count(SNS.topic_arn) == 2


def test_alertmanager_without_receivers_is_still_complete() -> None:
    doc = yaml.safe_load(render_alertmanager_config())
    assert [r["name"] for r in doc["receivers"]] == ["default", "critical", "warning"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"slack": SlackReceiver()}, "Exactly one of 'slack.api_url_file' or 'slack.api_url'"),
    ({"slack": SlackReceiver(api_url_file="/f", api_url="https://h")}, "Exactly one of"),
    ({"slack": SlackReceiver(api_url="http://hooks.slack.com/services/SECRET")}, "must start with https://"),
    ({"email": dataclasses.replace(EMAIL, smarthost="smtp")}, "'email.smarthost' must be host:port (got 'smtp')"),
    ({"email": dataclasses.replace(EMAIL, to="x")}, "'email.to' must be an e-mail address (got 'x')"),
    ({"resolve_timeout_minutes": 0}, "between 1 and 1440 (got 0)"),
    ({"sns": SnsReceiver(topic_arn="arn:aws:sqs:us-east-1:123456789012:q", region="us-east-1")},
     "'sns.topic_arn' must be an SNS topic ARN"),
    ({"sns": SnsReceiver(topic_arn="arn:aws:sns:us-east-1:123456789012:t", region="useast1")},
     "'sns.region' must be an AWS region"),
])
def test_alertmanager_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AmRenderError) as err:
        alertmanager_config(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "SECRET" not in str(err.value)


def test_cloudwatch_spec_expression_needs_m1() -> None:
    cw = BY_NAME["PostgresFreeStorageLow"].cloudwatch
    assert isinstance(cw, CloudWatchSpec)
    with pytest.raises(CatalogueError, match="must use m1"):
        dataclasses.replace(BY_NAME["PostgresFreeStorageLow"], cloudwatch=dataclasses.replace(cw, expression="1"))
    assert isinstance(BY_NAME["RedisEvictions"].promql, PromQLSpec)


# --- every args/spec field is documented (aesthetics: attribute docstrings with a Default: line) --

def _field_docs(module_path: str) -> dict[str, dict[str, tuple[bool, str | None]]]:
    """class -> field -> (has a default, docstring) for every annotated class attribute."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(module_path).read_text())
    out: dict[str, dict[str, tuple[bool, str | None]]] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        fields: dict[str, tuple[bool, str | None]] = {}
        body = cls.body
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                nxt = body[i + 1] if i + 1 < len(body) else None
                doc = (nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                       and isinstance(nxt.value.value, str) else None)
                fields[node.target.id] = (node.value is not None, doc)
        if fields:
            out[cls.name] = fields
    return out


@pytest.mark.parametrize(("module", "classes"), [
    ("components/aws/alarms.py", ["AlarmsArgs", "RdsTarget", "RedisTargets", "AlarmSpec"]),
    ("components/alerts.py", ["Alert", "CloudWatchSpec", "PromQLSpec"]),
    ("components/render/alertmanager.py", ["EmailReceiver", "SlackReceiver", "SnsReceiver"]),
])
def test_fields_documented_with_defaults(module: str, classes: list[str]) -> None:
    from pathlib import Path

    docs = _field_docs(str(Path(__file__).resolve().parents[2] / module))
    for cls in classes:
        assert docs.get(cls), f"{module}: {cls} has no annotated fields"
        for name, (has_default, doc) in docs[cls].items():
            assert doc, f"{module}: {cls}.{name} has no docstring"
            if has_default:
                assert "Default:" in doc, f"{module}: {cls}.{name} has a default but no 'Default:' line"
