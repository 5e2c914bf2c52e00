"""What a complete price table holds: the regions a stack may use and, in each of them, every row
the pricing rules look up.

* every fixed row the rules use (``cost.rules.PRICE_KEYS``) exists in every covered region;
* instance classes are the same set in every covered region: an RDS class has its Single-AZ and
  Multi-AZ rows, an ElastiCache node type its Valkey and Redis OSS rows, an EC2 type its row.

``python -m cost.build_prices`` refuses to write a table that breaks either rule. Other regions
may have rows (eu-west-1 has some) but are not complete, and a stack there prices as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cost.rules import PRICE_KEYS
from cost.rules.elasticache import ENGINES

COVERED_REGIONS = ("us-east-1", "us-west-2")
"""Regions with a complete table (the primary and the DR region of the stacks)."""

_CLASS = re.compile(r"^(rds:postgres|ec2:instance|elasticache:node):([^:]+)(?::(.+))?$")
_VARIANTS = {
    "rds:postgres": ("single-az", "multi-az"),
    "elasticache:node": tuple(ENGINES),
    "ec2:instance": (None,),
}


def classes(keys: Iterable[str]) -> dict[str, set[str]]:
    """Class rows by kind (``rds:postgres``, ``ec2:instance``, ``elasticache:node``): the classes named."""
    found: dict[str, set[str]] = {kind: set() for kind in _VARIANTS}
    for key in keys:
        match = _CLASS.match(key)
        if match:
            found[match.group(1)].add(match.group(2))
    return found


def problems(rows: Iterable[tuple[str, str]]) -> list[str]:
    """Everything a table of ``(key, region)`` rows lacks to be complete; empty when complete."""
    by_region: dict[str, set[str]] = {region: set() for region in COVERED_REGIONS}
    for key, region in rows:
        if region in by_region:
            by_region[region].add(key)
    out: list[str] = []
    union: dict[str, set[str]] = {kind: set() for kind in _VARIANTS}
    for keys in by_region.values():
        for kind, names in classes(keys).items():
            union[kind] |= names
    for region, keys in by_region.items():
        out += [f"{region}: no row {key}" for key in PRICE_KEYS if key not in keys]
        for kind, names in union.items():
            for name in sorted(names):
                for variant in _VARIANTS[kind]:
                    key = f"{kind}:{name}" + (f":{variant}" if variant else "")
                    if key not in keys:
                        out.append(f"{region}: no row {key} (priced in another covered region or AZ mode)")
    return out
