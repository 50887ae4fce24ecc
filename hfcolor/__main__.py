"""``python -m hfcolor``: the same as the ``hfcolor`` command."""

import sys

from .cli import main

sys.exit(main())
