"""Budget (mandatory stack policy): the stack's estimated monthly cost is known and within ``monthlyUsd``.

Prices every resource with the project's cost model (``cost.model.estimate``, shipped price table,
730 h/month) using the policy's ``region`` and ``usage`` config. A stack with a part the model
cannot price has an **unknown** cost: that fails whenever there is a budget to check, and always in
production, naming each unpriced resource and the missing price. ``monthlyUsd`` null means no
budget. The cost package is imported on first use so the pack starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from policies._base import (
    ENVIRONMENT_CONFIG,
    MANDATORY,
    REGION_CONFIG,
    UNKNOWN,
    Resource,
    Stack,
    as_dict,
    number,
    short_urn,
    stack_policy,
)

CONCERN = "budget"
LISTED = 10
"""Unpriced resources named one by one in the message (the rest are counted)."""


def _contract_value(value: Any) -> Any:
    if value is UNKNOWN:
        return "[unknown]"
    if isinstance(value, dict):
        return {k: _contract_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_contract_value(v) for v in value]
    return value


def to_contract(r: Resource) -> dict[str, Any]:
    """The recorded-resource shape (review/schema.json) the cost model reads."""
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
    description="The stack's estimated monthly cost (cost model, on-demand prices) is known (every resource "
                "priced or free) and within the budget.",
    remediation="Shrink instance classes, node counts or storage, or raise monthlyUsd in the policy config; "
                "for an unknown cost, add the missing price rows (cost/sources/, python -m cost.build_prices) "
                "or a pricing rule (cost/rules/).",
    config={
        "monthlyUsd": {"type": ["number", "null"], "default": None,
                       "description": "Monthly budget in USD; null = no budget."},
        **REGION_CONFIG,
        **ENVIRONMENT_CONFIG,
        "usage": {"type": "object", "default": {},
                  "description": "Usage assumptions as data-platform:usage (camelCase keys of cost.usage: "
                                 "natGbPerMonth, postgresDataGb, postgresWalGbPerDay, ...)."},
    },
    severity="high",
)
def monthly_budget(s: Stack) -> Iterator[tuple[str, str | None]]:
    budget = number(s.ctx.get("monthlyUsd"))
    production = s.ctx.is_production()
    if budget is None and not production:
        return
    checked = f"the budget ${budget:,.2f}/month" if budget is not None else "the production stack's cost"
    region = s.ctx.stack_region(next((r.provider_props for r in s.resources if r.provider_props), None))
    if region is None:
        yield (f"cannot price the stack: no region (set 'region' in the monthly-budget policy config or aws:region); "
               f"{checked} cannot be verified.", None)
        return
    try:
        from cost.model import estimate
    except ImportError as e:
        yield f"cannot price the stack: the cost model is not importable ({e}); {checked} cannot be verified.", None
        return
    usage = {k: float(v) for k, v in as_dict(s.ctx.get("usage", {})).items() if number(v) is not None}
    try:
        report = estimate([to_contract(r) for r in s.resources], region=region, usage=usage)
    except ValueError as e:
        yield f"cannot price the stack: {e}; {checked} cannot be verified.", None
        return
    if report.unpriced:
        yield _unknown_message(report.unpriced, report.monthly_total, checked), None
        return
    total = float(report.monthly_total)
    if budget is not None and total > budget:
        top = sorted(report.by_component.items(), key=lambda kv: -kv[1])[:3]
        parts = ", ".join(f"{urn.rsplit('::', 1)[-1]} ${usd:,.2f}" for urn, usd in top)
        yield (f"estimated monthly cost ${total:,.2f} exceeds the budget monthlyUsd ${budget:,.2f} by "
               f"${total - budget:,.2f} (largest: {parts}); shrink the largest components or raise monthlyUsd.",
               None)


def _unknown_message(unpriced: Sequence[Any], priced: float, checked: str) -> str:
    """One message naming each unpriced resource and the price it lacks."""
    resources = list(dict.fromkeys(line.urn for line in unpriced))
    named = [f"{short_urn(line.urn)} ({line.item}: {line.basis})" for line in unpriced[:LISTED]]
    more = f"; and {len(unpriced) - LISTED} more" if len(unpriced) > LISTED else ""
    return (f"the estimated monthly cost is unknown: {len(unpriced)} cost line(s) of {len(resources)} resource(s) "
            f"cannot be priced, so {checked} cannot be verified (the ${priced:,.2f} priced is not the stack's "
            f"cost): {'; '.join(named)}{more}. Add the missing rows to cost/sources/ (python -m "
            "cost.build_prices) or a rule to cost/rules/.")
