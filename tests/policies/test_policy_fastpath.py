"""The pack's fast path (policies/_fastpath.py) changes timing only: the same stacks give the same
violations with it switched off (DATA_PLATFORM_POLICY_NO_CACHE=1)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import policy_fixtures as fx
import pytest

from review.analyzer import PolicyAnalyzer

P = fx.production_like()


def everything_wrong() -> list[dict]:
    """Production with many protections removed at once (violations of most policies)."""
    rs = P
    for name, path, value, type_ in [
        ("pg-primary", "storageEncrypted", False, None), ("pg-primary", "multiAz", False, None),
        ("pg-dr-replica", "kmsKeyId", fx.KEY_MAIN, None), ("redis", "transitEncryptionEnabled", False,
                                                            "aws:elasticache/replicationGroup:ReplicationGroup"),
        ("redis-sg", "ingress.0.cidrBlocks", ["0.0.0.0/0"], None), ("vpc", "tags", fx._DELETE, None),
        ("eks", "vpcConfig.endpointPublicAccess", True, "aws:eks/cluster:Cluster"),
        ("eks-nodes", "metadataOptions.httpTokens", "optional", None),
        ("data-key", "enableKeyRotation", False, None), ("alarms", "kmsMasterKeyId", fx._DELETE, "aws:sns/topic:Topic"),
    ]:
        rs = fx.set_input(rs, name, path, value, type_)
    rs = fx.pod_as_root(rs)
    rs = fx.without(rs, lambda r: r["name"] in {"graph-backups-pab", "vector-backups-versioning", "vpc-flow-log",
                                                  "qdrant-pdb", "pg-backups-dr"})
    return rs


@pytest.fixture(scope="module")
def slow_analyzer() -> Iterator[PolicyAnalyzer]:
    env = dict(os.environ, DATA_PLATFORM_POLICY_NO_CACHE="1")
    with PolicyAnalyzer(env=env) as pa:
        yield pa


@pytest.mark.parametrize("stack", ["production", "local", "everything-wrong", *[p[0] for p in fx.PROTECTIONS_REMOVED]])
def test_same_verdicts_without_fast_path(pa: PolicyAnalyzer, slow_analyzer: PolicyAnalyzer, stack: str) -> None:
    mutators = {p[0]: p[1] for p in fx.PROTECTIONS_REMOVED}
    resources = {"production": lambda: P, "local": fx.local_like, "everything-wrong": everything_wrong}.get(
        stack, lambda: mutators[stack](P))()
    slow_analyzer.configure({}, common=fx.COMMON)
    fast = pa.analyze_all(resources)
    slow = slow_analyzer.analyze_all(resources)
    assert fast == slow
    if stack == "everything-wrong":
        assert len({v.policy for v in fast}) >= 15


def _best(pa: PolicyAnalyzer, resources: list[dict], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        pa.analyze_all(resources)
        best = min(best, time.perf_counter() - t0)
    return best


def test_fast_path_is_at_least_twice_as_fast(pa: PolicyAnalyzer, slow_analyzer: PolicyAnalyzer) -> None:
    """Measured side by side under the same machine load (~3x on the reference machine)."""
    resources = [*P, *[dict(r, urn=r["urn"] + "-w") for r in everything_wrong()], *fx.local_like()]
    slow_analyzer.configure({}, common=fx.COMMON)
    fast, slow = _best(pa, resources), _best(slow_analyzer, resources)
    print(f"\n{len(resources)} resources: fast path {fast:.3f}s, without {slow:.3f}s")
    assert fast < slow / 2
