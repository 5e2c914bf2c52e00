"""Tagging (advisory): the required tags are on every taggable AWS resource.

A resource is checked when it is an AWS resource whose inputs carry ``tags`` or whose type is in
:data:`TAGGABLE` (types of this program that accept ``tags``; a test checks the list against the
installed pulumi-aws, so the pack itself never imports pulumi_aws). Tags set on the provider
(``defaultTags.tags``) count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from policies._base import ADVISORY, MANDATORY, UNKNOWN, Resource, as_dict, as_list, resource_policy

CONCERN = "tagging"
DEFAULT_REQUIRED_TAGS = ["team", "environment", "cost-center"]

TAGGABLE: frozenset[str] = frozenset({
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/eventSubscription:EventSubscription",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/user:User",
    "aws:elasticache/userGroup:UserGroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ebs/volume:Volume",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/addon:Addon",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:sns/topic:Topic",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:secretsmanager/secret:Secret",
})
"""AWS types of this program that accept a ``tags`` input (verified by tests/policies/test_tagging.py)."""


def _default_tags(provider_props: dict[str, Any]) -> dict[str, Any]:
    value = provider_props.get("defaultTags")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return as_dict(as_dict(value).get("tags"))


@resource_policy(
    name="required-tags", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(),
    requirements=("seed:required-tags",),
    description="Every taggable AWS resource carries the required tags (default team, environment, cost-center).",
    remediation="Add the tags on the resource (tags={...}) or on the provider (default_tags).",
    config={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_REQUIRED_TAGS,
                             "description": "Tag keys every taggable AWS resource must have (non-empty)."}},
    severity="low",
)
def required_tags(r: Resource) -> Iterator[str]:
    if not r.type.startswith("aws:") or r.type.startswith("pulumi:"):
        return
    tags = r.props.get("tags")
    if tags is UNKNOWN or ("tags" not in r.props and r.type not in TAGGABLE):
        return
    merged = {**_default_tags(r.provider_props), **as_dict(tags)}
    required = [str(t) for t in as_list(r.ctx.get("requiredTags", DEFAULT_REQUIRED_TAGS))]
    missing = [t for t in required if merged.get(t) in (None, "")]
    if missing:
        yield (f"tags lacks {', '.join(missing)} on {r.label}; add them to tags (or the provider's "
               "default_tags) so cost and ownership reports can attribute the resource.")
