"""Grafana where Prometheus runs: the local stack's container and the EKS monitoring namespace's Deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.eks import EksCluster, EksClusterArgs, WorkloadNodeGroup
from components.aws.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from components.docker.container import IMAGES
from components.render.dashboards import render_dashboards
from components.render.grafana import DASHBOARDS_DIR, PROVISIONING_DIR
from review.mocks import RecordedResource
from review.program import ProgramRun, record, run_program

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CM = "kubernetes:core/v1:ConfigMap"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
KEY = "arn:aws:kms:us-east-1:123456789012:key/"


@pytest.fixture(scope="module")
def local() -> ProgramRun:
    run = run_program(ROOT, "local")
    assert run.error is None, run.error
    return run


def _local_grafana(run: ProgramRun) -> RecordedResource:
    return next(r for r in run.by_type(CONTAINER) if r.name == "monitoring-grafana")


def test_local_grafana_is_pinned_on_loopback_with_a_generated_secret_password(local: ProgramRun) -> None:
    g = _local_grafana(local)
    assert IMAGES["grafana"].split(":")[1] not in ("", "latest")
    assert [(p["internal"], p["external"], p["ip"]) for p in g.raw_inputs["ports"]] == [(3000, 3000, "127.0.0.1")]
    assert "envs" in g.secret_paths and g.inputs["envs"] == "[secret]"  # the review never prints it
    env = dict(e.split("=", 1) for e in g.raw_inputs["envs"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    passwords = [r for r in local.by_type("random:index/randomPassword:RandomPassword")
                 if r.name == "monitoring-grafana-admin-password"]
    assert len(passwords) == 1
    prom = next(r for r in local.by_type(CONTAINER) if r.name == "monitoring-prometheus")
    assert prom.urn in g.dependencies


def test_local_grafana_is_provisioned_from_files(local: ProgramRun) -> None:
    uploads = {u["file"]: u["content"] for u in _local_grafana(local).raw_inputs["uploads"]}
    ds = yaml.safe_load(uploads[f"{PROVISIONING_DIR}/datasources/prometheus.yml"])["datasources"][0]
    assert ds["url"] == "http://monitoring-prometheus:9090" and ds["type"] == "prometheus"
    provider = yaml.safe_load(uploads[f"{PROVISIONING_DIR}/dashboards/data-platform.yml"])["providers"][0]
    assert provider["options"]["path"] == DASHBOARDS_DIR
    assert {p: t for p, t in uploads.items() if p.startswith(DASHBOARDS_DIR)} == {
        f"{DASHBOARDS_DIR}/{n}": t for n, t in render_dashboards().items()}


def _eks_run() -> ProgramRun:
    def program() -> None:
        cluster = EksCluster("eks", EksClusterArgs(
            cluster_name="dp", region="us-east-1", subnet_ids=["subnet-a", "subnet-b"],
            secrets_kms_key_arn=KEY + "eks", ebs_kms_key_arn=KEY + "ebs",
            workload_node_groups=[WorkloadNodeGroup("graph", "r7g.xlarge", 3)]))
        ClusterMonitoring("monitoring", ClusterMonitoringArgs(cluster=cluster, graph_members=("primary-1",)))

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def eks() -> ProgramRun:
    return _eks_run()


def _named(run: ProgramRun, type_: str, name: str) -> RecordedResource:
    return next(x for x in run.by_type(type_) if x.inputs["metadata"]["name"] == name)


def test_eks_grafana_deployment_is_hardened(eks: ProgramRun) -> None:
    d = _named(eks, DEPLOYMENT, "grafana")
    assert d.inputs["metadata"]["namespace"] == "monitoring"
    pod: dict[str, Any] = d.raw_inputs["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 472
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert c["image"] == IMAGES["grafana"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"]
    assert c["resources"]["requests"]["cpu"]
    writable = {m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/var/lib/grafana", "/var/log/grafana", "/tmp"}
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert empty == {"data", "logs", "tmp"}
    # The admin password is a mounted file (Grafana's <VAR>__FILE), never an environment value.
    assert not any(e["name"] == "GF_SECURITY_ADMIN_PASSWORD" for e in c["env"])
    pw = next(e for e in c["env"] if e["name"] == "GF_SECURITY_ADMIN_PASSWORD__FILE")
    assert pw["value"] == "/etc/grafana/secrets/admin-password"
    (admin,) = [v for v in pod["volumes"] if v["name"] == "admin"]
    assert admin["secret"]["secretName"] == "grafana-admin"
    assert {"name": "admin", "mountPath": "/etc/grafana/secrets", "readOnly": True} in c["volumeMounts"]
    secret = _named(eks, "kubernetes:core/v1:Secret", "grafana-admin")
    assert "stringData" in secret.secret_paths


def test_eks_grafana_provisioning_configmaps(eks: ProgramRun) -> None:
    prov = _named(eks, CM, "grafana-provisioning").inputs["data"]
    ds = yaml.safe_load(prov["datasources.yml"])["datasources"][0]
    assert ds["url"] == "http://prometheus.monitoring.svc.cluster.local:9090"
    assert _named(eks, CM, "grafana-dashboards").inputs["data"] == render_dashboards()
    pod = _named(eks, DEPLOYMENT, "grafana").raw_inputs["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["provisioning"] == PROVISIONING_DIR and mounts["dashboards"] == DASHBOARDS_DIR


def test_eks_grafana_network_policies_match_prometheus(eks: ProgramRun) -> None:
    pols = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in eks.by_type(NETPOL)}
    (rule,) = pols["grafana"]["ingress"]
    assert rule["from"] == pols["monitoring"]["ingress"][0]["from"] == [{"podSelector": {}}]  # same namespace
    assert [p["port"] for p in rule["ports"]] == [3000]
    egress = pols["grafana-egress"]["egress"]
    assert [(r["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"),
             [p["port"] for p in r["ports"]]) for r in egress] == [("prometheus", [9090]), (None, [53, 53])]


def test_grafana_can_be_switched_off() -> None:
    def program() -> None:
        cluster = EksCluster("eks", EksClusterArgs(
            cluster_name="dp", region="us-east-1", subnet_ids=["subnet-a", "subnet-b"],
            secrets_kms_key_arn=KEY + "eks", ebs_kms_key_arn=KEY + "ebs",
            workload_node_groups=[WorkloadNodeGroup("graph", "r7g.xlarge", 3)]))
        ClusterMonitoring("monitoring", ClusterMonitoringArgs(
            cluster=cluster, graph_members=("primary-1",), grafana=False))

    run = record(program, stack="production")
    assert run.error is None and not run.by_type(DEPLOYMENT)
