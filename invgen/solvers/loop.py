"""The one fitting loop every method shares: Adam on a prior's parameters, per image."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from invgen.operators import LinearOperator
from invgen.priors.base import Prior


@dataclass
class SolveResult:
    """What :func:`solve` returns, per image ``i`` of the batch.

    ``x``: ``(B, C, H, W)``, the iterate with the smallest objective; ``objective``: ``(B,)``,
    its objective ``‖y_i − A x_i‖² (+ penalty)``; ``history``: ``(T, B)``, the objective
    of every iterate (``T`` ≤ ``steps`` when all images stopped early); ``state``: the
    prior's per-image state (e.g. ``"z"``) at the best iterate.
    """

    x: torch.Tensor
    objective: torch.Tensor
    history: torch.Tensor
    state: dict[str, torch.Tensor]

    @property
    def z(self) -> torch.Tensor:
        """The best latents ``(B, latent_dim)``, for priors that have one."""
        if "z" not in self.state:
            raise AttributeError(f"this prior has no latent z; its state holds {sorted(self.state) or 'nothing'}")
        return self.state["z"]


def check_measurement(A: LinearOperator, y: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``y`` is a finite batch ``(B, *A.out_shape)`` (``TypeError``
    unless it is a tensor)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of shape (B, {', '.join(map(str, A.out_shape))}), "
                         f"got {type(y).__name__}")
    if y.dim() != len(A.out_shape) + 1 or tuple(y.shape[1:]) != A.out_shape:
        raise ValueError(
            f"y has shape {tuple(y.shape)} but this operator measures (B, {', '.join(map(str, A.out_shape))}); "
            "measure with y = A(x) for x of shape (B, *A.in_shape), and add the batch dimension "
            "for a single image (y.unsqueeze(0))"
        )
    bad = (~torch.isfinite(y)).sum().item()
    if bad:
        raise ValueError(
            f"y contains {bad} NaN or infinite entries out of {y.numel()}; remove them before solving "
            "(e.g. zero them and leave them out of the operator with a Mask)"
        )


def _where_images(pick: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Image ``i`` from ``new`` where ``pick[i]``, else from ``old``."""
    return torch.where(pick.view(-1, *[1] * (new.dim() - 1)), new, old)


def _adam(groups: list[dict]) -> torch.optim.Adam:
    # The fused kernel updates all tensors at once: on the CPU ~10× faster than the
    # default for the ~1M weights IAGAN adapts (as long as a step of a 64×64 generator).
    # Older torch (< 2.4) has no fused CPU Adam.
    try:
        return torch.optim.Adam(groups, fused=True)
    except RuntimeError:
        return torch.optim.Adam(groups)


def solve(
    A: LinearOperator,
    y: torch.Tensor,
    prior: Prior,
    steps: int,
    *,
    noise_std: float | None = None,
    tau: float = 1.0,
    patience: int | None = None,
    rtol: float = 1e-4,
    progress: bool = True,
    desc: str = "solve",
) -> SolveResult:
    """Fit ``prior`` to ``y``: minimise ``‖y_i − A x_i‖² + penalty_i`` for every image ``i``.

    Adam on ``prior.parameter_groups()``, for at most ``steps`` iterations. Adam minimises
    the sum over the batch; since every parameter belongs to one image, that is the
    same as fitting each image on its own. Per image, the loop keeps the best iterate and
    stops that image

    - when its objective has not improved by a relative ``rtol`` for ``patience`` steps
      (if ``patience`` is given);
    - by the discrepancy principle (Morozov): when ``‖y_i − A x_i‖² ≤ τ·m·σ²`` with ``m``
      measurements and ``σ = noise_std`` (if given) — fitting further would fit the noise;
    - when its objective becomes NaN or infinite; its best finite iterate is returned.

    The loop ends when every image has stopped. ``progress`` shows a tqdm bar labelled
    ``desc``. The prior is left at its last iterate; the result holds the best ones.
    """
    check_measurement(A, y)
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    b = y.shape[0]
    params = [p for group in prior.parameter_groups() for p in group["params"]]
    optimizer = _adam(prior.parameter_groups())
    enough = tau * A.out_size * noise_std**2 if noise_std else -math.inf

    active = torch.ones(b, dtype=torch.bool, device=y.device)
    best = torch.full((b,), math.inf, dtype=y.dtype, device=y.device)
    since_gain = torch.zeros(b, dtype=torch.long, device=y.device)
    best_x: torch.Tensor | None = None
    best_state: dict[str, torch.Tensor] = {}
    history = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        x = prior()
        if x.shape[0] != b:
            raise ValueError(f"the prior makes {x.shape[0]} images but y holds {b} measurements")
        misfit = (y - A(x)).flatten(1).square().sum(1)
        penalty = prior.penalty()
        objective = misfit if penalty is None else misfit + penalty
        value = objective.detach()
        history.append(value)

        finite = torch.isfinite(value)
        improved = active & finite & (value < best)
        gained = improved & (value < (1 - rtol) * best)
        if best_x is None:  # clones: the prior's tensors change in place
            best_x = x.detach().clone()
            best_state = {k: v.clone() for k, v in prior.state().items()}
        else:
            best_x = _where_images(improved, x.detach(), best_x)
            best_state = {k: _where_images(improved, v, best_state[k]) for k, v in prior.state().items()}
        best = torch.where(improved, value, best)
        since_gain = torch.where(gained, 0, since_gain + 1)

        active &= finite & (misfit.detach() > enough)
        if patience is not None:
            active &= since_gain < patience
        if progress and step % 20 == 0:
            bar.set_postfix(objective=f"{best.mean().item():.3g}", active=int(active.sum()))
        if not active.any() or step == steps - 1:
            break
        # Stopped images leave the loss: their parameters get no gradient from here on.
        loss = torch.where(active, objective, torch.zeros_like(objective)).sum()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()
    bar.close()
    return SolveResult(x=best_x, objective=best, history=torch.stack(history), state=best_state)
