"""One network, a separate copy of its weights θ_i for every image of a batch."""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, vmap


class PerImageWeights:
    """``n`` trainable copies of ``module``'s parameters, stacked on a new first dim, and
    ``__call__(inputs)`` that applies copy ``i`` to ``inputs[i]`` (each as a batch of one).

    Buffers (e.g. batch-norm running statistics) are shared and never updated: ``module``
    must not write to them (eval-mode batch norm, or ``track_running_stats=False``).
    Because no parameter is shared, the gradient of image ``i``'s loss reaches only θ_i.
    """

    def __init__(self, module: nn.Module, n: int) -> None:
        self.module = module
        self.params = {
            name: p.detach().unsqueeze(0).repeat(n, *[1] * p.dim()).requires_grad_()
            for name, p in module.named_parameters()
        }
        self.buffers = dict(module.named_buffers())
        self._batched = vmap(self._apply_one)

    def _apply_one(self, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.module, (params, self.buffers), (inputs.unsqueeze(0),)).squeeze(0)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.shape[0] == 1:
            # vmap's batching rules cost ~20% at a batch of one; a view of θ_0 does not.
            return self._apply_one({k: v[0] for k, v in self.params.items()}, inputs[0]).unsqueeze(0)
        return self._batched(self.params, inputs)
