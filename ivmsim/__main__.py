"""Entry point: ``python -m ivmsim``."""

import sys

from ivmsim.cli import main

sys.exit(main())
