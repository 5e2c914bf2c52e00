"""review.analyzer.PolicyAnalyzer.send keeps at most MAX_IN_FLIGHT Analyze calls in flight (the rest wait in
the review's process and start as calls end): with thousands sent at once the pack's gRPC server cancelled
some of the late ones. Measured on the real pack: the calls the channel actually has open at any moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from review import analyzer as an
from review.analyzer import AnalyzerError, PolicyAnalyzer, analyzed
from review.program import run_program
from review.report import resource_dicts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dev_resources() -> list[dict[str, Any]]:
    return resource_dicts(run_program(ROOT, "dev"))


@contextmanager
def _sent_one_at_a_time(monkeypatch: pytest.MonkeyPatch, resources: list[dict[str, Any]],
                        count: int) -> Iterator[tuple[PolicyAnalyzer, list[Any]]]:
    """A window of one, and ``count`` Analyze calls sent to a fresh pack (one in flight, the rest queued)."""
    monkeypatch.setattr(an, "MAX_IN_FLIGHT", 1)
    with PolicyAnalyzer(ROOT / "policies") as pa:
        pa.configure(None)
        yield pa, [pa.send(pa.analyze_request(r, {})) for r in [r for r in resources if analyzed(r)][:count]]


class _Counting:
    """The real stub's Analyze, counting the calls open on the channel."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.open = 0
        self.most = 0
        self.started = 0
        self.lock = threading.Lock()

    def future(self, request: Any) -> Any:
        with self.lock:
            self.open += 1
            self.started += 1
            self.most = max(self.most, self.open)
        call = self.real.Analyze.future(request)
        call.add_done_callback(self._ended)
        return call

    def _ended(self, _call: Any) -> None:
        with self.lock:
            self.open -= 1


def test_send_keeps_the_window_and_every_call_gets_its_answer(monkeypatch: pytest.MonkeyPatch,
                                                              dev_resources: list[dict[str, Any]]) -> None:
    monkeypatch.setattr(an, "MAX_IN_FLIGHT", 8)
    resources = dev_resources
    providers = {r["urn"]: r for r in resources if an.is_provider(r)}
    requests = [r for r in resources if analyzed(r)]
    with PolicyAnalyzer(ROOT / "policies") as pa:
        pa.configure(None)
        counting = _Counting(pa.stub)
        monkeypatch.setattr(pa, "_stub", type("Stub", (), {"Analyze": counting})())
        sent = [pa.send(pa.analyze_request(r, providers)) for r in requests]
        windowed = pa.results(sent)
        monkeypatch.setattr(pa, "_stub", counting.real)
        monkeypatch.setattr(an, "MAX_IN_FLIGHT", 10_000)
        whole = pa.results([pa.send(pa.analyze_request(r, providers)) for r in requests])
    assert len(requests) > 150
    assert counting.started == len(requests)
    assert counting.most <= 8
    assert sorted(windowed) == sorted(whole) and windowed


def test_calls_still_waiting_when_the_analyzer_closes_fail_with_a_sentence(
        monkeypatch: pytest.MonkeyPatch, dev_resources: list[dict[str, Any]]) -> None:
    with _sent_one_at_a_time(monkeypatch, dev_resources, 20) as (pa, sent):
        pass
    with pytest.raises(AnalyzerError):
        pa.results(sent)
    assert all(future.done() for _, future in sent)
    errors = [future.exception() for _, future in sent]  # None: answered before the pack stopped
    assert all(e is None or isinstance(e, AnalyzerError | grpc.RpcError) for e in errors), {type(e) for e in errors}
    assert sum(isinstance(e, AnalyzerError) for e in errors) >= 15  # queued behind the one in flight


def test_a_cancelled_call_gives_its_slot_back(monkeypatch: pytest.MonkeyPatch,
                                              dev_resources: list[dict[str, Any]]) -> None:
    """A queued call cancelled by its caller is skipped; one already sent cannot be cancelled; the window
    ends empty and every other call gets its answer."""
    with _sent_one_at_a_time(monkeypatch, dev_resources, 6) as (pa, sent):
        assert sent[0][1].cancel() is False
        assert sent[3][1].cancel() is True
        kept = [s for i, s in enumerate(sent) if i != 3]
        pa.results(kept)
        assert all(future.done() and not future.cancelled() for _, future in kept)
        assert (pa._in_flight, len(pa._waiting)) == (0, 0)
