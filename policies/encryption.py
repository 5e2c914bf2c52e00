"""Encryption at rest and in transit (mandatory).

RDS (instances, read replicas, the cross-region DR replica), Performance Insights, ElastiCache,
S3 default encryption and replication, EBS (volumes, instances, launch templates), EKS secrets,
SNS, CloudWatch Logs, Secrets Manager, and the region of every KMS key a resource names.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies._base import (
    EBS_VOLUME,
    EC2_INSTANCE,
    EKS_CLUSTER,
    LAUNCH_TEMPLATE,
    LOG_GROUP,
    MANDATORY,
    RDS_BACKUP_REPLICATION,
    RDS_INSTANCE,
    REDIS_GROUP,
    REGION_CONFIG,
    S3_BUCKET_TYPES,
    S3_POLICY,
    S3_REPLICATION,
    S3_SSE,
    SECRET,
    SNS_TOPIC,
    UNKNOWN,
    Resource,
    Stack,
    arn_region,
    as_dict,
    as_list,
    dig,
    falsy_explicit,
    policy_document,
    resource_policy,
    stack_policy,
    statements,
    str_list,
    truthy,
)
from policies.buckets import bucket_index

CONCERN = "encryption"


def _set(value: object) -> bool:
    """A key reference is present (unknown counts: it will be the ARN of a key being created)."""
    return value is UNKNOWN or (isinstance(value, str) and bool(value))


# -- RDS ------------------------------------------------------------------------------------------------


@resource_policy(
    name="rds-storage-encrypted", concern=CONCERN, level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.3", "RDS.4", "CKV_AWS_16", "gap:cross-region-replica-encryption"),
    description="RDS instances, read replicas included, encrypt their storage with a customer managed KMS key.",
    remediation="Set storage_encrypted=True and kms_key_id to a customer managed key; a cross-region replica "
                "needs kms_key_id of a key in its own region.",
    severity="critical",
)
def rds_storage_encrypted(r: Resource) -> Iterator[str]:
    replica = _set(r.get("replicateSourceDb"))
    encrypted = r.get("storageEncrypted")
    if replica:
        # A replica inherits encryption from its source; AWS ignores storageEncrypted, but an explicit
        # false is a declared intent to store it unencrypted.
        if falsy_explicit(encrypted):
            yield (f"storageEncrypted is false on read replica {r.label}; remove it or set "
                   "storage_encrypted=True (replicas inherit the source's encryption).")
    elif encrypted is not UNKNOWN and not truthy(encrypted):
        yield (f"storageEncrypted is {encrypted!r} on {r.label}: the database, its automated backups and "
               "snapshots are stored unencrypted. Set storage_encrypted=True and kms_key_id=<customer managed key>.")
    if not _set(r.get("kmsKeyId")):
        what = "the replica" if replica else "the instance"
        yield (f"kmsKeyId is not set on {r.label}: {what} would use the AWS managed key aws/rds, which cannot be "
               "shared or rotated by you, and a cross-region replica cannot be created without a key of its "
               "region. Set kms_key_id to a customer managed key ARN.")


@resource_policy(
    name="rds-performance-insights-encrypted", concern=CONCERN, level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("CKV_AWS_354",),
    description="RDS Performance Insights data (which contains SQL text) is encrypted with a customer managed key.",
    remediation="Set performance_insights_kms_key_id to a customer managed key ARN when Performance Insights is on.",
)
def rds_performance_insights_encrypted(r: Resource) -> Iterator[str]:
    if truthy(r.get("performanceInsightsEnabled")) and not _set(r.get("performanceInsightsKmsKeyId")):
        yield (f"performanceInsightsKmsKeyId is not set on {r.label} while performanceInsightsEnabled is true; "
               "set performance_insights_kms_key_id to a customer managed key ARN.")


# -- ElastiCache --------------------------------------------------------------------------------------------


@resource_policy(
    name="elasticache-encrypted-at-rest", concern=CONCERN, level=MANDATORY, types=(REDIS_GROUP,),
    requirements=("ElastiCache.4", "CKV_AWS_29", "CKV_AWS_191"),
    description="ElastiCache replication groups encrypt data at rest with a customer managed KMS key.",
    remediation="Set at_rest_encryption_enabled=True and kms_key_id=<key ARN> (requires replacement).",
    severity="high",
)
def elasticache_encrypted_at_rest(r: Resource) -> Iterator[str]:
    at_rest = r.get("atRestEncryptionEnabled")
    if at_rest is not UNKNOWN and not truthy(at_rest):
        yield (f"atRestEncryptionEnabled is {at_rest!r} on {r.label}: snapshots and swap are unencrypted. "
               "Set at_rest_encryption_enabled=True.")
    if not _set(r.get("kmsKeyId")):
        yield f"kmsKeyId is not set on {r.label}; set kms_key_id to a customer managed key ARN."


@resource_policy(
    name="elasticache-encrypted-in-transit", concern=CONCERN, level=MANDATORY, types=(REDIS_GROUP,),
    requirements=("ElastiCache.5", "CKV_AWS_30"),
    description="ElastiCache replication groups require TLS for every connection.",
    remediation="Set transit_encryption_enabled=True and transit_encryption_mode='required'.",
    severity="high",
)
def elasticache_encrypted_in_transit(r: Resource) -> Iterator[str]:
    tls = r.get("transitEncryptionEnabled")
    if tls is not UNKNOWN and not truthy(tls):
        yield (f"transitEncryptionEnabled is {tls!r} on {r.label}: clients talk to Redis/Valkey in clear text on "
               "6379. Set transit_encryption_enabled=True.")
    elif r.get("transitEncryptionMode") == "preferred":
        yield (f"transitEncryptionMode is 'preferred' on {r.label}: plain-text connections are still accepted. "
               "Set transit_encryption_mode='required'.")


@resource_policy(
    name="elasticache-auth-required", concern=CONCERN, level=MANDATORY, types=(REDIS_GROUP,),
    requirements=("ElastiCache.6", "CKV_AWS_31"),
    description="ElastiCache replication groups authenticate clients (RBAC user groups or an AUTH token) over TLS.",
    remediation="Attach an RBAC user group (user_group_ids=[...]) with the default user disabled, and enable TLS.",
    severity="high",
)
def elasticache_auth_required(r: Resource) -> Iterator[str]:
    groups = r.get("userGroupIds")
    token = r.get("authToken") or r.get("authTokenWo")
    if not (groups is UNKNOWN or str_list(groups) or _set(token)):
        yield (f"userGroupIds is empty and authToken is not set on {r.label}: anyone who reaches port 6379 can "
               "read and write every key. Set user_group_ids to an RBAC user group.")


# -- S3 -------------------------------------------------------------------------------------------------------


@stack_policy(
    name="s3-default-encryption-kms", concern=CONCERN, level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_SSE, "aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"),
    requirements=("CKV_AWS_19", "CKV_AWS_145"),
    description="S3 default encryption uses SSE-KMS with a customer managed key; an access-log bucket (the "
                "target of a BucketLogging) uses SSE-S3, the only encryption S3 server access logging delivers to.",
    remediation="In BucketServerSideEncryptionConfiguration set rules[].applyServerSideEncryptionByDefault "
                "{sse_algorithm='aws:kms', kms_master_key_id=<key ARN>} and bucket_key_enabled=True "
                "(sse_algorithm='AES256' on access-log buckets).",
    severity="high",
)
def s3_default_encryption_kms(s: Stack) -> Iterator[tuple[str, str | None]]:
    from policies.buckets import bucket_index

    log_targets = {sse.urn for b in bucket_index(s).values() if b.is_log_target for sse in b.sides("sse")}
    for r in s.of_type(*S3_SSE):
        for message in _sse_problems(r, log_target=r.urn in log_targets):
            yield message, r.urn


def _sse_problems(r: Resource, *, log_target: bool) -> Iterator[str]:
    rules = r.get("rules")
    if rules is UNKNOWN:
        return
    if not as_list(rules):
        yield f"rules is empty on {r.label}; add a rule with applyServerSideEncryptionByDefault.sseAlgorithm 'aws:kms'."
    for i, rule in enumerate(as_list(rules)):
        default = as_dict(dig(rule, "applyServerSideEncryptionByDefault"))
        algorithm = default.get("sseAlgorithm")
        if algorithm is UNKNOWN:
            continue
        if log_target:
            if algorithm != "AES256":
                yield (f"rules[{i}].applyServerSideEncryptionByDefault.sseAlgorithm is {algorithm!r} on {r.label}, "
                       "an access-log bucket: S3 server access logging delivers only to SSE-S3 buckets, so no log "
                       "would arrive. Set sse_algorithm='AES256'.")
        elif algorithm not in ("aws:kms", "aws:kms:dsse"):
            yield (f"rules[{i}].applyServerSideEncryptionByDefault.sseAlgorithm is {algorithm!r} on {r.label}; "
                   "set it to 'aws:kms' with kms_master_key_id=<customer managed key ARN>.")
        elif not _set(default.get("kmsMasterKeyId")):
            yield (f"rules[{i}].applyServerSideEncryptionByDefault.kmsMasterKeyId is not set on {r.label}: objects "
                   "would use the AWS managed key aws/s3. Set kms_master_key_id to a customer managed key ARN.")


@stack_policy(
    name="s3-bucket-encryption-configured", concern=CONCERN, level=MANDATORY, types=(*S3_BUCKET_TYPES, *S3_SSE),
    requirements=("CKV_AWS_19", "CKV_AWS_145", "S3.4 (2023 FSBP)"),
    description="Every S3 bucket has a default-encryption configuration (SSE-KMS).",
    remediation="Create an aws.s3.BucketServerSideEncryptionConfiguration for the bucket (bucket=<bucket id>).",
)
def s3_bucket_encryption_configured(s: Stack) -> Iterator[tuple[str, str | None]]:
    for b in bucket_index(s).values():
        if not b.sides("sse"):
            yield (f"bucket {b.bucket.label} has no BucketServerSideEncryptionConfiguration; create one with "
                   "sseAlgorithm 'aws:kms' and a customer managed kmsMasterKeyId.", b.bucket.urn)


@stack_policy(
    name="s3-bucket-tls-only", concern=CONCERN, level=MANDATORY, types=(*S3_BUCKET_TYPES, *S3_POLICY),
    requirements=("S3.5", "CKV_AWS_379"),
    description="Every S3 bucket policy denies requests that do not use TLS (aws:SecureTransport).",
    remediation="Attach a BucketPolicy with a Deny statement for Principal '*' on the bucket and bucket/* when "
                "aws:SecureTransport is 'false'.",
)
def s3_bucket_tls_only(s: Stack) -> Iterator[tuple[str, str | None]]:
    for b in bucket_index(s).values():
        policies = b.sides("policy")
        if any(p.get("policy") is UNKNOWN for p in policies):
            continue
        if not any(_denies_insecure_transport(p.get("policy")) for p in policies):
            yield (f"bucket {b.bucket.label} has no bucket policy denying aws:SecureTransport=false; add a Deny "
                   "statement (Principal '*', Action 's3:*', Condition Bool aws:SecureTransport 'false').",
                   b.bucket.urn)


def _denies_insecure_transport(policy: object) -> bool:
    for st in statements(policy_document(policy)):
        if st.get("Effect") != "Deny":
            continue
        cond = as_dict(st.get("Condition"))
        for op in ("Bool", "BoolIfExists"):
            value = as_dict(cond.get(op)).get("aws:SecureTransport")
            if value in ("false", False) or value == ["false"]:
                return True
    return False


@resource_policy(
    name="s3-replication-encrypted", concern=CONCERN, level=MANDATORY, types=S3_REPLICATION,
    requirements=("gap:s3-replica-kms-key", "CKV_AWS_144"),
    description="S3 replication re-encrypts replicas with a customer managed key and replicates SSE-KMS objects.",
    remediation="In every enabled rule set destination.encryption_configuration.replica_kms_key_id to a key in the "
                "destination region and source_selection_criteria.sse_kms_encrypted_objects.status='Enabled'.",
    severity="high",
)
def s3_replication_encrypted(r: Resource) -> Iterator[str]:
    for i, rule in enumerate(as_list(r.get("rules"))):
        if not isinstance(rule, dict) or rule.get("status") != "Enabled":
            continue
        key = dig(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId")
        if not _set(key):
            yield (f"rules[{i}].destination.encryptionConfiguration.replicaKmsKeyId is not set on {r.label}: "
                   "replicas would not be encrypted with your key. Set replica_kms_key_id to a customer managed "
                   "key in the destination bucket's region.")
        sse = dig(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")
        if sse is not UNKNOWN and sse != "Enabled":
            yield (f"rules[{i}].sourceSelectionCriteria.sseKmsEncryptedObjects.status is {sse!r} on {r.label}: "
                   "objects encrypted with SSE-KMS are silently not replicated. Set it to 'Enabled'.")


@stack_policy(
    name="s3-replica-key-in-destination-region", concern=CONCERN, level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_REPLICATION),
    requirements=("gap:s3-replica-kms-key",),
    description="The KMS key that encrypts S3 replicas is in the destination bucket's region.",
    remediation="Use a KMS key created in the destination bucket's region for replica_kms_key_id.",
    config=REGION_CONFIG,
)
def s3_replica_key_in_destination_region(s: Stack) -> Iterator[tuple[str, str | None]]:
    buckets = s.of_type(*S3_BUCKET_TYPES)
    for rc in s.of_type(*S3_REPLICATION):
        for i, rule in enumerate(as_list(rc.get("rules"))):
            key_region = arn_region(dig(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId"))
            dest = dig(rule, "destination", "bucket")
            if key_region is None or not isinstance(dest, str):
                continue
            targets = [b for b in buckets if dest in _bucket_refs(b)]
            for b in targets:
                if b.region and b.region != key_region:
                    yield (f"rules[{i}].destination.encryptionConfiguration.replicaKmsKeyId of {rc.label} is a key "
                           f"in {key_region} but the destination bucket {b.label} is in {b.region}; use a key "
                           f"from {b.region}.", rc.urn)


def _bucket_refs(b: Resource) -> set[str]:
    name = b.get("bucket")
    refs = {b.name}
    if isinstance(name, str):
        refs |= {name, f"arn:aws:s3:::{name}"}
    return refs


# -- EBS, EC2 -----------------------------------------------------------------------------------------------


@resource_policy(
    name="ebs-encrypted", concern=CONCERN, level=MANDATORY, types=(EBS_VOLUME, EC2_INSTANCE, LAUNCH_TEMPLATE),
    requirements=("EC2.3", "EC2.181", "CKV_AWS_3", "CKV_AWS_8", "CKV_AWS_189"),
    description="EBS volumes, instance root/data volumes and launch-template block devices are encrypted with a "
                "customer managed key.",
    remediation="Set encrypted=True (launch templates: 'true') and kms_key_id on every volume / block device.",
    severity="high",
)
def ebs_encrypted(r: Resource) -> Iterator[str]:
    if r.type == EBS_VOLUME:
        devices = [("", r.props)]
    elif r.type == EC2_INSTANCE:
        root = r.get("rootBlockDevice")
        if not isinstance(root, dict):
            yield (f"rootBlockDevice is not set on {r.label}: the root volume is encrypted only if the account "
                   "default is on. Set root_block_device={'encrypted': True, 'kms_key_id': <key ARN>}.")
            devices = []
        else:
            devices = [("rootBlockDevice.", root)]
        devices += [(f"ebsBlockDevices[{i}].", d) for i, d in enumerate(as_list(r.get("ebsBlockDevices")))
                    if isinstance(d, dict)]
    else:
        devices = [(f"blockDeviceMappings[{i}].ebs.", as_dict(dig(m, "ebs")))
                   for i, m in enumerate(as_list(r.get("blockDeviceMappings"))) if isinstance(m, dict)]
    for prefix, device in devices:
        enc = device.get("encrypted")
        if enc is UNKNOWN:
            continue
        if not truthy(enc) and not (r.type == EC2_INSTANCE and _set(device.get("snapshotId"))):
            yield f"{prefix}encrypted is {enc!r} on {r.label}; set encrypted=True with kms_key_id=<key ARN>."
        elif not _set(device.get("kmsKeyId")):
            yield (f"{prefix}kmsKeyId is not set on {r.label}: the volume would use the AWS managed key aws/ebs. "
                   "Set kms_key_id to a customer managed key ARN.")


# -- EKS, SNS, logs, secrets -----------------------------------------------------------------------------


@resource_policy(
    name="eks-secrets-encrypted", concern=CONCERN, level=MANDATORY, types=(EKS_CLUSTER,),
    requirements=("EKS.3", "CKV_AWS_58"),
    description="EKS clusters envelope-encrypt Kubernetes secrets with a customer managed KMS key.",
    remediation="Set encryption_config={'resources': ['secrets'], 'provider': {'key_arn': <key ARN>}}.",
    severity="high",
)
def eks_secrets_encrypted(r: Resource) -> Iterator[str]:
    config = r.get("encryptionConfig")
    if config is UNKNOWN:
        return
    resources = dig(config, "resources")
    if resources is not UNKNOWN and "secrets" not in str_list(resources):
        yield (f"encryptionConfig.resources does not contain 'secrets' on {r.label}; set encryption_config with "
               "resources=['secrets'] and provider.key_arn=<key ARN>.")
    elif not _set(dig(config, "provider", "keyArn")):
        yield f"encryptionConfig.provider.keyArn is not set on {r.label}; set it to a customer managed key ARN."


@resource_policy(
    name="sns-topic-encrypted", concern=CONCERN, level=MANDATORY, types=(SNS_TOPIC,),
    requirements=("SNS.1 (2023 FSBP)", "CKV_AWS_26"),
    description="SNS topics encrypt messages at rest with KMS.",
    remediation="Set kms_master_key_id to a customer managed key (its policy must let CloudWatch use it).",
)
def sns_topic_encrypted(r: Resource) -> Iterator[str]:
    if not _set(r.get("kmsMasterKeyId")):
        yield f"kmsMasterKeyId is not set on {r.label}; set kms_master_key_id to a customer managed key ARN."


@resource_policy(
    name="log-group-encrypted", concern=CONCERN, level=MANDATORY, types=(LOG_GROUP,),
    requirements=("CKV_AWS_158",),
    description="CloudWatch log groups (database logs contain query text) are encrypted with a customer managed key.",
    remediation="Set kms_key_id on the log group (the key policy must allow logs.<region>.amazonaws.com).",
)
def log_group_encrypted(r: Resource) -> Iterator[str]:
    if not _set(r.get("kmsKeyId")):
        yield f"kmsKeyId is not set on {r.label}; set kms_key_id to a customer managed key ARN."


@resource_policy(
    name="secret-encrypted-cmk", concern=CONCERN, level=MANDATORY, types=(SECRET,),
    requirements=("CKV_AWS_149",),
    description="Secrets Manager secrets (database and cache credentials) are encrypted with a customer managed key.",
    remediation="Set kms_key_id on the secret to a customer managed key ARN.",
)
def secret_encrypted_cmk(r: Resource) -> Iterator[str]:
    if not _set(r.get("kmsKeyId")):
        yield (f"kmsKeyId is not set on {r.label}: the secret uses the AWS managed key aws/secretsmanager. Set "
               "kms_key_id to a customer managed key ARN.")


# -- KMS key region -----------------------------------------------------------------------------------------

_KEY_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    RDS_INSTANCE: (("kmsKeyId",), ("performanceInsightsKmsKeyId",), ("masterUserSecretKmsKeyId",)),
    RDS_BACKUP_REPLICATION: (("kmsKeyId",),),
    REDIS_GROUP: (("kmsKeyId",),),
    EBS_VOLUME: (("kmsKeyId",),),
    EKS_CLUSTER: (("encryptionConfig", "provider", "keyArn"),),
    SNS_TOPIC: (("kmsMasterKeyId",),),
    LOG_GROUP: (("kmsKeyId",),),
    SECRET: (("kmsKeyId",),),
    S3_SSE[0]: (),
    S3_SSE[1]: (),
}


@resource_policy(
    name="kms-key-in-resource-region", concern=CONCERN, level=MANDATORY, types=tuple(_KEY_PATHS),
    requirements=("gap:cross-region-replica-encryption",),
    description="Every KMS key a resource names is in the resource's own region (the DR replica uses a DR-region key).",
    remediation="Create a KMS key in the resource's region (e.g. the DR region's key for the DR replica) and use "
                "its ARN.",
    config=REGION_CONFIG,
    severity="high",
)
def kms_key_in_resource_region(r: Resource) -> Iterator[str]:
    region = r.region
    if region is None:
        return
    paths: list[tuple[str | int, ...]] = list(_KEY_PATHS.get(r.type, ()))
    if r.type in S3_SSE:
        paths = [("rules", i, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
                 for i in range(len(as_list(r.get("rules"))))]
    for path in paths:
        key_region = arn_region(r.get(*path))
        if key_region is not None and key_region != region:
            where = "its region input" if isinstance(r.props.get("region"), str) else "the stack region"
            dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
            yield (f"{dotted} is a key in {key_region} but {r.label} is in {region} ({where}); KMS keys are "
                   f"regional: use the ARN of a key created in {region}.")
