"""python -m donki_player: one player process, the options of `donki player`. Exit codes: 0 clean stop, 2 bad input
or rejected, 1 other failure (the Director lost for good, a socket failure)."""

import sys

from .cli import main

sys.exit(main())
