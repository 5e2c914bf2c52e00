"""Start a CrossGuard policy pack as an analyzer process and drive it over gRPC, as the CLI does.

``pulumi preview --policy-pack policies`` runs the pack's ``__main__.py`` in its own process;
constructing ``PolicyPack(...)`` there starts the analyzer gRPC server on a loopback port and
prints the port on stdout. :class:`PolicyAnalyzer` does the same and talks to it with
``pulumi.runtime.proto.analyzer_pb2_grpc.AnalyzerStub``::

    with PolicyAnalyzer() as pa:                      # starts `python -u policies` (cwd policies/)
        pa.configure({"rds-multi-az": "mandatory", "required-tags": {"requiredTags": ["team"]}},
                     common={"environment": "production", "region": "us-east-1"})
        pa.configure_stack(stack="production", project="data-platform", tags={})
        violations = pa.analyze_all(resources)        # Analyze per resource + AnalyzeStack

Resources are dicts in the review's recorded-resource shape (review/schema.json): ``urn``,
``type``, ``name``, ``custom``, ``parent``, ``inputs``, ``protect``, ``provider``,
``dependencies`` (optionally ``propertyDependencies``: property → [urn]).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = PROJECT_ROOT / "policies"

_LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}
_MAX_MESSAGE = 400 * 1024 * 1024
#: Analyze calls in flight at once; the rest wait in this process. The pack's gRPC server takes one
#: call at a time from C-core's queue of calls it has not yet accepted, and C-core refuses calls at
#: random once more than 1,000 wait there (random early detection between the server's
#: ``grpc.server.max_pending_requests``, 1,000, and its hard limit, 3,000): a 2,864-resource stack sent
#: at once lost some late calls now and then (StatusCode.CANCELLED). With the pack pinned to a busy CPU:
#: 107-129 of 2,848 calls lost in one of every 3-4 rounds when all were sent at once, none in 14 rounds
#: with this window. 512 stays well under the soft limit; a production stack (~400 calls) is sent whole.
MAX_IN_FLIGHT = 512

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]


class AnalyzerError(RuntimeError):
    """The pack did not start, or a call to it failed (the message carries the pack's stderr)."""


@dataclass(frozen=True, order=True)
class Violation:
    """One diagnostic of the pack. ``urn`` is "" for a violation of the stack as a whole."""

    policy: str
    level: str
    """``mandatory`` or ``advisory`` (the effective level after configuration)."""
    urn: str
    message: str
    """The policy's own message (what is wrong, on which property, how to fix it), without the
    description line the SDK prepends."""

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message}


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str
    """Default enforcement level declared by the pack."""
    kind: str
    """``resource`` or ``stack``."""
    config_properties: dict[str, Any] = field(default_factory=dict)
    """JSON schema of the policy's config properties (with defaults)."""
    remediation: str = ""
    severity: str = ""


@dataclass(frozen=True)
class AnalyzerInfo:
    name: str
    version: str
    policies: tuple[PolicyInfo, ...]

    def policy(self, name: str) -> PolicyInfo:
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(name)


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    # Struct.update goes through JSON-compatible values; round-trip through json to turn tuples and
    # other sequences into lists and reject values the wire format cannot carry.
    s.update(json.loads(json.dumps(dict(value), default=list)))
    return s


def _options(resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(resource.get("protect", False)),
        parent=resource.get("parent") or "",
        ignoreChanges=list(resource.get("ignoreChanges") or []),
        additionalSecretOutputs=list(resource.get("additionalSecretOutputs") or []),
        # As the CLI sends them: the deployability rules read deleteBeforeReplace (e.g. an instance holding a
        # volume attachment must be replaced delete-first).
        deleteBeforeReplace=bool(resource.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=resource.get("deleteBeforeReplace") is not None,
    )


def _provider(
    resource: Mapping[str, Any], providers: Mapping[str, Mapping[str, Any]]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    urn = resource.get("provider")
    if not urn:
        return None
    known = providers.get(urn)
    type_ = str(known.get("type")) if known else ""
    if not type_:
        # urn:pulumi:stack::project::pulumi:providers:aws::name
        parts = str(urn).split("::")
        type_ = parts[-2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""
    return analyzer_pb2.AnalyzerProviderResource(
        type=type_,
        properties=_struct((known or {}).get("inputs") or {}),
        urn=str(urn),
        name=str(urn).rsplit("::", 1)[-1],
    )


def _strip_description(message: str, description: str) -> str:
    prefix = description + "\n"
    return message[len(prefix):] if description and message.startswith(prefix) else message


class PolicyAnalyzer:
    """The policy pack running as an analyzer process (context manager).

    ``pack_dir`` is the directory holding ``PulumiPolicy.yaml`` and ``__main__.py``; the pack is run
    as ``python -u <pack_dir>`` with ``cwd=pack_dir``, the way the Python language host runs a
    policy pack plugin.
    """

    def __init__(
        self,
        pack_dir: str | os.PathLike[str] = DEFAULT_PACK,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        self.python = python
        self.env = dict(os.environ if env is None else env)
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._info: AnalyzerInfo | None = None
        self._levels: dict[str, str] = {}
        self._stderr: list[bytes] = []
        self._window = threading.Lock()
        self._in_flight = 0
        self._waiting: deque[tuple[analyzer_pb2.AnalyzeRequest, Future[Any]]] = deque()
        self._pumping = threading.local()
        self._sending = False

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> PolicyAnalyzer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self._proc is not None:
            return
        env = dict(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._proc = subprocess.Popen(
            [self.python, "-u", str(self.pack_dir)],
            cwd=self.pack_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True).start()
        port_line: list[bytes] = []
        reader = threading.Thread(target=lambda: port_line.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        line = port_line[0].strip() if port_line else b""
        if not line.isdigit():
            self.close()
            raise AnalyzerError(f"policy pack {self.pack_dir} did not print its port "
                                f"(got {line!r}); stderr:\n{self.stderr()}")
        self.port = int(line)
        threading.Thread(target=self._drain, args=(self._proc.stdout,), daemon=True).start()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=_CHANNEL_OPTIONS)
        grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        with self._window:
            self._sending = True

    def _drain(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.readline(), b""):
            self._stderr.append(chunk)

    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def close(self) -> None:
        # Queued Analyze calls fail first (none starts once the pack is going), then the pack stops
        # before the channel closes: closing a channel whose server is still up waits ~0.2 s for its
        # streams; a channel to a stopped server closes at once.
        with self._window:
            self._sending = False
            waiting, self._waiting = self._waiting, deque()
        for _, future in waiting:
            if future.set_running_or_notify_cancel():
                future.set_exception(AnalyzerError("the analyzer was closed before this Analyze call was sent"))
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stub = None

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is None:
            raise AnalyzerError("the analyzer is not running; use it as a context manager or call start()")
        return self._stub

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as e:
            raise AnalyzerError(f"{method} failed: {e}\npack stderr:\n{self.stderr()}") from e

    # -- protocol ---------------------------------------------------------------------------------

    def info(self) -> AnalyzerInfo:
        """GetAnalyzerInfo: the pack name and its policies with descriptions and default levels."""
        if self._info is None:
            raw = self._call("GetAnalyzerInfo", empty_pb2.Empty())
            policies = []
            for p in raw.policies:
                schema = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
                policies.append(PolicyInfo(
                    name=p.name,
                    description=p.description,
                    level=_LEVEL_NAMES.get(p.enforcementLevel, "advisory"),
                    kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                    config_properties=schema,
                    remediation=p.remediation_steps,
                    severity=analyzer_pb2.PolicySeverity.Name(p.severity).removeprefix("POLICY_SEVERITY_").lower(),
                ))
            self._info = AnalyzerInfo(raw.name, raw.version, tuple(policies))
            self._levels = {p.name: p.level for p in policies}
        return self._info

    def plugin_version(self) -> str:
        return str(self._call("GetPluginInfo", empty_pb2.Empty()).version)

    def configure(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        common: Mapping[str, Any] | None = None,
    ) -> None:
        """Configure: the policy config as in ``pulumi preview --policy-pack-config``.

        ``config`` maps a policy name to an enforcement level (``"mandatory"``, ``"advisory"``,
        ``"disabled"``) or to ``{"enforcementLevel": ..., <property>: value, ...}``; the key
        ``"all"`` sets the level of every policy. ``common`` properties (e.g. ``environment``,
        ``region``) go to every policy whose config schema declares them.

        As the CLI does, every policy is sent with its effective level (the pack's default unless
        overridden): the SDK treats a policy configured without a level as advisory.
        """
        info = self.info()
        config = dict(config or {})
        unknown = sorted(set(config) - {p.name for p in info.policies} - {"all"})
        if unknown:
            raise AnalyzerError(f"unknown policies in config: {', '.join(unknown)}")
        all_level = config.get("all")
        if isinstance(all_level, Mapping):
            all_level = all_level.get("enforcementLevel")
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        levels: dict[str, str] = {}
        for p in info.policies:
            entry = config.get(p.name)
            level = all_level or p.level
            props: dict[str, Any] = {k: v for k, v in (common or {}).items() if k in p.config_properties}
            if isinstance(entry, str):
                level = entry
            elif isinstance(entry, Mapping):
                level = entry.get("enforcementLevel", level)
                props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            if level not in _LEVELS:
                raise AnalyzerError(f"{p.name}: enforcement level must be one of {sorted(_LEVELS)} (got {level!r})")
            levels[p.name] = level
            request.policyConfig[p.name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[level], properties=_struct(props)))
        self._call("Configure", request)
        self._levels = levels

    def configure_stack(
        self,
        *,
        stack: str,
        project: str = "data-platform",
        organization: str = "",
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
        dry_run: bool = True,
    ) -> None:
        """ConfigureStack: stack name, project, stack tags and config as the CLI sends them."""
        self._call("ConfigureStack", analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=stack, project=project, organization=organization, dry_run=dry_run,
            tags=dict(tags or {}), config=dict(config or {})))

    def _violations(self, response: Any, default_urn: str) -> list[Violation]:
        out = []
        for d in response.diagnostics:
            out.append(Violation(
                policy=d.policyName,
                level=_LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
                urn=d.urn or default_urn,
                message=_strip_description(d.message, d.description),
            ))
        return out

    def analyze_request(self, resource: Mapping[str, Any],
                        providers: Mapping[str, Mapping[str, Any]]) -> analyzer_pb2.AnalyzeRequest:
        """The Analyze request of one resource (``providers``: provider resources by URN); no call is made."""
        provider = _provider(resource, providers)
        return analyzer_pb2.AnalyzeRequest(
            type=str(resource["type"]),
            properties=_struct(resource.get("inputs") or {}),
            urn=str(resource["urn"]),
            name=str(resource.get("name") or str(resource["urn"]).rsplit("::", 1)[-1]),
            options=_options(resource),
            provider=provider,
        )

    def analyze(self, resource: Mapping[str, Any],
                providers: Mapping[str, Mapping[str, Any]] | None = None) -> list[Violation]:
        """Analyze one resource (resource policies only)."""
        response = self._call("Analyze", self.analyze_request(resource, providers or {}))
        return self._violations(response, str(resource["urn"]))

    def analyze_stack(self, resources: Sequence[Mapping[str, Any]],
                      requests: Iterable[analyzer_pb2.AnalyzeRequest] = ()) -> list[Violation]:
        """AnalyzeStack over all resources (stack policies only), with parent, dependencies and
        property dependencies. ``requests``: Analyze requests already built for some of them, whose
        properties and provider are copied instead of encoded again."""
        providers = _providers_by_urn(resources)
        built = {request.urn: request for request in requests}
        request = analyzer_pb2.AnalyzeStackRequest()
        for r in resources:
            prop_deps = {
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                for k, v in (r.get("propertyDependencies") or {}).items()
            }
            urn = str(r["urn"])
            known = built.get(urn)
            if known is not None:
                properties, provider = known.properties, known.provider if known.HasField("provider") else None
            else:
                properties, provider = _struct(r.get("inputs") or {}), _provider(r, providers)
            request.resources.append(analyzer_pb2.AnalyzerResource(
                type=str(r["type"]),
                properties=properties,
                urn=urn,
                name=str(r.get("name") or urn.rsplit("::", 1)[-1]),
                options=_options(r),
                provider=provider,
                parent=r.get("parent") or "",
                dependencies=list(r.get("dependencies") or []),
                propertyDependencies=prop_deps,
            ))
        return self._violations(self._call("AnalyzeStack", request), "")

    def analyze_all(self, resources: Sequence[Mapping[str, Any]]) -> list[Violation]:
        """Analyze every custom resource (all calls in flight at once as gRPC futures), then
        AnalyzeStack; returns the violations sorted."""
        providers = _providers_by_urn(resources)
        return self.collect(resources, [self.send(self.analyze_request(r, providers)) for r in resources
                                        if analyzed(r)])

    def collect(self, resources: Sequence[Mapping[str, Any]],
                sent: Sequence[tuple[analyzer_pb2.AnalyzeRequest, Future[Any]]]) -> list[Violation]:
        """The violations of the Analyze calls in ``sent`` (from :meth:`send`), then AnalyzeStack over
        ``resources`` reusing those calls' requests; sorted."""
        out = self.results(sent)
        out.extend(self.analyze_stack(resources, (request for request, _ in sent)))
        return sorted(out)

    def send(self, request: analyzer_pb2.AnalyzeRequest) -> tuple[analyzer_pb2.AnalyzeRequest, Future[Any]]:
        """Start one Analyze call, or queue it while :data:`MAX_IN_FLIGHT` are in flight (it starts when
        one of them ends); :meth:`results` collects them. Never blocks."""
        stub = self.stub
        future: Future[Any] = Future()
        with self._window:
            self._waiting.append((request, future))
        self._pump(stub)
        return request, future

    def _pump(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        """Start waiting calls while the window has room (a loop, not recursion: a call that fails at
        once finishes inside ``add_done_callback``, which pumps again in the same thread)."""
        if getattr(self._pumping, "active", False):
            return
        self._pumping.active = True
        try:
            while True:
                with self._window:
                    if not self._sending or not self._waiting or self._in_flight >= MAX_IN_FLIGHT:
                        return
                    request, future = self._waiting.popleft()
                    if not future.set_running_or_notify_cancel():  # cancelled while it waited
                        continue
                    self._in_flight += 1
                try:
                    call = stub.Analyze.future(request)
                except BaseException as err:  # e.g. the channel closed meanwhile
                    future.set_exception(AnalyzerError(f"Analyze could not be sent: {err}"))
                    with self._window:
                        self._in_flight -= 1
                    continue
                call.add_done_callback(lambda c, f=future: self._finished(stub, c, f))
        finally:
            self._pumping.active = False

    def _finished(self, stub: analyzer_pb2_grpc.AnalyzerStub, call: Any, future: Future[Any]) -> None:
        # The future is running (set_running_or_notify_cancel): it cannot be cancelled any more, so it
        # takes the outcome; the window slot is given back whatever happens.
        try:
            future.set_result(call.result())
        except grpc.RpcError as err:
            future.set_exception(err)
        except BaseException as err:  # the call was cancelled, e.g. when the channel closed
            future.set_exception(AnalyzerError(f"Analyze did not finish: {err!r}"))
        finally:
            with self._window:
                self._in_flight -= 1
            self._pump(stub)

    def results(self, sent: Iterable[tuple[analyzer_pb2.AnalyzeRequest, Future[Any]]]) -> list[Violation]:
        """The violations of Analyze calls started with :meth:`send`, waiting for each."""
        out: list[Violation] = []
        try:
            for req, fut in sent:
                out.extend(self._violations(fut.result(), req.urn))
        except grpc.RpcError as e:
            raise AnalyzerError(f"Analyze failed: {e}\npack stderr:\n{self.stderr()}") from e
        return out

    @property
    def levels(self) -> Mapping[str, str]:
        """Effective enforcement level per policy (after :meth:`configure`)."""
        self.info()
        return dict(self._levels)


def analyzed(resource: Mapping[str, Any]) -> bool:
    """Whether Analyze sees the resource: custom resources (providers included), not the stack."""
    return bool(resource.get("custom", True)) and resource.get("type") != "pulumi:pulumi:Stack"


def is_provider(resource: Mapping[str, Any]) -> bool:
    return str(resource.get("type", "")).startswith("pulumi:providers:")


def _providers_by_urn(resources: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(r["urn"]): r for r in resources if is_provider(r)}


__all__ = ["AnalyzerError", "AnalyzerInfo", "PolicyAnalyzer", "PolicyInfo", "Violation"]
