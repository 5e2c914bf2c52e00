"""Layering rules of architecture.md §2 (Layout), checked on the source with :mod:`ast` (nothing is imported).

Dependencies point one way: ``infra → components``; ``review → cost``; ``policies → cost``; nothing
imports ``infra`` or ``review`` except their own entry points and tests. ``cost`` is used by
``review`` and by the budget policy and imports neither. Nothing in ``components/`` reads stack
config directly: it gets typed args (Protocols such as ``components.render.postgres.PostgresParams``
that the ``infra.settings`` models satisfy structurally).

``scripts/`` and ``tests/`` are not checked: they may import anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package -> top-level packages of this project it must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "components": frozenset({"infra", "review"}),
    "policies": frozenset({"infra", "review"}),
    "cost": frozenset({"infra", "review", "policies"}),
    "ops": frozenset({"infra", "review"}),
}

#: Call targets that import a module named by their first argument.
_DYNAMIC_IMPORTS = frozenset({"import_module", "__import__", "run_module", "find_spec"})


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _resolve_relative(module: str | None, level: int, importer: str, is_package: bool) -> str:
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([module] if module else [])])


def _constant_prefix(node: ast.expr) -> str | None:
    """The literal text of a module-name argument: a string, or the leading text of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def imports_of(source: str, importer: str = "pkg.mod", *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import in ``source``: ``import``, ``from ... import`` (relative
    ones resolved against ``importer``), also inside functions and ``if TYPE_CHECKING:`` blocks, and
    ``importlib.import_module("...")``-style calls with a literal (or f-string-prefixed) name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = _resolve_relative(node.module, node.level, importer, is_package)
            yield node.lineno, module
            if not node.module:
                # ``from . import x`` / ``from .. import x``: the names may be modules.
                for alias in node.names:
                    yield node.lineno, f"{module}.{alias.name}" if module else alias.name
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in _DYNAMIC_IMPORTS:
                prefix = _constant_prefix(node.args[0])
                if prefix:
                    yield node.lineno, prefix


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _python_files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if ".venv" not in p.parts)


def _violations(package: str) -> list[str]:
    forbidden = FORBIDDEN[package]
    found = []
    for path in _python_files(package):
        importer = _module_of(path)
        for line, module in imports_of(path.read_text(encoding="utf-8"), importer,
                                       is_package=path.name == "__init__.py"):
            if _top(module) in forbidden:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package: str) -> None:
    assert _python_files(package), f"no Python files under {package}/: the walk is looking in the wrong place"
    violations = _violations(package)
    assert not violations, (
        f"{package}/ must not import {', '.join(sorted(FORBIDDEN[package]))} (architecture.md §2):\n  "
        + "\n  ".join(violations)
    )


def test_components_do_not_read_stack_config() -> None:
    """``pulumi.Config`` belongs to ``infra/settings.py``; components get typed args."""
    found = []
    for path in _python_files("components"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in ("Config", "config")
                    and isinstance(node.value, ast.Name) and node.value.id == "pulumi"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: pulumi.{node.attr}")
            elif isinstance(node, ast.ImportFrom) and node.module in ("pulumi", "pulumi.config") and any(
                    a.name in ("Config", "config") or node.module == "pulumi.config" for a in node.names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import ...")
    assert not found, "components/ reads stack config directly:\n  " + "\n  ".join(found)


# ---------------------------------------------------------------- the detector itself


@pytest.mark.parametrize(("source", "importer", "expected"), [
    ("import infra", "components.x", "infra"),
    ("import infra.settings as s", "components.x", "infra.settings"),
    ("from infra.settings import PostgresSettings", "components.render.postgres", "infra.settings"),
    ("def f():\n    from review.report import Report\n", "policies.budget", "review.report"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from infra.topology import Topology\n",
     "ops.cli", "infra.topology"),
    ("import importlib\nimportlib.import_module('infra.settings')", "ops.cli", "infra.settings"),
    ("import importlib\nimportlib.import_module(f'review.{name}')", "cost.model", "review."),
    ("__import__('policies')", "cost.model", "policies"),
])
def test_detector_finds_imports(source: str, importer: str, expected: str) -> None:
    assert expected in {m for _, m in imports_of(source, importer)}


def test_detector_resolves_relative_imports() -> None:
    found = {m for _, m in imports_of("from ..render import redis\nfrom . import params\nfrom .. import x\n",
                                      "components.docker.redis")}
    assert found == {"components.render", "components.docker", "components.docker.params",
                     "components", "components.x"}
    assert {m for _, m in imports_of("from .model import X\n", "cost", is_package=True)} == {"cost.model"}


def test_the_aws_composition_does_not_load_the_docker_sdk() -> None:
    """Importing pulumi_docker costs ~0.2 s of every AWS review and preview; the AWS stacks take their
    pinned images from components.images, which imports no provider SDK."""
    import subprocess
    import sys

    code = "import sys, infra.aws; print('pulumi_docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("composition", ["aws", "docker"])
def test_the_compositions_read_only_the_topology(composition: str) -> None:
    """Settings → topology → components: ``infra/aws.py`` and ``infra/docker.py`` take everything from
    ``infra.topology`` and import no settings model (issue 14)."""
    path = ROOT / "infra" / f"{composition}.py"
    found = [f"{path.relative_to(ROOT)}:{line}: imports {module}"
             for line, module in imports_of(path.read_text(encoding="utf-8"), f"infra.{composition}")
             if module == "infra.settings" or module.startswith("infra.settings.")]
    assert not found, "a composition reads the settings:\n  " + "\n  ".join(found)
