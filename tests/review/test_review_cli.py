"""`python -m review`: exit codes, what goes to stdout/stderr, the formats, --compare-to.

Exit codes (architecture §7): 0 clean; 1 a mandatory violation or over budget; 2 bad config or
usage — and a bad stack file prints exactly its one-line message on stderr and nothing else.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from cost.model import estimate
from review.cli import main
from review.mocks import RecordedResource
from review.program import ProgramRun, StackConfig
from review.render import render_markdown, render_text, tree_rows
from review.report import PolicyResult, StackSettings, build_report, default_environment, exit_code

NS = "data-platform"
FORMATS = ("text", "json", "markdown")


# ---------------------------------------------------------------------------------------------
# Exit code 2: bad config, usage
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_stack_file_exits_2_with_only_its_one_line(cli: Any, project: Any, fixture_pack: Path, fmt: str) -> None:
    name = project.write_stack("badshards", {f"{NS}:redis": {"shards": 0}}, base="dev")
    r = cli("--stack", name, "--format", fmt, "--policy-pack", str(fixture_pack))
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == f"Pulumi.{name}.yaml: {NS}:redis.shards: 0 is not allowed (1..500)\n"


def test_bad_stack_file_with_the_real_pack_prints_one_line(cli: Any, project: Any) -> None:
    """The real pack is started before the program; a bad stack file still prints only its line."""
    name = project.write_stack("prod-bad", {f"{NS}:postgres": {"multiAz": False}}, base="production")
    r = cli("--stack", name)
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == f"Pulumi.{name}.yaml: {NS}:postgres.multiAz: false is not allowed (true in production)\n"


def test_bad_stack_file_is_reported_before_the_pack(cli: Any, project: Any, tmp_path: Path) -> None:
    """Even with a pack that does not exist, the stack file's problem is the one line shown."""
    name = project.write_stack("badregion", {f"{NS}:drRegion": "us-east-1"}, base="production")
    r = cli("--stack", name, "--policy-pack", str(tmp_path))
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"Pulumi.{name}.yaml: {NS}:drRegion: us-east-1 is not allowed")


def test_unknown_stack_exits_2(cli: Any) -> None:
    r = cli("--stack", "nosuchstack", "--no-policies")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1
    assert "Pulumi.nosuchstack.yaml: no such stack file" in r.stderr
    assert "dev" in r.stderr and "production" in r.stderr  # names the stacks there are


def test_invalid_yaml_exits_2(project: Any) -> None:
    (project.path / "Pulumi.broken.yaml").write_text("config:\n  aws:region: [unclosed\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(project.path), "--stack", "broken", "--no-policies"], out=out, err=err)
    assert (code, out.getvalue()) == (2, "")
    assert err.getvalue().startswith("Pulumi.broken.yaml: line ")


@pytest.mark.parametrize("argv", [
    ["--stack", "dev", "--format", "xml"],
    ["--format", "json"],
    ["--stack", "dev", "--bogus"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1


def test_missing_pack_exits_2(project: Any, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(project.path), "--stack", "dev", "--policy-pack", str(tmp_path)],
                out=out, err=err)
    assert (code, out.getvalue()) == (2, "")
    assert "no policy pack here" in err.getvalue()


# ---------------------------------------------------------------------------------------------
# Exit codes 0 and 1 (fixture pack: mandatory KMS rotation, advisory owner tag, budget)
# ---------------------------------------------------------------------------------------------


def _priced_total(review_json: Any, stack: str) -> float:
    _, report = review_json("--stack", stack, "--no-policies")
    return float(report["cost"]["monthly_total"])


def test_clean_stack_exits_0_advisories_do_not_fail(review_json: Any, project: Any, fixture_pack: Path) -> None:
    name = project.write_stack("roomy", {f"{NS}:budget": {"monthlyUsd": 10_000_000}}, base="dev")
    code, report = review_json("--stack", name, "--policy-pack", str(fixture_pack))
    assert report["policies"]["pack"] == "review-fixture"
    assert report["policies"]["mandatory"] == 0
    assert report["policies"]["advisory"] >= 1, "every tagged AWS resource lacks the fixture's owner tag"
    assert all(v["policy"] == "fixture-owner-tag" for v in report["policies"]["violations"])
    assert report["cost"]["over_budget"] is False
    assert code == report["verdict"]["exit_code"] == 0


def test_over_budget_exits_1_with_the_budget_violation(cli: Any, review_json: Any, project: Any,
                                                       fixture_pack: Path) -> None:
    total = _priced_total(review_json, "dev")
    assert total > 0
    budget = 100.0 if total > 100 else round(total / 2, 2)
    name = project.write_stack("tight", {f"{NS}:budget": {"monthlyUsd": budget}}, base="dev")

    code, report = review_json("--stack", name, "--policy-pack", str(fixture_pack))
    assert code == 1
    assert report["cost"]["budget"] == budget
    assert report["cost"]["over_budget"] is True
    budget_violations = [v for v in report["policies"]["violations"] if v["policy"] == "fixture-budget"]
    assert len(budget_violations) == 1
    assert budget_violations[0]["level"] == "mandatory"
    assert budget_violations[0]["urn"] == ""  # a stack violation
    # the pack got monthlyUsd, region and environment through Configure
    assert f"${budget:,.2f}" in budget_violations[0]["message"]
    assert "(dev)" in budget_violations[0]["message"]

    r = cli("--stack", name, "--policy-pack", str(fixture_pack))
    assert r.code == 1, r.stderr
    assert "fixture-budget" in r.stdout
    assert "over by" in r.stdout
    assert "Review failed" in r.stdout


def test_over_budget_fails_without_the_pack_too(review_json: Any, project: Any) -> None:
    total = _priced_total(review_json, "dev")
    name = project.write_stack("tight2", {f"{NS}:budget": {"monthlyUsd": round(total / 2, 2)}}, base="dev")
    code, report = review_json("--stack", name, "--no-policies")
    assert code == 1
    assert any("over budget" in reason for reason in report["verdict"]["reasons"])


def test_no_budget_set_is_a_note_not_a_failure(review_json: Any, project: Any) -> None:
    name = project.write_stack("nobudget", {f"{NS}:budget": {}}, base="dev")
    code, report = review_json("--stack", name, "--no-policies")
    assert code == 0
    assert report["cost"]["budget"] is None
    assert any("no budget" in n for n in report["notes"])


# ---------------------------------------------------------------------------------------------
# Settings the pack is configured with
# ---------------------------------------------------------------------------------------------


def _stack_config(stack: str, **config: str) -> StackConfig:
    return StackConfig("data-platform", Path("/nonexistent"), stack, f"Pulumi.{stack}.yaml", dict(config), [],
                       config.get("aws:region", "us-east-1"))


@pytest.mark.parametrize(("stack", "target", "env"), [
    ("production", "aws", "production"), ("prod-eu", "aws", "production"), ("dev", "aws", "production"),
    ("acme", "aws", "production"), ("production", "docker", "local"),
])
def test_environment_not_stated_is_the_strictest_whatever_the_name(stack: str, target: str, env: str) -> None:
    assert default_environment(target) == env
    cfg = {f"{NS}:target": target} if target != "aws" else {}
    assert StackSettings.from_config(_stack_config(stack, **cfg)).environment == env
    stated = StackSettings.from_config(_stack_config(stack, **cfg, **{f"{NS}:environment": "staging"}))
    assert stated.environment == "staging"


def test_stack_settings_from_config() -> None:
    sc = _stack_config("prod-x", **{"aws:region": "eu-west-1", f"{NS}:environment": "staging",
                                    f"{NS}:budget": '{"monthlyUsd": 1234.5}',
                                    f"{NS}:usage": '{"natGbPerMonth": 7}'})
    s = StackSettings.from_config(sc)
    assert (s.environment, s.region, s.budget, s.usage) == ("staging", "eu-west-1", 1234.5, {"natGbPerMonth": 7.0})
    assert s.policy_config() == {"monthlyUsd": 1234.5, "region": "eu-west-1", "usage": {"natGbPerMonth": 7.0},
                                 "environment": "staging", "intent": {}}
    declared = StackSettings.from_config(_stack_config("prod-x", **{
        f"{NS}:postgres": '{"multiAz": true, "backupRetentionDays": 35}', f"{NS}:alerts": '{"email": "x@y"}'}))
    assert declared.policy_config()["intent"] == {"postgres": {"multiAz": True, "backupRetentionDays": 35}}
    bare = StackSettings.from_config(_stack_config("dev"))
    assert bare.budget is None and bare.usage == {}
    assert bare.policy_config()["monthlyUsd"] is None


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------


def _section_order(md: str) -> list[str]:
    return re.findall(r"^#{2,3} (.+)$", md, flags=re.M)


def test_markdown_is_a_pr_comment(cli: Any, review_json: Any, project: Any, fixture_pack: Path) -> None:
    total = _priced_total(review_json, "dev")
    name = project.write_stack("mdtight", {f"{NS}:budget": {"monthlyUsd": round(total / 2, 2)}}, base="dev")
    r = cli("--stack", name, "--format", "markdown", "--policy-pack", str(fixture_pack))
    assert r.code == 1, r.stderr
    md = r.stdout
    headings = _section_order(md)
    assert headings[0].startswith("❌ Review of `mdtight`")
    assert headings[1:6] == ["Topology", "Policy violations", "Cost by component (USD/month)", "Unpriced", "Notes"] \
        or headings[1:5] == ["Topology", "Policy violations", "Cost by component (USD/month)", "Unpriced"]
    assert "```mermaid\nflowchart LR\n" in md
    summary = md.splitlines()[2]
    assert re.search(r"\*\*\d+ resources?\*\*", summary)
    assert re.search(r"\*\*[1-9]\d* mandatory\*\* / \d+ advisory violations", summary)
    assert "/month** (budget $" in summary and "over by" in summary
    assert "| Level | Policy | Resource | Message |" in md
    assert "| Component | Type | Monthly | Share |" in md
    assert "`fixture-budget`" in md
    # advisories are grouped per policy in a collapsed block
    assert re.search(r"<details><summary>🟡 \d+ advisory violation\(s\) of 1 policies</summary>", md)
    assert "| Policy | Count | Resource (first) | Message (first) |" in md
    assert "`fixture-owner-tag`" in md
    assert re.search(r"^\| \*\*total\*\* \|  \| \*\*\$[\d,]+\.\d\d\*\* \|", md, flags=re.M)
    # every table row has as many cells as its header
    for block in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block


def test_compare_to_shows_deltas(review_json: Any, cli: Any) -> None:
    _, dev = review_json("--stack", "dev", "--no-policies")
    _, prod = review_json("--stack", "production", "--compare-to", "dev", "--no-policies")
    cmp = prod["compare"]
    assert cmp["stack"] == "dev" and cmp["columns"] == {"other": "dev", "this": "production"}
    total = cmp["rows"][-1]
    assert total["component"] == "total"
    assert total["other"] == pytest.approx(dev["cost"]["monthly_total"])
    assert total["this"] == pytest.approx(prod["cost"]["monthly_total"])
    assert total["delta"] == pytest.approx(total["this"] - total["other"], abs=0.01)
    for row in cmp["rows"]:
        assert row["delta"] == pytest.approx(row["this"] - row["other"], abs=0.01)
    assert sum(r["this"] for r in cmp["rows"][:-1]) == pytest.approx(total["this"], abs=0.05)
    assert sum(r["other"] for r in cmp["rows"][:-1]) == pytest.approx(total["other"], abs=0.05)

    r = cli("--stack", "production", "--compare-to", "dev", "--no-policies", "--format", "markdown")
    assert "### Compared to `dev` (USD/month)" in r.stdout
    assert "| Component | Δ | `dev` | `production` |" in r.stdout
    assert r.stdout.index("### Compared to `dev`") < r.stdout.index("### Policy violations")  # the delta first
    t = cli("--stack", "production", "--compare-to", "dev", "--no-policies")
    assert "Compared to dev" in t.stdout


def test_compare_to_a_bad_stack_exits_2(cli: Any, project: Any) -> None:
    name = project.write_stack("badcmp", {f"{NS}:redis": {"shards": 501}}, base="dev")
    r = cli("--stack", "dev", "--compare-to", name, "--no-policies")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == f"Pulumi.{name}.yaml: {NS}:redis.shards: 501 is not allowed (1..500)\n"


def test_text_output_lists_every_resource(cli: Any, review_json: Any) -> None:
    _, report = review_json("--stack", "dev", "--no-policies")
    r = cli("--stack", "dev", "--no-policies", "--details")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.split()[1:2] == ["pulumi:pulumi:Stack"] for line in lines if line.startswith(" +"))
    for res in report["resources"]:
        assert any(res["type"] in line and f" {res['name']} " in f"{line} " for line in lines), res["urn"]
    assert "Monthly total" in r.stdout and "Timings:" in r.stdout


# ---------------------------------------------------------------------------------------------
# The tree, on a synthetic stack (nesting, lock, violations under their resource, 400 resources)
# ---------------------------------------------------------------------------------------------

STACK = "test"
PREFIX = f"urn:pulumi:{STACK}::data-platform::"


def _res(type_: str, name: str, parent: RecordedResource | None = None, *, custom: bool = True,
         protect: bool = False, inputs: dict[str, Any] | None = None) -> RecordedResource:
    chain = type_
    if parent is not None:
        chain = parent.urn.split("::")[2] + "$" + type_
    return RecordedResource(f"{PREFIX}{chain}::{name}", type_, name, custom, parent.urn if parent else None,
                            inputs or {}, protect, False, None, [])


def _synthetic(n_children: int = 2) -> list[RecordedResource]:
    pg = _res("data-platform:aws:Postgres", "pg", custom=False)
    kids = [_res("aws:rds/instance:Instance", f"pg-{i}", pg, protect=(i == 0),
                 inputs={"instanceClass": "db.r6g.large", "engine": "postgres", "allocatedStorage": 100,
                         "storageType": "gp3"})
            for i in range(n_children)]
    sg = _res("aws:ec2/securityGroup:SecurityGroup", "pg-sg", pg)
    key = _res("aws:kms/key:Key", "loose-key")
    return [pg, *kids, sg, key]


def _report(resources: list[RecordedResource], violations: list[Any], budget: float | None = None) -> dict[str, Any]:
    from review.analyzer import Violation

    run = ProgramRun("data-platform", STACK, resources, {}, 0.1, None, _stack_config(STACK))
    settings = StackSettings(STACK, "us-east-1", "dev", budget)
    cost = estimate([r.to_json() for r in resources], region="us-east-1")
    vs = [Violation(*v) for v in violations]
    return build_report(run, settings, PolicyResult("p", "1", vs, 3), cost,
                        {"program_s": 0.1, "policies_s": 0.1, "cost_s": 0.1})


def test_tree_nests_children_marks_protect_and_puts_violations_under_their_resource() -> None:
    res = _synthetic()
    inst = res[1]
    report = _report(res, [("rds-x", "mandatory", inst.urn, "storageEncrypted is not true"),
                           ("tag-x", "advisory", res[-1].urn, "no owner tag"),
                           ("budget", "mandatory", "", "over budget")])
    rows = tree_rows(report)
    kinds = [(r.kind, r.type, r.name.split()[0] if r.kind == "resource" else r.type) for r in rows]
    assert kinds[0] == ("resource", "pulumi:pulumi:Stack", f"data-platform-{STACK}")
    assert kinds[1] == ("violation", "budget", "budget")  # the stack's own violation, right under it
    names = [r.name for r in rows if r.kind == "resource"]
    assert names.index("pg") < names.index("pg-0") < names.index("pg-sg")
    by_name = {r.name: r for r in rows if r.kind == "resource"}
    assert by_name["pg-0"].depth == by_name["pg"].depth + 1 == 2
    assert by_name["loose-key"].depth == 1
    assert by_name["pg-0"].protect and not by_name["pg-1"].protect
    i = rows.index(by_name["pg-0"])
    assert (rows[i + 1].kind, rows[i + 1].type, rows[i + 1].level) == ("violation", "rds-x", "mandatory")
    assert by_name["pg-0"].info == "1 mandatory"

    out = io.StringIO()
    render_text(report, out, details=True)
    text = out.getvalue()
    line = next(ln for ln in text.splitlines() if " pg-0 " in ln)
    assert "🔒" in line and "1 mandatory" in line
    assert "├─ aws:rds/instance:Instance" in line or "└─ aws:rds/instance:Instance" in line
    assert "✖ mandatory [rds-x] storageEncrypted is not true" in text
    assert "⚠ advisory [tag-x] no owner tag" in text
    assert exit_code(report) == 1


def test_tree_is_one_line_per_resource_at_400() -> None:
    res = _synthetic(n_children=400)
    report = _report(res, [])
    out = io.StringIO()
    render_text(report, out, details=True)
    tree = out.getvalue().split("\n\n")[2].splitlines()
    assert len(tree) == 1 + 1 + len(res)  # header, stack, one line per resource
    assert all(line.startswith(" +   ") for line in tree[1:])
    assert exit_code(report) == 0


def test_exit_code_rules() -> None:
    res = _synthetic()
    assert exit_code(_report(res, [("a", "advisory", res[1].urn, "m")])) == 0
    assert exit_code(_report(res, [("m", "mandatory", res[1].urn, "m")])) == 1
    over = _report(res, [], budget=10.0)
    assert over["cost"]["monthly_total"] > 10.0
    assert over["cost"]["over_budget"] is True and exit_code(over) == 1
    assert render_markdown(over).startswith("## ❌ Review of `test`")


# ---------------------------------------------------------------------------------------------
# The real pack (policies/)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "production", "local"])
def test_shipped_stacks_are_clean_under_the_real_pack(review_json: Any, stack: str) -> None:
    code, report = review_json("--stack", stack)
    assert report["policies"]["pack"] == "data-platform"
    assert report["policies"]["policies"] > 0
    mandatory = [f"{v['policy']} {v['urn']}: {v['message']}" for v in report["policies"]["violations"]
                 if v["level"] == "mandatory"]
    assert not mandatory, "\n".join(mandatory)
    assert not report["cost"]["over_budget"], (report["cost"]["monthly_total"], report["cost"]["budget"])
    assert code == 0


def test_real_budget_policy_gets_the_stack_budget(review_json: Any, project: Any) -> None:
    total = _priced_total(review_json, "production")
    budget = 100.0 if total > 100 else round(total / 2, 2)
    name = project.write_stack("prod-tight", {f"{NS}:budget": {"monthlyUsd": budget}}, base="production")
    code, report = review_json("--stack", name)
    assert code == 1
    assert report["environment"] == "production"
    budget_violations = [v for v in report["policies"]["violations"] if "budget" in v["policy"]]
    assert len(budget_violations) == 1, report["policies"]["violations"]
    v = budget_violations[0]
    assert (v["level"], v["urn"]) == ("mandatory", "")
    assert f"${budget:,.2f}" in v["message"] and f"${report['cost']['monthly_total']:,.2f}" in v["message"]


def test_unknown_inputs_become_the_contract_marker() -> None:
    """An output not known at preview (``pulumi.output.Unknown`` left in inputs) is "[unknown]" in
    the report and in what the pack receives, never a Python repr."""
    from pulumi.output import Unknown

    from review.report import resource_dicts

    r = _res("docker:index/container:Container", "c", inputs={"image": Unknown(), "ports": [{"x": Unknown()}]})
    run = ProgramRun("data-platform", STACK, [r], {"o": Unknown()}, 0.1, None, _stack_config(STACK))
    (d,) = resource_dicts(run)
    assert d["inputs"] == {"image": "[unknown]", "ports": [{"x": "[unknown]"}]}
    assert r.inputs["image"] is not None  # the recorded resource itself is left alone
    report = build_report(run, StackSettings(STACK, "us-east-1", "local", None), PolicyResult(None),
                          estimate([d], region="us-east-1"), {"program_s": 0.1, "policies_s": 0, "cost_s": 0.1})
    assert report["outputs"] == {"o": "[unknown]"}

