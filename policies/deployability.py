"""Deployability: inputs the provider or AWS will not accept, or will accept and then misbehave with.

FSBP, Checkov and AWSGuard judge compliance; the rules here know how pulumi-aws (the Terraform AWS
provider underneath it), the AWS APIs, Kubernetes and the images the program runs behave, so that
a stack which passes under mocks also survives ``pulumi up`` and the ``up`` after it. Every rule
names the upstream issue it encodes (``upstream:<owner>/<repo>#<n>`` requirements, ``upstream:docs:…``
for documented behaviour; COVERAGE.md lists them with links).

Mandatory where ``pulumi up`` fails or plans a destructive replacement; advisory where the stack
deploys but misbehaves afterwards (dropped notifications, clients that cannot connect out, evicted
pods). Levels and thresholds are overridable in the pack config.

Resource options: ``pulumi_policy`` 1.21 hands policies ``opts.protect``, ``opts.ignore_changes``
and ``opts.delete_before_replace`` (``AnalyzerResourceOptions``; ``Resource.options`` here). The
offline review (``review/mocks.py``) records ``protect`` but neither ``ignoreChanges`` nor
``deleteBeforeReplace``, and ``review/analyzer.py`` forwards only ``protect`` and ``ignoreChanges``
from a recorded resource: under ``python -m review`` a ``delete_before_replace=True`` set in the
program is invisible, so ``ec2-volume-attachment-replacement`` still reports it there (the real
CLI sends the option).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from policies._base import (
    ADVISORY,
    EC2_INSTANCE,
    EKS_CLUSTER,
    IAM_POLICY,
    IAM_ROLE,
    K8S_DEPLOYMENT,
    K8S_POD,
    K8S_STATEFULSET,
    KMS_KEY,
    KMS_KEY_POLICY,
    LAUNCH_TEMPLATE,
    LOG_GROUP,
    MANDATORY,
    METRIC_ALARM,
    RDS_INSTANCE,
    REDIS_GROUP,
    REGION_CONFIG,
    S3_BUCKET_TYPES,
    S3_REPLICATION,
    SECRET,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SG_INGRESS_RULE,
    SNS_TOPIC,
    SNS_TOPIC_POLICY,
    UNKNOWN,
    Resource,
    Stack,
    arn_region,
    as_dict,
    as_list,
    dig,
    falsy_explicit,
    identifiers,
    number,
    policy_document,
    resource_policy,
    stack_policy,
    statements,
    str_list,
    truthy,
)

CONCERN = "deployability"

VOLUME_ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
SG_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
IAM_USER = "aws:iam/user:User"
RDS_EVENT_SUBSCRIPTION = "aws:rds/eventSubscription:EventSubscription"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
S3_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
BACKUP_VAULT_NOTIFICATIONS = "aws:backup/vaultNotifications:VaultNotifications"
KMS_ALIAS = "aws:kms/alias:Alias"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRONJOB = "kubernetes:batch/v1:CronJob"
POD_TEMPLATES = (K8S_DEPLOYMENT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_JOB, K8S_CRONJOB, K8S_POD)


# -- helpers ------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return repr(value) if value is not None else "not set"


def _ignored(r: Resource, prop: str) -> bool:
    """``prop`` (or a parent path of it) is in the resource's ignoreChanges option."""
    return any(p == prop or prop.startswith(p + ".") or prop.startswith(p + "[")
               for p in str_list(r.options.get("ignoreChanges")))


def refs(s: Stack, r: Resource, prop: str, candidates: Sequence[Resource],
         value: Any = None) -> list[Resource]:
    """Candidates that ``r``'s input ``prop`` refers to.

    ``propertyDependencies[prop]`` is authoritative when recorded (the CLI and the review send it):
    a group id that resolved to a resource outside ``candidates`` (an EKS-managed group) is no
    reference to any of them. Otherwise a known value is matched against the candidates'
    identifying inputs (ARN suffixes included). Unlike :meth:`Stack.referenced`, plain
    ``dependencies`` never count: a rule's dependencies also hold the group the rule belongs to
    (an unknown id with no recorded property dependencies refers to nothing the policy can name).
    """
    urns = {c.urn for c in candidates}
    if prop in r.property_dependencies:
        return [s.by_urn[u] for u in r.property_dependencies[prop] if u in urns]
    raw = r.get(prop) if value is None else value
    values = {v for v in _flat_strings(raw)}
    if values:
        hits = [c for c in candidates if values & identifiers(c) or any(_arn_names(v, c) for v in values)]
        if hits:
            return hits
    return []


def _flat_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _flat_strings(v)


def _arn_names(value: str, c: Resource) -> bool:
    """``value`` is an ARN whose last segment is the candidate's name (``…:topic-name``, ``…/role``)."""
    if not value.startswith("arn:"):
        return False
    tail = re.split(r"[:/]", value)[-1]
    return any(isinstance(n, str) and n and tail == n for n in (c.get("name"), c.get("identifier")))


def _gib(quantity: Any) -> float | None:
    """A Kubernetes quantity (``200Gi``, ``100G``, ``512Mi``, bytes) in GiB."""
    if isinstance(quantity, bool) or quantity is None or quantity is UNKNOWN:
        return None
    if isinstance(quantity, int | float):
        return float(quantity) / 2**30
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGTPE]i?|k|m)?\s*", str(quantity))
    if not m:
        return None
    value = float(m.group(1))
    unit = m.group(2) or ""
    scale = {"": 1, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}[unit]
    return value * scale / 2**30


def _verb(rs: Sequence[Resource], singular: str, plural: str) -> str:
    return singular if len({r.urn for r in rs}) == 1 else plural


def _labels(rs: Iterable[Resource], limit: int = 3) -> str:
    names = sorted({r.label for r in rs})
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- a. replace-forcing inputs of read replicas ----------------------------------------------------------------

_RDS_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:rds:(?P<region>[a-z0-9-]+):\d*:db:(?P<id>.+)$")


def _replica_source(s: Stack, r: Resource, src: Any) -> Resource | None:
    others = [c for c in s.of_type(RDS_INSTANCE) if c.urn != r.urn]
    if isinstance(src, str):
        m = _RDS_ARN.match(src)
        ident = m.group("id") if m else src
        hits = [c for c in others if c.get("identifier") == ident]
        if len(hits) == 1:
            return hits[0]
    hits = refs(s, r, "replicateSourceDb", others)
    if not hits and "replicateSourceDb" not in r.property_dependencies:
        hits = [s.by_urn[u] for u in r.dependencies if u in {c.urn for c in others}]
    return hits[0] if len(hits) == 1 else None


@stack_policy(
    name="rds-replica-replace-forcing-inputs", concern=CONCERN, level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("upstream:hashicorp/terraform-provider-aws#3470",
                  "upstream:terraform-aws-modules/terraform-aws-rds#432"),
    description="Read replicas set the replace-forcing inputs the provider reads back from the source: "
                "storageEncrypted of an encrypted source, the source's key on a same-region replica, and a key "
                "of the replica's region (with the source named by ARN) on a cross-region replica.",
    remediation="On every replica of an encrypted source set storage_encrypted=True; leave kms_key_id unset or "
                "equal to the source's key in the source region; across regions name the source by ARN and set "
                "kms_key_id to a key of the replica's region.",
    config=REGION_CONFIG,
    severity="high",
)
def rds_replica_replace_forcing_inputs(s: Stack) -> Iterator[tuple[str, str | None]]:
    for r in s.of_type(RDS_INSTANCE):
        src_id = r.get("replicateSourceDb")
        if not (src_id is UNKNOWN or (isinstance(src_id, str) and src_id)):
            continue
        source = _replica_source(s, r, src_id)
        src_encrypted = None if source is None else truthy(source.get("storageEncrypted"))
        if source is not None and source.get("storageEncrypted") is UNKNOWN:
            src_encrypted = None
        of = f"of {source.label}" if source is not None else f"of {src_id!r}"
        enc = r.get("storageEncrypted")
        if src_encrypted is not False and enc is not UNKNOWN and not truthy(enc) \
                and not _ignored(r, "storageEncrypted"):
            cause = ("the source is encrypted" if src_encrypted else
                     "if the source is encrypted (it is not an instance of this stack)")
            yield (f"storageEncrypted is {_text(enc)} on read replica {r.label} {of}: {cause}, so AWS encrypts the "
                   "replica and the provider reads storageEncrypted back as true; the input forces replacement, so "
                   "every later `pulumi up` plans to replace the replica (terraform-provider-aws#3470). Set "
                   "storage_encrypted=True on the replica.", r.urn)
        src_region = arn_region(src_id) if isinstance(src_id, str) else None
        if source is not None and src_region is None:
            src_region = source.region
        region = r.region
        cross = bool(src_region and region and src_region != region)
        key = r.get("kmsKeyId")
        if cross and isinstance(src_id, str) and not src_id.startswith("arn:"):
            yield (f"replicateSourceDb is {src_id!r} on cross-region read replica {r.label} ({region}, source in "
                   f"{src_region}): CreateDBInstanceReadReplica finds a source in another region only by ARN, so the "
                   "create fails. Set replicate_source_db to the source's ARN.", r.urn)
        if cross and src_encrypted is not False and not (key is UNKNOWN or (isinstance(key, str) and key)):
            yield (f"kmsKeyId is not set on cross-region read replica {r.label} ({region}) {of}: a replica of an "
                   "encrypted source in another region needs a KMS key of its own region and the create fails "
                   f"without one. Set kms_key_id to a key in {region}.", r.urn)
        src_key = source.get("kmsKeyId") if source is not None else None
        if not cross and isinstance(key, str) and key and isinstance(src_key, str) and src_key and key != src_key \
                and not _ignored(r, "kmsKeyId"):
            yield (f"kmsKeyId on same-region read replica {r.label} is {key!r} but its source {of} uses {src_key!r}: "
                   "a same-region replica is always encrypted with the source's key, the provider reads that key "
                   "back and kmsKeyId forces replacement, so every `pulumi up` plans to replace the replica. Leave "
                   "kms_key_id unset or set it to the source's key.", r.urn)


# -- b. resolve:ssm AMI with block device mappings --------------------------------------------------------------


@resource_policy(
    name="ec2-ssm-ami-with-block-devices", concern=CONCERN, level=MANDATORY, types=(EC2_INSTANCE,),
    requirements=("upstream:hashicorp/terraform-provider-aws#43488",),
    description="EC2 instances that configure rootBlockDevice or ebsBlockDevices give a literal AMI id, not "
                "'resolve:ssm:<parameter>' (the provider looks the AMI up to map the devices).",
    remediation="Resolve the AMI at deploy time (aws.ssm.get_parameter_output(name=<parameter>).value, or "
                "aws.ec2.get_ami_output) and pass the ami-… id; keep ignore_changes=['ami'] so AMI releases do not "
                "replace the instance.",
    severity="high",
)
def ec2_ssm_ami_with_block_devices(r: Resource) -> Iterator[str]:
    ami = r.get("ami")
    if not (isinstance(ami, str) and ami.startswith("resolve:ssm:")):
        return
    devices = [k for k in ("rootBlockDevice", "ebsBlockDevices") if r.get(k) not in (None, [], {})]
    if devices:
        yield (f"ami is {ami!r} on {r.label} together with {' and '.join(devices)}: to map the block devices the "
               "provider calls DescribeImages with the literal 'resolve:ssm:…' string, EC2 rejects it "
               "(InvalidAMIID.Malformed) and the create fails (terraform-provider-aws#43488). Set ami to an AMI id "
               "resolved at deploy time (aws.ssm.get_parameter_output(name=…).value), keeping ignore_changes=['ami'].")


# -- c. volumeTags next to separately managed, attached volumes -------------------------------------------------


@stack_policy(
    name="ec2-volume-tags-with-attachments", concern=CONCERN, level=ADVISORY, types=(EC2_INSTANCE, VOLUME_ATTACHMENT),
    requirements=("upstream:hashicorp/terraform-provider-aws#770",
                  "upstream:hashicorp/terraform-provider-aws#12225"),
    description="EC2 instances that get separately managed volumes through VolumeAttachments do not set "
                "volumeTags (it applies to every attached volume; the volume's own tags and the instance then "
                "overwrite each other on every update).",
    remediation="Remove volume_tags from the instance, tag the root volume with root_block_device.tags and the "
                "data volumes on their aws.ebs.Volume (or add 'volumeTags' to ignore_changes).",
)
def ec2_volume_tags_with_attachments(s: Stack) -> Iterator[tuple[str, str | None]]:
    instances = s.of_type(EC2_INSTANCE)
    attached: dict[str, list[Resource]] = {}
    for att in s.of_type(VOLUME_ATTACHMENT):
        for inst in refs(s, att, "instanceId", instances):
            attached.setdefault(inst.urn, []).append(att)
    for inst in instances:
        tags = inst.get("volumeTags")
        if inst.urn not in attached or not (tags is UNKNOWN or as_dict(tags)) or _ignored(inst, "volumeTags"):
            continue
        atts = attached[inst.urn]
        yield (f"volumeTags is set on {inst.label} while {_labels(atts)} {_verb(atts, 'attaches', 'attach')} "
               "separately managed volumes to it: volumeTags applies to every volume attached to the instance, "
               "so the instance and the aws:ebs/volume:Volume tags overwrite each other on every `pulumi up` (the "
               "SDK's volume_tags note: do not combine with VolumeAttachment; terraform-provider-aws#770). Remove "
               "volume_tags and set root_block_device.tags instead.", inst.urn)


# -- d. security groups without egress --------------------------------------------------------------------------

_ATTACHING = (
    (EC2_INSTANCE, ("vpcSecurityGroupIds", "securityGroups")),
    (LAUNCH_TEMPLATE, ("vpcSecurityGroupIds", "securityGroupNames", "networkInterfaces")),
    (EKS_CLUSTER, ("vpcConfig",)),
)


@stack_policy(
    name="security-group-egress-defined", concern=CONCERN, level=ADVISORY,
    types=(SECURITY_GROUP, SG_EGRESS_RULE, SECURITY_GROUP_RULE, SG_INGRESS_RULE, EC2_INSTANCE, LAUNCH_TEMPLATE,
           EKS_CLUSTER),
    requirements=("upstream:hashicorp/terraform-provider-aws#40524",
                  "upstream:cloudposse/terraform-aws-ec2-bastion-server#19"),
    description="A security group whose members open connections (the source of another group's ingress, or "
                "attached to instances, launch templates or EKS clusters) has egress: the "
                "provider removes the allow-all egress AWS creates with a new VPC security group.",
    remediation="Add an aws.vpc.SecurityGroupEgressRule for the group (to the destination groups on their ports, "
                "or 0.0.0.0/0 through the NAT gateway), or an inline egress entry.",
    config={"exemptGroups": {"type": "array", "items": {"type": "string"}, "default": [],
                             "description": "Logical names of security groups allowed to have no egress."}},
)
def security_group_egress_defined(s: Stack) -> Iterator[tuple[str, str | None]]:
    groups = s.of_type(SECURITY_GROUP)
    exempt = set(str_list(s.ctx.get("exemptGroups", [])))
    with_egress: set[str] = set()
    for g in groups:
        egress = g.get("egress")
        if egress is UNKNOWN or as_list(egress):
            with_egress.add(g.urn)
    for rule in s.of_type(SG_EGRESS_RULE, SECURITY_GROUP_RULE):
        if rule.type == SECURITY_GROUP_RULE and rule.get("type") != "egress":
            continue
        with_egress |= {g.urn for g in refs(s, rule, "securityGroupId", groups)}
    why: dict[str, list[str]] = {}
    for rule in s.of_type(SG_INGRESS_RULE, SECURITY_GROUP_RULE):
        if rule.type == SECURITY_GROUP_RULE and rule.get("type") != "ingress":
            continue
        prop = "referencedSecurityGroupId" if rule.type == SG_INGRESS_RULE else "sourceSecurityGroupId"
        for g in refs(s, rule, prop, groups):
            why.setdefault(g.urn, []).append(f"the source of ingress rule {rule.label}")
    for g in groups:
        ingress = [i for i in as_list(g.get("ingress")) if isinstance(i, dict)]
        if any(truthy(i.get("self")) for i in ingress):
            why.setdefault(g.urn, []).append("the source of its own ingress (self)")
        if any(str_list(i.get("securityGroups")) or UNKNOWN in as_list(i.get("securityGroups")) for i in ingress):
            for other in refs(s, g, "ingress", [x for x in groups if x.urn != g.urn],
                              value=[v for i in ingress for v in as_list(i.get("securityGroups"))]):
                why.setdefault(other.urn, []).append(f"the source of the inline ingress of {g.label}")
    for type_, props in _ATTACHING:
        for r in s.of_type(type_):
            for prop in props:
                if r.get(prop) is None:
                    continue
                value = r.get(prop)
                if prop == "vpcConfig":
                    value = as_list(dig(value, "securityGroupIds"))
                elif prop == "networkInterfaces":
                    value = [v for ni in as_list(value) for v in as_list(dig(ni, "securityGroups"))]
                for g in refs(s, r, prop, groups, value=value):
                    why.setdefault(g.urn, []).append(f"attached to {r.label}")
    for g in groups:
        if g.urn in with_egress or g.urn not in why or g.name in exempt:
            continue
        reasons = sorted(set(why[g.urn]))
        shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
        yield (f"security group {g.label} has no egress (no inline egress, no SecurityGroupEgressRule or "
               f"SecurityGroupRule type=egress for it) but its members open connections: it is {shown}. The provider "
               "removes the allow-all egress AWS creates with a new VPC security group, so members cannot connect "
               "out and their connections time out. Add an aws.vpc.SecurityGroupEgressRule for it (to the "
               "destination groups on their ports, or 0.0.0.0/0).", g.urn)


# -- e. KMS key policies naming principals that may not exist ---------------------------------------------------

_IAM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(?P<account>\d{12}):(?P<kind>role|user)/(?P<path>.+)$")
_SLR = re.compile(r"^aws-service-role/(?P<service>[^/]+)/(?P<name>[^/]+)$")


def _slr_default_name(service: str) -> str:
    known = {"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
             "elasticache.amazonaws.com": "AWSServiceRoleForElastiCache",
             "rds.amazonaws.com": "AWSServiceRoleForRDS",
             "eks.amazonaws.com": "AWSServiceRoleForAmazonEKS",
             "eks-nodegroup.amazonaws.com": "AWSServiceRoleForAmazonEKSNodegroup"}
    return known.get(service, "")


def _created_principal(s: Stack, kind: str, name: str) -> Resource | None:
    types = (IAM_ROLE,) if kind == "role" else (IAM_USER,)
    for r in s.of_type(*types):
        given, prefix = r.get("name"), r.get("namePrefix")
        if isinstance(given, str) and given == name:
            return r
        if isinstance(prefix, str) and prefix and name.startswith(prefix):
            return r
        if given is None and prefix is None and name.startswith(r.name + "-"):
            return r  # auto-named: <logical name>-<suffix>
    return None


def _principals(statement: dict[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if principal is None or isinstance(principal, str):
        return []
    return as_list(as_dict(principal).get("AWS"))


def _key_documents(s: Stack) -> Iterator[tuple[Resource, Resource, dict[str, Any]]]:
    """(resource holding the policy, the key, document) for keys and KeyPolicy resources."""
    keys = s.of_type(KMS_KEY)
    for k in keys:
        doc = policy_document(k.get("policy"))
        if doc:
            yield k, k, doc
    for kp in s.of_type(KMS_KEY_POLICY):
        doc = policy_document(kp.get("policy"))
        hits = refs(s, kp, "keyId", keys)
        if doc:
            yield kp, (hits[0] if hits else kp), doc


@stack_policy(
    name="kms-key-policy-principals-exist", concern=CONCERN, level=MANDATORY,
    types=(KMS_KEY, KMS_KEY_POLICY, IAM_ROLE, IAM_USER, SERVICE_LINKED_ROLE),
    requirements=("upstream:terraform-aws-modules/terraform-aws-eks#3013",
                  "upstream:terraform-aws-modules/terraform-aws-kms#30"),
    description="Key policies name as AWS principals only accounts, roles and users the stack creates, or "
                "principals listed as known to exist: KMS rejects a policy with a principal that does not exist "
                "(a service-linked role is created only when the service is first used).",
    remediation="Grant the principal with Principal {'AWS': '*'} and Condition ArnLike aws:PrincipalArn <ARN> plus "
                "kms:CallerAccount (KMS does not validate condition values), or create the role in the stack "
                "(aws.iam.ServiceLinkedRole) and make the key depend on it, or list it in knownPrincipals.",
    config={"knownPrincipals": {"type": "array", "items": {"type": "string"}, "default": [],
                                "description": "ARN patterns (fnmatch) of principals that exist before the stack "
                                               "is deployed (e.g. SSO roles)."}},
    severity="high",
)
def kms_key_policy_principals_exist(s: Stack) -> Iterator[tuple[str, str | None]]:
    known = [p for p in str_list(s.ctx.get("knownPrincipals", []))]
    slrs = s.of_type(SERVICE_LINKED_ROLE)
    for holder, _key, doc in _key_documents(s):
        for i, st in enumerate(statements(doc)):
            sid = st.get("Sid") or f"Statement[{i}]"
            for p in _principals(st):
                if not isinstance(p, str) or p == "*" or re.fullmatch(r"\d{12}", p) or p.endswith(":root"):
                    continue
                if any(fnmatch.fnmatchcase(p, pattern) for pattern in known):
                    continue
                m = _IAM_ARN.match(p)
                if not m:
                    continue
                kind, path = m.group("kind"), m.group("path")
                slr = _SLR.match(path) if kind == "role" else None
                if slr:
                    service, role_name = slr.group("service"), slr.group("name")
                    created = [r for r in slrs if r.get("awsServiceName") == service and
                               role_name in {_slr_default_name(service),
                                             f"{_slr_default_name(service)}_{r.get('customSuffix')}"}]
                    if created and any(c.urn in holder.dependencies for c in created):
                        continue
                    if created:
                        yield (f"{sid} of the policy of {holder.label} names service-linked role {p} created by "
                               f"{created[0].label}, but the key does not depend on it: KMS may see the policy before "
                               "the role exists and reject it (MalformedPolicyDocumentException). Add "
                               "depends_on=[<the ServiceLinkedRole>] to the key.", holder.urn)
                        continue
                    yield (f"{sid} of the policy of {holder.label} names {p}, a service-linked role this stack "
                           f"does not create: {service} creates it only on first use, so in a fresh account KMS "
                           "rejects the policy (MalformedPolicyDocumentException: invalid principals) and the key is "
                           "not created "
                           "(terraform-aws-eks#3013). Use Principal {'AWS': '*'} with Condition ArnLike "
                           f"aws:PrincipalArn '{p}' and kms:CallerAccount, or create "
                           f"aws.iam.ServiceLinkedRole(aws_service_name='{service}') and make the key depend on it.",
                           holder.urn)
                    continue
                name = path.rsplit("/", 1)[-1]
                if _created_principal(s, kind, name) is not None:
                    continue
                yield (f"{sid} of the policy of {holder.label} names {p}, an IAM {kind} this stack does not create: "
                       "KMS rejects a key policy whose principal does not exist (MalformedPolicyDocumentException), "
                       "so the key is not created where it is missing. Create the principal in the stack, grant it "
                       f"through Principal {{'AWS': '*'}} with Condition ArnLike aws:PrincipalArn '{p}', or add it "
                       "to knownPrincipals in the pack config.", holder.urn)


# -- f. encrypted SNS topics that AWS services publish to --------------------------------------------------------

_PUBLISHERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (RDS_EVENT_SUBSCRIPTION, ("snsTopic",), "events.rds.amazonaws.com"),
    (METRIC_ALARM, ("alarmActions", "okActions", "insufficientDataActions"), "cloudwatch.amazonaws.com"),
    (COMPOSITE_ALARM, ("alarmActions", "okActions", "insufficientDataActions"), "cloudwatch.amazonaws.com"),
    (EVENT_TARGET, ("arn",), "events.amazonaws.com"),
    (S3_NOTIFICATION, ("topics",), "s3.amazonaws.com"),
    (BACKUP_VAULT_NOTIFICATIONS, ("snsTopicArn",), "backup.amazonaws.com"),
)


def _topic_refs(s: Stack, r: Resource, prop: str, topics: Sequence[Resource]) -> list[Resource]:
    value = r.get(prop)
    if prop == "topics":  # BucketNotification.topics[].topicArn
        value = [dig(t, "topicArn") for t in as_list(value)]
    arns = [v for v in _flat_strings(value) if v.startswith("arn:") and ":sns:" in v]
    if not arns and value is not UNKNOWN and not (isinstance(value, list) and UNKNOWN in value):
        return []
    return refs(s, r, prop, topics, value=arns or value)


def _key_statements(s: Stack, key: Resource) -> list[dict[str, Any]]:
    out = statements(policy_document(key.get("policy")))
    for kp in s.of_type(KMS_KEY_POLICY):
        if key in refs(s, kp, "keyId", s.of_type(KMS_KEY)):
            out += statements(policy_document(kp.get("policy")))
    return out


def _grants(st: dict[str, Any], service: str, action: str) -> bool:
    if st.get("Effect") != "Allow":
        return False
    principal = st.get("Principal")
    anyone = principal == "*" or as_dict(principal).get("AWS") in ("*", ["*"])
    services = str_list(as_dict(principal).get("Service"))
    if service not in services and not (anyone and not st.get("Condition")):
        return False
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in str_list(st.get("Action")))


def _key_of_topic(s: Stack, topic: Resource) -> Resource | None:
    keys = s.of_type(KMS_KEY)
    hits = refs(s, topic, "kmsMasterKeyId", keys)
    if not hits:
        # Through an alias: alias/<name> → the Alias resource → its targetKeyId.
        alias = topic.get("kmsMasterKeyId")
        for a in s.of_type(KMS_ALIAS):
            if isinstance(alias, str) and isinstance(a.get("name"), str) and alias.endswith(a.get("name")):
                hits = refs(s, a, "targetKeyId", keys)
    return hits[0] if len(hits) == 1 else None


@stack_policy(
    name="sns-encrypted-topic-publisher-key-access", concern=CONCERN, level=ADVISORY,
    types=(SNS_TOPIC, KMS_KEY, KMS_KEY_POLICY, KMS_ALIAS, *(p[0] for p in _PUBLISHERS)),
    requirements=("upstream:cds-snc/notification-terraform#214",
                  "upstream:cloudposse/terraform-aws-guardduty#10"),
    description="An SNS topic encrypted with a KMS key lets the AWS services that publish to it (RDS event "
                "subscriptions, CloudWatch alarms, EventBridge, S3 notifications, AWS Backup) use the key: its key "
                "policy allows each service principal kms:GenerateDataKey* and kms:Decrypt.",
    remediation="Add a key policy statement with Principal {'Service': <service principal>} and Action "
                "['kms:GenerateDataKey*', 'kms:Decrypt'] to the topic's customer managed key (not alias/aws/sns).",
)
def sns_encrypted_topic_publisher_key_access(s: Stack) -> Iterator[tuple[str, str | None]]:
    topics = s.of_type(SNS_TOPIC)
    publishers: dict[tuple[str, str], list[Resource]] = {}
    for type_, props, service in _PUBLISHERS:
        for r in s.of_type(type_):
            for prop in props:
                for t in _topic_refs(s, r, prop, topics):
                    publishers.setdefault((t.urn, service), [])
                    if r not in publishers[(t.urn, service)]:
                        publishers[(t.urn, service)].append(r)
    for (topic_urn, service), pubs in sorted(publishers.items()):
        topic = s.by_urn[topic_urn]
        kms = topic.get("kmsMasterKeyId")
        if not (isinstance(kms, str) and kms):
            continue
        if kms.endswith("alias/aws/sns"):
            yield (f"kmsMasterKeyId of {topic.label} is the AWS managed key alias/aws/sns, and {_labels(pubs)} "
                   f"{_verb(pubs, 'publishes', 'publish')} to it as {service}: the policy of an AWS managed key "
                   f"cannot allow {service}, so SNS cannot encrypt their messages and drops them silently. Set "
                   "kms_master_key_id to a customer managed key whose policy allows "
                   f"{service} kms:GenerateDataKey* and kms:Decrypt.", topic.urn)
            continue
        key = _key_of_topic(s, topic)
        if key is None or key.get("policy") is UNKNOWN:
            continue
        sts = _key_statements(s, key)
        missing = [f"{a}*" if a.endswith("DataKey") else a for a in ("kms:GenerateDataKey", "kms:Decrypt")
                   if not any(_grants(st, service, a) for st in sts)]
        if missing:
            yield (f"{topic.label} is encrypted with {key.label} (kmsMasterKeyId) and {_labels(pubs)} "
                   f"{_verb(pubs, 'publishes', 'publish')} to it as {service}, but no statement of the key's policy "
                   f"allows {service} {' and '.join(missing)}: SNS "
                   "cannot encrypt their messages and drops them without an error (notifications never arrive). Add "
                   f"a statement with Principal {{'Service': '{service}'}} and Action ['kms:GenerateDataKey*', "
                   f"'kms:Decrypt'] to the policy of {key.label}.", key.urn)


# Service principal → (service of the ARN it publishes with, resource types of that ARN, example).
_SOURCE_ARNS: dict[str, tuple[str, frozenset[str], str]] = {
    "events.rds.amazonaws.com": ("rds", frozenset({"db", "cluster", "pg", "cluster-pg", "secgrp", "snapshot",
                                                   "cluster-snapshot", "db-proxy", "og", "deployment", "cev"}),
                                 "arn:aws:rds:<region>:<account>:db:<identifier> (…:pg:<parameter group>)"),
    "cloudwatch.amazonaws.com": ("cloudwatch", frozenset({"alarm"}),
                                 "arn:aws:cloudwatch:<region>:<account>:alarm:<name>"),
    "events.amazonaws.com": ("events", frozenset({"rule"}), "arn:aws:events:<region>:<account>:rule/<name>"),
    "s3.amazonaws.com": ("s3", frozenset(), "arn:aws:s3:::<bucket>"),
}
_RDS_SOURCE_TYPES = {"db-instance": "db", "db-cluster": "cluster", "db-parameter-group": "pg",
                     "db-cluster-parameter-group": "cluster-pg", "db-security-group": "secgrp",
                     "db-snapshot": "snapshot", "db-cluster-snapshot": "cluster-snapshot", "db-proxy": "db-proxy"}
_ARN_PARTS = re.compile(r"^arn:[^:]*:(?P<service>[^:]*):[^:]*:[^:]*:(?P<rest>.*)$")


def _source_arn_values(st: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for operator, cond in as_dict(st.get("Condition")).items():
        if operator.lower().startswith(("arn", "string")) and not operator.lower().startswith("stringnot") \
                and not operator.lower().startswith("arnnot"):
            for k, v in as_dict(cond).items():
                if k.lower() == "aws:sourcearn":
                    out += str_list(v)
    return out


def _arn_type(rest: str) -> str:
    return re.split(r"[:/]", rest, maxsplit=1)[0]


@stack_policy(
    name="sns-topic-policy-source-arn", concern=CONCERN, level=ADVISORY,
    types=(SNS_TOPIC, SNS_TOPIC_POLICY, RDS_EVENT_SUBSCRIPTION),
    requirements=("upstream:docs:rds-events-sns-permissions",),
    description="Topic policy statements that let an AWS service publish under an aws:SourceArn condition name "
                "ARNs that service publishes with (RDS: the DB instance or parameter group, not the event "
                "subscription), and cover the sources of the RDS event subscriptions to the topic.",
    remediation="Set aws:SourceArn to the event sources (arn:aws:rds:<region>:<account>:db:<identifier>, "
                "…:pg:<name>, CloudWatch alarm ARNs), or condition the statement on aws:SourceAccount only.",
)
def sns_topic_policy_source_arn(s: Stack) -> Iterator[tuple[str, str | None]]:
    topics = s.of_type(SNS_TOPIC)
    holders = [(tp, refs(s, tp, "arn", topics)) for tp in s.of_type(SNS_TOPIC_POLICY)]
    holders += [(t, [t]) for t in topics if t.get("policy") is not None]
    subs = s.of_type(RDS_EVENT_SUBSCRIPTION)
    for holder, targets in holders:
        doc = policy_document(holder.get("policy"))
        rds_patterns: list[str] = []
        has_rds_condition = False
        for i, st in enumerate(statements(doc)):
            if st.get("Effect") != "Allow":
                continue
            sid = st.get("Sid") or f"Statement[{i}]"
            for service in str_list(as_dict(st.get("Principal")).get("Service")):
                form = _SOURCE_ARNS.get(service)
                values = _source_arn_values(st)
                if form is None or not values:
                    continue
                if service == "events.rds.amazonaws.com":
                    has_rds_condition = True
                arn_service, types, example = form
                for v in values:
                    m = _ARN_PARTS.match(v)
                    ok = m is not None and fnmatch.fnmatchcase(arn_service, m.group("service")) and (
                        not types or any(fnmatch.fnmatchcase(t, _arn_type(m.group("rest"))) for t in types))
                    if ok and service == "events.rds.amazonaws.com":
                        rds_patterns.append(v)
                    if not ok:
                        kind = _arn_type(m.group("rest")) if m else v
                        what = " (an event subscription ARN)" if kind == "es" else ""
                        yield (f"{sid} of the policy of {holder.label} lets {service} publish only when aws:SourceArn "
                               f"is like {v!r}, but {service} publishes with the ARN of the event source ({example}); "
                               f"'{kind}'{what} never matches, so every notification is denied and dropped. Set "
                               "aws:SourceArn to the source ARNs, or condition the statement on aws:SourceAccount "
                               "only.", holder.urn)
        if not has_rds_condition or not rds_patterns:
            continue
        for sub in subs:
            if not set(t.urn for t in targets) & {t.urn for t in _topic_refs(s, sub, "snsTopic", topics)}:
                continue
            arn_type = _RDS_SOURCE_TYPES.get(str(sub.get("sourceType")), "*")
            ids = [i for i in as_list(sub.get("sourceIds")) if isinstance(i, str)] or ["*"]
            for ident in ids:
                covered = False
                for v in rds_patterns:
                    m = _ARN_PARTS.match(v)
                    assert m is not None
                    rest = m.group("rest")
                    ptype, _, pname = rest.partition(":")
                    # A subscription without sourceIds covers every source of its type: any pattern of the
                    # type admits some of them.
                    covered |= fnmatch.fnmatchcase(arn_type, ptype) and (
                        ident == "*" or fnmatch.fnmatchcase(ident, pname or "*"))
                if not covered:
                    yield (f"{sub.label} (sourceType {sub.get('sourceType')!r}, source {ident!r}) publishes to the "
                           f"topic of {holder.label}, but no aws:SourceArn pattern of its events.rds.amazonaws.com "
                           f"statements ({', '.join(sorted(set(rds_patterns)))}) matches "
                           f"arn:aws:rds:…:{arn_type}:{ident}: those events are denied and dropped. Add the source's "
                           "ARN pattern to aws:SourceArn.", holder.urn)


# -- g. AWS CLI containers without a writable HOME ---------------------------------------------------------------


def template_spec(r: Resource) -> tuple[str, dict[str, Any]]:
    """(path, pod spec) of a workload; CronJobs through jobTemplate.spec.template."""
    if r.type == K8S_POD:
        return "spec", as_dict(r.get("spec"))
    if r.type == K8S_CRONJOB:
        return "spec.jobTemplate.spec.template.spec", as_dict(r.get("spec", "jobTemplate", "spec", "template", "spec"))
    return "spec.template.spec", as_dict(r.get("spec", "template", "spec"))


_AWS_COMMAND = re.compile(r"(^|[\s;&|()`$\"'])aws\s+[a-z0-9-]+")
_READ_ONLY_SOURCES = ("configMap", "secret", "projected", "downwardAPI")


def _runs_aws_cli(c: dict[str, Any]) -> bool:
    image = c.get("image")
    if isinstance(image, str) and "aws-cli" in image:
        return True
    words = " ".join(str(v) for v in [*as_list(c.get("command")), *as_list(c.get("args"))])
    return bool(_AWS_COMMAND.search(words))


def _writable_mount(path: str, c: dict[str, Any], spec: dict[str, Any]) -> bool:
    volumes = {v.get("name"): v for v in as_list(spec.get("volumes")) if isinstance(v, dict)}
    for m in as_list(c.get("volumeMounts")):
        if not isinstance(m, dict) or truthy(m.get("readOnly")) or m.get("subPath"):
            continue
        mount = str(m.get("mountPath") or "").rstrip("/")
        if not mount or not (path == mount or path.startswith(mount + "/")):
            continue
        volume = as_dict(volumes.get(m.get("name")))
        if not any(k in volume for k in _READ_ONLY_SOURCES):
            return True
    return False


@resource_policy(
    name="k8s-aws-cli-writable-home", concern=CONCERN, level=ADVISORY, types=POD_TEMPLATES,
    requirements=("upstream:aws/aws-cli#9075",),
    description="Containers that run the AWS CLI as a non-root user or on a read-only root filesystem set HOME to "
                "a writable mounted volume (the CLI creates $HOME/.aws and exits when it cannot).",
    remediation="Mount an emptyDir (e.g. at /home/aws) and set env HOME to it in the container.",
)
def k8s_aws_cli_writable_home(r: Resource) -> Iterator[str]:
    prefix, spec = template_spec(r)
    pod_user = dig(spec, "securityContext", "runAsUser")
    pod_non_root = truthy(dig(spec, "securityContext", "runAsNonRoot"))
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(as_list(spec.get(kind))):
            if not isinstance(c, dict) or not _runs_aws_cli(c):
                continue
            user = dig(c, "securityContext", "runAsUser")
            user = pod_user if user is None else user
            non_root = (number(user) not in (None, 0.0)) or truthy(dig(c, "securityContext", "runAsNonRoot")) \
                or (pod_non_root and number(user) != 0.0)
            read_only = truthy(dig(c, "securityContext", "readOnlyRootFilesystem"))
            if not (non_root or read_only):
                continue
            env = {e.get("name"): e for e in as_list(c.get("env")) if isinstance(e, dict)}
            home = dig(env.get("HOME"), "value")
            if home is UNKNOWN or (isinstance(home, str) and _writable_mount(home.rstrip("/") or "/", c, spec)):
                continue
            who = f"user {int(number(user) or 0)}" if number(user) is not None else "a non-root user"
            state = (f"HOME is {home!r}, which is not on a writable volume mount" if isinstance(home, str) else
                     "HOME is not set (the image's passwd has no entry for that user, so HOME is '/')")
            ro = " and readOnlyRootFilesystem is true" if read_only else ""
            yield (f"{prefix}.{kind}[{i}] ({c.get('name')}) of {r.label} runs the AWS CLI as {who}{ro}; {state}: "
                   "the CLI creates $HOME/.aws and fails with \"[Errno 13] Permission denied: '/.aws'\" before the "
                   "first command (aws-cli#9075). Mount an emptyDir (e.g. 'aws-home' at /home/aws) and set env "
                   "HOME=/home/aws in the container.")


# -- h. emptyDir sizeLimit larger than the node's root volume ---------------------------------------------------


def _tolerated(taint: dict[str, Any], tolerations: list[Any]) -> bool:
    effect = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}.get(
        str(taint.get("effect")), str(taint.get("effect")))
    if effect == "PreferNoSchedule":
        return True
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("effect") not in (None, "", effect):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, "", taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value") == taint.get("value"):
            return True
    return False


def _node_root_gib(s: Stack, ng: Resource) -> float | None:
    lts = refs(s, ng, "launchTemplate", s.of_type(LAUNCH_TEMPLATE))
    if not lts and "launchTemplate" not in ng.property_dependencies:
        lt_id = dig(ng.get("launchTemplate"), "id")
        lts = [lt for lt in s.of_type(LAUNCH_TEMPLATE) if lt_id and lt_id in identifiers(lt)]
    if lts:
        mappings = [m for m in as_list(lts[0].get("blockDeviceMappings")) if isinstance(m, dict)]
        root = next((m for m in mappings if m.get("deviceName") in ("/dev/xvda", "/dev/sda1")), None)
        root = root or (mappings[0] if mappings else None)
        return number(dig(root, "ebs", "volumeSize")) if root else None
    if ng.get("launchTemplate") is None:
        return number(ng.get("diskSize")) or 20.0  # managed node group default disk
    return None


@stack_policy(
    name="k8s-empty-dir-fits-node-disk", concern=CONCERN, level=ADVISORY,
    types=(*POD_TEMPLATES, NODE_GROUP, LAUNCH_TEMPLATE),
    requirements=("upstream:kubernetes/kubernetes#63126",),
    description="emptyDir sizeLimits (each, and per pod in total) fit the root volume of the nodes the pod can "
                "schedule on (node groups by nodeSelector and taints, their launch template's root volume); "
                "defaultNodeRootVolumeGi when that cannot be tied.",
    remediation="Lower the emptyDir sizeLimit below the node root volume (leave room for images and logs), enlarge "
                "the node group's root volume, or use a PersistentVolumeClaim (generic ephemeral volume) instead.",
    config={"defaultNodeRootVolumeGi": {"type": "number", "default": 50, "minimum": 1,
                                        "description": "Node root volume (GiB) when no node group can be tied to "
                                                       "the pod."}},
)
def k8s_empty_dir_fits_node_disk(s: Stack) -> Iterator[tuple[str, str | None]]:
    default = float(number(s.ctx.get("defaultNodeRootVolumeGi", 50)) or 50)
    groups = s.of_type(NODE_GROUP)
    for r in s.of_type(*POD_TEMPLATES):
        prefix, spec = template_spec(r)
        dirs = [(i, v) for i, v in enumerate(as_list(spec.get("volumes")))
                if isinstance(v, dict) and isinstance(v.get("emptyDir"), dict)
                and dig(v, "emptyDir", "medium") != "Memory"]
        sized: list[tuple[int, dict[str, Any], float]] = []
        for i, v in dirs:
            size = _gib(dig(v, "emptyDir", "sizeLimit"))
            if size is not None:
                sized.append((i, v, size))
        if not sized:
            continue
        selector = as_dict(spec.get("nodeSelector"))
        tolerations = as_list(spec.get("tolerations"))
        fits: list[tuple[Resource, float | None]] = []
        for ng in groups:
            labels = as_dict(ng.get("labels"))
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            if not all(_tolerated(as_dict(t), tolerations) for t in as_list(ng.get("taints"))):
                continue
            fits.append((ng, _node_root_gib(s, ng)))
        known = [(ng, g) for ng, g in fits if g is not None]
        if known:
            ng, root = min(known, key=lambda x: x[1] or 0)
            where = f"the {root:g} GiB root volume of node group {ng.label}"
        else:
            root, where = default, f"the node root volume (defaultNodeRootVolumeGi {default:g} GiB)"
        assert root is not None
        over = [(i, v, g) for i, v, g in sized if g > root]
        for i, v, _g in over:
            yield (f"{prefix}.volumes[{i}].emptyDir.sizeLimit of {r.label} ('{v.get('name')}') is "
                   f"{dig(v, 'emptyDir', 'sizeLimit')}, more than {where} it can schedule on: sizeLimit is only an "
                   "eviction threshold (the scheduler does not reserve it), so the volume fills the node's disk, the "
                   "node reports DiskPressure and the kubelet evicts pods before the limit is reached "
                   f"(kubernetes#63126). Lower sizeLimit below {root:g}Gi, enlarge the nodes' root volume, or use a "
                   "PersistentVolumeClaim.", r.urn)
        total = sum(g for _, _, g in sized)
        if not over and total > root:
            names = ", ".join(str(v.get("name")) for _, v, _ in sized)
            yield (f"the emptyDir sizeLimits of {r.label} ({names}) add up to {total:g} GiB, more than {where}: "
                   "together they can fill the node's disk (DiskPressure, "
                   f"evictions; kubernetes#63126). Lower the sizeLimits to fit {root:g}Gi, or use a "
                   "PersistentVolumeClaim.", r.urn)


# -- i. create-before-delete replacement of an instance that holds a volume attachment --------------------------


@stack_policy(
    name="ec2-volume-attachment-replacement", concern=CONCERN, level=MANDATORY,
    types=(EC2_INSTANCE, VOLUME_ATTACHMENT),
    requirements=("upstream:pulumi/pulumi-aws#2769",),
    description="An EC2 instance that a VolumeAttachment attaches a volume to, and that user-data changes replace "
                "(userDataReplaceOnChange), has the resource option deleteBeforeReplace: created first, the "
                "replacement's attachment finds the volume still attached to the old instance (VolumeInUse).",
    remediation="Set the resource option delete_before_replace=True on the instance (or "
                "user_data_replace_on_change=False, or ignore_changes=['userData']).",
    config={"anyReplacement": {"type": "boolean", "default": False,
                               "description": "Also require deleteBeforeReplace on attached instances without "
                                              "userDataReplaceOnChange (any replace-forcing change, e.g. ami or "
                                              "subnetId, fails the same way)."}},
    severity="high",
)
def ec2_volume_attachment_replacement(s: Stack) -> Iterator[tuple[str, str | None]]:
    any_replacement = truthy(s.ctx.get("anyReplacement", False))
    instances = s.of_type(EC2_INSTANCE)
    attached: dict[str, list[Resource]] = {}
    for att in s.of_type(VOLUME_ATTACHMENT):
        for inst in refs(s, att, "instanceId", instances):
            attached.setdefault(inst.urn, []).append(att)
    for inst in instances:
        if inst.urn not in attached or truthy(inst.options.get("deleteBeforeReplace")):
            continue
        trigger = truthy(inst.get("userDataReplaceOnChange")) and not _ignored(inst, "userData")
        if not trigger and not any_replacement:
            continue
        cause = ("userDataReplaceOnChange is true, so a user-data change replaces it" if trigger else
                 "a replace-forcing change (ami, subnetId, availabilityZone, …) replaces it")
        atts = attached[inst.urn]
        yield (f"{inst.label}: {cause} create-before-delete (no deleteBeforeReplace option), while "
               f"{_labels(atts)} {_verb(atts, 'attaches', 'attach')} a volume to it: the replacement attachment is "
               "created while the volume is still attached to the old instance, AttachVolume fails with VolumeInUse "
               "and the update stops (stopInstanceBeforeDetaching does not help; pulumi-aws#2769). Set the resource "
               "option delete_before_replace=True on the instance (or user_data_replace_on_change=False).", inst.urn)


# -- j. optional: shapes the provider or AWS reject later -------------------------------------------------------


@resource_policy(
    name="s3-replication-filter-not-empty", concern=CONCERN, level=ADVISORY, types=S3_REPLICATION,
    requirements=("upstream:crossplane-contrib/provider-aws#911",
                  "upstream:hashicorp/terraform-provider-aws#23803"),
    description="Replication rules that replicate the whole bucket say so with filter {prefix: ''}: an empty "
                "filter object is an empty block the provider expands to no Filter element, while "
                "deleteMarkerReplication needs the V2 schema (Filter present).",
    remediation="Set filter={'prefix': ''} on the rule.",
)
def s3_replication_filter_not_empty(r: Resource) -> Iterator[str]:
    for i, rule in enumerate(as_list(r.get("rules"))):
        if not isinstance(rule, dict) or "filter" not in rule:
            continue
        f = rule.get("filter")
        if isinstance(f, dict) and all(v is None for v in f.values()):
            yield (f"rules[{i}].filter is {{}} on {r.label}: an empty filter object reaches the provider as an empty "
                   "block and goes out without a Filter element (the V1 schema) next to deleteMarkerReplication, "
                   "which S3 accepts only in the V2 schema, so PutBucketReplication fails with MalformedXML or the "
                   "rule differs on every refresh (provider-aws#911, terraform-provider-aws#23803). Set "
                   "filter={'prefix': ''} to replicate the whole bucket.")


_IDENTIFIERS: dict[str, tuple[str, int]] = {
    RDS_INSTANCE: ("identifier", 63),
    REDIS_GROUP: ("replicationGroupId", 40),
    RDS_PARAMETER_GROUP: ("name", 255),
}


@resource_policy(
    name="aws-identifier-format", concern=CONCERN, level=ADVISORY, types=tuple(_IDENTIFIERS),
    requirements=("upstream:docs:rds-elasticache-identifier-rules",),
    description="Derived RDS and ElastiCache identifiers meet the AWS naming rules the mocks do not check: start "
                "with a letter, letters/digits/hyphens, no trailing or double hyphen, within the length limit "
                "(a name cut to length can end in '-').",
    remediation="Derive the identifier so it ends in a letter or digit (strip trailing '-' after truncating) and "
                "stays within the limit.",
)
def aws_identifier_format(r: Resource) -> Iterator[str]:
    prop, limit = _IDENTIFIERS[r.type]
    value = r.get(prop)
    if not isinstance(value, str) or not value:
        return
    problems = []
    if len(value) > limit:
        problems.append(f"is {len(value)} characters (limit {limit})")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", value):
        problems.append("must start with a letter and contain only letters, digits and hyphens")
    if value.endswith("-"):
        problems.append("ends with a hyphen")
    if "--" in value:
        problems.append("contains two consecutive hyphens")
    if problems:
        yield (f"{prop} {value!r} on {r.label} {'; '.join(problems)}: AWS rejects it and the create fails (the mocks "
               f"accept any string). Set {prop} to a name that meets the rules (strip trailing '-' after "
               "truncating).")


#: ``{type: {property: longest value AWS or the provider accepts}}``: the provider rejects a longer name at
#: plan (``bucket_prefix`` and IAM ``name_prefix`` leave room for the 26 characters it appends) or AWS at
#: create. Names derived from a long stack name are the usual way to pass a limit.
_NAME_LIMITS: dict[str, dict[str, int]] = {
    **{t: {"bucket": 63, "bucketPrefix": 37} for t in S3_BUCKET_TYPES},
    IAM_ROLE: {"name": 64, "namePrefix": 38},
    IAM_POLICY: {"name": 128, "namePrefix": 102},
    EKS_CLUSTER: {"name": 100},
    "aws:eks/nodeGroup:NodeGroup": {"nodeGroupName": 63},
    "aws:elasticache/subnetGroup:SubnetGroup": {"name": 255},
    "aws:elasticache/parameterGroup:ParameterGroup": {"name": 255},
    "aws:rds/subnetGroup:SubnetGroup": {"name": 255},
    RDS_EVENT_SUBSCRIPTION: {"name": 255},
    SECURITY_GROUP: {"name": 255, "namePrefix": 100},
    LOG_GROUP: {"name": 512},
    METRIC_ALARM: {"name": 255},
    "aws:kms/alias:Alias": {"name": 256},
    SNS_TOPIC: {"name": 256},
    SECRET: {"name": 512, "namePrefix": 512},
    "aws:codebuild/project:Project": {"name": 150},
    LAUNCH_TEMPLATE: {"name": 128, "namePrefix": 102},
}


@resource_policy(
    name="aws-name-length", concern=CONCERN, level=MANDATORY, types=tuple(_NAME_LIMITS),
    requirements=("upstream:docs:aws-name-length-limits",),
    description="Names the program derives (often from the stack name) stay within each AWS service's length "
                "limit: S3 bucket prefixes 37, IAM role names 64, EKS node groups 63, alarm names 255, and so on "
                "(the mocks accept any length).",
    remediation="Derive the name with components.base.fit_name (a cut with a short hash) for the limit of the "
                "resource type.",
)
def aws_name_length(r: Resource) -> Iterator[str]:
    for prop, limit in _NAME_LIMITS[r.type].items():
        value = r.get(prop)
        if isinstance(value, str) and len(value) > limit:
            yield (f"{prop} {value!r} on {r.label} is {len(value)} characters (limit {limit}): `pulumi up` fails "
                   f"there and the mocks accept it. Use components.base.fit_name to cut it to {limit}.")


@resource_policy(
    name="secret-fixed-name-recovery-window", concern=CONCERN, level=ADVISORY, types=(SECRET,),
    requirements=("upstream:hashicorp/terraform-provider-aws#4467",
                  "upstream:hashicorp/terraform-provider-aws#10259"),
    description="Unprotected Secrets Manager secrets with a fixed name delete without a recovery window, or are "
                "auto-named: a deleted secret keeps its name reserved for recoveryWindowInDays (default 30).",
    remediation="Use name_prefix (auto-naming), or recovery_window_in_days=0 where the secret can be recreated, "
                "or protect the secret (production).",
)
def secret_fixed_name_recovery_window(r: Resource) -> Iterator[str]:
    name = r.get("name")
    if not isinstance(name, str) or not name or truthy(r.options.get("protect")):
        return
    raw = r.get("recoveryWindowInDays")
    if raw is UNKNOWN:
        return
    days = 30.0 if raw is None else number(raw)
    if days is None or days <= 0 or falsy_explicit(raw):
        return
    yield (f"name is {name!r} and recoveryWindowInDays is {_text(raw)} (so {int(days)} days) on unprotected "
           f"{r.label}: deleting it only schedules the deletion and Secrets Manager keeps the name for {int(days)} "
           "days, so a destroy-and-recreate or a replacement fails with InvalidRequestException (\"a secret with this "
           "name is already scheduled for deletion\"; terraform-provider-aws#4467). Set name_prefix instead of name, "
           "or recovery_window_in_days=0, or protect the secret.")
