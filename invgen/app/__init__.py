"""The application: what a user runs, built on the library and never imported by it.

The ``invgen`` command (:mod:`~invgen.app.cli`, ``python -m invgen``): ``demo``
(:mod:`~invgen.app.demo`), ``reconstruct`` (:mod:`~invgen.app.reconstruct`, a module per step, its
images turned into operators and batches by :mod:`~invgen.app.inputs`), ``train``
(:mod:`~invgen.app.train_command`: the recipes of :mod:`~invgen.app.training`,
:mod:`~invgen.app.train_encoder` and :mod:`~invgen.app.train_adapt` on the one epoch loop of
:mod:`~invgen.app.train_loop`) and ``bench`` (the paper's experiments, :mod:`~invgen.app.experiments`);
their arguments and checks (:mod:`~invgen.app.arguments`, :mod:`~invgen.app.device`), the named
tasks (:mod:`~invgen.app.tasks`), the CelebA data and its one ``--data`` setting
(:mod:`~invgen.app.celeba`), and how work is cut into chunks and shared between processes
(``torchrun``, ``--shard``: :mod:`~invgen.app.parallel`).
"""
