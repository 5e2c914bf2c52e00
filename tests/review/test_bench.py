"""review.bench: the synthetic scaling config and the linear fit it reports (the timing runs
themselves are `make bench`, not a test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from review.bench import REDIS_MAX_NODES, SCALES, _fit, floor_code, main, pack_figures, scaled_overrides

NS = "data-platform"
PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_scaled_overrides_multiply_members_keep_other_keys_and_cap() -> None:
    config = {f"{NS}:redis": json.dumps({"shards": 3, "nodeType": "cache.r6g.large"}),
              f"{NS}:vector": json.dumps({"peers": 3, "replicationFactor": 2}),
              f"{NS}:postgres": json.dumps({"readReplicas": 1, "multiAz": True})}
    x10 = scaled_overrides(config, 10)
    assert x10[f"{NS}:redis"] == {"shards": 30, "nodeType": "cache.r6g.large"}
    assert x10[f"{NS}:vector"] == {"peers": 30, "replicationFactor": 2}
    assert x10[f"{NS}:postgres"] == {"readReplicas": 5, "multiAz": True}  # capped at the settings' maximum
    assert x10[f"{NS}:graph"] == {"secondaries": 20}  # default 2 × 10
    # ElastiCache's node limit caps the shards: 500 nodes / (1 replica + the primary)
    assert scaled_overrides(config, 1000)[f"{NS}:redis"]["shards"] == REDIS_MAX_NODES // 2 == 250
    no_replica = {f"{NS}:redis": json.dumps({"shards": 3, "replicasPerShard": 0})}
    assert scaled_overrides(no_replica, 1000)[f"{NS}:redis"]["shards"] == 500
    # ×1 is the stack as configured; 0 members grow to factor - 1
    zero = {f"{NS}:postgres": '{"readReplicas": 0}'}
    assert scaled_overrides(zero, 1)[f"{NS}:postgres"]["readReplicas"] == 0
    assert scaled_overrides(zero, 3)[f"{NS}:postgres"]["readReplicas"] == 2
    assert scaled_overrides(config, 1)[f"{NS}:redis"] == {"shards": 3, "nodeType": "cache.r6g.large"}


def test_default_scales_reach_about_three_thousand_resources() -> None:
    """Production has 3 shards of 10 resources each (a replication group's 2 nodes × 5 alarms): ×80 is
    240 shards, ~2,400 resources of Redis alone; the other members are capped well before."""
    production = {f"{NS}:redis": json.dumps({"shards": 3, "replicasPerShard": 1})}
    assert max(SCALES) == 80
    assert scaled_overrides(production, max(SCALES))[f"{NS}:redis"]["shards"] == 240


def test_floor_imports_the_packages_alone_with_or_without_gc() -> None:
    code = floor_code(["pulumi_aws.ec2", "pulumi_kubernetes.core.v1"], gc_off=False)
    assert "gc" not in code and "import importlib, pulumi, grpc" in code
    assert "'pulumi_aws.ec2'" in code and "'pulumi_kubernetes.core.v1'" in code
    assert floor_code([], gc_off=True).startswith("import gc\ngc.disable()\n")
    exec(compile(floor_code(["json"], gc_off=False), "<floor>", "exec"), {})  # valid Python that imports


def test_fit_is_least_squares() -> None:
    a, b, r2 = _fit([100, 200, 400], [0.3, 0.5, 0.9])
    assert (a, b, r2) == (pytest.approx(0.1), pytest.approx(0.002), pytest.approx(1.0))
    _, _, r2_noisy = _fit([100, 200, 400], [0.3, 0.9, 0.5])
    assert r2_noisy < 0.5


def test_bench_scaling_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-e2e", "--no-pack", "--stack", "dev", "--scales", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "scaling (dev" in out
    assert "program_s" in out and "policies_s" in out and "r²" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2"]


def test_bench_pack_figures_compare_the_fast_path_with_the_same_verdicts() -> None:
    lines: list[str] = []
    figures = pack_figures(PROJECT_DIR, "dev", 1, lines.append)
    assert len(figures["starts"]) == 1 and set(figures["best"]) == {"fast path", "without it"}
    assert "same violations" in lines[-1] and "dev's" in lines[-1]
