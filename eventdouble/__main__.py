"""``python -m eventdouble``: the ``eventdouble`` command."""

import sys

from eventdouble.cli import main

sys.exit(main())
