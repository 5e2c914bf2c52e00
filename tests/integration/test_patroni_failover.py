"""The local PostgreSQL tier fails over by itself: Patroni + etcd + HAProxy + PgBouncer booted from
the local stack's rendered files on real servers (``patroni_servers.py``).

Writes go through PgBouncer -> HAProxy's write port, the address the application uses. The leader
is crashed (``kill -9`` of its postmaster and its Patroni); the clock runs until a write through
that same address succeeds. Every write PgBouncer acknowledged must be on the new leader
(``synchronous_mode``); the old leader comes back as a replica by ``pg_rewind``; a planned
``patronictl switchover`` and the loss of one etcd member lose nothing either.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

try:
    from tests.integration import patroni_servers as ps
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import patroni_servers as ps  # type: ignore[no-redef]
    import servers  # type: ignore[no-redef]

from components.render.patroni import PatroniTiming
from components.render.postgres import postgresql_parameters
from infra.settings import PostgresSettings

pytestmark = pytest.mark.integration

TABLE = "writes"
QUALIFIED = f"app.{TABLE}"  # the application's schema (postgres_roles.RoleModel), for the superuser
#: The promise of the self-managed clusters the project's users come from.
PROMISED_FAILOVER_S = 30
TIMING = PatroniTiming()


@pytest.fixture(scope="module")
def cluster() -> Iterator[ps.PatroniCluster]:
    try:
        ps.require()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    with ps.cluster_in("dp-patroni-", timing=TIMING) as c:
        ps.create_table(c, TABLE)
        yield c


def test_members_boot_in_the_declared_roles_with_the_rendered_settings(cluster: ps.PatroniCluster) -> None:
    roles = {m["name"]: (m["role"], m["state"]) for m in cluster.members()}
    assert roles == {"primary": ("leader", "running"), "standby": ("sync_standby", "running"),
                     "replica_1": ("replica", "running")}
    assert cluster.dr is not None
    status, dr = cluster.dr.api("/patroni")
    assert status == 200 and dr["role"] == "standby_leader" and dr["patroni"]["scope"] == "data-platform-dr"
    s = PostgresSettings()
    expected = postgresql_parameters(s, archive_dir=cluster.nodes["primary"].layout.archive_dir)
    with cluster.superuser("primary", "postgres") as c:
        settings = dict(c.execute("SELECT name, setting FROM pg_settings").fetchall())
        assert settings["max_connections"] == str(s.max_connections)
        assert settings["archive_command"] == expected["archive_command"]
        assert settings["wal_log_hints"] == "on" and settings["data_checksums"] == "on"
        assert settings["shared_preload_libraries"] == "pg_stat_statements"
        assert settings["synchronous_standby_names"] == "standby"  # Patroni's choice: never the nosync replica
        assert c.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method <> 'scram-sha-256'"
                         ).fetchone() == (0,)
        logins = {r[0] for r in c.execute("SELECT rolname FROM pg_roles WHERE rolcanlogin").fetchall()}
    assert {"postgres", "replicator", "rewind_user", "app_user", "migration_user", "readonly_user",
            "postgres_exporter"} <= logins
    with cluster.connect(cluster.write_port) as w, cluster.connect(cluster.read_port) as r:
        assert w.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone() == (
            cluster.nodes["primary"].pg_port, False)
        assert r.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_the_rest_api_changes_the_cluster_only_with_its_password(cluster: ps.PatroniCluster) -> None:
    """HAProxy's checks read without credentials; a switchover without the password is refused
    (and patronictl, with it, succeeds in the switchover test below)."""
    node = cluster.nodes["primary"]
    assert node.status("/primary") == 200 and cluster.nodes["standby"].status("/replica") == 200
    req = urllib.request.Request(f"http://{ps.HOST}:{node.api_port}/switchover", method="POST",
                                 data=json.dumps({"leader": "primary", "candidate": "standby"}).encode())
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 401
    assert cluster.leader() == "primary"


def test_losing_one_etcd_member_changes_nothing(cluster: ps.PatroniCluster) -> None:
    leader = cluster.leader()
    with cluster.superuser(leader or "primary", "postgres") as c:
        timeline = c.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()
    victim = cluster.etcd[0]
    with ps.Writer(cluster, TABLE, "etcd") as w:
        t0 = time.monotonic()
        victim.kill()
        # Longer than an etcd election and several HA loops, half the leader lock's ttl.
        time.sleep(TIMING.ttl / 2)
        assert cluster.leader() == leader
        w.wait_acked_after(time.monotonic())
    assert w.failures_after(t0) == 0, "writes failed while one etcd member was down"
    gaps = [b.end - a.end for a, b in zip(w.attempts, w.attempts[1:], strict=False) if b.start >= t0]
    assert max(gaps) < 5, f"writes stalled {max(gaps):.1f} s while one etcd member was down"
    assert ps.missing_tokens(cluster, TABLE, w.acked) == []
    with cluster.superuser(leader or "primary", "postgres") as c:
        assert c.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone() == timeline
    victim.start()  # rejoins from its data directory
    servers.wait_until(victim.healthy, timeout=30, what="etcd member to rejoin")


def test_leader_crash_fails_over_within_the_promise_and_loses_no_acknowledged_write(
        cluster: ps.PatroniCluster) -> None:
    old_port = cluster.nodes["primary"].pg_port
    with ps.Writer(cluster, TABLE, "crash") as w:
        time.sleep(1)  # writes in flight when the leader dies
        old, t0 = ps.crash_leader(cluster)
        outage = w.wait_recovered(t0, old_port, timeout=PROMISED_FAILOVER_S * 3)
        time.sleep(1)
    new = cluster.leader()
    assert old == "primary" and new == "standby", cluster.members()  # only the sync standby may take over
    # An orphaned backend of the killed postmaster may still acknowledge a commit for a moment, but
    # only with the synchronous standby's confirmation (so it is not lost, checked below); once
    # writes go through again, they all land on the new leader.
    assert {a.port for a in w.attempts if a.ok and a.start >= t0 + outage} == {cluster.nodes["standby"].pg_port}
    assert outage < PROMISED_FAILOVER_S, f"failover took {outage:.1f} s"
    # The lock outlives a killed leader by up to ttl: failover can be no faster than ttl - loop_wait.
    assert outage > TIMING.ttl - TIMING.loop_wait - 1, f"{outage:.1f} s: faster than the leader lock allows?"
    missing = ps.missing_tokens(cluster, TABLE, w.acked)
    assert missing == [], f"{len(missing)} acknowledged writes lost: {missing[:5]}"
    print(f"\nfailover: {outage:.2f} s; {len(w.acked)} acknowledged writes, none lost")


def test_old_leader_rejoins_as_a_replica_by_rewind(cluster: ps.PatroniCluster) -> None:
    old = cluster.nodes["primary"]
    assert not (old.proc and old.proc.alive())
    old.start()
    cluster.wait_roles("standby")
    servers.wait_until(lambda: cluster.role_of("primary") == "sync_standby", timeout=60,
                       what="the old leader to become the synchronous standby")
    assert "running pg_rewind from" in old.log.read_text(), "rejoined without pg_rewind"
    with cluster.superuser("primary") as c, cluster.superuser("standby") as leader:
        assert c.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        lsn = leader.execute("SELECT pg_current_wal_lsn()").fetchone()
        servers.wait_until(lambda: c.execute("SELECT pg_last_wal_replay_lsn() >= %s", lsn).fetchone() == (True,),
                           timeout=20, what="the rejoined member to replay up to the leader")
        ours = c.execute(f"SELECT count(*) FROM {QUALIFIED}").fetchone()
        theirs = leader.execute(f"SELECT count(*) FROM {QUALIFIED}").fetchone()
    assert ours == theirs


def test_planned_switchover_with_patronictl_loses_nothing(cluster: ps.PatroniCluster) -> None:
    leader = cluster.leader()
    assert leader is not None
    candidate = next(m["name"] for m in cluster.members() if m["role"] == "sync_standby")
    with ps.Writer(cluster, TABLE, "switchover") as w:
        time.sleep(0.5)
        t0 = time.monotonic()
        cluster.patronictl("switchover", "--leader", leader, "--candidate", candidate, "--force")
        outage = w.wait_recovered(t0, cluster.nodes[leader].pg_port, timeout=60)
        servers.wait_until(lambda: cluster.leader() == candidate, timeout=60, what=f"{candidate} to lead")
    assert ps.missing_tokens(cluster, TABLE, w.acked) == []
    assert outage < 15, f"switchover interrupted writes for {outage:.1f} s"
    cluster.wait_roles(candidate)
    print(f"\nswitchover {leader} -> {candidate}: writes interrupted {outage:.2f} s, none lost")


def test_dr_standby_cluster_follows_the_primary_cluster_across_leader_changes(cluster: ps.PatroniCluster) -> None:
    assert cluster.dr is not None
    with cluster.app() as a:
        a.execute(f"INSERT INTO {TABLE} (token) VALUES ('dr-probe')")
    with cluster.superuser("dr_replica") as dr, cluster.connect(cluster.write_port) as w:
        servers.wait_until(lambda: dr.execute(f"SELECT 1 FROM {QUALIFIED} WHERE token = 'dr-probe'").fetchone(),
                           timeout=30, what="the DR member to replay a write made after two leader changes")
        # It streams (not only restores from the archive) on the leader's current timeline, two
        # leader changes after its clone.
        timeline = w.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()
        assert timeline is not None and timeline[0] >= 3
        servers.wait_until(lambda: dr.execute("SELECT received_tli, status FROM pg_stat_wal_receiver").fetchone()
                           == (timeline[0], "streaming"), timeout=30,
                           what=f"the DR member to stream on timeline {timeline[0]}")
    assert cluster.dr.api("/standby-leader")[0] == 200


def test_a_missing_binary_names_its_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(servers.MissingBinary) as err:
        servers.require("patroni", "patronictl", "etcd")
    assert str(err.value) == "missing server binaries: apt-get install etcd-server patroni"
