"""Assemble the review's JSON contract (architecture §7) from the phases' results.

The contract is stable: keys may be added, never renamed. :func:`build_report` returns a plain
dict (JSON-ready) that ``review/schema.json`` describes; the text and markdown renderers read the
same dict, so every format shows the same numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; keeps `import review.report` light
    from cost.model import CostReport
    from review.analyzer import Violation
    from review.mocks import RecordedResource
    from review.program import ProgramRun, StackConfig

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
PROJECT_NS = "data-platform"
#: Stack config sections passed to the pack as the declared intent (see policies.resilience.INTENT_SECTIONS).
INTENT_SECTIONS = ("postgres", "redis", "graph", "vector", "backups")
STACK_TYPE = "pulumi:pulumi:Stack"
#: Output names a program may export to add lines to the review's ``notes``.
NOTE_OUTPUTS = ("notes", "reviewNotes")


# ---------------------------------------------------------------------------------------------
# Stack settings the review needs (read from the raw stack config, not from infra/)
# ---------------------------------------------------------------------------------------------


def _config_value(config: Mapping[str, str], key: str) -> Any:
    raw = config.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def default_environment(target: str = "aws") -> str:
    """The environment when neither the stack file nor the program's export states one: the program's
    rule (``infra.settings.default_environment``; the review does not import the program): the strictest
    on AWS, local for the docker target."""
    return "local" if target == "docker" else "production"


EXEMPTIONS_KEY = "data-platform-policies:exemptions"
"""Stack-file key of the reasoned exemptions (a namespace of its own: the program's settings ignore it)::

    data-platform-policies:exemptions:
      - policy: rds-non-default-port
        resource: postgres-primary     # logical name or URN; omitted: every resource
        reason: why the finding is accepted
"""


@dataclass(frozen=True)
class Exemption:
    """An advisory finding the stack accepts, with the reason the review prints. A mandatory finding is
    never exempted (the review says so in its notes): weakening production is not a config choice."""

    policy: str
    resource: str | None
    reason: str

    def matches(self, violation: Mapping[str, Any]) -> bool:
        if violation.get("policy") != self.policy:
            return False
        urn = str(violation.get("urn") or "")
        return self.resource is None or urn == self.resource or urn.endswith(f"::{self.resource}")

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "resource": self.resource, "reason": self.reason}


def parse_exemptions(config: Mapping[str, str]) -> tuple[tuple[Exemption, ...], tuple[str, ...]]:
    """The stack's exemptions and the problems of the entries that are not (no policy, no reason)."""
    raw = _config_value(config, EXEMPTIONS_KEY)
    if raw is None:
        return (), ()
    if not isinstance(raw, list):
        return (), (f"{EXEMPTIONS_KEY} is not a list; no exemption applied",)
    out: list[Exemption] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        entry = entry if isinstance(entry, Mapping) else {}
        policy, resource, reason = entry.get("policy"), entry.get("resource"), entry.get("reason")
        if not isinstance(policy, str) or not policy or not isinstance(reason, str) or not reason.strip():
            problems.append(f"{EXEMPTIONS_KEY}[{i}] needs a policy and a reason; not applied")
            continue
        out.append(Exemption(policy, resource if isinstance(resource, str) and resource else None,
                             " ".join(reason.split())))
    return tuple(out), tuple(problems)


def apply_exemptions(violations: Sequence[dict[str, Any]], exemptions: Sequence[Exemption]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(violations kept, findings exempted (with ``reason``), the exemptions with their ``matched`` count,
    notes on mandatory findings an exemption names and on exemptions that match nothing)."""
    kept: list[dict[str, Any]] = []
    exempted: list[dict[str, Any]] = []
    matched = [0] * len(exemptions)
    notes: list[str] = []
    for v in violations:
        hit = next((i for i, e in enumerate(exemptions) if e.matches(v)), None)
        if hit is None:
            kept.append(v)
        elif v.get("level") == "mandatory":
            kept.append(v)
            notes.append(f"exemption of {v['policy']} does not apply to the mandatory finding on {v['urn']}: fix it")
        else:
            matched[hit] += 1
            exempted.append({**v, "reason": exemptions[hit].reason})
    for e, n in zip(exemptions, matched, strict=True):
        if not n:
            notes.append(f"exemption of {e.policy}{f' on {e.resource}' if e.resource else ''} matched no advisory "
                         "finding: remove it from the stack file")
    return kept, exempted, [{**e.to_json(), "matched": n} for e, n in zip(exemptions, matched, strict=True)], notes


@dataclass(frozen=True)
class StackSettings:
    """What the policy pack's Configure and the budget check need from a stack."""

    stack: str
    region: str
    environment: str
    budget: float | None
    usage: dict[str, float] = field(default_factory=dict)
    target: str = "aws"
    config: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The raw stack config (``namespace:key`` → string), sent with ConfigureStack."""
    exemptions: tuple[Exemption, ...] = field(default=(), compare=False)
    """Reasoned exemptions of advisory findings (:data:`EXEMPTIONS_KEY`)."""
    exemption_problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_config(cls, sc: StackConfig, outputs: Mapping[str, Any] | None = None) -> StackSettings:
        cfg = sc.config
        target = _config_value(cfg, f"{PROJECT_NS}:target") or "aws"
        env = _config_value(cfg, f"{PROJECT_NS}:environment")
        if not isinstance(env, str) or not env:
            exported = (outputs or {}).get("environment")
            env = exported if isinstance(exported, str) and exported else default_environment(str(target))
        budget_cfg = _config_value(cfg, f"{PROJECT_NS}:budget")
        budget = budget_cfg.get("monthlyUsd") if isinstance(budget_cfg, Mapping) else None
        usage_cfg = _config_value(cfg, f"{PROJECT_NS}:usage")
        usage = {str(k): float(v) for k, v in usage_cfg.items()} if isinstance(usage_cfg, Mapping) else {}
        return cls(
            stack=sc.stack,
            region=sc.region,
            environment=env,
            budget=float(budget) if isinstance(budget, int | float) and not isinstance(budget, bool) else None,
            usage=usage,
            target=str(target),
            config=dict(cfg),
            exemptions=parse_exemptions(cfg)[0],
            exemption_problems=parse_exemptions(cfg)[1],
        )

    def policy_config(self) -> dict[str, Any]:
        """Properties sent with Configure to every policy whose schema declares them (budget policy:
        ``monthlyUsd``, ``region``, ``usage``; others: ``environment``, ``region``; the intent rules:
        ``intent``, the stack file's declared store settings)."""
        return {
            "monthlyUsd": self.budget,
            "region": self.region,
            "usage": dict(self.usage),
            "environment": self.environment,
            "intent": self.intent(),
        }

    def intent(self) -> dict[str, Any]:
        """The stack's declared intent: the project config sections the intent rules read
        (``policies.resilience.INTENT_SECTIONS``), parsed; sections the stack file does not set are absent."""
        out: dict[str, Any] = {}
        for section in INTENT_SECTIONS:
            value = _config_value(self.config, f"{PROJECT_NS}:{section}")
            if isinstance(value, Mapping):
                out[section] = dict(value)
        return out


# ---------------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------------


@dataclass
class PolicyResult:
    pack: str | None
    """Pack name (``None`` when policies were not run)."""
    version: str = ""
    violations: Sequence[Violation] = ()
    policies: int = 0
    """Number of policies in the pack."""
    skipped: str | None = None
    """Why the policies were not run (``--no-policies``)."""


@dataclass
class CompareResult:
    stack: str
    cost: CostReport
    budget: float | None


def _jsonable(value: Any) -> Any:
    """Inputs as JSON: values the mock runtime left as objects (``pulumi.output.Unknown`` for an
    output not known at preview) become the contract's ``"[unknown]"``; anything else not JSON, ``str``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if type(value).__name__ == "Unknown":
        return "[unknown]"
    return str(value)


def resource_dict(r: RecordedResource) -> dict[str, Any]:
    """``RecordedResource.to_json()`` with the inputs made JSON-safe (see :func:`_jsonable`)."""
    d = r.to_json()
    d["inputs"] = _jsonable(d["inputs"])
    return d


def resource_dicts(run: ProgramRun) -> list[dict[str, Any]]:
    """:func:`resource_dict` of every resource of the run."""
    return [resource_dict(r) for r in run.resources]


def display_name(urn: str) -> str:
    """``name`` of a URN (``(stack)`` for the stack resource)."""
    if f"::{STACK_TYPE}::" in urn:
        return "(stack)"
    return urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    """The resource's own type token of a URN (the last element of the parent-type chain)."""
    parts = urn.split("::")
    return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _notes(run: ProgramRun, cost: CostReport, policies: PolicyResult, settings: StackSettings) -> list[str]:
    notes: list[str] = []
    for key in NOTE_OUTPUTS:
        value = run.outputs.get(key)
        if isinstance(value, str):
            notes.append(value)
        elif isinstance(value, list | tuple):
            notes.extend(str(v) for v in value)
    if policies.skipped:
        notes.append(f"policies not run: {policies.skipped}")
    if cost.unpriced:
        notes.append(f"cost unknown: {len(cost.unpriced)} cost line(s) unpriced, so the monthly total is only what "
                     "could be priced")
    if settings.budget is None:
        notes.append(f"no budget set ({PROJECT_NS}:budget.monthlyUsd)")
    return notes


def exit_code(report: Mapping[str, Any]) -> int:
    """0 clean; 1 a mandatory violation, an unknown cost or over budget (2 is decided before a report
    exists)."""
    mandatory = any(v["level"] == "mandatory" for v in report["policies"]["violations"])
    unknown = report["cost"].get("verdict") == "unknown"
    return 1 if mandatory or unknown or report["cost"]["over_budget"] else 0


def unknown_reason(cost: Mapping[str, Any]) -> str:
    """The verdict reason of an unknown cost: how many lines of which resources lack a price."""
    unpriced = cost.get("unpriced", [])
    names = list(dict.fromkeys(display_name(line["urn"]) for line in unpriced))
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"monthly cost unknown: {len(unpriced)} cost line(s) of {len(names)} resource(s) unpriced ({shown}); "
            f"${cost['monthly_total']:,.2f} is only what could be priced")


def build_report(
    run: ProgramRun,
    settings: StackSettings,
    policies: PolicyResult,
    cost: CostReport,
    timings: Mapping[str, float],
    compare_to: CompareResult | None = None,
    resources: list[dict[str, Any]] | None = None,
    topology: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The §7 contract plus additions (environment, region, outputs, notes, compare, verdict).

    ``resources``: :func:`resource_dicts` of ``run`` when the caller has them already."""
    resources = resources if resources is not None else resource_dicts(run)
    by_type = dict(sorted(Counter(r.type for r in run.resources).items()))
    violations, exempted, exemptions, exemption_notes = apply_exemptions(
        [v.to_json() for v in policies.violations], settings.exemptions if policies.pack else ())
    levels = Counter(v["level"] for v in violations)
    cost_json = cost.to_json()
    budget = settings.budget
    cost_json["budget"] = budget
    if cost.complete:
        cost_json["over_budget"] = budget is not None and cost.monthly_total > budget
        cost_json["budget_remaining"] = None if budget is None else round(budget - cost.monthly_total, 2)
    else:  # an unknown cost is neither within nor over a budget: nothing is counted as zero
        cost_json["over_budget"] = None
        cost_json["budget_remaining"] = None
    report: dict[str, Any] = {
        "project": run.project,
        "stack": run.stack,
        "environment": settings.environment,
        "region": settings.region,
        "resources": resources,
        "summary": {
            "resources": len(resources),
            "by_type": by_type,
            "custom": sum(1 for r in run.resources if r.custom),
            "components": sum(1 for r in run.resources if not r.custom),
            "protected": sum(1 for r in run.resources if r.protect),
        },
        "policies": {
            "pack": policies.pack,
            "version": policies.version,
            "policies": policies.policies,
            "skipped": policies.skipped,
            "violations": violations,
            "mandatory": levels.get("mandatory", 0),
            "advisory": levels.get("advisory", 0),
            "exempted": exempted,
            "exemptions": exemptions,
        },
        "cost": cost_json,
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "outputs": _jsonable(run.outputs),
        "notes": [*_notes(run, cost, policies, settings), *settings.exemption_problems, *exemption_notes],
    }
    if topology is not None:
        report["topology"] = dict(topology)
    if compare_to is not None:
        report["compare"] = compare_report(compare_to, cost, run.stack)
    code = exit_code(report)
    reasons = []
    if report["policies"]["mandatory"]:
        reasons.append(f"{report['policies']['mandatory']} mandatory violation(s)")
    if not cost.complete:
        reasons.append(unknown_reason(cost_json))
    if cost_json["over_budget"]:
        reasons.append(f"monthly total ${cost.monthly_total:,.2f} over budget ${budget:,.2f}")
    report["verdict"] = {"exit_code": code, "reasons": reasons}
    return report


def compare_report(other: CompareResult, cost: CostReport, stack: str) -> dict[str, Any]:
    """Per-component and total monthly cost of ``other`` (baseline) vs this stack; delta = this − other."""
    from cost.model import compare

    rows = compare(other.cost, cost)
    return {
        "stack": other.stack,
        "budget": other.budget,
        "monthly_total": other.cost.monthly_total,
        "verdicts": {"other": other.cost.verdict, "this": cost.verdict},
        "rows": [
            {"component": r.name, "other": r.a, "this": r.b, "delta": r.delta}
            for r in rows
        ],
        "columns": {"other": other.stack, "this": stack},
    }


def components_table(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for "cost by component": name, type, monthly, share of the total, most expensive first."""
    cost = report["cost"]
    total = cost["monthly_total"] or 0.0
    rows = []
    for urn, monthly in cost["by_component"].items():
        rows.append({
            "urn": urn,
            "name": display_name(urn),
            "type": "" if f"::{STACK_TYPE}::" in urn else urn_type(urn),
            "monthly": monthly,
            "share": (monthly / total) if total else 0.0,
        })
    rows.sort(key=lambda r: (-r["monthly"], r["name"]))
    return rows


def unpriced_groups(report: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``(type, missing price or reason, resource names)`` of the unpriced lines, grouped by type and
    reason, largest group first."""
    groups: dict[tuple[str, str], list[str]] = {}
    for line in report["cost"].get("unpriced", []):
        key = (line["type"], f"{line.get('item') or 'cost'}: {line['basis']}")
        groups.setdefault(key, []).append(display_name(line["urn"]))
    return [(t, b, names) for (t, b), names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def top_lines(report: Mapping[str, Any], n: int = 10) -> list[dict[str, Any]]:
    lines = [line for line in report["cost"]["lines"] if line.get("monthly")]
    return sorted(lines, key=lambda line: -line["monthly"])[:n]


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


__all__ = [
    "CompareResult",
    "PolicyResult",
    "StackSettings",
    "build_report",
    "compare_report",
    "components_table",
    "default_environment",
    "exit_code",
    "load_schema",
    "resource_dict",
    "resource_dicts",
    "top_lines",
    "unknown_reason",
    "unpriced_groups",
]
