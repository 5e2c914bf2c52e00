"""Cost model of the data platform: prices recorded resources from the shipped price table.

``cost.model`` holds the public API (``estimate``, ``compare``, ``CostReport``, ``CostLine``);
``cost.prices`` loads ``cost/prices.csv`` (built by ``python -m cost.build_prices``);
``cost.reference`` prices the source README's claimed topology (``python -m cost.reference``).
The package reads resources only; it imports nothing from ``infra``, ``review`` or ``policies``.
"""
