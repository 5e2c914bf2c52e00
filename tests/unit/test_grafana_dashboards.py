"""Grafana dashboards generated from the alert catalogue, and Grafana's provisioning files (no servers)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from components.alerts import ALERTS, Alert, PromQLSpec, alerts_by_name, prometheus_alerts
from components.render import dashboards as dash
from components.render.grafana import (
    DASHBOARDS_DIR,
    PROVISIONING_DIR,
    RenderError,
    grafana_files,
    render_dashboard_provider,
    render_datasources,
)

EXPECTED_UIDS = {"dp-postgres", "dp-redis", "dp-graph", "dp-vector", "dp-overview"}


def _panels(rendered: dict[str, str]) -> list[dict[str, Any]]:
    return [p for text in rendered.values() for p in json.loads(text)["panels"] if p["type"] != "row"]


def missing_alert_panels(alerts: tuple[Alert, ...], rendered: dict[str, str]) -> list[str]:
    """Catalogue alerts with a PromQL rendering that have no panel drawing their expression and threshold."""
    missing = []
    for a in prometheus_alerts(alerts):
        assert a.promql is not None
        ok = False
        for p in _panels(rendered):
            exprs = [t["expr"] for t in p["targets"]]
            steps = [s["value"] for s in p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])]
            if a.name in p["title"] and a.promql.expr in exprs and a.threshold in steps:
                ok = True
        if not ok:
            missing.append(a.name)
    return missing


def test_one_dashboard_per_store_plus_an_overview() -> None:
    rendered = dash.render_dashboards()
    assert {json.loads(t)["uid"] for t in rendered.values()} == EXPECTED_UIDS
    assert set(rendered) == {f"{u}.json" for u in EXPECTED_UIDS}


def test_every_catalogue_alert_with_promql_has_a_panel_with_its_threshold() -> None:
    assert missing_alert_panels(ALERTS, dash.render_dashboards()) == []


def test_the_coverage_check_fails_for_an_alert_without_a_panel() -> None:
    """Test of the test: an alert added to the catalogue but absent from the rendered dashboards is caught."""
    fake = dataclasses.replace(alerts_by_name()["RedisEvictions"], name="RedisFakeAlert",
                               promql=PromQLSpec("redis_fake_metric"))
    assert missing_alert_panels((*ALERTS, fake), dash.render_dashboards()) == ["RedisFakeAlert"]
    # ... and rendering with it in the catalogue gives it a panel.
    assert missing_alert_panels((*ALERTS, fake), dash.render_dashboards((*ALERTS, fake))) == []


def test_thresholds_come_from_the_catalogue_not_copied_numbers() -> None:
    """Change a threshold in the catalogue: the panel's line moves with it."""
    a = alerts_by_name()["PostgresConnectionsHigh"]
    moved = tuple(dataclasses.replace(x, threshold=123) if x.name == a.name else x for x in ALERTS)
    panel = next(p for p in _panels(dash.render_dashboards(moved)) if a.name in p["title"])
    assert [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 123]


def test_threshold_colour_sits_on_the_firing_side() -> None:
    panels = {p["title"].split(" ")[0]: p for p in _panels(dash.render_dashboards())}
    above = panels["PostgresReplicationLagHigh"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert above == [{"color": "green", "value": None}, {"color": "red", "value": 100 * 1024 * 1024}]
    below = panels["RedisHitRateLow"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert below == [{"color": "orange", "value": None}, {"color": "green", "value": 95}]
    assert panels["RedisHitRateLow"]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {
        "mode": "dashed+area"}
    # '==' fires on one value: a line at it, no area colouring a whole side.
    assert panels["RedisReplicationBroken"]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {
        "mode": "dashed"}


def test_golden_signals_per_store() -> None:
    titles = {json.loads(t)["uid"]: [p["title"] for p in json.loads(t)["panels"]]
              for t in dash.render_dashboards().values()}
    pg, redis = " ".join(titles["dp-postgres"]).lower(), " ".join(titles["dp-redis"]).lower()
    for word in ("connections", "replication lag", "cache hit ratio", "latency", "role"):
        assert word in pg, word
    for word in ("memory", "evicted", "cache hit ratio", "latency", "cluster state", "replicas"):
        assert word in redis, word
    assert "Golden signals" in titles["dp-graph"] and "Golden signals" in titles["dp-vector"]


def test_panels_have_unique_ids_and_use_the_provisioned_datasource() -> None:
    for text in dash.render_dashboards().values():
        d = json.loads(text)
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)) and 0 not in ids
        for p in d["panels"]:
            if p["type"] == "row":
                continue
            assert p["datasource"] == {"type": "prometheus", "uid": dash.DATASOURCE_UID}
            assert all(t["datasource"]["uid"] == dash.DATASOURCE_UID for t in p["targets"])


def dropped(original: Any, decoded: Any, path: str = "") -> list[str]:
    """Paths of ``original`` that the decoded model lost or changed (the model may add defaults)."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [path]
        return [p for k, v in original.items()
                for p in ([f"{path}/{k}"] if k not in decoded else dropped(v, decoded[k], f"{path}/{k}"))]
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(decoded) != len(original):
            return [path]
        return [p for i, (x, y) in enumerate(zip(original, decoded, strict=True))
                for p in dropped(x, y, f"{path}[{i}]")]
    return [] if original == decoded else [path]


def test_dashboard_json_validates_against_the_sdk_models() -> None:
    """Each file decodes into the SDK's Dashboard model (panels and Prometheus queries as their typed
    variants) and re-encodes without losing or changing anything: no key the models do not know."""
    register_default_plugins()
    for name, text in dash.render_dashboards().items():
        data = json.loads(text)
        model = Dashboard.from_json(data)
        assert all(type(t).__module__.endswith("models.prometheus")
                   for p in model.panels or [] for t in getattr(p, "targets", None) or []), name
        again = json.loads(json.dumps(model, cls=JSONEncoder))
        assert dropped(data, again) == [], name


def test_the_model_check_catches_an_unknown_key() -> None:
    register_default_plugins()
    data = json.loads(dash.render_dashboards()["dp-redis.json"])
    data["panels"][1]["targetz"] = []
    again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert dropped(data, again) == ["/panels[1]/targetz"]


def test_panel_queries_lists_every_target() -> None:
    queries = dash.panel_queries()
    panels = _panels(dash.render_dashboards())
    assert len(queries) == sum(len(p["targets"]) for p in panels)
    assert {q.store for q in queries} == {"postgres", "redis", "graph", "vector", "any"}


def test_datasource_and_provider_yaml() -> None:
    ds = yaml.safe_load(render_datasources("http://prometheus:9090"))
    assert ds["datasources"][0] | {} == {
        "name": "Prometheus", "type": "prometheus", "uid": dash.DATASOURCE_UID, "access": "proxy",
        "url": "http://prometheus:9090", "isDefault": True, "editable": False,
        "jsonData": {"httpMethod": "POST", "timeInterval": "30s"}}
    prov = yaml.safe_load(render_dashboard_provider())
    assert prov["providers"][0]["options"]["path"] == DASHBOARDS_DIR
    assert prov["providers"][0]["allowUiUpdates"] is False
    with pytest.raises(RenderError, match="prometheus_url"):
        render_datasources("prometheus:9090")
    with pytest.raises(RenderError, match="absolute"):
        render_dashboard_provider("dashboards")


def test_grafana_files_hold_provisioning_and_every_dashboard() -> None:
    files = grafana_files("http://prometheus:9090")
    assert f"{PROVISIONING_DIR}/datasources/prometheus.yml" in files
    assert f"{PROVISIONING_DIR}/dashboards/data-platform.yml" in files
    assert {p.rsplit("/", 1)[1] for p in files if p.startswith(DASHBOARDS_DIR)} == {
        f"{u}.json" for u in EXPECTED_UIDS}
    text = "".join(files.values())
    assert "secureJsonData" not in text and "GF_SECURITY_ADMIN_PASSWORD" not in text


def test_dashboards_can_be_written_for_a_grafana_elsewhere(tmp_path: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "components.render.dashboards", str(tmp_path / "out")],
                          capture_output=True, text=True, check=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{u}.json" for u in EXPECTED_UIDS)
    assert len(done.stdout.splitlines()) == len(EXPECTED_UIDS)
    assert (tmp_path / "out" / "dp-redis.json").read_text() == dash.render_dashboards()["dp-redis.json"]
