"""The target-neutral topology built from settings: members, roles, links, backups."""

from __future__ import annotations

from collections import Counter
from typing import Any

from infra.settings import load_settings
from infra.topology import REDIS_CLUSTER_NODE_TIMEOUT_MS, Ec2, Eks, build_topology


def _topo(stack: str = "dev", **sections: Any):  # type: ignore[no-untyped-def]
    config: dict[str, Any] = {"aws:region": "us-east-1", "data-platform:environment": "dev"}
    config.update({f"data-platform:{k}": v for k, v in sections.items()})
    return build_topology(load_settings(stack, config))


def test_seed_topology_has_the_seeds_member_counts() -> None:
    topo = _topo(graph={"licenseAgreement": "eval"})
    roles = Counter(m.role for st in topo.stores for m in st.members)
    assert roles["primary"] == 1 and roles["standby"] == 1 and roles["replica"] == 1 and roles["dr-replica"] == 1
    assert roles["shard-primary"] == 3 and roles["shard-replica"] == 3
    assert roles["graph-primary"] == 3 and roles["graph-secondary"] == 2
    assert roles["peer"] == 3
    assert topo.notes == ()


def test_postgres_links_sync_standby_async_replicas_and_cross_region_dr() -> None:
    pg = _topo().store("postgres")
    assert pg is not None
    links = {(lk.source, lk.target): (lk.mode, lk.cross_region) for lk in pg.links}
    assert links[("postgres/primary", "postgres/standby")] == ("sync", False)
    assert links[("postgres/primary", "postgres/replica-1")] == ("async", False)
    assert links[("postgres/primary", "postgres/dr-replica")] == ("async", True)
    assert next(m for m in pg.members if m.role == "dr-replica").site == "dr"
    assert pg.backup.retention_days == 35 and pg.backup.destination == "rds-automated"


def test_redis_replicas_sit_in_other_zones_than_their_primary() -> None:
    redis = _topo(redis={"shards": 4, "replicasPerShard": 2}).redis
    assert (redis.shards, redis.replicas_per_shard) == (4, 2)
    assert len(redis.members) == 4 * 3
    for shard in range(1, 5):
        zones = [m.zone for m in redis.members if m.shard == shard]
        assert len(set(zones)) == len(zones), f"shard {shard} has two members in one AZ: {zones}"
    assert redis.cluster_node_timeout_ms == REDIS_CLUSTER_NODE_TIMEOUT_MS == 5000
    assert redis.maxmemory_policy == "allkeys-lru"


def test_without_the_neo4j_licence_dev_runs_one_community_server_and_says_so() -> None:
    topo = _topo(graph={"licenseAgreement": "no"})
    graph = topo.store("graph")
    assert graph is not None and graph.engine == "neo4j-community"
    assert [m.id for m in graph.members] == ["graph/primary-1"]
    assert any("single Community server" in note for note in topo.notes)


def test_disabled_stores_and_options_drop_their_members() -> None:
    topo = _topo(postgres={"multiAz": False, "readReplicas": 0, "drReplica": False}, graph={"enabled": False},
                 vector={"enabled": False})
    assert [s.name for s in topo.stores] == ["postgres", "redis"]
    pg = topo.store("postgres")
    assert pg is not None and [m.id for m in pg.members] == ["postgres/primary"] and pg.links == ()


def test_qdrant_snapshots_every_six_hours_with_the_configured_replication_factor() -> None:
    vector = _topo(vector={"peers": 5, "replicationFactor": 3}).vector
    assert vector is not None
    assert vector.backup.schedule == "0 */6 * * *"
    assert vector.replication_factor == 3 and vector.peers == len(vector.members) == 5


def test_placement_is_typed_intent() -> None:
    """Managed stores on AWS, EKS or EC2 for the compute stores with their instance types, Docker locally."""
    topo = _topo(graph={"licenseAgreement": "eval", "placement": "ec2", "secondaryInstanceType": "r7g.large"},
                 vector={"placement": "eks"})
    assert topo.postgres.placement == topo.redis.placement == "managed"
    assert topo.graph is not None and topo.graph.where == Ec2("r7g.xlarge", "r7g.large")
    assert topo.graph.where.smaller_secondaries
    assert topo.vector is not None and topo.vector.where == Eks("r7g.large")
    assert topo.eks is not None  # Qdrant runs on EKS
    local = _topo("local", target="docker")
    assert {st.placement for st in local.stores} == {"docker"} and local.eks is None


def test_member_counts_are_read_from_the_members() -> None:
    pg = _topo(postgres={"multiAz": False, "readReplicas": 3}).postgres
    assert (pg.multi_az, pg.read_replicas) == (False, 3)
    assert pg.dr is not None and pg.dr.region == "us-west-2"


def test_a_stack_file_without_environment_gets_production_rules_and_a_note() -> None:
    config = {"aws:region": "us-east-1", "data-platform:graph": {"licenseAgreement": "yes", "placement": "ec2"},
              "data-platform:vector": {"placement": "ec2"}}
    topo = build_topology(load_settings("acme", config))
    assert any(n.startswith("environment: Pulumi.acme.yaml does not state data-platform:environment, so the stack "
                            "is held to production rules") for n in topo.notes), topo.notes
    stated = build_topology(load_settings("acme", {**config, "data-platform:environment": "production"}))
    assert not any(n.startswith("environment:") for n in stated.notes)
