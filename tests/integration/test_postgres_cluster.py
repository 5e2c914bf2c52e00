"""PostgreSQL booted from the rendered files: primary + synchronous standby + cascading DR replica,
HAProxy (write/read ports, role checks) and PgBouncer (transaction pooling, SCRAM), then
replication lag, promotion and point-in-time recovery against real servers."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

try:
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]

from components.render.postgres import TlsFiles, pitr_files, render_pg_hba_conf, render_postgresql_conf
from infra.settings import PostgresSettings

pytestmark = pytest.mark.integration

BINARIES = ("postgres", "initdb", "pg_basebackup", "psql", "pgbouncer", "haproxy")


def _require() -> None:
    try:
        servers.require(*BINARIES)
        servers.service_user()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def pg() -> Iterator[servers.PgCluster]:
    _require()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-pg-"))
        cluster = servers.start_pg_cluster(stack, root)
        with cluster.app(cluster.pgbouncer_port, prepare_threshold=None) as c:
            c.execute("CREATE TABLE events (id bigserial PRIMARY KEY, via text NOT NULL, token text NOT NULL)")
        yield cluster


def _port_of(conn: psycopg.Connection) -> int:  # type: ignore[type-arg]
    row = conn.execute("SELECT inet_server_port()").fetchone()
    assert row is not None
    return int(row[0])


def test_members_replicate_in_the_declared_topology(pg: servers.PgCluster) -> None:
    assert pg.standby and pg.dr
    rows = pg.primary.query("SELECT application_name, state, sync_state FROM pg_stat_replication")
    assert ("standby", "streaming", "sync") in rows
    assert all(name != "dr_replica" for name, _, _ in rows), "the DR replica must cascade, not hit the primary"
    assert pg.standby.query("SELECT application_name, state FROM pg_stat_replication") == [
        ("dr_replica", "streaming")]
    assert pg.dr.query("SELECT sender_port, status FROM pg_stat_wal_receiver") == [(pg.standby.port, "streaming")]
    settings = dict(pg.primary.query(
        "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'password_encryption', 'archive_mode',"
        " 'synchronous_standby_names', 'hot_standby_feedback', 'shared_preload_libraries', 'max_connections')"))
    assert settings == {
        "wal_level": "replica", "password_encryption": "scram-sha-256", "archive_mode": "on",
        "synchronous_standby_names": 'FIRST 1 ("standby")', "hot_standby_feedback": "on",
        "shared_preload_libraries": "pg_stat_statements", "max_connections": str(pg.settings.max_connections),
    }
    assert pg.standby.query("SELECT pg_is_in_recovery()") == [(True,)]


def test_authentication_is_scram_only(pg: servers.PgCluster) -> None:
    stored = pg.primary.query("SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolcanlogin")
    assert stored and all(prefix == "SCRAM-SHA-256$" for _, prefix in stored)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        servers.connect(pg.primary.port, pg.creds.app_user, "wrong-" + pg.creds.app_password, pg.creds.database)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        servers.connect(pg.pgbouncer_port, pg.creds.app_user, "wrong", pg.creds.database, prepare_threshold=None)
    userlist = (pg.root / "pgbouncer" / "userlist.txt").read_text()
    assert pg.creds.app_password not in userlist
    stored_app = pg.primary.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", pg.creds.app_user)[0][0]
    assert f'"{pg.creds.app_user}" "{stored_app}"' in userlist  # the Python-computed secret, stored as is


def test_writes_through_pgbouncer_and_haproxy_are_read_on_the_read_port(pg: servers.PgCluster) -> None:
    assert pg.standby and pg.dr
    t1, t2 = secrets.token_hex(8), secrets.token_hex(8)
    with pg.app(pg.pgbouncer_port, prepare_threshold=None) as c:
        c.execute("INSERT INTO events (via, token) VALUES ('pgbouncer', %s)", (t1,))
    with pg.app(pg.haproxy_write_port) as c:
        assert _port_of(c) == pg.primary.port
        c.execute("INSERT INTO events (via, token) VALUES ('haproxy-write', %s)", (t2,))

    def both_visible() -> bool:
        with pg.app(pg.haproxy_read_port) as r:
            assert _port_of(r) in (pg.standby.port, pg.dr.port)  # type: ignore[union-attr]
            rows = r.execute("SELECT via FROM events WHERE token IN (%s, %s) ORDER BY via", (t1, t2)).fetchall()
            return rows == [("haproxy-write",), ("pgbouncer",)]

    servers.wait_until(both_visible, timeout=15, what="both writes on the read port")
    with pg.app(pg.haproxy_read_port) as r, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        r.execute("INSERT INTO events (via, token) VALUES ('read-port', 'x')")


def test_replication_lag_is_reported_in_bytes(pg: servers.PgCluster) -> None:
    primary, standby = pg.primary, pg.standby
    assert standby

    def lag() -> dict[str, int]:
        return {**servers.lag_bytes(primary), **servers.lag_bytes(standby)}

    servers.wait_until(lambda: not any(lag().values()), timeout=20, what="replicas to be caught up before the load")
    before = primary.query("SELECT pg_current_wal_lsn()")[0][0]
    with pg.app(pg.haproxy_write_port) as c:
        c.execute("INSERT INTO events (via, token) SELECT 'bulk', md5(g::text) FROM generate_series(1, 20000) g")
    now = lag()
    written = primary.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)::bigint", before)[0][0]
    print(f"replication lag right after a 20,000-row insert ({written:,} bytes of WAL): {now}")
    assert set(now) == {"standby", "dr_replica"}
    assert all(isinstance(v, int) and 0 <= v <= written for v in now.values())
    servers.wait_until(lambda: not any(lag().values()), timeout=20, what="replicas to catch up (lag 0 bytes)")


def test_pitr_restores_exactly_to_a_timestamp() -> None:
    _require()
    settings = PostgresSettings()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-pitr-"))
        primary, archive = servers.init_primary(stack, root, settings, name="pitr_primary")
        db = primary.creds.database
        primary.query("CREATE TABLE ledger (id int PRIMARY KEY, note text)", dbname=db)
        base = root / "restored"
        servers.run([servers.binary("pg_basebackup"), "-h", servers.HOST, "-p", str(primary.port),
                     "-U", primary.creds.replication_user, "-D", str(base), "-X", "stream", "-c", "fast",
                     "--no-sync", "-w"], env={"PGPASSFILE": str(root / ".pgpass-replication")})
        with primary.connect(dbname=db) as c:
            c.execute("INSERT INTO ledger VALUES (1, 'first')")
            target = c.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
            time.sleep(0.05)
            c.execute("INSERT INTO ledger VALUES (2, 'second')")
            segment = c.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]  # type: ignore[index]
        servers.wait_until(lambda: (archive / segment).exists(), timeout=30, what=f"WAL {segment} archived")
        primary.stop()

        port = servers.free_port()
        servers.write_file(base / "postgresql.conf", render_postgresql_conf(
            settings, listen_addresses=servers.HOST, port=port, archive_dir=str(servers.make_dir(root / "archive2")),
            cluster_name="pitr_restore", unix_socket_directory=str(root / "sock")))
        for name, text in pitr_files(archive_dir=str(archive), target_time=target).items():
            servers.write_file(base / name, text)
        restored = servers.PgNode("pitr_restore", base, port, root / "sock", primary.creds)
        stack.callback(restored.stop)
        restored.start()
        servers.wait_until(lambda: restored.query("SELECT NOT pg_is_in_recovery()")[0][0], timeout=60,
                           what="recovery to reach the target and promote")
        assert restored.query("SELECT id, note FROM ledger ORDER BY id", dbname=db) == [(1, "first")]
        assert "recovery stopping before commit" in Path(root / "pitr_restore.log").read_text()


def test_tls_member_refuses_plaintext() -> None:
    """ssl on + hostssl-only pg_hba.conf, rendered with a throwaway self-signed certificate."""
    _require()
    try:
        openssl = servers.binary("openssl")
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    settings = PostgresSettings()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-tls-"))
        node, archive = servers.init_primary(stack, root, settings, name="tls_primary")
        tls = servers.make_dir(root / "tls")
        servers.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                     "/CN=127.0.0.1", "-keyout", str(tls / "server.key"), "-out", str(tls / "server.crt")])
        (tls / "server.key").chmod(0o600)
        servers.write_file(node.datadir / "postgresql.conf", render_postgresql_conf(
            settings, listen_addresses=servers.HOST, port=node.port, archive_dir=str(archive),
            cluster_name="tls_primary", unix_socket_directory=str(root / "sock"),
            tls=TlsFiles(str(tls / "server.crt"), str(tls / "server.key"))))
        servers.write_file(node.datadir / "pg_hba.conf", render_pg_hba_conf(
            client_cidrs=["127.0.0.1/32"], replication_user=node.creds.replication_user,
            replication_cidrs=["127.0.0.1/32"], tls=True))
        node.query("SELECT pg_reload_conf()")
        c = node.creds

        def tls_session() -> tuple[object, ...] | None:
            with servers.connect(node.port, c.app_user, c.app_password, c.database, sslmode="require") as conn:
                return conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()

        ssl, version = servers.wait_until(tls_session, timeout=10, what="a TLS session")
        assert ssl is True and version in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
            servers.connect(node.port, c.app_user, c.app_password, c.database, sslmode="disable")


def test_standby_promotion_takes_writes_and_the_endpoints_follow(pg: servers.PgCluster) -> None:
    """Last on purpose: it destroys the primary of the module's cluster."""
    standby, dr = pg.standby, pg.dr
    assert standby and dr
    pg.primary.kill()
    start = time.monotonic()
    standby.query("SELECT pg_promote(true, 30)")

    def writable() -> bool:
        with standby.connect(dbname=pg.creds.database) as c:
            c.execute("INSERT INTO events (via, token) VALUES ('promoted', 'direct')")
        return True

    servers.wait_until(writable, timeout=30, what="promoted standby to accept writes", interval=0.05)
    promote_s = time.monotonic() - start
    print(f"promotion: primary killed -> standby writable in {promote_s:.2f}s")
    assert promote_s < 30, "the seeds require failover under 30 s"

    def write_port_follows() -> bool:
        with pg.app(pg.haproxy_write_port) as c:
            assert _port_of(c) == standby.port
            c.execute("INSERT INTO events (via, token) VALUES ('haproxy-write', 'after-promotion')")
        return True

    servers.wait_until(write_port_follows, timeout=20, what="haproxy write port to reach the promoted standby")

    def pgbouncer_follows() -> bool:
        with pg.app(pg.pgbouncer_port, prepare_threshold=None) as c:
            c.execute("INSERT INTO events (via, token) VALUES ('pgbouncer', 'after-promotion')")
        return True

    servers.wait_until(pgbouncer_follows, timeout=30, what="pgbouncer to write through the new primary")
    servers.wait_until(lambda: dr.query("SELECT count(*) FROM events WHERE token = 'after-promotion'",
                                        dbname=pg.creds.database) == [(2,)],
                       timeout=30, what="the cascading DR replica to follow the new timeline")
    assert dr.query("SELECT received_tli FROM pg_stat_wal_receiver") == [(2,)]
