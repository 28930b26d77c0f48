"""The ``encoder`` recipe of ``invgen train`` (:func:`train_encoder`, :class:`EncoderSettings`):
the encoder that starts the latent search, for a fixed generator (``encoder.pt``), on the one
epoch loop of :mod:`invgen.app.train_loop`. Every epoch writes ``checkpoint.pt`` (everything
``resume`` needs); the end of training writes the export."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from invgen.app.parallel import Team
from invgen.app.train_loop import Batch, fit
from invgen.app.train_parts import degradations, degrade, start
from invgen.generators.encoder import FaceEncoder, export_encoder
from invgen.generators.face64 import load_face64


@dataclass(frozen=True)
class EncoderSettings:
    batch_size: int = 64
    lr: float = 2e-4


def train_encoder(images: torch.Tensor, out_dir: str | Path, generator: str | Path, epochs: int, *, seed: int = 0,
                  resume: bool = False, max_steps: int | None = None, device: str | torch.device = "cpu",
                  team: Team = Team(), **settings) -> FaceEncoder:
    """Train a :class:`~invgen.generators.encoder.FaceEncoder` for the fixed ``generator``
    (an ``invgen train`` export) with :class:`EncoderSettings` (``settings``: any of its
    fields): ``min_E Σ ‖G(E(A⁺A x)) − x‖²`` over the training faces, with ``A`` drawn per
    batch among the :func:`~invgen.app.train_parts.degradations`. Writes ``checkpoint.pt``
    every epoch and ``encoder.pt`` at the end."""
    s = EncoderSettings(**settings)
    data, out = start(images, out_dir, device, s.batch_size, seed)
    G = load_face64(generator).to(device).eval().requires_grad_(False)
    E = FaceEncoder(G.latent_dim, G.network.width).to(device)
    E_run = team.replicate(E)
    opt = torch.optim.Adam(E.parameters(), lr=s.lr)
    operators = degradations(tuple(images.shape[1:]), device=device)

    def step(batch: Batch) -> dict[str, float]:
        x = data[batch.indices.to(device)].float() / 255
        loss = (G(E_run(degrade(x, operators))) - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"mse": loss.item()}

    fit(out, {"E": E, "opt": opt}, step, len(data), epochs, s.batch_size, resume=resume, max_steps=max_steps,
        device=device, team=team)
    if team.lead:
        export_encoder(E, out / "encoder.pt")
    return E.eval()
