"""Neo4j 5 (Enterprise cluster, or one Community server) on EKS or on EC2.

Community (``license_agreement="no"``, dev only) is one server without the Enterprise-only online
backup and metrics: no backup CronJob or timer is created for it.

``Graph`` (type ``data-platform:aws:Graph``) realizes ``primaries`` + ``secondaries`` servers named
``primary-1..N`` and ``secondary-1..M`` (the topology's ``graph/primary-1`` ...). Each server's
``neo4j.conf`` comes from :func:`components.render.neo4j.render_neo4j_conf`: primaries and
secondaries differ in ``server.cluster.system_database_mode`` and ``initial.server.mode_constraint``.

**eks** — one StatefulSet *per member* (``replicas: 1``), as the official Helm chart installs one
release per server: each member has its own ConfigMap (its role and its advertised host differ),
and the Raft membership never changes by scaling a StatefulSet (scaling a per-role set down would
silently drop a Raft member). A headless Service (``publishNotReadyAddresses``) gives every pod a
stable DNS name for discovery; ``graph-bolt`` routes to primaries and ``graph-read`` to
secondaries. A PodDisruptionBudget keeps a Raft majority (``primaries // 2 + 1``) of primaries up;
another lets one secondary go at a time. Pods spread over zones and nodes of the tainted ``graph``
node group, run as uid 7474 with every capability dropped, the default seccomp profile, no
service-account token (nothing in the pod calls the Kubernetes API) and a read-only root filesystem.
The official image's entrypoint writes at each start: it empties ``$NEO4J_HOME/conf``, copies
``/conf`` into it and appends settings derived from the environment; Neo4j keeps its pid/run files
in ``server.directories.run`` (``/run``, the image's default) and the JVM writes to ``/tmp``. Those
are emptyDir volumes (:data:`NEO4J_WRITABLE`), ``/data`` is the claim and ``/logs`` an emptyDir.
The ``neo4j`` password reaches the entrypoint as a file (``NEO4J_AUTH_PATH``, a Secret volume),
never as an environment variable.
The NetworkPolicy admits Bolt/HTTP from the application namespace only, cluster ports from the
graph pods only, the backup port from the backup job only, and metrics from the monitoring
namespace. The ``neo4j`` password is a RandomPassword kept in Secrets Manager (KMS) and handed to
the pods as a Kubernetes Secret mounted as a file; it stays a Pulumi secret end to end. A CronJob runs
``neo4j-admin database backup`` into a claim of its own (not the node's root volume) and uploads to
the graph backup bucket with SSE-KMS, through a ServiceAccount whose IRSA role may only write that
bucket prefix with that key.

**ec2** — one instance per member, round-robin over the subnets, each with its own encrypted gp3
data volume (``aws.ebs.Volume`` + attachment, so the data outlives instance replacement, which deletes
the old instance first: a volume attaches to one instance at a time), IMDSv2 with hop limit 1, no
public IP, no SSH key (SSM), an instance role scoped to the backup bucket, a security group
(Bolt/HTTP from ``app_security_group_id`` only, cluster ports from the members' own group only) and
cloud-init that installs Neo4j from the official RPM repository, merges the rendered settings into
the packaged ``neo4j.conf`` (which keeps its layout settings), sets the initial password from
Secrets Manager at boot (never in user data) and installs the backup timer on one member. Members
find each other by name through a private Route 53 zone (``primary-1.<zone>`` ...), because private
IPs are unknown when the configuration is rendered.

The shared EC2 and secret helpers at the bottom are used by :mod:`components.aws.vector` too.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.aws.eks import (
    EksCluster,
    backup_bucket_policy,
    container_security_context,
    pod_security_context,
    workload_namespace,
    workload_scheduling,
    zone_spread,
)
from components.base import ArgsError, child_opts, merge_tags
from components.render.backup_scripts import (
    cron_to_on_calendar,
    neo4j_backup_addresses,
    render_cloud_config,
    render_neo4j_backup_script,
    render_neo4j_backup_step,
    render_s3_upload_step,
    render_systemd_units,
)
from components.render.neo4j import PORTS, BoltTls, render_conf_merge_script, render_neo4j_conf

TYPE_TOKEN = "data-platform:aws:Graph"
OptsFactory = Callable[[], pulumi.ResourceOptions]
Placement = Literal["eks", "ec2"]
CLUSTER_PORTS: tuple[int, ...] = (PORTS["discovery-v1"], PORTS["cluster"], PORTS["raft"], PORTS["routing"],
                                  PORTS["backup"])
CLIENT_PORTS: tuple[int, ...] = (PORTS["bolt"], PORTS["http"])
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.31.0"
#: $HOME of the AWS CLI in the backup jobs (an emptyDir that :func:`_cron_job` adds to every job).
CLI_HOME = "/home/backup"
#: $NEO4J_HOME of the official image (``/var/lib/neo4j``; ``data`` and ``logs`` there link to /data, /logs).
NEO4J_HOME = "/var/lib/neo4j"
#: Paths the official image writes besides /data and /logs (see the module docstring): emptyDir volumes.
NEO4J_WRITABLE: dict[str, str] = {"conf-dir": f"{NEO4J_HOME}/conf", "run": "/run", "tmp": "/tmp"}
#: Where the ``graph-auth`` Secret is mounted; ``NEO4J_AUTH_PATH`` names the file in it.
NEO4J_AUTH_DIR = "/var/run/secrets/neo4j"
NEO4J_AUTH_PATH = f"{NEO4J_AUTH_DIR}/NEO4J_AUTH"
SSM_AL2023_ARM64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
SSM_AL2023_X86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


@dataclass(frozen=True)
class GraphArgs:
    """Arguments of :class:`Graph`."""

    backup_bucket_name: pulumi.Input[str]
    """Graph backup bucket (from the backups component)."""
    backup_kms_key_arn: pulumi.Input[str]
    """KMS key of the backup bucket; uploads are SSE-KMS with it."""
    secrets_kms_key_arn: pulumi.Input[str]
    """KMS key of the Secrets Manager secret holding the ``neo4j`` password."""
    placement: Placement = "eks"
    """``eks`` (StatefulSets on ``cluster``) or ``ec2`` (one instance per member). Default: eks."""
    license_agreement: Literal["yes", "eval", "no"] = "no"
    """NEO4J_ACCEPT_LICENSE_AGREEMENT. ``no`` runs one Community server (primaries 1, secondaries 0).
    Default: no."""
    primaries: int = 3
    """Primary servers (Raft members): 1 or 3..11. Default: 3."""
    secondaries: int = 2
    """Secondary servers (read replicas, constrained to SECONDARY): 0..20. Default: 2."""
    version: str = "5.26.12"
    """Neo4j version (image tag / RPM version). Default: 5.26.12 (LTS)."""
    heap_size: str = "8g"
    """JVM heap (initial = max). Default: 8g."""
    pagecache_size: str = "16g"
    """Page cache. Default: 16g (r7g.xlarge: 32 GiB)."""
    secondary_sizing: tuple[str, str, str, str] | None = None
    """Secondaries' ``(cpu, memory, heap_size, pagecache_size)`` when they run on a smaller type; on EKS
    they then get their own node group (``workload=graph-secondary``). Default: the primaries' sizing."""
    cpu: str = "3"
    """EKS CPU request and limit per server. Default: 3 (of 4 vCPU)."""
    memory: str = "27Gi"
    """EKS memory request and limit per server (heap + page cache + ~3 GiB). Default: 27Gi."""
    volume_gb: int = 200
    """Data volume per member, encrypted gp3 GiB. Default: 200."""
    bolt_tls_level: BoltTls = "DISABLED"
    """``server.bolt.tls_level``; OPTIONAL/REQUIRED need certificates under certificates/bolt. Default: DISABLED."""
    backup_schedule: str = "0 2 * * *"
    """Backup schedule, cron (UTC): ``M H * * *`` or ``M */N * * *``. Default: daily 02:00."""
    backup_prefix: str = "neo4j"
    """Key prefix in the backup bucket. Default: neo4j."""
    # ---- eks ----
    cluster: EksCluster | None = None
    """The EKS cluster (placement eks). Default: none (required for eks)."""
    namespace: str = "graph"
    """Namespace of the servers (placement eks). Default: graph."""
    app_namespace: str = "app"
    """Namespace allowed to reach Bolt/HTTP (placement eks). Default: app."""
    metrics_namespace: str | None = "monitoring"
    """Namespace allowed to scrape :2004 (placement eks); None: nobody. Default: monitoring."""
    image: str | None = None
    """Container image. Default: ``neo4j:<version>-enterprise`` (``neo4j:<version>`` for Community)."""
    # ---- ec2 ----
    vpc_id: pulumi.Input[str] | None = None
    """VPC of the instances and of the private zone (placement ec2). Default: none."""
    ebs_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key of root and data volumes (placement ec2). Default: none (required for ec2)."""
    subnet_ids: Sequence[pulumi.Input[str]] = ()
    """Private compute subnets; members go round-robin (placement ec2). Default: none."""
    availability_zones: Sequence[str] = ()
    """AZ of each subnet, same order (data volumes are zonal) (placement ec2). Default: none."""
    app_security_group_id: pulumi.Input[str] | None = None
    """Security group allowed to Bolt/HTTP (placement ec2). Default: none (use allow_from)."""
    instance_type: str = "r7g.xlarge"
    """Instance type of primaries (placement ec2). Default: r7g.xlarge."""
    secondary_instance_type: str | None = None
    """Instance type of secondaries. Default: instance_type."""
    ami_id: pulumi.Input[str] | None = None
    """AMI. Default: the latest AL2023 AMI (arm64 for Graviton), read from its public SSM parameter by an
    invoke when the program runs; later AMI releases do not replace instances (``ignore_changes``)."""
    zone_name: str = "graph.data-platform.internal"
    """Private Route 53 zone of member names (placement ec2). Default: graph.data-platform.internal."""
    protect: bool = False
    """Protect and retain stateful children (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every AWS resource. Default: none."""


@dataclass(frozen=True)
class GraphMember:
    name: str
    """``primary-1`` ... ``secondary-M``."""
    role: Literal["primary", "secondary"]
    index: int


def graph_members(primaries: int, secondaries: int) -> list[GraphMember]:
    return ([GraphMember(f"primary-{i}", "primary", i) for i in range(1, primaries + 1)]
            + [GraphMember(f"secondary-{i}", "secondary", i) for i in range(1, secondaries + 1)])


def validate_graph_args(a: GraphArgs) -> list[tuple[str, Any, str]]:
    errs: list[tuple[str, Any, str]] = []
    if a.placement not in ("eks", "ec2"):
        errs.append(("placement", a.placement, "eks, ec2"))
    if not (a.primaries == 1 or 3 <= a.primaries <= 11):
        errs.append(("primaries", a.primaries, "1 or 3..11 (two primaries cannot keep a Raft majority)"))
    if not 0 <= a.secondaries <= 20:
        errs.append(("secondaries", a.secondaries, "0..20"))
    if a.license_agreement == "no" and (a.primaries > 1 or a.secondaries > 0):
        errs.append(("license_agreement", "no", "yes or eval for a cluster (Community runs one server)"))
    if not 10 <= a.volume_gb <= 16384:
        errs.append(("volume_gb", a.volume_gb, "10..16384"))
    try:
        cron_to_on_calendar(a.backup_schedule)
    except ValueError:
        errs.append(("backup_schedule", a.backup_schedule, "'M H * * *' or 'M */N * * *'"))
    if a.placement == "eks" and a.cluster is None:
        errs.append(("cluster", None, "an EksCluster when placement is eks"))
    if a.placement == "ec2":
        if a.vpc_id is None:
            errs.append(("vpc_id", None, "the VPC id when placement is ec2"))
        if a.ebs_kms_key_arn is None:
            errs.append(("ebs_kms_key_arn", None, "the EBS KMS key ARN when placement is ec2"))
        if not a.subnet_ids or len(a.subnet_ids) != len(a.availability_zones):
            errs.append(("availability_zones", list(a.availability_zones),
                         f"one AZ per subnet ({len(a.subnet_ids)} subnets, at least 1)"))
    return errs


class Graph(pulumi.ComponentResource):
    """Neo4j servers, their secret, backups and network rules."""

    bolt_endpoint: pulumi.Output[str]
    members: dict[str, str]
    """``{member name: role}``."""
    realized: dict[str, str]
    """``{topology member id: resource name}``, e.g. ``{"graph/primary-1": "graph-primary-1"}``."""
    namespace: str | None
    security_group_id: pulumi.Output[str] | None
    backup_role_arn: pulumi.Output[str]
    password_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GraphArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        errs = validate_graph_args(args)
        if errs:
            raise ArgsError("GraphArgs", *errs[0])
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._args = args
        self.enterprise = args.license_agreement in ("yes", "eval")
        self.member_list = graph_members(args.primaries, args.secondaries)
        self.members = {m.name: m.role for m in self.member_list}
        #: topology member id -> the resource that realizes it (StatefulSet on eks, Instance on ec2)
        self.realized = {f"graph/{m.name}": f"{name}-{m.name}" for m in self.member_list}
        self.namespace = None
        self.security_group_id = None
        secret, password = generated_secret(self, f"{name}-password", args.secrets_kms_key_arn, dict(args.tags),
                                            args.protect, path=f"{name}/neo4j-password",
                                            description="Neo4j 'neo4j' user password")
        self.password_secret_arn = secret.arn
        if args.placement == "eks":
            self._on_eks(name, args, password)
        else:
            self._on_ec2(name, args, secret)
        self.register_outputs({
            "bolt_endpoint": self.bolt_endpoint,
            "members": self.members,
            "namespace": self.namespace,
            "security_group_id": self.security_group_id,
            "backup_role_arn": self.backup_role_arn,
            "password_secret_arn": self.password_secret_arn,
        })

    # ---- EKS --------------------------------------------------------------------------------

    def _on_eks(self, name: str, a: GraphArgs, password: pulumi.Output[str]) -> None:
        assert a.cluster is not None
        cluster, ns = a.cluster, a.namespace
        self.namespace = ns
        labels = {"app.kubernetes.io/name": "graph", "app.kubernetes.io/part-of": "data-platform"}
        namespace, after_ns = workload_namespace(self, name, ns, "graph", cluster, protect=a.protect)

        headless = "graph-cluster"
        fqdn = {m.name: f"graph-{m.name}-0.{headless}.{ns}.svc.cluster.local" for m in self.member_list}
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-auth", namespace=ns, labels=labels),
            type="Opaque",
            string_data={"NEO4J_AUTH": _secret(password.apply(lambda p: f"neo4j/{p}"))},
            opts=after_ns())
        all_ports = [("bolt", PORTS["bolt"]), ("http", PORTS["http"]), ("tcp-discovery", PORTS["discovery-v1"]),
                     ("tcp-cluster", PORTS["cluster"]), ("tcp-raft", PORTS["raft"]),
                     ("tcp-routing", PORTS["routing"]), ("tcp-backup", PORTS["backup"]),
                     ("metrics", PORTS["metrics"])]
        _service(self, f"{name}-headless", headless, ns, labels, all_ports, after_ns, headless=True)
        _service(self, f"{name}-bolt", "graph-bolt", ns, {**labels, "graph.data-platform/role": "primary"},
                 [("bolt", PORTS["bolt"]), ("http", PORTS["http"])], after_ns)
        if a.secondaries:
            _service(self, f"{name}-read", "graph-read", ns, {**labels, "graph.data-platform/role": "secondary"},
                     [("bolt", PORTS["bolt"]), ("http", PORTS["http"])], after_ns)
        image = a.image or (f"neo4j:{a.version}-enterprise" if self.enterprise else f"neo4j:{a.version}")
        hosts = [fqdn[m.name] for m in self.member_list]
        for m in self.member_list:
            conf = render_neo4j_conf(
                member_role=m.role, member_index=m.index, advertised_host=fqdn[m.name], discovery_hosts=hosts,
                primaries=a.primaries, secondaries=a.secondaries, version=a.version, heap_size=_size(a, m.role)[2],
                pagecache_size=_size(a, m.role)[3], bolt_tls_level=a.bolt_tls_level,
                edition="enterprise" if self.enterprise else "community",
                data_directory="/data", logs_directory="/logs")
            mlabels = {**labels, "graph.data-platform/role": m.role, "graph.data-platform/member": m.name}
            cm = k8s.core.v1.ConfigMap(
                f"{name}-{m.name}-conf",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"graph-{m.name}-conf", namespace=ns, labels=mlabels),
                data={"neo4j.conf": conf},
                opts=after_ns())
            # The entrypoint reads "neo4j/<password>" from this file (NEO4J_AUTH_PATH), not from the env.
            env = [k8s.core.v1.EnvVarArgs(name="NEO4J_AUTH_PATH", value=NEO4J_AUTH_PATH)]
            if self.enterprise:
                env.append(k8s.core.v1.EnvVarArgs(name="NEO4J_ACCEPT_LICENSE_AGREEMENT", value=a.license_agreement))
            container = k8s.core.v1.ContainerArgs(
                name="neo4j", image=image, env=env,
                ports=[k8s.core.v1.ContainerPortArgs(name=n[:15], container_port=p) for n, p in all_ports],
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": _size(a, m.role)[0], "memory": _size(a, m.role)[1]},
                    limits={"cpu": _size(a, m.role)[0], "memory": _size(a, m.role)[1]}),
                security_context=container_security_context(read_only_root=True),
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data"),
                    k8s.core.v1.VolumeMountArgs(name="logs", mount_path="/logs"),
                    k8s.core.v1.VolumeMountArgs(name="conf", mount_path="/conf/neo4j.conf", sub_path="neo4j.conf",
                                                read_only=True),
                    *[k8s.core.v1.VolumeMountArgs(name=v, mount_path=p) for v, p in NEO4J_WRITABLE.items()],
                    k8s.core.v1.VolumeMountArgs(name="auth", mount_path=NEO4J_AUTH_DIR, read_only=True),
                ],
                startup_probe=_tcp_probe(PORTS["bolt"], failure_threshold=1000),
                readiness_probe=_tcp_probe(PORTS["bolt"], failure_threshold=20),
                liveness_probe=_tcp_probe(PORTS["bolt"], failure_threshold=40),
            )
            k8s.apps.v1.StatefulSet(
                f"{name}-{m.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"graph-{m.name}", namespace=ns, labels=mlabels),
                spec=k8s.apps.v1.StatefulSetSpecArgs(
                    replicas=1,
                    service_name=headless,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=mlabels),
                    pod_management_policy="Parallel",
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            labels=mlabels, annotations={"data-platform/conf-sha256": _sha(conf)}),
                        spec=k8s.core.v1.PodSpecArgs(
                            containers=[container],
                            volumes=[
                                k8s.core.v1.VolumeArgs(name="conf", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=f"graph-{m.name}-conf")),
                                k8s.core.v1.VolumeArgs(name="logs", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                    size_limit="5Gi")),
                                *[k8s.core.v1.VolumeArgs(name=v, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                    size_limit="512Mi" if v == "tmp" else "64Mi")) for v in NEO4J_WRITABLE],
                                k8s.core.v1.VolumeArgs(name="auth", secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name="graph-auth", default_mode=0o440)),
                            ],
                            security_context=pod_security_context(7474, 7474, 7474),
                            topology_spread_constraints=zone_spread(labels),
                            termination_grace_period_seconds=3600,
                            automount_service_account_token=False,
                            **workload_scheduling(graph_workload(a, m.role)),
                        ),
                    ),
                    volume_claim_templates=[_pvc_template("data", cluster, a.volume_gb)],
                ),
                opts=child_opts(self, stateful=True, protect=a.protect, depends_on=[namespace, cm, auth],
                                provider=cluster.provider))
        primaries_sel = {**labels, "graph.data-platform/role": "primary"}
        _pdb(self, f"{name}-primaries", "graph-primaries", ns, primaries_sel, after_ns,
             min_available=a.primaries // 2 + 1)
        if a.secondaries:
            _pdb(self, f"{name}-secondaries", "graph-secondaries", ns,
                 {**labels, "graph.data-platform/role": "secondary"}, after_ns, max_unavailable=1)
        backup_labels = {"app.kubernetes.io/name": "graph-backup", "app.kubernetes.io/component": "backup"}
        _network_policy(
            self, f"{name}-netpol", "graph", ns, labels, after_ns,
            app_namespace=a.app_namespace, client_ports=CLIENT_PORTS,
            peer_ports=(*CLUSTER_PORTS, *CLIENT_PORTS), backup_labels=backup_labels, backup_ports=(PORTS["backup"],),
            metrics_namespace=a.metrics_namespace, metrics_ports=(PORTS["metrics"],))
        # Backup: from secondaries first (keeps backup load off the Raft members), then primaries.
        order = [m for m in self.member_list if m.role == "secondary"] + \
                [m for m in self.member_list if m.role == "primary"]
        from_addresses = neo4j_backup_addresses([fqdn[m.name] for m in order])
        role = _backup_irsa(self, cluster, "graph-backup", ns, a.backup_bucket_name, a.backup_prefix,
                            a.backup_kms_key_arn)
        self.backup_role_arn = role.arn
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-backup-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-backup", namespace=ns, labels=backup_labels,
                                                annotations={"eks.amazonaws.com/role-arn": role.arn}),
            opts=after_ns())
        backup_env = [
            k8s.core.v1.EnvVarArgs(name="BACKUP_BUCKET", value=a.backup_bucket_name),
            k8s.core.v1.EnvVarArgs(name="BACKUP_PREFIX", value=a.backup_prefix),
            k8s.core.v1.EnvVarArgs(name="BACKUP_KMS_KEY_ARN", value=a.backup_kms_key_arn),
        ]
        work = [k8s.core.v1.VolumeMountArgs(name="backups", mount_path="/backups")]
        home_env, home_mount = _cli_home()
        lic = [k8s.core.v1.EnvVarArgs(name="NEO4J_ACCEPT_LICENSE_AGREEMENT", value=a.license_agreement)] \
            if self.enterprise else []
        if not self.enterprise:  # Community has no online backup (dev only): no CronJob
            self.bolt_endpoint = pulumi.Output.from_input(
                f"neo4j://graph-bolt.{ns}.svc.cluster.local:{PORTS['bolt']}")
            return
        _cron_job(
            self, f"{name}-backup", "graph-backup", ns, a.backup_schedule, backup_labels, sa, after_ns,
            init_containers=[k8s.core.v1.ContainerArgs(
                name="backup", image=image, command=["bash", "-c", render_neo4j_backup_step(from_addresses)],
                # neo4j-admin (run directly, not through the entrypoint) writes only its log ($NEO4J_HOME/logs
                # links to /logs), JVM scratch in /tmp and the backup in /backups.
                env=lic, volume_mounts=[*work, k8s.core.v1.VolumeMountArgs(name="logs", mount_path="/logs")],
                security_context=container_security_context(read_only_root=True),
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "500m", "memory": "2Gi"},
                                                               limits={"memory": "4Gi"}))],
            container=k8s.core.v1.ContainerArgs(
                name="upload", image=AWS_CLI_IMAGE, command=["bash", "-c", render_s3_upload_step()],
                env=[*backup_env, home_env], volume_mounts=[*work, home_mount],
                security_context=container_security_context(read_only_root=True),
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "256Mi"},
                                                               limits={"memory": "512Mi"})),
            # A backup of every database fits in a member's volume size.
            volumes=[_scratch_volume(f"{name}-backup-scratch", "backups", "graph-backup-scratch", ns, backup_labels,
                                     cluster, a.volume_gb, after_ns),
                     k8s.core.v1.VolumeArgs(name="logs", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                         size_limit="256Mi"))],
            uid=7474,
        )
        self.bolt_endpoint = pulumi.Output.from_input(f"neo4j://graph-bolt.{ns}.svc.cluster.local:{PORTS['bolt']}")

    # ---- EC2 --------------------------------------------------------------------------------

    def _on_ec2(self, name: str, a: GraphArgs, secret: aws.secretsmanager.Secret) -> None:
        tags = dict(a.tags)
        hosts = {m.name: f"{m.name}.{a.zone_name}" for m in self.member_list}
        fleet = Ec2Fleet(self, name, vpc_id=a.vpc_id, zone_name=a.zone_name, tags=tags, protect=a.protect,
                         description="Neo4j servers")
        self.security_group_id = fleet.security_group.id
        fleet.self_ingress(CLUSTER_PORTS + CLIENT_PORTS + (PORTS["metrics"],))
        if a.app_security_group_id is not None:
            fleet.ingress_from(a.app_security_group_id, CLIENT_PORTS, "application")
        role = fleet.instance_role(a.backup_bucket_name, a.backup_prefix, a.backup_kms_key_arn, secret.arn,
                                   a.secrets_kms_key_arn)
        self.backup_role_arn = role.arn
        order = [m for m in self.member_list if m.role == "secondary"] + \
                [m for m in self.member_list if m.role == "primary"]
        backup_member = order[0].name
        from_addresses = neo4j_backup_addresses([hosts[m.name] for m in order])
        for i, m in enumerate(self.member_list):
            conf = render_neo4j_conf(
                member_role=m.role, member_index=m.index, advertised_host=hosts[m.name],
                discovery_hosts=list(hosts.values()), primaries=a.primaries, secondaries=a.secondaries,
                version=a.version, heap_size=_size(a, m.role)[2], pagecache_size=_size(a, m.role)[3],
                bolt_tls_level=a.bolt_tls_level, edition="enterprise" if self.enterprise else "community")
            itype = a.instance_type if m.role == "primary" else (a.secondary_instance_type or a.instance_type)
            # Community has no online backup: no timer (dev only; settings forbid Community elsewhere).
            backup_from = from_addresses if m.name == backup_member and self.enterprise else None
            user_data = pulumi.Output.all(a.backup_bucket_name, a.backup_kms_key_arn, secret.arn).apply(
                functools.partial(_neo4j_user_data, a, conf, backup_from, self.enterprise))
            fleet.member(m.name, i, itype, a.subnet_ids, a.availability_zones, a.ami_id, a.volume_gb,
                         a.ebs_kms_key_arn or a.backup_kms_key_arn, user_data)
        first = self.member_list[0].name
        self.bolt_endpoint = pulumi.Output.from_input(f"neo4j://{hosts[first]}:{PORTS['bolt']}")

    def allow_from(self, security_group_id: pulumi.Input[str], description: str = "clients") -> None:
        """Admit Bolt (7687) and HTTP (7474) from a security group (placement ec2; on EKS the
        NetworkPolicy admits the application namespace instead)."""
        if self._fleet is None:
            raise ValueError("Graph.allow_from needs placement ec2; on eks use app_namespace")
        self._fleet.ingress_from(security_group_id, CLIENT_PORTS, description)

    _fleet: Ec2Fleet | None = None


def _neo4j_user_data(a: GraphArgs, conf: str, backup_from: str | None, enterprise: bool, v: list[Any]) -> str:
    return _neo4j_cloud_init(a, conf, v[0], v[1], v[2], backup_from, enterprise)


def _neo4j_cloud_init(a: GraphArgs, conf: str, bucket: str, kms_key: str, secret_arn: str,
                      backup_from: str | None, enterprise: bool) -> str:
    package = f"neo4j-enterprise-{a.version}" if enterprise else f"neo4j-{a.version}"
    files: list[dict[str, Any]] = [
        {"path": "/etc/yum.repos.d/neo4j.repo", "permissions": "0644", "content": (
            "[neo4j]\nname=Neo4j 5 RPM repository\nbaseurl=https://yum.neo4j.com/stable/5\nenabled=1\n"
            "gpgcheck=1\ngpgkey=https://debian.neo4j.com/neotechnology.gpg.key\n")},
        {"path": "/etc/data-platform/neo4j.conf", "permissions": "0640", "content": conf},
        {"path": "/usr/local/sbin/dp-neo4j-conf", "permissions": "0755", "content": render_conf_merge_script()},
        {"path": "/usr/local/sbin/dp-data-volume", "permissions": "0755", "content": DATA_VOLUME_SCRIPT},
    ]
    run: list[str | list[str]] = [
        ["/usr/local/sbin/dp-data-volume", "/dev/sdf", "/var/lib/neo4j"],
        ["dnf", "install", "-y", "java-21-amazon-corretto-headless"],
        f"NEO4J_ACCEPT_LICENSE_AGREEMENT={a.license_agreement if enterprise else 'no'} dnf install -y {package}",
        # Merged into the packaged neo4j.conf, not installed over it: that file holds the layout the server
        # needs (server.directories.lib, JVM flags, logs).
        ["/usr/local/sbin/dp-neo4j-conf", "/etc/data-platform/neo4j.conf", "/etc/neo4j/neo4j.conf"],
        ["chown", "-R", "neo4j:neo4j", "/var/lib/neo4j"],
        # The password is read at boot from Secrets Manager (instance role), never from user data.
        f'sudo -u neo4j neo4j-admin dbms set-initial-password "$(aws secretsmanager get-secret-value '
        f'--secret-id {secret_arn} --query SecretString --output text)"',
        ["systemctl", "enable", "--now", "neo4j"],
    ]
    if backup_from is not None:
        units = render_systemd_units(
            "neo4j-backup", description="Neo4j online backup to S3", exec_start="/usr/local/bin/neo4j-backup",
            on_calendar=cron_to_on_calendar(a.backup_schedule), user="neo4j",
            environment_files=["/etc/data-platform/backup.env"])
        files += [
            {"path": "/usr/local/bin/neo4j-backup", "permissions": "0755",
             "content": render_neo4j_backup_script(backup_from)},
            {"path": "/etc/data-platform/backup.env", "permissions": "0644",
             "content": f"BACKUP_BUCKET={bucket}\nBACKUP_PREFIX={a.backup_prefix}\nBACKUP_KMS_KEY_ARN={kms_key}\n"},
            *({"path": f"/etc/systemd/system/{n}", "permissions": "0644", "content": c} for n, c in units.items()),
        ]
        run += [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "neo4j-backup.timer"]]
    return render_cloud_config({"write_files": files, "runcmd": run})


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


# ============================================================================================
# Helpers shared with components.aws.vector
# ============================================================================================


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
    value = _secret(pw.result)
    # name_prefix, not name: a deleted secret keeps its name for the whole recovery window (30 days), so a
    # destroy-and-recreate with a fixed name fails; AWS appends a unique suffix to the readable path.
    secret = aws.secretsmanager.Secret(name, name_prefix=f"{pulumi.get_project()}-{pulumi.get_stack()}/{path}-",
                                       description=description, kms_key_id=kms_key_arn,
                                       recovery_window_in_days=30,
                                       tags={**tags, "rotation-exempt": GENERATED_SECRET_ROTATION_REASON},
                                       opts=child_opts(parent, stateful=True, protect=protect))
    aws.secretsmanager.SecretVersion(name, secret_id=secret.id, secret_string=value,
                                     opts=child_opts(parent, stateful=True, protect=protect))
    return secret, value


def _secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    """Mark a value secret (the mock runtime ignores provider-side secret outputs, so be explicit)."""
    return pulumi.Output.secret(value)  # type: ignore[arg-type]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tcp_probe(port: int, failure_threshold: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port), period_seconds=5,
                                 timeout_seconds=3, failure_threshold=failure_threshold)


def _pvc_template(name: str, cluster: EksCluster, gb: int) -> k8s.core.v1.PersistentVolumeClaimArgs:
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"], storage_class_name=cluster.storage_class_name,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{gb}Gi"})))


def _scratch_volume(rname: str, volume: str, claim: str, ns: str, labels: Mapping[str, str], cluster: EksCluster,
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


def _service(parent: pulumi.Resource, rname: str, name: str, ns: str, selector: Mapping[str, str],
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


def _pdb(parent: pulumi.Resource, rname: str, name: str, ns: str, selector: Mapping[str, str],
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


def _network_policy(parent: pulumi.Resource, rname: str, name: str, ns: str, labels: Mapping[str, str],
                    opts: OptsFactory, *, app_namespace: str, client_ports: Sequence[int],
                    peer_ports: Sequence[int], backup_labels: Mapping[str, str], backup_ports: Sequence[int],
                    metrics_namespace: str | None, metrics_ports: Sequence[int]) -> k8s.networking.v1.NetworkPolicy:
    """Ingress to the store's pods: clients from the app namespace, peers from each other, the backup
    job on its ports, Prometheus from the monitoring namespace. Everything else is denied."""
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


def _backup_irsa(owner: pulumi.Resource, cluster: EksCluster, sa: str, ns: str, bucket: pulumi.Input[str],
                 prefix: str, kms: pulumi.Input[str]) -> aws.iam.Role:
    policy = pulumi.Output.all(bucket, kms).apply(lambda v: backup_bucket_policy(v[0], prefix, v[1]))
    return cluster.irsa_role("backup", ns, sa, policy, parent=owner)


def _cli_home() -> tuple[k8s.core.v1.EnvVarArgs, k8s.core.v1.VolumeMountArgs]:
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


def _cron_job(parent: pulumi.Resource, rname: str, name: str, ns: str, schedule: str, labels: Mapping[str, str],
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
                        service_account_name=sa.metadata.apply(lambda m: m.name),  # type: ignore[union-attr]
                        restart_policy="OnFailure",
                        init_containers=[_with_tmp(c) for c in init_containers] or None,
                        containers=[_with_tmp(container)],
                        volumes=[*volumes, k8s.core.v1.VolumeArgs(  # see _cli_home
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


class Ec2Fleet:
    """The EC2 side of a store: security group, private zone, instance role, and members."""

    def __init__(self, parent: pulumi.ComponentResource, name: str, *, vpc_id: pulumi.Input[str] | None,
                 zone_name: str, tags: dict[str, str], protect: bool, description: str) -> None:
        self.parent, self.name, self.tags, self.protect, self.zone_name = parent, name, tags, protect, zone_name
        parent._fleet = self  # type: ignore[attr-defined]
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
                      secret_arn: pulumi.Input[str], secrets_kms: pulumi.Input[str]) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self.name}-instance-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=self.tags, opts=child_opts(self.parent))
        aws.iam.RolePolicyAttachment(f"{self.name}-ssm", role=role.name,
                                     policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                                     opts=child_opts(self.parent))
        policy = pulumi.Output.all(bucket, backup_kms, secret_arn, secrets_kms).apply(
            lambda v: _instance_policy(v[0], prefix, v[1], v[2], v[3]))
        aws.iam.RolePolicy(f"{self.name}-backup", role=role.name, policy=policy, opts=child_opts(self.parent))
        self.profile = aws.iam.InstanceProfile(f"{self.name}-profile", role=role.name, tags=self.tags,
                                               opts=child_opts(self.parent))
        return role

    def member(self, member: str, i: int, instance_type: str, subnet_ids: Sequence[pulumi.Input[str]],
               azs: Sequence[str], ami_id: pulumi.Input[str] | None, volume_gb: int, kms: pulumi.Input[str],
               user_data: pulumi.Input[str]) -> aws.ec2.Instance:
        from components.aws.eks import is_graviton

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


def _instance_policy(bucket: str, prefix: str, backup_kms: str, secret_arn: str, secrets_kms: str) -> str:
    doc = json.loads(backup_bucket_policy(bucket, prefix, backup_kms))
    doc["Statement"] += [
        {"Sid": "ReadOwnSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": secret_arn},
        {"Sid": "DecryptOwnSecret", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": secrets_kms,
         "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
    ]
    return json.dumps(doc)



def _size(a: GraphArgs, role: str) -> tuple[str, str, str, str]:
    """``(cpu, memory, heap, page cache)`` of a member: secondaries may run smaller (``secondary_sizing``)."""
    if role == "secondary" and a.secondary_sizing is not None:
        return a.secondary_sizing
    return (a.cpu, a.memory, a.heap_size, a.pagecache_size)


def graph_workload(a: GraphArgs, role: str) -> str:
    """The node-group workload label a member schedules on: secondaries get their own group when sized apart."""
    return "graph-secondary" if role == "secondary" and a.secondary_sizing is not None else "graph"


#: ``(cpu, memory, heap, page cache)`` of one Neo4j server per node type: the request leaves ~1 vCPU and
#: ~2.5 GiB to the kubelet, the VPC CNI, kube-proxy and the EBS CSI node; heap + page cache + ~3 GiB of
#: native memory fit in the request.
NEO4J_SIZING: dict[str, tuple[str, str, str, str]] = {
    "m7g.large": ("1500m", "6Gi", "2g", "2g"),
    "m7g.xlarge": ("3", "13Gi", "4g", "6g"),
    "r7g.large": ("1500m", "13Gi", "4g", "6g"),
    "r7g.xlarge": ("3", "27Gi", "8g", "16g"),
    "r7g.2xlarge": ("7", "56Gi", "16g", "36g"),
    "r6i.large": ("1500m", "13Gi", "4g", "6g"),
    "r6i.xlarge": ("3", "27Gi", "8g", "16g"),
    "r6i.2xlarge": ("7", "56Gi", "16g", "36g"),
}


def neo4j_sizing(instance_type: str) -> tuple[str, str, str, str]:
    """Sizing of a Neo4j server on ``instance_type`` (see :data:`NEO4J_SIZING`)."""
    if instance_type not in NEO4J_SIZING:
        raise ArgsError("GraphArgs", "instance_type", instance_type, ", ".join(NEO4J_SIZING))
    return NEO4J_SIZING[instance_type]
