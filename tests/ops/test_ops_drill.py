"""``ops dr-drill`` against a stack built in moto.

moto gaps (5.2.5):

* ``promote_read_replica`` is implemented but leaves ``ReadReplicaSourceDBInstanceIdentifier`` set
  on the promoted instance (it only flips an internal flag), whereas RDS removes it when the
  promotion completes. The command waits for exactly that, so against plain moto it times out
  (tested as such). ``moto_completes_promotion`` wraps moto's backend method to finish the
  promotion the way RDS does, so the success path runs against moto's RDS too.
* ElastiCache ``test_failover`` is not implemented (NotImplementedError): the failover drill's
  plan, preconditions and dry run are tested, and the real call is asserted to reach moto's
  unimplemented action.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from moto.rds.models import RDSBackend
from typer.testing import CliRunner

from ops import drill
from ops.aws import Clients
from ops.cli import app
from ops.outputs import parse_outputs

runner = CliRunner()


@pytest.fixture
def moto_completes_promotion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's promote_read_replica end as RDS's does: no replication source afterwards."""
    original = RDSBackend.promote_read_replica

    def promote(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        database = original(self, db_kwargs)
        database.source_db_instance_identifier = None
        return database

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote)


def dr_instance(deployed: Any) -> dict[str, Any]:
    rds = deployed.session.client("rds", region_name="us-west-2")
    return dict(rds.describe_db_instances(DBInstanceIdentifier="pg-dr")["DBInstances"][0])


def test_status_report(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    report, replica = drill.status(parse_outputs(deployed.outputs, "t"), Clients(deployed.session))
    assert replica is not None and replica["DBInstanceIdentifier"] == "pg-dr"
    assert report.findings == []
    lag = next(c for c in report.checks if c.property == "replicaLagSeconds")
    assert lag.actual == "12"
    result = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "replicaLagSeconds" in result.output and "pg-dr" in result.output


def test_status_with_replica_missing_or_misplaced(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_replica_region="eu-west-1")
    result = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path), "--format", "json"])
    assert result.exit_code == 1
    assert [(f["resource"], f["property"], f["actual"]) for f in json.loads(result.stdout)["findings"]] == [
        ("rds:us-west-2:pg-dr", "region", "eu-west-1")
    ]


def test_promote_is_a_dry_run_without_yes(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    result = runner.invoke(
        app, ["dr-drill", "--outputs", str(deployed.path), "--promote"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert (
        "Would call: rds.promote_read_replica(DBInstanceIdentifier='pg-dr', BackupRetentionPeriod=35) "
        "in us-west-2" in result.output
    )
    assert "Dry run: nothing changed" in result.output
    assert "Repoint the applications and PgBouncer" in result.output
    assert dr_instance(deployed)["ReadReplicaSourceDBInstanceIdentifier"].endswith(":db:pg-primary")


def test_promote_with_yes(make_stack: Callable[..., Any], moto_completes_promotion: None) -> None:
    deployed = make_stack()
    result = runner.invoke(
        app,
        [
            "dr-drill",
            "--outputs",
            str(deployed.path),
            "--promote",
            "--yes",
            "--interval",
            "1",
            "--timeout",
            "60",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    instance = dr_instance(deployed)
    assert not instance.get("ReadReplicaSourceDBInstanceIdentifier")
    assert instance["BackupRetentionPeriod"] == 35
    assert "pg-dr is a standalone primary in us-west-2" in result.output
    assert "pg-dr.aaaaaaaaaa.us-west-2.rds.amazonaws.com:5432" in result.output  # moto's endpoint
    assert "pulumi refresh" in result.output

    # promoting again is refused: it is no longer a replica
    again = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path), "--promote", "--yes"])
    assert again.exit_code == 1
    assert "not a read replica" in again.output


def test_promote_waits_until_rds_reports_completion(make_stack: Callable[..., Any]) -> None:
    """Plain moto never drops the replication source, so the bounded wait gives up with exit 1."""
    deployed = make_stack()
    result = runner.invoke(
        app,
        [
            "dr-drill",
            "--outputs",
            str(deployed.path),
            "--promote",
            "--yes",
            "--interval",
            "1",
            "--timeout",
            "0",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1
    assert "still available after 0 s (timeout 0 s)" in result.output
    assert "Calling: rds.promote_read_replica" in result.output


def test_promote_json(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    result = runner.invoke(
        app, ["dr-drill", "--outputs", str(deployed.path), "--promote", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dryRun"] is True and doc["plan"]["blockers"] == []
    assert doc["plan"]["call"].startswith("rds.promote_read_replica(")
    assert len(doc["followUp"]) == 6


def test_promote_blocked_without_replica(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_replica_region=None)
    outputs = parse_outputs(deployed.outputs, "t")
    plan = drill.plan_promotion(outputs, Clients(deployed.session))
    assert plan.blockers == ["pg-dr does not exist in us-west-2"]
    with pytest.raises(drill.DrillError, match="refusing to promote"):
        drill.promote(outputs, Clients(deployed.session), plan)
    result = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path), "--promote", "--yes"])
    assert result.exit_code == 1 and "blocked" in result.output


def test_no_dr_replica_in_stack(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_in_outputs=False, environment="dev")
    with pytest.raises(drill.DrillError, match="no DR replica"):
        drill.plan_promotion(parse_outputs(deployed.outputs, "t"), Clients(deployed.session))
    result = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path), "--promote"])
    assert result.exit_code == 1 and "no DR replica" in result.output


def test_lag_is_a_note_not_a_blocker(make_stack: Callable[..., Any]) -> None:
    """In a real regional outage the lag is large or unknown; promotion must stay possible."""
    deployed = make_stack(dr_lag_seconds=900.0)
    plan = drill.plan_promotion(parse_outputs(deployed.outputs, "t"), Clients(deployed.session))
    assert plan.blockers == []
    assert any("replica lag 900" in note for note in plan.notes)


def test_wait_promoted_times_out(make_stack: Callable[..., Any]) -> None:
    """The replica is never promoted here: the bounded poll gives up after ``timeout``."""
    deployed = make_stack()
    slept: list[float] = []
    polls: list[str] = []
    with pytest.raises(drill.DrillError, match="still available after 30 s"):
        drill.wait_promoted(
            Clients(deployed.session),
            "us-west-2",
            "pg-dr",
            timeout=35,
            interval=10,
            on_poll=lambda state, _t: polls.append(state),
            sleep=slept.append,
            clock=lambda: float(sum(slept)),
        )
    assert slept == [10, 10, 10] and polls == ["available"] * 4


def test_test_failover_dry_run_and_blockers(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    result = runner.invoke(
        app, ["dr-drill", "--outputs", str(deployed.path), "--test-failover"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert (
        "Would call: elasticache.test_failover(ReplicationGroupId='dp-redis', NodeGroupId='0001') "
        "in us-east-1" in result.output
    )
    missing = runner.invoke(
        app,
        ["dr-drill", "--outputs", str(deployed.path), "--test-failover", "--node-group", "0009"],
        env={"COLUMNS": "200"},
    )
    assert missing.exit_code == 1
    assert "node group 0009 does not exist (node groups: 0001, 0002, 0003)" in missing.output


def test_test_failover_refused_without_automatic_failover(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(redis_failover=False)
    plan = drill.plan_test_failover(parse_outputs(deployed.outputs, "t"), Clients(deployed.session))
    assert any("automatic failover is not enabled" in b for b in plan.blockers)


def test_test_failover_call_reaches_moto_unimplemented(make_stack: Callable[..., Any]) -> None:
    """moto 5.2.5 has no TestFailover: the real API call is made and moto says so."""
    deployed = make_stack()
    clients = Clients(deployed.session)
    plan = drill.plan_test_failover(parse_outputs(deployed.outputs, "t"), clients)
    assert plan.blockers == []
    with pytest.raises(NotImplementedError, match="test_failover"):
        drill.start_test_failover(clients, plan)


def test_promote_and_failover_together_is_usage_error(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    result = runner.invoke(app, ["dr-drill", "--outputs", str(deployed.path), "--promote", "--test-failover"])
    assert result.exit_code == 2
