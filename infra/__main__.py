"""The Pulumi program: load settings → build the topology → compose it for the stack's target."""

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra.settings import load_settings
from infra.topology import build_topology


def _raw_config() -> dict[str, object]:
    """All config of the stack as the CLI hands it over (``namespace:key`` → value)."""
    raw: dict[str, object] = dict(get_config_env())
    raw.update(CONFIG.get())
    return raw


settings = load_settings(pulumi.get_stack(), _raw_config())  # raises ConfigError (one line) before any resource
topology = build_topology(settings)

if settings.target == "docker":
    from infra.docker import compose_docker

    compose_docker(topology)
else:
    from infra.aws import compose_aws

    compose_aws(topology)
