"""One hardened local container: pinned image, ports on 127.0.0.1, healthcheck, config uploads.

Every local component builds its containers with :func:`local_container`, so the rules of the
local stack hold in one place: published ports bind the loopback address only, images are pinned
to a tag (never ``latest``), every container has a healthcheck and a restart policy, and config
files come from ``components/render`` as uploads (no host paths).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.base import ArgsError
from components.images import IMAGES as IMAGES  # re-exported: the local components take their images here

LOOPBACK = "127.0.0.1"

_PINNED = re.compile(r"^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$")


def pinned(image: str) -> str:
    """Return ``image`` if it names a tag or digest other than ``latest``; raise otherwise."""
    if not _PINNED.match(image) or image.endswith(":latest"):
        raise ArgsError("LocalContainer", "image", image, "an image pinned to a tag or digest, never latest")
    return image


@dataclass(frozen=True)
class Healthcheck:
    test: Sequence[str]
    """Command, e.g. ``("CMD", "pg_isready", "-U", "postgres")``."""
    interval: str = "5s"
    """Default: 5s."""
    timeout: str = "3s"
    """Default: 3s."""
    retries: int = 20
    """Default: 20."""
    start_period: str = "10s"
    """Default: 10s."""


@dataclass(frozen=True)
class LocalContainerSpec:
    name: str
    """Container and host name on the local network."""
    image: str
    """Pinned image (see :data:`IMAGES`)."""
    healthcheck: Healthcheck
    """Every local container has one."""
    ports: Mapping[int, int] = field(default_factory=dict)
    """``{container port: host port}``, published on 127.0.0.1 only. Default: none."""
    command: Sequence[str] | None = None
    """Command override. Default: the image's."""
    envs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment. Secret values stay secret outputs. Default: none."""
    files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """``{path in container: content}`` from components/render. Default: none."""
    volumes: Mapping[str, str] = field(default_factory=dict)
    """``{named volume: mount path}``. Default: none."""
    one_shot: bool = False
    """A job that runs once (cluster bootstrap): no restart, not required to keep running. The
    deploy waits for it to end and fails when it exits non-zero (see :func:`job_exit_code`)."""
    user: str | None = None
    """User to run as. Default: the image's."""
    entrypoint: Sequence[str] | None = None
    """ENTRYPOINT override. Default: the image's (the container runs ``entrypoint + command``)."""
    wait_timeout: int = 60
    """Seconds the deploy waits for the container to turn healthy. Default: 60 (the provider's)."""
    memory_mb: int = 256
    """Memory limit (MiB); the kernel OOM-kills the container above it. Default: 256."""
    shm_size_mb: int | None = None
    """Size of /dev/shm (MiB). Default: Docker's 64 MiB (PostgreSQL needs more for parallel queries)."""


#: One RemoteImage per image and stack (keyed by the stack's network, so each program run has its own).
_PULLED: weakref.WeakKeyDictionary[docker.Network, dict[str, docker.RemoteImage]] = weakref.WeakKeyDictionary()


def remote_image(image: str, network: docker.Network) -> docker.RemoteImage:
    """The stack's RemoteImage of ``image``, created once however many containers run it."""
    pulled = _PULLED.setdefault(network, {})
    if image not in pulled:
        pulled[image] = docker.RemoteImage(
            "image-" + re.sub(r"[^A-Za-z0-9.-]+", "-", pinned(image)),
            name=image,
            keep_locally=True,
        )
    return pulled[image]


def local_container(
    spec: LocalContainerSpec,
    network: docker.Network,
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    image = remote_image(spec.image, network)
    hc = spec.healthcheck
    return docker.Container(
        spec.name,
        name=docker_name(spec.name),
        hostname=spec.name,
        image=image.image_id,
        command=list(spec.command) if spec.command else None,
        entrypoints=list(spec.entrypoint) if spec.entrypoint else None,
        envs=[pulumi.Output.concat(k, "=", v) for k, v in spec.envs.items()] or None,
        ports=[docker.ContainerPortArgs(internal=c, external=h, ip=LOOPBACK) for c, h in spec.ports.items()]
        or None,
        uploads=[docker.ContainerUploadArgs(file=path, content=content) for path, content in spec.files.items()]
        or None,
        volumes=[docker.ContainerVolumeArgs(volume_name=docker_name(v), container_path=p)
                 for v, p in spec.volumes.items()]
        or None,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[spec.name])],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(hc.test), interval=hc.interval, timeout=hc.timeout, retries=hc.retries,
            start_period=hc.start_period,
        ),
        restart="no" if spec.one_shot else "unless-stopped",
        # A service must keep running and turn healthy before anything depending on it starts. A job
        # is attached to: the create waits until it exits, then its exit code is read back
        # (must_run false, so an exited container is not an error by itself); job_exit_code fails
        # the deploy on a non-zero code. wait (healthy) would never be met by a job that exits.
        must_run=not spec.one_shot,
        wait=not spec.one_shot,
        wait_timeout=None if spec.one_shot else spec.wait_timeout,
        attach=spec.one_shot,
        logs=spec.one_shot,
        user=spec.user,
        memory=spec.memory_mb,
        memory_swap=spec.memory_mb,  # no swap beyond the limit
        shm_size=spec.shm_size_mb,
        security_opts=["no-new-privileges:true"],
        labels=[docker.ContainerLabelArgs(label="com.data-platform.stack", value=pulumi.get_stack())],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on) or None),
    )


class JobFailed(pulumi.RunError):
    """A one-shot job container exited with a non-zero code."""


def check_job_exit(name: str, code: int | None) -> int:
    """``code`` when the job ``name`` succeeded; raise :class:`JobFailed` otherwise. ``None``
    (unknown, in a preview) passes."""
    if code is not None and code != 0:
        raise JobFailed(f"one-shot job {name} exited with code {code} (docker logs {name})")
    return 0 if code is None else code


def job_exit_code(job: docker.Container, name: str) -> pulumi.Output[int]:
    """The job's exit code, failing the deploy when it is not 0. Register it as a component
    output, so the engine waits for it."""
    return job.exit_code.apply(lambda code: check_job_exit(name, code))


def docker_name(name: str) -> str:
    """The engine-wide name of a container or volume: scoped by the stack, so a second local stack
    (another ``local.portOffset`` and ``local.subnet``) never shares a container or a data volume.
    Host names on the stack's own network stay unscoped (``pg-primary``)."""
    return f"{pulumi.get_stack()}-{name}"


def volume(name: str, *, parent: pulumi.Resource) -> docker.Volume:
    """A named volume that survives container replacement (engine name: :func:`docker_name`)."""
    return docker.Volume(name, name=docker_name(name), opts=pulumi.ResourceOptions(parent=parent))
