"""Which instance classes and node types have a price, and the nearest priced ones to a class that
has none. The price table is the one list of allowed classes: a stack may use a class only where
the table prices it (``infra.settings`` asks :func:`unpriced` before any resource is registered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cost.coverage import COVERED_REGIONS
from cost.prices import PriceTable, load_prices
from cost.rules.compute import INSTANCE_KEY
from cost.rules.elasticache import ENGINES, NODE_KEY
from cost.rules.rds import CLASS_KEY


@dataclass(frozen=True)
class Kind:
    """One kind of class: how its rows are keyed and how to name it in a message."""

    name: str
    """``rds``, ``elasticache`` or ``ec2``."""
    label: str
    """What the class is, for a message: ``a PostgreSQL DB instance class``."""
    prefix: str
    """Class prefix (``db.``, ``cache.``, empty for EC2)."""

    def keys(self, cls: str, variant: str | None) -> tuple[str, ...]:
        """The rows a class needs for ``variant`` (RDS: the AZ mode, ``single-az`` or ``multi-az``,
        both when None; ElastiCache: the engine)."""
        if self.name == "rds":
            modes = (variant,) if variant else ("single-az", "multi-az")
            return tuple(CLASS_KEY.format(cls=cls, az=az) for az in modes)
        if self.name == "elasticache":
            return (NODE_KEY.format(node=cls, engine=variant or "valkey"),)
        return (INSTANCE_KEY.format(type=cls),)


RDS = Kind("rds", "a PostgreSQL DB instance class", "db.")
ELASTICACHE = Kind("elasticache", "an ElastiCache node type", "cache.")
EC2 = Kind("ec2", "an EC2 instance type", "")

_AZ = {"single-az": "Single-AZ", "multi-az": "Multi-AZ"}
_SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", *(f"{n}xlarge" for n in (2, 4, 8, 12, 16, 24, 32)))
_PARTS = re.compile(r"^(?:db\.|cache\.)?(?P<letter>[a-z]+?)(?P<gen>\d+)(?P<attrs>[a-z-]*)\.(?P<size>\w+)$")


def priced(kind: Kind, region: str, variant: str | None = None, table: PriceTable | None = None) -> list[str]:
    """Classes of ``kind`` with every row they need in ``region``."""
    table = table or load_prices()
    names = {_class_of(kind, p.key) for p in table if p.region == region}
    return sorted(c for c in names if c and all(table.get(k, region) for k in kind.keys(c, variant)))


def _class_of(kind: Kind, key: str) -> str | None:
    parts = key.split(":")
    if kind.name == "rds" and key.startswith("rds:postgres:"):
        return parts[2]
    if kind.name == "elasticache" and key.startswith("elasticache:node:"):
        return parts[2]
    if kind.name == "ec2" and key.startswith("ec2:instance:"):
        return parts[2]
    return None


def _rank(size: str) -> int:
    return _SIZES.index(size) if size in _SIZES else len(_SIZES)


def nearest(kind: Kind, cls: str, candidates: list[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``candidates`` closest to ``cls``: same family first, then same family letter
    (r, m, t...), then the nearest size and generation, the smaller size on a tie."""
    want = _PARTS.match(cls)

    def distance(other: str) -> tuple[int, int, int, int, str]:
        got = _PARTS.match(other)
        if want is None or got is None:
            return (3, 0, 0, 0, other)
        family = 0 if (got["letter"], got["gen"], got["attrs"]) == (want["letter"], want["gen"], want["attrs"]) \
            else 1 if got["letter"] == want["letter"] else 2
        size = _rank(got["size"])
        return (family, abs(size - _rank(want["size"])), abs(int(got["gen"]) - int(want["gen"])), size, other)

    return sorted(candidates, key=distance)[:n]


def unpriced(kind: Kind, cls: str, regions: tuple[str, ...], variant: str | None = None,
             table: PriceTable | None = None) -> str | None:
    """None when ``cls`` is priced in every region of ``regions``; else what is allowed instead
    (the "allowed" part of a one-line config error)."""
    table = table or load_prices()
    for region in regions:
        if all(table.get(k, region) for k in kind.keys(cls, variant)):
            continue
        candidates = priced(kind, region, variant, table)
        engine = f" for {ENGINES[variant]}" if variant in ENGINES else f" ({_AZ[variant]})" if variant in _AZ else ""
        if not candidates:
            return (f"{kind.label}{engine} with a price in {region}; the price table is complete for "
                    f"{', '.join(COVERED_REGIONS)} only")
        return (f"{kind.label}{engine} with an on-demand price in {region} (cost/prices.csv); "
                f"nearest priced: {', '.join(nearest(kind, cls, candidates))}")
    return None
