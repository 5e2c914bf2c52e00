"""Every panel query of the generated Grafana dashboards, run against a real Prometheus scraping real exporters.

Booted from the repository's own fixtures (``tests/integration/servers.py``): a PostgreSQL primary
with a synchronous standby and a cascading DR replica (:func:`servers.start_pg_cluster`), one
``prometheus-postgres-exporter`` per member; a six-node Redis cluster, three primaries with a
replica each (:func:`servers.start_redis_cluster`), one ``prometheus-redis-exporter`` per node;
``prometheus`` with the rendered ``prometheus.yml`` and the catalogue's rule file.

Debian 12's ``prometheus-postgres-exporter`` is 0.11.1, older than the ``replication`` collector
(postgres_exporter 0.12+, in the local stack's v0.15.0 image) that exports ``pg_replication_lag_seconds``
and ``pg_replication_is_replica``: on 0.11 those panels — and the catalogue's PostgresReplicaLagHigh
and PostgresFailover rules — would stay empty. For an exporter older than 0.12 the fixture loads
:data:`REPLICATION_QUERY` (``--extend.query-path``): the collector's own SQL under the same metric
names. A little traffic (writes, reads, cache hits and misses) makes the rate() panels move.

* Every query of the PostgreSQL, Redis and overview dashboards (:func:`dashboards.panel_queries`)
  must return at least one series: a panel that would stay empty fails the test. The one exception
  is a query that selects only a failing state (:data:`dashboards.EMPTY_WHEN_HEALTHY`): it must
  evaluate without error, and its witness query (the same metric, unfiltered) must return series.
* Queries of the stores with no server here (Neo4j, Qdrant) are parsed by promtool: every panel
  query becomes a recording rule and ``promtool check rules`` runs the PromQL parser on each.

Binaries: ``prometheus``/``promtool`` (package ``prometheus``), ``prometheus-postgres-exporter``,
``prometheus-redis-exporter``, ``postgresql``, ``redis-server``/``redis-cli``. A missing one fails.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg import sql

try:
    from tests.integration import servers
    from tests.integration.conftest import require_binary
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]
    from conftest import require_binary  # type: ignore[no-redef]

from components.render import dashboards
from components.render.postgres import scram_sha256_verifier
from components.render.prometheus import render_prometheus_config, render_rules

pytestmark = pytest.mark.integration

INTERVAL_S = 1
LIVE_STORES = {"postgres", "redis", "any"}
BINARIES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
}


#: postgres_exporter 0.12+'s ``replication`` collector (collector/pg_replication.go) as a 0.11 user query.
REPLICATION_QUERY = {"pg_replication": {
    "query": ("SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
              "ELSE GREATEST (0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))) END AS lag_seconds, "
              "CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica"),
    "master": True,
    "metrics": [{"lag_seconds": {"usage": "GAUGE", "description": "Replication lag behind master in seconds"}},
                {"is_replica": {"usage": "GAUGE", "description": "Indicates if the server is a replica"}}],
}}


def _exporter_before_0_12(binary: str) -> bool:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    m = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    return m is not None and (int(m.group(1)), int(m.group(2))) < (0, 12)


@dataclass
class Stack:
    prometheus: str
    targets: dict[str, list[str]]
    promtool: str
    workdir: Path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    body = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def _start(stack: contextlib.ExitStack, name: str, argv: list[str], log: Path, *,
           env: dict[str, str] | None = None, ready: Callable[[], object]) -> None:
    proc = servers.Proc(name, argv, log, env=env)
    stack.callback(proc.stop)

    def up() -> object:
        proc.check_alive()
        return ready()

    servers.wait_until(up, timeout=20, what=f"{name} to serve", interval=0.1)


def _metrics_have(addr: str, line: str) -> Callable[[], bool]:
    def check() -> bool:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=3) as resp:
            return line in resp.read().decode().splitlines()
    return check


@pytest.fixture(scope="module")
def live() -> Iterator[Stack]:
    bins = {name: require_binary(name, package) for name, package in BINARIES.items()}
    try:
        servers.require("redis-server", "redis-cli", "postgres", "initdb", "pg_basebackup")
        servers.service_user()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-grafana-"))
        targets: dict[str, list[str]] = {"postgres": [], "redis": []}

        # PostgreSQL: primary + synchronous standby + cascading DR replica; one exporter per member.
        cluster = servers.start_pg_cluster(stack, servers.make_dir(root / "pg"), proxies=False)
        password = secrets.token_urlsafe(18)
        with cluster.primary.connect() as c:
            c.execute(sql.SQL("CREATE ROLE postgres_exporter WITH LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Literal(scram_sha256_verifier(password, salt=secrets.token_bytes(16)))))
        extend: list[str] = []
        if _exporter_before_0_12(bins["prometheus-postgres-exporter"]):
            q = servers.write_file(root / "replication-queries.yml", yaml.safe_dump(REPLICATION_QUERY), mode=0o644)
            extend = [f"--extend.query-path={q}"]
        for member in (cluster.primary, cluster.standby, cluster.dr):
            assert member is not None
            addr = f"{servers.HOST}:{servers.free_port()}"
            dsn = (f"postgresql://postgres_exporter:{urllib.parse.quote(password, safe='')}"
                   f"@{servers.HOST}:{member.port}/postgres?sslmode=disable")
            _start(stack, f"postgres-exporter-{member.name}", [
                bins["prometheus-postgres-exporter"], f"--web.listen-address={addr}", *extend],
                root / f"postgres-exporter-{member.name}.log", env={"DATA_SOURCE_NAME": dsn},
                ready=_metrics_have(addr, "pg_up 1"))
            targets["postgres"].append(addr)

        # Redis: six nodes, three shards of primary + replica; one exporter per node.
        handle = servers.start_redis_cluster(stack, servers.make_dir(root / "redis"))
        for node in handle.nodes:
            addr = f"{servers.HOST}:{servers.free_port()}"
            _start(stack, f"redis-exporter-{node.name}", [
                bins["prometheus-redis-exporter"], f"--redis.addr=redis://{servers.HOST}:{node.port}",
                f"--redis.user={handle.creds.admin_user}", f"--web.listen-address={addr}",
                "--config-command=-"],
                root / f"redis-exporter-{node.name}.log", env={"REDIS_PASSWORD": handle.creds.admin_password},
                ready=_metrics_have(addr, "redis_up 1"))
            targets["redis"].append(addr)

        p_dir = servers.make_dir(root / "prometheus")
        servers.write_file(p_dir / "rules.yml", render_rules())
        cfg = servers.write_file(p_dir / "prometheus.yml", render_prometheus_config(
            targets, evaluation_interval_seconds=INTERVAL_S, scrape_interval_seconds=INTERVAL_S,
            min_evaluation_interval_seconds=1, rule_files=["rules.yml"]))
        prom = f"{servers.HOST}:{servers.free_port()}"
        _start(stack, "prometheus", [
            bins["prometheus"], f"--config.file={cfg}", f"--storage.tsdb.path={servers.make_dir(p_dir / 'data')}",
            f"--web.listen-address={prom}"], p_dir / "prometheus.log",
            ready=lambda: urllib.request.urlopen(f"http://{prom}/-/ready", timeout=3).read())

        # Traffic: writes (WAL to ship), reads, Redis hits and misses.
        with cluster.primary.connect(dbname=cluster.creds.database) as c:
            c.execute("CREATE TABLE IF NOT EXISTS t (id int primary key, v text)")
            c.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
            c.execute("SELECT count(*) FROM t")
        rc = handle.cluster_client(handle.creds.admin_user, handle.creds.admin_password)
        for i in range(200):
            rc.set(f"k{i}", "v")
            rc.get(f"k{i}")
            rc.get(f"missing{i}")
        yield Stack(f"http://{prom}", targets, bins["promtool"], root)


def empty_panels(prometheus: str, queries: list[dashboards.PanelQuery], empty_ok: set[str], *,
                 timeout: float) -> tuple[list[tuple[str, str]], dict[tuple[str, str], int]]:
    """Run every query until each has series or ``timeout`` passes; returns the panels (dashboard,
    title) still empty — apart from ``empty_ok`` titles — and the series count of every panel."""
    deadline = time.monotonic() + timeout
    results: dict[tuple[str, str], int] = {}
    while True:
        for q in queries:
            if not results.get((q.dashboard, q.panel)):
                results[(q.dashboard, q.panel)] = len(_query(prometheus, q.expr))
        waiting = [k for k, n in results.items() if not n and k[1] not in empty_ok]
        if not waiting or time.monotonic() > deadline:
            return waiting, results
        time.sleep(1)


def test_every_live_panel_query_returns_series(live: Stack) -> None:
    servers.wait_until(lambda: len([t for t in _get(f"{live.prometheus}/api/v1/targets")["data"]["activeTargets"]
                                    if t["health"] == "up"]) == sum(map(len, live.targets.values())),
                       timeout=20, what="every exporter scraped")
    queries = [q for q in dashboards.panel_queries() if q.store in LIVE_STORES]
    assert {q.dashboard for q in queries} == {"dp-postgres", "dp-redis", "dp-overview"}
    empty_ok = {dashboards.alert_title(a): witness for a, witness in dashboards.empty_when_healthy().items()}
    # rate() over [5m] needs two scrapes; increase() the same
    waiting, results = empty_panels(live.prometheus, queries, set(empty_ok), timeout=30)
    assert waiting == [], f"panels that would stay empty on real exporters: {waiting}"
    for title, witness in empty_ok.items():
        assert _query(live.prometheus, witness), f"{title}: its witness {witness!r} has no series"
    print(f"grafana dashboards: {len(queries)} panel queries on real exporters, "
          f"{sum(1 for n in results.values() if n)} with series, "
          f"{sum(1 for k, n in results.items() if not n)} empty by design (condition absent): "
          f"{sorted(k[1] for k, n in results.items() if not n)}")


def test_a_panel_that_would_stay_empty_fails(live: Stack) -> None:
    """Test of the test: a panel on a metric no exporter has (a misspelt name) is reported empty."""
    fake = dashboards.PanelQuery("dp-postgres", "Fake", "postgres", "sum by (instance) (pg_stat_database_numbackendz)")
    real = next(q for q in dashboards.panel_queries() if q.dashboard == "dp-postgres")
    waiting, _ = empty_panels(live.prometheus, [real, fake], set(), timeout=2)
    assert waiting == [("dp-postgres", "Fake")]


def test_every_panel_query_parses_with_promtool(live: Stack) -> None:
    """Neo4j and Qdrant have no server here: their queries (and every other) go through promtool's parser."""
    queries = dashboards.panel_queries()
    rules = {"groups": [{"name": "grafana-panels", "rules": [
        {"record": f"dp:panel_{i}", "expr": q.expr} for i, q in enumerate(queries)]}]}
    path = servers.write_file(live.workdir / "panels.yml", yaml.safe_dump(rules, sort_keys=False))
    done = subprocess.run([live.promtool, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout + done.stderr

    bad = {"groups": [{"name": "bad", "rules": [{"record": "dp:bad", "expr": "sum by (instance (up)"}]}]}
    bad_path = servers.write_file(live.workdir / "bad.yml", yaml.safe_dump(bad))
    assert subprocess.run([live.promtool, "check", "rules", str(bad_path)], capture_output=True,
                          timeout=60, check=False).returncode != 0, "promtool must reject a malformed query"
    parsed_only = sorted({q.dashboard for q in queries if q.store not in LIVE_STORES})
    assert parsed_only == ["dp-graph", "dp-vector"]
