"""The AWS and Docker compositions realize the same topology for the same settings.

:func:`same_topology_problems` is the check: each composition reports what its components *built*
(``Realization``, filled from the components' ``realized``), and both must match the topology's members
and links. The tests of the test below plant a divergence — a read replica added in the AWS composition
only, a Redis shard added in one composition only, a member dropped inside a component — and assert
that the check fails for each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import components.aws.postgres
import components.docker.postgres
import infra.aws
import infra.docker
from infra.aws import compose_aws
from infra.docker import compose_docker
from infra.settings import load_settings
from infra.topology import Realization, Topology, build_topology
from review.program import record

ROOT = Path(__file__).resolve().parents[2]


def _production_config(**overrides: Any) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    config.update(overrides)
    return config


def _topologies() -> tuple[Topology, Topology]:
    """Production's topology on AWS and on Docker (the same stack file, target docker)."""
    aws_topo = build_topology(load_settings("production", _production_config()))
    docker_topo = build_topology(load_settings("production", _production_config(**{"data-platform:target": "docker"})))
    return aws_topo, docker_topo


def _realize(compose: Callable[[Topology], Realization], topo: Topology) -> Realization:
    holder: dict[str, Realization] = {}

    def program() -> None:
        holder["real"] = compose(topo)

    run = record(program, stack=topo.stack.stack, region=topo.stack.region)
    assert run.error is None and run.resources, f"the composition failed or registered nothing: {run.error}"
    return holder["real"]


def realize_both() -> tuple[Topology, Realization, Realization]:
    """Run both compositions of production; the topology they must both realize."""
    aws_topo, docker_topo = _topologies()
    assert docker_topo.member_ids == aws_topo.member_ids, "the two targets' topologies differ already"
    return aws_topo, _realize(compose_aws, aws_topo), _realize(compose_docker, docker_topo)


def same_topology_problems(topo: Topology, *reals: Realization) -> list[str]:
    """Every way the realizations differ from ``topo`` (empty when each realizes exactly its members and
    links, Docker's declared differences aside, with one container per member)."""
    problems: list[str] = []
    expected = set(topo.member_ids)
    expected_links = {(lk.source, lk.target, lk.mode) for st in topo.stores for lk in st.links}
    for real in reals:
        built = set(real.members)
        if missing := expected - built:
            problems.append(f"{real.target} did not build {sorted(missing)}")
        if extra := built - expected:
            problems.append(f"{real.target} built members the topology does not have: {sorted(extra)}")
        declared = real.declared_differences
        undeclared = {
            (src, dst, mode) for src, dst, mode in expected_links ^ real.links
            if f"{src}->{dst}" not in declared and not any(f"->{dst}" in key for key in declared)
        }
        if undeclared:
            problems.append(f"{real.target} links differ without a declared reason: {sorted(undeclared)}")
        if real.target == "docker":
            containers = list(real.members.values())
            if len(containers) != len(set(containers)):
                problems.append("docker: two members share one container")
    return problems


@pytest.fixture(scope="module")
def realizations() -> tuple[Topology, Realization, Realization]:
    return realize_both()


def test_both_targets_realize_every_member_of_the_topology(realizations: tuple[Topology, Realization, Realization]
                                                          ) -> None:
    topo, aws_real, docker_real = realizations
    # pg primary/standby/replica/DR, 6 Redis, 3+2 Neo4j, 3 Qdrant
    assert len(topo.member_ids) == 1 + 1 + 1 + 1 + 6 + 5 + 3
    assert same_topology_problems(topo, aws_real, docker_real) == []


def test_both_targets_realize_the_topology_links_and_docker_declares_its_differences(
        realizations: tuple[Topology, Realization, Realization]) -> None:
    topo, aws_real, docker_real = realizations
    expected = {(lk.source, lk.target, lk.mode) for st in topo.stores for lk in st.links}
    assert aws_real.links == expected
    # Locally every link is the topology's too (Patroni members stream from the leader, the DR standby
    # cluster follows it); how the members differ from RDS's is declared per member.
    assert docker_real.links == expected
    assert {"postgres/primary", "postgres/standby", "postgres/dr-replica"} <= set(docker_real.declared_differences)
    assert "standby cluster" in docker_real.declared_differences["postgres/dr-replica"]


def test_managed_members_name_what_was_built(realizations: tuple[Topology, Realization, Realization]) -> None:
    """PostgreSQL members are the RDS instances the component created; Redis members its cache clusters."""
    _, aws_real, _ = realizations
    assert aws_real.members["postgres/replica-1"] == "postgres-replica-1"
    assert aws_real.members["postgres/dr-replica"] == "postgres-dr-replica"
    assert aws_real.members["redis/shard-3/replica-1"] == "data-platform-production-redis-0003-002"


# ---------------------------------------------------------------- tests of the test: planted divergences


def _factory_changing(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
                      change: Callable[[Any], dict[str, Any]]) -> None:
    """``module.name`` (an args class as one composition imported it) builds its args, then ``change``."""
    original = getattr(module, name)

    def factory(*args: Any, **kwargs: Any) -> Any:
        built = original(*args, **kwargs)
        return dataclasses.replace(built, **change(built))

    monkeypatch.setattr(module, name, factory)


def _component_changing(monkeypatch: pytest.MonkeyPatch, klass: type, **changes: Any) -> None:
    """Every ``klass`` component replaces its args with ``changes`` on the way in (a change inside it)."""
    original = klass.__init__

    def init(self: Any, name: str, args: Any, *rest: Any, **kw: Any) -> None:
        original(self, name, dataclasses.replace(args, **changes), *rest, **kw)

    monkeypatch.setattr(klass, "__init__", init)


MUTATIONS: list[tuple[str, Callable[[pytest.MonkeyPatch], None], str]] = [
    ("a read replica added in the AWS composition only",
     lambda m: _factory_changing(m, infra.aws, "PostgresArgs", lambda a: {"read_replicas": a.read_replicas + 1}),
     "postgres/replica-2"),
    ("a Redis shard added in the AWS composition only",
     lambda m: _factory_changing(m, infra.aws, "RedisArgs", lambda a: {"shards": a.shards + 1}),
     "redis/shard-4/primary"),
    ("a Redis shard added in the Docker composition only",
     lambda m: _factory_changing(m, infra.docker, "LocalRedisArgs", lambda a: {
         "members": [*a.members, "redis/shard-4/primary", "redis/shard-4/replica-1"]}),
     "redis/shard-4/primary"),
    ("the Multi-AZ standby dropped inside the Postgres component",
     lambda m: _component_changing(m, components.aws.postgres.Postgres, multi_az=False),
     "postgres/standby"),
    ("the read replica dropped inside the local Postgres component",
     lambda m: _component_changing(m, components.docker.postgres.LocalPostgres, read_replicas=0),
     "postgres/replica-1"),
]


@pytest.mark.parametrize(("what", "plant", "member"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_the_check_fails_for_a_planted_divergence(monkeypatch: pytest.MonkeyPatch, what: str,
                                                  plant: Callable[[pytest.MonkeyPatch], None], member: str) -> None:
    plant(monkeypatch)
    topo, aws_real, docker_real = realize_both()
    problems = same_topology_problems(topo, aws_real, docker_real)
    assert problems, f"{what}: the same-topology check passed"
    assert any(member in p for p in problems), f"{what}: {problems}"
