"""``python -m invgen`` (and so ``torchrun --nproc_per_node=N -m invgen ...``) is the ``invgen`` command.

The command belongs to the application (``invgen/app``), which the library never imports
(``tests/test_layout.py``); this entry point only hands the command line over to it.
"""
import runpy

runpy.run_module("invgen.app", run_name="__main__", alter_sys=True)
