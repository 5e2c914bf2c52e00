"""Kubernetes objects: free (they run on the priced nodes), except the EBS volumes their claims
create (priced from the StorageClass in the program) and load balancers (whose kind depends on
the controller: unpriced)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cost.rules.base import Charge, Context, Res, as_list, dig, free, number, truthy, unknown
from cost.rules.compute import ebs_charges

STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SERVICE = "kubernetes:core/v1:Service"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
HELM = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})

PRICE_KEYS: tuple[str, ...] = ()
"""Volumes use the EBS rows of :mod:`cost.rules.compute`."""

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?\s*$")
_BYTES = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_FREE = "Kubernetes object (runs on the priced nodes)"


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


def _storage_classes(ctx: Context) -> tuple[dict[str, Res], str | None]:
    classes: dict[str, Res] = {}
    default: str | None = None
    for r in ctx.of_type(STORAGE_CLASS):
        name = r.text("metadata", "name") or r.name
        classes[name] = r
        annotations = r.get("metadata", "annotations") or {}
        if isinstance(annotations, Mapping) and truthy(annotations.get("storageclass.kubernetes.io/is-default-class")):
            default = name
    return classes, default


def _claim(ctx: Context, spec: Any, count: float, what: str) -> list[Charge]:
    size = quantity_gib(dig(spec, "resources", "requests", "storage"))
    classes, default = _storage_classes(ctx)
    class_name = dig(spec, "storageClassName")
    if not isinstance(class_name, str):
        class_name = default
    if size is None:
        return [unknown("storage", f"{what}: storage request not readable")]
    if class_name is None:
        return [unknown("storage", f"{what}: no storageClassName and no default StorageClass in the program")]
    storage_class = classes.get(class_name)
    if storage_class is None:
        return [unknown("storage", f"{what}: StorageClass {class_name} is not in the program, so its volume type "
                                   "is unknown")]
    provisioner = storage_class.text("provisioner") or ""
    if provisioner not in EBS_PROVISIONERS:
        return [unknown("storage", f"{what}: StorageClass {class_name} provisioner {provisioner!r} is not EBS")]
    params = storage_class.get("parameters") or {}
    vtype = dig(params, "type")
    vtype = vtype if isinstance(vtype, str) else ("gp3" if provisioner == "ebs.csi.aws.com" else "gp2")
    return ebs_charges(ctx, ctx.region, f"{what} (StorageClass {class_name}; EBS in the cluster region {ctx.region})",
                       size_gb=size, volume_type=vtype, iops=number(dig(params, "iops")),
                       throughput=number(dig(params, "throughput")), count=count,
                       count_text="replicas" if count != 1 else "")


def stateful_set(r: Res, ctx: Context) -> list[Charge]:
    """Free object; its volumeClaimTemplates create one EBS volume per replica."""
    templates = as_list(r.get("spec", "volumeClaimTemplates"))
    if not templates:
        return [free(_FREE)]
    replicas = r.num("spec", "replicas")
    count = replicas if replicas is not None else 1.0
    out: list[Charge] = []
    for template in templates:
        claim = dig(template, "metadata", "name") or "claim"
        out += _claim(ctx, dig(template, "spec"), count, f"volumeClaimTemplate {claim}")
    return out


def pvc(r: Res, ctx: Context) -> list[Charge]:
    """A standalone claim: one EBS volume."""
    return _claim(ctx, r.get("spec"), 1, "PersistentVolumeClaim")


def service(r: Res, ctx: Context) -> list[Charge]:
    """Free unless it is of type LoadBalancer (an AWS load balancer whose kind the controller picks)."""
    if (r.text("spec", "type") or "ClusterIP") == "LoadBalancer":
        return [unknown("load balancer", "Service type LoadBalancer provisions an AWS load balancer whose kind "
                                         "depends on the controller and annotations; not priced")]
    return [free(_FREE)]


def helm(r: Res, ctx: Context) -> list[Charge]:
    """A chart's volumes and load balancers are not visible in its inputs."""
    return [unknown("chart", "Helm chart: volumes and load balancers it creates are not visible in the inputs; "
                             "price them separately")]


RULES = {STATEFUL_SET: stateful_set, PVC: pvc, SERVICE: service, **dict.fromkeys(HELM, helm)}
