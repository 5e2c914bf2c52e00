"""Redis component under the recording mock runtime: what the ElastiCache API would receive."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
from typing import Any

import pulumi
import pytest

import components.aws.redis as redis_mod
from components.aws.redis import TYPE_TOKEN, Redis, RedisArgs, member_cluster_ids
from components.base import ArgsError
from review.mocks import SECRET, RecordedResource
from review.program import ProgramRun, record

CACHE_KEY = "arn:aws:kms:us-east-1:123456789012:key/elasticache"
SECRETS_KEY = "arn:aws:kms:us-east-1:123456789012:key/secrets"
LOGS_KEY = "arn:aws:kms:us-east-1:123456789012:key/logs"

RG = "aws:elasticache/replicationGroup:ReplicationGroup"
USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET_T = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
STATEFUL = {RG, SECRET_T, SECRET_VERSION}


def _args(**overrides: Any) -> RedisArgs:
    base = RedisArgs(vpc_id="vpc-0primary", data_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
                     kms_key_arn=CACHE_KEY, secrets_kms_key_arn=SECRETS_KEY, logs_kms_key_arn=LOGS_KEY,
                     name="dp-prod", protect=True, tags={"team": "data"})
    return dataclasses.replace(base, **overrides)


def _run(args: RedisArgs, allow: bool = False) -> ProgramRun:
    def program() -> None:
        r = Redis("redis", args)
        if allow:
            r.allow_from("sg-0app", "app pods")
        pulumi.export("redis", {
            "configurationEndpoint": r.configuration_endpoint, "port": r.port,
            "replicationGroupId": r.replication_group_id, "securityGroupId": r.security_group_id,
            "userGroupId": r.user_group_id, "appUserSecretArn": r.app_user_secret_arn,
            "readonlyUserSecretArn": r.readonly_user_secret_arn, "kmsKeyArn": r.kms_key_arn,
            "memberClusters": r.member_clusters, "memberClusterIds": r.member_cluster_ids,
        })

    return record(program, stack="production")


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return _run(_args(), allow=True)


def _one(run: ProgramRun, type_: str, name: str | None = None) -> RecordedResource:
    matches = [r for r in run.by_type(type_) if name is None or r.name == name]
    assert len(matches) == 1, f"{len(matches)} {type_} named {name}"
    return matches[0]


def test_component_token_and_parenting(run: ProgramRun) -> None:
    comp = [r for r in run.resources if r.type == TYPE_TOKEN]
    assert len(comp) == 1 and not comp[0].custom
    assert all(r.parent == comp[0].urn for r in run.resources if r is not comp[0])


def test_replication_group_cluster_mode_ha_and_encryption(run: ProgramRun) -> None:
    rg = _one(run, RG).inputs
    assert rg["replicationGroupId"] == "dp-prod-redis"
    assert rg["engine"] == "valkey" and rg["engineVersion"] == "8.0" and rg["nodeType"] == "cache.r6g.large"
    assert rg["clusterMode"] == "enabled"
    assert rg["numNodeGroups"] == 3 and rg["replicasPerNodeGroup"] == 1
    assert "numCacheClusters" not in rg
    assert rg["automaticFailoverEnabled"] is True and rg["multiAzEnabled"] is True
    assert rg["transitEncryptionEnabled"] is True and rg["transitEncryptionMode"] == "required"
    assert rg["atRestEncryptionEnabled"] is True and rg["kmsKeyId"] == CACHE_KEY
    assert "authToken" not in rg and "authTokenWo" not in rg
    assert rg["snapshotRetentionLimit"] == 7 and rg["snapshotWindow"] == "05:00-06:00"
    assert rg["maintenanceWindow"] == "sun:06:30-sun:07:30"
    assert rg["finalSnapshotIdentifier"] == "dp-prod-redis-final"
    assert rg["autoMinorVersionUpgrade"] is True and rg["applyImmediately"] is False
    assert rg["port"] == 6379
    assert rg["tags"] == {"team": "data", "component": "redis"}


def test_replication_group_wiring(run: ProgramRun) -> None:
    rg = _one(run, RG).inputs
    assert rg["subnetGroupName"] == _one(run, "aws:elasticache/subnetGroup:SubnetGroup").inputs["name"]
    assert rg["parameterGroupName"] == _one(run, PARAMS).inputs["name"]
    assert rg["userGroupIds"] == [_one(run, USER_GROUP).inputs["userGroupId"]]
    assert rg["securityGroupIds"] == [run.outputs["redis"]["securityGroupId"]]
    sg = _one(run, "aws:ec2/securityGroup:SecurityGroup").inputs
    assert sg["vpcId"] == "vpc-0primary" and "ingress" not in sg


def test_parameter_group_cluster_enabled_and_eviction(run: ProgramRun) -> None:
    pg = _one(run, PARAMS).inputs
    assert pg["family"] == "valkey8"
    params = {p["name"]: p["value"] for p in pg["parameters"]}
    assert params == {"cluster-enabled": "yes", "maxmemory-policy": "allkeys-lru"}
    assert "cluster-node-timeout" not in params  # not modifiable on ElastiCache (module docstring)


@pytest.mark.parametrize(("engine", "version", "family"), [
    ("valkey", "7.2", "valkey7"), ("valkey", "8.1", "valkey8"), ("redis", "7.1", "redis7"),
])
def test_parameter_group_family_follows_engine(engine: str, version: str, family: str) -> None:
    run = _run(_args(engine=engine, engine_version=version, maxmemory_policy="allkeys-lfu"))
    pg = _one(run, PARAMS).inputs
    assert pg["family"] == family
    assert {p["name"]: p["value"] for p in pg["parameters"]}["maxmemory-policy"] == "allkeys-lfu"
    assert {u.inputs["engine"] for u in run.by_type(USER)} == {engine}
    assert _one(run, USER_GROUP).inputs["engine"] == engine == _one(run, RG).inputs["engine"]


def _passwords(u: Any) -> list[str]:
    return list(u.raw_inputs["authenticationMode"]["passwords"])


def test_user_group_has_app_readonly_and_disabled_default(run: ProgramRun) -> None:
    users = {u.inputs["userName"]: u for u in run.by_type(USER)}
    assert set(users) == {"app_user", "readonly_user", "default"}
    group = _one(run, USER_GROUP).inputs
    assert sorted(group["userIds"]) == sorted(u.inputs["userId"] for u in users.values())
    assert users["default"].inputs["userId"] == "dp-prod-default"
    assert users["default"].inputs["accessString"].split()[0] == "off"
    assert users["app_user"].inputs["accessString"] == "on ~app:* &* +@all -@dangerous"
    assert users["readonly_user"].inputs["accessString"] == (
        "on ~* -@all +@read +@connection +cluster|slots +cluster|shards +cluster|nodes +cluster|info +cluster|myid "
        "+cluster|keyslot +readonly +readwrite +asking")
    for u in users.values():
        assert u.inputs["authenticationMode"] == SECRET and "authenticationMode" in u.secret_paths
        assert u.raw_inputs["authenticationMode"]["type"] == "password"
        assert "passwords" not in u.inputs and "noPasswordRequired" not in u.inputs and "passwordsWo" not in u.inputs
        assert [len(pw) for pw in _passwords(u)] == [32]


def test_passwords_never_plain_and_secrets_hold_them(run: ProgramRun) -> None:
    users = {u.inputs["userName"]: u for u in run.by_type(USER)}
    everything = json.dumps([r.inputs for r in run.resources]) + json.dumps(run.outputs)
    for u in users.values():
        assert _passwords(u)[0] not in everything
    for user_name, key in (("app_user", "appUserSecretArn"), ("readonly_user", "readonlyUserSecretArn")):
        # name_prefix, never a fixed name: the name stays reserved for the recovery window after a destroy.
        secret = next(s for s in run.by_type(SECRET_T) if s.inputs.get("namePrefix") == f"dp-prod/redis/{user_name}-")
        assert "name" not in secret.inputs
        assert secret.inputs["kmsKeyId"] == SECRETS_KEY and secret.inputs["recoveryWindowInDays"] == 30
        assert f":secret:dp-prod/redis/{user_name}-" in run.outputs["redis"][key]
        version = next(v for v in run.by_type(SECRET_VERSION) if v.raw_inputs["secretId"] == run.outputs["redis"][key])
        assert version.inputs["secretString"] == SECRET and "secretString" in version.secret_paths
        value = json.loads(version.raw_inputs["secretString"])
        assert value == {"username": user_name, "password": _passwords(users[user_name])[0],
                         "host": run.outputs["redis"]["configurationEndpoint"], "port": 6379, "tls": True}
    assert len(run.by_type(SECRET_T)) == 2  # the disabled default user's password is not kept


def test_log_delivery_to_encrypted_log_groups(run: ProgramRun) -> None:
    rg = _one(run, RG)
    groups = {g.inputs["name"]: g for g in run.by_type(LOG_GROUP)}
    deliveries = {d["logType"]: d for d in rg.inputs["logDeliveryConfigurations"]}
    assert set(deliveries) == {"slow-log", "engine-log"}
    for log_type, d in deliveries.items():
        assert d["destinationType"] == "cloudwatch-logs" and d["logFormat"] == "json"
        assert d["destination"] == f"/aws/elasticache/dp-prod-redis/{log_type}"
        group = groups[d["destination"]]
        assert group.inputs["kmsKeyId"] == LOGS_KEY and group.inputs["retentionInDays"] == 365
        assert group.urn in rg.dependencies


def test_outputs(run: ProgramRun) -> None:
    out = run.outputs["redis"]
    assert out["replicationGroupId"] == "dp-prod-redis" and out["port"] == 6379
    assert out["configurationEndpoint"].startswith("clustercfg.dp-prod-redis.")
    assert out["userGroupId"] == "dp-prod-users" and out["kmsKeyArn"] == CACHE_KEY
    assert len(out["memberClusters"]) == 6
    assert out["memberClusters"] == out["memberClusterIds"] == member_cluster_ids("dp-prod-redis", 3, 1)


def test_allow_from_adds_port_rule(run: ProgramRun) -> None:
    (rule,) = run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.name == "redis-allow-app-pods"
    assert rule.inputs == {"securityGroupId": run.outputs["redis"]["securityGroupId"],
                           "referencedSecurityGroupId": "sg-0app", "ipProtocol": "tcp", "fromPort": 6379,
                           "toPort": 6379, "description": "app pods", "tags": {"team": "data", "component": "redis"}}


def test_protect_and_retain_only_stateful_children(run: ProgramRun) -> None:
    for r in run.resources:
        kept = r.type in STATEFUL
        assert (r.protect, r.retain_on_delete) == (kept, kept), r.urn
    assert len([r for r in run.resources if r.protect]) == 5  # group, 2 secrets, 2 versions


def test_without_protect_nothing_is_protected() -> None:
    run = _run(_args(protect=False))
    assert not any(r.protect or r.retain_on_delete for r in run.resources)


def test_single_az_without_replicas_and_without_at_rest_key() -> None:
    run = _run(_args(multi_az=False, replicas_per_shard=0, shards=2, at_rest_encryption=False))
    rg = _one(run, RG).inputs
    assert rg["multiAzEnabled"] is False and rg["automaticFailoverEnabled"] is True
    assert rg["numNodeGroups"] == 2 and rg["replicasPerNodeGroup"] == 0
    assert rg["atRestEncryptionEnabled"] is False and "kmsKeyId" not in rg
    assert len(run.outputs["redis"]["memberClusters"]) == 2


@pytest.mark.parametrize(("overrides", "message"), [
    ({"shards": 0}, "RedisArgs.shards: 0 is not allowed (1..500)"),
    # every problem, each on its own line: 501 shards are also 1002 nodes
    ({"shards": 501},
     "RedisArgs.shards: 501 is not allowed (1..500)\n"
     "RedisArgs.shards: 501 is not allowed (shards x (1 + replicas_per_shard) <= 500 nodes, got 1002)"),
    ({"shards": 100, "replicas_per_shard": 5},
     "RedisArgs.shards: 100 is not allowed (shards x (1 + replicas_per_shard) <= 500 nodes, got 600)"),
    ({"replicas_per_shard": 6}, "RedisArgs.replicas_per_shard: 6 is not allowed (0..5)"),
    ({"replicas_per_shard": 0}, "RedisArgs.replicas_per_shard: 0 is not allowed (1..5 when multi_az is True)"),
    ({"engine": "memcached"}, "RedisArgs.engine: 'memcached' is not allowed (valkey or redis)"),
    ({"engine": "redis", "engine_version": "8.0"},
     "RedisArgs.engine_version: '8.0' is not allowed (7.0, 7.1 for engine redis)"),
    ({"engine_version": "7.0"},
     "RedisArgs.engine_version: '7.0' is not allowed (7.2, 8.0, 8.1, 8.2 for engine valkey)"),
    ({"transit_encryption": False},
     "RedisArgs.transit_encryption: False is not allowed (True: ElastiCache RBAC users need TLS)"),
    ({"maxmemory_policy": "lru"}, "RedisArgs.maxmemory_policy: 'lru' is not allowed (allkeys-lru, allkeys-lfu, "
                                  "allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
                                  "noeviction)"),
    ({"snapshot_retention_days": 36}, "RedisArgs.snapshot_retention_days: 36 is not allowed (0..35)"),
    ({"snapshot_window": "5-6"}, "RedisArgs.snapshot_window: '5-6' is not allowed (hh:mm-hh:mm, UTC)"),
    ({"node_type": "r7g.large"},
     "RedisArgs.node_type: 'r7g.large' is not allowed (an ElastiCache node type like cache.r7g.large)"),
])
def test_invalid_args_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgsError) as err:
        Redis("redis", _args(**overrides))
    assert str(err.value) == message


def test_invalid_args_register_nothing() -> None:
    def program() -> None:
        with pytest.raises(ArgsError):
            Redis("redis", _args(shards=0))

    assert record(program).resources == []


def test_duplicate_allow_from_is_rejected() -> None:
    def program() -> None:
        r = Redis("redis", _args())
        r.allow_from("sg-1", "workers")
        r.allow_from("sg-2", "Workers")

    # an ArgsError is a pulumi.RunError: the program run reports it as its one error
    assert "Redis.allow_from.description: 'Workers' is not allowed" in str(record(program).error)


def test_every_args_field_is_documented() -> None:
    tree = ast.parse(inspect.getsource(redis_mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RedisArgs")
    documented = {
        prev.target.id for prev, nxt in zip(cls.body, cls.body[1:], strict=False)
        if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        and (prev.value is None or "Default:" in str(nxt.value.value))
    }
    assert documented == {f.name for f in dataclasses.fields(RedisArgs)}


# ---------------------------------------------------------------- issue 17: rotation without downtime


def _users(run: ProgramRun) -> dict[str, Any]:
    return {u.inputs["userName"]: u for u in run.by_type(USER)}


def _secret_password(run: ProgramRun, user_name: str) -> str:
    key = {"app_user": "appUserSecretArn", "readonly_user": "readonlyUserSecretArn"}[user_name]
    version = next(v for v in run.by_type(SECRET_VERSION) if v.raw_inputs["secretId"] == run.outputs["redis"][key])
    return str(json.loads(version.raw_inputs["secretString"])["password"])


def test_password_slots_and_exemption_tag_at_generation_one(run: ProgramRun) -> None:
    pws = {p.name: p.inputs for p in run.by_type("random:index/randomPassword:RandomPassword")}
    assert "keepers" not in pws["redis-app-user-password"]  # unchanged from before rotation existed
    assert pws["redis-app-user-password-even"]["keepers"] == {"generation": "0"}
    for s in run.by_type(SECRET_T):
        assert "passwordOverlap" in s.inputs["tags"]["rotation-exempt"]


def test_rotation_switch_accepts_both_passwords_then_only_the_new_one(run: ProgramRun) -> None:
    old = {n: _passwords(u)[0] for n, u in _users(run).items()}
    switch = _run(_args(password_generation=2, password_overlap=True))
    pws = {p.name: p.inputs for p in switch.by_type("random:index/randomPassword:RandomPassword")}
    assert pws["redis-app-user-password-even"]["keepers"] == {"generation": "2"}
    assert "keepers" not in pws["redis-app-user-password"]  # the previous slot keeps its password
    for name, u in _users(switch).items():
        new, previous = _passwords(u)
        assert previous == old[name] and new != old[name]
        if name != "default":
            assert _secret_password(switch, name) == new
    done = _run(_args(password_generation=2, password_overlap=False))
    for name, u in _users(done).items():
        assert _passwords(u) == [_passwords(_users(switch)[name])[0]]
    third = _run(_args(password_generation=3, password_overlap=True))
    pws3 = {p.name: p.inputs for p in third.by_type("random:index/randomPassword:RandomPassword")}
    assert pws3["redis-app-user-password"]["keepers"] == {"generation": "3"}
    assert pws3["redis-app-user-password-even"]["keepers"] == {"generation": "2"}


def test_overlap_at_generation_one_is_one_password() -> None:
    run = _run(_args(password_overlap=True))
    assert all(len(_passwords(u)) == 1 for u in _users(run).values())
