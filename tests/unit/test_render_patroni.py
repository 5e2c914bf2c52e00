"""Pure-renderer tests for the self-failing-over local PostgreSQL tier: patroni.yml, the etcd member
config and haproxy.cfg checking Patroni's REST API (issue 18). The integration tier boots the same
files (tests/integration/test_patroni_failover.py)."""

from __future__ import annotations

import pytest
import yaml

from components.docker.postgres import (
    PATRONI_CONTAINER,
    bootstrap_sql,
    etcd_peers,
    member_names,
    patroni_haproxy_cfg,
    patroni_member_files,
    realized_links,
    role_verifiers,
)
from components.render.etcd import EtcdPeer, render_etcd_conf
from components.render.haproxy import PgServer, render_haproxy_cfg
from components.render.patroni import (
    PatroniMember,
    PatroniPaths,
    PatroniTiming,
    StandbyCluster,
    dcs_parameters,
    render_patroni_yml,
    render_post_bootstrap,
)
from components.render.postgres import postgresql_parameters, render_pg_hba_conf
from infra.settings import PostgresSettings

PATHS = PatroniPaths(data_dir="/data/pg", bin_dir="/usr/lib/postgresql/16/bin", pgpass="/tmp/pgpass",
                     socket_dir="/tmp", archive_dir="/archive", post_bootstrap="/bin/sh /etc/patroni/post.sh")


def _yml(**kw: object) -> dict:  # type: ignore[type-arg]
    args: dict[str, object] = {"scope": "data-platform", "member": PatroniMember("primary", "pg-primary", 5432, 8008),
                               "etcd_hosts": ["pg-etcd-1:2379", "pg-etcd-2:2379"], "paths": PATHS,
                               "client_cidrs": ["10.240.40.0/24"]}
    args.update(kw)
    text = render_patroni_yml(PostgresSettings(), **args)  # type: ignore[arg-type]
    assert text.startswith("# patroni.yml of ")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def test_patroni_yml_of_a_primary_cluster_member() -> None:
    doc = _yml()
    assert (doc["scope"], doc["name"], doc["namespace"]) == ("data-platform", "primary", "/data-platform/")
    assert doc["etcd3"] == {"hosts": ["pg-etcd-1:2379", "pg-etcd-2:2379"]}
    assert doc["restapi"] == {"listen": "0.0.0.0:8008", "connect_address": "pg-primary:8008",
                              "authentication": {"username": "patroni"}}
    dcs = doc["bootstrap"]["dcs"]
    assert {k: dcs[k] for k in ("ttl", "loop_wait", "retry_timeout", "synchronous_mode", "synchronous_mode_strict")} \
        == {"ttl": 20, "loop_wait": 1, "retry_timeout": 9, "synchronous_mode": True, "synchronous_mode_strict": False}
    assert "standby_cluster" not in dcs
    assert dcs["postgresql"]["use_pg_rewind"] is True and dcs["postgresql"]["use_slots"] is True
    assert doc["bootstrap"]["post_bootstrap"] == "/bin/sh /etc/patroni/post.sh"
    assert "data-checksums" in doc["bootstrap"]["initdb"]
    pg = doc["postgresql"]
    assert (pg["listen"], pg["connect_address"], pg["data_dir"], pg["pgpass"]) == (
        "0.0.0.0:5432", "pg-primary:5432", "/data/pg", "/tmp/pgpass")
    assert pg["authentication"] == {"superuser": {"username": "postgres"}, "replication": {"username": "replicator"},
                                    "rewind": {"username": "rewind_user"}}
    assert pg["parameters"] == {"unix_socket_directories": "/tmp"}
    assert doc["tags"] == {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False}


def test_the_project_postgresql_settings_become_patroni_parameters() -> None:
    """Reused, not copied: every postgresql.conf setting except the three Patroni owns and the
    per-member socket directory, booleans as on/off (what postgresql.conf says)."""
    s = PostgresSettings()
    params = _yml()["bootstrap"]["dcs"]["postgresql"]["parameters"]
    conf = postgresql_parameters(s, archive_dir="/archive")
    assert set(conf) - set(params) == {"listen_addresses", "port", "synchronous_standby_names",
                                       "unix_socket_directories"}
    for k, v in params.items():
        assert v == ({True: "on", False: "off"}[conf[k]] if isinstance(conf[k], bool) else conf[k]), k
    assert params["max_connections"] == s.max_connections and params["wal_log_hints"] == "on"
    assert params["archive_command"] == "test ! -f /archive/%f && cp %p /archive/%f"
    assert params == dcs_parameters(s, archive_dir="/archive")


def test_pg_hba_is_the_rendered_scram_only_file() -> None:
    hba = _yml()["postgresql"]["pg_hba"]
    text = render_pg_hba_conf(client_cidrs=["10.240.40.0/24"], replication_user="replicator",
                              replication_cidrs=["10.240.40.0/24"])
    assert hba == [line for line in text.splitlines() if not line.startswith("#")]
    assert all(line.split()[-1] == "scram-sha-256" for line in hba)
    assert any(line.split()[:3] == ["host", "replication", "replicator"] for line in hba)


def test_dr_member_is_a_standby_cluster_following_the_write_endpoint() -> None:
    doc = _yml(scope="data-platform-dr", member=PatroniMember("dr_replica", "pg-dr-replica", 5432, 8008),
               standby_cluster=StandbyCluster("pg-haproxy", 5000, "/archive"))
    dcs = doc["bootstrap"]["dcs"]
    assert dcs["standby_cluster"] == {"host": "pg-haproxy", "port": 5000, "create_replica_methods": ["basebackup"],
                                      "restore_command": "cp /archive/%f %p"}
    assert dcs["synchronous_mode"] is False  # nothing waits on the other "region"


def test_timing_is_validated_against_patroni_rules() -> None:
    assert PatroniTiming(ttl=30, loop_wait=10, retry_timeout=10).ttl == 30  # Patroni's defaults
    with pytest.raises(ValueError, match="raised to 20"):
        PatroniTiming(ttl=10, loop_wait=1, retry_timeout=4)
    assert PatroniTiming(ttl=10, loop_wait=1, retry_timeout=4, ttl_floor=10).ttl == 10  # a drill on Patroni 3.0
    with pytest.raises(ValueError, match="loop_wait \\+ 2 \\* retry_timeout <= ttl"):
        PatroniTiming(ttl=20, loop_wait=5, retry_timeout=9)
    with pytest.raises(ValueError, match="minimums"):
        PatroniTiming(ttl=20, loop_wait=0, retry_timeout=9)
    t = _yml(timing=PatroniTiming(ttl=30, loop_wait=2, retry_timeout=10))["bootstrap"]["dcs"]
    assert (t["ttl"], t["loop_wait"], t["retry_timeout"]) == (30, 2, 10)


@pytest.mark.parametrize(("kw", "match"), [
    ({"member": PatroniMember("Primary", "h", 5432, 8008)}, "member name"),
    ({"member": PatroniMember("primary", "h", 5432, 0)}, "TCP port"),
    ({"scope": "Data_Platform"}, "scope"),
    ({"etcd_hosts": []}, "at least one etcd host"),
    ({"etcd_hosts": ["http://pg-etcd-1:2379"]}, "host:port"),
])
def test_patroni_yml_refuses_bad_input(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _yml(**kw)


def test_post_bootstrap_script_applies_the_sql_with_patronis_connection_string() -> None:
    assert render_post_bootstrap(psql="/usr/bin/psql", sql_file="/etc/patroni/bootstrap.sql") == (
        "#!/bin/sh\n# post_bootstrap of components/render/patroni.py: the roles, once, after initdb.\nset -eu\n"
        'exec /usr/bin/psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f /etc/patroni/bootstrap.sql\n')
    with pytest.raises(ValueError):
        render_post_bootstrap(psql="/usr/bin/psql", sql_file="/etc/my file.sql")


def test_member_files_of_the_container() -> None:
    v = role_verifiers({r: f"pw-{r}" for r in ("postgres_exporter", "app_user", "migration_user", "readonly_user")},
                       seed=b"1" * 16)
    member = PatroniMember("replica_1", "pg-replica-1", 5432, 8008, nosync=True)
    files = patroni_member_files(PostgresSettings(), PATRONI_CONTAINER, member=member,
                                 etcd_hosts=["pg-etcd-1:2379"], client_cidrs=["10.0.0.0/24"],
                                 bootstrap=bootstrap_sql(v, database="app"))
    c = PATRONI_CONTAINER.conf_dir
    assert set(files) == {f"{c}/patroni.yml", f"{c}/start-patroni.sh", f"{c}/post-bootstrap.sh", f"{c}/bootstrap.sql"}
    doc = yaml.safe_load(files[f"{c}/patroni.yml"])
    assert doc["tags"]["nosync"] is True and doc["bootstrap"]["post_bootstrap"] == f"/bin/sh {c}/post-bootstrap.sh"
    assert files[f"{c}/start-patroni.sh"].endswith(
        "mkdir -p /var/lib/postgresql/archive\nchmod 0700 /var/lib/postgresql/archive\n"
        "exec patroni /etc/patroni/patroni.yml\n")
    sql = files[f"{c}/bootstrap.sql"]
    assert sql.index("CREATE ROLE postgres_exporter") < sql.index("CREATE DATABASE app;") < sql.index("\\connect app")
    assert "PASSWORD 'SCRAM-SHA-256$" in sql and "pw-" not in sql
    dr_member = PatroniMember("dr_replica", "h", 5432, 8008)
    dr = patroni_member_files(PostgresSettings(), PATRONI_CONTAINER, member=dr_member,
                              etcd_hosts=["pg-etcd-1:2379"], client_cidrs=["10.0.0.0/24"], bootstrap=None,
                              standby_cluster=StandbyCluster("pg-haproxy", 5000))
    assert set(dr) == {f"{c}/patroni.yml", f"{c}/start-patroni.sh"}
    assert yaml.safe_load(dr[f"{c}/patroni.yml"])["scope"] == "data-platform-dr"


# ---------------------------------------------------------------- etcd


def test_etcd_member_config_for_a_three_member_cluster() -> None:
    peers = etcd_peers("pg")
    doc = yaml.safe_load(render_etcd_conf(member="pg-etcd-2", peers=peers, data_dir="/bitnami/etcd/data"))
    assert doc == {
        "name": "pg-etcd-2", "data-dir": "/bitnami/etcd/data",
        "listen-client-urls": "http://0.0.0.0:2379", "advertise-client-urls": "http://pg-etcd-2:2379",
        "listen-peer-urls": "http://0.0.0.0:2380", "initial-advertise-peer-urls": "http://pg-etcd-2:2380",
        "initial-cluster": "pg-etcd-1=http://pg-etcd-1:2380,pg-etcd-2=http://pg-etcd-2:2380,"
                           "pg-etcd-3=http://pg-etcd-3:2380",
        "initial-cluster-state": "new", "initial-cluster-token": "data-platform-etcd",
        "heartbeat-interval": 100, "election-timeout": 1000, "enable-grpc-gateway": True,
        "quota-backend-bytes": 256 * 1024 * 1024, "auto-compaction-mode": "periodic",
        "auto-compaction-retention": "1h"}


@pytest.mark.parametrize(("peers", "member", "match"), [
    ([EtcdPeer("a", "a"), EtcdPeer("b", "b")], "a", "odd number"),
    ([EtcdPeer("a", "a"), EtcdPeer("a", "b"), EtcdPeer("c", "c")], "a", "uniquely"),
    ([EtcdPeer("a", "a")], "b", "is not one of"),
    ([EtcdPeer("A", "a")], "A", "member name"),
])
def test_etcd_config_refuses_bad_clusters(peers: list[EtcdPeer], member: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render_etcd_conf(member=member, peers=peers, data_dir="/d")


# ---------------------------------------------------------------- haproxy.cfg on Patroni's REST API


def test_haproxy_routes_by_patronis_rest_api() -> None:
    cfg = patroni_haproxy_cfg([PgServer("primary", "pg-primary", 5432, 8008),
                               PgServer("standby", "pg-standby", 5432, 8008)])
    write = cfg.split("\nbackend pg_write_backend\n", 1)[1].split("\n\n", 1)[0].splitlines()
    read = cfg.split("\nbackend pg_read_backend\n", 1)[1].splitlines()
    check = "check inter 1000 fall 2 rise 1"
    assert write == ["    balance first", "    option httpchk", "    http-check send meth GET uri /primary",
                     "    http-check expect status 200",
                     f"    server primary pg-primary:5432 {check} port 8008",
                     f"    server standby pg-standby:5432 {check} port 8008"]
    assert read == ["    balance leastconn", "    option httpchk", "    http-check send meth GET uri /replica",
                    "    http-check expect status 200",
                    f"    server primary pg-primary:5432 {check} port 8008",
                    f"    server standby pg-standby:5432 {check} port 8008",
                    "    server primary-leader pg-primary:5432 backup track pg_write_backend/primary",
                    "    server standby-leader pg-standby:5432 backup track pg_write_backend/standby"]
    assert ("    default-server on-marked-down shutdown-sessions resolvers dns init-addr last,libc,none"
            " resolve-prefer ipv4") in cfg.splitlines()
    assert "external-check" not in cfg and "pgsql-check" not in cfg


def test_haproxy_patroni_mode_needs_every_api_port() -> None:
    with pytest.raises(ValueError, match="api_port"):
        render_haproxy_cfg(primary=PgServer("primary", "h", 5432, 8008), replicas=[PgServer("standby", "h2", 5432)],
                           health_check="patroni")


# ---------------------------------------------------------------- the topology it realizes


def test_members_and_links_match_the_topology() -> None:
    assert member_names(standby=True, read_replicas=2) == {
        "postgres/primary": "primary", "postgres/standby": "standby", "postgres/replica-1": "replica_1",
        "postgres/replica-2": "replica_2"}
    links, diffs = realized_links(standby=True, read_replicas=1, dr_replica=True)
    assert links == {("postgres/primary", "postgres/standby", "sync"),
                     ("postgres/primary", "postgres/replica-1", "async"),
                     ("postgres/primary", "postgres/dr-replica", "async")}
    assert set(diffs) == {"postgres/primary", "postgres/standby", "postgres/dr-replica"}
    links, diffs = realized_links(standby=False, read_replicas=0, dr_replica=False)
    assert links == set() and set(diffs) == {"postgres/primary"}
