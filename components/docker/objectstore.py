"""Local S3-compatible backup store (MinIO) with one versioned bucket per data store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

#: The minio/mc image's ENTRYPOINT: its command is appended to ``mc``.
MC_IMAGE_ENTRYPOINT = ("mc",)
BUCKETS_SCRIPT = "/usr/local/bin/create-buckets.sh"


@dataclass(frozen=True)
class LocalObjectStoreArgs:
    network: docker.Network
    """The local stack's private network."""
    buckets: Sequence[str] = ("postgres", "redis", "graph", "vector")
    """Buckets to create (versioning on). Default: one per data store."""
    port_offset: int = 0
    """Added to the published API/console ports (9000, 9001). Default: 0."""


class LocalObjectStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: LocalObjectStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalObjectStore", name, None, opts)
        secret = random.RandomPassword(f"{name}-root-password", length=32, special=False,
                                       opts=pulumi.ResourceOptions(parent=self))
        envs: dict[str, pulumi.Input[str]] = {"MINIO_ROOT_USER": "backup-admin", "MINIO_ROOT_PASSWORD": secret.result}
        server = local_container(LocalContainerSpec(
            name=f"{name}-s3",
            image=IMAGES["minio"],
            healthcheck=Healthcheck(("CMD", "mc", "ready", "local")),
            ports={9000: 9000 + args.port_offset, 9001: 9001 + args.port_offset},
            command=["server", "/data", "--console-address", ":9001"],
            envs=envs,
            volumes={f"{name}-s3-data": "/data"},
            memory_mb=512,
        ), args.network, parent=self, depends_on=[volume(f"{name}-s3-data", parent=self)])
        job = local_container(LocalContainerSpec(
            name=f"{name}-buckets",
            image=IMAGES["minio-client"],
            healthcheck=Healthcheck(("CMD-SHELL", "true")),
            # The image's ENTRYPOINT is mc: without an override the container would run `mc /bin/sh ...`.
            entrypoint=["/bin/sh"],
            command=[BUCKETS_SCRIPT],
            envs=envs,
            files={BUCKETS_SCRIPT: buckets_script(f"http://{name}-s3:9000", args.buckets)},
            one_shot=True,
            memory_mb=128,
        ), args.network, parent=self, depends_on=[server])
        self.endpoint = f"http://{name}-s3:9000"
        self.register_outputs({"endpoint": self.endpoint, "buckets": [f"{b}-backups" for b in args.buckets],
                               "bucketsExitCode": job_exit_code(job, f"{name}-buckets")})


def buckets_script(endpoint: str, buckets: Sequence[str]) -> str:
    """The bucket job: an ``mc`` alias from the root credentials in the environment, then one
    versioned bucket per store; any failing ``mc`` fails the job (``set -eu``)."""
    return "\n".join([
        "#!/bin/sh",
        "# Rendered by components/docker/objectstore.py: create versioned backup buckets, once.",
        "set -eu",
        f'mc alias set local {endpoint} "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"',
        *(f"mc mb --ignore-existing --with-versioning local/{b}-backups" for b in buckets),
    ]) + "\n"
