"""Solvers: one generic loop (:func:`solve`) and the methods built on it.

``csgm`` (latent search), ``iagan`` (image-adaptive fine-tuning from CSGM's latent),
``dip`` (Deep Image Prior) and ``back_project`` (exact consistency with ``y``).
"""
from invgen.solvers.back_projection import back_project, back_project_noisy
from invgen.solvers.csgm import csgm
from invgen.solvers.dip import dip
from invgen.solvers.iagan import iagan
from invgen.solvers.loop import SolveResult, solve

__all__ = ["SolveResult", "back_project", "back_project_noisy", "csgm", "dip", "iagan", "solve"]
