"""The security group that application clients of the data stores attach, with the egress they need.

``AppClients`` (type ``data-platform:aws:AppClients``) creates, parented to itself:

* a security group in the given VPC (and region) that application instances, tasks or pods attach;
  every store admits it on its own port only (the stores' ``allow_from``);
* egress rules, added by :meth:`AppClients.reach`, to each store's security group on the store's
  client ports only.

Why the egress rules: a security group created through the provider has **no** egress rule — the
provider removes AWS's default allow-all egress (``aws_security_group`` "removes the default rule").
A client carrying only this group could not open a connection to any store. The rules reference the
store's group, never a CIDR, so the group grants exactly "talk to the data stores".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import ArgsError, child_opts, merge_tags, slug

TYPE_TOKEN = "data-platform:aws:AppClients"


@dataclass(frozen=True)
class AppClientsArgs:
    """Inputs of :class:`AppClients`."""

    name: str
    """Name of the stack's resources (``data-platform-production``); the group is ``<name>-app-*``."""
    vpc_id: pulumi.Input[str]
    """VPC of the clients (and of the stores they reach)."""
    region: str | None = None
    """Region of the group, for the DR region's clients after a promotion. Default: the provider's."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every child (merged with ``component=app-clients``). Default: {}."""


class AppClients(pulumi.ComponentResource):
    """The application clients' security group and its egress to the stores; see the module docstring."""

    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: AppClientsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.name:
            raise ArgsError("AppClientsArgs", "name", args.name, "a non-empty name")
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name, self._args = name, args
        self._tags = merge_tags(args.tags, component="app-clients")
        self._keys: set[str] = set()
        sg = aws.ec2.SecurityGroup(
            name, vpc_id=args.vpc_id, name_prefix=f"{args.name}-app-", region=args.region,
            description="Application clients of the data stores (attach to app instances and pods)",
            tags={**self._tags, "Name": f"{args.name}-app-clients"}, opts=child_opts(self))
        self.security_group_id = sg.id
        self.register_outputs({"securityGroupId": self.security_group_id})

    def reach(self, store: str, security_group_id: pulumi.Input[str], ports: Sequence[int]) -> \
            list[aws.vpc.SecurityGroupEgressRule]:
        """Let the clients open TCP connections to ``security_group_id`` (the store's group) on ``ports``.

        ``store`` names the rules (``<name>-to-<store>-<port>``) and must be unique per component."""
        key = slug(store)
        if not key or key in self._keys:
            raise ArgsError("AppClients.reach", "store", store, "a unique, non-empty store name")
        if not ports or any(not 1 <= p <= 65535 for p in ports):
            raise ArgsError("AppClients.reach", "ports", tuple(ports), "one or more ports in 1..65535")
        self._keys.add(key)
        return [aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-to-{key}-{port}", security_group_id=self.security_group_id,
            referenced_security_group_id=security_group_id, ip_protocol="tcp", from_port=port, to_port=port,
            description=f"to {store} on {port}", region=self._args.region, tags=self._tags,
            opts=child_opts(self)) for port in sorted(set(ports))]
