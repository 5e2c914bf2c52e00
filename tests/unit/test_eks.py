"""``EksCluster`` under the recording mock runtime: private, encrypted, logged, IMDSv2 nodes, IRSA, storage class,
zonal workload node groups, access entries and the API rule of the deploy runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.aws.eks import (
    LOG_TYPES,
    TYPE_TOKEN,
    EksCluster,
    EksClusterArgs,
    WorkloadNodeGroup,
    ami_type,
    validate_eks_args,
    zonal_counts,
)
from components.base import ArgsError
from cost.prices import HOURS_PER_MONTH, load_prices
from cost.rules import Context, Res, Usage, charges_for
from review.program import ProgramRun, record, run_program

ROOT = Path(__file__).resolve().parents[2]
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
ADMIN = "arn:aws:iam::123456789012:role/ops/break-glass"
PREVIEW = "arn:aws:iam::123456789012:role/data-platform-preview"
RUNNER_SG = "sg-0runner"
EKS_KEY = "arn:aws:kms:us-east-1:123456789012:key/eks"
EBS_KEY = "arn:aws:kms:us-east-1:123456789012:key/ebs"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def _args(**kw: Any) -> EksClusterArgs:
    base: dict[str, Any] = {
        "cluster_name": "dp-production", "region": "us-east-1", "subnet_ids": SUBNETS, "availability_zones": AZS,
        "secrets_kms_key_arn": EKS_KEY, "ebs_kms_key_arn": EBS_KEY,
        "workload_node_groups": [WorkloadNodeGroup("graph", "r7g.xlarge", 5),
                                 WorkloadNodeGroup("vector", "r7g.large", 3)],
    }
    return EksClusterArgs(**{**base, **kw})


def _run(args: EksClusterArgs) -> ProgramRun:
    def program() -> None:
        c = EksCluster("eks", args)
        pulumi.export("eks", {"name": c.cluster_name, "endpoint": c.endpoint, "oidc_arn": c.oidc_provider_arn,
                              "issuer": c.oidc_issuer, "sg": c.node_security_group_id,
                              "sc": c.storage_class_name})

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return _run(_args(protect=True, admin_principal_arns=[ADMIN], view_principal_arns=[PREVIEW],
                      api_clients={"deploy-runner": RUNNER_SG}))


def test_cluster_private_encrypted_all_logs(run: ProgramRun) -> None:
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == SUBNETS
    enc = cluster.inputs["encryptionConfig"]
    assert enc["resources"] == ["secrets"] and enc["provider"]["keyArn"] == EKS_KEY
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(LOG_TYPES)
    assert len(LOG_TYPES) == 5
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert cluster.protect and cluster.retain_on_delete


def test_log_group_precreated_encrypted(run: ProgramRun) -> None:
    (lg,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert lg.inputs["name"] == "/aws/eks/dp-production/cluster"
    assert lg.inputs["retentionInDays"] == 365 and lg.inputs["kmsKeyId"] == EKS_KEY
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    assert lg.urn in cluster.dependencies


def test_launch_templates_imdsv2_encrypted(run: ProgramRun) -> None:
    lts = run.by_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(lts) == 3
    for lt in lts:
        md = lt.inputs["metadataOptions"]
        assert md["httpTokens"] == "required" and md["httpPutResponseHopLimit"] == 1
        (bdm,) = lt.inputs["blockDeviceMappings"]
        assert bdm["ebs"]["encrypted"] == "true" and bdm["ebs"]["kmsKeyId"] == EBS_KEY
        assert bdm["ebs"]["volumeType"] == "gp3"
        assert "networkInterfaces" not in lt.inputs  # no public IP association anywhere


def test_workload_node_groups_are_zonal_system_spans_azs(run: ProgramRun) -> None:
    """One node group per AZ for each stateful workload, each pinned to its AZ's subnet: a lost node
    comes back in the AZ of the zonal EBS volumes it served. 5 graph nodes over 3 AZs: 2, 2, 1."""
    ngs = {r.inputs["nodeGroupName"]: r for r in run.by_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(ngs) == {"system", "graph-us-east-1a", "graph-us-east-1b", "graph-us-east-1c",
                        "vector-us-east-1a", "vector-us-east-1b", "vector-us-east-1c"}
    system = ngs["system"].inputs
    assert "taints" not in system and system["subnetIds"] == SUBNETS and system["labels"] == {"workload": "system"}
    assert system["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 3}
    expected = {("graph", 0): 2, ("graph", 1): 2, ("graph", 2): 1, ("vector", 0): 1, ("vector", 1): 1,
                ("vector", 2): 1}
    for (workload, i), nodes in expected.items():
        ng = ngs[f"{workload}-{AZS[i]}"]
        assert ng.name == f"eks-{workload}-{AZS[i]}"
        assert ng.inputs["subnetIds"] == [SUBNETS[i]]
        assert ng.inputs["scalingConfig"] == {"desiredSize": nodes, "minSize": nodes, "maxSize": nodes + 1}
        assert ng.inputs["labels"] == {"workload": workload}  # one label for all zonal groups of a workload
        assert ng.inputs["taints"] == [{"key": "workload", "value": workload, "effect": "NO_SCHEDULE"}]
        assert ng.inputs["amiType"] == "AL2023_ARM_64_STANDARD"
        assert ng.inputs["updateConfig"] == {"maxUnavailable": 1}
    # the zonal groups of a workload share its one launch template
    lts = {r.name: r.urn for r in run.by_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for name, ng in ngs.items():
        workload = name.rsplit("-us-east-1", 1)[0]
        assert lts[f"eks-{workload}-lt"] in ng.dependencies, name


def test_zonal_counts_split_nodes_evenly_in_az_order() -> None:
    assert zonal_counts(3, 3) == [1, 1, 1]
    assert zonal_counts(2, 3) == [1, 1, 0]
    assert zonal_counts(5, 3) == [2, 2, 1]
    assert zonal_counts(1, 2) == [1, 0]


def test_zones_default_to_positions_and_must_match_the_subnets() -> None:
    r = _run(_args(availability_zones=()))
    names = {n.inputs["nodeGroupName"] for n in r.by_type("aws:eks/nodeGroup:NodeGroup")}
    assert {"graph-az1", "graph-az2", "graph-az3", "vector-az3"} <= names
    errs = validate_eks_args(_args(availability_zones=["us-east-1a", "us-east-1b"]))
    assert errs[0][0] == "availability_zones" and "3 distinct AZ names" in errs[0][2]
    assert validate_eks_args(_args(availability_zones=["us-east-1a", "us-east-1a", "us-east-1b"]))


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    r = run_program(ROOT, "production")
    assert r.error is None, r.error
    return r


def test_production_stateful_node_groups_per_az_same_node_count_and_price(production: ProgramRun) -> None:
    """3 primaries: one per AZ; 2 secondaries: 2 AZs; 3 Qdrant peers: one per AZ. The instance-hours
    and node volumes the cost model prices are those of the same 11 nodes as before."""
    ngs = {r.inputs["nodeGroupName"]: r for r in production.by_type("aws:eks/nodeGroup:NodeGroup")}
    sizes = {n: r.inputs["scalingConfig"]["desiredSize"] for n, r in ngs.items()}
    assert sizes == {"system": 3, "graph-us-east-1a": 1, "graph-us-east-1b": 1, "graph-us-east-1c": 1,
                     "graph-secondary-us-east-1a": 1, "graph-secondary-us-east-1b": 1,
                     "vector-us-east-1a": 1, "vector-us-east-1b": 1, "vector-us-east-1c": 1}
    subnets = ngs["system"].inputs["subnetIds"]
    assert len(subnets) == 3
    for name, r in ngs.items():
        if name != "system":
            assert r.inputs["subnetIds"] == [subnets["abc".index(name[-1])]], name
    resources = [Res.from_mapping(r.to_json(), "us-east-1") for r in production.resources]
    ctx = Context.build(load_prices(), "us-east-1", Usage(), resources)
    total = sum(c.monthly or 0.0 for r in resources if r.type == "aws:eks/nodeGroup:NodeGroup"
                for c in charges_for(r, ctx))

    def usd(key: str) -> float:
        price = ctx.price(key, "us-east-1")
        assert price is not None, key
        return price.usd

    config = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    nodes: dict[str, int] = {}  # system; primaries; secondaries; peers: the types the stack file sets
    for key, n in (("eks", 3), ("graph", 3), ("graph-secondary", 2), ("vector", 3)):
        section, field = ("graph", "secondaryInstanceType") if key == "graph-secondary" else \
            (key, "systemInstanceType" if key == "eks" else "instanceType")
        itype = config[f"data-platform:{section}"][field]
        nodes[itype] = nodes.get(itype, 0) + n
    assert sum(nodes.values()) == 11
    disks = 11 * 50 * usd("ebs:storage:gp3")  # the 50 GiB gp3 root volume of each node's launch template
    monitoring = 11 * 7 * usd("cloudwatch:metric")  # detailed monitoring on: 7 EC2 metrics per node
    assert total == pytest.approx(sum(usd(f"ec2:instance:{t}") * n * HOURS_PER_MONTH for t, n in nodes.items())
                                  + disks + monitoring, abs=0.05)


def test_node_role_policies(run: ProgramRun) -> None:
    arns = {r.inputs["policyArn"].rsplit("/", 1)[-1] for r in run.by_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy",
            "AmazonSSMManagedInstanceCore", "AmazonEBSCSIDriverPolicy", "AmazonEKSClusterPolicy"} <= arns


def test_oidc_and_ebs_csi_irsa(run: ProgramRun) -> None:
    (oidc,) = run.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    issuer = run.outputs["eks"]["issuer"]
    assert oidc.inputs["url"] == issuer and oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    addons = {a.inputs["addonName"]: a for a in run.by_type("aws:eks/addon:Addon")}
    assert set(addons) == {"aws-ebs-csi-driver", "vpc-cni"}
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"]
    role = next(r for r in run.by_type("aws:iam/role:Role") if r.name == "eks-ebs-csi-irsa")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    host = issuer.removeprefix("https://")
    assert cond[f"{host}:sub"] == "system:serviceaccount:kube-system:ebs-csi-controller-sa"
    assert trust["Statement"][0]["Principal"]["Federated"] == run.outputs["eks"]["oidc_arn"]
    pol = next(r for r in run.by_type("aws:iam/rolePolicy:RolePolicy") if r.name == "eks-ebs-csi-irsa")
    assert {s["Resource"] for s in json.loads(pol.inputs["policy"])["Statement"]} == {EBS_KEY}


def test_provider_kubeconfig_is_token_less(run: ProgramRun) -> None:
    (prov,) = run.by_type(K8S_PROVIDER)
    kc = json.loads(prov.inputs["kubeconfig"])
    user = kc["users"][0]["user"]
    assert "token" not in user and user["exec"]["args"][:2] == ["eks", "get-token"]
    assert kc["clusters"][0]["cluster"]["server"] == run.outputs["eks"]["endpoint"]


def test_storage_class_encrypted_default_and_on_provider(run: ProgramRun) -> None:
    (prov,) = run.by_type(K8S_PROVIDER)
    (sc,) = run.by_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc.provider == prov.urn
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"]["type"] == "gp3" and sc.inputs["parameters"]["encrypted"] == "true"
    assert sc.inputs["parameters"]["kmsKeyId"] == EBS_KEY
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer" and sc.inputs["allowVolumeExpansion"] is True
    assert sc.inputs["reclaimPolicy"] == "Retain"
    assert sc.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert run.outputs["eks"]["sc"] == "encrypted-gp3"
    assert run.outputs["eks"]["sg"].startswith("sg-")


def test_access_entries_admin_and_view_named_after_the_role(run: ProgramRun) -> None:
    """Break-glass (and a deploy role that did not create the cluster) get cluster-admin; the preview
    role gets AmazonEKSViewPolicy at cluster scope. The creator keeps the entry EKS made at creation."""
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
    entries = {r.name: r for r in run.by_type("aws:eks/accessEntry:AccessEntry")}
    assert set(entries) == {"eks-admin-break-glass", "eks-view-data-platform-preview"}
    for name, principal in (("eks-admin-break-glass", ADMIN), ("eks-view-data-platform-preview", PREVIEW)):
        e = entries[name].inputs
        assert (e["clusterName"], e["principalArn"], e["type"]) == ("dp-production", principal, "STANDARD")
        assert "kubernetesGroups" not in e and "userName" not in e
    assoc = {r.name: r for r in run.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert assoc["eks-admin-break-glass"].inputs == {
        "clusterName": "dp-production", "principalArn": ADMIN, "accessScope": {"type": "cluster"},
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}
    assert assoc["eks-view-data-platform-preview"].inputs == {
        "clusterName": "dp-production", "principalArn": PREVIEW, "accessScope": {"type": "cluster"},
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"}
    for name, a in assoc.items():
        assert entries[name].urn in a.dependencies


def test_api_rule_admits_the_runner_and_the_provider_waits_for_it(run: ProgramRun) -> None:
    """The endpoint is private: the runner's security group is admitted on 443 to the cluster security
    group, and no Kubernetes object is sent before that rule (and the admin entries) exist."""
    rules = [r for r in run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    (rule,) = rules
    assert rule.name == "eks-api-deploy-runner"
    assert rule.inputs["securityGroupId"] == run.outputs["eks"]["sg"]  # the cluster security group
    assert {k: rule.inputs[k] for k in ("ipProtocol", "fromPort", "toPort", "referencedSecurityGroupId")} == {
        "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "referencedSecurityGroupId": RUNNER_SG}
    assert "cidrIpv4" not in rule.inputs
    (prov,) = run.by_type(K8S_PROVIDER)
    admin = next(r for r in run.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                 if r.name == "eks-admin-break-glass")
    assert rule.urn in prov.dependencies and admin.urn in prov.dependencies


def test_access_principals_are_validated() -> None:
    errs = validate_eks_args(_args(admin_principal_arns=["arn:aws:sts::123456789012:assumed-role/deploy/ci"]))
    assert errs[0][:2] == ("admin_principal_arns", "arn:aws:sts::123456789012:assumed-role/deploy/ci")
    errs = validate_eks_args(_args(admin_principal_arns=[ADMIN], view_principal_arns=[ADMIN]))
    assert errs[0][0] == "view_principal_arns" and "one access entry per principal" in errs[0][2]
    errs = validate_eks_args(_args(api_clients={"Deploy Runner": RUNNER_SG}))
    assert errs[0][0] == "api_clients"


def test_children_parented(run: ProgramRun) -> None:
    comp = next(r for r in run.resources if r.type == TYPE_TOKEN)
    for r in run.resources:
        if r is not comp:
            assert r.parent == comp.urn, r.urn


def test_not_protected_outside_production() -> None:
    run = _run(_args())
    assert not any(r.protect for r in run.resources)


def test_public_endpoint_needs_cidrs() -> None:
    with pytest.raises(ArgsError, match="public_access_cidrs"):
        EksCluster("eks", _args(endpoint_public_access=True))
    errs = validate_eks_args(_args(endpoint_public_access=True, public_access_cidrs=["0.0.0.0/0"]))
    assert errs and errs[0][0] == "public_access_cidrs"


def test_validation_before_children() -> None:
    seen: list[Any] = []

    def program() -> None:
        try:
            EksCluster("eks", _args(subnet_ids=["subnet-a"]))
        except ArgsError as err:
            seen.append(err)

    run = record(program)
    assert seen and "subnet_ids" in str(seen[0])
    assert run.resources == []


def test_ami_type() -> None:
    assert ami_type("r7g.xlarge") == "AL2023_ARM_64_STANDARD"
    assert ami_type("c7gn.large") == "AL2023_ARM_64_STANDARD"
    assert ami_type("m7i.large") == "AL2023_x86_64_STANDARD"


def test_the_control_plane_stays_on_standard_support() -> None:
    """Extended support bills 6x per hour; the cluster must upgrade instead of drifting into it."""
    from components.aws.eks import EksCluster, EksClusterArgs
    from review.program import record

    run = record(lambda: EksCluster("eks", EksClusterArgs(
        cluster_name="c", region="us-east-1", subnet_ids=["subnet-1", "subnet-2"],
        secrets_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/a",
        ebs_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/b")))
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_vpc_cni_managed_addon_enforces_network_policies(run: ProgramRun) -> None:
    """NetworkPolicies only take effect when the VPC CNI's policy agent runs (enableNetworkPolicy)."""
    (cni,) = [a for a in run.by_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni"]
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cni.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    assert cni.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    assert cni.inputs["clusterName"] == cluster.inputs["name"]
    # aws-node keeps the node role's CNI policy (no IRSA role of its own) ...
    assert "serviceAccountRoleArn" not in cni.inputs
    arns = {r.inputs["policyArn"] for r in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy" in arns
    # ... and every node group comes up after the add-on (policy agent present from the first pod).
    for ng in run.by_type("aws:eks/nodeGroup:NodeGroup"):
        assert cni.urn in ng.dependencies, ng.name
