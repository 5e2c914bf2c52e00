"""The stack outputs the operations commands work from.

The contract is the one ``infra/__main__.py`` exports (README "Stack outputs")::

    postgres: {primaryIdentifier, primaryArn, region, replicaIdentifiers, drReplicaIdentifier|null,
               drReplicaArn|null, drRegion|null, kmsKeyArn, drKmsKeyArn|null, backupRetentionDays, port}
    redis:    {replicationGroupId, region, kmsKeyArn, snapshotRetentionDays}
    buckets:  {"<store>": {name, region, arn, kmsKeyArn, replicaName|null, replicaRegion|null}}
    alarmTopicArn, eksClusterName|null, rpoHours: {<store>: float}, environment

Outputs come either from a JSON file (``pulumi stack output --json > outputs.json``, or one a
test writes) or, when the Pulumi CLI is installed, straight from
``pulumi stack output --json --show-secrets=false --stack NAME``. Keys the contract does not know
are ignored, so a newer stack still works with an older ``ops``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


class OutputsError(Exception):
    """The outputs could not be read or do not match the contract. ``str(err)`` is one line."""


class _Contract(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class PostgresOutputs(_Contract):
    """The RDS PostgreSQL primary, its in-region replicas and the cross-region DR replica."""

    primary_identifier: str
    primary_arn: str
    region: str
    replica_identifiers: tuple[str, ...] = ()
    dr_replica_identifier: str | None = None
    dr_replica_arn: str | None = None
    dr_region: str | None = None
    kms_key_arn: str
    dr_kms_key_arn: str | None = None
    backup_retention_days: int = Field(ge=0)
    port: int = 5432


class RedisOutputs(_Contract):
    """The ElastiCache (Valkey/Redis) replication group."""

    replication_group_id: str
    region: str
    kms_key_arn: str
    snapshot_retention_days: int = Field(ge=0)


class BucketOutputs(_Contract):
    """One backup bucket and, with cross-region replication, its replica bucket."""

    name: str
    region: str
    arn: str
    kms_key_arn: str
    replica_name: str | None = None
    replica_region: str | None = None


class StackOutputs(_Contract):
    """Everything ``ops`` reads from a deployed stack."""

    postgres: PostgresOutputs
    redis: RedisOutputs
    buckets: dict[str, BucketOutputs]
    alarm_topic_arn: str
    eks_cluster_name: str | None = None
    rpo_hours: dict[str, float]
    environment: str

    @property
    def production(self) -> bool:
        """The stack is production: DR replica and bucket replication are required, not optional."""
        return self.environment == "production"


def parse_outputs(data: Any, source: str) -> StackOutputs:
    """Validate raw outputs (already parsed JSON) against the contract; ``source`` names them in errors."""
    if not isinstance(data, dict):
        raise OutputsError(f"{source}: expected a JSON object of stack outputs, got {type(data).__name__}")
    try:
        return StackOutputs.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OutputsError(f"{source}: output {where}: {first['msg']}") from None


def load_outputs(
    path: Path | None = None, stack: str | None = None, *, cwd: Path | None = None
) -> StackOutputs:
    """Load stack outputs from ``path``, or from the Pulumi CLI when no file is given.

    Without a file the ``pulumi`` executable must be on PATH; ``stack`` selects the stack
    (otherwise the currently selected one). Secrets are never requested.
    """
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise OutputsError(f"{path}: cannot read outputs ({err.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise OutputsError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
        return parse_outputs(data, str(path))
    return parse_outputs(
        _from_pulumi(stack, cwd), f"pulumi stack output{' --stack ' + stack if stack else ''}"
    )


def pulumi_command(stack: str | None) -> list[str]:
    """The CLI invocation that prints the outputs as JSON (secrets stay masked)."""
    cmd = ["pulumi", "stack", "output", "--json", "--show-secrets=false"]
    if stack:
        cmd += ["--stack", stack]
    return cmd


def _from_pulumi(stack: str | None, cwd: Path | None) -> Any:
    exe = shutil.which("pulumi")
    if exe is None:
        raise OutputsError(
            "the pulumi CLI is not installed: pass --outputs FILE "
            "(written by `pulumi stack output --json > FILE`)"
        )
    cmd = [exe, *pulumi_command(stack)[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False, timeout=300)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
        raise OutputsError(f"`{' '.join(pulumi_command(stack))}` failed ({proc.returncode}): {detail}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise OutputsError(f"`{' '.join(pulumi_command(stack))}` printed no JSON ({err.msg})") from None
