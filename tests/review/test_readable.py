"""The review as people read it (issue 19): the text view in a 120-column terminal (summary first,
grouped tree, ≤ 160 lines, nothing wider than the terminal, no name split, verdict last), ``--details``
with everything the old tree had, and the Mermaid topology."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.review.conftest import ROOT, Project


def _run(project: Project, *args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS=str(columns), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "review", "--project-dir", str(project.path), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=180, check=False)


@pytest.fixture(scope="module")
def production(project: Project) -> dict[str, Any]:
    text = _run(project, "--stack", "production")
    details = _run(project, "--stack", "production", "--details")
    js = _run(project, "--stack", "production", "--format", "json")
    assert text.returncode == details.returncode == js.returncode == 0, text.stderr + details.stderr + js.stderr
    return {"text": text.stdout, "details": details.stdout, "report": json.loads(js.stdout)}


def test_production_fits_a_120_column_terminal_in_160_lines(production: dict[str, Any]) -> None:
    lines = production["text"].splitlines()
    assert len(lines) <= 160, len(lines)
    assert max(len(line.rstrip()) for line in lines) <= 120


def test_summary_first_verdict_and_exit_code_last(production: dict[str, Any]) -> None:
    lines = [ln.rstrip() for ln in production["text"].splitlines() if ln.strip()]
    report = production["report"]
    head = "\n".join(lines[:8])
    assert lines[0].startswith("Review of stack production (production)")
    assert re.search(r"Region\s+us-east-1 \(DR us-west-2\)", head)
    assert f"Resources  {report['summary']['resources']} " in head
    assert "postgres " in head and "redis " in head  # resources by component
    assert re.search(r"Policies\s+0 mandatory, \d+ advisory", head)
    assert re.search(r"Cost\s+\$[\d,.]+/month vs budget \$3,530.00", head)
    assert lines[-1] == "Review passed (exit code 0)"


def test_repeated_children_collapse_into_one_row_per_type(production: dict[str, Any]) -> None:
    text = production["text"]
    alarms = sum(1 for r in production["report"]["resources"] if r["type"].endswith(":MetricAlarm"))
    assert alarms > 10
    assert f"MetricAlarm ×{alarms}" in text
    assert "alarms-PostgresCPUHigh-pg-dr" not in text  # the rows are grouped, not listed
    assert "--details lists each one" in text


def test_names_are_never_split(production: dict[str, Any]) -> None:
    names = {r["name"] for r in production["report"]["resources"]}
    text = production["text"]
    tree = text[text.index("Resources (grouped"):text.index("Policies: pack")]
    shown = re.findall(r"\(([A-Za-z0-9][\w.-]*)\)", tree)
    assert len(shown) > 20
    # every "(name)" in the grouped tree is a whole resource name, never the first part of one
    assert [n for n in shown if n not in names] == []
    # a name cut at the end of a line would leave its start on one line and the rest on the next
    for line in tree.splitlines():
        last = line.rstrip().rsplit(" ", 1)[-1].strip("(),")
        assert not (last not in names and any(n.startswith(last) and n != last for n in names) and
                    len(last) > 8), line


def test_details_lists_every_resource_like_the_old_tree(production: dict[str, Any]) -> None:
    lines = production["details"].splitlines()
    for res in production["report"]["resources"]:
        assert any(res["type"] in ln and f" {res['name']} " in f"{ln} " for ln in lines), res["urn"]
    assert production["details"].rstrip().splitlines()[-1] == "Review passed (exit code 0)"
    assert len(lines) > len(production["report"]["resources"])


def test_short_flag_v_is_details(project: Project) -> None:
    r = _run(project, "--stack", "dev", "--no-policies", "-v")
    assert r.returncode == 0, r.stderr
    assert "Previewing stack dev" in r.stdout




# ---------------------------------------------------------------------------------------------
# The Mermaid topology, parsed by the official mermaid package (scripts/mermaid_check.mjs)
# ---------------------------------------------------------------------------------------------

CHECKER = ROOT / "scripts" / "mermaid_check.mjs"
INSTALL = "npm ci  (at the repository root; installs mermaid and jsdom from package-lock.json)"


def mermaid_parse(tmp_path: Path, diagrams: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Parse each diagram with ``mermaid.parse`` in Node; fail the test with the install command
    when Node or the package is missing."""
    if shutil.which("node") is None:
        pytest.fail(f"node is not installed: the Mermaid check needs Node.js >= 20, then {INSTALL}")
    if not (ROOT / "node_modules" / "mermaid" / "package.json").is_file():
        pytest.fail(f"the mermaid package is not installed (node_modules/mermaid missing): run {INSTALL}")
    files = []
    for name, text in diagrams.items():
        path = tmp_path / f"{name}.mmd"
        path.write_text(text)
        files.append(str(path))
    return subprocess.run(["node", str(CHECKER), *files], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def _markdown_block(markdown: str) -> str:
    match = re.search(r"```mermaid\n(.*?)```", markdown, re.S)
    assert match, "no mermaid block in the markdown"
    return match.group(1)


@pytest.mark.parametrize("stack", ["production", "dev", "local"])
def test_mermaid_format_prints_a_diagram_mermaid_parses(project: Project, tmp_path: Path, stack: str) -> None:
    r = _run(project, "--stack", stack, "--format", "mermaid", "--no-policies")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("flowchart LR\n")
    md = _run(project, "--stack", stack, "--format", "markdown", "--no-policies")
    assert "### Topology" in md.stdout
    assert _markdown_block(md.stdout) == r.stdout  # the same diagram in the PR comment
    proc = mermaid_parse(tmp_path, {stack: r.stdout})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok (flowchart" in proc.stdout


def test_production_diagram_shows_regions_azs_roles_links_and_backups(project: Project) -> None:
    text = _run(project, "--stack", "production", "--format", "mermaid", "--no-policies").stdout
    for needle in ('"us-east-1 (primary region)"', '"us-west-2 (DR region)"', '"us-east-1a"', '"us-east-1c"',
                   "postgres/primary · writer", "postgres/standby · Multi-AZ standby",
                   "postgres/dr-replica · DR replica",
                   "redis/shard-3/primary · shard primary", "graph/primary-2 · Raft primary", "vector/peer-3 · peer",
                   "n_postgres_primary == sync ==> n_postgres_standby",
                   "n_postgres_primary -- async --> n_postgres_replica_1",
                   "n_postgres_primary -. cross-region async .-> n_postgres_dr_replica",
                   "RDS automated backups, 30 d", "-. replicated .-> n_backup_dr"):
        assert needle in text, needle


def test_the_check_rejects_a_diagram_github_would_refuse(tmp_path: Path) -> None:
    """The test of the test: broken diagrams fail mermaid.parse, a good one passes."""
    good = "flowchart LR\n  a[\"primary\"] == sync ==> b[\"standby\"]\n"
    broken = {
        "dangling_link": "flowchart LR\n  a -- async -->\n",
        "unclosed_subgraph_label": 'flowchart LR\n  subgraph r["us-east-1]\n    a\n  end\n',
        "unknown_diagram": "flowchat LR\n  a --> b\n",
        "bad_shape": "flowchart LR\n  a[(\"db\"]\n",
    }
    assert mermaid_parse(tmp_path, {"good": good}).returncode == 0
    for name, text in broken.items():
        proc = mermaid_parse(tmp_path, {name: text})
        assert proc.returncode == 1, f"{name} parsed: {proc.stdout}"
        assert f"{name}.mmd:" in proc.stderr


# ---------------------------------------------------------------------------------------------
# Errors that help
# ---------------------------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest_one_on_stderr(project: Project) -> None:
    name = project.write_stack("typo", {"data-platform:postgres": {"multiAZ": True}}, base="dev")
    r = _run(project, "--stack", name, "--no-policies")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("Pulumi.typo.yaml: data-platform:postgres.multiAZ: true is not allowed "
                               "(unknown key; did you mean multiAz? known keys: ")
    assert r.stderr.count("\n") == 1


def test_bad_region_is_reported_under_aws_region(project: Project) -> None:
    name = project.write_stack("badregion", {"aws:region": "us-east-9x"}, base="dev")
    r = _run(project, "--stack", name, "--no-policies")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("Pulumi.badregion.yaml: aws:region: us-east-9x is not allowed "
                        "(an AWS region name such as us-east-1)\n")


@pytest.mark.parametrize(("text", "message"), [
    ("config:\n  aws:region: [unclosed\n",
     "Pulumi.broken1.yaml: line 3, column 1: not valid YAML: expected ',' or ']', but got '<stream end>' "
     "(while parsing a flow sequence)\n"),
    ("config:\n  aws:region: us-east-1\n   data-platform:redis: {}\n",
     "Pulumi.broken2.yaml: line 3, column 23: not valid YAML: mapping values are not allowed here\n"),
    ("config:\n\taws:region: us-east-1\n",
     "Pulumi.broken3.yaml: line 2, column 1: not valid YAML: found character '\\t' that cannot start any token "
     "(while scanning for the next token)\n"),
])
def test_yaml_errors_give_line_column_and_reason(project: Project, text: str, message: str) -> None:
    stack = message.split(".yaml")[0].removeprefix("Pulumi.")
    (project.path / f"Pulumi.{stack}.yaml").write_text(text)
    r = _run(project, "--stack", stack, "--no-policies")
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message)


def test_an_interpreter_without_the_dependencies_is_told_how_to_run_it(project: Project) -> None:
    """``python -S`` has no site-packages: no pulumi, yaml, rich … — a sentence, not a traceback."""
    r = subprocess.run([sys.executable, "-S", "-m", "review", "--stack", "dev"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60, check=False)
    assert (r.returncode, r.stdout) == (2, "")
    assert "Traceback" not in r.stderr
    assert "does not have the project's dependencies (missing: pulumi" in r.stderr
    assert "Run `make review`" in r.stderr and ".venv/bin/python -m review --stack dev" in r.stderr


def test_make_review_json_writes_only_json(tmp_path: Path) -> None:
    if shutil.which("make") is None or not (ROOT / ".venv" / ".installed").exists():
        pytest.fail("make review-json needs make and the project's .venv (make setup)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    r = subprocess.run(["make", "--no-print-directory", "review-json", "STACK=dev"], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert report["stack"] == "dev"


# ---------------------------------------------------------------------------------------------
# README for a newcomer
# ---------------------------------------------------------------------------------------------


def test_readme_lists_every_makefile_target_and_links_only_files_in_the_repo() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*?)(?<!\\)$", makefile, re.M | re.S)
    assert phony
    targets = phony.group(1).replace("\\\n", " ").split()
    assert len(targets) > 10
    assert [t for t in targets if f"`make {t}`" not in readme] == []
    prose = re.sub(r"`[^`\n]*`", "", readme)  # code spans (regular expressions of the config reference)
    links = re.findall(r"\]\(([^)#][^)]*)\)", prose)
    assert links
    assert [link for link in links if "://" not in link and not (ROOT / link).exists()] == []


def test_readme_starts_with_the_two_commands_then_the_output_then_stacks_then_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    order = [readme.index(h) for h in ("make review", "make test", "## Reading the review", "exit code",
                                       "## Stacks", "## Configuration reference")]
    assert order == sorted(order)
    assert "| 2 |" in readme and "`mermaid`" in readme and "--details" in readme
