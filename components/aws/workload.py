"""The workload kit of the stores that run their own servers (Neo4j, Qdrant) on EKS or on EC2.

* **Placement** — :class:`EksPlacement` (pods on an :class:`~components.aws.eks.EksCluster`) or
  :class:`Ec2Placement` (one instance per member), the one type ``GraphArgs.placement`` and
  ``VectorArgs.placement`` take; :func:`validate_placement` checks either.
* **Kubernetes** — the pod/container security contexts, the workload namespace, scheduling on a
  tainted node group with a zone spread, Services, PodDisruptionBudgets, the default-deny
  NetworkPolicy, claim templates, the backup jobs' scratch claim, IRSA role and CronJob (every
  object through the cluster's provider, parented to the store's component). :func:`pod_security_context`,
  :func:`container_security_context` and :func:`workload_namespace` serve the in-cluster monitoring too.
* **EC2** — :class:`Ec2Fleet`: security group, private Route 53 zone of member names, instance role
  scoped to the backup bucket and the store's secret(s), and members (instance + encrypted data volume
  that outlives it); :data:`DATA_VOLUME_SCRIPT` formats and mounts that volume at boot.
* **Secrets and backups** — :func:`generated_secret` (a random value in Secrets Manager, KMS) and
  :func:`backup_bucket_policy` (one bucket prefix and its key).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.aws.eks import EksCluster, is_graviton
from components.base import child_opts, merge_tags

OptsFactory = Callable[[], pulumi.ResourceOptions]
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.31.0"
#: $HOME of the AWS CLI in the backup jobs (an emptyDir that :func:`cron_job` adds to every job).
CLI_HOME = "/home/backup"
SSM_AL2023_ARM64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
SSM_AL2023_X86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


# ---- placement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EksPlacement:
    """Members as pods on an EKS cluster: one tainted node group per store (``workload=<store>``)."""

    cluster: EksCluster
    """The EKS cluster: its Kubernetes provider, encrypted StorageClass and IRSA. Required."""
    namespace: str | None = None
    """Namespace of the members. Default: the store's name (``graph``, ``vector``)."""
    app_namespace: str = "app"
    """Namespace whose pods may reach the client ports (NetworkPolicy). Default: app."""
    metrics_namespace: str | None = "monitoring"
    """Namespace allowed to scrape the metrics port; None: nobody. Default: monitoring."""


@dataclass(frozen=True)
class Ec2Placement:
    """One EC2 instance per member in private subnets, found by name through a private Route 53 zone."""

    vpc_id: pulumi.Input[str]
    """VPC of the instances and of the private zone. Required."""
    ebs_kms_key_arn: pulumi.Input[str]
    """KMS key of root and data volumes. Required."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private compute subnets; members go round-robin. Required (at least 1)."""
    availability_zones: Sequence[str]
    """AZ of each subnet, same order (data volumes are zonal). Required."""
    app_security_group_id: pulumi.Input[str] | None = None
    """Security group allowed to the client ports. Default: none (use the store's ``allow_from``)."""
    instance_type: str | None = None
    """Instance type (of Neo4j primaries). Default: the store's (Neo4j r7g.xlarge, Qdrant r7g.large)."""
    ami_id: pulumi.Input[str] | None = None
    """AMI. Default: the latest AL2023 AMI (arm64 for Graviton), read from its public SSM parameter by an
    invoke when the program runs; later AMI releases do not replace instances (``ignore_changes``)."""
    zone_name: str | None = None
    """Private Route 53 zone of member names. Default: ``<store>.data-platform.internal``."""


Placement = EksPlacement | Ec2Placement
"""Where a self-run store's members run."""


def validate_placement(p: Any) -> list[tuple[str, Any, str]]:
    """Every problem of a placement as ``(field, value, allowed)``; fields are named ``placement.<field>``."""
    if not isinstance(p, EksPlacement | Ec2Placement):
        return [("placement", p, "EksPlacement(cluster=...) or Ec2Placement(vpc_id=..., ...)")]
    errs: list[tuple[str, Any, str]] = []
    if isinstance(p, EksPlacement):
        if p.cluster is None:
            errs.append(("placement.cluster", None, "an EksCluster"))
        return errs
    if p.vpc_id is None:
        errs.append(("placement.vpc_id", None, "the VPC id"))
    if p.ebs_kms_key_arn is None:
        errs.append(("placement.ebs_kms_key_arn", None, "the EBS KMS key ARN"))
    if not p.subnet_ids or len(p.subnet_ids) != len(p.availability_zones):
        errs.append(("placement.availability_zones", list(p.availability_zones),
                     f"one AZ per subnet ({len(p.subnet_ids)} subnets, at least 1)"))
    return errs


# ---- pod-spec helpers ------------------------------------------------------------------------




def pod_security_context(uid: int, gid: int, fs_group: int) -> k8s.core.v1.PodSecurityContextArgs:
    """Non-root pod with the runtime's default seccomp profile."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=uid, run_as_group=gid, fs_group=fs_group,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context(read_only_root: bool) -> k8s.core.v1.SecurityContextArgs:
    """No privilege escalation, every capability dropped."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=read_only_root,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def workload_namespace(owner: pulumi.Resource, name: str, namespace: str, workload: str, cluster: EksCluster,
                       *, protect: bool) -> tuple[k8s.core.v1.Namespace, Callable[[], pulumi.ResourceOptions]]:
    """The namespace of a stateful workload (protected in production) and a factory of child options
    that put an object in it: parented to ``owner``, through the cluster's provider, after the namespace."""
    ns = k8s.core.v1.Namespace(
        f"{name}-ns", metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels={"workload": workload}),
        opts=child_opts(owner, stateful=True, protect=protect, provider=cluster.provider))

    def after_ns() -> pulumi.ResourceOptions:
        return child_opts(owner, provider=cluster.provider, depends_on=[ns])

    return ns, after_ns


def workload_scheduling(workload: str) -> dict[str, Any]:
    """``node_selector`` + ``tolerations`` for a tainted workload node group."""
    return {
        "node_selector": {"workload": workload},
        "tolerations": [k8s.core.v1.TolerationArgs(key="workload", operator="Equal", value=workload,
                                                   effect="NoSchedule")],
    }


def zone_spread(labels: Mapping[str, str]) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
    """Even spread over zones (hard) and over nodes (hard: one member per node)."""
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1, topology_key=key, when_unsatisfiable="DoNotSchedule",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)))
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def backup_bucket_policy(bucket_name: str, prefix: str, kms_key_arn: str) -> str:
    """IAM policy JSON scoped to one backup bucket (and prefix) and its KMS key only."""
    arn = f"arn:aws:s3:::{bucket_name}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}}},
        {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": f"{arn}/{prefix}/*"},
        {"Sid": "Key", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": kms_key_arn},
    ]})


# ---- secrets --------------------------------------------------------------------------------


#: Why the Neo4j password and the Qdrant API key have no rotation schedule (policy secret-rotation-or-exemption).
#: AWS tag values allow letters, digits, spaces and ``_ . : / = + - @`` only.
GENERATED_SECRET_ROTATION_REASON = ("no schedule: the store reads it at start so a change needs a coordinated "
                                    "restart of its members - manual rotation until issue 17 items 3-4")


def generated_secret(parent: pulumi.Resource, name: str, kms_key_arn: pulumi.Input[str], tags: dict[str, str],
                     protect: bool, *, path: str, description: str, length: int = 32
                     ) -> tuple[aws.secretsmanager.Secret, pulumi.Output[str]]:
    """A random value kept in Secrets Manager (KMS); returns the secret and the value as a Pulumi secret.

    The secret is named ``<project>-<stack>/<path>-<unique suffix>``."""
    pw = random.RandomPassword(name, length=length, special=False, opts=child_opts(parent, stateful=True,
                                                                                   protect=protect))
    value = as_secret(pw.result)
    secret = _stored_secret(parent, name, value, kms_key_arn, tags, protect, path=path, description=description,
                            rotation_exempt=GENERATED_SECRET_ROTATION_REASON)
    return secret, value


def _stored_secret(parent: pulumi.Resource, name: str, value: pulumi.Output[str], kms_key_arn: pulumi.Input[str],
                   tags: dict[str, str], protect: bool, *, path: str, description: str,
                   rotation_exempt: str) -> aws.secretsmanager.Secret:
    """``value`` as a Secrets Manager secret (KMS) named ``<project>-<stack>/<path>-<unique suffix>``."""
    # name_prefix, not name: a deleted secret keeps its name for the whole recovery window (30 days), so a
    # destroy-and-recreate with a fixed name fails; AWS appends a unique suffix to the readable path.
    secret = aws.secretsmanager.Secret(name, name_prefix=f"{pulumi.get_project()}-{pulumi.get_stack()}/{path}-",
                                       description=description, kms_key_id=kms_key_arn,
                                       recovery_window_in_days=30, tags={**tags, "rotation-exempt": rotation_exempt},
                                       opts=child_opts(parent, stateful=True, protect=protect))
    aws.secretsmanager.SecretVersion(name, secret_id=secret.id, secret_string=value,
                                     opts=child_opts(parent, stateful=True, protect=protect))
    return secret


def generated_json_secret(parent: pulumi.Resource, name: str, keys: Sequence[str], kms_key_arn: pulumi.Input[str],
                          tags: dict[str, str], protect: bool, *, path: str, description: str, rotation_exempt: str,
                          length: int = 32) -> tuple[aws.secretsmanager.Secret, dict[str, pulumi.Output[str]]]:
    """Several random values packed in one Secrets Manager secret (KMS) as a JSON object ``{key: value}``: one
    secret per store rather than one per login (each secret is billed per month). ``rotation_exempt`` is the
    reason the secret has no rotation schedule (policy ``secret-rotation-or-exemption``; AWS tag value
    characters only). Returns the secret and each value as a Pulumi secret, by key."""
    values = {key: as_secret(random.RandomPassword(
        f"{name}-{key}", length=length, special=False,
        opts=child_opts(parent, stateful=True, protect=protect)).result) for key in keys}
    document = pulumi.Output.all(**values).apply(lambda v: json.dumps({k: v[k] for k in keys}))
    secret = _stored_secret(parent, name, as_secret(document), kms_key_arn, tags, protect, path=path,
                            description=description, rotation_exempt=rotation_exempt)
    return secret, values


def as_secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """Mark a value secret (the mock runtime ignores provider-side secret outputs, so be explicit)."""
    return pulumi.Output.secret(value)


# ---- Kubernetes objects of a store ----------------------------------------------------------


def config_sha(text: str) -> str:
    """Short digest of a rendered file, as a pod-template annotation: a new file rolls the pods."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pvc_template(name: str, cluster: EksCluster, gb: int) -> k8s.core.v1.PersistentVolumeClaimArgs:
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"], storage_class_name=cluster.storage_class_name,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{gb}Gi"})))


def scratch_volume(rname: str, volume: str, claim: str, ns: str, labels: Mapping[str, str], cluster: EksCluster,
                    gb: int, opts: OptsFactory) -> k8s.core.v1.VolumeArgs:
    """Scratch space of a backup job: pod volume ``volume`` on one claim of the cluster's encrypted
    StorageClass, reused by every run (the scripts empty it first).

    Not an emptyDir: that lives on the node's 50 GiB root volume, and a backup larger than its free space
    gets the pod evicted. Not a generic ephemeral volume either: every run would provision an EBS volume,
    and the StorageClass retains released volumes in production, so each run would leave one behind."""
    pvc = k8s.core.v1.PersistentVolumeClaim(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=claim, namespace=ns, labels=dict(labels)),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"], storage_class_name=cluster.storage_class_name,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{gb}Gi"})),
        opts=opts())
    claim_name = pvc.metadata.apply(lambda m: str(m.name))
    return k8s.core.v1.VolumeArgs(
        name=volume, persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim_name))


def service(parent: pulumi.Resource, rname: str, name: str, ns: str, selector: Mapping[str, str],
             ports: Sequence[tuple[str, int]], opts: OptsFactory, headless: bool = False) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=dict(selector)),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=True if headless else None,
            selector=dict(selector),
            ports=[k8s.core.v1.ServicePortArgs(name=n, port=p, target_port=p, protocol="TCP") for n, p in ports]),
        opts=opts())


def disruption_budget(parent: pulumi.Resource, rname: str, name: str, ns: str, selector: Mapping[str, str],
         opts: OptsFactory, *, min_available: int | None = None, max_unavailable: int | None = None
         ) -> k8s.policy.v1.PodDisruptionBudget:
    return k8s.policy.v1.PodDisruptionBudget(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            min_available=min_available, max_unavailable=max_unavailable,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
            unhealthy_pod_eviction_policy="AlwaysAllow"),
        opts=opts())


def _ports(ports: Sequence[int]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


def network_policy(parent: pulumi.Resource, rname: str, name: str, ns: str, labels: Mapping[str, str],
                    opts: OptsFactory, *, app_namespace: str, client_ports: Sequence[int],
                    peer_ports: Sequence[int], backup_labels: Mapping[str, str], backup_ports: Sequence[int],
                    metrics_namespace: str | None, metrics_ports: Sequence[int],
                    jobs: Sequence[tuple[Mapping[str, str], Sequence[int]]] = ()) -> k8s.networking.v1.NetworkPolicy:
    """Ingress to the store's pods: clients from the app namespace, peers from each other, the backup
    job on its ports, other jobs of the store (``jobs``: pod labels and ports) on theirs, Prometheus from the
    monitoring namespace. Everything else is denied."""
    ns_sel = "kubernetes.io/metadata.name"
    rules = [
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={ns_sel: app_namespace}))],
            ports=_ports(client_ports)),
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels=dict(labels)))],
            ports=_ports(peer_ports)),
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels=dict(backup_labels)))],
            ports=_ports(backup_ports)),
        *(k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels=dict(job_labels)))],
            ports=_ports(job_ports)) for job_labels, job_ports in jobs),
    ]
    if metrics_namespace:
        rules.append(k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={ns_sel: metrics_namespace}))],
            ports=_ports(metrics_ports)))
    return k8s.networking.v1.NetworkPolicy(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
            policy_types=["Ingress"], ingress=rules),
        opts=opts())


def backup_irsa(owner: pulumi.Resource, cluster: EksCluster, sa: str, ns: str, bucket: pulumi.Input[str],
                 prefix: str, kms: pulumi.Input[str]) -> aws.iam.Role:
    policy = pulumi.Output.all(bucket, kms).apply(lambda v: backup_bucket_policy(v[0], prefix, v[1]))
    return cluster.irsa_role("backup", ns, sa, policy, parent=owner)


def cli_home() -> tuple[k8s.core.v1.EnvVarArgs, k8s.core.v1.VolumeMountArgs]:
    """``HOME`` and its mount for a backup job's container that runs the AWS CLI. The CLI creates ``~/.aws``
    even when IRSA supplies the credentials, and the jobs run as a uid without a home directory: with HOME
    unset it fails on '/.aws' and nothing reaches S3 (aws-cli #9075)."""
    return (k8s.core.v1.EnvVarArgs(name="HOME", value=CLI_HOME),
            k8s.core.v1.VolumeMountArgs(name="cli-home", mount_path=CLI_HOME))


def _with_tmp(c: k8s.core.v1.ContainerArgs) -> k8s.core.v1.ContainerArgs:
    """``c`` with the job's ``/tmp`` emptyDir mounted (bash here-documents, JVM and CLI scratch: the root
    filesystem is read-only)."""
    out = copy.copy(c)
    out.volume_mounts = [*(c.volume_mounts or []), k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]  # type: ignore[misc]
    return out


def cron_job(parent: pulumi.Resource, rname: str, name: str, ns: str, schedule: str, labels: Mapping[str, str],
              sa: k8s.core.v1.ServiceAccount, opts: OptsFactory, *, container: k8s.core.v1.ContainerArgs,
              init_containers: Sequence[k8s.core.v1.ContainerArgs] = (),
              volumes: Sequence[k8s.core.v1.VolumeArgs] = (), uid: int = 1000) -> k8s.batch.v1.CronJob:
    return k8s.batch.v1.CronJob(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=dict(labels)),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            starting_deadline_seconds=3600,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2,
                active_deadline_seconds=6 * 3600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels)),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=sa.metadata.apply(lambda m: m.name),
                        restart_policy="OnFailure",
                        init_containers=[_with_tmp(c) for c in init_containers] or None,
                        containers=[_with_tmp(container)],
                        volumes=[*volumes, k8s.core.v1.VolumeArgs(  # see cli_home
                            name="cli-home", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
                            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                size_limit="256Mi"))],
                        security_context=pod_security_context(uid, uid, uid),
                        # The jobs never call the Kubernetes API. IRSA does not need the API token: the EKS pod
                        # identity webhook adds its own projected volume (aws-iam-token, audience
                        # sts.amazonaws.com) and AWS_WEB_IDENTITY_TOKEN_FILE to pods whose ServiceAccount has
                        # the role-arn annotation, whatever automountServiceAccountToken says (that field only
                        # governs the kube-api-access volume).
                        automount_service_account_token=False,
                    ))))),
        opts=opts())


# ---- EC2 ------------------------------------------------------------------------------------


class Ec2Fleet:
    """The EC2 side of a store: security group, private zone, instance role, and members."""

    def __init__(self, parent: pulumi.ComponentResource, name: str, *, vpc_id: pulumi.Input[str] | None,
                 zone_name: str, tags: dict[str, str], protect: bool, description: str) -> None:
        self.parent, self.name, self.tags, self.protect, self.zone_name = parent, name, tags, protect, zone_name
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=vpc_id, description=description,
            tags=merge_tags(tags, Name=f"{name}-members"), opts=child_opts(parent))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress", security_group_id=self.security_group.id, ip_protocol="-1", cidr_ipv4="0.0.0.0/0",
            description="package repositories and AWS APIs (through NAT / VPC endpoints)", tags=tags,
            opts=child_opts(parent))
        assert vpc_id is not None
        self.zone = aws.route53.Zone(
            f"{name}-zone", name=zone_name, comment=f"{description}: member names",
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=vpc_id)], tags=tags, opts=child_opts(parent))
        self._rules = 0
        self._amis: dict[str, pulumi.Output[str]] = {}

    def self_ingress(self, ports: Sequence[int]) -> None:
        for p in ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{self.name}-self-{p}", security_group_id=self.security_group.id, ip_protocol="tcp",
                from_port=p, to_port=p, referenced_security_group_id=self.security_group.id,
                description=f"members to members :{p}", tags=self.tags, opts=child_opts(self.parent))

    def ingress_from(self, sg_id: pulumi.Input[str], ports: Sequence[int], description: str) -> None:
        self._rules += 1
        for p in ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{self.name}-from-{self._rules}-{p}", security_group_id=self.security_group.id, ip_protocol="tcp",
                from_port=p, to_port=p, referenced_security_group_id=sg_id, description=f"{description} :{p}",
                tags=self.tags, opts=child_opts(self.parent))

    def instance_role(self, bucket: pulumi.Input[str], prefix: str, backup_kms: pulumi.Input[str],
                      secret_arns: Sequence[pulumi.Input[str]], secrets_kms: pulumi.Input[str]) -> aws.iam.Role:
        """The members' role: SSM, the backup bucket prefix and its key, and read access to ``secret_arns``
        (the store's own Secrets Manager secrets) through Secrets Manager only."""
        role = aws.iam.Role(
            f"{self.name}-instance-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=self.tags, opts=child_opts(self.parent))
        aws.iam.RolePolicyAttachment(f"{self.name}-ssm", role=role.name,
                                     policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                                     opts=child_opts(self.parent))
        policy = pulumi.Output.all(bucket, backup_kms, secrets_kms, *secret_arns).apply(
            lambda v: _instance_policy(v[0], prefix, v[1], v[3:], v[2]))
        aws.iam.RolePolicy(f"{self.name}-backup", role=role.name, policy=policy, opts=child_opts(self.parent))
        self.profile = aws.iam.InstanceProfile(f"{self.name}-profile", role=role.name, tags=self.tags,
                                               opts=child_opts(self.parent))
        return role

    def member(self, member: str, i: int, instance_type: str, subnet_ids: Sequence[pulumi.Input[str]],
               azs: Sequence[str], ami_id: pulumi.Input[str] | None, volume_gb: int, kms: pulumi.Input[str],
               user_data: pulumi.Input[str]) -> aws.ec2.Instance:
        subnet, az = subnet_ids[i % len(subnet_ids)], azs[i % len(azs)]
        ami = ami_id if ami_id is not None else \
            self._latest_al2023(SSM_AL2023_ARM64 if is_graviton(instance_type) else SSM_AL2023_X86)
        mtags = merge_tags(self.tags, Name=f"{self.name}-{member}", member=member)
        inst = aws.ec2.Instance(
            f"{self.name}-{member}",
            ami=ami,
            instance_type=instance_type,
            subnet_id=subnet,
            vpc_security_group_ids=[self.security_group.id],
            associate_public_ip_address=False,
            iam_instance_profile=self.profile.name,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            # Root volume tags here, not volume_tags: volume_tags would also claim the attached data volume,
            # whose own tags (aws.ebs.Volume) it would fight on every update (pulumi_aws volume_tags docstring).
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3", volume_size=30, encrypted=True, kms_key_id=kms, delete_on_termination=True,
                tags=merge_tags(mtags, Name=f"{self.name}-{member}-root")),
            monitoring=True,
            ebs_optimized=True,
            user_data=user_data,
            user_data_replace_on_change=True,
            tags=mtags,
            # A later AMI release must not replace a running member. A replacement (user data) deletes first:
            # the data volume can be attached to one instance only, so a new instance created before the old
            # one is gone could never get it (VolumeInUse). The engine deletes the attachment first (its
            # instance_id forces a new one) and re-creates it for the new instance; the volume stays.
            opts=child_opts(self.parent, ignore_changes=["ami"], delete_before_replace=True))
        vol = aws.ebs.Volume(
            f"{self.name}-{member}-data", availability_zone=az, size=volume_gb, type="gp3", encrypted=True,
            kms_key_id=kms, tags=merge_tags(self.tags, Name=f"{self.name}-{member}-data", member=member),
            opts=child_opts(self.parent, stateful=True, protect=self.protect))
        aws.ec2.VolumeAttachment(f"{self.name}-{member}-data", device_name="/dev/sdf", volume_id=vol.id,
                                 instance_id=inst.id, stop_instance_before_detaching=True,
                                 opts=child_opts(self.parent))
        aws.route53.Record(f"{self.name}-{member}", zone_id=self.zone.zone_id, name=f"{member}.{self.zone_name}",
                           type="A", ttl=60, records=[inst.private_ip], opts=child_opts(self.parent))
        return inst

    def _latest_al2023(self, parameter: str) -> pulumi.Output[str]:
        """The AMI id in a public AL2023 SSM parameter, read by the program (one invoke per parameter).

        Not ``ami="resolve:ssm:<parameter>"``: with ``root_block_device`` set the provider calls
        DescribeImages on that literal and fails with InvalidAMIID.Malformed (terraform-provider-aws #43488).
        ``insecure_value``: ``value`` is always marked secret, which would hide a public AMI id in every diff."""
        if parameter not in self._amis:
            self._amis[parameter] = aws.ssm.get_parameter_output(
                name=parameter, opts=pulumi.InvokeOutputOptions(parent=self.parent)).insecure_value
        return self._amis[parameter]


def _instance_policy(bucket: str, prefix: str, backup_kms: str, secret_arns: Sequence[str], secrets_kms: str) -> str:
    doc = json.loads(backup_bucket_policy(bucket, prefix, backup_kms))
    doc["Statement"] += [
        {"Sid": "ReadOwnSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": secret_arns[0] if len(secret_arns) == 1 else list(secret_arns)},
        {"Sid": "DecryptOwnSecret", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": secrets_kms,
         "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
    ]
    return json.dumps(doc)



DATA_VOLUME_SCRIPT = """#!/bin/bash
# Wait for the data volume (attached after boot), format it once, mount it (rendered by data-platform)
set -euo pipefail
dev="$1"; mnt="$2"
for _ in $(seq 1 120); do [ -e "$dev" ] && break; sleep 5; done
[ -e "$dev" ] || { echo "data volume $dev never appeared" >&2; exit 1; }
blkid "$dev" >/dev/null 2>&1 || mkfs.xfs -q "$dev"
mkdir -p "$mnt"
uuid="$(blkid -s UUID -o value "$dev")"
grep -q "$uuid" /etc/fstab || echo "UUID=$uuid $mnt xfs defaults,noatime,nofail 0 2" >> /etc/fstab
mountpoint -q "$mnt" || mount "$mnt"
"""

