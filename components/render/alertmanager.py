"""Render ``alertmanager.yml``: route by severity, inhibit warnings under criticals.

Pure function; YAML from ``yaml.safe_dump``. Checked by ``amtool check-config`` and
``amtool config routes test`` in ``tests/integration/test_promtool.py`` (Debian 12's Alertmanager
0.25 and newer).

Routing (labels come from ``components/render/prometheus.py``: ``severity``, ``store``):

``severity="critical"`` → receiver ``critical`` (SNS, e-mail and Slack when configured): group_wait 10s,
group_interval 1m, repeat_interval 1h.
``severity="warning"`` → receiver ``warning`` (SNS and e-mail when configured): group_wait 1m,
group_interval 10m, repeat_interval 12h.
Anything else → ``default`` (no integrations: such alerts are visible in the UI only).

A receiver with no integrations is valid, so the file is accepted with no e-mail and no Slack.

SNS (``sns_configs``, Alertmanager's native notifier): publishes to the alarm topic with SigV4
signing in the topic's region. Credentials come from the AWS SDK's default chain (on EKS: IRSA's
web-identity token), so the file holds no key. The topic's subscribers (e-mail, chat, paging) are
the same as for the CloudWatch alarms.

Inhibition: a ``critical`` alert mutes ``warning`` alerts with the same ``alertname`` and
``instance``; ``InstanceDown`` mutes every other alert of its ``instance`` (a dead target's other
alerts are noise).

Secrets: the Slack webhook URL is a secret. Prefer ``api_url_file`` (a mounted file, the URL never
enters the rendered text); ``api_url`` puts it in the file, which must then be written 0600.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_TOPIC_ARN = re.compile(r"^arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class RenderError(ValueError):
    """Renderer input that would produce an invalid file; names the field, value and rule."""


@dataclass(frozen=True)
class EmailReceiver:
    """E-mail delivery through an SMTP relay."""

    to: str
    """Recipient address (the on-call list)."""
    smarthost: str
    """SMTP relay as ``host:port`` (e.g. ``email-smtp.us-east-1.amazonaws.com:587``)."""
    sender: str
    """``From:`` address."""
    require_tls: bool = True
    """STARTTLS required. Default: True (Alertmanager's default as well)."""
    auth_username: str | None = None
    """SMTP user. Default: None (relay without authentication)."""
    auth_password_file: str | None = None
    """File holding the SMTP password (never the password itself). Default: None."""


@dataclass(frozen=True)
class SlackReceiver:
    """Slack incoming webhook for critical alerts. Exactly one of ``api_url_file`` / ``api_url``."""

    api_url_file: str | None = None
    """Path of a file that holds the webhook URL (preferred: the secret stays out of the config).
    Default: None."""
    api_url: str | None = None
    """The webhook URL itself (a secret; write the rendered file 0600). Default: None."""
    channel: str | None = None
    """Channel override, e.g. ``#data-oncall``. Default: None (the webhook's channel)."""


@dataclass(frozen=True)
class SnsReceiver:
    """Amazon SNS topic for critical and warning alerts (Alertmanager's ``sns_configs``)."""

    topic_arn: str
    """ARN of the (standard) SNS topic, ``arn:<partition>:sns:<region>:<account>:<name>``."""
    region: str
    """Region of the SigV4 signature: the topic's region, e.g. ``us-east-1``."""


#: SNS subjects are limited to 100 characters (Alertmanager truncates longer ones).
SNS_SUBJECT = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.store }})'
SNS_MESSAGE = ('{{ range .Alerts }}[{{ .Labels.severity }}] {{ .Annotations.summary }}\n'
               '{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook }}\n\n{{ end }}')


def validate(email: EmailReceiver | None, slack: SlackReceiver | None, resolve_timeout_minutes: int,
             sns: SnsReceiver | None = None) -> list[str]:
    """Every problem with the receivers (empty when valid). Pure."""
    p: list[str] = []
    if sns is not None:
        if not _TOPIC_ARN.match(sns.topic_arn):
            p.append(f"'sns.topic_arn' must be an SNS topic ARN (got {sns.topic_arn!r})")
        if not _REGION.match(sns.region):
            p.append(f"'sns.region' must be an AWS region such as us-east-1 (got {sns.region!r})")
    if email is not None:
        if not _EMAIL.match(email.to):
            p.append(f"'email.to' must be an e-mail address (got {email.to!r})")
        if not _EMAIL.match(email.sender):
            p.append(f"'email.sender' must be an e-mail address (got {email.sender!r})")
        if not _HOST_PORT.match(email.smarthost):
            p.append(f"'email.smarthost' must be host:port (got {email.smarthost!r})")
        if email.auth_password_file is not None and email.auth_username is None:
            p.append("'email.auth_password_file' needs 'email.auth_username'")
    if slack is not None:
        if (slack.api_url_file is None) == (slack.api_url is None):
            p.append("Exactly one of 'slack.api_url_file' or 'slack.api_url' must be set")
        if slack.api_url is not None and not slack.api_url.startswith("https://"):
            p.append("'slack.api_url' must start with https:// (value hidden: it is a secret)")
        if slack.channel is not None and not slack.channel.startswith(("#", "@")):
            p.append(f"'slack.channel' must start with # or @ (got {slack.channel!r})")
    if not 1 <= resolve_timeout_minutes <= 1440:
        p.append(f"'resolve_timeout_minutes' must be between 1 and 1440 (got {resolve_timeout_minutes})")
    return p


def alertmanager_config(
    *,
    email: EmailReceiver | None = None,
    slack: SlackReceiver | None = None,
    sns: SnsReceiver | None = None,
    resolve_timeout_minutes: int = 5,
) -> dict[str, Any]:
    """The Alertmanager configuration as data (see :func:`render_alertmanager_config`)."""
    problems = validate(email, slack, resolve_timeout_minutes, sns)
    if problems:
        raise RenderError("; ".join(problems))

    email_configs: list[dict[str, Any]] = []
    if email is not None:
        cfg: dict[str, Any] = {
            "to": email.to, "from": email.sender, "smarthost": email.smarthost,
            "require_tls": email.require_tls, "send_resolved": True,
        }
        if email.auth_username is not None:
            cfg["auth_username"] = email.auth_username
        if email.auth_password_file is not None:
            cfg["auth_password_file"] = email.auth_password_file
        email_configs.append(cfg)
    slack_configs: list[dict[str, Any]] = []
    if slack is not None:
        scfg: dict[str, Any] = {"send_resolved": True}
        if slack.api_url_file is not None:
            scfg["api_url_file"] = slack.api_url_file
        if slack.api_url is not None:
            scfg["api_url"] = slack.api_url
        if slack.channel is not None:
            scfg["channel"] = slack.channel
        scfg["title"] = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.store }})'
        scfg["text"] = ('{{ range .Alerts }}{{ .Annotations.description }}\n'
                        'Runbook: {{ .Annotations.runbook }}\n{{ end }}')
        slack_configs.append(scfg)

    sns_configs: list[dict[str, Any]] = []
    if sns is not None:
        sns_configs.append({
            "send_resolved": True, "topic_arn": sns.topic_arn, "sigv4": {"region": sns.region},
            "subject": SNS_SUBJECT, "message": SNS_MESSAGE,
        })

    critical: dict[str, Any] = {"name": "critical"}
    warning: dict[str, Any] = {"name": "warning"}
    for receiver in (critical, warning):
        if sns_configs:
            receiver["sns_configs"] = copy.deepcopy(sns_configs)  # no YAML anchors: each receiver spelled out
        if email_configs:
            receiver["email_configs"] = copy.deepcopy(email_configs)
    if slack_configs:
        critical["slack_configs"] = slack_configs

    return {
        "global": {"resolve_timeout": f"{resolve_timeout_minutes}m"},
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "store"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "critical",
                 "group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
                {"matchers": ['severity="warning"'], "receiver": "warning",
                 "group_wait": "1m", "group_interval": "10m", "repeat_interval": "12h"},
            ],
        },
        "inhibit_rules": [
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": ["alertname", "instance"]},
            {"source_matchers": ['alertname="InstanceDown"'], "target_matchers": ['alertname!="InstanceDown"'],
             "equal": ["instance"]},
        ],
        "receivers": [{"name": "default"}, critical, warning],
    }


def render_alertmanager_config(
    *,
    email: EmailReceiver | None = None,
    slack: SlackReceiver | None = None,
    sns: SnsReceiver | None = None,
    resolve_timeout_minutes: int = 5,
) -> str:
    """``alertmanager.yml`` text.

    ``email``: where critical and warning alerts are mailed. Default: None (no e-mail).
    ``slack``: where critical alerts are posted. Default: None (no Slack).
    ``sns``: the SNS topic critical and warning alerts are published to. Default: None (no SNS).
    ``resolve_timeout_minutes``: 1..1440. Default: 5.
    """
    data = alertmanager_config(email=email, slack=slack, sns=sns, resolve_timeout_minutes=resolve_timeout_minutes)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
