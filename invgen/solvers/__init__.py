"""Solvers: one generic loop (:func:`solve`) and the methods built on it.

``csgm`` (latent search), ``iagan`` (image-adaptive fine-tuning from CSGM's latent),
``dip`` (Deep Image Prior), ``back_project`` (exact consistency with ``y``) and
``posterior_mean`` (the average of several back-projected estimates, with their spread).
"""
from invgen.solvers.back_projection import back_project, back_project_noisy
from invgen.solvers.csgm import csgm, csgm_all_starts
from invgen.solvers.dip import dip
from invgen.solvers.iagan import iagan
from invgen.solvers.loop import SolveResult, solve
from invgen.solvers.posterior import PosteriorEstimate, posterior_mean

__all__ = [
    "PosteriorEstimate", "SolveResult", "back_project", "back_project_noisy", "csgm", "csgm_all_starts", "dip",
    "iagan", "posterior_mean", "solve",
]
