"""The config reference in README.md is generated from infra/settings.py and kept up to date."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "config_reference.py"
FIX = "python scripts/config_reference.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_reference", module)
    spec.loader.exec_module(module)
    return module


ref = _load()


def rows() -> dict[str, Any]:
    return {r.key: r for s in ref.sections() for r in s.rows}


def test_readme_is_up_to_date() -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.fail(f"README.md is missing: create it with the lines {ref.START} and {ref.END}, then run {FIX}")
    text = readme.read_text(encoding="utf-8")
    if ref.START not in text or ref.END not in text:
        pytest.fail(f"README.md has no config-reference markers: add {ref.START} and {ref.END} "
                    f"where the reference goes, then run {FIX}")
    assert ref.replace_section(text, ref.render()) == text, f"README.md config reference is out of date: run {FIX}"


def test_every_key_is_listed() -> None:
    from pydantic import BaseModel

    from infra.settings import Settings

    def leaves(model: type[BaseModel], prefix: str) -> set[str]:
        found: set[str] = set()
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                found |= leaves(field.annotation, f"{prefix}{alias}.")
            else:
                found.add(f"{prefix}{alias}")
        return found

    expected = {f"data-platform:{k}" for k in leaves(Settings, "")} - {
        "data-platform:stack", "data-platform:stackFile", "data-platform:environmentStated",
        "data-platform:region"} | {"aws:region"}
    assert set(rows()) == expected


def test_rows_carry_type_default_allowed_and_description() -> None:
    table = rows()
    shards = table["data-platform:redis.shards"]
    assert (shards.type, shards.default, shards.allowed) == ("integer", "3", "1..500")
    assert shards.description.startswith("Node groups (shards).")
    cls = table["data-platform:postgres.instanceClass"]
    assert (cls.default, cls.allowed) == ("db.r6g.xlarge", r"`^db\.[a-z0-9]+\.[a-z0-9]+$`")
    assert table["data-platform:redis.engine"].allowed == "valkey, redis"
    assert table["data-platform:postgres.backupWindow"].allowed == "hh24:mi-hh24:mi, UTC"
    assert table["data-platform:drRegion"].type == "string or null"
    assert table["data-platform:alerts.email"].allowed == "an e-mail address"
    assert table["data-platform:budget.monthlyUsd"].allowed == "> 0"
    assert table["data-platform:postgres.pooling.poolMode"].default == "transaction"
    assert table["data-platform:environment"].allowed == "dev, staging, production, local"
    assert table["aws:region"].default == "us-east-1"


def test_markdown_escapes_pipes() -> None:
    line = next(x for x in ref.render().splitlines() if x.startswith("| `data-platform:environment`"))
    assert "dev \\| staging" in line
    assert line.count(" | ") == 4  # five cells, no stray separators


def test_check_and_rewrite(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{ref.START}\nold\n{ref.END}\n\nafter\n", encoding="utf-8")
    assert ref.main(["--check", "--readme", str(readme)]) == 1
    assert ref.main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "\nold\n" not in text and text.endswith(f"{ref.END}\n\nafter\n") and text.startswith("# x\n")
    assert "| `data-platform:redis.shards` |" in text
    assert ref.main(["--check", "--readme", str(readme)]) == 0
    readme.write_text("# no markers\n", encoding="utf-8")
    assert ref.main(["--check", "--readme", str(readme)]) == 2
