"""Import every concern module once, in a stable order, so ``REGISTRY`` holds all policies."""

from __future__ import annotations

import importlib

from policies._base import REGISTRY, RegisteredPolicy

MODULES = (
    "encryption",
    "network",
    "resilience",
    "identity",
    "monitoring",
    "tagging",
    "kubernetes",
    "docker",
    "budget",
    "deployability",
    "secrets",
)


def load() -> list[RegisteredPolicy]:
    for module in MODULES:
        importlib.import_module(f"policies.{module}")
    # In MODULES order whichever module was imported first (a test may import one before load()).
    return sorted(REGISTRY, key=lambda p: MODULES.index(p.check.__module__.rsplit(".", 1)[-1]))
