"""Compose the topology on AWS from components (placeholder while components are written)."""

import pulumi
import pulumi_aws as aws

from infra.settings import Settings
from infra.topology import Topology


def compose_aws(s: Settings, topo: Topology) -> None:
    key = aws.kms.Key("probe", enable_key_rotation=True, tags=s.resource_tags())
    pulumi.export("keyArn", key.arn)
    pulumi.export("secret", pulumi.Output.secret("x"))
