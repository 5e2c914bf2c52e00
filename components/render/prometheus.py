"""Render Prometheus files from the alert catalogue: the rule file and ``prometheus.yml``.

Pure functions; YAML comes from ``yaml.safe_dump`` of plain data, never from string templates.
Checked by ``promtool check rules`` / ``check config`` / ``test rules`` in
``tests/integration/test_promtool.py`` (Debian 12's Prometheus 2.42 and newer).

Rule file layout: one group per store (``data-platform-postgres``, ``-redis``, ``-graph``,
``-vector``, ``-any``); each rule has labels ``severity`` and ``store`` (Alertmanager routes on
``severity``) and annotations ``summary``, ``runbook`` and ``description`` (with the value).

Test/drill knobs (production renders with the defaults): ``for_scale`` (rule files) shrinks every
rule's ``for`` and ``min_evaluation_interval_seconds`` (``prometheus.yml``) allows a 1-second
evaluation interval, so ``tests/integration/test_prometheus_alerts.py`` (and a fire drill) sees the
catalogue's own rules go pending and fire within seconds instead of minutes. Expressions,
thresholds, range windows and labels are never changed by them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from components.alerts import ALERTS, STORES, Alert, Store, prom_duration, prometheus_alerts

GROUP_PREFIX = "data-platform"
_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):([0-9]{1,5})$")


class RenderError(ValueError):
    """Renderer input that would produce an invalid file; names the argument, value and rule."""


def rule_groups(alerts: Iterable[Alert] = ALERTS, stores: Iterable[Store] | None = None, *,
                for_scale: float = 1.0) -> list[dict[str, Any]]:
    """Rule groups as data (one per store with at least one Prometheus alert), in catalogue order.

    ``stores``: only these stores (``any`` alerts are always kept). Default: every store.
    ``for_scale``: test/drill knob, see :func:`alert_rule`. Default: 1.0 (the catalogue's ``for``).
    """
    wanted: set[str] = set(STORES) if stores is None else {*stores, "any"}
    unknown = wanted - set(STORES)
    if unknown:
        raise RenderError(f"'stores' must be among {', '.join(STORES)} (got {', '.join(sorted(unknown))})")
    _check_for_scale(for_scale)
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in prometheus_alerts(alerts):
        if a.store not in wanted:
            continue
        groups.setdefault(a.store, []).append(alert_rule(a, for_scale=for_scale))
    return [{"name": f"{GROUP_PREFIX}-{store}", "rules": rules}
            for store in STORES if (rules := groups.get(store))]


def alert_rule(alert: Alert, *, for_scale: float = 1.0) -> dict[str, Any]:
    """One Prometheus alerting rule for ``alert`` (which must have a ``promql`` rendering).

    ``for_scale``: test/drill knob in (0, 1]: the rule's ``for`` becomes
    ``max(1 s, round(for_seconds * for_scale))`` (a ``for`` of 0 stays absent), so an integration
    test or a fire drill sees the real rule fire in seconds. Never set it for production files.
    Default: 1.0 (exactly the catalogue's ``for``).
    """
    _check_for_scale(for_scale)
    expr = alert.promql_expr()
    if expr is None:
        raise RenderError(f"alert {alert.name} has no 'promql' rendering ({alert.gaps})")
    rule: dict[str, Any] = {"alert": alert.name, "expr": expr}
    if alert.for_seconds:
        rule["for"] = (alert.for_duration if for_scale == 1.0
                       else prom_duration(max(1, round(alert.for_seconds * for_scale))))
    rule["labels"] = {"severity": alert.severity, "store": alert.store}
    rule["annotations"] = {
        "summary": alert.summary,
        "description": (f"{alert.summary} on {{{{ $labels.instance }}}} "
                        f"(value {{{{ $value | humanize }}}} {alert.unit})."),
        "runbook": alert.runbook,
    }
    return rule


def render_rules(alerts: Iterable[Alert] = ALERTS, stores: Iterable[Store] | None = None, *,
                 for_scale: float = 1.0) -> str:
    """The Prometheus rule file (YAML) for the catalogue's Prometheus alerts.

    ``for_scale``: test/drill knob that shrinks every rule's ``for`` (see :func:`alert_rule`).
    Default: 1.0 (the catalogue's durations; production).
    """
    return _dump({"groups": rule_groups(alerts, stores, for_scale=for_scale)})


def _check_for_scale(for_scale: float) -> None:
    if not 0 < for_scale <= 1:
        raise RenderError(f"'for_scale' must be in (0, 1] (got {for_scale})")


def render_prometheus_config(
    scrape_targets: Mapping[str, Sequence[str]],
    *,
    evaluation_interval_seconds: int = 30,
    scrape_interval_seconds: int | None = None,
    alertmanager_targets: Sequence[str] = (),
    rule_files: Sequence[str] = ("rules.yml",),
    metrics_paths: Mapping[str, str] | None = None,
    min_evaluation_interval_seconds: int = 5,
    bearer_token_files: Mapping[str, str] | None = None,
) -> str:
    """``prometheus.yml``: one scrape job per entry of ``scrape_targets`` (job -> ``host:port`` list).

    ``evaluation_interval_seconds``: rule evaluation interval
    (``min_evaluation_interval_seconds``..600). Default: 30.
    ``scrape_interval_seconds``: Default: the evaluation interval.
    ``alertmanager_targets``: ``host:port`` of Alertmanagers. Default: none (rules still evaluate).
    ``rule_files``: paths (relative to the config file) of rule files. Default: ``rules.yml``.
    ``metrics_paths``: job -> metrics path where it is not ``/metrics``. Default: none.
    ``min_evaluation_interval_seconds``: lower bound for ``evaluation_interval_seconds`` (1..5).
    Test/drill knob: integration tests pass 1 to evaluate the rules every second. Default: 5
    (production: the catalogue's shortest ``for`` is a minute; faster evaluation only costs CPU).
    ``bearer_token_files``: job -> absolute path of a file whose content Prometheus sends as
    ``Authorization: Bearer <content>`` (``authorization.credentials_file``, re-read at every scrape,
    so the secret never enters the rendered text and a rotated file needs no reload; e.g. Qdrant's
    API key on EKS, mounted from a Kubernetes Secret). Default: none (no credentials).
    """
    problems: list[str] = []
    floor = min_evaluation_interval_seconds
    if not 1 <= floor <= 5:
        problems.append(f"'min_evaluation_interval_seconds' must be between 1 and 5 (got {floor})")
    elif not floor <= evaluation_interval_seconds <= 600:
        problems.append(f"'evaluation_interval_seconds' must be between {floor} and 600 "
                        f"(got {evaluation_interval_seconds})")
    scrape = evaluation_interval_seconds if scrape_interval_seconds is None else scrape_interval_seconds
    if not 1 <= scrape <= 600:
        problems.append(f"'scrape_interval_seconds' must be between 1 and 600 (got {scrape})")
    if not scrape_targets:
        problems.append("'scrape_targets' must name at least one job")
    paths = dict(metrics_paths or {})
    for job, targets in scrape_targets.items():
        if not _JOB.match(job):
            problems.append(f"'scrape_targets' job {job!r} must match {_JOB.pattern}")
        if isinstance(targets, str) or not targets:
            problems.append(f"'scrape_targets[{job!r}]' must be a non-empty list of host:port (got {targets!r})")
            continue
        problems += [f"'scrape_targets[{job!r}]' target {t!r} must be host:port" for t in targets if not _valid_hp(t)]
    problems += [f"'alertmanager_targets' target {t!r} must be host:port"
                 for t in alertmanager_targets if not _valid_hp(t)]
    problems += [f"'metrics_paths[{job!r}]' names no job in 'scrape_targets'" for job in paths
                 if job not in scrape_targets]
    problems += [f"'metrics_paths[{job!r}]' must start with / (got {p!r})" for job, p in paths.items()
                 if not p.startswith("/")]
    tokens = dict(bearer_token_files or {})
    problems += [f"'bearer_token_files[{job!r}]' names no job in 'scrape_targets'" for job in tokens
                 if job not in scrape_targets]
    problems += [f"'bearer_token_files[{job!r}]' must be an absolute path (got {p!r})" for job, p in tokens.items()
                 if not p.startswith("/")]
    if problems:
        raise RenderError("; ".join(problems))

    config: dict[str, Any] = {
        "global": {
            "scrape_interval": prom_duration(scrape),
            "evaluation_interval": prom_duration(evaluation_interval_seconds),
        },
        "rule_files": list(rule_files),
    }
    if alertmanager_targets:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanager_targets)}]}]}
    jobs = []
    for job, targets in scrape_targets.items():
        entry: dict[str, Any] = {"job_name": job}
        if job in paths:
            entry["metrics_path"] = paths[job]
        if job in tokens:
            entry["authorization"] = {"type": "Bearer", "credentials_file": tokens[job]}
        entry["static_configs"] = [{"targets": list(targets)}]
        jobs.append(entry)
    config["scrape_configs"] = jobs
    return _dump(config)


def _valid_hp(target: str) -> bool:
    m = _HOST_PORT.match(target)
    return m is not None and 1 <= int(m.group(2)) <= 65535


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
