"""A copy of the production stack file under any name reviews as production (issue 14 items 5 and 6):
production rules follow the ``environment`` the file states (or the strictest when it states none),
never the stack's name, and every AWS name derived from a long stack name fits its service's limit."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.review.conftest import ROOT

NS = "data-platform"


@pytest.fixture(scope="module")
def production(review_json: Any) -> dict[str, Any]:
    return review_json("--stack", "production")[1]


def _types(report: dict[str, Any]) -> list[str]:
    return sorted(r["type"] for r in report["resources"])


@pytest.mark.parametrize("name", ["prod-copy", "production-euw1", "acme-data-platform-production-blue"])
def test_a_copy_of_production_under_another_name_reviews_as_production(
        project: Any, review_json: Any, production: dict[str, Any], name: str) -> None:
    project.write_stack(name, {}, base="production")
    code, report = review_json("--stack", name)
    assert code == 0, report["verdict"]
    assert report["environment"] == "production"
    assert _types(report) == _types(production)  # the same resources, Multi-AZ and DR included
    assert not [v for v in report["policies"]["violations"] if v["policy"] == "aws-name-length"]
    assert report["cost"]["monthly_total"] == production["cost"]["monthly_total"]


@pytest.mark.parametrize("name", ["prod-copy", "production-euw1", "acme"])
def test_weakening_a_copy_of_production_exits_2_with_one_line(cli: Any, project: Any, name: str) -> None:
    project.write_stack(name, {f"{NS}:postgres": {"multiAz": False}}, base="production")
    r = cli("--stack", name, "--no-policies")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == f"Pulumi.{name}.yaml: {NS}:postgres.multiAz: false is not allowed (true in production)\n"


def test_a_stack_file_that_states_no_environment_is_held_to_production_rules(cli: Any, project: Any) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    del doc["config"][f"{NS}:environment"]
    (project.path / "Pulumi.dev-unstated.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    r = cli("--stack", "dev-unstated", "--no-policies")
    assert (r.code, r.stdout) == (2, "")
    # dev's first opt-out is refused: without a stated environment, production rules apply
    assert r.stderr == f"Pulumi.dev-unstated.yaml: {NS}:postgres.multiAz: false is not allowed (true in production)\n"
