"""Index of S3 buckets and their side resources (pulumi-aws 7 splits a bucket's settings into
``aws:s3/bucketVersioning``, ``bucketLifecycleConfiguration``, ``bucketReplicationConfig``, ... keyed
by their ``bucket`` input). Shared by the S3 stack policies; built once per :class:`Stack`.

A side resource belongs to the bucket its ``bucket`` property depends on (``propertyDependencies``),
else to the bucket whose name/ARN equals its known ``bucket`` value, else to the one bucket it
depends on (for a replication configuration, not counting its destination buckets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies._base import (
    S3_ACL,
    S3_BUCKET_TYPES,
    S3_LIFECYCLE,
    S3_OBJECT_LOCK,
    S3_OWNERSHIP,
    S3_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_REPLICATION,
    S3_SSE,
    S3_VERSIONING,
    Resource,
    Stack,
    as_list,
    dig,
)

SIDE_KINDS: dict[str, tuple[str, ...]] = {
    "sse": S3_SSE,
    "versioning": S3_VERSIONING,
    "lifecycle": S3_LIFECYCLE,
    "replication": S3_REPLICATION,
    "pab": S3_PUBLIC_ACCESS_BLOCK,
    "ownership": S3_OWNERSHIP,
    "policy": S3_POLICY,
    "object_lock": S3_OBJECT_LOCK,
    "acl": S3_ACL,
    "logging": ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"),
}


@dataclass
class BucketEntry:
    bucket: Resource
    side: dict[str, list[Resource]] = field(default_factory=dict)
    is_replica: bool = False
    """Some replication rule of the stack writes into this bucket."""
    is_log_target: bool = False
    """Some ``BucketLogging`` of the stack delivers server access logs into this bucket (an access-log
    bucket: SSE-S3 by AWS's rule, not a backup bucket, not logged or replicated itself)."""

    def sides(self, kind: str) -> list[Resource]:
        return self.side.get(kind, [])


def _refs(b: Resource) -> set[str]:
    refs = {b.name}
    name = b.get("bucket")
    if isinstance(name, str):
        refs |= {name, f"arn:aws:s3:::{name}"}
    return refs


def bucket_index(s: Stack) -> dict[str, BucketEntry]:
    """Bucket URN → entry with its side resources (cached on ``s``)."""
    shared: dict[str, Any] = getattr(s, "shared", None) or s.__dict__.setdefault("shared", {})
    cached = shared.get("bucket_index")
    if cached is not None:
        return cached
    buckets = s.of_type(*S3_BUCKET_TYPES)
    index = {b.urn: BucketEntry(b) for b in buckets}

    destinations: set[str] = set()
    for rc in s.of_type(*S3_REPLICATION):
        dest_values = {dig(rule, "destination", "bucket") for rule in as_list(rc.get("rules"))}
        for b in buckets:
            if _refs(b) & {v for v in dest_values if isinstance(v, str)}:
                destinations.add(b.urn)
        for u in rc.property_dependencies.get("rules", []):
            if u in index:
                destinations.add(u)
    for u in destinations:
        index[u].is_replica = True
    for logging in s.of_type(*SIDE_KINDS["logging"]):
        # Only an explicit reference counts (propertyDependencies or the name): a BucketLogging also depends
        # on the bucket it logs, which must not pass for its target.
        target = logging.get("targetBucket")
        targets = logging.property_dependencies.get("targetBucket") or [
            b.urn for b in buckets if isinstance(target, str) and target in _refs(b)]
        for u in targets:
            if u in index:
                index[u].is_log_target = True

    for kind, types in SIDE_KINDS.items():
        for side in s.of_type(*types):
            hits = s.referenced(side, "bucket", side.get("bucket"), buckets)
            if kind == "replication" and len(hits) > 1:
                hits = [h for h in hits if h.urn not in destinations] or hits
            if len(hits) > 1 and "bucket" not in side.property_dependencies:
                hits = [h for h in hits if h.region == side.region] or hits
            for h in hits[:1]:
                index[h.urn].side.setdefault(kind, []).append(side)
    shared["bucket_index"] = index
    return index
