"""Pure-renderer tests for the local-stack config files (postgres, pgbouncer, haproxy, redis).

The integration tier boots the same text on real servers; these tests pin the contract cheaply."""

from __future__ import annotations

import base64
import configparser
import hashlib
import hmac
import inspect
import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from components.render.haproxy import PgServer, render_haproxy_cfg, render_pg_role_check
from components.render.pgbouncer import render_pgbouncer_ini, render_userlist
from components.render.postgres import (
    TlsFiles,
    pitr_files,
    render_pg_hba_conf,
    render_pgpass,
    render_postgresql_conf,
    scram_sha256_verifier,
    standby_files,
)
from components.render.prometheus import RenderError, render_prometheus_config, render_rules
from components.render.redis import (
    DEFAULT_CLUSTER_NODE_TIMEOUT_MS,
    MONITOR_COMMANDS,
    acl_password_hash,
    render_redis_conf,
    render_users_acl,
)
from infra.settings import PoolingSettings, PostgresSettings, RedisSettings
from infra.topology import REDIS_CLUSTER_NODE_TIMEOUT_MS


def _pg_params(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and " = " in line:
            key, value = line.split(" = ", 1)
            out[key] = value
    return out


# ---------------------------------------------------------------- postgresql.conf / pg_hba.conf


def test_postgresql_conf_takes_values_from_settings_and_is_deterministic() -> None:
    s = PostgresSettings(port=6543, max_connections=800)
    text = render_postgresql_conf(s, archive_dir="/var/lib/pg archive", synchronous_standby="standby")
    assert text == render_postgresql_conf(s, archive_dir="/var/lib/pg archive", synchronous_standby="standby")
    p = _pg_params(text)
    assert (p["port"], p["max_connections"]) == ("6543", "800")
    assert p["wal_level"] == "'replica'" and p["hot_standby"] == "on" and p["hot_standby_feedback"] == "on"
    assert p["synchronous_standby_names"] == "'FIRST 1 (\"standby\")'"
    assert p["password_encryption"] == "'scram-sha-256'" and p["ssl"] == "off"
    assert p["archive_mode"] == "on"
    archive = p["archive_command"][1:-1].replace("''", "'")
    assert shlex.split(archive) == ["test", "!", "-f", "/var/lib/pg archive/%f", "&&", "cp", "%p",
                                    "/var/lib/pg archive/%f"]
    assert p["shared_preload_libraries"] == "'pg_stat_statements'"
    assert text.rstrip().endswith("include_if_exists = 'replication.conf'")


def test_postgresql_conf_options() -> None:
    s = PostgresSettings()
    p = _pg_params(render_postgresql_conf(s, archive_dir=None, pg_stat_statements=False,
                                          tls=TlsFiles("/c/server.crt", "/c/server.key")))
    assert p["archive_mode"] == "off" and "archive_command" not in p
    assert "shared_preload_libraries" not in p
    assert (p["ssl"], p["ssl_cert_file"], p["ssl_key_file"]) == ("on", "'/c/server.crt'", "'/c/server.key'")
    assert p["synchronous_standby_names"] == "''"
    assert p["port"] == str(s.port)
    with pytest.raises(ValueError):
        render_postgresql_conf(s, archive_dir=None, synchronous_standby="bad name'")
    with pytest.raises(ValueError):
        render_postgresql_conf(s, archive_dir="/a\nb")


def test_pg_hba_is_scram_only_and_never_trust() -> None:
    text = render_pg_hba_conf(client_cidrs=["10.40.0.0/16"], replication_user="replicator",
                              replication_cidrs=["10.40.1.0/24", "10.41.0.0/16"])
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert {r[-1] for r in rows} == {"scram-sha-256"}  # no trust, md5 or password lines
    assert ["host", "replication", "replicator", "10.41.0.0/16", "scram-sha-256"] in rows
    assert ["host", "all", "all", "10.40.0.0/16", "scram-sha-256"] in rows
    tls = render_pg_hba_conf(client_cidrs=["10.40.0.0/16"], replication_user="replicator",
                             replication_cidrs=["10.40.0.0/16"], tls=True)
    tls_rows = [line.split() for line in tls.splitlines() if line and not line.startswith("#")]
    assert not any(r[0] == "host" for r in tls_rows)
    assert ["hostnossl", "all", "all", "0.0.0.0/0", "reject"] in tls_rows
    with pytest.raises(ValueError):
        render_pg_hba_conf(client_cidrs=["10.40.0.1/16"], replication_user="replicator", replication_cidrs=[])


def test_standby_and_pitr_files() -> None:
    files = standby_files(upstream_host="10.0.0.5", upstream_port=5432, replication_user="replicator",
                          application_name="dr_replica", passfile="/etc/pg/.pgpass", slot_name="dr_replica",
                          archive_dir="/archive")
    assert set(files) == {"standby.signal", "replication.conf"} and files["standby.signal"] == ""
    p = _pg_params(files["replication.conf"])
    assert "passfile=''/etc/pg/.pgpass''" in p["primary_conninfo"]
    assert "application_name=''dr_replica''" in p["primary_conninfo"]
    assert "password" not in p["primary_conninfo"]
    assert p["primary_slot_name"] == "'dr_replica'" and p["recovery_target_timeline"] == "'latest'"
    assert p["restore_command"] == "'cp /archive/%f %p'"
    target = datetime(2026, 11, 23, 12, 30, 15, 123456, tzinfo=UTC)
    pitr = pitr_files(archive_dir="/archive", target_time=target)
    assert set(pitr) == {"recovery.signal", "replication.conf"}
    q = _pg_params(pitr["replication.conf"])
    assert q["recovery_target_time"] == "'2026-11-23 12:30:15.123456+00:00'"
    assert q["recovery_target_action"] == "'promote'"
    with pytest.raises(ValueError):
        pitr_files(archive_dir="/archive", target_time=datetime(2026, 1, 1))


def test_pgpass_escapes_separators() -> None:
    assert render_pgpass([("*", 5432, "*", "replicator", "a:b\\c")]) == "*:5432:*:replicator:a\\:b\\\\c\n"


def test_scram_verifier_matches_rfc7677() -> None:
    """RFC 7677 §3: user 'user', password 'pencil'; check the stored keys reproduce the exchange."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_sha256_verifier("pencil", salt=salt, iterations=4096)
    head, keys = verifier.split("$", 1)[1].split("$")
    assert head == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}".encode()
    server_sig = hmac.new(server_key, auth, hashlib.sha256).digest()
    assert base64.b64encode(server_sig).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_sig = hmac.new(stored_key, auth, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(proof, client_sig, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key
    with pytest.raises(ValueError):
        scram_sha256_verifier("pencil", salt=b"short")


# ---------------------------------------------------------------- pgbouncer


def test_pgbouncer_ini_is_ini_with_pooling_settings() -> None:
    pooling = PoolingSettings(pool_mode="transaction", default_pool_size=40, max_client_connections=3000)
    text = render_pgbouncer_ini(pooling, databases=["app"], write_host="10.0.0.9", write_port=5000,
                                auth_file="/etc/pgbouncer/userlist.txt", admin_users=["dp_admin"])
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    pg = cp["pgbouncer"]
    assert (pg["pool_mode"], pg["default_pool_size"], pg["max_client_conn"]) == ("transaction", "40", "3000")
    assert pg["auth_type"] == "scram-sha-256" and pg["auth_file"] == "/etc/pgbouncer/userlist.txt"
    assert (pg["listen_addr"], pg["listen_port"]) == ("127.0.0.1", "6432")
    assert cp["databases"]["app"] == "host='10.0.0.9' port='5000' dbname='app'"
    assert text == render_pgbouncer_ini(pooling, databases=["app"], write_host="10.0.0.9", write_port=5000,
                                        auth_file="/etc/pgbouncer/userlist.txt", admin_users=["dp_admin"])
    with pytest.raises(ValueError):
        render_pgbouncer_ini(pooling, databases=["App; drop"], write_host="h", write_port=5000, auth_file="/u")


def test_userlist_refuses_plaintext() -> None:
    v = scram_sha256_verifier("secret", salt=b"0123456789abcdef")
    assert render_userlist({"app": v, "b": "md5" + "0" * 32}) == f'"app" "{v}"\n"b" "md5{"0" * 32}"\n'
    with pytest.raises(ValueError, match="not a password"):
        render_userlist({"app": "secret"})


# ---------------------------------------------------------------- haproxy


def test_haproxy_role_mode_routes_by_role() -> None:
    text = render_haproxy_cfg(primary=PgServer("primary", "10.0.0.1", 5432),
                              replicas=[PgServer("standby", "10.0.0.2", 5432), PgServer("dr", "10.1.0.2", 5432)],
                              primary_check_command="/etc/haproxy/check-primary.sh",
                              standby_check_command="/etc/haproxy/check-standby.sh")
    write = text.split("\nbackend pg_write_backend", 1)[1].split("\nbackend pg_read_backend")[0]
    read = text.split("\nbackend pg_read_backend", 1)[1]
    assert "bind 127.0.0.1:5000" in text and "bind 127.0.0.1:5001" in text
    assert "external-check command /etc/haproxy/check-primary.sh" in write
    assert "server primary 10.0.0.1:5432 check" in write and "server standby 10.0.0.2:5432 check" in write
    assert write.count(" backup") == 2
    assert "external-check command /etc/haproxy/check-standby.sh" in read
    assert "server primary 10.0.0.1:5432 backup track pg_write_backend/primary" in read
    assert "insecure-fork-wanted" in text


def test_haproxy_resolves_members_at_run_time_when_given_nameservers() -> None:
    servers = {"primary": PgServer("primary", "pg-primary", 5432),
               "replicas": [PgServer("standby", "pg-standby", 5432)]}
    static = render_haproxy_cfg(**servers, health_check="pgsql")  # type: ignore[arg-type]
    assert "resolvers" not in static and "init-addr" not in static
    text = render_haproxy_cfg(**servers, health_check="pgsql", nameservers=["127.0.0.11:53"])  # type: ignore[arg-type]
    assert "resolvers dns\n    nameserver ns1 127.0.0.11:53\n" in text
    default_server = next(line for line in text.splitlines() if line.strip().startswith("default-server"))
    assert "resolvers dns" in default_server and "init-addr last,libc,none" in default_server
    with pytest.raises(ValueError):
        render_haproxy_cfg(**servers, health_check="pgsql", nameservers=["127.0.0.11"])  # type: ignore[arg-type]


def test_haproxy_pgsql_mode_and_validation() -> None:
    text = render_haproxy_cfg(primary=PgServer("p", "h", 1), replicas=[PgServer("r", "h", 2)], health_check="pgsql")
    assert "option pgsql-check user haproxy_check" in text and "external-check" not in text
    with pytest.raises(ValueError):
        render_haproxy_cfg(primary=PgServer("p", "h", 1), replicas=[PgServer("r", "h", 2)])  # no scripts
    with pytest.raises(ValueError):
        render_haproxy_cfg(primary=PgServer("p", "h", 1), replicas=[PgServer("p", "h", 2)], health_check="pgsql")


@pytest.mark.parametrize(("role", "answer", "passes"), [("primary", "f", True), ("primary", "t", False),
                                                        ("standby", "t", True), ("standby", "f", False)])
def test_role_check_script(tmp_path: Path, role: str, answer: str, passes: bool) -> None:
    """Run the rendered script with a stand-in psql that answers like a primary/standby would."""
    psql = tmp_path / "psql"
    psql.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\necho {answer}\n")
    psql.chmod(0o755)
    script = tmp_path / "check.sh"
    script.write_text(render_pg_role_check(role, psql=str(psql), passfile="/x/.pgpass"))  # type: ignore[arg-type]
    script.chmod(0o755)
    res = subprocess.run([str(script), "127.0.0.1", "5000", "10.0.0.7", "5433"], check=False)
    assert (res.returncode == 0) is passes
    assert "-h 10.0.0.7 -p 5433 -U haproxy_check -d postgres" in (tmp_path / "args").read_text()


# ---------------------------------------------------------------- redis


def _redis_params(text: str) -> list[list[str]]:
    return [shlex.split(line) for line in text.splitlines() if line and not line.startswith("#")]


def test_redis_conf_cluster_persistence_memory() -> None:
    s = RedisSettings(maxmemory_policy="allkeys-lfu", port=7000)
    text = render_redis_conf(s, data_dir="/data", aclfile="/etc/redis/users.acl", maxmemory_bytes=2 * 1024**3,
                             replication_password='pa ss"word')
    rows = _redis_params(text)
    single = {r[0]: r[1:] for r in rows if r[0] != "save"}
    assert single["cluster-enabled"] == ["yes"] and single["port"] == ["7000"]
    assert single["cluster-node-timeout"] == [str(REDIS_CLUSTER_NODE_TIMEOUT_MS)]
    assert single["maxmemory-policy"] == ["allkeys-lfu"] and single["maxmemory"] == [str(2 * 1024**3)]
    assert single["appendonly"] == ["yes"] and single["appendfsync"] == ["everysec"]
    assert single["masteruser"] == ["replicator"] and single["masterauth"] == ['pa ss"word']
    assert single["protected-mode"] == ["yes"] and single["aclfile"] == ["/etc/redis/users.acl"]
    assert [r[1:] for r in rows if r[0] == "save"] == [["3600", "1"], ["300", "100"], ["60", "10000"]]
    assert text == render_redis_conf(s, data_dir="/data", aclfile="/etc/redis/users.acl",
                                     maxmemory_bytes=2 * 1024**3, replication_password='pa ss"word')
    with pytest.raises(ValueError):
        render_redis_conf(s, data_dir="/d", aclfile="/a", maxmemory_bytes=2**30, replication_password="x", port=60000)


def test_redis_renderer_default_node_timeout_equals_topology_constant() -> None:
    """components/ may not import infra, so the renderer keeps its own copy of the seeds' 5000 ms."""
    default = inspect.signature(render_redis_conf).parameters["cluster_node_timeout_ms"].default
    assert DEFAULT_CLUSTER_NODE_TIMEOUT_MS == default == REDIS_CLUSTER_NODE_TIMEOUT_MS == 5000


def test_users_acl_hashes_passwords_and_scopes_users() -> None:
    text = render_users_acl(app_password="app-pw", readonly_password="ro-pw", admin_password="admin-pw",
                            replication_password="repl-pw")
    for pw in ("app-pw", "ro-pw", "admin-pw", "repl-pw"):
        assert pw not in text and acl_password_hash(pw) in text
    assert acl_password_hash("app-pw") == "#" + hashlib.sha256(b"app-pw").hexdigest()
    users = {line.split()[1]: line.split()[2:] for line in text.splitlines()}
    assert users["default"][0] == "off"
    app, ro, repl = users["app_user"], users["readonly_user"], users["replicator"]
    assert "~app:*" in app and "+@write" in app and "-@dangerous" in app and "+cluster|slots" in app
    assert "~app:*" in ro and "+@read" in ro and "+@write" not in ro
    assert repl[-4:] == ["-@all", "+psync", "+replconf", "+ping"]
    assert "#" not in text.replace(acl_password_hash("app-pw"), "").replace(acl_password_hash("ro-pw"), "") \
        .replace(acl_password_hash("admin-pw"), "").replace(acl_password_hash("repl-pw"), "")  # no comments
    with pytest.raises(ValueError):
        render_users_acl(app_password="a", readonly_password="b", admin_password="c", replication_password="d",
                         app_user="default")


def test_users_acl_monitor_user_is_opt_in_and_serves_the_exporter_only() -> None:
    base = {"app_password": "app-pw", "readonly_password": "ro-pw", "admin_password": "admin-pw",
            "replication_password": "repl-pw"}
    assert "monitor_user" not in render_users_acl(**base)  # unchanged unless asked for
    text = render_users_acl(**base, monitor_password="mon-pw")
    assert "mon-pw" not in text and acl_password_hash("mon-pw") in text
    users = {line.split()[1]: line.split()[2:] for line in text.splitlines()}
    mon = users["monitor_user"]
    assert mon[:2] == ["on", acl_password_hash("mon-pw")]
    # no keys or channels; @connection without its dangerous/admin members; then exactly the exporter's commands
    assert mon[2:] == ["resetkeys", "resetchannels", "-@all", "+@connection", "-@dangerous", "-@admin",
                       *(f"+{c}" for c in MONITOR_COMMANDS)]
    assert set(MONITOR_COMMANDS) == {"info", "cluster|info", "slowlog|len", "latency|latest"}
    assert not any("config" in r or "slowlog|get" in r for r in mon)  # CONFIG GET reveals masterauth
    assert render_users_acl(**base, monitor_password="m", monitor_user="metrics").splitlines()[-1].startswith(
        "user metrics on ")
    with pytest.raises(ValueError, match="distinct"):
        render_users_acl(**base, monitor_password="m", monitor_user="readonly_user")


def test_prometheus_for_scale_is_a_drill_knob() -> None:
    def fors(text: str) -> dict[str, str | None]:
        return {r["alert"]: r.get("for") for g in yaml.safe_load(text)["groups"] for r in g["rules"]}

    prod, drill = fors(render_rules()), fors(render_rules(for_scale=0.05))
    assert render_rules(for_scale=1.0) == render_rules()
    assert prod["InstanceDown"] == "1m" and drill["InstanceDown"] == "3s"
    assert prod["RedisCPUHigh"] == "15m" and drill["RedisCPUHigh"] == "45s"
    assert fors(render_rules(for_scale=0.001))["InstanceDown"] == "1s"  # never 0: the rule keeps a 'for'
    assert set(prod) == set(drill)
    strip = [{k: v for k, v in r.items() if k != "for"} for g in yaml.safe_load(render_rules())["groups"]
             for r in g["rules"]]
    assert strip == [{k: v for k, v in r.items() if k != "for"}
                     for g in yaml.safe_load(render_rules(for_scale=0.05))["groups"] for r in g["rules"]]
    for bad in (0, -1, 1.5):
        with pytest.raises(RenderError, match=r"'for_scale' must be in \(0, 1\]"):
            render_rules(for_scale=bad)


def test_prometheus_one_second_evaluation_needs_the_lower_bound() -> None:
    with pytest.raises(RenderError, match=r"between 5 and 600 \(got 1\)"):
        render_prometheus_config({"redis": ["127.0.0.1:9121"]}, evaluation_interval_seconds=1)
    doc = yaml.safe_load(render_prometheus_config({"redis": ["127.0.0.1:9121"]}, evaluation_interval_seconds=1,
                                                  min_evaluation_interval_seconds=1))
    assert doc["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    with pytest.raises(RenderError, match=r"'min_evaluation_interval_seconds' must be between 1 and 5 \(got 0\)"):
        render_prometheus_config({"redis": ["127.0.0.1:9121"]}, min_evaluation_interval_seconds=0)
