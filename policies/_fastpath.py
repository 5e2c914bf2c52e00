"""Memoize the per-policy decoding of a resource inside ``pulumi_policy``'s analyzer servicer.

``pulumi_policy`` 1.21 decodes a resource's properties once *per policy* in ``Analyze`` and once
per policy and resource in ``AnalyzeStack`` (``json_format.MessageToDict`` →
``deserialize_properties`` → ``unknown_checking_proxy``). With ~70 policies that decoding is
~90 % of the analysis time. :func:`install` wraps those three module-level names of
``pulumi_policy.policy`` with identity caches, so each protobuf message is decoded once per
request; the values the policies see are the same objects the SDK would have built. Nothing is
changed when the SDK no longer has those names, or when ``DATA_PLATFORM_POLICY_NO_CACHE=1``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_MAX_ENTRIES = 8192


class _IdentityCache:
    """``fn(x)`` memoized on the identity of ``x`` (a strong reference keeps the id unique)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.entries: dict[int, tuple[Any, Any]] = {}
        self.lock = threading.Lock()

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return self.fn(value, *args, **kwargs)
        hit = self.entries.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        result = self.fn(value)
        with self.lock:
            if len(self.entries) >= _MAX_ENTRIES:
                self.entries.clear()
            self.entries[id(value)] = (value, result)
        return result


class _JsonFormat:
    """Stands in for ``google.protobuf.json_format`` inside ``pulumi_policy.policy``."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.MessageToDict = _IdentityCache(real.MessageToDict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install() -> bool:
    """Install the caches; returns whether they are active."""
    if os.environ.get("DATA_PLATFORM_POLICY_NO_CACHE") == "1":
        return False
    from pulumi_policy import policy as sdk

    names = ("json_format", "deserialize_properties", "unknown_checking_proxy")
    if not all(hasattr(sdk, n) for n in names) or isinstance(sdk.json_format, _JsonFormat):
        return isinstance(getattr(sdk, "json_format", None), _JsonFormat)
    sdk.json_format = _JsonFormat(sdk.json_format)  # type: ignore[assignment]
    sdk.deserialize_properties = _IdentityCache(sdk.deserialize_properties)  # type: ignore[assignment]
    sdk.unknown_checking_proxy = _IdentityCache(sdk.unknown_checking_proxy)  # type: ignore[assignment]
    return True
