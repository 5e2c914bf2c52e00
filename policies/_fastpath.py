"""Make ``pulumi_policy``'s analyzer servicer do per-resource work once, not once per policy.

``pulumi_policy`` 1.21 decodes a resource's properties once *per policy* in ``Analyze`` and once
per policy and resource in ``AnalyzeStack`` (``json_format.MessageToDict`` →
``deserialize_properties`` → ``unknown_checking_proxy``), and builds arguments for every resource
policy even when the policy looks at other types. With ~80 policies that is ~90 % of the analysis
time. :func:`install`

* wraps those three module-level names of ``pulumi_policy.policy`` with identity caches, so each
  protobuf message is decoded once per request (the policies see the same values);
* returns the policy list as a :class:`TypeIndexedPolicies`: while ``Analyze`` runs for a resource
  of type T (a thread-local set by a wrapper around ``Analyze``), iterating it yields only the
  resource policies that declare T (or every type). Skipped policies would have returned at their
  first line (``if args.resource_type not in TYPES``), so verdicts are unchanged;
* makes ``AnalyzeStack`` build the stack's ``PolicyResource`` list (options, provider, parent and
  dependency links) once per request instead of once per stack policy: a first pass of the SDK's own
  ``AnalyzeStack`` runs with only a capturing policy, which keeps ``args.resources``; the second
  pass runs every stack policy on a request view without resources, and ``StackValidationArgs``
  hands each policy the captured list. The stack policies share that list and its resources (none of
  this pack's policies changes them: ``policies.pack`` builds its own views). At ~2,900 resources and
  36 stack policies the per-policy rebuild was 90 % of AnalyzeStack and grew faster than the stack
  (make bench, scaling). A servicer whose policy list is not from :func:`install` is left alone.

tests/policies/test_policy_fastpath.py compares both modes on the same stacks.

Nothing is changed when the SDK no longer has those names, or when
``DATA_PLATFORM_POLICY_NO_CACHE=1``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


_current = threading.local()


class TypeIndexedPolicies(list):
    """The pack's policy list; inside ``Analyze`` it iterates only the policies for the type."""

    def __init__(self, policies: Iterable[Any], types: Mapping[str, Sequence[str]]) -> None:
        super().__init__(policies)
        self._types = {name: frozenset(ts) for name, ts in types.items()}
        self._for_type: dict[str, list[Any]] = {}

    def _select(self, type_: str) -> list[Any]:
        selected = self._for_type.get(type_)
        if selected is None:
            from pulumi_policy import ResourceValidationPolicy

            selected = [p for p in list.__iter__(self) if isinstance(p, ResourceValidationPolicy)
                        and (not self._types.get(p.name) or type_ in self._types[p.name])]
            self._for_type[type_] = selected
        return selected

    def __iter__(self) -> Iterator[Any]:
        only = getattr(_current, "only", None)
        if only is not None:
            return iter(only)
        type_ = getattr(_current, "type", None)
        if type_ is None:
            return list.__iter__(self)
        return iter(self._select(type_))


def _patch_analyze(servicer_class: Any) -> None:
    if getattr(servicer_class.Analyze, "_data_platform", False):
        return
    original = servicer_class.Analyze

    def analyze(self: Any, request: Any, context: Any) -> Any:
        _current.type = request.type
        try:
            return original(self, request, context)
        finally:
            _current.type = None

    analyze._data_platform = True  # type: ignore[attr-defined]
    servicer_class.Analyze = analyze


def _capturing_policy(sdk: Any, kept: list[Any]) -> Any:
    """The one stack policy of the capturing pass: appends the resources the SDK built to ``kept`` (a
    closure, not a bound method: no reference cycle keeps the stack alive after the request)."""

    def keep(args: Any, _report: Any) -> None:
        kept.append(args.resources)

    return sdk.StackValidationPolicy("data-platform-fastpath-capture",
                                     "Keeps the stack's resources for the stack policies.", keep,
                                     sdk.EnforcementLevel.ADVISORY)


class _WithoutResources:
    """The request as the stack policies' pass sees it: every field but ``resources``."""

    resources: tuple[Any, ...] = ()

    def __init__(self, request: Any) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _patch_analyze_stack(sdk: Any) -> None:
    servicer_class = sdk._PolicyAnalyzerServicer
    if getattr(servicer_class.AnalyzeStack, "_data_platform", False):
        return
    original = servicer_class.AnalyzeStack
    real_args = sdk.StackValidationArgs

    def stack_args(resources: Any, config: Any = None, stack_tags: Any = None) -> Any:
        built = getattr(_current, "stack_resources", None)
        return real_args(built if built is not None else resources, config, stack_tags)

    def analyze_stack(self: Any, request: Any, context: Any) -> Any:
        if not isinstance(getattr(self, "_PolicyAnalyzerServicer__policies", None), TypeIndexedPolicies):
            return original(self, request, context)  # a servicer built without install()
        kept: list[Any] = []
        _current.only = [_capturing_policy(sdk, kept)]
        try:
            original(self, request, context)
        except Exception:  # e.g. a property the SDK cannot decode: the SDK's own pass decides
            kept.clear()
        finally:
            _current.only = None
        if not kept:  # the SDK did not call the policy: leave the request to it
            return original(self, request, context)
        _current.stack_resources = kept[0]
        try:
            return original(self, _WithoutResources(request), context)
        finally:
            _current.stack_resources = None

    analyze_stack._data_platform = True  # type: ignore[attr-defined]
    servicer_class.AnalyzeStack = analyze_stack
    sdk.StackValidationArgs = stack_args


def active() -> bool:
    return os.environ.get("DATA_PLATFORM_POLICY_NO_CACHE") != "1"


def install(policies: list[Any], types: Mapping[str, Sequence[str]]) -> list[Any]:
    """Install the caches and return the list to hand to ``PolicyPack`` (unchanged when off)."""
    if not active():
        return policies
    from pulumi_policy import policy as sdk

    names = ("json_format", "deserialize_properties", "unknown_checking_proxy", "_PolicyAnalyzerServicer",
             "StackValidationArgs", "StackValidationPolicy")
    if not all(hasattr(sdk, n) for n in names):
        return policies
    if not isinstance(sdk.json_format, _JsonFormat):
        sdk.json_format = _JsonFormat(sdk.json_format)
        sdk.deserialize_properties = _IdentityCache(sdk.deserialize_properties)  # type: ignore[assignment]
        sdk.unknown_checking_proxy = _IdentityCache(sdk.unknown_checking_proxy)  # type: ignore[assignment]
    _patch_analyze(sdk._PolicyAnalyzerServicer)
    _patch_analyze_stack(sdk)
    return TypeIndexedPolicies(policies, types)
