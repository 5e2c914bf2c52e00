"""The local stack as `pulumi preview` would see it: containers, network, volumes, loopback ports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
                *(f"redis-node-{i}" for i in range(1, 7)), "redis-cluster-create", "graph-primary-1",
                *(f"vector-peer-{i}" for i in range(1, 4)), "backups-s3", "backups-buckets",
                "monitoring-prometheus", "monitoring-alertmanager", "monitoring-postgres-exporter",
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
    assert urn["pg-primary"] in deps["pg-standby"]
    assert urn["pg-standby"] in deps["pg-dr-replica"]  # cascading
    assert {urn[f"redis-node-{i}"] for i in range(1, 7)} <= deps["redis-cluster-create"]
    assert urn["vector-peer-1"] in deps["vector-peer-2"]


def test_passwords_reach_containers_only_as_secrets(local: ProgramRun) -> None:
    """A RandomPassword's result is a secret output; everything built from it stays secret (the SDK
    marks the whole list input secret), so the review never prints it."""
    primary = next(r for r in local.by_type(CONTAINER) if r.name == "pg-primary")
    assert "envs" in primary.secret_paths and primary.inputs["envs"] == "[secret]"
    assert any(env.startswith("POSTGRES_PASSWORD=") for env in primary.raw_inputs["envs"])
    for node in (r for r in local.by_type(CONTAINER) if r.name.startswith("redis-node")):
        assert "uploads" in node.secret_paths, f"{node.name}: users.acl/redis.conf (passwords) not secret"
        assert any(u["file"].endswith("users.acl") for u in node.raw_inputs["uploads"])
