"""``Backups`` under the recording mock runtime: every bucket's protections, lifecycle, replication, guards."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.aws.backups import (
    DEFAULT_STORES,
    TYPE_TOKEN,
    Backups,
    BackupsArgs,
    bucket_base,
    lifecycle_rules,
    validate_backups_args,
)
from components.base import ArgsError
from review.mocks import RecordedResource
from review.program import ProgramRun, record

KEY = "arn:aws:kms:us-east-1:123456789012:key/s3-primary"
DR_KEY = "arn:aws:kms:us-west-2:123456789012:key/s3-dr"
BUCKET = "aws:s3/bucket:Bucket"
S3 = "aws:s3/"


def _args(**kw: Any) -> BackupsArgs:
    return BackupsArgs(**{"kms_key_arn": KEY, "replica_region": "us-west-2", "replica_kms_key_arn": DR_KEY,
                          "name": "dp-prod", **kw})


def _run(args: BackupsArgs, extra: Any = None) -> ProgramRun:
    def program() -> None:
        b = Backups("backups", args)
        pulumi.export("buckets", b.buckets)
        if extra is not None:
            extra(b)

    run = record(program, stack="production")
    assert run.error is None
    return run


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return _run(_args(protect=True))


def _side(run: ProgramRun, bucket: RecordedResource, kind: str) -> dict[str, Any]:
    found = [r for r in run.resources if r.type == f"{S3}{kind}"
             and r.property_dependencies.get("bucket") == [bucket.urn]]
    assert len(found) == 1, f"{bucket.urn}: {len(found)} {kind}"
    return found[0].inputs


def _backup_buckets(run: ProgramRun) -> list[RecordedResource]:
    return [b for b in run.by_type(BUCKET) if b.inputs["tags"].get("role") != "access-logs"]


def _log_buckets(run: ProgramRun) -> list[RecordedResource]:
    return [b for b in run.by_type(BUCKET) if b.inputs["tags"].get("role") == "access-logs"]


def _primary(run: ProgramRun, store: str) -> RecordedResource:
    return run.get(f"{BUCKET}::backups-{store}")


def _replica(run: ProgramRun, store: str) -> RecordedResource:
    return run.get(f"{BUCKET}::backups-{store}-replica")


def test_one_bucket_and_one_replica_per_store(prod: ProgramRun) -> None:
    buckets = _backup_buckets(prod)
    assert len(buckets) == 2 * len(DEFAULT_STORES)
    comp = prod.get(f"{TYPE_TOKEN}::backups")
    assert all(r.parent == comp.urn for r in prod.resources if r.custom)
    for store in DEFAULT_STORES:
        src, dst = _primary(prod, store), _replica(prod, store)
        assert src.inputs["bucketPrefix"] == dst.inputs["bucketPrefix"] == f"dp-prod-{store}-"
        assert "region" not in src.inputs and dst.inputs["region"] == "us-west-2"
        assert src.inputs["forceDestroy"] is False and dst.inputs["forceDestroy"] is False


@pytest.mark.parametrize("store", DEFAULT_STORES)
@pytest.mark.parametrize("replica", [False, True])
def test_every_bucket_has_the_full_set_of_protections(prod: ProgramRun, store: str, replica: bool) -> None:
    bucket = _replica(prod, store) if replica else _primary(prod, store)
    key = DR_KEY if replica else KEY
    region = "us-west-2" if replica else None
    sse = _side(prod, bucket, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key},
                             "bucketKeyEnabled": True, "blockedEncryptionTypes": ["SSE-C"]}]
    assert _side(prod, bucket, "bucketVersioning:BucketVersioning")["versioningConfiguration"] == {"status": "Enabled"}
    pab = _side(prod, bucket, "bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert [pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")] \
        == [True] * 4
    own = _side(prod, bucket, "bucketOwnershipControls:BucketOwnershipControls")
    assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = json.loads(_side(prod, bucket, "bucketPolicy:BucketPolicy")["policy"])
    (tls,) = [s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport"]
    name = _side(prod, bucket, "bucketVersioning:BucketVersioning")["bucket"]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (wrong_key,) = [s for s in policy["Statement"] if s["Sid"] == "DenyOtherKmsKey"]
    assert wrong_key["Condition"]["StringNotEqualsIfExists"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] == key
    lifecycle = _side(prod, bucket, "bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle["rules"]}
    tiers = rules["backup-tiers"]
    assert tiers["status"] == "Enabled"
    assert tiers["transitions"][0] == {"days": 7, "storageClass": "GLACIER_IR"}
    assert tiers["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert tiers["expiration"] == {"days": 365}
    assert tiers["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    for kind in ("bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "bucketVersioning:BucketVersioning", "bucketPublicAccessBlock:BucketPublicAccessBlock",
                 "bucketOwnershipControls:BucketOwnershipControls", "bucketPolicy:BucketPolicy",
                 "bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        assert _side(prod, bucket, kind).get("region") == region, kind


def test_replication_to_the_dr_bucket_with_the_dr_key(prod: ProgramRun) -> None:
    configs = prod.by_type(f"{S3}bucketReplicationConfig:BucketReplicationConfig")
    assert len(configs) == len(DEFAULT_STORES)
    for store in DEFAULT_STORES:
        src, dst = _primary(prod, store), _replica(prod, store)
        (cfg,) = [c for c in configs if c.property_dependencies["bucket"] == [src.urn]]
        (rule,) = cfg.inputs["rules"]
        assert rule["status"] == "Enabled" and rule["deleteMarkerReplication"] == {"status": "Enabled"}
        # An empty filter block plans a change on every `up` (terraform-provider-aws #23487): prefix "".
        assert rule["filter"] == {"prefix": ""}
        assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
        dest = rule["destination"]
        assert dest["encryptionConfiguration"] == {"replicaKmsKeyId": DR_KEY}
        assert dest["bucket"] == f"arn:aws:s3:::{_side(prod, dst, 'bucketVersioning:BucketVersioning')['bucket']}"
        assert "region" not in cfg.inputs  # configured on the source bucket, in the primary region
        versionings = {r.urn for r in prod.by_type(f"{S3}bucketVersioning:BucketVersioning")
                       if r.property_dependencies["bucket"] in ([src.urn], [dst.urn])}
        assert len(versionings) == 2 and versionings <= set(cfg.dependencies)


def test_replication_role_is_least_privilege(prod: ProgramRun) -> None:
    roles = prod.by_type("aws:iam/role:Role")
    assert len(roles) == len(DEFAULT_STORES)
    for role in roles:
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "s3.amazonaws.com"}]
    policies = [p for p in prod.by_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-replication")]
    for p in policies:
        st = {s["Sid"]: s for s in json.loads(p.inputs["policy"])["Statement"]}
        assert all("*" not in a.split(":")[1] for s in st.values()
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        assert st["DecryptSource"]["Resource"] == KEY and st["DecryptSource"]["Action"] == "kms:Decrypt"
        assert st["DecryptSource"]["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
        assert st["EncryptDestination"]["Resource"] == DR_KEY
        assert st["EncryptDestination"]["Condition"]["StringEquals"] == {
            "kms:ViaService": "s3.us-west-2.amazonaws.com"}
        assert st["DestinationObjects"]["Action"] == ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]


def test_outputs(prod: ProgramRun) -> None:
    out = prod.outputs["buckets"]
    assert set(out) == set(DEFAULT_STORES)
    g = out["graph"]
    assert g["name"].startswith("dp-prod-graph-") and g["arn"] == f"arn:aws:s3:::{g['name']}"
    assert g["region"] == "us-east-1" and g["kms_key_arn"] == KEY
    assert g["replica_region"] == "us-west-2" and g["replica_arn"] == f"arn:aws:s3:::{g['replica_name']}"


def test_protect_and_retain_buckets_only_when_protect(prod: ProgramRun) -> None:
    assert all(b.protect and b.retain_on_delete for b in prod.by_type(BUCKET))
    run = _run(_args())
    assert not any(r.protect or r.retain_on_delete for r in run.resources)


def test_no_replication_without_replica_region() -> None:
    run = _run(BackupsArgs(kms_key_arn=KEY, stores=("postgres",)))
    assert len(_backup_buckets(run)) == 1 and len(_log_buckets(run)) == 1
    assert not run.by_type(f"{S3}bucketReplicationConfig:BucketReplicationConfig")
    assert not run.by_type("aws:iam/role:Role")
    pg = run.outputs["buckets"]["postgres"]
    assert pg["name"].startswith("data-platform-postgres-")
    assert pg.get("replica_name") is None and pg.get("replica_arn") is None and pg.get("replica_region") is None


def test_object_lock_on_both_buckets() -> None:
    run = _run(_args(stores=("graph",), object_lock_mode="COMPLIANCE", object_lock_days=90))
    for b in _backup_buckets(run):
        assert b.inputs["objectLockEnabled"] is True
        lock = _side(run, b, "bucketObjectLockConfiguration:BucketObjectLockConfiguration")
        assert lock["objectLockEnabled"] == "Enabled"
        assert lock["rule"] == {"defaultRetention": {"mode": "COMPLIANCE", "days": 90}}
    (p,) = [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-replication")]
    assert "s3:GetObjectRetention" in p.inputs["policy"]


def test_grant_write_is_scoped_to_one_bucket_and_its_key() -> None:
    run = _run(_args(stores=("graph", "vector")),
               lambda b: b.grant_write("graph", "neo4j-backup", label="neo4j"))
    (grant,) = [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.name == "backups-graph-write-neo4j"]
    assert grant.inputs["role"] == "neo4j-backup"
    arn = run.outputs["buckets"]["graph"]["arn"]
    st = {s["Sid"]: s for s in json.loads(grant.inputs["policy"])["Statement"]}
    assert st["ListBucket"] == {"Sid": "ListBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn}
    assert st["ReadWriteObjects"]["Resource"] == f"{arn}/*"
    assert set(st["ReadWriteObjects"]["Action"]) == {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}
    assert st["UseBucketKey"] == {"Sid": "UseBucketKey", "Effect": "Allow",
                                  "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": KEY}


def test_grant_write_unknown_store() -> None:
    def extra(b: Backups) -> None:
        with pytest.raises(ArgsError, match=r"^Backups\.store: 'redis' is not allowed \(one of graph\)$"):
            b.grant_write("redis", "r", label="x")

    _run(_args(stores=("graph",)), extra)


def test_force_destroy_needs_ephemeral() -> None:
    with pytest.raises(ArgsError, match=r"^BackupsArgs\.force_destroy: True is not allowed "
                                        r"\(only together with ephemeral=True"):
        Backups("b", _args(force_destroy=True))
    run = _run(_args(stores=("graph",), force_destroy=True, ephemeral=True))
    assert all(b.inputs["forceDestroy"] is True for b in run.by_type(BUCKET))
    run = _run(_args(stores=("graph",), ephemeral=True))
    assert all(b.inputs["forceDestroy"] is False for b in run.by_type(BUCKET))


@pytest.mark.parametrize(("kw", "message"), [
    ({"replica_kms_key_arn": None}, r"BackupsArgs\.replica_region: 'us-west-2' is not allowed \(set together with "
                                    r"replica_kms_key_arn"),
    ({"region": "us-west-2"}, r"BackupsArgs\.replica_region: 'us-west-2' is not allowed \(a region other than region"),
    ({"stores": ("a-store-name-of-twenty-nine-c",)}, r"BackupsArgs\.stores: .*within 37 characters"),
    ({"stores": ("Graph",)}, r"BackupsArgs\.stores: \('Graph',\) is not allowed"),
    ({"monthly_days": 7}, r"BackupsArgs\.monthly_days: 7 is not allowed \(> daily_days \(7\)\)"),
    ({"weekly_days": 400},
     r"BackupsArgs\.weekly_days: 400 is not allowed \(8\.\.364, between daily_days and monthly_days\)"),
    ({"object_lock_mode": "STRICT"}, r"BackupsArgs\.object_lock_mode: 'STRICT' is not allowed"),
])
def test_invalid_args(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgsError, match=message):
        validate_backups_args(_args(**kw))


def test_lifecycle_tiers_are_valid_s3_rules() -> None:
    rules = {r["id"]: r for r in lifecycle_rules(7, 30, 365)}
    tiers = rules["backup-tiers"]
    assert tiers["transitions"] == [{"days": 7, "storage_class": "GLACIER_IR"},
                                    {"days": 97, "storage_class": "DEEP_ARCHIVE"}]
    assert tiers["expiration"] == {"days": 365}
    # Deep Archive only when objects can stay its 180-day minimum before expiring.
    short = lifecycle_rules(7, 30, 200)[0]
    assert short["transitions"] == [{"days": 7, "storage_class": "GLACIER_IR"}]
    # Expired delete markers are cleaned in their own rule (S3 refuses them next to expiration days).
    assert rules["expired-delete-markers"]["expiration"] == {"expired_object_delete_marker": True}


def test_every_args_field_is_documented_with_its_default() -> None:
    import ast
    import dataclasses
    import inspect

    import components.aws.backups as mod

    tree = ast.parse(inspect.getsource(mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "BackupsArgs")
    documented = {
        prev.target.id for prev, nxt in zip(cls.body, cls.body[1:], strict=False)
        if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        and (prev.value is None or "Default:" in str(nxt.value.value))
    }
    assert documented == {f.name for f in dataclasses.fields(BackupsArgs)}
    assert BackupsArgs.__dataclass_params__.frozen  # type: ignore[attr-defined]


@pytest.mark.parametrize("replica", [False, True])
def test_every_backup_bucket_logs_access_to_its_regions_log_bucket(prod: ProgramRun, replica: bool) -> None:
    """FSBP S3.9: reads and deletes of backups leave a trace, in the bucket's own region (S3 logging
    delivers only within a region)."""
    logs = {b.inputs.get("region", "us-east-1"): b for b in _log_buckets(prod)}
    assert set(logs) == {"us-east-1", "us-west-2"}
    for store in DEFAULT_STORES:
        bucket = _replica(prod, store) if replica else _primary(prod, store)
        logging = _side(prod, bucket, "bucketLogging:BucketLogging")
        region = bucket.inputs.get("region", "us-east-1")
        log = logs[region]
        assert logging["targetPrefix"] == f"{store}/"
        assert logging["targetObjectKeyFormat"] == {"partitionedPrefix": {"partitionDateSource": "EventTime"}}
        assert logging.get("region", "us-east-1") == region
        (ref,) = [r for r in prod.by_type(f"{S3}bucketLogging:BucketLogging")
                  if r.property_dependencies.get("bucket") == [bucket.urn]]
        assert ref.property_dependencies["targetBucket"] == [log.urn]


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_access_log_bucket_is_locked_down_sse_s3_and_expires(prod: ProgramRun, region: str) -> None:
    (log,) = [b for b in _log_buckets(prod) if b.inputs.get("region", "us-east-1") == region]
    assert log.inputs["bucketPrefix"] == "dp-prod-access-logs-" and log.protect and log.retain_on_delete
    sse = _side(prod, log, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    # S3 server access logging cannot deliver into an SSE-KMS bucket.
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    pab = _side(prod, log, "bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                        "restrictPublicBuckets"))
    ownership = _side(prod, log, "bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = _side(prod, log, "bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 365}
    policy = json.loads(_side(prod, log, "bucketPolicy:BucketPolicy")["policy"])
    (allow,) = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    sources = [b for b in _backup_buckets(prod) if b.inputs.get("region", "us-east-1") == region]
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == sorted(
        f"arn:aws:s3:::{_side(prod, b, 'bucketVersioning:BucketVersioning')['bucket']}" for b in sources)
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    (deny,) = [st for st in policy["Statement"] if st["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_access_logging_can_be_turned_off_visibly() -> None:
    run = _run(_args(stores=("graph",), access_log_days=None))
    assert not _log_buckets(run) and not run.by_type(f"{S3}bucketLogging:BucketLogging")
    with pytest.raises(ArgsError, match=r"access_log_days: 7 is not allowed \(30..3650, or None\)"):
        validate_backups_args(_args(access_log_days=7))


@pytest.mark.parametrize("name", ["data-platform-production", "data-platform-production1",
                                  "data-platform-production-euw1", "data-platform-" + "x" * 40])
def test_every_bucket_prefix_fits_s3_whatever_the_stack_name(name: str) -> None:
    """bucket_prefix may hold 37 characters (S3's 63 less the 26 the provider appends). The access-log
    buckets' ``-access-logs-`` is longer than any store's part: a 25-character name used to pass validation
    and fail at ``pulumi up``; a 29-character one (stack production-euw1) used to stop the program."""
    run = _run(_args(name=name))
    prefixes = [b.inputs["bucketPrefix"] for b in run.by_type(BUCKET)]
    assert len(prefixes) == 2 * len(DEFAULT_STORES) + 2
    assert all(len(p) <= 37 and p.endswith("-") and "--" not in p for p in prefixes), prefixes
    base = bucket_base(name, DEFAULT_STORES)
    assert {p.removesuffix("-").rsplit("-", 1)[0] for p in prefixes} <= {base, f"{base}-access"}
    if len(name) <= 24:
        assert base == name  # names that fit are kept as written


def test_long_names_that_share_a_prefix_get_different_buckets() -> None:
    a, b = bucket_base("data-platform-production-euw1", DEFAULT_STORES), \
        bucket_base("data-platform-production-euw2", DEFAULT_STORES)
    assert a != b and len(a) == len(b) == 37 - len("-access-logs-")
