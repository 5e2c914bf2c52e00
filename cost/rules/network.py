"""Network: NAT gateways, public IPv4 addresses, VPC endpoints, load balancers, Route 53 zones.

NAT and interface-endpoint data are usage (``natGbPerMonth``, ``endpointGbPerMonth``), split
evenly over the gateways/endpoints of the program. An interface endpoint bills one ENI-hour per
AZ (subnet) it sits in.
"""

from __future__ import annotations

from cost.rules.base import Charge, Context, H, Res, as_list, fmt, free

NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE53_ZONE = "aws:route53/zone:Zone"
ROUTE53_RECORD = "aws:route53/record:Record"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")

PRICE_KEYS = (
    "vpc:nat:hour",
    "vpc:nat:gb",
    "vpc:ipv4:hour",
    "vpc:endpoint:hour",
    "vpc:endpoint:gb",
    "route53:zone",
    "elb:alb:hour",
    "elb:nlb:hour",
)


def _interface(r: Res) -> bool:
    return (r.text("vpcEndpointType") or "Gateway") != "Gateway"


def nat_gateway(r: Res, ctx: Context) -> list[Charge]:
    """Hours plus an even share of ``natGbPerMonth``; its Elastic IP is priced on the address."""
    note = " (private NAT gateway)" if r.text("connectivityType") == "private" else ""
    gateways = max(ctx.count(NAT_GATEWAY), 1)
    share = ctx.usage.nat_gb_per_month / gateways
    return [
        ctx.per_unit("hours", "vpc:nat:hour", r.region, H, f"NAT gateway{note} {{price}} × {{qty}} h",
                     what="NAT gateway hour", service="VPC"),
        ctx.per_unit("data processed", "vpc:nat:gb", r.region, share,
                     f"NAT data processed {{price}} × {{qty}} GB ({ctx.usage.cite('nat_gb_per_month')} "
                     f"split evenly over {gateways} NAT gateways)",
                     what="NAT gateway data processed", service="VPC"),
    ]


def eip(r: Res, ctx: Context) -> list[Charge]:
    """Every public IPv4 address is billed per hour, attached or not."""
    return [ctx.per_unit("address hours", "vpc:ipv4:hour", r.region, H,
                         "public IPv4 address (Elastic IP) {price} × {qty} h",
                         what="public IPv4 address hour", service="VPC")]


def vpc_endpoint(r: Res, ctx: Context) -> list[Charge]:
    """Gateway endpoints are free; interface endpoints bill per AZ-hour and per GB processed."""
    service = r.text("serviceName") or "service"
    if not _interface(r):
        return [free(f"gateway VPC endpoint ({service})")]
    azs = len(as_list(r.get("subnetIds"))) or 1
    endpoints = max(sum(1 for e in ctx.of_type(VPC_ENDPOINT) if _interface(e)), 1)
    share = ctx.usage.endpoint_gb_per_month / endpoints
    return [
        ctx.per_unit("endpoint hours", "vpc:endpoint:hour", r.region, H * azs,
                     f"interface endpoint {service}: {{price}} × {H} h × {azs} AZs (one per subnet)",
                     what="interface VPC endpoint AZ-hour", service="VPC"),
        ctx.per_unit("data processed", "vpc:endpoint:gb", r.region, share,
                     f"interface endpoint data {{price}} × {{qty}} GB ({ctx.usage.cite('endpoint_gb_per_month')} "
                     f"split evenly over {endpoints} interface endpoints)",
                     what="interface VPC endpoint data processed", service="VPC"),
    ]


def load_balancer(r: Res, ctx: Context) -> list[Charge]:
    """ALB/NLB hours; capacity units are usage the model has no assumption for (said so)."""
    kind = (r.text("loadBalancerType") or "application").lower()
    key = {"application": "elb:alb:hour", "network": "elb:nlb:hour"}.get(kind)
    if key is None:
        return [ctx.missing("hours", f"{kind} load balancer hour", "ELB", r.region)]
    return [ctx.per_unit("hours", key, r.region, H,
                         f"{kind} load balancer {{price}} × {{qty}} h (capacity units: no usage assumption)",
                         what=f"{kind} load balancer hour", service="ELB")]


def route53_zone(r: Res, ctx: Context) -> list[Charge]:
    """A hosted zone per month (Route 53 is global: the stack region's row is used)."""
    kind = "private" if as_list(r.get("vpcs")) else "public"
    return [ctx.per_unit("hosted zone", "route53:zone", ctx.region, 1,
                         f"Route 53 {kind} hosted zone {{price}} × {{qty}}; DNS queries are not modelled "
                         "(no usage assumption)",
                         what="Route 53 hosted zone", service="Route 53")]


def route53_record(r: Res, ctx: Context) -> list[Charge]:
    """Records are part of the zone's price."""
    return [free(f"Route 53 record {fmt(len(as_list(r.get('records'))))} value(s): included in the hosted zone")]


RULES = {
    NAT_GATEWAY: nat_gateway,
    EIP: eip,
    VPC_ENDPOINT: vpc_endpoint,
    ROUTE53_ZONE: route53_zone,
    ROUTE53_RECORD: route53_record,
    **dict.fromkeys(LOAD_BALANCERS, load_balancer),
}
