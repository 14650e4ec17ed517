"""``python -m rft_jupyter`` is the ``rft-jupyter`` command line."""

import sys

from .cli import main

sys.exit(main())
