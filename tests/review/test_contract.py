"""The review's JSON contract (architecture §7): schema, and the invariants between its parts."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from review.report import load_schema

STACK_TYPE = "pulumi:pulumi:Stack"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def reports(review_json: Any, project: Any, fixture_pack: Path) -> dict[str, dict[str, Any]]:
    """dev through the fixture pack (violations present), production with --compare-to dev."""
    tight = project.write_stack("contract", {"data-platform:budget": {"monthlyUsd": 0.5}}, base="dev")
    out = {}
    _, out["dev"] = review_json("--stack", tight, "--policy-pack", str(fixture_pack))
    _, out["production"] = review_json("--stack", "production", "--compare-to", "dev", "--no-policies")
    _, out["local"] = review_json("--stack", "local")  # the real pack
    return out


STACKS = ("dev", "production", "local")


@pytest.mark.parametrize("stack", STACKS)
def test_report_validates_against_the_schema(validator: Any, reports: dict[str, Any], stack: str) -> None:
    validator.validate(reports[stack])


@pytest.mark.parametrize(("path", "value"), [
    (("cost", "budget"), None),  # deleted below
    (("summary", "by_type"), None),
    (("timings", "policies_s"), None),
    (("policies", "violations"), None),
])
def test_schema_rejects_a_missing_contract_key(validator: Any, reports: dict[str, Any],
                                               path: tuple[str, str], value: Any) -> None:
    bad = copy.deepcopy(reports["dev"])
    del bad[path[0]][path[1]]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)


def test_schema_rejects_wrong_shapes(validator: Any, reports: dict[str, Any]) -> None:
    report = reports["dev"]
    assert report["policies"]["violations"], "the fixture pack reports violations on dev"
    cases = []
    bad = copy.deepcopy(report)
    bad["policies"]["violations"][0]["level"] = "error"
    cases.append(bad)
    bad = copy.deepcopy(report)
    bad["resources"][0]["urn"] = "not-a-urn"
    cases.append(bad)
    bad = copy.deepcopy(report)
    bad["cost"]["lines"][0]["monthly"] = None  # a priced line is a number; unpriced go to "unpriced"
    cases.append(bad)
    bad = copy.deepcopy(report)
    bad["resources"][0]["renamed_protect"] = bad["resources"][0].pop("protect")
    cases.append(bad)
    for case in cases:
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(case)


@pytest.mark.parametrize("stack", STACKS)
def test_summary_counts_the_resources(reports: dict[str, Any], stack: str) -> None:
    report = reports[stack]
    resources = report["resources"]
    assert report["summary"]["resources"] == len(resources) > 0
    assert report["summary"]["by_type"] == dict(Counter(r["type"] for r in resources))
    assert report["summary"]["custom"] + report["summary"]["components"] == len(resources)
    assert report["summary"]["protected"] == sum(r["protect"] for r in resources)


@pytest.mark.parametrize("stack", STACKS)
def test_resources_reference_each_other(reports: dict[str, Any], stack: str) -> None:
    report = reports[stack]
    urns = {r["urn"] for r in report["resources"]}
    assert len(urns) == len(report["resources"])
    for r in report["resources"]:
        assert r["urn"].startswith(f"urn:pulumi:{report['stack']}::data-platform::")
        assert r["urn"].endswith("::" + r["name"])
        assert r["parent"] is None or r["parent"] in urns
        assert set(r["dependencies"]) <= urns
        if not r["custom"]:
            assert r["inputs"] == {}
    for v in report["policies"]["violations"]:
        assert v["urn"] == "" or v["urn"] in urns


@pytest.mark.parametrize("stack", STACKS)
def test_cost_lines_sum_to_the_monthly_total(reports: dict[str, Any], stack: str) -> None:
    cost = reports[stack]["cost"]
    assert cost["lines"], "the stack has priced lines"
    assert sum(line["monthly"] for line in cost["lines"]) == pytest.approx(cost["monthly_total"], abs=0.01)
    assert sum(cost["by_component"].values()) == pytest.approx(cost["monthly_total"], abs=0.01)
    assert all(line["monthly"] is None for line in cost["unpriced"])


@pytest.mark.parametrize("stack", STACKS)
def test_by_component_has_every_top_level_component(reports: dict[str, Any], stack: str) -> None:
    report = reports[stack]
    resources = report["resources"]
    top_components = {r["urn"] for r in resources if not r["custom"] and r["parent"] is None}
    top_custom = [r for r in resources if r["custom"] and r["parent"] is None]
    keys = set(report["cost"]["by_component"])
    assert top_components <= keys
    stack_keys = {k for k in keys if f"::{STACK_TYPE}::" in k}
    assert keys - top_components == stack_keys
    assert bool(stack_keys) == bool(top_custom)
    for line in report["cost"]["lines"]:
        assert line["component"] in keys


def test_budget_and_verdict(reports: dict[str, Any]) -> None:
    dev = reports["dev"]
    assert dev["cost"]["budget"] == 0.5
    assert dev["cost"]["over_budget"] is (dev["cost"]["monthly_total"] > 0.5) is True
    assert dev["verdict"]["exit_code"] == 1
    assert dev["policies"]["mandatory"] == sum(v["level"] == "mandatory" for v in dev["policies"]["violations"])
    assert dev["policies"]["advisory"] == sum(v["level"] == "advisory" for v in dev["policies"]["violations"])


@pytest.mark.parametrize("stack", STACKS)
def test_timings(reports: dict[str, Any], stack: str) -> None:
    t = reports[stack]["timings"]
    assert t["program_s"] > 0 and t["cost_s"] > 0
    assert t["total_s"] >= t["program_s"]
    if reports[stack]["policies"]["pack"] is not None:
        assert t["policies_s"] > 0 and t["analyzer_start_s"] > 0
    else:
        assert t["policies_s"] == 0


def test_secrets_stay_masked(reports: dict[str, Any]) -> None:
    """Stack outputs and inputs carry "[secret]", never a revealed secret value."""
    import json

    from review.program import run_program

    for stack, report in reports.items():
        run = run_program(Path(__file__).resolve().parents[2], stack)
        text = json.dumps(report)
        for r in run.resources:
            for path in r.secret_paths:
                revealed: Any = r.raw_inputs
                for part in path.replace("]", "").replace("[", ".").split("."):
                    revealed = revealed[int(part)] if isinstance(revealed, list) else revealed[part]
                if isinstance(revealed, str) and len(revealed) >= 8:
                    assert revealed not in text, f"{r.urn}: {path} revealed"
