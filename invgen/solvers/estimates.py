"""What a method returns: ``K`` estimates of each of ``B`` images, ``(B, K, C, H, W)``.

A generative method runs from ``K`` random starts (optimiser restarts) per image; the
methods that keep one estimate have ``K = 1``. ``mean()`` is the ensemble of the restarts
(invgen's estimate: under squared error it beats one start on average), ``spread()`` how
far they disagree — a lower bound on the uncertainty, not a calibrated error bar (errors
where every start agrees on a wrong answer do not show in it), and ``best()`` each image's
start with the smallest objective (the paper's pick).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from invgen.forward import ForwardModel
from invgen.operators import LinearOperator
from invgen.solvers.back_projection import back_project
from invgen.solvers.loop import SolveResult


@dataclass
class Estimates:
    """``x``: ``(B, K, C, H, W)``; ``objective``: ``(B, K)``, each estimate's objective, or
    ``None`` for a closed-form method; ``z``: ``(B, K, latent_dim)`` for methods with a
    latent (``(B, K, N, latent_dim)`` for mGANprior's ``N`` codes), else ``None``; ``solve``: the :class:`~invgen.solvers.SolveResult` of the
    ``B·K`` fits (histories, stop steps; rows image-major), else ``None``; ``seconds``: the
    wall-clock time the batch took, the run of the method it continues included
    (:func:`~invgen.solvers.reconstruct_samples` sets it), else ``None``."""

    x: torch.Tensor
    objective: torch.Tensor | None = None
    z: torch.Tensor | None = None
    solve: SolveResult | None = None
    seconds: float | None = None

    @classmethod
    def single(cls, x: torch.Tensor) -> Estimates:
        """One estimate per image: ``x`` ``(B, C, H, W)`` → ``K = 1``."""
        return cls(x.unsqueeze(1))

    @classmethod
    def from_rows(cls, result: SolveResult, k: int) -> Estimates:
        """The result of a fit of ``B·k`` rows, image-major (row ``i·k + j`` is estimate ``j``
        of image ``i``)."""
        b = len(result.x) // k
        z = result.state.get("z")
        return cls(x=result.x.view(b, k, *result.x.shape[1:]), objective=result.objective.view(b, k),
                   z=None if z is None else z.view(b, k, *z.shape[1:]), solve=result)

    @property
    def k(self) -> int:
        """Estimates per image."""
        return self.x.shape[1]

    def rows(self) -> torch.Tensor:
        """``x`` as ``(B·K, C, H, W)``, image-major."""
        return self.x.flatten(0, 1)

    def mean(self) -> torch.Tensor:
        """The ensemble of the restarts: the mean over the ``K`` estimates, ``(B, C, H, W)``."""
        return self.x.mean(1)

    def spread(self) -> torch.Tensor:
        """Per pixel, the standard deviation over the ``K`` estimates, ``(B, C, H, W)`` (0 for ``K = 1``)."""
        return self.x.std(1) if self.k > 1 else torch.zeros_like(self.x[:, 0])

    def back_project(self, problem: ForwardModel | LinearOperator, y: torch.Tensor,
                     eps: float | None = None) -> Estimates:
        """Each of the ``K`` estimates of image ``i`` back-projected onto ``y_i``
        (:func:`~invgen.solvers.back_project` with ``eps``), as Estimates with the same
        objectives and latents."""
        rows = back_project(problem, y.repeat_interleave(self.k, dim=0), self.rows(), eps)
        return Estimates(rows.view_as(self.x), self.objective, self.z, self.solve)

    def best(self) -> Estimates:
        """Each image's estimate with the smallest objective (NaN counts as worst): ``K = 1``."""
        if self.objective is None:
            raise ValueError("these estimates have no objective to choose by")
        b, k = self.objective.shape
        rows = torch.arange(b, device=self.objective.device) * k + torch.nan_to_num(
            self.objective, nan=torch.inf).argmin(1)
        pick = rows.to(self.x.device)
        return Estimates(x=self.rows()[pick].unsqueeze(1), objective=self.objective.flatten()[rows].unsqueeze(1),
                         z=None if self.z is None else self.z.flatten(0, 1)[pick].unsqueeze(1),
                         solve=None if self.solve is None else self.solve.select(rows))


def restart_spread(x: torch.Tensor) -> torch.Tensor:
    """``(B, K, C, H, W)`` estimates → ``(B, H, W)``: at each pixel their standard deviation
    over the ``K`` restarts, root-mean-square over the channels (0 for ``K = 1``) — the grey
    map of where the restarts disagree, a lower bound on the uncertainty."""
    return Estimates(x).spread().square().mean(1).sqrt()
