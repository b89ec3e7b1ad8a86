"""``python -m desim`` is the ``desim`` command."""

import sys

from desim.cli import main

sys.exit(main())
