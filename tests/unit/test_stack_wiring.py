"""Whole-stack wiring that only shows between components: what one resource needs of another for
``pulumi up`` to work, read from the exact inputs the production and dev programs send."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from components.base import NAME_RE, fit_name
from review.mocks import ACCOUNT_ID, RecordedResource
from review.program import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[2]
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CLIENTS = "data-platform:aws:AppClients"
KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
EVENT_SUB = "aws:rds/eventSubscription:EventSubscription"
RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"


@pytest.fixture(scope="module", params=["production", "dev"])
def stack(request: pytest.FixtureRequest) -> ProgramRun:
    run = run_program(ROOT, request.param)
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    run = run_program(ROOT, "production")
    assert run.error is None
    return run


def _sg_ids(run: ProgramRun, parent_type: str) -> dict[str, RecordedResource]:
    """Security groups whose parent is a component of ``parent_type``, by the id the mocks gave them."""
    ids = {}
    for ingress in run.by_type(INGRESS) + run.by_type(EGRESS):
        for prop in ("securityGroupId", "referencedSecurityGroupId"):
            (urn,) = ingress.property_dependencies.get(prop, [None]) or [None]
            sg = next((r for r in run.by_type(SG) if r.urn == urn), None)
            if sg is not None and sg.parent and f"{parent_type}::" in sg.parent:
                ids[ingress.inputs[prop]] = sg
    return ids


def test_every_store_the_clients_may_reach_is_reachable_from_the_clients(stack: ProgramRun) -> None:
    """A store admitting the clients' group on a port gets that group's egress to it on that port: the
    provider removes AWS's default allow-all egress, so without it a client carrying only the group
    cannot connect anywhere."""
    clients = _sg_ids(stack, CLIENTS)
    assert clients, "no AppClients security group"
    admitted = {(r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"], int(r.inputs["fromPort"]))
                for r in stack.by_type(INGRESS) if r.inputs.get("referencedSecurityGroupId") in clients}
    egress = {(r.inputs["referencedSecurityGroupId"], r.inputs["securityGroupId"], int(r.inputs["fromPort"]))
              for r in stack.by_type(EGRESS) if r.inputs["securityGroupId"] in clients}
    assert admitted, "no store admits the clients"
    assert admitted == egress
    for r in stack.by_type(EGRESS):
        if r.inputs["securityGroupId"] in clients:
            assert r.inputs["fromPort"] == r.inputs["toPort"] and r.inputs["ipProtocol"] == "tcp"
            assert "cidrIpv4" not in r.inputs  # group to group, never an address range


def test_dev_clients_reach_every_store_on_ec2() -> None:
    run = run_program(ROOT, "dev")
    ports = sorted(int(r.inputs["fromPort"]) for r in run.by_type(EGRESS)
                   if r.name.startswith("app-clients-to-"))
    assert ports == [5432, 6333, 6334, 6379, 7474, 7687]


def test_dr_clients_are_admitted_by_the_dr_replica_before_a_promotion(production: ProgramRun) -> None:
    (dr_sg,) = [r for r in production.by_type(SG) if r.name == "dr-app-clients"]
    assert dr_sg.inputs["region"] == "us-west-2"
    (pg_dr,) = [r for r in production.by_type(SG) if r.name == "postgres-dr-sg"]
    (rule,) = [r for r in production.by_type(INGRESS)
               if r.property_dependencies.get("securityGroupId") == [pg_dr.urn]]
    assert rule.property_dependencies["referencedSecurityGroupId"] == [dr_sg.urn]
    assert rule.inputs["region"] == "us-west-2" and rule.inputs["fromPort"] == 5432


def _policy(run: ProgramRun, key_urn: str) -> dict[str, Any]:
    (key,) = [k for k in run.by_type(KEY) if k.urn == key_urn]
    return json.loads(key.inputs["policy"])


def test_rds_events_may_publish_to_their_encrypted_topic(stack: ProgramRun) -> None:
    """Each event subscription's topic admits RDS for the subscription's real sources, and the topic's
    key lets ``events.rds.amazonaws.com`` encrypt: otherwise every notification is dropped silently."""
    subs = stack.by_type(EVENT_SUB)
    assert subs
    instances = {r.inputs["identifier"]: r for r in stack.by_type(RDS)}
    for sub in subs:
        (topic_urn,) = sub.property_dependencies["snsTopic"]
        (topic,) = [t for t in stack.by_type(TOPIC) if t.urn == topic_urn]
        (policy,) = [p for p in stack.by_type(TOPIC_POLICY) if p.property_dependencies["arn"] == [topic_urn]]
        (rds,) = [s for s in json.loads(policy.inputs["policy"])["Statement"]
                  if s.get("Principal") == {"Service": "events.rds.amazonaws.com"}]
        patterns = rds["Condition"]["ArnLike"]["aws:SourceArn"]
        region = sub.inputs.get("region", stack.config.region if stack.config else "us-east-1")
        if sub.inputs["sourceType"] == "db-instance":
            sources = [f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{i}" for i in sub.inputs["sourceIds"]]
            assert set(sub.inputs["sourceIds"]) <= set(instances)
            # RDS-EVENT-0225 (storage nearing max_allocated_storage) is what covers the autoscaling ceiling.
            assert "low storage" in sub.inputs["eventCategories"]
        else:
            sources = [f"arn:aws:rds:{region}:{ACCOUNT_ID}:pg:{p.inputs['name']}" for p in stack.by_type(PARAMS)
                       if p.inputs.get("region", region) == region]
        assert sources
        for arn in sources:
            assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), (arn, patterns)
        (key_urn,) = topic.property_dependencies["kmsMasterKeyId"]
        grants = [s for s in _policy(stack, key_urn)["Statement"]
                  if s.get("Principal") == {"Service": "events.rds.amazonaws.com"}]
        assert grants and set(grants[0]["Action"]) >= {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_the_ebs_key_admits_auto_scaling_only_where_node_groups_exist(stack: ProgramRun) -> None:
    (ebs,) = [k for k in stack.by_type(KEY) if k.inputs["tags"].get("purpose") == "ebs"]
    text = ebs.inputs["policy"]
    has_node_groups = bool(stack.by_type("aws:eks/nodeGroup:NodeGroup"))
    assert ("AWSServiceRoleForAutoScaling" in text) is has_node_groups
    for st in json.loads(text)["Statement"]:
        principal = st["Principal"].get("AWS") if isinstance(st["Principal"], dict) else st["Principal"]
        assert principal in (None, "*", f"arn:aws:iam::{ACCOUNT_ID}:root"), st


@pytest.mark.parametrize("name", [
    "data-platform-production", "data-platform-production-euw1", "data-platform-production-euw1-b",
    "data-platform-staging-eu-central-1", "data-platform-a-b-c-d-e-f-g-h-i-j-k",
])
def test_fit_name_fits_and_never_ends_in_a_hyphen(name: str) -> None:
    fitted = fit_name(name, 30)
    assert len(fitted) <= 30 and NAME_RE.match(fitted), fitted
    assert fitted == name if len(name) <= 30 else fitted != name[:30]


def test_fit_name_keeps_long_names_apart() -> None:
    a, b = fit_name("data-platform-production-euw1-a", 30), fit_name("data-platform-production-euw1-b", 30)
    assert a != b and len(a) == len(b) == 30
    # What plain truncation did: a trailing hyphen, which ElastiCache rejects in a replication group id.
    assert "data-platform-production-euw1-a"[:30].endswith("-")


def test_the_review_records_the_resource_options_the_engine_acts_on() -> None:
    """deleteBeforeReplace / ignoreChanges reach the review JSON and the policy pack as the CLI sends them:
    without them the deployability rules cannot tell a delete-first EC2 member from a create-first one."""
    run = run_program(ROOT, "dev")
    members = [r for r in run.by_type("aws:ec2/instance:Instance")]
    assert members
    for m in members:
        assert m.delete_before_replace is True and m.to_json()["deleteBeforeReplace"] is True
        assert m.to_json()["ignoreChanges"] == ["ami"]
    plain = next(r for r in run.by_type(SG))
    assert "deleteBeforeReplace" not in plain.to_json() and "ignoreChanges" not in plain.to_json()
