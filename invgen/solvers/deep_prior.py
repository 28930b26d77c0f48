"""Deep Image Prior (Ulyanov, Vedaldi and Lempitsky, CVPR 2018): an untrained network per image,
fitted to y — the non-generative baseline."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.operators import LinearOperator
from invgen.priors.deep_image_prior import DeepImagePrior
from invgen.solvers.estimates import Estimates
from invgen.solvers.loop import Callback, Penalty, solve
from invgen.solvers.method import Method, Problem
from invgen.solvers.registry import register
from invgen.solvers.settings import Settings, setting
from invgen.validation import count, nonnegative, positive


@dataclass(frozen=True)
class DIPSettings(Settings):
    """Adam (``lr``, the paper's 0.01) on the weights of a skip network of ``channels`` channels
    and ``depth`` levels for ``steps`` steps, its input perturbed at every step by Gaussian
    noise of std ``input_noise`` (the paper's regularisation; without it the estimate carries
    colour speckle); under Gaussian noise each image also stops by the discrepancy principle
    (DIP over-fits noise when run too long). invgen's network is narrower and shallower than
    the paper's (:data:`PAPER_DIP`) to run on a CPU: with the input noise the two gave the same
    PSNR on a face tried at ×4 (issue 29). ``input_noise`` was chosen on the tuning faces
    (``benchmarks/dip_input_noise.py``; ×4, 2000 steps, 4 faces): 0.03 and 0.05 level (23.75 and
    23.78 dB, HaarPSI 0.773 and 0.772), both well above the fixed input (22.93 dB, 0.748, with
    colour speckle); 0.03 is the paper's value at ×4."""

    steps: int = setting(2000, "Adam steps", count)
    lr: float = setting(0.01, "learning rate", positive)
    input_noise: float = setting(0.03, "std of the Gaussian noise added to the network's input at every step "
                                       "(0: a fixed input)", nonnegative)
    channels: int = setting(32, "channels of the skip network's convolutions", count)
    depth: int = setting(4, "levels of the skip network (fewer on small images)", count)


#: The DIP paper's super-resolution set-up at ×4 (Ulyanov, Vedaldi and Lempitsky, CVPR 2018;
#: github.com/DmitryUlyanov/deep-image-prior, super-resolution.ipynb): a skip network of 128
#: channels and 5 levels (4-channel skips, bilinear upsampling, reflection padding, a 32-channel
#: input of U(0, 1/10) noise, as invgen's), Adam at 0.01 for 2000 steps, the input perturbed by
#: N(0, 0.03²) noise at every step. At ×8 the paper runs 4000 steps with noise of std 0.05:
#: :data:`PAPER_DIP_X8`. Not mapped: the paper measures with a Lanczos-2 downsampler (invgen's
#: operator is its own) and returns the last iterate (invgen keeps the iterate of smallest
#: objective, the same rule as every method's).
PAPER_DIP = DIPSettings(steps=2000, lr=0.01, input_noise=0.03, channels=128, depth=5)
#: :data:`PAPER_DIP` at the paper's ×8 super-resolution: 4000 steps, input noise of std 0.05.
PAPER_DIP_X8 = replace(PAPER_DIP, steps=4000, input_noise=0.05)


def dip(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    settings: DIPSettings = DIPSettings(),
    *,
    penalty: Penalty | None = None,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
    progress: bool = True,
) -> Estimates:
    """Fit an untrained encoder-decoder (one per image, the same seeded start) to ``y`` with the
    forward model's fidelity; one estimate per image. ``penalty``, ``callbacks``: see
    :func:`~invgen.solvers.solve`."""
    model = forward_model(problem)
    model.check(y)
    prior = DeepImagePrior(model.A.in_shape, y.shape[0], lr=settings.lr, input_noise=settings.input_noise,
                           channels=settings.channels, depth=settings.depth, seed=seed, device=y.device)
    result = solve(model, y, prior, settings.steps, penalty=penalty, callbacks=callbacks, progress=progress,
                   desc="dip")
    return Estimates.from_rows(result, 1)


def _run(problem: Problem, settings: DIPSettings) -> Estimates:
    return dip(problem.model, problem.y, settings, seed=problem.seed, progress=problem.progress)


DIP = register(Method("dip", _run, DIPSettings, PAPER_DIP,
                      summary="Deep Image Prior: fit an untrained network to y, its input perturbed at every step "
                      "(Ulyanov et al. 2018)"))
