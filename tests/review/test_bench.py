"""review.bench: the synthetic scaling config and the linear fit it reports (the timing runs
themselves are `make bench`, not a test)."""

from __future__ import annotations

import json

import pytest

from review.bench import SCALED, _fit, main, scaled_overrides

NS = "data-platform"


def test_scaled_overrides_multiply_members_keep_other_keys_and_cap() -> None:
    config = {f"{NS}:redis": json.dumps({"shards": 3, "nodeType": "cache.r6g.large"}),
              f"{NS}:vector": json.dumps({"peers": 3, "replicationFactor": 2}),
              f"{NS}:postgres": json.dumps({"readReplicas": 1, "multiAz": True})}
    x10 = scaled_overrides(config, 10)
    assert x10[f"{NS}:redis"] == {"shards": 30, "nodeType": "cache.r6g.large"}
    assert x10[f"{NS}:vector"] == {"peers": 30, "replicationFactor": 2}
    assert x10[f"{NS}:postgres"] == {"readReplicas": 5, "multiAz": True}  # capped at the settings' maximum
    assert x10[f"{NS}:graph"] == {"secondaries": 20}  # default 2 × 10
    assert scaled_overrides(config, 1000)[f"{NS}:redis"]["shards"] == SCALED["redis"]["shards"]
    # ×1 is the stack as configured; 0 members grow to factor - 1
    zero = {f"{NS}:postgres": '{"readReplicas": 0}'}
    assert scaled_overrides(zero, 1)[f"{NS}:postgres"]["readReplicas"] == 0
    assert scaled_overrides(zero, 3)[f"{NS}:postgres"]["readReplicas"] == 2
    assert scaled_overrides(config, 1)[f"{NS}:redis"] == {"shards": 3, "nodeType": "cache.r6g.large"}


def test_fit_is_least_squares() -> None:
    a, b, r2 = _fit([100, 200, 400], [0.3, 0.5, 0.9])
    assert (a, b, r2) == (pytest.approx(0.1), pytest.approx(0.002), pytest.approx(1.0))
    _, _, r2_noisy = _fit([100, 200, 400], [0.3, 0.9, 0.5])
    assert r2_noisy < 0.5


def test_bench_scaling_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-e2e", "--stack", "dev", "--scales", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "scaling (dev" in out
    assert "program_s" in out and "policies_s" in out and "r²" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2"]
