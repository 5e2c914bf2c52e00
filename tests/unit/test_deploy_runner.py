"""``DeployRunner`` under the recording mock runtime, and its wiring into the stacks: a CodeBuild-hosted
GitHub Actions runner in the compute subnets, admitted to the private EKS API on 443, whose service
role can do nothing but run builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.aws.deploy_runner import (
    TYPE_TOKEN,
    DeployRunner,
    DeployRunnerArgs,
    runner_label,
    service_role_policy,
    validate_runner_args,
)
from components.base import ArgsError
from review.program import ProgramRun, record, run_program

ROOT = Path(__file__).resolve().parents[2]
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
LOGS_KEY = "arn:aws:kms:us-east-1:123456789012:key/logs"
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
TAGS = {"team": "data", "environment": "production", "cost-center": "platform"}


def _args(**kw: Any) -> DeployRunnerArgs:
    base: dict[str, Any] = {
        "project_name": "dp-production-runner", "repository": "acme/data-platform", "connection_arn": CONNECTION,
        "vpc_id": "vpc-1", "subnet_ids": SUBNETS, "logs_kms_key_arn": LOGS_KEY, "tags": TAGS,
    }
    return DeployRunnerArgs(**{**base, **kw})


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    def program() -> None:
        r = DeployRunner("deploy-runner", _args())
        pulumi.export("runner", {"project": r.project_name, "sg": r.security_group_id, "role": r.role_arn,
                                 "logs": r.log_group_name, "label": r.label})

    out = record(program, stack="production")
    assert out.error is None, out.error
    return out


def _one(run: ProgramRun, type_: str) -> Any:
    (r,) = run.by_type(type_)
    return r


def test_project_is_a_runner_in_the_compute_subnets(run: ProgramRun) -> None:
    project = _one(run, "aws:codebuild/project:Project")
    sg = _one(run, "aws:ec2/securityGroup:SecurityGroup")
    role = _one(run, "aws:iam/role:Role")
    assert project.inputs == {
        "name": "dp-production-runner",
        "description": "GitHub Actions runner for acme/data-platform inside the VPC (private EKS endpoint)",
        "serviceRole": run.outputs["runner"]["role"],
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {"computeType": "BUILD_GENERAL1_MEDIUM", "image": "aws/codebuild/standard:7.0",
                        "type": "LINUX_CONTAINER", "imagePullCredentialsType": "CODEBUILD", "privilegedMode": False},
        "source": {"type": "GITHUB", "location": "https://github.com/acme/data-platform.git",
                   "auth": {"type": "CODECONNECTIONS", "resource": CONNECTION}},
        "logsConfig": {"cloudwatchLogs": {"status": "ENABLED", "groupName": "/aws/codebuild/dp-production-runner"},
                       "s3Logs": {"status": "DISABLED"}},
        "vpcConfig": {"vpcId": "vpc-1", "subnets": SUBNETS, "securityGroupIds": [run.outputs["runner"]["sg"]]},
        "buildTimeout": 120, "queuedTimeout": 60, "concurrentBuildLimit": 2,
        "tags": TAGS,
    }
    policy = _one(run, "aws:iam/rolePolicy:RolePolicy")
    assert {sg.urn, role.urn, policy.urn} <= set(project.dependencies)  # VPC permissions exist before the project


def test_webhook_takes_queued_workflow_jobs(run: ProgramRun) -> None:
    hook = _one(run, "aws:codebuild/webhook:Webhook")
    assert hook.inputs == {
        "projectName": "dp-production-runner", "buildType": "BUILD",
        "filterGroups": [{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}],
    }
    assert run.outputs["runner"]["label"] == (
        "codebuild-dp-production-runner-${{ github.run_id }}-${{ github.run_attempt }}")
    assert runner_label("p") == "codebuild-p-${{ github.run_id }}-${{ github.run_attempt }}"


def test_security_group_has_no_ingress_and_https_egress_only(run: ProgramRun) -> None:
    sg = _one(run, "aws:ec2/securityGroup:SecurityGroup")
    assert sg.inputs["vpcId"] == "vpc-1" and "ingress" not in sg.inputs and "egress" not in sg.inputs
    assert sg.inputs["tags"] == {**TAGS, "Name": "dp-production-runner"}
    assert not run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    egress = _one(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert {k: egress.inputs[k] for k in ("securityGroupId", "ipProtocol", "fromPort", "toPort", "cidrIpv4")} == {
        "securityGroupId": run.outputs["runner"]["sg"], "ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
        "cidrIpv4": "0.0.0.0/0"}


def test_build_logs_are_encrypted_and_kept(run: ProgramRun) -> None:
    lg = _one(run, "aws:cloudwatch/logGroup:LogGroup")
    assert lg.inputs == {"name": "/aws/codebuild/dp-production-runner", "kmsKeyId": LOGS_KEY,
                         "retentionInDays": 365, "tags": TAGS}


def test_service_role_is_trusted_by_this_project_only(run: ProgramRun) -> None:
    role = _one(run, "aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:codebuild:us-east-1:123456789012:project/"
                                                   "dp-production-runner"}}}]}
    assert "managedPolicyArns" not in role.inputs and role.inputs["tags"] == TAGS
    assert not run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_service_role_can_run_builds_and_nothing_else(run: ProgramRun) -> None:
    """Any workflow of the repository can name the runner's label, so the service role holds no
    deploy permissions: jobs assume the deploy or preview role through GitHub OIDC."""
    policy = json.loads(_one(run, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    log_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/dp-production-runner"
    subnets = [f"arn:aws:ec2:us-east-1:123456789012:subnet/{s}" for s in SUBNETS]
    assert policy["Statement"] == [
        {"Sid": "BuildLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_arn, f"{log_arn}:*"]},
        {"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeVpcs"], "Resource": "*"},
        {"Sid": "VpcNetworkInterfacePermission", "Effect": "Allow", "Action": "ec2:CreateNetworkInterfacePermission",
         "Resource": "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
         "Condition": {"StringEquals": {"ec2:Subnet": subnets, "ec2:AuthorizedService": "codebuild.amazonaws.com"}}},
        {"Sid": "GitHubConnection", "Effect": "Allow",
         "Action": ["codeconnections:GetConnectionToken", "codeconnections:GetConnection"], "Resource": CONNECTION},
    ]
    actions = {a for st in policy["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                          else st["Action"])}
    assert not {a for a in actions if a.split(":")[0] in ("sts", "iam", "eks", "kms", "s3") or a.endswith("*")}


def test_older_connection_prefix_gets_its_own_actions() -> None:
    old = CONNECTION.replace("codeconnections", "codestar-connections")
    doc = json.loads(service_role_policy("arn:log", ["arn:subnet"], old, "arn:eni"))
    assert doc["Statement"][-1]["Action"] == ["codestar-connections:GetConnectionToken",
                                              "codestar-connections:GetConnection"]
    assert not validate_runner_args(_args(connection_arn=old))


def test_children_parented_and_typed(run: ProgramRun) -> None:
    comp = next(r for r in run.resources if r.type == TYPE_TOKEN)
    assert TYPE_TOKEN == "data-platform:aws:DeployRunner" and comp.name == "deploy-runner"
    assert all(r.parent == comp.urn for r in run.resources if r is not comp)
    assert len(run.resources) == 8


@pytest.mark.parametrize(("kw", "field"), [
    ({"repository": "data-platform"}, "repository"),
    ({"connection_arn": "arn:aws:iam::123456789012:role/x"}, "connection_arn"),
    ({"subnet_ids": []}, "subnet_ids"),
    ({"compute_type": "BUILD_GENERAL1_2XLARGE"}, "compute_type"),
    ({"project_name": "-runner"}, "project_name"),
    ({"log_retention_days": 10}, "log_retention_days"),
])
def test_validation_before_children(kw: dict[str, Any], field: str) -> None:
    seen: list[ArgsError] = []

    def program() -> None:
        try:
            DeployRunner("deploy-runner", _args(**kw))
        except ArgsError as err:
            seen.append(err)

    run = record(program)
    assert seen and str(seen[0]).startswith(f"DeployRunnerArgs.{field}: ")
    assert run.resources == []


# ---- the stacks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    r = run_program(ROOT, "production")
    assert r.error is None, r.error
    return r


def test_production_runner_reaches_the_private_api(production: ProgramRun) -> None:
    """The defect: nothing admitted 443 to the cluster security group from where deploys run."""
    (cluster,) = production.by_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False
    (project,) = production.by_type("aws:codebuild/project:Project")
    assert project.inputs["name"] == "data-platform-production-runner"
    compute = [r for r in production.by_type("aws:ec2/subnet:Subnet") if "compute" in r.name]
    assert len(project.inputs["vpcConfig"]["subnets"]) == len(compute) == 3
    (runner_sg,) = [r for r in production.by_type("aws:ec2/securityGroup:SecurityGroup")
                    if r.name == "deploy-runner-sg"]
    rule = next(r for r in production.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                if r.name == "eks-api-deploy-runner")
    assert runner_sg.urn in rule.dependencies and cluster.urn in rule.dependencies
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
    (prov,) = production.by_type("pulumi:providers:kubernetes")
    assert rule.urn in prov.dependencies


def test_production_access_entries_from_config(production: ProgramRun) -> None:
    assoc = {r.inputs["principalArn"]: r.inputs["policyArn"].rsplit("/", 1)[-1]
             for r in production.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert assoc == {"arn:aws:iam::123456789012:role/data-platform-break-glass": "AmazonEKSClusterAdminPolicy",
                     "arn:aws:iam::123456789012:role/data-platform-preview": "AmazonEKSViewPolicy"}


def test_dev_without_eks_has_no_runner() -> None:
    dev = run_program(ROOT, "dev")
    assert dev.error is None, dev.error
    assert not dev.by_type("aws:eks/cluster:Cluster")
    assert not dev.by_type("aws:codebuild/project:Project") and not dev.by_type(TYPE_TOKEN)
