"""Every policy: a failing fixture (violation asserted by policy name, level and message text) and a
passing one, sent through the real analyzer (Analyze per resource + AnalyzeStack).

Fixtures are pieces of ``production_like()`` (compliant) and the same pieces with one protection
removed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import policy_fixtures as fx
import pytest

from policies._base import REGISTRY
from policies.catalog import load
from review.analyzer import PolicyAnalyzer

load()
P = fx.production_like()
L = fx.local_like()
R = dict[str, Any]


def pick(name: str, type_: str | None = None, source: Sequence[R] = P) -> R:
    return copy.deepcopy(fx.find(source, name, type_))


def mut(name: str, path: str, value: Any = fx._DELETE, type_: str | None = None, source: Sequence[R] = P) -> R:
    return fx.find(fx.set_input(source, name, path, value, type_), name, type_)


def named(*names: str, source: Sequence[R] = P) -> list[R]:
    return [copy.deepcopy(r) for r in source if r["name"] in names]


def store(s: str, *, drop: Sequence[str] = (), source: Sequence[R] = P) -> list[R]:
    """The resources of one backup store (source and replica buckets), minus some by name."""
    return [copy.deepcopy(r) for r in source
            if r["type"].startswith("aws:s3/") and r["name"].startswith(f"{s}-") and r["name"] not in drop]


RDS = "aws:rds/instance:Instance"
STS = "kubernetes:apps/v1:StatefulSet"
RG = "aws:elasticache/replicationGroup:ReplicationGroup"


# -- declared intent -----------------------------------------------------------------------------------
PG_INTENT = {"intent": {"postgres": {"multiAz": True, "backupRetentionDays": 14, "deletionProtection": True,
                                     "readReplicas": 1}}}
REDIS_INTENT = {"intent": {"redis": {"multiAz": True, "snapshotRetentionDays": 7, "shards": 3,
                                     "replicasPerShard": 1}}}
GRAPH_INTENT = {"intent": {"graph": {"placement": "eks", "primaries": 3, "secondaries": 0}}}
VECTOR_INTENT = {"intent": {"vector": {"placement": "eks", "peers": 3, "replicationFactor": 2,
                                       "writeConsistencyFactor": 1}}}
BACKUP_INTENT = {"intent": {"backups": {"weeklyDays": 30, "monthlyDays": 365}}}


def graph_members(primaries: int) -> list[R]:
    out = []
    for i in range(1, primaries + 1):
        sts = pick("neo4j", STS)
        sts["name"] = f"graph-primary-{i}"
        sts["urn"] = sts["urn"].rsplit("::", 1)[0] + f"::graph-primary-{i}"
        sts["inputs"]["spec"]["replicas"] = 1
        sts["inputs"]["spec"]["template"]["metadata"]["labels"]["graph.data-platform/role"] = "primary"
        out.append(sts)
    return out


def qdrant_config(rf: int) -> R:
    import yaml

    from components.render.qdrant import render_qdrant_config

    doc = yaml.safe_load(render_qdrant_config(replication_factor=rf, peers=3))
    return fx.res("kubernetes:core/v1:ConfigMap", "vector-config", {
        "metadata": {"name": "vector-config", "namespace": "vector"},
        "data": {"production.yaml": yaml.safe_dump(doc), "start.sh": "#!/bin/bash\n"}})


def lifecycle(days: int | None, noncurrent: int) -> list[R]:
    rs = store("graph")
    lc = next(r for r in rs if r["name"] == "graph-backups-lifecycle")
    rule = lc["inputs"]["rules"][0]
    rule["noncurrentVersionExpiration"] = {"noncurrentDays": noncurrent}
    if days is not None:
        rule["expiration"] = {"days": days}
    return rs


def readonly_user(access: str) -> R:
    return fx.res("aws:elasticache/user:User", "redis-readonly-user", {
        "userId": "data-platform-production-readonly-user", "userName": "readonly_user", "engine": "valkey",
        "accessString": access, "tags": fx.tags()})


def tagged_alarm(threshold: float, period: int = 60, periods: int = 5) -> R:
    return fx.res("aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-RedisMemoryHigh-0001-001", {
        "namespace": "AWS/ElastiCache", "metricName": "DatabaseMemoryUsagePercentage", "statistic": "Maximum",
        "period": period, "evaluationPeriods": periods, "datapointsToAlarm": periods, "threshold": threshold,
        "comparisonOperator": "GreaterThanThreshold", "alarmActions": ["arn:aws:sns:us-east-1:1:alarms"],
        "tags": fx.tags(alert="RedisMemoryHigh")})


def connections_alarm(threshold: float, max_connections: int | None) -> list[R]:
    """production_like() with the primary's PostgresConnectionsHigh alarm at ``threshold`` and its parameter
    group's max_connections at ``max_connections`` (None: not set)."""
    rs = fx.set_input(fx.production_like(), "PostgresConnectionsHigh-pg", "threshold", threshold)
    params = fx.find(rs, "pg-params")
    params["inputs"]["parameters"] = [p for p in params["inputs"]["parameters"] if p["name"] != "max_connections"]
    if max_connections is not None:
        params["inputs"]["parameters"].append({"name": "max_connections", "value": str(max_connections)})
    return rs


@dataclass
class Case:
    policy: str
    fail: Callable[[], list[R]]
    expect: str
    passing: Callable[[], list[R]]
    config: dict[str, Any] = field(default_factory=dict)
    id: str = ""


def one(r: Callable[[], R]) -> Callable[[], list[R]]:
    return lambda: [r()]


def network_with_data_subnet_on_public_table() -> list[R]:
    rs = [r for r in copy.deepcopy(P) if r["type"].startswith("aws:ec2/")]
    assoc = fx.find(rs, "data-a", "aws:ec2/routeTableAssociation:RouteTableAssociation")
    assoc["inputs"]["routeTableId"] = "rtb-0public"
    assoc["dependencies"] = sorted([fx.find(rs, "data-a", "aws:ec2/subnet:Subnet")["urn"],
                                    fx.find(rs, "public-rt")["urn"]])
    return rs


def eks_stack(mutate: Callable[[list[R]], list[R]] | None = None) -> list[R]:
    rs = [r for r in copy.deepcopy(P) if r["type"].startswith("kubernetes:")]
    return mutate(rs) if mutate else rs


def irsa(extra_bucket: bool) -> list[R]:
    rs = named("neo4j-irsa", "neo4j-backups")
    if extra_bucket:
        policy = fx.find(rs, "neo4j-backups")
        policy["inputs"]["policy"] = fx.doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [
            "arn:aws:s3:::data-platform-production-graph-backups/*",
            "arn:aws:s3:::data-platform-production-postgres-backups/*"]})
    return rs


def replication_with_source_key() -> list[R]:
    rs = store("postgres")
    rc = fx.find(rs, "postgres-backups-replication")
    rc["inputs"]["rules"][0]["destination"]["encryptionConfiguration"]["replicaKmsKeyId"] = fx.KEY_MAIN
    return rs


def locked_bucket(with_config: bool) -> list[R]:
    rs = store("graph")
    bucket = fx.find(rs, "graph-backups")
    bucket["inputs"]["objectLockEnabled"] = True
    if with_config:
        rs.append(fx.res("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "graph-backups-lock",
                         {"bucket": bucket["inputs"]["bucket"],
                          "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 14}}}, deps=[bucket]))
    return rs


def ec2_instance(**changes: Any) -> R:
    inputs = {"ami": "ami-0abcdef1234567890", "instanceType": "r6i.large", "subnetId": "subnet-0privatea",
              "associatePublicIpAddress": False,
              "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled"},
              "rootBlockDevice": {"encrypted": True, "kmsKeyId": fx.KEY_MAIN, "volumeSize": 50},
              "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True, "kmsKeyId": fx.KEY_MAIN,
                                   "volumeSize": 500}], "tags": fx.tags()}
    for k, v in changes.items():
        if v is None:
            inputs.pop(k, None)
        else:
            inputs[k] = v
    return fx.res("aws:ec2/instance:Instance", "neo4j-host", inputs)


def iam_policy(statement: dict[str, Any]) -> R:
    return fx.res("aws:iam/policy:Policy", "ops-policy", {"policy": fx.doc(statement), "tags": fx.tags()})


def user_attachment() -> R:
    return fx.res("aws:iam/userPolicyAttachment:UserPolicyAttachment", "ops-user",
                  {"user": "ops", "policyArn": f"arn:aws:iam::{fx.ACCOUNT}:policy/ops"})


def role_attachment(arn: str) -> R:
    return fx.res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ops-attach",
                  {"role": "ops", "policyArn": arn})


OK_STATEMENT = {"Effect": "Allow", "Action": ["s3:GetObject"],
                "Resource": "arn:aws:s3:::data-platform-production-graph-backups/*"}


# -- secrets (issue 17) ------------------------------------------------------------------------------

def roles_command(sql: str | None = None) -> R:
    from components.render.postgres_roles import RoleModel, render_roles_sql
    return fx.res("command:local:Command", "postgres-roles-bootstrap",
                  {"create": "psql -f -", "stdin": sql if sql is not None else render_roles_sql(RoleModel())})


def superuser_app_login() -> R:
    from components.render.postgres_roles import RoleModel, render_roles_sql
    sql = render_roles_sql(RoleModel()).replace("GRANT app_role TO app_user;", "ALTER ROLE app_user WITH SUPERUSER;")
    return roles_command(sql)


def owner_app_login() -> R:
    return roles_command("CREATE ROLE app WITH LOGIN PASSWORD :'pw';\nALTER DATABASE app OWNER TO app;\n")


def app_secret(tags: dict[str, str] | None) -> R:
    inputs: dict[str, Any] = {"namePrefix": "data-platform/redis/app_user-", "kmsKeyId": fx.KEY_MAIN}
    if tags is not None:
        inputs["tags"] = fx.tags(**tags)
    return fx.res("aws:secretsmanager/secret:Secret", "redis-app-secret", inputs)


def rotated_secret() -> list[R]:
    secret = app_secret(None)
    rotation = fx.res("aws:secretsmanager/secretRotation:SecretRotation", "redis-app-rotation",
                      {"secretId": secret["urn"], "rotationLambdaArn": "arn:aws:lambda:us-east-1:1:function:rot",
                       "rotationRules": {"automaticallyAfterDays": 30}}, deps=[secret])
    rotation["propertyDependencies"] = {"secretId": [secret["urn"]]}
    return [secret, rotation]


def valkey_admin_user() -> R:
    return fx.res("aws:elasticache/user:User", "redis-app-user",
                  {"userId": "p-app", "userName": "app_user", "engine": "valkey", "accessString": "on ~* +@all"})


def neo4j_users(cypher: str | None = None, *, on: str = "eks") -> R:
    """The Neo4j RBAC bootstrap as the stack carries it: a ConfigMap key (EKS) or a cloud-init file (EC2)."""
    import yaml

    from components.render.neo4j import render_neo4j_users_cypher
    text = cypher if cypher is not None else render_neo4j_users_cypher()
    if on == "eks":
        return fx.res("kubernetes:core/v1:ConfigMap", "graph-users",
                      {"metadata": {"name": "graph-users", "namespace": "graph"}, "data": {"users.cypher": text}})
    user_data = "#cloud-config\n" + yaml.safe_dump({"write_files": [
        {"path": "/etc/data-platform/users.cypher", "permissions": "0644", "content": text}]})
    return fx.res("aws:ec2/instance:Instance", "graph-primary-1",
                  {"instanceType": "r7g.xlarge", "userData": user_data, "tags": fx.tags()})


def neo4j_admin_app_login(on: str = "eks") -> R:
    from components.render.neo4j import render_neo4j_users_cypher
    cypher = render_neo4j_users_cypher().replace("GRANT ROLE editor TO app_user;",
                                                  "GRANT ROLE editor, admin TO app_user;")
    return neo4j_users(cypher, on=on)


REASON = {"rotation-exempt": "rotated by pulumi up: bump rotationGeneration"}


def test_neo4j_operator_logins_agree_between_renderer_and_policy() -> None:
    """The pack keeps its own copy (no component imports); both name admin_user only."""
    from components.render.neo4j import NEO4J_OPERATOR_LOGINS
    from policies.secrets import NEO4J_OPERATOR_LOGINS as POLICY_OPERATOR_LOGINS
    assert NEO4J_OPERATOR_LOGINS == POLICY_OPERATOR_LOGINS == {"admin_user"}

CASES: list[Case] = [
    # -- encryption --------------------------------------------------------------------------------
    Case("rds-storage-encrypted", one(lambda: mut("pg-primary", "storageEncrypted", False)),
         "storageEncrypted is False",
         one(lambda: pick("pg-primary"))),
    Case("rds-storage-encrypted", one(lambda: mut("pg-dr-replica", "kmsKeyId")), "kmsKeyId is not set",
         one(lambda: pick("pg-dr-replica")), id="dr-replica-without-key"),
    Case("rds-performance-insights-encrypted", one(lambda: mut("pg-primary", "performanceInsightsKmsKeyId")),
         "performanceInsightsKmsKeyId is not set", one(lambda: pick("pg-primary"))),
    Case("elasticache-encrypted-at-rest", one(lambda: mut("redis", "atRestEncryptionEnabled", False, RG)),
         "atRestEncryptionEnabled is False", one(lambda: pick("redis", RG))),
    Case("elasticache-encrypted-in-transit", one(lambda: mut("redis", "transitEncryptionEnabled", False, RG)),
         "transitEncryptionEnabled is False", one(lambda: pick("redis", RG))),
    Case("elasticache-encrypted-in-transit", one(lambda: mut("redis", "transitEncryptionMode", "preferred", RG)),
         "transitEncryptionMode is 'preferred'", one(lambda: pick("redis", RG)), id="preferred-mode"),
    Case("elasticache-auth-required", one(lambda: mut("redis", "userGroupIds", [], RG)), "userGroupIds is empty",
         one(lambda: pick("redis", RG))),
    Case("s3-default-encryption-kms",
         one(lambda: mut("postgres-backups-sse", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "AES256")),
         "sseAlgorithm is 'AES256'", one(lambda: pick("postgres-backups-sse"))),
    Case("s3-default-encryption-kms",
         lambda: [*fx.access_log_bucket(fx.REGION, pick("backups"), sse="aws:kms"), *store("graph")],
         "an access-log bucket: S3 server access logging delivers only to SSE-S3 buckets",
         lambda: [*fx.access_log_bucket(fx.REGION, pick("backups")), *store("graph")], id="access-log-bucket"),
    Case("s3-bucket-encryption-configured", lambda: store("redis", drop=["redis-backups-sse"]),
         "has no BucketServerSideEncryptionConfiguration", lambda: store("redis")),
    Case("s3-bucket-tls-only", lambda: store("redis", drop=["redis-backups-dr-policy"]), "aws:SecureTransport",
         lambda: store("redis")),
    Case("s3-replication-encrypted",
         one(lambda: mut("postgres-backups-replication", "rules.0.destination.encryptionConfiguration")),
         "destination.encryptionConfiguration.replicaKmsKeyId is not set",
         one(lambda: pick("postgres-backups-replication"))),
    Case("s3-replication-encrypted",
         one(lambda: mut("postgres-backups-replication", "rules.0.sourceSelectionCriteria")),
         "sseKmsEncryptedObjects.status is None", one(lambda: pick("postgres-backups-replication")),
         id="sse-kms-objects-not-replicated"),
    Case("s3-replica-key-in-destination-region", replication_with_source_key,
         "is a key in us-east-1 but the destination bucket", lambda: store("postgres")),
    Case("ebs-encrypted", one(lambda: mut("eks-nodes", "blockDeviceMappings.0.ebs.encrypted", "false")),
         "blockDeviceMappings[0].ebs.encrypted is 'false'", one(lambda: pick("eks-nodes"))),
    Case("ebs-encrypted", one(lambda: ec2_instance(rootBlockDevice=None)), "rootBlockDevice is not set",
         one(ec2_instance), id="instance-root-volume"),
    Case("ebs-encrypted", one(lambda: fx.res("aws:ebs/volume:Volume", "neo4j-data", {
        "availabilityZone": "us-east-1a", "size": 500, "type": "gp3", "encrypted": True, "tags": fx.tags()})),
         "kmsKeyId is not set", one(lambda: fx.res("aws:ebs/volume:Volume", "neo4j-data", {
             "availabilityZone": "us-east-1a", "size": 500, "type": "gp3", "encrypted": True, "kmsKeyId": fx.KEY_MAIN,
             "tags": fx.tags()})), id="volume-cmk"),
    Case("eks-secrets-encrypted", one(lambda: mut("eks", "encryptionConfig", type_="aws:eks/cluster:Cluster")),
         "encryptionConfig.resources does not contain 'secrets'", one(lambda: pick("eks", "aws:eks/cluster:Cluster"))),
    Case("sns-topic-encrypted", one(lambda: mut("alarms", "kmsMasterKeyId", type_="aws:sns/topic:Topic")),
         "kmsMasterKeyId is not set", one(lambda: pick("alarms", "aws:sns/topic:Topic"))),
    Case("log-group-encrypted", one(lambda: mut("redis-slow-log", "kmsKeyId")), "kmsKeyId is not set",
         one(lambda: pick("redis-slow-log"))),
    Case("secret-encrypted-cmk", one(lambda: mut("pg-app-credentials", "kmsKeyId")), "aws/secretsmanager",
         one(lambda: pick("pg-app-credentials"))),
    Case("kms-key-in-resource-region", one(lambda: mut("pg-dr-replica", "kmsKeyId", fx.KEY_MAIN)),
         "kmsKeyId is a key in us-east-1 but aws:rds/instance:Instance::pg-dr-replica is in us-west-2",
         one(lambda: pick("pg-dr-replica"))),
    Case("kms-key-in-resource-region", one(lambda: mut("pg-primary", "kmsKeyId", fx.KEY_DR)),
         "is in us-east-1 (the stack region)", one(lambda: pick("pg-primary")), id="primary-with-dr-key"),
    # -- network -----------------------------------------------------------------------------------
    Case("rds-not-publicly-accessible", one(lambda: mut("pg-primary", "publiclyAccessible", True)),
         "publiclyAccessible is true", one(lambda: pick("pg-primary"))),
    Case("elasticache-custom-subnet-group", one(lambda: mut("redis", "subnetGroupName", type_=RG)),
         "subnetGroupName is None", one(lambda: pick("redis", RG))),
    Case("instance-no-public-ip", one(lambda: mut("eks-nodes", "networkInterfaces.0.associatePublicIpAddress", "true")),
         "networkInterfaces[0].associatePublicIpAddress is true", one(lambda: pick("eks-nodes"))),
    Case("instance-no-public-ip", one(lambda: ec2_instance(associatePublicIpAddress=True)),
         "associatePublicIpAddress is true", one(ec2_instance), id="instance"),
    Case("imdsv2-required", one(lambda: mut("eks-nodes", "metadataOptions.httpTokens", "optional")),
         "metadataOptions.httpTokens is 'optional'", one(lambda: pick("eks-nodes"))),
    Case("imdsv2-required", one(lambda: ec2_instance(metadataOptions={"httpTokens": "optional"})),
         "IMDSv1", one(ec2_instance), id="instance"),
    Case("security-group-no-world-ingress", one(lambda: mut("redis-sg", "ingress.0.cidrBlocks", ["0.0.0.0/0"])),
         "ingress[0].cidrBlocks contains 0.0.0.0/0 on aws:ec2/securityGroup:SecurityGroup::redis-sg for port 6379: "
         "exposes 6379 (Redis/Valkey)", one(lambda: pick("redis-sg"))),
    Case("security-group-no-world-ingress",
         one(lambda: fx.find(fx.redis_open_to_world(P), "redis-debug")), "cidrBlocks contains 0.0.0.0/0",
         one(lambda: pick("redis-from-private")), id="security-group-rule"),
    Case("security-group-no-world-ingress",
         one(lambda: fx.find(fx.set_input(fx.set_input(P, "pg-from-private", "cidrIpv4"), "pg-from-private",
                                          "cidrIpv6", "::/0"), "pg-from-private")),
         "cidrIpv6 contains ::/0", one(lambda: pick("pg-from-private")), id="vpc-ingress-rule-ipv6"),
    Case("security-group-no-world-ingress",
         one(lambda: fx.res("aws:ec2/securityGroup:SecurityGroup", "debug", {"ingress": [
             {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]})),
         "all ports: exposes 5432 (PostgreSQL), 6379 (Redis/Valkey), 7687 (Neo4j Bolt), 7474 (Neo4j HTTP), "
         "6333 (Qdrant HTTP), 6334 (Qdrant gRPC)",
         one(lambda: fx.res("aws:ec2/securityGroup:SecurityGroup", "debug", {"ingress": [
             {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.40.0.0/16"]}]})), id="all-ports"),
    Case("eks-endpoint-private-in-production",
         one(lambda: mut("eks", "vpcConfig.endpointPublicAccess", True, "aws:eks/cluster:Cluster")),
         "vpcConfig.endpointPublicAccess is true on production cluster",
         lambda: [pick("eks", "aws:eks/cluster:Cluster"),
                  {**mut("eks", "vpcConfig.endpointPublicAccess", True, "aws:eks/cluster:Cluster"),
                   "urn": fx.urn("aws:eks/cluster:Cluster", "eks", stack="dev"),
                   "inputs": {**mut("eks", "vpcConfig.endpointPublicAccess", True, "aws:eks/cluster:Cluster")["inputs"],
                              "tags": fx.tags(environment="dev")}}]),
    Case("subnet-public-ip-only-public-tier", one(lambda: mut("data-a", "mapPublicIpOnLaunch", True,
                                                             "aws:ec2/subnet:Subnet")),
         "mapPublicIpOnLaunch is true", lambda: named("data-a", "public-a")),
    Case("data-subnet-no-internet-route", network_with_data_subnet_on_public_table,
         "data subnet aws:ec2/subnet:Subnet::data-a is associated",
         lambda: [r for r in copy.deepcopy(P) if r["type"].startswith("aws:ec2/")]),
    Case("vpc-default-security-group-closed", lambda: named("vpc"), "has no DefaultSecurityGroup resource",
         lambda: named("vpc", "vpc-default-sg")),
    Case("vpc-default-security-group-closed",
         lambda: [pick("vpc"), mut("vpc-default-sg", "ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                                                   "self": True}])],
         "ingress of aws:ec2/defaultSecurityGroup:DefaultSecurityGroup::vpc-default-sg are not empty",
         lambda: named("vpc", "vpc-default-sg"), id="rules"),
    Case("s3-bucket-policy-not-public", one(lambda: mut("graph-backups-policy", "policy", fx.doc(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}))),
         "allows principal '*' without a condition", one(lambda: pick("graph-backups-policy"))),
    Case("sns-topic-policy-not-public", one(lambda: mut("alarms-policy", "policy", fx.doc(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*"}))),
         "anyone could publish", lambda: named("alarms-policy", "alarms")),
    # -- resilience --------------------------------------------------------------------------------
    Case("rds-multi-az", one(lambda: mut("pg-primary", "multiAz", False)), "multiAz is False",
         lambda: [pick("pg-primary"), pick("pg-replica-1")]),
    Case("rds-backup-retention", one(lambda: mut("pg-primary", "backupRetentionPeriod", 3)),
         "backupRetentionPeriod is 3", lambda: [pick("pg-primary"), pick("pg-replica-1")]),
    Case("rds-deletion-protection", one(lambda: mut("pg-primary", "deletionProtection", False)),
         "deletionProtection is False", one(lambda: pick("pg-primary"))),
    Case("rds-final-snapshot", one(lambda: mut("pg-primary", "skipFinalSnapshot", True)), "skipFinalSnapshot is true",
         lambda: [pick("pg-primary"), pick("pg-replica-1")]),
    Case("rds-final-snapshot", one(lambda: mut("pg-primary", "finalSnapshotIdentifier")),
         "finalSnapshotIdentifier is not set", one(lambda: pick("pg-primary")), id="no-identifier"),
    Case("rds-copy-tags-to-snapshot", one(lambda: mut("pg-primary", "copyTagsToSnapshot", False)),
         "copyTagsToSnapshot is False", one(lambda: pick("pg-primary"))),
    Case("rds-auto-minor-version-upgrade", one(lambda: mut("pg-primary", "autoMinorVersionUpgrade", False)),
         "autoMinorVersionUpgrade is false", one(lambda: pick("pg-primary"))),
    Case("rds-backups-replicated", lambda: named("pg-primary"), "has no InstanceAutomatedBackupsReplication",
         lambda: named("pg-primary", "pg-backups-dr")),
    Case("rds-backups-replicated", lambda: [pick("pg-primary"), mut("pg-backups-dr", "kmsKeyId")],
         "kmsKeyId is not set on aws:rds/instanceAutomatedBackupsReplication",
         lambda: named("pg-primary", "pg-backups-dr"),
         id="replication-without-key"),
    Case("elasticache-automatic-failover", one(lambda: mut("redis", "automaticFailoverEnabled", False, RG)),
         "automaticFailoverEnabled is False", one(lambda: pick("redis", RG))),
    Case("elasticache-automatic-failover", one(lambda: mut("redis", "multiAzEnabled", False, RG)),
         "multiAzEnabled is False", one(lambda: pick("redis", RG)), id="multi-az"),
    Case("elasticache-snapshot-retention", one(lambda: mut("redis", "snapshotRetentionLimit", 0, RG)),
         "snapshotRetentionLimit is 0", one(lambda: pick("redis", RG))),
    Case("elasticache-auto-minor-version-upgrade", one(lambda: mut("redis", "autoMinorVersionUpgrade", False, RG)),
         "autoMinorVersionUpgrade is false", one(lambda: pick("redis", RG))),
    Case("s3-bucket-versioning",
         lambda: [*store("vector", drop=["vector-backups-versioning"])], "has no BucketVersioning",
         lambda: store("vector")),
    Case("s3-bucket-versioning",
         lambda: [*store("vector", drop=["vector-backups-versioning"]),
                  mut("vector-backups-versioning", "versioningConfiguration.status", "Suspended")],
         "status is 'Suspended'", lambda: store("vector"), id="suspended"),
    Case("s3-bucket-lifecycle", lambda: store("vector", drop=["vector-backups-dr-lifecycle"]),
         "has no BucketLifecycleConfiguration", lambda: store("vector")),
    Case("s3-bucket-lifecycle",
         lambda: [*store("vector", drop=["vector-backups-lifecycle"]),
                  mut("vector-backups-lifecycle", "rules.0.abortIncompleteMultipartUpload")],
         "abortIncompleteMultipartUpload", lambda: store("vector"), id="abort-multipart"),
    Case("s3-bucket-replication", lambda: store("graph", drop=["graph-backups-replication"]),
         "has no BucketReplicationConfig", lambda: store("graph")),
    Case("s3-bucket-replication", lambda: fx.access_log_bucket(fx.REGION, pick("backups")),
         "bucket aws:s3/bucket:Bucket::access-logs has no BucketReplicationConfig",
         lambda: [*fx.access_log_bucket(fx.REGION, pick("backups")), *store("graph")], id="log-target-exempt"),
    Case("s3-bucket-public-access-block", lambda: fx.bucket_without_public_access_block(store("postgres")),
         "has no BucketPublicAccessBlock", lambda: store("postgres")),
    Case("s3-bucket-public-access-block",
         lambda: [*store("postgres", drop=["postgres-backups-pab"]),
                  mut("postgres-backups-pab", "restrictPublicBuckets", False)],
         "restrictPublicBuckets not true", lambda: store("postgres"), id="flag-off"),
    Case("s3-bucket-owner-enforced", lambda: store("postgres", drop=["postgres-backups-ownership"]),
         "has no BucketOwnershipControls", lambda: store("postgres")),
    Case("s3-object-lock-retention", lambda: locked_bucket(False), "has objectLockEnabled but no",
         lambda: locked_bucket(True)),
    Case("rds-event-subscriptions", lambda: named("pg-primary", "rds-db-instance-events"),
         "sourceType 'db-parameter-group' covers configuration change (RDS.21)",
         lambda: named("pg-primary", "rds-db-instance-events", "rds-db-parameter-group-events")),
    Case("rds-event-subscriptions",
         lambda: [pick("pg-primary"), pick("rds-db-parameter-group-events"),
                  mut("rds-db-instance-events", "eventCategories", ["failure"])],
         "covers configuration change, maintenance (RDS.20)",
         lambda: named("pg-primary", "rds-db-instance-events", "rds-db-parameter-group-events"), id="categories"),
    Case("k8s-statefulset-pdb", lambda: eks_stack(lambda rs: [r for r in rs if r["name"] != "qdrant-pdb"]),
         "StatefulSet kubernetes:apps/v1:StatefulSet::qdrant (namespace data) has no PodDisruptionBudget",
         eks_stack),
    # -- identity ----------------------------------------------------------------------------------
    Case("iam-no-admin-wildcard", one(lambda: iam_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})),
         "allows Action '*' on Resource '*'", one(lambda: iam_policy(OK_STATEMENT))),
    Case("iam-no-admin-wildcard", one(lambda: mut("neo4j-irsa", "inlinePolicies", [
        {"name": "admin", "policy": fx.doc({"Effect": "Allow", "Action": ["*"], "Resource": ["*"]})}])),
         "inlinePolicies[0].policy Statement[0]", one(lambda: pick("neo4j-irsa")), id="role-inline"),
    Case("iam-no-service-wildcard", one(lambda: iam_policy({"Effect": "Allow", "Action": "s3:*",
                                                            "Resource": "arn:aws:s3:::x"})),
         "allows s3:*", one(lambda: iam_policy(OK_STATEMENT))),
    Case("iam-no-decrypt-on-all-keys", one(lambda: iam_policy({"Effect": "Allow", "Action": "kms:Decrypt",
                                                               "Resource": "*"})),
         "kms:Decrypt/ReEncryptFrom on Resource '*'", one(lambda: pick("neo4j-backups"))),
    Case("iam-no-administrator-access",
         one(lambda: role_attachment("arn:aws:iam::aws:policy/AdministratorAccess")),
         "policyArn attaches arn:aws:iam::aws:policy/AdministratorAccess",
         one(lambda: role_attachment("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"))),
    Case("iam-no-user-policies", one(user_attachment), "attaches a policy to an IAM user",
         one(lambda: role_attachment(f"arn:aws:iam::{fx.ACCOUNT}:policy/ops"))),
    Case("iam-trust-no-wildcard-principal",
         one(lambda: mut("eks-node-role", "assumeRolePolicy", fx.doc(
             {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))),
         "lets any principal ('*') assume", one(lambda: pick("eks-node-role"))),
    Case("irsa-role-single-bucket", lambda: irsa(True),
         "can reach data-platform-production-graph-backups, data-platform-production-postgres-backups",
         lambda: irsa(False)),
    Case("kms-key-rotation", one(lambda: mut("data-key", "enableKeyRotation", False)), "enableKeyRotation is False",
         one(lambda: pick("data-key"))),
    Case("kms-key-policy-least-privilege", one(lambda: mut("data-key", "policy", fx.doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{fx.ACCOUNT}:role/app"}, "Action": "kms:*",
         "Resource": "*"}))), "grants kms:* to arn:aws:iam::123456789012:role/app", one(lambda: pick("data-key"))),
    Case("kms-key-policy-least-privilege", one(lambda: fx.res("aws:kms/keyPolicy:KeyPolicy", "data-key-policy", {
        "keyId": "1111aaaa", "policy": fx.doc({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
                                               "Resource": "*"})})),
         "allows principal '*' without a condition",
         one(lambda: fx.res("aws:kms/keyPolicy:KeyPolicy", "data-key-policy",
                            {"keyId": "1111aaaa", "policy": fx.key_policy()})),
         id="key-policy-resource"),
    Case("rds-iam-authentication", one(lambda: mut("pg-primary", "iamDatabaseAuthenticationEnabled", False)),
         "iamDatabaseAuthenticationEnabled is False", one(lambda: pick("pg-primary"))),
    Case("rds-custom-master-username", one(lambda: mut("pg-primary", "username", "postgres")),
         "username is 'postgres'", one(lambda: pick("pg-primary"))),
    Case("rds-non-default-port", one(lambda: mut("pg-primary", "port", 5432)), "port is 5432",
         one(lambda: pick("pg-primary"))),
    # -- logging / monitoring ----------------------------------------------------------------------
    Case("rds-log-exports", one(lambda: mut("pg-primary", "enabledCloudwatchLogsExports", ["upgrade"])),
         "enabledCloudwatchLogsExports is ['upgrade']", one(lambda: pick("pg-primary"))),
    Case("rds-enhanced-monitoring", one(lambda: mut("pg-primary", "monitoringInterval", 0)), "monitoringInterval is 0",
         one(lambda: pick("pg-primary"))),
    Case("rds-performance-insights", one(lambda: mut("pg-primary", "performanceInsightsEnabled", False)),
         "performanceInsightsEnabled is False", one(lambda: pick("pg-primary"))),
    Case("elasticache-log-delivery", one(lambda: mut("redis", "logDeliveryConfigurations", [], RG)),
         "logDeliveryConfigurations has no slow-log or engine-log", one(lambda: pick("redis", RG))),
    Case("vpc-flow-logs", lambda: named("vpc"), "VPC aws:ec2/vpc:Vpc::vpc has no FlowLog",
         lambda: named("vpc", "vpc-flow-log")),
    Case("eks-control-plane-logging",
         one(lambda: mut("eks", "enabledClusterLogTypes", ["api"], "aws:eks/cluster:Cluster")),
         "enabledClusterLogTypes lacks audit, authenticator, controllerManager, scheduler",
         one(lambda: pick("eks", "aws:eks/cluster:Cluster"))),
    Case("eks-supported-version", one(lambda: mut("eks", "version", "1.27", "aws:eks/cluster:Cluster")),
         "version is '1.27'", one(lambda: pick("eks", "aws:eks/cluster:Cluster"))),
    Case("alarm-has-actions", one(lambda: mut("pg-cpuutilization", "actionsEnabled", False)), "actionsEnabled is false",
         one(lambda: pick("pg-cpuutilization"))),
    Case("alarm-has-actions", one(lambda: mut("pg-cpuutilization", "alarmActions", [])), "alarmActions is empty",
         one(lambda: pick("pg-cpuutilization")), id="no-actions"),
    Case("log-group-retention", one(lambda: mut("redis-slow-log", "retentionInDays", 30)), "retentionInDays is 30",
         one(lambda: pick("redis-slow-log"))),
    Case("s3-bucket-access-logging", lambda: store("graph", drop=["graph-backups-logging"]), "has no BucketLogging",
         lambda: store("graph")),
    # The access-log bucket is exempt (it would log its own deliveries) only while a BucketLogging targets it.
    Case("s3-bucket-access-logging", lambda: fx.access_log_bucket(fx.REGION, pick("backups")),
         "bucket aws:s3/bucket:Bucket::access-logs has no BucketLogging",
         lambda: [*fx.access_log_bucket(fx.REGION, pick("backups")), *store("graph")], id="log-target-exempt"),
    # -- tagging -----------------------------------------------------------------------------------
    Case("required-tags", one(lambda: mut("pg-primary", "tags.cost-center")), "tags lacks cost-center",
         one(lambda: pick("pg-primary"))),
    Case("required-tags", one(lambda: mut("vpc", "tags")), "tags lacks team, environment, cost-center",
         lambda: [pick("vpc"), pick("pg-backups-dr")], id="taggable-without-tags"),
    # -- kubernetes --------------------------------------------------------------------------------
    Case("k8s-run-as-non-root", lambda: fx.pod_as_root([pick("neo4j", STS)]),
         "spec.template.spec.containers[0].securityContext.runAsUser is 0", one(lambda: pick("neo4j", STS))),
    Case("k8s-no-privileged",
         one(lambda: mut("qdrant", "spec.template.spec.containers.0.securityContext.privileged", True, STS)),
         "containers[0].securityContext.privileged is true", one(lambda: pick("qdrant", STS))),
    Case("k8s-no-privilege-escalation",
         one(lambda: mut("qdrant", "spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation",
                         type_=STS)),
         "allowPrivilegeEscalation is None", one(lambda: pick("qdrant", STS))),
    Case("k8s-no-host-access", one(lambda: mut("qdrant", "spec.template.spec.hostNetwork", True, STS)),
         "spec.template.spec.hostNetwork is true", one(lambda: pick("qdrant", STS))),
    Case("k8s-no-host-access", one(lambda: mut("qdrant", "spec.template.spec.volumes",
                                               [{"name": "host", "hostPath": {"path": "/var/lib"}}], STS)),
         "spec.template.spec.volumes[0].hostPath ('/var/lib')", one(lambda: pick("qdrant", STS)), id="host-path"),
    Case("k8s-resource-limits",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.resources.limits", type_=STS)),
         "resources lacks limits.memory", one(lambda: pick("neo4j", STS))),
    Case("k8s-read-only-root-filesystem",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem", False,
                         STS)),
         "readOnlyRootFilesystem is False", one(lambda: pick("neo4j", STS))),
    Case("k8s-image-pinned", one(lambda: mut("neo4j", "spec.template.spec.containers.0.image", "neo4j:latest", STS)),
         "image 'neo4j:latest' uses the tag 'latest'", one(lambda: pick("neo4j", STS))),
    Case("k8s-network-policy", lambda: eks_stack(lambda rs: [r for r in rs if r["name"] != "neo4j-netpol"]),
         "namespace data runs StatefulSet kubernetes:apps/v1:StatefulSet::neo4j but no NetworkPolicy", eks_stack),
    Case("k8s-encrypted-storage-class",
         lambda: eks_stack(lambda rs: fx.set_input(rs, "gp3-encrypted", "parameters.encrypted", "false")),
         "StorageClass without parameters.encrypted 'true'", eks_stack),
    Case("k8s-encrypted-storage-class",
         lambda: eks_stack(lambda rs: fx.set_input(
             rs, "neo4j", "spec.volumeClaimTemplates.0.spec.storageClassName", type_=STS)),
         "spec.volumeClaimTemplates[0].spec.storageClassName is not set", eks_stack, id="default-class"),
    Case("k8s-seccomp-runtime-default",
         one(lambda: mut("neo4j", "spec.template.spec.securityContext.seccompProfile", type_=STS)),
         "spec.template.spec.securityContext.seccompProfile.type is not set (the container runs Unconfined)",
         one(lambda: pick("neo4j", STS))),
    Case("k8s-seccomp-runtime-default",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.securityContext.seccompProfile",
                         {"type": "Unconfined"}, STS)),
         "spec.template.spec.containers[0].securityContext.seccompProfile.type is 'Unconfined'",
         one(lambda: pick("neo4j", STS)), id="container-unconfined"),
    Case("k8s-no-service-account-token",
         one(lambda: mut("neo4j", "spec.template.spec.automountServiceAccountToken", type_=STS)),
         "spec.template.spec.automountServiceAccountToken is not set (Kubernetes defaults to true)",
         one(lambda: pick("neo4j", STS))),
    # A pod that calls the API says why; the token is then expected.
    Case("k8s-no-service-account-token",
         one(lambda: mut("neo4j", "spec.template.spec.automountServiceAccountToken", True, STS)),
         "automountServiceAccountToken is True",
         one(lambda: fx.find(fx.set_input(fx.set_input(P, "neo4j", "spec.template.spec.automountServiceAccountToken",
                                                       True, STS),
                                          "neo4j", "spec.template.metadata.annotations",
                                          {"data-platform/kubernetes-api": "leader election (Lease objects)"}, STS),
                             "neo4j", STS)), id="api-with-reason"),
    Case("k8s-secrets-as-files",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.env", [
             {"name": "NEO4J_AUTH", "valueFrom": {"secretKeyRef": {"name": "graph-auth", "key": "NEO4J_AUTH"}}}], STS)),
         "env[0] ('NEO4J_AUTH') on kubernetes:apps/v1:StatefulSet::neo4j takes Secret 'graph-auth'",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.env", [
             {"name": "NEO4J_AUTH_PATH", "value": "/var/run/secrets/neo4j/NEO4J_AUTH"}], STS))),
    Case("k8s-secrets-as-files",
         one(lambda: mut("neo4j", "spec.template.spec.containers.0.envFrom", [{"secretRef": {"name": "s3-keys"}}],
                         STS)),
         "envFrom[0] on kubernetes:apps/v1:StatefulSet::neo4j exports Secret 's3-keys'",
         one(lambda: pick("neo4j", STS)), id="env-from"),
    # -- declared intent ---------------------------------------------------------------------------
    Case("intent-postgres", lambda: [mut("pg-primary", "multiAz", False), pick("pg-replica-1")],
         "multiAz is False on aws:rds/instance:Instance::pg-primary, but the stack declares postgres.multiAz: true",
         lambda: named("pg-primary", "pg-replica-1"), config=PG_INTENT),
    Case("intent-postgres", lambda: [mut("pg-primary", "backupRetentionPeriod", 7), pick("pg-replica-1")],
         "backupRetentionPeriod is 7 on aws:rds/instance:Instance::pg-primary, below the declared "
         "postgres.backupRetentionDays 14", lambda: named("pg-primary", "pg-replica-1"), config=PG_INTENT,
         id="retention"),
    Case("intent-postgres", lambda: [pick("pg-primary")], "the stack declares 1 read replica(s) but the program "
         "creates 0", lambda: named("pg-primary", "pg-replica-1"), config=PG_INTENT, id="replicas"),
    Case("intent-redis", one(lambda: mut("redis", "snapshotRetentionLimit", 1, RG)),
         "snapshotRetentionLimit is 1 on aws:elasticache/replicationGroup:ReplicationGroup::redis, below the "
         "declared redis.snapshotRetentionDays 7", one(lambda: pick("redis", RG)), config=REDIS_INTENT),
    Case("intent-redis", one(lambda: mut("redis", "multiAzEnabled", False, RG)),
         "multiAzEnabled is False", one(lambda: pick("redis", RG)), config=REDIS_INTENT, id="multi-az"),
    Case("intent-graph-topology", lambda: graph_members(1),
         "the stack declares graph.primaries=3 but the program runs 1 Neo4j primaries", lambda: graph_members(3),
         config=GRAPH_INTENT),
    Case("intent-vector-replication", one(lambda: qdrant_config(1)),
         "storage.collection.replication_factor is 1 in production.yaml of "
         "kubernetes:core/v1:ConfigMap::vector-config, below the declared vector.replicationFactor 2",
         one(lambda: qdrant_config(2)), config=VECTOR_INTENT),
    Case("intent-vector-replication", one(lambda: mut("qdrant", "spec.replicas", 2, STS)),
         "spec.replicas is 2 on kubernetes:apps/v1:StatefulSet::qdrant, below the declared vector.peers 3",
         one(lambda: pick("qdrant", STS)), config=VECTOR_INTENT, id="peers"),
    Case("intent-backup-lifecycle", lambda: lifecycle(90, 30),
         "rules[0].expiration.days is 90 on aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration::"
         "graph-backups-lifecycle (bucket aws:s3/bucket:Bucket::graph-backups), shorter than the declared "
         "backups.monthlyDays 365", lambda: lifecycle(365, 30), config=BACKUP_INTENT),
    Case("intent-backup-lifecycle", lambda: lifecycle(None, 7),
         "noncurrentVersionExpiration.noncurrentDays is 7", lambda: lifecycle(None, 30), config=BACKUP_INTENT,
         id="noncurrent"),
    Case("alarm-baseline", one(lambda: tagged_alarm(95)),
         "threshold is 95 on aws:cloudwatch/metricAlarm:MetricAlarm::alarms-RedisMemoryHigh-0001-001 (alert "
         "RedisMemoryHigh, GreaterThanThreshold), looser than the baseline 90", one(lambda: tagged_alarm(90))),
    Case("alarm-baseline", lambda: connections_alarm(400, 200),
         "threshold is 400 on aws:cloudwatch/metricAlarm:MetricAlarm::PostgresConnectionsHigh-pg "
         "(alert PostgresConnectionsHigh, GreaterThanThreshold), looser than the baseline 160",
         lambda: connections_alarm(800, 1000), id="percent-of-max-connections"),
    Case("alarm-baseline", lambda: connections_alarm(400, None),
         "must fire at 80 % of max_connections, and no parameter group of the instance in its dimensions sets "
         "max_connections", lambda: connections_alarm(160, 200), id="max-connections-unknown"),
    Case("alarm-baseline", one(lambda: tagged_alarm(90, period=300)),
         "period × evaluationPeriods is 1500s", one(lambda: tagged_alarm(85, period=60, periods=3)), id="window"),
    Case("elasticache-readonly-user-read-only", one(lambda: readonly_user("on ~* -@all +@read +@connection +@write")),
         "accessString of read-only user 'readonly_user' on aws:elasticache/user:User::redis-readonly-user grants "
         "+@write", one(lambda: readonly_user("on ~* -@all +@read +@connection +cluster|slots +readonly"))),
    Case("elasticache-readonly-user-read-only", one(lambda: readonly_user("on ~* -@all +@read +del +flushall")),
         "grants +del, +flushall", one(lambda: readonly_user("on ~* +@all -@write -@scripting -@dangerous")),
         id="commands"),
    # -- docker ------------------------------------------------------------------------------------
    Case("docker-ports-loopback", one(lambda: mut("postgres", "ports.0.ip", "0.0.0.0", source=L)),
         "ports[0].ip is '0.0.0.0'", one(lambda: pick("postgres", source=L))),
    Case("docker-ports-loopback", one(lambda: mut("valkey", "ports.0.ip", source=L)),
         "ports[0].ip is not set (Docker binds 0.0.0.0) on docker:index/container:Container::valkey for internal "
         "port 6379", one(lambda: pick("valkey", source=L)), id="ip-unset"),
    Case("docker-image-pinned", one(lambda: mut("qdrant-image", "name", "qdrant/qdrant", source=L)),
         "name 'qdrant/qdrant' has no tag", one(lambda: pick("qdrant-image", source=L))),
    Case("docker-image-pinned", one(lambda: mut("neo4j", "image", "neo4j:latest", source=L)),
         "image 'neo4j:latest' uses the tag 'latest'", one(lambda: pick("neo4j", source=L)), id="container-latest"),
    # -- secrets -----------------------------------------------------------------------------------
    Case("db-login-least-privilege", one(superuser_app_login), "login app_user is given SUPERUSER",
         one(roles_command)),
    Case("db-login-least-privilege", one(owner_app_login), "login app is made an owner (OWNER TO app)",
         one(roles_command), id="owner"),
    Case("db-login-least-privilege", one(valkey_admin_user), "ElastiCache user app_user",
         one(lambda: pick("redis-app", "aws:elasticache/user:User")), id="valkey"),
    Case("db-login-least-privilege", one(neo4j_admin_app_login),
         "data.users.cypher of kubernetes:core/v1:ConfigMap::graph-users: login app_user is granted the Neo4j role "
         "admin", one(neo4j_users), id="neo4j-eks"),
    Case("db-login-least-privilege", one(lambda: neo4j_admin_app_login("ec2")),
         "userData /etc/data-platform/users.cypher of aws:ec2/instance:Instance::graph-primary-1: login app_user is "
         "granted the Neo4j role admin", one(lambda: neo4j_users(on="ec2")), id="neo4j-ec2"),
    Case("db-login-least-privilege", one(lambda: neo4j_users("GRANT ROLE admin TO readonly_user;\n")),
         "login readonly_user is granted the Neo4j role admin",
         one(lambda: neo4j_users("GRANT ROLE admin TO admin_user;\n")),
         id="neo4j-readonly"),
    Case("secret-rotation-or-exemption", one(lambda: app_secret(None)), "it has no rotation",
         one(lambda: app_secret(REASON))),
    Case("secret-rotation-or-exemption", one(lambda: app_secret({"rotation-exempt": "true"})),
         "its rotation-exempt tag 'true' gives no reason", rotated_secret, id="bare-tag"),
]
TESTED_ELSEWHERE = {"monthly-budget": "test_policy_budget.py (needs the cost model and a budget config)",
                    **{p.meta.name: "test_policy_deployability.py (recorded defects of main)" for p in REGISTRY
                       if p.meta.concern == "deployability"}}


META = {p.meta.name: p.meta for p in REGISTRY}


def _ids(c: Case) -> str:
    return f"{c.policy}-{c.id}" if c.id else c.policy


def run(pa: PolicyAnalyzer, resources: list[R], policy: str) -> list[Any]:
    return [v for v in pa.analyze_all(resources) if v.policy == policy]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_fails(pa: PolicyAnalyzer, case: Case) -> None:
    if case.config:
        pa.configure({case.policy: case.config}, common={"region": "us-east-1"})
    found = run(pa, case.fail(), case.policy)
    assert found, f"{case.policy} reported nothing for its failing fixture"
    assert any(case.expect in v.message for v in found), [v.message for v in found]
    # Nothing tells the pack the fixtures' environment: unknown is held to the production level.
    assert {v.level for v in found} == {META[case.policy].effective_production_level}


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_passes(pa: PolicyAnalyzer, case: Case) -> None:
    if case.config:
        pa.configure({case.policy: case.config}, common={"region": "us-east-1"})
    found = run(pa, case.passing(), case.policy)
    assert not found, [v.message for v in found]


def test_every_policy_has_cases() -> None:
    names = {p.meta.name for p in REGISTRY}
    covered = {c.policy for c in CASES} | set(TESTED_ELSEWHERE)
    assert names - covered == set()
    assert covered - names == set()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_message_names_property_and_fix(pa: PolicyAnalyzer, case: Case) -> None:
    """Messages say what is wrong on which resource and how to fix it."""
    for v in run(pa, case.fail(), case.policy):
        if pa.info().policy(case.policy).kind == "resource":
            assert v.urn, v
        assert any(w in v.message for w in ("Set ", "set ", "Use ", "use ", "Add ", "add ", "Create ", "create ",
                                            "Remove ", "remove ", "Replace", "pin ", "Scope", "scope", "name the",
                                            "list the", "attach", "Allow", "grant", "associate", "enable",
                                            "drop it", "Name the", "replicate", "Replicate", "Give", "Shrink",
                                            "Leave", "Grant", "Adopt", "upgrade", "Pin ")), v.message


# -- every pod-template kind ---------------------------------------------------------------------------
# The pod-security rules read the pod template wherever the kind keeps it: a failing and a passing
# fixture per rule and per kind (the neo4j StatefulSet's template, re-housed).

KIND_TEMPLATE: dict[str, tuple[str, tuple[str, ...]]] = {
    "Pod": ("kubernetes:core/v1:Pod", ()),
    "Deployment": ("kubernetes:apps/v1:Deployment", ("spec", "template")),
    "StatefulSet": (STS, ("spec", "template")),
    "DaemonSet": ("kubernetes:apps/v1:DaemonSet", ("spec", "template")),
    "Job": ("kubernetes:batch/v1:Job", ("spec", "template")),
    "CronJob": ("kubernetes:batch/v1:CronJob", ("spec", "jobTemplate", "spec", "template")),
}


def workload(kind: str, mutate: Callable[[dict[str, Any]], None] | None = None) -> R:
    """The neo4j pod template as a ``kind`` (``mutate`` edits the template: ``metadata`` + ``spec``)."""
    template = copy.deepcopy(pick("neo4j", STS)["inputs"]["spec"]["template"])
    if mutate:
        mutate(template)
    type_, path = KIND_TEMPLATE[kind]
    if not path:
        inputs: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {**template["metadata"], "name": "neo4j-pod", "namespace": "data"},
                                  "spec": template["spec"]}
    else:
        inputs = {"metadata": {"name": f"neo4j-{kind.lower()}", "namespace": "data"}}
        node = inputs
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = template
        if kind == "CronJob":
            inputs["spec"]["schedule"] = "0 2 * * *"
    return fx.res(type_, f"neo4j-{kind.lower()}", inputs)


def _c0(t: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = t["spec"]["containers"][0]
    return c


def _init_without_cpu(t: dict[str, Any]) -> None:
    init = copy.deepcopy(_c0(t))
    init["name"] = "init"
    del init["resources"]["requests"]["cpu"]
    t["spec"]["initContainers"] = [init]


POD_RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("k8s-run-as-non-root", lambda t: _c0(t)["securityContext"].update(runAsUser=0, runAsNonRoot=False),
     "containers[0].securityContext.runAsUser is 0"),
    ("k8s-no-privileged", lambda t: _c0(t)["securityContext"].update(privileged=True),
     "containers[0].securityContext.privileged is true"),
    ("k8s-no-privilege-escalation", lambda t: _c0(t)["securityContext"].pop("allowPrivilegeEscalation"),
     "containers[0].securityContext.allowPrivilegeEscalation is None"),
    ("k8s-no-host-access", lambda t: t["spec"].update(hostPID=True), "hostPID is true"),
    ("k8s-resource-limits", _init_without_cpu, "initContainers[0].resources lacks requests.cpu"),
    ("k8s-read-only-root-filesystem", lambda t: _c0(t)["securityContext"].update(readOnlyRootFilesystem=False),
     "containers[0].securityContext.readOnlyRootFilesystem is False"),
    ("k8s-image-pinned", lambda t: _c0(t).update(image="neo4j:latest"), "containers[0].image 'neo4j:latest'"),
    ("k8s-seccomp-runtime-default", lambda t: t["spec"]["securityContext"].pop("seccompProfile"),
     "securityContext.seccompProfile.type is not set"),
    ("k8s-no-service-account-token", lambda t: t["spec"].pop("automountServiceAccountToken"),
     "automountServiceAccountToken is not set"),
    ("k8s-secrets-as-files", lambda t: _c0(t).update(env=[{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {
        "secretKeyRef": {"name": "s3", "key": "secret"}}}]), "containers[0].env[0] ('AWS_SECRET_ACCESS_KEY')"),
]
KIND_CASES = [(kind, rule, mutate, expect) for kind in KIND_TEMPLATE for rule, mutate, expect in POD_RULES]


def _spec_prefix(kind: str) -> str:
    path = KIND_TEMPLATE[kind][1]
    return ".".join((*path, "spec")) if path else "spec"


@pytest.mark.parametrize(("kind", "rule", "mutate", "expect"), KIND_CASES,
                         ids=[f"{k}-{r}" for k, r, _, _ in KIND_CASES])
def test_pod_rule_on_every_kind(pa: PolicyAnalyzer, kind: str, rule: str,
                                mutate: Callable[[dict[str, Any]], None], expect: str) -> None:
    found = run(pa, [workload(kind, mutate)], rule)
    assert found, f"{rule} reported nothing for a {kind}"
    assert any(expect in v.message and f"{_spec_prefix(kind)}." in v.message for v in found), \
        [v.message for v in found]
    assert all(v.urn.endswith(f"::neo4j-{kind.lower()}") for v in found)
    assert run(pa, [workload(kind)], rule) == []


def test_every_pod_rule_covers_every_kind() -> None:
    from policies.kubernetes import WORKLOADS

    assert {t for t, _ in KIND_TEMPLATE.values()} == set(WORKLOADS)
    pod_rules = {p.meta.name for p in REGISTRY
                 if p.check.__module__ == "policies.kubernetes" and set(p.meta.types) == set(WORKLOADS)}
    assert pod_rules == {r for r, _, _ in POD_RULES}
