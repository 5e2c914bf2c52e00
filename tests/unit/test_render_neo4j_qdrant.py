"""Pure renderers: neo4j.conf per role, Qdrant config, backup scripts and systemd units."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.render.backup_scripts import (
    cron_to_on_calendar,
    neo4j_backup_addresses,
    render_cloud_config,
    render_neo4j_backup_script,
    render_qdrant_snapshot_script,
    render_systemd_units,
)
from components.render.neo4j import (
    discovery_version,
    parse_neo4j_conf,
    render_conf_merge_script,
    render_neo4j_conf,
)
from components.render.qdrant import API_KEY_ENV, peer_args, render_qdrant_config

HOSTS = [f"h{i}.example.internal" for i in range(1, 6)]


def _conf(role: str, index: int, **kw: Any) -> dict[str, str]:
    text = render_neo4j_conf(member_role=role, member_index=index,  # type: ignore[arg-type]
                             advertised_host=HOSTS[0], discovery_hosts=HOSTS, primaries=3, secondaries=2, **kw)
    return parse_neo4j_conf(text)


def test_primary_conf_has_cluster_settings() -> None:
    c = _conf("primary", 1)
    assert c["server.cluster.system_database_mode"] == "PRIMARY"
    assert c["initial.server.mode_constraint"] == "PRIMARY"
    assert c["dbms.cluster.minimum_initial_system_primaries_count"] == "3"
    assert c["initial.dbms.default_primaries_count"] == "3"
    assert c["initial.dbms.default_secondaries_count"] == "2"
    assert c["dbms.security.auth_enabled"] == "true"
    assert c["server.metrics.prometheus.enabled"] == "true"
    assert c["server.backup.listen_address"] == "0.0.0.0:6362"
    assert c["server.cluster.advertised_address"] == f"{HOSTS[0]}:6000"
    assert c["server.cluster.raft.advertised_address"] == f"{HOSTS[0]}:7000"


def test_secondaries_are_constrained_to_secondary() -> None:
    for i in (1, 2):
        c = _conf("secondary", i)
        assert c["server.cluster.system_database_mode"] == "SECONDARY"
        assert c["initial.server.mode_constraint"] == "SECONDARY"


@pytest.mark.parametrize(("version", "key", "port"), [
    ("5.20.0", "dbms.cluster.discovery.endpoints", 5000),
    ("5.26.12", "dbms.cluster.discovery.v2.endpoints", 6000),
    ("2025.01.0", "dbms.cluster.endpoints", 6000),
])
def test_discovery_by_version(version: str, key: str, port: int) -> None:
    c = _conf("primary", 1, version=version)
    assert c[key] == ",".join(f"{h}:{port}" for h in HOSTS)
    assert (c.get("dbms.cluster.discovery.version") == "V2_ONLY") == (discovery_version(version) == "v2")


def test_single_server_has_no_cluster_settings() -> None:
    text = render_neo4j_conf(member_role="primary", member_index=1, advertised_host="h1", discovery_hosts=["h1"],
                             primaries=1, secondaries=0)
    assert "initial.server.mode_constraint" not in text and "dbms.cluster" not in text


def test_community_edition_leaves_out_enterprise_settings() -> None:
    text = render_neo4j_conf(member_role="primary", member_index=1, advertised_host="h1", discovery_hosts=["h1"],
                             primaries=1, secondaries=0, edition="community")
    assert "server.backup" not in text and "server.metrics" not in text
    with pytest.raises(ValueError, match="community"):
        render_neo4j_conf(member_role="primary", member_index=1, advertised_host="h1", discovery_hosts=HOSTS,
                          primaries=3, secondaries=2, edition="community")


def test_bolt_tls_required_turns_on_policy() -> None:
    c = _conf("primary", 1, bolt_tls_level="REQUIRED")
    assert c["server.bolt.tls_level"] == "REQUIRED" and c["dbms.ssl.policy.bolt.enabled"] == "true"
    assert "dbms.ssl.policy.bolt.enabled" not in _conf("primary", 1)


@pytest.mark.parametrize("kw", [
    {"member_role": "secondary", "member_index": 3},
    {"member_role": "primary", "member_index": 4},
    {"heap_size": "8 GB"},
    {"advertised_host": "bad host"},
    {"extra": {"a": "b\nc=d"}},
])
def test_neo4j_rejects_bad_input(kw: dict[str, object]) -> None:
    base: dict[str, object] = {"member_role": "primary", "member_index": 1, "advertised_host": "h1",
                               "discovery_hosts": HOSTS, "primaries": 3, "secondaries": 2}
    with pytest.raises(ValueError):
        render_neo4j_conf(**{**base, **kw})  # type: ignore[arg-type]


def test_qdrant_config_cluster_and_defaults() -> None:
    text = render_qdrant_config(replication_factor=2, write_consistency_factor=1, peers=3)
    doc = yaml.safe_load(text)
    assert doc["cluster"] == {"enabled": True, "p2p": {"port": 6335, "enable_tls": False},
                              "consensus": {"tick_period_ms": 100}}
    assert doc["storage"]["collection"]["replication_factor"] == 2
    assert doc["storage"]["collection"]["write_consistency_factor"] == 1
    assert doc["storage"]["hnsw_index"]["m"] == 16 and doc["storage"]["hnsw_index"]["ef_construct"] == 100
    assert doc["storage"]["on_disk_payload"] is True
    assert doc["storage"]["snapshots_path"] == "/qdrant/snapshots"
    assert "api_key" not in doc["service"] and API_KEY_ENV in text  # only named in the header comment


@pytest.mark.parametrize("kw", [{"replication_factor": 4, "peers": 3},
                                {"replication_factor": 2, "write_consistency_factor": 3}])
def test_qdrant_rejects_bad_factors(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        render_qdrant_config(**kw)  # type: ignore[arg-type]


def test_qdrant_peer_args_bootstrap_from_peer_zero() -> None:
    assert peer_args(0, "http://p0:6335", "http://p0:6335") == ["--uri", "http://p0:6335"]
    assert peer_args(2, "http://p2:6335", "http://p0:6335") == ["--bootstrap", "http://p0:6335",
                                                                "--uri", "http://p2:6335"]


def test_neo4j_backup_script() -> None:
    s = render_neo4j_backup_script(neo4j_backup_addresses(["s1", "p1"]))
    assert 'neo4j-admin database backup --from="s1:6362,p1:6362"' in s
    assert "--to-path=" in s and "--sse aws:kms --sse-kms-key-id" in s and 's3://$BACKUP_BUCKET/$BACKUP_PREFIX' in s


def test_qdrant_snapshot_script() -> None:
    s = render_qdrant_snapshot_script()
    assert '-X POST "${hdr[@]}" "$url/collections/$c/snapshots?wait=true"' in s
    assert 'api-key: ${QDRANT__SERVICE__API_KEY}' in s and "--sse aws:kms" in s


def test_on_calendar() -> None:
    assert cron_to_on_calendar("0 2 * * *") == "*-*-* 02:00:00"
    assert cron_to_on_calendar("0 */6 * * *") == "*-*-* 00/6:00:00"
    with pytest.raises(ValueError):
        cron_to_on_calendar("0 2 * * 1")


def test_systemd_units_and_cloud_config() -> None:
    units = render_systemd_units("x", description="d", exec_start="/bin/true", on_calendar="*-*-* 00/6:00:00",
                                 user="root", environment_files=["/a", "/b"])
    assert "OnCalendar=*-*-* 00/6:00:00" in units["x.timer"] and "Persistent=true" in units["x.timer"]
    assert "EnvironmentFile=/a\nEnvironmentFile=/b" in units["x.service"]
    cc = render_cloud_config({"write_files": [{"path": "/p", "content": "a\nb\n"}]})
    assert cc.startswith("#cloud-config\n") and yaml.safe_load(cc)["write_files"][0]["content"] == "a\nb\n"


#: The shape of the neo4j.conf the RPM installs: layout settings the server cannot start without, repeated
#: JVM flags, a setting we also render, and commented defaults.
PACKAGED_CONF = """\
# Neo4j configuration (packaged)
server.directories.data=/var/lib/neo4j/data
server.directories.plugins=/var/lib/neo4j/plugins
server.directories.logs=/var/log/neo4j
server.directories.lib=/usr/share/neo4j/lib
server.directories.run=/var/run/neo4j
server.directories.import=/var/lib/neo4j/import
#server.default_listen_address=0.0.0.0
server.memory.heap.max_size=512m
server.jvm.additional=-XX:+UseG1GC
server.jvm.additional=-XX:-OmitStackTraceInFastThrow
server.jvm.additional=--add-opens=java.base/java.nio=ALL-UNNAMED
dbms.security.auth_enabled=false
"""


def _keys(text: str) -> list[str]:
    return [ln.split("=", 1)[0].strip() for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#") and "=" in ln]


def test_conf_merge_keeps_the_packaged_layout(tmp_path: Path) -> None:
    """Installing the rendered file over the packaged neo4j.conf drops server.directories.lib, the JVM
    flags and the log settings, and Neo4j does not start; appending it as is repeats keys, which strict
    validation (on by default in Neo4j 5) refuses. The merge removes the keys we set from the packaged
    file, appends ours, and is idempotent."""
    rendered = render_neo4j_conf(member_role="primary", member_index=1, advertised_host=HOSTS[0],
                                 discovery_hosts=HOSTS, primaries=3, secondaries=2, heap_size="8g")
    script, src, conf = tmp_path / "merge", tmp_path / "rendered.conf", tmp_path / "neo4j.conf"
    script.write_text(render_conf_merge_script())
    src.write_text(rendered)
    conf.write_text(PACKAGED_CONF)
    conf.chmod(0o640)
    subprocess.run(["bash", str(script), str(src), str(conf)], check=True)
    merged = conf.read_text()
    keys = _keys(merged)
    assert [k for k in set(keys) if keys.count(k) > 1] == ["server.jvm.additional"]  # only the repeatable one
    assert keys.count("server.jvm.additional") == 3
    settings = parse_neo4j_conf(merged)
    assert settings["server.directories.lib"] == "/usr/share/neo4j/lib"
    assert settings["server.directories.logs"] == "/var/log/neo4j"
    assert settings | parse_neo4j_conf(rendered) == settings  # every rendered setting, with our value
    assert settings["server.memory.heap.max_size"] == "8g" and settings["dbms.security.auth_enabled"] == "true"
    assert conf.stat().st_mode & 0o777 == 0o640
    subprocess.run(["bash", str(script), str(src), str(conf)], check=True)
    assert conf.read_text() == merged
    src.write_text(rendered.replace("heap.max_size=8g", "heap.max_size=4g"))  # a later render replaces ours
    subprocess.run(["bash", str(script), str(src), str(conf)], check=True)
    again = conf.read_text()
    assert parse_neo4j_conf(again)["server.memory.heap.max_size"] == "4g"
    assert _keys(again).count("server.memory.heap.max_size") == 1


def _fake_tools(bin_dir: Path, log: Path, fail_aws: bool = False) -> dict[str, str]:
    """curl, aws and neo4j-admin stand-ins that log their arguments (one call per line)."""
    bin_dir.mkdir()
    tools = {
        "curl": f"""echo "curl $*" >> {log}
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
case "$*" in
  *"-X POST"*) echo '{{"result":{{"name":"c1-snap.snapshot","size":1}}}}' ;;
  *"-X DELETE"*) echo '{{"result":true}}' ;;
  *) if [ -n "$out" ]; then : > "$out"; else echo '{{"result":{{"collections":[{{"name":"c1"}}]}}}}'; fi ;;
esac""",
        "aws": f'echo "aws $*" >> {log}\nexit {1 if fail_aws else 0}',
        "neo4j-admin": f"""echo "neo4j-admin $*" >> {log}
for a in "$@"; do case "$a" in --to-path=*) : > "${{a#--to-path=}}/neo4j.backup" ;; esac; done""",
    }
    for name, body in tools.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body + "\n")
        (bin_dir / name).chmod(0o755)
    import os

    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "QDRANT__SERVICE__API_KEY": "k",
            "QDRANT_PEER_URLS": "http://p1:6333", "BACKUP_BUCKET": "b", "BACKUP_PREFIX": "qdrant",
            "BACKUP_KMS_KEY_ARN": "arn:kms"}


@pytest.mark.parametrize("fail_aws", [False, True])
def test_qdrant_snapshot_script_always_deletes_the_peer_copy(tmp_path: Path, fail_aws: bool) -> None:
    """Snapshots stay on the peer's data volume until deleted: a failed upload must not leave one behind
    (and must still fail the run). Leftovers of an interrupted run in the work directory are removed."""
    work, log = tmp_path / "work", tmp_path / "calls.log"
    work.mkdir()
    (work / "old.snapshot").write_text("left by an interrupted run")
    env = {**_fake_tools(tmp_path / "bin", log, fail_aws=fail_aws), "SNAPSHOT_WORK_DIR": str(work)}
    script = tmp_path / "snap"
    script.write_text(render_qdrant_snapshot_script())
    done = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True)
    calls = log.read_text().splitlines()
    assert any("-X DELETE" in c and "/collections/c1/snapshots/c1-snap.snapshot" in c for c in calls), calls
    assert list(work.iterdir()) == []
    assert (done.returncode != 0) == fail_aws, done.stderr


def test_neo4j_backup_step_starts_from_a_clean_scratch(tmp_path: Path) -> None:
    """The scratch volume outlives a run: a run that failed before its upload left a copy that would
    pile up run after run. The step removes what an earlier run left before backing up."""
    from components.render.backup_scripts import render_neo4j_backup_step

    root, log = tmp_path / "backups", tmp_path / "calls.log"
    (root / "20250101T020000Z").mkdir(parents=True)
    (root / "20250101T020000Z" / "neo4j.backup").write_text("old")
    (root / "STAMP").write_text("20250101T020000Z\n")
    env = _fake_tools(tmp_path / "bin", log)
    subprocess.run(["bash", "-c", render_neo4j_backup_step("s1:6362", to_root=str(root))], env=env, cwd=tmp_path,
                   check=True)
    entries = sorted(p.name for p in root.iterdir())
    assert len(entries) == 2 and "20250101T020000Z" not in entries and "STAMP" in entries
    stamp = (root / "STAMP").read_text().strip()
    assert (root / stamp / "neo4j.backup").exists()
