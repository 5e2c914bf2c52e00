"""Stack config validation: defaults, secrets, and one exact line per bad stack file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
NS = "data-platform"


def _load(stack: str, **sections: Any) -> Settings:
    """``stack`` with ``sections``; stacks named dev and staging state that environment, as stack files do."""
    config: dict[str, Any] = {"aws:region": sections.pop("region", "us-east-1")}
    if stack in ("dev", "staging"):
        sections.setdefault("environment", stack)
    for key, value in sections.items():
        config[f"{NS}:{key}"] = value
    return load_settings(stack, config)


def _stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


PROD_LICENSE = {"licenseAgreement": "yes"}
ROLE = "arn:aws:iam::123456789012:role/"
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#: What production with a store on EKS needs: the runner, the preview role, a break-glass role.
PROD_DEPLOY = {"runner": True, "repository": "acme/data-platform", "githubConnectionArn": CONNECTION,
               "previewRoleArn": ROLE + "preview", "breakGlassRoleArns": [ROLE + "break-glass"]}
EC2 = {"placement": "ec2"}

# (stack, config sections, expected one-line message)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("dev", {"redis": {"shards": 0}}, "Pulumi.dev.yaml: data-platform:redis.shards: 0 is not allowed (1..500)"),
    ("dev", {"redis": {"shards": 501}}, "Pulumi.dev.yaml: data-platform:redis.shards: 501 is not allowed (1..500)"),
    ("dev", {"redis": {"replicasPerShard": 6}},
     "Pulumi.dev.yaml: data-platform:redis.replicasPerShard: 6 is not allowed (0..5)"),
    ("dev", {"redis": {"replicasPerShard": 0}},
     "Pulumi.dev.yaml: data-platform:redis.replicasPerShard: 0 is not allowed (1..5 when redis.multiAz is true)"),
    ("dev", {"postgres": {"backupRetentionDays": 0}},
     "Pulumi.dev.yaml: data-platform:postgres.backupRetentionDays: 0 is not allowed (1..35)"),
    ("dev", {"postgres": {"backupRetentionDays": 36}},
     "Pulumi.dev.yaml: data-platform:postgres.backupRetentionDays: 36 is not allowed (1..35)"),
    ("dev", {"postgres": {"readReplicas": 6}},
     "Pulumi.dev.yaml: data-platform:postgres.readReplicas: 6 is not allowed (0..5)"),
    ("dev", {"postgres": {"engineVersion": "12"}},
     "Pulumi.dev.yaml: data-platform:postgres.engineVersion: 12 is not allowed (16 or 17)"),
    ("dev", {"postgres": {"instanceClass": "r6g.xlarge"}},
     "Pulumi.dev.yaml: data-platform:postgres.instanceClass: r6g.xlarge is not allowed "
     "(an RDS instance class such as db.r6g.xlarge)"),
    ("dev", {"postgres": {"storageGb": 500, "maxStorageGb": 400}},
     "Pulumi.dev.yaml: data-platform:postgres.maxStorageGb: 400 is not allowed (>= postgres.storageGb (500))"),
    ("dev", {"postgres": {"backupWindow": "3am"}},
     "Pulumi.dev.yaml: data-platform:postgres.backupWindow: 3am is not allowed (hh24:mi-hh24:mi, UTC)"),
    ("dev", {"postgres": {"monitoringIntervalSeconds": 7}},
     "Pulumi.dev.yaml: data-platform:postgres.monitoringIntervalSeconds: 7 is not allowed "
     "(0, 1, 5, 10, 15, 30 or 60)"),
    ("dev", {"postgres": {"performanceInsightsRetentionDays": 40}},
     "Pulumi.dev.yaml: data-platform:postgres.performanceInsightsRetentionDays: 40 is not allowed "
     "(7, 731 or a multiple of 31)"),
    ("dev", {"postgres": {"multiAZ": True}},
     "Pulumi.dev.yaml: data-platform:postgres.multiAZ: true is not allowed (unknown key; did you mean multiAz? "
     "known keys: "
     "backupRetentionDays, "
     "backupWindow, databaseName, deletionProtection, drInstanceClass, drReplica, engineVersion, instanceClass, iops, "
     "maintenanceWindow, masterUsername, maxConnections, maxStorageGb, monitoringIntervalSeconds, multiAz, "
     "performanceInsightsRetentionDays, pooling, port, readReplicas, replicaInstanceClass, replicaLagAlarmSeconds, "
     "storageEncrypted, storageGb)"),
    ("dev", {"postgres": {"pooling": {"poolMode": "batch"}}},
     "Pulumi.dev.yaml: data-platform:postgres.pooling.poolMode: batch is not allowed "
     "(transaction, session or statement)"),
    ("dev", {"redis": {"engine": "memcached"}},
     "Pulumi.dev.yaml: data-platform:redis.engine: memcached is not allowed (valkey or redis)"),
    ("dev", {"redis": {"engine": "redis", "engineVersion": "8.0"}},
     "Pulumi.dev.yaml: data-platform:redis.engineVersion: 8.0 is not allowed (7.0 or 7.1 for engine redis)"),
    ("dev", {"redis": {"engineVersion": "7.1"}},
     "Pulumi.dev.yaml: data-platform:redis.engineVersion: 7.1 is not allowed (7.2, 8.0 or 8.1 for engine valkey)"),
    ("dev", {"redis": {"shards": "three"}},
     "Pulumi.dev.yaml: data-platform:redis.shards: three is not allowed (a whole number, 1..500)"),
    ("dev", {"vector": {"peers": 3, "replicationFactor": 4}},
     "Pulumi.dev.yaml: data-platform:vector.replicationFactor: 4 is not allowed (<= vector.peers (3))"),
    ("dev", {"vector": {"peers": 3, "replicationFactor": 2, "writeConsistencyFactor": 3}},
     "Pulumi.dev.yaml: data-platform:vector.writeConsistencyFactor: 3 is not allowed "
     "(<= vector.replicationFactor (2))"),
    ("dev", {"vector": {"placement": "fargate"}},
     "Pulumi.dev.yaml: data-platform:vector.placement: fargate is not allowed (eks or ec2)"),
    ("dev", {"network": {"cidr": "10.40.0.0/8"}},
     "Pulumi.dev.yaml: data-platform:network.cidr: 10.40.0.0/8 is not allowed (an IPv4 network such as 10.40.0.0/16)"),
    ("dev", {"network": {"cidr": "8.8.0.0/16"}},
     "Pulumi.dev.yaml: data-platform:network.cidr: 8.8.0.0/16 is not allowed (a private IPv4 network from /16 to /22)"),
    ("dev", {"network": {"availabilityZones": 7}},
     "Pulumi.dev.yaml: data-platform:network.availabilityZones: 7 is not allowed (2..6)"),
    ("dev", {"region": "eu-west-1", "network": {"availabilityZones": 4}},
     "Pulumi.dev.yaml: data-platform:network.availabilityZones: 4 is not allowed (1..3 in eu-west-1)"),
    ("dev", {"drRegion": "us-east-1"},
     "Pulumi.dev.yaml: data-platform:drRegion: us-east-1 is not allowed (a region other than aws:region (us-east-1))"),
    # an unknown key suggests the closest one; none when nothing is close
    ("dev", {"redis": {"shard": 2}},
     "Pulumi.dev.yaml: data-platform:redis.shard: 2 is not allowed (unknown key; did you mean shards? known keys: "
     "atRestEncryption, engine, engineVersion, maintenanceWindow, maxmemoryPolicy, multiAz, nodeType, port, "
     "replicasPerShard, shards, snapshotRetentionDays, snapshotWindow, transitEncryption)"),
    ("dev", {"budget": {"zzz": 1}},
     "Pulumi.dev.yaml: data-platform:budget.zzz: 1 is not allowed (unknown key; known keys: monthlyUsd)"),
    # a bad aws:region is reported under the key the user wrote (not as data-platform:region)
    ("dev", {"region": "mars-1"},
     "Pulumi.dev.yaml: aws:region: mars-1 is not allowed (an AWS region name such as us-east-1)"),
    ("dev", {"drRegion": "mars-1"},
     "Pulumi.dev.yaml: data-platform:drRegion: mars-1 is not allowed (an AWS region name such as us-east-1)"),
    ("dev", {"backups": {"dailyDays": 30, "weeklyDays": 30}},
     "Pulumi.dev.yaml: data-platform:backups.weeklyDays: 30 is not allowed "
     "(between backups.dailyDays (30) and backups.monthlyDays (365))"),
    ("dev", {"alerts": {"email": "oncall"}},
     "Pulumi.dev.yaml: data-platform:alerts.email: oncall is not allowed (an e-mail address)"),
    ("dev", {"budget": {"monthlyUsd": -5}},
     "Pulumi.dev.yaml: data-platform:budget.monthlyUsd: -5 is not allowed (> 0)"),
    ("dev", {"eks": {"publicAccessCidrs": ["0.0.0.0/0"]}},
     "Pulumi.dev.yaml: data-platform:eks.publicAccessCidrs: 0.0.0.0/0 is not allowed "
     "(specific CIDRs, never the whole internet)"),
    ("dev", {"target": "gcp"}, "Pulumi.dev.yaml: data-platform:target: gcp is not allowed (aws or docker)"),
    ("dev", {"postgress": {}},
     "Pulumi.dev.yaml: data-platform:postgress: {} is not allowed (unknown key; did you mean postgres? known keys: "
     "alerts, backups, budget, "
     "deploy, drRegion, eks, environment, graph, local, network, postgres, redis, tags, target, usage, vector)"),
    # the deploy path (README "Production deploy path")
    ("production", {"graph": PROD_LICENSE},
     "Pulumi.production.yaml: data-platform:deploy.runner: false is not allowed (true in production while a store "
     "runs on EKS: the private API endpoint is reachable only from inside the VPC)"),
    ("prod-eu", {"graph": PROD_LICENSE, "deploy": {**PROD_DEPLOY, "previewRoleArn": None}},
     "Pulumi.prod-eu.yaml: data-platform:deploy.previewRoleArn: null is not allowed (the read-only role of "
     "pull-request previews, in production with EKS (previews read the cluster))"),
    ("production", {"graph": PROD_LICENSE, "deploy": {**PROD_DEPLOY, "breakGlassRoleArns": []}},
     "Pulumi.production.yaml: data-platform:deploy.breakGlassRoleArns: [] is not allowed (at least one role in "
     "production with EKS (cluster-admin when CI cannot deploy))"),
    ("dev", {"deploy": {"runner": True, "repository": "acme/dp", "githubConnectionArn": CONNECTION},
             "graph": EC2, "vector": EC2},
     "Pulumi.dev.yaml: data-platform:deploy.runner: true is not allowed (false when no store runs on EKS: there "
     "is no Kubernetes API to reach)"),
    ("dev", {"deploy": {"runner": True, "githubConnectionArn": CONNECTION}},
     "Pulumi.dev.yaml: data-platform:deploy.repository: null is not allowed (owner/name of the GitHub repository "
     "when deploy.runner is true)"),
    ("dev", {"deploy": {"runner": True, "repository": "acme/dp"}},
     "Pulumi.dev.yaml: data-platform:deploy.githubConnectionArn: null is not allowed (a CodeConnections "
     "connection ARN when deploy.runner is true)"),
    ("dev", {"deploy": {"repository": "https://github.com/acme/dp"}},
     "Pulumi.dev.yaml: data-platform:deploy.repository: https://github.com/acme/dp is not allowed "
     "(owner/name of a GitHub repository)"),
    ("dev", {"deploy": {"githubConnectionArn": "arn:aws:codestar:us-east-1:123456789012:connection/x"}},
     "Pulumi.dev.yaml: data-platform:deploy.githubConnectionArn: arn:aws:codestar:us-east-1:123456789012:"
     "connection/x is not allowed (an AWS CodeConnections connection ARN such as "
     "arn:aws:codeconnections:us-east-1:123456789012:connection/<uuid>)"),
    ("dev", {"deploy": {"previewRoleArn": "arn:aws:sts::123456789012:assumed-role/preview/gha"}},
     "Pulumi.dev.yaml: data-platform:deploy.previewRoleArn: arn:aws:sts::123456789012:assumed-role/preview/gha "
     "is not allowed (an IAM role ARN, arn:aws:iam::<account>:role/[<path>/]<name>)"),
    ("dev", {"deploy": {"breakGlassRoleArns": [ROLE + "ops"], "previewRoleArn": ROLE + "ops"}},
     "Pulumi.dev.yaml: data-platform:deploy.breakGlassRoleArns: arn:aws:iam::123456789012:role/ops is not allowed "
     "(a role other than deploy.previewRoleArn's: EKS allows one access entry per principal)"),
    ("dev", {"deploy": {"deployRoleArn": ROLE + "ci/deploy", "breakGlassRoleArns": [ROLE + "ops/deploy"]}},
     "Pulumi.dev.yaml: data-platform:deploy.breakGlassRoleArns: arn:aws:iam::123456789012:role/ops/deploy is not "
     "allowed (a role name other than deploy.deployRoleArn's: access entries are named after the role)"),
    ("dev", {"deploy": {"runners": True}},
     "Pulumi.dev.yaml: data-platform:deploy.runners: true is not allowed (unknown key; did you mean runner? "
     "known keys: "
     "breakGlassRoleArns, deployRoleArn, githubConnectionArn, previewRoleArn, repository, runner)"),
    ("dev", {"graph": {"licenseAgreement": "eval", "primaries": 2}},
     "Pulumi.dev.yaml: data-platform:graph.primaries: 2 is not allowed "
     "(1 or 3..11: two primaries cannot keep a Raft majority through a loss)"),
    ("staging", {"graph": {"primaries": 3}},
     "Pulumi.staging.yaml: data-platform:graph.licenseAgreement: no is not allowed "
     "(yes or eval: 3 primaries + 2 secondaries need Neo4j Enterprise)"),
    ("staging", {"graph": {"licenseAgreement": "yes"}, "vector": {"peers": 1, "replicationFactor": 1}},
     "Pulumi.staging.yaml: data-platform:vector.peers: 1 is not allowed "
     "(3..50 outside dev: a single peer has no failover)"),
    # production may not weaken safety
    ("production", {"graph": PROD_LICENSE, "postgres": {"multiAz": False}},
     "Pulumi.production.yaml: data-platform:postgres.multiAz: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "postgres": {"deletionProtection": False}},
     "Pulumi.production.yaml: data-platform:postgres.deletionProtection: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "postgres": {"storageEncrypted": False}},
     "Pulumi.production.yaml: data-platform:postgres.storageEncrypted: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "postgres": {"drReplica": False}},
     "Pulumi.production.yaml: data-platform:postgres.drReplica: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "redis": {"transitEncryption": False}},
     "Pulumi.production.yaml: data-platform:redis.transitEncryption: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "redis": {"atRestEncryption": False}},
     "Pulumi.production.yaml: data-platform:redis.atRestEncryption: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "backups": {"crossRegion": False}},
     "Pulumi.production.yaml: data-platform:backups.crossRegion: false is not allowed (true in production)"),
    ("production", {"graph": PROD_LICENSE, "eks": {"endpointPublicAccess": True}},
     "Pulumi.production.yaml: data-platform:eks.endpointPublicAccess: true is not allowed (false in production)"),
    ("production", {"graph": PROD_LICENSE, "network": {"natGateways": "single"}},
     "Pulumi.production.yaml: data-platform:network.natGateways: single is not allowed "
     "(perAz or none in production (one NAT is one AZ's outage))"),
    ("production", {"graph": {"licenseAgreement": "eval"}},
     "Pulumi.production.yaml: data-platform:graph.licenseAgreement: eval is not allowed (yes in production)"),
    ("production", {"graph": PROD_LICENSE, "vector": {"replicationFactor": 1}},
     "Pulumi.production.yaml: data-platform:vector.replicationFactor: 1 is not allowed (2..peers in production)"),
]


@pytest.mark.parametrize(("stack", "sections", "message"), BAD, ids=[m.split(": ", 2)[1] for _, _, m in BAD])
def test_bad_config_is_one_line_naming_file_key_value_and_allowed(stack: str, sections: dict[str, Any],
                                                                   message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(stack, **sections)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_there_are_at_least_twenty_bad_config_cases() -> None:
    assert len(BAD) >= 20


def test_a_three_line_stack_file_works_with_safe_defaults() -> None:
    s = load_settings("dev", {"aws:region": "us-east-1", f"{NS}:environment": "dev"})
    assert s.environment == "dev"
    assert s.postgres.storage_encrypted and s.postgres.deletion_protection and s.postgres.multi_az
    assert s.redis.transit_encryption and s.redis.at_rest_encryption
    assert (s.redis.shards, s.redis.replicas_per_shard) == (3, 1)
    assert s.azs == ("us-east-1a", "us-east-1b", "us-east-1c")


def test_structured_values_arrive_as_json_strings_like_pulumi_config() -> None:
    s = load_settings("dev", {"aws:region": "us-west-2", f"{NS}:drRegion": "us-east-1", f"{NS}:redis": '{"shards": 5}',
                              f"{NS}:environment": "dev"})
    assert s.redis.shards == 5 and s.region == "us-west-2"


def test_an_unstated_environment_is_production_whatever_the_stack_name() -> None:
    """Production rules follow the environment a stack file states, never its name; a stack file that
    states none gets the strictest rules and a note saying so."""
    for stack in ("prod-eu", "feature-x", "dev", "production-euw1"):
        s = load_settings(stack, {"aws:region": "us-east-1", f"{NS}:graph": PROD_LICENSE, f"{NS}:deploy": PROD_DEPLOY})
        assert s.production and not s.environment_stated, stack
    with pytest.raises(ConfigError, match=r"^Pulumi\.feature-x\.yaml: data-platform:postgres\.multiAz: false is not "
                                          r"allowed \(true in production\)$"):
        load_settings("feature-x", {"aws:region": "us-east-1", f"{NS}:postgres": {"multiAz": False},
                                    f"{NS}:graph": PROD_LICENSE, f"{NS}:deploy": PROD_DEPLOY})
    assert _load("feature-x", environment="dev").environment == "dev"
    assert _load("whatever", environment="production", graph=PROD_LICENSE, deploy=PROD_DEPLOY).environment_stated


def test_deploy_rules_follow_the_environment_not_the_stack_name() -> None:
    """A stack named anything is held to the production rules when its environment is production, and a
    stack named prod* that declares another environment is not."""
    with pytest.raises(ConfigError, match=r"deploy\.runner: false is not allowed"):
        _load("whatever", environment="production", graph=PROD_LICENSE)
    staging = _load("prod-copy", environment="staging", graph=PROD_LICENSE)
    assert not staging.production and not staging.deploy.runner
    # production without a store on EKS has no private API to reach: no runner needed
    assert not _load("prod-ec2", graph={**PROD_LICENSE, **EC2}, vector=EC2).deploy.runner


def test_deploy_section_defaults_create_nothing() -> None:
    d = _load("dev").deploy
    assert (d.runner, d.repository, d.github_connection_arn) == (False, None, None)
    assert (d.deploy_role_arn, d.preview_role_arn, d.break_glass_role_arns) == (None, None, ())


def test_tags_become_kebab_case_and_carry_environment() -> None:
    tags = _load("dev", tags={"team": "data", "costCenter": "cc-42"}).resource_tags()
    assert tags["cost-center"] == "cc-42" and tags["team"] == "data" and tags["environment"] == "dev"


def test_secret_webhook_stays_secret() -> None:
    s = _load("dev", alerts={"slackWebhookUrl": "https://hooks.example.com/T000/B000/XXX"})
    assert s.alerts.slack_webhook_url is not None
    assert "XXX" not in repr(s) and "XXX" not in str(s.alerts)
    assert s.alerts.slack_webhook_url.get_secret_value().endswith("/XXX")


@pytest.mark.parametrize("stack", ["dev", "production", "local"])
def test_shipped_stack_files_are_valid(stack: str) -> None:
    s = load_settings(stack, _stack_file(stack))
    assert s.stack == stack


def test_shipped_stacks_deploy_paths() -> None:
    """production (EKS, private endpoint) deploys from the runner with a preview and a break-glass role;
    dev places its stores on EC2 (no EKS) and has no runner."""
    prod = load_settings("production", _stack_file("production"))
    assert prod.uses_eks and not prod.eks.endpoint_public_access
    d = prod.deploy
    assert d.runner and d.repository and d.github_connection_arn
    assert d.preview_role_arn and d.break_glass_role_arns
    assert d.deploy_role_arn is None  # the deploy role created the cluster: EKS made its admin entry
    dev = load_settings("dev", _stack_file("dev"))
    assert not dev.uses_eks and not dev.deploy.runner


def test_production_stack_keeps_every_protection() -> None:
    s = load_settings("production", _stack_file("production"))
    assert s.production and s.protect
    assert s.postgres.multi_az and s.postgres.dr_replica and s.backups.cross_region
    assert s.dr_region == "us-west-2" and s.dr_region != s.region
    assert s.graph.license_agreement == "yes" and (s.graph.primaries, s.graph.secondaries) == (3, 2)


def test_a_region_under_the_project_namespace_points_to_aws_region() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("dev", {"aws:region": "us-east-1", f"{NS}:region": "eu-west-1"})
    assert str(err.value) == ("Pulumi.dev.yaml: data-platform:region: eu-west-1 is not allowed (unknown key; did you "
                              "mean aws:region? the region is a key of the aws namespace)")


def test_a_differently_cased_key_is_suggested_with_its_case() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("dev", {"aws:region": "us-east-1", f"{NS}:postgres": {"multiaz": True}})
    assert "(unknown key; did you mean multiAz? known keys: " in str(err.value)
