"""What every pricing rule shares: a read-only view of a recorded resource, the :class:`Charge` a
rule returns, and the :class:`Context` of one estimate (the price table, the stack region, the
usage assumptions and indexes over all resources).

A rule never invents a number: a missing row becomes an unpriced charge (``monthly`` None) that
names the row and where the table's prices of that service came from (:meth:`Context.missing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cost.prices import HOURS_PER_MONTH, Price, PriceTable
from cost.usage import DAYS_PER_MONTH, Usage

H = HOURS_PER_MONTH
DAYS = DAYS_PER_MONTH

# Resource types more than one rule module refers to.
RDS_INSTANCE = "aws:rds/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EC2_INSTANCE = "aws:ec2/instance:Instance"

# ---------------------------------------------------------------------------------------------
# Input helpers
# ---------------------------------------------------------------------------------------------


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``, or None where a step is missing."""
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


def number(value: Any) -> float | None:
    """A number from an int, float or numeric string; None otherwise (booleans too)."""
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


def truthy(value: Any) -> bool:
    """A provider boolean: True, or the string ``"true"``."""
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value) if isinstance(value, bool | int | float) else False


def as_list(value: Any) -> list[Any]:
    """A sequence input as a list (strings and scalars give [])."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def fmt(value: float) -> str:
    """A quantity for a basis: thousands separators, at most three decimals, no float noise."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------------------------
# A recorded resource
# ---------------------------------------------------------------------------------------------


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
        return dig(self.inputs, *path)

    def num(self, *path: str | int) -> float | None:
        """A nested numeric input, or None when absent or not a number."""
        return number(self.get(*path))

    def text(self, *path: str | int) -> str | None:
        """A nested string input, or None."""
        value = self.get(*path)
        return value if isinstance(value, str) and value else None

    def tag(self, key: str) -> str | None:
        """The value of tag ``key`` (``tags`` input), or None."""
        return self.text("tags", key)


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


def free(reason: str) -> Charge:
    """A resource that costs nothing, with the reason."""
    return Charge("no charge", 0.0, f"no charge: {reason}")


def unknown(item: str, why: str) -> Charge:
    """A part that cannot be priced for a reason other than a missing row (inputs, no assumption)."""
    return Charge(item, None, why)


Rule = Callable[["Res", "Context"], list[Charge]]

# ---------------------------------------------------------------------------------------------
# Context shared by the rules of one estimate
# ---------------------------------------------------------------------------------------------


@dataclass
class Context:
    """What the rules of one estimate need beyond the resource itself."""

    table: PriceTable
    region: str
    """The stack region (``aws:region``)."""
    usage: Usage
    by_urn: dict[str, Res]
    by_type: dict[str, list[Res]] = field(default_factory=dict)

    @classmethod
    def build(cls, table: PriceTable, region: str, usage: Usage, resources: Sequence[Res]) -> Context:
        """Index ``resources`` once by URN and by type."""
        ctx = cls(table=table, region=region, usage=usage, by_urn={r.urn: r for r in resources})
        for r in resources:
            ctx.by_type.setdefault(r.type, []).append(r)
        return ctx

    # -- lookups ---------------------------------------------------------------------------

    def of_type(self, *types: str) -> list[Res]:
        """Every resource of the given types, in resource order within each type."""
        return [r for t in types for r in self.by_type.get(t, ())]

    def count(self, *types: str) -> int:
        """How many resources of the given types the program records."""
        return sum(len(self.by_type.get(t, ())) for t in types)

    def dependency(self, r: Res, *types: str) -> Res | None:
        """The first resource of one of ``types`` that ``r`` depends on."""
        for dep in r.dependencies:
            other = self.by_urn.get(dep)
            if other is not None and other.type in types and other.urn != r.urn:
                return other
        return None

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

    def per_unit(
        self,
        item: str,
        key: str,
        region: str,
        quantity: float,
        basis: str,
        *,
        what: str,
        service: str,
    ) -> Charge:
        """``quantity`` × the price of ``key`` in ``region``; ``basis`` is formatted with ``{price}``
        (``0.1 USD/h``-style) and ``{qty}``; a missing row gives :meth:`missing`."""
        p = self.price(key, region)
        if p is None:
            return self.missing(item, what, service, region)
        return Charge(item, p.usd * quantity, basis.format(price=f"{p.text} {p.short_unit}", qty=fmt(quantity)))

    # -- transfer between regions ---------------------------------------------------------

    def transfer(self, item: str, source_region: str, gb: float, what: str) -> Charge:
        """Inter-region transfer of ``gb`` per month out of ``source_region``."""
        return self.per_unit(
            item,
            "transfer:inter-region",
            source_region,
            gb,
            f"{what}: inter-region transfer out of {source_region} {{price}} × {{qty}} GB/month",
            what="inter-region data transfer",
            service="Data Transfer",
        )

    def source_region(self, arn: str | None) -> str:
        """Region named in ``arn``, else the stack region."""
        if arn and arn.startswith("arn:"):
            parts = arn.split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
        return self.region
