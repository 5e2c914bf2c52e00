"""Compose the topology on AWS from the components in ``components/aws``.

Reads only the :class:`~infra.topology.Topology` (never the settings), builds every
component's typed args, wires them together (keys → network → backups → stores → alarms) and
exports the stack outputs contract that ``ops`` reads (README "Stack outputs").
"""

from __future__ import annotations

import pulumi

from components.aws.alarms import Alarms, AlarmsArgs
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
from infra.topology import Ec2, Eks, Realization, Store, Topology

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


def compose_aws(topo: Topology) -> Realization:
    real = Realization(target="aws")
    st = topo.stack
    name, tags, protect = fit_name(slug(st.name), NAME_MAX), st.tags, st.protect
    dr = st.dr_region
    pgs, rs = topo.postgres, topo.redis

    # The EBS key admits the Auto Scaling service-linked role only where EKS managed node groups launch
    # encrypted volumes through it (dev on EC2 has no Auto Scaling group).
    uses_eks = topo.eks is not None
    keys = Keys("keys", KeysArgs(region=st.region, purposes=PRIMARY_KEYS + (("eks",) if uses_eks else ()),
                                 alias_prefix=name, autoscaling_service_linked_role=uses_eks,
                                 protect=protect, tags=tags))
    dr_keys = Keys("dr-keys", KeysArgs(region=dr, purposes=DR_KEYS, alias_prefix=f"{name}-dr", protect=protect,
                                       tags=tags)) if dr else None

    n = topo.network
    net = Network("network", NetworkArgs(
        name=name, az_names=st.azs, cidr=n.cidr, nat=n.nat_gateways,
        interface_endpoints=INTERFACE_ENDPOINTS, logs_kms_key_arn=keys.arn("logs"),
        flow_log_retention_days=n.flow_log_retention_days, tags=tags))
    dr_net = Network("dr-network", NetworkArgs(
        name=f"{name}-dr", az_names=pgs.dr.azs, cidr=pgs.dr.cidr, nat="none", compute_subnets=False,
        interface_endpoints=(), logs_kms_key_arn=dr_keys.arn("logs"), region=pgs.dr.region,
        flow_log_retention_days=n.flow_log_retention_days, tags=tags)) \
        if dr_keys and pgs.dr is not None else None

    # Clients of the data stores attach this group; every store admits it on its own port only, and the
    # group's egress reaches each store's group on that port (the provider drops AWS's default egress).
    app_clients = AppClients("app-clients", AppClientsArgs(name=name, vpc_id=net.vpc_id, tags=tags))
    app_sg_id = app_clients.security_group_id

    b = topo.backups
    backups = Backups("backups", BackupsArgs(
        name=name, kms_key_arn=keys.arn("s3"), stores=b.stores, replica_region=b.replica_region,
        replica_kms_key_arn=dr_keys.arn("s3") if (dr_keys and b.replica_region) else None,
        daily_days=b.daily_days, weekly_days=b.weekly_days, monthly_days=b.monthly_days,
        object_lock_mode=b.object_lock_mode, object_lock_days=b.object_lock_days,
        protect=protect, tags=tags))

    pg = Postgres("postgres", PostgresArgs(
        name=name, vpc_id=net.vpc_id, data_subnet_ids=net.data_subnet_ids, kms_key_arn=keys.arn("rds"),
        secrets_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"),
        engine_version=pgs.version, instance_class=pgs.instance_class,
        replica_instance_class=pgs.replica_instance_class, dr_instance_class=pgs.dr_instance_class,
        storage_gb=pgs.storage_gb, max_storage_gb=pgs.max_storage_gb, iops=pgs.iops, multi_az=pgs.multi_az,
        read_replicas=pgs.read_replicas, dr_replica=bool(dr_net),
        dr_region=pgs.dr.region if dr_net and pgs.dr else None,
        dr_vpc_id=dr_net.vpc_id if dr_net else None,
        dr_data_subnet_ids=dr_net.data_subnet_ids if dr_net else None,
        dr_kms_key_arn=dr_keys.arn("rds") if (dr_net and dr_keys) else None,
        dr_logs_kms_key_arn=dr_keys.arn("logs") if (dr_net and dr_keys) else None,
        backup_retention_days=pgs.backup_retention_days, backup_window=pgs.backup_window,
        maintenance_window=pgs.maintenance_window, deletion_protection=pgs.deletion_protection,
        storage_encrypted=pgs.storage_encrypted, monitoring_interval=pgs.monitoring_interval_seconds,
        performance_insights_retention_days=pgs.performance_insights_retention_days,
        database_name=pgs.database_name, master_username=pgs.master_username, port=pgs.port,
        max_connections=pgs.max_connections, protect=protect, tags=tags))
    pg.allow_from(app_sg_id, "app clients")
    app_clients.reach("postgres", pg.security_group_id, [pgs.port])
    if dr_net is not None:
        # Pre-created for a promotion: the DR region's clients group already reaches the DR replica, so a
        # promoted database takes connections without a security-group change during the incident.
        dr_clients = AppClients("dr-app-clients", AppClientsArgs(name=f"{name}-dr", vpc_id=dr_net.vpc_id,
                                                                 region=dr, tags=tags))
        pg.allow_from(dr_clients.security_group_id, "dr app clients", dr=True)
        dr_clients.reach("postgres", pg.dr_security_group_id or "", [pgs.port])

    redis = Redis("redis", RedisArgs(
        name=fit_name(name, REDIS_NAME_MAX), vpc_id=net.vpc_id, data_subnet_ids=net.data_subnet_ids,
        kms_key_arn=keys.arn("elasticache"),
        secrets_kms_key_arn=keys.arn("secrets"), logs_kms_key_arn=keys.arn("logs"), engine=rs.engine,
        engine_version=rs.version, node_type=rs.node_type, shards=rs.shards,
        replicas_per_shard=rs.replicas_per_shard, multi_az=rs.multi_az, transit_encryption=rs.transit_encryption,
        at_rest_encryption=rs.at_rest_encryption, snapshot_retention_days=rs.snapshot_retention_days,
        snapshot_window=rs.snapshot_window, maintenance_window=rs.maintenance_window, port=rs.port,
        maxmemory_policy=rs.maxmemory_policy, protect=protect, tags=tags))
    redis.allow_from(app_sg_id, "app clients")
    app_clients.reach("redis", redis.security_group_id, [rs.port])

    # The alarm topic exists before the in-cluster Alertmanager, which publishes to it as well.
    al = topo.alerts
    alarms = Alarms("alarms", AlarmsArgs(
        kms_key_arn=keys.arn("sns"), name_prefix=name,
        postgres_primary=pg.alarm_primary, postgres_replicas=pg.alarm_replicas,
        postgres_dr_replica=pg.alarm_dr_replica, redis=redis.alarm_targets,
        alert_email=al.email, region=st.region, dr_region=dr if dr_net else None,
        dr_kms_key_arn=dr_keys.arn("sns") if (dr_net and dr_keys) else None,
        replica_lag_threshold_seconds=pgs.replica_lag_alarm_seconds, tags=tags))

    # Deploys reach the private EKS endpoint from this runner inside the VPC (README "Production deploy path").
    d = topo.deploy
    runner = DeployRunner("deploy-runner", DeployRunnerArgs(
        project_name=f"{name}-runner", repository=str(d.repository), connection_arn=str(d.github_connection_arn),
        vpc_id=net.vpc_id, subnet_ids=net.compute_subnet_ids, logs_kms_key_arn=keys.arn("logs"),
        tags=tags)) if uses_eks and d.runner else None
    if runner is not None:  # the roles bootstrap runs where the deploy runs: inside the VPC (issue 17)
        pg.apply_roles_from(runner.security_group_id)
    cluster = _eks(topo, name, net, keys, runner) if topo.eks is not None else None
    if cluster is not None:
        # Applications running in the cluster reach the managed stores through the node security group.
        pg.allow_from(cluster.node_security_group_id, "eks pods")
        redis.allow_from(cluster.node_security_group_id, "eks pods")

    graph_store, vector_store = topo.graph, topo.vector
    def placement_of(w: Eks | Ec2) -> EksPlacement | Ec2Placement:
        """Pods on the stack's cluster, or one EC2 instance per member in the compute subnets."""
        if isinstance(w, Eks) and cluster is not None:
            return EksPlacement(cluster, app_namespace=topo.app_namespace)
        return Ec2Placement(vpc_id=net.vpc_id, ebs_kms_key_arn=keys.arn("ebs"), subnet_ids=net.compute_subnet_ids,
                            availability_zones=st.azs, app_security_group_id=app_sg_id,
                            instance_type=w.instance_type)

    graph = vector = None
    if graph_store is not None:
        gw = _compute(graph_store)
        sizing = neo4j_sizing(gw.instance_type)
        graph = Graph("graph", GraphArgs(
            backup_bucket_name=backups.buckets["graph"]["name"],
            backup_kms_key_arn=keys.arn("s3"), secrets_kms_key_arn=keys.arn("secrets"),
            placement=placement_of(gw),
            license_agreement=graph_store.license_agreement, primaries=graph_store.primaries,
            secondaries=graph_store.secondaries, version=graph_store.version, volume_gb=graph_store.volume_gb,
            backup_schedule=graph_store.backup.schedule, secondary_instance_type=gw.secondary_instance_type,
            cpu=sizing[0], memory=sizing[1], heap_size=sizing[2], pagecache_size=sizing[3],
            secondary_sizing=neo4j_sizing(str(gw.secondary_instance_type)) if gw.smaller_secondaries else None,
            protect=protect, tags=tags))
        real.members.update(graph.realized)
        if graph.security_group_id is not None:
            app_clients.reach("graph", graph.security_group_id, GRAPH_CLIENT_PORTS)
        real.links.update((lk.source, lk.target, lk.mode) for lk in graph_store.links)
    if vector_store is not None:
        vw = _compute(vector_store)
        vector = Vector("vector", VectorArgs(
            backup_bucket_name=backups.buckets["vector"]["name"],
            backup_kms_key_arn=keys.arn("s3"), secrets_kms_key_arn=keys.arn("secrets"),
            placement=placement_of(vw),
            peers=vector_store.peers, replication_factor=vector_store.replication_factor,
            write_consistency_factor=vector_store.write_consistency_factor, version=vector_store.version,
            volume_gb=vector_store.volume_gb, snapshot_interval_hours=vector_store.snapshot_interval_hours,
            protect=protect, tags=tags))
        real.members.update(vector.realized)
        if vector.security_group_id is not None:
            app_clients.reach("vector", vector.security_group_id, VECTOR_CLIENT_PORTS)
        real.links.update((lk.source, lk.target, lk.mode) for lk in vector_store.links)

    if cluster is not None:
        # Prometheus + Alertmanager in the cluster scrape the stores that run there (Community Neo4j has no
        # metrics). Qdrant's /metrics is behind its API key, handed over by the store as a Pulumi secret.
        # Critical and warning alerts go to the alarm SNS topic (Alertmanager's IRSA role may publish there).
        eks_graph = tuple(graph.members) if graph is not None and graph_store is not None \
            and graph_store.placement == "eks" and graph_store.enterprise else ()
        eks_vector = vector if vector is not None and vector_store is not None \
            and vector_store.placement == "eks" else None
        if eks_graph or eks_vector is not None:
            ClusterMonitoring("monitoring", ClusterMonitoringArgs(
                cluster=cluster, graph_members=eks_graph,
                vector_peers=len(eks_vector.members) if eks_vector is not None else 0,
                vector_read_only_api_key=eks_vector.read_only_api_key if eks_vector is not None else None,
                evaluation_interval_seconds=al.evaluation_interval_seconds,
                slack_webhook_url=pulumi.Output.secret(al.slack_webhook_url.get_secret_value())
                if al.slack_webhook_url is not None else None,
                alarm_topic_arn=alarms.topic_arn, sns_kms_key_arn=keys.arn("sns"),
                protect=protect))

    # What the components built, not what the topology asked for: the same-topology test compares the two.
    real.members.update(pg.realized)
    real.links.update(pg.realized_links)
    real.members.update(redis.realized)
    real.links.update(redis.realized_links)
    _export(topo, pg, redis, backups, keys, dr_keys, alarms, cluster)
    return real


def _compute(store: Store) -> Eks | Ec2:
    """The EKS or EC2 placement of a store that runs on compute (Neo4j, Qdrant)."""
    where = store.where
    if not isinstance(where, Eks | Ec2):
        raise TypeError(f"{store.name} runs on {where.kind}: the AWS composition places it on eks or ec2")
    return where


def _eks(topo: Topology, name: str, net: Network, keys: Keys, runner: DeployRunner | None) -> EksCluster:
    groups: list[WorkloadNodeGroup] = []
    graph_store, vector_store = topo.graph, topo.vector
    if graph_store is not None and isinstance(graph_store.where, Eks):
        gw = graph_store.where
        primaries, secondaries = graph_store.primaries, graph_store.secondaries
        if gw.smaller_secondaries and secondaries:
            # Secondaries only serve reads: their own, smaller node group.
            groups.append(WorkloadNodeGroup("graph", gw.instance_type, primaries))
            groups.append(WorkloadNodeGroup("graph-secondary", str(gw.secondary_instance_type), secondaries))
        else:
            groups.append(WorkloadNodeGroup("graph", gw.instance_type, primaries + secondaries))
    if vector_store is not None and isinstance(vector_store.where, Eks):
        groups.append(WorkloadNodeGroup("vector", vector_store.where.instance_type, vector_store.peers))
    e, d, st = topo.eks, topo.deploy, topo.stack
    assert e is not None
    return EksCluster("eks", EksClusterArgs(
        cluster_name=name, region=st.region, subnet_ids=net.compute_subnet_ids, availability_zones=net.az_names,
        secrets_kms_key_arn=keys.arn("eks"),
        ebs_kms_key_arn=keys.arn("ebs"), logs_kms_key_arn=keys.arn("logs"), version=e.version,
        endpoint_public_access=e.endpoint_public_access, public_access_cidrs=e.public_access_cidrs,
        system_instance_type=e.system_instance_type, system_nodes=e.system_nodes,
        workload_node_groups=tuple(groups), storage_reclaim_policy=e.storage_reclaim_policy,
        admin_principal_arns=(*([d.deploy_role_arn] if d.deploy_role_arn else []),
                              *d.break_glass_role_arns),
        view_principal_arns=(d.preview_role_arn,) if d.preview_role_arn else (),
        api_clients={"deploy-runner": runner.security_group_id} if runner is not None else {},
        protect=st.protect, tags=st.tags))


def _export(topo: Topology, pg: Postgres, redis: Redis, backups: Backups, keys: Keys,
            dr_keys: Keys | None, alarms: Alarms, cluster: EksCluster | None) -> None:
    """The stack outputs contract (README "Stack outputs"): what `ops` and operators need."""
    st = topo.stack
    pulumi.export("environment", st.environment)
    pulumi.export("postgres", {
        "primaryIdentifier": pg.primary_identifier, "primaryArn": pg.primary_arn, "region": st.region,
        "replicaIdentifiers": pg.replica_identifiers, "drReplicaIdentifier": pg.dr_replica_identifier,
        "drReplicaArn": pg.dr_replica_arn, "drRegion": pg.dr_region, "kmsKeyArn": pg.kms_key_arn,
        "drKmsKeyArn": pg.dr_kms_key_arn, "backupRetentionDays": topo.postgres.backup_retention_days,
        "port": topo.postgres.port, "endpoint": pg.endpoint, "secretArn": pg.secret_arn,
    })
    pulumi.export("redis", {
        "replicationGroupId": redis.replication_group_id, "region": st.region, "kmsKeyArn": redis.kms_key_arn,
        "snapshotRetentionDays": topo.redis.snapshot_retention_days,
        "configurationEndpoint": redis.configuration_endpoint,
    })
    pulumi.export("buckets", {
        store: {"name": bk["name"], "region": st.region, "arn": bk["arn"], "kmsKeyArn": bk["kms_key_arn"],
                "replicaName": bk["replica_name"], "replicaRegion": bk["replica_region"]}
        for store, bk in backups.buckets.items()
    })
    pulumi.export("kmsKeys", {"primary": keys.arns, "dr": dr_keys.arns if dr_keys else None})
    pulumi.export("alarmTopicArn", alarms.topic_arn)
    pulumi.export("eksClusterName", cluster.cluster_name if cluster else None)
    pulumi.export("rpoHours", {st.name: st.backup.rpo_hours for st in topo.stores})
    pulumi.export("notes", list(topo.notes))
