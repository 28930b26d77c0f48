"""Priors: what an image is allowed to be — the tensors to optimise and how they make x.

A prior is a small object (:class:`Prior`): ``parameter_groups()`` for Adam, ``__call__()``
→ the current image batch, an optional per-image ``penalty(x)`` and a per-image ``state()``
the solver keeps at the best iterate. :func:`invgen.solvers.solve` fits any of them.
"""
from invgen.priors.base import Prior
from invgen.priors.deep_image_prior import DeepImagePrior, SkipNetwork
from invgen.priors.generative import GenerativePrior
from invgen.priors.image_adaptive import ImageAdaptivePrior, ProgressivePrior
from invgen.priors.intermediate import IntermediateLayerPrior, MultiCodePrior, project_l1_ball

__all__ = ["DeepImagePrior", "GenerativePrior", "ImageAdaptivePrior", "IntermediateLayerPrior", "MultiCodePrior",
           "Prior", "ProgressivePrior", "SkipNetwork", "project_l1_ball"]
