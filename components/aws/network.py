"""The VPC of the data tier: isolated data subnets, compute subnets, optional NAT, endpoints, flow logs.

``Network`` (type ``data-platform:aws:Network``) creates, parented to itself:

* a VPC (DNS support and hostnames on) over ``az_names`` (an explicit list: no AZ lookup);
* per AZ, a ``tier=data`` subnet: databases (RDS, ElastiCache). Their route table has **no default
  route at all** (no internet gateway, no NAT): the databases have no egress; the only non-local
  route is the S3 gateway endpoint's prefix list;
* per AZ, a ``tier=compute`` subnet (``compute_subnets``) for EKS nodes and EC2 members, with a
  route table per AZ whose default route goes to a NAT gateway when ``nat`` is not ``"none"``;
* ``tier=public`` subnets + an internet gateway + NAT gateways (with Elastic IPs) only when
  ``nat`` is ``"single"`` (one NAT in the first AZ, dev) or ``"perAz"`` (one per AZ). Public
  subnets never map public IPs on launch: only the NAT gateways live there;
* an S3 gateway endpoint on every private route table, and interface endpoints (private DNS on)
  for ``interface_endpoints`` in the compute subnets (the data subnets when there are none),
  behind one security group admitting 443 from the VPC CIDR only;
* VPC flow logs (ALL traffic) to a KMS-encrypted CloudWatch log group, through a role trusted by
  ``vpc-flow-logs.amazonaws.com`` (confused-deputy guarded) that may only write to that group;
* the default security group taken over with no rules.

Subnet CIDRs are carved with :mod:`ipaddress` into ``/subnet_prefix_length`` blocks at fixed slots
(``tier_index * len(az_names) + az_index``, tiers data, compute, public): the layout does not move
when NAT or compute subnets are switched on later.

The DR network is the same component with ``region="us-west-2"``, two AZs, ``nat="none"``,
``compute_subnets=False`` and ``interface_endpoints=DR_INTERFACE_ENDPOINTS``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.base import Problems, child_opts, merge_tags

TYPE_TOKEN = "data-platform:aws:Network"
NAME_MAX = 40
"""Longest ``NetworkArgs.name``: the derived names (flow-log role, log group, tags) stay within IAM's
64-character role names. Use :func:`components.base.fit_name` to derive a name that fits."""
NatMode = Literal["none", "single", "perAz"]
NAT_MODES = ("none", "single", "perAz")
TIERS = ("data", "compute", "public")
"""Subnet tiers in CIDR slot order: slot = tier index × number of AZs + AZ index."""
DEFAULT_INTERFACE_ENDPOINTS = (
    "kms", "secretsmanager", "logs", "monitoring",  # encryption, credentials, logs and metrics
    "sts", "ssm", "ssmmessages", "ec2messages",  # IRSA + SSM-managed EC2 members without internet
    "ecr.api", "ecr.dkr",  # EKS image pulls (layers come through the S3 gateway endpoint)
)
DR_INTERFACE_ENDPOINTS = ("kms", "logs", "monitoring", "secretsmanager")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_AZ = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_SERVICE = re.compile(r"^[a-z0-9]+(\.[a-z0-9-]+)*$")


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of :class:`Network`."""

    az_names: Sequence[str]
    """Availability zones, e.g. ("us-east-1a", "us-east-1b", "us-east-1c"): 2..6 distinct names in
    ``region``. Given explicitly (no AZ lookup at preview time)."""
    logs_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key (purpose ``logs``, same region) for the flow-log group; its policy must
    allow ``logs.<region>.amazonaws.com``."""
    name: str = "data-platform"
    """Prefix of Name tags and the flow-log group ``/aws/vpc/flow-logs/<name>``. Lowercase letters,
    digits and single hyphens, at most 40 characters. Default: data-platform."""
    cidr: str = "10.0.0.0/16"
    """VPC IPv4 CIDR (RFC 1918). Must hold 3 tiers × len(az_names) subnets of ``subnet_prefix_length``.
    Default: 10.0.0.0/16."""
    subnet_prefix_length: int = 20
    """Prefix length of every subnet (16..28): a /20 holds 4,091 addresses (EKS pods take one each).
    Default: 20."""
    nat: NatMode = "perAz"
    """NAT for the compute subnets: "none" (no public subnets, no internet gateway, no egress),
    "single" (one NAT in the first AZ; dev: an AZ outage cuts egress) or "perAz" (one NAT per AZ).
    Data subnets never route to a NAT. Default: perAz."""
    compute_subnets: bool = True
    """Create ``tier=compute`` private subnets (EKS nodes, EC2 members). Default: True."""
    interface_endpoints: Sequence[str] = DEFAULT_INTERFACE_ENDPOINTS
    """Interface endpoint services (``com.amazonaws.<region>.<service>``), private DNS on. Default: kms,
    secretsmanager, logs, monitoring, sts, ssm, ssmmessages, ec2messages, ecr.api, ecr.dkr."""
    s3_gateway_endpoint: bool = True
    """S3 gateway endpoint on every private route table (free; backups and ECR layers). Default: True."""
    flow_log_retention_days: int = 365
    """Retention of the flow-log group (a CloudWatch Logs retention value). Default: 365."""
    flow_log_aggregation_seconds: int = 600
    """Flow-log aggregation interval, 60 or 600 seconds. Default: 600."""
    region: str | None = None
    """Region of every child (pulumi-aws 7 per-resource region), e.g. "us-west-2" for the DR network.
    Default: None (the provider's region)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable child (merged with ``component=network`` and a Name). Default: {}."""


def subnet_layout(cidr: str, az_count: int, prefix_length: int) -> dict[str, list[str]]:
    """CIDRs per tier (``data``, ``compute``, ``public``), one per AZ, at fixed slots (pure)."""
    net = ipaddress.ip_network(cidr)
    blocks = net.subnets(new_prefix=prefix_length)
    wanted = len(TIERS) * az_count
    taken = [str(b) for _, b in zip(range(wanted), blocks, strict=False)]
    return {tier: taken[i * az_count:(i + 1) * az_count] for i, tier in enumerate(TIERS)}


def validate_network_args(args: NetworkArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("NetworkArgs")
    if not (_NAME.match(args.name) and len(args.name) <= NAME_MAX):
        problems.add("name", args.name, "lowercase letters, digits and single '-', at most 40 characters")
    azs = list(args.az_names)
    if not 2 <= len(azs) <= 6 or len(set(azs)) != len(azs) or not all(_AZ.match(a) for a in azs):
        problems.add("az_names", args.az_names, "2..6 distinct AZ names like us-east-1a")
    if args.region is not None:
        if not _REGION.match(args.region):
            problems.add("region", args.region, "a region name like us-west-2, or None")
        wrong = [a for a in azs if a[:-1] != args.region]
        if wrong:
            problems.add("az_names", args.az_names, f"AZs of region {args.region}; {wrong} are not")
    if len({a[:-1] for a in azs}) != 1:
        problems.add("az_names", args.az_names, "AZs of a single region")
    if not 16 <= args.subnet_prefix_length <= 28:
        problems.add("subnet_prefix_length", args.subnet_prefix_length, "16..28")
    try:
        net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = ipaddress.ip_network(args.cidr)
    except ValueError:
        net = None
        problems.add("cidr", args.cidr, "an IPv4 network like 10.0.0.0/16 (host bits zero)")
    needed = len(TIERS) * len(azs)
    room = 2 ** (args.subnet_prefix_length - net.prefixlen) \
        if net is not None and args.subnet_prefix_length >= net.prefixlen else 0
    if net is not None and (net.version != 4 or not net.is_private or not 16 <= net.prefixlen <= 28):
        problems.add("cidr", args.cidr, "a private (RFC 1918) IPv4 network between /16 and /28")
    elif net is not None and room < needed:
        bits = (needed - 1).bit_length()
        problems.add(
            "cidr", args.cidr,
            f"too small: {len(TIERS)} tiers x {len(azs)} AZs need {needed} /{args.subnet_prefix_length} subnets "
            f"and it holds {room}; use a /{args.subnet_prefix_length - bits} or larger VPC, or a longer "
            "subnet_prefix_length")
    if args.nat not in NAT_MODES:
        problems.add("nat", args.nat, " | ".join(NAT_MODES))
    if args.nat != "none" and not args.compute_subnets:
        problems.add("nat", args.nat,
                     "'none' when compute_subnets is False: data subnets never route to a NAT")
    services = list(args.interface_endpoints)
    if len(set(services)) != len(services) or not all(_SERVICE.match(s) for s in services):
        problems.add("interface_endpoints", args.interface_endpoints,
                     "distinct service suffixes like kms, ecr.api")
    if args.flow_log_retention_days not in LOG_RETENTION_DAYS:
        problems.add("flow_log_retention_days", args.flow_log_retention_days,
                     f"a CloudWatch Logs retention: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    if args.flow_log_aggregation_seconds not in (60, 600):
        problems.add("flow_log_aggregation_seconds", args.flow_log_aggregation_seconds, "60 or 600")
    problems.raise_any()


def _service_name(service: str, region: str) -> str:
    return f"com.amazonaws.{region}.{service}"


class Network(pulumi.ComponentResource):
    """VPC with isolated data subnets; see the module docstring for what it creates."""

    vpc_id: pulumi.Output[str]
    cidr: str
    az_names: list[str]
    data_subnet_ids: list[pulumi.Output[str]]
    compute_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str] | None
    """None when ``interface_endpoints`` is empty."""
    region: str | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_network_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        region = args.region
        azs = list(args.az_names)
        layout = subnet_layout(args.cidr, len(azs), args.subnet_prefix_length)
        base = merge_tags(args.tags, component="network")

        def tags(label: str, **extra: str) -> dict[str, str]:
            return merge_tags(base, Name=f"{args.name}-{label}", **extra)

        o = child_opts(self)
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, region=region, tags=tags("vpc"), opts=o)
        # Region and account come from the VPC's ARN (arn:aws:ec2:<region>:<account>:vpc/<id>): no invoke.
        region_name = vpc.arn.apply(lambda arn: arn.split(":")[3])
        account_id = vpc.arn.apply(lambda arn: arn.split(":")[4])
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], region=region,
                                     tags=tags("default-do-not-use"), opts=o)

        # Data tier: one route table, no default route (no IGW, no NAT); S3 gateway only.
        data_rt = aws.ec2.RouteTable(f"{name}-data-rt", vpc_id=vpc.id, region=region, tags=tags("data", tier="data"),
                                     opts=o)
        data_subnets: list[aws.ec2.Subnet] = []
        for az, cidr in zip(azs, layout["data"], strict=True):
            sn = aws.ec2.Subnet(f"{name}-data-{az}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                                map_public_ip_on_launch=False, region=region,
                                tags=tags(f"data-{az}", tier="data"), opts=o)
            aws.ec2.RouteTableAssociation(f"{name}-data-{az}", route_table_id=data_rt.id, subnet_id=sn.id,
                                          region=region, opts=o)
            data_subnets.append(sn)

        public_subnets: list[aws.ec2.Subnet] = []
        nats: list[aws.ec2.NatGateway] = []
        if args.nat != "none":
            igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, region=region, tags=tags("igw"), opts=o)
            public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, region=region,
                                           tags=tags("public", tier="public"), opts=o)
            aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                          gateway_id=igw.id, region=region, opts=o)
            for az, cidr in zip(azs, layout["public"], strict=True):
                sn = aws.ec2.Subnet(f"{name}-public-{az}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                                    map_public_ip_on_launch=False, region=region,
                                    tags=tags(f"public-{az}", tier="public", **{"kubernetes.io/role/elb": "1"}),
                                    opts=o)
                aws.ec2.RouteTableAssociation(f"{name}-public-{az}", route_table_id=public_rt.id, subnet_id=sn.id,
                                              region=region, opts=o)
                public_subnets.append(sn)
            for az, sn in zip(azs[:1] if args.nat == "single" else azs, public_subnets, strict=False):
                eip = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", region=region, tags=tags(f"nat-{az}"), opts=o)
                # A VPC Elastic IP's id is its allocation id (eipalloc-…), known from the mocks too.
                nats.append(aws.ec2.NatGateway(f"{name}-nat-{az}", allocation_id=eip.id,
                                               subnet_id=sn.id, connectivity_type="public", region=region,
                                               tags=tags(f"nat-{az}"), opts=child_opts(self, depends_on=[igw])))

        compute_subnets: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = [data_rt]
        if args.compute_subnets:
            for i, (az, cidr) in enumerate(zip(azs, layout["compute"], strict=True)):
                rt = aws.ec2.RouteTable(f"{name}-compute-rt-{az}", vpc_id=vpc.id, region=region,
                                        tags=tags(f"compute-{az}", tier="compute"), opts=o)
                if nats:
                    nat = nats[i] if args.nat == "perAz" else nats[0]
                    aws.ec2.Route(f"{name}-compute-default-{az}", route_table_id=rt.id,
                                  destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, region=region, opts=o)
                sn = aws.ec2.Subnet(f"{name}-compute-{az}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                                    map_public_ip_on_launch=False, region=region,
                                    tags=tags(f"compute-{az}", tier="compute",
                                              **{"kubernetes.io/role/internal-elb": "1"}), opts=o)
                aws.ec2.RouteTableAssociation(f"{name}-compute-{az}", route_table_id=rt.id, subnet_id=sn.id,
                                              region=region, opts=o)
                private_rts.append(rt)
                compute_subnets.append(sn)

        if args.s3_gateway_endpoint:
            aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=vpc.id, vpc_endpoint_type="Gateway",
                                service_name=region_name.apply(functools.partial(_service_name, "s3")),
                                route_table_ids=[rt.id for rt in private_rts], region=region,
                                tags=tags("s3"), opts=o)

        endpoint_sg: aws.ec2.SecurityGroup | None = None
        if args.interface_endpoints:
            endpoint_sg = aws.ec2.SecurityGroup(f"{name}-endpoints", vpc_id=vpc.id,
                                                description="VPC interface endpoints: HTTPS from the VPC",
                                                region=region, tags=tags("endpoints"), opts=o)
            aws.vpc.SecurityGroupIngressRule(f"{name}-endpoints-https", security_group_id=endpoint_sg.id,
                                             ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4=args.cidr,
                                             description="HTTPS from the VPC", region=region,
                                             tags=tags("endpoints-https"), opts=o)
            endpoint_subnets = compute_subnets or data_subnets
            for service in args.interface_endpoints:
                aws.ec2.VpcEndpoint(f"{name}-{service.replace('.', '-')}", vpc_id=vpc.id,
                                    vpc_endpoint_type="Interface", private_dns_enabled=True,
                                    service_name=region_name.apply(functools.partial(_service_name, service)),
                                    subnet_ids=[sn.id for sn in endpoint_subnets],
                                    security_group_ids=[endpoint_sg.id], region=region, tags=tags(service), opts=o)

        # Flow logs: created log group (KMS, retention) + a role that may only write to it.
        log_group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", name=f"/aws/vpc/flow-logs/{args.name}",
                                            kms_key_id=args.logs_kms_key_arn,
                                            retention_in_days=args.flow_log_retention_days, region=region,
                                            tags=tags("flow-logs"), opts=o)
        trust = pulumi.Output.all(account_id, region_name).apply(lambda v: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": v[0]},
                              "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{v[1]}:{v[0]}:vpc-flow-log/*"}},
            }],
        }))
        role = aws.iam.Role(f"{name}-flow-logs", assume_role_policy=trust,
                            description=f"VPC flow logs of {args.name}", tags=base, opts=o)
        aws.iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=log_group.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "WriteFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                           "logs:DescribeLogGroups"],
                "Resource": [arn, f"{arn}:*"],
            }],
        })), opts=o)
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=vpc.id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=log_group.arn,
                        iam_role_arn=role.arn, max_aggregation_interval=args.flow_log_aggregation_seconds,
                        region=region, tags=tags("flow-log"), opts=o)

        self.vpc_id = vpc.id
        self.cidr = args.cidr
        self.az_names = azs
        self.region = region
        self.data_subnet_ids = [sn.id for sn in data_subnets]
        self.compute_subnet_ids = [sn.id for sn in compute_subnets]
        self.public_subnet_ids = [sn.id for sn in public_subnets]
        self.endpoint_security_group_id = endpoint_sg.id if endpoint_sg is not None else None
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "cidr": self.cidr,
            "az_names": self.az_names,
            "data_subnet_ids": self.data_subnet_ids,
            "compute_subnet_ids": self.compute_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "endpoint_security_group_id": self.endpoint_security_group_id,
        })
