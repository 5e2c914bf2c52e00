"""The pack as the CLI sees it: GetAnalyzerInfo, Configure (levels, properties), ConfigureStack,
start and stop, repeated analysis."""

from __future__ import annotations

import policy_fixtures as fx
import pytest

from policies._base import REGISTRY
from policies.catalog import load
from review.analyzer import AnalyzerError, PolicyAnalyzer

load()
P = fx.production_like()


def test_info_lists_every_policy_with_description_and_level(pa: PolicyAnalyzer) -> None:
    info = pa.info()
    assert info.name == "data-platform"
    by_name = {p.name: p for p in info.policies}
    assert set(by_name) == {p.meta.name for p in REGISTRY}
    for reg in REGISTRY:
        p = by_name[reg.meta.name]
        assert p.description == reg.meta.description
        assert p.level == reg.meta.level
        assert p.kind == reg.meta.kind
        assert p.remediation == reg.meta.remediation
    assert by_name["rds-storage-encrypted"].level == "mandatory"
    assert by_name["rds-multi-az"].level == "advisory"
    assert by_name["required-tags"].config_properties["requiredTags"]["default"] == ["team", "environment",
                                                                                     "cost-center"]
    assert by_name["monthly-budget"].kind == "stack"


def _only(pa: PolicyAnalyzer, resources: list, policy: str) -> list:
    return [v for v in pa.analyze_all(resources) if v.policy == policy]


def test_enforcement_level_override(pa: PolicyAnalyzer) -> None:
    rs = fx.set_input(fx.set_input(P, "pg-primary", "multiAz", False), "pg-primary", "storageEncrypted", False)
    pa.configure({"rds-multi-az": "mandatory", "rds-storage-encrypted": {"enforcementLevel": "advisory"}},
                 common=fx.COMMON)
    assert {v.level for v in _only(pa, rs, "rds-multi-az")} == {"mandatory"}
    assert {v.level for v in _only(pa, rs, "rds-storage-encrypted")} == {"advisory"}
    assert pa.levels["rds-deletion-protection"] == "advisory"  # untouched policies keep their default


def test_disabled_policy_reports_nothing(pa: PolicyAnalyzer) -> None:
    rs = fx.unencrypted_primary(P)
    pa.configure({"rds-storage-encrypted": "disabled"}, common=fx.COMMON)
    assert _only(pa, rs, "rds-storage-encrypted") == []


def test_all_level(pa: PolicyAnalyzer) -> None:
    rs = fx.set_input(P, "pg-primary", "multiAz", False)
    pa.configure({"all": "mandatory"}, common=fx.COMMON)
    assert {v.level for v in _only(pa, rs, "rds-multi-az")} == {"mandatory"}


def test_required_tags_from_config(pa: PolicyAnalyzer) -> None:
    rs = [fx.find(P, "pg-primary")]
    pa.configure({"required-tags": {"requiredTags": ["team", "owner", "data-classification"]}},
                 common=fx.COMMON)
    found = _only(pa, rs, "required-tags")
    assert len(found) == 1 and "tags lacks owner, data-classification" in found[0].message
    pa.configure({"required-tags": {"requiredTags": ["team"]}}, common=fx.COMMON)
    assert _only(pa, rs, "required-tags") == []


def test_provider_default_tags_count(pa: PolicyAnalyzer) -> None:
    provider = fx.res("pulumi:providers:aws", "dr", {"region": "us-west-2", "defaultTags": '{"tags": {"owner": "x"}}'})
    bucket = fx.set_input([fx.find(P, "graph-backups")], "graph-backups", "tags", {"team": "data"})[0]
    bucket["provider"] = provider["urn"]
    pa.configure({"required-tags": {"requiredTags": ["team", "owner"]}}, common=fx.COMMON)
    assert _only(pa, [provider, bucket], "required-tags") == []


def test_retention_threshold_from_config(pa: PolicyAnalyzer) -> None:
    rs = [fx.find(P, "pg-primary")]  # 14 days
    pa.configure({"rds-backup-retention": {"minRetentionDays": 30}}, common=fx.COMMON)
    found = _only(pa, rs, "rds-backup-retention")
    assert found and "backupRetentionPeriod is 14" in found[0].message and "at least 30" in found[0].message


def test_allowed_public_ports(pa: PolicyAnalyzer) -> None:
    sg = fx.res("aws:ec2/securityGroup:SecurityGroup", "lb", {"ingress": [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]})
    assert _only(pa, [sg], "security-group-no-world-ingress")
    pa.configure({"security-group-no-world-ingress": {"allowedPublicPorts": [443]}}, common=fx.COMMON)
    assert _only(pa, [sg], "security-group-no-world-ingress") == []


def test_environment_from_config_and_stack_tags(pa: PolicyAnalyzer) -> None:
    cluster = fx.set_input([fx.find(P, "eks", "aws:eks/cluster:Cluster")], "eks", "vpcConfig.endpointPublicAccess",
                           True)[0]
    cluster["urn"] = fx.urn("aws:eks/cluster:Cluster", "eks", stack="staging")
    cluster["inputs"]["tags"] = fx.tags(environment="staging")
    assert _only(pa, [cluster], "eks-endpoint-private-in-production") == []
    pa.configure({}, common={**fx.COMMON, "environment": "production"})
    assert _only(pa, [cluster], "eks-endpoint-private-in-production")
    del cluster["inputs"]["tags"]["environment"]
    pa.configure({}, common=fx.COMMON)
    pa.configure_stack(stack="staging", tags={"environment": "production"})
    try:
        assert _only(pa, [cluster], "eks-endpoint-private-in-production")
    finally:
        pa.configure_stack(stack="production", tags={})


def test_unknown_policy_in_config_is_rejected(pa: PolicyAnalyzer) -> None:
    with pytest.raises(AnalyzerError, match="unknown policies in config: no-such-policy"):
        pa.configure({"no-such-policy": "mandatory"})


def test_unknown_values_during_preview_are_not_violations(pa: PolicyAnalyzer) -> None:
    """Outputs of resources not yet created arrive unknown: a key ARN that is unknown is 'set'."""
    sentinel = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    rs = fx.set_input(fx.set_input(P, "pg-primary", "kmsKeyId", sentinel), "pg-dr-replica", "kmsKeyId", "[unknown]")
    rs = fx.set_input(rs, "redis", "userGroupIds", "[unknown]", "aws:elasticache/replicationGroup:ReplicationGroup")
    assert [v for v in pa.analyze_all(rs)] == []


def test_a_fresh_pack_serves_on_its_port_and_is_gone_after_close() -> None:
    """How fast it starts is measured by ``make bench`` (review.bench), not asserted here."""
    fresh = PolicyAnalyzer()
    fresh.start()
    try:
        assert fresh.port is not None and fresh.port > 0
        assert {p.name for p in fresh.info().policies} == {p.meta.name for p in REGISTRY}
        process = fresh._proc
        assert process is not None and process.poll() is None
    finally:
        fresh.close()
    assert process.poll() is not None
    with pytest.raises(AnalyzerError, match="not running"):
        fresh.analyze_stack([])


def three_hundred() -> list[dict]:
    """300 resources: the production stack, then renamed copies of its custom resources."""
    rs = list(P) + fx.local_like()
    copy_no = 0
    while len(rs) < 300:
        copy_no += 1
        rs += [dict(r, urn=f"{r['urn']}-{copy_no}", name=f"{r['name']}-{copy_no}") for r in P if r["custom"]]
    return rs[:300]


def test_analysis_of_300_resources_keeps_the_verdicts_of_the_stack_and_repeats(pa: PolicyAnalyzer) -> None:
    """Adding renamed copies changes no verdict on the original resources, the resource policies judge a
    copy as its original, and a repeated analysis gives the same answer (how long it takes is measured
    by ``make bench``, not asserted here)."""
    rs = three_hundred()
    originals = list(P) + fx.local_like()
    assert len(rs) == 300 and len({r["urn"] for r in rs}) == 300
    alone = pa.analyze_all(originals)
    first = pa.analyze_all(rs)
    assert first == pa.analyze_all(rs)
    original_urns = {r["urn"] for r in originals}
    assert [v for v in first if v.urn in original_urns] == [v for v in alone if v.urn]
    by_urn = {r["urn"]: r for r in originals}
    for copy in rs[len(originals):]:
        original = by_urn[copy["urn"].rsplit("-", 1)[0]]
        assert [v.policy for v in pa.analyze(copy)] == [v.policy for v in pa.analyze(original)], copy["urn"]
