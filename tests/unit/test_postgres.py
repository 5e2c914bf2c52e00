"""Postgres component under the recording mock runtime: what the RDS API would receive."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest

from components.aws.db_roles import TYPE_TOKEN as ROLES_TOKEN
from components.aws.postgres import TYPE_TOKEN, Postgres, PostgresArgs
from components.base import ArgsError
from review.mocks import SECRET, RecordedResource
from review.program import ProgramRun, record

RDS_KEY = "arn:aws:kms:us-east-1:123456789012:key/rds-primary"
SECRETS_KEY = "arn:aws:kms:us-east-1:123456789012:key/secrets-primary"
LOGS_KEY = "arn:aws:kms:us-east-1:123456789012:key/logs-primary"
DR_KEY = "arn:aws:kms:us-west-2:123456789012:key/rds-dr"
DR_LOGS_KEY = "arn:aws:kms:us-west-2:123456789012:key/logs-dr"

INSTANCE = "aws:rds/instance:Instance"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
PARAM_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BACKUPS_REPL = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
SECRET_T = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
STATEFUL = {INSTANCE, SECRET_T, SECRET_VERSION, BACKUPS_REPL}


def _args(**overrides: Any) -> PostgresArgs:
    base = PostgresArgs(
        vpc_id="vpc-0primary", data_subnet_ids=["subnet-a", "subnet-b", "subnet-c"], kms_key_arn=RDS_KEY,
        secrets_kms_key_arn=SECRETS_KEY, logs_kms_key_arn=LOGS_KEY, name="dp-prod", read_replicas=2,
        dr_replica=True, dr_region="us-west-2", dr_vpc_id="vpc-0dr", dr_data_subnet_ids=["subnet-x", "subnet-y"],
        dr_kms_key_arn=DR_KEY, dr_logs_kms_key_arn=DR_LOGS_KEY, protect=True, tags={"team": "data"})
    return dataclasses.replace(base, **overrides)


def _run(args: PostgresArgs, allow: bool = False) -> ProgramRun:
    def program() -> None:
        pg = Postgres("postgres", args)
        if allow:
            pg.allow_from("sg-0app", "app pods")
            if args.roles:
                pg.apply_roles_from("sg-0runner")
            if args.dr_replica:
                pg.allow_from("sg-0drapp", "dr app pods", dr=True)
        pulumi.export("pg", {
            "endpoint": pg.endpoint, "address": pg.address, "port": pg.port,
            "primaryIdentifier": pg.primary_identifier, "primaryArn": pg.primary_arn,
            "replicaIdentifiers": pg.replica_identifiers, "replicaEndpoints": pg.replica_endpoints,
            "drReplicaIdentifier": pg.dr_replica_identifier, "drReplicaArn": pg.dr_replica_arn,
            "drRegion": pg.dr_region, "securityGroupId": pg.security_group_id,
            "drSecurityGroupId": pg.dr_security_group_id, "secretArn": pg.secret_arn, "kmsKeyArn": pg.kms_key_arn,
        })

    return record(program, stack="production")


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return _run(_args(), allow=True)


def _one(run: ProgramRun, type_: str, name: str) -> RecordedResource:
    matches = [r for r in run.by_type(type_) if r.name == name]
    assert len(matches) == 1, f"{len(matches)} {type_} named {name}"
    return matches[0]


def test_component_token_and_parenting(run: ProgramRun) -> None:
    comp = [r for r in run.resources if r.type == TYPE_TOKEN]
    assert len(comp) == 1 and not comp[0].custom
    roles = [r for r in run.resources if r.type == ROLES_TOKEN]
    assert len(roles) == 1 and roles[0].parent == comp[0].urn
    for r in run.resources:
        if r is not comp[0] and r is not roles[0]:
            assert r.parent in (comp[0].urn, roles[0].urn), r.urn


def test_primary_is_multi_az_gp3_encrypted_and_kept(run: ProgramRun) -> None:
    p = _one(run, INSTANCE, "postgres-primary").inputs
    assert p["identifier"] == "dp-prod-pg"
    assert p["engine"] == "postgres" and p["engineVersion"] == "16"
    assert p["multiAz"] is True
    assert p["storageType"] == "gp3" and p["allocatedStorage"] == 500 and p["maxAllocatedStorage"] == 1000
    assert "iops" not in p
    assert p["storageEncrypted"] is True and p["kmsKeyId"] == RDS_KEY
    assert p["performanceInsightsEnabled"] is True and p["performanceInsightsKmsKeyId"] == RDS_KEY
    assert p["performanceInsightsRetentionPeriod"] == 7
    assert p["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert p["iamDatabaseAuthenticationEnabled"] is True
    assert p["deletionProtection"] is True
    assert p["skipFinalSnapshot"] is False and p["finalSnapshotIdentifier"] == "dp-prod-pg-final"
    assert p["copyTagsToSnapshot"] is True and p["deleteAutomatedBackups"] is False
    assert p["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert p["autoMinorVersionUpgrade"] is True and p["applyImmediately"] is False
    assert p["publiclyAccessible"] is False
    assert p["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert p["backupRetentionPeriod"] == 35 and p["backupWindow"] == "03:00-04:00"
    assert p["maintenanceWindow"] == "sun:04:30-sun:05:30"
    assert p["dbName"] == "app" and p["username"] == "dp_admin" and p["port"] == 5432
    assert p["tags"] == {"team": "data", "component": "postgres", "role": "primary"}
    assert "region" not in p


def test_primary_wiring_to_groups_role_and_log_groups(run: ProgramRun) -> None:
    primary = _one(run, INSTANCE, "postgres-primary")
    p = primary.inputs
    subnets = _one(run, SUBNET_GROUP, "postgres-subnets").inputs
    assert p["dbSubnetGroupName"] == subnets["name"] == "dp-prod-pg"
    assert subnets["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert p["parameterGroupName"] == _one(run, PARAM_GROUP, "postgres-params").inputs["name"]
    sg = _one(run, SG, "postgres-sg")
    assert sg.inputs["vpcId"] == "vpc-0primary" and "ingress" not in sg.inputs and "egress" not in sg.inputs
    assert p["vpcSecurityGroupIds"] == [run.outputs["pg"]["securityGroupId"]]
    assert p["monitoringInterval"] == 60
    role = _one(run, "aws:iam/role:Role", "postgres-monitoring-role").inputs
    assert p["monitoringRoleArn"] == f"arn:aws:iam::123456789012:role/{role['name']}"
    principal = json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"]
    assert principal == {"Service": "monitoring.rds.amazonaws.com"}
    attach = _one(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "postgres-monitoring-policy")
    assert attach.inputs["policyArn"].endswith("service-role/AmazonRDSEnhancedMonitoringRole")
    assert attach.urn in primary.dependencies
    for log in ("postgresql", "upgrade"):
        lg = next(r for r in run.by_type(LOG_GROUP) if r.inputs["name"] == f"/aws/rds/instance/dp-prod-pg/{log}")
        assert lg.inputs["kmsKeyId"] == LOGS_KEY and lg.inputs["retentionInDays"] == 365
        assert lg.urn in primary.dependencies, "RDS would create the log group unencrypted first"


def test_parameter_group_settings(run: ProgramRun) -> None:
    pg = _one(run, PARAM_GROUP, "postgres-params").inputs
    assert pg["family"] == "postgres16" and "region" not in pg
    params = {p["name"]: (p["value"], p["applyMethod"]) for p in pg["parameters"]}
    assert params["rds.force_ssl"][0] == "1"
    assert params["shared_preload_libraries"] == ("pg_stat_statements", "pending-reboot")
    assert params["max_connections"] == ("500", "pending-reboot")
    assert params["log_min_duration_statement"][0] == "500"
    for flag in ("log_connections", "log_disconnections", "log_lock_waits"):
        assert params[flag][0] == "1"
    assert params["pg_stat_statements.track"][0] == "all"


def test_master_password_is_write_only_and_never_plain(run: ProgramRun) -> None:
    p = _one(run, INSTANCE, "postgres-primary")
    assert p.inputs["passwordWo"] == SECRET and "passwordWo" in p.secret_paths
    assert p.inputs["passwordWoVersion"] == 1
    assert "password" not in p.inputs and "manageMasterUserPassword" not in p.inputs
    password = p.raw_inputs["passwordWo"]
    assert len(password) == 32
    pw = _one(run, PASSWORD, "postgres-master-password").inputs
    assert pw["length"] == 32 and not set("/@\" ") & set(pw["overrideSpecial"])
    everything = json.dumps([r.inputs for r in run.resources]) + json.dumps(run.outputs)
    assert password not in everything
    secret = _one(run, SECRET_T, "postgres-master-secret").inputs
    assert secret["kmsKeyId"] == SECRETS_KEY and secret["recoveryWindowInDays"] == 30
    # A fixed name stays reserved for the 30-day recovery window: destroy-and-recreate would fail.
    assert "name" not in secret and secret["namePrefix"] == "dp-prod/postgres/master-"
    assert run.outputs["pg"]["secretArn"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:dp-prod/postgres/master-")
    version = _one(run, SECRET_VERSION, "postgres-master-secret-value")
    assert version.inputs["secretString"] == SECRET and "secretString" in version.secret_paths
    value = json.loads(version.raw_inputs["secretString"])
    assert value == {"username": "dp_admin", "password": password, "port": 5432, "dbname": "app",
                     "engine": "postgres", "host": run.outputs["pg"]["address"]}
    assert version.raw_inputs["secretId"] == run.outputs["pg"]["secretArn"]


def test_in_region_read_replicas(run: ProgramRun) -> None:
    replicas = [r for r in run.by_type(INSTANCE) if r.name.startswith("postgres-replica-")]
    assert sorted(r.inputs["identifier"] for r in replicas) == ["dp-prod-pg-replica-1", "dp-prod-pg-replica-2"]
    for r in replicas:
        i = r.inputs
        assert i["replicateSourceDb"] == "dp-prod-pg"
        assert "region" not in i and "username" not in i and "passwordWo" not in i and "dbName" not in i
        assert i["backupRetentionPeriod"] == 0 and i["skipFinalSnapshot"] is True
        assert "finalSnapshotIdentifier" not in i
        assert i["deletionProtection"] is True and i["copyTagsToSnapshot"] is True
        assert i["performanceInsightsKmsKeyId"] == RDS_KEY and i["monitoringInterval"] == 60
        assert i["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        assert i["parameterGroupName"] == "dp-prod-postgres16"
    assert run.outputs["pg"]["replicaIdentifiers"] == ["dp-prod-pg-replica-1", "dp-prod-pg-replica-2"]
    assert len(run.outputs["pg"]["replicaEndpoints"]) == 2


def test_every_replica_states_storage_encryption(run: ProgramRun) -> None:
    """``storage_encrypted`` is replace-forcing and not computed: a replica that leaves it unset reads
    back true and the next ``up`` plans a replacement (terraform-provider-aws #3470)."""
    replicas = [r for r in run.by_type(INSTANCE) if "replicateSourceDb" in r.inputs]
    assert sorted(r.name for r in replicas) == ["postgres-dr-replica", "postgres-replica-1", "postgres-replica-2"]
    for r in replicas:
        assert r.inputs["storageEncrypted"] is True, r.name
        assert r.inputs["kmsKeyId"] == (DR_KEY if r.name == "postgres-dr-replica" else RDS_KEY)


def test_dr_replica_in_dr_region_with_dr_key_subnets_and_params(run: ProgramRun) -> None:
    dr = _one(run, INSTANCE, "postgres-dr-replica")
    i = dr.inputs
    assert i["region"] == "us-west-2"
    assert i["replicateSourceDb"] == "arn:aws:rds:us-east-1:123456789012:db:dp-prod-pg"
    assert i["replicateSourceDb"] == run.outputs["pg"]["primaryArn"]
    assert i["kmsKeyId"] == DR_KEY and i["performanceInsightsKmsKeyId"] == DR_KEY
    subnets = _one(run, SUBNET_GROUP, "postgres-dr-subnets").inputs
    assert subnets["region"] == "us-west-2" and subnets["subnetIds"] == ["subnet-x", "subnet-y"]
    assert i["dbSubnetGroupName"] == subnets["name"] == "dp-prod-pg-dr"
    assert i["dbSubnetGroupName"] != "default"
    params = _one(run, PARAM_GROUP, "postgres-dr-params").inputs
    assert params["region"] == "us-west-2" and params["family"] == "postgres16"
    assert i["parameterGroupName"] == params["name"]
    assert params["parameters"] == _one(run, PARAM_GROUP, "postgres-params").inputs["parameters"]
    sg = _one(run, SG, "postgres-dr-sg").inputs
    assert sg["region"] == "us-west-2" and sg["vpcId"] == "vpc-0dr"
    assert i["vpcSecurityGroupIds"] == [run.outputs["pg"]["drSecurityGroupId"]]
    assert i["backupRetentionPeriod"] >= 1 and i["deleteAutomatedBackups"] is False
    assert i["deletionProtection"] is True and i["copyTagsToSnapshot"] is True
    assert i["instanceClass"] == "db.r6g.xlarge" and i["multiAz"] is False
    dr_logs = [r for r in run.by_type(LOG_GROUP) if "/dp-prod-pg-dr/" in r.inputs["name"]]
    assert len(dr_logs) == 2
    for lg in dr_logs:
        assert lg.inputs["region"] == "us-west-2" and lg.inputs["kmsKeyId"] == DR_LOGS_KEY
        assert lg.urn in dr.dependencies
    assert run.outputs["pg"]["drRegion"] == "us-west-2"
    assert run.outputs["pg"]["drReplicaIdentifier"] == "dp-prod-pg-dr"


def test_automated_backups_replicated_to_dr_region(run: ProgramRun) -> None:
    (repl,) = run.by_type(BACKUPS_REPL)
    assert repl.inputs == {"region": "us-west-2", "kmsKeyId": DR_KEY, "retentionPeriod": 35,
                           "sourceDbInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:dp-prod-pg"}


def test_only_dr_children_carry_a_region(run: ProgramRun) -> None:
    regional = {r.name for r in run.resources if "region" in r.inputs}
    assert regional == {"postgres-dr-params", "postgres-dr-subnets", "postgres-dr-sg", "postgres-dr-replica",
                        "postgres-backups-replication", "postgres-pg-dr-postgresql-logs",
                        "postgres-pg-dr-upgrade-logs", "postgres-allow-dr-dr-app-pods"}


def test_allow_from_adds_port_rules(run: ProgramRun) -> None:
    rules = {r.name: r.inputs for r in run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert rules["postgres-allow-app-pods"] == {
        "securityGroupId": run.outputs["pg"]["securityGroupId"], "referencedSecurityGroupId": "sg-0app",
        "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "description": "app pods",
        "tags": {"team": "data", "component": "postgres"}}
    dr = rules["postgres-allow-dr-dr-app-pods"]
    assert dr["region"] == "us-west-2" and dr["securityGroupId"] == run.outputs["pg"]["drSecurityGroupId"]


def test_protect_and_retain_only_stateful_children(run: ProgramRun) -> None:
    for r in run.resources:
        kept = r.type in STATEFUL
        assert (r.protect, r.retain_on_delete) == (kept, kept), r.urn
    # 4 instances, master secret + version, backups, 3 login secrets + versions
    assert len([r for r in run.resources if r.protect]) == 4 + 1 + 1 + 1 + 3 + 3


def test_without_protect_nothing_is_protected() -> None:
    run = _run(_args(protect=False))
    assert not any(r.protect or r.retain_on_delete for r in run.resources)


def test_no_dr_no_replicas_no_monitoring() -> None:
    run = _run(_args(dr_replica=False, dr_region=None, read_replicas=0, monitoring_interval=0))
    assert not any("region" in r.inputs for r in run.resources)
    assert [r.name for r in run.by_type(INSTANCE)] == ["postgres-primary"]
    assert not run.by_type(BACKUPS_REPL) and not run.by_type("aws:iam/role:Role")
    p = run.by_type(INSTANCE)[0].inputs
    assert p["monitoringInterval"] == 0 and "monitoringRoleArn" not in p
    assert run.outputs["pg"].get("drReplicaArn") is None and run.outputs["pg"]["replicaIdentifiers"] == []


def test_iops_above_baseline_on_large_storage() -> None:
    run = _run(_args(storage_gb=1000, max_storage_gb=2000, iops=16000, dr_replica=False, read_replicas=0))
    p = run.by_type(INSTANCE)[0].inputs
    assert p["iops"] == 16000 and p["allocatedStorage"] == 1000


@pytest.mark.parametrize(("overrides", "message"), [
    ({"storage_gb": 100, "iops": 12000},
     "PostgresArgs.iops: 12000 is not allowed (gp3 iops needs storage_gb >= 400, storage_gb is 100)"),
    ({"iops": 3000}, "PostgresArgs.iops: 3000 is not allowed (12000..64000)"),
    ({"dr_region": None}, "PostgresArgs.dr_region: None is not allowed (required when dr_replica is True)"),
    ({"dr_kms_key_arn": None},
     "PostgresArgs.dr_kms_key_arn: None is not allowed (required when dr_replica is True)"),
    ({"dr_data_subnet_ids": []},
     "PostgresArgs.dr_data_subnet_ids: [] is not allowed (required when dr_replica is True)"),
    ({"performance_insights_retention_days": 30},
     "PostgresArgs.performance_insights_retention_days: 30 is not allowed (7, 731 or a multiple of 31)"),
    ({"read_replicas": 6}, "PostgresArgs.read_replicas: 6 is not allowed (0..5)"),
    ({"max_storage_gb": 100}, "PostgresArgs.max_storage_gb: 100 is not allowed (500..65536 (>= storage_gb))"),
    ({"monitoring_interval": 2}, "PostgresArgs.monitoring_interval: 2 is not allowed (0, 1, 5, 10, 15, 30, 60)"),
    ({"backup_retention_days": 0}, "PostgresArgs.backup_retention_days: 0 is not allowed (1..35)"),
    ({"engine_version": "15"}, "PostgresArgs.engine_version: '15' is not allowed (16 or 17)"),
    ({"master_username": "postgres"},
     "PostgresArgs.master_username: 'postgres' is not allowed ([a-z][a-z0-9_]{0,15}, not postgres or rdsadmin)"),
    ({"name": "Bad_Name"},
     "PostgresArgs.name: 'Bad_Name' is not allowed (lowercase letters, digits and single '-', at most 40 characters)"),
])
def test_invalid_args_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgsError) as err:
        Postgres("postgres", _args(**overrides))
    assert str(err.value) == message


def test_invalid_args_register_nothing() -> None:
    def program() -> None:
        with pytest.raises(ArgsError):
            Postgres("postgres", _args(read_replicas=9))

    assert record(program).resources == []


def test_allow_from_errors() -> None:
    def no_dr() -> None:
        pg = Postgres("postgres", _args(dr_replica=False))
        pg.allow_from("sg-1", "x", dr=True)

    # an ArgsError is a pulumi.RunError: the program run reports it as its one error
    assert "Postgres.allow_from.dr: True is not allowed" in str(record(no_dr).error)

    def duplicate() -> None:
        pg = Postgres("postgres", _args())
        pg.allow_from("sg-1", "App pods")
        pg.allow_from("sg-2", "app-pods")

    assert "Postgres.allow_from.description: 'app-pods' is not allowed" in str(record(duplicate).error)


def test_every_args_field_is_documented() -> None:
    import ast
    import inspect

    import components.aws.postgres as mod

    tree = ast.parse(inspect.getsource(mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PostgresArgs")
    documented = {
        prev.target.id for prev, nxt in zip(cls.body, cls.body[1:], strict=False)
        if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        and (prev.value is None or "Default:" in str(nxt.value.value))
    }
    assert documented == {f.name for f in dataclasses.fields(PostgresArgs)}


# ---------------------------------------------------------------- issue 17: rotation and roles


def test_master_password_rotates_by_generation_and_states_its_exemption(run: ProgramRun) -> None:
    pw = _one(run, PASSWORD, "postgres-master-password").inputs
    assert pw["keepers"] == {"generation": "1"}
    secret = _one(run, SECRET_T, "postgres-master-secret").inputs
    assert "read replicas" in secret["tags"]["rotation-exempt"]
    rotated = _run(_args(master_password_generation=2))
    assert _one(rotated, PASSWORD, "postgres-master-password").inputs["keepers"] == {"generation": "2"}
    assert _one(rotated, INSTANCE, "postgres-primary").inputs["passwordWoVersion"] == 2
    assert "manageMasterUserPassword" not in _one(rotated, INSTANCE, "postgres-primary").inputs


def test_roles_child_applies_the_bootstrap_as_master_to_the_primary(run: ProgramRun) -> None:
    cmd = _one(run, "command:local:Command", "postgres-roles-bootstrap")
    primary = _one(run, INSTANCE, "postgres-primary")
    env = cmd.raw_inputs["environment"]
    assert env["PGUSER"] == "dp_admin" and env["PGDATABASE"] == "app" and env["PGPORT"] == "5432"
    assert env["PGPASSWORD"] == primary.raw_inputs["passwordWo"]
    assert env["PGHOST"] == run.outputs["pg"]["address"]
    assert primary.urn in cmd.dependencies or any(primary.urn in d for d in cmd.property_dependencies.values())
    assert "CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION migration_role;" in cmd.inputs["stdin"]


def test_apply_roles_from_opens_the_runner_path_first(run: ProgramRun) -> None:
    cmd = _one(run, "command:local:Command", "postgres-roles-bootstrap")
    ingress = _one(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                   "postgres-allow-deploy-runner-applies-the-database-roles")
    egress = _one(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "postgres-deploy-runner-egress")
    assert ingress.inputs["referencedSecurityGroupId"] == "sg-0runner" and ingress.inputs["fromPort"] == 5432
    assert egress.inputs["securityGroupId"] == "sg-0runner" and (egress.inputs["fromPort"], egress.inputs["toPort"]) \
        == (5432, 5432) and egress.inputs["ipProtocol"] == "tcp"
    assert egress.raw_inputs["referencedSecurityGroupId"] == run.outputs["pg"]["securityGroupId"]
    assert {ingress.urn, egress.urn} <= set(cmd.dependencies)


def test_without_a_runner_the_roles_are_not_applied() -> None:
    run = _run(_args())
    assert not run.by_type("command:local:Command") and len(run.by_type(SECRET_T)) == 4
    assert "apply_roles_from" in str(record(
        lambda: Postgres("postgres", _args(roles=False)).apply_roles_from("sg-0runner")).error)


def test_roles_can_be_turned_off() -> None:
    run = _run(_args(roles=False, dr_replica=False, read_replicas=0))
    assert not run.by_type("command:local:Command")
    assert len(run.by_type(SECRET_T)) == 1
