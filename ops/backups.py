"""``ops backups``: the age of the newest recovery point of every store against its RPO.

Where each store's recovery points are:

* postgres: RDS snapshots of the primary (``describe_db_snapshots``, automated and manual) and
  the point-in-time-restore horizon (the instance's ``LatestRestorableTime``). Both must be
  younger than ``rpoHours.postgres``.
* redis: ElastiCache snapshots of the replication group (``describe_snapshots``); a snapshot's
  time is the newest ``NodeSnapshots[].SnapshotCreateTime``.
* every other store (graph = Neo4j, vector = Qdrant): the newest object in the store's backup
  bucket, under an optional key prefix (``--prefix graph=neo4j/``); their backup jobs write there.

A store with no recovery point at all, or whose newest one is older than its RPO, is an error.
A snapshot that exists but whose creation time the API does not give is a warning (its age is
unknown, which is not proof of staleness). The clock is a parameter (``now``) so that a check
"as of" a given time is possible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import Clients, error_code
from ops.findings import Report
from ops.outputs import StackOutputs

#: Stores whose recovery points are managed snapshots rather than objects in their bucket.
SNAPSHOT_STORES = ("postgres", "redis")


def backups(
    outputs: StackOutputs,
    clients: Clients,
    *,
    now: datetime | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> Report:
    """Check the newest recovery point of every store in ``outputs.rpoHours``."""
    now = now or datetime.now(UTC)
    prefixes = prefixes or {}
    report = Report("backups")
    for store, rpo in sorted(outputs.rpo_hours.items()):
        try:
            if store == "postgres":
                _postgres(report, outputs, clients, rpo, now)
            elif store == "redis":
                _redis(report, outputs, clients, rpo, now)
            else:
                _bucket(report, outputs, clients, store, rpo, now, prefixes.get(store, ""))
        except ClientError as err:
            report.add(
                _resource(outputs, store),
                "api",
                "readable",
                error_code(err) or str(err),
                False,
                detail=f"{err.operation_name} failed: the backup age could not be measured",
            )
    return report


def _resource(outputs: StackOutputs, store: str) -> str:
    """How a store's recovery points are named in the report."""
    if store == "postgres":
        return f"rds:{outputs.postgres.region}:{outputs.postgres.primary_identifier}"
    if store == "redis":
        return f"elasticache:{outputs.redis.region}:{outputs.redis.replication_group_id}"
    bucket = outputs.buckets.get(store)
    return f"s3:{bucket.name}" if bucket else store


def _hours(delta_seconds: float) -> str:
    return f"{max(delta_seconds, 0.0) / 3600:.1f} h"


def _age_check(
    report: Report,
    resource: str,
    prop: str,
    rpo: float,
    when: datetime | None,
    label: str,
    now: datetime,
    missing: str,
) -> None:
    expected = f"<= {rpo:g} h"
    if when is None:
        report.add(resource, prop, expected, missing, False, detail="no recovery point: nothing to restore")
        return
    age = (now - when).total_seconds()
    report.add(
        resource,
        prop,
        expected,
        f"{_hours(age)} ({label})",
        age <= rpo * 3600,
        detail=f"the newest recovery point is older than the RPO of {rpo:g} h",
    )


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _postgres(report: Report, outputs: StackOutputs, clients: Clients, rpo: float, now: datetime) -> None:
    p = outputs.postgres
    res = f"rds:{p.region}:{p.primary_identifier}"
    rds = clients.get("rds", p.region)
    # describe_db_snapshots without SnapshotType returns automated and manual snapshots.
    snapshots = [
        s
        for s in _paginate(
            rds, "describe_db_snapshots", "DBSnapshots", DBInstanceIdentifier=p.primary_identifier
        )
        if s.get("Status") == "available" and s.get("SnapshotCreateTime")
    ]
    newest = max(snapshots, key=lambda s: s["SnapshotCreateTime"], default=None)
    _age_check(
        report,
        res,
        "newestSnapshot",
        rpo,
        newest["SnapshotCreateTime"] if newest else None,
        f"{newest['DBSnapshotIdentifier']}, {newest.get('SnapshotType', '?')}" if newest else "",
        now,
        "no snapshot",
    )
    try:
        instance = rds.describe_db_instances(DBInstanceIdentifier=p.primary_identifier)["DBInstances"][0]
    except ClientError as err:
        if error_code(err) != "DBInstanceNotFound":
            raise
        report.add(
            res,
            "latestRestorableTime",
            f"<= {rpo:g} h",
            "instance missing",
            False,
            detail="the primary does not exist",
        )
        return
    _age_check(
        report,
        res,
        "latestRestorableTime",
        rpo,
        instance.get("LatestRestorableTime"),
        "point-in-time restore",
        now,
        "none (automated backups off?)",
    )


def _redis(report: Report, outputs: StackOutputs, clients: Clients, rpo: float, now: datetime) -> None:
    r = outputs.redis
    res = f"elasticache:{r.region}:{r.replication_group_id}"
    try:
        snapshots = [
            s
            for s in _paginate(
                clients.get("elasticache", r.region),
                "describe_snapshots",
                "Snapshots",
                ReplicationGroupId=r.replication_group_id,
            )
            if s.get("SnapshotStatus") == "available"
        ]
    except ClientError as err:
        if error_code(err) != "ReplicationGroupNotFoundFault":
            raise
        report.add(
            res,
            "newestSnapshot",
            f"<= {rpo:g} h",
            "replication group missing",
            False,
            detail="the replication group does not exist",
        )
        return
    timed: list[tuple[datetime, str]] = []
    for snap in snapshots:
        times = [
            n["SnapshotCreateTime"] for n in snap.get("NodeSnapshots", []) if n.get("SnapshotCreateTime")
        ]
        if times:
            timed.append((max(times), str(snap.get("SnapshotName"))))
    if snapshots and not timed:
        # moto 5.2.5 returns snapshots without NodeSnapshots, so their time is unknown there.
        names = ", ".join(sorted(str(s.get("SnapshotName")) for s in snapshots))
        report.add(
            res,
            "newestSnapshot",
            f"<= {rpo:g} h",
            f"unknown age ({names})",
            False,
            severity="warning",
            detail="the API gave no NodeSnapshots[].SnapshotCreateTime for these snapshots",
        )
        return
    newest = max(timed, default=None)
    _age_check(
        report,
        res,
        "newestSnapshot",
        rpo,
        newest[0] if newest else None,
        newest[1] if newest else "",
        now,
        "no snapshot",
    )


def _bucket(
    report: Report,
    outputs: StackOutputs,
    clients: Clients,
    store: str,
    rpo: float,
    now: datetime,
    prefix: str,
) -> None:
    bucket = outputs.buckets.get(store)
    if bucket is None:
        report.add(
            store,
            "backupBucket",
            "a bucket in the outputs",
            "none",
            False,
            detail=f"rpoHours names {store} but the outputs have no bucket for it",
        )
        return
    res = f"s3:{bucket.name}/{prefix}" if prefix else f"s3:{bucket.name}"
    s3 = clients.get("s3", bucket.region)
    try:
        newest = max(
            _paginate(s3, "list_objects_v2", "Contents", Bucket=bucket.name, Prefix=prefix),
            key=lambda o: o["LastModified"],
            default=None,
        )
    except ClientError as err:
        if error_code(err) != "NoSuchBucket":
            raise
        report.add(
            res,
            "newestObject",
            f"<= {rpo:g} h",
            "bucket missing",
            False,
            detail=f"the {store} backup bucket does not exist",
        )
        return
    _age_check(
        report,
        res,
        "newestObject",
        rpo,
        newest["LastModified"] if newest else None,
        str(newest["Key"]) if newest else "",
        now,
        "no object",
    )
