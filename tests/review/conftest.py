"""Fixtures of the review tests: a scratch project dir and the review run as the CLI runs it.

``project`` is a temporary project directory: the real ``Pulumi.yaml``, ``infra/`` and ``policies/``
symlinked (the program and the pack are the real ones), the real stack files copied, and
``write_stack(name, config)`` to add stack files the tests need (a bad one, a tiny budget ...).
``fixture_pack`` is a three-policy pack (mandatory KMS rotation, advisory owner tag, a budget stack
policy with the real budget policy's config contract), so exit codes can be tested whatever state
the real pack is in. ``cli`` runs ``python -m review`` in a subprocess (what users run: exit code,
stdout and stderr exactly); ``review_json`` runs it in-process and parses the JSON.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PACK = Path(__file__).resolve().parent / "fixtures" / "pack"


@dataclass
class Project:
    path: Path

    def write_stack(self, name: str, config: dict[str, Any], *, base: str | None = None) -> str:
        """Write ``Pulumi.<name>.yaml``: ``config`` keys (``data-platform:budget`` ...) on top of the
        real stack file ``base`` (sections replaced, not merged)."""
        doc: dict[str, Any] = {"config": {}}
        if base is not None:
            doc = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())
        doc.setdefault("config", {}).update(config)
        (self.path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return name


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    path = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "Pulumi.yaml", path / "Pulumi.yaml")
    for d in ("infra", "policies"):
        (path / d).symlink_to(ROOT / d, target_is_directory=True)
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, path / stack_file.name)
    return Project(path)


@pytest.fixture(scope="session")
def fixture_pack() -> Path:
    return FIXTURE_PACK


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def cli(project: Project) -> Callable[..., CliResult]:
    def run(*args: str, cwd: Path | None = None) -> CliResult:
        env = dict(os.environ, COLUMNS="160", NO_COLOR="1")
        proc = subprocess.run(
            [sys.executable, "-m", "review", "--project-dir", str(project.path), *args],
            capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=120, check=False)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="session")
def review_json(project: Project) -> Callable[..., tuple[int, dict[str, Any]]]:
    """``review_json("--stack", "dev", ...)`` → (exit code, parsed JSON report), in-process."""
    from review.cli import main

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--project-dir", str(project.path), "--format", "json", *args], out=out, err=err)
        assert code in (0, 1), f"exit {code}: {err.getvalue()}"
        return code, json.loads(out.getvalue())

    return run
