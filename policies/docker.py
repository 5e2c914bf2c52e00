"""The Docker local stack: published ports bind to loopback, images are pinned (no `latest`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    DOCKER_CONTAINER,
    DOCKER_REMOTE_IMAGE,
    MANDATORY,
    UNKNOWN,
    Resource,
    as_list,
    dig,
    resource_policy,
)

CONCERN = "docker"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None when it is (or is unknown)."""
    if image is UNKNOWN or image is None:
        return None if image is UNKNOWN else "is not set"
    ref = str(image)
    if ref.startswith("sha256:") or _DIGEST.search(ref):
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{ref!r} has no tag (pulls latest)"
    tag = last.rsplit(":", 1)[1]
    if tag in ("latest", ""):
        return f"{ref!r} uses the tag {tag or 'latest'!r}"
    return None


@resource_policy(
    name="docker-ports-loopback", concern=CONCERN, level=MANDATORY, types=(DOCKER_CONTAINER,),
    requirements=("seed:local-ports-loopback",),
    description="Containers of the local stack publish ports on 127.0.0.1 only.",
    remediation="Set ports[].ip='127.0.0.1' on every published port.",
    severity="high",
)
def docker_ports_loopback(r: Resource) -> Iterator[str]:
    for i, port in enumerate(as_list(r.get("ports"))):
        ip = dig(port, "ip")
        if ip is UNKNOWN:
            continue
        if ip not in LOOPBACK:
            shown = "not set (Docker binds 0.0.0.0)" if ip is None else repr(ip)
            yield (f"ports[{i}].ip is {shown} on {r.label} for internal port {dig(port, 'internal')} (external "
                   f"{dig(port, 'external')}): the database is reachable from the network. Set ip='127.0.0.1'.")


@resource_policy(
    name="docker-image-pinned", concern=CONCERN, level=ADVISORY, types=(DOCKER_CONTAINER, DOCKER_REMOTE_IMAGE),
    requirements=("seed:pinned-images", "CKV_K8S_14"),
    description="Local-stack images are pinned to a version tag or digest, never `latest` or untagged.",
    remediation="Use e.g. 'postgres:16.4' or 'qdrant/qdrant@sha256:<digest>' in RemoteImage.name / Container.image.",
)
def docker_image_pinned(r: Resource) -> Iterator[str]:
    prop = "name" if r.type == DOCKER_REMOTE_IMAGE else "image"
    problem = image_problem(r.get(prop))
    if problem:
        yield f"{prop} {problem} on {r.label}; pin a version tag or a digest so the local stack is reproducible."
