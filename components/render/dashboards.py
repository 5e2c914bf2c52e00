"""Grafana dashboards generated from the alert catalogue with ``grafana-foundation-sdk`` (Grafana's own SDK).

Never hand-written JSON: every dashboard is built with the SDK's builders from
:data:`components.alerts.ALERTS` plus the golden signals below, and serialised by the SDK's encoder.

* One dashboard per store (``dp-postgres``, ``dp-redis``, ``dp-graph``, ``dp-vector``) and an
  overview (``dp-overview``).
* Row **Alerts**: one time-series panel per catalogue alert with a PromQL rendering: its query is the
  alert's left-hand side (``Alert.promql.expr``, the same text the rule file compares) and the
  threshold drawn on it (a dashed line + area; a line only for ``==``) is ``Alert.threshold`` —
  read from the catalogue, never copied. Red for ``critical``, orange for ``warning``; for ``<``
  alerts the colour sits below the line.
  Alerts of store ``any`` (``InstanceDown``) are on the overview.
* Row **Golden signals**: connections, replication lag, cache hit ratio, memory, evictions, latency,
  cluster health — whichever the store's exporter measures (:data:`GOLDEN_SIGNALS`).

:func:`panel_queries` lists every query of every dashboard: the integration tier runs each against a
real Prometheus scraping real exporters (PostgreSQL, Redis cluster) and parses the rest with promtool.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from components.alerts import ALERTS, Alert, Store, format_number, prometheus_alerts

#: The provisioned Prometheus data source's uid (see components/render/grafana.py).
DATASOURCE_UID: Final = "prometheus"
DATASOURCE: Final = dash_m.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
#: Stores with a dashboard of their own, and their titles.
STORE_TITLES: Final[dict[Store, str]] = {
    "postgres": "PostgreSQL",
    "redis": "Redis / Valkey",
    "graph": "Neo4j",
    "vector": "Qdrant",
}
OVERVIEW_UID: Final = "dp-overview"
#: Catalogue units -> Grafana units.
UNITS: Final[dict[str, str]] = {"percent": "percent", "bytes": "bytes", "seconds": "s",
                                "milliseconds": "ms", "count": "short"}
SEVERITY_COLOURS: Final[dict[str, str]] = {"critical": "red", "warning": "orange"}
_WIDTH, _HEIGHT = 12, 8


@dataclass(frozen=True)
class Signal:
    """One golden-signal panel: a PromQL query that is not an alert."""

    title: str
    expr: str
    unit: str
    """Grafana unit (``short``, ``bytes``, ``s``, ``percentunit``, ``ops`` …)."""
    legend: str = "{{instance}}"
    description: str = ""


#: Golden signals per store. Metric names are those of the exporters the catalogue assumes
#: (postgres_exporter, redis_exporter, Neo4j 5's /metrics, Qdrant's /metrics).
GOLDEN_SIGNALS: Final[dict[Store, tuple[Signal, ...]]] = {
    "postgres": (
        Signal("Connections by state", "sum by (instance, state) (pg_stat_activity_count)", "short",
               "{{instance}} {{state}}", "Backends per state (active, idle, idle in transaction)."),
        Signal("Replication lag (seconds)", "max by (instance) (pg_replication_lag_seconds)", "s",
               description="Replay delay on replicas (0 on the primary)."),
        Signal("Role (1 = replica)", "max by (instance) (pg_replication_is_replica)", "short",
               description="Cluster health: which server is the primary."),
        Signal("Cache hit ratio", "sum by (instance) (rate(pg_stat_database_blks_hit[5m])) / "
               "(sum by (instance) (rate(pg_stat_database_blks_hit[5m])) + "
               "sum by (instance) (rate(pg_stat_database_blks_read[5m])))", "percentunit"),
        Signal("Transactions per second", "sum by (instance) (rate(pg_stat_database_xact_commit[5m]) + "
               "rate(pg_stat_database_xact_rollback[5m]))", "ops"),
        Signal("Longest transaction (latency)", "max by (instance) (pg_stat_activity_max_tx_duration)", "s",
               description="The oldest open transaction per server; the exporter has no query latency."),
        Signal("Deadlocks", "sum by (instance) (increase(pg_stat_database_deadlocks[5m]))", "short"),
        Signal("Server up", "min by (instance) (pg_up)", "short"),
    ),
    "redis": (
        Signal("Connected clients", "sum by (instance) (redis_connected_clients)", "short"),
        Signal("Memory used", "sum by (instance) (redis_memory_used_bytes)", "bytes"),
        Signal("Evicted keys", "sum by (instance) (increase(redis_evicted_keys_total[5m]))", "short"),
        Signal("Cache hit ratio", "sum by (instance) (rate(redis_keyspace_hits_total[5m])) / "
               "(sum by (instance) (rate(redis_keyspace_hits_total[5m])) + "
               "sum by (instance) (rate(redis_keyspace_misses_total[5m])))", "percentunit"),
        Signal("Commands per second", "sum by (instance) (rate(redis_commands_processed_total[5m]))", "ops"),
        Signal("Mean command latency", "sum by (instance) (rate(redis_commands_duration_seconds_total[5m])) / "
               "sum by (instance) (rate(redis_commands_total[5m]))", "s"),
        Signal("Connected replicas", "max by (instance) (redis_connected_slaves)", "short",
               description="Replication: replicas attached to each primary."),
        Signal("Cluster state (1 = ok)", "min by (instance) (redis_cluster_state)", "short",
               description="Cluster health as each node sees it."),
        Signal("Server up", "min by (instance) (redis_up)", "short"),
    ),
    "graph": (
        Signal("Heap used", "max by (instance) (neo4j_dbms_vm_heap_used)", "bytes"),
        Signal("Page cache hit ratio", "max by (instance) (neo4j_dbms_page_cache_hit_ratio)", "percentunit"),
        Signal("Open transactions", 'sum by (instance) ({__name__=~"neo4j_database_.+_transaction_active"})',
               "short", description="Connections/work in flight per member."),
        Signal("Committed transactions per second",
               'sum by (instance) (rate({__name__=~"neo4j_database_.+_transaction_committed_total"}[5m]))',
               "ops"),
        Signal("Bolt connections", "sum by (instance) (neo4j_dbms_bolt_connections_running)", "short"),
        Signal("Cluster health (scrape up)", 'min by (instance) (up{job="neo4j"})', "short"),
    ),
    "vector": (
        Signal("Search p50 latency", "histogram_quantile(0.5, sum by (instance, le) (rate("
               '{__name__=~"rest_responses_duration_seconds_bucket|grpc_responses_duration_seconds_bucket",'
               'endpoint=~"(?i).*points/(search|query).*"}[5m])))', "s"),
        Signal("Requests per second", "sum by (instance) (rate(rest_responses_total[5m]))", "ops"),
        Signal("Collections", "max by (instance) (collections_total)", "short"),
        Signal("Vectors", "sum by (instance) (collections_vector_total)", "short"),
        Signal("Memory resident", "max by (instance) (memory_resident_bytes)", "bytes"),
        Signal("Cluster peers", "max by (instance) (cluster_peers_total)", "short",
               description="Cluster health: peers each node knows."),
    ),
}

#: Overview: one line per store.
OVERVIEW_SIGNALS: Final[tuple[Signal, ...]] = (
    Signal("Scrape targets up", "min by (job) (up)", "short", "{{job}}"),
    Signal("PostgreSQL connections", "sum (pg_stat_database_numbackends)", "short", "connections"),
    Signal("Redis memory used", "sum (redis_memory_used_bytes)", "bytes", "memory"),
)


#: Alerts whose expression selects only the failing state, so their panel is empty while all is well,
#: by design -> a "witness" query: the same metric unfiltered, which must have series wherever the
#: panel could ever fill (the integration tier checks it instead).
_EMPTY_WHEN_HEALTHY: Final[dict[str, str]] = {
    "PostgresReplicaNotStreaming": "pg_stat_replication_pg_wal_lsn_diff",
}


def empty_when_healthy(alerts: Iterable[Alert] = ALERTS) -> dict[Alert, str]:
    """Alert -> witness query, for the alert panels that are empty on a healthy cluster by design."""
    return {a: _EMPTY_WHEN_HEALTHY[a.name] for a in alerts if a.name in _EMPTY_WHEN_HEALTHY}


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, as the integration tier runs it."""

    dashboard: str
    """Dashboard uid."""
    panel: str
    """Panel title."""
    store: Store
    """Store the query measures (``any`` for the overview's generic ones)."""
    expr: str


def dashboard_uid(store: Store) -> str:
    return f"dp-{store}"


def _thresholds(alert: Alert) -> dash_b.ThresholdsConfig:
    """The alert's threshold as steps: the colour of its severity on the firing side of the line."""
    bad = SEVERITY_COLOURS[alert.severity]
    if alert.comparison in ("<", "<="):
        steps = [dash_m.Threshold(value=None, color=bad), dash_m.Threshold(value=alert.threshold, color="green")]
    else:
        steps = [dash_m.Threshold(value=None, color="green"), dash_m.Threshold(value=alert.threshold, color=bad)]
    return dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(steps)


def _target(expr: str, legend: str, ref: str = "A") -> prom_b.Dataquery:
    return prom_b.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE).range()


def alert_title(alert: Alert) -> str:
    """Panel title of an alert panel: the alert's name and its condition."""
    return f"{alert.name} ({alert.comparison} {format_number(alert.threshold)} {alert.unit})"


def alert_panel(alert: Alert) -> ts_b.Panel:
    """Time series of the alert's left-hand side with the alert's threshold drawn on it."""
    if alert.promql is None:
        raise ValueError(f"alert {alert.name} has no PromQL rendering ({alert.gaps})")
    return (ts_b.Panel()
            .title(alert_title(alert))
            .description(f"{alert.summary}. Fires when the value is {alert.comparison} "
                         f"{format_number(alert.threshold)} {alert.unit} for {alert.for_duration} "
                         f"({alert.severity}). Runbook: {alert.runbook}")
            .datasource(DATASOURCE)
            .with_target(_target(alert.promql.expr, "{{instance}}"))
            .unit(UNITS.get(alert.unit, "short"))
            .thresholds(_thresholds(alert))
            .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(
                # '==' fires on one value, not a side: a line only (an area would colour both sides)
                common_m.GraphThresholdsStyleMode.DASHED if alert.comparison == "=="
                else common_m.GraphThresholdsStyleMode.DASHED_AND_AREA))
            .no_value("no series (condition not present)")
            .height(_HEIGHT).span(_WIDTH))


def signal_panel(signal: Signal) -> ts_b.Panel:
    return (ts_b.Panel()
            .title(signal.title)
            .description(signal.description)
            .datasource(DATASOURCE)
            .with_target(_target(signal.expr, signal.legend))
            .unit(signal.unit)
            .height(_HEIGHT).span(_WIDTH))


def _dashboard(uid: str, title: str, tags: list[str]) -> dash_b.Dashboard:
    return (dash_b.Dashboard(title).uid(uid).tags(["data-platform", *tags]).editable()
            .refresh("30s").time("now-3h", "now").timezone("browser")
            .tooltip(dash_m.DashboardCursorSync.CROSSHAIR))


def _numbered(model: dash_m.Dashboard) -> dash_m.Dashboard:
    """Give every panel and row a unique id (1, 2, …) in layout order; Grafana keys panels by id."""
    for i, p in enumerate(model.panels or [], start=1):
        p.id_val = i
    return model


def store_dashboard(store: Store, alerts: Iterable[Alert] = ALERTS) -> dash_m.Dashboard:
    """The dashboard of one store: its alerts (with thresholds), then its golden signals."""
    d = _dashboard(dashboard_uid(store), f"Data platform / {STORE_TITLES[store]}", [store])
    d = d.with_row(dash_b.Row("Alerts (catalogue)"))
    for a in prometheus_alerts(alerts):
        if a.store == store:
            d = d.with_panel(alert_panel(a))
    d = d.with_row(dash_b.Row("Golden signals"))
    for s in GOLDEN_SIGNALS[store]:
        d = d.with_panel(signal_panel(s))
    return _numbered(d.build())


def overview_dashboard(alerts: Iterable[Alert] = ALERTS) -> dash_m.Dashboard:
    """Store-independent alerts (``any``) and one signal per store, with links to the store dashboards."""
    d = _dashboard(OVERVIEW_UID, "Data platform / Overview", ["overview"])
    for store, title in STORE_TITLES.items():
        d = d.link(dash_b.DashboardLink(title).type(dash_m.DashboardLinkType.LINK)
                   .url(f"/d/{dashboard_uid(store)}"))
    d = d.with_row(dash_b.Row("Alerts (catalogue, every store)"))
    for a in prometheus_alerts(alerts):
        if a.store not in STORE_TITLES:
            d = d.with_panel(alert_panel(a))
    d = d.with_row(dash_b.Row("Golden signals"))
    for s in OVERVIEW_SIGNALS:
        d = d.with_panel(signal_panel(s))
    return _numbered(d.build())


def dashboards(alerts: Iterable[Alert] = ALERTS) -> dict[str, dash_m.Dashboard]:
    """Every dashboard as an SDK model, by uid."""
    alerts = tuple(alerts)
    out = {dashboard_uid(s): store_dashboard(s, alerts) for s in STORE_TITLES}
    out[OVERVIEW_UID] = overview_dashboard(alerts)
    return out


def to_json(model: dash_m.Dashboard) -> str:
    """A dashboard model as JSON text (the SDK's encoder)."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def render_dashboards(alerts: Iterable[Alert] = ALERTS) -> dict[str, str]:
    """``{file name: dashboard JSON}`` for Grafana's file provisioning (``dp-postgres.json`` …)."""
    return {f"{uid}.json": to_json(m) for uid, m in dashboards(alerts).items()}


def _store_of(uid: str) -> Store:
    for store in STORE_TITLES:
        if dashboard_uid(store) == uid:
            return store
    return "any"


def panel_queries(rendered: Mapping[str, str] | None = None) -> list[PanelQuery]:
    """Every query of every panel, read back from the rendered JSON (what Grafana will run)."""
    rendered = render_dashboards() if rendered is None else rendered
    out: list[PanelQuery] = []
    for text in rendered.values():
        data: dict[str, Any] = json.loads(text)
        for p in data.get("panels", []):
            for t in p.get("targets", []):
                out.append(PanelQuery(data["uid"], p["title"], _store_of(data["uid"]), t["expr"]))
    return out


def write_dashboards(directory: str) -> list[str]:
    """Write every dashboard as ``<directory>/<uid>.json`` (for a Grafana this program does not run,
    e.g. next to a Prometheus scraping the EC2 placement); returns the paths written."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_dashboards().items():
        (out / name).write_text(text)
        written.append(str(out / name))
    return written


if __name__ == "__main__":  # python -m components.render.dashboards DIR
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m components.render.dashboards DIRECTORY")
    print("\n".join(write_dashboards(sys.argv[1])))
