"""The application: what a user runs, built on the library and never imported by it.

The ``invgen`` command (:mod:`~invgen.app.cli`: demo, reconstruct, train, bench), its
arguments and checks (:mod:`~invgen.app.arguments`, :mod:`~invgen.app.device`), the named
tasks (:mod:`~invgen.app.tasks`), the CelebA data (:mod:`~invgen.app.celeba`), the paper's
experiments (:mod:`~invgen.app.experiments`) and the default generator's training
(:mod:`~invgen.app.training`).
"""
