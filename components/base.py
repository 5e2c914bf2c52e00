"""Shared pieces of every component: the args error, child options and tags."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

#: ``hh24:mi-hh24:mi`` (UTC), the format of RDS backup and ElastiCache snapshot windows.
WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
#: ``ddd:hh24:mi-ddd:hh24:mi`` (UTC), the format of maintenance windows.
DAY_WINDOW_RE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
                           r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$")
#: Lower-case, dash-separated resource name prefixes.
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: Runs of characters a slug replaces with '-'.
SLUG_RE = re.compile(r"[^a-z0-9]+")


class ArgsError(pulumi.RunError, ValueError):
    """Invalid component args: one line per problem, each naming the field, the bad value and what is
    allowed, e.g. ``PostgresArgs.read_replicas: 7 is not allowed (0..5)``.

    The one exception type of every component's validation, raised from its ``__init__`` before any child
    is registered. A ``pulumi.RunError``: the Pulumi CLI prints the message without a traceback and the
    review reports it as the program's error, like a bad stack file. :class:`Problems` collects every
    problem of one args object first and raises them together.
    """

    def __init__(self, args_type: str, field: str, value: Any, allowed: str) -> None:
        self.problems: tuple[str, ...] = (problem_line(args_type, field, value, allowed),)
        super().__init__(self.problems[0])

    @classmethod
    def of(cls, problems: Sequence[str]) -> ArgsError:
        """One error listing ``problems`` (lines made by :func:`problem_line`), each on its own line."""
        err = cls.__new__(cls)
        err.problems = tuple(problems)
        pulumi.RunError.__init__(err, "\n".join(err.problems))
        return err


def problem_line(args_type: str, field: str, value: Any, allowed: str) -> str:
    """``<args type>.<field>: <value> is not allowed (<allowed>)``."""
    return f"{args_type}.{field}: {value!r} is not allowed ({allowed})"


class Problems:
    """Every problem of one args object: :meth:`add` each, then :meth:`raise_any` raises one
    :class:`ArgsError` with each problem on its own line (nothing when there is none)."""

    def __init__(self, args_type: str) -> None:
        self.args_type = args_type
        self.lines: list[str] = []

    def add(self, field: str, value: Any, allowed: str) -> None:
        self.lines.append(problem_line(self.args_type, field, value, allowed))

    def raise_any(self) -> None:
        if self.lines:
            raise ArgsError.of(self.lines)


def child_opts(
    parent: pulumi.Resource,
    *,
    stateful: bool = False,
    protect: bool = False,
    depends_on: Sequence[pulumi.Resource] | None = None,
    **kwargs: Any,
) -> pulumi.ResourceOptions:
    """Options of a child: parented to the component; stateful children are protected and retained
    on delete when ``protect`` is set (production)."""
    keep = stateful and protect
    return pulumi.ResourceOptions(
        parent=parent,
        protect=keep or None,
        retain_on_delete=keep or None,
        depends_on=list(depends_on) if depends_on else None,
        **kwargs,
    )


def merge_tags(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """``{**base, **extra}``; extra keys in snake_case become kebab-case tag keys."""
    return {**base, **{k.replace("_", "-"): v for k, v in extra.items()}}


def slug(text: str) -> str:
    """``text`` as a lower-case dash-separated name (:data:`NAME_RE`): ``My_Stack.eu`` → ``my-stack-eu``."""
    return SLUG_RE.sub("-", text.lower()).strip("-")


def fit_name(name: str, limit: int, *, hash_length: int = 6) -> str:
    """``name`` if it has at most ``limit`` characters; otherwise its first characters, a '-' and a short
    hash of the whole name, exactly ``limit`` long. Never ends in '-' nor holds '--' (AWS rejects both in
    ElastiCache ids, RDS identifiers and many other names), and two long names that share a prefix still
    differ. ``name`` must be a lower-case dash-separated name (:data:`NAME_RE`)."""
    if len(name) <= limit:
        return name
    if limit < hash_length + 2:
        raise ValueError(f"fit_name: limit {limit} leaves no room for a {hash_length}-character hash")
    digest = hashlib.sha256(name.encode()).hexdigest()[:hash_length]
    head = name[:limit - hash_length - 1].rstrip("-")
    return f"{head}-{digest}"
