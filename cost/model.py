"""Cost model: price recorded resources, sum them by top-level component, compare two stacks.

    from cost.model import estimate, compare, CostReport, CostLine

``estimate(resources, region=..., usage=...)`` takes resources in the review's JSON contract
(architecture §7: ``urn``, ``type``, ``custom``, ``parent``, ``inputs`` in camelCase, ...) and
returns a :class:`CostReport`. Each billable part of a resource is one :class:`CostLine` whose
``basis`` states the formula with its numbers; free resources get a line with ``monthly`` 0.0 and a
basis starting ``no charge:``; anything that cannot be priced goes to ``unpriced`` with the reason
(``monthly`` None). One unpriced line makes the whole estimate **unknown** (``verdict``): its
``monthly_total`` is then only the sum of what could be priced, never a total with zeros in it.
Costs roll up by top-level component (``cost.attribution``: EKS node groups go to the store whose
pods they run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cost.attribution import STACK_TYPE, owner, stack_urn_for, top_level
from cost.prices import HOURS_PER_MONTH, PriceTable, load_prices
from cost.rules import Context, Res, charges_for
from cost.usage import Usage

__all__ = [
    "HOURS_PER_MONTH",
    "ComponentDelta",
    "CostLine",
    "CostReport",
    "Usage",
    "compare",
    "component_key",
    "estimate",
    "stack_urn_for",
]

PRICED = "priced"
"""Verdict of an estimate whose every line is priced or free."""
UNKNOWN = "unknown"
"""Verdict of an estimate with at least one unpriced line."""


@dataclass(frozen=True)
class CostLine:
    """One priced part of one resource (several lines may share a URN: instance, storage, IOPS ...)."""

    urn: str
    type: str
    monthly: float | None
    """USD per month (rounded to cents); 0.0 for free resources; None when unpriced."""
    basis: str
    """Human-readable formula with its numbers, ``no charge: ...``, or why it is unpriced."""
    component: str | None = None
    """URN of the top-level component the resource belongs to (the stack URN for top-level resources)."""
    item: str = ""
    """Which part of the resource: ``instance``, ``storage``, ``iops``, ``nodes``, ``no charge`` ..."""

    def to_json(self) -> dict[str, Any]:
        """The §7 ``cost.lines`` entry (plus ``item`` and ``component``)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "monthly": self.monthly,
            "basis": self.basis,
            "item": self.item,
            "component": self.component,
        }


@dataclass(frozen=True)
class CostReport:
    """The priced stack."""

    monthly_total: float
    """Sum of ``lines`` (USD/month). With unpriced parts (verdict unknown) it is only what could be
    priced: a lower bound, never the stack's cost."""
    lines: list[CostLine]
    """Priced and free lines, in resource order."""
    by_component: dict[str, float]
    """Sum of lines per top-level component URN; every top-level component appears, even at 0."""
    unpriced: list[CostLine]
    """Parts the table cannot price (``monthly`` None, ``basis`` says why)."""
    currency: str = "USD"
    region: str = ""
    """Stack region used for resources without ``inputs.region``."""
    usage: Usage = field(default_factory=Usage)
    """Usage assumptions that were priced."""

    @property
    def verdict(self) -> str:
        """``priced`` when every line is priced or free, else ``unknown``."""
        return UNKNOWN if self.unpriced else PRICED

    @property
    def complete(self) -> bool:
        """True when the total is the stack's cost (no unpriced line)."""
        return not self.unpriced

    def to_json(self) -> dict[str, Any]:
        """The §7 ``cost`` object; ``budget`` is the caller's, ``verdict``/``unpriced``/``usage`` are additions."""
        return {
            "currency": self.currency,
            "verdict": self.verdict,
            "monthly_total": self.monthly_total,
            "by_component": dict(self.by_component),
            "lines": [line.to_json() for line in self.lines],
            "unpriced": [line.to_json() for line in self.unpriced],
            "region": self.region,
            "usage": self.usage.to_json(),
            "hours_per_month": HOURS_PER_MONTH,
        }


# ---------------------------------------------------------------------------------------------
# estimate
# ---------------------------------------------------------------------------------------------


def estimate(
    resources: Sequence[Mapping[str, Any]],
    *,
    region: str,
    usage: Mapping[str, float] | None = None,
    prices: PriceTable | None = None,
) -> CostReport:
    """Price ``resources`` (§7 contract) deployed in stack region ``region``.

    ``usage`` holds the camelCase assumptions of ``cost.usage`` (``data-platform:usage``); missing
    keys take their defaults, unknown keys raise ValueError. ``prices`` defaults to the shipped
    table (loaded once per process).
    """
    table = prices if prices is not None else load_prices()
    assumptions = Usage.from_mapping(usage)
    views = [Res.from_mapping(resource, region) for resource in resources]
    ctx = Context.build(table, region, assumptions, views)
    top, components = top_level(views)

    lines: list[CostLine] = []
    unpriced: list[CostLine] = []
    by_component: dict[str, float] = dict.fromkeys(components, 0.0)
    for r in views:
        if not r.custom or r.type == STACK_TYPE:
            continue
        belongs = owner(r, top, components)
        component = belongs.component
        for charge in charges_for(r, ctx):
            monthly = None if charge.monthly is None else round(charge.monthly, 2)
            basis = f"{charge.basis}; {belongs.note}" if belongs.note and monthly else charge.basis
            line = CostLine(r.urn, r.type, monthly, basis, component, charge.item)
            if monthly is None:
                unpriced.append(line)
                continue
            lines.append(line)
            by_component[component] = by_component.get(component, 0.0) + monthly
    return CostReport(
        monthly_total=round(sum(line.monthly or 0.0 for line in lines), 2),
        lines=lines,
        by_component={urn: round(total, 2) for urn, total in by_component.items()},
        unpriced=unpriced,
        region=region,
        usage=assumptions,
    )


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------


class ComponentDelta(NamedTuple):
    """One row of :func:`compare`: unpacks as ``(name, a, b, delta)``."""

    name: str
    """Component name (``total`` for the last row)."""
    a: float
    """Monthly USD in the first report (0.0 when the component is absent there)."""
    b: float
    """Monthly USD in the second report (0.0 when absent there)."""
    delta: float
    """``b - a``."""


def component_key(urn: str) -> str:
    """A component URN without its stack name, so components of two stacks match.

    ``urn:pulumi:production::data-platform::data-platform:aws:Postgres::pg`` →
    ``data-platform::data-platform:aws:Postgres::pg``; the stack resource becomes
    ``<project>::pulumi:pulumi:Stack`` (its name contains the stack name).
    """
    body = urn.removeprefix("urn:pulumi:").split("::", 1)
    rest = body[1] if len(body) > 1 else body[0]
    if f"::{STACK_TYPE}::" in f"::{rest}":
        return rest.split("::", 1)[0] + "::" + STACK_TYPE
    return rest


def _display_names(keys: Sequence[str]) -> dict[str, str]:
    names = {key: key.rsplit("::", 1)[-1] for key in keys}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    for key, name in names.items():
        if key.endswith("::" + STACK_TYPE):
            names[key] = "(stack)"
        elif counts[name] > 1:
            type_token = key.split("::")[-2].rsplit("$", 1)[-1] if key.count("::") >= 2 else ""
            names[key] = f"{name} [{type_token}]"
    return names


def compare(a: CostReport, b: CostReport) -> list[ComponentDelta]:
    """Per-component monthly cost of two reports (components matched by stack-less URN), then ``total``.

    Components appear in ``a``'s order, then those only in ``b``.
    """
    left = {component_key(urn): value for urn, value in a.by_component.items()}
    right = {component_key(urn): value for urn, value in b.by_component.items()}
    keys = list(dict.fromkeys([*left, *right]))
    names = _display_names(keys)
    rows = [
        ComponentDelta(
            names[key],
            left.get(key, 0.0),
            right.get(key, 0.0),
            round(right.get(key, 0.0) - left.get(key, 0.0), 2),
        )
        for key in keys
    ]
    rows.append(
        ComponentDelta("total", a.monthly_total, b.monthly_total, round(b.monthly_total - a.monthly_total, 2))
    )
    return rows
