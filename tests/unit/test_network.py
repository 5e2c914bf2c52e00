"""``Network`` under the recording mock runtime: data-tier isolation, NAT modes, endpoints, flow logs, DR variant."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
import pytest

from components.aws.network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    DR_INTERFACE_ENDPOINTS,
    TYPE_TOKEN,
    Network,
    NetworkArgs,
    subnet_layout,
    validate_network_args,
)
from components.base import ArgsError
from review.mocks import RecordedResource
from review.program import ProgramRun, record

AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
DR_AZS = ("us-west-2a", "us-west-2b")
LOGS_KEY = "arn:aws:kms:us-east-1:123456789012:key/logs"
DR_LOGS_KEY = "arn:aws:kms:us-west-2:123456789012:key/logs-dr"

SUBNET = "aws:ec2/subnet:Subnet"
RT = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ASSOC = "aws:ec2/routeTableAssociation:RouteTableAssociation"
IGW = "aws:ec2/internetGateway:InternetGateway"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _args(**kw: Any) -> NetworkArgs:
    return NetworkArgs(**{"az_names": AZS, "logs_kms_key_arn": LOGS_KEY, **kw})


def _run(args: NetworkArgs) -> ProgramRun:
    def program() -> None:
        net = Network("net", args)
        pulumi.export("net", {"vpc_id": net.vpc_id, "cidr": net.cidr, "az_names": net.az_names,
                              "data": net.data_subnet_ids, "compute": net.compute_subnet_ids,
                              "public": net.public_subnet_ids, "sg": net.endpoint_security_group_id})

    run = record(program, stack="production")
    assert run.error is None
    return run


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return _run(_args())


def _tier(run: ProgramRun, tier: str) -> list[RecordedResource]:
    return [r for r in run.by_type(SUBNET) if r.inputs["tags"].get("tier") == tier]


def _route_table_of(run: ProgramRun, subnet: RecordedResource) -> str:
    assocs = [a for a in run.by_type(ASSOC) if a.property_dependencies["subnetId"] == [subnet.urn]]
    assert len(assocs) == 1, subnet.urn
    return assocs[0].property_dependencies["routeTableId"][0]


def _routes_of(run: ProgramRun, rt_urn: str) -> list[RecordedResource]:
    return [r for r in run.by_type(ROUTE) if r.property_dependencies["routeTableId"] == [rt_urn]]


def _target_urns(route: RecordedResource) -> set[str]:
    deps = route.property_dependencies
    return {u for k in ("gatewayId", "natGatewayId", "vpcEndpointId") for u in deps.get(k, [])}


def test_component_token_and_parenting(prod: ProgramRun) -> None:
    comp = [r for r in prod.resources if r.type == TYPE_TOKEN]
    assert len(comp) == 1 and comp[0].custom is False
    for r in prod.resources:
        if r.custom:
            assert r.parent == comp[0].urn, r.urn


def test_data_subnets_have_no_route_to_an_internet_or_nat_gateway(prod: ProgramRun) -> None:
    igws = {r.urn for r in prod.by_type(IGW)}
    nats = {r.urn for r in prod.by_type(NAT)}
    assert igws and nats  # the production shape has both, so the check below means something
    data = _tier(prod, "data")
    assert len(data) == 3
    for sn in data:
        assert sn.inputs["mapPublicIpOnLaunch"] is False
        routes = _routes_of(prod, _route_table_of(prod, sn))
        assert routes == [], f"{sn.urn}: data route table has routes {[r.inputs for r in routes]}"
        for route in routes:
            assert not _target_urns(route) & (igws | nats)


def test_compute_subnets_default_route_goes_to_the_nat_of_their_az(prod: ProgramRun) -> None:
    igws = {r.urn for r in prod.by_type(IGW)}
    nat_by_az = {r.name.removeprefix("net-nat-"): r.urn for r in prod.by_type(NAT)}
    for sn in _tier(prod, "compute"):
        az = sn.inputs["availabilityZone"]
        routes = _routes_of(prod, _route_table_of(prod, sn))
        assert [r.inputs["destinationCidrBlock"] for r in routes] == ["0.0.0.0/0"]
        assert routes[0].property_dependencies["natGatewayId"] == [nat_by_az[az]]
        assert not _target_urns(routes[0]) & igws


def test_public_subnets_route_to_the_igw_and_map_no_public_ips(prod: ProgramRun) -> None:
    public = _tier(prod, "public")
    assert len(public) == 3
    igw = prod.by_type(IGW)[0].urn
    for sn in public:
        assert sn.inputs["mapPublicIpOnLaunch"] is False
        routes = _routes_of(prod, _route_table_of(prod, sn))
        assert [(r.inputs["destinationCidrBlock"], r.property_dependencies["gatewayId"]) for r in routes] == \
            [("0.0.0.0/0", [igw])]


@pytest.mark.parametrize(("mode", "nats", "public"), [("none", 0, 0), ("single", 1, 3), ("perAz", 3, 3)])
def test_nat_count_per_mode(mode: str, nats: int, public: int) -> None:
    run = _run(_args(nat=mode))
    assert len(run.by_type(NAT)) == nats
    assert len(run.by_type("aws:ec2/eip:Eip")) == nats
    assert len(run.by_type(IGW)) == (1 if nats else 0)
    assert len(_tier(run, "public")) == public
    assert len(_tier(run, "compute")) == 3
    compute_routes = [r for sn in _tier(run, "compute") for r in _routes_of(run, _route_table_of(run, sn))]
    assert len(compute_routes) == (3 if nats else 0)
    if mode == "single":
        nat = run.by_type(NAT)[0]
        first_public = next(sn for sn in _tier(run, "public") if sn.inputs["availabilityZone"] == AZS[0])
        assert nat.property_dependencies["subnetId"] == [first_public.urn]
        assert {tuple(r.property_dependencies["natGatewayId"]) for r in compute_routes} == {(nat.urn,)}


def test_subnet_cidrs_are_disjoint_inside_the_vpc_and_stable_across_nat_modes(prod: ProgramRun) -> None:
    vpc = ipaddress.IPv4Network(prod.by_type("aws:ec2/vpc:Vpc")[0].inputs["cidrBlock"])
    nets = [ipaddress.IPv4Network(sn.inputs["cidrBlock"]) for sn in prod.by_type(SUBNET)]
    assert len(nets) == 9 and all(n.subnet_of(vpc) and n.prefixlen == 20 for n in nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    none = _run(_args(nat="none"))
    before = {sn.name: sn.inputs["cidrBlock"] for sn in prod.by_type(SUBNET)}
    after = {sn.name: sn.inputs["cidrBlock"] for sn in none.by_type(SUBNET)}
    assert after.items() <= before.items()


def test_vpc_dns_and_default_security_group_has_no_rules(prod: ProgramRun) -> None:
    vpc = prod.by_type("aws:ec2/vpc:Vpc")[0].inputs
    assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True
    (sg,) = prod.by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == []


def test_endpoints_gateway_on_private_route_tables_interface_in_compute_subnets(prod: ProgramRun) -> None:
    eps = prod.by_type(ENDPOINT)
    gateway = [e for e in eps if e.inputs["vpcEndpointType"] == "Gateway"]
    interface = [e for e in eps if e.inputs["vpcEndpointType"] == "Interface"]
    assert [g.inputs["serviceName"] for g in gateway] == ["com.amazonaws.us-east-1.s3"]
    private_rts = {_route_table_of(prod, sn) for sn in _tier(prod, "data") + _tier(prod, "compute")}
    public_rts = {_route_table_of(prod, sn) for sn in _tier(prod, "public")}
    assert set(gateway[0].property_dependencies["routeTableIds"]) == private_rts
    assert not public_rts & private_rts
    assert sorted(e.inputs["serviceName"] for e in interface) == \
        sorted(f"com.amazonaws.us-east-1.{s}" for s in DEFAULT_INTERFACE_ENDPOINTS)
    compute = {sn.urn for sn in _tier(prod, "compute")}
    (sg,) = prod.by_type("aws:ec2/securityGroup:SecurityGroup")
    for e in interface:
        assert e.inputs["privateDnsEnabled"] is True
        assert set(e.property_dependencies["subnetIds"]) == compute
        assert e.property_dependencies["securityGroupIds"] == [sg.urn]
    (rule,) = prod.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["cidrIpv4"]) == \
        ("tcp", 443, 443, "10.0.0.0/16")


def test_flow_logs_all_traffic_to_an_encrypted_group_with_a_scoped_role(prod: ProgramRun) -> None:
    (group,) = prod.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["kmsKeyId"] == LOGS_KEY and group.inputs["retentionInDays"] == 365
    (flow,) = prod.by_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.property_dependencies["logDestination"] == [group.urn]
    (role,) = prod.by_type("aws:iam/role:Role")
    assert flow.property_dependencies["iamRoleArn"] == [role.urn]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "vpc-flow-logs.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    (policy,) = prod.by_type("aws:iam/rolePolicy:RolePolicy")
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vpc/flow-logs/data-platform"
    for st in json.loads(policy.inputs["policy"])["Statement"]:
        assert st["Resource"] == [arn, f"{arn}:*"]
        assert all(a.startswith("logs:") and "*" not in a for a in st["Action"])


def test_outputs(prod: ProgramRun) -> None:
    out = prod.outputs["net"]
    assert out["vpc_id"].startswith("vpc-") and out["cidr"] == "10.0.0.0/16" and out["az_names"] == list(AZS)
    assert len(out["data"]) == len(out["compute"]) == len(out["public"]) == 3
    assert out["sg"].startswith("sg-")


def test_dr_variant_small_network_in_the_dr_region() -> None:
    run = _run(NetworkArgs(az_names=DR_AZS, logs_kms_key_arn=DR_LOGS_KEY, region="us-west-2", nat="none",
                           compute_subnets=False, interface_endpoints=DR_INTERFACE_ENDPOINTS, name="data-platform-dr"))
    for r in run.resources:
        if r.custom and not r.type.startswith("aws:iam/"):  # IAM is global
            assert r.inputs.get("region") == "us-west-2", r.urn
    assert len(_tier(run, "data")) == 2
    assert not _tier(run, "compute") and not _tier(run, "public")
    assert not run.by_type(NAT) and not run.by_type(IGW) and not run.by_type(ROUTE)
    eps = run.by_type(ENDPOINT)
    assert sorted(e.inputs["serviceName"] for e in eps) == sorted(
        f"com.amazonaws.us-west-2.{s}" for s in (*DR_INTERFACE_ENDPOINTS, "s3"))
    data = {sn.urn for sn in _tier(run, "data")}
    for e in eps:
        if e.inputs["vpcEndpointType"] == "Interface":
            assert set(e.property_dependencies["subnetIds"]) == data
    trust = json.loads(run.by_type("aws:iam/role:Role")[0].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:ec2:us-west-2:")


def test_cidr_too_small_is_rejected_before_any_resource() -> None:
    with pytest.raises(ArgsError, match=r"NetworkArgs\.cidr: '10\.0\.0\.0/20' is not allowed \(too small: "
                                        r"3 tiers x 3 AZs need 9 /20 subnets and it holds 1; use a /16 or larger"):
        validate_network_args(_args(cidr="10.0.0.0/20"))
    with pytest.raises(ArgsError, match="too small"):
        Network("net", _args(cidr="10.0.0.0/19"))


@pytest.mark.parametrize(("kw", "message"), [
    ({"cidr": "8.8.0.0/16"}, r"NetworkArgs\.cidr: '8\.8\.0\.0/16' is not allowed \(a private"),
    ({"cidr": "10.0.0.1/16"}, r"NetworkArgs\.cidr: .*host bits zero"),
    ({"nat": "all"}, r"NetworkArgs\.nat: 'all' is not allowed \(none \| single \| perAz\)"),
    ({"nat": "single", "compute_subnets": False}, r"NetworkArgs\.nat: 'single' .*data subnets never route to a NAT"),
    ({"region": "us-west-2"}, r"NetworkArgs\.az_names: .*AZs of region us-west-2"),
    ({"az_names": ("us-east-1a",)}, r"NetworkArgs\.az_names: .*2\.\.6 distinct"),
    ({"flow_log_retention_days": 10}, r"NetworkArgs\.flow_log_retention_days: 10 is not allowed"),
])
def test_invalid_args(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgsError, match=message):
        validate_network_args(_args(**kw))


def test_subnet_layout_fixed_slots() -> None:
    layout = subnet_layout("10.0.0.0/16", 3, 20)
    assert layout == {"data": ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"],
                      "compute": ["10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"],
                      "public": ["10.0.96.0/20", "10.0.112.0/20", "10.0.128.0/20"]}


def test_every_args_field_is_documented_with_its_default() -> None:
    import ast
    import dataclasses
    import inspect

    import components.aws.network as mod

    tree = ast.parse(inspect.getsource(mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "NetworkArgs")
    documented = {
        prev.target.id for prev, nxt in zip(cls.body, cls.body[1:], strict=False)
        if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        and (prev.value is None or "Default:" in str(nxt.value.value))
    }
    assert documented == {f.name for f in dataclasses.fields(NetworkArgs)}
    assert NetworkArgs.__dataclass_params__.frozen  # type: ignore[attr-defined]
