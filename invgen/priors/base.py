"""The prior contract the solver relies on, and nothing more."""
from __future__ import annotations

import torch


class Prior:
    """Tensors to optimise and how they make the image batch ``x`` of shape ``(B, C, H, W)``.

    - ``parameter_groups()``: ``[{"params": [tensors], "lr": float}, ...]``, ready for
      ``torch.optim.Adam``. Every tensor belongs to one image (first dim indexes images),
      so that fitting a batch is fitting each image on its own.
    - ``named_parameters()``: the same tensors by name, ``{"z": z, ...}``: what a penalty
      given to :func:`~invgen.solvers.solve` reads (``penalty(x, params)``), so that it
      does not depend on the order of the groups. Needed only by such a penalty.
    - ``__call__()``: the current images.
    - ``penalty(x)``: a per-image ``(B,)`` term added to the data fit, or ``None``; ``x``
      is the current image batch ``(B, C, H, W)`` the solver has just made with
      ``__call__()`` (so a penalty on the image, e.g. total variation, costs no second
      pass), and a penalty on the parameters may ignore it.
    - ``state()``: per-image tensors (first dim ``B``) worth returning with the estimate,
      e.g. the latent ``z``; the solver keeps them at each image's best iterate.
    - ``project()``: called by the solver after every optimiser step, without gradients, to
      put the parameters back into their feasible set (projected gradient descent, e.g. an
      ℓ1 ball); nothing by default.
    """

    def parameter_groups(self) -> list[dict]:
        raise NotImplementedError

    def named_parameters(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} does not name its parameters (named_parameters()), "
                                  "which a penalty reads them by")

    def __call__(self) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def project(self) -> None:
        return None
