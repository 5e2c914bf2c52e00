"""Backup buckets: one S3 bucket per data store, locked down, tiered, replicated to the DR region.

``Backups`` (type ``data-platform:aws:Backups``) creates, parented to itself, per store:

* a bucket ``<name>-<store>-<random>`` (``bucket_prefix``), with object lock enabled at creation
  when ``object_lock_mode`` is set (it cannot be added later), never ``force_destroy`` unless the
  caller also says ``ephemeral=True``;
* SSE-KMS with the caller's key and an S3 Bucket Key (fewer KMS calls), SSE-C blocked; versioning;
  the public-access block (all four flags); ``BucketOwnerEnforced`` ownership (ACLs off); a bucket
  policy denying any request without TLS, and ``PutObject`` with another SSE algorithm or another
  KMS key (stricter than terraform-aws-s3-bucket, whose guards default to off);
* a lifecycle (below), and, when ``replica_region`` is set, the same bucket again in the DR region
  (DR key, same protections and lifecycle), a replication role and a ``BucketReplicationConfig``
  (KMS-encrypted objects re-encrypted with the DR key, delete markers replicated).

Lifecycle, from ``daily_days`` (7) / ``weekly_days`` (30) / ``monthly_days`` (365):

* current objects stay in STANDARD for ``daily_days`` (recent backups restore fastest), then move to
  GLACIER_IR (Glacier Instant Retrieval: millisecond reads, so a restore is not delayed by a 3–12 h
  Glacier thaw; no minimum age for this transition, 90-day minimum storage billed);
* they move on to DEEP_ARCHIVE at ``daily_days + 90`` — S3 wants a later Glacier-class transition
  well after the earlier one, and 90 days is Glacier IR's minimum storage, so the move is not billed
  as an early deletion — but only when they then stay there the 180-day Deep Archive minimum before
  expiry (``daily_days + 90 + 180 <= monthly_days``); with 7/365 that is day 97;
* current objects expire at ``monthly_days``; noncurrent versions (overwritten or deleted backups)
  after ``weekly_days``; expired delete markers are removed; incomplete multipart uploads are aborted
  after 7 days. In a versioned bucket, expiry only makes the object noncurrent: a backup is really
  gone ``monthly_days + weekly_days`` after it was written (395 days with the defaults).

Restores: STANDARD and GLACIER_IR objects read at once; DEEP_ARCHIVE objects (older than
``daily_days + 90``) need a restore request first (up to 12 h standard, 48 h bulk).

With object lock, the default retention (``object_lock_days``) keeps every version undeletable for
that long, whatever the lifecycle says.

Access logs (FSBP S3.9, CKV_AWS_18; on unless ``access_log_days`` is None): reads and deletes of
backups leave a trace. Per region with buckets, one access-log bucket ``<name>-access-logs-<random>``
— SSE-S3 (S3 server access logging cannot deliver to an SSE-KMS bucket), versioned, the four public
access blocks, ``BucketOwnerEnforced``, TLS only, written only by ``logging.s3.amazonaws.com`` for
this stack's backup buckets of this account (``aws:SourceArn`` + ``aws:SourceAccount``), current logs
expiring after ``access_log_days`` — and a ``BucketLogging`` on every backup bucket and replica into
its region's log bucket under ``<store>/``, date-partitioned by event time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.base import ArgsError, Problems, child_opts, fit_name, merge_tags
from components.limits import backup_tiers_in_order

TYPE_TOKEN = "data-platform:aws:Backups"
DEFAULT_STORES = ("postgres", "redis", "graph", "vector")
MAX_PREFIX = 37
"""``bucket_prefix`` limit: S3 names are at most 63 characters and the provider appends 26."""
GLACIER_IR_MIN_DAYS = 90
DEEP_ARCHIVE_MIN_DAYS = 180
ABORT_MULTIPART_DAYS = 7
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


@dataclass(frozen=True)
class BackupsArgs:
    """Inputs of :class:`Backups`."""

    kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (purpose ``s3``) of the buckets, in ``region``."""
    stores: Sequence[str] = DEFAULT_STORES
    """One bucket per store (lowercase letters, digits, '-'). Default: postgres, redis, graph, vector."""
    name: str = "data-platform"
    """Bucket names start ``<name>-<store>-`` and ``<name>-access-logs-``; a name too long for S3's
    37-character ``bucket_prefix`` is cut to fit with a short hash (:func:`bucket_base`), the same
    cut for every bucket of the component. Default: data-platform."""
    region: str | None = None
    """Region of the primary buckets. Default: None (the provider's region)."""
    replica_region: str | None = None
    """DR region for cross-region replication, e.g. us-west-2; needs ``replica_kms_key_arn``.
    Default: None (no replication)."""
    replica_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key (purpose ``s3``) in ``replica_region`` for the replica buckets and replicated objects.
    Default: None (required with ``replica_region``)."""
    daily_days: int = 7
    """Days in STANDARD before GLACIER_IR (1..). Default: 7."""
    weekly_days: int = 30
    """Days a noncurrent version is kept (daily_days..monthly_days). Default: 30."""
    monthly_days: int = 365
    """Days after which a backup expires (> daily_days); DEEP_ARCHIVE from daily_days + 90 when
    monthly_days >= daily_days + 270. Default: 365."""
    object_lock_mode: LockMode | None = None
    """Object lock default retention mode (GOVERNANCE or COMPLIANCE); set at bucket creation only (a
    change replaces the bucket). COMPLIANCE cannot be shortened or lifted, even by root. Default: None
    (no object lock)."""
    object_lock_days: int = 30
    """Default retention in days with ``object_lock_mode`` (1..monthly_days). Default: 30."""
    replication_time_control: bool = False
    """S3 Replication Time Control (15-minute SLA, metrics; extra cost). Default: False."""
    force_destroy: bool = False
    """Let a destroy delete the buckets with every object version. Only together with ``ephemeral``.
    Default: False."""
    ephemeral: bool = False
    """The buckets hold throwaway data (test stacks): required for ``force_destroy``. Default: False."""
    access_log_days: int | None = 365
    """Days S3 server access logs of the backup buckets are kept (30..3650), or None for no access
    logging (not allowed by the policy pack). Default: 365."""
    protect: bool = False
    """Protect the buckets and retain them on delete (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every bucket (merged with ``component=backups`` and ``store``). Default: {}."""


def validate_backups_args(args: BackupsArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("BackupsArgs")
    stores = list(args.stores)
    if not stores or len(set(stores)) != len(stores) or not all(_NAME.match(s) for s in stores):
        problems.add("stores", args.stores, "distinct names of lowercase letters, digits and '-'")
    if not _NAME.match(args.name):
        problems.add("name", args.name, "lowercase letters, digits and '-'")
    if base_limit(stores) < 8:
        problems.add("stores", args.stores, f"store names that leave '<name>-<store>-' within {MAX_PREFIX} "
                                            "characters with at least 8 of the name")
    for fname in ("region", "replica_region"):
        value = getattr(args, fname)
        if value is not None and not _REGION.match(value):
            problems.add(fname, value, "a region name like us-west-2, or None")
    if (args.replica_region is None) != (args.replica_kms_key_arn is None):
        problems.add("replica_region", args.replica_region,
                     "set together with replica_kms_key_arn (both or neither)")
    if args.replica_region is not None and args.replica_region == args.region:
        problems.add("replica_region", args.replica_region, "a region other than region")
    if args.daily_days < 1:
        problems.add("daily_days", args.daily_days, ">= 1")
    if args.monthly_days <= args.daily_days:
        problems.add("monthly_days", args.monthly_days, f"> daily_days ({args.daily_days})")
    if not backup_tiers_in_order(args.daily_days, args.weekly_days, args.monthly_days):
        problems.add("weekly_days", args.weekly_days,
                     f"{args.daily_days + 1}..{args.monthly_days - 1}, between daily_days and monthly_days")
    if args.object_lock_mode is not None:
        if args.object_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            problems.add("object_lock_mode", args.object_lock_mode, "GOVERNANCE, COMPLIANCE or None")
        if not 1 <= args.object_lock_days <= args.monthly_days:
            problems.add("object_lock_days", args.object_lock_days, f"1..monthly_days ({args.monthly_days})")
    if args.access_log_days is not None and not 30 <= args.access_log_days <= 3650:
        problems.add("access_log_days", args.access_log_days, "30..3650, or None")
    if args.force_destroy and not args.ephemeral:
        problems.add("force_destroy", args.force_destroy,
                     "only together with ephemeral=True: force_destroy deletes every backup version")
    problems.raise_any()


ACCESS_LOGS = "access-logs"
"""The store-like part of the access-log buckets' prefix (``<name>-access-logs-``)."""


def base_limit(stores: Sequence[str]) -> int:
    """The longest bucket base that keeps ``<base>-<part>-`` within S3's ``bucket_prefix`` limit for every
    store and the access-log buckets."""
    return MAX_PREFIX - len(max((*stores, ACCESS_LOGS), key=len)) - 2


def bucket_base(name: str, stores: Sequence[str]) -> str:
    """``name`` cut (with a short hash, :func:`components.base.fit_name`) to :func:`base_limit`."""
    return fit_name(name, base_limit(stores))


def lifecycle_rules(daily_days: int, weekly_days: int,
                    monthly_days: int) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """The bucket lifecycle rules (pure; see the module docstring)."""
    transitions: list[aws.s3.BucketLifecycleConfigurationRuleTransitionArgsDict] = [
        {"days": daily_days, "storage_class": "GLACIER_IR"}]
    deep = daily_days + GLACIER_IR_MIN_DAYS
    if deep + DEEP_ARCHIVE_MIN_DAYS <= monthly_days:
        transitions.append({"days": deep, "storage_class": "DEEP_ARCHIVE"})
    return [{
        "id": "backup-tiers",
        "status": "Enabled",
        "filter": {},
        "transitions": transitions,
        "expiration": {"days": monthly_days},
        "noncurrent_version_expiration": {"noncurrent_days": weekly_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
    }, {
        "id": "expired-delete-markers",
        "status": "Enabled",
        "filter": {},
        "expiration": {"expired_object_delete_marker": True},
    }]


def access_log_bucket_policy(bucket_arn: str, account: str, source_arns: Sequence[str]) -> dict[str, Any]:
    """TLS only; objects written only by S3 server access logging, for ``source_arns`` of ``account``."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{bucket_arn}/*",
         "Condition": {"ArnLike": {"aws:SourceArn": sorted(source_arns)},
                       "StringEquals": {"aws:SourceAccount": account}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}


def bucket_policy(bucket_arn: str, key_arn: str) -> dict[str, Any]:
    """TLS only; PutObject only with SSE-KMS and this bucket's key (absent headers use the default)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }, {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        }, {
            "Sid": "DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEqualsIfExists": {
                "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
        }],
    }


@dataclass
class _Bucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    key_arn: pulumi.Output[str]


class Backups(pulumi.ComponentResource):
    """Backup buckets per store; see the module docstring."""

    buckets: dict[str, dict[str, Any]]
    """store → {name, arn, region, kms_key_arn, replica_name, replica_arn, replica_region} (replica_* None
    without replication)."""

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_backups_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._base = bucket_base(args.name, args.stores)  # every bucket's prefix starts with it
        self._name_prefix = name
        self.buckets = {}
        self._primary: dict[str, _Bucket] = {}
        logged: dict[str | None, list[tuple[str, aws.s3.Bucket]]] = {}
        for store in args.stores:
            src = self._bucket(f"{name}-{store}", args, store, args.region, args.kms_key_arn, replica=False)
            self._primary[store] = src
            logged.setdefault(args.region, []).append((store, src.bucket))
            entry: dict[str, Any] = {
                "name": src.bucket.bucket, "arn": src.bucket.arn, "region": src.bucket.region,
                "kms_key_arn": src.key_arn, "replica_name": None, "replica_arn": None, "replica_region": None,
            }
            if args.replica_region is not None and args.replica_kms_key_arn is not None:
                dst = self._bucket(f"{name}-{store}-replica", args, store, args.replica_region,
                                   args.replica_kms_key_arn, replica=True)
                self._replicate(f"{name}-{store}", args, src, dst, args.replica_region)
                logged.setdefault(args.replica_region, []).append((store, dst.bucket))
                entry.update(replica_name=dst.bucket.bucket, replica_arn=dst.bucket.arn,
                             replica_region=args.replica_region)
            self.buckets[store] = entry
        self.access_log_buckets: dict[str | None, pulumi.Output[str]] = {}
        if args.access_log_days is not None:
            for region, sources in logged.items():
                self.access_log_buckets[region] = self._access_logs(name, args, region, sources)
        self.register_outputs({"buckets": self.buckets, "accessLogBuckets": list(self.access_log_buckets.values())})

    def _access_logs(self, name: str, args: BackupsArgs, region: str | None,
                     sources: Sequence[tuple[str, aws.s3.Bucket]]) -> pulumi.Output[str]:
        """The region's access-log bucket and a BucketLogging of every backup bucket of that region into it."""
        rname = f"{name}-access-logs" + ("" if region == args.region else "-dr")
        log = aws.s3.Bucket(
            rname, bucket_prefix=f"{self._base}-{ACCESS_LOGS}-",
            force_destroy=args.force_destroy and args.ephemeral,
            region=region, tags=merge_tags(args.tags, component="backups", role="access-logs"),
            opts=child_opts(self, stateful=True, protect=args.protect))
        o = child_opts(self)
        aws.s3.BucketPublicAccessBlock(rname, bucket=log.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, region=region, opts=o)
        ownership = aws.s3.BucketOwnershipControls(
            rname, bucket=log.id, rule={"object_ownership": "BucketOwnerEnforced"}, region=region, opts=o)
        versioning = aws.s3.BucketVersioning(rname, bucket=log.id, versioning_configuration={"status": "Enabled"},
                                             region=region, opts=o)
        # SSE-S3, not SSE-KMS: S3 server access logging cannot deliver to a bucket whose default encryption is
        # SSE-KMS (AWS S3 User Guide, "Enabling Amazon S3 server access logging").
        aws.s3.BucketServerSideEncryptionConfiguration(rname, bucket=log.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
            "blocked_encryption_types": ["SSE-C"],
        }], region=region, opts=o)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        policy = aws.s3.BucketPolicy(rname, bucket=log.id, region=region, policy=pulumi.Output.all(
            log.arn, account, *[b.arn for _, b in sources]).apply(
                lambda v: json.dumps(access_log_bucket_policy(v[0], v[1], v[2:]))), opts=o)
        aws.s3.BucketLifecycleConfiguration(rname, bucket=log.id, region=region, rules=[{
            "id": "expire-access-logs",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": args.access_log_days},
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        }], opts=child_opts(self, depends_on=[versioning]))
        for store, bucket in sources:
            aws.s3.BucketLogging(
                f"{rname}-{store}", bucket=bucket.id, target_bucket=log.id, target_prefix=f"{store}/",
                target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
                region=region, opts=child_opts(self, depends_on=[policy, ownership]))
        return log.bucket

    def _bucket(self, rname: str, args: BackupsArgs, store: str, region: str | None,
                key: pulumi.Input[str], *, replica: bool) -> _Bucket:
        role = "replica" if replica else "primary"
        locked = args.object_lock_mode is not None
        bucket = aws.s3.Bucket(
            rname, bucket_prefix=f"{self._base}-{store}-",
            force_destroy=args.force_destroy and args.ephemeral,
            object_lock_enabled=locked or None, region=region,
            tags=merge_tags(args.tags, component="backups", store=store, role=role),
            opts=child_opts(self, stateful=True, protect=args.protect))
        o = child_opts(self)
        key_arn = pulumi.Output.from_input(key)
        aws.s3.BucketPublicAccessBlock(rname, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, region=region, opts=o)
        aws.s3.BucketOwnershipControls(rname, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"},
                                       region=region, opts=o)
        versioning = aws.s3.BucketVersioning(rname, bucket=bucket.id,
                                             versioning_configuration={"status": "Enabled"}, region=region, opts=o)
        aws.s3.BucketServerSideEncryptionConfiguration(rname, bucket=bucket.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
            "bucket_key_enabled": True,
            "blocked_encryption_types": ["SSE-C"],
        }], region=region, opts=o)
        aws.s3.BucketPolicy(rname, bucket=bucket.id, region=region,
                            policy=pulumi.Output.all(bucket.arn, key_arn).apply(
                                lambda v: json.dumps(bucket_policy(v[0], v[1]))),
                            opts=o)
        aws.s3.BucketLifecycleConfiguration(
            rname, bucket=bucket.id, region=region,
            rules=lifecycle_rules(args.daily_days, args.weekly_days, args.monthly_days),
            opts=child_opts(self, depends_on=[versioning]))
        if args.object_lock_mode is not None:
            aws.s3.BucketObjectLockConfiguration(
                rname, bucket=bucket.id, object_lock_enabled="Enabled", region=region,
                rule={"default_retention": {"mode": args.object_lock_mode, "days": args.object_lock_days}},
                opts=child_opts(self, depends_on=[versioning]))
        return _Bucket(bucket, versioning, key_arn)

    def _replicate(self, rname: str, args: BackupsArgs, src: _Bucket, dst: _Bucket, dst_region: str) -> None:
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        role = aws.iam.Role(f"{rname}-replication", assume_role_policy=trust,
                            description=f"S3 replication of the {rname} backups to {dst_region}",
                            tags=merge_tags(args.tags, component="backups"), opts=child_opts(self))
        locked = args.object_lock_mode is not None
        source_object_actions = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                 "s3:GetObjectVersionTagging"]
        if locked:
            source_object_actions += ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]

        def document(v: list[str]) -> str:
            src_arn, src_region, src_key, dst_arn, dst_key = v
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "SourceBucket", "Effect": "Allow",
                 "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": src_arn},
                {"Sid": "SourceObjects", "Effect": "Allow", "Action": source_object_actions,
                 "Resource": f"{src_arn}/*"},
                {"Sid": "DestinationObjects", "Effect": "Allow",
                 "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                 "Resource": f"{dst_arn}/*"},
                # With S3 Bucket Keys the encryption context is the bucket ARN, otherwise the object ARN.
                {"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": src_key,
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{src_region}.amazonaws.com"},
                               "StringLike": {"kms:EncryptionContext:aws:s3:arn": [src_arn, f"{src_arn}/*"]}}},
                {"Sid": "EncryptDestination", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                 "Resource": dst_key,
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{dst_region}.amazonaws.com"},
                               "StringLike": {"kms:EncryptionContext:aws:s3:arn": [dst_arn, f"{dst_arn}/*"]}}},
            ]})

        policy = aws.iam.RolePolicy(
            f"{rname}-replication", role=role.id,
            policy=pulumi.Output.all(src.bucket.arn, src.bucket.region, src.key_arn, dst.bucket.arn,
                                     dst.key_arn).apply(document),
            opts=child_opts(self))
        s3 = aws.s3
        rtc = args.replication_time_control
        destination = s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=dst.bucket.arn,
            storage_class="STANDARD",
            encryption_configuration=s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=dst.key_arn),
            replication_time=s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled", time=s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=15),
            ) if rtc else None,
            metrics=s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled",
                event_threshold=s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(minutes=15),
            ) if rtc else None,
        )
        rule = s3.BucketReplicationConfigRuleArgs(
            id="to-dr",
            status="Enabled",
            priority=1,
            # A V2 rule (delete-marker replication needs one) with an empty filter block is sent without a
            # prefix and reads back differently, planning a change on every `up`
            # (terraform-provider-aws #23487, #10235): state the empty prefix.
            filter=s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
            delete_marker_replication=s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
            source_selection_criteria=s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                sse_kms_encrypted_objects=s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                    status="Enabled")),
            destination=destination,
        )
        s3.BucketReplicationConfig(
            f"{rname}-replication", bucket=src.bucket.id, role=role.arn, region=args.region, rules=[rule],
            opts=child_opts(self, depends_on=[src.versioning, dst.versioning, policy]))

    def grant_write(self, store: str, role_name: pulumi.Input[str], *, label: str) -> aws.iam.RolePolicy:
        """Let the IAM role ``role_name`` write and read back the ``store`` backups: ``s3:ListBucket`` on the
        bucket, ``s3:PutObject``/``GetObject``/``AbortMultipartUpload`` on its objects (no delete), and
        ``kms:GenerateDataKey``/``kms:Decrypt`` on its key. An inline policy named after ``label`` (unique
        per call); returned so callers can depend on it."""
        if store not in self._primary:
            raise ArgsError("Backups", "store", store, f"one of {', '.join(self._primary)}")
        src = self._primary[store]

        def document(v: list[str]) -> str:
            arn, key = v
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "ListBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn},
                {"Sid": "ReadWriteObjects", "Effect": "Allow",
                 "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"], "Resource": f"{arn}/*"},
                {"Sid": "UseBucketKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                 "Resource": key},
            ]})

        return aws.iam.RolePolicy(f"{self._name_prefix}-{store}-write-{label}", role=role_name,
                                  policy=pulumi.Output.all(src.bucket.arn, src.key_arn).apply(document),
                                  opts=child_opts(self))
