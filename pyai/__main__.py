"""``python -m pyai``: the ``pyai`` command."""

import sys

from .cli import main

sys.exit(main())
