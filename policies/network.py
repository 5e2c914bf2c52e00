"""Network exposure (mandatory): nothing of the data tier is reachable from the internet.

RDS public access, public IPs on instances and launch templates, IMDSv2, world-open security
group ingress (naming the data ports), the EKS API endpoint in production, data subnets without a
route to an internet gateway, and subnets that hand out public IPs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    EC2_INSTANCE,
    EKS_CLUSTER,
    ENVIRONMENT_CONFIG,
    INTERNET_GATEWAY,
    LAUNCH_TEMPLATE,
    MANDATORY,
    RDS_INSTANCE,
    REDIS_GROUP,
    ROUTE,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SG_INGRESS_RULE,
    SUBNET,
    UNKNOWN,
    Resource,
    Stack,
    as_list,
    dig,
    number,
    resource_policy,
    stack_policy,
    str_list,
    truthy,
)

CONCERN = "network"

DATA_PORTS: dict[int, str] = {
    5432: "PostgreSQL",
    6379: "Redis/Valkey",
    7687: "Neo4j Bolt",
    7474: "Neo4j HTTP",
    6333: "Qdrant HTTP",
    6334: "Qdrant gRPC",
}
WORLD = ("0.0.0.0/0", "::/0")
_SG_CONFIG: dict[str, dict[str, Any]] = {
    "allowedPublicPorts": {
        "type": "array", "items": {"type": "integer"}, "default": [],
        "description": "Ports that may be open to the world (e.g. [443] for a public load balancer); the data "
                       "tier has none.",
    },
}


@resource_policy(
    name="rds-not-publicly-accessible", concern=CONCERN, level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.2", "CKV_AWS_17"),
    description="RDS instances are not publicly accessible.",
    remediation="Set publicly_accessible=False and place the instance in private (tier=data) subnets.",
    severity="critical",
)
def rds_not_publicly_accessible(r: Resource) -> Iterator[str]:
    if truthy(r.get("publiclyAccessible")):
        yield (f"publiclyAccessible is true on {r.label}: the instance gets a public DNS name and IP for port "
               "5432. Set publicly_accessible=False.")


@resource_policy(
    name="elasticache-custom-subnet-group", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(REDIS_GROUP,),
    requirements=("ElastiCache.7", "CKV_AWS_323"),
    description="ElastiCache replication groups run in the stack's private subnet group, not the default one.",
    remediation="Create an aws.elasticache.SubnetGroup over the data subnets and set subnet_group_name.",
)
def elasticache_custom_subnet_group(r: Resource) -> Iterator[str]:
    name = r.get("subnetGroupName")
    if name is not UNKNOWN and (not name or name == "default"):
        yield (f"subnetGroupName is {name!r} on {r.label}: the default subnet group spans the default VPC's "
               "subnets. Set subnet_group_name to a subnet group of the data subnets.")


@resource_policy(
    name="instance-no-public-ip", concern=CONCERN, level=MANDATORY, types=(EC2_INSTANCE, LAUNCH_TEMPLATE),
    requirements=("EC2.9", "EC2.25", "CKV_AWS_88"),
    description="EC2 instances and launch templates (EKS nodes, Neo4j/Qdrant hosts) get no public IP address.",
    remediation="Set associate_public_ip_address=False (launch templates: "
                "network_interfaces[].associate_public_ip_address='false').",
    severity="high",
)
def instance_no_public_ip(r: Resource) -> Iterator[str]:
    if r.type == EC2_INSTANCE:
        if truthy(r.get("associatePublicIpAddress")):
            yield f"associatePublicIpAddress is true on {r.label}; set associate_public_ip_address=False."
        return
    for i, ni in enumerate(as_list(r.get("networkInterfaces"))):
        if truthy(dig(ni, "associatePublicIpAddress")):
            yield (f"networkInterfaces[{i}].associatePublicIpAddress is true on {r.label}; set it to 'false' "
                   "and use private subnets.")


@resource_policy(
    name="imdsv2-required", concern=CONCERN, level=MANDATORY, types=(EC2_INSTANCE, LAUNCH_TEMPLATE),
    requirements=("EC2.8", "EC2.170", "CKV_AWS_79", "CKV_AWS_341"),
    description="EC2 instances and launch templates require IMDSv2 session tokens (hop limit 1 on launch templates).",
    remediation="Set metadata_options={'http_tokens': 'required', 'http_put_response_hop_limit': 1}.",
    severity="high",
)
def imdsv2_required(r: Resource) -> Iterator[str]:
    options = r.get("metadataOptions")
    if options is UNKNOWN:
        return
    if dig(options, "httpEndpoint") == "disabled":
        return
    tokens = dig(options, "httpTokens")
    if tokens is not UNKNOWN and tokens != "required":
        yield (f"metadataOptions.httpTokens is {tokens!r} on {r.label}: IMDSv1 lets any SSRF read the instance "
               "role's credentials. Set metadata_options.http_tokens='required'.")
    hops = number(dig(options, "httpPutResponseHopLimit"))
    if r.type == LAUNCH_TEMPLATE and hops is not None and hops > 2:
        yield (f"metadataOptions.httpPutResponseHopLimit is {int(hops)} on {r.label}; pods could reach the node's "
               "credentials. Use 1 (2 only if node agents need IMDS from a container).")


def _ports(from_port: Any, to_port: Any, protocol: Any) -> tuple[int, int] | None:
    """The port range of a rule; (0, 65535) for 'all traffic'."""
    if str(protocol) in ("-1", "all"):
        return (0, 65535)
    lo, hi = number(from_port), number(to_port)
    if lo is None and hi is None:
        return None
    lo = lo if lo is not None else hi
    hi = hi if hi is not None else lo
    assert lo is not None and hi is not None
    if lo < 0:
        return (0, 65535)
    return (int(lo), int(hi))


def _describe(rng: tuple[int, int]) -> str:
    exposed = [f"{p} ({name})" for p, name in DATA_PORTS.items() if rng[0] <= p <= rng[1]]
    span = "all ports" if rng == (0, 65535) else (f"port {rng[0]}" if rng[0] == rng[1] else f"ports {rng[0]}-{rng[1]}")
    return span + (": exposes " + ", ".join(exposed) if exposed else "")


@resource_policy(
    name="security-group-no-world-ingress", concern=CONCERN, level=MANDATORY,
    types=(SECURITY_GROUP, SECURITY_GROUP_RULE, SG_INGRESS_RULE),
    requirements=("EC2.18", "EC2.19", "CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277",
                  "gap:data-ports-world-open"),
    description="No security group admits 0.0.0.0/0 or ::/0 on any port (data ports 5432, 6379, 7687, 7474, "
                "6333, 6334 above all).",
    remediation="Allow ingress only from the client security groups (source_security_group_id / "
                "referenced_security_group_id) or private CIDRs.",
    config=_SG_CONFIG,
    severity="critical",
)
def security_group_no_world_ingress(r: Resource) -> Iterator[str]:
    allowed = {int(p) for p in as_list(r.ctx.get("allowedPublicPorts", [])) if number(p) is not None}
    rules: list[tuple[str, dict[str, Any], list[str]]] = []
    if r.type == SECURITY_GROUP:
        for i, rule in enumerate(as_list(r.get("ingress"))):
            if isinstance(rule, dict):
                cidrs = str_list(rule.get("cidrBlocks")) + str_list(rule.get("ipv6CidrBlocks"))
                rules.append((f"ingress[{i}]", rule, cidrs))
    elif r.type == SECURITY_GROUP_RULE:
        if r.get("type") == "ingress":
            rules.append(("", r.props, str_list(r.get("cidrBlocks")) + str_list(r.get("ipv6CidrBlocks"))))
    else:
        rules.append(("", r.props, str_list(r.get("cidrIpv4")) + str_list(r.get("cidrIpv6"))))
    for where, rule, cidrs in rules:
        world = [c for c in cidrs if c in WORLD]
        if not world:
            continue
        protocol = rule.get("protocol", rule.get("ipProtocol"))
        rng = _ports(rule.get("fromPort"), rule.get("toPort"), protocol)
        if rng is None:
            rng = (0, 65535)
        if rng[0] == rng[1] and rng[0] in allowed:
            continue
        prop = ("cidrBlocks" if "0.0.0.0/0" in world else "ipv6CidrBlocks") if r.type != SG_INGRESS_RULE else \
            ("cidrIpv4" if "0.0.0.0/0" in world else "cidrIpv6")
        path = f"{where}.{prop}" if where else prop
        yield (f"{path} contains {', '.join(world)} on {r.label} for {_describe(rng)}. Remove the world CIDR and "
               "allow only the client security groups (source_security_group_id / referenced_security_group_id).")


@resource_policy(
    name="eks-endpoint-private-in-production", concern=CONCERN, level=MANDATORY, types=(EKS_CLUSTER,),
    requirements=("EKS.1", "CKV_AWS_39", "CKV_AWS_38"),
    description="In production the EKS API endpoint is private (endpointPublicAccess false).",
    remediation="Set vpc_config.endpoint_public_access=False and endpoint_private_access=True; reach the API "
                "through the VPC (VPN/bastion/SSM).",
    config=ENVIRONMENT_CONFIG,
    severity="high",
)
def eks_endpoint_private_in_production(r: Resource) -> Iterator[str]:
    if not r.is_production():
        return
    public = r.get("vpcConfig", "endpointPublicAccess")
    if public is UNKNOWN:
        return
    if public is None or truthy(public):
        state = "not set (the provider default is true)" if public is None else "true"
        yield (f"vpcConfig.endpointPublicAccess is {state} on production cluster {r.label}: the Kubernetes API is "
               "reachable from the internet. Set vpc_config.endpoint_public_access=False.")


@resource_policy(
    name="subnet-public-ip-only-public-tier", concern=CONCERN, level=MANDATORY, types=(SUBNET,),
    requirements=("EC2.15", "CKV_AWS_130"),
    description="Only subnets tagged tier=public assign public IPs on launch.",
    remediation="Set map_public_ip_on_launch=False on private and data subnets.",
)
def subnet_public_ip_only_public_tier(r: Resource) -> Iterator[str]:
    if truthy(r.get("mapPublicIpOnLaunch")) and r.tags.get("tier") != "public":
        yield (f"mapPublicIpOnLaunch is true on {r.label} (tier={r.tags.get('tier')!r}): instances launched there "
               "get public IPs. Set map_public_ip_on_launch=False or tag the subnet tier=public.")


def _is_igw(value: Any, route: Resource, prop: str, s: Stack) -> bool:
    """Whether a route's ``gatewayId`` (or a route table's ``routes``) points at an internet gateway:
    by property dependency, an ``igw-`` id, or (ids of resources being created) the gateways the
    route depends on."""
    if value is None or value == "":
        return False
    if isinstance(value, str) and value.startswith("igw-"):
        return True
    igws = {g.urn for g in s.of_type(INTERNET_GATEWAY)}
    if not igws:
        return False
    if prop in route.property_dependencies:
        return bool(igws & set(route.property_dependencies[prop]))
    return bool(igws & set(route.dependencies))


@stack_policy(
    name="data-subnet-no-internet-route", concern=CONCERN, level=MANDATORY,
    types=(SUBNET, ROUTE_TABLE, ROUTE, ROUTE_TABLE_ASSOCIATION, INTERNET_GATEWAY),
    requirements=("RDS.46", "gap:data-subnet-routing"),
    description="Data subnets (tag tier=data, or used by a DB/cache subnet group) have no route to an internet "
                "gateway.",
    remediation="Associate data subnets with a route table whose default route goes to a NAT gateway (or none), "
                "never to the internet gateway.",
    severity="high",
)
def data_subnet_no_internet_route(s: Stack) -> Iterator[tuple[str, str | None]]:
    subnets = s.of_type(SUBNET)
    data = {sn.urn for sn in subnets if sn.tags.get("tier") == "data"}
    for group in s.of_type("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup"):
        data |= {sn.urn for sn in s.referenced(group, "subnetIds", group.get("subnetIds"), subnets)}
    if not data:
        return
    tables = s.of_type(ROUTE_TABLE)
    igw_tables: dict[str, str] = {}
    for t in tables:
        for i, route in enumerate(as_list(t.get("routes"))):
            if isinstance(route, dict) and _is_igw(route.get("gatewayId"), t, "routes", s):
                igw_tables[t.urn] = f"{t.label} routes[{i}].gatewayId"
    for route in s.of_type(ROUTE):
        if _is_igw(route.get("gatewayId"), route, "gatewayId", s):
            for t in s.referenced(route, "routeTableId", route.get("routeTableId"), tables):
                igw_tables.setdefault(t.urn, f"{route.label} gatewayId")
    for assoc in s.of_type(ROUTE_TABLE_ASSOCIATION):
        table_hits = [t for t in s.referenced(assoc, "routeTableId", assoc.get("routeTableId"), tables)
                      if t.urn in igw_tables]
        if not table_hits:
            continue
        for sn in s.referenced(assoc, "subnetId", assoc.get("subnetId"), subnets):
            if sn.urn in data:
                yield (f"data subnet {sn.label} is associated ({assoc.label}) with a route table that routes to an "
                       f"internet gateway ({igw_tables[table_hits[0].urn]}); associate it with a private route "
                       "table (NAT or no default route).", sn.urn)


@stack_policy(
    name="vpc-default-security-group-closed", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=("aws:ec2/vpc:Vpc", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"),
    requirements=("EC2.2", "CKV2_AWS_12"),
    description="Every VPC adopts its default security group with no rules, so nothing can fall back to it.",
    remediation="Create an aws.ec2.DefaultSecurityGroup(vpc_id=<vpc id>) with no ingress and no egress.",
)
def vpc_default_security_group_closed(s: Stack) -> Iterator[tuple[str, str | None]]:
    vpcs = s.of_type("aws:ec2/vpc:Vpc")
    defaults = s.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    for vpc in vpcs:
        groups = [d for d in defaults if vpc in s.referenced(d, "vpcId", d.get("vpcId"), vpcs)]
        if not groups:
            yield (f"VPC {vpc.label} has no DefaultSecurityGroup resource: its default group keeps AWS's "
                   "allow-all-within-group rules. Adopt it with aws.ec2.DefaultSecurityGroup and no rules.", vpc.urn)
        for d in groups:
            open_rules = [k for k in ("ingress", "egress") if as_list(d.get(k))]
            if open_rules:
                yield (f"{' and '.join(open_rules)} of {d.label} are not empty; remove every rule of the default "
                       "security group.", d.urn)
