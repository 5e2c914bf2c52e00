"""Recorded-resource fixtures (review/schema.json shape) for the policy tests.

``production_like()`` is a compliant production stack (us-east-1 with a us-west-2 DR region):
network, KMS keys per region, RDS primary + replica + DR replica with replicated backups,
ElastiCache Valkey in cluster mode, four backup buckets replicated to the DR region, EKS with
Neo4j/Qdrant StatefulSets, alarms, logs and IAM. ``local_like()`` is the Docker local stack.
Mutators return modified deep copies: ``set_input(resources, "pg-primary", "storageEncrypted", False)``.

Inputs use pulumi-aws 7 camelCase names (checked against the installed SDK's ``*Args`` in
tests/policies/test_fixtures_schema.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

PROJECT = "data-platform"
ACCOUNT = "123456789012"
REGION = "us-east-1"
DR_REGION = "us-west-2"
TAGS = {"team": "data", "environment": "production", "cost-center": "cc-4711"}
COMMON = {"region": REGION}
"""Pack-wide settings the review passes (``PolicyAnalyzer.configure(..., common=COMMON)``) to every
policy that declares them."""

Resource = dict[str, Any]


def urn(type_: str, name: str, *, parent: str | None = None, stack: str = "production") -> str:
    chain = type_
    if parent:
        chain = parent.split("::")[2] + "$" + type_
    return f"urn:pulumi:{stack}::{PROJECT}::{chain}::{name}"


def res(type_: str, name: str, inputs: Mapping[str, Any] | None = None, *, parent: Resource | None = None,
        deps: Iterable[Resource] = (), prop_deps: Mapping[str, Sequence[Resource]] | None = None,
        custom: bool = True, protect: bool = False, stack: str = "production") -> Resource:
    """One recorded resource."""
    parent_urn = parent["urn"] if parent else None
    r: Resource = {
        "urn": urn(type_, name, parent=parent_urn, stack=stack),
        "type": type_,
        "name": name,
        "custom": custom,
        "parent": parent_urn,
        "inputs": dict(inputs or {}),
        "protect": protect,
        "retainOnDelete": False,
        "provider": None,
        "dependencies": sorted({d["urn"] for d in deps}),
    }
    if prop_deps:
        r["propertyDependencies"] = {k: [d["urn"] for d in v] for k, v in prop_deps.items()}
    return r


def component(token: str, name: str, *, stack: str = "production") -> Resource:
    return res(token, name, custom=False, stack=stack)


def kms_arn(region: str, key: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key}"


def tags(**extra: str) -> dict[str, str]:
    return {**TAGS, **extra}


def doc(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# -- pieces of the production stack ------------------------------------------------------------------------

KEY_MAIN = kms_arn(REGION, "1111aaaa-0000-4000-8000-000000000001")
KEY_DR = kms_arn(DR_REGION, "2222bbbb-0000-4000-8000-000000000002")


def key_policy() -> str:
    return doc(
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"},
    )


def network(stack: list[Resource]) -> dict[str, Resource]:
    net = component("data-platform:aws:Network", "network")
    vpc = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.40.0.0/16", "enableDnsHostnames": True,
                                         "enableDnsSupport": True, "tags": tags(Name="data-platform")}, parent=net)
    igw = res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-0a1b2c3d", "tags": tags()},
              parent=net, deps=[vpc])
    public_rt = res("aws:ec2/routeTable:RouteTable", "public-rt", {"vpcId": "vpc-0a1b2c3d", "tags": tags()},
                    parent=net, deps=[vpc])
    private_rt = res("aws:ec2/routeTable:RouteTable", "private-rt", {"vpcId": "vpc-0a1b2c3d", "tags": tags()},
                     parent=net, deps=[vpc])
    public_route = res("aws:ec2/route:Route", "public-default",
                       {"routeTableId": "rtb-0public", "destinationCidrBlock": "0.0.0.0/0",
                        "gatewayId": "igw-0a1b2c3d"}, parent=net, deps=[public_rt, igw])
    public_sn = res("aws:ec2/subnet:Subnet", "public-a",
                    {"vpcId": "vpc-0a1b2c3d", "cidrBlock": "10.40.0.0/24", "availabilityZone": "us-east-1a",
                     "mapPublicIpOnLaunch": True, "tags": tags(tier="public")}, parent=net, deps=[vpc])
    eip = res("aws:ec2/eip:Eip", "nat-eip", {"domain": "vpc", "tags": tags()}, parent=net)
    nat = res("aws:ec2/natGateway:NatGateway", "nat",
              {"subnetId": "subnet-0public", "allocationId": "eipalloc-0nat", "tags": tags()},
              parent=net, deps=[public_sn, eip])
    private_route = res("aws:ec2/route:Route", "private-default",
                        {"routeTableId": "rtb-0private", "destinationCidrBlock": "0.0.0.0/0",
                         "natGatewayId": "nat-0a1b2c3d"}, parent=net, deps=[private_rt, nat])
    out = {"component": net, "vpc": vpc, "igw": igw, "public_rt": public_rt, "private_rt": private_rt,
           "public_route": public_route, "public_sn": public_sn, "eip": eip, "nat": nat,
           "private_route": private_route}
    out["public_assoc"] = res("aws:ec2/routeTableAssociation:RouteTableAssociation", "public-a",
                              {"subnetId": "subnet-0public", "routeTableId": "rtb-0public"},
                              parent=net, deps=[public_sn, public_rt])
    for az in ("a", "b"):
        for tier, cidr in (("private", 10), ("data", 20)):
            sn = res("aws:ec2/subnet:Subnet", f"{tier}-{az}",
                     {"vpcId": "vpc-0a1b2c3d", "cidrBlock": f"10.40.{cidr + (az == 'b')}.0/24",
                      "availabilityZone": f"us-east-1{az}", "mapPublicIpOnLaunch": False,
                      "tags": tags(tier=tier)}, parent=net, deps=[vpc])
            out[f"{tier}_{az}"] = sn
            out[f"{tier}_{az}_assoc"] = res(
                "aws:ec2/routeTableAssociation:RouteTableAssociation", f"{tier}-{az}",
                {"subnetId": f"subnet-0{tier}{az}", "routeTableId": "rtb-0private"},
                parent=net, deps=[sn, private_rt])
    logs = res("aws:cloudwatch/logGroup:LogGroup", "vpc-flow-logs",
               {"name": "/data-platform/production/vpc-flow-logs", "retentionInDays": 365, "kmsKeyId": KEY_MAIN,
                "tags": tags()}, parent=net)
    out["default_sg"] = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "vpc-default-sg",
                            {"vpcId": "vpc-0a1b2c3d", "tags": tags()}, parent=net, deps=[vpc])
    out["flow_log_group"] = logs
    out["flow_log"] = res("aws:ec2/flowLog:FlowLog", "vpc-flow-log",
                          {"vpcId": "vpc-0a1b2c3d", "trafficType": "ALL", "logDestinationType": "cloud-watch-logs",
                           "logDestination": "arn:aws:logs:us-east-1:123456789012:log-group:/vpc",
                           "iamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/flow-logs", "tags": tags()},
                          parent=net, deps=[vpc, logs])
    stack.extend(out.values())
    return out


def sg(name: str, port: int, parent: Resource, vpc: Resource, clients: str = "sg-0eksnodes") -> list[Resource]:
    group = res("aws:ec2/securityGroup:SecurityGroup", f"{name}-sg",
                {"vpcId": "vpc-0a1b2c3d", "description": f"{name} clients only",
                 "ingress": [{"protocol": "tcp", "fromPort": port, "toPort": port, "securityGroups": [clients],
                              "description": "from EKS nodes"}],
                 "egress": [], "tags": tags()}, parent=parent, deps=[vpc])
    rule = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"{name}-from-private",
               {"securityGroupId": f"sg-0{name}", "ipProtocol": "tcp", "fromPort": port, "toPort": port,
                "cidrIpv4": "10.40.10.0/23", "description": "from private subnets", "tags": tags()},
               parent=parent, deps=[group])
    return [group, rule]


def keys(stack: list[Resource]) -> dict[str, Resource]:
    comp = component("data-platform:aws:Keys", "keys")
    main = res("aws:kms/key:Key", "data-key", {"description": "data-platform data at rest",
                                               "enableKeyRotation": True, "deletionWindowInDays": 30,
                                               "policy": key_policy(), "tags": tags()}, parent=comp, protect=True)
    dr = res("aws:kms/key:Key", "data-key-dr", {"description": "data-platform DR region", "enableKeyRotation": True,
                                                "deletionWindowInDays": 30, "policy": key_policy(),
                                                "region": DR_REGION, "tags": tags()}, parent=comp, protect=True)
    stack.extend([comp, main, dr])
    return {"main": main, "dr": dr}


def postgres(stack: list[Resource], net: dict[str, Resource], k: dict[str, Resource]) -> dict[str, Resource]:
    comp = component("data-platform:aws:Postgres", "postgres")
    subnet_group = res("aws:rds/subnetGroup:SubnetGroup", "pg-subnets",
                       {"subnetIds": ["subnet-0dataa", "subnet-0datab"], "tags": tags()},
                       parent=comp, deps=[net["data_a"], net["data_b"]])
    params = res("aws:rds/parameterGroup:ParameterGroup", "pg-params",
                 {"name": "pg-params", "family": "postgres16",
                  "parameters": [{"name": "rds.force_ssl", "value": "1"},
                                 {"name": "log_min_duration_statement", "value": "500"},
                                 {"name": "max_connections", "value": "500"}],
                  "tags": tags()}, parent=comp)
    secgroup = sg("pg", 5433, comp, net["vpc"])
    common = {
        "instanceClass": "db.r6g.large", "engine": "postgres", "engineVersion": "16.4",
        "storageEncrypted": True, "kmsKeyId": KEY_MAIN, "publiclyAccessible": False,
        "vpcSecurityGroupIds": ["sg-0pg"], "port": 5433, "deletionProtection": True,
        "copyTagsToSnapshot": True, "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "monitoringInterval": 60, "monitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring",
        "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY_MAIN,
        "iamDatabaseAuthenticationEnabled": True, "autoMinorVersionUpgrade": True, "tags": tags(),
    }
    primary = res("aws:rds/instance:Instance", "pg-primary", {
        **common, "identifier": "data-platform-production-pg", "allocatedStorage": 200, "storageType": "gp3",
        "multiAz": True, "dbSubnetGroupName": "pg-subnets", "parameterGroupName": "pg-params",
        "username": "platform_admin", "manageMasterUserPassword": True, "masterUserSecretKmsKeyId": KEY_MAIN,
        "backupRetentionPeriod": 14, "backupWindow": "03:00-04:00", "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "data-platform-production-pg-final",
    }, parent=comp, deps=[subnet_group, params, secgroup[0], k["main"]], protect=True)
    replica = res("aws:rds/instance:Instance", "pg-replica-1", {
        **common, "identifier": "data-platform-production-pg-r1",
        "replicateSourceDb": "data-platform-production-pg", "backupRetentionPeriod": 0, "skipFinalSnapshot": True,
    }, parent=comp, deps=[primary, secgroup[0], k["main"]])
    dr_replica = res("aws:rds/instance:Instance", "pg-dr-replica", {
        **common, "identifier": "data-platform-production-pg-dr", "region": DR_REGION,
        "replicateSourceDb": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:data-platform-production-pg",
        "kmsKeyId": KEY_DR, "performanceInsightsKmsKeyId": KEY_DR, "vpcSecurityGroupIds": ["sg-0pgdr"],
        "backupRetentionPeriod": 7, "skipFinalSnapshot": True,
    }, parent=comp, deps=[primary, k["dr"]])
    backups = res("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
                  "pg-backups-dr",
                  {"sourceDbInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:data-platform-production-pg",
                                    "kmsKeyId": KEY_DR, "retentionPeriod": 14, "region": DR_REGION},
                  parent=comp, deps=[primary, k["dr"]])
    secret = res("aws:secretsmanager/secret:Secret", "pg-app-credentials",
                 {"name": "data-platform/production/pg/app", "kmsKeyId": KEY_MAIN, "recoveryWindowInDays": 30,
                  "tags": tags(**{"rotation-exempt": "rotated by pulumi up: the roles bootstrap re-applies it"})},
                 parent=comp, deps=[k["main"]], protect=True)
    parts = {"component": comp, "subnet_group": subnet_group, "params": params, "sg": secgroup[0],
             "sg_rule": secgroup[1], "primary": primary, "replica": replica, "dr_replica": dr_replica,
             "backups": backups, "secret": secret}
    stack.extend(parts.values())
    return parts


def redis(stack: list[Resource], net: dict[str, Resource], k: dict[str, Resource]) -> dict[str, Resource]:
    comp = component("data-platform:aws:Redis", "redis")
    subnets = res("aws:elasticache/subnetGroup:SubnetGroup", "redis-subnets",
                  {"subnetIds": ["subnet-0dataa", "subnet-0datab"], "tags": tags()},
                  parent=comp, deps=[net["data_a"], net["data_b"]])
    user = res("aws:elasticache/user:User", "redis-app",
               {"userId": "app", "userName": "app", "engine": "valkey", "accessString": "on ~* +@all -@dangerous",
                "authenticationMode": {"type": "iam"}, "tags": tags()}, parent=comp)
    group = res("aws:elasticache/userGroup:UserGroup", "redis-users",
                {"userGroupId": "data-platform-production", "engine": "valkey", "userIds": ["default-off", "app"],
                 "tags": tags()}, parent=comp, deps=[user])
    slow = res("aws:cloudwatch/logGroup:LogGroup", "redis-slow-log",
               {"name": "/data-platform/production/redis/slow", "retentionInDays": 365, "kmsKeyId": KEY_MAIN,
                "tags": tags()}, parent=comp)
    secgroup = sg("redis", 6379, comp, net["vpc"])
    rg = res("aws:elasticache/replicationGroup:ReplicationGroup", "redis", {
        "replicationGroupId": "data-platform-production", "description": "Valkey cluster mode",
        "engine": "valkey", "engineVersion": "8.0", "nodeType": "cache.r7g.large", "clusterMode": "enabled",
        "numNodeGroups": 3, "replicasPerNodeGroup": 1, "automaticFailoverEnabled": True, "multiAzEnabled": True,
        "atRestEncryptionEnabled": True, "kmsKeyId": KEY_MAIN, "transitEncryptionEnabled": True,
        "transitEncryptionMode": "required", "userGroupIds": ["data-platform-production"],
        "subnetGroupName": "redis-subnets", "securityGroupIds": ["sg-0redis"], "snapshotRetentionLimit": 7,
        "snapshotWindow": "04:00-05:00", "autoMinorVersionUpgrade": True, "port": 6379,
        "logDeliveryConfigurations": [
            {"destination": "/data-platform/production/redis/slow", "destinationType": "cloudwatch-logs",
             "logFormat": "json", "logType": "slow-log"},
            {"destination": "/data-platform/production/redis/slow", "destinationType": "cloudwatch-logs",
             "logFormat": "json", "logType": "engine-log"}],
        "tags": tags(),
    }, parent=comp, deps=[subnets, group, slow, secgroup[0], k["main"]])
    parts = {"component": comp, "subnets": subnets, "user": user, "group": group, "slow": slow,
             "sg": secgroup[0], "sg_rule": secgroup[1], "rg": rg}
    stack.extend(parts.values())
    return parts


def bucket_policy(name: str) -> str:
    return doc({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})


def bucket_set(store: str, region: str, key: str, parent: Resource,
               replica_of: tuple[Resource, str] | None = None) -> list[Resource]:
    """A bucket with every side resource; replica buckets carry no replication of their own."""
    suffix = "-dr" if region != REGION else ""
    name = f"data-platform-production-{store}-backups{suffix}"
    region_input = {"region": region} if region != REGION else {}
    bucket = res("aws:s3/bucket:Bucket", f"{store}-backups{suffix}",
                 {"bucket": name, "forceDestroy": False, "tags": tags(store=store), **region_input}, parent=parent)
    side: list[Resource] = [
        res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{store}-backups{suffix}-sse",
            {"bucket": name, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                               "kmsMasterKeyId": key},
                                        "bucketKeyEnabled": True}], **region_input}, parent=parent, deps=[bucket]),
        res("aws:s3/bucketVersioning:BucketVersioning", f"{store}-backups{suffix}-versioning",
            {"bucket": name, "versioningConfiguration": {"status": "Enabled"}, **region_input},
            parent=parent, deps=[bucket]),
        res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{store}-backups{suffix}-lifecycle",
            {"bucket": name, "rules": [{"id": "expire-noncurrent", "status": "Enabled", "filter": {},
                                        "expiration": {"days": 365},
                                        "noncurrentVersionExpiration": {"noncurrentDays": 35},
                                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 2}}],
             **region_input}, parent=parent, deps=[bucket]),
        res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{store}-backups{suffix}-pab",
            {"bucket": name, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
             "restrictPublicBuckets": True, **region_input}, parent=parent, deps=[bucket]),
        res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{store}-backups{suffix}-ownership",
            {"bucket": name, "rule": {"objectOwnership": "BucketOwnerEnforced"}, **region_input},
            parent=parent, deps=[bucket]),
        res("aws:s3/bucketPolicy:BucketPolicy", f"{store}-backups{suffix}-policy",
            {"bucket": name, "policy": bucket_policy(name), **region_input}, parent=parent, deps=[bucket]),
        res("aws:s3/bucketLogging:BucketLogging", f"{store}-backups{suffix}-logging",
            {"bucket": name, "targetBucket": f"data-platform-production-access-logs{suffix}",
             "targetPrefix": f"{store}/", **region_input}, parent=parent, deps=[bucket]),
    ]
    out = [bucket, *side]
    if replica_of is not None:
        dest, dest_name = replica_of
        out.append(res(
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig", f"{store}-backups-replication",
            {"bucket": name, "role": f"arn:aws:iam::{ACCOUNT}:role/s3-replication",
             "rules": [{"id": "to-dr", "status": "Enabled", "filter": {"prefix": ""},
                        "deleteMarkerReplication": {"status": "Enabled"},
                        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                        "destination": {"bucket": f"arn:aws:s3:::{dest_name}", "storageClass": "STANDARD_IA",
                                        "encryptionConfiguration": {"replicaKmsKeyId": KEY_DR}}}]},
            parent=parent, deps=[bucket, dest, *side[1:2]]))
    return out


def access_log_bucket(region: str, parent: Resource, sse: str = "AES256") -> list[Resource]:
    """The region's access-log bucket: SSE-S3 (S3 logging delivers to nothing else), locked down, expiring."""
    suffix = "-dr" if region != REGION else ""
    name = f"data-platform-production-access-logs{suffix}"
    region_input = {"region": region} if region != REGION else {}
    bucket = res("aws:s3/bucket:Bucket", f"access-logs{suffix}",
                 {"bucket": name, "forceDestroy": False, "tags": tags(role="access-logs"), **region_input},
                 parent=parent)
    return [bucket, *[res(t, f"access-logs{suffix}-{kind}", {"bucket": name, **inputs, **region_input},
                          parent=parent, deps=[bucket]) for kind, t, inputs in (
        ("sse", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
         {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}}]}),
        ("versioning", "aws:s3/bucketVersioning:BucketVersioning", {"versioningConfiguration": {"status": "Enabled"}}),
        ("lifecycle", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
         {"rules": [{"id": "expire-access-logs", "status": "Enabled", "filter": {}, "expiration": {"days": 365},
                     "noncurrentVersionExpiration": {"noncurrentDays": 30},
                     "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]}),
        ("pab", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
         {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}),
        ("ownership", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
         {"rule": {"objectOwnership": "BucketOwnerEnforced"}}),
        ("policy", "aws:s3/bucketPolicy:BucketPolicy", {"policy": bucket_policy(name)}),
    )]]


def backups(stack: list[Resource]) -> dict[str, list[Resource]]:
    comp = component("data-platform:aws:Backups", "backups")
    stack.append(comp)
    for region in (REGION, DR_REGION):
        stack.extend(access_log_bucket(region, comp))
    out: dict[str, list[Resource]] = {}
    for store in ("postgres", "redis", "graph", "vector"):
        replica = bucket_set(store, DR_REGION, KEY_DR, comp)
        source = bucket_set(store, REGION, KEY_MAIN, comp,
                            replica_of=(replica[0], replica[0]["inputs"]["bucket"]))
        out[store] = source + replica
        stack.extend(out[store])
    return out


def irsa_role(name: str, bucket: str, parent: Resource, oidc: Resource) -> list[Resource]:
    trust = doc({"Effect": "Allow",
                 "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1."
                                            "amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"},
                 "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringEquals": {
                     "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub":
                         f"system:serviceaccount:data:{name}"}}})
    role = res("aws:iam/role:Role", f"{name}-irsa", {"assumeRolePolicy": trust, "tags": tags()},
               parent=parent, deps=[oidc])
    policy = res("aws:iam/rolePolicy:RolePolicy", f"{name}-backups", {
        "role": f"{name}-irsa-1a2b3c",
        "policy": doc({"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
                       "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
                      {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                       "Resource": KEY_MAIN})}, parent=parent, deps=[role])
    return [role, policy]


def container(name: str, image: str, port: int, uid: int) -> dict[str, Any]:
    return {
        "name": name, "image": image, "ports": [{"containerPort": port, "name": "main"}],
        "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }


def statefulset(name: str, image: str, port: int, uid: int, parent: Resource, sc: Resource) -> list[Resource]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "data-platform"}
    sts = res("kubernetes:apps/v1:StatefulSet", name, {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "data", "labels": labels},
        "spec": {"serviceName": name, "replicas": 3, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": name, "automountServiceAccountToken": False,
                                       "securityContext": {"runAsNonRoot": True, "fsGroup": uid,
                                                           "seccompProfile": {"type": "RuntimeDefault"}},
                                       "containers": [container(name, image, port, uid)]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "storageClassName": "gp3-encrypted",
                                                    "resources": {"requests": {"storage": "100Gi"}}}}]},
    }, parent=parent, deps=[sc])
    pdb = res("kubernetes:policy/v1:PodDisruptionBudget", f"{name}-pdb", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "data"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}}, parent=parent)
    netpol = res("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{name}-netpol", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "data"},
        "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"data-platform/client": "true"}}}],
                              "ports": [{"port": port, "protocol": "TCP"}]}]}}, parent=parent)
    return [sts, pdb, netpol]


def eks(stack: list[Resource], net: dict[str, Resource], k: dict[str, Resource],
        buckets: dict[str, list[Resource]]) -> dict[str, Resource]:
    comp = component("data-platform:aws:Eks", "eks")
    log_group = res("aws:cloudwatch/logGroup:LogGroup", "eks-cluster-logs",
                    {"name": "/aws/eks/data-platform-production/cluster", "retentionInDays": 365,
                     "kmsKeyId": KEY_MAIN, "tags": tags()}, parent=comp)
    cluster_role = res("aws:iam/role:Role", "eks-cluster-role", {
        "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                                 "Action": "sts:AssumeRole"}),
        "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"], "tags": tags()}, parent=comp)
    cluster = res("aws:eks/cluster:Cluster", "eks", {
        "name": "data-platform-production", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-role",
        "version": "1.31",
        "vpcConfig": {"subnetIds": ["subnet-0privatea", "subnet-0privateb"], "endpointPrivateAccess": True,
                      "endpointPublicAccess": False},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_MAIN}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        "accessConfig": {"authenticationMode": "API"}, "tags": tags(),
    }, parent=comp, deps=[cluster_role, log_group, k["main"], net["private_a"], net["private_b"]])
    lt = res("aws:ec2/launchTemplate:LaunchTemplate", "eks-nodes", {
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY_MAIN,
                                                                    "volumeSize": 100, "volumeType": "gp3"}}],
        "networkInterfaces": [{"associatePublicIpAddress": "false", "securityGroups": ["sg-0eksnodes"]}],
        "tags": tags(),
    }, parent=comp, deps=[k["main"]])
    node_role = res("aws:iam/role:Role", "eks-node-role", {
        "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                 "Action": "sts:AssumeRole"}),
        "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                              "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"], "tags": tags()},
        parent=comp)
    nodes = res("aws:eks/nodeGroup:NodeGroup", "data-nodes", {
        "clusterName": "data-platform-production", "nodeRoleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-node-role",
        "subnetIds": ["subnet-0privatea", "subnet-0privateb"],
        "scalingConfig": {"desiredSize": 3, "minSize": 3, "maxSize": 6}, "instanceTypes": ["r6g.xlarge"],
        "launchTemplate": {"id": "lt-0eksnodes", "version": "1"}, "tags": tags(),
    }, parent=comp, deps=[cluster, lt, node_role])
    oidc = res("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "eks-oidc", {
        "url": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        "clientIdLists": ["sts.amazonaws.com"], "tags": tags()}, parent=comp, deps=[cluster])
    sc = res("kubernetes:storage.k8s.io/v1:StorageClass", "gp3-encrypted", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3-encrypted"},
        "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY_MAIN}}, parent=comp, deps=[cluster])
    graph_bucket = buckets["graph"][0]["inputs"]["bucket"]
    vector_bucket = buckets["vector"][0]["inputs"]["bucket"]
    parts = {"component": comp, "log_group": log_group, "cluster_role": cluster_role, "cluster": cluster,
             "launch_template": lt, "node_role": node_role, "nodes": nodes, "oidc": oidc, "storage_class": sc}
    stack.extend(parts.values())
    for r in (*irsa_role("neo4j", graph_bucket, comp, oidc), *irsa_role("qdrant", vector_bucket, comp, oidc)):
        parts[r["name"]] = r
        stack.append(r)
    for r in (*statefulset("neo4j", "neo4j:5.26.0-enterprise", 7687, 7474, comp, sc),
              *statefulset("qdrant", "qdrant/qdrant:v1.12.4", 6333, 1000, comp, sc)):
        parts[r["name"]] = r
        stack.append(r)
    return parts


def alarms(stack: list[Resource], pg: dict[str, Resource]) -> dict[str, Resource]:
    comp = component("data-platform:aws:Alarms", "alarms")
    topic = res("aws:sns/topic:Topic", "alarms", {"name": "data-platform-production-alarms",
                                                 "kmsMasterKeyId": KEY_MAIN, "tags": tags()}, parent=comp)
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:data-platform-production-alarms"
    out = {"component": comp, "topic": topic}
    out["topic_policy"] = res("aws:sns/topicPolicy:TopicPolicy", "alarms-policy", {
        "arn": topic_arn, "policy": doc({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                         "Action": "sns:Publish", "Resource": topic_arn,
                                         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}})},
        parent=comp, deps=[topic])
    for source, categories in (("db-instance", ["maintenance", "configuration change", "failure", "failover"]),
                               ("db-parameter-group", ["configuration change"])):
        out[source] = res("aws:rds/eventSubscription:EventSubscription", f"rds-{source}-events", {
            "snsTopic": topic_arn, "sourceType": source, "eventCategories": categories, "enabled": True,
            "tags": tags()}, parent=comp, deps=[topic])
    for metric, threshold in (("CPUUtilization", 80), ("FreeStorageSpace", 20e9), ("ReplicaLag", 300)):
        out[metric] = res("aws:cloudwatch/metricAlarm:MetricAlarm", f"pg-{metric.lower()}", {
            "namespace": "AWS/RDS", "metricName": metric, "statistic": "Average", "period": 300,
            "evaluationPeriods": 3, "threshold": threshold, "comparisonOperator": "GreaterThanThreshold",
            "dimensions": {"DBInstanceIdentifier": "data-platform-production-pg"},
            "alarmActions": [topic_arn], "okActions": [topic_arn], "tags": tags()},
            parent=comp, deps=[topic, pg["primary"]])
    # One alarm per catalogue alert of the stores present (production requires each: alarm-baseline).
    # Imported here: importing a policy module at fixture import would change the registry's order.
    from policies.monitoring import ALARM_BASELINE

    targets = {"aws:rds/instance:Instance": "pg", "aws:elasticache/replicationGroup:ReplicationGroup": "redis"}
    for alert, want in ALARM_BASELINE.items():
        target = targets.get(str(want["on"]))
        if target is None:  # an alert the baseline requires of no resource type
            continue
        threshold = want["threshold"]
        dimensions = {}
        if want.get("percentOf") == "max_connections":  # 80 % of the primary's max_connections (500)
            threshold, dimensions = 400, {"DBInstanceIdentifier": "data-platform-production-pg"}
        out[alert] = res("aws:cloudwatch/metricAlarm:MetricAlarm", f"{alert}-{target}", {
            "namespace": "AWS/RDS" if target == "pg" else "AWS/ElastiCache", "metricName": alert,
            "statistic": "Average", "period": 300, "evaluationPeriods": int(str(want["window"])) // 300,
            "threshold": threshold, "comparisonOperator": want["comparison"], "dimensions": dimensions,
            "alarmActions": [topic_arn], "okActions": [topic_arn], "tags": tags(alert=alert)},
            parent=comp, deps=[topic])
    stack.extend(out.values())
    return out


def production_like() -> list[Resource]:
    """A compliant production stack (no violation of any policy)."""
    stack: list[Resource] = []
    net = network(stack)
    k = keys(stack)
    pg = postgres(stack, net, k)
    redis(stack, net, k)
    b = backups(stack)
    eks(stack, net, k, b)
    alarms(stack, pg)
    return stack


def local_like() -> list[Resource]:
    """The Docker local stack: loopback ports, pinned images."""
    stack = "dev"
    out: list[Resource] = []
    for name, image, port in (("postgres", "postgres:16.4", 5432), ("valkey", "valkey/valkey:8.0.1", 6379),
                              ("neo4j", "neo4j:5.26.0", 7687), ("qdrant", "qdrant/qdrant:v1.12.4", 6333)):
        img = res("docker:index/remoteImage:RemoteImage", f"{name}-image", {"name": image, "keepLocally": True},
                  stack=stack)
        out.append(img)
        out.append(res("docker:index/container:Container", name, {
            "name": f"data-platform-{name}", "image": f"sha256:{'a' * 64}", "restart": "unless-stopped",
            "ports": [{"internal": port, "external": port, "ip": "127.0.0.1", "protocol": "tcp"}],
        }, stack=stack, deps=[img]))
    return out


# -- mutators -------------------------------------------------------------------------------------------------


def find(resources: Sequence[Resource], name: str, type_: str | None = None) -> Resource:
    hits = [r for r in resources if r["name"] == name and (type_ is None or r["type"] == type_)]
    if len(hits) != 1:
        raise KeyError(f"{name}: {len(hits)} matches")
    return hits[0]


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        target = target[int(p)] if isinstance(target, list) else target.setdefault(p, {})
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        target.pop(last, None)
    else:
        target[last] = value


_DELETE = object()


def set_input(resources: Sequence[Resource], name: str, path: str, value: Any = _DELETE,
              type_: str | None = None) -> list[Resource]:
    """A copy of ``resources`` with ``inputs.<path>`` of resource ``name`` set (or deleted when no
    value is given). ``path`` uses dots, list indexes as numbers: ``ingress.0.cidrBlocks``."""
    out = copy.deepcopy(list(resources))
    _set_path(find(out, name, type_)["inputs"], path, value)
    return out


def without(resources: Sequence[Resource], predicate: Callable[[Resource], bool]) -> list[Resource]:
    return [copy.deepcopy(r) for r in resources if not predicate(r)]


def with_added(resources: Sequence[Resource], *extra: Resource) -> list[Resource]:
    return [*copy.deepcopy(list(resources)), *extra]


# The protections the lead's whole-stack tests remove one at a time: (description, mutate, policy,
# property named in the message). Each leaves every other resource as in production.

def unencrypted_primary(rs: Sequence[Resource]) -> list[Resource]:
    return set_input(rs, "pg-primary", "storageEncrypted", False)


def redis_open_to_world(rs: Sequence[Resource]) -> list[Resource]:
    rule = res("aws:ec2/securityGroupRule:SecurityGroupRule", "redis-debug", {
        "type": "ingress", "securityGroupId": "sg-0redis", "protocol": "tcp", "fromPort": 6379, "toPort": 6379,
        "cidrBlocks": ["0.0.0.0/0"], "description": "debug"}, deps=[find(rs, "redis-sg")])
    return with_added(rs, rule)


def public_primary(rs: Sequence[Resource]) -> list[Resource]:
    return set_input(rs, "pg-primary", "publiclyAccessible", True)


def bucket_without_public_access_block(rs: Sequence[Resource]) -> list[Resource]:
    return without(rs, lambda r: r["name"] == "postgres-backups-pab")


def pod_as_root(rs: Sequence[Resource]) -> list[Resource]:
    out = set_input(rs, "neo4j", "spec.template.spec.containers.0.securityContext.runAsUser", 0,
                    type_="kubernetes:apps/v1:StatefulSet")
    out = set_input(out, "neo4j", "spec.template.spec.containers.0.securityContext.runAsNonRoot", False,
                    type_="kubernetes:apps/v1:StatefulSet")
    return out


PROTECTIONS_REMOVED: tuple[tuple[str, Callable[[Sequence[Resource]], list[Resource]], str, str], ...] = (
    ("storageEncrypted false on the primary", unencrypted_primary, "rds-storage-encrypted", "storageEncrypted"),
    ("SG rule opening 6379 to 0.0.0.0/0", redis_open_to_world, "security-group-no-world-ingress", "6379"),
    ("publiclyAccessible true on the primary", public_primary, "rds-not-publicly-accessible", "publiclyAccessible"),
    ("a bucket without public access block", bucket_without_public_access_block,
     "s3-bucket-public-access-block", "BucketPublicAccessBlock"),
    ("a pod running as root", pod_as_root, "k8s-run-as-non-root", "runAsUser"),
)


# -- deployability: the defects as main records them ---------------------------------------------------------
#
# Pieces of `python -m review --stack production|dev --format json` on main at e7bfcef, before ccefa02
# fixed the replica, key-policy, topic, egress, filter and secret defects (the EC2 and Kubernetes ones
# are still on main at ed7d38d): URNs, parents,
# protect, the propertyDependencies the rules follow and the inputs they read are the recorded ones,
# verbatim (values included: 30.0, '[unknown]'); inputs no deployability rule reads (tags, userData,
# probes, resources, …) are left out. Each builder returns the defect as recorded; the tests mutate it
# into the fixed shape.

MAIN_COMMIT = "e7bfcef"
REC_KEY_RDS = kms_arn(REGION, "f64b2e6f-5ae3-4c63-8aad-5ae3682c1f1b")
REC_KEY_RDS_DR = kms_arn(DR_REGION, "1c5cb77c-9c74-4cd3-8578-9c74b531a682")
REC_KEY_EBS = kms_arn(REGION, "5093c463-f089-4c63-8716-f089d3623d85")
REC_KEY_SNS = kms_arn(REGION, "aa3e926e-6e02-4c63-83a8-6e02db3bcd15")
REC_KEY_SNS_DR = kms_arn(DR_REGION, "d226ea86-860f-4cd3-85b2-860ffc3f5176")
REC_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:data-platform-production-alarms"
REC_TOPIC_DR = f"arn:aws:sns:{DR_REGION}:{ACCOUNT}:data-platform-production-alarms-dr"
SLR_AUTOSCALING = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
                   "AWSServiceRoleForAutoScaling")
_KMS_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
_KMS_GRANTS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]


def _key_doc(purpose: str, *statements: Mapping[str, Any]) -> str:
    """A key policy as components/aws/kms.py renders it (json.dumps, Version/Id/Statement)."""
    return json.dumps({"Version": "2012-10-17", "Id": f"data-platform-{purpose}", "Statement": list(statements)})


def _root() -> dict[str, Any]:
    return {"Sid": "RootAccountAdmin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*", "Resource": "*"}


def _via(service: str, region: str) -> list[dict[str, Any]]:
    name = service.capitalize()
    cond = {"kms:ViaService": f"{service}.{region}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    return [{"Sid": f"UseVia{name}", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": _KMS_USE,
             "Resource": "*", "Condition": {"StringEquals": cond}},
            {"Sid": f"GrantsVia{name}", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": _KMS_GRANTS,
             "Resource": "*", "Condition": {"StringEquals": dict(cond),
                                            "Bool": {"kms:GrantIsForAWSResource": "true"}}}]


def recorded_postgres() -> list[Resource]:
    """production: the primary, the same-region replica and the cross-region DR replica; the DR replica
    leaves storageEncrypted unset."""
    comp = component("data-platform:aws:Postgres", "postgres")
    primary = res("aws:rds/instance:Instance", "postgres-primary", {
        "identifier": "data-platform-production-pg", "engine": "postgres", "instanceClass": "db.r6g.xlarge",
        "storageEncrypted": True, "kmsKeyId": REC_KEY_RDS}, parent=comp, protect=True)
    replica = res("aws:rds/instance:Instance", "postgres-replica-1", {
        "identifier": "data-platform-production-pg-replica-1", "instanceClass": "db.r6g.large",
        "replicateSourceDb": "data-platform-production-pg", "storageEncrypted": True, "kmsKeyId": REC_KEY_RDS},
        parent=comp, protect=True, deps=[primary], prop_deps={"replicateSourceDb": [primary]})
    dr = res("aws:rds/instance:Instance", "postgres-dr-replica", {
        "identifier": "data-platform-production-pg-dr", "instanceClass": "db.r6g.xlarge", "region": DR_REGION,
        "replicateSourceDb": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:data-platform-production-pg",
        "kmsKeyId": REC_KEY_RDS_DR}, parent=comp, protect=True, deps=[primary],
        prop_deps={"replicateSourceDb": [primary]})
    return [comp, primary, replica, dr]


def recorded_graph_member() -> list[Resource]:
    """dev: Neo4j member graph-primary-1 on EC2 (ami resolve:ssm + rootBlockDevice, volumeTags,
    userDataReplaceOnChange) with its data volume attached through a VolumeAttachment."""
    comp = component("data-platform:aws:Graph", "graph", stack="dev")
    sg_ = res("aws:ec2/securityGroup:SecurityGroup", "graph-sg",
              {"description": "Neo4j servers", "vpcId": "vpc-5ce9acb7193cfc6d2"}, parent=comp, stack="dev")
    inst = res("aws:ec2/instance:Instance", "graph-primary-1", {
        "iamInstanceProfile": "graph-profile-403d392f", "instanceType": "m7g.large", "ebsOptimized": True,
        "associatePublicIpAddress": False, "subnetId": "subnet-56d5045a70a9c3581",
        "rootBlockDevice": {"volumeType": "gp3", "kmsKeyId": REC_KEY_EBS, "volumeSize": 30.0, "encrypted": True,
                            "deleteOnTermination": True},
        "vpcSecurityGroupIds": ["sg-94013257461d14c45"],
        "metadataOptions": {"httpEndpoint": "enabled", "httpPutResponseHopLimit": 1.0, "httpTokens": "required"},
        "ami": "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "volumeTags": {"managed-by": "pulumi", "cost-center": "platform", "stack": "dev", "environment": "dev",
                       "member": "primary-1", "Name": "graph-primary-1", "project": "data-platform", "team": "data"},
        "monitoring": True, "userDataReplaceOnChange": True,
    }, parent=comp, deps=[sg_], prop_deps={"vpcSecurityGroupIds": [sg_]}, stack="dev")
    vol = res("aws:ebs/volume:Volume", "graph-primary-1-data", {
        "kmsKeyId": REC_KEY_EBS, "type": "gp3", "size": 50.0, "encrypted": True, "availabilityZone": "us-east-1a",
        "tags": {"managed-by": "pulumi", "cost-center": "platform", "stack": "dev", "environment": "dev",
                 "member": "primary-1", "Name": "graph-primary-1-data", "project": "data-platform", "team": "data"},
    }, parent=comp, stack="dev")
    att = res("aws:ec2/volumeAttachment:VolumeAttachment", "graph-primary-1-data", {
        "stopInstanceBeforeDetaching": True, "volumeId": "vol-6499f24a1545b1da8", "deviceName": "/dev/sdf",
        "instanceId": "i-813fdc619be76f0dd"}, parent=comp, deps=[vol, inst],
        prop_deps={"instanceId": [inst], "volumeId": [vol]}, stack="dev")
    return [comp, sg_, inst, vol, att]


def recorded_app_clients(stack: str = "production") -> list[Resource]:
    """The app-clients group (no egress) that the data stores admit as a source, the PostgreSQL group with
    its two ingress rules (from app-clients, and from the EKS-managed cluster group, which resolves to the
    cluster) and, in dev, the graph group with its egress rule and a rule admitting app-clients."""
    env = stack
    pg_comp = component("data-platform:aws:Postgres", "postgres", stack=stack)
    eks_comp = component("data-platform:aws:EksCluster", "eks", stack=stack)
    cluster = res("aws:eks/cluster:Cluster", "eks-cluster", {"name": f"data-platform-{env}"}, parent=eks_comp,
                  stack=stack)
    clients = res("aws:ec2/securityGroup:SecurityGroup", "app-clients", {
        "namePrefix": f"data-platform-{env}-app-",
        "description": "Application clients of the data stores (attach to app instances and pods)",
        "vpcId": "vpc-5ce9acb7193cfc6d2"}, stack=stack)
    pg_sg = res("aws:ec2/securityGroup:SecurityGroup", "postgres-sg", {
        "name": f"data-platform-{env}-pg",
        "description": f"data-platform-{env} PostgreSQL; ingress only from allow_from() on port 5432",
        "vpcId": "vpc-5ce9acb7193cfc6d2", "revokeRulesOnDelete": True}, parent=pg_comp, stack=stack)
    rule = {"ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "securityGroupId": "sg-c49175cc0cb05cf85"}
    from_clients = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "postgres-allow-app-clients", {
        "description": "app clients", **rule, "referencedSecurityGroupId": "sg-963bde0843df045f5"},
        parent=pg_comp, deps=[clients, pg_sg],
        prop_deps={"referencedSecurityGroupId": [clients], "securityGroupId": [pg_sg]}, stack=stack)
    out = [pg_comp, eks_comp, cluster, clients, pg_sg, from_clients]
    if stack == "production":
        out.append(res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "postgres-allow-eks-pods", {
            "description": "eks pods", **rule, "referencedSecurityGroupId": "sg-e4ff3731a8b24eef0"},
            parent=pg_comp, deps=[cluster, pg_sg],
            prop_deps={"referencedSecurityGroupId": [cluster], "securityGroupId": [pg_sg]}, stack=stack))
    else:
        graph_comp = component("data-platform:aws:Graph", "graph", stack=stack)
        graph_sg = res("aws:ec2/securityGroup:SecurityGroup", "graph-sg",
                       {"description": "Neo4j servers", "vpcId": "vpc-5ce9acb7193cfc6d2"}, parent=graph_comp,
                       stack=stack)
        out += [graph_comp, graph_sg,
                res("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "graph-egress", {
                    "description": "package repositories and AWS APIs (through NAT / VPC endpoints)",
                    "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-94013257461d14c45"},
                    parent=graph_comp, deps=[graph_sg], prop_deps={"securityGroupId": [graph_sg]}, stack=stack),
                res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "graph-from-1-7687", {
                    "description": "application :7687", "ipProtocol": "tcp", "fromPort": 7687.0,
                    "referencedSecurityGroupId": "sg-963bde0843df045f5", "toPort": 7687.0,
                    "securityGroupId": "sg-94013257461d14c45"}, parent=graph_comp, deps=[clients, graph_sg],
                    prop_deps={"referencedSecurityGroupId": [clients], "securityGroupId": [graph_sg]}, stack=stack)]
    return out


def recorded_ebs_key() -> list[Resource]:
    """production: the EBS key whose policy names the Auto Scaling service-linked role (the stack creates no
    aws:iam/serviceLinkedRole)."""
    comp = component("data-platform:aws:Keys", "keys")
    slr_statements = [
        {"Sid": "AutoScalingServiceLinkedRoleUse", "Effect": "Allow", "Principal": {"AWS": SLR_AUTOSCALING},
         "Action": _KMS_USE, "Resource": "*"},
        {"Sid": "AutoScalingServiceLinkedRoleGrants", "Effect": "Allow", "Principal": {"AWS": SLR_AUTOSCALING},
         "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]
    key = res("aws:kms/key:Key", "keys-ebs", {
        "description": "data-platform-production ebs (us-east-1)", "region": REGION,
        "policy": _key_doc("ebs", _root(), *_via("ec2", REGION), *slr_statements)}, parent=comp, protect=True)
    return [comp, key]


def sns_key_doc(region: str, *extra: Mapping[str, Any]) -> str:
    return _key_doc("sns", _root(),
                    {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow",
                     "Principal": {"Service": "cloudwatch.amazonaws.com"},
                     "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
                    *_via("sns", region), *extra)


def topic_policy_doc(topic_arn: str, region: str, rds_source_arns: str | list[str]) -> str:
    """The alarm topic policy as components/aws/alarms.py renders it (json.dumps(sort_keys=True))."""
    def allow(sid: str, service: str, source: str | list[str]) -> dict[str, Any]:
        return {"Action": "sns:Publish",
                "Condition": {"ArnLike": {"aws:SourceArn": source}, "StringEquals": {"aws:SourceAccount": ACCOUNT}},
                "Effect": "Allow", "Principal": {"Service": service}, "Resource": topic_arn, "Sid": sid}
    return json.dumps({"Statement": [
        allow("AllowCloudWatchAlarms", "cloudwatch.amazonaws.com",
              f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:data-platform-production-*"),
        allow("AllowRdsEventNotifications", "events.rds.amazonaws.com", rds_source_arns),
        {"Action": "sns:Publish", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny",
         "Principal": "*", "Resource": topic_arn, "Sid": "DenyInsecureTransport"}],
        "Version": "2012-10-17"}, sort_keys=True)


def recorded_alarms() -> list[Resource]:
    """production us-east-1: the SNS key (CloudWatch may use it, RDS events may not), the encrypted alarm
    topic, its policy (RDS statement conditioned on the event-subscription ARN ``…:es:*``), the two RDS event
    subscriptions and a CloudWatch alarm publishing to it."""
    keys_comp = component("data-platform:aws:Keys", "keys")
    comp = component("data-platform:aws:Alarms", "alarms")
    pg_comp = component("data-platform:aws:Postgres", "postgres")
    primary = res("aws:rds/instance:Instance", "postgres-primary", {
        "identifier": "data-platform-production-pg", "storageEncrypted": True, "kmsKeyId": REC_KEY_RDS},
        parent=pg_comp, protect=True)
    key = res("aws:kms/key:Key", "keys-sns", {"description": "data-platform-production sns (us-east-1)",
                                               "region": REGION, "policy": sns_key_doc(REGION)},
              parent=keys_comp, protect=True)
    topic = res("aws:sns/topic:Topic", "alarms-topic", {"name": "data-platform-production-alarms",
                                                        "kmsMasterKeyId": REC_KEY_SNS},
                parent=comp, deps=[key], prop_deps={"kmsMasterKeyId": [key]})
    policy = res("aws:sns/topicPolicy:TopicPolicy", "alarms-topic-policy", {
        "arn": REC_TOPIC, "policy": topic_policy_doc(REC_TOPIC, REGION, f"arn:aws:rds:{REGION}:{ACCOUNT}:es:*")},
        parent=comp, deps=[topic], prop_deps={"arn": [topic], "policy": [topic]})
    categories = ["availability", "configuration change", "failover", "failure", "low storage", "maintenance"]
    events = res("aws:rds/eventSubscription:EventSubscription", "alarms-rds-events", {
        "name": "data-platform-production-rds-events", "snsTopic": REC_TOPIC, "sourceType": "db-instance",
        "sourceIds": ["data-platform-production-pg", "data-platform-production-pg-replica-1"],
        "eventCategories": categories, "enabled": True}, parent=comp, deps=[topic, policy, primary],
        prop_deps={"snsTopic": [topic], "sourceIds": [primary]})
    pg_events = res("aws:rds/eventSubscription:EventSubscription", "alarms-rds-parameter-group-events", {
        "name": "data-platform-production-rds-parameter-group-events", "snsTopic": REC_TOPIC,
        "sourceType": "db-parameter-group", "eventCategories": ["configuration change"], "enabled": True},
        parent=comp, deps=[topic, policy], prop_deps={"snsTopic": [topic]})
    alarm = res("aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-PostgresCPUHigh-pg-primary", {
        "name": "data-platform-production-PostgresCPUHigh-pg-primary", "namespace": "AWS/RDS",
        "metricName": "CPUUtilization", "alarmActions": [REC_TOPIC], "okActions": [REC_TOPIC]},
        parent=comp, deps=[topic, primary], prop_deps={"alarmActions": [topic], "okActions": [topic]})
    return [keys_comp, comp, pg_comp, primary, key, topic, policy, events, pg_events, alarm]


def _aws_cli_upload() -> dict[str, Any]:
    return {
        "name": "upload", "image": "public.ecr.aws/aws-cli/aws-cli:2.31.0",
        "command": ["bash", "-c",
                    'set -euo pipefail\n: "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}" "${BACKUP_KMS_KEY_ARN:?}"\n'
                    'STAMP="$(cat "/backups/STAMP")"\n'
                    'aws s3 cp --recursive --only-show-errors "/backups/$STAMP" '
                    '"s3://$BACKUP_BUCKET/$BACKUP_PREFIX/$STAMP/" --sse aws:kms --sse-kms-key-id '
                    '"$BACKUP_KMS_KEY_ARN"\nrm -rf "/backups/$STAMP" "/backups/STAMP"\n'],
        "env": [{"value": "data-platform-production-graph-0fae59417879", "name": "BACKUP_BUCKET"},
                {"value": "neo4j", "name": "BACKUP_PREFIX"},
                {"value": kms_arn(REGION, "47f96343-96f7-4c63-85cf-96f71ea32ed3"), "name": "BACKUP_KMS_KEY_ARN"}],
        "securityContext": {"runAsNonRoot": True, "privileged": False, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"mountPath": "/backups", "name": "backups"}],
    }


def recorded_eks_workloads() -> list[Resource]:
    """production: the graph-backup CronJob (aws-cli upload container as uid 7474 without HOME; a 200Gi
    emptyDir; no nodeSelector, so it lands on the untainted system nodes), the vector StatefulSet (a 100Gi
    snapshots emptyDir on the tainted vector nodes), and the system and vector node groups with their
    launch templates (50 GiB root volumes)."""
    eks_comp = component("data-platform:aws:EksCluster", "eks")
    graph_comp = component("data-platform:aws:Graph", "graph")
    vector_comp = component("data-platform:aws:Vector", "vector")
    pod_sc = {"runAsGroup": 7474.0, "fsGroupChangePolicy": "OnRootMismatch",
              "seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 7474.0, "fsGroup": 7474.0,
              "runAsNonRoot": True}
    labels = {"app.kubernetes.io/component": "backup", "app.kubernetes.io/name": "graph-backup"}
    backup = res("kubernetes:batch/v1:CronJob", "graph-backup", {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"namespace": "graph", "name": "graph-backup", "labels": labels},
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {
            "metadata": {"labels": labels},
            "spec": {"securityContext": pod_sc,
                     "initContainers": [{"name": "backup", "image": "neo4j:5.26.12-enterprise",
                                         "volumeMounts": [{"mountPath": "/backups", "name": "backups"}]}],
                     "containers": [_aws_cli_upload()],
                     "volumes": [{"emptyDir": {"sizeLimit": "200Gi"}, "name": "backups"}]}}}}},
    }, parent=graph_comp)
    vlabels = {"app.kubernetes.io/part-of": "data-platform", "app.kubernetes.io/name": "vector"}
    vector = res("kubernetes:apps/v1:StatefulSet", "vector-peers", {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"namespace": "vector", "name": "vector", "labels": vlabels},
        "spec": {"replicas": 3.0, "serviceName": "vector-headless", "selector": {"matchLabels": vlabels},
                 "template": {"metadata": {"labels": vlabels}, "spec": {
                     "nodeSelector": {"workload": "vector"},
                     "tolerations": [{"value": "vector", "key": "workload", "operator": "Equal",
                                      "effect": "NoSchedule"}],
                     "securityContext": {"runAsGroup": 2000.0, "runAsUser": 1000.0, "fsGroup": 3000.0,
                                         "runAsNonRoot": True},
                     "containers": [{"name": "qdrant", "image": "qdrant/qdrant:v1.15.4",
                                     "command": ["/bin/bash", "/qdrant/config/start.sh"],
                                     "volumeMounts": [{"mountPath": "/qdrant/snapshots", "name": "snapshots"},
                                                      {"mountPath": "/qdrant/init", "name": "init"},
                                                      {"mountPath": "/tmp", "name": "tmp"}]}],
                     "volumes": [{"configMap": {"defaultMode": 365.0, "name": "vector-config"}, "name": "config"},
                                 {"emptyDir": {"sizeLimit": "100Gi"}, "name": "snapshots"},
                                 {"emptyDir": {}, "name": "init"}, {"emptyDir": {}, "name": "tmp"}]}}},
    }, parent=vector_comp, protect=True)
    out = [eks_comp, graph_comp, vector_comp, backup, vector]
    for group, lt_id, taints in (("system", "lt-da5b3490d058a39b7", None),
                                 ("vector", "lt-771e9d347a79c1177",
                                  [{"value": "vector", "key": "workload", "effect": "NO_SCHEDULE"}])):
        lt = res("aws:ec2/launchTemplate:LaunchTemplate", f"eks-{group}-lt", {
            "description": f"data-platform-production {group} nodes: IMDSv2 only, encrypted gp3 root",
            "blockDeviceMappings": [{"ebs": {"volumeType": "gp3", "kmsKeyId": REC_KEY_EBS, "volumeSize": 50.0,
                                             "encrypted": "true", "deleteOnTermination": "true"},
                                     "deviceName": "/dev/xvda"}]}, parent=eks_comp)
        inputs: dict[str, Any] = {"nodeGroupName": group, "labels": {"workload": group},
                                  "launchTemplate": {"version": "[unknown]", "id": lt_id}}
        if taints:
            inputs["taints"] = taints
        out += [lt, res("aws:eks/nodeGroup:NodeGroup", f"eks-{group}", inputs, parent=eks_comp, deps=[lt],
                        prop_deps={"launchTemplate": [lt]})]
    return out


def recorded_replication() -> Resource:
    """production: the graph backup bucket's replication rule with ``filter: {}``."""
    comp = component("data-platform:aws:Backups", "backups")
    return res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "backups-graph-replication", {
        "rules": [{"sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}}, "filter": {},
                   "id": "to-dr", "deleteMarkerReplication": {"status": "Enabled"},
                   "destination": {"storageClass": "STANDARD",
                                   "bucket": "arn:aws:s3:::data-platform-production-graph-30dee066265c",
                                   "encryptionConfiguration": {"replicaKmsKeyId": kms_arn(
                                       DR_REGION, "800f3339-4450-4cd3-8726-4450597c1c2a")}},
                   "status": "Enabled", "priority": 1.0}],
        "bucket": "data-platform-production-graph-0fae59417879",
        "role": f"arn:aws:iam::{ACCOUNT}:role/backups-graph-replication-f4c1a432"}, parent=comp)


def recorded_redis_group() -> Resource:
    comp = component("data-platform:aws:Redis", "redis")
    return res("aws:elasticache/replicationGroup:ReplicationGroup", "redis-cluster", {
        "replicationGroupId": "data-platform-production-redis", "engine": "valkey", "engineVersion": "8.0",
        "description": "data-platform-production valkey 8.0, 3 shards x 2 nodes"}, parent=comp, protect=True)


def recorded_dev_secret() -> Resource:
    """dev: the PostgreSQL master secret, a fixed name with the default 30-day recovery window, unprotected."""
    comp = component("data-platform:aws:Postgres", "postgres", stack="dev")
    return res("aws:secretsmanager/secret:Secret", "postgres-master-secret", {
        "recoveryWindowInDays": 30.0, "kmsKeyId": kms_arn(REGION, "f25a4ef7-6a3f-4c63-8885-6a3f2b90bf3d"),
        "description": "data-platform-dev PostgreSQL master credentials", "name": "data-platform-dev/postgres/master"},
        parent=comp, stack="dev")
