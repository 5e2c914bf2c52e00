"""A deployed data-platform stack, built in moto the way the Pulumi program builds it on AWS.

``build_stack`` creates KMS keys in both regions, the RDS primary (encrypted, Multi-AZ, deletion
protection, 35-day retention), an in-region read replica, the cross-region DR replica (moto
implements ``create_db_instance_read_replica`` with a source ARN from another region), the
ElastiCache replication group (3 shards x 2 nodes, failover, Multi-AZ, TLS, at-rest KMS), a
snapshot of it, four backup buckets with SSE-KMS, versioning, public access block and replication
to replica buckets in the DR region, backup objects for graph and vector, and ReplicaLag
datapoints. A :class:`Variant` breaks one thing at a time. It returns the stack outputs exactly as
``pulumi stack output --json`` prints them (README "Stack outputs").

Tests use the ``make_stack`` fixture (helpers live here as fixtures, not in an importable module,
so the tests do not depend on pytest's import mode).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

PRIMARY = "us-east-1"
DR = "us-west-2"
STORES = ("graph", "postgres", "redis", "vector")
RPO_HOURS = {"postgres": 24.0, "redis": 24.0, "graph": 24.0, "vector": 6.0}


@dataclass(frozen=True)
class Variant:
    """What differs from a healthy production stack (one field at a time in most tests)."""

    environment: str = "production"
    dr_replica_region: str | None = DR
    """Where the DR replica really runs; None: it was never created (the outputs still name it)."""
    dr_in_outputs: bool = True
    """Whether the outputs name a DR replica at all (dev stacks without one)."""
    primary_multi_az: bool = True
    primary_deletion_protection: bool = True
    primary_retention: int = 35
    primary_encrypted: bool = True
    redis_failover: bool = True
    redis_transit: bool = True
    redis_snapshot: bool = True
    unencrypted_bucket: str | None = None
    """Store whose bucket has no default encryption."""
    aes_bucket: str | None = None
    """Store whose bucket uses SSE-S3 (AES256) instead of SSE-KMS."""
    bucket_key_alias: bool = False
    """Encrypt buckets by alias ARN instead of key ARN (same key, another spelling)."""
    no_pab_bucket: str | None = None
    unversioned_bucket: str | None = None
    unreplicated_bucket: str | None = None
    backup_objects: tuple[str, ...] = ("graph", "vector")
    """Stores whose bucket receives a backup object."""
    object_prefix: str = ""
    dr_lag_seconds: float | None = 12.0
    """ReplicaLag datapoint published for the DR replica; None publishes nothing."""


@dataclass
class Deployed:
    """A stack in moto: its outputs (contract JSON), the file they are written to, and a session."""

    outputs: dict[str, Any]
    path: Path
    session: boto3.Session
    now: datetime


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every service, with fake credentials and no ambient profile or region."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")  # never used: every client names its region
    with mock_aws():
        yield


def build_stack(tmp_path: Path, variant: Variant = Variant()) -> Deployed:
    """Create the stack in moto (inside the ``aws`` fixture) and write its outputs to a file."""
    session = boto3.Session()
    v = variant
    kms = {r: session.client("kms", region_name=r) for r in (PRIMARY, DR)}
    keys = {
        r: kms[r].create_key(Description=f"data-platform {r}")["KeyMetadata"]["Arn"] for r in (PRIMARY, DR)
    }
    kms[PRIMARY].create_alias(AliasName="alias/data-platform-backups", TargetKeyId=keys[PRIMARY])

    # --- RDS -----------------------------------------------------------------------------------
    rds = session.client("rds", region_name=PRIMARY)
    primary = rds.create_db_instance(
        DBInstanceIdentifier="pg-primary",
        DBInstanceClass="db.r6g.xlarge",
        Engine="postgres",
        EngineVersion="16.4",
        MasterUsername="dp_admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=500,
        MultiAZ=v.primary_multi_az,
        StorageEncrypted=v.primary_encrypted,
        **({"KmsKeyId": keys[PRIMARY]} if v.primary_encrypted else {}),
        DeletionProtection=v.primary_deletion_protection,
        BackupRetentionPeriod=v.primary_retention,
    )["DBInstance"]
    rds.create_db_snapshot(DBInstanceIdentifier="pg-primary", DBSnapshotIdentifier="pg-primary-manual")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="pg-replica-1", SourceDBInstanceIdentifier="pg-primary", KmsKeyId=keys[PRIMARY]
    )
    dr_arn = f"arn:aws:rds:{DR}:123456789012:db:pg-dr"
    if v.dr_replica_region is not None:
        region = v.dr_replica_region
        if region not in keys:
            keys[region] = session.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
        session.client("rds", region_name=region).create_db_instance_read_replica(
            DBInstanceIdentifier="pg-dr",
            SourceDBInstanceIdentifier=primary["DBInstanceArn"],
            KmsKeyId=keys[region],
            SourceRegion=PRIMARY,
        )

    now = datetime.now(UTC)
    # moto accepts PutMetricData in the AWS/RDS namespace (real CloudWatch reserves AWS/*): these
    # datapoints stand in for the ReplicaLag that RDS publishes every minute.
    metrics = [("pg-replica-1", PRIMARY, 3.0)]
    if v.dr_lag_seconds is not None and v.dr_replica_region is not None:
        metrics.append(("pg-dr", v.dr_replica_region, v.dr_lag_seconds))
    for identifier, region, lag in metrics:
        session.client("cloudwatch", region_name=region).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Value": lag,
                    "Unit": "Seconds",
                    "Timestamp": now - timedelta(minutes=2),
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}],
                }
            ],
        )

    # --- ElastiCache ---------------------------------------------------------------------------
    ec = session.client("elasticache", region_name=PRIMARY)
    ec.create_replication_group(
        ReplicationGroupId="dp-redis",
        ReplicationGroupDescription="data-platform valkey",
        Engine="valkey",
        EngineVersion="8.0",
        CacheNodeType="cache.r6g.large",
        NumNodeGroups=3,
        ReplicasPerNodeGroup=1,
        AutomaticFailoverEnabled=v.redis_failover,
        MultiAZEnabled=v.redis_failover,
        TransitEncryptionEnabled=v.redis_transit,
        AtRestEncryptionEnabled=True,
        KmsKeyId=keys[PRIMARY],
        SnapshotRetentionLimit=7,
        SnapshotWindow="05:00-06:00",
    )
    if v.redis_snapshot:
        ec.create_snapshot(ReplicationGroupId="dp-redis", SnapshotName="dp-redis-daily")

    # --- S3 ------------------------------------------------------------------------------------
    s3 = {r: session.client("s3", region_name=r) for r in (PRIMARY, DR)}
    buckets: dict[str, Any] = {}
    for store in STORES:
        name, replica = f"dp-prod-backups-{store}", f"dp-prod-backups-{store}-dr"
        s3[PRIMARY].create_bucket(Bucket=name)
        s3[DR].create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": DR})
        s3[DR].put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
        s3[DR].put_bucket_encryption(
            Bucket=replica,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": keys[DR],
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        if store == v.aes_bucket:
            s3[PRIMARY].put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        elif store != v.unencrypted_bucket:
            key = (
                f"arn:aws:kms:{PRIMARY}:123456789012:alias/data-platform-backups"
                if v.bucket_key_alias
                else keys[PRIMARY]
            )
            s3[PRIMARY].put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": key,
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
        if store != v.unversioned_bucket:
            s3[PRIMARY].put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if store != v.no_pab_bucket:
            s3[PRIMARY].put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
        if store != v.unreplicated_bucket and store != v.unversioned_bucket:
            s3[PRIMARY].put_bucket_replication(
                Bucket=name,
                ReplicationConfiguration={
                    "Role": "arn:aws:iam::123456789012:role/dp-backup-replication",
                    "Rules": [
                        {
                            "ID": "to-dr",
                            "Status": "Enabled",
                            "Priority": 1,
                            "Filter": {},
                            "DeleteMarkerReplication": {"Status": "Disabled"},
                            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                            "Destination": {
                                "Bucket": f"arn:aws:s3:::{replica}",
                                "EncryptionConfiguration": {"ReplicaKmsKeyID": keys[DR]},
                            },
                        }
                    ],
                },
            )
        if store in v.backup_objects:
            s3[PRIMARY].put_object(
                Bucket=name, Key=f"{v.object_prefix}{store}-backup.tar.zst", Body=b"backup"
            )
        buckets[store] = {
            "name": name,
            "region": PRIMARY,
            "arn": f"arn:aws:s3:::{name}",
            "kmsKeyArn": keys[PRIMARY],
            "replicaName": replica,
            "replicaRegion": DR,
        }

    outputs = {
        "postgres": {
            "primaryIdentifier": "pg-primary",
            "primaryArn": primary["DBInstanceArn"],
            "region": PRIMARY,
            "replicaIdentifiers": ["pg-replica-1"],
            "drReplicaIdentifier": "pg-dr" if v.dr_in_outputs else None,
            "drReplicaArn": dr_arn if v.dr_in_outputs else None,
            "drRegion": DR if v.dr_in_outputs else None,
            "kmsKeyArn": keys[PRIMARY],
            "drKmsKeyArn": keys[DR] if v.dr_in_outputs else None,
            "backupRetentionDays": 35,
            "port": 5432,
        },
        "redis": {
            "replicationGroupId": "dp-redis",
            "region": PRIMARY,
            "kmsKeyArn": keys[PRIMARY],
            "snapshotRetentionDays": 7,
        },
        "buckets": buckets,
        "alarmTopicArn": f"arn:aws:sns:{PRIMARY}:123456789012:dp-alarms",
        "eksClusterName": "dp-prod",
        "rpoHours": RPO_HOURS,
        "environment": v.environment,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs, indent=2), encoding="utf-8")
    return Deployed(outputs, path, session, now)


@pytest.fixture
def make_stack(aws: None, tmp_path: Path) -> Callable[..., Deployed]:
    """``make_stack(**changes)``: build the stack with :class:`Variant` fields changed."""

    def make(**changes: Any) -> Deployed:
        return build_stack(tmp_path, Variant(**changes))

    return make
