"""COVERAGE.md is generated from the policy metadata and cannot drift."""

from __future__ import annotations

import subprocess
import sys

from policies import coverage
from policies._base import REGISTRY
from policies.catalog import load
from review.analyzer import PROJECT_ROOT

load()


def test_coverage_file_is_current() -> None:
    assert coverage.OUT.read_text(encoding="utf-8") == coverage.render(), \
        "policies/COVERAGE.md is stale: run python -m policies.coverage"


def test_module_entry_point_checks() -> None:
    done = subprocess.run([sys.executable, "-m", "policies.coverage", "--check"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_listed_control_is_enforced_or_explained() -> None:
    names = {p.meta.name for p in REGISTRY}
    text = coverage.render()
    counts = {service.split(" ")[0]: len(controls) for service, controls in coverage.FSBP.items()}
    assert counts["RDS"] == 19 and counts["ElastiCache"] == 7 and counts["S3"] == 12 and counts["KMS"] == 4
    assert counts["EKS"] == 4 and counts["SNS"] == 1 and counts["IAM"] == 3
    for controls in coverage.FSBP.values():
        for control, _, reason in controls:
            enforced = [p.meta.name for p in REGISTRY if control in p.meta.requirements]
            assert bool(enforced) != bool(reason), control
            for name in enforced:
                assert name in names and f"`{name}`" in text


def test_every_policy_names_a_requirement_and_metadata() -> None:
    for p in REGISTRY:
        m = p.meta
        assert m.requirements and m.description and m.remediation, m.name
        assert m.level in ("mandatory", "advisory")
        if m.concern in ("encryption", "network"):
            assert m.level == "mandatory" or m.name in {
                "elasticache-custom-subnet-group", "vpc-default-security-group-closed"}, m.name
