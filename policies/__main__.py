"""Entry point of the policy pack: the Pulumi CLI runs this directory as a Python program.

The CLI (and ``review.analyzer.PolicyAnalyzer``) starts ``python -u policies`` with the working
directory ``policies/``; ``PolicyPack(...)`` then serves the analyzer over gRPC on a loopback port
and prints the port. The project root goes on ``sys.path`` in place of the pack directory, so
``policies.*`` and ``cost.*`` import as packages and no pack module shadows a stdlib name.
"""

import gc
import sys
from pathlib import Path

_PACK_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _PACK_DIR]
sys.path.insert(0, str(_PACK_DIR.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies._base import REGISTRY  # noqa: E402
from policies._fastpath import install  # noqa: E402
from policies.pack import PACK_NAME, build  # noqa: E402

POLICIES = build()
# The SDKs and the cost model are a large, long-lived object graph: move it out of the cyclic garbage
# collector's generations, which otherwise walk it again on every collection while the pack analyzes
# (AnalyzeStack of ~2,900 resources: 22 s with it, 9 s without; make bench). New garbage is still collected.
gc.freeze()
# A request decodes every resource into many small containers that die by reference counting; at the
# default threshold (700 allocations) the collector runs thousands of times per request and each older-
# generation pass walks everything the request holds, so collection time grew with the stack's square
# (AnalyzeStack after Analyze at ~2,900 resources: 1.39 s, 0.83 s at this threshold, 0.82 s with no
# collector; make bench). Cycles are still collected, every 200,000 net allocations.
gc.set_threshold(200_000)
PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=install(POLICIES, {p.meta.name: p.meta.types for p in REGISTRY}),
    description="Encryption, exposure, resilience, identity, logging, tagging, Kubernetes, Docker and budget "
                "policies for the data-platform stacks (FSBP / Checkov / seed requirements).",
)
