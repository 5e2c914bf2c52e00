"""``python -m review``: see :mod:`review.cli`."""

import sys

from review.cli import main

if __name__ == "__main__":
    sys.exit(main())
