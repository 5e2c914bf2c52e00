"""The policy pack running as an analyzer process, shared by the session.

``fixtures.py`` (resource builders, ``production_like()``, mutators) is registered as the module
``policy_fixtures`` so test modules can import it under any pytest import mode.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from review.analyzer import PolicyAnalyzer

_spec = importlib.util.spec_from_file_location("policy_fixtures", Path(__file__).with_name("fixtures.py"))
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
sys.modules["policy_fixtures"] = _module
_spec.loader.exec_module(_module)

COMMON = _module.COMMON


@pytest.fixture(scope="session")
def analyzer() -> Iterator[PolicyAnalyzer]:
    with PolicyAnalyzer() as pa:
        yield pa


@pytest.fixture
def pa(analyzer: PolicyAnalyzer) -> PolicyAnalyzer:
    """The session analyzer reset to the default configuration."""
    analyzer.configure({}, common=COMMON)
    return analyzer
