"""One network, a separate copy of its weights θ_i for every image of a batch."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from invgen.generators.base import Generator, blocks

# One layer of the grouped path: the whole batch of activations (image i on row i), the
# stacked parameters (image i's copy on row i) → the next activations.
Step = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]

# Parameter-free layers that act on each image alone and elementwise.
ELEMENTWISE = (nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
               nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Softplus)


class PerImageWeights:
    """``n`` trainable copies of ``module``'s parameters, stacked on a new first dim, and
    ``__call__(inputs)`` that applies copy ``i`` to ``inputs[i]`` (each as a batch of one).

    Buffers (e.g. batch-norm running statistics) are shared and never updated: ``module``
    must not write to them (eval-mode batch norm, or ``track_running_stats=False``).
    Because no parameter is shared, the gradient of image ``i``'s loss reaches only θ_i.

    Two ways to run the ``n`` copies, with the same outputs and gradients:

    - **grouped**, when ``module`` is a chain of blocks (:func:`invgen.generators.base.blocks`:
      an ``nn.Sequential``, a module with ``blocks()`` such as the default generator, or a
      :class:`~invgen.generators.base.Generator` of one) down to ``Linear``, ``Conv2d``,
      ``ConvTranspose2d``, eval-mode ``BatchNorm1d/2d`` with running statistics,
      elementwise activations, ``Flatten``/``Unflatten`` (not of the batch dim): one
      network call for the batch. A convolution runs as one convolution with ``n·groups``
      groups (the ``n`` weight sets stacked along the group axis, the images along the
      channels of a batch of one) — a transposed one with a skinny dimension
      (:data:`SKINNY`) as batched matrix products and a col2im instead; a linear layer as
      a batched matrix product; batch norm as a per-image, per-channel affine map of the
      shared running statistics. Weight gradients come out contiguous, in the layout of
      the stacked parameters.
    - **vmap** (``torch.func``) over ``functional_call`` for any other network: correct
      for every module, but each image is paid nearly in full.

    Default generator, batch 8, forward and gradients on two CPU cores: 23 ms grouped,
    33 ms through vmap, 45 ms for 8 images one at a time (``benchmarks/solvers.py``).
    """

    def __init__(self, module: nn.Module, n: int) -> None:
        self.module = module
        self.params = {
            name: p.detach().unsqueeze(0).repeat(n, *[1] * p.dim()).requires_grad_()
            for name, p in module.named_parameters()
        }
        self.buffers = dict(module.named_buffers())
        self.steps = _grouped_steps(module)
        self._batched = vmap(self._apply_one)

    def _apply_one(self, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.module, (params, self.buffers), (inputs.unsqueeze(0),)).squeeze(0)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.steps is not None:
            return self.call_grouped(inputs)
        return self.call_vmap(inputs)

    def call_grouped(self, inputs: torch.Tensor) -> torch.Tensor:
        """The grouped path (only when ``self.steps`` is not ``None``)."""
        x = inputs
        for step in self.steps:
            x = step(x, self.params)
        return x

    def call_vmap(self, inputs: torch.Tensor) -> torch.Tensor:
        """The general path, for any module."""
        if inputs.shape[0] == 1:
            # vmap's batching rules cost ~20% at a batch of one; a view of θ_0 does not.
            return self._apply_one({k: v[0] for k, v in self.params.items()}, inputs[0]).unsqueeze(0)
        return self._batched(self.params, inputs)


def _grouped_steps(module: nn.Module, prefix: str = "") -> list[Step] | None:
    """The layers of ``module`` as grouped steps, or ``None`` if some part is not a known chain."""
    if type(module).forward is Generator.forward:
        steps = _grouped_steps(module.network, f"{prefix}network.")

        def check(z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
            module.check_latents(z)
            return z
        return None if steps is None else [check, *steps, lambda x, params: module.to_unit(x)]
    chain = blocks(module)
    if chain is None:
        step = _grouped_layer(module, prefix)
        return None if step is None else [step]
    parts = [(f"{prefix}{name}.", child) for name, child in chain]
    steps: list[Step] = []
    for child_prefix, child in parts:
        child_steps = _grouped_steps(child, child_prefix)
        if child_steps is None:
            return None
        steps += child_steps
    return steps


def _grouped_layer(m: nn.Module, prefix: str) -> Step | None:
    """One leaf layer as a grouped step; ``None`` for a layer this module does not know."""
    if isinstance(m, ELEMENTWISE) and next(m.parameters(), None) is None:
        return lambda x, params: m(x)
    if isinstance(m, nn.Flatten) and m.start_dim >= 1:
        return lambda x, params: m(x)
    if isinstance(m, nn.Unflatten) and isinstance(m.dim, int) and m.dim >= 1:
        return lambda x, params: m(x)
    bias = f"{prefix}bias" if getattr(m, "bias", None) is not None else None
    if type(m) is nn.Linear:
        return _linear(f"{prefix}weight", bias)
    if type(m) is nn.Conv2d:
        return _conv2d(m, f"{prefix}weight", bias)
    if type(m) is nn.ConvTranspose2d and m.padding_mode == "zeros":
        return _conv_transpose2d(m, f"{prefix}weight", bias)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) and not m.training and m.running_mean is not None:
        return _batch_norm(m, f"{prefix}weight" if m.affine else None, bias if m.affine else None)
    return None


def _same_dtype(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    """``tensors`` in one type: autocast's where it is on (mixed precision; a custom
    autograd function is not cast by it), else the first one's."""
    device = tensors[0].device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else tensors[0].dtype
    return [None if t is None else t.to(dtype) for t in tensors]


class _BatchedLinear(torch.autograd.Function):
    """``rows_i @ w_iᵀ (+ b_i)`` for rows ``(B, L, in)``, weights ``(B, out, in)``.

    Autograd through ``bmm(rows, w.transpose(1, 2))`` returns the weight gradient as a
    transposed view, which the fused Adam copies (as long as the whole product at batch 8);
    here it is formed contiguous, and for ``L = 1`` as an outer product by broadcasting
    (4× faster than a ``bmm`` with an inner dimension of one).
    """

    @staticmethod
    def forward(ctx, rows: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        rows, w, b = _same_dtype(rows, w, b)
        ctx.save_for_backward(rows, w)
        ctx.has_bias = b is not None
        wt = w.transpose(1, 2)
        return torch.bmm(rows, wt) if b is None else torch.baddbmm(b.unsqueeze(1), rows, wt)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        rows, w = ctx.saved_tensors
        grad = grad.to(w.dtype)  # autograd casts each gradient back to its input's type
        grad_rows = torch.bmm(grad, w) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = grad.transpose(1, 2) * rows if rows.shape[1] == 1 else torch.bmm(grad.transpose(1, 2), rows)
        grad_b = grad.sum(1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_rows, grad_w, grad_b


class _TransposedWeightProduct(torch.autograd.Function):
    """``w_iᵀ x_i`` for weights ``(B, k, n)`` and ``x`` ``(B, k, p)``: BLAS reads the transpose
    in place, and the weight gradient ``x_i gradᵀ`` is formed in ``w``'s layout (autograd
    through ``bmm(w.transpose(1, 2), x)`` would return a transposed view, copied twice)."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        w, x = _same_dtype(w, x)
        ctx.save_for_backward(w, x)
        return torch.bmm(w.transpose(1, 2), x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, x = ctx.saved_tensors
        grad = grad.to(w.dtype)
        grad_w = torch.bmm(x, grad.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_x = torch.bmm(w, grad) if ctx.needs_input_grad[1] else None
        return grad_w, grad_x


def _linear(weight: str, bias: str | None) -> Step:
    def step(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        w = params[weight]
        rows = x.reshape(x.shape[0], -1, x.shape[-1])
        y = _BatchedLinear.apply(rows, w, None if bias is None else params[bias])
        return y.view(*x.shape[:-1], w.shape[1])
    return step


def _conv2d(m: nn.Conv2d, weight: str, bias: str | None) -> Step:
    def step(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        b = x.shape[0]
        x = x.reshape(1, -1, *x.shape[2:])
        padding = m.padding
        if m.padding_mode != "zeros":  # as nn.Conv2d does it
            x, padding = F.pad(x, m._reversed_padding_repeated_twice, mode=m.padding_mode), 0
        y = F.conv2d(x, params[weight].flatten(0, 1), None if bias is None else params[bias].flatten(),
                     m.stride, padding, m.dilation, b * m.groups)
        return y.view(b, -1, *y.shape[2:])
    return step


# A transposed convolution with fewer output channels per group, or fewer input pixels,
# than this runs as a batched matrix product and a col2im (``F.fold``); others as one
# grouped convolution. oneDNN's grouped kernels are slow on a skinny dimension: default
# generator at batch 8, forward + backward, two idle CPU cores, the 4×4-pixel layer
# (256 → 128 channels) is 2.7× faster as a product and the 3-channel output layer 1.6×,
# while the 8×8 and 16×16 layers (64 and 32 channels out) are 1.2× and 2.2× faster grouped.
SKINNY = 32


def _conv_transpose2d(m: nn.ConvTranspose2d, weight: str, bias: str | None) -> Step:
    c_in, c_out, g = m.in_channels, m.out_channels, m.groups

    def grouped(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        y = F.conv_transpose2d(x.reshape(1, -1, *x.shape[2:]), w.flatten(0, 1), None,
                               m.stride, m.padding, m.output_padding, b * g, m.dilation)
        return y.view(b, -1, *y.shape[2:])

    def product(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # Image i, group j: columns ((c_out/g)·kh·kw × pixels) = w_ijᵀ x_ij, then col2im.
        b, (h, w_in) = x.shape[0], x.shape[2:]
        columns = _TransposedWeightProduct.apply(w.reshape(b * g, c_in // g, -1), x.reshape(b * g, c_in // g, -1))
        size = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
                zip((h, w_in), m.stride, m.padding, m.dilation, m.kernel_size, m.output_padding)]
        return F.fold(columns.view(b, -1, h * w_in), size, m.kernel_size, m.dilation, m.padding, m.stride)

    def step(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        run = product if min(c_out // g, x.shape[2] * x.shape[3]) < SKINNY else grouped
        y = run(x, params[weight])
        return y if bias is None else y + params[bias].view(x.shape[0], c_out, 1, 1)
    return step


def _batch_norm(m: nn.BatchNorm1d | nn.BatchNorm2d, weight: str | None, bias: str | None) -> Step:
    def step(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        # Eval-mode batch norm: (x − mean)/√(var + eps)·w_i + b_i, per channel, one (w_i, b_i) per image.
        inv_std = torch.rsqrt(m.running_var + m.eps)
        scale = inv_std.expand(x.shape[0], -1) if weight is None else params[weight] * inv_std
        shift = -m.running_mean * scale if bias is None else params[bias] - m.running_mean * scale
        shape = (x.shape[0], x.shape[1], *[1] * (x.dim() - 2))
        return torch.addcmul(shift.view(shape), x, scale.view(shape))
    return step
