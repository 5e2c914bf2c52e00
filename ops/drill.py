"""``ops dr-drill``: the DR replica's state, its promotion, and an ElastiCache failover test.

Nothing here changes anything unless the caller asks for it twice: ``--promote`` or
``--test-failover`` alone prints the plan (the API call, its region, the preconditions);
``--yes`` as well performs it.

Promotion (``rds.promote_read_replica``) is one-way: the replica becomes a standalone primary
and stops replicating. The command then polls until RDS reports the instance ``available``
without a replication source (bounded by ``timeout``), and prints the follow-up steps that no
API call can do for you (repoint the applications, fence the old primary, re-create DR, bring the
stack config in line).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops.aws import Clients
from ops.findings import Report
from ops.outputs import StackOutputs
from ops.verify import (
    DEFAULT_MAX_REPLICA_LAG,
    check_dr_replica,
    describe_db,
    describe_replication_group,
    dr_region_of,
)


class DrillError(Exception):
    """The drill cannot proceed (a precondition failed, or the stack has no DR replica)."""


@dataclass(frozen=True)
class Plan:
    """One state-changing API call the drill would make, and why it is (or is not) safe to make."""

    service: str
    region: str
    operation: str
    params: dict[str, Any]
    blockers: list[str] = field(default_factory=list)
    """Preconditions that fail; the call is refused while any is listed."""
    notes: list[str] = field(default_factory=list)
    """Things to know before acting that do not block (e.g. current lag)."""

    def describe(self) -> str:
        """``rds.promote_read_replica(DBInstanceIdentifier='x') in us-west-2``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({args}) in {self.region}"


def status(
    outputs: StackOutputs,
    clients: Clients,
    *,
    max_replica_lag: float = DEFAULT_MAX_REPLICA_LAG,
    now: datetime | None = None,
) -> tuple[Report, dict[str, Any] | None]:
    """The DR replica's checks (exists in the DR region, source, key, status, lag) and its description."""
    report = Report("dr-drill")
    replica = check_dr_replica(report, outputs, clients, max_replica_lag, now or datetime.now(UTC))
    return report, replica


def plan_promotion(outputs: StackOutputs, clients: Clients, *, now: datetime | None = None) -> Plan:
    """What ``--promote --yes`` would call, with its blockers. Raises DrillError without a DR replica."""
    p = outputs.postgres
    region = dr_region_of(outputs)
    if p.dr_replica_identifier is None or region is None:
        raise DrillError("the stack has no DR replica (postgres.drReplicaIdentifier/drRegion are null)")
    plan = Plan(
        "rds",
        region,
        "promote_read_replica",
        {
            "DBInstanceIdentifier": p.dr_replica_identifier,
            "BackupRetentionPeriod": max(p.backup_retention_days, 1),
        },
    )
    replica = describe_db(clients, region, p.dr_replica_identifier)
    if replica is None:
        plan.blockers.append(f"{p.dr_replica_identifier} does not exist in {region}")
        return plan
    if not replica.get("ReadReplicaSourceDBInstanceIdentifier"):
        plan.blockers.append(f"{p.dr_replica_identifier} is not a read replica (already promoted?)")
    if replica.get("DBInstanceStatus") != "available":
        plan.blockers.append(f"{p.dr_replica_identifier} is {replica.get('DBInstanceStatus')}, not available")
    report = Report("dr-drill")
    check_dr_replica(
        report, outputs, clients, DEFAULT_MAX_REPLICA_LAG, now or datetime.now(UTC), primary={}
    )  # the primary's region may be the one that is down: do not ask it
    for finding in report.findings:
        if finding.property == "replicaLagSeconds":
            plan.notes.append(
                f"replica lag {finding.actual} ({finding.expected}): writes in that window "
                "that did not reach the replica are lost by promoting now"
            )
    return plan


def promote(outputs: StackOutputs, clients: Clients, plan: Plan) -> dict[str, Any]:
    """Call ``promote_read_replica`` as planned. Refuses a plan with blockers."""
    if plan.blockers:
        raise DrillError("refusing to promote: " + "; ".join(plan.blockers))
    response = clients.get("rds", plan.region).promote_read_replica(**plan.params)
    return dict(response["DBInstance"])


def wait_promoted(
    clients: Clients,
    region: str,
    identifier: str,
    *,
    timeout: float,
    interval: float,
    on_poll: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until ``identifier`` is ``available`` with no replication source; DrillError on timeout.

    ``on_poll(status, elapsed_seconds)`` is called after every poll (the CLI drives a progress
    display with it). The first poll happens at once, then every ``interval`` seconds.
    """
    start = clock()
    while True:
        instance = describe_db(clients, region, identifier)
        elapsed = clock() - start
        state = str(instance.get("DBInstanceStatus")) if instance else "missing"
        promoted = (
            instance is not None
            and state == "available"
            and not instance.get("ReadReplicaSourceDBInstanceIdentifier")
        )
        if on_poll is not None:
            on_poll("promoted" if promoted else state, elapsed)
        if promoted and instance is not None:
            return instance
        if elapsed + interval > timeout:
            raise DrillError(
                f"{identifier} in {region} is still {state} after {elapsed:.0f} s "
                f"(timeout {timeout:g} s); promotion continues on AWS: poll again with "
                f"`aws rds describe-db-instances --db-instance-identifier {identifier} "
                f"--region {region}`"
            )
        sleep(interval)


def follow_up_steps(
    outputs: StackOutputs, stack: str | None, promoted: dict[str, Any] | None = None
) -> list[str]:
    """What to do after a promotion, in order. ``promoted`` (the instance) supplies the endpoint."""
    p = outputs.postgres
    region = dr_region_of(outputs) or "?"
    dr_id = p.dr_replica_identifier or "?"
    endpoint = (promoted or {}).get("Endpoint", {})
    where = (
        f"{endpoint.get('Address')}:{endpoint.get('Port', p.port)}"
        if endpoint.get("Address")
        else f"the endpoint of {dr_id} in {region}"
    )
    stack_flag = f" --stack {stack}" if stack else ""
    return [
        f"Fence the old primary {p.primary_identifier} in {p.region} as soon as it is reachable (stop it, "
        "or remove the applications' access): writes it accepts are never seen by the new primary.",
        f"Repoint the applications and PgBouncer to {where}: update the connection secret or DNS name, "
        "the PgBouncer [databases] host, then RELOAD PgBouncer; check with `SHOW SERVERS;`.",
        f"Harden the new primary: enable Multi-AZ (`aws rds modify-db-instance --db-instance-identifier "
        f"{dr_id} --multi-az --apply-immediately --region {region}`), keep deletion protection on, "
        f"check backup retention is {p.backup_retention_days} days.",
        f"Re-create DR protection: a new cross-region read replica of {dr_id} (in {p.region} once it is "
        "back, or another region), and automated-backup replication.",
        "Bring the stack in line before the next deploy: swap aws:region and data-platform:drRegion "
        "(or set data-platform:postgres.drReplica: false until the new replica exists), "
        f"`pulumi refresh{stack_flag}`, then read `pulumi preview{stack_flag}` with care: an `up` from the "
        "old config would try to replace the promoted instance.",
        "Re-run `python -m ops verify` and `python -m ops backups` against the new outputs.",
    ]


def plan_test_failover(outputs: StackOutputs, clients: Clients, node_group: str = "0001") -> Plan:
    """What ``--test-failover --yes`` would call on shard ``node_group``, with its blockers."""
    r = outputs.redis
    plan = Plan(
        "elasticache",
        r.region,
        "test_failover",
        {"ReplicationGroupId": r.replication_group_id, "NodeGroupId": node_group},
    )
    group = describe_replication_group(clients, r.region, r.replication_group_id)
    if group is None:
        plan.blockers.append(f"replication group {r.replication_group_id} does not exist in {r.region}")
        return plan
    if group.get("Status") != "available":
        plan.blockers.append(f"replication group is {group.get('Status')}, not available")
    if group.get("AutomaticFailover") != "enabled":
        plan.blockers.append(
            "automatic failover is not enabled: a failover test would have nothing to promote"
        )
    shard = next((g for g in group.get("NodeGroups", []) if g.get("NodeGroupId") == node_group), None)
    if shard is None:
        known = ", ".join(g.get("NodeGroupId", "?") for g in group.get("NodeGroups", [])) or "none"
        plan.blockers.append(f"node group {node_group} does not exist (node groups: {known})")
    elif sum(1 for m in shard.get("NodeGroupMembers", []) if m.get("CurrentRole") == "replica") == 0:
        plan.blockers.append(f"node group {node_group} has no replica to fail over to")
    plan.notes.append(
        "the shard's primary is replaced by a replica; clients see a short write outage "
        "and must follow the cluster topology (MOVED/refresh)"
    )
    plan.notes.append(
        f"follow it with `aws elasticache describe-events --source-type replication-group "
        f"--source-identifier {r.replication_group_id} --region {r.region} --duration 60`"
    )
    return plan


def start_test_failover(clients: Clients, plan: Plan) -> dict[str, Any]:
    """Call ``elasticache.test_failover`` as planned. Refuses a plan with blockers.

    (moto 5.2.5 does not implement TestFailover: under moto this raises NotImplementedError.)
    """
    if plan.blockers:
        raise DrillError("refusing to test failover: " + "; ".join(plan.blockers))
    response = clients.get("elasticache", plan.region).test_failover(**plan.params)
    return dict(response.get("ReplicationGroup", {}))
