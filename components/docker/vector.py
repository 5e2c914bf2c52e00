"""Local Qdrant: N peers bootstrapped into one cluster (peer 1 starts it, the others join it).
The config comes from ``components/render/qdrant.py``; the API key is an environment secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.qdrant import API_KEY_ENV, READ_ONLY_API_KEY_ENV, render_qdrant_config


@dataclass(frozen=True)
class LocalVectorArgs:
    network: docker.Network
    """The local stack's private network."""
    peers: Sequence[str]
    """Member ids (``vector/peer-1`` ...)."""
    replication_factor: int = 2
    """Default replication factor of new collections. Default: 2."""
    write_consistency_factor: int = 1
    """Default write consistency factor. Default: 1."""
    port_offset: int = 0
    """Added to the first peer's published ports (6333, 6334). Default: 0."""


class LocalVector(pulumi.ComponentResource):
    def __init__(self, name: str, args: LocalVectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalVector", name, None, opts)
        api_key = random.RandomPassword(f"{name}-api-key", length=40, special=False,
                                        opts=pulumi.ResourceOptions(parent=self))
        # Prometheus scrapes /metrics with the read-only key (least privilege), never the admin key.
        read_only_key = random.RandomPassword(f"{name}-read-only-api-key", length=40, special=False,
                                              opts=pulumi.ResourceOptions(parent=self))
        config = render_qdrant_config(replication_factor=args.replication_factor,
                                      write_consistency_factor=args.write_consistency_factor, peers=len(args.peers))
        self.members: dict[str, str] = {}
        first: docker.Container | None = None
        first_host = f"{name}-peer-1"
        for i, member in enumerate(args.peers):
            host = f"{name}-peer-{i + 1}"
            cmd = ["./qdrant", "--uri", f"http://{host}:6335"]
            if i:
                cmd += ["--bootstrap", f"http://{first_host}:6335"]
            container = local_container(LocalContainerSpec(
                name=host,
                image=IMAGES["qdrant"],
                healthcheck=Healthcheck(("CMD-SHELL", "bash -c ':> /dev/tcp/127.0.0.1/6333' || exit 1")),
                ports={6333: 6333 + args.port_offset, 6334: 6334 + args.port_offset} if i == 0 else {},
                command=cmd,
                envs={API_KEY_ENV: api_key.result, READ_ONLY_API_KEY_ENV: read_only_key.result},
                files={"/qdrant/config/production.yaml": config},
                volumes={f"{host}-storage": "/qdrant/storage"},
                memory_mb=1024,
            ), args.network, parent=self,
                depends_on=[volume(f"{host}-storage", parent=self), *([first] if first is not None else [])])
            first = first or container
            self.members[member] = host
        self.api_key: pulumi.Output[str] = pulumi.Output.secret(api_key.result)
        self.metrics_key: pulumi.Output[str] = pulumi.Output.secret(read_only_key.result)
        self.register_outputs({"members": self.members})
