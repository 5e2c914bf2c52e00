"""``ops verify``: the live state of a deployed stack against what the policies require.

The policy pack judges what Pulumi *would* create; this command reads what *is* there (someone
may have changed it in the console since, or a deploy half-failed):

* RDS primary: storage encrypted with the stack's key, Multi-AZ, deletion protection, backup
  retention at least the configured days; in-region replicas replicate from it, encrypted.
* DR replica: exists in ``drRegion`` (one found in another region, or none, is a finding),
  replicates from the primary, encrypted with the DR key, ``ReplicaLag`` under the threshold.
* ElastiCache: automatic failover, Multi-AZ, at-rest encryption with the stack's key, in-transit
  encryption, snapshot retention at least the configured days.
* Backup buckets: SSE-KMS with the stack's key, versioning enabled, all four public-access-block
  settings on, replication to the replica bucket in its region (with a replica KMS key, without
  which S3 skips SSE-KMS objects).

ReplicaLag with no datapoints in the window is a *warning*, not an error: CloudWatch publishes
RDS metrics every minute, but a replica that was just created (or a metric delayed by
CloudWatch) has none yet, and an unknown lag is not proof of a broken replica. A lag of -1 (RDS's
value when replication is not running) or above the threshold is an error. ``--strict`` makes
warnings fail too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.aws import Clients, error_code, region_of_arn
from ops.findings import Report
from ops.outputs import BucketOutputs, StackOutputs

#: Default ``--max-replica-lag``: the ReplicaLag alarm's default threshold
#: (``postgres.replicaLagAlarmSeconds``; an idle source shows up to 300 s on RDS).
DEFAULT_MAX_REPLICA_LAG = 300.0
#: How far back ``verify`` looks for ReplicaLag datapoints.
LAG_WINDOW_MINUTES = 15

_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def verify(
    outputs: StackOutputs,
    clients: Clients,
    *,
    max_replica_lag: float = DEFAULT_MAX_REPLICA_LAG,
    lag_window_minutes: int = LAG_WINDOW_MINUTES,
    now: datetime | None = None,
) -> Report:
    """Check every resource named in ``outputs`` and return the report (findings included).

    ``now`` is the clock the ReplicaLag window ends at (default: the current time).
    """
    now = now or datetime.now(UTC)
    report = Report("verify")
    window = timedelta(minutes=lag_window_minutes)
    _guarded(
        report,
        f"rds:{outputs.postgres.region}:{outputs.postgres.primary_identifier}",
        lambda: _postgres(report, outputs, clients, max_replica_lag, now, window),
    )
    _guarded(
        report,
        f"elasticache:{outputs.redis.region}:{outputs.redis.replication_group_id}",
        lambda: _redis(report, outputs, clients),
    )
    for store, bucket in sorted(outputs.buckets.items()):
        _guarded(report, f"s3:{bucket.name}", partial(_bucket, report, store, bucket, outputs, clients))
    return report


def _guarded(report: Report, resource: str, section: Callable[[], None]) -> None:
    """Run one section; an API error it does not expect (access denied, throttling) is a finding."""
    try:
        section()
    except ClientError as err:
        report.add(
            resource,
            "api",
            "readable",
            error_code(err) or str(err),
            False,
            detail=f"{err.operation_name} failed: the check could not be completed",
        )


# ------------------------------------------------------------------------------------------------
# RDS
# ------------------------------------------------------------------------------------------------


def describe_db(clients: Clients, region: str, identifier: str) -> dict[str, Any] | None:
    """The DB instance ``identifier`` in ``region``, or None when it does not exist there."""
    try:
        found = clients.get("rds", region).describe_db_instances(DBInstanceIdentifier=identifier)
    except ClientError as err:
        if error_code(err) == "DBInstanceNotFound":
            return None
        raise
    instances = found.get("DBInstances", [])
    return instances[0] if instances else None


def replica_lag(
    clients: Clients,
    region: str,
    identifier: str,
    now: datetime,
    window: timedelta = timedelta(minutes=LAG_WINDOW_MINUTES),
) -> float | None:
    """The most recent one-minute maximum of ``AWS/RDS ReplicaLag`` (seconds), None without data."""
    stats = clients.get("cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        StartTime=now - window,
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )
    points = sorted(stats.get("Datapoints", []), key=lambda d: d["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def check_lag(report: Report, resource: str, lag: float | None, max_lag: float, window: timedelta) -> None:
    """Record the replica-lag check (see the module docstring for the no-data decision)."""
    expected = f"<= {max_lag:g} s"
    minutes = int(window.total_seconds() // 60)
    if lag is None:
        report.add(
            resource,
            "replicaLagSeconds",
            expected,
            "no data",
            False,
            severity="warning",
            detail=f"no ReplicaLag datapoints in the last {minutes} min: new replica, or the "
            "metric is delayed; check the replica's status",
        )
    elif lag < 0:
        report.add(
            resource,
            "replicaLagSeconds",
            expected,
            lag,
            False,
            detail="ReplicaLag -1: replication is not running; see the replica's events",
        )
    else:
        report.add(
            resource,
            "replicaLagSeconds",
            expected,
            lag,
            lag <= max_lag,
            detail="the replica is behind: a failover now loses that much data",
        )


def _postgres(
    report: Report, outputs: StackOutputs, clients: Clients, max_lag: float, now: datetime, window: timedelta
) -> None:
    p = outputs.postgres
    res = f"rds:{p.region}:{p.primary_identifier}"
    primary = describe_db(clients, p.region, p.primary_identifier)
    report.add(
        res,
        "exists",
        "present",
        "present" if primary else "missing",
        primary is not None,
        detail="the primary named in the stack outputs does not exist",
    )
    if primary is not None:
        report.add(
            res,
            "storageEncrypted",
            True,
            primary.get("StorageEncrypted", False),
            bool(primary.get("StorageEncrypted")),
            detail="storage is not encrypted at rest",
        )
        key = primary.get("KmsKeyId")
        report.add(
            res,
            "kmsKeyId",
            p.kms_key_arn,
            key,
            clients.same_key(key, p.kms_key_arn, p.region),
            detail="encrypted with another key than the stack's RDS key",
        )
        report.add(
            res,
            "multiAz",
            True,
            primary.get("MultiAZ", False),
            bool(primary.get("MultiAZ")),
            detail="no synchronous standby: an AZ failure means restore from backup",
        )
        report.add(
            res,
            "deletionProtection",
            True,
            primary.get("DeletionProtection", False),
            bool(primary.get("DeletionProtection")),
            detail="the instance can be deleted by one call",
        )
        retention = int(primary.get("BackupRetentionPeriod", 0))
        report.add(
            res,
            "backupRetentionPeriod",
            f">= {p.backup_retention_days}",
            retention,
            retention >= p.backup_retention_days,
            detail="point-in-time recovery window is shorter",
        )
        status = primary.get("DBInstanceStatus")
        report.add(
            res,
            "status",
            "available",
            status,
            status == "available",
            severity="warning",
            detail="the instance is not available (maintenance, modification or failure)",
        )

    for replica_id in p.replica_identifiers:
        rres = f"rds:{p.region}:{replica_id}"
        replica = describe_db(clients, p.region, replica_id)
        report.add(
            rres,
            "exists",
            "present",
            "present" if replica else "missing",
            replica is not None,
            detail="an in-region read replica named in the outputs does not exist",
        )
        if replica is None:
            continue
        _replica_checks(
            report, rres, replica, p.primary_identifier, p.primary_arn, clients, p.region, p.kms_key_arn
        )
        check_lag(report, rres, replica_lag(clients, p.region, replica_id, now, window), max_lag, window)

    check_dr_replica(report, outputs, clients, max_lag, now, window, primary=primary)


def _replica_checks(
    report: Report,
    res: str,
    replica: dict[str, Any],
    primary_id: str,
    primary_arn: str,
    clients: Clients,
    region: str,
    key_arn: str | None,
) -> None:
    source = replica.get("ReadReplicaSourceDBInstanceIdentifier")
    report.add(
        res,
        "readReplicaSource",
        primary_arn,
        source,
        source in (primary_id, primary_arn),
        detail="not a replica of the stack's primary (promoted, or replicating from elsewhere)",
    )
    report.add(
        res,
        "storageEncrypted",
        True,
        replica.get("StorageEncrypted", False),
        bool(replica.get("StorageEncrypted")),
        detail="replica storage is not encrypted at rest",
    )
    if key_arn:
        key = replica.get("KmsKeyId")
        report.add(
            res,
            "kmsKeyId",
            key_arn,
            key,
            clients.same_key(key, key_arn, region),
            detail="encrypted with another key than the stack's key for this region",
        )


def dr_region_of(outputs: StackOutputs) -> str | None:
    """The DR region: ``postgres.drRegion``, else the region of ``postgres.drReplicaArn``."""
    p = outputs.postgres
    return p.dr_region or (region_of_arn(p.dr_replica_arn) if p.dr_replica_arn else None)


def check_dr_replica(
    report: Report,
    outputs: StackOutputs,
    clients: Clients,
    max_lag: float,
    now: datetime,
    window: timedelta = timedelta(minutes=LAG_WINDOW_MINUTES),
    *,
    primary: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Check the DR replica (existence, region, source, key, status, lag); return it when found.

    ``primary`` (the primary's description) lets a replica in the wrong region be located; without
    it the primary is described here, and an unreachable primary region (the very outage a DR
    drill rehearses) only means the replica cannot be located elsewhere.
    """
    p = outputs.postgres
    if p.dr_replica_identifier is None:
        report.add(
            f"rds:{p.region}:{p.primary_identifier}",
            "drReplica",
            "present" if outputs.production else "present or none (optional outside production)",
            "none",
            not outputs.production,
            detail="production needs a cross-region DR replica (postgres.drReplica)",
        )
        return None
    dr_id = p.dr_replica_identifier
    dr_region = dr_region_of(outputs)
    if dr_region is None:
        report.add(
            f"rds:?:{dr_id}",
            "region",
            "a DR region in the outputs",
            "none",
            False,
            detail="the outputs name a DR replica but no drRegion",
        )
        return None
    res = f"rds:{dr_region}:{dr_id}"
    replica = describe_db(clients, dr_region, dr_id)
    if replica is None:
        if primary is None:
            try:
                primary = describe_db(clients, p.region, p.primary_identifier)
            except (ClientError, BotoCoreError):
                primary = None
        try:
            where = _find_elsewhere(clients, dr_id, dr_region, p.region, primary)
        except (ClientError, BotoCoreError):
            where = None
        if where is not None:
            report.add(
                res,
                "region",
                dr_region,
                where,
                False,
                detail=f"the DR replica runs in {where}, not in the DR region: it does not "
                f"protect against the loss of {p.region} as designed",
            )
        else:
            report.add(
                res,
                "exists",
                "present",
                "missing",
                False,
                detail=f"no DR replica in {dr_region}: a regional outage of {p.region} "
                "leaves only cross-region backups",
            )
        return None
    report.add(res, "exists", "present", "present", True)
    _replica_checks(
        report, res, replica, p.primary_identifier, p.primary_arn, clients, dr_region, p.dr_kms_key_arn
    )
    status = replica.get("DBInstanceStatus")
    report.add(
        res,
        "status",
        "available",
        status,
        status == "available",
        severity="warning",
        detail="the DR replica is not available",
    )
    check_lag(report, res, replica_lag(clients, dr_region, dr_id, now, window), max_lag, window)
    return replica


def _find_elsewhere(
    clients: Clients, dr_id: str, dr_region: str, primary_region: str, primary: dict[str, Any] | None
) -> str | None:
    """The region a replica called ``dr_id`` runs in when it is not in ``dr_region``.

    The primary lists all its replicas, cross-region ones by ARN, so this needs no scan of regions;
    a replica of that name in the primary's own region is found too.
    """
    for ref in (primary or {}).get("ReadReplicaDBInstanceIdentifiers", []):
        ref_region = region_of_arn(ref) or primary_region
        if ref.rsplit(":", 1)[-1] == dr_id and ref_region != dr_region:
            return ref_region
    if primary_region != dr_region and describe_db(clients, primary_region, dr_id) is not None:
        return primary_region
    return None


# ------------------------------------------------------------------------------------------------
# ElastiCache
# ------------------------------------------------------------------------------------------------


def describe_replication_group(clients: Clients, region: str, group_id: str) -> dict[str, Any] | None:
    """The replication group ``group_id`` in ``region``, or None when it does not exist."""
    try:
        found = clients.get("elasticache", region).describe_replication_groups(ReplicationGroupId=group_id)
    except ClientError as err:
        if error_code(err) == "ReplicationGroupNotFoundFault":
            return None
        raise
    groups = found.get("ReplicationGroups", [])
    return groups[0] if groups else None


def _redis(report: Report, outputs: StackOutputs, clients: Clients) -> None:
    r = outputs.redis
    res = f"elasticache:{r.region}:{r.replication_group_id}"
    group = describe_replication_group(clients, r.region, r.replication_group_id)
    report.add(
        res,
        "exists",
        "present",
        "present" if group else "missing",
        group is not None,
        detail="the replication group named in the stack outputs does not exist",
    )
    if group is None:
        return
    # ClusterEnabled is not checked: moto 5.2.5 reports it false for a multi-shard group.
    report.add(
        res,
        "automaticFailover",
        "enabled",
        group.get("AutomaticFailover"),
        group.get("AutomaticFailover") == "enabled",
        detail="a primary failure is not failed over",
    )
    report.add(
        res,
        "multiAz",
        "enabled",
        group.get("MultiAZ"),
        group.get("MultiAZ") == "enabled",
        detail="replicas may share the primary's AZ",
    )
    report.add(
        res,
        "atRestEncryptionEnabled",
        True,
        group.get("AtRestEncryptionEnabled", False),
        bool(group.get("AtRestEncryptionEnabled")),
        detail="snapshots and swap are not encrypted",
    )
    key = group.get("KmsKeyId")
    report.add(
        res,
        "kmsKeyId",
        r.kms_key_arn,
        key,
        clients.same_key(key, r.kms_key_arn, r.region),
        detail="at-rest encryption does not use the stack's key",
    )
    report.add(
        res,
        "transitEncryptionEnabled",
        True,
        group.get("TransitEncryptionEnabled", False),
        bool(group.get("TransitEncryptionEnabled")),
        detail="clients can connect without TLS",
    )
    limit = int(group.get("SnapshotRetentionLimit", 0))
    report.add(
        res,
        "snapshotRetentionLimit",
        f">= {r.snapshot_retention_days}",
        limit,
        limit >= r.snapshot_retention_days,
        detail="fewer daily snapshots are kept than configured",
    )
    status = group.get("Status")
    report.add(
        res,
        "status",
        "available",
        status,
        status == "available",
        severity="warning",
        detail="the replication group is not available",
    )


# ------------------------------------------------------------------------------------------------
# S3
# ------------------------------------------------------------------------------------------------


def bucket_region(clients: Clients, name: str, hint: str) -> str | None:
    """The region of bucket ``name`` (None when it does not exist)."""
    try:
        loc = clients.get("s3", hint).get_bucket_location(Bucket=name).get("LocationConstraint")
    except ClientError as err:
        if error_code(err) in ("NoSuchBucket", "404"):
            return None
        raise
    return str(loc) if loc else "us-east-1"  # the API's null/empty constraint means us-east-1


def _bucket(report: Report, store: str, b: BucketOutputs, outputs: StackOutputs, clients: Clients) -> None:
    res = f"s3:{b.name}"
    s3 = clients.get("s3", b.region)
    region = bucket_region(clients, b.name, b.region)
    report.add(
        res,
        "exists",
        "present",
        "present" if region else "missing",
        region is not None,
        detail=f"the {store} backup bucket does not exist",
    )
    if region is None:
        return
    report.add(res, "region", b.region, region, region == b.region, detail="the bucket is in another region")

    try:
        rules = s3.get_bucket_encryption(Bucket=b.name)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as err:
        if error_code(err) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    algorithm = default.get("SSEAlgorithm")
    report.add(
        res,
        "encryption.sseAlgorithm",
        "aws:kms",
        algorithm,
        algorithm in ("aws:kms", "aws:kms:dsse"),
        detail="default encryption is not SSE-KMS with the stack's key",
    )
    key = default.get("KMSMasterKeyID")
    report.add(
        res,
        "encryption.kmsKeyId",
        b.kms_key_arn,
        key,
        clients.same_key(key, b.kms_key_arn, b.region),
        detail="objects are encrypted with another key than the stack's backup key",
    )
    bucket_key = bool(rules[0].get("BucketKeyEnabled")) if rules else False
    report.add(
        res,
        "encryption.bucketKeyEnabled",
        True,
        bucket_key,
        bucket_key,
        severity="warning",
        detail="without an S3 bucket key every object operation is a KMS request (cost)",
    )

    versioning = s3.get_bucket_versioning(Bucket=b.name).get("Status", "never enabled")
    report.add(
        res,
        "versioning",
        "Enabled",
        versioning,
        versioning == "Enabled",
        detail="overwritten or deleted backups cannot be recovered; replication needs versioning",
    )

    try:
        pab = s3.get_public_access_block(Bucket=b.name)["PublicAccessBlockConfiguration"]
    except ClientError as err:
        if error_code(err) != "NoSuchPublicAccessBlockConfiguration":
            raise
        pab = {}
    for flag in _PAB_FLAGS:
        value = pab.get(flag)
        report.add(
            res,
            f"publicAccessBlock.{flag[0].lower()}{flag[1:]}",
            True,
            "not set" if value is None else value,
            value is True,
            detail="the bucket's public access block is not fully on",
        )

    _replication(report, res, b, outputs, clients)


def _replication(report: Report, res: str, b: BucketOutputs, outputs: StackOutputs, clients: Clients) -> None:
    s3 = clients.get("s3", b.region)
    try:
        config = s3.get_bucket_replication(Bucket=b.name)["ReplicationConfiguration"]
    except ClientError as err:
        if error_code(err) != "ReplicationConfigurationNotFoundError":
            raise
        config = {"Rules": []}
    enabled = [r for r in config.get("Rules", []) if r.get("Status") == "Enabled"]
    destinations = sorted({r.get("Destination", {}).get("Bucket", "") for r in enabled})

    if b.replica_name is None:
        report.add(
            res,
            "replication",
            "configured" if outputs.production else "optional outside production",
            ", ".join(destinations) or "none",
            not outputs.production,
            detail="production backups must be replicated to the DR region (backups.crossRegion)",
        )
        return

    target = f"arn:aws:s3:::{b.replica_name}"
    report.add(
        res,
        "replication.destination",
        target,
        ", ".join(destinations) or "none",
        target in destinations,
        detail="no enabled replication rule to the replica bucket",
    )
    rule = next((r for r in enabled if r.get("Destination", {}).get("Bucket") == target), None)
    if rule is not None:
        # S3 accepts ReplicaKmsKeyID only together with SourceSelectionCriteria.SseKmsEncryptedObjects,
        # and skips SSE-KMS objects without them. (moto 5.2.5 drops SourceSelectionCriteria on
        # put_bucket_replication, so only the key is checked.)
        replica_key = rule.get("Destination", {}).get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID")
        report.add(
            res,
            "replication.replicaKmsKeyId",
            "a KMS key in the replica region",
            replica_key,
            bool(replica_key),
            detail="SSE-KMS encrypted objects are not replicated without a replica key",
        )

    rres = f"s3:{b.replica_name}"
    replica_region = bucket_region(clients, b.replica_name, b.replica_region or b.region)
    if replica_region is None:
        report.add(rres, "exists", "present", "missing", False, detail="the replica bucket does not exist")
        return
    if b.replica_region:
        report.add(
            rres,
            "region",
            b.replica_region,
            replica_region,
            replica_region == b.replica_region,
            detail="the replica bucket is not in the DR region",
        )
    versioning = (
        clients.get("s3", replica_region)
        .get_bucket_versioning(Bucket=b.replica_name)
        .get("Status", "never enabled")
    )
    report.add(
        rres,
        "versioning",
        "Enabled",
        versioning,
        versioning == "Enabled",
        detail="S3 replication requires versioning on the destination",
    )
