"""The EC2 members of Graph and Vector (``components.aws.workload.Ec2Fleet``): AMI, replacement and tags.

Resource options (``deleteBeforeReplace``, ``ignoreChanges``) are not inputs, so the recording monitor's
``RegisterResource`` is wrapped here to keep each request as the engine receives it, and the mocks' ``call``
to see the invokes the program makes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from placement_kit import KEY, ec2_placement

from components.aws.graph import Graph, GraphArgs
from components.aws.vector import Vector, VectorArgs
from components.aws.workload import SSM_AL2023_ARM64, SSM_AL2023_X86
from review.mocks import CloudMocks, RecordingMonitor
from review.program import ProgramRun, record

INSTANCE = "aws:ec2/instance:Instance"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
MOCK_AMI = "ami-0abcdef1234567890"  # what review.mocks answers for aws:ssm/getParameter


@dataclass
class Seen:
    run: ProgramRun
    requests: dict[tuple[str, str], Any] = field(default_factory=dict)
    """``(type, name)`` → the RegisterResource request (options included)."""
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def request(self, type_: str, name: str) -> Any:
        return self.requests[(type_, name)]


@contextlib.contextmanager
def _watch() -> Iterator[Seen]:
    seen = Seen(run=None)  # type: ignore[arg-type]
    register, call = RecordingMonitor.RegisterResource, CloudMocks.call

    def watched_register(self: RecordingMonitor, request: Any) -> Any:
        seen.requests[(request.type, request.name)] = request
        return register(self, request)

    def watched_call(self: CloudMocks, args: Any) -> Any:
        seen.invokes.append((args.token, dict(args.args)))
        return call(self, args)

    RecordingMonitor.RegisterResource = watched_register  # type: ignore[method-assign]
    CloudMocks.call = watched_call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        RecordingMonitor.RegisterResource = register  # type: ignore[method-assign]
        CloudMocks.call = call  # type: ignore[method-assign]


def _common(**placement: Any) -> dict[str, Any]:
    return {"backup_kms_key_arn": KEY + "backup", "secrets_kms_key_arn": KEY + "secrets", "protect": True,
            "placement": ec2_placement(**placement)}


def _graph(**placement: Any) -> Callable[[], Any]:
    return lambda: Graph("graph", GraphArgs(backup_bucket_name="dp-graph-backups", license_agreement="yes",
                                            **_common(**placement)))


def _vector(**placement: Any) -> Callable[[], Any]:
    return lambda: Vector("vector", VectorArgs(backup_bucket_name="dp-vector-backups", **_common(**placement)))


def _seen(program: Callable[[], Any]) -> Seen:
    with _watch() as seen:
        seen.run = record(program, stack="production")
    assert seen.run.error is None, seen.run.error
    return seen


@pytest.fixture(scope="module")
def graph() -> Seen:
    return _seen(_graph())


@pytest.fixture(scope="module")
def vector() -> Seen:
    return _seen(_vector())


@pytest.fixture(params=["graph", "vector"])
def fleet(request: pytest.FixtureRequest) -> Seen:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# ---- AMI ------------------------------------------------------------------------------------


def test_ami_is_resolved_from_ssm_by_the_program(fleet: Seen) -> None:
    """``ami="resolve:ssm:..."`` together with ``root_block_device`` makes the provider call DescribeImages
    on the literal string (InvalidAMIID.Malformed, terraform-provider-aws #43488): the program reads the
    public AL2023 parameter itself and hands EC2 a real AMI id."""
    insts = fleet.run.by_type(INSTANCE)
    assert insts
    for i in insts:
        assert i.inputs["ami"] == MOCK_AMI, i.name
        assert "rootBlockDevice" in i.inputs
    names = [a["name"] for t, a in fleet.invokes if t == "aws:ssm/getParameter:getParameter"]
    assert names == [SSM_AL2023_ARM64]  # r7g: Graviton; one invoke per parameter, not one per member


def test_ami_parameter_follows_the_architecture() -> None:
    seen = _seen(_vector(instance_type="r6i.large"))
    names = [a["name"] for t, a in seen.invokes if t == "aws:ssm/getParameter:getParameter"]
    assert names == [SSM_AL2023_X86]
    assert {i.inputs["ami"] for i in seen.run.by_type(INSTANCE)} == {MOCK_AMI}


def test_explicit_ami_needs_no_invoke() -> None:
    seen = _seen(_graph(ami_id="ami-0fedcba9876543210"))
    assert {i.inputs["ami"] for i in seen.run.by_type(INSTANCE)} == {"ami-0fedcba9876543210"}
    assert not [t for t, _ in seen.invokes if t == "aws:ssm/getParameter:getParameter"]


def test_later_ami_releases_do_not_replace_members(fleet: Seen) -> None:
    for i in fleet.run.by_type(INSTANCE):
        assert list(fleet.request(INSTANCE, i.name).ignoreChanges) == ["ami"]


# ---- tags -----------------------------------------------------------------------------------


def test_root_volume_tagged_without_volume_tags(fleet: Seen) -> None:
    """``volume_tags`` on an instance also claims the separately managed, attached data volume and the
    two fight over its tags on every update (pulumi_aws ``volume_tags`` docstring): the root volume is
    tagged through ``root_block_device.tags`` instead, the data volume through its own ``tags``."""
    vols = {v.name: v for v in fleet.run.by_type("aws:ebs/volume:Volume")}
    for i in fleet.run.by_type(INSTANCE):
        assert "volumeTags" not in i.inputs, i.name
        member = i.inputs["tags"]["member"]
        assert i.inputs["rootBlockDevice"]["tags"] == {**i.inputs["tags"], "Name": f"{i.name}-root"}
        assert vols[f"{i.name}-data"].inputs["tags"]["member"] == member


# ---- replacement ----------------------------------------------------------------------------


def test_members_are_replaced_delete_first(fleet: Seen) -> None:
    """A user-data change replaces a member; create-before-delete would attach the data volume to the new
    instance while the old one still holds it (VolumeInUse). Delete-before-replace: the engine first deletes
    every dependent that the replacement would replace too (the attachment, whose instance_id forces a new
    attachment), then the instance, and creates instance and attachment afresh."""
    for i in fleet.run.by_type(INSTANCE):
        req = fleet.request(INSTANCE, i.name)
        assert req.deleteBeforeReplace is True and req.deleteBeforeReplaceDefined is True, i.name
        att = next(a for a in fleet.run.by_type(ATTACHMENT) if a.name == f"{i.name}-data")
        # The engine finds the attachment through this property dependency (instanceId -> the instance).
        assert att.property_dependencies["instanceId"] == [i.urn]
        assert att.inputs["instanceId"].startswith("i-")


def test_data_volume_is_not_replaced_with_its_member(fleet: Seen) -> None:
    """The data volume depends on nothing the replacement changes, so it survives and is re-attached."""
    for v in fleet.run.by_type("aws:ebs/volume:Volume"):
        req = fleet.request("aws:ebs/volume:Volume", v.name)
        assert not req.deleteBeforeReplace
        assert all(INSTANCE not in u for deps in v.property_dependencies.values() for u in deps)
        assert v.protect and v.retain_on_delete
