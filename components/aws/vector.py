"""Qdrant peers in cluster mode, on EKS or on EC2.

``Vector`` (type ``data-platform:aws:Vector``) runs ``peers`` Qdrant peers named ``peer-1..N`` (the
topology's ``vector/peer-1`` ...) with the config of
:func:`components.render.qdrant.render_qdrant_config` (cluster on, P2P 6335, default
``replication_factor`` / ``write_consistency_factor`` of new collections, HNSW defaults). Peer 1
starts the cluster with ``--uri``; every other peer joins with ``--bootstrap <peer 1>``.

**eks** — one StatefulSet (``podManagementPolicy: Parallel``: OrderedReady deadlocks a forming
cluster), every peer identical but for its ordinal, so one set fits (unlike Neo4j). A headless
Service gives stable peer names, a ClusterIP Service ``vector`` serves REST 6333 / gRPC 6334. The
PDB allows one peer down at a time, which keeps every shard with replication factor 2 available.
Pods spread over zones and nodes of the ``vector`` node group, run as uid 1000 with a read-only
root filesystem (as the official chart), every capability dropped, no service-account token. The
NetworkPolicy admits clients from the application namespace on 6333/6334 only; P2P 6335 only between
peers (it accepts writes and must never be reachable from outside). Two API keys (issue 17), each a
RandomPassword in its own Secrets Manager secret: the admin key (``service.api_key``: the snapshot job,
operators) and the read-only key (``service.read_only_api_key``: read-only clients and the Prometheus
scrape, :attr:`Vector.read_only_api_key`). They reach the pods as a Kubernetes Secret mounted as files,
never as environment variables: the peers read both from a second config file
(:data:`API_KEY_CONFIG`, :func:`~components.render.qdrant.render_api_keys_config`, ``--config-path``,
which Qdrant merges over ``config/production.yaml``), the snapshot job reads the bare admin key from
:data:`API_KEY_FILE`. Neither is ever in the ConfigMap. A CronJob
(every ``snapshot_interval_hours``) snapshots every collection on every peer and uploads to the
vector backup bucket through an IRSA role scoped to that bucket and key. Snapshots are written to
the peer's data volume (:data:`SNAPSHOTS_PATH`) and the job downloads them
into a claim of its own: none of it lands on a node's root volume.

**ec2** — one instance per peer (round-robin subnets, IMDSv2 hop 1, no public IP, SSM, encrypted
gp3 data volume that outlives the instance), Qdrant run by systemd from the official image with
Docker (Qdrant publishes no RPM; the image is the same artifact as on EKS), both API keys fetched at
boot from Secrets Manager into a root-only environment file, and a systemd timer per peer
(``OnCalendar=*-*-* 00/6:00:00``) that snapshots that peer's shards to S3.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    render_cloud_config,
    render_qdrant_snapshot_script,
    render_systemd_units,
)
from components.render.qdrant import (
    API_KEY_ENV,
    PORTS,
    READ_ONLY_API_KEY_ENV,
    peer_args,
    render_api_keys_config,
    render_qdrant_config,
)

TYPE_TOKEN = "data-platform:aws:Vector"
CLIENT_PORTS: tuple[int, ...] = (PORTS["http"], PORTS["grpc"])
#: Snapshots stay on the data volume beside the storage: Qdrant builds each snapshot archive in storage/tmp
#: anyway (temp_path unset), so keeping the result there costs no more space and moves it by a rename; a
#: separate emptyDir would put it on the node's root volume. Qdrant creates the directory itself.
SNAPSHOTS_PATH = "/qdrant/storage/snapshots"
#: Defaults of the placement fields left unset (:class:`~components.aws.workload.EksPlacement` /
#: :class:`~components.aws.workload.Ec2Placement`).
DEFAULT_NAMESPACE = "vector"
DEFAULT_INSTANCE_TYPE = "r7g.large"
DEFAULT_ZONE_NAME = "vector.data-platform.internal"


#: The peers' second config file (``service.api_key`` and ``service.read_only_api_key``), from the
#: ``vector-api-key`` Secret.
API_KEY_CONFIG = "/qdrant/secrets/api-key.yaml"
#: The bare API key in the snapshot job (``QDRANT_API_KEY_FILE``), from the same Secret.
API_KEY_FILE = "/var/run/secrets/qdrant/api-key"


@dataclass(frozen=True)
class VectorArgs:
    """Arguments of :class:`Vector`."""

    backup_bucket_name: pulumi.Input[str]
    """Vector backup bucket (from the backups component)."""
    backup_kms_key_arn: pulumi.Input[str]
    """KMS key of the backup bucket; uploads are SSE-KMS with it."""
    secrets_kms_key_arn: pulumi.Input[str]
    """KMS key of the Secrets Manager secrets holding the admin and the read-only API key."""
    placement: Placement
    """Where the peers run: :class:`~components.aws.workload.EksPlacement` (one StatefulSet; namespace
    default ``vector``) or :class:`~components.aws.workload.Ec2Placement` (one instance per peer; instance
    type default r7g.large, zone default ``vector.data-platform.internal``). Required."""
    peers: int = 3
    """Qdrant peers. Default: 3 (1..50)."""
    replication_factor: int = 2
    """Default replication factor of new collections (<= peers). Default: 2."""
    write_consistency_factor: int = 1
    """Replicas that must acknowledge a write (<= replication_factor). Default: 1."""
    hnsw_m: int = 16
    """Default HNSW ``m``. Default: 16."""
    hnsw_ef_construct: int = 100
    """Default HNSW ``ef_construct``. Default: 100."""
    on_disk_payload: bool = True
    """Keep payloads on disk (RAM for vectors and HNSW graphs). Default: True."""
    version: str = "1.15.4"
    """Qdrant version (image tag ``v<version>``). Default: 1.15.4."""
    cpu: str = "1500m"
    """EKS CPU request (limit: none, Qdrant bursts while indexing). Default: 1500m (of 2 vCPU)."""
    memory: str = "13Gi"
    """EKS memory request and limit. Default: 13Gi (r7g.large: 16 GiB)."""
    volume_gb: int = 100
    """Storage per peer, encrypted gp3 GiB. Default: 100."""
    snapshot_interval_hours: int = 6
    """Snapshot interval, hours (divides 24 for an even schedule). Default: 6 → ``0 */6 * * *``."""
    backup_prefix: str = "qdrant"
    """Key prefix in the backup bucket. Default: qdrant."""
    image: str | None = None
    """Container image (EKS and EC2). Default: ``qdrant/qdrant:v<version>``."""
    protect: bool = False
    """Protect and retain stateful children (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every AWS resource. Default: none."""

    @property
    def snapshot_schedule(self) -> str:
        """Cron schedule of snapshots, e.g. ``0 */6 * * *``."""
        return f"0 */{self.snapshot_interval_hours} * * *"


def validate_vector_args(a: VectorArgs) -> list[tuple[str, Any, str]]:
    errs: list[tuple[str, Any, str]] = []
    if not 1 <= a.peers <= 50:
        errs.append(("peers", a.peers, "1..50"))
    if not 1 <= a.replication_factor <= max(a.peers, 1):
        errs.append(("replication_factor", a.replication_factor, f"1..peers ({a.peers})"))
    if not 1 <= a.write_consistency_factor <= a.replication_factor:
        errs.append(("write_consistency_factor", a.write_consistency_factor,
                     f"1..replication_factor ({a.replication_factor})"))
    if not 1 <= a.snapshot_interval_hours <= 24:
        errs.append(("snapshot_interval_hours", a.snapshot_interval_hours, "1..24"))
    if not 10 <= a.volume_gb <= 16384:
        errs.append(("volume_gb", a.volume_gb, "10..16384"))
    errs += validate_placement(a.placement)
    return errs


class Vector(pulumi.ComponentResource):
    """Qdrant peers, their API key, snapshots and network rules."""

    endpoint: pulumi.Output[str]
    """REST endpoint (``http://<host>:6333``)."""
    grpc_endpoint: pulumi.Output[str]
    members: dict[str, str]
    """``{peer name: "peer"}``."""
    realized: dict[str, str]
    """``{topology member id: resource name}``; on eks every peer is the StatefulSet ``<name>-peers``."""
    namespace: str | None
    security_group_id: pulumi.Output[str] | None
    backup_role_arn: pulumi.Output[str]
    api_key_secret_arn: pulumi.Output[str]
    api_key: pulumi.Output[str]
    """Qdrant's admin API key, a Pulumi secret."""
    read_only_api_key_secret_arn: pulumi.Output[str]
    read_only_api_key: pulumi.Output[str]
    """Qdrant's read-only API key, a Pulumi secret (what read-only clients such as Prometheus send as bearer
    token)."""

    def __init__(self, name: str, args: VectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        errs = validate_vector_args(args)
        if errs:
            raise ArgsError.of([problem_line("VectorArgs", *e) for e in errs])
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._fleet: Ec2Fleet | None = None
        self.members = {f"peer-{i}": "peer" for i in range(1, args.peers + 1)}
        #: topology member id -> the resource that realizes it (the one StatefulSet on eks, pod ordinal i-1)
        eks = isinstance(args.placement, EksPlacement)
        self.realized = {f"vector/{m}": (f"{name}-peers" if eks else f"{name}-{m}")
                         for m in self.members}
        self.namespace = None
        self.security_group_id = None
        self.config = render_qdrant_config(
            replication_factor=args.replication_factor, write_consistency_factor=args.write_consistency_factor,
            peers=args.peers, hnsw_m=args.hnsw_m, hnsw_ef_construct=args.hnsw_ef_construct,
            on_disk_payload=args.on_disk_payload, snapshots_path=SNAPSHOTS_PATH)
        secret, api_key = generated_secret(self, f"{name}-api-key", args.secrets_kms_key_arn, dict(args.tags),
                                           args.protect, path=f"{name}/qdrant-api-key", description="Qdrant API key",
                                           length=48)
        self.api_key_secret_arn = secret.arn
        self.api_key = pulumi.Output.secret(api_key)
        ro_secret, read_only_key = generated_secret(
            self, f"{name}-read-only-api-key", args.secrets_kms_key_arn, dict(args.tags), args.protect,
            path=f"{name}/qdrant-read-only-api-key", description="Qdrant read-only API key", length=48)
        self.read_only_api_key_secret_arn = ro_secret.arn
        self.read_only_api_key = pulumi.Output.secret(read_only_key)
        if isinstance(args.placement, EksPlacement):
            self._on_eks(name, args, args.placement, api_key, read_only_key)
        else:
            self._on_ec2(name, args, args.placement, secret, ro_secret)
        self.register_outputs({
            "endpoint": self.endpoint,
            "grpc_endpoint": self.grpc_endpoint,
            "members": self.members,
            "namespace": self.namespace,
            "security_group_id": self.security_group_id,
            "backup_role_arn": self.backup_role_arn,
            "api_key_secret_arn": self.api_key_secret_arn,
            "read_only_api_key_secret_arn": self.read_only_api_key_secret_arn,
        })

    def _on_eks(self, name: str, a: VectorArgs, p: EksPlacement, api_key: pulumi.Output[str],
                read_only_key: pulumi.Output[str]) -> None:
        cluster, ns = p.cluster, p.namespace or DEFAULT_NAMESPACE
        self.namespace = ns
        labels = {"app.kubernetes.io/name": "vector", "app.kubernetes.io/part-of": "data-platform"}
        namespace, after_ns = workload_namespace(self, name, ns, "vector", cluster, protect=a.protect)

        headless = "vector-headless"
        sts = "vector"
        url = [f"http://{sts}-{i}.{headless}.{ns}.svc.cluster.local" for i in range(a.peers)]
        key_secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="vector-api-key", namespace=ns, labels=labels),
            type="Opaque",
            string_data={"api-key": as_secret(api_key),
                         API_KEY_CONFIG.rsplit("/", 1)[1]: as_secret(pulumi.Output.all(api_key, read_only_key).apply(
                             lambda k: render_api_keys_config(k[0], k[1])))},
            opts=after_ns())
        cm = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="vector-config", namespace=ns, labels=labels),
            data={"production.yaml": self.config, "start.sh": _start_script(url[0])},
            opts=after_ns())
        ports = [("http", PORTS["http"]), ("grpc", PORTS["grpc"]), ("p2p", PORTS["p2p"])]
        service(self, f"{name}-headless", headless, ns, labels, ports, after_ns, headless=True)
        service(self, f"{name}-client", "vector", ns, labels, ports[:2], after_ns)
        def key_volume(key: str) -> k8s.core.v1.VolumeArgs:
            return k8s.core.v1.VolumeArgs(name="api-key", secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name="vector-api-key", default_mode=0o440,
                items=[k8s.core.v1.KeyToPathArgs(key=key, path=key)]))

        image = a.image or f"qdrant/qdrant:v{a.version}"
        container = k8s.core.v1.ContainerArgs(
            name="qdrant", image=image,
            command=["/bin/bash", "/qdrant/config/start.sh"],
            env=[k8s.core.v1.EnvVarArgs(name="QDRANT_HEADLESS_SUFFIX", value=f"{headless}.{ns}.svc.cluster.local"),
                 k8s.core.v1.EnvVarArgs(name="QDRANT_INIT_FILE_PATH", value="/qdrant/init/.qdrant-initialized")],
            ports=[k8s.core.v1.ContainerPortArgs(name=n, container_port=p) for n, p in ports],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": a.cpu, "memory": a.memory},
                                                           limits={"memory": a.memory}),
            security_context=container_security_context(read_only_root=True),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="storage", mount_path="/qdrant/storage"),  # and SNAPSHOTS_PATH
                k8s.core.v1.VolumeMountArgs(name="init", mount_path="/qdrant/init"),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                k8s.core.v1.VolumeMountArgs(name="config", mount_path="/qdrant/config/production.yaml",
                                            sub_path="production.yaml", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="config", mount_path="/qdrant/config/start.sh",
                                            sub_path="start.sh", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="api-key", mount_path=API_KEY_CONFIG.rsplit("/", 1)[0],
                                            read_only=True),
            ],
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/readyz", port=PORTS["http"]),
                period_seconds=5, failure_threshold=6),
            liveness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/livez", port=PORTS["http"]),
                period_seconds=10, failure_threshold=6, initial_delay_seconds=30),
        )
        k8s.apps.v1.StatefulSet(
            f"{name}-peers",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=sts, namespace=ns, labels=labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                replicas=a.peers,
                service_name=headless,
                pod_management_policy="Parallel",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={
                        "data-platform/config-sha256": config_sha(self.config)}),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[container],
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                name="vector-config", default_mode=0o555)),
                            k8s.core.v1.VolumeArgs(name="init", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                            key_volume(API_KEY_CONFIG.rsplit("/", 1)[1]),
                        ],
                        security_context=pod_security_context(1000, 2000, 3000),
                        topology_spread_constraints=zone_spread(labels),
                        automount_service_account_token=False,
                        termination_grace_period_seconds=120,
                        **workload_scheduling("vector"),
                    )),
                volume_claim_templates=[pvc_template("storage", cluster, a.volume_gb)],
            ),
            opts=child_opts(self, stateful=True, protect=a.protect, depends_on=[namespace, cm, key_secret],
                            provider=cluster.provider))
        disruption_budget(self, f"{name}-pdb", "vector", ns, labels, after_ns, max_unavailable=1)
        backup_labels = {"app.kubernetes.io/name": "vector-snapshot", "app.kubernetes.io/component": "backup"}
        network_policy(
            self, f"{name}-netpol", "vector", ns, labels, after_ns,
            app_namespace=p.app_namespace, client_ports=CLIENT_PORTS,
            peer_ports=(PORTS["p2p"], *CLIENT_PORTS), backup_labels=backup_labels, backup_ports=(PORTS["http"],),
            metrics_namespace=p.metrics_namespace, metrics_ports=(PORTS["http"],))
        role = backup_irsa(self, cluster, "vector-snapshot", ns, a.backup_bucket_name, a.backup_prefix,
                            a.backup_kms_key_arn)
        self.backup_role_arn = role.arn
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-snapshot-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="vector-snapshot", namespace=ns, labels=backup_labels,
                                                annotations={"eks.amazonaws.com/role-arn": role.arn}),
            opts=after_ns())
        home_env, home_mount = cli_home()
        cron_job(
            self, f"{name}-snapshot", "vector-snapshot", ns, a.snapshot_schedule, backup_labels, sa, after_ns,
            container=k8s.core.v1.ContainerArgs(
                name="snapshot", image=AWS_CLI_IMAGE, command=["bash", "-c", render_qdrant_snapshot_script()],
                env=[
                    k8s.core.v1.EnvVarArgs(name="QDRANT_API_KEY_FILE", value=API_KEY_FILE),
                    k8s.core.v1.EnvVarArgs(name="QDRANT_PEER_URLS",
                                           value=" ".join(f"{u}:{PORTS['http']}" for u in url)),
                    k8s.core.v1.EnvVarArgs(name="BACKUP_BUCKET", value=a.backup_bucket_name),
                    k8s.core.v1.EnvVarArgs(name="BACKUP_PREFIX", value=a.backup_prefix),
                    k8s.core.v1.EnvVarArgs(name="BACKUP_KMS_KEY_ARN", value=a.backup_kms_key_arn),
                    k8s.core.v1.EnvVarArgs(name="SNAPSHOT_WORK_DIR", value="/work"),
                    home_env,
                ],
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="work", mount_path="/work"), home_mount,
                               k8s.core.v1.VolumeMountArgs(name="api-key", mount_path=API_KEY_FILE.rsplit("/", 1)[0],
                                                           read_only=True)],
                security_context=container_security_context(read_only_root=True),
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "256Mi"},
                                                               limits={"memory": "512Mi"})),
            # One snapshot at a time is downloaded: it fits in a peer's volume size.
            volumes=[scratch_volume(f"{name}-snapshot-scratch", "work", "vector-snapshot-scratch", ns, backup_labels,
                                     cluster, a.volume_gb, after_ns),
                     key_volume(API_KEY_FILE.rsplit("/", 1)[1])],
            uid=1000,
        )
        self.endpoint = pulumi.Output.from_input(f"http://vector.{ns}.svc.cluster.local:{PORTS['http']}")
        self.grpc_endpoint = pulumi.Output.from_input(f"http://vector.{ns}.svc.cluster.local:{PORTS['grpc']}")

    def _on_ec2(self, name: str, a: VectorArgs, p: Ec2Placement, secret: aws.secretsmanager.Secret,
                ro_secret: aws.secretsmanager.Secret) -> None:
        zone_name = p.zone_name or DEFAULT_ZONE_NAME
        hosts = [f"peer-{i}.{zone_name}" for i in range(1, a.peers + 1)]
        fleet = Ec2Fleet(self, name, vpc_id=p.vpc_id, zone_name=zone_name, tags=dict(a.tags), protect=a.protect,
                         description="Qdrant peers")
        self._fleet = fleet
        self.security_group_id = fleet.security_group.id
        fleet.self_ingress((PORTS["p2p"], *CLIENT_PORTS))
        if p.app_security_group_id is not None:
            fleet.ingress_from(p.app_security_group_id, CLIENT_PORTS, "application")
        role = fleet.instance_role(a.backup_bucket_name, a.backup_prefix, a.backup_kms_key_arn,
                                   [secret.arn, ro_secret.arn], a.secrets_kms_key_arn)
        self.backup_role_arn = role.arn
        bootstrap = f"http://{hosts[0]}:{PORTS['p2p']}"
        for i, host in enumerate(hosts):
            argv = peer_args(i, f"http://{host}:{PORTS['p2p']}", bootstrap)
            user_data = pulumi.Output.all(a.backup_bucket_name, a.backup_kms_key_arn, secret.arn, ro_secret.arn).apply(
                functools.partial(_qdrant_user_data, a, self.config, argv, f"peer-{i + 1}"))
            fleet.member(f"peer-{i + 1}", i, p.instance_type or DEFAULT_INSTANCE_TYPE, p.subnet_ids,
                         p.availability_zones, p.ami_id, a.volume_gb, p.ebs_kms_key_arn, user_data)
        self.endpoint = pulumi.Output.from_input(f"http://{hosts[0]}:{PORTS['http']}")
        self.grpc_endpoint = pulumi.Output.from_input(f"http://{hosts[0]}:{PORTS['grpc']}")

    def allow_from(self, security_group_id: pulumi.Input[str], description: str = "clients") -> None:
        """Admit REST 6333 and gRPC 6334 from a security group (placement ec2; on EKS the
        NetworkPolicy admits the application namespace instead). P2P 6335 stays peers-only."""
        if self._fleet is None:
            raise ValueError("Vector.allow_from needs placement ec2; on eks use app_namespace")
        self._fleet.ingress_from(security_group_id, CLIENT_PORTS, description)


def _start_script(peer0_url: str) -> str:
    """Entrypoint on EKS: the pod's ordinal decides between starting the cluster and joining it."""
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        'ordinal="${HOSTNAME##*-}"',
        'self="http://${HOSTNAME}.${QDRANT_HEADLESS_SUFFIX}:6335"',
        f'key=(--config-path "{API_KEY_CONFIG}")  # both API keys, merged over config/production.yaml',
        'if [ "$ordinal" = "0" ]; then',
        '  exec ./entrypoint.sh "${key[@]}" --uri "$self"',
        "fi",
        f'exec ./entrypoint.sh "${{key[@]}}" --bootstrap "{peer0_url}:{PORTS["p2p"]}" --uri "$self"',
        "",
    ])


def _qdrant_user_data(a: VectorArgs, config: str, argv: list[str], peer: str, v: list[Any]) -> str:
    bucket, kms_key, secret_arn, ro_secret_arn = v
    image = a.image or f"qdrant/qdrant:v{a.version}"
    units = render_systemd_units(
        "qdrant-snapshot", description="Qdrant snapshots to S3", exec_start="/usr/local/bin/qdrant-snapshot",
        on_calendar=cron_to_on_calendar(a.snapshot_schedule), user="root",
        environment_files=["/etc/qdrant/backup.env", "/etc/qdrant/api-key.env"])
    qdrant_unit = "\n".join([
        "[Unit]", "Description=Qdrant peer", "After=docker.service", "Requires=docker.service", "",
        "[Service]",
        "EnvironmentFile=/etc/qdrant/api-key.env",
        "ExecStartPre=-/usr/bin/docker rm -f qdrant",
        "ExecStart=/usr/bin/docker run --rm --name qdrant --network host --user 1000:1000 "
        f"-e {API_KEY_ENV} -e {READ_ONLY_API_KEY_ENV} -e QDRANT_INIT_FILE_PATH=/qdrant/storage/.qdrant-initialized "
        "-v /var/lib/qdrant/storage:/qdrant/storage "  # snapshots too (SNAPSHOTS_PATH)
        f"-v /etc/qdrant/production.yaml:/qdrant/config/production.yaml:ro {image} ./entrypoint.sh {' '.join(argv)}",
        "ExecStop=/usr/bin/docker stop -t 60 qdrant",
        "Restart=always", "RestartSec=5", "",
        "[Install]", "WantedBy=multi-user.target", "",
    ])
    files: list[dict[str, Any]] = [
        {"path": "/etc/qdrant/production.yaml", "permissions": "0644", "content": config},
        {"path": "/etc/systemd/system/qdrant.service", "permissions": "0644", "content": qdrant_unit},
        {"path": "/usr/local/sbin/dp-data-volume", "permissions": "0755", "content": DATA_VOLUME_SCRIPT},
        {"path": "/usr/local/bin/qdrant-snapshot", "permissions": "0755", "content": render_qdrant_snapshot_script()},
        {"path": "/etc/qdrant/backup.env", "permissions": "0644", "content": (
            f"BACKUP_BUCKET={bucket}\nBACKUP_PREFIX={a.backup_prefix}/{peer}\nBACKUP_KMS_KEY_ARN={kms_key}\n"
            f"QDRANT_PEER_URLS=http://127.0.0.1:{PORTS['http']}\n"
            # On the data volume: /tmp on AL2023 is a tmpfs of half the RAM (too small, and Qdrant's memory).
            "SNAPSHOT_WORK_DIR=/var/lib/qdrant/upload\n")},
        *({"path": f"/etc/systemd/system/{n}", "permissions": "0644", "content": c} for n, c in units.items()),
    ]
    run: list[str | list[str]] = [
        ["/usr/local/sbin/dp-data-volume", "/dev/sdf", "/var/lib/qdrant"],
        ["mkdir", "-p", "/var/lib/qdrant/storage"],
        ["chown", "-R", "1000:1000", "/var/lib/qdrant"],
        ["dnf", "install", "-y", "docker"],
        ["systemctl", "enable", "--now", "docker"],
        # Both API keys are read at boot from Secrets Manager (instance role), never from user data.
        "umask 077 && printf '%s=%s\\n' " + API_KEY_ENV + " \"$(aws secretsmanager get-secret-value "
        f"--secret-id {secret_arn} --query SecretString --output text)\" " + READ_ONLY_API_KEY_ENV
        + " \"$(aws secretsmanager get-secret-value "
        f"--secret-id {ro_secret_arn} --query SecretString --output text)\" > /etc/qdrant/api-key.env",
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "qdrant", "qdrant-snapshot.timer"],
    ]
    return render_cloud_config({"write_files": files, "runcmd": run})
