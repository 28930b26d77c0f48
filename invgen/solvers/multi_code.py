"""mGANprior, the multi-code GAN prior (Gu, Shen and Zhou, CVPR 2020): ``N`` latent codes, each
mapped to an intermediate feature map, combined with learned per-channel importance weights,
then the rest of the generator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel
from invgen.generators.base import Generator
from invgen.generators.layers import Chain, chain_with_points
from invgen.operators import LinearOperator
from invgen.priors.intermediate import MultiCodePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.adaptation import StopRules, adapt, check_holdout, continuation
from invgen.solvers.loop import Callback, Penalty
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import setting
from invgen.validation import count, positive


@dataclass(frozen=True)
class MGANpriorSettings(StopRules):
    """``codes`` latents per estimate composed at split point ``point``
    (:mod:`invgen.generators.layers`): the first is CSGM's latent with importance 1, the others
    seeded draws of the latent law with importance 0, so the search starts where CSGM ended;
    codes (``lr_z``) and importances (``lr_alpha``) are fitted by Adam for ``steps`` steps with
    the adapting methods' stop rules (:class:`~invgen.solvers.adaptation.StopRules`). The paper
    composes 20 codes (PGGAN, StyleGAN)."""

    codes: int = setting(8, "latent codes per estimate", count)
    point: int = setting(2, "split point where the codes' features are composed", count)
    steps: int = setting(200, "steps; halved for noisy y", count)
    lr_z: float = setting(0.01, "learning rate of the codes", positive)
    lr_alpha: float = setting(0.01, "learning rate of the per-channel importances", positive)


#: The mGANprior authors' settings where invgen has a counterpart (github.com/genforce/mganprior):
#: ``codes=20`` (README.md's super-resolution, colorization and inversion commands, ``--z_number 20``;
#: its inpainting command uses 30); ``steps=2000`` (super_resolution.py's ``--iterations`` default;
#: inpainting.py and multi_code_inversion.py default to 3000); ``holdout=0``: they fit every measurement
#: (and keep the last iterate, where invgen keeps the smallest objective). Not mapped, invgen's values
#: kept: ``point`` — their ``--composing_layer`` (6 for SR) indexes PGGAN's own layer list, no split point
#: of another generator; ``lr_z`` and ``lr_alpha`` — they run plain gradient descent
#: (``--optimization GD --lr 1``), not Adam. Their perceptual (VGG) loss term has no counterpart.
PAPER_MGANPRIOR = MGANpriorSettings(codes=20, steps=2000, holdout=0.0)


def mganprior(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    generator: Generator,
    start: Estimates,
    settings: MGANpriorSettings = MGANpriorSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """The multi-code search from each of ``start``'s latents (``start = csgm(problem, y, G)``):
    ``K = start.k`` estimates per image, their codes as ``z`` ``(B, K, codes, latent_dim)``.
    ``problem``, ``penalty``, ``callbacks``: as :func:`~invgen.solvers.iagan`."""
    model = continuation(problem, y, generator, start)
    layers = split_points(generator, settings)
    z = start.z.flatten(0, 1)
    others = generator.sample_latent(settings.codes - 1, generator=torch.Generator().manual_seed(seed))
    codes = torch.cat([z[:, None], others.expand(len(z), -1, -1)], dim=1)
    importance = torch.zeros(len(z), settings.codes, layers.shape(settings.point)[0], dtype=z.dtype, device=z.device)
    importance[:, 0] = 1
    prior = MultiCodePrior(generator, codes, importance, settings.point, lr_z=settings.lr_z,
                           lr_alpha=settings.lr_alpha)
    return adapt(model, y, prior, settings.steps, settings, starts=start.k, seed=seed, penalty=penalty,
                 callbacks=callbacks, progress=progress, desc="mganprior")


def split_points(generator: Generator, settings: MGANpriorSettings) -> Chain:
    """The generator's chain, or ``ValueError`` when it has no split point ``settings.point``."""
    return chain_with_points(generator, settings.point, "mGANprior", f"point = {settings.point}")


def _run(problem: Problem, settings: MGANpriorSettings) -> Estimates:
    return mganprior(problem.model, problem.y, problem.generator, problem.start, settings, seed=problem.seed,
                     progress=problem.progress)


MGANPRIOR = register(Method("mganprior", _run, MGANpriorSettings, PAPER_MGANPRIOR,
                            summary="multi-code GAN prior from CSGM's starts: codes composed at an intermediate "
                            "layer with per-channel importances (Gu et al. 2020)",
                            needs_generator=True, split_points=split_points, check=check_holdout, after="csgm"))
