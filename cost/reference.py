"""Price seed 001's claimed topology with the same model as the stacks.

    python -m cost.reference [--format markdown|json]

Seed 001's README prices its data tier at $3,530/month in us-east-1 for: db.r6i.xlarge × 2 with
500 GB io1 at 20k IOPS, cache.r6g.xlarge × 6, r6i.2xlarge × 5, r6i.xlarge × 3. This module builds
those resources in the review's contract shape, calls :func:`cost.model.estimate` on them (no usage:
the claim states none) and prints the lines. What the claim does not state (the EC2 servers'
disks) stays unpriced, so the seed's total is a lower bound: "unknown" is never zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cost.model import CostLine, CostReport, estimate
from cost.prices import HOURS_PER_MONTH
from cost.usage import ASSUMPTIONS

CLAIMED_MONTHLY_USD = 3530.0
"""The figure seed 001's README states."""

REGION = "us-east-1"
"""The region the seed prices in."""

CLAIM = "db.r6i.xlarge × 2 with 500 GB io1 at 20k IOPS, cache.r6g.xlarge × 6, r6i.2xlarge × 5, r6i.xlarge × 3"
"""The topology as the seed states it."""

INTERPRETATION = (
    "`db.r6i.xlarge × 2` is read as one Multi-AZ DB instance (primary + synchronous standby, the seeds' "
    "'primary with synchronous standby'), so Multi-AZ doubles instance, storage and IOPS. "
    "`cache.r6g.xlarge × 6` is one Redis OSS replication group of 3 shards × (1 primary + 1 replica). "
    "`r6i.2xlarge × 5` are the Neo4j servers (3 primaries + 2 secondaries) and `r6i.xlarge × 3` the "
    "Qdrant peers, each an EC2 Linux on-demand instance. The seed states no disks for them, so their "
    "volumes are unpriced, and it states no network, keys, backups, DR or monitoring."
)

NO_USAGE = {a.key: 0.0 for a in ASSUMPTIONS}
"""The claim states no usage: every usage assumption is zero."""

_PROJECT = "seed-readme"
_STACK = "reference"


def _urn(type_path: str, name: str) -> str:
    return f"urn:pulumi:{_STACK}::{_PROJECT}::{type_path}::{name}"


def _component(token: str, name: str) -> dict[str, Any]:
    return {"urn": _urn(token, name), "type": token, "name": name, "custom": False, "parent": None, "inputs": {}}


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
    db = {"instanceClass": db_class, "engine": "postgres", "allocatedStorage": 500, "storageType": storage_type,
          "iops": 20000}
    if multi_az_pair:
        databases = [_child(postgres, "aws:rds/instance:Instance", "pg", {**db, "multiAz": True})]
    else:
        databases = [
            _child(postgres, "aws:rds/instance:Instance", f"pg-{i}", {**db, "multiAz": False}) for i in (1, 2)
        ]
    cache = _child(redis, "aws:elasticache/replicationGroup:ReplicationGroup", "redis",
                   {"nodeType": "cache.r6g.xlarge", "engine": "redis", "numNodeGroups": 3, "replicasPerNodeGroup": 1})
    servers = [_child(graph, "aws:ec2/instance:Instance", f"neo4j-{i}", {"instanceType": graph_type})
               for i in range(1, 6)]
    peers = [_child(vector, "aws:ec2/instance:Instance", f"qdrant-{i}", {"instanceType": vector_type})
             for i in range(1, 4)]
    return [postgres, redis, graph, vector, *databases, cache, *servers, *peers]


def price(resources: Sequence[dict[str, Any]]) -> CostReport:
    """Estimate ``resources`` in us-east-1 with every usage assumption at zero (the claim has none)."""
    return estimate(resources, region=REGION, usage=NO_USAGE)


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
        key = ((line.component or "").rsplit("::", 1)[-1], line.basis, line.monthly)
        grouped[key] = grouped.get(key, 0) + 1
    return [Row(name, count, monthly, basis) for (name, basis, monthly), count in grouped.items()]


def _money(value: float | None) -> str:
    return "unpriced" if value is None else f"{value:,.2f}"


def _table(lines: Sequence[CostLine]) -> list[str]:
    out = ["| Component | Count | USD each | Monthly USD | Basis |", "|---|---:|---:|---:|---|"]
    out += [f"| {r.component} | {r.count} | {_money(r.monthly_each)} | {_money(r.monthly)} | {r.basis} |"
            for r in rows(lines)]
    return out


def _suggested() -> CostReport:
    return price(topology(db_class="db.r6g.xlarge", storage_type="gp3", graph_type="r7g.2xlarge",
                          vector_type="r7g.xlarge"))


def report() -> dict[str, Any]:
    """Everything the markdown shows, as data."""
    claimed = price(topology())
    other_reading = price(topology(multi_az_pair=False))
    return {
        "claim": CLAIM,
        "claimed_monthly_usd": CLAIMED_MONTHLY_USD,
        "region": REGION,
        "hours_per_month": HOURS_PER_MONTH,
        "interpretation": INTERPRETATION,
        "priced": claimed.to_json(),
        "other_reading": {"monthly_total": other_reading.monthly_total, "unpriced": len(other_reading.unpriced)},
        "suggested_alternative": _suggested().to_json(),
    }


def markdown() -> str:
    """The report as markdown (for README)."""
    claimed = price(topology())
    other = price(topology(multi_az_pair=False))
    gap = claimed.monthly_total - CLAIMED_MONTHLY_USD
    known = "unknown" if claimed.unpriced else "priced"
    out = [
        f"## Seed 001's topology, priced ({REGION}, {HOURS_PER_MONTH} h/month, on-demand list prices)",
        "",
        f"Claimed: **${CLAIMED_MONTHLY_USD:,.0f}/month** for {CLAIM}.",
        "",
        f"Interpretation: {INTERPRETATION}",
        "",
        *_table(claimed.lines),
        "",
        f"**Priced: ${claimed.monthly_total:,.2f}/month** ({known}: {len(claimed.unpriced)} line(s) the claim gives "
        f"no basis for), {'above' if gap >= 0 else 'below'} the claimed ${CLAIMED_MONTHLY_USD:,.0f} by "
        f"${abs(gap):,.2f} before them.",
    ]
    if claimed.unpriced:
        out += ["", "Unpriced (the claim states nothing to price them from):", "", *_table(claimed.unpriced)]
    iops = sum(line.monthly or 0.0 for line in claimed.lines if line.item == "iops")
    out += [
        "",
        "Other reading of `db.r6i.xlarge × 2` (two Single-AZ instances, each with its own 500 GB io1 at 20k "
        f"IOPS): ${other.monthly_total:,.2f}/month priced, {len(other.unpriced)} unpriced line(s).",
        "",
        f"Where the figure goes wrong: provisioned io1 IOPS alone cost ${iops:,.2f}/month, "
        f"{'more than' if iops > CLAIMED_MONTHLY_USD else 'a large share of'} the whole claim.",
    ]
    suggested = _suggested()
    out += [
        "",
        "### The seed's own suggestion (Graviton + gp3), same sizes and IOPS",
        "",
        "db.r6g.xlarge Multi-AZ with 500 GB gp3 at 20k IOPS (12,000 included at ≥ 400 GiB), cache.r6g.xlarge "
        "× 6, r7g.2xlarge × 5, r7g.xlarge × 3:",
        "",
        *_table(suggested.lines),
        "",
        f"**Priced: ${suggested.monthly_total:,.2f}/month** ({len(suggested.unpriced)} unpriced line(s)).",
        "",
        "Prices: `cost/prices.csv` (each row names its source and date); rules: `cost/rules/`.",
    ]
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
