"""Pricing rules: one function per billable resource type, plus the catalogue of free types.

A rule turns one recorded resource into :class:`Charge` s (``monthly`` in USD, or None when the
table cannot price it) whose ``basis`` states the formula with its numbers. Rules only read the
price table; when a row is missing they say which row and where the table's prices of that
service came from. They never borrow another region's price and never make a number up.

Conventions (from the price table's README): 730 h/month; RDS Multi-AZ (DB instance) doubles
instance and storage — the Multi-AZ row is used where the table has one, else 2 × Single-AZ,
said in the basis; a read replica is its own instance; ElastiCache nodes = shards × (1 + replicas);
gp3 baselines: RDS < 400 GiB 3,000 IOPS / 125 MiBps, ≥ 400 GiB 12,000 IOPS / 500 MiBps; EBS
3,000 IOPS / 125 MiBps. Usage-driven charges (NAT data, log ingestion, backup storage, cross-region
transfer) come from the :class:`Usage` assumptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cost.prices import HOURS_PER_MONTH, Price, PriceTable

H = HOURS_PER_MONTH

# ---------------------------------------------------------------------------------------------
# Inputs: usage assumptions and a read-only view of a recorded resource
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Usage assumptions priced by the model (config ``data-platform:usage``, camelCase keys).

    The defaults equal the stack-config defaults, so an estimate without usage prices the same
    assumptions a stack file without a ``usage`` section would.
    """

    nat_gb_per_month: float = 100.0
    """``natGbPerMonth``: GB processed by all NAT gateways per month, split evenly. Default: 100."""
    backup_gb_per_store: float = 200.0
    """``backupGbPerStore``: GB stored in each S3 bucket (primary and DR replica). Default: 200."""
    log_gb_per_month: float = 20.0
    """``logGbPerMonth``: GB ingested into CloudWatch Logs per month, split over log groups. Default: 20."""
    cross_region_gb_per_month: float = 200.0
    """``crossRegionGbPerMonth``: GB sent to the DR region per month (S3 + RDS), split over the
    replication configs, cross-region replicas and backup replications. Default: 200."""

    KEYS = {
        "natGbPerMonth": "nat_gb_per_month",
        "backupGbPerStore": "backup_gb_per_store",
        "logGbPerMonth": "log_gb_per_month",
        "crossRegionGbPerMonth": "cross_region_gb_per_month",
    }

    @classmethod
    def from_mapping(cls, usage: Mapping[str, float] | None) -> Usage:
        """Validate camelCase ``usage``; unknown keys and negative or non-numeric values are errors."""
        if not usage:
            return cls()
        problems: list[str] = []
        values: dict[str, float] = {}
        for key, value in usage.items():
            attr = cls.KEYS.get(key)
            if attr is None:
                problems.append(f"usage key {key!r} is not one of {', '.join(cls.KEYS)}")
                continue
            number = _number(value)
            if number is None or number < 0:
                problems.append(f"usage.{key}: {value!r} is not a number >= 0")
                continue
            values[attr] = number
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values)

    def to_json(self) -> dict[str, float]:
        """The assumptions with their camelCase keys."""
        return {key: getattr(self, attr) for key, attr in self.KEYS.items()}


@dataclass(frozen=True)
class Res:
    """A recorded resource (architecture §7 contract), with its effective region."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...]
    region: str
    """``inputs.region`` (pulumi-aws 7 per-resource region), else the stack region."""

    @classmethod
    def from_mapping(cls, resource: Mapping[str, Any], stack_region: str) -> Res:
        """Read the contract fields; missing optional fields get neutral values."""
        urn = str(resource["urn"])
        inputs = resource.get("inputs") or {}
        region = inputs.get("region") if isinstance(inputs, Mapping) else None
        return cls(
            urn=urn,
            type=str(resource.get("type") or _type_from_urn(urn)),
            name=str(resource.get("name") or urn.rsplit("::", 1)[-1]),
            custom=bool(resource["custom"])
            if "custom" in resource
            else _looks_custom(urn, resource.get("type")),
            parent=resource.get("parent") or None,
            inputs=inputs if isinstance(inputs, Mapping) else {},
            dependencies=tuple(resource.get("dependencies") or ()),
            region=region if isinstance(region, str) and region else stack_region,
        )

    def get(self, *path: str | int) -> Any:
        """A nested input (``get("scalingConfig", "desiredSize")``), or None."""
        return _dig(self.inputs, *path)

    def num(self, *path: str | int) -> float | None:
        """A nested numeric input, or None when absent or not a number."""
        return _number(self.get(*path))

    def text(self, *path: str | int) -> str | None:
        """A nested string input, or None."""
        value = self.get(*path)
        return value if isinstance(value, str) and value else None


def _looks_custom(urn: str, type_: Any) -> bool:
    """Guess ``custom`` when a caller omits it: provider resource tokens have a ``/`` in their module
    (``aws:rds/instance:Instance``, ``kubernetes:apps/v1:StatefulSet``); component tokens do not
    (``data-platform:aws:Postgres``); provider configurations are ``pulumi:providers:<pkg>``."""
    token = type_ if isinstance(type_, str) and type_ else _type_from_urn(urn)
    parts = token.split(":")
    return token.startswith("pulumi:providers:") or (len(parts) == 3 and "/" in parts[1])


def _type_from_urn(urn: str) -> str:
    qualified = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return qualified.rsplit("$", 1)[-1]


def _dig(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or len(value) <= step:
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value) if isinstance(value, bool | int | float) else False


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


# ---------------------------------------------------------------------------------------------
# Output of a rule
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One priced (or unpriceable) part of a resource."""

    item: str
    """Which part: ``instance``, ``storage``, ``iops``, ``data processed``, ``no charge`` ..."""
    monthly: float | None
    """USD per month; 0.0 for free; None when the table cannot price it."""
    basis: str
    """The formula with its numbers, ``no charge: why``, or why it is unpriced."""


def fmt(value: float) -> str:
    """A quantity for a basis: thousands separators, at most three decimals, no float noise."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def free(reason: str) -> Charge:
    """A resource that costs nothing, with the reason."""
    return Charge("no charge", 0.0, f"no charge: {reason}")


# ---------------------------------------------------------------------------------------------
# Context shared by the rules of one estimate
# ---------------------------------------------------------------------------------------------

RDS_INSTANCE = "aws:rds/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EC2_INSTANCE = "aws:ec2/instance:Instance"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
REPLICATION_CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BACKUPS_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})


@dataclass
class Context:
    """What the rules of one estimate need beyond the resource itself."""

    table: PriceTable
    region: str
    """The stack region (``aws:region``)."""
    usage: Usage
    by_urn: dict[str, Res]
    nat_gateways: int = 0
    log_groups: int = 0
    transfer_carriers: int = 0
    template_users: dict[str, list[Res]] = field(default_factory=dict)
    storage_classes: dict[str, Res] = field(default_factory=dict)
    default_storage_class: str | None = None

    @classmethod
    def build(cls, table: PriceTable, region: str, usage: Usage, resources: Sequence[Res]) -> Context:
        """Index ``resources`` once: counts for usage splits, template users, storage classes."""
        ctx = cls(table=table, region=region, usage=usage, by_urn={r.urn: r for r in resources})
        for r in resources:
            if r.type == NAT_GATEWAY:
                ctx.nat_gateways += 1
            elif r.type == LOG_GROUP:
                ctx.log_groups += 1
            elif r.type in (REPLICATION_CONFIG, BACKUPS_REPLICATION) or (
                r.type == RDS_INSTANCE and ctx.cross_region_source(r) is not None
            ):
                ctx.transfer_carriers += 1
            elif r.type == STORAGE_CLASS:
                name = r.text("metadata", "name") or r.name
                ctx.storage_classes[name] = r
                annotations = r.get("metadata", "annotations") or {}
                if isinstance(annotations, Mapping) and _truthy(
                    annotations.get("storageclass.kubernetes.io/is-default-class")
                ):
                    ctx.default_storage_class = name
            if r.type in (NODE_GROUP, EC2_INSTANCE):
                for dep in r.dependencies:
                    template = ctx.by_urn.get(dep)
                    if template is not None and template.type == LAUNCH_TEMPLATE:
                        ctx.template_users.setdefault(dep, []).append(r)
        return ctx

    # -- lookups ---------------------------------------------------------------------------

    def price(self, key: str, region: str) -> Price | None:
        """The table row, or None."""
        return self.table.get(key, region)

    def missing(self, item: str, what: str, service: str, region: str) -> Charge:
        """An unpriced charge naming the missing row and the table's sources for ``service``."""
        covered = ""
        if region not in self.table.regions:
            covered = f"the table covers only {', '.join(self.table.regions)}; "
        return Charge(
            item,
            None,
            f"no price for {what} in {region} in the price table "
            f"({covered}sources: {self.table.sources_for(service)})",
        )

    def template_of(self, r: Res) -> Res | None:
        """The launch template ``r`` depends on, if any."""
        for dep in r.dependencies:
            template = self.by_urn.get(dep)
            if template is not None and template.type == LAUNCH_TEMPLATE:
                return template
        return None

    def rds_source(self, r: Res) -> Res | None:
        """The source instance of a read replica: a dependency, else matched by identifier or ARN."""
        source_ref = r.text("replicateSourceDb")
        if source_ref is None:
            return None
        for dep in r.dependencies:
            source = self.by_urn.get(dep)
            if source is not None and source.type == RDS_INSTANCE and source.urn != r.urn:
                return source
        wanted = source_ref.rsplit(":", 1)[-1]
        for source in self.by_urn.values():
            if source.type == RDS_INSTANCE and source.urn != r.urn and source.text("identifier") == wanted:
                return source
        return None

    def source_region(self, arn: str | None) -> str:
        """Region named in ``arn``, else the stack region."""
        if arn and arn.startswith("arn:"):
            parts = arn.split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
        return self.region

    def cross_region_source(self, r: Res) -> str | None:
        """For a cross-region read replica, the region it replicates from; else None."""
        source_ref = r.text("replicateSourceDb")
        if source_ref is None:
            return None
        source = self.rds_source(r)
        region = source.region if source is not None else self.source_region(source_ref)
        return region if region != r.region else None

    def transfer_share(self) -> float:
        """GB per month each cross-region carrier sends (crossRegionGbPerMonth split evenly)."""
        return self.usage.cross_region_gb_per_month / max(self.transfer_carriers, 1)

    def transfer_charge(self, source_region: str, what: str) -> Charge:
        """Inter-region transfer of this carrier's share, priced in the sending region."""
        share = self.transfer_share()
        split = (
            f"crossRegionGbPerMonth {fmt(self.usage.cross_region_gb_per_month)} split evenly over "
            f"{self.transfer_carriers} cross-region carriers"
        )
        p = self.price("transfer:inter-region", source_region)
        if p is None:
            return self.missing(
                "cross-region transfer", "inter-region data transfer", "Data Transfer", source_region
            )
        return Charge(
            "cross-region transfer",
            p.usd * share,
            f"{what}: inter-region transfer out of {source_region} "
            f"{p.text} {p.unit} × {fmt(share)} GB ({split})",
        )


Rule = Callable[[Res, Context], list[Charge]]

# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------


def ebs_charges(
    ctx: Context,
    region: str,
    label: str,
    *,
    size_gb: float | None,
    volume_type: str | None,
    iops: float | None = None,
    throughput: float | None = None,
    count: float = 1,
    count_text: str = "",
) -> list[Charge]:
    """EBS storage, IOPS and throughput of ``count`` identical volumes (gp3 above 3,000 / 125 baseline)."""
    times = f" × {fmt(count)} {count_text}".rstrip() if count != 1 else ""
    if size_gb is None:
        return [Charge("storage", None, f"{label}: volume size not set in inputs (AMI or snapshot default)")]
    if volume_type is None:
        return [Charge("storage", None, f"{label}: volume type not set in inputs (AMI default)")]
    vtype = volume_type.lower()
    storage = ctx.price(f"ebs:storage:{vtype}", region)
    if storage is None:
        return [ctx.missing("storage", f"EBS {vtype} storage", "EBS", region)]
    out = [
        Charge(
            "storage",
            storage.usd * size_gb * count,
            f"{label}: EBS {vtype} {fmt(size_gb)} GB × {storage.text} {storage.unit}{times}",
        )
    ]
    if vtype == "gp3":
        if iops is not None and iops > 3000:
            extra = iops - 3000
            p = ctx.price("ebs:iops:gp3", region)
            out.append(
                ctx.missing("iops", "EBS gp3 IOPS above baseline", "EBS", region)
                if p is None
                else Charge(
                    "iops",
                    p.usd * extra * count,
                    f"{label}: gp3 {fmt(iops)} IOPS − 3,000 baseline = {fmt(extra)} "
                    f"× {p.text} {p.unit}{times}",
                )
            )
        if throughput is not None and throughput > 125:
            extra = throughput - 125
            p = ctx.price("ebs:throughput:gp3", region)
            out.append(
                ctx.missing("throughput", "EBS gp3 throughput above baseline", "EBS", region)
                if p is None
                else Charge(
                    "throughput",
                    p.usd * extra * count,
                    f"{label}: gp3 {fmt(throughput)} MiBps − 125 baseline = {fmt(extra)} "
                    f"× {p.text} {p.unit}{times}",
                )
            )
    elif vtype == "io1":
        p = ctx.price("ebs:iops:io1", region)
        if iops is None:
            out.append(Charge("iops", None, f"{label}: io1 volume without iops in inputs"))
        elif p is None:
            out.append(ctx.missing("iops", "EBS io1 provisioned IOPS", "EBS", region))
        else:
            out.append(
                Charge(
                    "iops", p.usd * iops * count, f"{label}: io1 {fmt(iops)} IOPS × {p.text} {p.unit}{times}"
                )
            )
    return out


def _block_device(device: Any) -> tuple[float | None, str | None, float | None, float | None]:
    return (
        _number(_dig(device, "volumeSize")),
        _dig(device, "volumeType") if isinstance(_dig(device, "volumeType"), str) else None,
        _number(_dig(device, "iops")),
        _number(_dig(device, "throughput")),
    )


def template_volumes(ctx: Context, template: Res, region: str, count: float, count_text: str) -> list[Charge]:
    """The EBS volumes of a launch template's block device mappings, for ``count`` instances."""
    out: list[Charge] = []
    for mapping in _list(template.get("blockDeviceMappings")):
        ebs = _dig(mapping, "ebs")
        if not isinstance(ebs, Mapping):
            continue
        size, vtype, iops, throughput = _block_device(ebs)
        device = _dig(mapping, "deviceName") or "volume"
        out += ebs_charges(
            ctx,
            region,
            f"{device} from launch template {template.name}",
            size_gb=size,
            volume_type=vtype,
            iops=iops,
            throughput=throughput,
            count=count,
            count_text=count_text,
        )
    return out


# ---------------------------------------------------------------------------------------------
# RDS
# ---------------------------------------------------------------------------------------------

_ENGINES = {"postgres": "PostgreSQL"}


def _rds_doubled(ctx: Context, key: str, region: str, multi_az: bool) -> tuple[Price | None, float, str]:
    """(price, factor, note) for a storage/IOPS row: Multi-AZ row, else 2 × Single-AZ, said so."""
    if multi_az:
        p = ctx.price(f"{key}:multi-az", region)
        if p is not None:
            return p, 1.0, " (Multi-AZ row: primary + standby)"
        p = ctx.price(f"{key}:single-az", region)
        if p is not None:
            return p, 2.0, " × 2 (Multi-AZ: primary + standby; no Multi-AZ row in the table, 2 × Single-AZ)"
        return None, 0.0, ""
    return ctx.price(f"{key}:single-az", region), 1.0, ""


def rds_instance(r: Res, ctx: Context) -> list[Charge]:
    """RDS DB instance: instance-hours (Multi-AZ doubles), storage, IOPS above baseline, DR transfer."""
    source = ctx.rds_source(r)
    is_replica = r.text("replicateSourceDb") is not None

    def inherited(name: str) -> Any:
        value = r.get(name)
        if value is None and source is not None:
            return source.get(name)
        return value

    out: list[Charge] = []
    cls = r.text("instanceClass") or (source.text("instanceClass") if source else None)
    multi_az = _truthy(r.get("multiAz"))
    az_text = "Multi-AZ" if multi_az else "Single-AZ"
    engine_raw = inherited("engine")
    engine = _ENGINES.get(str(engine_raw)) if engine_raw is not None else None
    role = ""
    if is_replica:
        source_name = source.name if source is not None else str(r.text("replicateSourceDb"))
        cross = ctx.cross_region_source(r)
        kind = (
            f"cross-region replica of {source_name} ({cross} → {r.region})"
            if cross
            else f"read replica of {source_name}"
        )
        role = f"; {kind}, billed as its own instance"

    if cls is None:
        out.append(Charge("instance", None, "instanceClass not set in inputs"))
    elif engine_raw is None:
        out.append(Charge("instance", None, f"{cls}: engine not set in inputs and no source instance found"))
    elif engine is None:
        out.append(
            ctx.missing("instance", f"{cls} {engine_raw} (the table has PostgreSQL only)", "RDS", r.region)
        )
    else:
        single = ctx.price(f"rds:postgres:{cls}:single-az", r.region)
        multi = ctx.price(f"rds:postgres:{cls}:multi-az", r.region) if multi_az else None
        if multi is not None:
            out.append(
                Charge(
                    "instance",
                    multi.usd * H,
                    f"{cls} {engine} Multi-AZ (DB instance) {multi.text} {multi.short_unit} × {H} h "
                    f"(row covers primary + standby){role}",
                )
            )
        elif single is not None and multi_az:
            out.append(
                Charge(
                    "instance",
                    single.usd * H * 2,
                    f"{cls} {engine} {single.text} {single.short_unit} × {H} h × 2 "
                    "(Multi-AZ: primary + standby; "
                    f"no Multi-AZ row in the table, 2 × Single-AZ){role}",
                )
            )
        elif single is not None:
            out.append(
                Charge(
                    "instance",
                    single.usd * H,
                    f"{cls} {engine} Single-AZ {single.text} {single.short_unit} × {H} h{role}",
                )
            )
        else:
            rows = "Multi-AZ or Single-AZ" if multi_az else "Single-AZ"
            out.append(ctx.missing("instance", f"{cls} {engine} ({rows})", "RDS", r.region))

    # storage ---------------------------------------------------------------------------------
    size = _number(inherited("allocatedStorage"))
    iops = _number(inherited("iops"))
    throughput = _number(inherited("storageThroughput"))
    stype_raw = inherited("storageType")
    stype = str(stype_raw).lower() if stype_raw else ("io1" if iops else "gp2")
    default_note = "" if stype_raw else f" (storageType not set: provider default {stype})"
    from_source = " inherited from source" if r.get("allocatedStorage") is None and source is not None else ""
    if size is None:
        out.append(Charge("storage", None, "allocatedStorage not set in inputs and no source instance found"))
        return out + _rds_transfer(r, ctx)
    if stype not in ("gp2", "gp3", "io1"):
        out.append(ctx.missing("storage", f"RDS {stype} storage", "RDS", r.region))
        return out + _rds_transfer(r, ctx)
    billed = max(size, 100.0) if stype == "io1" else size
    floor = " (io1 minimum 100 GB)" if billed != size else ""
    p, factor, note = _rds_doubled(ctx, f"rds:storage:{stype}", r.region, multi_az)
    baseline_iops, baseline_mibps = (12000, 500) if size >= 400 else (3000, 125)
    baseline = (
        f"; gp3 baseline {fmt(baseline_iops)} IOPS / {baseline_mibps} MiBps included"
        if stype == "gp3"
        else ""
    )
    if p is None:
        out.append(ctx.missing("storage", f"RDS {stype} storage {az_text}", "RDS", r.region))
    else:
        out.append(
            Charge(
                "storage",
                p.usd * billed * factor,
                f"RDS {stype} {fmt(billed)} GB{from_source}{floor} × {p.text} {p.unit}"
                f"{note}{default_note}{baseline}",
            )
        )
    if stype == "gp3" and iops is not None and iops > baseline_iops:
        extra = iops - baseline_iops
        p, factor, note = _rds_doubled(ctx, "rds:iops:gp3", r.region, multi_az)
        if p is None:
            out.append(ctx.missing("iops", f"RDS gp3 IOPS above baseline {az_text}", "RDS", r.region))
        else:
            out.append(
                Charge(
                    "iops",
                    p.usd * extra * factor,
                    f"RDS gp3 {fmt(iops)} IOPS − {fmt(baseline_iops)} baseline = {fmt(extra)} "
                    f"× {p.text} {p.unit}{note}",
                )
            )
    if stype == "gp3" and throughput is not None and throughput > baseline_mibps:
        out.append(
            ctx.missing(
                "throughput",
                f"RDS gp3 throughput above the {baseline_mibps} MiBps baseline ({fmt(throughput)} MiBps)",
                "RDS",
                r.region,
            )
        )
    if stype == "io1":
        if iops is None:
            out.append(Charge("iops", None, "io1 storage without iops in inputs"))
        else:
            p, factor, note = _rds_doubled(ctx, "rds:iops:io1", r.region, multi_az)
            if p is None:
                out.append(ctx.missing("iops", f"RDS io1 provisioned IOPS {az_text}", "RDS", r.region))
            else:
                out.append(
                    Charge(
                        "iops", p.usd * iops * factor, f"RDS io1 {fmt(iops)} IOPS × {p.text} {p.unit}{note}"
                    )
                )
    return out + _rds_transfer(r, ctx)


def _rds_transfer(r: Res, ctx: Context) -> list[Charge]:
    source_region = ctx.cross_region_source(r)
    if source_region is None:
        return []
    return [ctx.transfer_charge(source_region, "replication to this cross-region replica")]


def rds_backups_replication(r: Res, ctx: Context) -> list[Charge]:
    """Automated-backups replication: transfer share, plus DR backup storage (volume not modelled)."""
    arn = r.text("sourceDbInstanceArn")
    source_region = ctx.region
    for dep in r.dependencies:
        source = ctx.by_urn.get(dep)
        if source is not None and source.type == RDS_INSTANCE:
            source_region = source.region
            break
    else:
        source_region = ctx.source_region(arn)
    storage = ctx.price("rds:backup", r.region)
    storage_charge = (
        ctx.missing("backup storage", "RDS backup storage", "RDS", r.region)
        if storage is None
        else Charge(
            "backup storage",
            None,
            f"replicated snapshots and WAL in {r.region} are billed at {storage.text} {storage.unit}, "
            "but their volume is not a usage assumption of the model",
        )
    )
    return [ctx.transfer_charge(source_region, "automated backups replicated to " + r.region), storage_charge]


# ---------------------------------------------------------------------------------------------
# ElastiCache
# ---------------------------------------------------------------------------------------------


def _cache_engine(r: Res) -> tuple[str | None, str]:
    engine = (r.text("engine") or "redis").lower()
    return {"valkey": ("valkey", "Valkey"), "redis": ("redis", "Redis OSS")}.get(engine, (None, engine))


def _cache_nodes(ctx: Context, r: Res, nodes: float, layout: str) -> list[Charge]:
    node_type = r.text("nodeType")
    engine_key, engine_name = _cache_engine(r)
    if node_type is None:
        return [Charge("nodes", None, "nodeType not set in inputs")]
    if engine_key is None:
        return [
            ctx.missing(
                "nodes",
                f"{node_type} {engine_name} (the table has Redis OSS and Valkey)",
                "ElastiCache",
                r.region,
            )
        ]
    p = ctx.price(f"elasticache:node:{node_type}:{engine_key}", r.region)
    if p is None:
        return [ctx.missing("nodes", f"{node_type} {engine_name} node", "ElastiCache", r.region)]
    return [
        Charge(
            "nodes",
            p.usd * H * nodes,
            f"{node_type} {engine_name} {p.text} {p.short_unit} × {H} h × {fmt(nodes)} nodes ({layout})",
        )
    ]


def elasticache_replication_group(r: Res, ctx: Context) -> list[Charge]:
    """Replication group: shards × (1 + replicas) nodes (cluster mode), else numCacheClusters."""
    shards = r.num("numNodeGroups")
    replicas = r.num("replicasPerNodeGroup")
    groups = _list(r.get("nodeGroupConfigurations"))
    if shards is not None:
        per = replicas or 0.0
        nodes = shards * (1 + per)
        layout = f"{fmt(shards)} shards × (1 primary + {fmt(per)} replica{'' if per == 1 else 's'})"
    elif groups:
        counts = [1 + (_number(_dig(g, "replicaCount")) or 0.0) for g in groups]
        nodes = sum(counts)
        layout = f"{len(groups)} shards from nodeGroupConfigurations"
    else:
        clusters = r.num("numCacheClusters")
        nodes = clusters if clusters is not None else 1.0
        layout = (
            f"numCacheClusters {fmt(nodes)}" if clusters is not None else "numCacheClusters not set: 1 node"
        )
    return _cache_nodes(ctx, r, nodes, layout)


def elasticache_cluster(r: Res, ctx: Context) -> list[Charge]:
    """A cache cluster: free when it is a member of a replication group (priced there)."""
    if r.text("replicationGroupId"):
        return [free("member of a replication group; its node is priced on the group")]
    count = r.num("numCacheNodes") or 1.0
    return _cache_nodes(ctx, r, count, f"numCacheNodes {fmt(count)}")


# ---------------------------------------------------------------------------------------------
# EKS and EC2
# ---------------------------------------------------------------------------------------------


def eks_cluster(r: Res, ctx: Context) -> list[Charge]:
    """Control plane per hour (standard support); notes extended support and paid add-ons."""
    p = ctx.price("eks:cluster:standard", r.region)
    if p is None:
        return [ctx.missing("control plane", "EKS cluster control plane", "EKS", r.region)]
    version = r.text("version") or "default"
    support = (r.text("upgradePolicy", "supportType") or "").upper()
    if support == "STANDARD":
        note = "upgradePolicy.supportType STANDARD: upgraded automatically, never billed extended support"
    else:
        extended = ctx.price("eks:cluster:extended", r.region)
        rate = f" ({extended.text} {extended.short_unit})" if extended else ""
        note = (
            f"upgradePolicy.supportType {support or 'not set (EXTENDED)'}: once version {version} "
            f"leaves standard support the extended-support rate{rate} applies; "
            "support dates are not in the table"
        )
    out = [Charge("control plane", p.usd * H, f"EKS control plane {p.text} {p.short_unit} × {H} h ({note})")]
    tier = (r.text("controlPlaneScalingConfig", "tier") or "standard").lower()
    if tier != "standard":
        out.append(
            ctx.missing("control plane tier", f"EKS provisioned control plane {tier}", "EKS", r.region)
        )
    if _truthy(r.get("computeConfig", "enabled")):
        out.append(ctx.missing("auto mode", "EKS Auto Mode management fee", "EKS", r.region))
    return out


def eks_node_group(r: Res, ctx: Context) -> list[Charge]:
    """Managed node group: desired size × instance price, plus per-node volumes when known."""
    desired = r.num("scalingConfig", "desiredSize")
    types = [t for t in _list(r.get("instanceTypes")) if isinstance(t, str)]
    template = ctx.template_of(r)
    if not types and template is not None and template.text("instanceType"):
        types = [str(template.text("instanceType"))]
    out: list[Charge] = []
    if desired is None:
        return [Charge("instances", None, "scalingConfig.desiredSize not set in inputs")]
    if not types:
        out.append(
            Charge("instances", None, "instanceTypes not set (EKS default type); no instance type to price")
        )
    elif (r.text("capacityType") or "ON_DEMAND").upper() != "ON_DEMAND":
        out.append(ctx.missing("instances", f"{types[0]} {r.text('capacityType')} capacity", "EC2", r.region))
    else:
        itype = types[0]
        more = f"; priced at the first of {', '.join(types)}" if len(types) > 1 else ""
        p = ctx.price(f"ec2:instance:{itype}", r.region)
        if p is None:
            out.append(ctx.missing("instances", f"EC2 {itype} Linux on-demand", "EC2", r.region))
        else:
            out.append(
                Charge(
                    "instances",
                    p.usd * H * desired,
                    f"{itype} {p.text} {p.short_unit} × {H} h × {fmt(desired)} nodes "
                    f"(scalingConfig.desiredSize){more}",
                )
            )
    if template is not None:
        out += template_volumes(ctx, template, r.region, desired, "nodes")
    elif r.num("diskSize") is not None:
        out.append(
            Charge(
                "storage",
                None,
                f"diskSize {fmt(r.num('diskSize') or 0)} GB × {fmt(desired)} nodes: the volume type "
                "is chosen by EKS (not an input); set it in a launch template to price the node disks",
            )
        )
    else:
        out.append(
            Charge(
                "storage",
                None,
                "node root volumes use the EKS default size and type (not in inputs); "
                "set them in a launch template to price them",
            )
        )
    return out


def ec2_instance(r: Res, ctx: Context) -> list[Charge]:
    """EC2 instance (Linux on-demand) plus its root and EBS block devices."""
    template = ctx.template_of(r)
    itype = r.text("instanceType") or (template.text("instanceType") if template else None)
    out: list[Charge] = []
    if itype is None:
        out.append(Charge("instance", None, "instanceType not set in inputs or launch template"))
    elif (r.text("tenancy") or "default") != "default" or r.get("instanceMarketOptions") is not None:
        out.append(ctx.missing("instance", f"EC2 {itype} with tenancy/market options", "EC2", r.region))
    else:
        p = ctx.price(f"ec2:instance:{itype}", r.region)
        out.append(
            ctx.missing("instance", f"EC2 {itype} Linux on-demand", "EC2", r.region)
            if p is None
            else Charge("instance", p.usd * H, f"{itype} Linux {p.text} {p.short_unit} × {H} h")
        )
    root = r.get("rootBlockDevice")
    if isinstance(root, Mapping):
        size, vtype, iops, throughput = _block_device(root)
        out += ebs_charges(
            ctx, r.region, "root volume", size_gb=size, volume_type=vtype, iops=iops, throughput=throughput
        )
    elif template is None:
        out.append(Charge("storage", None, "root volume: size and type come from the AMI (not in inputs)"))
    for device in _list(r.get("ebsBlockDevices")):
        size, vtype, iops, throughput = _block_device(device)
        name = str(_dig(device, "deviceName") or "EBS block device")
        if vtype is None:
            name += " (volumeType not set: provider default gp2)"
        out += ebs_charges(
            ctx,
            r.region,
            name,
            size_gb=size,
            volume_type=vtype or "gp2",
            iops=iops,
            throughput=throughput,
        )
    if template is not None:
        out += template_volumes(ctx, template, r.region, 1, "")
    return out


def ebs_volume(r: Res, ctx: Context) -> list[Charge]:
    """A standalone EBS volume (type defaults to gp2, as in the provider)."""
    vtype = r.text("type")
    label = "volume" if vtype else "volume (type not set: provider default gp2)"
    return ebs_charges(
        ctx,
        r.region,
        label,
        size_gb=r.num("size"),
        volume_type=vtype or "gp2",
        iops=r.num("iops"),
        throughput=r.num("throughput"),
    )


def launch_template(r: Res, ctx: Context) -> list[Charge]:
    """No charge itself; its volumes are priced on the node groups/instances that use it."""
    users = ctx.template_users.get(r.urn, [])
    if users:
        return [free(f"a template; its volumes are priced on {', '.join(u.name for u in users)}")]
    return [free("a template; no instance or node group in the program uses it")]


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


def nat_gateway(r: Res, ctx: Context) -> list[Charge]:
    """NAT gateway hours plus its even share of the natGbPerMonth assumption."""
    note = " (private NAT gateway)" if r.text("connectivityType") == "private" else ""
    hour = ctx.price("vpc:nat:hour", r.region)
    out = [
        ctx.missing("hours", "NAT gateway hour", "VPC", r.region)
        if hour is None
        else Charge("hours", hour.usd * H, f"NAT gateway{note} {hour.text} {hour.short_unit} × {H} h")
    ]
    share = ctx.usage.nat_gb_per_month / max(ctx.nat_gateways, 1)
    gb = ctx.price("vpc:nat:gb", r.region)
    out.append(
        ctx.missing("data processed", "NAT gateway data processed", "VPC", r.region)
        if gb is None
        else Charge(
            "data processed",
            gb.usd * share,
            f"NAT data processed {gb.text} {gb.unit} × {fmt(share)} GB (natGbPerMonth "
            f"{fmt(ctx.usage.nat_gb_per_month)} split evenly over {ctx.nat_gateways} NAT gateways)",
        )
    )
    return out


def vpc_endpoint(r: Res, ctx: Context) -> list[Charge]:
    """Gateway endpoints are free; interface endpoints are billed per AZ-hour and GB (no price)."""
    kind = r.text("vpcEndpointType") or "Gateway"
    service = r.text("serviceName") or "service"
    if kind == "Gateway":
        return [free(f"gateway VPC endpoint ({service})")]
    azs = len(_list(r.get("subnetIds"))) or None
    per = f" × {azs} AZs" if azs else ""
    return [
        ctx.missing(
            "endpoint hours",
            f"{kind} VPC endpoint {service} (billed per AZ-hour{per} and per GB processed)",
            "VPC",
            r.region,
        )
    ]


def load_balancer(r: Res, ctx: Context) -> list[Charge]:
    """ALB/NLB hours; capacity units are usage and are not modelled."""
    kind = (r.text("loadBalancerType") or "application").lower()
    key = {"application": "alb", "network": "nlb"}.get(kind)
    p = ctx.price(f"elb:{key}:hour", r.region) if key else None
    if p is None:
        return [ctx.missing("hours", f"{kind} load balancer hour", "ELB", r.region)]
    return [
        Charge(
            "hours",
            p.usd * H,
            f"{kind} load balancer {p.text} {p.short_unit} × {H} h (LCU usage not modelled)",
        )
    ]


def eip(r: Res, ctx: Context) -> list[Charge]:
    """Public IPv4 addresses are billed per hour; the table has no such row."""
    return [ctx.missing("address hours", "public IPv4 address hour (Elastic IP)", "VPC", r.region)]


# ---------------------------------------------------------------------------------------------
# Keys, secrets, monitoring, storage
# ---------------------------------------------------------------------------------------------


def kms_key(r: Res, ctx: Context) -> list[Charge]:
    """Customer managed key per month (rotation surcharges are not in the table)."""
    p = ctx.price("kms:key", r.region)
    if p is None:
        return [ctx.missing("key", "KMS customer managed key", "KMS", r.region)]
    rotation = (
        "; key-material rotations may add monthly charges not in the table"
        if _truthy(r.get("enableKeyRotation"))
        else ""
    )
    return [Charge("key", p.usd, f"KMS key {p.text} {p.unit} × 1{rotation}; requests not modelled")]


def secret(r: Res, ctx: Context) -> list[Charge]:
    """A secret per month, plus one per replica region (each replica is billed as a secret)."""
    out: list[Charge] = []
    regions = [r.region] + [
        str(_dig(rep, "region")) for rep in _list(r.get("replicas")) if isinstance(_dig(rep, "region"), str)
    ]
    for i, region in enumerate(regions):
        p = ctx.price("secretsmanager:secret", region)
        item = "secret" if i == 0 else f"replica in {region}"
        if p is None:
            out.append(ctx.missing(item, "Secrets Manager secret", "Secrets Manager", region))
        else:
            out.append(
                Charge(
                    item, p.usd, f"Secrets Manager {item} {p.text} {p.unit} × 1; API requests not modelled"
                )
            )
    return out


def metric_alarm(r: Res, ctx: Context) -> list[Charge]:
    """Per alarm metric; high resolution when the period is under 60 s."""
    queries = [q for q in _list(r.get("metricQueries")) if isinstance(_dig(q, "metric"), Mapping)]
    metrics = len(queries) or 1
    periods = [_number(_dig(q, "metric", "period")) for q in queries] or [r.num("period")]
    high = any(p is not None and p < 60 for p in periods)
    key, label = (
        ("cloudwatch:alarm:high-resolution", "high-resolution")
        if high
        else (
            "cloudwatch:alarm:standard",
            "standard-resolution",
        )
    )
    p = ctx.price(key, r.region)
    if p is None:
        return [ctx.missing("alarm", f"CloudWatch {label} alarm", "CloudWatch", r.region)]
    return [
        Charge("alarm", p.usd * metrics, f"CloudWatch {label} alarm {p.text} {p.unit} × {metrics} metric")
    ]


def log_group(r: Res, ctx: Context) -> list[Charge]:
    """Ingestion: the logGbPerMonth assumption split evenly over the log groups."""
    share = ctx.usage.log_gb_per_month / max(ctx.log_groups, 1)
    p = ctx.price("cloudwatch:logs:ingestion", r.region)
    if p is None:
        return [ctx.missing("ingestion", "CloudWatch Logs ingestion", "CloudWatch", r.region)]
    return [
        Charge(
            "ingestion",
            p.usd * share,
            f"CloudWatch Logs ingestion {p.text} {p.unit} × {fmt(share)} GB (logGbPerMonth "
            f"{fmt(ctx.usage.log_gb_per_month)} split evenly over {ctx.log_groups} log groups); "
            "storage not modelled",
        )
    ]


def log_metric_filter(r: Res, ctx: Context) -> list[Charge]:
    """A metric filter publishes a custom metric, billed per metric-month."""
    p = ctx.price("cloudwatch:metric", r.region)
    if p is None:
        return [ctx.missing("metric", "CloudWatch custom metric", "CloudWatch", r.region)]
    return [Charge("metric", p.usd, f"custom metric from the filter {p.text} {p.unit} × 1")]


def sns_topic(r: Res, ctx: Context) -> list[Charge]:
    """Topics have no fixed charge."""
    return [
        free("SNS topics have no fixed price; requests and deliveries beyond the free tiers are not modelled")
    ]


def s3_bucket(r: Res, ctx: Context) -> list[Charge]:
    """Expected stored GB (backupGbPerStore) at S3 Standard in the bucket's region."""
    gb = ctx.usage.backup_gb_per_store
    p = ctx.price("s3:storage:standard", r.region)
    if p is None:
        return [ctx.missing("storage", "S3 Standard storage", "S3", r.region)]
    return [
        Charge(
            "storage",
            p.usd * gb,
            f"S3 Standard {p.text} {p.unit} × {fmt(gb)} GB (backupGbPerStore; lifecycle tiers and requests "
            "not modelled, so an upper bound)",
        )
    ]


def bucket_replication(r: Res, ctx: Context) -> list[Charge]:
    """S3 cross-region replication: transfer of this config's share, from the source bucket's region."""
    return [ctx.transfer_charge(r.region, "S3 replication to the DR bucket")]


def ssm_parameter(r: Res, ctx: Context) -> list[Charge]:
    """Standard parameters are free; advanced ones are not in the table."""
    tier = r.text("tier") or "Standard"
    if tier == "Standard":
        return [free("standard-tier SSM parameter")]
    return [ctx.missing("parameter", f"SSM {tier} parameter", "SSM", r.region)]


# ---------------------------------------------------------------------------------------------
# Kubernetes objects: free, except volumes they claim from EBS and load balancers they create
# ---------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?\s*$")
_BYTES = {
    None: 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}


def quantity_gib(value: Any) -> float | None:
    """A Kubernetes storage quantity (``200Gi``, ``1Ti``, ``500G``) in GiB."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 2**30
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if not match:
        return None
    return float(match.group(1)) * _BYTES[match.group(2)] / 2**30


def _claim_charges(ctx: Context, spec: Any, count: float, what: str) -> list[Charge]:
    size = quantity_gib(_dig(spec, "resources", "requests", "storage"))
    class_name = _dig(spec, "storageClassName")
    if not isinstance(class_name, str):
        class_name = ctx.default_storage_class
    if size is None:
        return [Charge("storage", None, f"{what}: storage request not readable")]
    if class_name is None:
        return [
            Charge("storage", None, f"{what}: no storageClassName and no default StorageClass in the program")
        ]
    storage_class = ctx.storage_classes.get(class_name)
    region = ctx.region
    if storage_class is None:
        return [
            Charge(
                "storage",
                None,
                f"{what}: StorageClass {class_name} is not in the program, so its volume type is unknown",
            )
        ]
    provisioner = storage_class.text("provisioner") or ""
    if provisioner not in EBS_PROVISIONERS:
        return [
            Charge(
                "storage", None, f"{what}: StorageClass {class_name} provisioner {provisioner!r} is not EBS"
            )
        ]
    params = storage_class.get("parameters") or {}
    vtype = _dig(params, "type")
    vtype = vtype if isinstance(vtype, str) else ("gp3" if provisioner == "ebs.csi.aws.com" else "gp2")
    return ebs_charges(
        ctx,
        region,
        f"{what} (StorageClass {class_name}; EBS in the cluster region {region})",
        size_gb=size,
        volume_type=vtype,
        iops=_number(_dig(params, "iops")),
        throughput=_number(_dig(params, "throughput")),
        count=count,
        count_text="replicas" if count != 1 else "",
    )


def k8s_stateful_set(r: Res, ctx: Context) -> list[Charge]:
    """Free object; its volumeClaimTemplates create one EBS volume per replica."""
    templates = _list(r.get("spec", "volumeClaimTemplates"))
    if not templates:
        return [free("Kubernetes object (runs on the priced nodes)")]
    replicas = r.num("spec", "replicas")
    count = replicas if replicas is not None else 1.0
    out: list[Charge] = []
    for template in templates:
        claim = _dig(template, "metadata", "name") or "claim"
        out += _claim_charges(ctx, _dig(template, "spec"), count, f"volumeClaimTemplate {claim}")
    return out


def k8s_pvc(r: Res, ctx: Context) -> list[Charge]:
    """A standalone claim: one EBS volume."""
    return _claim_charges(ctx, r.get("spec"), 1, "PersistentVolumeClaim")


def k8s_service(r: Res, ctx: Context) -> list[Charge]:
    """Free unless it is of type LoadBalancer (an AWS load balancer whose kind the controller picks)."""
    if (r.text("spec", "type") or "ClusterIP") == "LoadBalancer":
        return [
            Charge(
                "load balancer",
                None,
                "Service type LoadBalancer provisions an AWS load balancer whose kind depends on the "
                "controller and annotations; not priced",
            )
        ]
    return [free("Kubernetes object (runs on the priced nodes)")]


def helm_release(r: Res, ctx: Context) -> list[Charge]:
    """A chart's volumes and load balancers are not visible in its inputs."""
    return [
        Charge(
            "chart",
            None,
            "Helm chart: volumes and load balancers it creates are not visible in the inputs; "
            "price them separately",
        )
    ]


# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------

RULES: dict[str, Rule] = {
    RDS_INSTANCE: rds_instance,
    BACKUPS_REPLICATION: rds_backups_replication,
    "aws:elasticache/replicationGroup:ReplicationGroup": elasticache_replication_group,
    "aws:elasticache/cluster:Cluster": elasticache_cluster,
    "aws:eks/cluster:Cluster": eks_cluster,
    NODE_GROUP: eks_node_group,
    EC2_INSTANCE: ec2_instance,
    "aws:ebs/volume:Volume": ebs_volume,
    LAUNCH_TEMPLATE: launch_template,
    NAT_GATEWAY: nat_gateway,
    "aws:ec2/vpcEndpoint:VpcEndpoint": vpc_endpoint,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "aws:ec2/eip:Eip": eip,
    "aws:kms/key:Key": kms_key,
    "aws:kms/replicaKey:ReplicaKey": kms_key,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    LOG_GROUP: log_group,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": log_metric_filter,
    "aws:sns/topic:Topic": sns_topic,
    "aws:s3/bucket:Bucket": s3_bucket,
    "aws:s3/bucketV2:BucketV2": s3_bucket,
    REPLICATION_CONFIG: bucket_replication,
    "aws:ssm/parameter:Parameter": ssm_parameter,
    "kubernetes:apps/v1:StatefulSet": k8s_stateful_set,
    "kubernetes:core/v1:PersistentVolumeClaim": k8s_pvc,
    "kubernetes:core/v1:Service": k8s_service,
    "kubernetes:helm.sh/v3:Release": helm_release,
    "kubernetes:helm.sh/v4:Chart": helm_release,
    "kubernetes:helm.sh/v3:Chart": helm_release,
}
"""Resource types with a pricing rule."""

_NETWORK = "VPC networking construct"
FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": _NETWORK,
    "aws:ec2/subnet:Subnet": _NETWORK,
    "aws:ec2/routeTable:RouteTable": _NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _NETWORK,
    "aws:ec2/route:Route": _NETWORK,
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation": _NETWORK,
    "aws:ec2/defaultRouteTable:DefaultRouteTable": _NETWORK,
    "aws:ec2/networkAcl:NetworkAcl": _NETWORK,
    "aws:ec2/networkAclRule:NetworkAclRule": _NETWORK,
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": _NETWORK,
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": _NETWORK,
    "aws:ec2/vpcDhcpOptions:VpcDhcpOptions": _NETWORK,
    "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation": _NETWORK,
    "aws:ec2/internetGateway:InternetGateway": "internet gateway (traffic is billed as data transfer)",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "egress-only internet gateway",
    "aws:ec2/securityGroup:SecurityGroup": "security group",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "security group",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "security group rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security group rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security group rule",
    "aws:ec2/flowLog:FlowLog": "the flow log itself; its logs are CloudWatch Logs ingestion (logGbPerMonth)",
    "aws:ec2/volumeAttachment:VolumeAttachment": "attachment (the volume is priced)",
    "aws:ec2/keyPair:KeyPair": "key pair",
    "aws:ec2/placementGroup:PlacementGroup": "placement group",
    "aws:ebs/encryptionByDefault:EncryptionByDefault": "account setting",
    "aws:ebs/defaultKmsKey:DefaultKmsKey": "account setting",
    "aws:kms/alias:Alias": "KMS alias",
    "aws:kms/keyPolicy:KeyPolicy": "key policy",
    "aws:kms/grant:Grant": "KMS grant",
    "aws:rds/subnetGroup:SubnetGroup": "DB subnet group",
    "aws:rds/parameterGroup:ParameterGroup": "DB parameter group",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": "DB parameter group",
    "aws:rds/optionGroup:OptionGroup": "DB option group",
    "aws:rds/roleAssociation:RoleAssociation": "IAM role association",
    "aws:elasticache/subnetGroup:SubnetGroup": "cache subnet group",
    "aws:elasticache/parameterGroup:ParameterGroup": "cache parameter group",
    "aws:elasticache/user:User": "ElastiCache RBAC user",
    "aws:elasticache/userGroup:UserGroup": "ElastiCache RBAC user group",
    "aws:elasticache/userGroupAssociation:UserGroupAssociation": "ElastiCache RBAC association",
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": "account setting",
    "aws:secretsmanager/secretVersion:SecretVersion": "secret version (the secret is priced)",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "resource policy",
    "aws:sns/topicSubscription:TopicSubscription": "subscription (deliveries beyond free tiers not modelled)",
    "aws:sns/topicPolicy:TopicPolicy": "topic policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "resource policy",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": "subscription filter (destination billed)",
    "aws:eks/addon:Addon": "EKS add-on (its pods run on the priced nodes)",
    "aws:eks/accessEntry:AccessEntry": "EKS access entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "EKS access policy association",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "EKS pod identity association",
    "aws:eks/identityProviderConfig:IdentityProviderConfig": "EKS identity provider config",
    "aws:codebuild/project:Project": "no charge while idle; each GitHub Actions job on the runner is billed "
    "per build-minute of its compute type (usage not modelled)",
    "aws:codebuild/webhook:Webhook": "webhook (builds are billed on the project's build-minutes)",
}
"""Resource types that cost nothing, with the reason shown in the basis."""

_BUCKET_SIDE = re.compile(r"^aws:s3/bucket[A-Za-z0-9]*:")
_PRICED_S3 = frozenset(
    {
        *BUCKET_TYPES,
        REPLICATION_CONFIG,
        "aws:s3/bucketObject:BucketObject",
        "aws:s3/bucketObjectv2:BucketObjectv2",
    }
)

FREE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pulumi:providers:", "Pulumi provider configuration"),
    ("aws:iam/", "IAM is free"),
    ("random:", "generated by Pulumi, not an AWS resource"),
    ("tls:", "generated by Pulumi, not an AWS resource"),
    ("docker:", "local Docker resource"),
    ("kubernetes:", "Kubernetes object (runs on the priced nodes)"),
)
"""Type prefixes that cost nothing (checked after :data:`RULES` and :data:`FREE`)."""


def charges_for(r: Res, ctx: Context) -> list[Charge]:
    """All charges of one custom resource; an unknown type is unpriced with that reason."""
    rule = RULES.get(r.type)
    if rule is not None:
        return rule(r, ctx)
    reason = FREE.get(r.type)
    if reason is not None:
        return [free(reason)]
    if _BUCKET_SIDE.match(r.type) and r.type not in _PRICED_S3:
        return [free("bucket configuration (storage is priced on the bucket)")]
    for prefix, why in FREE_PREFIXES:
        if r.type.startswith(prefix):
            return [free(why)]
    return [Charge("unknown", None, f"the cost model has no rule for resource type {r.type}")]
