"""An instance class or node type without a price stops the stack file before any resource is
registered: one line naming the file, the key, the value and the nearest priced classes."""

from __future__ import annotations

from typing import Any

import pytest

from cost import classes
from infra.settings import ConfigError, load_settings

NS = "data-platform"


def _error(stack: str = "dev", **sections: Any) -> str:
    config = {"aws:region": "us-east-1", f"{NS}:environment": "dev", **{f"{NS}:{k}": v for k, v in sections.items()}}
    with pytest.raises(ConfigError) as err:
        load_settings(stack, config)
    return str(err.value)


@pytest.mark.parametrize(("section", "key", "value", "nearest"), [
    ("postgres", "instanceClass", "db.r8q.huge", "db.r7g.4xlarge"),  # a typo
    ("postgres", "instanceClass", "db.r8g.xlarge", "db.r7g.xlarge"),  # a real class nobody priced
    ("postgres", "replicaInstanceClass", "db.x2g.large", "db."),
    ("redis", "nodeType", "cache.r5.large", "cache.r6g.large"),
    ("graph", "instanceType", "r8g.xlarge", "r7g.xlarge"),
    ("vector", "instanceType", "x2gd.large", "large"),
])
def test_an_unpriced_class_is_one_line_naming_key_value_and_nearest(section: str, key: str, value: str,
                                                                     nearest: str) -> None:
    extra = {"readReplicas": 1} if key == "replicaInstanceClass" else {}
    message = _error(**{section: {key: value, **extra}})
    assert "\n" not in message
    assert message.startswith(f"Pulumi.dev.yaml: {NS}:{section}.{key}: {value} is not allowed (")
    assert "nearest priced: " in message and nearest in message.split("nearest priced: ")[1]


def test_the_dr_class_must_be_priced_in_the_dr_region() -> None:
    ok = load_settings("dev", {"aws:region": "us-east-1", f"{NS}:drRegion": "us-west-2", f"{NS}:environment": "dev",
                                           f"{NS}:postgres": {"drInstanceClass": "db.r6g.large"}})
    assert ok.postgres.dr_instance_class == "db.r6g.large"
    message = _error(postgres={"drInstanceClass": "db.r6g.large"}, drRegion="eu-central-1")
    assert message.startswith(f"Pulumi.dev.yaml: {NS}:postgres.drInstanceClass: db.r6g.large is not allowed")
    assert "with a price in eu-central-1; the price table is complete for us-east-1, us-west-2 only" in message


def test_a_multi_az_primary_needs_the_multi_az_row() -> None:
    """eu-west-1 prices db.r6g.xlarge Single-AZ only: a Single-AZ primary passes, a Multi-AZ one does not."""
    base = {"aws:region": "eu-west-1", f"{NS}:drRegion": "us-west-2", f"{NS}:environment": "dev"}
    load_settings("dev", {**base, f"{NS}:postgres": {"multiAz": False, "instanceClass": "db.r6g.xlarge",
                                                     "drReplica": False},
                          f"{NS}:redis": {"nodeType": "cache.r6g.large"}, f"{NS}:graph": {"instanceType": "r6i.large"},
                          f"{NS}:vector": {"instanceType": "r6i.large"}})
    with pytest.raises(ConfigError, match=r"postgres.instanceClass: db.r6g.xlarge is not allowed \(a PostgreSQL DB "
                                          r"instance class \(Multi-AZ\) with an on-demand price in eu-west-1"):
        load_settings("dev", {**base, f"{NS}:postgres": {"instanceClass": "db.r6g.xlarge", "drReplica": False}})


def test_nearest_prefers_the_family_then_the_size() -> None:
    candidates = ["db.m6g.large", "db.r6g.large", "db.r6g.2xlarge", "db.r7g.xlarge", "db.t4g.xlarge"]
    assert classes.nearest(classes.RDS, "db.r6g.xlarge", candidates, 3) == ["db.r6g.large", "db.r6g.2xlarge",
                                                                            "db.r7g.xlarge"]


def test_priced_classes_are_the_tables() -> None:
    priced = classes.priced(classes.ELASTICACHE, "us-west-2", "valkey")
    assert "cache.m6g.large" in priced and "cache.r5.large" not in priced
    assert classes.unpriced(classes.EC2, "r7g.large", ("us-east-1", "us-west-2")) is None
