"""Compose the topology on AWS from the components in ``components/aws``.

Reads :class:`~infra.settings.Settings` and the :class:`~infra.topology.Topology`, builds every
component's typed args, wires them together (keys → network → backups → stores → alarms) and
exports the stack outputs contract that ``ops`` reads (README "Stack outputs").
"""

from __future__ import annotations

import operator

import pulumi

from components.aws.alarms import Alarms, AlarmsArgs, RdsTarget, RedisTargets
from components.aws.backups import Backups, BackupsArgs
from components.aws.clients import AppClients, AppClientsArgs
from components.aws.deploy_runner import DeployRunner, DeployRunnerArgs
from components.aws.eks import EksCluster, EksClusterArgs, WorkloadNodeGroup
from components.aws.graph import CLIENT_PORTS as GRAPH_CLIENT_PORTS
from components.aws.graph import Graph, GraphArgs, neo4j_sizing
from components.aws.kms import Keys, KeysArgs
from components.aws.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from components.aws.network import NAME_MAX as NETWORK_NAME_MAX
from components.aws.network import Network, NetworkArgs
from components.aws.postgres import NAME_MAX as POSTGRES_NAME_MAX
from components.aws.postgres import Postgres, PostgresArgs
from components.aws.redis import NAME_MAX as REDIS_NAME_MAX
from components.aws.redis import Redis, RedisArgs
from components.aws.vector import CLIENT_PORTS as VECTOR_CLIENT_PORTS
from components.aws.vector import Vector, VectorArgs
from components.aws.workload import Ec2Placement, EksPlacement
from components.base import fit_name, slug
from infra.settings import PROJECT, Settings
from infra.topology import Realization, Topology

#: Interface endpoints of the primary network: what the issue requires (KMS, Secrets Manager,
#: CloudWatch Logs, monitoring) plus STS for IRSA. SSM and ECR go through the NAT gateways: each
#: interface endpoint costs an ENI-hour per AZ, which the price table cannot even price.
INTERFACE_ENDPOINTS = ("kms", "secretsmanager", "logs", "monitoring", "sts")
#: The longest stack-wide name (``data-platform-<stack>``) that every component takes whole; a longer
#: one (a long stack name) is cut with a short hash (:func:`components.base.fit_name`). The DR network
#: appends ``-dr``. Redis and the backup buckets fit it further to their own limits.
NAME_MAX = min(NETWORK_NAME_MAX - len("-dr"), POSTGRES_NAME_MAX)
PRIMARY_KEYS = ("rds", "elasticache", "s3", "logs", "secrets", "sns", "ebs")
DR_KEYS = ("rds", "s3", "logs", "sns")


def compose_aws(s: Settings, topo: Topology) -> Realization:
    real = Realization(target="aws")
    name = fit_name(slug(f"{PROJECT}-{s.stack}"), NAME_MAX)
    tags = s.resource_tags()
    dr = s.dr_region if (s.postgres.dr_replica or s.backups.cross_region) else None

    # The EBS key admits the Auto Scaling service-linked role only where EKS managed node groups launch
    # encrypted volumes through it (dev on EC2 has no Auto Scaling group).
    keys = Keys("keys", KeysArgs(region=s.region, purposes=PRIMARY_KEYS + (("eks",) if s.uses_eks else ()),
                                 alias_prefix=name, autoscaling_service_linked_role=s.uses_eks,
                                 protect=s.protect, tags=tags))
    dr_keys = Keys("dr-keys", KeysArgs(region=dr, purposes=DR_KEYS, alias_prefix=f"{name}-dr", protect=s.protect,
                                       tags=tags)) if dr else None

    net = Network("network", NetworkArgs(
        name=name, az_names=s.azs, cidr=s.network.cidr, nat=s.network.nat_gateways,
        interface_endpoints=INTERFACE_ENDPOINTS, logs_kms_key_arn=keys.arn("logs"),
        flow_log_retention_days=s.network.flow_log_retention_days, tags=tags))
    dr_net = Network("dr-network", NetworkArgs(
        name=f"{name}-dr", az_names=s.dr_azs, cidr=s.network.dr_cidr, nat="none", compute_subnets=False,
        interface_endpoints=(), logs_kms_key_arn=dr_keys.arn("logs"), region=dr,
        flow_log_retention_days=s.network.flow_log_retention_days, tags=tags)) \
        if dr and dr_keys and s.postgres.dr_replica else None

    # Clients of the data stores attach this group; every store admits it on its own port only, and the
    # group's egress reaches each store's group on that port (the provider drops AWS's default egress).
    app_clients = AppClients("app-clients", AppClientsArgs(name=name, vpc_id=net.vpc_id, tags=tags))
    app_sg_id = app_clients.security_group_id

    b = s.backups
    backups = Backups("backups", BackupsArgs(
        name=name, kms_key_arn=keys.arn("s3"), stores=tuple(st.name for st in topo.stores),
        replica_region=dr if b.cross_region else None,
        replica_kms_key_arn=dr_keys.arn("s3") if (dr_keys and b.cross_region) else None,
        daily_days=b.daily_days, weekly_days=b.weekly_days, monthly_days=b.monthly_days,
        object_lock_mode=b.object_lock.mode if b.object_lock.enabled else None, object_lock_days=b.object_lock.days,
        protect=s.protect, tags=tags))

    p = s.postgres
    pg = Postgres("postgres", PostgresArgs(
        name=name, vpc_id=net.vpc_id, data_subnet_ids=net.data_subnet_ids, kms_key_arn=keys.arn("rds"),
        secrets_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"),
        engine_version=p.engine_version, instance_class=p.instance_class,
        replica_instance_class=p.replica_instance_class, dr_instance_class=p.dr_instance_class,
        storage_gb=p.storage_gb, max_storage_gb=p.max_storage_gb, iops=p.iops, multi_az=p.multi_az,
        read_replicas=p.read_replicas, dr_replica=bool(dr_net),
        dr_region=dr if dr_net else None,
        dr_vpc_id=dr_net.vpc_id if dr_net else None,
        dr_data_subnet_ids=dr_net.data_subnet_ids if dr_net else None,
        dr_kms_key_arn=dr_keys.arn("rds") if (dr_net and dr_keys) else None,
        dr_logs_kms_key_arn=dr_keys.arn("logs") if (dr_net and dr_keys) else None,
        backup_retention_days=p.backup_retention_days, backup_window=p.backup_window,
        maintenance_window=p.maintenance_window, deletion_protection=p.deletion_protection,
        storage_encrypted=p.storage_encrypted, monitoring_interval=p.monitoring_interval_seconds,
        performance_insights_retention_days=p.performance_insights_retention_days,
        database_name=p.database_name, master_username=p.master_username, port=p.port,
        max_connections=p.max_connections, protect=s.protect, tags=tags))
    pg.allow_from(app_sg_id, "app clients")
    app_clients.reach("postgres", pg.security_group_id, [p.port])
    if dr_net is not None:
        # Pre-created for a promotion: the DR region's clients group already reaches the DR replica, so a
        # promoted database takes connections without a security-group change during the incident.
        dr_clients = AppClients("dr-app-clients", AppClientsArgs(name=f"{name}-dr", vpc_id=dr_net.vpc_id,
                                                                 region=dr, tags=tags))
        pg.allow_from(dr_clients.security_group_id, "dr app clients", dr=True)
        dr_clients.reach("postgres", pg.dr_security_group_id or "", [p.port])

    r = s.redis
    redis = Redis("redis", RedisArgs(
        name=fit_name(name, REDIS_NAME_MAX), vpc_id=net.vpc_id, data_subnet_ids=net.data_subnet_ids,
        kms_key_arn=keys.arn("elasticache"),
        secrets_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"), engine=r.engine,
        engine_version=r.engine_version, node_type=r.node_type, shards=r.shards,
        replicas_per_shard=r.replicas_per_shard, multi_az=r.multi_az, transit_encryption=r.transit_encryption,
        at_rest_encryption=r.at_rest_encryption, snapshot_retention_days=r.snapshot_retention_days,
        snapshot_window=r.snapshot_window, maintenance_window=r.maintenance_window, port=r.port,
        maxmemory_policy=r.maxmemory_policy, protect=s.protect, tags=tags))
    redis.allow_from(app_sg_id, "app clients")
    app_clients.reach("redis", redis.security_group_id, [r.port])

    # The alarm topic exists before the in-cluster Alertmanager, which publishes to it as well.
    alarms = Alarms("alarms", AlarmsArgs(
        kms_key_arn=keys.arn("sns"), name_prefix=name,
        postgres_primary=RdsTarget("pg-primary", pg.primary_identifier, p.storage_gb),
        postgres_replicas=tuple(RdsTarget(f"pg-replica-{i + 1}", pg.replica_identifiers.apply(operator.itemgetter(i)),
                                          p.storage_gb) for i in range(p.read_replicas)),
        postgres_dr_replica=RdsTarget("pg-dr", pg.dr_replica_identifier, p.storage_gb)
        if pg.dr_replica_identifier is not None else None,
        redis=RedisTargets(redis.replication_group_id, r.shards, r.replicas_per_shard),
        alert_email=s.alerts.email, region=s.region, dr_region=dr if dr_net else None,
        dr_kms_key_arn=dr_keys.arn("sns") if (dr_net and dr_keys) else None,
        replica_lag_threshold_seconds=p.replica_lag_alarm_seconds, tags=tags))

    # Deploys reach the private EKS endpoint from this runner inside the VPC (README "Production deploy path").
    d = s.deploy
    runner = DeployRunner("deploy-runner", DeployRunnerArgs(
        project_name=f"{name}-runner", repository=str(d.repository), connection_arn=str(d.github_connection_arn),
        vpc_id=net.vpc_id, subnet_ids=net.compute_subnet_ids, logs_kms_key_arn=keys.arn("logs"),
        tags=tags)) if s.uses_eks and d.runner else None
    if runner is not None:  # the roles bootstrap runs where the deploy runs: inside the VPC (issue 17)
        pg.apply_roles_from(runner.security_group_id)
    cluster = _eks(s, topo, name, net, keys, tags, runner) if s.uses_eks else None
    if cluster is not None:
        # Applications running in the cluster reach the managed stores through the node security group.
        pg.allow_from(cluster.node_security_group_id, "eks pods")
        redis.allow_from(cluster.node_security_group_id, "eks pods")

    graph_store, vector_store = topo.store("graph"), topo.store("vector")
    graph = vector = None
    if graph_store is not None:
        g = s.graph
        sizing = neo4j_sizing(g.instance_type)
        graph = Graph("graph", GraphArgs(
            backup_bucket_name=backups.buckets["graph"]["name"],
            backup_kms_key_arn=keys.arn("s3"), secrets_kms_key_arn=keys.arn("secrets"),
            placement=EksPlacement(cluster, app_namespace=s.eks.app_namespace)
            if g.placement == "eks" and cluster is not None else Ec2Placement(
                vpc_id=net.vpc_id, ebs_kms_key_arn=keys.arn("ebs"), subnet_ids=net.compute_subnet_ids,
                availability_zones=s.azs, app_security_group_id=app_sg_id, instance_type=g.instance_type),
            license_agreement=g.license_agreement, primaries=len(graph_store.by_role("graph-primary")),
            secondaries=len(graph_store.by_role("graph-secondary")), version=g.version, volume_gb=g.volume_gb,
            backup_schedule=g.backup_schedule, secondary_instance_type=g.secondary_instance_type,
            cpu=sizing[0], memory=sizing[1], heap_size=sizing[2], pagecache_size=sizing[3],
            secondary_sizing=neo4j_sizing(str(g.secondary_instance_type)) if _smaller_secondaries(s) else None,
            protect=s.protect, tags=tags))
        real.members.update(graph.realized)
        if graph.security_group_id is not None:
            app_clients.reach("graph", graph.security_group_id, GRAPH_CLIENT_PORTS)
        real.links.update((lk.source, lk.target, lk.mode) for lk in graph_store.links)
    if vector_store is not None:
        v = s.vector
        vector = Vector("vector", VectorArgs(
            backup_bucket_name=backups.buckets["vector"]["name"],
            backup_kms_key_arn=keys.arn("s3"), secrets_kms_key_arn=keys.arn("secrets"),
            placement=EksPlacement(cluster, app_namespace=s.eks.app_namespace)
            if v.placement == "eks" and cluster is not None else Ec2Placement(
                vpc_id=net.vpc_id, ebs_kms_key_arn=keys.arn("ebs"), subnet_ids=net.compute_subnet_ids,
                availability_zones=s.azs, app_security_group_id=app_sg_id, instance_type=v.instance_type),
            peers=len(vector_store.members), replication_factor=v.replication_factor,
            write_consistency_factor=v.write_consistency_factor, version=v.version, volume_gb=v.volume_gb,
            snapshot_interval_hours=v.snapshot_interval_hours, protect=s.protect, tags=tags))
        real.members.update(vector.realized)
        if vector.security_group_id is not None:
            app_clients.reach("vector", vector.security_group_id, VECTOR_CLIENT_PORTS)
        real.links.update((lk.source, lk.target, lk.mode) for lk in vector_store.links)

    if cluster is not None:
        # Prometheus + Alertmanager in the cluster scrape the stores that run there (Community Neo4j has no
        # metrics). Qdrant's /metrics is behind its API key, handed over by the store as a Pulumi secret.
        # Critical and warning alerts go to the alarm SNS topic (Alertmanager's IRSA role may publish there).
        eks_graph = tuple(graph.members) if graph is not None and s.graph.placement == "eks" \
            and s.graph_enterprise else ()
        eks_vector = vector if vector is not None and s.vector.placement == "eks" else None
        if eks_graph or eks_vector is not None:
            ClusterMonitoring("monitoring", ClusterMonitoringArgs(
                cluster=cluster, graph_members=eks_graph,
                vector_peers=len(eks_vector.members) if eks_vector is not None else 0,
                vector_read_only_api_key=eks_vector.read_only_api_key if eks_vector is not None else None,
                evaluation_interval_seconds=s.alerts.evaluation_interval_seconds,
                slack_webhook_url=pulumi.Output.secret(s.alerts.slack_webhook_url.get_secret_value())
                if s.alerts.slack_webhook_url is not None else None,
                alarm_topic_arn=alarms.topic_arn, sns_kms_key_arn=keys.arn("sns"),
                protect=s.protect))

    _realize_managed(real, topo, pg, redis)
    _export(s, topo, pg, redis, backups, keys, dr_keys, alarms, cluster)
    return real


def _eks(s: Settings, topo: Topology, name: str, net: Network, keys: Keys, tags: dict[str, str],
         runner: DeployRunner | None) -> EksCluster:
    groups: list[WorkloadNodeGroup] = []
    graph_store, vector_store = topo.store("graph"), topo.store("vector")
    if graph_store is not None and s.graph.placement == "eks":
        primaries, secondaries = len(graph_store.by_role("graph-primary")), len(graph_store.by_role("graph-secondary"))
        if _smaller_secondaries(s) and secondaries:
            # Secondaries only serve reads: their own, smaller node group.
            groups.append(WorkloadNodeGroup("graph", s.graph.instance_type, primaries))
            groups.append(WorkloadNodeGroup("graph-secondary", str(s.graph.secondary_instance_type), secondaries))
        else:
            groups.append(WorkloadNodeGroup("graph", s.graph.instance_type, primaries + secondaries))
    if vector_store is not None and s.vector.placement == "eks":
        groups.append(WorkloadNodeGroup("vector", s.vector.instance_type, len(vector_store.members)))
    e = s.eks
    return EksCluster("eks", EksClusterArgs(
        cluster_name=name, region=s.region, subnet_ids=net.compute_subnet_ids, availability_zones=net.az_names,
        secrets_kms_key_arn=keys.arn("eks"),
        ebs_kms_key_arn=keys.arn("ebs"), logs_kms_key_arn=keys.arn("logs"), version=e.version,
        endpoint_public_access=e.endpoint_public_access, public_access_cidrs=e.public_access_cidrs,
        system_instance_type=e.system_instance_type, system_nodes=e.system_nodes,
        workload_node_groups=tuple(groups), storage_reclaim_policy="Retain" if s.production else "Delete",
        admin_principal_arns=(*([s.deploy.deploy_role_arn] if s.deploy.deploy_role_arn else []),
                              *s.deploy.break_glass_role_arns),
        view_principal_arns=(s.deploy.preview_role_arn,) if s.deploy.preview_role_arn else (),
        api_clients={"deploy-runner": runner.security_group_id} if runner is not None else {},
        protect=s.protect, tags=tags))


def _smaller_secondaries(s: Settings) -> bool:
    g = s.graph
    return g.secondary_instance_type is not None and g.secondary_instance_type != g.instance_type


def _realize_managed(real: Realization, topo: Topology, pg: Postgres, redis: Redis) -> None:
    """Record which managed resource realizes each PostgreSQL and Redis member."""
    pg_store, redis_store = topo.store("postgres"), topo.store("redis")
    assert pg_store is not None and redis_store is not None
    for m in pg_store.members:
        if m.role == "standby":
            real.add(m.id, "postgres primary (Multi-AZ standby)")
        elif m.role == "replica":
            real.add(m.id, f"postgres {m.id.split('/')[1]}")
        else:
            real.add(m.id, f"postgres {m.role}")
    real.links.update((lk.source, lk.target, lk.mode) for lk in pg_store.links)
    for m in redis_store.members:
        real.add(m.id, f"{redis.replication_group_id} shard {m.shard} {m.role}")
    real.links.update((lk.source, lk.target, lk.mode) for lk in redis_store.links)


def _export(s: Settings, topo: Topology, pg: Postgres, redis: Redis, backups: Backups, keys: Keys,
            dr_keys: Keys | None, alarms: Alarms, cluster: EksCluster | None) -> None:
    """The stack outputs contract (README "Stack outputs"): what `ops` and operators need."""
    pulumi.export("environment", s.environment)
    pulumi.export("postgres", {
        "primaryIdentifier": pg.primary_identifier, "primaryArn": pg.primary_arn, "region": s.region,
        "replicaIdentifiers": pg.replica_identifiers, "drReplicaIdentifier": pg.dr_replica_identifier,
        "drReplicaArn": pg.dr_replica_arn, "drRegion": pg.dr_region, "kmsKeyArn": pg.kms_key_arn,
        "drKmsKeyArn": pg.dr_kms_key_arn, "backupRetentionDays": s.postgres.backup_retention_days,
        "port": s.postgres.port, "endpoint": pg.endpoint, "secretArn": pg.secret_arn,
    })
    pulumi.export("redis", {
        "replicationGroupId": redis.replication_group_id, "region": s.region, "kmsKeyArn": redis.kms_key_arn,
        "snapshotRetentionDays": s.redis.snapshot_retention_days,
        "configurationEndpoint": redis.configuration_endpoint,
    })
    pulumi.export("buckets", {
        store: {"name": bk["name"], "region": s.region, "arn": bk["arn"], "kmsKeyArn": bk["kms_key_arn"],
                "replicaName": bk["replica_name"], "replicaRegion": bk["replica_region"]}
        for store, bk in backups.buckets.items()
    })
    pulumi.export("kmsKeys", {"primary": keys.arns, "dr": dr_keys.arns if dr_keys else None})
    pulumi.export("alarmTopicArn", alarms.topic_arn)
    pulumi.export("eksClusterName", cluster.cluster_name if cluster else None)
    pulumi.export("rpoHours", {st.name: st.backup.rpo_hours for st in topo.stores})
    pulumi.export("notes", list(topo.notes))
