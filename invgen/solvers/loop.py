"""The one fitting loop every method shares: an optimiser on a prior's parameters, per image,
with the data fidelity, the optimiser, its schedule and stopping callbacks pluggable."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from invgen.fidelity import Fidelity, squared_error
from invgen.forward import ForwardModel, forward_model
from invgen.metrics import psnr
from invgen.operators import LinearOperator
from invgen.priors.base import Prior
from invgen.progress import progress_bar
from invgen.validation import check_settings, nonnegative


Callback = Callable[[int, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], torch.Tensor | None]
Penalty = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
Optimizer = Callable[[list[dict]], torch.optim.Optimizer]
Schedule = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


@dataclass
class SolveResult:
    """What :func:`solve` returns, per image ``i`` of the batch.

    ``x``: ``(B, C, H, W)``, the iterate with the smallest objective; ``objective``: ``(B,)``,
    its objective ``fidelity(A x_i, y_i) (+ penalty)`` (by default ``‖y_i − A x_i‖²``);
    ``history``: ``(T, B)``, the objective of every iterate, the start (row 0) and each
    update's (``T = steps + 1``, fewer when all images stopped early); ``stop_step``:
    ``(B,)``, the last iterate at which image ``i`` was fitted (``T − 1`` if it never
    stopped; ``None`` only in a result built by hand).
    After its stop step image ``i`` is frozen and its ``history`` column keeps the value
    it had there, so ``objective[i]`` is the smallest finite value of the column.
    ``psnr_history``: ``(T, B)``, the PSNR in dB of each step's iterate against the
    ``reference`` given to :func:`solve` (frozen the same way), else ``None``. ``state``:
    the prior's per-image state (e.g. ``"z"``) at the best iterate. ``best_step``: ``(B,)``,
    the step of the kept iterate. With a ``validation`` given to :func:`solve`, the kept
    iterate is the one with the smallest validation score and ``objective`` is its
    objective (not the column's minimum); ``validation_history`` ``(T, B)`` holds the scores.
    """

    x: torch.Tensor
    objective: torch.Tensor
    history: torch.Tensor
    state: dict[str, torch.Tensor]
    stop_step: torch.Tensor | None = None
    psnr_history: torch.Tensor | None = None
    best_step: torch.Tensor | None = None
    validation_history: torch.Tensor | None = None

    @property
    def z(self) -> torch.Tensor:
        """The best latents ``(B, latent_dim)``, for priors that have one."""
        if "z" not in self.state:
            raise AttributeError(f"this prior has no latent z; its state holds {sorted(self.state) or 'nothing'}")
        return self.state["z"]

    def select(self, rows: torch.Tensor) -> SolveResult:
        """The result of images ``rows`` only (an index tensor into the batch)."""
        return SolveResult(
            x=self.x[rows],
            objective=self.objective[rows],
            history=self.history[:, rows],
            state={k: v[rows] for k, v in self.state.items()},
            stop_step=None if self.stop_step is None else self.stop_step[rows],
            psnr_history=None if self.psnr_history is None else self.psnr_history[:, rows],
            best_step=None if self.best_step is None else self.best_step[rows],
            validation_history=None if self.validation_history is None else self.validation_history[:, rows],
        )


def _where_images(pick: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Image ``i`` from ``new`` where ``pick[i]``, else from ``old``."""
    return torch.where(pick.view(-1, *[1] * (new.dim() - 1)), new, old)


def adam(groups: list[dict]) -> torch.optim.Adam:
    """The default optimiser of :func:`solve`: Adam on ``groups`` (their own ``lr``)."""
    # The fused kernel updates all tensors at once: on the CPU ~10× faster than the
    # default for the ~1M weights IAGAN adapts (as long as a step of a 64×64 generator).
    # Older torch (< 2.4) has no fused CPU Adam.
    try:
        return torch.optim.Adam(groups, fused=True)
    except RuntimeError:
        return torch.optim.Adam(groups)


def _check_per_image(value: torch.Tensor | None, b: int, what: str) -> None:
    if value is not None and tuple(value.shape) != (b,):
        raise ValueError(f"{what} must return one value per image, shape ({b},), got {tuple(value.shape)}")


def _check_parameters(params: list[torch.Tensor], b: int) -> None:
    # Freezing a stopped image restores its rows: every tensor must be one row per image.
    for p in params:
        if p.dim() == 0 or p.shape[0] != b:
            raise ValueError(f"every parameter of the prior must have the images on its first dim ({b} for this "
                             f"batch); one has shape {tuple(p.shape)}")


def solve(
    problem: ForwardModel | LinearOperator,
    y: torch.Tensor,
    prior: Prior,
    steps: int,
    *,
    fidelity: Fidelity | None = None,
    penalty: Penalty | None = None,
    validation: Fidelity | None = None,
    optimizer: Optimizer = adam,
    schedule: Schedule | None = None,
    callbacks: Sequence[Callback] = (),
    reference: torch.Tensor | None = None,
    discrepancy: float | None = 1.0,
    patience: int | None = None,
    rtol: float = 1e-4,
    precision: torch.dtype | None = None,
    progress: bool = True,
    desc: str = "solve",
) -> SolveResult:
    """Fit ``prior`` to ``y``: minimise ``fidelity(A x_i, y_i) + r_i(x)`` for every image ``i``.

    ``problem`` is the forward model (:class:`~invgen.forward.ForwardModel`: the operator
    ``A`` and its noise; an operator alone is noiseless), and ``y`` ``(B, *A.out_shape)`` its
    measurements (checked by :meth:`~invgen.forward.ForwardModel.check`). ``fidelity`` is the
    model's (its noise's negative log-likelihood: ``‖y_i − A x_i‖²``, no ½, for Gaussian
    noise or none; the Poisson one for Poisson noise) unless given: any ``(Ax, y) → (B,)``
    (see :mod:`invgen.fidelity`). The regulariser ``r`` is the
    prior's own ``prior.penalty(x)`` (e.g. CSGM's ``λ‖z‖²``) plus ``penalty(x, params)``, any
    differentiable ``→ (B,)`` of the current images ``x`` ``(B, C, H, W)`` and the prior's
    parameters by name, ``params = prior.named_parameters()`` (e.g. ``params["z"]``, or
    IAGAN's per-image weights ``params["theta.NAME"]``, image ``i`` on row ``i``): total
    variation, a perceptual term, a latent penalty or one pulling adapted weights back to
    the pretrained ones — no new prior class needed.

    ``validation``, if given, is a second ``(Ax, y) → (B,)`` that chooses the iterate kept
    (its smallest value, not the objective's) and drives ``patience`` — e.g. the error on
    measurements left out of ``fidelity`` (:func:`~invgen.solvers.holdout.holdout_split`),
    which stops fitting where it starts fitting noise or artefacts rather than signal.

    ``optimizer(prior.parameter_groups())`` makes the optimiser (default: :func:`adam`,
    each group at its own learning rate), makes at most ``steps`` updates (``steps + 1``
    iterates, the start included, are evaluated);
    ``schedule(optimizer)``, if given, makes a learning-rate scheduler stepped once after
    every update. The optimiser minimises the sum over the batch; since every parameter
    belongs to one image (its first dim indexes images), that is the same as fitting
    each image on its own. Per image, the loop keeps the best iterate and stops that image

    - when its objective has not improved by a relative ``rtol`` for ``patience`` steps
      (if ``patience`` is given);
    - by the discrepancy principle (Morozov): when ``‖y_i − A x_i‖² ≤ τ·e_i`` with
      ``τ = discrepancy`` and ``e_i`` the noise's expected energy
      (``model.noise.energy(y)``: ``m·σ²`` for Gaussian noise on ``m`` measurements) —
      fitting further would fit the noise. Only for noise of a known level
      (``model.noise.known_level``; not for Poisson noise, nor noiseless ``y``);
      ``discrepancy=None`` turns it off. It looks at the squared residual whatever the
      ``fidelity``;
    - when its objective becomes NaN or infinite; its best finite iterate is returned;
    - when a callback asks: after each step every ``callback(step, x, objective, state)``
      sees the current images ``(B, C, H, W)``, their objectives ``(B,)`` and
      ``prior.state()``, and returns ``None`` or ``B`` booleans: the images to stop.

    After every update the prior may project its parameters back into their feasible set
    (``prior.project()``: projected gradient descent). A stopped image is frozen: its
    parameters get no update after its stop step (they
    are restored after each optimiser step, so momentum or weight decay cannot move
    them). The loop ends when every image has stopped. With a ``reference`` batch
    ``(B, *A.in_shape)`` the PSNR of every step is recorded too. ``progress`` shows a
    tqdm bar labelled ``desc`` on a terminal, a log line every few seconds otherwise
    (:func:`invgen.progress.progress_bar`). ``precision`` (e.g. ``torch.bfloat16``) makes the
    prior's images under :func:`torch.autocast` in that type — mixed precision, about twice
    as fast where the hardware has it (AVX512-BF16 or AMX CPUs, GPUs) for about three
    significant digits in ``x``; the images are cast back to ``y``'s type before the
    operator, so the objective, the parameters and their updates stay in full precision.
    The prior is left at its last iterate; the result holds
    the best ones.
    """
    model = forward_model(problem)
    A, y = model.A, model.check(y)
    check_settings(steps=steps, patience=patience)
    if discrepancy is not None:
        nonnegative("discrepancy", discrepancy)
    fidelity = fidelity or model.fidelity
    b = y.shape[0]
    if reference is not None and tuple(reference.shape) != (b, *A.in_shape):
        raise ValueError(f"reference must have shape ({b}, {', '.join(map(str, A.in_shape))}), like the images "
                         f"measured in y, got {tuple(reference.shape)}")
    groups = prior.parameter_groups()
    params = [p for group in groups for p in group["params"]]
    named = prior.named_parameters() if penalty is not None else {}
    opt = optimizer(groups)
    scheduler = schedule(opt) if schedule is not None else None
    stops_at_noise = discrepancy is not None and model.noise.known_level and not model.noiseless
    enough = discrepancy * model.noise.energy(y) if stops_at_noise else None

    active = torch.ones(b, dtype=torch.bool, device=y.device)
    best = torch.full((b,), math.inf, dtype=y.dtype, device=y.device)  # the score that picks the kept iterate
    kept_objective = best.clone()
    best_step = torch.zeros(b, dtype=torch.long, device=y.device)
    since_gain = torch.zeros(b, dtype=torch.long, device=y.device)
    stop_step = torch.zeros(b, dtype=torch.long, device=y.device)  # set when an image stops, or at the end
    best_x: torch.Tensor | None = None
    best_state: dict[str, torch.Tensor] = {}
    history, psnrs, scores = [], [], []
    bar = progress_bar(range(steps + 1), desc, enabled=progress)
    for step in bar:
        with torch.autocast(y.device.type, dtype=precision or torch.bfloat16, enabled=precision is not None):
            x = prior()
        x = x.to(y.dtype)
        if x.shape[0] != b:
            raise ValueError(f"the prior makes {x.shape[0]} images but y holds {b} measurements")
        if step == 0:
            _check_parameters(params, b)
        Ax = A(x)
        data = fidelity(Ax, y)
        _check_per_image(data, b, "the fidelity")
        objective = data
        for term, what in ((prior.penalty(x), "the prior's penalty"), (penalty and penalty(x, named), "the penalty")):
            _check_per_image(term, b, what)
            objective = objective if term is None else objective + term
        # A frozen image's iterate no longer changes: its record stays at its stop step.
        value = objective.detach() if not history else torch.where(active, objective.detach(), history[-1])
        history.append(value)
        if reference is not None:
            quality = psnr(x, reference)
            psnrs.append(quality if not psnrs else torch.where(active, quality, psnrs[-1]))

        score = value
        if validation is not None:
            score = validation(Ax.detach(), y)
            _check_per_image(score, b, "the validation")
            score = score if not scores else torch.where(active, score, scores[-1])
            scores.append(score)

        finite = torch.isfinite(value) & torch.isfinite(score)
        improved = active & finite & (score < best)
        gained = improved & (score < (1 - rtol) * best)
        if best_x is None:  # clones: the prior's tensors change in place
            best_x = x.detach().clone()
            best_state = {k: v.clone() for k, v in prior.state().items()}
        else:
            best_x = _where_images(improved, x.detach(), best_x)
            best_state = {k: _where_images(improved, v, best_state[k]) for k, v in prior.state().items()}
        best = torch.where(improved, score, best)
        kept_objective = torch.where(improved, value, kept_objective)
        best_step = torch.where(improved, step, best_step)
        since_gain = torch.where(gained, 0, since_gain + 1)

        was_active = active.clone()
        active &= finite
        if enough is not None:
            active &= squared_error(Ax.detach(), y) > enough
        if patience is not None:
            active &= since_gain < patience
        for callback in callbacks:
            stop = callback(step, x.detach(), value, prior.state())
            if stop is not None:
                stop = torch.as_tensor(stop, dtype=torch.bool, device=active.device)
                _check_per_image(stop, b, f"callback {callback!r}")
                active &= ~stop
        stop_step = torch.where(was_active & ~active, step, stop_step)
        if progress and step % 20 == 0:
            bar.set_postfix(objective=f"{best.mean().item():.3g}", active=int(active.sum()))
        if not active.any() or step == steps:
            stop_step = torch.where(active, step, stop_step)
            break
        # Stopped images leave the loss (no gradient) and get their rows back after the
        # update (no momentum, no weight decay): they stay exactly where they stopped.
        loss = torch.where(active, objective, torch.zeros_like(objective)).sum()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for p, g in zip(params, grads):
            # The fused CPU Adam reads a strided gradient as if it were contiguous (torch
            # 2.13): vmap's transposed gradient of a linear layer's per-image weights got
            # another entry's update.
            p.grad = None if g is None else g.contiguous()
        stopped = ~active
        frozen = [p.detach()[stopped] for p in params] if stopped.any() else None
        opt.step()
        with torch.no_grad():
            prior.project()
        if frozen is not None:
            with torch.no_grad():
                for p, rows in zip(params, frozen):
                    p[stopped] = rows
        if scheduler is not None:
            scheduler.step()
    bar.close()
    return SolveResult(x=best_x, objective=kept_objective, history=torch.stack(history), state=best_state,
                       stop_step=stop_step, psnr_history=torch.stack(psnrs) if psnrs else None,
                       best_step=best_step, validation_history=torch.stack(scores) if scores else None)
