"""Whole-stack verdicts on the fixtures: production-like is clean; removing one protection gives a
mandatory violation naming the property. (The lead's tests do the same on the recorded program.)"""

from __future__ import annotations

import policy_fixtures as fx
import pytest

from review.analyzer import PolicyAnalyzer

P = fx.production_like()


def test_production_like_has_no_violations(pa: PolicyAnalyzer) -> None:
    assert pa.analyze_all(P) == []


def test_local_like_has_no_violations(pa: PolicyAnalyzer) -> None:
    assert pa.analyze_all(fx.local_like()) == []


@pytest.mark.parametrize(("mutate", "policy", "prop"), [p[1:] for p in fx.PROTECTIONS_REMOVED],
                         ids=[p[0] for p in fx.PROTECTIONS_REMOVED])
def test_one_protection_removed_is_a_mandatory_violation(pa: PolicyAnalyzer, mutate, policy: str,
                                                         prop: str) -> None:
    found = pa.analyze_all(mutate(P))
    mandatory = [v for v in found if v.level == "mandatory"]
    assert [v.policy for v in mandatory] == [policy], found
    assert prop in mandatory[0].message and mandatory[0].urn
