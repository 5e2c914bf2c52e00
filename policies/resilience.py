"""Resilience and backups (advisory): Multi-AZ, failover, retention, deletion guards, replicated
backups, S3 versioning/lifecycle/replication/object lock, and disruption budgets for StatefulSets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    K8S_PDB,
    K8S_STATEFULSET,
    MANDATORY,
    RDS_BACKUP_REPLICATION,
    RDS_INSTANCE,
    REDIS_GROUP,
    S3_BUCKET_TYPES,
    S3_LIFECYCLE,
    S3_OBJECT_LOCK,
    S3_OWNERSHIP,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_REPLICATION,
    S3_VERSIONING,
    UNKNOWN,
    Resource,
    Stack,
    as_dict,
    as_list,
    dig,
    falsy_explicit,
    number,
    resource_policy,
    stack_policy,
    truthy,
)
from policies.buckets import bucket_index

CONCERN = "resilience"


def _is_replica(r: Resource) -> bool:
    src = r.get("replicateSourceDb")
    return src is UNKNOWN or (isinstance(src, str) and bool(src))


@resource_policy(
    name="rds-multi-az", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.5", "CKV_AWS_157"),
    description="RDS primaries run Multi-AZ (a synchronous standby in another AZ).",
    remediation="Set multi_az=True on the primary.",
)
def rds_multi_az(r: Resource) -> Iterator[str]:
    if not _is_replica(r) and r.get("multiAz") is not UNKNOWN and not r.is_true("multiAz"):
        yield (f"multiAz is {r.get('multiAz')!r} on primary {r.label}: an AZ failure stops the database until "
               "it is restored. Set multi_az=True.")


@resource_policy(
    name="rds-backup-retention", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.11", "CKV_AWS_133", "seed:backup-retention>=7"),
    description="RDS primaries keep automated backups for at least minRetentionDays (default 7) days.",
    remediation="Set backup_retention_period to at least the configured minimum (max 35).",
    config={"minRetentionDays": {"type": "integer", "default": 7, "minimum": 1, "maximum": 35,
                                 "description": "Minimum backupRetentionPeriod in days."},
            "checkReadReplicas": {"type": "boolean", "default": False,
                                  "description": "Also require the retention on read replicas."}},
)
def rds_backup_retention(r: Resource) -> Iterator[str]:
    if _is_replica(r) and not truthy(r.ctx.get("checkReadReplicas", False)):
        return
    minimum = int(number(r.ctx.get("minRetentionDays", 7)) or 7)
    raw = r.get("backupRetentionPeriod")
    if raw is UNKNOWN:
        return
    days = number(raw)
    if days is None or days < minimum:
        shown = "not set (the provider default is 0 or 1 day)" if raw is None else f"{raw!r}"
        yield (f"backupRetentionPeriod is {shown} on {r.label}; point-in-time recovery needs at least {minimum} "
               f"days. Set backup_retention_period={minimum} or more.")


@resource_policy(
    name="rds-deletion-protection", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.8", "CKV_AWS_293"),
    description="RDS instances have deletion protection.",
    remediation="Set deletion_protection=True (turn it off in a separate change before a deliberate delete).",
)
def rds_deletion_protection(r: Resource) -> Iterator[str]:
    value = r.get("deletionProtection")
    if value is not UNKNOWN and not truthy(value):
        yield f"deletionProtection is {value!r} on {r.label}; set deletion_protection=True."


@resource_policy(
    name="rds-final-snapshot", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("seed:final-snapshot",),
    description="Deleting an RDS primary takes a final snapshot.",
    remediation="Leave skip_final_snapshot=False and set final_snapshot_identifier.",
)
def rds_final_snapshot(r: Resource) -> Iterator[str]:
    if _is_replica(r):
        return
    if truthy(r.get("skipFinalSnapshot")):
        yield (f"skipFinalSnapshot is true on {r.label}: a delete or replacement drops the data without a "
               "snapshot. Set skip_final_snapshot=False and final_snapshot_identifier.")
    elif not r.get("finalSnapshotIdentifier"):
        yield (f"finalSnapshotIdentifier is not set on {r.label} (skipFinalSnapshot is false): the delete will "
               "fail. Set final_snapshot_identifier.")


@resource_policy(
    name="rds-copy-tags-to-snapshot", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(RDS_INSTANCE,),
    requirements=("RDS.17", "CKV2_AWS_60"),
    description="RDS instances copy their tags to snapshots (ownership and cost allocation of backups).",
    remediation="Set copy_tags_to_snapshot=True.",
)
def rds_copy_tags_to_snapshot(r: Resource) -> Iterator[str]:
    value = r.get("copyTagsToSnapshot")
    if value is not UNKNOWN and not truthy(value):
        yield f"copyTagsToSnapshot is {value!r} on {r.label}; set copy_tags_to_snapshot=True."


@resource_policy(
    name="rds-auto-minor-version-upgrade", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(RDS_INSTANCE,),
    requirements=("RDS.13", "CKV_AWS_226"),
    description="RDS instances take minor engine upgrades in the maintenance window.",
    remediation="Leave auto_minor_version_upgrade=True (the default).",
)
def rds_auto_minor_version_upgrade(r: Resource) -> Iterator[str]:
    if falsy_explicit(r.get("autoMinorVersionUpgrade")):
        yield f"autoMinorVersionUpgrade is false on {r.label}; set auto_minor_version_upgrade=True."


@stack_policy(
    name="rds-backups-replicated", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(RDS_INSTANCE, RDS_BACKUP_REPLICATION),
    requirements=("CKV_AWS_245", "gap:cross-region-backup-replication"),
    description="Every Multi-AZ RDS primary replicates its automated backups to the DR region, encrypted with a "
                "KMS key.",
    remediation="Create aws.rds.InstanceAutomatedBackupsReplication(source_db_instance_arn=<primary ARN>, "
                "kms_key_id=<DR-region key>, region=<DR region>).",
)
def rds_backups_replicated(s: Stack) -> Iterator[tuple[str, str | None]]:
    primaries = [r for r in s.of_type(RDS_INSTANCE) if not _is_replica(r) and r.is_true("multiAz")]
    replications = s.of_type(RDS_BACKUP_REPLICATION)
    covered: set[str] = set()
    for rep in replications:
        arn = rep.get("sourceDbInstanceArn")
        hits = s.referenced(rep, "sourceDbInstanceArn", arn, primaries)
        if not hits and isinstance(arn, str):
            hits = [p for p in primaries if arn.endswith(f":db:{p.get('identifier')}")]
        covered |= {h.urn for h in hits}
        if not rep.get("kmsKeyId"):
            yield (f"kmsKeyId is not set on {rep.label}: replicated backups of an encrypted instance need a key in "
                   "the destination region. Set kms_key_id.", rep.urn)
    for p in primaries:
        if p.urn not in covered:
            yield (f"Multi-AZ primary {p.label} has no InstanceAutomatedBackupsReplication: a region outage loses "
                   "point-in-time recovery. Replicate its automated backups to the DR region.", p.urn)


@resource_policy(
    name="elasticache-automatic-failover", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(REDIS_GROUP,),
    requirements=("ElastiCache.3", "CKV2_AWS_50", "gap:elasticache-multi-az"),
    description="ElastiCache replication groups fail over automatically to a replica in another AZ.",
    remediation="Set automatic_failover_enabled=True and multi_az_enabled=True with at least one replica per shard.",
)
def elasticache_automatic_failover(r: Resource) -> Iterator[str]:
    failover = r.get("automaticFailoverEnabled")
    if failover is not UNKNOWN and not truthy(failover):
        yield f"automaticFailoverEnabled is {failover!r} on {r.label}; set automatic_failover_enabled=True."
    multi_az = r.get("multiAzEnabled")
    if multi_az is not UNKNOWN and not truthy(multi_az):
        yield f"multiAzEnabled is {multi_az!r} on {r.label}; set multi_az_enabled=True."


@resource_policy(
    name="elasticache-snapshot-retention", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(REDIS_GROUP,),
    requirements=("ElastiCache.1", "CKV_AWS_134"),
    description="ElastiCache replication groups keep daily snapshots for at least minRetentionDays (default 1).",
    remediation="Set snapshot_retention_limit to at least the configured minimum and a snapshot_window.",
    config={"minRetentionDays": {"type": "integer", "default": 1, "minimum": 1, "maximum": 35,
                                 "description": "Minimum snapshotRetentionLimit in days."}},
)
def elasticache_snapshot_retention(r: Resource) -> Iterator[str]:
    minimum = int(number(r.ctx.get("minRetentionDays", 1)) or 1)
    raw = r.get("snapshotRetentionLimit")
    if raw is UNKNOWN:
        return
    days = number(raw)
    if days is None or days < minimum:
        yield (f"snapshotRetentionLimit is {raw!r} on {r.label}: no automatic backups are kept. Set "
               f"snapshot_retention_limit={minimum} or more.")


@resource_policy(
    name="elasticache-auto-minor-version-upgrade", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(REDIS_GROUP,),
    requirements=("ElastiCache.2",),
    description="ElastiCache replication groups take minor engine upgrades automatically.",
    remediation="Leave auto_minor_version_upgrade=True (the default).",
)
def elasticache_auto_minor_version_upgrade(r: Resource) -> Iterator[str]:
    if falsy_explicit(r.get("autoMinorVersionUpgrade")):
        yield f"autoMinorVersionUpgrade is false on {r.label}; set auto_minor_version_upgrade=True."


# -- S3 backup buckets -------------------------------------------------------------------------------------


@stack_policy(
    name="s3-bucket-versioning", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_VERSIONING),
    requirements=("CKV_AWS_21", "S3.14 (non-FSBP)"),
    description="Every S3 bucket has versioning enabled (also required by replication and object lock).",
    remediation="Create an aws.s3.BucketVersioning with versioning_configuration.status='Enabled'.",
)
def s3_bucket_versioning(s: Stack) -> Iterator[tuple[str, str | None]]:
    for b in bucket_index(s).values():
        statuses = [dig(v.props, "versioningConfiguration", "status") for v in b.sides("versioning")]
        if UNKNOWN in statuses or "Enabled" in statuses:
            continue
        state = f"status is {statuses[0]!r}" if statuses else "has no BucketVersioning"
        yield (f"bucket {b.bucket.label} {state}: overwritten or deleted backups cannot be recovered. Create a "
               "BucketVersioning with versioningConfiguration.status 'Enabled'.", b.bucket.urn)


@stack_policy(
    name="s3-bucket-lifecycle", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_LIFECYCLE),
    requirements=("S3.13", "CKV2_AWS_61", "CKV_AWS_300"),
    description="Every S3 bucket has an enabled lifecycle rule (expiry of old versions, abort of failed uploads).",
    remediation="Create an aws.s3.BucketLifecycleConfiguration with an Enabled rule that expires noncurrent "
                "versions and sets abort_incomplete_multipart_upload.",
)
def s3_bucket_lifecycle(s: Stack) -> Iterator[tuple[str, str | None]]:
    for b in bucket_index(s).values():
        rules = [rule for lc in b.sides("lifecycle") for rule in as_list(lc.get("rules"))]
        if not b.sides("lifecycle"):
            yield (f"bucket {b.bucket.label} has no BucketLifecycleConfiguration: old backup versions are kept "
                   "(and billed) forever. Create one with an Enabled rule.", b.bucket.urn)
        elif not any(isinstance(rule, dict) and rule.get("status") in ("Enabled", UNKNOWN) for rule in rules):
            yield (f"bucket {b.bucket.label}: no lifecycle rule has status 'Enabled'; enable at least one rule.",
                   b.bucket.urn)
        elif not any(isinstance(rule, dict) and rule.get("abortIncompleteMultipartUpload") for rule in rules):
            yield (f"bucket {b.bucket.label}: no lifecycle rule sets abortIncompleteMultipartUpload; failed "
                   "multipart backup uploads are billed forever. Add abort_incomplete_multipart_upload.",
                   b.bucket.urn)


@stack_policy(
    name="s3-bucket-replication", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_REPLICATION),
    requirements=("CKV_AWS_144", "S3.7 (non-FSBP)"),
    description="Every backup bucket (not itself a replica) replicates to another region.",
    remediation="Create an aws.s3.BucketReplicationConfig with an Enabled rule to a bucket in the DR region.",
    config={"requireReplication": {"type": "boolean", "default": True,
                                   "description": "Require cross-region replication of every source bucket "
                                                  "(false for single-region environments)."}},
)
def s3_bucket_replication(s: Stack) -> Iterator[tuple[str, str | None]]:
    if not truthy(s.ctx.get("requireReplication", True)):
        return
    for b in bucket_index(s).values():
        if b.is_replica or b.is_log_target:
            continue  # access logs stay in their region (S3 logging delivers within a region)
        rules = [rule for rc in b.sides("replication") for rule in as_list(rc.get("rules"))]
        if not any(isinstance(rule, dict) and rule.get("status") in ("Enabled", UNKNOWN) for rule in rules):
            state = "has no enabled replication rule" if b.sides("replication") else "has no BucketReplicationConfig"
            yield (f"bucket {b.bucket.label} {state}: backups are lost with the region. Replicate it to a bucket "
                   "in the DR region.", b.bucket.urn)


@stack_policy(
    name="s3-bucket-public-access-block", concern="network", level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_PUBLIC_ACCESS_BLOCK),
    requirements=("S3.8", "S3.2", "S3.3", "CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
    description="Every S3 bucket has a public access block with all four settings on.",
    remediation="Create an aws.s3.BucketPublicAccessBlock with block_public_acls, block_public_policy, "
                "ignore_public_acls and restrict_public_buckets all True.",
    severity="critical",
)
def s3_bucket_public_access_block(s: Stack) -> Iterator[tuple[str, str | None]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for b in bucket_index(s).values():
        blocks = b.sides("pab")
        if not blocks:
            yield (f"bucket {b.bucket.label} has no BucketPublicAccessBlock: a bucket policy or ACL can make backups "
                   "public. Create one with all four flags True.", b.bucket.urn)
            continue
        for pab in blocks:
            off = [f for f in flags if pab.get(f) is not UNKNOWN and not truthy(pab.get(f))]
            if off:
                yield (f"{', '.join(off)} not true on {pab.label} (bucket {b.bucket.label}); set all four public "
                       "access block flags to True.", pab.urn)


@stack_policy(
    name="s3-bucket-owner-enforced", concern="network", level=MANDATORY, types=(*S3_BUCKET_TYPES, *S3_OWNERSHIP),
    requirements=("S3.12", "CKV2_AWS_65"),
    description="Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced).",
    remediation="Create an aws.s3.BucketOwnershipControls with rule.object_ownership='BucketOwnerEnforced'.",
)
def s3_bucket_owner_enforced(s: Stack) -> Iterator[tuple[str, str | None]]:
    for b in bucket_index(s).values():
        owners = [dig(o.props, "rule", "objectOwnership") for o in b.sides("ownership")]
        if UNKNOWN in owners or "BucketOwnerEnforced" in owners:
            continue
        state = f"rule.objectOwnership is {owners[0]!r}" if owners else "has no BucketOwnershipControls"
        yield (f"bucket {b.bucket.label} {state}: ACLs can grant access outside the bucket policy. Set "
               "rule.objectOwnership 'BucketOwnerEnforced'.", b.bucket.urn)


@stack_policy(
    name="s3-object-lock-retention", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(*S3_BUCKET_TYPES, *S3_OBJECT_LOCK),
    requirements=("CKV_AWS_143", "gap:s3-object-lock-retention"),
    description="Where object lock is enabled, a default retention (mode and period) is configured.",
    remediation="Create an aws.s3.BucketObjectLockConfiguration with rule.default_retention "
                "{mode: 'GOVERNANCE'|'COMPLIANCE', days: N}.",
    config={"minRetentionDays": {"type": "integer", "default": 1, "minimum": 1,
                                 "description": "Minimum default retention (days; years count 365)."}},
)
def s3_object_lock_retention(s: Stack) -> Iterator[tuple[str, str | None]]:
    minimum = number(s.ctx.get("minRetentionDays", 1)) or 1
    for b in bucket_index(s).values():
        locks = b.sides("object_lock")
        if not (truthy(b.bucket.get("objectLockEnabled")) or locks):
            continue
        if not locks:
            yield (f"bucket {b.bucket.label} has objectLockEnabled but no BucketObjectLockConfiguration: objects get "
                   "no default retention. Add one with rule.defaultRetention.", b.bucket.urn)
            continue
        for lock in locks:
            retention = as_dict(lock.get("rule", "defaultRetention"))
            if lock.get("rule") is UNKNOWN or retention.get("mode") is UNKNOWN:
                continue
            days = (number(retention.get("days")) or 0) + 365 * (number(retention.get("years")) or 0)
            if retention.get("mode") not in ("GOVERNANCE", "COMPLIANCE") or days < minimum:
                yield (f"rule.defaultRetention on {lock.label} is {retention or 'not set'}: set mode 'GOVERNANCE' or "
                       f"'COMPLIANCE' and days >= {int(minimum)}.", lock.urn)


# -- Kubernetes ---------------------------------------------------------------------------------------------


def _namespace(r: Resource) -> str:
    ns = r.get("metadata", "namespace")
    return ns if isinstance(ns, str) and ns else "default"


def selector_matches(selector: object, labels: object) -> bool:
    """A label selector (matchLabels only; matchExpressions are not evaluated) selects ``labels``."""
    match = as_dict(dig(selector, "matchLabels"))
    if not match:
        return False
    lab = as_dict(labels)
    return all(lab.get(k) == v for k, v in match.items())


@stack_policy(
    name="k8s-statefulset-pdb", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(K8S_STATEFULSET, K8S_PDB),
    requirements=("seed:pod-disruption-budget",),
    description="Every StatefulSet (Neo4j, Qdrant) has a PodDisruptionBudget selecting its pods.",
    remediation="Create a policy/v1 PodDisruptionBudget in the same namespace with spec.selector.matchLabels of the "
                "pod template labels and maxUnavailable: 1.",
)
def k8s_statefulset_pdb(s: Stack) -> Iterator[tuple[str, str | None]]:
    pdbs = s.of_type(K8S_PDB)
    for sts in s.of_type(K8S_STATEFULSET):
        labels = sts.get("spec", "template", "metadata", "labels")
        if labels is UNKNOWN:
            continue
        if not any(_namespace(p) == _namespace(sts) and selector_matches(p.get("spec", "selector"), labels)
                   for p in pdbs):
            yield (f"StatefulSet {sts.label} (namespace {_namespace(sts)}) has no PodDisruptionBudget selecting "
                   "spec.template.metadata.labels: a node drain can evict every replica at once. Add a "
                   "PodDisruptionBudget with maxUnavailable: 1.", sts.urn)


_EVENT_CATEGORIES = {
    "db-instance": ({"maintenance", "configuration change", "failure"}, "RDS.20"),
    "db-parameter-group": ({"configuration change"}, "RDS.21"),
}


@stack_policy(
    name="rds-event-subscriptions", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(RDS_INSTANCE, "aws:rds/eventSubscription:EventSubscription"),
    requirements=("RDS.20", "RDS.21"),
    description="RDS event subscriptions notify the alarm topic of instance (maintenance, configuration change, "
                "failure) and parameter-group (configuration change) events.",
    remediation="Create aws.rds.EventSubscription(sns_topic=<alarm topic ARN>, source_type='db-instance', "
                "event_categories=['maintenance', 'configuration change', 'failure']) and one for "
                "'db-parameter-group' with ['configuration change'].",
)
def rds_event_subscriptions(s: Stack) -> Iterator[tuple[str, str | None]]:
    if not s.of_type(RDS_INSTANCE):
        return
    subs = [e for e in s.of_type("aws:rds/eventSubscription:EventSubscription")
            if e.get("enabled") is not False and e.get("snsTopic")]
    for source, (needed, control) in _EVENT_CATEGORIES.items():
        covered: set[str] = set()
        for e in subs:
            if e.get("sourceType") == source:
                categories = e.get("eventCategories")
                # No categories = every category.
                covered |= needed if not as_list(categories) else {str(c) for c in as_list(categories)}
        missing = sorted(needed - covered)
        if missing:
            yield (f"no RDS event subscription with sourceType '{source}' covers {', '.join(missing)} ({control}); "
                   f"create an EventSubscription to the alarm topic for them.", None)


# -- The stack's declared intent ------------------------------------------------------------------------------
#
# The settings validate the stack file; these rules check that the *program* realizes what the stack file
# declares, so a code change (a component default, a hard-coded argument) that weakens a store fails the
# review whichever file it came from. The intent is the project's config sections of the stack file, passed
# by the review as the ``intent`` config (``review.report.StackSettings.policy_config``), else read from the
# stack config the Pulumi CLI hands the pack. A section or key the stack file does not declare is not
# checked (its value is the settings' default, which the resilience rules above already floor).

INTENT_SECTIONS = ("postgres", "redis", "graph", "vector", "backups")
INTENT_CONFIG: dict[str, dict[str, object]] = {
    "intent": {"type": ["object", "null"], "default": None,
               "description": "The stack's declared intent: the project config sections of the stack file "
                              f"({', '.join(INTENT_SECTIONS)}), as the review passes them; default: the stack "
                              "config the Pulumi CLI passes to the pack."},
}


def intent(ctx: Any, section: str, key: str) -> Any:
    """The declared ``<section>.<key>`` of the stack (None when not declared)."""
    configured = ctx.get("intent")
    if isinstance(configured, dict):
        value = as_dict(configured.get(section)).get(key)
    else:
        from policies._base import stack_config_value

        raw = stack_config_value(f"data-platform:{section}")
        try:
            value = as_dict(json.loads(raw)).get(key) if raw else None
        except ValueError:
            value = None
    return value


def _declared_number(ctx: Any, section: str, key: str) -> float | None:
    return number(intent(ctx, section, key))


def _short(value: Any) -> str:
    """A number as the stack file writes it (14, not 14.0: the wire carries every number as a double);
    anything else as its repr."""
    n = number(value)
    if n is None:
        return repr(value)
    return str(int(n)) if n.is_integer() else str(n)


@stack_policy(
    name="intent-postgres", concern=CONCERN, level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("gap:declared-intent", "RDS.5", "RDS.8", "RDS.11"),
    description="The RDS primary realizes the stack's declared postgres intent: Multi-AZ, backup retention at "
                "least backupRetentionDays, deletion protection, and at least readReplicas in-region replicas "
                "(+1 with drReplica).",
    remediation="Pass the stack's settings through to components.aws.postgres (multi_az, backup_retention_days, "
                "deletion_protection, read_replicas, dr_replica) instead of a value fixed in code; change the "
                "stack file to change the intent.",
    config=INTENT_CONFIG,
    severity="high",
)
def intent_postgres(s: Stack) -> Iterator[tuple[str, str | None]]:
    instances = s.of_type(RDS_INSTANCE)
    primaries = [r for r in instances if not _is_replica(r)]
    for p in primaries:
        if truthy(intent(s.ctx, "postgres", "multiAz")) and p.get("multiAz") is not UNKNOWN \
                and not p.is_true("multiAz"):
            yield (f"multiAz is {p.get('multiAz')!r} on {p.label}, but the stack declares postgres.multiAz: true. "
                   "Set multi_az from the settings (a code change may not drop Multi-AZ).", p.urn)
        days = _declared_number(s.ctx, "postgres", "backupRetentionDays")
        got = number(p.get("backupRetentionPeriod"))
        if days is not None and p.get("backupRetentionPeriod") is not UNKNOWN and (got is None or got < days):
            yield (f"backupRetentionPeriod is {_short(p.get('backupRetentionPeriod'))} on {p.label}, below the "
                   f"declared postgres.backupRetentionDays {_short(days)}. Set backup_retention_period from the "
                   "settings.", p.urn)
        if truthy(intent(s.ctx, "postgres", "deletionProtection")) and p.get("deletionProtection") is not UNKNOWN \
                and not p.is_true("deletionProtection"):
            yield (f"deletionProtection is {p.get('deletionProtection')!r} on {p.label}, but the stack declares "
                   "postgres.deletionProtection: true. Set deletion_protection from the settings.", p.urn)
    replicas = _declared_number(s.ctx, "postgres", "readReplicas")
    if primaries and replicas is not None:
        wanted = replicas + (1 if truthy(intent(s.ctx, "postgres", "drReplica")) else 0)
        have = len([r for r in instances if _is_replica(r)])
        if have < wanted:
            yield (f"the stack declares {_short(replicas)} read replica(s)"
                   f"{' and a DR replica' if wanted > replicas else ''} but the program creates {have} replica "
                   f"instance(s) of {primaries[0].label}. Create the replicas the settings ask for.", primaries[0].urn)


@stack_policy(
    name="intent-redis", concern=CONCERN, level=MANDATORY, types=(REDIS_GROUP,),
    requirements=("gap:declared-intent", "ElastiCache.1", "ElastiCache.3"),
    description="The ElastiCache replication group realizes the stack's declared redis intent: Multi-AZ with "
                "automatic failover, snapshot retention at least snapshotRetentionDays, at least shards node "
                "groups and replicasPerShard replicas each.",
    remediation="Pass the stack's settings through to components.aws.redis (multi_az, snapshot_retention_days, "
                "shards, replicas_per_shard) instead of a value fixed in code.",
    config=INTENT_CONFIG,
    severity="high",
)
def intent_redis(s: Stack) -> Iterator[tuple[str, str | None]]:
    for g in s.of_type(REDIS_GROUP):
        if truthy(intent(s.ctx, "redis", "multiAz")):
            for key in ("multiAzEnabled", "automaticFailoverEnabled"):
                if g.get(key) is not UNKNOWN and not g.is_true(key):
                    yield (f"{key} is {g.get(key)!r} on {g.label}, but the stack declares redis.multiAz: true. Set "
                           "it from the settings.", g.urn)
        for declared_key, prop in (("snapshotRetentionDays", "snapshotRetentionLimit"), ("shards", "numNodeGroups"),
                                   ("replicasPerShard", "replicasPerNodeGroup")):
            want = _declared_number(s.ctx, "redis", declared_key)
            raw = g.get(prop)
            got = number(raw)
            if want is not None and raw is not UNKNOWN and (got is None or got < want):
                yield (f"{prop} is {_short(raw)} on {g.label}, below the declared redis.{declared_key} {_short(want)}. "
                       "Set it from the settings.", g.urn)


GRAPH_ROLE_LABEL = "graph.data-platform/role"


@stack_policy(
    name="intent-graph-topology", concern=CONCERN, level=MANDATORY, types=(K8S_STATEFULSET,),
    requirements=("gap:declared-intent", "seed:neo4j-raft-majority"),
    description="On EKS the Neo4j cluster runs at least the declared graph.primaries primaries and "
                "graph.secondaries secondaries (one StatefulSet per member, labelled "
                f"{GRAPH_ROLE_LABEL}): fewer primaries lose the Raft majority sooner.",
    remediation="Pass graph.primaries / graph.secondaries through to components.aws.graph.GraphArgs.",
    config=INTENT_CONFIG,
    severity="high",
)
def intent_graph_topology(s: Stack) -> Iterator[tuple[str, str | None]]:
    if intent(s.ctx, "graph", "placement") not in ("eks", None):
        return
    members: dict[str, int] = {}
    for sts in s.of_type(K8S_STATEFULSET):
        labels = sts.get("spec", "template", "metadata", "labels")
        if labels is UNKNOWN:
            return
        role = as_dict(labels).get(GRAPH_ROLE_LABEL)
        if isinstance(role, str):
            replicas = number(sts.get("spec", "replicas"))
            members[role] = members.get(role, 0) + (1 if replicas is None else int(replicas))
    if not members and intent(s.ctx, "graph", "placement") != "eks":
        return  # no graph on EKS in this program
    for role, key in (("primary", "primaries"), ("secondary", "secondaries")):
        want = _declared_number(s.ctx, "graph", key)
        if want is not None and members.get(role, 0) < want:
            yield (f"the stack declares graph.{key}={_short(want)} but the program runs {members.get(role, 0)} Neo4j "
                   f"{key} (StatefulSets labelled {GRAPH_ROLE_LABEL}={role}). Pass the settings through to "
                   "GraphArgs.", None)


def _qdrant_config(cm: Resource) -> dict[str, Any] | None:
    import yaml

    text = as_dict(cm.get("data")).get("production.yaml")
    if not isinstance(text, str):
        return None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


@stack_policy(
    name="intent-vector-replication", concern=CONCERN, level=MANDATORY,
    types=(K8S_STATEFULSET, "kubernetes:core/v1:ConfigMap"),
    requirements=("gap:declared-intent", "seed:qdrant-replication"),
    description="On EKS Qdrant (the StatefulSet running a qdrant image) runs at least the declared vector.peers "
                "peers and its config's (a ConfigMap's production.yaml) collection defaults "
                "keep at least the declared vector.replicationFactor and vector.writeConsistencyFactor.",
    remediation="Pass vector.peers / replicationFactor / writeConsistencyFactor through to "
                "components.aws.vector.VectorArgs (render_qdrant_config).",
    config=INTENT_CONFIG,
    severity="high",
)
def intent_vector_replication(s: Stack) -> Iterator[tuple[str, str | None]]:
    if intent(s.ctx, "vector", "placement") not in ("eks", None):
        return
    for cm in s.of_type("kubernetes:core/v1:ConfigMap"):
        doc = _qdrant_config(cm)
        if doc is None:
            continue
        collection = as_dict(dig(doc, "storage", "collection"))
        for declared_key, key in (("replicationFactor", "replication_factor"),
                                  ("writeConsistencyFactor", "write_consistency_factor")):
            want = _declared_number(s.ctx, "vector", declared_key)
            got = number(collection.get(key))
            if want is not None and (got is None or got < want):
                yield (f"storage.collection.{key} is {_short(collection.get(key))} in production.yaml of {cm.label}, "
                       f"below the declared vector.{declared_key} {_short(want)}. Set it from the settings.", cm.urn)
    want = _declared_number(s.ctx, "vector", "peers")
    for sts in s.of_type(K8S_STATEFULSET):
        images = [str(dig(c, "image")) for c in as_list(sts.get("spec", "template", "spec", "containers"))]
        if not any("qdrant" in image for image in images):
            continue
        raw = sts.get("spec", "replicas")
        got = number(raw)
        if want is not None and raw is not UNKNOWN and (got is None or got < want):
            yield (f"spec.replicas is {_short(raw)} on {sts.label}, below the declared vector.peers "
                   f"{_short(want)}. Set it from the settings.", sts.urn)


@stack_policy(
    name="intent-backup-lifecycle", concern=CONCERN, level=MANDATORY, types=(*S3_BUCKET_TYPES, *S3_LIFECYCLE),
    requirements=("gap:declared-intent", "seed:backup-retention"),
    description="Backup buckets keep backups as long as the stack declares: no enabled lifecycle rule expires "
                "current objects before backups.monthlyDays or noncurrent versions before backups.weeklyDays "
                "(access-log buckets keep their own retention).",
    remediation="Build the lifecycle with components.aws.backups.lifecycle_rules(daily_days, weekly_days, "
                "monthly_days) from the settings.",
    config=INTENT_CONFIG,
    severity="high",
)
def intent_backup_lifecycle(s: Stack) -> Iterator[tuple[str, str | None]]:
    monthly = _declared_number(s.ctx, "backups", "monthlyDays")
    weekly = _declared_number(s.ctx, "backups", "weeklyDays")
    if monthly is None and weekly is None:
        return
    for b in bucket_index(s).values():
        if b.is_log_target:
            continue
        for lc in b.sides("lifecycle"):
            for i, rule in enumerate(as_list(lc.get("rules"))):
                if not isinstance(rule, dict) or rule.get("status") != "Enabled":
                    continue
                days = number(dig(rule, "expiration", "days"))
                if monthly is not None and days is not None and days < monthly:
                    yield (f"rules[{i}].expiration.days is {_short(days)} on {lc.label} (bucket {b.bucket.label}), "
                           f"shorter than the declared backups.monthlyDays {_short(monthly)}: backups expire early. "
                           "Set the lifecycle from the settings.", lc.urn)
                nc = number(dig(rule, "noncurrentVersionExpiration", "noncurrentDays"))
                if weekly is not None and nc is not None and nc < weekly:
                    yield (f"rules[{i}].noncurrentVersionExpiration.noncurrentDays is {_short(nc)} on {lc.label} "
                           f"(bucket {b.bucket.label}), shorter than the declared backups.weeklyDays "
                           f"{_short(weekly)}. Set the lifecycle from the settings.", lc.urn)
