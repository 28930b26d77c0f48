"""Your own operator: colourisation (colour → grey) as a LinearOperator, checked with
``invgen.operators.check`` and solved with CSGM and back-projection like any built-in one.

An operator implements ``_matvec`` (x ↦ Ax) and ``_rmatvec`` (y ↦ Aᵀy) on batches, and
``_pinv`` when it has a closed form (without one, the base class runs conjugate gradients).
Shapes, ``A.T``, ``A @ B``, ``A + B`` and ``c * A`` come from the base class.

    python examples/custom_operator.py      # writes custom_operator.png, ~10 s on a CPU
"""
from __future__ import annotations

from importlib import resources

import torch

from invgen.data import read_image, save_panel
from invgen.generators import load_default
from invgen.metrics import psnr
from invgen.operators import LinearOperator, SuperResolution, check
from invgen.solvers import CSGMSettings, back_project, csgm


class Grayscale(LinearOperator):
    """Luminance of a colour image: ``(A x)[0] = Σ_c w_c x[c]``, ``(C, H, W) → (1, H, W)``,
    with the ITU-R BT.601 weights by default. ``Aᵀ y = w ⊗ y`` (y into every channel,
    scaled). ``A Aᵀ = ‖w‖² I``, so ``A⁺ y = w y / ‖w‖²`` and ``Aᵀ(A Aᵀ + eps)⁻¹ y =
    w y / (‖w‖² + eps)``, both exact."""

    def __init__(self, in_shape: tuple[int, int, int], weights: tuple[float, ...] = (0.299, 0.587, 0.114)) -> None:
        if len(weights) != in_shape[0]:
            raise ValueError(f"one weight per channel: {in_shape[0]} channels, {len(weights)} weights")
        super().__init__(in_shape, (1, *in_shape[1:]))
        self.register_buffer("w", torch.tensor(weights, dtype=torch.float64).view(-1, 1, 1))

    def _matvec(self, x):
        return (x * self.w.to(x.dtype)).sum(1, keepdim=True)

    def _rmatvec(self, y):
        return y * self.w.to(y.dtype)

    def _pinv(self, y, eps):
        w = self.w.to(y.dtype)
        return y * w / (w.square().sum() + eps)


def main(steps: int = 300, out: str = "custom_operator.png") -> dict[str, float]:
    """Check the operator, then CSGM for ``steps`` steps and back-projection; PSNRs in dB."""
    # Dot test, Penrose identities, agreement with the dense matrix (small enough here):
    # an AssertionError naming what failed, else a report. Then a composition with a
    # built-in operator (a grey, half-resolution camera), whose pseudo-inverse is CG.
    print(check(Grayscale((3, 8, 8))))
    print(check(SuperResolution((1, 16, 16), 2) @ Grayscale((3, 16, 16)), torch.float32))

    G = load_default()  # 64×64 faces, z ~ N(0, I)
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        x = read_image(path).unsqueeze(0)  # (1, 3, 64, 64) in [0, 1]
    A = Grayscale((3, 64, 64))
    y = A(x)

    start = csgm(A, y, G, CSGMSettings(steps=steps, average=False))  # the colours come from G
    estimates = {
        "pinv": A.pinv(y).clamp(0, 1),  # green: the least-norm colour of a luminance is ∝ w
        "CSGM": start.mean(),
        "CSGM-BP": back_project(A, y, start.mean()).clamp(0, 1),  # G's colours, y's exact luminance
    }
    scores = {name: psnr(x_hat, x).item() for name, x_hat in estimates.items()}
    for name, score in scores.items():
        print(f"{name:8s} PSNR {score:5.2f} dB")
    save_panel({"truth": x[0], "y": y[0].expand(3, -1, -1), **{k: v[0] for k, v in estimates.items()}}, out)
    print(f"wrote {out}")
    return scores


if __name__ == "__main__":
    main()
