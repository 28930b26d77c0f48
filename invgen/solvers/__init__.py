"""Solvers: one generic loop (:func:`solve`) and the methods built on it.

Each method is a module with its function, its settings (invgen's defaults and the paper's
preset) and its registry line: :func:`csgm` (latent search; :mod:`~invgen.solvers.latent_search`),
:func:`iagan` (image-adaptive fine-tuning from CSGM's estimates; :mod:`~invgen.solvers.image_adaptive`),
:func:`dip` (Deep Image Prior; :mod:`~invgen.solvers.deep_prior`), and the classic baselines
(:mod:`~invgen.solvers.classic`), and the methods that followed IAGAN: :func:`ilo`
(:mod:`~invgen.solvers.intermediate_layers`), :func:`dgp` (:mod:`~invgen.solvers.progressive`),
:func:`mganprior` (:mod:`~invgen.solvers.multi_code`). Each takes a forward model (or an operator: noiseless) and
returns :class:`Estimates` ``(B, K, C, H, W)``. :func:`back_project` makes an estimate agree
with ``y``. :func:`reconstruct_samples` runs the methods of :data:`METHODS` by name with a
:class:`Budget` of their settings (every start's estimate; :func:`reconstruct_mean`: their mean);
:func:`compare` scores them on a set of images; :func:`register` adds a :class:`Method`.
"""
from invgen.solvers.back_projection import back_project
from invgen.solvers.estimates import Estimates, restart_spread
from invgen.solvers.loop import SolveResult, solve
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import METHODS, Budget, register, unregister
from invgen.solvers.settings import NoSettings, Settings, setting

# The built-in methods, registered in this order (the command line's order of flags).
from invgen.solvers.classic import BICUBIC, PINV, LassoDCTSettings, bicubic_upsample, lasso_dct  # noqa: E402
from invgen.solvers.latent_search import PAPER_CSGM, CSGMSettings, csgm, encoder_starts  # noqa: E402
from invgen.solvers.adaptation import StopRules, adapt  # noqa: E402
from invgen.solvers.image_adaptive import PAPER_IAGAN, IAGANSettings, iagan  # noqa: E402
from invgen.solvers.deep_prior import PAPER_DIP, PAPER_DIP_X8, DIPSettings, dip  # noqa: E402
from invgen.solvers.intermediate_layers import PAPER_ILO, ILOSettings, ilo  # noqa: E402
from invgen.solvers.progressive import PAPER_DGP, DGPSettings, dgp  # noqa: E402
from invgen.solvers.multi_code import PAPER_MGANPRIOR, MGANpriorSettings, mganprior  # noqa: E402
from invgen.solvers.pipeline import method_names, reconstruct_mean, reconstruct_samples  # noqa: E402
from invgen.solvers.comparison import Comparison, compare  # noqa: E402

__all__ = [
    "BICUBIC", "METHODS", "PAPER_CSGM", "PAPER_DGP", "PAPER_DIP", "PAPER_DIP_X8", "PAPER_IAGAN", "PAPER_ILO",
    "PAPER_MGANPRIOR", "PINV", "Budget", "CSGMSettings", "Comparison", "DGPSettings",
    "DIPSettings", "Estimates", "IAGANSettings", "ILOSettings", "LassoDCTSettings", "MGANpriorSettings", "Method",
    "NoSettings", "Problem", "Settings", "SolveResult", "StopRules", "adapt", "back_project", "bicubic_upsample",
    "compare", "csgm", "dgp", "dip", "encoder_starts", "iagan", "ilo", "lasso_dct", "mganprior",
    "method_names", "reconstruct", "reconstruct_samples", "register", "restart_spread", "setting", "solve",
    "unregister",
]
