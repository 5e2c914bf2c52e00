"""How the review shows cost: an unknown cost fails (exit 1) and is never shown as a total, each
unpriced resource is named with the missing price, an unpriced class in a stack file is one line on
stderr (exit 2), and the PR comment leads with the per-component delta."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema

from cost.model import estimate
from review.mocks import RecordedResource
from review.program import ProgramRun, StackConfig
from review.render import render_markdown, render_text
from review.report import PolicyResult, StackSettings, build_report, exit_code, load_schema

NS = "data-platform"
STACK = "test"
PREFIX = f"urn:pulumi:{STACK}::data-platform::"


def _res(type_: str, name: str, inputs: dict[str, Any]) -> RecordedResource:
    return RecordedResource(f"{PREFIX}{type_}::{name}", type_, name, True, None, inputs, False, False, None, [])


def _report(resources: list[RecordedResource], budget: float | None) -> dict[str, Any]:
    config = StackConfig("data-platform", Path("/nonexistent"), STACK, f"Pulumi.{STACK}.yaml", {}, [], "us-east-1")
    run = ProgramRun("data-platform", STACK, resources, {}, 0.1, None, config)
    cost = estimate([r.to_json() for r in resources], region="us-east-1")
    return build_report(run, StackSettings(STACK, "us-east-1", "dev", budget), PolicyResult("p", "1", [], 3), cost,
                        {"program_s": 0.1, "policies_s": 0.1, "cost_s": 0.1})


KEY = _res("aws:kms/key:Key", "key", {})
MYSTERY = _res("aws:sagemaker/domain:Domain", "ml-domain", {})
R8G = _res("aws:rds/instance:Instance", "pg", {"instanceClass": "db.r8g.xlarge", "engine": "postgres",
                                              "allocatedStorage": 100, "storageType": "gp3"})


def test_an_unknown_cost_fails_and_is_neither_within_nor_over_budget() -> None:
    report = _report([KEY, MYSTERY, R8G], budget=1_000_000.0)
    cost = report["cost"]
    assert cost["verdict"] == "unknown" and cost["over_budget"] is None and cost["budget_remaining"] is None
    assert exit_code(report) == 1
    reason = report["verdict"]["reasons"][0]
    assert reason.startswith("monthly cost unknown: 2 cost line(s) of 2 resource(s) unpriced (ml-domain, pg)")
    jsonschema.validate(json.loads(json.dumps(report, default=str)), load_schema())


def test_a_priced_stack_keeps_its_budget_verdict() -> None:
    report = _report([KEY], budget=100.0)
    assert report["cost"]["verdict"] == "priced" and report["cost"]["over_budget"] is False
    assert exit_code(report) == 0


def test_text_names_each_unpriced_resource_and_never_prints_a_total() -> None:
    report = _report([KEY, MYSTERY, R8G], budget=500.0)
    out = io.StringIO()
    render_text(report, out)
    text = " ".join(out.getvalue().split())
    priced = f"${report['cost']['monthly_total']:,.2f}"
    assert (f"Monthly total unknown (≥ {priced} priced): 2 line(s) unpriced, the budget $500.00 cannot be "
            "checked") in text
    assert "so the monthly cost is UNKNOWN" in text
    assert "ml-domain" in text and "instance: no price for db.r8g.xlarge PostgreSQL Single-AZ in" in text
    assert f"Monthly total {priced}" not in text and "Review failed: monthly cost unknown" in text


def test_markdown_says_unknown_and_lists_the_missing_prices() -> None:
    md = render_markdown(_report([KEY, MYSTERY, R8G], budget=None))
    summary = md.splitlines()[2]
    assert "/month** (2 line(s) unpriced: **cost unknown**)" in summary and "**unknown (≥ $" in summary
    assert "- `aws:sagemaker/domain:Domain` (ml-domain): unknown: the cost model has no rule" in md
    assert "- `aws:rds/instance:Instance` (pg): instance: no price for db.r8g.xlarge" in md


def test_an_unpriced_class_in_a_stack_file_is_one_line_and_exit_2(cli: Any, project: Any) -> None:
    name = project.write_stack("r8g", {f"{NS}:postgres": {"instanceClass": "db.r8g.xlarge", "storageGb": 50,
                                                          "multiAz": False, "drReplica": False}}, base="dev")
    r = cli("--stack", name, "--no-policies")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"Pulumi.{name}.yaml: {NS}:postgres.instanceClass: db.r8g.xlarge is not allowed (")
    assert "nearest priced: db.r7g.xlarge" in r.stderr


def test_the_pr_comment_leads_with_the_per_component_delta(cli: Any) -> None:
    r = cli("--stack", "production", "--compare-to", "dev", "--no-policies", "--format", "markdown")
    assert r.code == 0, r.stderr
    md = r.stdout
    headings = [line for line in md.splitlines() if line.startswith("### ")]
    assert headings[0] == "### Compared to `dev` (USD/month)"
    table = md[md.index("| Component | Δ |"):].split("\n\n")[0].splitlines()[2:]
    deltas = [abs(float(row.split("|")[2].strip().lstrip("+−±$").replace(",", ""))) for row in table[:-1]]
    assert deltas == sorted(deltas, reverse=True) and deltas  # largest change first
    assert table[-1].startswith("| **total** |")
    assert "| graph |" in md and "| vector |" in md and "| eks |" in md  # node groups sit with their store
