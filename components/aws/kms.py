"""Customer-managed KMS keys, one per purpose, in one region, with explicit key policies and aliases.

``Keys`` (type ``data-platform:aws:Keys``) creates, parented to itself, per purpose:

* a symmetric ``ENCRYPT_DECRYPT`` key: rotation on (every ``rotation_period_days``), a 30-day
  deletion window, and an explicit key policy (below);
* an alias ``alias/<alias_prefix>-<purpose>`` (aliases are regional: the DR ``Keys`` uses the same
  names in its region).

Key policy (built with ``json.dumps``; the account id from ``account_id`` or sts:GetCallerIdentity):

* ``RootAccountAdmin``: ``kms:*`` for ``arn:aws:iam::<account>:root`` — the only ``kms:*`` grant. It
  lets IAM policies in the account grant key use (e.g. :meth:`Keys.grant_encrypt_decrypt`), as AWS's
  default key policy does, and keeps the key manageable;
* ``logs``: ``logs.<region>.amazonaws.com`` may use the key only for log groups of this account and
  region (``kms:EncryptionContext:aws:logs:arn``);
* ``sns``: ``cloudwatch.amazonaws.com`` (alarm actions) and ``events.rds.amazonaws.com`` (RDS event
  subscriptions) publish to encrypted topics, so each may ``kms:Decrypt`` / ``kms:GenerateDataKey*``
  (AWS's documented statement, no source condition): without its statement a service's messages to
  an encrypted topic are dropped silently. Principals of the account may use the key through SNS;
* ``rds``, ``elasticache``, ``s3``, ``secrets``, ``ebs``, ``eks``: principals of the account may use
  the key only through that service (``kms:ViaService`` + ``kms:CallerAccount``, the shape of AWS's
  own ``aws/<service>`` key policies); grants only for AWS resources;
* ``ebs`` with ``autoscaling_service_linked_role`` also admits the EC2 Auto Scaling service-linked role
  (EKS managed node groups launch encrypted volumes through it). The role is matched with
  ``Principal "*"`` and an ``aws:PrincipalArn`` condition, not named as the principal: a key policy
  naming a role that does not exist yet is rejected (``MalformedPolicyDocumentException``), and in a
  fresh account the role is only created by the first Auto Scaling group — after the key.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import ArgsError, Problems, child_opts, merge_tags

TYPE_TOKEN = "data-platform:aws:Keys"
DEFAULT_PURPOSES = ("rds", "elasticache", "s3", "logs", "secrets", "sns", "ebs", "eks")
VIA_SERVICE = {
    "rds": "rds", "elasticache": "elasticache", "s3": "s3", "secrets": "secretsmanager", "sns": "sns",
    "ebs": "ec2", "eks": "eks",
}
"""Purpose → the service (``<service>.<region>.amazonaws.com``) through which the account may use the key."""
KNOWN_PURPOSES = (*VIA_SERVICE, "logs")
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]

_PREFIX = re.compile(r"^[a-zA-Z0-9/_-]{1,200}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class KeysArgs:
    """Inputs of :class:`Keys`."""

    region: str
    """Region of the keys, e.g. "us-east-1" (and "us-west-2" for the DR keys); passed to every child and
    used in the service principals and ``kms:ViaService`` conditions."""
    purposes: Sequence[str] = DEFAULT_PURPOSES
    """One key per purpose, from rds, elasticache, s3, logs, secrets, sns, ebs, eks. Default: all eight."""
    alias_prefix: str = "data-platform"
    """Aliases are ``alias/<alias_prefix>-<purpose>`` (letters, digits, '/', '_', '-'; not starting with
    "aws"). Default: data-platform."""
    account_id: str | None = None
    """AWS account (12 digits) for the key policy. Default: the caller's account (sts:GetCallerIdentity)."""
    rotation_period_days: int = 365
    """Automatic rotation period, 90..2560 days. Rotation is always on (stricter than CDK's default).
    Default: 365."""
    deletion_window_days: int = 30
    """Waiting period before a scheduled deletion, 7..30 days. Default: 30."""
    autoscaling_service_linked_role: bool = False
    """Admit ``AWSServiceRoleForAutoScaling`` on the ``ebs`` key (EKS managed node groups with encrypted
    launch templates need it; the role need not exist yet). Default: False (no Auto Scaling group)."""
    protect: bool = False
    """Protect the keys and retain them on delete (production). Default: False."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every key (merged with ``component=keys`` and ``purpose``). Default: {}."""


def validate_keys_args(args: KeysArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("KeysArgs")
    if not _REGION.match(args.region):
        problems.add("region", args.region, "a region name like us-east-1")
    purposes = list(args.purposes)
    unknown = [p for p in purposes if p not in KNOWN_PURPOSES]
    if not purposes or unknown or len(set(purposes)) != len(purposes):
        problems.add("purposes", args.purposes, f"distinct values from {', '.join(KNOWN_PURPOSES)}")
    if not _PREFIX.match(args.alias_prefix) or args.alias_prefix.lower().startswith("aws"):
        problems.add("alias_prefix", args.alias_prefix, "letters, digits, '/', '_', '-'; not starting with aws")
    if args.account_id is not None and not _ACCOUNT.match(args.account_id):
        problems.add("account_id", args.account_id, "12 digits, or None for the caller's account")
    if not 90 <= args.rotation_period_days <= 2560:
        problems.add("rotation_period_days", args.rotation_period_days, "90..2560")
    if not 7 <= args.deletion_window_days <= 30:
        problems.add("deletion_window_days", args.deletion_window_days, "7..30")
    problems.raise_any()


def autoscaling_role_arn(account: str) -> str:
    """ARN of the EC2 Auto Scaling service-linked role of ``account``."""
    return f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


def key_policy(purpose: str, account: str, region: str, *, autoscaling_role: bool = False) -> dict[str, Any]:
    """The key policy document of a ``purpose`` key (pure)."""
    root = f"arn:aws:iam::{account}:root"
    statements: list[dict[str, Any]] = [{
        "Sid": "RootAccountAdmin",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "kms:*",
        "Resource": "*",
    }]
    if purpose == "logs":
        statements.append({
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}},
        })
    if purpose == "sns":
        statements.append({
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            # AWS's documented statement has no source condition; whether CloudWatch sends aws:SourceArn on
            # these KMS calls is not documented, and a condition that does not match drops alarms silently.
            # The topic policy (who may publish) is the guard; the key only covers topics it encrypts.
        })
        statements.append({
            "Sid": "RdsEventsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "events.rds.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            # RDS event subscriptions publish to the encrypted alarm topics; same reasoning as above.
        })
    service = VIA_SERVICE.get(purpose)
    if service is not None:
        via = {"kms:ViaService": f"{service}.{region}.amazonaws.com", "kms:CallerAccount": account}
        statements.append({
            "Sid": f"UseVia{service.capitalize()}",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": via},
        })
        statements.append({
            "Sid": f"GrantsVia{service.capitalize()}",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": GRANT_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": via, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        })
    if purpose == "ebs" and autoscaling_role:
        # Principal "*" + aws:PrincipalArn: KMS validates principals named in a policy, and this role
        # does not exist in a fresh account until the first Auto Scaling group creates it.
        slr = {"ArnEquals": {"aws:PrincipalArn": autoscaling_role_arn(account)}}
        statements.append({
            "Sid": "AutoScalingServiceLinkedRoleUse",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": slr,
        })
        statements.append({
            "Sid": "AutoScalingServiceLinkedRoleGrants",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {**slr, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        })
    return {"Version": "2012-10-17", "Id": f"data-platform-{purpose}", "Statement": statements}


def _policy_json(purpose: str, account: str, *, region: str, autoscaling_role: bool) -> str:
    return json.dumps(key_policy(purpose, account, region, autoscaling_role=autoscaling_role))


class Keys(pulumi.ComponentResource):
    """Per-purpose customer-managed KMS keys in one region; see the module docstring."""

    arns: dict[str, pulumi.Output[str]]
    key_ids: dict[str, pulumi.Output[str]]
    aliases: dict[str, str]
    region: str

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_keys_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name_prefix = name
        account: pulumi.Output[str] = (
            pulumi.Output.from_input(args.account_id) if args.account_id is not None
            else aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id)
        self.arns, self.key_ids, self.aliases = {}, {}, {}
        self.region = args.region
        for purpose in args.purposes:
            policy = account.apply(functools.partial(
                _policy_json, purpose, region=args.region, autoscaling_role=args.autoscaling_service_linked_role))
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{args.alias_prefix} {purpose} ({args.region})",
                key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT",
                enable_key_rotation=True, rotation_period_in_days=args.rotation_period_days,
                deletion_window_in_days=args.deletion_window_days, policy=policy, region=args.region,
                tags=merge_tags(args.tags, component="keys", purpose=purpose),
                opts=child_opts(self, stateful=True, protect=args.protect))
            alias = f"alias/{args.alias_prefix}-{purpose}"
            aws.kms.Alias(f"{name}-{purpose}", name=alias, target_key_id=key.key_id, region=args.region,
                          opts=child_opts(self))
            self.arns[purpose] = key.arn
            self.key_ids[purpose] = key.key_id
            self.aliases[purpose] = alias
        self.register_outputs({"arns": self.arns, "key_ids": self.key_ids, "aliases": self.aliases,
                               "region": self.region})

    def arn(self, purpose: str) -> pulumi.Output[str]:
        """ARN of the ``purpose`` key; :class:`ArgsError` for a purpose this component has no key for."""
        if purpose not in self.arns:
            raise ArgsError("Keys", "purpose", purpose, f"one of {', '.join(self.arns)}")
        return self.arns[purpose]

    def grant_encrypt_decrypt(self, purpose: str, role_name: pulumi.Input[str], *, label: str) -> aws.iam.RolePolicy:
        """Let the IAM role ``role_name`` encrypt and decrypt with the ``purpose`` key (an inline role policy
        named after ``label``, unique per call); returns the policy so callers can depend on it."""
        key_arn = self.arn(purpose)
        return aws.iam.RolePolicy(
            f"{self._name_prefix}-{purpose}-{label}", role=role_name,
            policy=key_arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "UseKey", "Effect": "Allow", "Action": USE_ACTIONS, "Resource": arn}],
            })),
            opts=child_opts(self))
