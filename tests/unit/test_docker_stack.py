"""The local stack as `pulumi preview` would see it: containers, network, volumes, loopback ports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from review.program import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def local() -> ProgramRun:
    run = run_program(ROOT, "local")
    assert run.error is None, run.error
    return run


def _containers(run: ProgramRun) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r.name: r.inputs for r in run.by_type(CONTAINER)}


def test_every_member_runs_with_its_supporting_services(local: ProgramRun) -> None:
    names = set(_containers(local))
    expected = {"pg-primary", "pg-standby", "pg-replica-1", "pg-dr-replica", "pg-pgbouncer", "pg-haproxy",
                *(f"pg-etcd-{i}" for i in range(1, 4)),
                *(f"redis-node-{i}" for i in range(1, 7)), "redis-cluster-create", "graph-primary-1",
                *(f"vector-peer-{i}" for i in range(1, 4)), "backups-s3", "backups-buckets",
                "monitoring-prometheus", "monitoring-alertmanager", "monitoring-grafana",
                *(f"monitoring-postgres-exporter-{m}" for m in ("primary", "standby", "replica-1", "dr-replica")),
                "monitoring-redis-exporter"}
    assert names == expected
    assert len(local.by_type("docker:index/network:Network")) == 1
    assert len(local.by_type("docker:index/volume:Volume")) >= 14


def test_published_ports_bind_loopback_only(local: ProgramRun) -> None:
    published = [(name, p) for name, inputs in _containers(local).items() for p in inputs.get("ports") or []]
    assert published, "the local stack publishes nothing"
    assert all(p["ip"] == "127.0.0.1" for _, p in published), [x for x in published if x[1]["ip"] != "127.0.0.1"]
    assert {p["external"] for _, p in published} >= {5432, 6432, 5000, 5001, 7001, 7006, 6333, 9090}


def test_images_are_pinned_and_every_container_has_a_healthcheck(local: ProgramRun) -> None:
    for image in local.by_type("docker:index/remoteImage:RemoteImage"):
        name = image.inputs["name"]
        assert re.search(r":[A-Za-z0-9._-]+$", name) and not name.endswith(":latest"), name
    for name, inputs in _containers(local).items():
        assert inputs["healthcheck"]["tests"], f"{name} has no healthcheck"


def test_replicas_start_after_their_upstream_and_the_cluster_job_after_every_node(local: ProgramRun) -> None:
    urn = {r.name: r.urn for r in local.by_type(CONTAINER)}
    deps = {r.name: set(r.dependencies) for r in local.by_type(CONTAINER)}
    assert {urn[f"pg-etcd-{i}"] for i in range(1, 4)} <= deps["pg-primary"]  # the DCS before Patroni
    assert urn["pg-primary"] in deps["pg-standby"]  # the designated primary bootstraps, the others clone it
    assert urn["pg-haproxy"] in deps["pg-dr-replica"]  # the standby cluster follows the write endpoint
    assert {urn[f"redis-node-{i}"] for i in range(1, 7)} <= deps["redis-cluster-create"]
    assert urn["vector-peer-1"] in deps["vector-peer-2"]


def test_passwords_reach_containers_only_as_secrets(local: ProgramRun) -> None:
    """A RandomPassword's result is a secret output; everything built from it stays secret (the SDK
    marks the whole list input secret), so the review never prints it."""
    for member in ("pg-primary", "pg-standby", "pg-replica-1", "pg-dr-replica"):
        r = next(r for r in local.by_type(CONTAINER) if r.name == member)
        assert "envs" in r.secret_paths and r.inputs["envs"] == "[secret]", member
        names = {env.split("=", 1)[0] for env in r.raw_inputs["envs"]}
        assert names == {"PATRONI_SUPERUSER_PASSWORD", "PATRONI_REPLICATION_PASSWORD", "PATRONI_REWIND_PASSWORD",
                         "PATRONI_RESTAPI_PASSWORD"}
        patroni_yml = next(u["content"] for u in r.raw_inputs["uploads"] if u["file"] == "/etc/patroni/patroni.yml")
        doc = yaml.safe_load(patroni_yml)
        assert doc["postgresql"]["authentication"] == {
            "superuser": {"username": "postgres"}, "replication": {"username": "replicator"},
            "rewind": {"username": "rewind_user"}}  # names only: the passwords come from the env
        assert doc["restapi"]["authentication"] == {"username": "patroni"}
    for node in (r for r in local.by_type(CONTAINER) if r.name.startswith("redis-node")):
        assert "uploads" in node.secret_paths, f"{node.name}: users.acl/redis.conf (passwords) not secret"
        assert any(u["file"].endswith("users.acl") for u in node.raw_inputs["uploads"])


# ---------------------------------------------------------------- issue 15: the images' start contracts


def _container(run: ProgramRun, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in run.by_type(CONTAINER) if r.name == name)


def test_one_shot_jobs_are_waited_for_and_a_failed_job_fails_the_deploy(local: ProgramRun) -> None:
    """Issue 15 item 6. The provider (terraform-provider-docker) waits for a job's end only with
    ``attach``; with ``must_run`` false an exited container is no error and ``exit_code`` is read
    back, which the component checks. ``wait`` (healthy) would never be met by a job that exits."""
    for job in ("redis-cluster-create", "backups-buckets"):
        inputs = _container(local, job).raw_inputs
        assert (inputs.get("attach"), inputs.get("mustRun"), inputs.get("wait"), inputs.get("restart")) == (
            True, False, False, "no"), job
    for service in ("pg-primary", "redis-node-1", "backups-s3"):
        inputs = _container(local, service).raw_inputs
        assert (inputs.get("attach"), inputs.get("mustRun"), inputs.get("wait")) == (False, True, True), service

    # The provider reports the bucket job's exit code 3. Run in a child process: a program that
    # fails half-way leaves Pulumi's runtime state unusable for later runs in this process.
    script = "\n".join([
        "import sys",
        "from pathlib import Path",
        "from review import mocks",
        "from review.program import run_program",
        "def exited(name, inputs, region, rid):",
        "    return rid, {'exitCode': 3 if name == 'backups-buckets' else 0}",
        f"mocks._TYPE_STATE[{CONTAINER!r}] = exited",
        f"print(run_program(Path({str(ROOT)!r}), 'local').error)",
    ])
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=False)
    assert "backups-buckets exited with code 3" in res.stdout, res.stdout + res.stderr


def test_bucket_job_runs_its_script_not_mc(local: ProgramRun, tmp_path: Path) -> None:
    """Issue 15 item 5: the minio/mc image's ENTRYPOINT is ``mc``; the job overrides it, and its
    script (run here by /bin/sh with a stand-in ``mc``) makes every bucket and fails when mc fails."""
    mc_image_entrypoint = ["mc"]  # minio/mc's Dockerfile: ENTRYPOINT ["mc"]
    buckets_script = "/usr/local/bin/create-buckets.sh"
    inputs = _container(local, "backups-buckets").raw_inputs
    argv = [*(inputs.get("entrypoints") or mc_image_entrypoint), *inputs["command"]]
    assert argv == ["/bin/sh", buckets_script]
    script = tmp_path / "create-buckets.sh"
    script.write_text(next(u["content"] for u in inputs["uploads"] if u["file"] == buckets_script))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for exit_code in (0, 1):
        (bin_dir / "mc").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\nexit {exit_code}\n')
        (bin_dir / "mc").chmod(0o755)
        (tmp_path / "calls").unlink(missing_ok=True)
        res = subprocess.run(["/bin/sh", str(script)], env={"PATH": f"{bin_dir}:/usr/bin:/bin",
                                                            "MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p"},
                             check=False)
        calls = (tmp_path / "calls").read_text().splitlines()
        if exit_code == 0:
            assert res.returncode == 0
            assert calls == ["alias set local http://backups-s3:9000 u p",
                             *(f"mb --ignore-existing --with-versioning local/{b}-backups"
                               for b in ("postgres", "redis", "graph", "vector"))]
        else:
            assert res.returncode != 0 and len(calls) == 1


def test_neo4j_community_gets_its_settings_through_the_image_environment(local: ProgramRun) -> None:
    """Issue 15 item 2: Community's strict validation refuses Enterprise-only settings, and a file
    under /conf replaces the image's whole conf directory. The settings travel as NEO4J_* variables,
    which the image's entrypoint maps back to names with
    ``sed 's|^NEO4J_||' | sed 's|_|.|g' | sed 's|\\.\\.|_|g'`` (run here with the real sed)."""
    from components.render.neo4j import parse_neo4j_conf, render_neo4j_conf

    graph = _container(local, "graph-primary-1").raw_inputs
    assert not any(u["file"].startswith("/conf") for u in graph.get("uploads") or [])
    assert graph["image"] and graph["waitTimeout"] >= 300
    env = dict(e.split("=", 1) for e in graph["envs"])
    names = [k for k in env if k.startswith("NEO4J_") and k not in ("NEO4J_AUTH", "NEO4J_ACCEPT_LICENSE_AGREEMENT")]
    mapped = subprocess.run(["sh", "-c", r"sed 's|^NEO4J_||' | sed 's|_|.|g' | sed 's|\.\.|_|g'"],
                            input="\n".join(names) + "\n", capture_output=True, text=True, check=True).stdout.split()
    settings = {setting: env[name] for setting, name in zip(mapped, names, strict=True)}
    expected = parse_neo4j_conf(render_neo4j_conf(
        member_role="primary", member_index=1, advertised_host="graph-primary-1", discovery_hosts=["graph-primary-1"],
        primaries=1, secondaries=0, heap_size="1g", pagecache_size="512m", edition="community"))
    assert settings == expected
    assert not any(k.startswith(("server.metrics", "server.backup")) for k in settings)
    assert "NEO4J_ACCEPT_LICENSE_AGREEMENT" not in env


def test_a_second_local_stack_shares_no_engine_name_host_port_or_subnet(local: ProgramRun) -> None:
    """Issue 15 item 3: container and volume names are global on a Docker engine, and so are host
    ports and network subnets; a second stack (its own portOffset and subnet) must not collide."""
    import json
    import runpy

    from review.program import _program_cwd, load_stack_config, record

    sc = load_stack_config(ROOT, "local")
    config = {**sc.config, "data-platform:local": json.dumps({"portOffset": 10000, "subnet": "10.240.41.0/24"})}

    def program() -> None:
        runpy.run_path(str(sc.main / "__main__.py"), run_name="__main__")

    with _program_cwd(sc.main):
        second = record(program, project=sc.project, stack="local-b", config=config, secret_keys=sc.secret_keys,
                        region=sc.region)
    assert second.error is None, second.error

    def engine(run: ProgramRun) -> dict[str, set]:  # type: ignore[type-arg]
        containers = run.by_type(CONTAINER)
        return {
            "containers": {r.raw_inputs["name"] for r in containers},
            "volumes": {r.raw_inputs["name"] for r in run.by_type("docker:index/volume:Volume")}
            | {v["volumeName"] for r in containers for v in r.raw_inputs.get("volumes") or []},
            "ports": {p["external"] for r in containers for p in r.raw_inputs.get("ports") or []},
            "networks": {r.raw_inputs["name"] for r in run.by_type("docker:index/network:Network")},
            "subnets": {c["subnet"] for r in run.by_type("docker:index/network:Network")
                        for c in r.raw_inputs["ipamConfigs"]},
        }

    a, b = engine(local), engine(second)
    for kind in a:
        assert a[kind] and b[kind], kind
        assert not a[kind] & b[kind], f"{kind} shared by two local stacks: {sorted(a[kind] & b[kind])}"
    # host names on each stack's own network stay the short ones the rendered configs name
    assert {r.raw_inputs["hostname"] for r in second.by_type(CONTAINER)} == {
        r.raw_inputs["hostname"] for r in local.by_type(CONTAINER)}


def test_every_exporter_logs_in_with_its_own_least_privilege_credentials(local: ProgramRun) -> None:
    """Issue 15 item 9: Qdrant's /metrics needs a key (the read-only one, never the admin key); the
    Redis exporter logs in as monitor_user (INFO and a few read-only commands, CONFIG GET withheld);
    one PostgreSQL exporter per member logs in as the pg_monitor role the init script creates."""
    import yaml

    from components.render.redis import acl_password_hash

    def env(name: str) -> dict[str, str]:
        return dict(e.split("=", 1) for e in _container(local, name).raw_inputs["envs"])

    def uploads(name: str) -> dict[str, str]:
        return {u["file"]: u["content"] for u in _container(local, name).raw_inputs.get("uploads") or []}

    prom = uploads("monitoring-prometheus")
    cfg = yaml.safe_load(prom["/etc/prometheus/prometheus.yml"])
    qdrant_job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "qdrant")
    token = prom[qdrant_job["authorization"]["credentials_file"]]
    for peer in ("vector-peer-1", "vector-peer-2", "vector-peer-3"):
        assert env(peer)["QDRANT__SERVICE__READ_ONLY_API_KEY"] == token != env(peer)["QDRANT__SERVICE__API_KEY"]

    redis_x = env("monitoring-redis-exporter")
    assert redis_x["REDIS_USER"] == "monitor_user" and redis_x["REDIS_EXPORTER_CONFIG_COMMAND"] == "-"
    acl = uploads("redis-node-1")["/etc/redis/users.acl"]
    assert f"user monitor_user on {acl_password_hash(redis_x['REDIS_PASSWORD'])} " in acl

    roles_sql = uploads("pg-primary")["/etc/patroni/bootstrap.sql"]
    assert "CREATE ROLE postgres_exporter WITH LOGIN PASSWORD 'SCRAM-SHA-256$" in roles_sql
    assert roles_sql.split("CREATE ROLE postgres_exporter", 1)[1].split(";")[0].endswith("IN ROLE pg_monitor")
    pg_jobs = next(j for j in cfg["scrape_configs"] if j["job_name"] == "postgres")
    exporters = {t.split(":")[0] for sc in pg_jobs["static_configs"] for t in sc["targets"]}
    hosts = {f"monitoring-postgres-exporter-{m}": f"pg-{m}" for m in ("primary", "standby", "replica-1", "dr-replica")}
    assert exporters == set(hosts)
    for exporter, host in hosts.items():
        dsn = env(exporter)["DATA_SOURCE_NAME"]
        assert dsn.startswith("postgresql://postgres_exporter:") and f"@{host}:5432/postgres?" in dsn


def test_memory_limits_shm_and_one_pull_per_image(local: ProgramRun) -> None:
    """Issue 15, "Also": a memory limit on every container (no swap beyond it), /dev/shm sized for
    PostgreSQL, limits above what the servers are configured to use, one RemoteImage per image."""
    containers = {r.name: r.raw_inputs for r in local.by_type(CONTAINER)}
    for name, inputs in containers.items():
        assert inputs.get("memory", 0) > 0 and inputs.get("memorySwap") == inputs["memory"], name
    for pg in ("pg-primary", "pg-standby", "pg-replica-1", "pg-dr-replica"):
        assert containers[pg]["shmSize"] >= 256 and containers[pg]["memory"] >= 1024
    assert containers["graph-primary-1"]["memory"] > 1024 + 512  # heap 1g + page cache 512m
    conf = next(u["content"] for u in containers["redis-node-1"]["uploads"] if u["file"].endswith("redis.conf"))
    maxmemory = int(next(line.split()[1] for line in conf.splitlines() if line.startswith("maxmemory ")))
    assert containers["redis-node-1"]["memory"] * 2**20 >= 2 * maxmemory
    images = [r.raw_inputs["name"] for r in local.by_type("docker:index/remoteImage:RemoteImage")]
    assert len(images) == len(set(images)) == 14, sorted(images)
    image_urns = {r.urn for r in local.by_type("docker:index/remoteImage:RemoteImage")}
    for r in local.by_type(CONTAINER):
        assert len(image_urns & set(r.dependencies)) == 1, r.name
