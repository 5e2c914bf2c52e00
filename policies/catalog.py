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
    return list(REGISTRY)
