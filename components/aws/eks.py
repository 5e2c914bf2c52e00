"""The EKS cluster the stateful stores run on when a store's placement is ``eks``.

``EksCluster`` (type ``data-platform:aws:EksCluster``) creates:

* the cluster IAM role and the cluster: private API endpoint (a public one only when asked, with
  explicit CIDRs), Kubernetes secrets envelope-encrypted with the caller's KMS key, all five
  control-plane log types into a pre-created ``/aws/eks/<name>/cluster`` log group (KMS, 365 days),
  ``authentication_mode = API`` (access entries, no aws-auth ConfigMap);
* access entries: the creator's (EKS makes it at creation, ``bootstrap_creator_admin``), cluster-admin
  for ``admin_principal_arns`` (break-glass roles), ``AmazonEKSViewPolicy`` for
  ``view_principal_arns`` (the pull-request preview role; view cannot read Secrets), each named
  after its role; and, since the endpoint is private, one ingress rule on 443 to the cluster
  security group per ``api_clients`` group (the deploy runner). The Kubernetes provider waits for
  the rules and the admin entries;
* the IAM OIDC provider for IRSA. No thumbprint is pinned: for EKS issuers IAM validates the
  certificate against its own trusted CA library, and a pinned thumbprint breaks when the issuer's
  certificate rotates (pulumi-aws 7 ``thumbprint_lists`` is optional);
* the node role (worker, ECR read-only, CNI, SSM core) and one launch template per node group:
  IMDSv2 required with **hop limit 1**, so pods without host networking cannot reach the node's
  instance credentials; pods get AWS credentials through IRSA only (the EBS CSI driver and the
  backup jobs use IRSA; the CSI node plugin reads its metadata from the Kubernetes API when IMDS
  is unreachable). Encrypted gp3 root volume with the EBS key, no public IP;
* managed node groups, Graviton types on the ``AL2023_ARM_64_STANDARD`` AMI: ``system``
  (untainted, spread over the compute subnets' AZs) and, per workload (label and taint
  ``workload=<name>:NoSchedule``), **one node group per AZ**, each pinned to that AZ's subnet and
  named ``<workload>-<az>``. The workloads are StatefulSets on zonal EBS volumes: a node group that
  spans AZs replaces a lost node wherever its Auto Scaling group likes, so a pod whose volume sits
  in the lost node's AZ stays Pending. Pinned groups always bring a node back into the same AZ.
  ``nodes`` is split evenly over the AZs in order (3 over 3 AZs: one each; 2 over 3: the first
  two; 5 over 3: 2, 2, 1); one launch template per workload serves all its zonal groups;
* the ``aws-ebs-csi-driver`` add-on with an IRSA role (``AmazonEBSCSIDriverPolicy`` + a grant on
  the EBS key), a ``kubernetes.Provider`` bound to this cluster (kubeconfig with an ``aws eks
  get-token`` exec plugin: no token is stored in state) and the default StorageClass
  ``encrypted-gp3`` (gp3, KMS, WaitForFirstConsumer, expansion on);
* the ``vpc-cni`` add-on as an EKS managed add-on with ``enableNetworkPolicy: "true"``, so the
  stores' NetworkPolicies are enforced (the network policy agent runs beside ``aws-node``); it
  keeps the node role's ``AmazonEKS_CNI_Policy`` (no IRSA role of its own). CoreDNS and
  kube-proxy stay self-managed.

Every Kubernetes object of the stores must use :attr:`EksCluster.provider`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import ArgsError, child_opts, merge_tags, problem_line

TYPE_TOKEN = "data-platform:aws:EksCluster"
LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")
STORAGE_CLASS = "encrypted-gp3"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_GROUP = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_ITYPE = re.compile(r"^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)$")
_VERSION = re.compile(r"^1\.(29|3[0-5])$")
_AZ = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_POLICY = "arn:aws:iam::aws:policy/"
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"
#: An IAM role or user ARN (paths allowed, as access entries accept them; no STS session ARNs).
PRINCIPAL_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
NODE_POLICIES: tuple[str, ...] = (
    "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy",
    "AmazonSSMManagedInstanceCore",
)
#: ``configuration_values`` of the managed ``vpc-cni`` add-on: enforce NetworkPolicies (the add-on's
#: schema takes the flag as the string "true").
VPC_CNI_CONFIGURATION: dict[str, str] = {"enableNetworkPolicy": "true"}


def is_graviton(instance_type: str) -> bool:
    """True for Graviton (arm64) types: the family's attribute letters contain ``g`` (m7g, r7gd, c7gn, t4g)."""
    m = _ITYPE.match(instance_type)
    return bool(m and "g" in m.group(3))


def ami_type(instance_type: str) -> str:
    """The AL2023 managed-node-group AMI type for an instance type."""
    return "AL2023_ARM_64_STANDARD" if is_graviton(instance_type) else "AL2023_x86_64_STANDARD"


@dataclass(frozen=True)
class WorkloadNodeGroup:
    """A tainted node group dedicated to one workload."""

    name: str
    """Workload name, used as label and taint ``workload=<name>:NoSchedule`` (e.g. ``graph``)."""
    instance_type: str
    """Node instance type, e.g. ``r7g.xlarge``."""
    nodes: int
    """Desired nodes = members of the workload (one pod per node). 1..50."""
    root_volume_gb: int = 50
    """Root volume (images, logs) in GiB; data lives on PVCs. Default: 50."""


@dataclass(frozen=True)
class EksClusterArgs:
    """Arguments of :class:`EksCluster`."""

    cluster_name: str
    """EKS cluster name (also names the log group ``/aws/eks/<name>/cluster``)."""
    region: str
    """Region of the cluster, written into the kubeconfig's ``aws eks get-token`` call."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private compute subnets, one per AZ (control-plane ENIs and nodes). At least 2."""
    secrets_kms_key_arn: pulumi.Input[str]
    """KMS key that envelope-encrypts Kubernetes secrets."""
    ebs_kms_key_arn: pulumi.Input[str]
    """KMS key of node root volumes and of the ``encrypted-gp3`` StorageClass."""
    availability_zones: Sequence[str] = ()
    """The AZ of each subnet in ``subnet_ids`` (same order); names the zonal workload node groups
    (``graph-us-east-1a``). Default: ``az1``, ``az2``, ... by position."""
    logs_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key of the control-plane log group (its policy must allow ``logs.<region>.amazonaws.com``).
    Default: ``secrets_kms_key_arn``."""
    version: str = "1.33"
    """Kubernetes version. Default: 1.33 (1.29..1.35)."""
    endpoint_public_access: bool = False
    """Expose the API endpoint publicly too. Default: False (private endpoint only)."""
    public_access_cidrs: Sequence[str] = ()
    """CIDRs allowed to a public endpoint; required (and never 0.0.0.0/0) when it is on. Default: none."""
    system_instance_type: str = "m7g.large"
    """Node type of the untainted ``system`` group. Default: m7g.large."""
    system_nodes: int = 2
    """Nodes of the ``system`` group. Default: 2 (1..10)."""
    workload_node_groups: Sequence[WorkloadNodeGroup] = ()
    """Tainted node groups, one per store on EKS. Default: none."""
    admin_principal_arns: Sequence[str] = ()
    """IAM role (or user) ARNs given ``AmazonEKSClusterAdminPolicy``, cluster scope, through access
    entries named after the role (``<name>-admin-<role name>``): break-glass roles, and the deploy
    role when it did not create the cluster. Never the creator while ``bootstrap_creator_admin``
    is True: EKS already made its entry and allows one entry per principal. Default: none."""
    view_principal_arns: Sequence[str] = ()
    """IAM role ARNs given ``AmazonEKSViewPolicy``, cluster scope (``<name>-view-<role name>``): get,
    list and watch of most objects, **not Secrets** (the pull-request preview role). Default: none."""
    bootstrap_creator_admin: bool = True
    """Give the identity that creates the cluster (the Pulumi deployer, which must then create the
    Kubernetes objects) cluster-admin. Changing it replaces the cluster (the provider forces a new
    one), so it stays as the cluster was created. Default: True."""
    api_clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Security groups admitted to the private API endpoint on 443, by name: one ingress rule each
    on the cluster security group (``<name>-api-<key>``), and the Kubernetes provider waits for
    them. The deploy runner's group goes here. Default: none."""
    log_retention_days: int = 365
    """Control-plane log retention. Default: 365."""
    storage_reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    """Reclaim policy of ``encrypted-gp3``. Default: Retain (volumes outlive their claims)."""
    protect: bool = False
    """Protect and retain the cluster, log group and StorageClass (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every AWS resource. Default: none."""


class EksCluster(pulumi.ComponentResource):
    """EKS cluster, node groups, EBS CSI, IRSA and the Kubernetes provider the stores use."""

    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    storage_class_name: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._args = args
        tags = dict(args.tags)
        self._tags = tags
        keep = args.protect

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=_trust("eks.amazonaws.com"),
            description=f"EKS control plane of {args.cluster_name}",
            tags=tags,
            opts=child_opts(self),
        )
        attach = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy", role=cluster_role.name, policy_arn=_POLICY + "AmazonEKSClusterPolicy",
            opts=child_opts(self),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-cluster-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_kms_key_arn if args.logs_kms_key_arn is not None else args.secrets_kms_key_arn,
            tags=tags,
            opts=child_opts(self, stateful=True, protect=keep),
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.version,
            role_arn=cluster_role.arn,
            # STANDARD: at the end of standard support EKS upgrades the control plane instead of moving
            # it to extended support at 6x the hourly price (0.60 vs 0.10 USD/h). Upgrades are planned
            # work anyway; an unplanned 6x bill is not.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=args.endpoint_public_access,
                public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.secrets_kms_key_arn),
            ),
            enabled_cluster_log_types=list(LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=args.bootstrap_creator_admin,
            ),
            deletion_protection=keep or None,
            tags=tags,
            opts=child_opts(self, stateful=True, protect=keep, depends_on=[attach, log_group]),
        )
        # ---- who may use the Kubernetes API -------------------------------------------------
        admins: list[pulumi.Resource] = []  # the Kubernetes provider waits for these
        for kind, principals, policy in (("admin", args.admin_principal_arns, "AmazonEKSClusterAdminPolicy"),
                                         ("view", args.view_principal_arns, "AmazonEKSViewPolicy")):
            for principal in principals:
                key = f"{name}-{kind}-{principal_name(principal)}"
                entry = aws.eks.AccessEntry(
                    key, cluster_name=cluster.name, principal_arn=principal, type="STANDARD", tags=tags,
                    opts=child_opts(self),
                )
                association = aws.eks.AccessPolicyAssociation(
                    key,
                    cluster_name=cluster.name,
                    principal_arn=principal,
                    policy_arn=f"{ACCESS_POLICY}{policy}",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=child_opts(self, depends_on=[entry]),
                )
                if kind == "admin":
                    admins.append(association)
        # The endpoint is private: only these security groups (the deploy runner) reach it on 443.
        api_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-{client}",
                security_group_id=cluster.vpc_config.apply(lambda v: str(v.cluster_security_group_id)),
                ip_protocol="tcp", from_port=443, to_port=443, referenced_security_group_id=sg,
                description=f"Kubernetes API (443) from {client}", tags=tags, opts=child_opts(self),
            )
            for client, sg in sorted(args.api_clients.items())
        ]

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.oidc_issuer = cluster.identities.apply(lambda ids: str(ids[0].oidcs[0].issuer))  # type: ignore[index]
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child_opts(self),
        )
        self.oidc_provider_arn = oidc.arn
        self.node_security_group_id = cluster.vpc_config.apply(lambda v: str(v.cluster_security_group_id))

        # ---- nodes ---------------------------------------------------------------------------
        node_role = aws.iam.Role(
            f"{name}-node-role", assume_role_policy=_trust("ec2.amazonaws.com"),
            description=f"EKS nodes of {args.cluster_name}", tags=tags, opts=child_opts(self),
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{p}", role=node_role.name, policy_arn=_POLICY + p,
                                         opts=child_opts(self))
            for p in NODE_POLICIES
        ]
        # ---- VPC CNI as a managed add-on, with NetworkPolicy enforcement -----------------------
        # Without the CNI's network policy agent, NetworkPolicy objects are accepted but not enforced.
        # Created before the node groups (nodes come up with enforcement on); OVERWRITE adopts the
        # self-managed aws-node DaemonSet EKS bootstrapped. No IRSA role: aws-node keeps using the node
        # role, which has AmazonEKS_CNI_Policy (NODE_POLICIES).
        vpc_cni = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=cluster.name,
            addon_name="vpc-cni",
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=child_opts(self),
        )
        groups = [WorkloadNodeGroup("system", args.system_instance_type, args.system_nodes), *args.workload_node_groups]
        zones = list(zip(zone_names(args), args.subnet_ids, strict=True))
        node_groups: list[aws.eks.NodeGroup] = []
        for g in groups:
            lt = aws.ec2.LaunchTemplate(
                f"{name}-{g.name}-lt",
                description=f"{args.cluster_name} {g.name} nodes: IMDSv2 only, encrypted gp3 root",
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=g.root_volume_gb, volume_type="gp3", encrypted="true",
                        kms_key_id=args.ebs_kms_key_arn, delete_on_termination="true",
                    ),
                )],
                monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(
                        resource_type=kind, tags=merge_tags(tags, Name=f"{args.cluster_name}-{g.name}"))
                    for kind in ("instance", "volume")
                ],
                update_default_version=True,
                tags=tags,
                opts=child_opts(self),
            )
            workload = g.name != "system"
            # The system group spans every AZ; a workload gets one group per AZ (see the module doc).
            placements = [(g.name, list(args.subnet_ids), g.nodes)] if not workload else [
                (f"{g.name}-{az}", [subnet], n) for (az, subnet), n in zip(zones, zonal_counts(g.nodes, len(zones)),
                                                                           strict=True) if n]
            for group_name, subnets, nodes in placements:
                node_groups.append(aws.eks.NodeGroup(
                    f"{name}-{group_name}",
                    cluster_name=cluster.name,
                    node_group_name=group_name,
                    node_role_arn=node_role.arn,
                    subnet_ids=subnets,
                    instance_types=[g.instance_type],
                    ami_type=ami_type(g.instance_type),
                    capacity_type="ON_DEMAND",
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        desired_size=nodes, min_size=nodes, max_size=nodes + 1),
                    update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=lt.id, version=lt.latest_version.apply(str)),
                    labels={"workload": g.name},  # "system" for the untainted group; one label per workload
                    taints=[aws.eks.NodeGroupTaintArgs(key="workload", value=g.name, effect="NO_SCHEDULE")]
                    if workload else None,
                    tags=tags,
                    opts=child_opts(self, depends_on=[*node_attachments, vpc_cni]),
                ))

        # ---- EBS CSI driver (IRSA) -----------------------------------------------------------
        csi_role = self.irsa_role(
            "ebs-csi", "kube-system", "ebs-csi-controller-sa",
            pulumi.Output.from_input(args.ebs_kms_key_arn).apply(_ebs_kms_policy),
            managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            oidc_provider_arn=oidc.arn,
        )
        addon = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            service_account_role_arn=csi_role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=child_opts(self, depends_on=node_groups),
        )

        # ---- Kubernetes provider and storage class -------------------------------------------
        kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority).apply(
            lambda a: _kubeconfig(a[0], a[1], a[2]["data"] if isinstance(a[2], dict) else a[2].data, args.region))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            delete_unreachable=False,
            opts=child_opts(self, depends_on=[*node_groups, *api_rules, *admins]),
        )
        sc = k8s.storage.v1.StorageClass(
            f"{name}-{STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": args.ebs_kms_key_arn,
                "csi.storage.k8s.io/fstype": "xfs",
            },
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy=args.storage_reclaim_policy,
            opts=child_opts(self, stateful=True, protect=keep, provider=self.provider, depends_on=[addon]),
        )
        self.storage_class_name = sc.metadata.apply(lambda m: str(m.name))
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "cluster_arn": self.cluster_arn,
            "endpoint": self.endpoint,
            "oidc_issuer": self.oidc_issuer,
            "oidc_provider_arn": self.oidc_provider_arn,
            "node_security_group_id": self.node_security_group_id,
            "storage_class_name": self.storage_class_name,
        })

    def irsa_role(
        self,
        name: str,
        namespace: str,
        service_account: str,
        policy_json: pulumi.Input[str] | None,
        *,
        managed_policy_arns: Sequence[str] = (),
        parent: pulumi.Resource | None = None,
        oidc_provider_arn: pulumi.Input[str] | None = None,
    ) -> aws.iam.Role:
        """An IAM role that only ``system:serviceaccount:<namespace>:<service_account>`` of this
        cluster can assume (IRSA), with ``policy_json`` inline and ``managed_policy_arns`` attached.
        Children are parented to ``parent`` (default: this cluster component). Returns the role."""
        owner = parent or self
        prefix = owner._name
        provider_arn = oidc_provider_arn if oidc_provider_arn is not None else self.oidc_provider_arn
        trust = pulumi.Output.all(provider_arn, self.oidc_issuer).apply(
            lambda a: _irsa_trust(a[0], a[1], namespace, service_account))
        role = aws.iam.Role(
            f"{prefix}-{name}-irsa",
            assume_role_policy=trust,
            description=f"IRSA role of {namespace}/{service_account}",
            tags=self._tags,
            opts=child_opts(owner),
        )
        if policy_json is not None:
            aws.iam.RolePolicy(f"{prefix}-{name}-irsa", role=role.name, policy=policy_json,
                               opts=child_opts(owner))
        for i, arn in enumerate(managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{prefix}-{name}-irsa-{i + 1}", role=role.name, policy_arn=arn,
                                         opts=child_opts(owner))
        return role


# ---- pure helpers (tested without mocks) ----------------------------------------------------


def principal_name(arn: str) -> str:
    """The role or user name of an IAM ARN (``.../role/ops/break-glass`` -> ``break-glass``): names its
    access entry, so entries keep their names when the list changes."""
    return arn.rsplit("/", 1)[-1]


def zone_names(a: EksClusterArgs) -> list[str]:
    """The AZ name of each subnet (``availability_zones``), else ``az1``, ``az2``, ... by position."""
    return list(a.availability_zones) if a.availability_zones else [f"az{i + 1}" for i in range(len(a.subnet_ids))]


def zonal_counts(nodes: int, zones: int) -> list[int]:
    """``nodes`` split over ``zones`` AZs in order, as evenly as possible: (3, 3) -> [1, 1, 1],
    (2, 3) -> [1, 1, 0], (5, 3) -> [2, 2, 1]."""
    return [nodes // zones + (1 if i < nodes % zones else 0) for i in range(zones)]


def validate_eks_args(a: EksClusterArgs) -> list[tuple[str, Any, str]]:
    """Every problem as ``(field, value, allowed)``."""
    errs: list[tuple[str, Any, str]] = []
    if not _NAME.match(a.cluster_name):
        errs.append(("cluster_name", a.cluster_name, "1..100 of A-Z a-z 0-9 - _, starting alphanumeric"))
    if not _VERSION.match(a.version):
        errs.append(("version", a.version, "1.29..1.35"))
    if len(a.subnet_ids) < 2:
        errs.append(("subnet_ids", len(a.subnet_ids), "at least 2 subnets in different AZs"))
    if a.availability_zones and (len(a.availability_zones) != len(a.subnet_ids)
                                 or len(set(a.availability_zones)) != len(a.availability_zones)
                                 or not all(_AZ.match(z) for z in a.availability_zones)):
        errs.append(("availability_zones", list(a.availability_zones),
                     f"{len(a.subnet_ids)} distinct AZ names like us-east-1a, one per subnet, or none"))
    if a.endpoint_public_access and not a.public_access_cidrs:
        errs.append(("public_access_cidrs", [], "at least one CIDR when endpoint_public_access is True"))
    for c in a.public_access_cidrs:
        if c in ("0.0.0.0/0", "::/0"):
            errs.append(("public_access_cidrs", c, "specific CIDRs, never the whole internet"))
    principals = [*a.admin_principal_arns, *a.view_principal_arns]
    for arn in principals:
        if not PRINCIPAL_ARN.match(arn):
            errs.append(("admin_principal_arns" if arn in a.admin_principal_arns else "view_principal_arns", arn,
                         "an IAM role or user ARN such as arn:aws:iam::123456789012:role/break-glass"))
    names = [principal_name(arn) for arn in principals]
    for arn, n in zip(principals, names, strict=True):
        if names.count(n) > 1:
            errs.append(("view_principal_arns" if arn in a.view_principal_arns else "admin_principal_arns", arn,
                         "one access entry per principal, and principals with distinct role names"))
            break
    for client in a.api_clients:
        if not _GROUP.match(client):
            errs.append(("api_clients", client, "lower-case names such as deploy-runner"))
    if not 1 <= a.system_nodes <= 10:
        errs.append(("system_nodes", a.system_nodes, "1..10"))
    if a.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                    2192, 2557, 2922, 3288, 3653):
        errs.append(("log_retention_days", a.log_retention_days, "a CloudWatch Logs retention value such as 365"))
    seen = {"system"}
    for g in a.workload_node_groups:
        if not _GROUP.match(g.name) or g.name in seen:
            errs.append(("workload_node_groups", g.name, "unique lower-case names other than 'system'"))
        seen.add(g.name)
        if not 1 <= g.nodes <= 50:
            errs.append(("workload_node_groups", g.nodes, f"1..50 nodes for {g.name}"))
        if not _ITYPE.match(g.instance_type):
            errs.append(("workload_node_groups", g.instance_type, "an EC2 instance type such as r7g.xlarge"))
    if not _ITYPE.match(a.system_instance_type):
        errs.append(("system_instance_type", a.system_instance_type, "an EC2 instance type such as m7g.large"))
    return errs


def _validate(a: EksClusterArgs) -> None:
    errs = validate_eks_args(a)
    if errs:
        raise ArgsError.of([problem_line("EksClusterArgs", *e) for e in errs])


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def _irsa_trust(provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    host = issuer.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{host}:aud": "sts.amazonaws.com",
        }},
    }]})


def _ebs_kms_policy(key_arn: str) -> str:
    """What the EBS CSI controller needs on a customer-managed key to create encrypted volumes."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "GrantForEbs", "Effect": "Allow", "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
         "Resource": key_arn, "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Sid": "UseKey", "Effect": "Allow",
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": key_arn},
    ]})


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A token-less kubeconfig: the exec plugin asks ``aws eks get-token`` at each use."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
            "interactiveMode": "Never",
        }}}],
    })
