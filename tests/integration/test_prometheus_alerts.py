"""The catalogue's own Prometheus rules, evaluated by a real Prometheus against real exporters.

Booted from rendered files only: a one-node Redis cluster (``redis.conf`` + ``users.acl``, the
exporter logs in as the rendered ``monitor_user``), a PostgreSQL primary (``postgresql.conf`` +
``pg_hba.conf``, the exporter logs in as a ``pg_monitor`` role), ``prometheus-redis-exporter`` and
``prometheus-postgres-exporter``, ``prometheus`` with ``prometheus.yml`` from
:func:`render_prometheus_config` and the rule file from :func:`render_rules`, and
``prometheus-alertmanager`` with :func:`render_alertmanager_config`.

Two knobs of the renderers make it take seconds, not minutes, without touching any expression,
threshold or label: ``min_evaluation_interval_seconds=1`` (scrape and evaluate every second) and
``for_scale`` (every rule's ``for`` shrunk; ``InstanceDown``'s 60 s becomes 3 s). ``InstanceDown``
is the alert under test because it watches every target (``up``, ``pg_up``, ``redis_up``): stopping
the Redis server turns the exporter's ``redis_up`` to 0 while the exporter itself stays up.

Binaries (Debian packages of the same name): ``prometheus``, ``prometheus-alertmanager``,
``prometheus-redis-exporter``, ``prometheus-postgres-exporter``, plus ``redis-server`` and
``postgresql``. A missing one fails the test with the package name. Every process is stopped and
the temporary directory removed when the module's fixture closes, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from psycopg import sql

try:
    from tests.integration import servers
    from tests.integration.conftest import require_binary
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]
    from conftest import require_binary  # type: ignore[no-redef]

from components.alerts import alerts_by_name, prometheus_alerts
from components.render.alertmanager import render_alertmanager_config
from components.render.postgres import scram_sha256_verifier
from components.render.prometheus import render_prometheus_config, render_rules
from components.render.redis import render_redis_conf, render_users_acl
from infra.settings import PostgresSettings, RedisSettings

pytestmark = pytest.mark.integration

INSTANCE_DOWN = alerts_by_name()["InstanceDown"]
INTERVAL_S = 1  # scrape and rule evaluation interval
FOR_SCALE = 0.05  # InstanceDown: for 60 s -> 3 s (every other rule shrinks by the same factor)
FOR_S = max(1, round(INSTANCE_DOWN.for_seconds * FOR_SCALE))
MAXMEMORY = 64 * 1024 * 1024
#: Commands the exporter asks for that ``monitor_user`` is denied on purpose (see components/render/redis.py).
WITHHELD = {"config|get", "slowlog|get"}
#: Binary -> Debian package.
BINARIES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
}


@dataclass
class Monitoring:
    """The running servers, exporters, Prometheus and Alertmanager."""

    redis_node: servers.RedisNode
    pg: servers.PgNode
    targets: dict[str, str]
    """Scrape job -> exporter ``host:port``."""
    prometheus: str
    """Base URL of Prometheus."""
    alertmanager: str
    """Base URL of Alertmanager."""
    monitor_user: str
    timings: dict[str, float] = field(default_factory=dict)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return json.load(resp)


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return str(resp.read().decode())


def _api(m: Monitoring, path: str, **params: str) -> Any:
    """``/api/v1/<path>`` of Prometheus; returns ``data`` and fails on ``status != success``."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    body = _get_json(f"{m.prometheus}/api/v1/{path}{query}")
    assert body["status"] == "success", body
    return body["data"]


def _instant(m: Monitoring, promql: str) -> dict[str, float]:
    """Instant query -> ``{instance: value}``."""
    return {r["metric"].get("instance", ""): float(r["value"][1]) for r in _api(m, "query", query=promql)["result"]}


def _instance_down(m: Monitoring) -> list[dict[str, Any]]:
    return [a for a in _api(m, "alerts")["alerts"] if a["labels"]["alertname"] == INSTANCE_DOWN.name]


def _rules(m: Monitoring) -> list[dict[str, Any]]:
    return [r for g in _api(m, "rules", type="alert")["groups"] for r in g["rules"]]


def _start(stack: contextlib.ExitStack, name: str, argv: list[str], log: Path, *,
           env: dict[str, str] | None = None, ready: Callable[[], object], timeout: float = 20) -> servers.Proc:
    proc = servers.Proc(name, argv, log, env=env)
    stack.callback(proc.stop)

    def up() -> object:
        proc.check_alive()
        return ready()

    servers.wait_until(up, timeout=timeout, what=f"{name} to serve", interval=0.1)
    return proc


def _start_redis(stack: contextlib.ExitStack, root: Path, monitor_user: str,
                 monitor_password: str) -> servers.RedisNode:
    """One node from the rendered files, made a one-node cluster owning every slot."""
    creds = servers.RedisCredentials()
    acl = servers.write_file(root / "users.acl", render_users_acl(
        app_password=creds.app_password, readonly_password=creds.readonly_password,
        admin_password=creds.admin_password, replication_password=creds.replication_password,
        monitor_password=monitor_password, monitor_user=monitor_user))
    port = servers.free_port(with_bus=True)
    d = servers.make_dir(root / "redis")
    conf = servers.write_file(d / "redis.conf", render_redis_conf(
        RedisSettings(), data_dir=str(d), aclfile=str(acl), maxmemory_bytes=MAXMEMORY,
        replication_password=creds.replication_password, bind=servers.HOST, port=port))
    node = servers.RedisNode("redis", port, d, creds)
    proc = node.proc = servers.Proc("redis", [servers.binary("redis-server"), str(conf)], d / "redis.log")
    stack.callback(node.stop)

    def answers() -> bool:
        proc.check_alive()
        return bool(node.client().ping())

    servers.wait_until(answers, timeout=20, what="redis to answer")
    node.client().execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)
    servers.wait_until(lambda: servers.cluster_info(node.client()).get("cluster_state") == "ok",
                       timeout=10, what="one-node cluster_state:ok")
    return node


@pytest.fixture(scope="module")
def mon() -> Iterator[Monitoring]:
    bins = {name: require_binary(name, package) for name, package in BINARIES.items()}
    try:
        servers.require("redis-server", "postgres", "initdb")
        servers.service_user()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-prom-"))
        timings: dict[str, float] = {}

        # Redis, and its exporter logged in as the rendered monitoring user.
        monitor_user, monitor_password = "monitor_user", secrets.token_urlsafe(18)
        node = _start_redis(stack, root, monitor_user, monitor_password)
        redis_x = f"{servers.HOST}:{servers.free_port()}"
        _start(stack, "redis-exporter", [
            bins["prometheus-redis-exporter"], f"--redis.addr=redis://{servers.HOST}:{node.port}",
            f"--redis.user={monitor_user}", f"--web.listen-address={redis_x}",
            "--config-command=-",  # CONFIG GET is withheld from monitor_user (it would reveal masterauth)
        ], root / "redis-exporter.log", env={"REDIS_PASSWORD": monitor_password},
            ready=lambda: "redis_up 1" in _get_text(f"http://{redis_x}/metrics").splitlines())
        timings["redis + exporter"] = time.monotonic() - t0

        # PostgreSQL primary, and its exporter logged in as a pg_monitor role.
        pg, _archive = servers.init_primary(stack, root, PostgresSettings())
        pg_monitor_password = secrets.token_urlsafe(18)
        with pg.connect() as c:
            c.execute(sql.SQL("CREATE ROLE postgres_exporter WITH LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Literal(scram_sha256_verifier(pg_monitor_password, salt=secrets.token_bytes(16)))))
        pg_x = f"{servers.HOST}:{servers.free_port()}"
        dsn = (f"postgresql://postgres_exporter:{urllib.parse.quote(pg_monitor_password, safe='')}"
               f"@{servers.HOST}:{pg.port}/postgres?sslmode=disable")
        _start(stack, "postgres-exporter", [
            bins["prometheus-postgres-exporter"], f"--web.listen-address={pg_x}",
        ], root / "postgres-exporter.log", env={"DATA_SOURCE_NAME": dsn},
            ready=lambda: "pg_up 1" in _get_text(f"http://{pg_x}/metrics").splitlines())
        timings["postgres + exporter"] = time.monotonic() - t0 - timings["redis + exporter"]

        # Alertmanager with the rendered config (no receivers: alerts are visible in its API).
        am_dir = servers.make_dir(root / "alertmanager")
        am_cfg = servers.write_file(am_dir / "alertmanager.yml", render_alertmanager_config())
        am = f"{servers.HOST}:{servers.free_port()}"
        _start(stack, "alertmanager", [
            bins["prometheus-alertmanager"], f"--config.file={am_cfg}",
            f"--storage.path={servers.make_dir(am_dir / 'data')}", f"--web.listen-address={am}",
            "--cluster.listen-address=",  # no HA gossip port
        ], am_dir / "alertmanager.log", ready=lambda: _get_text(f"http://{am}/-/ready"))

        # Prometheus with the rendered prometheus.yml and the catalogue's rules.
        targets = {"redis": redis_x, "postgres": pg_x}
        p_dir = servers.make_dir(root / "prometheus")
        servers.write_file(p_dir / "rules.yml", render_rules(for_scale=FOR_SCALE))
        p_cfg = servers.write_file(p_dir / "prometheus.yml", render_prometheus_config(
            {job: [t] for job, t in targets.items()}, evaluation_interval_seconds=INTERVAL_S,
            scrape_interval_seconds=INTERVAL_S, min_evaluation_interval_seconds=1,
            alertmanager_targets=[am], rule_files=["rules.yml"]))
        prom = f"{servers.HOST}:{servers.free_port()}"
        _start(stack, "prometheus", [
            bins["prometheus"], f"--config.file={p_cfg}",
            f"--storage.tsdb.path={servers.make_dir(p_dir / 'data')}", f"--web.listen-address={prom}",
        ], p_dir / "prometheus.log", ready=lambda: _get_text(f"http://{prom}/-/ready"))
        timings["all started"] = time.monotonic() - t0

        yield Monitoring(node, pg, targets, f"http://{prom}", f"http://{am}", monitor_user, timings)


def test_prometheus_scrapes_the_exporters_and_instance_down_stays_quiet(mon: Monitoring) -> None:
    def all_up() -> bool:
        active = _api(mon, "targets")["activeTargets"]
        seen = {t["labels"]["job"]: t["labels"]["instance"] for t in active if t["health"] == "up"}
        return len(active) == len(mon.targets) and seen == mon.targets

    servers.wait_until(all_up, timeout=15, what="both scrape targets up")
    servers.wait_until(lambda: _instant(mon, "redis_up") and _instant(mon, "pg_up"), timeout=10,
                       what="redis_up and pg_up in Prometheus")
    assert _instant(mon, "redis_up") == {mon.targets["redis"]: 1}
    assert _instant(mon, "pg_up") == {mon.targets["postgres"]: 1}
    # INFO (not CONFIG GET) feeds RedisMemoryHigh's denominator: the rendered maxmemory.
    assert _instant(mon, "redis_memory_max_bytes") == {mon.targets["redis"]: MAXMEMORY}

    # Every catalogue rule is loaded and evaluates without error against real exporter output.
    def evaluated() -> list[dict[str, Any]] | None:
        rules = _rules(mon)
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = servers.wait_until(evaluated, timeout=10, what="every rule evaluated once")
    assert sorted(r["name"] for r in rules) == sorted(a.name for a in prometheus_alerts())
    assert all(not r.get("lastError") for r in rules), [r for r in rules if r.get("lastError")]
    rule = next(r for r in rules if r["name"] == INSTANCE_DOWN.name)
    assert rule["duration"] == FOR_S
    assert rule["labels"] == {"severity": INSTANCE_DOWN.severity, "store": INSTANCE_DOWN.store}

    # Quiet for longer than its 'for' (plus two evaluations): never pending, never firing.
    deadline = time.monotonic() + FOR_S + 2 * INTERVAL_S
    while time.monotonic() < deadline:
        state = next(r for r in _rules(mon) if r["name"] == INSTANCE_DOWN.name)["state"]
        assert state == "inactive", f"{INSTANCE_DOWN.name} is {state} with every server up"
        assert _instance_down(mon) == []
        time.sleep(0.25)

    # The exporter needed nothing the rendered monitor_user lacks, apart from what is withheld.
    log = [servers._pairs(e) for e in mon.redis_node.client().execute_command("ACL LOG")]
    denied = {str(e["object"]) for e in log if e.get("username") == mon.monitor_user}
    assert denied <= WITHHELD, f"redis_exporter was denied {denied - WITHHELD}"
    # ... and the pre-existing readonly_user could not have served it (INFO is @dangerous).
    ro = mon.redis_node.client(mon.redis_node.creds.readonly_user, mon.redis_node.creds.readonly_password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        ro.info()
    print(f"prometheus alerts: started in {mon.timings['all started']:.1f}s "
          f"({', '.join(f'{k} {v:.1f}s' for k, v in mon.timings.items() if k != 'all started')})")


def test_stopping_redis_fires_instance_down_and_reaches_alertmanager(mon: Monitoring) -> None:
    """Last on purpose: it stops the module's Redis server."""
    redis_x = mon.targets["redis"]
    assert _instance_down(mon) == [], "InstanceDown must not fire before Redis is stopped"
    mon.redis_node.stop()
    stopped = time.monotonic()

    def firing() -> list[dict[str, Any]] | None:
        alerts = [a for a in _instance_down(mon) if a["state"] == "firing"]
        return alerts or None

    alerts = servers.wait_until(firing, timeout=30, what=f"{INSTANCE_DOWN.name} firing", interval=0.2)
    fired_s = time.monotonic() - stopped
    assert [a["labels"] for a in alerts] == [{
        "alertname": INSTANCE_DOWN.name, "instance": redis_x, "job": "redis",
        "severity": INSTANCE_DOWN.severity, "store": INSTANCE_DOWN.store,
    }], "only the Redis target is down"
    assert alerts[0]["annotations"]["summary"] == INSTANCE_DOWN.summary
    assert alerts[0]["annotations"]["runbook"] == INSTANCE_DOWN.runbook
    assert float(alerts[0]["value"]) == 0
    assert _instant(mon, "redis_up") == {redis_x: 0}
    assert _instant(mon, "up") == {redis_x: 1, mon.targets["postgres"]: 1}, "the exporters stay up"

    def in_alertmanager() -> list[dict[str, Any]] | None:
        got = [a for a in _get_json(f"{mon.alertmanager}/api/v2/alerts")
               if a["labels"].get("alertname") == INSTANCE_DOWN.name]
        return got or None

    received = servers.wait_until(in_alertmanager, timeout=15, what="the alert in Alertmanager", interval=0.2)
    delivered_s = time.monotonic() - stopped
    assert len(received) == 1
    assert received[0]["labels"] == alerts[0]["labels"]
    assert received[0]["status"]["state"] == "active"  # neither inhibited nor silenced
    assert [r["name"] for r in received[0]["receivers"]] == [INSTANCE_DOWN.severity]
    print(f"prometheus alerts: redis stopped -> {INSTANCE_DOWN.name} firing in {fired_s:.1f}s "
          f"(scrape/eval {INTERVAL_S}s, for {FOR_S}s), in Alertmanager after {delivered_s:.1f}s")
