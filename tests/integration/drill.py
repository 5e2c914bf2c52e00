"""Failover and pooling drill on real servers (a benchmark, not a test).

Run from the repository root::

    python -m tests.integration.drill            # or: python tests/integration/drill.py
    python -m tests.integration.drill --json

Boots the same rendered topology as the integration tier (``servers.py``, ``patroni_servers.py``)
and prints these figures:

1. Redis failover: a shard primary is SIGKILLed -> its replica accepts writes.
2. PostgreSQL promotion by hand: ``pg_promote()`` on a plain standby -> first committed write on it
   (no failure detection: the clock starts at the promote call).
3. Replication lag under a bounded write load (default 5,000 inserts paced over 5 s), in bytes,
   sampled from ``pg_stat_replication`` (primary -> standby, standby -> cascading DR replica).
4. Short-transaction throughput (connect + SELECT 1 + disconnect), direct vs through PgBouncer.
5. The local stack's Patroni cluster (``components/docker/postgres.py``'s files): automatic
   failover (``kill -9`` of the leader's postmaster and Patroni -> first write acknowledged through
   PgBouncer -> HAProxy, detection included), median and worst of ``--failovers`` (default 5),
   acknowledged writes lost over all of them, a planned ``patronictl switchover``, and the DR
   standby cluster's lag behind the leader under the same paced load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script path: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from psycopg.errors import ReadOnlySqlTransaction
from redis.exceptions import ResponseError

from components.render.patroni import PatroniTiming
from infra.topology import REDIS_CLUSTER_NODE_TIMEOUT_MS
from tests.integration import patroni_servers, servers


def redis_failover() -> dict[str, Any]:
    """Seconds from SIGKILL of a shard primary until its replica accepts a write."""
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-drill-redis-"))
        rc = servers.start_redis_cluster(stack, root)
        c = rc.creds
        app = rc.cluster_client(c.app_user, c.app_password)
        key = "app:{drill}:probe"
        app.set(key, "before")
        victim, replica_node = rc.primary_and_replica_of(key, c.app_user, c.app_password)
        replica = replica_node.client(c.app_user, c.app_password)
        victim.kill()
        start = time.monotonic()

        def takes_writes() -> bool:
            try:
                return bool(replica.set(key, "after"))
            except ResponseError as err:
                if "MOVED" in str(err) or "CLUSTERDOWN" in str(err):
                    return False
                raise

        servers.wait_until(takes_writes, timeout=60, what="redis replica promotion", interval=0.02)
        return {"seconds": round(time.monotonic() - start, 3),
                "cluster_node_timeout_ms": REDIS_CLUSTER_NODE_TIMEOUT_MS}


def _throughput(cluster: servers.PgCluster, port: int, n: int) -> float:
    start = time.monotonic()
    for _ in range(n):
        with cluster.app(port, prepare_threshold=None) as conn:
            conn.execute("SELECT 1").fetchone()
    return n / (time.monotonic() - start)


def _lag_under_load(cluster: servers.PgCluster, inserts: int, seconds: float, writers: int) -> dict[str, Any]:
    assert cluster.standby is not None
    samples: dict[str, list[int]] = {"standby": [], "dr_replica": []}
    stop = threading.Event()

    def sample() -> None:
        assert cluster.standby is not None
        with cluster.primary.connect() as p, cluster.standby.connect() as s:
            q = ("SELECT application_name, pg_wal_lsn_diff({}, replay_lsn)::bigint FROM pg_stat_replication "
                 "WHERE replay_lsn IS NOT NULL")
            while not stop.is_set():
                for conn, pos in ((p, "pg_current_wal_lsn()"), (s, "pg_last_wal_replay_lsn()")):
                    for name, lag in conn.execute(q.format(pos)).fetchall():  # type: ignore[arg-type]
                        samples.setdefault(name, []).append(int(lag))
                time.sleep(0.01)

    with cluster.app(cluster.primary.port) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drill_load (id bigserial PRIMARY KEY, payload text)")

    def write(share: range) -> None:
        # Each commit waits for the synchronous standby, so one connection cannot reach 1,000/s:
        # several writers, each paced to its share of the schedule.
        with cluster.app(cluster.primary.port) as conn:
            for i in share:
                conn.execute("INSERT INTO drill_load (payload) VALUES (repeat(md5(%s::text), 8))", (i,))
                ahead = start + (i + 1) * interval - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    interval = seconds / inserts
    start = time.monotonic()
    threads = [threading.Thread(target=write, args=(range(w, inserts, writers),)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    time.sleep(0.2)
    stop.set()
    sampler.join(5)
    return {
        "inserts": inserts, "writers": writers, "seconds": round(elapsed, 2), "inserts_per_s": round(inserts / elapsed),
        "lag_bytes": {name: {"max": max(v), "avg": round(statistics.fmean(v)), "samples": len(v)}
                      for name, v in samples.items() if v},
    }


def _promote(cluster: servers.PgCluster) -> dict[str, Any]:
    standby = cluster.standby
    assert standby is not None
    cluster.primary.kill()
    start = time.monotonic()
    standby.query("SELECT pg_promote(false)")

    def writable() -> bool:
        try:
            with cluster.app(standby.port) as conn:
                conn.execute("INSERT INTO drill_load (payload) VALUES ('after promotion')")
            return True
        except ReadOnlySqlTransaction:
            return False

    servers.wait_until(writable, timeout=60, what="promoted standby to take writes", interval=0.01)
    return {"seconds": round(time.monotonic() - start, 3)}


def postgres_figures(inserts: int, seconds: float, txns: int, writers: int = 4) -> dict[str, Any]:
    """Throughput, lag under load and promotion time on one primary/standby/DR cluster."""
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-drill-pg-"))
        cluster = servers.start_pg_cluster(stack, root)
        _throughput(cluster, cluster.pgbouncer_port, 20)  # warm the pool
        direct = _throughput(cluster, cluster.primary.port, txns)
        pooled = _throughput(cluster, cluster.pgbouncer_port, txns)
        lag = _lag_under_load(cluster, inserts, seconds, writers)
        promote = _promote(cluster)
        return {"throughput_tx_per_s": {"transactions": txns, "direct": round(direct),
                                        "pgbouncer": round(pooled)},
                "replication_lag": lag, "promotion": promote}


def _patroni_failover(cluster: patroni_servers.PatroniCluster, n: int) -> dict[str, Any]:
    """Crash the leader ``n`` times; each time, measure the outage seen through PgBouncer, count
    acknowledged writes missing on the new leader, and bring the old leader back (pg_rewind)."""
    outages: list[float] = []
    lost = acked = 0
    for run in range(n):
        leader = cluster.leader()
        assert leader is not None
        with patroni_servers.Writer(cluster, "drill", f"failover{run}") as w:
            time.sleep(1)
            old, t0 = patroni_servers.crash_leader(cluster)
            outages.append(w.wait_recovered(t0, cluster.nodes[leader].pg_port, timeout=120))
            time.sleep(0.5)
        lost += len(patroni_servers.missing_tokens(cluster, "drill", w.acked))
        acked += len(w.acked)
        new = cluster.leader()
        assert new is not None and new != old
        cluster.nodes[old].start()
        cluster.wait_roles(new)
        cluster.wait_sync()
    return {"runs": n, "seconds": [round(x, 2) for x in outages], "median_s": round(statistics.median(outages), 2),
            "worst_s": round(max(outages), 2), "acknowledged_writes": acked, "writes_lost": lost}


def _patroni_switchover(cluster: patroni_servers.PatroniCluster) -> dict[str, Any]:
    leader = cluster.leader()
    assert leader is not None
    candidate = next(m["name"] for m in cluster.members() if m["role"] == "sync_standby")
    with patroni_servers.Writer(cluster, "drill", "switchover") as w:
        time.sleep(0.5)
        t0 = time.monotonic()
        cluster.patronictl("switchover", "--leader", leader, "--candidate", candidate, "--force")
        outage = w.wait_recovered(t0, cluster.nodes[leader].pg_port, timeout=60)
        servers.wait_until(lambda: cluster.leader() == candidate, timeout=60, what=f"{candidate} to lead")
        done = time.monotonic() - t0
    return {"from": leader, "to": candidate, "seconds": round(done, 2), "writes_interrupted_s": round(outage, 2),
            "writes_lost": len(patroni_servers.missing_tokens(cluster, "drill", w.acked))}


def _dr_lag(cluster: patroni_servers.PatroniCluster, inserts: int, seconds: float, writers: int) -> dict[str, Any]:
    """Bytes the DR standby cluster's replay trails the leader's WAL while ``inserts`` paced inserts run."""
    assert cluster.dr is not None
    leader = cluster.leader()
    assert leader is not None
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        with cluster.superuser(leader) as p, cluster.superuser("dr_replica") as d:
            while not stop.is_set():
                row = p.execute("SELECT pg_current_wal_lsn()").fetchone()
                replay = d.execute("SELECT pg_last_wal_replay_lsn()").fetchone()
                assert row is not None and replay is not None
                lag = p.execute("SELECT pg_wal_lsn_diff(%s, %s)::bigint", (row[0], replay[0])).fetchone()
                assert lag is not None
                samples.append(max(0, int(lag[0])))
                time.sleep(0.01)

    def write(share: range, start: float, interval: float) -> None:
        with cluster.connect(cluster.write_port) as conn:
            for i in share:
                conn.execute("INSERT INTO drill (token) VALUES (repeat(md5(%s::text), 8))", (f"lag{i}",))
                ahead = start + (i + 1) * interval - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    threads = [threading.Thread(target=write, args=(range(w, inserts, writers), start, seconds / inserts))
               for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    time.sleep(0.5)
    stop.set()
    sampler.join(5)
    return {"inserts": inserts, "seconds": round(elapsed, 2), "inserts_per_s": round(inserts / elapsed),
            "max_bytes": max(samples), "avg_bytes": round(statistics.fmean(samples)), "samples": len(samples),
            "after_load_bytes": samples[-1]}


def patroni_figures(failovers: int, inserts: int, seconds: float, writers: int,
                    ttl: int | None = None) -> dict[str, Any]:
    """Automatic failover, switchover and DR standby-cluster lag of the local stack's Patroni cluster.
    ``ttl`` other than the stack's: what a shorter leader lock would buy (below 20 s only Patroni
    < 3.2, e.g. Debian 12's 3.0, honours it; the stack's image runs 4.x)."""
    timing = PatroniTiming() if ttl is None else PatroniTiming(
        ttl=ttl, loop_wait=1, retry_timeout=max(3, (ttl - 1) // 2), ttl_floor=min(ttl, 20))
    with patroni_servers.cluster_in("dp-drill-patroni-", timing=timing) as cluster:
        patroni_servers.create_table(cluster, "drill")
        lag = _dr_lag(cluster, inserts, seconds, writers)
        failover = _patroni_failover(cluster, failovers)
        switchover = _patroni_switchover(cluster)
        return {"timing": {"ttl": timing.ttl, "loop_wait": timing.loop_wait, "retry_timeout": timing.retry_timeout},
                "failover": failover, "switchover": switchover, "dr_lag": lag}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--inserts", type=int, default=5000, help="inserts of the lag load (default 5000)")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of the lag load (default 5)")
    ap.add_argument("--txns", type=int, default=500, help="short transactions per throughput run (default 500)")
    ap.add_argument("--writers", type=int, default=4, help="concurrent writer connections (default 4)")
    ap.add_argument("--failovers", type=int, default=5, help="automatic failovers of the Patroni cluster (default 5)")
    ap.add_argument("--only-patroni", action="store_true", help="only the Patroni figures (5)")
    ap.add_argument("--ttl", type=int, default=None,
                    help="leader lock ttl of the Patroni figures (default: the stack's 20; below 20 only "
                         "Patroni < 3.2 honours it)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    try:
        servers.require("postgres", "initdb", "pg_basebackup", "psql", "pgbouncer", "haproxy",
                        "redis-server", "redis-cli")
        patroni_servers.require()
    except servers.MissingBinary as err:
        print(f"drill: {err}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {}
    if not args.only_patroni:
        result = {"redis_failover": redis_failover(),
                  **postgres_figures(args.inserts, args.seconds, args.txns, args.writers)}
    result["patroni"] = patroni_figures(args.failovers, args.inserts, args.seconds, args.writers, args.ttl)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if not args.only_patroni:
        _print_plain(result)
    _print_patroni(result["patroni"])
    return 0


def _print_patroni(p: dict[str, Any]) -> None:
    f, sw, lag, t = p["failover"], p["switchover"], p["dr_lag"], p["timing"]
    print(f"5. Patroni cluster (ttl {t['ttl']} s, loop_wait {t['loop_wait']} s, retry_timeout {t['retry_timeout']} s):")
    print(f"     automatic failover (kill -9 leader postmaster + Patroni -> write via PgBouncer):"
          f" median {f['median_s']:.2f} s, worst {f['worst_s']:.2f} s of {f['runs']}"
          f" ({', '.join(map(str, f['seconds']))})")
    print(f"     acknowledged writes lost: {f['writes_lost']} of {f['acknowledged_writes']}")
    print(f"     planned switchover {sw['from']} -> {sw['to']}: {sw['seconds']:.2f} s,"
          f" writes interrupted {sw['writes_interrupted_s']:.2f} s, lost {sw['writes_lost']}")
    print(f"     DR standby cluster lag, {lag['inserts']} inserts in {lag['seconds']} s ({lag['inserts_per_s']}/s):"
          f" max {lag['max_bytes']:,} B, avg {lag['avg_bytes']:,} B, {lag['after_load_bytes']:,} B 0.5 s after"
          f" ({lag['samples']} samples)")


def _print_plain(result: dict[str, Any]) -> None:
    lag = result["replication_lag"]
    tp = result["throughput_tx_per_s"]
    print(f"1. Redis failover (primary SIGKILL -> replica takes writes): {result['redis_failover']['seconds']:.2f} s"
          f" (cluster-node-timeout {result['redis_failover']['cluster_node_timeout_ms']} ms)")
    print(f"2. PostgreSQL promotion by hand (pg_promote -> first write): {result['promotion']['seconds']:.3f} s")
    print(f"3. Replication lag, {lag['inserts']} inserts by {lag['writers']} writers in {lag['seconds']} s"
          f" ({lag['inserts_per_s']}/s):")
    for name, v in lag["lag_bytes"].items():
        print(f"     {name:<11} max {v['max']:>9,} B   avg {v['avg']:>9,} B   ({v['samples']} samples)")
    print(f"4. Short transactions (connect + SELECT 1 + disconnect, N={tp['transactions']}):"
          f" direct {tp['direct']} tx/s, PgBouncer {tp['pgbouncer']} tx/s"
          f" ({tp['pgbouncer'] / tp['direct']:.2f}x)")


if __name__ == "__main__":
    raise SystemExit(main())
