"""The pack's fast path (policies/_fastpath.py) changes timing only: the same stacks give the same
violations with it switched off (DATA_PLATFORM_POLICY_NO_CACHE=1). How much faster it is, is measured by
``make bench`` (review.bench), not asserted here."""

from __future__ import annotations

import os
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


def test_analyze_stack_builds_the_resources_once_for_every_stack_policy() -> None:
    """Two stack policies see one list, linked (parent, dependencies) as the SDK links it, built from
    one pass over the request: without the fast path the SDK builds it again for every policy."""
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy import EnforcementLevel, StackValidationPolicy
    from pulumi_policy import policy as sdk

    from policies._fastpath import install

    seen: list[tuple[str, list]] = []

    def keep(name: str):
        return lambda args, _report: seen.append((name, args.resources))

    policies = [StackValidationPolicy(n, n, keep(n), EnforcementLevel.ADVISORY) for n in ("first", "second")]
    servicer = sdk._PolicyAnalyzerServicer("pack", "0.0.1", install(policies, {}), EnforcementLevel.ADVISORY,
                                            None, "test pack", None, None, None, None, None)
    request = analyzer_pb2.AnalyzeStackRequest()
    for name, parent, deps in [("root", "", []), ("key", "urn:root", []), ("bucket", "urn:root", ["urn:key"])]:
        r = request.resources.add(type="aws:s3/bucket:Bucket", urn=f"urn:{name}", name=name, parent=parent,
                                  dependencies=deps)
        r.properties.update({"bucket": name})
    built = 0
    real_options = servicer._get_resource_options

    def counted(resource):
        nonlocal built
        built += 1
        return real_options(resource)

    servicer._get_resource_options = counted
    servicer.AnalyzeStack(request, None)
    assert [name for name, _ in seen] == ["first", "second"]
    assert seen[0][1] is seen[1][1]
    assert built == 3
    root, key, bucket = seen[0][1]
    assert (key.parent, bucket.parent, bucket.dependencies) == (root, root, [key])
    assert bucket.props["bucket"] == "bucket"


def _servicer(policies: list, *, installed: bool = True):
    from pulumi_policy import EnforcementLevel
    from pulumi_policy import policy as sdk

    from policies._fastpath import install

    listed = install(policies, {}) if installed else policies
    return sdk._PolicyAnalyzerServicer("pack", "0.0.1", listed, EnforcementLevel.ADVISORY,
                                       None, "test pack", None, None, None, None, None)


def _request(names: list[str]):
    from pulumi.runtime.proto import analyzer_pb2

    request = analyzer_pb2.AnalyzeStackRequest()
    for name in names:
        request.resources.add(type="aws:s3/bucket:Bucket", urn=f"urn:{name}", name=name).properties.update(
            {"bucket": name})
    return request


def test_the_stack_is_freed_when_analyze_stack_returns() -> None:
    """Nothing of the fast path holds the request's resources afterwards (no reference cycle waiting for
    the collector, which the pack runs rarely)."""
    import gc
    import weakref

    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    refs: list = []
    watch = StackValidationPolicy("watch", "watch", lambda args, _r: refs.extend(map(weakref.ref, args.resources)),
                                  EnforcementLevel.ADVISORY)
    servicer = _servicer([watch])
    was = gc.isenabled()
    gc.disable()
    try:
        servicer.AnalyzeStack(_request(["a", "b", "c"]), None)
        assert len(refs) == 3
        assert [r() for r in refs] == [None, None, None]
    finally:
        if was:
            gc.enable()


def test_a_servicer_built_without_install_runs_each_stack_policy_once() -> None:
    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    calls: list[int] = []
    count = StackValidationPolicy("count", "count", lambda args, _r: calls.append(len(args.resources)),
                                  EnforcementLevel.ADVISORY)
    from policies._fastpath import install

    install([], {})  # patches the SDK's servicer class for the process
    _servicer([count], installed=False).AnalyzeStack(_request(["a", "b"]), None)
    assert calls == [2]
