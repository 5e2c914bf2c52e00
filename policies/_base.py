"""Policy metadata, the registry, and the resource/stack views the validators read.

This module does not import ``pulumi_policy`` (nor ``pulumi_aws``): validators are plain functions
that yield messages, so the metadata (``REGISTRY``) can be read by ``policies.coverage`` and unit
code without starting anything. :mod:`policies.pack` turns the registry into CrossGuard policies.

A validator is registered with :func:`resource_policy` or :func:`stack_policy`::

    @resource_policy(
        name="rds-storage-encrypted", concern="encryption", level=MANDATORY,
        types=(RDS_INSTANCE,), requirements=("RDS.3", "CKV_AWS_16"),
        description="RDS instances encrypt storage with a customer managed KMS key.",
        remediation="Set storage_encrypted=True and kms_key_id=<key ARN>.")
    def rds_storage_encrypted(r: Resource) -> Iterator[str]:
        if not r.is_true("storageEncrypted"):
            yield "storageEncrypted is not true: ..."
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["mandatory", "advisory"]
MANDATORY: Level = "mandatory"
ADVISORY: Level = "advisory"

# -- Unknown values ---------------------------------------------------------------------------------

_UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    "[unknown]",                              # the review's recorded-resource marker
})


class _Unknown:
    """A value that is only known after the update (an output of a resource not yet created)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Copy SDK proxies (``unknown_checking_proxy``) into plain dicts/lists, unknowns → UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        target = _target(value)
        return {k: plain(target[k]) for k in target}
    if isinstance(value, Sequence):
        target = _target(value)
        return [plain(v) for v in target]
    return value


def _target(proxy: Any) -> Any:
    """The wrapped container of a pulumi_policy proxy, without the unknown check."""
    try:
        inner = proxy["__target"]
    except (KeyError, TypeError, IndexError):
        return proxy
    return inner if isinstance(inner, dict | list) else proxy


_plain_cache: dict[int, tuple[Any, Any]] = {}


def plain_cached(props: Any) -> dict[str, Any]:
    """:func:`plain` memoized on the identity of ``props`` (the SDK shares one proxy per request
    when :mod:`policies._fastpath` is installed)."""
    hit = _plain_cache.get(id(props))
    if hit is not None and hit[0] is props:
        return hit[1]
    result = plain(props)
    if len(_plain_cache) > 8192:
        _plain_cache.clear()
    _plain_cache[id(props)] = (props, result)
    return result


# -- Values ------------------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """True for ``True`` and the strings "true"/"True" (some provider inputs are strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def falsy_explicit(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_list(value: Any) -> list[Any]:
    if value is None or value is UNKNOWN:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dig(value: Any, *path: str | int) -> Any:
    """``dig(props, "vpcConfig", "endpointPublicAccess")``; None when absent, UNKNOWN when unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return None
            value = value[key]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
    return value


_ARN_RE = re.compile(
    r"^arn:aws[a-zA-Z-]*:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d*):(?P<rest>.+)$"
)


def arn_region(arn: Any) -> str | None:
    """The region of an ARN (``arn:aws:kms:us-west-2:…`` → ``us-west-2``); None if not an ARN or
    the ARN has no region (S3, IAM)."""
    if not isinstance(arn, str):
        return None
    m = _ARN_RE.match(arn)
    return m.group("region") or None if m else None


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document given as a JSON string or an object; None when unknown/unparseable."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value not in ("[secret]",):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def statements(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not doc:
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]


def str_list(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def short_urn(urn: str) -> str:
    """``…::data-platform:aws:Postgres$aws:rds/instance:Instance::pg-primary``
    → ``aws:rds/instance:Instance::pg-primary``."""
    parts = urn.split("::")
    if len(parts) < 4:
        return urn
    return parts[-2].rsplit("$", 1)[-1] + "::" + parts[-1]


# -- Context shared by resource and stack views --------------------------------------------------------


@dataclass
class Context:
    """Configuration of one policy (defaults applied) and what the engine told the pack."""

    config: Mapping[str, Any]
    stack_tags: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key)
        return default if value is None else value

    def stack_region(self, provider_props: Mapping[str, Any] | None = None) -> str | None:
        """``region`` policy config → the resource's provider ``region`` → ``aws:region`` stack
        config (the CLI passes stack config to the pack) → None."""
        configured = self.config.get("region")
        if isinstance(configured, str) and configured:
            return configured
        if provider_props:
            region = provider_props.get("region")
            if isinstance(region, str) and region and region not in _UNKNOWN_SENTINELS:
                return region
        if not hasattr(self, "_config_region"):
            self._config_region = stack_config_value("aws:region")
        return self._config_region

    def environment(self, tags: Any = None) -> str | None:
        """:func:`declared_environment` of this policy's config, the resource's tags and the stack tags."""
        return declared_environment(self.config, tags, self.stack_tags)

    def is_production(self, tags: Any = None) -> bool:
        """Production rules apply in a production environment and where the environment is unknown
        (the strictest, as the program does for a stack file that states none)."""
        return is_production_environment(self.environment(tags), self.get("productionEnvironments"))


ENVIRONMENT_KEY = "data-platform:environment"
"""The stack-file key that states a stack's environment."""


def declared_environment(config: Any, tags: Any = None, stack_tags: Any = None,
                         stack_config: Any = None) -> str | None:
    """The environment a stack is held to: ``environment`` policy config → the resource's ``environment``
    tag → the stack tag ``environment`` → the stack file's ``data-platform:environment`` (``stack_config``
    as ConfigureStack sent it, else the runtime's stack config) → None (unknown). Never the stack name: a
    copy of the production stack file under another name is still production."""
    sources = ((config, "environment"), (tags, "environment"), (stack_tags, "environment"),
               (stack_config, ENVIRONMENT_KEY))
    for mapping, key in sources:
        candidate = mapping.get(key) if isinstance(mapping, Mapping) else None
        if isinstance(candidate, str) and candidate:
            return candidate
    return stack_config_value(ENVIRONMENT_KEY)


def is_production_environment(env: str | None, production: Any = None) -> bool:
    """``env`` is one of ``production`` (default: production, prod), or unknown (None): the strictest."""
    names = [str(e).lower() for e in as_list(production or ["production", "prod"])]
    return env is None or env.lower() in names


def stack_config_value(key: str) -> str | None:
    try:
        from pulumi.runtime.config import get_config
    except ImportError:  # pragma: no cover
        return None
    value = get_config(key)
    return value if isinstance(value, str) and value else None


@dataclass
class Resource:
    """One resource as a resource policy sees it: plain inputs (camelCase), unknowns as UNKNOWN."""

    type: str
    urn: str
    name: str
    props: dict[str, Any]
    ctx: Context
    provider_props: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Resource options the engine sent: ``protect``, ``ignoreChanges`` and ``deleteBeforeReplace``
    (None when the program did not set it)."""

    def get(self, *path: str | int) -> Any:
        return dig(self.props, *path)

    def is_true(self, *path: str | int) -> bool:
        return truthy(self.get(*path))

    @property
    def config(self) -> Context:
        return self.ctx

    @property
    def region(self) -> str | None:
        """The resource's ``region`` input (pulumi-aws 7), else the stack region."""
        region = self.props.get("region")
        if isinstance(region, str) and region:
            return region
        return self.ctx.stack_region(self.provider_props)

    @property
    def tags(self) -> dict[str, Any]:
        return as_dict(self.props.get("tags"))

    def is_production(self) -> bool:
        return self.ctx.is_production(self.tags)

    @property
    def label(self) -> str:
        return short_urn(self.urn)


@dataclass
class Stack:
    """All resources of the stack, indexed for the stack policies."""

    resources: list[Resource]
    ctx: Context

    def __post_init__(self) -> None:
        self.by_urn: dict[str, Resource] = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[Resource]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)

    def of_type(self, *types: str) -> list[Resource]:
        out: list[Resource] = []
        for t in types:
            out.extend(self._by_type.get(t, ()))
        return out

    def referenced(self, r: Resource, prop: str, value: Any, candidates: Sequence[Resource],
                   keys: Sequence[str] = ("id", "name", "arn")) -> list[Resource]:
        """Resources among ``candidates`` that ``r``'s property ``prop`` (with value ``value``) refers
        to: by ``propertyDependencies[prop]`` when recorded, else by matching a known value against
        the candidates' identifying inputs, else by the candidates ``r`` depends on."""
        cand_urns = {c.urn for c in candidates}
        if prop in r.property_dependencies:
            hits = [self.by_urn[u] for u in r.property_dependencies[prop] if u in cand_urns]
            if hits:
                return hits
        values = {v for v in as_list(value) if isinstance(v, str)}
        if values:
            hits = [c for c in candidates if values & identifiers(c, keys)]
            if hits:
                return hits
        return [self.by_urn[u] for u in r.dependencies if u in cand_urns]


def identifiers(r: Resource, keys: Sequence[str] = ("id", "name", "arn")) -> set[str]:
    """Values that other resources may use to refer to ``r``: its name inputs, the logical name,
    and derived ARNs (``arn:aws:s3:::<bucket>``). Computed once per resource view."""
    cached: set[str] | None = r.__dict__.get("_identifiers")
    if cached is None:
        cached = r.__dict__["_identifiers"] = _identifiers(r)
    return cached


def _identifiers(r: Resource) -> set[str]:
    out = {r.name}
    for k in ("bucket", "name", "identifier", "replicationGroupId", "arn", "id", "keyId"):
        v = r.props.get(k)
        if isinstance(v, str):
            out.add(v)
    bucket = r.props.get("bucket")
    if r.type in S3_BUCKET_TYPES and isinstance(bucket, str):
        out.add(f"arn:aws:s3:::{bucket}")
    return out


# -- Registry -----------------------------------------------------------------------------------------

ResourceCheck = Callable[[Resource], Iterable[str]]
StackCheck = Callable[[Stack], Iterable[tuple[str, str | None]]]
"""A stack check yields ``(message, urn or None)``; None blames the stack as a whole."""


@dataclass(frozen=True)
class PolicyMeta:
    """Everything known about one policy; COVERAGE.md and GetAnalyzerInfo are built from it."""

    name: str
    concern: str
    description: str
    level: Level
    requirements: tuple[str, ...]
    """FSBP control (``RDS.3``), Checkov id (``CKV_AWS_16``), CIS item, ``seed`` or ``gap:<topic>``."""
    remediation: str
    kind: Literal["resource", "stack"]
    types: tuple[str, ...]
    """Resource types the policy looks at (empty: every resource)."""
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    """JSON schema of the policy's config properties, with ``default``."""
    severity: str = "medium"
    production_level: Level | None = None
    """Level in production environments when it differs from ``level`` (an advisory rule that is
    mandatory in production): :mod:`policies.pack` raises the level when the pack is configured for a
    production environment (``environment`` config, the stack tag ``environment``, the stack file's
    ``data-platform:environment``; unknown counts as production)."""

    @property
    def effective_production_level(self) -> Level:
        return self.production_level or self.level

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}


@dataclass(frozen=True)
class RegisteredPolicy:
    meta: PolicyMeta
    check: ResourceCheck | StackCheck


REGISTRY: list[RegisteredPolicy] = []

# Config properties several policies declare (the review passes them with ``common=``).
ENVIRONMENT_CONFIG: dict[str, dict[str, Any]] = {
    "environment": {"type": ["string", "null"], "default": None,
                    "description": "Stack environment; default: the resource's 'environment' tag, the "
                                   "stack tag 'environment', the stack file's data-platform:environment, "
                                   "else unknown (production rules)."},
    "productionEnvironments": {"type": "array", "items": {"type": "string"},
                               "default": ["production", "prod"],
                               "description": "Environment names treated as production."},
}
REGION_CONFIG: dict[str, dict[str, Any]] = {
    "region": {"type": ["string", "null"], "default": None,
               "description": "Stack region (aws:region) for resources without a 'region' input; default: "
                              "the provider's region or the stack config."},
}


def _register(meta: PolicyMeta, check: Any) -> None:
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta.name):
        raise ValueError(f"policy name {meta.name!r} is not kebab-case")
    if any(p.meta.name == meta.name for p in REGISTRY):
        raise ValueError(f"duplicate policy name {meta.name!r}")
    if not meta.requirements:
        raise ValueError(f"policy {meta.name!r} names no requirement")
    REGISTRY.append(RegisteredPolicy(meta, check))


def resource_policy(*, name: str, concern: str, description: str, level: Level, types: Sequence[str],
                    requirements: Sequence[str], remediation: str,
                    config: Mapping[str, dict[str, Any]] | None = None,
                    severity: str = "medium",
                    production_level: Level | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    def decorate(fn: ResourceCheck) -> ResourceCheck:
        _register(PolicyMeta(name, concern, description, level, tuple(requirements), remediation, "resource",
                             tuple(types), dict(config or {}), severity,
                             production_level if production_level != level else None), fn)
        return fn
    return decorate


def stack_policy(*, name: str, concern: str, description: str, level: Level, types: Sequence[str],
                 requirements: Sequence[str], remediation: str,
                 config: Mapping[str, dict[str, Any]] | None = None,
                 severity: str = "medium",
                 production_level: Level | None = None) -> Callable[[StackCheck], StackCheck]:
    def decorate(fn: StackCheck) -> StackCheck:
        _register(PolicyMeta(name, concern, description, level, tuple(requirements), remediation, "stack",
                             tuple(types), dict(config or {}), severity,
                             production_level if production_level != level else None), fn)
        return fn
    return decorate


# -- Type tokens (pulumi-aws 7; v6 spellings kept where the S3 token moved) ----------------------------

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
REDIS_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
S3_BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_LIFECYCLE = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
S3_REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
S3_OBJECT_LOCK = ("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                  "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2")
S3_ACL = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
EBS_VOLUME = "aws:ebs/volume:Volume"
EC2_INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_PVC = "kubernetes:core/v1:PersistentVolumeClaim"
K8S_STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
