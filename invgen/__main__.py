"""``python -m invgen`` (and so ``torchrun --nproc_per_node=N -m invgen ...``) is the ``invgen`` command.

This entry point belongs to the application, which the library never imports
(``tests/test_layout.py`` names this file as the one exception): it hands the command line over.
"""
import sys

from invgen.app.cli import main

sys.exit(main())
