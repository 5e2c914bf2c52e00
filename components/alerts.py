"""The alert catalogue: one list of alerts, rendered to CloudWatch alarms and to Prometheus rules.

Every threshold the platform alerts on lives here, once, as data (``Alert.threshold``). The two
renderings only say *how* to measure the condition on each side:

``cloudwatch`` (:class:`CloudWatchSpec`)
    Which AWS metric, statistic and period; which targets get one alarm each (``scope``); how
    missing data is treated and why. Rendered by ``components/aws/alarms.py``.
``promql`` (:class:`PromQLSpec`)
    The left-hand side of a PromQL comparison, in the *same unit* as ``threshold``; the renderer
    (``components/render/prometheus.py``) appends ``<op> <threshold>``. Exporters assumed:
    postgres_exporter (prometheus-community), redis_exporter (oliver006; also scrapes Valkey),
    Neo4j 5 Enterprise's built-in Prometheus endpoint (``server.metrics.prometheus.enabled``),
    Qdrant's ``/metrics``.

A side that cannot measure a condition is ``None``, on purpose, and ``Alert.gaps`` says why (e.g.
RDS publishes no buffer-cache hit ratio to CloudWatch; Neo4j and Qdrant run on EKS/EC2, where
CloudWatch has no engine metrics). ``rds_events`` lists RDS event categories that report the same
condition on AWS (failover, instance down); the Alarms component subscribes the alarm topic to them.

Metric names were checked against these sources (the exporters' and servers' own output):

* postgres_exporter: ``pg_stat_database_{blks_hit,blks_read,numbackends}``,
  ``pg_stat_replication_pg_wal_lsn_diff`` (labels application_name, client_addr, state),
  ``pg_replication_lag_seconds``, ``pg_replication_is_replica``, ``pg_up``.
* redis_exporter: ``redis_memory_used_bytes``, ``redis_memory_max_bytes``, ``redis_evicted_keys_total``,
  ``redis_keyspace_{hits,misses}_total``, ``redis_master_link_up``, ``redis_connected_slave_lag_seconds``,
  ``redis_cpu_{sys,user}_seconds_total``, ``redis_up``.
* Neo4j 5 (``/metrics`` on port 2004; Dropwizard names with dots → underscores, the database name
  is part of the metric name): ``neo4j_database_<db>_db_query_execution_latency_millis{quantile=…}``
  (a summary, ms), ``neo4j_dbms_vm_heap_used`` and ``neo4j_dbms_vm_heap_max`` (bytes). Neo4j
  exposes no transaction-duration histogram; query execution latency is the closest measure of
  "transaction time". ``server.metrics.filter`` must include ``*db.query.execution*`` and
  ``*vm.heap.*`` (the 5.x default filter exports ``vm.heap.used`` but not ``vm.heap.max``).
  Sources: Neo4j Operations Manual "Metrics reference" / "Expose metrics" (neo4j.com/docs/
  operations-manual/current/monitoring/metrics/), and a captured 5.11 endpoint in Telegraf's
  neo4j input test fixtures.
* Qdrant (qdrant.tech/documentation/guides/monitoring/): ``rest_responses_duration_seconds_bucket``
  and ``grpc_responses_duration_seconds_bucket`` (histograms, label ``endpoint``, e.g.
  ``/collections/{name}/points/search`` and ``/qdrant.Points/Search``).
* AWS/RDS (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html): ``CPUUtilization`` (%),
  ``DatabaseConnections``, ``FreeStorageSpace`` (bytes), ``OldestReplicationSlotLag`` (bytes; RDS
  for PostgreSQL read replicas use physical replication slots), ``ReplicaLag`` (seconds).
* AWS/ElastiCache (per node, dimension ``CacheClusterId``): ``DatabaseMemoryUsagePercentage``,
  ``Evictions``, ``CacheHitRate`` (%), ``EngineCPUUtilization`` (%), ``ReplicationLag`` (seconds,
  replicas only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

Store = Literal["postgres", "redis", "graph", "vector", "any"]
Severity = Literal["critical", "warning"]
Comparison = Literal[">", ">=", "<", "<=", "=="]
#: Which AWS targets get one alarm each.
#:  ``rds-instance``: every RDS instance (primary, in-region replicas, DR replica);
#:  ``rds-primary``: the primary only; ``rds-replica``: every replica (in-region and DR);
#:  ``cache-node``: every ElastiCache member cluster (one node each) of the replication group.
Scope = Literal["rds-instance", "rds-primary", "rds-replica", "cache-node"]
TreatMissingData = Literal["missing", "ignore", "breaching", "notBreaching"]

STORES: Final[tuple[Store, ...]] = ("postgres", "redis", "graph", "vector", "any")
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "warning")

#: CloudWatch comparison operator for each catalogue comparison.
CLOUDWATCH_OPERATORS: Final[dict[str, str]] = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}

MIB: Final = 1024 * 1024


class CatalogueError(ValueError):
    """An alert definition that cannot be rendered; the message names the alert, field and value."""


@dataclass(frozen=True)
class CloudWatchSpec:
    """How one alert is measured in CloudWatch. One alarm per target in ``scope``."""

    namespace: Literal["AWS/RDS", "AWS/ElastiCache"]
    """CloudWatch namespace."""
    metric_name: str
    """Metric name, e.g. ``CPUUtilization``."""
    statistic: Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"]
    """Statistic over each period."""
    period: int
    """Seconds per datapoint; a multiple of 60."""
    evaluation_periods: int
    """Periods that must breach before the alarm fires; ``period * evaluation_periods`` equals the
    alert's ``for_seconds`` (or is one period when ``for_seconds`` is 0)."""
    scope: Scope
    """Which targets get an alarm."""
    treat_missing_data: TreatMissingData
    """CloudWatch ``TreatMissingData``."""
    missing_data_reason: str
    """Why that choice: shown in the alarm description."""
    expression: str | None = None
    """Metric-math expression over ``m1`` (the metric above); placeholders ``{name}`` are filled
    from the target (``allocated_storage_bytes``). Default: None (alarm on the metric itself)."""
    threshold_percent_of: Literal["max_connections"] | None = None
    """The alert's ``threshold`` (a percentage) applies to this setting of each target: the alarm's
    threshold is that share of the target's value, in the metric's own unit (80 % of a target's
    ``max_connections`` of 500 is 400 connections). Default: None (the threshold as it is)."""


@dataclass(frozen=True)
class PromQLSpec:
    """How one alert is measured by Prometheus."""

    expr: str
    """Left-hand side, in the unit of ``Alert.threshold``; must keep the ``instance`` label so the
    Alertmanager inhibition (same alertname + instance) can match."""


@dataclass(frozen=True)
class Alert:
    """One alert condition, with its threshold, and how each monitoring side measures it."""

    name: str
    """CamelCase alert name; Prometheus ``alertname`` and part of the CloudWatch alarm name."""
    store: Store
    """Data store it watches (``any`` for generic alerts such as instance down)."""
    summary: str
    """One line, human readable, with the threshold in it."""
    severity: Severity
    """``critical`` pages; ``warning`` goes to the slower route."""
    threshold: float
    """The threshold, in ``unit``; both renderings compare against this exact number."""
    unit: str
    """Unit of ``threshold`` (``percent``, ``bytes``, ``seconds``, ``milliseconds``, ``count``)."""
    comparison: Comparison
    """Fires when ``value <comparison> threshold``."""
    for_seconds: int
    """How long the condition must hold before the alert fires (Prometheus ``for``; CloudWatch
    ``period * evaluation_periods``)."""
    runbook: str
    """What to check and do first; goes into annotations and alarm descriptions."""
    cloudwatch: CloudWatchSpec | None
    """CloudWatch rendering, or None when CloudWatch cannot measure it (see ``gaps``)."""
    promql: PromQLSpec | None
    """Prometheus rendering, or None when no exporter measures it (see ``gaps``)."""
    gaps: str = ""
    """Why a rendering is None. Default: empty (both renderings present)."""
    rds_events: tuple[str, ...] = field(default=())
    """RDS event categories that report this condition on AWS. Default: none."""

    def __post_init__(self) -> None:
        problems = validate_alert(self)
        if problems:
            raise CatalogueError("; ".join(problems))

    @property
    def for_duration(self) -> str:
        """``for_seconds`` as a Prometheus duration (``15m``, ``90s``, ``0s``)."""
        return prom_duration(self.for_seconds)

    def promql_expr(self) -> str | None:
        """The full PromQL alert expression, ``(<lhs>) <op> <threshold>``, or None."""
        if self.promql is None:
            return None
        return f"({self.promql.expr}) {self.comparison} {format_number(self.threshold)}"


def prom_duration(seconds: int) -> str:
    """Seconds as the shortest exact Prometheus duration."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def format_number(value: float) -> str:
    """A threshold as PromQL text: integers without ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def validate_alert(alert: Alert) -> list[str]:
    """Every problem with one alert definition (empty when valid). Pure; used by ``Alert``."""
    p: list[str] = []
    n = alert.name
    if not n or not n[0].isupper() or not n.isalnum():
        p.append(f"alert {n!r}: 'name' must be CamelCase letters and digits (got {n!r})")
    if alert.store not in STORES:
        p.append(f"alert {n}: 'store' must be one of {', '.join(STORES)} (got {alert.store!r})")
    if alert.severity not in SEVERITIES:
        p.append(f"alert {n}: 'severity' must be one of {', '.join(SEVERITIES)} (got {alert.severity!r})")
    if alert.comparison not in (*CLOUDWATCH_OPERATORS, "=="):
        p.append(f"alert {n}: 'comparison' must be one of >, >=, <, <=, == (got {alert.comparison!r})")
    if alert.for_seconds < 0:
        p.append(f"alert {n}: 'for_seconds' must be >= 0 (got {alert.for_seconds})")
    if not alert.runbook.strip():
        p.append(f"alert {n}: 'runbook' must not be empty")
    if alert.cloudwatch is None and alert.promql is None:
        p.append(f"alert {n}: at least one of 'cloudwatch' or 'promql' must be set")
    if (alert.cloudwatch is None or alert.promql is None) and not alert.gaps:
        p.append(f"alert {n}: 'gaps' must say why a rendering is None")
    cw = alert.cloudwatch
    if cw is not None:
        if alert.comparison == "==":
            p.append(f"alert {n}: comparison '==' has no CloudWatch operator (allowed: >, >=, <, <=)")
        if cw.period < 60 or cw.period % 60:
            p.append(f"alert {n}: 'cloudwatch.period' must be a multiple of 60 (got {cw.period})")
        if cw.evaluation_periods < 1:
            p.append(f"alert {n}: 'cloudwatch.evaluation_periods' must be >= 1 (got {cw.evaluation_periods})")
        window = cw.period * cw.evaluation_periods
        if alert.for_seconds and window != alert.for_seconds:
            p.append(f"alert {n}: 'cloudwatch.period * evaluation_periods' must equal 'for_seconds' "
                     f"{alert.for_seconds} (got {window})")
        if not alert.for_seconds and cw.evaluation_periods != 1:
            p.append(f"alert {n}: 'cloudwatch.evaluation_periods' must be 1 when 'for_seconds' is 0 "
                     f"(got {cw.evaluation_periods})")
        if cw.expression is not None and "m1" not in cw.expression:
            p.append(f"alert {n}: 'cloudwatch.expression' must use m1 (got {cw.expression!r})")
        if cw.threshold_percent_of is not None and alert.unit != "percent":
            p.append(f"alert {n}: 'cloudwatch.threshold_percent_of' needs a threshold in percent "
                     f"(got {alert.unit!r})")
    return p


# --- the catalogue ------------------------------------------------------------------------------

_PG_LAG_BYTES = 100 * MIB

ALERTS: Final[tuple[Alert, ...]] = (
    # PostgreSQL ----------------------------------------------------------------------------------
    Alert(
        name="PostgresReplicationLagHigh",
        store="postgres",
        summary="PostgreSQL replication lag above 100 MB",
        severity="critical",
        threshold=_PG_LAG_BYTES, unit="bytes", comparison=">", for_seconds=300,
        runbook=("A replica is more than 100 MB of WAL behind and WAL is piling up on the primary: check the "
                 "replica's CPU/IO and network, long-running queries on the replica (hot_standby_feedback), "
                 "and the primary's write rate; if a slot belongs to a dead replica, drop the slot before the "
                 "primary's disk fills."),
        # On RDS the primary publishes the lag of its most-lagging slot in bytes; read replicas
        # (in-region and cross-region) use physical replication slots.
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="OldestReplicationSlotLag", statistic="Maximum",
            period=60, evaluation_periods=5, scope="rds-primary", treat_missing_data="notBreaching",
            missing_data_reason="RDS publishes no datapoint while the primary has no replication slot",
        ),
        promql=PromQLSpec(
            "max by (instance, application_name) (pg_stat_replication_pg_wal_lsn_diff)",
        ),
    ),
    Alert(
        name="PostgresReplicaLagHigh",
        store="postgres",
        summary="PostgreSQL replica replays more than 300 s behind the primary",
        severity="warning",
        threshold=300, unit="seconds", comparison=">", for_seconds=300,
        runbook=("Replay on this replica is minutes behind: look for replay conflicts and long queries on the "
                 "replica, IO saturation, or a primary write burst; a DR replica this far behind breaks the "
                 "RPO, so say so in the incident channel before promoting it."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="ReplicaLag", statistic="Maximum",
            period=60, evaluation_periods=5, scope="rds-replica", treat_missing_data="missing",
            missing_data_reason=("a replica that stops publishing is caught by PostgresReplicaNotStreaming; "
                                 "here a gap keeps the last state"),
        ),
        promql=PromQLSpec(
            "max by (instance) (pg_replication_lag_seconds and on (instance) pg_replication_is_replica == 1)",
        ),
    ),
    Alert(
        name="PostgresReplicaNotStreaming",
        store="postgres",
        summary="PostgreSQL replica is not streaming from the primary",
        severity="critical",
        threshold=0, unit="seconds", comparison="<", for_seconds=300,
        runbook=("Replication is broken: on the primary check pg_stat_replication (state, client_addr); on "
                 "the replica check the log for 'could not connect' or 'requested WAL segment has already "
                 "been removed'; on RDS look at the replica's events, and rebuild the replica if WAL is gone."),
        # RDS reports ReplicaLag -1 when replication is not running, and no datapoint when the
        # replica is gone: both breach.
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="ReplicaLag", statistic="Minimum",
            period=60, evaluation_periods=5, scope="rds-replica", treat_missing_data="breaching",
            missing_data_reason="a replica that stops publishing ReplicaLag is not replicating",
        ),
        # On the primary, a walsender in any state but 'streaming' (startup, catchup, backup,
        # stopping) for 5 minutes; the value is -1 so the same '< 0' comparison applies.
        promql=PromQLSpec(
            'min by (instance, application_name, state) '
            '(pg_stat_replication_pg_wal_lsn_diff{state!="streaming"} * 0 - 1)',
        ),
    ),
    Alert(
        name="PostgresFailover",
        store="postgres",
        summary="PostgreSQL server changed role (failover or promotion)",
        severity="warning",
        threshold=0, unit="count", comparison=">", for_seconds=0,
        runbook=("A server was promoted or demoted: confirm the new primary is the one clients reach "
                 "(PgBouncer/HAProxy), that the old primary rejoined as a replica, and write the "
                 "failover time into the incident log (target < 30 s)."),
        cloudwatch=None,
        promql=PromQLSpec("changes(pg_replication_is_replica[10m])"),
        gaps="CloudWatch has no role metric; on AWS the RDS 'failover' event category reports it.",
        rds_events=("failover",),
    ),
    Alert(
        name="PostgresConnectionsHigh",
        store="postgres",
        summary="PostgreSQL connections above 80 % of max_connections",
        severity="warning",
        # 80 % of the default max_connections (500) is the seeds' 400 connections.
        threshold=80, unit="percent", comparison=">", for_seconds=300,
        runbook=("Connections are near max_connections: find the clients in pg_stat_activity (usename, "
                 "application_name, state), make sure applications go through PgBouncer in transaction "
                 "mode, and kill 'idle in transaction' sessions older than a few minutes."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="DatabaseConnections", statistic="Maximum",
            period=60, evaluation_periods=5, scope="rds-instance", treat_missing_data="missing",
            missing_data_reason="an instance that stops reporting is covered by RDS availability events",
            threshold_percent_of="max_connections",
        ),
        # postgres_exporter's pg_settings collector exports max_connections as pg_settings_max_connections.
        promql=PromQLSpec("100 * sum by (instance) (pg_stat_database_numbackends)"
                          " / max by (instance) (pg_settings_max_connections)"),
    ),
    Alert(
        name="PostgresCacheHitLow",
        store="postgres",
        summary="PostgreSQL buffer cache hit ratio below 99 %",
        severity="warning",
        threshold=99, unit="percent", comparison="<", for_seconds=900,
        runbook=("Reads are going to disk: check pg_stat_statements for new sequential scans or missing "
                 "indexes, compare the working set to shared_buffers/instance memory, and consider a larger "
                 "instance class if the data simply outgrew memory."),
        cloudwatch=None,
        promql=PromQLSpec(
            "100 * sum by (instance) (rate(pg_stat_database_blks_hit[10m])) / "
            "(sum by (instance) (rate(pg_stat_database_blks_hit[10m])) + "
            "sum by (instance) (rate(pg_stat_database_blks_read[10m])))",
        ),
        gaps=("RDS publishes no buffer-cache hit ratio for PostgreSQL to CloudWatch (BufferCacheHitRatio is "
              "Aurora only); measure it with postgres_exporter or Performance Insights."),
    ),
    Alert(
        name="PostgresCPUHigh",
        store="postgres",
        summary="PostgreSQL instance CPU above 80 % for 15 minutes",
        severity="warning",
        threshold=80, unit="percent", comparison=">", for_seconds=900,
        runbook=("Sustained CPU: open Performance Insights (top SQL by CPU), look for plan changes or "
                 "missing indexes, check autovacuum workers; scale the instance class if load is organic."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="CPUUtilization", statistic="Average",
            period=300, evaluation_periods=3, scope="rds-instance", treat_missing_data="missing",
            missing_data_reason="an instance that stops reporting is covered by RDS availability events",
        ),
        promql=None,
        gaps="postgres_exporter exports no host CPU; on the local stack use node_exporter or docker stats.",
    ),
    Alert(
        name="PostgresFreeStorageLow",
        store="postgres",
        summary="PostgreSQL free storage below 10 % of its initial allocation",
        severity="critical",
        threshold=10, unit="percent", comparison="<", for_seconds=300,
        runbook=("Storage is almost full: check storage autoscaling (max_allocated_storage), WAL retained by "
                 "replication slots (OldestReplicationSlotLag, TransactionLogsDiskUsage), temp files and "
                 "bloat; raise allocated storage before the instance goes to storage-full."),
        # FreeStorageSpace is in bytes; the percentage needs the allocated size, which is not a metric, and
        # storage autoscales (max_allocated_storage). RDS grows storage when free space drops below 10 % of
        # the *current* allocation, which is never smaller than the initial one: measured against the
        # initial allocation, this alarm fires only when autoscaling has not kept up or has reached its
        # ceiling — never in normal growth. A threshold against the ceiling would sit in ALARM from 70 % to
        # 90 % full of every allocation below it. Nearing the ceiling itself is RDS-EVENT-0225, in the
        # "low storage" event category the RDS event subscriptions carry.
        cloudwatch=CloudWatchSpec(
            namespace="AWS/RDS", metric_name="FreeStorageSpace", statistic="Minimum",
            period=300, evaluation_periods=1, scope="rds-instance", treat_missing_data="missing",
            missing_data_reason="an instance that stops reporting is covered by RDS availability events",
            expression="100 * m1 / {allocated_storage_bytes}",
        ),
        promql=None,
        gaps="Disk space is a host metric; postgres_exporter does not export it (node_exporter does).",
        rds_events=("low storage",),
    ),
    # Redis / Valkey ------------------------------------------------------------------------------
    Alert(
        name="RedisMemoryHigh",
        store="redis",
        summary="Redis/Valkey memory use above 90 % of maxmemory",
        severity="critical",
        threshold=90, unit="percent", comparison=">", for_seconds=300,
        runbook=("Memory is near maxmemory: allkeys-lru will start evicting hot keys; check for big or "
                 "TTL-less keys (redis-cli --bigkeys / MEMORY USAGE), fragmentation, and scale the node "
                 "type or add shards."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/ElastiCache", metric_name="DatabaseMemoryUsagePercentage", statistic="Maximum",
            period=60, evaluation_periods=5, scope="cache-node", treat_missing_data="missing",
            missing_data_reason="a node that stops reporting is covered by ElastiCache notifications",
        ),
        promql=PromQLSpec("100 * redis_memory_used_bytes / (redis_memory_max_bytes > 0)"),
    ),
    Alert(
        name="RedisEvictions",
        store="redis",
        summary="Redis/Valkey is evicting keys",
        severity="warning",
        threshold=0, unit="count", comparison=">", for_seconds=0,
        runbook=("Keys are being evicted: memory is full for this workload; check RedisMemoryHigh, key "
                 "sizes and TTLs, and whether evicted keys are ones the application expects to persist."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/ElastiCache", metric_name="Evictions", statistic="Sum",
            period=300, evaluation_periods=1, scope="cache-node", treat_missing_data="notBreaching",
            missing_data_reason="no datapoint means nothing was evicted",
        ),
        promql=PromQLSpec("increase(redis_evicted_keys_total[5m])"),
    ),
    Alert(
        name="RedisHitRateLow",
        store="redis",
        summary="Redis/Valkey cache hit rate below 95 %",
        severity="warning",
        threshold=95, unit="percent", comparison="<", for_seconds=900,
        runbook=("Most lookups miss: check for evictions, a cold cache after failover or deploy, key-naming "
                 "changes in the application, and TTLs that are too short."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/ElastiCache", metric_name="CacheHitRate", statistic="Average",
            period=300, evaluation_periods=3, scope="cache-node", treat_missing_data="notBreaching",
            missing_data_reason="a node that served no reads has no hit rate",
        ),
        promql=PromQLSpec(
            "100 * sum by (instance) (rate(redis_keyspace_hits_total[5m])) / "
            "(sum by (instance) (rate(redis_keyspace_hits_total[5m])) + "
            "sum by (instance) (rate(redis_keyspace_misses_total[5m])))",
        ),
    ),
    Alert(
        name="RedisCPUHigh",
        store="redis",
        summary="Redis/Valkey engine CPU above 80 % for 15 minutes",
        severity="warning",
        threshold=80, unit="percent", comparison=">", for_seconds=900,
        runbook=("The engine thread is busy: check SLOWLOG and commandstats for O(N) commands (KEYS, big "
                 "SMEMBERS/HGETALL, Lua), hot keys on one shard, and rebalance or add shards."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/ElastiCache", metric_name="EngineCPUUtilization", statistic="Average",
            period=300, evaluation_periods=3, scope="cache-node", treat_missing_data="missing",
            missing_data_reason="a node that stops reporting is covered by ElastiCache notifications",
        ),
        # Process CPU in percent of one core; the engine's main thread dominates it.
        promql=PromQLSpec(
            "100 * (rate(redis_cpu_sys_seconds_total[5m]) + rate(redis_cpu_user_seconds_total[5m]))",
        ),
    ),
    Alert(
        name="RedisReplicationLagHigh",
        store="redis",
        summary="Redis/Valkey replica more than 10 s behind its primary",
        severity="warning",
        threshold=10, unit="seconds", comparison=">", for_seconds=300,
        runbook=("A replica is falling behind: check network between the nodes, the primary's output buffer "
                 "(client-output-buffer-limit replica), and full resyncs in the log; a lagging replica "
                 "loses writes on failover."),
        cloudwatch=CloudWatchSpec(
            namespace="AWS/ElastiCache", metric_name="ReplicationLag", statistic="Maximum",
            period=60, evaluation_periods=5, scope="cache-node", treat_missing_data="notBreaching",
            missing_data_reason=("only replicas publish ReplicationLag and roles move on failover, so every node "
                                 "gets the alarm and a primary's silence is not a breach"),
        ),
        promql=PromQLSpec("max by (instance) (redis_connected_slave_lag_seconds)"),
    ),
    Alert(
        name="RedisReplicationBroken",
        store="redis",
        summary="Redis/Valkey replica lost its link to the primary",
        severity="critical",
        threshold=0, unit="count", comparison="==", for_seconds=60,
        runbook=("master_link_status is down: check INFO replication on the replica and CLUSTER NODES for a "
                 "failed primary, the replicator ACL user's password, and TLS certificates; a shard without "
                 "a replica has no failover."),
        cloudwatch=None,
        promql=PromQLSpec("redis_master_link_up"),
        gaps=("CloudWatch has no replication-link metric; on AWS ElastiCache failover notifications "
              "(replication group notification topic) report it."),
    ),
    # Neo4j -----------------------------------------------------------------------------------------
    Alert(
        name="Neo4jQueryLatencyHigh",
        store="graph",
        summary="Neo4j p99 query/transaction execution time above 500 ms",
        severity="warning",
        threshold=500, unit="milliseconds", comparison=">", for_seconds=300,
        runbook=("Queries are slow: read query.log for the slowest statements, PROFILE them, check page "
                 "cache hit ratio and heap/GC pauses, and missing indexes or constraints."),
        cloudwatch=None,
        promql=PromQLSpec(
            'max by (instance) ({__name__=~"neo4j_database_.+_db_query_execution_latency_millis",'
            'quantile="0.99"})',
        ),
        gaps="Neo4j runs on EKS/EC2; CloudWatch has no Neo4j engine metrics.",
    ),
    Alert(
        name="Neo4jHeapHigh",
        store="graph",
        summary="Neo4j JVM heap use above 80 %",
        severity="warning",
        threshold=80, unit="percent", comparison=">", for_seconds=600,
        runbook=("Heap stays above 80 %: check for large transactions (SHOW TRANSACTIONS, tx state memory), "
                 "GC pause metrics, and server.memory.heap.max_size vs. the pod/instance memory."),
        cloudwatch=None,
        promql=PromQLSpec("100 * neo4j_dbms_vm_heap_used / (neo4j_dbms_vm_heap_max > 0)"),
        gaps="Neo4j runs on EKS/EC2; CloudWatch has no JVM metrics for it.",
    ),
    # Qdrant ----------------------------------------------------------------------------------------
    Alert(
        name="QdrantSearchLatencyHigh",
        store="vector",
        summary="Qdrant p99 search latency above 500 ms",
        severity="warning",
        threshold=500, unit="milliseconds", comparison=">", for_seconds=300,
        runbook=("Searches are slow: check collection optimizer status (indexing in progress), segment "
                 "count, HNSW ef/m and quantization settings, on-disk vectors without page cache, and "
                 "peer CPU."),
        cloudwatch=None,
        promql=PromQLSpec(
            "1000 * histogram_quantile(0.99, sum by (instance, le) (rate("
            '{__name__=~"rest_responses_duration_seconds_bucket|grpc_responses_duration_seconds_bucket",'
            'endpoint=~"(?i).*points/(search|query).*"}[5m])))',
        ),
        gaps="Qdrant runs on EKS/EC2; CloudWatch has no Qdrant metrics.",
    ),
    # Any store -----------------------------------------------------------------------------------
    Alert(
        name="InstanceDown",
        store="any",
        summary="A data-store server or its exporter is down",
        severity="critical",
        threshold=0, unit="count", comparison="==", for_seconds=60,
        runbook=("The target does not answer: check the container/pod/instance (restarts, OOM kills, disk "
                 "full), then its logs; for a primary, confirm failover happened and clients follow it."),
        cloudwatch=None,
        # 'up' is the scrape itself; pg_up / redis_up are the exporters' view of their server. The
        # minimum of the three per target is 0 when any of them is ('or' would not do: set
        # operators match on labels without the metric name, so pg_up == 0 would hide behind up == 1).
        promql=PromQLSpec('min by (instance, job) ({__name__=~"up|pg_up|redis_up"})'),
        gaps="CloudWatch has no up/down metric for RDS; the RDS 'availability' and 'failure' events report it.",
        rds_events=("availability", "failure"),
    ),
)


def alerts_by_name(alerts: Iterable[Alert] = ALERTS) -> dict[str, Alert]:
    """The catalogue keyed by name; raises :class:`CatalogueError` on duplicate names."""
    out: dict[str, Alert] = {}
    for a in alerts:
        if a.name in out:
            raise CatalogueError(f"alert name {a.name!r} is used twice")
        out[a.name] = a
    return out


def cloudwatch_alerts(alerts: Iterable[Alert] = ALERTS) -> tuple[Alert, ...]:
    """Alerts that have a CloudWatch rendering."""
    return tuple(a for a in alerts if a.cloudwatch is not None)


def prometheus_alerts(alerts: Iterable[Alert] = ALERTS) -> tuple[Alert, ...]:
    """Alerts that have a Prometheus rendering."""
    return tuple(a for a in alerts if a.promql is not None)


def rds_event_categories(alerts: Iterable[Alert] = ALERTS) -> tuple[str, ...]:
    """Sorted union of the RDS event categories the catalogue relies on."""
    return tuple(sorted({c for a in alerts for c in a.rds_events}))


alerts_by_name()  # fail at import on a duplicate name
