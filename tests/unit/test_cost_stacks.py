"""The shipped stacks priced end to end (program under the mock runtime → cost model): nothing
unpriced, the total is the sum of its lines, every type is priced or free, node groups belong to the
store whose pods they run, production is within its budget. Each invariant has a test of the test."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from cost_kit import resource

from cost.model import CostLine, CostReport, compare, estimate
from cost.rules import RULES
from cost.rules.free_types import free_reason
from review.program import run_program
from review.report import StackSettings, resource_dicts

ROOT = Path(__file__).resolve().parents[2]
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


@dataclasses.dataclass
class Priced:
    resources: list[dict[str, Any]]
    settings: StackSettings
    report: CostReport


def _price(stack: str) -> Priced:
    run = run_program(ROOT, stack)
    assert run.error is None, run.error
    assert run.config is not None
    settings = StackSettings.from_config(run.config, run.outputs)
    resources = resource_dicts(run)
    return Priced(resources, settings, estimate(resources, region=settings.region, usage=settings.usage))


@pytest.fixture(scope="module")
def stacks() -> dict[str, Priced]:
    return {name: _price(name) for name in ("production", "dev")}


# -- invariants -----------------------------------------------------------------------------------


def report_problems(report: CostReport) -> list[str]:
    """What makes a report dishonest: unpriced lines, a total that is not the sum of its lines."""
    out = [f"unpriced: {line.urn.rsplit('::', 1)[-1]} {line.item}: {line.basis}" for line in report.unpriced]
    lines = round(sum(line.monthly or 0.0 for line in report.lines), 2)
    if abs(lines - report.monthly_total) > 0.005:
        out.append(f"total {report.monthly_total} is not the sum of its lines {lines}")
    components = round(sum(report.by_component.values()), 2)
    if abs(components - report.monthly_total) > 0.05:
        out.append(f"total {report.monthly_total} is not the sum of its components {components}")
    out += [f"priced line without an amount: {line.urn}" for line in report.lines if line.monthly is None]
    return out


def types_without_a_price(types: set[str]) -> list[str]:
    """Resource types that have neither a pricing rule nor a free reason."""
    return sorted(t for t in types if t not in RULES and free_reason(t) is None and ":" in t.split("::")[-1]
                  and "/" in t)


@pytest.mark.parametrize("stack", ["production", "dev"])
def test_every_line_is_priced_and_the_total_is_their_sum(stacks: dict[str, Priced], stack: str) -> None:
    report = stacks[stack].report
    assert report.verdict == "priced"
    assert report_problems(report) == []
    assert types_without_a_price({r["type"] for r in stacks[stack].resources if r.get("custom")}) == []


def test_of_the_test_an_unpriced_resource_and_a_wrong_total_are_caught(stacks: dict[str, Priced]) -> None:
    p = stacks["dev"]
    planted = estimate([*p.resources, resource("aws:sagemaker/domain:Domain", "ml")], region=p.settings.region,
                       usage=p.settings.usage)
    assert planted.verdict == "unknown"
    assert report_problems(planted) == [
        "unpriced: ml unknown: the cost model has no rule for resource type aws:sagemaker/domain:Domain"]
    off = dataclasses.replace(p.report, monthly_total=p.report.monthly_total + 1)
    assert any(problem.startswith("total ") for problem in report_problems(off))
    planted_types = {"aws:sagemaker/domain:Domain", "aws:iam/role:Role"}
    assert types_without_a_price(planted_types) == ["aws:sagemaker/domain:Domain"]


def test_resource_types_other_engineers_add_are_priced_or_free() -> None:
    """CodeBuild (build minutes), EKS access entries, service-linked roles, access-log buckets."""
    coming = {"aws:codebuild/project:Project", "aws:codebuild/webhook:Webhook", "aws:eks/accessEntry:AccessEntry",
              "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:iam/serviceLinkedRole:ServiceLinkedRole",
              "aws:s3/bucketLogging:BucketLogging", "aws:s3/bucket:Bucket"}
    assert types_without_a_price(coming) == []


def budget_problem(report: CostReport, budget: float | None) -> str | None:
    """Why a report does not meet its budget: no budget, an unknown cost, or over it."""
    if budget is None:
        return "no budget"
    if not report.complete:
        return f"cost unknown ({len(report.unpriced)} unpriced lines)"
    return f"${report.monthly_total:,.2f} over ${budget:,.2f}" if report.monthly_total > budget else None


@pytest.mark.parametrize("stack", ["production", "dev"])
def test_the_stacks_are_within_their_budgets_all_in(stacks: dict[str, Priced], stack: str) -> None:
    assert budget_problem(stacks[stack].report, stacks[stack].settings.budget) is None


def test_of_the_test_an_unknown_or_over_budget_cost_is_caught(stacks: dict[str, Priced]) -> None:
    p = stacks["production"]
    assert budget_problem(p.report, p.report.monthly_total - 0.01) == \
        f"${p.report.monthly_total:,.2f} over ${p.report.monthly_total - 0.01:,.2f}"
    unknown = estimate([*p.resources, resource("aws:sagemaker/domain:Domain", "ml")], region=p.settings.region,
                       usage=p.settings.usage)
    assert budget_problem(unknown, 1e9) == "cost unknown (1 unpriced lines)"
    assert budget_problem(p.report, None) == "no budget"


def test_the_dr_region_is_priced(stacks: dict[str, Priced]) -> None:
    """What runs in us-west-2 (the DR replica's storage, replica buckets, keys, alarms, logs) has priced lines."""
    p = stacks["production"]
    dr = {r["urn"]: r["type"] for r in p.resources if (r.get("inputs") or {}).get("region") == "us-west-2"}
    priced = {dr[line.urn] for line in p.report.lines if line.urn in dr and line.monthly}
    assert {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:kms/key:Key",
            "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/logGroup:LogGroup",
            "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"} <= priced


# -- attribution ----------------------------------------------------------------------------------


def misattributed(lines: list[CostLine], resources: list[dict[str, Any]]) -> list[str]:
    """Node-group lines not attributed to the component of the store their ``workload`` label names
    (``system`` and unknown workloads stay with the EKS component)."""
    components = {r["name"]: r["urn"] for r in resources if not r.get("custom")}
    groups = {r["urn"]: r for r in resources if r["type"] == NODE_GROUP}
    out = []
    for line in lines:
        group = groups.get(line.urn)
        if group is None:
            continue
        workload = (group["inputs"].get("labels") or {}).get("workload") or group["inputs"].get("nodeGroupName", "")
        store = workload.split("-")[0]
        want = components.get(store, components.get("eks"))
        if line.component != want:
            out.append(f"{group['name']} ({workload}) → {line.component}")
    return out


def test_node_groups_belong_to_the_store_whose_pods_they_run(stacks: dict[str, Priced]) -> None:
    p = stacks["production"]
    node_lines = [line for line in p.report.lines if line.type == NODE_GROUP]
    assert {line.component.rsplit("::", 1)[-1] for line in node_lines if line.component} == {"graph", "vector", "eks"}
    assert misattributed(p.report.lines, p.resources) == []


def test_per_az_node_groups_are_attributed_by_their_name_prefix(stacks: dict[str, Priced]) -> None:
    """The groups split per AZ (``graph-us-east-1a``, ``vector-b``), labelled or not, still go to their store."""
    p = stacks["production"]
    split: list[dict[str, Any]] = []
    for r in p.resources:
        if r["type"] == NODE_GROUP and r["inputs"]["labels"]["workload"] != "system":
            workload = r["inputs"]["labels"]["workload"]
            for suffix, labelled in (("us-east-1a", True), ("b", False)):
                inputs = {**r["inputs"], "nodeGroupName": f"{workload}-{suffix}",
                          "labels": {"workload": f"{workload}-{suffix}"} if labelled else {}}
                split.append({**r, "urn": f"{r['urn']}-{suffix}", "name": f"{r['name']}-{suffix}", "inputs": inputs})
        else:
            split.append(r)
    report = estimate(split, region=p.settings.region, usage=p.settings.usage)
    assert misattributed(report.lines, split) == []
    graph = next(c for c in report.by_component if c.endswith("::graph"))
    assert report.by_component[graph] > p.report.by_component[graph]  # twice the graph nodes, all in graph


def test_of_the_test_a_node_group_left_with_eks_is_caught(stacks: dict[str, Priced]) -> None:
    p = stacks["production"]
    eks = next(r["urn"] for r in p.resources if r["name"] == "eks" and not r.get("custom"))
    line = next(line for line in p.report.lines if line.type == NODE_GROUP and line.item == "instances"
                and line.component and line.component.endswith("::graph"))
    name = line.urn.rsplit("::", 1)[-1]
    found = misattributed([dataclasses.replace(line, component=eks)], p.resources)
    assert len(found) == 1 and found[0].startswith(f"{name} (graph") and found[0].endswith(f"→ {eks}")


def test_compare_to_dev_puts_the_same_stores_side_by_side(stacks: dict[str, Priced]) -> None:
    rows = {row.name: row for row in compare(stacks["dev"].report, stacks["production"].report)}
    for store in ("postgres", "redis", "graph", "vector"):
        assert rows[store].a > 0 and rows[store].b > rows[store].a, rows[store]
    assert rows["eks"].a == 0.0  # dev runs no cluster: its Neo4j and Qdrant are EC2 instances under graph/vector
    assert rows["total"].delta == pytest.approx(rows["total"].b - rows["total"].a, abs=0.01)


# -- the README says what the model says ----------------------------------------------------------


def readme_misses(section: str, totals: dict[str, float]) -> list[str]:
    """Stacks whose total the README's cost section does not state as ``**$X**`` on a line naming them."""
    return [f"{stack} ${total:,.2f}" for stack, total in totals.items()
            if not re.search(rf"`{stack}`[^\n]*\*\*{re.escape(f'${total:,.2f}')}", section)]


def _cost_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("<!-- cost:start -->"):text.index("<!-- cost:end -->")]


def test_readme_cost_figures_are_the_models(stacks: dict[str, Priced]) -> None:
    assert readme_misses(_cost_section(), {s: p.report.monthly_total for s, p in stacks.items()}) == []


def test_of_the_test_a_stale_readme_figure_is_caught(stacks: dict[str, Priced]) -> None:
    total = stacks["dev"].report.monthly_total + 1
    assert readme_misses(_cost_section(), {"dev": total}) == [f"dev ${total:,.2f}"]
