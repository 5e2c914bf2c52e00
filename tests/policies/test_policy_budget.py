"""The budget stack policy prices the stack with cost.model.estimate through the analyzer."""

from __future__ import annotations

import policy_fixtures as fx

from cost.model import estimate
from review.analyzer import PolicyAnalyzer

P = fx.production_like()
USAGE = {"backupGbPerStore": 200.0, "logGbPerMonth": 20.0}


def _total() -> float:
    return estimate(P, region="us-east-1", usage=USAGE).monthly_total


def _budget(pa: PolicyAnalyzer, monthly: float | None) -> list:
    pa.configure({"monthly-budget": {"monthlyUsd": monthly, "usage": USAGE}}, common={"region": "us-east-1"})
    return [v for v in pa.analyze_stack(P) if v.policy == "monthly-budget"]


def test_over_budget_is_one_mandatory_stack_violation(pa: PolicyAnalyzer) -> None:
    total = _total()
    assert total > 100
    found = _budget(pa, round(total / 2, 2))
    assert len(found) == 1
    v = found[0]
    assert v.level == "mandatory" and v.urn == ""
    assert f"estimated monthly cost ${total:,.2f} exceeds the budget monthlyUsd ${round(total / 2, 2):,.2f}" \
        in v.message


def test_within_budget_passes(pa: PolicyAnalyzer) -> None:
    assert _budget(pa, round(_total() * 1.5, 2)) == []


def test_no_budget_configured_passes(pa: PolicyAnalyzer) -> None:
    assert _budget(pa, None) == []
    assert [v for v in pa.analyze_stack(P) if v.policy == "monthly-budget"] == []
