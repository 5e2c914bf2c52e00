"""``ops backups`` against a stack built in moto.

moto stamps snapshots and objects with the current time and cannot back-date them, so staleness
is tested by evaluating "as of" a later time (the commands' ``now`` clock parameter / ``--now``).

moto gap: ElastiCache ``describe_snapshots`` returns no ``NodeSnapshots`` (so no
``SnapshotCreateTime``) in moto 5.2.5; the command reports such snapshots as a warning ("unknown
age"), which is what these tests assert for redis. A Redis snapshot's age is therefore not
exercised against moto; a missing Redis snapshot is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from typer.testing import CliRunner

from ops.aws import Clients
from ops.backups import backups
from ops.cli import app
from ops.findings import Report
from ops.outputs import parse_outputs

PG = "rds:us-east-1:pg-primary"
REDIS = "elasticache:us-east-1:dp-redis"
GRAPH = "s3:dp-prod-backups-graph"
VECTOR = "s3:dp-prod-backups-vector"

runner = CliRunner()


def run(deployed: Any, **kwargs: Any) -> Report:
    return backups(parse_outputs(deployed.outputs, "test"), Clients(deployed.session), **kwargs)


def statuses(report: Report) -> dict[tuple[str, str], str]:
    return {(c.resource, c.property): c.status for c in report.checks}


def test_fresh_backups(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    report = run(deployed)
    assert statuses(report) == {
        (PG, "newestSnapshot"): "ok",
        (PG, "latestRestorableTime"): "ok",
        (REDIS, "newestSnapshot"): "warning",  # moto: no NodeSnapshots[].SnapshotCreateTime
        (GRAPH, "newestObject"): "ok",
        (VECTOR, "newestObject"): "ok",
    }
    snapshot = next(c for c in report.checks if c.property == "newestSnapshot" and c.resource == PG)
    assert snapshot.expected == "<= 24 h" and snapshot.actual.startswith("0.0 h (")
    result = runner.invoke(app, ["backups", "--outputs", str(deployed.path)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["backups", "--outputs", str(deployed.path), "--strict"]).exit_code == 1


def test_stale_backups(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    later = deployed.now + timedelta(hours=30)  # past the 24 h RPO of postgres/graph and 6 h of vector
    report = run(deployed, now=later)
    assert {k for k, v in statuses(report).items() if v == "error"} == {
        (PG, "newestSnapshot"),
        (PG, "latestRestorableTime"),
        (GRAPH, "newestObject"),
        (VECTOR, "newestObject"),
    }
    stale = next(c for c in report.findings if c.resource == GRAPH)
    assert stale.actual.startswith("30.0 h (graph-backup.tar.zst)")

    result = runner.invoke(
        app,
        [
            "backups",
            "--outputs",
            str(deployed.path),
            "--format",
            "json",
            "--now",
            later.strftime("%Y-%m-%dT%H:%M:%S%z"),
        ],
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert {(f["resource"], f["property"]) for f in doc["findings"] if f["status"] == "error"} == {
        (PG, "newestSnapshot"),
        (PG, "latestRestorableTime"),
        (GRAPH, "newestObject"),
        (VECTOR, "newestObject"),
    }


def test_rpo_differs_per_store(make_stack: Callable[..., Any]) -> None:
    """At 8 h only the vector store (RPO 6 h) is stale."""
    deployed = make_stack()
    report = run(deployed, now=deployed.now + timedelta(hours=8))
    assert [(c.resource, c.property) for c in report.errors] == [(VECTOR, "newestObject")]


def test_missing_backups(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(redis_snapshot=False, backup_objects=("graph",))
    report = run(deployed)
    errors = {(c.resource, c.property): c.actual for c in report.errors}
    assert errors == {(REDIS, "newestSnapshot"): "no snapshot", (VECTOR, "newestObject"): "no object"}
    assert runner.invoke(app, ["backups", "--outputs", str(deployed.path)]).exit_code == 1


def test_prefix_selects_objects(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(object_prefix="qdrant/")
    report = run(deployed, prefixes={"vector": "qdrant/", "graph": "neo4j/"})
    assert statuses(report)[(f"{VECTOR}/qdrant/", "newestObject")] == "ok"
    assert statuses(report)[(f"{GRAPH}/neo4j/", "newestObject")] == "error"
    result = runner.invoke(app, ["backups", "--outputs", str(deployed.path), "--prefix", "graph=neo4j/"])
    assert result.exit_code == 1
    assert (
        runner.invoke(app, ["backups", "--outputs", str(deployed.path), "--prefix", "graph"]).exit_code == 2
    )


def test_missing_bucket_is_a_finding(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    outputs = json.loads(json.dumps(deployed.outputs))
    outputs["buckets"]["graph"]["name"] = "dp-bucket-gone"
    del outputs["buckets"]["vector"]
    report = backups(parse_outputs(outputs, "test"), Clients(deployed.session))
    errors = {(c.resource, c.property): c.actual for c in report.errors}
    assert errors == {
        ("s3:dp-bucket-gone", "newestObject"): "bucket missing",
        ("vector", "backupBucket"): "none",
    }


def test_missing_primary_and_replication_group(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    outputs = json.loads(json.dumps(deployed.outputs))
    outputs["postgres"]["primaryIdentifier"] = "pg-gone"
    outputs["redis"]["replicationGroupId"] = "redis-gone"
    report = backups(parse_outputs(outputs, "test"), Clients(deployed.session))
    errors = {(c.resource, c.property): c.actual for c in report.errors}
    assert errors == {
        ("rds:us-east-1:pg-gone", "newestSnapshot"): "no snapshot",
        ("rds:us-east-1:pg-gone", "latestRestorableTime"): "instance missing",
        ("elasticache:us-east-1:redis-gone", "newestSnapshot"): "replication group missing",
    }
