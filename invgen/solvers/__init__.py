"""Solvers: one generic loop (:func:`solve`) and the methods built on it.

``csgm`` (latent search), ``iagan`` (image-adaptive fine-tuning from CSGM's latent),
``dip`` (Deep Image Prior), ``back_project`` (exact consistency with ``y``) and
``posterior_mean`` (the average of several back-projected estimates, with their spread);
data fidelities for :func:`solve`: ``squared_error`` (the default), ``l1``, ``Huber``,
``PoissonNLL``.
"""
from invgen.solvers.back_projection import back_project, back_project_noisy
from invgen.solvers.csgm import csgm, csgm_all_starts, encoder_starts
from invgen.solvers.dip import dip
from invgen.solvers.fidelity import Huber, PoissonNLL, l1, squared_error
from invgen.solvers.iagan import iagan
from invgen.solvers.loop import SolveResult, solve
from invgen.solvers.posterior import PosteriorEstimate, posterior_mean

__all__ = [
    "Huber", "PoissonNLL", "PosteriorEstimate", "SolveResult", "back_project", "back_project_noisy", "csgm",
    "csgm_all_starts", "dip", "encoder_starts", "iagan", "l1", "posterior_mean", "solve", "squared_error",
]
