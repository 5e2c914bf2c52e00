"""``Alarms`` under Pulumi's mock runtime: alarm count, catalogue thresholds, actions, encryption, DR region."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pulumi
import pytest

from components.alerts import alerts_by_name
from components.aws.alarms import TYPE_TOKEN, Alarms, AlarmsArgs, AlarmsError, RdsTarget, RedisTargets, alarm_specs

ACCOUNT = "111122223333"
REGION = "us-east-1"
DR_REGION = "us-west-2"
KMS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/primary"
DR_KMS = f"arn:aws:kms:{DR_REGION}:{ACCOUNT}:key/dr"


class Mocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, plus a realistic ``arn``; record every registration."""

    def __init__(self) -> None:
        self.resources: list[tuple[str, str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.resources.append((args.typ, args.name, inputs))
        region = inputs.get("region") or REGION
        service = args.typ.split(":")[1].split("/")[0]
        outputs = {**inputs, "arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{inputs.get('name', args.name)}"}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    m = Mocks()
    pulumi.runtime.set_mocks(m, preview=False)
    yield m


def _args(**kw: Any) -> AlarmsArgs:
    base: dict[str, Any] = {
        "kms_key_arn": KMS,
        "postgres_primary": RdsTarget("pg-primary", "db-primary", 500),
        "postgres_replicas": (RdsTarget("pg-replica-1", "db-replica-1", 500),),
        "postgres_dr_replica": RdsTarget("pg-dr", "db-dr", 500),
        "redis": RedisTargets("redis-prod", shards=3, replicas_per_shard=1),
        "alert_email": "oncall@example.com",
        "region": REGION, "dr_region": DR_REGION, "dr_kms_key_arn": DR_KMS,
        "name_prefix": "data-platform-production",
        "tags": {"team": "data"},
    }
    return AlarmsArgs(**{**base, **kw})


@pulumi.runtime.test
def test_alarms_match_catalogue_and_target_the_topic(mocks: Mocks) -> pulumi.Output[Any]:
    args = _args()
    alarms = Alarms("alarms", args)
    specs = {f"alarms-{s.resource_name}": s for s in alarm_specs(args)}
    catalogue = alerts_by_name()
    assert len(alarms.alarms) == len(specs) == 44

    def check(values: list[Any]) -> None:
        topic_arn, dr_topic_arn, names, *rows = values
        assert topic_arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:data-platform-production-alarms"
        assert dr_topic_arn == f"arn:aws:sns:{DR_REGION}:{ACCOUNT}:data-platform-production-alarms-dr"
        assert len(names) == 44 and len(set(names)) == 44
        for urn, threshold, actions, ok_actions, enabled, region, missing in rows:
            rname = urn.rsplit("::", 1)[1]
            spec = specs[rname]
            alert = catalogue[spec.alert.name]
            share = alert.cloudwatch is not None and alert.cloudwatch.threshold_percent_of == "max_connections"
            # a share of each target's max_connections (500 by default) is in connections
            assert threshold == (alert.threshold * 500 / 100 if share else alert.threshold), urn
            expected_topic = dr_topic_arn if spec.dr else topic_arn
            assert actions == [expected_topic] and ok_actions == [expected_topic], urn
            assert enabled is True, urn
            assert region == (DR_REGION if spec.dr else None), urn
            assert missing == spec.alert.cloudwatch.treat_missing_data, urn  # type: ignore[union-attr]

    rows = [pulumi.Output.all(a.urn, a.threshold, a.alarm_actions, a.ok_actions, a.actions_enabled, a.region,
                              a.treat_missing_data) for a in alarms.alarms.values()]
    return pulumi.Output.all(alarms.topic_arn, alarms.dr_topic_arn, alarms.alarm_names, *rows).apply(check)


@pulumi.runtime.test
def test_topics_are_encrypted_and_policies_scoped(mocks: Mocks) -> pulumi.Output[Any]:
    alarms = Alarms("alarms", _args())

    def check(_: Any) -> None:
        by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for typ, name, inputs in mocks.resources:
            by_type.setdefault(typ, []).append((name, inputs))
        topics = dict(by_type["aws:sns/topic:Topic"])
        assert topics["alarms-topic"]["kmsMasterKeyId"] == KMS
        assert topics["alarms-dr-topic"]["kmsMasterKeyId"] == DR_KMS
        assert topics["alarms-dr-topic"]["region"] == DR_REGION and "region" not in topics["alarms-topic"]
        subs = dict(by_type["aws:sns/topicSubscription:TopicSubscription"])
        assert {s["protocol"] for s in subs.values()} == {"email"}
        assert {s["endpoint"] for s in subs.values()} == {"oncall@example.com"} and len(subs) == 2
        policies = dict(by_type["aws:sns/topicPolicy:TopicPolicy"])
        doc = json.loads(policies["alarms-dr-topic-policy"]["policy"])
        cw = next(s for s in doc["Statement"] if s["Sid"] == "AllowCloudWatchAlarms")
        assert cw["Condition"]["ArnLike"]["aws:SourceArn"] == (
            f"arn:aws:cloudwatch:{DR_REGION}:{ACCOUNT}:alarm:data-platform-production-*")
        events = dict(by_type["aws:rds/eventSubscription:EventSubscription"])
        assert events["alarms-rds-events"]["sourceIds"] == ["db-primary", "db-replica-1"]
        assert events["alarms-dr-rds-events"]["sourceIds"] == ["db-dr"]
        assert events["alarms-dr-rds-events"]["region"] == DR_REGION
        assert "failover" in events["alarms-rds-events"]["eventCategories"]
        components = [n for t, n, _ in mocks.resources if t == TYPE_TOKEN]
        assert components == [] or components == ["alarms"]  # mocks may not see component registrations

    return pulumi.Output.all(alarms.topic_arn, alarms.dr_topic_arn, alarms.alarm_names).apply(check)


@pulumi.runtime.test
def test_children_are_parented(mocks: Mocks) -> pulumi.Output[Any]:
    alarms = Alarms("alarms", _args(postgres_dr_replica=None, dr_region=None, dr_kms_key_arn=None))
    assert alarms.dr_topic_arn is None
    some = next(iter(alarms.alarms.values()))

    def check(values: list[Any]) -> None:
        urn, parent_urn = values
        assert f"{TYPE_TOKEN}$aws:cloudwatch/metricAlarm:MetricAlarm::" in urn, urn
        assert parent_urn.endswith(f"{TYPE_TOKEN}::alarms")

    return pulumi.Output.all(some.urn, alarms.urn).apply(check)


@pulumi.runtime.test
def test_free_storage_uses_metric_math(mocks: Mocks) -> pulumi.Output[Any]:
    alarms = Alarms("alarms", _args())
    alarm = alarms.alarms["PostgresFreeStorageLow-pg-primary"]

    def check(queries: Sequence[Any] | None) -> None:
        assert queries is not None
        by_id = {q.id: q for q in queries}
        assert by_id["m1"].metric.metric_name == "FreeStorageSpace"
        assert by_id["m1"].metric.dimensions == {"DBInstanceIdentifier": "db-primary"}
        assert by_id["e1"].expression == f"100 * m1 / {500 * 1024 ** 3}" and by_id["e1"].return_data

    return alarm.metric_queries.apply(check)


def test_invalid_args_fail_before_children(mocks: Mocks) -> None:
    with pytest.raises(AlarmsError, match="'dr_kms_key_arn' is required"):
        Alarms("alarms", _args(dr_kms_key_arn=None))
