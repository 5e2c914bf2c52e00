"""Prometheus and Alertmanager on EKS for the stores that run there (Neo4j, Qdrant).

``ClusterMonitoring`` (type ``data-platform:aws:ClusterMonitoring``) creates, through the cluster's
``kubernetes.Provider``, in namespace ``monitoring`` (the namespace the stores' NetworkPolicies
admit on their metrics ports):

* ConfigMaps holding the **rendered** files of :mod:`components.render`: ``prometheus.yml``
  (:func:`~components.render.prometheus.render_prometheus_config`: one target per Neo4j member,
  ``graph-<member>-0.graph-cluster.<ns>.svc.cluster.local:2004``, and per Qdrant peer,
  ``vector-<i>.vector-headless.<ns>.svc.cluster.local:6333`` ``/metrics``; Alertmanager as the
  alerting target), ``rules.yml`` (:func:`~components.render.prometheus.render_rules` for the
  scraped stores) and ``alertmanager.yml``
  (:func:`~components.render.alertmanager.render_alertmanager_config`);
* Secrets for what must not be in those files: Qdrant's **read-only** API key (mounted at
  ``/etc/prometheus/secrets/qdrant-read-only-api-key``, sent as ``Authorization: Bearer`` through
  ``credentials_file``; the scrape never holds the admin key) and the Slack webhook URL (mounted for
  Alertmanager's ``api_url_file``).
  Both stay Pulumi secrets end to end; the rendered text only names the files;
* Prometheus as a one-replica StatefulSet with a PVC on the encrypted StorageClass (retention by
  time and by size, below the volume), Alertmanager as a one-replica StatefulSet (clustering off,
  its silences and notification log on an ``emptyDir``: a restart re-sends firing alerts once,
  which is preferable to a second zonal volume pinning it to one AZ), ClusterIP Services, a
  PodDisruptionBudget per StatefulSet (``maxUnavailable: 1``: one replica, so drains may take it;
  a short monitoring gap beats a blocked node upgrade), and NetworkPolicies: ingress to 9090/9093
  only from pods of this namespace; Prometheus egress only to the stores' metrics ports,
  Alertmanager and DNS (Alertmanager's own egress stays open: SNS, STS, Slack and SMTP are outside the cluster).
* Alert delivery: with ``alarm_topic_arn`` set, critical and warning alerts are published to the
  alarm SNS topic (:class:`~components.render.alertmanager.SnsReceiver`, SigV4 in the topic's
  region). Alertmanager's ServiceAccount ``alertmanager`` is annotated with an IRSA role
  (:meth:`EksCluster.irsa_role`) whose only permissions are ``sns:Publish`` on that topic and
  ``kms:GenerateDataKey*`` / ``kms:Decrypt`` on the topic's key, through SNS only
  (``kms:ViaService``). The SNS key's policy delegates to the account root (``kms:*``), so the
  IAM grant is effective (:mod:`components.aws.kms`);
* Pods run as ``nobody`` (65534, the images' user) with a read-only root filesystem, every
  capability dropped, the default seccomp profile, on the untainted ``system`` node group.
  Prometheus gets no service-account token (static targets need no Kubernetes API); Alertmanager
  mounts one only with SNS delivery (IRSA's projected web-identity token). The pod templates carry a checksum of
  the rendered files, so a new rule file rolls the pod.

Grafana (``grafana: True``, the default): a one-replica Deployment ``grafana`` (port 3000, ClusterIP
Service, reach it with ``kubectl -n monitoring port-forward svc/grafana 3000``) provisioned like the
local stack's from :mod:`components.render.grafana`: ConfigMap ``grafana-provisioning`` (Prometheus
as the data source, the dashboard provider) and ConfigMap ``grafana-dashboards`` (the dashboards
generated from the catalogue). Its admin password is a ``pulumi_random`` secret in Secret
``grafana-admin``. Same rules as Prometheus: ingress only from pods of this namespace (NetworkPolicy
``grafana``), egress only to Prometheus and DNS (``grafana-egress``); non-root (472, the image's
user), read-only root filesystem with ``emptyDir`` for its database, logs and /tmp (all state is
provisioned: a restart loses nothing), requests/limits, seccomp ``RuntimeDefault``, no
service-account token. No PVC, so no cost beyond the system nodes it runs on.

Why ConfigMaps and a plain Prometheus rather than the Prometheus Operator (``PrometheusRule``,
``ServiceMonitor``): the operator's CRDs and controller would have to be installed, upgraded and
kept compatible before this stack could deploy, and a CRD object is not the file ``promtool check
rules`` / ``test rules`` verify. Here the very bytes the integration tier checks
(``tests/integration/test_promtool.py``) and the local Docker stack runs are what EKS loads.

Images come from :data:`components.docker.container.IMAGES`, the one place their versions are pinned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.alerts import Store as AlertStore
from components.aws.eks import EksCluster
from components.aws.workload import (
    as_secret,
    config_sha,
    container_security_context,
    pod_security_context,
    workload_namespace,
)
from components.base import ArgsError, child_opts, problem_line
from components.images import IMAGES
from components.render.alertmanager import SlackReceiver, SnsReceiver, render_alertmanager_config
from components.render.dashboards import render_dashboards
from components.render.grafana import (
    DASHBOARDS_DIR,
    GRAFANA_ENV,
    GRAFANA_PORT,
    PROVISIONING_DIR,
    render_dashboard_provider,
    render_datasources,
)
from components.render.prometheus import render_prometheus_config, render_rules

TYPE_TOKEN = "data-platform:aws:ClusterMonitoring"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
NEO4J_METRICS_PORT = 2004
QDRANT_HTTP_PORT = 6333
NOBODY = 65534
CONFIG_DIR = "/etc/prometheus/config"
QDRANT_KEY_FILE = "/etc/prometheus/secrets/qdrant-read-only-api-key"
AM_CONFIG_DIR = "/etc/alertmanager/config"
SLACK_URL_FILE = "/etc/alertmanager/secrets/slack-webhook-url"
_RETENTION = ("d", "h", "w", "y")


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    """Arguments of :class:`ClusterMonitoring`."""

    cluster: EksCluster
    """The EKS cluster (its provider and encrypted StorageClass)."""
    graph_members: Sequence[str] = ()
    """Neo4j members to scrape on :2004 (``primary-1`` ...; Enterprise only: Community has no
    metrics). Default: none."""
    graph_namespace: str = "graph"
    """Namespace of the Neo4j StatefulSets. Default: graph."""
    vector_peers: int = 0
    """Qdrant peers to scrape on :6333 ``/metrics``. Default: 0 (none)."""
    vector_namespace: str = "vector"
    """Namespace of the Qdrant StatefulSet. Default: vector."""
    vector_read_only_api_key: pulumi.Input[str] | None = None
    """Qdrant's read-only API key (``Vector.read_only_api_key``, a secret), sent as a bearer token from a
    mounted Secret file. Required when ``vector_peers`` > 0: ``/metrics`` is behind a key, and the
    read-only one suffices (least privilege: never the admin key). Default: none."""
    namespace: str = "monitoring"
    """Namespace of Prometheus and Alertmanager; the stores' NetworkPolicies admit it. Default: monitoring."""
    evaluation_interval_seconds: int = 30
    """Rule evaluation (and scrape) interval, 5..600. Default: 30."""
    slack_webhook_url: pulumi.Input[str] | None = None
    """Slack incoming-webhook URL for critical alerts (a secret, mounted as a file). Default: none
    (alerts are visible in the Alertmanager UI only)."""
    slack_channel: str | None = None
    """Slack channel override (``#...``). Default: the webhook's channel."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """The alarm SNS topic (``Alarms.topic_arn``) that critical and warning alerts are published to,
    through an IRSA role allowed ``sns:Publish`` on this topic only. Default: none (no SNS delivery)."""
    sns_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key encrypting the alarm topic (``Keys.arn("sns")``); the IRSA role may use it through SNS
    only. Required with ``alarm_topic_arn``. Default: none."""
    retention_days: int = 15
    """Prometheus TSDB retention, days (1..90). Default: 15."""
    volume_gb: int = 20
    """Prometheus data volume, encrypted gp3 GiB (10..500); retention by size is 80 % of it. Default: 20."""
    prometheus_cpu: str = "250m"
    """Prometheus CPU request. Default: 250m."""
    prometheus_memory: str = "1Gi"
    """Prometheus memory request and limit. Default: 1Gi."""
    alertmanager_memory: str = "128Mi"
    """Alertmanager memory request and limit. Default: 128Mi."""
    protect: bool = False
    """Protect the namespace and the Prometheus StatefulSet (production). Default: False."""
    grafana: bool = True
    """Run Grafana with the dashboards generated from the catalogue. Default: True."""
    grafana_memory: str = "256Mi"
    """Grafana memory request and limit. Default: 256Mi."""


#: Where the Grafana pod mounts the ``grafana-admin`` Secret.
GRAFANA_SECRETS_DIR = "/etc/grafana/secrets"


def validate_monitoring_args(a: ClusterMonitoringArgs) -> list[tuple[str, Any, str]]:
    """Every problem as ``(field, value, allowed)``."""
    errs: list[tuple[str, Any, str]] = []
    if not a.graph_members and a.vector_peers <= 0:
        errs.append(("graph_members", list(a.graph_members), "at least one Neo4j member or Qdrant peer to scrape"))
    if a.vector_peers < 0:
        errs.append(("vector_peers", a.vector_peers, "0..50"))
    if a.vector_peers > 0 and a.vector_read_only_api_key is None:
        errs.append(("vector_read_only_api_key", None,
                     "Qdrant's read-only API key when vector_peers > 0 (/metrics needs a key)"))
    if not 5 <= a.evaluation_interval_seconds <= 600:
        errs.append(("evaluation_interval_seconds", a.evaluation_interval_seconds, "5..600"))
    if not 1 <= a.retention_days <= 90:
        errs.append(("retention_days", a.retention_days, "1..90"))
    if not 10 <= a.volume_gb <= 500:
        errs.append(("volume_gb", a.volume_gb, "10..500"))
    if (a.alarm_topic_arn is None) != (a.sns_kms_key_arn is None):
        errs.append(("sns_kms_key_arn", a.sns_kms_key_arn,
                     "set together with alarm_topic_arn (publishing to an encrypted topic needs its key)"))
    if a.slack_channel is not None and not a.slack_channel.startswith(("#", "@")):
        errs.append(("slack_channel", a.slack_channel, "a channel (#...) or user (@...)"))
    return errs


def graph_targets(members: Sequence[str], namespace: str = "graph") -> list[str]:
    """Neo4j metrics endpoints by the stable names of :mod:`components.aws.graph` (StatefulSet
    ``graph-<member>``, pod ordinal 0, headless Service ``graph-cluster``)."""
    return [f"graph-{m}-0.graph-cluster.{namespace}.svc.cluster.local:{NEO4J_METRICS_PORT}" for m in members]


def vector_targets(peers: int, namespace: str = "vector") -> list[str]:
    """Qdrant REST endpoints (``/metrics``) by the stable names of :mod:`components.aws.vector`
    (StatefulSet ``vector``, headless Service ``vector-headless``)."""
    return [f"vector-{i}.vector-headless.{namespace}.svc.cluster.local:{QDRANT_HTTP_PORT}" for i in range(peers)]


def scraped_stores(a: ClusterMonitoringArgs) -> tuple[AlertStore, ...]:
    """Stores whose rules are loaded: the ones scraped (generic ``any`` rules are always loaded)."""
    stores: list[AlertStore] = []
    if a.graph_members:
        stores.append("graph")
    if a.vector_peers > 0:
        stores.append("vector")
    return tuple(stores)


def topic_region(topic_arn: str) -> str:
    """The region of an SNS topic ARN (``arn:<partition>:sns:<region>:<account>:<name>``)."""
    parts = topic_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns":
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3]


def render_files(a: ClusterMonitoringArgs, topic_arn: str | None = None) -> dict[str, str]:
    """``{prometheus.yml, rules.yml, alertmanager.yml}`` as the ConfigMaps hold them. Pure.
    ``topic_arn``: the resolved ``alarm_topic_arn`` (default: ``a.alarm_topic_arn`` when it is a
    plain string, else no SNS receiver)."""
    ns = a.namespace
    targets: dict[str, list[str]] = {}
    if a.graph_members:
        targets["neo4j"] = graph_targets(a.graph_members, a.graph_namespace)
    if a.vector_peers > 0:
        targets["qdrant"] = vector_targets(a.vector_peers, a.vector_namespace)
    targets["prometheus"] = [f"localhost:{PROMETHEUS_PORT}"]
    targets["alertmanager"] = [f"alertmanager.{ns}.svc.cluster.local:{ALERTMANAGER_PORT}"]
    prometheus_yml = render_prometheus_config(
        targets,
        evaluation_interval_seconds=a.evaluation_interval_seconds,
        alertmanager_targets=[f"alertmanager.{ns}.svc.cluster.local:{ALERTMANAGER_PORT}"],
        rule_files=["rules.yml"],
        metrics_paths={"qdrant": "/metrics"} if "qdrant" in targets else None,
        bearer_token_files={"qdrant": QDRANT_KEY_FILE} if "qdrant" in targets else None,
    )
    slack = SlackReceiver(api_url_file=SLACK_URL_FILE, channel=a.slack_channel) \
        if a.slack_webhook_url is not None else None
    if topic_arn is None and isinstance(a.alarm_topic_arn, str):
        topic_arn = a.alarm_topic_arn
    sns = SnsReceiver(topic_arn=topic_arn, region=topic_region(topic_arn)) if topic_arn is not None else None
    return {
        "prometheus.yml": prometheus_yml,
        "rules.yml": render_rules(stores=scraped_stores(a)),
        "alertmanager.yml": render_alertmanager_config(slack=slack, sns=sns),
    }


def alertmanager_policy(topic_arn: str, key_arn: str) -> str:
    """Inline policy of Alertmanager's IRSA role: publish to the one alarm topic, use its key through SNS."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
        {"Sid": "EncryptForTopic", "Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
         "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"sns.{topic_region(topic_arn)}.amazonaws.com"}}},
    ]})


class ClusterMonitoring(pulumi.ComponentResource):
    """Prometheus + Alertmanager in the EKS cluster, loaded with the catalogue's rules for Neo4j and Qdrant."""

    namespace: str
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    files: dict[str, str]
    """The rendered files, by ConfigMap key (``alertmanager.yml`` without the SNS receiver when the
    topic ARN is only known at deployment: :attr:`alertmanager_yml` is the deployed text)."""
    alertmanager_yml: pulumi.Output[str]
    """The deployed ``alertmanager.yml`` (with the SNS receiver once the topic ARN resolves)."""
    alertmanager_role_arn: pulumi.Output[str] | None
    """ARN of Alertmanager's IRSA role (SNS delivery), or None."""

    def __init__(self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        errs = validate_monitoring_args(args)
        if errs:
            raise ArgsError.of([problem_line("ClusterMonitoringArgs", *e) for e in errs])
        super().__init__(TYPE_TOKEN, name, None, opts)
        a, cluster, ns = args, args.cluster, args.namespace
        self.namespace = ns
        self.files = files = render_files(a)
        sns = a.alarm_topic_arn is not None and a.sns_kms_key_arn is not None
        self.alertmanager_yml = am_yml = pulumi.Output.from_input(a.alarm_topic_arn).apply(
            lambda arn: render_files(a, arn)["alertmanager.yml"]) if sns \
            else pulumi.Output.from_input(files["alertmanager.yml"])
        part_of = {"app.kubernetes.io/part-of": "data-platform"}
        prom_labels = {"app.kubernetes.io/name": "prometheus", **part_of}
        am_labels = {"app.kubernetes.io/name": "alertmanager", **part_of}
        namespace, after_ns = workload_namespace(self, name, ns, "monitoring", cluster, protect=a.protect)

        # ---- configuration and secrets -------------------------------------------------------
        prom_cm = k8s.core.v1.ConfigMap(
            f"{name}-prometheus-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="prometheus-config", namespace=ns, labels=prom_labels),
            data={"prometheus.yml": files["prometheus.yml"], "rules.yml": files["rules.yml"]},
            opts=after_ns())
        am_cm = k8s.core.v1.ConfigMap(
            f"{name}-alertmanager-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="alertmanager-config", namespace=ns, labels=am_labels),
            data={"alertmanager.yml": am_yml},
            opts=after_ns())
        prom_deps: list[pulumi.Resource] = [namespace, prom_cm]
        am_deps: list[pulumi.Resource] = [namespace, am_cm]
        prom_volumes = [k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
            name="prometheus-config"))]
        prom_mounts = [k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True),
                       k8s.core.v1.VolumeMountArgs(name="data", mount_path="/prometheus")]
        if a.vector_read_only_api_key is not None:
            prom_deps.append(k8s.core.v1.Secret(
                f"{name}-qdrant-api-key",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="prometheus-qdrant-api-key", namespace=ns,
                                                    labels=prom_labels),
                type="Opaque",
                string_data={QDRANT_KEY_FILE.rsplit("/", 1)[1]: as_secret(a.vector_read_only_api_key)},
                opts=after_ns()))
            prom_volumes.append(k8s.core.v1.VolumeArgs(name="qdrant-api-key", secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name="prometheus-qdrant-api-key", default_mode=0o440)))
            prom_mounts.append(k8s.core.v1.VolumeMountArgs(
                name="qdrant-api-key", mount_path=QDRANT_KEY_FILE.rsplit("/", 1)[0], read_only=True))
        am_volumes = [
            k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name="alertmanager-config")),
            k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
        ]
        am_mounts = [k8s.core.v1.VolumeMountArgs(name="config", mount_path=AM_CONFIG_DIR, read_only=True),
                     k8s.core.v1.VolumeMountArgs(name="data", mount_path="/alertmanager")]
        if a.slack_webhook_url is not None:
            am_deps.append(k8s.core.v1.Secret(
                f"{name}-slack-webhook",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="alertmanager-slack", namespace=ns, labels=am_labels),
                type="Opaque",
                string_data={"slack-webhook-url": as_secret(a.slack_webhook_url)},
                opts=after_ns()))
            am_volumes.append(k8s.core.v1.VolumeArgs(name="slack", secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name="alertmanager-slack", default_mode=0o440)))
            am_mounts.append(k8s.core.v1.VolumeMountArgs(
                name="slack", mount_path=SLACK_URL_FILE.rsplit("/", 1)[0], read_only=True))

        # ---- Alertmanager's identity: IRSA for SNS delivery ----------------------------------
        self.alertmanager_role_arn = None
        am_sa: str | None = None
        if sns:
            role = cluster.irsa_role(
                "alertmanager", ns, "alertmanager",
                pulumi.Output.all(a.alarm_topic_arn, a.sns_kms_key_arn).apply(
                    lambda v: alertmanager_policy(str(v[0]), str(v[1]))),
                parent=self)
            self.alertmanager_role_arn = role.arn
            am_deps.append(k8s.core.v1.ServiceAccount(
                f"{name}-alertmanager-sa",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="alertmanager", namespace=ns, labels=am_labels,
                    annotations={"eks.amazonaws.com/role-arn": role.arn,
                                 "eks.amazonaws.com/sts-regional-endpoints": "true"}),
                automount_service_account_token=False,
                opts=after_ns()))
            am_sa = "alertmanager"

        # ---- services ------------------------------------------------------------------------
        prom_svc = _service(f"{name}-prometheus", "prometheus", ns, prom_labels, PROMETHEUS_PORT, after_ns)
        am_svc = _service(f"{name}-alertmanager", "alertmanager", ns, am_labels, ALERTMANAGER_PORT, after_ns)

        # ---- Alertmanager --------------------------------------------------------------------
        am_container = _web_container(
            "alertmanager", ALERTMANAGER_PORT, "50m", a.alertmanager_memory, am_mounts,
            probes=(("/-/ready", 5), ("/-/healthy", 10)),
            args=[f"--config.file={AM_CONFIG_DIR}/alertmanager.yml", "--storage.path=/alertmanager",
                  f"--web.listen-address=:{ALERTMANAGER_PORT}",
                  "--cluster.listen-address=",  # one replica: no gossip peers, no port 9094
                  f"--web.external-url=http://alertmanager.{ns}.svc.cluster.local:{ALERTMANAGER_PORT}"])
        k8s.apps.v1.StatefulSet(
            f"{name}-alertmanager",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="alertmanager", namespace=ns, labels=am_labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                replicas=1,
                service_name="alertmanager",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=am_labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=am_labels, annotations={
                        "data-platform/config-sha256": am_yml.apply(config_sha)}),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[am_container],
                        volumes=am_volumes,
                        security_context=pod_security_context(NOBODY, NOBODY, NOBODY),
                        service_account_name=am_sa,
                        # Alertmanager never calls the Kubernetes API. IRSA needs no API token: the EKS pod
                        # identity webhook adds its own projected volume (aws-iam-token, audience
                        # sts.amazonaws.com) to pods whose ServiceAccount has the role-arn annotation,
                        # whatever automountServiceAccountToken says (it governs only kube-api-access).
                        automount_service_account_token=False,
                        node_selector={"workload": "system"},
                        termination_grace_period_seconds=30,
                    ))),
            opts=child_opts(self, provider=cluster.provider, depends_on=[*am_deps, am_svc]))

        # ---- Prometheus ----------------------------------------------------------------------
        size_gb = max(1, a.volume_gb * 8 // 10)
        prom_container = _web_container(
            "prometheus", PROMETHEUS_PORT, a.prometheus_cpu, a.prometheus_memory, prom_mounts,
            probes=(("/-/ready", 5), ("/-/healthy", 10)), liveness_failure_threshold=12,
            args=[f"--config.file={CONFIG_DIR}/prometheus.yml", "--storage.tsdb.path=/prometheus",
                  f"--storage.tsdb.retention.time={a.retention_days}d",
                  f"--storage.tsdb.retention.size={size_gb}GB",
                  f"--web.listen-address=:{PROMETHEUS_PORT}",
                  f"--web.external-url=http://prometheus.{ns}.svc.cluster.local:{PROMETHEUS_PORT}"])
        k8s.apps.v1.StatefulSet(
            f"{name}-prometheus",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="prometheus", namespace=ns, labels=prom_labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                replicas=1,
                service_name="prometheus",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=prom_labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=prom_labels, annotations={
                        "data-platform/config-sha256": config_sha(files["prometheus.yml"] + files["rules.yml"])}),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[prom_container],
                        volumes=prom_volumes,
                        security_context=pod_security_context(NOBODY, NOBODY, NOBODY),
                        automount_service_account_token=False,
                        node_selector={"workload": "system"},
                        termination_grace_period_seconds=120,
                    )),
                volume_claim_templates=[k8s.core.v1.PersistentVolumeClaimArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="data"),
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"], storage_class_name=cluster.storage_class_name,
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                            requests={"storage": f"{a.volume_gb}Gi"})))],
            ),
            opts=child_opts(self, stateful=True, protect=a.protect, provider=cluster.provider,
                            depends_on=[*prom_deps, prom_svc]))

        # ---- disruption budgets and network policies -----------------------------------------
        for comp, labels in (("prometheus", prom_labels), ("alertmanager", am_labels)):
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{comp}-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=comp, namespace=ns),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
                    unhealthy_pod_eviction_policy="AlwaysAllow"),
                opts=after_ns())
        same_ns = k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs())
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="monitoring", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(part_of)),
                policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[same_ns], ports=_ports(PROMETHEUS_PORT, ALERTMANAGER_PORT))]),
            opts=after_ns())
        egress = [
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[same_ns], ports=_ports(ALERTMANAGER_PORT)),
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_ns_peer("kube-system")],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")]),
        ]
        if a.graph_members:
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_ns_peer(a.graph_namespace)], ports=_ports(NEO4J_METRICS_PORT)))
        if a.vector_peers > 0:
            egress.append(k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_ns_peer(a.vector_namespace)], ports=_ports(QDRANT_HTTP_PORT)))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-prometheus-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="prometheus-egress", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(prom_labels)),
                policy_types=["Egress"], egress=egress),
            opts=after_ns())

        self.grafana_url: pulumi.Output[str] | None = None
        if a.grafana:
            self.grafana_url = cluster_grafana(self, name, a, after_ns, [namespace], part_of)

        self.prometheus_url = pulumi.Output.from_input(f"http://prometheus.{ns}.svc.cluster.local:{PROMETHEUS_PORT}")
        self.alertmanager_url = pulumi.Output.from_input(
            f"http://alertmanager.{ns}.svc.cluster.local:{ALERTMANAGER_PORT}")
        self.register_outputs({
            "namespace": self.namespace,
            "prometheus_url": self.prometheus_url,
            "alertmanager_url": self.alertmanager_url,
            "alertmanager_role_arn": self.alertmanager_role_arn,
            "grafana_url": self.grafana_url,
        })


GRAFANA_UID = 472  # the grafana image's user


def grafana_configmaps(a: ClusterMonitoringArgs) -> dict[str, dict[str, str]]:
    """``{ConfigMap name: {key: text}}`` of Grafana's provisioning and dashboards. Pure."""
    return {
        "grafana-provisioning": {
            "datasources.yml": render_datasources(f"http://prometheus.{a.namespace}.svc.cluster.local:{PROMETHEUS_PORT}"),
            "dashboards.yml": render_dashboard_provider(DASHBOARDS_DIR),
        },
        "grafana-dashboards": render_dashboards(),
    }


def cluster_grafana(owner: pulumi.ComponentResource, name: str, a: ClusterMonitoringArgs, after_ns: Any,
                    deps: list[pulumi.Resource], part_of: dict[str, str]) -> pulumi.Output[str]:
    """Grafana in the monitoring namespace (see the module docstring); returns its in-cluster URL."""
    ns, cluster = a.namespace, a.cluster
    labels = {"app.kubernetes.io/name": "grafana", **part_of}
    files = grafana_configmaps(a)
    cms = [k8s.core.v1.ConfigMap(
        f"{name}-{cm}", metadata=k8s.meta.v1.ObjectMetaArgs(name=cm, namespace=ns, labels=labels),
        data=data, opts=after_ns()) for cm, data in files.items()]
    password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False,
                                     opts=pulumi.ResourceOptions(parent=owner))
    admin = k8s.core.v1.Secret(
        f"{name}-grafana-admin",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana-admin", namespace=ns, labels=labels),
        type="Opaque", string_data={"admin-password": as_secret(password.result)}, opts=after_ns())
    svc = _service(f"{name}-grafana", "grafana", ns, labels, GRAFANA_PORT, after_ns)
    volumes = [
        k8s.core.v1.VolumeArgs(name="provisioning", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
            name="grafana-provisioning", items=[
                k8s.core.v1.KeyToPathArgs(key="datasources.yml", path="datasources/prometheus.yml"),
                k8s.core.v1.KeyToPathArgs(key="dashboards.yml", path="dashboards/data-platform.yml")])),
        k8s.core.v1.VolumeArgs(name="dashboards", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
            name="grafana-dashboards")),
        *(k8s.core.v1.VolumeArgs(name=v, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size))
          for v, size in (("data", "1Gi"), ("logs", "256Mi"), ("tmp", "256Mi"))),
        k8s.core.v1.VolumeArgs(name="admin", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name="grafana-admin", default_mode=0o440)),
    ]
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="provisioning", mount_path=PROVISIONING_DIR, read_only=True),
        k8s.core.v1.VolumeMountArgs(name="dashboards", mount_path=DASHBOARDS_DIR, read_only=True),
        k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/grafana"),
        k8s.core.v1.VolumeMountArgs(name="logs", mount_path="/var/log/grafana"),
        k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        k8s.core.v1.VolumeMountArgs(name="admin", mount_path=GRAFANA_SECRETS_DIR, read_only=True),
    ]
    env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in GRAFANA_ENV.items()]
    env += [
        k8s.core.v1.EnvVarArgs(name="GF_SERVER_HTTP_PORT", value=str(GRAFANA_PORT)),
        # Grafana reads any setting from a file named by <VAR>__FILE: the password stays a mounted file, out of
        # the environment (k8s-secrets-as-files).
        k8s.core.v1.EnvVarArgs(name="GF_SECURITY_ADMIN_PASSWORD__FILE",
                               value=f"{GRAFANA_SECRETS_DIR}/admin-password"),
    ]
    container = _web_container("grafana", GRAFANA_PORT, "50m", a.grafana_memory, mounts,
                               probes=(("/api/health", 10), ("/api/health", 20)), env=env)
    checksum = config_sha(json.dumps(files, sort_keys=True))
    k8s.apps.v1.Deployment(
        f"{name}-grafana",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana", namespace=ns, labels=labels),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={
                    "data-platform/config-sha256": checksum}),
                spec=k8s.core.v1.PodSpecArgs(
                    containers=[container], volumes=volumes,
                    security_context=pod_security_context(GRAFANA_UID, GRAFANA_UID, GRAFANA_UID),
                    automount_service_account_token=False,
                    node_selector={"workload": "system"},
                    termination_grace_period_seconds=30,
                ))),
        opts=child_opts(owner, provider=cluster.provider, depends_on=[*deps, *cms, admin, svc]))
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-grafana-pdb",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana", namespace=ns),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
            unhealthy_pod_eviction_policy="AlwaysAllow"),
        opts=after_ns())
    same_ns = k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs())
    select = k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels))
    k8s.networking.v1.NetworkPolicy(
        f"{name}-grafana-netpol",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana", namespace=ns),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=select, policy_types=["Ingress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[same_ns], ports=_ports(GRAFANA_PORT))]),
        opts=after_ns())
    prometheus_pods = k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(
        match_labels={"app.kubernetes.io/name": "prometheus", **part_of}))
    k8s.networking.v1.NetworkPolicy(
        f"{name}-grafana-egress",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana-egress", namespace=ns),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=select, policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[prometheus_pods], ports=_ports(PROMETHEUS_PORT)),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[_ns_peer("kube-system")],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")]),
            ]),
        opts=after_ns())
    return pulumi.Output.from_input(f"http://grafana.{ns}.svc.cluster.local:{GRAFANA_PORT}")


def _ports(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


def _ns_peer(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs(
        match_labels={"kubernetes.io/metadata.name": namespace}))


def _web_container(name: str, port: int, cpu: str, memory: str,
                   mounts: Sequence[k8s.core.v1.VolumeMountArgs], *, probes: tuple[tuple[str, int], tuple[str, int]],
                   args: Sequence[str] | None = None, env: Sequence[k8s.core.v1.EnvVarArgs] | None = None,
                   liveness_failure_threshold: int = 6) -> k8s.core.v1.ContainerArgs:
    """One monitoring web server: the pinned image, one ``http`` port, memory request = limit (no
    overcommit, so the node never OOM-kills it for a neighbour), a read-only root, and readiness and
    liveness HTTP probes (``probes``: (path, period) each)."""
    (ready_path, ready_period), (live_path, live_period) = probes
    return k8s.core.v1.ContainerArgs(
        name=name, image=IMAGES[name], args=list(args) if args is not None else None,
        env=list(env) if env is not None else None,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=port)],
        resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": cpu, "memory": memory},
                                                       limits={"memory": memory}),
        security_context=container_security_context(read_only_root=True),
        volume_mounts=list(mounts),
        readiness_probe=_http_probe(ready_path, port, ready_period),
        liveness_probe=_http_probe(live_path, port, live_period, failure_threshold=liveness_failure_threshold),
    )


def _http_probe(path: str, port: int, period: int, failure_threshold: int = 6) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
                                 period_seconds=period, timeout_seconds=3, failure_threshold=failure_threshold)


def _service(rname: str, name: str, ns: str, labels: dict[str, str], port: int,
             opts: Any) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(
        rname,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=dict(labels)),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector=dict(labels),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=port, target_port=port, protocol="TCP")]),
        opts=opts())
