"""The price table: built from files inside the repository, every row with its source, complete for
the covered regions. Each invariant has a test of the test that plants the defect."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pytest
import yaml

from cost import build_prices, classes, coverage
from cost.prices import load_prices

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = resources.files("cost").joinpath("prices.csv").read_text(encoding="utf-8")


def _source_rows() -> list[dict[str, str]]:
    return build_prices.read_sources()


# -- built from the repository's own files --------------------------------------------------------


def sources_outside_the_repo(paths: tuple[Path, ...]) -> list[Path]:
    """Source files that are not inside the repository (a fresh clone would not have them)."""
    return [p for p in paths if not p.resolve().is_relative_to(ROOT)]


def test_sources_are_inside_the_repository_and_rebuild_the_shipped_table() -> None:
    assert sources_outside_the_repo(build_prices.DEFAULT_SOURCES) == []
    assert all(p.is_file() for p in build_prices.DEFAULT_SOURCES)
    assert build_prices.build() == SHIPPED, "cost/prices.csv is stale: run python -m cost.build_prices"
    assert build_prices.main(["--check"]) == 0


def test_of_the_test_a_source_outside_the_repository_is_caught() -> None:
    outside = ROOT.parent / "shared" / "pricing" / "aws-on-demand.csv"
    assert sources_outside_the_repo((*build_prices.DEFAULT_SOURCES, outside)) == [outside]


def test_of_the_test_a_changed_source_row_makes_the_table_stale(tmp_path: Path) -> None:
    copies = []
    for source in build_prices.DEFAULT_SOURCES:
        text = source.read_text(encoding="utf-8")
        if source.name == "aws-pricing-pages.csv":
            text = text.replace("Public IPv4 address hour,us-east-1,USD/hour,0.005,",
                                "Public IPv4 address hour,us-east-1,USD/hour,0.006,", 1)
        copy = tmp_path / source.name
        copy.write_text(text, encoding="utf-8")
        copies.append(copy)
    assert build_prices.build(tuple(copies)) != SHIPPED
    assert build_prices.main(["--check", *(f"--source={c}" for c in copies)]) == 1


def test_shipped_rows_keep_their_source_columns_and_gain_a_key() -> None:
    rows = list(csv.DictReader(io.StringIO(SHIPPED)))
    assert list(rows[0]) == [*build_prices.COLUMNS, "key"]
    assert len(load_prices()) == len(rows) == len(_source_rows())
    assert load_prices() is load_prices()  # loaded once per process
    for row in rows:
        assert row["source"].strip() and row["as_of"].strip(), row


def test_hand_entered_rows_say_so_and_name_the_aws_page() -> None:
    for row in csv.DictReader(io.StringIO(Path(build_prices.SOURCES_DIR / "aws-pricing-pages.csv").read_text())):
        assert row["source"].startswith('AWS pricing page "'), row
        assert "entered by hand" in row["source"] and "not read from a stored copy" in row["source"], row


def test_of_the_test_a_row_without_a_source_stops_the_build() -> None:
    rows = _source_rows()
    rows[0] = {**rows[0], "source": " "}
    with pytest.raises(build_prices.BuildError, match=r"aws-on-demand.csv:2: empty source"):
        build_prices.build_rows(rows)


def test_a_row_without_a_key_rule_or_a_repeated_row_stops_the_build() -> None:
    rows = _source_rows()
    with pytest.raises(build_prices.BuildError, match="no key rule for service 'EC2' item 'mystery'"):
        build_prices.build_rows([*rows, {**rows[0], "item": "mystery", "__where": "x.csv:9"}])
    with pytest.raises(build_prices.BuildError, match=r"x.csv:9: key ec2:instance:t3.medium in us-east-1 repeats "
                                                      r"aws-on-demand.csv:2"):
        build_prices.build_rows([*rows, {**rows[0], "__where": "x.csv:9"}])


# -- complete for the covered regions ------------------------------------------------------------


def test_the_table_is_complete_for_the_covered_regions() -> None:
    table = load_prices()
    assert coverage.problems((p.key, p.region) for p in table) == []
    assert set(coverage.COVERED_REGIONS) == {"us-east-1", "us-west-2"}
    for region in coverage.COVERED_REGIONS:
        found = coverage.classes(p.key for p in table if p.region == region)
        assert len(found["rds:postgres"]) >= 40 and len(found["ec2:instance"]) >= 40
        assert len(found["elasticache:node"]) >= 13


def test_of_the_test_a_missing_fixed_row_is_caught() -> None:
    keys = [(p.key, p.region) for p in load_prices() if (p.key, p.region) != ("vpc:endpoint:hour", "us-west-2")]
    assert coverage.problems(keys) == ["us-west-2: no row vpc:endpoint:hour"]


def test_of_the_test_a_class_priced_in_one_region_or_az_mode_only_is_caught() -> None:
    keys = [(p.key, p.region) for p in load_prices()]
    keys.append(("rds:postgres:db.r8g.large:single-az", "us-east-1"))
    found = coverage.problems(keys)
    why = "(priced in another covered region or AZ mode)"
    assert f"us-east-1: no row rds:postgres:db.r8g.large:multi-az {why}" in found
    assert f"us-west-2: no row rds:postgres:db.r8g.large:single-az {why}" in found


def test_of_the_test_the_build_refuses_an_incomplete_table() -> None:
    rows = [r for r in _source_rows() if not (r["item"] == "NAT gateway hour" and r["region"] == "us-west-2")]
    with pytest.raises(build_prices.BuildError, match="us-west-2: no row vpc:nat:hour"):
        build_prices.build_rows(rows)


def unpriced_stack_classes(stack_file: Path, regions: tuple[str, ...]) -> list[str]:
    """Classes a stack file sets that lack a row in one of ``regions`` (RDS in both AZ modes)."""
    config = yaml.safe_load(stack_file.read_text())["config"]
    wanted: list[tuple[classes.Kind, str, str | None]] = []
    for key, value in (config.get("data-platform:postgres") or {}).items():
        if key.endswith("nstanceClass"):
            wanted.append((classes.RDS, value, None))
    redis = config.get("data-platform:redis") or {}
    if "nodeType" in redis:
        wanted.append((classes.ELASTICACHE, redis["nodeType"], redis.get("engine", "valkey")))
    for section, keys in (("graph", ("instanceType", "secondaryInstanceType")), ("vector", ("instanceType",)),
                          ("eks", ("systemInstanceType",))):
        wanted += [(classes.EC2, v, None) for k in keys if (v := (config.get(f"data-platform:{section}") or {}).get(k))]
    return [cls for kind, cls, variant in wanted if classes.unpriced(kind, cls, regions, variant) is not None]


@pytest.mark.parametrize("stack", ["production", "dev"])
def test_the_stacks_classes_are_priced_in_both_covered_regions(stack: str) -> None:
    """What the stack files use is priced where it may run, the DR region included."""
    assert unpriced_stack_classes(ROOT / f"Pulumi.{stack}.yaml", coverage.COVERED_REGIONS) == []


def test_of_the_test_an_unpriced_class_in_a_stack_file_is_caught(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["data-platform:vector"]["instanceType"] = "r8g.large"
    planted = tmp_path / "Pulumi.planted.yaml"
    planted.write_text(yaml.safe_dump(doc))
    assert unpriced_stack_classes(planted, coverage.COVERED_REGIONS) == ["r8g.large"]
