"""CI/CD: CodeBuild projects bill per build-minute by compute type (``deployMinutesPerMonth``,
split evenly over the projects); webhooks and source credentials cost nothing."""

from __future__ import annotations

from cost.rules.base import Charge, Context, Res, fmt, free

PROJECT = "aws:codebuild/project:Project"
WEBHOOK = "aws:codebuild/webhook:Webhook"
SOURCE_CREDENTIAL = "aws:codebuild/sourceCredential:SourceCredential"

MINUTE_KEY = "codebuild:minute:{compute}"
"""Key of a build-minute row: the lower-cased compute type, ``_arm`` for ARM environments."""

PRICE_KEYS = (MINUTE_KEY.format(compute="build_general1_small"),)

_ARM = ("ARM_CONTAINER", "ARM_LAMBDA_CONTAINER")


def project(r: Res, ctx: Context) -> list[Charge]:
    """An even share of the build minutes at the project's compute type."""
    compute = r.text("environment", "computeType") or "BUILD_GENERAL1_SMALL"
    arm = (r.text("environment", "type") or "") in _ARM
    key = MINUTE_KEY.format(compute=compute.lower() + ("_arm" if arm else ""))
    projects = max(ctx.count(PROJECT), 1)
    minutes = ctx.usage.deploy_minutes_per_month / projects
    label = f"{compute}{' ARM' if arm else ''}"
    return [ctx.per_unit("build minutes", key, r.region, minutes,
                         f"CodeBuild {label} {{price}} × {{qty}} min ({ctx.usage.cite('deploy_minutes_per_month')} "
                         f"split evenly over {fmt(projects)} projects)",
                         what=f"CodeBuild {label} build minute", service="CodeBuild")]


def webhook(r: Res, ctx: Context) -> list[Charge]:
    return [free("CodeBuild webhook (builds it starts are priced on the project)")]


def source_credential(r: Res, ctx: Context) -> list[Charge]:
    return [free("CodeBuild source credential")]


RULES = {PROJECT: project, WEBHOOK: webhook, SOURCE_CREDENTIAL: source_credential}
