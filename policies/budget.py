"""Budget (mandatory stack policy): the stack's estimated monthly cost stays within ``monthlyUsd``.

Prices every resource with the project's cost model (``cost.model.estimate``, shipped price table,
730 h/month) using the policy's ``region`` and ``usage`` config. ``monthlyUsd`` null means no
budget. The cost package is imported on first use so the pack starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies._base import MANDATORY, REGION_CONFIG, UNKNOWN, Resource, Stack, as_dict, number, stack_policy

CONCERN = "budget"


def _contract_value(value: Any) -> Any:
    if value is UNKNOWN:
        return "[unknown]"
    if isinstance(value, dict):
        return {k: _contract_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_contract_value(v) for v in value]
    return value


def to_contract(r: Resource) -> dict[str, Any]:
    """The recorded-resource shape (notes/CONTRACTS.md) the cost model reads."""
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent,
        "inputs": _contract_value(r.props),
        "dependencies": list(r.dependencies),
    }


@stack_policy(
    name="monthly-budget", concern=CONCERN, level=MANDATORY, types=(),
    requirements=("seed:budget",),
    description="The stack's estimated monthly cost (cost model, on-demand prices) is within the budget.",
    remediation="Shrink instance classes, node counts or storage, or raise monthlyUsd in the policy config.",
    config={
        "monthlyUsd": {"type": ["number", "null"], "default": None,
                       "description": "Monthly budget in USD; null = no budget."},
        **REGION_CONFIG,
        "usage": {"type": "object", "default": {},
                  "description": "Usage assumptions (natGbPerMonth, backupGbPerStore, logGbPerMonth, "
                                 "crossRegionGbPerMonth), as data-platform:usage."},
    },
    severity="high",
)
def monthly_budget(s: Stack) -> Iterator[tuple[str, str | None]]:
    budget = number(s.ctx.get("monthlyUsd"))
    if budget is None:
        return
    region = s.ctx.stack_region(next((r.provider_props for r in s.resources if r.provider_props), None))
    if region is None:
        yield ("cannot price the stack: no region (set 'region' in the monthly-budget policy config or aws:region); "
               f"the budget is ${budget:,.2f}/month.", None)
        return
    try:
        from cost.model import estimate
    except ImportError as e:
        yield (f"cannot price the stack: the cost model is not importable ({e}); the budget is "
               f"${budget:,.2f}/month."), None
        return
    usage = {k: float(v) for k, v in as_dict(s.ctx.get("usage", {})).items() if number(v) is not None}
    report = estimate([to_contract(r) for r in s.resources], region=region, usage=usage)
    total = float(report.monthly_total)
    if total > budget:
        top = sorted(report.by_component.items(), key=lambda kv: -kv[1])[:3]
        parts = ", ".join(f"{urn.rsplit('::', 1)[-1]} ${usd:,.2f}" for urn, usd in top)
        yield (f"estimated monthly cost ${total:,.2f} exceeds the budget monthlyUsd ${budget:,.2f} by "
               f"${total - budget:,.2f} (largest: {parts}); shrink the largest components or raise monthlyUsd.",
               None)
