"""RDS for PostgreSQL: DB instances (primary, read replicas, cross-region replicas), their storage,
IOPS and automated backups, automated-backup replication, event subscriptions.

Conventions: a Multi-AZ DB instance is priced from the table's Multi-AZ rows (instance, storage,
IOPS: primary + standby); there is no 2 × Single-AZ fallback, a missing Multi-AZ row is unpriced.
A read replica is its own instance with the source's storage. gp3 includes 3,000 IOPS / 125 MiBps
below 400 GiB and 12,000 IOPS / 500 MiBps from 400 GiB. Backup storage is free up to the
instance's allocated storage; above it, it is billed per GB-month.
"""

from __future__ import annotations

import math
from typing import Any

from cost.rules.base import DAYS, RDS_INSTANCE, Charge, Context, H, Res, fmt, free, truthy, unknown

BACKUPS_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
EVENT_SUBSCRIPTION = "aws:rds/eventSubscription:EventSubscription"

CLASS_KEY = "rds:postgres:{cls}:{az}"
"""Key of an instance-class row (``az``: ``single-az`` or ``multi-az``)."""

PRICE_KEYS = (
    *(f"rds:storage:{t}:{az}" for t in ("gp2", "gp3", "io1") for az in ("single-az", "multi-az")),
    *(f"rds:iops:{t}:{az}" for t in ("gp3", "io1") for az in ("single-az", "multi-az")),
    "rds:backup",
    "transfer:inter-region",
)
"""Rows this module looks up besides instance classes (the coverage of a complete table)."""

_ENGINES = {"postgres": "PostgreSQL"}
_AUTOSCALE_FREE = 0.10
"""RDS storage autoscaling grows allocated storage when free space falls below 10 %."""


def _az(multi: bool) -> str:
    return "multi-az" if multi else "single-az"


def _source(r: Res, ctx: Context) -> Res | None:
    """The source instance of a read replica: a dependency, else matched by identifier or ARN."""
    ref = r.text("replicateSourceDb")
    if ref is None:
        return None
    source = ctx.dependency(r, RDS_INSTANCE)
    if source is not None:
        return source
    wanted = ref.rsplit(":", 1)[-1]
    for other in ctx.of_type(RDS_INSTANCE):
        if other.urn != r.urn and other.text("identifier") == wanted:
            return other
    return None


def cross_region_source(r: Res, ctx: Context) -> str | None:
    """For a cross-region read replica, the region it replicates from; else None."""
    ref = r.text("replicateSourceDb")
    if ref is None:
        return None
    source = _source(r, ctx)
    region = source.region if source is not None else ctx.source_region(ref)
    return region if region != r.region else None


def rds_instance(r: Res, ctx: Context) -> list[Charge]:
    """Instance-hours, storage, IOPS above the baseline, backup storage, and a cross-region
    replica's WAL stream."""
    source = _source(r, ctx)

    def inherited(name: str) -> Any:
        value = r.get(name)
        return source.get(name) if value is None and source is not None else value

    multi = truthy(r.get("multiAz"))
    out = [_instance(r, ctx, source, inherited("engine"), multi)]
    storage, billed_gb = _storage(r, ctx, source, inherited, multi)
    out += storage
    if billed_gb is not None:
        out += _backups(r, ctx, billed_gb)
    region = cross_region_source(r, ctx)
    if region is not None:
        wal = ctx.usage.postgres_wal_gb_per_day * DAYS
        out.append(
            ctx.transfer(
                "WAL stream",
                region,
                wal,
                f"WAL streamed to this cross-region replica ({ctx.usage.cite('postgres_wal_gb_per_day')} × "
                f"{fmt(DAYS)} days = {fmt(wal)} GB)",
            )
        )
    pi_days = r.num("performanceInsightsRetentionPeriod")
    if truthy(r.get("performanceInsightsEnabled")) and pi_days is not None and pi_days > 7:
        out.append(
            ctx.missing("performance insights", f"Performance Insights retention of {fmt(pi_days)} days", "RDS",
                        r.region)
        )
    return out


def _instance(r: Res, ctx: Context, source: Res | None, engine_raw: Any, multi: bool) -> Charge:
    cls = r.text("instanceClass") or (source.text("instanceClass") if source else None)
    if cls is None:
        return unknown("instance", "instanceClass not set in inputs")
    if engine_raw is None:
        return unknown("instance", f"{cls}: engine not set in inputs and no source instance found")
    engine = _ENGINES.get(str(engine_raw))
    if engine is None:
        return ctx.missing("instance", f"{cls} {engine_raw} (the table has PostgreSQL only)", "RDS", r.region)
    role = ""
    if r.text("replicateSourceDb") is not None:
        name = source.name if source is not None else str(r.text("replicateSourceDb"))
        cross = cross_region_source(r, ctx)
        role = (f"; cross-region replica of {name} ({cross} → {r.region})" if cross else f"; read replica of {name}")
        role += ", billed as its own instance"
    deployment = "Multi-AZ (DB instance: primary + standby)" if multi else "Single-AZ"
    return ctx.per_unit(
        "instance",
        CLASS_KEY.format(cls=cls, az=_az(multi)),
        r.region,
        H,
        f"{cls} {engine} {deployment} {{price}} × {{qty}} h{role}",
        what=f"{cls} {engine} {deployment}",
        service="RDS",
    )


def _storage(
    r: Res, ctx: Context, source: Res | None, inherited: Any, multi: bool
) -> tuple[list[Charge], float | None]:
    """(storage and IOPS charges, the GB billed) — GB None when the size is not known."""
    size = r.num("allocatedStorage")
    from_source = ""
    if size is None and source is not None:
        size, from_source = source.num("allocatedStorage"), " (the source's allocated storage)"
    iops = r.num("iops") if r.get("iops") is not None else (source.num("iops") if source else None)
    throughput = inherited("storageThroughput")
    stype_raw = inherited("storageType")
    stype = str(stype_raw).lower() if stype_raw else ("io1" if iops else "gp2")
    default_note = "" if stype_raw else f" (storageType not set: provider default {stype})"
    if size is None:
        return [unknown("storage", "allocatedStorage not set in inputs and no source instance found")], None
    if stype not in ("gp2", "gp3", "io1"):
        return [ctx.missing("storage", f"RDS {stype} storage", "RDS", r.region)], None
    billed, grown_note = _autoscaled(r, ctx, source, size)
    floor = ""
    if stype == "io1" and billed < 100:
        billed, floor = 100.0, " (io1 minimum 100 GB)"
    az = _az(multi)
    deployment = "Multi-AZ" if multi else "Single-AZ"
    baseline_iops, baseline_mibps = (12000, 500) if billed >= 400 else (3000, 125)
    baseline = f"; gp3 baseline {fmt(baseline_iops)} IOPS / {baseline_mibps} MiBps included" if stype == "gp3" else ""
    out = [
        ctx.per_unit(
            "storage",
            f"rds:storage:{stype}:{az}",
            r.region,
            billed,
            f"RDS {stype} {{qty}} GB{from_source}{grown_note}{floor} × {{price}} ({deployment})"
            f"{default_note}{baseline}",
            what=f"RDS {stype} storage {deployment}",
            service="RDS",
        )
    ]
    if stype == "gp3" and iops is not None and iops > baseline_iops:
        extra = iops - baseline_iops
        out.append(
            ctx.per_unit(
                "iops",
                f"rds:iops:gp3:{az}",
                r.region,
                extra,
                f"RDS gp3 {fmt(iops)} IOPS − {fmt(baseline_iops)} baseline = {{qty}} × {{price}} ({deployment})",
                what=f"RDS gp3 IOPS above baseline {deployment}",
                service="RDS",
            )
        )
    mibps = throughput if isinstance(throughput, int | float) else None
    if stype == "gp3" and mibps is not None and mibps > baseline_mibps:
        out.append(
            ctx.missing("throughput", f"RDS gp3 throughput above the {baseline_mibps} MiBps baseline", "RDS",
                        r.region)
        )
    if stype == "io1":
        if iops is None:
            out.append(unknown("iops", "io1 storage without iops in inputs"))
        else:
            out.append(
                ctx.per_unit(
                    "iops",
                    f"rds:iops:io1:{az}",
                    r.region,
                    iops,
                    f"RDS io1 {{qty}} IOPS × {{price}} ({deployment})",
                    what=f"RDS io1 provisioned IOPS {deployment}",
                    service="RDS",
                )
            )
    return out, billed


def _autoscaled(r: Res, ctx: Context, source: Res | None, size: float) -> tuple[float, str]:
    """Allocated storage after autoscaling for the month-end data size (``maxAllocatedStorage``)."""
    ceiling = r.num("maxAllocatedStorage") or (source.num("maxAllocatedStorage") if source else None)
    data = ctx.usage.grown(ctx.usage.postgres_data_gb)
    needed = math.ceil(data / (1 - _AUTOSCALE_FREE))
    if ceiling is None or ceiling <= size or needed <= size:
        return size, ""
    grown = min(float(needed), ceiling)
    return grown, (
        f" (autoscaled from {fmt(size)} GB: {ctx.usage.cite_data('postgres_data_gb')} "
        f"leaves under {_AUTOSCALE_FREE:.0%} free; ceiling maxAllocatedStorage {fmt(ceiling)})"
    )


def _backup_gb(ctx: Context, retention: float) -> tuple[float, str]:
    """(GB of automated backups for ``retention`` days, how): a full snapshot plus the WAL kept."""
    data = ctx.usage.grown(ctx.usage.postgres_data_gb)
    wal = ctx.usage.postgres_wal_gb_per_day * retention
    how = (
        f"{fmt(data)} GB snapshot + {fmt(ctx.usage.postgres_wal_gb_per_day)} GB/day WAL × {fmt(retention)} days "
        f"= {fmt(data + wal)} GB ({ctx.usage.cite_data('postgres_data_gb', 'postgres_wal_gb_per_day')})"
    )
    return data + wal, how


def _backups(r: Res, ctx: Context, allocated: float) -> list[Charge]:
    retention = r.num("backupRetentionPeriod")
    if not retention:
        return []
    gb, how = _backup_gb(ctx, retention)
    billed = max(0.0, gb - allocated)
    return [
        ctx.per_unit(
            "backup storage",
            "rds:backup",
            r.region,
            billed,
            f"automated backups {how}; free up to the {fmt(allocated)} GB allocated; {{qty}} GB × {{price}}",
            what="RDS backup storage",
            service="RDS",
        )
    ]


def rds_backups_replication(r: Res, ctx: Context) -> list[Charge]:
    """Replicated automated backups: their storage in the destination region (no free allocation
    counted: an upper bound) and the transfer of WAL and snapshot increments."""
    source = ctx.dependency(r, RDS_INSTANCE)
    source_region = source.region if source is not None else ctx.source_region(r.text("sourceDbInstanceArn"))
    retention = r.num("retentionPeriod") or 7.0
    gb, how = _backup_gb(ctx, retention)
    storage = ctx.per_unit(
        "backup storage",
        "rds:backup",
        r.region,
        gb,
        f"replicated backups in {r.region}: {how}, all billed (no free allocation counted) × {{price}}",
        what="RDS backup storage",
        service="RDS",
    )
    sent = 2 * ctx.usage.postgres_wal_gb_per_day * DAYS
    transfer = ctx.transfer(
        "cross-region transfer",
        source_region,
        sent,
        f"backup replication to {r.region}: WAL + snapshot increments, each ≈ "
        f"{ctx.usage.cite('postgres_wal_gb_per_day')} × {fmt(DAYS)} days = {fmt(sent)} GB (the first full "
        "copy is a one-off, not monthly)",
    )
    return [storage, transfer]


def rds_event_subscription(r: Res, ctx: Context) -> list[Charge]:
    """RDS event notifications cost nothing; deliveries are billed on the SNS topic."""
    return [free("RDS event subscription (RDS charges nothing; SNS deliveries beyond its free tier not modelled)")]


RULES = {
    RDS_INSTANCE: rds_instance,
    BACKUPS_REPLICATION: rds_backups_replication,
    EVENT_SUBSCRIPTION: rds_event_subscription,
}
