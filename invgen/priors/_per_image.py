"""One network, a separate copy of its weights θ_i for every image of a batch."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from invgen.generators.base import Generator
from invgen.generators.layers import ACTIVATIONS, LatentBlock, Link, links

# One link of the grouped path: the whole batch of activations (image i on row i), the stacked
# parameters (image i's copy on row i) and the inputs the network was called with (the latents
# a LatentBlock reads) → the next activations.
Step = Callable[[torch.Tensor, dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


class PerImageWeights:
    """``n`` trainable copies of ``module``'s parameters, stacked on a new first dim, and
    ``__call__(inputs)`` that applies copy ``i`` to ``inputs[i]`` (each as a batch of one).

    Buffers (e.g. batch-norm running statistics) are shared and never updated: ``module``
    must not write to them (eval-mode batch norm, or ``track_running_stats=False``).
    Because no parameter is shared, the gradient of image ``i``'s loss reaches only θ_i.

    Two ways to run the ``n`` copies, with the same outputs and gradients:

    - **grouped**, when ``module`` is a chain (:func:`invgen.generators.layers.links`: an
      ``nn.Sequential``, a module with ``blocks()``, or a
      :class:`~invgen.generators.base.Generator` of one — every loader's): one call per link
      for the whole batch. ``Linear``, ``Conv2d``, ``ConvTranspose2d`` and eval-mode
      ``BatchNorm1d/2d`` with running statistics run on stacked weights: a convolution as one
      convolution with ``n·groups`` groups (the ``n`` weight sets stacked along the group axis,
      the images along the channels of a batch of one) — a transposed one with a skinny
      dimension (:data:`SKINNY`) as batched matrix products and a col2im instead; a linear layer
      as a batched matrix product; batch norm as a per-image, per-channel affine map of the
      shared running statistics. Weight gradients come out contiguous, in the layout of the
      stacked parameters. Parameter-free activations, ``Identity``, ``Upsample`` and
      ``Flatten``/``Unflatten`` (not of the batch dim) run on the batch as they are; any other
      link (a StyleGAN2 block, an equalised layer, a layer this module does not know) runs
      through ``vmap`` over ``functional_call`` of that link alone.
    - **vmap** (``torch.func``) over ``functional_call`` of the whole network, for a network
      that is not a chain: correct for every module, but each image is paid nearly in full.

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
            x = step(x, self.params, inputs)
        return x

    def call_vmap(self, inputs: torch.Tensor) -> torch.Tensor:
        """The general path, for any module."""
        if inputs.shape[0] == 1:
            # vmap's batching rules cost ~20% at a batch of one; a view of θ_0 does not.
            return self._apply_one({k: v[0] for k, v in self.params.items()}, inputs[0]).unsqueeze(0)
        return self._batched(self.params, inputs)


def _grouped_steps(module: nn.Module) -> list[Step] | None:
    """``module``'s links as grouped steps; ``None`` when it is not a chain."""
    names = {id(p): name for name, p in module.named_parameters()}
    if isinstance(module, Generator):
        chain = links(module.network)
        if chain is None:
            return None

        def check(z: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
            module.check_latents(z)
            return z
        return [check, *(_step(link, names) for _, link in chain), lambda x, params, inputs: module.to_unit(x)]
    chain = links(module)
    return None if chain is None else [_step(link, names) for _, link in chain]


def _step(link: nn.Module, names: dict[int, str]) -> Step:
    """One link as a grouped step: a known layer on stacked weights, else vmap over the link.
    ``names``: the full name of each parameter, by identity."""
    local = {name: names[id(p)] for name, p in link.named_parameters()}
    known = _grouped_layer(link, local)
    return known if known is not None else _vmapped(link, local)


def _vmapped(link: nn.Module, local: dict[str, str]) -> Step:
    reads_latents = isinstance(link, LatentBlock)

    def one(params: dict[str, torch.Tensor], x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        args = (x.unsqueeze(0), z.unsqueeze(0)) if reads_latents else (x.unsqueeze(0),)
        return functional_call(link, params, args).squeeze(0)

    batched = vmap(one)

    def step(x: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:  # as call_vmap: no batching rules for a batch of one
            mine = {name: params[full][0] for name, full in local.items()}
            return functional_call(link, mine, (x, inputs) if reads_latents else (x,))
        return batched({name: params[full] for name, full in local.items()}, x, inputs)
    return step


def _grouped_layer(m: nn.Module, local: dict[str, str]) -> Step | None:
    """One layer as a grouped step; ``None`` for a layer this module does not know."""
    if isinstance(m, (*ACTIVATIONS, nn.Identity)) and not local:
        return lambda x, params, inputs: m(x)
    if type(m) is nn.Upsample or (type(m) is nn.Flatten and m.start_dim >= 1) \
            or (type(m) is nn.Unflatten and isinstance(m.dim, int) and m.dim >= 1):
        return lambda x, params, inputs: m(x)
    weight, bias = local.get("weight"), local.get("bias")
    if type(m) is nn.Linear:
        return _linear(weight, bias)
    if type(m) is nn.Conv2d:
        return _conv2d(m, weight, bias)
    if type(m) is nn.ConvTranspose2d and m.padding_mode == "zeros":
        return _conv_transpose2d(m, weight, bias)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) and not m.training and m.running_mean is not None:
        return _batch_norm(m, weight, bias)
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
    def step(x: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        w = params[weight]
        rows = x.reshape(x.shape[0], -1, x.shape[-1])
        y = _BatchedLinear.apply(rows, w, None if bias is None else params[bias])
        return y.view(*x.shape[:-1], w.shape[1])
    return step


def _conv2d(m: nn.Conv2d, weight: str, bias: str | None) -> Step:
    def step(x: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
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

    def step(x: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        run = product if min(c_out // g, x.shape[2] * x.shape[3]) < SKINNY else grouped
        y = run(x, params[weight])
        return y if bias is None else y + params[bias].view(x.shape[0], c_out, 1, 1)
    return step


def _batch_norm(m: nn.BatchNorm1d | nn.BatchNorm2d, weight: str | None, bias: str | None) -> Step:
    def step(x: torch.Tensor, params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        # Eval-mode batch norm: (x − mean)/√(var + eps)·w_i + b_i, per channel, one (w_i, b_i) per image.
        inv_std = torch.rsqrt(m.running_var + m.eps)
        scale = inv_std.expand(x.shape[0], -1) if weight is None else params[weight] * inv_std
        shift = -m.running_mean * scale if bias is None else params[bias] - m.running_mean * scale
        shape = (x.shape[0], x.shape[1], *[1] * (x.dim() - 2))
        return torch.addcmul(shift.view(shape), x, scale.view(shape))
    return step
