"""``python -m musewidgets``: the same as the ``musewidgets`` command."""

import sys

from .cli import main

sys.exit(main())
