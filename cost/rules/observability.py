"""Monitoring: CloudWatch alarms, log groups (ingestion and retained storage), metric filters, SNS.

Log ingestion is the ``logGbPerMonth`` assumption split evenly over the program's log groups; a
group keeps what it ingests for its retention, so it stores ``monthly GB × retention months``
(uncompressed: an upper bound, CloudWatch bills the compressed size).
"""

from __future__ import annotations

from collections.abc import Mapping

from cost.rules.base import DAYS, Charge, Context, Res, as_list, dig, fmt, free, number

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
SNS_TOPIC = "aws:sns/topic:Topic"

PRICE_KEYS = (
    "cloudwatch:alarm:standard",
    "cloudwatch:alarm:high-resolution",
    "cloudwatch:metric",
    "cloudwatch:logs:ingestion",
    "cloudwatch:logs:storage",
)


def metric_alarm(r: Res, ctx: Context) -> list[Charge]:
    """Per alarm metric; high resolution when a period is under 60 s."""
    queries = [q for q in as_list(r.get("metricQueries")) if isinstance(dig(q, "metric"), Mapping)]
    metrics = len(queries) or 1
    periods = [number(dig(q, "metric", "period")) for q in queries] or [r.num("period")]
    high = any(p is not None and p < 60 for p in periods)
    key, label = ("cloudwatch:alarm:high-resolution", "high-resolution") if high else (
        "cloudwatch:alarm:standard", "standard-resolution")
    return [ctx.per_unit("alarm", key, r.region, metrics, f"CloudWatch {label} alarm {{price}} × {{qty}} metric",
                         what=f"CloudWatch {label} alarm", service="CloudWatch")]


def log_group(r: Res, ctx: Context) -> list[Charge]:
    """Ingestion of an even share of ``logGbPerMonth``, and the storage of what the retention keeps."""
    groups = max(ctx.count(LOG_GROUP), 1)
    share = ctx.usage.log_gb_per_month / groups
    split = f"{ctx.usage.cite('log_gb_per_month')} split evenly over {groups} log groups"
    retention = r.num("retentionInDays")
    out = [ctx.per_unit("ingestion", "cloudwatch:logs:ingestion", r.region, share,
                        f"CloudWatch Logs ingestion {{price}} × {{qty}} GB ({split})",
                        what="CloudWatch Logs ingestion", service="CloudWatch")]
    if not retention:
        out.append(Charge("storage", None, "log group without retentionInDays keeps logs forever: its storage grows "
                                           "without bound (set a retention)"))
        return out
    months = retention / DAYS
    out.append(ctx.per_unit("storage", "cloudwatch:logs:storage", r.region, share * months,
                            f"CloudWatch Logs storage {{price}} × {{qty}} GB ({fmt(share)} GB/month × "
                            f"{fmt(retention)} days retention = {fmt(months)} months; uncompressed, an upper bound)",
                            what="CloudWatch Logs storage", service="CloudWatch"))
    return out


def log_metric_filter(r: Res, ctx: Context) -> list[Charge]:
    """A metric filter publishes a custom metric, billed per metric-month."""
    return [ctx.per_unit("metric", "cloudwatch:metric", r.region, 1, "custom metric from the filter {price} × {qty}",
                         what="CloudWatch custom metric", service="CloudWatch")]


def sns_topic(r: Res, ctx: Context) -> list[Charge]:
    """Topics have no fixed charge."""
    return [free("SNS topics have no fixed price; requests and deliveries beyond the free tiers are not modelled")]


RULES = {
    METRIC_ALARM: metric_alarm,
    LOG_GROUP: log_group,
    METRIC_FILTER: log_metric_filter,
    SNS_TOPIC: sns_topic,
}
