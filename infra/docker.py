"""Compose the topology on Docker (the ``local`` stack): the same stores, members and roles as AWS.

Returns a :class:`~infra.topology.Realization` (member id → container), which a test compares with
the AWS composition's. Differences are declared here, where they are made.
"""

from __future__ import annotations

import functools
import ipaddress

import pulumi
import pulumi_docker as docker

from components.docker.graph import LocalGraph, LocalGraphArgs
from components.docker.monitoring import LocalMonitoring, LocalMonitoringArgs
from components.docker.objectstore import LocalObjectStore, LocalObjectStoreArgs
from components.docker.postgres import LocalPostgres, LocalPostgresArgs, exporter_dsn
from components.docker.redis import MONITOR_USER as REDIS_MONITOR_USER
from components.docker.redis import LocalRedis, LocalRedisArgs
from components.docker.vector import LocalVector, LocalVectorArgs
from infra.topology import Realization, Topology


def compose_docker(topo: Topology) -> Realization:
    real = Realization(target="docker")
    stack, off = topo.stack.stack, topo.local.port_offset
    try:
        subnet = str(ipaddress.ip_network(topo.local.subnet, strict=True))
    except ValueError:
        raise pulumi.RunError(f"local.subnet {topo.local.subnet!r} is not a network such as 10.240.40.0/24") from None
    network = docker.Network(
        "data-platform-local",
        name=f"data-platform-{stack}",
        driver="bridge",
        ipam_configs=[docker.NetworkIpamConfigArgs(subnet=subnet)],
        labels=[docker.NetworkLabelArgs(label="com.data-platform.stack", value=stack)],
    )
    pg_store = topo.postgres
    pg = LocalPostgres("pg", LocalPostgresArgs(
        settings=pg_store, network=network, network_cidr=subnet,
        standby=pg_store.multi_az, read_replicas=pg_store.read_replicas,
        dr_replica=bool(pg_store.by_role("dr-replica")), port_offset=off))
    real.members.update(pg.members)
    real.links.update(pg.links)  # Patroni members stream from the leader; the DR standby cluster follows it
    real.declared_differences.update(pg.declared_differences)

    redis_store = topo.redis
    ordered = [m.id for role in ("shard-primary", "shard-replica") for m in redis_store.by_role(role)]
    redis = LocalRedis("redis", LocalRedisArgs(settings=redis_store, network=network, members=ordered, port_offset=off))
    real.members.update(redis.members)
    real.links.update((lk.source, lk.target, lk.mode) for lk in redis_store.links)

    scrape: dict[str, list[str]] = {}
    tokens: dict[str, pulumi.Input[str]] = {}
    graph_store = topo.graph
    if graph_store is not None:
        graph = LocalGraph("graph", LocalGraphArgs(
            network=network, primaries=[m.id for m in graph_store.by_role("graph-primary")],
            secondaries=[m.id for m in graph_store.by_role("graph-secondary")],
            license_agreement=graph_store.license_agreement, port_offset=off))
        real.members.update(graph.members)
        real.links.update((lk.source, lk.target, lk.mode) for lk in graph_store.links)
        if graph_store.enterprise:
            scrape["neo4j"] = [f"{host}:2004" for host in graph.members.values()]
    vector_store = topo.vector
    if vector_store is not None:
        vector = LocalVector("vector", LocalVectorArgs(
            network=network, peers=[m.id for m in vector_store.members],
            replication_factor=vector_store.replication_factor,
            write_consistency_factor=vector_store.write_consistency_factor, port_offset=off))
        real.members.update(vector.members)
        real.links.update((lk.source, lk.target, lk.mode) for lk in vector_store.links)
        scrape["qdrant"] = [f"{host}:6333" for host in vector.members.values()]
        tokens["qdrant"] = vector.metrics_key  # read-only API key: /metrics needs a key

    LocalObjectStore("backups", LocalObjectStoreArgs(
        network=network, buckets=[st.name for st in topo.stores], port_offset=off))
    first_redis = next(iter(redis.members.values()))
    pg_hosts = {member.split("/", 1)[1]: host for member, host in pg.members.items()}
    LocalMonitoring("monitoring", LocalMonitoringArgs(
        network=network, stores=[st.name for st in topo.stores], scrape_targets=scrape,
        postgres_dsns={m: pg.monitor_password.apply(functools.partial(exporter_dsn, h, pg_store.port))
                       for m, h in pg_hosts.items()},
        redis_addr=f"redis://{first_redis}:7001", redis_user=REDIS_MONITOR_USER, redis_password=redis.monitor_password,
        bearer_tokens=tokens,
        evaluation_interval_seconds=topo.alerts.evaluation_interval_seconds, port_offset=off))

    pulumi.export("environment", topo.stack.environment)
    pulumi.export("local", {
        "postgres": {"write": f"127.0.0.1:{pg.write_port}", "read": f"127.0.0.1:{pg.read_port}",
                     "pgbouncer": f"127.0.0.1:{pg.pgbouncer_port}"},
        "redis": [f"127.0.0.1:{7001 + off + i}" for i in range(len(redis.members))],
        "s3": f"127.0.0.1:{9000 + off}",
        "prometheus": f"127.0.0.1:{9090 + off}",
    })
    pulumi.export("notes", list(topo.notes))
    return real
