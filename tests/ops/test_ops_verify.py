"""``ops verify`` against a stack built in moto, healthy and broken one thing at a time."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.aws import Clients
from ops.cli import app
from ops.findings import Report
from ops.outputs import load_outputs, parse_outputs
from ops.verify import verify

PRIMARY_RES = "rds:us-east-1:pg-primary"
DR_RES = "rds:us-west-2:pg-dr"
REDIS_RES = "elasticache:us-east-1:dp-redis"

runner = CliRunner()


def run_verify(deployed: Any, **kwargs: Any) -> Report:
    return verify(parse_outputs(deployed.outputs, "test"), Clients(deployed.session), **kwargs)


def findings(report: Report) -> set[tuple[str, str, str]]:
    return {(f.resource, f.property, f.status) for f in report.findings}


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_healthy_stack_has_no_findings(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    report = run_verify(deployed)
    assert report.findings == []
    checked = {(c.resource, c.property) for c in report.checks}
    # the report covers every policy-relevant property, not just "no errors"
    for expected in [
        (PRIMARY_RES, "kmsKeyId"),
        (PRIMARY_RES, "multiAz"),
        (PRIMARY_RES, "deletionProtection"),
        (PRIMARY_RES, "backupRetentionPeriod"),
        (DR_RES, "exists"),
        (DR_RES, "replicaLagSeconds"),
        (DR_RES, "kmsKeyId"),
        (REDIS_RES, "automaticFailover"),
        (REDIS_RES, "kmsKeyId"),
        (REDIS_RES, "transitEncryptionEnabled"),
        ("s3:dp-prod-backups-graph", "encryption.kmsKeyId"),
        ("s3:dp-prod-backups-graph", "replication.destination"),
        ("s3:dp-prod-backups-graph-dr", "region"),
    ]:
        assert expected in checked, expected

    result = cli("verify", "--outputs", str(deployed.path))
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_json_format_is_machine_readable(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(unencrypted_bucket="graph")
    result = cli("verify", "--outputs", str(deployed.path), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["command"] == "verify" and doc["ok"] is False
    assert {(f["resource"], f["property"]) for f in doc["findings"]} == {
        ("s3:dp-prod-backups-graph", "encryption.sseAlgorithm"),
        ("s3:dp-prod-backups-graph", "encryption.kmsKeyId"),
        ("s3:dp-prod-backups-graph", "encryption.bucketKeyEnabled"),
    }
    sse = next(f for f in doc["findings"] if f["property"] == "encryption.sseAlgorithm")
    assert (sse["expected"], sse["actual"], sse["status"]) == ("aws:kms", "none", "error")


def test_unencrypted_bucket(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(unencrypted_bucket="postgres"))
    assert findings(report) == {
        ("s3:dp-prod-backups-postgres", "encryption.sseAlgorithm", "error"),
        ("s3:dp-prod-backups-postgres", "encryption.kmsKeyId", "error"),
        ("s3:dp-prod-backups-postgres", "encryption.bucketKeyEnabled", "warning"),
    }
    assert report.exit_code() == 1


def test_sse_s3_bucket_is_not_sse_kms(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(aes_bucket="vector"))
    sse = next(f for f in report.findings if f.property == "encryption.sseAlgorithm")
    assert (sse.resource, sse.actual) == ("s3:dp-prod-backups-vector", "AES256")


def test_key_given_by_alias_is_the_same_key(make_stack: Callable[..., Any]) -> None:
    """Buckets report the key id as it was set; an alias ARN of the stack's key is not drift."""
    report = run_verify(make_stack(bucket_key_alias=True))
    assert report.findings == []


def test_missing_dr_replica(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_replica_region=None)
    report = run_verify(deployed)
    assert findings(report) == {(DR_RES, "exists", "error")}
    result = runner.invoke(app, ["verify", "--outputs", str(deployed.path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "rds:us-west-2:pg-dr" in result.output and "missing" in result.output


def test_dr_replica_in_wrong_region(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(dr_replica_region="eu-west-1"))
    assert findings(report) == {(DR_RES, "region", "error")}
    finding = report.findings[0]
    assert (finding.expected, finding.actual) == ("us-west-2", "eu-west-1")


def test_dr_replica_in_primary_region(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(dr_replica_region="us-east-1"))
    assert findings(report) == {(DR_RES, "region", "error")}
    assert report.findings[0].actual == "us-east-1"


def test_production_needs_a_dr_replica_dev_does_not(make_stack: Callable[..., Any], tmp_path: Path) -> None:
    deployed = make_stack(dr_in_outputs=False)
    assert findings(run_verify(deployed)) == {(PRIMARY_RES, "drReplica", "error")}
    dev = dict(deployed.outputs, environment="dev")
    report = verify(parse_outputs(dev, "dev"), Clients(deployed.session))
    assert report.findings == []


def test_primary_drift(make_stack: Callable[..., Any]) -> None:
    report = run_verify(
        make_stack(primary_multi_az=False, primary_deletion_protection=False, primary_retention=7)
    )
    assert findings(report) == {
        (PRIMARY_RES, "multiAz", "error"),
        (PRIMARY_RES, "deletionProtection", "error"),
        (PRIMARY_RES, "backupRetentionPeriod", "error"),
    }
    retention = next(f for f in report.findings if f.property == "backupRetentionPeriod")
    assert (retention.expected, retention.actual) == (">= 35", "7")


def test_unencrypted_primary(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(primary_encrypted=False))
    assert {(PRIMARY_RES, "storageEncrypted", "error"), (PRIMARY_RES, "kmsKeyId", "error")} <= findings(
        report
    )


def test_replica_lag_over_threshold(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_lag_seconds=900.0)
    assert findings(run_verify(deployed)) == {(DR_RES, "replicaLagSeconds", "error")}
    assert run_verify(deployed, max_replica_lag=1000).findings == []
    result = cli("verify", "--outputs", str(deployed.path), "--max-replica-lag", "1000")
    assert result.exit_code == 0, result.output


def test_replication_not_running(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(dr_lag_seconds=-1.0))
    assert findings(report) == {(DR_RES, "replicaLagSeconds", "error")}


def test_no_lag_datapoints_is_a_warning(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(dr_lag_seconds=None)
    report = run_verify(deployed)
    assert findings(report) == {(DR_RES, "replicaLagSeconds", "warning")}
    assert report.findings[0].actual == "no data"
    assert cli("verify", "--outputs", str(deployed.path)).exit_code == 0
    assert cli("verify", "--outputs", str(deployed.path), "--strict").exit_code == 1


def test_lag_window_ends_at_now(make_stack: Callable[..., Any]) -> None:
    """A datapoint older than the window does not count as current lag."""
    deployed = make_stack()
    report = run_verify(deployed, now=deployed.now + timedelta(hours=2))
    assert (DR_RES, "replicaLagSeconds", "warning") in findings(report)


def test_redis_drift(make_stack: Callable[..., Any]) -> None:
    report = run_verify(make_stack(redis_failover=False, redis_transit=False))
    assert findings(report) == {
        (REDIS_RES, "automaticFailover", "error"),
        (REDIS_RES, "multiAz", "error"),
        (REDIS_RES, "transitEncryptionEnabled", "error"),
    }


def test_bucket_public_access_versioning_replication(make_stack: Callable[..., Any]) -> None:
    report = run_verify(
        make_stack(no_pab_bucket="graph", unversioned_bucket="vector", unreplicated_bucket="redis")
    )
    assert findings(report) == {
        ("s3:dp-prod-backups-graph", "publicAccessBlock.blockPublicAcls", "error"),
        ("s3:dp-prod-backups-graph", "publicAccessBlock.ignorePublicAcls", "error"),
        ("s3:dp-prod-backups-graph", "publicAccessBlock.blockPublicPolicy", "error"),
        ("s3:dp-prod-backups-graph", "publicAccessBlock.restrictPublicBuckets", "error"),
        ("s3:dp-prod-backups-vector", "versioning", "error"),
        ("s3:dp-prod-backups-vector", "replication.destination", "error"),
        ("s3:dp-prod-backups-redis", "replication.destination", "error"),
    }


def test_missing_resources_are_findings_not_crashes(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack()
    outputs = json.loads(json.dumps(deployed.outputs))
    outputs["postgres"]["primaryIdentifier"] = "pg-gone"
    outputs["redis"]["replicationGroupId"] = "redis-gone"
    outputs["buckets"]["graph"]["name"] = "dp-bucket-gone"
    report = verify(parse_outputs(outputs, "test"), Clients(deployed.session))
    assert {
        ("rds:us-east-1:pg-gone", "exists", "error"),
        ("elasticache:us-east-1:redis-gone", "exists", "error"),
        ("s3:dp-bucket-gone", "exists", "error"),
    } <= findings(report)


def test_table_output_names_resource_property_expected_actual(make_stack: Callable[..., Any]) -> None:
    deployed = make_stack(primary_multi_az=False)
    result = runner.invoke(app, ["verify", "--outputs", str(deployed.path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if "multiAz" in line and "pg-primary" in line)
    assert "error" in row and "true" in row and "false" in row


def test_bad_outputs_exit_2(aws: None, tmp_path: Path) -> None:
    bad = tmp_path / "outputs.json"
    bad.write_text(json.dumps({"postgres": {}}), encoding="utf-8")
    result = cli("verify", "--outputs", str(bad))
    assert result.exit_code == 2
    assert "postgres.primaryIdentifier" in result.output
    bad.write_text("not json", encoding="utf-8")
    assert cli("verify", "--outputs", str(bad)).exit_code == 2
    assert cli("verify", "--outputs", str(tmp_path / "absent.json")).exit_code == 2


def test_without_outputs_file_needs_pulumi(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi executable there
    result = cli("verify")
    assert result.exit_code == 2
    assert "--outputs FILE" in result.output


def test_outputs_from_the_pulumi_cli(
    make_stack: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --outputs the outputs come from `pulumi stack output --json` (an executable on PATH)."""
    deployed = make_stack()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_log = tmp_path / "argv"
    script = bin_dir / "pulumi"
    script.write_text(f'#!/bin/sh\necho "$@" > {argv_log}\ncat {deployed.path}\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert load_outputs(None, "production").postgres.primary_identifier == "pg-primary"
    assert argv_log.read_text().split() == [
        "stack",
        "output",
        "--json",
        "--show-secrets=false",
        "--stack",
        "production",
    ]
    result = cli("verify", "--stack", "production")
    assert result.exit_code == 0, result.output
