"""Local Redis/Valkey cluster: one node per topology member and a one-shot cluster-create job.

``redis.conf`` and ``users.acl`` come from ``components/render/redis.py`` (cluster-enabled,
cluster-node-timeout 5000, AOF everysec + RDB, maxmemory + allkeys-lru, default user off), the
same files the integration tier boots on real ``redis-server`` processes.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.docker.container import (
    IMAGES,
    Healthcheck,
    LocalContainerSpec,
    job_exit_code,
    local_container,
    volume,
)
from components.render.redis import RedisParams, render_redis_conf, render_users_acl

ADMIN_USER = "cluster_admin"
REPLICATION_USER = "replicator"
#: The exporter's login: INFO and a few read-only cluster/latency commands, no keys (users.acl).
MONITOR_USER = "monitor_user"


class LocalRedisParams(RedisParams, Protocol):
    """What :class:`LocalRedis` reads from the stack's Redis settings: the renderer's ``port`` and
    ``maxmemory_policy``, plus the engine and the replicas per shard.

    The frozen ``infra.settings.RedisSettings`` satisfies it structurally.
    """

    @property
    def engine(self) -> str:
        """``valkey`` or ``redis``: picks the image and the server/cli binaries."""
        ...

    @property
    def replicas_per_shard(self) -> int:
        """Replicas per shard (``redis-cli --cluster create --cluster-replicas``)."""
        ...


@dataclass(frozen=True)
class LocalRedisArgs:
    settings: LocalRedisParams
    """Redis settings of the stack (engine, shards, replicas, eviction policy)."""
    network: docker.Network
    """The local stack's private network."""
    members: Sequence[str]
    """Topology member ids, primaries first then replicas (``redis/shard-1/primary`` ...)."""
    maxmemory_mb: int = 256
    """maxmemory per node. Default: 256 MiB (a laptop)."""
    base_port: int = 7001
    """Port of the first node; node i listens on base_port + i. Default: 7001."""
    port_offset: int = 0
    """Added to the published ports (node i publishes on base_port + i + port_offset). Default: 0."""


class LocalRedis(pulumi.ComponentResource):
    """Six (shards × (1 + replicas)) nodes and the job that joins them into one cluster."""

    def __init__(self, name: str, args: LocalRedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalRedis", name, None, opts)
        s = args.settings
        pw = {
            u: random.RandomPassword(f"{name}-{u}-password", length=32, special=False,
                                     opts=pulumi.ResourceOptions(parent=self)).result
            for u in ("app_user", "readonly_user", ADMIN_USER, REPLICATION_USER, MONITOR_USER)
        }
        acl = pulumi.Output.all(pw["app_user"], pw["readonly_user"], pw[ADMIN_USER], pw[REPLICATION_USER],
                                pw[MONITOR_USER]).apply(
            lambda p: render_users_acl(app_password=p[0], readonly_password=p[1], admin_password=p[2],
                                       replication_password=p[3], monitor_password=p[4], monitor_user=MONITOR_USER))
        image = IMAGES["valkey"] if s.engine == "valkey" else IMAGES["redis"]
        server = "valkey-server" if s.engine == "valkey" else "redis-server"
        cli = "valkey-cli" if s.engine == "valkey" else "redis-cli"
        self.members: dict[str, str] = {}
        nodes: list[docker.Container] = []
        endpoints: list[str] = []
        for i, member in enumerate(args.members):
            cname = f"{name}-node-{i + 1}"
            port = args.base_port + i
            conf = pw[REPLICATION_USER].apply(functools.partial(
                node_conf, s, port=port, maxmemory_bytes=args.maxmemory_mb * 2**20))
            nodes.append(local_container(LocalContainerSpec(
                name=cname,
                image=image,
                healthcheck=Healthcheck(("CMD-SHELL", node_healthcheck(cli, port))),
                ports={port: port + args.port_offset},
                command=[server, "/etc/redis/redis.conf"],
                files={"/etc/redis/redis.conf": conf, "/etc/redis/users.acl": acl},
                volumes={f"{cname}-data": "/data"},
                # maxmemory, plus room for an AOF rewrite / RDB fork copying pages on write
                memory_mb=2 * args.maxmemory_mb + 64,
            ), args.network, parent=self, depends_on=[volume(f"{cname}-data", parent=self)]))
            endpoints.append(f"{cname}:{port}")
            self.members[member] = cname
        create = pw[ADMIN_USER].apply(functools.partial(
            cluster_create_script, endpoints, cli=cli, replicas=s.replicas_per_shard))
        job = local_container(LocalContainerSpec(
            name=f"{name}-cluster-create",
            image=image,
            healthcheck=Healthcheck(("CMD-SHELL", "true")),
            command=["/bin/sh", CLUSTER_CREATE_SCRIPT],
            files={CLUSTER_CREATE_SCRIPT: create},
            one_shot=True,
            memory_mb=64,
        ), args.network, parent=self, depends_on=nodes)
        self.app_password: pulumi.Output[str] = pulumi.Output.secret(pw["app_user"])
        self.monitor_password: pulumi.Output[str] = pulumi.Output.secret(pw[MONITOR_USER])
        self.register_outputs({"members": self.members, "ports": [args.base_port + i for i in range(len(nodes))],
                               "clusterCreateExitCode": job_exit_code(job, f"{name}-cluster-create")})


CLUSTER_CREATE_SCRIPT = "/usr/local/bin/cluster-create.sh"


def node_conf(s: LocalRedisParams, replication_password: str, *, port: int, maxmemory_bytes: int,
              conf_dir: str = "/etc/redis", data_dir: str = "/data") -> str:
    """redis.conf of a node container (the integration tier passes host paths)."""
    return render_redis_conf(s, data_dir=data_dir, aclfile=f"{conf_dir}/users.acl", maxmemory_bytes=maxmemory_bytes,
                             replication_user=REPLICATION_USER, replication_password=replication_password,
                             bind="0.0.0.0", port=port)


def node_healthcheck(cli: str, port: int) -> str:
    """A node's CMD-SHELL healthcheck: it answers (the default user is off, so NOAUTH counts)."""
    return f"{cli} -p {port} --no-auth-warning PING 2>&1 | grep -Eq 'PONG|NOAUTH|NOPERM'"


def cluster_create_script(endpoints: Sequence[str], admin_password: str, *, cli: str, replicas: int) -> str:
    """The one-shot job: exit 0 when the first node already reports ``cluster_state:ok``, else join
    every ``host:port`` (resolved to addresses) into shards of 1 primary + ``replicas``."""
    first_host, first_port = endpoints[0].rsplit(":", 1)
    q = shlex.quote
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/redis.py: join the nodes into one cluster, once.",
        "set -eu",
        f"export REDISCLI_AUTH={q(admin_password)}",
        "addrs=''",
        f"for hp in {' '.join(q(e) for e in endpoints)}; do",
        '  h=${hp%:*}; p=${hp#*:}; ip=$(getent hosts "$h" | cut -d" " -f1); addrs="$addrs $ip:$p"',
        "done",
        f"if {cli} --user {ADMIN_USER} -h {q(first_host)} -p {int(first_port)} CLUSTER INFO "
        "| grep -q 'cluster_state:ok'; then exit 0; fi",
        f"{cli} --user {ADMIN_USER} --cluster create $addrs --cluster-replicas {int(replicas)} --cluster-yes",
    ]) + "\n"
