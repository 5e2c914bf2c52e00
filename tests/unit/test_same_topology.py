"""The AWS and Docker compositions realize the same topology for the same settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.aws import compose_aws
from infra.docker import compose_docker
from infra.settings import Settings, load_settings
from infra.topology import Realization, Topology, build_topology
from review.program import record

ROOT = Path(__file__).resolve().parents[2]


def _production_config(**overrides: Any) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    config.update(overrides)
    return config


def _realize(compose: Any, s: Settings, topo: Topology) -> Realization:
    holder: dict[str, Realization] = {}

    def program() -> None:
        holder["real"] = compose(s, topo)

    run = record(program, stack=s.stack, region=s.region)
    assert run.error is None and run.resources, "the composition registered nothing"
    return holder["real"]


@pytest.fixture(scope="module")
def realizations() -> tuple[Topology, Realization, Realization]:
    aws_settings = load_settings("production", _production_config())
    docker_settings = load_settings("production", _production_config(**{"data-platform:target": "docker"}))
    topo = build_topology(aws_settings)
    assert build_topology(docker_settings).member_ids == topo.member_ids
    return topo, _realize(compose_aws, aws_settings, topo), _realize(compose_docker, docker_settings, topo)


def test_both_targets_realize_every_member_of_the_topology(realizations: tuple[Topology, Realization, Realization]
                                                          ) -> None:
    topo, aws_real, docker_real = realizations
    expected = set(topo.member_ids)
    assert len(expected) == 1 + 1 + 1 + 1 + 6 + 5 + 3  # pg primary/standby/replica/DR, 6 Redis, 3+2 Neo4j, 3 Qdrant
    assert set(aws_real.members) == expected, f"AWS misses {expected - set(aws_real.members)}"
    assert set(docker_real.members) == expected, f"Docker misses {expected - set(docker_real.members)}"


def test_replication_links_match_except_declared_differences(realizations: tuple[Topology, Realization,
                                                                                 Realization]) -> None:
    topo, aws_real, docker_real = realizations
    expected = {(lk.source, lk.target, lk.mode) for st in topo.stores for lk in st.links}
    assert aws_real.links == expected
    undeclared = {
        (src, dst, mode) for src, dst, mode in expected ^ docker_real.links
        if f"{src}->{dst}" not in docker_real.declared_differences
        and not any(f"->{dst}" in key for key in docker_real.declared_differences)
    }
    assert not undeclared, f"links differ without a declared reason: {sorted(undeclared)}"
    # Locally every link is the topology's (Patroni members stream from the leader, the DR standby
    # cluster follows it); how the members differ from RDS's is declared per member.
    assert docker_real.links == expected
    assert {"postgres/primary", "postgres/standby", "postgres/dr-replica"} <= set(docker_real.declared_differences)
    assert "standby cluster" in docker_real.declared_differences["postgres/dr-replica"]


def test_each_member_has_its_own_container_locally(realizations: tuple[Topology, Realization, Realization]) -> None:
    _, _, docker_real = realizations
    containers = list(docker_real.members.values())
    assert len(containers) == len(set(containers)), "two members share one container"
