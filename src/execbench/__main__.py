"""`python -m execbench <verb>`: see execbench.cli."""

import sys

from .cli import main

sys.exit(main())
