"""Local Neo4j: the production cluster (primaries + secondaries) when the licence is accepted,
otherwise one Community server. ``neo4j.conf`` comes from ``components/render/neo4j.py``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.neo4j import parse_neo4j_conf, render_neo4j_conf

#: Settings the neo4j image's entrypoint reads as its own control variables, never as config.
_NOT_CONFIG = {"ACCEPT_LICENSE_AGREEMENT", "AUTH", "DEBUG", "EDITION", "HOME", "PLUGINS", "SHA256", "TARBALL"}


def neo4j_env(conf: str) -> dict[str, str]:
    """``neo4j.conf`` settings as the neo4j image's ``NEO4J_*`` environment variables.

    The image's entrypoint writes each ``NEO4J_<name>`` into ``$NEO4J_HOME/conf/neo4j.conf`` on top
    of the image's own file (``_`` stands for ``.`` and ``__`` for ``_``). A file mounted under
    ``/conf`` would instead *replace* the whole conf directory (the entrypoint empties it and copies
    ``/conf`` in), losing the image's defaults and its log configuration files.
    """
    env: dict[str, str] = {}
    for key, value in parse_neo4j_conf(conf).items():
        if not re.match(r"^[a-z][a-z0-9_.]*$", key) or "__" in key or ".." in key:
            raise ValueError(f"setting {key!r} has no NEO4J_* environment form")
        name = key.replace("_", "__").replace(".", "_")
        if name in _NOT_CONFIG or name.upper() in _NOT_CONFIG:
            raise ValueError(f"setting {key!r} collides with an image control variable")
        env[f"NEO4J_{name}"] = value
    return env


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
            # Community runs one server; the renderer leaves out its Enterprise-only settings
            # (online backup, metrics), which Neo4j 5's strict validation would refuse.
            conf = render_neo4j_conf(
                member_role=role,  # type: ignore[arg-type]
                member_index=index, advertised_host=host, discovery_hosts=hosts,
                primaries=len(args.primaries) if enterprise else 1,
                secondaries=len(args.secondaries) if enterprise else 0,
                heap_size="1g", pagecache_size="512m", edition="enterprise" if enterprise else "community")
            local_container(LocalContainerSpec(
                name=host,
                image=IMAGES["neo4j-enterprise" if enterprise else "neo4j-community"],
                healthcheck=Healthcheck(("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:7474 || exit 1"),
                                        start_period="60s"),
                ports={7687: 7687 + args.port_offset, 7474: 7474 + args.port_offset} if i == 0 else {},
                envs={**envs, **neo4j_env(conf)},
                volumes={f"{host}-data": "/data"},
                wait_timeout=300,  # first start (store creation, cluster formation) outlasts 60 s
                memory_mb=2048,  # heap 1g + page cache 512m + JVM/native overhead
            ), args.network, parent=self, depends_on=[volume(f"{host}-data", parent=self)])
            self.members[member] = host
        self.password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        self.register_outputs({"members": self.members, "edition": "enterprise" if enterprise else "community"})
