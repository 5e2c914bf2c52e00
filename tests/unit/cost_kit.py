"""Helpers of the cost tests: recorded resources in the review's shape, and the shipped price rows
read with the csv module (not through the model), so an expected figure never comes from the code
under test."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any

from cost.model import CostLine, CostReport

H = 730
DAYS = 730 / 24


def _rows() -> dict[tuple[str, str], dict[str, str]]:
    text = resources.files("cost").joinpath("prices.csv").read_text(encoding="utf-8")
    return {(r["key"], r["region"]): r for r in csv.DictReader(text.splitlines())}


ROWS = _rows()


def row(key: str, region: str = "us-east-1") -> float:
    """The ``usd`` of the shipped row ``key`` in ``region`` (KeyError when there is none)."""
    return float(ROWS[(key, region)]["usd"])


def stack_prefix(stack: str = "production") -> str:
    return f"urn:pulumi:{stack}::data-platform::"


def component(token: str, name: str, *, stack: str = "production", parent: str | None = None) -> dict[str, Any]:
    return {"urn": f"{stack_prefix(stack)}{token}::{name}", "type": token, "name": name, "custom": False,
            "parent": parent, "inputs": {}, "dependencies": []}


def resource(type_: str, name: str, inputs: dict[str, Any] | None = None, *, parent: dict[str, Any] | None = None,
             deps: list[str] | None = None, stack: str = "production") -> dict[str, Any]:
    qualified = f"{parent['type']}${type_}" if parent else type_
    return {"urn": f"{stack_prefix(stack)}{qualified}::{name}", "type": type_, "name": name, "custom": True,
            "parent": parent["urn"] if parent else None, "inputs": inputs or {}, "protect": False,
            "provider": None, "dependencies": deps or []}


def only(report: CostReport, name: str, item: str | None = None, *, priced: bool = True) -> CostLine:
    """The one line of resource ``name`` (and ``item``)."""
    pool = report.lines if priced else report.unpriced
    found = [line for line in pool if line.urn.endswith(f"::{name}") and (item is None or line.item == item)]
    assert len(found) == 1, (name, item, [(x.item, x.basis) for x in report.lines + report.unpriced])
    return found[0]


def check_line(report: CostReport, name: str, item: str, key: str, quantity: float, region: str = "us-east-1") -> None:
    """The line is ``quantity`` × the table row ``key`` in ``region``, and its basis shows that row's price."""
    line = only(report, name, item)
    price = ROWS[(key, region)]
    assert line.monthly == round(quantity * float(price["usd"]), 2), (line.monthly, quantity, price["usd"], line.basis)
    assert price["usd"] in line.basis, (price["usd"], line.basis)
