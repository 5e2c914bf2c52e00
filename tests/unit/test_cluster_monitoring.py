"""``ClusterMonitoring`` (Prometheus + Alertmanager on EKS) under the recording mock runtime."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.alerts import ALERTS, prometheus_alerts
from components.aws.eks import EksCluster, EksClusterArgs, WorkloadNodeGroup
from components.aws.graph import Graph, GraphArgs
from components.aws.monitoring import (
    TYPE_TOKEN,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    graph_targets,
    render_files,
    validate_monitoring_args,
)
from components.aws.vector import Vector, VectorArgs
from components.aws.workload import EksPlacement
from components.base import ArgsError
from components.docker.container import IMAGES
from components.render.prometheus import render_rules
from review.mocks import RecordedResource
from review.program import ProgramRun, record

ROOT = Path(__file__).resolve().parents[2]
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
KEY = "arn:aws:kms:us-east-1:123456789012:key/"
STS = "kubernetes:apps/v1:StatefulSet"
CM = "kubernetes:core/v1:ConfigMap"
SECRET_TYPE = "kubernetes:core/v1:Secret"
MEMBERS = ("primary-1", "primary-2", "primary-3", "secondary-1", "secondary-2")
API_KEY = "qdrant-api-key-value-0123456789"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
TOPIC = "arn:aws:sns:us-east-1:123456789012:dp-production-alarms"
SNS_KEY = KEY + "sns"


def _cluster() -> EksCluster:
    return EksCluster("eks", EksClusterArgs(
        cluster_name="dp", region="us-east-1", subnet_ids=SUBNETS, secrets_kms_key_arn=KEY + "eks",
        ebs_kms_key_arn=KEY + "ebs", workload_node_groups=[WorkloadNodeGroup("graph", "r7g.xlarge", 5),
                                                           WorkloadNodeGroup("vector", "r7g.large", 3)]))


def _run(slack: bool, **kw: Any) -> ProgramRun:
    def program() -> None:  # Outputs are built inside the program: they belong to its event loop
        cluster = _cluster()
        ClusterMonitoring("monitoring", ClusterMonitoringArgs(
            cluster=cluster, graph_members=MEMBERS, vector_peers=3,
            vector_read_only_api_key=pulumi.Output.secret(API_KEY), protect=True,
            slack_webhook_url=pulumi.Output.secret(WEBHOOK) if slack else None,
            **({"alarm_topic_arn": pulumi.Output.from_input(TOPIC), "sns_kms_key_arn": SNS_KEY} | kw)))

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return _run(True, evaluation_interval_seconds=20)


@pytest.fixture(scope="module")
def no_slack() -> ProgramRun:
    return _run(False)


def _children(r: ProgramRun) -> list[RecordedResource]:
    comp = next(x for x in r.resources if x.type == TYPE_TOKEN)
    return [x for x in r.resources if x.parent == comp.urn]


def _named(r: ProgramRun, type_: str, name: str) -> RecordedResource:
    return next(x for x in r.by_type(type_) if x.inputs["metadata"]["name"] == name)


def _prometheus_yml(r: ProgramRun) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(_named(r, CM, "prometheus-config").inputs["data"]["prometheus.yml"])
    return doc


def test_every_object_uses_the_cluster_provider_and_is_parented(run: ProgramRun) -> None:
    provider = next(x for x in run.resources if x.type == "pulumi:providers:kubernetes")
    children = _children(run)
    assert {c.type for c in children} >= {
        "kubernetes:core/v1:Namespace", CM, SECRET_TYPE, "kubernetes:core/v1:Service", STS,
        "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
    assert {c.type for c in children if not c.type.startswith("kubernetes:")} == {
        "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",  # Alertmanager's IRSA role
        "random:index/randomPassword:RandomPassword"}  # Grafana's admin password, nothing else
    for c in (c for c in children if c.type.startswith("kubernetes:")):
        assert c.provider is not None and c.provider.startswith(provider.urn), c.name
        if c.type != "kubernetes:core/v1:Namespace":
            assert c.inputs["metadata"]["namespace"] == "monitoring", c.name


def test_rules_configmap_is_the_rendered_catalogue(run: ProgramRun) -> None:
    text = _named(run, CM, "prometheus-config").inputs["data"]["rules.yml"]
    assert text == render_rules(stores=("graph", "vector"))
    doc = yaml.safe_load(text)
    names = {r["alert"] for g in doc["groups"] for r in g["rules"]}
    expected = {a.name for a in prometheus_alerts(ALERTS) if a.store in ("graph", "vector", "any")}
    assert names == expected
    assert any(a.store == "graph" for a in ALERTS if a.name in names)
    assert any(a.store == "vector" for a in ALERTS if a.name in names)
    assert {g["name"] for g in doc["groups"]} >= {"data-platform-graph", "data-platform-vector"}


def test_prometheus_scrapes_every_member_by_stable_name(run: ProgramRun) -> None:
    doc = _prometheus_yml(run)
    assert doc["global"]["evaluation_interval"] == "20s"
    assert doc["rule_files"] == ["rules.yml"]
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    neo4j = jobs["neo4j"]["static_configs"][0]["targets"]
    assert neo4j == [f"graph-{m}-0.graph-cluster.graph.svc.cluster.local:2004" for m in MEMBERS]
    qdrant = jobs["qdrant"]
    assert qdrant["static_configs"][0]["targets"] == [
        f"vector-{i}.vector-headless.vector.svc.cluster.local:6333" for i in range(3)]
    assert qdrant["metrics_path"] == "/metrics"
    assert qdrant["authorization"] == {"type": "Bearer",
                                       "credentials_file": "/etc/prometheus/secrets/qdrant-read-only-api-key"}
    assert "authorization" not in jobs["neo4j"]
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager.monitoring.svc.cluster.local:9093"]


def test_targets_match_the_stores_own_names() -> None:
    """The scrape targets are the DNS names the Graph and Vector components actually create."""
    def program() -> None:
        cluster = _cluster()
        Graph("graph", GraphArgs(backup_bucket_name="b", backup_kms_key_arn=KEY + "s3",
                                 secrets_kms_key_arn=KEY + "sec", placement=EksPlacement(cluster),
                                 license_agreement="yes"))
        Vector("vector", VectorArgs(backup_bucket_name="b", backup_kms_key_arn=KEY + "s3",
                                    secrets_kms_key_arn=KEY + "sec", placement=EksPlacement(cluster)))

    r = record(program, stack="production")
    assert r.error is None, r.error
    sts = {x.inputs["metadata"]["name"]: x.inputs["spec"] for x in r.by_type(STS)}
    graph_sets = sorted(n for n in sts if n.startswith("graph-"))
    for target, name in zip(graph_targets([n.removeprefix("graph-") for n in graph_sets]), graph_sets, strict=True):
        assert target.startswith(f"{name}-0.{sts[name]['serviceName']}.graph.svc.cluster.local:")
    assert sts["vector"]["serviceName"] == "vector-headless"
    netpols = {x.inputs["metadata"]["namespace"]: x.inputs["spec"] for x in
               r.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    for ns, port in (("graph", 2004), ("vector", 6333)):
        admitted = [rule for rule in netpols[ns]["ingress"]
                    if any(p.get("namespaceSelector", {}).get("matchLabels") ==
                           {"kubernetes.io/metadata.name": "monitoring"} for p in rule["from"])]
        assert admitted and {p["port"] for p in admitted[0]["ports"]} == {port}


def test_prometheus_statefulset(run: ProgramRun) -> None:
    s = _named(run, STS, "prometheus")
    spec = s.inputs["spec"]
    assert spec["replicas"] == 1 and s.protect
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "encrypted-gp3"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == IMAGES["prometheus"]
    assert "--storage.tsdb.retention.time=15d" in c["args"]
    assert c["resources"]["requests"].keys() >= {"cpu", "memory"} and "memory" in c["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65534
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert "tolerations" not in pod and pod["nodeSelector"] == {"workload": "system"}
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/prometheus", "/etc/prometheus/config", "/etc/prometheus/secrets"} <= mounts


def test_alertmanager_statefulset(run: ProgramRun) -> None:
    s = _named(run, STS, "alertmanager")
    pod = s.inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == IMAGES["alertmanager"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert "--cluster.listen-address=" in c["args"]
    assert "volumeClaimTemplates" not in s.inputs["spec"]


def test_config_checksum_rolls_pods_on_new_rules(run: ProgramRun) -> None:
    ann = _named(run, STS, "prometheus").inputs["spec"]["template"]["metadata"]["annotations"]
    args = ClusterMonitoringArgs(cluster=None, graph_members=MEMBERS, vector_peers=3,  # type: ignore[arg-type]
                                 vector_read_only_api_key="k", evaluation_interval_seconds=20)
    files = render_files(args)
    import hashlib

    assert ann["data-platform/config-sha256"] == hashlib.sha256(
        (files["prometheus.yml"] + files["rules.yml"]).encode()).hexdigest()[:16]
    fewer = render_files(ClusterMonitoringArgs(cluster=None, graph_members=MEMBERS,  # type: ignore[arg-type]
                                               evaluation_interval_seconds=20))
    assert fewer["rules.yml"] != files["rules.yml"]


def test_pdb_for_every_statefulset(run: ProgramRun) -> None:
    pdbs = run.by_type("kubernetes:policy/v1:PodDisruptionBudget")
    for s in (x for x in run.by_type(STS) if x.inputs["metadata"]["namespace"] == "monitoring"):
        labels = s.inputs["spec"]["template"]["metadata"]["labels"]
        assert any(p.inputs["metadata"]["namespace"] == "monitoring" and
                   p.inputs["spec"]["selector"]["matchLabels"].items() <= labels.items() for p in pdbs), s.name


def test_network_policies(run: ProgramRun) -> None:
    pols = {p.inputs["metadata"]["name"]: p.inputs["spec"]
            for p in run.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    ingress = pols["monitoring"]
    assert ingress["policyTypes"] == ["Ingress"]
    (rule,) = ingress["ingress"]
    assert rule["from"] == [{"podSelector": {}}]
    assert {p["port"] for p in rule["ports"]} == {9090, 9093}
    egress = pols["prometheus-egress"]
    assert egress["policyTypes"] == ["Egress"]
    allowed = {(str(p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")),
                port["port"]) for r in egress["egress"] for p in r["to"] for port in r["ports"]}
    assert {("graph", 2004), ("vector", 6333), ("kube-system", 53), ("None", 9093)} <= allowed


def test_slack_webhook_only_ever_a_secret(run: ProgramRun) -> None:
    am = yaml.safe_load(_named(run, CM, "alertmanager-config").inputs["data"]["alertmanager.yml"])
    critical = next(r for r in am["receivers"] if r["name"] == "critical")
    assert critical["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/slack-webhook-url"
    secret = _named(run, SECRET_TYPE, "alertmanager-slack")
    assert secret.inputs["stringData"] == "[secret]" and "stringData" in secret.secret_paths
    assert secret.raw_inputs["stringData"] == {"slack-webhook-url": WEBHOOK}
    key = _named(run, SECRET_TYPE, "prometheus-qdrant-api-key")
    assert key.inputs["stringData"] == "[secret]"
    assert key.raw_inputs["stringData"] == {"qdrant-read-only-api-key": API_KEY}
    for r in run.resources:
        if r.name.startswith("monitoring"):
            assert WEBHOOK not in str(r.inputs) and API_KEY not in str(r.inputs), r.name
    am_pod = _named(run, STS, "alertmanager").inputs["spec"]["template"]["spec"]
    assert any(v.get("secret", {}).get("secretName") == "alertmanager-slack" for v in am_pod["volumes"])


def test_without_slack_no_secret_and_no_slack_receiver(no_slack: ProgramRun) -> None:
    assert not [s for s in no_slack.by_type(SECRET_TYPE) if s.inputs["metadata"]["name"] == "alertmanager-slack"]
    am = yaml.safe_load(_named(no_slack, CM, "alertmanager-config").inputs["data"]["alertmanager.yml"])
    assert all("slack_configs" not in r for r in am["receivers"])


@pytest.mark.parametrize(("changes", "field"), [
    ({"graph_members": (), "vector_peers": 0}, "graph_members"),
    ({"vector_peers": 3, "vector_read_only_api_key": None}, "vector_read_only_api_key"),
    ({"evaluation_interval_seconds": 2}, "evaluation_interval_seconds"),
    ({"retention_days": 0}, "retention_days"),
    ({"volume_gb": 5}, "volume_gb"),
    ({"slack_channel": "oncall"}, "slack_channel"),
    ({"alarm_topic_arn": TOPIC}, "sns_kms_key_arn"),
])
def test_validation(changes: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"cluster": None, "graph_members": MEMBERS, "vector_peers": 3,
                            "vector_read_only_api_key": "k"}
    args = ClusterMonitoringArgs(**{**base, **changes})
    assert field in [e[0] for e in validate_monitoring_args(args)]
    with pytest.raises(ArgsError):
        ClusterMonitoring("m", args)


def test_production_stack_wires_monitoring() -> None:
    """infra/aws.py adds ClusterMonitoring on production (Neo4j and Qdrant on EKS) after the stores."""
    from review.program import run_program

    r = run_program(ROOT, "production")
    assert r.error is None, r.error
    (comp,) = [x for x in r.resources if x.type == TYPE_TOKEN]
    doc = yaml.safe_load(_named(r, CM, "prometheus-config").inputs["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in doc["scrape_configs"]}
    assert len(jobs["neo4j"]) == 5 and len(jobs["qdrant"]) == 3
    key = _named(r, SECRET_TYPE, "prometheus-qdrant-api-key")
    assert key.inputs["stringData"] == "[secret]" and comp.urn == key.parent


def test_args_documented_with_defaults() -> None:
    tree = ast.parse((ROOT / "components/aws/monitoring.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ClusterMonitoringArgs")
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            nxt = body[i + 1]
            assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant), node.target.id
            if node.value is not None:
                assert "Default:" in nxt.value.value, node.target.id


# ---- alert delivery through SNS (IRSA) ---------------------------------------------------------

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SA = "kubernetes:core/v1:ServiceAccount"


@pytest.fixture(scope="module")
def no_sns() -> ProgramRun:
    return _run(False, alarm_topic_arn=None, sns_kms_key_arn=None)


def _am_config(r: ProgramRun) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(_named(r, CM, "alertmanager-config").inputs["data"]["alertmanager.yml"])
    return doc


def test_critical_and_warning_alerts_are_published_to_the_alarm_topic(run: ProgramRun) -> None:
    am = _am_config(run)
    receivers = {r["name"]: r for r in am["receivers"]}
    for name in ("critical", "warning"):
        (sns,) = receivers[name]["sns_configs"]
        assert sns["topic_arn"] == TOPIC and sns["sigv4"] == {"region": "us-east-1"}
        assert sns["subject"] and sns["message"] and sns["send_resolved"] is True
        assert not {"access_key", "secret_key"} & set(sns["sigv4"])  # credentials come from IRSA only
    assert "slack_configs" in receivers["critical"] and "slack_configs" not in receivers["warning"]
    assert "sns_configs" not in receivers["default"]
    routes = {tuple(r["matchers"]): r["receiver"] for r in am["route"]["routes"]}
    assert routes == {('severity="critical"',): "critical", ('severity="warning"',): "warning"}


def test_sns_only_receivers_without_slack(no_slack: ProgramRun) -> None:
    receivers = {r["name"]: r for r in _am_config(no_slack)["receivers"]}
    assert receivers["critical"]["sns_configs"][0]["topic_arn"] == TOPIC
    assert receivers["warning"]["sns_configs"][0]["topic_arn"] == TOPIC


def test_alertmanager_irsa_role_is_scoped_to_the_topic_and_its_key(run: ProgramRun) -> None:
    comp = next(x for x in run.resources if x.type == TYPE_TOKEN)
    (role,) = [r for r in run.by_type(ROLE) if r.name == "monitoring-alertmanager-irsa"]
    assert role.parent == comp.urn
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (st,) = trust["Statement"]
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    cond = st["Condition"]["StringEquals"]
    assert [v for k, v in cond.items() if k.endswith(":sub")] == ["system:serviceaccount:monitoring:alertmanager"]
    assert [v for k, v in cond.items() if k.endswith(":aud")] == ["sts.amazonaws.com"]
    (pol,) = [p for p in run.by_type(ROLE_POLICY) if p.name == "monitoring-alertmanager-irsa"]
    assert pol.parent == comp.urn
    statements = json.loads(pol.inputs["policy"])["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    granted = {(a, s["Resource"]) for s in statements
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == {("sns:Publish", TOPIC), ("kms:GenerateDataKey*", SNS_KEY), ("kms:Decrypt", SNS_KEY)}
    assert "*" not in json.dumps([s["Resource"] for s in statements])
    kms = next(s for s in statements if s["Resource"] == SNS_KEY)
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}
    # nothing else attached to the role
    assert not [a for a in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.name.startswith("monitoring-alertmanager")]


def test_alertmanager_service_account_and_token(run: ProgramRun) -> None:
    (sa,) = [x for x in run.by_type(SA) if x.inputs["metadata"]["namespace"] == "monitoring"]
    assert sa.inputs["metadata"]["name"] == "alertmanager"
    arn = sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn.startswith("arn:aws:iam::123456789012:role/monitoring-alertmanager-irsa")
    am = _named(run, STS, "alertmanager")
    pod = am.inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "alertmanager"
    # IRSA needs no API token: the EKS pod identity webhook adds its own projected aws-iam-token volume.
    assert pod["automountServiceAccountToken"] is False
    assert sa.urn in am.dependencies
    prom = _named(run, STS, "prometheus").inputs["spec"]["template"]["spec"]
    assert prom["automountServiceAccountToken"] is False and "serviceAccountName" not in prom


def test_alertmanager_config_checksum_covers_the_topic(run: ProgramRun) -> None:
    import hashlib

    text = _named(run, CM, "alertmanager-config").inputs["data"]["alertmanager.yml"]
    assert TOPIC in text
    ann = _named(run, STS, "alertmanager").inputs["spec"]["template"]["metadata"]["annotations"]
    assert ann["data-platform/config-sha256"] == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_without_sns_no_role_and_no_token(no_sns: ProgramRun) -> None:
    assert not [r for r in no_sns.by_type(ROLE) if r.name.startswith("monitoring-")]
    assert not [x for x in no_sns.by_type(SA) if x.inputs["metadata"]["namespace"] == "monitoring"]
    pod = _named(no_sns, STS, "alertmanager").inputs["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert all("sns_configs" not in r for r in _am_config(no_sns)["receivers"])


def test_sns_key_policy_delegates_to_iam_and_admits_sns_use() -> None:
    """The IRSA grant only works if the sns key's policy delegates to the account (root kms:*)."""
    from components.aws.kms import key_policy

    doc = key_policy("sns", "123456789012", "us-east-1")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    root = by_sid["RootAccountAdmin"]
    assert root["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and root["Action"] == "kms:*"
    via = by_sid["UseViaSns"]
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(via["Action"])
    assert via["Condition"]["StringEquals"] == {"kms:ViaService": "sns.us-east-1.amazonaws.com",
                                                "kms:CallerAccount": "123456789012"}


def test_production_stack_delivers_alerts_to_the_alarm_topic() -> None:
    """infra/aws.py hands Alertmanager the Alarms topic and the sns key, and Qdrant's key from Vector."""
    from review.program import run_program

    r = run_program(ROOT, "production")
    assert r.error is None, r.error
    (topic,) = [t for t in r.by_type("aws:sns/topic:Topic") if t.name == "alarms-topic"]
    am = yaml.safe_load(_named(r, CM, "alertmanager-config").inputs["data"]["alertmanager.yml"])
    receivers = {x["name"]: x for x in am["receivers"]}
    (arn,) = {receivers[n]["sns_configs"][0]["topic_arn"] for n in ("critical", "warning")}
    assert arn.startswith("arn:aws:sns:") and arn.endswith(":" + topic.inputs["name"])
    (pol,) = [p for p in r.by_type(ROLE_POLICY) if p.name == "monitoring-alertmanager-irsa"]
    statements = {s["Sid"]: s for s in json.loads(pol.inputs["policy"])["Statement"]}
    assert statements["PublishAlerts"]["Resource"] == arn
    key_arn = statements["EncryptForTopic"]["Resource"]
    assert key_arn.startswith("arn:aws:kms:") and key_arn == topic.inputs["kmsMasterKeyId"]
    key = _named(r, SECRET_TYPE, "prometheus-qdrant-api-key")
    assert key.inputs["stringData"] == "[secret]"
    # no read-back of the API key from Secrets Manager (the store hands it over)
    assert "get_secret_version" not in (ROOT / "infra/aws.py").read_text()
