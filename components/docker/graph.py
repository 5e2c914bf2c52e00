"""Local Neo4j: the production cluster (primaries + secondaries) when the licence is accepted,
otherwise one Community server. ``neo4j.conf`` comes from ``components/render/neo4j.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.neo4j import render_neo4j_conf


@dataclass(frozen=True)
class LocalGraphArgs:
    network: docker.Network
    """The local stack's private network."""
    primaries: Sequence[str]
    """Member ids of primaries (``graph/primary-1`` ...)."""
    secondaries: Sequence[str] = ()
    """Member ids of secondaries. Default: none."""
    license_agreement: str = "no"
    """NEO4J_ACCEPT_LICENSE_AGREEMENT: yes|eval runs Enterprise; no runs one Community server."""
    port_offset: int = 0
    """Added to the published bolt/http ports of the first primary (7687, 7474). Default: 0."""


class LocalGraph(pulumi.ComponentResource):
    def __init__(self, name: str, args: LocalGraphArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalGraph", name, None, opts)
        enterprise = args.license_agreement in ("yes", "eval")
        password = random.RandomPassword(f"{name}-password", length=24, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        members = [(m, "primary") for m in args.primaries] + [(m, "secondary") for m in args.secondaries]
        hosts = [f"{name}-{m.split('/')[1]}" for m, _ in members]
        envs: dict[str, pulumi.Input[str]] = {"NEO4J_AUTH": pulumi.Output.concat("neo4j/", password.result)}
        if enterprise:
            envs["NEO4J_ACCEPT_LICENSE_AGREEMENT"] = args.license_agreement
        self.members: dict[str, str] = {}
        for i, ((member, role), host) in enumerate(zip(members, hosts, strict=True)):
            index = i + 1 if role == "primary" else i + 1 - len(args.primaries)
            conf = render_neo4j_conf(
                member_role=role,  # type: ignore[arg-type]
                member_index=index, advertised_host=host, discovery_hosts=hosts,
                primaries=len(args.primaries), secondaries=len(args.secondaries),
                heap_size="1g", pagecache_size="512m") if enterprise else \
                "server.default_listen_address=0.0.0.0\nserver.memory.heap.max_size=1g\n" \
                "server.memory.pagecache.size=512m\nserver.metrics.prometheus.enabled=false\n"
            local_container(LocalContainerSpec(
                name=host,
                image=IMAGES["neo4j-enterprise" if enterprise else "neo4j-community"],
                healthcheck=Healthcheck(("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:7474 || exit 1"),
                                        start_period="60s"),
                ports={7687: 7687 + args.port_offset, 7474: 7474 + args.port_offset} if i == 0 else {},
                envs=envs,
                files={"/conf/neo4j.conf": conf},
                volumes={f"{host}-data": "/data"},
            ), args.network, parent=self, depends_on=[volume(f"{host}-data", parent=self)])
            self.members[member] = host
        self.password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        self.register_outputs({"members": self.members, "edition": "enterprise" if enterprise else "community"})
