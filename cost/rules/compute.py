"""Compute: the EKS control plane, managed node groups, EC2 instances, their EBS volumes (from
inputs or launch templates) and EC2 detailed monitoring.

Node groups are priced at ``scalingConfig.desiredSize``; EBS gp3 includes 3,000 IOPS / 125 MiBps.
Detailed monitoring (1-minute metrics) bills 7 EC2 metrics per instance as custom metrics, the way
the table's metric price was derived (Infracost's "EC2 detailed monitoring" line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cost.rules.base import (
    EC2_INSTANCE,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    Charge,
    Context,
    H,
    Res,
    as_list,
    dig,
    fmt,
    free,
    number,
    truthy,
    unknown,
)

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EBS_VOLUME = "aws:ebs/volume:Volume"

INSTANCE_KEY = "ec2:instance:{type}"
"""Key of an EC2 instance-type row (Linux, on-demand, shared tenancy)."""

DETAILED_MONITORING_METRICS = 7
"""Metrics EC2 detailed monitoring publishes per instance (CPU, disk and network)."""

PRICE_KEYS = (
    "eks:cluster:standard",
    "eks:cluster:extended",
    *(f"ebs:storage:{t}" for t in ("gp2", "gp3", "io1")),
    "ebs:iops:gp3",
    "ebs:iops:io1",
    "ebs:throughput:gp3",
    "cloudwatch:metric",
)


def template_of(r: Res, ctx: Context) -> Res | None:
    """The launch template ``r`` depends on, if any."""
    return ctx.dependency(r, LAUNCH_TEMPLATE)


# ---------------------------------------------------------------------------------------------
# EBS
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
    """Storage, IOPS and throughput of ``count`` identical volumes (gp3 above 3,000 / 125 baseline)."""
    times = f" × {fmt(count)} {count_text}".rstrip() if count != 1 else ""
    if size_gb is None:
        return [unknown("storage", f"{label}: volume size not set in inputs (AMI or snapshot default)")]
    if volume_type is None:
        return [unknown("storage", f"{label}: volume type not set in inputs (AMI default)")]
    vtype = volume_type.lower()
    out = [
        ctx.per_unit(
            "storage", f"ebs:storage:{vtype}", region, size_gb * count,
            f"{label}: EBS {vtype} {fmt(size_gb)} GB × {{price}}{times}",
            what=f"EBS {vtype} storage", service="EBS",
        )
    ]
    if vtype == "gp3":
        if iops is not None and iops > 3000:
            out.append(ctx.per_unit(
                "iops", "ebs:iops:gp3", region, (iops - 3000) * count,
                f"{label}: gp3 {fmt(iops)} IOPS − 3,000 baseline = {fmt(iops - 3000)} × {{price}}{times}",
                what="EBS gp3 IOPS above baseline", service="EBS",
            ))
        if throughput is not None and throughput > 125:
            out.append(ctx.per_unit(
                "throughput", "ebs:throughput:gp3", region, (throughput - 125) * count,
                f"{label}: gp3 {fmt(throughput)} MiBps − 125 baseline = {fmt(throughput - 125)} × {{price}}{times}",
                what="EBS gp3 throughput above baseline", service="EBS",
            ))
    elif vtype == "io1":
        if iops is None:
            out.append(unknown("iops", f"{label}: io1 volume without iops in inputs"))
        else:
            out.append(ctx.per_unit(
                "iops", "ebs:iops:io1", region, iops * count,
                f"{label}: io1 {fmt(iops)} IOPS × {{price}}{times}",
                what="EBS io1 provisioned IOPS", service="EBS",
            ))
    return out


def _block_device(device: Any) -> tuple[float | None, str | None, float | None, float | None]:
    vtype = dig(device, "volumeType")
    return (
        number(dig(device, "volumeSize")),
        vtype if isinstance(vtype, str) else None,
        number(dig(device, "iops")),
        number(dig(device, "throughput")),
    )


def template_volumes(ctx: Context, template: Res, region: str, count: float, count_text: str) -> list[Charge]:
    """The EBS volumes of a launch template's block device mappings, for ``count`` instances."""
    out: list[Charge] = []
    for mapping in as_list(template.get("blockDeviceMappings")):
        ebs = dig(mapping, "ebs")
        if not isinstance(ebs, Mapping):
            continue
        size, vtype, iops, throughput = _block_device(ebs)
        device = dig(mapping, "deviceName") or "volume"
        out += ebs_charges(ctx, region, f"{device} from launch template {template.name}", size_gb=size,
                           volume_type=vtype, iops=iops, throughput=throughput, count=count, count_text=count_text)
    return out


def _detailed_monitoring(ctx: Context, region: str, instances: float, why: str) -> Charge:
    metrics = DETAILED_MONITORING_METRICS * instances
    return ctx.per_unit(
        "detailed monitoring", "cloudwatch:metric", region, metrics,
        f"EC2 detailed monitoring ({why}): {DETAILED_MONITORING_METRICS} metrics × {fmt(instances)} "
        "instances = {qty} metrics × {price}",
        what="CloudWatch metric (EC2 detailed monitoring)", service="CloudWatch",
    )


# ---------------------------------------------------------------------------------------------
# EKS
# ---------------------------------------------------------------------------------------------


def eks_cluster(r: Res, ctx: Context) -> list[Charge]:
    """Control plane per hour (standard support); notes extended support and paid add-ons."""
    version = r.text("version") or "default"
    support = (r.text("upgradePolicy", "supportType") or "").upper()
    if support == "STANDARD":
        note = "upgradePolicy.supportType STANDARD: upgraded automatically, never billed extended support"
    else:
        extended = ctx.price("eks:cluster:extended", r.region)
        rate = f" ({extended.text} {extended.short_unit})" if extended else ""
        note = (f"upgradePolicy.supportType {support or 'not set (EXTENDED)'}: once version {version} "
                f"leaves standard support the extended-support rate{rate} applies")
    out = [ctx.per_unit("control plane", "eks:cluster:standard", r.region, H,
                        f"EKS control plane {{price}} × {{qty}} h ({note})",
                        what="EKS cluster control plane", service="EKS")]
    tier = (r.text("controlPlaneScalingConfig", "tier") or "standard").lower()
    if tier != "standard":
        out.append(ctx.missing("control plane tier", f"EKS provisioned control plane {tier}", "EKS", r.region))
    if truthy(r.get("computeConfig", "enabled")):
        out.append(ctx.missing("auto mode", "EKS Auto Mode management fee", "EKS", r.region))
    return out


def eks_node_group(r: Res, ctx: Context) -> list[Charge]:
    """Desired size × instance price, plus per-node volumes and detailed monitoring from the launch
    template."""
    desired = r.num("scalingConfig", "desiredSize")
    if desired is None:
        return [unknown("instances", "scalingConfig.desiredSize not set in inputs")]
    template = template_of(r, ctx)
    types = [t for t in as_list(r.get("instanceTypes")) if isinstance(t, str)]
    if not types and template is not None and template.text("instanceType"):
        types = [str(template.text("instanceType"))]
    out: list[Charge] = []
    if not types:
        out.append(unknown("instances", "instanceTypes not set (EKS default type); no instance type to price"))
    elif (r.text("capacityType") or "ON_DEMAND").upper() != "ON_DEMAND":
        out.append(ctx.missing("instances", f"{types[0]} {r.text('capacityType')} capacity", "EC2", r.region))
    else:
        more = f"; priced at the first of {', '.join(types)}" if len(types) > 1 else ""
        out.append(ctx.per_unit(
            "instances", INSTANCE_KEY.format(type=types[0]), r.region, H * desired,
            f"{types[0]} {{price}} × {H} h × {fmt(desired)} nodes (scalingConfig.desiredSize){more}",
            what=f"EC2 {types[0]} Linux on-demand", service="EC2",
        ))
    if template is not None:
        out += template_volumes(ctx, template, r.region, desired, "nodes")
        if truthy(template.get("monitoring", "enabled")):
            out.append(_detailed_monitoring(ctx, r.region, desired, f"launch template {template.name}"))
    elif r.num("diskSize") is not None:
        out.append(unknown("storage", f"diskSize {fmt(r.num('diskSize') or 0)} GB × {fmt(desired)} nodes: the "
                                      "volume type is chosen by EKS (not an input); set it in a launch template"))
    else:
        out.append(unknown("storage", "node root volumes use the EKS default size and type (not in inputs); "
                                      "set them in a launch template to price them"))
    return out


# ---------------------------------------------------------------------------------------------
# EC2
# ---------------------------------------------------------------------------------------------


def ec2_instance(r: Res, ctx: Context) -> list[Charge]:
    """Linux on-demand instance-hours, root and EBS block devices, detailed monitoring."""
    template = template_of(r, ctx)
    itype = r.text("instanceType") or (template.text("instanceType") if template else None)
    out: list[Charge] = []
    if itype is None:
        out.append(unknown("instance", "instanceType not set in inputs or launch template"))
    elif (r.text("tenancy") or "default") != "default" or r.get("instanceMarketOptions") is not None:
        out.append(ctx.missing("instance", f"EC2 {itype} with tenancy/market options", "EC2", r.region))
    else:
        out.append(ctx.per_unit("instance", INSTANCE_KEY.format(type=itype), r.region, H,
                                f"{itype} Linux {{price}} × {{qty}} h",
                                what=f"EC2 {itype} Linux on-demand", service="EC2"))
    root = r.get("rootBlockDevice")
    if isinstance(root, Mapping):
        size, vtype, iops, throughput = _block_device(root)
        out += ebs_charges(ctx, r.region, "root volume", size_gb=size, volume_type=vtype, iops=iops,
                           throughput=throughput)
    elif template is None:
        out.append(unknown("storage", "root volume: size and type come from the AMI (not in inputs)"))
    for device in as_list(r.get("ebsBlockDevices")):
        size, vtype, iops, throughput = _block_device(device)
        name = str(dig(device, "deviceName") or "EBS block device")
        if vtype is None:
            name += " (volumeType not set: provider default gp2)"
        out += ebs_charges(ctx, r.region, name, size_gb=size, volume_type=vtype or "gp2", iops=iops,
                           throughput=throughput)
    if template is not None:
        out += template_volumes(ctx, template, r.region, 1, "")
    if truthy(r.get("monitoring")) or (template is not None and truthy(template.get("monitoring", "enabled"))):
        out.append(_detailed_monitoring(ctx, r.region, 1, "monitoring on"))
    return out


def ebs_volume(r: Res, ctx: Context) -> list[Charge]:
    """A standalone EBS volume (type defaults to gp2, as in the provider)."""
    vtype = r.text("type")
    label = "volume" if vtype else "volume (type not set: provider default gp2)"
    return ebs_charges(ctx, r.region, label, size_gb=r.num("size"), volume_type=vtype or "gp2",
                       iops=r.num("iops"), throughput=r.num("throughput"))


def launch_template(r: Res, ctx: Context) -> list[Charge]:
    """No charge itself; its volumes are priced on the node groups/instances that use it."""
    users = [u.name for u in ctx.of_type(NODE_GROUP, EC2_INSTANCE) if (t := template_of(u, ctx)) and t.urn == r.urn]
    if users:
        return [free(f"a template; its volumes are priced on {', '.join(users)}")]
    return [free("a template; no instance or node group in the program uses it")]


RULES = {
    EKS_CLUSTER: eks_cluster,
    NODE_GROUP: eks_node_group,
    EC2_INSTANCE: ec2_instance,
    EBS_VOLUME: ebs_volume,
    LAUNCH_TEMPLATE: launch_template,
}
