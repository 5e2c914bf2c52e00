"""The connections alarm fires at 80 % of the configured ``postgres.maxConnections`` (README config
reference), on every RDS instance: a fixed 400 could never fire with ``maxConnections: 200``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alerts import alerts_by_name
from components.aws.alarms import AlarmsArgs, RdsTarget, alarm_specs
from infra.aws import compose_aws
from infra.settings import load_settings
from infra.topology import build_topology
from review.program import record

ROOT = Path(__file__).resolve().parents[2]


def _connection_alarms(max_connections: int) -> dict[str, dict[str, Any]]:
    """The PostgresConnectionsHigh alarms production registers with ``postgres.maxConnections`` set."""
    config = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    config["data-platform:postgres"] = {**config.get("data-platform:postgres", {}), "maxConnections": max_connections}
    topo = build_topology(load_settings("production", config))
    run = record(lambda: compose_aws(topo), stack="production", region=topo.stack.region)
    assert run.error is None, run.error
    return {r.name: r.inputs for r in run.resources
            if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm" and "PostgresConnectionsHigh" in r.name}


@pytest.mark.parametrize(("max_connections", "threshold"), [(200, 160), (500, 400), (1000, 800)])
def test_threshold_is_80_percent_of_max_connections_on_every_instance(max_connections: int, threshold: int) -> None:
    alarms = _connection_alarms(max_connections)
    assert set(alarms) == {"alarms-PostgresConnectionsHigh-pg-primary", "alarms-PostgresConnectionsHigh-pg-replica-1",
                           "alarms-PostgresConnectionsHigh-pg-dr"}
    for name, inputs in alarms.items():
        assert inputs["threshold"] == threshold, name
        assert inputs["metricName"] == "DatabaseConnections" and inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert f"> {threshold} (80 % of max_connections {max_connections})" in inputs["alarmDescription"]


def test_a_share_that_is_not_whole_stays_exact() -> None:
    args = AlarmsArgs(kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k",
                      postgres_primary=RdsTarget("pg-primary", "db", 500, max_connections=333))
    (spec,) = [s for s in alarm_specs(args) if s.alert.name == "PostgresConnectionsHigh"]
    assert spec.threshold == pytest.approx(266.4)
    assert alerts_by_name()["PostgresConnectionsHigh"].threshold == 80
