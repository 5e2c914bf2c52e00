"""Where the Graph and Vector tests put the members: an EKS cluster with the store's node group, or EC2 in
three private subnets. One definition for every test module of those components."""

from __future__ import annotations

from typing import Any

from components.aws.eks import EksCluster, EksClusterArgs, WorkloadNodeGroup
from components.aws.workload import Ec2Placement, EksPlacement, Placement

SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
KEY = "arn:aws:kms:us-east-1:123456789012:key/"

#: The node group each store's members run on (``WorkloadNodeGroup`` name, instance type, nodes).
NODE_GROUPS = {"graph": ("graph", "r7g.xlarge", 5), "vector": ("vector", "r7g.large", 3)}


def eks_cluster(store: str) -> EksCluster:
    """The test cluster "eks" (call inside a program) with ``store``'s node group."""
    return EksCluster("eks", EksClusterArgs(
        cluster_name="dp", region="us-east-1", subnet_ids=SUBNETS, secrets_kms_key_arn=KEY + "eks",
        ebs_kms_key_arn=KEY + "ebs", workload_node_groups=[WorkloadNodeGroup(*NODE_GROUPS[store])]))


def ec2_placement(**over: Any) -> Ec2Placement:
    """EC2 members in SUBNETS of vpc-1, clients from sg-app; ``over`` replaces fields."""
    return Ec2Placement(**{"vpc_id": "vpc-1", "subnet_ids": SUBNETS, "availability_zones": AZS,
                           "app_security_group_id": "sg-app", "ebs_kms_key_arn": KEY + "ebs", **over})


def placement_of(kind: str, cluster: EksCluster | None, **ec2: Any) -> Placement:
    """``EksPlacement(cluster)`` for "eks", else :func:`ec2_placement` with ``ec2``."""
    return EksPlacement(cluster) if kind == "eks" else ec2_placement(**ec2)  # type: ignore[arg-type]
