"""Run the Pulumi program offline, the way ``pulumi preview`` would, and record what it registers.

``run_program(project_dir, stack)`` loads ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` like the CLI
(``secure:`` values become secret placeholders), sets the config, and runs the project's ``main``
under Pulumi's mock runtime with a :class:`~review.mocks.RecordingMonitor`: working directory
``main`` and ``sys.path[0] = main``, as the CLI's language host does.

``record(fn, ...)`` does the same for any callable (component tests use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import runpy
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as rt_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from review.mocks import SECRET, CloudMocks, RecordedResource, RecordingMonitor


class UsageError(Exception):
    """Bad use of the review (unknown stack, unreadable file): exit code 2."""


@dataclass
class StackConfig:
    project: str
    main: Path
    stack: str
    stack_file: str
    config: dict[str, str]
    """``namespace:key`` → string value (JSON for structured values), as the CLI passes it."""
    secret_keys: list[str]
    region: str


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    seconds: float
    error: str | None = None
    """The one-line message of a ``pulumi.RunError`` (bad config); resources are then empty."""
    config: StackConfig | None = None
    logs: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn_suffix: str) -> RecordedResource:
        matches = [r for r in self.resources if r.urn.endswith(urn_suffix)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources end with {urn_suffix!r}")
        return matches[0]


def _mask_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET, True
        out, secret = {}, False
        for k, v in value.items():
            out[k], s = _mask_secure(v)
            secret = secret or s
        return out, secret
    if isinstance(value, list):
        pairs = [_mask_secure(v) for v in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    project_file = project_dir / "Pulumi.yaml"
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not project_file.is_file():
        raise UsageError(f"{project_file}: no Pulumi project here")
    if not stack_file.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise UsageError(f"{stack_file.name}: no such stack file (stacks: {', '.join(known)})")
    project = _read_yaml(project_file)
    doc = _read_yaml(stack_file)
    name = project["name"]
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    # Project-level defaults (Pulumi.yaml `config: {key: {default: ...}}`), then the stack file.
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "default" in spec:
            full = key if ":" in key else f"{name}:{key}"
            config[full] = _as_config_string(spec["default"])
    for key, raw in ((doc.get("config") or {}).items()):
        full = key if ":" in key else f"{name}:{key}"
        value, secret = _mask_secure(raw)
        config[full] = _as_config_string(value)
        if secret:
            secret_keys.append(full)
    main = (project_dir / str(project.get("main", "."))).resolve()
    region = json.loads(config["aws:region"]) if config.get("aws:region", "").startswith('"') else \
        config.get("aws:region", "us-east-1")
    return StackConfig(name, main, stack, stack_file.name, config, secret_keys, region)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; a syntax error is a :class:`UsageError` with line, column and reason
    (``Pulumi.dev.yaml: line 3, column 5: not valid YAML: mapping values are not allowed here``)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context = getattr(err, "context", None)
        reason = f"{problem} ({context})" if context else problem
        raise UsageError(f"{path.name}:{where} not valid YAML: {reason}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path.name}: not a YAML mapping (found {type(doc).__name__}); see README.md")
    return doc


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the run, then restore its previous state.

    A run allocates millions of short-lived objects (the SDK's futures, outputs and tasks for every
    property of every resource): each allocation burst triggers a collection that walks every live
    object, the provider SDKs' large module graphs included. That was ~40 % of the program phase's
    CPU time (production, 414 resources: 1.7 s → 0.9 s warm) and grows with the stack. Nearly all of
    the garbage is freed by reference counting anyway (peak memory +7 % at 2,900 resources); what
    is left is collected by the first collection after the run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _program_cwd(main: Path) -> Iterator[None]:
    """cwd = main and sys.path[0] = main for the run, as the CLI's language host sets them."""
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(main)
    sys.path[0:0] = [str(main)]
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def _skip_stack_traces() -> None:
    """Registering a resource makes the Python SDK walk the call stack for the engine's source
    positions (``pulumi.runtime.resource._get_stack_trace``, ~0.5 ms per resource). No monitor here
    reads them, so offline runs send an empty trace; inputs, options and dependencies are untouched.
    A no-op when the SDK has no such function."""
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    if hasattr(sdk_resource, "_get_stack_trace"):
        sdk_resource._get_stack_trace = source_pb2.StackTrace


def record(
    fn: Callable[[], Any],
    *,
    project: str = "data-platform",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    region: str = "us-east-1",
    preview: bool = True,
    on_resource: Callable[[RecordedResource], None] | None = None,
) -> ProgramRun:
    """Run ``fn`` as a Pulumi program under the recording mock monitor and return what it registered.

    ``on_resource`` is called with each resource as soon as it is registered, from the runtime's worker
    threads (the review streams them to the policy pack while the program runs); it must not raise.
    Raises whatever ``fn`` raises, except ``pulumi.RunError`` which is returned as ``error``.
    """
    cfg = dict(config or {})
    cfg.setdefault("aws:region", region)
    _skip_stack_traces()
    error: str | None = None
    started = time.perf_counter()
    # The loop must exist before set_mocks: set_mocks schedules the root Stack's registration on
    # the current loop, and run_in_stack waits for every outstanding registration.
    try:
        previous: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        previous = None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    set_all_config(cfg, secret_keys or [])
    mocks = CloudMocks(region)
    monitor = RecordingMonitor(mocks, on_resource)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    rt_settings.set_root_resource(None)  # type: ignore[arg-type]
    try:
        with _no_cyclic_gc():
            loop.run_until_complete(run_in_stack(fn))
    except pulumi.RunError as err:
        error = str(err)
    finally:
        loop.close()
        # Leave the thread with a usable current loop, as it was before (other code, e.g. a test's
        # own set_mocks, expects one).
        asyncio.set_event_loop(previous if previous is not None and not previous.is_closed()
                               else asyncio.new_event_loop())
    seconds = time.perf_counter() - started
    resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
    if error is not None:
        resources = []
    return ProgramRun(project, stack, resources, monitor.stack_outputs, seconds, error)


def run_program(project_dir: Path, stack: str, *, overrides: Mapping[str, Any] | None = None,
                on_resource: Callable[[RecordedResource], None] | None = None) -> ProgramRun:
    """Run the project's program for ``stack``; ``overrides`` replace config keys (tests, scaling bench);
    ``on_resource`` as in :func:`record`."""
    sc = load_stack_config(project_dir, stack)
    for key, value in (overrides or {}).items():
        sc.config[key] = _as_config_string(value)
    main_file = sc.main / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main_file), run_name="__main__")

    with _program_cwd(sc.main):
        run = record(program, project=sc.project, stack=stack, config=sc.config, secret_keys=sc.secret_keys,
                     region=sc.region, on_resource=on_resource)
    run.config = sc
    return run
