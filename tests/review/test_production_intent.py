"""Production's intent is guarded by the pack, not only by the settings: a *code* change that weakens
production — the stack file untouched — makes the production review exit 1.

Each case plants one weakening in a component (its arguments replaced on the way in, or a catalogue
function patched), runs the review in-process on the real production stack file and asserts exit code 1
with a mandatory finding of the named policy. The unpatched review is clean but for the reasoned
exemption (rds-non-default-port).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _review() -> tuple[int, dict[str, Any]]:
    from review.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(ROOT), "--stack", "production", "--format", "json"], out=out, err=err)
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue())


def _replace_args(monkeypatch: pytest.MonkeyPatch, module: str, cls: str, **changes: Any) -> None:
    """Construct every ``module.cls`` component with ``changes`` applied to its args (a code change)."""
    import importlib

    klass = getattr(importlib.import_module(module), cls)
    original = klass.__init__

    def init(self: Any, name: str, args: Any, *rest: Any, **kw: Any) -> None:
        original(self, name, dataclasses.replace(args, **changes), *rest, **kw)

    monkeypatch.setattr(klass, "__init__", init)


def _loosen_alarm(monkeypatch: pytest.MonkeyPatch) -> None:
    import components.aws.alarms as alarms

    original = alarms.alarm_specs

    def specs(args: Any) -> list[Any]:
        return [dataclasses.replace(s, threshold=s.threshold * 2) if s.alert.name == "RedisMemoryHigh" and
                s.threshold > 0 else s for s in original(args)]

    monkeypatch.setattr(alarms, "alarm_specs", specs)


def _drop_key_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_aws as aws

    original = aws.kms.Key.__init__

    def init(self: Any, *args: Any, **kw: Any) -> None:
        if "enable_key_rotation" in kw:
            kw["enable_key_rotation"] = False
        original(self, *args, **kw)

    monkeypatch.setattr(aws.kms.Key, "__init__", init)


WEAKENINGS: list[tuple[str, Callable[[pytest.MonkeyPatch], None], set[str]]] = [
    ("postgres Multi-AZ off", lambda m: _replace_args(m, "components.aws.postgres", "Postgres", multi_az=False),
     {"rds-multi-az", "intent-postgres"}),
    ("postgres deletion protection off",
     lambda m: _replace_args(m, "components.aws.postgres", "Postgres", deletion_protection=False),
     {"rds-deletion-protection", "intent-postgres"}),
    ("postgres backup retention cut to 7 days",
     lambda m: _replace_args(m, "components.aws.postgres", "Postgres", backup_retention_days=7),
     {"intent-postgres"}),
    ("redis snapshot retention cut to 1 day",
     lambda m: _replace_args(m, "components.aws.redis", "Redis", snapshot_retention_days=1), {"intent-redis"}),
    ("backup lifecycle shortened to 90 days",
     lambda m: _replace_args(m, "components.aws.backups", "Backups", monthly_days=90),
     {"intent-backup-lifecycle"}),
    ("qdrant replication factor 1",
     lambda m: _replace_args(m, "components.aws.vector", "Vector", replication_factor=1),
     {"intent-vector-replication"}),
    ("neo4j down to one primary",
     lambda m: _replace_args(m, "components.aws.graph", "Graph", primaries=1), {"intent-graph-topology"}),
    ("an alarm loosened (RedisMemoryHigh threshold doubled)", _loosen_alarm, {"alarm-baseline"}),
    ("KMS key rotation off", _drop_key_rotation, {"kms-key-rotation"}),
    ("readonly_user widened to write commands",
     lambda m: m.setattr("components.aws.redis.READONLY_ACCESS",
                         __import__("components.aws.redis").aws.redis.READONLY_ACCESS + " +@write"),
     {"elasticache-readonly-user-read-only"}),
]


def test_unweakened_production_review_is_clean() -> None:
    code, report = _review()
    assert code == 0, report["verdict"]
    assert report["policies"]["mandatory"] == 0


@pytest.mark.parametrize(("what", "plant", "policies"), WEAKENINGS, ids=[w[0] for w in WEAKENINGS])
def test_a_weakening_planted_in_code_fails_the_production_review(
        monkeypatch: pytest.MonkeyPatch, what: str, plant: Callable[[pytest.MonkeyPatch], None],
        policies: set[str]) -> None:
    plant(monkeypatch)
    code, report = _review()
    mandatory = {v["policy"] for v in report["policies"]["violations"] if v["level"] == "mandatory"}
    assert code == 1, f"{what}: the production review exited {code}"
    assert policies <= mandatory, f"{what}: mandatory findings {sorted(mandatory)}"


# -- exemptions -------------------------------------------------------------------------------------------------


def test_production_review_prints_its_exemption(review_json: Callable[..., tuple[int, dict[str, Any]]],
                                                cli: Callable[..., Any]) -> None:
    """0 mandatory, 0 unexplained advisory: the one remaining finding (5432) is carried by the stack file's
    exemption, which every format prints with its reason."""
    code, report = review_json("--stack", "production")
    pol = report["policies"]
    assert code == 0 and pol["violations"] == [] and pol["mandatory"] == pol["advisory"] == 0
    (ex,) = pol["exempted"]
    assert ex["policy"] == "rds-non-default-port" and ex["urn"].endswith("::postgres-primary")
    assert "obscurity" in ex["reason"]
    assert pol["exemptions"] == [{"policy": "rds-non-default-port", "resource": "postgres-primary",
                                  "reason": ex["reason"], "matched": 1}]
    text = cli("--stack", "production")
    assert "Exempted by the stack file" in text.stdout and "obscurity" in text.stdout
    md = cli("--stack", "production", "--format", "markdown")
    assert "**Exempted by the stack file**" in md.stdout and "`rds-non-default-port`" in md.stdout


def test_a_mandatory_finding_cannot_be_exempted(project: Any, monkeypatch: pytest.MonkeyPatch,
                                               review_json: Callable[..., tuple[int, dict[str, Any]]]) -> None:
    """An exemption in the stack file does not turn a weakening of production into a pass; exemptions that
    match nothing or lack a reason are reported in the notes."""
    stack = project.write_stack("prod-ex", {
        "data-platform:environment": "production",
        "data-platform-policies:exemptions": [
            {"policy": "rds-multi-az", "reason": "trying to exempt a production protection"},
            {"policy": "rds-non-default-port", "resource": "postgres-primary", "reason": "5432 kept"},
            {"policy": "k8s-image-pinned", "reason": "matches nothing"},
            {"policy": "rds-custom-master-username"}]}, base="production")
    _replace_args(monkeypatch, "components.aws.postgres", "Postgres", multi_az=False)
    code, report = review_json("--stack", stack)
    assert code == 1
    assert "rds-multi-az" in {v["policy"] for v in report["policies"]["violations"] if v["level"] == "mandatory"}
    assert [v["policy"] for v in report["policies"]["exempted"]] == ["rds-non-default-port"]
    notes = " | ".join(report["notes"])
    assert "exemption of rds-multi-az does not apply to the mandatory finding" in notes
    assert "exemption of k8s-image-pinned matched no advisory finding" in notes
    assert "data-platform-policies:exemptions[3] needs a policy and a reason" in notes
