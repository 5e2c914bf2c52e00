"""Cost rules: every priced resource type is asserted against its price row, usage lines name their
assumptions, and a type with no rule, a class with no row or a region with no row makes the
estimate unknown (never zero).

Expected figures are quantity × the row read with the csv module (``cost_kit.row``), not from the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from cost_kit import DAYS, ROWS, H, check_line, component, only, resource, row

from cost.model import estimate
from cost.prices import PriceTable, load_prices
from cost.rules import RULES
from cost.rules.kubernetes import quantity_gib
from cost.usage import ASSUMPTIONS, Usage

RDS = "aws:rds/instance:Instance"
NO_USAGE = {a.key: 0.0 for a in ASSUMPTIONS}

# ---------------------------------------------------------------------------------------------
# One case per priced line: the resources, then (resource, item, row key, quantity, region)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    resources: Callable[[], list[dict[str, Any]]]
    expect: tuple[tuple[str, str, str, float, str], ...]
    usage: dict[str, float] = dataclasses.field(default_factory=dict)
    region: str = "us-east-1"


def _pg(**inputs: Any) -> dict[str, Any]:
    return resource(RDS, "pg", {"engine": "postgres", "identifier": "pg", **inputs})


def _replication() -> list[dict[str, Any]]:
    primary = _pg(instanceClass="db.r6g.xlarge", allocatedStorage=400, storageType="gp3", multiAz=True)
    repl = resource("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "repl",
                    {"region": "us-west-2", "retentionPeriod": 14,
                     "sourceDbInstanceArn": "arn:aws:rds:us-east-1:1:db:pg"},
                    deps=[primary["urn"]])
    return [primary, repl]


def _dr() -> list[dict[str, Any]]:
    primary = _pg(instanceClass="db.r6g.xlarge", allocatedStorage=500, storageType="gp3", multiAz=True)
    dr = resource(RDS, "pg-dr", {"instanceClass": "db.r6g.large", "region": "us-west-2",
                                 "replicateSourceDb": "arn:aws:rds:us-east-1:1:db:pg"}, deps=[primary["urn"]])
    return [primary, dr]


def _node_group() -> list[dict[str, Any]]:
    lt = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", {
        "monitoring": {"enabled": True},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50, "volumeType": "gp3"}}]})
    nodes = resource("aws:eks/nodeGroup:NodeGroup", "nodes", {
        "instanceTypes": ["r6g.large"], "scalingConfig": {"desiredSize": 3}}, deps=[lt["urn"]])
    return [lt, nodes]


def _buckets() -> list[dict[str, Any]]:
    """A backup bucket (7 days STANDARD, GLACIER_IR to day 97, DEEP_ARCHIVE to 365, +30 noncurrent) and
    its replica in us-west-2 (written as STANDARD_IA)."""
    src = resource("aws:s3/bucket:Bucket", "src", {"bucketPrefix": "b-graph-", "tags": {"store": "graph"}})
    dst = resource("aws:s3/bucket:Bucket", "dst", {"bucketPrefix": "b-graph-", "region": "us-west-2",
                                                    "tags": {"store": "graph", "role": "replica"}})
    out = [src, dst]
    for b, region in ((src, {}), (dst, {"region": "us-west-2"})):
        name = f"b-graph-{b['name']}"
        out.append(resource("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{b['name']}-lc", {
            "bucket": name, **region, "rules": [{
                "status": "Enabled", "filter": {}, "expiration": {"days": 365},
                "noncurrentVersionExpiration": {"noncurrentDays": 30},
                "transitions": [{"days": 7, "storageClass": "GLACIER_IR"},
                                {"days": 97, "storageClass": "DEEP_ARCHIVE"}],
            }]}, deps=[b["urn"]]))
        out.append(resource("aws:s3/bucketVersioning:BucketVersioning", f"{b['name']}-v", {
            "bucket": name, **region, "versioningConfiguration": {"status": "Enabled"}}, deps=[b["urn"]]))
    out.append(resource("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "rep", {
        "bucket": "b-graph-src", "rules": [{"destination": {"bucket": "arn:aws:s3:::b-graph-dst",
                                                            "storageClass": "STANDARD_IA",
                                                            "replicationTime": {"status": "Enabled"}}}]},
        deps=[src["urn"], dst["urn"]]))
    return out


def _claim() -> list[dict[str, Any]]:
    sc = resource("kubernetes:storage.k8s.io/v1:StorageClass", "sc", {
        "metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3", "iops": "4000"}})
    sts = resource("kubernetes:apps/v1:StatefulSet", "sts", {"spec": {"replicas": 3, "volumeClaimTemplates": [
        {"metadata": {"name": "data"},
         "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Ti"}}}}]}})
    pvc = resource("kubernetes:core/v1:PersistentVolumeClaim", "pvc", {
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "20Gi"}}}})
    return [sc, sts, pvc]


CASES: dict[str, Case] = {
    "rds single-az instance and gp3 storage": Case(
        lambda: [_pg(instanceClass="db.m6g.large", allocatedStorage=100, storageType="gp3")],
        (("pg", "instance", "rds:postgres:db.m6g.large:single-az", H, "us-east-1"),
         ("pg", "storage", "rds:storage:gp3:single-az", 100, "us-east-1"))),
    "rds multi-az instance, storage and iops above the 400 GiB baseline": Case(
        lambda: [_pg(instanceClass="db.r6g.xlarge", allocatedStorage=500, storageType="gp3", iops=15000, multiAz=True)],
        (("pg", "instance", "rds:postgres:db.r6g.xlarge:multi-az", H, "us-east-1"),
         ("pg", "storage", "rds:storage:gp3:multi-az", 500, "us-east-1"),
         ("pg", "iops", "rds:iops:gp3:multi-az", 3000, "us-east-1"))),
    "rds io1 storage and iops": Case(
        lambda: [_pg(instanceClass="db.r5.large", allocatedStorage=200, storageType="io1", iops=5000)],
        (("pg", "storage", "rds:storage:io1:single-az", 200, "us-east-1"),
         ("pg", "iops", "rds:iops:io1:single-az", 5000, "us-east-1"))),
    "rds backup storage above the allocated storage": Case(
        lambda: [_pg(instanceClass="db.t4g.medium", allocatedStorage=50, storageType="gp3", backupRetentionPeriod=7)],
        (("pg", "backup storage", "rds:backup", 40 + 3 * 7 - 50, "us-east-1"),),
        usage={"postgresDataGb": 40, "postgresWalGbPerDay": 3}),
    "rds cross-region replica in its region, plus the WAL stream from the source region": Case(
        _dr,
        (("pg-dr", "instance", "rds:postgres:db.r6g.large:single-az", H, "us-west-2"),
         ("pg-dr", "storage", "rds:storage:gp3:single-az", 500, "us-west-2"),
         ("pg-dr", "WAL stream", "transfer:inter-region", 4 * DAYS, "us-east-1")),
        usage={"postgresWalGbPerDay": 4}),
    "automated backups replication: storage in the destination, transfer from the source": Case(
        _replication,
        (("repl", "backup storage", "rds:backup", 100 + 5 * 14, "us-west-2"),
         ("repl", "cross-region transfer", "transfer:inter-region", 2 * 5 * DAYS, "us-east-1")),
        usage={"postgresDataGb": 100, "postgresWalGbPerDay": 5}),
    "elasticache valkey nodes and snapshots beyond the free one": Case(
        lambda: [resource("aws:elasticache/replicationGroup:ReplicationGroup", "cache", {
            "nodeType": "cache.m6g.large", "engine": "valkey", "numNodeGroups": 3, "replicasPerNodeGroup": 1,
            "snapshotRetentionLimit": 5})],
        (("cache", "nodes", "elasticache:node:cache.m6g.large:valkey", H * 6, "us-east-1"),
         ("cache", "snapshot storage", "elasticache:backup", 8 * 4, "us-east-1")),
        usage={"redisDataGb": 8}),
    "elasticache redis oss standalone cluster": Case(
        lambda: [resource("aws:elasticache/cluster:Cluster", "c", {"nodeType": "cache.r7g.large", "engine": "redis",
                                                                   "numCacheNodes": 2})],
        (("c", "nodes", "elasticache:node:cache.r7g.large:redis", H * 2, "us-east-1"),)),
    "eks control plane": Case(
        lambda: [resource("aws:eks/cluster:Cluster", "eks", {"upgradePolicy": {"supportType": "STANDARD"}})],
        (("eks", "control plane", "eks:cluster:standard", H, "us-east-1"),)),
    "eks node group: nodes, launch-template volumes, detailed monitoring": Case(
        _node_group,
        (("nodes", "instances", "ec2:instance:r6g.large", H * 3, "us-east-1"),
         ("nodes", "storage", "ebs:storage:gp3", 50 * 3, "us-east-1"),
         ("nodes", "detailed monitoring", "cloudwatch:metric", 7 * 3, "us-east-1"))),
    "ec2 instance with root and data volumes, in us-west-2": Case(
        lambda: [resource("aws:ec2/instance:Instance", "vm", {
            "instanceType": "m7g.large", "region": "us-west-2", "monitoring": True,
            "rootBlockDevice": {"volumeSize": 30, "volumeType": "gp3"},
            "ebsBlockDevices": [{"deviceName": "/dev/sdf", "volumeSize": 100, "volumeType": "io1", "iops": 1000}]})],
        (("vm", "instance", "ec2:instance:m7g.large", H, "us-west-2"),
         ("vm", "detailed monitoring", "cloudwatch:metric", 7, "us-west-2"))),
    "ebs gp3 volume above the baseline": Case(
        lambda: [resource("aws:ebs/volume:Volume", "v", {"size": 200, "type": "gp3", "iops": 6000, "throughput": 250})],
        (("v", "storage", "ebs:storage:gp3", 200, "us-east-1"),
         ("v", "iops", "ebs:iops:gp3", 3000, "us-east-1"),
         ("v", "throughput", "ebs:throughput:gp3", 125, "us-east-1"))),
    "nat gateway hours and its share of natGbPerMonth": Case(
        lambda: [resource("aws:ec2/natGateway:NatGateway", f"nat-{i}") for i in range(2)],
        (("nat-0", "hours", "vpc:nat:hour", H, "us-east-1"),
         ("nat-1", "data processed", "vpc:nat:gb", 150, "us-east-1")),
        usage={"natGbPerMonth": 300}),
    "public ipv4 address": Case(
        lambda: [resource("aws:ec2/eip:Eip", "ip", {"domain": "vpc", "region": "us-west-2"})],
        (("ip", "address hours", "vpc:ipv4:hour", H, "us-west-2"),)),
    "interface endpoint: AZ-hours and its share of endpointGbPerMonth": Case(
        lambda: [resource("aws:ec2/vpcEndpoint:VpcEndpoint", "kms", {
            "vpcEndpointType": "Interface", "serviceName": "com.amazonaws.us-east-1.kms",
            "subnetIds": ["a", "b", "c"]}),
                 resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})],
        (("kms", "endpoint hours", "vpc:endpoint:hour", H * 3, "us-east-1"),
         ("kms", "data processed", "vpc:endpoint:gb", 40, "us-east-1")),
        usage={"endpointGbPerMonth": 40}),
    "load balancers": Case(
        lambda: [resource("aws:lb/loadBalancer:LoadBalancer", "alb", {}),
                 resource("aws:lb/loadBalancer:LoadBalancer", "nlb", {"loadBalancerType": "network"})],
        (("alb", "hours", "elb:alb:hour", H, "us-east-1"), ("nlb", "hours", "elb:nlb:hour", H, "us-east-1"))),
    "route 53 hosted zone": Case(
        lambda: [resource("aws:route53/zone:Zone", "zone", {"vpcs": [{"vpcId": "v"}]})],
        (("zone", "hosted zone", "route53:zone", 1, "us-east-1"),)),
    "kms keys and secrets with a replica": Case(
        lambda: [resource("aws:kms/key:Key", "key", {"enableKeyRotation": True}),
                 resource("aws:kms/replicaKey:ReplicaKey", "rkey", {"region": "us-west-2"}),
                 resource("aws:secretsmanager/secret:Secret", "secret", {"replicas": [{"region": "us-west-2"}]})],
        (("key", "key", "kms:key", 1, "us-east-1"), ("rkey", "key", "kms:key", 1, "us-west-2"),
         ("secret", "secret", "secretsmanager:secret", 1, "us-east-1"),
         ("secret", "replica in us-west-2", "secretsmanager:secret", 1, "us-west-2"))),
    "cloudwatch alarms, metric filters, log ingestion and retained storage": Case(
        lambda: [resource("aws:cloudwatch/metricAlarm:MetricAlarm", "std", {"period": 60}),
                 resource("aws:cloudwatch/metricAlarm:MetricAlarm", "hi", {"period": 10}),
                 resource("aws:cloudwatch/logMetricFilter:LogMetricFilter", "mf", {}),
                 resource("aws:cloudwatch/logGroup:LogGroup", "logs-a", {"retentionInDays": 90}),
                 resource("aws:cloudwatch/logGroup:LogGroup", "logs-b",
                          {"retentionInDays": 30, "region": "us-west-2"})],
        (("std", "alarm", "cloudwatch:alarm:standard", 1, "us-east-1"),
         ("hi", "alarm", "cloudwatch:alarm:high-resolution", 1, "us-east-1"),
         ("mf", "metric", "cloudwatch:metric", 1, "us-east-1"),
         ("logs-a", "ingestion", "cloudwatch:logs:ingestion", 5, "us-east-1"),
         ("logs-a", "storage", "cloudwatch:logs:storage", 5 * 90 / DAYS, "us-east-1"),
         ("logs-b", "storage", "cloudwatch:logs:storage", 5 * 30 / DAYS, "us-west-2")),
        usage={"logGbPerMonth": 10}),
    "s3 backup bucket and its replica at steady state after the lifecycle": Case(
        _buckets,
        (("src", "storage STANDARD", "s3:storage:standard", 4 * 7, "us-east-1"),
         ("src", "storage GLACIER_IR", "s3:storage:glacier-ir", 4 * 90, "us-east-1"),
         ("src", "storage DEEP_ARCHIVE", "s3:storage:deep-archive", 4 * (365 - 97 + 30), "us-east-1"),
         ("dst", "storage STANDARD_IA", "s3:storage:standard-ia", 4 * 30, "us-west-2"),  # 30-day minimum billed
         ("dst", "storage GLACIER_IR", "s3:storage:glacier-ir", 4 * 90, "us-west-2"),
         ("rep", "cross-region transfer", "transfer:inter-region", 4 * DAYS, "us-east-1"),
         ("rep", "replication time control", "s3:rtc:gb", 4 * DAYS, "us-east-1")),
        usage={"graphBackupGbPerDay": 4}),
    "persistent volumes from an EBS StorageClass": Case(
        _claim,
        (("sts", "storage", "ebs:storage:gp3", 1024 * 3, "us-east-1"),
         ("sts", "iops", "ebs:iops:gp3", 1000 * 3, "us-east-1"),
         ("pvc", "storage", "ebs:storage:gp3", 20, "us-east-1"))),
    "codebuild build minutes": Case(
        lambda: [resource("aws:codebuild/project:Project", "deploy", {
            "environment": {"computeType": "BUILD_GENERAL1_SMALL", "type": "ARM_CONTAINER"}})],
        (("deploy", "build minutes", "codebuild:minute:build_general1_small_arm", 90, "us-east-1"),),
        usage={"deployMinutesPerMonth": 90}),
}


def _run(case: Case, prices: PriceTable | None = None) -> None:
    report = estimate(case.resources(), region=case.region, usage={**NO_USAGE, **case.usage}, prices=prices)
    for name, item, key, quantity, region in case.expect:
        check_line(report, name, item, key, quantity, region)


@pytest.mark.parametrize("name", list(CASES))
def test_each_priced_line_is_its_quantity_times_its_table_row(name: str) -> None:
    _run(CASES[name])


FREE_ONLY_RULES = {
    "aws:rds/eventSubscription:EventSubscription", "aws:ec2/launchTemplate:LaunchTemplate", "aws:sns/topic:Topic",
    "aws:ssm/parameter:Parameter", "aws:route53/record:Record", "aws:codebuild/webhook:Webhook",
    "aws:codebuild/sourceCredential:SourceCredential", "kubernetes:core/v1:Service", "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "aws:alb/loadBalancer:LoadBalancer",
    "aws:s3/bucketV2:BucketV2",
}
"""Rules that only ever say free or unknown, or alias a rule a case covers (test_free_types_say_why)."""


def rules_without_a_case(rules: set[str], cases: dict[str, Case]) -> set[str]:
    """Priced rule types no case prices."""
    return rules - FREE_ONLY_RULES - {r["type"] for case in cases.values() for r in case.resources()}


def test_the_cases_cover_every_priced_rule() -> None:
    assert rules_without_a_case(set(RULES), CASES) == set()


def test_of_the_test_a_rule_without_a_case_is_caught() -> None:
    assert rules_without_a_case({*RULES, "aws:memorydb/cluster:Cluster"}, CASES) == {"aws:memorydb/cluster:Cluster"}


def test_of_the_test_a_changed_row_fails_the_row_check() -> None:
    """Plant the defect: the model prices from a table whose row differs from the shipped csv."""
    table = load_prices()
    planted = PriceTable.from_rows([dataclasses.replace(p, usd=p.usd * 2, text=str(p.usd * 2))
                                    if (p.key, p.region) == ("vpc:ipv4:hour", "us-west-2") else p for p in table])
    with pytest.raises(AssertionError):
        _run(CASES["public ipv4 address"], prices=planted)


# ---------------------------------------------------------------------------------------------
# Unknown: never zero
# ---------------------------------------------------------------------------------------------


def test_a_type_with_no_rule_makes_the_estimate_unknown() -> None:
    report = estimate([resource("aws:foo/bar:Baz", "mystery"), resource("aws:kms/key:Key", "key")], region="us-east-1")
    assert report.verdict == "unknown" and not report.complete
    line = only(report, "mystery", priced=False)
    assert (line.monthly, line.basis) == (None, "the cost model has no rule for resource type aws:foo/bar:Baz")
    assert report.monthly_total == row("kms:key")  # only what could be priced, and the verdict says so
    assert report.to_json()["verdict"] == "unknown"


def test_a_class_with_no_row_makes_the_estimate_unknown() -> None:
    assert ("rds:postgres:db.r8g.xlarge:single-az", "us-east-1") not in ROWS
    report = estimate([_pg(instanceClass="db.r8g.xlarge", allocatedStorage=100, storageType="gp3")], region="us-east-1")
    assert report.verdict == "unknown"
    basis = only(report, "pg", "instance", priced=False).basis
    assert basis.startswith("no price for db.r8g.xlarge PostgreSQL Single-AZ in us-east-1 in the price table")
    check_line(report, "pg", "storage", "rds:storage:gp3:single-az", 100)  # the rest is still priced


def test_a_region_with_no_row_makes_the_estimate_unknown() -> None:
    assert not any(region == "ap-south-1" for _, region in ROWS)
    report = estimate([resource("aws:ec2/natGateway:NatGateway", "nat", {"region": "ap-south-1"})], region="us-east-1")
    assert report.verdict == "unknown" and report.lines == [] and report.monthly_total == 0.0
    reasons = [line.basis for line in report.unpriced]
    assert len(reasons) == 2 and all("in ap-south-1 in the price table" in b for b in reasons)
    assert all("the table covers only us-east-1, us-west-2, eu-west-1" in b for b in reasons)


def test_a_multi_az_instance_needs_a_multi_az_row_not_twice_single_az() -> None:
    """eu-west-1 has db.r6g.xlarge Single-AZ but no Multi-AZ row: no 2 × fallback, the line is unpriced."""
    assert ("rds:postgres:db.r6g.xlarge:single-az", "eu-west-1") in ROWS
    assert ("rds:postgres:db.r6g.xlarge:multi-az", "eu-west-1") not in ROWS
    report = estimate([_pg(instanceClass="db.r6g.xlarge", allocatedStorage=100, storageType="gp2", multiAz=True)],
                      region="eu-west-1")
    assert "no price for db.r6g.xlarge PostgreSQL Multi-AZ" in only(report, "pg", "instance", priced=False).basis


def test_buckets_without_an_assumption_or_an_end_are_unknown() -> None:
    plain = resource("aws:s3/bucket:Bucket", "plain", {"bucketPrefix": "x-"})
    forever = resource("aws:s3/bucket:Bucket", "forever", {"bucketPrefix": "y-", "tags": {"store": "graph"}})
    other_store = resource("aws:s3/bucket:Bucket", "odd", {"bucketPrefix": "z-", "tags": {"store": "kafka"}})
    report = estimate([plain, forever, other_store], region="us-east-1", usage={"graphBackupGbPerDay": 1})
    assert "no usage assumption says what this bucket stores" in only(report, "plain", priced=False).basis
    assert "storage grows without bound" in only(report, "forever", priced=False).basis
    assert "no usage assumption for it" in only(report, "odd", priced=False).basis


def test_access_log_buckets_are_priced_from_their_assumption() -> None:
    logs = resource("aws:s3/bucket:Bucket", "logs", {"bucket": "acme-access-logs"})
    lc = resource("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "logs-lc", {
        "bucket": "acme-access-logs", "rules": [{"status": "Enabled", "expiration": {"days": 90}}]}, deps=[logs["urn"]])
    src = resource("aws:s3/bucket:Bucket", "src", {"bucket": "acme-data", "tags": {"store": "graph"}})
    logging = resource("aws:s3/bucketLogging:BucketLogging", "src-logging", {
        "bucket": "acme-data", "targetBucket": "acme-access-logs"}, deps=[src["urn"], logs["urn"]])
    report = estimate([logs, lc, logging], region="us-east-1", usage={"accessLogGbPerDay": 2})
    check_line(report, "logs", "storage STANDARD", "s3:storage:standard", 2 * 90)
    assert "accessLogGbPerDay 2 GB/day" in only(report, "logs", "storage STANDARD").basis


def test_unknown_usage_keys_and_negative_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="usage key 'natGB' is not one of natGbPerMonth"):
        estimate([], region="us-east-1", usage={"natGB": 1})
    with pytest.raises(ValueError, match=r"usage.postgresDataGb: -1 is not a number >= 0"):
        estimate([], region="us-east-1", usage={"postgresDataGb": -1})


# ---------------------------------------------------------------------------------------------
# Free, with a reason
# ---------------------------------------------------------------------------------------------

FREE_TYPES = [
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
    "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:iam/role:Role", "aws:iam/serviceLinkedRole:ServiceLinkedRole",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:rds/eventSubscription:EventSubscription", "aws:codebuild/webhook:Webhook",
    "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketLogging:BucketLogging", "aws:kms/alias:Alias",
    "aws:rds/parameterGroup:ParameterGroup", "aws:elasticache/subnetGroup:SubnetGroup", "aws:sns/topic:Topic",
    "aws:route53/record:Record", "kubernetes:apps/v1:Deployment", "pulumi:providers:aws",
    "random:index/randomPassword:RandomPassword",
]


def test_free_types_say_why() -> None:
    report = estimate([resource(t, f"r{i}") for i, t in enumerate(FREE_TYPES)], region="us-east-1")
    assert report.complete and len(report.lines) == len(FREE_TYPES)
    for line in report.lines:
        assert line.monthly == 0.0 and line.basis.startswith("no charge: ") and len(line.basis) > len("no charge: ")


# ---------------------------------------------------------------------------------------------
# Usage lines say what they assumed
# ---------------------------------------------------------------------------------------------

USAGE_ITEMS = {"data processed", "ingestion", "backup storage", "snapshot storage", "WAL stream",
               "cross-region transfer", "build minutes"}


def usage_lines_without_their_assumption(lines: list[Any]) -> list[str]:
    """Usage-based lines whose basis names no usage key."""
    keys = [a.key for a in ASSUMPTIONS]
    return [f"{line.urn}: {line.basis}" for line in lines
            if (line.item in USAGE_ITEMS or line.item.startswith("storage ")) and line.monthly
            and not any(key in line.basis for key in keys)]


def test_usage_based_lines_name_their_assumptions() -> None:
    lines = [line for case in CASES.values()
             for line in estimate(case.resources(), region="us-east-1", usage={**NO_USAGE, **case.usage}).lines]
    assert len([line for line in lines if line.item in USAGE_ITEMS]) >= 8
    assert usage_lines_without_their_assumption(lines) == []


def test_of_the_test_a_usage_line_without_its_assumption_is_caught() -> None:
    report = estimate(CASES["nat gateway hours and its share of natGbPerMonth"].resources(), region="us-east-1",
                      usage={"natGbPerMonth": 300})
    line = only(report, "nat-0", "data processed")
    planted = dataclasses.replace(line, basis="NAT data processed 0.045 USD/GB × 150 GB")
    assert usage_lines_without_their_assumption([planted]) == [f"{line.urn}: {planted.basis}"]


def test_growth_prices_data_at_the_month_end_and_autoscales_rds_storage() -> None:
    db = _pg(instanceClass="db.t4g.medium", allocatedStorage=50, maxAllocatedStorage=200, storageType="gp3")
    report = estimate([db], region="us-east-1", usage={"postgresDataGb": 50, "dataGrowthPercentPerMonth": 8})
    storage = only(report, "pg", "storage")
    assert storage.monthly == round(60 * row("rds:storage:gp3:single-az"), 2)  # 54 GB of data → 60 GB allocated
    assert "autoscaled from 50 GB" in storage.basis and "dataGrowthPercentPerMonth 8 %/month" in storage.basis


def test_defaults_are_one_home() -> None:
    """The defaults of an estimate without usage are the assumptions' defaults (cost.usage)."""
    assert Usage().to_json() == {a.key: a.default for a in ASSUMPTIONS}
    assert Usage.from_mapping(None) == Usage()


def test_quantities() -> None:
    assert quantity_gib("1Ti") == 1024 and quantity_gib("500Mi") == pytest.approx(500 / 1024)
    assert quantity_gib("10G") == pytest.approx(10e9 / 2**30) and quantity_gib("lots") is None


def test_components_roll_up_and_the_stack_gets_its_loose_resources() -> None:
    redis = component("data-platform:aws:Redis", "redis")
    nested = component("data-platform:aws:Alarms", "redis-alarms", parent=redis["urn"])
    cache = resource("aws:elasticache/replicationGroup:ReplicationGroup", "cache",
                     {"nodeType": "cache.m6g.large", "engine": "valkey", "numNodeGroups": 1}, parent=redis)
    alarm = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {"period": 60}, parent=nested)
    loose = resource("aws:kms/key:Key", "loose")
    report = estimate([redis, nested, cache, alarm, loose], region="us-east-1", usage=NO_USAGE)
    stack_urn = "urn:pulumi:production::data-platform::pulumi:pulumi:Stack::data-platform-production"
    assert report.by_component == {
        redis["urn"]: round(H * row("elasticache:node:cache.m6g.large:valkey") + row("cloudwatch:alarm:standard"), 2),
        stack_urn: row("kms:key"),
    }
    assert sum(report.by_component.values()) == pytest.approx(report.monthly_total, abs=0.01)
