"""Usage assumptions: what a stack file states about data size, growth, writes and transfer.

The one home of every assumption: its camelCase key (as in ``data-platform:usage``), default, unit
and meaning. ``infra.settings`` builds its ``usage`` section from :data:`ASSUMPTIONS`; the cost
rules read :class:`Usage`; each usage-based line names the keys it used and their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

DAYS_PER_MONTH = 730 / 24
"""Days in a month, consistent with 730 hours (30.42)."""


USAGE_MINIMUM: Final = 0
"""The lower bound of every assumption: :meth:`Usage.from_mapping` checks it (:func:`is_usage_value`) and
``infra.settings`` builds the ``usage`` section's fields with it."""


def is_usage_value(value: object) -> bool:
    """``value`` is allowed for an assumption: a number (not a boolean) of at least :data:`USAGE_MINIMUM`.
    (The stack file's values reach the cost model as numbers: the settings and the review convert them.)"""
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= USAGE_MINIMUM


def _assume(key: str, default: float, unit: str, doc: str) -> Any:
    return field(default=default, metadata={"key": key, "unit": unit, "doc": doc})


@dataclass(frozen=True)
class Usage:
    """The assumptions of one estimate; the defaults are those of a stack file without ``usage``."""

    nat_gb_per_month: float = _assume(
        "natGbPerMonth", 100.0, "GB/month",
        "GB processed by the NAT gateways per month (image pulls, AWS APIs without an endpoint), split evenly.")
    endpoint_gb_per_month: float = _assume(
        "endpointGbPerMonth", 20.0, "GB/month",
        "GB processed by the interface VPC endpoints per month (KMS, Secrets Manager, logs...), split evenly.")
    log_gb_per_month: float = _assume(
        "logGbPerMonth", 20.0, "GB/month",
        "GB ingested into CloudWatch Logs per month, split evenly over the log groups and kept for their "
        "retention.")
    postgres_data_gb: float = _assume(
        "postgresDataGb", 100.0, "GB",
        "Data in PostgreSQL (the size of a full snapshot): backup storage, replicated backups.")
    postgres_wal_gb_per_day: float = _assume(
        "postgresWalGbPerDay", 2.0, "GB/day",
        "WAL PostgreSQL writes per day (the write volume): PITR backup storage, the DR replica's stream, "
        "backup replication.")
    redis_data_gb: float = _assume(
        "redisDataGb", 5.0, "GB",
        "Data in Valkey/Redis (the size of one snapshot): ElastiCache snapshot storage.")
    data_growth_percent_per_month: float = _assume(
        "dataGrowthPercentPerMonth", 0.0, "%/month",
        "Growth of the data sizes per month: data-driven lines are priced at the size at the month's end.")
    postgres_backup_gb_per_day: float = _assume(
        "postgresBackupGbPerDay", 0.0, "GB/day",
        "GB written per day to the postgres backup bucket (exports; RDS keeps its own backups).")
    redis_backup_gb_per_day: float = _assume(
        "redisBackupGbPerDay", 0.0, "GB/day",
        "GB written per day to the redis backup bucket (snapshot exports; ElastiCache keeps its own).")
    graph_backup_gb_per_day: float = _assume(
        "graphBackupGbPerDay", 10.0, "GB/day",
        "GB written per day to the graph backup bucket (Neo4j online backups).")
    vector_backup_gb_per_day: float = _assume(
        "vectorBackupGbPerDay", 10.0, "GB/day",
        "GB written per day to the vector backup bucket (Qdrant snapshots, every snapshot interval).")
    access_log_gb_per_day: float = _assume(
        "accessLogGbPerDay", 0.1, "GB/day",
        "GB of S3 server access logs written per day to each access-log bucket.")
    deploy_minutes_per_month: float = _assume(
        "deployMinutesPerMonth", 120.0, "build-minutes/month",
        "CodeBuild build minutes per month (deploys), split evenly over the projects.")

    # -- lookups ---------------------------------------------------------------------------

    @classmethod
    def key_of(cls, attr: str) -> str:
        """The camelCase key of attribute ``attr``."""
        return str(_FIELDS[attr].metadata["key"])

    def cite(self, *attrs: str) -> str:
        """``key value unit`` for each attribute: what a line assumed (``postgresDataGb 100 GB``)."""
        parts = []
        for attr in attrs:
            meta = _FIELDS[attr].metadata
            value = getattr(self, attr)
            shown = f"{value:,.3f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"
            parts.append(f"{meta['key']} {shown} {meta['unit']}")
        return ", ".join(parts)

    def cite_data(self, *attrs: str) -> str:
        """:meth:`cite` plus the growth assumption when there is growth."""
        growth = ("data_growth_percent_per_month",) if self.data_growth_percent_per_month else ()
        return self.cite(*attrs, *growth)

    def grown(self, gb: float) -> float:
        """``gb`` at the end of the month (``dataGrowthPercentPerMonth``)."""
        return gb * (1 + self.data_growth_percent_per_month / 100)

    def backup_gb_per_day(self, store: str) -> tuple[float, str] | None:
        """(GB/day written to ``store``'s backup bucket, the attribute), or None for an unknown store."""
        attr = f"{store}_backup_gb_per_day"
        if attr not in _FIELDS:
            return None
        return float(getattr(self, attr)), attr

    # -- (de)serialisation -------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, usage: Mapping[str, Any] | None) -> Usage:
        """Validate camelCase ``usage``; unknown keys and negative or non-numeric values are errors."""
        if not usage:
            return cls()
        problems: list[str] = []
        values: dict[str, float] = {}
        for key, value in usage.items():
            attr = _BY_KEY.get(key)
            if attr is None:
                problems.append(f"usage key {key!r} is not one of {', '.join(_BY_KEY)}")
                continue
            if not is_usage_value(value):
                problems.append(f"usage.{key}: {value!r} is not a number >= {USAGE_MINIMUM}")
                continue
            values[attr] = float(value)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values)

    def to_json(self) -> dict[str, float]:
        """The assumptions with their camelCase keys."""
        return {str(f.metadata["key"]): getattr(self, f.name) for f in fields(self)}


_FIELDS = {f.name: f for f in fields(Usage)}
_BY_KEY = {str(f.metadata["key"]): f.name for f in fields(Usage)}


@dataclass(frozen=True)
class Assumption:
    """One assumption as documentation and settings see it."""

    attr: str
    """Python attribute name (snake_case)."""
    key: str
    """camelCase key in ``data-platform:usage``."""
    default: float
    unit: str
    doc: str


_DEFAULTS = Usage()
ASSUMPTIONS: tuple[Assumption, ...] = tuple(
    Assumption(f.name, str(f.metadata["key"]), getattr(_DEFAULTS, f.name), str(f.metadata["unit"]),
               str(f.metadata["doc"]))
    for f in fields(Usage)
)
"""Every assumption, in declaration order."""
