"""Integration-tier helpers: real binaries from Debian packages; a missing one fails the test, never skips it."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest


def require_binary(name: str, package: str) -> str:
    """Absolute path of ``name``; fails the test naming the Debian package that ships it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"'{name}' is not installed: apt-get install -y {package}", pytrace=False)
    return path


@pytest.fixture(name="require_binary")
def require_binary_fixture() -> Callable[[str, str], str]:
    """:func:`require_binary` as a fixture (test modules cannot import a conftest reliably)."""
    return require_binary
