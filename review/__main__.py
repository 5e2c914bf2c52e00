"""``python -m review``: see :mod:`review.cli`."""

import os
import sys

from review.cli import main

if __name__ == "__main__":
    code = main()
    # The report is written and the policy pack stopped by now. Skip interpreter finalization: tearing
    # down the provider SDKs' module graph and the runtime's worker threads takes ~0.8 s and does nothing
    # a one-shot command needs.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
