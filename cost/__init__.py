"""Cost model of the data platform: prices recorded resources from the shipped price table.

``cost.model`` holds the public API (``estimate``, ``compare``, ``CostReport``, ``CostLine``);
``cost.rules`` prices each resource type (one module per service); ``cost.usage`` defines the usage
assumptions; ``cost.attribution`` decides which component a cost belongs to; ``cost.prices`` loads
``cost/prices.csv``, built from ``cost/sources/`` by ``python -m cost.build_prices`` and complete for
the regions of ``cost.coverage``; ``cost.classes`` answers which classes have a price;
``cost.reference`` prices seed 001's claimed topology (``python -m cost.reference``).
The package reads resources only; it imports nothing from ``infra``, ``review`` or ``policies``.
"""
