"""Checks, findings and how a command's report is printed.

Every command produces a :class:`Report`: a list of :class:`Check` rows, each naming the
resource, the property, the expected and the actual value. A check whose status is not ``ok`` is
a *finding*. ``error`` findings make the command exit 1; ``warning`` findings are printed but only
fail the command with ``--strict`` (they mark what could not be measured, such as a CloudWatch
metric with no datapoints yet, rather than what is known to be wrong).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Status = Literal["ok", "error", "warning"]

_STYLE: dict[str, str] = {"ok": "green", "error": "bold red", "warning": "yellow"}


@dataclass(frozen=True)
class Check:
    """One property of one live resource compared with what the stack requires."""

    resource: str
    """What was checked, e.g. ``rds:us-east-1:pg-primary`` or ``s3:acme-backups-graph``."""
    property: str
    """The property, e.g. ``storageEncrypted``, ``kmsKeyId``, ``replicaLagSeconds``."""
    expected: str
    actual: str
    status: Status = "ok"
    detail: str = ""
    """Why it matters or what to do; empty for passing checks."""


@dataclass
class Report:
    """The outcome of one command: every check, and the findings among them."""

    command: str
    checks: list[Check] = field(default_factory=list)

    def add(
        self,
        resource: str,
        prop: str,
        expected: object,
        actual: object,
        ok: bool,
        *,
        severity: Status = "error",
        detail: str = "",
    ) -> Check:
        """Record a comparison; ``ok`` decides the status, ``severity`` the status when not ok."""
        check = Check(
            resource, prop, _text(expected), _text(actual), "ok" if ok else severity, "" if ok else detail
        )
        self.checks.append(check)
        return check

    @property
    def findings(self) -> list[Check]:
        return [c for c in self.checks if c.status != "ok"]

    @property
    def errors(self) -> list[Check]:
        return [c for c in self.checks if c.status == "error"]

    def exit_code(self, *, strict: bool = False) -> int:
        """1 when there is an error finding (or any finding with ``strict``), else 0."""
        failing = self.findings if strict else self.errors
        return 1 if failing else 0

    def to_json(self) -> dict[str, object]:
        """The stable JSON form: ``{"command", "ok", "findings": [...], "checks": [...]}``."""
        return {
            "command": self.command,
            "ok": not self.errors,
            "findings": [asdict(c) for c in self.findings],
            "checks": [asdict(c) for c in self.checks],
        }


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(report: Report, fmt: str, console: Console, *, title: str, show_all: bool = False) -> None:
    """Print the report as a rich table (``table``) or as JSON (``json``, always every check).

    The table lists the findings, errors first; ``show_all`` adds the passing checks.
    """
    if fmt == "json":
        console.print(json.dumps(report.to_json(), indent=2), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=title, show_lines=False, expand=False)
    for name in ("status", "resource", "property", "expected", "actual", "detail"):
        table.add_column(name, overflow="fold")
    rows = report.checks if show_all else report.findings
    for c in sorted(rows, key=lambda c: (c.status == "ok", c.status != "error")):
        table.add_row(
            Text(c.status, style=_STYLE[c.status]), c.resource, c.property, c.expected, c.actual, c.detail
        )
    if rows:
        console.print(table)
    errors, warnings = len(report.errors), len(report.findings) - len(report.errors)
    summary = f"{title}: {len(report.checks)} checks, {errors} error(s), {warnings} warning(s)"
    console.print(Text(summary, style="bold red" if errors else ("yellow" if warnings else "green")))
