"""The budget stack policy prices the stack with cost.model.estimate through the analyzer: a known
total is checked against monthlyUsd; an unknown one fails wherever there is something to check (a
budget, or production) and names each unpriced resource and the missing price."""

from __future__ import annotations

from typing import Any

import policy_fixtures as fx

from cost.model import estimate
from review.analyzer import PolicyAnalyzer

P = fx.production_like()
USAGE = {"graphBackupGbPerDay": 20.0, "logGbPerMonth": 20.0}
MYSTERY = fx.res("aws:sagemaker/domain:Domain", "ml-domain", {"domainName": "ml"})


def _total() -> float:
    report = estimate(P, region="us-east-1", usage=USAGE)
    assert report.complete
    return report.monthly_total


def _budget(pa: PolicyAnalyzer, monthly: float | None, resources: list[dict[str, Any]] = P,
            environment: str | None = None) -> list:
    config: dict[str, Any] = {"monthlyUsd": monthly, "usage": USAGE}
    if environment:
        config["environment"] = environment
    pa.configure({"monthly-budget": config}, common={"region": "us-east-1"})
    return [v for v in pa.analyze_stack(resources) if v.policy == "monthly-budget"]


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


def test_no_budget_and_a_known_cost_passes(pa: PolicyAnalyzer) -> None:
    assert _budget(pa, None) == []
    assert [v for v in pa.analyze_stack(P) if v.policy == "monthly-budget"] == []


def test_an_unknown_cost_fails_the_budget_naming_what_is_unpriced(pa: PolicyAnalyzer) -> None:
    found = _budget(pa, 1_000_000.0, [*P, MYSTERY])
    assert len(found) == 1 and found[0].level == "mandatory"
    message = found[0].message
    assert message.startswith("the estimated monthly cost is unknown: 1 cost line(s) of 1 resource(s) cannot be "
                              "priced, so the budget $1,000,000.00/month cannot be verified")
    assert "aws:sagemaker/domain:Domain::ml-domain (unknown: the cost model has no rule for resource type " \
           "aws:sagemaker/domain:Domain)" in message


def test_an_unknown_cost_fails_production_even_without_a_budget(pa: PolicyAnalyzer) -> None:
    found = _budget(pa, None, [*P, MYSTERY])
    assert len(found) == 1 and "the production stack's cost cannot be verified" in found[0].message


def test_an_unknown_cost_without_a_budget_outside_production_is_left_to_the_review(pa: PolicyAnalyzer) -> None:
    assert _budget(pa, None, [*P, MYSTERY], environment="dev") == []
    assert len(_budget(pa, 5000.0, [*P, MYSTERY], environment="dev")) == 1
