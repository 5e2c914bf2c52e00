"""Pricing rules, one module per service, and the catalogue that picks a rule for a resource.

A rule turns one recorded resource into :class:`Charge` s (``monthly`` in USD, or None when it
cannot be priced) whose ``basis`` states the formula with its numbers. :func:`charges_for` uses
the resource type's rule, else a free reason (:mod:`cost.rules.free_types`), else reports the type as
unpriced: every resource ends up priced, free with a reason, or unknown.

:data:`PRICE_KEYS` are the rows the rules look up besides instance classes: the table must have
each of them in every region it covers (``cost.coverage``).
"""

from __future__ import annotations

from cost.rules import cicd, compute, elasticache, kubernetes, network, observability, rds, security, storage
from cost.rules.base import Charge, Context, Res, Rule, free
from cost.rules.free_types import free_reason
from cost.rules.kubernetes import quantity_gib
from cost.usage import Usage

_MODULES = (rds, elasticache, compute, network, storage, observability, security, kubernetes, cicd)

RULES: dict[str, Rule] = {t: rule for module in _MODULES for t, rule in module.RULES.items()}
"""Resource types with a pricing rule."""

PRICE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(key for module in _MODULES for key in module.PRICE_KEYS))
"""Every fixed row the rules look up."""


def charges_for(r: Res, ctx: Context) -> list[Charge]:
    """All charges of one custom resource; a type with no rule and no free reason is unpriced."""
    rule = RULES.get(r.type)
    if rule is not None:
        return rule(r, ctx)
    reason = free_reason(r.type)
    if reason is not None:
        return [free(reason)]
    return [Charge("unknown", None, f"the cost model has no rule for resource type {r.type}")]


__all__ = ["PRICE_KEYS", "RULES", "Charge", "Context", "Res", "Usage", "charges_for", "quantity_gib"]
