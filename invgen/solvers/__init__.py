"""Solvers: one generic loop (:func:`solve`) and the methods built on it.

``csgm`` (latent search), ``iagan`` (image-adaptive fine-tuning from CSGM's latent),
``dip`` (Deep Image Prior), ``back_project`` (exact consistency with ``y``) and
``posterior_mean`` (the average of several back-projected estimates, with their spread);
data fidelities for :func:`solve`: ``squared_error`` (the default), ``l1``, ``Huber``,
``PoissonNLL``. The methods by name: :func:`reconstruct` runs those of :data:`METHODS`
with a :class:`Budget` of their settings (:data:`PAPER`: the paper's); :func:`register`
adds a :class:`Method` (a function of a :class:`Problem`, and settings made with
:func:`setting`).
"""
from invgen.solvers.back_projection import back_project, back_project_noisy
from invgen.solvers.csgm import csgm, csgm_all_starts, encoder_starts
from invgen.solvers.dip import dip
from invgen.solvers.fidelity import Huber, PoissonNLL, l1, squared_error
from invgen.solvers.iagan import iagan
from invgen.solvers.loop import SolveResult, solve
from invgen.solvers.methods.base import Method, Problem, setting
from invgen.solvers.pipeline import reconstruct, reconstruct_samples
from invgen.solvers.posterior import PosteriorEstimate, pixel_spread, posterior_mean
from invgen.solvers.registry import METHODS, PAPER, Budget, register, unregister

__all__ = [
    "METHODS", "PAPER", "Budget", "Huber", "Method", "PoissonNLL", "PosteriorEstimate", "Problem", "SolveResult",
    "back_project", "back_project_noisy", "csgm", "csgm_all_starts", "dip", "encoder_starts", "iagan", "l1",
    "pixel_spread", "posterior_mean", "reconstruct", "reconstruct_samples", "register", "setting", "solve",
    "squared_error", "unregister",
]
