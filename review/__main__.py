"""``python -m review``: see :mod:`review.cli`."""

import gc
import os
import sys

# One report, then os._exit: no cyclic garbage collection in this process. Importing the provider SDKs
# and running the program allocate millions of objects, and every collection walks all the live ones
# again (a third of the CPU time of a production review); nearly all garbage is freed by reference
# counting, and peak memory grows by a few percent (review.program pauses the collector during the run
# of the program in any process).
gc.disable()

from review.cli import main  # noqa: E402

if __name__ == "__main__":
    code = main()
    # The report is written and the policy pack stopped by now. Skip interpreter finalization: tearing
    # down the provider SDKs' module graph and the runtime's worker threads takes ~0.8 s and does nothing
    # a one-shot command needs.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
