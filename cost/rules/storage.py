"""S3: what a bucket stores at steady state after its lifecycle rules, and cross-region replication.

A bucket is priced from what is written to it per day: a backup bucket (tag ``store``) from
``<store>BackupGbPerDay``, an access-log bucket (the target of a ``BucketLogging``) from
``accessLogGbPerDay``; a replica bucket (``role=replica``) receives what its source receives. At
steady state each storage class holds ``GB/day × days an object spends in it`` (at least the
class's minimum storage duration, which S3 bills anyway). A bucket whose objects never expire, or
that no assumption describes, is unpriced: its storage has no honest figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cost.rules.base import DAYS, Charge, Context, Res, as_list, dig, fmt, free, number, unknown

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
REPLICATION_CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"

CLASS_KEYS = {
    "STANDARD": "s3:storage:standard",
    "STANDARD_IA": "s3:storage:standard-ia",
    "GLACIER_IR": "s3:storage:glacier-ir",
    "GLACIER": "s3:storage:glacier",
    "DEEP_ARCHIVE": "s3:storage:deep-archive",
}
"""S3 storage class → price key."""

MIN_DAYS = {"STANDARD_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
"""Minimum storage duration S3 bills per class (days)."""

PRICE_KEYS = (*CLASS_KEYS.values(), "s3:rtc:gb", "transfer:inter-region")


# ---------------------------------------------------------------------------------------------
# Which bucket is which
# ---------------------------------------------------------------------------------------------


def _matches(bucket: Res, ref: Any) -> bool:
    """Whether a bucket name or ARN ``ref`` (as another resource's input) can name ``bucket``."""
    if not isinstance(ref, str) or not ref:
        return False
    name = ref.rsplit(":", 1)[-1]
    explicit, prefix = bucket.text("bucket"), bucket.text("bucketPrefix")
    return name == explicit or (prefix is not None and name.startswith(prefix))


def _bucket_of(r: Res, ctx: Context, ref: Any) -> Res | None:
    """The bucket in ``r``'s region that ``ref`` names: a dependency first (a bucket and its replica
    may share a name prefix), else any bucket of that region."""
    candidates = [b for b in ctx.of_type(*BUCKET_TYPES) if b.region == r.region and _matches(b, ref)]
    for dep in r.dependencies:
        found = next((b for b in candidates if b.urn == dep), None)
        if found is not None:
            return found
    return candidates[0] if len(candidates) == 1 else None


def _configs(bucket: Res, ctx: Context, types: tuple[str, ...]) -> list[Res]:
    return [c for c in ctx.of_type(*types) if (b := _bucket_of(c, ctx, c.get("bucket"))) and b.urn == bucket.urn]


def _written(bucket: Res, ctx: Context) -> tuple[float, str] | Charge:
    """(GB written per day, which assumption) or an unpriced charge saying why there is none."""
    store = bucket.tag("store")
    if store:
        found = ctx.usage.backup_gb_per_day(store)
        if found is None:
            return unknown("storage", f"backup bucket of store {store!r}: no usage assumption for it "
                                      f"(known: postgres, redis, graph, vector)")
        gb, attr = found
        return gb, ctx.usage.cite_data(attr)
    targets = (_bucket_of(logging, ctx, logging.get("targetBucket")) for logging in ctx.of_type(*LOGGING_TYPES))
    if any(t is not None and t.urn == bucket.urn for t in targets):
        return ctx.usage.access_log_gb_per_day, ctx.usage.cite_data("access_log_gb_per_day")
    return unknown("storage", "no usage assumption says what this bucket stores (tag it store=<name>, or make it "
                              "the target of a BucketLogging)")


# ---------------------------------------------------------------------------------------------
# Lifecycle → time an object spends in each class
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Residence:
    """Days an object spends in each storage class, in order, and what the lifecycle said."""

    days: tuple[tuple[str, float], ...]
    note: str


def _applies_to_all(rule: Mapping[str, Any]) -> bool:
    filt = rule.get("filter")
    prefix = rule.get("prefix")
    return (not filt or filt == {} or not any(v for v in filt.values())) and not prefix


def residence(bucket: Res, ctx: Context, first_class: str) -> Residence | str:
    """How long an object stays in each class, from the bucket's lifecycle; a string says why the
    storage is unbounded."""
    rules = [
        rule for lc in _configs(bucket, ctx, LIFECYCLE_TYPES) for rule in as_list(lc.get("rules"))
        if isinstance(rule, Mapping) and str(rule.get("status", "Enabled")) == "Enabled"
    ]
    scoped = [rule for rule in rules if _applies_to_all(rule)]
    ignored = len(rules) - len(scoped)
    expiry = [d for rule in scoped if (d := number(dig(rule, "expiration", "days")))]
    if not expiry:
        return "its objects never expire (no lifecycle expiration for all objects): storage grows without bound"
    end = min(expiry)
    notes = [f"expire at day {fmt(end)}"]
    versioned = any(v.text("versioningConfiguration", "status") == "Enabled"
                    for v in _configs(bucket, ctx, VERSIONING_TYPES))
    if versioned:
        noncurrent = [d for rule in scoped if (d := number(dig(rule, "noncurrentVersionExpiration", "noncurrentDays")))]
        if not noncurrent:
            return "versioned, and noncurrent versions never expire: storage grows without bound"
        end += min(noncurrent)
        notes.append(f"kept {fmt(min(noncurrent))} more days as a noncurrent version")
    transitions = sorted(
        (d, str(t.get("storageClass")))
        for rule in scoped for t in as_list(rule.get("transitions"))
        if isinstance(t, Mapping) and (d := number(t.get("days"))) is not None and d < end
    )
    spans: list[tuple[str, float]] = []
    start, current = 0.0, first_class
    for day, cls in transitions:
        if day > start:
            spans.append((current, day - start))
        start, current = day, cls
    spans.append((current, end - start))
    if ignored:
        notes.append(f"{ignored} rule(s) with a filter not modelled (priced as if absent)")
    return Residence(tuple(spans), "; ".join(notes))


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def _replication_destination(bucket: Res, ctx: Context) -> Mapping[str, Any] | None:
    """The replication rule destination that writes into ``bucket`` (a bucket in another region that
    a replication configuration depends on), or None."""
    for config in ctx.of_type(REPLICATION_CONFIG):
        if bucket.urn not in config.dependencies or bucket.region == config.region:
            continue
        for rule in as_list(config.get("rules")):
            dest = dig(rule, "destination")
            if isinstance(dest, Mapping) and _matches(bucket, dest.get("bucket")):
                return dest
    return None


def s3_bucket(r: Res, ctx: Context) -> list[Charge]:
    """Steady-state GB in each storage class × its price, from the daily writes and the lifecycle."""
    written = _written(r, ctx)
    if isinstance(written, Charge):
        return [written]
    gb_per_day, assumption = written
    dest = _replication_destination(r, ctx)
    first = str(dest.get("storageClass") or "STANDARD") if dest else "STANDARD"
    how = f"{assumption}{', replicated from the source bucket' if dest else ''}"
    if gb_per_day == 0:
        return [Charge("storage", 0.0, f"nothing is written to this bucket ({how}): no storage")]
    life = residence(r, ctx, first)
    if isinstance(life, str):
        return [unknown("storage", f"{how}: {life}")]
    out: list[Charge] = []
    for cls, days in life.days:
        key = CLASS_KEYS.get(cls)
        billed = max(days, MIN_DAYS.get(cls, 0))
        minimum = f" (minimum {MIN_DAYS[cls]} days billed)" if billed > days else ""
        gb = gb_per_day * ctx.usage.grown(1.0) * billed
        if key is None:
            out.append(ctx.missing(f"storage {cls}", f"S3 {cls} storage", "S3", r.region))
            continue
        out.append(ctx.per_unit(
            f"storage {cls}", key, r.region, gb,
            f"S3 {cls}: {fmt(gb_per_day)} GB/day ({how}) × {fmt(billed)} days in {cls}{minimum} = {{qty}} GB "
            f"× {{price}} at steady state ({life.note}; requests and per-object overhead not modelled)",
            what=f"S3 {cls} storage", service="S3",
        ))
    return out


def bucket_replication(r: Res, ctx: Context) -> list[Charge]:
    """Inter-region transfer of what the source bucket receives per month (+ RTC when enabled)."""
    source = _bucket_of(r, ctx, r.get("bucket"))
    if source is None:
        return [unknown("cross-region transfer", "the source bucket of the replication is not in the program")]
    written = _written(source, ctx)
    if isinstance(written, Charge):
        return [unknown("cross-region transfer", f"source bucket {source.name}: {written.basis}")]
    gb_per_day, assumption = written
    monthly = gb_per_day * ctx.usage.grown(1.0) * DAYS
    out: list[Charge] = []
    for rule in as_list(r.get("rules")):
        dest = dig(rule, "destination")
        if not isinstance(dest, Mapping):
            continue
        dest_bucket = next((b for b in ctx.of_type(*BUCKET_TYPES) if b.urn in r.dependencies
                            and b.region != r.region and _matches(b, dest.get("bucket"))), None)
        dest_region = dest_bucket.region if dest_bucket is not None else r.region
        if dest_region == r.region:
            out.append(free(f"same-region replication to {dest.get('bucket')} (storage priced on that bucket)"))
            continue
        out.append(ctx.transfer(
            "cross-region transfer", r.region, monthly,
            f"S3 replication to {dest_region}: {fmt(gb_per_day)} GB/day ({assumption}) × {fmt(DAYS)} days",
        ))
        if dig(dest, "replicationTime", "status") == "Enabled":
            out.append(ctx.per_unit("replication time control", "s3:rtc:gb", r.region, monthly,
                                    "S3 Replication Time Control {price} × {qty} GB",
                                    what="S3 Replication Time Control", service="S3"))
    return out or [unknown("cross-region transfer", "replication rules without a destination")]


RULES = {
    **dict.fromkeys(BUCKET_TYPES, s3_bucket),
    REPLICATION_CONFIG: bucket_replication,
}
