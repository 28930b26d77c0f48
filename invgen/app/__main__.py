"""``python -m invgen.app``: the ``invgen`` command (``python -m invgen`` hands over to it)."""
import sys

from invgen.app.cli import main

sys.exit(main())
