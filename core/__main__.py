"""``python -m reelpick``: the same as the ``reelpick`` command."""

import sys

from .cli import main

sys.exit(main())
