"""Issue 14 item 4: one placement type shared by Neo4j and Qdrant, and the workload kit in its own module
(``components.aws.workload``) instead of private helpers imported from ``graph.py`` and pod helpers in ``eks.py``."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.aws.eks import EksCluster, EksClusterArgs, WorkloadNodeGroup
from components.aws.graph import Graph, GraphArgs
from components.aws.vector import Vector, VectorArgs
from components.aws.workload import Ec2Placement, EksPlacement, validate_placement
from review.program import ProgramRun, record

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("components", "infra", "policies", "cost", "review", "ops", "scripts")
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
KEY = "arn:aws:kms:us-east-1:123456789012:key/"


def private_imports(source: str) -> list[tuple[int, str]]:
    """``(line, "module.name")`` of every ``from <project module> import _name`` in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name.startswith("_")]
    return out


def test_detector_finds_a_private_import() -> None:
    src = "from components.aws.graph import (\n    Ec2Fleet,\n    _cron_job,\n)\nfrom os import _exit\n"
    assert private_imports(src) == [(1, "components.aws.graph._cron_job")]


def test_no_component_imports_another_modules_private_names() -> None:
    """Checked in components/ and infra/ (policies/ and review/ each still import one private name of their own
    package; outside this issue's scope)."""
    found = [f"{p.relative_to(ROOT)}:{line}: {name}"
             for pkg in ("components", "infra") for p in sorted((ROOT / pkg).rglob("*.py"))
             for line, name in private_imports(p.read_text(encoding="utf-8"))]
    assert found == [], "private helpers imported across modules:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("args_type", [GraphArgs, VectorArgs])
def test_store_args_carry_no_copied_placement_fields(args_type: type) -> None:
    """The eks/ec2 field blocks live once, in the placement types; the stores take ``placement`` only."""
    store = {f.name for f in dataclasses.fields(args_type)}
    placement = {f.name for t in (EksPlacement, Ec2Placement) for f in dataclasses.fields(t)}
    assert "placement" in store
    assert store & placement == set()


def test_eks_module_holds_the_cluster_only() -> None:
    """Pod helpers and the backup-bucket policy moved to the workload kit: one home each."""
    import components.aws.eks as eks
    import components.aws.workload as workload

    moved = ("pod_security_context", "container_security_context", "workload_namespace", "workload_scheduling",
             "zone_spread", "backup_bucket_policy")
    assert [n for n in moved if hasattr(eks, n)] == []
    assert all(callable(getattr(workload, n)) for n in moved)


@pytest.mark.parametrize(("placement", "field"), [
    (Ec2Placement(vpc_id="vpc-1", ebs_kms_key_arn="k", subnet_ids=SUBNETS, availability_zones=AZS[:2]),
     "placement.availability_zones"),
    (Ec2Placement(vpc_id="vpc-1", ebs_kms_key_arn="k", subnet_ids=(), availability_zones=()),
     "placement.availability_zones"),
    (Ec2Placement(vpc_id=None, ebs_kms_key_arn="k", subnet_ids=SUBNETS, availability_zones=AZS),  # type: ignore[arg-type]
     "placement.vpc_id"),
    (Ec2Placement(vpc_id="vpc-1", ebs_kms_key_arn=None, subnet_ids=SUBNETS, availability_zones=AZS),  # type: ignore[arg-type]
     "placement.ebs_kms_key_arn"),
    (EksPlacement(cluster=None), "placement.cluster"),  # type: ignore[arg-type]
    ("ec2", "placement"),
])
def test_validate_placement(placement: Any, field: str) -> None:
    assert [e[0] for e in validate_placement(placement)] == [field]


def test_a_good_placement_has_no_problem() -> None:
    assert validate_placement(Ec2Placement(vpc_id="v", ebs_kms_key_arn="k", subnet_ids=SUBNETS,
                                           availability_zones=AZS)) == []


# ---- defaults and overrides of the shared type, per store -----------------------------------------------


def _common() -> dict[str, Any]:
    return {"backup_bucket_name": "b", "backup_kms_key_arn": KEY + "s3", "secrets_kms_key_arn": KEY + "sec"}


def _run_eks(namespace: str | None) -> ProgramRun:
    def program() -> None:
        cluster = EksCluster("eks", EksClusterArgs(
            cluster_name="dp", region="us-east-1", subnet_ids=SUBNETS, secrets_kms_key_arn=KEY + "eks",
            ebs_kms_key_arn=KEY + "ebs", workload_node_groups=[WorkloadNodeGroup("graph", "r7g.xlarge", 5),
                                                               WorkloadNodeGroup("vector", "r7g.large", 3)]))
        g = Graph("graph", GraphArgs(**_common(), license_agreement="yes",
                                     placement=EksPlacement(cluster, namespace=namespace and f"{namespace}-graph",
                                                            app_namespace="apps", metrics_namespace=None)))
        v = Vector("vector", VectorArgs(**_common(),
                                        placement=EksPlacement(cluster, namespace=namespace and f"{namespace}-vector",
                                                               app_namespace="apps", metrics_namespace=None)))
        pulumi.export("ns", {"graph": g.namespace, "vector": v.namespace})

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.mark.parametrize(("namespace", "graph_ns", "vector_ns"), [
    (None, "graph", "vector"), ("team", "team-graph", "team-vector")])
def test_eks_placement_namespace_default_and_override(namespace: str | None, graph_ns: str, vector_ns: str) -> None:
    run = _run_eks(namespace)
    assert run.outputs["ns"] == {"graph": graph_ns, "vector": vector_ns}
    sets = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["namespace"]
            for r in run.by_type("kubernetes:apps/v1:StatefulSet")}
    assert {n for n, ns in sets.items() if n.startswith("graph-")} == {n for n in sets if n.startswith("graph-")}
    assert {ns for n, ns in sets.items() if n.startswith("graph-")} == {graph_ns}
    assert sets["vector"] == vector_ns
    # app_namespace and metrics_namespace of the shared type reach both stores' NetworkPolicies
    for pol in run.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        selectors = [p.get("namespaceSelector", {}).get("matchLabels", {})
                     for rule in pol.inputs["spec"]["ingress"] for p in rule["from"]]
        assert {"kubernetes.io/metadata.name": "apps"} in selectors
        assert {"kubernetes.io/metadata.name": "monitoring"} not in selectors


def _run_ec2(**placement: Any) -> ProgramRun:
    def program() -> None:
        where = Ec2Placement(vpc_id="vpc-1", ebs_kms_key_arn=KEY + "ebs", subnet_ids=SUBNETS,
                             availability_zones=AZS, **placement)
        Graph("graph", GraphArgs(**_common(), license_agreement="yes", primaries=3, secondaries=0, placement=where))
        Vector("vector", VectorArgs(**_common(), peers=3, placement=where))

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


def test_ec2_placement_defaults_are_the_stores_own() -> None:
    run = _run_ec2()
    types = {r.name: r.inputs["instanceType"] for r in run.by_type("aws:ec2/instance:Instance")}
    assert types == {"graph-primary-1": "r7g.xlarge", "graph-primary-2": "r7g.xlarge", "graph-primary-3": "r7g.xlarge",
                     "vector-peer-1": "r7g.large", "vector-peer-2": "r7g.large", "vector-peer-3": "r7g.large"}
    zones = {r.inputs["name"] for r in run.by_type("aws:route53/zone:Zone")}
    assert zones == {"graph.data-platform.internal", "vector.data-platform.internal"}
    volumes = {r.inputs["kmsKeyId"] for r in run.by_type("aws:ebs/volume:Volume")}
    assert volumes == {KEY + "ebs"}


def test_ec2_placement_overrides_reach_both_stores() -> None:
    run = _run_ec2(instance_type="r6i.large", zone_name="db.internal", ami_id="ami-0123456789abcdef0")
    insts = run.by_type("aws:ec2/instance:Instance")
    assert {r.inputs["instanceType"] for r in insts} == {"r6i.large"}
    assert {r.inputs["ami"] for r in insts} == {"ami-0123456789abcdef0"}
    records = {r.inputs["name"] for r in run.by_type("aws:route53/record:Record")}
    assert "primary-1.db.internal" in records and "peer-1.db.internal" in records
