"""The fixtures and the pack's type lists agree with the installed pulumi-aws 7 schema.

Read from the SDK's ``*Args`` classes (``@pulumi.getter(name="storageEncrypted")``), so a renamed
input or token shows up here rather than as a policy that silently never fires.
"""

from __future__ import annotations

import importlib
from functools import cache

import policy_fixtures as fx
import pytest

from policies._base import REGISTRY
from policies.catalog import load
from policies.tagging import TAGGABLE

load()


@cache
def camel_inputs(token: str) -> frozenset[str] | None:
    """camelCase input names of an ``aws:<module>/<x>:<Class>`` token, or None if the SDK lacks it."""
    _, rest = token.split(":", 1)
    module, cls = rest.split(":")
    module = module.split("/")[0]
    try:
        mod = importlib.import_module(f"pulumi_aws.{module}")
    except ImportError:
        return None
    # Codegen renames the resource's args class to <Class>InitArgs when <Class>Args names an input type.
    args = getattr(mod, f"{cls}InitArgs", None) or getattr(mod, f"{cls}Args", None)
    if args is None:
        return None
    names = set()
    for attr in vars(args).values():
        if isinstance(attr, property) and attr.fget is not None:
            name = getattr(attr.fget, "_pulumi_name", None)
            if name:
                names.add(name)
    return frozenset(names)


AWS_TYPES = sorted({t for p in REGISTRY for t in p.meta.types if t.startswith("aws:")} | TAGGABLE)
V6_ONLY = {t for t in AWS_TYPES if t.endswith("V2")}
"""Legacy S3 spellings kept on purpose for stacks still on the v6 tokens."""


@pytest.mark.parametrize("token", AWS_TYPES)
def test_policy_types_exist_in_pulumi_aws(token: str) -> None:
    inputs = camel_inputs(token)
    if token in V6_ONLY:
        return
    assert inputs is not None, f"{token} is not a pulumi-aws 7 resource"


@pytest.mark.parametrize("token", sorted(TAGGABLE))
def test_taggable_types_accept_tags(token: str) -> None:
    inputs = camel_inputs(token)
    assert inputs is not None and "tags" in inputs, token


@pytest.mark.parametrize("token", [
    "aws:s3/bucketVersioning:BucketVersioning", "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
])
def test_untaggable_types_have_no_tags(token: str) -> None:
    inputs = camel_inputs(token)
    assert inputs is not None and "tags" not in inputs and token not in TAGGABLE


def _aws_fixture_resources() -> list[dict[str, object]]:
    return [r for r in fx.production_like() if str(r["type"]).startswith("aws:")]


@pytest.mark.parametrize("resource", _aws_fixture_resources(), ids=lambda r: f"{r['type']}::{r['name']}")
def test_fixture_inputs_are_real_camel_case_names(resource: dict[str, object]) -> None:
    inputs = camel_inputs(str(resource["type"]))
    assert inputs is not None, resource["type"]
    given = resource["inputs"]
    assert isinstance(given, dict)
    unknown = set(given) - inputs
    assert not unknown, f"{resource['type']} has no inputs {sorted(unknown)}"
