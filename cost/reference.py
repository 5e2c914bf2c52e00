"""Price the source README's claimed topology with the same model as the stacks.

    python -m cost.reference [--format markdown|json]

One of the source READMEs prices its data tier at $3,530/month in us-east-1 for:
db.r6i.xlarge × 2 with 500 GB io1 at 20k IOPS, cache.r6g.xlarge × 6, r6i.2xlarge × 5,
r6i.xlarge × 3. This module builds those resources in the review's contract shape, calls
:func:`cost.model.estimate` on them, and prints the lines. Lines the table cannot price are shown
as unpriced with the reason; the nearest priced class is given as clearly labelled context and is
never added to the total.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cost.model import CostLine, CostReport, estimate
from cost.prices import HOURS_PER_MONTH, PriceTable, load_prices

CLAIMED_MONTHLY_USD = 3530.0
"""The figure the source README states."""

REGION = "us-east-1"
"""The region the source README prices in."""

CLAIM = "db.r6i.xlarge × 2 with 500 GB io1 at 20k IOPS, cache.r6g.xlarge × 6, r6i.2xlarge × 5, r6i.xlarge × 3"
"""The topology as the source README states it."""

INTERPRETATION = (
    "`db.r6i.xlarge × 2` is read as one Multi-AZ DB instance (primary + synchronous standby, the seeds' "
    "'primary with synchronous standby'), so Multi-AZ doubles instance, storage and IOPS. "
    "`cache.r6g.xlarge × 6` is one Redis OSS replication group of 3 shards × (1 primary + 1 replica). "
    "`r6i.2xlarge × 5` are the Neo4j servers (3 primaries + 2 secondaries) and `r6i.xlarge × 3` the "
    "Qdrant peers, each an EC2 Linux on-demand instance. The README states no disks for them, so none "
    "are priced (their root volumes come from the AMI and show as unpriced)."
)

_PROJECT = "seed-readme"
_STACK = "reference"


def _urn(type_path: str, name: str) -> str:
    return f"urn:pulumi:{_STACK}::{_PROJECT}::{type_path}::{name}"


def _component(token: str, name: str) -> dict[str, Any]:
    return {
        "urn": _urn(token, name),
        "type": token,
        "name": name,
        "custom": False,
        "parent": None,
        "inputs": {},
    }


def _child(parent: dict[str, Any], type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "urn": _urn(f"{parent['type']}${type_}", name),
        "type": type_,
        "name": name,
        "custom": True,
        "parent": parent["urn"],
        "inputs": inputs,
        "dependencies": [],
    }


def topology(
    *,
    db_class: str = "db.r6i.xlarge",
    multi_az_pair: bool = True,
    storage_type: str = "io1",
    graph_type: str = "r6i.2xlarge",
    vector_type: str = "r6i.xlarge",
) -> list[dict[str, Any]]:
    """The claimed topology as recorded resources (§7 shape).

    ``multi_az_pair=False`` gives the other reading of "× 2": two Single-AZ instances, each with
    its own 500 GB volume and 20k IOPS.
    """
    postgres = _component("seed:readme:Postgres", "postgres")
    redis = _component("seed:readme:Redis", "redis")
    graph = _component("seed:readme:Graph", "graph")
    vector = _component("seed:readme:Vector", "vector")
    db = {
        "instanceClass": db_class,
        "engine": "postgres",
        "allocatedStorage": 500,
        "storageType": storage_type,
        "iops": 20000,
    }
    if multi_az_pair:
        databases = [_child(postgres, "aws:rds/instance:Instance", "pg", {**db, "multiAz": True})]
    else:
        databases = [
            _child(postgres, "aws:rds/instance:Instance", f"pg-{i}", {**db, "multiAz": False}) for i in (1, 2)
        ]
    cache = _child(
        redis,
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "redis",
        {"nodeType": "cache.r6g.xlarge", "engine": "redis", "numNodeGroups": 3, "replicasPerNodeGroup": 1},
    )
    servers = [
        _child(graph, "aws:ec2/instance:Instance", f"neo4j-{i}", {"instanceType": graph_type})
        for i in range(1, 6)
    ]
    peers = [
        _child(vector, "aws:ec2/instance:Instance", f"qdrant-{i}", {"instanceType": vector_type})
        for i in range(1, 4)
    ]
    return [postgres, redis, graph, vector, *databases, cache, *servers, *peers]


def price(resources: Sequence[dict[str, Any]]) -> CostReport:
    """Estimate ``resources`` in us-east-1 with no usage-driven lines (the claim has none)."""
    return estimate(
        resources,
        region=REGION,
        usage={"natGbPerMonth": 0, "backupGbPerStore": 0, "logGbPerMonth": 0, "crossRegionGbPerMonth": 0},
    )


@dataclass(frozen=True)
class Row:
    """Identical lines of several resources, shown once with a count."""

    component: str
    count: int
    monthly_each: float | None
    basis: str

    @property
    def monthly(self) -> float | None:
        """All ``count`` lines together."""
        return None if self.monthly_each is None else round(self.monthly_each * self.count, 2)


def rows(lines: Sequence[CostLine]) -> list[Row]:
    """Group lines with the same component, basis and amount."""
    grouped: dict[tuple[str, str, float | None], int] = {}
    for line in lines:
        name = (line.component or "").rsplit("::", 1)[-1]
        key = (name, line.basis, line.monthly)
        grouped[key] = grouped.get(key, 0) + 1
    return [Row(name, count, monthly, basis) for (name, basis, monthly), count in grouped.items()]


def nearest_priced_class(db_class: str, region: str, table: PriceTable | None = None) -> str | None:
    """The priced PostgreSQL class of the same family letter and size, nearest in generation."""
    table = table or load_prices()
    match = re.fullmatch(r"db\.([a-z])(\d+)([a-z]*)\.(\w+)", db_class)
    if not match:
        return None
    family, generation, size = match.group(1), int(match.group(2)), match.group(4)
    candidates: list[tuple[int, str]] = []
    for p in table.keys_with_prefix("rds:postgres:", region):
        cls = p.key.split(":")[2]
        other = re.fullmatch(r"db\.([a-z])(\d+)([a-z]*)\.(\w+)", cls)
        if other and other.group(1) == family and other.group(4) == size and cls != db_class:
            candidates.append((abs(int(other.group(2)) - generation), cls))
    return min(candidates)[1] if candidates else None


def _money(value: float | None) -> str:
    return "unpriced" if value is None else f"{value:,.2f}"


def _context(report: CostReport, db_class: str) -> tuple[str, CostLine] | None:
    """(nearest class, its instance line) when ``db_class`` is unpriced in ``report``; else None."""
    unpriced = any(
        line.type == "aws:rds/instance:Instance" and line.item == "instance" for line in report.unpriced
    )
    nearest = nearest_priced_class(db_class, REGION) if unpriced else None
    if nearest is None:
        return None
    for line in price(topology(db_class=nearest)).lines:
        if line.type == "aws:rds/instance:Instance" and line.item == "instance":
            return nearest, line
    return None


def _suggested() -> CostReport:
    return price(
        topology(
            db_class="db.r6g.xlarge", storage_type="gp3", graph_type="r7g.2xlarge", vector_type="r7g.xlarge"
        )
    )


def report() -> dict[str, Any]:
    """Everything the markdown shows, as data."""
    claimed = price(topology())
    other_reading = price(topology(multi_az_pair=False))
    context = _context(claimed, "db.r6i.xlarge")
    return {
        "claim": CLAIM,
        "claimed_monthly_usd": CLAIMED_MONTHLY_USD,
        "region": REGION,
        "hours_per_month": HOURS_PER_MONTH,
        "interpretation": INTERPRETATION,
        "priced": claimed.to_json(),
        "other_reading": {
            "monthly_total": other_reading.monthly_total,
            "unpriced": len(other_reading.unpriced),
        },
        "context_not_in_total": (
            None
            if context is None
            else {"class": "db.r6i.xlarge", "nearest": context[0], **context[1].to_json()}
        ),
        "suggested_alternative": _suggested().to_json(),
    }


def _table(lines: Sequence[CostLine]) -> list[str]:
    out = ["| Component | Count | USD each | Monthly USD | Basis |", "|---|---:|---:|---:|---|"]
    for row in rows(lines):
        out.append(
            f"| {row.component} | {row.count} | {_money(row.monthly_each)} "
            f"| {_money(row.monthly)} | {row.basis} |"
        )
    return out


def markdown() -> str:
    """The report as markdown (for README)."""
    claimed = price(topology())
    other = price(topology(multi_az_pair=False))
    context = _context(claimed, "db.r6i.xlarge")
    gap = claimed.monthly_total - CLAIMED_MONTHLY_USD
    out = [
        f"## The source README's topology, priced "
        f"({REGION}, {HOURS_PER_MONTH} h/month, on-demand list prices)",
        "",
        f"Claimed: **${CLAIMED_MONTHLY_USD:,.0f}/month** for {CLAIM}.",
        "",
        f"Interpretation: {INTERPRETATION}",
        "",
        *_table(claimed.lines),
        "",
        f"**Priced total: ${claimed.monthly_total:,.2f}/month**, {'above' if gap >= 0 else 'below'} "
        f"the claimed ${CLAIMED_MONTHLY_USD:,.0f} by ${abs(gap):,.2f}, without the unpriced lines below.",
        "",
        "Unpriced (not in the total):",
        "",
        *_table(claimed.unpriced),
        "",
    ]
    if context is not None:
        nearest, line = context
        out += [
            "> **Context only, not added to the total:** db.r6i.xlarge has no RDS price in the table; "
            f"the nearest priced class of the same family and size, {nearest}, would cost "
            f"${line.monthly or 0:,.2f}/month "
            f"({line.basis}). With it as a stand-in the topology would come to "
            f"${claimed.monthly_total + (line.monthly or 0):,.2f}/month.",
            "",
        ]
    same = "equals" if other.monthly_total == claimed.monthly_total else "differs from"
    out += [
        "Other reading of `db.r6i.xlarge × 2` (two Single-AZ instances, each with its own 500 GB io1 "
        f"at 20k IOPS): priced total ${other.monthly_total:,.2f}/month, "
        f"{len(other.unpriced)} unpriced lines; it {same} the Multi-AZ reading "
        "(the table has no Multi-AZ io1 rows, so Multi-AZ io1 is 2 × Single-AZ).",
        "",
    ]
    iops = sum(line.monthly or 0.0 for line in claimed.lines if line.item == "iops")
    if iops:
        verdict = "more than" if iops > CLAIMED_MONTHLY_USD else "a large share of"
        out += [
            f"Where the figure goes wrong: provisioned io1 IOPS alone cost ${iops:,.2f}/month, {verdict} the "
            f"whole claimed ${CLAIMED_MONTHLY_USD:,.0f}.",
            "",
        ]
    suggested = _suggested()
    out += [
        "### For comparison: the README's own suggestion (Graviton + gp3), same sizes and IOPS",
        "",
        "db.r6g.xlarge Multi-AZ with 500 GB gp3 at 20k IOPS (12,000 included at ≥ 400 GiB), "
        "cache.r6g.xlarge × 6, r7g.2xlarge × 5, r7g.xlarge × 3:",
        "",
        *_table(suggested.lines),
        "",
        f"**Priced total: ${suggested.monthly_total:,.2f}/month**, without the unpriced lines below.",
    ]
    if suggested.unpriced:
        out += ["", "Unpriced (not in the total):", "", *_table(suggested.unpriced)]
    out += ["", "Prices: `cost/prices.csv` (each row names its source and date); rules: `cost/rules.py`."]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m cost.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = parser.parse_args(argv)
    if args.format == "json":
        json.dump(report(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
