"""The policy phase's Analyze calls, started while the program runs (review.cli._StreamedAnalysis): the
same violations as analyzing the finished run, whether the pack is ready before the program starts or
only after it ends; anything that goes wrong while streaming makes the phase analyze the run as a whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from review.analyzer import PolicyAnalyzer, analyzed
from review.cli import _analyzer_resources, _StreamedAnalysis
from review.program import run_program
from review.report import StackSettings, resource_dicts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production_pack() -> Iterator[PolicyAnalyzer]:
    with PolicyAnalyzer(ROOT / "policies") as pa:
        yield pa


def _configured(pa: PolicyAnalyzer, stack: str) -> None:
    from review.program import load_stack_config

    settings = StackSettings.from_config(load_stack_config(ROOT, stack))
    pa.configure(None, common=settings.policy_config())
    pa.configure_stack(stack=stack, tags={"environment": settings.environment}, config=settings.config)


@pytest.mark.parametrize("ready_before_the_program", [True, False])
def test_streamed_analysis_finds_what_the_finished_run_does(production_pack: PolicyAnalyzer,
                                                            ready_before_the_program: bool) -> None:
    _configured(production_pack, "production")
    streamed = _StreamedAnalysis(production_pack)
    if ready_before_the_program:
        streamed.release()
    run = run_program(ROOT, "production", on_resource=streamed)
    assert bool(streamed.pending) is not ready_before_the_program
    if not ready_before_the_program:
        assert streamed.sent == []
        streamed.release()
    resources = _analyzer_resources(run, resource_dicts(run))
    assert streamed.usable(resources)
    reused = streamed.resource_dicts(run)  # the review's resource dicts: the ones made while streaming
    assert reused == resource_dicts(run)
    assert all(d is streamed.dicts[r.urn] for d, r in zip(reused, run.resources, strict=True))
    assert len(streamed.sent) == sum(1 for r in resources if analyzed(r)) > 300
    whole = production_pack.analyze_all(resources)
    assert production_pack.collect(resources, streamed.sent) == whole  # what the policy phase does
    assert whole, "production has advisory findings: the comparison is not of two empty lists"


def test_the_stack_request_reuses_the_streamed_requests_unchanged(production_pack: PolicyAnalyzer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """AnalyzeStack copies each streamed request's properties and provider: the request it sends is the one
    built from the finished run alone."""
    _configured(production_pack, "production")
    streamed = _StreamedAnalysis(production_pack)
    streamed.release()
    run = run_program(ROOT, "production", on_resource=streamed)
    resources = _analyzer_resources(run, resource_dicts(run))
    production_pack.results(streamed.sent)
    sent = []
    real = production_pack._call

    def capture(method: str, request: object) -> object:
        sent.append(request)
        return real(method, request)

    monkeypatch.setattr(production_pack, "_call", capture)
    production_pack.analyze_stack(resources)
    production_pack.analyze_stack(resources, (request for request, _ in streamed.sent))
    assert len(sent[0].resources) == len(resources) > 400
    assert sum(r.HasField("provider") for r in sent[0].resources) > 50
    assert sent[1] == sent[0]


def test_a_failure_while_streaming_leaves_the_run_to_the_whole_analysis(production_pack: PolicyAnalyzer) -> None:
    _configured(production_pack, "dev")
    streamed = _StreamedAnalysis(production_pack)
    streamed.release()
    calls = 0
    real = production_pack.analyze_request

    def failing_once(resource, providers):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("a request that cannot be built")
        return real(resource, providers)

    production_pack.analyze_request = failing_once  # type: ignore[method-assign]
    try:
        run = run_program(ROOT, "dev", on_resource=streamed)
    finally:
        del production_pack.analyze_request
    assert run.error is None and len(run.resources) > 5  # the program itself is not disturbed
    assert isinstance(streamed.error, RuntimeError)
    assert not streamed.usable(_analyzer_resources(run, resource_dicts(run)))


def test_streaming_sends_every_analyzed_resource_once_and_not_the_stack(production_pack: PolicyAnalyzer) -> None:
    _configured(production_pack, "dev")
    streamed = _StreamedAnalysis(production_pack)
    streamed.release()
    run = run_program(ROOT, "dev", on_resource=streamed)
    resources = _analyzer_resources(run, resource_dicts(run))
    urns = [request.urn for request, _ in streamed.sent]
    assert len(urns) == len(set(urns))
    assert not any("pulumi:pulumi:Stack" in u for u in urns)
    assert sorted(urns) == sorted(r["urn"] for r in resources if r["custom"] and "pulumi:pulumi:Stack" not in r["urn"])
    production_pack.results(streamed.sent)
    # one resource missing: not usable
    streamed.sent.pop()
    assert not streamed.usable(resources)
