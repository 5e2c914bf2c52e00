"""Whole-stack verdicts: every resource of dev, production and local through the real analyzer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from review.analyzer import PolicyAnalyzer, Violation
from review.program import run_program

ROOT = Path(__file__).resolve().parents[2]

def _exemptions(stack: str) -> Any:
    """The stack file's reasoned exemptions: the one place an advisory finding is explained."""
    from review.program import load_stack_config
    from review.report import parse_exemptions

    exemptions, problems = parse_exemptions(load_stack_config(ROOT, stack).config)
    assert not problems, problems
    return exemptions


def _config(stack: str, run: Any) -> dict[str, Any]:
    env = {"production": "production", "dev": "dev", "local": "local"}[stack]
    return {"region": run.config.region, "environment": env}


@pytest.fixture(scope="module")
def verdicts(analyzer: PolicyAnalyzer) -> dict[str, tuple[list[dict[str, Any]], list[Violation]]]:
    out: dict[str, tuple[list[dict[str, Any]], list[Violation]]] = {}
    for stack in ("production", "dev", "local"):
        run = run_program(ROOT, stack)
        assert run.error is None, run.error
        resources = [r.to_json() for r in run.resources]
        analyzer.configure({"monthly-budget": "disabled"}, common=_config(stack, run))
        out[stack] = (resources, analyzer.analyze_all(resources))
    return out


def test_production_has_no_mandatory_violation(verdicts: dict[str, Any]) -> None:
    _, violations = verdicts["production"]
    mandatory = [v for v in violations if v.level == "mandatory"]
    assert not mandatory, "\n".join(f"{v.policy}: {v.message}" for v in mandatory)


@pytest.mark.parametrize("stack", ["production", "dev", "local"])
def test_only_explained_advisories(verdicts: dict[str, Any], stack: str) -> None:
    """Every advisory finding is fixed or carried by a reasoned exemption of the stack file, and every
    exemption still matches a finding (a stale one is noise)."""
    from review.report import apply_exemptions

    _, violations = verdicts[stack]
    assert not [v for v in violations if v.level == "mandatory"], stack
    kept, exempted, exemptions, notes = apply_exemptions([v.to_json() for v in violations], _exemptions(stack))
    assert kept == [], f"{stack}: advisories without a stated reason: {sorted({v['policy'] for v in kept})}"
    assert all(e["matched"] for e in exemptions), notes
    assert all(len(v["reason"]) > 40 for v in exempted)


def test_production_exempts_only_the_default_port(verdicts: dict[str, Any]) -> None:
    _, violations = verdicts["production"]
    assert {v.policy for v in violations} == {"rds-non-default-port"}
    assert [e.policy for e in _exemptions("production")] == ["rds-non-default-port"]


def test_dev_carries_the_advisories_of_its_cost_choices(verdicts: dict[str, Any]) -> None:
    _, violations = verdicts["dev"]
    policies = {v.policy for v in violations}
    assert "rds-multi-az" in policies, "dev's single-AZ PostgreSQL must be flagged (advisory)"


@pytest.mark.parametrize(
    ("type_", "mutate", "prop"),
    [
        ("aws:rds/instance:Instance", lambda i: i.update(storageEncrypted=False), "storageEncrypted"),
        ("aws:rds/instance:Instance", lambda i: i.update(publiclyAccessible=True), "publiclyAccessible"),
        ("aws:ec2/securityGroup:SecurityGroup",
         lambda i: i.update(ingress=[{"protocol": "tcp", "fromPort": 6379, "toPort": 6379,
                                      "cidrBlocks": ["0.0.0.0/0"]}]), "6379"),
    ],
)
def test_a_production_resource_with_one_protection_removed_fails(
        analyzer: PolicyAnalyzer, verdicts: dict[str, Any], type_: str, mutate: Any, prop: str) -> None:
    resources, _ = verdicts["production"]
    target = copy.deepcopy(next(r for r in resources if r["type"] == type_))
    mutate(target["inputs"])
    analyzer.configure({"monthly-budget": "disabled"}, common={"region": "us-east-1", "environment": "production"})
    found = [v for v in analyzer.analyze(target) if v.level == "mandatory"]
    assert found and any(prop in v.message for v in found), found


@pytest.mark.parametrize(("environment", "config", "level"), [
    ("production", {}, "mandatory"),       # advisory by default, mandatory in production
    ("prod", {}, "mandatory"),
    ("dev", {}, "advisory"),
    ("production", {"rds-multi-az": "advisory"}, "mandatory"),  # configuring it advisory does not weaken production
    ("production", {"rds-multi-az": "disabled"}, None),         # switching it off stays an explicit, visible line
])
def test_production_level_of_an_advisory_rule(analyzer: PolicyAnalyzer, verdicts: dict[str, Any], environment: str,
                                              config: dict[str, Any], level: str | None) -> None:
    resources, _ = verdicts["production"]
    primary = copy.deepcopy(next(r for r in resources if r["type"] == "aws:rds/instance:Instance"
                                 and not r["inputs"].get("replicateSourceDb")))
    primary["inputs"]["multiAz"] = False
    analyzer.configure({"monthly-budget": "disabled", **config},
                       common={"region": "us-east-1", "environment": environment})
    found = [v for v in analyzer.analyze(primary) if v.policy == "rds-multi-az"]
    assert [v.level for v in found] == ([level] if level else [])


def test_production_level_from_the_stated_environment_never_the_stack_name(analyzer: PolicyAnalyzer,
                                                                           verdicts: dict[str, Any]) -> None:
    """Without an ``environment`` config (the Pulumi CLI), the stack tag, then the stack file's
    ``data-platform:environment`` decide; when nothing states it, production (the strictest). The stack's
    name never does: a copy of the production stack file under any name is production."""
    resources, _ = verdicts["production"]
    primary = copy.deepcopy(next(r for r in resources if r["type"] == "aws:rds/instance:Instance"
                                 and not r["inputs"].get("replicateSourceDb")))
    primary["inputs"]["deletionProtection"] = False
    analyzer.configure({"monthly-budget": "disabled"}, common={"region": "us-east-1"})

    def level(stack: str, tags: dict[str, str] | None = None, environment: str | None = None) -> set[str]:
        config = {"data-platform:environment": environment} if environment else {}
        analyzer.configure_stack(stack=stack, tags=tags, config=config)
        return {v.level for v in analyzer.analyze(primary) if v.policy == "rds-deletion-protection"}

    try:
        assert level("dev-x", tags={"environment": "production"}) == {"mandatory"}
        assert level("prod-copy", environment="production") == {"mandatory"}
        assert level("acme", environment="production") == {"mandatory"}
        assert level("production", environment="dev") == {"advisory"}
        assert level("dev-x") == {"mandatory"}  # unknown: the strictest
    finally:
        analyzer.configure_stack(stack="")
