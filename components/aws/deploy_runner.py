"""A CodeBuild-hosted GitHub Actions runner inside the VPC: where deploys and previews of a stack
with a private EKS endpoint run.

The EKS API endpoint is private (production may not open it), so ``pulumi up`` and ``pulumi preview``
must run from inside the VPC. ``DeployRunner`` (type ``data-platform:aws:DeployRunner``) creates:

* an AWS CodeBuild project ``<project_name>`` with a ``WORKFLOW_JOB_QUEUED`` webhook: GitHub sends
  every queued workflow job of the repository, and CodeBuild starts one build, which registers an
  ephemeral self-hosted runner, for each job whose ``runs-on`` label is
  ``codebuild-<project_name>-${{ github.run_id }}-${{ github.run_attempt }}`` (other jobs are
  ignored). Builds run in the private compute subnets (NAT egress), on the standard Ubuntu image
  (``actions/setup-python`` has builds for it; the AWS CLI that the kubeconfig's ``aws eks
  get-token`` needs is installed). GitHub access goes through an AWS CodeConnections (GitHub App)
  connection made once in the console: an IaC tool cannot complete its OAuth handshake;
* its own security group: no ingress, egress on 443 only (GitHub, PyPI, the Pulumi backend, AWS
  APIs through NAT or the VPC endpoints, and the EKS API). :class:`~components.aws.eks.EksCluster`
  admits it on 443 to the cluster security group (``EksClusterArgs.api_clients``);
* the build log group ``/aws/codebuild/<project_name>``, encrypted with the logs KMS key;
* the CodeBuild service role, which can only write that log group, manage the build's network
  interfaces in the given subnets, and take GitHub tokens from the connection.

**The service role has no deploy permissions and no Kubernetes access, on purpose.** Any workflow
of the repository can name this runner's label, and CodeBuild cannot filter workflow jobs by branch
(``HEAD_REF`` filters only apply to push and pull-request events), so whatever the service role may
do, a job on any branch may do. Jobs get their power the way they did on GitHub-hosted runners: the
deploy job assumes the deploy role through GitHub OIDC, which its trust policy grants only to the
``production`` environment (required reviewers), and the preview job assumes the read-only preview
role. Those roles are the principals of the EKS access entries.

Billing: nothing while idle; each job is billed per build-minute of ``compute_type``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import ArgsError, child_opts, merge_tags, problem_line

TYPE_TOKEN = "data-platform:aws:DeployRunner"
#: CodeBuild project names: 2..255 of letters, digits, - and _, starting alphanumeric.
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$")
#: ``owner/name`` of a GitHub repository.
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
#: An AWS CodeConnections connection (the ``codestar-connections`` service prefix is the older name).
CONNECTION_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$")
COMPUTE_TYPES = ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE")
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
#: What CodeBuild does with the service role to place a build in a VPC (AWS CodeBuild user guide,
#: "Allow CodeBuild to access AWS services required to create a VPC network interface"). These
#: EC2 actions take no resource-level scoping; the permission on the interfaces is scoped below.
VPC_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
               "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs")


def runner_label(project_name: str) -> str:
    """The ``runs-on`` label of a job for this runner, as a workflow writes it."""
    return f"codebuild-{project_name}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


@dataclass(frozen=True)
class DeployRunnerArgs:
    """Arguments of :class:`DeployRunner`."""

    project_name: str
    """CodeBuild project name; jobs select the runner with the label
    ``codebuild-<project_name>-${{ github.run_id }}-${{ github.run_attempt }}``."""
    repository: str
    """``owner/name`` of the GitHub repository whose workflow jobs the runner takes."""
    connection_arn: str
    """AWS CodeConnections connection to GitHub (the GitHub App installed on the repository),
    created and authorized once in the console."""
    vpc_id: pulumi.Input[str]
    """VPC of the builds."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets with NAT egress where builds run (the compute subnets). At least 1."""
    logs_kms_key_arn: pulumi.Input[str]
    """KMS key of the build log group (its policy must allow ``logs.<region>.amazonaws.com``)."""
    log_retention_days: int = 365
    """Build log retention. Default: 365."""
    compute_type: str = "BUILD_GENERAL1_MEDIUM"
    """Build instance size. Default: BUILD_GENERAL1_MEDIUM (4 vCPU, 7 GiB: the AWS and Kubernetes
    provider plugins of a whole-stack ``pulumi up`` outgrow the 3 GiB of SMALL)."""
    image: str = "aws/codebuild/standard:7.0"
    """Build image. Default: aws/codebuild/standard:7.0 (Ubuntu 22.04)."""
    build_timeout_minutes: int = 120
    """Longest job (the ``pulumi-up`` job's own timeout is 120). Default: 120 (5..2160)."""
    queued_timeout_minutes: int = 60
    """How long a job may wait for a build slot. Default: 60 (5..480)."""
    concurrent_builds: int = 2
    """Builds at once: a deploy and a preview. Deploys of one stack never overlap anyway (the
    workflow's concurrency group). Default: 2 (1..20)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every AWS resource. Default: none."""


class DeployRunner(pulumi.ComponentResource):
    """CodeBuild project + webhook (a GitHub Actions runner in the VPC), its security group, log group
    and service role."""

    project_name: pulumi.Output[str]
    label: str
    security_group_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        tags = dict(args.tags)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/codebuild/{args.project_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_kms_key_arn,
            tags=tags,
            opts=child_opts(self),
        )
        # partition, region and account of this stack, read from an ARN (no extra API call)
        arn_parts = log_group.arn.apply(lambda arn: arn.split(":"))
        project_arn = arn_parts.apply(
            lambda p: f"arn:{p[1]}:codebuild:{p[3]}:{p[4]}:project/{args.project_name}")
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pulumi.Output.all(arn_parts, project_arn).apply(
                lambda a: codebuild_trust(a[0][4], a[1])),
            description=f"CodeBuild service role of the GitHub Actions runner {args.project_name}: logs, "
                        "network interfaces and the GitHub connection only (jobs assume their own roles)",
            tags=tags,
            opts=child_opts(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=role.name,
            policy=pulumi.Output.all(arn_parts, log_group.arn, *args.subnet_ids).apply(
                lambda a: service_role_policy(a[1], [f"arn:{a[0][1]}:ec2:{a[0][3]}:{a[0][4]}:subnet/{s}"
                                                     for s in a[2:]], args.connection_arn,
                                              f"arn:{a[0][1]}:ec2:{a[0][3]}:{a[0][4]}:network-interface/*")),
            opts=child_opts(self),
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"GitHub Actions runner {args.project_name}: no ingress, HTTPS egress",
            tags=merge_tags(tags, Name=args.project_name),
            opts=child_opts(self),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress-https",
            security_group_id=sg.id,
            ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4="0.0.0.0/0",
            description="GitHub, PyPI, Pulumi backend, AWS APIs (NAT / VPC endpoints), the EKS API",
            tags=tags,
            opts=child_opts(self),
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=args.project_name,
            description=f"GitHub Actions runner for {args.repository} inside the VPC (private EKS endpoint)",
            service_role=role.arn,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                compute_type=args.compute_type,
                image=args.image,
                type="LINUX_CONTAINER",
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{args.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=args.connection_arn),
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=log_group.name),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=list(args.subnet_ids), security_group_ids=[sg.id]),
            build_timeout=args.build_timeout_minutes,
            queued_timeout=args.queued_timeout_minutes,
            concurrent_build_limit=args.concurrent_builds,
            tags=tags,
            # CodeBuild checks the VPC permissions of the service role when the project is saved.
            opts=child_opts(self, depends_on=[policy]),
        )
        aws.codebuild.Webhook(
            f"{name}-webhook",
            project_name=project.name,
            build_type="BUILD",
            filter_groups=[aws.codebuild.WebhookFilterGroupArgs(filters=[
                aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED"),
            ])],
            opts=child_opts(self),
        )

        self.project_name = project.name
        self.label = runner_label(args.project_name)
        self.security_group_id = sg.id
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs({
            "project_name": self.project_name,
            "label": self.label,
            "security_group_id": self.security_group_id,
            "role_arn": self.role_arn,
            "log_group_name": self.log_group_name,
        })


# ---- pure helpers (tested without mocks) ----------------------------------------------------


def codebuild_trust(account: str, project_arn: str) -> str:
    """Trust policy: CodeBuild, for this project of this account only (no confused deputy)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "codebuild.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": project_arn}},
    }]})


def service_role_policy(log_group_arn: str, subnet_arns: Sequence[str], connection_arn: str,
                        interfaces_arn: str) -> str:
    """What the runner's builds need and nothing more: their log group, their network interfaces
    in the given subnets, GitHub tokens from the connection."""
    service = connection_arn.split(":")[2]  # codeconnections, or the older codestar-connections
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "BuildLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
        {"Sid": "VpcNetworkInterfaces", "Effect": "Allow", "Action": list(VPC_ACTIONS), "Resource": "*"},
        {"Sid": "VpcNetworkInterfacePermission", "Effect": "Allow",
         "Action": "ec2:CreateNetworkInterfacePermission", "Resource": interfaces_arn,
         "Condition": {"StringEquals": {"ec2:Subnet": list(subnet_arns),
                                        "ec2:AuthorizedService": "codebuild.amazonaws.com"}}},
        {"Sid": "GitHubConnection", "Effect": "Allow",
         "Action": [f"{service}:GetConnectionToken", f"{service}:GetConnection"], "Resource": connection_arn},
    ]})


def validate_runner_args(a: DeployRunnerArgs) -> list[tuple[str, Any, str]]:
    """Every problem as ``(field, value, allowed)``."""
    errs: list[tuple[str, Any, str]] = []
    if not _PROJECT.match(a.project_name):
        errs.append(("project_name", a.project_name, "2..255 of A-Z a-z 0-9 - _, starting alphanumeric"))
    if not REPOSITORY.match(a.repository):
        errs.append(("repository", a.repository, "owner/name of a GitHub repository"))
    if not CONNECTION_ARN.match(a.connection_arn):
        errs.append(("connection_arn", a.connection_arn,
                     "an AWS CodeConnections connection ARN "
                     "(arn:aws:codeconnections:<region>:<account>:connection/<id>)"))
    if not a.subnet_ids:
        errs.append(("subnet_ids", [], "at least one private subnet with NAT egress"))
    if a.log_retention_days not in RETENTION_DAYS:
        errs.append(("log_retention_days", a.log_retention_days, "a CloudWatch Logs retention value such as 365"))
    if a.compute_type not in COMPUTE_TYPES:
        errs.append(("compute_type", a.compute_type, ", ".join(COMPUTE_TYPES)))
    if not 5 <= a.build_timeout_minutes <= 2160:
        errs.append(("build_timeout_minutes", a.build_timeout_minutes, "5..2160"))
    if not 5 <= a.queued_timeout_minutes <= 480:
        errs.append(("queued_timeout_minutes", a.queued_timeout_minutes, "5..480"))
    if not 1 <= a.concurrent_builds <= 20:
        errs.append(("concurrent_builds", a.concurrent_builds, "1..20"))
    return errs


def _validate(a: DeployRunnerArgs) -> None:
    errs = validate_runner_args(a)
    if errs:
        raise ArgsError.of([problem_line("DeployRunnerArgs", *e) for e in errs])
