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

**Logins (Enterprise; issue 17)** — ``readonly_user`` (built-in role ``reader``), ``app_user``
(``editor``) and ``admin_user`` (``admin``, the operators'), their passwords one JSON secret in Secrets
Manager (:func:`~components.aws.workload.generated_json_secret`), created at first start by
:func:`~components.render.neo4j.render_neo4j_users_script` running the Cypher of
:func:`~components.render.neo4j.render_neo4j_users_cypher` as ``neo4j``: on EKS a Job ``graph-users``
after the members' StatefulSets (the NetworkPolicy admits it on Bolt only), on EC2 the first primary's
cloud-init (:data:`NEO4J_USERS_EC2_SCRIPT`). Community has no roles: no logins, no secret for them.

The placement types, the Kubernetes and EC2 helpers and the secret helper are the workload kit of
:mod:`components.aws.workload`, shared with :mod:`components.aws.vector`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.workload import (
    AWS_CLI_IMAGE,
    DATA_VOLUME_SCRIPT,
    Ec2Fleet,
    Ec2Placement,
    EksPlacement,
    Placement,
    as_secret,
    backup_irsa,
    cli_home,
    config_sha,
    container_security_context,
    cron_job,
    disruption_budget,
    generated_json_secret,
    generated_secret,
    network_policy,
    pod_security_context,
    pvc_template,
    scratch_volume,
    service,
    validate_placement,
    workload_namespace,
    workload_scheduling,
    zone_spread,
)
from components.base import ArgsError, child_opts, problem_line
from components.render.backup_scripts import (
    cron_to_on_calendar,
    neo4j_backup_addresses,
    render_cloud_config,
    render_neo4j_backup_script,
    render_neo4j_backup_step,
    render_s3_upload_step,
    render_systemd_units,
)
from components.render.neo4j import (
    NEO4J_USERS,
    PORTS,
    BoltTls,
    render_conf_merge_script,
    render_neo4j_conf,
    render_neo4j_users_cypher,
    render_neo4j_users_script,
)

TYPE_TOKEN = "data-platform:aws:Graph"
CLUSTER_PORTS: tuple[int, ...] = (PORTS["discovery-v1"], PORTS["cluster"], PORTS["raft"], PORTS["routing"],
                                  PORTS["backup"])
CLIENT_PORTS: tuple[int, ...] = (PORTS["bolt"], PORTS["http"])
#: $NEO4J_HOME of the official image (``/var/lib/neo4j``; ``data`` and ``logs`` there link to /data, /logs).
NEO4J_HOME = "/var/lib/neo4j"
#: Paths the official image writes besides /data and /logs (see the module docstring): emptyDir volumes.
NEO4J_WRITABLE: dict[str, str] = {"conf-dir": f"{NEO4J_HOME}/conf", "run": "/run", "tmp": "/tmp"}
#: Where the ``graph-auth`` Secret is mounted; ``NEO4J_AUTH_PATH`` names the file in it.
NEO4J_AUTH_DIR = "/var/run/secrets/neo4j"
NEO4J_AUTH_PATH = f"{NEO4J_AUTH_DIR}/NEO4J_AUTH"
#: Where the users Job mounts the ``graph-users`` Secret (one file per login) and ConfigMap (Cypher, runner).
NEO4J_USERS_DIR = "/var/run/secrets/neo4j-users"
NEO4J_USERS_CONFIG_DIR = "/etc/neo4j-users"
#: Why the secret of the RBAC logins' passwords has no rotation schedule (AWS tag value characters only).
NEO4J_USERS_ROTATION_REASON = ("no schedule: the logins are created once at first start from it - a new password "
                               "is set with ALTER USER as admin_user and then stored here - manual rotation")
#: Defaults of the placement fields left unset (:class:`~components.aws.workload.EksPlacement` /
#: :class:`~components.aws.workload.Ec2Placement`).
DEFAULT_NAMESPACE = "graph"
DEFAULT_INSTANCE_TYPE = "r7g.xlarge"
DEFAULT_ZONE_NAME = "graph.data-platform.internal"


@dataclass(frozen=True)
class GraphArgs:
    """Arguments of :class:`Graph`."""

    backup_bucket_name: pulumi.Input[str]
    """Graph backup bucket (from the backups component)."""
    backup_kms_key_arn: pulumi.Input[str]
    """KMS key of the backup bucket; uploads are SSE-KMS with it."""
    secrets_kms_key_arn: pulumi.Input[str]
    """KMS key of the Secrets Manager secret holding the ``neo4j`` password."""
    placement: Placement
    """Where the servers run: :class:`~components.aws.workload.EksPlacement` (one StatefulSet per member;
    namespace default ``graph``) or :class:`~components.aws.workload.Ec2Placement` (one instance per member;
    instance type default r7g.xlarge, zone default ``graph.data-platform.internal``). Required."""
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
    image: str | None = None
    """Container image (placement eks). Default: ``neo4j:<version>-enterprise`` (``neo4j:<version>`` for
    Community)."""
    secondary_instance_type: str | None = None
    """Instance type of secondaries (placement ec2). Default: the placement's instance type."""
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
    errs += validate_placement(a.placement)
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
            raise ArgsError.of([problem_line("GraphArgs", *e) for e in errs])
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
        #: Enterprise only (Community has no roles): readonly_user (reader), app_user (editor) and admin_user
        #: (admin), created at first start from one JSON secret of their passwords.
        self.users: dict[str, str] = dict(NEO4J_USERS) if self.enterprise else {}
        self.users_secret_arn: pulumi.Output[str] | None = None
        users_secret: aws.secretsmanager.Secret | None = None
        user_passwords: dict[str, pulumi.Output[str]] = {}
        if self.enterprise:
            users_secret, user_passwords = generated_json_secret(
                self, f"{name}-users", list(self.users), args.secrets_kms_key_arn, dict(args.tags), args.protect,
                path=f"{name}/neo4j-users", description="Neo4j logins readonly_user, app_user, admin_user: "
                "password by login (JSON)", rotation_exempt=NEO4J_USERS_ROTATION_REASON)
            self.users_secret_arn = users_secret.arn
        if isinstance(args.placement, EksPlacement):
            self._on_eks(name, args, args.placement, password, user_passwords)
        else:
            self._on_ec2(name, args, args.placement, secret, users_secret)
        self.register_outputs({
            "bolt_endpoint": self.bolt_endpoint,
            "members": self.members,
            "namespace": self.namespace,
            "security_group_id": self.security_group_id,
            "backup_role_arn": self.backup_role_arn,
            "password_secret_arn": self.password_secret_arn,
            "users": self.users,
            "users_secret_arn": self.users_secret_arn,
        })

    # ---- EKS --------------------------------------------------------------------------------

    def _on_eks(self, name: str, a: GraphArgs, p: EksPlacement, password: pulumi.Output[str],
                user_passwords: Mapping[str, pulumi.Output[str]]) -> None:
        cluster, ns = p.cluster, p.namespace or DEFAULT_NAMESPACE
        self.namespace = ns
        labels = {"app.kubernetes.io/name": "graph", "app.kubernetes.io/part-of": "data-platform"}
        namespace, after_ns = workload_namespace(self, name, ns, "graph", cluster, protect=a.protect)

        headless = "graph-cluster"
        fqdn = {m.name: f"graph-{m.name}-0.{headless}.{ns}.svc.cluster.local" for m in self.member_list}
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-auth", namespace=ns, labels=labels),
            type="Opaque",
            string_data={"NEO4J_AUTH": as_secret(password.apply(lambda p: f"neo4j/{p}"))},
            opts=after_ns())
        all_ports = [("bolt", PORTS["bolt"]), ("http", PORTS["http"]), ("tcp-discovery", PORTS["discovery-v1"]),
                     ("tcp-cluster", PORTS["cluster"]), ("tcp-raft", PORTS["raft"]),
                     ("tcp-routing", PORTS["routing"]), ("tcp-backup", PORTS["backup"]),
                     ("metrics", PORTS["metrics"])]
        service(self, f"{name}-headless", headless, ns, labels, all_ports, after_ns, headless=True)
        service(self, f"{name}-bolt", "graph-bolt", ns, {**labels, "graph.data-platform/role": "primary"},
                 [("bolt", PORTS["bolt"]), ("http", PORTS["http"])], after_ns)
        if a.secondaries:
            service(self, f"{name}-read", "graph-read", ns, {**labels, "graph.data-platform/role": "secondary"},
                     [("bolt", PORTS["bolt"]), ("http", PORTS["http"])], after_ns)
        image = a.image or (f"neo4j:{a.version}-enterprise" if self.enterprise else f"neo4j:{a.version}")
        hosts = [fqdn[m.name] for m in self.member_list]
        members: list[pulumi.Resource] = []
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
            members.append(k8s.apps.v1.StatefulSet(
                f"{name}-{m.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"graph-{m.name}", namespace=ns, labels=mlabels),
                spec=k8s.apps.v1.StatefulSetSpecArgs(
                    replicas=1,
                    service_name=headless,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=mlabels),
                    pod_management_policy="Parallel",
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            labels=mlabels, annotations={"data-platform/conf-sha256": config_sha(conf)}),
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
                    volume_claim_templates=[pvc_template("data", cluster, a.volume_gb)],
                ),
                opts=child_opts(self, stateful=True, protect=a.protect, depends_on=[namespace, cm, auth],
                                provider=cluster.provider)))
        primaries_sel = {**labels, "graph.data-platform/role": "primary"}
        disruption_budget(self, f"{name}-primaries", "graph-primaries", ns, primaries_sel, after_ns,
             min_available=a.primaries // 2 + 1)
        if a.secondaries:
            disruption_budget(self, f"{name}-secondaries", "graph-secondaries", ns,
                 {**labels, "graph.data-platform/role": "secondary"}, after_ns, max_unavailable=1)
        backup_labels = {"app.kubernetes.io/name": "graph-backup", "app.kubernetes.io/component": "backup"}
        users_labels = {"app.kubernetes.io/name": "graph-users", "app.kubernetes.io/component": "bootstrap"}
        network_policy(
            self, f"{name}-netpol", "graph", ns, labels, after_ns,
            app_namespace=p.app_namespace, client_ports=CLIENT_PORTS,
            peer_ports=(*CLUSTER_PORTS, *CLIENT_PORTS), backup_labels=backup_labels, backup_ports=(PORTS["backup"],),
            metrics_namespace=p.metrics_namespace, metrics_ports=(PORTS["metrics"],),
            jobs=[(users_labels, (PORTS["bolt"],))] if self.enterprise else ())
        if self.enterprise:
            self._users_job(name, ns, users_labels, image, user_passwords, after_ns, cluster.provider,
                            depends_on=[namespace, auth, *members])
        # Backup: from secondaries first (keeps backup load off the Raft members), then primaries.
        order = [m for m in self.member_list if m.role == "secondary"] + \
                [m for m in self.member_list if m.role == "primary"]
        from_addresses = neo4j_backup_addresses([fqdn[m.name] for m in order])
        role = backup_irsa(self, cluster, "graph-backup", ns, a.backup_bucket_name, a.backup_prefix,
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
        home_env, home_mount = cli_home()
        lic = [k8s.core.v1.EnvVarArgs(name="NEO4J_ACCEPT_LICENSE_AGREEMENT", value=a.license_agreement)] \
            if self.enterprise else []
        if not self.enterprise:  # Community has no online backup (dev only): no CronJob
            self.bolt_endpoint = pulumi.Output.from_input(
                f"neo4j://graph-bolt.{ns}.svc.cluster.local:{PORTS['bolt']}")
            return
        cron_job(
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
            volumes=[scratch_volume(f"{name}-backup-scratch", "backups", "graph-backup-scratch", ns, backup_labels,
                                     cluster, a.volume_gb, after_ns),
                     k8s.core.v1.VolumeArgs(name="logs", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                         size_limit="256Mi"))],
            uid=7474,
        )
        self.bolt_endpoint = pulumi.Output.from_input(f"neo4j://graph-bolt.{ns}.svc.cluster.local:{PORTS['bolt']}")

    def _users_job(self, name: str, ns: str, labels: Mapping[str, str], image: str,
                   user_passwords: Mapping[str, pulumi.Output[str]], after_ns: Callable[[], pulumi.ResourceOptions],
                   provider: pulumi.ProviderResource, *, depends_on: Sequence[pulumi.Resource]) -> None:
        """The RBAC logins, created at first start: a Job runs :func:`render_neo4j_users_script` (cypher-shell of
        the Neo4j image) once the members are up, as ``neo4j`` against ``graph-bolt``, with the passwords
        mounted from the ``graph-users`` Secret (one file per login) and the Cypher from a ConfigMap."""
        secret = k8s.core.v1.Secret(
            f"{name}-users",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-users", namespace=ns, labels=dict(labels)),
            type="Opaque",
            string_data={user: as_secret(pw) for user, pw in user_passwords.items()},
            opts=after_ns())
        cm = k8s.core.v1.ConfigMap(
            f"{name}-users",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-users", namespace=ns, labels=dict(labels)),
            data={"users.cypher": render_neo4j_users_cypher(self.users),
                  "dp-neo4j-users": render_neo4j_users_script()},
            opts=after_ns())
        env = {"NEO4J_URI": f"neo4j://graph-bolt.{ns}.svc.cluster.local:{PORTS['bolt']}",
               "NEO4J_AUTH_FILE": NEO4J_AUTH_PATH, "NEO4J_USERS_DIR": NEO4J_USERS_DIR,
               "NEO4J_USERS_CYPHER": f"{NEO4J_USERS_CONFIG_DIR}/users.cypher", "NEO4J_WAIT_SECONDS": "1500",
               "HOME": "/tmp"}
        k8s.batch.v1.Job(
            f"{name}-users",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="graph-users", namespace=ns, labels=dict(labels)),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=3,
                active_deadline_seconds=1800,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels)),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="OnFailure",
                        containers=[k8s.core.v1.ContainerArgs(
                            name="users", image=image,
                            command=["bash", f"{NEO4J_USERS_CONFIG_DIR}/dp-neo4j-users"],
                            env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in env.items()],
                            security_context=container_security_context(read_only_root=True),
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "100m", "memory": "512Mi"}, limits={"memory": "512Mi"}),
                            volume_mounts=[
                                k8s.core.v1.VolumeMountArgs(name="auth", mount_path=NEO4J_AUTH_DIR, read_only=True),
                                k8s.core.v1.VolumeMountArgs(name="users", mount_path=NEO4J_USERS_DIR, read_only=True),
                                k8s.core.v1.VolumeMountArgs(name="config", mount_path=NEO4J_USERS_CONFIG_DIR,
                                                            read_only=True),
                                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                            ])],
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="auth", secret=k8s.core.v1.SecretVolumeSourceArgs(
                                secret_name="graph-auth", default_mode=0o440)),
                            k8s.core.v1.VolumeArgs(name="users", secret=k8s.core.v1.SecretVolumeSourceArgs(
                                secret_name="graph-users", default_mode=0o440)),
                            k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                name="graph-users", default_mode=0o555)),
                            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                size_limit="256Mi")),
                        ],
                        security_context=pod_security_context(7474, 7474, 7474),
                        automount_service_account_token=False,
                    ))),
            # The Job waits for the members (Pulumi awaits their readiness first) and then for the cluster.
            opts=child_opts(self, provider=provider, depends_on=[*depends_on, secret, cm],
                            custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m")))

    # ---- EC2 --------------------------------------------------------------------------------

    def _on_ec2(self, name: str, a: GraphArgs, p: Ec2Placement, secret: aws.secretsmanager.Secret,
                users_secret: aws.secretsmanager.Secret | None) -> None:
        tags = dict(a.tags)
        zone_name = p.zone_name or DEFAULT_ZONE_NAME
        hosts = {m.name: f"{m.name}.{zone_name}" for m in self.member_list}
        fleet = Ec2Fleet(self, name, vpc_id=p.vpc_id, zone_name=zone_name, tags=tags, protect=a.protect,
                         description="Neo4j servers")
        self._fleet = fleet
        self.security_group_id = fleet.security_group.id
        fleet.self_ingress(CLUSTER_PORTS + CLIENT_PORTS + (PORTS["metrics"],))
        if p.app_security_group_id is not None:
            fleet.ingress_from(p.app_security_group_id, CLIENT_PORTS, "application")
        role = fleet.instance_role(a.backup_bucket_name, a.backup_prefix, a.backup_kms_key_arn,
                                   [secret.arn, *([users_secret.arn] if users_secret is not None else [])],
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
            primary_type = p.instance_type or DEFAULT_INSTANCE_TYPE
            itype = primary_type if m.role == "primary" else (a.secondary_instance_type or primary_type)
            # Community has no online backup: no timer (dev only; settings forbid Community elsewhere).
            backup_from = from_addresses if m.name == backup_member and self.enterprise else None
            # The first primary creates the RBAC logins once the cluster answers (Enterprise only).
            users_arn = users_secret.arn if users_secret is not None and i == 0 else None
            user_data = pulumi.Output.all(a.backup_bucket_name, a.backup_kms_key_arn, secret.arn, users_arn).apply(
                functools.partial(_neo4j_user_data, a, conf, backup_from, self.enterprise, self.users))
            fleet.member(m.name, i, itype, p.subnet_ids, p.availability_zones, p.ami_id, a.volume_gb,
                         p.ebs_kms_key_arn, user_data)
        first = self.member_list[0].name
        self.bolt_endpoint = pulumi.Output.from_input(f"neo4j://{hosts[first]}:{PORTS['bolt']}")

    def allow_from(self, security_group_id: pulumi.Input[str], description: str = "clients") -> None:
        """Admit Bolt (7687) and HTTP (7474) from a security group (placement ec2; on EKS the
        NetworkPolicy admits the application namespace instead)."""
        if self._fleet is None:
            raise ValueError("Graph.allow_from needs placement ec2; on eks use app_namespace")
        self._fleet.ingress_from(security_group_id, CLIENT_PORTS, description)

    _fleet: Ec2Fleet | None = None


def _neo4j_user_data(a: GraphArgs, conf: str, backup_from: str | None, enterprise: bool, users: Mapping[str, str],
                     v: list[Any]) -> str:
    return _neo4j_cloud_init(a, conf, v[0], v[1], v[2], backup_from, enterprise, users_secret_arn=v[3], users=users)


#: EC2: fetch the ``neo4j`` password (``$1``) and the logins' JSON secret (``$2``) into a root-only directory
#: under /run (tmpfs), run ``dp-neo4j-users`` against the local server, and delete them whatever happens.
NEO4J_USERS_EC2_SCRIPT = """#!/bin/bash
# Create the Neo4j logins from Secrets Manager at first boot (rendered by data-platform)
set -euo pipefail
dir="$(mktemp -d /run/dp-neo4j-users.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
mkdir -m 700 "$dir/users"
aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text > "$dir/auth"
aws secretsmanager get-secret-value --secret-id "$2" --query SecretString --output text \\
  | python3 -c 'import json,sys; d=json.load(sys.stdin); [open(sys.argv[1]+"/"+k,"w").write(d[k]) for k in d]' \\
    "$dir/users"
NEO4J_URI=neo4j://localhost:7687 NEO4J_AUTH_FILE="$dir/auth" NEO4J_USERS_DIR="$dir/users" \\
  NEO4J_USERS_CYPHER=/etc/data-platform/users.cypher /usr/local/sbin/dp-neo4j-users
"""


def _neo4j_cloud_init(a: GraphArgs, conf: str, bucket: str, kms_key: str, secret_arn: str,
                      backup_from: str | None, enterprise: bool, *, users_secret_arn: str | None = None,
                      users: Mapping[str, str] | None = None) -> str:
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
    if users_secret_arn is not None and users:
        files += [
            {"path": "/etc/data-platform/users.cypher", "permissions": "0644",
             "content": render_neo4j_users_cypher(users)},
            {"path": "/usr/local/sbin/dp-neo4j-users", "permissions": "0755", "content": render_neo4j_users_script()},
            {"path": "/usr/local/sbin/dp-neo4j-users-ec2", "permissions": "0700", "content": NEO4J_USERS_EC2_SCRIPT},
        ]
        # Passwords are read from Secrets Manager (instance role) when the script runs, never from user data.
        run.append(["/usr/local/sbin/dp-neo4j-users-ec2", secret_arn, users_secret_arn])
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


def _tcp_probe(port: int, failure_threshold: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port), period_seconds=5,
                                 timeout_seconds=3, failure_threshold=failure_threshold)


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
