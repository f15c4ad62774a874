"""``python -m zerotorch`` runs the console script."""

import sys

from zerotorch.cli import main

sys.exit(main())
