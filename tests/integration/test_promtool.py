"""The rendered Prometheus and Alertmanager files, checked by the real tools.

* ``promtool check rules`` / ``check config`` on the rendered rule file and ``prometheus.yml``;
* ``promtool test rules``: for every Prometheus alert of the catalogue, one series just past the
  threshold (the alert fires, with the expected labels and annotations) and one just short of it
  (nothing fires);
* ``amtool check-config`` with and without receivers, and ``amtool config routes test`` for the
  severity routing.

Binaries: ``promtool`` (Debian package ``prometheus``), ``amtool`` (``prometheus-alertmanager``).
A missing binary fails the test with the package name.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alerts import Alert, alerts_by_name, format_number, prometheus_alerts
from components.render.alertmanager import EmailReceiver, SlackReceiver, SnsReceiver, render_alertmanager_config
from components.render.prometheus import render_prometheus_config, render_rules

pytestmark = pytest.mark.integration

RequireBinary = Callable[[str, str], str]
CATALOGUE = alerts_by_name()
EVAL_TIME = "30m"  # every case: 41 one-minute samples; longest 'for' is 15m, longest window 10m
PG = {"instance": "pg:9187", "job": "postgres"}
REDIS = {"instance": "redis:9121", "job": "redis"}
NEO4J = {"instance": "neo4j:2004", "job": "neo4j"}
QDRANT = {"instance": "qdrant:6333", "job": "qdrant"}


@pytest.fixture
def promtool(require_binary: RequireBinary) -> str:
    return require_binary("promtool", "prometheus")


@pytest.fixture
def amtool(require_binary: RequireBinary) -> str:
    return require_binary("amtool", "prometheus-alertmanager")


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{body}}}", "values": values}


@dataclass(frozen=True)
class Case:
    """Input series on both sides of one alert's threshold."""

    fire: list[dict[str, str]]
    """Series just past the threshold: the alert fires at EVAL_TIME."""
    quiet: list[dict[str, str]]
    """Series just short of it (or otherwise excluded): nothing fires."""
    labels: dict[str, str]
    """Labels of the firing alert, besides alertname, severity and store."""
    value: float
    """The expression's value when firing (goes into the description)."""


def _counter(per_minute: float) -> str:
    return f"0+{format_number(per_minute)}x40"


def _gauge(value: float) -> str:
    return f"{format_number(value)}x40"


def _qdrant_buckets(endpoint: str, fast: int, slow: int) -> list[dict[str, str]]:
    """Per minute: ``fast`` requests <= 0.5 s (in (0.1, 0.5]), ``slow`` in (0.5, 1]."""
    lab = {**QDRANT, "endpoint": endpoint, "method": "POST", "status": "200"}
    counts = {"0.1": 0, "0.5": fast, "1": fast + slow, "+Inf": fast + slow}
    return [_series("rest_responses_duration_seconds_bucket", {**lab, "le": le}, _counter(n))
            for le, n in counts.items()]


LAG = 100 * 1024 * 1024
CASES: dict[str, Case] = {
    "PostgresReplicationLagHigh": Case(
        fire=[_series("pg_stat_replication_pg_wal_lsn_diff", {**PG, "application_name": "r1", "state": "streaming"},
                      _gauge(LAG + 1))],
        quiet=[_series("pg_stat_replication_pg_wal_lsn_diff", {**PG, "application_name": "r1", "state": "streaming"},
                       _gauge(LAG))],
        labels={"instance": PG["instance"], "application_name": "r1"}, value=LAG + 1),
    "PostgresReplicaLagHigh": Case(
        fire=[_series("pg_replication_lag_seconds", PG, _gauge(301)),
              _series("pg_replication_is_replica", PG, _gauge(1))],
        # the same lag on a primary (is_replica 0) must not fire
        quiet=[_series("pg_replication_lag_seconds", PG, _gauge(299)),
               _series("pg_replication_lag_seconds", {**PG, "instance": "pg-primary:9187"}, _gauge(900)),
               _series("pg_replication_is_replica", PG, _gauge(1)),
               _series("pg_replication_is_replica", {**PG, "instance": "pg-primary:9187"}, _gauge(0))],
        labels={"instance": PG["instance"]}, value=301),
    "PostgresReplicaNotStreaming": Case(
        fire=[_series("pg_stat_replication_pg_wal_lsn_diff", {**PG, "application_name": "r1", "state": "catchup"},
                      _gauge(4096))],
        quiet=[_series("pg_stat_replication_pg_wal_lsn_diff", {**PG, "application_name": "r1", "state": "streaming"},
                       _gauge(4096))],
        labels={"instance": PG["instance"], "application_name": "r1", "state": "catchup"}, value=-1),
    "PostgresFailover": Case(
        fire=[_series("pg_replication_is_replica", PG, "1x25 0x15")],
        quiet=[_series("pg_replication_is_replica", PG, "1x10 0x30")],  # promoted 20 minutes ago
        labels=PG, value=1),
    # 80 % of max_connections: 401 of 500 fires, 400 does not.
    "PostgresConnectionsHigh": Case(
        fire=[_series("pg_stat_database_numbackends", {**PG, "datname": "app"}, _gauge(300)),
              _series("pg_stat_database_numbackends", {**PG, "datname": "postgres"}, _gauge(101)),
              _series("pg_settings_max_connections", PG, _gauge(500))],
        quiet=[_series("pg_stat_database_numbackends", {**PG, "datname": "app"}, _gauge(300)),
               _series("pg_stat_database_numbackends", {**PG, "datname": "postgres"}, _gauge(100)),
               _series("pg_settings_max_connections", PG, _gauge(500))],
        labels={"instance": PG["instance"]}, value=80.2),
    "PostgresCacheHitLow": Case(
        fire=[_series("pg_stat_database_blks_hit", {**PG, "datname": "app"}, _counter(9890)),
              _series("pg_stat_database_blks_read", {**PG, "datname": "app"}, _counter(110))],
        quiet=[_series("pg_stat_database_blks_hit", {**PG, "datname": "app"}, _counter(9910)),
               _series("pg_stat_database_blks_read", {**PG, "datname": "app"}, _counter(90))],
        labels={"instance": PG["instance"]}, value=98.9),
    "RedisMemoryHigh": Case(
        fire=[_series("redis_memory_used_bytes", REDIS, _gauge(901)),
              _series("redis_memory_max_bytes", REDIS, _gauge(1000))],
        # just under, and a node without maxmemory (0) must not divide by zero into +Inf
        quiet=[_series("redis_memory_used_bytes", REDIS, _gauge(899)),
               _series("redis_memory_max_bytes", REDIS, _gauge(1000)),
               _series("redis_memory_used_bytes", {**REDIS, "instance": "r2:9121"}, _gauge(5000)),
               _series("redis_memory_max_bytes", {**REDIS, "instance": "r2:9121"}, _gauge(0))],
        labels=REDIS, value=90.1),
    "RedisEvictions": Case(
        fire=[_series("redis_evicted_keys_total", REDIS, "0x25 1x15")],
        quiet=[_series("redis_evicted_keys_total", REDIS, "0x10 7x30")],  # evicted 20 minutes ago, none since
        labels=REDIS, value=1),
    "RedisHitRateLow": Case(
        fire=[_series("redis_keyspace_hits_total", REDIS, _counter(9490)),
              _series("redis_keyspace_misses_total", REDIS, _counter(510))],
        quiet=[_series("redis_keyspace_hits_total", REDIS, _counter(9510)),
               _series("redis_keyspace_misses_total", REDIS, _counter(490))],
        labels={"instance": REDIS["instance"]}, value=94.9),
    "RedisCPUHigh": Case(
        fire=[_series("redis_cpu_sys_seconds_total", REDIS, _counter(18)),
              _series("redis_cpu_user_seconds_total", REDIS, _counter(30.6))],
        quiet=[_series("redis_cpu_sys_seconds_total", REDIS, _counter(18)),
               _series("redis_cpu_user_seconds_total", REDIS, _counter(29.4))],
        labels=REDIS, value=81),
    "RedisReplicationLagHigh": Case(
        fire=[_series("redis_connected_slave_lag_seconds", {**REDIS, "slave_ip": "10.0.0.2", "slave_port": "6379"},
                      _gauge(11))],
        quiet=[_series("redis_connected_slave_lag_seconds", {**REDIS, "slave_ip": "10.0.0.2", "slave_port": "6379"},
                       _gauge(10))],
        labels={"instance": REDIS["instance"]}, value=11),
    "RedisReplicationBroken": Case(
        fire=[_series("redis_master_link_up", REDIS, _gauge(0))],
        quiet=[_series("redis_master_link_up", REDIS, _gauge(1))],
        labels=REDIS, value=0),
    "Neo4jQueryLatencyHigh": Case(
        fire=[_series("neo4j_database_neo4j_db_query_execution_latency_millis", {**NEO4J, "quantile": "0.99"},
                      _gauge(501))],
        # p99 just under; a slow median of another quantile label must not count
        quiet=[_series("neo4j_database_neo4j_db_query_execution_latency_millis", {**NEO4J, "quantile": "0.99"},
                       _gauge(499)),
               _series("neo4j_database_system_db_query_execution_latency_millis", {**NEO4J, "quantile": "0.999"},
                       _gauge(5000))],
        labels={"instance": NEO4J["instance"]}, value=501),
    "Neo4jHeapHigh": Case(
        fire=[_series("neo4j_dbms_vm_heap_used", NEO4J, _gauge(801)),
              _series("neo4j_dbms_vm_heap_max", NEO4J, _gauge(1000))],
        quiet=[_series("neo4j_dbms_vm_heap_used", NEO4J, _gauge(799)),
               _series("neo4j_dbms_vm_heap_max", NEO4J, _gauge(1000))],
        labels=NEO4J, value=80.1),
    "QdrantSearchLatencyHigh": Case(
        # p99 = 0.5 + 0.5 * (990 - 989) / 11 = 0.5455 s
        fire=_qdrant_buckets("/collections/{name}/points/search", fast=989, slow=11),
        # p99 = 0.1 + 0.4 * 990 / 991 = 0.4996 s; slow upserts are not searches
        quiet=[*_qdrant_buckets("/collections/{name}/points/search", fast=991, slow=9),
               *_qdrant_buckets("/collections/{name}/points", fast=0, slow=1000)],
        labels={"instance": QDRANT["instance"]}, value=1000 * (0.5 + 0.5 * (990 - 989) / 11)),
    "InstanceDown": Case(
        fire=[_series("up", PG, _gauge(1)), _series("pg_up", PG, _gauge(0))],  # exporter up, server down
        quiet=[_series("up", PG, _gauge(1)), _series("pg_up", PG, _gauge(1))],
        labels=PG, value=0),
}


def humanize(v: float) -> str:
    """Prometheus' ``humanize`` template function (``%.4g`` with SI prefixes), for values >= 1 or 0."""
    if v == 0 or math.isnan(v) or math.isinf(v):
        return f"{v:.4g}"
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return f"{v:.4g}{prefix}"
    raise AssertionError("keep test values >= 1 or 0")


def _expected(alert: Alert, case: Case) -> dict[str, Any]:
    return {
        "exp_labels": {**case.labels, "severity": alert.severity, "store": alert.store},
        "exp_annotations": {
            "summary": alert.summary,
            "description": f"{alert.summary} on {case.labels['instance']} (value {humanize(case.value)} {alert.unit}).",
            "runbook": alert.runbook,
        },
    }


def _rule_tests() -> dict[str, Any]:
    tests = []
    for alert in prometheus_alerts():
        case = CASES[alert.name]
        tests.append({"name": f"{alert.name} fires", "interval": "1m", "input_series": case.fire,
                      "alert_rule_test": [{"eval_time": EVAL_TIME, "alertname": alert.name,
                                           "exp_alerts": [_expected(alert, case)]}]})
        tests.append({"name": f"{alert.name} stays quiet", "interval": "1m", "input_series": case.quiet,
                      "alert_rule_test": [{"eval_time": EVAL_TIME, "alertname": alert.name, "exp_alerts": []}]})
    return {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}


def test_every_prometheus_alert_has_a_case() -> None:
    assert set(CASES) == {a.name for a in prometheus_alerts()}


def test_promtool_check_rules(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(render_rules())
    res = _run([promtool, "check", "rules", "rules.yml"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(prometheus_alerts())} rules found" in res.stdout


def test_promtool_check_config(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(render_rules())
    (tmp_path / "prometheus.yml").write_text(render_prometheus_config(
        {"postgres": ["127.0.0.1:9187"], "redis": ["127.0.0.1:9121"], "neo4j": ["127.0.0.1:2004"],
         "qdrant": ["127.0.0.1:6333", "127.0.0.1:6334"]},
        evaluation_interval_seconds=30, alertmanager_targets=["127.0.0.1:9093"], rule_files=["rules.yml"]))
    res = _run([promtool, "check", "config", "prometheus.yml"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 rule files found" in res.stdout


def test_promtool_check_config_rejects_a_missing_rule_file(promtool: str, tmp_path: Path) -> None:
    """The config check really reads the rule files (so the passing test above means something)."""
    (tmp_path / "prometheus.yml").write_text(render_prometheus_config({"pg": ["127.0.0.1:9187"]},
                                                                       rule_files=["missing.yml"]))
    res = _run([promtool, "check", "config", "prometheus.yml"], tmp_path)
    assert res.returncode != 0


def test_promtool_rule_unit_tests(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(render_rules())
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(_rule_tests(), sort_keys=False))
    res = _run([promtool, "test", "rules", "tests.yml"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_promtool_rule_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A rule file whose threshold moved fails the same unit tests."""
    lag = CATALOGUE["PostgresConnectionsHigh"]
    from dataclasses import replace

    moved = [replace(a, threshold=a.threshold + 10) if a is lag else a for a in prometheus_alerts()]
    (tmp_path / "rules.yml").write_text(render_rules(moved))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(_rule_tests(), sort_keys=False))
    res = _run([promtool, "test", "rules", "tests.yml"], tmp_path)
    assert res.returncode != 0
    assert "PostgresConnectionsHigh" in res.stdout + res.stderr


SNS = SnsReceiver(topic_arn="arn:aws:sns:us-east-1:123456789012:data-platform-production-alarms",
                  region="us-east-1")


@pytest.mark.parametrize("receivers", ["none", "email+slack-file", "slack-url", "sns", "sns+slack-file"])
def test_amtool_check_config(amtool: str, tmp_path: Path, receivers: str) -> None:
    url_file = tmp_path / "slack_url"
    url_file.write_text("https://hooks.slack.com/services/T000/B000/XXXX\n")
    kwargs: dict[str, Any] = {}
    if receivers == "email+slack-file":
        kwargs = {"email": EmailReceiver(to="oncall@example.com", smarthost="smtp.example.com:587",
                                         sender="alertmanager@example.com"),
                  "slack": SlackReceiver(api_url_file=str(url_file), channel="#data-oncall")}
    elif receivers == "slack-url":
        kwargs = {"slack": SlackReceiver(api_url="https://hooks.slack.com/services/T000/B000/XXXX")}
    elif receivers == "sns":
        kwargs = {"sns": SNS}
    elif receivers == "sns+slack-file":
        kwargs = {"sns": SNS, "slack": SlackReceiver(api_url_file=str(url_file), channel="#data-oncall")}
    (tmp_path / "alertmanager.yml").write_text(render_alertmanager_config(**kwargs))
    res = _run([amtool, "check-config", "alertmanager.yml"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout and "2 inhibit rules" in res.stdout and "3 receivers" in res.stdout


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "store=postgres"], "critical"),
    (["severity=warning", "store=redis"], "warning"),
    (["store=graph"], "default"),
])
@pytest.mark.parametrize("sns", [None, SNS])
def test_amtool_routes(amtool: str, tmp_path: Path, labels: list[str], receiver: str, sns: SnsReceiver | None) -> None:
    (tmp_path / "alertmanager.yml").write_text(render_alertmanager_config(sns=sns))
    res = _run([amtool, "config", "routes", "test", "--config.file=alertmanager.yml", *labels], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receiver


def test_amtool_rejects_an_sns_receiver_without_a_target(amtool: str, tmp_path: Path) -> None:
    """amtool really validates sns_configs (so the SNS case above means something)."""
    doc = yaml.safe_load(render_alertmanager_config(sns=SNS))
    for r in doc["receivers"]:
        for c in r.get("sns_configs", []):
            del c["topic_arn"]
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    res = _run([amtool, "check-config", "alertmanager.yml"], tmp_path)
    assert res.returncode != 0
