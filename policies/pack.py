"""Turn the registry into ``pulumi_policy`` resource/stack validation policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Policy

from policies._base import (
    ENVIRONMENT_CONFIG,
    Context,
    PolicyMeta,
    RegisteredPolicy,
    Resource,
    Stack,
    declared_environment,
    is_production_environment,
    plain_cached,
)
from policies.catalog import load

PACK_NAME = "data-platform"
_LEVEL = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
_SEVERITY = {s.value: s for s in Severity}


def _config(meta: PolicyMeta, configured: Mapping[str, Any]) -> dict[str, Any]:
    merged = meta.defaults()
    merged.update({k: v for k, v in configured.items() if v is not None})
    return merged


def _provider_props(args: Any) -> dict[str, Any]:
    provider = getattr(args, "provider", None)
    return plain_cached(provider.props) if provider is not None else {}


def _options(args: Any) -> dict[str, Any]:
    """The resource options of a request that policies may read (``Resource.options``)."""
    opts = getattr(args, "opts", None)
    if opts is None:
        return {}
    return {"protect": bool(getattr(opts, "protect", False)),
            "ignoreChanges": list(getattr(opts, "ignore_changes", None) or []),
            "deleteBeforeReplace": getattr(opts, "delete_before_replace", None)}


def _resource_validator(reg: RegisteredPolicy) -> Any:
    meta, check = reg.meta, reg.check
    types = frozenset(meta.types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if types and args.resource_type not in types:
            return
        r = Resource(
            type=args.resource_type, urn=args.urn, name=args.name, props=plain_cached(args.props),
            ctx=Context(_config(meta, args.get_config()), args.stack_tags),
            provider_props=_provider_props(args), parent=args.opts.parent, options=_options(args),
        )
        for message in check(r):  # type: ignore[arg-type]
            report_violation(str(message), None)

    return validate


class _SharedStack:
    """Resource views of one AnalyzeStack request, shared by the stack policies of that request.

    The SDK hands every stack policy its own ``PolicyResource`` objects but (with
    :mod:`policies._fastpath`) the same property objects; the views are rebuilt only when those
    differ. Entries hold the property objects, so their identities stay unique while cached.
    """

    def __init__(self, props: list[Any], resources: list[Resource]) -> None:
        self.props = props
        self.resources = resources
        self.cache: dict[str, Any] = {}


_SHARED: list[_SharedStack] = []


def _shared_stack(args: StackValidationArgs, ctx: Context) -> _SharedStack:
    props = [r.props for r in args.resources]
    for entry in _SHARED:
        same = len(entry.props) == len(props) and all(a is b for a, b in zip(entry.props, props, strict=True))
        if same and entry.resources and entry.resources[0].ctx.config.get("region") == ctx.config.get("region"):
            return entry
    resources = [
        Resource(
            type=r.resource_type, urn=r.urn, name=r.name, props=plain_cached(r.props), ctx=ctx,
            provider_props=_provider_props(r),
            parent=r.parent.urn if r.parent is not None else r.opts.parent,
            dependencies=[d.urn for d in r.dependencies],
            property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            options=_options(r),
        )
        for r in args.resources
    ]
    entry = _SharedStack(props, resources)
    _SHARED.insert(0, entry)
    del _SHARED[4:]
    return entry


def _stack_validator(reg: RegisteredPolicy) -> Any:
    meta, check = reg.meta, reg.check

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        ctx = Context(_config(meta, args.get_config()), args.stack_tags)
        shared = _shared_stack(args, ctx)
        stack = Stack(shared.resources, ctx)
        stack.shared = shared.cache  # type: ignore[attr-defined]
        for message, urn in check(stack):  # type: ignore[arg-type, str-unpack]
            report_violation(str(message), urn)

    return validate


def _framework(meta: PolicyMeta) -> PolicyComplianceFramework | None:
    fsbp = [r for r in meta.requirements if r.split(".")[0] in
            {"RDS", "ElastiCache", "S3", "KMS", "EC2", "EKS", "SNS", "IAM"} and "(" not in r]
    if fsbp:
        return PolicyComplianceFramework(name="aws-fsbp", version="1.0.0", reference=", ".join(fsbp))
    checkov = [r for r in meta.requirements if r.startswith("CKV")]
    if checkov:
        return PolicyComplianceFramework(name="checkov", reference=", ".join(checkov))
    return None


def to_policy(reg: RegisteredPolicy) -> Policy:
    meta = reg.meta
    # A policy whose level rises in production reads the environment from its config like the others.
    schema = {**ENVIRONMENT_CONFIG, **meta.config} if meta.production_level else meta.config
    common: dict[str, Any] = {
        "name": meta.name,
        "description": meta.description,
        "enforcement_level": _LEVEL[meta.level],
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in schema.items()})
        if schema else None,
        "severity": _SEVERITY.get(meta.severity),
        "framework": _framework(meta),
        "tags": [meta.concern, *meta.requirements],
        "remediation_steps": meta.remediation,
    }
    if meta.kind == "resource":
        return ResourceValidationPolicy(validate=_resource_validator(reg), **common)
    return StackValidationPolicy(validate=_stack_validator(reg), **common)


# -- Levels that rise in production ------------------------------------------------------------------

_PRODUCTION_LEVELS: dict[str, EnforcementLevel] = {}
"""Policy name → its level in production (only policies whose production level differs)."""


def _environment(servicer: Any, name: str) -> tuple[str | None, Any]:
    """The environment the pack is configured for, as :meth:`Context.environment` sees it without a
    resource (:func:`declared_environment`; the stack file's config as ConfigureStack sent it)."""
    config = getattr(servicer, "_PolicyAnalyzerServicer__policy_pack_config", {}).get(name) or {}
    env = declared_environment(config, None, dict(getattr(servicer, "_PolicyAnalyzerServicer__stack_tags", {})),
                               getattr(servicer, "_data_platform_stack_config", None))
    return env, config.get("productionEnvironments")


def production_level_of(servicer: Any, policy: Any, level: EnforcementLevel) -> EnforcementLevel:
    """``level`` raised to the policy's production level when the pack is configured for production or
    the environment is unknown (the strictest). Only an advisory level rises (configured so, or by
    default): a policy configured ``disabled`` stays disabled, so switching a rule off stays an explicit,
    visible line of pack config."""
    raised = _PRODUCTION_LEVELS.get(policy.name)
    if raised is None or level != EnforcementLevel.ADVISORY:
        return level
    env, production = _environment(servicer, policy.name)
    return raised if is_production_environment(env, production) else level


def install_production_levels(policies: list[RegisteredPolicy]) -> None:
    """Make the SDK's analyzer report a policy at its production level in production environments.

    ``pulumi_policy`` 1.21 has one enforcement level per policy (pack default or Configure). The
    servicer's ``_get_enforcement_level`` is wrapped to raise it, and ``ConfigureStack`` to remember the
    stack file's config (the environment it states). Nothing changes when the SDK lacks those names.
    """
    _PRODUCTION_LEVELS.clear()
    _PRODUCTION_LEVELS.update({p.meta.name: _LEVEL[p.meta.production_level] for p in policies
                               if p.meta.production_level})
    from pulumi_policy import policy as sdk

    servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    if servicer is None or not hasattr(servicer, "_get_enforcement_level") or not hasattr(servicer, "ConfigureStack"):
        return
    if getattr(servicer._get_enforcement_level, "_data_platform", False):
        return
    original_level = servicer._get_enforcement_level
    original_configure_stack = servicer.ConfigureStack

    def get_enforcement_level(self: Any, policy: Any) -> EnforcementLevel:
        return production_level_of(self, policy, original_level(self, policy))

    def configure_stack(self: Any, request: Any, context: Any) -> Any:
        self._data_platform_stack_config = dict(request.config)
        return original_configure_stack(self, request, context)

    get_enforcement_level._data_platform = True  # type: ignore[attr-defined]
    servicer._get_enforcement_level = get_enforcement_level
    servicer.ConfigureStack = configure_stack


def build() -> list[Policy]:
    registered = load()
    install_production_levels(registered)
    return [to_policy(reg) for reg in registered]
