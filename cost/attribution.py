"""Which top-level component a resource's cost belongs to.

A resource belongs to the top-level component above it (walking ``parent``), or to the stack
when it has none. One exception: an EKS node group belongs to the store whose pods it runs, so a
store costs the same kind of thing on every stack (EC2 instances in dev, nodes in production) and
``--compare-to`` compares like with like. The store is read from the node group's ``workload``
label (or tag, or node group name), cut at the first ``-`` — ``graph``,
``graph-secondary`` and a per-AZ ``graph-us-east-1a`` all belong to ``graph`` — and matched to a
top-level component of that name or type (``data-platform:aws:Graph``). A group whose workload
names no component (``system``) stays with the component that declares it (the EKS cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cost.rules.base import NODE_GROUP, Res

STACK_TYPE = "pulumi:pulumi:Stack"

WORKLOAD_KEYS = ("workload", "data-platform/workload", "store")
"""Label/tag keys naming the workload a node group runs, in order of preference."""

ALIASES = {"neo4j": "graph", "qdrant": "vector"}
"""Workload names that are another name of a store component."""


def is_stack_urn(urn: str) -> bool:
    return f"::{STACK_TYPE}::" in urn


def stack_urn_for(urn: str) -> str:
    """The URN of the stack resource of ``urn``'s stack: ``urn:pulumi:S::P::pulumi:pulumi:Stack::P-S``."""
    parts = urn.split("::")
    stack = parts[0].removeprefix("urn:pulumi:")
    project = parts[1] if len(parts) > 1 else ""
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


@dataclass(frozen=True)
class Owner:
    """The component a resource's cost is attributed to, and why when it is not its parent chain."""

    component: str
    note: str = ""


def top_level(resources: Sequence[Res]) -> tuple[dict[str, str], list[str]]:
    """(resource urn → top-level component urn, top-level component urns in order).

    Walks ``parent`` up to the resource whose parent is null or the stack. When that resource is a
    component (custom=false) it is the top-level component; when it is a custom resource, the
    resource belongs to the stack itself and is attributed to the stack URN.
    """
    by_urn = {r.urn: r for r in resources}
    top: dict[str, str] = {}

    def resolve(r: Res, seen: frozenset[str]) -> str:
        known = top.get(r.urn)
        if known is not None:
            return known
        parent = r.parent
        if parent and not is_stack_urn(parent) and parent in by_urn and parent not in seen:
            result = resolve(by_urn[parent], seen | {r.urn})
        elif r.custom or r.type == STACK_TYPE:
            result = parent if parent and is_stack_urn(parent) else stack_urn_for(r.urn)
        else:
            result = r.urn
        top[r.urn] = result
        return result

    for r in resources:
        resolve(r, frozenset())
    components = [r.urn for r in resources if not r.custom and r.type != STACK_TYPE and top[r.urn] == r.urn]
    return top, components


def workload_of(r: Res) -> tuple[str, str] | None:
    """(workload, where it was read) of a node group, or None."""
    for source in ("labels", "tags"):
        for key in WORKLOAD_KEYS:
            value = r.text(source, key)
            if value:
                return value, f"{source[:-1]} {key}={value}"
    name = r.text("nodeGroupName") or r.text("nodeGroupNamePrefix")
    if name:
        return name, f"node group name {name}"
    return None


def _component_named(family: str, components: Sequence[str]) -> str | None:
    for urn in components:
        name = urn.rsplit("::", 1)[-1]
        type_token = urn.split("::")[-2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""
        if name == family or type_token.rsplit(":", 1)[-1].lower() == family:
            return urn
    return None


def owner(r: Res, top: dict[str, str], components: Sequence[str]) -> Owner:
    """The component ``r``'s cost belongs to."""
    default = Owner(top.get(r.urn) or stack_urn_for(r.urn))
    if r.type != NODE_GROUP:
        return default
    found = workload_of(r)
    if found is None:
        return default
    workload, where = found
    family = workload.split("-", 1)[0].lower()
    family = ALIASES.get(family, family)
    store = _component_named(family, components)
    if store is None or store == default.component:
        return default
    return Owner(store, f"attributed to {store.rsplit('::', 1)[-1]}: it runs that store's pods ({where})")
