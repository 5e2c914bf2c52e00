"""``python -m review --stack NAME [--format text|json|markdown|mermaid] [--details] [--compare-to STACK]``.

Phases, arranged so that the slow parts overlap (goal: the production review at most 0.8 s above the
time a fresh Python takes to import the provider SDKs, measured with ``python -m review.bench``):

1. the stack file is read; the policy pack is started as an analyzer process in a background
   thread, configured from the stack's settings (budget ``monthlyUsd``, region, usage, environment)
   and warmed with an empty AnalyzeStack — all *while* the program runs;
2. the program runs under Pulumi's mock runtime (``review.program.run_program``); each resource's
   Analyze call goes to the pack as soon as the resource is registered (queued until the pack is
   ready), so the pack analyzes in its own process *while* the program runs; a bad stack file
   stops here with exit code 2 and its one-line message on stderr — nothing else is printed;
3. the pack answers the Analyze calls and runs AnalyzeStack over the whole stack (gRPC, in a thread)
   *while* this process prices the resources (``cost.model.estimate``) and, with ``--compare-to``,
   runs and prices the other stack;
4. the report (the JSON contract, ``review.report``) is rendered as text, json or markdown while
   the pack shuts down.

Exit codes: 0 clean; 1 a mandatory violation or over budget; 2 bad config or usage (also: a policy
pack that cannot be started, or a program that crashes — with its traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from cost.model import CostReport
    from review.analyzer import PolicyAnalyzer
    from review.mocks import RecordedResource
    from review.program import ProgramRun, StackConfig
    from review.report import CompareResult, PolicyResult, StackSettings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "json", "markdown", "mermaid")


class ReviewError(Exception):
    """Bad config or usage: the message (one line) goes to stderr, exit code 2."""

    exit_code = 2


# ---------------------------------------------------------------------------------------------
# The analyzer, started in the background
# ---------------------------------------------------------------------------------------------


class _StreamedAnalysis:
    """Each resource's Analyze call, started while the program runs: the monitor hands every resource
    over as soon as it is registered (``run_program(on_resource=...)``, in the runtime's worker
    threads) and its request goes to the pack as a gRPC future — queued until the pack is configured
    — so that the pack analyzes in its own process while this one runs the program. The requests are
    the ones :meth:`PolicyAnalyzer.analyze_all` builds from the finished run (a resource's provider is
    registered before it). Should anything go wrong here, :attr:`usable` is False and the policy phase
    analyzes the finished run as a whole."""

    def __init__(self, analyzer: PolicyAnalyzer) -> None:
        self.analyzer = analyzer
        self.providers: dict[str, dict[str, Any]] = {}
        self.pending: list[Any] = []
        self.sent: list[tuple[Any, Any]] = []
        self.dicts: dict[str, dict[str, Any]] = {}
        """The contract's dict of each resource seen, by URN (a recorded resource does not change)."""
        self.ready = False
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self, rec: RecordedResource) -> None:
        from review.analyzer import analyzed, is_provider
        from review.report import resource_dict

        try:
            d = resource_dict(rec)
            with self._lock:
                self.dicts[rec.urn] = d
            if is_provider(d):
                with self._lock:
                    self.providers[d["urn"]] = d
            if not analyzed(d):
                return
            with self._lock:
                request = self.analyzer.analyze_request(d, self.providers)
                if not self.ready:
                    self.pending.append(request)
                    return
            sent = self.analyzer.send(request)
            with self._lock:
                self.sent.append(sent)
        except BaseException as err:  # never into the program: the policy phase falls back
            self.error = err

    def resource_dicts(self, run: ProgramRun) -> list[dict[str, Any]]:
        """``review.report.resource_dicts(run)``, reusing the dicts made while the program ran."""
        from review.report import resource_dict

        with self._lock:
            made = dict(self.dicts)
        return [made.get(r.urn) or resource_dict(r) for r in run.resources]

    def release(self) -> None:
        """The pack is configured: send what was queued, and from now on each resource at once."""
        with self._lock:
            self.ready = True
            pending, self.pending = self.pending, []
        try:
            sent = [self.analyzer.send(request) for request in pending]
        except BaseException as err:
            self.error = err
            return
        with self._lock:
            self.sent.extend(sent)

    def usable(self, resources: Sequence[Mapping[str, Any]]) -> bool:
        """Every resource Analyze must see was sent once, and nothing failed."""
        from review.analyzer import analyzed

        with self._lock:
            urns = sorted(request.urn for request, _ in self.sent)
        return self.error is None and self.ready and urns == sorted(str(r["urn"]) for r in resources if analyzed(r))


class _BackgroundAnalyzer:
    """Starts the policy pack in a thread and configures it from the stack's settings (known from
    the stack file before the program runs); :meth:`get` waits for it (and re-raises its failure).
    :attr:`streamed` is handed to the program: its Analyze calls start as soon as the pack is ready."""

    def __init__(self, pack_dir: Path, settings: StackSettings, project: str) -> None:
        from review.analyzer import PolicyAnalyzer

        self.pack_dir = pack_dir
        self.settings = settings
        self.project = project
        self.analyzer: PolicyAnalyzer = PolicyAnalyzer(pack_dir)
        self.streamed = _StreamedAnalysis(self.analyzer)
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._start, name="policy-pack-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        started = time.perf_counter()
        try:
            self.analyzer.start()
            self.analyzer.info()
            self.configure(self.settings)
            # Warm the pack while the program runs: the first AnalyzeStack imports the cost model
            # and loads the price table (the budget policy does so lazily).
            self.analyzer.analyze_stack([])
            self.streamed.release()
        except BaseException as err:  # re-raised in get()
            self.error = err
        finally:
            self.seconds = time.perf_counter() - started

    def configure(self, settings: StackSettings) -> None:
        """Configure (policy config: budget, region, usage, environment) + ConfigureStack."""
        self.settings = settings
        self.analyzer.configure(None, common=settings.policy_config())
        self.analyzer.configure_stack(stack=settings.stack, project=self.project,
                                      tags={"environment": settings.environment}, config=settings.config)

    def get(self) -> PolicyAnalyzer:
        self._thread.join()
        if self.error is not None:
            raise ReviewError(f"policy pack {self.pack_dir} failed: {self.error}") from self.error
        return self.analyzer

    def close(self) -> None:
        self._thread.join()
        self.analyzer.close()

    def close_in_background(self) -> threading.Thread:
        """Close (gRPC's channel close alone takes ~0.2 s) while the caller renders; join the thread."""
        thread = threading.Thread(target=self.close, name="policy-pack-close", daemon=True)
        thread.start()
        return thread


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------


@dataclass
class Review:
    """Everything the phases produced; :meth:`report` turns it into the JSON contract."""

    run: ProgramRun
    settings: StackSettings
    policies: PolicyResult
    cost: CostReport
    timings: dict[str, float]
    compare_to: CompareResult | None = None
    closing: list[threading.Thread] = field(default_factory=list)
    """The analyzer being shut down in the background (``defer_close=True``); see :meth:`finish`."""
    resources: list[dict[str, Any]] | None = None
    """The contract's resource dicts (built once, shared by the phases)."""
    topology: dict[str, Any] | None = None
    """The stack's topology (``review.topology.topology_json``)."""

    def finish(self) -> None:
        """Wait until the policy pack process is gone."""
        for thread in self.closing:
            thread.join()
        self.closing.clear()

    def report(self) -> dict[str, Any]:
        from review.report import build_report

        return build_report(self.run, self.settings, self.policies, self.cost, self.timings, self.compare_to,
                            self.resources, self.topology)


def _analyzer_resources(run: ProgramRun, resources: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The contract's resource dicts plus ``propertyDependencies`` (AnalyzeStack sends them)."""
    from review.report import resource_dicts

    out = []
    for r, d in zip(run.resources, resources if resources is not None else resource_dicts(run), strict=True):
        if r.property_dependencies:
            d = {**d, "propertyDependencies": r.property_dependencies}
        out.append(d)
    return out


def _load_config(project_dir: Path, stack: str, overrides: Mapping[str, Any] | None) -> StackConfig:
    from review.program import UsageError, load_stack_config

    try:
        sc = load_stack_config(project_dir, stack)
    except UsageError as err:
        raise ReviewError(str(err)) from None
    for key, value in (overrides or {}).items():
        sc.config[key] = value if isinstance(value, str) else json.dumps(value)
    return sc


def _run_program(project_dir: Path, stack: str, overrides: Mapping[str, Any] | None,
                 on_resource: Callable[[RecordedResource], None] | None = None) -> ProgramRun:
    from review.program import UsageError, run_program

    try:
        run = run_program(project_dir, stack, overrides=overrides, on_resource=on_resource)
    except UsageError as err:
        raise ReviewError(str(err)) from None
    if run.error is not None:
        raise ReviewError(run.error)
    return run


class _PolicyPhase(threading.Thread):
    """Analyze every custom resource + AnalyzeStack, in a thread (the work happens in the pack's
    process; this thread mostly waits on gRPC)."""

    def __init__(self, background: _BackgroundAnalyzer, run: ProgramRun, settings: StackSettings,
                 resources: list[dict[str, Any]]) -> None:
        super().__init__(name="policy-phase", daemon=True)
        self.background, self.run_, self.settings, self.resources = background, run, settings, resources
        self.result: PolicyResult | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.wait_seconds = 0.0

    def run(self) -> None:
        from review.analyzer import AnalyzerError
        from review.report import PolicyResult

        started = time.perf_counter()
        try:
            analyzer = self.background.get()
            self.wait_seconds = time.perf_counter() - started
            streamed = self.background.streamed
            reconfigured = self.settings != self.background.settings
            if reconfigured:  # the program exported another environment: what was streamed is void
                self.background.configure(self.settings)
            info = analyzer.info()
            resources = _analyzer_resources(self.run_, self.resources)
            if not reconfigured and streamed.usable(resources):
                violations = analyzer.collect(resources, streamed.sent)
            else:
                violations = analyzer.analyze_all(resources)
            self.result = PolicyResult(info.name, info.version, violations, len(info.policies))
        except AnalyzerError as err:
            self.error = ReviewError(f"policy pack {self.background.pack_dir} failed: {err}")
        except BaseException as err:
            self.error = err
        finally:
            self.seconds = time.perf_counter() - started


def _estimate(resources: list[dict[str, Any]], settings: StackSettings) -> CostReport:
    from cost.model import estimate

    return estimate(resources, region=settings.region, usage=settings.usage or None)


def run_review(
    project_dir: Path,
    stack: str,
    *,
    compare_to: str | None = None,
    pack_dir: Path | None = None,
    policies: bool = True,
    overrides: Mapping[str, Any] | None = None,
    defer_close: bool = False,
) -> Review:
    """Run every phase; raises :class:`ReviewError` for bad config or usage (exit code 2).

    With ``defer_close`` the policy pack is shut down in a background thread: call
    :meth:`Review.finish` after rendering.
    """
    from review.report import CompareResult, PolicyResult, StackSettings, resource_dicts

    started = time.perf_counter()
    timings: dict[str, float] = {}
    pack = (pack_dir or project_dir / "policies").resolve()
    background: _BackgroundAnalyzer | None = None
    missing_pack = policies and not (pack / "PulumiPolicy.yaml").is_file()
    if policies and not missing_pack:
        # The pack is started and configured while the program runs: everything Configure needs is
        # in the stack file. (An unknown stack or unreadable file stops here, exit 2.)
        sc = _load_config(project_dir, stack, overrides)
        background = _BackgroundAnalyzer(pack, StackSettings.from_config(sc), sc.project)
    closing: list[threading.Thread] = []
    phase: _PolicyPhase | None = None
    try:
        t = time.perf_counter()
        run = _run_program(project_dir, stack, overrides, background.streamed if background is not None else None)
        if missing_pack:  # after the program: a bad stack file is reported first
            raise ReviewError(f"{pack}: no policy pack here (PulumiPolicy.yaml); use --no-policies to skip")
        timings["program_s"] = time.perf_counter() - t
        assert run.config is not None
        settings = StackSettings.from_config(run.config, run.outputs)
        resources = background.streamed.resource_dicts(run) if background is not None else resource_dicts(run)

        if background is not None:
            phase = _PolicyPhase(background, run, settings, resources)
            phase.start()

        t = time.perf_counter()
        cost = _estimate(resources, settings)
        timings["cost_s"] = time.perf_counter() - t

        other: CompareResult | None = None
        if compare_to is not None:
            t = time.perf_counter()
            other_run = _run_program(project_dir, compare_to, None)
            assert other_run.config is not None
            other_settings = StackSettings.from_config(other_run.config, other_run.outputs)
            other = CompareResult(compare_to, _estimate(resource_dicts(other_run), other_settings),
                                  other_settings.budget)
            timings["compare_s"] = time.perf_counter() - t

        if phase is not None and background is not None:
            phase.join()
            timings["policies_s"] = phase.seconds
            timings["policies_wait_s"] = phase.wait_seconds
            timings["analyzer_start_s"] = background.seconds
            if phase.error is not None:
                raise phase.error
            assert phase.result is not None
            policy_result = phase.result
        else:
            timings["policies_s"] = 0.0
            policy_result = PolicyResult(None, skipped="--no-policies")
    except BaseException:
        if phase is not None:
            phase.join()
        if background is not None:
            background.close()
        raise
    if background is not None:
        if defer_close:
            closing.append(background.close_in_background())
        else:
            background.close()
    from review.topology import topology_json

    topology = topology_json(run.config, resources)
    timings["total_s"] = time.perf_counter() - started
    return Review(run, settings, policy_result, cost, timings, other, closing, resources, topology)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _default_project_dir() -> Path:
    cwd = Path.cwd()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return PACKAGE_ROOT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with one line (argparse would add the usage)
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m review",
        description="Offline review of a stack: run the program under Pulumi's mock runtime, "
                    "check it with the policy pack, price it. Exit 0 clean, 1 mandatory violation "
                    "or over budget, 2 bad config or usage.",
    )
    p.add_argument("--stack", "-s", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--compare-to", metavar="STACK", help="also price STACK and show the cost deltas")
    p.add_argument("--project-dir", type=Path, default=None,
                   help="project directory holding Pulumi.yaml (default: the nearest one above the cwd)")
    p.add_argument("--policy-pack", type=Path, default=None, metavar="DIR",
                   help="policy pack directory (default: <project>/policies)")
    p.add_argument("--no-policies", action="store_true", help="skip the policy pack")
    p.add_argument("--details", "-v", action="store_true",
                   help="text: list every resource (the preview-like tree) instead of grouping them")
    return p


def render(report: Mapping[str, Any], fmt: str, out: TextIO, *, details: bool = False) -> None:
    if fmt == "json":
        import json

        json.dump(report, out, indent=2, default=str)
        out.write("\n")
    elif fmt == "mermaid":
        from review.topology import mermaid

        out.write(mermaid(report.get("topology")))
    elif fmt == "markdown":
        from review.render import render_markdown

        out.write(render_markdown(report))
    else:
        from review.render import render_text

        render_text(report, out, details=details)


#: Top-level modules the review imports (pyproject's dependencies); checked before the run so that an
#: interpreter without them gets a sentence, not a traceback.
DEPENDENCIES = ("pulumi", "yaml", "rich", "grpc", "pydantic")


def missing_dependencies() -> list[str]:
    import importlib.util

    return [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    args = parser().parse_args(argv)
    missing = missing_dependencies()
    if missing:
        err.write(f"review: this Python ({sys.executable}) does not have the project's dependencies "
                  f"(missing: {', '.join(missing)}). Run `make review` (it sets up .venv), or after `make setup`: "
                  f".venv/bin/python -m review --stack {args.stack}\n")
        return 2
    project_dir = (args.project_dir or _default_project_dir()).resolve()
    try:
        review = run_review(project_dir, args.stack, compare_to=args.compare_to, pack_dir=args.policy_pack,
                            policies=not args.no_policies, defer_close=True)
    except ReviewError as e:
        err.write(f"{e}\n")
        return e.exit_code
    except Exception:  # a crash of the program (or of the review): not a verdict, so not exit 1
        import traceback

        traceback.print_exc(file=err)
        err.write("review: the run failed (see the traceback above); exit 2\n")
        return 2
    try:
        report = review.report()
        render(report, args.format, out, details=args.details)
        out.flush()
    finally:
        review.finish()
    return int(report["verdict"]["exit_code"])


__all__ = ["Review", "ReviewError", "main", "parser", "run_review"]
